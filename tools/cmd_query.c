/*
 * cmd_query.c — `colog query STORE 'QUERY' [--format table|csv|json|ndjson]
 * [--tz ZONE] [--now TIME]`: run a query (docs/QUERY.md).
 *
 * The zone is --tz, else the store's default, else UTC. --now anchors `last N`
 * (for reproducible runs); it defaults to the wall clock. --file FILE (or `-`,
 * stdin) reads the query from a file instead: a command line argument is capped
 * by the kernel at 128 KiB, a query at 1 MiB (long `in` lists).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Read the query text of --file (`-`: stdin) into a malloc'ed C string. One byte
 * more than the parser takes is read, so that a longer file gets the parser's
 * "query too long"; a NUL byte would end the text early and is refused. */
static int read_query_file(const char *path, char **out)
{
    bool in = strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "rb");
    if (f == NULL)
        return cli_usage("query: --file %s: %s", path, strerror(errno));
    size_t cap = (size_t)COLOG_QUERY_TEXT_MAX + 2, n = 0;
    char *buf = malloc(cap);
    if (buf != NULL)
        n = fread(buf, 1, cap - 1, f);
    int err = ferror(f);
    if (!in)
        fclose(f);
    if (buf == NULL)
        return cli_usage("query: out of memory");
    if (err) { /* a directory, an I/O error: a runtime failure, not a bad query */
        int e = errno;
        free(buf);
        fprintf(stderr, "colog: query: --file %s: %s\n", in ? "<stdin>" : path,
                e ? strerror(e) : "read error");
        return EXIT_RUNTIME;
    }
    const char *nul = memchr(buf, '\0', n);
    if (nul != NULL) {
        size_t at = (size_t)(nul - buf);
        free(buf);
        return cli_usage("query: --file %s: NUL byte at offset %zu", in ? "<stdin>" : path, at);
    }
    buf[n] = 0;
    size_t k = 0;
    while (k < n && strchr(" \t\r\n", buf[k]) != NULL)
        k++;
    if (k == n) { /* an empty query lists every event: never from an empty file */
        free(buf);
        return cli_usage("query: --file %s: no query in it", in ? "<stdin>" : path);
    }
    *out = buf;
    return 0;
}

int cmd_query(int argc, char **argv)
{
    const char *store = NULL, *text = NULL, *tzname = NULL, *qfile = NULL, *v;
    char *ftext = NULL;
    colog_outfmt_t fmt = COLOG_OUT_TABLE;
    int64_t now = 0;
    colog_run_opts_t ro = {.format = COLOG_OUT_TABLE, .out = stdout};
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--format", &v)) {
            if (v && strcmp(v, "table") == 0)
                fmt = COLOG_OUT_TABLE;
            else if (v && strcmp(v, "csv") == 0)
                fmt = COLOG_OUT_CSV;
            else if (v && strcmp(v, "json") == 0)
                fmt = COLOG_OUT_JSON;
            else if (v && strcmp(v, "ndjson") == 0)
                fmt = COLOG_OUT_NDJSON;
            else
                return cli_usage("query: --format must be table, csv, json or ndjson");
        } else if (cli_opt(argc, argv, &i, "--file", &v)) {
            if (v == NULL || !v[0])
                return cli_usage("query: --file needs a file name (or - for stdin)");
            qfile = v;
        } else if (cli_opt(argc, argv, &i, "--tz", &v)) {
            if (v == NULL)
                return cli_usage("query: --tz needs a zone (Asia/Tokyo, +09:00, UTC)");
            tzname = v;
        } else if (cli_opt(argc, argv, &i, "--now", &v)) {
            if (v == NULL || colog_time_parse(v, strlen(v), 0, &now) != 0)
                return cli_usage("query: --now needs a time (RFC 3339 or epoch seconds)");
        } else if (cli_opt(argc, argv, &i, "--threads", &v)) {
            char *end;
            unsigned long n = v ? strtoul(v, &end, 10) : 0;
            if (v == NULL || *end || n == 0 || n > 256)
                return cli_usage("query: --threads must be 1..256");
            ro.threads = (unsigned)n;
        } else if (cli_opt(argc, argv, &i, "--mem-mb", &v)) {
            char *end;
            unsigned long n = v ? strtoul(v, &end, 10) : 0;
            if (v == NULL || *end || n < 16 || n > (1ul << 24))
                return cli_usage("query: --mem-mb must be 16..16777216");
            ro.mem_mb = n;
        } else if (cli_opt(argc, argv, &i, "--io", &v)) {
            if (v && strcmp(v, "auto") == 0)
                ro.io_mode = COLOG_IO_AUTO;
            else if (v && strcmp(v, "uring") == 0)
                ro.io_mode = COLOG_IO_URING;
            else if (v && strcmp(v, "pread") == 0)
                ro.io_mode = COLOG_IO_PREAD;
            else
                return cli_usage("query: --io must be auto, uring or pread");
        } else if (strcmp(argv[i], "--no-index") == 0) {
            ro.no_index = true;
        } else if (strcmp(argv[i], "--explain") == 0) {
            ro.explain = true;
        } else if (strcmp(argv[i], "--skip-damaged") == 0) {
            ro.skip_damaged = true;
            ro.warn = stderr;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return cli_usage("query: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else if (text == NULL) {
            text = argv[i];
        } else {
            return cli_usage("query: unexpected argument '%s' (quote the query)", argv[i]);
        }
    }
    if (store == NULL || (text == NULL) == (qfile == NULL))
        return cli_usage("query: usage: colog query STORE 'QUERY' | --file FILE [--format FMT] "
                         "[--tz ZONE]%s",
                         text && qfile ? " (a query or --file, not both)" : "");
    int rc;
    if (qfile != NULL) {
        if ((rc = read_query_file(qfile, &ftext)) != 0)
            return rc;
        text = ftext;
    }
    colog_store_t *st;
    rc = colog_store_open(&st, store, COLOG_OPEN_READ);
    if (rc) {
        free(ftext);
        return cli_fail("query", rc);
    }
    if (tzname == NULL && colog_store_config(st)->tz[0])
        tzname = colog_store_config(st)->tz;
    colog_tz_t *tz = NULL;
    colog_query_t *q = NULL;
    int status = EXIT_OK;
    rc = colog_tz_open(tzname, &tz);
    if (rc) {
        status = cli_usage("query: %s", colog_errmsg());
        goto out_store;
    }
    if (now == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    colog_qerr_t err;
    rc = colog_query_parse(text, colog_store_schema(st), tz, now, &q, &err);
    if (rc == COLOG_EQUERY) {
        colog_qerr_print(stderr, text, &err);
        status = EXIT_USAGE;
        goto out_tz;
    }
    if (rc) {
        status = cli_fail("query", rc);
        goto out_tz;
    }
    ro.format = fmt;
    rc = colog_query_run(q, st, &ro);
    if (rc)
        status = cli_fail("query", rc);
    colog_query_free(q);
out_tz:
    colog_tz_free(tz);
out_store:
    colog_store_close(st);
    free(ftext);
    return status;
}
