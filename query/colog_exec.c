/*
 * colog_exec.c — run a parsed query over a store: plan the days and columns,
 * scan parts block by block, aggregate, apply the result stages, format.
 *
 * NOTES ON THE DESIGN OF THE EXECUTOR
 *
 *  1. Planning: the days read are those that `range` / `last` and top-level
 *     `and`-ed conditions on ts allow; a part outside the bounds is skipped from
 *     its manifest; a block whose zone maps exclude the predicate is skipped
 *     before decompression (colog_pred.c). Only the columns the query names are
 *     opened and decoded.
 *  2. Aggregation is vectorized per block: the predicate yields a selection
 *     vector; each selected row gets a group id; then each aggregate runs one
 *     tight loop over (group id, value) pairs.
 *  3. Group ids: a key tuple is a fixed row of 64-bit words (one per key, plus a
 *     word of null flags). String and ip keys are interned into query-wide ids
 *     once per part dictionary entry, never per row. With one key of a small
 *     domain (u8/u16 columns, hour, dow, or a part's dictionary codes) a direct
 *     array maps the key to its group id; otherwise an open-addressing hash table
 *     (XXH3 of the key words, linear probing) does.
 *  4. dcount is exact: one hash set of (group id, value) pairs per aggregate; a
 *     group's distinct count is the number of pairs that name it.
 *  5. Raw events come out in time order: days ascending; within a day the rows
 *     of all parts are sorted by time (stable), then written, so memory holds one
 *     day's matching rows at most (all rows when sort/top/bottom need them).
 *  6. Every absent value is NULL in the SQL sense: skipped by aggregates, a group
 *     of its own as a key, unknown in predicates.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "colog_exec_int.h"
#include "colog_pred.h"

/* ---------------------------------------------------------------- arena */

typedef struct colog_arena {
    struct chunk *head;
} colog_arena_t;

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

static void *arena_alloc(colog_arena_t *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (a->head == NULL || a->head->cap - a->head->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        struct chunk *c = malloc(sizeof *c + cap);
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

static void arena_free(colog_arena_t *a)
{
    if (a == NULL)
        return;
    struct chunk *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
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
    arena_free(r->arena);
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
    char *d = arena_alloc(r->arena, len ? len : 1);
    if (d && len)
        memcpy(d, p, len);
    return d;
}

static int bytes_cmp(const char *a, uint32_t la, const char *b, uint32_t lb)
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
        return bytes_cmp(a->v.s.p, a->v.s.len, b->v.s.p, b->v.s.len);
    }
    return 0;
}

/* ---------------------------------------------------------------- interning */

/* Query-wide ids for string and ip values (ids are indexes into the tables). */
typedef struct intern {
    colog_type_t type;
    size_t cap, n;  /* slots, entries */
    uint32_t *slot; /* id + 1, 0 = empty */
    uint64_t *hash; /* per id */
    const char **sp;
    uint32_t *sl;
    colog_ip_t *ips;
    size_t ecap;
    colog_arena_t arena;
} intern_t;

static void intern_free(intern_t *t)
{
    free(t->slot);
    free(t->hash);
    free(t->sp);
    free(t->sl);
    free(t->ips);
    struct chunk *c = t->arena.head;
    while (c) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    memset(t, 0, sizeof *t);
}

static bool intern_eq(const intern_t *t, uint32_t id, const void *p, uint32_t len)
{
    if (t->type == COLOG_T_IP)
        return memcmp(&t->ips[id], p, 16) == 0;
    return t->sl[id] == len && memcmp(t->sp[id], p, len) == 0;
}

static int intern_grow(intern_t *t)
{
    size_t nc = t->cap ? 2 * t->cap : 1024;
    uint32_t *ns = calloc(nc, sizeof *ns);
    if (ns == NULL)
        return COLOG_ENOMEM;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = t->hash[id] & (nc - 1);
        while (ns[i])
            i = (i + 1) & (nc - 1);
        ns[i] = (uint32_t)id + 1;
    }
    free(t->slot);
    t->slot = ns;
    t->cap = nc;
    return 0;
}

/* The id of a value, added if new. -1 on ENOMEM. */
static int64_t intern_get(intern_t *t, const void *p, uint32_t len)
{
    if (t->type == COLOG_T_IP)
        len = 16;
    if ((t->n + 1) * 2 > t->cap && intern_grow(t))
        return -1;
    uint64_t h = XXH3_64bits(p, len);
    size_t i = h & (t->cap - 1);
    while (t->slot[i]) {
        uint32_t id = t->slot[i] - 1;
        if (t->hash[id] == h && intern_eq(t, id, p, len))
            return id;
        i = (i + 1) & (t->cap - 1);
    }
    if (t->n == t->ecap) {
        size_t ne = t->ecap ? 2 * t->ecap : 1024;
        uint64_t *nh = realloc(t->hash, ne * sizeof *nh);
        if (nh == NULL)
            return -1;
        t->hash = nh;
        if (t->type == COLOG_T_IP) {
            colog_ip_t *ni = realloc(t->ips, ne * sizeof *ni);
            if (ni == NULL)
                return -1;
            t->ips = ni;
        } else {
            const char **np = realloc(t->sp, ne * sizeof *np);
            if (np == NULL)
                return -1;
            t->sp = np;
            uint32_t *nl = realloc(t->sl, ne * sizeof *nl);
            if (nl == NULL)
                return -1;
            t->sl = nl;
        }
        t->ecap = ne;
    }
    uint32_t id = (uint32_t)t->n;
    if (t->type == COLOG_T_IP) {
        memcpy(&t->ips[id], p, 16);
    } else {
        char *d = arena_alloc(&t->arena, len ? len : 1);
        if (d == NULL)
            return -1;
        memcpy(d, p, len);
        t->sp[id] = d;
        t->sl[id] = len;
    }
    t->hash[id] = h;
    t->slot[i] = id + 1;
    t->n++;
    return id;
}

static int intern_cmp(const intern_t *t, uint64_t a, uint64_t b)
{
    if (t->type == COLOG_T_IP)
        return colog_ip_cmp(&t->ips[a], &t->ips[b]);
    return bytes_cmp(t->sp[a], t->sl[a], t->sp[b], t->sl[b]);
}

