/*
 * fuzz_query.c — libFuzzer target: the query lexer and parser
 * (colog_query_parse) and the error printer (colog_qerr_print).
 *
 * Input: the query text (cut at its first NUL, as the API takes a C string).
 * Each input is parsed twice, against the built-in firewall schema and against
 * a schema with every column type (i64, f64, u8 and a string column named
 * `day`, which the firewall schema lacks), in the fixed zone +02:00 with a
 * fixed "now". Errors are printed with colog_qerr_print into /dev/null.
 *
 * Properties (abort on violation): a failure is COLOG_EQUERY (or ENOMEM) with
 * a NUL-terminated message and a position inside the text; a query that
 * parses satisfies the guarantees of query/colog_ast.h and docs/QUERY.md
 * ("The checked tree"): t_lo < t_hi; every where tree balanced within
 * COLOG_Q_MAX_DEPTH (+1 for the AND of stages), with operands that name real
 * columns (schema columns before stats, outputs after), time functions on
 * column 0 only, literals of the kind the operand's domain takes and, before
 * stats, integers within their column's range (hour 0..23, dow 1..7), CIDR
 * host bits zero, between ends in order; keys, aggregates, outputs, fields,
 * sort keys and top/bottom columns in range, output names unique; every
 * recorded text position inside the text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colog_ast.h"
#include "colog_lex.h"

#define NOW_US 1772409600000000LL /* 2026-03-02T00:00:00Z */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_query: check failed: %s: ", #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char all_types_text[] = "ts time\n"
                                     "b u8 indexed\n"
                                     "w u16\n"
                                     "d u32\n"
                                     "q u64 indexed\n"
                                     "i i64 indexed\n"
                                     "f f64\n"
                                     "s string indexed\n"
                                     "ip ip indexed\n"
                                     "day string\n";

static colog_schema_t g_all;
static colog_tz_t *g_tz;
static FILE *g_null;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    CHECK(colog_schema_parse(all_types_text, strlen(all_types_text), "all", &g_all) == 0, "%s",
          colog_errmsg());
    CHECK(colog_tz_open("+02:00", &g_tz) == 0, "%s", colog_errmsg());
    CHECK((g_null = fopen("/dev/null", "w")) != NULL, "/dev/null");
    return 0;
}

/* What a query is checked against: the schema, the outputs, the text. */
typedef struct ctx {
    const colog_schema_t *sc;
    const colog_query_t *q;
    size_t tlen;
} ctx_t;

static colog_q_vt_t col_vt(colog_type_t t)
{
    switch (t) {
    case COLOG_T_TIME:
        return Q_VT_TIME;
    case COLOG_T_IP:
        return Q_VT_IP;
    case COLOG_T_F64:
        return Q_VT_FLOAT;
    case COLOG_T_STRING:
        return Q_VT_STR;
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
    case COLOG_T_I64:
        break;
    }
    return Q_VT_INT;
}

static void check_span(const ctx_t *c, uint32_t pos, uint32_t len, const char *what)
{
    CHECK(pos <= c->tlen && len <= c->tlen - pos, "%s at %u+%u, text of %zu bytes", what, pos, len,
          c->tlen);
}

static bool lit_fits(colog_q_vt_t vt, colog_q_litk_t k, bool in_list)
{
    switch (vt) {
    case Q_VT_INT:
        return k == Q_LIT_INT;
    case Q_VT_FLOAT:
        return k == Q_LIT_FLOAT;
    case Q_VT_STR:
        return k == Q_LIT_STR;
    case Q_VT_IP:
        return k == Q_LIT_IP || (in_list && k == Q_LIT_CIDR);
    case Q_VT_TIME:
        return k == Q_LIT_TIME;
    case Q_VT_DAY:
        return k == Q_LIT_DAY;
    }
    return false;
}

/* The integer range an operand takes before stats: lo..hi as int128. */
static bool int_range(const ctx_t *c, const colog_q_operand_t *o, __int128 *lo, __int128 *hi)
{
    if (o->kind == Q_OPD_HOUR) {
        *lo = 0, *hi = 23;
        return true;
    }
    if (o->kind == Q_OPD_DOW) {
        *lo = 1, *hi = 7;
        return true;
    }
    colog_type_t t = c->sc->cols[o->col].type;
    if (colog_type_is_unsigned(t)) {
        *lo = 0, *hi = colog_type_umax(t);
        return true;
    }
    if (t == COLOG_T_I64) {
        *lo = INT64_MIN, *hi = INT64_MAX;
        return true;
    }
    return false;
}

static __int128 lit_int(const colog_q_lit_t *l)
{
    return l->neg ? -(__int128)l->mag : (__int128)l->mag;
}

