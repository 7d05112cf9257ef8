/*
 * test_index.c — Criterion suite of colog_index.c (bitmap index files).
 *
 * Round trips check keys, cardinalities and rows against expectations worked
 * out by hand for small inputs and, for large seeded random inputs, against a
 * reference that needs no sorting: every row of key K's bitmap must hold K,
 * and the cardinalities must add up to the number of present rows (so each
 * present row is in exactly one bitmap). Layouts are checked byte by byte
 * against docs/FORMAT.md; the fix_* helpers recompute checksums from the spec
 * so that each structural check of the reader is hit on its own.
 */
#include "colog_storage_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <roaring/roaring.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC 0x58444943u /* "CIDX" */

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

static colog_idxr_t *open_idx(const char *name, colog_type_t t, uint64_t nrows)
{
    colog_idxr_t *r = NULL;
    cr_assert_eq(colog__idxr_open(&r, dfd, name, t, nrows, name), 0, "%s", colog_errmsg());
    return r;
}

static int try_open(const char *name, colog_type_t t, uint64_t nrows)
{
    colog_idxr_t *r = NULL;
    int rc = colog__idxr_open(&r, dfd, name, t, nrows, name);
    if (rc == 0)
        colog__idxr_close(r);
    else
        cr_assert_null(r, "out-parameter untouched on failure");
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

/* Spec helpers over a file image f[0..len) named name. */
static uint64_t tab_off(const uint8_t *f, size_t len)
{
    return colog__get_u64(f + len - 24);
}

static void fix_header(const char *name, uint8_t *f)
{
    colog__put_u64(f + 24, XXH3_64bits_withSeed(f, 24, seed_of(name)));
}

static void fix_table(const char *name, uint8_t *f, size_t len)
{
    uint64_t toff = tab_off(f, len);
    size_t tlen = len - 24 - toff;
    colog__put_u64(f + len - 32, XXH3_64bits_withSeed(f + toff, tlen - 8, seed_of(name)));
}

static void fix_trailer(const char *name, uint8_t *f, size_t len)
{
    colog__put_u64(f + len - 8, XXH3_64bits_withSeed(f + len - 24, 16, seed_of(name)));
}

/* Recompute key i's bitmap checksum in the table, then the table's. */
static void fix_bitmap(const char *name, uint8_t *f, size_t len, uint32_t i)
{
    uint8_t *e = f + tab_off(f, len) + 32 * (size_t)i;
    uint64_t off = colog__get_u64(e + 8);
    uint32_t blen = colog__get_u32(e + 20);
    colog__put_u64(e + 24, XXH3_64bits_withSeed(f + off, blen, seed_of(name) ^ i));
    fix_table(name, f, len);
}

/* An index file from the spec: n keys with their bitmaps' bytes, all
 * checksums right. Returns a malloc'ed image of *len bytes. */
static uint8_t *build_idx(const char *name, colog_type_t t, uint64_t nrows, uint32_t n,
                          const uint64_t *keys, const uint32_t *cards, const uint8_t *const *blobs,
                          const uint32_t *lens, size_t *len)
{
    size_t data = 0;
    for (uint32_t i = 0; i < n; i++)
        data += lens[i];
    size_t toff = 32 + data, size = toff + 32 * (size_t)n + 8 + 24;
    uint8_t *f = calloc(1, size);
    colog__put_u32(f, MAGIC);
    colog__put_u16(f + 4, 1);
    f[6] = (uint8_t)t;
    colog__put_u32(f + 8, n);
    colog__put_u64(f + 16, nrows);
    fix_header(name, f);
    size_t at = 32;
    uint64_t seed = seed_of(name);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(f + at, blobs[i], lens[i]);
        uint8_t *e = f + toff + 32 * (size_t)i;
        colog__put_u64(e, keys[i]);
        colog__put_u64(e + 8, at);
        colog__put_u32(e + 16, cards[i]);
        colog__put_u32(e + 20, lens[i]);
        colog__put_u64(e + 24, XXH3_64bits_withSeed(f + at, lens[i], seed ^ i));
        at += lens[i];
    }
    colog__put_u64(f + size - 24, toff);
    colog__put_u32(f + size - 16, n);
    colog__put_u32(f + size - 12, MAGIC);
    fix_table(name, f, size);
    fix_trailer(name, f, size);
    *len = size;
    return f;
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

/* ---------------------------------------------------------------- round trips */

/* codes {3, 1, 3, -, 0, 1, 3}: keys 0 {4}, 1 {1, 5}, 3 {0, 2, 6}; bytes from
 * the spec and RoaringFormatSpec, worked out by hand. */
Test(index, dict_layout)
{
    const uint32_t codes[7] = {3, 1, 3, 99, 0, 1, 3};
    const uint8_t valid[1] = {0x77}; /* row 3 absent */
    uint64_t size = write_idx("c.idx", COLOG_T_STRING, 5, codes, valid, 7, 8);
    cr_assert_eq(size, 220);
    size_t len;
    uint8_t *f = slurp("c.idx", &len);
    const uint8_t hdr[24] = {0x43, 0x49, 0x44, 0x58, 1, 0, 9, 0, 3, 0, 0, 0,
                             0,    0,    0,    0,    7, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(f, hdr, 24);
    cr_assert_eq(colog__get_u64(f + 24), XXH3_64bits_withSeed(f, 24, seed_of("c.idx")));
    /* cookie 12346, 1 container, key 0 card-1, offset 16, values */
    const uint8_t b0[18] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 4, 0};
    const uint8_t b1[20] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16, 0, 0, 0, 1, 0, 5, 0};
    const uint8_t b2[22] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 2,
                            0,    16,   0, 0, 0, 0, 0, 2, 0, 6, 0};
    cr_assert_arr_eq(f + 32, b0, 18);
    cr_assert_arr_eq(f + 50, b1, 20);
    cr_assert_arr_eq(f + 70, b2, 22);
    const uint64_t keys[3] = {0, 1, 3}, offs[3] = {32, 50, 70};
    const uint32_t cards[3] = {1, 2, 3}, lens[3] = {18, 20, 22};
    for (uint32_t i = 0; i < 3; i++) {
        const uint8_t *e = f + 92 + 32 * i;
        cr_assert_eq(colog__get_u64(e), keys[i]);
        cr_assert_eq(colog__get_u64(e + 8), offs[i]);
        cr_assert_eq(colog__get_u32(e + 16), cards[i]);
        cr_assert_eq(colog__get_u32(e + 20), lens[i]);
        cr_assert_eq(colog__get_u64(e + 24),
                     XXH3_64bits_withSeed(f + offs[i], lens[i], seed_of("c.idx") ^ i));
    }
    cr_assert_eq(colog__get_u64(f + 188), XXH3_64bits_withSeed(f + 92, 96, seed_of("c.idx")));
    cr_assert_eq(colog__get_u64(f + 196), 92);
    cr_assert_eq(colog__get_u32(f + 204), 3);
    cr_assert_eq(colog__get_u32(f + 208), MAGIC);
    cr_assert_eq(colog__get_u64(f + 212), XXH3_64bits_withSeed(f + 196, 16, seed_of("c.idx")));

    /* The spec builder gives the same bytes. */
    const uint8_t *blobs[3] = {b0, b1, b2};
    size_t blen;
    uint8_t *g = build_idx("c.idx", COLOG_T_STRING, 7, 3, keys, cards, blobs, lens, &blen);
    cr_assert_eq(blen, len);
    cr_assert_arr_eq(f, g, len);
    free(g);
    free(f);

    colog_idxr_t *r = open_idx("c.idx", COLOG_T_STRING, 7);
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

