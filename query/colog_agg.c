/*
 * colog_agg.c — aggregation: group keys, group ids, aggregate states, merging
 * the states of several threads, and the result rows of `stats`.
 *
 * NOTES ON THE DESIGN OF AGGREGATION
 *
 *  1. Vectorized per block: the scan gives a selection vector; each selected row
 *     gets a group id; then each aggregate runs one tight loop over (group id,
 *     value) pairs.
 *  2. Group ids: a key tuple is a fixed row of 64-bit words (one per key, plus a
 *     word of null flags). String and ip keys are interned into ids shared by the
 *     whole aggregation, each dictionary code once per part when first met
 *     (remap), never per row. With one key of a small domain (u8/u16 columns,
 *     hour, dow) or one string/ip key (by interned id) a direct array maps the key
 *     to its group id; otherwise an open-addressing hash table (XXH3 of the key
 *     words, linear probing) does.
 *  3. dcount is exact: one hash set of (group id, value) pairs per aggregate; a
 *     group's distinct count is the number of pairs naming it.
 *  4. Min/max of string and ip columns compare dictionary codes inside a part
 *     (the dictionaries are sorted) and values across parts.
 *  5. Each thread owns one colog_agg_t; colog__agg_merge folds one into another
 *     by value (interned ids are per aggregation), so threads never share state.
 *  6. Memory is bounded: colog__agg_mem() estimates what the groups, their states
 *     and the interned values use; past the limit the query fails with a clear
 *     error instead of being killed (docs/OPERATIONS.md).
 *  7. Absent values are SQL NULLs: skipped by aggregates, a group of their own.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "colog_agg.h"

/* ---------------------------------------------------------------- big tables */

/* Zeroed memory for a hash table of `bytes`. Tables past a few MiB are probed
 * at random, one cache miss a row; on 4 KiB pages each of those is a TLB miss
 * and a page walk too, and the first touch of each page a fault. Mapping them
 * with transparent huge pages (where the kernel allows: madvise mode) cuts both.
 * Free with tab_free(p, bytes). */
#define TAB_MMAP_MIN ((size_t)4 << 20)

static void *tab_alloc(size_t bytes)
{
    if (bytes < TAB_MMAP_MIN)
        return calloc(1, bytes);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only: fine if refused */
    return p;
}

static void tab_free(void *p, size_t bytes)
{
    if (p == NULL)
        return;
    if (bytes < TAB_MMAP_MIN)
        free(p);
    else
        munmap(p, bytes);
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
    tab_free(t->slot, t->cap * sizeof *t->slot);
    free(t->hash);
    free(t->sp);
    free(t->sl);
    free(t->ips);
    colog__arena_clear(&t->arena);
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
    uint32_t *ns = tab_alloc(nc * sizeof *ns);
    if (ns == NULL)
        return COLOG_ENOMEM;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = t->hash[id] & (nc - 1);
        while (ns[i])
            i = (i + 1) & (nc - 1);
        ns[i] = (uint32_t)id + 1;
    }
    tab_free(t->slot, t->cap * sizeof *t->slot);
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
        char *d = colog__arena_alloc(&t->arena, len ? len : 1);
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
    return colog__bytes_cmp(t->sp[a], t->sl[a], t->sp[b], t->sl[b]);
}

/* ---------------------------------------------------------------- hashing */

/* Hash of a few 64-bit words (keys are 1..9 words): a multiply-xorshift mix per
 * word (the finaliser of MurmurHash3 / splitmix64), much cheaper than a general
 * byte hash for these fixed, short keys. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t hash_words(const uint64_t *w, uint32_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL * n;
    for (uint32_t i = 0; i < n; i++)
        h = mix64(h ^ w[i]) + i;
    return h;
}

static inline bool words_eq(const uint64_t *a, const uint64_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* ---------------------------------------------------------------- group table */

typedef struct gtab {
    uint32_t W;     /* words per key */
    size_t cap, n;  /* slots, groups */
    uint64_t *slot; /* (hash >> 32) << 32 | (gid + 1); 0 = empty */
    uint64_t *keys; /* n * W */
    uint64_t *hash; /* per gid (for growing) */
    size_t kcap;    /* groups the keys array holds */
} gtab_t;

static int gtab_grow(gtab_t *g)
{
    size_t nc = g->cap ? 2 * g->cap : 1024;
    uint64_t *ns = tab_alloc(nc * sizeof *ns);
    if (ns == NULL)
        return COLOG_ENOMEM;
    for (size_t id = 0; id < g->n; id++) {
        size_t i = g->hash[id] & (nc - 1);
        while (ns[i])
            i = (i + 1) & (nc - 1);
        ns[i] = (g->hash[id] >> 32 << 32) | (id + 1);
    }
    tab_free(g->slot, g->cap * sizeof *g->slot);
    g->slot = ns;
    g->cap = nc;
    return 0;
}

