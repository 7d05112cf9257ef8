/*
 * colog_rset.c — result sets: the rows a query produces after its scan (raw
 * events or aggregated groups), their ordering (sort, top, bottom with the tie
 * rule), the result stages, and filters over result rows.
 *
 * Design:
 *  1. A result set is a row-major array of colog_val_t with an arena for the
 *     strings; stages work on it in place.
 *  2. Sorting is stable (ties keep their order), through an index array and
 *     qsort_r; top/bottom N keep a heap of N rows, so a top 10 over millions of
 *     groups costs O(rows log 10), then sort those N.
 *  3. Post-stats `where` uses SQL three-valued logic like the scan predicates:
 *     a test on an absent value is unknown and drops the row.
 */
#include <stdlib.h>
#include <string.h>

#include "colog_exec_int.h"

/* ---------------------------------------------------------------- arena */

struct colog_chunk {
    struct colog_chunk *next;
    size_t used, cap;
    char data[];
};

void *colog__arena_alloc(colog_arena_t *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (a->head == NULL || a->head->cap - a->head->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        struct colog_chunk *c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void colog__arena_clear(colog_arena_t *a)
{
    if (a == NULL)
        return;
    struct colog_chunk *c = a->head;
    while (c) {
        struct colog_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

/* ---------------------------------------------------------------- result sets */

int colog__rset_init(colog_rset_t *r, uint32_t ncols)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    r->arena = calloc(1, sizeof *r->arena);
    return r->arena ? 0 : colog_seterr(COLOG_ENOMEM, "out of memory");
}

void colog__rset_free(colog_rset_t *r)
{
    free(r->vals);
    colog__arena_clear(r->arena);
    free(r->arena);
    memset(r, 0, sizeof *r);
}

colog_val_t *colog__rset_push(colog_rset_t *r)
{
    if (r->nrows == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 1024;
        colog_val_t *nv = realloc(r->vals, nc * r->ncols * sizeof *nv);
        if (nv == NULL)
            return NULL;
        r->vals = nv;
        r->cap = nc;
    }
    colog_val_t *row = r->vals + r->nrows * r->ncols;
    memset(row, 0, r->ncols * sizeof *row);
    r->nrows++;
    return row;
}

const char *colog__rset_strdup(colog_rset_t *r, const char *p, uint32_t len)
{
    char *d = colog__arena_alloc(r->arena, len ? len : 1);
    if (d && len)
        memcpy(d, p, len);
    return d;
}

int colog__bytes_cmp(const char *a, uint32_t la, const char *b, uint32_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

int colog__val_cmp(const colog_rcol_t *c, const colog_val_t *a, const colog_val_t *b)
{
    if (a->null || b->null)
        return (int)b->null - (int)a->null ? ((a->null) ? -1 : 1) : 0;
    switch (c->vt) {
    case Q_VT_INT:
        if (c->is_signed)
            return (a->v.i > b->v.i) - (a->v.i < b->v.i);
        return (a->v.u > b->v.u) - (a->v.u < b->v.u);
    case Q_VT_TIME:
    case Q_VT_DAY:
        return (a->v.i > b->v.i) - (a->v.i < b->v.i);
    case Q_VT_FLOAT:
        return (a->v.f > b->v.f) - (a->v.f < b->v.f);
    case Q_VT_IP:
        return colog_ip_cmp(&a->v.ip, &b->v.ip);
    case Q_VT_STR:
        return colog__bytes_cmp(a->v.s.p, a->v.s.len, b->v.s.p, b->v.s.len);
    }
    return 0;
}

colog_rcol_t colog__col_desc(const colog_schema_t *s, int col, const char *name)
{
    colog_rcol_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    switch (s->cols[col].type) {
    case COLOG_T_TIME:
        r.vt = Q_VT_TIME;
        break;
    case COLOG_T_IP:
        r.vt = Q_VT_IP;
        break;
    case COLOG_T_STRING:
        r.vt = Q_VT_STR;
        break;
    case COLOG_T_F64:
        r.vt = Q_VT_FLOAT;
        break;
    case COLOG_T_I64:
        r.vt = Q_VT_INT;
        r.is_signed = true;
        break;
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
        r.vt = Q_VT_INT;
        break;
    }
    return r;
}

/* Sort a result set's rows with a comparison over row pointers (stable). */
typedef struct sortctx {
    const colog_rset_t *r;
    uint32_t nk;
    const int *cols;
    const bool *desc;
} sortctx_t;

static int row_cmp(const void *a, const void *b, void *arg)
{
    const sortctx_t *sc = arg;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    const colog_val_t *ra = sc->r->vals + ia * sc->r->ncols, *rb = sc->r->vals + ib * sc->r->ncols;
    for (uint32_t k = 0; k < sc->nk; k++) {
        int c = sc->cols[k];
        int d = colog__val_cmp(&sc->r->cols[c], &ra[c], &rb[c]);
        if (d)
            return sc->desc[k] ? -d : d;
    }
    return (ia > ib) - (ia < ib); /* stable */
}

int colog__rset_sort(colog_rset_t *r, uint32_t nk, const int *cols, const bool *desc)
{
    if (r->nrows < 2)
        return 0;
    size_t *idx = malloc(r->nrows * sizeof *idx);
    colog_val_t *nv = malloc(r->nrows * r->ncols * sizeof *nv);
    if (idx == NULL || nv == NULL) {
        free(idx);
        free(nv);
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->nrows; i++)
        idx[i] = i;
    sortctx_t sc = {r, nk, cols, desc};
    qsort_r(idx, r->nrows, sizeof *idx, row_cmp, &sc);
    for (size_t i = 0; i < r->nrows; i++)
        memcpy(nv + i * r->ncols, r->vals + idx[i] * r->ncols, r->ncols * sizeof *nv);
    free(r->vals);
    r->vals = nv;
    r->cap = r->nrows;
    free(idx);
    return 0;
}

/* Keep the first n rows of the order (cols, desc) — a heap selection, then a
 * sort of the n: O(rows log n) instead of sorting every group for a top 10. */
int colog__rset_topn(colog_rset_t *r, uint32_t nk, const int *cols, const bool *desc, uint64_t n)
{
    if (n == 0) {
        r->nrows = 0;
        return 0;
    }
    if (n >= r->nrows / 4) { /* a plain sort is as cheap; then keep n */
        int rc = colog__rset_sort(r, nk, cols, desc);
        if (rc == 0 && r->nrows > n)
            r->nrows = (size_t)n;
        return rc;
    }
    sortctx_t sc = {r, nk, cols, desc};
    size_t *h = malloc(n * sizeof *h), hn = 0;
    if (h == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    /* A max-heap by the order: the root is the worst of the n best so far. */
    for (size_t i = 0; i < r->nrows; i++) {
        size_t k;
        if (hn < n) {
            k = hn++;
            h[k] = i;
            while (k > 0 && row_cmp(&h[(k - 1) / 2], &h[k], &sc) < 0) {
                size_t t = h[k];
                h[k] = h[(k - 1) / 2];
                h[(k - 1) / 2] = t;
                k = (k - 1) / 2;
            }
            continue;
        }
        if (row_cmp(&i, &h[0], &sc) >= 0)
            continue;
        h[0] = i;
        k = 0;
        for (;;) {
            size_t l = 2 * k + 1, m = k;
            if (l < hn && row_cmp(&h[l], &h[m], &sc) > 0)
                m = l;
            if (l + 1 < hn && row_cmp(&h[l + 1], &h[m], &sc) > 0)
                m = l + 1;
            if (m == k)
                break;
            size_t t = h[k];
            h[k] = h[m];
            h[m] = t;
            k = m;
        }
    }
    qsort_r(h, hn, sizeof *h, row_cmp, &sc);
    colog_val_t *nv = malloc(hn * r->ncols * sizeof *nv);
    if (nv == NULL) {
        free(h);
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < hn; i++)
        memcpy(nv + i * r->ncols, r->vals + h[i] * r->ncols, r->ncols * sizeof *nv);
    free(r->vals);
    r->vals = nv;
    r->nrows = r->cap = hn;
    free(h);
    return 0;
}

/* ---------------------------------------------------------------- result stages */

/* colmap: stage column numbers -> result columns (NULL: the same). */
int colog__apply_stages(colog_query_t *q, colog_rset_t *r, const int *colmap, int ntie,
                        const int *tie)
{
#define MAPCOL(c) (colmap ? colmap[c] : (c))
    for (uint32_t i = 0; i < q->nstages; i++) {
        const colog_q_stage_t *st = &q->stages[i];
        int rc = 0;
        switch (st->kind) {
        case Q_ST_WHERE: {
            size_t k = 0;
            for (size_t j = 0; j < r->nrows; j++) {
                colog_val_t *row = r->vals + j * r->ncols;
                if (colog__row_match(st->where, r, row)) {
                    if (k != j)
                        memmove(r->vals + k * r->ncols, row, r->ncols * sizeof *row);
                    k++;
                }
            }
            r->nrows = k;
            break;
        }
        case Q_ST_TOP:
        case Q_ST_BOTTOM: {
            int cols[COLOG_Q_MAX_KEYS + 2];
            bool desc[COLOG_Q_MAX_KEYS + 2];
            uint32_t nk = 0;
            cols[nk] = MAPCOL(st->by);
            desc[nk++] = st->kind == Q_ST_TOP;
            for (int t = 0; t < ntie && nk < COLOG_Q_MAX_KEYS + 2; t++) {
                cols[nk] = tie[t];
                desc[nk++] = false;
            }
            rc = colog__rset_topn(r, nk, cols, desc, st->n);
            break;
        }
        case Q_ST_SORT: {
            int cols[COLOG_Q_MAX_KEYS];
            bool desc[COLOG_Q_MAX_KEYS];
            for (uint32_t k = 0; k < st->nsort; k++) {
                cols[k] = MAPCOL(st->sort[k].col);
                desc[k] = st->sort[k].desc;
            }
            rc = colog__rset_sort(r, st->nsort, cols, desc);
            break;
        }
        case Q_ST_LIMIT:
            if (r->nrows > st->n)
                r->nrows = (size_t)st->n;
            break;
        }
        if (rc)
            return rc;
    }
#undef MAPCOL
    return 0;
}

/* ---------------------------------------------------------------- filters over result rows */

static bool ip_in_cidr(const colog_ip_t *ip, const colog_q_lit_t *l)
{
    for (int bit = 0; bit < l->prefix; bit++) {
        uint8_t m = (uint8_t)(0x80 >> (bit % 8));
        if ((ip->b[bit / 8] & m) != (l->ip.b[bit / 8] & m))
            return false;
    }
    return true;
}

/* Compare a row value with a literal: <0, 0, >0. */
static int lit_cmp(const colog_rcol_t *c, const colog_val_t *v, const colog_q_lit_t *l)
{
    switch (c->vt) {
    case Q_VT_INT: {
        __int128 a = c->is_signed ? (__int128)v->v.i : (__int128)v->v.u;
        __int128 b = l->neg ? -(__int128)l->mag : (__int128)l->mag;
        if (l->kind == Q_LIT_FLOAT) {
            double da = (double)a;
            return (da > l->f) - (da < l->f);
        }
        return (a > b) - (a < b);
    }
    case Q_VT_FLOAT: {
        double b = l->kind == Q_LIT_FLOAT ? l->f : l->neg ? -(double)l->mag : (double)l->mag;
        return (v->v.f > b) - (v->v.f < b);
    }
    case Q_VT_TIME:
        return (v->v.i > l->t_us) - (v->v.i < l->t_us);
    case Q_VT_DAY:
        return (v->v.i > l->day) - (v->v.i < l->day);
    case Q_VT_IP:
        return colog_ip_cmp(&v->v.ip, &l->ip);
    case Q_VT_STR:
        return colog__bytes_cmp(v->v.s.p, v->v.s.len, l->s, l->slen);
    }
    return 0;
}

/* 1 true, 0 false, -1 unknown. */
static int row_eval(const colog_q_expr_t *e, const colog_rset_t *r, const colog_val_t *row)
{
    int a, b;
    switch (e->kind) {
    case Q_EX_AND:
        a = row_eval(e->a, r, row);
        b = row_eval(e->b, r, row);
        return (a == 0 || b == 0) ? 0 : (a == 1 && b == 1) ? 1 : -1;
    case Q_EX_OR:
        a = row_eval(e->a, r, row);
        b = row_eval(e->b, r, row);
        return (a == 1 || b == 1) ? 1 : (a == 0 && b == 0) ? 0 : -1;
    case Q_EX_NOT:
        a = row_eval(e->a, r, row);
        return a < 0 ? -1 : !a;
    case Q_EX_CMP:
    case Q_EX_IN:
    case Q_EX_BETWEEN:
    case Q_EX_CONTAINS:
    case Q_EX_STARTS:
    case Q_EX_ENDS:
        break;
    }
    const colog_rcol_t *c = &r->cols[e->opd.col];
    const colog_val_t *v = &row[e->opd.col];
    if (v->null)
        return -1;
    switch (e->kind) {
    case Q_EX_CMP: {
        int d = lit_cmp(c, v, &e->lits[0]);
        switch (e->cmp) {
        case Q_EQ:
            return d == 0;
        case Q_NE:
            return d != 0;
        case Q_LT:
            return d < 0;
        case Q_LE:
            return d <= 0;
        case Q_GT:
            return d > 0;
        case Q_GE:
            return d >= 0;
        }
        return 0;
    }
    case Q_EX_IN:
        for (uint32_t k = 0; k < e->nlits; k++) {
            if (e->lits[k].kind == Q_LIT_CIDR ? ip_in_cidr(&v->v.ip, &e->lits[k])
                                              : lit_cmp(c, v, &e->lits[k]) == 0)
                return 1;
        }
        return 0;
    case Q_EX_BETWEEN:
        return lit_cmp(c, v, &e->lits[0]) >= 0 && lit_cmp(c, v, &e->lits[1]) <= 0;
    case Q_EX_CONTAINS:
        return e->lits[0].slen == 0 ||
               memmem(v->v.s.p, v->v.s.len, e->lits[0].s, e->lits[0].slen) != NULL;
    case Q_EX_STARTS:
        return v->v.s.len >= e->lits[0].slen &&
               memcmp(v->v.s.p, e->lits[0].s, e->lits[0].slen) == 0;
    case Q_EX_ENDS:
        return v->v.s.len >= e->lits[0].slen &&
               memcmp(v->v.s.p + v->v.s.len - e->lits[0].slen, e->lits[0].s, e->lits[0].slen) == 0;
    case Q_EX_AND:
    case Q_EX_OR:
    case Q_EX_NOT:
        break;
    }
    return 0;
}

bool colog__row_match(const colog_q_expr_t *e, const colog_rset_t *r, const colog_val_t *row)
{
    return row_eval(e, r, row) == 1;
}
