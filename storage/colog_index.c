/*
 * colog_index.c — bitmap index files: for one indexed column of one part, the
 * Roaring bitmap of the row ids holding each distinct value.
 *
 * Layout (docs/FORMAT.md "Index files" is the authority):
 *
 *     header (32)  bitmap 0  bitmap 1 ...  key table (32 * nkeys + 8)  trailer (24)
 *
 * Bitmaps are CRoaring portable serializations, back to back from offset 32,
 * one per key in ascending key order. The key table gives each key's value,
 * offset, cardinality, length and the XXH3-64 of its bytes seeded with
 * file seed ^ key index, so a bitmap moved to another key or copied into
 * another file fails; the table and the trailer have checksums of their own.
 * Keys are values in the column's decoded domain: dictionary codes for ip and
 * string, the value for u8..u64, and for i64 the two's-complement bits of the
 * value, ordered as signed (compared with the sign bit flipped).
 *
 * Writer. colog__idxw_add only buffers; colog__idxw_write groups the rows by
 * key, builds each key's bitmap from its ascending row ids
 * (roaring_bitmap_of_ptr, roaring_bitmap_run_optimize) and streams header,
 * bitmaps, table and trailer through one 1 MiB output buffer, feeding every
 * byte to a running XXH3-64 and SHA-256 for the manifest. The header holds
 * only what is known before the first bitmap (nkeys, nrows), so the file is
 * written in one sequential pass. Grouping:
 *  - small key domains (dictionary codes: ncodes keys; u8, u16: 65536) use a
 *    counting sort: add stores one u32 key per row (ABSENT for a null) and
 *    counts each key; write scatters the row ids into key order;
 *  - u32, u64 and i64 use an LSD radix sort, 8 bits a pass, of (key, row)
 *    pairs of the present rows, skipping passes whose digit is the same in
 *    every key. Being stable, it leaves each key's rows ascending.
 * Memory: counting sort 4 bytes a row while adding, plus 4 a present row and
 * 4 * domain at write time (8 bytes a row at the peak); radix sort 12 bytes a
 * present row while adding, 24 at the peak. Plus the key table (32 bytes a
 * key), one bitmap at a time and the output buffer.
 *
 * Reader. Open reads the header and the tail (table and trailer) with two
 * preads and validates the whole table, so nkeys/key/card/lower need no I/O.
 * colog__idxr_or_range reads the bitmaps of a key range with one pread per
 * 4 MiB of contiguous bytes, checks each one's checksum, then its structure
 * (below), deserializes it with roaring_bitmap_portable_deserialize_safe and
 * folds it into a union of its own (roaring_bitmap_lazy_or_inplace, repaired
 * at the end), freeing it at once so that few containers are live; the
 * union is ORed into the caller's bitmap only when every bitmap passed. It
 * uses only pread on the shared fd and memory of its own, so threads may
 * call it at once.
 *
 * Why we parse the portable format ourselves (check_portable). The installed
 * CRoaring (0.2.66) has no roaring_bitmap_internal_validate, and its
 * deserialize_safe checks lengths only: container keys out of order, an
 * unsorted array container, overlapping runs or a run past 65535, or a bitset
 * whose popcount is not its cardinality all deserialize "successfully"; a
 * run past 65535 even makes roaring_bitmap_or_inplace write past a bitset
 * container (seen with valgrind), and an unsorted array hides its maximum. A file with correct
 * checksums may still be crafted, so every bitmap is checked before it reaches
 * CRoaring: one linear pass, of the same order as the checksum. This is a
 * decoder check; all bitmap operations are CRoaring's.
 *
 * Invariants:
 *  1. Writer: nrows rows have been added, nrows <= IDX_MAX_ROWS; counting
 *     path: k32[0..nrows) hold a key < domain or ABSENT, and counts[k] is the
 *     number of rows holding k; radix path: k64/rows[0..nvalid) are the
 *     present rows in row order. A failed colog__idxw_add changes nothing.
 *  2. On disk, keys are strictly ascending in the column's order, every key
 *     has at least one row, the cardinalities add up to at most nrows, and
 *     bitmap i starts where bitmap i-1 ends (at 32 for i = 0) and the last
 *     ends where the table starts. The reader checks all of it at open, so
 *     or_range trusts only validated table entries.
 *  3. A bitmap that or_range accepts is a well-formed portable serialization
 *     of exactly its length, with the table's cardinality and every row id
 *     below nrows.
 *  4. Every byte of the file is covered by a checksum; there is no padding.
 */
#include "colog_storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <roaring/roaring.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>


#define HDR_SIZE 32
#define ENT_SIZE 32
#define TAB_SUM 8
#define TRAILER_SIZE 24
#define MIN_FILE (HDR_SIZE + TAB_SUM + TRAILER_SIZE)
#define IDX_MAX_ROWS UINT32_MAX /* row ids are u32; card fits u32 */
#define ABSENT UINT32_MAX       /* counting path: a null row */
#define SMALL_DOMAIN 65536u     /* u8, u16: counting sort */
#define OBUF_SIZE (1u << 20)    /* writer's output buffer */
#define READ_CHUNK (4u << 20)   /* or_range: bytes per pread */

/* CRoaring's portable format (RoaringFormatSpec). */
#define RB_COOKIE_NORUN 12346u
#define RB_COOKIE_RUN 12347u
#define RB_NO_OFFSET_THRESHOLD 4u
#define RB_ARRAY_MAX 4096u
#define RB_BITSET_BYTES 8192u

