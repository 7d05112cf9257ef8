/*
 * test_archive.c — day archives (colog_archive.c): archive a day of a real store
 * (colog_store_create, COLOG_OPEN_WRITE, CSV ingest), check the tar layout with
 * tar(1), verify it, remove the day and restore it (rows and values identical,
 * restoring twice adds nothing), and damage archives in every member kind:
 * verify names the problem and restore refuses, leaving the store as it was.
 *
 * With COLOG_WRITE_FUZZ_SEEDS=1 in the environment, the seeds test also writes
 * tests/fuzz/corpus/archive/ (small archives of this store).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_store_int.h"

/* 2026-03-01T00:00:00Z */
#define T0_S 1772323200LL
#define DAY0 20513
#define NDAYS 3

static char dir[256];   /* temp root */
static char store[300]; /* dir/s */
static const char *SCHEMA = "ts time\n"
                            "host string\n"
                            "src ip indexed\n"
                            "port u16 indexed\n"
                            "bytes u64\n";

/* Rows generated per day (index: day - first day). */
static uint64_t nrows_day[NDAYS];
static int32_t first_day;

static void make_store_at(const char *path, const char *schema)
{
    colog_schema_t s;
    cr_assert_eq(colog_schema_parse(schema, strlen(schema), "test", &s), 0, "%s", colog_errmsg());
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(path, &s, &c), 0, "%s", colog_errmsg());
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* CSV of n rows spread over NDAYS days from day0; counts them per day. */
static char *gen_csv(int32_t day0, unsigned n)
{
    size_t cap = 64 + (size_t)n * 80, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t, cap, "ts,host,src,port,bytes\n");
    for (unsigned i = 0; i < n; i++) {
        uint64_t r = next_rand();
        unsigned d = (unsigned)(r % NDAYS);
        long long ts = (long long)(day0 + (int32_t)d) * 86400 + (long long)((r >> 8) % 86400);
        nrows_day[d]++;
        len += (size_t)snprintf(t + len, cap - len, "%lld,h%u,10.0.%u.%u,%u,%llu\n", ts,
                                (unsigned)(r >> 20) % 7, (unsigned)(r >> 24) % 4,
                                (unsigned)(r >> 28) % 250, (unsigned)(r >> 36) % 1024,
                                (unsigned long long)(r >> 40));
    }
    return t;
}

static void ingest_text(const char *path, const char *text, int64_t now_us)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, path, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_ingest_opts_t o = {.now_us = now_us, .no_auto_merge = true};
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0, "%s", colog_errmsg());
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f);
    cr_assert_eq(colog_ingest_file(ing, f, "in", COLOG_IN_CSV), 0, "%s", colog_errmsg());
    fclose(f);
    colog_ingest_stats_t stats;
    cr_assert_eq(colog_ingest_finish(ing, &stats), 0, "%s", colog_errmsg());
    cr_assert_eq(stats.rows_rejected, 0);
    colog_store_close(st);
}

/* A store with two ingests (two parts a day) over NDAYS days from day0. */
static void setup_days(int32_t day0, unsigned per_ingest)
{
    snprintf(dir, sizeof dir, "/tmp/colog-test-archive-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(store, sizeof store, "%s/s", dir);
    make_store_at(store, SCHEMA);
    first_day = day0;
    memset(nrows_day, 0, sizeof nrows_day);
    int64_t now = ((int64_t)(day0 + NDAYS) * 86400 + 3600) * 1000000;
    if (now < colog__now_us())
        now = 0; /* past days: the wall clock is fine */
    for (int k = 0; k < 2; k++) {
        char *t = gen_csv(day0, per_ingest);
        ingest_text(store, t, now);
        free(t);
    }
}

static void setup(void)
{
    setup_days(DAY0, 250);
}

/* Days of recent data (relative to the wall clock): restored to hot. */
static void setup_recent(void)
{
    setup_days(colog_day_of(colog__now_us()) - NDAYS, 120);
}

static colog_store_t *open_w(void)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, store, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    return st;
}

/* Every row of a day as text, sorted; *nparts = live parts. */
typedef struct rows {
    char (*r)[96];
    size_t n, nparts;
    colog_tier_t tier[16];
} rows_t;

static int cmp_row(const void *a, const void *b)
{
    return strcmp(a, b);
}

