/*
 * test_retain.c — retention tiers at the library level: hot -> cold moves keep
 * every row (counts and sums computed here from the generated rows), part ids
 * stay unique across tiers when late events arrive for a cold day, held days are
 * kept, the age rule at its exact boundary, dry runs change nothing, a crash in
 * the middle of a move is undone by the next writer, and the policy checks of
 * colog_store_set_config.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colog_store_int.h"

#define DAY_US 86400000000LL
#define DAY0 20454 /* 2026-01-01 */
#define NDAY 6

static char dir[256];
static const char *SCHEMA = "ts time\nsrc ip indexed\nn u64\n";
static uint64_t cnt[NDAY], sum[NDAY];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/colog-test-retain-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    strcat(dir, "/s");
    colog_schema_t s;
    cr_assert_eq(colog_schema_parse(SCHEMA, strlen(SCHEMA), "t", &s), 0, "%s", colog_errmsg());
    colog_config_t c;
    colog_config_default(&c);
    c.hot_days = 10;
    c.cold_days = 30;
    c.cold_zstd_level = 3;
    cr_assert_eq(colog_store_create(dir, &s, &c), 0, "%s", colog_errmsg());
    memset(cnt, 0, sizeof cnt);
    memset(sum, 0, sizeof sum);
}

static void teardown(void)
{
    char cmd[300];
    *strrchr(dir, '/') = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Ingest `per` rows into each day in [d0, d1), n = a running number. */
static void ingest_days(int d0, int d1, int per)
{
    static uint64_t next = 1;
    size_t cap = 64 + (size_t)(d1 - d0) * (size_t)per * 64;
    char *csv = malloc(cap);
    cr_assert_not_null(csv);
    size_t off = (size_t)snprintf(csv, cap, "ts,src,n\n");
    for (int d = d0; d < d1; d++)
        for (int i = 0; i < per; i++) {
            long long t = ((long long)(DAY0 + d) * DAY_US + (long long)i * 1000000) / 1000000;
            off += (size_t)snprintf(csv + off, cap - off, "%lld,10.0.0.%d,%llu\n", t, i % 7 + 1,
                                    (unsigned long long)next);
            cnt[d]++;
            sum[d] += next++;
        }
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_ingest_opts_t o = {.now_us = (int64_t)(DAY0 + NDAY) * DAY_US, .no_auto_merge = true};
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, &o, &ing), 0, "%s", colog_errmsg());
    FILE *f = fmemopen(csv, off, "r");
    cr_assert_eq(colog_ingest_file(ing, f, "t.csv", COLOG_IN_CSV), 0, "%s", colog_errmsg());
    fclose(f);
    colog_ingest_stats_t s;
    cr_assert_eq(colog_ingest_finish(ing, &s), 0, "%s", colog_errmsg());
    cr_assert_eq(s.rows_ok, (uint64_t)(d1 - d0) * (uint64_t)per);
    colog_store_close(st);
    free(csv);
}

typedef struct dayinfo {
    uint64_t rows, sum, parts, hot, cold, maxid_hot, minid_cold;
} dayinfo_t;

/* Read a day back: rows, sum of n, parts per tier. */
static dayinfo_t day_info(colog_store_t *st, int d)
{
    dayinfo_t r = {.minid_cold = UINT64_MAX};
    colog_snap_t *snap;
    cr_assert_eq(colog_snap_day(st, DAY0 + d, ~(uint64_t)0, &snap), 0, "%s", colog_errmsg());
    r.parts = colog_snap_nparts(snap);
    for (size_t i = 0; i < r.parts; i++) {
        colog_part_t *p = colog_snap_part(snap, i);
        r.rows += colog_part_rows(p);
        if (colog_part_tier(p) == COLOG_TIER_COLD) {
            r.cold++;
            if (colog_part_id(p) < r.minid_cold)
                r.minid_cold = colog_part_id(p);
        } else {
            r.hot++;
            if (colog_part_id(p) > r.maxid_hot)
                r.maxid_hot = colog_part_id(p);
        }
        for (uint32_t b = 0; b < colog_part_nblocks(p); b++) {
            colog_block_t blk;
            cr_assert_eq(colog_part_read(p, 2, b, &blk), 0, "%s", colog_errmsg());
            for (uint32_t k = 0; k < blk.n; k++)
                r.sum += blk.v.u64[k];
        }
    }
    colog_snap_free(snap);
    return r;
}

