/*
 * colog_colfile.c — column files: one column of one part, written once as a
 * sequence of compressed, checksummed blocks and read back a block at a time.
 *
 * Layout (docs/FORMAT.md "Column files" is the authority):
 *
 *     header (32)  block 0  block 1 ...  footer (24 + 48 * nblocks)  trailer (24)
 *
 * A block is a 32-byte block header followed by the LZ4 compression of its raw
 * payload: an optional validity bitset, then the values in the encoding the
 * block header names (colog_enc.h). The footer lists every block's offset,
 * stored length, row counts, zone map and checksum; the trailer at the very end
 * of the file gives the footer's offset and length, so a reader needs two
 * preads (head and tail) to open a file and one pread per block.
 *
 * Checksums are XXH3-64. The header, footer and trailer are seeded with the
 * file seed (colog__file_seed of the file's name); a block is seeded with
 * file seed ^ block number and covers the block header (checksum field zeroed)
 * and the compressed payload. A file renamed, or a block copied to another
 * position or into another file, fails its check; the footer also records each
 * block's checksum, so a block swapped with one from a same-named file of
 * another part is caught too.
 *
 * Writer: values are copied into a pending block (held as 64-bit words); a full
 * block is encoded, compressed and written at once. Everything written is also
 * fed to a running XXH3-64 and SHA-256 of the whole file, which colw_close
 * reports for the part manifest.
 *
 * Reader: the footer is parsed and validated when the file is opened, and the
 * reader is read-only from then on. A block read needs three growable buffers
 * (stored block, raw payload, decoded values): they make a colog_rbuf_t, which
 * the caller owns (colog__colr_read_buf), so any number of threads can read one
 * reader at once, each with its own buffers; pread on the shared fd has no file
 * position to race on. colog__colr_read is read_buf with the reader's own
 * rbuf, allocated on the first read so that opening many columns stays cheap.
 * colog__colr_read_many takes the offsets and lengths of many blocks (of one or
 * several readers) from the footers, reads them as one batch through an I/O
 * queue (colog_uring.c: io_uring, or pread), then verifies and decodes each
 * with the same code as read_buf (decode_block).
 *
 * Invariants:
 *  1. Writer: pend[0..npend) are the pending values; bits [npend, COLOG_BLOCK_ROWS)
 *     of pvalid are zero. npend < COLOG_BLOCK_ROWS between calls.
 *  2. Writer: off is the number of bytes written so far, and the running hashes
 *     have seen exactly those bytes. Once err is set the writer only fails.
 *  3. On disk, every block but the last holds exactly COLOG_BLOCK_ROWS rows, the
 *     last 1..COLOG_BLOCK_ROWS; blocks are contiguous from offset 32 and the
 *     footer starts where the last block ends. The reader checks all of it when
 *     it opens the file, so colr_read trusts only the validated footer entries.
 *  4. Every decoded value of a block, present or absent, lies within the zone
 *     [min, max] of the footer, which is attained (except f64, whose values are
 *     stored as they are): the writer encodes absent values as the minimum
 *     (FOR) or as the previous value (DELTA), and 0 when nothing is present.
 *     The reader checks this, so u8..u32 values and dictionary codes read back
 *     within their type's range.
 *  5. Reader: after colog__colr_open returns, every field of colog_colr_t but
 *     `own` is constant; `own` is touched only by colog__colr_read (one thread
 *     at a time per reader, as before). All other mutable state of a read is in
 *     the colog_rbuf_t it is given, and a block's decoded arrays live there
 *     until the buffer's next use.
 *  6. read_many: a colog_rbuf_t is named by at most one request of a batch
 *     (busy is set while the batch runs and cleared on every return path), so
 *     no two reads land in one buffer. Outputs are written only when every
 *     request has been read, verified and decoded.
 */
#include "colog_storage_int.h"
#include "colog_enc.h"
#include "colog_uring.h"

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
#include <zstd.h>

#define HDR_SIZE 32
#define BLK_HDR_SIZE 32
#define FOOT_FIXED 16 /* magic, nblocks, total rows */
#define FOOT_ENTRY 48
#define FOOT_SUM 8
#define TRAILER_SIZE 24
#define BLK_HAS_NULLS 0x01u
#define CODEC_LZ4 0 /* block header byte 14 */
#define CODEC_ZSTD 1
#define BITSET_MAX (COLOG_BLOCK_ROWS / 8)
#define RAW_MAX (BITSET_MAX + COLOG_ENC_BOUND(COLOG_BLOCK_ROWS))
/* A candidate is not compressed if its raw size exceeds this many times the
 * best compressed size found so far (LZ4 shrinks bit-packed data little). */
#define SKIP_FACTOR 4
#define MAX_BLOCKS (1u << 24) /* 2^40 rows per column file */

_Static_assert(RAW_MAX <= LZ4_MAX_INPUT_SIZE, "a raw block must fit LZ4");
_Static_assert(COLOG_BLOCK_ROWS % 8 == 0, "bitsets of full blocks are whole bytes");

/* The footer entry of one block, as validated in memory. */
struct blkent {
    uint64_t off;
    uint32_t len; /* block header + compressed payload */
    uint32_t nrows;
    uint32_t nvalid;
    uint64_t min, max; /* zone, in the decoded domain's bits */
    uint64_t sum;      /* the block's checksum */
};

/* How a type's values decode. */
enum domain { DOM_I64, DOM_U64, DOM_F64, DOM_CODE };

static bool type_known(unsigned t)
{
    return t >= COLOG_T_TIME && t <= COLOG_T_STRING;
}

static enum domain domain_of(colog_type_t t)
{
    switch (t) {
    case COLOG_T_TIME:
    case COLOG_T_I64:
        return DOM_I64;
    case COLOG_T_F64:
        return DOM_F64;
    case COLOG_T_IP:
    case COLOG_T_STRING:
        return DOM_CODE;
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
        break;
    }
    return DOM_U64;
}

/* Largest value of the type in its decoded domain (unsigned types and codes). */
static uint64_t dom_umax(colog_type_t t)
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
    case COLOG_T_TIME:
    case COLOG_T_U64:
    case COLOG_T_I64:
    case COLOG_T_F64:
        break;
    }
    return UINT64_MAX;
}

