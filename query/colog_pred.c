/*
 * colog_pred.c — scan predicates: compiled per part, pruned by zone maps,
 * evaluated over whole blocks.
 *
 * NOTES ON THE DESIGN OF PREDICATES
 *
 *  1. Three-valued logic, as SQL: a test on an absent value is unknown, `not`
 *     of unknown is unknown, and only rows whose predicate is true are kept. Each
 *     node produces two byte masks over the block, t (true) and f (false);
 *     unknown is neither. not swaps them; and: t = ta & tb, f = fa | fb;
 *     or: t = ta | tb, f = fa & fb. The loops are branch-free over bytes so the
 *     compiler vectorizes them.
 *  2. Every test becomes one of a few leaf forms, chosen once per part:
 *     an interval of unsigned or signed integers (comparisons, between, `=`),
 *     a set of values (`in`), a float comparison, or, for string and ip columns,
 *     an interval of dictionary codes (the dictionary is sorted, so `=`, `<`,
 *     CIDR blocks ... are code intervals) or a mask over the codes (`in`,
 *     contains/startswith/endswith). `!=` and `not in` are leaves with
 *     `negate` set (the value must be present and not match).
 *  3. Zone maps give, for each node, whether a block may hold a true row (pt)
 *     and a false row (pf), combined by the same rules; a block with !pt is
 *     skipped without decompression.
 *  4. The range / last bounds are an extra interval leaf on ts AND-ed at the
 *     root, so time pruning uses the same machinery.
 */
#include "colog_pred.h"

#include <roaring/roaring.h>

#include <stdlib.h>
#include <string.h>

enum leafk {
    LK_CONST = 1, /* every present value: result = cval */
    LK_URANGE,    /* ulo <= x <= uhi (u64 columns) */
    LK_IRANGE,    /* ilo <= x <= ihi (time, i64, derived hour/dow/day) */
    LK_USET,
    LK_ISET,
    LK_FCMP, /* f64: x cmp f (BETWEEN: f <= x <= f2) */
    LK_FSET,
    LK_CRANGE, /* clo <= code <= chi */
    LK_CMASK,  /* cmask[code] */
};

typedef struct pnode {
    colog_q_exk_t kind; /* AND, OR, NOT, or CMP for a leaf */
    struct pnode *a, *b;
    uint8_t *t, *f;
    /* leaf */
    enum leafk lk;
    int col;    /* schema column */
    int derive; /* -1: the column itself; 0 hour, 1 dow, 2 day */
    bool negate, cval;
    uint64_t ulo, uhi;
    int64_t ilo, ihi;
    colog_q_cmp_t fcmp;
    bool fbetween;
    double fv, fv2;
    uint32_t nset;
    uint64_t *uset;
    int64_t *iset;
    double *fset;
    uint32_t clo, chi;
    uint8_t *cmask;
    uint32_t *cprefix; /* cprefix[i] = number of set codes < i (for zone checks) */
    uint32_t cn;
} pnode_t;

struct colog_pred {
    pnode_t *root;
    colog_part_t *part;
    bool has_time; /* root is AND(time bounds, expression) or the time bounds alone */
};

/* ---------------------------------------------------------------- block context */

int colog__bctx_init(colog_bctx_t *c, colog_tz_t *tz)
{
    memset(c, 0, sizeof *c);
    c->tz = tz;
    for (int i = 0; i < 3; i++) {
        c->derived[i] = malloc(COLOG_BLOCK_ROWS * sizeof(int64_t));
        if (c->derived[i] == NULL)
            goto out_nomem;
    }
    c->local_us = malloc(COLOG_BLOCK_ROWS * sizeof(int64_t));
    if (c->local_us == NULL)
        goto out_nomem;
    return 0;
out_nomem:
    colog__bctx_free(c);
    return colog_seterr(COLOG_ENOMEM, "out of memory");
}

void colog__bctx_free(colog_bctx_t *c)
{
    for (int i = 0; i < 3; i++)
        free(c->derived[i]);
    free(c->local_us);
    for (unsigned i = 0; i < COLOG_MAX_COLS; i++) {
        free(c->vbytes[i]);
        colog_rbuf_free(c->rbuf[i]);
    }
    memset(c, 0, sizeof *c);
}

void colog__bctx_reset(colog_bctx_t *c, colog_part_t *p, uint32_t b, uint32_t n)
{
    c->part = p;
    c->b = b;
    c->n = n;
    c->have = 0;
    c->have_vbytes = 0;
    c->have_local = false;
    for (int i = 0; i < 3; i++)
        c->have_derived[i] = false;
}

static int rbuf_for(colog_bctx_t *c, unsigned col)
{
    if (c->rbuf[col] == NULL && (c->rbuf[col] = colog_rbuf_new()) == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    return 0;
}

static int check_rows(colog_bctx_t *c, unsigned col)
{
    if (c->blk[col].n != c->n)
        return colog_seterr(COLOG_ECORRUPT, "block %u of column %u holds %u rows, not %u", c->b,
                            col, c->blk[col].n, c->n);
    c->have |= (uint64_t)1 << col;
    c->ndecoded[col]++;
    return 0;
}

int colog__bctx_prefetch(colog_bctx_t *c, uint64_t colmask)
{
    colog_blkreq_t req[COLOG_MAX_COLS];
    size_t n = 0;
    int rc;
    colmask &= ~c->have;
    for (unsigned col = 0; col < COLOG_MAX_COLS; col++) {
        if (!(colmask >> col & 1))
            continue;
        if ((rc = rbuf_for(c, col)))
            return rc;
        req[n++] = (colog_blkreq_t){c->part, col, c->b, c->rbuf[col], &c->blk[col]};
    }
    if (n == 0)
        return 0;
    rc = 0;
    if (c->ioq && n > 1)
        rc = colog_part_read_many(req, n, c->ioq);
    else
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = colog_part_read_buf(c->part, req[i].col, c->b, req[i].buf, req[i].out);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_rows(c, req[i].col)))
            return rc;
    return 0;
}

