/*
 * test_parse.c — Criterion suite for query/colog_parse.c.
 *
 * Every example of the product spec parses into the expected AST (checked field
 * by field and through a canonical dump); precedence; every error class with
 * the exact (pos, len) worked out by hand; the error printer; allocation
 * failures; and a fixed-seed robustness run over random and truncated queries.
 * Schemas are built by hand here (the firewall schema of the CLI spec).
 */
#include "colog_ast.h"
#include "colog_lex.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NOW_US 1772366400000000LL /* 2026-03-01T12:00:00Z */
#define DAY_US 86400000000LL
#define T_2026_03_01 1772323200000000LL
#define T_2026_03_08 1772928000000000LL

/* Firewall column indexes (CLI.md). */
enum {
    C_TS,
    C_DEVICE,
    C_SRC_IP,
    C_SRC_PORT,
    C_DST_IP,
    C_DST_PORT,
    C_PROTO,
    C_ACTION,
    C_POLICY,
    C_SRC_ZONE,
    C_DST_ZONE,
    C_USER,
    C_BYTES_OUT,
    C_BYTES_IN,
    C_DURATION,
};

static colog_schema_t fw, misc;
static colog_tz_t *utc, *tokyo;

static void add_col(colog_schema_t *s, const char *name, colog_type_t t, bool indexed)
{
    colog_column_t *c = &s->cols[s->ncols++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type = t;
    c->indexed = indexed;
}

static void setup(void)
{
    memset(&fw, 0, sizeof fw);
    snprintf(fw.name, sizeof fw.name, "firewall");
    add_col(&fw, "ts", COLOG_T_TIME, false);
    add_col(&fw, "device", COLOG_T_STRING, false);
    add_col(&fw, "src_ip", COLOG_T_IP, true);
    add_col(&fw, "src_port", COLOG_T_U16, true);
    add_col(&fw, "dst_ip", COLOG_T_IP, true);
    add_col(&fw, "dst_port", COLOG_T_U16, true);
    add_col(&fw, "proto", COLOG_T_STRING, false);
    add_col(&fw, "action", COLOG_T_STRING, false);
    add_col(&fw, "policy", COLOG_T_U32, false);
    add_col(&fw, "src_zone", COLOG_T_STRING, false);
    add_col(&fw, "dst_zone", COLOG_T_STRING, false);
    add_col(&fw, "user", COLOG_T_STRING, true);
    add_col(&fw, "bytes_out", COLOG_T_U64, false);
    add_col(&fw, "bytes_in", COLOG_T_U64, false);
    add_col(&fw, "duration", COLOG_T_U32, false);

    /* other types, and columns named like keywords */
    memset(&misc, 0, sizeof misc);
    snprintf(misc.name, sizeof misc.name, "misc");
    add_col(&misc, "at", COLOG_T_TIME, false);
    add_col(&misc, "score", COLOG_T_F64, false);
    add_col(&misc, "delta", COLOG_T_I64, false);
    add_col(&misc, "tiny", COLOG_T_U8, false);
    add_col(&misc, "day", COLOG_T_STRING, false);
    add_col(&misc, "seen", COLOG_T_TIME, false);

    cr_assert_eq(colog_tz_open("UTC", &utc), 0);
    cr_assert_eq(colog_tz_open("Asia/Tokyo", &tokyo), 0);
    colog__qalloc_fail_after = -1;
}

static void teardown(void)
{
    colog_tz_free(utc);
    colog_tz_free(tokyo);
}

TestSuite(parse, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- helpers */

static colog_query_t *parse_in(const char *text, const colog_schema_t *s, colog_tz_t *tz)
{
    colog_query_t *q = NULL;
    colog_qerr_t err;
    int rc = colog_query_parse(text, s, tz, NOW_US, &q, &err);
    cr_assert_eq(rc, 0, "'%s': rc %d: %s (pos %u len %u)", text, rc, err.msg, err.pos, err.len);
    cr_assert_not_null(q);
    return q;
}

static colog_query_t *parse_ok(const char *text)
{
    return parse_in(text, &fw, utc);
}

typedef struct sb {
    char b[16384];
    size_t n;
} sb_t;

static void sbf(sb_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbf(sb_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->b + s->n, sizeof s->b - s->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        s->n += (size_t)k < sizeof s->b - s->n ? (size_t)k : sizeof s->b - s->n - 1;
}

static const char *out_name(const colog_query_t *q, int i)
{
    return (uint32_t)i < q->nkeys ? q->keys[i].name : q->aggs[i - (int)q->nkeys].name;
}

static void dump_lit(sb_t *s, const colog_q_lit_t *l)
{
    char buf[64];
    switch (l->kind) {
    case Q_LIT_INT:
        sbf(s, "%s%llu", l->neg ? "-" : "", (unsigned long long)l->mag);
        break;
    case Q_LIT_FLOAT:
        sbf(s, "%gf", l->f);
        break;
    case Q_LIT_STR:
        sbf(s, "\"%.*s\"", (int)l->slen, l->s);
        break;
    case Q_LIT_IP:
        colog_ip_format(&l->ip, buf, sizeof buf);
        sbf(s, "%s", buf);
        break;
    case Q_LIT_CIDR:
        colog_ip_format(&l->ip, buf, sizeof buf);
        sbf(s, "%s/%u", buf, l->prefix);
        break;
    case Q_LIT_TIME:
        colog_time_format(l->t_us, 0, buf, sizeof buf);
        sbf(s, "t:%s", buf);
        break;
    case Q_LIT_DAY:
        colog_day_format(l->day, buf, sizeof buf);
        sbf(s, "d:%s", buf);
        break;
    }
}

static void dump_expr(sb_t *s, const colog_query_t *q, const colog_q_expr_t *e, bool outputs)
{
    static const char *const cmps[] = {"", "=", "!=", "<", "<=", ">", ">="};
    switch (e->kind) {
    case Q_EX_AND:
    case Q_EX_OR:
        sbf(s, "(%s ", e->kind == Q_EX_AND ? "and" : "or");
        dump_expr(s, q, e->a, outputs);
        sbf(s, " ");
        dump_expr(s, q, e->b, outputs);
        sbf(s, ")");
        return;
    case Q_EX_NOT:
        sbf(s, "(not ");
        dump_expr(s, q, e->a, outputs);
        sbf(s, ")");
        return;
    case Q_EX_CMP:
        sbf(s, "(%s ", cmps[e->cmp]);
        break;
    case Q_EX_IN:
        sbf(s, "(in ");
        break;
    case Q_EX_BETWEEN:
        sbf(s, "(between ");
        break;
    case Q_EX_CONTAINS:
        sbf(s, "(contains ");
        break;
    case Q_EX_STARTS:
        sbf(s, "(startswith ");
        break;
    case Q_EX_ENDS:
        sbf(s, "(endswith ");
        break;
    }
    switch (e->opd.kind) {
    case Q_OPD_COL:
        sbf(s, "%s", outputs ? out_name(q, e->opd.col) : q->schema->cols[e->opd.col].name);
        break;
    case Q_OPD_HOUR:
        sbf(s, "hour(ts)");
        break;
    case Q_OPD_DOW:
        sbf(s, "dow(ts)");
        break;
    case Q_OPD_DAY:
        sbf(s, "day(ts)");
        break;
    }
    for (uint32_t i = 0; i < e->nlits; i++) {
        sbf(s, " ");
        dump_lit(s, &e->lits[i]);
    }
    sbf(s, ")");
}

/* A canonical one-line text of the whole AST. */
static const char *dump(const colog_query_t *q)
{
    static sb_t s;
    static const char *const aggn[] = {"", "count", "sum", "min", "max", "avg", "dcount"};
    s.n = 0;
    s.b[0] = 0;
    if (q->t_lo != INT64_MIN || q->t_hi != INT64_MAX)
        sbf(&s, "range [%lld, %lld) | ", (long long)q->t_lo, (long long)q->t_hi);
    if (q->scan_where != NULL) {
        sbf(&s, "where ");
        dump_expr(&s, q, q->scan_where, false);
        sbf(&s, " | ");
    }
    if (q->has_stats) {
        sbf(&s, "stats ");
        for (uint32_t i = 0; i < q->naggs; i++) {
            const colog_q_agg_t *a = &q->aggs[i];
            sbf(&s, "%s%s(%s) as %s", i ? ", " : "", aggn[a->kind],
                a->col >= 0 ? q->schema->cols[a->col].name : "", a->name);
        }
        for (uint32_t i = 0; i < q->nkeys; i++) {
            const colog_q_key_t *k = &q->keys[i];
            sbf(&s, "%s", i ? ", " : " by ");
            switch (k->kind) {
            case Q_KEY_COL:
                sbf(&s, "%s", q->schema->cols[k->col].name);
                break;
            case Q_KEY_HOUR:
                sbf(&s, "hour(ts)");
                break;
            case Q_KEY_DOW:
                sbf(&s, "dow(ts)");
                break;
            case Q_KEY_DAY:
                sbf(&s, "day(ts)");
                break;
            case Q_KEY_BIN:
                sbf(&s, "bin(ts, %llds)", (long long)(k->bin_us / 1000000));
                break;
            }
            sbf(&s, " as %s", k->name);
        }
        sbf(&s, " | ");
    } else {
        bool all = q->nfields == q->schema->ncols;
        for (uint32_t i = 0; all && i < q->nfields; i++)
            all = q->fields[i] == (int)i;
        sbf(&s, "fields ");
        if (all)
            sbf(&s, "*");
        for (uint32_t i = 0; !all && i < q->nfields; i++)
            sbf(&s, "%s%s", i ? ", " : "", q->schema->cols[q->fields[i]].name);
        sbf(&s, " | ");
    }
    for (uint32_t i = 0; i < q->nstages; i++) {
        const colog_q_stage_t *st = &q->stages[i];
#define NAME(c) (q->has_stats ? out_name(q, (c)) : q->schema->cols[(c)].name)
        switch (st->kind) {
        case Q_ST_WHERE:
            sbf(&s, "where ");
            dump_expr(&s, q, st->where, true);
            break;
        case Q_ST_TOP:
        case Q_ST_BOTTOM:
            sbf(&s, "%s %llu by %s", st->kind == Q_ST_TOP ? "top" : "bottom",
                (unsigned long long)st->n, NAME(st->by));
            break;
        case Q_ST_SORT:
            sbf(&s, "sort");
            for (uint32_t k = 0; k < st->nsort; k++)
                sbf(&s, "%s %s %s", k ? "," : "", NAME(st->sort[k].col),
                    st->sort[k].desc ? "desc" : "asc");
            break;
        case Q_ST_LIMIT:
            sbf(&s, "limit %llu", (unsigned long long)st->n);
            break;
        }
#undef NAME
        sbf(&s, " | ");
    }
    if (s.n >= 3)
        s.b[s.n - 3] = 0; /* drop the last " | " */
    return s.b;
}

static void expect_dump(const char *text, const char *want)
{
    colog_query_t *q = parse_ok(text);
    cr_expect_str_eq(dump(q), want, "query: %s", text);
    colog_query_free(q);
}

/* ---------------------------------------------------------------- examples */

Test(parse, example_shape_mass_smtp_with_range)
{
    const char *text = "range 2026-03-01 .. 2026-03-08 | where dst_port = 25 and proto = \"tcp\" | "
                       "stats dcount(dst_ip) by src_ip | top 10";
    colog_query_t *q = parse_ok(text);
    cr_expect_eq(q->t_lo, T_2026_03_01);
    cr_expect_eq(q->t_hi, T_2026_03_08);
    cr_expect_eq(q->schema, &fw);
    cr_expect_eq(q->tz, utc);

    const colog_q_expr_t *w = q->scan_where;
    cr_assert_not_null(w);
    cr_expect_eq(w->kind, Q_EX_AND);
    cr_assert_eq(w->a->kind, Q_EX_CMP);
    cr_expect_eq(w->a->cmp, Q_EQ);
    cr_expect_eq(w->a->opd.kind, Q_OPD_COL);
    cr_expect_eq(w->a->opd.col, C_DST_PORT);
    cr_expect_eq(w->a->opd.vt, Q_VT_INT);
    cr_expect_eq(w->a->opd.pos, 39);
    cr_expect_eq(w->a->opd.len, 8);
    cr_assert_eq(w->a->nlits, 1);
    cr_expect_eq(w->a->lits[0].kind, Q_LIT_INT);
    cr_expect_eq(w->a->lits[0].mag, 25);
    cr_expect(!w->a->lits[0].neg);
    cr_expect_eq(w->a->lits[0].pos, 50);
    cr_expect_eq(w->a->lits[0].len, 2);
    cr_expect_eq(w->a->pos, 39);
    cr_expect_eq(w->a->len, 13);
    cr_assert_eq(w->b->kind, Q_EX_CMP);
    cr_expect_eq(w->b->opd.col, C_PROTO);
    cr_expect_eq(w->b->opd.vt, Q_VT_STR);
    cr_expect_eq(w->b->lits[0].kind, Q_LIT_STR);
    cr_expect_eq(w->b->lits[0].slen, 3);
    cr_expect(memcmp(w->b->lits[0].s, "tcp", 3) == 0);
    cr_expect_eq(w->pos, 39);
    cr_expect_eq(w->len, 31);

    cr_expect(q->has_stats);
    cr_assert_eq(q->naggs, 1);
    cr_expect_eq(q->aggs[0].kind, Q_AGG_DCOUNT);
    cr_expect_eq(q->aggs[0].col, C_DST_IP);
    cr_expect_eq(q->aggs[0].vt, Q_VT_INT);
    cr_expect_str_eq(q->aggs[0].name, "dcount_dst_ip");
    cr_assert_eq(q->nkeys, 1);
    cr_expect_eq(q->keys[0].kind, Q_KEY_COL);
    cr_expect_eq(q->keys[0].col, C_SRC_IP);
    cr_expect_eq(q->keys[0].vt, Q_VT_IP);
    cr_expect_str_eq(q->keys[0].name, "src_ip");
    cr_expect_eq(colog_q_noutputs(q), 2);
    cr_expect_eq(q->nfields, 0);

    cr_assert_eq(q->nstages, 1);
    cr_expect_eq(q->stages[0].kind, Q_ST_TOP);
    cr_expect_eq(q->stages[0].n, 10);
    cr_expect_eq(q->stages[0].by, 1, "the first aggregate, after the one key");
    cr_expect_eq(q->stages[0].pos, 106);
    cr_expect_eq(q->stages[0].len, 6);
    cr_expect_str_eq(dump(q), "range [1772323200000000, 1772928000000000) | where (and (= "
                              "dst_port 25) (= proto \"tcp\")) | stats dcount(dst_ip) as "
                              "dcount_dst_ip by src_ip as src_ip | top 10 by dcount_dst_ip");
    colog_query_free(q);
}

Test(parse, example_port_ranking)
{
    colog_query_t *q = parse_ok("stats count() by dst_port | top 10");
    cr_expect_null(q->scan_where);
    cr_expect_eq(q->aggs[0].kind, Q_AGG_COUNT);
    cr_expect_eq(q->aggs[0].col, -1);
    cr_expect_eq(q->aggs[0].vt, Q_VT_INT);
    cr_expect_str_eq(q->aggs[0].name, "count");
    cr_expect_eq(q->keys[0].col, C_DST_PORT);
    cr_expect_eq(q->keys[0].vt, Q_VT_INT);
    cr_expect_eq(q->stages[0].kind, Q_ST_TOP);
    cr_expect_eq(q->stages[0].by, 1);
    cr_expect_eq(q->t_lo, INT64_MIN);
    cr_expect_eq(q->t_hi, INT64_MAX);
    colog_query_free(q);
}

Test(parse, example_rare_sites)
{
    colog_query_t *q = parse_ok("stats count() by dst_ip | bottom 10");
    cr_expect_eq(q->stages[0].kind, Q_ST_BOTTOM);
    cr_expect_eq(q->stages[0].n, 10);
    cr_expect_eq(q->stages[0].by, 1);
    cr_expect_eq(q->keys[0].col, C_DST_IP);
    colog_query_free(q);
}

Test(parse, example_mass_smtp)
{
    expect_dump("where dst_port = 25 and proto = \"tcp\" | stats dcount(dst_ip) by src_ip | top 10",
                "where (and (= dst_port 25) (= proto \"tcp\")) | stats dcount(dst_ip) as "
                "dcount_dst_ip by src_ip as src_ip | top 10 by dcount_dst_ip");
}

Test(parse, example_port_scans)
{
    colog_query_t *q = parse_ok("stats dcount(dst_port) by src_ip, dst_ip | top 10");
    cr_expect_eq(q->nkeys, 2);
    cr_expect_eq(q->keys[0].col, C_SRC_IP);
    cr_expect_eq(q->keys[1].col, C_DST_IP);
    cr_expect_eq(q->aggs[0].kind, Q_AGG_DCOUNT);
    cr_expect_eq(q->aggs[0].col, C_DST_PORT);
    cr_expect_str_eq(q->aggs[0].name, "dcount_dst_port");
    cr_expect_eq(q->stages[0].by, 2);
    colog_query_free(q);
}

Test(parse, example_irc_bots)
{
    colog_query_t *q =
        parse_ok("where dst_port in (6667, 5555, 8080) | stats count() by src_ip, dst_ip");
    const colog_q_expr_t *w = q->scan_where;
    cr_assert_eq(w->kind, Q_EX_IN);
    cr_expect_eq(w->opd.col, C_DST_PORT);
    cr_assert_eq(w->nlits, 3);
    cr_expect_eq(w->lits[0].mag, 6667);
    cr_expect_eq(w->lits[1].mag, 5555);
    cr_expect_eq(w->lits[2].mag, 8080);
    cr_expect_eq(w->lits[2].kind, Q_LIT_INT);
    cr_expect_eq(q->nstages, 0);
    cr_expect_str_eq(dump(q), "where (in dst_port 6667 5555 8080) | stats count() as count by "
                              "src_ip as src_ip, dst_ip as dst_ip");
    colog_query_free(q);
}

Test(parse, example_long_http)
{
    expect_dump("where duration > 3600 and dst_port in (80, 443) | stats count() by src_ip",
                "where (and (> duration 3600) (in dst_port 80 443)) | stats count() as count by "
                "src_ip as src_ip");
}

Test(parse, example_night_http)
{
    colog_query_t *q = parse_ok(
        "where dst_port in (80, 443) and hour(ts) between 1 and 5 | stats count() by hour(ts)");
    const colog_q_expr_t *b = q->scan_where->b;
    cr_assert_eq(b->kind, Q_EX_BETWEEN);
    cr_expect_eq(b->opd.kind, Q_OPD_HOUR);
    cr_expect_eq(b->opd.col, 0);
    cr_expect_eq(b->opd.vt, Q_VT_INT);
    cr_expect_eq(b->lits[0].mag, 1);
    cr_expect_eq(b->lits[1].mag, 5);
    cr_expect_eq(q->keys[0].kind, Q_KEY_HOUR);
    cr_expect_eq(q->keys[0].col, 0);
    cr_expect_eq(q->keys[0].vt, Q_VT_INT);
    cr_expect_str_eq(q->keys[0].name, "hour");
    cr_expect_str_eq(dump(q), "where (and (in dst_port 80 443) (between hour(ts) 1 5)) | stats "
                              "count() as count by hour(ts) as hour");
    colog_query_free(q);
}

Test(parse, example_hidden_nat)
{
    expect_dump("where src_port >= 32768 | stats count() by src_ip | top 10",
                "where (>= src_port 32768) | stats count() as count by src_ip as src_ip | top 10 "
                "by count");
}

Test(parse, example_sum_by_user)
{
    colog_query_t *q = parse_ok("stats sum(bytes_out) by user | top 10");
    cr_expect_eq(q->aggs[0].kind, Q_AGG_SUM);
    cr_expect_eq(q->aggs[0].col, C_BYTES_OUT);
    cr_expect_eq(q->aggs[0].vt, Q_VT_INT);
    cr_expect_str_eq(q->aggs[0].name, "sum_bytes_out");
    cr_expect_eq(q->keys[0].col, C_USER);
    cr_expect_eq(q->keys[0].vt, Q_VT_STR);
    colog_query_free(q);
}

Test(parse, example_one_ip)
{
    colog_query_t *q = parse_ok("where src_ip = 10.1.2.3 | stats count()");
    const colog_q_lit_t *l = &q->scan_where->lits[0];
    colog_ip_t want;
    colog_ip_parse("10.1.2.3", 8, &want);
    cr_expect_eq(q->scan_where->opd.vt, Q_VT_IP);
    cr_expect_eq(l->kind, Q_LIT_IP);
    cr_expect(memcmp(&l->ip, &want, sizeof want) == 0);
    cr_expect_eq(q->nkeys, 0);
    cr_expect_eq(q->naggs, 1);
    cr_expect_eq(colog_q_noutputs(q), 1);
    colog_query_free(q);
}

Test(parse, example_denied_internal)
{
    colog_query_t *q = parse_ok(
        "where dst_ip in 10.0.0.0/8 and action = \"deny\" | stats count() by dst_port | top 10");
    const colog_q_expr_t *in = q->scan_where->a;
    colog_ip_t want;
    colog_ip_parse("10.0.0.0", 8, &want);
    cr_assert_eq(in->kind, Q_EX_IN);
    cr_assert_eq(in->nlits, 1);
    cr_expect_eq(in->lits[0].kind, Q_LIT_CIDR);
    cr_expect_eq(in->lits[0].prefix, 104);
    cr_expect(memcmp(&in->lits[0].ip, &want, sizeof want) == 0);
    cr_expect_str_eq(dump(q), "where (and (in dst_ip 10.0.0.0/104) (= action \"deny\")) | stats "
                              "count() as count by dst_port as dst_port | top 10 by count");
    colog_query_free(q);
}

Test(parse, example_trend)
{
    colog_query_t *q = parse_ok("stats count() by bin(ts, 1h)");
    cr_expect_eq(q->keys[0].kind, Q_KEY_BIN);
    cr_expect_eq(q->keys[0].col, 0);
    cr_expect_eq(q->keys[0].bin_us, 3600000000LL);
    cr_expect_eq(q->keys[0].vt, Q_VT_TIME);
    cr_expect_str_eq(q->keys[0].name, "bin");
    colog_query_free(q);
}

Test(parse, example_weekly_pattern)
{
    colog_query_t *q = parse_ok("stats count() by dow(ts), hour(ts)");
    cr_expect_eq(q->keys[0].kind, Q_KEY_DOW);
    cr_expect_str_eq(q->keys[0].name, "dow");
    cr_expect_eq(q->keys[1].kind, Q_KEY_HOUR);
    cr_expect_str_eq(q->keys[1].name, "hour");
    cr_expect_eq(q->keys[0].vt, Q_VT_INT);
    colog_query_free(q);
}

/* ---------------------------------------------------------------- precedence */

Test(parse, precedence)
{
    /* a or b and not c -> OR(a, AND(b, NOT c)) */
    expect_dump("where dst_port = 1 or dst_port = 2 and not proto = \"udp\"",
                "where (or (= dst_port 1) (and (= dst_port 2) (not (= proto \"udp\")))) | fields "
                "*");
    expect_dump("where not dst_port = 1 and dst_port = 2",
                "where (and (not (= dst_port 1)) (= dst_port 2)) | fields *");
    expect_dump("where (dst_port = 1 or dst_port = 2) and proto = \"tcp\"",
                "where (and (or (= dst_port 1) (= dst_port 2)) (= proto \"tcp\")) | fields *");
    expect_dump("where not not dst_port = 1", "where (not (not (= dst_port 1))) | fields *");
    expect_dump("where not (dst_port = 1 or dst_port = 2)",
                "where (not (or (= dst_port 1) (= dst_port 2))) | fields *");
    /* chains are balanced */
    expect_dump("where dst_port = 1 or dst_port = 2 or dst_port = 3 or dst_port = 4",
                "where (or (or (= dst_port 1) (= dst_port 2)) (or (= dst_port 3) (= dst_port 4))) "
                "| fields *");
    /* between's `and` is its own */
    expect_dump("where dst_port between 1 and 5 and src_port = 2",
                "where (and (between dst_port 1 5) (= src_port 2)) | fields *");
}

/* ---------------------------------------------------------------- features */

Test(parse, operators_and_literals)
{
    expect_dump("where dst_port != 1 and dst_port < 2 and dst_port <= 3 and dst_port > 4 and "
                "dst_port >= 5",
                "where (and (and (!= dst_port 1) (< dst_port 2)) (and (<= dst_port 3) (and (> "
                "dst_port 4) (>= dst_port 5)))) | fields *");
    expect_dump("where src_ip not in (10.0.0.0/8, 192.168.1.1, 2001:db8::/32)",
                "where (not (in src_ip 10.0.0.0/104 192.168.1.1 2001:db8::/32)) | fields *");
    expect_dump("where src_ip in 10.1.2.3/8", "where (in src_ip 10.0.0.0/104) | fields *");
    expect_dump("where src_ip = fe80::1 or dst_ip = ::1 or src_ip > 10.0.0.1",
                "where (or (= src_ip fe80::1) (or (= dst_ip ::1) (> src_ip 10.0.0.1))) | fields "
                "*");
    expect_dump("where user contains \"adm\" and device startswith \"fw-\" and dst_zone endswith "
                "\"dmz\"",
                "where (and (contains user \"adm\") (and (startswith device \"fw-\") (endswith "
                "dst_zone \"dmz\"))) | fields *");
    expect_dump("where user = \"a\\\"b\\\\c\"", "where (= user \"a\"b\\c\") | fields *");
    expect_dump("where user = \"\"", "where (= user \"\") | fields *");
    expect_dump("where user between \"a\" and \"b\" and src_ip between 10.0.0.1 and 10.0.0.9",
                "where (and (between user \"a\" \"b\") (between src_ip 10.0.0.1 10.0.0.9)) | "
                "fields *");
    expect_dump("where dow(ts) in (6, 7) and day(ts) = 2026-03-02",
                "where (and (in dow(ts) 6 7) (= day(ts) d:2026-03-02)) | fields *");
    expect_dump("where ts >= 2026-03-01 and ts < 2026-03-01T12:30:00.5+01:00",
                "where (and (>= ts t:2026-03-01T00:00:00Z) (< ts t:2026-03-01T11:30:00.500000Z)) "
                "| fields *");
    expect_dump("where bytes_out = 18446744073709551615",
                "where (= bytes_out 18446744073709551615) | fields *");
}

Test(parse, other_types)
{
    colog_query_t *q = parse_in("where score > 1 and score < 2.5 and delta >= -9223372036854775808 "
                                "and tiny = 255 and day = \"mon\"",
                                &misc, utc);
    cr_expect_str_eq(dump(q), "where (and (and (> score 1f) (< score 2.5f)) (and (>= delta "
                              "-9223372036854775808) (and (= tiny 255) (= day \"mon\")))) | "
                              "fields *");
    /* an integer literal for a float operand becomes a float */
    const colog_q_lit_t *l = &q->scan_where->a->a->lits[0];
    cr_expect_eq(l->kind, Q_LIT_FLOAT);
    cr_expect_eq(l->f, 1.0);
    cr_expect_eq(q->scan_where->a->a->opd.vt, Q_VT_FLOAT);
    colog_query_free(q);

    /* hour() etc. only on column 0 */
    q = parse_in("stats max(seen), min(delta), avg(tiny), sum(score) by day", &misc, utc);
    cr_expect_eq(q->aggs[0].vt, Q_VT_TIME);
    cr_expect_eq(q->aggs[1].vt, Q_VT_INT);
    cr_expect_eq(q->aggs[2].vt, Q_VT_FLOAT);
    cr_expect_eq(q->aggs[3].vt, Q_VT_FLOAT);
    cr_expect_str_eq(q->aggs[3].name, "sum_score");
    cr_expect_eq(q->keys[0].kind, Q_KEY_COL);
    cr_expect_eq(q->keys[0].col, 4);
    colog_query_free(q);
}

Test(parse, time_literals_use_the_query_zone)
{
    /* Tokyo is +09:00: local midnight 2026-03-01 is 2026-02-28T15:00Z */
    colog_query_t *q = parse_in("range 2026-03-01 .. 2026-03-01T12:00:00 | where ts >= 2026-03-01 "
                                "and ts < 2026-03-01T12:00:00Z and day(ts) = 2026-03-02",
                                &fw, tokyo);
    cr_expect_eq(q->t_lo, T_2026_03_01 - 9 * 3600 * 1000000LL);
    cr_expect_eq(q->t_hi, T_2026_03_01 + 3 * 3600 * 1000000LL);
    cr_expect_str_eq(dump(q), "range [1772290800000000, 1772334000000000) | where (and (>= ts "
                              "t:2026-02-28T15:00:00Z) (and (< ts t:2026-03-01T12:00:00Z) (= "
                              "day(ts) d:2026-03-02))) | fields *");
    cr_expect_eq(q->tz, tokyo);
    colog_query_free(q);
}

Test(parse, last)
{
    colog_query_t *q = parse_ok("last 7d | stats count()");
    cr_expect_eq(q->t_lo, NOW_US - 7 * DAY_US);
    cr_expect_eq(q->t_hi, INT64_MAX);
    colog_query_free(q);
    q = parse_ok("last 90s");
    cr_expect_eq(q->t_lo, NOW_US - 90000000LL);
    colog_query_free(q);
    q = parse_ok("last 30m where dst_port = 1"); /* the first stage may omit its '|' */
    cr_expect_eq(q->t_lo, NOW_US - 1800000000LL);
    cr_expect_not_null(q->scan_where);
    colog_query_free(q);
}

Test(parse, raw_queries)
{
    colog_query_t *q = parse_ok("");
    cr_expect(!q->has_stats);
    cr_expect_eq(q->nfields, fw.ncols, "all columns when fields is absent");
    for (unsigned i = 0; i < fw.ncols; i++)
        cr_expect_eq(q->fields[i], (int)i);
    cr_expect_null(q->scan_where);
    cr_expect_eq(q->nstages, 0);
    colog_query_free(q);

    q = parse_ok("where dst_port = 22 | fields ts, src_ip, user | sort src_ip desc, ts | limit 5");
    cr_expect_eq(q->nfields, 3);
    cr_expect_eq(q->fields[0], C_TS);
    cr_expect_eq(q->fields[1], C_SRC_IP);
    cr_expect_eq(q->fields[2], C_USER);
    cr_assert_eq(q->nstages, 2);
    cr_expect_eq(q->stages[0].kind, Q_ST_SORT);
    cr_expect_eq(q->stages[0].nsort, 2);
    cr_expect_eq(q->stages[0].sort[0].col, C_SRC_IP);
    cr_expect(q->stages[0].sort[0].desc);
    cr_expect_eq(q->stages[0].sort[1].col, C_TS);
    cr_expect(!q->stages[0].sort[1].desc);
    cr_expect_eq(q->stages[1].kind, Q_ST_LIMIT);
    cr_expect_eq(q->stages[1].n, 5);
    colog_query_free(q);

    /* extension: top/bottom N by COL on raw events */
    expect_dump("top 5 by bytes_out | bottom 2 by duration | limit 0",
                "fields * | top 5 by bytes_out | bottom 2 by duration | limit 0");
    /* several where stages AND together; `| ` may lead */
    expect_dump("| where dst_port = 1 | where src_port = 2 | where proto = \"tcp\"",
                "where (and (= dst_port 1) (and (= src_port 2) (= proto \"tcp\"))) | fields *");
    /* fields may come before a where on raw events */
    expect_dump("fields ts | where dst_port = 1", "where (= dst_port 1) | fields ts");
}

Test(parse, stages_after_stats_use_output_names)
{
    colog_query_t *q =
        parse_ok("where dst_port = 1 | stats count() as n, sum(bytes_in) by src_ip as ip, day(ts) "
                 "| where n > 10 and day = 2026-03-02 and ip in 10.0.0.0/8 | sort day desc, n | "
                 "top 3 by sum_bytes_in | bottom 1 | limit 1");
    cr_expect_str_eq(dump(q),
                     "where (= dst_port 1) | stats count() as n, sum(bytes_in) as sum_bytes_in by "
                     "src_ip as ip, day(ts) as day | where (and (> n 10) (and (= day "
                     "d:2026-03-02) (in ip 10.0.0.0/104))) | sort day desc, n asc | top 3 by "
                     "sum_bytes_in | bottom 1 by n | limit 1");
    /* outputs: ip 0, day 1, n 2, sum_bytes_in 3 */
    const colog_q_expr_t *w = q->stages[0].where;
    cr_expect_eq(w->a->opd.kind, Q_OPD_COL);
    cr_expect_eq(w->a->opd.col, 2);
    cr_expect_eq(w->a->opd.vt, Q_VT_INT);
    cr_expect_eq(w->b->a->opd.col, 1);
    cr_expect_eq(w->b->a->opd.vt, Q_VT_DAY);
    cr_expect_eq(w->b->a->lits[0].kind, Q_LIT_DAY);
    cr_expect_eq(w->b->a->lits[0].day, 20514);
    cr_expect_eq(q->stages[1].sort[0].col, 1);
    cr_expect_eq(q->stages[2].by, 3);
    cr_expect_eq(q->stages[3].by, 2);
    colog_query_free(q);

    /* the default names of time keys are keywords, usable as names */
    expect_dump("stats count() by hour(ts), dow(ts), bin(ts, 15m) | where hour >= 22 | sort dow, "
                "bin desc | top 5 by count",
                "stats count() as count by hour(ts) as hour, dow(ts) as dow, bin(ts, 900s) as bin "
                "| where (>= hour 22) | sort dow asc, bin desc | top 5 by count");
    /* bin output is a time; min(ts) too */
    expect_dump("stats min(ts), max(ts) by bin(ts, 1d) | where bin >= 2026-03-01 and min_ts < "
                "2026-03-02T00:00:00Z",
                "stats min(ts) as min_ts, max(ts) as max_ts by bin(ts, 86400s) as bin | where (and "
                "(>= bin t:2026-03-01T00:00:00Z) (< min_ts t:2026-03-02T00:00:00Z))");
    /* `as` lifts a duplicate */
    expect_dump("stats count(), count() as n2", "stats count() as count, count() as n2");
}

Test(parse, keyword_named_columns)
{
    /* a schema column called "day" is a name unless followed by '(' */
    colog_query_t *q = parse_in("where day = \"mon\" | stats count() by day", &misc, utc);
    cr_expect_eq(q->scan_where->opd.kind, Q_OPD_COL);
    cr_expect_eq(q->scan_where->opd.col, 4);
    cr_expect_eq(q->keys[0].kind, Q_KEY_COL);
    colog_query_free(q);
    q = parse_in("stats count() by day(at)", &misc, utc);
    cr_expect_eq(q->keys[0].kind, Q_KEY_DAY);
    colog_query_free(q);
}

/* ---------------------------------------------------------------- errors */

typedef struct err_case {
    const char *text;
    uint32_t pos, len;
    const char *msg;
} err_case_t;

static void expect_error(const colog_schema_t *s, const err_case_t *c)
{
    colog_query_t *q = (colog_query_t *)0x1;
    colog_qerr_t err;
    int rc = colog_query_parse(c->text, s, utc, NOW_US, &q, &err);
    cr_expect_eq(rc, COLOG_EQUERY, "'%s': rc %d", c->text, rc);
    cr_expect_eq(q, (colog_query_t *)0x1, "'%s': out written on failure", c->text);
    cr_expect_eq(err.pos, c->pos, "'%s': pos %u, want %u (%s)", c->text, err.pos, c->pos, err.msg);
    cr_expect_eq(err.len, c->len, "'%s': len %u, want %u (%s)", c->text, err.len, c->len, err.msg);
    if (c->msg != NULL)
        cr_expect_str_eq(err.msg, c->msg, "'%s'", c->text);
    cr_expect_str_eq(colog_errmsg(), err.msg);
}

#define FW_COLS                                                                                    \
    "ts, device, src_ip, src_port, dst_ip, dst_port, proto, action, policy, src_zone, dst_zone, "  \
    "user, bytes_out, bytes_in, duration"
#define COMPARISON                                                                                 \
    "a comparison (=, !=, <, <=, >, >=, in, not in, between, contains, startswith, endswith)"

static const err_case_t names_cases[] = {
    {"where dst_prt = 5", 6, 7, "unknown column 'dst_prt'; known columns: " FW_COLS},
    {"where hour = 3", 6, 4,
     "unknown column 'hour' (a time function needs its argument, e.g. hour(ts)); known columns: "
     "" FW_COLS},
    {"stats count() by dst_port | where src_ip = 10.0.0.1", 34, 6,
     "unknown column 'src_ip'; after stats the columns are: dst_port, count"},
    {"stats count() by src_ip | top 3 by nope", 35, 4,
     "unknown column 'nope'; after stats the columns are: src_ip, count"},
    {"sort count", 5, 5, "unknown column 'count'; known columns: " FW_COLS},
    {"stats count() by hour(ts) | where hour(ts) = 3", 34, 4,
     "after stats, name the output column: hour"},
    {"stats count() | where day(ts) = 2026-03-01", 22, 3,
     "after stats, where tests output columns, and day(ts) is not one of them"},
    {"where hour(src_ip) = 1", 11, 6, "hour() applies to the time column ts only"},
    {"stats count() by dow(dst_port)", 21, 8, "dow() applies to the time column ts only"},
    {"where 25 = dst_port", 6, 2,
     "expected a column name, found '25' (the column comes first: dst_port = 25)"},
    {"where bin(ts, 1h) = 5", 6, 3, "bin() is a stats key, not something to test"},
    {"fields ts, src_ip, ts", 19, 2, "column 'ts' is listed twice"},
};

Test(parse, errors_names)
{
    for (size_t i = 0; i < sizeof names_cases / sizeof names_cases[0]; i++)
        expect_error(&fw, &names_cases[i]);
}

static const err_case_t literal_cases[] = {
    {"where dst_port = \"x\"", 17, 3, "dst_port is u16; \"x\" is a string"},
    {"where dst_port = 70000", 17, 5, "dst_port is u16; 70000 is out of range (0..65535)"},
    {"where src_port > -1", 17, 2, "src_port is u16; -1 is out of range (0..65535)"},
    {"where hour(ts) = 24", 17, 2, "hour(ts) is an hour (0-23); 24 is out of range (0..23)"},
    {"where dow(ts) in (0, 1)", 18, 1,
     "dow(ts) is a weekday (1-7, Monday = 1); 0 is out of range (1..7)"},
    {"where dow(ts) = 8", 16, 1,
     "dow(ts) is a weekday (1-7, Monday = 1); 8 is out of range (1..7)"},
    {"where src_ip = 10.0.0.0/8", 15, 10, "a CIDR block is tested with in: src_ip in 10.0.0.0/8"},
    {"where dst_port in (10.0.0.0/8)", 19, 10, "dst_port is u16; 10.0.0.0/8 is a CIDR block"},
    {"where dst_port in 25", 18, 2, "expected '(' after in: dst_port in (25)"},
    {"where dst_port contains \"5\"", 6, 8,
     "dst_port is u16; contains applies to string columns only"},
    {"where user contains 5", 20, 1, "expected a \"double-quoted string\", found '5'"},
    {"where ts > 5", 11, 1, "ts is time; 5 is an integer"},
    {"where bytes_out > 1.5", 18, 3, "bytes_out is u64; 1.5 is a number"},
    {"where src_ip = 10.1.2", 15, 6,
     "'10.1.2': not a number, date, time, IP address, CIDR block or duration"},
    {"where proto = 5", 14, 1,
     "proto is string; 5 is an integer (strings are double-quoted: \"5\")"},
    {"where proto = tcp", 14, 3,
     "expected a value, found 'tcp'; strings are double-quoted: \"tcp\""},
    {"where dst_port = 1h", 17, 2, "dst_port is u16; 1h is a duration"},
    {"where ts = 2026-02-30", 11, 10, "'2026-02-30': not a valid date (YYYY-MM-DD)"},
    {"where day(ts) = 2026-03-01T00:00:00Z", 16, 20,
     "day(ts) is a date; 2026-03-01T00:00:00Z is a time"},
    {"stats count() by day(ts) | where day = 2026-03-02T00:00:00Z", 39, 20,
     "day is a date; 2026-03-02T00:00:00Z is a time"},
    {"stats count() | where count > -1", 30, 2,
     "count is an integer; -1 is out of range (0..18446744073709551615)"},
    {"where hour(ts) between 22 and 2", 23, 8, "empty range: 22 is greater than 2"},
    {"where src_ip between 10.0.0.2 and 10.0.0.1", 21, 21,
     "empty range: 10.0.0.2 is greater than 10.0.0.1"},
    {"where dst_port in ()", 18, 2, "empty list after in"},
    {"where dst_port == 25", 16, 1, "expected a value, found '='"},
    {"where dst_port between 1 or 5", 25, 2, "expected and in between LOW and HIGH, found 'or'"},
    {"where src_ip in (10.0.0.0/33)", 17, 11,
     "'10.0.0.0/33': not a valid CIDR block: an IPv4 prefix is 0..32"},
    {"where dst_port = 99999999999999999999", 17, 20,
     "'99999999999999999999': integer out of range"},
};

Test(parse, errors_literals)
{
    for (size_t i = 0; i < sizeof literal_cases / sizeof literal_cases[0]; i++)
        expect_error(&fw, &literal_cases[i]);
}

static const err_case_t shape_cases[] = {
    {"stats count() by bin(ts, 0h)", 25, 2,
     "bin width must be a duration > 0 (30s, 15m, 1h, 1d), not '0h'"},
    {"stats count() by bin(ts, 5)", 25, 1,
     "bin width must be a duration > 0 (30s, 15m, 1h, 1d), not '5'"},
    {"stats count() | top 0", 20, 1, "top needs a whole number >= 1, not '0'"},
    {"stats count() | bottom x", 23, 1, "expected a row count after bottom, found 'x'"},
    {"limit -1", 6, 2, "limit needs a whole number >= 0, not '-1'"},
    {"top 10", 0, 6, "top without stats needs a column: top N by COLUMN (or use stats first)"},
    {"stats count() | fields src_ip", 16, 6, "fields is only for queries without stats"},
    {"fields src_ip | stats count()", 0, 6, "fields is only for queries without stats"},
    {"fields ts | fields ts", 12, 6, "only one fields stage per query"},
    {"sort ts | where dst_port = 1", 10, 5,
     "where after sort: on raw events, put where before sort, limit, top and bottom"},
    {"top 1 by ts | limit 3 | where dst_port = 1", 24, 5,
     "where after top: on raw events, put where before sort, limit, top and bottom"},
    {"stats count() | stats count()", 16, 5, "only one stats per query"},
    {"limit 5 | stats count()", 10, 5,
     "stats after limit: put stats before sort, limit, top and bottom"},
    {"stats count(), count()", 15, 7, "duplicate output column 'count'; rename one with as"},
    {"stats count() as n, dcount(src_ip) as n", 38, 1,
     "duplicate output column 'n'; rename one with as"},
    {"stats count() by src_ip, src_ip", 25, 6,
     "duplicate output column 'src_ip'; rename one with as"},
    {"stats count() as src_ip by src_ip", 27, 6,
     "duplicate output column 'src_ip'; rename one with as"},
    {"stats count() as day", 17, 3, "'day' is a reserved word; pick another name"},
    {"stats count() as x2345678901234567890123456789012345678901234567890", 17, 50,
     "name too long (at most 47 characters)"},
    {"stats count(src_ip)", 12, 6, "count() takes no column (for distinct values use dcount(COL))"},
    {"stats sum(device)", 10, 6, "device is string; sum() needs a numeric column"},
    {"stats avg(src_ip)", 10, 6, "src_ip is ip; avg() needs a numeric column"},
    {"stats count", 11, 0, "expected '(', found end of query"},
    {"stats dst_port", 6, 8,
     "expected an aggregate (count(), sum(COL), min(COL), max(COL), avg(COL), dcount(COL)), "
     "found 'dst_port'"},
    {"stats count() by", 16, 0,
     "expected a column name or hour(ts), dow(ts), day(ts), bin(ts, DUR), found end of query"},
    {"sort ts, device, src_ip, src_port, dst_ip, dst_port, proto, action, policy", 68, 6,
     "too many sort keys (at most 8)"},
    {"stats count() by ts, device, src_ip, src_port, dst_ip, dst_port, proto, action, policy", 80,
     6, "too many group keys (at most 8)"},
    {"range 2026-03-08 .. 2026-03-01", 6, 24, "empty range: 2026-03-08 is not before 2026-03-01"},
    {"range 2026-03-01 .. 5", 20, 1,
     "expected a date or time (2026-03-01 or 2026-03-01T12:00:00Z), found an integer"},
    {"range 2026-03-01", 16, 0,
     "expected '..' between the two ends of the range, found end of query"},
    {"last 0d", 5, 2, "last needs a duration > 0 (30s, 15m, 24h, 7d), not '0d'"},
    {"last 7", 5, 1, "last needs a duration > 0 (30s, 15m, 24h, 7d), not '7'"},
    {"where dst_port = 1 | range 2026-03-01 .. 2026-03-02", 21, 5,
     "the time range (range or last) comes first, once, before any stage"},
    {"range 2026-03-01 .. 2026-03-02 | last 1d", 33, 4,
     "the time range (range or last) comes first, once, before any stage"},
    {"stats count() |", 15, 0,
     "expected a stage (where, stats, top, bottom, sort, limit, fields), found end of query"},
    {"stats count() top 10", 14, 3, "expected '|' or the end of the query, found 'top'"},
    {"WHERE dst_port = 1", 0, 5,
     "expected a stage, found 'WHERE' (keywords are lower case: where)"},
    {"where (dst_port = 1", 6, 1, "unclosed '('"},
    {"where (dst_port = 1 dst_port = 2)", 20, 8, "expected ')' or and/or, found 'dst_port'"},
    {"where dst_port", 14, 0, "expected " COMPARISON ", found end of query"},
    {"where dst_port not 5", 19, 1, "expected in after not (x not in (...)), found '5'"},
    {"where dst_port in (1, 2", 23, 0, "expected ',' or ')' in the list, found end of query"},
    {"where", 5, 0, "expected a column name, found end of query"},
};

Test(parse, errors_shape)
{
    for (size_t i = 0; i < sizeof shape_cases / sizeof shape_cases[0]; i++)
        expect_error(&fw, &shape_cases[i]);
}

static const err_case_t lex_cases[] = {
    {"where proto = \"tcp", 14, 4, "unterminated string: missing closing '\"'"},
    {"where proto = \"t\\cp\"", 16, 2,
     "bad escape '\\c' in string: only \\\" and \\\\ are allowed"},
    {"where dst_port = 25 ; x", 20, 1, "unexpected character ';'"},
    {"where proto = 'tcp'", 14, 1, "unexpected character ''': strings are \"double-quoted\""},
    /* the earlier error wins over a later lexical one */
    {"where nope = \"tcp", 6, 4, NULL},
};

Test(parse, errors_lexical)
{
    for (size_t i = 0; i < sizeof lex_cases / sizeof lex_cases[0]; i++)
        expect_error(&fw, &lex_cases[i]);
}

static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * (size_t)n + tl + 1);
    cr_assert_not_null(s);
    memcpy(s, head, hl);
    for (int i = 0; i < n; i++)
        memcpy(s + hl + ul * (size_t)i, unit, ul);
    memcpy(s + hl + ul * (size_t)n, tail, tl + 1);
    return s;
}

Test(parse, deep_nesting_is_capped)
{
    /* 256 parentheses are fine, the 257th is at 6 + 256 */
    char *ok = repeat("where ", "(", 256, "dst_port = 1");
    char *ok2 = repeat(ok, ")", 256, "");
    colog_query_t *q = parse_ok(ok2);
    colog_query_free(q);
    free(ok);
    free(ok2);

    char *bad = repeat("where ", "(", 100000, "dst_port = 1");
    err_case_t c = {bad, 262, 1, "expression too deeply nested (more than 256 levels)"};
    expect_error(&fw, &c);
    free(bad);

    bad = repeat("where ", "not ", 300, "dst_port = 1");
    c = (err_case_t){bad, 6 + 256 * 4, 3, "expression too deeply nested (more than 256 levels)"};
    expect_error(&fw, &c);
    free(bad);

    /* 255 nots over one test is a tree of 256 nodes: fine; 256 is one too many */
    ok = repeat("where ", "not ", 255, "dst_port = 1");
    q = parse_ok(ok);
    colog_query_free(q);
    free(ok);
    bad = repeat("where ", "not ", 256, "dst_port = 1");
    c = (err_case_t){bad, 6, 256 * 4 + 12, "expression too deeply nested (more than 256 levels)"};
    expect_error(&fw, &c);
    free(bad);
}

Test(parse, long_chains_are_balanced)
{
    /* 20000 tests in one `or` chain: a tree of depth 16, not 20000 */
    char *text = repeat("where dst_port = 0", " or dst_port = 1", 19999, " | stats count()");
    colog_query_t *q = parse_ok(text);
    const colog_q_expr_t *e = q->scan_where;
    int depth = 0;
    while (e->kind == Q_EX_OR) {
        e = e->a;
        depth++;
    }
    cr_expect_leq(depth, 15);
    colog_query_free(q);
    free(text);

    /* and 5000 where stages */
    text = repeat("where dst_port = 0", " | where dst_port = 1", 4999, "");
    q = parse_ok(text);
    colog_query_free(q);
    free(text);

    /* an in list of 50000 values */
    text = repeat("where dst_port in (0", ", 1", 49999, ")");
    q = parse_ok(text);
    cr_expect_eq(q->scan_where->nlits, 50000);
    colog_query_free(q);
    free(text);
}

Test(parse, too_long)
{
    char *text = repeat("where dst_port = 1", " ", COLOG_Q_MAX_TEXT, "");
    colog_query_t *q = (colog_query_t *)0x1;
    colog_qerr_t err;
    cr_expect_eq(colog_query_parse(text, &fw, utc, NOW_US, &q, &err), COLOG_EQUERY);
    cr_expect_eq(err.pos, 0);
    cr_expect_eq(q, (colog_query_t *)0x1);
    free(text);
}

Test(parse, bad_arguments)
{
    colog_query_t *q = NULL;
    colog_qerr_t err;
    colog_schema_t empty = {0};
    cr_expect_eq(colog_query_parse(NULL, &fw, utc, 0, &q, &err), COLOG_EINVAL);
    cr_expect_eq(colog_query_parse("", NULL, utc, 0, &q, &err), COLOG_EINVAL);
    cr_expect_eq(colog_query_parse("", &fw, utc, 0, NULL, &err), COLOG_EINVAL);
    cr_expect_eq(colog_query_parse("", &empty, utc, 0, &q, &err), COLOG_EINVAL);
    /* err may be NULL; tz may be NULL (UTC) */
    cr_expect_eq(colog_query_parse("where nope = 1", &fw, utc, 0, &q, NULL), COLOG_EQUERY);
    cr_expect_eq(colog_query_parse("range 2026-03-01 .. 2026-03-08", &fw, NULL, 0, &q, NULL), 0);
    cr_expect_eq(q->t_lo, T_2026_03_01);
    colog_query_free(q);
    colog_query_free(NULL);
}

/* ---------------------------------------------------------------- printing */

static char *print_err(const char *text, const colog_qerr_t *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    cr_assert_not_null(f);
    colog_qerr_print(f, text, err);
    fclose(f);
    return buf;
}

static char *parse_and_print(const char *text)
{
    colog_query_t *q = NULL;
    colog_qerr_t err;
    cr_assert_eq(colog_query_parse(text, &fw, utc, NOW_US, &q, &err), COLOG_EQUERY);
    return print_err(text, &err);
}

/* A long query's error shows a window around the error, carets aligned. */
Test(parse, long_query_error_shows_a_window)
{
    size_t cap = 64 * 1024, n = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    n += (size_t)snprintf(text + n, cap - n, "where dst_port in (");
    for (int i = 1; i <= 3000; i++)
        n += (size_t)snprintf(text + n, cap - n, "%d, ", i);
    size_t at = n;
    n += (size_t)snprintf(text + n, cap - n, "70000, ");
    for (int i = 1; i <= 1000; i++)
        n += (size_t)snprintf(text + n, cap - n, "%d, ", i);
    n += (size_t)snprintf(text + n, cap - n, "1) | stats count()");
    char *out = parse_and_print(text);
    char *l2 = strchr(out, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    size_t len2 = (size_t)(strchr(l2, '\n') - l2);
    cr_assert_lt(len2, 200, "a window, not the %zu-byte text: %zu bytes", n, len2);
    cr_assert_eq(strncmp(l2, "  ... ", 6), 0, "%s", out);
    cr_assert_eq(strncmp(l2 + len2 - 4, " ...", 4), 0, "%s", out);
    size_t caret = (size_t)(strchr(l3, '^') - l3);
    cr_assert_eq(strncmp(l2 + caret, "70000", 5), 0, "caret under %.5s: %s", l2 + caret, out);
    cr_assert_eq(strncmp(l3 + caret, "^^^^^\n", 6), 0, "%s", out);
    cr_assert_lt(at, n);
    free(out);
    /* the same error in a short text is shown whole, without ellipses */
    out = parse_and_print("where dst_port in (1, 70000)");
    cr_assert_str_eq(out, "colog: query error: dst_port is u16; 70000 is out of range (0..65535)\n"
                          "  where dst_port in (1, 70000)\n"
                          "                        ^^^^^\n");
    free(out);
    free(text);
}

Test(parse, error_printing)
{
    char *s = parse_and_print("where dst_port = \"x\"");
    cr_expect_str_eq(s, "colog: query error: dst_port is u16; \"x\" is a string\n"
                        "  where dst_port = \"x\"\n"
                        "                   ^^^\n");
    free(s);
    /* newlines and tabs print as spaces, so the caret stays under the token */
    s = parse_and_print("where\tdst_port = 1\n| stats count() by nope");
    cr_expect_str_eq(s, "colog: query error: unknown column 'nope'; known columns: " FW_COLS "\n"
                        "  where dst_port = 1 | stats count() by nope\n"
                        "                                        ^^^^\n");
    free(s);
    /* at the end of the text: one caret past it */
    s = parse_and_print("stats count() |");
    cr_expect_str_eq(s, "colog: query error: expected a stage (where, stats, top, bottom, sort, "
                        "limit, fields), found end of query\n"
                        "  stats count() |\n"
                        "                 ^\n");
    free(s);
    /* columns count characters: é is one */
    s = parse_and_print("where user = \"\xc3\xa9\" and nope = 1");
    cr_expect_str_eq(s, "colog: query error: unknown column 'nope'; known columns: " FW_COLS "\n"
                        "  where user = \"\xc3\xa9\" and nope = 1\n"
                        "                       ^^^^\n");
    free(s);
    /* a position past the end is clamped */
    colog_qerr_t e = {.pos = 100, .len = 5};
    snprintf(e.msg, sizeof e.msg, "x");
    s = print_err("ab", &e);
    cr_expect_str_eq(s, "colog: query error: x\n  ab\n    ^\n");
    free(s);
}

/* ---------------------------------------------------------------- robustness */

static const char *const corpus[] = {
    "range 2026-03-01 .. 2026-03-08 | where dst_port = 25 and proto = \"tcp\" | stats "
    "dcount(dst_ip) by src_ip | top 10",
    "stats count() by dst_port | top 10",
    "stats count() by dst_ip | bottom 10",
    "stats dcount(dst_port) by src_ip, dst_ip | top 10",
    "where dst_port in (6667, 5555, 8080) | stats count() by src_ip, dst_ip",
    "where duration > 3600 and dst_port in (80, 443) | stats count() by src_ip",
    "where dst_port in (80, 443) and hour(ts) between 1 and 5 | stats count() by hour(ts)",
    "where src_port >= 32768 | stats count() by src_ip | top 10",
    "stats sum(bytes_out) by user | top 10",
    "where src_ip = 10.1.2.3 | stats count()",
    "where dst_ip in 10.0.0.0/8 and action = \"deny\" | stats count() by dst_port | top 10",
    "stats count() by bin(ts, 1h)",
    "stats count() by dow(ts), hour(ts)",
    "last 7d | where not (src_ip not in (fe80::/10, ::1) or user contains \"a\\\"b\") | fields ts, "
    "user | sort ts desc | limit 5",
    "stats count() as n, avg(duration) by day(ts) | where n > 3 and day = 2026-03-02 | sort day",
};

static uint64_t rng = 0x2545F4914F6CDD1Dull; /* fixed seed */

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned long n_ok, n_err;

static void parse_any(const char *text)
{
    colog_query_t *q = NULL;
    colog_qerr_t err;
    int rc = colog_query_parse(text, &fw, tokyo, NOW_US, &q, &err);
    cr_assert(rc == 0 || rc == COLOG_EQUERY, "'%s': rc %d", text, rc);
    if (rc == 0) {
        n_ok++;
        colog_query_free(q);
        return;
    }
    n_err++;
    size_t n = strlen(text);
    cr_assert_leq(err.pos, n, "'%s': pos %u", text, err.pos);
    cr_assert_leq((size_t)err.pos + err.len, n, "'%s': pos %u len %u", text, err.pos, err.len);
    cr_assert_neq(err.msg[0], 0, "'%s': no message", text);
    FILE *f = fopen("/dev/null", "w");
    colog_qerr_print(f, text, &err);
    fclose(f);
}

Test(parse, robustness_truncations_and_mutations)
{
    static const char alphabet[] = "()|,.=!<>\"\\ -:/0123456789abcdefxyzTZ\t\n\x01\xc3\xff";
    static const char *const words[] = {
        "where ",     "stats ",   "by ",  "top ",        "bottom ",    "and ",
        "or ",        "not ",     "in ",  "between ",    "count()",    "dst_port",
        "src_ip",     "hour(ts)", "day",  "bin(ts, 1h)", "| ",         "(",
        ")",          ", ",       "25",   "-1",          "10.0.0.0/8", "\"x\"",
        "2026-03-01", "..",       "as n", "sort ",       "limit ",     "fields "};
    char buf[512];
    for (size_t c = 0; c < sizeof corpus / sizeof corpus[0]; c++) {
        const char *src = corpus[c];
        size_t n = strlen(src);
        /* every prefix and every suffix */
        for (size_t k = 0; k <= n; k++) {
            memcpy(buf, src, k);
            buf[k] = 0;
            parse_any(buf);
            parse_any(src + k);
        }
        /* random byte edits: replace, insert, delete */
        for (int it = 0; it < 2000; it++) {
            size_t len = n;
            memcpy(buf, src, n + 1);
            int edits = 1 + (int)(next_rand() % 4);
            for (int e = 0; e < edits && len > 0; e++) {
                size_t at = next_rand() % len;
                char ch = alphabet[next_rand() % (sizeof alphabet - 1)];
                switch (next_rand() % 3) {
                case 0:
                    buf[at] = ch;
                    break;
                case 1:
                    if (len + 1 < sizeof buf) {
                        memmove(buf + at + 1, buf + at, len - at + 1);
                        buf[at] = ch;
                        len++;
                    }
                    break;
                default:
                    memmove(buf + at, buf + at + 1, len - at);
                    len--;
                    break;
                }
            }
            parse_any(buf);
        }
    }
    /* token soup */
    for (int it = 0; it < 20000; it++) {
        size_t len = 0;
        int nw = (int)(next_rand() % 16);
        for (int w = 0; w < nw; w++) {
            const char *wd = words[next_rand() % (sizeof words / sizeof words[0])];
            size_t wl = strlen(wd);
            if (len + wl + 1 >= sizeof buf)
                break;
            memcpy(buf + len, wd, wl);
            len += wl;
        }
        buf[len] = 0;
        parse_any(buf);
    }
    /* both outcomes are exercised in bulk */
    cr_expect_gt(n_ok, 1000, "%lu parsed", n_ok);
    cr_expect_gt(n_err, 1000, "%lu rejected", n_err);
}

Test(parse, allocation_failures_do_not_leak)
{
    for (size_t c = 0; c < sizeof corpus / sizeof corpus[0]; c++) {
        int rc = -1;
        for (long k = 0; rc != 0 && k < 10000; k++) {
            colog_query_t *q = NULL;
            colog_qerr_t err;
            colog__qalloc_fail_after = k;
            rc = colog_query_parse(corpus[c], &fw, utc, NOW_US, &q, &err);
            if (rc == 0) {
                colog_query_free(q);
            } else {
                cr_assert_eq(rc, COLOG_ENOMEM, "'%s' k=%ld: rc %d (%s)", corpus[c], k, rc, err.msg);
                cr_assert_str_eq(err.msg, "out of memory");
            }
        }
        colog__qalloc_fail_after = -1;
        cr_expect_eq(rc, 0, "'%s' never parsed", corpus[c]);
    }
}

/* The printer takes what a caller may hand it: no stream, no error, no text, a
 * message without its NUL. */
Test(parse, qerr_print_validates_its_input)
{
    colog_qerr_t err = {.pos = 3, .len = 2};
    colog_qerr_print(NULL, "abc", &err);
    colog_qerr_print(stderr, "abc", NULL);
    memset(err.msg, 'm', sizeof err.msg); /* not terminated */
    char *out = print_err(NULL, &err);
    cr_assert_eq(strncmp(out, "colog: query error: mmm", 23), 0, "%s", out);
    cr_assert_eq(strlen(out),
                 strlen("colog: query error: ") + sizeof err.msg + strlen("\n  \n  ^\n"), "%s",
                 out);
    free(out);
}
