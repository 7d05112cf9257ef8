/*
 * colog_dictfile.c — dictionary files: the sorted, duplicate-free values of a
 * part's string or ip column, so that the column itself stores 32-bit codes.
 *
 * Layouts (docs/FORMAT.md "Dictionary files"). Version 1 (read only): a 40-byte
 * header, then one LZ4 block holding, for strings, n + 1 little-endian u32
 * offsets followed by the bytes of all entries, and for ips, 16 bytes per
 * entry; one XXH3-64 covers the whole file. Version 2 (written): a 40-byte
 * header with its own checksum, a checksummed block directory giving each
 * block's first entry, lengths, checksum and first value (its fence), then the
 * blocks, each the v1 payload of its entries (offsets relative to the block),
 * LZ4-compressed or stored raw, with its own checksum seeded with the file seed
 * XOR the block number.
 *
 * Design. A point lookup must not cost the whole dictionary: colog__dict_open
 * reads a v2 file's header and directory only (two preads), and
 * colog__dict_bound binary-searches the fences, then reads, verifies and
 * decodes the one block that can hold the value into a buffer of its own
 * (nothing shared is written, so it is thread-safe). colog__dict_load reads
 * every block once, under the dictbuf's mutex, and builds the same view v1
 * builds; from then on bounds search the view. Version 1 files are read and
 * verified whole at open, as before, and count as loaded. The writer refuses
 * a view that is not strictly ascending; the readers check the same (each
 * block's first entry equals its fence, entries ascend inside a block and its
 * last is below the next fence), so that code order is value order for any
 * file that loads.
 *
 * Invariants (of a colog_dictbuf_t):
 *  1. Once loaded: view.n <= 2^31; for strings view.offs[0] == 0, offs is
 *     non-decreasing and offs[n] is the length of view.bytes; for ips view.ips
 *     has n entries. Before, view.n == 0 (and offs points to one zero).
 *  2. Entries are strictly ascending: bytewise then shorter first for strings,
 *     colog_ip_cmp for ips.
 *  3. view's pointers point into raw, which lives until colog__dict_free.
 *  4. Every field of blk, dir and the header fields kept (n, nblk, data_off,
 *     data_len, total, max_rlen) was checked at open (FORMAT.md "Reader
 *     checks") and never changes: the lazy path reads them without a lock.
 *  5. loaded is set (release) only after view and raw are complete, by the
 *     thread holding mu; load_rc/load_msg are written only under mu.
 */
#include "colog_storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define DICT_HDR 40
#define DICT_MAX_N (1u << 31)
#define DICT_V1 1u
#define DICT_V2 2u
/* Largest dictionary file written or read (colog__read_file's cap). */
#define DICT_FILE_MAX (1ull << 30)
/* Writer's choice for version 2 (readers accept any blocking). */
#define DICT_BLOCK_N 1024u
#define DICT_BLOCK_BYTES 65536u
/* Directory entry sizes and fields (version 2). */
#define DIR_ENT_IP 40
#define DIR_ENT_STR 32
#define DIR_SUM 8
#define BLK_RAW 0x01 /* block stored uncompressed */

_Static_assert(sizeof(colog_ip_t) == 16, "colog_ip_t is 16 bytes on disk");

/* A version 2 block, from its directory entry. */
struct dblock {
    uint64_t off;   /* from the start of the first block */
    uint64_t sum;   /* XXH3-64 of the stored bytes, seed file seed ^ b */
    uint32_t first; /* code of its first entry */
    uint32_t count;
    uint32_t clen; /* stored bytes */
    uint32_t rlen; /* decoded bytes */
    uint32_t fence_len;
    uint8_t flags;
    const uint8_t *fence; /* into dir: 16 bytes, or fence_len string bytes */
};

struct colog_dictbuf {
    colog_dictview_t view;
    void *raw;
    uint32_t zero; /* offs of an unloaded or empty string view */
    colog_type_t type;
    uint32_t n;
    /* version 2 only (fd -1 for version 1, which is read whole at open) */
    int fd;
    uint64_t seed;
    char *display;
    uint32_t nblk;
    struct dblock *blk;
    uint8_t *dir;
    uint64_t data_off, data_len;
    uint64_t total;    /* strings: bytes of all entries; ips: 16 n */
    uint32_t max_rlen; /* largest decoded block */
    pthread_mutex_t mu;
    bool mu_init;
    atomic_bool loaded;
    int load_rc; /* 0 until a load failed */
    char load_msg[256];
};

/* Bytewise order, a proper prefix first. */
static int str_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    size_t m = la < lb ? la : lb;
    int c = m ? memcmp(a, b, m) : 0;
    if (c != 0)
        return c;
    return la < lb ? -1 : la > lb;
}

