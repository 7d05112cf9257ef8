/*
 * colog_ledger.c — the store's ledger: an append-only, hash-chained text file
 * (STORE/ledger) that records every change made to the store, and its replay
 * into the state the store should be in. docs/FORMAT.md "Ledger" gives the
 * bytes; colog_ledger.h the contracts.
 *
 * Design. One entry a line, "SEQ TIME KIND k=v ... prev=HEX64 hash=HEX64\n".
 * The hash of a line is SHA-256 (or HMAC-SHA-256 under a key file) of its bytes
 * up to and including its prev hex, and prev is the previous line's hash, so
 * changing, removing, inserting or reordering any line breaks the chain at that
 * point. Hashing is libsodium's; nothing here is hand-written cryptography.
 *
 * The writer (colog__ledger_open / _append) never reads the whole file: it
 * reads the first line (genesis: is the ledger keyed, and by which key?) and
 * the last 2 * COLOG_LEDGER_LINE_MAX bytes (the last complete line, whose hash
 * the next entry chains to). Readers (colog__ledger_load) read everything and
 * check every line; replay folds the entries into the expected set of live
 * parts and active holds.
 *
 * Invariants:
 *  1. Every line the writer appends parses: the kind and fields are checked by
 *     the same code that checks lines on load, and a line with its newline is
 *     at most COLOG_LEDGER_LINE_MAX bytes.
 *  2. An entry reaches the file in one write() of the whole line on an O_APPEND
 *     descriptor followed by fdatasync(), both under l->mu. While l->mu is free,
 *     l->last / l->seq / l->hash describe the file's last line and l->size is
 *     the file's size. A failed write is cut back to l->size; if that, or the
 *     fdatasync, fails, the handle refuses further appends (l->broken): what
 *     the file holds is then unknown.
 *  3. The file never loses a complete line. It is created atomically (a temp
 *     file holding the genesis line, fsynced, then link()ed to its name), and
 *     open cuts only the bytes after the last newline, and only when they are
 *     fewer than a line (a torn append).
 *  4. Nothing read from the file is trusted: lines are bounded, numbers are
 *     range-checked, values are decoded into buffers of known size, and a
 *     corrupt ledger is reported (file, line), never asserted on.
 */
#include "colog_ledger.h"
#include "colog_storage_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* " prev=" HEX64 " hash=" HEX64: the fixed end of every line. */
#define TAIL_LEN 140
/* " hash=" HEX64: the bytes of a line after the hashed ones. */
#define UNHASHED_LEN 70
#define KIND_MAX 15
/* Longest line, without its newline. */
#define LINE_BODY_MAX (COLOG_LEDGER_LINE_MAX - 1)
#define KEY_FILE_MAX 256

/* ---------------------------------------------------------------- hex and numbers */

void colog__hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    if (!out)
        return;
    if (!b)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int colog__unhex(const char *s, size_t slen, uint8_t *b, size_t n)
{
    if (!s || !b || n > SIZE_MAX / 2 || slen != 2 * n)
        return COLOG_EPARSE;
    for (size_t i = 0; i < slen; i++)
        if (hexval(s[i]) < 0)
            return COLOG_EPARSE;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
    return 0;
}

/* n lowercase hex digits (the only form the ledger writes). */
static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Canonical decimal: digits, no leading zero but "0" itself, fits a u64. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Canonical signed decimal ("-0" is not one). */
static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    uint64_t v;
    if (n > 0 && s[0] == '-') {
        if (!parse_u64(s + 1, n - 1, &v) || v == 0 || v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        return true;
    }
    if (!parse_u64(s, n, &v) || v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

/* 16 lowercase hex digits as a u64 (part ids, key ids). */
static bool parse_hex16(const char *s, size_t n, uint64_t *out)
{
    if (n != 16 || !lower_hex(s, 16))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < 16; i++)
        v = v << 4 | (uint64_t)hexval(s[i]);
    *out = v;
    return true;
}

/* ---------------------------------------------------------------- percent-encoding */

static bool raw_ok(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '%' && c != '~';
}

int colog__lenc(const char *s, char *out, size_t cap)
{
    static const char digits[] = "0123456789ABCDEF";
    if (!s || !out)
        return colog_seterr(COLOG_EINVAL, "ledger: encode: NULL argument");
    if (cap == 0)
        return colog_seterr(COLOG_ELIMIT, "ledger: encode: output buffer too small");
    out[0] = '\0';
    if (*s == '\0') {
        if (cap < 2)
            return colog_seterr(COLOG_ELIMIT, "ledger: encode: output buffer too small");
        out[0] = '~';
        out[1] = '\0';
        return 1;
    }
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        size_t need = raw_ok(*p) ? 1 : 3;
        if (need >= cap - o || o + need > INT_MAX) {
            out[0] = '\0';
            return colog_seterr(COLOG_ELIMIT, "ledger: encode: output buffer too small");
        }
        if (need == 1) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = digits[*p >> 4];
            out[o++] = digits[*p & 15];
        }
    }
    out[o] = '\0';
    return (int)o;
}

static int uhexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len) into out (NUL-terminated), or only check it when out is
 * NULL. Only the canonical encoding (what colog__lenc writes) is accepted, so
 * that a value has one spelling: "%XX" in uppercase, only for bytes that must
 * be escaped, never %00; "~" alone for the empty string. No message. */
static int ldec_impl(const char *s, size_t len, char *out, size_t cap)
{
    if (len == 0)
        return COLOG_EPARSE;
    if (len == 1 && s[0] == '~') {
        if (out) {
            if (cap < 1)
                return COLOG_ELIMIT;
            out[0] = '\0';
        }
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i], v;
        if (c == '%') {
            if (len - i < 3)
                return COLOG_EPARSE;
            int hi = uhexval(s[i + 1]), lo = uhexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return COLOG_EPARSE;
            v = (unsigned char)(hi << 4 | lo);
            if (v == 0 || raw_ok(v))
                return COLOG_EPARSE;
            i += 2;
        } else if (raw_ok(c)) {
            v = c;
        } else {
            return COLOG_EPARSE;
        }
        if (out) {
            if (o + 1 >= cap)
                return COLOG_ELIMIT;
            out[o] = (char)v;
        }
        o++;
    }
    if (o > INT_MAX)
        return COLOG_ELIMIT;
    if (out)
        out[o] = '\0';
    return (int)o;
}

int colog__ldec(const char *s, size_t len, char *out, size_t cap)
{
    if ((!s && len) || !out)
        return colog_seterr(COLOG_EINVAL, "ledger: decode: NULL argument");
    int rc = ldec_impl(s, len, out, cap);
    if (rc == COLOG_EPARSE)
        return colog_seterr(rc, "ledger: decode: badly encoded value");
    if (rc == COLOG_ELIMIT)
        return colog_seterr(rc, "ledger: decode: output buffer too small");
    return rc;
}

/* ---------------------------------------------------------------- line syntax */

/* KIND: [a-z][a-z0-9-]*, at most KIND_MAX bytes. */
static bool kind_ok(const char *k, size_t n)
{
    if (n == 0 || n > KIND_MAX || k[0] < 'a' || k[0] > 'z')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
            return false;
    return true;
}

/* Check "k=v k=v ..." (n may be 0): names [a-z0-9_]+ but not prev or hash,
 * values canonically encoded, one space between words. NULL or what is wrong. */
