#!/usr/bin/env bash
# serve_load.sh — network intake throughput of `colog serve` (Release build).
#
#   bench/serve_load.sh [--conns 16] [--seconds 20] [--format fortigate|iptables|ndjson]
#                       [--framing newline|octet] [--runs 1]
#
# For each run: a fresh store, `colog serve --listen 127.0.0.1:PORT`, then colog-load with
# N connections sending generated firewall messages as fast as the server reads them for T
# seconds. Reports what the load sent (sent/s and MB/s count what the kernel took, socket
# buffers included), how long after the load ended every row was queryable (lag_s), the
# server's throughput from the start to the last row committed (stored/s: the figure to
# quote), its CPU use (100 = one core) and its peak RSS (VmHWM from /proc/PID/status,
# sampled every 0.1 s until it exits), then stops the server with SIGTERM and checks that
# the store holds exactly the number of messages sent (exit 1 otherwise).
#
# Environment: BUILD (default build-release under the repository: configured Release and
# built here; COLOG_BIN / COLOG_LOAD override the binaries), BENCH_TMP (default $TMPDIR or
# /tmp). Everything temporary is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
conns=16 seconds=20 format=fortigate framing=newline runs=1
while [ $# -gt 0 ]; do
    case "$1" in
    --conns) conns=$2 ;;
    --seconds) seconds=$2 ;;
    --format) format=$2 ;;
    --framing) framing=$2 ;;
    --runs) runs=$2 ;;
    *) echo "usage: $0 [--conns N] [--seconds T] [--format F] [--framing newline|octet] [--runs R]" >&2
       exit 2 ;;
    esac
    shift 2
done

if [ -z "${COLOG_BIN:-}" ] || [ -z "${COLOG_LOAD:-}" ]; then
    BUILD=${BUILD:-$here/build-release}
    cmake -S "$here" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCOLOG_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j "$(nproc)" --target colog colog-load >/dev/null
fi
COLOG=${COLOG_BIN:-$BUILD/colog}
LOAD=${COLOG_LOAD:-$BUILD/colog-load}
work=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/colog-serve-bench.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
rows() { "$COLOG" query "$work/store" 'stats count() as n' --format csv | tail -n 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "load: $conns connections, $seconds s, $format, $framing framing"
printf '%-4s %10s %9s %8s %8s %9s %8s %9s %6s\n' run sent sent/s MB/s lag_s stored/s cpu% \
    peak_MB parts
status=0
for r in $(seq "$runs"); do
    rm -rf "$work/store" "$work/hwm"
    "$COLOG" init "$work/store" >/dev/null
    port=$(free_port)
    "$COLOG" serve "$work/store" --listen "127.0.0.1:$port" 2>"$work/serve.err" &
    pid=$!
    for _ in $(seq 300); do
        grep -q "open for writing" "$work/serve.err" && break
        sleep 0.05
    done
    (while [ -r "/proc/$pid/status" ]; do
        awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true
        sleep 0.1
    done) >"$work/hwm" &
    sampler=$!
    c0=$(cpu_ticks "$pid")
    t0=$(date +%s.%N)
    out=$("$LOAD" --port "$port" --conns "$conns" --seconds "$seconds" --format "$format" \
        --framing "$framing" --seed "$r" 2>"$work/load.err") || { cat "$work/load.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out")
    bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$out")
    secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    # durability lag: until every row sent is queryable (committed)
    n=0
    for _ in $(seq 600); do
        n=$(rows)
        [ "$n" -ge "$sent" ] && break
        sleep 0.05
    done
    t2=$(date +%s.%N)
    c1=$(cpu_ticks "$pid")
    kill -TERM "$pid"
    wait "$pid" || { echo "serve exited with $?" >&2; cat "$work/serve.err" >&2; status=1; }
    pid=
    wait "$sampler" 2>/dev/null || true
    final=$(rows)
    peak=$(sort -n "$work/hwm" | tail -n 1)
    parts=$(sed -n 's/.*; \([0-9]*\) parts written.*/\1/p' "$work/serve.err")
    awk -v r="$r" -v s="$sent" -v b="$bytes" -v t="$secs" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
        -v c0="$c0" -v c1="$c1" -v tck="$tck" -v hwm="$peak" -v p="$parts" \
        'BEGIN { printf "%-4s %10d %9.0f %8.1f %8.2f %9.0f %8.0f %9.1f %6s\n", r, s, s / t,
                 b / t / 1e6, t2 - t1, s / (t2 - t0), 100 * (c1 - c0) / tck / (t2 - t0),
                 hwm / 1024, p }'
    if [ "$final" != "$sent" ]; then
        echo "FAIL: the store holds $final rows, $sent were sent" >&2
        status=1
    fi
    grep "rows stored" "$work/serve.err" | sed 's/^/  /'
done
exit $status