static const char *tname(unsigned t)
{
    static const char *const names[] = {"?",   "time", "ip",  "u8",  "u16",
                                        "u32", "u64",  "i64", "f64", "string"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* The encodings the writer tries for a type, most likely winner first. */
static const uint8_t *encs_of(colog_type_t t, unsigned *k)
{
    static const uint8_t time_encs[] = {COLOG_ENC_MDELTA, COLOG_ENC_DELTA, COLOG_ENC_MFOR,
                                        COLOG_ENC_FOR, COLOG_ENC_VARINT};
    static const uint8_t i64_encs[] = {COLOG_ENC_FOR, COLOG_ENC_MFOR, COLOG_ENC_VARINT,
                                       COLOG_ENC_MDELTA, COLOG_ENC_DELTA};
    static const uint8_t int_encs[] = {COLOG_ENC_FOR, COLOG_ENC_MFOR, COLOG_ENC_VARINT};
    static const uint8_t f64_encs[] = {COLOG_ENC_PLAIN};
    switch (domain_of(t)) {
    case DOM_I64:
        *k = 5;
        return t == COLOG_T_TIME ? time_encs : i64_encs;
    case DOM_U64:
    case DOM_CODE:
        *k = 3;
        return int_encs;
    case DOM_F64:
        break;
    }
    *k = 1;
    return f64_encs;
}

/* Whether the reader accepts encoding enc for type t. */
static bool enc_ok(colog_type_t t, unsigned enc)
{
    switch (domain_of(t)) {
    case DOM_I64:
        return enc == COLOG_ENC_FOR || enc == COLOG_ENC_DELTA || enc == COLOG_ENC_MFOR ||
               enc == COLOG_ENC_MDELTA || enc == COLOG_ENC_VARINT;
    case DOM_U64:
    case DOM_CODE:
        return enc == COLOG_ENC_FOR || enc == COLOG_ENC_MFOR || enc == COLOG_ENC_VARINT;
    case DOM_F64:
        return enc == COLOG_ENC_PLAIN;
    }
    return false;
}

/* Writer policy (colog__colf_tune). */
static unsigned tune_force;
static int tune_zstd = -1; /* -1: not set, read COLOG_COLF_ZSTD */
static bool tune_force_zstd;

void colog__colf_tune(unsigned force_enc, int zstd_level, bool force_zstd)
{
    tune_force = force_enc;
    tune_force_zstd = force_zstd;
    tune_zstd = zstd_level < 0 ? 0 : zstd_level > 22 ? 22 : zstd_level;
}

static int zstd_level_now(void)
{
    if (tune_zstd >= 0)
        return tune_zstd;
    const char *e = getenv("COLOG_COLF_ZSTD");
    int l = e ? atoi(e) : 0;
    return l < 0 ? 0 : l > 22 ? 22 : l;
}

static uint64_t f2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double u2f(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static uint32_t popcount_bits(const uint8_t *bits, uint32_t n)
{
    uint32_t c = 0, i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t x;
        memcpy(&x, bits + i / 8, 8);
        c += (uint32_t)__builtin_popcountll(x);
    }
    for (; i < n; i++)
        c += (bits[i >> 3] >> (i & 7)) & 1u;
    return c;
}

static inline bool bit_at(const uint8_t *bits, uint32_t i)
{
    return (bits[i >> 3] >> (i & 7)) & 1u;
}

/* XXH3-64 of a block (header + payload, buf[0..len)) with its checksum field
 * taken as zero. Restores the field. */
static uint64_t block_sum(uint8_t *buf, size_t len, uint64_t seed)
{
    uint8_t saved[8];
    memcpy(saved, buf + 24, 8);
    memset(buf + 24, 0, 8);
    uint64_t h = XXH3_64bits_withSeed(buf, len, seed);
    memcpy(buf + 24, saved, 8);
    return h;
}

/* ================================================================ writer */

struct colog_colw {
    int fd;
    int dirfd; /* borrowed, for the unlink of a failed file */
    char *fname;
    colog_type_t type;
    uint64_t seed;
    int err; /* sticky failure */

    uint64_t *pend;  /* COLOG_BLOCK_ROWS pending values as 64-bit words */
    uint8_t *pvalid; /* BITSET_MAX bytes */
    uint32_t npend;

    uint64_t *scratch; /* COLOG_BLOCK_ROWS words for the encoders */
    uint8_t *raw;      /* RAW_MAX */
    uint8_t *cbuf;     /* block header + compressed payload: the block written */
    uint8_t *ctry;     /* the same for the candidate being tried */
    size_t ccap;
    int zlevel;     /* 0: LZ4 only */
    bool zcold;     /* cold tier: zstd the best LZ4 encoding, keep it if smaller */
    ZSTD_CCtx *zc;  /* when zlevel > 0 */
    uint8_t *zbest; /* block header + zstd payload of the best zstd candidate */

    struct blkent *ents;
    uint32_t nents, entcap;
    uint64_t nrows;
    uint64_t off;

    XXH3_state_t *xs;
    crypto_hash_sha256_state sha;
};

int colog__colw_cold(colog_colw_t *w, int level)
{
    if (w == NULL || level < 1 || level > 22)
        return colog_seterr(COLOG_EINVAL, "column writer: bad zstd level");
    if (w->type == COLOG_T_F64)
        return 0; /* doubles stay plain + LZ4 (their bits barely compress) */
    if (w->zc == NULL && (w->zc = ZSTD_createCCtx()) == NULL)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", w->fname);
    if (w->zbest == NULL && (w->zbest = malloc(w->ccap)) == NULL)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", w->fname);
    w->zlevel = level;
    w->zcold = true;
    return 0;
}

static int werr(colog_colw_t *w, int rc, const char *what)
{
    colog_seterr(rc, "%s: %s: %s", w->fname, what, colog_strerror(rc));
    w->err = rc;
    return rc;
}

/* Write buf to the file and to the running hashes. */
static int emit(colog_colw_t *w, const void *buf, size_t len)
{
    int rc = colog__write_all(w->fd, buf, len);
    if (rc < 0)
        return werr(w, rc, "write");
    XXH3_64bits_update(w->xs, buf, len);
    crypto_hash_sha256_update(&w->sha, buf, len);
    w->off += len;
    return 0;
}

static void colw_free(colog_colw_t *w)
{
    free(w->pend);
    free(w->pvalid);
    free(w->scratch);
    free(w->raw);
    free(w->cbuf);
    free(w->ctry);
    free(w->zbest);
    ZSTD_freeCCtx(w->zc);
    free(w->ents);
    free(w->fname);
    XXH3_freeState(w->xs);
    free(w);
}

int colog__colw_open(colog_colw_t **out, int dirfd, const char *fname, colog_type_t type)
{
    if (!out || !fname || !type_known((unsigned)type))
        return colog_seterr(COLOG_EINVAL, "%s: bad column writer arguments",
                            fname ? fname : "(null)");
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "%s: sodium_init failed", fname);
    colog_colw_t *w = calloc(1, sizeof *w);
    if (!w)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
    w->fd = -1;
    w->dirfd = dirfd;
    w->type = type;
    w->seed = colog__file_seed(fname);
    w->ccap = BLK_HDR_SIZE + (size_t)LZ4_compressBound((int)RAW_MAX);
    w->fname = strdup(fname);
    w->pend = malloc(COLOG_BLOCK_ROWS * sizeof *w->pend);
    w->pvalid = calloc(1, BITSET_MAX);
    w->scratch = malloc(COLOG_BLOCK_ROWS * sizeof *w->scratch);
    w->raw = malloc(RAW_MAX);
    w->cbuf = malloc(w->ccap);
    w->ctry = malloc(w->ccap);
    w->xs = XXH3_createState();
    w->zlevel = type == COLOG_T_F64 ? 0 : zstd_level_now();
    bool zok = true;
    if (w->zlevel > 0) {
        w->zc = ZSTD_createCCtx();
        w->zbest = malloc(w->ccap);
        zok = w->zc && w->zbest;
    }
    int rc;
    if (!w->fname || !w->pend || !w->pvalid || !w->scratch || !w->raw || !w->cbuf || !w->ctry ||
        !w->xs || !zok) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
        goto out_free;
    }
    XXH3_64bits_reset(w->xs);
    crypto_hash_sha256_init(&w->sha);

    w->fd = openat(dirfd, fname, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: open: %s", fname, strerror(-rc));
        goto out_free;
    }
    uint8_t hdr[HDR_SIZE] = {0};
    colog__put_u32(hdr, COLOG_COL_MAGIC);
    colog__put_u16(hdr + 4, COLOG_FORMAT_VERSION);
    hdr[6] = (uint8_t)type;
    colog__put_u64(hdr + 24, XXH3_64bits_withSeed(hdr, 24, w->seed));
    rc = emit(w, hdr, sizeof hdr);
    if (rc < 0)
        goto out_unlink;
    *out = w;
    return 0;

out_unlink:
    close(w->fd);
    unlinkat(dirfd, fname, 0);
out_free:
    colw_free(w);
    return rc;
}