static const char *fields_check(const char *f, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return NULL;
    for (;;) {
        size_t j = i, k = i;
        while (j < n && f[j] != ' ')
            j++;
        while (k < j && f[k] != '=') {
            char c = f[k];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
                return "bad field name";
            k++;
        }
        if (k == i)
            return "field without a name";
        if (k == j)
            return "field without '='";
        if (k - i == 4 && (memcmp(f + i, "prev", 4) == 0 || memcmp(f + i, "hash", 4) == 0))
            return "field named prev or hash";
        if (ldec_impl(f + k + 1, j - k - 1, NULL, 0) < 0)
            return "badly encoded field value";
        if (j == n)
            return NULL;
        i = j + 1;
        if (i == n)
            return "trailing space";
    }
}

/* The next space-delimited word of s[*i..n): [*i, *end). */
static void word(const char *s, size_t n, size_t i, size_t *end)
{
    size_t j = i;
    while (j < n && s[j] != ' ')
        j++;
    *end = j;
}

/* Parse one line (without its '\n'). NULL, or what is wrong. e->line/len point
 * at s. */
static const char *parse_line(const char *s, size_t len, colog_lentry_t *e)
{
    if (len > LINE_BODY_MAX)
        return "line too long";
    if (len < TAIL_LEN + 5)
        return "line too short";
    const char *t = s + len - TAIL_LEN;
    if (memcmp(t, " prev=", 6) != 0 || memcmp(t + 70, " hash=", 6) != 0)
        return "no prev= and hash= at the end";
    if (!lower_hex(t + 6, 64) || !lower_hex(t + 76, 64))
        return "prev or hash is not 64 lowercase hex digits";
    size_t plen = len - TAIL_LEN, j;

    word(s, plen, 0, &j);
    uint64_t seq;
    if (!parse_u64(s, j, &seq))
        return "bad sequence number";
    if (j == plen)
        return "no time";
    size_t i = j + 1;
    word(s, plen, i, &j);
    int64_t time_us;
    if (!parse_i64(s + i, j - i, &time_us))
        return "bad time";
    if (j == plen)
        return "no kind";
    i = j + 1;
    word(s, plen, i, &j);
    if (!kind_ok(s + i, j - i))
        return "bad kind";
    size_t ki = i, kn = j - i;
    if (j < plen) {
        if (j + 1 == plen)
            return "trailing space";
        const char *why = fields_check(s + j + 1, plen - j - 1);
        if (why)
            return why;
    }
    e->seq = seq;
    e->time_us = time_us;
    memcpy(e->kind, s + ki, kn);
    e->kind[kn] = '\0';
    e->line = s;
    e->len = len;
    colog__unhex(t + 6, 64, e->prev, 32);
    colog__unhex(t + 76, 64, e->hash, 32);
    return NULL;
}

/* The fields of a parsed line: [*f, *f + *n). */
static void line_fields(const colog_lentry_t *e, const char **f, size_t *n)
{
    size_t plen = e->len - TAIL_LEN;
    size_t skip = 0, words = 0;
    while (skip < plen && words < 3) {
        if (e->line[skip] == ' ')
            words++;
        skip++;
    }
    *f = e->line + skip;
    *n = words == 3 ? plen - skip : 0;
}

/* SHA-256, or HMAC-SHA-256 under key, of the hashed part of a line. */
static void line_hash(const uint8_t *key, const char *s, size_t n, uint8_t out[32])
{
    if (key)
        crypto_auth_hmacsha256(out, (const unsigned char *)s, n, key);
    else
        crypto_hash_sha256(out, (const unsigned char *)s, n);
}

bool colog__lline_hash_ok(const char *line, size_t len, const uint8_t *key, const uint8_t hash[32])
{
    if (line == NULL || hash == NULL || len < UNHASHED_LEN)
        return false;
    uint8_t h[32];
    line_hash(key, line, len - UNHASHED_LEN, h);
    return sodium_memcmp(h, hash, 32) == 0;
}

static bool entry_hash_ok(const colog_lentry_t *e, const uint8_t *key)
{
    return colog__lline_hash_ok(e->line, e->len, key, e->hash);
}

/* keyid: the first 8 bytes of SHA-256 of the key. */
static void key_id(const uint8_t key[32], uint8_t id[8])
{
    uint8_t h[32];
    crypto_hash_sha256(h, key, 32);
    memcpy(id, h, 8);
}

/* Check a parsed entry 0: seq 0, kind genesis, prev zeros, and exactly the
 * fields "version=1 auth=sha256 keyid=-" or "version=1 auth=hmac-sha256
 * keyid=HEX16". NULL, or what is wrong; *version_bad when only the version is. */
static const char *genesis_check(const colog_lentry_t *e, bool *keyed, uint8_t keyid[8],
                                 bool *version_bad)
{
    static const char plain[] = "version=1 auth=sha256 keyid=-";
    static const char hmac[] = "version=1 auth=hmac-sha256 keyid=";
    const char *f;
    size_t n;
    *version_bad = false;
    if (strcmp(e->kind, "genesis") != 0)
        return "not a genesis entry";
    if (e->seq != 0)
        return "genesis entry with a sequence number other than 0";
    for (int i = 0; i < 32; i++)
        if (e->prev[i])
            return "genesis entry whose prev is not zero";
    line_fields(e, &f, &n);
    if (n < 10 || memcmp(f, "version=1 ", 10) != 0) {
        *version_bad = n >= 8 && memcmp(f, "version=", 8) == 0;
        return *version_bad ? "unsupported ledger version" : "genesis entry without version=";
    }
    if (n == sizeof plain - 1 && memcmp(f, plain, n) == 0) {
        *keyed = false;
        memset(keyid, 0, 8);
        return NULL;
    }
    if (n == sizeof hmac - 1 + 16 && memcmp(f, hmac, sizeof hmac - 1) == 0 &&
        lower_hex(f + n - 16, 16)) {
        *keyed = true;
        colog__unhex(f + n - 16, 16, keyid, 8);
        return NULL;
    }
    return "genesis entry with bad auth= or keyid=";
}

/* ---------------------------------------------------------------- field lookup */

int colog__lfield(const char *line, size_t len, const char *key, char *out, size_t cap)
{
    if (!line || !key || !out || cap == 0)
        return colog_seterr(COLOG_EINVAL, "ledger: field lookup: NULL argument");
    size_t klen = strlen(key);
    if (klen == 0 || strchr(key, '=') || strchr(key, ' '))
        return colog_seterr(COLOG_EINVAL, "ledger: field lookup: bad field name");
    size_t i = 0, words = 0, j;
    while (i < len) {
        word(line, len, i, &j);
        if (words >= 3) {
            if (j - i >= 5 && memcmp(line + i, "prev=", 5) == 0)
                break;
            if (j - i > klen && memcmp(line + i, key, klen) == 0 && line[i + klen] == '=') {
                int rc = ldec_impl(line + i + klen + 1, j - i - klen - 1, out, cap);
                if (rc == COLOG_EPARSE)
                    return colog_seterr(rc, "ledger: field %s: badly encoded value", key);
                if (rc == COLOG_ELIMIT)
                    return colog_seterr(rc, "ledger: field %s: value too long", key);
                return rc;
            }
        }
        words++;
        i = j + 1;
    }
    return -ENOENT;
}

/* ---------------------------------------------------------------- keys */