/* Whether a view satisfies invariants 1 and 2 (offsets relative to offs[0]). */
static bool view_sorted(const colog_dictview_t *d)
{
    if (d->type == COLOG_T_IP) {
        for (uint32_t i = 1; i < d->n; i++)
            if (colog_ip_cmp(&d->ips[i - 1], &d->ips[i]) >= 0)
                return false;
        return true;
    }
    for (uint32_t i = 0; i < d->n; i++)
        if (d->offs[i + 1] < d->offs[i])
            return false;
    for (uint32_t i = 1; i < d->n; i++) {
        const char *a = d->bytes + d->offs[i - 1], *b = d->bytes + d->offs[i];
        if (str_cmp(a, d->offs[i] - d->offs[i - 1], b, d->offs[i + 1] - d->offs[i]) >= 0)
            return false;
    }
    return true;
}

/* Entry i of a view against a value: < 0, 0, > 0. */
static int entry_cmp(const colog_dictview_t *v, uint32_t i, const uint8_t *ip, const char *s,
                     size_t len)
{
    if (v->type == COLOG_T_IP)
        return memcmp(v->ips[i].b, ip, 16);
    return str_cmp(v->bytes + v->offs[i], v->offs[i + 1] - v->offs[i], s, len);
}

/* First entry >= the value (upper: > the value) in a view; v->n if none. */
static uint32_t view_bound(const colog_dictview_t *v, const colog_ip_t *ip, const char *s,
                           size_t len, bool upper)
{
    uint32_t i =
        v->type == COLOG_T_IP ? colog_dict_lower_ip(v, ip) : colog_dict_lower_str(v, s, len);
    if (upper && i < v->n && entry_cmp(v, i, ip ? ip->b : NULL, s, len) == 0)
        i++;
    return i;
}

/* ---------------------------------------------------------------- writer */

/* End (exclusive) of the block starting at entry i: DICT_BLOCK_N entries at
 * most, and for strings DICT_BLOCK_BYTES bytes at most unless one entry alone. */
static uint32_t block_end(const colog_dictview_t *d, uint32_t i)
{
    uint32_t lim = d->n - i < DICT_BLOCK_N ? d->n : i + DICT_BLOCK_N;
    if (d->type == COLOG_T_IP)
        return lim;
    uint64_t bytes = d->offs[i + 1] - d->offs[i];
    uint32_t j = i + 1;
    while (j < lim && bytes + (d->offs[j + 1] - d->offs[j]) <= DICT_BLOCK_BYTES) {
        bytes += d->offs[j + 1] - d->offs[j];
        j++;
    }
    return j;
}

/* Raw length of entries [i, j) as a block. */
static uint64_t block_rlen(const colog_dictview_t *d, uint32_t i, uint32_t j)
{
    if (d->type == COLOG_T_IP)
        return 16 * (uint64_t)(j - i);
    return 4 * ((uint64_t)(j - i) + 1) + (d->offs[j] - d->offs[i]);
}

/* The raw bytes of entries [i, j) into out (block_rlen bytes). */
static void block_fill(const colog_dictview_t *d, uint32_t i, uint32_t j, uint8_t *out)
{
    if (d->type == COLOG_T_IP) {
        memcpy(out, d->ips + i, 16 * (size_t)(j - i));
        return;
    }
    for (uint32_t k = i; k <= j; k++)
        colog__put_u32(out + 4 * (size_t)(k - i), d->offs[k] - d->offs[i]);
    if (d->offs[j] > d->offs[i])
        memcpy(out + 4 * ((size_t)(j - i) + 1), d->bytes + d->offs[i], d->offs[j] - d->offs[i]);
}

/* The plan of a version 2 file: block boundaries and sizes. */
struct plan {
    uint32_t nblk;
    uint32_t *first; /* nblk + 1 */
    uint64_t max_rlen, bound_sum, fence_bytes, dir_len;
};

static int plan_make(const colog_dictview_t *d, const char *fname, struct plan *p)
{
    memset(p, 0, sizeof *p);
    for (uint32_t i = 0; i < d->n; i = block_end(d, i))
        p->nblk++;
    p->first = malloc(((size_t)p->nblk + 1) * sizeof *p->first);
    if (!p->first)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
    uint32_t b = 0;
    for (uint32_t i = 0; i < d->n; i = block_end(d, i)) {
        uint32_t j = block_end(d, i);
        uint64_t rlen = block_rlen(d, i, j);
        if (rlen > LZ4_MAX_INPUT_SIZE)
            return colog_seterr(COLOG_ELIMIT, "%s: dictionary entry too large (%llu bytes)", fname,
                                (unsigned long long)rlen);
        p->first[b++] = i;
        if (rlen > p->max_rlen)
            p->max_rlen = rlen;
        p->bound_sum += (uint64_t)LZ4_compressBound((int)rlen);
        if (d->type == COLOG_T_STRING)
            p->fence_bytes += d->offs[i + 1] - d->offs[i];
    }
    p->first[b] = d->n;
    uint64_t ent = d->type == COLOG_T_IP ? DIR_ENT_IP : DIR_ENT_STR;
    p->dir_len = ent * p->nblk + p->fence_bytes + DIR_SUM;
    /* the fences alone past the cap: refuse before allocating (encode_v2
     * checks the actual length) */
    if (DICT_HDR + p->dir_len > DICT_FILE_MAX)
        return colog_seterr(COLOG_ELIMIT, "%s: dictionary too large", fname);
    return 0;
}

