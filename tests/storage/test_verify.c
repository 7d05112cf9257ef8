/*
 * test_verify.c — colog_verify_store on a real store (3 days ingested in two
 * sessions, one day merged): a clean store passes with the right counts, and
 * each kind of damage (a flipped byte in a column block, a dictionary, an
 * index, a manifest; parts deleted, moved, swapped, in the wrong tier; files
 * deleted or added; the ledger truncated, edited or missing a line) is caught
 * by a problem line naming the file (and the block for column files).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_storage.h"

/* 2026-03-01T00:00:00Z */
#define T0 1772323200000000LL
#define DAY0 20513
#define NCOLS 7
#define NFILES 11 /* 7 .col, 2 .dict (host, src), 2 .idx (src, port) */

static char dir[256];
static char saved_name[32]; /* day 0's first part before the merge, kept in DIR/../saved */
static const char *SCHEMA = "ts time\n"
                            "host string\n"
                            "src ip indexed\n"
                            "port u16 indexed\n"
                            "bytes u64\n"
                            "delta i64\n"
                            "ratio f64\n";

/* ---------------------------------------------------------------- helpers */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* CSV of n rows of day DAY0 + d, starting at second s0 of the day. */
static char *csv_rows(int d, unsigned n, unsigned s0)
{
    char *buf = malloc(64 + (size_t)n * 96), *p = buf;
    cr_assert_not_null(buf);
    p += sprintf(p, "ts,host,src,port,bytes,delta,ratio\n");
    for (unsigned i = 0; i < n; i++)
        p += sprintf(p, "%lld,h%u,10.0.%u.%u,%u,%u,%d,%u.5\n",
                     (long long)(T0 / 1000000) + d * 86400LL + s0 + i, i % 7, d, i % 50, 20 + i % 9,
                     i * 3, (int)i - 40, i % 4);
    return buf;
}

/* One ingest session: n rows into each day of days[0..nd). */
static void ingest(const int *days, int nd, unsigned n, unsigned s0)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_ingest_opts_t o = {.now_us = T0 + 5 * 86400000000LL, .no_auto_merge = true};
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0, "%s", colog_errmsg());
    for (int i = 0; i < nd; i++) {
        char *text = csv_rows(days[i], n, s0);
        FILE *f = fmemopen(text, strlen(text), "r");
        cr_assert_not_null(f);
        cr_assert_eq(colog_ingest_file(ing, f, "in", COLOG_IN_CSV), 0, "%s", colog_errmsg());
        fclose(f);
        free(text);
    }
    colog_ingest_stats_t stats;
    cr_assert_eq(colog_ingest_finish(ing, &stats), 0, "%s", colog_errmsg());
    cr_assert_eq(stats.rows_rejected, 0);
    colog_store_close(st);
}

static void day_name(int d, char *buf, size_t cap)
{
    colog_day_format(DAY0 + d, buf, cap);
}

/* Path (absolute) and name of the k-th part (by id) of day DAY0 + d in hot. */
static void part_at(int d, unsigned k, char *path, size_t cap, char name[32])
{
    char dn[16], ddir[512];
    day_name(d, dn, sizeof dn);
    snprintf(ddir, sizeof ddir, "%s/hot/%s", dir, dn);
    DIR *dd = opendir(ddir);
    cr_assert_not_null(dd, "%s", ddir);
    char names[16][32];
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL)
        if (e->d_name[0] == 'p' && strlen(e->d_name) == 17 && n < 16)
            memcpy(names[n++], e->d_name, 18);
    closedir(dd);
    qsort(names, n, 32, (int (*)(const void *, const void *))strcmp);
    cr_assert_lt(k, n, "day %s has %u parts", dn, n);
    snprintf(name, 32, "%s", names[k]);
    snprintf(path, cap, "%s/%s", ddir, name);
}

