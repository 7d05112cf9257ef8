#!/usr/bin/env bash
# tools/valgrind_smoke.sh — a small colog session under valgrind (memcheck), on a
# build without sanitizers (its own build directory, Debug at -O1): init, ingest
# of generated CSV in several batches, queries (stats, raw rows, CIDR), merge,
# retain moving a day to cold, verify, archive + restore, and one ingest that
# fails on an injected fsync error (COLOG_FAULT). Exits non-zero on any
# valgrind error (invalid access, uninitialised value, definite leak) or if a
# colog command fails.
#
#   tools/valgrind_smoke.sh            # build-valgrind/, a temp directory for the store
#   COLOG_VALGRIND_BUILD=DIR tools/valgrind_smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${COLOG_VALGRIND_BUILD:-build-valgrind}
command -v valgrind >/dev/null || { echo "valgrind_smoke: valgrind is not installed" >&2; exit 1; }
# Warnings are the -Werror test build's business (tools/test.sh); this one only
# has to run (gcc 12 at -O1 without sanitizers sees false maybe-uninitialized).
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-O1" -DCOLOG_SANITIZE= \
    -DCOLOG_WERROR=OFF -DCOLOG_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target colog colog-gen >"$BUILD/smoke-build.log" 2>&1 ||
    { cat "$BUILD/smoke-build.log"; exit 1; }

WORK=$(mktemp -d /tmp/colog-valgrind-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
S="$WORK/store"
colog="$BUILD/colog"
# memcheck cannot see the kernel fill io_uring buffers (false "uninitialised"
# reports): block reads go through pread here.
export COLOG_IO=pread

VG=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --num-callers=30)

step() {
    echo "== valgrind: colog $*"
    "${VG[@]}" "$colog" "$@" >"$WORK/out" || {
        rc=$?
        cat "$WORK/out"
        echo "valgrind_smoke: 'colog $*' failed (exit $rc)" >&2
        exit 1
    }
    tail -n 3 "$WORK/out"
}

"$BUILD/colog-gen" --events 30000 --seed 7 --start 2026-01-01 --days 3 >"$WORK/a.csv"
"$BUILD/colog-gen" --events 6000 --seed 8 --start 2026-01-01 --days 3 >"$WORK/b.csv"

step init "$S" --schema firewall --hot-days 1 --cold-days 400 --cold-zstd-level 3
step ingest "$S" --batch-rows 8000 --now 2026-01-04T00:00:00Z "$WORK/a.csv"
step ingest "$S" --now 2026-01-04T00:00:00Z "$WORK/b.csv"
step query "$S" 'stats count() by dst_port | top 5' --threads 2
step query "$S" 'range 2026-01-02 .. 2026-01-03 | where dst_port = 443 | fields ts, src_ip, dst_ip | limit 5'
step query "$S" 'where dst_ip in 10.0.0.0/8 and action = "deny" | stats count() by dst_port | top 5' --threads 2
step query "$S" 'where src_ip in 10.0.0.0/8 | stats dcount(dst_ip) by src_ip | top 3' --no-index
step merge "$S"
# now = 2026-01-03 12:00: only 2026-01-01 is older than hot_days (1): it goes cold.
step retain "$S" --now 2026-01-03T12:00:00Z
step stats "$S"
step verify "$S"
step archive "$S" --day 2026-01-02 --out "$WORK/day.tar" --remove
step verify --archive "$WORK/day.tar"
step restore "$S" "$WORK/day.tar"
step verify "$S"
step query "$S" 'stats count() by bin(ts, 1d)'

# An error path: the third fsync of an ingest fails. colog must exit 1 (not
# valgrind's 99), then the store must still verify.
echo "== valgrind: COLOG_FAULT=fsync:3 colog ingest (must fail cleanly)"
rc=0
COLOG_FAULT=fsync:3:EIO "${VG[@]/--error-exitcode=1/--error-exitcode=99}" "$colog" ingest "$S" \
    --now 2026-01-04T00:00:00Z "$WORK/b.csv" >"$WORK/out" 2>&1 || rc=$?
tail -n 2 "$WORK/out"
if [ "$rc" -ne 1 ]; then
    cat "$WORK/out"
    echo "valgrind_smoke: the failing ingest exited $rc, not 1" >&2
    exit 1
fi
step verify "$S"
echo "== valgrind smoke: no errors"