int colog__ledger_key_load(const char *path, uint8_t key[32])
{
    if (!path || !key)
        return colog_seterr(COLOG_EINVAL, "ledger key: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        return colog_seterr(rc, "%s: open: %s", path, strerror(-rc));
    }
    char buf[KEY_FILE_MAX];
    size_t n = 0;
    int rc = 0;
    while (n < sizeof buf) {
        ssize_t k = read(fd, buf + n, sizeof buf - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            colog_seterr(rc, "%s: read: %s", path, strerror(-rc));
            goto out;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (n == 65 && buf[64] == '\n')
        n = 64;
    if (n != 64 || colog__unhex(buf, 64, key, 32) < 0)
        rc = colog_seterr(COLOG_EPARSE, "%s: not a ledger key (64 hex digits expected)", path);
out:
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return rc;
}

int colog_ledger_keygen(const char *path)
{
    if (!path || !*path)
        return colog_seterr(COLOG_EINVAL, "ledger keygen: no path");
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "ledger keygen: libsodium failed to initialise");
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int rc = -errno;
        if (rc == -EEXIST)
            return colog_seterr(COLOG_EEXIST, "%s: already exists (a key is never overwritten)",
                                path);
        return colog_seterr(rc, "%s: create: %s", path, strerror(-rc));
    }
    uint8_t key[crypto_auth_hmacsha256_KEYBYTES];
    _Static_assert(sizeof key == 32, "HMAC-SHA-256 keys are 32 bytes");
    char text[65 + 1];
    crypto_auth_hmacsha256_keygen(key);
    colog__hex(key, 32, text);
    text[64] = '\n';
    int rc = 0;
    if (fchmod(fd, 0600) < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: chmod: %s", path, strerror(-rc));
        goto out_unlink;
    }
    rc = colog__write_all(fd, text, 65);
    if (rc == 0)
        rc = colog__fsync_fd(fd);
    if (rc < 0) {
        colog_seterr(rc, "%s: write: %s", path, colog_strerror(rc));
        goto out_unlink;
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(text, sizeof text);
    if (close(fd) < 0) {
        rc = -errno;
        fd = -1;
        colog_seterr(rc, "%s: close: %s", path, strerror(-rc));
        goto out_unlink;
    }
    /* the directory entry too */
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    rc = colog__fsync_dir(dir);
    if (rc < 0)
        return colog_seterr(rc, "%s: fsync: %s", dir, colog_strerror(rc));
    return 0;

out_unlink:
    sodium_memzero(key, sizeof key);
    sodium_memzero(text, sizeof text);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return rc;
}

/* ---------------------------------------------------------------- the ends of the file */

/* The first line and the last complete line of an open ledger. */
typedef struct ends {
    char *first; /* malloc'ed, without '\n' */
    size_t first_len;
    char *last; /* malloc'ed, without '\n' */
    size_t last_len;
    uint64_t last_off; /* offset of the last line */
    uint64_t end;      /* just after the last '\n' */
    uint64_t size;     /* of the file */
} ends_t;

static void ends_free(ends_t *t)
{
    free(t->first);
    free(t->last);
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Read the genesis line from the start and the last complete line from the
 * last 2 * COLOG_LEDGER_LINE_MAX bytes (a line and a torn one, at most). */
static int read_ends(int fd, const char *disp, ends_t *t)
{
    struct stat sb;
    int rc;
    memset(t, 0, sizeof *t);
    if (fstat(fd, &sb) < 0) {
        rc = -errno;
        return colog_seterr(rc, "%s: stat: %s", disp, strerror(-rc));
    }
    if (!S_ISREG(sb.st_mode))
        return colog_seterr(COLOG_EINVAL, "%s: not a regular file", disp);
    t->size = (uint64_t)sb.st_size;
    if (t->size == 0)
        return colog_seterr(COLOG_ECORRUPT, "%s: empty file (no genesis entry)", disp);

    size_t cap = 2 * (size_t)COLOG_LEDGER_LINE_MAX;
    char *buf = malloc(cap);
    if (!buf)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", disp);

    size_t hn = t->size < COLOG_LEDGER_LINE_MAX ? (size_t)t->size : COLOG_LEDGER_LINE_MAX;
    rc = colog__pread_all(fd, buf, hn, 0);
    if (rc < 0) {
        colog_seterr(rc, "%s: read: %s", disp, colog_strerror(rc));
        goto out;
    }
    const char *nl = memchr(buf, '\n', hn);
    if (!nl) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: line 1: no complete genesis line", disp);
        goto out;
    }
    t->first_len = (size_t)(nl - buf);
    t->first = dup_bytes(buf, t->first_len);
    if (!t->first)
        goto out_nomem;

    size_t tn = t->size < cap ? (size_t)t->size : cap;
    uint64_t off = t->size - tn;
    rc = colog__pread_all(fd, buf, tn, off);
    if (rc < 0) {
        colog_seterr(rc, "%s: read: %s", disp, colog_strerror(rc));
        goto out;
    }
    const char *p = memrchr(buf, '\n', tn);
    if (!p) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: the last %zu bytes hold no newline", disp, tn);
        goto out;
    }
    size_t pi = (size_t)(p - buf), torn = tn - pi - 1;
    if (torn > LINE_BODY_MAX) {
        rc = colog_seterr(COLOG_ECORRUPT,
                          "%s: offset %llu: ends with %zu bytes without a newline (more than a "
                          "line: not a torn append)",
                          disp, (unsigned long long)(off + pi + 1), torn);
        goto out;
    }
    const char *q = pi ? memrchr(buf, '\n', pi) : NULL;
    size_t start = q ? (size_t)(q - buf) + 1 : 0;
    if (!q && off > 0) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: offset %llu: last line longer than %d bytes", disp,
                          (unsigned long long)(off + pi), LINE_BODY_MAX);
        goto out;
    }
    t->last_off = off + start;
    t->last_len = pi - start;
    t->end = off + pi + 1;
    t->last = dup_bytes(buf + start, t->last_len);
    if (!t->last)
        goto out_nomem;
    free(buf);
    return 0;

out_nomem:
    rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", disp);
out:
    free(buf);
    ends_free(t);
    return rc;
}

/* Parse and check the genesis line and the last line of t. keyed/keyid from
 * the genesis; *key_ok whether the last line's hash could be and was checked
 * with key (or plain SHA-256 when unkeyed). */
static int check_ends(const ends_t *t, const char *disp, colog_lentry_t *g, colog_lentry_t *last,
                      bool *keyed, uint8_t keyid[8])
{
    bool vbad;
    const char *why = parse_line(t->first, t->first_len, g);
    if (why)
        return colog_seterr(COLOG_ECORRUPT, "%s: line 1: %s", disp, why);
    why = genesis_check(g, keyed, keyid, &vbad);
    if (why)
        return colog_seterr(vbad ? COLOG_EVERSION : COLOG_ECORRUPT, "%s: line 1: %s", disp, why);
    why = parse_line(t->last, t->last_len, last);
    if (why)
        return colog_seterr(COLOG_ECORRUPT, "%s: last line (offset %llu): %s", disp,
                            (unsigned long long)t->last_off, why);
    if (t->last_off > 0 && (last->seq == 0 || strcmp(last->kind, "genesis") == 0))
        return colog_seterr(COLOG_ECORRUPT, "%s: last line (offset %llu): a second genesis entry",
                            disp, (unsigned long long)t->last_off);
    return 0;
}

/* ---------------------------------------------------------------- head */

int colog_ledger_head(const char *store_path, uint64_t *seq, char hex[65])
{
    if (!store_path || !seq || !hex)
        return colog_seterr(COLOG_EINVAL, "ledger head: NULL argument");
    char path[PATH_MAX];
    int k = snprintf(path, sizeof path, "%s/%s", store_path, COLOG_LEDGER_FILE);
    if (k < 0 || (size_t)k >= sizeof path)
        return colog_seterr(-ENAMETOOLONG, "%s: path too long", store_path);
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "%s: libsodium failed to initialise", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        if (rc == -ENOENT)
            return colog_seterr(rc, "%s: no ledger (the file is missing)", path);
        return colog_seterr(rc, "%s: open: %s", path, strerror(-rc));
    }
    ends_t t;
    int rc = read_ends(fd, path, &t);
    close(fd);
    if (rc < 0)
        return rc;
    colog_lentry_t g, last;
    bool keyed;
    uint8_t keyid[8];
    rc = check_ends(&t, path, &g, &last, &keyed, keyid);
    if (rc == 0 && !keyed && !entry_hash_ok(&last, NULL))
        rc = colog_seterr(COLOG_ECORRUPT, "%s: last line (offset %llu): hash mismatch (edited?)",
                          path, (unsigned long long)t.last_off);
    if (rc == 0) {
        *seq = last.seq;
        colog__hex(last.hash, 32, hex);
    }
    ends_free(&t);
    return rc;
}

