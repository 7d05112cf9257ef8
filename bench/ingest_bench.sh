#!/usr/bin/env bash
# ingest_bench.sh — ingest throughput, peak memory, and pipeline checks.
#
#   bench/ingest_bench.sh time [FILE]      ingest FILE (default: 10 M generated events) into a
#                                          fresh store 3 times; rows/s, wall time, CPU and peak
#                                          RSS of each run, and the medians
#   bench/ingest_bench.sh batches [FILE]   ingest FILE (default: 5,000 generated events) with
#                                          --batch-rows 7 and with the default batch, and check
#                                          that queries give the same output (csv)
#   bench/ingest_bench.sh memory           peak RSS on inputs built to hit each batch bound
#                                          (distinct long strings, distinct IPs, wide rows)
#   bench/ingest_bench.sh tsan             build the library with -fsanitize=thread and run a
#                                          small driver over the ingest pipeline (Criterion does
#                                          not start under TSan)
#
# Environment: COLOG_BIN, COLOG_GEN (default build/colog, build/colog-gen; relative to the
# repository root unless absolute); BENCH_TMP (default $TMPDIR or /tmp); BENCH_RUNS (default 3).
# Everything temporary is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$here/$1" ;; esac; }
COLOG=$(abs "${COLOG_BIN:-build/colog}")
GEN=$(abs "${COLOG_GEN:-build/colog-gen}")
RUNS=${BENCH_RUNS:-3}
work=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/colog-ingest-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

need() { for b in "$@"; do [ -x "$b" ] || { echo "ingest_bench.sh: $b is not an executable" >&2; exit 2; }; done; }
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# gen N FILE: N generated firewall events.
gen() { "$GEN" --events "$1" --seed 7 --start 2026-03-02 >"$2"; }

cmd_time() {
    need "$COLOG"
    local in=${1:-}
    if [ -z "$in" ]; then
        need "$GEN"
        in=$work/in.csv
        gen 10000000 "$in"
    fi
    echo "run  rows/s  wall_s  cpu%  peak_rss_MB"
    for r in $(seq "$RUNS"); do
        rm -rf "$work/s" && "$COLOG" init "$work/s" >/dev/null
        /usr/bin/time -f "%e %P %M" -o "$work/time" "$COLOG" ingest "$work/s" "$in" 2>"$work/err" ||
            { cat "$work/err" >&2; exit 1; }
        local rate wall cpu rss
        rate=$(sed -n 's/.* s, \([0-9]*\) rows\/s.*/\1/p' "$work/err")
        read -r wall cpu rss <"$work/time"
        echo "$r $rate $wall ${cpu%\%} $((rss / 1024))" | tee -a "$work/runs"
    done
    printf 'median %s %s %s %s\n' "$(cut -d' ' -f2 "$work/runs" | median)" \
        "$(cut -d' ' -f3 "$work/runs" | median)" "$(cut -d' ' -f4 "$work/runs" | median)" \
        "$(cut -d' ' -f5 "$work/runs" | median)"
}

cmd_batches() {
    need "$COLOG"
    local in=${1:-}
    if [ -z "$in" ]; then
        need "$GEN"
        in=$work/in.csv
        gen 5000 "$in"
    fi
    "$COLOG" init "$work/a" >/dev/null
    "$COLOG" init "$work/b" >/dev/null
    "$COLOG" ingest "$work/a" "$in" 2>"$work/a.err" || { cat "$work/a.err" >&2; exit 1; }
    "$COLOG" ingest "$work/b" --batch-rows 7 "$in" 2>"$work/b.err" || { cat "$work/b.err" >&2; exit 1; }
    local queries=(
        'stats count()'
        'stats count(), sum(bytes_out), min(ts), max(ts) by action'
        'stats count() by dst_port | top 20'
        'stats dcount(src_ip), dcount(user) by device, proto'
        'where dst_ip in 10.0.0.0/8 | stats count() by src_zone, dst_zone'
        'fields ts, device, src_ip, src_port, dst_ip, dst_port, proto, action, policy, src_zone, dst_zone, user, bytes_out, bytes_in, duration | sort ts, src_ip, src_port, dst_port, bytes_out | limit 100000'
    )
    local fail=0
    for q in "${queries[@]}"; do
        "$COLOG" query "$work/a" "$q" --format csv >"$work/qa"
        "$COLOG" query "$work/b" "$q" --format csv >"$work/qb"
        if cmp -s "$work/qa" "$work/qb"; then
            printf 'same   %6d lines  %s\n' "$(wc -l <"$work/qa")" "$q"
        else
            printf 'DIFFER %6d lines  %s\n' "$(wc -l <"$work/qa")" "$q"
            fail=1
        fi
    done
    return $fail
}

