/*
 * cmd_retain.c — `colog retain STORE [--now TIME] [--dry-run]`: apply the tier
 * policy (hot -> cold after hot_days; archive or delete after cold_days; never a
 * held day), one line per day acted on, then a summary.
 *
 * Also the human byte sizes and the progress line that archive and verify share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------- shared helpers */

void cli_human_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
    if (n < 1000) {
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
        return;
    }
    double v = (double)n / 1000.0;
    size_t u = 0;
    while (v >= 999.95 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1000.0;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, units[u]);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(cli_progress_t *p)
{
    p->tty = isatty(STDERR_FILENO) == 1;
    p->shown = false;
    p->last = 0;
}

void cli_progress_show(cli_progress_t *p, const char *what, uint64_t done, uint64_t total)
{
    if (!p->tty)
        return;
    double t = mono_s();
    if (p->shown && t - p->last < 0.2 && done != total)
        return;
    p->last = t;
    p->shown = true;
    if (total)
        fprintf(stderr, "\r%s: %llu of %llu (%.0f%%)   ", what, (unsigned long long)done,
                (unsigned long long)total, 100.0 * (double)done / (double)total);
    else
        fprintf(stderr, "\r%s: %llu   ", what, (unsigned long long)done);
}

void cli_progress_clear(cli_progress_t *p)
{
    if (p->tty && p->shown) {
        fputs("\r\033[K", stderr);
        p->shown = false;
    }
}

/* ---------------------------------------------------------------- retain */

typedef struct retain_ctx {
    cli_progress_t pg;
    bool dry_run;
} retain_ctx_t;

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    retain_ctx_t *r = ctx;
    cli_progress_show(&r->pg, what, done, total);
}

static void on_action(void *ctx, const colog_retain_action_t *a)
{
    retain_ctx_t *r = ctx;
    char d[16], before[32], after[32], what[64 + sizeof a->archive];
    colog_day_format(a->day, d, sizeof d);
    cli_human_bytes(a->bytes_before, before, sizeof before);
    cli_human_bytes(a->bytes_after, after, sizeof after);
    /* Done: "moved", "archived"...; planned (--dry-run): "would move", ... */
    switch (a->kind) {
    case COLOG_RETAIN_MOVE:
        snprintf(what, sizeof what, "%s %s to cold%s", r->dry_run ? "would move" : "moved", d,
                 a->held ? " (held: kept past cold-days)" : "");
        break;
    case COLOG_RETAIN_ARCHIVE:
        snprintf(what, sizeof what, "%s %s to %s", r->dry_run ? "would archive" : "archived", d,
                 a->archive);
        break;
    case COLOG_RETAIN_DELETE:
        snprintf(what, sizeof what, "%s %s", r->dry_run ? "would delete" : "deleted", d);
        break;
    case COLOG_RETAIN_HELD:
        snprintf(what, sizeof what, "%s %s", r->dry_run ? "would hold" : "held", d);
        break;
    default:
        snprintf(what, sizeof what, "action %d on %s", a->kind, d);
        break;
    }
    cli_progress_clear(&r->pg);
    printf("%s: %llu part%s, %llu rows, %s", what, (unsigned long long)a->parts,
           a->parts == 1 ? "" : "s", (unsigned long long)a->rows, before);
    if (a->kind == COLOG_RETAIN_MOVE && !r->dry_run)
        printf(" -> %s", after);
    putchar('\n');
    fflush(stdout);
}

int cmd_retain(int argc, char **argv)
{
    const char *store = NULL, *v;
    retain_ctx_t ctx = {.dry_run = false};
    colog_retain_opts_t opts = {.action = on_action, .progress = on_progress, .ctx = &ctx};
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--now", &v)) {
            if (v == NULL)
                return cli_usage("retain: --now needs a time");
            if (colog_time_parse(v, strlen(v), 0, &opts.now_us) != 0)
                return cli_usage("retain: --now: '%s' is not a time (RFC 3339, epoch seconds or "
                                 "YYYY-MM-DD)",
                                 v);
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            opts.dry_run = true;
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            return cli_usage("retain: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else {
            return cli_usage("retain: unexpected argument '%s'", argv[i]);
        }
    }
    if (store == NULL)
        return cli_usage("retain: usage: colog retain STORE [--now TIME] [--dry-run]");
    ctx.dry_run = opts.dry_run;
    cli_progress_init(&ctx.pg);
    colog_store_t *st;
    int rc = colog_store_open(&st, store, COLOG_OPEN_WRITE);
    if (rc)
        return cli_fail("retain", rc);
    colog_retain_stats_t s;
    memset(&s, 0, sizeof s);
    rc = colog_retain(st, &opts, &s);
    cli_progress_clear(&ctx.pg);
    int status = EXIT_OK;
    if (rc) {
        status = cli_fail("retain", rc);
    } else {
        char freed[32];
        cli_human_bytes(s.bytes_freed, freed, sizeof freed);
        printf("retain: %u moved, %u archived, %u deleted, %u held; %llu rows moved, %llu rows "
               "removed; %s freed%s\n",
               s.moved, s.archived, s.deleted, s.held, (unsigned long long)s.rows_moved,
               (unsigned long long)s.rows_removed, freed,
               opts.dry_run ? " (dry run: nothing changed)" : "");
    }
    colog_store_close(st);
    return status;
}