/* Zone map of the pending block and, as invariant 4 wants, absent values
 * overwritten (minimum, previous value, or 0). */
static void pend_zone(colog_colw_t *w, uint32_t n, uint32_t nvalid, uint64_t *zmin, uint64_t *zmax)
{
    uint64_t *v = w->pend;
    const uint8_t *ok = w->pvalid;
    bool all = nvalid == n;
    if (nvalid == 0) {
        memset(v, 0, n * sizeof *v);
        *zmin = *zmax = 0;
        return;
    }
    if (w->type == COLOG_T_F64) {
        double lo = INFINITY, hi = -INFINITY;
        bool any = false;
        for (uint32_t i = 0; i < n; i++) {
            if (!all && !bit_at(ok, i)) {
                v[i] = 0;
                continue;
            }
            double d = u2f(v[i]);
            if (isnan(d))
                continue;
            any = true;
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        *zmin = any ? f2u(lo) : f2u(NAN);
        *zmax = any ? f2u(hi) : f2u(NAN);
        return;
    }
    uint64_t flip = domain_of(w->type) == DOM_I64 ? 1ull << 63 : 0;
    uint64_t lo = ~0ull, hi = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!all && !bit_at(ok, i))
            continue;
        uint64_t k = v[i] ^ flip;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    *zmin = lo ^ flip;
    *zmax = hi ^ flip;
    if (all)
        return;
    if (w->type == COLOG_T_TIME) {
        /* Forward fill keeps the deltas small; leading gaps take the first value. */
        uint32_t first = 0;
        while (!bit_at(ok, first))
            first++;
        uint64_t prev = v[first];
        for (uint32_t i = 0; i < n; i++) {
            if (bit_at(ok, i))
                prev = v[i];
            else
                v[i] = prev;
        }
    } else {
        for (uint32_t i = 0; i < n; i++)
            if (!bit_at(ok, i))
                v[i] = *zmin;
    }
}

/* Exact raw size of the pending block's values under encoding enc. */
static size_t enc_size(colog_colw_t *w, uint8_t enc, uint32_t n)
{
    const uint64_t *v = w->pend;
    bool sign = domain_of(w->type) == DOM_I64;
    switch (enc) {
    case COLOG_ENC_FOR:
        return colog__for_size(v, n, sign);
    case COLOG_ENC_DELTA:
        return colog__delta_size(v, n, w->scratch);
    case COLOG_ENC_MFOR:
        return colog__mfor_size(v, n, sign);
    case COLOG_ENC_MDELTA:
        return colog__mdelta_size(v, n, w->scratch);
    case COLOG_ENC_VARINT:
        return colog__varint_size(v, n, sign);
    default:
        return 8 * (size_t)n;
    }
}

/* Encode the pending block's values (left unchanged) into out; returns the length. */
static size_t enc_values(colog_colw_t *w, uint8_t enc, uint32_t n, uint8_t *out)
{
    const uint64_t *v = w->pend;
    bool sign = domain_of(w->type) == DOM_I64;
    switch (enc) {
    case COLOG_ENC_FOR:
        memcpy(w->scratch, v, n * sizeof *v);
        return colog__for_encode(w->scratch, n, sign, out);
    case COLOG_ENC_DELTA:
        memcpy(w->scratch, v, n * sizeof *v);
        return colog__delta_encode(w->scratch, n, out);
    case COLOG_ENC_MFOR:
        return colog__mfor_encode(v, n, sign, out);
    case COLOG_ENC_MDELTA:
        return colog__mdelta_encode(v, n, w->scratch, out);
    case COLOG_ENC_VARINT:
        return colog__varint_encode(v, n, sign, out);
    default:
        for (uint32_t i = 0; i < n; i++)
            colog__put_u64(out + 8 * (size_t)i, v[i]);
        return 8 * (size_t)n;
    }
}

/* The choice for one block: encoding, codec, raw and compressed lengths. */
struct choice {
    uint8_t enc, codec;
    uint32_t rlen, clen;
};

/* Encode the pending block with each candidate encoding, compress, and leave the
 * smallest in w->cbuf (payload at BLK_HDR_SIZE). Candidates are tried in order
 * of raw size; one whose raw size is over SKIP_FACTOR times the best compressed
 * size so far is skipped. With zstd enabled, the best zstd result replaces the
 * LZ4 one when it is at least 10% smaller. */
