/*
 * test_ingest.c — ingest into a real store (colog_store_create, COLOG_OPEN_WRITE)
 * and read every row back through the reader API (colog_snap_day,
 * colog_part_read, colog_part_dict): values, absent values, time order, one
 * part per day per flush, automatic merges, rejects and stats.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colog_ingest_int.h"

/* 2026-03-01T00:00:00Z */
#define T0 1772323200000000LL
#define DAY0 20513

static char dir[256];
static const char *SCHEMA = "ts time\n"
                            "host string\n"
                            "src ip indexed\n"
                            "port u16 indexed\n"
                            "bytes u64\n"
                            "delta i64\n"
                            "ratio f64\n";

static void make_store(const char *path)
{
    colog_schema_t s;
    cr_assert_eq(colog_schema_parse(SCHEMA, strlen(SCHEMA), "test", &s), 0, "%s", colog_errmsg());
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(path, &s, &c), 0, "%s", colog_errmsg());
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/colog-test-ingest-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    strcat(dir, "/s");
    make_store(dir);
}

static void teardown(void)
{
    char cmd[300];
    *strrchr(dir, '/') = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

typedef struct rejects {
    unsigned n;
    char first[256];
} rejects_t;

static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *reason)
{
    rejects_t *rj = ctx;
    if (rj->n++ == 0)
        snprintf(rj->first, sizeof rj->first, "%s:%llu:%llu: %s", src, (unsigned long long)line,
                 (unsigned long long)col, reason);
}

/* Ingest text in fmt into the store at path; returns the stats. */
static colog_ingest_stats_t ingest_at(const char *path, const char *text, colog_infmt_t fmt,
                                      size_t batch_rows, bool no_merge, rejects_t *rj)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, path, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_ingest_opts_t o = {.batch_rows = batch_rows,
                             .now_us = T0 + 3600000000LL,
                             .reject = on_reject,
                             .reject_ctx = rj,
                             .no_auto_merge = no_merge};
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0, "%s", colog_errmsg());
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    cr_assert_eq(colog_ingest_file(ing, f, "in", fmt), 0, "%s", colog_errmsg());
    fclose(f);
    colog_ingest_stats_t stats;
    cr_assert_eq(colog_ingest_finish(ing, &stats), 0, "%s", colog_errmsg());
    colog_store_close(st);
    return stats;
}

static colog_ingest_stats_t ingest(const char *text, colog_infmt_t fmt, size_t batch_rows,
                                   bool no_merge, rejects_t *rj)
{
    return ingest_at(dir, text, fmt, batch_rows, no_merge, rj);
}

/* One row read back, all columns as text ("-" = absent). */
typedef struct row {
    int64_t ts;
    char text[160];
} row_t;

static int cmp_row(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return strcmp(x->text, y->text);
}

/* Every row of a day, over all its live parts, sorted by (ts, text). Checks
 * that each part is in time order. */
