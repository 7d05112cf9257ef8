/*
 * test_manifest.c — Criterion suites of colog_manifest.c (part manifests,
 * colog__file_seed) and, in suite "io", of colog_io.c (durable writes, whole
 * reads, recursive removal), which manifests are written and read with.
 */
#include "colog_storage_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---------------------------------------------------------------- helpers */

static colog_mfile_t mfile(const char *name, uint64_t size, uint64_t xxh, uint8_t shabyte)
{
    colog_mfile_t f;
    memset(&f, 0, sizeof f);
    strcpy(f.name, name);
    f.size = size;
    f.xxh3 = xxh;
    memset(f.sha256, shabyte, 32);
    return f;
}

static uint64_t sup2[2] = {3, 5};
static colog_mfile_t files2[2];

/* part 7 of 2026-03-01 (day 20513), 70000 rows in 2 blocks, 2 superseded parts, 2 files */
static colog_manifest_t sample(void)
{
    files2[0] = mfile("time.col", 1234, 0xdeadbeefcafef00dull, 0xaa);
    files2[1] = mfile("src_ip.dict", 99, 42, 0x55);
    colog_manifest_t m = {
        .part_id = 7,
        .day = 20513,
        .nblocks = 2,
        .nrows = 70000,
        .ts_min = 1772323200000000LL,
        .ts_max = 1772409599999999LL,
        .nsup = 2,
        .sup = sup2,
        .nfiles = 2,
        .files = files2,
    };
    for (int i = 0; i < 32; i++)
        m.schema_sha256[i] = (uint8_t)i;
    return m;
}

static void encode(const colog_manifest_t *m, uint8_t **buf, size_t *len)
{
    cr_assert_eq(colog__manifest_encode(m, buf, len), 0, "%s", colog_errmsg());
}

static void fix_sum(uint8_t *b, size_t len)
{
    colog__put_u64(b + len - 8, XXH3_64bits(b, len - 8));
}

/* decode must fail with code and leave the output untouched */
static void decode_fails(const uint8_t *b, size_t len, int code)
{
    colog_manifest_t m;
    memset(&m, 0x5a, sizeof m);
    colog_manifest_t before = m;
    int rc = colog__manifest_decode(b, len, "hot/2026-03-01/p7/manifest", &m);
    cr_assert_eq(rc, code, "got %s: %s", colog_errname(rc), colog_errmsg());
    cr_assert_arr_eq(&m, &before, sizeof m, "output written on failure");
    if (rc == COLOG_ECORRUPT)
        cr_assert(strstr(colog_errmsg(), "hot/2026-03-01/p7/manifest: ") == colog_errmsg(), "%s",
                  colog_errmsg());
}

/* ---------------------------------------------------------------- manifest */