static int choose(colog_colw_t *w, uint32_t n, size_t vstart, struct choice *out)
{
    unsigned k;
    const uint8_t *encs = encs_of(w->type, &k);
    uint8_t order[8];
    size_t raw[8];
    unsigned m = 0;
    for (unsigned i = 0; i < k; i++) {
        if (tune_force && encs[i] != tune_force)
            continue;
        if ((encs[i] == COLOG_ENC_DELTA || encs[i] == COLOG_ENC_MDELTA) && n == 0)
            continue;
        size_t r = k == 1 && !tune_force ? 0 : enc_size(w, encs[i], n);
        unsigned j = m++;
        for (; j > 0 && raw[j - 1] > r; j--) { /* insertion sort by raw size, stable */
            raw[j] = raw[j - 1];
            order[j] = order[j - 1];
        }
        raw[j] = r;
        order[j] = encs[i];
    }
    if (m == 0) { /* a forced encoding the type does not take: choose freely */
        unsigned saved = tune_force;
        tune_force = 0;
        int rc = choose(w, n, vstart, out);
        tune_force = saved;
        return rc;
    }
    int cap = (int)(w->ccap - BLK_HDR_SIZE);
    struct choice best = {0}, zbest = {0};
    bool have = false, zhave = false;
    for (unsigned i = 0; i < m; i++) {
        size_t bestc = have ? best.clen : SIZE_MAX;
        if (zhave && zbest.clen < bestc)
            bestc = zbest.clen;
        if (have && raw[i] / SKIP_FACTOR > bestc)
            break;
        size_t rlen = vstart + enc_values(w, order[i], n, w->raw + vstart);
        int clen = LZ4_compress_default((const char *)w->raw, (char *)w->ctry + BLK_HDR_SIZE,
                                        (int)rlen, cap);
        if (clen <= 0)
            return werr(w, COLOG_EINVAL, "LZ4 compression failed");
        if (!have || (uint32_t)clen < best.clen) {
            uint8_t *t = w->cbuf;
            w->cbuf = w->ctry;
            w->ctry = t;
            best = (struct choice){order[i], CODEC_LZ4, (uint32_t)rlen, (uint32_t)clen};
            have = true;
        }
        if (w->zlevel > 0 && !w->zcold) {
            size_t z = ZSTD_compressCCtx(w->zc, w->ctry + BLK_HDR_SIZE, (size_t)cap, w->raw, rlen,
                                         w->zlevel);
            if (!ZSTD_isError(z) && (!zhave || z < zbest.clen)) {
                uint8_t *t = w->zbest;
                w->zbest = w->ctry;
                w->ctry = t;
                zbest = (struct choice){order[i], CODEC_ZSTD, (uint32_t)rlen, (uint32_t)z};
                zhave = true;
            }
        }
    }
    if (w->zcold && have) {
        /* Cold parts are written once and read rarely: one high-level zstd pass
         * over the encoding LZ4 liked best (trying every encoding at level 19
         * would multiply the cost for a gain of a few percent). */
        size_t rlen = vstart + enc_values(w, best.enc, n, w->raw + vstart);
        size_t z =
            ZSTD_compressCCtx(w->zc, w->ctry + BLK_HDR_SIZE, (size_t)cap, w->raw, rlen, w->zlevel);
        if (!ZSTD_isError(z) && z < best.clen) {
            uint8_t *t = w->cbuf;
            w->cbuf = w->ctry;
            w->ctry = t;
            best = (struct choice){best.enc, CODEC_ZSTD, (uint32_t)rlen, (uint32_t)z};
        }
    }
    if (zhave && (tune_force_zstd || (uint64_t)zbest.clen * 10 <= (uint64_t)best.clen * 9)) {
        uint8_t *t = w->cbuf;
        w->cbuf = w->zbest;
        w->zbest = t;
        best = zbest;
    }
    *out = best;
    return 0;
}

/* Encode, compress and write the pending block. */
static int flush_block(colog_colw_t *w)
{
    uint32_t n = w->npend, bn = w->nents;
    uint32_t nvalid = popcount_bits(w->pvalid, n);
    uint8_t flags = nvalid < n ? BLK_HAS_NULLS : 0;
    uint64_t zmin, zmax;

    if (bn >= MAX_BLOCKS)
        return werr(w, COLOG_ELIMIT, "too many blocks");
    if (w->nents == w->entcap) {
        uint32_t cap = w->entcap ? w->entcap * 2 : 16;
        struct blkent *e = realloc(w->ents, cap * sizeof *e);
        if (!e)
            return werr(w, COLOG_ENOMEM, "footer");
        w->ents = e;
        w->entcap = cap;
    }
    pend_zone(w, n, nvalid, &zmin, &zmax);

    size_t vstart = 0;
    if (flags & BLK_HAS_NULLS) {
        vstart = (n + 7) / 8;
        memcpy(w->raw, w->pvalid, vstart);
    }
    struct choice c;
    int rc = choose(w, n, vstart, &c);
    if (rc < 0)
        return rc;
    uint8_t *h = w->cbuf;
    colog__put_u32(h, COLOG_BLK_MAGIC);
    colog__put_u32(h + 4, bn);
    colog__put_u32(h + 8, n);
    h[12] = c.enc;
    h[13] = flags;
    h[14] = c.codec;
    h[15] = 0;
    colog__put_u32(h + 16, c.rlen);
    colog__put_u32(h + 20, c.clen);
    size_t len = BLK_HDR_SIZE + (size_t)c.clen;
    uint64_t sum = block_sum(h, len, w->seed ^ bn);
    colog__put_u64(h + 24, sum);

    struct blkent *e = &w->ents[bn];
    *e = (struct blkent){.off = w->off,
                         .len = (uint32_t)len,
                         .nrows = n,
                         .nvalid = nvalid,
                         .min = zmin,
                         .max = zmax,
                         .sum = sum};
    rc = emit(w, h, len);
    if (rc < 0)
        return rc;
    w->nents++;
    w->nrows += n;
    w->npend = 0;
    memset(w->pvalid, 0, BITSET_MAX);
    return 0;
}

/* Copy n values starting at vals[from] into pend[npend..], as 64-bit words. */
static void copy_vals(colog_colw_t *w, const void *vals, uint32_t from, uint32_t n)
{
    uint64_t *dst = w->pend + w->npend;
    if (domain_of(w->type) == DOM_CODE) {
        const uint32_t *src = (const uint32_t *)vals + from;
        for (uint32_t i = 0; i < n; i++)
            dst[i] = src[i];
    } else {
        /* int64_t, uint64_t and double are all 8 bytes; keep the bits. */
        memcpy(dst, (const uint8_t *)vals + 8 * (size_t)from, 8 * (size_t)n);
    }
}

/* Set pvalid bits [npend, npend + n) from valid bits [from, from + n). */
static void copy_bits(colog_colw_t *w, const uint8_t *valid, uint32_t from, uint32_t n)
{
    uint32_t at = w->npend;
    if (!valid) {
        for (; n > 0 && (at & 7); n--, at++)
            w->pvalid[at >> 3] |= (uint8_t)(1u << (at & 7));
        memset(w->pvalid + (at >> 3), 0xff, n / 8);
        at += n / 8 * 8;
        for (n &= 7; n > 0; n--, at++)
            w->pvalid[at >> 3] |= (uint8_t)(1u << (at & 7));
        return;
    }
    for (uint32_t i = 0; i < n; i++, at++)
        if (bit_at(valid, from + i))
            w->pvalid[at >> 3] |= (uint8_t)(1u << (at & 7));
}

