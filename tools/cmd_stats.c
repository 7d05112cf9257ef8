/*
 * cmd_stats.c — `colog stats STORE [--format table|json]`: per tier and day, the
 * parts, rows, bytes on disk and bytes per event, and the totals.
 *
 * A day with parts in both tiers (late events for a cold day land in hot until
 * the next retain) gives two rows, hot first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct daystat {
    int32_t day;
    colog_tier_t tier;
    uint64_t parts, rows, bytes;
} daystat_t;

static double per_event(uint64_t bytes, uint64_t rows)
{
    return rows ? (double)bytes / (double)rows : 0.0;
}

int cmd_stats(int argc, char **argv)
{
    const char *store = NULL, *v;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--format", &v)) {
            if (v && strcmp(v, "json") == 0)
                json = true;
            else if (!(v && strcmp(v, "table") == 0))
                return cli_usage("stats: --format must be table or json");
        } else if (argv[i][0] == '-') {
            return cli_usage("stats: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else {
            return cli_usage("stats: unexpected argument '%s'", argv[i]);
        }
    }
    if (store == NULL)
        return cli_usage("stats: usage: colog stats STORE [--format table|json]");
    colog_store_t *st;
    int rc = colog_store_open(&st, store, COLOG_OPEN_READ);
    if (rc)
        return cli_fail("stats", rc);
    int32_t *days = NULL;
    size_t ndays = 0;
    int status = EXIT_OK;
    daystat_t *ds = NULL;
    rc = colog_store_days(st, &days, &ndays);
    if (rc) {
        status = cli_fail("stats", rc);
        goto out;
    }
    ds = calloc(ndays ? 2 * ndays : 1, sizeof *ds); /* at most one row per tier and day */
    if (ds == NULL) {
        status = cli_usage("stats: out of memory");
        goto out;
    }
    daystat_t tot = {0, COLOG_TIER_HOT, 0, 0, 0};
    size_t nrows = 0;
    for (size_t i = 0; i < ndays; i++) {
        colog_snap_t *snap;
        rc = colog_snap_day(st, days[i], 0, &snap); /* manifests only */
        if (rc) {
            status = cli_fail("stats", rc);
            goto out;
        }
        daystat_t t[2] = {{days[i], COLOG_TIER_HOT, 0, 0, 0}, {days[i], COLOG_TIER_COLD, 0, 0, 0}};
        size_t np = colog_snap_nparts(snap);
        for (size_t k = 0; k < np; k++) {
            colog_part_t *p = colog_snap_part(snap, k);
            daystat_t *x = &t[colog_part_tier(p) == COLOG_TIER_COLD];
            x->parts++;
            x->rows += colog_part_rows(p);
            x->bytes += colog_part_bytes(p);
        }
        colog_snap_free(snap);
        for (int k = 0; k < 2; k++) {
            if (t[k].parts == 0 && !(k == 0 && np == 0)) /* an empty day: one hot row */
                continue;
            ds[nrows++] = t[k];
            tot.parts += t[k].parts;
            tot.rows += t[k].rows;
            tot.bytes += t[k].bytes;
        }
    }
    char d[16];
    if (json) {
        printf("{\"store\":\"%s\",\"schema\":\"%s\",\"days\":[", store,
               colog_store_schema(st)->name);
        for (size_t i = 0; i < nrows; i++) {
            colog_day_format(ds[i].day, d, sizeof d);
            printf("%s\n{\"tier\":\"%s\",\"day\":\"%s\",\"parts\":%llu,\"rows\":%llu,"
                   "\"bytes\":%llu,\"bytes_per_event\":%.2f}",
                   i ? "," : "", colog_tier_name(ds[i].tier), d, (unsigned long long)ds[i].parts,
                   (unsigned long long)ds[i].rows, (unsigned long long)ds[i].bytes,
                   per_event(ds[i].bytes, ds[i].rows));
        }
        printf("],\n\"total\":{\"parts\":%llu,\"rows\":%llu,\"bytes\":%llu,"
               "\"bytes_per_event\":%.2f}}\n",
               (unsigned long long)tot.parts, (unsigned long long)tot.rows,
               (unsigned long long)tot.bytes, per_event(tot.bytes, tot.rows));
    } else {
        printf("%-5s  %-10s  %6s  %12s  %14s  %11s\n", "tier", "day", "parts", "rows", "bytes",
               "bytes/event");
        for (size_t i = 0; i < nrows; i++) {
            colog_day_format(ds[i].day, d, sizeof d);
            printf("%-5s  %-10s  %6llu  %12llu  %14llu  %11.2f\n", colog_tier_name(ds[i].tier), d,
                   (unsigned long long)ds[i].parts, (unsigned long long)ds[i].rows,
                   (unsigned long long)ds[i].bytes, per_event(ds[i].bytes, ds[i].rows));
        }
        printf("%-5s  %-10s  %6llu  %12llu  %14llu  %11.2f\n", "total", "",
               (unsigned long long)tot.parts, (unsigned long long)tot.rows,
               (unsigned long long)tot.bytes, per_event(tot.bytes, tot.rows));
    }
out:
    free(ds);
    free(days);
    colog_store_close(st);
    return status;
}
