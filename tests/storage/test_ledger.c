/*
 * test_ledger.c — the ledger (colog_ledger.c) and legal holds (colog_hold.c)
 * against independent truth: file bytes and hashes recomputed here with
 * libsodium directly, states replayed by hand; every kind of tampering caught
 * at the right line; torn tails; percent-encoding; key files; 4 writer threads.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_store_int.h"

static char dir[256];
static int dfd = -1;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    snprintf(dir, sizeof dir, "/tmp/colog-test-ledger-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert(dfd >= 0);
}

static void teardown(void)
{
    char cmd[300];
    close(dfd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(ledger, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- helpers */

static const uint8_t KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t KEY2[32] = {99};

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = malloc(1 << 24);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, (1 << 24) - 1, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void spit(const char *name, const char *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* The lines of the ledger, each with its '\n'. */
typedef struct lines {
    char *l[4096];
    size_t n;
} lines_t;

static void lines_read(lines_t *ls)
{
    size_t len;
    char *buf = slurp("ledger", &len);
    ls->n = 0;
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        size_t k = nl ? (size_t)(nl - p) + 1 : strlen(p);
        ls->l[ls->n] = strndup(p, k);
        ls->n++;
        p += k;
    }
    free(buf);
}

static void lines_write(lines_t *ls)
{
    size_t len = 0;
    for (size_t i = 0; i < ls->n; i++)
        len += strlen(ls->l[i]);
    char *buf = malloc(len + 1), *p = buf;
    for (size_t i = 0; i < ls->n; i++) {
        size_t k = strlen(ls->l[i]);
        memcpy(p, ls->l[i], k);
        p += k;
    }
    spit("ledger", buf, len);
    free(buf);
}

static void lines_free(lines_t *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->l[i]);
    ls->n = 0;
}

static void hexs(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* Recompute the hash of a line (with or without '\n') as the format says:
 * over its bytes up to and including "prev=HEX64"; write it into the line. */
static void rehash(char *line, const uint8_t *key)
{
    size_t len = strcspn(line, "\n");
    cr_assert_gt(len, 140);
    cr_assert_eq(memcmp(line + len - 70, " hash=", 6), 0);
    uint8_t h[32];
    if (key)
        crypto_auth_hmacsha256(h, (const uint8_t *)line, len - 70, key);
    else
        crypto_hash_sha256(h, (const uint8_t *)line, len - 70);
    char hex[65];
    hexs(h, 32, hex);
    memcpy(line + len - 64, hex, 64);
}

typedef struct probs {
    char msg[64][256];
    size_t n;
} probs_t;

static void on_problem(void *ctx, const char *msg)
{
    probs_t *p = ctx;
    if (p->n < 64)
        snprintf(p->msg[p->n], sizeof p->msg[0], "%s", msg);
    p->n++;
}

static bool has_prob(const probs_t *p, const char *needle)
{
    for (size_t i = 0; i < p->n && i < 64; i++)
        if (strstr(p->msg[i], needle))
            return true;
    return false;
}

static void dump(const probs_t *p)
{
    for (size_t i = 0; i < p->n && i < 64; i++)
        cr_log_info("problem: %s", p->msg[i]);
}

/* Load the ledger and return the number of problems (collected in *p). */
static uint64_t load(const uint8_t *key, probs_t *p, colog_lview_t **vout)
{
    colog_lview_t *v;
    uint64_t n = 99;
    memset(p, 0, sizeof *p);
    cr_assert_eq(colog__ledger_load(dfd, "ledger", key, on_problem, p, &v, &n), 0, "%s",
                 colog_errmsg());
    cr_assert_eq(n, p->n);
    if (getenv("LEDGER_TEST_DUMP"))
        for (size_t i = 0; i < p->n && i < 64; i++)
            fprintf(stderr, "problem: %s\n", p->msg[i]);
    if (vout)
        *vout = v;
    else
        colog__lview_free(v);
    return n;
}

static colog_ledger_t *lopen(const uint8_t *key)
{
    colog_ledger_t *l = NULL;
    cr_assert_eq(colog__ledger_open(dfd, "ledger", key, &l), 0, "%s", colog_errmsg());
    return l;
}

static void commit(colog_ledger_t *l, int i)
{
    char f[256];
    snprintf(f, sizeof f,
             "op=ingest day=2026-03-%02d tier=hot part=%016x rows=%d manifest=%064x sup=-",
             1 + i % 28, i + 1, 100 + i, i);
    cr_assert_eq(colog__ledger_append(l, "commit", f, 1772323200000000LL + i, NULL), 0, "%s",
                 colog_errmsg());
}

/* A closed ledger of genesis + n commits (lines 1..n+1). */
static void make_ledger(int n, const uint8_t *key)
{
    colog_ledger_t *l = lopen(key);
    for (int i = 0; i < n; i++)
        commit(l, i);
    colog__ledger_close(l);
}

/* ---------------------------------------------------------------- bytes */

Test(ledger, genesis_bytes_and_hash)
{
    colog_ledger_t *l = lopen(NULL);
    colog__ledger_close(l);
    size_t len;
    char *buf = slurp("ledger", &len);
    cr_assert_eq(buf[len - 1], '\n');
    cr_assert_null(memchr(buf, '\n', len - 1), "one line");
    long long t;
    int pos = 0;
    cr_assert_eq(sscanf(buf, "0 %lld genesis version=1 auth=sha256 keyid=- %n", &t, &pos), 1);
    cr_assert_gt(pos, 0);
    cr_assert_gt(t, 1700000000000000LL, "time is µs since the epoch");
    char expect_prev[80];
    snprintf(expect_prev, sizeof expect_prev, "prev=%064d hash=", 0);
    cr_assert_eq(strncmp(buf + pos, expect_prev, strlen(expect_prev)), 0, "%s", buf);
    /* the hash: SHA-256 of everything before " hash=" */
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, (const uint8_t *)buf, len - 1 - 70);
    hexs(h, 32, hex);
    cr_assert_eq(strncmp(buf + len - 65, hex, 64), 0);
    cr_assert_eq(len, (size_t)pos + strlen(expect_prev) + 64 + 1);
    free(buf);
    /* the directory holds the ledger only (no temp file left) */
    struct stat sb;
    char p[512];
    snprintf(p, sizeof p, "%s/.tmp-ledger", dir);
    cr_assert_neq(stat(p, &sb), 0);
}

Test(ledger, append_bytes_and_hash)
{
    colog_ledger_t *l = lopen(NULL);
    uint8_t g[32];
    uint64_t seq = 7;
    colog__ledger_last(l, &seq, g);
    cr_assert_eq(seq, 0);
    const char *f = "op=ingest day=2026-03-01 tier=hot part=0000000000000001 rows=3 "
                    "manifest=abababababababababababababababababababababababababababababababab "
                    "sup=-";
    cr_assert_eq(colog__ledger_append(l, "commit", f, 1772323200123456LL, &seq), 0, "%s",
                 colog_errmsg());
    cr_assert_eq(seq, 1);
    char ghex[65], want[1024];
    hexs(g, 32, ghex);
    int k = snprintf(want, sizeof want, "1 1772323200123456 commit %s prev=%s", f, ghex);
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)want, (size_t)k);
    char hhex[65];
    hexs(h, 32, hhex);
    snprintf(want + k, sizeof want - (size_t)k, " hash=%s\n", hhex);
    size_t len;
    char *buf = slurp("ledger", &len);
    const char *second = strchr(buf, '\n') + 1;
    cr_assert_str_eq(second, want);
    /* last: the line without '\n', seq, hash */
    uint8_t lh[32];
    const char *last = colog__ledger_last(l, &seq, lh);
    cr_assert_eq(seq, 1);
    cr_assert_eq(memcmp(lh, h, 32), 0);
    cr_assert_eq(strlen(last), strlen(want) - 1);
    cr_assert_eq(strncmp(last, want, strlen(want) - 1), 0);
    /* an entry without fields */
    cr_assert_eq(colog__ledger_append(l, "note", "", 5, NULL), 0, "%s", colog_errmsg());
    last = colog__ledger_last(l, &seq, NULL);
    cr_assert_eq(strncmp(last, "2 5 note prev=", 14), 0, "%s", last);
    colog__ledger_close(l);
    free(buf);
    probs_t p;
    cr_assert_eq(load(NULL, &p, NULL), 0);
}