# memory: one input per batch bound; peak RSS of `colog ingest` for each.
cmd_memory() {
    need "$COLOG"
    local n=${MEM_ROWS:-4000000}
    # 1. every user distinct and long: the string arena bound
    awk -v n="$n" 'BEGIN { print "ts,user"; for (i = 0; i < n; i++)
        printf "%d,user-%012d-%s\n", 1772323200 + int(i / 100), i, "abcdefghijklmnopqrstuvwxyz0123456789" }' \
        >"$work/strings.csv"
    # 2. every address distinct: the intern table bound
    awk -v n="$n" 'BEGIN { print "ts,src_ip,dst_ip"; for (i = 0; i < n; i++)
        printf "%d,10.%d.%d.%d,2001:db8::%x:%x\n", 1772323200 + int(i / 100), int(i / 65536) % 256,
            int(i / 256) % 256, i % 256, int(i / 65536), i % 65536 }' >"$work/ips.csv"
    # 3. a wide schema of 60 u64 columns: the row array bound
    { printf 'ts time\n'; for i in $(seq 1 60); do printf 'c%d u64\n' "$i"; done; } >"$work/wide.schema"
    awk -v n="$((n / 4))" 'BEGIN { printf "ts"; for (c = 1; c <= 60; c++) printf ",c%d", c; print "";
        for (i = 0; i < n; i++) { printf "%d", 1772323200 + int(i / 100);
            for (c = 1; c <= 60; c++) printf ",%d", i * c; print "" } }' >"$work/wide.csv"
    echo "input    rows  wall_s  peak_rss_MB"
    for k in strings ips wide; do
        rm -rf "$work/s"
        if [ $k = wide ]; then
            "$COLOG" init "$work/s" --schema "$work/wide.schema" >/dev/null
        else
            "$COLOG" init "$work/s" >/dev/null
        fi
        /usr/bin/time -f "%e %M" -o "$work/time" "$COLOG" ingest "$work/s" --now 2026-04-01 \
            "$work/$k.csv" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
        local wall rss
        read -r wall rss <"$work/time"
        echo "$k $(($(wc -l <"$work/$k.csv") - 1)) $wall $((rss / 1024))"
    done
}

cmd_tsan() {
    local b=$work/tsan
    cmake -S "$here" -B "$b" -DCMAKE_BUILD_TYPE=Debug -DCOLOG_TESTS=OFF -DCOLOG_SANITIZE=thread \
        -DCMAKE_C_FLAGS=-O1 >/dev/null
    cmake --build "$b" -j2 --target libcolog >/dev/null
    cat >"$work/tsan_ingest.c" <<'EOF'
/* tsan_ingest.c — the ingest pipeline under ThreadSanitizer: a real store with
 * batches of 7, 1000 and the default size, and a sink with per-column handles
 * that fails on either thread. Exit status 0 = every check passed. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colog_ingest_int.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "tsan_ingest: %s:%d: %s (%s)\n", __FILE__, __LINE__, #c,               \
                    colog_errmsg());                                                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define T0 1772323200LL /* 2026-03-01 */

static char *input(unsigned n)
{
    char *s = malloc((size_t)n * 80 + 64), *o = s;
    o += sprintf(o, "ts,host,src,port\n");
    for (unsigned i = 0; i < n; i++)
        o += sprintf(o, "%lld,h%u,10.0.%u.%u,%u\n", T0 - (long long)(i * 7919 % 172800), i % 17,
                     i % 200, i % 256, i % 11 == 0 ? 70000 : i % 60000);
    return s;
}

static unsigned nrejects;
static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *why)
{
    (void)ctx, (void)src, (void)line, (void)col, (void)why;
    nrejects++;
}