static rows_t day_rows(int32_t day)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, store, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    const colog_schema_t *s = colog_store_schema(st);
    colog_snap_t *snap;
    rows_t out = {0};
    int rc = colog_snap_day(st, day, ~0ull, &snap);
    if (rc == -ENOENT) {
        colog_store_close(st);
        return out;
    }
    cr_assert_eq(rc, 0, "%s", colog_errmsg());
    out.nparts = colog_snap_nparts(snap);
    size_t cap = 0;
    for (size_t k = 0; k < out.nparts; k++)
        cap += colog_part_rows(colog_snap_part(snap, k));
    out.r = calloc(cap ? cap : 1, sizeof *out.r);
    for (size_t k = 0; k < out.nparts; k++) {
        colog_part_t *p = colog_snap_part(snap, k);
        if (k < 16)
            out.tier[k] = colog_part_tier(p);
        for (unsigned c = 0; c < s->ncols; c++) {
            const colog_dictview_t *dv = NULL;
            if (colog_type_is_dict(s->cols[c].type))
                cr_assert_eq(colog_part_dict(p, c, &dv), 0, "%s", colog_errmsg());
            size_t i = out.n;
            for (uint32_t b = 0; b < colog_part_nblocks(p); b++) {
                colog_block_t blk;
                cr_assert_eq(colog_part_read(p, c, b, &blk), 0, "%s", colog_errmsg());
                for (uint32_t j = 0; j < blk.n; j++, i++) {
                    char v[64];
                    switch (blk.type) {
                    case COLOG_T_TIME:
                        snprintf(v, sizeof v, "%lld", (long long)blk.v.i64[j]);
                        break;
                    case COLOG_T_STRING:
                        snprintf(v, sizeof v, "%.*s",
                                 (int)(dv->offs[blk.v.code[j] + 1] - dv->offs[blk.v.code[j]]),
                                 dv->bytes + dv->offs[blk.v.code[j]]);
                        break;
                    case COLOG_T_IP:
                        colog_ip_format(&dv->ips[blk.v.code[j]], v, sizeof v);
                        break;
                    case COLOG_T_U8:
                    case COLOG_T_U16:
                    case COLOG_T_U32:
                    case COLOG_T_U64:
                        snprintf(v, sizeof v, "%llu", (unsigned long long)blk.v.u64[j]);
                        break;
                    case COLOG_T_I64:
                    case COLOG_T_F64:
                        cr_assert_fail("no such column");
                    }
                    size_t o = strlen(out.r[i]);
                    snprintf(out.r[i] + o, sizeof out.r[i] - o, "%s%s", c ? "," : "", v);
                }
            }
            cr_assert_eq(i, out.n + colog_part_rows(p));
        }
        out.n += colog_part_rows(p);
    }
    colog_snap_free(snap);
    colog_store_close(st);
    qsort(out.r, out.n, sizeof *out.r, cmp_row);
    return out;
}

static void rows_eq(const rows_t *a, const rows_t *b)
{
    cr_assert_eq(a->n, b->n, "%zu rows vs %zu", a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        cr_assert_str_eq(a->r[i], b->r[i]);
}

static size_t store_days(int32_t *out)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, store, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    int32_t *days;
    size_t n;
    cr_assert_eq(colog_store_days(st, &days, &n), 0, "%s", colog_errmsg());
    cr_assert_leq(n, 8);
    memcpy(out, days, n * sizeof *days);
    free(days);
    colog_store_close(st);
    return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Problems reported by verify. */
typedef struct probs {
    unsigned n;
    char text[8192];
} probs_t;

static void on_problem(void *ctx, const char *msg)
{
    probs_t *p = ctx;
    cr_assert_null(strchr(msg, '\n'));
    size_t o = strlen(p->text);
    snprintf(p->text + o, sizeof p->text - o, "%s\n", msg);
    p->n++;
}

static void archive_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static colog_archive_info_t archive(int32_t day, const char *name, bool remove)
{
    char path[400];
    archive_path(path, sizeof path, name);
    colog_store_t *st = open_w();
    colog_archive_info_t info;
    cr_assert_eq(colog_archive_day(st, day, path, remove, &info), 0, "%s", colog_errmsg());
    colog_store_close(st);
    return info;
}

/* ---------------------------------------------------------------- ustar members */

typedef struct tmember {
    char name[101];
    size_t data; /* offset of the data */
    size_t size;
} tmember_t;

static size_t tar_members(const uint8_t *b, size_t len, tmember_t *out, size_t cap)
{
    size_t off = 0, n = 0;
    while (off + 512 <= len && n < cap) {
        bool zero = true;
        for (size_t i = 0; i < 512 && zero; i++)
            zero = b[off + i] == 0;
        if (zero)
            break;
        char sz[13];
        memcpy(sz, b + off + 124, 12);
        sz[12] = 0;
        size_t size = (size_t)strtoull(sz, NULL, 8);
        cr_assert_neq(b[off + 156], 'x', "unexpected pax header");
        memcpy(out[n].name, b + off, 100);
        out[n].name[100] = 0;
        out[n].data = off + 512;
        out[n].size = size;
        n++;
        off += 512 + (size + 511) / 512 * 512;
    }
    return n;
}

static tmember_t find_member(const uint8_t *b, size_t len, const char *suffix)
{
    tmember_t m[256];
    size_t n = tar_members(b, len, m, 256);
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(m[i].name), s = strlen(suffix);
        if (a >= s && strcmp(m[i].name + a - s, suffix) == 0)
            return m[i];
    }
    cr_assert_fail("no member *%s", suffix);
    return m[0];
}