Test(manifest, layout)
{
    colog_manifest_t m = sample();
    uint8_t *b;
    size_t len;
    encode(&m, &b, &len);
    cr_assert_eq(len, 96 + 2 * 8 + 2 * 112 + 8);
    const uint8_t head[32] = {'C',  'M',  'A',  'N', 1, 0,    0,    0, 7, 0, 0,
                              0,    0,    0,    0,   0, 0x21, 0x50, 0, 0, /* day 20513 = 0x5021 */
                              2,    0,    0,    0,                        /* nblocks */
                              0x70, 0x11, 0x01, 0,   0, 0,    0,    0 /* nrows 70000 */};
    cr_assert_arr_eq(b, head, 32);
    cr_assert_eq((int64_t)colog__get_u64(b + 32), 1772323200000000LL);
    cr_assert_eq((int64_t)colog__get_u64(b + 40), 1772409599999999LL);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(b[48 + i], i);
    cr_assert_eq(colog__get_u32(b + 80), 2);
    cr_assert_eq(colog__get_u32(b + 84), 2);
    cr_assert_eq(colog__get_u64(b + 88), 0);
    cr_assert_eq(colog__get_u64(b + 96), 3);
    cr_assert_eq(colog__get_u64(b + 104), 5);
    const uint8_t *f = b + 112;
    char name[64] = "time.col";
    cr_assert_arr_eq(f, name, 64, "NUL-padded name");
    cr_assert_eq(colog__get_u64(f + 64), 1234);
    cr_assert_eq(colog__get_u64(f + 72), 0xdeadbeefcafef00dull);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(f[80 + i], 0xaa);
    cr_assert_arr_eq(f + 112, "src_ip.dict\0", 12);
    cr_assert_eq(colog__get_u64(b + 336), XXH3_64bits(b, 336));

    colog_manifest_t d;
    cr_assert_eq(colog__manifest_decode(b, len, "m", &d), 0, "%s", colog_errmsg());
    cr_assert_eq(d.part_id, 7);
    cr_assert_eq(d.day, 20513);
    cr_assert_eq(d.nblocks, 2);
    cr_assert_eq(d.nrows, 70000);
    cr_assert_eq(d.ts_min, 1772323200000000LL);
    cr_assert_eq(d.ts_max, 1772409599999999LL);
    cr_assert_arr_eq(d.schema_sha256, m.schema_sha256, 32);
    cr_assert_eq(d.nsup, 2);
    cr_assert_eq(d.sup[0], 3);
    cr_assert_eq(d.sup[1], 5);
    cr_assert_eq(d.nfiles, 2);
    cr_assert_str_eq(d.files[0].name, "time.col");
    cr_assert_str_eq(d.files[1].name, "src_ip.dict");
    cr_assert_eq(d.files[1].size, 99);
    cr_assert_eq(d.files[1].xxh3, 42);
    cr_assert_eq(d.files[1].sha256[31], 0x55);
    colog__manifest_clear(&d);
    cr_assert_null(d.sup);
    cr_assert_null(d.files);
    colog__manifest_clear(&d);
    colog__manifest_clear(NULL);
    free(b);
}

Test(manifest, empty_lists_and_negatives)
{
    colog_manifest_t m = {
        .part_id = 1, .day = -1, .ts_min = -86400000000LL, .ts_max = -1, .nrows = 1, .nblocks = 1};
    uint8_t *b;
    size_t len;
    encode(&m, &b, &len);
    cr_assert_eq(len, 104);
    cr_assert_eq(colog__get_u32(b + 16), 0xffffffffu);
    colog_manifest_t d;
    cr_assert_eq(colog__manifest_decode(b, len, "m", &d), 0, "%s", colog_errmsg());
    cr_assert_eq(d.day, -1);
    cr_assert_eq(d.ts_min, -86400000000LL);
    cr_assert_eq(d.ts_max, -1);
    cr_assert_null(d.sup);
    cr_assert_null(d.files);
    colog__manifest_clear(&d);
    free(b);

    /* an empty part: 0 rows, 0 blocks */
    colog_manifest_t e = {.part_id = 2};
    encode(&e, &b, &len);
    cr_assert_eq(colog__manifest_decode(b, len, "m", &d), 0, "%s", colog_errmsg());
    cr_assert_eq(d.nrows, 0);
    colog__manifest_clear(&d);
    free(b);

    /* 65536 rows is one block, 65537 two */
    e.nrows = 65536;
    e.nblocks = 1;
    encode(&e, &b, &len);
    free(b);
    e.nrows = 65537;
    cr_assert_eq(colog__manifest_encode(&e, &b, &len), COLOG_EINVAL);
    e.nblocks = 2;
    encode(&e, &b, &len);
    free(b);
}

Test(manifest, limits)
{
    colog_manifest_t m = {.part_id = 1};
    m.nsup = 4096;
    m.sup = calloc(4096, 8);
    for (uint32_t i = 0; i < 4096; i++)
        m.sup[i] = i + 2;
    m.nfiles = 256;
    m.files = calloc(256, sizeof *m.files);
    for (uint32_t i = 0; i < 256; i++)
        snprintf(m.files[i].name, 64, "c%03u.col", i);
    uint8_t *b;
    size_t len;
    encode(&m, &b, &len);
    cr_assert_eq(len, 96 + 4096 * 8 + 256 * 112 + 8);
    colog_manifest_t d;
    cr_assert_eq(colog__manifest_decode(b, len, "m", &d), 0, "%s", colog_errmsg());
    cr_assert_eq(d.sup[4095], 4097);
    cr_assert_str_eq(d.files[255].name, "c255.col");
    colog__manifest_clear(&d);
    free(b);
    m.nsup = 4097;
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL);
    m.nsup = 0;
    m.nfiles = 257;
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL);
    free(m.sup);
    free(m.files);
}