/* A sink with handles that counts, and fails a write of column fail_col of
 * part fail_part. */
typedef struct sink {
    pthread_mutex_t mu;
    unsigned parts, opens, closes, col_aborts, aborts, fail_part;
    int fail_col;
    uint64_t rows;
} sink_t;
typedef struct handle {
    sink_t *s;
    unsigned col;
    uint64_t sum;
} handle_t;

static int s_open(void *ctx, int32_t day, uint64_t nrows)
{
    sink_t *s = ctx;
    (void)day;
    pthread_mutex_lock(&s->mu);
    s->parts++;
    s->rows += nrows;
    pthread_mutex_unlock(&s->mu);
    return 0;
}
static int s_col_open(void *ctx, unsigned col, const colog_dictview_t *d, void **h)
{
    sink_t *s = ctx;
    (void)d;
    handle_t *x = calloc(1, sizeof *x);
    x->s = s;
    x->col = col;
    pthread_mutex_lock(&s->mu);
    s->opens++;
    pthread_mutex_unlock(&s->mu);
    *h = x;
    return 0;
}
static int s_col_write(void *h, const void *vals, const uint8_t *valid, uint32_t n)
{
    handle_t *x = h;
    (void)valid;
    pthread_mutex_lock(&x->s->mu);
    bool fail = x->s->parts == x->s->fail_part && (int)x->col == x->s->fail_col;
    pthread_mutex_unlock(&x->s->mu);
    if (fail)
        return colog_seterr(-EIO, "sink: column %u failed", x->col);
    for (uint32_t i = 0; i < n; i++) /* read what the batch holds */
        x->sum += x->col == 0 ? (uint64_t)((const int64_t *)vals)[i] : ((const uint32_t *)vals)[i];
    return 0;
}
static int s_col_close(void *h)
{
    handle_t *x = h;
    pthread_mutex_lock(&x->s->mu);
    x->s->closes++;
    pthread_mutex_unlock(&x->s->mu);
    free(x);
    return 0;
}
static void s_col_abort(void *h)
{
    handle_t *x = h;
    pthread_mutex_lock(&x->s->mu);
    x->s->col_aborts++;
    pthread_mutex_unlock(&x->s->mu);
    free(x);
}
static int s_commit(void *ctx, uint64_t *id)
{
    (void)ctx;
    *id = 1;
    return 0;
}
static void s_abort(void *ctx)
{
    sink_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->aborts++;
    pthread_mutex_unlock(&s->mu);
}
static const colog_partsink_t sink = {.open = s_open,
                                      .commit = s_commit,
                                      .abort = s_abort,
                                      .col_open = s_col_open,
                                      .col_write = s_col_write,
                                      .col_close = s_col_close,
                                      .col_abort = s_col_abort};

