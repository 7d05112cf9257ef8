/*
 * fuzz_colfile.c — libFuzzer target: the column file reader (colog__colr_*) and
 * the block value decoders under it (colog_enc.h).
 *
 * Input: byte 0 picks the column type (1 + byte % 9, the on-disk type codes),
 * byte 1 the mode (low two bits), the rest is the file image:
 *
 *   0  raw:   the image is written as it is (magic, version and checksum checks);
 *   1  fixed: every checksum the reader will compute is recomputed first (header,
 *             each block the footer locates, the footer's copies of the block
 *             checksums, footer, trailer), so mutations reach the checks behind
 *             the checksums;
 *   2  built: the blocks hold *raw* payloads: walking from offset 32, each block
 *             is a 32-byte header whose clen field (bytes 20..24) is the length of
 *             the raw payload after it, up to the footer the trailer locates. The
 *             harness compresses each payload with the codec of the header's byte
 *             14 (1 zstd, else LZ4), sets rawlen and clen, rewrites
 *             the footer entries' offsets and lengths, then fixes the checksums as
 *             in mode 1. This is the mode that reaches the value decoders;
 *   3  enc:   no file: byte 0 picks a decoder of colog_enc.h (FOR, FOR32, DELTA,
 *             MFOR, MDELTA, VARINT), bytes 2..3 give n - 1 (little-endian), the
 *             rest is the payload.
 *
 * A file that opens is read whole: every zone, every block through
 * colog__colr_read, the first blocks again in one colog__colr_read_many batch
 * (pread queue, callers' buffers) compared with the first read, and an
 * out-of-range block. Properties checked (abort on violation, so libFuzzer
 * reports them as crashes): errors are COLOG_ENOTCOLOG / EVERSION / ECORRUPT /
 * ENOMEM with a message; zone rows add up to the file's rows; a decoded block
 * has the zone's rows and valid count; every decoded value (present or not) of
 * a non-f64 column lies in the zone [min, max] in its domain's order
 * (docs/FORMAT.md, column reader checks 4 and 10); u8/u16/u32 values fit their
 * type. For the decoders: values lie in [base, base + maxoff] (DELTA: [vmin,
 * vmax]), the bounds are attained, and re-encoding the decoded values with the
 * encoder of the same id decodes back to them with the size its _size
 * function predicts.
 *
 * The file lives in a temp directory made per process under $TMPDIR (or /tmp)
 * and removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "colog_enc.h"
#include "colog_storage_int.h"

#define FNAME "fuzz.col"
#define HDR 32
#define BLK_HDR 32
#define FOOT_FIXED 16
#define FOOT_ENTRY 48
#define FOOT_SUM 8
#define TRAILER 24
#define MAX_BUILD_BLOCKS 4096
#define CODEC_ZSTD 1 /* block header byte 14; anything else is compressed with LZ4 */
#define MANY 8       /* blocks read again through colog__colr_read_many */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_colfile: check failed: %s: ", #cond);                            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char g_dir[4096];
static int g_dirfd = -1;
static colog_ioq_t *g_ioq;
static colog_rbuf_t *g_rbufs[MANY];
static bool g_verbose; /* COLOG_FUZZ_VERBOSE set: say what each input did */

static void cleanup(void)
{
    if (g_dirfd >= 0) {
        unlinkat(g_dirfd, FNAME, 0);
        close(g_dirfd);
        rmdir(g_dir);
    }
    for (int i = 0; i < MANY; i++)
        colog_rbuf_free(g_rbufs[i]);
    colog_ioq_free(g_ioq);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_verbose = getenv("COLOG_FUZZ_VERBOSE") != NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/colog-fuzz-colfile-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL || (g_dirfd = open(g_dir, O_RDONLY | O_DIRECTORY)) < 0) {
        perror("fuzz_colfile: temp directory");
        exit(1);
    }
    CHECK(colog_ioq_new(COLOG_IO_PREAD, MANY, &g_ioq) == 0, "%s", colog_errmsg());
    for (int i = 0; i < MANY; i++)
        CHECK((g_rbufs[i] = colog_rbuf_new()) != NULL, "out of memory");
    atexit(cleanup);
    return 0;
}

