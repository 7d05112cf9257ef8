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
 * MFOR cuts the block into miniblocks of 128 values, each with its own base
 * (its minimum, stored as an offset from the block minimum; the offsets are
 * bit-packed at one width) and its own width, so one large value widens only
 * its miniblock. A full miniblock packs into exactly 2w words, so every
 * miniblock starts on a word and is unpacked by a loop specialised for its
 * width (unpack128_W, fully unrolled: constant shifts, no branches). MDELTA is
 * DELTA with MFOR for the deltas.
 *
 * VARINT stores each offset from the block minimum in 1..9 bytes: a prefix
 * varint whose first byte's trailing zeros give the length (L - 1 zeros then a
 * one, the value in the remaining 8L - L bits; a zero first byte means 8 more
 * bytes). Values stay whole and byte-aligned, so LZ4 finds repeated values
 * and runs that bit-packing hides; decoding is a load, a count of trailing
 * zeros and a shift per value, branch-free. The rows are cut into four
 * streams decoded in step, so four dependency chains (load -> length ->
 * next position) overlap instead of one.
 *
 * Invariants:
 *  1. Decoders never read outside in[0..len): len is checked to be exactly the
 *     header plus the packed sizes the widths imply before any value is
 *     unpacked (FOR, MFOR); VARINT reads 8 bytes at once only while 9 remain.
 *  2. Encoders write exactly what the decoders check: reserved bytes zero,
 *     padding zero, the final word's unused high bits zero, varints of minimal
 *     length. So each block has one encoding per encoding id.
 *  3. A decoded value never wraps: MFOR checks miniblock base + offset below
 *     2^64, so [base, base + maxoff] holds every value (callers compare the
 *     ends with the zone map).
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

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}