Test(ledger, keyed_bytes_and_hmac)
{
    colog_ledger_t *l = lopen(KEY);
    commit(l, 0);
    colog__ledger_close(l);
    lines_t ls;
    lines_read(&ls);
    cr_assert_eq(ls.n, 2);
    uint8_t kh[32];
    char kid[17], want[80];
    crypto_hash_sha256(kh, KEY, 32);
    hexs(kh, 8, kid);
    snprintf(want, sizeof want, " genesis version=1 auth=hmac-sha256 keyid=%s prev=", kid);
    cr_assert_not_null(strstr(ls.l[0], want), "%s", ls.l[0]);
    for (size_t i = 0; i < 2; i++) {
        size_t len = strlen(ls.l[i]) - 1;
        uint8_t h[32];
        char hex[65];
        crypto_auth_hmacsha256(h, (const uint8_t *)ls.l[i], len - 70, KEY);
        hexs(h, 32, hex);
        cr_assert_eq(strncmp(ls.l[i] + len - 64, hex, 64), 0, "line %zu", i + 1);
    }
    /* line 2's prev is line 1's hash */
    size_t l1 = strlen(ls.l[0]) - 1, l2 = strlen(ls.l[1]) - 1;
    cr_assert_eq(strncmp(ls.l[1] + l2 - 134, ls.l[0] + l1 - 64, 64), 0);
    lines_free(&ls);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(KEY, &p, &v), 0);
    cr_assert(v->keyed && v->macs_checked);
    cr_assert_eq(memcmp(v->keyid, kh, 8), 0);
    colog__lview_free(v);
    /* without the key: the chain is read, the MACs cannot be checked */
    cr_assert_eq(load(NULL, &p, &v), 0);
    cr_assert(v->keyed && !v->macs_checked);
    colog__lview_free(v);
}

/* Lines whose hashes were computed outside colog: sha256sum (coreutils) for the
 * plain chain, Python's hmac module for the keyed one (key = bytes 0..31).
 * They are also the example of docs/FORMAT.md "Ledger". */
static const char KAT_PLAIN[] =
    "0 1772323200000000 genesis version=1 auth=sha256 keyid=- "
    "prev=0000000000000000000000000000000000000000000000000000000000000000 "
    "hash=a5ed7e7a8003057f14949bf2a2e766a7aceb6580af3b01431a115712980bcf5c\n"
    "1 1772323261000000 hold-add id=1 from=2026-03-01 to=2026-03-31 reason=case%2042 "
    "prev=a5ed7e7a8003057f14949bf2a2e766a7aceb6580af3b01431a115712980bcf5c "
    "hash=3a6569af7a3e95f35c6d3f5de9709f6d00408579076e3d8c5d6e5abe645b9894\n";
static const char KAT_KEYED[] =
    "0 1772323200000000 genesis version=1 auth=hmac-sha256 keyid=630dcd2966c43366 "
    "prev=0000000000000000000000000000000000000000000000000000000000000000 "
    "hash=ee242be05cedd4d29a226694e47b58fa2b3cf93188f755aab1b1e2ae4a3916e0\n"
    "1 1772323261000000 hold-add id=1 from=2026-03-01 to=2026-03-31 reason=case%2042 "
    "prev=ee242be05cedd4d29a226694e47b58fa2b3cf93188f755aab1b1e2ae4a3916e0 "
    "hash=8881e6911e5694f4eaf9cd3eefa591f473a8ceb04b3f6c5dcdb5510e069484f7\n";

Test(ledger, known_answers)
{
    uint8_t k[32];
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    const char *files[] = {KAT_PLAIN, KAT_KEYED};
    const uint8_t *keys[] = {NULL, k};
    for (int f = 0; f < 2; f++) {
        spit("ledger", files[f], strlen(files[f]));
        probs_t p;
        colog_lview_t *v;
        cr_assert_eq(load(keys[f], &p, &v), 0, "file %d", f);
        cr_assert_eq(v->n, 2);
        cr_assert_eq(v->keyed, f == 1);
        cr_assert(v->macs_checked);
        colog_lstate_t s;
        cr_assert_eq(colog__ledger_replay(v, NULL, NULL, &s, NULL), 0);
        cr_assert_eq(s.nholds, 1);
        cr_assert_str_eq(s.holds[0].reason, "case 42");
        cr_assert_eq(s.holds[0].created, 1772323261000000LL);
        colog__lstate_clear(&s);
        colog__lview_free(v);
        /* the writer chains on from it */
        colog_ledger_t *l = lopen(keys[f]);
        uint8_t h[32];
        uint64_t seq;
        colog__ledger_last(l, &seq, h);
        cr_assert_eq(seq, 1);
        cr_assert_eq(h[0], f ? 0x88 : 0x3a);
        commit(l, 0);
        colog__ledger_close(l);
        cr_assert_eq(load(keys[f], &p, NULL), 0);
    }
}

Test(ledger, many_appends_load_clean)
{
    make_ledger(1000, NULL);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 0);
    cr_assert_eq(v->n, 1001);
    for (size_t i = 0; i < v->n; i++) {
        cr_assert_eq(v->e[i].seq, i);
        if (i)
            cr_assert_eq(memcmp(v->e[i].prev, v->e[i - 1].hash, 32), 0);
    }
    cr_assert_str_eq(v->e[0].kind, "genesis");
    cr_assert_str_eq(v->e[5].kind, "commit");
    cr_assert_eq(v->e[5].time_us, 1772323200000000LL + 4);
    cr_assert(!v->keyed && v->macs_checked);
    colog__lview_free(v);
    /* reopening chains on */
    colog_ledger_t *l = lopen(NULL);
    uint64_t seq;
    colog__ledger_last(l, &seq, NULL);
    cr_assert_eq(seq, 1000);
    commit(l, 1000);
    colog__ledger_close(l);
    cr_assert_eq(load(NULL, &p, NULL), 0);
}

/* ---------------------------------------------------------------- tampering */

Test(ledger, tamper_flipped_byte)
{
    make_ledger(30, NULL);
    lines_t ls;
    lines_read(&ls);
    char *d = strstr(ls.l[16], "rows=");
    d[5] = d[5] == '9' ? '8' : '9';
    lines_write(&ls);
    lines_free(&ls);
    probs_t p;
    cr_assert_eq(load(NULL, &p, NULL), 1);
    dump(&p);
    cr_assert_str_eq(p.msg[0], "ledger: line 17: hash mismatch (edited?)");
}

Test(ledger, tamper_deleted_line)
{
    make_ledger(30, NULL);
    lines_t ls;
    lines_read(&ls);
    free(ls.l[16]);
    memmove(&ls.l[16], &ls.l[17], (ls.n - 17) * sizeof ls.l[0]);
    ls.n--;
    lines_write(&ls);
    lines_free(&ls);
    probs_t p;
    cr_assert_eq(load(NULL, &p, NULL), 2);
    dump(&p);
    cr_assert_str_eq(p.msg[0], "ledger: line 17: seq 17, expected 16 (entries missing)");
    cr_assert_str_eq(p.msg[1], "ledger: line 17: prev does not match line 16");
}

Test(ledger, tamper_truncated_mid_line)
{
    make_ledger(30, NULL);
    size_t len;
    char *buf = slurp("ledger", &len);
    /* cut in the middle of line 20 */
    char *p20 = buf;
    for (int i = 0; i < 19; i++)
        p20 = strchr(p20, '\n') + 1;
    spit("ledger", buf, (size_t)(p20 - buf) + 50);
    free(buf);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 1);
    dump(&p);
    cr_assert_str_eq(p.msg[0], "ledger: line 20: ends with a partial line (50 bytes without a "
                               "newline)");
    cr_assert_eq(v->n, 19);
    colog__lview_free(v);
}

