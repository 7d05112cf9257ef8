/*
 * test_dictfile.c — Criterion suite of colog_dictfile.c (dictionary files and
 * the colog_dict_lower_* searches).
 *
 * Layouts are checked byte by byte against docs/FORMAT.md. The writer writes
 * version 2; build_dict writes version 1 files from the spec (the reader must
 * still read them), and build_v2 / fix_v2 write version 2 files from the spec
 * with correct checksums, so that each structural check of the reader (order,
 * offsets, lengths, fences, reserved fields) is hit on its own. Lookups are
 * checked against truth computed here from the entries' construction (entry
 * i is at code i; a value between entries i and i+1 bounds at i+1), not
 * against the module's own searches.
 */
#include "colog_storage_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static char tdir[64];
static int dfd = -1;

static void setup(void)
{
    strcpy(tdir, "/tmp/colog-dictfile-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    dfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);
}

static void teardown(void)
{
    close(dfd);
    cr_assert_eq(colog__rm_rf(AT_FDCWD, tdir), 0);
}

TestSuite(dictfile, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- helpers */

/* A string view over a NUL-separated list (entries may not contain NUL). */
struct strs {
    uint32_t offs[16];
    char bytes[256];
    colog_dictview_t v;
};

static void make_strs(struct strs *s, const char *const *e, uint32_t n)
{
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        s->offs[i] = at;
        memcpy(s->bytes + at, e[i], strlen(e[i]));
        at += (uint32_t)strlen(e[i]);
    }
    s->offs[n] = at;
    s->v = (colog_dictview_t){.type = COLOG_T_STRING, .n = n, .offs = s->offs, .bytes = s->bytes};
}

static colog_ip_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    colog_ip_t ip = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}};
    return ip;
}

static uint8_t *slurp(const char *name, size_t *len)
{
    uint8_t *buf;
    cr_assert_eq(colog__read_file(dfd, name, &buf, len), 0, "%s", colog_errmsg());
    return buf;
}

static void put_file(const char *name, const void *buf, size_t len)
{
    unlinkat(dfd, name, 0);
    int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(colog__write_all(fd, buf, len), 0);
    close(fd);
}

/* The checksum field of a dictionary file, recomputed from the spec. */
static void fix_sum(const char *name, uint8_t *f, size_t len)
{
    memset(f + 32, 0, 8);
    colog__put_u64(f + 32, XXH3_64bits_withSeed(f, len, XXH3_64bits(name, strlen(name))));
}

/* Write a dictionary file from the spec: header fields as given, raw payload
 * compressed, checksum right. */
static void build_dict(const char *name, uint8_t type, uint32_t n, const void *raw, size_t rlen,
                       uint64_t rlen_field)
{
    size_t cap = 40 + (size_t)LZ4_compressBound((int)rlen);
    uint8_t *f = calloc(1, cap);
    int clen = LZ4_compress_default(raw, (char *)f + 40, (int)rlen, (int)(cap - 40));
    cr_assert_gt(clen, 0);
    colog__put_u32(f, 0x54434443u);
    colog__put_u16(f + 4, 1);
    f[6] = type;
    colog__put_u32(f + 8, n);
    colog__put_u64(f + 16, rlen_field);
    colog__put_u64(f + 24, (uint64_t)clen);
    fix_sum(name, f, 40 + (size_t)clen);
    put_file(name, f, 40 + (size_t)clen);
    free(f);
}

static int try_read(const char *name, colog_type_t type)
{
    colog_dictbuf_t *d = NULL;
    int rc = colog__dict_read(dfd, name, type, name, &d);
    if (rc == 0)
        colog__dict_free(d);
    else
        cr_assert_null(d, "out-parameter untouched on failure");
    return rc;
}

/* raw string payload from a list: n + 1 offsets, then the bytes */
static size_t str_raw(uint8_t *out, const char *const *e, uint32_t n)
{
    uint32_t at = 0;
    size_t b = 4 * ((size_t)n + 1);
    for (uint32_t i = 0; i < n; i++) {
        colog__put_u32(out + 4 * i, at);
        memcpy(out + b + at, e[i], strlen(e[i]));
        at += (uint32_t)strlen(e[i]);
    }
    colog__put_u32(out + 4 * n, at);
    return b + at;
}

/* ---------------------------------------------------------------- version 2 from the spec */

/* Directory entry size of a version 2 file (by its type byte). */
static size_t v2_ent(const uint8_t *f)
{
    return f[6] == 2 ? 40 : 32;
}

/* Recompute every checksum of a version 2 file from the spec: each block's
 * (seed file seed XOR b, over its stored bytes, found by adding up the
 * lengths), the directory's and the header's (bytes 0..32). Fields are taken
 * as they are, as far as they stay inside the file. */
static void fix_v2(const char *name, uint8_t *f, size_t len)
{
    uint64_t seed = XXH3_64bits(name, strlen(name));
    uint32_t nb = colog__get_u32(f + 12);
    uint64_t dl = colog__get_u64(f + 16);
    size_t ent = v2_ent(f);
    if (dl >= 8 && dl <= len - 40 && ent * nb + 8 <= dl) {
        uint64_t off = 40 + dl;
        for (uint32_t b = 0; b < nb; b++) {
            uint8_t *e = f + 40 + ent * b;
            uint32_t cl = colog__get_u32(e + 4);
            if (off + cl <= len)
                colog__put_u64(e + 16, XXH3_64bits_withSeed(f + off, cl, seed ^ b));
            off += cl;
        }
        colog__put_u64(f + 40 + dl - 8, XXH3_64bits_withSeed(f + 40, dl - 8, seed));
    }
    colog__put_u64(f + 32, XXH3_64bits_withSeed(f, 32, seed));
}

/* A block of a spec-built version 2 file. */
struct vblk {
    uint32_t first;
    const void *raw; /* its raw bytes (the version 1 payload of its entries) */
    size_t rlen;
    const void *fence;
    uint32_t fence_len; /* ips: 16 */
    bool lz4;           /* compressed (else stored raw, flag 1) */
};

/* Write name from the spec: the header with n, the blocks as given (fences
 * into the fence area in block order), every checksum right. Returns the file
 * (the caller frees it) and its length. */
static uint8_t *build_v2(const char *name, uint8_t type, uint32_t n, const struct vblk *bl,
                         uint32_t nb, size_t *lenp)
{
    size_t ent = type == 2 ? 40 : 32, fbytes = 0, cap = 0;
    for (uint32_t b = 0; b < nb; b++) {
        fbytes += type == 2 ? 0 : bl[b].fence_len;
        cap += (size_t)LZ4_compressBound((int)bl[b].rlen);
    }
    size_t dl = ent * nb + fbytes + 8;
    uint8_t *f = calloc(1, 40 + dl + cap + 1);
    cr_assert_not_null(f);
    size_t pos = 40 + dl, fpos = 0;
    for (uint32_t b = 0; b < nb; b++) {
        uint8_t *e = f + 40 + ent * b;
        int cl = (int)bl[b].rlen;
        if (bl[b].lz4) {
            cl = LZ4_compress_default(bl[b].raw, (char *)f + pos, (int)bl[b].rlen,
                                      LZ4_compressBound((int)bl[b].rlen));
            cr_assert_gt(cl, 0);
        } else {
            memcpy(f + pos, bl[b].raw, bl[b].rlen);
            e[12] = 1;
        }
        colog__put_u32(e, bl[b].first);
        colog__put_u32(e + 4, (uint32_t)cl);
        colog__put_u32(e + 8, (uint32_t)bl[b].rlen);
        if (type == 2) {
            memcpy(e + 24, bl[b].fence, 16);
        } else {
            colog__put_u32(e + 24, (uint32_t)fpos);
            colog__put_u32(e + 28, bl[b].fence_len);
            memcpy(f + 40 + ent * nb + fpos, bl[b].fence, bl[b].fence_len);
            fpos += bl[b].fence_len;
        }
        pos += (size_t)cl;
    }
    colog__put_u32(f, 0x54434443u);
    colog__put_u16(f + 4, 2);
    f[6] = type;
    colog__put_u32(f + 8, n);
    colog__put_u32(f + 12, nb);
    colog__put_u64(f + 16, dl);
    colog__put_u64(f + 24, pos - 40 - dl);
    fix_v2(name, f, pos);
    put_file(name, f, pos);
    *lenp = pos;
    return f;
}