static inline unsigned bit_width(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

/* Pack v[0..n) - sub (mod 2^64) at width w (1..64) into
 * colog__pack_size(n, w) bytes of out. */
static void pack_sub(const uint64_t *v, uint32_t n, unsigned w, uint64_t sub, uint8_t *out)
{
    uint64_t acc = 0;
    unsigned fill = 0; /* bits used in acc, always < 64 between values */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = v[i] - sub;
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

static void pack(const uint64_t *v, uint32_t n, unsigned w, uint8_t *out)
{
    pack_sub(v, n, w, 0, out);
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

/* ================================================================ sizes of FOR and DELTA */

size_t colog__for_size(const uint64_t *v, uint32_t n, bool sign)
{
    uint64_t flip = sign ? SIGN_BIT : 0;
    uint64_t lo = ~0ull, hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = v[i] ^ flip;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    return COLOG_ENC_FOR_HDR + (n ? colog__pack_size(n, bit_width(hi - lo)) : 0);
}

/* scratch[0..n-1) = the deltas of v. */
static void deltas(const uint64_t *v, uint32_t n, uint64_t *scratch)
{
    for (uint32_t i = 1; i < n; i++)
        scratch[i - 1] = v[i] - v[i - 1];
}

size_t colog__delta_size(const uint64_t *v, uint32_t n, uint64_t *scratch)
{
    deltas(v, n, scratch);
    return 8 + colog__for_size(scratch, n - 1, true);
}

/* ================================================================ MFOR */

#define MB COLOG_ENC_MB
#define MB_MAX (65536 / MB) /* miniblocks of a full block */

/* Per-miniblock minimum and maximum of v[0..n) (n <= 65536) in the compared
 * domain (sign bit flipped for signed); returns the block minimum. */
static uint64_t mb_ranges(const uint64_t *v, uint32_t n, uint64_t flip, uint64_t *lo, uint64_t *hi)
{
    uint32_t m = colog__mb_count(n);
    uint64_t glo = ~0ull;
    for (uint32_t k = 0; k < m; k++) {
        uint32_t from = k * MB, to = from + MB < n ? from + MB : n;
        uint64_t l = ~0ull, h = 0;
        for (uint32_t i = from; i < to; i++) {
            uint64_t x = v[i] ^ flip;
            l = x < l ? x : l;
            h = x > h ? x : h;
        }
        lo[k] = l;
        hi[k] = h;
        glo = l < glo ? l : glo;
    }
    return n ? glo : 0;
}

/* The MFOR layout of v: widths, miniblock base offsets, base width; returns the size. */
static size_t mfor_plan(const uint64_t *v, uint32_t n, bool sign, uint64_t *glo, uint64_t *mbase,
                        uint8_t *widths, unsigned *bw)
{
    uint64_t lo[MB_MAX], hi[MB_MAX];
    uint64_t flip = sign ? SIGN_BIT : 0;
    uint32_t m = colog__mb_count(n);
    *glo = mb_ranges(v, n, flip, lo, hi);
    uint64_t maxb = 0;
    size_t size = COLOG_ENC_MFOR_HDR + colog__mb_widths_size(n);
    for (uint32_t k = 0; k < m; k++) {
        uint32_t cnt = k + 1 < m ? MB : n - k * MB;
        mbase[k] = lo[k] - *glo;
        maxb = mbase[k] > maxb ? mbase[k] : maxb;
        widths[k] = (uint8_t)bit_width(hi[k] - lo[k]);
        size += colog__pack_size(cnt, widths[k]);
    }
    *bw = bit_width(maxb);
    return size + colog__pack_size(m, *bw);
}

size_t colog__mfor_size(const uint64_t *v, uint32_t n, bool sign)
{
    uint64_t glo, mbase[MB_MAX];
    uint8_t widths[MB_MAX];
    unsigned bw;
    return mfor_plan(v, n, sign, &glo, mbase, widths, &bw);
}

size_t colog__mfor_encode(const uint64_t *v, uint32_t n, bool sign, uint8_t *out)
{
    uint64_t glo, mbase[MB_MAX];
    uint8_t widths[MB_MAX];
    unsigned bw;
    size_t size = mfor_plan(v, n, sign, &glo, mbase, widths, &bw);
    uint64_t flip = sign ? SIGN_BIT : 0, base = glo ^ flip;
    uint32_t m = colog__mb_count(n);
    size_t wsz = colog__mb_widths_size(n);
    st64(out, base);
    out[8] = (uint8_t)bw;
    memset(out + 9, 0, 7);
    uint8_t *p = out + COLOG_ENC_MFOR_HDR;
    memset(p, 0, wsz);
    memcpy(p, widths, m);
    p += wsz;
    if (bw)
        pack(mbase, m, bw, p);
    p += colog__pack_size(m, bw);
    for (uint32_t k = 0; k < m; k++) {
        uint32_t cnt = k + 1 < m ? MB : n - k * MB;
        if (widths[k])
            pack_sub(v + (size_t)k * MB, cnt, widths[k], base + mbase[k], p);
        p += colog__pack_size(cnt, widths[k]);
    }
    return size;
}

/* Unpack one full miniblock (128 values) at the constant width W: 2W words,
 * a straight line of loads, shifts and masks once unrolled. */
#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL64 _Pragma("GCC unroll 64")
#elif defined(__clang__)
#define UNROLL64 _Pragma("unroll 64")
#else
#define UNROLL64
#endif

#define DEFINE_UNPACK128(W)                                                                        \
    static uint64_t unpack128_##W(const uint8_t *in, uint64_t add, uint64_t *out)                  \
    {                                                                                              \
        const uint64_t mask = ~0ull >> ((64 - (W)) & 63);                                          \
        uint64_t mx = 0;                                                                           \
        for (unsigned h = 0; h < 2; h++, in += 8 * (W), out += 64) {                               \
            UNROLL64 for (unsigned i = 0; i < 64; i++)                                             \
            {                                                                                      \
                const unsigned bit = i * (W), sh = bit & 63;                                       \
                const uint8_t *p = in + (bit >> 6) * 8;                                            \
                uint64_t x = ld64(p) >> sh;                                                        \
                if (sh + (W) > 64)                                                                 \
                    x |= ld64(p + 8) << ((64 - sh) & 63);                                          \
                x &= mask;                                                                         \
                mx = x > mx ? x : mx;                                                              \
                out[i] = add + x;                                                                  \
            }                                                                                      \
        }                                                                                          \
        return mx;                                                                                 \
    }

static uint64_t unpack128_0(const uint8_t *in, uint64_t add, uint64_t *out)
{
    (void)in;
    for (unsigned i = 0; i < MB; i++)
        out[i] = add;
    return 0;
}

#define U8X(a, b, c, d, e, f, g, h)                                                                \
    DEFINE_UNPACK128(a)                                                                            \
    DEFINE_UNPACK128(b)                                                                            \
    DEFINE_UNPACK128(c)                                                                            \
    DEFINE_UNPACK128(d)                                                                            \
    DEFINE_UNPACK128(e)                                                                            \
    DEFINE_UNPACK128(f)                                                                            \
    DEFINE_UNPACK128(g)                                                                            \
    DEFINE_UNPACK128(h)
U8X(1, 2, 3, 4, 5, 6, 7, 8)
U8X(9, 10, 11, 12, 13, 14, 15, 16)
U8X(17, 18, 19, 20, 21, 22, 23, 24)
U8X(25, 26, 27, 28, 29, 30, 31, 32)
U8X(33, 34, 35, 36, 37, 38, 39, 40)
U8X(41, 42, 43, 44, 45, 46, 47, 48)
U8X(49, 50, 51, 52, 53, 54, 55, 56)
U8X(57, 58, 59, 60, 61, 62, 63, 64)

typedef uint64_t (*unpack128_fn)(const uint8_t *, uint64_t, uint64_t *);
#define F8(a, b, c, d, e, f, g, h)                                                                 \
    unpack128_##a, unpack128_##b, unpack128_##c, unpack128_##d, unpack128_##e, unpack128_##f,      \
        unpack128_##g, unpack128_##h
static const unpack128_fn unpack128[65] = {unpack128_0,
                                           F8(1, 2, 3, 4, 5, 6, 7, 8),
                                           F8(9, 10, 11, 12, 13, 14, 15, 16),
                                           F8(17, 18, 19, 20, 21, 22, 23, 24),
                                           F8(25, 26, 27, 28, 29, 30, 31, 32),
                                           F8(33, 34, 35, 36, 37, 38, 39, 40),
                                           F8(41, 42, 43, 44, 45, 46, 47, 48),
                                           F8(49, 50, 51, 52, 53, 54, 55, 56),
                                           F8(57, 58, 59, 60, 61, 62, 63, 64)};

/* Whether the unused high bits of the last word of k values packed at w are zero. */
static bool tail_clean(const uint8_t *packed, uint32_t k, unsigned w)
{
    unsigned used = (unsigned)(((uint64_t)k * w) & 63);
    if (!used)
        return true;
    return (ld64(packed + colog__pack_size(k, w) - 8) >> used) == 0;
}

int colog__mfor_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *base,
                       uint64_t *maxoff)
{
    if (len < COLOG_ENC_MFOR_HDR || n > 65536)
        return -1;
    for (int i = 9; i < 16; i++)
        if (in[i] != 0)
            return -1;
    *base = ld64(in);
    unsigned bw = in[8];
    uint32_t m = colog__mb_count(n);
    size_t wsz = colog__mb_widths_size(n);
    if (bw > 64 || len - COLOG_ENC_MFOR_HDR < wsz)
        return -1;
    const uint8_t *widths = in + COLOG_ENC_MFOR_HDR;
    size_t need = COLOG_ENC_MFOR_HDR + wsz + colog__pack_size(m, bw);
    for (uint32_t k = 0; k < m; k++) {
        uint32_t cnt = k + 1 < m ? MB : n - k * MB;
        if (widths[k] > 64)
            return -1;
        need += colog__pack_size(cnt, widths[k]);
    }
    for (size_t k = m; k < wsz; k++)
        if (widths[k] != 0)
            return -1;
    if (len != need)
        return -1;
    const uint8_t *bases = widths + wsz;
    if (bw && !tail_clean(bases, m, bw))
        return -1;
    uint64_t mbase[MB_MAX];
    if (m)
        unpack64(bases, m, bw, 0, mbase);
    const uint8_t *p = bases + colog__pack_size(m, bw);
    uint64_t mx = 0, wrap = 0;
    for (uint32_t k = 0; k < m; k++) {
        unsigned w = widths[k];
        uint64_t x;
        if (k + 1 < m || n % MB == 0) {
            x = unpack128[w](p, *base + mbase[k], out + (size_t)k * MB);
            p += 16 * (size_t)w;
        } else {
            uint32_t cnt = n - k * MB;
            if (w && !tail_clean(p, cnt, w))
                return -1;
            x = unpack64(p, cnt, w, *base + mbase[k], out + (size_t)k * MB);
            p += colog__pack_size(cnt, w);
        }
        wrap |= x > ~0ull - mbase[k];
        x += mbase[k];
        mx = x > mx ? x : mx;
    }
    if (wrap)
        return -1;
    *maxoff = mx;
    return 0;
}

/* ================================================================ MDELTA */

size_t colog__mdelta_size(const uint64_t *v, uint32_t n, uint64_t *scratch)
{
    deltas(v, n, scratch);
    return 8 + colog__mfor_size(scratch, n - 1, true);
}

size_t colog__mdelta_encode(const uint64_t *v, uint32_t n, uint64_t *scratch, uint8_t *out)
{
    st64(out, v[0]);
    deltas(v, n, scratch);
    return 8 + colog__mfor_encode(scratch, n - 1, true, out + 8);
}

/* out[0] = first, out[1..n) hold the deltas: turn them into values (prefix sum)
 * and report the smallest and largest as int64. */
static void prefix_sum(uint64_t *out, uint32_t n, uint64_t first, uint64_t *vmin, uint64_t *vmax)
{
    uint64_t prev = first;
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
}

int colog__mdelta_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *vmin,
                         uint64_t *vmax)
{
    uint64_t base, maxoff;
    if (n == 0 || len < 8)
        return -1;
    if (colog__mfor_decode(in + 8, len - 8, n - 1, out + 1, &base, &maxoff) < 0)
        return -1;
    prefix_sum(out, n, ld64(in), vmin, vmax);
    return 0;
}

/* ================================================================ VARINT */

/* Rows of VARINT stream s (0..3) of a block of n: [s*q, min(n, (s+1)*q)), q = ceil(n/4). */
static inline void pv_rows(uint32_t n, unsigned s, uint32_t *from, uint32_t *to)
{
    uint32_t q = n / 4 + (n % 4 != 0);
    uint64_t a = (uint64_t)s * q, b = a + q;
    *from = (uint32_t)(a < n ? a : n);
    *to = (uint32_t)(b < n ? b : n);
}

/* Bytes of the prefix varint of a value of bit width b: 1..8 below 2^56, else 9. */
static const uint8_t pv_len_of_width[65] = {1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                            3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5,
                                            5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 8,
                                            8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9};

static inline unsigned pv_len(uint64_t x)
{
    return pv_len_of_width[bit_width(x)];
}

static uint64_t block_min(const uint64_t *v, uint32_t n, uint64_t flip)
{
    uint64_t lo = ~0ull;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = v[i] ^ flip;
        lo = k < lo ? k : lo;
    }
    return (n ? lo : flip) ^ flip;
}

