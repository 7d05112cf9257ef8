/*
 * colog_index.c — bitmap index files: for one indexed column of one part, the
 * set of row ids holding each distinct value (its "posting"), handed to the
 * caller as Roaring bitmaps.
 *
 * Layout (docs/FORMAT.md "Index files" is the authority):
 *
 *     header (48)  key table (table_len)  chunk 0  chunk 1 ...  chunk C-1
 *
 * Keys are values in the column's decoded domain: dictionary codes for ip
 * and string, the value for u8..u64, and for i64 the two's-complement bits of
 * the value, ordered as signed (compared with the sign bit flipped: the
 * "flipped" key below).
 *
 * Why this shape. On firewall data most keys hold a handful of rows spread
 * at random over the part (ephemeral ports: ~3 rows a key), and a portable
 * Roaring serialization per key costs 16 bytes of headers plus 2 a row,
 * plus 32 in a key table entry: 44 bytes an event over five indexed columns.
 * Here a posting is Rice-coded: the gaps between its row ids with parameter
 * k = floor(log2(nrows / card)), a function of what the reader already has,
 * so a posting carries no header at all. On random row ids that is within
 * 2.5% of the entropy bound log2(C(nrows, card)), and LZ4 or zstd find
 * nothing left to take (measured; see FORMAT.md). Postings are grouped in
 * chunks of about 2 KiB (CHUNK_TARGET) of consecutive keys; a chunk stores
 * the low bits of all its postings, then all their unary parts, so the low
 * bits of key m start at the sum of card * k over the chunk's keys before m
 * and its unary part after that many one bits: a reader skips to a key by
 * counting, not decoding. A posting whose rows are dense or clustered, where
 * Roaring's bitset or run containers are smaller or at most 1/8 larger, is
 * stored as a Roaring portable serialization in a chunk of its own; it also
 * decodes faster. The key table holds one 40-byte directory entry per chunk
 * (first key index, length, XXH3-64 seeded with file seed ^ chunk number, so
 * a chunk moved elsewhere fails; offsets follow from the lengths; then the
 * chunk's first key and the stream bits where its keys' gaps and its
 * cardinalities start), the keys (nothing when they are 0..K-1, the usual
 * case for dictionary codes; else the first and the gaps) and the
 * cardinalities, both in a gamma code of an order the writer picks.
 *
 * Why version 2. A point query over months of parts opens hundreds of
 * index files; decoding a table of 170,000 keys costs about 1 ms, a
 * pread and a checksum of it some 50 us. Version 2 (written since) adds the
 * first key and the two bit offsets to each directory entry (24 bytes a
 * chunk of ~2 KiB: about 1.2% of the file), so that a reader binary-searches
 * the directory and decodes one chunk's keys and cardinalities. Version 1
 * files (16-byte entries) are still read, decoded whole at open.
 *
 * Writer. colog__idxw_add only buffers; colog__idxw_write groups the rows by
 * key, encodes the chunks into memory (about 2 bytes a row), then the table,
 * and writes header, table and chunks in one sequential pass, feeding every
 * byte to a running XXH3-64 and SHA-256 for the manifest. Grouping:
 *  - small key domains (dictionary codes: ncodes keys; u8, u16: 65536) use a
 *    counting sort: add stores one u32 key per row (ABSENT for a null) and
 *    counts each key; write scatters the row ids into key order;
 *  - u32, u64 and i64 use an LSD radix sort, 8 bits a pass, of (key, row)
 *    pairs of the present rows, skipping passes whose digit is the same in
 *    every key. Being stable, it leaves each key's rows ascending.
 * Memory: counting sort 4 bytes a row while adding, plus 4 a present row and
 * 4 * domain at write time (8 bytes a row at the peak); radix sort 12 bytes a
 * present row while adding, 24 at the peak. Plus the encoded file (twice,
 * while its buffer grows), one Roaring bitmap at a time and the output
 * buffer.
 *
 * Reader. Open reads the header and the table with two preads and checks the
 * header, the table's checksum and the directory. A version 1 table is then
 * decoded whole; a version 2 table is kept as it is, and decoded either one
 * chunk at a time (lazy_keys, lazy_cards: pure functions of the reader that
 * write only to their caller's memory, so threads may call them at once; a
 * chunk's part of the stream is checked against its own and the next
 * chunk's entries) or whole by colog__idxr_load, once, under a mutex, into
 * the same arrays as version 1: keys (flipped) and
 * cardinalities as frame-of-reference bit-packed groups of PGROUP (O(1)
 * access, a few bits a key), the running sums of rows and low bits at each
 * group and chunk (so a skip inside a chunk adds up fewer than PGROUP
 * cardinalities); a flag set with release order after them (read with
 * acquire order) says they are there. Loaded, key/card need no I/O and
 * lower is a binary search; not loaded, range and last_key binary-search the
 * directory's first keys and decode at most two chunks' keys (and the
 * cardinalities of the chunks between for a sum), and or_range decodes the
 * cardinalities of the chunks it reads. colog__idxr_or_range reads the chunks covering
 * the keys with one pread per 4 MiB of contiguous bytes (from the stack for
 * one chunk), checks each chunk's checksum, decodes the Rice postings of the
 * wanted keys and checks every Roaring posting's structure (below) before
 * roaring_bitmap_portable_deserialize_safe. Decoded rows are kept in an
 * array and added to the caller's bitmap with roaring_bitmap_add_many at the
 * end, or, when the range holds more than one row in 256, set in a flat
 * bitset that becomes a bitmap through a portable serialization built on the
 * spot (bitset containers copied as they are). The caller's bitmap is touched
 * only when everything passed. or_range uses only pread on the shared fd and
 * memory of its own, so threads may call it at once.
 *
 * Why we parse the portable format ourselves (check_portable). The installed
 * CRoaring (0.2.66) has no roaring_bitmap_internal_validate, and its
 * deserialize_safe checks lengths only: container keys out of order, an
 * unsorted array container, overlapping runs or a run past 65535, or a
 * bitset whose popcount is not its cardinality all deserialize
 * "successfully"; a run past 65535 even makes roaring_bitmap_or_inplace
 * write past a bitset container (seen with valgrind), and an unsorted array
 * hides its maximum. A file with correct checksums may still be crafted, so
 * every Roaring posting is checked before it reaches CRoaring: one linear
 * pass, of the same order as the checksum. This is a decoder check; all
 * bitmap operations are CRoaring's.
 *
 * Invariants:
 *  1. Writer: nrows rows have been added, nrows <= IDX_MAX_ROWS; counting
 *     path: k32[0..nrows) hold a key < domain or ABSENT, and counts[k] is the
 *     number of rows holding k; radix path: k64/rows[0..nvalid) are the
 *     present rows in row order. A failed colog__idxw_add changes nothing.
 *  2. On disk, keys are strictly ascending in the column's order and within
 *     the type's range, every key has at least one row, the cardinalities add
 *     up to at most nrows (so nkeys <= nrows), chunks cover the keys in order
 *     (chunk 0 starts at key 0, each at least one key), chunk i + 1 starts
 *     where chunk i ends and the last ends at the end of the file. The reader
 *     checks all of it before use: at open (version 1), or (version 2) the
 *     directory at open (first key indexes, lengths, first keys strictly
 *     ascending and in range, bit offsets ascending and inside the stream),
 *     each chunk's keys and cardinalities when lazy_keys / lazy_cards decode
 *     them, and everything, with the sum of the cardinalities and the
 *     padding, at load. or_range trusts only validated state.
 *  3. Every bit stream ends on its stated bound: decoders check every read
 *     against the end of the chunk or table, never against a length read
 *     from the data, and reject unused (padding) bits that are not zero. A
 *     posting that or_range accepts has exactly its table cardinality and
 *     every row id below nrows; a Rice chunk decoded to its last key ends
 *     exactly at its last byte; a Roaring posting is a well-formed portable
 *     serialization of exactly its length.
 *  4. Every byte of the file is covered by a checksum: the header's, the
 *     table's, or a chunk's, the latter stored in the table.
 *  5. Reader buffers that hold bit streams have 8 readable bytes past the
 *     end of the stream (peek loads 8 bytes at once); the bits read there are
 *     never used.
 *  6. Version 2: the gaps decoded from chunk c's gap offset, the next
 *     chunk's first key's included, lead exactly to that key and end exactly
 *     at its gap offset (the last chunk's where the cardinalities start); its
 *     cardinalities end exactly at the next chunk's card offset (the last
 *     chunk's with the table's padding). Once loaded, each chunk's lazy
 *     decoding thus gives what the arrays hold, so loaded and lazy calls
 *     agree, and a lazy call never needs the arrays.
 */
#include "colog_storage_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <roaring/roaring.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define HDR_SIZE 48
#define IDX_V1 1 /* format versions read (IDX_V2 also written) */
#define IDX_V2 2
#define DIR_ENT_V1 16           /* chunk directory entry, version 1 */
#define DIR_ENT 40              /* version 2 */
#define TAB_SUM 8               /* table checksum */
#define IDX_MAX_ROWS UINT32_MAX /* row ids are u32; card fits u32 */
#define ABSENT UINT32_MAX       /* counting path: a null row */
#define SMALL_DOMAIN 65536u     /* u8, u16: counting sort */
#define OBUF_SIZE (1u << 20)    /* writer's output buffer */
#define READ_CHUNK (4u << 20)   /* or_range: bytes per pread */
#define FLAG_DENSE 0x01         /* header flags: keys are 0..K-1 */
#define KIND_RICE 1             /* chunk kinds (first byte of a chunk) */
#define KIND_ROARING 2
#define CHUNK_TARGET 2048        /* Rice chunk bytes the writer aims at */
#define ROARING_COST 34          /* bytes a Roaring chunk adds: kind, entry, split */
#define PGROUP 64                /* values per bit-packed group in memory */
#define FLAT_MAX_ROWS (1u << 28) /* or_range: flat bitset up to 32 MiB */
#define SLACK 8                  /* invariant 5 */
#define SINK_SMALL 256           /* or_range: rows kept on the stack */

