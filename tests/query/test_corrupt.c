/*
 * test_corrupt.c — a flipped byte in any file of a part (column, dictionary,
 * index, manifest) is detected when a query touches it: the query fails and names
 * the file (and the block, for column data); with skip_damaged the part is left
 * out, named on the warning stream, and the other parts' rows are counted.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_query.h"
#include "colog_storage.h"

static char base[256], dir[300], part[600];

/* Two days, one part each; the damaged part is the one of 2026-03-07. */
static void build(void)
{
    snprintf(base, sizeof base, "/tmp/colog-test-corrupt-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/s", base);
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(dir, colog_schema_builtin("firewall"), &c), 0);
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0);
    colog_ingest_t *ing;
    colog_ingest_opts_t o = {0};
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 '%s/colog-gen' --events 20000 --seed 5 "
             "--start 2026-03-06 --days 2",
             COLOG_BINARY_DIR);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_eq(colog_ingest_file(ing, f, "gen", COLOG_IN_CSV), 0, "%s", colog_errmsg());
    pclose(f);
    cr_assert_eq(colog_ingest_finish(ing, NULL), 0, "%s", colog_errmsg());
    colog_store_close(st);
    snprintf(part, sizeof part, "%s/hot/2026-03-07", dir);
    DIR *d = opendir(part);
    cr_assert_not_null(d);
    struct dirent *e;
    bool found = false;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == 'p' && !found) {
            size_t n = strlen(part);
            snprintf(part + n, sizeof part - n, "/%s", e->d_name);
            found = true;
        }
    }
    closedir(d);
    cr_assert(found);
}

static void drop(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    cr_assert_eq(system(cmd), 0);
}

/* Flip one bit of byte `at` of the file (negative: from the end). */
static void flip(const char *file, long at)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", part, file);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "%s", path);
    struct stat sb;
    cr_assert_eq(fstat(fd, &sb), 0);
    off_t off = at < 0 ? sb.st_size + at : at;
    cr_assert(off >= 0 && off < sb.st_size);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, off), 1);
    c ^= 0x10;
    cr_assert_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

typedef struct outcome {
    int rc;
    char err[1024];
    char *out, *warn;
} outcome_t;

static outcome_t query(const char *text, bool skip, bool no_index)
{
    outcome_t r = {0};
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0);
    colog_tz_t *tz;
    colog_query_t *q;
    colog_qerr_t err;
    cr_assert_eq(colog_tz_open(NULL, &tz), 0);
    cr_assert_eq(colog_query_parse(text, colog_store_schema(st), tz, 0, &q, &err), 0);
    size_t l1, l2;
    FILE *out = open_memstream(&r.out, &l1), *warn = open_memstream(&r.warn, &l2);
    colog_run_opts_t o = {.format = COLOG_OUT_CSV,
                          .out = out,
                          .threads = 2,
                          .no_index = no_index,
                          .skip_damaged = skip,
                          .warn = warn};
    r.rc = colog_query_run(q, st, &o);
    snprintf(r.err, sizeof r.err, "%s", colog_errmsg());
    fclose(out);
    fclose(warn);
    colog_query_free(q);
    colog_tz_free(tz);
    colog_store_close(st);
    return r;
}

static void outcome_free(outcome_t *r)
{
    free(r->out);
    free(r->warn);
}

/* Damage byte `at` of `file`: the query must fail naming the file; with
 * skip_damaged it must give the answer of the undamaged day alone. */
static void expect_detected(const char *file, long at, const char *qtext, bool no_index,
                            const char *detail)
{
    char only_first[512];
    snprintf(only_first, sizeof only_first, "range 2026-03-06 .. 2026-03-07 | %s", qtext);
    outcome_t healthy = query(qtext, false, no_index);
    outcome_t other = query(only_first, false, no_index);
    cr_assert_eq(healthy.rc, 0);
    cr_assert_eq(other.rc, 0);
    cr_assert_str_neq(healthy.out, other.out, "the damaged day must matter to the query");
    flip(file, at);

    outcome_t bad = query(qtext, false, no_index);
    cr_expect_neq(bad.rc, 0, "%s: damage in %s not detected", qtext, file);
    cr_expect_not_null(strstr(bad.err, file), "error does not name %s: %s", file, bad.err);
    if (detail)
        cr_expect_not_null(strstr(bad.err, detail), "error lacks '%s': %s", detail, bad.err);
    outcome_t skipped = query(qtext, true, no_index);
    cr_expect_eq(skipped.rc, 0, "skip_damaged: %s", skipped.err);
    cr_expect_not_null(strstr(skipped.warn, "skipping damaged part"), "%s", skipped.warn);
    cr_expect_not_null(strstr(skipped.warn, file), "%s", skipped.warn);
    cr_expect_str_eq(skipped.out, other.out, "%s: only the undamaged day is counted", qtext);
    outcome_free(&healthy);
    outcome_free(&other);
    outcome_free(&bad);
    outcome_free(&skipped);
}

TestSuite(corrupt, .init = build, .fini = drop, .timeout = 120);

Test(corrupt, column_block)
{
    /* inside block 0's payload */
    expect_detected("bytes_out.col", 200, "where bytes_out > 0 | stats count()", false, "block 0");
}

Test(corrupt, column_footer)
{
    expect_detected("duration.col", -40, "where duration >= 0 | stats count()", false, NULL);
}

Test(corrupt, dictionary)
{
    expect_detected("user.dict", 60, "where user startswith \"a\" | stats count()", false, NULL);
}

Test(corrupt, index_bitmaps)
{
    expect_detected("src_ip.idx", 40, "where src_ip = 10.1.4.44 | stats count()", false, NULL);
}

Test(corrupt, manifest)
{
    expect_detected("manifest", 30, "stats count()", false, NULL);
}

Test(corrupt, time_column_during_raw_query)
{
    expect_detected("ts.col", 100, "where dst_port = 53 | fields ts | limit 100000", true,
                    "block 0");
}
