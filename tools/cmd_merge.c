/*
 * cmd_merge.c — `colog merge STORE [--day YYYY-MM-DD]`: compact each day's parts
 * into one time-sorted part (ingest also does this once a day has more than
 * COLOG_AUTO_MERGE_PARTS parts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_merge(int argc, char **argv)
{
    const char *store = NULL, *v;
    int32_t only = 0;
    bool have_day = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--day", &v)) {
            if (v == NULL || colog_day_parse(v, strlen(v), &only) != 0)
                return cli_usage("merge: --day needs a date YYYY-MM-DD");
            have_day = true;
        } else if (argv[i][0] == '-') {
            return cli_usage("merge: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else {
            return cli_usage("merge: unexpected argument '%s'", argv[i]);
        }
    }
    if (store == NULL)
        return cli_usage("merge: usage: colog merge STORE [--day YYYY-MM-DD]");
    colog_store_t *st;
    int rc = colog_store_open(&st, store, COLOG_OPEN_WRITE);
    if (rc)
        return cli_fail("merge", rc);
    int32_t *days = NULL;
    size_t ndays = 0, nmerged = 0;
    int status = EXIT_OK;
    rc = colog_store_days(st, &days, &ndays);
    if (rc)
        status = cli_fail("merge", rc);
    for (size_t i = 0; i < ndays && status == EXIT_OK; i++) {
        if (have_day && days[i] != only)
            continue;
        bool merged;
        if (isatty(STDERR_FILENO)) {
            char d[16];
            colog_day_format(days[i], d, sizeof d);
            fprintf(stderr, "\rmerging %s (%zu of %zu days)   ", d, i + 1, ndays);
        }
        rc = colog_store_merge_day(st, days[i], 0, &merged);
        if (rc) {
            status = cli_fail("merge", rc);
            break;
        }
        nmerged += merged;
    }
    if (isatty(STDERR_FILENO))
        fputs("\r\033[K", stderr);
    if (status == EXIT_OK)
        fprintf(stderr, "colog: merged %zu day%s\n", nmerged, nmerged == 1 ? "" : "s");
    free(days);
    colog_store_close(st);
    return status;
}
