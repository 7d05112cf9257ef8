/*
 * colog_ndjson.c — NDJSON ingest: one JSON object a line, parsed with jansson.
 *
 * Design:
 *  1. Lines are cut from a 4 MiB fread() buffer with memchr (a pipe, socket or
 *     terminal fills it by read(2) with what has arrived: see colog__stream_fd); a line
 *     is handed to json_loadb() whole, after two cheap checks jansson would
 *     report less precisely: no NUL byte, valid UTF-8 (with the byte column of
 *     the culprit). A trailing "\r" is dropped; empty and blank lines are skipped.
 *  2. Keys name columns; an unknown key rejects the row (NDJSON has no header to
 *     refuse up front). Values: string (converted like CSV field text, so
 *     "dst_port":"443" is fine; "" is absent), integer, real, null (absent).
 *     true, false, arrays and objects reject the row.
 *  3. jansson's error position is the byte offset just past the token it choked
 *     on, i.e. the 1-based column of that token's last byte: reported as is.
 *     Rejects of a value point at the value: the raw line is scanned for the
 *     top-level key only when a row is rejected, so good rows pay nothing.
 *
 * Invariants:
 *  1. buf[p..end) is read, unconsumed input; line is the number of the line at p.
 *  2. A line longer than COLOG_RECORD_MAX is rejected once and skipped to its
 *     newline without being held in memory whole.
 *
 * colog_ingest_json() is one line of this reader for callers that cut their
 * own lines (the log-format driver of the CLI): the same checks, parse and
 * object-to-row code (do_line, put_object).
 */
#include "colog_ingest_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF_SIZE COLOG_READ_BUF

typedef struct lines {
    FILE *f;
    int fd; /* colog__stream_fd(f): read(2) what has arrived; -1: fread */
    const char *src;
    char *buf;
    char *p, *end;
    bool eof;
    uint64_t line;
} lines_t;

/* Move [p, end) to the front and read more (at least a byte, unless at the end). */
static int refill(lines_t *r)
{
    size_t kept = (size_t)(r->end - r->p);
    if (r->p != r->buf)
        memmove(r->buf, r->p, kept);
    r->p = r->buf;
    r->end = r->buf + kept;
    size_t want = BUF_SIZE - kept;
    if (r->fd >= 0) {
        ssize_t k;
        do
            k = read(r->fd, r->end, want);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            return colog_seterr(-errno, "%s: read error: %s", r->src, strerror(errno));
        r->end += k;
        r->eof = k == 0;
        return 0;
    }
    size_t got = fread(r->end, 1, want, r->f);
    r->end += got;
    if (got < want) {
        if (ferror(r->f)) {
            int e = errno ? errno : EIO;
            return colog_seterr(-e, "%s: read error: %s", r->src, strerror(e));
        }
        r->eof = true;
    }
    return 0;
}

/* Next line (without its "\n"), borrowed until the next call. 1 = a line, or
 * *toolong: a line longer than the buffer allows, skipped (s = NULL); 0 = end;
 * < 0 = read error. */
static int next_line(lines_t *r, const char **s, size_t *len, bool *toolong)
{
    *toolong = false;
    for (;;) {
        char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        if (nl) {
            *s = r->p;
            *len = (size_t)(nl - r->p);
            r->p = nl + 1;
            return 1;
        }
        if (r->eof) {
            if (r->p == r->end)
                return 0;
            *s = r->p;
            *len = (size_t)(r->end - r->p);
            r->p = r->end;
            return 1;
        }
        if ((size_t)(r->end - r->p) > COLOG_RECORD_MAX + 1)
            break;
        int rc = refill(r);
        if (rc < 0)
            return rc;
    }
    /* Over-long: report it, skip to the newline. */
    *toolong = true;
    *s = NULL;
    *len = 0;
    r->p = r->end;
    for (;;) {
        int rc = refill(r);
        if (rc < 0)
            return rc;
        char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        if (nl) {
            r->p = nl + 1;
            return 1;
        }
        r->p = r->end;
        if (r->eof)
            return 1;
    }
}

/* ---------------------------------------------------------------- positions */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* End of the JSON string starting at s[i] == '"'. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

/* End of the JSON value starting at s[i]. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    int depth = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, len, i);
            if (depth == 0)
                return i;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r')) {
            return i;
        }
        i++;
    }
    return i;
}

/* 1-based columns of a top-level key of the (valid) object on line s, and of
 * its value; 0 if not found (e.g. the key was written with escapes). */
static void find_key(const char *s, size_t len, const char *key, size_t klen, uint64_t *kcol,
                     uint64_t *vcol)
{
    *kcol = *vcol = 0;
    size_t i = skip_ws(s, len, 0);
    if (i >= len || s[i] != '{')
        return;
    i++;
    for (;;) {
        i = skip_ws(s, len, i);
        if (i >= len || s[i] != '"')
            return;
        size_t kstart = i, kend = skip_string(s, len, i);
        i = skip_ws(s, len, kend);
        if (i >= len || s[i] != ':')
            return;
        i = skip_ws(s, len, i + 1);
        if (kend - kstart == klen + 2 && memcmp(s + kstart + 1, key, klen) == 0) {
            *kcol = kstart + 1;
            *vcol = i + 1;
            return;
        }
        i = skip_ws(s, len, skip_value(s, len, i));
        if (i >= len || s[i] != ',')
            return;
        i++;
    }
}

/* ---------------------------------------------------------------- rows */

static bool is_reject(int rc)
{
    return rc == COLOG_EPARSE || rc == COLOG_ERANGE;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_NULL:
        break;
    }
    return "value";
}

/* Put the object's members into a row. 0 = accepted, 1 = rejected (reported),
 * < 0 = failure. */
