/*
 * fuzz_csv.c — libFuzzer target: CSV ingest end to end without a store: the
 * reader (colog__csv_*), header mapping, field conversion (colog__value_parse
 * and the JSON number paths), row assembly, and the flush (sort, day split,
 * dictionaries, chunks) into a checking part sink. fuzz_ndjson.c is this file
 * built with FUZZ_NDJSON defined.
 *
 * Input: the file's bytes, read through fmemopen. The schema is the built-in
 * firewall schema plus three columns of the types it lacks (`small u8`,
 * `delta i64 indexed`, `ratio f64`), so a firewall header works as it is and
 * the fuzzer can add the others. batch_rows is 7, so that most inputs flush
 * several times and hand batches to the writer thread; "now" is fixed at
 * 2026-03-02T00:00:00Z. The input's length picks the sink's column API: odd
 * lengths use the per-column handles (col_open .. col_close, from two threads,
 * as the part writer does), even lengths col_begin .. col_end.
 *
 * The sink checks what colog_ingest_int.h promises a sink (abort on violation,
 * so libFuzzer reports it): parts of a flush in ascending day order, each day
 * with a directory name that reads back as the day (colog_day_format and
 * colog_day_parse: the store lists days by those names); each column opened
 * once per part with a dictionary iff it is ip/string, that dictionary strictly
 * ascending, its strings non-empty valid UTF-8 (empty text is an absent
 * value); chunks of at most COLOG_BLOCK_ROWS values adding up to the part's
 * rows; a valid bitset only with an absent value in it, none for the
 * time column; times ascending and inside the part's UTC day and no more than a
 * day ahead of "now"; codes below the dictionary size; unsigned values within
 * their type; f64 values finite; commit only after every column. At the end:
 * rows_read = rows_ok + rows_rejected, rows_rejected = the reject callbacks,
 * rows_ok = the rows committed; errors are ESCHEMA / EPARSE / ELIMIT / ENOMEM
 * with a message.
 *
 * The CSV target then converts the input's first fields (cut at commas and
 * newlines) as every type with colog__value_parse: errors are EPARSE / ERANGE
 * with a reason; values fit their type, f64 is finite, times and ips survive
 * colog_time_format / colog_ip_format and parse back equal, a string borrows
 * its text, and text holding a NUL byte never converts to anything but a string.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colog_ingest_int.h"

#ifdef FUZZ_NDJSON
#define FUZZ_NAME "fuzz_ndjson"
#define FUZZ_SRC "fuzz.ndjson"
#define FUZZ_FMT COLOG_IN_NDJSON
#else
#define FUZZ_NAME "fuzz_csv"
#define FUZZ_SRC "fuzz.csv"
#define FUZZ_FMT COLOG_IN_CSV
#endif

#define NOW_US 1772409600000000LL /* 2026-03-02T00:00:00Z */
#define US_PER_DAY 86400000000LL
#define BATCH_ROWS 7

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, FUZZ_NAME ": check failed: %s: ", #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static colog_schema_t g_schema;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_schema = *colog_schema_builtin("firewall");
    static const colog_column_t extra[] = {
        {.name = "small", .type = COLOG_T_U8},
        {.name = "delta", .type = COLOG_T_I64, .indexed = true},
        {.name = "ratio", .type = COLOG_T_F64},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        g_schema.cols[g_schema.ncols++] = extra[i];
    return 0;
}

/* ---------------------------------------------------------------- the checking sink */

typedef struct sink sink_t;

typedef struct handle {
    sink_t *s;
    unsigned col;
    colog_type_t type;
    uint32_t dn; /* dictionary entries */
    uint64_t n;  /* values written */
    int64_t last_t;
} handle_t;

struct sink {
    const colog_schema_t *schema;
    pthread_mutex_t mu; /* the part state, against the two column threads */
    bool in_part;       /* between open and commit/abort */
    int32_t day;        /* of the open part */
    uint64_t nrows;     /* of the open part */
    uint64_t opened;    /* columns opened in the part (bit i) */
    unsigned closed;    /* columns closed in the part */
    bool have_last_day; /* a part of this flush was committed */
    int32_t last_day;
    uint64_t committed; /* rows of committed parts */
    handle_t *seq;      /* the col_begin .. col_end path's column */
};