/* ---------------------------------------------------------------- group table */

typedef struct gtab {
    uint32_t W;        /* words per key */
    size_t cap, n;     /* slots, groups */
    uint32_t *slot;    /* gid + 1 */
    uint64_t *keys;    /* n * W */
    uint64_t *hash;    /* per gid */
    size_t kcap;       /* groups the keys array holds */
} gtab_t;

static int gtab_grow(gtab_t *g)
{
    size_t nc = g->cap ? 2 * g->cap : 1024;
    uint32_t *ns = calloc(nc, sizeof *ns);
    if (ns == NULL)
        return COLOG_ENOMEM;
    for (size_t id = 0; id < g->n; id++) {
        size_t i = g->hash[id] & (nc - 1);
        while (ns[i])
            i = (i + 1) & (nc - 1);
        ns[i] = (uint32_t)id + 1;
    }
    free(g->slot);
    g->slot = ns;
    g->cap = nc;
    return 0;
}

/* gid of key (W words), added if new. -1 on ENOMEM or too many groups. */
static int64_t gtab_get(gtab_t *g, const uint64_t *key)
{
    if ((g->n + 1) * 2 > g->cap && gtab_grow(g))
        return -1;
    uint64_t h = XXH3_64bits(key, g->W * 8);
    size_t i = h & (g->cap - 1);
    while (g->slot[i]) {
        uint32_t id = g->slot[i] - 1;
        if (g->hash[id] == h && memcmp(g->keys + (size_t)id * g->W, key, g->W * 8) == 0)
            return id;
        i = (i + 1) & (g->cap - 1);
    }
    if (g->n >= UINT32_MAX - 1)
        return -1;
    if (g->n == g->kcap) {
        size_t nk = g->kcap ? 2 * g->kcap : 1024;
        uint64_t *kk = realloc(g->keys, nk * g->W * 8);
        if (kk == NULL)
            return -1;
        g->keys = kk;
        uint64_t *hh = realloc(g->hash, nk * 8);
        if (hh == NULL)
            return -1;
        g->hash = hh;
        g->kcap = nk;
    }
    uint32_t id = (uint32_t)g->n;
    memcpy(g->keys + (size_t)id * g->W, key, g->W * 8);
    g->hash[id] = h;
    g->slot[i] = id + 1;
    g->n++;
    return id;
}

static void gtab_free(gtab_t *g)
{
    free(g->slot);
    free(g->keys);
    free(g->hash);
}

/* (gid, value) pairs for exact dcount. */
typedef struct pairset {
    size_t cap, n;
    uint64_t *k; /* 2 words a slot: gid + 1 (0 = empty), value */
} pairset_t;

static int pairset_add(pairset_t *s, uint64_t gid, uint64_t v)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        uint64_t *nk = calloc(nc * 2, 8);
        if (nk == NULL)
            return COLOG_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (s->k[2 * i] == 0)
                continue;
            size_t j = XXH3_64bits(&s->k[2 * i], 16) & (nc - 1);
            while (nk[2 * j])
                j = (j + 1) & (nc - 1);
            nk[2 * j] = s->k[2 * i];
            nk[2 * j + 1] = s->k[2 * i + 1];
        }
        free(s->k);
        s->k = nk;
        s->cap = nc;
    }
    uint64_t key[2] = {gid + 1, v};
    size_t j = XXH3_64bits(key, 16) & (s->cap - 1);
    while (s->k[2 * j]) {
        if (s->k[2 * j] == key[0] && s->k[2 * j + 1] == v)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->k[2 * j] = key[0];
    s->k[2 * j + 1] = v;
    s->n++;
    return 0;
}

/* ---------------------------------------------------------------- aggregation state */

typedef struct aggst {
    const colog_q_agg_t *a;
    colog_type_t ctype; /* column type (count(): COLOG_T_U64) */
    uint64_t *cnt;      /* per gid: rows (count()) or present values */
    union {
        uint64_t *u;
        int64_t *i;
        double *f;
    } acc;               /* sum, min or max */
    uint32_t *pbest;     /* dictionary min/max: best code of the current part */
    pairset_t ps;        /* dcount */
    bool overflow;
} aggst_t;

typedef struct exec {
    colog_query_t *q;
    colog_store_t *st;
    const colog_schema_t *schema;
    colog_tz_t *tz;
    gtab_t g;
    size_t gcap; /* groups the aggregate arrays hold */
    aggst_t agg[COLOG_Q_MAX_AGGS];
    intern_t in_str, in_ip;
    /* Per part: intern ids of each dictionary column's codes. */
    uint64_t *remap[COLOG_MAX_COLS];
    uint32_t remap_n[COLOG_MAX_COLS];
    /* Direct key -> gid + 1 map for one small-domain key. */
    uint32_t *direct;
    size_t direct_n;
    bool direct_per_part; /* dictionary codes: reset at each part */
    int64_t null_gid;     /* gid of the all-null key for the direct path, -1 */
    /* Scratch for one block. */
    const uint32_t *sel; /* the scan's selection vector */
    uint32_t *gid;
    uint64_t *kw;
    uint64_t stats_blocks_read, stats_blocks_skipped;
} exec_t;

static intern_t *intern_for(exec_t *x, colog_type_t t)
{
    return t == COLOG_T_IP ? &x->in_ip : &x->in_str;
}

static int ensure_groups(exec_t *x)
{
    if (x->g.n <= x->gcap)
        return 0;
    size_t nc = x->gcap ? x->gcap : 1024;
    while (nc < x->g.n)
        nc *= 2;
    for (uint32_t k = 0; k < x->q->naggs; k++) {
        aggst_t *s = &x->agg[k];
        uint64_t *c = realloc(s->cnt, nc * 8);
        if (c == NULL)
            return COLOG_ENOMEM;
        memset(c + x->gcap, 0, (nc - x->gcap) * 8);
        s->cnt = c;
        if (s->a->kind != Q_AGG_COUNT && s->a->kind != Q_AGG_DCOUNT) {
            uint64_t *v = realloc(s->acc.u, nc * 8);
            if (v == NULL)
                return COLOG_ENOMEM;
            memset(v + x->gcap, 0, (nc - x->gcap) * 8);
            s->acc.u = v;
        }
        if (s->pbest) {
            uint32_t *pb = realloc(s->pbest, nc * 4);
            if (pb == NULL)
                return COLOG_ENOMEM;
            memset(pb + x->gcap, 0xff, (nc - x->gcap) * 4);
            s->pbest = pb;
        }
    }
    x->gcap = nc;
    return 0;
}