/* Flip one byte of a file at off (negative: from the end). */
static void flip(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fseek(f, off, off < 0 ? SEEK_END : SEEK_SET), 0);
    long at = ftell(f);
    int c = fgetc(f);
    cr_assert_neq(c, EOF);
    cr_assert_eq(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/* The store: day 0 and 1 get two parts each, day 2 one; day 0 is merged
 * (its two parts superseded by one). Before the merge, day 0's first part is
 * copied to DIR/../saved (for the leftover test). */
static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/colog-test-verify-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    strcat(dir, "/s");
    colog_schema_t s;
    cr_assert_eq(colog_schema_parse(SCHEMA, strlen(SCHEMA), "test", &s), 0, "%s", colog_errmsg());
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(dir, &s, &c), 0, "%s", colog_errmsg());

    ingest((const int[]){0, 1, 2}, 3, 200, 0);
    ingest((const int[]){0, 1}, 2, 150, 1000);

    char path[512], name[32];
    part_at(0, 0, path, sizeof path, name);
    sh("cp -a '%s' '%s/../saved'", path, dir);
    snprintf(saved_name, sizeof saved_name, "%s", name);

    colog_store_t *st;
    bool merged = false;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_store_merge_day(st, DAY0, 0, &merged), 0, "%s", colog_errmsg());
    cr_assert(merged);
    colog_store_close(st);
}

static void teardown(void)
{
    *strrchr(dir, '/') = 0;
    sh("rm -rf '%s'", dir);
}

typedef struct probs {
    unsigned n;
    char line[64][512];
    uint64_t progress_done, progress_total;
    unsigned progress_calls;
} probs_t;

static void on_problem(void *ctx, const char *msg)
{
    probs_t *p = ctx;
    if (p->n < 64)
        snprintf(p->line[p->n], sizeof p->line[0], "%s", msg);
    p->n++;
}

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    probs_t *p = ctx;
    cr_assert_str_eq(what, "verify");
    cr_assert_leq(done, total);
    p->progress_done = done;
    p->progress_total = total;
    p->progress_calls++;
}

static probs_t pr;

static int verify(const colog_verify_opts_t *base, colog_verify_stats_t *stats)
{
    colog_verify_opts_t o = base ? *base : (colog_verify_opts_t){0};
    o.problem = on_problem;
    o.progress = on_progress;
    o.ctx = &pr;
    memset(&pr, 0, sizeof pr);
    memset(stats, 0xff, sizeof *stats);
    int rc = colog_verify_store(dir, &o, stats);
    if (getenv("COLOG_TEST_VERBOSE") != NULL) /* show what verify says */
        for (unsigned i = 0; i < pr.n && i < 64; i++)
            fprintf(stderr, "  problem: %s\n", pr.line[i]);
    cr_assert_eq(stats->problems, pr.n, "stats %llu, reported %u",
                 (unsigned long long)stats->problems, pr.n);
    return rc;
}

static void dump(void)
{
    for (unsigned i = 0; i < pr.n && i < 64; i++)
        fprintf(stderr, "  problem: %s\n", pr.line[i]);
}

/* Some problem line holds all of the given substrings (NULL-terminated). */
static bool has(const char *a, ...)
{
    for (unsigned i = 0; i < pr.n && i < 64; i++) {
        va_list ap;
        va_start(ap, a);
        bool all = true;
        for (const char *s = a; s != NULL; s = va_arg(ap, const char *))
            if (strstr(pr.line[i], s) == NULL)
                all = false;
        va_end(ap);
        if (all)
            return true;
    }
    return false;
}