/* ---------------------------------------------------------------- tests */

Test(archive, layout_and_verify, .init = setup, .fini = teardown)
{
    int32_t d = DAY0 + 1;
    rows_t before = day_rows(d);
    cr_assert_eq(before.n, nrows_day[1]);
    cr_assert_eq(before.nparts, 2);
    colog_archive_info_t info = archive(d, "a.tar", false);
    cr_assert_eq(info.day, d);
    cr_assert_eq(info.rows, nrows_day[1]);
    cr_assert_eq(info.parts, 2);
    cr_assert_gt(info.files, 3);

    char path[400], cmd[1024], line[256];
    archive_path(path, sizeof path, "a.tar");
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq((uint64_t)sb.st_size, info.bytes);

    /* tar(1) reads it; the index comes first, the ledger second */
    snprintf(cmd, sizeof cmd, "tar -tf '%s'", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    unsigned n = 0, cols = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (n == 0)
            cr_assert_str_eq(line, "colog-archive");
        if (n == 1)
            cr_assert_str_eq(line, "ledger");
        if (n == 2)
            cr_assert(strlen(line) == 26 && line[0] == 'p' && strstr(line, "/manifest"), "%s",
                      line);
        cols += strstr(line, ".col") != NULL;
        n++;
    }
    cr_assert_eq(pclose(p), 0);
    cr_assert_eq(n, 1 + info.files);
    cr_assert_eq(cols, 2 * 5);

    /* the index as tar(1) extracts it */
    snprintf(cmd, sizeof cmd, "tar -xOf '%s' colog-archive", path);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(line, sizeof line, p));
    cr_assert_str_eq(line, "colog-archive 1\n");
    cr_assert_not_null(fgets(line, sizeof line, p));
    cr_assert_str_eq(line, "day 2026-03-02\n");
    bool rows_line = false;
    while (fgets(line, sizeof line, p)) {
        char want[64];
        snprintf(want, sizeof want, "rows %llu\n", (unsigned long long)nrows_day[1]);
        rows_line |= strcmp(line, want) == 0;
    }
    pclose(p);
    cr_assert(rows_line);

    probs_t pr = {0};
    colog_archive_info_t vi;
    cr_assert_eq(colog_archive_verify(path, on_problem, &pr, &vi), 0, "%s\n%s", colog_errmsg(),
                 pr.text);
    cr_assert_eq(pr.n, 0);
    cr_assert_eq(memcmp(&vi, &info, sizeof vi), 0);

    /* the store's ledger records it; the day is still there */
    size_t llen;
    snprintf(path, sizeof path, "%s/ledger", store);
    char *led = (char *)slurp(path, &llen);
    led[llen] = 0;
    char hex[65], want[200];
    colog__hex(info.sha256, 32, hex);
    snprintf(want, sizeof want, " archive day=2026-03-02 file=a.tar sha256=%s index=", hex);
    cr_assert_not_null(strstr(led, want), "%s", led);
    free(led);
    rows_t after = day_rows(d);
    rows_eq(&before, &after);
    free(before.r);
    free(after.r);

    /* an archive is never replaced */
    archive_path(path, sizeof path, "a.tar");
    colog_store_t *st = open_w();
    cr_assert_eq(colog_archive_day(st, d, path, false, NULL), COLOG_EEXIST);
    colog_store_close(st);
}