/* CRoaring writes the portable format in host order; the format is little-endian. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "roaring portable serialization is host order; colog needs little-endian");

/* One key table entry, as validated in memory. */
struct ent {
    uint64_t key;
    uint64_t off;
    uint32_t card;
    uint32_t len;
    uint64_t sum;
};

static bool idx_type_ok(colog_type_t t)
{
    switch (t) {
    case COLOG_T_IP:
    case COLOG_T_STRING:
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
    case COLOG_T_I64:
        return true;
    case COLOG_T_TIME:
    case COLOG_T_F64:
        break;
    }
    return false;
}

/* Largest key of an indexable type (codes: u32). */
static uint64_t key_max(colog_type_t t)
{
    switch (t) {
    case COLOG_T_U8:
        return UINT8_MAX;
    case COLOG_T_U16:
        return UINT16_MAX;
    case COLOG_T_U32:
    case COLOG_T_IP:
    case COLOG_T_STRING:
        return UINT32_MAX;
    case COLOG_T_U64:
    case COLOG_T_I64:
    case COLOG_T_TIME:
    case COLOG_T_F64:
        break;
    }
    return UINT64_MAX;
}

/* XOR mask that makes u64 order the column's key order (i64: signed). */
static uint64_t key_flip(colog_type_t t)
{
    return t == COLOG_T_I64 ? 1ull << 63 : 0;
}

static void put_ent(uint8_t *p, const struct ent *e)
{
    colog__put_u64(p, e->key);
    colog__put_u64(p + 8, e->off);
    colog__put_u32(p + 16, e->card);
    colog__put_u32(p + 20, e->len);
    colog__put_u64(p + 24, e->sum);
}

static void get_ent(const uint8_t *p, struct ent *e)
{
    e->key = colog__get_u64(p);
    e->off = colog__get_u64(p + 8);
    e->card = colog__get_u32(p + 16);
    e->len = colog__get_u32(p + 20);
    e->sum = colog__get_u64(p + 24);
}

/* ================================================================ writer */

struct colog_idxw {
    colog_type_t type;
    bool counting;   /* small key domain: counting sort */
    uint64_t domain; /* counting: keys are < domain */
    uint64_t nrows;  /* rows added */
    uint64_t nvalid; /* present rows added */

    uint32_t *k32; /* counting: a key or ABSENT per row */
    size_t k32cap;
    uint32_t *counts; /* counting: domain entries */

    uint64_t *k64;  /* radix: key of each present row */
    uint32_t *rows; /* radix: its row id */
    size_t cap;
};

int colog__idxw_new(colog_type_t type, uint64_t ncodes, colog_idxw_t **out)
{
    if (!out || !idx_type_ok(type))
        return colog_seterr(COLOG_EINVAL, "index writer: type %d cannot be indexed", (int)type);
    bool dict = colog_type_is_dict(type);
    if ((dict && ncodes > UINT32_MAX) || (!dict && ncodes != 0))
        return colog_seterr(COLOG_EINVAL, "index writer: bad dictionary size %llu",
                            (unsigned long long)ncodes);
    colog_idxw_t *w = calloc(1, sizeof *w);
    if (!w)
        return colog_seterr(COLOG_ENOMEM, "index writer: out of memory");
    w->type = type;
    w->counting = dict || type == COLOG_T_U8 || type == COLOG_T_U16;
    if (w->counting) {
        w->domain = dict ? ncodes : SMALL_DOMAIN;
        w->counts = calloc(w->domain ? w->domain : 1, sizeof *w->counts);
        if (!w->counts) {
            unsigned long long domain = w->domain;
            free(w);
            return colog_seterr(COLOG_ENOMEM, "index writer: out of memory (%llu keys)", domain);
        }
    }
    *out = w;
    return 0;
}

void colog__idxw_abort(colog_idxw_t *w)
{
    if (!w)
        return;
    free(w->k32);
    free(w->counts);
    free(w->k64);
    free(w->rows);
    free(w);
}

/* Grow *p (of *cap elements of size sz) to hold at least need elements. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c = c > SIZE_MAX / 2 / sz ? need : c * 2;
    void *q = realloc(*p, c * sz);
    if (!q)
        return COLOG_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* Check every present value of a batch against the key domain (invariant 1:
 * nothing is buffered unless all are good). */
static int check_vals(const colog_idxw_t *w, const void *vals, const uint8_t *valid, uint32_t n)
{
    if (colog_type_is_dict(w->type)) {
        const uint32_t *c = vals;
        for (uint32_t i = 0; i < n; i++)
            if (c[i] >= w->domain && colog_valid(valid, i))
                return colog_seterr(COLOG_ERANGE,
                                    "index writer: code %u outside the dictionary (%llu)", c[i],
                                    (unsigned long long)w->domain);
        return 0;
    }
    uint64_t umax = key_max(w->type);
    if (w->type == COLOG_T_I64 || umax == UINT64_MAX)
        return 0;
    const uint64_t *u = vals;
    for (uint32_t i = 0; i < n; i++)
        if (u[i] > umax && colog_valid(valid, i))
            return colog_seterr(COLOG_ERANGE, "index writer: value %llu out of range for %s",
                                (unsigned long long)u[i],
                                w->type == COLOG_T_U8    ? "u8"
                                : w->type == COLOG_T_U16 ? "u16"
                                                         : "u32");
    return 0;
}