int colog__colw_append(colog_colw_t *w, const void *vals, const uint8_t *valid, uint32_t n)
{
    if (!w)
        return colog_seterr(COLOG_EINVAL, "column writer is NULL");
    if (w->err)
        return colog_seterr(w->err, "%s: writer failed earlier", w->fname);
    if (n == 0)
        return 0;
    if (!vals)
        return colog_seterr(COLOG_EINVAL, "%s: append of %u values from NULL", w->fname, n);
    uint64_t umax = dom_umax(w->type);
    if (domain_of(w->type) == DOM_U64 && umax != UINT64_MAX) {
        const uint64_t *u = vals;
        for (uint32_t i = 0; i < n; i++)
            if (u[i] > umax && colog_valid(valid, i))
                return colog_seterr(COLOG_ERANGE, "%s: value %llu out of range for %s", w->fname,
                                    (unsigned long long)u[i], tname(w->type));
    }
    if ((w->nrows + w->npend + n + COLOG_BLOCK_ROWS - 1) / COLOG_BLOCK_ROWS > MAX_BLOCKS)
        return colog_seterr(COLOG_ELIMIT, "%s: too many rows for one column file", w->fname);

    for (uint32_t done = 0; done < n;) {
        uint32_t take = COLOG_BLOCK_ROWS - w->npend;
        if (take > n - done)
            take = n - done;
        copy_vals(w, vals, done, take);
        copy_bits(w, valid, done, take);
        w->npend += take;
        done += take;
        if (w->npend == COLOG_BLOCK_ROWS) {
            int rc = flush_block(w);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* The footer and trailer. */
static int write_tail(colog_colw_t *w)
{
    size_t flen = FOOT_FIXED + (size_t)w->nents * FOOT_ENTRY + FOOT_SUM;
    uint8_t *f = malloc(flen);
    if (!f)
        return werr(w, COLOG_ENOMEM, "footer");
    colog__put_u32(f, COLOG_COLF_MAGIC);
    colog__put_u32(f + 4, w->nents);
    colog__put_u64(f + 8, w->nrows);
    for (uint32_t i = 0; i < w->nents; i++) {
        const struct blkent *e = &w->ents[i];
        uint8_t *p = f + FOOT_FIXED + (size_t)i * FOOT_ENTRY;
        colog__put_u64(p, e->off);
        colog__put_u32(p + 8, e->len);
        colog__put_u32(p + 12, e->nrows);
        colog__put_u32(p + 16, e->nvalid);
        colog__put_u32(p + 20, 0);
        colog__put_u64(p + 24, e->min);
        colog__put_u64(p + 32, e->max);
        colog__put_u64(p + 40, e->sum);
    }
    colog__put_u64(f + flen - FOOT_SUM, XXH3_64bits_withSeed(f, flen - FOOT_SUM, w->seed));
    uint64_t foff = w->off;
    int rc = emit(w, f, flen);
    free(f);
    if (rc < 0)
        return rc;

    uint8_t t[TRAILER_SIZE];
    colog__put_u64(t, foff);
    colog__put_u32(t + 8, (uint32_t)flen);
    colog__put_u32(t + 12, COLOG_COLF_MAGIC);
    colog__put_u64(t + 16, XXH3_64bits_withSeed(t, 16, w->seed));
    return emit(w, t, sizeof t);
}

int colog__colw_close(colog_colw_t *w, uint64_t *size, uint64_t *xxh, uint8_t sha256[32])
{
    if (!w)
        return colog_seterr(COLOG_EINVAL, "column writer is NULL");
    int rc = w->err;
    if (rc == 0 && w->npend > 0)
        rc = flush_block(w);
    if (rc == 0 && (size_t)FOOT_FIXED + (size_t)w->nents * FOOT_ENTRY + FOOT_SUM > UINT32_MAX)
        rc = werr(w, COLOG_ELIMIT, "footer too large");
    if (rc == 0)
        rc = write_tail(w);
    if (rc == 0) {
        rc = colog__fsync_fd(w->fd);
        if (rc < 0)
            werr(w, rc, "fsync");
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) < 0 && rc == 0) {
        rc = -errno;
        werr(w, rc, "close");
    }
    if (rc < 0) {
        unlinkat(w->dirfd, w->fname, 0);
        colw_free(w);
        return rc;
    }
    if (size)
        *size = w->off;
    if (xxh)
        *xxh = XXH3_64bits_digest(w->xs);
    if (sha256)
        crypto_hash_sha256_final(&w->sha, sha256);
    colw_free(w);
    return 0;
}

void colog__colw_abort(colog_colw_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlinkat(w->dirfd, w->fname, 0);
    colw_free(w);
}

/* ================================================================ reader */

/* The mutable state of one block read (invariant 5). */
struct colog_rbuf {
    uint8_t *cbuf; /* block as stored: header + compressed payload */
    size_t ccap;
    uint8_t *raw; /* decompressed payload */
    size_t rawcap;
    void *dec; /* decoded values, 8 bytes a row */
    size_t deccap;
    ZSTD_DCtx *zd; /* created on the first zstd block */
    bool busy;     /* named by a request of the read_many running now */
};

struct colog_colr {
    int fd;
    colog_type_t type;
    uint64_t seed;
    char *display;
    uint32_t nblocks;
    uint64_t nrows;
    struct blkent *ents;
    colog_rbuf_t own; /* the buffers of colog__colr_read */
};

static int corrupt(const colog_colr_t *r, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: %s", r->display, what);
}

static int blk_corrupt(const colog_colr_t *r, uint32_t b, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: block %u: %s", r->display, b, what);
}

/* The message of a failed read of a part of the file ("header", "block 7"):
 * COLOG_ECORRUPT from colog__pread_all or colog__ioq_run is end of file. */
static int io_err(const colog_colr_t *r, int rc, const char *part)
{
    if (rc == COLOG_ECORRUPT)
        return colog_seterr(rc, "%s: %s: truncated file", r->display, part);
    return colog_seterr(rc, "%s: %s: read: %s", r->display, part, colog_strerror(rc));
}

/* Read len bytes at off, naming the file (and part) on failure. */
static int r_pread(const colog_colr_t *r, void *buf, size_t len, uint64_t off, const char *part)
{
    int rc = colog__pread_all(r->fd, buf, len, off);
    return rc < 0 ? io_err(r, rc, part) : 0;
}

static void rbuf_clear(colog_rbuf_t *b)
{
    free(b->cbuf);
    free(b->raw);
    free(b->dec);
    ZSTD_freeDCtx(b->zd);
}

static void colr_free(colog_colr_t *r)
{
    free(r->ents);
    rbuf_clear(&r->own);
    free(r->display);
    free(r);
}

/* Check the 32-byte header (the file is at least that long). */
static int check_header(colog_colr_t *r, const uint8_t *h)
{
    unsigned ver = colog__get_u16(h + 4);
    if (ver != COLOG_FORMAT_VERSION)
        return colog_seterr(COLOG_EVERSION, "%s: format version %u not supported (expected %u)",
                            r->display, ver, COLOG_FORMAT_VERSION);
    if (colog__get_u64(h + 24) != XXH3_64bits_withSeed(h, 24, r->seed))
        return corrupt(r, "header checksum mismatch");
    if (h[7] != 0)
        return corrupt(r, "header flags not zero");
    for (int i = 8; i < 24; i++)
        if (h[i] != 0)
            return corrupt(r, "header reserved bytes not zero");
    if (h[6] != (uint8_t)r->type)
        return colog_seterr(COLOG_ECORRUPT, "%s: column type %s (%u), expected %s", r->display,
                            tname(h[6]), h[6], tname(r->type));
    return 0;
}

/* Whether a footer zone is well-formed for the column's type. */
static bool zone_ok(colog_type_t t, const struct blkent *e)
{
    if (e->nvalid == 0)
        return e->min == 0 && e->max == 0;
    switch (domain_of(t)) {
    case DOM_I64:
        return (int64_t)e->min <= (int64_t)e->max;
    case DOM_U64:
    case DOM_CODE:
        return e->min <= e->max && e->max <= dom_umax(t);
    case DOM_F64: {
        double lo = u2f(e->min), hi = u2f(e->max);
        if (isnan(lo) || isnan(hi))
            return isnan(lo) && isnan(hi);
        return lo <= hi;
    }
    }
    return false;
}

/* Parse and validate the footer f[0..flen) (checksum already verified). */
static int parse_footer(colog_colr_t *r, const uint8_t *f, size_t flen, uint64_t foff)
{
    uint32_t nb = colog__get_u32(f + 4);
    uint64_t total = colog__get_u64(f + 8);
    if ((flen - FOOT_FIXED - FOOT_SUM) / FOOT_ENTRY != nb)
        return corrupt(r, "footer: block count does not match its length");
    if (nb > MAX_BLOCKS)
        return corrupt(r, "footer: too many blocks");
    r->ents = malloc((nb ? nb : 1) * sizeof *r->ents);
    if (!r->ents)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    uint64_t expect_off = HDR_SIZE, rows = 0;
    size_t maxlen = BLK_HDR_SIZE + (size_t)LZ4_compressBound((int)RAW_MAX);
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = f + FOOT_FIXED + (size_t)b * FOOT_ENTRY;
        struct blkent *e = &r->ents[b];
        e->off = colog__get_u64(p);
        e->len = colog__get_u32(p + 8);
        e->nrows = colog__get_u32(p + 12);
        e->nvalid = colog__get_u32(p + 16);
        e->min = colog__get_u64(p + 24);
        e->max = colog__get_u64(p + 32);
        e->sum = colog__get_u64(p + 40);
        const char *bad = NULL;
        if (colog__get_u32(p + 20) != 0)
            bad = "footer entry reserved field not zero";
        else if (e->off != expect_off)
            bad = "footer: block offset out of sequence";
        else if (e->len <= BLK_HDR_SIZE || e->len > maxlen)
            bad = "footer: bad block length";
        else if (e->nrows == 0 || e->nrows > COLOG_BLOCK_ROWS ||
                 (b + 1 < nb && e->nrows != COLOG_BLOCK_ROWS))
            bad = "footer: bad row count";
        else if (e->nvalid > e->nrows)
            bad = "footer: more valid values than rows";
        else if (!zone_ok(r->type, e))
            bad = "footer: bad zone map";
        if (bad)
            return blk_corrupt(r, b, bad);
        expect_off += e->len;
        rows += e->nrows;
    }
    if (expect_off != foff)
        return corrupt(r, "footer: blocks do not end where the footer starts");
    if (rows != total)
        return corrupt(r, "footer: row counts do not add up to the total");
    r->nblocks = nb;
    r->nrows = total;
    return 0;
}

/* Find, check and parse the trailer and footer of a file of the given size. */
static int read_tail(colog_colr_t *r, uint64_t size)
{
    uint8_t t[TRAILER_SIZE];
    int rc = r_pread(r, t, sizeof t, size - TRAILER_SIZE, "trailer");
    if (rc < 0)
        return rc;
    if (colog__get_u32(t + 12) != COLOG_COLF_MAGIC)
        return corrupt(r, "trailer: bad magic");
    if (colog__get_u64(t + 16) != XXH3_64bits_withSeed(t, 16, r->seed))
        return corrupt(r, "trailer: checksum mismatch");
    uint64_t foff = colog__get_u64(t);
    uint32_t flen = colog__get_u32(t + 8);
    if (flen < FOOT_FIXED + FOOT_SUM || (flen - FOOT_FIXED - FOOT_SUM) % FOOT_ENTRY != 0 ||
        foff < HDR_SIZE || foff > size - TRAILER_SIZE || size - TRAILER_SIZE - foff != flen)
        return corrupt(r, "trailer: footer position out of bounds");
    uint8_t *f = malloc(flen);
    if (!f)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    rc = r_pread(r, f, flen, foff, "footer");
    if (rc < 0)
        goto out_free;
    if (colog__get_u32(f) != COLOG_COLF_MAGIC)
        rc = corrupt(r, "footer: bad magic");
    else if (colog__get_u64(f + flen - FOOT_SUM) !=
             XXH3_64bits_withSeed(f, flen - FOOT_SUM, r->seed))
        rc = corrupt(r, "footer: checksum mismatch");
    else
        rc = parse_footer(r, f, flen, foff);
out_free:
    free(f);
    return rc;
}

int colog__colr_open(colog_colr_t **out, int dirfd, const char *fname, colog_type_t type,
                     const char *display)
{
    if (!out || !fname || !type_known((unsigned)type))
        return colog_seterr(COLOG_EINVAL, "%s: bad column reader arguments",
                            display ? display
                            : fname ? fname
                                    : "(null)");
    if (!display)
        display = fname;
    int rc;
    colog_colr_t *r = calloc(1, sizeof *r);
    if (!r)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
    r->type = type;
    r->seed = colog__file_seed(fname);
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
    if (size < 4 || colog__get_u32(h) != COLOG_COL_MAGIC) {
        rc = colog_seterr(COLOG_ENOTCOLOG, "%s: not a colog column file", display);
        goto out_close;
    }
    if (size < HDR_SIZE + FOOT_FIXED + FOOT_SUM + TRAILER_SIZE) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: truncated file (%llu bytes)", display,
                          (unsigned long long)size);
        goto out_close;
    }
    rc = check_header(r, h);
    if (rc < 0)
        goto out_close;
    rc = read_tail(r, size);
    if (rc < 0)
        goto out_close;
    *out = r;
    return 0;

