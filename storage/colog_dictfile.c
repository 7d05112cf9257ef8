/*
 * colog_dictfile.c — dictionary files: the sorted, duplicate-free values of a
 * part's string or ip column, so that the column itself stores 32-bit codes.
 *
 * Layout (docs/FORMAT.md "Dictionary files"): a 40-byte header, then one LZ4
 * block holding, for strings, n + 1 little-endian u32 offsets followed by the
 * bytes of all entries, and for ips, 16 bytes per entry. One XXH3-64, seeded
 * with the file seed, covers the whole file with its own field taken as zero.
 *
 * Design. Dictionaries are read whole (colog__read_file, 1 GiB cap) and
 * decompressed into one buffer that the view points into, so a lookup is a
 * binary search over memory. The writer refuses a view that is not strictly
 * ascending; the reader checks the same, and that every offset is in bounds,
 * so that code order is value order for any file that opens.
 *
 * Invariants (of a colog_dictbuf_t):
 *  1. view.n <= 2^31; for strings view.offs[0] == 0, offs is non-decreasing
 *     and offs[n] is the length of view.bytes; for ips view.ips has n entries.
 *  2. Entries are strictly ascending: bytewise then shorter first for strings,
 *     colog_ip_cmp for ips.
 *  3. view's pointers point into raw, which lives until colog__dict_free.
 */
#include "colog_storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define DICT_HDR 40
#define DICT_MAX_N (1u << 31)

_Static_assert(sizeof(colog_ip_t) == 16, "colog_ip_t is 16 bytes on disk");

struct colog_dictbuf {
    colog_dictview_t view;
    void *raw;
};

/* Bytewise order, a proper prefix first. */
static int str_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
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

/* XXH3-64 of a whole dictionary file with its checksum field (32..40) as zero. */
static uint64_t dict_sum(uint8_t *file, size_t len, uint64_t seed)
{
    uint8_t saved[8];
    memcpy(saved, file + 32, 8);
    memset(file + 32, 0, 8);
    uint64_t h = XXH3_64bits_withSeed(file, len, seed);
    memcpy(file + 32, saved, 8);
    return h;
}

/* The raw payload of a view into a malloc'ed buffer. */
static int build_raw(const colog_dictview_t *d, const char *fname, uint8_t **out, size_t *len)
{
    uint64_t rlen;
    if (d->type == COLOG_T_IP)
        rlen = 16 * (uint64_t)d->n;
    else
        rlen = 4 * ((uint64_t)d->n + 1) + (d->offs[d->n] - d->offs[0]);
    if (rlen > LZ4_MAX_INPUT_SIZE)
        return colog_seterr(COLOG_ELIMIT, "%s: dictionary too large (%llu bytes)", fname,
                            (unsigned long long)rlen);
    uint8_t *raw = malloc(rlen ? rlen : 1);
    if (!raw)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
    if (d->type == COLOG_T_IP) {
        if (rlen)
            memcpy(raw, d->ips, rlen);
    } else {
        for (uint32_t i = 0; i <= d->n; i++)
            colog__put_u32(raw + 4 * (size_t)i, d->offs[i] - d->offs[0]);
        if (d->offs[d->n] > d->offs[0])
            memcpy(raw + 4 * ((size_t)d->n + 1), d->bytes + d->offs[0], d->offs[d->n] - d->offs[0]);
    }
    *out = raw;
    *len = (size_t)rlen;
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

    uint8_t *raw = NULL;
    size_t rlen = 0;
    int rc = build_raw(d, fname, &raw, &rlen);
    if (rc < 0)
        return rc;
    size_t cap = DICT_HDR + (size_t)LZ4_compressBound((int)rlen);
    uint8_t *file = malloc(cap);
    if (!file) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", fname);
        goto out_free_raw;
    }
    int clen = LZ4_compress_default((const char *)raw, (char *)file + DICT_HDR, (int)rlen,
                                    (int)(cap - DICT_HDR));
    if (clen <= 0) {
        rc = colog_seterr(COLOG_EINVAL, "%s: LZ4 compression failed", fname);
        goto out_free_file;
    }
    memset(file, 0, DICT_HDR);
    colog__put_u32(file, COLOG_DICT_MAGIC);
    colog__put_u16(file + 4, COLOG_FORMAT_VERSION);
    file[6] = (uint8_t)d->type;
    colog__put_u32(file + 8, d->n);
    colog__put_u64(file + 16, rlen);
    colog__put_u64(file + 24, (uint64_t)clen);
    size_t len = DICT_HDR + (size_t)clen;
    colog__put_u64(file + 32, dict_sum(file, len, colog__file_seed(fname)));

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
    free(raw);
    return 0;

