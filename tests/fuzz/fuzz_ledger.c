/*
 * fuzz_ledger.c — libFuzzer target: the ledger reader and replay
 * (colog__ledger_load, colog__ledger_replay, colog__lfield, colog__lstate_find),
 * the writer's open and append on the same file (colog__ledger_open: torn-tail
 * cut, genesis and last-line checks), colog_ledger_head, and the
 * percent-encoding (colog__lenc / colog__ldec).
 *
 * Input: byte 0 is the mode, the rest is the ledger file (written to
 * TMPDIR/colog-fuzz-ledger-XXXXXX/ledger).
 *   bit 0  load and open with the fixed key FUZZ_KEY (bytes 0x00..0x1f), else
 *          without a key;
 *   bit 1  fix the chain first: in every line that ends with " prev=HEX64
 *          hash=HEX64", prev is set to the previous such line's hash (zeros for
 *          the first) and hash is recomputed (HMAC with FUZZ_KEY under bit 0),
 *          so that mutations get past the hashes to the syntax and replay checks;
 *   bit 2  also open the file as the writer does, and append to it.
 *
 * Properties (abort on violation):
 *  - load returns 0 (an existing regular file is always readable); the view's
 *    entries are lines of the buffer, each ending at a '\n', in file order,
 *    with a kind of 1..15 bytes; with no problem reported the file is not empty,
 *    ends with '\n', every line is an entry, seqs are 0..n-1, each prev is the
 *    previous hash and entry 0 is a genesis;
 *  - lfield results are a length with a NUL at it, -ENOENT, EPARSE or ELIMIT;
 *  - replay returns 0; parts are strictly ascending by (day, id) and each is
 *    found by lstate_find; holds are strictly ascending by id, below
 *    next_hold_id, with from <= to and a reason of 1..511 bytes without NUL;
 *  - a view without problems whose hashes were checked opens for writing; an
 *    open that fails says why with ECORRUPT / EVERSION / EINVAL; after an open
 *    the file ends with '\n', and an appended entry loads back with no more
 *    problems than before and one more entry; without a key, a clean view's
 *    last entry is what colog_ledger_head reports;
 *  - lenc then ldec gives back the input's first line (as a C string); ldec
 *    of the raw input, when it succeeds, is re-encoded to exactly the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colog_ledger.h"
#include "colog_storage_int.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_ledger: check failed: %s: ", #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char g_dir[4096];
static int g_dirfd = -1;
static bool g_verbose;
static uint8_t FUZZ_KEY[32];

static void cleanup(void)
{
    if (g_dirfd >= 0) {
        unlinkat(g_dirfd, COLOG_LEDGER_FILE, 0);
        unlinkat(g_dirfd, ".tmp-" COLOG_LEDGER_FILE, 0);
        close(g_dirfd);
        rmdir(g_dir);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_verbose = getenv("COLOG_FUZZ_VERBOSE") != NULL;
    for (int i = 0; i < 32; i++)
        FUZZ_KEY[i] = (uint8_t)i;
    CHECK(sodium_init() >= 0, "libsodium");
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/colog-fuzz-ledger-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL || (g_dirfd = open(g_dir, O_RDONLY | O_DIRECTORY)) < 0) {
        perror("fuzz_ledger: temp directory");
        exit(1);
    }
    atexit(cleanup);
    return 0;
}

static void put_file(const uint8_t *p, size_t n)
{
    int fd = openat(g_dirfd, COLOG_LEDGER_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open: %s", strerror(errno));
    CHECK(colog__write_all(fd, p, n) == 0, "write failed");
    close(fd);
}

static size_t file_size(void)
{
    off_t n;
    int fd = openat(g_dirfd, COLOG_LEDGER_FILE, O_RDONLY);
    CHECK(fd >= 0, "open: %s", strerror(errno));
    n = lseek(fd, 0, SEEK_END);
    close(fd);
    return (size_t)n;
}

static bool last_byte_is_nl(void)
{
    char c = 0;
    int fd = openat(g_dirfd, COLOG_LEDGER_FILE, O_RDONLY);
    CHECK(fd >= 0, "open: %s", strerror(errno));
    off_t n = lseek(fd, 0, SEEK_END);
    bool ok = n > 0 && pread(fd, &c, 1, n - 1) == 1 && c == '\n';
    close(fd);
    return ok;
}

/* Mode bit 1: relink and rehash every line that has the fixed tail. */
static void fix_chain(uint8_t *b, size_t len, const uint8_t *key)
{
    uint8_t prev[32] = {0}, h[32];
    char hex[65];
    size_t pos = 0;
    while (pos < len) {
        uint8_t *nl = memchr(b + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (b + pos)) : len - pos;
        char *s = (char *)b + pos;
        if (n >= 140 && memcmp(s + n - 140, " prev=", 6) == 0 &&
            memcmp(s + n - 70, " hash=", 6) == 0) {
            colog__hex(prev, 32, hex);
            memcpy(s + n - 134, hex, 64);
            if (key)
                crypto_auth_hmacsha256(h, (uint8_t *)s, n - 70, key);
            else
                crypto_hash_sha256(h, (uint8_t *)s, n - 70);
            colog__hex(h, 32, hex);
            memcpy(s + n - 64, hex, 64);
            memcpy(prev, h, 32);
        }
        pos += n + 1;
    }
}

