/*
 * colog_schema.c — built-in schemas, the schema text format, and its canonical form.
 *
 * Design:
 *  1. A schema is a plain value (colog_schema_t, no pointers), so it can be copied,
 *     compared and kept in a store handle without ownership questions.
 *  2. The text format is line-based: `name type [indexed]`, tokens separated by
 *     spaces or tabs, `#` to the end of the line is a comment, blank lines are
 *     ignored, CRLF is accepted. Every error names FILE:LINE:COL, COL being the
 *     1-based byte column of the offending token.
 *  3. The parser validates everything a store relies on, so the rest of the
 *     storage layer may assume it:
 *     a. 1 <= ncols <= COLOG_MAX_COLS, and column 0 has type time;
 *     b. names match [a-z_][a-z0-9_]*, are shorter than COLOG_NAME_MAX and unique;
 *     c. f64 and time columns are never indexed (a bitmap per distinct float or
 *        microsecond would be useless).
 *  4. colog_schema_format writes the canonical text (one `name type[ indexed]`
 *     line per column), which parses back to the same columns: stores hash it.
 */
#include "colog_ingest_int.h"

#include <string.h>

/* ---------------------------------------------------------------- built-ins */

#define COL(n, t, ix)                                                                              \
    {                                                                                              \
        .name = n, .type = COLOG_T_##t, .indexed = ix                                              \
    }

static const colog_schema_t firewall_schema = {
    .name = "firewall",
    .ncols = 15,
    .cols =
        {
            COL("ts", TIME, false),
            COL("device", STRING, false),
            COL("src_ip", IP, true),
            COL("src_port", U16, true),
            COL("dst_ip", IP, true),
            COL("dst_port", U16, true),
            COL("proto", STRING, false),
            COL("action", STRING, false),
            COL("policy", U32, false),
            COL("src_zone", STRING, false),
            COL("dst_zone", STRING, false),
            COL("user", STRING, true),
            COL("bytes_out", U64, false),
            COL("bytes_in", U64, false),
            COL("duration", U32, false),
        },
};

static const colog_schema_t web_schema = {
    .name = "web",
    .ncols = 11,
    .cols =
        {
            COL("ts", TIME, false),
            COL("host", STRING, false),
            COL("client_ip", IP, true),
            COL("user", STRING, true),
            COL("method", STRING, false),
            COL("url", STRING, false),
            COL("status", U16, true),
            COL("bytes", U64, false),
            COL("referrer", STRING, false),
            COL("user_agent", STRING, false),
            COL("duration_ms", U32, false),
        },
};

#undef COL

const colog_schema_t *colog_schema_builtin(const char *name)
{
    if (name == NULL)
        return NULL;
    if (strcmp(name, "firewall") == 0)
        return &firewall_schema;
    if (strcmp(name, "web") == 0)
        return &web_schema;
    return NULL;
}