/* Fill file (header, directory, blocks) from the plan; *len = its length. */
static int encode_v2(const colog_dictview_t *d, const char *fname, const struct plan *p,
                     uint8_t *file, size_t *len)
{
    uint64_t seed = colog__file_seed(fname);
    size_t ent = d->type == COLOG_T_IP ? DIR_ENT_IP : DIR_ENT_STR;
    uint8_t *dir = file + DICT_HDR;
    uint8_t *fences = dir + ent * p->nblk;
    uint8_t *data = dir + p->dir_len;
    uint8_t *raw = malloc(p->max_rlen ? p->max_rlen : 1);
    if (!raw)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
    uint64_t pos = 0, fpos = 0;
    for (uint32_t b = 0; b < p->nblk; b++) {
        uint32_t i = p->first[b], j = p->first[b + 1];
        int rlen = (int)block_rlen(d, i, j);
        block_fill(d, i, j, raw);
        uint8_t *out = data + pos;
        int clen =
            LZ4_compress_default((const char *)raw, (char *)out, rlen, LZ4_compressBound(rlen));
        uint8_t flags = 0;
        if (clen <= 0 || clen >= rlen) {
            memcpy(out, raw, (size_t)rlen);
            clen = rlen;
            flags = BLK_RAW;
        }
        uint8_t *e = dir + ent * b;
        memset(e, 0, ent);
        colog__put_u32(e, i);
        colog__put_u32(e + 4, (uint32_t)clen);
        colog__put_u32(e + 8, (uint32_t)rlen);
        e[12] = flags;
        colog__put_u64(e + 16, XXH3_64bits_withSeed(out, (size_t)clen, seed ^ b));
        if (d->type == COLOG_T_IP) {
            memcpy(e + 24, d->ips[i].b, 16);
        } else {
            uint32_t fl = d->offs[i + 1] - d->offs[i];
            colog__put_u32(e + 24, (uint32_t)fpos);
            colog__put_u32(e + 28, fl);
            if (fl)
                memcpy(fences + fpos, d->bytes + d->offs[i], fl);
            fpos += fl;
        }
        pos += (uint64_t)clen;
    }
    free(raw);
    colog__put_u64(dir + p->dir_len - DIR_SUM,
                   XXH3_64bits_withSeed(dir, p->dir_len - DIR_SUM, seed));
    if (DICT_HDR + p->dir_len + pos > DICT_FILE_MAX)
        return colog_seterr(COLOG_ELIMIT, "%s: dictionary too large (%llu bytes)", fname,
                            (unsigned long long)(DICT_HDR + p->dir_len + pos));
    memset(file, 0, DICT_HDR);
    colog__put_u32(file, COLOG_DICT_MAGIC);
    colog__put_u16(file + 4, DICT_V2);
    file[6] = (uint8_t)d->type;
    colog__put_u32(file + 8, d->n);
    colog__put_u32(file + 12, p->nblk);
    colog__put_u64(file + 16, p->dir_len);
    colog__put_u64(file + 24, pos);
    colog__put_u64(file + 32, XXH3_64bits_withSeed(file, 32, seed));
    *len = DICT_HDR + (size_t)p->dir_len + (size_t)pos;
    return 0;
}

int colog__dict_write(int dirfd, const char *fname, const colog_dictview_t *d, uint64_t *size,
                      uint64_t *xxh, uint8_t sha256[32])
{
    if (!fname || !d || (d->type != COLOG_T_IP && d->type != COLOG_T_STRING) || d->n > DICT_MAX_N ||
        (d->type == COLOG_T_IP && d->n && !d->ips) ||
        (d->type == COLOG_T_STRING && (!d->offs || (!d->bytes && d->offs[d->n] > d->offs[0]))))
        return colog_seterr(COLOG_EINVAL, "%s: bad dictionary", fname ? fname : "(null)");
    if (!view_sorted(d))
        return colog_seterr(COLOG_EINVAL, "%s: dictionary not strictly ascending", fname);
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "%s: sodium_init failed", fname);

    struct plan p;
    int rc = plan_make(d, fname, &p);
    if (rc < 0)
        goto out_free_plan;
    uint8_t *file = malloc(DICT_HDR + p.dir_len + p.bound_sum);
    if (!file) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
        goto out_free_plan;
    }
    size_t len = 0; /* set when rc == 0; gcc -O2 cannot see it */
    rc = encode_v2(d, fname, &p, file, &len);
    if (rc < 0)
        goto out_free_file;

    int fd = openat(dirfd, fname, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: open: %s", fname, strerror(-rc));
        goto out_free_file;
    }
    rc = colog__write_all(fd, file, len);
    if (rc == 0)
        rc = colog__fsync_fd(fd);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        colog_seterr(rc, "%s: write: %s", fname, colog_strerror(rc));
        goto out_unlink;
    }
    if (size)
        *size = len;
    if (xxh)
        *xxh = XXH3_64bits(file, len);
    if (sha256)
        crypto_hash_sha256(sha256, file, len);
    free(file);
    free(p.first);
    return 0;

