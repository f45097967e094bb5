#!/usr/bin/env python3
"""An HTTPS client on python3's http.client and ssl that sends several requests on one
keep-alive connection (GETs, and POSTs with a body whose digest it checks) and reports them.

Prints per request "response K: STATUS via=VIA local=PORT BODY", then "client connections: N"
(the local ports used: 1 when every request went over the same connection) and "upstream
connections: N" (the distinct "connection C" numbers the upstream, hash_upstream.py, reported).
Exits 1 with "FAIL: ..." on stderr on a wrong status, body or digest, 0 otherwise.
"""
import argparse
import hashlib
import http.client
import re
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
    ap.add_argument("--requests", type=int, default=6)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    context = ssl.create_default_context(cafile=args.cafile)
    conn = http.client.HTTPSConnection(args.host, args.port, context=context,
                                       timeout=args.timeout)
    local_ports = set()
    upstream_connections = set()
    for k in range(1, args.requests + 1):
        body = None
        if k % 2 == 0:
            body = bytes(i % 256 for i in range(k * 10007))
            conn.request("POST", f"/post/{k}", body=body)
        else:
            conn.request("GET", f"/get/{k}")
        # http.client reconnects silently when the server closed; the local port tells.
        local_ports.add(conn.sock.getsockname()[1])
        response = conn.getresponse()
        text = response.read().decode(errors="replace").strip()
        print(f"response {k}: {response.status} via={response.getheader('Via')} "
              f"local={conn.sock.getsockname()[1] if conn.sock else None} {text}", flush=True)
        if response.status != 200:
            fail(f"request {k}: status {response.status}")
        match = re.search(r"connection (\d+) request \d+$", text)
        if not match:
            fail(f"request {k}: unexpected body {text!r}")
        upstream_connections.add(match.group(1))
        if body is not None:
            expected = f"sha256 {hashlib.sha256(body).hexdigest()} bytes {len(body)} "
            if not text.startswith(expected):
                fail(f"request {k}: upstream saw {text!r}, expected {expected!r}")
    conn.close()
    print(f"client connections: {len(local_ports)}")
    print(f"upstream connections: {len(upstream_connections)}", flush=True)


if __name__ == "__main__":
    main()
