#!/usr/bin/env bash
# compare.sh — colog against DuckDB and sqlite on the same synthetic firewall events.
#
#   bench/compare.sh [--engines colog,duckdb,sqlite] [--stream] [N]
#
# Generates N events (default 10,000,000) with colog-gen (--seed 42 --start 2025-03-03) into
# one CSV file and loads that same file into each engine, timing the load as a whole:
#   colog   `colog ingest STORE FILE` (a whole command; peak RSS via /usr/bin/time -v)
#   DuckDB  CREATE TABLE ev AS SELECT * FROM read_csv(FILE, explicit types) + CHECKPOINT, in
#           a persistent database file, threads = 2 (bench/duckdb_run.mjs, @duckdb/node-api)
#   sqlite  `sqlite3 DB < load.sql`: a typed table, `.import --csv`, indexes on src_ip, dst_ip,
#           dst_port, ANALYZE (a whole command). Skipped automatically when N > 10,000,000.
# Then reports bytes per event on disk, and runs the analyses of bench/queries.tsv (the 12 of
# the issue plus the weekly pattern; each line: name<TAB>colog query<TAB>SQL) on every
# engine: one untimed warm-up run, then BENCH_RUNS (5) timed runs, median reported.
#   colog   a whole `colog query STORE 'Q' --format csv` command per run
#   DuckDB  per run, in one Node process per engine: open a fresh instance on the database
#           file, connect, run, fetch all rows, close (Node start-up not timed); the
#           same on one open connection ("hot") is reported separately
#   sqlite  a whole `sqlite3 -readonly DB < query.sql` command per run (no warm-up run: the
#           file is read into the page cache first, as are the others')
# The answers are normalised and compared (bench/compare_util.py); any difference is printed
# as MISMATCH and the script exits 1. Last, markdown tables: per-analysis times with the
# DuckDB/colog ratio and the geometric-mean speed-up, ingest rows/s and bytes/event.
#
#   --stream  colog only: `colog-gen | colog ingest STORE -` with no intermediate file (the
#             mode for 1 B events); reports the peak RSS of ingest. Time includes generation.
#
# Environment: COLOG_BIN (default build/colog), COLOG_GEN (default build/colog-gen), relative
# to the repository root unless absolute; BENCH_TMP: where the temporary files go (default
# $TMPDIR or /tmp); BENCH_RUNS: timed runs per query (default 5); BENCH_KEEP=1 keeps the
# temporary directory; SQLITE_MAX_N: largest N sqlite runs at (default 10000000);
# COLOG_QUERY_ARGS: extra `colog query` arguments (e.g. "--mem-mb 8192"); BENCH_QUERIES: another
# analyses file (bench/queries_1b.tsv: the 1 B-event targets and the cheap analyses).
# A query that fails on an engine is reported (its error) and the others go on; the exit
# status is then 1, as it is for a mismatch.
# DuckDB needs `npm install --prefix bench` once (bench/package.json pins @duckdb/node-api).
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
here=$(cd "$bench/.." && pwd)
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$here/$1" ;; esac; }
COLOG=$(abs "${COLOG_BIN:-build/colog}")
GEN=$(abs "${COLOG_GEN:-build/colog-gen}")
RUNS=${BENCH_RUNS:-5}
SQLITE_MAX_N=${SQLITE_MAX_N:-10000000}
QUERIES=${BENCH_QUERIES:-$bench/queries.tsv}
UTIL=$bench/compare_util.py
START=2025-03-03   # a Monday, safely in the past (ingest refuses events > 1 day ahead)
SEED=42

die() { echo "compare.sh: $*" >&2; exit 2; }
usage() { sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; }