out_unlink:
    unlinkat(dirfd, fname, 0);
out_free_file:
    free(file);
out_free_raw:
    free(raw);
    return rc;
}

/* Check the header of buf[0..len) and return n, the raw and compressed lengths. */
static int check_header(uint8_t *buf, size_t len, colog_type_t type, uint64_t seed,
                        const char *display, uint32_t *n, uint64_t *rlen)
{
    if (len < 4 || colog__get_u32(buf) != COLOG_DICT_MAGIC)
        return colog_seterr(COLOG_ENOTCOLOG, "%s: not a colog dictionary file", display);
    if (len < DICT_HDR)
        return colog_seterr(COLOG_ECORRUPT, "%s: truncated file (%zu bytes)", display, len);
    unsigned ver = colog__get_u16(buf + 4);
    if (ver != COLOG_FORMAT_VERSION)
        return colog_seterr(COLOG_EVERSION, "%s: format version %u not supported (expected %u)",
                            display, ver, COLOG_FORMAT_VERSION);
    uint64_t clen = colog__get_u64(buf + 24);
    if (clen != len - DICT_HDR)
        return colog_seterr(COLOG_ECORRUPT, "%s: compressed length %llu does not match the file",
                            display, (unsigned long long)clen);
    if (colog__get_u64(buf + 32) != dict_sum(buf, len, seed))
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

/* Convert and check the offsets of a string dictionary in raw (rlen bytes). */
static int check_strings(colog_dictview_t *v, void *raw, size_t rlen, const char *display)
{
    uint32_t *offs = raw;
    size_t nbytes = rlen - 4 * ((size_t)v->n + 1);
    for (uint32_t i = 0; i <= v->n; i++)
        offs[i] = colog__get_u32((const uint8_t *)raw + 4 * (size_t)i);
    if (offs[0] != 0 || offs[v->n] != nbytes)
        return colog_seterr(COLOG_ECORRUPT, "%s: string offsets out of bounds", display);
    v->offs = offs;
    v->bytes = (const char *)raw + 4 * ((size_t)v->n + 1);
    if (!view_sorted(v))
        return colog_seterr(COLOG_ECORRUPT, "%s: entries not strictly ascending", display);
    return 0;
}

int colog__dict_read(int dirfd, const char *fname, colog_type_t type, const char *display,
                     colog_dictbuf_t **out)
{
    if (!out || !fname || (type != COLOG_T_IP && type != COLOG_T_STRING))
        return colog_seterr(COLOG_EINVAL, "%s: bad dictionary reader arguments",
                            display ? display
                            : fname ? fname
                                    : "(null)");
    if (!display)
        display = fname;
    colog_dictbuf_t *d = NULL;
    uint8_t *buf;
    size_t len;
    int rc = colog__read_file(dirfd, fname, &buf, &len);
    if (rc < 0)
        return colog_seterr(rc, "%s: %s", display, colog_strerror(rc));
    uint32_t n = 0;
    uint64_t rlen = 0;
    rc = check_header(buf, len, type, colog__file_seed(fname), display, &n, &rlen);
    if (rc < 0)
        goto out_free_buf;
    d = calloc(1, sizeof *d);
    if (!d || !(d->raw = malloc(rlen ? rlen : 1))) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
        goto out_free_dict;
    }
    int k =
        LZ4_decompress_safe((const char *)buf + DICT_HDR, d->raw, (int)(len - DICT_HDR), (int)rlen);
    if (k < 0 || (uint64_t)k != rlen) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: decompression failed", display);
        goto out_free_dict;
    }
    d->view.type = type;
    d->view.n = n;
    if (type == COLOG_T_IP) {
        d->view.ips = d->raw;
        if (!view_sorted(&d->view)) {
            rc = colog_seterr(COLOG_ECORRUPT, "%s: entries not strictly ascending", display);
            goto out_free_dict;
        }
    } else {
        rc = check_strings(&d->view, d->raw, (size_t)rlen, display);
        if (rc < 0)
            goto out_free_dict;
    }
    free(buf);
    *out = d;
    return 0;

out_free_dict:
    colog__dict_free(d);
out_free_buf:
    free(buf);
    return rc;
}

const colog_dictview_t *colog__dict_view(const colog_dictbuf_t *d)
{
    return &d->view;
}

void colog__dict_free(colog_dictbuf_t *d)
{
    if (!d)
        return;
    free(d->raw);
    free(d);
}

uint32_t colog_dict_lower_str(const colog_dictview_t *d, const char *s, size_t len)
{
    if (!d || d->type != COLOG_T_STRING)
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
    if (!d || d->type != COLOG_T_IP)
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