static void put_file(const uint8_t *p, size_t n)
{
    int fd = openat(g_dirfd, FNAME, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open: %s", strerror(errno));
    CHECK(colog__write_all(fd, p, n) == 0, "write failed");
    close(fd);
}

/* ---------------------------------------------------------------- image fix-ups */

static void fix_sums(uint8_t *f, size_t len, uint64_t seed)
{
    if (len >= HDR)
        colog__put_u64(f + 24, XXH3_64bits_withSeed(f, 24, seed));
    if (len < HDR + TRAILER)
        return;
    uint8_t *t = f + len - TRAILER;
    uint64_t foff = colog__get_u64(t);
    uint32_t flen = colog__get_u32(t + 8);
    if (flen >= FOOT_FIXED + FOOT_SUM && foff >= HDR && foff <= len - TRAILER &&
        len - TRAILER - foff == flen) {
        uint8_t *ft = f + foff;
        uint32_t nb = (flen - FOOT_FIXED - FOOT_SUM) / FOOT_ENTRY;
        for (uint32_t b = 0; b < nb; b++) {
            uint8_t *e = ft + FOOT_FIXED + (size_t)b * FOOT_ENTRY;
            uint64_t off = colog__get_u64(e);
            uint32_t blen = colog__get_u32(e + 8);
            if (off < HDR || blen < BLK_HDR || off > foff || blen > foff - off)
                continue;
            uint8_t *blk = f + off;
            memset(blk + 24, 0, 8);
            uint64_t s = XXH3_64bits_withSeed(blk, blen, seed ^ b);
            colog__put_u64(blk + 24, s);
            colog__put_u64(e + 40, s);
        }
        colog__put_u64(ft + flen - FOOT_SUM, XXH3_64bits_withSeed(ft, flen - FOOT_SUM, seed));
    }
    colog__put_u64(t + 16, XXH3_64bits_withSeed(t, 16, seed));
}

/* Mode 2 (see the top): a malloc'ed image with compressed blocks, or NULL if
 * the input has no trailer that locates a footer (then it is used as it is). */
static uint8_t *build(const uint8_t *in, size_t len, size_t *outlen)
{
    if (len < HDR + FOOT_FIXED + FOOT_SUM + TRAILER)
        return NULL;
    const uint8_t *t = in + len - TRAILER;
    uint64_t foff = colog__get_u64(t);
    uint32_t flen = colog__get_u32(t + 8);
    if (flen < FOOT_FIXED + FOOT_SUM || (flen - FOOT_FIXED - FOOT_SUM) % FOOT_ENTRY != 0 ||
        foff < HDR || foff > len - TRAILER || len - TRAILER - foff != flen)
        return NULL;
    uint32_t nb = (flen - FOOT_FIXED - FOOT_SUM) / FOOT_ENTRY;

    /* Walk the blocks once for the output bound. */
    size_t cap = HDR + flen + TRAILER, pos = HDR;
    uint32_t nw = 0;
    while (pos + BLK_HDR <= foff && nw < MAX_BUILD_BLOCKS) {
        size_t raw = colog__get_u32(in + pos + 20);
        if (raw > foff - pos - BLK_HDR)
            raw = foff - pos - BLK_HDR;
        size_t lz = (size_t)LZ4_compressBound((int)raw), zs = ZSTD_compressBound(raw);
        cap += BLK_HDR + (lz > zs ? lz : zs);
        pos += BLK_HDR + raw;
        nw++;
    }
    uint8_t *out = malloc(cap);
    uint64_t *offs = malloc((nw ? nw : 1) * sizeof *offs);
    uint32_t *lens = malloc((nw ? nw : 1) * sizeof *lens);
    CHECK(out && offs && lens, "out of memory");
    memcpy(out, in, HDR);
    size_t o = HDR;
    pos = HDR;
    for (uint32_t b = 0; b < nw; b++) {
        size_t raw = colog__get_u32(in + pos + 20);
        if (raw > foff - pos - BLK_HDR)
            raw = foff - pos - BLK_HDR;
        memcpy(out + o, in + pos, BLK_HDR);
        size_t c;
        if (in[pos + 14] == CODEC_ZSTD) {
            c = ZSTD_compress(out + o + BLK_HDR, cap - o - BLK_HDR, in + pos + BLK_HDR, raw, 1);
            CHECK(!ZSTD_isError(c), "ZSTD_compress failed");
        } else {
            int k =
                LZ4_compress_default((const char *)in + pos + BLK_HDR, (char *)out + o + BLK_HDR,
                                     (int)raw, (int)(cap - o - BLK_HDR));
            CHECK(k >= 0 && (raw == 0 || k > 0), "LZ4_compress_default failed");
            c = (size_t)k;
        }
        colog__put_u32(out + o + 16, (uint32_t)raw);
        colog__put_u32(out + o + 20, (uint32_t)c);
        offs[b] = o;
        lens[b] = BLK_HDR + (uint32_t)c;
        o += BLK_HDR + c;
        pos += BLK_HDR + raw;
    }
    uint64_t nfoff = o;
    memcpy(out + o, in + foff, flen);
    for (uint32_t b = 0; b < nb && b < nw; b++) {
        uint8_t *e = out + o + FOOT_FIXED + (size_t)b * FOOT_ENTRY;
        colog__put_u64(e, offs[b]);
        colog__put_u32(e + 8, lens[b]);
    }
    o += flen;
    memcpy(out + o, t, TRAILER);
    colog__put_u64(out + o, nfoff);
    o += TRAILER;
    free(offs);
    free(lens);
    *outlen = o;
    return out;
}

/* ---------------------------------------------------------------- reading a file */

static bool in_zone(colog_type_t t, uint64_t v, const colog_zone_t *z)
{
    if (t == COLOG_T_TIME || t == COLOG_T_I64)
        return (int64_t)v >= z->min.i && (int64_t)v <= z->max.i;
    return v >= z->min.u && v <= z->max.u;
}

static uint64_t value_at(const colog_block_t *b, uint32_t i)
{
    if (colog_type_is_dict(b->type))
        return b->v.code[i];
    return b->v.u64[i]; /* i64 and time share the bits */
}

static size_t value_size(colog_type_t t)
{
    return colog_type_is_dict(t) ? 4 : 8;
}

static void check_block(colog_type_t type, uint32_t b, const colog_block_t *blk,
                        const colog_zone_t *z)
{
    CHECK(blk->type == type, "block %u: type %d", b, (int)blk->type);
    CHECK(blk->n == z->nrows, "block %u: %u rows, zone says %u", b, blk->n, z->nrows);
    uint32_t nvalid = 0;
    for (uint32_t i = 0; i < blk->n; i++)
        nvalid += colog_valid(blk->valid, i);
    CHECK(nvalid == z->nvalid, "block %u: %u valid, zone says %u", b, nvalid, z->nvalid);
    if (blk->valid && (blk->n & 7))
        CHECK((blk->valid[blk->n >> 3] >> (blk->n & 7)) == 0, "block %u: bitset padding", b);
    if (type == COLOG_T_F64) {
        volatile double sink = 0; /* touch every value (ASan) */
        for (uint32_t i = 0; i < blk->n; i++)
            sink += blk->v.f64[i];
        (void)sink;
        return;
    }
    uint64_t umax = colog_type_is_unsigned(type) ? colog_type_umax(type) : UINT64_MAX;
    for (uint32_t i = 0; i < blk->n; i++) {
        uint64_t v = value_at(blk, i);
        CHECK(in_zone(type, v, z), "block %u row %u: value %llu outside the zone", b, i,
              (unsigned long long)v);
        CHECK(v <= umax, "block %u row %u: value %llu out of range for the type", b, i,
              (unsigned long long)v);
    }
}

static bool same_block(colog_type_t t, const colog_block_t *a, const colog_block_t *b)
{
    if (a->n != b->n || (a->valid == NULL) != (b->valid == NULL))
        return false;
    if (a->valid && memcmp(a->valid, b->valid, (a->n + 7) / 8) != 0)
        return false;
    return memcmp(a->v.u64, b->v.u64, (size_t)a->n * value_size(t)) == 0;
}

static void check_error(int rc)
{
    if (g_verbose)
        fprintf(stderr, "fuzz_colfile: %s: %s\n", colog_errname(rc), colog_errmsg());
    CHECK(rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION || rc == COLOG_ECORRUPT ||
              rc == COLOG_ENOMEM,
          "unexpected error %s: %s", colog_errname(rc), colog_errmsg());
    CHECK(colog_errmsg()[0] != '\0', "error %s without a message", colog_errname(rc));
}

static void read_file(colog_type_t type)
{
    colog_colr_t *r;
    int rc = colog__colr_open(&r, g_dirfd, FNAME, type, "fuzz/p0/" FNAME);
    if (rc < 0) {
        check_error(rc);
        return;
    }
    uint32_t nb = colog__colr_nblocks(r);
    if (g_verbose)
        fprintf(stderr, "fuzz_colfile: opened, %u blocks, %llu rows\n", nb,
                (unsigned long long)colog__colr_nrows(r));
    uint64_t rows = 0;
    colog_zone_t z;
    colog_block_t blk;
    for (uint32_t b = 0; b < nb; b++) {
        CHECK(colog__colr_zone(r, b, &z) == 0, "zone %u: %s", b, colog_errmsg());
        CHECK(z.nvalid <= z.nrows && z.nrows >= 1 && z.nrows <= COLOG_BLOCK_ROWS,
              "zone %u: %u rows, %u valid", b, z.nrows, z.nvalid);
        rows += z.nrows;
        rc = colog__colr_read(r, b, &blk);
        if (rc < 0)
            check_error(rc);
        else
            check_block(type, b, &blk, &z);
    }
    CHECK(rows == colog__colr_nrows(r), "zone rows %llu, file rows %llu", (unsigned long long)rows,
          (unsigned long long)colog__colr_nrows(r));
    CHECK(colog__colr_zone(r, nb, &z) == COLOG_EINVAL, "zone past the end");
    CHECK(colog__colr_read(r, nb, &blk) == COLOG_EINVAL, "read past the end");

    /* The first blocks again, as one batch into the caller's buffers. */
    colog_creq_t reqs[MANY];
    colog_block_t outs[MANY];
    uint32_t n = nb < MANY ? nb : MANY;
    for (uint32_t b = 0; b < n; b++)
        reqs[b] = (colog_creq_t){.r = r, .b = b, .buf = g_rbufs[b], .out = &outs[b]};
    rc = colog__colr_read_many(reqs, n, g_ioq);
    if (rc < 0) {
        check_error(rc);
    } else {
        for (uint32_t b = 0; b < n; b++) {
            CHECK(colog__colr_read(r, b, &blk) == 0, "block %u: read_many succeeded, read failed",
                  b);
            CHECK(same_block(type, &blk, &outs[b]), "block %u: read_many and read differ", b);
        }
    }
    colog__colr_close(r);
}

/* ---------------------------------------------------------------- mode 3: the decoders */

enum { D_FOR, D_FOR32, D_DELTA, D_MFOR, D_MDELTA, D_VARINT, D_COUNT };

/* Every value is base + an offset <= maxoff (mod 2^64), and maxoff is attained.
 * Only FOR32 promises that base + maxoff does not wrap: the frames of signed
 * values (i64, time, deltas) wrap legitimately. */
static void check_range(const uint64_t *v, uint32_t n, uint64_t base, uint64_t maxoff, bool wraps)
{
    bool hit_lo = false, hit_hi = false;
    if (!wraps)
        CHECK(base + maxoff >= base, "base %llu + maxoff %llu wraps", (unsigned long long)base,
              (unsigned long long)maxoff);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = v[i] - base;
        CHECK(off <= maxoff, "value %u: offset %llu above maxoff %llu", i, (unsigned long long)off,
              (unsigned long long)maxoff);
        hit_lo |= off == 0;
        hit_hi |= off == maxoff;
    }
    (void)hit_lo; /* a FOR base need not be attained: the column reader checks the zone */
    CHECK(hit_hi, "maxoff %llu not attained", (unsigned long long)maxoff);
}