/* ---------------------------------------------------------------- writing */

struct colog_ledger {
    pthread_mutex_t mu;
    int fd; /* O_APPEND */
    bool keyed;
    uint8_t key[32];
    bool broken;   /* a failed append left the file unknown */
    uint64_t size; /* of the file */
    uint64_t seq;  /* of the last entry */
    uint8_t hash[32];
    char *last; /* the last line, NUL-terminated (COLOG_LEDGER_LINE_MAX bytes) */
    size_t last_len;
    char *next; /* where the next line is built (COLOG_LEDGER_LINE_MAX bytes) */
    char disp[256];
};

/* Build the hashed part "SEQ TIME KIND[ FIELDS] prev=HEX" into buf[cap]; its
 * length, or 0 if it would not leave room for " hash=HEX\n" within the line
 * limit and cap. */
static size_t build_line(char *buf, size_t cap, uint64_t seq, int64_t time_us, const char *kind,
                         const char *fields, const uint8_t prev[32])
{
    char phex[65];
    colog__hex(prev, 32, phex);
    int k = snprintf(buf, cap, "%llu %lld %s%s%s prev=%s", (unsigned long long)seq,
                     (long long)time_us, kind, *fields ? " " : "", fields, phex);
    if (k < 0 || (size_t)k + UNHASHED_LEN > LINE_BODY_MAX || (size_t)k + UNHASHED_LEN + 1 > cap)
        return 0;
    return (size_t)k;
}

/* Finish a line: " hash=HEX\n" after the n hashed bytes. Returns the length. */
static size_t seal_line(char *buf, size_t n, const uint8_t *key, uint8_t hash[32])
{
    char hhex[65];
    line_hash(key, buf, n, hash);
    colog__hex(hash, 32, hhex);
    memcpy(buf + n, " hash=", 6);
    memcpy(buf + n + 6, hhex, 64);
    buf[n + UNHASHED_LEN] = '\n';
    return n + UNHASHED_LEN + 1;
}

/* Create dirfd/ledger holding only its genesis line, atomically. */
static int ledger_create(int dirfd, const char *disp, const uint8_t *key)
{
    static const char tmp[] = ".tmp-" COLOG_LEDGER_FILE;
    char line[512], kid[17] = "-";
    uint8_t zero[32] = {0}, hash[32], id[8];
    if (key) {
        key_id(key, id);
        colog__hex(id, 8, kid);
    }
    char fields[96];
    snprintf(fields, sizeof fields, "version=1 auth=%s keyid=%s", key ? "hmac-sha256" : "sha256",
             kid);
    size_t n = build_line(line, sizeof line, 0, colog__now_us(), "genesis", fields, zero);
    assert(n > 0);
    n = seal_line(line, n, key, hash);

    int rc;
    if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT) {
        rc = -errno;
        return colog_seterr(rc, "%s: unlink %s: %s", disp, tmp, strerror(-rc));
    }
    int fd = openat(dirfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        return colog_seterr(rc, "%s: create %s: %s", disp, tmp, strerror(-rc));
    }
    rc = colog__write_all(fd, line, n);
    if (rc == 0)
        rc = colog__fsync_fd(fd);
    close(fd);
    if (rc < 0) {
        colog_seterr(rc, "%s: write %s: %s", disp, tmp, colog_strerror(rc));
        goto out_unlink;
    }
    /* link() does not replace: a ledger that appeared meanwhile is kept. */
    if (linkat(dirfd, tmp, dirfd, COLOG_LEDGER_FILE, 0) < 0 && errno != EEXIST) {
        rc = -errno;
        colog_seterr(rc, "%s: link: %s", disp, strerror(-rc));
        goto out_unlink;
    }
    unlinkat(dirfd, tmp, 0);
    int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        return colog_seterr(rc, "%s: open directory: %s", disp, strerror(-rc));
    }
    rc = colog__fsync_fd(dfd);
    close(dfd);
    if (rc < 0)
        return colog_seterr(rc, "%s: fsync directory: %s", disp, colog_strerror(rc));
    return 0;

out_unlink:
    unlinkat(dirfd, tmp, 0);
    return rc;
}

/* The keyed / key checks of open. */
static int key_check(const char *disp, bool keyed, const uint8_t keyid[8], const uint8_t *key)
{
    char want[17], got[17];
    uint8_t id[8];
    colog__hex(keyid, 8, want);
    if (keyed && !key)
        return colog_seterr(COLOG_EINVAL,
                            "%s: ledger is keyed (hmac-sha256, key id %s): no key given "
                            "(set ledger_key in colog.conf)",
                            disp, want);
    if (!keyed && key)
        return colog_seterr(COLOG_EINVAL,
                            "%s: ledger is not keyed (sha256) but a key was given: refusing "
                            "to mix the two",
                            disp);
    if (keyed) {
        key_id(key, id);
        colog__hex(id, 8, got);
        if (memcmp(id, keyid, 8) != 0)
            return colog_seterr(COLOG_EINVAL,
                                "%s: ledger is keyed (hmac-sha256, key id %s): the key given "
                                "has id %s (wrong key)",
                                disp, want, got);
    }
    return 0;
}

int colog__ledger_open(int dirfd, const char *display, const uint8_t *key, colog_ledger_t **out)
{
    const char *disp = display ? display : COLOG_LEDGER_FILE;
    if (!out || dirfd < 0)
        return colog_seterr(COLOG_EINVAL, "%s: open: bad argument", disp);
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "%s: libsodium failed to initialise", disp);
    int rc, flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
    int fd = openat(dirfd, COLOG_LEDGER_FILE, flags);
    if (fd < 0 && errno == ENOENT) {
        rc = ledger_create(dirfd, disp, key);
        if (rc < 0)
            return rc;
        fd = openat(dirfd, COLOG_LEDGER_FILE, flags);
    }
    if (fd < 0) {
        rc = -errno;
        return colog_seterr(rc, "%s: open: %s", disp, strerror(-rc));
    }
    ends_t t;
    rc = read_ends(fd, disp, &t);
    if (rc < 0)
        goto out_close;
    colog_lentry_t g, last;
    bool keyed;
    uint8_t keyid[8];
    rc = check_ends(&t, disp, &g, &last, &keyed, keyid);
    if (rc == 0)
        rc = key_check(disp, keyed, keyid, key);
    if (rc < 0)
        goto out_ends;
    const uint8_t *hkey = keyed ? key : NULL;
    if (!entry_hash_ok(&g, hkey)) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: line 1: hash mismatch (edited?)", disp);
        goto out_ends;
    }
    if (!entry_hash_ok(&last, hkey)) {
        rc = colog_seterr(COLOG_ECORRUPT,
                          "%s: last line (offset %llu, seq %llu): hash mismatch (edited?)", disp,
                          (unsigned long long)t.last_off, (unsigned long long)last.seq);
        goto out_ends;
    }
    if (t.end < t.size) {
        /* A torn append: cut it, durably, before anything chains to the file. */
        if (ftruncate(fd, (off_t)t.end) < 0) {
            rc = -errno;
            colog_seterr(rc, "%s: cutting a torn last line: %s", disp, strerror(-rc));
            goto out_ends;
        }
        rc = colog__fsync_fd(fd);
        if (rc < 0) {
            colog_seterr(rc, "%s: fsync: %s", disp, colog_strerror(rc));
            goto out_ends;
        }
    }

    colog_ledger_t *l = calloc(1, sizeof *l);
    if (!l)
        goto out_nomem;
    l->last = malloc(COLOG_LEDGER_LINE_MAX);
    l->next = malloc(COLOG_LEDGER_LINE_MAX);
    if (!l->last || !l->next || pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l->last);
        free(l->next);
        free(l);
        goto out_nomem;
    }
    l->fd = fd;
    l->keyed = keyed;
    if (keyed)
        memcpy(l->key, key, 32);
    l->size = t.end;
    l->seq = last.seq;
    memcpy(l->hash, last.hash, 32);
    memcpy(l->last, t.last, t.last_len + 1);
    l->last_len = t.last_len;
    snprintf(l->disp, sizeof l->disp, "%s", disp);
    ends_free(&t);
    *out = l;
    return 0;

