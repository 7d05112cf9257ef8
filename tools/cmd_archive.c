/*
 * cmd_archive.c — `colog archive STORE --day DAY --out FILE [--remove]` writes one
 * day as one self-contained, verifiable tar file (and with --remove takes the day
 * out of the store); `colog restore STORE FILE` brings an archived day back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void hex32(const uint8_t b[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[64] = 0;
}

/* "1 part, 8640 rows, 14 files, 1.2 MB" */
static void describe(const colog_archive_info_t *in, char *buf, size_t cap)
{
    char size[32];
    cli_human_bytes(in->bytes, size, sizeof size);
    snprintf(buf, cap, "%llu part%s, %llu rows, %llu files, %s", (unsigned long long)in->parts,
             in->parts == 1 ? "" : "s", (unsigned long long)in->rows, (unsigned long long)in->files,
             size);
}

int cmd_archive(int argc, char **argv)
{
    const char *store = NULL, *out = NULL, *v;
    int32_t day = 0;
    bool have_day = false, remove = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--day", &v)) {
            if (v == NULL || colog_day_parse(v, strlen(v), &day) != 0)
                return cli_usage("archive: --day needs a date YYYY-MM-DD");
            have_day = true;
        } else if (cli_opt(argc, argv, &i, "--out", &v)) {
            if (v == NULL || v[0] == 0)
                return cli_usage("archive: --out needs a file name");
            out = v;
        } else if (strcmp(argv[i], "--remove") == 0) {
            remove = true;
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            return cli_usage("archive: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else {
            return cli_usage("archive: unexpected argument '%s'", argv[i]);
        }
    }
    if (store == NULL || !have_day || out == NULL)
        return cli_usage("archive: usage: colog archive STORE --day YYYY-MM-DD --out FILE "
                         "[--remove]");
    /* The ledger records the archive: give it a path that means something later. */
    char path[4096];
    int rc = cli_abspath("archive", "--out", out, path, sizeof path);
    if (rc)
        return rc;
    colog_store_t *st;
    rc = colog_store_open(&st, store, COLOG_OPEN_WRITE);
    if (rc)
        return cli_fail("archive", rc);
    colog_archive_info_t info;
    memset(&info, 0, sizeof info);
    int status = EXIT_OK;
    rc = colog_archive_day(st, day, path, remove, &info);
    if (rc) {
        status = cli_fail("archive", rc);
    } else {
        char d[16], what[256], sha[65];
        colog_day_format(info.day, d, sizeof d);
        describe(&info, what, sizeof what);
        hex32(info.sha256, sha);
        printf("archived %s to %s: %s%s\n", d, path, what,
               remove ? "; removed from the store" : "");
        printf("sha256 %s\n", sha);
    }
    colog_store_close(st);
    return status;
}

int cmd_restore(int argc, char **argv)
{
    const char *store = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != 0)
            return cli_usage("restore: unknown option '%s'", argv[i]);
        else if (store == NULL)
            store = argv[i];
        else if (file == NULL)
            file = argv[i];
        else
            return cli_usage("restore: unexpected argument '%s'", argv[i]);
    }
    if (store == NULL || file == NULL)
        return cli_usage("restore: usage: colog restore STORE FILE");
    colog_store_t *st;
    int rc = colog_store_open(&st, store, COLOG_OPEN_WRITE);
    if (rc)
        return cli_fail("restore", rc);
    colog_archive_info_t info;
    memset(&info, 0, sizeof info);
    int status = EXIT_OK;
    rc = colog_restore(st, file, &info);
    if (rc) {
        status = cli_fail("restore", rc);
    } else {
        char d[16], what[256], sha[65];
        colog_day_format(info.day, d, sizeof d);
        describe(&info, what, sizeof what);
        hex32(info.sha256, sha);
        if (info.added == 0)
            printf("nothing to restore: %s from %s is in the store already (%s)\n", d, file, what);
        else
            printf("restored %s from %s: %llu of %llu parts added; %s\n", d, file,
                   (unsigned long long)info.added, (unsigned long long)info.parts, what);
        printf("sha256 %s\n", sha);
    }
    colog_store_close(st);
    return status;
}