/* Make room for `more` new groups without growing during a batch (so prefetched
 * slot addresses stay valid). */
static int gtab_reserve(gtab_t *g, size_t more)
{
    while ((g->n + more) * 2 > g->cap)
        if (gtab_grow(g))
            return COLOG_ENOMEM;
    return 0;
}

static inline void gtab_prefetch(const gtab_t *g, uint64_t h)
{
    __builtin_prefetch(&g->slot[h & (g->cap - 1)]);
}

/* gid of key (W words) whose hash is h, added if new. The slot keeps the hash's
 * high half, so a probe touches a group's key only when that matches. -1 on
 * ENOMEM or too many groups. */
static int64_t gtab_get_h(gtab_t *g, const uint64_t *key, uint64_t h)
{
    if ((g->n + 1) * 2 > g->cap && gtab_grow(g))
        return -1;
    size_t i = h & (g->cap - 1);
    uint64_t tag = h >> 32 << 32;
    while (g->slot[i]) {
        uint64_t sl = g->slot[i];
        if ((sl >> 32 << 32) == tag) {
            uint32_t id = (uint32_t)sl - 1;
            if (words_eq(g->keys + (size_t)id * g->W, key, g->W))
                return id;
        }
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
    g->slot[i] = tag | (id + 1);
    g->n++;
    return id;
}

static int64_t gtab_get(gtab_t *g, const uint64_t *key)
{
    return gtab_get_h(g, key, hash_words(key, g->W));
}

static void gtab_free(gtab_t *g)
{
    tab_free(g->slot, g->cap * sizeof *g->slot);
    free(g->keys);
    free(g->hash);
}

/* (gid, value) pairs for exact dcount. When every value fits 32 bits (dictionary
 * ids, u8..u32 columns) a slot is one word, (gid + 1) << 32 | value: half the
 * memory, and a probe touches half the cache lines of the two-word slots
 * (gid + 1, value) that 64-bit values need. gid + 1 is never 0 (0 = empty) and
 * below 2^32 (gtab_get_h keeps gids below UINT32_MAX - 1). */
typedef struct pairset {
    size_t cap, n;
    bool packed; /* one word a slot */
    uint64_t *k; /* cap slots of 1 or 2 words */
} pairset_t;

static inline size_t ps_words(const pairset_t *s)
{
    return s->packed ? 1 : 2;
}

/* gid + 1 of slot i (0: empty) and its value. */
static inline uint64_t ps_gid1(const pairset_t *s, size_t i)
{
    return s->packed ? s->k[i] >> 32 : s->k[2 * i];
}

static inline uint64_t ps_val(const pairset_t *s, size_t i)
{
    return s->packed ? s->k[i] & 0xffffffffu : s->k[2 * i + 1];
}

static inline uint64_t pair_hash(uint64_t gid, uint64_t v)
{
    uint64_t key[2] = {gid + 1, v};
    return hash_words(key, 2);
}

static int pairset_reserve(pairset_t *s, size_t more)
{
    size_t w = ps_words(s);
    while ((s->n + more) * 2 > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        uint64_t *nk = tab_alloc(nc * w * 8);
        if (nk == NULL)
            return COLOG_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            uint64_t g1 = ps_gid1(s, i);
            if (g1 == 0)
                continue;
            size_t j = pair_hash(g1 - 1, ps_val(s, i)) & (nc - 1);
            while (nk[w * j])
                j = (j + 1) & (nc - 1);
            memcpy(&nk[w * j], &s->k[w * i], w * 8);
        }
        tab_free(s->k, s->cap * w * 8);
        s->k = nk;
        s->cap = nc;
    }
    return 0;
}

/* Add (gid, v) whose hash is h; room must have been reserved. */
static inline void pairset_add_h(pairset_t *s, uint64_t gid, uint64_t v, uint64_t h)
{
    size_t j = h & (s->cap - 1);
    if (s->packed) {
        uint64_t key = (gid + 1) << 32 | v;
        while (s->k[j]) {
            if (s->k[j] == key)
                return;
            j = (j + 1) & (s->cap - 1);
        }
        s->k[j] = key;
        s->n++;
        return;
    }
    while (s->k[2 * j]) {
        if (s->k[2 * j] == gid + 1 && s->k[2 * j + 1] == v)
            return;
        j = (j + 1) & (s->cap - 1);
    }
    s->k[2 * j] = gid + 1;
    s->k[2 * j + 1] = v;
    s->n++;
}

static int pairset_add(pairset_t *s, uint64_t gid, uint64_t v)
{
    if (pairset_reserve(s, 1))
        return COLOG_ENOMEM;
    pairset_add_h(s, gid, v, pair_hash(gid, v));
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
    } acc;           /* sum, min or max */
    uint32_t *pbest; /* dictionary min/max: best code of the current part */
    pairset_t ps;    /* dcount */
    bool overflow;
} aggst_t;

