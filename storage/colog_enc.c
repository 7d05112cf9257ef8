/*
 * colog_enc.c — bit-packing, frame of reference and delta encodings of
 * column-file blocks (see colog_enc.h; bytes in docs/FORMAT.md).
 *
 * Design. A block's values are held as 64-bit words. FOR subtracts the block
 * minimum (modulo 2^64, which is exact for unsigned and, with the sign bit
 * flipped for the comparison, for signed values) and packs the offsets at the
 * smallest width that holds the largest one, 0..64 bits. DELTA keeps the first
 * value, takes successive differences modulo 2^64 and FOR-encodes them as
 * signed values, so ascending times cost a few bits a row and any sequence,
 * even one that wraps, round-trips exactly.
 *
 * Packing: value i occupies bits [i*w, i*w + w) of a little-endian stream of
 * 64-bit words, least significant bit first; a value may straddle two words.
 * The packer keeps one accumulator word; the unpacker reads at most two words
 * per value. Both are branch-light loops over whole blocks (65536 values in
 * tens of microseconds).
 *
 * Invariants:
 *  1. Decoders never read outside in[0..len): len is checked to be exactly the
 *     header plus colog__pack_size(n, width) before any value is unpacked.
 *  2. Encoders write exactly what the decoders check: reserved bytes zero and
 *     the final word's unused high bits zero.
 */
#include "colog_enc.h"

#include <endian.h>
#include <string.h>

#define SIGN_BIT (1ull << 63)

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

static inline void st64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static inline unsigned bit_width(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

/* Pack v[0..n) at width w (1..64) into colog__pack_size(n, w) bytes of out. */
static void pack(const uint64_t *v, uint32_t n, unsigned w, uint8_t *out)
{
    uint64_t acc = 0;
    unsigned fill = 0; /* bits used in acc, always < 64 between values */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        acc |= x << fill;
        fill += w;
        if (fill >= 64) {
            st64(out, acc);
            out += 8;
            fill -= 64;
            acc = fill ? x >> (w - fill) : 0;
        }
    }
    if (fill)
        st64(out, acc);
}

/* Unpack n values of width w (0..64) from in, add base, store as T; the
 * largest packed offset goes to *maxoff. in holds colog__pack_size(n, w) bytes. */
#define DEFINE_UNPACK(NAME, T)                                                                     \
    static uint64_t NAME(const uint8_t *in, uint32_t n, unsigned w, uint64_t base, T *out)         \
    {                                                                                              \
        if (w == 0) {                                                                              \
            for (uint32_t i = 0; i < n; i++)                                                       \
                out[i] = (T)base;                                                                  \
            return 0;                                                                              \
        }                                                                                          \
        uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;                                         \
        uint64_t maxoff = 0, bit = 0;                                                              \
        for (uint32_t i = 0; i < n; i++, bit += w) {                                               \
            const uint8_t *p = in + (bit >> 6) * 8;                                                \
            unsigned sh = (unsigned)(bit & 63);                                                    \
            uint64_t x = ld64(p) >> sh;                                                            \
            if (sh + w > 64)                                                                       \
                x |= ld64(p + 8) << (64 - sh);                                                     \
            x &= mask;                                                                             \
            maxoff = x > maxoff ? x : maxoff;                                                      \
            out[i] = (T)(base + x);                                                                \
        }                                                                                          \
        return maxoff;                                                                             \
    }

DEFINE_UNPACK(unpack64, uint64_t)
DEFINE_UNPACK(unpack32, uint32_t)

/* Write the FOR frame (base, width, zero pad) and pack v (already offsets). */
static size_t put_frame(const uint64_t *v, uint32_t n, uint64_t base, uint64_t maxoff, uint8_t *out)
{
    unsigned w = bit_width(maxoff);
    st64(out, base);
    out[8] = (uint8_t)w;
    memset(out + 9, 0, 7);
    if (w)
        pack(v, n, w, out + COLOG_ENC_FOR_HDR);
    return COLOG_ENC_FOR_HDR + colog__pack_size(n, w);
}

size_t colog__for_encode(uint64_t *v, uint32_t n, bool sign, uint8_t *out)
{
    uint64_t flip = sign ? SIGN_BIT : 0;
    uint64_t lo = ~0ull, hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = v[i] ^ flip;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    if (n == 0)
        lo = hi = flip;
    uint64_t base = lo ^ flip;
    for (uint32_t i = 0; i < n; i++)
        v[i] -= base;
    return put_frame(v, n, base, hi - lo, out);
}

/* Parse a FOR frame at in[0..len) for n values; -1 if malformed. */
static int get_frame(const uint8_t *in, size_t len, uint32_t n, uint64_t *base, unsigned *w)
{
    if (len < COLOG_ENC_FOR_HDR)
        return -1;
    for (int i = 9; i < 16; i++)
        if (in[i] != 0)
            return -1;
    *base = ld64(in);
    *w = in[8];
    if (*w > 64 || len != COLOG_ENC_FOR_HDR + colog__pack_size(n, *w))
        return -1;
    /* The unused high bits of the last word must be zero (one encoding per block). */
    unsigned used = (unsigned)(((uint64_t)n * *w) & 63);
    if (used && ld64(in + len - 8) >> used)
        return -1;
    return 0;
}

int colog__for_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *base,
                      uint64_t *maxoff)
{
    unsigned w;
    if (get_frame(in, len, n, base, &w) < 0)
        return -1;
    *maxoff = unpack64(in + COLOG_ENC_FOR_HDR, n, w, *base, out);
    return 0;
}

int colog__for_decode32(const uint8_t *in, size_t len, uint32_t n, uint32_t *out, uint64_t *base,
                        uint64_t *maxoff)
{
    unsigned w;
    if (get_frame(in, len, n, base, &w) < 0)
        return -1;
    /* Then base + offset < 2^33 cannot wrap; out-of-range values fail below. */
    if (*base > UINT32_MAX || w > 32)
        return -1;
    *maxoff = unpack32(in + COLOG_ENC_FOR_HDR, n, w, *base, out);
    if (*maxoff > UINT32_MAX - *base)
        return -1;
    return 0;
}

size_t colog__delta_encode(uint64_t *v, uint32_t n, uint8_t *out)
{
    st64(out, v[0]);
    for (uint32_t i = n - 1; i > 0; i--)
        v[i] -= v[i - 1];
    return 8 + colog__for_encode(v + 1, n - 1, true, out + 8);
}

int colog__delta_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *vmin,
                        uint64_t *vmax)
{
    uint64_t base, maxoff;
    if (n == 0 || len < 8)
        return -1;
    if (colog__for_decode(in + 8, len - 8, n - 1, out + 1, &base, &maxoff) < 0)
        return -1;
    uint64_t prev = ld64(in);
    uint64_t lo = prev ^ SIGN_BIT, hi = lo;
    out[0] = prev;
    for (uint32_t i = 1; i < n; i++) {
        prev += out[i];
        out[i] = prev;
        uint64_t k = prev ^ SIGN_BIT;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    *vmin = lo ^ SIGN_BIT;
    *vmax = hi ^ SIGN_BIT;
    return 0;
}
