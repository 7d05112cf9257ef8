/*
 * test_colfile.c — Criterion suite of colog_colfile.c (column files).
 *
 * Round trips check values computed by hand (or by a closed formula over the
 * row number), byte-layout tests check the file against docs/FORMAT.md, and a
 * small independent writer (build_col) produces files from the spec so that
 * the reader's checks can be hit one at a time with every checksum correct.
 * The _corrupt tests flip bytes and truncate files and require an error,
 * never a crash and never silently different data.
 */
#include "colog_enc.h"
#include "colog_storage_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static char tdir[64];
static int dfd = -1;

static void setup(void)
{
    strcpy(tdir, "/tmp/colog-colfile-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    dfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);
}

static void teardown(void)
{
    close(dfd);
    cr_assert_eq(colog__rm_rf(AT_FDCWD, tdir), 0);
}

TestSuite(colfile, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- helpers */

static uint64_t write_col_in(int dir, const char *name, colog_type_t type, const void *vals,
                             const uint8_t *valid, uint32_t n)
{
    colog_colw_t *w = NULL;
    uint64_t size = 0;
    cr_assert_eq(colog__colw_open(&w, dir, name, type), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__colw_append(w, vals, valid, n), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__colw_close(w, &size, NULL, NULL), 0, "%s", colog_errmsg());
    return size;
}

static uint64_t write_col(const char *name, colog_type_t type, const void *vals,
                          const uint8_t *valid, uint32_t n)
{
    return write_col_in(dfd, name, type, vals, valid, n);
}

static colog_colr_t *open_col(const char *name, colog_type_t type)
{
    colog_colr_t *r = NULL;
    cr_assert_eq(colog__colr_open(&r, dfd, name, type, name), 0, "%s", colog_errmsg());
    return r;
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

static uint64_t seed_of(const char *name)
{
    return XXH3_64bits(name, strlen(name));
}

/* Open and read every block: 0 if all of it succeeds, else the first error. */
static int try_read_all(const char *name, colog_type_t type)
{
    colog_colr_t *r;
    int rc = colog__colr_open(&r, dfd, name, type, name);
    if (rc < 0)
        return rc;
    colog_block_t b;
    for (uint32_t i = 0; i < colog__colr_nblocks(r) && rc == 0; i++)
        rc = colog__colr_read(r, i, &b);
    colog__colr_close(r);
    return rc;
}

/* Decompress the payload of the block whose header is at p. */
static size_t block_raw(const uint8_t *p, uint8_t *raw, size_t cap)
{
    uint32_t rlen = colog__get_u32(p + 16), clen = colog__get_u32(p + 20);
    int k = LZ4_decompress_safe((const char *)p + 32, (char *)raw, (int)clen, (int)cap);
    cr_assert_eq((uint32_t)k, rlen);
    return (size_t)k;
}

/* ---------------------------------------------------------------- spec writer */

/* One block for build_col: a raw payload and the footer facts about it. */
struct tblk {
    uint8_t enc, flags;
    uint32_t nrows, nvalid;
    uint64_t min, max;
    const uint8_t *raw;
    size_t rawlen;
};

/* Write a column file from the format spec (docs/FORMAT.md), independently of
 * colog_colfile.c, with every checksum right. */
static void build_col(const char *name, uint8_t type, const struct tblk *b, uint32_t nb,
                      uint64_t total)
{
    uint64_t seed = seed_of(name);
    size_t cap = 80 + 48 * (size_t)nb;
    for (uint32_t i = 0; i < nb; i++)
        cap += 32 + (size_t)LZ4_compressBound((int)b[i].rawlen);
    uint8_t *f = calloc(1, cap);
    colog__put_u32(f, 0x314C4F43u);
    colog__put_u16(f + 4, 1);
    f[6] = type;
    colog__put_u64(f + 24, XXH3_64bits_withSeed(f, 24, seed));
    size_t off = 32;
    uint8_t *foot = malloc(24 + 48 * (size_t)nb);
    colog__put_u32(foot, 0x46434F43u);
    colog__put_u32(foot + 4, nb);
    colog__put_u64(foot + 8, total);
    for (uint32_t i = 0; i < nb; i++) {
        uint8_t *h = f + off;
        int clen = LZ4_compress_default((const char *)b[i].raw, (char *)h + 32, (int)b[i].rawlen,
                                        LZ4_compressBound((int)b[i].rawlen));
        cr_assert_gt(clen, 0);
        colog__put_u32(h, 0x4B4C4243u);
        colog__put_u32(h + 4, i);
        colog__put_u32(h + 8, b[i].nrows);
        h[12] = b[i].enc;
        h[13] = b[i].flags;
        colog__put_u32(h + 16, (uint32_t)b[i].rawlen);
        colog__put_u32(h + 20, (uint32_t)clen);
        uint64_t sum = XXH3_64bits_withSeed(h, 32 + (size_t)clen, seed ^ i);
        colog__put_u64(h + 24, sum);
        uint8_t *e = foot + 16 + 48 * (size_t)i;
        colog__put_u64(e, off);
        colog__put_u32(e + 8, 32 + (uint32_t)clen);
        colog__put_u32(e + 12, b[i].nrows);
        colog__put_u32(e + 16, b[i].nvalid);
        colog__put_u32(e + 20, 0);
        colog__put_u64(e + 24, b[i].min);
        colog__put_u64(e + 32, b[i].max);
        colog__put_u64(e + 40, sum);
        off += 32 + (size_t)clen;
    }
    size_t flen = 24 + 48 * (size_t)nb;
    colog__put_u64(foot + flen - 8, XXH3_64bits_withSeed(foot, flen - 8, seed));
    memcpy(f + off, foot, flen);
    uint8_t *t = f + off + flen;
    colog__put_u64(t, off);
    colog__put_u32(t + 8, (uint32_t)flen);
    colog__put_u32(t + 12, 0x46434F43u);
    colog__put_u64(t + 16, XXH3_64bits_withSeed(t, 16, seed));
    put_file(name, f, off + flen + 24);
    free(foot);
    free(f);
}

/* A FOR payload: base, width, 7 zero bytes, then the packed words given. */
static size_t for_raw(uint8_t *out, uint64_t base, uint8_t width, const uint64_t *words,
                      size_t nwords)
{
    memset(out, 0, 16);
    colog__put_u64(out, base);
    out[8] = width;
    for (size_t i = 0; i < nwords; i++)
        colog__put_u64(out + 16 + 8 * i, words[i]);
    return 16 + 8 * nwords;
}

/* ---------------------------------------------------------------- layout */

Test(colfile, u16_layout)
{
    const uint64_t v[3] = {1, 2, 3};
    colog__colf_tune(COLOG_ENC_FOR, 0, false); /* the writer would choose VARINT here */
    uint64_t size = write_col("a.col", COLOG_T_U16, v, NULL, 3);
    colog__colf_tune(0, 0, false);
    size_t len;
    uint8_t *f = slurp("a.col", &len);
    cr_assert_eq(len, size);
    uint64_t seed = seed_of("a.col");

    /* header: "COL1", version 1, type 4 (u16), flags 0, 16 reserved zero bytes */
    const uint8_t hdr[24] = {'C', 'O', 'L', '1', 1, 0, 4, 0};
    cr_assert_arr_eq(f, hdr, 24);
    cr_assert_eq(colog__get_u64(f + 24), XXH3_64bits_withSeed(f, 24, seed));

    /* block 0: "CBLK", number 0, 3 rows, FOR (1), no nulls, raw 24 bytes */
    const uint8_t *h = f + 32;
    const uint8_t bh[20] = {'C', 'B', 'L', 'K', 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 24, 0, 0, 0};
    cr_assert_arr_eq(h, bh, 20);
    uint32_t clen = colog__get_u32(h + 20);
    uint8_t tmp[32 + 64];
    memcpy(tmp, h, 32 + clen);
    memset(tmp + 24, 0, 8);
    cr_assert_eq(colog__get_u64(h + 24), XXH3_64bits_withSeed(tmp, 32 + clen, seed ^ 0));

    /* raw: base 1, width 2, then offsets 0,1,2 at 2 bits: 0 | 1<<2 | 2<<4 = 0x24 */
    uint8_t raw[64];
    cr_assert_eq(block_raw(h, raw, sizeof raw), 24);
    const uint8_t want[24] = {1, 0, 0, 0, 0,    0, 0, 0, 2, 0, 0, 0,
                              0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(raw, want, 24);

    /* footer: "COCF", 1 block, 3 rows; entry offset 32, length, 3, 3, 0, min 1, max 3, sum */
    const uint8_t *ft = f + 64 + clen;
    cr_assert_eq(colog__get_u32(ft), 0x46434F43u);
    cr_assert_eq(colog__get_u32(ft + 4), 1);
    cr_assert_eq(colog__get_u64(ft + 8), 3);
    cr_assert_eq(colog__get_u64(ft + 16), 32);
    cr_assert_eq(colog__get_u32(ft + 24), 32 + clen);
    cr_assert_eq(colog__get_u32(ft + 28), 3);
    cr_assert_eq(colog__get_u32(ft + 32), 3);
    cr_assert_eq(colog__get_u32(ft + 36), 0);
    cr_assert_eq(colog__get_u64(ft + 40), 1);
    cr_assert_eq(colog__get_u64(ft + 48), 3);
    cr_assert_eq(colog__get_u64(ft + 56), colog__get_u64(h + 24));
    cr_assert_eq(colog__get_u64(ft + 64), XXH3_64bits_withSeed(ft, 64, seed));

    /* trailer: footer offset, footer length 72, "COCF", checksum; file ends there */
    const uint8_t *t = ft + 72;
    cr_assert_eq(colog__get_u64(t), 64 + clen);
    cr_assert_eq(colog__get_u32(t + 8), 72);
    cr_assert_eq(colog__get_u32(t + 12), 0x46434F43u);
    cr_assert_eq(colog__get_u64(t + 16), XXH3_64bits_withSeed(t, 16, seed));
    cr_assert_eq(len, 64 + clen + 72 + 24);
    free(f);
}

Test(colfile, time_delta_layout)
{
    /* 1000, 1010, 1015: first 1000, deltas 10 and 5, base 5, offsets 5 and 0 at
     * width 3: word 5. */
    const int64_t v[3] = {1000, 1010, 1015};
    colog__colf_tune(COLOG_ENC_DELTA, 0, false);
    write_col("t.col", COLOG_T_TIME, v, NULL, 3);
    size_t len;
    uint8_t *f = slurp("t.col", &len);
    cr_assert_eq(f[32 + 12], 2, "time uses DELTA (2)");
    uint8_t raw[64];
    cr_assert_eq(block_raw(f + 32, raw, sizeof raw), 32);
    const uint8_t want[32] = {0xe8, 3, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
                              3,    0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(raw, want, 32);
    free(f);

    /* 10, 5, 7: deltas -5 and +2, base -5, offsets 0 and 7 at width 3: 7 << 3. */
    const int64_t d[3] = {10, 5, 7};
    write_col("d.col", COLOG_T_TIME, d, NULL, 3);
    f = slurp("d.col", &len);
    cr_assert_eq(block_raw(f + 32, raw, sizeof raw), 32);
    cr_assert_eq(colog__get_u64(raw), 10);
    cr_assert_eq((int64_t)colog__get_u64(raw + 8), -5);
    cr_assert_eq(raw[16], 3);
    cr_assert_eq(colog__get_u64(raw + 24), 56);
    free(f);

    colog__colf_tune(0, 0, false);
    colog_colr_t *r = open_col("d.col", COLOG_T_TIME);
    colog_block_t b;
    cr_assert_eq(colog__colr_read(r, 0, &b), 0, "%s", colog_errmsg());
    cr_assert_eq(b.v.i64[0], 10);
    cr_assert_eq(b.v.i64[1], 5);
    cr_assert_eq(b.v.i64[2], 7);
    colog_zone_t z;
    cr_assert_eq(colog__colr_zone(r, 0, &z), 0);
    cr_assert_eq(z.min.i, 5);
    cr_assert_eq(z.max.i, 10);
    colog__colr_close(r);
}

Test(colfile, nulls_layout)
{
    /* u8 7, absent (255), 9, absent (0): bitset 0b0101; absent values become the
     * minimum 7, so offsets 0,0,2,0 at width 2: 2 << 4 = 0x20. */
    const uint64_t v[4] = {7, 255, 9, 0};
    const uint8_t valid[1] = {0x05};
    colog__colf_tune(COLOG_ENC_FOR, 0, false);
    write_col("n.col", COLOG_T_U8, v, valid, 4);
    colog__colf_tune(0, 0, false);
    size_t len;
    uint8_t *f = slurp("n.col", &len);
    cr_assert_eq(f[32 + 13], 1, "has-nulls flag");
    uint8_t raw[64];
    cr_assert_eq(block_raw(f + 32, raw, sizeof raw), 25);
    const uint8_t want[25] = {0x05, 7, 0, 0, 0,    0, 0, 0, 0, 2, 0, 0, 0,
                              0,    0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(raw, want, 25);
    free(f);

    colog_colr_t *r = open_col("n.col", COLOG_T_U8);
    colog_zone_t z;
    cr_assert_eq(colog__colr_zone(r, 0, &z), 0);
    cr_assert_eq(z.nrows, 4);
    cr_assert_eq(z.nvalid, 2);
    cr_assert_eq(z.min.u, 7);
    cr_assert_eq(z.max.u, 9);
    colog_block_t b;
    cr_assert_eq(colog__colr_read(r, 0, &b), 0, "%s", colog_errmsg());
    cr_assert_eq(b.type, COLOG_T_U8);
    cr_assert_eq(b.n, 4);
    cr_assert_not_null(b.valid);
    cr_assert(colog_valid(b.valid, 0) && !colog_valid(b.valid, 1));
    cr_assert(colog_valid(b.valid, 2) && !colog_valid(b.valid, 3));
    cr_assert_eq(b.v.u64[0], 7);
    cr_assert_eq(b.v.u64[2], 9);
    colog__colr_close(r);
}

/* ---------------------------------------------------------------- round trips */

/* Write n values of type t, read block 0 back, check the zone. */
static colog_colr_t *roundtrip(const char *name, colog_type_t t, const void *v, uint32_t n,
                               colog_block_t *b, colog_zone_t *z)
{
    write_col(name, t, v, NULL, n);
    colog_colr_t *r = open_col(name, t);
    cr_assert_eq(colog__colr_nblocks(r), 1);
    cr_assert_eq(colog__colr_nrows(r), n);
    cr_assert_eq(colog__colr_read(r, 0, b), 0, "%s", colog_errmsg());
    cr_assert_eq(b->n, n);
    cr_assert_null(b->valid);
    cr_assert_eq(colog__colr_zone(r, 0, z), 0);
    cr_assert_eq(z->nrows, n);
    cr_assert_eq(z->nvalid, n);
    return r;
}

Test(colfile, unsigned_extremes)
{
    colog_block_t b;
    colog_zone_t z;
    const uint64_t u8[3] = {0, 255, 17};
    colog_colr_t *r = roundtrip("u8.col", COLOG_T_U8, u8, 3, &b, &z);
    cr_assert_arr_eq(b.v.u64, u8, sizeof u8);
    cr_assert_eq(z.min.u, 0);
    cr_assert_eq(z.max.u, 255);
    colog__colr_close(r);

    const uint64_t u16[2] = {65535, 0};
    r = roundtrip("u16.col", COLOG_T_U16, u16, 2, &b, &z);
    cr_assert_arr_eq(b.v.u64, u16, sizeof u16);
    cr_assert_eq(z.max.u, 65535);
    colog__colr_close(r);

    const uint64_t u32[3] = {UINT32_MAX, 1, 0};
    r = roundtrip("u32.col", COLOG_T_U32, u32, 3, &b, &z);
    cr_assert_arr_eq(b.v.u64, u32, sizeof u32);
    cr_assert_eq(z.max.u, UINT32_MAX);
    colog__colr_close(r);

    const uint64_t u64[3] = {0, UINT64_MAX, 12345};
    r = roundtrip("u64.col", COLOG_T_U64, u64, 3, &b, &z);
    cr_assert_arr_eq(b.v.u64, u64, sizeof u64);
    cr_assert_eq(z.min.u, 0);
    cr_assert_eq(z.max.u, UINT64_MAX);
    colog__colr_close(r);

    const uint64_t big[2] = {UINT64_MAX - 1, UINT64_MAX};
    r = roundtrip("big.col", COLOG_T_U64, big, 2, &b, &z);
    cr_assert_arr_eq(b.v.u64, big, sizeof big);
    colog__colr_close(r);
}

Test(colfile, signed_extremes)
{
    colog_block_t b;
    colog_zone_t z;
    const int64_t i64[4] = {INT64_MIN, INT64_MAX, -1, 0};
    colog_colr_t *r = roundtrip("i.col", COLOG_T_I64, i64, 4, &b, &z);
    cr_assert_arr_eq(b.v.i64, i64, sizeof i64);
    cr_assert_eq(z.min.i, INT64_MIN);
    cr_assert_eq(z.max.i, INT64_MAX);
    colog__colr_close(r);

    /* deltas that wrap around 2^64 */
    const int64_t t[6] = {INT64_MAX, INT64_MIN, 0, -1, INT64_MAX, INT64_MIN};
    r = roundtrip("t.col", COLOG_T_TIME, t, 6, &b, &z);
    cr_assert_arr_eq(b.v.i64, t, sizeof t);
    cr_assert_eq(z.min.i, INT64_MIN);
    cr_assert_eq(z.max.i, INT64_MAX);
    colog__colr_close(r);

    const int64_t neg[3] = {-5, -7, -6};
    r = roundtrip("neg.col", COLOG_T_I64, neg, 3, &b, &z);
    cr_assert_arr_eq(b.v.i64, neg, sizeof neg);
    cr_assert_eq(z.min.i, -7);
    cr_assert_eq(z.max.i, -5);
    colog__colr_close(r);

    const int64_t one[1] = {1772366400000000};
    r = roundtrip("one.col", COLOG_T_TIME, one, 1, &b, &z);
    cr_assert_eq(b.v.i64[0], 1772366400000000);
    cr_assert_eq(z.min.i, 1772366400000000);
    cr_assert_eq(z.max.i, 1772366400000000);
    colog__colr_close(r);
}

Test(colfile, f64_specials)
{
    colog_block_t b;
    colog_zone_t z;
    const double v[6] = {NAN, -INFINITY, 1.5, INFINITY, -0.0, 5e-324};
    colog_colr_t *r = roundtrip("f.col", COLOG_T_F64, v, 6, &b, &z);
    cr_assert_arr_eq(b.v.f64, v, sizeof v, "bit-exact, NaN and -0.0 included");
    cr_assert(isinf(z.min.f) && z.min.f < 0, "NaN ignored by the zone");
    cr_assert(isinf(z.max.f) && z.max.f > 0);
    colog__colr_close(r);

    const double nan2[2] = {NAN, -NAN};
    r = roundtrip("nan.col", COLOG_T_F64, nan2, 2, &b, &z);
    cr_assert_arr_eq(b.v.f64, nan2, sizeof nan2);
    cr_assert(isnan(z.min.f) && isnan(z.max.f), "all NaN: zone is NaN");
    colog__colr_close(r);

    /* absent values do not count: zone of {1.0, 2.0} */
    const double g[3] = {1.0, 5e300, 2.0};
    const uint8_t valid[1] = {0x05};
    write_col("g.col", COLOG_T_F64, g, valid, 3);
    r = open_col("g.col", COLOG_T_F64);
    cr_assert_eq(colog__colr_read(r, 0, &b), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__colr_zone(r, 0, &z), 0);
    cr_assert_eq(z.nvalid, 2);
    cr_assert_eq(z.min.f, 1.0);
    cr_assert_eq(z.max.f, 2.0);
    cr_assert_eq(b.v.f64[0], 1.0);
    cr_assert_eq(b.v.f64[2], 2.0);
    cr_assert(!colog_valid(b.valid, 1));
    colog__colr_close(r);
}

Test(colfile, dict_codes)
{
    colog_block_t b;
    colog_zone_t z;
    const uint32_t ip[3] = {0, UINT32_MAX, 7};
    colog_colr_t *r = roundtrip("ip.col", COLOG_T_IP, ip, 3, &b, &z);
    cr_assert_arr_eq(b.v.code, ip, sizeof ip);
    cr_assert_eq(z.min.u, 0);
    cr_assert_eq(z.max.u, UINT32_MAX);
    colog__colr_close(r);

    const uint32_t s[4] = {3, 3, 3, 3};
    colog__colf_tune(COLOG_ENC_FOR, 0, false);
    r = roundtrip("s.col", COLOG_T_STRING, s, 4, &b, &z);
    colog__colf_tune(0, 0, false);
    cr_assert_arr_eq(b.v.code, s, sizeof s);
    cr_assert_eq(z.min.u, 3);
    cr_assert_eq(z.max.u, 3);
    colog__colr_close(r);

    /* a constant block is stored at width 0: raw is the 16-byte frame only */
    size_t len;
    uint8_t *f = slurp("s.col", &len);
    cr_assert_eq(colog__get_u32(f + 32 + 16), 16);
    free(f);
}

Test(colfile, every_width)
{
    /* offsets spanning exactly [0, 2^w - 1] must be packed at width w */
    uint64_t v[1000];
    colog__colf_tune(COLOG_ENC_FOR, 0, false);
    for (unsigned w = 0; w <= 64; w++) {
        uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1, base = w == 64 ? 0 : 12345;
        for (uint64_t i = 0; i < 1000; i++)
            v[i] = base + ((i * 0x9E3779B97F4A7C15ull) & mask);
        v[0] = base;
        v[1] = base + mask;
        char name[32];
        snprintf(name, sizeof name, "w%u.col", w);
        write_col(name, COLOG_T_U64, v, NULL, 1000);
        size_t len;
        uint8_t *f = slurp(name, &len);
        uint8_t *raw = malloc(16 + 8 * 1000);
        cr_assert_eq(block_raw(f + 32, raw, 16 + 8 * 1000), 16 + (1000 * w + 63) / 64 * 8);
        cr_assert_eq(colog__get_u64(raw), base);
        cr_assert_eq(raw[8], w);
        colog_colr_t *r = open_col(name, COLOG_T_U64);
        colog_block_t b;
        cr_assert_eq(colog__colr_read(r, 0, &b), 0, "%s", colog_errmsg());
        for (uint32_t i = 0; i < 1000; i++)
            cr_assert_eq(b.v.u64[i], v[i], "width %u row %u", w, i);
        colog__colr_close(r);
        free(raw);
        free(f);
    }
    colog__colf_tune(0, 0, false);
}

Test(colfile, all_absent)
{
    uint64_t v[10];
    for (int i = 0; i < 10; i++)
        v[i] = 1000 + (uint64_t)i;
    const uint8_t valid[2] = {0, 0};
    write_col("x.col", COLOG_T_U32, v, valid, 10);
    colog_colr_t *r = open_col("x.col", COLOG_T_U32);
    colog_zone_t z;
    cr_assert_eq(colog__colr_zone(r, 0, &z), 0);
    cr_assert_eq(z.nrows, 10);
    cr_assert_eq(z.nvalid, 0);
    colog_block_t b;
    cr_assert_eq(colog__colr_read(r, 0, &b), 0, "%s", colog_errmsg());
    cr_assert_not_null(b.valid);
    for (uint32_t i = 0; i < 10; i++)
        cr_assert(!colog_valid(b.valid, i));
    colog__colr_close(r);
}

Test(colfile, exact_block)
{
    uint32_t n = COLOG_BLOCK_ROWS;
    uint64_t *v = malloc(n * sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        v[i] = (uint64_t)i * 3 % 1000;
    write_col("e.col", COLOG_T_U32, v, NULL, n);
    colog_colr_t *r = open_col("e.col", COLOG_T_U32);
    cr_assert_eq(colog__colr_nblocks(r), 1);
    cr_assert_eq(colog__colr_nrows(r), 65536);
    colog_zone_t z;
    cr_assert_eq(colog__colr_zone(r, 0, &z), 0);
    cr_assert_eq(z.nrows, 65536);
    cr_assert_eq(z.min.u, 0);
    cr_assert_eq(z.max.u, 999); /* 3 is prime to 1000: every residue occurs */
    colog_block_t b;
    cr_assert_eq(colog__colr_read(r, 0, &b), 0, "%s", colog_errmsg());
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(b.v.u64[i], (uint64_t)i * 3 % 1000, "row %u", i);
    cr_assert_eq(colog__colr_read(r, 1, &b), COLOG_EINVAL);
    colog__colr_close(r);
    free(v);
}

static int64_t tval(uint64_t i)
{
    return 1772366400000000LL + (int64_t)i * 7 - (int64_t)(i % 3) * 5;
}

static bool tvalid(uint64_t i)
{
    return i % 5 != 0;
}

Test(colfile, partial_last_block_chunked)
{
    /* 3 full blocks + 5 rows, appended 1000 rows at a time; rows i % 5 == 0 absent */
    const uint64_t n = 3 * 65536 + 5;
    colog_colw_t *w;
    cr_assert_eq(colog__colw_open(&w, dfd, "c.col", COLOG_T_TIME), 0);
    int64_t chunk[1000];
    uint8_t valid[125];
    for (uint64_t at = 0; at < n; at += 1000) {
        uint32_t k = (uint32_t)(n - at < 1000 ? n - at : 1000);
        memset(valid, 0, sizeof valid);
        for (uint32_t i = 0; i < k; i++) {
            chunk[i] = tvalid(at + i) ? tval(at + i) : -123456789;
            if (tvalid(at + i))
                valid[i >> 3] |= (uint8_t)(1u << (i & 7));
        }
        cr_assert_eq(colog__colw_append(w, chunk, valid, k), 0, "%s", colog_errmsg());
        cr_assert_eq(colog__colw_append(w, chunk, valid, 0), 0);
    }
    uint64_t size, xxh;
    uint8_t sha[32];
    cr_assert_eq(colog__colw_close(w, &size, &xxh, sha), 0, "%s", colog_errmsg());

    colog_colr_t *r = open_col("c.col", COLOG_T_TIME);
    cr_assert_eq(colog__colr_nblocks(r), 4);
    cr_assert_eq(colog__colr_nrows(r), n);
    for (uint32_t blk = 0; blk < 4; blk++) {
        uint64_t first = (uint64_t)blk * 65536, rows = blk < 3 ? 65536 : 5;
        uint32_t nvalid = 0;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (uint64_t i = first; i < first + rows; i++) {
            if (!tvalid(i))
                continue;
            nvalid++;
            lo = tval(i) < lo ? tval(i) : lo;
            hi = tval(i) > hi ? tval(i) : hi;
        }
        colog_zone_t z;
        cr_assert_eq(colog__colr_zone(r, blk, &z), 0);
        cr_assert_eq(z.nrows, rows);
        cr_assert_eq(z.nvalid, nvalid);
        cr_assert_eq(z.min.i, lo);
        cr_assert_eq(z.max.i, hi);
        colog_block_t b;
        cr_assert_eq(colog__colr_read(r, blk, &b), 0, "%s", colog_errmsg());
        cr_assert_eq(b.n, rows);
        for (uint32_t i = 0; i < rows; i++) {
            cr_assert_eq(colog_valid(b.valid, i), tvalid(first + i), "row %llu",
                         (unsigned long long)(first + i));
            if (tvalid(first + i))
                cr_assert_eq(b.v.i64[i], tval(first + i));
        }
    }
    /* block 0: 65536 rows, of which 13108 (0, 5, ..., 65535) absent */
    colog_zone_t z0;
    cr_assert_eq(colog__colr_zone(r, 0, &z0), 0);
    cr_assert_eq(z0.nvalid, 52428);
    colog__colr_close(r);
}

Test(colfile, zero_rows)
{
    colog_colw_t *w;
    uint64_t size;
    cr_assert_eq(colog__colw_open(&w, dfd, "z.col", COLOG_T_F64), 0);
    cr_assert_eq(colog__colw_close(w, &size, NULL, NULL), 0, "%s", colog_errmsg());
    cr_assert_eq(size, 32 + 24 + 24);
    colog_colr_t *r = open_col("z.col", COLOG_T_F64);
    cr_assert_eq(colog__colr_nblocks(r), 0);
    cr_assert_eq(colog__colr_nrows(r), 0);
    colog_zone_t z;
    colog_block_t b;
    cr_assert_eq(colog__colr_zone(r, 0, &z), COLOG_EINVAL);
    cr_assert_eq(colog__colr_read(r, 0, &b), COLOG_EINVAL);
    colog__colr_close(r);
}

/* read_buf puts a block's arrays in the caller's buffer: a read into another
 * buffer, or through colr_read, leaves them alone; one buffer serves files of
 * other types and sizes (it grows); a failed read leaves *out untouched. */
Test(colfile, read_buf_independent)
{
    uint32_t n = 2 * 65536 + 7;
    uint64_t *v = malloc(n * sizeof *v);
    for (uint32_t i = 0; i < n; i++)
        v[i] = 3 * (uint64_t)i + 1;
    write_col("u.col", COLOG_T_U64, v, NULL, n);
    const uint32_t c[3] = {9, 0, 4};
    write_col("s.col", COLOG_T_STRING, c, NULL, 3);
    colog_colr_t *r = open_col("u.col", COLOG_T_U64), *s = open_col("s.col", COLOG_T_STRING);
    colog_rbuf_t *a = colog_rbuf_new(), *b = colog_rbuf_new();
    cr_assert(a && b);
    colog_block_t ba, bb, bs, br;
    cr_assert_eq(colog__colr_read_buf(s, 0, a, &bs), 0, "%s", colog_errmsg());
    cr_assert_arr_eq(bs.v.code, c, sizeof c);
    cr_assert_eq(colog__colr_read_buf(r, 0, a, &ba), 0, "%s", colog_errmsg()); /* grows */
    cr_assert_eq(colog__colr_read_buf(r, 2, b, &bb), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__colr_read(r, 1, &br), 0, "%s", colog_errmsg());
    cr_assert_eq(ba.n, 65536);
    cr_assert_eq(bb.n, 7);
    cr_assert_eq(br.n, 65536);
    for (uint32_t i = 0; i < 65536; i++) {
        cr_assert_eq(ba.v.u64[i], 3 * (uint64_t)i + 1);
        cr_assert_eq(br.v.u64[i], 3 * (uint64_t)(65536 + i) + 1);
    }
    for (uint32_t i = 0; i < 7; i++)
        cr_assert_eq(bb.v.u64[i], 3 * (uint64_t)(131072 + i) + 1);
    colog_block_t keep = bb;
    cr_assert_eq(colog__colr_read_buf(r, 3, b, &bb), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "u.col: block 3 out of range") != NULL, "%s", colog_errmsg());
    cr_assert_arr_eq(&bb, &keep, sizeof bb);
    cr_assert_eq(colog__colr_read_buf(NULL, 0, b, &bb), COLOG_EINVAL);
    cr_assert_eq(colog__colr_read_buf(r, 0, NULL, &bb), COLOG_EINVAL);
    colog_rbuf_free(a);
    colog_rbuf_free(b);
    colog__colr_close(r);
    colog__colr_close(s);
    free(v);
}

Test(colfile, hashes_of_file)
{
    uint64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = (uint64_t)i * i;
    colog_colw_t *w;
    uint64_t size, xxh;
    uint8_t sha[32];
    cr_assert_eq(colog__colw_open(&w, dfd, "h.col", COLOG_T_U64), 0);
    cr_assert_eq(colog__colw_append(w, v, NULL, 100), 0);
    cr_assert_eq(colog__colw_close(w, &size, &xxh, sha), 0);
    size_t len;
    uint8_t *f = slurp("h.col", &len);
    cr_assert_eq(size, len);
    cr_assert_eq(xxh, XXH3_64bits(f, len));
    uint8_t want[32];
    crypto_hash_sha256(want, f, len);
    cr_assert_arr_eq(sha, want, 32);
    free(f);
}

Test(colfile, writer_errors)
{
    colog_colw_t *w;
    const uint64_t v[2] = {1, 256};
    cr_assert_eq(colog__colw_open(&w, dfd, "r.col", COLOG_T_U8), 0);
    cr_assert_eq(colog__colw_append(w, v, NULL, 2), COLOG_ERANGE);
    cr_assert(strstr(colog_errmsg(), "r.col") != NULL);
    const uint8_t valid[1] = {0x01}; /* the 256 is absent: fine */
    cr_assert_eq(colog__colw_append(w, v, valid, 2), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__colw_append(w, NULL, NULL, 1), COLOG_EINVAL);
    cr_assert_eq(colog__colw_close(w, NULL, NULL, NULL), 0);
    colog_colr_t *r = open_col("r.col", COLOG_T_U8);
    colog_block_t b;
    cr_assert_eq(colog__colr_read(r, 0, &b), 0);
    cr_assert_eq(b.n, 2, "the rejected append added nothing");
    cr_assert_eq(b.v.u64[0], 1);
    cr_assert(!colog_valid(b.valid, 1));
    colog__colr_close(r);

    const uint64_t w16[1] = {70000};
    cr_assert_eq(colog__colw_open(&w, dfd, "r16.col", COLOG_T_U16), 0);
    cr_assert_eq(colog__colw_append(w, w16, NULL, 1), COLOG_ERANGE);
    colog__colw_abort(w);
    cr_assert_eq(faccessat(dfd, "r16.col", F_OK, 0), -1, "abort unlinks");
    cr_assert_eq(errno, ENOENT);
    colog__colw_abort(NULL);
    colog__colr_close(NULL);

    cr_assert_eq(colog__colw_open(&w, dfd, "r.col", COLOG_T_U8), -EEXIST);
    cr_assert_eq(colog__colw_open(&w, dfd, "bad.col", (colog_type_t)0), COLOG_EINVAL);
    cr_assert_eq(colog__colw_open(&w, -1, "nodir.col", COLOG_T_U8), -EBADF);
}

Test(colfile, reader_errors)
{
    colog_colr_t *r;
    cr_assert_eq(colog__colr_open(&r, dfd, "missing.col", COLOG_T_U8, "p/missing.col"), -ENOENT);
    cr_assert(strstr(colog_errmsg(), "p/missing.col") != NULL);
    const uint64_t v[1] = {5};
    write_col("u16.col", COLOG_T_U16, v, NULL, 1);
    cr_assert_eq(colog__colr_open(&r, dfd, "u16.col", COLOG_T_U32, "u16.col"), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "column type u16") != NULL, "%s", colog_errmsg());
    put_file("empty.col", "", 0);
    cr_assert_eq(colog__colr_open(&r, dfd, "empty.col", COLOG_T_U8, NULL), COLOG_ENOTCOLOG);
    put_file("text.col", "hello, world, this is not a column file at all.....", 50);
    cr_assert_eq(colog__colr_open(&r, dfd, "text.col", COLOG_T_U8, NULL), COLOG_ENOTCOLOG);
}

/* ---------------------------------------------------------------- spec writer */

Test(colfile, spec_built_file_reads)
{
    /* Two blocks built from docs/FORMAT.md alone: 65536 rows of u16 i % 7, then 3
     * rows 10, absent, 12 (absent encoded as the minimum 10). */
    size_t words = 65536 * 3 / 64;
    uint8_t *raw0 = calloc(1, 16 + 8 * words);
    uint64_t *pk = calloc(words, 8);
    for (uint32_t i = 0; i < 65536; i++) {
        uint64_t bitpos = (uint64_t)i * 3;
        pk[bitpos / 64] |= (uint64_t)(i % 7) << (bitpos % 64);
        if (bitpos % 64 > 61)
            pk[bitpos / 64 + 1] |= (uint64_t)(i % 7) >> (64 - bitpos % 64);
    }
    size_t l0 = for_raw(raw0, 0, 3, pk, words);
    uint8_t raw1[1 + 16 + 8];
    raw1[0] = 0x05;
    const uint64_t w1[1] = {0 | 0 << 2 | 2 << 4};
    size_t l1 = 1 + for_raw(raw1 + 1, 10, 2, w1, 1);
    const struct tblk b[2] = {
        {.enc = 1,
         .flags = 0,
         .nrows = 65536,
         .nvalid = 65536,
         .min = 0,
         .max = 6,
         .raw = raw0,
         .rawlen = l0},
        {.enc = 1,
         .flags = 1,
         .nrows = 3,
         .nvalid = 2,
         .min = 10,
         .max = 12,
         .raw = raw1,
         .rawlen = l1},
    };
    build_col("spec.col", COLOG_T_U16, b, 2, 65539);
    colog_colr_t *r = open_col("spec.col", COLOG_T_U16);
    colog_block_t blk;
    cr_assert_eq(colog__colr_read(r, 0, &blk), 0, "%s", colog_errmsg());
    for (uint32_t i = 0; i < 65536; i++)
        cr_assert_eq(blk.v.u64[i], i % 7);
    cr_assert_eq(colog__colr_read(r, 1, &blk), 0, "%s", colog_errmsg());
    cr_assert_eq(blk.n, 3);
    cr_assert_eq(blk.v.u64[0], 10);
    cr_assert_eq(blk.v.u64[2], 12);
    cr_assert(!colog_valid(blk.valid, 1));
    colog__colr_close(r);
    free(raw0);
    free(pk);
}

/* A one-block u16 file of three values with the given FOR frame and footer zone. */
static int spec_u16(const char *name, uint64_t base, uint8_t width, uint64_t word, uint64_t min,
                    uint64_t max)
{
    uint8_t raw[24];
    const uint64_t w[1] = {word};
    size_t l = for_raw(raw, base, width, w, width ? 1 : 0);
    const struct tblk b = {
        .enc = 1, .nrows = 3, .nvalid = 3, .min = min, .max = max, .raw = raw, .rawlen = l};
    build_col(name, COLOG_T_U16, &b, 1, 3);
    return try_read_all(name, COLOG_T_U16);
}

Test(colfile, spec_corrupt_checks)
{
    /* the reference: 1, 2, 3 */
    cr_assert_eq(spec_u16("ok.col", 1, 2, 0x24, 1, 3), 0, "%s", colog_errmsg());
    /* width 65 */
    cr_assert_eq(spec_u16("w.col", 1, 65, 0x24, 1, 3), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "w.col: block 0:") != NULL, "%s", colog_errmsg());
    /* a value (70000 = 65535 + 4465) beyond u16 although the zone claims 65535 */
    cr_assert_eq(spec_u16("big.col", 65535, 16, 4465ull << 32, 65535, 65535), COLOG_ECORRUPT);
    /* a zone beyond u16 */
    cr_assert_eq(spec_u16("zone.col", 69998, 2, 0x24, 69998, 70000), COLOG_ECORRUPT);
    /* values that disagree with the zone */
    cr_assert_eq(spec_u16("mm.col", 1, 2, 0x24, 1, 4), COLOG_ECORRUPT);
    /* garbage in the unused bits of the last word */
    cr_assert_eq(spec_u16("pad.col", 1, 2, 0x24 | 1ull << 40, 1, 3), COLOG_ECORRUPT);

    uint8_t raw[32] = {0};
    const uint64_t w[1] = {0x24};
    size_t l = for_raw(raw, 1, 2, w, 1);
    struct tblk b = {
        .enc = 1, .nrows = 3, .nvalid = 3, .min = 1, .max = 3, .raw = raw, .rawlen = l};
    /* total rows disagreeing with the blocks */
    build_col("tot.col", COLOG_T_U16, &b, 1, 4);
    cr_assert_eq(try_read_all("tot.col", COLOG_T_U16), COLOG_ECORRUPT);
    /* encoding 3 (plain) for u16 */
    b.enc = 3;
    build_col("enc.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("enc.col", COLOG_T_U16), COLOG_ECORRUPT);
    /* unknown encoding */
    b.enc = 9;
    build_col("enc9.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("enc9.col", COLOG_T_U16), COLOG_ECORRUPT);
    b.enc = 1;
    /* raw length one byte short of what the frame needs */
    b.rawlen = l - 1;
    build_col("short.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("short.col", COLOG_T_U16), COLOG_ECORRUPT);
    b.rawlen = l;
    /* a first block that is not full */
    struct tblk two[2] = {b, b};
    build_col("notfull.col", COLOG_T_U16, two, 2, 6);
    cr_assert_eq(try_read_all("notfull.col", COLOG_T_U16), COLOG_ECORRUPT);
    /* more rows than a block holds */
    b.nrows = 65537;
    build_col("rows.col", COLOG_T_U16, &b, 1, 65537);
    cr_assert_eq(try_read_all("rows.col", COLOG_T_U16), COLOG_ECORRUPT);
    b.nrows = 3;
    /* null flag without a bitset that matches nvalid */
    uint8_t rn[40];
    rn[0] = 0x07; /* 3 set, footer says 2 */
    memcpy(rn + 1, raw, l);
    struct tblk bn = {.enc = 1,
                      .flags = 1,
                      .nrows = 3,
                      .nvalid = 2,
                      .min = 1,
                      .max = 3,
                      .raw = rn,
                      .rawlen = l + 1};
    build_col("pop.col", COLOG_T_U16, &bn, 1, 3);
    cr_assert_eq(try_read_all("pop.col", COLOG_T_U16), COLOG_ECORRUPT);
    /* bitset padding bits set (bit 3 of a 3-row block) */
    rn[0] = 0x0d;
    build_col("padbits.col", COLOG_T_U16, &bn, 1, 3);
    cr_assert_eq(try_read_all("padbits.col", COLOG_T_U16), COLOG_ECORRUPT);
    /* null flag set but every value valid */
    rn[0] = 0x07;
    bn.nvalid = 3;
    build_col("flag.col", COLOG_T_U16, &bn, 1, 3);
    cr_assert_eq(try_read_all("flag.col", COLOG_T_U16), COLOG_ECORRUPT);
    /* unknown block flag */
    b.flags = 0x02;
    build_col("bflag.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("bflag.col", COLOG_T_U16), COLOG_ECORRUPT);
    b.flags = 0;
    /* dictionary code beyond 32 bits */
    const uint64_t w32[1] = {1};
    uint8_t rc[24];
    size_t lc = for_raw(rc, UINT32_MAX, 1, w32, 1);
    struct tblk bc = {.enc = 1,
                      .nrows = 1,
                      .nvalid = 1,
                      .min = UINT32_MAX,
                      .max = UINT32_MAX,
                      .raw = rc,
                      .rawlen = lc};
    build_col("code.col", COLOG_T_STRING, &bc, 1, 1);
    cr_assert_eq(try_read_all("code.col", COLOG_T_STRING), COLOG_ECORRUPT);
}

/* ---------------------------------------------------------------- corrupt */

/* Flip bytes of name (XOR mask) at the given positions, one at a time, and
 * require that opening and reading everything fails each time. */
static void flip_each(const char *name, colog_type_t type, const size_t *pos, size_t npos)
{
    static const uint8_t masks[3] = {0x01, 0x80, 0xff};
    int fd = openat(dfd, name, O_RDWR);
    cr_assert_geq(fd, 0);
    for (size_t k = 0; k < npos; k++) {
        uint8_t orig, x;
        cr_assert_eq(pread(fd, &orig, 1, (off_t)pos[k]), 1);
        for (int m = 0; m < 3; m++) {
            if (m != (int)(pos[k] % 3) && npos > 4096)
                continue; /* big files: one mask per byte */
            x = orig ^ masks[m];
            cr_assert_eq(pwrite(fd, &x, 1, (off_t)pos[k]), 1);
            int rc = try_read_all(name, type);
            cr_assert_lt(rc, 0, "flip of byte %zu by 0x%02x accepted", pos[k], masks[m]);
            cr_assert(rc == COLOG_ECORRUPT || rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION,
                      "byte %zu: %s", pos[k], colog_errname(rc));
        }
        cr_assert_eq(pwrite(fd, &orig, 1, (off_t)pos[k]), 1);
    }
    close(fd);
    cr_assert_eq(try_read_all(name, type), 0, "restored file reads");
}

Test(colfile, every_byte_corrupt)
{
    /* every byte of a small file with nulls, one of each type */
    static const colog_type_t types[9] = {COLOG_T_TIME, COLOG_T_IP,  COLOG_T_U8,
                                          COLOG_T_U16,  COLOG_T_U32, COLOG_T_U64,
                                          COLOG_T_I64,  COLOG_T_F64, COLOG_T_STRING};
    uint64_t v[300];
    uint32_t c[300];
    uint8_t valid[38];
    uint64_t s = 12345;
    for (int i = 0; i < 300; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (s >> 33) & 0xff;
        c[i] = (uint32_t)(s >> 40) & 0xff;
    }
    memset(valid, 0xff, sizeof valid);
    valid[3] = 0x5a;
    for (int t = 0; t < 9; t++) {
        char name[32];
        snprintf(name, sizeof name, "e%d.col", t);
        const void *vals = colog_type_is_dict(types[t]) ? (const void *)c : (const void *)v;
        uint64_t size = write_col(name, types[t], vals, valid, 300);
        size_t *pos = malloc(size * sizeof *pos);
        for (size_t i = 0; i < size; i++)
            pos[i] = i;
        flip_each(name, types[t], pos, size);
        free(pos);
    }
}

Test(colfile, multi_block_corrupt)
{
    /* 2 full blocks + 100 rows of noisy u32 with nulls: every byte of the
     * header, footer, trailer and block headers, a dense sample elsewhere. */
    uint32_t n = 2 * 65536 + 100;
    uint64_t *v = malloc(n * sizeof *v);
    uint8_t *valid = malloc(n / 8 + 1);
    uint64_t s = 99;
    for (uint32_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = s >> 40;
    }
    memset(valid, 0xef, n / 8 + 1);
    uint64_t size = write_col("m.col", COLOG_T_U32, v, valid, n);
    size_t *pos = malloc(size * sizeof *pos), np = 0;
    size_t len;
    uint8_t *f = slurp("m.col", &len);
    uint64_t foff = colog__get_u64(f + len - 24);
    for (size_t i = 0; i < size; i++) {
        bool hot = i < 32 || i >= foff;
        for (uint32_t b = 0; b < 3; b++) {
            uint64_t off = colog__get_u64(f + foff + 16 + 48 * b);
            if (i >= off && i < off + 48)
                hot = true;
        }
        if (hot || i % 211 == 0)
            pos[np++] = i;
    }
    flip_each("m.col", COLOG_T_U32, pos, np);
    free(pos);
    free(f);
    free(v);
    free(valid);
}

Test(colfile, truncated_corrupt)
{
    uint64_t v[50];
    for (int i = 0; i < 50; i++)
        v[i] = (uint64_t)i * 1000003;
    uint64_t size = write_col("t.col", COLOG_T_U64, v, NULL, 50);
    size_t len;
    uint8_t *f = slurp("t.col", &len);
    cr_assert_eq(len, size);
    for (size_t l = 0; l < len; l++) {
        put_file("t.col", f, l);
        int rc = try_read_all("t.col", COLOG_T_U64);
        cr_assert_eq(rc, l < 4 ? COLOG_ENOTCOLOG : COLOG_ECORRUPT, "length %zu: %s", l,
                     colog_errname(rc));
    }
    uint8_t *g = malloc(len + 1);
    memcpy(g, f, len);
    g[len] = 0;
    put_file("t.col", g, len + 1);
    cr_assert_eq(try_read_all("t.col", COLOG_T_U64), COLOG_ECORRUPT, "trailing byte");
    free(g);
    free(f);
}

Test(colfile, header_fields_corrupt)
{
    const uint64_t v[3] = {1, 2, 3};
    write_col("h.col", COLOG_T_U16, v, NULL, 3);
    size_t len;
    uint8_t *f = slurp("h.col", &len);
    uint8_t *g = malloc(len);
    uint64_t seed = seed_of("h.col");

    memcpy(g, f, len);
    g[0] = 'X';
    put_file("h.col", g, len);
    cr_assert_eq(try_read_all("h.col", COLOG_T_U16), COLOG_ENOTCOLOG);

    memcpy(g, f, len);
    colog__put_u16(g + 4, 2);
    put_file("h.col", g, len);
    cr_assert_eq(try_read_all("h.col", COLOG_T_U16), COLOG_EVERSION);

    for (int at = 7; at < 24; at++) {
        memcpy(g, f, len);
        g[at] = 1;
        colog__put_u64(g + 24, XXH3_64bits_withSeed(g, 24, seed));
        put_file("h.col", g, len);
        cr_assert_eq(try_read_all("h.col", COLOG_T_U16), COLOG_ECORRUPT, "byte %d", at);
        cr_assert(strstr(colog_errmsg(), "not zero") != NULL, "%s", colog_errmsg());
    }

    /* block header reserved byte 15 and codec byte 14, every checksum (block,
     * footer) fixed up: 1 (zstd) over LZ4 data fails to decompress, 2 is unknown */
    uint32_t clen = colog__get_u32(f + 32 + 20);
    uint64_t foff = 64 + clen;
    static const struct {
        int at, val;
        const char *msg;
    } bh[3] = {{15, 1, "h.col: block 0: reserved"},
               {14, 1, "h.col: block 0: decompression failed"},
               {14, 2, "h.col: block 0: unknown compression codec"}};
    for (int k = 0; k < 3; k++) {
        memcpy(g, f, len);
        g[32 + bh[k].at] = (uint8_t)bh[k].val;
        memset(g + 32 + 24, 0, 8);
        uint64_t sum = XXH3_64bits_withSeed(g + 32, 32 + clen, seed ^ 0);
        colog__put_u64(g + 32 + 24, sum);
        colog__put_u64(g + foff + 16 + 40, sum);
        colog__put_u64(g + foff + 64, XXH3_64bits_withSeed(g + foff, 64, seed));
        put_file("h.col", g, len);
        cr_assert_eq(try_read_all("h.col", COLOG_T_U16), COLOG_ECORRUPT);
        cr_assert(strstr(colog_errmsg(), bh[k].msg) != NULL, "%s", colog_errmsg());
    }

    /* footer entry reserved field */
    memcpy(g, f, len);
    g[foff + 16 + 20] = 1;
    colog__put_u64(g + foff + 64, XXH3_64bits_withSeed(g + foff, 64, seed));
    put_file("h.col", g, len);
    cr_assert_eq(try_read_all("h.col", COLOG_T_U16), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "reserved") != NULL, "%s", colog_errmsg());
    free(g);
    free(f);
}

Test(colfile, moved_block_corrupt)
{
    /* three identical blocks: they differ only in block number and checksum */
    uint32_t n = 3 * 65536;
    uint32_t *c = malloc(n * sizeof *c);
    for (uint32_t i = 0; i < n; i++)
        c[i] = 5;
    write_col("m.col", COLOG_T_IP, c, NULL, n);
    size_t len;
    uint8_t *f = slurp("m.col", &len);
    uint64_t foff = colog__get_u64(f + len - 24);
    uint64_t off1 = colog__get_u64(f + foff + 16 + 48), off2 = colog__get_u64(f + foff + 16 + 96);
    uint32_t blen = colog__get_u32(f + foff + 16 + 48 + 8);
    cr_assert_eq(colog__get_u32(f + foff + 16 + 96 + 8), blen, "same length");
    uint8_t *g = malloc(len);
    memcpy(g, f, len);
    memcpy(g + off2, f + off1, blen); /* block 1 copied over block 2 */
    put_file("m.col", g, len);
    colog_colr_t *r = open_col("m.col", COLOG_T_IP);
    colog_block_t b;
    cr_assert_eq(colog__colr_read(r, 1, &b), 0);
    cr_assert_eq(colog__colr_read(r, 2, &b), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "m.col: block 2:") != NULL, "%s", colog_errmsg());
    colog__colr_close(r);

    /* and with the block number in its header rewritten to 2 */
    colog__put_u32(g + off2 + 4, 2);
    put_file("m.col", g, len);
    r = open_col("m.col", COLOG_T_IP);
    cr_assert_eq(colog__colr_read(r, 2, &b), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "checksum mismatch") != NULL, "%s", colog_errmsg());
    colog__colr_close(r);

    /* the same file under another name: the seed differs */
    put_file("other.col", f, len);
    cr_assert_eq(try_read_all("other.col", COLOG_T_IP), COLOG_ECORRUPT);
    free(g);
    free(f);
    free(c);
}

Test(colfile, swapped_between_parts_corrupt)
{
    /* same file name in two part directories, same lengths, values 5 vs 6 */
    cr_assert_eq(mkdirat(dfd, "p1", 0755), 0);
    cr_assert_eq(mkdirat(dfd, "p2", 0755), 0);
    int d1 = openat(dfd, "p1", O_RDONLY | O_DIRECTORY),
        d2 = openat(dfd, "p2", O_RDONLY | O_DIRECTORY);
    uint64_t a[4] = {5, 5, 5, 5}, b6[4] = {6, 6, 6, 6};
    uint64_t s1 = write_col_in(d1, "x.col", COLOG_T_U64, a, NULL, 4);
    uint64_t s2 = write_col_in(d2, "x.col", COLOG_T_U64, b6, NULL, 4);
    cr_assert_eq(s1, s2);
    uint8_t *f1, *f2;
    size_t l1, l2;
    cr_assert_eq(colog__read_file(d1, "x.col", &f1, &l1), 0);
    cr_assert_eq(colog__read_file(d2, "x.col", &f2, &l2), 0);
    uint32_t blen = colog__get_u32(f1 + l1 - 24 - 72 + 16 + 8);
    memcpy(f2 + 32, f1 + 32, blen); /* p1's block 0 into p2's file */
    unlinkat(d2, "x.col", 0);
    int fd = openat(d2, "x.col", O_CREAT | O_WRONLY, 0644);
    cr_assert_eq(colog__write_all(fd, f2, l2), 0);
    close(fd);
    colog_colr_t *r;
    cr_assert_eq(colog__colr_open(&r, d2, "x.col", COLOG_T_U64, "p2/x.col"), 0);
    colog_block_t b;
    cr_assert_eq(colog__colr_read(r, 0, &b), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "p2/x.col: block 0: checksum does not match the footer") !=
                  NULL,
              "%s", colog_errmsg());
    colog__colr_close(r);
    free(f1);
    free(f2);
    close(d1);
    close(d2);
}

/* ---------------------------------------------------------------- chosen encodings */

static uint64_t xrng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s ^ (*s >> 29);
}

/* Values of row i for type t: extremes of the type, runs, outliers, sorted times. */
static uint64_t tv(colog_type_t t, uint32_t i, uint64_t r)
{
    uint64_t umax = t == COLOG_T_U8                                              ? UINT8_MAX
                    : t == COLOG_T_U16                                           ? UINT16_MAX
                    : t == COLOG_T_U32 || t == COLOG_T_IP || t == COLOG_T_STRING ? UINT32_MAX
                                                                                 : UINT64_MAX;
    if (t == COLOG_T_TIME)
        return 1772366400000000ull + (uint64_t)i * 1000 + r % 997;
    if (t == COLOG_T_I64)
        return i % 1000 == 3   ? (uint64_t)INT64_MIN
               : i % 1000 == 7 ? (uint64_t)INT64_MAX
                               : r % 5000 - 2500;
    if (i % 977 == 0)
        return umax;
    if (i % 1009 == 0)
        return 0;
    return (i / 500) % 2 ? (r % 300) & umax : ((r & 0xff) << (r >> 59)) & umax;
}

/* Write n rows of type t (nulls at i % 11 == 5) with the given policy, read them
 * back, compare, and check the encoding and codec of every block. */
static void forced_rt(const char *name, colog_type_t t, unsigned enc, bool zstd, uint32_t n)
{
    uint64_t *v = malloc(n * sizeof *v), s = 5;
    uint32_t *c = malloc(n * sizeof *c);
    uint8_t *valid = calloc(1, n / 8 + 1);
    for (uint32_t i = 0; i < n; i++) {
        v[i] = tv(t, i, xrng(&s));
        c[i] = (uint32_t)v[i];
        if (i % 11 != 5)
            valid[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    bool dict = colog_type_is_dict(t);
    colog__colf_tune(enc, zstd ? 1 : 0, zstd);
    write_col(name, t, dict ? (const void *)c : (const void *)v, valid, n);
    colog__colf_tune(0, 0, false);
    size_t len;
    uint8_t *f = slurp(name, &len);
    colog_colr_t *r = open_col(name, t);
    uint32_t at = 0;
    for (uint32_t b = 0; b < colog__colr_nblocks(r); b++) {
        uint64_t off = colog__get_u64(f + len - 24) + 16 + 48 * (uint64_t)b;
        const uint8_t *h = f + colog__get_u64(f + off);
        if (enc)
            cr_assert_eq(h[12], enc, "%s block %u: encoding %u", name, b, h[12]);
        if (zstd)
            cr_assert_eq(h[14], 1, "%s block %u: zstd", name, b);
        else
            cr_assert_eq(h[14], 0);
        colog_block_t blk;
        cr_assert_eq(colog__colr_read(r, b, &blk), 0, "%s", colog_errmsg());
        for (uint32_t i = 0; i < blk.n; i++, at++) {
            cr_assert_eq(colog_valid(blk.valid, i), i % 11 != 5 ? (at % 11 != 5) : (at % 11 != 5));
            if (at % 11 == 5)
                continue;
            uint64_t got = dict ? blk.v.code[i] : blk.v.u64[i];
            cr_assert_eq(got, dict ? c[at] : v[at], "%s row %u", name, at);
        }
    }
    cr_assert_eq(at, n);
    colog__colr_close(r);
    free(f);
    free(v);
    free(c);
    free(valid);
}

Test(colfile, every_encoding_every_type)
{
    static const colog_type_t types[8] = {COLOG_T_TIME, COLOG_T_IP,  COLOG_T_U8,  COLOG_T_U16,
                                          COLOG_T_U32,  COLOG_T_U64, COLOG_T_I64, COLOG_T_STRING};
    static const unsigned encs[5] = {COLOG_ENC_FOR, COLOG_ENC_DELTA, COLOG_ENC_MFOR,
                                     COLOG_ENC_MDELTA, COLOG_ENC_VARINT};
    for (int t = 0; t < 8; t++)
        for (int e = 0; e < 6; e++)
            for (int z = 0; z < 2; z++) {
                bool signed_ = types[t] == COLOG_T_TIME || types[t] == COLOG_T_I64;
                unsigned enc = e < 5 ? encs[e] : 0; /* 0: the writer's choice */
                if (!signed_ && (enc == COLOG_ENC_DELTA || enc == COLOG_ENC_MDELTA))
                    continue;
                char name[48];
                snprintf(name, sizeof name, "rt%d_%u_%d.col", t, enc, z);
                forced_rt(name, types[t], enc, z, 65536 + 300);
                snprintf(name, sizeof name, "rs%d_%u_%d.col", t, enc, z);
                forced_rt(name, types[t], enc, z, 1);
            }
}

Test(colfile, choice_is_smallest)
{
    /* log-normal-like u64 with outliers: every forced encoding gives a file at
     * least as large as the writer's choice */
    uint32_t n = 65536;
    uint64_t *v = malloc(n * sizeof *v), s = 9;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = xrng(&s);
        v[i] = (r & 0xff) << (r >> 59);
    }
    uint64_t best = write_col("auto.col", COLOG_T_U64, v, NULL, n);
    static const unsigned encs[3] = {COLOG_ENC_FOR, COLOG_ENC_MFOR, COLOG_ENC_VARINT};
    for (int e = 0; e < 3; e++) {
        char name[32];
        snprintf(name, sizeof name, "f%u.col", encs[e]);
        colog__colf_tune(encs[e], 0, false);
        uint64_t size = write_col(name, COLOG_T_U64, v, NULL, n);
        colog__colf_tune(0, 0, false);
        cr_assert_geq(size, best, "encoding %u: %llu < %llu", encs[e], (unsigned long long)size,
                      (unsigned long long)best);
    }
    free(v);
}

Test(colfile, new_encodings_every_byte_corrupt)
{
    static const struct {
        colog_type_t t;
        unsigned enc;
        bool zstd;
    } cases[] = {{COLOG_T_U64, COLOG_ENC_MFOR, false},    {COLOG_T_U64, COLOG_ENC_VARINT, false},
                 {COLOG_T_TIME, COLOG_ENC_MDELTA, false}, {COLOG_T_STRING, COLOG_ENC_MFOR, false},
                 {COLOG_T_IP, COLOG_ENC_VARINT, false},   {COLOG_T_I64, COLOG_ENC_VARINT, false},
                 {COLOG_T_U16, COLOG_ENC_MFOR, true},     {COLOG_T_TIME, COLOG_ENC_MDELTA, true}};
    uint64_t v[300], s = 3;
    uint32_t c[300];
    uint8_t valid[38];
    memset(valid, 0xff, sizeof valid);
    valid[3] = 0x5a;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (uint32_t i = 0; i < 300; i++) {
            v[i] = tv(cases[k].t, i, xrng(&s));
            c[i] = (uint32_t)v[i];
        }
        char name[32];
        snprintf(name, sizeof name, "n%zu.col", k);
        colog__colf_tune(cases[k].enc, cases[k].zstd ? 1 : 0, cases[k].zstd);
        const void *vals = colog_type_is_dict(cases[k].t) ? (const void *)c : (const void *)v;
        uint64_t size = write_col(name, cases[k].t, vals, valid, 300);
        colog__colf_tune(0, 0, false);
        size_t *pos = malloc(size * sizeof *pos);
        for (size_t i = 0; i < size; i++)
            pos[i] = i;
        flip_each(name, cases[k].t, pos, size);
        free(pos);
        /* and every truncation */
        size_t len;
        uint8_t *f = slurp(name, &len);
        for (size_t l = 0; l < len; l++) {
            put_file("trunc.col", f, l);
            int rc = try_read_all("trunc.col", cases[k].t);
            cr_assert(rc == COLOG_ECORRUPT || rc == COLOG_ENOTCOLOG, "length %zu", l);
        }
        free(f);
    }
}

/* Spec-built blocks of the new encodings (every checksum right): the reader's
 * own checks must reject malformed payloads and values outside the zone. */
Test(colfile, spec_new_encodings)
{
    /* MFOR of u16 1, 2, 3: base 1, base width 0, widths {2} + 7 zero bytes, no
     * bases, one miniblock word 0x24 */
    uint8_t raw[64] = {0};
    colog__put_u64(raw, 1);
    raw[16] = 2;
    colog__put_u64(raw + 24, 0x24);
    struct tblk b = {
        .enc = 4, .nrows = 3, .nvalid = 3, .min = 1, .max = 3, .raw = raw, .rawlen = 32};
    build_col("m.col", COLOG_T_U16, &b, 1, 3);
    colog_colr_t *r = open_col("m.col", COLOG_T_U16);
    colog_block_t blk;
    cr_assert_eq(colog__colr_read(r, 0, &blk), 0, "%s", colog_errmsg());
    cr_assert(blk.v.u64[0] == 1 && blk.v.u64[1] == 2 && blk.v.u64[2] == 3);
    colog__colr_close(r);
    b.max = 4; /* zone disagrees */
    build_col("m1.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("m1.col", COLOG_T_U16), COLOG_ECORRUPT);
    b.max = 3;
    raw[16] = 65;
    build_col("m2.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("m2.col", COLOG_T_U16), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "malformed miniblock") != NULL, "%s", colog_errmsg());
    raw[16] = 2;
    b.enc = 5; /* MDELTA for u16 */
    build_col("m3.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("m3.col", COLOG_T_U16), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "bad encoding") != NULL, "%s", colog_errmsg());
    b.enc = 7; /* unknown */
    build_col("m4.col", COLOG_T_U16, &b, 1, 3);
    cr_assert_eq(try_read_all("m4.col", COLOG_T_U16), COLOG_ECORRUPT);

    /* VARINT of a string code beyond 32 bits: base 2^32 - 1, offset 1, zone claims 2^32-1 */
    uint8_t rv[32] = {0};
    colog__put_u64(rv, UINT32_MAX);
    colog__put_u32(rv + 8, 1); /* quarters of ceil(2/4) = 1 row: streams {0} {1} {} {} */
    colog__put_u32(rv + 12, 2);
    colog__put_u32(rv + 16, 2);
    rv[24] = 0x01; /* 0 */
    rv[25] = 0x03; /* 1 */
    struct tblk bv = {.enc = 6,
                      .nrows = 2,
                      .nvalid = 2,
                      .min = UINT32_MAX,
                      .max = UINT32_MAX,
                      .raw = rv,
                      .rawlen = 26};
    build_col("v.col", COLOG_T_STRING, &bv, 1, 2);
    cr_assert_eq(try_read_all("v.col", COLOG_T_STRING), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "zone map") != NULL, "%s", colog_errmsg());
    rv[25] = 0x01; /* both 2^32 - 1: fine */
    build_col("v1.col", COLOG_T_STRING, &bv, 1, 2);
    cr_assert_eq(try_read_all("v1.col", COLOG_T_STRING), 0, "%s", colog_errmsg());
    r = open_col("v1.col", COLOG_T_STRING);
    cr_assert_eq(colog__colr_read(r, 0, &blk), 0, "%s", colog_errmsg());
    cr_assert(blk.v.code[0] == UINT32_MAX && blk.v.code[1] == UINT32_MAX);
    colog__colr_close(r);
}