out_unlink:
    unlinkat(dirfd, fname, 0);
out_free_file:
    free(file);
out_free_plan:
    free(p.first);
    return rc;
}

/* ---------------------------------------------------------------- version 1 */

/* XXH3-64 of a whole v1 dictionary file with its checksum field (32..40) as zero. */
static uint64_t v1_sum(uint8_t *file, size_t len, uint64_t seed)
{
    uint8_t saved[8];
    memcpy(saved, file + 32, 8);
    memset(file + 32, 0, 8);
    uint64_t h = XXH3_64bits_withSeed(file, len, seed);
    memcpy(file + 32, saved, 8);
    return h;
}

/* Check the v1 header of buf[0..len) (len >= DICT_HDR) and return n and the raw length. */
static int v1_header(uint8_t *buf, size_t len, colog_type_t type, uint64_t seed,
                     const char *display, uint32_t *n, uint64_t *rlen)
{
    uint64_t clen = colog__get_u64(buf + 24);
    if (clen != len - DICT_HDR)
        return colog_seterr(COLOG_ECORRUPT, "%s: compressed length %llu does not match the file",
                            display, (unsigned long long)clen);
    if (colog__get_u64(buf + 32) != v1_sum(buf, len, seed))
        return colog_seterr(COLOG_ECORRUPT, "%s: checksum mismatch", display);
    if (buf[7] != 0 || colog__get_u32(buf + 12) != 0)
        return colog_seterr(COLOG_ECORRUPT, "%s: reserved fields not zero", display);
    if (buf[6] != (uint8_t)type)
        return colog_seterr(COLOG_ECORRUPT, "%s: dictionary type %u, expected %u", display, buf[6],
                            (unsigned)type);
    *n = colog__get_u32(buf + 8);
    *rlen = colog__get_u64(buf + 16);
    if (*n > DICT_MAX_N)
        return colog_seterr(COLOG_ECORRUPT, "%s: too many entries (%u)", display, *n);
    bool len_ok = type == COLOG_T_IP ? *rlen == 16 * (uint64_t)*n : *rlen >= 4 * ((uint64_t)*n + 1);
    /* LZ4 expands at most 255-fold: a raw length beyond that is a lie. */
    if (!len_ok || *rlen > LZ4_MAX_INPUT_SIZE || *rlen > 255 * clen + 64)
        return colog_seterr(COLOG_ECORRUPT, "%s: bad raw length %llu", display,
                            (unsigned long long)*rlen);
    return 0;
}

/* Convert (in place, to host order) and check the offsets of a string payload
 * raw[0..rlen) of v->n entries; point v at it. false if out of bounds. */
static bool str_payload(colog_dictview_t *v, void *raw, size_t rlen)
{
    uint32_t *offs = raw;
    size_t nbytes = rlen - 4 * ((size_t)v->n + 1);
    for (uint32_t i = 0; i <= v->n; i++)
        offs[i] = colog__get_u32((const uint8_t *)raw + 4 * (size_t)i);
    if (offs[0] != 0 || offs[v->n] != nbytes)
        return false;
    for (uint32_t i = 0; i < v->n; i++)
        if (offs[i + 1] < offs[i])
            return false;
    v->offs = offs;
    v->bytes = (const char *)raw + 4 * ((size_t)v->n + 1);
    return true;
}

/* Read, check and decode a whole v1 file of size bytes into d. */
static int v1_read(colog_dictbuf_t *d, int fd, uint64_t size, uint64_t seed, const char *display)
{
    size_t len = (size_t)size;
    uint8_t *buf = malloc(len);
    if (!buf)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
    int rc = colog__pread_all(fd, buf, len, 0);
    if (rc < 0) {
        colog_seterr(rc, "%s: read: %s", display, colog_strerror(rc));
        goto out_free_buf;
    }
    uint32_t n = 0;
    uint64_t rlen = 0;
    rc = v1_header(buf, len, d->type, seed, display, &n, &rlen);
    if (rc < 0)
        goto out_free_buf;
    if (!(d->raw = malloc(rlen ? rlen : 1))) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
        goto out_free_buf;
    }
    int k =
        LZ4_decompress_safe((const char *)buf + DICT_HDR, d->raw, (int)(len - DICT_HDR), (int)rlen);
    if (k < 0 || (uint64_t)k != rlen) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: decompression failed", display);
        goto out_free_buf;
    }
    d->view.n = n;
    if (d->type == COLOG_T_IP) {
        d->view.ips = d->raw;
    } else if (!str_payload(&d->view, d->raw, (size_t)rlen)) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: string offsets out of bounds", display);
        goto out_free_buf;
    }
    if (!view_sorted(&d->view)) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: entries not strictly ascending", display);
        goto out_free_buf;
    }
    d->n = n;
    atomic_store_explicit(&d->loaded, true, memory_order_release);