size_t colog__varint_size(const uint64_t *v, uint32_t n, bool sign)
{
    uint64_t base = block_min(v, n, sign ? SIGN_BIT : 0);
    size_t size = COLOG_ENC_VARINT_HDR;
    for (uint32_t i = 0; i < n; i++)
        size += pv_len(v[i] - base);
    return size;
}

size_t colog__varint_encode(const uint64_t *v, uint32_t n, bool sign, uint8_t *out)
{
    uint64_t base = block_min(v, n, sign ? SIGN_BIT : 0);
    st64(out, base);
    memset(out + 8, 0, 16);
    uint8_t *data = out + COLOG_ENC_VARINT_HDR, *p = data;
    for (unsigned s = 0; s < 4; s++) {
        uint32_t from, to;
        pv_rows(n, s, &from, &to);
        for (uint32_t i = from; i < to; i++) {
            uint64_t x = v[i] - base;
            unsigned l = pv_len(x);
            if (l <= 8) {
                /* a whole word is stored; the bytes past l are overwritten by the
                 * next value or lie in the slack colog__enc_bound leaves */
                st64(p, x << l | 1ull << (l - 1));
            } else {
                p[0] = 0;
                st64(p + 1, x);
            }
            p += l;
        }
        if (s < 3) {
            uint32_t end = (uint32_t)(p - data);
            memcpy(out + 8 + 4 * s, &(uint32_t){htole32(end)}, 4);
        }
    }
    return (size_t)(p - out);
}