int colog__bctx_col(colog_bctx_t *c, unsigned col, const colog_block_t **out)
{
    if (!(c->have >> col & 1)) {
        int rc = rbuf_for(c, col);
        if (rc == 0)
            rc = colog_part_read_buf(c->part, col, c->b, c->rbuf[col], &c->blk[col]);
        if (rc == 0)
            rc = check_rows(c, col);
        if (rc)
            return rc;
    }
    *out = &c->blk[col];
    return 0;
}

int colog__bctx_valid(colog_bctx_t *c, unsigned col, const uint8_t **out)
{
    const colog_block_t *blk;
    int rc = colog__bctx_col(c, col, &blk);
    if (rc)
        return rc;
    if (blk->valid == NULL) {
        *out = NULL;
        return 0;
    }
    if (!(c->have_vbytes >> col & 1)) {
        if (c->vbytes[col] == NULL) {
            c->vbytes[col] = malloc(COLOG_BLOCK_ROWS);
            if (c->vbytes[col] == NULL)
                return colog_seterr(COLOG_ENOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < c->n; i++)
            c->vbytes[col][i] = (blk->valid[i >> 3] >> (i & 7)) & 1;
        c->have_vbytes |= (uint64_t)1 << col;
    }
    *out = c->vbytes[col];
    return 0;
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int colog__bctx_local(colog_bctx_t *c, const int64_t **out)
{
    if (!c->have_local) {
        const colog_block_t *ts;
        int rc = colog__bctx_col(c, 0, &ts);
        if (rc)
            return rc;
        for (uint32_t i = 0; i < c->n; i++)
            c->local_us[i] = ts->v.i64[i] + (int64_t)colog_tz_offset(c->tz, ts->v.i64[i]) * 1000000;
        c->have_local = true;
    }
    *out = c->local_us;
    return 0;
}

int colog__bctx_derived(colog_bctx_t *c, int which, const int64_t **out)
{
    if (!c->have_derived[which]) {
        const int64_t *loc;
        int rc = colog__bctx_local(c, &loc);
        if (rc)
            return rc;
        int64_t *d = c->derived[which];
        for (uint32_t i = 0; i < c->n; i++) {
            int64_t secs = floordiv(loc[i], 1000000);
            int64_t day = floordiv(secs, 86400);
            if (which == 0)
                d[i] = (secs - day * 86400) / 3600;
            else if (which == 1)
                d[i] = ((day % 7 + 7 + 3) % 7) + 1; /* 1970-01-01 was a Thursday (4) */
            else
                d[i] = day;
        }
        c->have_derived[which] = true;
    }
    *out = c->derived[which];
    return 0;
}

/* ---------------------------------------------------------------- compile */

static void node_free(pnode_t *n)
{
    if (n == NULL)
        return;
    node_free(n->a);
    node_free(n->b);
    free(n->t);
    free(n->f);
    free(n->uset);
    free(n->iset);
    free(n->fset);
    free(n->cmask);
    free(n->cprefix);
    free(n);
}

void colog__pred_free(colog_pred_t *pr)
{
    if (pr == NULL)
        return;
    node_free(pr->root);
    free(pr);
}

static pnode_t *node_new(colog_q_exk_t kind)
{
    pnode_t *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->kind = kind;
    n->derive = -1;
    n->t = malloc(COLOG_BLOCK_ROWS);
    n->f = malloc(COLOG_BLOCK_ROWS);
    if (n->t == NULL || n->f == NULL) {
        node_free(n);
        return NULL;
    }
    return n;
}

static void set_const(pnode_t *n, bool v)
{
    n->lk = LK_CONST;
    n->cval = v;
}

/* Signed value of an integer / time / day literal. */
static int64_t lit_i64(const colog_q_lit_t *l)
{
    switch (l->kind) {
    case Q_LIT_TIME:
        return l->t_us;
    case Q_LIT_DAY:
        return l->day;
    case Q_LIT_INT:
        if (l->neg)
            return l->mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)l->mag;
        return l->mag > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)l->mag;
    case Q_LIT_FLOAT:
    case Q_LIT_STR:
    case Q_LIT_IP:
    case Q_LIT_CIDR:
        break;
    }
    return 0;
}

static double lit_f64(const colog_q_lit_t *l)
{
    if (l->kind == Q_LIT_FLOAT)
        return l->f;
    return l->neg ? -(double)l->mag : (double)l->mag;
}

/* Signed interval for `x cmp v`; returns false if empty. */
static bool irange(colog_q_cmp_t cmp, int64_t v, int64_t *lo, int64_t *hi)
{
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    switch (cmp) {
    case Q_EQ:
    case Q_NE:
        *lo = *hi = v;
        return true;
    case Q_LT:
        if (v == INT64_MIN)
            return false;
        *hi = v - 1;
        return true;
    case Q_LE:
        *hi = v;
        return true;
    case Q_GT:
        if (v == INT64_MAX)
            return false;
        *lo = v + 1;
        return true;
    case Q_GE:
        *lo = v;
        return true;
    }
    return false;
}

