/*
 * test_exec.c — the executor's plans must not change answers: every query gives
 * the same rows with bitmap indexes and without (--no-index: zone maps and full
 * scans only), on 1 thread and on several, before and after a merge. The data is
 * generated traffic (bench/gen.c) ingested through the library; the exact values
 * are checked against sqlite3 by tests/e2e/oracle.py — here the point is that the
 * index planner, the bitmap-only answers and the parallel merge of aggregation
 * states are invisible in the results.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colog_query.h"
#include "colog_storage.h"

static char dir[256];

/* A new firewall store in a temp dir (dir), open for writing. */
static colog_store_t *new_store(void)
{
    snprintf(dir, sizeof dir, "/tmp/colog-test-exec-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    strcat(dir, "/s");
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(dir, colog_schema_builtin("firewall"), &c), 0, "%s",
                 colog_errmsg());
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    return st;
}

static void build_store(void)
{
    colog_store_t *st = new_store();
    /* Small batches and no automatic merge: days end up with several parts. */
    colog_ingest_opts_t o = {.batch_rows = 30000, .no_auto_merge = true};
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0, "%s", colog_errmsg());
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 '%s/colog-gen' --events 120000 --seed 11 "
             "--start 2026-03-06 --days 3",
             COLOG_BINARY_DIR);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_eq(colog_ingest_file(ing, f, "gen", COLOG_IN_CSV), 0, "%s", colog_errmsg());
    cr_assert_eq(pclose(f), 0);
    colog_ingest_stats_t s;
    cr_assert_eq(colog_ingest_finish(ing, &s), 0, "%s", colog_errmsg());
    cr_assert_eq(s.rows_ok, 120000);
    colog_store_close(st);
}