struct colog_agg {
    colog_query_t *q;
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
    int64_t null_gid; /* gid of the all-null key for the direct path, -1 */
    /* Scratch for one block. */
    const uint32_t *sel; /* the scan's selection vector */
    uint32_t *gid;
    uint64_t *kw;
    const colog_dictview_t *dict[COLOG_MAX_COLS]; /* the current part's dictionaries */
    uint32_t part_no, part_cnt;                   /* partitioned mode: this state keeps the groups
                                                     whose value hash is part_no modulo part_cnt */
    uint32_t *psel;                               /* the selection kept in partitioned mode */
    uint64_t *hbuf;                               /* per selected row: a hash */
    uint64_t *vbuf;                               /* per selected row: a dcount value */
    uint32_t *jbuf;   /* per selected row: its position in the selection */
    bool direct_dict; /* the direct map is over interned ids (grows with them) */
    size_t mem_limit; /* bytes the groups may use */
};

static intern_t *intern_for(colog_agg_t *x, colog_type_t t)
{
    return t == COLOG_T_IP ? &x->in_ip : &x->in_str;
}

static int64_t remap(colog_agg_t *x, unsigned col, uint32_t code);

static int ensure_groups(colog_agg_t *x)
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

/*
 * The key of bin(ts, N) for the event at t (UTC µs) whose wall-clock time is
 * loc: the instant its bucket starts. Buckets follow the wall clock of the zone:
 *  - a bucket starts wherever the clock, ticking, reaches a multiple of N;
 *  - when the clock skips forward over a multiple of N (spring), a bucket
 *    starts at the change (its key shows the wall-clock time after the skip);
 *  - when the clock is set back by J (autumn), a bucket starts at the change if
 *    N <= J: the repeated hour of a 1h trend is a row of its own, never one row
 *    holding two hours. If N > J the bucket in progress simply runs on (a 1d
 *    bucket is the whole local day, 25 hours; Havana's midnight that happens
 *    twice does not split its day).
 * So buckets are contiguous and every key is an instant inside its own bucket.
 * At most one change is assumed within a bucket (tzdata has none closer).
 */
static int64_t offset_us(colog_tz_t *tz, int64_t t)
{
    return (int64_t)colog_tz_offset(tz, t) * 1000000;
}

static int64_t bin_start(colog_tz_t *tz, int64_t t, int64_t loc, int64_t bin_us)
{
    int64_t L = floordiv64(loc, bin_us) * bin_us;
    int64_t off = loc - t; /* the event's own offset */
    int64_t c = L - off;   /* where the clock read L, if the offset held */
    int64_t T = c, ob;     /* the change, and the offset before it */
    if (offset_us(tz, c) == off) {
        ob = offset_us(tz, c - 1);
        if (ob <= off)
            return c; /* reached by ticking, or by a skip that lands on L */
    } else {
        /* The offset changed in (c, t]: find the first instant with the event's
         * offset, to the second (changes fall on whole seconds). */
        int64_t lo = c, hi = t;
        while (hi - lo > 1000000) {
            int64_t mid = lo + (hi - lo) / 2;
            if (offset_us(tz, mid) == off)
                hi = mid;
            else
                lo = mid;
        }
        T = floordiv64(hi, 1000000) * 1000000;
        if (T <= lo)
            T = hi;
        ob = offset_us(tz, T - 1);
        if (ob < off) /* skipped forward: over L (a bucket starts at T), or not */
            return L >= T + ob ? T : L - ob;
    }
    /* Set back by ob - off at T. */
    if (bin_us <= ob - off)
        return T;
    return floordiv64(T - 1 + ob, bin_us) * bin_us - ob; /* the bucket in progress */
}

/* Fill word k of each selected row's key (W words a row), and null flags. */
static int key_words(colog_agg_t *x, colog_bctx_t *c, uint32_t k, uint32_t nsel)
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
        rc = colog__bctx_derived(c,
                                 key->kind == Q_KEY_HOUR  ? 0
                                 : key->kind == Q_KEY_DOW ? 1
                                                          : 2,
                                 &dv);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < nsel; j++)
            kw[(size_t)j * W + k] = (uint64_t)dv[sel[j]];
        return 0;
    case Q_KEY_BIN: {
        const colog_block_t *ts;
        rc = colog__bctx_local(c, &dv);
        if (rc == 0)
            rc = colog__bctx_col(c, 0, &ts);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < nsel; j++)
            kw[(size_t)j * W + k] =
                (uint64_t)bin_start(c->tz, ts->v.i64[sel[j]], dv[sel[j]], key->bin_us);
        return 0;
    }
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
        for (uint32_t j = 0; j < nsel; j++) {
            int64_t id = remap(x, (unsigned)key->col, blk->v.code[sel[j]]);
            if (id < 0)
                return colog_seterr(COLOG_ENOMEM, "out of memory");
            kw[(size_t)j * W + k] = (uint64_t)id;
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
static size_t direct_domain(const colog_agg_t *x)
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
    return 0;
}