static void check_srange(const uint64_t *v, uint32_t n, uint64_t vmin, uint64_t vmax)
{
    bool hit_lo = false, hit_hi = false;
    for (uint32_t i = 0; i < n; i++) {
        int64_t x = (int64_t)v[i];
        CHECK(x >= (int64_t)vmin && x <= (int64_t)vmax, "value %u outside [vmin, vmax]", i);
        hit_lo |= x == (int64_t)vmin;
        hit_hi |= x == (int64_t)vmax;
    }
    CHECK(hit_lo && hit_hi, "vmin/vmax not attained");
}

/* Re-encode v[0..n) with encoder d and decode it again: same values. */
static void round_trip(unsigned d, const uint64_t *v, uint32_t n)
{
    size_t bound = colog__enc_bound(n);
    uint8_t *enc = malloc(bound);
    uint64_t *w = malloc((size_t)n * 8), *back = malloc((size_t)n * 8);
    uint64_t *scratch = malloc((size_t)n * 8);
    CHECK(enc && w && back && scratch, "out of memory");
    memcpy(w, v, (size_t)n * 8);
    size_t len = 0, want = 0;
    uint64_t a, b;
    int rc = -1;
    switch (d) {
    case D_FOR:
    case D_FOR32:
        want = colog__for_size(w, n, false);
        len = colog__for_encode(w, n, false, enc);
        rc = colog__for_decode(enc, len, n, back, &a, &b);
        break;
    case D_DELTA:
        want = colog__delta_size(w, n, scratch);
        len = colog__delta_encode(w, n, enc);
        rc = colog__delta_decode(enc, len, n, back, &a, &b);
        break;
    case D_MFOR:
        want = colog__mfor_size(w, n, false);
        len = colog__mfor_encode(w, n, false, enc);
        rc = colog__mfor_decode(enc, len, n, back, &a, &b);
        break;
    case D_MDELTA:
        want = colog__mdelta_size(w, n, scratch);
        len = colog__mdelta_encode(w, n, scratch, enc);
        rc = colog__mdelta_decode(enc, len, n, back, &a, &b);
        break;
    case D_VARINT:
        want = colog__varint_size(w, n, false);
        len = colog__varint_encode(w, n, false, enc);
        rc = colog__varint_decode(enc, len, n, back, &a, &b);
        break;
    }
    CHECK(len == want, "decoder %u: encoder wrote %zu bytes, size function said %zu", d, len, want);
    CHECK(len <= bound, "decoder %u: %zu bytes past the bound %zu", d, len, bound);
    CHECK(rc == 0, "decoder %u: re-encoded values do not decode", d);
    CHECK(memcmp(back, v, (size_t)n * 8) == 0, "decoder %u: round trip changed the values", d);
    free(enc);
    free(w);
    free(back);
    free(scratch);
}