out_close:
    close(r->fd);
out_free:
    colr_free(r);
    return rc;
}

uint32_t colog__colr_nblocks(const colog_colr_t *r)
{
    return r->nblocks;
}

uint64_t colog__colr_nrows(const colog_colr_t *r)
{
    return r->nrows;
}

int colog__colr_zone(const colog_colr_t *r, uint32_t b, colog_zone_t *out)
{
    if (b >= r->nblocks)
        return colog_seterr(COLOG_EINVAL, "%s: block %u out of range (%u blocks)", r->display, b,
                            r->nblocks);
    const struct blkent *e = &r->ents[b];
    out->min.u = e->min;
    out->max.u = e->max;
    out->nrows = e->nrows;
    out->nvalid = e->nvalid;
    return 0;
}

/* Grow *buf to at least need bytes; the contents are not kept. */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return 0;
    free(*buf);
    *cap = 0;
    if ((*buf = malloc(need)) == NULL)
        return COLOG_ENOMEM;
    *cap = need;
    return 0;
}

/* Check the block header at blk (the e->len bytes of block b as read) against
 * its footer entry e. blk is written only by block_sum, which restores it. */
static int check_block_header(const colog_colr_t *r, uint32_t b, const struct blkent *e,
                              uint8_t *blk)
{
    const uint8_t *h = blk;
    if (colog__get_u32(h) != COLOG_BLK_MAGIC)
        return blk_corrupt(r, b, "bad block magic");
    uint64_t sum = colog__get_u64(h + 24);
    if (sum != block_sum(blk, e->len, r->seed ^ b))
        return blk_corrupt(r, b, "checksum mismatch");
    if (sum != e->sum)
        return blk_corrupt(r, b, "checksum does not match the footer");
    if (colog__get_u32(h + 4) != b)
        return blk_corrupt(r, b, "block number mismatch");
    if (colog__get_u32(h + 8) != e->nrows)
        return blk_corrupt(r, b, "row count does not match the footer");
    if (!enc_ok(r->type, h[12]))
        return blk_corrupt(r, b, "bad encoding for the column type");
    if ((h[13] & ~BLK_HAS_NULLS) != 0 || h[15] != 0)
        return blk_corrupt(r, b, "reserved bits not zero");
    if (h[14] != CODEC_LZ4 && h[14] != CODEC_ZSTD)
        return blk_corrupt(r, b, "unknown compression codec");
    if (!(h[13] & BLK_HAS_NULLS) != (e->nvalid == e->nrows))
        return blk_corrupt(r, b, "null flag does not match the footer");
    if (colog__get_u32(h + 20) != e->len - BLK_HDR_SIZE)
        return blk_corrupt(r, b, "compressed length does not match the footer");
    uint32_t rlen = colog__get_u32(h + 16);
    if (rlen == 0 || rlen > RAW_MAX)
        return blk_corrupt(r, b, "bad raw length");
    return 0;
}

