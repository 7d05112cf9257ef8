/*
 * test_csv.c — the CSV reader (RFC 4180 cases, every error class at its exact
 * line and column, 4 MiB buffer boundaries), CSV ingest (header handling,
 * rejects), field conversion (every type at its boundaries), and the flush
 * (sort, day split, dictionaries, chunks, valid bitsets) through a capturing
 * part sink, so none of it needs the part writer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "colog_ingest_int.h"

/* ---------------------------------------------------------------- helpers: reader */

#define MAXF 40

typedef struct rec {
    uint64_t line;
    uint32_t nf;
    char *f[MAXF];
    uint32_t len[MAXF], col[MAXF], dl[MAXF];
    char err[128]; /* "" = none */
    uint64_t eline;
    uint32_t ecol;
    uint32_t end_col, end_dline;
} rec_t;

typedef struct recs {
    rec_t *r;
    size_t n, cap;
} recs_t;

static FILE *memfile(const char *s, size_t len)
{
    FILE *f = len ? fmemopen((void *)s, len, "r") : fopen("/dev/null", "r");
    cr_assert_not_null(f);
    return f;
}

static recs_t read_csv(const char *s, size_t len)
{
    recs_t out = {0};
    FILE *f = memfile(s, len);
    colog_csv_t *r;
    cr_assert_eq(colog__csv_open(&r, f, "t.csv"), 0);
    colog_csvrec_t rec;
    int rc;
    while ((rc = colog__csv_next(r, &rec)) == 1) {
        if (out.n == out.cap) {
            out.cap = out.cap ? out.cap * 2 : 16;
            out.r = realloc(out.r, out.cap * sizeof *out.r);
        }
        rec_t *x = &out.r[out.n++];
        memset(x, 0, sizeof *x);
        x->line = rec.line;
        x->nf = rec.nfields;
        x->end_col = rec.end_col;
        x->end_dline = rec.end_dline;
        if (rec.err) {
            snprintf(x->err, sizeof x->err, "%s", rec.err);
            x->eline = rec.err_line;
            x->ecol = rec.err_col;
            x->nf = 0;
        }
        for (uint32_t j = 0; j < x->nf && j < MAXF; j++) {
            x->f[j] = malloc(rec.fields[j].len + 1);
            memcpy(x->f[j], rec.fields[j].p, rec.fields[j].len);
            x->f[j][rec.fields[j].len] = 0;
            x->len[j] = rec.fields[j].len;
            x->col[j] = rec.fields[j].col;
            x->dl[j] = rec.fields[j].dline;
        }
    }
    cr_assert_eq(rc, 0, "read error %d: %s", rc, colog_errmsg());
    colog__csv_free(r);
    fclose(f);
    return out;
}

static recs_t read_str(const char *s)
{
    return read_csv(s, strlen(s));
}

static void free_recs(recs_t *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        for (uint32_t j = 0; j < rs->r[i].nf && j < MAXF; j++)
            free(rs->r[i].f[j]);
    free(rs->r);
}

static void expect_field(const rec_t *r, uint32_t j, const char *text, uint32_t col)
{
    cr_assert_lt(j, r->nf, "record at line %llu has %u fields", (unsigned long long)r->line, r->nf);
    cr_assert_str_eq(r->f[j], text, "field %u", j);
    cr_assert_eq(r->col[j], col, "field %u column %u, want %u", j, r->col[j], col);
}

static void expect_err(const rec_t *r, const char *err, uint64_t line, uint32_t col)
{
    cr_assert_str_eq(r->err, err);
    cr_assert_eq(r->eline, line, "error line %llu, want %llu", (unsigned long long)r->eline,
                 (unsigned long long)line);
    cr_assert_eq(r->ecol, col, "error column %u, want %u", r->ecol, col);
}

/* ---------------------------------------------------------------- reader: RFC 4180 */

Test(csv_reader, basic)
{
    recs_t rs = read_str("a,b,c\n1,22,333\n");
    cr_assert_eq(rs.n, 2);
    cr_assert_eq(rs.r[0].line, 1);
    cr_assert_eq(rs.r[1].line, 2);
    cr_assert_eq(rs.r[1].nf, 3);
    expect_field(&rs.r[1], 0, "1", 1);
    expect_field(&rs.r[1], 1, "22", 3);
    expect_field(&rs.r[1], 2, "333", 6);
    cr_assert_eq(rs.r[1].end_col, 9);
    free_recs(&rs);
}

Test(csv_reader, rfc4180_quoting)
{
    recs_t rs = read_str("\"a,b\",\"say \"\"hi\"\"\",plain\r\n"
                         "\"multi\nline\",x\r\n"
                         "\"\",,\"z\"\r\n"
                         "\"\"\"\"\n");
    cr_assert_eq(rs.n, 4);
    const rec_t *r = &rs.r[0];
    cr_assert_str_eq(r->err, "");
    cr_assert_eq(r->nf, 3);
    expect_field(r, 0, "a,b", 1);
    expect_field(r, 1, "say \"hi\"", 7);
    expect_field(r, 2, "plain", 20);

    r = &rs.r[1]; /* a quoted newline: the record is on lines 2-3 */
    cr_assert_eq(r->line, 2);
    expect_field(r, 0, "multi\nline", 1);
    expect_field(r, 1, "x", 7);
    cr_assert_eq(r->dl[0], 0);
    cr_assert_eq(r->dl[1], 1);
    cr_assert_eq(r->end_dline, 1);

    r = &rs.r[2];
    cr_assert_eq(r->line, 4);
    cr_assert_eq(r->nf, 3);
    expect_field(r, 0, "", 1);
    expect_field(r, 1, "", 4);
    expect_field(r, 2, "z", 5);

    r = &rs.r[3]; /* """" is one quote */
    cr_assert_eq(r->line, 5);
    cr_assert_eq(r->nf, 1);
    expect_field(r, 0, "\"", 1);
    free_recs(&rs);
}

Test(csv_reader, crlf_inside_quotes_is_data)
{
    recs_t rs = read_str("\"a\r\nb\",c\r\nnext,1\r\n");
    cr_assert_eq(rs.n, 2);
    expect_field(&rs.r[0], 0, "a\r\nb", 1);
    expect_field(&rs.r[0], 1, "c", 4);
    cr_assert_eq(rs.r[1].line, 3);
    expect_field(&rs.r[1], 0, "next", 1);
    free_recs(&rs);
}

Test(csv_reader, missing_final_newline)
{
    recs_t rs = read_str("a,b\n1,2");
    cr_assert_eq(rs.n, 2);
    expect_field(&rs.r[1], 1, "2", 3);
    free_recs(&rs);

    rs = read_str("a,\"q\"");
    cr_assert_eq(rs.n, 1);
    expect_field(&rs.r[0], 1, "q", 3);
    free_recs(&rs);

    rs = read_str("a,b\r"); /* a CRLF cut short by the end of input */
    cr_assert_eq(rs.n, 1);
    cr_assert_str_eq(rs.r[0].err, "");
    expect_field(&rs.r[0], 1, "b", 3);
    free_recs(&rs);
}

Test(csv_reader, empty_lines_skipped_and_counted)
{
    recs_t rs = read_str("\n\na,b\n\r\n\n1,2\n\n\r\n");
    cr_assert_eq(rs.n, 2);
    cr_assert_eq(rs.r[0].line, 3);
    cr_assert_eq(rs.r[1].line, 6);
    free_recs(&rs);

    rs = read_str("");
    cr_assert_eq(rs.n, 0);
    free_recs(&rs);

    rs = read_str("\n\r\n\n");
    cr_assert_eq(rs.n, 0);
    free_recs(&rs);
}

Test(csv_reader, empty_and_trailing_fields)
{
    recs_t rs = read_str("a,b,\n,\n");
    cr_assert_eq(rs.n, 2);
    cr_assert_eq(rs.r[0].nf, 3);
    expect_field(&rs.r[0], 2, "", 5);
    cr_assert_eq(rs.r[1].nf, 2);
    expect_field(&rs.r[1], 0, "", 1);
    expect_field(&rs.r[1], 1, "", 2);
    free_recs(&rs);
}

Test(csv_reader, bom_skipped)
{
    recs_t rs = read_str("\xEF\xBB\xBFts,x\n1,2\n");
    cr_assert_eq(rs.n, 2);
    expect_field(&rs.r[0], 0, "ts", 1);
    free_recs(&rs);
}

Test(csv_reader, utf8_valid)
{
    recs_t rs =
        read_str("\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80,\"\xC3\xA9\"\"\",\xF4\x8F\xBF\xBF\n");
    cr_assert_eq(rs.n, 1);
    cr_assert_str_eq(rs.r[0].err, "");
    expect_field(&rs.r[0], 0, "\xC3\xA9", 1);
    expect_field(&rs.r[0], 1, "\xE2\x82\xAC", 4);
    expect_field(&rs.r[0], 2, "\xF0\x9F\x98\x80", 8);
    expect_field(&rs.r[0], 3, "\xC3\xA9\"", 13);
    expect_field(&rs.r[0], 4, "\xF4\x8F\xBF\xBF", 20);
    free_recs(&rs);
}

/* ---------------------------------------------------------------- reader: errors */

Test(csv_reader, err_unterminated_quote)
{
    recs_t rs = read_str("a,b\n1,\"xyz\n2,3\n");
    cr_assert_eq(rs.n, 2);
    expect_err(&rs.r[1], "unterminated quoted field", 2, 3);
    free_recs(&rs);

    rs = read_str("\"");
    cr_assert_eq(rs.n, 1);
    expect_err(&rs.r[0], "unterminated quoted field", 1, 1);
    free_recs(&rs);
}

Test(csv_reader, err_quote_in_unquoted_field)
{
    recs_t rs = read_str("ab\"c,d\nx,y\n");
    cr_assert_eq(rs.n, 2);
    expect_err(&rs.r[0], "unexpected '\"' in unquoted field", 1, 3);
    cr_assert_str_eq(rs.r[1].err, "");
    expect_field(&rs.r[1], 1, "y", 3);
    free_recs(&rs);
}

Test(csv_reader, err_garbage_after_closing_quote)
{
    recs_t rs = read_str("\"ab\"x,d\nx,y\n\"ab\" ,d\n\"q\"\x01\n\"a\"\"b\"'\n");
    cr_assert_eq(rs.n, 5);
    expect_err(&rs.r[0], "unexpected 'x' after closing quote", 1, 5);
    cr_assert_str_eq(rs.r[1].err, "");
    expect_err(&rs.r[2], "unexpected ' ' after closing quote", 3, 5);
    expect_err(&rs.r[3], "unexpected byte 0x01 after closing quote", 4, 4);
    expect_err(&rs.r[4], "unexpected byte 0x27 after closing quote", 5, 7);
    free_recs(&rs);
}

Test(csv_reader, err_nul_byte)
{
    static const char in[] = "a\0b,c\n\"q\0\",c\nok,1\n";
    recs_t rs = read_csv(in, sizeof in - 1);
    cr_assert_eq(rs.n, 3);
    expect_err(&rs.r[0], "NUL byte", 1, 2);
    expect_err(&rs.r[1], "NUL byte", 2, 3);
    cr_assert_str_eq(rs.r[2].err, "");
    free_recs(&rs);
}