static void count_problem(void *ctx, const char *msg)
{
    uint64_t *n = ctx;
    (*n)++;
    CHECK(strncmp(msg, "ledger: ", 8) == 0, "problem without the file name: %s", msg);
    if (g_verbose)
        fprintf(stderr, "fuzz_ledger: problem: %s\n", msg);
}

static void check_view(const colog_lview_t *v, uint64_t nprob)
{
    size_t nlines = 0;
    for (size_t i = 0; i < v->len; i++)
        nlines += v->buf[i] == '\n';
    CHECK(v->n <= nlines, "%zu entries, %zu lines", v->n, nlines);
    const char *base = (const char *)v->buf, *prev_end = base;
    for (size_t i = 0; i < v->n; i++) {
        const colog_lentry_t *e = &v->e[i];
        CHECK(e->line >= prev_end && e->len >= 145 && e->len < COLOG_LEDGER_LINE_MAX &&
                  (size_t)(e->line - base) + e->len < v->len && e->line[e->len] == '\n',
              "entry %zu is not a line of the file", i);
        CHECK(e->line == base || e->line[-1] == '\n', "entry %zu does not start a line", i);
        size_t kl = strnlen(e->kind, sizeof e->kind);
        CHECK(kl >= 1 && kl < sizeof e->kind, "entry %zu: kind of %zu bytes", i, kl);
        prev_end = e->line + e->len + 1;
    }
    if (nprob == 0) {
        CHECK(v->len == 0 ? false : v->buf[v->len - 1] == '\n' && v->n == nlines,
              "no problem, but %zu entries of %zu lines", v->n, nlines);
        CHECK(strcmp(v->e[0].kind, "genesis") == 0, "no problem, but no genesis");
        for (size_t i = 0; i < v->n; i++) {
            CHECK(v->e[i].seq == i, "no problem, but entry %zu has seq %llu", i,
                  (unsigned long long)v->e[i].seq);
            CHECK(i == 0 || memcmp(v->e[i].prev, v->e[i - 1].hash, 32) == 0,
                  "no problem, but entry %zu does not chain", i);
        }
    }
}

static void check_fields(const colog_lview_t *v)
{
    static const char *keys[] = {"op", "day", "part", "sup", "reason", "id", "of", "x"};
    char out[600];
    for (size_t i = 0; i < v->n && i < 64; i++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            int rc = colog__lfield(v->e[i].line, v->e[i].len, keys[k], out, sizeof out);
            CHECK(rc >= 0 || rc == -ENOENT || rc == COLOG_EPARSE || rc == COLOG_ELIMIT,
                  "lfield: %s", colog_errname(rc));
            if (rc >= 0)
                CHECK((size_t)rc < sizeof out && out[rc] == '\0', "lfield: no NUL at %d", rc);
        }
}

static void check_state(const colog_lstate_t *s)
{
    for (size_t i = 0; i < s->nparts; i++) {
        const colog_lpart_t *p = &s->parts[i];
        if (i)
            CHECK(s->parts[i - 1].day < p->day ||
                      (s->parts[i - 1].day == p->day && s->parts[i - 1].id < p->id),
                  "parts not strictly ascending at %zu", i);
        CHECK(colog__lstate_find(s, p->day, p->id) == p, "part %zu not found", i);
        CHECK(p->tier == COLOG_TIER_HOT || p->tier == COLOG_TIER_COLD, "tier %d", (int)p->tier);
    }
    for (size_t i = 0; i < s->nholds; i++) {
        const colog_hold_t *h = &s->holds[i];
        size_t rl = strnlen(h->reason, sizeof h->reason);
        CHECK(i == 0 || s->holds[i - 1].id < h->id, "holds not ascending at %zu", i);
        CHECK(h->id >= 1 && h->id < s->next_hold_id, "hold id %llu, next %llu",
              (unsigned long long)h->id, (unsigned long long)s->next_hold_id);
        CHECK(h->from <= h->to, "hold %llu: from > to", (unsigned long long)h->id);
        CHECK(rl >= 1 && rl < sizeof h->reason, "hold reason of %zu bytes", rl);
    }
}