out_nomem:
    rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", disp);
out_ends:
    ends_free(&t);
out_close:
    close(fd);
    return rc;
}

int colog__ledger_append(colog_ledger_t *l, const char *kind, const char *fields, int64_t time_us,
                         uint64_t *seq_out)
{
    if (!l || !kind)
        return colog_seterr(COLOG_EINVAL, "ledger append: NULL argument");
    if (!fields)
        fields = "";
    if (!kind_ok(kind, strlen(kind)) || strcmp(kind, "genesis") == 0)
        return colog_seterr(COLOG_EINVAL, "%s: append: bad entry kind '%.32s'", l->disp, kind);
    size_t flen = strnlen(fields, COLOG_LEDGER_LINE_MAX);
    if (flen >= COLOG_LEDGER_LINE_MAX)
        return colog_seterr(COLOG_ELIMIT, "%s: append: %s entry too long", l->disp, kind);
    const char *why = fields_check(fields, flen);
    if (why)
        return colog_seterr(COLOG_EINVAL, "%s: append: %s entry: %s", l->disp, kind, why);
    if (time_us == 0)
        time_us = colog__now_us();

    int rc = 0;
    pthread_mutex_lock(&l->mu);
    if (l->broken) {
        rc = colog_seterr(-EIO, "%s: append: an earlier append failed; reopen the store", l->disp);
        goto out_unlock;
    }
    if (l->seq == UINT64_MAX) {
        rc = colog_seterr(COLOG_ELIMIT, "%s: append: sequence numbers exhausted", l->disp);
        goto out_unlock;
    }
    size_t n =
        build_line(l->next, COLOG_LEDGER_LINE_MAX, l->seq + 1, time_us, kind, fields, l->hash);
    if (n == 0) {
        rc = colog_seterr(COLOG_ELIMIT, "%s: append: %s entry longer than %d bytes", l->disp, kind,
                          LINE_BODY_MAX);
        goto out_unlock;
    }
    uint8_t hash[32];
    n = seal_line(l->next, n, l->keyed ? l->key : NULL, hash);
    rc = colog__write_all(l->fd, l->next, n);
    if (rc < 0) {
        /* Take back whatever part of the line reached the file. */
        if (ftruncate(l->fd, (off_t)l->size) < 0)
            l->broken = true;
        colog_seterr(rc, "%s: append: %s", l->disp, colog_strerror(rc));
        goto out_unlock;
    }
    while (colog__fault("fsync") < 0 || fdatasync(l->fd) < 0) {
        if (errno == EINTR)
            continue;
        rc = -errno;
        l->broken = true;
        colog_seterr(rc, "%s: fdatasync: %s", l->disp, strerror(-rc));
        goto out_unlock;
    }
    l->size += n;
    l->seq++;
    memcpy(l->hash, hash, 32);
    char *tmp = l->last;
    l->last = l->next;
    l->next = tmp;
    l->last_len = n - 1;
    l->last[n - 1] = '\0';
    if (seq_out)
        *seq_out = l->seq;
out_unlock:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

const char *colog__ledger_last(const colog_ledger_t *l, uint64_t *seq, uint8_t hash[32])
{
    if (!l)
        return NULL;
    if (seq)
        *seq = l->seq;
    if (hash)
        memcpy(hash, l->hash, 32);
    return l->last;
}

bool colog__ledger_broken(colog_ledger_t *l)
{
    if (!l)
        return false;
    pthread_mutex_lock(&l->mu);
    bool b = l->broken;
    pthread_mutex_unlock(&l->mu);
    return b;
}

void colog__ledger_close(colog_ledger_t *l)
{
    if (!l)
        return;
    close(l->fd);
    pthread_mutex_destroy(&l->mu);
    sodium_memzero(l->key, sizeof l->key);
    free(l->last);
    free(l->next);
    free(l);
}

/* ---------------------------------------------------------------- loading */

typedef struct reporter {
    colog_problem_fn fn;
    void *ctx;
    const char *disp;
    uint64_t n;
} reporter_t;

static void report(reporter_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(reporter_t *r, const char *fmt, ...)
{
    r->n++;
    if (!r->fn)
        return;
    char msg[1024];
    int k = snprintf(msg, sizeof msg, "%s: ", r->disp);
    if (k < 0 || (size_t)k >= sizeof msg)
        k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    r->fn(r->ctx, msg);
}

/* Check line L (entry e, just parsed) against the previous line's entry (NULL
 * if that line is missing or broken) and the genesis. */
static void check_entry(reporter_t *r, uint64_t L, const colog_lentry_t *e,
                        const colog_lentry_t *prev, uint64_t *expect, const uint8_t *hkey,
                        bool hash_checked)
{
    if (L > 1 && strcmp(e->kind, "genesis") == 0)
        report(r, "line %llu: genesis entry after line 1", (unsigned long long)L);
    if (e->seq != *expect)
        report(r, "line %llu: seq %llu, expected %llu (%s)", (unsigned long long)L,
               (unsigned long long)e->seq, (unsigned long long)*expect,
               e->seq > *expect ? "entries missing" : "duplicate or out of order");
    *expect = e->seq == UINT64_MAX ? UINT64_MAX : e->seq + 1;
    if (prev && memcmp(e->prev, prev->hash, 32) != 0)
        report(r, "line %llu: prev does not match line %llu", (unsigned long long)L,
               (unsigned long long)(L - 1));
    if (hash_checked && !entry_hash_ok(e, hkey))
        report(r, "line %llu: hash mismatch (edited?)", (unsigned long long)L);
}

int colog__ledger_load(int dirfd, const char *display, const uint8_t *key, colog_problem_fn problem,
                       void *ctx, colog_lview_t **out, uint64_t *nproblems)
{
    const char *disp = display ? display : COLOG_LEDGER_FILE;
    if (!out)
        return colog_seterr(COLOG_EINVAL, "%s: load: NULL argument", disp);
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "%s: libsodium failed to initialise", disp);
    colog_lview_t *v = calloc(1, sizeof *v);
    if (!v)
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", disp);
    reporter_t r = {problem, ctx, disp, 0};
    int rc = colog__read_file(dirfd, COLOG_LEDGER_FILE, &v->buf, &v->len);
    if (rc == -ENOENT) {
        v->buf = NULL;
        v->len = 0;
        v->macs_checked = true;
        goto done;
    }
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", colog_errmsg());
        free(v);
        return colog_seterr(rc, "%s: %s", disp, why);
    }
    if (v->len == 0) {
        report(&r, "empty file (no genesis entry)");
        goto done;
    }
    size_t nlines = 0;
    for (const uint8_t *p = v->buf; (p = memchr(p, '\n', v->len - (size_t)(p - v->buf)));)
        nlines++, p++;
    v->e = calloc(nlines ? nlines : 1, sizeof *v->e);
    if (!v->e) {
        colog__lview_free(v);
        return colog_seterr(COLOG_ENOMEM, "%s: out of memory", disp);
    }

    const char *s = (const char *)v->buf;
    size_t pos = 0;
    uint64_t L = 0, expect = 0;
    const uint8_t *hkey = NULL;
    bool hash_checked = true, prev_ok = false;
    while (pos < v->len) {
        const char *nl = memchr(s + pos, '\n', v->len - pos);
        L++;
        if (!nl) {
            report(&r, "line %llu: ends with a partial line (%zu bytes without a newline)",
                   (unsigned long long)L, v->len - pos);
            break;
        }
        size_t len = (size_t)(nl - (s + pos));
        colog_lentry_t *e = &v->e[v->n];
        const char *why = parse_line(s + pos, len, e);
        pos += len + 1;
        if (why) {
            report(&r, "line %llu: %s", (unsigned long long)L, why);
            /* it held one entry, presumably: don't blame the next for its seq */
            expect = expect == UINT64_MAX ? UINT64_MAX : expect + 1;
            if (L == 1) {
                /* No genesis: check hashes as the caller's key says. */
                v->keyed = key != NULL;
                hkey = key;
            }
            prev_ok = false;
            continue;
        }
        if (L == 1) {
            bool vbad;
            why = genesis_check(e, &v->keyed, v->keyid, &vbad);
            if (why) {
                report(&r, "line 1: %s", why);
                v->keyed = key != NULL;
                hkey = key;
            } else if (v->keyed && !key) {
                hash_checked = false;
            } else if (v->keyed) {
                uint8_t id[8];
                key_id(key, id);
                if (memcmp(id, v->keyid, 8) != 0) {
                    char want[17], got[17];
                    colog__hex(v->keyid, 8, want);
                    colog__hex(id, 8, got);
                    report(&r, "line 1: the key given has id %s, the ledger's key id is %s", got,
                           want);
                    hash_checked = false;
                }
                hkey = key;
            } else if (key) {
                report(&r, "line 1: ledger is not keyed (sha256) but a key was given");
            }
        }
        check_entry(&r, L, e, prev_ok && v->n ? &v->e[v->n - 1] : NULL, &expect, hkey,
                    hash_checked);
        v->n++;
        prev_ok = true;
    }
    v->macs_checked = hash_checked;
done:
    if (nproblems)
        *nproblems = r.n;
    *out = v;
    return 0;
}