Test(csv_reader, err_invalid_utf8)
{
    recs_t rs = read_str("a\xff,b\n"               /* 1: not a lead byte */
                         "\xC0\xAF\n"              /* 2: overlong '/' */
                         "x\xED\xA0\x80\n"         /* 3: a surrogate */
                         "\xF4\x90\x80\x80\n"      /* 4: past U+10FFFF */
                         "\xE2\x82,x\n"            /* 5: cut short by a comma */
                         "ok,\"\xC3\"\n"           /* 6: cut short in quotes */
                         "ok\nab,c\x80\n"          /* 7, 8: lone continuation */
                         "\"multi\nline\xFE\",x\n" /* 9-10: on the 2nd line of a record */
                         "ab\xE2\x82");            /* 11: cut short by the end */
    cr_assert_eq(rs.n, 10);
    expect_err(&rs.r[0], "invalid UTF-8", 1, 2);
    expect_err(&rs.r[1], "invalid UTF-8", 2, 1);
    expect_err(&rs.r[2], "invalid UTF-8", 3, 2);
    expect_err(&rs.r[3], "invalid UTF-8", 4, 1);
    expect_err(&rs.r[4], "invalid UTF-8", 5, 1);
    expect_err(&rs.r[5], "invalid UTF-8", 6, 5);
    cr_assert_str_eq(rs.r[6].err, "");
    expect_err(&rs.r[7], "invalid UTF-8", 8, 5);
    cr_assert_eq(rs.r[8].line, 9);
    expect_err(&rs.r[8], "invalid UTF-8", 10, 5);
    expect_err(&rs.r[9], "invalid UTF-8", 11, 3);
    free_recs(&rs);
}

Test(csv_reader, err_bare_cr)
{
    recs_t rs = read_str("a\rb,c\nx,y\n");
    cr_assert_eq(rs.n, 2);
    expect_err(&rs.r[0], "bare carriage return", 1, 2);
    cr_assert_str_eq(rs.r[1].err, "");
    free_recs(&rs);
}

Test(csv_reader, first_error_wins_and_record_ends_right)
{
    /* The quote error comes first; the record still ends after the quoted
     * field that spans lines 1-2, so "next,1" is line 3. */
    recs_t rs = read_str("x\"y,\"a\nb\"\xff\nnext,1\n");
    cr_assert_eq(rs.n, 2);
    expect_err(&rs.r[0], "unexpected '\"' in unquoted field", 1, 2);
    cr_assert_eq(rs.r[1].line, 3);
    expect_field(&rs.r[1], 0, "next", 1);
    free_recs(&rs);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

Test(csv_reader, record_max_is_allowed)
{
    size_t n = COLOG_RECORD_MAX;
    char *s = malloc(n + 16);
    memset(s, 'x', n);
    strcpy(s + n, "\r\nok\n");
    recs_t rs = read_str(s);
    cr_assert_eq(rs.n, 2);
    cr_assert_str_eq(rs.r[0].err, "");
    cr_assert_eq(rs.r[0].len[0], COLOG_RECORD_MAX);
    free_recs(&rs);
    free(s);
}

Test(csv_reader, err_overlong_in_buffer)
{
    char *x = repeat('x', 70000);
    char *s = malloc(70000 + 32);
    sprintf(s, "%s\nok\n", x);
    recs_t rs = read_str(s);
    cr_assert_eq(rs.n, 2);
    expect_err(&rs.r[0], "record longer than 65536 bytes", 1, 65537);
    cr_assert_eq(rs.r[1].line, 2);
    expect_field(&rs.r[1], 0, "ok", 1);
    free_recs(&rs);
    free(s);
    free(x);
}

Test(csv_reader, err_overlong_quoted_multiline)
{
    /* byte 65537 of the record is on its 2nd line: 65536 - 40002 + 1 = 25535 */
    char *a = repeat('a', 40000), *b = repeat('b', 40000);
    char *s = malloc(80000 + 32);
    sprintf(s, "\"%s\n%s\"\nok\n", a, b);
    recs_t rs = read_str(s);
    cr_assert_eq(rs.n, 2);
    expect_err(&rs.r[0], "record longer than 65536 bytes", 2, 25535);
    cr_assert_eq(rs.r[1].line, 3);
    expect_field(&rs.r[1], 0, "ok", 1);
    free_recs(&rs);
    free(s);
    free(a);
    free(b);
}

Test(csv_reader, err_overlong_across_buffer_refill)
{
    /* Fill most of the 4 MiB buffer with short lines, then a 300 KB line that
     * cannot be complete in the buffer: it is skipped to its newline. */
    size_t nshort = ((size_t)4 << 20) / 10 - 100;
    size_t total = nshort * 10 + 300000 + 16;
    char *s = malloc(total + 1), *p = s;
    for (size_t i = 0; i < nshort; i++, p += 10)
        memcpy(p, "abcd,efgh\n", 10);
    memset(p, 'y', 300000);
    p += 300000;
    p += sprintf(p, "\ntail,1\n");
    recs_t rs = read_csv(s, (size_t)(p - s));
    cr_assert_eq(rs.n, nshort + 2);
    for (size_t i = 0; i < nshort; i++)
        cr_assert_str_eq(rs.r[i].err, "", "record %zu", i);
    expect_err(&rs.r[nshort], "record longer than 65536 bytes", nshort + 1, 65537);
    cr_assert_eq(rs.r[nshort + 1].line, nshort + 2);
    expect_field(&rs.r[nshort + 1], 0, "tail", 1);
    free_recs(&rs);
    free(s);
}

/* ---------------------------------------------------------------- reader: buffer boundaries */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

Test(csv_reader, random_records_across_refills)
{
    /* ~12 MB of records whose fields use every special case, with the
     * expected fields and lines kept alongside: crosses 3 buffer refills at
     * arbitrary points (inside "", CRLF, UTF-8 sequences, quoted newlines). */
    static const char *const atoms[] = {
        "a", "Z",   "0", ",", "\"", "\n", "\r\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        " ", "xyz", "\t"};
    const size_t natoms = sizeof atoms / sizeof atoms[0];
    size_t cap = 14u << 20, o = 0;
    char *in = malloc(cap);
    size_t nrec = 0, reccap = 1 << 18;
    char **want = malloc(reccap * sizeof *want); /* fields joined by \x1f */
    uint64_t *lines = malloc(reccap * sizeof *lines);
    uint64_t line = 1;
    while (o < (12u << 20)) {
        unsigned nf = 2 + rnd(6);
        char joined[1024];
        size_t jo = 0;
        lines[nrec] = line;
        for (unsigned j = 0; j < nf; j++) {
            char field[256];
            size_t fl = 0;
            unsigned na = rnd(8);
            bool special = false;
            for (unsigned k = 0; k < na; k++) {
                const char *a = atoms[rnd((uint32_t)natoms)];
                size_t al = strlen(a);
                memcpy(field + fl, a, al);
                fl += al;
                special |= strpbrk(a, ",\"\r\n") != NULL;
            }
            if (special || rnd(4) == 0) {
                in[o++] = '"';
                for (size_t k = 0; k < fl; k++) {
                    if (field[k] == '"')
                        in[o++] = '"';
                    if (field[k] == '\n')
                        line++;
                    in[o++] = field[k];
                }
                in[o++] = '"';
            } else {
                memcpy(in + o, field, fl);
                o += fl;
            }
            if (j + 1 < nf)
                in[o++] = ',';
            memcpy(joined + jo, field, fl);
            jo += fl;
            joined[jo++] = '\x1f';
        }
        joined[jo] = 0;
        if (rnd(2)) {
            in[o++] = '\r';
        }
        in[o++] = '\n';
        line++;
        want[nrec++] = strdup(joined);
        if (nrec == reccap) {
            reccap *= 2;
            want = realloc(want, reccap * sizeof *want);
            lines = realloc(lines, reccap * sizeof *lines);
        }
    }
    recs_t rs = read_csv(in, o);
    cr_assert_eq(rs.n, nrec);
    for (size_t i = 0; i < nrec; i++) {
        cr_assert_str_eq(rs.r[i].err, "", "record %zu: %s", i, rs.r[i].err);
        cr_assert_eq(rs.r[i].line, lines[i], "record %zu", i);
        char joined[1024];
        size_t jo = 0;
        for (uint32_t j = 0; j < rs.r[i].nf; j++) {
            memcpy(joined + jo, rs.r[i].f[j], rs.r[i].len[j]);
            jo += rs.r[i].len[j];
            joined[jo++] = '\x1f';
        }
        joined[jo] = 0;
        cr_assert_str_eq(joined, want[i], "record %zu", i);
        free(want[i]);
    }
    free_recs(&rs);
    free(want);
    free(lines);
    free(in);
}

/* ---------------------------------------------------------------- helpers: ingest */

static const char *all_types_schema = "ts time\n"
                                      "s string\n"
                                      "ip ip indexed\n"
                                      "a u8\n"
                                      "b u16\n"
                                      "c u32\n"
                                      "d u64\n"
                                      "e i64\n"
                                      "f f64\n";

typedef struct reject {
    uint64_t line, col;
    char reason[256];
} reject_t;

typedef struct rejects {
    reject_t r[64];
    unsigned n;
} rejects_t;

static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *reason)
{
    rejects_t *rj = ctx;
    cr_assert_str_eq(src, "t.csv");
    if (rj->n < 64) {
        rj->r[rj->n].line = line;
        rj->r[rj->n].col = col;
        snprintf(rj->r[rj->n].reason, sizeof rj->r[rj->n].reason, "%s", reason);
    }
    rj->n++;
}

static void expect_reject(const rejects_t *rj, unsigned i, uint64_t line, uint64_t col,
                          const char *reason)
{
    cr_assert_lt(i, rj->n, "only %u rejects", rj->n);
    cr_assert_str_eq(rj->r[i].reason, reason);
    cr_assert_eq(rj->r[i].line, line, "reject %u line %llu", i, (unsigned long long)rj->r[i].line);
    cr_assert_eq(rj->r[i].col, col, "reject %u column %llu", i, (unsigned long long)rj->r[i].col);
}

/* ---- a part sink that records everything */

#define MAXPARTS 64
#define MAXCOLS 16

typedef struct ccol {
    bool begun, ended;
    uint32_t dn;
    char **dstr; /* dictionary copy (strings) */
    uint32_t *dlen;
    colog_ip_t *dip; /* dictionary copy (ips) */
    uint64_t *vals;  /* codes widened to 64 bits */
    bool *present;
    uint32_t n, nchunks, nonnull_valid_chunks, max_chunk;
} ccol_t;

typedef struct cpart {
    int32_t day;
    uint64_t nrows;
    ccol_t cols[MAXCOLS];
    bool committed;
} cpart_t;

typedef struct cap {
    const colog_schema_t *schema;
    cpart_t parts[MAXPARTS];
    unsigned nparts;
    int cur;
    int fail_append_at; /* fail the Nth col_append (1-based); 0 = never */
    int appends;
    int32_t merges[MAXPARTS];
    unsigned nmerges;
    unsigned aborts;
} cap_t;

static int c_open(void *ctx, int32_t day, uint64_t nrows)
{
    cap_t *c = ctx;
    cr_assert_lt(c->nparts, MAXPARTS);
    cpart_t *p = &c->parts[c->nparts++];
    memset(p, 0, sizeof *p);
    p->day = day;
    p->nrows = nrows;
    c->cur = -1;
    return 0;
}

static int c_col_begin(void *ctx, unsigned col, const colog_dictview_t *d)
{
    cap_t *c = ctx;
    cpart_t *p = &c->parts[c->nparts - 1];
    cr_assert_eq((int)col, c->cur + 1, "columns in schema order");
    c->cur = (int)col;
    ccol_t *cc = &p->cols[col];
    cc->begun = true;
    colog_type_t t = c->schema->cols[col].type;
    cr_assert_eq(d != NULL, colog_type_is_dict(t), "dict iff ip/string");
    cc->vals = calloc(p->nrows, sizeof *cc->vals);
    cc->present = calloc(p->nrows, sizeof *cc->present);
    if (d) {
        cr_assert_eq(d->type, t);
        cc->dn = d->n;
        if (t == COLOG_T_STRING) {
            cc->dstr = calloc(d->n + 1, sizeof *cc->dstr);
            cc->dlen = calloc(d->n + 1, sizeof *cc->dlen);
            cr_assert_eq(d->offs[0], 0);
            for (uint32_t i = 0; i < d->n; i++) {
                uint32_t len = d->offs[i + 1] - d->offs[i];
                cc->dstr[i] = malloc(len + 1);
                memcpy(cc->dstr[i], d->bytes + d->offs[i], len);
                cc->dstr[i][len] = 0;
                cc->dlen[i] = len;
                if (i > 0) { /* sorted, duplicate-free */
                    uint32_t pl = cc->dlen[i - 1], m = pl < len ? pl : len;
                    int r = memcmp(cc->dstr[i - 1], cc->dstr[i], m);
                    cr_assert(r < 0 || (r == 0 && pl < len), "dict not sorted at %u", i);
                }
            }
        } else {
            cc->dip = malloc((d->n + 1) * sizeof *cc->dip);
            for (uint32_t i = 0; i < d->n; i++) {
                cc->dip[i] = d->ips[i];
                if (i > 0)
                    cr_assert_lt(colog_ip_cmp(&d->ips[i - 1], &d->ips[i]), 0);
            }
        }
    }
    return 0;
}

static int c_col_append(void *ctx, const void *vals, const uint8_t *valid, uint32_t n)
{
    cap_t *c = ctx;
    if (++c->appends == c->fail_append_at)
        return colog_seterr(-EIO, "capture: injected failure");
    cpart_t *p = &c->parts[c->nparts - 1];
    ccol_t *cc = &p->cols[c->cur];
    colog_type_t t = c->schema->cols[c->cur].type;
    cr_assert_leq(n, COLOG_BLOCK_ROWS);
    cr_assert_leq(cc->n + n, p->nrows);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v =
            colog_type_is_dict(t) ? ((const uint32_t *)vals)[i] : ((const uint64_t *)vals)[i];
        bool pres = colog_valid(valid, i);
        cc->vals[cc->n + i] = v;
        cc->present[cc->n + i] = pres;
        if (pres && colog_type_is_dict(t))
            cr_assert_lt(v, cc->dn, "code out of the dictionary");
        if (pres && colog_type_is_unsigned(t))
            cr_assert_leq(v, colog_type_umax(t));
    }
    if (valid) {
        bool any_absent = false;
        for (uint32_t i = 0; i < n; i++)
            any_absent |= !colog_valid(valid, i);
        cr_assert(any_absent, "a valid bitset with no absent value (should be NULL)");
        cc->nonnull_valid_chunks++;
    }
    cc->n += n;
    cc->nchunks++;
    if (n > cc->max_chunk)
        cc->max_chunk = n;
    return 0;
}