static void check_encoding(const uint8_t *data, size_t size)
{
    char s[1024], enc[3 * 1024 + 1], dec[1024];
    size_t n = 0;
    while (n < size && n < sizeof s - 1 && data[n] != '\0' && data[n] != '\n')
        n++;
    memcpy(s, data, n);
    s[n] = '\0';
    int k = colog__lenc(s, enc, sizeof enc);
    CHECK(k >= 1, "lenc: %s", colog_errmsg());
    int m = colog__ldec(enc, (size_t)k, dec, sizeof dec);
    CHECK(m == (int)n && memcmp(dec, s, n + 1) == 0, "ldec(lenc(x)) != x");
    /* the raw bytes as an encoded value: only the canonical form decodes */
    m = colog__ldec(s, n, dec, sizeof dec);
    CHECK(m >= 0 || m == COLOG_EPARSE, "ldec: %s", colog_errname(m));
    if (m >= 0) {
        k = colog__lenc(dec, enc, sizeof enc);
        CHECK(k == (int)n && memcmp(enc, s, n) == 0, "lenc(ldec(x)) != x");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    const uint8_t *key = mode & 1 ? FUZZ_KEY : NULL;
    uint8_t *buf = malloc(size ? size : 1);
    CHECK(buf, "out of memory");
    memcpy(buf, data, size);
    if (mode & 2)
        fix_chain(buf, size, key);
    put_file(buf, size);
    free(buf);
    check_encoding(data, size);

    colog_lview_t *v = NULL;
    uint64_t nprob = 0, counted = 0;
    int rc = colog__ledger_load(g_dirfd, NULL, key, count_problem, &counted, &v, &nprob);
    CHECK(rc == 0, "load: %s: %s", colog_errname(rc), colog_errmsg());
    CHECK(nprob == counted, "%llu problems counted, %llu reported", (unsigned long long)nprob,
          (unsigned long long)counted);
    check_view(v, nprob);
    check_fields(v);

    colog_lstate_t s;
    uint64_t rprob = 0;
    rc = colog__ledger_replay(v, NULL, NULL, &s, &rprob);
    CHECK(rc == 0, "replay: %s: %s", colog_errname(rc), colog_errmsg());
    check_state(&s);
    colog__lstate_clear(&s);

    if (nprob == 0 && !key) {
        uint64_t seq;
        char hex[65], want[65];
        rc = colog_ledger_head(g_dir, &seq, hex);
        CHECK(rc == 0, "head of a clean ledger: %s", colog_errmsg());
        colog__hex(v->e[v->n - 1].hash, 32, want);
        CHECK(seq == v->e[v->n - 1].seq && strcmp(hex, want) == 0, "head is not the last entry");
    }

    if (mode & 4) {
        bool clean = nprob == 0 && v->macs_checked;
        size_t n0 = v->n;
        colog_ledger_t *l = NULL;
        rc = colog__ledger_open(g_dirfd, NULL, key, &l);
        if (g_verbose)
            fprintf(stderr, "fuzz_ledger: open: %s: %s\n", colog_errname(rc),
                    rc ? colog_errmsg() : "");
        CHECK(rc == 0 || !clean, "a clean ledger does not open: %s", colog_errmsg());
        if (rc < 0) {
            CHECK(rc == COLOG_ECORRUPT || rc == COLOG_EVERSION || rc == COLOG_EINVAL,
                  "open: unexpected %s: %s", colog_errname(rc), colog_errmsg());
            CHECK(colog_errmsg()[0] != '\0', "open failed without a message");
        } else {
            CHECK(last_byte_is_nl(), "opened, but the file does not end with a newline");
            size_t before = file_size();
            uint64_t seq;
            rc = colog__ledger_append(l, "fuzz", "x=1 reason=%20", 1, &seq);
            CHECK(rc == 0, "append: %s", colog_errmsg());
            CHECK(file_size() > before, "append wrote nothing");
            colog__ledger_close(l);
            if (clean) {
                colog_lview_t *w;
                uint64_t np2 = 0;
                rc = colog__ledger_load(g_dirfd, NULL, key, NULL, NULL, &w, &np2);
                CHECK(rc == 0 && np2 == 0 && w->n == n0 + 1 && w->e[n0].seq == seq,
                      "append to a clean ledger: %llu problems, %zu entries",
                      (unsigned long long)np2, w->n);
                colog__lview_free(w);
            }
        }
    }
    colog__lview_free(v);
    return 0;
}
