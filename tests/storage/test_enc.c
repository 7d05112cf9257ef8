/*
 * test_enc.c — Criterion suite of colog_enc.c (block value encodings).
 *
 * Round trips of every encoding over value patterns that stress them (extremes,
 * constants, one outlier per miniblock, sorted times, partial miniblocks), the
 * exact-size functions against the encoders, byte layouts of the new encodings
 * against docs/FORMAT.md examples, and damage: every truncation and every
 * single-byte change of small payloads must either be rejected or decode to
 * values inside the reported [base, base + maxoff] (never a crash or a read
 * outside the payload; ASan watches).
 */
#include "colog_enc.h"
#include "colog_storage_int.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define NPAT 10

static uint64_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s ^ (*s >> 29);
}

/* Pattern k of n values. */
static void pattern(int k, uint64_t *v, uint32_t n)
{
    uint64_t s = 77 + (uint64_t)k;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = rng(&s);
        switch (k) {
        case 0: /* constant */
            v[i] = 42;
            break;
        case 1: /* extremes */
            v[i] = (uint64_t[]){0, UINT64_MAX, 1ull << 63, (1ull << 63) - 1, 1}[r % 5];
            break;
        case 2: /* small values, one huge outlier per 300 */
            v[i] = i % 300 == 17 ? r : r % 100;
            break;
        case 3: /* sorted microsecond times with exponential-ish gaps */
            v[i] = (i ? v[i - 1] : 1772366400000000ull) + (r % 65536) * (r % 7 == 0 ? 50 : 1);
            break;
        case 4: /* random full 64 bits */
            v[i] = r;
            break;
        case 5: /* log-normal-like byte counts */
            v[i] = (r & 0xff) << (r >> 58);
            break;
        case 6: /* negative and positive around zero (as int64) */
            v[i] = (uint64_t)((int64_t)(r % 2001) - 1000);
            break;
        case 7: /* INT64_MIN..INT64_MAX alternation (wrapping deltas) */
            v[i] = i & 1 ? 1ull << 63 : (1ull << 63) - 1;
            break;
        case 8: /* long runs of few values */
            v[i] = (i / 1000) % 3;
            break;
        default: /* values >= 2^56: 9-byte varints */
            v[i] = UINT64_MAX - r % 1000;
            break;
        }
    }
}

static const uint32_t sizes[] = {1, 2, 3, 127, 128, 129, 255, 256, 300, 1000, 65535, 65536};
#define NSIZES (sizeof sizes / sizeof sizes[0])

enum { E_FOR, E_DELTA, E_MFOR, E_MDELTA, E_VARINT, NENC };

/* Encode v with encoding e (v unchanged), returning the length. */
static size_t encode(int e, const uint64_t *v, uint32_t n, bool sign, uint8_t *out, uint64_t *tmp)
{
    switch (e) {
    case E_FOR:
        memcpy(tmp, v, n * sizeof *v);
        return colog__for_encode(tmp, n, sign, out);
    case E_DELTA:
        memcpy(tmp, v, n * sizeof *v);
        return colog__delta_encode(tmp, n, out);
    case E_MFOR:
        return colog__mfor_encode(v, n, sign, out);
    case E_MDELTA:
        return colog__mdelta_encode(v, n, tmp, out);
    default:
        return colog__varint_encode(v, n, sign, out);
    }
}

static size_t size_of(int e, const uint64_t *v, uint32_t n, bool sign, uint64_t *tmp)
{
    switch (e) {
    case E_FOR:
        return colog__for_size(v, n, sign);
    case E_DELTA:
        return colog__delta_size(v, n, tmp);
    case E_MFOR:
        return colog__mfor_size(v, n, sign);
    case E_MDELTA:
        return colog__mdelta_size(v, n, tmp);
    default:
        return colog__varint_size(v, n, sign);
    }
}

/* Decode; lo/hi: the value range the decoder vouches for, in the compared
 * domain's bits (base and base + maxoff, or the delta decoders' min and max). */
static int decode(int e, const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *lo,
                  uint64_t *hi)
{
    uint64_t base = 0, maxoff = 0;
    int rc;
    switch (e) {
    case E_FOR:
        rc = colog__for_decode(in, len, n, out, &base, &maxoff);
        break;
    case E_DELTA:
        return colog__delta_decode(in, len, n, out, lo, hi);
    case E_MFOR:
        rc = colog__mfor_decode(in, len, n, out, &base, &maxoff);
        break;
    case E_MDELTA:
        return colog__mdelta_decode(in, len, n, out, lo, hi);
    default:
        rc = colog__varint_decode(in, len, n, out, &base, &maxoff);
        break;
    }
    *lo = base;
    *hi = base + maxoff;
    return rc;
}