static int s_open(void *ctx, int32_t day, uint64_t nrows)
{
    sink_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    CHECK(!s->in_part, "open inside a part");
    CHECK(nrows > 0, "part of 0 rows");
#ifndef FUZZ_SKIP_OPEN_FINDINGS
    /* the day directory's name must read back as the day (colog_store.c lists them) */
    char dname[32];
    int32_t dback;
    colog_day_format(day, dname, sizeof dname);
    CHECK(colog_day_parse(dname, strlen(dname), &dback) == 0 && dback == day,
          "day %d is named '%s', which does not parse back", day, dname);
#endif
    if (s->have_last_day)
        CHECK(day > s->last_day, "day %d after day %d in one flush", day, s->last_day);
    s->in_part = true;
    s->day = day;
    s->nrows = nrows;
    s->opened = 0;
    s->closed = 0;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static bool utf8_ok(const char *p, size_t len)
{
    return colog__utf8_check(p, len) == len;
}

static void check_dict(const colog_dictview_t *d, colog_type_t t)
{
    CHECK(d->type == t, "dictionary of type %d for a column of type %d", (int)d->type, (int)t);
    if (t == COLOG_T_IP) {
        for (uint32_t i = 1; i < d->n; i++)
            CHECK(colog_ip_cmp(&d->ips[i - 1], &d->ips[i]) < 0, "ips not ascending at %u", i);
        return;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        CHECK(d->offs[i] < d->offs[i + 1], "dictionary string %u empty or offsets decreasing", i);
        const char *a = d->bytes + d->offs[i];
        size_t la = d->offs[i + 1] - d->offs[i];
        CHECK(utf8_ok(a, la), "dictionary string %u not valid UTF-8", i);
        if (i > 0) {
            const char *p = d->bytes + d->offs[i - 1];
            size_t lp = d->offs[i] - d->offs[i - 1], m = lp < la ? lp : la;
            int c = memcmp(p, a, m);
            CHECK(c < 0 || (c == 0 && lp < la), "strings not ascending at %u", i);
        }
    }
}

static int s_col_open(void *ctx, unsigned col, const colog_dictview_t *dict, void **h)
{
    sink_t *s = ctx;
    CHECK(col < s->schema->ncols, "column %u", col);
    colog_type_t t = s->schema->cols[col].type;
    pthread_mutex_lock(&s->mu);
    CHECK(s->in_part, "column outside a part");
    CHECK(!(s->opened >> col & 1), "column %u opened twice", col);
    s->opened |= 1ull << col;
    pthread_mutex_unlock(&s->mu);
    CHECK((dict != NULL) == colog_type_is_dict(t), "column %u: dictionary iff ip/string", col);
    handle_t *k = calloc(1, sizeof *k);
    CHECK(k, "out of memory");
    *k = (handle_t){.s = s, .col = col, .type = t, .last_t = INT64_MIN};
    if (dict) {
        check_dict(dict, t);
        k->dn = dict->n;
    }
    *h = k;
    return 0;
}

static int s_col_write(void *h, const void *vals, const uint8_t *valid, uint32_t n)
{
    handle_t *k = h;
    sink_t *s = k->s;
    CHECK(n >= 1 && n <= COLOG_BLOCK_ROWS, "chunk of %u values", n);
    CHECK(k->n + n <= s->nrows, "column %u: %llu values for %llu rows", k->col,
          (unsigned long long)(k->n + n), (unsigned long long)s->nrows);
    if (valid) {
        bool absent = false;
        for (uint32_t i = 0; i < n; i++)
            absent |= !colog_valid(valid, i);
        CHECK(absent, "column %u: a valid bitset with every value present", k->col);
        CHECK(k->col != 0, "a valid bitset for the time column");
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!colog_valid(valid, i))
            continue;
        switch (k->type) {
        case COLOG_T_TIME: {
            int64_t t = ((const int64_t *)vals)[i];
            CHECK(t >= k->last_t, "times not ascending");
            CHECK(colog_day_of(t) == s->day, "time %lld outside day %d", (long long)t, s->day);
            CHECK(t <= NOW_US + US_PER_DAY, "time %lld more than a day ahead", (long long)t);
            k->last_t = t;
            break;
        }
        case COLOG_T_IP:
        case COLOG_T_STRING: {
            uint32_t c = ((const uint32_t *)vals)[i];
            CHECK(c < k->dn, "column %u: code %u of %u", k->col, c, k->dn);
            break;
        }
        case COLOG_T_U8:
        case COLOG_T_U16:
        case COLOG_T_U32:
        case COLOG_T_U64: {
            uint64_t v = ((const uint64_t *)vals)[i];
            CHECK(v <= colog_type_umax(k->type), "column %u: %llu out of range", k->col,
                  (unsigned long long)v);
            break;
        }
        case COLOG_T_F64:
            CHECK(isfinite(((const double *)vals)[i]), "column %u: non-finite value", k->col);
            break;
        case COLOG_T_I64:
            break;
        }
    }
    k->n += n;
    return 0;
}