/* Smallest offset that takes l bytes (minimal length): 2^(7(l-1)), 0 for l = 1. */
static const uint64_t pv_floor[10] = {0,          0,          1ull << 7,  1ull << 14, 1ull << 21,
                                      1ull << 28, 1ull << 35, 1ull << 42, 1ull << 49, 1ull << 56};

/* One prefix varint at p with at least 9 readable bytes; *bad is set if it is
 * not of minimal length. Branch-free: lengths of real data are unpredictable. */
static inline uint64_t pv_get(const uint8_t **pp, bool *bad)
{
    const uint8_t *p = *pp;
    unsigned l = (unsigned)__builtin_ctz(p[0] | 0x100u) + 1; /* 9 when p[0] == 0 */
    uint64_t w = ld64(p), w9 = ld64(p + 1);
    uint64_t x = (w & (~0ull >> ((64 - 8 * l) & 63))) >> l; /* l = 9: replaced below */
    x = l == 9 ? w9 : x;
    *bad |= x < pv_floor[l];
    *pp = p + l;
    return x;
}

/* Decode rows [i, to) of one stream from *pp, which ends at end; -1 if the
 * stream ends early. */
static int pv_run(const uint8_t **pp, const uint8_t *end, uint32_t i, uint32_t to, uint64_t add,
                  uint64_t *out, uint64_t *mx, bool *bad)
{
    const uint8_t *p = *pp;
    uint64_t m = *mx;
    for (; i < to && end - p >= 9; i++) {
        uint64_t x = pv_get(&p, bad);
        m = x > m ? x : m;
        out[i] = add + x;
    }
    for (; i < to; i++) {
        uint8_t t[16] = {0};
        size_t left = (size_t)(end - p);
        if (left == 0)
            return -1;
        memcpy(t, p, left < 9 ? left : 9);
        const uint8_t *q = t;
        uint64_t x = pv_get(&q, bad);
        if ((size_t)(q - t) > left)
            return -1;
        p += q - t;
        m = x > m ? x : m;
        out[i] = add + x;
    }
    *pp = p;
    *mx = m;
    return 0;
}

