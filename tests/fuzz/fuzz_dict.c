/*
 * fuzz_dict.c — libFuzzer target: the dictionary file reader (colog__dict_read,
 * and colog__dict_open / _bound / _load, the lazy path of version 2 files) and
 * the lookups over what it returns (colog_dict_lower_str / _ip).
 *
 * Input: byte 0 picks the type (even: ip, odd: string), byte 1 the mode (low
 * two bits), the rest is the file image:
 *
 *   0    raw:   written as it is (magic, version, length and checksum checks);
 *   1    fixed: the checksums are recomputed first. Version 1 (bytes 4..6 not
 *               2): bytes 32..40, XXH3-64 of the whole file with the field
 *               zeroed, seeded with the file seed. Version 2: each block's
 *               (found from the directory, as far as it stays in the file),
 *               the directory's and the header's. With a seed whose blocks
 *               are stored raw this reaches the order and fence checks;
 *   2, 3 built: bytes 40.. are the *raw* payload (n + 1 u32 offsets then the
 *               bytes, or 16-byte ips): the harness LZ4-compresses them, sets
 *               rawlen and clen, then fixes the checksum (version 1). This is
 *               the mode that reaches version 1's offset and order checks.
 *
 * A dictionary that opens must satisfy colog_dictfile.c's invariants 1 and 2:
 * the view's type, offsets within the byte area, entries strictly ascending
 * (bytewise then shorter first; colog_ip_cmp), and every entry found at its own
 * code by the binary searches. Errors must be ENOTCOLOG / EVERSION / ECORRUPT /
 * ENOMEM with a message. The lazy path: the file is also opened with
 * colog__dict_open, probed with colog__dict_bound (lower and upper) for values
 * taken from the input, then loaded. When the load succeeds every probe must
 * have succeeded (a bound checks what the load checks, for one block) with the
 * answer computed here by a linear scan of the loaded view, and a second lazy
 * open must find every entry (up to 64) at its own code. Violations abort, so
 * libFuzzer reports them.
 */
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "colog_storage_int.h"

#define FNAME "fuzz.dict"
#define DICT_HDR 40

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_dict: check failed: %s: ", #cond);                               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

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
    snprintf(g_dir, sizeof g_dir, "%s/colog-fuzz-dict-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL || (g_dirfd = open(g_dir, O_RDONLY | O_DIRECTORY)) < 0) {
        perror("fuzz_dict: temp directory");
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

/* Mode 2/3: compress the raw payload after the header. */
static uint8_t *build(const uint8_t *in, size_t len, size_t *outlen)
{
    if (len < DICT_HDR)
        return NULL;
    size_t raw = len - DICT_HDR;
    size_t cap = DICT_HDR + (size_t)LZ4_compressBound((int)raw);
    uint8_t *out = malloc(cap);
    CHECK(out, "out of memory");
    memcpy(out, in, DICT_HDR);
    int c = LZ4_compress_default((const char *)in + DICT_HDR, (char *)out + DICT_HDR, (int)raw,
                                 (int)(cap - DICT_HDR));
    CHECK(c >= 0 && (raw == 0 || c > 0), "LZ4_compress_default failed");
    colog__put_u64(out + 16, raw);
    colog__put_u64(out + 24, (uint64_t)c);
    *outlen = DICT_HDR + (size_t)c;
    return out;
}

static void fix_sum(uint8_t *f, size_t len, uint64_t seed)
{
    if (len < DICT_HDR)
        return;
    if (colog__get_u16(f + 4) != 2) {
        memset(f + 32, 0, 8);
        colog__put_u64(f + 32, XXH3_64bits_withSeed(f, len, seed));
        return;
    }
    /* version 2: blocks, directory, header (FORMAT.md) */
    uint32_t nb = colog__get_u32(f + 12);
    uint64_t dl = colog__get_u64(f + 16), ent = f[6] == 2 ? 40 : 32;
    if (dl >= 8 && dl <= len - DICT_HDR && ent * nb + 8 <= dl) {
        uint64_t off = DICT_HDR + dl;
        for (uint32_t b = 0; b < nb; b++) {
            uint8_t *e = f + DICT_HDR + ent * b;
            uint32_t cl = colog__get_u32(e + 4);
            if (off + cl <= len)
                colog__put_u64(e + 16, XXH3_64bits_withSeed(f + off, cl, seed ^ b));
            off += cl;
        }
        colog__put_u64(f + DICT_HDR + dl - 8, XXH3_64bits_withSeed(f + DICT_HDR, dl - 8, seed));
    }
    colog__put_u64(f + 32, XXH3_64bits_withSeed(f, 32, seed));
}

static int str_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int c = la && lb ? memcmp(a, b, la < lb ? la : lb) : 0;
    if (c != 0)
        return c;
    return la < lb ? -1 : la > lb;
}

