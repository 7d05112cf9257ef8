/*
 * cmd_ingest.c — `colog ingest STORE [--format csv|ndjson|auto|NAME] [--rejects
 * FILE] [--batch-rows N] [--now TIME] [--acks] [FILE...]`: append events.
 *
 * No FILE, or "-", reads stdin. Rejected rows go to the --rejects file as
 * "FILE:LINE:COL: reason" lines (or, without it, the first few to stderr); the
 * good rows are kept and the exit status is 3.
 *
 * csv and ndjson are read by the library (colog_ingest_file). A log format
 * NAME (norm.h: netscreen, srx, asa, ...) or auto (detected line by line) is
 * read here, one line at a time of any length, through the normalizer driver
 * (norm_ingest_line); year-less syslog times take their year from --now (or
 * the clock), zone-less times are in the store's zone. Lines of a known format
 * that are not traffic records are counted as skipped.
 *
 * --acks prints "acked N" on stdout (flushed) each time the first N input rows,
 * across all the FILEs in order, are handled for good: accepted ones in
 * committed parts, rejected ones reported (colog_ack_fn; no write-ahead log, so
 * at least once per batch, and once more at the end). For csv and ndjson, N
 * counts data rows as the library does (CSV records after the header, NDJSON
 * lines that are not blank). For log formats, N counts lines, blank, skipped
 * and rejected ones included: each line gives the library one row (accepted or
 * rejected) or none (skipped), so the library's row counts are turned into
 * line counts through marks, kept from the reader's thread for the rows not yet
 * acknowledged (acks_t).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "norm.h"

typedef struct rejects {
    FILE *f; /* --rejects file, or NULL for stderr */
    uint64_t n;
} rejects_t;

#define STDERR_REJECTS 20

static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *why)
{
    rejects_t *r = ctx;
    r->n++;
    FILE *f = r->f;
    if (f == NULL) {
        if (r->n > STDERR_REJECTS)
            return;
        f = stderr;
        fputs("colog: ingest: rejected: ", f);
    }
    if (col)
        fprintf(f, "%s:%llu:%llu: %s\n", src, (unsigned long long)line, (unsigned long long)col,
                why);
    else
        fprintf(f, "%s:%llu: %s\n", src, (unsigned long long)line, why);
}

/*
 * --acks. The library calls ack_rows from its writer thread (or the caller's,
 * at the end) while the reader's thread goes on, so the state is under mu.
 * Log formats: a mark (row, line) says that library row `row` came from input
 * line `line`, and so did each later row r from line + (r - row) until the next
 * mark: a mark is added when a row follows a skipped line (or is the first).
 * Rows [0, N) handled means lines up to the one before the line of row N + 1,
 * or, if that row is not read yet, every line read to the end (no line in
 * progress has given the library a row that N counts: the library counts a
 * handover's rows before the row that triggers it).
 */
typedef struct mark {
    uint64_t row, line;
} mark_t;

typedef struct acks {
    pthread_mutex_t mu;
    bool lines;      /* count input lines (log formats), not library rows */
    uint64_t last;   /* the last N printed */
    uint64_t rows;   /* library rows given by the lines done (log formats) */
    uint64_t nlines; /* lines done */
    mark_t *marks;   /* marks[head .. n): rows not yet acknowledged */
    size_t head, n, cap;
    int err; /* out of memory for marks: no more acks */
} acks_t;

static void ack_print(acks_t *a, uint64_t n)
{
    if (n <= a->last)
        return;
    a->last = n;
    printf("acked %llu\n", (unsigned long long)n);
    fflush(stdout);
}

/* colog_ack_fn: rows [0, rows) of the library's count are handled. */
static void ack_rows(void *ctx, uint64_t rows)
{
    acks_t *a = ctx;
    pthread_mutex_lock(&a->mu);
    if (!a->lines) {
        ack_print(a, rows);
    } else if (a->err == 0) {
        uint64_t want = rows + 1, line = a->nlines;
        if (want <= a->rows) { /* row rows + 1 is read: a mark covers it */
            while (a->n - a->head >= 2 && a->marks[a->head + 1].row <= want)
                a->head++;
            const mark_t *m = &a->marks[a->head];
            line = m->line + (want - m->row) - 1;
        }
        ack_print(a, line);
    }
    pthread_mutex_unlock(&a->mu);
}