/* CRoaring's portable format (RoaringFormatSpec). */
#define RB_COOKIE_NORUN 12346u
#define RB_COOKIE_RUN 12347u
#define RB_NO_OFFSET_THRESHOLD 4u
#define RB_ARRAY_MAX 4096u
#define RB_BITSET_BYTES 8192u

/* CRoaring writes the portable format in host order, and the bit streams are
 * loaded 8 bytes at a time; the format is little-endian. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "roaring portable serialization is host order; colog needs little-endian");

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

/* ================================================================ bit streams */

/*
 * Bit streams are little-endian: stream bit s is bit s % 8 of byte s / 8.
 * Values are written least significant bit first. Two codes:
 *  - Rice of order k (postings): the value v as v >> k zero bits, a one bit,
 *    then the k low bits of v;
 *  - gamma of order k (table keys and cardinalities, up to 64-bit values):
 *    with q = v >> k and n = bits of q (0 for q = 0), n zero bits, a one bit,
 *    then the n - 1 bits of q below its top bit (when n >= 2), then the k low
 *    bits of v. Its length is k + 1 when n = 0, else 2n + k.
 */

/* Number of significant bits of v (0 for 0). */
static unsigned bitlen(uint64_t v)
{
    return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

static uint64_t low_bits(uint64_t v, unsigned n)
{
    return n >= 64 ? v : v & ((1ull << n) - 1);
}

/* The Rice parameter of a posting of card rows out of nrows (1 <= card <=
 * nrows): floor(log2(nrows / card)), at most 31. */
static unsigned rice_k(uint64_t nrows, uint32_t card)
{
    /* the largest k with card << k <= nrows, without a division */
    unsigned k = bitlen(nrows) - bitlen(card);
    return ((uint64_t)card << k) > nrows ? k - 1 : k;
}

/* The order (0..kmax) giving the shortest gamma codes for values whose bit
 * lengths are counted in hist[0..64]; their total length goes to *bits. */
static unsigned gamma_order(const uint64_t hist[65], unsigned kmax, uint64_t *bits)
{
    unsigned best = 0;
    uint64_t best_bits = UINT64_MAX;
    for (unsigned k = 0; k <= kmax; k++) {
        uint64_t t = 0;
        for (unsigned b = 0; b <= 64; b++)
            t += hist[b] * (b <= k ? k + 1 : 2 * (b - k) + k);
        if (t < best_bits) {
            best_bits = t;
            best = k;
        }
    }
    *bits = best_bits;
    return best;
}

/* A growing stream being written. Every byte of p past the written bits is
 * zero, so zero bits are written by moving nbits. */
struct bitw {
    uint8_t *p;
    size_t cap; /* bytes */
    uint64_t nbits;
};

/* Room for more bits, plus the 9 bytes bw_put may touch past them. */
static int bw_reserve(struct bitw *w, uint64_t more)
{
    uint64_t need = (w->nbits + more + 7) / 8 + 16;
    if (need <= w->cap)
        return 0;
    if (need > SIZE_MAX / 2)
        return COLOG_ENOMEM;
    size_t c = w->cap ? w->cap : 4096;
    while (c < need)
        c *= 2;
    uint8_t *q = realloc(w->p, c);
    if (!q)
        return COLOG_ENOMEM;
    memset(q + w->cap, 0, c - w->cap);
    w->p = q;
    w->cap = c;
    return 0;
}

/* Append the n (<= 64) low bits of v; the room is reserved. */
static void bw_put(struct bitw *w, uint64_t v, unsigned n)
{
    if (n == 0)
        return;
    v = low_bits(v, n);
    uint8_t *b = w->p + w->nbits / 8;
    unsigned sh = w->nbits % 8;
    uint64_t x;
    memcpy(&x, b, 8);
    x |= v << sh;
    memcpy(b, &x, 8);
    if (sh + n > 64)
        b[8] |= (uint8_t)(v >> (64 - sh));
    w->nbits += n;
}

/* Zero-pad to a byte. */
static void bw_align(struct bitw *w)
{
    w->nbits = (w->nbits + 7) & ~(uint64_t)7;
}

static void gamma_put(struct bitw *w, uint64_t v, unsigned k)
{
    uint64_t q = v >> k;
    unsigned n = bitlen(q);
    w->nbits += n;
    bw_put(w, 1, 1);
    if (n > 1)
        bw_put(w, q, n - 1);
    bw_put(w, v, k);
}

/* The 57 or more bits of p from bit at, in the low bits (invariant 5: bytes
 * at / 8 .. at / 8 + 8 are readable). */
static inline uint64_t peek(const uint8_t *p, uint64_t at)
{
    uint64_t x;
    memcpy(&x, p + at / 8, 8);
    return x >> (at % 8);
}

/* n (<= 64) bits from bit at; at + n <= the stream's end. */
static uint64_t get_bits(const uint8_t *p, uint64_t at, unsigned n)
{
    if (n <= 56)
        return low_bits(peek(p, at), n);
    uint64_t v = (peek(p, at) & 0xffffffffu) | peek(p, at + 32) << 32;
    return low_bits(v, n);
}

/* Read a run of zero bits ended by a one, from *at, both before end; at most
 * limit zeros. Gives the count of zeros and moves *at past the one. */
static const char *get_unary(const uint8_t *p, uint64_t *at, uint64_t end, uint64_t limit,
                             uint64_t *zeros)
{
    uint64_t a = *at, z = 0, w;
    for (;;) {
        if (a >= end)
            return "truncated";
        if ((w = peek(p, a)) != 0)
            break;
        a += 56; /* at least 57 zero bits */
        z += 56;
        if (z > limit)
            return "code too long";
    }
    unsigned t = (unsigned)__builtin_ctzll(w);
    z += t;
    a += t + 1;
    if (a > end)
        return "truncated";
    if (z > limit)
        return "code too long";
    *at = a;
    *zeros = z;
    return NULL;
}

static const char *gamma_get(const uint8_t *p, uint64_t *at, uint64_t end, unsigned k,
                             uint64_t *out)
{
    uint64_t n, q = 0;
    const char *bad = get_unary(p, at, end, 64 - k, &n);
    if (bad)
        return bad;
    if (end - *at < (n ? n - 1 : 0) + k)
        return "truncated";
    if (n > 0) {
        q = 1ull << (n - 1) | get_bits(p, *at, (unsigned)n - 1);
        *at += n - 1;
    }
    uint64_t lo = get_bits(p, *at, k);
    *at += k;
    *out = q << k | lo; /* n + k <= 64: no bit is lost */
    return NULL;
}

/* The bits from at to end (less than 8, to the byte boundary) are padding:
 * there must be fewer than 8 and all zero. */
static bool padding_ok(const uint8_t *p, uint64_t at, uint64_t end)
{
    return at <= end && end - at < 8 && get_bits(p, at, (unsigned)(end - at)) == 0;
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

/* The chunks being encoded, and their directory. */
struct dent {
    uint32_t first; /* first key index */
    uint32_t len;   /* bytes */
    uint64_t sum;
};

struct enc {
    struct bitw ch; /* chunk bytes, back to back */
    struct dent *dir;
    size_t ndir, dcap;
    bool open;           /* a Rice chunk is open: ... */
    uint32_t open_first; /* its first key, */
    struct bitw lo, hi;  /* its low bits and unary parts */
    uint64_t seed, nrows;
};

/* End the chunk that started at byte `at` of e->ch and holds keys from first. */
static int enc_end_chunk(struct enc *e, uint64_t at, uint32_t first)
{
    bw_align(&e->ch);
    uint64_t len = e->ch.nbits / 8 - at;
    if (len > UINT32_MAX || e->ndir >= UINT32_MAX)
        return COLOG_ELIMIT;
    if (e->ndir == e->dcap) {
        size_t c = e->dcap ? 2 * e->dcap : 64;
        struct dent *d = realloc(e->dir, c * sizeof *d);
        if (!d)
            return COLOG_ENOMEM;
        e->dir = d;
        e->dcap = c;
    }
    e->dir[e->ndir] =
        (struct dent){.first = first,
                      .len = (uint32_t)len,
                      .sum = XXH3_64bits_withSeed(e->ch.p + at, (size_t)len, e->seed ^ e->ndir)};
    e->ndir++;
    return 0;
}

/* Append the bits of s to w, then empty s. */
static int bw_move(struct bitw *w, struct bitw *s)
{
    int rc = bw_reserve(w, s->nbits);
    if (rc < 0)
        return rc;
    for (uint64_t at = 0; at < s->nbits; at += 56)
        bw_put(w, peek(s->p, at), s->nbits - at < 56 ? (unsigned)(s->nbits - at) : 56);
    if (s->p)
        memset(s->p, 0, (size_t)(s->nbits / 8) + 1);
    s->nbits = 0;
    return 0;
}

/* Write out the open Rice chunk: kind, low bits, unary parts, padding. */
static int enc_close_rice(struct enc *e)
{
    if (!e->open)
        return 0;
    e->open = false;
    uint64_t at = e->ch.nbits / 8;
    int rc = bw_reserve(&e->ch, 8);
    if (rc < 0)
        return rc;
    bw_put(&e->ch, KIND_RICE, 8);
    rc = bw_move(&e->ch, &e->lo);
    if (rc == 0)
        rc = bw_move(&e->ch, &e->hi);
    if (rc == 0)
        rc = enc_end_chunk(e, at, e->open_first);
    return rc;
}

/* Bits of the Rice codes of rows[0..n) (ascending) at parameter k. */
static uint64_t rice_bits(const uint32_t *rows, uint32_t n, unsigned k)
{
    uint64_t bits = (uint64_t)n * (k + 1), prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        bits += (rows[i] - prev) >> k;
        prev = (uint64_t)rows[i] + 1;
    }
    return bits;
}

/* A lower bound of the portable size of the run-optimized Roaring bitmap of
 * rows[0..n): cookie, then per container its key and cardinality and the
 * smallest of its array, bitset and run forms. */
static uint64_t roaring_lb(const uint32_t *rows, uint32_t n)
{
    uint64_t size = 4;
    for (uint32_t a = 0; a < n;) {
        uint32_t hi = rows[a] >> 16, b = a + 1, runs = 1;
        while (b < n && rows[b] >> 16 == hi) {
            runs += rows[b] != rows[b - 1] + 1;
            b++;
        }
        uint64_t c = b - a, best = 2 * c < RB_BITSET_BYTES ? 2 * c : RB_BITSET_BYTES;
        size += 4 + (2 + 4 * (uint64_t)runs < best ? 2 + 4 * (uint64_t)runs : best);
        a = b;
    }
    return size;
}

/* The Roaring form of rows[0..n) if it is worth a chunk of its own: no more
 * than 1/8 above the Rice form (rbits bits), counting the chunk's overhead.
 * NULL if not (or out of memory: *rc). */
static roaring_bitmap_t *roaring_if_better(const uint32_t *rows, uint32_t n, uint64_t rbits,
                                           size_t *len, int *rc)
{
    uint64_t budget = (rbits + 7) / 8;
    budget += budget / 8;
    if (roaring_lb(rows, n) + ROARING_COST > budget)
        return NULL;
    roaring_bitmap_t *b = roaring_bitmap_of_ptr(n, rows);
    if (!b) {
        *rc = COLOG_ENOMEM;
        return NULL;
    }
    roaring_bitmap_run_optimize(b);
    *len = roaring_bitmap_portable_size_in_bytes(b);
    if (*len + ROARING_COST > budget) {
        roaring_bitmap_free(b);
        return NULL;
    }
    return b;
}

static int enc_roaring(struct enc *e, uint32_t key, roaring_bitmap_t *b, size_t len)
{
    int rc = enc_close_rice(e);
    if (rc == 0)
        rc = bw_reserve(&e->ch, 8 * ((uint64_t)len + 1));
    if (rc < 0)
        return rc;
    uint64_t at = e->ch.nbits / 8;
    bw_put(&e->ch, KIND_ROARING, 8);
    if (roaring_bitmap_portable_serialize(b, (char *)e->ch.p + at + 1) != len)
        return COLOG_EINVAL;
    e->ch.nbits += 8 * (uint64_t)len;
    return enc_end_chunk(e, at, key);
}

static int enc_rice(struct enc *e, uint32_t key, const uint32_t *rows, uint32_t n, unsigned k,
                    uint64_t bits)
{
    int rc;
    if (e->open && 8 + e->lo.nbits + e->hi.nbits + bits > 8 * CHUNK_TARGET) {
        rc = enc_close_rice(e);
        if (rc < 0)
            return rc;
    }
    uint64_t lbits = (uint64_t)n * k;
    rc = bw_reserve(&e->lo, lbits);
    if (rc == 0)
        rc = bw_reserve(&e->hi, bits - lbits);
    if (rc < 0)
        return rc;
    if (!e->open) {
        e->open = true;
        e->open_first = key;
    }
    uint64_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t gap = rows[i] - prev;
        bw_put(&e->lo, gap, k);
        e->hi.nbits += gap >> k;
        bw_put(&e->hi, 1, 1);
        prev = (uint64_t)rows[i] + 1;
    }
    return 0;
}

