/*
 * colog_parse.c — the query parser: text -> checked AST (colog_ast.h).
 *
 * Design:
 *  - Recursive descent over the pull lexer (colog_lex.c) with one token of
 *    lookahead. Every semantic check is made here, while the offending token is
 *    at hand, so every error carries the (pos, len) of that token: names are
 *    resolved (schema columns before stats, output columns after it), literals
 *    are classified and checked against the operand's domain and integer range,
 *    and the pipeline shape is enforced (one stats; fields only without stats;
 *    on raw events, where stages before sort/limit/top/bottom).
 *  - Grammar (docs/QUERY.md):
 *        query  := [range T .. T | last DUR] [|] stage { | stage }
 *        expr   := and { or and }        and := not { and not }
 *        not    := not not | '(' expr ')' | test
 *    Chains of `and` / `or` are built as balanced trees (both are associative),
 *    so a long chain costs log2(n) levels, not n.
 *  - Limits: parentheses and `not` nest at most COLOG_Q_MAX_DEPTH deep while
 *    parsing (the parser's own recursion), and no expression tree, including the
 *    AND of several where stages, is deeper than COLOG_Q_MAX_DEPTH nodes, so the
 *    executor may evaluate it recursively.
 *  - Memory: one arena per query, a list of calloc'ed chunks with a bump pointer.
 *    The query struct itself lives in the arena; colog_query_free frees the
 *    chunks. A failed parse frees everything before returning.
 *
 * Invariants (besides those of colog_ast.h):
 *  1. p->cur is the current token and p->nxt the one after; p->prev_end is the
 *     end offset of the last token consumed. p->cur is never QT_ERR (advance()
 *     turns it into an error return).
 *  2. p->nouts == q->nkeys + q->naggs once stats is parsed; p->outs[i] describes
 *     output column i (keys first, then aggregates).
 *  3. Each expression node built has depth <= COLOG_Q_MAX_DEPTH (returned beside
 *     it by the parse functions).
 */
#include "colog_ast.h"
#include "colog_lex.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long colog__qalloc_fail_after = -1;

/* ---------------------------------------------------------------- arena */

#define CHUNK_SIZE 16384

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
} chunk_t;

typedef struct arena {
    chunk_t *head;
} arena_t;

static size_t round_up(size_t n)
{
    const size_t a = _Alignof(max_align_t);
    return (n + a - 1) / a * a;
}

static chunk_t *chunk_new(size_t cap)
{
    chunk_t *c = calloc(1, sizeof *c + cap);
    if (c != NULL)
        c->cap = cap;
    return c;
}

/* Zeroed memory valid until arena_free. NULL when out of memory. */
static void *arena_alloc(arena_t *a, size_t n)
{
    if (colog__qalloc_fail_after >= 0 && colog__qalloc_fail_after-- == 0)
        return NULL;
    n = round_up(n ? n : 1);
    chunk_t *c = a->head;
    if (c->cap - c->used < n) {
        chunk_t *nc = chunk_new(n > CHUNK_SIZE ? n : CHUNK_SIZE);
        if (nc == NULL)
            return NULL;
        nc->next = c;
        a->head = c = nc;
    }
    void *r = (char *)c->data + c->used;
    c->used += n;
    return r;
}

/* The arena lives in its own first chunk. */
static arena_t *arena_new(void)
{
    chunk_t *c = chunk_new(CHUNK_SIZE);
    if (c == NULL)
        return NULL;
    arena_t *a = (arena_t *)(void *)c->data;
    c->used = round_up(sizeof *a);
    a->head = c;
    return a;
}