static row_t *read_day_at(const char *path, int32_t day, size_t *nrows, size_t *nparts)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, path, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    const colog_schema_t *s = colog_store_schema(st);
    colog_snap_t *snap;
    cr_assert_eq(colog_snap_day(st, day, ~0ull, &snap), 0, "%s", colog_errmsg());
    size_t cap = 1024, n = 0;
    row_t *rows = malloc(cap * sizeof *rows);
    *nparts = colog_snap_nparts(snap);
    for (size_t k = 0; k < *nparts; k++) {
        colog_part_t *p = colog_snap_part(snap, k);
        uint64_t pr = colog_part_rows(p);
        if (n + pr > cap) {
            cap = (n + pr) * 2;
            rows = realloc(rows, cap * sizeof *rows);
        }
        for (uint64_t i = 0; i < pr; i++)
            rows[n + i].text[0] = 0;
        for (unsigned c = 0; c < s->ncols; c++) {
            const colog_dictview_t *dv = NULL;
            if (colog_type_is_dict(s->cols[c].type))
                cr_assert_eq(colog_part_dict(p, c, &dv), 0, "%s", colog_errmsg());
            uint64_t i = 0;
            for (uint32_t b = 0; b < colog_part_nblocks(p); b++) {
                colog_block_t blk;
                cr_assert_eq(colog_part_read(p, c, b, &blk), 0, "%s", colog_errmsg());
                for (uint32_t j = 0; j < blk.n; j++, i++) {
                    row_t *r = &rows[n + i];
                    char v[64] = "-";
                    if (colog_valid(blk.valid, j)) {
                        switch (blk.type) {
                        case COLOG_T_TIME:
                            r->ts = blk.v.i64[j];
                            if (i > 0)
                                cr_assert_geq(r->ts, rows[n + i - 1].ts, "part not in time order");
                            snprintf(v, sizeof v, "%lld", (long long)blk.v.i64[j]);
                            break;
                        case COLOG_T_I64:
                            snprintf(v, sizeof v, "%lld", (long long)blk.v.i64[j]);
                            break;
                        case COLOG_T_U8:
                        case COLOG_T_U16:
                        case COLOG_T_U32:
                        case COLOG_T_U64:
                            snprintf(v, sizeof v, "%llu", (unsigned long long)blk.v.u64[j]);
                            break;
                        case COLOG_T_F64:
                            snprintf(v, sizeof v, "%g", blk.v.f64[j]);
                            break;
                        case COLOG_T_IP:
                            cr_assert_lt(blk.v.code[j], dv->n);
                            colog_ip_format(&dv->ips[blk.v.code[j]], v, sizeof v);
                            break;
                        case COLOG_T_STRING: {
                            uint32_t cd = blk.v.code[j];
                            cr_assert_lt(cd, dv->n);
                            snprintf(v, sizeof v, "%.*s", (int)(dv->offs[cd + 1] - dv->offs[cd]),
                                     dv->bytes + dv->offs[cd]);
                            break;
                        }
                        }
                    }
                    size_t o = strlen(r->text);
                    snprintf(r->text + o, sizeof r->text - o, "%s%s", c ? "," : "", v);
                }
            }
            cr_assert_eq(i, pr, "column %u has %llu rows, part %llu", c, (unsigned long long)i,
                         (unsigned long long)pr);
        }
        n += pr;
    }
    colog_snap_free(snap);
    colog_store_close(st);
    qsort(rows, n, sizeof *rows, cmp_row);
    *nrows = n;
    return rows;
}

static row_t *read_day(int32_t day, size_t *nrows, size_t *nparts)
{
    return read_day_at(dir, day, nrows, nparts);
}

static void store_days_at(const char *path, int32_t *out, size_t *n)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, path, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    int32_t *days;
    cr_assert_eq(colog_store_days(st, &days, n), 0, "%s", colog_errmsg());
    memcpy(out, days, *n * sizeof *days);
    free(days);
    colog_store_close(st);
}

static void store_days(int32_t *out, size_t *n)
{
    store_days_at(dir, out, n);
}

