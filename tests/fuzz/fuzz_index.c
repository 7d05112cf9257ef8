/*
 * fuzz_index.c — libFuzzer target: the bitmap index reader (colog__idxr_*):
 * header and key table at open, Rice and Roaring postings in or_range.
 *
 * Input: byte 0 picks the column type (byte % 7 of ip, string, u8, u16, u32,
 * u64, i64: the types that can be indexed), byte 1 the mode (bit 0), the rest
 * is the file image, whose header's nrows field (bytes 16..24) is passed to
 * colog__idxr_open as the part's rows:
 *
 *   0  raw:   written as it is;
 *   1  fixed: every checksum is recomputed first, following the layout of
 *             storage/colog_index.c (header 48 bytes with its XXH3-64 at 40,
 *             version at 4; key table of table_len bytes (header 24..32) at 48,
 *             its last 8 bytes the XXH3-64 of the rest; chunk directory at the
 *             start of the table, 16 bytes a chunk in version 1, 40 in version
 *             2 (first key index, length, XXH3-64 seeded with file seed ^ chunk,
 *             then in version 2 first key and bit offsets), chunks back to back
 *             after the table). Keep this in step with that file.
 *
 * Properties checked on a file that opens (abort on violation): keys strictly
 * ascending in the column's order, each found at its own index by
 * colog__idxr_lower, cardinalities >= 1 adding up to at most nrows; each
 * single-key or_range gives exactly the key's cardinality, all rows < nrows;
 * when the whole range reads, every single key reads too and their union is
 * the whole range's result (this compares the flat-bitset and the Roaring
 * paths of or_range); a failing or_range leaves the caller's bitmap as it was;
 * bad ranges are COLOG_EINVAL. Errors are ENOTCOLOG / EVERSION / ECORRUPT /
 * ENOMEM with a message.
 *
 * Lazy decoding (version 2): before colog__idxr_load, colog__idxr_range on
 * keys from the input and near the directory's first keys, colog__idxr_last_key
 * and colog__idxr_or_range of a few key ranges; then load. When a lazy call
 * and the load both succeed, the lazy result must equal the loaded reader's
 * (range also against lower and card), and a second load must agree.
 */
#include <errno.h>
#include <fcntl.h>
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "colog_storage_int.h"

#define FNAME "fuzz.idx"
#define HDR 48
#define DIR_ENT 16  /* version 1 */
#define DIR_ENT2 40 /* version 2 */
#define NPROBES 8   /* lazy range probes */
#define NLAZY_OR 3  /* lazy or_range probes */
#define TAB_SUM 8
#define MAX_SINGLES 64   /* keys checked one by one */
#define MARK 0xfffffff0u /* a row no fuzzed part reaches: marks the caller's bitmap */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_index: check failed: %s: ", #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const colog_type_t idx_types[] = {COLOG_T_IP,  COLOG_T_STRING, COLOG_T_U8, COLOG_T_U16,
                                         COLOG_T_U32, COLOG_T_U64,    COLOG_T_I64};

static char g_dir[4096];
static int g_dirfd = -1;
static bool g_verbose; /* COLOG_FUZZ_VERBOSE set: say what each input did */

static void cleanup(void)
{
    if (g_dirfd < 0)
        return;
    unlinkat(g_dirfd, FNAME, 0);
    close(g_dirfd);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_verbose = getenv("COLOG_FUZZ_VERBOSE") != NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/colog-fuzz-index-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL || (g_dirfd = open(g_dir, O_RDONLY | O_DIRECTORY)) < 0) {
        perror("fuzz_index: temp directory");
        exit(1);
    }
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

static void fix_sums(uint8_t *f, size_t len, uint64_t seed)
{
    if (len < HDR)
        return;
    uint64_t tlen = colog__get_u64(f + 24);
    if (tlen >= TAB_SUM && tlen <= len - HDR) {
        uint8_t *t = f + HDR;
        uint32_t nchunks = colog__get_u32(f + 12);
        uint64_t off = HDR + tlen, dent = colog__get_u16(f + 4) == 2 ? DIR_ENT2 : DIR_ENT;
        for (uint32_t c = 0; c < nchunks && dent * (c + 1) <= tlen - TAB_SUM; c++) {
            uint8_t *d = t + (size_t)(c * dent);
            uint32_t clen = colog__get_u32(d + 4);
            if (clen > len - off)
                break;
            colog__put_u64(d + 8, XXH3_64bits_withSeed(f + off, clen, seed ^ c));
            off += clen;
        }
        colog__put_u64(t + tlen - TAB_SUM, XXH3_64bits_withSeed(t, tlen - TAB_SUM, seed));
    }
    colog__put_u64(f + 40, XXH3_64bits_withSeed(f, 40, seed));
}