stream=0
N=10000000
engines=colog,duckdb,sqlite
engines_given=0
while [ $# -gt 0 ]; do
    case "$1" in
    --stream) stream=1 ;;
    --engines) [ $# -ge 2 ] || die "--engines needs a value"; engines=$2; engines_given=1; shift ;;
    --engines=*) engines=${1#--engines=}; engines_given=1 ;;
    -h | --help) usage; exit 0 ;;
    *[!0-9]* | "") die "bad argument '$1' (usage: compare.sh [--engines colog,duckdb,sqlite] [--stream] [N])" ;;
    *) N=$1 ;;
    esac
    shift
done
[ "$N" -gt 0 ] || die "N must be > 0"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

# ---------------------------------------------------------------- engines
want_colog=0 want_duckdb=0 want_sqlite=0
IFS=, read -r -a elist <<<"$engines"
for e in "${elist[@]}"; do
    case "$e" in
    colog) want_colog=1 ;;
    duckdb) want_duckdb=1 ;;
    sqlite) want_sqlite=1 ;;
    *) die "unknown engine '$e' (colog, duckdb, sqlite)" ;;
    esac
done
notes=()
if [ $stream = 1 ]; then
    if [ $engines_given = 1 ] && [ $((want_duckdb + want_sqlite)) -gt 0 ]; then
        die "--stream is colog only (there is no file for DuckDB and sqlite to load): use --engines colog"
    fi
    want_duckdb=0 want_sqlite=0
    [ $want_colog = 1 ] || die "--stream needs the colog engine"
fi
if [ $want_sqlite = 1 ] && [ "$N" -gt "$SQLITE_MAX_N" ]; then
    want_sqlite=0
    notes+=("sqlite skipped: N = $N > $SQLITE_MAX_N (SQLITE_MAX_N)")
fi
run_engines=()
[ $want_colog = 1 ] && run_engines+=(colog)
[ $want_duckdb = 1 ] && run_engines+=(duckdb)
[ $want_sqlite = 1 ] && run_engines+=(sqlite)
[ ${#run_engines[@]} -gt 0 ] || die "no engine left to run"

for b in "$GEN" $([ $want_colog = 1 ] && echo "$COLOG"); do
    [ -x "$b" ] || die "$b is not an executable (set COLOG_BIN / COLOG_GEN)"
done
command -v python3 >/dev/null || die "python3 is needed (bench/compare_util.py)"
[ -f "$QUERIES" ] || die "$QUERIES is missing"
if [ $want_duckdb = 1 ]; then
    command -v node >/dev/null || die "node (>= 20) is needed for DuckDB"
    [ -d "$bench/node_modules/@duckdb/node-api" ] ||
        die "DuckDB: @duckdb/node-api is not installed; run: npm install --prefix bench"
fi
[ $want_sqlite = 1 ] && { command -v sqlite3 >/dev/null || die "sqlite3 (the CLI) is needed"; }
timev=
[ -x /usr/bin/time ] && /usr/bin/time -v true 2>/dev/null && timev=/usr/bin/time
[ $stream = 1 ] && [ -z "$timev" ] && die "--stream needs GNU time at /usr/bin/time (peak RSS)"

tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/colog-compare.XXXXXX")
if [ "${BENCH_KEEP:-0}" = 1 ]; then
    trap 'echo "kept $tmp" >&2' EXIT
else
    trap 'rm -rf "$tmp"' EXIT
fi
trap 'exit 130' INT TERM
store=$tmp/store
csv=$tmp/events.csv
out=$tmp/out
mkdir -p "$out"

# Rough disk needs per event: CSV 119 B, colog ~46, DuckDB ~33, sqlite ~175 (+ slack).
need=$(( N * (46 + (stream ? 0 : 119) + want_duckdb * 33 + want_sqlite * 175) * 11 / 10 ))
avail=$(( $(df -Pk "$tmp" | awk 'NR==2 {print $4}') * 1024 ))
[ "$need" -le "$avail" ] ||
    die "not enough disk in $tmp: need ~$((need >> 30)) GiB, $((avail >> 30)) GiB free (set BENCH_TMP, or use --stream --engines colog)"

now_us() { echo "${EPOCHREALTIME/./}"; }
human() { numfmt --to=iec --suffix=B "$1" 2>/dev/null || echo "$1 B"; }
step() { echo "[$(date -u +%H:%M:%S), load $(cut -d" " -f1 /proc/loadavg)] $*" >&2; }

# ---------------------------------------------------------------- machine
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
[ -n "$cpu" ] || cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1)
mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo 2>/dev/null || true)
echo "# colog vs DuckDB vs sqlite"
echo
echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "- host: $(uname -srm); cpu: ${cpu:-unknown}, nproc $(nproc); ram: $( [ -n "$mem_kb" ] && human $((mem_kb * 1024)) || echo unknown)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- colog: $COLOG ($(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$here" diff --quiet 2>/dev/null || echo '+dirty')), query threads: default (= nproc)${COLOG_QUERY_ARGS:+, extra query arguments: $COLOG_QUERY_ARGS}"
[ $want_duckdb = 1 ] && echo "- DuckDB: @duckdb/node-api $(node -p "require('$bench/node_modules/@duckdb/node-api/package.json').version"), Node $(node --version), threads = 2"
[ $want_sqlite = 1 ] && echo "- sqlite: $(sqlite3 --version | cut -d' ' -f1) (CLI)"
echo "- events: $N (colog-gen --seed $SEED --start $START), mode: $([ $stream = 1 ] && echo 'stream (colog-gen | colog ingest STORE -, no intermediate file)' || echo 'one CSV file loaded by every engine')"
echo "- engines: ${run_engines[*]}; timed runs per query: $RUNS (median), after 1 warm-up run (colog, DuckDB)"
echo "- temp dir: $tmp ($(df -h "$tmp" | awk 'NR==2 {print $1 ", " $4 " free"}'))"
for n in "${notes[@]+"${notes[@]}"}"; do echo "- note: $n"; done
echo