Test(ledger, tamper_swapped_lines)
{
    make_ledger(30, NULL);
    lines_t ls;
    lines_read(&ls);
    char *t = ls.l[16];
    ls.l[16] = ls.l[17];
    ls.l[17] = t;
    lines_write(&ls);
    lines_free(&ls);
    probs_t p;
    cr_assert_geq(load(NULL, &p, NULL), 2);
    dump(&p);
    cr_assert_str_eq(p.msg[0], "ledger: line 17: seq 17, expected 16 (entries missing)");
    cr_assert_str_eq(p.msg[1], "ledger: line 17: prev does not match line 16");
    cr_assert(has_prob(&p, "line 18: seq 16, expected 18"));
    cr_assert(has_prob(&p, "line 18: prev does not match line 17"));
    cr_assert(has_prob(&p, "line 19: prev does not match line 18"));
    cr_assert(!has_prob(&p, "hash mismatch"), "each line is intact");
}

Test(ledger, tamper_edit_and_rehash)
{
    make_ledger(30, NULL);
    lines_t ls;
    lines_read(&ls);
    char *d = strstr(ls.l[16], "rows=");
    d[5] = d[5] == '9' ? '8' : '9';
    rehash(ls.l[16], NULL);
    lines_write(&ls);
    lines_free(&ls);
    probs_t p;
    cr_assert_eq(load(NULL, &p, NULL), 1);
    dump(&p);
    cr_assert_str_eq(p.msg[0], "ledger: line 18: prev does not match line 17");
}

Test(ledger, tamper_last_line_refused_by_open)
{
    make_ledger(5, NULL);
    lines_t ls;
    lines_read(&ls);
    char *d = strstr(ls.l[5], "rows=");
    d[5] = d[5] == '9' ? '8' : '9';
    lines_write(&ls);
    lines_free(&ls);
    colog_ledger_t *l = NULL;
    cr_assert_eq(colog__ledger_open(dfd, "ledger", NULL, &l), COLOG_ECORRUPT);
    cr_assert_null(l);
    cr_assert(strstr(colog_errmsg(), "ledger: last line"), "%s", colog_errmsg());
    cr_assert(strstr(colog_errmsg(), "seq 5): hash mismatch"), "%s", colog_errmsg());
}

Test(ledger, tamper_forged_line_in_keyed_ledger)
{
    make_ledger(10, KEY);
    /* someone without the key appends a line chained to the last one, with a
     * plain SHA-256 (or any other key) as its hash */
    lines_t ls;
    lines_read(&ls);
    size_t ll = strlen(ls.l[10]) - 1;
    char forged[1024];
    int k = snprintf(forged, sizeof forged,
                     "11 1772323300000000 delete day=2026-03-02 why=retain rows=1 "
                     "parts=hot:0000000000000002 prev=%.64s hash=%064d\n",
                     ls.l[10] + ll - 64, 0);
    cr_assert_lt(k, (int)sizeof forged);
    rehash(forged, NULL);
    ls.l[ls.n++] = strdup(forged);
    lines_write(&ls);
    lines_free(&ls);
    probs_t p;
    cr_assert_eq(load(KEY, &p, NULL), 1);
    dump(&p);
    cr_assert_str_eq(p.msg[0], "ledger: line 12: hash mismatch (edited?)");
    /* without the key, nothing can tell */
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 0);
    cr_assert(!v->macs_checked);
    colog__lview_free(v);
    /* and the writer refuses to chain to it */
    colog_ledger_t *l = NULL;
    cr_assert_eq(colog__ledger_open(dfd, "ledger", KEY, &l), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "hash mismatch"), "%s", colog_errmsg());
}

Test(ledger, keys_refused_by_open)
{
    make_ledger(3, KEY);
    colog_ledger_t *l = NULL;
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", KEY2, &l), COLOG_EINVAL);
    cr_assert_null(l);
    cr_assert(strstr(colog_errmsg(), "S/ledger: ledger is keyed (hmac-sha256, key id "), "%s",
              colog_errmsg());
    cr_assert(strstr(colog_errmsg(), "wrong key"), "%s", colog_errmsg());
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", NULL, &l), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "ledger is keyed (hmac-sha256, key id "), "%s",
              colog_errmsg());
    cr_assert(strstr(colog_errmsg(), "no key given"), "%s", colog_errmsg());
    /* loading with the wrong key: one problem, MACs not checked */
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(KEY2, &p, &v), 1);
    cr_assert(strstr(p.msg[0], "line 1: the key given has id"), "%s", p.msg[0]);
    cr_assert(!v->macs_checked);
    colog__lview_free(v);
    /* an unkeyed ledger with a key: refused too (no silent downgrade) */
    unlinkat(dfd, "ledger", 0);
    make_ledger(1, NULL);
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", KEY, &l), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "not keyed"), "%s", colog_errmsg());
    cr_assert_eq(load(KEY, &p, NULL), 1);
    cr_assert(strstr(p.msg[0], "line 1: ledger is not keyed"), "%s", p.msg[0]);
}

Test(ledger, torn_tail_cut_by_open)
{
    make_ledger(4, NULL);
    size_t len;
    char *buf = slurp("ledger", &len);
    char *torn = malloc(len + 64);
    memcpy(torn, buf, len);
    const char *junk = "5 1772323200000009 commit op=ing";
    memcpy(torn + len, junk, strlen(junk));
    spit("ledger", torn, len + strlen(junk));
    probs_t p;
    cr_assert_eq(load(NULL, &p, NULL), 1);
    cr_assert(strstr(p.msg[0], "line 6: ends with a partial line"), "%s", p.msg[0]);
    colog_ledger_t *l = lopen(NULL);
    size_t len2;
    char *after = slurp("ledger", &len2);
    cr_assert_eq(len2, len, "the torn line is cut");
    cr_assert_eq(memcmp(after, buf, len), 0);
    commit(l, 4);
    colog__ledger_close(l);
    cr_assert_eq(load(NULL, &p, NULL), 0);
    free(buf);
    free(torn);
    free(after);
}

Test(ledger, torn_tail_limits)
{
    /* the longest line, then the longest torn tail: both inside the window the
     * writer reads (2 * COLOG_LEDGER_LINE_MAX bytes) */
    colog_ledger_t *l = lopen(NULL);
    commit(l, 0);
    char *f = malloc(COLOG_LEDGER_LINE_MAX);
    size_t n = COLOG_LEDGER_LINE_MAX - 1 - 140 - 6 - 2; /* "2 5 x " "v=" N, 140 */
    memcpy(f, "v=", 2);
    memset(f + 2, 'a', n);
    f[2 + n] = '\0';
    cr_assert_eq(colog__ledger_append(l, "x", f, 5, NULL), 0, "%s", colog_errmsg());
    colog__ledger_close(l);
    free(f);
    size_t len;
    char *buf = slurp("ledger", &len);
    char *big = malloc(len + COLOG_LEDGER_LINE_MAX);
    memcpy(big, buf, len);
    memset(big + len, 'y', COLOG_LEDGER_LINE_MAX);
    spit("ledger", big, len + COLOG_LEDGER_LINE_MAX - 1);
    l = lopen(NULL);
    uint64_t seq;
    colog__ledger_last(l, &seq, NULL);
    cr_assert_eq(seq, 2);
    colog__ledger_close(l);
    size_t len2;
    char *after = slurp("ledger", &len2);
    cr_assert_eq(len2, len);
    free(after);
    /* one byte more is not a torn append */
    spit("ledger", big, len + COLOG_LEDGER_LINE_MAX);
    cr_assert_eq(colog__ledger_open(dfd, "ledger", NULL, &l), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "not a torn append"), "%s", colog_errmsg());
    free(big);
    free(buf);
}