#define EXPECT(...)                                                                                \
    do {                                                                                           \
        if (!has(__VA_ARGS__, NULL))                                                               \
            dump();                                                                                \
        cr_assert(has(__VA_ARGS__, NULL), "no problem with " #__VA_ARGS__);                        \
    } while (0)

/* "hot/2026-03-0X/pID" of the k-th part of day d. */
static void part_disp(int d, unsigned k, char *buf, size_t cap)
{
    char path[512], name[32], dn[16];
    part_at(d, k, path, sizeof path, name);
    day_name(d, dn, sizeof dn);
    snprintf(buf, cap, "hot/%s/%s", dn, name);
}

static void expect_corrupt(int rc)
{
    if (rc != COLOG_ECORRUPT)
        dump();
    cr_assert_eq(rc, COLOG_ECORRUPT, "rc %s: %s", colog_errname(rc), colog_errmsg());
    cr_assert_gt(pr.n, 0);
}

static void expect_clean(int rc)
{
    if (rc != 0)
        dump();
    cr_assert_eq(rc, 0, "rc %s: %s", colog_errname(rc), colog_errmsg());
    cr_assert_eq(pr.n, 0);
}

/* ---------------------------------------------------------------- clean */

TestSuite(verify, .init = setup, .fini = teardown);

Test(verify, clean_store_passes)
{
    colog_verify_stats_t s;
    expect_clean(verify(NULL, &s));
    cr_assert_eq(s.parts, 4);
    cr_assert_eq(s.files, 4 * NFILES);
    cr_assert_eq(s.blocks, 4 * NCOLS);
    cr_assert_gt(s.bytes, 0);
    cr_assert_geq(s.entries, 1 + 5 + 1); /* genesis, 5 ingest commits, 1 merge */
    cr_assert_eq(s.problems, 0);
    cr_assert(!s.head_found);
    cr_assert_eq(pr.progress_done, 4);
    cr_assert_eq(pr.progress_total, 4);
    cr_assert_eq(pr.progress_calls, 5);
}

Test(verify, null_opts_and_stats)
{
    cr_assert_eq(colog_verify_store(dir, NULL, NULL), 0, "%s", colog_errmsg());
}

Test(verify, not_a_store)
{
    colog_verify_stats_t s;
    char p[300];
    snprintf(p, sizeof p, "%s/nothing-here", dir);
    int rc = colog_verify_store(p, NULL, &s);
    cr_assert_neq(rc, 0);
    cr_assert_neq(rc, COLOG_ECORRUPT);
}

Test(verify, bad_head_argument)
{
    colog_verify_opts_t o = {.head = "abc"};
    colog_verify_stats_t s;
    cr_assert_eq(colog_verify_store(dir, &o, &s), COLOG_EINVAL);
}

Test(verify, superseded_leftover_is_not_a_problem)
{
    /* An interrupted merge: the merged part is published, a part it replaces
     * is still there (the next writer removes it). */
    colog_verify_stats_t s;
    sh("cp -a '%s/../saved' '%s/hot/2026-03-01/%s'", dir, dir, saved_name);
    expect_clean(verify(NULL, &s));
    cr_assert_eq(s.parts, 4);
}

Test(verify, leftover_temp_and_deleted_parts_are_ignored)
{
    colog_verify_stats_t s;
    sh("cp -a '%s/../saved' '%s/hot/2026-03-02/.tmp-p0000000000000099'", dir, dir);
    sh("cp -a '%s/../saved' '%s/hot/2026-03-02/.del-p0000000000000098'", dir, dir);
    expect_clean(verify(NULL, &s));
    cr_assert_eq(s.parts, 4);
}

/* ---------------------------------------------------------------- damaged files */

Test(verify, flipped_byte_in_a_column_block)
{
    char path[512], name[32], disp[128], file[640];
    part_at(1, 1, path, sizeof path, name);
    part_disp(1, 1, disp, sizeof disp);
    snprintf(file, sizeof file, "%s/port.col", path);
    flip(file, 32 + 32 + 1); /* block 0's payload */
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/port.col: block 0", "checksum mismatch");
    cr_assert_eq(s.parts, 4);
    cr_assert_eq(s.blocks, 4 * NCOLS);
}

Test(verify, flipped_byte_in_a_dictionary)
{
    char path[512], name[32], disp[128], file[640];
    part_at(2, 0, path, sizeof path, name);
    part_disp(2, 0, disp, sizeof disp);
    snprintf(file, sizeof file, "%s/host.dict", path);
    flip(file, -3);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/host.dict");
    cr_assert(!has("/host.col", NULL) && !has("/src.", NULL));
}

Test(verify, flipped_byte_in_an_index)
{
    char path[512], name[32], disp[128], file[640];
    part_at(0, 0, path, sizeof path, name);
    part_disp(0, 0, disp, sizeof disp);
    snprintf(file, sizeof file, "%s/src.idx", path);
    flip(file, -2);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/src.idx");
}

Test(verify, flipped_byte_in_a_manifest)
{
    char path[512], name[32], disp[128], file[640];
    part_at(1, 0, path, sizeof path, name);
    part_disp(1, 0, disp, sizeof disp);
    snprintf(file, sizeof file, "%s/manifest", path);
    flip(file, 100);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/manifest");
}

Test(verify, file_deleted_from_a_part)
{
    char path[512], name[32], disp[128];
    part_at(1, 0, path, sizeof path, name);
    part_disp(1, 0, disp, sizeof disp);
    sh("rm '%s/bytes.col'", path);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/bytes.col: missing");
    cr_assert_eq(pr.n, 1);
}

Test(verify, extra_file_in_a_part)
{
    char path[512], name[32], disp[128];
    part_at(2, 0, path, sizeof path, name);
    part_disp(2, 0, disp, sizeof disp);
    sh("echo x > '%s/extra.col'", path);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/extra.col: not in the manifest");
    cr_assert_eq(pr.n, 1);
}

Test(verify, file_replaced_by_another_parts)
{
    /* Same name, valid content, from another part: its checksums are seeded by
     * the name, so only the digests can tell. */
    char a[512], b[512], name[32], disp[128];
    part_at(1, 0, a, sizeof a, name);
    part_at(1, 1, b, sizeof b, name);
    part_disp(1, 0, disp, sizeof disp);
    sh("cp '%s/ratio.col' '%s/ratio.col'", b, a);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/ratio.col");
}

/* ---------------------------------------------------------------- parts vs ledger */

Test(verify, deleted_part)
{
    char path[512], name[32], disp[128];
    part_at(1, 1, path, sizeof path, name);
    part_disp(1, 1, disp, sizeof disp);
    sh("rm -r '%s'", path);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, ": missing (in the ledger, seq");
    cr_assert_eq(pr.n, 1);
    cr_assert_eq(s.parts, 3);
}