static void drop_store(void)
{
    char cmd[300];
    *strrchr(dir, '/') = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Run q and return its CSV output (malloc'ed). */
static char *run(colog_store_t *st, const char *text, bool no_index, unsigned threads)
{
    colog_tz_t *tz;
    colog_query_t *q;
    colog_qerr_t err;
    cr_assert_eq(colog_tz_open("America/New_York", &tz), 0);
    cr_assert_eq(colog_query_parse(text, colog_store_schema(st), tz, 1800000000000000LL, &q, &err),
                 0, "%s: %s", text, err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    colog_run_opts_t o = {.format = COLOG_OUT_CSV,
                          .out = out,
                          .threads = threads,
                          .no_index = no_index,
                          .io_mode = threads > 1 ? COLOG_IO_AUTO : COLOG_IO_PREAD};
    int rc = colog_query_run(q, st, &o);
    fclose(out);
    cr_assert_eq(rc, 0, "%s: %s", text, colog_errmsg());
    colog_query_free(q);
    colog_tz_free(tz);
    return buf;
}

static const char *queries[] = {
    /* QUERY.md's analyses */
    "stats count() by dst_port | top 10",
    "stats count() by dst_ip | bottom 10",
    "where dst_port = 25 and proto = \"tcp\" | stats dcount(dst_ip) by src_ip | top 10",
    "stats dcount(dst_port) by src_ip, dst_ip | top 10",
    "where dst_port in (6667, 5555, 8080) | stats count() by src_ip, dst_ip",
    "where duration > 3600 and dst_port in (80, 443) | stats count() by src_ip",
    "where dst_port in (80, 443) and hour(ts) between 1 and 5 | stats count() by hour(ts)",
    "where src_port >= 32768 | stats count() by src_ip | top 10",
    "stats sum(bytes_out) by user | top 10",
    "where src_ip = 10.1.2.3 | stats count()",
    "where dst_ip in 10.0.0.0/8 and action = \"deny\" | stats count() by dst_port | top 10",
    "stats count() by bin(ts, 1h)",
    "stats count() by dow(ts), hour(ts)",
    /* index shapes: equality, lists, CIDR, negations, mixes with unindexed tests */
    "where src_ip = 10.1.4.44 | stats count() by dst_port",
    "where src_ip != 10.1.4.44 | stats count()",
    "where not src_ip = 10.1.4.44 and dst_port = 25 | stats count()",
    "where dst_port not in (80, 443, 53) | stats count() by proto",
    "where src_ip in 10.1.0.0/16 or dst_ip in 10.250.0.0/16 | stats count()",
    "where dst_ip in 2001:db8::/32 | stats count() by dst_ip | top 5",
    "where user = \"jsmith0042\" or user = \"ptanaka0502\" | stats count() by user",
    "where user != \"ptanaka0502\" | stats count()",
    "where not (user = \"ptanaka0502\" or dst_port = 443) | stats count()",
    "where user startswith \"a\" and dst_port between 1 and 1024 | stats count() by dst_port",
    "where dst_port = 443 and bytes_out > 100000 | stats count(), sum(bytes_in) by device",
    "where dst_port = 12345 | stats count()",
    "where src_ip = 203.0.113.254 | stats count() by user",
    "where dst_port < 1024 and not dst_port in (22, 23) | stats count() by action",
    "range 2026-03-07T06:30:00Z .. 2026-03-07T18:00:00Z | where dst_port = 53 | stats count()",
    "range 2026-03-07 .. 2026-03-08 | stats count() by dst_port | top 5",
    "last 500d | where src_ip = 10.1.2.3 | stats count() by dst_port",
    "where ts >= 2026-03-07T12:00:00Z and dst_port = 80 | stats count() by hour(ts)",
    "where user = \"nobody-at-all\" | stats count() by src_ip",
    "stats count() by user | top 5",
    "stats count(), min(ts), max(ts), dcount(user), avg(duration) by device, action",
    "stats min(dst_ip), max(dst_ip), min(user), max(user) by proto",
    "where dst_port = 443 | stats count() by src_ip | where count > 100 | sort count desc, "
    "src_ip | limit 7",
    /* raw events */
    "where src_ip = 10.1.2.3 | fields ts, dst_ip, dst_port, user | limit 25",
    "where dst_port = 25 and src_ip = 10.1.4.44 | top 5 by bytes_out | fields ts, dst_ip, "
    "bytes_out",
    "range 2026-03-07T03:00:00Z .. 2026-03-07T03:01:00Z | where dst_port in (53, 443)",
};

static void check_all(colog_store_t *st, unsigned *nonempty)
{
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        char *base = run(st, queries[i], true, 1);
        char *ix1 = run(st, queries[i], false, 1);
        char *ix3 = run(st, queries[i], false, 3);
        char *no3 = run(st, queries[i], true, 3);
        cr_expect_str_eq(ix1, base, "index vs --no-index: %s", queries[i]);
        cr_expect_str_eq(ix3, base, "index, 3 threads: %s", queries[i]);
        cr_expect_str_eq(no3, base, "--no-index, 3 threads: %s", queries[i]);
        /* A result with data rows beyond the header and not all zero counts. */
        const char *nl = strchr(base, '\n');
        if (nl && nl[1] && strcmp(nl + 1, "0\n") != 0)
            (*nonempty)++;
        free(base);
        free(ix1);
        free(ix3);
        free(no3);
    }
}

Test(exec, plans_do_not_change_answers, .init = build_store, .fini = drop_store, .timeout = 600)
{
    colog_store_t *st;
    unsigned nonempty = 0;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0);
    /* Several parts a day first ... */
    int32_t *days;
    size_t nd, parts = 0;
    cr_assert_eq(colog_store_days(st, &days, &nd), 0);
    for (size_t i = 0; i < nd; i++) {
        colog_snap_t *s;
        cr_assert_eq(colog_snap_day(st, days[i], 0, &s), 0);
        parts += colog_snap_nparts(s);
        colog_snap_free(s);
    }
    cr_assert_gt(parts, nd, "the test needs days with several parts");
    check_all(st, &nonempty);
    /* ... then one part a day. */
    for (size_t i = 0; i < nd; i++) {
        bool merged;
        cr_assert_eq(colog_store_merge_day(st, days[i], 0, &merged), 0, "%s", colog_errmsg());
    }
    free(days);
    check_all(st, &nonempty);
    /* Guard against vacuous agreement (everything empty). */
    cr_assert_gt(nonempty, 2 * 30, "only %u non-empty results", nonempty);
    colog_store_close(st);
}

Test(exec, explain_reports_index_use, .init = build_store, .fini = drop_store)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0);
    colog_tz_t *tz;
    colog_query_t *q;
    colog_qerr_t err;
    cr_assert_eq(colog_tz_open(NULL, &tz), 0);
    cr_assert_eq(colog_query_parse("where src_ip = 10.1.2.3 | stats count()",
                                   colog_store_schema(st), tz, 0, &q, &err),
                 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    colog_run_opts_t o = {.format = COLOG_OUT_CSV, .out = out, .threads = 2, .explain = true};
    cr_assert_eq(colog_query_run(q, st, &o), 0);
    fclose(out);
    /* A point count is answered from bitmaps: no column block is decoded. */
    cr_expect_not_null(strstr(buf, "indexed columns used: src_ip"), "%s", buf);
    cr_expect_not_null(strstr(buf, "column blocks decoded: none"), "%s", buf);
    cr_expect_null(strstr(buf, "\n    0 answered from bitmaps alone"), "%s", buf);
    free(buf);
    buf = NULL;
    out = open_memstream(&buf, &len);
    o.out = out;
    o.no_index = true;
    cr_assert_eq(colog_query_run(q, st, &o), 0);
    fclose(out);
    cr_expect_not_null(strstr(buf, "disabled (--no-index)"), "%s", buf);
    cr_expect_not_null(strstr(buf, "src_ip="), "without indexes the column is read: %s", buf);
    free(buf);
    colog_query_free(q);
    colog_tz_free(tz);
    colog_store_close(st);
}