/* ---------------------------------------------------------------- keys */

static int64_t floordiv64(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Fill word k of each selected row's key (W words a row), and null flags. */
static int key_words(exec_t *x, colog_bctx_t *c, uint32_t k, uint32_t nsel)
{
    const colog_q_key_t *key = &x->q->keys[k];
    uint32_t W = x->g.W;
    uint64_t *kw = x->kw;
    const uint32_t *sel = x->sel;
    const int64_t *dv;
    int rc;
    switch (key->kind) {
    case Q_KEY_HOUR:
    case Q_KEY_DOW:
    case Q_KEY_DAY:
        rc = colog__bctx_derived(c, key->kind == Q_KEY_HOUR ? 0 : key->kind == Q_KEY_DOW ? 1 : 2,
                                 &dv);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < nsel; j++)
            kw[(size_t)j * W + k] = (uint64_t)dv[sel[j]];
        return 0;
    case Q_KEY_BIN:
        rc = colog__bctx_local(c, &dv);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < nsel; j++)
            kw[(size_t)j * W + k] = (uint64_t)(floordiv64(dv[sel[j]], key->bin_us) * key->bin_us);
        return 0;
    case Q_KEY_COL:
        break;
    }
    const colog_block_t *blk;
    const uint8_t *valid;
    rc = colog__bctx_col(c, (unsigned)key->col, &blk);
    if (rc == 0)
        rc = colog__bctx_valid(c, (unsigned)key->col, &valid);
    if (rc)
        return rc;
    if (colog_type_is_dict(blk->type)) {
        const uint64_t *rm = x->remap[key->col];
        uint32_t rn = x->remap_n[key->col];
        for (uint32_t j = 0; j < nsel; j++) {
            uint32_t code = blk->v.code[sel[j]];
            kw[(size_t)j * W + k] = code < rn ? rm[code] : 0;
        }
    } else {
        for (uint32_t j = 0; j < nsel; j++)
            kw[(size_t)j * W + k] = blk->v.u64[sel[j]]; /* i64/f64 bits alike */
    }
    if (valid) {
        for (uint32_t j = 0; j < nsel; j++) {
            if (!valid[sel[j]]) {
                kw[(size_t)j * W + k] = 0;
                kw[(size_t)j * W + W - 1] |= (uint64_t)1 << k;
            }
        }
    }
    return 0;
}

/* The direct map applies to one key of a small domain. */
static size_t direct_domain(const exec_t *x, colog_part_t *p)
{
    if (x->q->nkeys != 1)
        return 0;
    const colog_q_key_t *k = &x->q->keys[0];
    if (k->kind == Q_KEY_HOUR)
        return 24;
    if (k->kind == Q_KEY_DOW)
        return 8;
    if (k->kind != Q_KEY_COL)
        return 0;
    colog_type_t t = x->schema->cols[k->col].type;
    if (t == COLOG_T_U8)
        return 256;
    if (t == COLOG_T_U16)
        return 65536;
    if (colog_type_is_dict(t) && p) {
        const colog_dictview_t *d;
        if (colog_part_dict(p, (unsigned)k->col, &d) == 0 && d->n <= (1u << 22))
            return d->n ? d->n : 1;
    }
    return 0;
}


/* Group ids of the selected rows of a block (x->gid). */
static int block_gids(exec_t *x, colog_bctx_t *c, uint32_t nsel)
{
    uint32_t W = x->g.W;
    int rc;
    if (x->q->nkeys == 0) {
        memset(x->gid, 0, nsel * sizeof *x->gid);
        return 0;
    }
    memset(x->kw, 0, (size_t)nsel * W * 8);
    for (uint32_t k = 0; k < x->q->nkeys; k++) {
        rc = key_words(x, c, k, nsel);
        if (rc)
            return rc;
    }
    for (uint32_t j = 0; j < nsel; j++) {
        const uint64_t *key = x->kw + (size_t)j * W;
        if (x->direct && key[W - 1] == 0 && key[0] < x->direct_n) {
            uint32_t g = x->direct[key[0]];
            if (g) {
                x->gid[j] = g - 1;
                continue;
            }
        }
        int64_t g = gtab_get(&x->g, key);
        if (g < 0)
            return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
        if (x->direct && key[W - 1] == 0 && key[0] < x->direct_n)
            x->direct[key[0]] = (uint32_t)g + 1;
        x->gid[j] = (uint32_t)g;
    }
    return 0;
}

static bool agg_is_dict(const exec_t *x, const aggst_t *s)
{
    return s->a->col >= 0 && colog_type_is_dict(x->schema->cols[s->a->col].type);
}

