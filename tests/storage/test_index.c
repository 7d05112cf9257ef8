/*
 * test_index.c — Criterion suite of colog_index.c (bitmap index files).
 *
 * Round trips check keys, cardinalities and rows against expectations worked
 * out by hand for small inputs and, for large seeded random inputs, against a
 * reference that needs no sorting: every row of key K's posting must hold K,
 * and the cardinalities must add up to the number of present rows (so each
 * present row is in exactly one posting). Layouts are checked byte by byte
 * against docs/FORMAT.md: small files against bytes worked out by hand, and
 * written files of every shape against files rebuilt by an encoder of the
 * spec written here, independently of the module (bit by bit, no shortcuts).
 * The same encoder builds files that are consistent with their checksums but
 * not with the rules, so that each structural check of the reader is hit on
 * its own; flips and truncations check that the checksums catch the rest.
 */
#include "colog_storage_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <roaring/roaring.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC 0x58444943u /* "CIDX" */
#define HDR 48
#define DIRENT 16  /* version 1 directory entry */
#define DIRENT2 40 /* version 2 */

static char tdir[64];
static int dfd = -1;

static void setup(void)
{
    strcpy(tdir, "/tmp/colog-index-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    dfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);
}

static void teardown(void)
{
    close(dfd);
    cr_assert_eq(colog__rm_rf(AT_FDCWD, tdir), 0);
}

TestSuite(index, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t seed_of(const char *name)
{
    return XXH3_64bits(name, strlen(name));
}

static uint8_t *slurp(const char *name, size_t *len)
{
    uint8_t *buf;
    cr_assert_eq(colog__read_file(dfd, name, &buf, len), 0, "%s", colog_errmsg());
    return buf;
}

static void put_file(const char *name, const void *buf, size_t len)
{
    unlinkat(dfd, name, 0);
    int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(colog__write_all(fd, buf, len), 0);
    close(fd);
}

/* Write an index of n values, added step rows at a time (step % 8 == 0 so that
 * the validity bitset of a step starts on a byte). Returns the file size. */
static uint64_t write_idx(const char *name, colog_type_t t, uint64_t ncodes, const void *vals,
                          const uint8_t *valid, uint32_t n, uint32_t step)
{
    colog_idxw_t *w = NULL;
    cr_assert_eq(colog__idxw_new(t, ncodes, &w), 0, "%s", colog_errmsg());
    size_t vsz = colog_type_is_dict(t) ? 4 : 8;
    for (uint32_t at = 0; at < n; at += step) {
        uint32_t k = n - at < step ? n - at : step;
        cr_assert_eq(
            colog__idxw_add(w, (const uint8_t *)vals + vsz * at, valid ? valid + at / 8 : NULL, k),
            0, "%s", colog_errmsg());
    }
    uint64_t size = 0, xxh = 0;
    uint8_t sha[32];
    cr_assert_eq(colog__idxw_write(w, dfd, name, &size, &xxh, sha), 0, "%s", colog_errmsg());
    size_t len;
    uint8_t *f = slurp(name, &len);
    cr_assert_eq(size, len);
    cr_assert_eq(xxh, XXH3_64bits(f, len));
    uint8_t want[32];
    crypto_hash_sha256(want, f, len);
    cr_assert_arr_eq(sha, want, 32);
    free(f);
    return size;
}

/* Open, not loaded: only range, last_key and or_range may be used. */
static colog_idxr_t *open_lazy(const char *name, colog_type_t t, uint64_t nrows)
{
    colog_idxr_t *r = NULL;
    cr_assert_eq(colog__idxr_open(&r, dfd, name, t, nrows, name), 0, "%s", colog_errmsg());
    return r;
}

/* Open and load. */
static colog_idxr_t *open_idx(const char *name, colog_type_t t, uint64_t nrows)
{
    colog_idxr_t *r = open_lazy(name, t, nrows);
    cr_assert_eq(colog__idxr_load(r), 0, "%s", colog_errmsg());
    return r;
}

/* Open and load: the first error. */
static int try_open(const char *name, colog_type_t t, uint64_t nrows)
{
    colog_idxr_t *r = NULL;
    int rc = colog__idxr_open(&r, dfd, name, t, nrows, name);
    if (rc == 0) {
        rc = colog__idxr_load(r);
        colog__idxr_close(r);
    } else {
        cr_assert_null(r, "out-parameter untouched on failure");
    }
    return rc;
}

/* Rows of keys [i, j) as a malloc'ed array (n of them). */
static uint32_t *rows_of(const colog_idxr_t *r, uint32_t i, uint32_t j, uint64_t *n)
{
    roaring_bitmap_t *b = roaring_bitmap_create();
    cr_assert_eq(colog__idxr_or_range(r, i, j, b), 0, "%s", colog_errmsg());
    *n = roaring_bitmap_get_cardinality(b);
    uint32_t *a = malloc((*n ? *n : 1) * sizeof *a);
    roaring_bitmap_to_uint32_array(b, a);
    roaring_bitmap_free(b);
    return a;
}

static void expect_rows(const colog_idxr_t *r, uint32_t i, uint32_t j, const uint32_t *want,
                        uint64_t n)
{
    uint64_t got_n;
    uint32_t *got = rows_of(r, i, j, &got_n);
    cr_assert_eq(got_n, n, "keys %u..%u: %llu rows, want %llu", i, j, (unsigned long long)got_n,
                 (unsigned long long)n);
    for (uint64_t k = 0; k < n; k++)
        cr_assert_eq(got[k], want[k], "keys %u..%u: row %llu", i, j, (unsigned long long)k);
    free(got);
}

static void expect_key(const colog_idxr_t *r, uint32_t i, uint64_t key, const uint32_t *rows,
                       uint64_t n)
{
    cr_assert_eq(colog__idxr_key(r, i), key, "key %u", i);
    cr_assert_eq(colog__idxr_card(r, i), n, "card %u", i);
    expect_rows(r, i, i + 1, rows, n);
}

static int or_range_rc(const colog_idxr_t *r, uint32_t i, uint32_t j)
{
    roaring_bitmap_t *b = roaring_bitmap_create();
    int rc = colog__idxr_or_range(r, i, j, b);
    roaring_bitmap_free(b);
    return rc;
}

static bool errmsg_has(const char *s)
{
    return strstr(colog_errmsg(), s) != NULL;
}

/* Portable serialization of a bitmap of the given rows, run-optimized as the
 * writer does. */
static uint8_t *ser_rows(const uint32_t *rows, uint32_t n, uint32_t *len)
{
    roaring_bitmap_t *b = roaring_bitmap_of_ptr(n, rows);
    roaring_bitmap_run_optimize(b);
    size_t k = roaring_bitmap_portable_size_in_bytes(b);
    uint8_t *p = malloc(k);
    cr_assert_eq(roaring_bitmap_portable_serialize(b, (char *)p), k);
    roaring_bitmap_free(b);
    *len = (uint32_t)k;
    return p;
}

/* ---------------------------------------------------------------- the spec, bit by bit */

/* A bit stream as FORMAT.md says: stream bit s is bit s % 8 of byte s / 8. */
struct bits {
    uint8_t *p;
    size_t n, cap; /* bits; bytes */
};

static void b_bit(struct bits *b, unsigned bit)
{
    if (b->n / 8 >= b->cap) {
        size_t c = b->cap ? 2 * b->cap : 64;
        b->p = realloc(b->p, c);
        memset(b->p + b->cap, 0, c - b->cap);
        b->cap = c;
    }
    if (bit)
        b->p[b->n / 8] |= (uint8_t)(1u << (b->n % 8));
    b->n++;
}

/* The n low bits of v, least significant first. */
static void b_put(struct bits *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        b_bit(b, (v >> i) & 1);
}

static void b_align(struct bits *b)
{
    while (b->n % 8)
        b_bit(b, 0);
}

/* The gamma code of order k. */
static void b_gamma(struct bits *b, uint64_t v, unsigned k)
{
    uint64_t q = v >> k;
    unsigned n = 0;
    while (n < 64 && q >> n)
        n++;
    for (unsigned i = 0; i < n; i++)
        b_bit(b, 0);
    b_bit(b, 1);
    if (n >= 2)
        b_put(b, q, n - 1);
    b_put(b, v, k);
}

/* Its length, as FORMAT.md gives it. */
static unsigned gamma_bits(uint64_t v, unsigned k)
{
    unsigned n = 0;
    while (n < 64 && (v >> k) >> n)
        n++;
    return n == 0 ? k + 1 : 2 * n + k;
}

/* The Rice parameter of a posting: the largest k with card * 2^k <= nrows. */
static unsigned spec_k(uint64_t nrows, uint64_t card)
{
    unsigned k = 0;
    while (card << (k + 1) <= nrows)
        k++;
    return k;
}

/* A Rice chunk of n postings (rows[i][0..cards[i]), ascending): kind 1, the
 * low bits of every gap, then the unary part of every gap, zero padding.
 * Malloc'ed, *len bytes. */
static uint8_t *spec_rice(uint64_t nrows, uint32_t n, uint32_t *const *rows, const uint32_t *cards,
                          uint32_t *len)
{
    struct bits b = {0};
    b_put(&b, 1, 8);
    for (int part = 0; part < 2; part++) {
        for (uint32_t i = 0; i < n; i++) {
            unsigned k = spec_k(nrows, cards[i]);
            uint64_t prev = 0;
            for (uint32_t j = 0; j < cards[i]; j++) {
                uint64_t gap = rows[i][j] - prev;
                if (part == 0) {
                    b_put(&b, gap, k);
                } else {
                    for (uint64_t q = gap >> k; q > 0; q--)
                        b_bit(&b, 0);
                    b_bit(&b, 1);
                }
                prev = (uint64_t)rows[i][j] + 1;
            }
        }
    }
    b_align(&b);
    *len = (uint32_t)(b.n / 8);
    return b.p;
}

/* A Roaring chunk: kind 2, then blob. Malloc'ed, *len bytes. */
static uint8_t *spec_roaring(const uint8_t *blob, uint32_t blen, uint32_t *len)
{
    uint8_t *p = malloc(blen + 1);
    p[0] = 2;
    memcpy(p + 1, blob, blen);
    *len = blen + 1;
    return p;
}

/* What an index file holds. keys NULL: the dense flag (key i is i). version
 * 0 or 1: version 1 (16-byte directory entries), 2: version 2. */
struct spec {
    colog_type_t type;
    uint64_t nrows;
    uint32_t nkeys;
    const uint64_t *keys;
    const uint32_t *cards;
    unsigned kord, cord;
    uint32_t nchunks;
    const uint32_t *first;
    uint8_t *const *chunk;
    const uint32_t *clen;
    unsigned version;
};

/* The file of s, named name (the seeds), all checksums right: malloc'ed,
 * *len bytes. Version 2: the stream is built first, noting where the gap of
 * key first(c) + 1 and the cardinality of key first(c) start. */
static uint8_t *spec_file(const char *name, const struct spec *s, size_t *len)
{
    uint64_t seed = seed_of(name), flip = s->type == COLOG_T_I64 ? 1ull << 63 : 0;
    bool v2 = s->version == 2;
    uint64_t *goff = calloc(s->nchunks + 1, 8), *coff = calloc(s->nchunks + 1, 8);
    struct bits st = {0};
    if (s->keys && s->nkeys > 0) {
        for (uint32_t i = 1; i < s->nkeys; i++) {
            b_gamma(&st, (s->keys[i] ^ flip) - (s->keys[i - 1] ^ flip) - 1, s->kord);
            for (uint32_t c = 1; c < s->nchunks; c++)
                if (s->first[c] == i)
                    goff[c] = st.n;
        }
    }
    for (uint32_t i = 0; i < s->nkeys; i++) {
        for (uint32_t c = 0; c < s->nchunks; c++)
            if (s->first[c] == i)
                coff[c] = st.n;
        b_gamma(&st, s->cards[i] - 1u, s->cord);
    }
    struct bits t = {0};
    for (uint32_t c = 0; c < s->nchunks; c++) {
        b_put(&t, s->first[c], 32);
        b_put(&t, s->clen[c], 32);
        b_put(&t, XXH3_64bits_withSeed(s->chunk[c], s->clen[c], seed ^ c), 64);
        if (v2) {
            b_put(&t, s->keys ? s->keys[s->first[c]] : s->first[c], 64);
            b_put(&t, goff[c], 64);
            b_put(&t, coff[c], 64);
        }
    }
    if (s->keys && s->nkeys > 0)
        b_put(&t, s->keys[0], 64);
    for (size_t b = 0; b < st.n; b++)
        b_bit(&t, (st.p[b / 8] >> (b % 8)) & 1);
    b_align(&t);
    b_put(&t, XXH3_64bits_withSeed(t.p, t.n / 8, seed), 64);
    size_t tlen = t.n / 8, size = HDR + tlen;
    for (uint32_t c = 0; c < s->nchunks; c++)
        size += s->clen[c];
    uint8_t *f = calloc(1, size);
    colog__put_u32(f, MAGIC);
    colog__put_u16(f + 4, v2 ? 2 : 1);
    f[6] = (uint8_t)s->type;
    f[7] = !s->keys && s->nkeys > 0;
    colog__put_u32(f + 8, s->nkeys);
    colog__put_u32(f + 12, s->nchunks);
    colog__put_u64(f + 16, s->nrows);
    colog__put_u64(f + 24, tlen);
    f[32] = (uint8_t)s->kord;
    f[33] = (uint8_t)s->cord;
    colog__put_u64(f + 40, XXH3_64bits_withSeed(f, 40, seed));
    memcpy(f + HDR, t.p, tlen);
    size_t at = HDR + tlen;
    for (uint32_t c = 0; c < s->nchunks; c++) {
        memcpy(f + at, s->chunk[c], s->clen[c]);
        at += s->clen[c];
    }
    free(t.p);
    free(st.p);
    free(goff);
    free(coff);
    *len = size;
    return f;
}

/* Field access and checksum repair on a file image f. */
static uint64_t tab_len(const uint8_t *f)
{
    return colog__get_u64(f + 24);
}

/* Directory entries: 16 bytes in version 1, 40 in version 2. */
static size_t dirent_size(const uint8_t *f)
{
    return colog__get_u16(f + 4) == 2 ? DIRENT2 : DIRENT;
}

static uint8_t *dir_ent(uint8_t *f, uint32_t c)
{
    return f + HDR + dirent_size(f) * c;
}

static size_t chunk_off(uint8_t *f, uint32_t c)
{
    size_t at = HDR + (size_t)tab_len(f);
    for (uint32_t k = 0; k < c; k++)
        at += colog__get_u32(dir_ent(f, k) + 4);
    return at;
}

static void fix_header(const char *name, uint8_t *f)
{
    colog__put_u64(f + 40, XXH3_64bits_withSeed(f, 40, seed_of(name)));
}

static void fix_table(const char *name, uint8_t *f)
{
    size_t tl = (size_t)tab_len(f);
    colog__put_u64(f + HDR + tl - 8, XXH3_64bits_withSeed(f + HDR, tl - 8, seed_of(name)));
}

/* Recompute chunk c's checksum in the directory, then the table's. */
static void fix_chunk(const char *name, uint8_t *f, uint32_t c)
{
    uint8_t *d = dir_ent(f, c);
    colog__put_u64(
        d + 8, XXH3_64bits_withSeed(f + chunk_off(f, c), colog__get_u32(d + 4), seed_of(name) ^ c));
    fix_table(name, f);
}

/* What an index holds as the reader gives it: keys, cards and each key's
 * rows. */
struct snap {
    uint32_t n;
    uint64_t *keys;
    uint64_t *cards;
    uint32_t **rows;
};

static void snap_take(const colog_idxr_t *r, struct snap *s)
{
    s->n = colog__idxr_nkeys(r);
    s->keys = malloc((s->n + 1) * sizeof *s->keys);
    s->cards = malloc((s->n + 1) * sizeof *s->cards);
    s->rows = malloc((s->n + 1) * sizeof *s->rows);
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t n;
        s->keys[i] = colog__idxr_key(r, i);
        s->rows[i] = rows_of(r, i, i + 1, &n);
        s->cards[i] = n;
        cr_assert_eq(n, colog__idxr_card(r, i), "key %u: card", i);
    }
}

static void snap_free(struct snap *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        free(s->rows[i]);
    free(s->keys);
    free(s->cards);
    free(s->rows);
}

/* Rebuild the written file name with spec_file from what the reader gives,
 * cut into chunks where the file has them: Rice chunks re-encoded by
 * spec_rice, Roaring chunks by ser_rows. The bytes must be the same. Also:
 * the orders in the header give the shortest codes (the lowest on a tie).
 * Returns the number of Roaring chunks. */
static uint32_t check_spec(const char *name, colog_type_t t, uint64_t nrows)
{
    size_t len;
    uint8_t *f = slurp(name, &len);
    colog_idxr_t *r = open_idx(name, t, nrows);
    struct snap s;
    snap_take(r, &s);
    colog__idxr_close(r);
    uint32_t nc = colog__get_u32(f + 12), nroaring = 0, *cards = malloc((s.n + 1) * 4);
    uint32_t *first = malloc((nc + 1) * 4), *clen = malloc((nc + 1) * 4);
    uint8_t **chunk = malloc((nc + 1) * sizeof *chunk);
    for (uint32_t i = 0; i < s.n; i++)
        cards[i] = (uint32_t)s.cards[i];
    for (uint32_t c = 0; c < nc; c++)
        first[c] = colog__get_u32(dir_ent(f, c));
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t a = first[c], b = c + 1 < nc ? first[c + 1] : s.n;
        uint8_t kind = f[chunk_off(f, c)];
        cr_assert(kind == 1 || kind == 2, "chunk %u: kind %u", c, kind);
        if (kind == 2) {
            cr_assert_eq(b - a, 1, "Roaring chunk %u of %u keys", c, b - a);
            uint32_t blen;
            uint8_t *blob = ser_rows(s.rows[a], cards[a], &blen);
            chunk[c] = spec_roaring(blob, blen, &clen[c]);
            free(blob);
            nroaring++;
        } else {
            chunk[c] = spec_rice(nrows, b - a, s.rows + a, cards + a, &clen[c]);
        }
    }
    bool dense = f[7] & 1;
    struct spec sp = {.type = t,
                      .nrows = nrows,
                      .nkeys = s.n,
                      .keys = dense ? NULL : s.keys,
                      .cards = cards,
                      .kord = f[32],
                      .cord = f[33],
                      .nchunks = nc,
                      .first = first,
                      .chunk = chunk,
                      .clen = clen,
                      .version = 2};
    size_t glen;
    uint8_t *g = spec_file(name, &sp, &glen);
    cr_assert_eq(glen, len, "%s: %zu bytes, the spec makes %zu", name, len, glen);
    for (size_t k = 0; k < len; k++)
        cr_assert_eq(f[k], g[k], "%s: byte %zu", name, k);
    /* The orders are the best ones. */
    uint64_t flip = t == COLOG_T_I64 ? 1ull << 63 : 0;
    for (unsigned k = 0; k < 64; k++) {
        uint64_t kb = 0, cb = 0, kb0 = 0, cb0 = 0;
        for (uint32_t i = 0; i < s.n; i++) {
            if (!dense && i > 0) {
                uint64_t gap = (s.keys[i] ^ flip) - (s.keys[i - 1] ^ flip) - 1;
                kb += gamma_bits(gap, k);
                kb0 += gamma_bits(gap, f[32]);
            }
            if (k < 32) {
                cb += gamma_bits(cards[i] - 1u, k);
                cb0 += gamma_bits(cards[i] - 1u, f[33]);
            }
        }
        cr_assert(kb > kb0 || (kb == kb0 && k >= f[32]) || dense, "key order %u beats %u", k,
                  f[32]);
        cr_assert(k >= 32 || cb > cb0 || (cb == cb0 && k >= f[33]), "card order %u beats %u", k,
                  f[33]);
    }
    for (uint32_t c = 0; c < nc; c++)
        free(chunk[c]);
    free(chunk);
    free(first);
    free(clen);
    free(cards);
    free(g);
    free(f);
    snap_free(&s);
    return nroaring;
}