# ---------------------------------------------------------------- data and loads
info_ingest=()
gen_ms=0 csv_bytes=0 rss_kb=0
if [ $want_colog = 1 ]; then
    "$COLOG" init "$store" >/dev/null
fi
if [ $stream = 1 ]; then
    step "colog-gen | colog ingest - ($N events)"
    t0=$(now_us)
    set +e
    "$GEN" --events "$N" --seed "$SEED" --start "$START" |
        "$timev" -v -o "$tmp/ingest.time" "$COLOG" ingest "$store" - 2>"$tmp/ingest.err"
    st=("${PIPESTATUS[@]}")
    set -e
    us=$(( $(now_us) - t0 ))
    [ "${st[0]}" = 0 ] && [ "${st[1]}" = 0 ] || {
        echo "compare.sh: stream ingest failed (colog-gen $((st[0])), ingest ${st[1]}):" >&2
        cat "$tmp/ingest.err" "$tmp/ingest.time" >&2 2>/dev/null; exit 1; }
    rss_kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$tmp/ingest.time")
    info_ingest+=("\"colog\": {\"ms\": $((us / 1000)), \"bytes\": $(du -sb "$store" | cut -f1), \"what\": \"colog-gen \\\\| colog ingest STORE -\"}")
else
    step "colog-gen to CSV ($N events)"
    t0=$(now_us)
    "$GEN" --events "$N" --seed "$SEED" --start "$START" --out "$csv"
    gen_ms=$(( ($(now_us) - t0) / 1000 ))
    csv_bytes=$(stat -c %s "$csv")
    if [ $want_colog = 1 ]; then
        cat "$csv" >/dev/null    # page cache: the load time is the engine's, not the disk's
        step "colog ingest"
        t0=$(now_us)
        pre=()
        [ -n "$timev" ] && pre=("$timev" -v -o "$tmp/ingest.time")
        "${pre[@]+"${pre[@]}"}" "$COLOG" ingest "$store" "$csv" 2>"$tmp/ingest.err" || {
            echo "compare.sh: colog ingest failed:" >&2; cat "$tmp/ingest.err" >&2; exit 1; }
        us=$(( $(now_us) - t0 ))
        [ -n "$timev" ] && rss_kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$tmp/ingest.time")
        info_ingest+=("\"colog\": {\"ms\": $((us / 1000)), \"bytes\": $(du -sb "$store" | cut -f1), \"what\": \"colog ingest STORE FILE\"}")
    fi
    if [ $want_duckdb = 1 ]; then
        cat "$csv" >/dev/null
        step "DuckDB load"
        node "$bench/duckdb_run.mjs" load "$tmp/ev.duckdb" "$csv" >"$tmp/duckdb.load" || {
            echo "compare.sh: DuckDB load failed" >&2; exit 1; }
        dms=$(sed -n 's/.*"load_ms":\([0-9.]*\).*/\1/p' "$tmp/duckdb.load")
        dbytes=$(( $(stat -c %s "$tmp/ev.duckdb") + $( [ -f "$tmp/ev.duckdb.wal" ] && stat -c %s "$tmp/ev.duckdb.wal" || echo 0) ))
        info_ingest+=("\"duckdb\": {\"ms\": ${dms%.*}, \"bytes\": $dbytes, \"what\": \"CREATE TABLE AS read_csv + CHECKPOINT\"}")
    fi
    if [ $want_sqlite = 1 ]; then
        cat >"$tmp/load.sql" <<EOF