/* Unsigned interval for `x cmp lit` where lit may be negative. */
static bool urange(colog_q_cmp_t cmp, const colog_q_lit_t *l, uint64_t *lo, uint64_t *hi)
{
    bool neg = l->kind == Q_LIT_INT && l->neg && l->mag != 0;
    uint64_t v = l->mag;
    *lo = 0;
    *hi = UINT64_MAX;
    switch (cmp) {
    case Q_EQ:
    case Q_NE:
        if (neg)
            return false;
        *lo = *hi = v;
        return true;
    case Q_LT:
        if (neg || v == 0)
            return false;
        *hi = v - 1;
        return true;
    case Q_LE:
        if (neg)
            return false;
        *hi = v;
        return true;
    case Q_GT:
        if (neg)
            return true;
        if (v == UINT64_MAX)
            return false;
        *lo = v + 1;
        return true;
    case Q_GE:
        if (!neg)
            *lo = v;
        return true;
    }
    return false;
}

/* The code of the first entry of the part's dictionary of col that is >= the
 * literal (with upper: >). Reads at most one block of the dictionary unless it
 * is loaded (colog_part_dict_bound). */
static int dict_bound(colog_part_t *p, unsigned col, colog_type_t t, const colog_q_lit_t *l,
                      bool upper, uint32_t *pos)
{
    if (t == COLOG_T_IP)
        return colog_part_dict_bound(p, col, &l->ip, NULL, 0, upper, pos);
    return colog_part_dict_bound(p, col, NULL, l->s, l->slen, upper, pos);
}