/* A line is done; it gave the library `got` rows (0 or 1). */
static void ack_line(acks_t *a, uint64_t got)
{
    pthread_mutex_lock(&a->mu);
    a->nlines++;
    a->rows += got;
    const mark_t *m = a->n > 0 ? &a->marks[a->n - 1] : NULL;
    if (got && a->err == 0 && (m == NULL || m->line - m->row != a->nlines - a->rows)) {
        if (a->n == a->cap && a->head > 0) { /* drop the marks no ack needs any more */
            memmove(a->marks, a->marks + a->head, (a->n - a->head) * sizeof *a->marks);
            a->n -= a->head;
            a->head = 0;
        }
        if (a->n == a->cap) {
            size_t nc = a->cap ? 2 * a->cap : 256;
            mark_t *nm = realloc(a->marks, nc * sizeof *nm);
            if (nm == NULL) {
                a->err = COLOG_ENOMEM;
                fputs("colog: ingest: out of memory for --acks: no more acks\n", stderr);
            } else {
                a->marks = nm;
                a->cap = nc;
            }
        }
        if (a->err == 0)
            a->marks[a->n++] = (mark_t){a->rows, a->nlines};
    }
    pthread_mutex_unlock(&a->mu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Progress on a terminal: the input is read through a FILE that counts the bytes
 * (fopencookie), and a line on stderr is redrawn at most twice a second. */
typedef struct progress {
    FILE *in;
    const char *name;
    uint64_t bytes, total; /* total: file size, 0 for a pipe */
    double t0, last;
} progress_t;

static ssize_t progress_read(void *cookie, char *buf, size_t n)
{
    progress_t *p = cookie;
    size_t k = fread(buf, 1, n, p->in);
    p->bytes += k;
    double t = now_s();
    if (t - p->last >= 0.5) {
        p->last = t;
        double mb = (double)p->bytes / 1e6, rate = mb / (t - p->t0 > 0 ? t - p->t0 : 1);
        if (p->total)
            fprintf(stderr, "\r%s: %.0f%% (%.0f of %.0f MB, %.0f MB/s)   ", p->name,
                    100.0 * (double)p->bytes / (double)p->total, mb, (double)p->total / 1e6, rate);
        else
            fprintf(stderr, "\r%s: %.0f MB (%.0f MB/s)   ", p->name, mb, rate);
    }
    if (k == 0 && ferror(p->in))
        return -1;
    return (ssize_t)k;
}

static int progress_close(void *cookie)
{
    progress_t *p = cookie;
    if (p->last > 0)
        fputs("\r\033[K", stderr); /* erase the progress line */
    return 0;
}

/* Read f line by line into the normalizer session, telling acks (may be NULL)
 * about each line. 0 or a negative error. */
static int ingest_lines(norm_session_t *ns, FILE *f, const char *src, acks_t *acks)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n;
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        uint64_t before = ns->stats.records + ns->stats.rejected;
        rc = norm_ingest_line(ns, line, len, src, lineno);
        if (rc < 0)
            break;
        rc = 0;
        if (acks)
            ack_line(acks, ns->stats.records + ns->stats.rejected - before);
    }
    if (rc == 0 && ferror(f)) {
        int e = errno ? errno : EIO;
        rc = colog_seterr(-e, "%s: read error: %s", src, strerror(e));
    }
    free(line);
    return rc;
}

/* "netscreen, srx, ..." for messages. */
static void format_names(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; norm_formats[i] && used < cap; i++) {
        int k = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", norm_formats[i]->name);
        used += k > 0 ? (size_t)k : 0;
    }
}