/* Encode every group's posting into e's chunks. */
static int encode_chunks(struct enc *e, const struct groups *g)
{
    int rc = 0;
    for (uint32_t i = 0; i < g->n && rc == 0; i++) {
        const uint32_t *rows = g->rows + g->starts[i];
        uint32_t n = g->starts[i + 1] - g->starts[i];
        unsigned k = rice_k(e->nrows, n);
        uint64_t bits = rice_bits(rows, n, k);
        size_t len = 0;
        roaring_bitmap_t *b = roaring_if_better(rows, n, bits, &len, &rc);
        if (b) {
            rc = enc_roaring(e, i, b, len);
            roaring_bitmap_free(b);
        } else if (rc == 0) {
            rc = enc_rice(e, i, rows, n, k, bits);
        }
    }
    if (rc == 0)
        rc = enc_close_rice(e);
    return rc;
}

/* Keys 0..n-1: strictly ascending n keys from 0 to n - 1 (in signed order
 * too, since none is negative). */
static bool keys_dense(const struct groups *g)
{
    return g->n > 0 && g->keys[0] == 0 && g->keys[g->n - 1] == g->n - 1;
}

/* The key table (version 2): directory, key 0 and the stream of key gaps and
 * cardinalities, checksum. A directory entry gives its chunk's first key and
 * the stream bits where the gaps of the chunk's later keys and where its
 * cardinalities start, recorded while the stream is written. Sets the
 * header's orders through *kord, *cord. */
static int encode_table(const struct enc *e, const struct groups *g, uint64_t flip, bool dense,
                        uint8_t **out, size_t *outlen, unsigned *kord, unsigned *cord)
{
    uint64_t kh[65] = {0}, ch[65] = {0}, kbits = 0, cbits = 0;
    bool keys = g->n > 0 && !dense;
    for (uint32_t i = 1; keys && i < g->n; i++)
        kh[bitlen((g->keys[i] ^ flip) - (g->keys[i - 1] ^ flip) - 1)]++;
    for (uint32_t i = 0; i < g->n; i++)
        ch[bitlen(g->starts[i + 1] - g->starts[i] - 1)]++;
    *kord = keys ? gamma_order(kh, 63, &kbits) : 0;
    *cord = gamma_order(ch, 31, &cbits);

    size_t head = e->ndir * DIR_ENT + (keys ? 8 : 0);
    struct bitw w = {0};
    int rc = bw_reserve(&w, 8 * (uint64_t)head + kbits + cbits + 8 * (TAB_SUM + 8));
    if (rc < 0)
        return rc;
    for (size_t c = 0; c < e->ndir; c++) {
        uint8_t *d = w.p + c * DIR_ENT;
        colog__put_u32(d, e->dir[c].first);
        colog__put_u32(d + 4, e->dir[c].len);
        colog__put_u64(d + 8, e->dir[c].sum);
        colog__put_u64(d + 16, g->keys[e->dir[c].first]);
    }
    if (keys)
        colog__put_u64(w.p + head - 8, g->keys[0]);
    uint64_t ss = 8 * (uint64_t)head; /* the stream's first bit; gap offsets stay 0 if dense */
    w.nbits = ss;
    size_t c = 1;
    for (uint32_t i = 1; keys && i < g->n; i++) {
        gamma_put(&w, (g->keys[i] ^ flip) - (g->keys[i - 1] ^ flip) - 1, *kord);
        if (c < e->ndir && e->dir[c].first == i)
            colog__put_u64(w.p + c++ * DIR_ENT + 24, w.nbits - ss);
    }
    c = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if (c < e->ndir && e->dir[c].first == i)
            colog__put_u64(w.p + c++ * DIR_ENT + 32, w.nbits - ss);
        gamma_put(&w, g->starts[i + 1] - g->starts[i] - 1, *cord);
    }
    bw_align(&w);
    size_t len = (size_t)(w.nbits / 8);
    colog__put_u64(w.p + len, XXH3_64bits_withSeed(w.p, len, e->seed));
    *out = w.p;
    *outlen = len + TAB_SUM;
    return 0;
}

