#!/usr/bin/env bash
# tools/test.sh — install what is missing, build with -Werror and ASan+UBSan, and
# run every test: the Criterion unit suites (ctest) and the end-to-end suite that
# checks colog against sqlite3 as an oracle. Exit status 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
colog_install_deps

BUILD=${COLOG_TEST_BUILD:-build-test}
JOBS=$(nproc)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCOLOG_WERROR=ON \
    -DCOLOG_SANITIZE="address;undefined" -DCMAKE_C_FLAGS="-O1" >/dev/null
cmake --build "$BUILD" -j "$JOBS"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== formatting (clang-format)"
if command -v clang-format >/dev/null; then
    files=$(git ls-files '*.c' '*.h' 2>/dev/null || find storage query tools bench tests -name '*.[ch]')
    clang-format --dry-run --Werror $files
fi

echo "== unit tests (Criterion, ASan+UBSan; fault injection at every 5th point: FAULT_STRIDE=1 for all)"
(cd "$BUILD" && FAULT_STRIDE=${FAULT_STRIDE:-5} ctest --output-on-failure -j "$JOBS")

echo "== end-to-end suite (sqlite3 oracle, ASan+UBSan binary)"
COLOG_BIN="$BUILD/colog" COLOG_GEN="$BUILD/colog-gen" python3 tests/e2e/oracle.py

echo "== end-to-end suite again: full scans (--no-index), 3 threads, pread I/O"
COLOG_BIN="$BUILD/colog" COLOG_GEN="$BUILD/colog-gen" \
    COLOG_QUERY_ARGS="--no-index --threads 3 --io pread" python3 tests/e2e/oracle.py

echo "== retention, holds, archives, crash safety (CLI end to end, ASan+UBSan binary)"
COLOG_BIN="$BUILD/colog" python3 tests/e2e/retention.py
COLOG_BIN="$BUILD/colog" python3 tests/e2e/crash.py
COLOG_BIN="$BUILD/colog" python3 tests/e2e/serve.py
COLOG_BIN="$BUILD/colog" python3 tests/e2e/normalizers.py

echo "== fuzz targets (libFuzzer, ASan+UBSan, 10 s each; saved crash inputs replayed)"
tests/fuzz/run.sh --ci
tools/valgrind_smoke.sh # memcheck over a CLI session, on a build without sanitizers (build-valgrind/)

echo "== all tests passed"
