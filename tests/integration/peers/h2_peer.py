"""What the HTTP/2 client peers (h2_client.py, h2_connect.py) share, on Python's h2 (Debian's
python3-h2 4.1, found in Debian's dist-packages when the python3 on PATH lacks it): the body
pattern and an opened client connection. A module, not a peer: imported, never run.
"""
import select
import socket
import ssl
import sys

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings

PATTERN = bytes(range(251))


def pattern(size):
    """SIZE bytes of i % 251, the bodies the tests send and check."""
    return (PATTERN * (size // 251 + 1))[:size]


def open_client(host, port, plain, timeout, fail):
    """A TCP connection to HOST:PORT, TLS with ALPN h2 (certificate not checked) unless PLAIN,
    as a non-blocking socket, and an h2 client connection on it that has queued its preface:
    (sock, conn). Headers go out as given (not checked nor normalised, so tests can send
    forbidden ones), and the windows are as large as browsers open them (16 MiB a stream,
    64 MiB the connection): a few WINDOW_UPDATEs per connection, not one per 32 KiB of every
    stream. FAIL(why) is called when ALPN does not choose h2."""
    raw = socket.create_connection((host, port), timeout=timeout)
    if plain:
        sock = raw
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(raw, server_hostname="localhost")
        if sock.selected_alpn_protocol() != "h2":
            fail(f"ALPN chose {sock.selected_alpn_protocol()!r}, not h2")
    sock.setblocking(False)
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                       validate_outbound_headers=False,
                                       normalize_outbound_headers=False,
                                       validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24})
    conn.increment_flow_control_window(64 * 1024 * 1024)
    return sock, conn


def pump(sock, outbuf, fail):
    """One turn of a client's loop: sends what it can of OUTBUF (a bytearray, trimmed by what
    went out), waits up to 0.5 s for the socket, and returns the bytes read, or None when there
    were none yet. FAIL(why) is called when the connection fails or the server closed it."""
    readable, writable, _ = select.select([sock], [sock] if outbuf else [], [], 0.5)
    if writable:
        try:
            n = sock.send(outbuf)
            del outbuf[:n]
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            pass
    if not readable:
        return None
    try:
        data = sock.recv(1 << 16)
    except (ssl.SSLWantReadError, BlockingIOError):
        return None
    except (ConnectionError, ssl.SSLError) as e:
        fail(f"connection failed: {e}")
    if not data:
        fail("the server closed the connection")
    return data


def close_client(sock, conn):
    """GOAWAY and the socket's close, at the end of a client's run (errors ignored: the run's
    outcome is already printed)."""
    try:
        conn.close_connection()
        sock.setblocking(True)
        sock.sendall(conn.data_to_send())
        sock.close()
    except OSError:
        pass