/* 100 consecutive rows of one key: a run container, 15 bytes. */
Test(index, run_layout)
{
    uint64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 7;
    uint64_t size = write_idx("u.idx", COLOG_T_U16, 0, v, NULL, 100, 16);
    cr_assert_eq(size, 32 + 15 + 32 + 8 + 24);
    size_t len;
    uint8_t *f = slurp("u.idx", &len);
    /* cookie 12347 with 1 container, run flags, key 0 card-1 99, 1 run (0, 99) */
    const uint8_t b[15] = {0x3b, 0x30, 0, 0, 1, 0, 0, 99, 0, 1, 0, 0, 0, 99, 0};
    cr_assert_arr_eq(f + 32, b, 15);
    free(f);
    colog_idxr_t *r = open_idx("u.idx", COLOG_T_U16, 100);
    uint32_t rows[100];
    for (uint32_t i = 0; i < 100; i++)
        rows[i] = i;
    expect_key(r, 0, 7, rows, 100);
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
}

/* i64 keys are the values' bits, in signed order. */
Test(index, i64_negative)
{
    const int64_t v[10] = {-5, 7, -1, 0, INT64_MIN, 7, INT64_MAX, -5, 42, -1000000000000};
    const uint8_t valid[2] = {0xff, 0x02}; /* row 8 absent */
    write_idx("i.idx", COLOG_T_I64, 0, v, valid, 10, 8);
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
    cr_assert_eq(size, 64);
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
    cr_assert_eq(size, 64);
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

/* Nearly every value distinct: ~1M keys, ~18 MB of bitmaps, so a range over
 * all of them is read in several chunks. */
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

/* ---------------------------------------------------------------- corruption */

/* What an index holds: keys, cards and each key's rows. */
struct snap {
    uint32_t n;
    uint64_t keys[64];
    uint64_t cards[64];
    uint32_t *rows[64];
};

static void snap_take(const colog_idxr_t *r, struct snap *s)
{
    s->n = colog__idxr_nkeys(r);
    cr_assert_leq(s->n, 64);
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t n;
        s->keys[i] = colog__idxr_key(r, i);
        s->rows[i] = rows_of(r, i, i + 1, &n);
        s->cards[i] = n;
    }
}