static void check_view(const colog_dictview_t *v, colog_type_t type)
{
    CHECK(v->type == type, "view type %d, asked for %d", (int)v->type, (int)type);
    if (type == COLOG_T_IP) {
        CHECK(v->n == 0 || v->ips != NULL, "no ips");
        for (uint32_t i = 0; i < v->n; i++) {
            if (i > 0)
                CHECK(colog_ip_cmp(&v->ips[i - 1], &v->ips[i]) < 0, "ips not ascending at %u", i);
            CHECK(colog_dict_lower_ip(v, &v->ips[i]) == i, "ip %u not found at its code", i);
        }
        CHECK(colog_dict_lower_str(v, "", 0) == v->n, "string lookup in an ip dictionary");
        return;
    }
    CHECK(v->offs != NULL, "no offsets");
    for (uint32_t i = 0; i < v->n; i++) {
        CHECK(v->offs[i] <= v->offs[i + 1], "offsets decrease at %u", i);
        const char *s = v->bytes + v->offs[i];
        size_t len = v->offs[i + 1] - v->offs[i];
        /* touch every byte (ASan) */
        volatile unsigned sum = 0;
        for (size_t k = 0; k < len; k++)
            sum += (unsigned char)s[k];
        (void)sum;
        if (i > 0) {
            const char *p = v->bytes + v->offs[i - 1];
            CHECK(str_cmp(p, v->offs[i] - v->offs[i - 1], s, len) < 0,
                  "strings not ascending at %u", i);
        }
        CHECK(colog_dict_lower_str(v, s, len) == i, "string %u not found at its code", i);
    }
    colog_ip_t ip = {{0}};
    CHECK(colog_dict_lower_ip(v, &ip) == v->n, "ip lookup in a string dictionary");
    /* a key above every entry */
    char big[8];
    memset(big, 0xff, sizeof big);
    uint32_t k = colog_dict_lower_str(v, big, sizeof big);
    CHECK(k <= v->n, "lower bound %u past n %u", k, v->n);
}

/* ---------------------------------------------------------------- lazy path */

#define NPROBE 12

struct probe {
    colog_ip_t ip;
    char s[32];
    size_t len;
    int rc[2];
    uint32_t pos[2]; /* lower, upper */
};

/* Probe k from the input: 16 bytes (ip) or up to 31 bytes (string) at a spot
 * that depends on k; probe 0 is the smallest value, 1 a large one. */
static void make_probe(struct probe *p, unsigned k, const uint8_t *in, size_t n)
{
    memset(p, 0, sizeof *p);
    if (k == 1) {
        memset(p->ip.b, 0xff, 16);
        memset(p->s, 0xff, 8);
        p->len = 8;
        return;
    }
    if (k == 0 || n == 0)
        return;
    size_t at = (size_t)(((uint64_t)k * 2654435761u) % n);
    size_t m = n - at < 16 ? n - at : 16;
    memcpy(p->ip.b, in + at, m);
    p->len = in[at] % 32;
    if (p->len > n - at - 1)
        p->len = n - at - 1;
    memcpy(p->s, in + at + 1, p->len);
}

/* Entries of v below the value (upper: not above it), by a linear scan. */
static uint32_t scan_bound(const colog_dictview_t *v, const struct probe *p, bool upper)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        int r = v->type == COLOG_T_IP
                    ? colog_ip_cmp(&v->ips[i], &p->ip)
                    : str_cmp(v->bytes + v->offs[i], v->offs[i + 1] - v->offs[i], p->s, p->len);
        c += r < 0 || (upper && r == 0);
    }
    return c;
}

static int bound_of(colog_dictbuf_t *d, colog_type_t type, const struct probe *p, bool upper,
                    uint32_t *pos)
{
    if (type == COLOG_T_IP)
        return colog__dict_bound(d, &p->ip, NULL, 0, upper, pos);
    return colog__dict_bound(d, NULL, p->s, p->len, upper, pos);
}

static void check_err(int rc)
{
    CHECK(rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION || rc == COLOG_ECORRUPT ||
              rc == COLOG_ENOMEM,
          "unexpected error %s: %s", colog_errname(rc), colog_errmsg());
    CHECK(colog_errmsg()[0] != '\0', "error without a message");
}

/* Open lazily, probe, load; compare (see the top of the file). read_rc:
 * what colog__dict_read said of the same file, which open + load must repeat. */
