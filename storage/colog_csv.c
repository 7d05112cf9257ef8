/*
 * colog_csv.c — a streaming RFC 4180 CSV reader, and CSV ingest.
 *
 * NOTES ON THE DESIGN OF THE READER
 *
 * Speed comes from touching each byte once in a tight loop and copying nothing
 * that needs no copy. The reader fread()s 4 MiB at a time (from a pipe, socket
 * or terminal: read(2)s what has arrived, see colog__stream_fd) into one buffer that
 * ends with a NUL sentinel, and scans with two 256-entry class tables: in an
 * unquoted field every byte is ordinary except , \n \r " NUL and bytes >= 0x80;
 * in a quoted field except " \n NUL and bytes >= 0x80. So the inner loop is
 * `while (!cls[*p]) p++`, with no bounds check (the sentinel stops it) and
 * nothing per byte for ASCII text. A byte >= 0x80 checks one UTF-8 sequence.
 *
 * Fields are slices: an unquoted field, or a quoted one without "", points into
 * the read buffer; a quoted field with "" is unescaped into a scratch buffer.
 *
 * A record that runs into the end of the buffer is parsed again from its start
 * once the buffer is refilled (its unread tail moved to the front): simpler than
 * a resumable state machine, and cheap because records are small next to 4 MiB.
 *
 * Errors: a malformed record still parses to its end (the first error is kept,
 * and the state machine carries on as if the offending byte were data), so one
 * bad record costs one reject and never desynchronises the records after it.
 * The exception is a record longer than COLOG_RECORD_MAX that is still
 * incomplete when the buffer is full of it: it is skipped to the next newline.
 *
 * Invariants:
 *  1. buf[0..end) holds read, not yet consumed input from p on; *end == 0.
 *  2. line is the 1-based line number of the byte at p.
 *  3. After a 1 from colog__csv_next, p is at the first byte after the record's
 *     line ending, and the fields point into buf or scratch until the next call.
 *  4. scratch holds at most COLOG_RECORD_MAX + 8 bytes: unescaping never grows a
 *     field, and a record that would overflow it is over-long anyway.
 */
#include "colog_ingest_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF_SIZE COLOG_READ_BUF
#define SCRATCH_CAP (COLOG_RECORD_MAX + 8)

enum { REC_EOF = 0, REC_GOT = 1, REC_NEED = 2 };

struct colog_csv {
    FILE *f;
    int fd; /* colog__stream_fd(f): read(2) what has arrived; -1: fread */
    const char *src;
    char *buf; /* BUF_SIZE + 1 (sentinel) */
    char *p, *end;
    bool eof;
    bool started;
    uint64_t line;
    colog_field_t *fields;
    uint32_t fcap;
    char *scratch;
    uint8_t ucls[256]; /* special bytes in unquoted fields */
    uint8_t qcls[256]; /* special bytes in quoted fields */
    char msg[64];
};

/* ---------------------------------------------------------------- UTF-8 */

int colog__utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    int n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if (p + i >= end)
            return -1;
        if (p[i] < lo || p[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return n;
}

size_t colog__utf8_check(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    while (p < end) {
        /* ASCII fast path, 8 bytes at a time */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (w & 0x8080808080808080ull)
                break;
            p += 8;
        }
        if (p == end)
            break;
        if (*p < 0x80) {
            p++;
            continue;
        }
        int k = colog__utf8_seq(p, end);
        if (k <= 0)
            return (size_t)(p - (const uint8_t *)s);
        p += k;
    }
    return len;
}

/* ---------------------------------------------------------------- buffer */