Test(manifest, encode_rejects)
{
    static const char *const bad[] = {"", ".", "..", "a/b", "a b", "x\xc3\xa9", "tab\t"};
    uint8_t *b;
    size_t len;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        colog_manifest_t m = sample();
        files2[1] = mfile(bad[i], 1, 1, 1);
        cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL, "name \"%s\"", bad[i]);
    }
    colog_manifest_t m = sample();
    memset(files2[0].name, 'a', 64); /* no NUL */
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL);
    m = sample();
    files2[0].name[20] = 'x'; /* garbage after the NUL */
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL);
    m = sample();
    files2[1] = mfile("time.col", 1, 1, 1);
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL, "duplicate name");
    m = sample();
    m.ts_min = m.ts_max + 1;
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL);
    m = sample();
    m.nblocks = 3;
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL);
    m = sample();
    m.sup[1] = 7;
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL, "supersedes itself");
    sup2[1] = 5;
    m = sample();
    m.sup = NULL;
    cr_assert_eq(colog__manifest_encode(&m, &b, &len), COLOG_EINVAL);
    /* the longest name, 63 characters, is fine */
    m = sample();
    memset(files2[0].name, 'z', 63);
    files2[0].name[63] = '\0';
    encode(&m, &b, &len);
    free(b);
}

Test(manifest, every_byte_corrupt)
{
    colog_manifest_t m = sample();
    uint8_t *b;
    size_t len;
    encode(&m, &b, &len);
    static const uint8_t masks[4] = {0x01, 0x10, 0x80, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (int k = 0; k < 4; k++) {
            b[i] ^= masks[k];
            colog_manifest_t d;
            int rc = colog__manifest_decode(b, len, "m", &d);
            cr_assert(rc == COLOG_ECORRUPT || rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION,
                      "flip of byte %zu by 0x%02x: %s", i, masks[k], colog_errname(rc));
            b[i] ^= masks[k];
        }
    }
    free(b);
}

Test(manifest, truncated_corrupt)
{
    colog_manifest_t m = sample();
    uint8_t *b;
    size_t len;
    encode(&m, &b, &len);
    for (size_t l = 0; l < len; l++)
        decode_fails(b, l, l < 4 ? COLOG_ENOTCOLOG : COLOG_ECORRUPT);
    uint8_t *g = calloc(1, len + 8);
    memcpy(g, b, len);
    decode_fails(g, len + 1, COLOG_ECORRUPT);
    decode_fails(g, len + 8, COLOG_ECORRUPT);
    free(g);
    free(b);
}