Test(ledger, open_refuses_broken_files)
{
    colog_ledger_t *l = NULL;
    /* an empty ledger is not recreated (that would hide a truncation) */
    spit("ledger", "", 0);
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", NULL, &l), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "S/ledger: empty file"), "%s", colog_errmsg());
    probs_t p;
    cr_assert_eq(load(NULL, &p, NULL), 1);
    /* no newline at all */
    spit("ledger", "0 1 genesis", 11);
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", NULL, &l), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "line 1"), "%s", colog_errmsg());
    /* a garbage tail longer than any line is not a torn append */
    unlinkat(dfd, "ledger", 0);
    make_ledger(1, NULL);
    size_t len;
    char *buf = slurp("ledger", &len);
    char *big = malloc(len + 70000);
    memcpy(big, buf, len);
    memset(big + len, 'x', 70000);
    spit("ledger", big, len + 70000);
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", NULL, &l), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "not a torn append"), "%s", colog_errmsg());
    free(big);
    /* another version */
    char g[512];
    int k = snprintf(g, sizeof g,
                     "0 1 genesis version=2 auth=sha256 keyid=- prev=%064d hash=%064d\n", 0, 0);
    rehash(g, NULL);
    spit("ledger", g, (size_t)k);
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", NULL, &l), COLOG_EVERSION);
    cr_assert(strstr(colog_errmsg(), "unsupported ledger version"), "%s", colog_errmsg());
    /* a second genesis as the last line */
    size_t glen = (size_t)(strchr(buf, '\n') - buf) + 1;
    char *two = malloc(2 * glen);
    memcpy(two, buf, glen);
    memcpy(two + glen, buf, glen);
    spit("ledger", two, 2 * glen);
    cr_assert_eq(colog__ledger_open(dfd, "S/ledger", NULL, &l), COLOG_ECORRUPT);
    cr_assert_eq(load(NULL, &p, NULL), 3, "genesis again, seq 0 again, prev zero");
    dump(&p);
    cr_assert(has_prob(&p, "line 2: genesis entry after line 1"));
    cr_assert(has_prob(&p, "line 2: seq 0, expected 1"));
    cr_assert(has_prob(&p, "line 2: prev does not match line 1"));
    free(two);
    free(buf);
    cr_assert_null(l);
}

Test(ledger, load_missing_file_is_empty)
{
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 0);
    cr_assert_eq(v->n, 0);
    colog_lstate_t s;
    cr_assert_eq(colog__ledger_replay(v, NULL, NULL, &s, NULL), 0);
    cr_assert_eq(s.nparts + s.nholds, 0);
    cr_assert_eq(s.next_hold_id, 1);
    colog__lstate_clear(&s);
    colog__lview_free(v);
}

Test(ledger, syntax_errors_reported_and_skipped)
{
    make_ledger(6, NULL);
    lines_t ls;
    lines_read(&ls);
    /* line 3: two spaces; line 5: uppercase hex in hash */
    char *wide = malloc(strlen(ls.l[2]) + 2);
    char *sp = strchr(ls.l[2], ' ');
    snprintf(wide, strlen(ls.l[2]) + 2, "%.*s %s", (int)(sp - ls.l[2]), ls.l[2], sp);
    free(ls.l[2]);
    ls.l[2] = wide;
    size_t l5 = strlen(ls.l[4]);
    ls.l[4][l5 - 2] = ls.l[4][l5 - 2] == 'a' ? 'B' : 'A';
    lines_write(&ls);
    lines_free(&ls);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 2);
    dump(&p);
    cr_assert(strstr(p.msg[0], "ledger: line 3: bad time"), "%s", p.msg[0]);
    cr_assert(strstr(p.msg[1], "ledger: line 5: prev or hash is not 64 lowercase hex digits"), "%s",
              p.msg[1]);
    /* the others are still there, and lines after a broken one are not blamed */
    cr_assert_eq(v->n, 5);
    colog__lview_free(v);
}

/* ---------------------------------------------------------------- append checks */

Test(ledger, append_validates)
{
    colog_ledger_t *l = lopen(NULL);
    cr_assert_eq(colog__ledger_append(NULL, "x", "", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, NULL, "", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "Commit", "", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "genesis", "", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "a-very-long-kind-name", "", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "x", "a=b  c=d", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "x", "a=b ", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "x", "prev=1", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "x", "a=", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "x", "a=b~", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "x", "A=b", 0, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_append(l, "x", "novalue", 0, NULL), COLOG_EINVAL);
    /* the longest line fits, one byte more does not */
    char *f = malloc(COLOG_LEDGER_LINE_MAX + 8);
    /* "1 5 x " + "v=" + N + 140 = 65535 */
    size_t n = COLOG_LEDGER_LINE_MAX - 1 - 140 - 6 - 2;
    memcpy(f, "v=", 2);
    memset(f + 2, 'a', n);
    f[2 + n] = '\0';
    cr_assert_eq(colog__ledger_append(l, "x", f, 5, NULL), 0, "%s", colog_errmsg());
    f[2 + n] = 'a';
    f[3 + n] = '\0';
    cr_assert_eq(colog__ledger_append(l, "x", f, 5, NULL), COLOG_ELIMIT);
    free(f);
    uint64_t seq;
    colog__ledger_last(l, &seq, NULL);
    cr_assert_eq(seq, 1, "nothing refused reached the file");
    colog__ledger_close(l);
    colog__ledger_close(NULL);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 0);
    cr_assert_eq(v->n, 2);
    cr_assert_eq(v->e[1].len, COLOG_LEDGER_LINE_MAX - 1);
    colog__lview_free(v);
    /* the same ledger reopens: its last line is the longest one */
    l = lopen(NULL);
    colog__ledger_close(l);
}