static int s_col_close(void *h)
{
    handle_t *k = h;
    sink_t *s = k->s;
    CHECK(k->n == s->nrows, "column %u: %llu of %llu rows", k->col, (unsigned long long)k->n,
          (unsigned long long)s->nrows);
    pthread_mutex_lock(&s->mu);
    s->closed++;
    pthread_mutex_unlock(&s->mu);
    free(k);
    return 0;
}

static void s_col_abort(void *h)
{
    free(h);
}

static int s_commit(void *ctx, uint64_t *id)
{
    sink_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    CHECK(s->in_part, "commit outside a part");
    CHECK(s->closed == s->schema->ncols, "commit after %u of %u columns", s->closed,
          s->schema->ncols);
    s->in_part = false;
    s->committed += s->nrows;
    s->have_last_day = true;
    s->last_day = s->day;
    *id = s->committed;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void s_abort(void *ctx)
{
    sink_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->in_part = false;
    pthread_mutex_unlock(&s->mu);
}

static int s_merge(void *ctx, int32_t day, unsigned max_parts, bool *merged)
{
    sink_t *s = ctx;
    (void)day, (void)max_parts;
    pthread_mutex_lock(&s->mu);
    CHECK(!s->in_part, "merge inside a part");
    s->have_last_day = false; /* the flush is over: the next one starts afresh */
    pthread_mutex_unlock(&s->mu);
    *merged = false;
    return 0;
}

/* The col_begin .. col_end path: one column at a time, through s->seq. */
static int s_col_begin(void *ctx, unsigned col, const colog_dictview_t *dict)
{
    sink_t *s = ctx;
    CHECK(s->seq == NULL, "col_begin inside a column");
    CHECK(col == (unsigned)__builtin_popcountll(s->opened), "column %u out of schema order", col);
    void *h;
    s_col_open(ctx, col, dict, &h);
    s->seq = h;
    return 0;
}

static int s_col_append(void *ctx, const void *vals, const uint8_t *valid, uint32_t n)
{
    sink_t *s = ctx;
    CHECK(s->seq != NULL, "col_append outside a column");
    return s_col_write(s->seq, vals, valid, n);
}

static int s_col_end(void *ctx)
{
    sink_t *s = ctx;
    CHECK(s->seq != NULL, "col_end outside a column");
    handle_t *k = s->seq;
    s->seq = NULL;
    return s_col_close(k);
}

static void s_seq_abort(void *ctx)
{
    sink_t *s = ctx;
    free(s->seq);
    s->seq = NULL;
    s_abort(ctx);
}

static const colog_partsink_t handle_sink = {.open = s_open,
                                             .commit = s_commit,
                                             .abort = s_abort,
                                             .merge = s_merge,
                                             .col_open = s_col_open,
                                             .col_write = s_col_write,
                                             .col_close = s_col_close,
                                             .col_abort = s_col_abort};

static const colog_partsink_t seq_sink = {.open = s_open,
                                          .col_begin = s_col_begin,
                                          .col_append = s_col_append,
                                          .col_end = s_col_end,
                                          .commit = s_commit,
                                          .abort = s_seq_abort,
                                          .merge = s_merge};

/* ---------------------------------------------------------------- rejects */

typedef struct rejects {
    uint64_t n;
    uint64_t last_line;
} rejects_t;

static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *reason)
{
    rejects_t *rj = ctx;
    CHECK(strcmp(src, FUZZ_SRC) == 0, "reject names %s", src);
    CHECK(line >= 1, "reject at line 0");
    CHECK(line >= rj->last_line, "rejects out of input order: line %llu after %llu",
          (unsigned long long)line, (unsigned long long)rj->last_line);
    CHECK(reason != NULL && reason[0] != '\0', "reject without a reason");
    CHECK(strlen(reason) < 4096, "reject reason of %zu bytes", strlen(reason));
    (void)col;
    rj->last_line = line;
    rj->n++;
}

/* ---------------------------------------------------------------- field conversion (CSV only) */

#ifndef FUZZ_NDJSON
/* Convert s[0..len) as every type: results fit the type, ips and times survive
 * format and parse, strings borrow the text, and text with a NUL byte is never
 * a number, time or ip (the conversion takes the whole of s[0..len)). */