Test(manifest, fields_corrupt)
{
    colog_manifest_t m = sample();
    uint8_t *b;
    size_t len;
    encode(&m, &b, &len);
    uint8_t *g = malloc(len);

    memcpy(g, b, len);
    g[1] = 'm';
    decode_fails(g, len, COLOG_ENOTCOLOG);
    memcpy(g, b, len);
    colog__put_u16(g + 4, 2);
    decode_fails(g, len, COLOG_EVERSION);
    memcpy(g, b, len);
    colog__put_u16(g + 4, 0);
    decode_fails(g, len, COLOG_EVERSION);

    /* each fixed up with a correct checksum */
    const size_t reserved[3] = {6, 7, 95};
    for (int k = 0; k < 3; k++) {
        memcpy(g, b, len);
        g[reserved[k]] = 1;
        fix_sum(g, len);
        decode_fails(g, len, COLOG_ECORRUPT);
        cr_assert(strstr(colog_errmsg(), "reserved") != NULL, "%s", colog_errmsg());
    }
    /* counts that would need gigabytes: refused before any allocation */
    memcpy(g, b, len);
    colog__put_u32(g + 84, 0xffffffffu);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    memcpy(g, b, len);
    colog__put_u32(g + 80, 0xffffffffu);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    /* counts in range that do not match the length */
    memcpy(g, b, len);
    colog__put_u32(g + 84, 3);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "length") != NULL, "%s", colog_errmsg());

    /* names: '/', no NUL, garbage after the NUL, empty, ".." */
    uint8_t *name = g + 112 + 112;
    memcpy(g, b, len);
    name[3] = '/';
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "file name") != NULL, "%s", colog_errmsg());
    memcpy(g, b, len);
    memset(name, 'a', 64);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    memcpy(g, b, len);
    name[40] = 'a';
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    memcpy(g, b, len);
    memset(name, 0, 64);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    memcpy(g, b, len);
    memset(name, 0, 64);
    memcpy(name, "..", 2);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    memcpy(g, b, len);
    memcpy(name, "time.col\0\0\0\0", 12);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT); /* duplicate */

    /* semantics: nblocks, ts order, self-supersession */
    memcpy(g, b, len);
    colog__put_u32(g + 20, 1);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    memcpy(g, b, len);
    colog__put_u64(g + 32, colog__get_u64(g + 40) + 1);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    memcpy(g, b, len);
    colog__put_u64(g + 96, 7);
    fix_sum(g, len);
    decode_fails(g, len, COLOG_ECORRUPT);
    free(g);
    free(b);
}

Test(manifest, file_seed)
{
    /* XXH3-64 of the empty input is a published test vector */
    cr_assert_eq(colog__file_seed(""), 0x2D06800538D394C2ull);
    cr_assert_eq(colog__file_seed("src_ip.col"), XXH3_64bits("src_ip.col", 10));
    cr_assert_neq(colog__file_seed("a.col"), colog__file_seed("b.col"));
}

/* ---------------------------------------------------------------- io */

static char tdir[64];
static int dfd = -1;