Test(ledger, null_arguments)
{
    colog_ledger_t *l = NULL;
    colog_lstate_t s;
    char out[8];
    uint8_t b[32];
    cr_assert_eq(colog__ledger_open(dfd, NULL, NULL, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_open(-1, NULL, NULL, &l), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_load(dfd, NULL, NULL, NULL, NULL, NULL, NULL), COLOG_EINVAL);
    cr_assert_eq(colog__ledger_replay(NULL, NULL, NULL, &s, NULL), COLOG_EINVAL);
    cr_assert_null(colog__ledger_last(NULL, NULL, NULL));
    cr_assert_eq(colog__lenc(NULL, out, sizeof out), COLOG_EINVAL);
    cr_assert_eq(colog__lenc("a", NULL, 4), COLOG_EINVAL);
    cr_assert_eq(colog__lenc("a", out, 0), COLOG_ELIMIT);
    cr_assert_eq(colog__ldec(NULL, 3, out, sizeof out), COLOG_EINVAL);
    cr_assert_eq(colog__ldec("a", 1, NULL, 4), COLOG_EINVAL);
    cr_assert_eq(colog__lfield(NULL, 0, "a", out, sizeof out), COLOG_EINVAL);
    cr_assert_eq(colog__lfield("a", 1, NULL, out, sizeof out), COLOG_EINVAL);
    cr_assert_eq(colog__lfield("a", 1, "", out, sizeof out), COLOG_EINVAL);
    cr_assert_eq(colog__unhex(NULL, 0, b, 0), COLOG_EPARSE);
    cr_assert_eq(colog__unhex("0g", 2, b, 1), COLOG_EPARSE);
    cr_assert_eq(colog__unhex("012", 3, b, 1), COLOG_EPARSE);
    cr_assert_eq(colog__unhex("0aFf", 4, b, 2), 0);
    cr_assert_eq(b[0], 0x0a);
    cr_assert_eq(b[1], 0xff);
    char hx[9];
    colog__hex((const uint8_t *)"\x01\xab\xff\x00", 4, hx);
    cr_assert_str_eq(hx, "01abff00");
    cr_assert_null(colog__lstate_find(NULL, 0, 0));
    colog__lstate_clear(NULL);
    colog__lview_free(NULL);
    cr_assert_eq(colog__ledger_key_load(NULL, b), COLOG_EINVAL);
    cr_assert_eq(colog_ledger_keygen(NULL), COLOG_EINVAL);
    uint64_t seq;
    char hex[65];
    cr_assert_eq(colog_ledger_head(NULL, &seq, hex), COLOG_EINVAL);
    cr_assert_eq(colog_hold_add(NULL, 0, 0, "r", NULL), COLOG_EINVAL);
    cr_assert_eq(colog_hold_remove(NULL, 1, "r"), COLOG_EINVAL);
    cr_assert_eq(colog_hold_list(NULL, NULL, NULL), COLOG_EINVAL);
    cr_assert_eq(colog_hold_covers(NULL, 0, NULL), COLOG_EINVAL);
}

/* ---------------------------------------------------------------- percent-encoding */

static void round_trip(const char *s, const char *want)
{
    char enc[2048], dec[1024];
    int n = colog__lenc(s, enc, sizeof enc);
    cr_assert_geq(n, 1, "%s", colog_errmsg());
    cr_assert_eq((size_t)n, strlen(enc));
    if (want)
        cr_assert_str_eq(enc, want);
    for (int i = 0; i < n; i++)
        cr_assert(enc[i] >= 0x21 && enc[i] <= 0x7e, "byte %d of %s", i, enc);
    int m = colog__ldec(enc, (size_t)n, dec, sizeof dec);
    cr_assert_eq(m, (int)strlen(s), "%s: %s", enc, colog_errmsg());
    cr_assert_str_eq(dec, s);
}

Test(ledger, percent_encoding)
{
    round_trip("", "~");
    round_trip("plain", "plain");
    round_trip("a b", "a%20b");
    round_trip("100%", "100%25");
    round_trip("~home", "%7Ehome");
    round_trip("caf\xc3\xa9 \xe4\xb8\xad", "caf%C3%A9%20%E4%B8%AD");
    round_trip("tab\there\nnl\x7f", "tab%09here%0Anl%7F");
    round_trip("k=v,x:y/z", "k=v,x:y/z");
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    round_trip(all, NULL);
    /* output too small: ELIMIT, never past cap */
    char small[6];
    memset(small, 'Z', sizeof small);
    cr_assert_eq(colog__lenc("a b", small, 5), COLOG_ELIMIT);
    cr_assert_eq(small[5], 'Z');
    cr_assert_eq(colog__lenc("a b", small, 6), 5);
    cr_assert_eq(colog__lenc("", small, 1), COLOG_ELIMIT);
    char dec[8];
    cr_assert_eq(colog__ldec("abcdefgh", 8, dec, 8), COLOG_ELIMIT);
    cr_assert_eq(colog__ldec("abcdefg", 7, dec, 8), 7);
    /* only the canonical form decodes */
    const char *bad[] = {"%7e", "%41", "%00", "a~", "~~", "%4", "%", "a b", "%2g", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(colog__ldec(bad[i], strlen(bad[i]), dec, sizeof dec), COLOG_EPARSE, "%s",
                     bad[i]);
    cr_assert_eq(colog__ldec("", 0, dec, sizeof dec), COLOG_EPARSE);
}

Test(ledger, field_lookup)
{
    char line[512];
    snprintf(line, sizeof line,
             "5 100 hold-add idx=9 id=3 from=2026-01-01 to=2026-02-01 reason=legal%%20case "
             "empty=~ bad=%%zz prev=%064d hash=%064d",
             0, 0);
    size_t len = strlen(line);
    char out[64];
    cr_assert_eq(colog__lfield(line, len, "id", out, sizeof out), 1);
    cr_assert_str_eq(out, "3");
    cr_assert_eq(colog__lfield(line, len, "idx", out, sizeof out), 1);
    cr_assert_str_eq(out, "9");
    cr_assert_eq(colog__lfield(line, len, "reason", out, sizeof out), 10);
    cr_assert_str_eq(out, "legal case");
    cr_assert_eq(colog__lfield(line, len, "empty", out, sizeof out), 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(colog__lfield(line, len, "from", out, sizeof out), 10);
    cr_assert_str_eq(out, "2026-01-01");
    cr_assert_eq(colog__lfield(line, len, "nope", out, sizeof out), -ENOENT);
    cr_assert_eq(colog__lfield(line, len, "prev", out, sizeof out), -ENOENT);
    cr_assert_eq(colog__lfield(line, len, "hash", out, sizeof out), -ENOENT);
    cr_assert_eq(colog__lfield(line, len, "hold-add", out, sizeof out), -ENOENT, "the kind");
    cr_assert_eq(colog__lfield(line, len, "5", out, sizeof out), -ENOENT);
    cr_assert_eq(colog__lfield(line, len, "reason", out, 10), COLOG_ELIMIT);
    cr_assert_eq(colog__lfield(line, len, "bad", out, sizeof out), COLOG_EPARSE);
    cr_assert_eq(colog__lfield(line, len, "a=b", out, sizeof out), COLOG_EINVAL);
    /* only len bytes are looked at */
    cr_assert_eq(colog__lfield(line, 20, "id", out, sizeof out), -ENOENT);
}

/* ---------------------------------------------------------------- replay */

#define D1 "2026-03-01"
#define D2 "2026-03-02"
#define D3 "2026-03-03"
#define M(c) "manifest=" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static void app(colog_ledger_t *l, const char *kind, const char *fields, uint64_t *seq)
{
    cr_assert_eq(colog__ledger_append(l, kind, fields, 1772323200000000LL, seq), 0, "%s: %s",
                 fields, colog_errmsg());
}

Test(ledger, replay_by_hand)
{
    colog_ledger_t *l = lopen(NULL);
    uint64_t aborted;
    app(l, "commit",
        "op=ingest day=" D1 " tier=hot part=0000000000000001 rows=10 " M("11") " sup=-", NULL);
    app(l, "commit", "op=ingest day=" D1 " tier=hot part=0000000000000002 rows=5 " M("22") " sup=-",
        NULL);
    app(l, "commit",
        "op=merge day=" D1
        " tier=hot part=0000000000000003 rows=15 " M("33") " sup=0000000000000001,0000000000000002",
        NULL);
    app(l, "commit", "op=ingest day=" D2 " tier=hot part=0000000000000001 rows=7 " M("44") " sup=-",
        NULL);
    app(l, "commit", "op=ingest day=" D2 " tier=hot part=0000000000000002 rows=1 " M("55") " sup=-",
        &aborted);
    char ab[32];
    snprintf(ab, sizeof ab, "of=%llu", (unsigned long long)aborted);
    app(l, "abort", ab, NULL);
    app(l, "commit",
        "op=move day=" D2
        " tier=cold part=0000000000000003 rows=7 " M("66") " sup=0000000000000001",
        NULL);
    app(l, "commit",
        "op=restore day=" D3 " tier=hot part=00000000000000a1 rows=4 " M(
            "77") " sup=- archive="
                  "8888888888888888888888888888888888888888888888888888888888888888"
                  " orig=0000000000000005",
        NULL);
    app(l, "archive",
        "day=" D1 " file=/a/" D1 ".tar "
        "sha256=9999999999999999999999999999999999999999999999999999999999999999 "
        "index=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa parts=1 rows=15",
        NULL);
    app(l, "delete", "day=" D1 " why=archive rows=15 parts=hot:0000000000000003", NULL);
    app(l, "hold-add", "id=1 from=" D1 " to=" D2 " reason=case%201", NULL);
    app(l, "hold-add", "id=2 from=" D3 " to=" D3 " reason=case%202", NULL);
    uint64_t rmseq;
    app(l, "hold-remove", "id=1 reason=closed", &rmseq);
    colog__ledger_close(l);

    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 0);
    colog_lstate_t s;
    uint64_t np = 99;
    memset(&p, 0, sizeof p);
    cr_assert_eq(colog__ledger_replay(v, on_problem, &p, &s, &np), 0, "%s", colog_errmsg());
    dump(&p);
    cr_assert_eq(np, 0);
    int32_t d2, d3;
    colog_day_parse(D2, 10, &d2);
    colog_day_parse(D3, 10, &d3);
    cr_assert_eq(s.nparts, 2);
    cr_assert_eq(s.parts[0].day, d2);
    cr_assert_eq(s.parts[0].id, 3);
    cr_assert_eq(s.parts[0].tier, COLOG_TIER_COLD);
    cr_assert_eq(s.parts[0].rows, 7);
    cr_assert_eq(s.parts[0].manifest[0], 0x66);
    cr_assert_eq(s.parts[0].seq, 7);
    cr_assert_eq(s.parts[0].orig, 0);
    cr_assert_eq(s.parts[1].day, d3);
    cr_assert_eq(s.parts[1].id, 0xa1);
    cr_assert_eq(s.parts[1].tier, COLOG_TIER_HOT);
    cr_assert_eq(s.parts[1].archive[31], 0x88);
    cr_assert_eq(s.parts[1].orig, 5);
    cr_assert_eq(colog__lstate_find(&s, d3, 0xa1), &s.parts[1]);
    cr_assert_null(colog__lstate_find(&s, d2, 2), "aborted");
    cr_assert_null(colog__lstate_find(&s, d2, 1), "moved");
    cr_assert_null(colog__lstate_find(&s, d3, 1));
    cr_assert_eq(s.nholds, 1);
    cr_assert_eq(s.holds[0].id, 2);
    cr_assert_eq(s.holds[0].from, d3);
    cr_assert_eq(s.holds[0].to, d3);
    cr_assert_str_eq(s.holds[0].reason, "case 2");
    cr_assert_eq(s.holds[0].created, 1772323200000000LL);
    cr_assert_eq(s.next_hold_id, 3);
    colog__lstate_clear(&s);
    cr_assert_null(s.parts);

    /* replaying a prefix gives the state at that point */
    v->n = 4; /* genesis + 3 commits of D1 */
    cr_assert_eq(colog__ledger_replay(v, NULL, NULL, &s, NULL), 0);
    cr_assert_eq(s.nparts, 1);
    cr_assert_eq(s.parts[0].id, 3);
    cr_assert_eq(s.parts[0].rows, 15);
    colog__lstate_clear(&s);
    colog__lview_free(v);
}

Test(ledger, replay_reports_nonsense)
{
    colog_ledger_t *l = lopen(NULL);
    app(l, "commit",
        "op=ingest day=" D1 " tier=hot part=0000000000000001 rows=10 " M("11") " sup=-",
        NULL);                                                                         /* 1 */
    app(l, "delete", "day=" D2 " why=retain rows=1 parts=hot:0000000000000009", NULL); /* 2 */
    app(l, "hold-remove", "id=4 reason=x", NULL);                                      /* 3 */
    app(l, "commit",
        "op=ingest day=2026-02-30 tier=hot part=0000000000000002 rows=1 " M("11") " sup=-",
        NULL);                                                       /* 4 */
    app(l, "abort", "of=2", NULL);                                   /* 5 */
    app(l, "abort", "of=99", NULL);                                  /* 6 */
    app(l, "frobnicate", "", NULL);                                  /* 7 */
    app(l, "hold-add", "id=1 from=" D2 " to=" D1 " reason=x", NULL); /* 8 */
    app(l, "hold-add", "id=1 from=" D1 " to=" D1 " reason=~", NULL); /* 9 */
    app(l, "commit", "op=ingest day=" D1 " tier=hot part=0000000000000001 rows=3 " M("11") " sup=-",
        NULL); /* 10: already live */
    app(l, "commit",
        "op=explode day=" D1 " tier=hot part=0000000000000005 rows=3 " M("11") " sup=-",
        NULL); /* 11 */
    app(l, "commit",
        "op=ingest day=" D1 " tier=warm part=0000000000000005 rows=3 " M("11") " sup=-",
        NULL); /* 12 */
    app(l, "commit",
        "op=ingest day=" D1
        " tier=hot part=0000000000000005 rows=3 " M("11") " sup=0000000000000001,zz",
        NULL); /* 13 */
    app(l, "commit",
        "op=ingest day=" D1
        " tier=hot part=0000000000000006 rows=3 " M("11") " sup=- orig=0000000000000001",
        NULL);                                                        /* 14 */
    app(l, "hold-add", "id=7 from=" D1 " to=" D1 " reason=ok", NULL); /* 15: fine */
    app(l, "hold-add", "id=5 from=" D1 " to=" D1 " reason=ok", NULL); /* 16: id goes back */
    colog__ledger_close(l);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 0);
    colog_lstate_t s;
    uint64_t np;
    memset(&p, 0, sizeof p);
    cr_assert_eq(colog__ledger_replay(v, on_problem, &p, &s, &np), 0);
    dump(&p);
    cr_assert_eq(np, p.n);
    cr_assert(has_prob(&p, "entry 2 (delete): part hot:2026-03-02/0000000000000009 is not live"));
    cr_assert(has_prob(&p, "entry 3 (hold-remove): hold 4 is not active"));
    cr_assert(has_prob(&p, "entry 4 (commit): bad day"));
    cr_assert(has_prob(&p, "entry 5 (abort): entry 2 is a delete, not a commit"));
    cr_assert(has_prob(&p, "entry 6 (abort): no earlier entry 99"));
    cr_assert(has_prob(&p, "entry 7: unknown kind 'frobnicate'"));
    cr_assert(has_prob(&p, "entry 8 (hold-add): from after to"));
    cr_assert(has_prob(&p, "entry 9 (hold-add): reason of 0 bytes"));
    cr_assert(has_prob(&p, "entry 10 (commit): part 2026-03-01/0000000000000001 is already live"));
    cr_assert(has_prob(&p, "entry 11 (commit): unknown op"));
    cr_assert(has_prob(&p, "entry 12 (commit): bad tier"));
    cr_assert(has_prob(&p, "entry 13 (commit): bad sup list"));
    cr_assert(has_prob(&p, "entry 14 (commit): archive= and orig= go together"));
    cr_assert(has_prob(&p, "entry 16 (hold-add): hold id 5 reused or out of order"));
    cr_assert_eq(p.n, 14);
    /* what made sense stayed */
    cr_assert_eq(s.nparts, 1);
    cr_assert_eq(s.parts[0].rows, 10);
    cr_assert_eq(s.nholds, 1);
    cr_assert_eq(s.holds[0].id, 7);
    cr_assert_eq(s.next_hold_id, 8);
    colog__lstate_clear(&s);
    colog__lview_free(v);
}

Test(ledger, replay_many_parts)
{
    /* many days and parts, merges and deletes: checked against a plain array */
    colog_ledger_t *l = lopen(NULL);
    enum { DAYS = 40, IDS = 30 };
    static bool live[DAYS][IDS + 1];
    char f[512], sup[256];
    uint32_t x = 12345;
    for (int step = 0; step < 3000; step++) {
        x = x * 1103515245u + 12345u;
        int d = (int)((x >> 8) % DAYS), id = 1 + (int)((x >> 16) % IDS);
        int kind = (int)((x >> 4) % 10);
        char day[16];
        colog_day_format(20000 + d, day, sizeof day);
        if (kind < 7 && !live[d][id]) {
            /* commit, superseding up to two live parts of the day */
            int k = 0;
            sup[0] = '\0';
            for (int j = 1; j <= IDS && k < 2 && kind >= 5; j++)
                if (live[d][j] && j != id) {
                    size_t o = strlen(sup);
                    snprintf(sup + o, sizeof sup - o, "%s%016x", k ? "," : "", j);
                    live[d][j] = false;
                    k++;
                }
            snprintf(f, sizeof f, "op=%s day=%s tier=%s part=%016x rows=%d manifest=%064x sup=%s",
                     k ? "merge" : "ingest", day, id % 3 ? "hot" : "cold", id, step, step,
                     k ? sup : "-");
            app(l, "commit", f, NULL);
            live[d][id] = true;
        } else if (kind == 9) {
            size_t o = 0;
            f[0] = '\0';
            int n = 0;
            o = (size_t)snprintf(f, sizeof f, "day=%s why=retain rows=0 parts=", day);
            for (int j = 1; j <= IDS; j++)
                if (live[d][j]) {
                    o += (size_t)snprintf(f + o, sizeof f - o, "%s%s:%016x", n ? "," : "",
                                          j % 3 ? "hot" : "cold", j);
                    live[d][j] = false;
                    n++;
                }
            if (n == 0)
                snprintf(f + o, sizeof f - o, "-");
            app(l, "delete", f, NULL);
        }
    }
    colog__ledger_close(l);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(NULL, &p, &v), 0);
    colog_lstate_t s;
    uint64_t np;
    memset(&p, 0, sizeof p);
    cr_assert_eq(colog__ledger_replay(v, on_problem, &p, &s, &np), 0);
    dump(&p);
    cr_assert_eq(np, 0);
    size_t want = 0;
    for (int d = 0; d < DAYS; d++)
        for (int j = 1; j <= IDS; j++) {
            const colog_lpart_t *q = colog__lstate_find(&s, 20000 + d, (uint64_t)j);
            cr_assert_eq(q != NULL, live[d][j], "day %d part %d", d, j);
            if (q) {
                want++;
                cr_assert_eq(q->tier, j % 3 ? COLOG_TIER_HOT : COLOG_TIER_COLD);
            }
        }
    cr_assert_eq(s.nparts, want);
    for (size_t i = 1; i < s.nparts; i++)
        cr_assert(s.parts[i - 1].day < s.parts[i].day ||
                  (s.parts[i - 1].day == s.parts[i].day && s.parts[i - 1].id < s.parts[i].id));
    colog__lstate_clear(&s);
    colog__lview_free(v);
}

