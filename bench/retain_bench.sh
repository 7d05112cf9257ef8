#!/usr/bin/env bash
# retain_bench.sh — what the cold tier costs and saves.
#
#   bench/retain_bench.sh [N] [DAYS]   generate N firewall events (default 8,600,000: one day of a
#                                      3,000-person company) over DAYS days (default 1), ingest
#                                      them, then `colog retain` them all into the cold tier
#                                      at each zstd level in BENCH_LEVELS (default "9 19"); print
#                                      bytes/event hot and cold, retain time, and the time of
#                                      two queries hot and cold (median of 5), checking the
#                                      answers are identical.
#
# Environment: COLOG_BIN, COLOG_GEN (default build/colog, build/colog-gen; relative to the
# repository root unless absolute); BENCH_TMP (default $TMPDIR or /tmp).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$here/$1" ;; esac; }
COLOG=$(abs "${COLOG_BIN:-build/colog}")
GEN=$(abs "${COLOG_GEN:-build/colog-gen}")
N=${1:-8600000}
DAYS=${2:-1}
LEVELS=${BENCH_LEVELS:-9 19}
work=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/colog-retain-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

for b in "$COLOG" "$GEN"; do [ -x "$b" ] || { echo "retain_bench.sh: build $b first" >&2; exit 2; }; done
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
now_us() { echo "${EPOCHREALTIME/./}"; }
# bytes on disk of the parts (both tiers)
parts_bytes() { du -sb "$1/hot" "$1/cold" 2>/dev/null | awk '{s += $1} END {print s}'; }
qtime() { # STORE QUERY -> median ms of 5, answer in $work/answer
    local t=()
    for _ in 1 2 3 4 5; do
        local a b
        a=$(now_us)
        "$COLOG" query "$1" "$2" --format csv >"$work/answer"
        b=$(now_us)
        t+=($(((b - a) / 1000)))
    done
    printf '%s\n' "${t[@]}" | median
}

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u +%F)"
"$GEN" --events "$N" --seed 11 --start 2026-01-05 --days "$DAYS" >"$work/in.csv"
"$COLOG" init "$work/s" >/dev/null
"$COLOG" ingest "$work/s" "$work/in.csv" 2>/dev/null
hot=$(parts_bytes "$work/s")
Q1='stats count() by dst_port | top 10'
Q2='where dst_port in (6660, 6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669) | stats count() by src_ip | top 10'
q1h=$(qtime "$work/s" "$Q1"); cp "$work/answer" "$work/a1"
q2h=$(qtime "$work/s" "$Q2"); cp "$work/answer" "$work/a2"
printf 'events %s over %s days\n' "$N" "$DAYS"
printf '%-8s %10s %12s %10s %10s %10s\n' tier level bytes/event retain_s q1_ms q2_ms
printf '%-8s %10s %12.2f %10s %10s %10s\n' hot lz4 "$(echo "$hot / $N" | bc -l)" - "$q1h" "$q2h"
for lvl in $LEVELS; do
    rm -rf "$work/c"
    cp -a "$work/s" "$work/c"
    "$COLOG" config "$work/c" --hot-days 1 --cold-days 100000 --cold-zstd-level "$lvl" >/dev/null
    a=$(now_us)
    "$COLOG" retain "$work/c" --now 2027-01-01T00:00:00Z >/dev/null
    b=$(now_us)
    cold=$(parts_bytes "$work/c")
    q1c=$(qtime "$work/c" "$Q1"); cmp -s "$work/answer" "$work/a1" || { echo "q1 differs cold" >&2; exit 1; }
    q2c=$(qtime "$work/c" "$Q2"); cmp -s "$work/answer" "$work/a2" || { echo "q2 differs cold" >&2; exit 1; }
    printf '%-8s %10s %12.2f %10.1f %10s %10s\n' cold "zstd-$lvl" "$(echo "$cold / $N" | bc -l)" \
        "$(echo "($b - $a) / 1000000" | bc -l)" "$q1c" "$q2c"
    "$COLOG" verify "$work/c" >/dev/null || { echo "verify failed" >&2; exit 1; }
done