int colog__csv_open(colog_csv_t **out, FILE *f, const char *src)
{
    colog_csv_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", src);
    r->buf = malloc(BUF_SIZE + 1);
    r->scratch = malloc(SCRATCH_CAP);
    r->fcap = 64;
    r->fields = malloc(r->fcap * sizeof *r->fields);
    if (r->buf == NULL || r->scratch == NULL || r->fields == NULL) {
        colog__csv_free(r);
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", src);
    }
    r->f = f;
    r->fd = colog__stream_fd(f);
    r->src = src;
    r->p = r->end = r->buf;
    *r->end = 0;
    r->line = 1;
    static const char uspecial[] = ",\n\r\"";
    static const char qspecial[] = "\"\n";
    for (unsigned c = 0x80; c < 256; c++)
        r->ucls[c] = r->qcls[c] = 1;
    r->ucls[0] = r->qcls[0] = 1;
    for (const char *s = uspecial; *s; s++)
        r->ucls[(uint8_t)*s] = 1;
    for (const char *s = qspecial; *s; s++)
        r->qcls[(uint8_t)*s] = 1;
    *out = r;
    return 0;
}

void colog__csv_free(colog_csv_t *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r->scratch);
    free(r->fields);
    free(r);
}

/* Read more after end (at least a byte, unless at the end of the input). */
static int fill(colog_csv_t *r)
{
    size_t want = BUF_SIZE - (size_t)(r->end - r->buf), got;
    if (r->fd >= 0) {
        ssize_t k;
        do
            k = read(r->fd, r->end, want);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            return colog_seterr(-errno, "%s: read error: %s", r->src, strerror(errno));
        got = (size_t)k;
        r->eof = k == 0;
    } else {
        got = fread(r->end, 1, want, r->f);
        if (got < want) {
            if (ferror(r->f)) {
                int e = errno ? errno : EIO;
                return colog_seterr(-e, "%s: read error: %s", r->src, strerror(e));
            }
            r->eof = true;
        }
    }
    r->end += got;
    *r->end = 0;
    return 0;
}

/* Move the unconsumed bytes [p, end) to the front and read more after them. */
static int refill(colog_csv_t *r)
{
    size_t kept = (size_t)(r->end - r->p);
    if (r->p != r->buf)
        memmove(r->buf, r->p, kept);
    r->p = r->buf;
    r->end = r->buf + kept;
    int rc = fill(r);
    if (rc < 0)
        return rc;
    /* A stream may bring the first bytes one at a time: wait for a whole BOM. */
    while (!r->started && !r->eof && r->end - r->p < 3 &&
           memcmp(r->p, "\xEF\xBB\xBF", (size_t)(r->end - r->p)) == 0)
        if ((rc = fill(r)) < 0)
            return rc;
    if (!r->started) {
        r->started = true;
        /* A UTF-8 byte order mark is not part of the first line's text. */
        if (r->end - r->p >= 3 && memcmp(r->p, "\xEF\xBB\xBF", 3) == 0)
            r->p += 3;
    }
    return 0;
}

static int grow_fields(colog_csv_t *r)
{
    uint32_t cap = r->fcap * 2;
    colog_field_t *f = realloc(r->fields, cap * sizeof *f);
    if (f == NULL)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->src);
    r->fields = f;
    r->fcap = cap;
    return 0;
}

/* Line offset and column of byte x of a record starting at rs (first line). */
static void locate(const uint8_t *rs, const uint8_t *x, uint32_t *dline, uint32_t *col)
{
    const uint8_t *ls = rs;
    uint32_t dl = 0;
    for (const uint8_t *q = rs; q < x; q++)
        if (*q == '\n') {
            dl++;
            ls = q + 1;
        }
    *dline = dl;
    *col = (uint32_t)(x - ls + 1);
}

/* ---------------------------------------------------------------- records */

/* Keep the first error: its text and the position of byte `at`. */
#define SETERR(text, at)                                                                           \
    do {                                                                                           \
        if (err == NULL) {                                                                         \
            err = (text);                                                                          \
            ecol = (uint32_t)((at)-ls + 1);                                                        \
            edl = dl;                                                                              \
        }                                                                                          \
    } while (0)

static const char *after_quote_msg(colog_csv_t *r, uint8_t c)
{
    if (c >= 0x20 && c < 0x7f && c != '\'')
        snprintf(r->msg, sizeof r->msg, "unexpected '%c' after closing quote", c);
    else
        snprintf(r->msg, sizeof r->msg, "unexpected byte 0x%02x after closing quote", c);
    return r->msg;
}

