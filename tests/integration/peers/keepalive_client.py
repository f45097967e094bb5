#!/usr/bin/env python3
"""An HTTPS client on python3's http.client and ssl that sends several requests on one
keep-alive connection through the proxy to upstream_peer.py, and reports them.

Odd requests are GET /connections (the upstream's count of accepted connections), even ones
POST /digest with a body whose length and sha256 it checks in the answer; the last one is
always a GET. Prints per request "response K: STATUS via=VIA local=PORT BODY", then
"client connections: N" (the local ports used: 1 when every request went over the same
connection) and "upstream connections: N" (the upstream's count after the last request).
Exits 1 with "FAIL: ..." on stderr on a wrong status or digest, 0 otherwise.
"""
import argparse
import hashlib
import http.client
import ssl
import sys


def fail(message):
    print(f"keepalive_client: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--requests", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    context = ssl.create_default_context(cafile=args.cafile)
    conn = http.client.HTTPSConnection(args.host, args.port, context=context,
                                       timeout=args.timeout)
    local_ports = set()
    text = ""
    count = args.requests | 1  # odd, so the last request reads the upstream's count
    for k in range(1, count + 1):
        body = None
        if k % 2 == 0:
            body = bytes(i % 256 for i in range(k * 10007))
            conn.request("POST", "/digest", body=body)
        else:
            conn.request("GET", "/connections")
        # http.client reconnects silently when the server closed; the local port tells.
        local_ports.add(conn.sock.getsockname()[1])
        response = conn.getresponse()
        text = response.read().decode(errors="replace").strip()
        print(f"response {k}: {response.status} via={response.getheader('Via')} "
              f"local={conn.sock.getsockname()[1] if conn.sock else None} {text}", flush=True)
        if response.status != 200:
            fail(f"request {k}: status {response.status}")
        if body is not None and text != f"{len(body)} {hashlib.sha256(body).hexdigest()}":
            fail(f"request {k}: the upstream received something else: {text!r}")
    conn.close()
    print(f"client connections: {len(local_ports)}")
    print(f"upstream connections: {text}", flush=True)


if __name__ == "__main__":
    main()