static void snap_free(struct snap *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        free(s->rows[i]);
}

/* Open name and read every key. 0 and the same content as s, or an error
 * (returned). Also checks that a failing or_range leaves dst alone. */
static int read_all(const char *name, colog_type_t t, uint64_t nrows, const struct snap *s)
{
    colog_idxr_t *r = NULL;
    int rc = colog__idxr_open(&r, dfd, name, t, nrows, name);
    if (rc < 0)
        return rc;
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

/* Write a u16 index whose bitmaps use array, run and (when big) bitset
 * containers; returns its row count. */
static uint32_t write_mixed(const char *name, bool big)
{
    uint32_t n = big ? 70000 : 300;
    uint64_t *v = malloc(n * sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        v[i] = i < 100 ? 7 : i % 5 == 0 ? 80 : i % 3 == 0 ? 443 : 22 + i % 4;
    uint8_t *valid = random_valid(n, 5);
    write_idx(name, COLOG_T_U16, 0, v, valid, n, 64);
    free(valid);
    free(v);
    return n;
}

/* Flip bytes of the file (every byte, or every stride-th and all of the
 * header and tail) with each mask: every flip must be caught. */
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
    uint64_t toff = tab_off(f, len);
    const uint8_t masks[3] = {0x01, 0x80, 0xff};
    size_t tried = 0;
    for (size_t at = 0; at < len; at++) {
        if (at >= 32 && at < toff && at % stride != 0)
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
    cr_assert_gt(tried, 3 * 64);
    free(f);
    snap_free(&s);
}

Test(index, flip_every_byte_small)
{
    flip_bytes(false, 1);
}

Test(index, flip_sampled_bytes_bitset)
{
    flip_bytes(true, 13);
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
        put_file("f.idx", g, len + extra);
        cr_assert_eq(read_all("f.idx", COLOG_T_U16, nrows, &s), COLOG_ECORRUPT);
        /* the original tail moved to the end still does not fit */
        memmove(g + len + extra - 56, f + len - 56, 56);
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

/* Two bitmaps of the same length swapped, with their table checksums swapped
 * too and the table checksum redone: the key-index seed still catches it. */
Test(index, bitmaps_swapped)
{
    const uint64_t v[6] = {1, 2, 1, 2, 3, 3};
    write_idx("f.idx", COLOG_T_U16, 0, v, NULL, 6, 8);
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    uint64_t toff = tab_off(f, len);
    uint8_t *e0 = f + toff, *e1 = f + toff + 32;
    cr_assert_eq(colog__get_u32(e0 + 20), colog__get_u32(e1 + 20));
    uint32_t blen = colog__get_u32(e0 + 20);
    uint8_t tmp[64];
    memcpy(tmp, f + colog__get_u64(e0 + 8), blen);
    memcpy(f + colog__get_u64(e0 + 8), f + colog__get_u64(e1 + 8), blen);
    memcpy(f + colog__get_u64(e1 + 8), tmp, blen);
    memcpy(tmp, e0 + 24, 8);
    memcpy(e0 + 24, e1 + 24, 8);
    memcpy(e1 + 24, tmp, 8);
    fix_table("f.idx", f, len);
    put_file("f.idx", f, len);
    colog_idxr_t *r = open_idx("f.idx", COLOG_T_U16, 6);
    cr_assert_eq(or_range_rc(r, 0, 1), COLOG_ECORRUPT);
    cr_assert(errmsg_has("f.idx: key 0: checksum mismatch"), "%s", colog_errmsg());
    cr_assert_eq(or_range_rc(r, 1, 2), COLOG_ECORRUPT);
    cr_assert(errmsg_has("f.idx: key 1: checksum mismatch"), "%s", colog_errmsg());
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
    struct {
        size_t at;
        uint8_t val;
        int want;
        const char *msg;
    } cases[] = {
        {0, 0x44, COLOG_ENOTCOLOG, "not a colog index file"},
        {3, 0x59, COLOG_ENOTCOLOG, "not a colog index file"},
        {4, 2, COLOG_EVERSION, "format version 2 not supported"},
        {5, 1, COLOG_EVERSION, "format version 257 not supported"},
        {6, 6, COLOG_ECORRUPT, "column type 6, expected 4"},
        {7, 1, COLOG_ECORRUPT, "reserved fields not zero"},
        {12, 1, COLOG_ECORRUPT, "reserved fields not zero"},
        {15, 0x80, COLOG_ECORRUPT, "reserved fields not zero"},
        {8, 3, COLOG_ECORRUPT, "does not"}, /* nkeys: tail moves */
        {16, 5, COLOG_ECORRUPT, "index covers 5 rows"},
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

/* Key table entries that are consistent with their checksums but not with
 * the rules (invariant 2). */
Test(index, bad_table_entries)
{
    const uint64_t v[6] = {1, 2, 1, 2, 3, 3};
    write_idx("f.idx", COLOG_T_U8, 0, v, NULL, 6, 8);
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    uint64_t toff = tab_off(f, len);
    struct {
        uint32_t key;
        size_t field;
        uint64_t val;
        int width;
        const char *msg;
    } cases[] = {
        {1, 0, 1, 8, "key 1: keys not strictly ascending"},
        {1, 0, 0, 8, "key 1: keys not strictly ascending"},
        {2, 0, 256, 8, "key 2: key out of range"},
        {0, 8, 33, 8, "key 0: bitmap offset out of sequence"},
        {1, 16, 0, 4, "key 1: empty bitmap"},
        {2, 16, 5, 4, "cardinalities add up to more than the rows"},
        {2, 20, 0, 4, "key 2: bitmap length out of bounds"},
        {2, 20, 1000, 4, "key 2: bitmap length out of bounds"},
        {1, 20, 19, 4, "key 2: bitmap offset out of sequence"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *g = malloc(len);
        memcpy(g, f, len);
        uint8_t *e = g + toff + 32 * cases[c].key + cases[c].field;
        if (cases[c].width == 8)
            colog__put_u64(e, cases[c].val);
        else
            colog__put_u32(e, (uint32_t)cases[c].val);
        fix_table("f.idx", g, len);
        put_file("f.idx", g, len);
        cr_assert_eq(try_open("f.idx", COLOG_T_U8, 6), COLOG_ECORRUPT, "case %zu", c);
        cr_assert(errmsg_has(cases[c].msg), "case %zu: %s", c, colog_errmsg());
        free(g);
    }
    /* a table count that does not match the trailer */
    uint8_t *g = malloc(len);
    memcpy(g, f, len);
    colog__put_u32(g + len - 16, 2);
    fix_trailer("f.idx", g, len);
    put_file("f.idx", g, len);
    cr_assert_eq(try_open("f.idx", COLOG_T_U8, 6), COLOG_ECORRUPT);
    cr_assert(errmsg_has("trailer does not match the header"), "%s", colog_errmsg());
    free(g);
    free(f);
}

/* A one-key file holding blob as its bitmap (card rows), all checksums right. */
static int try_blob(const uint8_t *blob, uint32_t blen, uint32_t card, uint64_t nrows)
{
    const uint64_t key = 9;
    size_t len;
    uint8_t *f = build_idx("k.idx", COLOG_T_U32, nrows, 1, &key, &card, &blob, &blen, &len);
    put_file("k.idx", f, len);
    free(f);
    colog_idxr_t *r = open_idx("k.idx", COLOG_T_U32, nrows);
    int rc = or_range_rc(r, 0, 1);
    colog__idxr_close(r);
    return rc;
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

    /* A written file whose bitmap is edited, checksums redone. */
    const uint64_t v[6] = {1, 2, 1, 2, 3, 3};
    write_idx("f.idx", COLOG_T_U16, 0, v, NULL, 6, 8);
    size_t len;
    uint8_t *f = slurp("f.idx", &len);
    /* key 0 = {0, 2}: array values at bitmap offset 16 */
    cr_assert_eq(colog__get_u16(f + 32 + 18), 2);
    colog__put_u16(f + 32 + 18, 200);
    fix_bitmap("f.idx", f, len, 0);
    put_file("f.idx", f, len);
    colog_idxr_t *r = open_idx("f.idx", COLOG_T_U16, 6);
    cr_assert_eq(or_range_rc(r, 0, 1), COLOG_ECORRUPT);
    cr_assert(errmsg_has("key 0: row 200 out of range (6 rows)"), "%s", colog_errmsg());
    cr_assert_eq(or_range_rc(r, 1, 3), 0);
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