Test(verify, part_moved_to_another_day)
{
    char path[512], name[32], disp[128], dn0[16];
    part_at(2, 0, path, sizeof path, name);
    part_disp(2, 0, disp, sizeof disp);
    day_name(0, dn0, sizeof dn0);
    char to[600];
    snprintf(to, sizeof to, "%s/hot/%s/%s", dir, dn0, name);
    struct stat sb;
    cr_assert_neq(stat(to, &sb), 0, "day 0 has a part of the same id");
    sh("mv '%s' '%s'", path, to);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    char moved[128];
    snprintf(moved, sizeof moved, "hot/%s/%s", dn0, name);
    EXPECT(moved, "not in the ledger");
    EXPECT(moved, "/manifest: is of part", "2026-03-03");
    EXPECT(disp, ": missing (in the ledger");
}

Test(verify, parts_swapped_between_days)
{
    char a[512], b[512], na[32], nb[32], da[128], db[128];
    part_at(1, 0, a, sizeof a, na);
    part_at(2, 0, b, sizeof b, nb);
    part_disp(1, 0, da, sizeof da);
    part_disp(2, 0, db, sizeof db);
    sh("mv '%s' '%s.x' && mv '%s' '%s' && mv '%s.x' '%s'", a, a, b, a, a, b);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(da, "/manifest: differs from the ledger's");
    EXPECT(db, "/manifest: differs from the ledger's");
    cr_assert(!has("missing", NULL));
}