/* Decode the values part of a raw payload (p[0..len)) into dec (8 * nrows
 * bytes). */
static int decode_values(const colog_colr_t *r, uint32_t b, const struct blkent *e, unsigned enc,
                         const uint8_t *p, size_t len, void *dec, colog_block_t *out)
{
    uint32_t n = e->nrows;
    uint64_t lo, hi, base, maxoff;
    switch (enc) {
    case COLOG_ENC_PLAIN: {
        if (len != 8 * (size_t)n)
            return blk_corrupt(r, b, "bad payload length");
        double *d = dec;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(d, p, len);
#else
        for (uint32_t i = 0; i < n; i++)
            d[i] = u2f(colog__get_u64(p + 8 * (size_t)i));
#endif
        out->v.f64 = d;
        return 0;
    }
    case COLOG_ENC_DELTA:
    case COLOG_ENC_MDELTA:
        if ((enc == COLOG_ENC_DELTA ? colog__delta_decode(p, len, n, dec, &lo, &hi)
                                    : colog__mdelta_decode(p, len, n, dec, &lo, &hi)) < 0)
            return blk_corrupt(r, b, "malformed delta encoding");
        if (lo != e->min || hi != e->max)
            return blk_corrupt(r, b, "values do not match the zone map");
        out->v.i64 = dec;
        return 0;
    default:
        break;
    }
    bool code = domain_of(r->type) == DOM_CODE;
    int bad;
    switch (enc) {
    case COLOG_ENC_MFOR:
        bad = colog__mfor_decode(p, len, n, dec, &base, &maxoff);
        break;
    case COLOG_ENC_VARINT:
        bad = colog__varint_decode(p, len, n, dec, &base, &maxoff);
        break;
    default:
        bad = code ? colog__for_decode32(p, len, n, dec, &base, &maxoff)
                   : colog__for_decode(p, len, n, dec, &base, &maxoff);
        break;
    }
    if (bad < 0)
        return blk_corrupt(r, b,
                           enc == COLOG_ENC_MFOR     ? "malformed miniblock encoding"
                           : enc == COLOG_ENC_VARINT ? "malformed varint encoding"
                                                     : "malformed frame-of-reference encoding");
    if (base != e->min || base + maxoff != e->max)
        return blk_corrupt(r, b, "values do not match the zone map");
    if (code && enc != COLOG_ENC_FOR) {
        /* Decoded as 64-bit words; every value is <= e->max <= 2^32-1 (zone
         * checked at open), so narrow in place, front to back: word i is read
         * before code i (bytes 4i..4i+3 <= 8i+7) overwrites anything unread. */
        uint8_t *d = dec;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t x;
            memcpy(&x, d + 8 * (size_t)i, 8);
            uint32_t c = (uint32_t)x;
            memcpy(d + 4 * (size_t)i, &c, 4);
        }
    }
    if (code)
        out->v.code = dec;
    else if (domain_of(r->type) == DOM_I64)
        out->v.i64 = dec;
    else
        out->v.u64 = dec;
    return 0;
}