/* Group ids of the selected rows of a block (x->gid). */
/* Partitioned mode: keep the rows whose group falls in this state's partition.
 * The partition comes from a hash of the key *values* (string and ip keys by the
 * hash of their bytes, which the intern tables keep), so every thread agrees on
 * it although their interned ids differ. Compacts x->kw and the selection. */
static uint32_t keep_partition(colog_agg_t *x, uint32_t nsel)
{
    const colog_query_t *q = x->q;
    uint32_t W = x->g.W, m = 0;
    for (uint32_t j = 0; j < nsel; j++) {
        const uint64_t *key = x->kw + (size_t)j * W;
        uint64_t h = key[W - 1];
        for (uint32_t k = 0; k < q->nkeys; k++) {
            uint64_t w = key[k];
            const colog_q_key_t *qk = &q->keys[k];
            if (qk->kind == Q_KEY_COL && !(key[W - 1] >> k & 1)) {
                colog_type_t t = x->schema->cols[qk->col].type;
                if (colog_type_is_dict(t))
                    w = intern_for(x, t)->hash[w];
            }
            h = mix64(h ^ w) + k;
        }
        if ((uint32_t)(h % x->part_cnt) != x->part_no)
            continue;
        if (m != j)
            memcpy(x->kw + (size_t)m * W, key, W * 8);
        x->psel[m++] = x->sel[j];
    }
    x->sel = x->psel;
    return m;
}

static int block_gids(colog_agg_t *x, colog_bctx_t *c, uint32_t *nselp)
{
    uint32_t W = x->g.W, nsel = *nselp;
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
    if (x->part_cnt > 1)
        *nselp = nsel = keep_partition(x, nsel);
    if (x->direct_dict) { /* ids grow as values are interned */
        size_t need = intern_for(x, x->schema->cols[x->q->keys[0].col].type)->n;
        if (need > x->direct_n) {
            size_t nn = x->direct_n ? x->direct_n : 1024;
            while (nn < need)
                nn *= 2;
            uint32_t *nd = realloc(x->direct, nn * sizeof *nd);
            if (nd == NULL)
                return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
            memset(nd + x->direct_n, 0, (nn - x->direct_n) * sizeof *nd);
            x->direct = nd;
            x->direct_n = nn;
        }
    }
    if (x->direct) {
        for (uint32_t j = 0; j < nsel; j++) {
            const uint64_t *key = x->kw + (size_t)j * W;
            bool d = key[W - 1] == 0 && key[0] < x->direct_n;
            uint32_t g = d ? x->direct[key[0]] : 0;
            if (g) {
                x->gid[j] = g - 1;
                continue;
            }
            int64_t ng = gtab_get(&x->g, key);
            if (ng < 0)
                return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
            if (d)
                x->direct[key[0]] = (uint32_t)ng + 1;
            x->gid[j] = (uint32_t)ng;
        }
        return 0;
    }
    /* Hash table: hash every key first, then look them up with the slot of a key
     * a few rows ahead prefetched, so the cache misses of a big table overlap. */
    enum { AHEAD = 8 };
    uint64_t *h = x->hbuf;
    for (uint32_t j = 0; j < nsel; j++)
        h[j] = hash_words(x->kw + (size_t)j * W, W);
    if (gtab_reserve(&x->g, nsel))
        return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
    for (uint32_t j = 0; j < nsel; j++) {
        if (j + AHEAD < nsel)
            gtab_prefetch(&x->g, h[j + AHEAD]);
        int64_t g = gtab_get_h(&x->g, x->kw + (size_t)j * W, h[j]);
        if (g < 0)
            return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
        x->gid[j] = (uint32_t)g;
    }
    return 0;
}

static bool agg_is_dict(const colog_agg_t *x, const aggst_t *s)
{
    return s->a->col >= 0 && colog_type_is_dict(x->schema->cols[s->a->col].type);
}

/* dcount over a block: the values first, then their pair hashes, then the inserts
 * with the slot of a pair a few rows ahead prefetched (the set is usually far
 * bigger than the caches). */