static bool is_delta(int e)
{
    return e == E_DELTA || e == E_MDELTA;
}

Test(enc, roundtrip_all)
{
    uint64_t *v = malloc(65536 * 8), *out = malloc(65536 * 8), *tmp = malloc(65536 * 8);
    uint8_t *buf = malloc(colog__enc_bound(65536));
    for (int k = 0; k < NPAT; k++)
        for (size_t si = 0; si < NSIZES; si++)
            for (int e = 0; e < NENC; e++)
                for (int sign = 0; sign < 2; sign++) {
                    uint32_t n = sizes[si];
                    if (is_delta(e) && !sign)
                        continue; /* deltas are signed by definition */
                    pattern(k, v, n);
                    size_t want = size_of(e, v, n, sign, tmp);
                    size_t len = encode(e, v, n, sign, buf, tmp);
                    cr_assert_eq(len, want, "size fn: enc %d pat %d n %u sign %d", e, k, n, sign);
                    cr_assert_leq(len, colog__enc_bound(n));
                    uint64_t lo, hi;
                    memset(out, 0xa5, n * 8);
                    cr_assert_eq(decode(e, buf, len, n, out, &lo, &hi), 0,
                                 "enc %d pat %d n %u sign %d", e, k, n, sign);
                    uint64_t flip = sign ? 1ull << 63 : 0, rlo = ~0ull, rhi = 0;
                    for (uint32_t i = 0; i < n; i++) {
                        cr_assert_eq(out[i], v[i], "enc %d pat %d n %u sign %d row %u", e, k, n,
                                     sign, i);
                        rlo = (v[i] ^ flip) < rlo ? v[i] ^ flip : rlo;
                        rhi = (v[i] ^ flip) > rhi ? v[i] ^ flip : rhi;
                    }
                    cr_assert_eq(lo, rlo ^ flip, "min: enc %d pat %d n %u", e, k, n);
                    cr_assert_eq(hi, rhi ^ flip, "max: enc %d pat %d n %u", e, k, n);
                }
    free(v);
    free(out);
    free(tmp);
    free(buf);
}

Test(enc, zero_values)
{
    uint8_t buf[64];
    uint64_t out[1], base, maxoff;
    size_t len = colog__mfor_encode(NULL, 0, false, buf);
    cr_assert_eq(len, 16);
    cr_assert_eq(colog__mfor_decode(buf, len, 0, out, &base, &maxoff), 0);
    len = colog__varint_encode(NULL, 0, false, buf);
    cr_assert_eq(len, 24);
    cr_assert_eq(colog__varint_decode(buf, len, 0, out, &base, &maxoff), 0);
    cr_assert_eq(colog__mdelta_decode(buf, 8, 0, out, &base, &maxoff), -1, "n = 0");
}

