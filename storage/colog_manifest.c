/*
 * colog_manifest.c — part manifests: what a part is (id, day, rows, time
 * range, schema), which parts it replaces, and the size, XXH3-64 and SHA-256
 * of each of its files.
 *
 * Layout (docs/FORMAT.md "Part manifests"): a 96-byte header, nsup u64 part
 * ids, nfiles 112-byte file entries, then an XXH3-64 (seed 0) of everything
 * before it. The length of a manifest is fixed by its two counts, so decode
 * checks the counts against the buffer length before it allocates anything.
 *
 * Design. Encode and decode are pure functions of a buffer; reading and
 * writing the file is colog__read_file and colog__write_file_durable. Both
 * directions apply the same validity rules (valid_manifest), so a manifest
 * that encodes also decodes.
 *
 * Invariants (of a decoded colog_manifest_t):
 *  1. nsup <= MAN_MAX_SUP, nfiles <= MAN_MAX_FILES; sup and files have exactly
 *     that many entries (NULL when zero) and belong to the manifest.
 *  2. Every file name is 1..63 characters of [A-Za-z0-9._-], is neither "."
 *     nor "..", is NUL-padded to 64 bytes, and is unique in the manifest.
 *  3. nblocks == ceil(nrows / COLOG_BLOCK_ROWS); ts_min <= ts_max if nrows > 0;
 *     no part supersedes itself.
 */
#include "colog_storage_int.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAN_HDR 96
#define MAN_FILE 112
#define MAN_SUM 8
#define MAN_MAX_SUP 4096u
#define MAN_MAX_FILES 256u

_Static_assert(COLOG_FILE_NAME_MAX == 64, "file names are 64 bytes on disk");

uint64_t colog__file_seed(const char *fname)
{
    return XXH3_64bits(fname, strlen(fname));
}

/* Invariant 2 for one 64-byte name field. */
static bool name_ok(const char *name)
{
    size_t len = 0;
    while (len < COLOG_FILE_NAME_MAX && name[len] != '\0') {
        char c = name[len];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
        len++;
    }
    if (len == 0 || len == COLOG_FILE_NAME_MAX)
        return false;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = len; i < COLOG_FILE_NAME_MAX; i++)
        if (name[i] != '\0')
            return false;
    return true;
}

/* Invariants 1-3; NULL if m is valid, else what is wrong. */
static const char *invalid_manifest(const colog_manifest_t *m)
{
    if (m->nsup > MAN_MAX_SUP)
        return "too many superseded parts";
    if (m->nfiles > MAN_MAX_FILES)
        return "too many files";
    if ((m->nsup && !m->sup) || (m->nfiles && !m->files))
        return "missing arrays";
    if (m->nblocks != (m->nrows + COLOG_BLOCK_ROWS - 1) / COLOG_BLOCK_ROWS)
        return "block count does not match the row count";
    if (m->nrows > 0 && m->ts_min > m->ts_max)
        return "ts_min > ts_max";
    for (uint32_t i = 0; i < m->nsup; i++)
        if (m->sup[i] == m->part_id)
            return "part supersedes itself";
    for (uint32_t i = 0; i < m->nfiles; i++) {
        if (!name_ok(m->files[i].name))
            return "bad file name";
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(m->files[i].name, m->files[j].name) == 0)
                return "duplicate file name";
    }
    return NULL;
}

int colog__manifest_encode(const colog_manifest_t *m, uint8_t **buf, size_t *len)
{
    if (!m || !buf || !len)
        return colog_seterr(COLOG_EINVAL, "manifest: bad arguments");
    const char *bad = invalid_manifest(m);
    if (bad)
        return colog_seterr(COLOG_EINVAL, "manifest of part %llu: %s",
                            (unsigned long long)m->part_id, bad);
    size_t n = MAN_HDR + 8 * (size_t)m->nsup + MAN_FILE * (size_t)m->nfiles + MAN_SUM;
    uint8_t *b = calloc(1, n);
    if (!b)
        return colog_seterr(COLOG_ENOMEM, "manifest: out of memory");
    colog__put_u32(b, COLOG_MAN_MAGIC);
    colog__put_u16(b + 4, COLOG_FORMAT_VERSION);
    colog__put_u64(b + 8, m->part_id);
    colog__put_u32(b + 16, (uint32_t)m->day);
    colog__put_u32(b + 20, m->nblocks);
    colog__put_u64(b + 24, m->nrows);
    colog__put_u64(b + 32, (uint64_t)m->ts_min);
    colog__put_u64(b + 40, (uint64_t)m->ts_max);
    memcpy(b + 48, m->schema_sha256, 32);
    colog__put_u32(b + 80, m->nsup);
    colog__put_u32(b + 84, m->nfiles);
    uint8_t *p = b + MAN_HDR;
    for (uint32_t i = 0; i < m->nsup; i++, p += 8)
        colog__put_u64(p, m->sup[i]);
    for (uint32_t i = 0; i < m->nfiles; i++, p += MAN_FILE) {
        const colog_mfile_t *f = &m->files[i];
        memcpy(p, f->name, COLOG_FILE_NAME_MAX);
        colog__put_u64(p + 64, f->size);
        colog__put_u64(p + 72, f->xxh3);
        memcpy(p + 80, f->sha256, 32);
    }
    colog__put_u64(p, XXH3_64bits(b, n - MAN_SUM));
    *buf = b;
    *len = n;
    return 0;
}