static int add_counting(colog_idxw_t *w, const void *vals, const uint8_t *valid, uint32_t n)
{
    if (grow((void **)&w->k32, &w->k32cap, (size_t)w->nrows + n, sizeof *w->k32) < 0)
        return colog_seterr(COLOG_ENOMEM, "index writer: out of memory");
    uint32_t *dst = w->k32 + w->nrows;
    uint32_t *cnt = w->counts;
    uint64_t nvalid = 0;
    if (colog_type_is_dict(w->type)) {
        const uint32_t *c = vals;
        for (uint32_t i = 0; i < n; i++) {
            bool ok = colog_valid(valid, i);
            dst[i] = ok ? c[i] : ABSENT;
            cnt[ok ? c[i] : 0] += ok;
            nvalid += ok;
        }
    } else {
        const uint64_t *u = vals;
        for (uint32_t i = 0; i < n; i++) {
            bool ok = colog_valid(valid, i);
            uint32_t k = ok ? (uint32_t)u[i] : 0;
            dst[i] = ok ? k : ABSENT;
            cnt[k] += ok;
            nvalid += ok;
        }
    }
    w->nvalid += nvalid;
    return 0;
}

static int add_radix(colog_idxw_t *w, const void *vals, const uint8_t *valid, uint32_t n)
{
    size_t need = (size_t)w->nvalid + n;
    size_t cap = w->cap;
    if (grow((void **)&w->k64, &cap, need, sizeof *w->k64) < 0)
        return colog_seterr(COLOG_ENOMEM, "index writer: out of memory");
    cap = w->cap;
    if (grow((void **)&w->rows, &cap, need, sizeof *w->rows) < 0)
        return colog_seterr(COLOG_ENOMEM, "index writer: out of memory");
    w->cap = cap;
    /* int64_t and uint64_t values: keep the bits. */
    const uint64_t *u = vals;
    uint64_t *k = w->k64 + w->nvalid;
    uint32_t *r = w->rows + w->nvalid;
    uint32_t row = (uint32_t)w->nrows, m = 0;
    if (!valid) {
        memcpy(k, u, (size_t)n * sizeof *k);
        for (uint32_t i = 0; i < n; i++)
            r[i] = row + i;
        m = n;
    } else {
        for (uint32_t i = 0; i < n; i++) {
            k[m] = u[i];
            r[m] = row + i;
            m += colog_valid(valid, i);
        }
    }
    w->nvalid += m;
    return 0;
}

int colog__idxw_add(colog_idxw_t *w, const void *vals, const uint8_t *valid, uint32_t n)
{
    if (!w)
        return colog_seterr(COLOG_EINVAL, "index writer is NULL");
    if (n == 0)
        return 0;
    if (!vals)
        return colog_seterr(COLOG_EINVAL, "index writer: add of %u values from NULL", n);
    if (w->nrows + n > IDX_MAX_ROWS)
        return colog_seterr(COLOG_ELIMIT, "index writer: more than %llu rows",
                            (unsigned long long)IDX_MAX_ROWS);
    int rc = check_vals(w, vals, valid, n);
    if (rc < 0)
        return rc;
    rc = w->counting ? add_counting(w, vals, valid, n) : add_radix(w, vals, valid, n);
    if (rc < 0)
        return rc;
    w->nrows += n;
    return 0;
}

/* The present rows grouped by key: the rows of key keys[g] are
 * rows[starts[g] .. starts[g + 1]), ascending. */
struct groups {
    uint32_t n;
    uint64_t *keys;
    uint32_t *starts; /* n + 1 */
    uint32_t *rows;   /* w->nvalid */
};

static void groups_free(struct groups *g)
{
    free(g->keys);
    free(g->starts);
    free(g->rows);
}

/* Counting sort of the buffered rows; frees w->k32 and w->counts. */
static int group_counting(colog_idxw_t *w, struct groups *g)
{
    uint32_t *pos = w->counts;
    uint64_t nkeys = 0, at = 0;
    for (uint64_t k = 0; k < w->domain; k++) {
        uint32_t c = pos[k];
        nkeys += c != 0;
        pos[k] = (uint32_t)at;
        at += c;
    }
    g->rows = malloc((w->nvalid ? w->nvalid : 1) * sizeof *g->rows);
    g->keys = malloc((nkeys ? nkeys : 1) * sizeof *g->keys);
    g->starts = malloc((nkeys + 1) * sizeof *g->starts);
    if (!g->rows || !g->keys || !g->starts)
        return COLOG_ENOMEM;
    const uint32_t *k32 = w->k32;
    for (uint64_t r = 0; r < w->nrows; r++) {
        uint32_t k = k32[r];
        if (k != ABSENT)
            g->rows[pos[k]++] = (uint32_t)r;
    }
    free(w->k32);
    w->k32 = NULL;
    /* pos[k] is now where key k ends. */
    uint32_t prev = 0, m = 0;
    for (uint64_t k = 0; k < w->domain; k++) {
        if (pos[k] == prev)
            continue;
        g->keys[m] = k;
        g->starts[m++] = prev;
        prev = pos[k];
    }
    g->starts[m] = prev;
    g->n = m;
    free(w->counts);
    w->counts = NULL;
    return 0;
}