static int dcount_block(colog_agg_t *x, aggst_t *s, const colog_block_t *blk, const uint8_t *valid,
                        uint32_t nsel)
{
    enum { AHEAD = 8 };
    const uint32_t *sel = x->sel, *gid = x->gid;
    uint64_t *v = x->vbuf, *h = x->hbuf;
    uint32_t *jj = x->jbuf, m = 0;
    bool dict = agg_is_dict(x, s), is_f = s->ctype == COLOG_T_F64;
    for (uint32_t j = 0; j < nsel; j++) {
        uint32_t r = sel[j];
        if (valid && !valid[r])
            continue;
        if (dict) {
            int64_t id = remap(x, (unsigned)s->a->col, blk->v.code[r]);
            if (id < 0)
                return colog_seterr(COLOG_ENOMEM, "out of memory");
            v[m] = (uint64_t)id;
        } else if (is_f) {
            double d = blk->v.f64[r];
            if (d == 0)
                d = 0; /* -0.0 and 0.0 are one value */
            memcpy(&v[m], &d, 8);
        } else {
            v[m] = blk->v.u64[r];
        }
        jj[m++] = j;
    }
    if (pairset_reserve(&s->ps, m))
        return colog_seterr(COLOG_ENOMEM, "out of memory for dcount");
    for (uint32_t k = 0; k < m; k++)
        h[k] = pair_hash(gid[jj[k]], v[k]);
    size_t mask = s->ps.cap - 1;
    for (uint32_t k = 0; k < m; k++) {
        if (k + AHEAD < m)
            __builtin_prefetch(&s->ps.k[ps_words(&s->ps) * (h[k + AHEAD] & mask)]);
        /* No s->cnt[g]++: a dcount is its group's pairs (colog__agg_result), and
         * a counter per row would be one more cache miss in a table of groups. */
        pairset_add_h(&s->ps, gid[jj[k]], v[k], h[k]);
    }
    return 0;
}

static int agg_block(colog_agg_t *x, aggst_t *s, colog_bctx_t *c, uint32_t nsel)
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
    if (s->a->kind == Q_AGG_DCOUNT)
        return dcount_block(x, s, blk, valid, nsel);
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
            s->acc.f[g] += is_f   ? blk->v.f64[r]
                           : is_s ? (double)blk->v.i64[r]
                                  : (double)blk->v.u64[r];
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
        case Q_AGG_DCOUNT: /* dcount_block */
        case Q_AGG_COUNT:
            break;
        }
        cnt[g]++;
    }
    return 0;
}

/* At the end of a part: fold the part's best dictionary codes into query-wide ids
 * (acc.u holds id + 1, 0 = none). */
static int fold_dict_minmax(colog_agg_t *x, aggst_t *s)
{
    intern_t *in = intern_for(x, s->ctype);
    bool mx = s->a->kind == Q_AGG_MAX;
    for (size_t g = 0; g < x->g.n && g < x->gcap; g++) {
        uint32_t code = s->pbest[g];
        if (code == UINT32_MAX)
            continue;
        s->pbest[g] = UINT32_MAX;
        int64_t sid = remap(x, (unsigned)s->a->col, code);
        if (sid < 0)
            return COLOG_ENOMEM;
        uint64_t id = (uint64_t)sid;
        uint64_t cur = s->acc.u[g];
        if (cur == 0 || (mx ? intern_cmp(in, id, cur - 1) > 0 : intern_cmp(in, id, cur - 1) < 0))
            s->acc.u[g] = id + 1;
    }
    return 0;
}

/* Query-wide intern id of code `code` of column col's dictionary in the current
 * part, interned on first use (so a point query never interns a whole
 * dictionary). -1 on ENOMEM; a code outside the dictionary maps to id 0 of an
 * empty value (the part reader has already refused such parts). */
static int64_t remap(colog_agg_t *x, unsigned col, uint32_t code)
{
    if (code >= x->remap_n[col])
        return 0;
    uint64_t id = x->remap[col][code];
    if (id != UINT64_MAX)
        return (int64_t)id;
    const colog_dictview_t *d = x->dict[col];
    intern_t *in = intern_for(x, d->type);
    int64_t nid = d->type == COLOG_T_IP
                      ? intern_get(in, &d->ips[code], 16)
                      : intern_get(in, d->bytes + d->offs[code], d->offs[code + 1] - d->offs[code]);
    if (nid >= 0)
        x->remap[col][code] = (uint64_t)nid;
    return nid;
}

/* ---------------------------------------------------------------- lifecycle */

static bool agg_minmax_dict(const colog_agg_t *x, const aggst_t *s)
{
    return (s->a->kind == Q_AGG_MIN || s->a->kind == Q_AGG_MAX) && agg_is_dict(x, s);
}