static void check_error(int rc)
{
    if (g_verbose)
        fprintf(stderr, "fuzz_index: %s: %s\n", colog_errname(rc), colog_errmsg());
    CHECK(rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION || rc == COLOG_ECORRUPT ||
              rc == COLOG_ENOMEM,
          "unexpected error %s: %s", colog_errname(rc), colog_errmsg());
    CHECK(colog_errmsg()[0] != '\0', "error %s without a message", colog_errname(rc));
}

static roaring_bitmap_t *marked(void)
{
    roaring_bitmap_t *b = roaring_bitmap_create();
    CHECK(b, "out of memory");
    roaring_bitmap_add(b, MARK);
    return b;
}

/* or_range(i, j) into a marked bitmap (when no row of the part can be the
 * mark); NULL if it failed, after checking that the bitmap was left alone.
 * The result has the mark removed. */
static roaring_bitmap_t *range(const colog_idxr_t *r, uint32_t i, uint32_t j, uint64_t nrows)
{
    bool mark = nrows <= MARK;
    roaring_bitmap_t *b = mark ? marked() : roaring_bitmap_create();
    CHECK(b, "out of memory");
    int rc = colog__idxr_or_range(r, i, j, b);
    if (rc < 0) {
        check_error(rc);
        CHECK(roaring_bitmap_get_cardinality(b) == (mark ? 1 : 0),
              "a failed or_range %u..%u changed the caller's bitmap", i, j);
        roaring_bitmap_free(b);
        return NULL;
    }
    if (mark) {
        CHECK(roaring_bitmap_contains(b, MARK), "or_range %u..%u lost the caller's rows", i, j);
        roaring_bitmap_remove(b, MARK);
    }
    if (!roaring_bitmap_is_empty(b))
        CHECK(roaring_bitmap_maximum(b) < nrows, "or_range %u..%u: row %u of %llu", i, j,
              roaring_bitmap_maximum(b), (unsigned long long)nrows);
    return b;
}

/* What the lazy calls gave before the load. */
struct lazy {
    int nprobe;
    uint64_t lo[NPROBES], hi[NPROBES], sum[NPROBES];
    uint32_t i[NPROBES], j[NPROBES];
    bool ok[NPROBES];
    bool last_ok;
    uint64_t last;
    uint32_t ori[NLAZY_OR], orj[NLAZY_OR];
    roaring_bitmap_t * or [NLAZY_OR]; /* NULL: failed */
};

static uint64_t next_h(uint64_t h)
{
    return h * 6364136223846793005ull + 1442695040888963407ull;
}

/* A probe key: near a directory first key of the image (version 2), small,
 * or any. */
static uint64_t probe_key(const uint8_t *img, size_t size, uint64_t h)
{
    uint64_t tlen = size >= HDR ? colog__get_u64(img + 24) : 0;
    uint32_t nc = size >= HDR ? colog__get_u32(img + 12) : 0;
    if (h % 3 == 0 && size >= HDR && colog__get_u16(img + 4) == 2 && nc > 0 && tlen <= size - HDR) {
        uint32_t c = (uint32_t)((h >> 8) % nc);
        if ((uint64_t)DIR_ENT2 * (c + 1) <= tlen)
            return colog__get_u64(img + HDR + (size_t)DIR_ENT2 * c + 16) + (h >> 40) % 3 - 1;
    }
    return h % 3 == 1 ? (h >> 16) % 1024 : h;
}