.output /dev/null
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA threads = 2;
PRAGMA cache_size = -262144;
.output stdout
CREATE TABLE ev (ts TEXT, device TEXT, src_ip TEXT, src_port INTEGER, dst_ip TEXT,
    dst_port INTEGER, proto TEXT, action TEXT, policy INTEGER, src_zone TEXT, dst_zone TEXT,
    user TEXT, bytes_out INTEGER, bytes_in INTEGER, duration INTEGER);
.import --csv --skip 1 $csv ev
CREATE INDEX ev_src_ip ON ev (src_ip);
CREATE INDEX ev_dst_ip ON ev (dst_ip);
CREATE INDEX ev_dst_port ON ev (dst_port);
ANALYZE;
EOF
        cat "$csv" >/dev/null
        step "sqlite load"
        t0=$(now_us)
        sqlite3 -bail "$tmp/ev.sqlite" <"$tmp/load.sql" >"$tmp/sqlite.load" 2>&1 || {
            echo "compare.sh: sqlite load failed:" >&2; cat "$tmp/sqlite.load" >&2; exit 1; }
        us=$(( $(now_us) - t0 ))
        info_ingest+=("\"sqlite\": {\"ms\": $((us / 1000)), \"bytes\": $(stat -c %s "$tmp/ev.sqlite"), \"what\": \".import --csv + 3 indexes + ANALYZE\"}")
    fi
    rm -f "$csv"
fi
if [ $want_colog = 1 ]; then
    echo "colog ingest said:"
    sed 's/^/    /' "$tmp/ingest.err"
    echo
fi