int colog__agg_new(colog_query_t *q, size_t mem_limit, colog_agg_t **out)
{
    colog_agg_t *x = calloc(1, sizeof *x);
    if (x == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    int rc = 0;
    x->q = q;
    x->schema = q->schema;
    x->tz = q->tz;
    x->mem_limit = mem_limit;
    x->g.W = q->nkeys + 1;
    x->in_str.type = COLOG_T_STRING;
    x->in_ip.type = COLOG_T_IP;
    x->null_gid = -1;
    x->gid = malloc(COLOG_BLOCK_ROWS * sizeof *x->gid);
    x->kw = malloc((size_t)COLOG_BLOCK_ROWS * x->g.W * 8);
    x->hbuf = malloc(COLOG_BLOCK_ROWS * sizeof *x->hbuf);
    x->vbuf = malloc(COLOG_BLOCK_ROWS * sizeof *x->vbuf);
    x->jbuf = malloc(COLOG_BLOCK_ROWS * sizeof *x->jbuf);
    x->psel = malloc(COLOG_BLOCK_ROWS * sizeof *x->psel);
    x->part_cnt = 1;
    if (x->gid == NULL || x->kw == NULL || x->hbuf == NULL || x->vbuf == NULL || x->jbuf == NULL ||
        x->psel == NULL)
        goto out_nomem;
    for (uint32_t k = 0; k < q->naggs; k++) {
        aggst_t *s = &x->agg[k];
        s->a = &q->aggs[k];
        s->ctype = s->a->col >= 0 ? q->schema->cols[s->a->col].type : COLOG_T_U64;
        /* dictionary columns count interned ids (below 2^32) */
        s->ps.packed = s->ctype == COLOG_T_U8 || s->ctype == COLOG_T_U16 ||
                       s->ctype == COLOG_T_U32 || colog_type_is_dict(s->ctype);
        if (agg_minmax_dict(x, s) && (s->pbest = malloc(4)) == NULL)
            goto out_nomem;
    }
    if (q->nkeys == 1 && q->keys[0].kind == Q_KEY_COL &&
        colog_type_is_dict(q->schema->cols[q->keys[0].col].type)) {
        x->direct_dict = true; /* sized as values are interned */
    } else {
        size_t dom = direct_domain(x);
        if (dom) {
            x->direct = calloc(dom, sizeof *x->direct);
            if (x->direct == NULL)
                goto out_nomem;
            x->direct_n = dom;
        }
    }
    if (q->nkeys == 0) { /* one group, even over no rows */
        uint64_t zero = 0;
        if (gtab_get(&x->g, &zero) < 0 || ensure_groups(x))
            goto out_nomem;
    }
    *out = x;
    return 0;
out_nomem:
    rc = colog_seterr(COLOG_ENOMEM, "out of memory");
    colog__agg_free(x);
    return rc;
}

void colog__agg_free(colog_agg_t *x)
{
    if (x == NULL)
        return;
    for (uint32_t k = 0; k < COLOG_Q_MAX_AGGS; k++) {
        free(x->agg[k].cnt);
        free(x->agg[k].acc.u);
        free(x->agg[k].pbest);
        tab_free(x->agg[k].ps.k, x->agg[k].ps.cap * ps_words(&x->agg[k].ps) * 8);
    }
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++)
        free(x->remap[c]);
    gtab_free(&x->g);
    intern_free(&x->in_str);
    intern_free(&x->in_ip);
    free(x->direct);
    free(x->gid);
    free(x->kw);
    free(x->hbuf);
    free(x->vbuf);
    free(x->jbuf);
    free(x->psel);
    free(x);
}

size_t colog__agg_mem(const colog_agg_t *x)
{
    size_t m = x->g.cap * 8 + x->g.kcap * (x->g.W + 1) * 8 + x->direct_n * 4;
    for (uint32_t k = 0; k < x->q->naggs; k++)
        m += x->gcap * 20 + x->agg[k].ps.cap * ps_words(&x->agg[k].ps) * 8;
    m += x->in_str.cap * 4 + x->in_str.ecap * 28 + x->in_ip.cap * 4 + x->in_ip.ecap * 24;
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++)
        m += x->remap_n[c] * 8;
    return m;
}

static int check_mem(colog_agg_t *x)
{
    size_t m = colog__agg_mem(x);
    if (x->mem_limit && m > x->mem_limit)
        return colog_seterr(COLOG_ELIMIT,
                            "the query's groups need more than %zu MB (%zu groups so far); narrow "
                            "it with range/where, or raise --mem-mb",
                            x->mem_limit >> 20, x->g.n);
    return 0;
}

bool colog__agg_partitionable(const colog_query_t *q)
{
    /* Worth it where groups are many (keys of ip/string columns, hash table) and
     * merging per-thread tables would cost as much as building them. */
    if (q->nkeys == 0 || (q->nkeys == 1 && q->keys[0].kind == Q_KEY_COL))
        return false; /* no keys, or one column: direct maps, cheap merges */
    for (uint32_t k = 0; k < q->nkeys; k++)
        if (q->keys[k].kind == Q_KEY_COL &&
            colog_type_is_dict(q->schema->cols[q->keys[k].col].type))
            return true;
    return false;
}

void colog__agg_set_partition(colog_agg_t *x, uint32_t part_no, uint32_t part_cnt)
{
    x->part_no = part_no;
    x->part_cnt = part_cnt ? part_cnt : 1;
}

