/*
 * colog_out.c — result output: aligned table, CSV (RFC 4180), JSON array, NDJSON.
 *
 * Design:
 *  1. CSV, JSON and NDJSON stream: each batch of rows is written as it comes, so
 *     raw-event queries never hold more than a day (or a block) in memory here.
 *  2. The table format must know every width first, so it keeps the formatted
 *     cells until colog__out_end.
 *  3. Times print as RFC 3339 at the query zone's offset in effect at that
 *     instant (Z for UTC); days as YYYY-MM-DD; IPs as usual text (IPv4 dotted,
 *     IPv6 RFC 5952); floats in the shortest form that reads back exactly;
 *     absent values as empty (CSV, table) or null (JSON).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "colog_exec_int.h"

struct colog_out {
    colog_outfmt_t fmt;
    FILE *f;
    colog_tz_t *tz;
    uint32_t ncols;
    colog_rcol_t cols[COLOG_MAX_COLS + COLOG_Q_MAX_AGGS];
    uint64_t nrows;
    /* table: cells kept until the end */
    char **cells;
    size_t ncells, capcells;
    size_t width[COLOG_MAX_COLS + COLOG_Q_MAX_AGGS];
};

/* Text of a value (not for strings, which are written as they are). */
static size_t val_text(const colog_out_t *o, const colog_rcol_t *c, const colog_val_t *v, char *buf,
                       size_t cap)
{
    buf[0] = 0;
    if (v->null)
        return 0;
    switch (c->vt) {
    case Q_VT_INT:
        if (c->is_signed)
            snprintf(buf, cap, "%lld", (long long)v->v.i);
        else
            snprintf(buf, cap, "%llu", (unsigned long long)v->v.u);
        break;
    case Q_VT_FLOAT:
        if (isnan(v->v.f) || isinf(v->v.f)) {
            snprintf(buf, cap, "%s", isnan(v->v.f) ? "nan" : v->v.f > 0 ? "inf" : "-inf");
            break;
        }
        snprintf(buf, cap, "%.15g", v->v.f);
        if (strtod(buf, NULL) != v->v.f)
            snprintf(buf, cap, "%.17g", v->v.f);
        break;
    case Q_VT_TIME:
        colog_time_format(v->v.i, colog_tz_offset(o->tz, v->v.i), buf, cap);
        break;
    case Q_VT_DAY:
        colog_day_format((int32_t)v->v.i, buf, cap);
        break;
    case Q_VT_IP:
        colog_ip_format(&v->v.ip, buf, cap);
        break;
    case Q_VT_STR:
        break;
    }
    return strlen(buf);
}

static void csv_field(FILE *f, const char *p, size_t n)
{
    bool quote = n > 0 && (p[0] == ' ' || p[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote) {
        fwrite(p, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            fputc('"', f);
        fputc(p[i], f);
    }
    fputc('"', f);
}

static void json_string(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\') {
            fputc('\\', f);
            fputc(ch, f);
        } else if (ch < 0x20) {
            fprintf(f, "\\u%04x", ch);
        } else {
            fputc(ch, f);
        }
    }
    fputc('"', f);
}