/* Make buf ready for block b: room for the block as stored and its values. */
static int prepare(const colog_colr_t *r, uint32_t b, colog_rbuf_t *buf)
{
    if (b >= r->nblocks)
        return colog_seterr(COLOG_EINVAL, "%s: block %u out of range (%u blocks)", r->display, b,
                            r->nblocks);
    const struct blkent *e = &r->ents[b];
    size_t decneed = (size_t)e->nrows * sizeof(uint64_t);
    if (buf->deccap < decneed) {
        free(buf->dec);
        buf->deccap = 0;
        if ((buf->dec = malloc(decneed)) == NULL)
            return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
        buf->deccap = decneed;
    }
    if (reserve(&buf->cbuf, &buf->ccap, e->len) < 0)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    return 0;
}

/* Verify, decompress and decode block b, whose stored bytes are in buf->cbuf,
 * into buf; *out is written only on success. */
static int decode_block(const colog_colr_t *r, uint32_t b, colog_rbuf_t *buf, colog_block_t *out)
{
    const struct blkent *e = &r->ents[b];
    int rc = check_block_header(r, b, e, buf->cbuf);
    if (rc < 0)
        return rc;
    size_t rawneed = colog__get_u32(buf->cbuf + 16);
    if (reserve(&buf->raw, &buf->rawcap, rawneed) < 0)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
    if (buf->cbuf[14] == CODEC_ZSTD) {
        if (buf->zd == NULL && (buf->zd = ZSTD_createDCtx()) == NULL)
            return colog_seterr(COLOG_ENOMEM, "%s: out of memory", r->display);
        size_t k = ZSTD_decompressDCtx(buf->zd, buf->raw, rawneed, buf->cbuf + BLK_HDR_SIZE,
                                       e->len - BLK_HDR_SIZE);
        if (ZSTD_isError(k) || k != rawneed)
            return blk_corrupt(r, b, "decompression failed");
    } else {
        int k = LZ4_decompress_safe((const char *)buf->cbuf + BLK_HDR_SIZE, (char *)buf->raw,
                                    (int)(e->len - BLK_HDR_SIZE), (int)rawneed);
        if (k < 0 || (size_t)k != rawneed)
            return blk_corrupt(r, b, "decompression failed");
    }

    uint32_t n = e->nrows;
    size_t voff = 0;
    const uint8_t *valid = NULL;
    if (e->nvalid < n) {
        voff = (n + 7) / 8;
        if (rawneed < voff)
            return blk_corrupt(r, b, "bad payload length");
        valid = buf->raw;
        if (popcount_bits(valid, n) != e->nvalid)
            return blk_corrupt(r, b, "valid bitset does not match the footer");
        if ((n & 7) && (valid[n >> 3] >> (n & 7)) != 0)
            return blk_corrupt(r, b, "valid bitset padding not zero");
    }
    colog_block_t blk = {.type = r->type, .n = n, .valid = valid};
    rc = decode_values(r, b, e, buf->cbuf[12], buf->raw + voff, rawneed - voff, buf->dec, &blk);
    if (rc < 0)
        return rc;
    *out = blk;
    return 0;
}

/* The message of a failed read of block b (rc from colog__pread_all or
 * colog__ioq_run). */
static int block_io_err(const colog_colr_t *r, uint32_t b, int rc)
{
    char what[32];
    snprintf(what, sizeof what, "block %u", b);
    return io_err(r, rc, what);
}

int colog__colr_read_buf(const colog_colr_t *r, uint32_t b, colog_rbuf_t *buf, colog_block_t *out)
{
    if (r == NULL || buf == NULL || out == NULL)
        return colog_seterr(COLOG_EINVAL, "column read: NULL reader, buffer or output");
    int rc = prepare(r, b, buf);
    if (rc < 0)
        return rc;
    const struct blkent *e = &r->ents[b];
    rc = colog__pread_all(r->fd, buf->cbuf, e->len, e->off);
    if (rc < 0)
        return block_io_err(r, b, rc);
    return decode_block(r, b, buf, out);
}

int colog__colr_read(colog_colr_t *r, uint32_t b, colog_block_t *out)
{
    return colog__colr_read_buf(r, b, &r->own, out);
}

int colog__colr_read_many(colog_creq_t *reqs, size_t n, colog_ioq_t *q)
{
    if (n == 0)
        return 0;
    if (reqs == NULL || q == NULL)
        return colog_seterr(COLOG_EINVAL, "column read_many: NULL requests or queue");
    if (n > SIZE_MAX / (sizeof(colog_iop_t) + sizeof(colog_block_t)))
        return colog_seterr(COLOG_ENOMEM, "column read_many: %zu requests: out of memory", n);
    int rc;
    size_t nbusy = 0, at = SIZE_MAX;
    colog_iop_t *ops = malloc(n * sizeof *ops);
    colog_block_t *blks = malloc(n * sizeof *blks);
    if (ops == NULL || blks == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "column read_many: %zu requests: out of memory", n);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        colog_creq_t *rq = &reqs[i];
        if (rq->r == NULL || rq->buf == NULL || rq->out == NULL) {
            rc = colog_seterr(COLOG_EINVAL,
                              "column read_many: request %zu: NULL reader, buffer "
                              "or output",
                              i);
            goto out_unbusy;
        }
        if (rq->buf->busy) {
            rc = colog_seterr(COLOG_EINVAL,
                              "column read_many: request %zu: buffer already used "
                              "by an earlier request of the batch",
                              i);
            goto out_unbusy;
        }
        rc = prepare(rq->r, rq->b, rq->buf);
        if (rc < 0)
            goto out_unbusy;
        rq->buf->busy = true;
        nbusy = i + 1;
        const struct blkent *e = &rq->r->ents[rq->b];
        ops[i] = (colog_iop_t){.fd = rq->r->fd, .off = e->off, .len = e->len, .dst = rq->buf->cbuf};
    }
    rc = colog__ioq_run(q, ops, n, &at);
    if (rc < 0) {
        if (at < n)
            block_io_err(reqs[at].r, reqs[at].b, rc);
        goto out_unbusy;
    }
    for (size_t i = 0; i < n; i++) {
        rc = decode_block(reqs[i].r, reqs[i].b, reqs[i].buf, &blks[i]);
        if (rc < 0)
            goto out_unbusy;
    }
    for (size_t i = 0; i < n; i++)
        *reqs[i].out = blks[i];
out_unbusy:
    for (size_t i = 0; i < nbusy; i++)
        reqs[i].buf->busy = false;
out_free:
    free(blks);
    free(ops);
    return rc;
}

colog_rbuf_t *colog_rbuf_new(void)
{
    return calloc(1, sizeof(colog_rbuf_t));
}

void colog_rbuf_free(colog_rbuf_t *b)
{
    if (b == NULL)
        return;
    rbuf_clear(b);
    free(b);
}

void colog__colr_close(colog_colr_t *r)
{
    if (!r)
        return;
    close(r->fd);
    colr_free(r);
}