/* Parse one record at p. REC_GOT, REC_EOF, REC_NEED (p unchanged but for skipped
 * empty lines), or a negative error. */
static int parse_record(colog_csv_t *r, colog_csvrec_t *rec)
{
    const uint8_t *s = (const uint8_t *)r->p;
    const uint8_t *const end = (const uint8_t *)r->end;
    const bool eof = r->eof;

    /* Empty lines are not records. */
    for (;;) {
        if (s == end) {
            r->p = (char *)s;
            return eof ? REC_EOF : REC_NEED;
        }
        if (s[0] == '\n') {
            s++;
            r->line++;
            continue;
        }
        if (s[0] == '\r' && s + 1 < end && s[1] == '\n') {
            s += 2;
            r->line++;
            continue;
        }
        if (s[0] == '\r' && s + 1 == end && !eof) {
            r->p = (char *)s;
            return REC_NEED;
        }
        break;
    }
    r->p = (char *)s;

    const uint8_t *const rs = s; /* record start */
    const uint8_t *ls = s;       /* start of the current line */
    uint32_t dl = 0, nf = 0, ecol = 0, edl = 0;
    const char *err = NULL;
    char *sc = r->scratch; /* next free scratch byte */
    const uint8_t *u;

    for (;;) { /* one field per iteration; s at its first byte */
        if (nf == r->fcap && grow_fields(r) < 0)
            return COLOG_ENOMEM;
        colog_field_t *fd = &r->fields[nf++];
        fd->col = (uint32_t)(s - ls + 1);
        fd->dline = dl;

        if (*s == '"') {
            const uint8_t *q = s + 1, *seg = q;
            char *out = NULL; /* start of the unescaped copy, once there is a "" */
            for (;;) {
                while (!r->qcls[*q])
                    q++;
                if (*q == '"') {
                    if (q + 1 == end && !eof)
                        return REC_NEED; /* "" or a closing quote? */
                    if (q[1] != '"')
                        break;                        /* closing quote */
                    size_t k = (size_t)(q + 1 - seg); /* keep one quote */
                    if (out == NULL)
                        out = sc;
                    if ((size_t)(sc - r->scratch) + k <= SCRATCH_CAP) {
                        memcpy(sc, seg, k);
                        sc += k;
                    } /* else: over-long, reported at the end */
                    q += 2;
                    seg = q;
                } else if (*q == '\n') {
                    q++;
                    dl++;
                    ls = q;
                } else if (q == end) {
                    if (!eof)
                        return REC_NEED;
                    if (err == NULL) {
                        err = "unterminated quoted field";
                        ecol = fd->col;
                        edl = fd->dline;
                    }
                    break;
                } else if (*q == 0) {
                    SETERR("NUL byte", q);
                    q++;
                } else {
                    int k = colog__utf8_seq(q, end);
                    if (k < 0 && !eof)
                        return REC_NEED;
                    if (k <= 0) {
                        SETERR("invalid UTF-8", q);
                        k = 1;
                    }
                    q += k;
                }
            }
            if (q == end) { /* unterminated: the record ends with the input */
                fd->p = "";
                fd->len = 0;
                s = q;
                break;
            }
            if (out) {
                size_t k = (size_t)(q - seg);
                if ((size_t)(sc - r->scratch) + k <= SCRATCH_CAP) {
                    memcpy(sc, seg, k);
                    sc += k;
                }
                fd->p = out;
                fd->len = (uint32_t)(sc - out);
            } else {
                fd->p = (const char *)seg;
                fd->len = (uint32_t)(q - seg);
            }
            u = q + 1;
            if (*u != ',' && *u != '\n' && *u != '\r' && u != end)
                SETERR(after_quote_msg(r, *u), u); /* then read on as if unquoted */
        } else {
            u = s;
        }

        /* Unquoted text (or what follows a closing quote) up to , or the line end. */
        for (;;) {
            while (!r->ucls[*u])
                u++;
            uint8_t c = *u;
            if (c == ',' || c == '\n')
                break;
            if (c == '\r') {
                if (u + 1 == end) {
                    if (!eof)
                        return REC_NEED;
                    break; /* "\r" at the very end: a line ending cut short */
                }
                if (u[1] == '\n')
                    break;
                SETERR("bare carriage return", u);
                u++;
            } else if (u == end) {
                if (!eof)
                    return REC_NEED;
                break; /* no final newline */
            } else if (c == 0) {
                SETERR("NUL byte", u);
                u++;
            } else if (c == '"') {
                SETERR("unexpected '\"' in unquoted field", u);
                u++;
            } else {
                int k = colog__utf8_seq(u, end);
                if (k < 0 && !eof)
                    return REC_NEED;
                if (k <= 0) {
                    SETERR("invalid UTF-8", u);
                    k = 1;
                }
                u += k;
            }
        }
        if (*s != '"') {
            fd->p = (const char *)s;
            fd->len = (uint32_t)(u - s);
        }
        if (*u == ',') {
            s = u + 1;
            continue;
        }
        s = u;
        break;
    }

    /* s is at the record's line ending ("\n", "\r\n", a final "\r") or at end. */
    const uint8_t *re = s;
    if (s < end && *s == '\r')
        s++;
    if (s < end && *s == '\n')
        s++;
    rec->line = r->line;
    rec->nfields = nf;
    rec->fields = r->fields;
    rec->end_col = (uint32_t)(re - ls + 1);
    rec->end_dline = dl;
    if ((size_t)(re - rs) > COLOG_RECORD_MAX) {
        err = "record longer than 65536 bytes";
        locate(rs, rs + COLOG_RECORD_MAX, &edl, &ecol);
    }
    rec->err = err;
    rec->err_line = r->line + edl;
    rec->err_col = ecol;
    r->line += dl + 1;
    r->p = (char *)s;
    return REC_GOT;
}

