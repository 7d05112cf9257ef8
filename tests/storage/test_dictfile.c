/*
 * test_dictfile.c — Criterion suite of colog_dictfile.c (dictionary files and
 * the colog_dict_lower_* searches).
 *
 * Layouts are checked byte by byte against docs/FORMAT.md; build_dict writes
 * files from the spec with a correct checksum so that each structural check of
 * the reader (order, offsets, lengths, reserved fields) is hit on its own.
 */
#include "colog_storage_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <sodium.h>
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

    /* "CDCT", version 1, type 9, flags 0, n 4, reserved 0, raw 24 = 5*4 + 4 */
    const uint8_t hdr[24] = {'C', 'D', 'C', 'T', 1,  0, 9, 0, 4, 0, 0, 0,
                             0,   0,   0,   0,   24, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(f, hdr, 24);
    cr_assert_eq(colog__get_u64(f + 24), len - 40);
    uint64_t sum = colog__get_u64(f + 32);
    fix_sum("s.dict", f, len);
    cr_assert_eq(colog__get_u64(f + 32), sum);

    uint8_t raw[64];
    int k = LZ4_decompress_safe((const char *)f + 40, (char *)raw, (int)(len - 40), sizeof raw);
    cr_assert_eq(k, 24);
    const uint8_t want[24] = {0, 0, 0, 0, 0, 0, 0, 0, 1,   0,   0,   0,
                              3, 0, 0, 0, 4, 0, 0, 0, 'a', 'a', 'b', 'b'};
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
    cr_assert_eq(f[6], 2);
    cr_assert_eq(colog__get_u32(f + 8), 3);
    cr_assert_eq(colog__get_u64(f + 16), 48);
    uint8_t raw[48];
    cr_assert_eq(LZ4_decompress_safe((const char *)f + 40, (char *)raw, (int)(len - 40), 48), 48);
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

    memcpy(g, f, len);
    colog__put_u16(g + 4, 2);
    put_file("h.dict", g, len);
    cr_assert_eq(try_read("h.dict", COLOG_T_STRING), COLOG_EVERSION);

    const int reserved[5] = {7, 12, 13, 14, 15};
    for (int k = 0; k < 5; k++) {
        memcpy(g, f, len);
        g[reserved[k]] = 1;
        fix_sum("h.dict", g, len);
        put_file("h.dict", g, len);
        cr_assert_eq(try_read("h.dict", COLOG_T_STRING), COLOG_ECORRUPT);
        cr_assert(strstr(colog_errmsg(), "reserved") != NULL, "%s", colog_errmsg());
    }

    /* n one too many, raw length unchanged: inconsistent */
    memcpy(g, f, len);
    colog__put_u32(g + 8, 3);
    fix_sum("h.dict", g, len);
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