static int agg_block(exec_t *x, aggst_t *s, colog_bctx_t *c, uint32_t nsel)
{
    const uint32_t *sel = x->sel, *gid = x->gid;
    uint64_t *cnt = s->cnt;
    if (s->a->kind == Q_AGG_COUNT) {
        for (uint32_t j = 0; j < nsel; j++)
            cnt[gid[j]]++;
        return 0;
    }
    const colog_block_t *blk;
    const uint8_t *valid;
    int rc = colog__bctx_col(c, (unsigned)s->a->col, &blk);
    if (rc == 0)
        rc = colog__bctx_valid(c, (unsigned)s->a->col, &valid);
    if (rc)
        return rc;
    colog_type_t t = s->ctype;
    bool is_f = t == COLOG_T_F64, is_s = t == COLOG_T_TIME || t == COLOG_T_I64;
    for (uint32_t j = 0; j < nsel; j++) {
        uint32_t r = sel[j], g = gid[j];
        if (valid && !valid[r])
            continue;
        switch (s->a->kind) {
        case Q_AGG_SUM:
            if (is_f)
                s->acc.f[g] += blk->v.f64[r];
            else if (is_s)
                s->overflow |= __builtin_add_overflow(s->acc.i[g], blk->v.i64[r], &s->acc.i[g]);
            else
                s->overflow |= __builtin_add_overflow(s->acc.u[g], blk->v.u64[r], &s->acc.u[g]);
            break;
        case Q_AGG_AVG:
            s->acc.f[g] += is_f ? blk->v.f64[r] : is_s ? (double)blk->v.i64[r] : (double)blk->v.u64[r];
            break;
        case Q_AGG_MIN:
        case Q_AGG_MAX: {
            bool mx = s->a->kind == Q_AGG_MAX;
            if (s->pbest) {
                uint32_t code = blk->v.code[r];
                uint32_t cur = s->pbest[g];
                if (cur == UINT32_MAX || (mx ? code > cur : code < cur))
                    s->pbest[g] = code;
            } else if (is_f) {
                double v = blk->v.f64[r];
                if (cnt[g] == 0 || (mx ? v > s->acc.f[g] : v < s->acc.f[g]))
                    s->acc.f[g] = v;
            } else if (is_s) {
                int64_t v = blk->v.i64[r];
                if (cnt[g] == 0 || (mx ? v > s->acc.i[g] : v < s->acc.i[g]))
                    s->acc.i[g] = v;
            } else {
                uint64_t v = blk->v.u64[r];
                if (cnt[g] == 0 || (mx ? v > s->acc.u[g] : v < s->acc.u[g]))
                    s->acc.u[g] = v;
            }
            break;
        }
        case Q_AGG_DCOUNT: {
            uint64_t v;
            if (agg_is_dict(x, s)) {
                uint32_t code = blk->v.code[r];
                v = code < x->remap_n[s->a->col] ? x->remap[s->a->col][code] : 0;
            } else if (is_f) {
                double d = blk->v.f64[r];
                if (d == 0)
                    d = 0; /* -0.0 and 0.0 are one value */
                memcpy(&v, &d, 8);
            } else {
                v = blk->v.u64[r];
            }
            if (pairset_add(&s->ps, g, v))
                return colog_seterr(COLOG_ENOMEM, "out of memory for dcount");
            break;
        }
        case Q_AGG_COUNT:
            break;
        }
        cnt[g]++;
    }
    return 0;
}

/* At the end of a part: fold the part's best dictionary codes into query-wide ids
 * (acc.u holds id + 1, 0 = none). */
static void fold_dict_minmax(exec_t *x, aggst_t *s)
{
    intern_t *in = intern_for(x, s->ctype);
    bool mx = s->a->kind == Q_AGG_MAX;
    for (size_t g = 0; g < x->g.n && g < x->gcap; g++) {
        uint32_t code = s->pbest[g];
        if (code == UINT32_MAX)
            continue;
        s->pbest[g] = UINT32_MAX;
        if (code >= x->remap_n[s->a->col])
            continue;
        uint64_t id = x->remap[s->a->col][code];
        uint64_t cur = s->acc.u[g];
        if (cur == 0 || (mx ? intern_cmp(in, id, cur - 1) > 0 : intern_cmp(in, id, cur - 1) < 0))
            s->acc.u[g] = id + 1;
    }
}