static void check_lazy(colog_type_t type, const uint8_t *in, size_t n, int read_rc)
{
    colog_dictbuf_t *d;
    int rc = colog__dict_open(g_dirfd, FNAME, type, "fuzz/p0/" FNAME, &d);
    if (rc < 0) {
        check_err(rc);
        CHECK(rc == read_rc, "open says %s, read said %s", colog_errname(rc),
              colog_errname(read_rc));
        return;
    }
    struct probe pr[NPROBE];
    for (unsigned k = 0; k < NPROBE; k++) {
        make_probe(&pr[k], k, in, n);
        for (int u = 0; u < 2; u++) {
            pr[k].rc[u] = bound_of(d, type, &pr[k], u, &pr[k].pos[u]);
            if (pr[k].rc[u] < 0)
                check_err(pr[k].rc[u]);
            else
                CHECK(pr[k].pos[u] <= colog__dict_size(d), "bound %u past n %u", pr[k].pos[u],
                      colog__dict_size(d));
        }
    }
    rc = colog__dict_load(d);
    CHECK(rc == read_rc, "open + load say %s, read said %s", colog_errname(rc),
          colog_errname(read_rc));
    if (rc < 0) {
        check_err(rc);
        CHECK(colog__dict_load(d) == rc, "a second load answers differently");
        colog__dict_free(d);
        return;
    }
    const colog_dictview_t *v = colog__dict_view(d);
    CHECK(v->n == colog__dict_size(d), "view n %u, size %u", v->n, colog__dict_size(d));
    check_view(v, type);
    for (unsigned k = 0; k < NPROBE; k++) {
        for (int u = 0; u < 2; u++) {
            CHECK(pr[k].rc[u] == 0, "probe %u failed (%s) on a dictionary that loads", k,
                  colog_errname(pr[k].rc[u]));
            uint32_t want = scan_bound(v, &pr[k], u), now;
            CHECK(pr[k].pos[u] == want, "probe %u (upper %d): lazy %u, loaded view %u", k, u,
                  pr[k].pos[u], want);
            CHECK(bound_of(d, type, &pr[k], u, &now) == 0 && now == want,
                  "probe %u (upper %d): loaded bound %u, view %u", k, u, now, want);
        }
    }
    /* every entry (up to 64, spread out) found lazily at its own code */
    colog_dictbuf_t *l;
    rc = colog__dict_open(g_dirfd, FNAME, type, "fuzz/p0/" FNAME, &l);
    CHECK(rc == 0, "a second open failed: %s", colog_errmsg());
    uint32_t step = v->n / 64 + 1;
    for (uint32_t i = 0; i < v->n; i += step) {
        uint32_t lo = 0, hi = 0;
        int r1, r2;
        if (type == COLOG_T_IP) {
            r1 = colog__dict_bound(l, &v->ips[i], NULL, 0, false, &lo);
            r2 = colog__dict_bound(l, &v->ips[i], NULL, 0, true, &hi);
        } else {
            const char *e = v->bytes + v->offs[i];
            size_t el = v->offs[i + 1] - v->offs[i];
            r1 = colog__dict_bound(l, NULL, e, el, false, &lo);
            r2 = colog__dict_bound(l, NULL, e, el, true, &hi);
        }
        CHECK(r1 == 0 && r2 == 0, "lazy bound of entry %u failed: %s", i, colog_errmsg());
        CHECK(lo == i && hi == i + 1, "entry %u: lazy bounds %u, %u", i, lo, hi);
    }
    colog__dict_free(l);
    colog__dict_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    colog_type_t type = data[0] & 1 ? COLOG_T_STRING : COLOG_T_IP;
    unsigned mode = data[1] & 3;
    data += 2;
    size -= 2;
    uint8_t *img = NULL;
    size_t len = size;
    if (mode >= 2)
        img = build(data, size, &len);
    if (img == NULL) {
        len = size;
        img = malloc(size ? size : 1);
        CHECK(img, "out of memory");
        memcpy(img, data, size);
    }
    if (mode != 0)
        fix_sum(img, len, colog__file_seed(FNAME));
    put_file(img, len);
    free(img);

    colog_dictbuf_t *d;
    int rc = colog__dict_read(g_dirfd, FNAME, type, "fuzz/p0/" FNAME, &d);
    if (g_verbose)
        fprintf(stderr, "fuzz_dict: %s: %s\n", rc < 0 ? colog_errname(rc) : "opened",
                rc < 0 ? colog_errmsg() : "");
    if (rc < 0) {
        check_err(rc);
    } else {
        check_view(colog__dict_view(d), type);
        colog__dict_free(d);
    }
    check_lazy(type, data, size, rc);
    return 0;
}