static int c_col_end(void *ctx)
{
    cap_t *c = ctx;
    cpart_t *p = &c->parts[c->nparts - 1];
    ccol_t *cc = &p->cols[c->cur];
    cr_assert_eq(cc->n, p->nrows, "column %d has %u of %llu rows", c->cur, cc->n,
                 (unsigned long long)p->nrows);
    cc->ended = true;
    return 0;
}

static int c_commit(void *ctx, uint64_t *id)
{
    cap_t *c = ctx;
    cpart_t *p = &c->parts[c->nparts - 1];
    cr_assert_eq(c->cur, (int)c->schema->ncols - 1, "commit after all columns");
    /* time ascending, and every row in the part's day */
    for (uint64_t i = 0; i < p->nrows; i++) {
        int64_t t = (int64_t)p->cols[0].vals[i];
        cr_assert(p->cols[0].present[i]);
        cr_assert_eq(colog_day_of(t), p->day);
        if (i > 0)
            cr_assert_geq(t, (int64_t)p->cols[0].vals[i - 1]);
    }
    p->committed = true;
    *id = c->nparts;
    return 0;
}

static void c_abort(void *ctx)
{
    ((cap_t *)ctx)->aborts++;
}

static int c_merge(void *ctx, int32_t day, unsigned max_parts, bool *merged)
{
    cap_t *c = ctx;
    *merged = false;
    /* Count the merges after each flush; the final ones (max_parts =
     * COLOG_AUTO_MERGE_PARTS, at finish) are checked in test_ingest.c. */
    if (max_parts != COLOG_MERGE_BACKLOG)
        return 0;
    cr_assert_lt(c->nmerges, MAXPARTS);
    c->merges[c->nmerges++] = day;
    return 0;
}

static const colog_partsink_t capture_sink = {.open = c_open,
                                              .col_begin = c_col_begin,
                                              .col_append = c_col_append,
                                              .col_end = c_col_end,
                                              .commit = c_commit,
                                              .abort = c_abort,
                                              .merge = c_merge};

static void free_cap(cap_t *c)
{
    for (unsigned i = 0; i < c->nparts; i++)
        for (unsigned j = 0; j < MAXCOLS; j++) {
            ccol_t *cc = &c->parts[i].cols[j];
            if (cc->dstr)
                for (uint32_t k = 0; k < cc->dn; k++)
                    free(cc->dstr[k]);
            free(cc->dstr);
            free(cc->dlen);
            free(cc->dip);
            free(cc->vals);
            free(cc->present);
        }
}

/* String value of row i of column col in a captured part ("" if absent). */
static const char *cstr(const cpart_t *p, unsigned col, uint64_t i)
{
    const ccol_t *cc = &p->cols[col];
    return cc->present[i] ? cc->dstr[cc->vals[i]] : "";
}

typedef struct fixture {
    colog_schema_t schema;
    cap_t cap;
    rejects_t rj;
    colog_ingest_opts_t opts;
    colog_ingest_t *ing;
} fixture_t;

/* 2026-03-01T00:00:00Z */
#define T0 1772323200000000LL
#define DAY0 20513

static void fx_init(fixture_t *fx, const char *schema_text, size_t batch_rows)
{
    memset(fx, 0, sizeof *fx);
    cr_assert_eq(colog_schema_parse(schema_text, strlen(schema_text), "x.schema", &fx->schema), 0,
                 "%s", colog_errmsg());
    fx->cap.schema = &fx->schema;
    fx->opts.batch_rows = batch_rows;
    fx->opts.now_us = T0 + 3600000000LL; /* 01:00 */
    fx->opts.reject = on_reject;
    fx->opts.reject_ctx = &fx->rj;
    cr_assert_eq(colog__ingest_new(&fx->schema, &fx->opts, &capture_sink, &fx->cap, &fx->ing), 0);
}

static int fx_csv(fixture_t *fx, const char *text)
{
    FILE *f = memfile(text, strlen(text));
    int rc = colog_ingest_file(fx->ing, f, "t.csv", COLOG_IN_CSV);
    fclose(f);
    return rc;
}

static int fx_finish(fixture_t *fx, colog_ingest_stats_t *st)
{
    int rc = colog_ingest_finish(fx->ing, st);
    fx->ing = NULL;
    return rc;
}

static void fx_free(fixture_t *fx)
{
    if (fx->ing)
        colog_ingest_finish(fx->ing, NULL);
    free_cap(&fx->cap);
}

static colog_value_t val(fixture_t *fx, size_t row, unsigned col)
{
    colog_value_t v;
    cr_assert(colog__ingest_value(fx->ing, row, col, &v), "row %zu col %u absent", row, col);
    return v;
}

static bool absent(fixture_t *fx, size_t row, unsigned col)
{
    colog_value_t v;
    return !colog__ingest_value(fx->ing, row, col, &v);
}

/* ---------------------------------------------------------------- CSV ingest: header */

Test(csv_ingest, header_in_any_order)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    cr_assert_eq(fx_csv(&fx, "f,ip,ts,s,e\n"
                             "1.5,10.0.0.1,2026-03-01T00:00:00Z,hello,-7\n"
                             "\"-2e3\",::1,1772323201,\"a,\"\"b\"\"\",\n"),
                 0, "%s", colog_errmsg());
    cr_assert_eq(fx.rj.n, 0, "%s", fx.rj.r[0].reason);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 2);
    cr_assert_eq(val(&fx, 0, 0).i, T0);
    cr_assert_eq(val(&fx, 0, 8).f, 1.5);
    colog_value_t v = val(&fx, 0, 2);
    cr_assert_eq(v.ip.b[10], 0xff);
    cr_assert_eq(v.ip.b[12], 10);
    cr_assert_eq(v.ip.b[15], 1);
    v = val(&fx, 0, 1);
    cr_assert_eq(v.s.len, 5);
    cr_assert(memcmp(v.s.p, "hello", 5) == 0);
    cr_assert_eq(val(&fx, 0, 7).i, -7);
    for (unsigned c = 3; c <= 6; c++) /* a..d are not in the header: absent */
        cr_assert(absent(&fx, 0, c));

    cr_assert_eq(val(&fx, 1, 0).i, T0 + 1000000);
    cr_assert_eq(val(&fx, 1, 8).f, -2000.0);
    v = val(&fx, 1, 1);
    cr_assert_eq(v.s.len, 5);
    cr_assert(memcmp(v.s.p, "a,\"b\"", 5) == 0);
    cr_assert(absent(&fx, 1, 7), "empty field = absent");
    fx_free(&fx);
}

Test(csv_ingest, header_unknown_column_refuses_input)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    cr_assert_eq(fx_csv(&fx, "ts,s,bogus\n2026-03-01T00:00:00Z,x,y\n"), COLOG_ESCHEMA);
    cr_assert_str_eq(
        colog_errmsg(),
        "t.csv:1:6: unknown column 'bogus'; known columns: ts, s, ip, a, b, c, d, e, f");
    cr_assert_eq(colog__ingest_nrows(fx.ing), 0);
    cr_assert_eq(fx.rj.n, 0);
    fx_free(&fx);
}

Test(csv_ingest, header_errors)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    cr_assert_eq(fx_csv(&fx, "ts,s,\"s\"\n"), COLOG_ESCHEMA);
    cr_assert_str_eq(colog_errmsg(), "t.csv:1:6: duplicate column 's' (also field 2)");
    cr_assert_eq(fx_csv(&fx, "s,a\n"), COLOG_ESCHEMA);
    cr_assert_str_eq(colog_errmsg(), "t.csv:1:1: no column 'ts' (the event time is required)");
    cr_assert_eq(fx_csv(&fx, "ts,,s\n"), COLOG_ESCHEMA);
    cr_assert_str_eq(colog_errmsg(), "t.csv:1:4: empty column name");
    cr_assert_eq(fx_csv(&fx, "ts,\"s\n"), COLOG_EPARSE);
    cr_assert_str_eq(colog_errmsg(), "t.csv:1:4: header: unterminated quoted field");
    cr_assert_eq(fx_csv(&fx, "\xEF\xBB\xBF\n\nts,Ts\n"), COLOG_ESCHEMA);
    cr_assert_str_eq(colog_errmsg(),
                     "t.csv:3:4: unknown column 'Ts'; known columns: ts, s, ip, a, b, c, d, e, f");
    fx_free(&fx);
}

