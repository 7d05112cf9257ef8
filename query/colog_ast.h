/*
 * colog_ast.h — This file is private to colog's query layer.
 *
 * The checked syntax tree produced by colog_parse.c and consumed by the planner
 * and executor (colog_exec.c). The parser resolves every name and checks every
 * literal against its operand's type, so the executor never meets an unknown
 * column or a literal of the wrong kind.
 *
 * Invariants the parser guarantees:
 *  1. Every Q_OPD_COL operand before `stats` has col = a schema column index;
 *     after `stats` it has col = an output column index (keys first, then aggs).
 *  2. Every literal in a test has the kind its operand needs (see colog_q_lit).
 *  3. hour/dow/day operands and time keys only apply to the time column (col 0).
 *  4. All memory of a query (nodes, strings) lives in the query's arena and is
 *     released by colog_query_free.
 */
#ifndef COLOG_AST_H
#define COLOG_AST_H

#include "colog_query.h"

/* The value domain of an operand or output column. */
typedef enum colog_q_vt {
    Q_VT_INT = 1, /* u8..u64, i64, hour (0-23), dow (1-7), count, dcount */
    Q_VT_FLOAT,   /* f64, avg */
    Q_VT_STR,
    Q_VT_IP,
    Q_VT_TIME, /* µs since epoch (time columns, bin) */
    Q_VT_DAY,  /* day number in the query's zone (day(ts)) */
} colog_q_vt_t;

typedef enum colog_q_litk {
    Q_LIT_INT = 1, /* neg + mag: the value is neg ? -(int128)mag : mag */
    Q_LIT_FLOAT,
    Q_LIT_STR,
    Q_LIT_IP,
    Q_LIT_CIDR,
    Q_LIT_TIME, /* t_us */
    Q_LIT_DAY,  /* day (a date literal compared with day(ts)) */
} colog_q_litk_t;

/*
 * Literal kinds by operand domain (checked by the parser):
 *   Q_VT_INT   : Q_LIT_INT
 *   Q_VT_FLOAT : Q_LIT_INT or Q_LIT_FLOAT (the parser converts INT to FLOAT)
 *   Q_VT_STR   : Q_LIT_STR
 *   Q_VT_IP    : Q_LIT_IP; Q_LIT_CIDR only in `in` / `not in` lists
 *   Q_VT_TIME  : Q_LIT_TIME (a date alone is midnight in the query's zone)
 *   Q_VT_DAY   : Q_LIT_DAY
 */
typedef struct colog_q_lit {
    colog_q_litk_t kind;
    bool neg;
    uint64_t mag;
    double f;
    const char *s; /* Q_LIT_STR: unescaped bytes (arena), not NUL-terminated */
    uint32_t slen;
    colog_ip_t ip;     /* Q_LIT_IP, Q_LIT_CIDR (network address, host bits zero) */
    uint8_t prefix;    /* Q_LIT_CIDR: prefix length in IPv6 terms (IPv4 /8 -> 104) */
    int64_t t_us;      /* Q_LIT_TIME */
    int32_t day;       /* Q_LIT_DAY */
    uint32_t pos, len; /* where in the query text */
} colog_q_lit_t;

typedef enum colog_q_opdk {
    Q_OPD_COL = 1,
    Q_OPD_HOUR, /* hour(ts) in the query's zone, 0..23 */
    Q_OPD_DOW,  /* dow(ts), ISO 1 = Monday .. 7 = Sunday */
    Q_OPD_DAY,  /* day(ts), a day number */
} colog_q_opdk_t;

typedef struct colog_q_operand {
    colog_q_opdk_t kind;
    int col;         /* see invariant 1 */
    colog_q_vt_t vt; /* domain of the operand */
    uint32_t pos, len;
} colog_q_operand_t;

typedef enum colog_q_cmp {
    Q_EQ = 1,
    Q_NE,
    Q_LT,
    Q_LE,
    Q_GT,
    Q_GE,
} colog_q_cmp_t;

typedef enum colog_q_exk {
    Q_EX_AND = 1,
    Q_EX_OR,
    Q_EX_NOT,
    Q_EX_CMP,      /* opd cmp lits[0] */
    Q_EX_IN,       /* opd in (lits[0..nlits)); for ip operands, a lit may be a CIDR */
    Q_EX_BETWEEN,  /* lits[0] <= opd <= lits[1] */
    Q_EX_CONTAINS, /* string column, lits[0] is Q_LIT_STR */
    Q_EX_STARTS,
    Q_EX_ENDS,
} colog_q_exk_t;