static int man_corrupt(const char *display, const char *what)
{
    return colog_seterr(COLOG_ECORRUPT, "%s: %s", display, what);
}

int colog__manifest_decode(const uint8_t *buf, size_t len, const char *display, colog_manifest_t *m)
{
    if (!display)
        display = "manifest";
    if (!buf || !m)
        return colog_seterr(COLOG_EINVAL, "%s: bad arguments", display);
    if (len < 4 || colog__get_u32(buf) != COLOG_MAN_MAGIC)
        return colog_seterr(COLOG_ENOTCOLOG, "%s: not a colog manifest", display);
    if (len < MAN_HDR + MAN_SUM)
        return man_corrupt(display, "truncated");
    unsigned ver = colog__get_u16(buf + 4);
    if (ver != COLOG_FORMAT_VERSION)
        return colog_seterr(COLOG_EVERSION, "%s: format version %u not supported (expected %u)",
                            display, ver, COLOG_FORMAT_VERSION);
    uint32_t nsup = colog__get_u32(buf + 80), nfiles = colog__get_u32(buf + 84);
    if (nsup > MAN_MAX_SUP || nfiles > MAN_MAX_FILES)
        return man_corrupt(display, "counts out of range");
    if (len != MAN_HDR + 8 * (size_t)nsup + MAN_FILE * (size_t)nfiles + MAN_SUM)
        return man_corrupt(display, "length does not match the counts");
    if (colog__get_u64(buf + len - MAN_SUM) != XXH3_64bits(buf, len - MAN_SUM))
        return man_corrupt(display, "checksum mismatch");
    if (colog__get_u16(buf + 6) != 0 || colog__get_u64(buf + 88) != 0)
        return man_corrupt(display, "reserved fields not zero");

    colog_manifest_t t = {0};
    t.part_id = colog__get_u64(buf + 8);
    t.day = (int32_t)colog__get_u32(buf + 16);
    t.nblocks = colog__get_u32(buf + 20);
    t.nrows = colog__get_u64(buf + 24);
    t.ts_min = (int64_t)colog__get_u64(buf + 32);
    t.ts_max = (int64_t)colog__get_u64(buf + 40);
    memcpy(t.schema_sha256, buf + 48, 32);
    t.nsup = nsup;
    t.nfiles = nfiles;
    if ((nsup && !(t.sup = malloc(nsup * sizeof *t.sup))) ||
        (nfiles && !(t.files = malloc(nfiles * sizeof *t.files)))) {
        colog__manifest_clear(&t);
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", display);
    }
    const uint8_t *p = buf + MAN_HDR;
    for (uint32_t i = 0; i < nsup; i++, p += 8)
        t.sup[i] = colog__get_u64(p);
    for (uint32_t i = 0; i < nfiles; i++, p += MAN_FILE) {
        colog_mfile_t *f = &t.files[i];
        memcpy(f->name, p, COLOG_FILE_NAME_MAX);
        f->size = colog__get_u64(p + 64);
        f->xxh3 = colog__get_u64(p + 72);
        memcpy(f->sha256, p + 80, 32);
    }
    const char *bad = invalid_manifest(&t);
    if (bad) {
        colog__manifest_clear(&t);
        return man_corrupt(display, bad);
    }
    *m = t;
    return 0;
}

void colog__manifest_clear(colog_manifest_t *m)
{
    if (!m)
        return;
    free(m->sup);
    free(m->files);
    memset(m, 0, sizeof *m);
}