/* Intern the dictionary of every string/ip column the aggregation reads. */
static int part_remaps(exec_t *x, colog_part_t *p, uint64_t dictcols)
{
    for (unsigned col = 0; col < x->schema->ncols; col++) {
        if (!(dictcols >> col & 1))
            continue;
        const colog_dictview_t *d;
        int rc = colog_part_dict(p, col, &d);
        if (rc)
            return rc;
        uint64_t *rm = realloc(x->remap[col], (d->n ? d->n : 1) * sizeof *rm);
        if (rm == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
        x->remap[col] = rm;
        x->remap_n[col] = d->n;
        intern_t *in = intern_for(x, d->type);
        for (uint32_t i = 0; i < d->n; i++) {
            int64_t id = d->type == COLOG_T_IP
                             ? intern_get(in, &d->ips[i], 16)
                             : intern_get(in, d->bytes + d->offs[i], d->offs[i + 1] - d->offs[i]);
            if (id < 0)
                return colog_seterr(COLOG_ENOMEM, "out of memory");
            rm[i] = (uint64_t)id;
        }
    }
    /* A direct map over dictionary ids grows with the interned values. */
    if (x->direct_per_part) {
        const colog_q_key_t *k = &x->q->keys[0];
        size_t need = intern_for(x, x->schema->cols[k->col].type)->n;
        if (need > x->direct_n) {
            uint32_t *nd = realloc(x->direct, need * sizeof *nd);
            if (nd == NULL)
                return colog_seterr(COLOG_ENOMEM, "out of memory");
            memset(nd + x->direct_n, 0, (need - x->direct_n) * sizeof *nd);
            x->direct = nd;
            x->direct_n = need;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- scan planning */

typedef struct plan {
    int64_t lo, hi; /* inclusive ts bounds */
    uint64_t colmask;
} plan_t;

/* Tighten [lo, hi] with top-level and-ed tests on ts. */
static void ts_bounds(const colog_q_expr_t *e, int64_t *lo, int64_t *hi)
{
    if (e == NULL)
        return;
    if (e->kind == Q_EX_AND) {
        ts_bounds(e->a, lo, hi);
        ts_bounds(e->b, lo, hi);
        return;
    }
    if (e->opd.kind != Q_OPD_COL || e->opd.col != 0)
        return;
    if (e->kind == Q_EX_BETWEEN) {
        if (e->lits[0].t_us > *lo)
            *lo = e->lits[0].t_us;
        if (e->lits[1].t_us < *hi)
            *hi = e->lits[1].t_us;
        return;
    }
    if (e->kind != Q_EX_CMP)
        return;
    int64_t v = e->lits[0].t_us;
    switch (e->cmp) {
    case Q_EQ:
        *lo = v > *lo ? v : *lo;
        *hi = v < *hi ? v : *hi;
        break;
    case Q_GT:
        if (v != INT64_MAX && v + 1 > *lo)
            *lo = v + 1;
        break;
    case Q_GE:
        if (v > *lo)
            *lo = v;
        break;
    case Q_LT:
        if (v != INT64_MIN && v - 1 < *hi)
            *hi = v - 1;
        break;
    case Q_LE:
        if (v < *hi)
            *hi = v;
        break;
    case Q_NE:
        break;
    }
}

static void make_plan(const colog_query_t *q, plan_t *pl)
{
    pl->lo = q->t_lo;
    pl->hi = q->t_hi == INT64_MAX ? INT64_MAX : q->t_hi - 1;
    ts_bounds(q->scan_where, &pl->lo, &pl->hi);
    pl->colmask = 1 | colog__expr_colmask(q->scan_where);
    if (q->has_stats) {
        for (uint32_t k = 0; k < q->nkeys; k++)
            pl->colmask |= (uint64_t)1 << q->keys[k].col;
        for (uint32_t k = 0; k < q->naggs; k++)
            if (q->aggs[k].col >= 0)
                pl->colmask |= (uint64_t)1 << q->aggs[k].col;
    } else {
        for (uint32_t k = 0; k < q->nfields; k++)
            pl->colmask |= (uint64_t)1 << q->fields[k];
    }
}

/* Run fn over every block of every part that may hold selected rows. */
typedef int (*block_fn)(void *ctx, colog_bctx_t *c, const uint32_t *sel, uint32_t nsel);
typedef int (*part_fn)(void *ctx, colog_part_t *p, size_t nparts, bool end);

static int scan_day(colog_query_t *q, colog_store_t *st, const plan_t *pl, int32_t day,
                    colog_bctx_t *c, uint32_t *sel, part_fn pf, block_fn bf, void *ctx,
                    bool *stop)
{
    colog_snap_t *snap;
    int rc = colog_snap_day(st, day, pl->colmask, &snap);
    if (rc)
        return rc;
    for (size_t i = 0; i < colog_snap_nparts(snap) && !*stop; i++) {
        colog_part_t *p = colog_snap_part(snap, i);
        if (colog_part_ts_max(p) < pl->lo || colog_part_ts_min(p) > pl->hi)
            continue;
        colog_pred_t *pr;
        rc = colog__pred_compile(q->scan_where, q->t_lo, q->t_hi, p, q->schema, &pr);
        if (rc)
            break;
        if (pf)
            rc = pf(ctx, p, colog_snap_nparts(snap), false);
        for (uint32_t b = 0; rc == 0 && b < colog_part_nblocks(p) && !*stop; b++) {
            bool maybe;
            colog_zone_t z;
            rc = colog__pred_maybe(pr, p, b, &maybe);
            if (rc || !maybe)
                continue;
            rc = colog_part_zone(p, 0, b, &z);
            if (rc)
                break;
            colog__bctx_reset(c, p, b, z.nrows);
            uint32_t nsel;
            rc = colog__pred_eval(pr, c, sel, &nsel);
            if (rc == 0 && nsel)
                rc = bf(ctx, c, sel, nsel);
        }
        if (rc == 0 && pf)
            rc = pf(ctx, p, colog_snap_nparts(snap), true);
        colog__pred_free(pr);
        if (rc)
            break;
    }
    colog_snap_free(snap);
    return rc;
}

static int scan(colog_query_t *q, colog_store_t *st, const plan_t *pl, part_fn pf, block_fn bf,
                void *ctx, int (*day_done)(void *ctx, bool *stop))
{
    int32_t *days = NULL;
    size_t ndays = 0;
    colog_bctx_t c;
    bool stop = false;
    int rc = colog_store_days(st, &days, &ndays);
    if (rc)
        return rc;
    uint32_t *sel = malloc(COLOG_BLOCK_ROWS * sizeof *sel);
    rc = sel ? colog__bctx_init(&c, q->tz) : colog_seterr(COLOG_ENOMEM, "out of memory");
    if (rc)
        goto out_days;
    /* A day directory holds the events of that UTC day. */
    int32_t dlo = pl->lo == INT64_MIN ? INT32_MIN : colog_day_of(pl->lo);
    int32_t dhi = pl->hi == INT64_MAX ? INT32_MAX : colog_day_of(pl->hi);
    for (size_t i = 0; i < ndays && rc == 0 && !stop; i++) {
        if (days[i] < dlo || days[i] > dhi)
            continue;
        rc = scan_day(q, st, pl, days[i], &c, sel, pf, bf, ctx, &stop);
        if (rc == 0 && day_done)
            rc = day_done(ctx, &stop);
    }
    colog__bctx_free(&c);
out_days:
    free(sel);
    free(days);
    return rc;
}

/* ---------------------------------------------------------------- stats */

static int stats_part(void *ctx, colog_part_t *p, size_t nparts, bool end)
{
    exec_t *x = ctx;
    (void)nparts;
    if (end) {
        for (uint32_t k = 0; k < x->q->naggs; k++)
            if (x->agg[k].pbest)
                fold_dict_minmax(x, &x->agg[k]);
        return 0;
    }
    uint64_t dictcols = 0;
    for (uint32_t k = 0; k < x->q->nkeys; k++)
        if (x->q->keys[k].kind == Q_KEY_COL &&
            colog_type_is_dict(x->schema->cols[x->q->keys[k].col].type))
            dictcols |= (uint64_t)1 << x->q->keys[k].col;
    for (uint32_t k = 0; k < x->q->naggs; k++)
        if (agg_is_dict(x, &x->agg[k]))
            dictcols |= (uint64_t)1 << x->q->aggs[k].col;
    return part_remaps(x, p, dictcols);
}

static int stats_block(void *ctx, colog_bctx_t *c, const uint32_t *sel, uint32_t nsel)
{
    exec_t *x = ctx;
    x->sel = sel;
    int rc = block_gids(x, c, nsel);
    if (rc)
        return rc;
    if (ensure_groups(x))
        return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
    for (uint32_t k = 0; k < x->q->naggs; k++) {
        rc = agg_block(x, &x->agg[k], c, nsel);
        if (rc)
            return rc;
    }
    return 0;
}

static colog_rcol_t col_desc(const colog_schema_t *s, int col, const char *name)
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

/* A value of a schema column from raw 64 bits (or an intern id for dict types). */
static int col_value(exec_t *x, colog_rset_t *r, colog_type_t t, uint64_t w, colog_val_t *v)
{
    switch (t) {
    case COLOG_T_IP:
        v->v.ip = x->in_ip.ips[w];
        return 0;
    case COLOG_T_STRING:
        v->v.s.len = x->in_str.sl[w];
        v->v.s.p = colog__rset_strdup(r, x->in_str.sp[w], v->v.s.len);
        return v->v.s.p ? 0 : COLOG_ENOMEM;
    case COLOG_T_TIME:
    case COLOG_T_I64:
    case COLOG_T_F64:
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
        v->v.u = w;
        return 0;
    }
    return 0;
}

static int stats_result(exec_t *x, colog_rset_t *r)
{
    colog_query_t *q = x->q;
    int rc = colog__rset_init(r, colog_q_noutputs(q));
    if (rc)
        return rc;
    for (uint32_t k = 0; k < q->nkeys; k++) {
        const colog_q_key_t *key = &q->keys[k];
        colog_rcol_t *c = &r->cols[k];
        if (key->kind == Q_KEY_COL) {
            *c = col_desc(q->schema, key->col, key->name);
        } else {
            snprintf(c->name, sizeof c->name, "%s", key->name);
            c->vt = key->vt;
            c->is_signed = true;
        }
    }
    for (uint32_t k = 0; k < q->naggs; k++) {
        const colog_q_agg_t *a = &q->aggs[k];
        colog_rcol_t *c = &r->cols[q->nkeys + k];
        if (a->kind == Q_AGG_MIN || a->kind == Q_AGG_MAX) {
            *c = col_desc(q->schema, a->col, a->name);
        } else {
            snprintf(c->name, sizeof c->name, "%s", a->name);
            c->vt = a->vt;
            c->is_signed = a->kind == Q_AGG_SUM && (x->agg[k].ctype == COLOG_T_I64 ||
                                                    x->agg[k].ctype == COLOG_T_TIME);
            if (a->kind == Q_AGG_SUM && x->agg[k].ctype == COLOG_T_F64)
                c->vt = Q_VT_FLOAT;
        }
        if (x->agg[k].overflow)
            return colog_seterr(COLOG_ERANGE, "%s: sum overflows 64 bits", a->name);
    }
    /* dcount per group */
    uint64_t *dc[COLOG_Q_MAX_AGGS] = {0};
    for (uint32_t k = 0; k < q->naggs; k++) {
        if (q->aggs[k].kind != Q_AGG_DCOUNT)
            continue;
        dc[k] = calloc(x->g.n ? x->g.n : 1, 8);
        if (dc[k] == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out;
        }
        pairset_t *ps = &x->agg[k].ps;
        for (size_t i = 0; i < ps->cap; i++)
            if (ps->k[2 * i])
                dc[k][ps->k[2 * i] - 1]++;
    }
    uint32_t W = x->g.W;
    for (size_t g = 0; g < x->g.n; g++) {
        colog_val_t *row = colog__rset_push(r);
        if (row == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out;
        }
        const uint64_t *key = x->g.keys + g * W;
        for (uint32_t k = 0; k < q->nkeys; k++) {
            const colog_q_key_t *kk = &q->keys[k];
            colog_val_t *v = &row[k];
            if (key[W - 1] >> k & 1) {
                v->null = true;
                continue;
            }
            if (kk->kind == Q_KEY_COL) {
                rc = col_value(x, r, q->schema->cols[kk->col].type, key[k], v);
                if (rc) {
                    colog_seterr(rc, "out of memory");
                    goto out;
                }
            } else if (kk->kind == Q_KEY_BIN) {
                int64_t local = (int64_t)key[k];
                int64_t guess = local - (int64_t)colog_tz_offset(q->tz, local) * 1000000;
                v->v.i = local - (int64_t)colog_tz_offset(q->tz, guess) * 1000000;
            } else {
                v->v.i = (int64_t)key[k];
            }
        }
        for (uint32_t k = 0; k < q->naggs; k++) {
            const aggst_t *s = &x->agg[k];
            colog_val_t *v = &row[q->nkeys + k];
            uint64_t n = s->cnt[g];
            switch (s->a->kind) {
            case Q_AGG_COUNT:
                v->v.u = n;
                break;
            case Q_AGG_DCOUNT:
                v->v.u = dc[k][g];
                break;
            case Q_AGG_AVG:
                v->null = n == 0;
                v->v.f = n ? s->acc.f[g] / (double)n : 0;
                break;
            case Q_AGG_SUM:
                v->null = n == 0;
                v->v.u = s->acc.u[g];
                break;
            case Q_AGG_MIN:
            case Q_AGG_MAX:
                v->null = n == 0;
                if (n == 0)
                    break;
                if (s->pbest)
                    rc = col_value(x, r, s->ctype, s->acc.u[g] - 1, v);
                else
                    v->v.u = s->acc.u[g];
                if (rc) {
                    colog_seterr(rc, "out of memory");
                    goto out;
                }
                break;
            }
        }
    }
out:
    for (uint32_t k = 0; k < q->naggs; k++)
        free(dc[k]);
    return rc;
}

static int exec_stats(colog_query_t *q, colog_store_t *st, const plan_t *pl, colog_rset_t *r)
{
    exec_t x;
    int rc = 0;
    memset(&x, 0, sizeof x);
    x.q = q;
    x.st = st;
    x.schema = q->schema;
    x.tz = q->tz;
    x.g.W = q->nkeys + 1;
    x.in_str.type = COLOG_T_STRING;
    x.in_ip.type = COLOG_T_IP;
    x.null_gid = -1;
    x.gid = malloc(COLOG_BLOCK_ROWS * sizeof *x.gid);
    x.kw = malloc((size_t)COLOG_BLOCK_ROWS * x.g.W * 8);
    if (x.gid == NULL || x.kw == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t k = 0; k < q->naggs; k++) {
        aggst_t *s = &x.agg[k];
        s->a = &q->aggs[k];
        s->ctype = s->a->col >= 0 ? q->schema->cols[s->a->col].type : COLOG_T_U64;
        if ((s->a->kind == Q_AGG_MIN || s->a->kind == Q_AGG_MAX) && agg_is_dict(&x, s)) {
            s->pbest = malloc(4);
            if (s->pbest == NULL) {
                rc = colog_seterr(COLOG_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
    size_t dom = direct_domain(&x, NULL);
    if (q->nkeys == 1 && q->keys[0].kind == Q_KEY_COL &&
        colog_type_is_dict(q->schema->cols[q->keys[0].col].type)) {
        x.direct_per_part = true; /* sized by part_remaps */
    } else if (dom) {
        x.direct = calloc(dom, sizeof *x.direct);
        if (x.direct == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out;
        }
        x.direct_n = dom;
    }
    if (q->nkeys == 0) { /* one group, even over no rows */
        uint64_t zero = 0;
        if (gtab_get(&x.g, &zero) < 0 || ensure_groups(&x)) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out;
        }
    }
    /* The scan's selection vector is the executor's. */
    rc = scan(q, st, pl, stats_part, stats_block, &x, NULL);
    if (rc == 0)
        rc = stats_result(&x, r);
out:
    for (uint32_t k = 0; k < q->naggs; k++) {
        free(x.agg[k].cnt);
        free(x.agg[k].acc.u);
        free(x.agg[k].pbest);
        free(x.agg[k].ps.k);
    }
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++)
        free(x.remap[c]);
    gtab_free(&x.g);
    intern_free(&x.in_str);
    intern_free(&x.in_ip);
    free(x.direct);
    free(x.gid);
    free(x.kw);
    return rc;
}

/* ---------------------------------------------------------------- raw events */

typedef struct rawx {
    colog_query_t *q;
    colog_rset_t day;  /* this day's rows: the fields, then ts (hidden) */
    colog_rset_t *all; /* rows kept for sort/top/bottom, or NULL to stream */
    colog_out_t *out;
    uint64_t limit;    /* stream: stop after this many rows */
    uint64_t emitted;
    uint32_t nf;       /* fields printed: the first nf columns */
    uint32_t ncol;     /* columns held: fields, ts, then columns stages rank on */
    int field[2 * COLOG_MAX_COLS + 1];
    int pos[COLOG_MAX_COLS]; /* schema column -> held column (first), -1 */
    bool one_part;     /* the day has one part: rows are in time order already */
} rawx_t;

static int raw_flush(rawx_t *x, bool *stop);

static int raw_part(void *ctx, colog_part_t *p, size_t nparts, bool end)
{
    rawx_t *x = ctx;
    (void)p;
    (void)end;
    x->one_part = nparts == 1;
    return 0;
}

static int raw_block(void *ctx, colog_bctx_t *c, const uint32_t *sel, uint32_t nsel)
{
    rawx_t *x = ctx;
    const colog_schema_t *s = x->q->schema;
    size_t base = x->day.nrows;
    for (uint32_t j = 0; j < nsel; j++)
        if (colog__rset_push(&x->day) == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
    for (uint32_t f = 0; f < x->ncol; f++) {
        unsigned col = (unsigned)x->field[f];
        const colog_block_t *blk;
        const uint8_t *valid;
        const colog_dictview_t *d = NULL;
        int rc = colog__bctx_col(c, col, &blk);
        if (rc == 0)
            rc = colog__bctx_valid(c, col, &valid);
        if (rc == 0 && colog_type_is_dict(s->cols[col].type))
            rc = colog_part_dict(c->part, col, &d);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < nsel; j++) {
            uint32_t r = sel[j];
            colog_val_t *v = &x->day.vals[(base + j) * x->day.ncols + f];
            if (valid && !valid[r]) {
                v->null = true;
                continue;
            }
            if (d == NULL) {
                v->v.u = blk->v.u64[r];
                continue;
            }
            uint32_t code = blk->v.code[r];
            if (code >= d->n)
                return colog_seterr(COLOG_ECORRUPT, "block %u: code %u outside the dictionary",
                                    c->b, code);
            if (d->type == COLOG_T_IP) {
                v->v.ip = d->ips[code];
            } else {
                v->v.s.len = d->offs[code + 1] - d->offs[code];
                v->v.s.p = colog__rset_strdup(&x->day, d->bytes + d->offs[code], v->v.s.len);
                if (v->v.s.p == NULL)
                    return colog_seterr(COLOG_ENOMEM, "out of memory");
            }
        }
    }
    /* A one-part day streams block by block: its rows are in time order. */
    if (x->one_part && x->all == NULL) {
        bool stop = false;
        int rc = raw_flush(x, &stop);
        if (rc)
            return rc;
        if (stop)
            return 1; /* stops the scan */
    }
    return 0;
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

static int rset_sort(colog_rset_t *r, uint32_t nk, const int *cols, const bool *desc)
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

static int raw_day_done(void *ctx, bool *stop)
{
    return raw_flush(ctx, stop);
}

/* Emit (or keep) the rows gathered so far, then forget them. */
static int raw_flush(rawx_t *x, bool *stop)
{
    int rc = 0;
    if (!x->one_part && x->day.nrows > 1) { /* parts of a day overlap until merged */
        int tscol = (int)x->nf;
        bool asc = false;
        rc = rset_sort(&x->day, 1, &tscol, &asc);
    }
    if (rc == 0 && x->all) {
        for (size_t i = 0; i < x->day.nrows && rc == 0; i++) {
            colog_val_t *dst = colog__rset_push(x->all);
            if (dst == NULL)
                return colog_seterr(COLOG_ENOMEM, "out of memory");
            memcpy(dst, x->day.vals + i * x->day.ncols, x->day.ncols * sizeof *dst);
            for (uint32_t f = 0; f < x->day.ncols; f++) {
                if (x->all->cols[f].vt == Q_VT_STR && !dst[f].null) {
                    dst[f].v.s.p = colog__rset_strdup(x->all, dst[f].v.s.p, dst[f].v.s.len);
                    if (dst[f].v.s.p == NULL)
                        return colog_seterr(COLOG_ENOMEM, "out of memory");
                }
            }
        }
    } else if (rc == 0) {
        size_t n = x->day.nrows;
        if (n > x->limit - x->emitted)
            n = (size_t)(x->limit - x->emitted);
        rc = colog__out_rows(x->out, &x->day, 0, n);
        x->emitted += n;
        if (x->emitted >= x->limit)
            *stop = true;
    }
    /* Start the next day empty (keeping the allocation). */
    arena_free(x->day.arena);
    x->day.arena = calloc(1, sizeof *x->day.arena);
    x->day.nrows = 0;
    if (rc == 0 && x->day.arena == NULL)
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
    return rc;
}

/* Keep the first n rows of the order (cols, desc) — a heap selection, then a
 * sort of the n: O(rows log n) instead of sorting every group for a top 10. */
static int rset_topn(colog_rset_t *r, uint32_t nk, const int *cols, const bool *desc, uint64_t n)
{
    if (n == 0) {
        r->nrows = 0;
        return 0;
    }
    if (n * 4 >= r->nrows)
        return rset_sort(r, nk, cols, desc);
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
static int apply_stages(colog_query_t *q, colog_rset_t *r, const int *colmap, int ntie,
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
            rc = rset_topn(r, nk, cols, desc, st->n);
            break;
        }
        case Q_ST_SORT: {
            int cols[COLOG_Q_MAX_KEYS];
            bool desc[COLOG_Q_MAX_KEYS];
            for (uint32_t k = 0; k < st->nsort; k++) {
                cols[k] = MAPCOL(st->sort[k].col);
                desc[k] = st->sort[k].desc;
            }
            rc = rset_sort(r, st->nsort, cols, desc);
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

static int exec_raw(colog_query_t *q, colog_store_t *st, const plan_t *pl,
                    const colog_run_opts_t *opts)
{
    rawx_t x;
    colog_rset_t all;
    int rc;
    memset(&x, 0, sizeof x);
    memset(&all, 0, sizeof all);
    x.q = q;
    x.nf = q->nfields;
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++)
        x.pos[c] = -1;
    for (uint32_t f = 0; f < q->nfields; f++) {
        x.field[x.ncol] = q->fields[f];
        if (x.pos[q->fields[f]] < 0)
            x.pos[q->fields[f]] = (int)x.ncol;
        x.ncol++;
    }
    x.field[x.ncol++] = 0; /* hidden ts, for ordering */
    for (uint32_t i = 0; i < q->nstages; i++) {
        const colog_q_stage_t *sg = &q->stages[i];
        int cols[COLOG_Q_MAX_KEYS + 1];
        uint32_t n = 0;
        if (sg->kind == Q_ST_TOP || sg->kind == Q_ST_BOTTOM)
            cols[n++] = sg->by;
        if (sg->kind == Q_ST_SORT)
            for (uint32_t k = 0; k < sg->nsort; k++)
                cols[n++] = sg->sort[k].col;
        for (uint32_t k = 0; k < n; k++) {
            if (x.pos[cols[k]] < 0) {
                x.pos[cols[k]] = (int)x.ncol;
                x.field[x.ncol++] = cols[k];
            }
        }
    }
    rc = colog__rset_init(&x.day, x.ncol);
    if (rc)
        return rc;
    for (uint32_t f = 0; f < x.ncol; f++)
        x.day.cols[f] = col_desc(q->schema, x.field[f], q->schema->cols[x.field[f]].name);
    /* Only `limit` stages can stream; anything else needs every row. */
    bool stream = true;
    x.limit = UINT64_MAX;
    for (uint32_t i = 0; i < q->nstages; i++) {
        if (q->stages[i].kind == Q_ST_LIMIT) {
            if (q->stages[i].n < x.limit)
                x.limit = q->stages[i].n;
        } else {
            stream = false;
        }
    }
    rc = colog__out_begin(&x.out, opts->format, opts->out, q->tz, x.day.cols, x.nf);
    if (rc)
        goto out_day;
    if (!stream) {
        rc = colog__rset_init(&all, x.ncol);
        if (rc)
            goto out_end;
        memcpy(all.cols, x.day.cols, sizeof all.cols);
        x.all = &all;
    }
    if (x.limit > 0)
        rc = scan(q, st, pl, raw_part, raw_block, &x, raw_day_done);
    if (rc == 1)
        rc = 0; /* the limit was reached */
    if (rc == 0 && !stream) {
        int tie = (int)x.nf; /* ties by time */
        rc = apply_stages(q, &all, x.pos, 1, &tie);
        if (rc == 0)
            rc = colog__out_rows(x.out, &all, 0, all.nrows);
    }
out_end:
    if (rc == 0)
        rc = colog__out_end(x.out);
    else
        colog__out_end(x.out);
    colog__rset_free(&all);
out_day:
    colog__rset_free(&x.day);
    return rc;
}

/* ---------------------------------------------------------------- entry point */

int colog_query_run(colog_query_t *q, colog_store_t *st, const colog_run_opts_t *opts)
{
    if (q == NULL || st == NULL || opts == NULL || opts->out == NULL)
        return colog_seterr(COLOG_EINVAL, "query run: invalid arguments");
    plan_t pl;
    make_plan(q, &pl);
    if (!q->has_stats)
        return exec_raw(q, st, &pl, opts);
    colog_rset_t r;
    memset(&r, 0, sizeof r);
    int rc = exec_stats(q, st, &pl, &r);
    if (rc) {
        colog__rset_free(&r);
        return rc;
    }
    /* Groups come out ordered by their keys unless a stage orders them. */
    int keys[COLOG_Q_MAX_KEYS];
    bool desc[COLOG_Q_MAX_KEYS] = {0};
    for (uint32_t k = 0; k < q->nkeys; k++)
        keys[k] = (int)k;
    /* (top / bottom break ties by the keys themselves) */
    if (q->nstages == 0 || (q->stages[0].kind != Q_ST_TOP && q->stages[0].kind != Q_ST_BOTTOM))
        rc = rset_sort(&r, q->nkeys, keys, desc);
    if (rc == 0)
        rc = apply_stages(q, &r, NULL, (int)q->nkeys, keys);
    colog_out_t *o;
    if (rc == 0)
        rc = colog__out_begin(&o, opts->format, opts->out, q->tz, r.cols, r.ncols);
    if (rc == 0) {
        rc = colog__out_rows(o, &r, 0, r.nrows);
        int rc2 = colog__out_end(o);
        if (rc == 0)
            rc = rc2;
    }
    colog__rset_free(&r);
    return rc;
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
        return bytes_cmp(v->v.s.p, v->v.s.len, l->s, l->slen);
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
               memcmp(v->v.s.p + v->v.s.len - e->lits[0].slen, e->lits[0].s,
                      e->lits[0].slen) == 0;
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