Test(ingest_store, csv_rows_come_back, .init = setup, .fini = teardown)
{
    const char *in = "ratio,ts,src,host,port,bytes,delta\n"
                     "0.5,2026-03-01T00:00:02Z,10.0.0.2,web1,443,100,-1\n"
                     "1.5,2026-02-28T23:59:59Z,2001:db8::1,web2,80,,\n"
                     ",2026-03-01T00:00:01Z,,web1,,18446744073709551615,9\n"
                     "2,2026-03-01T00:00:01Z,10.0.0.1,\"db,1\",22,5,0\n"
                     "x,2026-03-01T00:00:03Z,10.0.0.1,bad,1,1,1\n"
                     "3,2026-03-01T00:00:04Z,10.0.0.1,bad,70000,1,1\n";
    rejects_t rj = {0};
    colog_ingest_stats_t stats = ingest(in, COLOG_IN_CSV, 0, false, &rj);
    cr_assert_eq(stats.rows_read, 6);
    cr_assert_eq(stats.rows_ok, 4);
    cr_assert_eq(stats.rows_rejected, 2);
    cr_assert_eq(stats.parts_written, 2);
    cr_assert_str_eq(rj.first, "in:6:1: ratio: 'x' is not a valid f64");

    int32_t days[8];
    size_t nd;
    store_days(days, &nd);
    cr_assert_eq(nd, 2);
    cr_assert_eq(days[0], DAY0 - 1);
    cr_assert_eq(days[1], DAY0);

    size_t n, np;
    row_t *r = read_day(DAY0, &n, &np);
    cr_assert_eq(n, 3);
    cr_assert_eq(np, 1);
    cr_assert_str_eq(r[0].text, "1772323201000000,db,1,10.0.0.1,22,5,0,2");
    cr_assert_str_eq(r[1].text, "1772323201000000,web1,-,-,18446744073709551615,9,-");
    cr_assert_str_eq(r[2].text, "1772323202000000,web1,10.0.0.2,443,100,-1,0.5");
    free(r);
    r = read_day(DAY0 - 1, &n, &np);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(r[0].text, "1772323199000000,web2,2001:db8::1,80,-,-,1.5");
    free(r);
}

Test(ingest_store, ndjson_rows_come_back, .init = setup, .fini = teardown)
{
    const char *in =
        "{\"ts\":1772323205,\"host\":\"a\",\"src\":\"::ffff:10.1.2.3\",\"port\":\"8080\"}\n"
        "{\"ts\":\"2026-03-01T00:00:01.5Z\",\"ratio\":0.25,\"delta\":-42,\"bytes\":7}\n"
        "{\"ts\":1772323206,\"port\":true}\n";
    rejects_t rj = {0};
    colog_ingest_stats_t stats = ingest(in, COLOG_IN_NDJSON, 0, false, &rj);
    cr_assert_eq(stats.rows_ok, 2);
    cr_assert_eq(stats.rows_rejected, 1);
    cr_assert_str_eq(rj.first, "in:3:25: port: JSON true is not a valid u16");
    size_t n, np;
    row_t *r = read_day(DAY0, &n, &np);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(r[0].text, "1772323201500000,-,-,-,7,-42,0.25");
    cr_assert_str_eq(r[1].text, "1772323205000000,a,10.1.2.3,8080,-,-,-");
    free(r);
}

/* CSV of n rows of day 2026-03-01, in reverse time order, host h<i%13>. */
static char *many_rows(unsigned n)
{
    char *s = malloc((size_t)n * 64 + 64), *p = s;
    p += sprintf(p, "ts,host,src,port,bytes\n");
    for (unsigned i = n; i-- > 0;)
        p += sprintf(p, "%lld.%06u,h%u,10.0.%u.%u,%u,%u\n", (long long)(T0 / 1000000) + i / 10,
                     (i % 10) * 100000, i % 13, (i / 256) % 256, i % 256, i % 65536, i);
    return s;
}

Test(ingest_store, auto_merge_keeps_every_row_once, .init = setup, .fini = teardown)
{
    char *in = many_rows(600);
    rejects_t rj = {0};
    colog_ingest_stats_t stats = ingest(in, COLOG_IN_CSV, 100, false, &rj);
    free(in);
    cr_assert_eq(rj.n, 0, "%s", rj.first);
    cr_assert_eq(stats.parts_written, 6);
    size_t n, np;
    row_t *r = read_day(DAY0, &n, &np);
    cr_assert_eq(n, 600);
    cr_assert_leq(np, COLOG_AUTO_MERGE_PARTS, "%zu parts", np);
    for (unsigned i = 0; i < 600; i++) {
        char want[160];
        snprintf(want, sizeof want, "%lld,h%u,10.0.%u.%u,%u,%u,-,-",
                 (long long)(T0 + (int64_t)(i / 10) * 1000000 + (i % 10) * 100000), i % 13,
                 (i / 256) % 256, i % 256, i % 65536, i);
        cr_assert_str_eq(r[i].text, want);
    }
    free(r);
}