Test(csv_ingest, empty_input_and_header_only)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    cr_assert_eq(fx_csv(&fx, ""), 0);
    cr_assert_eq(fx_csv(&fx, "\n\n"), 0);
    cr_assert_eq(fx_csv(&fx, "ts,s\n"), 0);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 0);
    colog_ingest_stats_t st;
    cr_assert_eq(fx_finish(&fx, &st), 0);
    cr_assert_eq(st.rows_read, 0);
    cr_assert_eq(fx.cap.nparts, 0);
    fx_free(&fx);
}

/* ---------------------------------------------------------------- CSV ingest: rejects */

Test(csv_ingest, rejects_with_positions)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    const char *in = "ts,b,ip,s\n"
                     "2026-03-01T00:00:00Z,70000,1.2.3.4,x\n" /* 2: range */
                     "2026-03-01T00:00:00Z,80,1.2.3.999,x\n"  /* 3: bad ip */
                     "2026-03-01T00:00:00Z,x\n"               /* 4: too few */
                     "2026-03-01T00:00:00Z,1,::1,x,extra\n"   /* 5: too many */
                     ",1,::1,x\n"                             /* 6: no time */
                     "yesterday,1,::1,x\n"                    /* 7: bad time */
                     "2026-03-01T00:00:00Z,1,::1,\"x\"y\n"    /* 8: reader error */
                     "2026-03-01T00:00:00Z,1,::1,ok\n"        /* 9: fine */
                     "2026-03-02T01:00:00Z,1,::1,x\n"         /* 10: exactly 1 day ahead */
                     "2026-03-02T01:00:00.000001Z,1,::1,x\n"  /* 11: too far ahead */
                     "2026-03-01T00:00:00Z,\"\",\"\",\"\"\n"; /* 12: quoted empties: absent */
    cr_assert_eq(fx_csv(&fx, in), 0, "%s", colog_errmsg());
    cr_assert_eq(fx.rj.n, 8);
    expect_reject(&fx.rj, 0, 2, 22, "b: 70000 out of range for u16");
    expect_reject(&fx.rj, 1, 3, 25, "ip: '1.2.3.999' is not a valid ip");
    expect_reject(&fx.rj, 2, 4, 23, "expected 4 fields, got 2");
    expect_reject(&fx.rj, 3, 5, 30, "expected 4 fields, got 5");
    expect_reject(&fx.rj, 4, 6, 1, "ts: missing event time");
    expect_reject(&fx.rj, 5, 7, 1, "ts: 'yesterday' is not a valid time");
    expect_reject(&fx.rj, 6, 8, 31, "unexpected 'y' after closing quote");
    expect_reject(&fx.rj, 7, 11, 1,
                  "ts: 2026-03-02T01:00:00.000001Z: time more than 1 day ahead of the clock");
    cr_assert_eq(colog__ingest_nrows(fx.ing), 3);
    cr_assert(absent(&fx, 2, 1) && absent(&fx, 2, 2) && absent(&fx, 2, 4));
    colog_ingest_stats_t st;
    cr_assert_eq(fx_finish(&fx, &st), 0);
    cr_assert_eq(st.rows_read, 11);
    cr_assert_eq(st.rows_ok, 3);
    cr_assert_eq(st.rows_rejected, 8);
    cr_assert_eq(st.parts_written, 2);
    fx_free(&fx);
}

Test(csv_ingest, reject_value_is_shown_printable_and_bounded)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    char in[512];
    snprintf(in, sizeof in, "ts,b\n2026-03-01T00:00:00Z,\"1\t%s\"\n",
             "2345678901234567890123456789012345678901234567890123456789012345678901234567890");
    cr_assert_eq(fx_csv(&fx, in), 0);
    cr_assert_eq(fx.rj.n, 1);
    expect_reject(&fx.rj, 0, 2, 22,
                  "b: '1\\x0923456789012345678901234567890123456789012345678901234567890123...' "
                  "is not a valid u16");
    fx_free(&fx);
}

Test(csv_ingest, every_type_through_csv)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    cr_assert_eq(fx_csv(&fx, "ts,s,ip,a,b,c,d,e,f\n"
                             "2026-03-01T00:00:00.5+01:00,\xC3\xA9t\xC3\xA9,2001:db8::1,255,65535,"
                             "4294967295,18446744073709551615,-9223372036854775808,1e-400\n"),
                 0);
    cr_assert_eq(fx.rj.n, 0, "%s", fx.rj.r[0].reason);
    cr_assert_eq(val(&fx, 0, 0).i, T0 - 3600000000LL + 500000);
    colog_value_t v = val(&fx, 0, 1);
    cr_assert_eq(v.s.len, 5);
    v = val(&fx, 0, 2);
    cr_assert_eq(v.ip.b[0], 0x20);
    cr_assert_eq(v.ip.b[1], 0x01);
    cr_assert_eq(v.ip.b[15], 1);
    cr_assert_eq(val(&fx, 0, 3).u, 255);
    cr_assert_eq(val(&fx, 0, 4).u, 65535);
    cr_assert_eq(val(&fx, 0, 5).u, 4294967295u);
    cr_assert_eq(val(&fx, 0, 6).u, UINT64_MAX);
    cr_assert_eq(val(&fx, 0, 7).i, INT64_MIN);
    cr_assert_eq(val(&fx, 0, 8).f, 0.0);
    fx_free(&fx);
}

/* ---------------------------------------------------------------- conversion */

static void conv_u(colog_type_t t, const char *s, uint64_t want)
{
    char why[256] = "";
    colog_value_t v;
    cr_assert_eq(colog__value_parse(t, s, strlen(s), &v, why, sizeof why), 0, "%s", why);
    cr_assert_eq(v.u, want, "'%s' as %s", s, colog_type_name(t));
}

static void conv_i(colog_type_t t, const char *s, int64_t want)
{
    char why[256] = "";
    colog_value_t v;
    cr_assert_eq(colog__value_parse(t, s, strlen(s), &v, why, sizeof why), 0, "%s", why);
    cr_assert_eq(v.i, want, "'%s' as %s: %lld", s, colog_type_name(t), (long long)v.i);
}

static void conv_bad(colog_type_t t, const char *s, size_t len, int code, const char *why_want)
{
    char why[256] = "";
    colog_value_t v;
    int rc = colog__value_parse(t, s, len, &v, why, sizeof why);
    cr_assert_eq(rc, code, "'%s' as %s: rc %d", s, colog_type_name(t), rc);
    cr_assert_str_eq(why, why_want);
}

#define BAD(t, s, code, why) conv_bad(t, s, strlen(s), code, why)

Test(convert, unsigned_boundaries)
{
    conv_u(COLOG_T_U8, "0", 0);
    conv_u(COLOG_T_U8, "255", 255);
    conv_u(COLOG_T_U8, "007", 7);
    conv_u(COLOG_T_U8, "-0", 0);
    BAD(COLOG_T_U8, "256", COLOG_ERANGE, "256 out of range for u8");
    BAD(COLOG_T_U8, "-1", COLOG_ERANGE, "-1 out of range for u8");
    conv_u(COLOG_T_U16, "65535", 65535);
    BAD(COLOG_T_U16, "65536", COLOG_ERANGE, "65536 out of range for u16");
    BAD(COLOG_T_U16, "70000", COLOG_ERANGE, "70000 out of range for u16");
    conv_u(COLOG_T_U32, "4294967295", 4294967295u);
    BAD(COLOG_T_U32, "4294967296", COLOG_ERANGE, "4294967296 out of range for u32");
    conv_u(COLOG_T_U64, "18446744073709551615", UINT64_MAX);
    BAD(COLOG_T_U64, "18446744073709551616", COLOG_ERANGE,
        "18446744073709551616 out of range for u64");
    BAD(COLOG_T_U64, "99999999999999999999999", COLOG_ERANGE,
        "99999999999999999999999 out of range for u64");
    BAD(COLOG_T_U64, "99999999999999999999999x", COLOG_EPARSE,
        "'99999999999999999999999x' is not a valid u64");
}

Test(convert, unsigned_syntax)
{
    const char *bad[] = {"+1", " 1", "1 ", "0x10", "1.0", "1e3", "-", "", "abc", "١"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "'%s' is not a valid u16", bad[i]);
        BAD(COLOG_T_U16, bad[i], COLOG_EPARSE, want);
    }
}

Test(convert, i64_boundaries)
{
    conv_i(COLOG_T_I64, "0", 0);
    conv_i(COLOG_T_I64, "-0", 0);
    conv_i(COLOG_T_I64, "-42", -42);
    conv_i(COLOG_T_I64, "9223372036854775807", INT64_MAX);
    conv_i(COLOG_T_I64, "-9223372036854775808", INT64_MIN);
    BAD(COLOG_T_I64, "9223372036854775808", COLOG_ERANGE,
        "9223372036854775808 out of range for i64");
    BAD(COLOG_T_I64, "-9223372036854775809", COLOG_ERANGE,
        "-9223372036854775809 out of range for i64");
    BAD(COLOG_T_I64, "--1", COLOG_EPARSE, "'--1' is not a valid i64");
    BAD(COLOG_T_I64, "+5", COLOG_EPARSE, "'+5' is not a valid i64");
}

Test(convert, f64)
{
    char why[128];
    colog_value_t v;
    const struct {
        const char *s;
        double want;
    } ok[] = {{"1.5", 1.5}, {"-2e-3", -0.002}, {"1e308", 1e308}, {".5", 0.5},
              {"5.", 5.0},  {"1E2", 100.0},    {"0", 0.0},       {"1e-400", 0.0}};
    for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(colog__value_parse(COLOG_T_F64, ok[i].s, strlen(ok[i].s), &v, why, sizeof why),
                     0, "%s: %s", ok[i].s, why);
        cr_assert_eq(v.f, ok[i].want, "%s", ok[i].s);
    }
    BAD(COLOG_T_F64, "1e309", COLOG_ERANGE, "1e309 out of range for f64");
    BAD(COLOG_T_F64, "-1e309", COLOG_ERANGE, "-1e309 out of range for f64");
    BAD(COLOG_T_F64, "nan", COLOG_EPARSE, "'nan' is not a valid f64");
    BAD(COLOG_T_F64, "inf", COLOG_EPARSE, "'inf' is not a valid f64");
    BAD(COLOG_T_F64, "-Infinity", COLOG_EPARSE, "'-Infinity' is not a valid f64");
    BAD(COLOG_T_F64, "0x1p3", COLOG_EPARSE, "'0x1p3' is not a valid f64");
    BAD(COLOG_T_F64, " 1", COLOG_EPARSE, "' 1' is not a valid f64");
    BAD(COLOG_T_F64, "1.2.3", COLOG_EPARSE, "'1.2.3' is not a valid f64");
    BAD(COLOG_T_F64, "e5", COLOG_EPARSE, "'e5' is not a valid f64");
    BAD(COLOG_T_F64, ".", COLOG_EPARSE, "'.' is not a valid f64");
}