/* The record at p is longer than COLOG_RECORD_MAX and not complete in a full
 * buffer: report it, and skip to the first newline after its first
 * COLOG_RECORD_MAX bytes. */
static int skip_overlong(colog_csv_t *r, colog_csvrec_t *rec)
{
    const uint8_t *rs = (const uint8_t *)r->p, *x = rs + COLOG_RECORD_MAX;
    uint32_t dl, col;
    locate(rs, x, &dl, &col);
    rec->line = r->line;
    rec->nfields = 0;
    rec->fields = r->fields;
    rec->end_col = 0;
    rec->end_dline = 0;
    rec->err = "record longer than 65536 bytes";
    rec->err_line = r->line + dl;
    rec->err_col = col;
    r->line += dl;
    r->p = (char *)x;
    for (;;) {
        char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        if (nl) {
            r->p = nl + 1;
            r->line++;
            return REC_GOT;
        }
        r->p = r->end;
        if (r->eof)
            return REC_GOT;
        int rc = refill(r);
        if (rc < 0)
            return rc;
    }
}

int colog__csv_next(colog_csv_t *r, colog_csvrec_t *rec)
{
    for (;;) {
        int rc = parse_record(r, rec);
        if (rc != REC_NEED)
            return rc;
        if ((size_t)(r->end - r->p) > COLOG_RECORD_MAX)
            return skip_overlong(r, rec);
        rc = refill(r);
        if (rc < 0)
            return rc;
    }
}

/* ---------------------------------------------------------------- header */