/* Open lazily; the out-parameter is untouched on failure. */
static int try_open(const char *name, colog_type_t type, colog_dictbuf_t **out)
{
    colog_dictbuf_t *d = NULL;
    int rc = colog__dict_open(dfd, name, type, name, &d);
    if (rc < 0)
        cr_assert_null(d, "out-parameter untouched on failure");
    *out = d;
    return rc;
}

/* Whether the last error names the file and contains what. */
static void expect_msg(const char *name, const char *what)
{
    const char *m = colog_errmsg();
    cr_assert(strstr(m, name) != NULL, "message does not name %s: %s", name, m);
    cr_assert(strstr(m, what) != NULL, "message lacks '%s': %s", what, m);
}

/* ---------------------------------------------------------------- round trips */

Test(dictfile, strings_layout)
{
    static const char *const e[4] = {"", "a", "ab", "b"};
    struct strs s;
    make_strs(&s, e, 4);
    uint64_t size, xxh;
    uint8_t sha[32];
    cr_assert_eq(colog__dict_write(dfd, "s.dict", &s.v, &size, &xxh, sha), 0, "%s", colog_errmsg());
    size_t len;
    uint8_t *f = slurp("s.dict", &len);
    cr_assert_eq(size, len);
    cr_assert_eq(xxh, XXH3_64bits(f, len));
    uint8_t want_sha[32];
    crypto_hash_sha256(want_sha, f, len);
    cr_assert_arr_eq(sha, want_sha, 32);

    /* One block of 24 raw bytes (clen stored bytes: LZ4, or raw with flag 1
     * when LZ4 does not shrink them). The file is header 40 + directory (one
     * 32-byte entry, no fence bytes as the first entry is "", checksum 8) 40 +
     * the block. */
    const uint8_t *dir = f + 40;
    uint32_t clen = colog__get_u32(dir + 4);
    cr_assert_eq(len, 80 + (size_t)clen);
    uint64_t seed = XXH3_64bits("s.dict", 6);
    /* "CDCT", version 2, type 9, flags 0, n 4, 1 block, dir_len 40, data_len clen */
    const uint8_t hdr[24] = {'C', 'D', 'C', 'T', 2,  0, 9, 0, 4, 0, 0, 0,
                             1,   0,   0,   0,   40, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(f, hdr, 24);
    cr_assert_eq(colog__get_u64(f + 24), clen);
    cr_assert_eq(colog__get_u64(f + 32), XXH3_64bits_withSeed(f, 32, seed));
    cr_assert_eq(colog__get_u32(dir), 0, "first");
    cr_assert_eq(colog__get_u32(dir + 8), 24, "rawlen");
    cr_assert_eq(dir[12] & ~1, 0, "flags");
    cr_assert_eq(dir[13] | dir[14] | dir[15], 0);
    cr_assert_eq(colog__get_u64(dir + 16), XXH3_64bits_withSeed(f + 80, clen, seed ^ 0));
    cr_assert_eq(colog__get_u32(dir + 24), 0, "fence offset");
    cr_assert_eq(colog__get_u32(dir + 28), 0, "fence length");
    cr_assert_eq(colog__get_u64(dir + 32), XXH3_64bits_withSeed(dir, 32, seed));
    const uint8_t want[24] = {0, 0, 0, 0, 0, 0, 0, 0, 1,   0,   0,   0,
                              3, 0, 0, 0, 4, 0, 0, 0, 'a', 'a', 'b', 'b'};
    uint8_t raw[64];
    if (dir[12] & 1) {
        cr_assert_eq(clen, 24);
        memcpy(raw, f + 80, 24);
    } else {
        cr_assert_lt(clen, 24, "compressed only when smaller");
        cr_assert_eq(LZ4_decompress_safe((const char *)f + 80, (char *)raw, (int)clen, 64), 24);
    }
    cr_assert_arr_eq(raw, want, 24);
    free(f);

    colog_dictbuf_t *d;
    cr_assert_eq(colog__dict_read(dfd, "s.dict", COLOG_T_STRING, "p/s.dict", &d), 0, "%s",
                 colog_errmsg());
    const colog_dictview_t *v = colog__dict_view(d);
    cr_assert_eq(v->type, COLOG_T_STRING);
    cr_assert_eq(v->n, 4);
    const uint32_t offs[5] = {0, 0, 1, 3, 4};
    cr_assert_arr_eq(v->offs, offs, sizeof offs);
    cr_assert_arr_eq(v->bytes, "aabb", 4);
    cr_assert_null(v->ips);
    colog__dict_free(d);
}

Test(dictfile, strings_view_offset_base)
{
    /* a view into a larger buffer: offsets start at 5; "a", "bc", "bd" */
    const uint32_t offs[4] = {5, 6, 8, 10};
    colog_dictview_t v = {.type = COLOG_T_STRING, .n = 3, .offs = offs, .bytes = "xxxxxabcbd"};
    cr_assert_eq(colog__dict_write(dfd, "o.dict", &v, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    colog_dictbuf_t *d;
    cr_assert_eq(colog__dict_read(dfd, "o.dict", COLOG_T_STRING, NULL, &d), 0);
    const colog_dictview_t *r = colog__dict_view(d);
    const uint32_t want[4] = {0, 1, 3, 5};
    cr_assert_eq(r->n, 3);
    cr_assert_arr_eq(r->offs, want, sizeof want);
    cr_assert_arr_eq(r->bytes, "abcbd", 5);
    colog__dict_free(d);
}

Test(dictfile, strings_binary_bytes)
{
    /* entries with NUL and 0xff bytes order bytewise (unsigned) */
    const uint32_t offs[4] = {0, 2, 3, 4};
    const char bytes[4] = {'a', '\0', 'a', (char)0xff};
    colog_dictview_t v = {.type = COLOG_T_STRING, .n = 3, .offs = offs, .bytes = bytes};
    cr_assert_eq(colog__dict_write(dfd, "b.dict", &v, NULL, NULL, NULL), COLOG_EINVAL,
                 "\"a\\0\" sorts after \"a\"");
    const uint32_t offs2[4] = {0, 1, 3, 4};
    const char bytes2[4] = {'a', 'a', '\0', (char)0xff};
    v.offs = offs2;
    v.bytes = bytes2;
    cr_assert_eq(colog__dict_write(dfd, "b.dict", &v, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    colog_dictbuf_t *d;
    cr_assert_eq(colog__dict_read(dfd, "b.dict", COLOG_T_STRING, NULL, &d), 0, "%s",
                 colog_errmsg());
    const colog_dictview_t *r = colog__dict_view(d);
    cr_assert_arr_eq(r->bytes, bytes2, 4);
    cr_assert_eq(colog_dict_lower_str(r, "a\0", 2), 1);
    cr_assert_eq(colog_dict_lower_str(r, "a\x01", 2), 2);
    cr_assert_eq(colog_dict_lower_str(r, "\xff", 1), 2);
    cr_assert_eq(colog_dict_lower_str(r, "\xff\x00", 2), 3);
    colog__dict_free(d);
}

Test(dictfile, ips_layout)
{
    /* memcmp order: IPv4-mapped (00..) before 2001:db8::1 */
    colog_ip_t ips[3] = {ip4(1, 2, 3, 4), ip4(10, 0, 0, 1)};
    memset(&ips[2], 0, 16);
    ips[2].b[0] = 0x20;
    ips[2].b[1] = 0x01;
    ips[2].b[2] = 0x0d;
    ips[2].b[3] = 0xb8;
    ips[2].b[15] = 1;
    colog_dictview_t v = {.type = COLOG_T_IP, .n = 3, .ips = ips};
    cr_assert_eq(colog__dict_write(dfd, "i.dict", &v, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    size_t len;
    uint8_t *f = slurp("i.dict", &len);
    cr_assert_eq(colog__get_u16(f + 4), 2);
    cr_assert_eq(f[6], 2);
    cr_assert_eq(colog__get_u32(f + 8), 3);
    cr_assert_eq(colog__get_u32(f + 12), 1, "one block");
    cr_assert_eq(colog__get_u64(f + 16), 48, "directory: one 40-byte entry and its checksum");
    const uint8_t *dir = f + 40;
    uint32_t clen = colog__get_u32(dir + 4);
    cr_assert_eq(colog__get_u32(dir + 8), 48);
    cr_assert_eq(colog__get_u64(f + 24), clen);
    cr_assert_eq(len, 40 + 48 + (size_t)clen);
    cr_assert_arr_eq(dir + 24, &ips[0], 16, "fence");
    uint8_t raw[48];
    if (dir[12] & 1) {
        cr_assert_eq(clen, 48);
        memcpy(raw, f + 88, 48);
    } else {
        cr_assert_eq(LZ4_decompress_safe((const char *)f + 88, (char *)raw, (int)clen, 48), 48);
    }
    cr_assert_arr_eq(raw, ips, 48);
    free(f);

    colog_dictbuf_t *d;
    cr_assert_eq(colog__dict_read(dfd, "i.dict", COLOG_T_IP, NULL, &d), 0, "%s", colog_errmsg());
    const colog_dictview_t *r = colog__dict_view(d);
    cr_assert_eq(r->n, 3);
    cr_assert_arr_eq(r->ips, ips, 48);
    cr_assert_null(r->offs);

    colog_ip_t k = ip4(1, 2, 3, 4);
    cr_assert_eq(colog_dict_lower_ip(r, &k), 0);
    k = ip4(1, 2, 3, 5);
    cr_assert_eq(colog_dict_lower_ip(r, &k), 1);
    k = ip4(10, 0, 0, 1);
    cr_assert_eq(colog_dict_lower_ip(r, &k), 1);
    k = ip4(255, 255, 255, 255);
    cr_assert_eq(colog_dict_lower_ip(r, &k), 2);
    memset(&k, 0, 16);
    cr_assert_eq(colog_dict_lower_ip(r, &k), 0, "::");
    memset(&k, 0xff, 16);
    cr_assert_eq(colog_dict_lower_ip(r, &k), 3);
    colog__dict_free(d);
}

Test(dictfile, empty)
{
    colog_dictview_t s = {.type = COLOG_T_STRING, .n = 0, .offs = (const uint32_t[1]){0}};
    cr_assert_eq(colog__dict_write(dfd, "es.dict", &s, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    colog_dictview_t i = {.type = COLOG_T_IP, .n = 0};
    cr_assert_eq(colog__dict_write(dfd, "ei.dict", &i, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    colog_dictbuf_t *d;
    cr_assert_eq(colog__dict_read(dfd, "es.dict", COLOG_T_STRING, NULL, &d), 0, "%s",
                 colog_errmsg());
    cr_assert_eq(colog__dict_view(d)->n, 0);
    cr_assert_eq(colog__dict_view(d)->offs[0], 0);
    cr_assert_eq(colog_dict_lower_str(colog__dict_view(d), "x", 1), 0);
    colog__dict_free(d);
    cr_assert_eq(colog__dict_read(dfd, "ei.dict", COLOG_T_IP, NULL, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__dict_view(d)->n, 0);
    colog_ip_t k = ip4(1, 1, 1, 1);
    cr_assert_eq(colog_dict_lower_ip(colog__dict_view(d), &k), 0);
    colog__dict_free(d);
    colog__dict_free(NULL);
}

Test(dictfile, lower_str)
{
    static const char *const e[5] = {"", "a", "ab", "b", "ba"};
    struct strs s;
    make_strs(&s, e, 5);
    cr_assert_eq(colog__dict_write(dfd, "l.dict", &s.v, NULL, NULL, NULL), 0);
    colog_dictbuf_t *d;
    cr_assert_eq(colog__dict_read(dfd, "l.dict", COLOG_T_STRING, NULL, &d), 0);
    const colog_dictview_t *v = colog__dict_view(d);
    cr_assert_eq(colog_dict_lower_str(v, "", 0), 0);
    cr_assert_eq(colog_dict_lower_str(v, "\0", 1), 1);
    cr_assert_eq(colog_dict_lower_str(v, "a", 1), 1);
    cr_assert_eq(colog_dict_lower_str(v, "aa", 2), 2);
    cr_assert_eq(colog_dict_lower_str(v, "ab", 2), 2);
    cr_assert_eq(colog_dict_lower_str(v, "abc", 3), 3);
    cr_assert_eq(colog_dict_lower_str(v, "b", 1), 3);
    cr_assert_eq(colog_dict_lower_str(v, "b\0", 2), 4);
    cr_assert_eq(colog_dict_lower_str(v, "ba", 2), 4);
    cr_assert_eq(colog_dict_lower_str(v, "bz", 2), 5);
    cr_assert_eq(colog_dict_lower_str(v, "c", 1), 5);
    /* the view written directly answers the same */
    cr_assert_eq(colog_dict_lower_str(&s.v, "abc", 3), 3);
    colog__dict_free(d);
}

Test(dictfile, large)
{
    /* 100000 entries "k%06u": code i is entry i */
    uint32_t n = 100000;
    uint32_t *offs = malloc((n + 1) * sizeof *offs);
    char *bytes = malloc(7 * (size_t)n + 1);
    for (uint32_t i = 0; i < n; i++) {
        offs[i] = 7 * i;
        snprintf(bytes + 7 * i, 8, "k%06u", i);
    }
    offs[n] = 7 * n;
    colog_dictview_t v = {.type = COLOG_T_STRING, .n = n, .offs = offs, .bytes = bytes};
    cr_assert_eq(colog__dict_write(dfd, "big.dict", &v, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    colog_dictbuf_t *d;
    cr_assert_eq(colog__dict_read(dfd, "big.dict", COLOG_T_STRING, NULL, &d), 0);
    const colog_dictview_t *r = colog__dict_view(d);
    cr_assert_eq(r->n, n);
    cr_assert_eq(colog_dict_lower_str(r, "k012345", 7), 12345);
    cr_assert_eq(colog_dict_lower_str(r, "k0123455", 8), 12346);
    cr_assert_eq(colog_dict_lower_str(r, "k1", 2), n);
    cr_assert_arr_eq(r->bytes + r->offs[99999], "k099999", 7);
    colog__dict_free(d);
    free(offs);
    free(bytes);
}

Test(dictfile, write_rejects)
{
    struct strs s;
    static const char *const unsorted[2] = {"b", "a"};
    make_strs(&s, unsorted, 2);
    cr_assert_eq(colog__dict_write(dfd, "u.dict", &s.v, NULL, NULL, NULL), COLOG_EINVAL);
    cr_assert_eq(faccessat(dfd, "u.dict", F_OK, 0), -1, "nothing written");
    static const char *const dup[3] = {"a", "b", "b"};
    make_strs(&s, dup, 3);
    cr_assert_eq(colog__dict_write(dfd, "u.dict", &s.v, NULL, NULL, NULL), COLOG_EINVAL);
    static const char *const empties[2] = {"", ""};
    make_strs(&s, empties, 2);
    cr_assert_eq(colog__dict_write(dfd, "u.dict", &s.v, NULL, NULL, NULL), COLOG_EINVAL);
    const uint32_t back[3] = {0, 3, 2};
    colog_dictview_t bad = {.type = COLOG_T_STRING, .n = 2, .offs = back, .bytes = "abc"};
    cr_assert_eq(colog__dict_write(dfd, "u.dict", &bad, NULL, NULL, NULL), COLOG_EINVAL);

    colog_ip_t ips[2] = {ip4(1, 1, 1, 1), ip4(1, 1, 1, 1)};
    colog_dictview_t iv = {.type = COLOG_T_IP, .n = 2, .ips = ips};
    cr_assert_eq(colog__dict_write(dfd, "u.dict", &iv, NULL, NULL, NULL), COLOG_EINVAL);
    colog_dictview_t tv = {.type = COLOG_T_U8, .n = 0};
    cr_assert_eq(colog__dict_write(dfd, "u.dict", &tv, NULL, NULL, NULL), COLOG_EINVAL);

    static const char *const ok[1] = {"x"};
    make_strs(&s, ok, 1);
    cr_assert_eq(colog__dict_write(dfd, "x.dict", &s.v, NULL, NULL, NULL), 0);
    cr_assert_eq(colog__dict_write(dfd, "x.dict", &s.v, NULL, NULL, NULL), -EEXIST);
    colog_dictbuf_t *d = NULL;
    cr_assert_eq(colog__dict_read(dfd, "x.dict", COLOG_T_IP, NULL, &d), COLOG_ECORRUPT,
                 "a string dictionary read as ip");
    cr_assert_eq(colog__dict_read(dfd, "none.dict", COLOG_T_IP, "p/none.dict", &d), -ENOENT);
    cr_assert(strstr(colog_errmsg(), "p/none.dict") != NULL, "%s", colog_errmsg());
}

/* ---------------------------------------------------------------- corrupt */

static void flip_all(const char *name, colog_type_t type)
{
    static const uint8_t masks[3] = {0x01, 0x80, 0xff};
    size_t len;
    uint8_t *f = slurp(name, &len);
    int fd = openat(dfd, name, O_RDWR);
    for (size_t i = 0; i < len; i++) {
        for (int m = 0; m < 3; m++) {
            uint8_t x = f[i] ^ masks[m];
            cr_assert_eq(pwrite(fd, &x, 1, (off_t)i), 1);
            int rc = try_read(name, type);
            cr_assert(rc == COLOG_ECORRUPT || rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION,
                      "flip of byte %zu by 0x%02x: %s", i, masks[m], colog_errname(rc));
        }
        cr_assert_eq(pwrite(fd, &f[i], 1, (off_t)i), 1);
    }
    close(fd);
    cr_assert_eq(try_read(name, type), 0);
    free(f);
}

Test(dictfile, every_byte_corrupt)
{
    static const char *const e[6] = {"alice", "bob", "carol", "dave", "eve", "mallory"};
    struct strs s;
    make_strs(&s, e, 6);
    cr_assert_eq(colog__dict_write(dfd, "s.dict", &s.v, NULL, NULL, NULL), 0);
    flip_all("s.dict", COLOG_T_STRING);

    colog_ip_t ips[4] = {ip4(1, 2, 3, 4), ip4(9, 9, 9, 9), ip4(10, 0, 0, 1), ip4(192, 168, 1, 1)};
    colog_dictview_t iv = {.type = COLOG_T_IP, .n = 4, .ips = ips};
    cr_assert_eq(colog__dict_write(dfd, "i.dict", &iv, NULL, NULL, NULL), 0);
    flip_all("i.dict", COLOG_T_IP);
}

Test(dictfile, truncated_corrupt)
{
    static const char *const e[3] = {"GET", "POST", "PUT"};
    struct strs s;
    make_strs(&s, e, 3);
    cr_assert_eq(colog__dict_write(dfd, "t.dict", &s.v, NULL, NULL, NULL), 0);
    size_t len;
    uint8_t *f = slurp("t.dict", &len);
    for (size_t l = 0; l < len; l++) {
        put_file("t.dict", f, l);
        int rc = try_read("t.dict", COLOG_T_STRING);
        cr_assert_eq(rc, l < 4 ? COLOG_ENOTCOLOG : COLOG_ECORRUPT, "length %zu: %s", l,
                     colog_errname(rc));
    }
    uint8_t *g = calloc(1, len + 1);
    memcpy(g, f, len);
    put_file("t.dict", g, len + 1);
    cr_assert_eq(try_read("t.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    free(g);
    free(f);
}

Test(dictfile, header_fields_corrupt)
{
    static const char *const e[2] = {"a", "b"};
    struct strs s;
    make_strs(&s, e, 2);
    cr_assert_eq(colog__dict_write(dfd, "h.dict", &s.v, NULL, NULL, NULL), 0);
    size_t len;
    uint8_t *f = slurp("h.dict", &len);
    uint8_t *g = malloc(len);

    memcpy(g, f, len);
    g[3] = 'X';
    put_file("h.dict", g, len);
    cr_assert_eq(try_read("h.dict", COLOG_T_STRING), COLOG_ENOTCOLOG);

    const uint16_t versions[3] = {0, 3, 0xffff};
    for (int k = 0; k < 3; k++) {
        memcpy(g, f, len);
        colog__put_u16(g + 4, versions[k]);
        put_file("h.dict", g, len);
        cr_assert_eq(try_read("h.dict", COLOG_T_STRING), COLOG_EVERSION);
    }

    /* reserved: header flags; the block entry's flag bits 1..7 and bytes 13..15 */
    const int reserved[5] = {7, 40 + 12, 40 + 13, 40 + 14, 40 + 15};
    const uint8_t val[5] = {1, 2, 1, 1, 1};
    for (int k = 0; k < 5; k++) {
        memcpy(g, f, len);
        g[reserved[k]] |= val[k];
        fix_v2("h.dict", g, len);
        put_file("h.dict", g, len);
        cr_assert_eq(try_read("h.dict", COLOG_T_STRING), COLOG_ECORRUPT);
        cr_assert(strstr(colog_errmsg(), "reserved") != NULL, "%s", colog_errmsg());
    }

    /* n one too many, raw length unchanged: inconsistent */
    memcpy(g, f, len);
    colog__put_u32(g + 8, 3);
    fix_v2("h.dict", g, len);
    put_file("h.dict", g, len);
    cr_assert_eq(try_read("h.dict", COLOG_T_STRING), COLOG_ECORRUPT);

    /* renamed: the seed differs */
    put_file("other.dict", f, len);
    cr_assert_eq(try_read("other.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    free(g);
    free(f);
}

Test(dictfile, spec_built_checks)
{
    uint8_t raw[256];
    static const char *const good[3] = {"a", "b", "c"};
    size_t l = str_raw(raw, good, 3);
    build_dict("ok.dict", 9, 3, raw, l, l);
    cr_assert_eq(try_read("ok.dict", COLOG_T_STRING), 0, "%s", colog_errmsg());

    static const char *const unsorted[3] = {"a", "c", "b"};
    l = str_raw(raw, unsorted, 3);
    build_dict("u.dict", 9, 3, raw, l, l);
    cr_assert_eq(try_read("u.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "ascending") != NULL, "%s", colog_errmsg());

    static const char *const dup[3] = {"a", "b", "b"};
    l = str_raw(raw, dup, 3);
    build_dict("d.dict", 9, 3, raw, l, l);
    cr_assert_eq(try_read("d.dict", COLOG_T_STRING), COLOG_ECORRUPT);

    /* offsets: first not zero; decreasing; last beyond the bytes */
    l = str_raw(raw, good, 3);
    colog__put_u32(raw, 1);
    build_dict("o0.dict", 9, 3, raw, l, l);
    cr_assert_eq(try_read("o0.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    l = str_raw(raw, good, 3);
    colog__put_u32(raw + 4, 3);
    build_dict("o1.dict", 9, 3, raw, l, l);
    cr_assert_eq(try_read("o1.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    l = str_raw(raw, good, 3);
    colog__put_u32(raw + 12, 4);
    build_dict("o2.dict", 9, 3, raw, l, l);
    cr_assert_eq(try_read("o2.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    l = str_raw(raw, good, 3);
    colog__put_u32(raw + 8, 0xffffffffu);
    build_dict("o3.dict", 9, 3, raw, l, l);
    cr_assert_eq(try_read("o3.dict", COLOG_T_STRING), COLOG_ECORRUPT);

    /* raw length field disagreeing with the decompressed size */
    l = str_raw(raw, good, 3);
    build_dict("rl.dict", 9, 3, raw, l, l + 1);
    cr_assert_eq(try_read("rl.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    build_dict("rl2.dict", 9, 3, raw, l, 1ull << 40);
    cr_assert_eq(try_read("rl2.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    /* raw too short for n + 1 offsets */
    build_dict("rl3.dict", 9, 100, raw, l, l);
    cr_assert_eq(try_read("rl3.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    /* n beyond 2^31 */
    build_dict("n.dict", 2, 0x80000001u, raw, l, l);
    cr_assert_eq(try_read("n.dict", COLOG_T_IP), COLOG_ECORRUPT);

    /* ips: unsorted, duplicate, length not 16 n */
    colog_ip_t ips[2] = {ip4(2, 0, 0, 0), ip4(1, 0, 0, 0)};
    build_dict("iu.dict", 2, 2, ips, 32, 32);
    cr_assert_eq(try_read("iu.dict", COLOG_T_IP), COLOG_ECORRUPT);
    ips[1] = ips[0];
    build_dict("id.dict", 2, 2, ips, 32, 32);
    cr_assert_eq(try_read("id.dict", COLOG_T_IP), COLOG_ECORRUPT);
    ips[1] = ip4(3, 0, 0, 0);
    build_dict("iok.dict", 2, 2, ips, 32, 32);
    cr_assert_eq(try_read("iok.dict", COLOG_T_IP), 0, "%s", colog_errmsg());
    build_dict("il.dict", 2, 2, ips, 31, 31);
    cr_assert_eq(try_read("il.dict", COLOG_T_IP), COLOG_ECORRUPT);
    /* unknown type byte */
    build_dict("t.dict", 5, 2, ips, 32, 32);
    cr_assert_eq(try_read("t.dict", COLOG_T_IP), COLOG_ECORRUPT);
}

/* ---------------------------------------------------------------- version 1 (read only) */

Test(dictfile, v1_reads)
{
    /* version 1 files built from the spec open, load (nothing to do) and bound */
    static const char *const e[4] = {"GET", "HEAD", "POST", "PUT"};
    uint8_t raw[256];
    size_t l = str_raw(raw, e, 4);
    build_dict("v1s.dict", 9, 4, raw, l, l);
    colog_dictbuf_t *d;
    cr_assert_eq(try_open("v1s.dict", COLOG_T_STRING, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__dict_size(d), 4);
    cr_assert_eq(colog__dict_load(d), 0);
    const colog_dictview_t *v = colog__dict_view(d);
    cr_assert_eq(v->n, 4);
    for (uint32_t i = 0; i < 4; i++) {
        cr_assert_eq(v->offs[i + 1] - v->offs[i], strlen(e[i]));
        cr_assert_arr_eq(v->bytes + v->offs[i], e[i], strlen(e[i]));
    }
    struct {
        const char *s;
        uint32_t lower, upper;
    } probes[] = {{"", 0, 0},     {"GET", 0, 1}, {"GETS", 1, 1}, {"HEAD", 1, 2}, {"PAT", 2, 2},
                  {"POST", 2, 3}, {"PUT", 3, 4}, {"PUTS", 4, 4}, {"Z", 4, 4}};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        uint32_t pos = 99;
        cr_assert_eq(colog__dict_bound(d, NULL, probes[k].s, strlen(probes[k].s), false, &pos), 0);
        cr_assert_eq(pos, probes[k].lower, "lower %s", probes[k].s);
        cr_assert_eq(colog__dict_bound(d, NULL, probes[k].s, strlen(probes[k].s), true, &pos), 0);
        cr_assert_eq(pos, probes[k].upper, "upper %s", probes[k].s);
    }
    colog__dict_free(d);

    colog_ip_t ips[3] = {ip4(1, 2, 3, 4), ip4(10, 0, 0, 1), ip4(192, 168, 0, 1)};
    build_dict("v1i.dict", 2, 3, ips, 48, 48);
    cr_assert_eq(try_open("v1i.dict", COLOG_T_IP, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__dict_load(d), 0);
    cr_assert_arr_eq(colog__dict_view(d)->ips, ips, 48);
    colog_ip_t k = ip4(10, 0, 0, 1);
    uint32_t pos;
    cr_assert_eq(colog__dict_bound(d, &k, NULL, 0, false, &pos), 0);
    cr_assert_eq(pos, 1);
    cr_assert_eq(colog__dict_bound(d, &k, NULL, 0, true, &pos), 0);
    cr_assert_eq(pos, 2);
    k = ip4(10, 0, 0, 2);
    cr_assert_eq(colog__dict_bound(d, &k, NULL, 0, false, &pos), 0);
    cr_assert_eq(pos, 2);
    colog__dict_free(d);

    /* every flipped byte of a version 1 file is caught too */
    flip_all("v1s.dict", COLOG_T_STRING);
    flip_all("v1i.dict", COLOG_T_IP);
}

/* ---------------------------------------------------------------- version 2 round trips */

/* Test dictionaries: entry i holds the number 2i + 2 (so 2i + 3 lies strictly
 * between entries i and i + 1, and 1 below entry 0). ips: ::ffff:10.0.0.0 + x;
 * strings: "k%07u". */
static colog_ip_t ip_of(uint32_t x)
{
    uint32_t v = (10u << 24) + x;
    return ip4((uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v);
}

static size_t str_of(uint32_t x, char *buf)
{
    snprintf(buf, 16, "k%07u", x);
    return 8;
}

struct tdict {
    colog_dictview_t v;
    colog_ip_t *ips;
    uint32_t *offs;
    char *bytes;
};

static void tdict_make(struct tdict *t, colog_type_t type, uint32_t n)
{
    memset(t, 0, sizeof *t);
    t->v.type = type;
    t->v.n = n;
    if (type == COLOG_T_IP) {
        t->ips = malloc(16 * (size_t)n + 16);
        for (uint32_t i = 0; i < n; i++)
            t->ips[i] = ip_of(2 * i + 2);
        t->v.ips = t->ips;
        return;
    }
    t->offs = malloc(4 * ((size_t)n + 1));
    t->bytes = malloc(8 * (size_t)n + 16);
    for (uint32_t i = 0; i < n; i++) {
        t->offs[i] = 8 * i;
        str_of(2 * i + 2, t->bytes + 8 * (size_t)i);
    }
    t->offs[n] = 8 * n;
    t->v.offs = t->offs;
    t->v.bytes = t->bytes;
}

static void tdict_free(struct tdict *t)
{
    free(t->ips);
    free(t->offs);
    free(t->bytes);
}

/* Bound of the number x (as the dictionary's type) through colog__dict_bound. */
static uint32_t bound_x(colog_dictbuf_t *d, colog_type_t type, uint32_t x, bool upper)
{
    uint32_t pos = 0xdeadbeef;
    int rc;
    if (type == COLOG_T_IP) {
        colog_ip_t ip = ip_of(x);
        rc = colog__dict_bound(d, &ip, NULL, 0, upper, &pos);
    } else {
        char s[16];
        size_t l = str_of(x, s);
        rc = colog__dict_bound(d, NULL, s, l, upper, &pos);
    }
    cr_assert_eq(rc, 0, "bound of %u: %s", x, colog_errmsg());
    return pos;
}

/* Check every probe of interest against the truth (entry i = 2i + 2). */
static void check_bounds(colog_dictbuf_t *d, colog_type_t type, uint32_t n)
{
    /* below the first and above the last, of any form */
    cr_assert_eq(bound_x(d, type, 0, false), 0);
    cr_assert_eq(bound_x(d, type, 1, true), 0);
    cr_assert_eq(bound_x(d, type, 2 * n + 3, false), n);
    cr_assert_eq(bound_x(d, type, 2 * n + 3, true), n);
    uint32_t pos;
    if (type == COLOG_T_IP) {
        colog_ip_t lo, hi;
        memset(&lo, 0, 16);
        memset(&hi, 0xff, 16);
        cr_assert_eq(colog__dict_bound(d, &lo, NULL, 0, false, &pos), 0);
        cr_assert_eq(pos, 0);
        cr_assert_eq(colog__dict_bound(d, &hi, NULL, 0, true, &pos), 0);
        cr_assert_eq(pos, n);
    } else {
        cr_assert_eq(colog__dict_bound(d, NULL, NULL, 0, true, &pos), 0);
        cr_assert_eq(pos, 0);
        cr_assert_eq(colog__dict_bound(d, NULL, "k", 1, false, &pos), 0);
        cr_assert_eq(pos, 0);
        cr_assert_eq(colog__dict_bound(d, NULL, "l", 1, false, &pos), 0);
        cr_assert_eq(pos, n);
        cr_assert_eq(colog__dict_bound(d, NULL, "k\xff", 2, true, &pos), 0);
        cr_assert_eq(pos, n);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = i % 1024;
        if (!(r <= 1 || r >= 1022 || i % 97 == 0 || i + 2 >= n))
            continue;
        cr_assert_eq(bound_x(d, type, 2 * i + 2, false), i, "lower of entry %u", i);
        cr_assert_eq(bound_x(d, type, 2 * i + 2, true), i + 1, "upper of entry %u", i);
        cr_assert_eq(bound_x(d, type, 2 * i + 3, false), i + 1, "lower after entry %u", i);
        cr_assert_eq(bound_x(d, type, 2 * i + 3, true), i + 1, "upper after entry %u", i);
        cr_assert_eq(bound_x(d, type, 2 * i + 1, false), i, "lower before entry %u", i);
        cr_assert_eq(bound_x(d, type, 2 * i + 1, true), i, "upper before entry %u", i);
    }
}

static void round_trip(colog_type_t type, uint32_t n)
{
    struct tdict t;
    tdict_make(&t, type, n);
    const char *name = type == COLOG_T_IP ? "rt_ip.dict" : "rt_s.dict";
    unlinkat(dfd, name, 0);
    cr_assert_eq(colog__dict_write(dfd, name, &t.v, NULL, NULL, NULL), 0, "%s", colog_errmsg());

    /* the header: version 2, n, ceil(n / 1024) blocks (8-byte strings: the
     * 1024-entry limit comes first) */
    size_t len;
    uint8_t *f = slurp(name, &len);
    cr_assert_eq(colog__get_u16(f + 4), 2);
    cr_assert_eq(colog__get_u32(f + 8), n);
    cr_assert_eq(colog__get_u32(f + 12), (n + 1023) / 1024, "blocks for %u entries", n);
    free(f);

    /* lazily: size known, nothing loaded, bounds right */
    colog_dictbuf_t *d;
    cr_assert_eq(try_open(name, type, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__dict_size(d), n);
    cr_assert_eq(colog__dict_view(d)->n, 0, "not loaded yet");
    check_bounds(d, type, n);
    /* loaded: the view is the dictionary, the bounds the same */
    cr_assert_eq(colog__dict_load(d), 0, "%s", colog_errmsg());
    const colog_dictview_t *v = colog__dict_view(d);
    cr_assert_eq(v->type, type);
    cr_assert_eq(v->n, n);
    if (type == COLOG_T_IP) {
        if (n)
            cr_assert_arr_eq(v->ips, t.ips, 16 * (size_t)n);
    } else {
        cr_assert_arr_eq(v->offs, t.offs, 4 * ((size_t)n + 1));
        if (n)
            cr_assert_arr_eq(v->bytes, t.bytes, 8 * (size_t)n);
    }
    check_bounds(d, type, n);
    colog__dict_free(d);

    /* colog__dict_read: the same view */
    cr_assert_eq(colog__dict_read(dfd, name, type, NULL, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__dict_view(d)->n, n);
    if (n && type == COLOG_T_IP)
        cr_assert_arr_eq(colog__dict_view(d)->ips, t.ips, 16 * (size_t)n);
    if (n && type == COLOG_T_STRING)
        cr_assert_arr_eq(colog__dict_view(d)->bytes, t.bytes, 8 * (size_t)n);
    colog__dict_free(d);
    tdict_free(&t);
}

Test(dictfile, v2_round_trip_ip)
{
    const uint32_t ns[6] = {0, 1, 1023, 1024, 1025, 100000};
    for (int k = 0; k < 6; k++)
        round_trip(COLOG_T_IP, ns[k]);
}

Test(dictfile, v2_round_trip_string)
{
    const uint32_t ns[6] = {0, 1, 1023, 1024, 1025, 100000};
    for (int k = 0; k < 6; k++)
        round_trip(COLOG_T_STRING, ns[k]);
}

Test(dictfile, v2_long_strings)
{
    /* 60 entries of 3000 bytes ("%02u" then 'x's), then one of 200000 bytes,
     * then 3 short: blocks of at most 65536 string bytes (21 entries), the long
     * one alone */
    uint32_t n = 64;
    uint32_t *offs = malloc(4 * (n + 1));
    char *bytes = malloc(60 * 3000 + 200000 + 64);
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l = i < 60 ? 3000 : i == 60 ? 200000 : 3;
        offs[i] = at;
        memset(bytes + at, 'x', l);
        bytes[at] = (char)('0' + i / 10);
        bytes[at + 1] = (char)('0' + i % 10);
        at += l;
    }
    offs[n] = at;
    colog_dictview_t v = {.type = COLOG_T_STRING, .n = n, .offs = offs, .bytes = bytes};
    cr_assert_eq(colog__dict_write(dfd, "long.dict", &v, NULL, NULL, NULL), 0, "%s",
                 colog_errmsg());
    size_t len;
    uint8_t *f = slurp("long.dict", &len);
    uint32_t nb = colog__get_u32(f + 12);
    /* 21 + 21 + 18 entries of 3000 bytes, the long one, the 3 short ones */
    cr_assert_eq(nb, 5);
    const uint32_t firsts[5] = {0, 21, 42, 60, 61};
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *e = f + 40 + 32 * b;
        cr_assert_eq(colog__get_u32(e), firsts[b], "block %u", b);
        uint32_t cnt = (b + 1 < nb ? firsts[b + 1] : n) - firsts[b];
        uint32_t sb = colog__get_u32(e + 8) - 4 * (cnt + 1);
        cr_assert(sb <= 65536 || cnt == 1, "block %u: %u string bytes", b, sb);
        cr_assert_eq(colog__get_u32(e + 28), offs[firsts[b] + 1] - offs[firsts[b]], "fence");
    }
    free(f);
    colog_dictbuf_t *d;
    cr_assert_eq(try_open("long.dict", COLOG_T_STRING, &d), 0, "%s", colog_errmsg());
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos;
        cr_assert_eq(
            colog__dict_bound(d, NULL, bytes + offs[i], offs[i + 1] - offs[i], false, &pos), 0,
            "%s", colog_errmsg());
        cr_assert_eq(pos, i);
        cr_assert_eq(colog__dict_bound(d, NULL, bytes + offs[i], 2, true, &pos), 0);
        cr_assert_eq(pos, i, "a proper prefix sorts first");
    }
    cr_assert_eq(colog__dict_load(d), 0, "%s", colog_errmsg());
    cr_assert_arr_eq(colog__dict_view(d)->bytes, bytes, at);
    colog__dict_free(d);
    free(offs);
    free(bytes);
}

/* ---------------------------------------------------------------- version 2 damage */

/* 5000 ips (entry i = 2i + 2): blocks 0..3 of 1024 entries and block 4 of 904. */
static uint8_t *five_blocks(size_t *len, uint64_t *block3, uint32_t *clen3)
{
    struct tdict t;
    tdict_make(&t, COLOG_T_IP, 5000);
    cr_assert_eq(colog__dict_write(dfd, "b.dict", &t.v, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    tdict_free(&t);
    uint8_t *f = slurp("b.dict", len);
    cr_assert_eq(colog__get_u32(f + 12), 5);
    uint64_t off = 40 + colog__get_u64(f + 16);
    for (uint32_t b = 0; b < 3; b++)
        off += colog__get_u32(f + 40 + 40 * b + 4);
    *block3 = off;
    *clen3 = colog__get_u32(f + 40 + 40 * 3 + 4);
    return f;
}

Test(dictfile, v2_damaged_block)
{
    size_t len;
    uint64_t at;
    uint32_t cl;
    uint8_t *f = five_blocks(&len, &at, &cl);
    f[at + cl / 2] ^= 0x10;
    put_file("b.dict", f, len);

    colog_dictbuf_t *d;
    cr_assert_eq(try_open("b.dict", COLOG_T_IP, &d), 0, "the header and directory are intact");
    /* a bound that needs block 3 fails naming it */
    colog_ip_t k = ip_of(2 * (3 * 1024 + 100) + 2);
    uint32_t pos = 77;
    cr_assert_eq(colog__dict_bound(d, &k, NULL, 0, false, &pos), COLOG_ECORRUPT);
    expect_msg("b.dict: block 3", "checksum mismatch");
    cr_assert_eq(pos, 77, "untouched on failure");
    /* bounds on other blocks succeed */
    cr_assert_eq(bound_x(d, COLOG_T_IP, 2 * (1024 + 5) + 2, false), 1024 + 5);
    cr_assert_eq(bound_x(d, COLOG_T_IP, 2 * 4500 + 3, true), 4501);
    cr_assert_eq(bound_x(d, COLOG_T_IP, 2 * 3000 + 2, true), 3001);
    /* load fails, naming the block, and keeps failing the same way */
    cr_assert_eq(colog__dict_load(d), COLOG_ECORRUPT);
    expect_msg("b.dict: block 3", "checksum mismatch");
    cr_assert_eq(colog__dict_load(d), COLOG_ECORRUPT);
    expect_msg("b.dict: block 3", "checksum mismatch");
    cr_assert_eq(colog__dict_view(d)->n, 0);
    cr_assert_eq(bound_x(d, COLOG_T_IP, 2 * 10 + 2, false), 10, "still bounds lazily");
    colog__dict_free(d);
    cr_assert_eq(try_read("b.dict", COLOG_T_IP), COLOG_ECORRUPT);
    free(f);
}

Test(dictfile, v2_damaged_header_directory_truncated)
{
    size_t len;
    uint64_t at;
    uint32_t cl;
    uint8_t *f = five_blocks(&len, &at, &cl);
    uint8_t *g = malloc(len + 1);
    colog_dictbuf_t *d;
    /* every header byte; directory bytes: an entry's fields, a fence, the checksum */
    uint64_t dl = colog__get_u64(f + 16);
    for (size_t i = 0; i < 40 + dl; i += i < 40 ? 1 : 7) {
        memcpy(g, f, len);
        g[i] ^= 0x04;
        put_file("b.dict", g, len);
        int rc = try_open("b.dict", COLOG_T_IP, &d);
        cr_assert(rc == COLOG_ECORRUPT || rc == COLOG_ENOTCOLOG || rc == COLOG_EVERSION,
                  "flip of byte %zu: %s", i, colog_errname(rc));
        if (i >= 40) {
            cr_assert_eq(rc, COLOG_ECORRUPT);
            expect_msg("b.dict", "directory checksum mismatch");
        } else if (i >= 6) {
            cr_assert_eq(rc, COLOG_ECORRUPT);
            expect_msg("b.dict", "header checksum mismatch");
        }
    }
    /* truncated anywhere, or a byte too many */
    for (size_t l = 0; l < len; l += l < 200 ? 1 : 101) {
        put_file("b.dict", f, l);
        int rc = try_open("b.dict", COLOG_T_IP, &d);
        cr_assert_eq(rc, l < 4 ? COLOG_ENOTCOLOG : COLOG_ECORRUPT, "length %zu: %s", l,
                     colog_errname(rc));
    }
    put_file("b.dict", f, len - 1);
    cr_assert_eq(try_open("b.dict", COLOG_T_IP, &d), COLOG_ECORRUPT);
    memcpy(g, f, len);
    g[len] = 0;
    put_file("b.dict", g, len + 1);
    cr_assert_eq(try_open("b.dict", COLOG_T_IP, &d), COLOG_ECORRUPT);
    free(g);
    free(f);
}

Test(dictfile, v2_load_twice)
{
    struct tdict t;
    tdict_make(&t, COLOG_T_STRING, 3000);
    cr_assert_eq(colog__dict_write(dfd, "t.dict", &t.v, NULL, NULL, NULL), 0);
    colog_dictbuf_t *d;
    cr_assert_eq(try_open("t.dict", COLOG_T_STRING, &d), 0);
    cr_assert_eq(colog__dict_load(d), 0);
    const colog_dictview_t *v = colog__dict_view(d);
    const uint32_t *offs = v->offs;
    cr_assert_eq(colog__dict_load(d), 0);
    cr_assert_eq(colog__dict_view(d), v);
    cr_assert_eq(colog__dict_view(d)->offs, offs, "the same view, not a second one");
    cr_assert_eq(v->n, 3000);
    cr_assert_arr_eq(v->bytes, t.bytes, 8 * 3000);
    colog__dict_free(d);
    tdict_free(&t);
}

struct prober {
    colog_dictbuf_t *d;
    uint32_t seed;
    int bad;
};

static void *probe_thread(void *arg)
{
    struct prober *p = arg;
    uint32_t x = p->seed;
    for (int k = 0; k < 3000; k++) {
        x = x * 1103515245u + 12345u;
        uint32_t i = (x >> 8) % 20000;
        colog_ip_t ip = ip_of(2 * i + 2);
        uint32_t lo, hi;
        if (colog__dict_bound(p->d, &ip, NULL, 0, false, &lo) != 0 ||
            colog__dict_bound(p->d, &ip, NULL, 0, true, &hi) != 0 || lo != i || hi != i + 1)
            p->bad++;
    }
    return NULL;
}

Test(dictfile, v2_threads)
{
    /* bounds from four threads while a fifth loads */
    struct tdict t;
    tdict_make(&t, COLOG_T_IP, 20000);
    cr_assert_eq(colog__dict_write(dfd, "th.dict", &t.v, NULL, NULL, NULL), 0);
    tdict_free(&t);
    colog_dictbuf_t *d;
    cr_assert_eq(try_open("th.dict", COLOG_T_IP, &d), 0);
    pthread_t th[4];
    struct prober p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = (struct prober){.d = d, .seed = (uint32_t)k + 1};
        cr_assert_eq(pthread_create(&th[k], NULL, probe_thread, &p[k]), 0);
    }
    cr_assert_eq(colog__dict_load(d), 0);
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        cr_assert_eq(p[k].bad, 0, "thread %d", k);
    }
    colog__dict_free(d);
}

/* ---------------------------------------------------------------- version 2 from the spec */

Test(dictfile, v2_spec_built_strings)
{
    static const char *const b0[2] = {"a", "b"}, *const b1[2] = {"c", "d"};
    uint8_t r0[64], r1[64];
    size_t l0 = str_raw(r0, b0, 2), l1 = str_raw(r1, b1, 2);
    struct vblk bl[2] = {{0, r0, l0, "a", 1, false}, {2, r1, l1, "c", 1, true}};
    size_t len;
    colog_dictbuf_t *d;
    uint32_t pos;

    free(build_v2("ok.dict", 9, 4, bl, 2, &len));
    cr_assert_eq(try_read("ok.dict", COLOG_T_STRING), 0, "%s", colog_errmsg());

    /* block 1's first entry differs from its fence "cc": opens; block 0 reads */
    bl[1].fence = "cc";
    bl[1].fence_len = 2;
    free(build_v2("f.dict", 9, 4, bl, 2, &len));
    cr_assert_eq(try_open("f.dict", COLOG_T_STRING, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__dict_bound(d, NULL, "b", 1, true, &pos), 0, "%s", colog_errmsg());
    cr_assert_eq(pos, 2);
    cr_assert_eq(colog__dict_bound(d, NULL, "d", 1, false, &pos), COLOG_ECORRUPT);
    expect_msg("f.dict: block 1", "fence");
    cr_assert_eq(colog__dict_load(d), COLOG_ECORRUPT);
    expect_msg("f.dict: block 1", "fence");
    colog__dict_free(d);
    bl[1].fence = "c";
    bl[1].fence_len = 1;

    /* across blocks: block 0 ends with "c" >= block 1's fence */
    static const char *const x0[2] = {"a", "c"}, *const x1[2] = {"b", "d"};
    uint8_t q0[64], q1[64];
    struct vblk xb[2] = {{0, q0, str_raw(q0, x0, 2), "a", 1, false},
                         {2, q1, str_raw(q1, x1, 2), "b", 1, false}};
    free(build_v2("x.dict", 9, 4, xb, 2, &len));
    cr_assert_eq(try_open("x.dict", COLOG_T_STRING, &d), 0);
    cr_assert_eq(colog__dict_bound(d, NULL, "aa", 2, true, &pos), COLOG_ECORRUPT);
    expect_msg("x.dict: block 0", "next block's fence");
    cr_assert_eq(colog__dict_bound(d, NULL, "bb", 2, false, &pos), 0, "block 1 is fine");
    cr_assert_eq(pos, 3);
    cr_assert_eq(colog__dict_load(d), COLOG_ECORRUPT);
    colog__dict_free(d);

    /* fences out of order: refused at open */
    struct vblk sw[2] = {{0, r1, l1, "c", 1, false}, {2, r0, l0, "a", 1, false}};
    free(build_v2("sw.dict", 9, 4, sw, 2, &len));
    cr_assert_eq(try_open("sw.dict", COLOG_T_STRING, &d), COLOG_ECORRUPT);
    expect_msg("sw.dict: block 1", "fences not strictly ascending");

    /* entries out of order within a block */
    static const char *const u0[2] = {"b", "a"};
    uint8_t ur[64];
    struct vblk ub[1] = {{0, ur, str_raw(ur, u0, 2), "b", 1, true}};
    free(build_v2("u.dict", 9, 2, ub, 1, &len));
    cr_assert_eq(try_read("u.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    expect_msg("u.dict: block 0", "ascending");

    /* first entries: block 0 not at 0; block 1 not after block 0; past n */
    const uint32_t firsts[3][2] = {{1, 2}, {0, 0}, {0, 5}};
    for (int k = 0; k < 3; k++) {
        bl[0].first = firsts[k][0];
        bl[1].first = firsts[k][1];
        free(build_v2("fi.dict", 9, 4, bl, 2, &len));
        cr_assert_eq(try_open("fi.dict", COLOG_T_STRING, &d), COLOG_ECORRUPT, "firsts %d", k);
        expect_msg("fi.dict: block", "first entries");
    }
    bl[0].first = 0;
    bl[1].first = 2;

    /* n not matching the blocks' entries: 5 (block 1 would hold 3) */
    free(build_v2("n.dict", 9, 5, bl, 2, &len));
    cr_assert_eq(try_read("n.dict", COLOG_T_STRING), COLOG_ECORRUPT);

    /* string offsets of a block out of bounds */
    uint8_t ob[64];
    memcpy(ob, r0, l0);
    colog__put_u32(ob + 8, 3);
    struct vblk obl[1] = {{0, ob, l0, "a", 1, false}};
    free(build_v2("o.dict", 9, 2, obl, 1, &len));
    cr_assert_eq(try_read("o.dict", COLOG_T_STRING), COLOG_ECORRUPT);
    expect_msg("o.dict: block 0", "offsets");

    /* edits of a good file, checksums recomputed */
    uint8_t *f = build_v2("e.dict", 9, 4, bl, 2, &len);
    uint8_t *g = malloc(len + 1);
    const size_t e1 = 40 + 32; /* block 1's entry (LZ4) */
    struct {
        size_t at;
        uint32_t val;
        bool u32;
        bool at_open;
        const char *what;
    } edits[] = {
        {e1 + 12, 1, false, true, "raw length"},   /* RAW flag on an LZ4 block */
        {e1 + 8, 0, true, false, "decompression"}, /* raw length one more (set below) */
        {e1 + 8, 11, true, true, "raw length"},    /* below 4 (count + 1) */
        {40 + 24, 1, true, true, "fence out"},     /* fence offsets not contiguous */
        {e1 + 28, 2, true, true, "fence"},         /* fence past the area */
        {40 + 28, 0, true, true, "fence"},         /* block 0's fence "" */
        {12, 3, true, true, "directory length"},   /* 3 blocks: the directory is too short */
        {12, 5, true, true, "block count"},        /* more blocks than entries */
        {16, 0, true, true, "directory length"},
    };
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        memcpy(g, f, len);
        uint32_t val = edits[k].val;
        if (k == 1)
            val = colog__get_u32(g + e1 + 8) + 1;
        if (edits[k].at == 16)
            colog__put_u64(g + 16, val);
        else if (edits[k].u32)
            colog__put_u32(g + edits[k].at, val);
        else
            g[edits[k].at] = (uint8_t)val;
        fix_v2("e.dict", g, len);
        put_file("e.dict", g, len);
        int rc = try_open("e.dict", COLOG_T_STRING, &d);
        if (!edits[k].at_open) {
            cr_assert_eq(rc, 0, "edit %zu: %s", k, colog_errmsg());
            rc = colog__dict_load(d);
            colog__dict_free(d);
        }
        cr_assert_eq(rc, COLOG_ECORRUPT, "edit %zu", k);
        expect_msg("e.dict", edits[k].what);
    }
    /* a byte after the last block, counted in data_len: blocks do not fill the file */
    memcpy(g, f, len);
    g[len] = 0;
    colog__put_u64(g + 24, colog__get_u64(g + 24) + 1);
    fix_v2("e.dict", g, len + 1);
    put_file("e.dict", g, len + 1);
    cr_assert_eq(try_open("e.dict", COLOG_T_STRING, &d), COLOG_ECORRUPT);
    expect_msg("e.dict", "fill");
    /* a byte more in the fence area */
    uint64_t dl = colog__get_u64(f + 16);
    memcpy(g, f, 40 + dl - 8);
    g[40 + dl - 8] = 'z';
    memcpy(g + 40 + dl - 7, f + 40 + dl - 8, len - (40 + dl - 8));
    colog__put_u64(g + 16, dl + 1);
    fix_v2("e.dict", g, len + 1);
    put_file("e.dict", g, len + 1);
    cr_assert_eq(try_open("e.dict", COLOG_T_STRING, &d), COLOG_ECORRUPT);
    expect_msg("e.dict", "fence bytes do not fill");
    /* the right file, the wrong type */
    put_file("e.dict", f, len);
    cr_assert_eq(try_open("e.dict", COLOG_T_IP, &d), COLOG_ECORRUPT);
    free(g);
    free(f);
}

static uint32_t bound_ipv(colog_dictbuf_t *d, colog_ip_t ip, bool upper)
{
    uint32_t pos = 0xdeadbeef;
    cr_assert_eq(colog__dict_bound(d, &ip, NULL, 0, upper, &pos), 0, "%s", colog_errmsg());
    return pos;
}

Test(dictfile, v2_spec_built_ips)
{
    colog_ip_t a[2] = {ip4(1, 0, 0, 1), ip4(1, 0, 0, 2)}, b[1] = {ip4(2, 0, 0, 1)};
    struct vblk bl[2] = {{0, a, 32, &a[0], 16, true}, {2, b, 16, &b[0], 16, false}};
    size_t len;
    colog_dictbuf_t *d;
    free(build_v2("ok.dict", 2, 3, bl, 2, &len));
    cr_assert_eq(try_open("ok.dict", COLOG_T_IP, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(bound_ipv(d, ip4(1, 0, 0, 2), true), 2);
    cr_assert_eq(bound_ipv(d, ip4(1, 0, 0, 3), false), 2);
    cr_assert_eq(bound_ipv(d, ip4(2, 0, 0, 1), false), 2);
    cr_assert_eq(bound_ipv(d, ip4(2, 0, 0, 1), true), 3);
    cr_assert_eq(colog__dict_load(d), 0);
    colog__dict_free(d);

    /* fence of block 1 not its first entry */
    colog_ip_t wrong = ip4(1, 5, 0, 0);
    bl[1].fence = &wrong;
    free(build_v2("f.dict", 2, 3, bl, 2, &len));
    cr_assert_eq(try_read("f.dict", COLOG_T_IP), COLOG_ECORRUPT);
    expect_msg("f.dict: block 1", "fence");
    bl[1].fence = &b[0];

    /* raw length not 16 per entry */
    bl[1].rlen = 15;
    free(build_v2("r.dict", 2, 3, bl, 2, &len));
    cr_assert_eq(try_open("r.dict", COLOG_T_IP, &d), COLOG_ECORRUPT);
    expect_msg("r.dict: block 1", "raw length");
    bl[1].rlen = 16;

    /* the directory of an ip file has no fence area */
    uint8_t *f = build_v2("e.dict", 2, 3, bl, 2, &len);
    uint8_t *g = calloc(1, len + 8);
    uint64_t dl = colog__get_u64(f + 16);
    memcpy(g, f, 40 + dl - 8);
    memcpy(g + 40 + dl, f + 40 + dl - 8, len - (40 + dl - 8));
    colog__put_u64(g + 16, dl + 8);
    fix_v2("e.dict", g, len + 8);
    put_file("e.dict", g, len + 8);
    cr_assert_eq(try_open("e.dict", COLOG_T_IP, &d), COLOG_ECORRUPT);
    expect_msg("e.dict", "directory length");
    free(g);
    free(f);

    /* an empty dictionary has no block and a directory of its checksum alone */
    free(build_v2("z.dict", 2, 0, bl, 0, &len));
    cr_assert_eq(len, 48);
    cr_assert_eq(try_open("z.dict", COLOG_T_IP, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(bound_ipv(d, ip4(1, 1, 1, 1), true), 0);
    cr_assert_eq(colog__dict_load(d), 0);
    cr_assert_eq(colog__dict_view(d)->n, 0);
    colog__dict_free(d);
    /* no block for entries */
    free(build_v2("z.dict", 2, 3, bl, 0, &len));
    cr_assert_eq(try_open("z.dict", COLOG_T_IP, &d), COLOG_ECORRUPT);
}