static int64_t at_day(int d)
{
    return (int64_t)(DAY0 + d) * DAY_US + 3600000000LL; /* 01:00 on that day */
}

static colog_retain_stats_t retain(int64_t now, bool dry)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_retain_opts_t o = {.now_us = now, .dry_run = dry};
    colog_retain_stats_t s;
    cr_assert_eq(colog_retain(st, &o, &s), 0, "%s", colog_errmsg());
    colog_store_close(st);
    return s;
}

TestSuite(retain, .init = setup, .fini = teardown);

Test(retain, moves_keep_rows_and_boundary_is_exact)
{
    ingest_days(0, NDAY, 300);
    ingest_days(0, NDAY, 200); /* two parts a day */
    /* now = day 13 01:00: days with D + 1 + 10 <= 13, i.e. days 0..2, go cold. */
    colog_retain_stats_t s = retain(at_day(13), true);
    cr_assert_eq(s.moved, 3);
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    cr_assert_eq(day_info(st, 0).cold, 0, "a dry run moved nothing");
    colog_store_close(st);
    s = retain(at_day(13), false);
    cr_assert_eq(s.moved, 3);
    cr_assert_eq(s.rows_moved, 1500);
    cr_assert_eq(retain(at_day(13), false).moved, 0, "idempotent");
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    for (int d = 0; d < NDAY; d++) {
        dayinfo_t i = day_info(st, d);
        cr_assert_eq(i.rows, cnt[d], "day %d rows %llu", d, (unsigned long long)i.rows);
        cr_assert_eq(i.sum, sum[d], "day %d sum", d);
        if (d <= 2) {
            cr_assert_eq(i.cold, 1, "day %d is one cold part", d);
            cr_assert_eq(i.hot, 0);
        } else {
            cr_assert_eq(i.cold, 0, "day %d stays hot", d);
            cr_assert_eq(i.hot, 2);
        }
    }
    struct stat sb;
    char p[400];
    snprintf(p, sizeof p, "%s/hot/2026-01-01", dir);
    cr_assert_neq(stat(p, &sb), 0, "the moved day's hot directory is gone");
    snprintf(p, sizeof p, "%s/cold/2026-01-01", dir);
    cr_assert_eq(stat(p, &sb), 0, "the cold directory exists");
    colog_store_close(st);
    /* Exactly at the boundary: day 3 leaves hot when now >= day 14 00:00. */
    cr_assert_eq(retain((int64_t)(DAY0 + 14) * DAY_US - 1, false).moved, 0);
    cr_assert_eq(retain((int64_t)(DAY0 + 14) * DAY_US, false).moved, 1);
}

Test(retain, late_events_for_a_cold_day_get_fresh_ids)
{
    ingest_days(0, 2, 100);
    cr_assert_eq(retain(at_day(20), false).moved, 2);
    ingest_days(0, 1, 50); /* late events: a hot part of a cold day */
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    dayinfo_t i = day_info(st, 0);
    cr_assert_eq(i.rows, cnt[0]);
    cr_assert_eq(i.sum, sum[0]);
    cr_assert_eq(i.hot, 1);
    cr_assert_eq(i.cold, 1);
    cr_assert_gt(i.maxid_hot, i.minid_cold, "a new id is above the cold part's");
    colog_store_close(st);
    cr_assert_eq(retain(at_day(20), false).moved, 1);
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    i = day_info(st, 0);
    cr_assert_eq(i.rows, cnt[0]);
    cr_assert_eq(i.sum, sum[0]);
    cr_assert_eq(i.cold, 1, "merged into one cold part");
    cr_assert_eq(i.hot, 0);
    colog_store_close(st);
}