/* ---------------------------------------------------------------- keys and head */

Test(ledger, keygen)
{
    char path[512];
    snprintf(path, sizeof path, "%s/k.key", dir);
    mode_t old = umask(0);
    int rc = colog_ledger_keygen(path);
    umask(old);
    cr_assert_eq(rc, 0, "%s", colog_errmsg());
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 07777, 0600);
    cr_assert_eq(sb.st_size, 65);
    size_t len;
    char *text = slurp("k.key", &len);
    cr_assert_eq(text[64], '\n');
    for (int i = 0; i < 64; i++)
        cr_assert(strchr("0123456789abcdef", text[i]) && text[i], "byte %d", i);
    uint8_t key[32], want[32];
    cr_assert_eq(colog__ledger_key_load(path, key), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__unhex(text, 64, want, 32), 0);
    cr_assert_eq(memcmp(key, want, 32), 0);
    /* never overwritten */
    cr_assert_eq(colog_ledger_keygen(path), COLOG_EEXIST);
    cr_assert(strstr(colog_errmsg(), "k.key"), "%s", colog_errmsg());
    size_t len2;
    char *again = slurp("k.key", &len2);
    cr_assert_str_eq(again, text);
    /* two keys differ */
    char p2[512];
    snprintf(p2, sizeof p2, "%s/k2.key", dir);
    cr_assert_eq(colog_ledger_keygen(p2), 0, "%s", colog_errmsg());
    uint8_t key2[32];
    cr_assert_eq(colog__ledger_key_load(p2, key2), 0);
    cr_assert_neq(memcmp(key, key2, 32), 0);
    /* key files: no newline is fine; anything else is not */
    spit("k3.key", text, 64);
    snprintf(p2, sizeof p2, "%s/k3.key", dir);
    cr_assert_eq(colog__ledger_key_load(p2, key2), 0);
    cr_assert_eq(memcmp(key, key2, 32), 0);
    spit("k3.key", text, 63);
    cr_assert_eq(colog__ledger_key_load(p2, key2), COLOG_EPARSE);
    text[5] = 'x';
    spit("k3.key", text, 65);
    cr_assert_eq(colog__ledger_key_load(p2, key2), COLOG_EPARSE);
    cr_assert(strstr(colog_errmsg(), "k3.key: not a ledger key"), "%s", colog_errmsg());
    snprintf(p2, sizeof p2, "%s/none.key", dir);
    cr_assert_eq(colog__ledger_key_load(p2, key2), -ENOENT);
    free(text);
    free(again);
}