/* ---------------------------------------------------------------- round trips */

/* codes {3, 1, 3, -, 0, 1, 3}: keys 0 {4}, 1 {1, 5}, 3 {0, 2, 6}; bytes from
 * FORMAT.md, worked out by hand. */
Test(index, dict_layout)
{
    const uint32_t codes[7] = {3, 1, 3, 99, 0, 1, 3};
    const uint8_t valid[1] = {0x77}; /* row 3 absent */
    uint64_t size = write_idx("c.idx", COLOG_T_STRING, 5, codes, valid, 7, 8);
    cr_assert_eq(size, 109);
    size_t len;
    uint8_t *f = slurp("c.idx", &len);
    uint64_t seed = seed_of("c.idx");
    /* magic, version 2, type 9, flags 0, 3 keys, 1 chunk, 7 rows, table 58
     * bytes, key order 0, card order 0 */
    const uint8_t hdr[40] = {0x43, 0x49, 0x44, 0x58, 2, 0, 9, 0, 3, 0, 0,  0, 1, 0,
                             0,    0,    7,    0,    0, 0, 0, 0, 0, 0, 58, 0, 0, 0,
                             0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0,  0};
    cr_assert_arr_eq(f, hdr, 40);
    cr_assert_eq(colog__get_u64(f + 40), XXH3_64bits_withSeed(f, 40, seed));
    /* Rice parameters: key 0 (1 row) 2, keys 1 and 3 (2, 3 rows) 1. Gaps
     * 4 | 1, 3 | 0, 1, 3; low bits 00 | 1 1 | 0 1 1, unary parts 01 | 1 01 |
     * 1 1 01: bits 0011011 011011101 after the kind byte. */
    const uint8_t chunk[3] = {0x01, 0x6C, 0xBB};
    cr_assert_arr_eq(f + 106, chunk, 3);
    /* directory: chunk 0 from key 0, 3 bytes, its checksum, first key 0,
     * gaps from stream bit 0, cardinalities from bit 3 (after the gaps) */
    cr_assert_eq(colog__get_u32(f + 48), 0);
    cr_assert_eq(colog__get_u32(f + 52), 3);
    cr_assert_eq(colog__get_u64(f + 56), XXH3_64bits_withSeed(chunk, 3, seed ^ 0));
    cr_assert_eq(colog__get_u64(f + 64), 0);
    cr_assert_eq(colog__get_u64(f + 72), 0);
    cr_assert_eq(colog__get_u64(f + 80), 3);
    /* key 0 = 0; key gaps 0, 1 (order 0): 1 | 01; cards - 1 = 0, 1, 2: 1 |
     * 01 | 0010 */
    cr_assert_eq(colog__get_u64(f + 88), 0);
    cr_assert_eq(f[96], 0x2D);
    cr_assert_eq(f[97], 0x01);
    cr_assert_eq(colog__get_u64(f + 98), XXH3_64bits_withSeed(f + 48, 50, seed));
    free(f);
    cr_assert_eq(check_spec("c.idx", COLOG_T_STRING, 7), 0);

    colog_idxr_t *r = open_lazy("c.idx", COLOG_T_STRING, 7);
    uint32_t i, j;
    uint64_t sum, last;
    cr_assert_eq(colog__idxr_range(r, 1, 3, &i, &j, &sum), 0, "%s", colog_errmsg());
    cr_assert(i == 1 && j == 3 && sum == 5);
    cr_assert_eq(colog__idxr_range(r, 2, 2, &i, &j, &sum), 0);
    cr_assert(i == 2 && j == 2 && sum == 0);
    cr_assert_eq(colog__idxr_last_key(r, &last), 0);
    cr_assert_eq(last, 3);
    cr_assert_eq(colog__idxr_load(r), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__idxr_nkeys(r), 3);
    expect_key(r, 0, 0, (const uint32_t[]){4}, 1);
    expect_key(r, 1, 1, (const uint32_t[]){1, 5}, 2);
    expect_key(r, 2, 3, (const uint32_t[]){0, 2, 6}, 3);
    expect_rows(r, 0, 3, (const uint32_t[]){0, 1, 2, 4, 5, 6}, 6);
    expect_rows(r, 1, 3, (const uint32_t[]){0, 1, 2, 5, 6}, 5);
    expect_rows(r, 2, 2, NULL, 0);
    cr_assert_eq(colog__idxr_lower(r, 0), 0);
    cr_assert_eq(colog__idxr_lower(r, 2), 2);
    cr_assert_eq(colog__idxr_lower(r, 3), 2);
    cr_assert_eq(colog__idxr_lower(r, 4), 3);
    colog__idxr_close(r);
}

/* The same index in version 1, as written before version 2: a 16-byte
 * directory entry, 85 bytes in all. Still read, decoded at open. */
Test(index, v1_layout_read)
{
    static uint8_t chunk[3] = {0x01, 0x6C, 0xBB};
    uint8_t *chunks[1] = {chunk};
    const uint64_t keys[3] = {0, 1, 3};
    const uint32_t cards[3] = {1, 2, 3}, first[1] = {0}, clen[1] = {3};
    struct spec sp = {.type = COLOG_T_STRING,
                      .nrows = 7,
                      .nkeys = 3,
                      .keys = keys,
                      .cards = cards,
                      .nchunks = 1,
                      .first = first,
                      .chunk = chunks,
                      .clen = clen,
                      .version = 1};
    size_t len;
    uint8_t *f = spec_file("c.idx", &sp, &len);
    uint64_t seed = seed_of("c.idx");
    cr_assert_eq(len, 85);
    const uint8_t hdr[40] = {0x43, 0x49, 0x44, 0x58, 1, 0, 9, 0, 3, 0, 0,  0, 1, 0,
                             0,    0,    7,    0,    0, 0, 0, 0, 0, 0, 34, 0, 0, 0,
                             0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0,  0};
    cr_assert_arr_eq(f, hdr, 40);
    cr_assert_arr_eq(f + 82, chunk, 3);
    cr_assert_eq(colog__get_u32(f + 48), 0);
    cr_assert_eq(colog__get_u32(f + 52), 3);
    cr_assert_eq(colog__get_u64(f + 56), XXH3_64bits_withSeed(chunk, 3, seed ^ 0));
    cr_assert_eq(colog__get_u64(f + 64), 0);
    cr_assert_eq(f[72], 0x2D);
    cr_assert_eq(f[73], 0x01);
    cr_assert_eq(colog__get_u64(f + 74), XXH3_64bits_withSeed(f + 48, 26, seed));
    put_file("c.idx", f, len);
    free(f);
    /* decoded at open: key, card and lower without a load */
    colog_idxr_t *r = open_lazy("c.idx", COLOG_T_STRING, 7);
    cr_assert_eq(colog__idxr_nkeys(r), 3);
    expect_key(r, 0, 0, (const uint32_t[]){4}, 1);
    expect_key(r, 1, 1, (const uint32_t[]){1, 5}, 2);
    expect_key(r, 2, 3, (const uint32_t[]){0, 2, 6}, 3);
    cr_assert_eq(colog__idxr_lower(r, 2), 2);
    uint32_t i, j;
    uint64_t sum, last;
    cr_assert_eq(colog__idxr_range(r, 1, 3, &i, &j, &sum), 0, "%s", colog_errmsg());
    cr_assert(i == 1 && j == 3 && sum == 5);
    cr_assert_eq(colog__idxr_last_key(r, &last), 0);
    cr_assert_eq(last, 3);
    cr_assert_eq(colog__idxr_load(r), 0);
    colog__idxr_close(r);
}

/* Every code present: the dense flag, no key section. */
Test(index, dense_codes)
{
    const uint32_t codes[6] = {2, 0, 1, 1, 3, 0};
    write_idx("d.idx", COLOG_T_IP, 4, codes, NULL, 6, 8);
    size_t len;
    uint8_t *f = slurp("d.idx", &len);
    cr_assert_eq(f[7], 1, "dense flag");
    cr_assert_eq(f[32], 0, "no key order");
    /* table: 1 directory entry, cards 2, 2, 1, 1 - 1 = 1, 1, 0, 0 */
    cr_assert_eq(colog__get_u64(f + 24), 40 + 1 + 8);
    free(f);
    check_spec("d.idx", COLOG_T_IP, 6);
    colog_idxr_t *r = open_idx("d.idx", COLOG_T_IP, 6);
    cr_assert_eq(colog__idxr_nkeys(r), 4);
    expect_key(r, 0, 0, (const uint32_t[]){1, 5}, 2);
    expect_key(r, 1, 1, (const uint32_t[]){2, 3}, 2);
    expect_key(r, 2, 2, (const uint32_t[]){0}, 1);
    expect_key(r, 3, 3, (const uint32_t[]){4}, 1);
    cr_assert_eq(colog__idxr_lower(r, 2), 2);
    cr_assert_eq(colog__idxr_lower(r, 4), 4);
    cr_assert_eq(colog__idxr_lower(r, UINT64_MAX), 4);
    colog__idxr_close(r);

    /* i64 values 0..K-1 are dense too; negative keys sort first */
    const int64_t v[5] = {0, 1, 2, 2, 1};
    write_idx("i.idx", COLOG_T_I64, 0, v, NULL, 5, 8);
    f = slurp("i.idx", &len);
    cr_assert_eq(f[7], 1, "dense flag");
    free(f);
    r = open_idx("i.idx", COLOG_T_I64, 5);
    cr_assert_eq(colog__idxr_nkeys(r), 3);
    expect_key(r, 2, 2, (const uint32_t[]){2, 3}, 2);
    cr_assert_eq(colog__idxr_lower(r, (uint64_t)(int64_t)-5), 0);
    cr_assert_eq(colog__idxr_lower(r, (uint64_t)INT64_MIN), 0);
    cr_assert_eq(colog__idxr_lower(r, 1), 1);
    cr_assert_eq(colog__idxr_lower(r, 3), 3);
    cr_assert_eq(colog__idxr_lower(r, (uint64_t)INT64_MAX), 3);
    colog__idxr_close(r);
}