Test(archive, remove_then_restore, .init = setup, .fini = teardown)
{
    int32_t d = DAY0 + 1, days[8];
    rows_t r0 = day_rows(DAY0), r1 = day_rows(d), r2 = day_rows(DAY0 + 2);
    cr_assert_eq(r1.n, nrows_day[1]);
    colog_archive_info_t info = archive(d, "a.tar", true);
    cr_assert_eq(info.rows, nrows_day[1]);

    size_t nd = store_days(days);
    cr_assert_eq(nd, 2);
    cr_assert_eq(days[0], DAY0);
    cr_assert_eq(days[1], DAY0 + 2);
    rows_t x = day_rows(DAY0);
    rows_eq(&x, &r0);
    free(x.r);
    x = day_rows(DAY0 + 2);
    rows_eq(&x, &r2);
    free(x.r);

    char path[400];
    archive_path(path, sizeof path, "a.tar");
    colog_store_t *st = open_w();
    colog_archive_info_t ri;
    cr_assert_eq(colog_restore(st, path, &ri), 0, "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(ri.added, info.parts, "every part added");
    ri.added = 0;
    cr_assert_eq(memcmp(&ri, &info, sizeof ri), 0);
    cr_assert_eq(store_days(days), 3);
    rows_t back = day_rows(d);
    rows_eq(&back, &r1);
    cr_assert_eq(back.nparts, 2);
    /* 2026-03 is older than 90 days by now: the cold tier */
    int32_t today = colog_day_of(colog__now_us());
    colog_tier_t want = d + 1 + 90 <= today ? COLOG_TIER_COLD : COLOG_TIER_HOT;
    for (size_t k = 0; k < back.nparts; k++)
        cr_assert_eq(back.tier[k], want);
    free(back.r);

    /* twice: nothing more */
    st = open_w();
    cr_assert_eq(colog_restore(st, path, &ri), 0, "%s", colog_errmsg());
    cr_assert_eq(ri.added, 0, "nothing added the second time");
    colog_store_close(st);
    back = day_rows(d);
    rows_eq(&back, &r1);
    cr_assert_eq(back.nparts, 2);
    free(back.r);

    /* the ledger says where the parts came from */
    size_t llen;
    char lp[400];
    snprintf(lp, sizeof lp, "%s/ledger", store);
    char *led = (char *)slurp(lp, &llen);
    led[llen] = 0;
    char hex[65], w[128];
    colog__hex(info.sha256, 32, hex);
    snprintf(w, sizeof w, "archive=%s orig=", hex);
    unsigned nrest = 0;
    for (char *q = led; (q = strstr(q, " commit op=restore day=2026-03-02 ")) != NULL; q++) {
        char *eol = strchr(q, '\n');
        cr_assert(eol && memmem(q, (size_t)(eol - q), w, strlen(w)), "%.*s", 300, q);
        nrest++;
    }
    cr_assert_eq(nrest, 2);
    cr_assert_not_null(strstr(led, " delete day=2026-03-02 why=archive "));
    free(led);

    /* the restored day archives again, and that archive verifies */
    colog_archive_info_t again = archive(d, "b.tar", false);
    cr_assert_eq(again.rows, nrows_day[1]);
    char bpath[400];
    archive_path(bpath, sizeof bpath, "b.tar");
    probs_t pr = {0};
    cr_assert_eq(colog_archive_verify(bpath, on_problem, &pr, NULL), 0, "%s", pr.text);

    /* and the whole store verifies */
    colog_verify_opts_t vo = {0};
    colog_verify_stats_t vs;
    cr_assert_eq(colog_verify_store(store, &vo, &vs), 0, "%s", colog_errmsg());
    free(r0.r);
    free(r1.r);
    free(r2.r);
}

/* A legal hold keeps a day in the store: archive --remove is refused before any
 * file is written, the day stays whole, and a plain archive (a copy) still works.
 * Once the hold is removed the same --remove goes through. */
Test(archive, remove_refuses_a_held_day, .init = setup, .fini = teardown)
{
    int32_t d = DAY0 + 1, days[8];
    rows_t before = day_rows(d);
    char path[400];
    archive_path(path, sizeof path, "held.tar");
    colog_store_t *st = open_w();
    uint64_t hid;
    cr_assert_eq(colog_hold_add(st, d, d, "litigation", &hid), 0, "%s", colog_errmsg());
    colog_archive_info_t info;
    cr_assert_eq(colog_archive_day(st, d, path, true, &info), COLOG_EHELD);
    cr_assert_not_null(strstr(colog_errmsg(), "2026-03-02 is under a legal hold"), "%s",
                       colog_errmsg());
    struct stat sb;
    cr_assert_neq(stat(path, &sb), 0, "nothing written for a refused archive");
    /* the store's own removal path refuses too, whoever calls it */
    cr_assert_eq(colog__day_remove(st, d, "test", NULL), COLOG_EHELD);
    colog_store_close(st);
    cr_assert_eq(store_days(days), 3);
    rows_t x = day_rows(d);
    rows_eq(&x, &before);
    free(x.r);

    info = archive(d, "held.tar", false); /* a copy may be made */
    cr_assert_eq(info.rows, nrows_day[1]);
    cr_assert_eq(store_days(days), 3);

    st = open_w();
    cr_assert_eq(colog_hold_remove(st, hid, "closed"), 0, "%s", colog_errmsg());
    archive_path(path, sizeof path, "released.tar");
    cr_assert_eq(colog_archive_day(st, d, path, true, &info), 0, "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(store_days(days), 2);
    cr_assert_neq(days[0], d);
    cr_assert_neq(days[1], d);
    free(before.r);
}

Test(archive, restore_recent_day_goes_hot, .init = setup_recent, .fini = teardown)
{
    int32_t d = first_day + 1;
    rows_t r1 = day_rows(d);
    cr_assert_eq(r1.n, nrows_day[1]);
    archive(d, "a.tar", true);
    rows_t none = day_rows(d);
    cr_assert_eq(none.n, 0);
    char path[400];
    archive_path(path, sizeof path, "a.tar");
    colog_store_t *st = open_w();
    cr_assert_eq(colog_restore(st, path, NULL), 0, "%s", colog_errmsg());
    colog_store_close(st);
    rows_t back = day_rows(d);
    rows_eq(&back, &r1);
    for (size_t k = 0; k < back.nparts; k++)
        cr_assert_eq(back.tier[k], COLOG_TIER_HOT);
    free(back.r);
    free(r1.r);
    free(none.r);
}

Test(archive, restore_of_a_day_still_live_adds_nothing, .init = setup, .fini = teardown)
{
    int32_t d = DAY0 + 2;
    rows_t r = day_rows(d);
    archive(d, "a.tar", false);
    char path[400];
    archive_path(path, sizeof path, "a.tar");
    colog_store_t *st = open_w();
    cr_assert_eq(colog_restore(st, path, NULL), 0, "%s", colog_errmsg());
    colog_store_close(st);
    rows_t back = day_rows(d);
    rows_eq(&back, &r);
    cr_assert_eq(back.nparts, r.nparts);
    free(back.r);
    free(r.r);
}

Test(archive, errors, .init = setup, .fini = teardown)
{
    char path[400];
    archive_path(path, sizeof path, "none.tar");
    colog_store_t *st = open_w();
    cr_assert_eq(colog_archive_day(st, DAY0 + 10, path, false, NULL), COLOG_ENOTFOUND);
    cr_assert_not_null(strstr(colog_errmsg(), "no data for day 2026-03-11"), "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(access(path, F_OK), -1);

    cr_assert_eq(colog_store_open(&st, store, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_archive_day(st, DAY0, path, false, NULL), COLOG_EINVAL);
    cr_assert_eq(colog_restore(st, path, NULL), COLOG_EINVAL);
    colog_store_close(st);
    cr_assert_eq(access(path, F_OK), -1);

    /* missing directory: nothing left behind, the day stays */
    archive_path(path, sizeof path, "no/such/dir/a.tar");
    st = open_w();
    cr_assert_lt(colog_archive_day(st, DAY0, path, true, NULL), 0);
    colog_store_close(st);
    int32_t days[8];
    cr_assert_eq(store_days(days), 3);

    cr_assert_eq(colog_archive_verify("/nonexistent/x.tar", NULL, NULL, NULL), -ENOENT);
}

Test(archive, another_schema_is_refused, .init = setup, .fini = teardown)
{
    archive(DAY0, "a.tar", false);
    char other[400], path[400];
    snprintf(other, sizeof other, "%s/other", dir);
    make_store_at(other, "ts time\nhost string\n");
    archive_path(path, sizeof path, "a.tar");
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, other, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_restore(st, path, NULL), COLOG_ESCHEMA, "%s", colog_errmsg());
    int32_t *days;
    size_t n;
    cr_assert_eq(colog_store_days(st, &days, &n), 0);
    cr_assert_eq(n, 0);
    free(days);
    colog_store_close(st);
}

/* ---------------------------------------------------------------- damage */

typedef void (*damage_fn)(uint8_t *b, size_t *len);

/* Archive day 2 with remove, damage a copy, and check that verify reports
 * `expect` (each '|'-separated piece must appear) with code `code`, and that
 * restore refuses, leaving the store as it was. */
static void check_damage(damage_fn damage, int code, const char *expect)
{
    int32_t d = DAY0 + 1, days[8];
    archive(d, "a.tar", true);
    char good[400], bad[400];
    archive_path(good, sizeof good, "a.tar");
    archive_path(bad, sizeof bad, "bad.tar");
    size_t len;
    uint8_t *b = slurp(good, &len);
    damage(b, &len);
    spit(bad, b, len);
    free(b);

    probs_t pr = {0};
    colog_archive_info_t info;
    memset(&info, 0x5a, sizeof info);
    int rc = colog_archive_verify(bad, on_problem, &pr, &info);
    cr_assert_eq(rc, code, "%s: %s\n%s", colog_errname(rc), colog_errmsg(), pr.text);
    cr_assert_eq(info.day, (int32_t)0x5a5a5a5a, "info written on failure");
    if (code == COLOG_ECORRUPT)
        cr_assert_gt(pr.n, 0);
    else
        cr_assert_eq(pr.n, 0, "%s", pr.text);
    char ex[512];
    snprintf(ex, sizeof ex, "%s", expect);
    for (char *tok = strtok(ex, "|"); tok; tok = strtok(NULL, "|"))
        cr_assert_not_null(strstr(code == COLOG_ECORRUPT ? pr.text : colog_errmsg(), tok),
                           "'%s' not in:\n%s%s", tok, pr.text, colog_errmsg());

    colog_store_t *st = open_w();
    rc = colog_restore(st, bad, NULL);
    cr_assert_eq(rc, code, "%s: %s", colog_errname(rc), colog_errmsg());
    if (code == COLOG_ECORRUPT)
        cr_assert_not_null(strstr(colog_errmsg(), "damaged archive"), "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(store_days(days), 2);
    cr_assert_eq(days[0], DAY0);
    cr_assert_eq(days[1], DAY0 + 2);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '.tmp-*')\"", store);
    cr_assert_eq(system(cmd), 0, "temp directories left in the store");
}

static void flip_col(uint8_t *b, size_t *len)
{
    tmember_t m = find_member(b, *len, "/port.col");
    cr_assert_gt(m.size, 80);
    b[m.data + 64] ^= 0x01; /* first payload byte of block 0 */
}

static void flip_index(uint8_t *b, size_t *len)
{
    tmember_t m = find_member(b, *len, "colog-archive");
    char *c = memmem(b + m.data, m.size, "\ncreated ", 9);
    cr_assert_not_null(c);
    c[9 + 3] = c[9 + 3] == '7' ? '8' : '7'; /* a digit of the year: still parses */
}

static void flip_manifest(uint8_t *b, size_t *len)
{
    tmember_t m = find_member(b, *len, "/manifest");
    b[m.data + 100] ^= 0x20;
}

static void flip_ledger(uint8_t *b, size_t *len)
{
    tmember_t m = find_member(b, *len, "ledger");
    uint8_t *nl = memchr(b + m.data, '\n', m.size);
    cr_assert_not_null(nl);
    uint8_t *r = memmem(nl, m.size - (size_t)(nl - (b + m.data)), " rows=", 6);
    cr_assert_not_null(r);
    r[6] = r[6] == '9' ? '1' : (uint8_t)(r[6] + 1);
}

static void truncate_mid(uint8_t *b, size_t *len)
{
    tmember_t m = find_member(b, *len, "/src.col");
    *len = m.data + m.size / 2;
}

static void not_tar(uint8_t *b, size_t *len)
{
    for (size_t i = 0; i < *len; i++)
        b[i] = (uint8_t)("not an archive\n"[i % 15]);
}

static void drop_member(uint8_t *b, size_t *len)
{
    /* the last part file's header and data become the end-of-archive blocks */
    tmember_t m[256];
    size_t n = tar_members(b, *len, m, 256);
    cr_assert_gt(n, 3);
    memset(b + m[n - 1].data - 512, 0, *len - (m[n - 1].data - 512));
}

Test(archive_corrupt, col_member, .init = setup, .fini = teardown)
{
    check_damage(flip_col, COLOG_ECORRUPT,
                 "/port.col: sha256 mismatch|/port.col: block 0: checksum mismatch");
}

Test(archive_corrupt, index_member, .init = setup, .fini = teardown)
{
    check_damage(flip_index, COLOG_ECORRUPT, "colog-archive: index-sha256 mismatch");
}

Test(archive_corrupt, manifest_member, .init = setup, .fini = teardown)
{
    check_damage(flip_manifest, COLOG_ECORRUPT,
                 "/manifest: sha256 mismatch|/manifest: no commit of this manifest in the ledger");
}

Test(archive_corrupt, ledger_member, .init = setup, .fini = teardown)
{
    check_damage(flip_ledger, COLOG_ECORRUPT, "ledger: sha256 mismatch|ledger: line 2: entry ");
}

Test(archive_corrupt, truncated, .init = setup, .fini = teardown)
{
    check_damage(truncate_mid, COLOG_ECORRUPT, "/src.col: truncated archive");
}

Test(archive_corrupt, member_missing, .init = setup, .fini = teardown)
{
    check_damage(drop_member, COLOG_ECORRUPT, ": in the index, not in the archive");
}

Test(archive_corrupt, not_a_tar, .init = setup, .fini = teardown)
{
    check_damage(not_tar, COLOG_ENOTCOLOG, "not a tar archive");
}

Test(archive_corrupt, tar_without_index, .init = setup, .fini = teardown)
{
    char path[400], cmd[1200];
    archive_path(path, sizeof path, "plain.tar");
    snprintf(cmd, sizeof cmd, "cd '%s' && echo hi > f && tar -cf plain.tar f", dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(colog_archive_verify(path, NULL, NULL, NULL), COLOG_ENOTCOLOG);
    cr_assert_not_null(strstr(colog_errmsg(), "no colog-archive index first"), "%s",
                       colog_errmsg());
    spit(path, "", 0);
    cr_assert_eq(colog_archive_verify(path, NULL, NULL, NULL), COLOG_ENOTCOLOG);
}

/* ---------------------------------------------------------------- fuzz seeds */

Test(archive, fuzz_seeds, .fini = teardown)
{
    setup_days(DAY0, 12);
    archive(DAY0 + 1, "small.tar", false);
    char path[400];
    archive_path(path, sizeof path, "small.tar");
    size_t len;
    uint8_t *b = slurp(path, &len);
    cr_assert_lt(len, 65536);
    cr_assert_eq(colog_archive_verify(path, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    if (getenv("COLOG_WRITE_FUZZ_SEEDS")) {
        char out[600];
        snprintf(out, sizeof out, "%s/tests/fuzz/corpus/archive", COLOG_SOURCE_DIR);
        mkdir(out, 0755);
        snprintf(out, sizeof out, "%s/tests/fuzz/corpus/archive/day-2parts.tar", COLOG_SOURCE_DIR);
        spit(out, b, len);
        /* the same cut after the ledger member: the parts missing */
        tmember_t m = find_member(b, len, "ledger");
        size_t cut = m.data + (m.size + 511) / 512 * 512;
        memset(b + cut, 0, 1024);
        snprintf(out, sizeof out, "%s/tests/fuzz/corpus/archive/index-ledger-only.tar",
                 COLOG_SOURCE_DIR);
        spit(out, b, cut + 1024);
    }
    free(b);
}
