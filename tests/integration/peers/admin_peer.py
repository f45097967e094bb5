#!/usr/bin/env python3
"""An HTTP/1.1 client for the proxy's admin endpoint (http.client, one keep-alive connection).

    admin_peer.py get --port P PATH...
        GETs each PATH in turn on one connection; prints "PATH STATUS BODY" per request (the
        body's newlines shown as \\n), the connection's Content-Type of the last one as
        "content-type: ...", and "connections: N", the TCP connections the requests took
        (http.client reconnects silently when the server closes; the socket's local port
        tells each connection apart).
    admin_peer.py metrics --port P
        GETs /metrics and parses it with the Prometheus client library's own text parser;
        prints one "NAME{k=v,...} VALUE" line per sample (labels sorted) and "types: N".
    admin_peer.py histograms --port P
        GETs /metrics, parses it as above and checks every histogram: its buckets are
        cumulative (never decreasing, in increasing "le" order, ending at +Inf = _count), and
        _sum lies between what the buckets allow (each observation above its bucket's lower
        bound, at most its upper one). Prints "NAME count=N" per histogram.
    admin_peer.py until-draining --port P
        On one keep-alive connection: GET /readyz (prints "first: STATUS BODY"), then again
        every 50 ms until it answers 503 (at most --tries times; prints "then: STATUS BODY"),
        then waits until the server closes the connection and prints "closed". Fails if a
        request had to open a second connection.
Exits 0 on success; 1 with "admin_peer: FAIL: ..." on stderr otherwise.
"""
import argparse
import http.client
import sys
import time

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client (scripts/bootstrap.sh) lives in the system Python's
    # dist-packages; a python3 from elsewhere on PATH (pyenv) does not look there by itself.
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families


def fail(message):
    print(f"admin_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def get(conn, path, ports=None):
    conn.request("GET", path)
    if ports is not None:
        ports.add(conn.sock.getsockname()[1])  # the connection this request went out on
    response = conn.getresponse()
    return response, response.read().decode()


def shown(body):
    return body.replace("\n", "\\n")


def check_histogram(family):
    buckets = [(float(s.labels["le"]), s.value) for s in family.samples
               if s.name.endswith("_bucket")]
    (count,) = [s.value for s in family.samples if s.name.endswith("_count")]
    (total,) = [s.value for s in family.samples if s.name.endswith("_sum")]
    bounds = [le for le, _ in buckets]
    if bounds != sorted(bounds) or bounds[-1] != float("inf"):
        fail(f"{family.name}: bucket bounds {bounds}")
    lowest = highest = 0.0
    below, lower = 0, 0.0
    for le, cumulative in buckets:
        if cumulative < below:
            fail(f"{family.name}: not cumulative at le={le}: {cumulative} < {below}")
        lowest += (cumulative - below) * lower
        highest += (cumulative - below) * le if cumulative > below else 0.0
        below, lower = cumulative, le
    if below != count:
        fail(f"{family.name}: +Inf bucket {below} but _count {count}")
    # The sum is printed to the microsecond: allow that much per observation.
    slack = 1e-6 * count
    if not lowest - slack <= total <= highest + slack:
        fail(f"{family.name}: _sum {total} outside what the buckets allow [{lowest}, {highest}]")
    print(f"{family.name} count={int(count)}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["get", "metrics", "histograms", "until-draining"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tries", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("paths", nargs="*")
    args = parser.parse_intermixed_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
    try:
        if args.mode == "get":
            ports = set()
            for path in args.paths:
                response, body = get(conn, path, ports)
                print(f"{path} {response.status} {shown(body)}", flush=True)
            print(f"content-type: {response.getheader('Content-Type')}", flush=True)
            print(f"connections: {len(ports)}", flush=True)
        elif args.mode == "metrics":
            response, body = get(conn, "/metrics")
            if response.status != 200:
                fail(f"/metrics answered {response.status}")
            families = list(text_string_to_metric_families(body))
            for family in families:
                for sample in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                    print(f"{sample.name}{{{labels}}} {int(sample.value)}", flush=True)
            print(f"types: {len(families)}", flush=True)
        elif args.mode == "histograms":
            response, body = get(conn, "/metrics")
            if response.status != 200:
                fail(f"/metrics answered {response.status}")
            for family in text_string_to_metric_families(body):
                if family.type == "histogram":
                    check_histogram(family)
        else:
            ports = set()
            response, body = get(conn, "/readyz", ports)
            print(f"first: {response.status} {shown(body)}", flush=True)
            for _ in range(args.tries):
                response, body = get(conn, "/readyz", ports)
                if len(ports) != 1:
                    fail(f"/readyz went out on a new connection (local ports {sorted(ports)})")
                if response.status == 503:
                    break
                time.sleep(0.05)
            print(f"then: {response.status} {shown(body)}", flush=True)
            # The server closes idle admin connections when its last loop ends (a FIN or, as
            # the loop tears down, a reset: either way the connection is over).
            try:
                ended = conn.sock.recv(1) if conn.sock else b""
            except ConnectionResetError:
                ended = b""
            print("closed" if ended == b"" else f"unexpected: {ended!r}", flush=True)
    except (OSError, http.client.HTTPException) as e:
        fail(f"{args.mode}: {e}")
    finally:
        conn.close()


if __name__ == "__main__":
    main()
