"""bench-openssl-floor --json still prints one object with exactly the keys bench/tls.sh reads,
each a positive number, without and with --sockets (the floor over loopback TCP, which adds
its own keys); runs with tiny counts: the figures themselves are not judged here.
Usage: floor_json.py PATH-TO-bench-openssl-floor"""
import json
import subprocess
import sys

KEYS = {
    "full_ecdsa_us", "full_rsa_us", "resumed_us", "small_pair_us", "record16k_us",
    "record16k_mbps", "idle_kib_bios_kept", "idle_kib_bios_released",
}
SOCKET_KEYS = {"socket_" + k for k in KEYS if not k.startswith("idle")} | {
    "socket_file16k_us", "socket_file16k_mbps"}
args = ["--handshakes", "3", "--records", "64", "--idle", "20", "--reps", "1", "--json"]
for extra, keys in (([], KEYS), (["--sockets"], KEYS | SOCKET_KEYS)):
    run = subprocess.run([sys.argv[1], *args, *extra], capture_output=True, text=True,
                         timeout=120)
    if run.returncode != 0:
        sys.exit(f"{extra}: exit {run.returncode}: {run.stderr}")
    figures = json.loads(run.stdout)
    if set(figures) != keys:
        sys.exit(f"{extra}: keys differ: {sorted(set(figures) ^ keys)}")
    bad = {k: v for k, v in figures.items() if not isinstance(v, (int, float)) or v <= 0}
    if bad:
        sys.exit(f"{extra}: not positive numbers: {bad}")
    print(figures)