Test(ledger, head)
{
    uint64_t seq;
    char hex[65];
    cr_assert_eq(colog_ledger_head(dir, &seq, hex), -ENOENT);
    cr_assert(strstr(colog_errmsg(), "/ledger"), "%s", colog_errmsg());
    make_ledger(12, NULL);
    cr_assert_eq(colog_ledger_head(dir, &seq, hex), 0, "%s", colog_errmsg());
    cr_assert_eq(seq, 12);
    lines_t ls;
    lines_read(&ls);
    size_t n = strlen(ls.l[12]);
    cr_assert_eq(strncmp(ls.l[12] + n - 65, hex, 64), 0);
    cr_assert_eq(strlen(hex), 64);
    /* a torn tail is not the head */
    char *torn = strndup(ls.l[12], 40);
    ls.l[ls.n++] = torn;
    lines_write(&ls);
    uint64_t seq2;
    char hex2[65];
    cr_assert_eq(colog_ledger_head(dir, &seq2, hex2), 0, "%s", colog_errmsg());
    cr_assert_eq(seq2, 12);
    cr_assert_str_eq(hex2, hex);
    /* an edited last line is */
    ls.n--;
    free(torn);
    char *d = strstr(ls.l[12], "rows=");
    d[5] = d[5] == '9' ? '8' : '9';
    lines_write(&ls);
    cr_assert_eq(colog_ledger_head(dir, &seq2, hex2), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "hash mismatch"), "%s", colog_errmsg());
    lines_free(&ls);
    spit("ledger", "", 0);
    cr_assert_eq(colog_ledger_head(dir, &seq2, hex2), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "/ledger: empty file"), "%s", colog_errmsg());
}

/* ---------------------------------------------------------------- threads */

typedef struct worker {
    colog_ledger_t *l;
    int t;
    int failures;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    char f[64];
    for (int i = 0; i < 200; i++) {
        snprintf(f, sizeof f, "thread=%d i=%d", w->t, i);
        if (colog__ledger_append(w->l, "note", f, 0, NULL) != 0)
            w->failures++;
    }
    return NULL;
}

Test(ledger, four_threads_append)
{
    colog_ledger_t *l = lopen(KEY);
    pthread_t th[4];
    worker_t w[4];
    for (int t = 0; t < 4; t++) {
        w[t] = (worker_t){l, t, 0};
        cr_assert_eq(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(w[t].failures, 0);
    }
    uint64_t seq;
    colog__ledger_last(l, &seq, NULL);
    cr_assert_eq(seq, 800);
    colog__ledger_close(l);
    probs_t p;
    colog_lview_t *v;
    cr_assert_eq(load(KEY, &p, &v), 0);
    dump(&p);
    cr_assert_eq(v->n, 801);
    /* every thread's entries are all there, in its order */
    int next[4] = {0};
    char val[16];
    for (size_t i = 1; i < v->n; i++) {
        cr_assert_eq(colog__lfield(v->e[i].line, v->e[i].len, "thread", val, sizeof val), 1);
        int t = val[0] - '0';
        cr_assert_gt(colog__lfield(v->e[i].line, v->e[i].len, "i", val, sizeof val), 0);
        cr_assert_eq(atoi(val), next[t]);
        next[t]++;
    }
    for (int t = 0; t < 4; t++)
        cr_assert_eq(next[t], 200);
    colog__lview_free(v);
}

/* ---------------------------------------------------------------- holds */

static char sdir[300];

static colog_store_t *store(int flags)
{
    snprintf(sdir, sizeof sdir, "%s/s", dir);
    struct stat sb;
    if (stat(sdir, &sb) != 0) {
        const char *schema = "ts time\nsrc ip indexed\n";
        colog_schema_t s;
        cr_assert_eq(colog_schema_parse(schema, strlen(schema), "test", &s), 0);
        colog_config_t c;
        colog_config_default(&c);
        cr_assert_eq(colog_store_create(sdir, &s, &c), 0, "%s", colog_errmsg());
    }
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, sdir, flags), 0, "%s", colog_errmsg());
    if ((flags & COLOG_OPEN_WRITE) && st->ledger == NULL) {
        /* until colog_store_open opens the ledger for writers */
        cr_assert_eq(
            colog__ledger_open(st->dirfd, "ledger", st->keyed ? st->key : NULL, &st->ledger), 0,
            "%s", colog_errmsg());
    }
    return st;
}

static int32_t day(const char *s)
{
    int32_t d;
    cr_assert_eq(colog_day_parse(s, strlen(s), &d), 0);
    return d;
}