int colog__out_begin(colog_out_t **out, colog_outfmt_t fmt, FILE *f, colog_tz_t *tz,
                     const colog_rcol_t *cols, uint32_t ncols)
{
    if (out == NULL || f == NULL || cols == NULL || ncols > COLOG_MAX_COLS + COLOG_Q_MAX_AGGS)
        return colog_seterr(COLOG_EINVAL, "output: invalid arguments");
    colog_out_t *o = calloc(1, sizeof *o);
    if (o == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    o->fmt = fmt;
    o->f = f;
    o->tz = tz;
    o->ncols = ncols;
    memcpy(o->cols, cols, ncols * sizeof *cols);
    switch (fmt) {
    case COLOG_OUT_CSV:
        for (uint32_t i = 0; i < ncols; i++) {
            if (i)
                fputc(',', f);
            csv_field(f, cols[i].name, strlen(cols[i].name));
        }
        fputc('\n', f);
        break;
    case COLOG_OUT_JSON:
        fputc('[', f);
        break;
    case COLOG_OUT_TABLE:
        for (uint32_t i = 0; i < ncols; i++)
            o->width[i] = strlen(cols[i].name);
        break;
    case COLOG_OUT_NDJSON:
        break;
    }
    *out = o;
    return 0;
}

static int table_keep(colog_out_t *o, const char *p, size_t n)
{
    if (o->ncells == o->capcells) {
        size_t nc = o->capcells ? 2 * o->capcells : 1024;
        char **c = realloc(o->cells, nc * sizeof *c);
        if (c == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
        o->cells = c;
        o->capcells = nc;
    }
    char *s = malloc(n + 1);
    if (s == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    memcpy(s, p, n);
    s[n] = 0;
    /* Control characters would break the alignment (and the terminal). */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            s[i] = ' ';
    o->cells[o->ncells++] = s;
    return 0;
}

/* Display width of UTF-8 text: code points (good enough for logs). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

int colog__out_rows(colog_out_t *o, const colog_rset_t *r, size_t from, size_t n)
{
    char buf[128];
    FILE *f = o->f;
    for (size_t i = from; i < from + n && i < r->nrows; i++) {
        const colog_val_t *row = r->vals + i * r->ncols;
        if (o->fmt == COLOG_OUT_JSON)
            fputs(o->nrows ? ",\n" : "\n", f);
        if (o->fmt == COLOG_OUT_JSON || o->fmt == COLOG_OUT_NDJSON)
            fputc('{', f);
        for (uint32_t c = 0; c < o->ncols; c++) {
            const colog_rcol_t *col = &o->cols[c];
            const colog_val_t *v = &row[c];
            const char *p = buf;
            size_t len;
            if (col->vt == Q_VT_STR && !v->null) {
                p = v->v.s.p;
                len = v->v.s.len;
            } else {
                len = val_text(o, col, v, buf, sizeof buf);
            }
            switch (o->fmt) {
            case COLOG_OUT_CSV:
                if (c)
                    fputc(',', f);
                csv_field(f, p, len);
                break;
            case COLOG_OUT_JSON:
            case COLOG_OUT_NDJSON:
                if (c)
                    fputc(',', f);
                json_string(f, col->name, strlen(col->name));
                fputc(':', f);
                if (v->null || (col->vt == Q_VT_FLOAT && !isfinite(v->v.f)))
                    fputs("null", f);
                else if (col->vt == Q_VT_INT || col->vt == Q_VT_FLOAT)
                    fwrite(p, 1, len, f);
                else
                    json_string(f, p, len);
                break;
            case COLOG_OUT_TABLE: {
                int rc = table_keep(o, p, len);
                if (rc)
                    return rc;
                size_t w = text_width(o->cells[o->ncells - 1]);
                if (w > o->width[c])
                    o->width[c] = w;
                break;
            }
            }
        }
        if (o->fmt == COLOG_OUT_JSON)
            fputc('}', f);
        else if (o->fmt == COLOG_OUT_NDJSON)
            fputs("}\n", f);
        else if (o->fmt == COLOG_OUT_CSV)
            fputc('\n', f);
        o->nrows++;
    }
    if (ferror(f))
        return colog_seterr(-EIO, "output: write error");
    return 0;
}

static void pad(FILE *f, size_t n)
{
    while (n--)
        fputc(' ', f);
}

int colog__out_end(colog_out_t *o)
{
    if (o == NULL)
        return 0;
    FILE *f = o->f;
    if (o->fmt == COLOG_OUT_JSON)
        fputs(o->nrows ? "\n]\n" : "]\n", f);
    if (o->fmt == COLOG_OUT_TABLE) {
        for (uint32_t c = 0; c < o->ncols; c++) {
            bool right = o->cols[c].vt == Q_VT_INT || o->cols[c].vt == Q_VT_FLOAT;
            size_t w = text_width(o->cols[c].name);
            if (c)
                fputs("  ", f);
            if (right)
                pad(f, o->width[c] - w);
            fputs(o->cols[c].name, f);
            if (!right && c + 1 < o->ncols)
                pad(f, o->width[c] - w);
        }
        fputc('\n', f);
        for (uint32_t c = 0; c < o->ncols; c++) {
            if (c)
                fputs("  ", f);
            for (size_t k = 0; k < o->width[c]; k++)
                fputc('-', f);
        }
        fputc('\n', f);
        for (size_t i = 0; i < o->ncells; i++) {
            uint32_t c = (uint32_t)(i % o->ncols);
            bool right = o->cols[c].vt == Q_VT_INT || o->cols[c].vt == Q_VT_FLOAT;
            size_t w = text_width(o->cells[i]);
            if (c)
                fputs("  ", f);
            if (right)
                pad(f, o->width[c] - w);
            fputs(o->cells[i], f);
            if (!right && c + 1 < o->ncols)
                pad(f, o->width[c] - w);
            if (c + 1 == o->ncols)
                fputc('\n', f);
        }
        fprintf(f, "(%llu row%s)\n", (unsigned long long)o->nrows, o->nrows == 1 ? "" : "s");
    }
    for (size_t i = 0; i < o->ncells; i++)
        free(o->cells[i]);
    free(o->cells);
    int rc = fflush(f) != 0 || ferror(f) ? colog_seterr(-EIO, "output: write error") : 0;
    free(o);
    return rc;
}