/* LSD radix sort, 8 bits a pass, of the pairs (*pk, *pr)[0..n) by *pk ^ flip;
 * stable, so equal keys keep their rows in order. The sorted arrays replace
 * *pk and *pr (the old ones are freed). Changes nothing on failure. */
static int radix_sort(uint64_t **pk, uint32_t **pr, size_t n, uint64_t flip)
{
    if (n < 2)
        return 0;
    uint32_t(*hist)[256] = calloc(8, sizeof *hist);
    uint64_t *k = *pk, *tk = malloc(n * sizeof *tk);
    uint32_t *r = *pr, *tr = malloc(n * sizeof *tr);
    if (!hist || !tk || !tr) {
        free(hist);
        free(tk);
        free(tr);
        return COLOG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t x = k[i] ^ flip;
        for (int d = 0; d < 8; d++)
            hist[d][(x >> (8 * d)) & 0xff]++;
    }
    for (unsigned sh = 0; sh < 64; sh += 8) {
        const uint32_t *h = hist[sh / 8];
        if (h[((k[0] ^ flip) >> sh) & 0xff] == n)
            continue; /* every key has the same digit */
        uint32_t pos[256], at = 0;
        for (int b = 0; b < 256; b++) {
            pos[b] = at;
            at += h[b];
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t p = pos[((k[i] ^ flip) >> sh) & 0xff]++;
            tk[p] = k[i];
            tr[p] = r[i];
        }
        uint64_t *sk = k;
        k = tk;
        tk = sk;
        uint32_t *sr = r;
        r = tr;
        tr = sr;
    }
    free(tk);
    free(tr);
    free(hist);
    *pk = k;
    *pr = r;
    return 0;
}

/* Radix sort of the buffered pairs, then runs of equal keys; the groups take
 * w->rows, and w->k64 is freed. */
static int group_radix(colog_idxw_t *w, struct groups *g)
{
    size_t n = (size_t)w->nvalid;
    int rc = radix_sort(&w->k64, &w->rows, n, key_flip(w->type));
    if (rc < 0)
        return rc;
    const uint64_t *k = w->k64;
    size_t nkeys = 0;
    for (size_t i = 0; i < n; i++)
        nkeys += i == 0 || k[i] != k[i - 1];
    g->keys = malloc((nkeys ? nkeys : 1) * sizeof *g->keys);
    g->starts = malloc((nkeys + 1) * sizeof *g->starts);
    if (!g->keys || !g->starts)
        return COLOG_ENOMEM;
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || k[i] != k[i - 1]) {
            g->keys[m] = k[i];
            g->starts[m++] = (uint32_t)i;
        }
    }
    g->starts[m] = (uint32_t)n;
    g->n = m;
    g->rows = w->rows;
    w->rows = NULL;
    free(w->k64);
    w->k64 = NULL;
    return 0;
}

/* Output stream: a buffer in front of the file and the running digests. */
struct ostream {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    uint64_t off; /* bytes emitted (flushed or buffered) */
    XXH3_state_t *xs;
    crypto_hash_sha256_state sha;
};

static int os_flush(struct ostream *o)
{
    if (o->len == 0)
        return 0;
    int rc = colog__write_all(o->fd, o->buf, o->len);
    if (rc < 0)
        return rc;
    XXH3_64bits_update(o->xs, o->buf, o->len);
    crypto_hash_sha256_update(&o->sha, o->buf, o->len);
    o->len = 0;
    return 0;
}

/* Room for need more bytes at o->buf + o->len. */
static int os_reserve(struct ostream *o, size_t need)
{
    if (o->len + need <= o->cap)
        return 0;
    int rc = os_flush(o);
    if (rc < 0 || need <= o->cap)
        return rc;
    uint8_t *b = realloc(o->buf, need);
    if (!b)
        return COLOG_ENOMEM;
    o->buf = b;
    o->cap = need;
    return 0;
}

/* Emit p[0..len); what does not fit the buffer goes straight to the file. */
static int os_put(struct ostream *o, const void *p, size_t len)
{
    if (len > o->cap) {
        int rc = os_flush(o);
        if (rc == 0)
            rc = colog__write_all(o->fd, p, len);
        if (rc < 0)
            return rc;
        XXH3_64bits_update(o->xs, p, len);
        crypto_hash_sha256_update(&o->sha, p, len);
        o->off += len;
        return 0;
    }
    int rc = os_reserve(o, len);
    if (rc < 0)
        return rc;
    memcpy(o->buf + o->len, p, len);
    o->len += len;
    o->off += len;
    return 0;
}

/* Build, serialize and emit the bitmap of group i; fill its table entry. */
static int emit_bitmap(struct ostream *o, const struct groups *g, uint32_t i, uint64_t seed,
                       struct ent *e)
{
    uint32_t start = g->starts[i], card = g->starts[i + 1] - start;
    roaring_bitmap_t *b = roaring_bitmap_of_ptr(card, g->rows + start);
    if (!b)
        return COLOG_ENOMEM;
    roaring_bitmap_run_optimize(b);
    size_t len = roaring_bitmap_portable_size_in_bytes(b);
    int rc = len > UINT32_MAX ? COLOG_ELIMIT : os_reserve(o, len);
    if (rc == 0) {
        uint8_t *p = o->buf + o->len;
        if (roaring_bitmap_portable_serialize(b, (char *)p) != len) {
            rc = COLOG_EINVAL;
        } else {
            *e = (struct ent){.key = g->keys[i],
                              .off = o->off,
                              .card = card,
                              .len = (uint32_t)len,
                              .sum = XXH3_64bits_withSeed(p, len, seed ^ i)};
            o->len += len;
            o->off += len;
        }
    }
    roaring_bitmap_free(b);
    return rc;
}