static colog_infmt_t guess_format(const char *path)
{
    size_t n = strlen(path);
    if ((n > 7 && strcmp(path + n - 7, ".ndjson") == 0) ||
        (n > 6 && strcmp(path + n - 6, ".jsonl") == 0) ||
        (n > 5 && strcmp(path + n - 5, ".json") == 0))
        return COLOG_IN_NDJSON;
    return COLOG_IN_CSV;
}

int cmd_ingest(int argc, char **argv)
{
    const char *store = NULL, *rejects_path = NULL, *v;
    colog_infmt_t fmt = 0;
    const norm_format_t *nfmt = NULL;
    bool lines = false; /* a log format (nfmt) or auto (nfmt NULL) */
    colog_ingest_opts_t opts;
    memset(&opts, 0, sizeof opts);
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, rc, status = EXIT_OK;
    bool want_acks = false;
    if (files == NULL)
        return cli_usage("ingest: out of memory");
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--format", &v)) {
            fmt = 0, lines = false, nfmt = NULL; /* the last --format wins */
            if (v && strcmp(v, "csv") == 0)
                fmt = COLOG_IN_CSV;
            else if (v && strcmp(v, "ndjson") == 0)
                fmt = COLOG_IN_NDJSON;
            else if (v && strcmp(v, "auto") == 0)
                lines = true;
            else if (v && (nfmt = norm_find(v)) != NULL)
                lines = true;
            else {
                char names[256];
                format_names(names, sizeof names);
                free(files);
                return cli_usage("ingest: --format must be csv, ndjson, auto or a log format (%s)",
                                 names);
            }
        } else if (cli_opt(argc, argv, &i, "--rejects", &v)) {
            if (v == NULL) {
                free(files);
                return cli_usage("ingest: --rejects needs a file");
            }
            rejects_path = v;
        } else if (cli_opt(argc, argv, &i, "--batch-rows", &v)) {
            char *end;
            unsigned long n = v ? strtoul(v, &end, 10) : 0;
            if (v == NULL || *end || n == 0 || n > (1ul << 26)) {
                free(files);
                return cli_usage("ingest: --batch-rows must be 1..67108864");
            }
            opts.batch_rows = n;
        } else if (cli_opt(argc, argv, &i, "--now", &v)) {
            if (v == NULL || colog_time_parse(v, strlen(v), 0, &opts.now_us) != 0) {
                free(files);
                return cli_usage("ingest: --now needs a time (RFC 3339 or epoch seconds)");
            }
        } else if (strcmp(argv[i], "--acks") == 0) {
            want_acks = true;
        } else if (strcmp(argv[i], "-") != 0 && argv[i][0] == '-') {
            free(files);
            return cli_usage("ingest: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (store == NULL) {
        free(files);
        return cli_usage("ingest: which store? usage: colog ingest STORE [FILE...]");
    }
    if (nfiles == 0)
        files[nfiles++] = "-";
    rejects_t rj = {NULL, 0};
    if (rejects_path) {
        rj.f = fopen(rejects_path, "w");
        if (rj.f == NULL) {
            free(files);
            fprintf(stderr, "colog: ingest: %s: %s\n", rejects_path, strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    opts.reject = on_reject;
    opts.reject_ctx = &rj;
    acks_t acks = {.lines = lines};
    pthread_mutex_init(&acks.mu, NULL);
    if (want_acks) {
        opts.ack = ack_rows;
        opts.ack_ctx = &acks;
    }
    colog_store_t *st;
    colog_ingest_t *ing = NULL;
    colog_ingest_stats_t stats;
    memset(&stats, 0, sizeof stats);
    colog_tz_t *tz = NULL;
    norm_session_t *ns = NULL;
    double t0 = now_s();
    rc = colog_store_open(&st, store, COLOG_OPEN_WRITE);
    if (rc) {
        status = cli_fail("ingest", rc);
        goto out_rejects;
    }
    rc = colog_ingest_begin(st, &opts, &ing);
    if (rc) {
        status = cli_fail("ingest", rc);
        goto out_store;
    }
    if (lines) {
        ns = malloc(sizeof *ns);
        if (ns == NULL)
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        else if ((rc = colog_tz_open(colog_store_config(st)->tz, &tz)) == 0)
            rc = norm_session_init(ns, ing, colog_store_schema(st), nfmt, tz);
        if (rc) {
            status = cli_fail("ingest", rc);
            nfiles = 0; /* nothing to read; the empty session is finished below */
        } else if (opts.now_us) {
            ns->env.now_us = opts.now_us;
        }
    }
    for (int i = 0; i < nfiles && status == EXIT_OK; i++) {
        bool is_stdin = strcmp(files[i], "-") == 0;
        FILE *f = is_stdin ? stdin : fopen(files[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "colog: ingest: %s: %s\n", files[i], strerror(errno));
            status = EXIT_RUNTIME;
            break;
        }
        colog_infmt_t ff = fmt ? fmt : is_stdin ? COLOG_IN_CSV : guess_format(files[i]);
        progress_t pg = {f, is_stdin ? "<stdin>" : files[i], 0, 0, now_s(), 0};
        FILE *rf = f;
        if (isatty(STDERR_FILENO) && !want_acks) { /* acks: the library reads pipes itself */
            struct stat sb;
            if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
                pg.total = (uint64_t)sb.st_size;
            cookie_io_functions_t io = {.read = progress_read, .close = progress_close};
            FILE *pf = fopencookie(&pg, "r", io);
            if (pf) {
                setvbuf(pf, NULL, _IOFBF, 1 << 20);
                rf = pf;
            }
        }
        if (lines)
            rc = ingest_lines(ns, rf, is_stdin ? "<stdin>" : files[i], want_acks ? &acks : NULL);
        else
            rc = colog_ingest_file(ing, rf, is_stdin ? "<stdin>" : files[i], ff);
        if (rf != f)
            fclose(rf);
        if (!is_stdin)
            fclose(f);
        if (rc) {
            status = cli_fail("ingest", rc);
            /* A file whose header cannot be read (bad quoting, bad UTF-8) is a
             * bad input like one naming an unknown column (COLOG_ESCHEMA): exit 2,
             * not the runtime failure (1) of I/O or corruption. Rows are rejects. */
            if (rc == COLOG_EPARSE)
                status = EXIT_USAGE;
        }
    }
    /* Rows already accepted are kept even when a later file fails. */
    rc = colog_ingest_finish(ing, &stats);
    if (rc && status == EXIT_OK)
        status = cli_fail("ingest", rc);
    colog_tz_free(tz);
out_store:
    colog_store_close(st);
out_rejects:
    if (rj.f && fclose(rj.f) != 0 && status == EXIT_OK) {
        fprintf(stderr, "colog: ingest: %s: %s\n", rejects_path, strerror(errno));
        status = EXIT_RUNTIME;
    }
    double dt = now_s() - t0;
    if (status == EXIT_OK || status == EXIT_REJECTS) {
        if (lines)
            fprintf(stderr,
                    "colog: ingested %llu rows (%llu rejected), %llu skipped (not traffic), in "
                    "%.2f s, %.0f rows/s\n",
                    (unsigned long long)stats.rows_ok, (unsigned long long)stats.rows_rejected,
                    (unsigned long long)(ns ? ns->stats.skipped : 0), dt,
                    dt > 0 ? (double)stats.rows_ok / dt : 0.0);
        else
            fprintf(stderr, "colog: ingested %llu rows (%llu rejected) in %.2f s, %.0f rows/s\n",
                    (unsigned long long)stats.rows_ok, (unsigned long long)stats.rows_rejected, dt,
                    dt > 0 ? (double)stats.rows_ok / dt : 0.0);
        if (rj.f == NULL && rj.n > STDERR_REJECTS)
            fprintf(stderr, "colog: ingest: ... and %llu more rejected rows (use --rejects FILE)\n",
                    (unsigned long long)(rj.n - STDERR_REJECTS));
        if (stats.rows_rejected)
            status = EXIT_REJECTS;
    }
    free(acks.marks);
    pthread_mutex_destroy(&acks.mu);
    free(ns);
    free(files);
    return status;
}