Test(verify, part_in_the_wrong_tier)
{
    char path[512], name[32];
    part_at(2, 0, path, sizeof path, name);
    sh("mkdir -p '%s/cold/2026-03-03' && mv '%s' '%s/cold/2026-03-03/'", dir, path, dir);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(name, "the ledger has it in the hot tier");
    cr_assert(!has("missing", NULL));
    cr_assert_eq(s.parts, 4);
}

Test(verify, added_part)
{
    /* A well-formed part that the ledger never committed. */
    sh("cp -a '%s/../saved' '%s/hot/2026-03-02/p00000000000000f0'", dir, dir);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT("hot/2026-03-02/p00000000000000f0: not in the ledger");
    cr_assert_eq(s.parts, 5);
}

/* ---------------------------------------------------------------- one day */

Test(verify, one_day_limits_the_part_checks)
{
    char path[512], name[32], file[640];
    part_at(1, 1, path, sizeof path, name);
    snprintf(file, sizeof file, "%s/port.col", path);
    flip(file, 32 + 32 + 1);
    colog_verify_stats_t s;
    colog_verify_opts_t o = {.one_day = true, .day = DAY0 + 2};
    expect_clean(verify(&o, &s));
    cr_assert_eq(s.parts, 1);
    cr_assert_eq(s.files, NFILES);
    o.day = DAY0 + 1;
    expect_corrupt(verify(&o, &s));
    cr_assert_eq(s.parts, 2);
    EXPECT("/port.col: block 0");
    /* a missing part of another day is not looked for */
    part_at(0, 0, path, sizeof path, name);
    sh("rm -r '%s'", path);
    o.day = DAY0 + 2;
    expect_clean(verify(&o, &s));
}

/* ---------------------------------------------------------------- the ledger */

static char *ledger_path(void)
{
    static char p[300];
    snprintf(p, sizeof p, "%s/ledger", dir);
    return p;
}