/* 1000 consecutive rows of one key out of 2000: a Roaring run container in
 * a chunk of its own, 16 bytes, instead of 282 bytes of Rice codes. */
Test(index, roaring_run_layout)
{
    uint64_t v[2000] = {0};
    uint8_t valid[250] = {0};
    for (int i = 500; i < 1500; i++) {
        v[i] = 7;
        valid[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    uint64_t size = write_idx("u.idx", COLOG_T_U16, 0, v, valid, 2000, 16);
    cr_assert_eq(size, 48 + 58 + 16);
    size_t len;
    uint8_t *f = slurp("u.idx", &len);
    cr_assert_eq(f[7], 0);
    cr_assert_eq(f[33], 9, "card order");
    /* entry: first key 7, no gaps, cardinalities from stream bit 0; key 7;
     * card - 1 = 999 at order 9: 01, then 487 in 9 bits */
    cr_assert_eq(colog__get_u64(f + 64), 7);
    cr_assert_eq(colog__get_u64(f + 72), 0);
    cr_assert_eq(colog__get_u64(f + 80), 0);
    cr_assert_eq(colog__get_u64(f + 88), 7);
    cr_assert_eq(f[96], 0x9E);
    cr_assert_eq(f[97], 0x07);
    /* kind 2; cookie 12347 with 1 container, run flags, key 0 card-1 999,
     * 1 run (500, 999) */
    const uint8_t chunk[16] = {2, 0x3b, 0x30, 0, 0, 1, 0, 0, 0xe7, 3, 1, 0, 0xf4, 1, 0xe7, 3};
    cr_assert_arr_eq(f + 106, chunk, 16);
    cr_assert_eq(colog__get_u32(f + 52), 16);
    free(f);
    cr_assert_eq(check_spec("u.idx", COLOG_T_U16, 2000), 1);
    colog_idxr_t *r = open_idx("u.idx", COLOG_T_U16, 2000);
    uint32_t rows[1000];
    for (uint32_t i = 0; i < 1000; i++)
        rows[i] = 500 + i;
    expect_key(r, 0, 7, rows, 1000);
    colog__idxr_close(r);
}

/* u16 added in three steps: row ids continue across calls. */
Test(index, u16_steps)
{
    const uint64_t v[20] = {80,    443, 80,  0, 65535, 443, 443, 22, /* */
                            80,    7,   7,   0, 22,    22,  9,   80, /* */
                            65535, 1,   443, 80};
    const uint8_t valid[3] = {0xff, 0xf7, 0x06}; /* rows 11, 16, 19 absent */
    write_idx("p.idx", COLOG_T_U16, 0, v, valid, 20, 8);
    check_spec("p.idx", COLOG_T_U16, 20);
    colog_idxr_t *r = open_idx("p.idx", COLOG_T_U16, 20);
    cr_assert_eq(colog__idxr_nkeys(r), 8);
    expect_key(r, 0, 0, (const uint32_t[]){3}, 1);
    expect_key(r, 1, 1, (const uint32_t[]){17}, 1);
    expect_key(r, 2, 7, (const uint32_t[]){9, 10}, 2);
    expect_key(r, 3, 9, (const uint32_t[]){14}, 1);
    expect_key(r, 4, 22, (const uint32_t[]){7, 12, 13}, 3);
    expect_key(r, 5, 80, (const uint32_t[]){0, 2, 8, 15}, 4);
    expect_key(r, 6, 443, (const uint32_t[]){1, 5, 6, 18}, 4);
    expect_key(r, 7, 65535, (const uint32_t[]){4}, 1);
    /* keys 3..7 are 9, 22, 80, 443 */
    expect_rows(r, 3, 7, (const uint32_t[]){0, 1, 2, 5, 6, 7, 8, 12, 13, 14, 15, 18}, 12);
    cr_assert_eq(colog__idxr_lower(r, 0), 0);
    cr_assert_eq(colog__idxr_lower(r, 8), 3);
    cr_assert_eq(colog__idxr_lower(r, 80), 5);
    cr_assert_eq(colog__idxr_lower(r, 81), 6);
    cr_assert_eq(colog__idxr_lower(r, 65535), 7);
    cr_assert_eq(colog__idxr_lower(r, 65536), 8);
    colog__idxr_close(r);
}

Test(index, u64_keys)
{
    const uint64_t v[8] = {1ull << 63, 255, UINT64_MAX, 1ull << 32, 0, 256, 1ull << 63, 255};
    write_idx("b.idx", COLOG_T_U64, 0, v, NULL, 8, 8);
    check_spec("b.idx", COLOG_T_U64, 8);
    colog_idxr_t *r = open_idx("b.idx", COLOG_T_U64, 8);
    cr_assert_eq(colog__idxr_nkeys(r), 6);
    expect_key(r, 0, 0, (const uint32_t[]){4}, 1);
    expect_key(r, 1, 255, (const uint32_t[]){1, 7}, 2);
    expect_key(r, 2, 256, (const uint32_t[]){5}, 1);
    expect_key(r, 3, 1ull << 32, (const uint32_t[]){3}, 1);
    expect_key(r, 4, 1ull << 63, (const uint32_t[]){0, 6}, 2);
    expect_key(r, 5, UINT64_MAX, (const uint32_t[]){2}, 1);
    cr_assert_eq(colog__idxr_lower(r, 1ull << 62), 4);
    cr_assert_eq(colog__idxr_lower(r, UINT64_MAX), 5);
    colog__idxr_close(r);

    /* the widest gap there is: 0 and 2^64 - 1 */
    const uint64_t w[3] = {UINT64_MAX, 0, UINT64_MAX};
    write_idx("w.idx", COLOG_T_U64, 0, w, NULL, 3, 8);
    check_spec("w.idx", COLOG_T_U64, 3);
    r = open_idx("w.idx", COLOG_T_U64, 3);
    expect_key(r, 0, 0, (const uint32_t[]){1}, 1);
    expect_key(r, 1, UINT64_MAX, (const uint32_t[]){0, 2}, 2);
    colog__idxr_close(r);
}

/* i64 keys are the values' bits, in signed order. */
Test(index, i64_negative)
{
    const int64_t v[10] = {-5, 7, -1, 0, INT64_MIN, 7, INT64_MAX, -5, 42, -1000000000000};
    const uint8_t valid[2] = {0xff, 0x02}; /* row 8 absent */
    write_idx("i.idx", COLOG_T_I64, 0, v, valid, 10, 8);
    check_spec("i.idx", COLOG_T_I64, 10);
    colog_idxr_t *r = open_idx("i.idx", COLOG_T_I64, 10);
    cr_assert_eq(colog__idxr_nkeys(r), 7);
    expect_key(r, 0, (uint64_t)INT64_MIN, (const uint32_t[]){4}, 1);
    expect_key(r, 1, (uint64_t)-1000000000000, (const uint32_t[]){9}, 1);
    expect_key(r, 2, (uint64_t)-5, (const uint32_t[]){0, 7}, 2);
    expect_key(r, 3, (uint64_t)-1, (const uint32_t[]){2}, 1);
    expect_key(r, 4, 0, (const uint32_t[]){3}, 1);
    expect_key(r, 5, 7, (const uint32_t[]){1, 5}, 2);
    expect_key(r, 6, (uint64_t)INT64_MAX, (const uint32_t[]){6}, 1);
    cr_assert_eq(colog__idxr_lower(r, (uint64_t)INT64_MIN), 0);
    cr_assert_eq(colog__idxr_lower(r, (uint64_t)(int64_t)-6), 2);
    cr_assert_eq(colog__idxr_lower(r, (uint64_t)(int64_t)-5), 2);
    cr_assert_eq(colog__idxr_lower(r, (uint64_t)(int64_t)-3), 3);
    cr_assert_eq(colog__idxr_lower(r, 1), 5);
    cr_assert_eq(colog__idxr_lower(r, 8), 6);
    /* values -5 <= x < 8: keys [2, 6) */
    expect_rows(r, colog__idxr_lower(r, (uint64_t)(int64_t)-5), colog__idxr_lower(r, 8),
                (const uint32_t[]){0, 1, 2, 3, 5, 7}, 6);
    colog__idxr_close(r);
}

Test(index, u8_u32_ip)
{
    const uint64_t v8[4] = {255, 0, 255, 3};
    write_idx("a.idx", COLOG_T_U8, 0, v8, NULL, 4, 8);
    colog_idxr_t *r = open_idx("a.idx", COLOG_T_U8, 4);
    cr_assert_eq(colog__idxr_nkeys(r), 3);
    expect_key(r, 2, 255, (const uint32_t[]){0, 2}, 2);
    colog__idxr_close(r);

    const uint64_t v32[4] = {UINT32_MAX, 70000, 70000, 1};
    write_idx("d.idx", COLOG_T_U32, 0, v32, NULL, 4, 8);
    r = open_idx("d.idx", COLOG_T_U32, 4);
    cr_assert_eq(colog__idxr_nkeys(r), 3);
    expect_key(r, 0, 1, (const uint32_t[]){3}, 1);
    expect_key(r, 1, 70000, (const uint32_t[]){1, 2}, 2);
    expect_key(r, 2, UINT32_MAX, (const uint32_t[]){0}, 1);
    colog__idxr_close(r);

    const uint32_t c[3] = {1, 1, 0};
    write_idx("ip.idx", COLOG_T_IP, 2, c, NULL, 3, 8);
    r = open_idx("ip.idx", COLOG_T_IP, 3);
    expect_key(r, 1, 1, (const uint32_t[]){0, 1}, 2);
    colog__idxr_close(r);
    /* the type is part of the file */
    cr_assert_eq(try_open("ip.idx", COLOG_T_STRING, 3), COLOG_ECORRUPT);
}

Test(index, empty_column)
{
    uint64_t size = write_idx("e.idx", COLOG_T_STRING, 0, NULL, NULL, 0, 8);
    cr_assert_eq(size, 56, "header and an empty table");
    size_t len;
    uint8_t *f = slurp("e.idx", &len);
    cr_assert_eq(colog__get_u64(f + 24), 8);
    cr_assert_eq(colog__get_u64(f + 48), XXH3_64bits_withSeed(f, 0, seed_of("e.idx")));
    free(f);
    colog_idxr_t *r = open_idx("e.idx", COLOG_T_STRING, 0);
    cr_assert_eq(colog__idxr_nkeys(r), 0);
    cr_assert_eq(colog__idxr_lower(r, 0), 0);
    roaring_bitmap_t *b = roaring_bitmap_create();
    roaring_bitmap_add(b, 5);
    cr_assert_eq(colog__idxr_or_range(r, 0, 0, b), 0);
    cr_assert_eq(roaring_bitmap_get_cardinality(b), 1);
    cr_assert_eq(colog__idxr_or_range(r, 0, 1, b), COLOG_EINVAL);
    roaring_bitmap_free(b);
    colog__idxr_close(r);
    cr_assert_eq(try_open("e.idx", COLOG_T_STRING, 1), COLOG_ECORRUPT);
}

Test(index, all_null_column)
{
    uint64_t v[100] = {0};
    uint8_t valid[13] = {0};
    uint64_t size = write_idx("n.idx", COLOG_T_U64, 0, v, valid, 100, 24);
    cr_assert_eq(size, 56);
    colog_idxr_t *r = open_idx("n.idx", COLOG_T_U64, 100);
    cr_assert_eq(colog__idxr_nkeys(r), 0);
    colog__idxr_close(r);
    cr_assert_eq(try_open("n.idx", COLOG_T_U64, 99), COLOG_ECORRUPT);
    cr_assert(errmsg_has("index covers 100 rows, the part has 99"), "%s", colog_errmsg());
}

/* ---------------------------------------------------------------- large, against a reference */

/* The data an index was built from: vals (8-byte values, or u32 codes when
 * codes) and their validity bitset. check_against_data checks that the keys
 * are the distinct present values in order (sorted with qsort, signed for
 * i64), that every row of the union of keys [a, a + span) holds one of those
 * keys, and that the cardinalities add up to the present rows. */
struct refctx {
    const void *vals;
    bool codes, is_signed;
    const uint8_t *valid;
    uint32_t n;
};

static uint64_t ref_val(const struct refctx *c, uint32_t row)
{
    return c->codes ? ((const uint32_t *)c->vals)[row] : ((const uint64_t *)c->vals)[row];
}

static bool is_signed_cmp;

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    if (is_signed_cmp)
        return (int64_t)x < (int64_t)y ? -1 : (int64_t)x > (int64_t)y;
    return x < y ? -1 : x > y;
}

static void check_against_data(const colog_idxr_t *r, const struct refctx *c, uint32_t span)
{
    /* distinct present values, sorted with qsort */
    uint64_t *d = malloc((c->n ? c->n : 1) * sizeof *d);
    uint64_t nd = 0, npresent = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (colog_valid(c->valid, i))
            d[nd++] = ref_val(c, i);
    npresent = nd;
    is_signed_cmp = c->is_signed;
    qsort(d, nd, sizeof *d, cmp_key);
    uint64_t m = 0;
    for (uint64_t i = 0; i < nd; i++)
        if (i == 0 || d[i] != d[m - 1])
            d[m++] = d[i];
    cr_assert_eq(colog__idxr_nkeys(r), m);
    for (uint64_t i = 0; i < m; i++)
        cr_assert_eq(colog__idxr_key(r, (uint32_t)i), d[i], "key %llu", (unsigned long long)i);

    uint64_t total = 0;
    for (uint32_t a = 0; a < m; a += span) {
        uint32_t b = a + span < m ? a + span : (uint32_t)m;
        uint64_t cards = 0, n;
        for (uint32_t k = a; k < b; k++)
            cards += colog__idxr_card(r, k);
        uint32_t *rows = rows_of(r, a, b, &n);
        cr_assert_eq(n, cards, "keys %u..%u", a, b);
        for (uint64_t k = 0; k < n; k++) {
            uint32_t row = rows[k];
            cr_assert_lt(row, c->n);
            cr_assert(colog_valid(c->valid, row), "absent row %u indexed", row);
            uint32_t at = colog__idxr_lower(r, ref_val(c, row));
            cr_assert(at >= a && at < b && colog__idxr_key(r, at) == ref_val(c, row),
                      "row %u in keys %u..%u", row, a, b);
        }
        free(rows);
        total += cards;
    }
    cr_assert_eq(total, npresent);
    free(d);
}

static uint8_t *random_valid(uint32_t n, unsigned pct_null)
{
    uint8_t *v = calloc((n + 7) / 8, 1);
    for (uint32_t i = 0; i < n; i++)
        if (rnd() % 100 >= pct_null)
            v[i / 8] |= (uint8_t)(1u << (i % 8));
    return v;
}

#define BIG 1000000u

Test(index, large_u16_skewed)
{
    rng_state = 1;
    uint64_t *v = malloc(BIG * sizeof *v);
    for (uint32_t i = 0; i < BIG; i++) {
        uint64_t x = rnd();
        v[i] = ((x & 0xffff) * ((x >> 16) & 0xffff)) >> 16; /* skewed to small ports */
        if (i >= 300000 && i < 400000)
            v[i] = 443; /* a dense stretch: run containers */
    }
    uint8_t *valid = random_valid(BIG, 10);
    write_idx("big.idx", COLOG_T_U16, 0, v, valid, BIG, 65536 + 8 * 1000);
    colog_idxr_t *r = open_idx("big.idx", COLOG_T_U16, BIG);
    struct refctx c = {.vals = v, .valid = valid, .n = BIG};
    check_against_data(r, &c, 1);
    check_against_data(r, &c, 1000);
    colog__idxr_close(r);
    free(valid);
    free(v);
}

Test(index, large_codes)
{
    rng_state = 2;
    uint32_t *v = malloc(BIG * sizeof *v);
    for (uint32_t i = 0; i < BIG; i++) {
        uint64_t x = rnd();
        v[i] = (uint32_t)((x % 30000) * ((x >> 32) % 30000) / 30000);
    }
    uint8_t *valid = random_valid(BIG, 3);
    write_idx("s.idx", COLOG_T_STRING, 30000, v, valid, BIG, 1u << 16);
    colog_idxr_t *r = open_idx("s.idx", COLOG_T_STRING, BIG);
    struct refctx c = {.vals = v, .codes = true, .valid = valid, .n = BIG};
    check_against_data(r, &c, 1);
    check_against_data(r, &c, 7000);
    colog__idxr_close(r);
    free(valid);
    free(v);
}

Test(index, large_i64)
{
    rng_state = 3;
    enum { POOL = 20000 };
    int64_t *pool = malloc(POOL * sizeof *pool);
    for (int i = 0; i < POOL; i++)
        pool[i] = (int64_t)rnd() >> (rnd() % 60); /* negative and positive, many magnitudes */
    pool[0] = INT64_MIN;
    pool[1] = INT64_MAX;
    pool[2] = 0;
    pool[3] = -1;
    int64_t *v = malloc(BIG * sizeof *v);
    for (uint32_t i = 0; i < BIG; i++)
        v[i] = pool[rnd() % POOL];
    uint8_t *valid = random_valid(BIG, 5);
    write_idx("l.idx", COLOG_T_I64, 0, v, valid, BIG, 4096);
    colog_idxr_t *r = open_idx("l.idx", COLOG_T_I64, BIG);
    struct refctx c = {.vals = v, .is_signed = true, .valid = valid, .n = BIG};
    check_against_data(r, &c, 1);
    check_against_data(r, &c, 5000);
    colog__idxr_close(r);
    free(valid);
    free(v);
    free(pool);
}

/* Nearly every value distinct: ~1M keys of one row, ~2.5 MB of chunks, so a
 * range over all of them is read with more than one pread. */
Test(index, large_u64_distinct)
{
    rng_state = 4;
    uint64_t *v = malloc(BIG * sizeof *v);
    for (uint32_t i = 0; i < BIG; i++)
        v[i] = rnd() >> (i % 3 == 0 ? 0 : 20);
    write_idx("x.idx", COLOG_T_U64, 0, v, NULL, BIG, BIG);
    colog_idxr_t *r = open_idx("x.idx", COLOG_T_U64, BIG);
    struct refctx c = {.vals = v, .n = BIG};
    check_against_data(r, &c, 100000);
    uint64_t n;
    uint32_t *rows = rows_of(r, 0, colog__idxr_nkeys(r), &n);
    cr_assert_eq(n, BIG);
    for (uint32_t i = 0; i < BIG; i++)
        cr_assert_eq(rows[i], i);
    free(rows);
    colog__idxr_close(r);
    free(v);
}

/* ---------------------------------------------------------------- threads */

struct thr {
    const colog_idxr_t *r;
    uint64_t seed;
    int bad;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    uint64_t s = t->seed;
    uint32_t nk = colog__idxr_nkeys(t->r);
    for (int it = 0; it < 300; it++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t i = (uint32_t)((s >> 33) % nk), j = i + 1 + (uint32_t)((s >> 13) % 8);
        j = j > nk ? nk : j;
        roaring_bitmap_t *b = roaring_bitmap_create();
        uint64_t want = 0;
        for (uint32_t k = i; k < j; k++)
            want += colog__idxr_card(t->r, k);
        if (colog__idxr_or_range(t->r, i, j, b) != 0 || roaring_bitmap_get_cardinality(b) != want)
            t->bad++;
        roaring_bitmap_free(b);
    }
    return NULL;
}

Test(index, concurrent_readers)
{
    rng_state = 5;
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof *v);
    for (uint32_t i = 0; i < N; i++)
        v[i] = rnd() % 3000;
    write_idx("t.idx", COLOG_T_U16, 0, v, NULL, N, N);
    colog_idxr_t *r = open_idx("t.idx", COLOG_T_U16, N);
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){.r = r, .seed = (uint64_t)i + 1};
        cr_assert_eq(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(t[i].bad, 0);
    }
    colog__idxr_close(r);
    free(v);
}