static void arena_free(arena_t *a)
{
    chunk_t *c = a != NULL ? a->head : NULL;
    while (c != NULL) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

/* ---------------------------------------------------------------- parser state */

/* An output column after stats, or a test operand, for checking literals. */
typedef struct domain {
    colog_q_vt_t vt;
    const char *tdesc; /* "u16", "an hour (0-23)", ... */
    bool ranged;       /* Q_VT_INT: lo..hi apply */
    __int128 lo, hi;
} domain_t;

typedef struct outcol {
    const char *name;
    domain_t dom;
} outcol_t;

typedef struct exprvec {
    colog_q_expr_t **v;
    uint32_t *depth;
    uint32_t n, cap;
} exprvec_t;

typedef struct parser {
    const char *text;
    colog_qlexer_t lx;
    colog_qtoken_t cur, nxt;
    uint32_t prev_end;
    colog_qerr_t *err;
    arena_t *ar;
    colog_query_t *q;
    const colog_schema_t *sc;
    colog_tz_t *tz;
    int64_t now_us;
    int nest;
    uint32_t nouts;
    outcol_t outs[COLOG_Q_MAX_KEYS + COLOG_Q_MAX_AGGS];
    bool raw_tail; /* raw query: a sort/limit/top/bottom was seen */
    colog_qtoken_t tail_tok;
    bool has_fields;
    colog_qtoken_t fields_tok;
    exprvec_t scan; /* where stages before stats */
    uint32_t last_where_pos, last_where_len;
    uint32_t capstages;
} parser_t;

static int fail(parser_t *p, uint32_t pos, uint32_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(parser_t *p, uint32_t pos, uint32_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    p->err->pos = pos;
    p->err->len = len;
    return COLOG_EQUERY;
}

static int oom(parser_t *p)
{
    snprintf(p->err->msg, sizeof p->err->msg, "out of memory");
    p->err->pos = 0;
    p->err->len = 0;
    return COLOG_ENOMEM;
}

static void *alloc(parser_t *p, size_t n)
{
    return arena_alloc(p->ar, n);
}

/* Text of a token for messages (at most 60 bytes shown). */
#define TOKF "%.*s"
#define TOKA(t) (int)((t).len > 60 ? 60 : (t).len), p->text + (t).pos

static int advance(parser_t *p)
{
    p->prev_end = p->cur.pos + p->cur.len;
    p->cur = p->nxt;
    if (p->cur.kind == QT_ERR) {
        *p->err = p->lx.err;
        return COLOG_EQUERY;
    }
    colog__lex_next(&p->lx, &p->nxt);
    return 0;
}

static bool at(const parser_t *p, colog_qtok_t k)
{
    return p->cur.kind == k;
}

static bool at_kw(const parser_t *p, colog_qkw_t kw)
{
    return p->cur.kind == QT_KW && p->cur.kw == kw;
}

/* "expected WHAT, found 'X'" at the current token. */
static int unexpected(parser_t *p, const char *what)
{
    if (at(p, QT_EOF))
        return fail(p, p->cur.pos, 0, "expected %s, found end of query", what);
    return fail(p, p->cur.pos, p->cur.len, "expected %s, found '" TOKF "'", what, TOKA(p->cur));
}

static int expect(parser_t *p, colog_qtok_t k, const char *what)
{
    if (!at(p, k))
        return unexpected(p, what);
    return advance(p);
}

static bool is_funckw(colog_qkw_t kw)
{
    switch ((int)kw) { /* (int): a partial switch under -Wswitch-enum */
    case QKW_COUNT:
    case QKW_SUM:
    case QKW_MIN:
    case QKW_MAX:
    case QKW_AVG:
    case QKW_DCOUNT:
    case QKW_HOUR:
    case QKW_DOW:
    case QKW_DAY:
    case QKW_BIN:
        return true;
    default:
        return false;
    }
}

/* A name: an identifier, or a function-like keyword not followed by '(' (the
 * default output names count, hour, dow, day and bin are keywords). */
static bool at_name(const parser_t *p)
{
    return at(p, QT_IDENT) || (at(p, QT_KW) && is_funckw(p->cur.kw) && p->nxt.kind != QT_LPAREN);
}

bool colog_query_reserved(const char *name, size_t len)
{
    /* Function-like keywords (count, day, ...) are names wherever no '(' follows. */
    colog_qkw_t kw = name != NULL ? colog__kw_find(name, len) : QKW_NONE;
    return kw != QKW_NONE && !is_funckw(kw);
}

static bool tok_is(const parser_t *p, const colog_qtoken_t *t, const char *s)
{
    return strlen(s) == t->len && memcmp(p->text + t->pos, s, t->len) == 0;
}

/* ---------------------------------------------------------------- names */

static const char *type_desc(colog_type_t t)
{
    const char *n = colog_type_name(t);
    return n != NULL ? n : "?";
}

static domain_t col_domain(colog_type_t t)
{
    domain_t d = {.tdesc = type_desc(t)};
    switch (t) {
    case COLOG_T_TIME:
        d.vt = Q_VT_TIME;
        break;
    case COLOG_T_IP:
        d.vt = Q_VT_IP;
        break;
    case COLOG_T_STRING:
        d.vt = Q_VT_STR;
        break;
    case COLOG_T_F64:
        d.vt = Q_VT_FLOAT;
        break;
    case COLOG_T_I64:
        d.vt = Q_VT_INT;
        d.ranged = true;
        d.lo = INT64_MIN;
        d.hi = INT64_MAX;
        break;
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
        d.vt = Q_VT_INT;
        d.ranged = true;
        d.lo = 0;
        d.hi = colog_type_umax(t);
        break;
    }
    return d;
}

static domain_t int_domain(const char *tdesc, __int128 lo, __int128 hi)
{
    domain_t d = {.vt = Q_VT_INT, .tdesc = tdesc, .ranged = true, .lo = lo, .hi = hi};
    return d;
}

/* Append ", name" items to buf, ending with ", ..." when they do not fit. */
static void list_names(char *buf, size_t cap, const char *const *names, uint32_t n)
{
    size_t used = strlen(buf);
    for (uint32_t i = 0; i < n; i++) {
        size_t need = strlen(names[i]) + 2;
        if (used + need + 6 >= cap) {
            snprintf(buf + used, cap - used, "%s...", i ? ", " : "");
            return;
        }
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
    }
}

/* Resolve the current name token against the schema; consumes it. */
static int name_schema(parser_t *p, const char *what, int *col, colog_qtoken_t *tok)
{
    if (!at_name(p))
        return unexpected(p, what);
    *tok = p->cur;
    int c = colog_schema_find(p->sc, p->text + p->cur.pos, p->cur.len);
    if (c < 0) {
        const char *names[COLOG_MAX_COLS];
        char msg[sizeof p->err->msg];
        const char *hint = "";
        if (at_kw(p, QKW_HOUR) || at_kw(p, QKW_DOW) || at_kw(p, QKW_DAY))
            hint = " (a time function needs its argument, e.g. hour(ts))";
        for (unsigned i = 0; i < p->sc->ncols; i++)
            names[i] = p->sc->cols[i].name;
        snprintf(msg, sizeof msg, "unknown column '" TOKF "'%s; known columns: ", TOKA(p->cur),
                 hint);
        list_names(msg, sizeof msg, names, p->sc->ncols);
        return fail(p, p->cur.pos, p->cur.len, "%s", msg);
    }
    *col = c;
    return advance(p);
}

/* Resolve the current name token against the output columns; consumes it. */
static int name_output(parser_t *p, const char *what, int *idx, colog_qtoken_t *tok)
{
    if (!at_name(p))
        return unexpected(p, what);
    *tok = p->cur;
    for (uint32_t i = 0; i < p->nouts; i++) {
        if (tok_is(p, &p->cur, p->outs[i].name)) {
            *idx = (int)i;
            return advance(p);
        }
    }
    const char *names[COLOG_Q_MAX_KEYS + COLOG_Q_MAX_AGGS];
    char msg[sizeof p->err->msg];
    for (uint32_t i = 0; i < p->nouts; i++)
        names[i] = p->outs[i].name;
    snprintf(msg, sizeof msg,
             "unknown column '" TOKF "'; after stats the columns are: ", TOKA(p->cur));
    list_names(msg, sizeof msg, names, p->nouts);
    return fail(p, p->cur.pos, p->cur.len, "%s", msg);
}

/* A name in the current scope: output columns after stats, else the schema. */
static int name_any(parser_t *p, const char *what, int *idx, colog_qtoken_t *tok)
{
    return p->q->has_stats ? name_output(p, what, idx, tok) : name_schema(p, what, idx, tok);
}

/* `as NAME`, when present: an identifier of at most COLOG_NAME_MAX - 1 bytes. */
static int parse_alias(parser_t *p, char *name, size_t cap, colog_qtoken_t *ntok)
{
    if (!at_kw(p, QKW_AS))
        return 0;
    int rc = advance(p);
    if (rc != 0)
        return rc;
    if (at(p, QT_KW))
        return fail(p, p->cur.pos, p->cur.len, "'" TOKF "' is a reserved word; pick another name",
                    TOKA(p->cur));
    if (!at(p, QT_IDENT))
        return unexpected(p, "a name after as");
    if (p->cur.len >= COLOG_NAME_MAX || p->cur.len >= cap)
        return fail(p, p->cur.pos, p->cur.len, "name too long (at most %d characters)",
                    COLOG_NAME_MAX - 1);
    memcpy(name, p->text + p->cur.pos, p->cur.len);
    name[p->cur.len] = 0;
    *ntok = p->cur;
    return advance(p);
}

/* ---------------------------------------------------------------- literals */

static const char *litc_desc(colog_qlitc_t c)
{
    switch (c) {
    case QL_INT:
        return "an integer";
    case QL_FLOAT:
        return "a number";
    case QL_DATE:
        return "a date";
    case QL_DATETIME:
        return "a time";
    case QL_IP:
        return "an IP address";
    case QL_CIDR:
        return "a CIDR block";
    case QL_DUR:
        return "a duration";
    case QL_BAD:
        break;
    }
    return "not a value";
}

/* UTC µs of a wall-clock time given as µs (fields read as UTC) in the query zone. */
static int64_t wall_to_utc(parser_t *p, int64_t wall_us)
{
    int64_t secs = wall_us / 1000000, frac = wall_us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return wall_us;
    return colog_tz_local_to_utc(p->tz, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                 tm.tm_min, tm.tm_sec) +
           frac;
}

/* The time of a date or RFC 3339 literal (a date, or a time without zone, is in
 * the query's zone). */
static int64_t lit_time(parser_t *p, const colog_qlitv_t *v)
{
    if (v->cls == QL_DATE)
        return colog_tz_local_to_utc(p->tz, v->y, v->mo, v->d, 0, 0, 0);
    return v->has_zone ? v->t_us : wall_to_utc(p, v->t_us);
}

/* The operand's name as typed, for messages. */
typedef struct opnd {
    colog_q_operand_t o;
    domain_t dom;
} opnd_t;

#define OPDF "%.*s"
#define OPDA(od) (int)((od)->o.len > 60 ? 60 : (od)->o.len), p->text + (od)->o.pos

static int mismatch(parser_t *p, const opnd_t *od, const char *ldesc)
{
    return fail(p, p->cur.pos, p->cur.len, OPDF " is %s; " TOKF " is %s", OPDA(od), od->dom.tdesc,
                TOKA(p->cur), ldesc);
}

/* Parse the current token as a literal for operand od into *out; consumes it.
 * allow_cidr: a CIDR block is acceptable (ip operands in `in`). */
static int parse_lit(parser_t *p, const opnd_t *od, bool allow_cidr, colog_q_lit_t *out)
{
    colog_qlitv_t v;
    memset(out, 0, sizeof *out);
    out->pos = p->cur.pos;
    out->len = p->cur.len;

    if (at(p, QT_STR)) {
        if (od->dom.vt != Q_VT_STR)
            return mismatch(p, od, "a string");
        char *s = alloc(p, p->cur.len);
        if (s == NULL)
            return oom(p);
        out->kind = Q_LIT_STR;
        out->s = s;
        out->slen = colog__lex_unescape(p->text, &p->cur, s);
        return advance(p);
    }
    if (at(p, QT_IDENT) || at(p, QT_KW)) {
        if (od->dom.vt == Q_VT_STR && at(p, QT_IDENT))
            return fail(p, p->cur.pos, p->cur.len,
                        "expected a value, found '" TOKF "'; strings are double-quoted: \"" TOKF
                        "\"",
                        TOKA(p->cur), TOKA(p->cur));
        return unexpected(p, "a value");
    }
    if (!at(p, QT_LIT))
        return unexpected(p, "a value");

    colog__lit_classify(p->text + p->cur.pos, p->cur.len, &v);
    if (v.cls == QL_BAD)
        return fail(p, p->cur.pos, p->cur.len, "'" TOKF "': %s", TOKA(p->cur), v.why);
    switch (od->dom.vt) {
    case Q_VT_INT:
        if (v.cls != QL_INT)
            return mismatch(p, od, litc_desc(v.cls));
        if (od->dom.ranged) {
            __int128 x = v.neg ? -(__int128)v.mag : (__int128)v.mag;
            if (x < od->dom.lo || x > od->dom.hi)
                return fail(p, p->cur.pos, p->cur.len,
                            OPDF " is %s; " TOKF " is out of range (%lld..%llu)", OPDA(od),
                            od->dom.tdesc, TOKA(p->cur), (long long)od->dom.lo,
                            (unsigned long long)od->dom.hi);
        }
        out->kind = Q_LIT_INT;
        out->neg = v.neg;
        out->mag = v.mag;
        break;
    case Q_VT_FLOAT:
        if (v.cls == QL_INT) {
            out->neg = v.neg;
            out->mag = v.mag;
            out->f = v.neg ? -(double)v.mag : (double)v.mag;
        } else if (v.cls == QL_FLOAT) {
            out->f = v.f;
        } else {
            return mismatch(p, od, litc_desc(v.cls));
        }
        out->kind = Q_LIT_FLOAT;
        break;
    case Q_VT_STR:
        return fail(p, p->cur.pos, p->cur.len,
                    OPDF " is %s; " TOKF " is %s (strings are double-quoted: \"" TOKF "\")",
                    OPDA(od), od->dom.tdesc, TOKA(p->cur), litc_desc(v.cls), TOKA(p->cur));
    case Q_VT_IP:
        if (v.cls == QL_CIDR && !allow_cidr)
            return fail(p, p->cur.pos, p->cur.len,
                        "a CIDR block is tested with in: " OPDF " in " TOKF, OPDA(od),
                        TOKA(p->cur));
        if (v.cls != QL_IP && v.cls != QL_CIDR)
            return mismatch(p, od, litc_desc(v.cls));
        out->kind = v.cls == QL_IP ? Q_LIT_IP : Q_LIT_CIDR;
        out->ip = v.ip;
        out->prefix = v.cls == QL_CIDR ? v.prefix : 128;
        break;
    case Q_VT_TIME:
        if (v.cls != QL_DATE && v.cls != QL_DATETIME)
            return mismatch(p, od, litc_desc(v.cls));
        out->kind = Q_LIT_TIME;
        out->t_us = lit_time(p, &v);
        break;
    case Q_VT_DAY:
        if (v.cls != QL_DATE)
            return mismatch(p, od, litc_desc(v.cls));
        out->kind = Q_LIT_DAY;
        out->day = v.day;
        break;
    }
    return advance(p);
}

/* Compare two literals of one kind (for `between`): <0, 0, >0. */
static int lit_cmp(const colog_q_lit_t *a, const colog_q_lit_t *b)
{
    switch (a->kind) {
    case Q_LIT_INT: {
        __int128 x = a->neg ? -(__int128)a->mag : a->mag, y = b->neg ? -(__int128)b->mag : b->mag;
        return x < y ? -1 : x > y;
    }
    case Q_LIT_FLOAT:
        return a->f < b->f ? -1 : a->f > b->f;
    case Q_LIT_STR: {
        uint32_t n = a->slen < b->slen ? a->slen : b->slen;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        return c != 0 ? c : a->slen < b->slen ? -1 : a->slen > b->slen;
    }
    case Q_LIT_IP:
    case Q_LIT_CIDR:
        return colog_ip_cmp(&a->ip, &b->ip);
    case Q_LIT_TIME:
        return a->t_us < b->t_us ? -1 : a->t_us > b->t_us;
    case Q_LIT_DAY:
        return a->day < b->day ? -1 : a->day > b->day;
    }
    return 0;
}

/* A count after top / bottom / limit: a non-negative integer >= min. */
static int parse_count(parser_t *p, const char *stage, uint64_t min, uint64_t *n)
{
    colog_qlitv_t v;
    char what[32];
    snprintf(what, sizeof what, "a row count after %s", stage);
    if (!at(p, QT_LIT))
        return unexpected(p, what);
    colog__lit_classify(p->text + p->cur.pos, p->cur.len, &v);
    if (v.cls != QL_INT || v.neg || v.mag < min)
        return fail(p, p->cur.pos, p->cur.len, "%s needs a whole number >= %llu, not '" TOKF "'",
                    stage, (unsigned long long)min, TOKA(p->cur));
    *n = v.mag;
    return advance(p);
}

/* ---------------------------------------------------------------- expressions */

static int parse_or(parser_t *p, colog_q_expr_t **out, uint32_t *depth);

static colog_q_expr_t *new_expr(parser_t *p, colog_q_exk_t kind)
{
    colog_q_expr_t *e = alloc(p, sizeof *e);
    if (e != NULL)
        e->kind = kind;
    return e;
}

static int vec_push(parser_t *p, exprvec_t *v, colog_q_expr_t *e, uint32_t depth)
{
    if (v->n == v->cap) {
        uint32_t ncap = v->cap ? v->cap * 2 : 8;
        colog_q_expr_t **nv = alloc(p, ncap * sizeof *nv);
        uint32_t *nd = alloc(p, ncap * sizeof *nd);
        if (nv == NULL || nd == NULL)
            return oom(p);
        if (v->n) {
            memcpy(nv, v->v, v->n * sizeof *nv);
            memcpy(nd, v->depth, v->n * sizeof *nd);
        }
        v->v = nv;
        v->depth = nd;
        v->cap = ncap;
    }
    v->v[v->n] = e;
    v->depth[v->n] = depth;
    v->n++;
    return 0;
}

/* Balanced tree of kind over v[lo, hi) (hi > lo). NULL when out of memory. */
static colog_q_expr_t *balance(parser_t *p, colog_q_exk_t kind, const exprvec_t *v, uint32_t lo,
                               uint32_t hi, uint32_t *depth)
{
    if (hi - lo == 1) {
        *depth = v->depth[lo];
        return v->v[lo];
    }
    uint32_t mid = lo + (hi - lo) / 2, da, db;
    colog_q_expr_t *a = balance(p, kind, v, lo, mid, &da);
    colog_q_expr_t *b = a ? balance(p, kind, v, mid, hi, &db) : NULL;
    colog_q_expr_t *e = b ? new_expr(p, kind) : NULL;
    if (e == NULL)
        return NULL;
    e->a = a;
    e->b = b;
    e->pos = a->pos;
    e->len = b->pos + b->len - a->pos;
    *depth = 1 + (da > db ? da : db);
    return e;
}

static int check_depth(parser_t *p, const colog_q_expr_t *e, uint32_t depth)
{
    if (depth > COLOG_Q_MAX_DEPTH)
        return fail(p, e->pos, e->len, "expression too deeply nested (more than %d levels)",
                    COLOG_Q_MAX_DEPTH);
    return 0;
}

static int build_chain(parser_t *p, colog_q_exk_t kind, const exprvec_t *v, colog_q_expr_t **out,
                       uint32_t *depth)
{
    colog_q_expr_t *e = balance(p, kind, v, 0, v->n, depth);
    if (e == NULL)
        return oom(p);
    *out = e;
    return check_depth(p, e, *depth);
}

/* hour(ts) / dow(ts) / day(ts) (cur is the keyword, nxt is '('), or with
 * bin_us != NULL, bin(ts, DUR). Checks the argument is the time column. */
static int parse_time_fn(parser_t *p, colog_qkw_t kw, int64_t *bin_us)
{
    colog_qtoken_t arg;
    int col, rc;
    if ((rc = advance(p)) != 0 || (rc = advance(p)) != 0)
        return rc;
    if ((rc = name_schema(p, "the time column", &col, &arg)) != 0)
        return rc;
    if (col != 0 || p->sc->cols[0].type != COLOG_T_TIME)
        return fail(p, arg.pos, arg.len, "%s() applies to the time column %s only",
                    colog__kw_text(kw), p->sc->cols[0].name);
    if (bin_us != NULL) {
        colog_qlitv_t v;
        if ((rc = expect(p, QT_COMMA, "',' and a bucket width, as in bin(ts, 1h)")) != 0)
            return rc;
        if (!at(p, QT_LIT))
            return unexpected(p, "a bucket width (1h, 15m, 1d)");
        colog__lit_classify(p->text + p->cur.pos, p->cur.len, &v);
        if (v.cls != QL_DUR || v.dur_us <= 0)
            return fail(p, p->cur.pos, p->cur.len,
                        "bin width must be a duration > 0 (30s, 15m, 1h, 1d), not '" TOKF "'",
                        TOKA(p->cur));
        *bin_us = v.dur_us;
        if ((rc = advance(p)) != 0)
            return rc;
    }
    return expect(p, QT_RPAREN, "')'");
}

static int parse_operand(parser_t *p, opnd_t *od)
{
    int rc, col;
    colog_qtoken_t tok;
    memset(od, 0, sizeof *od);
    od->o.pos = p->cur.pos;

    if (at(p, QT_KW) && p->nxt.kind == QT_LPAREN &&
        (p->cur.kw == QKW_HOUR || p->cur.kw == QKW_DOW || p->cur.kw == QKW_DAY)) {
        colog_qkw_t kw = p->cur.kw;
        if (p->q->has_stats) {
            for (uint32_t i = 0; i < p->q->nkeys; i++) {
                colog_q_keyk_t k = p->q->keys[i].kind;
                if ((kw == QKW_HOUR && k == Q_KEY_HOUR) || (kw == QKW_DOW && k == Q_KEY_DOW) ||
                    (kw == QKW_DAY && k == Q_KEY_DAY))
                    return fail(p, p->cur.pos, p->cur.len,
                                "after stats, name the output column: %s", p->q->keys[i].name);
            }
            return fail(p, p->cur.pos, p->cur.len,
                        "after stats, where tests output columns, and %s(ts) is not one of them",
                        colog__kw_text(kw));
        }
        if ((rc = parse_time_fn(p, kw, NULL)) != 0)
            return rc;
        od->o.col = 0;
        if (kw == QKW_HOUR) {
            od->o.kind = Q_OPD_HOUR;
            od->dom = int_domain("an hour (0-23)", 0, 23);
        } else if (kw == QKW_DOW) {
            od->o.kind = Q_OPD_DOW;
            od->dom = int_domain("a weekday (1-7, Monday = 1)", 1, 7);
        } else {
            od->o.kind = Q_OPD_DAY;
            od->dom.vt = Q_VT_DAY;
            od->dom.tdesc = "a date";
        }
    } else if (at_kw(p, QKW_BIN) && p->nxt.kind == QT_LPAREN) {
        return fail(p, p->cur.pos, p->cur.len, "bin() is a stats key, not something to test");
    } else if (at(p, QT_LIT) || at(p, QT_STR)) {
        return fail(p, p->cur.pos, p->cur.len,
                    "expected a column name, found '" TOKF "' (the column comes first: "
                    "dst_port = 25)",
                    TOKA(p->cur));
    } else {
        if ((rc = name_any(p, "a column name", &col, &tok)) != 0)
            return rc;
        od->o.kind = Q_OPD_COL;
        od->o.col = col;
        od->dom = p->q->has_stats ? p->outs[col].dom : col_domain(p->sc->cols[col].type);
    }
    od->o.vt = od->dom.vt;
    od->o.len = p->prev_end - od->o.pos;
    return 0;
}

static int parse_in_list(parser_t *p, const opnd_t *od, colog_q_expr_t *e)
{
    int rc;
    uint32_t cap = 0;
    colog_qtoken_t lp = p->cur;
    if (!at(p, QT_LPAREN)) {
        /* `ip in CIDR` */
        e->lits = alloc(p, sizeof *e->lits);
        if (e->lits == NULL)
            return oom(p);
        if (!at(p, QT_LIT))
            return unexpected(p, "'(' and a list of values after in");
        colog_qtoken_t t = p->cur;
        if ((rc = parse_lit(p, od, true, &e->lits[0])) != 0)
            return rc;
        if (e->lits[0].kind != Q_LIT_CIDR)
            return fail(p, t.pos, t.len, "expected '(' after in: " OPDF " in (" TOKF ")", OPDA(od),
                        TOKA(t));
        e->nlits = 1;
        return 0;
    }
    if ((rc = advance(p)) != 0)
        return rc;
    if (at(p, QT_RPAREN))
        return fail(p, lp.pos, p->cur.pos + 1 - lp.pos, "empty list after in");
    for (;;) {
        if (e->nlits == cap) {
            uint32_t ncap = cap ? cap * 2 : 8;
            colog_q_lit_t *nl = alloc(p, ncap * sizeof *nl);
            if (nl == NULL)
                return oom(p);
            if (e->nlits)
                memcpy(nl, e->lits, e->nlits * sizeof *nl);
            e->lits = nl;
            cap = ncap;
        }
        if ((rc = parse_lit(p, od, od->dom.vt == Q_VT_IP, &e->lits[e->nlits])) != 0)
            return rc;
        e->nlits++;
        if (!at(p, QT_COMMA))
            break;
        if ((rc = advance(p)) != 0)
            return rc;
    }
    return expect(p, QT_RPAREN, "',' or ')' in the list");
}

static int parse_test(parser_t *p, colog_q_expr_t **out, uint32_t *depth)
{
    opnd_t od;
    int rc;
    uint32_t start = p->cur.pos;
    if ((rc = parse_operand(p, &od)) != 0)
        return rc;
    colog_q_expr_t *e = new_expr(p, Q_EX_CMP);
    if (e == NULL)
        return oom(p);
    e->opd = od.o;
    bool negate = false;
    colog_qtoken_t op = p->cur;

    switch ((int)p->cur.kind) {
    case QT_EQ:
    case QT_NE:
    case QT_LT:
    case QT_LE:
    case QT_GT:
    case QT_GE: {
        static const colog_q_cmp_t cmps[] = {[QT_EQ] = Q_EQ, [QT_NE] = Q_NE, [QT_LT] = Q_LT,
                                             [QT_LE] = Q_LE, [QT_GT] = Q_GT, [QT_GE] = Q_GE};
        e->cmp = cmps[p->cur.kind];
        if ((rc = advance(p)) != 0)
            return rc;
        e->lits = alloc(p, sizeof *e->lits);
        if (e->lits == NULL)
            return oom(p);
        e->nlits = 1;
        if ((rc = parse_lit(p, &od, false, &e->lits[0])) != 0)
            return rc;
        break;
    }
    case QT_KW:
        switch ((int)p->cur.kw) {
        case QKW_NOT:
            if (p->nxt.kind != QT_KW || p->nxt.kw != QKW_IN) {
                if ((rc = advance(p)) != 0)
                    return rc;
                return unexpected(p, "in after not (x not in (...))");
            }
            negate = true;
            if ((rc = advance(p)) != 0)
                return rc;
            /* fall through */
        case QKW_IN:
            e->kind = Q_EX_IN;
            if ((rc = advance(p)) != 0 || (rc = parse_in_list(p, &od, e)) != 0)
                return rc;
            break;
        case QKW_BETWEEN: {
            colog_qtoken_t lo;
            e->kind = Q_EX_BETWEEN;
            e->lits = alloc(p, 2 * sizeof *e->lits);
            if (e->lits == NULL)
                return oom(p);
            e->nlits = 2;
            if ((rc = advance(p)) != 0)
                return rc;
            lo = p->cur;
            if ((rc = parse_lit(p, &od, false, &e->lits[0])) != 0)
                return rc;
            if (!at_kw(p, QKW_AND))
                return unexpected(p, "and in between LOW and HIGH");
            if ((rc = advance(p)) != 0 || (rc = parse_lit(p, &od, false, &e->lits[1])) != 0)
                return rc;
            if (lit_cmp(&e->lits[0], &e->lits[1]) > 0)
                return fail(p, lo.pos, p->prev_end - lo.pos,
                            "empty range: " TOKF " is greater than %.*s", TOKA(lo),
                            (int)e->lits[1].len, p->text + e->lits[1].pos);
            break;
        }
        case QKW_CONTAINS:
        case QKW_STARTSWITH:
        case QKW_ENDSWITH:
            e->kind = p->cur.kw == QKW_CONTAINS     ? Q_EX_CONTAINS
                      : p->cur.kw == QKW_STARTSWITH ? Q_EX_STARTS
                                                    : Q_EX_ENDS;
            if (od.dom.vt != Q_VT_STR)
                return fail(p, od.o.pos, od.o.len,
                            OPDF " is %s; " TOKF " applies to string columns only", OPDA(&od),
                            od.dom.tdesc, TOKA(op));
            if ((rc = advance(p)) != 0)
                return rc;
            if (!at(p, QT_STR))
                return unexpected(p, "a \"double-quoted string\"");
            e->lits = alloc(p, sizeof *e->lits);
            if (e->lits == NULL)
                return oom(p);
            e->nlits = 1;
            if ((rc = parse_lit(p, &od, false, &e->lits[0])) != 0)
                return rc;
            break;
        default:
            return unexpected(p, "a comparison (=, !=, <, <=, >, >=, in, not in, between, "
                                 "contains, startswith, endswith)");
        }
        break;
    default:
        return unexpected(p, "a comparison (=, !=, <, <=, >, >=, in, not in, between, contains, "
                             "startswith, endswith)");
    }
    e->pos = start;
    e->len = p->prev_end - start;
    *depth = 1;
    if (negate) {
        colog_q_expr_t *n = new_expr(p, Q_EX_NOT);
        if (n == NULL)
            return oom(p);
        n->a = e;
        n->pos = e->pos;
        n->len = e->len;
        e = n;
        *depth = 2;
    }
    *out = e;
    return 0;
}

static int nest_in(parser_t *p)
{
    if (++p->nest > COLOG_Q_MAX_DEPTH)
        return fail(p, p->cur.pos, p->cur.len, "expression too deeply nested (more than %d levels)",
                    COLOG_Q_MAX_DEPTH);
    return 0;
}

static int parse_not(parser_t *p, colog_q_expr_t **out, uint32_t *depth)
{
    int rc;
    colog_qtoken_t t = p->cur;
    if (at_kw(p, QKW_NOT)) {
        colog_q_expr_t *a;
        uint32_t d;
        if ((rc = nest_in(p)) != 0 || (rc = advance(p)) != 0 || (rc = parse_not(p, &a, &d)) != 0)
            return rc;
        p->nest--;
        colog_q_expr_t *e = new_expr(p, Q_EX_NOT);
        if (e == NULL)
            return oom(p);
        e->a = a;
        e->pos = t.pos;
        e->len = p->prev_end - t.pos;
        *out = e;
        *depth = d + 1;
        return check_depth(p, e, *depth);
    }
    if (at(p, QT_LPAREN)) {
        if ((rc = nest_in(p)) != 0 || (rc = advance(p)) != 0 || (rc = parse_or(p, out, depth)) != 0)
            return rc;
        p->nest--;
        if (!at(p, QT_RPAREN)) {
            if (at(p, QT_EOF))
                return fail(p, t.pos, 1, "unclosed '('");
            return unexpected(p, "')' or and/or");
        }
        return advance(p);
    }
    return parse_test(p, out, depth);
}

static int parse_and(parser_t *p, colog_q_expr_t **out, uint32_t *depth)
{
    exprvec_t v = {0};
    colog_q_expr_t *e;
    uint32_t d;
    int rc;
    for (;;) {
        if ((rc = parse_not(p, &e, &d)) != 0 || (rc = vec_push(p, &v, e, d)) != 0)
            return rc;
        if (!at_kw(p, QKW_AND))
            break;
        if ((rc = advance(p)) != 0)
            return rc;
    }
    return build_chain(p, Q_EX_AND, &v, out, depth);
}

static int parse_or(parser_t *p, colog_q_expr_t **out, uint32_t *depth)
{
    exprvec_t v = {0};
    colog_q_expr_t *e;
    uint32_t d;
    int rc;
    for (;;) {
        if ((rc = parse_and(p, &e, &d)) != 0 || (rc = vec_push(p, &v, e, d)) != 0)
            return rc;
        if (!at_kw(p, QKW_OR))
            break;
        if ((rc = advance(p)) != 0)
            return rc;
    }
    return build_chain(p, Q_EX_OR, &v, out, depth);
}

/* ---------------------------------------------------------------- stages */

static colog_q_stage_t *new_stage(parser_t *p, colog_q_stk_t kind, const colog_qtoken_t *t)
{
    colog_query_t *q = p->q;
    if (q->nstages == p->capstages) {
        uint32_t ncap = p->capstages ? p->capstages * 2 : 8;
        colog_q_stage_t *ns = alloc(p, ncap * sizeof *ns);
        if (ns == NULL)
            return NULL;
        if (q->nstages)
            memcpy(ns, q->stages, q->nstages * sizeof *ns);
        q->stages = ns;
        p->capstages = ncap;
    }
    colog_q_stage_t *s = &q->stages[q->nstages++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->pos = t->pos;
    return s;
}

static int parse_where(parser_t *p)
{
    colog_qtoken_t t = p->cur;
    colog_q_expr_t *e;
    uint32_t d;
    int rc;
    if (!p->q->has_stats && p->raw_tail)
        return fail(p, t.pos, t.len,
                    "where after " TOKF ": on raw events, put where before sort, limit, top and "
                    "bottom",
                    TOKA(p->tail_tok));
    if ((rc = advance(p)) != 0 || (rc = parse_or(p, &e, &d)) != 0)
        return rc;
    if (!p->q->has_stats) {
        p->last_where_pos = t.pos;
        p->last_where_len = p->prev_end - t.pos;
        return vec_push(p, &p->scan, e, d);
    }
    colog_q_stage_t *s = new_stage(p, Q_ST_WHERE, &t);
    if (s == NULL)
        return oom(p);
    s->where = e;
    s->len = p->prev_end - t.pos;
    return 0;
}

/* Record output column name (text of the key/agg) after checking it is new. */
static int add_output(parser_t *p, const char *name, domain_t dom, uint32_t pos, uint32_t len)
{
    for (uint32_t i = 0; i < p->nouts; i++)
        if (strcmp(p->outs[i].name, name) == 0)
            return fail(p, pos, len, "duplicate output column '%s'; rename one with as", name);
    p->outs[p->nouts].name = name;
    p->outs[p->nouts].dom = dom;
    p->nouts++;
    return 0;
}

static bool numeric(colog_type_t t)
{
    return colog_type_is_unsigned(t) || t == COLOG_T_I64 || t == COLOG_T_F64;
}

static int parse_agg(parser_t *p, colog_q_agg_t *a, domain_t *dom, uint32_t *npos, uint32_t *nlen)
{
    static const struct {
        colog_qkw_t kw;
        colog_q_aggk_t kind;
    } aggs[] = {{QKW_COUNT, Q_AGG_COUNT}, {QKW_SUM, Q_AGG_SUM}, {QKW_MIN, Q_AGG_MIN},
                {QKW_MAX, Q_AGG_MAX},     {QKW_AVG, Q_AGG_AVG}, {QKW_DCOUNT, Q_AGG_DCOUNT}};
    colog_qtoken_t t = p->cur, ct, nt;
    int rc, col = -1;

    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
        if (at_kw(p, aggs[i].kw))
            a->kind = aggs[i].kind;
    if (a->kind == 0)
        return unexpected(p, "an aggregate (count(), sum(COL), min(COL), max(COL), avg(COL), "
                             "dcount(COL))");
    if ((rc = advance(p)) != 0 || (rc = expect(p, QT_LPAREN, "'('")) != 0)
        return rc;
    if (a->kind == Q_AGG_COUNT) {
        if (!at(p, QT_RPAREN))
            return fail(p, p->cur.pos, p->cur.len,
                        "count() takes no column (for distinct values use dcount(COL))");
        a->col = -1;
        a->vt = Q_VT_INT;
        *dom = int_domain("an integer", 0, UINT64_MAX);
        snprintf(a->name, sizeof a->name, "count");
    } else {
        if ((rc = name_schema(p, "a column name", &col, &ct)) != 0)
            return rc;
        colog_type_t ty = p->sc->cols[col].type;
        const char *cn = p->sc->cols[col].name;
        a->col = col;
        switch (a->kind) {
        case Q_AGG_SUM:
        case Q_AGG_AVG:
            if (!numeric(ty))
                return fail(p, ct.pos, ct.len, "%s is %s; %s() needs a numeric column", cn,
                            type_desc(ty), colog__kw_text(t.kw));
            if (a->kind == Q_AGG_AVG || ty == COLOG_T_F64) {
                a->vt = Q_VT_FLOAT;
                dom->vt = Q_VT_FLOAT;
                dom->tdesc = "a number";
            } else {
                a->vt = Q_VT_INT;
                *dom = int_domain("an integer", INT64_MIN, UINT64_MAX);
            }
            break;
        case Q_AGG_MIN:
        case Q_AGG_MAX:
            *dom = col_domain(ty);
            a->vt = dom->vt;
            break;
        case Q_AGG_DCOUNT:
            a->vt = Q_VT_INT;
            *dom = int_domain("an integer", 0, UINT64_MAX);
            break;
        case Q_AGG_COUNT:
            break;
        }
        snprintf(a->name, sizeof a->name, "%s_%s", colog__kw_text(t.kw), cn);
    }
    if ((rc = expect(p, QT_RPAREN, "')'")) != 0)
        return rc;
    *npos = t.pos;
    *nlen = p->prev_end - t.pos;
    nt.len = 0;
    if ((rc = parse_alias(p, a->name, sizeof a->name, &nt)) != 0)
        return rc;
    if (nt.len) {
        *npos = nt.pos;
        *nlen = nt.len;
    }
    return 0;
}

static int parse_key(parser_t *p, colog_q_key_t *k, domain_t *dom, uint32_t *npos, uint32_t *nlen)
{
    colog_qtoken_t t = p->cur, nt;
    int rc, col;
    memset(k, 0, sizeof *k);
    if (at(p, QT_KW) && p->nxt.kind == QT_LPAREN &&
        (p->cur.kw == QKW_HOUR || p->cur.kw == QKW_DOW || p->cur.kw == QKW_DAY ||
         p->cur.kw == QKW_BIN)) {
        colog_qkw_t kw = p->cur.kw;
        if ((rc = parse_time_fn(p, kw, kw == QKW_BIN ? &k->bin_us : NULL)) != 0)
            return rc;
        k->col = 0;
        snprintf(k->name, sizeof k->name, "%s", colog__kw_text(kw));
        switch ((int)kw) {
        case QKW_HOUR:
            k->kind = Q_KEY_HOUR;
            *dom = int_domain("an hour (0-23)", 0, 23);
            break;
        case QKW_DOW:
            k->kind = Q_KEY_DOW;
            *dom = int_domain("a weekday (1-7, Monday = 1)", 1, 7);
            break;
        case QKW_DAY:
            k->kind = Q_KEY_DAY;
            dom->vt = Q_VT_DAY;
            dom->tdesc = "a date";
            break;
        default:
            k->kind = Q_KEY_BIN;
            dom->vt = Q_VT_TIME;
            dom->tdesc = "a time";
            break;
        }
    } else {
        if ((rc = name_schema(p, "a column name or hour(ts), dow(ts), day(ts), bin(ts, DUR)", &col,
                              &t)) != 0)
            return rc;
        k->kind = Q_KEY_COL;
        k->col = col;
        *dom = col_domain(p->sc->cols[col].type);
        snprintf(k->name, sizeof k->name, "%s", p->sc->cols[col].name);
    }
    k->vt = dom->vt;
    *npos = t.pos;
    *nlen = p->prev_end - t.pos;
    nt.len = 0;
    if ((rc = parse_alias(p, k->name, sizeof k->name, &nt)) != 0)
        return rc;
    if (nt.len) {
        *npos = nt.pos;
        *nlen = nt.len;
    }
    return 0;
}

static int parse_stats(parser_t *p)
{
    colog_query_t *q = p->q;
    colog_qtoken_t t = p->cur;
    domain_t adom[COLOG_Q_MAX_AGGS], kdom[COLOG_Q_MAX_KEYS];
    uint32_t apos[COLOG_Q_MAX_AGGS], alen[COLOG_Q_MAX_AGGS];
    uint32_t npos, nlen;
    int rc;

    if (q->has_stats)
        return fail(p, t.pos, t.len, "only one stats per query");
    if (p->has_fields)
        return fail(p, p->fields_tok.pos, p->fields_tok.len,
                    "fields is only for queries without stats");
    if (p->raw_tail)
        return fail(p, t.pos, t.len,
                    "stats after " TOKF ": put stats before sort, limit, top and bottom",
                    TOKA(p->tail_tok));
    if ((rc = advance(p)) != 0)
        return rc;
    memset(adom, 0, sizeof adom);
    memset(kdom, 0, sizeof kdom);
    for (;;) {
        if (q->naggs == COLOG_Q_MAX_AGGS)
            return fail(p, p->cur.pos, p->cur.len, "too many aggregates (at most %d)",
                        COLOG_Q_MAX_AGGS);
        uint32_t i = q->naggs;
        if ((rc = parse_agg(p, &q->aggs[i], &adom[i], &apos[i], &alen[i])) != 0)
            return rc;
        /* names are checked against aggregates now, against keys below */
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(q->aggs[j].name, q->aggs[i].name) == 0)
                return fail(p, apos[i], alen[i], "duplicate output column '%s'; rename one with as",
                            q->aggs[i].name);
        q->naggs++;
        if (!at(p, QT_COMMA))
            break;
        if ((rc = advance(p)) != 0)
            return rc;
    }
    p->nouts = 0;
    if (at_kw(p, QKW_BY)) {
        if ((rc = advance(p)) != 0)
            return rc;
        for (;;) {
            if (q->nkeys == COLOG_Q_MAX_KEYS)
                return fail(p, p->cur.pos, p->cur.len, "too many group keys (at most %d)",
                            COLOG_Q_MAX_KEYS);
            uint32_t i = q->nkeys;
            if ((rc = parse_key(p, &q->keys[i], &kdom[i], &npos, &nlen)) != 0)
                return rc;
            for (uint32_t j = 0; j < q->naggs; j++)
                if (strcmp(q->aggs[j].name, q->keys[i].name) == 0)
                    return fail(p, npos, nlen, "duplicate output column '%s'; rename one with as",
                                q->keys[i].name);
            if ((rc = add_output(p, q->keys[i].name, kdom[i], npos, nlen)) != 0)
                return rc;
            q->nkeys++;
            if (!at(p, QT_COMMA))
                break;
            if ((rc = advance(p)) != 0)
                return rc;
        }
    }
    for (uint32_t i = 0; i < q->naggs; i++)
        if ((rc = add_output(p, q->aggs[i].name, adom[i], apos[i], alen[i])) != 0)
            return rc;
    q->has_stats = true;
    return 0;
}

static int parse_topbottom(parser_t *p)
{
    colog_qtoken_t t = p->cur, nt;
    bool top = at_kw(p, QKW_TOP);
    uint64_t n;
    int rc, by = -1;
    if ((rc = advance(p)) != 0 || (rc = parse_count(p, top ? "top" : "bottom", 1, &n)) != 0)
        return rc;
    if (at_kw(p, QKW_BY)) {
        if ((rc = advance(p)) != 0 || (rc = name_any(p, "a column name after by", &by, &nt)) != 0)
            return rc;
    } else if (p->q->has_stats) {
        by = (int)p->q->nkeys; /* the first aggregate */
    } else {
        return fail(p, t.pos, p->prev_end - t.pos,
                    "%s without stats needs a column: %s N by COLUMN (or use stats first)",
                    top ? "top" : "bottom", top ? "top" : "bottom");
    }
    colog_q_stage_t *s = new_stage(p, top ? Q_ST_TOP : Q_ST_BOTTOM, &t);
    if (s == NULL)
        return oom(p);
    s->n = n;
    s->by = by;
    s->len = p->prev_end - t.pos;
    if (!p->q->has_stats && !p->raw_tail) {
        p->raw_tail = true;
        p->tail_tok = t;
    }
    return 0;
}

static int parse_sort(parser_t *p)
{
    colog_qtoken_t t = p->cur, nt;
    colog_q_sortkey_t keys[COLOG_Q_MAX_KEYS];
    uint32_t n = 0;
    int rc, col;
    if ((rc = advance(p)) != 0)
        return rc;
    for (;;) {
        if (n == COLOG_Q_MAX_KEYS)
            return fail(p, p->cur.pos, p->cur.len, "too many sort keys (at most %d)",
                        COLOG_Q_MAX_KEYS);
        if ((rc = name_any(p, "a column name", &col, &nt)) != 0)
            return rc;
        keys[n].col = col;
        keys[n].desc = false;
        if (at_kw(p, QKW_ASC) || at_kw(p, QKW_DESC)) {
            keys[n].desc = at_kw(p, QKW_DESC);
            if ((rc = advance(p)) != 0)
                return rc;
        }
        n++;
        if (!at(p, QT_COMMA))
            break;
        if ((rc = advance(p)) != 0)
            return rc;
    }
    colog_q_stage_t *s = new_stage(p, Q_ST_SORT, &t);
    if (s == NULL)
        return oom(p);
    s->nsort = n;
    memcpy(s->sort, keys, n * sizeof keys[0]);
    s->len = p->prev_end - t.pos;
    if (!p->q->has_stats && !p->raw_tail) {
        p->raw_tail = true;
        p->tail_tok = t;
    }
    return 0;
}

static int parse_limit(parser_t *p)
{
    colog_qtoken_t t = p->cur;
    uint64_t n;
    int rc;
    if ((rc = advance(p)) != 0 || (rc = parse_count(p, "limit", 0, &n)) != 0)
        return rc;
    colog_q_stage_t *s = new_stage(p, Q_ST_LIMIT, &t);
    if (s == NULL)
        return oom(p);
    s->n = n;
    s->len = p->prev_end - t.pos;
    if (!p->q->has_stats && !p->raw_tail) {
        p->raw_tail = true;
        p->tail_tok = t;
    }
    return 0;
}

static int parse_fields(parser_t *p)
{
    colog_query_t *q = p->q;
    colog_qtoken_t t = p->cur, nt;
    int rc, col;
    if (q->has_stats)
        return fail(p, t.pos, t.len, "fields is only for queries without stats");
    if (p->has_fields)
        return fail(p, t.pos, t.len, "only one fields stage per query");
    p->has_fields = true;
    p->fields_tok = t;
    if ((rc = advance(p)) != 0)
        return rc;
    for (;;) {
        if ((rc = name_schema(p, "a column name", &col, &nt)) != 0)
            return rc;
        for (uint32_t i = 0; i < q->nfields; i++)
            if (q->fields[i] == col)
                return fail(p, nt.pos, nt.len, "column '" TOKF "' is listed twice", TOKA(nt));
        q->fields[q->nfields++] = col; /* distinct schema columns: never overflows */
        if (!at(p, QT_COMMA))
            break;
        if ((rc = advance(p)) != 0)
            return rc;
    }
    return 0;
}

static int parse_stage(parser_t *p)
{
    if (at(p, QT_KW)) {
        switch ((int)p->cur.kw) {
        case QKW_WHERE:
            return parse_where(p);
        case QKW_STATS:
            return parse_stats(p);
        case QKW_TOP:
        case QKW_BOTTOM:
            return parse_topbottom(p);
        case QKW_SORT:
            return parse_sort(p);
        case QKW_LIMIT:
            return parse_limit(p);
        case QKW_FIELDS:
            return parse_fields(p);
        case QKW_RANGE:
        case QKW_LAST:
            return fail(p, p->cur.pos, p->cur.len,
                        "the time range (range or last) comes first, once, before any stage");
        default:
            break;
        }
    }
    if (at(p, QT_IDENT) && p->cur.len < 16) {
        char low[16];
        for (uint32_t i = 0; i < p->cur.len; i++) {
            char c = p->text[p->cur.pos + i];
            low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        if (colog__kw_find(low, p->cur.len) != QKW_NONE)
            return fail(p, p->cur.pos, p->cur.len,
                        "expected a stage, found '" TOKF "' (keywords are lower case: %.*s)",
                        TOKA(p->cur), (int)p->cur.len, low);
    }
    return unexpected(p, "a stage (where, stats, top, bottom, sort, limit, fields)");
}

/* range T .. T  |  last DUR */
static int parse_timerange(parser_t *p)
{
    colog_query_t *q = p->q;
    colog_qlitv_t v;
    int rc;
    if (at_kw(p, QKW_LAST)) {
        if ((rc = advance(p)) != 0)
            return rc;
        if (!at(p, QT_LIT))
            return unexpected(p, "a duration after last (30m, 24h, 7d)");
        colog__lit_classify(p->text + p->cur.pos, p->cur.len, &v);
        if (v.cls != QL_DUR || v.dur_us <= 0)
            return fail(p, p->cur.pos, p->cur.len,
                        "last needs a duration > 0 (30s, 15m, 24h, 7d), not '" TOKF "'",
                        TOKA(p->cur));
        q->t_lo = p->now_us < INT64_MIN + v.dur_us ? INT64_MIN : p->now_us - v.dur_us;
        q->t_hi = INT64_MAX; /* events a little in the future are kept */
        return advance(p);
    }
    int64_t t[2];
    colog_qtoken_t tok[2];
    if ((rc = advance(p)) != 0)
        return rc;
    for (int i = 0; i < 2; i++) {
        if (i == 1 && (rc = expect(p, QT_DOTDOT, "'..' between the two ends of the range")) != 0)
            return rc;
        if (!at(p, QT_LIT))
            return unexpected(p, "a date or time (2026-03-01 or 2026-03-01T12:00:00Z)");
        tok[i] = p->cur;
        colog__lit_classify(p->text + p->cur.pos, p->cur.len, &v);
        if (v.cls == QL_BAD)
            return fail(p, p->cur.pos, p->cur.len, "'" TOKF "': %s", TOKA(p->cur), v.why);
        if (v.cls != QL_DATE && v.cls != QL_DATETIME)
            return fail(p, p->cur.pos, p->cur.len,
                        "expected a date or time (2026-03-01 or 2026-03-01T12:00:00Z), "
                        "found %s",
                        litc_desc(v.cls));
        t[i] = lit_time(p, &v);
        if ((rc = advance(p)) != 0)
            return rc;
    }
    if (t[0] >= t[1])
        return fail(p, tok[0].pos, tok[1].pos + tok[1].len - tok[0].pos,
                    "empty range: " TOKF " is not before " TOKF, TOKA(tok[0]), TOKA(tok[1]));
    q->t_lo = t[0];
    q->t_hi = t[1];
    return 0;
}

static int parse_query(parser_t *p)
{
    colog_query_t *q = p->q;
    int rc;
    if (at_kw(p, QKW_RANGE) || at_kw(p, QKW_LAST))
        if ((rc = parse_timerange(p)) != 0)
            return rc;
    for (bool first = true; !at(p, QT_EOF); first = false) {
        if (at(p, QT_PIPE)) {
            if ((rc = advance(p)) != 0)
                return rc;
        } else if (!first) {
            return unexpected(p, "'|' or the end of the query");
        }
        if ((rc = parse_stage(p)) != 0)
            return rc;
    }
    if (p->scan.n > 0) {
        uint32_t d;
        q->scan_where = balance(p, Q_EX_AND, &p->scan, 0, p->scan.n, &d);
        if (q->scan_where == NULL)
            return oom(p);
        if (d > COLOG_Q_MAX_DEPTH)
            return fail(p, p->last_where_pos, p->last_where_len,
                        "expression too deeply nested (more than %d levels)", COLOG_Q_MAX_DEPTH);
    }
    if (!q->has_stats && q->nfields == 0) {
        for (unsigned i = 0; i < p->sc->ncols; i++)
            q->fields[i] = (int)i;
        q->nfields = p->sc->ncols;
    }
    return 0;
}

/* ---------------------------------------------------------------- public */

int colog_query_parse(const char *text, const colog_schema_t *schema, colog_tz_t *tz,
                      int64_t now_us, colog_query_t **out, colog_qerr_t *err)
{
    colog_qerr_t dummy;
    parser_t p;
    int rc;

    if (err == NULL)
        err = &dummy;
    memset(err, 0, sizeof *err);
    if (text == NULL || schema == NULL || out == NULL || schema->ncols == 0 ||
        schema->ncols > COLOG_MAX_COLS) {
        snprintf(err->msg, sizeof err->msg, "colog_query_parse: bad arguments");
        return colog_seterr(COLOG_EINVAL, "%s", err->msg);
    }
    size_t len = strlen(text);
    if (len > COLOG_Q_MAX_TEXT) {
        snprintf(err->msg, sizeof err->msg, "query too long (%zu bytes; at most %u)", len,
                 COLOG_Q_MAX_TEXT);
        return colog_seterr(COLOG_EQUERY, "%s", err->msg);
    }

    memset(&p, 0, sizeof p);
    p.text = text;
    p.err = err;
    p.sc = schema;
    p.tz = tz;
    p.now_us = now_us;
    p.ar = arena_new();
    if (p.ar == NULL || (p.q = arena_alloc(p.ar, sizeof *p.q)) == NULL) {
        arena_free(p.ar);
        rc = oom(&p);
        return colog_seterr(rc, "%s", err->msg);
    }
    p.q->schema = schema;
    p.q->tz = tz;
    p.q->t_lo = INT64_MIN;
    p.q->t_hi = INT64_MAX;
    p.q->arena = p.ar;

    colog__lex_init(&p.lx, text, (uint32_t)len);
    colog__lex_next(&p.lx, &p.nxt);
    rc = advance(&p);
    if (rc == 0)
        rc = parse_query(&p);
    if (rc != 0) {
        arena_free(p.ar);
        return colog_seterr(rc, "%s", err->msg);
    }
    *out = p.q;
    return 0;
}

void colog_query_free(colog_query_t *q)
{
    if (q != NULL)
        arena_free(q->arena); /* q itself lives in the arena */
}

/* Characters (not UTF-8 continuation bytes) in text[a..b). */
static size_t qerr_chars(const char *text, size_t a, size_t b)
{
    size_t c = 0;
    for (size_t i = a; i < b; i++)
        c += ((unsigned char)text[i] & 0xC0) != 0x80;
    return c;
}

void colog_qerr_print(FILE *f, const char *text, const colog_qerr_t *err)
{
    /* A long query (a --file with thousands of `in` values) is shown as a window
     * of about QERR_CONTEXT bytes either side of the error, cut at characters. */
    enum { QERR_CONTEXT = 80 };
    if (f == NULL || err == NULL)
        return;
    size_t n = text != NULL ? strlen(text) : 0;
    size_t pos = err->pos < n ? err->pos : n;
    size_t end = pos + err->len < n ? pos + err->len : n;
    size_t a = 0, b = n;
    if (n > 4 * QERR_CONTEXT) {
        a = pos > QERR_CONTEXT ? pos - QERR_CONTEXT : 0;
        b = end + QERR_CONTEXT < n ? end + QERR_CONTEXT : n;
        if (end - pos > 2 * QERR_CONTEXT)
            b = pos + 2 * QERR_CONTEXT; /* a huge token: its start is enough */
        while (a > 0 && ((unsigned char)text[a] & 0xC0) == 0x80)
            a--;
        while (b < n && ((unsigned char)text[b] & 0xC0) == 0x80)
            b++;
    }
    if (end > b)
        end = b;

    fprintf(f, "colog: query error: %.*s\n  ", (int)strnlen(err->msg, sizeof err->msg), err->msg);
    const char *lead = a > 0 ? "... " : "";
    fputs(lead, f);
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)text[i];
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
    fputs(b < n ? " ...\n  " : "\n  ", f);
    size_t cols = strlen(lead) + qerr_chars(text, a, pos), carets = qerr_chars(text, pos, end);
    for (size_t i = 0; i < cols; i++)
        fputc(' ', f);
    for (size_t i = 0; i < (carets ? carets : 1); i++)
        fputc('^', f);
    fputc('\n', f);
}