int colog__varint_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *base,
                         uint64_t *maxoff)
{
    if (len < COLOG_ENC_VARINT_HDR || ld32(in + 20) != 0)
        return -1;
    *base = ld64(in);
    const uint8_t *data = in + COLOG_ENC_VARINT_HDR;
    size_t dlen = len - COLOG_ENC_VARINT_HDR;
    size_t ends[4] = {ld32(in + 8), ld32(in + 12), ld32(in + 16), dlen};
    if (ends[0] > ends[1] || ends[1] > ends[2] || ends[2] > dlen)
        return -1;
    const uint8_t *p[4], *end[4];
    uint32_t from[4], to[4];
    for (unsigned s = 0; s < 4; s++) {
        p[s] = data + (s ? ends[s - 1] : 0);
        end[s] = data + ends[s];
        pv_rows(n, s, &from[s], &to[s]);
    }
    uint64_t add = *base, mx = 0;
    bool bad = false;
    /* four independent streams decoded in step: four dependency chains (load,
     * count trailing zeros, advance) in flight instead of one */
    uint32_t k = 0, kmax = to[3] - from[3];
    for (; k < kmax && end[0] - p[0] >= 9 && end[1] - p[1] >= 9 && end[2] - p[2] >= 9 &&
           end[3] - p[3] >= 9;
         k++) {
        uint64_t x0 = pv_get(&p[0], &bad), x1 = pv_get(&p[1], &bad);
        uint64_t x2 = pv_get(&p[2], &bad), x3 = pv_get(&p[3], &bad);
        out[from[0] + k] = add + x0;
        out[from[1] + k] = add + x1;
        out[from[2] + k] = add + x2;
        out[from[3] + k] = add + x3;
        uint64_t a = x0 > x1 ? x0 : x1, b = x2 > x3 ? x2 : x3;
        a = a > b ? a : b;
        mx = a > mx ? a : mx;
    }
    for (unsigned s = 0; s < 4; s++) {
        if (pv_run(&p[s], end[s], from[s] + k, to[s], add, out, &mx, &bad) < 0)
            return -1;
        if (p[s] != end[s])
            return -1;
    }
    if (bad)
        return -1;
    *maxoff = mx;
    return 0;
}