static void ip_is(const char *s, const char *canon_hex)
{
    char why[128];
    colog_value_t v;
    cr_assert_eq(colog__value_parse(COLOG_T_IP, s, strlen(s), &v, why, sizeof why), 0, "%s: %s", s,
                 why);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", v.ip.b[i]);
    cr_assert_str_eq(hex, canon_hex, "%s", s);
}

Test(convert, ip)
{
    ip_is("10.0.0.1", "00000000000000000000ffff0a000001");
    ip_is("0.0.0.0", "00000000000000000000ffff00000000");
    ip_is("255.255.255.255", "00000000000000000000ffffffffffff");
    ip_is("::1", "00000000000000000000000000000001");
    ip_is("2001:db8::ff", "20010db80000000000000000000000ff");
    ip_is("::ffff:10.0.0.1", "00000000000000000000ffff0a000001"); /* same as the IPv4 */
    ip_is("FE80::A", "fe80000000000000000000000000000a");
    const char *bad[] = {"256.0.0.1", "1.2.3",     "1.2.3.4.5", "1.2.3.4 ", " 1.2.3.4",
                         "01.2.3.4",  "1.2.3.-4",  "1..2.3",    "::1::",    "fe80::1%eth0",
                         "12345::",   "localhost", "1.2.3.4/24"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "'%s' is not a valid ip", bad[i]);
        BAD(COLOG_T_IP, bad[i], COLOG_EPARSE, want);
    }
}

Test(convert, time)
{
    conv_i(COLOG_T_TIME, "2026-03-01T00:00:00Z", T0);
    conv_i(COLOG_T_TIME, "2026-03-01 00:00:00", T0); /* no zone: UTC */
    conv_i(COLOG_T_TIME, "2026-03-01T02:00:00.25+02:00", T0 + 250000);
    conv_i(COLOG_T_TIME, "2026-03-01", T0);
    conv_i(COLOG_T_TIME, "1772323200", T0);
    conv_i(COLOG_T_TIME, "1772323200.000001", T0 + 1);
    conv_i(COLOG_T_TIME, "0", 0);
    BAD(COLOG_T_TIME, "2026-02-30T00:00:00Z", COLOG_EPARSE,
        "'2026-02-30T00:00:00Z' is not a valid time");
    BAD(COLOG_T_TIME, "2026-03-01T24:00:00Z", COLOG_EPARSE,
        "'2026-03-01T24:00:00Z' is not a valid time");
    BAD(COLOG_T_TIME, "yesterday", COLOG_EPARSE, "'yesterday' is not a valid time");
    BAD(COLOG_T_TIME, "99999999999999999999", COLOG_ERANGE,
        "99999999999999999999 out of range for time");
}

Test(convert, string_borrows)
{
    const char *s = "any text, even \"this\"";
    colog_value_t v;
    char why[8];
    cr_assert_eq(colog__value_parse(COLOG_T_STRING, s, 5, &v, why, sizeof why), 0);
    cr_assert_eq(v.s.p, s);
    cr_assert_eq(v.s.len, 5);
}

Test(convert, show)
{
    char buf[300];
    colog__show(buf, sizeof buf, "a\tb\\c\x7f", 6);
    cr_assert_str_eq(buf, "a\\x09b\\x5cc\\x7f");
    char *x = repeat('x', 100);
    colog__show(buf, sizeof buf, x, 100);
    cr_assert_eq(strlen(buf), COLOG_SHOW_MAX + 3);
    cr_assert_str_eq(buf + COLOG_SHOW_MAX, "...");
    /* a 2-byte character straddling the 64-byte cut is dropped whole */
    memcpy(x + 63, "\xC3\xA9", 2);
    colog__show(buf, sizeof buf, x, 100);
    cr_assert_eq(strlen(buf), 63 + 3);
    free(x);
    colog__show(buf, sizeof buf, "\xC3\xA9\xFF", 3);
    cr_assert_str_eq(buf, "\xC3\xA9\\xff");
    colog__show(buf, 8, "abcdefghij", 10); /* tiny buffer: cut, still terminated */
    cr_assert_str_eq(buf, "abcd...");
}

Test(convert, utf8_check)
{
    cr_assert_eq(colog__utf8_check("plain ascii text, long enough for 8-byte steps", 46), 46);
    cr_assert_eq(colog__utf8_check("abcdefgh\xC3\xA9xyz", 13), 13);
    cr_assert_eq(colog__utf8_check("abcdefghij\xC3", 11), 10);
    cr_assert_eq(colog__utf8_check("abcdefghijklmnop\xED\xBF\xBF", 19), 16);
    cr_assert_eq(colog__utf8_check("\xF0\x8F\xBF\xBF", 4), 0); /* overlong 4-byte */
    cr_assert_eq(colog__utf8_check("\xF5\x80\x80\x80", 4), 0);
}

/* ---------------------------------------------------------------- flush */

static const char *flush_schema = "ts time\n"
                                  "s string indexed\n"
                                  "ip ip indexed\n"
                                  "n u16\n"
                                  "g i64\n";

Test(flush, days_sorted_stable_and_dictionaries)
{
    fixture_t fx;
    fx_init(&fx, flush_schema, 0);
    const char *in = "ts,s,ip,n,g\n"
                     "2026-03-01T00:00:05Z,pear,10.0.0.2,5,-1\n"
                     "2026-03-02T00:30:00Z,fig,::1,,\n"
                     "2026-03-01T00:00:01Z,apple,10.0.0.1,1,\n"
                     "2026-02-28T23:00:00Z,zz,10.0.0.9,9,9\n"
                     "2026-03-01T00:00:01Z,banana,2001:db8::1,2,2\n"
                     "2026-03-01T00:00:01Z,apple,10.0.0.1,3,3\n"
                     "2026-03-01T00:00:00Z,Apple,,0,0\n";
    cr_assert_eq(fx_csv(&fx, in), 0);
    cr_assert_eq(fx.rj.n, 0, "%s", fx.rj.r[0].reason);
    cr_assert_eq(colog_ingest_flush(fx.ing), 0, "%s", colog_errmsg());
    cap_t *c = &fx.cap;
    cr_assert_eq(c->nparts, 3);
    cr_assert_eq(c->parts[0].day, DAY0 - 1);
    cr_assert_eq(c->parts[1].day, DAY0);
    cr_assert_eq(c->parts[2].day, DAY0 + 1);
    cr_assert_eq(c->nmerges, 3);
    cr_assert_eq(c->merges[0], DAY0 - 1);
    cr_assert_eq(c->merges[2], DAY0 + 1);

    const cpart_t *p = &c->parts[1];
    cr_assert(p->committed);
    cr_assert_eq(p->nrows, 5);
    /* by time; the three rows at :01 keep their input order */
    const char *want_s[] = {"Apple", "apple", "banana", "apple", "pear"};
    const uint64_t want_n[] = {0, 1, 2, 3, 5};
    for (unsigned i = 0; i < 5; i++) {
        cr_assert_str_eq(cstr(p, 1, i), want_s[i], "row %u", i);
        cr_assert_eq(p->cols[3].vals[i], want_n[i], "row %u", i);
    }
    /* the day's dictionary: only its values, sorted bytewise */
    cr_assert_eq(p->cols[1].dn, 4);
    cr_assert_str_eq(p->cols[1].dstr[0], "Apple");
    cr_assert_str_eq(p->cols[1].dstr[3], "pear");
    /* ips: IPv4 (::ffff:...) sort before 2001:db8::1; one row absent */
    cr_assert_eq(p->cols[2].dn, 3);
    cr_assert(colog_ip_is_v4(&p->cols[2].dip[0]));
    cr_assert_eq(p->cols[2].dip[0].b[15], 1);
    cr_assert_eq(p->cols[2].dip[2].b[0], 0x20);
    cr_assert(!p->cols[2].present[0]);
    cr_assert_eq(p->cols[2].vals[1], 0); /* 10.0.0.1 */
    cr_assert_eq(p->cols[2].vals[2], 2); /* 2001:db8::1 */
    cr_assert_eq(p->cols[2].nonnull_valid_chunks, 1);
    /* g: absent in the row at :01 apple #1 */
    cr_assert(!p->cols[4].present[1]);
    cr_assert_eq((int64_t)p->cols[4].vals[4], -1);
    /* s has no absent value in the day: no bitset */
    cr_assert_eq(p->cols[1].nonnull_valid_chunks, 0);

    p = &c->parts[2];
    cr_assert_eq(p->nrows, 1);
    cr_assert_str_eq(cstr(p, 1, 0), "fig");
    cr_assert_eq(p->cols[1].dn, 1);
    cr_assert(!p->cols[3].present[0]);
    cr_assert(!p->cols[4].present[0]);
    cr_assert_eq(p->cols[3].vals[0], 0, "absent values are zero");
    fx_free(&fx);
}

Test(flush, chunks_and_auto_flush)
{
    fixture_t fx;
    fx_init(&fx, flush_schema, 70000);
    size_t cap = 100000 * 48, o = 0;
    char *in = malloc(cap);
    o += (size_t)sprintf(in, "ts,s,n\n");
    for (unsigned i = 0; i < 100000; i++) /* in order, 1 ms apart, 2026-03-01 */
        o += (size_t)sprintf(in + o, "%lld.%03u,v%u,%u\n", (long long)(T0 / 1000000) + i / 1000,
                             i % 1000, i % 7, i % 65536);
    cr_assert_eq(fx_csv(&fx, in), 0, "%s", colog_errmsg());
    free(in);
    cap_t *c = &fx.cap;
    cr_assert_eq(c->nparts, 1, "one flush at 70000 rows");
    cr_assert_eq(c->parts[0].nrows, 70000);
    cr_assert_eq(c->parts[0].cols[1].nchunks, 2);
    cr_assert_eq(c->parts[0].cols[1].max_chunk, COLOG_BLOCK_ROWS);
    cr_assert_eq(c->parts[0].cols[2].nonnull_valid_chunks, 2, "ip is absent everywhere");
    cr_assert_eq(c->parts[0].cols[2].dn, 0);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 30000);
    colog_ingest_stats_t st;
    cr_assert_eq(fx_finish(&fx, &st), 0);
    cr_assert_eq(c->nparts, 2);
    cr_assert_eq(c->parts[1].nrows, 30000);
    cr_assert_eq(c->parts[1].cols[3].vals[0], 70000 % 65536);
    cr_assert_str_eq(cstr(&c->parts[1], 1, 29999), "v4"); /* 99999 % 7 */
    cr_assert_eq(st.parts_written, 2);
    cr_assert_eq(st.rows_ok, 100000);
    cr_assert_eq(c->nmerges, 2);
    fx_free(&fx);
}

Test(flush, no_auto_merge)
{
    fixture_t fx;
    memset(&fx, 0, sizeof fx);
    cr_assert_eq(colog_schema_parse(flush_schema, strlen(flush_schema), "x", &fx.schema), 0);
    fx.cap.schema = &fx.schema;
    fx.opts.no_auto_merge = true;
    fx.opts.now_us = T0;
    cr_assert_eq(colog__ingest_new(&fx.schema, &fx.opts, &capture_sink, &fx.cap, &fx.ing), 0);
    cr_assert_eq(fx_csv(&fx, "ts\n2026-03-01T00:00:00Z\n2026-02-01T00:00:00Z\n"), 0);
    cr_assert_eq(fx_finish(&fx, NULL), 0);
    cr_assert_eq(fx.cap.nparts, 2);
    cr_assert_eq(fx.cap.nmerges, 0);
    fx_free(&fx);
}