static const char *SCHEMA = "ts time\nhost string indexed\nsrc ip\nport u16 indexed\n";

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tsan_ingest DIR\n");
        return 2;
    }
    colog_schema_t schema;
    CHECK(colog_schema_parse(SCHEMA, strlen(SCHEMA), "t", &schema) == 0);
    const unsigned N = 20000;
    char *in = input(N);
    unsigned bad = 0;
    for (unsigned i = 0; i < N; i++)
        bad += i % 11 == 0;

    /* a real store: part writer, column handles, backlog merges, final merges
     * (batches of 7 on the first 2000 rows: every part commit fsyncs) */
    size_t sizes[] = {7, 1000, 0};
    for (unsigned k = 0; k < 3; k++) {
        char *text = k == 0 ? input(2000) : in;
        unsigned n = k == 0 ? 2000 : N, nbad = 0;
        for (unsigned i = 0; i < n; i++)
            nbad += i % 11 == 0;
        char path[512];
        snprintf(path, sizeof path, "%s/s%u", argv[1], k);
        colog_config_t c;
        colog_config_default(&c);
        CHECK(colog_store_create(path, &schema, &c) == 0);
        colog_store_t *st;
        CHECK(colog_store_open(&st, path, COLOG_OPEN_WRITE) == 0);
        colog_ingest_opts_t o = {.batch_rows = sizes[k], .now_us = T0 * 1000000, .reject = on_reject};
        colog_ingest_t *ing;
        CHECK(colog_ingest_begin(st, &o, &ing) == 0);
        nrejects = 0;
        FILE *f = fmemopen(text, strlen(text), "r");
        CHECK(colog_ingest_file(ing, f, "in", COLOG_IN_CSV) == 0);
        fclose(f);
        colog_ingest_stats_t stats;
        CHECK(colog_ingest_finish(ing, &stats) == 0);
        CHECK(stats.rows_ok == n - nbad && stats.rows_rejected == nbad && nrejects == nbad);
        colog_store_close(st);
        if (text != in)
            free(text);
        printf("store, batch %zu: %llu rows, %llu parts\n", sizes[k],
               (unsigned long long)stats.rows_ok, (unsigned long long)stats.parts_written);
    }

    /* the handle sink: a clean run, then a failure in each column */
    for (int fail_col = -1; fail_col < 4; fail_col++) {
        sink_t s = {.fail_col = fail_col, .fail_part = fail_col < 0 ? 0 : 5};
        pthread_mutex_init(&s.mu, NULL);
        colog_ingest_opts_t o = {.batch_rows = 300, .now_us = T0 * 1000000, .reject = on_reject};
        colog_ingest_t *ing;
        CHECK(colog__ingest_new(&schema, &o, &sink, &s, &ing) == 0);
        FILE *f = fmemopen(in, strlen(in), "r");
        int rc = colog_ingest_file(ing, f, "in", COLOG_IN_CSV);
        fclose(f);
        colog_ingest_stats_t stats;
        int frc = colog_ingest_finish(ing, &stats);
        if (fail_col < 0) {
            CHECK(rc == 0 && frc == 0 && s.rows == N - bad && s.aborts == 0);
        } else {
            char want[64];
            snprintf(want, sizeof want, "sink: column %d failed", fail_col);
            CHECK(rc == -EIO && frc == -EIO && strcmp(colog_errmsg(), want) == 0);
            CHECK(s.aborts == 1 && stats.parts_written == 4);
        }
        CHECK(s.opens == s.closes + s.col_aborts);
        pthread_mutex_destroy(&s.mu);
        printf("sink, failing column %d: %u parts opened, %u column aborts\n", fail_col, s.parts,
               s.col_aborts);
    }
    free(in);
    printf("tsan_ingest: ok\n");
    return 0;
}
EOF
    # shellcheck disable=SC2046
    cc -std=c17 -D_GNU_SOURCE -O1 -g -fsanitize=thread -I"$here/storage" "$work/tsan_ingest.c" \
        "$b/libcolog.a" $(pkg-config --libs liblz4 libxxhash liburing libzstd libsodium jansson) \
        -lroaring -lpthread -lm -o "$work/tsan_ingest"
    mkdir -p "$work/stores"
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} "$work/tsan_ingest" "$work/stores"
}

case "${1:-}" in
time) shift; cmd_time "$@" ;;
batches) shift; cmd_batches "$@" ;;
memory) shift; cmd_memory "$@" ;;
tsan) shift; cmd_tsan "$@" ;;
*) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