void colog__lview_free(colog_lview_t *v)
{
    if (!v)
        return;
    free(v->buf);
    free(v->e);
    free(v);
}

/* ---------------------------------------------------------------- replay */

/* Parts seen so far: an append-only array with alive flags and an open
 * addressing table from (day, id) to the newest index of that key. */
typedef struct pset {
    colog_lpart_t *v;
    bool *alive;
    size_t n, cap, nalive;
    size_t *tab; /* index + 1; 0 = empty */
    size_t tabcap;
} pset_t;

static size_t pkey_hash(int32_t day, uint64_t id)
{
    uint64_t x = id ^ ((uint64_t)(uint32_t)day << 32 | (uint32_t)day) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (size_t)x;
}

/* The slot of key (day, id): holding it, or the empty slot where it goes. */
static size_t pset_slot(const pset_t *s, int32_t day, uint64_t id)
{
    size_t mask = s->tabcap - 1, i = pkey_hash(day, id) & mask;
    while (s->tab[i]) {
        const colog_lpart_t *p = &s->v[s->tab[i] - 1];
        if (p->day == day && p->id == id)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static size_t pset_find(const pset_t *s, int32_t day, uint64_t id)
{
    if (!s->tabcap)
        return SIZE_MAX;
    size_t i = pset_slot(s, day, id);
    if (!s->tab[i] || !s->alive[s->tab[i] - 1])
        return SIZE_MAX;
    return s->tab[i] - 1;
}

/* Drop the dead parts, and rebuild the table at tabcap >= 2 * (live + 1). */
static int pset_rebuild(pset_t *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->alive[i]) {
            s->v[k] = s->v[i];
            s->alive[k++] = true;
        }
    s->n = k;
    size_t want = 16;
    while (want < 4 * (k + 1))
        want *= 2;
    size_t *tab = calloc(want, sizeof *tab);
    if (!tab)
        return COLOG_ENOMEM;
    free(s->tab);
    s->tab = tab;
    s->tabcap = want;
    for (size_t i = 0; i < k; i++)
        s->tab[pset_slot(s, s->v[i].day, s->v[i].id)] = i + 1;
    return 0;
}

static int pset_add(pset_t *s, const colog_lpart_t *p)
{
    if (s->n == s->cap) {
        if (s->n > s->nalive && s->n - s->nalive >= s->nalive) {
            if (pset_rebuild(s) < 0)
                return COLOG_ENOMEM;
        } else {
            size_t cap = s->cap ? s->cap * 2 : 64;
            colog_lpart_t *v = realloc(s->v, cap * sizeof *v);
            if (!v)
                return COLOG_ENOMEM;
            s->v = v;
            bool *a = realloc(s->alive, cap * sizeof *a);
            if (!a)
                return COLOG_ENOMEM;
            s->alive = a;
            s->cap = cap;
        }
    }
    if (2 * (s->n + 1) > s->tabcap) {
        if (pset_rebuild(s) < 0)
            return COLOG_ENOMEM;
    }
    s->v[s->n] = *p;
    s->alive[s->n] = true;
    s->tab[pset_slot(s, p->day, p->id)] = s->n + 1;
    s->n++;
    s->nalive++;
    return 0;
}

static void pset_kill(pset_t *s, size_t i)
{
    s->alive[i] = false;
    s->nalive--;
}

static void pset_free(pset_t *s)
{
    free(s->v);
    free(s->alive);
    free(s->tab);
}

static int lpart_cmp(const void *a, const void *b)
{
    const colog_lpart_t *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return 0;
}

/* Replay context. */
typedef struct rctx {
    reporter_t r;
    const colog_lentry_t *e; /* the entry being replayed */
    char *val;               /* COLOG_LEDGER_LINE_MAX bytes: a decoded value */
    uint64_t *ids;           /* parsed id lists */
    size_t idcap;
    pset_t parts;
    colog_hold_t *holds;
    size_t nholds, holdcap;
    uint64_t next_hold_id;
} rctx_t;

#define RPROB(c, ...) report(&(c)->r, __VA_ARGS__)

/* The decoded value of field key of the current entry into c->val: its
 * length, or -1 after reporting why. */
static int rfield(rctx_t *c, const char *key)
{
    int rc = colog__lfield(c->e->line, c->e->len, key, c->val, COLOG_LEDGER_LINE_MAX);
    if (rc >= 0)
        return rc;
    RPROB(c, "entry %llu (%s): %s field %s", (unsigned long long)c->e->seq, c->e->kind,
          rc == -ENOENT ? "no" : "bad", key);
    return -1;
}

static bool rfield_u64(rctx_t *c, const char *key, uint64_t *out)
{
    int n = rfield(c, key);
    if (n < 0)
        return false;
    if (!parse_u64(c->val, (size_t)n, out)) {
        RPROB(c, "entry %llu (%s): bad %s '%.40s'", (unsigned long long)c->e->seq, c->e->kind, key,
              c->val);
        return false;
    }
    return true;
}

static bool rfield_day(rctx_t *c, const char *key, int32_t *out)
{
    int n = rfield(c, key);
    if (n < 0)
        return false;
    if (colog_day_parse(c->val, (size_t)n, out) < 0) {
        RPROB(c, "entry %llu (%s): bad %s '%.40s'", (unsigned long long)c->e->seq, c->e->kind, key,
              c->val);
        return false;
    }
    return true;
}

static bool rfield_hex(rctx_t *c, const char *key, uint8_t *out, size_t nbytes)
{
    int n = rfield(c, key);
    if (n < 0)
        return false;
    if ((size_t)n != 2 * nbytes || !lower_hex(c->val, (size_t)n)) {
        RPROB(c, "entry %llu (%s): bad %s '%.40s'", (unsigned long long)c->e->seq, c->e->kind, key,
              c->val);
        return false;
    }
    colog__unhex(c->val, (size_t)n, out, nbytes);
    return true;
}

static bool rfield_hex16(rctx_t *c, const char *key, uint64_t *out)
{
    int n = rfield(c, key);
    if (n < 0)
        return false;
    if (!parse_hex16(c->val, (size_t)n, out)) {
        RPROB(c, "entry %llu (%s): bad %s '%.40s'", (unsigned long long)c->e->seq, c->e->kind, key,
              c->val);
        return false;
    }
    return true;
}

static bool parse_tier(const char *s, size_t n, colog_tier_t *t)
{
    if (n == 3 && memcmp(s, "hot", 3) == 0)
        *t = COLOG_TIER_HOT;
    else if (n == 4 && memcmp(s, "cold", 4) == 0)
        *t = COLOG_TIER_COLD;
    else
        return false;
    return true;
}

/* Parse the list in c->val[0..n): "-" (empty) or comma-separated items, each
 * HEX16, or TIER:HEX16 when with_tier. Ids into c->ids, tiers into tiers[]. */
static bool parse_list(rctx_t *c, const char *key, size_t n, bool with_tier, colog_tier_t *tiers,
                       size_t *count)
{
    *count = 0;
    if (n == 1 && c->val[0] == '-')
        return true;
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < n && c->val[j] != ',')
            j++;
        colog_tier_t t = COLOG_TIER_HOT;
        size_t a = i;
        if (with_tier) {
            const char *colon = memchr(c->val + i, ':', j - i);
            if (!colon || !parse_tier(c->val + i, (size_t)(colon - (c->val + i)), &t))
                goto bad;
            a = (size_t)(colon - c->val) + 1;
        }
        uint64_t id;
        if (*count >= c->idcap || !parse_hex16(c->val + a, j - a, &id))
            goto bad;
        c->ids[*count] = id;
        if (tiers)
            tiers[*count] = t;
        (*count)++;
        if (j == n)
            return true;
        i = j + 1;
    }
