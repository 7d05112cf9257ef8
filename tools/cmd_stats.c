/*
 * cmd_stats.c — `colog stats STORE [--format table|json]`: per tier and day, the
 * parts, rows, bytes on disk and bytes per event, and the totals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct daystat {
    int32_t day;
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
    ds = calloc(ndays ? ndays : 1, sizeof *ds);
    if (ds == NULL) {
        status = cli_usage("stats: out of memory");
        goto out;
    }
    daystat_t tot = {0, 0, 0, 0};
    for (size_t i = 0; i < ndays; i++) {
        colog_snap_t *snap;
        rc = colog_snap_day(st, days[i], 0, &snap); /* manifests only */
        if (rc) {
            status = cli_fail("stats", rc);
            goto out;
        }
        ds[i].day = days[i];
        ds[i].parts = colog_snap_nparts(snap);
        for (size_t k = 0; k < ds[i].parts; k++) {
            colog_part_t *p = colog_snap_part(snap, k);
            ds[i].rows += colog_part_rows(p);
            ds[i].bytes += colog_part_bytes(p);
        }
        colog_snap_free(snap);
        tot.parts += ds[i].parts;
        tot.rows += ds[i].rows;
        tot.bytes += ds[i].bytes;
    }
    char d[16];
    if (json) {
        printf("{\"store\":\"%s\",\"schema\":\"%s\",\"days\":[", store,
               colog_store_schema(st)->name);
        for (size_t i = 0; i < ndays; i++) {
            colog_day_format(ds[i].day, d, sizeof d);
            printf("%s\n{\"tier\":\"hot\",\"day\":\"%s\",\"parts\":%llu,\"rows\":%llu,"
                   "\"bytes\":%llu,\"bytes_per_event\":%.2f}",
                   i ? "," : "", d, (unsigned long long)ds[i].parts, (unsigned long long)ds[i].rows,
                   (unsigned long long)ds[i].bytes, per_event(ds[i].bytes, ds[i].rows));
        }
        printf("],\n\"total\":{\"parts\":%llu,\"rows\":%llu,\"bytes\":%llu,"
               "\"bytes_per_event\":%.2f}}\n",
               (unsigned long long)tot.parts, (unsigned long long)tot.rows,
               (unsigned long long)tot.bytes, per_event(tot.bytes, tot.rows));
    } else {
        printf("%-5s  %-10s  %6s  %12s  %14s  %11s\n", "tier", "day", "parts", "rows", "bytes",
               "bytes/event");
        for (size_t i = 0; i < ndays; i++) {
            colog_day_format(ds[i].day, d, sizeof d);
            printf("%-5s  %-10s  %6llu  %12llu  %14llu  %11.2f\n", "hot", d,
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