/* Everything after the open: header, table, chunks; then fsync. */
static int write_body(colog_idxw_t *w, const struct groups *g, struct ostream *o, uint64_t seed)
{
    struct enc e = {.seed = seed, .nrows = w->nrows};
    uint8_t *tab = NULL;
    size_t tlen = 0;
    unsigned kord = 0, cord = 0;
    uint64_t flip = key_flip(w->type);
    bool dense = keys_dense(g);
    int rc = encode_chunks(&e, g);
    if (rc == 0)
        rc = encode_table(&e, g, flip, dense, &tab, &tlen, &kord, &cord);
    if (rc < 0)
        goto out_free;

    uint8_t h[HDR_SIZE] = {0};
    colog__put_u32(h, COLOG_IDX_MAGIC);
    colog__put_u16(h + 4, IDX_V2);
    h[6] = (uint8_t)w->type;
    h[7] = dense ? FLAG_DENSE : 0;
    colog__put_u32(h + 8, g->n);
    colog__put_u32(h + 12, (uint32_t)e.ndir);
    colog__put_u64(h + 16, w->nrows);
    colog__put_u64(h + 24, tlen);
    h[32] = (uint8_t)kord;
    h[33] = (uint8_t)cord;
    colog__put_u64(h + 40, XXH3_64bits_withSeed(h, 40, seed));
    rc = os_put(o, h, sizeof h);
    if (rc == 0)
        rc = os_put(o, tab, tlen);
    if (rc == 0 && e.ch.nbits > 0)
        rc = os_put(o, e.ch.p, (size_t)(e.ch.nbits / 8));
    if (rc == 0)
        rc = os_flush(o);
    if (rc == 0)
        rc = colog__fsync_fd(o->fd);
out_free:
    free(tab);
    free(e.ch.p);
    free(e.lo.p);
    free(e.hi.p);
    free(e.dir);
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

/* Up to 2^32 - 1 u64 values, bit-packed by groups of PGROUP (frame of
 * reference): value i is its group's base plus an offset of the group's
 * width. A group's PGROUP offsets (the last group's padded) fill exactly
 * width words, from word woff. */
struct pgrp {
    uint64_t base;
    uint32_t woff;
    uint32_t width;
};

struct pack {
    struct pgrp *g;
    uint64_t *w;
    size_t nw, wcap;
};

static void pack_free(struct pack *p)
{
    free(p->g);
    free(p->w);
}

/* Store v[0..m) (m <= PGROUP) as group gi. */
static int pack_group(struct pack *p, uint32_t gi, const uint64_t *v, unsigned m)
{
    uint64_t lo = v[0], hi = v[0];
    for (unsigned j = 1; j < m; j++) {
        lo = v[j] < lo ? v[j] : lo;
        hi = v[j] > hi ? v[j] : hi;
    }
    unsigned wd = bitlen(hi - lo);
    p->g[gi] = (struct pgrp){.base = lo, .woff = (uint32_t)p->nw, .width = wd};
    if (wd == 0) /* every value is the base; p->w may still be NULL */
        return 0;
    if (p->nw + wd > UINT32_MAX)
        return COLOG_ELIMIT;
    if (grow((void **)&p->w, &p->wcap, p->nw + wd, sizeof *p->w) < 0)
        return COLOG_ENOMEM;
    uint64_t *w = p->w + p->nw;
    memset(w, 0, wd * sizeof *w);
    for (unsigned j = 0; j < m; j++) {
        uint64_t off = v[j] - lo, bit = (uint64_t)j * wd;
        unsigned sh = bit % 64;
        w[bit / 64] |= off << sh;
        if (sh + wd > 64)
            w[bit / 64 + 1] |= off >> (64 - sh);
    }
    p->nw += wd;
    return 0;
}

/* Give back what grow allocated beyond the words used. */
static void pack_trim(struct pack *p)
{
    if (p->nw == 0 || p->nw == p->wcap)
        return;
    uint64_t *w = realloc(p->w, p->nw * sizeof *w);
    if (w) {
        p->w = w;
        p->wcap = p->nw;
    }
}

static uint64_t pack_get(const struct pack *p, uint32_t i)
{
    const struct pgrp *g = &p->g[i / PGROUP];
    unsigned wd = g->width;
    if (wd == 0)
        return g->base;
    uint64_t bit = (uint64_t)(i % PGROUP) * wd;
    const uint64_t *w = p->w + g->woff + bit / 64;
    unsigned sh = bit % 64;
    uint64_t v = w[0] >> sh;
    if (sh + wd > 64)
        v |= w[1] << (64 - sh);
    return g->base + low_bits(v, wd);
}

/* Sums over the keys before some key: their rows, and the bits of their low
 * parts as Rice postings (card * rice_k(nrows, card) each). */
struct cum {
    uint64_t rows, lo;
};

/* A chunk, from the directory. */
struct chunk {
    uint64_t off; /* file offset */
    uint64_t sum;
    uint64_t rows0, lo0; /* loaded: struct cum at its first key */
    uint64_t lobits;     /* loaded: as a Rice chunk, bits of its low-bits part */
    uint64_t fkey;       /* version 2: its first key, flipped */
    uint64_t goff;       /* version 2: table bit of the gap of key first + 1 */
    uint64_t coff;       /* version 2: table bit of the cardinality of key first */
    uint32_t first;      /* first key */
    uint32_t len;
};

struct colog_idxr {
    int fd;
    colog_type_t type;
    unsigned version;
    bool dense; /* key i is i */
    unsigned kord, cord;
    uint64_t flip;
    uint64_t seed;
    uint64_t nrows;
    uint32_t nkeys;
    uint32_t nchunks;
    uint64_t key0;   /* with a key section: key 0 as stored */
    uint8_t *tab;    /* the key table, SLACK readable bytes after; version 1: until open ends */
    void *map;       /* version 2: the file's first map_len bytes, mapped (tab points in) */
    size_t map_len;  /* or NULL: tab is malloc'ed, SLACK zero bytes after */
    uint64_t ss, se; /* table bits where the stream (after key0) starts and ends */
    struct chunk *chunks;
    char *display;

    /* Filled by decode_table (version 1: at open; version 2: by the first
     * colog__idxr_load, under mu), read once loaded is set. */
    pthread_mutex_t mu;
    int loaded;    /* atomic: keys, cards, gcum, total and the chunks' cums are set */
    bool load_ran; /* under mu: load_rc and load_msg hold its result */
    int load_rc;
    char *load_msg;
    struct pack keys; /* flipped keys, unless dense */
    struct pack cards;
    struct cum *gcum; /* at the first key of each group of PGROUP */
    uint64_t total;   /* sum of the cardinalities */
};

static int corrupt(const colog_idxr_t *r, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: %s", r->display, what);
}

static int key_corrupt(const colog_idxr_t *r, uint32_t i, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: key %u: %s", r->display, i, what);
}

static int chunk_corrupt(const colog_idxr_t *r, uint32_t c, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: chunk %u: %s", r->display, c, what);
}

/* What is wrong with chunk c's part of the key table (key i, or UINT32_MAX). */
static int tab_corrupt(const colog_idxr_t *r, uint32_t c, uint32_t i, const char *what)
{
    if (i == UINT32_MAX)
        return colog_seterr(COLOG_ECORRUPT, "%s: key table: chunk %u: %s", r->display, c, what);
    return colog_seterr(COLOG_ECORRUPT, "%s: key table: chunk %u: key %u: %s", r->display, c, i,
                        what);
}

/* The error of a failed colog__pread_all of part of the file. */
static int r_pread_err(const colog_idxr_t *r, int rc, const char *part)
{
    if (rc == COLOG_ECORRUPT)
        return colog_seterr(rc, "%s: %s: truncated file", r->display, part);
    return colog_seterr(rc, "%s: %s: read: %s", r->display, part, colog_strerror(rc));
}

static int r_pread(const colog_idxr_t *r, void *buf, size_t len, uint64_t off, const char *part)
{
    int rc = colog__pread_all(r->fd, buf, len, off);
    return rc < 0 ? r_pread_err(r, rc, part) : 0;
}

static void idxr_free(colog_idxr_t *r)
{
    pack_free(&r->keys);
    pack_free(&r->cards);
    free(r->gcum);
    free(r->chunks);
    if (r->map)
        munmap(r->map, r->map_len);
    else
        free(r->tab);
    free(r->load_msg);
    free(r->display);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static bool is_loaded(const colog_idxr_t *r)
{
    return __atomic_load_n(&r->loaded, __ATOMIC_ACQUIRE) != 0;
}

/* Loaded: flipped key i. */
static uint64_t fkey(const colog_idxr_t *r, uint32_t i)
{
    return r->dense ? i ^ r->flip : pack_get(&r->keys, i);
}

/* Loaded: the cardinality of key i. */
static uint32_t card_of(const colog_idxr_t *r, uint32_t i)
{
    return (uint32_t)pack_get(&r->cards, i);
}

/* One past the last key of chunk c. */
static uint32_t chunk_end(const colog_idxr_t *r, uint32_t c)
{
    return c + 1 < r->nchunks ? r->chunks[c + 1].first : r->nkeys;
}

/* The chunk holding key i (< nkeys). */
static uint32_t chunk_of(const colog_idxr_t *r, uint32_t i)
{
    uint32_t lo = 0, hi = r->nchunks;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->chunks[mid].first <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* What the header says about the table. */
struct tabinfo {
    uint64_t len;
    bool keys; /* a key section: nkeys > 0 and not dense */
};

/* Header checks after the magic; sets r->version, nkeys, nchunks, dense,
 * kord, cord and *ti. */
static int check_header(colog_idxr_t *r, const uint8_t *h, uint64_t nrows, uint64_t size,
                        struct tabinfo *ti)
{
    unsigned ver = colog__get_u16(h + 4);
    if (ver != IDX_V1 && ver != IDX_V2)
        return colog_seterr(COLOG_EVERSION,
                            "%s: format version %u not supported (expected %u or %u)", r->display,
                            ver, IDX_V1, IDX_V2);
    r->version = ver;
    if (colog__get_u64(h + 40) != XXH3_64bits_withSeed(h, 40, r->seed))
        return corrupt(r, "header checksum mismatch");
    bool zero = (h[7] & ~FLAG_DENSE) == 0;
    for (int b = 34; b < 40; b++)
        zero &= h[b] == 0;
    if (!zero)
        return corrupt(r, "header reserved fields not zero");
    if (h[6] != (uint8_t)r->type)
        return colog_seterr(COLOG_ECORRUPT, "%s: column type %u, expected %u", r->display, h[6],
                            (unsigned)r->type);
    uint64_t hrows = colog__get_u64(h + 16);
    if (hrows > IDX_MAX_ROWS)
        return colog_seterr(COLOG_ECORRUPT, "%s: %llu rows, more than an index can hold",
                            r->display, (unsigned long long)hrows);
    if (hrows != nrows)
        return colog_seterr(COLOG_ECORRUPT, "%s: index covers %llu rows, the part has %llu",
                            r->display, (unsigned long long)hrows, (unsigned long long)nrows);
    r->nkeys = colog__get_u32(h + 8);
    r->nchunks = colog__get_u32(h + 12);
    r->dense = h[7] & FLAG_DENSE;
    ti->len = colog__get_u64(h + 24);
    r->kord = h[32];
    r->cord = h[33];
    ti->keys = r->nkeys > 0 && !r->dense;
    if (r->nkeys > nrows)
        return corrupt(r, "more keys than rows");
    if (r->nchunks > r->nkeys || (r->nchunks == 0) != (r->nkeys == 0))
        return corrupt(r, "chunk count does not match the key count");
    if (r->dense && (r->nkeys == 0 || r->nkeys - 1 > key_max(r->type)))
        return corrupt(r, "dense keys out of range for the column type");
    if (r->kord > 63 || r->cord > 31 || (!ti->keys && r->kord != 0))
        return corrupt(r, "bad code order");
    uint64_t dent = ver == IDX_V1 ? DIR_ENT_V1 : DIR_ENT;
    uint64_t fixed = (uint64_t)r->nchunks * dent + (ti->keys ? 8 : 0) + TAB_SUM;
    if (ti->len < fixed || ti->len > size - HDR_SIZE)
        return corrupt(r, "table length does not fit the file");
    /* Every cardinality takes a bit at least. */
    if (r->nkeys > 8 * (ti->len - fixed))
        return corrupt(r, "key count does not fit the table");
    r->ss = 8 * (fixed - TAB_SUM);
    r->se = 8 * (ti->len - TAB_SUM);
    return 0;
}

/* Version 2: the directory's first keys and stream offsets of chunk c (the
 * entries before it are checked): first keys strictly ascending, at least as
 * far apart as their indexes, within the type's range (with the dense flag:
 * key first(c)); offsets ascending by at least a bit a code and inside the
 * stream (gap offsets all 0 without a key section). */
static int check_dir2(colog_idxr_t *r, uint32_t c, const uint8_t *d)
{
    struct chunk *ch = &r->chunks[c];
    uint64_t key = colog__get_u64(d + 16), goff = colog__get_u64(d + 24);
    uint64_t coff = colog__get_u64(d + 32), sbits = r->se - r->ss;
    uint64_t maxf = r->flip ? UINT64_MAX : key_max(r->type);
    uint32_t n = chunk_end(r, c) - ch->first; /* >= 1: firsts are checked */
    if (key > key_max(r->type))
        return chunk_corrupt(r, c, "first key out of range for the column type");
    ch->fkey = key ^ r->flip;
    if (r->dense && key != ch->first)
        return chunk_corrupt(r, c, "first key is not its index (dense keys)");
    if (!r->dense && c == 0 && key != r->key0)
        return chunk_corrupt(r, c, "first key differs from key 0");
    if (!r->dense && c > 0 &&
        (ch->fkey <= ch[-1].fkey || ch->fkey - ch[-1].fkey < ch->first - ch[-1].first))
        return chunk_corrupt(r, c, "first key does not follow the previous chunk's");
    if (maxf - ch->fkey < n - 1)
        return chunk_corrupt(r, c, "keys out of range for the column type");
    if (r->dense ? goff != 0
        : c == 0
            ? goff != 0
            : goff < ch[-1].goff - r->ss || goff - (ch[-1].goff - r->ss) < ch->first - ch[-1].first)
        return chunk_corrupt(r, c, "key gap offset out of order");
    if (c == 0
            ? coff > sbits
            : coff < ch[-1].coff - r->ss || coff - (ch[-1].coff - r->ss) < ch->first - ch[-1].first)
        return chunk_corrupt(r, c, "cardinality offset out of order");
    if (coff > sbits || sbits - coff < n)
        return chunk_corrupt(r, c, "cardinality offset past the table");
    ch->goff = r->ss + goff;
    ch->coff = r->ss + coff;
    uint64_t gend = r->chunks[0].coff - r->ss; /* the key gaps end where cardinalities start */
    if (r->dense && gend != 0)
        return chunk_corrupt(r, c, "cardinality offset out of order");
    if (!r->dense && (goff > gend || (c + 1 == r->nchunks && gend - goff < (uint64_t)n - 1)))
        return chunk_corrupt(r, c, "key gap offset past the key gaps");
    return 0;
}

/* The chunk directory (invariant 2). */
static int parse_dir(colog_idxr_t *r, const uint8_t *t, uint64_t data_off, uint64_t size)
{
    r->chunks = malloc((r->nchunks ? r->nchunks : 1) * sizeof *r->chunks);
    if (!r->chunks)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    size_t dent = r->version == IDX_V1 ? DIR_ENT_V1 : DIR_ENT;
    uint64_t off = data_off;
    for (uint32_t c = 0; c < r->nchunks; c++) {
        const uint8_t *d = t + (size_t)c * dent;
        struct chunk *ch = &r->chunks[c];
        *ch = (struct chunk){.off = off,
                             .first = colog__get_u32(d),
                             .len = colog__get_u32(d + 4),
                             .sum = colog__get_u64(d + 8)};
        if (c == 0 ? ch->first != 0 : ch->first <= r->chunks[c - 1].first)
            return chunk_corrupt(r, c, "first keys not ascending from 0");
        if (ch->first >= r->nkeys)
            return chunk_corrupt(r, c, "first key out of range");
        if (ch->len < 2 || ch->len > size - off)
            return chunk_corrupt(r, c, "length out of bounds");
        off += ch->len;
    }
    if (off != size)
        return corrupt(r, "chunks do not end at the end of the file");
    if (r->version == IDX_V1)
        return 0;
    /* Second pass: check_dir2 needs each chunk's end, so every first. */
    for (uint32_t c = 0; c < r->nchunks; c++) {
        int rc = check_dir2(r, c, t + (size_t)c * dent);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The keys: key 0, then nkeys - 1 gaps, into r->keys (flipped). Version 2:
 * each chunk's first key and gap offset as the directory says. */
static int parse_keys(colog_idxr_t *r, uint64_t *at)
{
    /* the largest flipped key: i64 keys span all of u64 */
    uint64_t buf[PGROUP], maxf = r->flip ? UINT64_MAX : key_max(r->type);
    if (r->key0 > key_max(r->type))
        return key_corrupt(r, 0, "key out of range for the column type");
    uint64_t f = r->key0 ^ r->flip;
    uint32_t c = 0;
    for (uint32_t i = 0; i < r->nkeys; i++) {
        if (i > 0) {
            uint64_t v;
            const char *bad = gamma_get(r->tab, at, r->se, r->kord, &v);
            if (bad)
                return colog_seterr(COLOG_ECORRUPT, "%s: key table: key %u: %s", r->display, i,
                                    bad);
            if (f >= maxf || v > maxf - f - 1)
                return key_corrupt(r, i, "key out of range for the column type");
            f += v + 1;
        }
        if (r->version == IDX_V2 && c < r->nchunks && r->chunks[c].first == i) {
            if (f != r->chunks[c].fkey)
                return tab_corrupt(r, c, i, "key differs from the directory's first key");
            if (*at != r->chunks[c].goff)
                return tab_corrupt(r, c, UINT32_MAX, "key gaps not at the directory's offset");
            c++;
        }
        buf[i % PGROUP] = f;
        if (i % PGROUP == PGROUP - 1 || i + 1 == r->nkeys) {
            int rc = pack_group(&r->keys, i / PGROUP, buf, i % PGROUP + 1);
            if (rc < 0)
                return colog_seterr(rc, "%s: key table: %s", r->display, colog_strerror(rc));
        }
    }
    return 0;
}

/* The cardinalities, into r->cards. Version 2: each chunk's at the
 * directory's offset. */
static int parse_cards(colog_idxr_t *r, uint64_t *at)
{
    uint64_t buf[PGROUP], total = 0;
    uint32_t c = 0;
    for (uint32_t i = 0; i < r->nkeys; i++) {
        if (r->version == IDX_V2 && c < r->nchunks && r->chunks[c].first == i) {
            if (*at != r->chunks[c].coff)
                return tab_corrupt(r, c, UINT32_MAX, "cardinalities not at the directory's offset");
            c++;
        }
        uint64_t v;
        const char *bad = gamma_get(r->tab, at, r->se, r->cord, &v);
        if (bad)
            return colog_seterr(COLOG_ECORRUPT, "%s: key table: cardinality %u: %s", r->display, i,
                                bad);
        if (v >= r->nrows)
            return key_corrupt(r, i, "cardinality out of range");
        total += v + 1;
        if (total > r->nrows)
            return corrupt(r, "key table: cardinalities add up to more than the rows");
        buf[i % PGROUP] = v + 1;
        if (i % PGROUP == PGROUP - 1 || i + 1 == r->nkeys) {
            int rc = pack_group(&r->cards, i / PGROUP, buf, i % PGROUP + 1);
            if (rc < 0)
                return colog_seterr(rc, "%s: key table: %s", r->display, colog_strerror(rc));
        }
    }
    r->total = total;
    return 0;
}

/* The sums of struct cum at each group and chunk, so that or_range finds a
 * posting inside a chunk with at most PGROUP - 1 cardinalities. */
static int sum_up(colog_idxr_t *r)
{
    size_t ngroups = ((size_t)r->nkeys + PGROUP - 1) / PGROUP;
    r->gcum = malloc((ngroups ? ngroups : 1) * sizeof *r->gcum);
    if (!r->gcum)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    struct cum at = {0, 0};
    uint32_t c = 0;
    for (uint32_t k = 0; k < r->nkeys; k++) {
        if (k % PGROUP == 0)
            r->gcum[k / PGROUP] = at;
        if (c < r->nchunks && r->chunks[c].first == k) {
            r->chunks[c].rows0 = at.rows;
            r->chunks[c].lo0 = at.lo;
            if (c > 0)
                r->chunks[c - 1].lobits = at.lo - r->chunks[c - 1].lo0;
            c++;
        }
        uint32_t card = card_of(r, k);
        at.rows += card;
        at.lo += (uint64_t)card * rice_k(r->nrows, card);
    }
    if (c > 0)
        r->chunks[c - 1].lobits = at.lo - r->chunks[c - 1].lo0;
    return 0;
}

/* Loaded: struct cum at key i, from its group's. */
static struct cum cum_at(const colog_idxr_t *r, uint32_t i)
{
    struct cum s = r->gcum[i / PGROUP];
    for (uint32_t k = i - i % PGROUP; k < i; k++) {
        uint32_t card = card_of(r, k);
        s.rows += card;
        s.lo += (uint64_t)card * rice_k(r->nrows, card);
    }
    return s;
}

/* Loaded: the rows of the keys before key i (<= nkeys). */
static uint64_t rows_before(const colog_idxr_t *r, uint32_t i)
{
    return i == r->nkeys ? r->total : cum_at(r, i).rows;
}

/* Decode and check every key and cardinality of r->tab into the packed
 * arrays (invariants 2, 3). */
static int decode_table(colog_idxr_t *r)
{
    size_t ngroups = ((size_t)r->nkeys + PGROUP - 1) / PGROUP;
    bool keys = r->nkeys > 0 && !r->dense;
    r->cards.g = malloc((ngroups ? ngroups : 1) * sizeof *r->cards.g);
    r->keys.g = keys ? malloc(ngroups * sizeof *r->keys.g) : NULL;
    if (!r->cards.g || (keys && !r->keys.g))
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    uint64_t at = r->ss;
    int rc = 0;
    if (keys)
        rc = parse_keys(r, &at);
    if (rc == 0)
        rc = parse_cards(r, &at);
    if (rc == 0 && !padding_ok(r->tab, at, r->se))
        rc = corrupt(r, "key table: data after the cardinalities");
    if (rc == 0)
        rc = sum_up(r);
    pack_trim(&r->keys);
    pack_trim(&r->cards);
    return rc;
}

/* Read and check the table: its checksum and directory; version 1: decode it
 * all (the table is then freed), version 2: keep it for later. */
static int read_table(colog_idxr_t *r, uint64_t size, const struct tabinfo *ti)
{
    size_t tlen = (size_t)ti->len;
    int rc;
    /* A version 2 table stays for the reader's life and is read in pieces: map
     * it rather than copy it (a point query opens one index per part, and
     * copying hundreds of KiB into fresh pages was most of its time). Parts are
     * immutable (replaced, never rewritten), so the mapping stays valid, even
     * after a merge unlinks the file. The chunks after the table provide the
     * SLACK readable bytes; a file too short for that is read as version 1. */
    if (r->version == IDX_V2 && size >= HDR_SIZE + ti->len + SLACK) {
        size_t mlen = HDR_SIZE + tlen + SLACK;
        void *m = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE, r->fd, 0);
        if (m != MAP_FAILED) {
            r->map = m;
            r->map_len = mlen;
            r->tab = (uint8_t *)m + HDR_SIZE;
        }
    }
    if (r->map == NULL) {
        r->tab = malloc(tlen + SLACK);
        if (!r->tab)
            return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
        memset(r->tab + tlen, 0, SLACK);
        rc = r_pread(r, r->tab, tlen, HDR_SIZE, "key table");
        if (rc < 0)
            return rc;
    }
    if (colog__get_u64(r->tab + tlen - TAB_SUM) !=
        XXH3_64bits_withSeed(r->tab, tlen - TAB_SUM, r->seed))
        return corrupt(r, "key table: checksum mismatch");
    if (ti->keys)
        r->key0 = colog__get_u64(r->tab + r->ss / 8 - 8);
    rc = parse_dir(r, r->tab, HDR_SIZE + ti->len, size);
    if (rc < 0 || r->version == IDX_V2)
        return rc;
    rc = decode_table(r);
    free(r->tab);
    r->tab = NULL;
    if (rc == 0)
        r->loaded = 1; /* not shared yet */
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
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
    }
    r->type = type;
    r->flip = key_flip(type);
    r->seed = colog__file_seed(fname);
    r->nrows = nrows;
    r->display = strdup(display);
    if (!r->display) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
        goto out_free;
    }
    uint64_t size;
    r->fd = colog__open_ro(dirfd, fname, display, &size);
    if (r->fd < 0) {
        rc = r->fd;
        goto out_free;
    }
    uint8_t h[HDR_SIZE];
    rc = r_pread(r, h, size < HDR_SIZE ? size : HDR_SIZE, 0, "header");
    if (rc < 0)
        goto out_close;
    if (size < 4 || colog__get_u32(h) != COLOG_IDX_MAGIC) {
        rc = colog_seterr(COLOG_ENOTCOLOG, "%s: not a colog index file", display);
        goto out_close;
    }
    if (size < HDR_SIZE + TAB_SUM) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: truncated file (%llu bytes)", display,
                          (unsigned long long)size);
        goto out_close;
    }
    struct tabinfo ti = {0};
    rc = check_header(r, h, nrows, size, &ti);
    if (rc == 0)
        rc = read_table(r, size, &ti);
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

int colog__idxr_load(colog_idxr_t *r)
{
    if (!r)
        return colog_seterr(COLOG_EINVAL, "index: no reader");
    if (is_loaded(r))
        return 0;
    pthread_mutex_lock(&r->mu);
    int rc;
    if (is_loaded(r)) { /* another thread loaded it while this one waited */
        rc = 0;
    } else if (r->load_ran) { /* it failed: the same error again */
        rc = colog_seterr(r->load_rc, "%s", r->load_msg ? r->load_msg : r->display);
    } else {
        rc = decode_table(r);
        if (rc == COLOG_ENOMEM) { /* not the file's fault: the next call tries again */
            pack_free(&r->keys);
            pack_free(&r->cards);
            free(r->gcum);
            r->keys = r->cards = (struct pack){0};
            r->gcum = NULL;
        } else if (rc < 0) {
            r->load_ran = true;
            r->load_rc = rc;
            r->load_msg = strdup(colog_errmsg());
        } else {
            __atomic_store_n(&r->loaded, 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

uint32_t colog__idxr_nkeys(const colog_idxr_t *r)
{
    return r ? r->nkeys : 0;
}

uint64_t colog__idxr_key(const colog_idxr_t *r, uint32_t i)
{
    assert(!r || is_loaded(r)); /* the caller must colog__idxr_load a version 2 file */
    return r && i < r->nkeys && is_loaded(r) ? fkey(r, i) ^ r->flip : 0;
}

uint64_t colog__idxr_card(const colog_idxr_t *r, uint32_t i)
{
    assert(!r || is_loaded(r));
    return r && i < r->nkeys && is_loaded(r) ? card_of(r, i) : 0;
}

/* Loaded: the first i with flipped key(i) >= f. */
static uint32_t lower_f(const colog_idxr_t *r, uint64_t f)
{
    uint32_t lo = 0, hi = r->nkeys;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (fkey(r, mid) < f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t colog__idxr_lower(const colog_idxr_t *r, uint64_t key)
{
    assert(!r || is_loaded(r));
    if (!r || !is_loaded(r))
        return r ? r->nkeys : 0;
    return lower_f(r, key ^ r->flip);
}

/* ---------------------------------------------------------------- lazy decoding (version 2) */

/* Not loaded: decode and check the keys of chunk c from its first key and
 * its gaps (the gap of the next chunk's first key included, which must give
 * that key and end at its gap offset; the last chunk's at the start of the
 * cardinalities). *nbelow = how many of the chunk's flipped keys are below
 * fb; *flast = its last, flipped. Reads r only. */
static int lazy_keys(const colog_idxr_t *r, uint32_t c, uint64_t fb, uint32_t *nbelow,
                     uint64_t *flast)
{
    const struct chunk *ch = &r->chunks[c];
    uint32_t n = chunk_end(r, c) - ch->first, below = 0;
    uint64_t f = ch->fkey;
    if (r->dense) { /* keys fkey .. fkey + n - 1, checked at open */
        *nbelow = fb <= f ? 0 : fb - f < n ? (uint32_t)(fb - f) : n;
        *flast = f + n - 1;
        return 0;
    }
    uint64_t maxf = r->flip ? UINT64_MAX : key_max(r->type), last = f;
    bool more = c + 1 < r->nchunks;
    uint64_t at = ch->goff, end = more ? ch[1].goff : r->chunks[0].coff;
    below = f < fb;
    for (uint32_t m = 1; m < n + more; m++) {
        uint64_t v;
        const char *bad = gamma_get(r->tab, &at, end, r->kord, &v);
        if (bad)
            return tab_corrupt(r, c, ch->first + m, bad);
        if (f >= maxf || v > maxf - f - 1)
            return tab_corrupt(r, c, ch->first + m, "key out of range for the column type");
        f += v + 1;
        if (m < n) {
            below += f < fb;
            last = f;
        }
    }
    if (more && f != ch[1].fkey)
        return tab_corrupt(r, c, UINT32_MAX, "keys do not lead to the next chunk's first key");
    if (at != end)
        return tab_corrupt(r, c, UINT32_MAX, "key gaps do not end where the next ones start");
    *nbelow = below;
    *flast = last;
    return 0;
}

/* Not loaded: decode and check the cardinalities of chunk c (each <= nrows,
 * their sum too; they end where the next chunk's start, the last chunk's
 * with the table's zero padding): into out[0..n) if out is not NULL, and the
 * sum of those of keys [a, b) added to *sum. Reads r only. */
static int lazy_cards(const colog_idxr_t *r, uint32_t c, uint32_t *out, uint32_t a, uint32_t b,
                      uint64_t *sum)
{
    const struct chunk *ch = &r->chunks[c];
    uint32_t n = chunk_end(r, c) - ch->first;
    bool more = c + 1 < r->nchunks;
    uint64_t at = ch->coff, end = more ? ch[1].coff : r->se, total = 0, s = 0;
    for (uint32_t m = 0; m < n; m++) {
        uint64_t v;
        uint32_t k = ch->first + m;
        const char *bad = gamma_get(r->tab, &at, end, r->cord, &v);
        if (bad)
            return tab_corrupt(r, c, k, bad);
        if (v >= r->nrows)
            return tab_corrupt(r, c, k, "cardinality out of range");
        total += v + 1;
        if (total > r->nrows)
            return tab_corrupt(r, c, k, "cardinalities add up to more than the rows");
        if (out)
            out[m] = (uint32_t)(v + 1);
        if (k >= a && k < b)
            s += v + 1;
    }
    if (more ? at != end : !padding_ok(r->tab, at, end))
        return tab_corrupt(r, c, UINT32_MAX, "cardinalities do not end where the next ones start");
    *sum += s;
    return 0;
}

/* Not loaded: the first i with flipped key(i) >= fb, decoding one chunk. */
static int lazy_lower(const colog_idxr_t *r, uint64_t fb, uint32_t *pos)
{
    /* the last chunk whose first key is below fb */
    uint32_t lo = 0, hi = r->nchunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->chunks[mid].fkey < fb)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        *pos = 0;
        return 0;
    }
    uint32_t below;
    uint64_t last;
    int rc = lazy_keys(r, lo - 1, fb, &below, &last);
    if (rc == 0)
        *pos = r->chunks[lo - 1].first + below;
    return rc;
}

int colog__idxr_range(const colog_idxr_t *r, uint64_t lo, uint64_t hi, uint32_t *pi, uint32_t *pj,
                      uint64_t *card_sum)
{
    if (!r || !pi || !pj || (lo ^ r->flip) > (hi ^ r->flip))
        return colog_seterr(COLOG_EINVAL, "%s: bad key range", r ? r->display : "index");
    uint64_t flo = lo ^ r->flip, fhi = hi ^ r->flip, sum = 0;
    uint32_t i, j = r->nkeys;
    int rc = 0;
    if (is_loaded(r)) {
        i = lower_f(r, flo);
        if (fhi != UINT64_MAX)
            j = lower_f(r, fhi + 1);
        if (card_sum)
            sum = rows_before(r, j) - rows_before(r, i);
    } else {
        rc = lazy_lower(r, flo, &i);
        if (rc == 0 && fhi != UINT64_MAX)
            rc = lazy_lower(r, fhi + 1, &j);
        if (rc == 0 && card_sum && i < j) {
            uint32_t c1 = chunk_of(r, j - 1);
            for (uint32_t c = chunk_of(r, i); c <= c1 && rc == 0; c++)
                rc = lazy_cards(r, c, NULL, i, j, &sum);
        }
        if (rc < 0)
            return rc;
    }
    *pi = i;
    *pj = j;
    if (card_sum)
        *card_sum = sum;
    return 0;
}

int colog__idxr_last_key(const colog_idxr_t *r, uint64_t *key)
{
    if (!r || !key || r->nkeys == 0)
        return colog_seterr(COLOG_EINVAL, "%s: no last key", r ? r->display : "index");
    if (is_loaded(r)) {
        *key = fkey(r, r->nkeys - 1) ^ r->flip;
        return 0;
    }
    uint32_t below;
    uint64_t last;
    int rc = lazy_keys(r, r->nchunks - 1, 0, &below, &last);
    if (rc == 0)
        *key = last ^ r->flip;
    return rc;
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

/* What or_range has decoded so far; dst is touched only at the end. */
struct sink {
    const colog_idxr_t *r;
    bool use_flat;         /* Rice rows go to flat, else stay in rows */
    uint64_t *flat;        /* nrows bits, whole containers of 2^16 */
    roaring_bitmap_t *acc; /* Roaring postings, ORed lazily once two are in */
    bool lazy;
    uint32_t *rows; /* flat: one posting's rows; else all the Rice rows (n) */
    size_t n, cap;
    uint32_t small[SINK_SMALL]; /* rows, while they fit */
};

static uint32_t ncontainers(uint64_t nrows)
{
    return (uint32_t)((nrows + 65535) >> 16);
}

static void sink_init(struct sink *s, const colog_idxr_t *r, bool use_flat)
{
    *s = (struct sink){.r = r, .use_flat = use_flat, .cap = SINK_SMALL};
    s->rows = s->small;
}

static void sink_free(struct sink *s)
{
    free(s->flat);
    if (s->rows != s->small)
        free(s->rows);
    if (s->acc) /* roaring_bitmap_free(NULL) crashes in CRoaring 0.2.66 */
        roaring_bitmap_free(s->acc);
}

/* Where the card rows of the next posting go; NULL if out of memory. */
static uint32_t *sink_room(struct sink *s, uint32_t card)
{
    size_t at = s->use_flat ? 0 : s->n, need = at + card;
    if (need > s->cap) {
        size_t c = 2 * s->cap > need ? 2 * s->cap : need;
        uint32_t *q = s->rows == s->small ? malloc(c * sizeof *q) : realloc(s->rows, c * sizeof *q);
        if (!q)
            return NULL;
        if (s->rows == s->small)
            memcpy(q, s->small, at * sizeof *q);
        s->rows = q;
        s->cap = c;
    }
    return s->rows + at;
}

/* Take the card rows just decoded into sink_room's place. */
static int sink_rows(struct sink *s, uint32_t card)
{
    if (!s->use_flat) {
        s->n += card;
        return 0;
    }
    if (!s->flat) {
        s->flat = calloc((size_t)ncontainers(s->r->nrows) << 10, sizeof *s->flat);
        if (!s->flat)
            return COLOG_ENOMEM;
    }
    uint64_t *f = s->flat;
    const uint32_t *rows = s->rows;
    for (uint32_t k = 0; k < card; k++)
        f[rows[k] >> 6] |= 1ull << (rows[k] & 63);
    return 0;
}

/* A bitmap of the set bits of flat (ncont containers of 1024 words), made
 * by deserializing a portable serialization written here: the bitset of a
 * container over 4096 rows is copied as is. NULL if out of memory. */
static roaring_bitmap_t *flat_to_roaring(const uint64_t *flat, uint32_t ncont)
{
    uint32_t *cards = malloc((ncont ? ncont : 1) * sizeof *cards);
    if (!cards)
        return NULL;
    size_t n = 0, size = 8;
    for (uint32_t c = 0; c < ncont; c++) {
        cards[c] = popcount_bytes((const uint8_t *)(flat + ((size_t)c << 10)), RB_BITSET_BYTES);
        if (cards[c]) {
            n++;
            size += 8 + (cards[c] > RB_ARRAY_MAX ? RB_BITSET_BYTES : 2 * (size_t)cards[c]);
        }
    }
    roaring_bitmap_t *b = NULL;
    uint8_t *buf = n ? malloc(size) : NULL;
    if (n == 0) {
        b = roaring_bitmap_create();
        goto out_free;
    }
    if (!buf)
        goto out_free;
    colog__put_u32(buf, RB_COOKIE_NORUN);
    colog__put_u32(buf + 4, (uint32_t)n);
    uint8_t *kc = buf + 8, *offs = buf + 8 + 4 * n;
    size_t at = 8 + 8 * n;
    for (uint32_t c = 0; c < ncont; c++) {
        if (!cards[c])
            continue;
        colog__put_u16(kc, (uint16_t)c);
        colog__put_u16(kc + 2, (uint16_t)(cards[c] - 1));
        colog__put_u32(offs, (uint32_t)at);
        kc += 4;
        offs += 4;
        const uint64_t *w = flat + ((size_t)c << 10);
        if (cards[c] > RB_ARRAY_MAX) {
            memcpy(buf + at, w, RB_BITSET_BYTES);
            at += RB_BITSET_BYTES;
            continue;
        }
        for (uint32_t k = 0; k < 1024; k++)
            for (uint64_t x = w[k]; x; x &= x - 1, at += 2)
                colog__put_u16(buf + at, (uint16_t)(64 * k + (unsigned)__builtin_ctzll(x)));
    }
    b = roaring_bitmap_portable_deserialize_safe((const char *)buf, size);
out_free:
    free(buf);
    free(cards);
    return b;
}

/* OR everything decoded into dst. */
static int sink_finish(struct sink *s, roaring_bitmap_t *dst)
{
    roaring_bitmap_t *fb = NULL;
    if (s->flat && !(fb = flat_to_roaring(s->flat, ncontainers(s->r->nrows))))
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", s->r->display);
    if (s->lazy)
        roaring_bitmap_repair_after_lazy(s->acc);
    if (s->acc)
        roaring_bitmap_or_inplace(dst, s->acc);
    if (s->n > 0)
        roaring_bitmap_add_many(dst, s->n, s->rows);
    if (fb) {
        roaring_bitmap_or_inplace(dst, fb);
        roaring_bitmap_free(fb);
    }
    return 0;
}

/* Check the Roaring posting of key i (bytes p[0..len)), deserialize it and
 * add it to s (invariant 3). */
static int load_roaring(const colog_idxr_t *r, uint32_t i, uint32_t want, const uint8_t *p,
                        size_t len, struct sink *s)
{
    uint64_t card = 0;
    uint32_t max = 0;
    const char *bad = check_portable(p, len, &card, &max);
    if (bad)
        return colog_seterr(COLOG_ECORRUPT, "%s: key %u: malformed bitmap: %s", r->display, i, bad);
    if (card != want)
        return colog_seterr(COLOG_ECORRUPT, "%s: key %u: %llu rows, key table says %u", r->display,
                            i, (unsigned long long)card, want);
    if (max >= r->nrows)
        return colog_seterr(COLOG_ECORRUPT, "%s: key %u: row %u out of range (%llu rows)",
                            r->display, i, max, (unsigned long long)r->nrows);
    roaring_bitmap_t *b = roaring_bitmap_portable_deserialize_safe((const char *)p, len);
    if (!b) /* the bytes were checked: this is an allocation failure */
        return colog_seterr(COLOG_ENOMEM, "%s: key %u: out of memory", r->display, i);
    if (roaring_bitmap_get_cardinality(b) != card || roaring_bitmap_maximum(b) != max) {
        roaring_bitmap_free(b);
        return key_corrupt(r, i, "bitmap does not match its encoding");
    }
    if (!s->acc) {
        s->acc = b;
        return 0;
    }
    roaring_bitmap_lazy_or_inplace(s->acc, b, true);
    roaring_bitmap_free(b);
    s->lazy = true;
    return 0;
}

/* Move *at past the n-th one bit from it, all before end. */
static bool skip_ones(const uint8_t *p, uint64_t *at, uint64_t end, uint64_t n)
{
    uint64_t a = *at;
    while (n > 0) {
        if (a >= end)
            return false;
        unsigned avail = end - a < 56 ? (unsigned)(end - a) : 56;
        uint64_t w = low_bits(peek(p, a), avail);
        unsigned c = (unsigned)__builtin_popcountll(w);
        if (c < n) {
            n -= c;
            a += avail;
            continue;
        }
        while (--n > 0)
            w &= w - 1;
        a += (unsigned)__builtin_ctzll(w) + 1;
    }
    *at = a;
    return true;
}

/* Decode a Rice posting of card rows, low bits from *lo (before lo_end),
 * unary parts from *hi (before end), into out[0..card). NULL if good, else
 * what is wrong; a row id not below nrows goes to *bad_row. */
static const char *rice_get(const uint8_t *p, uint64_t *lo, uint64_t lo_end, uint64_t *hi,
                            uint64_t end, uint32_t card, uint64_t nrows, uint32_t *out,
                            uint64_t *bad_row)
{
    unsigned k = rice_k(nrows, card);
    uint64_t l = *lo, h = *hi, row = 0, q = 0, qmax = nrows >> k, mask = (1ull << k) - 1;
    if (lo_end - l < (uint64_t)card * k)
        return "truncated";
    /* The unary parts a window of up to 56 bits at a time: each one bit ends
     * a quotient, so the loop runs on the window's bits, not on loads. */
    for (uint32_t n = 0; n < card;) {
        if (h >= end)
            return "truncated";
        unsigned avail = end - h < 56 ? (unsigned)(end - h) : 56, used = 0;
        uint64_t w = low_bits(peek(p, h), avail);
        while (w != 0) {
            unsigned t = (unsigned)__builtin_ctzll(w);
            w &= w - 1;
            q += t - used;
            used = t + 1;
            uint64_t low = peek(p, l) & mask;
            l += k;
            if (q > qmax) { /* then the gap alone is over nrows */
                *bad_row = q >> (63 - k) ? UINT64_MAX : row + (q << k | low);
                return "row out of range";
            }
            row += q << k | low;
            if (row >= nrows) {
                *bad_row = row;
                return "row out of range";
            }
            out[n++] = (uint32_t)row++;
            q = 0;
            if (n == card)
                break;
        }
        if (n == card) {
            h += used;
            break;
        }
        q += avail - used; /* the window's zeros after its last one */
        h += avail;
    }
    *lo = l;
    *hi = h;
    return NULL;
}

/* The cardinalities of one chunk's keys as or_range reads them: from the
 * loaded arrays (v NULL), or decoded lazily: v[k - first] for its key k. */
struct ccards {
    const uint32_t *v;
    uint32_t first;
};

static uint32_t cc_card(const colog_idxr_t *r, const struct ccards *cc, uint32_t k)
{
    return cc->v ? cc->v[k - cc->first] : card_of(r, k);
}

/* Rice chunk c (bytes p[0..len)): decode keys [i, j) of it into s, skipping
 * its keys before i by their counts (low bits: card * k each; unary parts:
 * card one bits each); check the end of the chunk when its last key is read. */
static int read_rice(const colog_idxr_t *r, uint32_t c, const uint8_t *p, uint32_t i, uint32_t j,
                     const struct ccards *cc, struct sink *s)
{
    const struct chunk *ch = &r->chunks[c];
    uint32_t e = chunk_end(r, c), stop = j < e ? j : e, k = ch->first;
    uint64_t lobits = ch->lobits, skip = 0;
    if (cc->v) {
        lobits = 0;
        for (uint32_t m = ch->first; m < e; m++)
            lobits += (uint64_t)cc_card(r, cc, m) * rice_k(r->nrows, cc_card(r, cc, m));
    }
    uint64_t lo = 8, lo_end = 8 + lobits, hi = lo_end, end = 8 * (uint64_t)ch->len;
    if (lo_end > end)
        return chunk_corrupt(r, c, "truncated");
    if (!cc->v && i > k && i - k > i % PGROUP) {
        struct cum at = cum_at(r, i);
        lo += at.lo - ch->lo0;
        skip = at.rows - ch->rows0;
        k = i;
    }
    for (; k < i; k++) {
        uint32_t card = cc_card(r, cc, k);
        lo += (uint64_t)card * rice_k(r->nrows, card);
        skip += card;
    }
    if (!skip_ones(p, &hi, end, skip))
        return chunk_corrupt(r, c, "truncated");
    for (; k < stop; k++) {
        uint32_t card = cc_card(r, cc, k), *out = sink_room(s, card);
        if (!out)
            return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
        uint64_t row = 0; /* set (>= nrows > 0) only for a row out of range */
        const char *bad = rice_get(p, &lo, lo_end, &hi, end, card, r->nrows, out, &row);
        if (bad && row)
            return colog_seterr(COLOG_ECORRUPT, "%s: key %u: row %llu out of range (%llu rows)",
                                r->display, k, (unsigned long long)row,
                                (unsigned long long)r->nrows);
        if (bad)
            return key_corrupt(r, k, bad);
        if (sink_rows(s, card) < 0)
            return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    }
    /* The unary parts of the keys after j must end in the chunk's last byte:
     * this checks the chunk against the cardinalities, decoded lazily or not. */
    uint64_t rest = 0;
    for (; k < e; k++)
        rest += cc_card(r, cc, k);
    if (!skip_ones(p, &hi, end, rest))
        return chunk_corrupt(r, c, "truncated");
    if (!padding_ok(p, hi, end))
        return chunk_corrupt(r, c, "data after the last key");
    return 0;
}

/* Chunk c, bytes p[0..len) (SLACK readable bytes after): checksum, kind,
 * then keys [i, j) of it into s. */
static int read_chunk(const colog_idxr_t *r, uint32_t c, const uint8_t *p, uint32_t i, uint32_t j,
                      const struct ccards *cc, struct sink *s)
{
    const struct chunk *ch = &r->chunks[c];
    if (XXH3_64bits_withSeed(p, ch->len, r->seed ^ c) != ch->sum)
        return chunk_corrupt(r, c, "checksum mismatch");
    if (p[0] == KIND_ROARING) {
        if (chunk_end(r, c) - ch->first != 1)
            return chunk_corrupt(r, c, "Roaring chunk of more than one key");
        return load_roaring(r, ch->first, cc_card(r, cc, ch->first), p + 1, ch->len - 1u, s);
    }
    if (p[0] != KIND_RICE)
        return chunk_corrupt(r, c, "unknown chunk kind");
    return read_rice(r, c, p, i, j, cc, s);
}

/* The cardinalities of the keys of chunks c0..c1-1 (from key first(c0)):
 * when loaded, none (*cards NULL), else decoded into *cards (stack, or
 * malloc'ed when more than SINK_SMALL: free it if not stack); and the rows
 * of keys [i, j) in *total. */
static int range_cards(const colog_idxr_t *r, uint32_t c0, uint32_t c1, uint32_t i, uint32_t j,
                       uint32_t *stack, uint32_t **cards, uint64_t *total)
{
    *cards = NULL;
    *total = 0;
    if (is_loaded(r)) {
        *total = rows_before(r, j) - rows_before(r, i);
        return 0;
    }
    uint32_t base = r->chunks[c0].first, n = chunk_end(r, c1 - 1) - base;
    /* n <= 8 * table bytes: every cardinality takes a bit (checked at open) */
    uint32_t *v = n <= SINK_SMALL ? stack : malloc((size_t)n * sizeof *v);
    if (!v)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    int rc = 0;
    for (uint32_t c = c0; c < c1 && rc == 0; c++)
        rc = lazy_cards(r, c, v + (r->chunks[c].first - base), i, j, total);
    if (rc < 0) {
        if (v != stack)
            free(v);
        return rc;
    }
    *cards = v;
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
    uint32_t c = chunk_of(r, i), cend = chunk_of(r, j - 1) + 1;
    uint32_t cstack[SINK_SMALL], *cards;
    uint64_t total;
    int rc = range_cards(r, c, cend, i, j, cstack, &cards, &total);
    if (rc < 0)
        return rc;
    struct sink s;
    sink_init(&s, r, r->nrows <= FLAT_MAX_ROWS && total > r->nrows / 256);
    const struct chunk *ch = r->chunks;
    uint8_t sbuf[2 * CHUNK_TARGET + SLACK], *buf = sbuf;
    size_t cap = sizeof sbuf - SLACK;
    uint32_t base = ch[c].first;
    while (c < cend && rc == 0) {
        /* The longest run of chunks from c within READ_CHUNK bytes (at least one). */
        uint32_t d = c + 1;
        uint64_t span = ch[c].len;
        while (d < cend && span + ch[d].len <= READ_CHUNK)
            span += ch[d++].len;
        if (span > cap) {
            uint8_t *b = malloc((size_t)span + SLACK);
            if (!b) {
                rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
                break;
            }
            if (buf != sbuf)
                free(buf);
            buf = b;
            cap = (size_t)span;
        }
        memset(buf + span, 0, SLACK);
        rc = colog__pread_all(r->fd, buf, (size_t)span, ch[c].off);
        if (rc < 0) {
            char what[48];
            snprintf(what, sizeof what, "chunks %u..%u", c, d - 1);
            rc = r_pread_err(r, rc, what);
        }
        for (uint32_t e = c; e < d && rc == 0; e++) {
            struct ccards cc = {.v = cards ? cards + (ch[e].first - base) : NULL,
                                .first = ch[e].first};
            rc = read_chunk(r, e, buf + (ch[e].off - ch[c].off), i, j, &cc, &s);
        }
        c = d;
    }
    if (rc == 0)
        rc = sink_finish(&s, dst);
    sink_free(&s);
    if (buf != sbuf)
        free(buf);
    if (cards != cstack)
        free(cards);
    return rc;
}

void colog__idxr_close(colog_idxr_t *r)
{
    if (!r)
        return;
    close(r->fd);
    idxr_free(r);
}
