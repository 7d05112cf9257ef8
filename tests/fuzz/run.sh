#!/usr/bin/env bash
# tests/fuzz/run.sh — build colog's libFuzzer targets (clang, ASan + UBSan) and
# run each for a while from its seed corpus. See tests/fuzz/README.md.
#
#   tests/fuzz/run.sh [--ci] [--keep] [SECONDS_PER_TARGET] [TARGET...]
#
#   SECONDS_PER_TARGET  default 10; targets run one after another
#   TARGET              query csv ndjson schema colfile dict index manifest archive
#                       ledger syslog norm (with or without the fuzz_ prefix); default all
#   --ci                10 s a target, at most 200000 runs, fixed seed: for tools/test.sh
#   --keep              keep the work directories (grown corpora, logs)
#
# Environment: FUZZ_BUILD (build directory, default build-fuzz), FUZZ_JOBS
# (compile jobs, default 2), CC (default clang), FUZZ_CFLAGS (extra compiler
# flags; -DFUZZ_SKIP_OPEN_FINDINGS skips the checks of the findings listed
# in README.md while they are open, so that fuzzing can go past them),
# FUZZ_ARGS (extra libFuzzer flags, e.g. "-max_len=65536"), FUZZ_TMP (where
# the decoder targets write their files; default /dev/shm when writable).
#
# The library is compiled once into FUZZ_BUILD/obj (again only where a source
# or a header it includes changed) and linked into each target; the targets of
# the command line's parsers (syslog, norm) also link the tools/ sources they need. Each target
# first replays the saved crash inputs under tests/fuzz/crashes/TARGET/ (they
# must not crash any more), then fuzzes a copy of tests/fuzz/corpus/TARGET/ so
# the repository's corpus is never written. Crash artifacts are copied to
# FUZZ_BUILD/crashes/TARGET/. Exit status: 0, or 1 if anything crashed or a
# saved crash input still crashes, 2 on a usage or build error.
set -euo pipefail
cd "$(dirname "$0")/../.."