static void setup(void)
{
    strcpy(tdir, "/tmp/colog-io-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    dfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);
}

static void teardown(void)
{
    close(dfd);
    cr_assert_eq(colog__rm_rf(AT_FDCWD, tdir), 0);
    struct stat st;
    cr_assert_eq(stat(tdir, &st), -1);
}

TestSuite(io, .init = setup, .fini = teardown);

Test(io, durable_write_and_read)
{
    colog_manifest_t m = sample();
    uint8_t *b;
    size_t len;
    encode(&m, &b, &len);
    cr_assert_eq(colog__write_file_durable(dfd, "manifest", b, len), 0, "%s", colog_errmsg());
    uint8_t *r;
    size_t rlen;
    cr_assert_eq(colog__read_file(dfd, "manifest", &r, &rlen), 0, "%s", colog_errmsg());
    cr_assert_eq(rlen, len);
    cr_assert_arr_eq(r, b, len);
    free(r);
    cr_assert_eq(faccessat(dfd, ".tmp-manifest", F_OK, 0), -1, "no temp file left");

    /* replace, with a stale temp file from a crash in the way */
    int fd = openat(dfd, ".tmp-manifest", O_CREAT | O_WRONLY, 0600);
    cr_assert_eq(colog__write_all(fd, "junk", 4), 0);
    close(fd);
    cr_assert_eq(colog__write_file_durable(dfd, "manifest", "new", 3), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__read_file(dfd, "manifest", &r, &rlen), 0);
    cr_assert_eq(rlen, 3);
    cr_assert_arr_eq(r, "new", 3);
    free(r);
    cr_assert_eq(faccessat(dfd, ".tmp-manifest", F_OK, 0), -1);
    struct stat st;
    cr_assert_eq(fstatat(dfd, "manifest", &st, 0), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);

    /* in a subdirectory, and empty */
    cr_assert_eq(mkdirat(dfd, "sub", 0755), 0);
    cr_assert_eq(colog__write_file_durable(dfd, "sub/empty", "", 0), 0, "%s", colog_errmsg());
    cr_assert_eq(faccessat(dfd, "sub/.tmp-empty", F_OK, 0), -1);
    cr_assert_eq(colog__read_file(dfd, "sub/empty", &r, &rlen), 0);
    cr_assert_eq(rlen, 0);
    free(r);
    free(b);
}

Test(io, read_errors)
{
    uint8_t *r = NULL;
    size_t len = 0;
    cr_assert_eq(colog__read_file(dfd, "none", &r, &len), -ENOENT);
    cr_assert(strstr(colog_errmsg(), "none") != NULL);
    cr_assert_eq(mkdirat(dfd, "d", 0755), 0);
    cr_assert_eq(colog__read_file(dfd, "d", &r, &len), COLOG_EINVAL);
    /* a sparse file just over the 1 GiB cap: refused without allocating it */
    int fd = openat(dfd, "huge", O_CREAT | O_WRONLY, 0644);
    cr_assert_eq(ftruncate(fd, (1ll << 30) + 1), 0);
    close(fd);
    cr_assert_eq(colog__read_file(dfd, "huge", &r, &len), COLOG_ELIMIT);
    cr_assert_null(r);
    cr_assert_eq(len, 0);
    cr_assert_eq(colog__write_file_durable(dfd, "nodir/x", "a", 1), -ENOENT);
}

Test(io, pread_write_all)
{
    int fd = openat(dfd, "f", O_CREAT | O_RDWR, 0644);
    cr_assert_eq(colog__write_all(fd, "0123456789", 10), 0);
    char buf[8];
    cr_assert_eq(colog__pread_all(fd, buf, 4, 3), 0);
    cr_assert_arr_eq(buf, "3456", 4);
    cr_assert_eq(colog__pread_all(fd, buf, 4, 8), COLOG_ECORRUPT, "short file");
    cr_assert_eq(colog__pread_all(fd, buf, 0, 100), 0);
    cr_assert_eq(colog__pread_all(fd, buf, 1, UINT64_MAX), COLOG_ECORRUPT);
    cr_assert_eq(colog__fsync_fd(fd), 0);
    close(fd);
    cr_assert_eq(colog__write_all(fd, "x", 1), -EBADF);
    cr_assert_eq(colog__pread_all(fd, buf, 1, 0), -EBADF);
    cr_assert_eq(colog__fsync_dir(tdir), 0);
    cr_assert_eq(colog__fsync_dir("/nonexistent-colog-dir"), -ENOENT);
}

Test(io, rm_rf)
{
    /* tree: t/{a, b/{c, d/e}, link -> outside} ; outside must survive */
    cr_assert_eq(mkdirat(dfd, "t", 0755), 0);
    cr_assert_eq(mkdirat(dfd, "t/b", 0755), 0);
    cr_assert_eq(mkdirat(dfd, "t/b/d", 0755), 0);
    cr_assert_eq(mkdirat(dfd, "outside", 0755), 0);
    cr_assert_eq(colog__write_file_durable(dfd, "t/a", "a", 1), 0);
    cr_assert_eq(colog__write_file_durable(dfd, "t/b/c", "c", 1), 0);
    cr_assert_eq(colog__write_file_durable(dfd, "t/b/d/e", "e", 1), 0);
    cr_assert_eq(colog__write_file_durable(dfd, "outside/keep", "k", 1), 0);
    char target[128];
    snprintf(target, sizeof target, "%s/outside", tdir);
    cr_assert_eq(symlinkat(target, dfd, "t/link"), 0);
    cr_assert_eq(colog__rm_rf(dfd, "t"), 0, "%s", colog_errmsg());
    cr_assert_eq(faccessat(dfd, "t", F_OK, AT_SYMLINK_NOFOLLOW), -1);
    cr_assert_eq(faccessat(dfd, "outside/keep", F_OK, 0), 0, "link target untouched");
    cr_assert_eq(colog__rm_rf(dfd, "t"), 0, "missing is fine");
    cr_assert_eq(colog__rm_rf(dfd, "outside/keep"), 0, "a plain file");
    cr_assert_eq(faccessat(dfd, "outside/keep", F_OK, 0), -1);
}
