/*
 * fuzz_dict.c — libFuzzer target: the dictionary file reader (colog__dict_read)
 * and the lookups over what it returns (colog_dict_lower_str / _ip).
 *
 * Input: byte 0 picks the type (even: ip, odd: string), byte 1 the mode (low
 * two bits), the rest is the file image:
 *
 *   0    raw:   written as it is (magic, version, length and checksum checks);
 *   1    fixed: the checksum (bytes 32..40, XXH3-64 of the whole file with the
 *               field zeroed, seeded with the file seed) is recomputed first;
 *   2, 3 built: bytes 40.. are the *raw* payload (n + 1 u32 offsets then the
 *               bytes, or 16-byte ips): the harness LZ4-compresses them, sets
 *               rawlen and clen, then fixes the checksum. This is the mode that
 *               reaches the offset and order checks.
 *
 * A dictionary that opens must satisfy colog_dictfile.c's invariants 1 and 2:
 * the view's type, offsets within the byte area, entries strictly ascending
 * (bytewise then shorter first; colog_ip_cmp), and every entry found at its own
 * code by the binary searches. Errors must be ENOTCOLOG / EVERSION / ECORRUPT /
 * ENOMEM with a message. Violations abort, so libFuzzer reports them.
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
    memset(f + 32, 0, 8);
    colog__put_u64(f + 32, XXH3_64bits_withSeed(f, len, seed));
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
        CHECK(rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION || rc == COLOG_ECORRUPT ||
                  rc == COLOG_ENOMEM,
              "unexpected error %s: %s", colog_errname(rc), colog_errmsg());
        CHECK(colog_errmsg()[0] != '\0', "error without a message");
        return 0;
    }
    check_view(colog__dict_view(d), type);
    colog__dict_free(d);
    return 0;
}