Test(retain, deletes_old_days_but_not_held_ones)
{
    ingest_days(0, NDAY, 40);
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    uint64_t hid;
    cr_assert_eq(colog_hold_add(st, DAY0 + 1, DAY0 + 2, "case 7", &hid), 0, "%s", colog_errmsg());
    colog_store_close(st);
    /* now = day 35 01:00: days with D + 1 + 30 <= 35 (0..4) leave unless held. */
    colog_retain_stats_t s = retain(at_day(35), false);
    cr_assert_eq(s.deleted, 3, "days 0, 3, 4");
    cr_assert_eq(s.moved, 3, "held days 1, 2 still go cold, and day 5");
    cr_assert_eq(s.held, 2, "days 1, 2: moved to cold, and counted as kept by the hold");
    cr_assert_eq(s.rows_removed, 120);
    s = retain(at_day(35), false);
    cr_assert_eq(s.held, 2, "days 1, 2: cold, held");
    cr_assert_eq(s.moved + s.deleted, 0);
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    int32_t *days;
    size_t n;
    cr_assert_eq(colog_store_days(st, &days, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(days[0], DAY0 + 1);
    cr_assert_eq(days[1], DAY0 + 2);
    cr_assert_eq(days[2], DAY0 + 5);
    free(days);
    cr_assert_eq(day_info(st, 1).cold, 1, "a held day still goes cold");
    cr_assert_eq(day_info(st, 1).sum, sum[1]);
    cr_assert_eq(colog_hold_remove(st, hid, "closed"), 0, "%s", colog_errmsg());
    colog_store_close(st);
    s = retain(at_day(35), false);
    cr_assert_eq(s.deleted, 2);
    cr_assert_eq(s.held, 0);
}

Test(retain, crash_before_rename_is_undone)
{
    ingest_days(0, 2, 100);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("COLOG_CRASH_AT", "publish-before-rename", 1);
        colog_store_t *st;
        if (colog_store_open(&st, dir, COLOG_OPEN_WRITE) != 0)
            _exit(3);
        colog_retain_opts_t o = {.now_us = at_day(20)};
        colog_retain(st, &o, NULL);
        _exit(4); /* not reached: the crash point ends the process with 137 */
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 137, "the child stopped at the crash point");
    /* A reader still sees every row, from the old parts. */
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    cr_assert_eq(day_info(st, 0).rows, cnt[0]);
    cr_assert_eq(day_info(st, 0).cold, 0);
    colog_store_close(st);
    /* The next writer undoes the half-made move and records it. */
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    uint64_t seq;
    uint8_t h[32];
    const char *last = colog__ledger_last(st->ledger, &seq, h);
    cr_assert_not_null(strstr(last, " abort of="), "last entry: %s", last);
    colog_store_close(st);
    cr_assert_eq(retain(at_day(20), false).moved, 2);
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    cr_assert_eq(day_info(st, 0).rows, cnt[0]);
    cr_assert_eq(day_info(st, 0).sum, sum[0]);
    cr_assert_eq(day_info(st, 0).cold, 1);
    colog_store_close(st);
}

Test(retain, set_config_checks)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_config_t c = *colog_store_config(st);
    c.cold_days = 5; /* below hot_days */
    cr_assert_eq(colog_store_set_config(st, &c), COLOG_EINVAL);
    c = *colog_store_config(st);
    c.after_cold = 7;
    cr_assert_eq(colog_store_set_config(st, &c), COLOG_EINVAL);
    c = *colog_store_config(st);
    snprintf(c.cold_dir, sizeof c.cold_dir, "relative/dir");
    cr_assert_eq(colog_store_set_config(st, &c), COLOG_EINVAL);
    c = *colog_store_config(st);
    c.hot_days = 3;
    c.cold_days = 7;
    c.after_cold = COLOG_AFTER_ARCHIVE;
    cr_assert_eq(colog_store_set_config(st, &c), 0, "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_store_config(st)->hot_days, 3, "written to colog.conf");
    cr_assert_eq(colog_store_config(st)->cold_days, 7);
    cr_assert_eq(colog_store_config(st)->after_cold, COLOG_AFTER_ARCHIVE);
    colog_store_close(st);
    /* The cold dir cannot change while the cold tier holds days. */
    ingest_days(0, 1, 10);
    retain(at_day(5), false);
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    c = *colog_store_config(st);
    snprintf(c.cold_dir, sizeof c.cold_dir, "/tmp/elsewhere-%d", (int)getpid());
    cr_assert_eq(colog_store_set_config(st, &c), COLOG_EINVAL);
    cr_assert_not_null(strstr(colog_errmsg(), "holds 1 days"), "%s", colog_errmsg());
    colog_store_close(st);
}

Test(retain, archive_policy_and_restore_after_a_move)
{
    ingest_days(0, 2, 60);
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_config_t c = *colog_store_config(st);
    c.after_cold = COLOG_AFTER_ARCHIVE;
    cr_assert_eq(colog_store_set_config(st, &c), 0, "%s", colog_errmsg());
    colog_store_close(st);
    /* now = day 31 01:00: day 0 (0 + 1 + 30 <= 31) is archived. */
    colog_retain_stats_t s = retain(at_day(31), false);
    cr_assert_eq(s.archived, 1);
    char arch[400], arch2[400];
    snprintf(arch, sizeof arch, "%s/archive/colog-2026-01-01.tar", dir);
    snprintf(arch2, sizeof arch2, "%s/archive/colog-2026-01-01.1.tar", dir);
    colog_archive_info_t info;
    cr_assert_eq(colog_archive_verify(arch, NULL, NULL, &info), 0, "%s", colog_errmsg());
    cr_assert_eq(info.rows, cnt[0]);
    /* Restore: back with every row; restoring again adds nothing, even after
     * the restored part was moved (merged into a new cold part). */
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_restore(st, arch, &info), 0, "%s", colog_errmsg());
    cr_assert_eq(day_info(st, 0).sum, sum[0]);
    colog_store_close(st);
    ingest_days(0, 1, 5); /* late events: the next retain run merges day 0 */
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_hold_t *h;
    size_t nh;
    cr_assert_eq(colog_hold_list(st, &h, &nh), 0);
    free(h);
    uint64_t hid;
    cr_assert_eq(colog_hold_add(st, DAY0, DAY0, "keep while we look", &hid), 0);
    colog_store_close(st);
    s = retain(at_day(31), false);
    cr_assert_eq(s.moved, 1, "held, but moved to cold (merging the restored part)");
    cr_assert_eq(s.held, 1, "the move of a day past cold_days is reported as held");
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    cr_assert_eq(day_info(st, 0).cold, 1);
    cr_assert_eq(colog_restore(st, arch, &info), 0, "%s", colog_errmsg());
    dayinfo_t i = day_info(st, 0);
    cr_assert_eq(i.rows, cnt[0], "no row doubled: %llu vs %llu", (unsigned long long)i.rows,
                 (unsigned long long)cnt[0]);
    cr_assert_eq(i.sum, sum[0]);
    cr_assert_eq(colog_hold_remove(st, hid, "done"), 0);
    colog_store_close(st);
    /* Leaving again writes a second archive, never over the first. */
    cr_assert_eq(retain(at_day(31), false).archived, 1);
    cr_assert_eq(colog_archive_verify(arch2, NULL, NULL, &info), 0, "%s", colog_errmsg());
    cr_assert_eq(info.rows, cnt[0]);
}