static int put_object(colog_ingest_t *ing, const char *src, uint64_t lno, const char *s, size_t len,
                      json_t *obj)
{
    const colog_schema_t *sch = colog__ingest_schema(ing);
    const char *key;
    json_t *v;
    char shown[COLOG_SHOW_MAX * 4 + 8];
    uint64_t kcol, vcol;
    int rc = colog__row_begin(ing);
    if (rc < 0)
        return rc;
    json_object_foreach(obj, key, v)
    {
        size_t klen = strlen(key);
        int c = colog_schema_find(sch, key, klen);
        if (c < 0) {
            find_key(s, len, key, klen, &kcol, &vcol);
            colog__show(shown, sizeof shown, key, klen);
            colog__ingest_reject(ing, src, lno, kcol, "unknown column '%s'", shown);
            return 1;
        }
        switch (json_typeof(v)) {
        case JSON_NULL:
            continue;
        case JSON_STRING:
            rc = colog__row_put_text(ing, (unsigned)c, json_string_value(v), json_string_length(v));
            break;
        case JSON_INTEGER:
            rc = colog__row_put_int(ing, (unsigned)c, (int64_t)json_integer_value(v));
            break;
        case JSON_REAL:
            rc = colog__row_put_real(ing, (unsigned)c, json_real_value(v));
            break;
        case JSON_TRUE:
        case JSON_FALSE:
        case JSON_OBJECT:
        case JSON_ARRAY:
            find_key(s, len, key, klen, &kcol, &vcol);
            colog__ingest_reject(ing, src, lno, vcol, "%s: JSON %s is not a valid %s", key,
                                 json_kind(v), colog_type_name(sch->cols[c].type));
            return 1;
        }
        if (rc == 0)
            continue;
        if (!is_reject(rc))
            return rc;
        find_key(s, len, key, klen, &kcol, &vcol);
        colog__ingest_reject(ing, src, lno, vcol, "%s", colog__ingest_why(ing));
        return 1;
    }
    if ((rc = colog__row_end(ing)) < 0) {
        if (!is_reject(rc))
            return rc;
        colog__ingest_reject(ing, src, lno, 0, "%s", colog__ingest_why(ing));
        return 1;
    }
    return 0;
}

/* One line: checks, parse, row. Same results as put_object. */
static int do_line(colog_ingest_t *ing, const char *src, uint64_t lno, const char *s, size_t len)
{
    const char *nul = memchr(s, 0, len);
    if (nul) {
        colog__ingest_reject(ing, src, lno, (uint64_t)(nul - s) + 1, "NUL byte");
        return 1;
    }
    size_t bad = colog__utf8_check(s, len);
    if (bad < len) {
        colog__ingest_reject(ing, src, lno, bad + 1, "invalid UTF-8");
        return 1;
    }
    json_error_t e;
    json_t *obj = json_loadb(s, len, JSON_REJECT_DUPLICATES, &e);
    if (obj == NULL) {
        uint64_t col = e.position > 0 ? (uint64_t)e.position : 1;
        if (col > len)
            col = len ? len : 1;
        colog__ingest_reject(ing, src, lno, col, "invalid JSON: %s", e.text);
        return 1;
    }
    int rc;
    if (!json_is_object(obj)) {
        colog__ingest_reject(ing, src, lno, skip_ws(s, len, 0) + 1, "expected a JSON object");
        rc = 1;
    } else {
        rc = put_object(ing, src, lno, s, len, obj);
    }
    json_decref(obj);
    return rc;
}

int colog_ingest_json(colog_ingest_t *ing, const char *text, size_t len, const char *src,
                      uint64_t line)
{
    if (ing == NULL || (text == NULL && len > 0))
        return colog_seterr(COLOG_EINVAL, "colog_ingest_json: invalid argument");
    if (text == NULL)
        text = "";
    if (src == NULL)
        src = "-";
    if (len > COLOG_RECORD_MAX) {
        colog__ingest_reject(ing, src, line, COLOG_RECORD_MAX + 1, "line longer than %u bytes",
                             COLOG_RECORD_MAX);
        return 0;
    }
    int rc = colog__ingest_prepare(ing);
    if (rc < 0)
        return rc;
    rc = do_line(ing, src, line, text, len);
    return rc < 0 ? rc : rc == 0;
}

int colog__ndjson_ingest(colog_ingest_t *ing, FILE *f, const char *src)
{
    lines_t r = {.f = f, .fd = colog__stream_fd(f), .src = src, .line = 0};
    int rc = 0;
    if ((r.buf = malloc(BUF_SIZE)) == NULL)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", src);
    r.p = r.end = r.buf;

    const char *s = NULL;
    size_t len = 0;
    bool toolong;
    while ((rc = next_line(&r, &s, &len, &toolong)) == 1) {
        uint64_t lno = ++r.line;
        if (toolong) {
            colog__ingest_reject(ing, src, lno, COLOG_RECORD_MAX + 1, "line longer than %u bytes",
                                 COLOG_RECORD_MAX);
            continue;
        }
        if (len > 0 && s[len - 1] == '\r')
            len--;
        if (skip_ws(s, len, 0) == len)
            continue; /* blank */
        if (len > COLOG_RECORD_MAX) {
            colog__ingest_reject(ing, src, lno, COLOG_RECORD_MAX + 1, "line longer than %u bytes",
                                 COLOG_RECORD_MAX);
            continue;
        }
        rc = do_line(ing, src, lno, s, len);
        if (rc < 0)
            break;
        if (rc == 0 && colog__ingest_full(ing) && (rc = colog__ingest_submit(ing)) < 0)
            break;
    }
    free(r.buf);
    return rc < 0 ? rc : 0;
}