ALL_TARGETS=(query csv ndjson schema colfile dict index manifest archive ledger syslog norm)
# tools/ sources (the CLI's parsers, colog_tools in CMake) a target needs besides the library.
target_tools() {
    case "$1" in
    syslog) echo "tools/syslog.c tools/norm_util.c" ;;
    norm) echo tools/syslog.c tools/norm.c tools/norm_*.c ;;
    esac
}
secs=10
ci=0
keep=0
targets=()
for a in "$@"; do
    case "$a" in
    --ci) ci=1 ;;
    --keep) keep=1 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    [0-9]*) secs=$a ;;
    *)
        t=${a#fuzz_}
        if [[ ! -f tests/fuzz/fuzz_$t.c ]]; then
            echo "run.sh: unknown target '$a' (known: ${ALL_TARGETS[*]})" >&2
            exit 2
        fi
        targets+=("$t")
        ;;
    esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
((ci)) && secs=10

CC=${CC:-clang}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${FUZZ_JOBS:-2}
if ! command -v "$CC" >/dev/null; then
    echo "run.sh: $CC not found (clang with libFuzzer is needed)" >&2
    exit 2
fi

PKGS=(liblz4 libxxhash libsodium liburing libzstd jansson libarchive)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer ${FUZZ_CFLAGS:-}"
CFLAGS="-std=c17 -D_GNU_SOURCE -g -O1 $SAN -DCOLOG_READ_BUF=98304 -Istorage -Iquery $(pkg-config --cflags "${PKGS[@]}")"
WARN="-Wall -Wextra -Wshadow -Wcast-align -Wstrict-prototypes -Wswitch-enum -Wundef -Wpointer-arith -Wno-switch-default"
LIBS="$(pkg-config --libs "${PKGS[@]}") -lroaring -lpthread -lm"

# ---------------------------------------------------------------- build

mkdir -p "$BUILD/obj"
# Other flags than last time: rebuild everything.
if [[ "$(cat "$BUILD/flags" 2>/dev/null)" != "$CC $CFLAGS" ]]; then
    rm -f "$BUILD"/obj/*.o "$BUILD"/fuzz_*
    echo "$CC $CFLAGS" >"$BUILD/flags"
fi
# Whether $1 is older than any file its .d lists (or has none).
stale() {
    local o=$1 d=${1%.o}.d f
    [[ -f $o && -f $d ]] || return 0
    # shellcheck disable=SC2013 # the file names of a .d file are words
    for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$d"); do
        [[ $f -nt $o ]] && return 0
    done
    return 1
}

objs=()
pids=()
for src in storage/*.c query/*.c; do
    o=$BUILD/obj/$(basename "${src%.c}").o
    objs+=("$o")
    if stale "$o"; then
        while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
        # shellcheck disable=SC2086
        $CC $CFLAGS -fsanitize=fuzzer-no-link -MMD -MF "${o%.o}.d" -c "$src" -o "$o" &
        pids+=($!)
    fi
done
tool_objs=()
for t in "${targets[@]}"; do
    for src in $(target_tools "$t"); do
        o=$BUILD/obj/tools_$(basename "${src%.c}").o
        [[ " ${tool_objs[*]} " == *" $o "* ]] && continue
        tool_objs+=("$o")
        if stale "$o"; then
            while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
            # shellcheck disable=SC2086
            $CC $CFLAGS -Itools -fsanitize=fuzzer-no-link -MMD -MF "${o%.o}.d" -c "$src" -o "$o" &
            pids+=($!)
        fi
    done
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
if ((fail)); then
    echo "run.sh: building the library failed" >&2
    exit 2
fi

for t in "${targets[@]}"; do
    bin=$BUILD/fuzz_$t
    tobjs=()
    for src in $(target_tools "$t"); do tobjs+=("$BUILD/obj/tools_$(basename "${src%.c}").o"); done
    newer=0
    stale "$bin.o" && newer=1
    for o in "${objs[@]}" "${tobjs[@]}"; do [[ $o -nt $bin ]] && newer=1; done
    [[ -f $bin ]] || newer=1
    if ((newer)); then
        echo "== build fuzz_$t"
        # shellcheck disable=SC2086
        $CC $CFLAGS $WARN -fsanitize=fuzzer-no-link -MMD -MF "$bin.d" -Itests/fuzz -Itools \
            -c "tests/fuzz/fuzz_$t.c" -o "$bin.o" || exit 2
        # shellcheck disable=SC2086
        $CC $SAN -fsanitize=fuzzer "$bin.o" "${tobjs[@]}" "${objs[@]}" $LIBS -o "$bin" || exit 2
    fi
done

# ---------------------------------------------------------------- run

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
work_root=$(mktemp -d "${TMPDIR:-/tmp}/colog-fuzz.XXXXXX")
# The decoder targets write a file per input: a tmpfs is several times faster.
tmp_parent=${FUZZ_TMP:-/dev/shm}
[[ -d $tmp_parent && -w $tmp_parent ]] || tmp_parent=$work_root
tmp_root=$(mktemp -d "$tmp_parent/colog-fuzz-tmp.XXXXXX")
if ((keep)); then
    trap 'rm -rf "$tmp_root"' EXIT
else
    trap 'rm -rf "$work_root" "$tmp_root"' EXIT
fi

fuzz_flags=(-max_total_time="$secs" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048)
((ci)) && fuzz_flags+=(-runs=200000 -seed=1)
# shellcheck disable=SC2206
fuzz_flags+=(${FUZZ_ARGS:-})

# Per-target libFuzzer flags: the ingest targets cost about 1 ms a kilobyte.
target_flags() {
    case "$1" in
    csv | ndjson) echo "-max_len=16384" ;;
    esac
}

status=0
summary=()
for t in "${targets[@]}"; do
    bin=$BUILD/fuzz_$t
    work=$work_root/$t
    mkdir -p "$work/corpus" "$work/artifacts" "$tmp_root/$t"
    log=$work/fuzz.log

    # Saved crash inputs: each must now run clean.
    regress="-"
    shopt -s nullglob
    saved=("tests/fuzz/crashes/$t"/*)
    shopt -u nullglob
    if ((${#saved[@]})); then
        regress=0
        for f in "${saved[@]}"; do
            if ! TMPDIR=$tmp_root/$t "$bin" -runs=1 "$f" >"$work/replay.log" 2>&1; then
                echo "!! fuzz_$t: saved crash input $f still crashes:" >&2
                grep -m 5 -E 'ERROR|runtime error|check failed|SUMMARY' "$work/replay.log" >&2 || true
                regress=$((regress + 1))
                status=1
            fi
        done
    fi

    [[ -d tests/fuzz/corpus/$t ]] && cp -R "tests/fuzz/corpus/$t/." "$work/corpus/"
    echo "== fuzz_$t: ${secs}s"
    rc=0
    # shellcheck disable=SC2046
    TMPDIR=$tmp_root/$t "$bin" $(target_flags "$t") "${fuzz_flags[@]}" -artifact_prefix="$work/artifacts/" \
        "$work/corpus" >"$log" 2>&1 || rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    newu=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    cov0=$(grep -E 'INITED' "$log" | grep -oE 'cov: [0-9]+' | head -1 || true)
    shopt -s nullglob
    arts=("$work"/artifacts/*)
    shopt -u nullglob
    ncrash=${#arts[@]}
    if ((rc != 0 || ncrash > 0)); then
        status=1
        mkdir -p "$BUILD/crashes/$t"
        for a in "${arts[@]}"; do cp "$a" "$BUILD/crashes/$t/"; done
        echo "!! fuzz_$t: exit $rc, ${ncrash} artifact(s) in $BUILD/crashes/$t/" >&2
        grep -m 12 -E '==ERROR|runtime error|check failed|SUMMARY|deadly signal|out-of-memory|timeout' \
            "$log" >&2 || true
        echo "   reproduce: $bin $BUILD/crashes/$t/<file>;" \
            "minimise: $bin -minimize_crash=1 -runs=100000 <file>" >&2
        if ((ncrash == 0)); then ncrash="exit $rc"; fi
    fi
    summary+=("$(printf '%-9s %12s %9s %6s  %-26s %s  %s' "$t" "${execs:-?}" "${eps:-?}" \
        "${newu:-?}" "${cov0:-cov: ?} -> ${cov:-?}" "$ncrash" "$regress")")
done

echo
printf '%-9s %12s %9s %6s  %-26s %s  %s\n' target executions exec/s new "coverage (start -> end)" \
    crashes "saved-still-crashing"
for l in "${summary[@]}"; do echo "$l"; done
((keep)) && echo "work directories kept in $work_root"
exit $status