out_free_buf:
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- version 2: open */

static int corrupt(const colog_dictbuf_t *d, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: %s", d->display, what);
}

static int blk_corrupt(const colog_dictbuf_t *d, uint32_t b, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: block %u: %s", d->display, b, what);
}

static int v2_pread(const colog_dictbuf_t *d, void *buf, size_t len, uint64_t off, const char *part)
{
    int rc = len ? colog__pread_all(d->fd, buf, len, off) : 0;
    if (rc == COLOG_ECORRUPT)
        return colog_seterr(rc, "%s: %s: truncated file", d->display, part);
    if (rc < 0)
        return colog_seterr(rc, "%s: %s: read: %s", d->display, part, colog_strerror(rc));
    return 0;
}

/* Header checks (FORMAT.md, version 2 reader check 2); h holds DICT_HDR bytes. */
static int v2_header(colog_dictbuf_t *d, const uint8_t *h, uint64_t size)
{
    if (colog__get_u64(h + 32) != XXH3_64bits_withSeed(h, 32, d->seed))
        return corrupt(d, "header checksum mismatch");
    if (h[7] != 0)
        return corrupt(d, "reserved fields not zero");
    if (h[6] != (uint8_t)d->type)
        return colog_seterr(COLOG_ECORRUPT, "%s: dictionary type %u, expected %u", d->display, h[6],
                            (unsigned)d->type);
    uint32_t n = colog__get_u32(h + 8), nblk = colog__get_u32(h + 12);
    uint64_t dir_len = colog__get_u64(h + 16), data_len = colog__get_u64(h + 24);
    if (n > DICT_MAX_N)
        return colog_seterr(COLOG_ECORRUPT, "%s: too many entries (%u)", d->display, n);
    if (nblk > n || (nblk == 0) != (n == 0))
        return colog_seterr(COLOG_ECORRUPT, "%s: bad block count %u for %u entries", d->display,
                            nblk, n);
    uint64_t ent = d->type == COLOG_T_IP ? DIR_ENT_IP : DIR_ENT_STR;
    uint64_t min_dir = ent * nblk + DIR_SUM;
    if (dir_len < min_dir || (d->type == COLOG_T_IP && dir_len != min_dir) ||
        dir_len > size - DICT_HDR)
        return colog_seterr(COLOG_ECORRUPT, "%s: bad directory length %llu", d->display,
                            (unsigned long long)dir_len);
    if (data_len != size - DICT_HDR - dir_len)
        return colog_seterr(COLOG_ECORRUPT, "%s: block bytes %llu do not match the file",
                            d->display, (unsigned long long)data_len);
    d->n = n;
    d->nblk = nblk;
    d->data_off = DICT_HDR + dir_len;
    d->data_len = data_len;
    return 0;
}

/* Directory entry b (version 2 reader checks 3-4). fpos: next expected fence offset. */
static int v2_entry(colog_dictbuf_t *d, uint32_t b, const uint8_t *e, const uint8_t *fences,
                    uint64_t flen, uint64_t *off, uint64_t *fpos)
{
    struct dblock *k = &d->blk[b];
    k->first = colog__get_u32(e);
    k->clen = colog__get_u32(e + 4);
    k->rlen = colog__get_u32(e + 8);
    k->flags = e[12];
    k->sum = colog__get_u64(e + 16);
    uint32_t next = b + 1 < d->nblk
                        ? colog__get_u32(e + (d->type == COLOG_T_IP ? DIR_ENT_IP : DIR_ENT_STR))
                        : d->n;
    if ((b == 0 && k->first != 0) || next <= k->first || next > d->n)
        return blk_corrupt(d, b, "first entries not ascending within the dictionary");
    k->count = next - k->first;
    if ((k->flags & ~BLK_RAW) != 0 || e[13] != 0 || e[14] != 0 || e[15] != 0)
        return blk_corrupt(d, b, "reserved fields not zero");
    if (k->clen == 0 || k->clen > d->data_len - *off)
        return blk_corrupt(d, b, "length past the end of the file");
    k->off = *off;
    *off += k->clen;
    uint64_t min_r = d->type == COLOG_T_IP ? 16 * (uint64_t)k->count : 4 * ((uint64_t)k->count + 1);
    bool rlen_ok = d->type == COLOG_T_IP ? k->rlen == min_r : k->rlen >= min_r;
    if ((k->flags & BLK_RAW)
            ? k->rlen != k->clen
            : k->rlen > LZ4_MAX_INPUT_SIZE || k->rlen > 255 * (uint64_t)k->clen + 64)
        rlen_ok = false;
    if (!rlen_ok)
        return blk_corrupt(d, b, "bad raw length");
    if (d->type == COLOG_T_IP) {
        k->fence = e + 24;
        k->fence_len = 16;
        d->total += k->rlen;
    } else {
        uint32_t fo = colog__get_u32(e + 24);
        k->fence_len = colog__get_u32(e + 28);
        if (fo != *fpos || k->fence_len > flen - *fpos)
            return blk_corrupt(d, b, "fence out of the directory");
        if (k->fence_len > k->rlen - min_r)
            return blk_corrupt(d, b, "fence longer than the block's bytes");
        k->fence = fences + fo;
        *fpos += k->fence_len;
        d->total += k->rlen - min_r;
    }
    if (k->rlen > d->max_rlen)
        d->max_rlen = k->rlen;
    if (b > 0) {
        const struct dblock *p = &d->blk[b - 1];
        int c = d->type == COLOG_T_IP ? memcmp(p->fence, k->fence, 16)
                                      : str_cmp((const char *)p->fence, p->fence_len,
                                                (const char *)k->fence, k->fence_len);
        if (c >= 0)
            return blk_corrupt(d, b, "fences not strictly ascending");
    }
    return 0;
}