/* ---------------------------------------------------------------- writer errors */

Test(index, writer_rejects)
{
    colog_idxw_t *w = NULL;
    cr_assert_eq(colog__idxw_new(COLOG_T_F64, 0, &w), COLOG_EINVAL);
    cr_assert_eq(colog__idxw_new(COLOG_T_TIME, 0, &w), COLOG_EINVAL);
    cr_assert_eq(colog__idxw_new(COLOG_T_U16, 5, &w), COLOG_EINVAL);
    cr_assert_eq(colog__idxw_new(COLOG_T_STRING, 1ull << 32, &w), COLOG_EINVAL);
    cr_assert_null(w);
    colog__idxw_abort(NULL);
    colog__idxr_close(NULL);

    /* A bad batch is refused whole: the writer is as before. */
    cr_assert_eq(colog__idxw_new(COLOG_T_IP, 3, &w), 0);
    const uint32_t good[2] = {2, 0}, bad[3] = {1, 3, 0};
    cr_assert_eq(colog__idxw_add(w, good, NULL, 2), 0);
    cr_assert_eq(colog__idxw_add(w, bad, NULL, 3), COLOG_ERANGE);
    cr_assert(errmsg_has("code 3 outside the dictionary (3)"), "%s", colog_errmsg());
    const uint8_t skip_second = 0x05; /* an absent code is not checked */
    cr_assert_eq(colog__idxw_add(w, bad, &skip_second, 3), 0);
    cr_assert_eq(colog__idxw_add(w, NULL, NULL, 1), COLOG_EINVAL);
    cr_assert_eq(colog__idxw_write(w, dfd, "w.idx", NULL, NULL, NULL), 0, "%s", colog_errmsg());
    colog_idxr_t *r = open_idx("w.idx", COLOG_T_IP, 5);
    expect_key(r, 0, 0, (const uint32_t[]){1, 4}, 2);
    expect_key(r, 1, 1, (const uint32_t[]){2}, 1);
    expect_key(r, 2, 2, (const uint32_t[]){0}, 1);
    colog__idxr_close(r);

    cr_assert_eq(colog__idxw_new(COLOG_T_U8, 0, &w), 0);
    const uint64_t v[2] = {255, 256};
    cr_assert_eq(colog__idxw_add(w, v, NULL, 2), COLOG_ERANGE);
    cr_assert(errmsg_has("value 256 out of range for u8"), "%s", colog_errmsg());
    /* the file exists: EEXIST, and w is freed all the same */
    cr_assert_eq(colog__idxw_add(w, v, NULL, 1), 0);
    cr_assert_eq(colog__idxw_write(w, dfd, "w.idx", NULL, NULL, NULL), -EEXIST);
    cr_assert(errmsg_has("w.idx: open"), "%s", colog_errmsg());

    cr_assert_eq(colog__idxw_new(COLOG_T_U8, 0, &w), 0);
    cr_assert_eq(colog__idxw_write(w, dfd, NULL, NULL, NULL, NULL), COLOG_EINVAL);

    r = open_idx("w.idx", COLOG_T_IP, 5);
    cr_assert_eq(or_range_rc(r, 2, 1), COLOG_EINVAL);
    cr_assert_eq(or_range_rc(r, 0, 4), COLOG_EINVAL);
    cr_assert_eq(colog__idxr_or_range(r, 0, 1, NULL), COLOG_EINVAL);
    colog__idxr_close(r);
    cr_assert_eq(try_open("none.idx", COLOG_T_IP, 5), -ENOENT);
    cr_assert_eq(try_open("w.idx", COLOG_T_F64, 5), COLOG_EINVAL);
}

/* ---------------------------------------------------------------- chunks */

/* The rows of keys [i, j) from a snapshot, ascending (n of them). */
static uint32_t *snap_rows(const struct snap *s, uint32_t i, uint32_t j, uint64_t *n)
{
    uint64_t m = 0;
    for (uint32_t k = i; k < j; k++)
        m += s->cards[k];
    roaring_bitmap_t *b = roaring_bitmap_create();
    for (uint32_t k = i; k < j; k++)
        roaring_bitmap_add_many(b, s->cards[k], s->rows[k]);
    cr_assert_eq(roaring_bitmap_get_cardinality(b), m, "keys %u..%u share rows", i, j);
    uint32_t *a = malloc((m ? m : 1) * sizeof *a);
    roaring_bitmap_to_uint32_array(b, a);
    roaring_bitmap_free(b);
    *n = m;
    return a;
}

static void expect_snap_rows(const colog_idxr_t *r, const struct snap *s, uint32_t i, uint32_t j)
{
    i = i > s->n ? s->n : i;
    j = j > s->n ? s->n : j;
    if (i > j)
        return;
    uint64_t n;
    uint32_t *want = snap_rows(s, i, j, &n);
    expect_rows(r, i, j, want, n);
    free(want);
}

/* The first key and kind of every chunk of a file. */
static uint32_t chunks_of(const char *name, uint32_t *first, uint8_t *kind, uint32_t max)
{
    size_t len;
    uint8_t *f = slurp(name, &len);
    uint32_t nc = colog__get_u32(f + 12);
    cr_assert_leq(nc, max);
    for (uint32_t c = 0; c < nc; c++) {
        first[c] = colog__get_u32(dir_ent(f, c));
        kind[c] = f[chunk_off(f, c)];
    }
    free(f);
    return nc;
}

/* Ranges that end, start or pass at every chunk boundary, against the
 * postings read one key at a time (snapshot, checked by check_spec). */
static void check_boundaries(const char *name, colog_type_t t, uint32_t nrows,
                             const uint32_t *first, uint32_t nc)
{
    colog_idxr_t *r = open_idx(name, t, nrows);
    struct snap s;
    snap_take(r, &s);
    for (uint32_t c = 1; c < nc; c++) {
        uint32_t b = first[c];
        expect_snap_rows(r, &s, b - 1, b);
        expect_snap_rows(r, &s, b - 1, b + 1);
        expect_snap_rows(r, &s, b, b + 1);
        expect_snap_rows(r, &s, b > 3 ? b - 3 : 0, b + 2);
        expect_snap_rows(r, &s, first[c - 1], c + 1 < nc ? first[c + 1] : s.n);
        if (c >= 2)
            expect_snap_rows(r, &s, first[c - 2] + 1, c + 1 < nc ? first[c + 1] - 1 : s.n);
    }
    expect_snap_rows(r, &s, 0, s.n);
    expect_snap_rows(r, &s, 1, s.n - 1);
    colog__idxr_close(r);
    snap_free(&s);
}

/* Tens of thousands of keys of a few rows: the small postings, Rice-coded
 * in many chunks, read across every boundary, by the array path (a few rows)
 * and the flat bitset (more than one row in 256). */
Test(index, rice_chunk_boundaries)
{
    rng_state = 11;
    enum { N = 60000 };
    uint64_t *v = malloc(N * sizeof *v);
    for (uint32_t i = 0; i < N; i++)
        v[i] = (rnd() % 40000) * 7 + (i % 5 == 0 ? 100000 : 0);
    uint8_t *valid = calloc(N / 8 + 1, 1);
    for (uint32_t i = 0; i < N; i++)
        if (rnd() % 100 >= 3)
            valid[i / 8] |= (uint8_t)(1u << (i % 8));
    write_idx("r.idx", COLOG_T_U32, 0, v, valid, N, 4096);
    cr_assert_eq(check_spec("r.idx", COLOG_T_U32, N), 0, "no Roaring chunk");
    static uint32_t first[4096];
    static uint8_t kind[4096];
    uint32_t nc = chunks_of("r.idx", first, kind, 4096);
    cr_assert_gt(nc, 20);
    check_boundaries("r.idx", COLOG_T_U32, N, first, nc);
    free(valid);
    free(v);
}

/* A u16 index whose postings take every form: a run of 1000 rows (Roaring
 * run container), a dense key (Roaring bitset containers when big, Rice with
 * parameter 0 when not), a key on every fifth row, and many sparse keys in
 * Rice chunks. Returns its row count. */
