#!/usr/bin/env bash
# bench.sh — colog ingest and query benchmark.
#
#   bench/bench.sh [--stream] [N]
#
# Generates N synthetic firewall events (default 10,000,000) with colog-gen, ingests them
# into a fresh store with `colog ingest` (timed as a whole command), reports bytes per event
# on disk, then runs each of the 13 example analyses of QUERY.md as a whole `colog query`
# command, 5 times each, and prints the median in a markdown table.
#
#   default   generate to a temporary CSV file first, then time `colog ingest FILE`
#   --stream  time `colog-gen | colog ingest STORE -` (generation and ingest overlap)
#
# Environment: COLOG_BIN (default build/colog), COLOG_GEN (default build/colog-gen), relative
# to the repository root unless absolute; BENCH_TMP: where the temporary store and CSV go
# (default $TMPDIR or /tmp); BENCH_RUNS: runs per query (default 5).
# Everything temporary is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$here/$1" ;; esac; }
COLOG=$(abs "${COLOG_BIN:-build/colog}")
GEN=$(abs "${COLOG_GEN:-build/colog-gen}")
RUNS=${BENCH_RUNS:-5}

stream=0
N=10000000
for a in "$@"; do
    case "$a" in
    --stream) stream=1 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]* | "") echo "bench.sh: bad argument '$a' (usage: bench.sh [--stream] [N])" >&2; exit 2 ;;
    *) N=$a ;;
    esac
done
[ "$N" -gt 0 ] || { echo "bench.sh: N must be > 0" >&2; exit 2; }
for b in "$COLOG" "$GEN"; do
    [ -x "$b" ] || { echo "bench.sh: $b is not an executable (set COLOG_BIN / COLOG_GEN)" >&2; exit 2; }
done

tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/colog-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
store=$tmp/store
csv=$tmp/events.csv
START=2025-03-03   # a Monday, safely in the past (ingest refuses events > 1 day ahead)
SEED=42

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
human() { numfmt --to=iec --suffix=B "$1" 2>/dev/null || echo "$1 B"; }

# ---------------------------------------------------------------- machine
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
[ -n "$cpu" ] || cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1)
mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo 2>/dev/null || true)
echo "# colog benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "- host: $(uname -srm)"
echo "- cpu: ${cpu:-unknown}, nproc $(nproc)"
echo "- ram: $( [ -n "$mem_kb" ] && human $((mem_kb * 1024)) || echo unknown)"
echo "- colog: $COLOG ($(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet 2>/dev/null || echo '+dirty'))"
echo "- events: $N (colog-gen --seed $SEED --start $START), mode: $([ $stream = 1 ] && echo 'stream (colog-gen | colog ingest -)' || echo 'file')"
echo "- temp dir: $tmp ($(df -h "$tmp" | awk 'NR==2 {print $1 ", " $4 " free"}'))"
echo

"$COLOG" init "$store" >/dev/null

# ---------------------------------------------------------------- ingest
echo "## Ingest"
echo
if [ $stream = 1 ]; then
    t0=$(now_ns)
    "$GEN" --events "$N" --seed "$SEED" --start "$START" | "$COLOG" ingest "$store" - 2>"$tmp/ingest.err" || {
        echo "bench.sh: ingest failed:" >&2; cat "$tmp/ingest.err" >&2; exit 1; }
    ms=$(ms_since "$t0")
    echo "| step | time (s) | events/s |"
    echo "|---|---:|---:|"
    awk -v ms="$ms" -v n="$N" 'BEGIN { printf "| colog-gen \\| colog ingest - | %.2f | %.0f |\n", ms / 1000, n / (ms / 1000) }'