/* Read and check the directory (dir_len = data_off - DICT_HDR bytes at DICT_HDR). */
static int v2_directory(colog_dictbuf_t *d)
{
    uint64_t dir_len = d->data_off - DICT_HDR;
    d->dir = malloc(dir_len);
    d->blk = calloc(d->nblk ? d->nblk : 1, sizeof *d->blk);
    if (!d->dir || !d->blk)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", d->display);
    int rc = v2_pread(d, d->dir, dir_len, DICT_HDR, "directory");
    if (rc < 0)
        return rc;
    if (colog__get_u64(d->dir + dir_len - DIR_SUM) !=
        XXH3_64bits_withSeed(d->dir, dir_len - DIR_SUM, d->seed))
        return corrupt(d, "directory checksum mismatch");
    size_t ent = d->type == COLOG_T_IP ? DIR_ENT_IP : DIR_ENT_STR;
    const uint8_t *fences = d->dir + ent * d->nblk;
    uint64_t flen = dir_len - DIR_SUM - ent * d->nblk, off = 0, fpos = 0;
    for (uint32_t b = 0; b < d->nblk; b++) {
        rc = v2_entry(d, b, d->dir + ent * b, fences, flen, &off, &fpos);
        if (rc < 0)
            return rc;
    }
    if (off != d->data_len)
        return corrupt(d, "blocks do not fill the file");
    if (fpos != flen)
        return corrupt(d, "fence bytes do not fill the directory");
    if (d->type == COLOG_T_STRING && d->total > UINT32_MAX)
        return corrupt(d, "string bytes exceed 2^32 - 1");
    return 0;
}

/* An empty, unloaded dictbuf (no file yet); NULL if out of memory. */
static colog_dictbuf_t *dict_new(colog_type_t type, const char *display)
{
    colog_dictbuf_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->fd = -1;
    d->type = type;
    d->view.type = type;
    if (type == COLOG_T_STRING)
        d->view.offs = &d->zero;
    atomic_init(&d->loaded, false);
    d->display = strdup(display);
    if (!d->display || pthread_mutex_init(&d->mu, NULL) != 0) {
        free(d->display);
        free(d);
        return NULL;
    }
    d->mu_init = true;
    return d;
}

int colog__dict_open(int dirfd, const char *fname, colog_type_t type, const char *display,
                     colog_dictbuf_t **out)
{
    if (!out || !fname || (type != COLOG_T_IP && type != COLOG_T_STRING))
        return colog_seterr(COLOG_EINVAL, "%s: bad dictionary reader arguments",
                            display ? display
                            : fname ? fname
                                    : "(null)");
    if (!display)
        display = fname;
    int rc;
    colog_dictbuf_t *d = dict_new(type, display);
    if (!d)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
    d->seed = colog__file_seed(fname);
    uint64_t size;
    d->fd = colog__open_ro(dirfd, fname, display, &size);
    if (d->fd < 0) {
        rc = d->fd;
        goto out_free;
    }
    if (size > DICT_FILE_MAX) {
        rc = colog_seterr(COLOG_ELIMIT, "%s: file too large (%llu bytes)", display,
                          (unsigned long long)size);
        goto out_free;
    }
    uint8_t h[DICT_HDR];
    rc = v2_pread(d, h, size < DICT_HDR ? (size_t)size : DICT_HDR, 0, "header");
    if (rc < 0)
        goto out_free;
    if (size < 4 || colog__get_u32(h) != COLOG_DICT_MAGIC) {
        rc = colog_seterr(COLOG_ENOTCOLOG, "%s: not a colog dictionary file", display);
        goto out_free;
    }
    unsigned ver = size < 6 ? 0 : colog__get_u16(h + 4);
    if (size >= 6 && ver != DICT_V1 && ver != DICT_V2) {
        rc = colog_seterr(COLOG_EVERSION, "%s: format version %u not supported (expected %u or %u)",
                          display, ver, DICT_V1, DICT_V2);
        goto out_free;
    }
    if (size < DICT_HDR) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: truncated file (%llu bytes)", display,
                          (unsigned long long)size);
        goto out_free;
    }
    if (ver == DICT_V1) {
        rc = v1_read(d, d->fd, size, d->seed, display);
        close(d->fd);
        d->fd = -1;
    } else {
        rc = v2_header(d, h, size);
        if (rc == 0)
            rc = v2_directory(d);
    }
    if (rc < 0)
        goto out_free;
    *out = d;
    return 0;

