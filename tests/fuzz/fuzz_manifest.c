/*
 * fuzz_manifest.c — libFuzzer target: the part manifest decoder
 * (colog__manifest_decode), straight on the buffer.
 *
 * Input: byte 0 is the mode (bit 0): 0 = the rest is decoded as it is; 1 = its
 * trailing checksum (the last 8 bytes: XXH3-64, seed 0, of everything before)
 * is recomputed first, so mutations reach the checks behind it. Bit 1 passes a
 * NULL display name.
 *
 * Properties (abort on violation): errors are ENOTCOLOG / EVERSION / ECORRUPT /
 * ENOMEM with a message, and leave the output untouched; a manifest that
 * decodes satisfies colog_manifest.c's invariants 1-3, and encodes back to
 * exactly the bytes it was decoded from (one encoding per manifest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "colog_storage_int.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_manifest: check failed: %s: ", #cond);                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool name_ok(const char *name)
{
    size_t len = strnlen(name, COLOG_FILE_NAME_MAX);
    if (len == 0 || len == COLOG_FILE_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]))
            return false;
    for (size_t i = len; i < COLOG_FILE_NAME_MAX; i++)
        if (name[i] != '\0')
            return false;
    return true;
}

static void check_manifest(const colog_manifest_t *m)
{
    CHECK(m->nsup <= 4096 && m->nfiles <= 256, "counts %u, %u", m->nsup, m->nfiles);
    CHECK((m->nsup == 0) == (m->sup == NULL), "sup array and count disagree");
    CHECK((m->nfiles == 0) == (m->files == NULL), "files array and count disagree");
    CHECK(m->nblocks == (m->nrows + COLOG_BLOCK_ROWS - 1) / COLOG_BLOCK_ROWS,
          "nblocks %u for %llu rows", m->nblocks, (unsigned long long)m->nrows);
    CHECK(m->nrows == 0 || m->ts_min <= m->ts_max, "ts_min > ts_max");
    for (uint32_t i = 0; i < m->nsup; i++)
        CHECK(m->sup[i] != m->part_id, "part supersedes itself");
    for (uint32_t i = 0; i < m->nfiles; i++) {
        CHECK(name_ok(m->files[i].name), "bad file name %u", i);
        for (uint32_t j = 0; j < i; j++)
            CHECK(strcmp(m->files[i].name, m->files[j].name) != 0, "duplicate name %u", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    /* an exact-size copy, so that ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    CHECK(buf, "out of memory");
    memcpy(buf, data, size);
    if ((mode & 1) && size >= 8)
        colog__put_u64(buf + size - 8, XXH3_64bits(buf, size - 8));

    colog_manifest_t m, untouched;
    memset(&m, 0xa5, sizeof m);
    memcpy(&untouched, &m, sizeof m);
    int rc = colog__manifest_decode(buf, size, mode & 2 ? NULL : "fuzz/p0/manifest", &m);
    if (getenv("COLOG_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_manifest: %s: %s\n", rc < 0 ? colog_errname(rc) : "decoded",
                rc < 0 ? colog_errmsg() : "");
    if (rc < 0) {
        CHECK(rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION || rc == COLOG_ECORRUPT ||
                  rc == COLOG_ENOMEM,
              "unexpected error %s: %s", colog_errname(rc), colog_errmsg());
        CHECK(colog_errmsg()[0] != '\0', "error without a message");
        CHECK(memcmp(&m, &untouched, sizeof m) == 0, "a failed decode wrote its output");
        free(buf);
        return 0;
    }
    check_manifest(&m);
    uint8_t *enc = NULL;
    size_t elen = 0;
    rc = colog__manifest_encode(&m, &enc, &elen);
    CHECK(rc == 0, "a decoded manifest does not encode: %s", colog_errmsg());
    CHECK(elen == size && memcmp(enc, buf, size) == 0, "encode(decode(x)) != x (%zu vs %zu bytes)",
          elen, size);
    free(enc);
    colog__manifest_clear(&m);
    free(buf);
    return 0;
}