/* `x not in (...)` parses as NOT(IN); `x in 10.0.0.0/8` as IN with one CIDR lit. */
typedef struct colog_q_expr {
    colog_q_exk_t kind;
    struct colog_q_expr *a, *b; /* AND/OR: both; NOT: a */
    colog_q_operand_t opd;
    colog_q_cmp_t cmp;
    uint32_t nlits;
    colog_q_lit_t *lits;
    uint32_t pos, len; /* whole test */
} colog_q_expr_t;

typedef enum colog_q_aggk {
    Q_AGG_COUNT = 1,
    Q_AGG_SUM,
    Q_AGG_MIN,
    Q_AGG_MAX,
    Q_AGG_AVG,
    Q_AGG_DCOUNT,
} colog_q_aggk_t;

typedef struct colog_q_agg {
    colog_q_aggk_t kind;
    int col;                       /* schema column; -1 for count() */
    colog_q_vt_t vt;               /* output domain: count/dcount INT, avg FLOAT, sum INT or FLOAT,
                                      min/max the column's domain */
    char name[COLOG_NAME_MAX + 8]; /* output name ("count", "sum_bytes_out", or `as`) */
} colog_q_agg_t;

typedef enum colog_q_keyk {
    Q_KEY_COL = 1,
    Q_KEY_HOUR,
    Q_KEY_DOW,
    Q_KEY_DAY,
    Q_KEY_BIN,
} colog_q_keyk_t;

typedef struct colog_q_key {
    colog_q_keyk_t kind;
    int col;         /* schema column (0 for time keys) */
    int64_t bin_us;  /* Q_KEY_BIN: bucket width, > 0 */
    colog_q_vt_t vt; /* column's domain; HOUR/DOW INT; DAY DAY; BIN TIME */
    char name[COLOG_NAME_MAX + 8];
} colog_q_key_t;

#define COLOG_Q_MAX_KEYS 8
#define COLOG_Q_MAX_AGGS 16
#define COLOG_Q_MAX_FIELDS COLOG_MAX_COLS

typedef struct colog_q_sortkey {
    int col; /* output column index (after stats) or schema column (raw) */
    bool desc;
} colog_q_sortkey_t;

typedef enum colog_q_stk {
    Q_ST_WHERE = 1, /* after stats: over output columns */
    Q_ST_TOP,
    Q_ST_BOTTOM,
    Q_ST_SORT,
    Q_ST_LIMIT,
} colog_q_stk_t;

/* A stage applied to the rows produced by the scan (raw) or by stats. */
typedef struct colog_q_stage {
    colog_q_stk_t kind;
    colog_q_expr_t *where; /* Q_ST_WHERE */
    uint64_t n;            /* TOP, BOTTOM, LIMIT */
    int by;                /* TOP, BOTTOM: output (or schema, raw) column ranked on */
    uint32_t nsort;        /* SORT */
    colog_q_sortkey_t sort[COLOG_Q_MAX_KEYS];
    uint32_t pos, len;
} colog_q_stage_t;

struct colog_query {
    const colog_schema_t *schema; /* borrowed */
    colog_tz_t *tz;               /* borrowed */
    /* Time bounds from `range` / `last`: t_lo <= ts < t_hi. INT64_MIN / INT64_MAX
     * when open. */
    int64_t t_lo, t_hi;
    /* AND of every `where` stage before stats (or, for raw queries, before the
     * first non-where stage); NULL when none. Over schema columns. */
    colog_q_expr_t *scan_where;
    bool has_stats;
    uint32_t nkeys, naggs;
    colog_q_key_t keys[COLOG_Q_MAX_KEYS];
    colog_q_agg_t aggs[COLOG_Q_MAX_AGGS];
    /* Raw queries: the schema columns to print, in order (all when `fields` is
     * absent). */
    uint32_t nfields;
    int fields[COLOG_Q_MAX_FIELDS];
    /* Stages after the scan/stats, in query order. For raw queries the parser
     * only allows SORT, LIMIT, TOP, BOTTOM here (a `where` after them is an error). */
    uint32_t nstages;
    colog_q_stage_t *stages;
    void *arena; /* owned allocations (implementation-defined) */
};

/* Output columns after stats: keys first (in `by` order) then aggregates. */
static inline uint32_t colog_q_noutputs(const colog_query_t *q)
{
    return q->nkeys + q->naggs;
}

#endif /* COLOG_AST_H */