/* Past its memory bound a many-group query fails with a clear error (it is not
 * killed), and the same query fits under the default bound. */
Test(exec, memory_bound_is_a_clear_error, .init = build_store, .fini = drop_store)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0);
    colog_tz_t *tz;
    colog_query_t *q;
    colog_qerr_t err;
    cr_assert_eq(colog_tz_open(NULL, &tz), 0);
    cr_assert_eq(colog_query_parse("stats dcount(dst_port) by src_ip, dst_ip, src_port",
                                   colog_store_schema(st), tz, 0, &q, &err),
                 0);
    FILE *out = fopen("/dev/null", "w");
    colog_run_opts_t o = {.format = COLOG_OUT_CSV, .out = out, .threads = 1, .mem_mb = 4};
    int rc = colog_query_run(q, st, &o);
    cr_expect_eq(rc, COLOG_ELIMIT, "rc %d: %s", rc, colog_errmsg());
    cr_expect_not_null(strstr(colog_errmsg(), "need more than 4 MB"), "%s", colog_errmsg());
    o.mem_mb = 0;
    o.threads = 2;
    cr_expect_eq(colog_query_run(q, st, &o), 0, "%s", colog_errmsg());
    fclose(out);
    colog_query_free(q);
    colog_tz_free(tz);
    colog_store_close(st);
}

/* bin(ts, N) around New York's clock changes of 2026 (back at 2026-11-01T06:00Z,
 * forward at 2026-03-08T07:00Z). Hand-computed: a bucket starts at the latest
 * instant at which the wall clock read its start, so the repeated 01:00 hour is
 * a bucket of its own, a 1d bucket is the whole local day, and a bucket whose
 * start was skipped begins at the change. */
static void build_dst_store(void)
{
    colog_store_t *st = new_store();
    static const char csv[] = "ts,dst_port\n"
                              "2026-11-01T04:10:00Z,1\n"  /* 00:10 EDT */
                              "2026-11-01T05:30:00Z,2\n"  /* 01:30 EDT */
                              "2026-11-01T06:30:00Z,3\n"  /* 01:30 EST, the hour again */
                              "2026-11-01T06:10:00Z,9\n"  /* 01:10 EST */
                              "2026-11-01T06:45:00Z,4\n"  /* 01:45 EST */
                              "2026-11-02T01:00:00Z,5\n"  /* 2026-11-01 20:00 EST */
                              "2026-03-08T06:30:00Z,6\n"  /* 01:30 EST */
                              "2026-03-08T07:01:00Z,7\n"  /* 03:01 EDT */
                              "2026-03-08T07:30:00Z,8\n"; /* 03:30 EDT */
    colog_ingest_opts_t o = {0};
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0, "%s", colog_errmsg());
    FILE *f = fmemopen((void *)csv, sizeof csv - 1, "r");
    cr_assert_not_null(f);
    cr_assert_eq(colog_ingest_file(ing, f, "dst.csv", COLOG_IN_CSV), 0, "%s", colog_errmsg());
    fclose(f);
    colog_ingest_stats_t s;
    cr_assert_eq(colog_ingest_finish(ing, &s), 0, "%s", colog_errmsg());
    cr_assert_eq(s.rows_ok, 9);
    colog_store_close(st);
}