int colog_schema_find(const colog_schema_t *s, const char *name, size_t len)
{
    if (s == NULL || name == NULL || len >= COLOG_NAME_MAX)
        return -1;
    for (unsigned i = 0; i < s->ncols; i++) {
        const char *cn = s->cols[i].name;
        /* first byte first: most names differ there, and this runs per JSON key */
        if (len > 0 && cn[0] == name[0] && cn[len] == 0 && memcmp(cn, name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* ---------------------------------------------------------------- parsing */

/* One whitespace-separated token of a line. */
typedef struct token {
    const char *p;
    size_t len;
    size_t col; /* 1-based */
} token_t;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Split line[0..len) (without its '\n', comment included) into up to max tokens;
 * returns how many there are in all (may exceed max). */
static unsigned tokenize(const char *line, size_t len, token_t *tok, unsigned max)
{
    unsigned n = 0;
    size_t i = 0;
    for (;;) {
        while (i < len && is_blank(line[i]))
            i++;
        if (i == len || line[i] == '#')
            return n;
        size_t start = i;
        while (i < len && !is_blank(line[i]) && line[i] != '#')
            i++;
        if (n < max)
            tok[n] = (token_t){.p = line + start, .len = i - start, .col = start + 1};
        n++;
    }
}

/* [a-z_][a-z0-9_]*, any length. */
static bool name_chars_ok(const char *p, size_t len)
{
    if (len == 0)
        return false;
    if (!(p[0] == '_' || (p[0] >= 'a' && p[0] <= 'z')))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = p[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static bool tok_is(const token_t *t, const char *s)
{
    return t->len == strlen(s) && memcmp(t->p, s, t->len) == 0;
}

/* The schema's name from its file name: base name without the last extension. */
static void name_from_file(const char *fname, char *out)
{
    const char *base = fname ? strrchr(fname, '/') : NULL;
    base = base ? base + 1 : (fname ? fname : "");
    size_t len = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        len = (size_t)(dot - base);
    if (len == 0) {
        base = "schema";
        len = 6;
    }
    if (len >= COLOG_NAME_MAX)
        len = COLOG_NAME_MAX - 1;
    memcpy(out, base, len);
    out[len] = 0;
}

/* Parse one non-blank line's tokens into s->cols[s->ncols]. lines[] remembers the
 * line of each column for duplicate messages. */
static int parse_line(const char *fname, size_t lno, const token_t *tok, unsigned ntok,
                      colog_schema_t *s, size_t *lines)
{
    char shown[COLOG_SHOW_MAX * 4 + 8];
    const token_t *name = &tok[0];

    if (!name_chars_ok(name->p, name->len) || name->len >= COLOG_NAME_MAX) {
        colog__show(shown, sizeof shown, name->p, name->len);
        if (name_chars_ok(name->p, name->len))
            return colog_seterr(COLOG_ESCHEMA,
                                "%s:%zu:%zu: column name '%s' is longer than %d bytes", fname, lno,
                                name->col, shown, COLOG_NAME_MAX - 1);
        return colog_seterr(COLOG_ESCHEMA,
                            "%s:%zu:%zu: invalid column name '%s' (expected [a-z_][a-z0-9_]*)",
                            fname, lno, name->col, shown);
    }
    char nm[COLOG_NAME_MAX] = {0}; /* zero-padded: parsed schemas compare bytewise */
    memcpy(nm, name->p, name->len);
    if (ntok < 2)
        return colog_seterr(COLOG_ESCHEMA, "%s:%zu:%zu: column '%s' has no type", fname, lno,
                            name->col + name->len, nm);

    int dup = colog_schema_find(s, name->p, name->len);
    if (dup >= 0)
        return colog_seterr(COLOG_ESCHEMA, "%s:%zu:%zu: duplicate column '%s' (first on line %zu)",
                            fname, lno, name->col, nm, lines[dup]);
    if (s->ncols == COLOG_MAX_COLS)
        return colog_seterr(COLOG_ESCHEMA, "%s:%zu:%zu: more than %d columns", fname, lno,
                            name->col, COLOG_MAX_COLS);

    char tname[16];
    colog_type_t type;
    const token_t *ty = &tok[1];
    if (ty->len >= sizeof tname)
        goto bad_type;
    memcpy(tname, ty->p, ty->len);
    tname[ty->len] = 0;
    /* A NUL inside the token would end the C string early ("time\0junk"). */
    if (memchr(ty->p, 0, ty->len) != NULL || colog_type_parse(tname, &type) != 0)
        goto bad_type;
    if (s->ncols == 0 && type != COLOG_T_TIME)
        return colog_seterr(COLOG_ESCHEMA,
                            "%s:%zu:%zu: the first column must have type time ('%s' is %s)", fname,
                            lno, ty->col, nm, tname);

    bool indexed = false;
    if (ntok >= 3) {
        if (!tok_is(&tok[2], "indexed")) {
            colog__show(shown, sizeof shown, tok[2].p, tok[2].len);
            return colog_seterr(COLOG_ESCHEMA, "%s:%zu:%zu: unexpected '%s' (expected 'indexed')",
                                fname, lno, tok[2].col, shown);
        }
        if (type == COLOG_T_F64 || type == COLOG_T_TIME)
            return colog_seterr(COLOG_ESCHEMA,
                                "%s:%zu:%zu: column '%s' of type %s cannot be indexed", fname, lno,
                                tok[2].col, nm, tname);
        indexed = true;
    }
    if (ntok >= 4) {
        colog__show(shown, sizeof shown, tok[3].p, tok[3].len);
        return colog_seterr(COLOG_ESCHEMA, "%s:%zu:%zu: unexpected '%s' after 'indexed'", fname,
                            lno, tok[3].col, shown);
    }

    colog_column_t *c = &s->cols[s->ncols];
    memcpy(c->name, nm, sizeof nm);
    c->type = type;
    c->indexed = indexed;
    lines[s->ncols] = lno;
    s->ncols++;
    return 0;

bad_type:
    colog__show(shown, sizeof shown, ty->p, ty->len);
    return colog_seterr(COLOG_ESCHEMA,
                        "%s:%zu:%zu: unknown type '%s' (expected time, ip, u8, u16, u32, u64, i64, "
                        "f64 or string)",
                        fname, lno, ty->col, shown);
}

int colog_schema_parse(const char *text, size_t len, const char *fname, colog_schema_t *out)
{
    if ((text == NULL && len > 0) || out == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_schema_parse: invalid argument");
    if (fname == NULL)
        fname = "schema";

    /* About 3 KB: parse into a private copy so *out is written only on success. */
    colog_schema_t s;
    size_t lines[COLOG_MAX_COLS];
    memset(&s, 0, sizeof s);
    name_from_file(fname, s.name);

    size_t lno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl != NULL);
        lno++;

        token_t tok[4];
        unsigned ntok = tokenize(line, llen, tok, 4);
        if (ntok == 0)
            continue;
        int rc = parse_line(fname, lno, tok, ntok, &s, lines);
        if (rc < 0)
            return rc;
    }
    if (s.ncols == 0)
        return colog_seterr(COLOG_ESCHEMA, "%s: no columns (the first must be the event time)",
                            fname);
    *out = s;
    return 0;
}

/* ---------------------------------------------------------------- canonical text */

int colog_schema_format(const colog_schema_t *s, char *buf, size_t cap)
{
    if (s == NULL || (buf == NULL && cap > 0))
        return colog_seterr(COLOG_EINVAL, "colog_schema_format: invalid argument");
    size_t n = 0;
    for (unsigned i = 0; i < s->ncols; i++) {
        const colog_column_t *c = &s->cols[i];
        const char *tn = colog_type_name(c->type);
        int k = snprintf(buf + n, cap > n ? cap - n : 0, "%s %s%s\n", c->name, tn ? tn : "?",
                         c->indexed ? " indexed" : "");
        if (k < 0 || (size_t)k >= (cap > n ? cap - n : 0))
            return colog_seterr(COLOG_ELIMIT, "schema text longer than %zu bytes", cap);
        n += (size_t)k;
    }
    if (n >= cap)
        return colog_seterr(COLOG_ELIMIT, "schema text longer than %zu bytes", cap);
    buf[n] = 0;
    return (int)n;
}