/* The lazy calls on a fresh reader. */
static void lazy_probe(const colog_idxr_t *r, colog_type_t type, uint64_t nrows, const uint8_t *img,
                       size_t size, uint64_t h, struct lazy *z)
{
    uint64_t flip = type == COLOG_T_I64 ? 1ull << 63 : 0;
    uint32_t nk = colog__idxr_nkeys(r);
    int rc = colog__idxr_last_key(r, &z->last);
    if (nk == 0)
        CHECK(rc == COLOG_EINVAL, "last_key of no keys: %d", rc);
    else if (rc < 0)
        check_error(rc);
    z->last_ok = nk > 0 && rc == 0;
    for (int p = 0; p < NPROBES; p++) {
        h = next_h(h);
        uint64_t lo = probe_key(img, size, h), hi = p % 2 ? lo : probe_key(img, size, next_h(h));
        if ((lo ^ flip) > (hi ^ flip)) {
            uint64_t x = lo;
            lo = hi;
            hi = x;
        }
        z->lo[p] = lo;
        z->hi[p] = hi;
        rc = colog__idxr_range(r, lo, hi, &z->i[p], &z->j[p], &z->sum[p]);
        if (rc < 0)
            check_error(rc);
        else
            CHECK(z->i[p] <= z->j[p] && z->j[p] <= nk, "range [%u, %u) of %u keys", z->i[p],
                  z->j[p], nk);
        z->ok[p] = rc == 0;
    }
    z->nprobe = NPROBES;
    for (int p = 0; p < NLAZY_OR && nk > 0; p++) {
        h = next_h(h);
        uint32_t i = (uint32_t)((h >> 33) % nk),
                 j = i + 1 + (uint32_t)((h >> 13) % (p ? 4 : nk - i));
        z->ori[p] = i;
        z->orj[p] = j > nk ? nk : j;
        z->or [p] = range(r, z->ori[p], z->orj[p], nrows);
    }
}

/* After a successful load: the lazy results that succeeded are the loaded
 * ones. */
static void lazy_check(const colog_idxr_t *r, colog_type_t type, uint64_t nrows, struct lazy *z)
{
    uint64_t flip = type == COLOG_T_I64 ? 1ull << 63 : 0;
    uint32_t nk = colog__idxr_nkeys(r);
    uint64_t last;
    if (nk > 0) {
        CHECK(colog__idxr_last_key(r, &last) == 0, "loaded last_key failed: %s", colog_errmsg());
        CHECK(last == colog__idxr_key(r, nk - 1), "loaded last_key");
        CHECK(!z->last_ok || z->last == last, "lazy last key %llx, loaded %llx",
              (unsigned long long)z->last, (unsigned long long)last);
    }
    for (int p = 0; p < z->nprobe; p++) {
        uint32_t i, j;
        uint64_t sum;
        CHECK(colog__idxr_range(r, z->lo[p], z->hi[p], &i, &j, &sum) == 0,
              "loaded range failed: %s", colog_errmsg());
        uint32_t wi = colog__idxr_lower(r, z->lo[p]);
        uint32_t wj = (z->hi[p] ^ flip) == UINT64_MAX ? nk : colog__idxr_lower(r, z->hi[p] + 1);
        uint64_t wsum = 0;
        for (uint32_t k = wi; k < wj; k++)
            wsum += colog__idxr_card(r, k);
        CHECK(i == wi && j == wj && sum == wsum, "loaded range [%u, %u) %llu, want [%u, %u) %llu",
              i, j, (unsigned long long)sum, wi, wj, (unsigned long long)wsum);
        if (z->ok[p])
            CHECK(z->i[p] == i && z->j[p] == j && z->sum[p] == sum,
                  "lazy range [%u, %u) %llu, loaded [%u, %u) %llu", z->i[p], z->j[p],
                  (unsigned long long)z->sum[p], i, j, (unsigned long long)sum);
    }
    for (int p = 0; p < NLAZY_OR; p++) {
        if (!z->or [p])
            continue;
        roaring_bitmap_t *b = range(r, z->ori[p], z->orj[p], nrows);
        if (b) {
            CHECK(roaring_bitmap_equals(b, z->or [p]), "lazy or_range %u..%u differs from loaded",
                  z->ori[p], z->orj[p]);
            roaring_bitmap_free(b);
        }
    }
}

static void lazy_free(struct lazy *z)
{
    for (int p = 0; p < NLAZY_OR; p++)
        if (z->or [p])
            roaring_bitmap_free(z->or [p]);
}