Test(ingest_store, no_auto_merge_and_multi_block, .init = setup, .fini = teardown)
{
    char *in = many_rows(140000);
    rejects_t rj = {0};
    colog_ingest_stats_t stats = ingest(in, COLOG_IN_CSV, 70000, true, &rj);
    free(in);
    cr_assert_eq(stats.parts_written, 2);
    size_t n, np;
    row_t *r = read_day(DAY0, &n, &np);
    cr_assert_eq(n, 140000);
    cr_assert_eq(np, 2);
    char want[160];
    snprintf(want, sizeof want, "%lld,h%u,10.0.%u.%u,%u,%u,-,-",
             (long long)(T0 + 13999LL * 1000000 + 900000), 139999u % 13, (139999u / 256) % 256,
             139999u % 256, 139999u % 65536, 139999u);
    cr_assert_str_eq(r[n - 1].text, want);
    free(r);
}

/* ---------------------------------------------------------------- pipeline */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* CSV of n rows over the 3 days up to 2026-03-01, in random order, with equal
 * times, absent values, IPv4 and IPv6, and a bad row at every 11th line. */
static char *mixed_rows(unsigned n)
{
    char *s = malloc((size_t)n * 128 + 64), *p = s;
    p += sprintf(p, "ts,host,src,port,bytes,delta,ratio\n");
    for (unsigned i = 0; i < n; i++) {
        long long t = (long long)(T0 / 1000000) - 2 * 86400 + (long long)rnd(3 * 8640) * 10;
        char src[48] = "", host[16] = "", port[16] = "";
        unsigned k = rnd(10);
        if (k < 6)
            sprintf(src, "10.%u.%u.%u", rnd(3), rnd(256), rnd(256));
        else if (k < 8)
            sprintf(src, "2001:db8::%x", rnd(3000));
        if (rnd(6))
            sprintf(host, "h%u", rnd(40));
        sprintf(port, "%u", (i + 2) % 11 == 0 ? 99999 : rnd(65536));
        p += sprintf(p, "%lld.%03u,%s,%s,%s,%u,%d,%s\n", t, rnd(1000), host, src, port, rnd(1000),
                     (int)rnd(100) - 50, rnd(3) ? "0.25" : "");
    }
    return s;
}