static void check_lit(const ctx_t *c, const colog_q_operand_t *o, const colog_q_lit_t *l,
                      bool in_list, bool scan)
{
    check_span(c, l->pos, l->len, "literal");
    CHECK(lit_fits(o->vt, l->kind, in_list), "literal kind %d for operand domain %d", (int)l->kind,
          (int)o->vt);
    if (l->kind == Q_LIT_STR) {
        CHECK(l->slen == 0 || l->s != NULL, "string literal without bytes");
        volatile unsigned sum = 0; /* touch every byte (ASan) */
        for (uint32_t i = 0; i < l->slen; i++)
            sum += (unsigned char)l->s[i];
        (void)sum;
    }
    if (l->kind == Q_LIT_CIDR) {
        CHECK(l->prefix <= 128, "CIDR prefix %u", l->prefix);
        for (unsigned bit = l->prefix; bit < 128; bit++)
            CHECK(!((l->ip.b[bit / 8] >> (7 - bit % 8)) & 1), "CIDR host bit %u set", bit);
    }
    if (l->kind == Q_LIT_IP)
        CHECK(l->prefix == 128, "ip literal with prefix %u", l->prefix);
    __int128 lo, hi;
    if (scan && l->kind == Q_LIT_INT && o->vt == Q_VT_INT && int_range(c, o, &lo, &hi))
        CHECK(lit_int(l) >= lo && lit_int(l) <= hi, "integer literal out of its operand's range");
}

static void check_operand(const ctx_t *c, const colog_q_operand_t *o, bool scan)
{
    check_span(c, o->pos, o->len, "operand");
    uint32_t nout = colog_q_noutputs(c->q);
    switch (o->kind) {
    case Q_OPD_COL:
        if (scan) {
            CHECK(o->col >= 0 && (unsigned)o->col < c->sc->ncols, "operand column %d", o->col);
            CHECK(o->vt == col_vt(c->sc->cols[o->col].type), "operand domain %d for column %d",
                  (int)o->vt, o->col);
        } else {
            CHECK(o->col >= 0 && (unsigned)o->col < nout, "operand output %d of %u", o->col, nout);
            colog_q_vt_t vt = (unsigned)o->col < c->q->nkeys
                                  ? c->q->keys[o->col].vt
                                  : c->q->aggs[o->col - (int)c->q->nkeys].vt;
            CHECK(o->vt == vt, "operand domain %d for output %d of domain %d", (int)o->vt, o->col,
                  (int)vt);
        }
        break;
    case Q_OPD_HOUR:
    case Q_OPD_DOW:
    case Q_OPD_DAY:
        CHECK(o->col == 0, "time function on column %d", o->col);
        CHECK(o->vt == (o->kind == Q_OPD_DAY ? Q_VT_DAY : Q_VT_INT), "time function domain %d",
              (int)o->vt);
        break;
    default:
        CHECK(0, "operand kind %d", (int)o->kind);
    }
}

/* Returns the depth of e. */
static unsigned check_expr(const ctx_t *c, const colog_q_expr_t *e, bool scan, unsigned depth)
{
    CHECK(e != NULL, "NULL expression");
    CHECK(depth <= COLOG_Q_MAX_DEPTH + 1, "expression deeper than %u", depth);
    switch (e->kind) {
    case Q_EX_AND:
    case Q_EX_OR: {
        unsigned a = check_expr(c, e->a, scan, depth + 1);
        unsigned b = check_expr(c, e->b, scan, depth + 1);
        return a > b ? a : b;
    }
    case Q_EX_NOT:
        return check_expr(c, e->a, scan, depth + 1);
    case Q_EX_CMP:
    case Q_EX_IN:
    case Q_EX_BETWEEN:
    case Q_EX_CONTAINS:
    case Q_EX_STARTS:
    case Q_EX_ENDS:
        break;
    default:
        CHECK(0, "expression kind %d", (int)e->kind);
    }
    check_span(c, e->pos, e->len, "test");
    check_operand(c, &e->opd, scan);
    uint32_t want = e->kind == Q_EX_BETWEEN ? 2 : e->kind == Q_EX_IN ? 0 : 1;
    if (want)
        CHECK(e->nlits == want, "%u literals, want %u", e->nlits, want);
    else
        CHECK(e->nlits >= 1, "empty in list");
    CHECK(e->lits != NULL, "no literals");
    if (e->kind == Q_EX_CMP)
        CHECK(e->cmp >= Q_EQ && e->cmp <= Q_GE, "comparison %d", (int)e->cmp);
    if (e->kind == Q_EX_CONTAINS || e->kind == Q_EX_STARTS || e->kind == Q_EX_ENDS)
        CHECK(e->opd.vt == Q_VT_STR, "string test on domain %d", (int)e->opd.vt);
    for (uint32_t i = 0; i < e->nlits; i++)
        check_lit(c, &e->opd, &e->lits[i], e->kind == Q_EX_IN, scan);
    if (e->kind == Q_EX_BETWEEN && e->lits[0].kind == Q_LIT_INT)
        CHECK(lit_int(&e->lits[0]) <= lit_int(&e->lits[1]), "between ends out of order");
    return depth;
}

