/*
 * colog_retain.c — retention tiers: hot -> cold -> archive or delete.
 *
 * NOTES ON THE DESIGN OF RETENTION
 *
 *  1. Age comes from the wall clock (or the caller's now), never from the data:
 *     day D is older than N days when D + 1 + N <= now in days, i.e. when its
 *     last microsecond is more than N whole days in the past.
 *  2. A day older than hot_days that still has hot parts is moved: all of its
 *     live parts (hot, and cold ones from an earlier move) are merged into one
 *     new cold part, re-encoded with zstd at cold_zstd_level, that supersedes
 *     them. The cold commit comes first and the superseded parts go after
 *     (colog_store.c invariants 2 and 6), so a query sees every event exactly
 *     once at every moment, and a crash at any point leaves either the old parts
 *     (the move is redone) or the new part plus leftovers (cleaned up).
 *  3. A day older than cold_days leaves the store: archived first when the
 *     policy says so (colog_archive_day writes and fsyncs the file before the
 *     ledger records it), then removed (ledger "delete" first, then the day's
 *     directories renamed away and deleted; recovery finishes an interrupted
 *     removal). A held day never leaves.
 *  4. Re-running does nothing more: every step is decided from what is on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_store_int.h"

#define DAY_US 86400000000LL

static bool older_than(int32_t day, int64_t now_us, uint32_t ndays)
{
    return ((int64_t)day + 1 + (int64_t)ndays) * DAY_US <= now_us;
}

static bool held_by(const colog_hold_t *h, size_t nh, int32_t day)
{
    for (size_t i = 0; i < nh; i++)
        if (h[i].from <= day && day <= h[i].to)
            return true;
    return false;
}

static bool in_sorted(const int32_t *v, size_t n, int32_t day)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == day;
}

/* Bytes on disk of a day in both tiers. */
static uint64_t day_bytes(colog_store_t *st, int32_t day)
{
    char name[16];
    colog_day_format(day, name, sizeof name);
    uint64_t sum = 0;
    for (int t = 0; t < 2; t++) {
        int tfd;
        if (colog__tier_fd(st, (colog_tier_t)t, false, &tfd) == 0)
            sum += colog__du(tfd, name);
    }
    return sum;
}

static int snap_totals(colog_store_t *st, int32_t day, uint64_t *parts, uint64_t *rows)
{
    colog_snap_t *snap;
    int rc = colog_snap_day(st, day, 0, &snap);
    if (rc)
        return rc;
    *parts = colog_snap_nparts(snap);
    *rows = 0;
    for (size_t i = 0; i < *parts; i++)
        *rows += colog_part_rows(colog_snap_part(snap, i));
    colog_snap_free(snap);
    return 0;
}

/* Move a day's parts into one cold part (note 2). */
static int move_day(colog_store_t *st, int32_t day, colog_retain_action_t *a)
{
    int rc = colog__day_cleanup(st, day);
    if (rc)
        return rc;
    colog_snap_t *snap;
    rc = colog_snap_day(st, day, ~(uint64_t)0, &snap);
    if (rc)
        return rc;
    bool merged = false, any_hot = false;
    for (size_t i = 0; i < colog_snap_nparts(snap); i++)
        any_hot |= colog_part_tier(colog_snap_part(snap, i)) == COLOG_TIER_HOT;
    /* No live hot part: an earlier move was interrupted after its commit and
     * the cleanup above removed what it left; nothing to re-encode. */
    if (any_hot)
        rc = colog__merge_snap(st, snap, day, COLOG_TIER_COLD, (int)st->cfg.cold_zstd_level, "move",
                               &merged);
    colog_snap_free(snap);
    if (rc)
        return rc;
    /* The hot directory of the day is empty now: drop it so listings stay short. */
    char name[16];
    colog_day_format(day, name, sizeof name);
    if (unlinkat(st->hotfd, name, AT_REMOVEDIR) == 0)
        rc = colog__fsync_fd(st->hotfd);
    if (rc)
        return colog_seterr(rc, "hot: fsync: %s", colog_strerror(rc));
    a->bytes_after = day_bytes(st, day);
    return 0;
}

static int archive_path(colog_store_t *st, int32_t day, bool dry, char *buf, size_t cap)
{
    char dir[PATH_MAX + 16], name[16];
    if (st->cfg.archive_dir[0])
        snprintf(dir, sizeof dir, "%s", st->cfg.archive_dir);
    else
        snprintf(dir, sizeof dir, "%s/archive", st->path);
    if (!dry && mkdir(dir, 0755) != 0 && errno != EEXIST)
        return colog_seterr(-errno, "%s: %s", dir, strerror(errno));
    colog_day_format(day, name, sizeof name);
    /* Archives are never overwritten (colog_archive_day refuses): a day that
     * comes back (late events, a restore) and leaves again gets the next free
     * name, as does a day whose removal was interrupted after its archive was
     * written (that first file is complete and verifiable). */
    for (unsigned k = 0; k < 10000; k++) {
        int n = k == 0 ? snprintf(buf, cap, "%s/colog-%s.tar", dir, name)
                       : snprintf(buf, cap, "%s/colog-%s.%u.tar", dir, name, k);
        if (n < 0 || (size_t)n >= cap)
            return colog_seterr(COLOG_ELIMIT, "%s: path too long", dir);
        struct stat sb;
        if (stat(buf, &sb) != 0 && errno == ENOENT)
            return 0;
    }
    return colog_seterr(COLOG_ELIMIT, "%s: too many archives of %s", dir, name);
}

