/*
 * colog_enc.h — This file is private to colog's storage layer.
 *
 * Value encodings of column-file blocks: bit-packing, frame of reference (FOR),
 * delta + FOR, their miniblock forms (MFOR, MDELTA: one base and width per 128
 * values) and a byte-oriented prefix varint (VARINT) that LZ4 compresses well.
 * They work on 64-bit words; signed columns are handled by flipping the sign
 * bit for comparisons, so one code path serves time, i64, u8..u64 and
 * dictionary codes. docs/FORMAT.md ("Column files", "Encodings") specifies the
 * bytes; the ids below are written to disk and frozen.
 *
 * Every encoder comes with an exact size function (the bytes it would write,
 * computed without writing), so a writer can rank the candidates of a block
 * before compressing any. Encoders of the new encodings leave v unchanged.
 * Every decoder validates everything it reads (lengths exactly as implied by n
 * and the widths, widths <= 64, reserved and padding bits zero) and never reads
 * outside in[0..len).
 */
#ifndef COLOG_ENC_H
#define COLOG_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encoding ids (block header byte 12). Frozen: never renumber. */
enum {
    COLOG_ENC_FOR = 1,    /* frame of reference + bit-packing: integers and codes */
    COLOG_ENC_DELTA = 2,  /* first value, then FOR of the deltas: time */
    COLOG_ENC_PLAIN = 3,  /* little-endian 8-byte words as they are: f64 */
    COLOG_ENC_MFOR = 4,   /* FOR with a base and width per miniblock of 128 values */
    COLOG_ENC_MDELTA = 5, /* first value, then MFOR of the deltas: time */
    COLOG_ENC_VARINT = 6, /* block minimum, then prefix varints of the offsets */
};

#define COLOG_ENC_MB 128        /* values per miniblock (MFOR, MDELTA) */
#define COLOG_ENC_MFOR_HDR 16   /* base u64, base width u8, 7 zero bytes */
#define COLOG_ENC_VARINT_HDR 24 /* base u64, 3 stream ends u32, 4 zero bytes */

#define COLOG_ENC_FOR_HDR 16   /* base u64, width u8, 7 zero bytes */
#define COLOG_ENC_DELTA_HDR 24 /* first u64, base u64, width u8, 7 zero bytes */

/* Bytes of n values packed at width bits: whole 8-byte words. */
static inline size_t colog__pack_size(uint32_t n, unsigned width)
{
    return (size_t)(((uint64_t)n * width + 63) / 64 * 8);
}

/* Miniblocks of n values, and the bytes of the MFOR width table (padded to 8). */
static inline uint32_t colog__mb_count(uint32_t n)
{
    return (n + COLOG_ENC_MB - 1) / COLOG_ENC_MB;
}

static inline size_t colog__mb_widths_size(uint32_t n)
{
    return ((size_t)colog__mb_count(n) + 7) / 8 * 8;
}

/* Largest encoded size of n values under any encoding (header included), as a
 * constant expression: VARINT at 9 bytes a value plus 8 bytes of slack for its
 * whole-word stores, or MDELTA at 64 bits a value plus its tables. */
#define COLOG_ENC_MB_COUNT(n) (((size_t)(n) + COLOG_ENC_MB - 1) / COLOG_ENC_MB)
#define COLOG_ENC_BOUND_MDELTA(n)                                                                  \
    (8 + COLOG_ENC_MFOR_HDR + (COLOG_ENC_MB_COUNT(n) + 7) / 8 * 8 + 8 * COLOG_ENC_MB_COUNT(n) +    \
     8 * (size_t)(n))
#define COLOG_ENC_BOUND_VARINT(n) (COLOG_ENC_VARINT_HDR + 9 * (size_t)(n) + 8)
#define COLOG_ENC_BOUND(n)                                                                         \
    (COLOG_ENC_BOUND_MDELTA(n) > COLOG_ENC_BOUND_VARINT(n) ? COLOG_ENC_BOUND_MDELTA(n)             \
                                                           : COLOG_ENC_BOUND_VARINT(n))

static inline size_t colog__enc_bound(uint32_t n)
{
    return COLOG_ENC_BOUND(n);
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

/* ---- MFOR: bytes in docs/FORMAT.md. sign: compare as int64 (time, i64). */

/* Exact MFOR payload size of v[0..n). */
size_t colog__mfor_size(const uint64_t *v, uint32_t n, bool sign);
/* Encode v[0..n) (unchanged) into out (>= colog__enc_bound(n) bytes); returns
 * the bytes written (= colog__mfor_size). */
size_t colog__mfor_encode(const uint64_t *v, uint32_t n, bool sign, uint8_t *out);
/* Decode an MFOR payload of exactly n values. Returns 0, or -1 if malformed;
 * *base is the frame base and *maxoff the largest offset (miniblock base plus
 * packed offset, never wrapping), so every value is in [base, base + maxoff]. */
int colog__mfor_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *base,
                       uint64_t *maxoff);

/* ---- MDELTA: first value, then the MFOR payload of the n - 1 deltas (signed). */

/* Exact size; scratch holds n - 1 words. */
size_t colog__mdelta_size(const uint64_t *v, uint32_t n, uint64_t *scratch);
/* Encode v[0..n) (n >= 1, unchanged) using scratch (n words). */
size_t colog__mdelta_encode(const uint64_t *v, uint32_t n, uint64_t *scratch, uint8_t *out);
/* As colog__delta_decode. */
int colog__mdelta_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *vmin,
                         uint64_t *vmax);

/* ---- VARINT: block minimum, then four streams of prefix varints (rows cut in quarters). */

size_t colog__varint_size(const uint64_t *v, uint32_t n, bool sign);
/* out must have colog__enc_bound(n) bytes (the encoder stores whole words). */
size_t colog__varint_encode(const uint64_t *v, uint32_t n, bool sign, uint8_t *out);
/* As colog__mfor_decode. */
int colog__varint_decode(const uint8_t *in, size_t len, uint32_t n, uint64_t *out, uint64_t *base,
                         uint64_t *maxoff);

/* Exact sizes of the old encodings without encoding (v unchanged). */
size_t colog__for_size(const uint64_t *v, uint32_t n, bool sign);
/* scratch holds n - 1 words. */
size_t colog__delta_size(const uint64_t *v, uint32_t n, uint64_t *scratch);

/* ---- Column-file writer policy (colog_colfile.c), process-wide. */

/* force_enc: 0 = choose per block (default), else use that encoding id for
 * every block of a type that accepts it (tests, measurements). zstd_level:
 * 0 = LZ4 only (default, the hot tier's codec); 1..22 = also try zstd at that
 * level and keep it for a block when it is at least 10% smaller than the best
 * LZ4 result (always, with force_zstd). The environment variable
 * COLOG_COLF_ZSTD=LEVEL sets zstd_level when a writer opens and this function
 * was never called. Not thread-safe: call before writers open. */
void colog__colf_tune(unsigned force_enc, int zstd_level, bool force_zstd);

#endif /* COLOG_ENC_H */