static void read_index(colog_type_t type, uint64_t nrows, uint64_t h, const uint8_t *img,
                       size_t size)
{
    colog_idxr_t *r;
    int rc = colog__idxr_open(&r, g_dirfd, FNAME, type, nrows, "fuzz/p0/" FNAME);
    if (rc < 0) {
        check_error(rc);
        return;
    }
    struct lazy z = {0};
    lazy_probe(r, type, nrows, img, size, h, &z);
    rc = colog__idxr_load(r);
    if (rc < 0) {
        check_error(rc);
        CHECK(colog__idxr_load(r) == rc, "a second load differs");
        lazy_free(&z);
        colog__idxr_close(r);
        return;
    }
    CHECK(colog__idxr_load(r) == 0, "a second load failed");
    lazy_check(r, type, nrows, &z);
    lazy_free(&z);
    uint64_t flip = type == COLOG_T_I64 ? 1ull << 63 : 0;
    uint32_t nk = colog__idxr_nkeys(r);
    if (g_verbose)
        fprintf(stderr, "fuzz_index: opened, %u keys, %llu rows\n", nk, (unsigned long long)nrows);
    uint64_t total = 0;
    for (uint32_t i = 0; i < nk; i++) {
        uint64_t k = colog__idxr_key(r, i), c = colog__idxr_card(r, i);
        CHECK(c >= 1, "key %u: cardinality 0", i);
        total += c;
        if (i > 0)
            CHECK((colog__idxr_key(r, i - 1) ^ flip) < (k ^ flip), "keys not ascending at %u", i);
        if (colog_type_is_unsigned(type))
            CHECK(k <= colog_type_umax(type), "key %u out of range", i);
        else if (type != COLOG_T_I64)
            CHECK(k <= UINT32_MAX, "code key %u out of range", i);
        CHECK(colog__idxr_lower(r, k) == i, "key %u not found at its index", i);
    }
    CHECK(total <= nrows, "cardinalities add up to %llu of %llu rows", (unsigned long long)total,
          (unsigned long long)nrows);
    CHECK(colog__idxr_lower(r, UINT64_MAX ^ flip) <= nk, "lower past nkeys");

    roaring_bitmap_t *b = marked();
    CHECK(colog__idxr_or_range(r, 0, nk + 1, b) == COLOG_EINVAL, "range past nkeys");
    if (nk > 0)
        CHECK(colog__idxr_or_range(r, 1, 0, b) == COLOG_EINVAL, "range backwards");
    CHECK(colog__idxr_or_range(r, nk, nk, b) == 0, "empty range");
    CHECK(roaring_bitmap_get_cardinality(b) == 1, "bad ranges changed the bitmap");
    roaring_bitmap_free(b);
    if (nk == 0) {
        colog__idxr_close(r);
        return;
    }

    roaring_bitmap_t *all = range(r, 0, nk, nrows);
    roaring_bitmap_t *uni = roaring_bitmap_create();
    CHECK(uni, "out of memory");
    bool all_singles = nk <= MAX_SINGLES, singles_ok = true;
    for (uint32_t i = 0; i < nk; i++) {
        if (!all_singles && i >= MAX_SINGLES / 2 && i < nk - MAX_SINGLES / 2)
            continue;
        roaring_bitmap_t *s = range(r, i, i + 1, nrows);
        if (s == NULL) {
            singles_ok = false;
            CHECK(all == NULL, "key %u fails alone but the whole range reads", i);
            continue;
        }
        CHECK(roaring_bitmap_get_cardinality(s) == colog__idxr_card(r, i),
              "key %u: %llu rows, the table says %llu", i,
              (unsigned long long)roaring_bitmap_get_cardinality(s),
              (unsigned long long)colog__idxr_card(r, i));
        roaring_bitmap_or_inplace(uni, s);
        roaring_bitmap_free(s);
    }
    if (all) {
        CHECK(roaring_bitmap_get_cardinality(all) <= total, "whole range has more rows than keys");
        if (all_singles && singles_ok)
            CHECK(roaring_bitmap_equals(all, uni), "whole range differs from its keys' union");
        roaring_bitmap_free(all);
    }
    roaring_bitmap_free(uni);

    /* a few ranges picked by the input */
    for (int t = 0; t < 3; t++, h = h * 6364136223846793005ull + 1442695040888963407ull) {
        uint32_t i = (uint32_t)((h >> 33) % nk), j = i + 1 + (uint32_t)((h >> 13) % (nk - i));
        roaring_bitmap_t *s = range(r, i, j, nrows);
        if (s)
            roaring_bitmap_free(s);
    }
    colog__idxr_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    colog_type_t type = idx_types[data[0] % (sizeof idx_types / sizeof idx_types[0])];
    unsigned mode = data[1] & 1;
    data += 2;
    size -= 2;
    uint8_t *img = malloc(size ? size : 1);
    CHECK(img, "out of memory");
    memcpy(img, data, size);
    if (mode)
        fix_sums(img, size, colog__file_seed(FNAME));
    uint64_t nrows = size >= 24 ? colog__get_u64(img + 16) : 0;
    put_file(img, size);
    read_index(type, nrows, XXH3_64bits(data, size), img, size);
    free(img);
    return 0;
}