static uint32_t write_mixed(const char *name, bool big)
{
    uint32_t n = big ? 131072 : 4000;
    uint64_t *v = malloc(n * sizeof *v);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = rnd();
        v[i] = i < 1000            ? 7
               : x % 4 != 0        ? (big ? 443 : 1000 + (x >> 8) % 1500)
               : (x >> 8) % 5 == 0 ? 80
                                   : 1000 + (x >> 16) % (big ? 8000 : 1500);
    }
    uint8_t *valid = calloc(n / 8 + 1, 1);
    for (uint32_t i = 0; i < n; i++)
        if (i < 1000 || rnd() % 100 >= 5)
            valid[i / 8] |= (uint8_t)(1u << (i % 8));
    write_idx(name, COLOG_T_U16, 0, v, valid, n, 64);
    free(valid);
    free(v);
    return n;
}

Test(index, mixed_chunks)
{
    static uint32_t first[4096];
    static uint8_t kind[4096];
    for (int big = 0; big < 2; big++) {
        rng_state = 12;
        unlinkat(dfd, "m.idx", 0);
        uint32_t n = write_mixed("m.idx", big);
        uint32_t nroaring = check_spec("m.idx", COLOG_T_U16, n);
        uint32_t nc = chunks_of("m.idx", first, kind, 4096);
        cr_assert_eq(nroaring, big ? 2 : 1, "run (and bitset) postings in Roaring chunks");
        cr_assert_gt(nc, nroaring + 1, "and Rice chunks");
        cr_assert_eq(kind[0], 2, "key 7 first");
        check_boundaries("m.idx", COLOG_T_U16, n, first, nc);
    }
}

/* Bytes of the entropy bound of the positions: sum over the keys of
 * log2 C(n, count). */
static double entropy_bytes(const uint32_t *count, size_t domain, uint32_t n)
{
    double bits = 0;
    for (size_t k = 0; k < domain; k++)
        if (count[k])
            bits +=
                (lgamma(n + 1.0) - lgamma(count[k] + 1.0) - lgamma(n - count[k] + 1.0)) / log(2);
    return bits / 8;
}

/* Realistic sizes: 100000 rows of ephemeral ports (~31000 keys of ~3 rows)
 * and of skewed dictionary codes, against the entropy bound (the old format
 * of a Roaring serialization and a 32-byte entry per key took 18 and 11
 * bytes a row). */
Test(index, compact_sizes)
{
    rng_state = 13;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof *v);
    uint32_t *c = malloc(N * sizeof *c), *pc = calloc(65536, 4), *cc = calloc(20000, 4);
    for (uint32_t i = 0; i < N; i++) {
        uint64_t x = rnd();
        v[i] = 32768 + x % 32768;
        c[i] = (uint32_t)(((x >> 20) % 20000) * ((x >> 40) % 20000) / 20000);
        pc[v[i]]++;
        cc[c[i]]++;
    }
    uint64_t ports = write_idx("p.idx", COLOG_T_U16, 0, v, NULL, N, 4096);
    uint64_t codes = write_idx("c.idx", COLOG_T_STRING, 20000, c, NULL, N, 4096);
    double pe = entropy_bytes(pc, 65536, N), ce = entropy_bytes(cc, 20000, N);
    cr_log_info("ports %llu bytes (entropy %.0f), codes %llu bytes (entropy %.0f)",
                (unsigned long long)ports, pe, (unsigned long long)codes, ce);
    cr_assert_lt(ports, 1.15 * pe, "%llu bytes", (unsigned long long)ports);
    cr_assert_lt(codes, 1.15 * ce, "%llu bytes", (unsigned long long)codes);
    cr_assert_lt(ports, 2.2 * N);
    cr_assert_lt(codes, 2.03 * N); /* 2.0 in version 1: 24 bytes more a chunk since */
    free(v);
    free(c);
    free(pc);
    free(cc);
}

/* ---------------------------------------------------------------- corruption */

/* Open name and read every key. 0 and the same content as s, or an error
 * (returned). Also checks that a failing or_range leaves dst alone. */
static int read_all(const char *name, colog_type_t t, uint64_t nrows, const struct snap *s)
{
    colog_idxr_t *r = NULL;
    int rc = colog__idxr_open(&r, dfd, name, t, nrows, name);
    if (rc < 0)
        return rc;
    rc = colog__idxr_load(r);
    if (rc < 0) {
        colog__idxr_close(r);
        return rc;
    }
    roaring_bitmap_t *all = roaring_bitmap_create();
    roaring_bitmap_add(all, UINT32_MAX - 1);
    rc = colog__idxr_or_range(r, 0, colog__idxr_nkeys(r), all);
    if (rc < 0) {
        cr_assert_eq(roaring_bitmap_get_cardinality(all), 1, "dst changed by a failed or_range");
        goto out;
    }
    cr_assert_eq(colog__idxr_nkeys(r), s->n, "corruption changed the key count");
    for (uint32_t i = 0; i < s->n; i++) {
        cr_assert_eq(colog__idxr_key(r, i), s->keys[i]);
        cr_assert_eq(colog__idxr_card(r, i), s->cards[i]);
        roaring_bitmap_t *b = roaring_bitmap_create();
        rc = colog__idxr_or_range(r, i, i + 1, b);
        if (rc == 0) {
            roaring_bitmap_t *want = roaring_bitmap_of_ptr(s->cards[i], s->rows[i]);
            cr_assert(roaring_bitmap_equals(b, want), "corruption changed key %u", i);
            roaring_bitmap_free(want);
        }
        roaring_bitmap_free(b);
        if (rc < 0)
            goto out;
    }
out:
    roaring_bitmap_free(all);
    colog__idxr_close(r);
    return rc;
}

/* Flip bytes of a write_mixed file (every byte, or every stride-th and all
 * of the header and table) with each mask: every flip must be caught. */
static void flip_bytes(bool big, size_t stride)
{
    rng_state = 6;
    uint32_t nrows = write_mixed("f.idx", big);
    colog_idxr_t *r = open_idx("f.idx", COLOG_T_U16, nrows);
    struct snap s;
    snap_take(r, &s);
    colog__idxr_close(r);
    cr_assert_eq(read_all("f.idx", COLOG_T_U16, nrows, &s), 0, "%s", colog_errmsg());
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    size_t data = HDR + (size_t)tab_len(f);
    const uint8_t masks[3] = {0x01, 0x80, 0xff};
    size_t tried = 0;
    for (size_t at = 0; at < len; at++) {
        if (at >= data && at % stride != 0)
            continue;
        for (int m = 0; m < 3; m++) {
            f[at] ^= masks[m];
            put_file("f.idx", f, len);
            int rc = read_all("f.idx", COLOG_T_U16, nrows, &s);
            cr_assert_lt(rc, 0, "flip 0x%02x at %zu not detected", masks[m], at);
            int want = at < 4 ? COLOG_ENOTCOLOG : at < 6 ? COLOG_EVERSION : COLOG_ECORRUPT;
            cr_assert_eq(rc, want, "flip at %zu: %s", at, colog_errmsg());
            f[at] ^= masks[m];
            tried++;
        }
    }
    cr_assert_gt(tried, 3 * 1000);
    free(f);
    snap_free(&s);
}

/* Every byte of a ~4 KB file: header, table, a Roaring chunk, Rice chunks. */
Test(index, flip_every_byte_small)
{
    flip_bytes(false, 1);
}

/* A sample of a ~90 KB file with a Roaring bitset chunk; all of the
 * header and table. */
Test(index, flip_sampled_bytes_big)
{
    flip_bytes(true, 23);
}

Test(index, truncated_and_extended)
{
    rng_state = 7;
    uint32_t nrows = write_mixed("f.idx", false);
    colog_idxr_t *r = open_idx("f.idx", COLOG_T_U16, nrows);
    struct snap s;
    snap_take(r, &s);
    colog__idxr_close(r);
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    for (size_t k = 0; k < len; k++) {
        put_file("f.idx", f, k);
        int rc = read_all("f.idx", COLOG_T_U16, nrows, &s);
        cr_assert_eq(rc, k < 4 ? COLOG_ENOTCOLOG : COLOG_ECORRUPT, "length %zu: %s", k,
                     colog_errmsg());
    }
    uint8_t *g = calloc(1, len + 32);
    memcpy(g, f, len);
    for (size_t extra = 1; extra <= 32; extra++) {
        g[len + extra - 1] = (uint8_t)extra;
        put_file("f.idx", g, len + extra);
        cr_assert_eq(read_all("f.idx", COLOG_T_U16, nrows, &s), COLOG_ECORRUPT);
        cr_assert(errmsg_has("f.idx: chunks do not end at the end of the file"), "%s",
                  colog_errmsg());
    }
    free(g);
    free(f);
    snap_free(&s);
}

Test(index, renamed_file)
{
    rng_state = 8;
    uint32_t nrows = write_mixed("f.idx", false);
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    put_file("g.idx", f, len);
    cr_assert_eq(try_open("g.idx", COLOG_T_U16, nrows), COLOG_ECORRUPT);
    cr_assert(errmsg_has("g.idx: header checksum mismatch"), "%s", colog_errmsg());
    free(f);
}

/* The spec file of keys 1 {0, 2}, 2 {1, 3}, 3 {4, 5} of a u16 column of 6
 * rows, a chunk per key (Rice, Rice, Roaring unless rice3), written as name. */
static void write_three(const char *name, bool rice3, size_t *len, uint8_t **image)
{
    static uint32_t r1[2] = {0, 2}, r2[2] = {1, 3}, r3[2] = {4, 5};
    uint32_t *rows[3] = {r1, r2, r3};
    const uint64_t keys[3] = {1, 2, 3};
    const uint32_t cards[3] = {2, 2, 2}, first[3] = {0, 1, 2};
    uint8_t *chunk[3];
    uint32_t clen[3], blen;
    for (int c = 0; c < 3; c++)
        chunk[c] = spec_rice(6, 1, rows + c, cards + c, &clen[c]);
    if (!rice3) {
        free(chunk[2]);
        uint8_t *blob = ser_rows(r3, 2, &blen);
        chunk[2] = spec_roaring(blob, blen, &clen[2]);
        free(blob);
    }
    struct spec s = {.type = COLOG_T_U16,
                     .nrows = 6,
                     .nkeys = 3,
                     .keys = keys,
                     .cards = cards,
                     .nchunks = 3,
                     .first = first,
                     .chunk = chunk,
                     .clen = clen};
    *image = spec_file(name, &s, len);
    put_file(name, *image, *len);
    for (int c = 0; c < 3; c++)
        free(chunk[c]);
}

/* Two chunks of the same length swapped with their directory checksums, the
 * table checksum redone: the chunk-number seed still catches it. */
Test(index, chunks_swapped)
{
    size_t len;
    uint8_t *f;
    write_three("f.idx", false, &len, &f);
    colog_idxr_t *r = open_idx("f.idx", COLOG_T_U16, 6);
    expect_rows(r, 0, 3, (const uint32_t[]){0, 1, 2, 3, 4, 5}, 6);
    colog__idxr_close(r);
    uint8_t *d0 = dir_ent(f, 0), *d1 = dir_ent(f, 1), tmp[16];
    uint32_t clen = colog__get_u32(d0 + 4);
    cr_assert_eq(clen, colog__get_u32(d1 + 4));
    size_t o0 = chunk_off(f, 0), o1 = chunk_off(f, 1);
    cr_assert(memcmp(f + o0, f + o1, clen) != 0);
    memcpy(tmp, f + o0, clen);
    memcpy(f + o0, f + o1, clen);
    memcpy(f + o1, tmp, clen);
    memcpy(tmp, d0 + 8, 8);
    memcpy(d0 + 8, d1 + 8, 8);
    memcpy(d1 + 8, tmp, 8);
    fix_table("f.idx", f);
    put_file("f.idx", f, len);
    r = open_idx("f.idx", COLOG_T_U16, 6);
    cr_assert_eq(or_range_rc(r, 0, 1), COLOG_ECORRUPT);
    cr_assert(errmsg_has("f.idx: chunk 0: checksum mismatch"), "%s", colog_errmsg());
    cr_assert_eq(or_range_rc(r, 1, 2), COLOG_ECORRUPT);
    cr_assert(errmsg_has("f.idx: chunk 1: checksum mismatch"), "%s", colog_errmsg());
    cr_assert_eq(or_range_rc(r, 2, 3), 0);
    cr_assert_eq(or_range_rc(r, 0, 3), COLOG_ECORRUPT);
    colog__idxr_close(r);
    free(f);
}