static void fuzz_decoder(unsigned d, const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    uint32_t n = 1u + colog__get_u16(data);
    const uint8_t *p = data + 2;
    size_t len = size - 2;
    /* exact-size copies so that ASan sees any read past the payload */
    uint8_t *in = malloc(len ? len : 1);
    uint64_t *out = malloc((size_t)n * 8);
    CHECK(in && out, "out of memory");
    memcpy(in, p, len);
    uint64_t a = 0, b = 0;
    int rc = -1;
    switch (d) {
    case D_FOR:
        if ((rc = colog__for_decode(in, len, n, out, &a, &b)) == 0)
            check_range(out, n, a, b, true);
        break;
    case D_FOR32: {
        uint32_t *o32 = malloc((size_t)n * 4);
        CHECK(o32, "out of memory");
        if ((rc = colog__for_decode32(in, len, n, o32, &a, &b)) == 0) {
            for (uint32_t i = 0; i < n; i++)
                out[i] = o32[i];
            check_range(out, n, a, b, false);
            CHECK(a + b <= UINT32_MAX, "FOR32 maximum above 2^32 - 1");
        }
        free(o32);
        break;
    }
    case D_DELTA:
        if ((rc = colog__delta_decode(in, len, n, out, &a, &b)) == 0)
            check_srange(out, n, a, b);
        break;
    case D_MFOR:
        if ((rc = colog__mfor_decode(in, len, n, out, &a, &b)) == 0)
            check_range(out, n, a, b, true);
        break;
    case D_MDELTA:
        if ((rc = colog__mdelta_decode(in, len, n, out, &a, &b)) == 0)
            check_srange(out, n, a, b);
        break;
    case D_VARINT:
        if ((rc = colog__varint_decode(in, len, n, out, &a, &b)) == 0)
            check_range(out, n, a, b, true);
        break;
    }
    CHECK(rc == 0 || rc == -1, "decoder %u returned %d", d, rc);
    if (g_verbose)
        fprintf(stderr, "fuzz_colfile: decoder %u, %u values: %s\n", d, n, rc ? "malformed" : "ok");
    if (rc == 0)
        round_trip(d, out, n);
    free(in);
    free(out);
}

/* ---------------------------------------------------------------- entry point */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = data[0], mode = data[1] & 3;
    data += 2;
    size -= 2;
    if (mode == 3) {
        fuzz_decoder(sel % D_COUNT, data, size);
        return 0;
    }
    colog_type_t type = (colog_type_t)(1 + sel % 9);
    uint64_t seed = colog__file_seed(FNAME);
    uint8_t *img = NULL;
    size_t len = size;
    if (mode == 2)
        img = build(data, size, &len);
    if (img == NULL) {
        len = size;
        img = malloc(size ? size : 1);
        CHECK(img, "out of memory");
        memcpy(img, data, size);
    }
    if (mode != 0)
        fix_sums(img, len, seed);
    put_file(img, len);
    free(img);
    read_file(type);
    return 0;
}