static void check_names(const colog_query_t *q)
{
    const char *names[COLOG_Q_MAX_KEYS + COLOG_Q_MAX_AGGS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < q->nkeys; i++)
        names[n++] = q->keys[i].name;
    for (uint32_t i = 0; i < q->naggs; i++)
        names[n++] = q->aggs[i].name;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strnlen(names[i], COLOG_NAME_MAX + 8);
        CHECK(len > 0 && len < COLOG_NAME_MAX + 8, "output %u: bad name", i);
        for (uint32_t j = 0; j < i; j++)
            CHECK(strcmp(names[i], names[j]) != 0, "outputs %u and %u both named %s", j, i,
                  names[i]);
    }
}

static void check_query(const colog_schema_t *sc, const colog_query_t *q, size_t tlen)
{
    ctx_t c = {.sc = sc, .q = q, .tlen = tlen};
    CHECK(q->schema == sc, "schema not kept");
    CHECK(q->t_lo < q->t_hi, "empty time range");
    if (q->scan_where)
        check_expr(&c, q->scan_where, true, 1);
    CHECK(q->nkeys <= COLOG_Q_MAX_KEYS && q->naggs <= COLOG_Q_MAX_AGGS, "%u keys, %u aggs",
          q->nkeys, q->naggs);
    if (q->has_stats) {
        CHECK(q->naggs + q->nkeys >= 1, "stats without outputs");
        CHECK(q->nfields == 0, "fields with stats");
    } else {
        CHECK(q->nkeys == 0 && q->naggs == 0, "keys or aggregates without stats");
        CHECK(q->nfields >= 1 && q->nfields <= sc->ncols, "%u fields", q->nfields);
    }
    for (uint32_t i = 0; i < q->nfields; i++)
        CHECK(q->fields[i] >= 0 && (unsigned)q->fields[i] < sc->ncols, "field %d", q->fields[i]);
    for (uint32_t i = 0; i < q->nkeys; i++) {
        const colog_q_key_t *k = &q->keys[i];
        CHECK(k->col >= 0 && (unsigned)k->col < sc->ncols, "key column %d", k->col);
        if (k->kind == Q_KEY_COL)
            CHECK(k->vt == col_vt(sc->cols[k->col].type), "key %u domain", i);
        else
            CHECK(k->col == 0, "time key on column %d", k->col);
        if (k->kind == Q_KEY_BIN)
            CHECK(k->bin_us > 0, "bin width %lld", (long long)k->bin_us);
    }
    for (uint32_t i = 0; i < q->naggs; i++) {
        const colog_q_agg_t *a = &q->aggs[i];
        if (a->kind == Q_AGG_COUNT)
            CHECK(a->col == -1, "count() of column %d", a->col);
        else
            CHECK(a->col >= 0 && (unsigned)a->col < sc->ncols, "aggregate column %d", a->col);
    }
    check_names(q);
    uint32_t nout = q->has_stats ? colog_q_noutputs(q) : sc->ncols;
    for (uint32_t i = 0; i < q->nstages; i++) {
        const colog_q_stage_t *s = &q->stages[i];
        check_span(&c, s->pos, s->len, "stage");
        switch (s->kind) {
        case Q_ST_WHERE:
            CHECK(q->has_stats, "a where stage in a raw query");
            check_expr(&c, s->where, false, 1);
            break;
        case Q_ST_TOP:
        case Q_ST_BOTTOM:
            CHECK(s->n >= 1, "top/bottom 0");
            CHECK(s->by >= 0 && (unsigned)s->by < nout, "top/bottom by %d of %u", s->by, nout);
            break;
        case Q_ST_SORT:
            CHECK(s->nsort >= 1 && s->nsort <= COLOG_Q_MAX_KEYS, "%u sort keys", s->nsort);
            for (uint32_t k = 0; k < s->nsort; k++)
                CHECK(s->sort[k].col >= 0 && (unsigned)s->sort[k].col < nout, "sort by %d of %u",
                      s->sort[k].col, nout);
            break;
        case Q_ST_LIMIT:
            break;
        default:
            CHECK(0, "stage kind %d", (int)s->kind);
        }
    }
}

static void parse_one(const char *text, size_t tlen, const colog_schema_t *sc)
{
    colog_query_t *q = NULL;
    colog_qerr_t err;
    memset(&err, 0x5a, sizeof err);
    int rc = colog_query_parse(text, sc, g_tz, NOW_US, &q, &err);
    if (rc < 0) {
        CHECK(rc == COLOG_EQUERY || rc == COLOG_ENOMEM, "unexpected error %s: %s",
              colog_errname(rc), colog_errmsg());
        CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL, "message not NUL-terminated");
        CHECK(err.msg[0] != '\0', "error without a message");
        CHECK(err.pos <= tlen, "error at %u, text of %zu bytes: %s", err.pos, tlen, err.msg);
        colog_qerr_print(g_null, text, &err);
        return;
    }
    CHECK(q != NULL, "success without a query");
    check_query(sc, q, tlen);
    colog_query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    size_t tlen = strlen(text);
    parse_one(text, tlen, colog_schema_builtin("firewall"));
    parse_one(text, tlen, &g_all);
    free(text);
    return 0;
}