/* Everything after the open: header, bitmaps, table, trailer; then fsync. */
static int write_body(colog_idxw_t *w, const struct groups *g, struct ostream *o, uint64_t seed)
{
    uint8_t h[HDR_SIZE] = {0};
    colog__put_u32(h, COLOG_IDX_MAGIC);
    colog__put_u16(h + 4, COLOG_FORMAT_VERSION);
    h[6] = (uint8_t)w->type;
    colog__put_u32(h + 8, g->n);
    colog__put_u64(h + 16, w->nrows);
    colog__put_u64(h + 24, XXH3_64bits_withSeed(h, 24, seed));
    int rc = os_put(o, h, sizeof h);
    if (rc < 0)
        return rc;

    size_t tlen = (size_t)g->n * ENT_SIZE + TAB_SUM;
    uint8_t *tab = malloc(tlen);
    if (!tab)
        return COLOG_ENOMEM;
    for (uint32_t i = 0; i < g->n; i++) {
        struct ent e = {0};
        rc = emit_bitmap(o, g, i, seed, &e);
        if (rc < 0)
            break;
        put_ent(tab + (size_t)i * ENT_SIZE, &e);
    }
    uint64_t toff = o->off;
    if (rc == 0) {
        colog__put_u64(tab + tlen - TAB_SUM, XXH3_64bits_withSeed(tab, tlen - TAB_SUM, seed));
        rc = os_put(o, tab, tlen);
    }
    free(tab);
    if (rc < 0)
        return rc;

    uint8_t t[TRAILER_SIZE];
    colog__put_u64(t, toff);
    colog__put_u32(t + 8, g->n);
    colog__put_u32(t + 12, COLOG_IDX_MAGIC);
    colog__put_u64(t + 16, XXH3_64bits_withSeed(t, 16, seed));
    rc = os_put(o, t, sizeof t);
    if (rc == 0)
        rc = os_flush(o);
    if (rc == 0)
        rc = colog__fsync_fd(o->fd);
    return rc;
}

