#!/usr/bin/env bash
# tools/quickstart.sh — install what is missing, build colog, create a demo store,
# ingest a week of generated firewall traffic for a 3,000-person company, and run
# the classic analyses of log analysis on it.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
colog_install_deps

BUILD=${COLOG_BUILD:-build}
STORE=${COLOG_DEMO_STORE:-demo-store}
EVENTS=${COLOG_DEMO_EVENTS:-2000000}

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCOLOG_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
colog="$BUILD/colog"

rm -rf "$STORE"
"$colog" init "$STORE" --schema firewall
echo "+ colog-gen --events $EVENTS --days 7 | colog ingest $STORE"
"$BUILD/colog-gen" --events "$EVENTS" --seed 42 --start 2026-03-02 --days 7 |
    "$colog" ingest "$STORE" --format csv

run() {
    echo
    echo "== $1"
    echo "\$ colog query $STORE '$2'"
    "$colog" query "$STORE" "$2"
}
run "Top 10 destination ports" 'stats count() by dst_port | top 10'
run "Rarely visited destinations" 'stats count() by dst_ip | bottom 10'
run "Hosts mailing many servers (worm)" \
    'where dst_port = 25 and proto = "tcp" | stats dcount(dst_ip) by src_ip | top 10'
run "Port scans" 'stats dcount(dst_port) by src_ip, dst_ip | top 10'
run "IRC-port traffic (bots)" \
    'where dst_port in (6667, 5555, 8080) | stats count() by src_ip, dst_ip | top 10'
run "HTTP sessions longer than an hour (tunnels)" \
    'where duration > 3600 and dst_port in (80, 443) | stats count() by src_ip | top 10'
run "Web traffic between 1 and 5 a.m." \
    'where dst_port in (80, 443) and hour(ts) between 1 and 5 | stats count() by hour(ts)'
run "Hidden NAT devices" 'where src_port >= 32768 | stats count() by src_ip | top 10'
run "Bytes sent per user" 'stats sum(bytes_out) by user | top 10'
run "Point count on one host" 'where src_ip = 10.1.2.3 | stats count()'
run "Denied traffic to 10.0.0.0/8 by port" \
    'where dst_ip in 10.0.0.0/8 and action = "deny" | stats count() by dst_port | top 10'
run "Daily trend" 'stats count() by bin(ts, 1d)'
run "Weekly pattern (busiest hours)" 'stats count() by dow(ts), hour(ts) | top 10'
echo
echo "== Store"
"$colog" stats "$STORE"
echo
echo "== Integrity: every block, file and manifest against the hash-chained ledger"
"$colog" verify "$STORE"
echo "ledger head (keep it elsewhere; later: colog verify $STORE --head HASH):"
"$colog" ledger "$STORE" head
echo
echo "== Retention plan (nothing changes with --dry-run; docs/OPERATIONS.md for cron)"
"$colog" retain "$STORE" --dry-run | tail -3