Test(flush, random_times_radix_sort)
{
    /* 200k rows over 60 days in random order, with many equal times: every
     * part is one day and sorted (the capture checks both at commit), equal
     * times keep their input order (g counts up), and no row is lost. */
    fixture_t fx;
    fx_init(&fx, flush_schema, 0);
    const unsigned N = 200000, NDAYS = 60;
    unsigned per_day[60] = {0};
    for (unsigned i = 0; i < N; i++) {
        unsigned d = rnd(NDAYS);
        int64_t t = T0 - (int64_t)d * 86400000000LL + (int64_t)rnd(864) * 100000000;
        per_day[d]++;
        cr_assert_eq(colog__row_begin(fx.ing), 0);
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)(t / 1000000));
        cr_assert_eq(colog__row_put_text(fx.ing, 0, text, strlen(text)), 0);
        cr_assert_eq(colog__row_put_int(fx.ing, 4, i), 0);
        cr_assert_eq(colog__row_end(fx.ing), 0);
    }
    cr_assert_eq(colog_ingest_flush(fx.ing), 0, "%s", colog_errmsg());
    cr_assert_eq(fx.cap.nparts, NDAYS);
    uint64_t total = 0;
    for (unsigned k = 0; k < NDAYS; k++) {
        const cpart_t *p = &fx.cap.parts[k];
        cr_assert(p->committed);
        cr_assert_eq(p->day, DAY0 - (int32_t)NDAYS + 1 + (int32_t)k);
        cr_assert_eq(p->nrows, per_day[NDAYS - 1 - k]);
        total += p->nrows;
        for (uint64_t i = 1; i < p->nrows; i++)
            if (p->cols[0].vals[i] == p->cols[0].vals[i - 1])
                cr_assert_gt(p->cols[4].vals[i], p->cols[4].vals[i - 1], "stable");
    }
    cr_assert_eq(total, N);
    fx_free(&fx);
}

Test(flush, sink_failure_kills_the_session)
{
    fixture_t fx;
    fx_init(&fx, flush_schema, 0);
    fx.cap.fail_append_at = 2;
    cr_assert_eq(fx_csv(&fx, "ts,s\n2026-03-01T00:00:00Z,a\n"), 0);
    cr_assert_eq(colog_ingest_flush(fx.ing), -EIO);
    cr_assert_eq(fx.cap.aborts, 1);
    cr_assert_eq(fx_csv(&fx, "ts,s\n2026-03-01T00:00:00Z,a\n"), -EIO);
    cr_assert_eq(colog_ingest_flush(fx.ing), -EIO);
    colog_ingest_stats_t st;
    cr_assert_eq(fx_finish(&fx, &st), -EIO);
    cr_assert_eq(st.parts_written, 0);
    fx_free(&fx);
}

Test(flush, batch_reused_after_flush)
{
    fixture_t fx;
    fx_init(&fx, flush_schema, 2);
    cr_assert_eq(fx_csv(&fx, "ts,s,ip\n"
                             "2026-03-01T00:00:00Z,b,1.1.1.1\n"
                             "2026-03-01T00:00:01Z,a,1.1.1.1\n" /* flush here */
                             "2026-03-01T00:00:02Z,c,2.2.2.2\n"
                             "2026-03-01T00:00:03Z,a,2.2.2.2\n"), /* and here */
                 0);
    cr_assert_eq(fx.cap.nparts, 2);
    const cpart_t *p = &fx.cap.parts[1];
    cr_assert_eq(p->cols[1].dn, 2);
    cr_assert_str_eq(cstr(p, 1, 0), "c");
    cr_assert_str_eq(cstr(p, 1, 1), "a");
    cr_assert_eq(p->cols[2].dn, 1);
    cr_assert_eq(p->cols[2].dip[0].b[15], 2);
    fx_free(&fx);
}

Test(flush, memory_bound_on_long_strings)
{
    /* 60 KB strings: the arena bound asks for a flush long before batch_rows. */
    fixture_t fx;
    fx_init(&fx, flush_schema, 0);
    char *big = repeat('q', 60000);
    unsigned rows = 0;
    while (!colog__ingest_full(fx.ing)) {
        cr_assert_eq(colog__row_begin(fx.ing), 0);
        cr_assert_eq(colog__row_put_int(fx.ing, 0, T0 / 1000000), 0);
        snprintf(big, 12, "%011u", rows); /* distinct */
        big[11] = 'q';
        cr_assert_eq(colog__row_put_text(fx.ing, 1, big, 60000), 0);
        cr_assert_eq(colog__row_end(fx.ing), 0);
        rows++;
        cr_assert_lt(rows, 2000);
    }
    cr_assert_eq(rows, (COLOG_INGEST_ARENA_MAX + 59999) / 60000);
    cr_assert_eq(colog_ingest_flush(fx.ing), 0);
    cr_assert_eq(fx.cap.parts[0].cols[1].dn, rows);
    cr_assert(!colog__ingest_full(fx.ing));
    free(big);
    fx_free(&fx);
}

/* ---------------------------------------------------------------- pipeline */

/*
 * A part sink with per-column handles (col_open ..), as the part writer has:
 * the session writes the columns of a part from its writer thread and from the
 * reader's thread while it waits. Every value is kept as text ("-" = absent),
 * so that runs with different batch sizes can be compared row for row.
 */
typedef struct hpart {
    int32_t day;
    uint64_t nrows;
    char **cells[MAXCOLS]; /* cells[col][row] */
    unsigned cols_closed;
    bool committed;
} hpart_t;

typedef struct hsink {
    pthread_mutex_t mu;
    const colog_schema_t *schema;
    hpart_t **parts;
    unsigned nparts, cap;
    unsigned opens, closes, col_aborts, aborts, commits, merges;
    int fail_col;       /* fail a write of this column ... */
    unsigned fail_part; /* ... of this part (1-based); 0 = never */
    pthread_t seen[2];  /* threads that wrote columns */
    unsigned nseen;
} hsink_t;

typedef struct hhandle {
    hsink_t *s;
    hpart_t *p;
    unsigned col;
    uint64_t n;
    uint32_t dn;
    char **dict; /* the dictionary as text */
} hhandle_t;