Test(ledger, holds)
{
    colog_store_t *st = store(COLOG_OPEN_WRITE);
    uint64_t id = 0;
    colog_hold_t *h;
    size_t n;
    cr_assert_eq(colog_hold_list(st, &h, &n), 0, "%s", colog_errmsg());
    cr_assert_eq(n, 0);
    free(h);

    /* validation */
    cr_assert_eq(colog_hold_add(st, day(D2), day(D1), "r", &id), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "after"), "%s", colog_errmsg());
    cr_assert_eq(colog_hold_add(st, day(D1), day(D2), "", &id), COLOG_EINVAL);
    cr_assert_eq(colog_hold_add(st, day(D1), day(D2), NULL, &id), COLOG_EINVAL);
    char big[600];
    memset(big, 'r', sizeof big);
    big[512] = '\0';
    cr_assert_eq(colog_hold_add(st, day(D1), day(D2), big, &id), COLOG_EINVAL);
    cr_assert_eq(colog_hold_add(st, -800000, day(D2), "r", &id), COLOG_ERANGE);
    cr_assert_eq(id, 0);
    cr_assert_eq(colog_hold_remove(st, 1, "r"), COLOG_ENOTFOUND);
    cr_assert(strstr(colog_errmsg(), "hold 1: no such hold"), "%s", colog_errmsg());

    big[511] = '\0'; /* 511 bytes: the longest reason */
    cr_assert_eq(colog_hold_add(st, day(D1), day(D2), "case 1: ACME v. Doe", &id), 0, "%s",
                 colog_errmsg());
    cr_assert_eq(id, 1);
    cr_assert_eq(colog_hold_add(st, day("2026-04-01"), day("2026-04-01"), big, &id), 0, "%s",
                 colog_errmsg());
    cr_assert_eq(id, 2);
    cr_assert_eq(
        colog_hold_add(st, day("2025-01-01"), day("2025-12-31"), "100% \xc3\xa9t\xc3\xa9\n", &id),
        0, "%s", colog_errmsg());
    cr_assert_eq(id, 3);

    bool held;
    const char *yes[] = {D1, D2, "2026-04-01", "2025-01-01", "2025-06-30", "2025-12-31"};
    const char *no[] = {"2026-02-28", D3, "2026-03-31", "2026-04-02", "2024-12-31", "2026-01-01"};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(colog_hold_covers(st, day(yes[i]), &held), 0);
        cr_assert(held, "%s", yes[i]);
        cr_assert_eq(colog_hold_covers(st, day(no[i]), &held), 0);
        cr_assert(!held, "%s", no[i]);
    }

    /* the ledger holds them */
    {
        size_t len;
        char *buf = slurp("s/ledger", &len);
        cr_assert(strstr(buf, " hold-add id=1 from=2026-03-01 to=2026-03-02 "
                              "reason=case%201:%20ACME%20v.%20Doe prev="),
                  "%s", buf);
        cr_assert(strstr(buf, " hold-add id=3 from=2025-01-01 to=2025-12-31 "
                              "reason=100%25%20%C3%A9t%C3%A9%0A prev="),
                  "%s", buf);
        free(buf);
    }

    cr_assert_eq(colog_hold_remove(st, 1, ""), COLOG_EINVAL);
    cr_assert_eq(colog_hold_remove(st, 1, "case closed"), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_hold_remove(st, 1, "again"), COLOG_ENOTFOUND);
    cr_assert(strstr(colog_errmsg(), "hold 1: already removed"), "%s", colog_errmsg());
    cr_assert_eq(colog_hold_remove(st, 9, "r"), COLOG_ENOTFOUND);
    cr_assert_eq(colog_hold_covers(st, day(D1), &held), 0);
    cr_assert(!held);

    /* ids are never reused */
    cr_assert_eq(colog_hold_add(st, day(D3), day(D3), "four", &id), 0, "%s", colog_errmsg());
    cr_assert_eq(id, 4);

    cr_assert_eq(colog_hold_list(st, &h, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(h[0].id, 2);
    cr_assert_str_eq(h[0].reason, big);
    cr_assert_eq(h[1].id, 3);
    cr_assert_str_eq(h[1].reason, "100% \xc3\xa9t\xc3\xa9\n");
    cr_assert_eq(h[1].from, day("2025-01-01"));
    cr_assert_eq(h[1].to, day("2025-12-31"));
    cr_assert_gt(h[1].created, 1700000000000000LL);
    cr_assert_eq(h[2].id, 4);
    free(h);

    /* the readable copy */
    size_t len;
    char *copy = slurp("s/holds", &len);
    cr_assert_eq(copy[0], '#');
    char *l2 = strchr(copy, '\n') + 1;
    cr_assert_eq(strncmp(l2, "2 2026-04-01 2026-04-01 20", 26), 0, "%s", l2);
    char *l3 = strchr(l2, '\n') + 1;
    cr_assert_eq(strncmp(l3, "3 2025-01-01 2025-12-31 ", 24), 0, "%s", l3);
    cr_assert(strstr(l3, "Z 100%25 \xc3\xa9t\xc3\xa9%0A\n4 2026-03-03 2026-03-03 "), "%s", l3);
    cr_assert_eq(copy[len - 1], '\n');
    char *last = strrchr(copy, '\n');
    *last = '\0';
    cr_assert(strstr(strrchr(copy, '\n'), " four"), "%s", copy);
    free(copy);

    colog_store_close(st);
    probs_t p;
    colog_lview_t *v;
    colog_lstate_t s;
    int sfd = open(sdir, O_RDONLY | O_DIRECTORY);
    cr_assert_eq(colog__ledger_load(sfd, "ledger", NULL, on_problem, &p, &v, NULL), 0);
    close(sfd);
    cr_assert_eq(colog__ledger_replay(v, NULL, NULL, &s, NULL), 0);
    cr_assert_eq(s.nholds, 3);
    cr_assert_eq(s.next_hold_id, 5);
    colog__lstate_clear(&s);
    colog__lview_free(v);

    /* a reader lists, but does not change */
    st = store(COLOG_OPEN_READ);
    cr_assert_eq(colog_hold_list(st, &h, &n), 0, "%s", colog_errmsg());
    cr_assert_eq(n, 3);
    free(h);
    cr_assert_eq(colog_hold_covers(st, day("2026-04-01"), &held), 0);
    cr_assert(held);
    cr_assert_eq(colog_hold_add(st, day(D1), day(D1), "r", &id), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "store not open for writing"), "%s", colog_errmsg());
    cr_assert_eq(colog_hold_remove(st, 2, "r"), COLOG_EINVAL);
    colog_store_close(st);
}

Test(ledger, holds_keyed_store)
{
    char kp[512];
    snprintf(kp, sizeof kp, "%s/store.key", dir);
    cr_assert_eq(colog_ledger_keygen(kp), 0, "%s", colog_errmsg());
    snprintf(sdir, sizeof sdir, "%s/s", dir);
    const char *schema = "ts time\nsrc ip indexed\n";
    colog_schema_t sc;
    cr_assert_eq(colog_schema_parse(schema, strlen(schema), "test", &sc), 0);
    colog_config_t c;
    colog_config_default(&c);
    snprintf(c.ledger_key, sizeof c.ledger_key, "%s", kp);
    cr_assert_eq(colog_store_create(sdir, &sc, &c), 0, "%s", colog_errmsg());
    colog_store_t *st = store(COLOG_OPEN_WRITE);
    cr_assert(st->keyed);
    uint64_t id;
    cr_assert_eq(colog_hold_add(st, day(D1), day(D3), "keyed", &id), 0, "%s", colog_errmsg());
    cr_assert_eq(id, 1);
    bool held;
    cr_assert_eq(colog_hold_covers(st, day(D2), &held), 0);
    cr_assert(held);
    colog_store_close(st);
    uint8_t key[32];
    cr_assert_eq(colog__ledger_key_load(kp, key), 0);
    int sfd = open(sdir, O_RDONLY | O_DIRECTORY);
    colog_lview_t *v;
    uint64_t np = 9;
    cr_assert_eq(colog__ledger_load(sfd, "ledger", key, NULL, NULL, &v, &np), 0);
    close(sfd);
    cr_assert_eq(np, 0);
    cr_assert(v->keyed && v->macs_checked);
    colog__lview_free(v);
}