/* Codes [lo, hi) of the values in CIDR block l. */
static int cidr_codes(colog_part_t *p, unsigned col, const colog_q_lit_t *l, uint32_t *lo,
                      uint32_t *hi)
{
    colog_ip_t last = l->ip;
    for (int bit = l->prefix; bit < 128; bit++)
        last.b[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
    int rc = colog_part_dict_bound(p, col, &l->ip, NULL, 0, false, lo);
    if (rc == 0)
        rc = colog_part_dict_bound(p, col, &last, NULL, 0, true, hi);
    return rc;
}

static bool mem_contains(const char *h, uint32_t hl, const char *n, uint32_t nl)
{
    return nl == 0 || memmem(h, hl, n, nl) != NULL;
}

/* Turn a code mask into the leaf's prefix sums (for zone checks). */
static int finish_mask(pnode_t *n)
{
    n->cprefix = malloc(((size_t)n->cn + 1) * sizeof *n->cprefix);
    if (n->cprefix == NULL)
        return COLOG_ENOMEM;
    n->cprefix[0] = 0;
    for (uint32_t i = 0; i < n->cn; i++)
        n->cprefix[i + 1] = n->cprefix[i] + n->cmask[i];
    n->lk = LK_CMASK;
    return 0;
}

/* A test on a string or ip column becomes a range or a mask of the part's
 * dictionary codes. Comparisons, `in` lists and CIDR blocks need only the bounds
 * of their literals (a block of the dictionary each); substring tests read the
 * whole dictionary. */
static int compile_dict_leaf(pnode_t *n, const colog_q_expr_t *e, colog_part_t *p, unsigned col,
                             colog_type_t t)
{
    uint32_t lo = 0, hi = 0, dn = colog_part_dict_size(p, col); /* [lo, hi) */
    int rc = 0;
    switch (e->kind) {
    case Q_EX_CMP:
        if (e->cmp == Q_EQ || e->cmp == Q_NE) {
            rc = dict_bound(p, col, t, &e->lits[0], false, &lo);
            if (rc == 0)
                rc = dict_bound(p, col, t, &e->lits[0], true, &hi);
            n->negate = e->cmp == Q_NE;
        } else if (e->cmp == Q_LT) {
            rc = dict_bound(p, col, t, &e->lits[0], false, &hi);
        } else if (e->cmp == Q_LE) {
            rc = dict_bound(p, col, t, &e->lits[0], true, &hi);
        } else if (e->cmp == Q_GT) {
            rc = dict_bound(p, col, t, &e->lits[0], true, &lo);
            hi = dn;
        } else {
            rc = dict_bound(p, col, t, &e->lits[0], false, &lo);
            hi = dn;
        }
        if (rc)
            return rc;
        break;
    case Q_EX_BETWEEN:
        rc = dict_bound(p, col, t, &e->lits[0], false, &lo);
        if (rc == 0)
            rc = dict_bound(p, col, t, &e->lits[1], true, &hi);
        if (rc)
            return rc;
        break;
    case Q_EX_IN:
        if (e->nlits == 1 && e->lits[0].kind == Q_LIT_CIDR) {
            rc = cidr_codes(p, col, &e->lits[0], &lo, &hi);
            if (rc)
                return rc;
            break;
        }
        /* otherwise: a mask */
        n->cn = dn;
        n->cmask = calloc(dn ? dn : 1, 1);
        if (n->cmask == NULL)
            return COLOG_ENOMEM;
        for (uint32_t k = 0; k < e->nlits; k++) {
            const colog_q_lit_t *l = &e->lits[k];
            if (l->kind == Q_LIT_CIDR) {
                rc = cidr_codes(p, col, l, &lo, &hi);
            } else {
                rc = dict_bound(p, col, t, l, false, &lo);
                if (rc == 0)
                    rc = dict_bound(p, col, t, l, true, &hi);
            }
            if (rc)
                return rc;
            for (uint32_t c = lo; c < hi; c++)
                n->cmask[c] = 1;
        }
        return finish_mask(n);
    case Q_EX_CONTAINS:
    case Q_EX_STARTS:
    case Q_EX_ENDS: {
        const colog_q_lit_t *l = &e->lits[0];
        const colog_dictview_t *d;
        rc = colog_part_dict(p, col, &d);
        if (rc)
            return rc;
        n->cn = d->n;
        n->cmask = calloc(d->n ? d->n : 1, 1);
        if (n->cmask == NULL)
            return COLOG_ENOMEM;
        for (uint32_t c = 0; c < d->n; c++) {
            const char *str = d->bytes + d->offs[c];
            uint32_t sl = d->offs[c + 1] - d->offs[c];
            bool m;
            if (e->kind == Q_EX_CONTAINS)
                m = mem_contains(str, sl, l->s, l->slen);
            else if (e->kind == Q_EX_STARTS)
                m = sl >= l->slen && memcmp(str, l->s, l->slen) == 0;
            else
                m = sl >= l->slen && memcmp(str + sl - l->slen, l->s, l->slen) == 0;
            n->cmask[c] = m;
        }
        return finish_mask(n);
    }
    case Q_EX_AND:
    case Q_EX_OR:
    case Q_EX_NOT:
        return COLOG_EINVAL;
    }
    if (lo >= hi) {
        set_const(n, false); /* no value matches (a `!=` then holds for every present value) */
        return 0;
    }
    n->lk = LK_CRANGE;
    n->clo = lo;
    n->chi = hi - 1;
    return 0;
}

static int compile_leaf(pnode_t *n, const colog_q_expr_t *e, colog_part_t *p,
                        const colog_schema_t *schema)
{
    const colog_q_operand_t *o = &e->opd;
    n->col = o->kind == Q_OPD_COL ? o->col : 0;
    n->derive = o->kind == Q_OPD_HOUR  ? 0
                : o->kind == Q_OPD_DOW ? 1
                : o->kind == Q_OPD_DAY ? 2
                                       : -1;
    colog_type_t type = schema->cols[n->col].type;
    if (n->derive < 0 && colog_type_is_dict(type))
        return compile_dict_leaf(n, e, p, (unsigned)n->col, type);
    bool is_u = n->derive < 0 && colog_type_is_unsigned(type);
    bool is_f = n->derive < 0 && type == COLOG_T_F64;
    switch (e->kind) {
    case Q_EX_CMP:
        n->negate = e->cmp == Q_NE;
        if (is_f) {
            n->lk = LK_FCMP;
            n->fcmp = e->cmp == Q_NE ? Q_EQ : e->cmp;
            n->fv = lit_f64(&e->lits[0]);
        } else if (is_u) {
            n->lk = LK_URANGE;
            if (!urange(e->cmp, &e->lits[0], &n->ulo, &n->uhi))
                set_const(n,
                          false); /* no value matches (a `!=` then holds for every present value) */
        } else {
            n->lk = LK_IRANGE;
            if (!irange(e->cmp, lit_i64(&e->lits[0]), &n->ilo, &n->ihi))
                set_const(n,
                          false); /* no value matches (a `!=` then holds for every present value) */
        }
        return 0;
    case Q_EX_BETWEEN:
        if (is_f) {
            n->lk = LK_FCMP;
            n->fbetween = true;
            n->fv = lit_f64(&e->lits[0]);
            n->fv2 = lit_f64(&e->lits[1]);
        } else if (is_u) {
            uint64_t lo1, hi1, lo2, hi2;
            bool ok1 = urange(Q_GE, &e->lits[0], &lo1, &hi1);
            bool ok2 = urange(Q_LE, &e->lits[1], &lo2, &hi2);
            n->lk = LK_URANGE;
            n->ulo = lo1;
            n->uhi = hi2;
            if (!ok1 || !ok2 || lo1 > hi2)
                set_const(n, false);
        } else {
            n->lk = LK_IRANGE;
            n->ilo = lit_i64(&e->lits[0]);
            n->ihi = lit_i64(&e->lits[1]);
            if (n->ilo > n->ihi)
                set_const(n, false);
        }
        return 0;
    case Q_EX_IN:
        n->nset = e->nlits;
        if (is_f) {
            n->lk = LK_FSET;
            n->fset = malloc(e->nlits * sizeof(double));
            if (n->fset == NULL)
                return COLOG_ENOMEM;
            for (uint32_t k = 0; k < e->nlits; k++)
                n->fset[k] = lit_f64(&e->lits[k]);
        } else if (is_u) {
            n->lk = LK_USET;
            n->uset = malloc(e->nlits * sizeof(uint64_t));
            if (n->uset == NULL)
                return COLOG_ENOMEM;
            n->nset = 0;
            for (uint32_t k = 0; k < e->nlits; k++)
                if (!(e->lits[k].neg && e->lits[k].mag))
                    n->uset[n->nset++] = e->lits[k].mag;
        } else {
            n->lk = LK_ISET;
            n->iset = malloc(e->nlits * sizeof(int64_t));
            if (n->iset == NULL)
                return COLOG_ENOMEM;
            for (uint32_t k = 0; k < e->nlits; k++)
                n->iset[k] = lit_i64(&e->lits[k]);
        }
        return 0;
    case Q_EX_CONTAINS:
    case Q_EX_STARTS:
    case Q_EX_ENDS:
    case Q_EX_AND:
    case Q_EX_OR:
    case Q_EX_NOT:
        break;
    }
    return colog_seterr(COLOG_EINVAL, "predicate: unsupported test on column %s",
                        schema->cols[n->col].name);
}

static int compile(const colog_q_expr_t *e, colog_part_t *p, const colog_schema_t *schema,
                   pnode_t **out)
{
    int rc = COLOG_EINVAL;
    pnode_t *n = node_new(
        e->kind == Q_EX_AND || e->kind == Q_EX_OR || e->kind == Q_EX_NOT ? e->kind : Q_EX_CMP);
    if (n == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    switch (e->kind) {
    case Q_EX_AND:
    case Q_EX_OR:
        rc = compile(e->a, p, schema, &n->a);
        if (rc == 0)
            rc = compile(e->b, p, schema, &n->b);
        break;
    case Q_EX_NOT:
        rc = compile(e->a, p, schema, &n->a);
        break;
    case Q_EX_CMP:
    case Q_EX_IN:
    case Q_EX_BETWEEN:
    case Q_EX_CONTAINS:
    case Q_EX_STARTS:
    case Q_EX_ENDS:
        rc = compile_leaf(n, e, p, schema);
        if (rc == COLOG_ENOMEM)
            colog_seterr(rc, "out of memory");
        break;
    }
    if (rc) {
        node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int colog__pred_compile(const colog_q_expr_t *e, int64_t t_lo, int64_t t_hi, colog_part_t *p,
                        const colog_schema_t *schema, colog_pred_t **out)
{
    colog_pred_t *pr = calloc(1, sizeof *pr);
    if (pr == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    pr->part = p;
    int rc = 0;
    pnode_t *tsn = NULL, *en = NULL;
    if (t_lo != INT64_MIN || t_hi != INT64_MAX) {
        tsn = node_new(Q_EX_CMP);
        if (tsn == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out_fail;
        }
        tsn->col = 0;
        tsn->lk = LK_IRANGE;
        tsn->ilo = t_lo;
        tsn->ihi = t_hi == INT64_MAX ? INT64_MAX : t_hi - 1;
        if (t_hi != INT64_MAX && t_hi <= t_lo)
            set_const(tsn, false);
    }
    if (e) {
        rc = compile(e, p, schema, &en);
        if (rc)
            goto out_fail;
    }
    if (tsn && en) {
        pr->root = node_new(Q_EX_AND);
        if (pr->root == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out_fail;
        }
        pr->root->a = tsn;
        pr->root->b = en;
    } else {
        pr->root = tsn ? tsn : en;
    }
    pr->has_time = tsn != NULL;
    *out = pr;
    return 0;
out_fail:
    node_free(tsn);
    node_free(en);
    free(pr);
    return rc;
}

/* ---------------------------------------------------------------- zone pruning */

static int zone_node(pnode_t *n, colog_part_t *p, uint32_t b, bool *pt, bool *pf)
{
    bool at, af, bt, bf;
    int rc;
    if (n->kind == Q_EX_AND || n->kind == Q_EX_OR) {
        if ((rc = zone_node(n->a, p, b, &at, &af)) || (rc = zone_node(n->b, p, b, &bt, &bf)))
            return rc;
        *pt = n->kind == Q_EX_AND ? at && bt : at || bt;
        *pf = n->kind == Q_EX_AND ? af || bf : af && bf;
        return 0;
    }
    if (n->kind == Q_EX_NOT) {
        if ((rc = zone_node(n->a, p, b, &at, &af)))
            return rc;
        *pt = af;
        *pf = at;
        return 0;
    }
    colog_zone_t z;
    if (n->derive >= 0 || n->lk == LK_FCMP || n->lk == LK_FSET) {
        *pt = *pf = true;
        return 0;
    }
    rc = colog_part_zone(p, (unsigned)n->col, b, &z);
    if (rc)
        return rc;
    if (z.nvalid == 0) {
        *pt = *pf = false;
        return 0;
    }
    bool in_any = true, out_any = true; /* some value may match / some may not */
    switch (n->lk) {
    case LK_CONST:
        in_any = n->cval;
        out_any = !n->cval;
        break;
    case LK_URANGE:
        in_any = z.max.u >= n->ulo && z.min.u <= n->uhi;
        out_any = z.min.u < n->ulo || z.max.u > n->uhi;
        break;
    case LK_IRANGE:
        in_any = z.max.i >= n->ilo && z.min.i <= n->ihi;
        out_any = z.min.i < n->ilo || z.max.i > n->ihi;
        break;
    case LK_CRANGE:
        in_any = z.max.u >= n->clo && z.min.u <= n->chi;
        out_any = z.min.u < n->clo || z.max.u > n->chi;
        break;
    case LK_CMASK: {
        uint64_t lo = z.min.u, hi = z.max.u;
        if (hi >= n->cn)
            hi = n->cn ? n->cn - 1 : 0;
        if (n->cn == 0 || lo > hi) {
            in_any = false;
            out_any = true;
        } else {
            uint32_t cnt = n->cprefix[hi + 1] - n->cprefix[lo];
            in_any = cnt > 0;
            out_any = cnt < hi - lo + 1;
        }
        break;
    }
    case LK_USET: {
        in_any = false;
        for (uint32_t k = 0; k < n->nset; k++)
            in_any |= n->uset[k] >= z.min.u && n->uset[k] <= z.max.u;
        out_any = true;
        break;
    }
    case LK_ISET: {
        in_any = false;
        for (uint32_t k = 0; k < n->nset; k++)
            in_any |= n->iset[k] >= z.min.i && n->iset[k] <= z.max.i;
        out_any = true;
        break;
    }
    case LK_FCMP:
    case LK_FSET:
        in_any = out_any = true;
        break;
    }
    *pt = n->negate ? out_any : in_any;
    *pf = n->negate ? in_any : out_any;
    return 0;
}

int colog__pred_maybe(colog_pred_t *pr, colog_part_t *p, uint32_t b, bool *maybe)
{
    if (pr->root == NULL) {
        *maybe = true;
        return 0;
    }
    bool pt, pf;
    int rc = zone_node(pr->root, p, b, &pt, &pf);
    if (rc)
        return rc;
    *maybe = pt;
    return 0;
}

/* ---------------------------------------------------------------- evaluation */

static bool fcmp(colog_q_cmp_t c, double x, double v)
{
    switch (c) {
    case Q_EQ:
    case Q_NE:
        return x == v;
    case Q_LT:
        return x < v;
    case Q_LE:
        return x <= v;
    case Q_GT:
        return x > v;
    case Q_GE:
        return x >= v;
    }
    return false;
}

static int eval_leaf(pnode_t *n, colog_bctx_t *c)
{
    uint32_t cnt = c->n;
    uint8_t *t = n->t, *f = n->f;
    const uint8_t *valid = NULL;
    const colog_block_t *blk = NULL;
    const int64_t *iv = NULL;
    int rc;
    if (n->derive >= 0) {
        rc = colog__bctx_derived(c, n->derive, &iv);
        if (rc)
            return rc;
    } else {
        rc = colog__bctx_col(c, (unsigned)n->col, &blk);
        if (rc == 0)
            rc = colog__bctx_valid(c, (unsigned)n->col, &valid);
        if (rc)
            return rc;
        iv = blk->v.i64;
    }
    /* m[i] = the test on the value, regardless of presence. */
    switch (n->lk) {
    case LK_CONST:
        memset(t, n->cval, cnt);
        break;
    case LK_URANGE: {
        const uint64_t *x = blk->v.u64;
        uint64_t lo = n->ulo, w = n->uhi - n->ulo;
        for (uint32_t i = 0; i < cnt; i++)
            t[i] = x[i] - lo <= w;
        break;
    }
    case LK_IRANGE: {
        uint64_t lo = (uint64_t)n->ilo, w = (uint64_t)n->ihi - (uint64_t)n->ilo;
        for (uint32_t i = 0; i < cnt; i++)
            t[i] = (uint64_t)iv[i] - lo <= w;
        break;
    }
    case LK_USET: {
        const uint64_t *x = blk->v.u64;
        memset(t, 0, cnt);
        for (uint32_t k = 0; k < n->nset; k++) {
            uint64_t v = n->uset[k];
            for (uint32_t i = 0; i < cnt; i++)
                t[i] |= x[i] == v;
        }
        break;
    }
    case LK_ISET:
        memset(t, 0, cnt);
        for (uint32_t k = 0; k < n->nset; k++) {
            int64_t v = n->iset[k];
            for (uint32_t i = 0; i < cnt; i++)
                t[i] |= iv[i] == v;
        }
        break;
    case LK_FCMP: {
        const double *x = blk->v.f64;
        for (uint32_t i = 0; i < cnt; i++)
            t[i] = n->fbetween ? (x[i] >= n->fv && x[i] <= n->fv2) : fcmp(n->fcmp, x[i], n->fv);
        break;
    }
    case LK_FSET: {
        const double *x = blk->v.f64;
        memset(t, 0, cnt);
        for (uint32_t k = 0; k < n->nset; k++)
            for (uint32_t i = 0; i < cnt; i++)
                t[i] |= x[i] == n->fset[k];
        break;
    }
    case LK_CRANGE: {
        const uint32_t *x = blk->v.code;
        uint32_t lo = n->clo, w = n->chi - n->clo;
        for (uint32_t i = 0; i < cnt; i++)
            t[i] = x[i] - lo <= w;
        break;
    }
    case LK_CMASK: {
        const uint32_t *x = blk->v.code;
        const uint8_t *m = n->cmask;
        uint32_t cn = n->cn;
        for (uint32_t i = 0; i < cnt; i++)
            t[i] = x[i] < cn ? m[x[i]] : 0;
        break;
    }
    }
    /* Apply negation and presence: t = v & (m ^ neg), f = v & !(m ^ neg). */
    uint8_t neg = n->negate;
    if (valid) {
        for (uint32_t i = 0; i < cnt; i++) {
            uint8_t m = t[i] ^ neg;
            t[i] = valid[i] & m;
            f[i] = valid[i] & (m ^ 1);
        }
    } else {
        for (uint32_t i = 0; i < cnt; i++) {
            uint8_t m = t[i] ^ neg;
            t[i] = m;
            f[i] = m ^ 1;
        }
    }
    return 0;
}

static int eval_node(pnode_t *n, colog_bctx_t *c)
{
    int rc;
    uint32_t cnt = c->n;
    if (n->kind == Q_EX_AND || n->kind == Q_EX_OR) {
        if ((rc = eval_node(n->a, c)) || (rc = eval_node(n->b, c)))
            return rc;
        if (n->kind == Q_EX_AND) {
            for (uint32_t i = 0; i < cnt; i++) {
                n->t[i] = n->a->t[i] & n->b->t[i];
                n->f[i] = n->a->f[i] | n->b->f[i];
            }
        } else {
            for (uint32_t i = 0; i < cnt; i++) {
                n->t[i] = n->a->t[i] | n->b->t[i];
                n->f[i] = n->a->f[i] & n->b->f[i];
            }
        }
        return 0;
    }
    if (n->kind == Q_EX_NOT) {
        if ((rc = eval_node(n->a, c)))
            return rc;
        memcpy(n->t, n->a->f, cnt);
        memcpy(n->f, n->a->t, cnt);
        return 0;
    }
    return eval_leaf(n, c);
}

int colog__pred_eval(colog_pred_t *pr, colog_bctx_t *c, uint32_t *sel, uint32_t *nsel)
{
    uint32_t k = 0;
    if (pr->root == NULL) {
        for (uint32_t i = 0; i < c->n; i++)
            sel[i] = i;
        *nsel = c->n;
        return 0;
    }
    int rc = eval_node(pr->root, c);
    if (rc)
        return rc;
    const uint8_t *t = pr->root->t;
    for (uint32_t i = 0; i < c->n; i++) {
        sel[k] = i;
        k += t[i];
    }
    *nsel = k;
    return 0;
}

uint64_t colog__expr_colmask(const colog_q_expr_t *e)
{
    if (e == NULL)
        return 0;
    if (e->kind == Q_EX_AND || e->kind == Q_EX_OR)
        return colog__expr_colmask(e->a) | colog__expr_colmask(e->b);
    if (e->kind == Q_EX_NOT)
        return colog__expr_colmask(e->a);
    return (uint64_t)1 << (e->opd.kind == Q_OPD_COL ? e->opd.col : 0);
}

/* ---------------------------------------------------------------- bitmap index planning */

/*
 * The same three-valued logic over whole parts with Roaring bitmaps: an indexed
 * leaf gives T (rows where it is true: the OR of its keys' bitmaps) and, when a
 * `not` above needs it, F (present rows minus T). A leaf without an index gives
 * "unknown" (NULL: any row). The root's T is then a superset of the selected
 * rows, exact when every leaf was indexed.
 */
typedef struct ixr {
    roaring_bitmap_t *t, *f; /* NULL: every row (unknown) */
    bool exact;
} ixr_t;

static void ixr_free(ixr_t *r)
{
    if (r->t)
        roaring_bitmap_free(r->t);
    if (r->f)
        roaring_bitmap_free(r->f);
    r->t = r->f = NULL;
}

/* A leaf ORing more keys than this, covering much of the part, scans instead. */
#define IX_MAX_KEYS 256

/* Where the keys of a leaf go: counted first (dry run: how many keys and rows),
 * then OR-ed into m. */
typedef struct ixacc {
    bool dry;
    uint64_t nkeys, rows;
    roaring_bitmap_t *m;
} ixacc_t;

/* The keys in [lo, hi] (keys of i64 columns are the values' bits, ordered as
 * signed by the index). Decodes only the index chunks it needs. */
static int ix_or_keys(colog_part_t *p, unsigned col, uint64_t lo, uint64_t hi, ixacc_t *acc)
{
    uint32_t i, j;
    uint64_t rows;
    int rc = colog_part_index_range(p, col, lo, hi, &i, &j, &rows);
    if (rc)
        return rc;
    if (!acc->dry)
        return colog_part_index_rows(p, col, i, j, acc->m);
    acc->nkeys += j - i;
    acc->rows += rows;
    return 0;
}

/* Whether every row of the part has a value in col (then "present" is a range). */
static int ix_no_nulls(colog_part_t *p, unsigned col, bool *out)
{
    int rc = colog_part_index_load(p, col);
    if (rc)
        return rc;
    uint64_t sum = 0, n = colog_part_index_nkeys(p, col);
    for (uint32_t i = 0; i < n; i++)
        sum += colog_part_index_card(p, col, i);
    *out = sum == colog_part_rows(p);
    return 0;
}

/* Rows where the column has a value. */
static int ix_present(colog_part_t *p, unsigned col, roaring_bitmap_t *dst)
{
    bool full;
    int rc = ix_no_nulls(p, col, &full);
    if (rc)
        return rc;
    if (full) {
        if (colog_part_rows(p))
            roaring_bitmap_add_range_closed(dst, 0, (uint32_t)(colog_part_rows(p) - 1));
        return 0;
    }
    return colog_part_index_rows(p, col, 0, colog_part_index_nkeys(p, col), dst);
}

/* Visit the index keys a compiled leaf matches. */
static int leaf_keys(const pnode_t *n, colog_part_t *p, ixacc_t *m)
{
    int rc = 0;
    unsigned col = (unsigned)n->col;
    switch (n->lk) {
    case LK_CONST: /* every key, whatever their order */
        if (n->cval && m->dry) {
            m->nkeys += colog_part_index_nkeys(p, col);
            m->rows += colog_part_rows(p);
        } else if (n->cval) {
            rc = colog_part_index_rows(p, col, 0, colog_part_index_nkeys(p, col), m->m);
        }
        break;
    case LK_URANGE:
        rc = ix_or_keys(p, col, n->ulo, n->uhi, m);
        break;
    case LK_IRANGE:
        rc = ix_or_keys(p, col, (uint64_t)n->ilo, (uint64_t)n->ihi, m);
        break;
    case LK_USET:
        for (uint32_t k = 0; k < n->nset && rc == 0; k++)
            rc = ix_or_keys(p, col, n->uset[k], n->uset[k], m);
        break;
    case LK_ISET:
        for (uint32_t k = 0; k < n->nset && rc == 0; k++)
            rc = ix_or_keys(p, col, (uint64_t)n->iset[k], (uint64_t)n->iset[k], m);
        break;
    case LK_CRANGE:
        rc = ix_or_keys(p, col, n->clo, n->chi, m);
        break;
    case LK_CMASK:
        for (uint32_t c = 0; c < n->cn && rc == 0; c++) {
            if (!n->cmask[c])
                continue;
            uint32_t e = c;
            while (e + 1 < n->cn && n->cmask[e + 1])
                e++;
            rc = ix_or_keys(p, col, c, e, m);
            c = e;
        }
        break;
    case LK_FCMP:
    case LK_FSET:
        break;
    }
    return rc;
}

/*
 * The rows a compiled leaf matches, OR-ed into m; -1 when the index should not be
 * used: no index, or a test that would OR many keys covering much of the part
 * (e.g. src_port >= 32768 over ephemeral ports), where reading the bitmaps costs
 * more than scanning the column with its zone maps.
 */
static int leaf_rows(const pnode_t *n, colog_part_t *p, const colog_schema_t *schema,
                     roaring_bitmap_t *m)
{
    colog_type_t t = schema->cols[n->col].type;
    if (n->derive >= 0 || !colog_part_indexed(p, (unsigned)n->col) || t == COLOG_T_TIME ||
        t == COLOG_T_F64 || n->lk == LK_FCMP || n->lk == LK_FSET)
        return -1;
    ixacc_t acc = {.dry = true};
    int rc = leaf_keys(n, p, &acc);
    if (rc)
        return rc;
    if (acc.nkeys > IX_MAX_KEYS && acc.rows > colog_part_rows(p) / 16)
        return -1;
    acc.dry = false;
    acc.m = m;
    return leaf_keys(n, p, &acc);
}

static int ix_node(const pnode_t *n, colog_part_t *p, const colog_schema_t *schema, bool need_t,
                   bool need_f, ixr_t *out, uint32_t *nindexed)
{
    ixr_t a = {0}, b = {0};
    int rc;
    memset(out, 0, sizeof *out);
    if (n->kind == Q_EX_NOT) {
        rc = ix_node(n->a, p, schema, need_f, need_t, &a, nindexed);
        if (rc)
            return rc;
        out->t = a.f;
        out->f = a.t;
        out->exact = a.exact;
        return 0;
    }
    if (n->kind == Q_EX_AND || n->kind == Q_EX_OR) {
        if ((rc = ix_node(n->a, p, schema, need_t, need_f, &a, nindexed)) ||
            (rc = ix_node(n->b, p, schema, need_t, need_f, &b, nindexed))) {
            ixr_free(&a);
            return rc;
        }
        bool and = n->kind == Q_EX_AND;
        /* and: t = ta & tb (unknown side: the other), f = fa | fb (unknown if either);
         * or: the mirror image. */
        roaring_bitmap_t **narrow[2] = {and? &a.t : &a.f, and? &b.t : &b.f};
        roaring_bitmap_t **widen[2] = {and? &a.f : &a.t, and? &b.f : &b.t};
        roaring_bitmap_t *nar = NULL, *wid = NULL;
        if (*narrow[0] && *narrow[1]) {
            roaring_bitmap_and_inplace(*narrow[0], *narrow[1]);
            nar = *narrow[0];
            *narrow[0] = NULL;
        } else if (*narrow[0] || *narrow[1]) {
            roaring_bitmap_t **k = *narrow[0] ? narrow[0] : narrow[1];
            nar = *k;
            *k = NULL;
        }
        if (*widen[0] && *widen[1]) {
            roaring_bitmap_or_inplace(*widen[0], *widen[1]);
            wid = *widen[0];
            *widen[0] = NULL;
        }
        out->t = and? nar : wid;
        out->f = and? wid : nar;
        out->exact = a.exact && b.exact;
        ixr_free(&a);
        ixr_free(&b);
        return 0;
    }
    /* a leaf */
    roaring_bitmap_t *m = roaring_bitmap_create();
    if (m == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    rc = leaf_rows(n, p, schema, m);
    if (rc < 0 && rc != -1) {
        roaring_bitmap_free(m);
        return rc;
    }
    if (rc == -1) { /* no index: unknown */
        roaring_bitmap_free(m);
        return 0;
    }
    bool need_other = n->negate ? need_t : need_f, full = true;
    if (need_other && colog_part_index_nkeys(p, (unsigned)n->col) > IX_MAX_KEYS &&
        (rc = ix_no_nulls(p, (unsigned)n->col, &full)) != 0) {
        roaring_bitmap_free(m);
        return rc;
    }
    if (!full) {
        roaring_bitmap_free(m); /* "present" would OR every key: scan instead */
        return 0;
    }
    (*nindexed)++;
    out->exact = true;
    roaring_bitmap_t *other = NULL;
    if (need_other) {
        other = roaring_bitmap_create();
        if (other == NULL || (rc = ix_present(p, (unsigned)n->col, other)) != 0) {
            roaring_bitmap_free(m);
            if (other)
                roaring_bitmap_free(other);
            return other ? rc : colog_seterr(COLOG_ENOMEM, "out of memory");
        }
        roaring_bitmap_andnot_inplace(other, m); /* present and not matching */
    }
    /* m: rows where the test holds; other: rows present where it does not. */
    out->t = n->negate ? other : m;
    out->f = n->negate ? m : other;
    return 0;
}

int colog__pred_index(colog_pred_t *pr, const colog_schema_t *schema, roaring_bitmap_t **rows,
                      bool *exact, uint32_t *nindexed)
{
    *rows = NULL;
    *exact = false;
    *nindexed = 0;
    if (pr->root == NULL)
        return 0;
    /* The time bounds leaf is never indexed: look below it. */
    const pnode_t *n = pr->root;
    bool has_time = pr->has_time;
    if (has_time && n->kind == Q_EX_AND)
        n = n->b;
    else if (has_time)
        return 0;
    ixr_t r;
    int rc = ix_node(n, pr->part, schema, true, false, &r, nindexed);
    if (rc)
        return rc;
    if (r.f)
        roaring_bitmap_free(r.f);
    *rows = r.t;
    *exact = r.exact && r.t != NULL;
    return 0;
}
