#!/usr/bin/env python3
"""Plain TCP destinations for the proxy's CONNECT tests (python3 stdlib only).

    tcp_peer.py echo
        Each connection gets back every byte it sends; after the peer's FIN, what is left is
        sent, then the connection closes (so a half-close passes through as the end of the echo).
    tcp_peer.py speak N
        Each connection is first sent N bytes of the pattern i % 251, then the server's FIN
        (shutdown of its writing); it then reads until the peer's FIN and prints
        "speak: received LENGTH pattern|other" (whether those bytes are the same pattern).

Both print "tcp_peer: listening on 127.0.0.1:PORT" first, serve until killed, one thread per
connection.
"""
import socket
import socketserver
import sys

PATTERN = bytes(range(251))


def pattern(size):
    return (PATTERN * (size // 251 + 1))[:size]


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


class Speak(socketserver.BaseRequestHandler):
    size = 0

    def handle(self):
        self.request.sendall(pattern(self.size))
        self.request.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            received += data
        verdict = "pattern" if received == pattern(len(received)) else "other"
        say(f"speak: received {len(received)} {verdict}")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "echo":
        handler = Echo
    elif len(sys.argv) == 3 and sys.argv[1] == "speak":
        Speak.size = int(sys.argv[2])
        handler = Speak
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
    socketserver.ThreadingTCPServer.daemon_threads = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    say("tcp_peer: listening on 127.0.0.1:%d" % server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