/* docs/FORMAT.md example: MFOR of 1, 2, 3 and 130 values i % 4 + 10 * (i >= 128). */
Test(enc, mfor_layout)
{
    uint64_t v[130];
    for (int i = 0; i < 130; i++)
        v[i] = (uint64_t)(i % 4) + (i >= 128 ? 10 : 0) + 5;
    uint8_t buf[512];
    size_t len = colog__mfor_encode(v, 130, false, buf);
    /* header: base 5, base width 4 (largest miniblock base 10), 7 zero bytes */
    cr_assert_eq(colog__get_u64(buf), 5);
    cr_assert_eq(buf[8], 4);
    for (int i = 9; i < 16; i++)
        cr_assert_eq(buf[i], 0);
    /* widths: 2 miniblocks (2 bits, 1 bit: 128 % 4 = 0, 129 % 4 = 1), padded to 8 bytes */
    const uint8_t wd[8] = {2, 1, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(buf + 16, wd, 8);
    /* bases 0 and 10 at 4 bits: 0xa0 in one word */
    cr_assert_eq(colog__get_u64(buf + 24), 0xa0);
    /* miniblock 0: 128 values 0,1,2,3,... at 2 bits = 4 words of 0xe4e4... */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(colog__get_u64(buf + 32 + 8 * i), 0xe4e4e4e4e4e4e4e4ull);
    /* miniblock 1: values 15, 16 minus 15: 0, 1 at 1 bit = 0b10 */
    cr_assert_eq(colog__get_u64(buf + 64), 2);
    cr_assert_eq(len, 72);
}

/* docs/FORMAT.md example: VARINT of 5, 6, 300, 5 + 2^56, 7. */
Test(enc, varint_layout)
{
    const uint64_t v[5] = {5, 6, 300, 5 + (1ull << 56), 7};
    uint8_t buf[128];
    size_t len = colog__varint_encode(v, 5, false, buf);
    /* base 5; rows cut in quarters of ceil(5/4) = 2: streams {0,1} {2,3} {4} {} */
    cr_assert_eq(colog__get_u64(buf), 5);
    const uint8_t want[] = {
        2,         0,    0, 0,                /* end of stream 0: 2 bytes */
        2 + 2 + 9, 0,    0, 0,                /* end of stream 1 */
        14,        0,    0, 0,                /* end of stream 2 */
        0,         0,    0, 0,                /* reserved */
        0x01,                                 /* 0: 0 << 1 | 1 */
        0x03,                                 /* 1: 1 << 1 | 1 */
        0x9e,      0x04,                      /* 295 = 0x127: 0x127 << 2 | 2 = 0x49e */
        0x00,      0,    0, 0, 0, 0, 0, 0, 1, /* 2^56: zero byte, then 8 bytes LE */
        0x05,                                 /* 2: 2 << 1 | 1 */
    };
    cr_assert_eq(len, 8 + sizeof want);
    cr_assert_arr_eq(buf + 8, want, sizeof want);
}

/* Damage: every truncation and every byte XOR of small payloads of each
 * encoding. A decode that succeeds must stay within what it reports. */
Test(enc, damaged_payloads)
{
    uint64_t v[300], out[301], tmp[300];
    uint8_t *buf = malloc(colog__enc_bound(300)), *bad = malloc(colog__enc_bound(300));
    static const uint32_t ns[] = {1, 5, 129, 300};
    for (int k = 0; k < NPAT; k++)
        for (int e = 0; e < NENC; e++)
            for (size_t ni = 0; ni < 4; ni++) {
                uint32_t n = ns[ni];
                bool sign = is_delta(e) || k % 2;
                pattern(k, v, n);
                size_t len = encode(e, v, n, sign, buf, tmp);
                uint64_t lo, hi;
                for (size_t l = 0; l < len; l++) {
                    memcpy(bad, buf, l); /* exact-size copy: ASan sees any overread */
                    cr_assert_eq(decode(e, bad, l, n, out, &lo, &hi), -1,
                                 "enc %d pat %d n %u: truncated to %zu accepted", e, k, n, l);
                }
                /* a varint per value: other row counts cannot parse (bit-packed
                 * encodings of width 0 have the same length for any n) */
                if (e == E_VARINT) {
                    cr_assert_eq(decode(e, buf, len, n + 1, out, &lo, &hi), -1, "n + 1");
                    cr_assert_eq(decode(e, buf, len, n - 1, out, &lo, &hi), -1, "n - 1");
                }
                static const uint8_t masks[3] = {0x01, 0x80, 0xff};
                for (size_t at = 0; at < len; at++)
                    for (int m = 0; m < 3; m++) {
                        memcpy(bad, buf, len);
                        bad[at] ^= masks[m];
                        if (decode(e, bad, len, n, out, &lo, &hi) != 0)
                            continue;
                        /* frame decoders: value - base <= maxoff (mod 2^64; the
                         * zone check of the reader rejects a wrapping base +
                         * maxoff); delta decoders: min <= value <= max as int64 */
                        uint64_t flip = 1ull << 63;
                        for (uint32_t i = 0; i < n; i++)
                            cr_assert(is_delta(e) ? (out[i] ^ flip) >= (lo ^ flip) &&
                                                        (out[i] ^ flip) <= (hi ^ flip)
                                                  : out[i] - lo <= hi - lo,
                                      "enc %d n %u byte %zu: value outside the reported range", e,
                                      n, at);
                    }
            }
    free(buf);
    free(bad);
}

/* Hand-made malformed payloads that a checksum would not catch. */
Test(enc, malformed)
{
    uint64_t out[300], base, maxoff, v[300];
    uint8_t buf[4096];
    for (int i = 0; i < 300; i++)
        v[i] = (uint64_t)i;
    size_t len = colog__mfor_encode(v, 300, false, buf);
    uint8_t g[4096];
    /* miniblock width 65 */
    memcpy(g, buf, len);
    g[16] = 65;
    cr_assert_eq(colog__mfor_decode(g, len, 300, out, &base, &maxoff), -1);
    /* width table padding not zero (3 miniblocks, 5 padding bytes) */
    memcpy(g, buf, len);
    g[16 + 5] = 1;
    cr_assert_eq(colog__mfor_decode(g, len, 300, out, &base, &maxoff), -1);
    /* base width 65 */
    memcpy(g, buf, len);
    g[8] = 65;
    cr_assert_eq(colog__mfor_decode(g, len, 300, out, &base, &maxoff), -1);
    /* reserved */
    memcpy(g, buf, len);
    g[12] = 1;
    cr_assert_eq(colog__mfor_decode(g, len, 300, out, &base, &maxoff), -1);
    /* a miniblock base + offset past 2^64: bases at width 64 */
    {
        uint8_t h[16 + 8 + 8 + 8 * 2] = {0};
        h[8] = 64;                          /* base width */
        h[16] = 1;                          /* one miniblock of 2 values, width 1 */
        colog__put_u64(h + 24, UINT64_MAX); /* miniblock base */
        colog__put_u64(h + 32, 2);          /* offsets 0, 1 */
        cr_assert_eq(colog__mfor_decode(h, 40, 2, out, &base, &maxoff), -1, "wraps");
        colog__put_u64(h + 24, UINT64_MAX - 1);
        cr_assert_eq(colog__mfor_decode(h, 40, 2, out, &base, &maxoff), 0);
        cr_assert_eq(maxoff, UINT64_MAX);
        /* unused bits of the last word of the last miniblock */
        colog__put_u64(h + 32, 2 | 1ull << 9);
        cr_assert_eq(colog__mfor_decode(h, 40, 2, out, &base, &maxoff), -1);
    }
    /* VARINT: a non-minimal varint (1 as two bytes), stream ends out of order,
     * reserved bytes, a 9-byte varint below 2^56 */
    {
        const uint64_t w[1] = {1};
        size_t l = colog__varint_encode(w, 1, false, g);
        cr_assert_eq(l, 25);
        cr_assert_eq(colog__varint_decode(g, l, 1, out, &base, &maxoff), 0);
        for (int s = 0; s < 3; s++)
            colog__put_u32(g + 8 + 4 * s, 2); /* streams 1-3 empty */
        g[24] = 0x06;                         /* 1 << 2 | 2: 2 bytes */
        g[25] = 0;
        cr_assert_eq(colog__varint_decode(g, 26, 1, out, &base, &maxoff), -1, "non-minimal");
        g[24] = 0x03; /* 1 byte, then an extra byte */
        cr_assert_eq(colog__varint_decode(g, 26, 1, out, &base, &maxoff), -1, "trailing");
        for (int s = 0; s < 3; s++)
            colog__put_u32(g + 8 + 4 * s, 9);
        g[24] = 0;
        memset(g + 25, 0, 8);
        g[25] = 1;
        cr_assert_eq(colog__varint_decode(g, 33, 1, out, &base, &maxoff), -1, "9 bytes, small");
        g[32] = 1; /* 1 + 2^56: minimal at 9 bytes; plus the base 1 */
        cr_assert_eq(colog__varint_decode(g, 33, 1, out, &base, &maxoff), 0);
        cr_assert_eq(out[0], 2 + (1ull << 56));
    }
    {
        len = colog__varint_encode(v, 300, false, buf);
        memcpy(g, buf, len);
        colog__put_u32(g + 8, colog__get_u32(buf + 12) + 1); /* end 0 > end 1 */
        cr_assert_eq(colog__varint_decode(g, len, 300, out, &base, &maxoff), -1);
        memcpy(g, buf, len);
        colog__put_u32(g + 8, colog__get_u32(buf + 8) - 1); /* stream 0 a byte short */
        cr_assert_eq(colog__varint_decode(g, len, 300, out, &base, &maxoff), -1);
        memcpy(g, buf, len);
        g[20] = 1;
        cr_assert_eq(colog__varint_decode(g, len, 300, out, &base, &maxoff), -1);
        memcpy(g, buf, len);
        cr_assert_eq(colog__varint_decode(g, len, 300, out, &base, &maxoff), 0);
    }
}