int colog__agg_part(colog_agg_t *x, colog_part_t *p)
{
    const colog_query_t *q = x->q;
    uint64_t dictcols = 0;
    for (uint32_t k = 0; k < q->nkeys; k++)
        if (q->keys[k].kind == Q_KEY_COL &&
            colog_type_is_dict(x->schema->cols[q->keys[k].col].type))
            dictcols |= (uint64_t)1 << q->keys[k].col;
    for (uint32_t k = 0; k < q->naggs; k++)
        if (agg_is_dict(x, &x->agg[k]))
            dictcols |= (uint64_t)1 << q->aggs[k].col;
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
        memset(rm, 0xff, (d->n ? d->n : 1) * sizeof *rm); /* not yet interned */
        x->remap[col] = rm;
        x->remap_n[col] = d->n;
        x->dict[col] = d;
    }
    return 0;
}

int colog__agg_part_end(colog_agg_t *x)
{
    for (uint32_t k = 0; k < x->q->naggs; k++)
        if (x->agg[k].pbest && fold_dict_minmax(x, &x->agg[k]))
            return colog_seterr(COLOG_ENOMEM, "out of memory");
    return 0;
}

int colog__agg_block(colog_agg_t *x, colog_bctx_t *c, const uint32_t *sel, uint32_t nsel)
{
    x->sel = sel;
    int rc = block_gids(x, c, &nsel);
    if (rc)
        return rc;
    if (ensure_groups(x))
        return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
    for (uint32_t k = 0; k < x->q->naggs; k++) {
        rc = agg_block(x, &x->agg[k], c, nsel);
        if (rc)
            return rc;
    }
    return check_mem(x);
}

bool colog__agg_count_only(const colog_query_t *q)
{
    for (uint32_t k = 0; k < q->naggs; k++)
        if (q->aggs[k].kind != Q_AGG_COUNT)
            return false;
    return q->naggs > 0;
}

int colog__agg_add_count(colog_agg_t *x, uint64_t n)
{
    for (uint32_t k = 0; k < x->q->naggs; k++)
        x->agg[k].cnt[0] += n;
    return 0;
}

int colog__agg_add_key_count(colog_agg_t *x, colog_part_t *p, uint64_t key, uint64_t n)
{
    const colog_q_key_t *qk = &x->q->keys[0];
    uint64_t w[2] = {key, 0};
    colog_type_t t = x->schema->cols[qk->col].type;
    if (colog_type_is_dict(t)) {
        (void)p;
        int64_t id = remap(x, (unsigned)qk->col, (uint32_t)key);
        if (id < 0)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
        w[0] = (uint64_t)id;
    } /* integer keys are the values' bits, like the key words */
    int64_t g = gtab_get(&x->g, w);
    if (g < 0 || ensure_groups(x))
        return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
    for (uint32_t k = 0; k < x->q->naggs; k++)
        x->agg[k].cnt[g] += n;
    return check_mem(x);
}

int colog__agg_add_null_count(colog_agg_t *x, uint64_t n)
{
    uint64_t w[2] = {0, 1}; /* key 0 absent */
    int64_t g = gtab_get(&x->g, w);
    if (g < 0 || ensure_groups(x))
        return colog_seterr(COLOG_ENOMEM, "out of memory for groups");
    for (uint32_t k = 0; k < x->q->naggs; k++)
        x->agg[k].cnt[g] += n;
    return 0;
}

/* ---------------------------------------------------------------- merging threads */

/* src's interned id -> dst's. */
static int64_t reintern(colog_agg_t *dst, const colog_agg_t *src, colog_type_t t, uint64_t id)
{
    if (t == COLOG_T_IP)
        return intern_get(&dst->in_ip, &src->in_ip.ips[id], 16);
    return intern_get(&dst->in_str, src->in_str.sp[id], src->in_str.sl[id]);
}