int colog__csv_header(const colog_schema_t *s, const colog_csvrec_t *hdr, const char *src, int *map)
{
    char shown[COLOG_SHOW_MAX * 4 + 8];
    int first[COLOG_MAX_COLS]; /* field of each column, or -1 */
    for (unsigned c = 0; c < s->ncols; c++)
        first[c] = -1;
    for (uint32_t j = 0; j < hdr->nfields; j++) {
        const colog_field_t *fd = &hdr->fields[j];
        uint64_t line = hdr->line + fd->dline;
        if (fd->len == 0)
            return colog_seterr(COLOG_ESCHEMA, "%s:%llu:%u: empty column name", src,
                                (unsigned long long)line, fd->col);
        int c = colog_schema_find(s, fd->p, fd->len);
        colog__show(shown, sizeof shown, fd->p, fd->len);
        if (c < 0) {
            char known[COLOG_MAX_COLS * COLOG_NAME_MAX];
            size_t o = 0;
            for (unsigned k = 0; k < s->ncols && o < sizeof known; k++)
                o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", k ? ", " : "",
                                      s->cols[k].name);
            return colog_seterr(COLOG_ESCHEMA, "%s:%llu:%u: unknown column '%s'; known columns: %s",
                                src, (unsigned long long)line, fd->col, shown, known);
        }
        if (first[c] >= 0)
            return colog_seterr(COLOG_ESCHEMA, "%s:%llu:%u: duplicate column '%s' (also field %d)",
                                src, (unsigned long long)line, fd->col, shown, first[c] + 1);
        first[c] = (int)j;
        map[j] = c;
    }
    if (first[0] < 0)
        return colog_seterr(COLOG_ESCHEMA, "%s:%llu:1: no column '%s' (the event time is required)",
                            src, (unsigned long long)hdr->line, s->cols[0].name);
    return 0;
}

/* ---------------------------------------------------------------- ingest */

/* Whether rc from a put is a rejected value (as opposed to a failure). */
static bool is_reject(int rc)
{
    return rc == COLOG_EPARSE || rc == COLOG_ERANGE;
}

int colog__csv_ingest(colog_ingest_t *ing, FILE *f, const char *src)
{
    const colog_schema_t *s = colog__ingest_schema(ing);
    colog_csv_t *r;
    colog_csvrec_t rec;
    int map[COLOG_MAX_COLS];
    int rc = colog__csv_open(&r, f, src);
    if (rc < 0)
        return rc;

    rc = colog__csv_next(r, &rec);
    if (rc <= 0) /* empty input, or a read error */
        goto out_free;
    if (rec.err) {
        rc = colog_seterr(COLOG_EPARSE, "%s:%llu:%u: header: %s", src,
                          (unsigned long long)rec.err_line, rec.err_col, rec.err);
        goto out_free;
    }
    rc = colog__csv_header(s, &rec, src, map);
    if (rc < 0)
        goto out_free;
    const uint32_t nf = rec.nfields;
    uint32_t tsf = 0; /* the field of the time column */
    for (uint32_t j = 0; j < nf; j++)
        if (map[j] == 0)
            tsf = j;

    while ((rc = colog__csv_next(r, &rec)) == 1) {
        if (rec.err) {
            colog__ingest_reject(ing, src, rec.err_line, rec.err_col, "%s", rec.err);
            continue;
        }
        if (rec.nfields != nf) {
            uint64_t line = rec.line + rec.end_dline;
            uint32_t col = rec.end_col;
            if (rec.nfields > nf) {
                line = rec.line + rec.fields[nf].dline;
                col = rec.fields[nf].col;
            }
            colog__ingest_reject(ing, src, line, col, "expected %u fields, got %u", nf,
                                 rec.nfields);
            continue;
        }
        if ((rc = colog__row_begin(ing)) < 0)
            goto out_free;
        uint32_t j;
        for (j = 0; j < nf; j++) {
            const colog_field_t *fd = &rec.fields[j];
            if (fd->len == 0)
                continue; /* absent */
            rc = colog__row_put_text(ing, (unsigned)map[j], fd->p, fd->len);
            if (rc == 0)
                continue;
            if (!is_reject(rc))
                goto out_free;
            colog__ingest_reject(ing, src, rec.line + fd->dline, fd->col, "%s",
                                 colog__ingest_why(ing));
            rc = 0;
            break;
        }
        if (j < nf)
            continue;
        if ((rc = colog__row_end(ing)) < 0) {
            if (!is_reject(rc))
                goto out_free;
            const colog_field_t *fd = &rec.fields[tsf];
            colog__ingest_reject(ing, src, rec.line + fd->dline, fd->col, "%s",
                                 colog__ingest_why(ing));
            rc = 0;
            continue;
        }
        if (colog__ingest_full(ing) && (rc = colog__ingest_submit(ing)) < 0)
            goto out_free;
    }

out_free:
    colog__csv_free(r);
    return rc < 0 ? rc : 0;
}