int colog_retain(colog_store_t *st, const colog_retain_opts_t *opts, colog_retain_stats_t *stats)
{
    if (st == NULL || opts == NULL)
        return colog_seterr(COLOG_EINVAL, "retain: invalid arguments");
    if (!st->writable)
        return colog_seterr(COLOG_EINVAL, "retain: store not open for writing");
    colog_retain_stats_t sum = {0};
    int64_t now = opts->now_us ? opts->now_us : colog__now_us();
    int32_t *days = NULL, *hot = NULL;
    size_t nd = 0, nhot = 0, nh = 0;
    colog_hold_t *holds = NULL;
    int *plan = NULL;
    int rc = colog_hold_list(st, &holds, &nh);
    if (rc == 0)
        rc = colog_store_days(st, &days, &nd);
    if (rc == 0)
        rc = colog__tier_days(st, COLOG_TIER_HOT, &hot, &nhot);
    if (rc)
        goto out;
    plan = calloc(nd ? nd : 1, sizeof *plan);
    if (plan == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < nd; i++) {
        int32_t d = days[i];
        if (older_than(d, now, st->cfg.cold_days)) {
            if (!held_by(holds, nh, d))
                plan[i] = st->cfg.after_cold == COLOG_AFTER_ARCHIVE ? COLOG_RETAIN_ARCHIVE
                                                                    : COLOG_RETAIN_DELETE;
            else if (in_sorted(hot, nhot, d))
                plan[i] = COLOG_RETAIN_MOVE; /* held days still go cold */
            else
                plan[i] = COLOG_RETAIN_HELD;
        } else if (older_than(d, now, st->cfg.hot_days) && in_sorted(hot, nhot, d)) {
            plan[i] = COLOG_RETAIN_MOVE;
        }
        total += plan[i] != 0 && plan[i] != COLOG_RETAIN_HELD;
    }
    uint64_t done = 0;
    for (size_t i = 0; i < nd; i++) {
        if (plan[i] == 0)
            continue;
        /* A move of a day past cold_days happens only because a hold kept it. */
        colog_retain_action_t a = {.kind = plan[i],
                                   .day = days[i],
                                   .held = plan[i] == COLOG_RETAIN_MOVE &&
                                           older_than(days[i], now, st->cfg.cold_days)};
        rc = snap_totals(st, days[i], &a.parts, &a.rows);
        if (rc)
            goto out;
        a.bytes_before = day_bytes(st, days[i]);
        if (plan[i] == COLOG_RETAIN_HELD) {
            sum.held++; /* older than cold_days, already cold, held: stays */
            a.bytes_after = a.bytes_before;
            if (opts->action)
                opts->action(opts->ctx, &a);
            continue;
        }
        if (!opts->dry_run) {
            switch (plan[i]) {
            case COLOG_RETAIN_MOVE:
                rc = move_day(st, days[i], &a);
                break;
            case COLOG_RETAIN_ARCHIVE: {
                colog_archive_info_t info;
                rc = archive_path(st, days[i], opts->dry_run, a.archive, sizeof a.archive);
                if (rc == 0)
                    rc = colog_archive_day(st, days[i], a.archive, true, &info);
                break;
            }
            case COLOG_RETAIN_DELETE:
                rc = colog__day_remove(st, days[i], "retain", NULL);
                break;
            default:
                break;
            }
            if (rc)
                goto out;
        } else if (plan[i] == COLOG_RETAIN_ARCHIVE) {
            rc = archive_path(st, days[i], opts->dry_run, a.archive, sizeof a.archive);
            if (rc)
                goto out;
        }
        if (plan[i] == COLOG_RETAIN_MOVE) {
            sum.moved++;
            sum.held += a.held;
            sum.rows_moved += a.rows;
        } else {
            if (plan[i] == COLOG_RETAIN_ARCHIVE)
                sum.archived++;
            else
                sum.deleted++;
            sum.rows_removed += a.rows;
        }
        if (!opts->dry_run && a.bytes_before > a.bytes_after)
            sum.bytes_freed += a.bytes_before - a.bytes_after;
        if (opts->action)
            opts->action(opts->ctx, &a);
        done++;
        if (opts->progress)
            opts->progress(opts->ctx, "retain", done, total);
    }
out:
    if (stats)
        *stats = sum;
    free(plan);
    free(days);
    free(hot);
    free(holds);
    return rc;
}
