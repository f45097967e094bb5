#!/usr/bin/env python3
"""bench/tls.sh, the project's bench command, still runs end to end and prints its whole table.

One run with tiny counts against the binaries of the build under test (nothing is built): every
row is measured (none skipped), every figure is a number, the script's own checks pass (same TLS
profile for both servers, full rows never resumed, the resumed row resumed, bulk on AES-256-GCM,
held connections all established), the floor section is there, and no process the script started
outlives it. No figure is judged: machines here are shared.
usage: tls_sh_smoke.py SOURCE_DIR BUILD_DIR
"""
import os
import re
import signal
import subprocess
import sys
import time

from checks import check, finish

source_dir, build_dir = sys.argv[1], sys.argv[2]


env = dict(os.environ, BENCH_BUILD_DIR=build_dir, DURATION="1", RUNS="1", BULK_MIB="64",
           IDLE_CONNECTIONS="50", FLOOR_ARGS="--handshakes 3 --records 64 --idle 20 --reps 1")
# A session of its own: afterwards, its process group must be empty.
script = subprocess.Popen([os.path.join(source_dir, "bench", "tls.sh")], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True)
try:
    output, _ = script.communicate(timeout=500)
except subprocess.TimeoutExpired:
    os.killpg(script.pid, signal.SIGTERM)
    output, _ = script.communicate()
    check(False, "bench/tls.sh did not finish in 500 s")
print(output)
check(script.returncode == 0, f"bench/tls.sh exited {script.returncode}")

ROWS = {
    "full handshake ECDSA P-256": "handshakes per busy server-core second",
    "full handshake RSA-2048": "handshakes per busy server-core second",
    "resumed handshake (TLS 1.3 ticket)": "handshakes per busy server-core second",
    "keep-alive GET / (wrk -t1 -c100)": "requests per busy server-core second",
    "bulk download, 1 connection, AES-256-GCM, 64 MiB": "MB/s per busy server-core second",
    "RSS per idle TLS connection (50)": "RSS per idle connection",
    "2 loops: keep-alive GET / (wrk -t1 -c100)": "requests per busy server-core second",
    "2 loops: full handshake ECDSA P-256": "handshakes per busy server-core second",
}
number = r"-?[\d,]+(\.\d+)?( \S+)?"
for row, figure in ROWS.items():
    line = re.search(r"^\| " + re.escape(row) + r" \| " + re.escape(figure) + r" \| (.*)$",
                     output, re.M)
    check(line is not None, f"no row {row!r} with {figure!r}")
    if line:
        cells = [c.strip() for c in line.group(1).split("|")]
        check(re.fullmatch(number, cells[0]) and re.fullmatch(number, cells[1]),
              f"{row}: not numbers: {cells[:2]}")
check(output.count("check: resumed handshakes") == 4, "a handshake row lacks its resumption check")
check("skipped" not in output, "a row was skipped")
check("CHECK FAILED" not in output, "the script's checks failed")
check("floor: bench-openssl-floor" in output, "no floor section")
check(re.search(r"ours: TLSv1\.3, \S+ \S+ 1 ticket", output) is not None,
      "our TLS profile is not printed with one ticket")

# The EXIT trap ends what the script started; give a killed nginx worker a moment to go.
for _ in range(50):
    try:
        os.killpg(script.pid, 0)
    except ProcessLookupError:
        break
    time.sleep(0.1)
else:
    check(False, "processes of the script outlived it")
    os.killpg(script.pid, signal.SIGKILL)

finish()