static int h_open(void *ctx, int32_t day, uint64_t nrows)
{
    hsink_t *s = ctx;
    hpart_t *p = calloc(1, sizeof *p);
    p->day = day;
    p->nrows = nrows;
    pthread_mutex_lock(&s->mu);
    if (s->nparts == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->parts = realloc(s->parts, s->cap * sizeof *s->parts);
    }
    s->parts[s->nparts++] = p;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int h_col_open(void *ctx, unsigned col, const colog_dictview_t *d, void **out)
{
    hsink_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    hpart_t *p = s->parts[s->nparts - 1];
    s->opens++;
    pthread_t me = pthread_self();
    bool seen = false;
    for (unsigned i = 0; i < s->nseen; i++)
        seen |= pthread_equal(s->seen[i], me);
    if (!seen && s->nseen < 2)
        s->seen[s->nseen++] = me;
    pthread_mutex_unlock(&s->mu);
    hhandle_t *h = calloc(1, sizeof *h);
    h->s = s;
    h->p = p;
    h->col = col;
    p->cells[col] = calloc(p->nrows, sizeof *p->cells[col]);
    if (d) {
        h->dn = d->n;
        h->dict = calloc(d->n + 1, sizeof *h->dict);
        for (uint32_t i = 0; i < d->n; i++) {
            char buf[64];
            if (d->type == COLOG_T_IP) {
                colog_ip_format(&d->ips[i], buf, sizeof buf);
                h->dict[i] = strdup(buf);
            } else {
                h->dict[i] = strndup(d->bytes + d->offs[i], d->offs[i + 1] - d->offs[i]);
            }
        }
    }
    *out = h;
    return 0;
}

static int h_col_write(void *hv, const void *vals, const uint8_t *valid, uint32_t n)
{
    hhandle_t *h = hv;
    hsink_t *s = h->s;
    pthread_mutex_lock(&s->mu);
    bool fail = s->fail_part != 0 && s->nparts == s->fail_part && (int)h->col == s->fail_col;
    pthread_mutex_unlock(&s->mu);
    if (fail)
        return colog_seterr(-EIO, "hsink: injected failure in column %u", h->col);
    colog_type_t t = s->schema->cols[h->col].type;
    if (h->n + n > h->p->nrows)
        return colog_seterr(COLOG_EINVAL, "hsink: too many rows");
    for (uint32_t i = 0; i < n; i++) {
        char buf[64] = "-";
        if (colog_valid(valid, i)) {
            if (colog_type_is_dict(t)) {
                uint32_t code = ((const uint32_t *)vals)[i];
                if (code >= h->dn)
                    return colog_seterr(COLOG_EINVAL, "hsink: code outside the dictionary");
                snprintf(buf, sizeof buf, "%s", h->dict[code]);
            } else if (t == COLOG_T_TIME || t == COLOG_T_I64) {
                snprintf(buf, sizeof buf, "%lld", (long long)((const int64_t *)vals)[i]);
            } else if (t == COLOG_T_F64) {
                snprintf(buf, sizeof buf, "%g", ((const double *)vals)[i]);
            } else {
                snprintf(buf, sizeof buf, "%llu", (unsigned long long)((const uint64_t *)vals)[i]);
            }
        }
        h->p->cells[h->col][h->n + i] = strdup(buf);
    }
    h->n += n;
    return 0;
}

static void h_free(hhandle_t *h)
{
    for (uint32_t i = 0; i < h->dn; i++)
        free(h->dict[i]);
    free(h->dict);
    free(h);
}

static int h_col_close(void *hv)
{
    hhandle_t *h = hv;
    hsink_t *s = h->s;
    int rc = h->n == h->p->nrows ? 0 : colog_seterr(COLOG_EINVAL, "hsink: short column");
    pthread_mutex_lock(&s->mu);
    s->closes++;
    h->p->cols_closed++;
    pthread_mutex_unlock(&s->mu);
    h_free(h);
    return rc;
}

static void h_col_abort(void *hv)
{
    hhandle_t *h = hv;
    pthread_mutex_lock(&h->s->mu);
    h->s->col_aborts++;
    pthread_mutex_unlock(&h->s->mu);
    h_free(h);
}

static int h_commit(void *ctx, uint64_t *id)
{
    hsink_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    hpart_t *p = s->parts[s->nparts - 1];
    int rc = p->cols_closed == s->schema->ncols ? 0 : colog_seterr(COLOG_EINVAL, "hsink: commit");
    for (uint64_t i = 0; rc == 0 && i < p->nrows; i++) {
        int64_t t = strtoll(p->cells[0][i], NULL, 10);
        if (colog_day_of(t) != p->day || (i > 0 && t < strtoll(p->cells[0][i - 1], NULL, 10)))
            rc = colog_seterr(COLOG_EINVAL, "hsink: part not sorted or not of its day");
    }
    p->committed = rc == 0;
    s->commits += rc == 0;
    *id = s->nparts;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void h_abort(void *ctx)
{
    hsink_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->aborts++;
    pthread_mutex_unlock(&s->mu);
}

static int h_merge(void *ctx, int32_t day, unsigned max_parts, bool *merged)
{
    hsink_t *s = ctx;
    (void)day, (void)max_parts;
    pthread_mutex_lock(&s->mu);
    s->merges++;
    pthread_mutex_unlock(&s->mu);
    *merged = false;
    return 0;
}

static const colog_partsink_t handle_sink = {.open = h_open,
                                             .commit = h_commit,
                                             .abort = h_abort,
                                             .merge = h_merge,
                                             .col_open = h_col_open,
                                             .col_write = h_col_write,
                                             .col_close = h_col_close,
                                             .col_abort = h_col_abort};

static void hsink_init(hsink_t *s, const colog_schema_t *schema)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->schema = schema;
    s->fail_col = -1;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The committed rows, "day|v0,v1,..." sorted, and their count. */
static char **hsink_rows(hsink_t *s, size_t *n)
{
    size_t total = 0, k = 0;
    for (unsigned i = 0; i < s->nparts; i++)
        total += s->parts[i]->committed ? s->parts[i]->nrows : 0;
    char **rows = calloc(total + 1, sizeof *rows);
    for (unsigned i = 0; i < s->nparts; i++) {
        hpart_t *p = s->parts[i];
        for (uint64_t r = 0; p->committed && r < p->nrows; r++) {
            char line[512];
            size_t o = (size_t)snprintf(line, sizeof line, "%d|", p->day);
            for (unsigned c = 0; c < s->schema->ncols; c++)
                o += (size_t)snprintf(line + o, sizeof line - o, "%s%s", c ? "," : "",
                                      p->cells[c][r]);
            rows[k++] = strdup(line);
        }
    }
    qsort(rows, k, sizeof *rows, cmp_strp);
    *n = k;
    return rows;
}

static void free_rows(char **rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
}

static void hsink_free(hsink_t *s)
{
    for (unsigned i = 0; i < s->nparts; i++) {
        hpart_t *p = s->parts[i];
        for (unsigned c = 0; c < MAXCOLS; c++) {
            for (uint64_t r = 0; p->cells[c] && r < p->nrows; r++)
                free(p->cells[c][r]);
            free(p->cells[c]);
        }
        free(p);
    }
    free(s->parts);
    pthread_mutex_destroy(&s->mu);
}

/* Every reject, in the order reported. */
typedef struct rejlog {
    uint64_t *line, *col;
    char **reason;
    size_t n, cap;
} rejlog_t;

static void log_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *reason)
{
    rejlog_t *rl = ctx;
    (void)src;
    if (rl->n == rl->cap) {
        rl->cap = rl->cap ? 2 * rl->cap : 64;
        rl->line = realloc(rl->line, rl->cap * sizeof *rl->line);
        rl->col = realloc(rl->col, rl->cap * sizeof *rl->col);
        rl->reason = realloc(rl->reason, rl->cap * sizeof *rl->reason);
    }
    rl->line[rl->n] = line;
    rl->col[rl->n] = col;
    rl->reason[rl->n] = strdup(reason);
    rl->n++;
}

static void rejlog_free(rejlog_t *rl)
{
    for (size_t i = 0; i < rl->n; i++)
        free(rl->reason[i]);
    free(rl->line);
    free(rl->col);
    free(rl->reason);
}

/*
 * CSV for the flush schema: n data rows over 3 days in random order, with
 * equal times, absent values, IPv4 and IPv6, and a bad row at every line
 * L with L % 9 == 4 (port out of range) or L % 13 == 7 (bad ip).
 */
static char *pipeline_input(unsigned n)
{
    char *s = malloc((size_t)n * 96 + 64), *o = s;
    o += sprintf(o, "g,ts,ip,s,n\n");
    for (unsigned i = 0; i < n; i++) {
        unsigned line = i + 2;
        int64_t t = T0 / 1000000 - 2 * 86400 + (int64_t)rnd(3 * 86400 / 7) * 7;
        char ip[48] = "", str[16] = "";
        unsigned k = rnd(10);
        if (k < 6)
            sprintf(ip, "10.%u.%u.%u", rnd(4), rnd(256), rnd(256));
        else if (k < 8)
            sprintf(ip, "2001:db8::%x", rnd(5000));
        if (line % 13 == 7)
            strcpy(ip, "1.2.3");
        if (rnd(8))
            sprintf(str, "u%u", rnd(300));
        unsigned port = line % 9 == 4 ? 70000 : rnd(65536);
        o += sprintf(o, "%u,%lld,%s,%s,%u\n", i, (long long)t, ip, str, port);
    }
    return s;
}

typedef struct hrun {
    hsink_t sink;
    rejlog_t rj;
    colog_ingest_stats_t st;
    char **rows;
    size_t nrows;
} hrun_t;

/* Ingest text through the handle sink with the given batch size. */
static void hrun(hrun_t *r, const colog_schema_t *schema, const char *text, size_t batch_rows)
{
    memset(r, 0, sizeof *r);
    hsink_init(&r->sink, schema);
    colog_ingest_opts_t o = {.batch_rows = batch_rows,
                             .now_us = T0 + 3600000000LL,
                             .reject = log_reject,
                             .reject_ctx = &r->rj};
    colog_ingest_t *ing;
    cr_assert_eq(colog__ingest_new(schema, &o, &handle_sink, &r->sink, &ing), 0);
    FILE *f = memfile(text, strlen(text));
    cr_assert_eq(colog_ingest_file(ing, f, "t.csv", COLOG_IN_CSV), 0, "%s", colog_errmsg());
    fclose(f);
    cr_assert_eq(colog_ingest_finish(ing, &r->st), 0, "%s", colog_errmsg());
    r->rows = hsink_rows(&r->sink, &r->nrows);
}

static void hrun_free(hrun_t *r)
{
    free_rows(r->rows, r->nrows);
    hsink_free(&r->sink);
    rejlog_free(&r->rj);
}

Test(pipeline, batch_sizes_give_the_same_rows_and_rejects)
{
    colog_schema_t schema;
    cr_assert_eq(colog_schema_parse(flush_schema, strlen(flush_schema), "x", &schema), 0);
    const unsigned N = 3000;
    char *in = pipeline_input(N);
    unsigned want_rejects = 0;
    for (unsigned line = 2; line < N + 2; line++)
        want_rejects += line % 9 == 4 || line % 13 == 7;
    hrun_t big, r7, r1000;
    hrun(&big, &schema, in, 0);
    hrun(&r7, &schema, in, 7);
    hrun(&r1000, &schema, in, 1000);
    free(in);
    hrun_t *runs[] = {&big, &r7, &r1000};
    for (unsigned k = 0; k < 3; k++) {
        hrun_t *r = runs[k];
        cr_assert_eq(r->st.rows_read, N);
        cr_assert_eq(r->st.rows_rejected, want_rejects);
        cr_assert_eq(r->st.rows_ok, N - want_rejects);
        cr_assert_eq(r->nrows, N - want_rejects, "run %u: %zu rows in parts", k, r->nrows);
        cr_assert_eq(r->st.parts_written, r->sink.commits);
        cr_assert_eq(r->sink.opens, r->sink.closes);
        cr_assert_eq(r->sink.col_aborts + r->sink.aborts, 0);
        /* rejects: from the reader's thread, in input order, whatever the batch */
        cr_assert_eq(r->rj.n, want_rejects);
        size_t i = 0;
        for (unsigned line = 2; line < N + 2; line++) {
            if (!(line % 9 == 4 || line % 13 == 7))
                continue;
            cr_assert_eq(r->rj.line[i], line, "run %u: reject %zu at line %llu, want %u", k, i,
                         (unsigned long long)r->rj.line[i], line);
            bool ip_bad = line % 13 == 7; /* ip comes before n in the header */
            cr_assert_str_eq(r->rj.reason[i], ip_bad ? "ip: '1.2.3' is not a valid ip"
                                                     : "n: 70000 out of range for u16");
            i++;
        }
        for (size_t j = 0; j < r->nrows; j++)
            cr_assert_str_eq(r->rows[j], big.rows[j], "run %u row %zu", k, j);
    }
    cr_assert_eq(big.st.parts_written, 3);
    cr_assert_geq(r7.st.parts_written, (N - want_rejects) / 7);
    for (unsigned k = 0; k < 3; k++)
        hrun_free(runs[k]);
}

/* Ingest text into a session that is expected to die with -EIO and msg. */
static void expect_dead(colog_ingest_t *ing, const char *text, const char *msg)
{
    FILE *f = memfile(text, strlen(text));
    colog_seterr(0, "stale");
    cr_assert_eq(colog_ingest_file(ing, f, "t.csv", COLOG_IN_CSV), -EIO);
    fclose(f);
    cr_assert_str_eq(colog_errmsg(), msg, "the writer's message, on the caller's thread");
    /* dead: every later call fails the same way */
    colog_seterr(0, "stale");
    cr_assert_eq(colog_ingest_flush(ing), -EIO);
    cr_assert_str_eq(colog_errmsg(), msg);
    f = memfile(text, strlen(text));
    colog_seterr(0, "stale");
    cr_assert_eq(colog_ingest_file(ing, f, "t.csv", COLOG_IN_CSV), -EIO);
    cr_assert_str_eq(colog_errmsg(), msg);
    fclose(f);
}

Test(pipeline, writer_failure_has_its_message_and_kills_the_session)
{
    /* The sequential sink: the failure happens on the writer thread. */
    fixture_t fx;
    fx_init(&fx, flush_schema, 2);
    fx.cap.fail_append_at = 13; /* 5 columns a part: the 3rd part's 3rd column */
    char *in = pipeline_input(200);
    expect_dead(fx.ing, in, "capture: injected failure");
    cr_assert_eq(fx.cap.aborts, 1);
    colog_ingest_stats_t st;
    colog_seterr(0, "stale");
    cr_assert_eq(fx_finish(&fx, &st), -EIO);
    cr_assert_str_eq(colog_errmsg(), "capture: injected failure");
    cr_assert_eq(st.parts_written, 2);
    cr_assert_lt(st.rows_read, 200, "the reader stopped at the failure");
    free(in);
    fx_free(&fx);
}

Test(pipeline, column_failure_on_either_thread_kills_the_session)
{
    /* The handle sink: the failing column may be written by the writer or by the
     * reader while it waits; the message comes back either way, every column
     * begun is closed or aborted, and the part is aborted once. */
    colog_schema_t schema;
    cr_assert_eq(colog_schema_parse(flush_schema, strlen(flush_schema), "x", &schema), 0);
    char *in = pipeline_input(3000);
    for (int col = 0; col < 5; col++) {
        hsink_t s;
        hsink_init(&s, &schema);
        s.fail_col = col;
        s.fail_part = 4;
        rejlog_t rj = {0};
        colog_ingest_opts_t o = {.batch_rows = 500,
                                 .now_us = T0 + 3600000000LL,
                                 .reject = log_reject,
                                 .reject_ctx = &rj};
        colog_ingest_t *ing;
        cr_assert_eq(colog__ingest_new(&schema, &o, &handle_sink, &s, &ing), 0);
        char msg[64];
        snprintf(msg, sizeof msg, "hsink: injected failure in column %d", col);
        expect_dead(ing, in, msg);
        colog_ingest_stats_t st;
        cr_assert_eq(colog_ingest_finish(ing, &st), -EIO);
        cr_assert_str_eq(colog_errmsg(), msg);
        cr_assert_eq(st.parts_written, 3, "column %d", col);
        cr_assert_eq(s.commits, 3);
        cr_assert_eq(s.aborts, 1);
        cr_assert_eq(s.opens, s.closes + s.col_aborts);
        cr_assert_geq(s.col_aborts, 1);
        hsink_free(&s);
        rejlog_free(&rj);
    }
    free(in);
}

Test(pipeline, flush_is_durable_and_batches_are_reused)
{
    /* colog_ingest_flush returns once the sink has committed everything, and a
     * long run through two batches keeps reusing them. */
    colog_schema_t schema;
    cr_assert_eq(colog_schema_parse(flush_schema, strlen(flush_schema), "x", &schema), 0);
    hsink_t s;
    hsink_init(&s, &schema);
    colog_ingest_opts_t o = {.batch_rows = 64, .now_us = T0 + 3600000000LL};
    colog_ingest_t *ing;
    cr_assert_eq(colog__ingest_new(&schema, &o, &handle_sink, &s, &ing), 0);
    uint64_t rows = 0;
    for (unsigned round = 0; round < 50; round++) {
        for (unsigned i = 0; i < 100 + round; i++) {
            cr_assert_eq(colog__row_begin(ing), 0);
            cr_assert_eq(colog__row_put_int(ing, 0, T0 / 1000000 + i), 0);
            char str[16];
            snprintf(str, sizeof str, "r%u", round);
            cr_assert_eq(colog__row_put_text(ing, 1, str, strlen(str)), 0);
            cr_assert_eq(colog__row_end(ing), 0);
            rows++;
            if (colog__ingest_full(ing))
                cr_assert_eq(colog__ingest_submit(ing), 0, "%s", colog_errmsg());
        }
        cr_assert_eq(colog_ingest_flush(ing), 0, "%s", colog_errmsg());
        pthread_mutex_lock(&s.mu);
        uint64_t committed = 0;
        for (unsigned k = 0; k < s.nparts; k++)
            committed += s.parts[k]->committed ? s.parts[k]->nrows : 0;
        pthread_mutex_unlock(&s.mu);
        cr_assert_eq(committed, rows, "round %u", round);
        cr_assert_eq(colog__ingest_nrows(ing), 0);
    }
    cr_assert_eq(colog_ingest_finish(ing, NULL), 0);
    hsink_free(&s);
}

/* ---------------------------------------------------------------- fast paths */

/* A random text near the shapes the fast paths take, for type t. */
static void near_text(colog_type_t t, char *buf, size_t cap)
{
    static const char junk[] = "0123456789-+.:TZz eE:x/";
    size_t o = 0;
    if (t == COLOG_T_TIME && rnd(4)) {
        unsigned y = rnd(5) ? 2026 : rnd(10000), mo = 1 + rnd(13), d = rnd(32), h = rnd(26),
                 mi = rnd(61), s = rnd(62);
        if (rnd(2)) { /* mostly valid */
            mo = 1 + rnd(12), d = 1 + rnd(28), h = rnd(24), mi = rnd(60), s = rnd(60);
        }
        o = (size_t)snprintf(buf, cap, "%04u-%02u-%02u%c%02u:%02u:%02u", y, mo, d,
                             rnd(8) ? 'T' : " tT"[rnd(3)], h, mi, s);
        if (rnd(2)) {
            unsigned nf = rnd(11);
            buf[o++] = '.';
            for (unsigned i = 0; i < nf; i++)
                buf[o++] = (char)('0' + rnd(10));
        }
        const char *zones[] = {"Z", "Z", "Z", "z", "", "+02:00", "-0130", "Zx", "ZZ"};
        o += (size_t)snprintf(buf + o, cap - o, "%s", zones[rnd(9)]);
    } else if (t == COLOG_T_IP && rnd(3)) {
        o = (size_t)snprintf(buf, cap, "%u.%u.%u.%u", rnd(300), rnd(300), rnd(260), rnd(256));
        if (rnd(5) == 0)
            o = (size_t)snprintf(buf, cap, "0%u.1.2.3", rnd(10));
        if (rnd(5) == 0)
            o = (size_t)snprintf(buf, cap, "::ffff:%u.%u.%u.%u", rnd(256), rnd(256), rnd(256),
                                 rnd(256));
    } else if (rnd(3)) { /* digits, maybe signed, maybe long */
        if (rnd(6) == 0)
            buf[o++] = '-';
        unsigned nd = 1 + rnd(22);
        for (unsigned i = 0; i < nd; i++)
            buf[o++] = (char)('0' + (i == 0 && rnd(2) ? 1 + rnd(9) : rnd(10)));
        if (rnd(8) == 0)
            buf[o++] = junk[rnd(sizeof junk - 1)];
    } else {
        unsigned n = 1 + rnd(24);
        for (unsigned i = 0; i < n; i++)
            buf[o++] = junk[rnd(sizeof junk - 1)];
    }
    buf[o] = 0;
}

/* A sink that takes everything and keeps nothing. */
static int n_open(void *ctx, int32_t day, uint64_t nrows)
{
    (void)ctx, (void)day, (void)nrows;
    return 0;
}
static int n_col_open(void *ctx, unsigned col, const colog_dictview_t *d, void **h)
{
    (void)col, (void)d;
    *h = ctx;
    return 0;
}
static int n_col_write(void *h, const void *vals, const uint8_t *valid, uint32_t n)
{
    (void)h, (void)vals, (void)valid, (void)n;
    return 0;
}
static int n_col_close(void *h)
{
    (void)h;
    return 0;
}
static void n_col_abort(void *h)
{
    (void)h;
}
static int n_commit(void *ctx, uint64_t *id)
{
    (void)ctx;
    *id = 1;
    return 0;
}
static void n_abort(void *ctx)
{
    (void)ctx;
}
static const colog_partsink_t null_sink = {.open = n_open,
                                           .commit = n_commit,
                                           .abort = n_abort,
                                           .col_open = n_col_open,
                                           .col_write = n_col_write,
                                           .col_close = n_col_close,
                                           .col_abort = n_col_abort};

Test(convert, put_text_fast_paths_agree_with_value_parse)
{
    /* colog__row_put_text takes shortcuts for integers, dotted quads and UTC
     * times; whatever the text, it must accept the same values and reject with
     * the same reasons as colog__value_parse. */
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0);
    colog_ingest_t *ing = fx.ing;
    const colog_schema_t *s = &fx.schema;
    /* far ahead: no "ahead of the clock" rejects here (tested below) */
    colog_ingest_t *tmp;
    colog_ingest_opts_t o = fx.opts;
    o.now_us = INT64_MAX;
    cr_assert_eq(colog__ingest_new(&fx.schema, &o, &null_sink, NULL, &tmp), 0);
    colog_ingest_finish(ing, NULL);
    ing = fx.ing = tmp;
    FILE *f = memfile("ts\n", 3); /* sets the clock limit */
    cr_assert_eq(colog_ingest_file(ing, f, "t.csv", COLOG_IN_CSV), 0);
    fclose(f);
    /* the edges first: the range of times, leap seconds, the widest integers */
    static const struct {
        unsigned col;
        const char *text;
    } edges[] = {
        {0, "9999-12-31T23:59:59.999999Z"},
        {0, "9999-12-31T23:59:60Z"},
        {0, "9999-12-31T23:59:60.5Z"},
        {0, "0000-01-01T00:00:00Z"},
        {0, "2026-03-01T23:59:60Z"},
        {0, "2026-02-29T00:00:00Z"},
        {0, "2024-02-29T00:00:00.1234567890Z"},
        {0, "2024-02-29T00:00:00.Z"},
        {6, "18446744073709551615"},
        {6, "18446744073709551616"},
        {6, "9999999999999999999"},
        {7, "999999999999999999"},
        {7, "9223372036854775807"},
        {7, "-9223372036854775808"},
        {5, "4294967295"},
        {5, "4294967296"},
        {4, "65535"},
        {4, "065535"},
        {3, "255"},
        {3, "256"},
        {2, "255.255.255.255"},
        {2, "1.2.3.04"},
    };
    unsigned accepted = 0, nedges = sizeof edges / sizeof edges[0];
    for (unsigned iter = 0; iter < 200000 + nedges; iter++) {
        unsigned col = iter < nedges ? edges[iter].col : rnd(s->ncols);
        colog_type_t t = s->cols[col].type;
        if (t == COLOG_T_STRING || t == COLOG_T_F64)
            continue;
        char text[96], why[512], want[600];
        if (iter < nedges)
            snprintf(text, sizeof text, "%s", edges[iter].text);
        else
            near_text(t, text, sizeof text);
        size_t len = strlen(text);
        colog_value_t ref;
        int rrc = colog__value_parse(t, text, len, &ref, why, sizeof why);
        cr_assert_eq(colog__row_begin(ing), 0);
        if (col != 0)
            cr_assert_eq(colog__row_put_text(ing, 0, "1772323200", 10), 0);
        int rc = colog__row_put_text(ing, col, text, len);
        cr_assert_eq(rc, rrc, "%s '%s': %d, value_parse %d", s->cols[col].name, text, rc, rrc);
        if (rc < 0) {
            snprintf(want, sizeof want, "%s: %s", s->cols[col].name, why);
            cr_assert_str_eq(colog__ingest_why(ing), want);
            continue;
        }
        cr_assert_eq(colog__row_end(ing), 0);
        size_t row = colog__ingest_nrows(ing) - 1;
        colog_value_t got;
        cr_assert(colog__ingest_value(ing, row, col, &got));
        if (t == COLOG_T_IP)
            cr_assert(memcmp(got.ip.b, ref.ip.b, 16) == 0, "'%s'", text);
        else if (t == COLOG_T_TIME || t == COLOG_T_I64)
            cr_assert_eq(got.i, ref.i, "%s '%s': %lld, want %lld", s->cols[col].name, text,
                         (long long)got.i, (long long)ref.i);
        else
            cr_assert_eq(got.u, ref.u, "%s '%s'", s->cols[col].name, text);
        accepted++;
        if (colog__ingest_full(ing))
            cr_assert_eq(colog__ingest_submit(ing), 0);
    }
    cr_assert_gt(accepted, 20000);
    fx_free(&fx);
}

Test(convert, fast_time_keeps_the_clock_limit)
{
    fixture_t fx;
    fx_init(&fx, all_types_schema, 0); /* now = 2026-03-01T01:00Z: limit 03-02T01:00Z */
    cr_assert_eq(fx_csv(&fx, "ts\n"
                             "2026-03-02T01:00:00Z\n"
                             "2026-03-02T01:00:00.000001Z\n"
                             "2026-03-01T00:00:00.123456789Z\n"
                             "2026-03-01T23:59:60Z\n"),
                 0);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 3);
    cr_assert_eq(val(&fx, 0, 0).i, T0 + 86400000000LL + 3600000000LL);
    cr_assert_eq(val(&fx, 1, 0).i, T0 + 123456);
    cr_assert_eq(val(&fx, 2, 0).i, T0 + 86400000000LL, "a leap second folds into the next");
    expect_reject(&fx.rj, 0, 3, 1,
                  "ts: 2026-03-02T01:00:00.000001Z: time more than 1 day ahead of the clock");
    fx_free(&fx);
}