out_free:
    colog__dict_free(d);
    return rc;
}

/* ---------------------------------------------------------------- version 2: blocks */

/* Verify and decode block b: stored holds its clen stored bytes (it may be raw
 * itself for a BLK_RAW block); raw receives rlen bytes and must be 4-aligned.
 * On success bv is a view of the block's entries inside raw (offsets converted
 * in place), checked against the directory (version 2 reader checks 5-6). */
static int block_decode(const colog_dictbuf_t *d, uint32_t b, const uint8_t *stored, uint8_t *raw,
                        colog_dictview_t *bv)
{
    const struct dblock *k = &d->blk[b];
    if (XXH3_64bits_withSeed(stored, k->clen, d->seed ^ b) != k->sum)
        return blk_corrupt(d, b, "checksum mismatch");
    if (k->flags & BLK_RAW) {
        if (raw != stored)
            memcpy(raw, stored, k->rlen);
    } else {
        int r = LZ4_decompress_safe((const char *)stored, (char *)raw, (int)k->clen, (int)k->rlen);
        if (r < 0 || (uint32_t)r != k->rlen)
            return blk_corrupt(d, b, "decompression failed");
    }
    *bv = (colog_dictview_t){.type = d->type, .n = k->count};
    if (d->type == COLOG_T_IP)
        bv->ips = (const colog_ip_t *)raw;
    else if (!str_payload(bv, raw, k->rlen))
        return blk_corrupt(d, b, "string offsets out of bounds");
    if (!view_sorted(bv))
        return blk_corrupt(d, b, "entries not strictly ascending");
    if (entry_cmp(bv, 0, k->fence, (const char *)k->fence, k->fence_len) != 0)
        return blk_corrupt(d, b, "first entry differs from its fence");
    if (b + 1 < d->nblk) {
        const struct dblock *nx = &d->blk[b + 1];
        if (entry_cmp(bv, k->count - 1, nx->fence, (const char *)nx->fence, nx->fence_len) >= 0)
            return blk_corrupt(d, b, "last entry not below the next block's fence");
    }
    return 0;
}

/* Fence of block b against the value. */
static int fence_cmp(const colog_dictbuf_t *d, uint32_t b, const colog_ip_t *ip, const char *s,
                     size_t len)
{
    const struct dblock *k = &d->blk[b];
    if (d->type == COLOG_T_IP)
        return memcmp(k->fence, ip->b, 16);
    return str_cmp((const char *)k->fence, k->fence_len, s, len);
}