static void probe_field(const char *s, size_t len)
{
    for (int t = COLOG_T_TIME; t <= COLOG_T_STRING; t++) {
        colog_type_t ty = (colog_type_t)t;
        colog_value_t v;
        char why[256];
        memset(why, 0x5a, sizeof why);
        int rc = colog__value_parse(ty, s, len, &v, why, sizeof why);
        if (rc < 0) {
            CHECK(rc == COLOG_EPARSE || rc == COLOG_ERANGE, "value_parse: %s", colog_errname(rc));
            CHECK(memchr(why, '\0', sizeof why) != NULL && why[0] != '\0',
                  "value_parse failed without a reason");
            continue;
        }
#ifndef FUZZ_SKIP_OPEN_FINDINGS /* checks of fixed findings; define to skip them */
        if (ty != COLOG_T_STRING)
            CHECK(memchr(s, '\0', len) == NULL, "text with a NUL byte converts to a %s",
                  colog_type_name(ty));
#endif
        char buf[64];
        switch (ty) {
        case COLOG_T_TIME: {
#ifndef FUZZ_SKIP_OPEN_FINDINGS
            int64_t back;
            colog_time_format(v.i, 0, buf, sizeof buf);
            CHECK(colog_time_parse(buf, strlen(buf), 0, &back) == 0 && back == v.i,
                  "time %lld formats as '%s', which does not parse back", (long long)v.i, buf);
#endif
            break;
        }
        case COLOG_T_IP: {
            colog_ip_t back;
            colog_ip_format(&v.ip, buf, sizeof buf);
            CHECK(colog_ip_parse(buf, strlen(buf), &back) == 0 && colog_ip_cmp(&back, &v.ip) == 0,
                  "ip formats as '%s', which does not parse back", buf);
            break;
        }
        case COLOG_T_U8:
        case COLOG_T_U16:
        case COLOG_T_U32:
        case COLOG_T_U64:
            CHECK(v.u <= colog_type_umax(ty), "%s value %llu", colog_type_name(ty),
                  (unsigned long long)v.u);
            break;
        case COLOG_T_F64:
            CHECK(isfinite(v.f), "non-finite f64");
            break;
        case COLOG_T_STRING:
            CHECK(v.s.p == s && v.s.len == len, "a string that does not borrow its text");
            break;
        case COLOG_T_I64:
            break;
        }
    }
}

/* The first fields of the input, cut at ',' and newlines (no quoting). */
static void probe_values(const uint8_t *data, size_t size)
{
    size_t lim = size < 4096 ? size : 4096;
    unsigned nf = 0;
    for (size_t a = 0; a < lim && nf < 64; nf++) {
        size_t e = a;
        while (e < lim && data[e] != ',' && data[e] != '\n')
            e++;
        probe_field((const char *)data + a, e - a);
        a = e + 1;
    }
}
#endif

/* ---------------------------------------------------------------- entry point */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink_t s = {.schema = &g_schema};
    pthread_mutex_init(&s.mu, NULL);
    rejects_t rj = {0};
    colog_ingest_opts_t opts = {
        .batch_rows = BATCH_ROWS, .now_us = NOW_US, .reject = on_reject, .reject_ctx = &rj};
    const colog_partsink_t *sink = size & 1 ? &handle_sink : &seq_sink;
    colog_ingest_t *ing;
    CHECK(colog__ingest_new(&g_schema, &opts, sink, &s, &ing) == 0, "%s", colog_errmsg());

    /* fmemopen refuses an empty buffer */
    FILE *f = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "r");
    CHECK(f != NULL, "fmemopen failed");
    int rc = colog_ingest_file(ing, f, FUZZ_SRC, FUZZ_FMT);
    fclose(f);
    if (rc < 0) {
        CHECK(rc == COLOG_ESCHEMA || rc == COLOG_EPARSE || rc == COLOG_ELIMIT || rc == COLOG_ENOMEM,
              "unexpected error %s: %s", colog_errname(rc), colog_errmsg());
        CHECK(colog_errmsg()[0] != '\0', "error %s without a message", colog_errname(rc));
    }
    colog_ingest_stats_t st;
    rc = colog_ingest_finish(ing, &st);
    CHECK(rc == 0 || rc == COLOG_ELIMIT || rc == COLOG_ENOMEM, "finish: %s: %s", colog_errname(rc),
          colog_errmsg());
    if (rc == 0) {
        CHECK(st.rows_read == st.rows_ok + st.rows_rejected, "read %llu != ok %llu + rejected %llu",
              (unsigned long long)st.rows_read, (unsigned long long)st.rows_ok,
              (unsigned long long)st.rows_rejected);
        CHECK(st.rows_rejected == rj.n, "%llu rejected, %llu reject callbacks",
              (unsigned long long)st.rows_rejected, (unsigned long long)rj.n);
        CHECK(st.rows_ok == s.committed, "%llu rows ok, %llu committed",
              (unsigned long long)st.rows_ok, (unsigned long long)s.committed);
        CHECK(!s.in_part && s.seq == NULL, "a part left open");
    }
    pthread_mutex_destroy(&s.mu);
#ifndef FUZZ_NDJSON
    probe_values(data, size);
#endif
    return 0;
}