bad:
    RPROB(c, "entry %llu (%s): bad %s list", (unsigned long long)c->e->seq, c->e->kind, key);
    return false;
}

static int replay_commit(rctx_t *c)
{
    const colog_lentry_t *e = c->e;
    colog_lpart_t p = {0};
    colog_tier_t tier;
    int n = rfield(c, "op");
    if (n < 0)
        return 0;
    if (strcmp(c->val, "ingest") != 0 && strcmp(c->val, "merge") != 0 &&
        strcmp(c->val, "move") != 0 && strcmp(c->val, "restore") != 0) {
        RPROB(c, "entry %llu (commit): unknown op '%.20s'", (unsigned long long)e->seq, c->val);
        return 0;
    }
    if (!rfield_day(c, "day", &p.day))
        return 0;
    if ((n = rfield(c, "tier")) < 0)
        return 0;
    if (!parse_tier(c->val, (size_t)n, &tier)) {
        RPROB(c, "entry %llu (commit): bad tier '%.20s'", (unsigned long long)e->seq, c->val);
        return 0;
    }
    p.tier = tier;
    if (!rfield_hex16(c, "part", &p.id) || !rfield_u64(c, "rows", &p.rows) ||
        !rfield_hex(c, "manifest", p.manifest, 32))
        return 0;
    bool has_arch = colog__lfield(e->line, e->len, "archive", c->val, 2) != -ENOENT;
    bool has_orig = colog__lfield(e->line, e->len, "orig", c->val, 2) != -ENOENT;
    if (has_arch != has_orig) {
        RPROB(c, "entry %llu (commit): archive= and orig= go together", (unsigned long long)e->seq);
        return 0;
    }
    if (has_arch && (!rfield_hex(c, "archive", p.archive, 32) || !rfield_hex16(c, "orig", &p.orig)))
        return 0;
    if ((n = rfield(c, "sup")) < 0)
        return 0;
    size_t nsup;
    if (!parse_list(c, "sup", (size_t)n, false, NULL, &nsup))
        return 0;
    for (size_t i = 0; i < nsup; i++)
        if (c->ids[i] == p.id) {
            RPROB(c, "entry %llu (commit): part %016llx supersedes itself",
                  (unsigned long long)e->seq, (unsigned long long)p.id);
            return 0;
        }
    char dtxt[16];
    if (pset_find(&c->parts, p.day, p.id) != SIZE_MAX) {
        colog_day_format(p.day, dtxt, sizeof dtxt);
        RPROB(c, "entry %llu (commit): part %s/%016llx is already live", (unsigned long long)e->seq,
              dtxt, (unsigned long long)p.id);
        return 0;
    }
    /* The superseded parts go (a sup id that is not live was replaced before). */
    for (size_t i = 0; i < nsup; i++) {
        size_t k = pset_find(&c->parts, p.day, c->ids[i]);
        if (k != SIZE_MAX)
            pset_kill(&c->parts, k);
    }
    p.seq = e->seq;
    return pset_add(&c->parts, &p);
}

static int replay_delete(rctx_t *c, colog_tier_t *tiers)
{
    const colog_lentry_t *e = c->e;
    int32_t day;
    uint64_t rows;
    int n;
    if (!rfield_day(c, "day", &day) || (n = rfield(c, "why")) < 0)
        return 0;
    if (strcmp(c->val, "retain") != 0 && strcmp(c->val, "archive") != 0 &&
        strcmp(c->val, "restore-undo") != 0) {
        RPROB(c, "entry %llu (delete): unknown why '%.20s'", (unsigned long long)e->seq, c->val);
        return 0;
    }
    if (!rfield_u64(c, "rows", &rows))
        return 0;
    if ((n = rfield(c, "parts")) < 0)
        return 0;
    size_t np;
    if (!parse_list(c, "parts", (size_t)n, true, tiers, &np))
        return 0;
    char dtxt[16];
    colog_day_format(day, dtxt, sizeof dtxt);
    for (size_t i = 0; i < np; i++) {
        size_t k = pset_find(&c->parts, day, c->ids[i]);
        if (k == SIZE_MAX) {
            RPROB(c, "entry %llu (delete): part %s:%s/%016llx is not live",
                  (unsigned long long)e->seq, colog_tier_name(tiers[i]), dtxt,
                  (unsigned long long)c->ids[i]);
            continue;
        }
        if (c->parts.v[k].tier != tiers[i])
            RPROB(c, "entry %llu (delete): part %s/%016llx is in %s, not %s",
                  (unsigned long long)e->seq, dtxt, (unsigned long long)c->ids[i],
                  colog_tier_name(c->parts.v[k].tier), colog_tier_name(tiers[i]));
        pset_kill(&c->parts, k);
    }
    return 0;
}