/* Header fields with the checksum redone. */
Test(index, bad_header_fields)
{
    const uint64_t v[4] = {1, 2, 1, 2};
    write_idx("f.idx", COLOG_T_U16, 0, v, NULL, 4, 8);
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    cr_assert_eq(f[24], 40 + 8 + 1 + 8, "table length");
    struct {
        size_t at;
        uint8_t val;
        int want;
        const char *msg;
    } cases[] = {
        {0, 0x44, COLOG_ENOTCOLOG, "not a colog index file"},
        {3, 0x59, COLOG_ENOTCOLOG, "not a colog index file"},
        {4, 3, COLOG_EVERSION, "format version 3 not supported"},
        {4, 0, COLOG_EVERSION, "format version 0 not supported"},
        {5, 1, COLOG_EVERSION, "format version 258 not supported"},
        {6, 6, COLOG_ECORRUPT, "column type 6, expected 4"},
        {7, 2, COLOG_ECORRUPT, "reserved fields not zero"},
        {7, 0x80, COLOG_ECORRUPT, "reserved fields not zero"},
        {34, 1, COLOG_ECORRUPT, "reserved fields not zero"},
        {39, 0x80, COLOG_ECORRUPT, "reserved fields not zero"},
        {16, 5, COLOG_ECORRUPT, "index covers 5 rows"},
        {20, 1, COLOG_ECORRUPT, "more than an index can hold"},
        {8, 5, COLOG_ECORRUPT, "more keys than rows"},
        {8, 3, COLOG_ECORRUPT, "chunk 0: key gap offset past the key gaps"},
        {8, 0, COLOG_ECORRUPT, "chunk count does not match the key count"},
        {12, 0, COLOG_ECORRUPT, "chunk count does not match the key count"},
        {12, 2, COLOG_ECORRUPT, "table length does not fit the file"},
        {24, 40 + 8 + 8, COLOG_ECORRUPT, "key count does not fit the table"},
        {24, 40 + 8 + 2 + 8, COLOG_ECORRUPT, "key table: checksum mismatch"},
        {25, 1, COLOG_ECORRUPT, "table length does not fit the file"},
        {31, 0x80, COLOG_ECORRUPT, "table length does not fit the file"},
        {32, 64, COLOG_ECORRUPT, "bad code order"},
        {33, 32, COLOG_ECORRUPT, "bad code order"},
        {7, 1, COLOG_ECORRUPT, "chunk 0: first key is not its index (dense keys)"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *g = malloc(len);
        memcpy(g, f, len);
        g[cases[c].at] = cases[c].val;
        fix_header("f.idx", g);
        put_file("f.idx", g, len);
        cr_assert_eq(try_open("f.idx", COLOG_T_U16, 4), cases[c].want, "case %zu: %s", c,
                     colog_errmsg());
        cr_assert(errmsg_has(cases[c].msg), "case %zu: %s", c, colog_errmsg());
        free(g);
    }
    free(f);
}

/* A spec file of a u8 column of 6 rows, keys 1 {0, 2}, 2 {1, 3}, 3 {4, 5}
 * in one Rice chunk, with one thing changed; it must fail with msg. */
struct tcase {
    const char *msg;
    uint32_t nkeys;
    uint64_t keys[4];
    uint32_t cards[4];
    unsigned kord, cord;
    uint32_t nchunks, first[2], cut; /* cut: key where chunk 1 starts */
    bool dense;
};

static void try_table(const struct tcase *t, size_t c)
{
    static uint32_t r1[2] = {0, 2}, r2[2] = {1, 3}, r3[2] = {4, 5}, r4[1] = {6};
    uint32_t *rows[4] = {r1, r2, r3, r4};
    const uint32_t real[4] = {2, 2, 2, 1};
    uint32_t ends[3] = {0, t->cut ? t->cut : t->nkeys, t->nkeys};
    uint8_t *chunk[2];
    uint32_t clen[2];
    for (uint32_t k = 0; k < t->nchunks; k++)
        chunk[k] = spec_rice(6, ends[k + 1] - ends[k], rows + ends[k], real + ends[k], &clen[k]);
    struct spec s = {.type = COLOG_T_U8,
                     .nrows = 6,
                     .nkeys = t->nkeys,
                     .keys = t->dense ? NULL : t->keys,
                     .cards = t->cards,
                     .kord = t->kord,
                     .cord = t->cord,
                     .nchunks = t->nchunks,
                     .first = t->first,
                     .chunk = chunk,
                     .clen = clen};
    size_t len;
    uint8_t *f = spec_file("t.idx", &s, &len);
    put_file("t.idx", f, len);
    int rc = try_open("t.idx", COLOG_T_U8, 6);
    cr_assert_eq(rc, t->msg ? COLOG_ECORRUPT : 0, "case %zu: %s", c, colog_errmsg());
    if (t->msg)
        cr_assert(errmsg_has(t->msg), "case %zu: %s", c, colog_errmsg());
    for (uint32_t k = 0; k < t->nchunks; k++)
        free(chunk[k]);
    free(f);
}

/* Key tables consistent with their checksums but not with the rules. */
Test(index, bad_tables)
{
    const struct tcase cases[] = {
        /* the good ones */
        {NULL, 3, {1, 2, 3}, {2, 2, 2}, 0, 0, 1, {0}, 0, false},
        {NULL, 3, {1, 2, 3}, {2, 2, 2}, 5, 3, 2, {0, 2}, 2, false},
        {"key 0: key out of range for the column type",
         3,
         {256, 257, 258},
         {2, 2, 2},
         0,
         0,
         1,
         {0},
         0,
         false},
        {"key 2: key out of range for the column type",
         3,
         {1, 255, 256},
         {2, 2, 2},
         0,
         0,
         1,
         {0},
         0,
         false},
        {"key 1: key out of range for the column type",
         2,
         {255, 255},
         {2, 2},
         0,
         0,
         1,
         {0},
         0,
         false},
        {"cardinalities add up to more than the rows",
         3,
         {1, 2, 3},
         {2, 2, 3},
         0,
         0,
         1,
         {0},
         0,
         false},
        {"key 1: cardinality out of range", 3, {1, 2, 3}, {1, 7, 1}, 0, 0, 1, {0}, 0, false},
        {"chunk 0: first keys not ascending from 0",
         3,
         {1, 2, 3},
         {2, 2, 2},
         0,
         0,
         2,
         {1, 2},
         1,
         false},
        {"chunk 1: first keys not ascending from 0",
         3,
         {1, 2, 3},
         {2, 2, 2},
         0,
         0,
         2,
         {0, 0},
         1,
         false},
        {"chunk 1: first key out of range", 3, {1, 2, 3}, {2, 2, 2}, 0, 0, 2, {0, 3}, 2, false},
        /* dense: keys 0, 1, 2 */
        {NULL, 3, {0}, {2, 2, 2}, 0, 0, 1, {0}, 0, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        try_table(&cases[c], c);
    /* a directory length out of bounds */
    size_t len;
    uint8_t *w;
    for (int c = 0; c < 2; c++) {
        const uint64_t v[6] = {1, 2, 1, 2, 3, 3};
        write_idx("f.idx", COLOG_T_U8, 0, v, NULL, 6, 8);
        w = slurp("f.idx", &len);
        colog__put_u32(dir_ent(w, 0) + 4, c == 0 ? 1 : 1000);
        fix_table("f.idx", w);
        put_file("f.idx", w, len);
        cr_assert_eq(try_open("f.idx", COLOG_T_U8, 6), COLOG_ECORRUPT);
        cr_assert(errmsg_has("f.idx: chunk 0: length out of bounds"), "%s", colog_errmsg());
        free(w);
        unlinkat(dfd, "f.idx", 0);
    }
    /* dense 257 keys of a u8 column: one too many */
    uint8_t f[HDR] = {0};
    colog__put_u32(f, MAGIC);
    colog__put_u16(f + 4, 1);
    f[6] = COLOG_T_U8;
    f[7] = 1;
    colog__put_u32(f + 8, 257);
    colog__put_u32(f + 12, 1);
    colog__put_u64(f + 16, 1000);
    colog__put_u64(f + 24, 16 + 33 + 8);
    fix_header("t.idx", f);
    uint8_t g[HDR + 57 + 2] = {0};
    memcpy(g, f, HDR);
    put_file("t.idx", g, sizeof g);
    cr_assert_eq(try_open("t.idx", COLOG_T_U8, 1000), COLOG_ECORRUPT);
    cr_assert(errmsg_has("dense keys out of range for the column type"), "%s", colog_errmsg());

    /* the stream: garbage after the cardinalities, a byte more, a code cut */
    const uint64_t v[6] = {1, 2, 1, 2, 3, 3};
    unlinkat(dfd, "f.idx", 0);
    write_idx("f.idx", COLOG_T_U8, 0, v, NULL, 6, 8);
    w = slurp("f.idx", &len);
    /* 1 entry, key 1; gaps 0 0 (order 0): 1 1; cards - 1: 1 1 1 (order 0,
     * a tie with 1): 01 01 01; 8 bits */
    cr_assert_eq(tab_len(w), 40 + 8 + 1 + 8);
    cr_assert_eq(w[32], 0);
    cr_assert_eq(w[33], 0);
    cr_assert_eq(w[HDR + 48], 0xAB);
    uint8_t *h = malloc(len + 1);
    memcpy(h, w, len);
    h[HDR + 48] = 0x2B; /* the last card cut short */
    fix_table("f.idx", h);
    put_file("f.idx", h, len);
    cr_assert_eq(try_open("f.idx", COLOG_T_U8, 6), COLOG_ECORRUPT);
    cr_assert(errmsg_has("f.idx: key table: cardinality 2: truncated"), "%s", colog_errmsg());
    h[HDR + 48] = 0x57; /* cards 1, 2, 2: a table that holds, chunks that do not */
    fix_table("f.idx", h);
    put_file("f.idx", h, len);
    colog_idxr_t *r = open_idx("f.idx", COLOG_T_U8, 6);
    cr_assert_eq(colog__idxr_card(r, 0), 1);
    cr_assert_eq(or_range_rc(r, 0, 3), COLOG_ECORRUPT);
    colog__idxr_close(r);
    /* one byte more in the table */
    memmove(h + HDR + 50, w + HDR + 49, len - HDR - 49);
    h[HDR + 48] = 0xAB;
    h[HDR + 49] = 0;
    colog__put_u64(h + 24, tab_len(w) + 1);
    fix_header("f.idx", h);
    fix_table("f.idx", h);
    put_file("f.idx", h, len + 1);
    cr_assert_eq(try_open("f.idx", COLOG_T_U8, 6), COLOG_ECORRUPT);
    cr_assert(errmsg_has("key table: data after the cardinalities"), "%s", colog_errmsg());
    free(h);
    free(w);
}

/* A one-key u32 file (key 9, card rows) whose one chunk is given. */
static int try_chunk(const uint8_t *chunk, uint32_t clen, uint32_t card, uint64_t nrows)
{
    const uint64_t key = 9;
    const uint32_t first = 0;
    uint8_t *ch = malloc(clen);
    memcpy(ch, chunk, clen);
    struct spec s = {.type = COLOG_T_U32,
                     .nrows = nrows,
                     .nkeys = 1,
                     .keys = &key,
                     .cards = &card,
                     .nchunks = 1,
                     .first = &first,
                     .chunk = &ch,
                     .clen = &clen};
    size_t len;
    uint8_t *f = spec_file("k.idx", &s, &len);
    put_file("k.idx", f, len);
    free(f);
    free(ch);
    colog_idxr_t *r = open_idx("k.idx", COLOG_T_U32, nrows);
    int rc = or_range_rc(r, 0, 1);
    colog__idxr_close(r);
    return rc;
}

/* A one-key file holding blob as its Roaring posting (card rows). */
static int try_blob(const uint8_t *blob, uint32_t blen, uint32_t card, uint64_t nrows)
{
    uint32_t clen;
    uint8_t *ch = spec_roaring(blob, blen, &clen);
    int rc = try_chunk(ch, clen, card, nrows);
    free(ch);
    return rc;
}

/* Rice chunks consistent with their checksums but not with the rules. */
Test(index, bad_rice_chunks)
{
    /* 3 rows of 16: parameter 2; rows {1, 6, 15}: gaps 1, 4, 8; low bits
     * (in stream order) 10 00 00, unary parts 1 01 001 */
    const uint8_t good[3] = {1, 0x41, 0x09};
    cr_assert_eq(try_chunk(good, 3, 3, 16), 0, "%s", colog_errmsg());
    colog_idxr_t *r = open_idx("k.idx", COLOG_T_U32, 16);
    expect_key(r, 0, 9, (const uint32_t[]){1, 6, 15}, 3);
    colog__idxr_close(r);
    struct {
        uint8_t b[8];
        uint32_t len, card;
        uint64_t nrows;
        const char *msg;
    } cases[] = {
        /* the last gap 12: row 19 */
        {{1, 0x41, 0x11}, 3, 3, 16, "k.idx: key 0: row 19 out of range (16 rows)"},
        /* ... or 8 with 15 rows */
        {{1, 0x41, 0x09}, 3, 3, 15, "key 0: row 15 out of range (15 rows)"},
        /* no one bit to end the last unary part */
        {{1, 0x41, 0x01}, 3, 3, 16, "key 0: truncated"},
        /* padding bits set */
        {{1, 0x41, 0x49}, 3, 3, 16, "chunk 0: data after the last key"},
        /* a byte more */
        {{1, 0x41, 0x09, 0}, 4, 3, 16, "chunk 0: data after the last key"},
        /* a zero run longer than the rows: the gap alone is over (row 182) */
        {{1, 0x02, 0, 0, 0, 0, 0, 0x08}, 8, 3, 16, "key 0: row 182 out of range"},
        /* low bits longer than the chunk: parameter 18 */
        {{1, 0x41, 0x09}, 3, 3, 1u << 20, "chunk 0: truncated"},
        /* kinds 0 and 3 */
        {{0, 0x41, 0x09}, 3, 3, 16, "chunk 0: unknown chunk kind"},
        {{3, 0x41, 0x09}, 3, 3, 16, "chunk 0: unknown chunk kind"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int rc = try_chunk(cases[c].b, cases[c].len, cases[c].card, cases[c].nrows);
        cr_assert_eq(rc, COLOG_ECORRUPT, "case %zu", c);
        cr_assert(errmsg_has(cases[c].msg), "case %zu: %s", c, colog_errmsg());
    }

    /* A Roaring chunk covering two keys (by its directory). */
    static uint32_t r1[2] = {0, 2}, r23[4] = {1, 3, 4, 5};
    uint32_t *rows[1] = {r1};
    const uint64_t keys[3] = {1, 2, 3};
    const uint32_t cards[3] = {2, 2, 2}, first[2] = {0, 1};
    uint8_t *chunk[2];
    uint32_t clen[2], blen;
    chunk[0] = spec_rice(6, 1, rows, cards, &clen[0]);
    uint8_t *blob = ser_rows(r23, 4, &blen);
    chunk[1] = spec_roaring(blob, blen, &clen[1]);
    free(blob);
    struct spec s = {.type = COLOG_T_U16,
                     .nrows = 6,
                     .nkeys = 3,
                     .keys = keys,
                     .cards = cards,
                     .nchunks = 2,
                     .first = first,
                     .chunk = chunk,
                     .clen = clen};
    size_t len;
    uint8_t *f = spec_file("f.idx", &s, &len);
    put_file("f.idx", f, len);
    r = open_idx("f.idx", COLOG_T_U16, 6);
    cr_assert_eq(or_range_rc(r, 0, 1), 0, "%s", colog_errmsg());
    cr_assert_eq(or_range_rc(r, 1, 2), COLOG_ECORRUPT);
    cr_assert(errmsg_has("f.idx: chunk 1: Roaring chunk of more than one key"), "%s",
              colog_errmsg());
    cr_assert_eq(or_range_rc(r, 0, 3), COLOG_ECORRUPT);
    colog__idxr_close(r);
    free(chunk[0]);
    free(chunk[1]);
    free(f);
}

/* Valid roaring, but a row beyond the part. */
Test(index, row_out_of_range)
{
    const uint32_t rows[3] = {0, 5, 100};
    uint32_t blen;
    uint8_t *b = ser_rows(rows, 3, &blen);
    cr_assert_eq(try_blob(b, blen, 3, 101), 0, "%s", colog_errmsg());
    cr_assert_eq(try_blob(b, blen, 3, 100), COLOG_ECORRUPT);
    cr_assert(errmsg_has("k.idx: key 0: row 100 out of range (100 rows)"), "%s", colog_errmsg());
    free(b);
    /* in a later container, and in a run container */
    const uint32_t far[2] = {1, 1u << 20};
    b = ser_rows(far, 2, &blen);
    cr_assert_eq(try_blob(b, blen, 2, 1u << 20), COLOG_ECORRUPT);
    free(b);
    uint32_t run[5000];
    for (uint32_t i = 0; i < 5000; i++)
        run[i] = 200000 + i;
    b = ser_rows(run, 5000, &blen);
    cr_assert_lt(blen, 100, "a run container");
    cr_assert_eq(try_blob(b, blen, 5000, 205000), 0, "%s", colog_errmsg());
    cr_assert_eq(try_blob(b, blen, 5000, 204999), COLOG_ECORRUPT);
    free(b);

    /* A written file whose Roaring chunk is edited, checksums redone:
     * key 7's run (500, 999) moved to start at 1500. */
    uint64_t v[2000] = {0};
    uint8_t valid[250] = {0};
    for (int i = 0; i < 1500; i++) {
        v[i] = i < 10 ? 9 : 7;
        if (i < 10 || i >= 500)
            valid[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    write_idx("f.idx", COLOG_T_U16, 0, v, valid, 2000, 16);
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    cr_assert_eq(colog__get_u32(f + 12), 2);
    size_t at = chunk_off(f, 0);
    cr_assert_eq(f[at], 2);
    cr_assert_eq(colog__get_u16(f + at + 12), 500);
    colog__put_u16(f + at + 12, 1500);
    fix_chunk("f.idx", f, 0);
    put_file("f.idx", f, len);
    colog_idxr_t *r = open_idx("f.idx", COLOG_T_U16, 2000);
    cr_assert_eq(or_range_rc(r, 0, 1), COLOG_ECORRUPT);
    cr_assert(errmsg_has("f.idx: key 0: row 2499 out of range (2000 rows)"), "%s", colog_errmsg());
    cr_assert_eq(or_range_rc(r, 1, 2), 0);
    colog__idxr_close(r);
    free(f);
}

/* Malformed portable bitmaps under correct checksums: our structural check
 * (CRoaring 0.2.66 has no roaring_bitmap_internal_validate). */
Test(index, malformed_bitmaps)
{
    struct {
        uint8_t b[40];
        uint32_t len, card;
        const char *msg;
    } cases[] = {
        /* the good one: cookie 12346, 1 container, key 0, card 2, offset 16, {1, 5} */
        {{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0, 5, 0}, 20, 2, NULL},
        {{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 5, 0, 1, 0},
         20,
         2,
         "array values not ascending"},
        {{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 5, 0, 5, 0},
         20,
         2,
         "array values not ascending"},
        {{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0, 5, 0, 0},
         21,
         2,
         "length does not match"},
        {{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0}, 18, 2, "truncated"},
        {{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 17, 0, 0, 0, 1, 0, 5, 0},
         20,
         2,
         "bad container offset"},
        {{0x3c, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0, 5, 0}, 20, 2, "bad cookie"},
        {{0x3a, 0x30, 0, 0, 0, 0, 0, 0}, 8, 2, "no containers"},
        {{0x3a, 0x30, 0, 0, 1, 0, 1, 0}, 8, 2, "too many containers"},
        /* two containers, keys 1 then 0 */
        {{0x3a, 0x30, 0,  0, 2, 0, 0,  0, 1, 0, 0, 0, 0, 0,
          0,    0,    24, 0, 0, 0, 26, 0, 0, 0, 1, 0, 2, 0},
         28,
         2,
         "container keys not ascending"},
        /* cookie 12347, 1 container, run flag, key 0 card 2: run (65535, 1) passes the end */
        {{0x3b, 0x30, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0xff, 0xff, 1, 0}, 15, 2, "run past the end"},
        /* runs (10, 2) and (12, 0): overlapping */
        {{0x3b, 0x30, 0, 0, 1, 0, 0, 3, 0, 2, 0, 10, 0, 2, 0, 12, 0, 0, 0},
         19,
         4,
         "runs out of order or overlapping"},
        /* runs (10, 0) and (5, 0): out of order */
        {{0x3b, 0x30, 0, 0, 1, 0, 0, 1, 0, 2, 0, 10, 0, 0, 0, 5, 0, 0, 0},
         19,
         2,
         "runs out of order or overlapping"},
        /* run (10, 1) but card 3 */
        {{0x3b, 0x30, 0, 0, 1, 0, 0, 2, 0, 1, 0, 10, 0, 1, 0}, 15, 3, "run lengths do not match"},
        /* no runs */
        {{0x3b, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 11, 1, "empty run container"},
        /* run flag padding */
        {{0x3b, 0x30, 0, 0, 3, 0, 0, 1, 0, 1, 0, 10, 0, 1, 0}, 15, 2, "padding not zero"},
        /* table cardinality 3, bitmap has 2 */
        {{0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0, 5, 0},
         20,
         3,
         "2 rows, key table says 3"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int rc = try_blob(cases[c].b, cases[c].len, cases[c].card, 1u << 20);
        if (!cases[c].msg) {
            cr_assert_eq(rc, 0, "case %zu: %s", c, colog_errmsg());
            continue;
        }
        cr_assert_eq(rc, COLOG_ECORRUPT, "case %zu", c);
        cr_assert(errmsg_has(cases[c].msg), "case %zu: %s", c, colog_errmsg());
    }

    /* A bitset container whose popcount is not its cardinality. */
    uint32_t rows[5000];
    for (uint32_t i = 0; i < 5000; i++)
        rows[i] = 2 * i;
    uint32_t blen;
    uint8_t *b = ser_rows(rows, 5000, &blen);
    cr_assert_eq(blen, 8 + 8 + 8192);
    cr_assert_eq(try_blob(b, blen, 5000, 10000), 0, "%s", colog_errmsg());
    b[17] |= 0x80; /* row 15 too: 5001 rows under a header saying 5000 */
    cr_assert_eq(try_blob(b, blen, 5000, 10000), COLOG_ECORRUPT);
    cr_assert(errmsg_has("bitset popcount does not match"), "%s", colog_errmsg());
    free(b);
}

/* ---------------------------------------------------------------- lazy decoding (version 2) */

/* What a test knows of an index from its data alone: the distinct present
 * values in key order (keys[0..n)), the rows before each (pre[0..n]) and
 * each key's rows (rows[pre[i] .. pre[i + 1]), ascending). */
struct truth {
    uint32_t n;
    uint64_t flip;
    uint64_t *keys;
    uint64_t *pre;
    uint32_t *rows;
};

static uint64_t truth_flip;

static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* (flipped key, row) */
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/* vals: u32 codes when codes, else 8-byte values; valid may be NULL. */
static void truth_make(struct truth *t, colog_type_t type, const void *vals, bool codes,
                       const uint8_t *valid, uint32_t nrows)
{
    t->flip = truth_flip = type == COLOG_T_I64 ? 1ull << 63 : 0;
    uint64_t *p = malloc(2 * (size_t)(nrows ? nrows : 1) * sizeof *p);
    uint32_t m = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        if (valid && !colog_valid(valid, r))
            continue;
        uint64_t v = codes ? ((const uint32_t *)vals)[r] : ((const uint64_t *)vals)[r];
        p[2 * m] = v ^ t->flip;
        p[2 * m + 1] = r;
        m++;
    }
    qsort(p, m, 2 * sizeof *p, cmp_pair);
    t->keys = malloc((m + 1) * sizeof *t->keys);
    t->pre = malloc((m + 2) * sizeof *t->pre);
    t->rows = malloc((m + 1) * sizeof *t->rows);
    t->n = 0;
    for (uint32_t k = 0; k < m; k++) {
        if (k == 0 || p[2 * k] != p[2 * k - 2]) {
            t->keys[t->n] = p[2 * k] ^ t->flip;
            t->pre[t->n++] = k;
        }
        t->rows[k] = (uint32_t)p[2 * k + 1];
    }
    t->pre[t->n] = m;
    free(p);
}

static void truth_free(struct truth *t)
{
    free(t->keys);
    free(t->pre);
    free(t->rows);
}

/* The first i with key(i) >= key (upper: > key), in key order. */
static uint32_t truth_bound(const struct truth *t, uint64_t key, bool upper)
{
    uint32_t lo = 0, hi = t->n;
    uint64_t f = key ^ t->flip;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t k = t->keys[mid] ^ t->flip;
        if (upper ? k <= f : k < f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A probe key: a key of the index, one next to it, an extreme, or any. */
static uint64_t probe_key(const struct truth *t, colog_type_t type)
{
    uint64_t x = rnd(), k = t->n ? t->keys[x % t->n] : 0;
    switch ((x >> 40) % 6) {
    case 0:
    case 1:
        return k;
    case 2:
        return k + 1;
    case 3:
        return k - 1;
    case 4:
        return (x >> 45) % 2 ? t->flip : t->flip - 1; /* the smallest, the largest */
    default:
        return type == COLOG_T_U16 ? rnd() % 65536 : rnd();
    }
}

/* range(lo, hi) on r against the truth. */
static void expect_range(const colog_idxr_t *r, const struct truth *t, uint64_t lo, uint64_t hi)
{
    uint32_t i = 7, j = 7;
    uint64_t sum = 7;
    cr_assert_eq(colog__idxr_range(r, lo, hi, &i, &j, &sum), 0, "%s", colog_errmsg());
    uint32_t wi = truth_bound(t, lo, false), wj = truth_bound(t, hi, true);
    cr_assert(i == wi && j == wj, "range %llx..%llx: [%u, %u), want [%u, %u)",
              (unsigned long long)lo, (unsigned long long)hi, i, j, wi, wj);
    cr_assert_eq(sum, t->pre[wj] - t->pre[wi], "range %llx..%llx: sum", (unsigned long long)lo,
                 (unsigned long long)hi);
    cr_assert_eq(colog__idxr_range(r, lo, hi, &i, &j, NULL), 0, "%s", colog_errmsg());
    cr_assert(i == wi && j == wj);
}

static void expect_or_range(const colog_idxr_t *r, const struct truth *t, uint32_t i, uint32_t j)
{
    roaring_bitmap_t *want = roaring_bitmap_of_ptr(t->pre[j] - t->pre[i], t->rows + t->pre[i]);
    roaring_bitmap_t *got = roaring_bitmap_create();
    cr_assert_eq(colog__idxr_or_range(r, i, j, got), 0, "%s", colog_errmsg());
    cr_assert(roaring_bitmap_equals(got, want), "or_range %u..%u", i, j);
    roaring_bitmap_free(got);
    roaring_bitmap_free(want);
}

/* Probe a fresh reader (never loaded), a fresh one for or_range, and a
 * loaded one, against the truth. */
static void check_lazy(const char *name, colog_type_t type, uint32_t nrows, const struct truth *t)
{
    colog_idxr_t *a = open_lazy(name, type, nrows), *o = open_lazy(name, type, nrows);
    colog_idxr_t *b = open_idx(name, type, nrows);
    cr_assert_eq(colog__idxr_nkeys(a), t->n);
    uint64_t last = 0;
    if (t->n > 0) {
        cr_assert_eq(colog__idxr_last_key(a, &last), 0, "%s", colog_errmsg());
        cr_assert_eq(last, t->keys[t->n - 1]);
        cr_assert_eq(colog__idxr_last_key(b, &last), 0, "%s", colog_errmsg());
        cr_assert_eq(last, t->keys[t->n - 1]);
    } else {
        cr_assert_eq(colog__idxr_last_key(a, &last), COLOG_EINVAL);
    }
    for (int p = 0; p < 400; p++) {
        uint64_t lo = probe_key(t, type), hi = p % 4 == 0 ? lo : probe_key(t, type);
        if ((lo ^ t->flip) > (hi ^ t->flip)) {
            uint64_t x = lo;
            lo = hi;
            hi = x;
        }
        expect_range(a, t, lo, hi);
        expect_range(b, t, lo, hi);
    }
    uint32_t i, j;
    uint64_t sum;
    cr_assert_eq(colog__idxr_range(a, 5 ^ t->flip, 4 ^ t->flip, &i, &j, &sum), COLOG_EINVAL);
    for (int p = 0; p < 60 && t->n > 0; p++) {
        uint32_t x = (uint32_t)(rnd() % t->n);
        uint32_t y = x + (uint32_t)(rnd() % (p % 3 == 0 ? t->n - x + 1
                                                        : (t->n - x < 40 ? t->n - x + 1 : 40)));
        expect_or_range(o, t, x, y);
        expect_or_range(b, t, x, y);
    }
    expect_or_range(o, t, 0, t->n);
    for (uint32_t k = 0; k < t->n; k++) {
        cr_assert_eq(colog__idxr_key(b, k), t->keys[k]);
        cr_assert_eq(colog__idxr_card(b, k), t->pre[k + 1] - t->pre[k]);
    }
    colog__idxr_close(a);
    colog__idxr_close(o);
    colog__idxr_close(b);
}

/* Random key sets of every shape, probed lazily and loaded. */
Test(index, lazy_equals_loaded)
{
    rng_state = 21;
    enum { N = 60000 };
    uint64_t *v = malloc(N * sizeof *v);
    uint32_t *c = malloc(N * sizeof *c);
    for (int round = 0; round < 3; round++) {
        struct truth t;
        uint8_t *valid = random_valid(N, 7);
        /* u16 dense: keys 0..K-1, K from 1 to thousands */
        uint32_t k = round == 0 ? 1 : round == 1 ? 300 : 9000;
        for (uint32_t i = 0; i < N; i++)
            v[i] = i < k ? i : rnd() % k;
        write_idx("u.idx", COLOG_T_U16, 0, v, NULL, N, 4096);
        size_t len;
        uint8_t *f = slurp("u.idx", &len);
        cr_assert_eq(f[7], 1, "dense");
        free(f);
        truth_make(&t, COLOG_T_U16, v, false, NULL, N);
        check_lazy("u.idx", COLOG_T_U16, N, &t);
        truth_free(&t);
        unlinkat(dfd, "u.idx", 0);

        /* u32 sparse */
        for (uint32_t i = 0; i < N; i++)
            v[i] = round == 0   ? (rnd() % 50) * 171403 + 3
                   : round == 1 ? (rnd() % 25000) * 150001 + 3
                                : (rnd() % 25000) * 11 + 4000000000u;
        write_idx("s.idx", COLOG_T_U32, 0, v, valid, N, 4096);
        truth_make(&t, COLOG_T_U32, v, false, valid, N);
        check_lazy("s.idx", COLOG_T_U32, N, &t);
        truth_free(&t);
        unlinkat(dfd, "s.idx", 0);

        /* i64 around zero and at the extremes */
        for (uint32_t i = 0; i < N; i++) {
            uint64_t x = rnd();
            v[i] = (uint64_t)((int64_t)(x % 40000) - 20000) * (round == 1 ? 1000003 : 1);
            if (x % 97 == 0)
                v[i] = x % 2 ? (uint64_t)INT64_MIN : (uint64_t)INT64_MAX;
        }
        write_idx("i.idx", COLOG_T_I64, 0, v, valid, N, 4096);
        truth_make(&t, COLOG_T_I64, v, false, valid, N);
        check_lazy("i.idx", COLOG_T_I64, N, &t);
        truth_free(&t);
        unlinkat(dfd, "i.idx", 0);

        /* dictionary codes, skewed, some unused */
        for (uint32_t i = 0; i < N; i++) {
            uint64_t x = rnd();
            c[i] = (uint32_t)((x % 30000) * ((x >> 32) % 30000) / 30000);
        }
        write_idx("c.idx", COLOG_T_STRING, 30000, c, valid, N, 4096);
        truth_make(&t, COLOG_T_STRING, c, true, valid, N);
        check_lazy("c.idx", COLOG_T_STRING, N, &t);
        truth_free(&t);
        unlinkat(dfd, "c.idx", 0);
        free(valid);
    }
    /* no keys at all */
    write_idx("e.idx", COLOG_T_U32, 0, NULL, NULL, 0, 8);
    struct truth t;
    truth_make(&t, COLOG_T_U32, v, false, NULL, 0);
    check_lazy("e.idx", COLOG_T_U32, 0, &t);
    truth_free(&t);
    free(v);
    free(c);
}

/* The written u32 file of the corruption tests and its truth. */
static uint32_t write_sparse(const char *name, struct truth *t)
{
    rng_state = 22;
    enum { N = 60000 };
    uint64_t *v = malloc(N * sizeof *v);
    for (uint32_t i = 0; i < N; i++)
        v[i] = (rnd() % 20000) * 1009 + 5;
    write_idx(name, COLOG_T_U32, 0, v, NULL, N, 4096);
    truth_make(t, COLOG_T_U32, v, false, NULL, N);
    free(v);
    return N;
}

/* Chunk c's first key, gap offset and cardinality offset (stream bits). */
static uint64_t ent_key(uint8_t *f, uint32_t c)
{
    return colog__get_u64(dir_ent(f, c) + 16);
}

static uint64_t ent_goff(uint8_t *f, uint32_t c)
{
    return colog__get_u64(dir_ent(f, c) + 24);
}

static uint64_t ent_coff(uint8_t *f, uint32_t c)
{
    return colog__get_u64(dir_ent(f, c) + 32);
}

/* The file byte of stream bit s. */
static size_t stream_byte(uint8_t *f, uint64_t s)
{
    return HDR + DIRENT2 * (size_t)colog__get_u32(f + 12) + 8 + (size_t)(s / 8);
}

/* A corrupted image g of the sparse file (chunk cc damaged): open works;
 * ranges and or_ranges touching only chunk 0 and the last chunk answer
 * right; the ones given fail naming the file; load fails, twice alike. */
static void expect_lazy_corrupt(uint8_t *g, size_t len, uint32_t nrows, const struct truth *t,
                                uint32_t cc, bool keys_bad, bool sum_bad, bool cards_bad,
                                const char *load_msg)
{
    fix_table("z.idx", g);
    put_file("z.idx", g, len);
    uint32_t nc = colog__get_u32(g + 12), f1 = colog__get_u32(dir_ent(g, 1));
    uint32_t fc = colog__get_u32(dir_ent(g, cc));
    cr_assert(cc >= 2 && cc + 2 < nc);
    colog_idxr_t *r = open_lazy("z.idx", COLOG_T_U32, nrows);
    /* chunk 0 and the last chunk answer */
    expect_range(r, t, t->keys[0], t->keys[f1 - 1]);
    expect_range(r, t, t->keys[1], t->keys[2]);
    expect_or_range(r, t, 0, f1);
    uint64_t last;
    cr_assert_eq(colog__idxr_last_key(r, &last), 0, "%s", colog_errmsg());
    cr_assert_eq(last, t->keys[t->n - 1]);
    uint32_t i, j;
    uint64_t sum;
    /* lo in chunk cc - 1, hi in chunk cc: both decoded */
    uint32_t fp = colog__get_u32(dir_ent(g, cc - 1));
    uint64_t lo = t->keys[fp + 1], hi = t->keys[fc + 1];
    int rc = colog__idxr_range(r, lo, hi, &i, &j, NULL);
    if (keys_bad) {
        cr_assert_eq(rc, COLOG_ECORRUPT, "range in chunks %u, %u", cc - 1, cc);
        cr_assert(errmsg_has("z.idx: key table: chunk "), "%s", colog_errmsg());
    } else {
        cr_assert_eq(rc, 0, "%s", colog_errmsg());
        cr_assert(i == fp + 1 && j == fc + 2);
    }
    rc = colog__idxr_range(r, lo, hi, &i, &j, &sum);
    cr_assert_eq(rc, keys_bad || sum_bad ? COLOG_ECORRUPT : 0, "%s", colog_errmsg());
    if (rc < 0)
        cr_assert(errmsg_has("z.idx: key table: chunk "), "%s", colog_errmsg());
    roaring_bitmap_t *b = roaring_bitmap_create();
    rc = colog__idxr_or_range(r, fp, fc + 1, b);
    roaring_bitmap_free(b);
    cr_assert_eq(rc, cards_bad ? COLOG_ECORRUPT : 0, "or_range in chunks %u, %u: %s", cc - 1, cc,
                 colog_errmsg());
    if (rc < 0)
        cr_assert(errmsg_has("z.idx: "), "%s", colog_errmsg());
    /* chunk cc alone, by or_range: cardinalities decoded, the chunk read */
    b = roaring_bitmap_create();
    rc = colog__idxr_or_range(r, fc, fc + 1, b);
    roaring_bitmap_free(b);
    cr_assert_eq(rc, cards_bad ? COLOG_ECORRUPT : 0, "or_range in chunk %u: %s", cc,
                 colog_errmsg());
    /* load fails, and again the same (load_msg NULL: a cardinality's value
     * changed, which the table alone cannot tell) */
    if (!load_msg) {
        cr_assert_eq(colog__idxr_load(r), 0, "%s", colog_errmsg());
        colog__idxr_close(r);
        return;
    }
    cr_assert_eq(colog__idxr_load(r), COLOG_ECORRUPT);
    cr_assert(errmsg_has("z.idx: ") && errmsg_has(load_msg), "%s", colog_errmsg());
    char msg[512];
    snprintf(msg, sizeof msg, "%s", colog_errmsg());
    colog_seterr(0, "-");
    cr_assert_eq(colog__idxr_load(r), COLOG_ECORRUPT);
    cr_assert_str_eq(colog_errmsg(), msg);
    /* the lazy paths still answer what they did */
    expect_range(r, t, t->keys[1], t->keys[2]);
    colog__idxr_close(r);
}

/* A damaged directory entry (first key, bit offsets) or stream inside one
 * chunk's part: caught by the lazy path touching it and by load; the other
 * chunks still answer. */
Test(index, lazy_corruption)
{
    struct truth t;
    uint32_t nrows = write_sparse("z.idx", &t);
    size_t len;
    uint8_t *f = slurp("z.idx", &len), *g = malloc(len);
    uint32_t nc = colog__get_u32(f + 12), cc = nc / 2;
    cr_assert_gt(nc, 8);
    uint32_t fc = colog__get_u32(dir_ent(f, cc));
    cr_assert_eq(ent_key(f, cc), t.keys[fc]);

    /* the first key, one more */
    memcpy(g, f, len);
    colog__put_u64(dir_ent(g, cc) + 16, ent_key(f, cc) + 1);
    expect_lazy_corrupt(g, len, nrows, &t, cc, true, true, false,
                        "key differs from the directory's first key");
    /* the gap offset, a bit further */
    memcpy(g, f, len);
    colog__put_u64(dir_ent(g, cc) + 24, ent_goff(f, cc) + 1);
    expect_lazy_corrupt(g, len, nrows, &t, cc, true, true, false,
                        "key gaps not at the directory's offset");
    /* the cardinality offset, a bit further */
    memcpy(g, f, len);
    colog__put_u64(dir_ent(g, cc) + 32, ent_coff(f, cc) + 1);
    expect_lazy_corrupt(g, len, nrows, &t, cc, false, true, true,
                        "cardinalities not at the directory's offset");
    /* a bit of the chunk's key gaps */
    memcpy(g, f, len);
    uint64_t s = (ent_goff(f, cc) + ent_goff(f, cc + 1)) / 2;
    g[stream_byte(g, s)] ^= (uint8_t)(1u << (s % 8));
    expect_lazy_corrupt(g, len, nrows, &t, cc, true, true, false, "key table: ");
    /* a bit of the chunk's cardinalities */
    memcpy(g, f, len);
    s = (ent_coff(f, cc) + ent_coff(f, cc + 1)) / 2;
    g[stream_byte(g, s)] ^= (uint8_t)(1u << (s % 8));
    /* (a value bit: the cardinalities still parse and nothing in the table
     * tells; or_range checks the chunk against them) */
    expect_lazy_corrupt(g, len, nrows, &t, cc, false, false, true, NULL);
    /* the first bit of its first cardinality's code */
    memcpy(g, f, len);
    s = ent_coff(f, cc);
    g[stream_byte(g, s)] ^= (uint8_t)(1u << (s % 8));
    expect_lazy_corrupt(g, len, nrows, &t, cc, false, false, true, "key table: ");

    /* directory entries that open rejects */
    struct {
        unsigned at;
        uint64_t val;
        const char *msg;
    } cases[] = {
        {16, 0, "first key does not follow the previous chunk's"},
        {16, 1ull << 32, "first key out of range for the column type"},
        {24, 0, "key gap offset out of order"},
        {32, 0, "cardinality offset out of order"},
        {32, UINT64_MAX, "cardinality offset past the table"},
        {24, UINT64_MAX, "key gap offset past the key gaps"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(g, f, len);
        colog__put_u64(dir_ent(g, cc) + cases[k].at, cases[k].val);
        fix_table("z.idx", g);
        put_file("z.idx", g, len);
        colog_idxr_t *r = NULL;
        cr_assert_eq(colog__idxr_open(&r, dfd, "z.idx", COLOG_T_U32, nrows, "z.idx"),
                     COLOG_ECORRUPT, "case %zu", k);
        char want[96];
        snprintf(want, sizeof want, "z.idx: chunk %u: %s", cc, cases[k].msg);
        cr_assert(errmsg_has(want), "case %zu: %s", k, colog_errmsg());
    }
    /* the last chunk's offsets past the stream, key 0 not chunk 0's */
    memcpy(g, f, len);
    colog__put_u64(dir_ent(g, nc - 1) + 32, 8 * (tab_len(g) - 8));
    fix_table("z.idx", g);
    put_file("z.idx", g, len);
    cr_assert_eq(try_open("z.idx", COLOG_T_U32, nrows), COLOG_ECORRUPT);
    cr_assert(errmsg_has("cardinality offset past the table"), "%s", colog_errmsg());
    memcpy(g, f, len);
    colog__put_u64(dir_ent(g, 0) + 16, ent_key(f, 0) + 1);
    fix_table("z.idx", g);
    put_file("z.idx", g, len);
    cr_assert_eq(try_open("z.idx", COLOG_T_U32, nrows), COLOG_ECORRUPT);
    cr_assert(errmsg_has("z.idx: chunk 0: first key differs from key 0"), "%s", colog_errmsg());

    /* load twice on the good file: the same */
    put_file("z.idx", f, len);
    colog_idxr_t *r = open_lazy("z.idx", COLOG_T_U32, nrows);
    cr_assert_eq(colog__idxr_load(r), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__idxr_load(r), 0, "%s", colog_errmsg());
    for (uint32_t k = 0; k < t.n; k++)
        cr_assert_eq(colog__idxr_key(r, k), t.keys[k]);
    colog__idxr_close(r);
    free(g);
    free(f);
    truth_free(&t);
}

/* Threads probing one reader lazily while one of them loads it. */
struct lthr {
    colog_idxr_t *r;
    const struct truth *t;
    uint64_t seed;
    bool load;
    int bad;
};

static void *lthr_main(void *arg)
{
    struct lthr *a = arg;
    const struct truth *t = a->t;
    uint64_t s = a->seed;
    for (int it = 0; it < 400; it++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if (a->load && it == 100 && colog__idxr_load(a->r) != 0)
            a->bad++;
        uint64_t lo = t->keys[(s >> 33) % t->n] - (s & 1), hi = lo + ((s >> 5) % 50000);
        uint32_t i, j;
        uint64_t sum;
        if (colog__idxr_range(a->r, lo, hi, &i, &j, &sum) != 0 || i != truth_bound(t, lo, false) ||
            j != truth_bound(t, hi, true) || sum != t->pre[j] - t->pre[i])
            a->bad++;
        roaring_bitmap_t *b = roaring_bitmap_create();
        uint32_t x = (uint32_t)((s >> 20) % t->n), y = x + 1 + (uint32_t)((s >> 50) % 8);
        y = y > t->n ? t->n : y;
        if (colog__idxr_or_range(a->r, x, y, b) != 0 ||
            roaring_bitmap_get_cardinality(b) != t->pre[y] - t->pre[x])
            a->bad++;
        roaring_bitmap_free(b);
    }
    return NULL;
}

Test(index, lazy_concurrent)
{
    struct truth t;
    uint32_t nrows = write_sparse("z.idx", &t);
    colog_idxr_t *r = open_lazy("z.idx", COLOG_T_U32, nrows);
    pthread_t th[4];
    struct lthr a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct lthr){.r = r, .t = &t, .seed = (uint64_t)i + 9, .load = i >= 2};
        cr_assert_eq(pthread_create(&th[i], NULL, lthr_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(a[i].bad, 0, "thread %d", i);
    }
    colog__idxr_close(r);
    truth_free(&t);
}