int colog__idxw_write(colog_idxw_t *w, int dirfd, const char *fname, uint64_t *size, uint64_t *xxh,
                      uint8_t sha256[32])
{
    if (!w || !fname) {
        colog__idxw_abort(w);
        return colog_seterr(COLOG_EINVAL, "index writer: bad arguments");
    }
    struct groups g = {0};
    struct ostream o = {.fd = -1};
    int rc;
    if (sodium_init() < 0) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: sodium_init failed", fname);
        goto out_free;
    }
    rc = w->counting ? group_counting(w, &g) : group_radix(w, &g);
    if (rc < 0) {
        colog_seterr(rc, "%s: grouping rows: %s", fname, colog_strerror(rc));
        goto out_free;
    }
    o.cap = OBUF_SIZE;
    o.buf = malloc(o.cap);
    o.xs = XXH3_createState();
    if (!o.buf || !o.xs) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
        goto out_free;
    }
    XXH3_64bits_reset(o.xs);
    crypto_hash_sha256_init(&o.sha);
    o.fd = openat(dirfd, fname, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (o.fd < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: open: %s", fname, strerror(-rc));
        goto out_free;
    }
    rc = write_body(w, &g, &o, colog__file_seed(fname));
    if (close(o.fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        colog_seterr(rc, "%s: write: %s", fname, colog_strerror(rc));
        unlinkat(dirfd, fname, 0);
        goto out_free;
    }
    if (size)
        *size = o.off;
    if (xxh)
        *xxh = XXH3_64bits_digest(o.xs);
    if (sha256)
        crypto_hash_sha256_final(&o.sha, sha256);

out_free:
    free(o.buf);
    XXH3_freeState(o.xs);
    groups_free(&g);
    colog__idxw_abort(w);
    return rc;
}

/* ================================================================ reader */

struct colog_idxr {
    int fd;
    colog_type_t type;
    uint64_t flip;
    uint64_t seed;
    uint64_t nrows;
    uint32_t nkeys;
    struct ent *ents;
    char *display;
};

static int corrupt(const colog_idxr_t *r, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: %s", r->display, what);
}

static int key_corrupt(const colog_idxr_t *r, uint32_t i, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: key %u: %s", r->display, i, what);
}

static int r_pread(const colog_idxr_t *r, void *buf, size_t len, uint64_t off, const char *part)
{
    int rc = colog__pread_all(r->fd, buf, len, off);
    if (rc == COLOG_ECORRUPT)
        return colog_seterr(rc, "%s: %s: truncated file", r->display, part);
    if (rc < 0)
        return colog_seterr(rc, "%s: %s: read: %s", r->display, part, colog_strerror(rc));
    return 0;
}

static void idxr_free(colog_idxr_t *r)
{
    free(r->ents);
    free(r->display);
    free(r);
}

/* Header checks after the magic; sets r->nkeys. */
static int check_header(colog_idxr_t *r, const uint8_t *h, uint64_t nrows)
{
    unsigned ver = colog__get_u16(h + 4);
    if (ver != COLOG_FORMAT_VERSION)
        return colog_seterr(COLOG_EVERSION, "%s: format version %u not supported (expected %u)",
                            r->display, ver, COLOG_FORMAT_VERSION);
    if (colog__get_u64(h + 24) != XXH3_64bits_withSeed(h, 24, r->seed))
        return corrupt(r, "header checksum mismatch");
    if (h[7] != 0 || colog__get_u32(h + 12) != 0)
        return corrupt(r, "header reserved fields not zero");
    if (h[6] != (uint8_t)r->type)
        return colog_seterr(COLOG_ECORRUPT, "%s: column type %u, expected %u", r->display, h[6],
                            (unsigned)r->type);
    if (nrows > IDX_MAX_ROWS)
        return colog_seterr(COLOG_ECORRUPT, "%s: %llu rows, more than an index can hold",
                            r->display, (unsigned long long)nrows);
    if (colog__get_u64(h + 16) != nrows)
        return colog_seterr(COLOG_ECORRUPT, "%s: index covers %llu rows, the part has %llu",
                            r->display, (unsigned long long)colog__get_u64(h + 16),
                            (unsigned long long)nrows);
    r->nkeys = colog__get_u32(h + 8);
    return 0;
}

/* Validate the key table entries (invariant 2); tab is the table without its sum. */
static int parse_table(colog_idxr_t *r, const uint8_t *tab, uint64_t toff)
{
    uint64_t kmax = key_max(r->type), at = HDR_SIZE, total = 0;
    r->ents = malloc((r->nkeys ? r->nkeys : 1) * sizeof *r->ents);
    if (!r->ents)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    for (uint32_t i = 0; i < r->nkeys; i++) {
        struct ent *e = &r->ents[i];
        get_ent(tab + (size_t)i * ENT_SIZE, e);
        const char *bad = NULL;
        if (e->key > kmax)
            bad = "key out of range for the column type";
        else if (i > 0 && (e->key ^ r->flip) <= (r->ents[i - 1].key ^ r->flip))
            bad = "keys not strictly ascending";
        else if (e->card == 0)
            bad = "empty bitmap";
        else if (e->off != at)
            bad = "bitmap offset out of sequence";
        else if (e->len == 0 || e->len > toff - at)
            bad = "bitmap length out of bounds";
        if (bad)
            return key_corrupt(r, i, bad);
        at += e->len;
        total += e->card;
    }
    if (at != toff)
        return corrupt(r, "key table: bitmaps do not end where the table starts");
    if (total > r->nrows)
        return corrupt(r, "key table: cardinalities add up to more than the rows");
    return 0;
}

/* Read and check the tail: key table and trailer. */
static int read_tail(colog_idxr_t *r, uint64_t size)
{
    uint64_t tlen = (uint64_t)r->nkeys * ENT_SIZE + TAB_SUM;
    if (tlen > size - HDR_SIZE - TRAILER_SIZE)
        return corrupt(r, "key count does not fit the file");
    uint64_t toff = size - TRAILER_SIZE - tlen;
    uint8_t *tab = malloc((size_t)tlen + TRAILER_SIZE);
    if (!tab)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    int rc = r_pread(r, tab, (size_t)tlen + TRAILER_SIZE, toff, "key table");
    if (rc < 0)
        goto out_free;
    const uint8_t *t = tab + tlen;
    if (colog__get_u32(t + 12) != COLOG_IDX_MAGIC)
        rc = corrupt(r, "trailer: bad magic");
    else if (colog__get_u64(t + 16) != XXH3_64bits_withSeed(t, 16, r->seed))
        rc = corrupt(r, "trailer: checksum mismatch");
    else if (colog__get_u64(t) != toff || colog__get_u32(t + 8) != r->nkeys)
        rc = corrupt(r, "trailer does not match the header");
    else if (colog__get_u64(tab + tlen - TAB_SUM) !=
             XXH3_64bits_withSeed(tab, (size_t)tlen - TAB_SUM, r->seed))
        rc = corrupt(r, "key table: checksum mismatch");
    else
        rc = parse_table(r, tab, toff);
out_free:
    free(tab);
    return rc;
}

int colog__idxr_open(colog_idxr_t **out, int dirfd, const char *fname, colog_type_t type,
                     uint64_t nrows, const char *display)
{
    if (!out || !fname || !idx_type_ok(type))
        return colog_seterr(COLOG_EINVAL, "%s: bad index reader arguments",
                            display ? display
                            : fname ? fname
                                    : "(null)");
    if (!display)
        display = fname;
    int rc;
    colog_idxr_t *r = calloc(1, sizeof *r);
    if (!r)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
    r->type = type;
    r->flip = key_flip(type);
    r->seed = colog__file_seed(fname);
    r->nrows = nrows;
    r->display = strdup(display);
    if (!r->display) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
        goto out_free;
    }
    r->fd = openat(dirfd, fname, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: open: %s", display, strerror(-rc));
        goto out_free;
    }
    struct stat st;
    if (fstat(r->fd, &st) < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: stat: %s", display, strerror(-rc));
        goto out_close;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint8_t h[HDR_SIZE];
    rc = r_pread(r, h, size < HDR_SIZE ? size : HDR_SIZE, 0, "header");
    if (rc < 0)
        goto out_close;
    if (size < 4 || colog__get_u32(h) != COLOG_IDX_MAGIC) {
        rc = colog_seterr(COLOG_ENOTCOLOG, "%s: not a colog index file", display);
        goto out_close;
    }
    if (size < MIN_FILE) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: truncated file (%llu bytes)", display,
                          (unsigned long long)size);
        goto out_close;
    }
    rc = check_header(r, h, nrows);
    if (rc == 0)
        rc = read_tail(r, size);
    if (rc < 0)
        goto out_close;
    *out = r;
    return 0;