# ---------------------------------------------------------------- queries
# Write back the loads' dirty pages now (sqlite's 1.6 GB at 10 M, written with
# synchronous = OFF), so background writeback does not run during the timed queries.
sync
nq=$(grep -cv '^\(#\|[[:space:]]*$\)' "$QUERIES")
if [ $want_colog = 1 ]; then
    find "$store" -type f -exec cat {} + >/dev/null
    step "colog queries"
    i=0
    while IFS=$'\t' read -r name q sql; do
        case "$name" in '#'* | '') continue ;; esac
        i=$((i + 1))
        times=()
        for r in $(seq 0 "$RUNS"); do
            t0=$(now_us)
            # shellcheck disable=SC2086 # COLOG_QUERY_ARGS is a list of words
            if ! "$COLOG" query "$store" "$q" --format csv ${COLOG_QUERY_ARGS:-} </dev/null \
                    >"$out/colog.$i.csv" 2>"$out/colog.$i.err"; then
                echo "compare.sh: colog query $i ($name) failed: $(head -c 300 "$out/colog.$i.err")" >&2
                rm -f "$out/colog.$i.csv"
                times=()
                break
            fi
            t=$(( $(now_us) - t0 ))
            [ "$r" = 0 ] || times+=("$t")   # run 0 is the warm-up
        done
        [ ${#times[@]} = 0 ] || { echo "${times[*]}" >"$out/colog.$i.times"; rm -f "$out/colog.$i.err"; }
    done <"$QUERIES"
fi
if [ $want_duckdb = 1 ]; then
    cat "$tmp/ev.duckdb" >/dev/null
    step "DuckDB queries"
    node "$bench/duckdb_run.mjs" query "$tmp/ev.duckdb" "$QUERIES" "$out" "$RUNS" 1 2>"$tmp/duckdb.err" || {
        echo "compare.sh: DuckDB queries failed:" >&2; cat "$tmp/duckdb.err" >&2; exit 1; }
fi
if [ $want_sqlite = 1 ]; then
    python3 "$UTIL" sqlite-sql "$QUERIES" "$out"
    cat "$tmp/ev.sqlite" >/dev/null
    step "sqlite queries"
    for i in $(seq 1 "$nq"); do
        times=()
        for r in $(seq 1 "$RUNS"); do
            t0=$(now_us)
            if ! sqlite3 -bail -readonly "$tmp/ev.sqlite" <"$out/sqlite.$i.sql" >"$out/sqlite.$i.csv" \
                    2>"$out/sqlite.$i.err"; then
                echo "compare.sh: sqlite query $i failed: $(head -c 300 "$out/sqlite.$i.err")" >&2
                rm -f "$out/sqlite.$i.csv"
                times=()
                break
            fi
            times+=("$(( $(now_us) - t0 ))")
        done
        [ ${#times[@]} = 0 ] || { echo "${times[*]}" >"$out/sqlite.$i.times"; rm -f "$out/sqlite.$i.err"; }
    done
fi

# ---------------------------------------------------------------- answers and report
step "comparing answers"
echo "## Answers"
echo
set +e
python3 "$UTIL" check "$QUERIES" "$out" "${run_engines[@]}"
check_rc=$?
set -e
echo

{
    printf '{"events": %d, "runs": %d, "engines": [' "$N" "$RUNS"
    sep=""
    for e in "${run_engines[@]}"; do printf '%s"%s"' "$sep" "$e"; sep=", "; done
    printf '], "ingest": {'
    sep=""
    for g in "${info_ingest[@]}"; do printf '%s%s' "$sep" "$g"; sep=", "; done
    printf '}'
    [ $stream = 1 ] || printf ', "gen_ms": %d, "csv_bytes": %d' "$gen_ms" "$csv_bytes"
    [ "${rss_kb:-0}" -gt 0 ] && printf ', "ingest_rss_kb": %d' "$rss_kb"
    printf '}\n'
} >"$tmp/info.json"
python3 "$UTIL" report "$QUERIES" "$out" "$tmp/info.json"
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for e in "${run_engines[@]}"; do
    for i in $(seq 1 "$nq"); do
        f=$out/$e.$i.err
        [ -e "$f" ] || continue
        [ $failed = 1 ] || { echo; echo "## Failed queries"; echo; }
        failed=1
        echo "- $e, query $i ($(awk -F'\t' -v i="$i" '!/^(#|[[:space:]]*$)/ && ++n == i {print $2}' "$QUERIES")): $(tr '\n' ' ' <"$f" | head -c 600)"
    done
done
if [ "$check_rc" != 0 ]; then
    echo
    echo "!!! MISMATCH: the engines' answers differ (see \"Answers\" above) !!!"
    exit 1
fi
[ $failed = 0 ] || exit 1