/* The lazy bound: one block read into a buffer of our own. */
static int bound_lazy(const colog_dictbuf_t *d, const colog_ip_t *ip, const char *s, size_t len,
                      bool upper, uint32_t *pos)
{
    /* f = the number of fences < the value (upper: <= the value) */
    uint32_t lo = 0, hi = d->nblk;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = fence_cmp(d, mid, ip, s, len);
        if (c < 0 || (upper && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        *pos = 0;
        return 0;
    }
    /* A fence equal to the value answers without a read. */
    if (!upper && lo < d->nblk && fence_cmp(d, lo, ip, s, len) == 0) {
        *pos = d->blk[lo].first;
        return 0;
    }
    uint32_t b = lo - 1;
    const struct dblock *k = &d->blk[b];
    if (upper && fence_cmp(d, b, ip, s, len) == 0) {
        *pos = k->first + 1;
        return 0;
    }
    /* raw first (aligned for the offsets), then the stored bytes */
    size_t rcap = ((size_t)k->rlen + 7) & ~(size_t)7;
    bool is_raw = (k->flags & BLK_RAW) != 0;
    uint8_t *buf = malloc(rcap + (is_raw ? 0 : k->clen));
    if (!buf)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", d->display);
    uint8_t *stored = is_raw ? buf : buf + rcap;
    char part[32];
    snprintf(part, sizeof part, "block %u", b);
    int rc = v2_pread(d, stored, k->clen, d->data_off + k->off, part);
    colog_dictview_t bv;
    if (rc == 0)
        rc = block_decode(d, b, stored, buf, &bv);
    if (rc == 0)
        *pos = k->first + view_bound(&bv, ip, s, len, upper);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- version 2: load */

/* Read and decode every block into d->raw and d->view (under d->mu). */
static int load_all(colog_dictbuf_t *d)
{
    uint8_t *data = malloc(d->data_len ? d->data_len : 1);
    if (!data)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", d->display);
    int rc = v2_pread(d, data, d->data_len, d->data_off, "blocks");
    if (rc < 0)
        goto out_free_data;
    size_t vlen = d->type == COLOG_T_IP ? (size_t)d->total : 4 * ((size_t)d->n + 1) + d->total;
    void *view = malloc(vlen ? vlen : 1);
    uint8_t *scratch = d->type == COLOG_T_STRING ? malloc(d->max_rlen + (size_t)1) : NULL;
    if (!view || (d->type == COLOG_T_STRING && !scratch)) {
        free(view);
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", d->display);
        goto out_free_scratch;
    }
    uint32_t *offs = view;
    char *bytes = (char *)view + 4 * ((size_t)d->n + 1);
    uint32_t base = 0;
    for (uint32_t b = 0; b < d->nblk && rc == 0; b++) {
        const struct dblock *k = &d->blk[b];
        colog_dictview_t bv;
        uint8_t *dst = d->type == COLOG_T_IP ? (uint8_t *)view + 16 * (size_t)k->first : scratch;
        rc = block_decode(d, b, data + k->off, dst, &bv);
        if (rc < 0 || d->type == COLOG_T_IP)
            continue;
        for (uint32_t i = 0; i < k->count; i++)
            offs[k->first + i] = base + bv.offs[i];
        uint32_t nb = bv.offs[k->count];
        if (nb)
            memcpy(bytes + base, bv.bytes, nb);
        base += nb;
    }
    if (rc < 0) {
        free(view);
        goto out_free_scratch;
    }
    d->raw = view;
    d->view.n = d->n;
    if (d->type == COLOG_T_IP) {
        d->view.ips = (const colog_ip_t *)view;
    } else {
        offs[d->n] = base;
        d->view.offs = offs;
        d->view.bytes = bytes;
    }
out_free_scratch:
    free(scratch);
out_free_data:
    free(data);
    return rc;
}

int colog__dict_load(colog_dictbuf_t *d)
{
    if (!d)
        return colog_seterr(COLOG_EINVAL, "dictionary: no dictionary to load");
    if (atomic_load_explicit(&d->loaded, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&d->mu);
    int rc = 0;
    if (atomic_load_explicit(&d->loaded, memory_order_relaxed)) {
        rc = 0;
    } else if (d->load_rc < 0) {
        rc = colog_seterr(d->load_rc, "%s", d->load_msg);
    } else {
        rc = load_all(d);
        if (rc == COLOG_ENOMEM) {
            /* not the file's fault: the next call tries again (as an index does) */
        } else if (rc < 0) {
            d->load_rc = rc;
            snprintf(d->load_msg, sizeof d->load_msg, "%s", colog_errmsg());
        } else {
            atomic_store_explicit(&d->loaded, true, memory_order_release);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

/* ---------------------------------------------------------------- the rest */

int colog__dict_read(int dirfd, const char *fname, colog_type_t type, const char *display,
                     colog_dictbuf_t **out)
{
    colog_dictbuf_t *d;
    int rc = colog__dict_open(dirfd, fname, type, display, &d);
    if (rc < 0)
        return rc;
    rc = colog__dict_load(d);
    if (rc < 0) {
        colog__dict_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

uint32_t colog__dict_size(const colog_dictbuf_t *d)
{
    return d ? d->n : 0;
}

const colog_dictview_t *colog__dict_view(const colog_dictbuf_t *d)
{
    return &d->view;
}

int colog__dict_bound(colog_dictbuf_t *d, const colog_ip_t *ip, const char *s, size_t len,
                      bool upper, uint32_t *pos)
{
    if (!d || !pos || (d->type == COLOG_T_IP ? !ip : (!s && len)))
        return colog_seterr(COLOG_EINVAL, "%s: bad dictionary lookup arguments",
                            d ? d->display : "dictionary");
    if (atomic_load_explicit(&d->loaded, memory_order_acquire)) {
        *pos = view_bound(&d->view, ip, s, len, upper);
        return 0;
    }
    return bound_lazy(d, ip, s, len, upper, pos);
}

void colog__dict_free(colog_dictbuf_t *d)
{
    if (!d)
        return;
    if (d->fd >= 0)
        close(d->fd);
    if (d->mu_init)
        pthread_mutex_destroy(&d->mu);
    free(d->blk);
    free(d->dir);
    free(d->display);
    free(d->raw);
    free(d);
}

uint32_t colog_dict_lower_str(const colog_dictview_t *d, const char *s, size_t len)
{
    if (!d || d->type != COLOG_T_STRING || (s == NULL && len > 0))
        return d ? d->n : 0;
    uint32_t lo = 0, hi = d->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *e = d->bytes + d->offs[mid];
        if (str_cmp(e, d->offs[mid + 1] - d->offs[mid], s, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t colog_dict_lower_ip(const colog_dictview_t *d, const colog_ip_t *ip)
{
    if (!d || d->type != COLOG_T_IP || ip == NULL)
        return d ? d->n : 0;
    uint32_t lo = 0, hi = d->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (colog_ip_cmp(&d->ips[mid], ip) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