out_close:
    close(r->fd);
out_free:
    idxr_free(r);
    return rc;
}

uint32_t colog__idxr_nkeys(const colog_idxr_t *r)
{
    return r ? r->nkeys : 0;
}

uint64_t colog__idxr_key(const colog_idxr_t *r, uint32_t i)
{
    return r && i < r->nkeys ? r->ents[i].key : 0;
}

uint64_t colog__idxr_card(const colog_idxr_t *r, uint32_t i)
{
    return r && i < r->nkeys ? r->ents[i].card : 0;
}

uint32_t colog__idxr_lower(const colog_idxr_t *r, uint64_t key)
{
    if (!r)
        return 0;
    uint64_t k = key ^ r->flip;
    uint32_t lo = 0, hi = r->nkeys;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((r->ents[mid].key ^ r->flip) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Set bits in p[0..len) (len a multiple of 8). With the popcnt instruction
 * where the CPU has it: the generic __builtin_popcountll is a libgcc call
 * that would take most of the time of reading a dense bitmap. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) static uint32_t popcount_hw(const uint8_t *p, size_t len)
{
    uint32_t c = 0;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        c += (uint32_t)__builtin_popcountll(x);
    }
    return c;
}
#endif

static uint32_t popcount_bytes(const uint8_t *p, size_t len)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("popcnt"))
        return popcount_hw(p, len);
#endif
    uint32_t c = 0;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        c += (uint32_t)__builtin_popcountll(x);
    }
    return c;
}

/* The container checks of check_portable: each looks at p[*at..len), a
 * container of cardinality cc, advances *at past it and gives its largest
 * value. NULL if good, else what is wrong. */
static const char *check_run(const uint8_t *p, size_t len, size_t *at, uint32_t cc, uint32_t *last)
{
    if (len - *at < 2)
        return "truncated";
    size_t nr = colog__get_u16(p + *at), q = *at + 2;
    if (nr == 0)
        return "empty run container";
    if (4 * nr > len - q)
        return "truncated";
    uint32_t sum = 0;
    int32_t end = -1;
    for (size_t k = 0; k < nr; k++, q += 4) {
        int32_t start = colog__get_u16(p + q), lm1 = colog__get_u16(p + q + 2);
        if (start <= end)
            return "runs out of order or overlapping";
        if (start + lm1 > 65535)
            return "run past the end of its container";
        end = start + lm1;
        sum += (uint32_t)lm1 + 1;
    }
    if (sum != cc)
        return "run lengths do not match the cardinality";
    *at = q;
    *last = (uint32_t)end;
    return NULL;
}

static const char *check_bitset(const uint8_t *p, size_t len, size_t *at, uint32_t cc,
                                uint32_t *last)
{
    if (len - *at < RB_BITSET_BYTES)
        return "truncated";
    const uint8_t *bits = p + *at;
    if (popcount_bytes(bits, RB_BITSET_BYTES) != cc)
        return "bitset popcount does not match the cardinality";
    uint32_t wd = RB_BITSET_BYTES / 8 - 1;
    while (colog__get_u64(bits + 8 * wd) == 0) /* cc > 0, so some word is not */
        wd--;
    *last = 64 * wd + 63 - (uint32_t)__builtin_clzll(colog__get_u64(bits + 8 * wd));
    *at += RB_BITSET_BYTES;
    return NULL;
}

static const char *check_array(const uint8_t *p, size_t len, size_t *at, uint32_t cc,
                               uint32_t *last)
{
    if ((len - *at) / 2 < cc)
        return "truncated";
    const uint8_t *v = p + *at;
    for (uint32_t k = 1; k < cc; k++)
        if (colog__get_u16(v + 2 * k) <= colog__get_u16(v + 2 * (k - 1)))
            return "array values not ascending";
    *last = colog__get_u16(v + 2 * (cc - 1));
    *at += 2 * (size_t)cc;
    return NULL;
}

/* Check that p[0..len) is one well-formed portable bitmap, exactly len bytes
 * long (RoaringFormatSpec): container keys strictly ascending, offsets (when
 * present) where the containers are, array values strictly ascending, runs
 * ascending, disjoint and within 0..65535, bitset popcounts equal to the
 * cardinalities. Gives the cardinality and the largest value. NULL if good,
 * else what is wrong. */
