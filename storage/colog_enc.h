/*
 * colog_enc.h — This file is private to colog's storage layer.
 *
 * Value encodings of column-file blocks: bit-packing, frame of reference (FOR)
 * and delta + FOR. They work on 64-bit words; signed columns are handled by
 * flipping the sign bit for comparisons, so one code path serves time, i64,
 * u8..u64 and dictionary codes. docs/FORMAT.md ("Column files", "Encodings")
 * specifies the bytes; the ids below are written to disk and frozen.
 */
#ifndef COLOG_ENC_H
#define COLOG_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encoding ids (block header byte 12). Frozen: never renumber. */
enum {
    COLOG_ENC_FOR = 1,   /* frame of reference + bit-packing: integers and codes */
    COLOG_ENC_DELTA = 2, /* first value, then FOR of the deltas: time */
    COLOG_ENC_PLAIN = 3, /* little-endian 8-byte words as they are: f64 */
};

#define COLOG_ENC_FOR_HDR 16   /* base u64, width u8, 7 zero bytes */
#define COLOG_ENC_DELTA_HDR 24 /* first u64, base u64, width u8, 7 zero bytes */

/* Bytes of n values packed at width bits: whole 8-byte words. */
static inline size_t colog__pack_size(uint32_t n, unsigned width)
{
    return (size_t)(((uint64_t)n * width + 63) / 64 * 8);
}

/* Largest encoded size of n values under any encoding (header included). */
static inline size_t colog__enc_bound(uint32_t n)
{
    return COLOG_ENC_DELTA_HDR + (size_t)n * 8;
}

/* FOR-encode v[0..n) into out (>= colog__enc_bound(n) bytes); returns the bytes
 * written. sign: compare values as int64 (time, i64). v is overwritten (it holds
 * the subtracted values afterwards). */
size_t colog__for_encode(uint64_t *v, uint32_t n, bool sign, uint8_t *out);

/* Decode a FOR payload in[0..len) of exactly n values into out. Returns 0, or
 * -1 if the payload is malformed (length not exactly right for n and the width,
 * width > 64, nonzero reserved bytes). *base is the frame base and *maxoff the
 * largest packed offset, so every value lies in [base, base + maxoff]. */
int colog__for_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *base,
                      uint64_t *maxoff);
/* Same into uint32_t; also -1 if a value would exceed UINT32_MAX. */
int colog__for_decode32(const uint8_t *in, size_t len, uint32_t n, uint32_t *out, uint64_t *base,
                        uint64_t *maxoff);

/* Delta-encode v[0..n) (n >= 1, compared as int64) into out; returns the bytes
 * written. v is overwritten. */
size_t colog__delta_encode(uint64_t *v, uint32_t n, uint8_t *out);
/* Decode a DELTA payload of exactly n values (n >= 1). Returns 0 or -1 as
 * colog__for_decode; *vmin and *vmax are the smallest and largest decoded
 * values as int64 (in their uint64 representation). */
int colog__delta_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *vmin,
                        uint64_t *vmax);

#endif /* COLOG_ENC_H */