Test(ingest_store, small_batches_store_the_same_rows, .init = setup, .fini = teardown)
{
    /* Batches of 7 and 1000 rows go through the pipeline many times (and through
     * the backlog merges); the stored rows are those of one big batch. */
    const unsigned N = 420; /* ~180 parts at 7 rows a batch: each commit fsyncs */
    char *in = mixed_rows(N);
    char d7[300], d1000[300];
    snprintf(d7, sizeof d7, "%s7", dir);
    snprintf(d1000, sizeof d1000, "%s1000", dir);
    make_store(d7);
    make_store(d1000);
    rejects_t rbig = {0}, r7 = {0}, r1000 = {0};
    colog_ingest_stats_t big = ingest(in, COLOG_IN_CSV, 0, false, &rbig);
    colog_ingest_stats_t s7 = ingest_at(d7, in, COLOG_IN_CSV, 7, false, &r7);
    colog_ingest_stats_t s1000 = ingest_at(d1000, in, COLOG_IN_CSV, 1000, false, &r1000);
    free(in);
    unsigned bad = 0;
    for (unsigned line = 2; line < N + 2; line++)
        bad += line % 11 == 0;
    cr_assert_eq(big.rows_rejected, bad);
    cr_assert_eq(big.rows_ok, N - bad);
    cr_assert_eq(big.parts_written, 3);
    cr_assert(strncmp(rbig.first, "in:11:", 6) == 0 &&
                  strstr(rbig.first, ": port: 99999 out of range for u16") != NULL,
              "%s", rbig.first);
    const colog_ingest_stats_t *ss[] = {&s7, &s1000};
    const rejects_t *rr[] = {&r7, &r1000};
    for (unsigned k = 0; k < 2; k++) {
        cr_assert_eq(ss[k]->rows_read, big.rows_read);
        cr_assert_eq(ss[k]->rows_ok, big.rows_ok);
        cr_assert_eq(ss[k]->rows_rejected, big.rows_rejected);
        cr_assert_eq(rr[k]->n, rbig.n);
        cr_assert_str_eq(rr[k]->first, rbig.first);
    }
    cr_assert_gt(s7.parts_written, (N - bad) / 7);
    int32_t days[8], days7[8];
    size_t nd, nd7;
    store_days(days, &nd);
    cr_assert_eq(nd, 3);
    const char *paths[] = {d7, d1000};
    for (unsigned k = 0; k < 2; k++) {
        store_days_at(paths[k], days7, &nd7);
        cr_assert_eq(nd7, nd);
        for (size_t d = 0; d < nd; d++) {
            size_t n, np, n7, np7;
            row_t *a = read_day(days[d], &n, &np);
            row_t *b = read_day_at(paths[k], days[d], &n7, &np7);
            cr_assert_eq(days7[d], days[d]);
            cr_assert_eq(np, 1);
            cr_assert_leq(np7, COLOG_AUTO_MERGE_PARTS, "merged at the end");
            cr_assert_eq(n7, n, "day %d: %zu rows, want %zu", days[d], n7, n);
            for (size_t i = 0; i < n; i++)
                cr_assert_str_eq(b[i].text, a[i].text, "store %s day %d row %zu", paths[k], days[d],
                                 i);
            free(a);
            free(b);
        }
    }
}

Test(ingest_store, part_write_failure_in_the_writer, .init = setup, .fini = teardown)
{
    /* The day directory of 2026-03-01 is a file: the writer thread fails to
     * write that day's part; the caller gets the error with its message, and the
     * session stays dead. */
    char path[300], want[400];
    snprintf(path, sizeof path, "%s/hot/2026-03-01", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(want, sizeof want, "%s/hot/2026-03-01: %s", dir, strerror(ENOTDIR));

    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    rejects_t rj = {0};
    colog_ingest_opts_t o = {
        .batch_rows = 5, .now_us = T0 + 3600000000LL, .reject = on_reject, .reject_ctx = &rj};
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0, "%s", colog_errmsg());
    char *in = many_rows(600); /* 2026-03-01, newest first */
    f = fmemopen(in, strlen(in), "r");
    colog_seterr(0, "stale");
    cr_assert_eq(colog_ingest_file(ing, f, "in", COLOG_IN_CSV), -ENOTDIR);
    cr_assert_str_eq(colog_errmsg(), want);
    fclose(f);
    colog_seterr(0, "stale");
    cr_assert_eq(colog_ingest_flush(ing), -ENOTDIR);
    cr_assert_str_eq(colog_errmsg(), want);
    f = fmemopen(in, strlen(in), "r");
    colog_seterr(0, "stale");
    cr_assert_eq(colog_ingest_file(ing, f, "in", COLOG_IN_CSV), -ENOTDIR);
    cr_assert_str_eq(colog_errmsg(), want);
    fclose(f);
    colog_ingest_stats_t stats;
    colog_seterr(0, "stale");
    cr_assert_eq(colog_ingest_finish(ing, &stats), -ENOTDIR);
    cr_assert_str_eq(colog_errmsg(), want);
    cr_assert_eq(stats.parts_written, 0);
    cr_assert_lt(stats.rows_read, 600, "the reader stopped at the failure");
    colog_store_close(st);
    free(in);
}