static const char *check_portable(const uint8_t *p, size_t len, uint64_t *card, uint32_t *max)
{
    if (len < 4)
        return "truncated";
    size_t at, n;
    const uint8_t *runs = NULL; /* run flags, a bit per container */
    uint32_t cookie = colog__get_u32(p);
    if (cookie == RB_COOKIE_NORUN) {
        if (len < 8)
            return "truncated";
        n = colog__get_u32(p + 4);
        at = 8;
        if (n > 65536)
            return "too many containers";
    } else if ((cookie & 0xffff) == RB_COOKIE_RUN) {
        n = (cookie >> 16) + 1;
        runs = p + 4;
        at = 4 + (n + 7) / 8;
        if (at > len)
            return "truncated";
        if ((n & 7) && (runs[n / 8] >> (n & 7)) != 0)
            return "run flags padding not zero";
    } else {
        return "bad cookie";
    }
    if (n == 0)
        return "no containers";
    if (4 * n > len - at)
        return "truncated";
    const uint8_t *kc = p + at; /* key, cardinality - 1: u16 each */
    at += 4 * n;
    const uint8_t *offs = NULL;
    if (!runs || n >= RB_NO_OFFSET_THRESHOLD) {
        if (4 * n > len - at)
            return "truncated";
        offs = p + at;
        at += 4 * n;
    }
    uint64_t total = 0;
    uint32_t last = 0;
    for (size_t c = 0; c < n; c++) {
        uint32_t key = colog__get_u16(kc + 4 * c), cc = colog__get_u16(kc + 4 * c + 2) + 1u;
        if (c > 0 && key <= colog__get_u16(kc + 4 * (c - 1)))
            return "container keys not ascending";
        if (offs && colog__get_u32(offs + 4 * c) != at)
            return "bad container offset";
        const char *bad;
        if (runs && ((runs[c / 8] >> (c % 8)) & 1))
            bad = check_run(p, len, &at, cc, &last);
        else if (cc > RB_ARRAY_MAX)
            bad = check_bitset(p, len, &at, cc, &last);
        else
            bad = check_array(p, len, &at, cc, &last);
        if (bad)
            return bad;
        total += cc;
        *max = key << 16 | last;
    }
    if (at != len)
        return "length does not match its contents";
    *card = total;
    return NULL;
}

/* Verify bitmap i (bytes p[0..len)) and deserialize it into *out (invariant 3). */
static int load_bitmap(const colog_idxr_t *r, uint32_t i, const uint8_t *p, roaring_bitmap_t **out)
{
    const struct ent *e = &r->ents[i];
    if (XXH3_64bits_withSeed(p, e->len, r->seed ^ i) != e->sum)
        return key_corrupt(r, i, "checksum mismatch");
    uint64_t card = 0;
    uint32_t max = 0;
    const char *bad = check_portable(p, e->len, &card, &max);
    if (bad)
        return colog_seterr(COLOG_ECORRUPT, "%s: key %u: malformed bitmap: %s", r->display, i, bad);
    if (card != e->card)
        return colog_seterr(COLOG_ECORRUPT, "%s: key %u: %llu rows, key table says %u", r->display,
                            i, (unsigned long long)card, e->card);
    if (max >= r->nrows)
        return colog_seterr(COLOG_ECORRUPT, "%s: key %u: row %u out of range (%llu rows)",
                            r->display, i, max, (unsigned long long)r->nrows);
    roaring_bitmap_t *b = roaring_bitmap_portable_deserialize_safe((const char *)p, e->len);
    if (!b) /* the bytes were checked: this is an allocation failure */
        return colog_seterr(COLOG_ENOMEM, "%s: key %u: out of memory", r->display, i);
    if (roaring_bitmap_get_cardinality(b) != card || roaring_bitmap_maximum(b) != max) {
        roaring_bitmap_free(b);
        return key_corrupt(r, i, "bitmap does not match its encoding");
    }
    *out = b;
    return 0;
}

int colog__idxr_or_range(const colog_idxr_t *r, uint32_t i, uint32_t j,
                         struct roaring_bitmap_s *dst)
{
    if (!r || !dst || i > j || j > r->nkeys)
        return colog_seterr(COLOG_EINVAL, "%s: bad key range %u..%u", r ? r->display : "index", i,
                            j);
    if (i == j)
        return 0;
    const struct ent *e = r->ents;
    roaring_bitmap_t *acc = NULL; /* the union so far; lazy once two are in */
    bool lazy = false;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (uint32_t a = i; a < j && rc == 0;) {
        /* The longest run of bitmaps from a within READ_CHUNK bytes (at least one). */
        uint32_t b = a + 1;
        uint64_t span = e[a].len;
        while (b < j && span + e[b].len <= READ_CHUNK)
            span += e[b++].len;
        if (grow((void **)&buf, &cap, (size_t)span, 1) < 0) {
            rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
            break;
        }
        char what[48];
        snprintf(what, sizeof what, "keys %u..%u", a, b - 1);
        rc = r_pread(r, buf, (size_t)span, e[a].off, what);
        for (uint32_t k = a; k < b && rc == 0; k++) {
            roaring_bitmap_t *bm = NULL;
            rc = load_bitmap(r, k, buf + (e[k].off - e[a].off), &bm);
            if (rc < 0)
                break;
            if (!acc) {
                acc = bm;
                continue;
            }
            roaring_bitmap_lazy_or_inplace(acc, bm, true);
            roaring_bitmap_free(bm);
            lazy = true;
        }
        a = b;
    }
    if (rc == 0) {
        if (lazy)
            roaring_bitmap_repair_after_lazy(acc);
        roaring_bitmap_or_inplace(dst, acc);
    }
    if (acc) /* roaring_bitmap_free(NULL) crashes in CRoaring 0.2.66 */
        roaring_bitmap_free(acc);
    free(buf);
    return rc;
}

void colog__idxr_close(colog_idxr_t *r)
{
    if (!r)
        return;
    close(r->fd);
    idxr_free(r);
}