int colog__agg_merge(colog_agg_t *dst, const colog_agg_t *src)
{
    const colog_query_t *q = dst->q;
    uint32_t W = dst->g.W;
    uint64_t key[COLOG_Q_MAX_KEYS + 1];
    uint32_t *gmap = malloc((src->g.n ? src->g.n : 1) * sizeof *gmap);
    int rc = 0;
    if (gmap == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    for (size_t g = 0; g < src->g.n; g++) {
        memcpy(key, src->g.keys + g * W, W * 8);
        for (uint32_t k = 0; k < q->nkeys; k++) {
            const colog_q_key_t *qk = &q->keys[k];
            if (qk->kind != Q_KEY_COL || (key[W - 1] >> k & 1))
                continue;
            colog_type_t t = q->schema->cols[qk->col].type;
            if (!colog_type_is_dict(t))
                continue;
            int64_t id = reintern(dst, src, t, key[k]);
            if (id < 0)
                goto out_nomem;
            key[k] = (uint64_t)id;
        }
        int64_t dg = gtab_get(&dst->g, key);
        if (dg < 0 || ensure_groups(dst))
            goto out_nomem;
        gmap[g] = (uint32_t)dg;
    }
    for (uint32_t k = 0; k < q->naggs; k++) {
        const aggst_t *s = &src->agg[k];
        aggst_t *d = &dst->agg[k];
        bool is_f = s->ctype == COLOG_T_F64;
        bool is_s = s->ctype == COLOG_T_TIME || s->ctype == COLOG_T_I64;
        d->overflow |= s->overflow;
        for (size_t g = 0; g < src->g.n; g++) {
            uint32_t dg = gmap[g];
            uint64_t sn = s->cnt[g], dn = d->cnt[dg];
            switch (s->a->kind) {
            case Q_AGG_COUNT:
            case Q_AGG_DCOUNT:
                break;
            case Q_AGG_SUM:
                if (is_f)
                    d->acc.f[dg] += s->acc.f[g];
                else if (is_s)
                    d->overflow |= __builtin_add_overflow(d->acc.i[dg], s->acc.i[g], &d->acc.i[dg]);
                else
                    d->overflow |= __builtin_add_overflow(d->acc.u[dg], s->acc.u[g], &d->acc.u[dg]);
                break;
            case Q_AGG_AVG:
                d->acc.f[dg] += s->acc.f[g];
                break;
            case Q_AGG_MIN:
            case Q_AGG_MAX: {
                bool mx = s->a->kind == Q_AGG_MAX;
                if (sn == 0)
                    break;
                if (s->pbest) { /* acc.u: interned id + 1 */
                    if (s->acc.u[g] == 0)
                        break;
                    int64_t id = reintern(dst, src, s->ctype, s->acc.u[g] - 1);
                    if (id < 0)
                        goto out_nomem;
                    intern_t *in = intern_for(dst, s->ctype);
                    uint64_t cur = d->acc.u[dg];
                    if (cur == 0 || (mx ? intern_cmp(in, (uint64_t)id, cur - 1) > 0
                                        : intern_cmp(in, (uint64_t)id, cur - 1) < 0))
                        d->acc.u[dg] = (uint64_t)id + 1;
                } else if (is_f) {
                    double v = s->acc.f[g];
                    if (dn == 0 || (mx ? v > d->acc.f[dg] : v < d->acc.f[dg]))
                        d->acc.f[dg] = v;
                } else if (is_s) {
                    int64_t v = s->acc.i[g];
                    if (dn == 0 || (mx ? v > d->acc.i[dg] : v < d->acc.i[dg]))
                        d->acc.i[dg] = v;
                } else {
                    uint64_t v = s->acc.u[g];
                    if (dn == 0 || (mx ? v > d->acc.u[dg] : v < d->acc.u[dg]))
                        d->acc.u[dg] = v;
                }
                break;
            }
            }
            d->cnt[dg] += sn;
        }
        if (s->a->kind == Q_AGG_DCOUNT) {
            bool dict = agg_is_dict(src, s);
            for (size_t i = 0; i < s->ps.cap; i++) {
                uint64_t g1 = ps_gid1(&s->ps, i);
                if (g1 == 0)
                    continue;
                uint64_t v = ps_val(&s->ps, i);
                if (dict) {
                    int64_t id = reintern(dst, src, s->ctype, v);
                    if (id < 0)
                        goto out_nomem;
                    v = (uint64_t)id;
                }
                if (pairset_add(&d->ps, gmap[g1 - 1], v))
                    goto out_nomem;
            }
        }
    }
    rc = check_mem(dst);
    free(gmap);
    return rc;
out_nomem:
    free(gmap);
    return colog_seterr(COLOG_ENOMEM, "out of memory merging groups");
}

/* ---------------------------------------------------------------- result */

/* A value of a schema column from raw 64 bits (or an intern id for dict types). */
static int col_value(colog_agg_t *x, colog_rset_t *r, colog_type_t t, uint64_t w, colog_val_t *v)
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

int colog__agg_result(colog_agg_t *x, colog_rset_t *r)
{
    colog_query_t *q = x->q;
    int rc = r->arena ? 0 : colog__rset_init(r, colog_q_noutputs(q));
    if (rc)
        return rc;
    for (uint32_t k = 0; k < q->nkeys; k++) {
        const colog_q_key_t *key = &q->keys[k];
        colog_rcol_t *c = &r->cols[k];
        if (key->kind == Q_KEY_COL) {
            *c = colog__col_desc(q->schema, key->col, key->name);
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
            *c = colog__col_desc(q->schema, a->col, a->name);
        } else {
            snprintf(c->name, sizeof c->name, "%s", a->name);
            c->vt = a->vt;
            c->is_signed = a->kind == Q_AGG_SUM &&
                           (x->agg[k].ctype == COLOG_T_I64 || x->agg[k].ctype == COLOG_T_TIME);
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
        for (size_t i = 0; i < ps->cap; i++) {
            uint64_t g1 = ps_gid1(ps, i);
            if (g1)
                dc[k][g1 - 1]++;
        }
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
            } else {
                v->v.i = (int64_t)key[k]; /* bin keys are instants already (bin_start) */
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