static void replay_archive(rctx_t *c)
{
    int32_t day;
    uint64_t nparts, rows;
    uint8_t h[32];
    if (!rfield_day(c, "day", &day) || rfield(c, "file") < 0 || !rfield_hex(c, "sha256", h, 32) ||
        !rfield_hex(c, "index", h, 32) || !rfield_u64(c, "parts", &nparts))
        return;
    rfield_u64(c, "rows", &rows);
}

/* Reason: 1..511 bytes. */
static bool rfield_reason(rctx_t *c, char reason[512])
{
    int n = rfield(c, "reason");
    if (n < 0)
        return false;
    if (n == 0 || n >= 512) {
        RPROB(c, "entry %llu (%s): reason of %d bytes (1..511 expected)",
              (unsigned long long)c->e->seq, c->e->kind, n);
        return false;
    }
    memcpy(reason, c->val, (size_t)n + 1);
    return true;
}

static int replay_hold_add(rctx_t *c)
{
    const colog_lentry_t *e = c->e;
    colog_hold_t h = {0};
    if (!rfield_u64(c, "id", &h.id) || !rfield_day(c, "from", &h.from) ||
        !rfield_day(c, "to", &h.to) || !rfield_reason(c, h.reason))
        return 0;
    if (h.id == 0 || h.id == UINT64_MAX || h.id < c->next_hold_id) {
        RPROB(c, "entry %llu (hold-add): hold id %llu reused or out of order (next is %llu)",
              (unsigned long long)e->seq, (unsigned long long)h.id,
              (unsigned long long)c->next_hold_id);
        return 0;
    }
    if (h.from > h.to) {
        RPROB(c, "entry %llu (hold-add): from after to", (unsigned long long)e->seq);
        return 0;
    }
    h.created = e->time_us;
    if (c->nholds == c->holdcap) {
        size_t cap = c->holdcap ? 2 * c->holdcap : 8;
        colog_hold_t *v = realloc(c->holds, cap * sizeof *v);
        if (!v)
            return COLOG_ENOMEM;
        c->holds = v;
        c->holdcap = cap;
    }
    c->holds[c->nholds++] = h; /* ids grow: the array stays sorted */
    c->next_hold_id = h.id + 1;
    return 0;
}

static void replay_hold_remove(rctx_t *c)
{
    uint64_t id;
    char reason[512];
    if (!rfield_u64(c, "id", &id) || !rfield_reason(c, reason))
        return;
    for (size_t i = 0; i < c->nholds; i++)
        if (c->holds[i].id == id) {
            memmove(&c->holds[i], &c->holds[i + 1], (c->nholds - i - 1) * sizeof *c->holds);
            c->nholds--;
            return;
        }
    RPROB(c, "entry %llu (hold-remove): hold %llu is not active", (unsigned long long)c->e->seq,
          (unsigned long long)id);
}

/* Index of the entry with sequence number seq among v->e[0..lim), or SIZE_MAX. */
static size_t entry_by_seq(const colog_lview_t *v, size_t lim, bool sorted, uint64_t seq)
{
    if (sorted) {
        size_t lo = 0, hi = lim;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (v->e[mid].seq < seq)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < lim && v->e[lo].seq == seq ? lo : SIZE_MAX;
    }
    for (size_t i = 0; i < lim; i++)
        if (v->e[i].seq == seq)
            return i;
    return SIZE_MAX;
}

/* Pass 1: which commits did an abort undo. */
static void find_aborts(rctx_t *c, const colog_lview_t *v, bool *aborted)
{
    bool sorted = true;
    for (size_t i = 1; i < v->n; i++)
        if (v->e[i].seq <= v->e[i - 1].seq)
            sorted = false;
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->e[i].kind, "abort") != 0)
            continue;
        c->e = &v->e[i];
        uint64_t of;
        if (!rfield_u64(c, "of", &of))
            continue;
        size_t j = of < v->e[i].seq ? entry_by_seq(v, i, sorted, of) : SIZE_MAX;
        if (j == SIZE_MAX)
            RPROB(c, "entry %llu (abort): no earlier entry %llu", (unsigned long long)v->e[i].seq,
                  (unsigned long long)of);
        else if (strcmp(v->e[j].kind, "commit") != 0)
            RPROB(c, "entry %llu (abort): entry %llu is a %s, not a commit",
                  (unsigned long long)v->e[i].seq, (unsigned long long)of, v->e[j].kind);
        else if (aborted[j])
            RPROB(c, "entry %llu (abort): commit %llu was already aborted",
                  (unsigned long long)v->e[i].seq, (unsigned long long)of);
        else
            aborted[j] = true;
    }
}

int colog__ledger_replay(const colog_lview_t *v, colog_problem_fn problem, void *ctx,
                         colog_lstate_t *out, uint64_t *nproblems)
{
    if (!v || !out || (v->n && !v->e))
        return colog_seterr(COLOG_EINVAL, "ledger replay: NULL argument");
    int rc = 0;
    rctx_t c = {.r = {problem, ctx, COLOG_LEDGER_FILE, 0}, .next_hold_id = 1};
    c.idcap = COLOG_LEDGER_LINE_MAX / 17 + 1;
    c.val = malloc(COLOG_LEDGER_LINE_MAX);
    c.ids = malloc(c.idcap * sizeof *c.ids);
    colog_tier_t *tiers = malloc(c.idcap * sizeof *tiers);
    bool *aborted = calloc(v->n ? v->n : 1, sizeof *aborted);
    if (!c.val || !c.ids || !tiers || !aborted)
        goto out_nomem;

    find_aborts(&c, v, aborted);
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        c.e = &v->e[i];
        const char *k = c.e->kind;
        if (strcmp(k, "commit") == 0) {
            if (!aborted[i])
                rc = replay_commit(&c);
        } else if (strcmp(k, "delete") == 0) {
            rc = replay_delete(&c, tiers);
        } else if (strcmp(k, "hold-add") == 0) {
            rc = replay_hold_add(&c);
        } else if (strcmp(k, "hold-remove") == 0) {
            replay_hold_remove(&c);
        } else if (strcmp(k, "archive") == 0) {
            replay_archive(&c);
        } else if (strcmp(k, "genesis") != 0 && strcmp(k, "abort") != 0) {
            RPROB(&c, "entry %llu: unknown kind '%s'", (unsigned long long)c.e->seq, k);
        }
    }
    if (rc < 0)
        goto out_nomem;

    colog_lstate_t s = {0};
    if (c.parts.nalive) {
        s.parts = malloc(c.parts.nalive * sizeof *s.parts);
        if (!s.parts)
            goto out_nomem;
        for (size_t i = 0; i < c.parts.n; i++)
            if (c.parts.alive[i])
                s.parts[s.nparts++] = c.parts.v[i];
        qsort(s.parts, s.nparts, sizeof *s.parts, lpart_cmp);
    }
    s.holds = c.holds;
    s.nholds = c.nholds;
    s.next_hold_id = c.next_hold_id;
    c.holds = NULL;
    *out = s;
    if (nproblems)
        *nproblems = c.r.n;
    goto out;

out_nomem:
    rc = colog_seterr(COLOG_ENOMEM, "ledger replay: out of memory");
out:
    pset_free(&c.parts);
    free(c.holds);
    free(aborted);
    free(tiers);
    free(c.ids);
    free(c.val);
    return rc;
}

void colog__lstate_clear(colog_lstate_t *s)
{
    if (!s)
        return;
    free(s->parts);
    free(s->holds);
    memset(s, 0, sizeof *s);
}

const colog_lpart_t *colog__lstate_find(const colog_lstate_t *s, int32_t day, uint64_t id)
{
    if (!s || !s->nparts)
        return NULL;
    colog_lpart_t key = {.day = day, .id = id};
    return bsearch(&key, s->parts, s->nparts, sizeof *s->parts, lpart_cmp);
}