else
    t0=$(now_ns)
    "$GEN" --events "$N" --seed "$SEED" --start "$START" --out "$csv"
    gen_ms=$(ms_since "$t0")
    csv_bytes=$(stat -c %s "$csv")
    # warm the page cache, so the ingest time is colog's and not the disk's
    cat "$csv" >/dev/null
    t0=$(now_ns)
    "$COLOG" ingest "$store" "$csv" 2>"$tmp/ingest.err" || {
        echo "bench.sh: ingest failed:" >&2; cat "$tmp/ingest.err" >&2; exit 1; }
    ms=$(ms_since "$t0")
    echo "| step | time (s) | events/s | MB/s of CSV |"
    echo "|---|---:|---:|---:|"
    awk -v ms="$gen_ms" -v n="$N" -v b="$csv_bytes" 'BEGIN { s = ms / 1000; if (s <= 0) s = 0.001
        printf "| colog-gen to CSV | %.2f | %.0f | %.1f |\n", s, n / s, b / s / 1e6 }'
    awk -v ms="$ms" -v n="$N" -v b="$csv_bytes" 'BEGIN { s = ms / 1000; if (s <= 0) s = 0.001
        printf "| colog ingest FILE | %.2f | %.0f | %.1f |\n", s, n / s, b / s / 1e6 }'
    echo
    echo "CSV input: $(human "$csv_bytes") ($(awk -v b="$csv_bytes" -v n="$N" 'BEGIN { printf "%.1f", b / n }') bytes/event)"
    rm -f "$csv"
fi
echo
sed 's/^/    /' "$tmp/ingest.err"
echo

# ---------------------------------------------------------------- size
echo "## Size on disk"
echo
hot=$(du -sb "$store/hot" | cut -f1)
echo "STORE/hot: $(human "$hot"), $(awk -v b="$hot" -v n="$N" 'BEGIN { printf "%.2f", b / n }') bytes/event"
echo
echo '```'
"$COLOG" stats "$store"
echo '```'
echo

# ---------------------------------------------------------------- queries
queries=(
    'stats count() by dst_port | top 10'
    'stats count() by dst_ip | bottom 10'
    'where dst_port = 25 and proto = "tcp" | stats dcount(dst_ip) by src_ip | top 10'
    'stats dcount(dst_port) by src_ip, dst_ip | top 10'
    'where dst_port in (6667, 5555, 8080) | stats count() by src_ip, dst_ip'
    'where duration > 3600 and dst_port in (80, 443) | stats count() by src_ip'
    'where dst_port in (80, 443) and hour(ts) between 1 and 5 | stats count() by hour(ts)'
    'where src_port >= 32768 | stats count() by src_ip | top 10'
    'stats sum(bytes_out) by user | top 10'
    'where src_ip = 10.1.2.3 | stats count()'
    'where dst_ip in 10.0.0.0/8 and action = "deny" | stats count() by dst_port | top 10'
    'stats count() by bin(ts, 1h)'
    'stats count() by dow(ts), hour(ts)'
)
echo "## Queries (whole \`colog query --format csv\` commands, median of $RUNS runs)"
echo
echo "| # | query | rows | median (ms) | min (ms) | max (ms) |"
echo "|---:|---|---:|---:|---:|---:|"
i=0
for q in "${queries[@]}"; do
    i=$((i + 1))
    times=()
    rows=error
    for _ in $(seq "$RUNS"); do
        t0=$(now_ns)
        if "$COLOG" query "$store" "$q" --format csv >"$tmp/out.csv" 2>"$tmp/q.err"; then
            times+=("$(( ($(now_ns) - t0) / 1000 ))")
            rows=$(( $(wc -l <"$tmp/out.csv") - 1 ))
        else
            echo "bench.sh: query failed: $q" >&2
            sed 's/^/  /' "$tmp/q.err" >&2
            break
        fi
    done
    qs=${q//|/\\|}
    if [ "${#times[@]}" -eq 0 ]; then
        echo "| $i | \`$qs\` | error | | | |"
        continue
    fi
    printf '%s\n' "${times[@]}" | sort -n | awk -v i="$i" -v q="$qs" -v rows="$rows" '
        { t[NR] = $1 }
        END { med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
              printf "| %d | `%s` | %s | %.1f | %.1f | %.1f |\n", i, q, rows, med / 1000, t[1] / 1000, t[NR] / 1000 }'
done