Test(exec, bin_across_clock_changes, .init = build_dst_store, .fini = drop_store)
{
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"range 2026-11-01T00:00:00Z .. 2026-11-03T00:00:00Z | stats count() by bin(ts, 1h) | "
         "sort bin",
         "bin,count\n2026-11-01T00:00:00-04:00,1\n2026-11-01T01:00:00-04:00,1\n"
         "2026-11-01T01:00:00-05:00,3\n2026-11-01T20:00:00-05:00,1\n"},
        {"range 2026-11-01T00:00:00Z .. 2026-11-03T00:00:00Z | stats count() by bin(ts, 1d)",
         "bin,count\n2026-11-01T00:00:00-04:00,6\n"},
        {"range 2026-11-01T00:00:00Z .. 2026-11-03T00:00:00Z | stats count() by bin(ts, 2h) | "
         "sort bin",
         "bin,count\n2026-11-01T00:00:00-04:00,5\n2026-11-01T20:00:00-05:00,1\n"},
        {"range 2026-03-08T00:00:00Z .. 2026-03-09T00:00:00Z | stats count() by bin(ts, 2h) | "
         "sort bin",
         "bin,count\n2026-03-08T00:00:00-05:00,1\n2026-03-08T03:00:00-04:00,2\n"},
        {"range 2026-03-08T00:00:00Z .. 2026-03-09T00:00:00Z | stats count() by bin(ts, 1d)",
         "bin,count\n2026-03-08T00:00:00-05:00,3\n"},
        {"range 2026-03-08T00:00:00Z .. 2026-03-09T00:00:00Z | stats count() by bin(ts, 30m) | "
         "sort bin",
         "bin,count\n2026-03-08T01:30:00-05:00,1\n2026-03-08T03:00:00-04:00,1\n"
         "2026-03-08T03:30:00-04:00,1\n"},
        /* 90m > the hour set back: the bucket of 01:30 EDT runs on through the
         * change until the clock next reads a multiple of 90 minutes, 01:30 EST */
        {"range 2026-11-01T00:00:00Z .. 2026-11-03T00:00:00Z | stats count() by bin(ts, 90m) | "
         "sort bin",
         "bin,count\n2026-11-01T00:00:00-04:00,1\n2026-11-01T01:30:00-04:00,2\n"
         "2026-11-01T01:30:00-05:00,2\n2026-11-01T19:30:00-05:00,1\n"},
    };
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (unsigned threads = 1; threads <= 3; threads += 2) {
            char *got = run(st, cases[i].q, threads > 1, threads);
            cr_assert_str_eq(got, cases[i].want, "%s (%u threads)", cases[i].q, threads);
            free(got);
        }
    }
    colog_store_close(st);
}

/* colog_query_run refuses a query parsed against another schema (its column
 * numbers and types would be applied to the wrong columns), an unknown output
 * format and an absurd memory bound; a query parsed without a zone runs in UTC. */
Test(exec, run_validates_its_input, .init = build_dst_store, .fini = drop_store)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    colog_query_t *q;
    colog_qerr_t err;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    colog_run_opts_t o = {.format = COLOG_OUT_CSV, .out = out, .threads = 1};
    cr_assert_eq(colog_query_parse("where method contains \"GET\" | stats count()",
                                   colog_schema_builtin("web"), NULL, 0, &q, &err),
                 0, "%s", err.msg);
    cr_assert_eq(colog_query_run(q, st, &o), COLOG_ESCHEMA);
    cr_assert(strstr(colog_errmsg(), "schema 'web'") != NULL, "%s", colog_errmsg());
    colog_query_free(q);

    cr_assert_eq(colog_query_parse("stats count() by bin(ts, 1d)", colog_store_schema(st), NULL, 0,
                                   &q, &err),
                 0, "%s", err.msg);
    o.format = (colog_outfmt_t)9;
    cr_assert_eq(colog_query_run(q, st, &o), COLOG_EINVAL);
    o.format = COLOG_OUT_CSV;
    o.mem_mb = SIZE_MAX;
    cr_assert_eq(colog_query_run(q, st, &o), COLOG_EINVAL);
    o.mem_mb = 0;
    cr_assert_eq(colog_query_run(q, st, &o), 0, "%s", colog_errmsg());
    colog_query_free(q);
    fclose(out);
    cr_assert_str_eq(buf, "bin,count\n2026-03-08T00:00:00Z,3\n2026-11-01T00:00:00Z,5\n"
                          "2026-11-02T00:00:00Z,1\n");
    free(buf);
    colog_store_close(st);
}