/* The ledger's lines (malloc'ed copy of the file, lines split in place). */
static size_t ledger_lines(char **buf, char *lines[], size_t cap)
{
    FILE *f = fopen(ledger_path(), "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(*buf, 1, (size_t)n, f), (size_t)n);
    (*buf)[n] = 0;
    fclose(f);
    size_t k = 0;
    for (char *p = *buf; *p && k < cap; k++) {
        lines[k] = p;
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        *nl = 0;
        p = nl + 1;
    }
    return k;
}

static void ledger_write(char *lines[], size_t n, size_t skip)
{
    FILE *f = fopen(ledger_path(), "wb");
    cr_assert_not_null(f);
    for (size_t i = 0; i < n; i++)
        if (i != skip)
            fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

Test(verify, current_head_passes)
{
    uint64_t seq;
    char hex[65];
    cr_assert_eq(colog_ledger_head(dir, &seq, hex), 0, "%s", colog_errmsg());
    colog_verify_opts_t o = {.head = hex};
    colog_verify_stats_t s;
    expect_clean(verify(&o, &s));
    cr_assert(s.head_found);
    cr_assert_eq(s.entries, seq + 1);
}

Test(verify, truncated_ledger_needs_the_head)
{
    /* Entries appended after an old head (a 4th day), then cut off together
     * with the day they committed: consistent again, except for the head. */
    uint64_t seq0, seq1;
    char h0[65], h1[65];
    cr_assert_eq(colog_ledger_head(dir, &seq0, h0), 0, "%s", colog_errmsg());
    struct stat sb;
    cr_assert_eq(stat(ledger_path(), &sb), 0);
    off_t len0 = sb.st_size;
    ingest((const int[]){3}, 1, 50, 0);
    cr_assert_eq(colog_ledger_head(dir, &seq1, h1), 0, "%s", colog_errmsg());
    cr_assert_gt(seq1, seq0);

    colog_verify_opts_t o = {.head = h1};
    colog_verify_stats_t s;
    expect_clean(verify(&o, &s));
    cr_assert_eq(s.parts, 5);

    cr_assert_eq(truncate(ledger_path(), len0), 0);
    sh("rm -r '%s/hot/2026-03-04'", dir);
    expect_clean(verify(NULL, &s)); /* undetectable without the head */
    cr_assert(!s.head_found);
    expect_corrupt(verify(&o, &s));
    cr_assert(!s.head_found);
    EXPECT("ledger", h1, "not found");
    cr_assert_eq(pr.n, 1);
    o.head = h0; /* the old head is still there */
    expect_clean(verify(&o, &s));
    cr_assert(s.head_found);
}

Test(verify, edited_ledger_line)
{
    char *buf, *lines[256];
    size_t n = ledger_lines(&buf, lines, 256);
    cr_assert_geq(n, 3);
    /* a digit of the time field of entry 2 */
    char *sp = strchr(lines[2], ' ');
    cr_assert_not_null(sp);
    sp[3] = sp[3] == '1' ? '2' : '1';
    ledger_write(lines, n, (size_t)-1);
    free(buf);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT("ledger");
}

Test(verify, removed_ledger_line)
{
    char *buf, *lines[256];
    size_t n = ledger_lines(&buf, lines, 256);
    cr_assert_geq(n, 3);
    ledger_write(lines, n, 2);
    free(buf);
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT("ledger");
}

Test(verify, head_before_later_damage_is_proven)
{
    /* Damage after the head: the history up to it still checks out. */
    uint64_t seq;
    char hex[65];
    char *buf, *lines[256];
    size_t n = ledger_lines(&buf, lines, 256);
    cr_assert_geq(n, 4);
    char *hp = strstr(lines[2], "hash=");
    cr_assert_not_null(hp);
    snprintf(hex, sizeof hex, "%s", hp + 5);
    char *sp = strchr(lines[n - 1], ' ');
    sp[3] = sp[3] == '1' ? '2' : '1';
    ledger_write(lines, n, (size_t)-1);
    free(buf);
    colog_verify_opts_t o = {.head = hex};
    colog_verify_stats_t s;
    expect_corrupt(verify(&o, &s));
    cr_assert(s.head_found);
    cr_assert(strstr(colog_errmsg(), "checks out") != NULL, "%s", colog_errmsg());
    cr_assert(strstr(colog_errmsg(), "does not") == NULL, "%s", colog_errmsg());
    (void)seq;

    /* damage before the head: not proven */
    n = ledger_lines(&buf, lines, 256);
    sp = strchr(lines[1], ' ');
    sp[3] = sp[3] == '1' ? '2' : '1';
    ledger_write(lines, n, (size_t)-1);
    free(buf);
    expect_corrupt(verify(&o, &s));
    cr_assert(s.head_found);
    cr_assert(strstr(colog_errmsg(), "does not check out") != NULL, "%s", colog_errmsg());
}

/* ---------------------------------------------------------------- keyed ledger */

Test(verify, keyed_ledger)
{
    /* A second store with an HMAC chain. */
    char root[200], kdir[256], key[256], other[256];
    cr_assert_lt(strlen(dir), sizeof root);
    strcpy(root, dir);
    *strrchr(root, '/') = 0;
    snprintf(kdir, sizeof kdir, "%s/k", root);
    snprintf(key, sizeof key, "%s/key", root);
    snprintf(other, sizeof other, "%s/key2", root);
    cr_assert_eq(colog_ledger_keygen(key), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_ledger_keygen(other), 0, "%s", colog_errmsg());
    colog_schema_t sc;
    cr_assert_eq(colog_schema_parse(SCHEMA, strlen(SCHEMA), "test", &sc), 0);
    colog_config_t c;
    colog_config_default(&c);
    snprintf(c.ledger_key, sizeof c.ledger_key, "%s", key);
    cr_assert_eq(colog_store_create(kdir, &sc, &c), 0, "%s", colog_errmsg());
    char saved[256];
    snprintf(saved, sizeof saved, "%s", dir);
    strcpy(dir, kdir);
    ingest((const int[]){0, 1}, 2, 20, 0);

    colog_verify_stats_t s;
    expect_clean(verify(NULL, &s)); /* the configured key */
    cr_assert_eq(s.parts, 2);
    colog_verify_opts_t o = {.key_path = key};
    expect_clean(verify(&o, &s));
    o.key_path = other; /* a wrong key: the MACs fail */
    int rc = verify(&o, &s);
    bool wrong_key = has("ledger", NULL) && !has("without the key", NULL);
    /* no key at all (the configured file gone): the MACs cannot be checked */
    cr_assert_eq(unlink(key), 0);
    int rc2 = verify(NULL, &s);
    bool no_key = has("ledger: keyed (hmac-sha256): MACs not checked without the key", NULL);
    unsigned n2 = pr.n;
    strcpy(dir, saved);
    expect_corrupt(rc);
    cr_assert(wrong_key);
    cr_assert_eq(rc2, COLOG_ECORRUPT);
    cr_assert(no_key);
    cr_assert_eq(n2, 1);
}

/* ---------------------------------------------------------------- more blocks, cold tier */

Test(verify, damaged_second_block_is_named)
{
    ingest((const int[]){4}, 1, 70000, 0); /* 2 blocks a column */
    char path[512], name[32], file[640], disp[128];
    part_at(4, 0, path, sizeof path, name);
    part_disp(4, 0, disp, sizeof disp);
    snprintf(file, sizeof file, "%s/bytes.col", path);
    FILE *f = fopen(file, "rb");
    cr_assert_not_null(f);
    unsigned char h[32];
    cr_assert_eq(fread(h, 1, 32, f), 32); /* file header */
    cr_assert_eq(fread(h, 1, 32, f), 32); /* block 0's header */
    fclose(f);
    long clen0 = (long)(h[20] | h[21] << 8 | h[22] << 16 | (unsigned long)h[23] << 24);
    flip(file, 32 + 32 + clen0 + 32 + 3); /* block 1's payload */
    colog_verify_stats_t s;
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp, "/bytes.col: block 1: checksum mismatch");
    cr_assert_eq(pr.n, 1);
    cr_assert_eq(s.blocks, 4 * NCOLS + 2 * NCOLS);
}

Test(verify, cold_tier_parts)
{
    /* Every day older than hot_days (90) moves to the cold tier: one cold
     * part per day superseding the hot ones. */
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_retain_opts_t ro = {.now_us = T0 + 100 * 86400000000LL};
    colog_retain_stats_t rs;
    cr_assert_eq(colog_retain(st, &ro, &rs), 0, "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(rs.moved, 3);

    colog_verify_stats_t s;
    expect_clean(verify(NULL, &s));
    cr_assert_eq(s.parts, 3);
    cr_assert_eq(s.files, 3 * NFILES);

    char ddir[300];
    snprintf(ddir, sizeof ddir, "%s/cold/2026-03-02", dir);
    DIR *dd = opendir(ddir);
    cr_assert_not_null(dd);
    struct dirent *e;
    char name[32] = "";
    while ((e = readdir(dd)) != NULL)
        if (e->d_name[0] == 'p' && strlen(e->d_name) == 17)
            memcpy(name, e->d_name, 18);
    closedir(dd);
    cr_assert_neq(name[0], 0);
    char file[400], disp[96];
    snprintf(file, sizeof file, "%s/%s/src.col", ddir, name);
    flip(file, 32 + 32 + 1);
    snprintf(disp, sizeof disp, "cold/2026-03-02/%s/src.col: block 0", name);
    expect_corrupt(verify(NULL, &s));
    EXPECT(disp);
}
