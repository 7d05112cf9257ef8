/*
 * fuzz_archive.c — libFuzzer target: day archives (colog_archive_verify): tar
 * reading through libarchive, the index parser, member bookkeeping, manifest
 * decoding, the ledger member's line checks, and the block checks of the column
 * files verify extracts.
 *
 * Input: the archive file's bytes as they are. No checksum is fixed first: a
 * damaged index hash, member hash or ledger hash is a reported problem, not a
 * stop, so mutations reach every check behind them. The input is written to
 * in.tar in a directory of the target's own under $TMPDIR, and TMPDIR is
 * pointed at that directory, so the temp directories verify makes land there.
 *
 * Properties (abort on violation): the result is 0, ECORRUPT, ENOTCOLOG,
 * EVERSION or ENOMEM; ECORRUPT if and only if problems were reported, each one
 * non-empty line; a failure has a message and leaves info untouched; success
 * fills info with the input's size and SHA-256; nothing but in.tar is left in
 * the directory afterwards.
 */
#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colog_storage_int.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_archive: check failed: %s: ", #cond);                            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char work[4096];
static char input[4200];

static void cleanup(void)
{
    if (work[0]) {
        unlink(input);
        rmdir(work);
    }
}

static void init_once(void)
{
    if (work[0])
        return;
    const char *t = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/fuzz_archive.XXXXXX", t && *t ? t : "/tmp");
    CHECK(mkdtemp(work) != NULL, "mkdtemp %s", work);
    snprintf(input, sizeof input, "%s/in.tar", work);
    CHECK(setenv("TMPDIR", work, 1) == 0, "setenv");
    CHECK(sodium_init() >= 0, "sodium_init");
    atexit(cleanup);
}

typedef struct probs {
    unsigned n;
} probs_t;

static void on_problem(void *ctx, const char *msg)
{
    probs_t *p = ctx;
    CHECK(msg != NULL && msg[0] != '\0', "empty problem");
    CHECK(strchr(msg, '\n') == NULL, "problem with a newline: %s", msg);
    p->n++;
    if (getenv("COLOG_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_archive:   %s\n", msg);
}

/* Only in.tar may remain in the work directory. */
static void check_clean(void)
{
    DIR *d = opendir(work);
    CHECK(d != NULL, "opendir %s", work);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        CHECK(!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "in.tar"),
              "left behind: %s", e->d_name);
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    FILE *f = fopen(input, "wb");
    CHECK(f != NULL, "fopen %s", input);
    CHECK(size == 0 || fwrite(data, 1, size, f) == size, "fwrite");
    CHECK(fclose(f) == 0, "fclose");

    probs_t pr = {0};
    colog_archive_info_t info, untouched;
    memset(&info, 0xa5, sizeof info);
    memcpy(&untouched, &info, sizeof info);
    int rc = colog_archive_verify(input, on_problem, &pr, &info);
    if (getenv("COLOG_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_archive: %s: %s (%u problems)\n", rc < 0 ? colog_errname(rc) : "ok",
                rc < 0 ? colog_errmsg() : "", pr.n);
    if (rc < 0) {
        CHECK(rc == COLOG_ECORRUPT || rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION ||
                  rc == COLOG_ENOMEM,
              "unexpected error %s: %s", colog_errname(rc), colog_errmsg());
        CHECK(colog_errmsg()[0] != '\0', "error without a message");
        CHECK(memcmp(&info, &untouched, sizeof info) == 0, "a failed verify wrote its output");
        CHECK((rc == COLOG_ECORRUPT) == (pr.n > 0) || rc == COLOG_ENOMEM, "%s with %u problems",
              colog_errname(rc), pr.n);
    } else {
        CHECK(rc == 0, "positive result %d", rc);
        CHECK(pr.n == 0, "success with %u problems", pr.n);
        CHECK(info.bytes == size, "info.bytes %llu for %zu bytes", (unsigned long long)info.bytes,
              size);
        uint8_t sha[32];
        crypto_hash_sha256(sha, data, size);
        CHECK(memcmp(sha, info.sha256, 32) == 0, "info.sha256 is not the file's");
        CHECK(info.files >= 1, "no members");
    }
    check_clean();
    return 0;
}
