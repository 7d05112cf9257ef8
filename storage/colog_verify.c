/*
 * colog_verify.c — colog_verify_store: check a whole store, byte by byte,
 * against its manifests and its ledger.
 *
 * NOTES ON THE DESIGN OF VERIFY
 *
 * Verify reads; it never writes and takes no lock. It opens the store
 * read-only (schema, configuration, tier paths, ledger key) and works in four
 * passes:
 *
 *   1. Collect. Every day directory of both tiers (or the one asked for) is
 *      listed; each pID directory is a part on disk: its manifest is read,
 *      hashed (SHA-256) and decoded. .tmp-pID / .del-pID leftovers and other
 *      names are not parts and are ignored.
 *   2. Ledger. colog__ledger_load checks the chain (syntax, sequence, prev
 *      links, hashes or MACs) and colog__ledger_replay turns it into the
 *      expected live parts: (day, id, tier, manifest SHA-256, rows). A head
 *      given by the caller must be the hash of some entry; the chain up to it
 *      is then re-checked here on its own (seq, prev, hash of every entry up to
 *      it), so that damage after the head does not hide that the history up to
 *      it is intact (said in the final error message).
 *   3. Parts. Each part on disk is compared with the ledger's expected part of
 *      the same (day, id): absent, other manifest, other tier, other rows. A
 *      part that is not in the ledger any more, that a commit entry once
 *      published as it is, and that a part matching the ledger supersedes (sup)
 *      is a leftover of an interrupted merge or move (removed by the next
 *      writer): skipped, not a problem. Then every file its
 *      manifest lists is checked for presence, size and SHA-256, and read
 *      through its own reader (column files block by block, dictionaries,
 *      bitmap indexes) so that a damaged block is named; files the manifest
 *      does not list are problems.
 *   4. Missing. Each expected part found in no tier is a problem.
 *
 * Invariants:
 *  1. Every problem is one line through opts->problem and counts once in
 *     stats->problems; problems never stop the check. Only a failure to run
 *     the check (no store, unreadable ledger or tier root, out of memory) stops
 *     it, with its own code.
 *  2. Problems about the parts come in (day, id, tier) order, then the missing
 *     parts in (day, id) order: the output is deterministic.
 *  3. Files are streamed in 1 MiB chunks; nothing is held per file beyond one
 *     reader at a time.
 *  4. A writer may work meanwhile (no lock). The disk is listed before the
 *     ledger is read, and a commit is in the ledger before its part is renamed
 *     into place, so every part listed has its commit in the ledger read. A
 *     part that vanishes afterwards (removed by a merge or a move) is dropped
 *     silently; an expected part not listed is looked for again before it is
 *     called missing (published after the listing). What remains is a narrow
 *     window (a part listed, then superseded by a part published after the
 *     listing, and still there when it is checked): run verify again.
 */
#include "colog_storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <roaring/roaring.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_store_int.h"

#define CHUNK (1u << 20)
/* " hash=" and 64 hex digits end every ledger line. */
#define HASH_TAIL 70

/* A part directory found on disk. */
typedef struct dpart {
    int32_t day; /* of the directory it sits in */
    uint64_t id; /* of its name */
    colog_tier_t tier;
    int man_rc; /* 0: man decoded; else the failure, message in err */
    char *err;  /* malloc'ed */
    bool skip;  /* superseded leftover */
    uint8_t sha[32];
    colog_manifest_t man;
} dpart_t;

typedef struct verify {
    const colog_verify_opts_t *o;
    colog_verify_stats_t s;
    colog_store_t *st;
    int coldfd; /* -1: no cold tier */
    const uint8_t *key;
    uint8_t keybuf[32];
    colog_lview_t *lv;
    colog_lstate_t ls;
    dpart_t *dp;
    size_t ndp, capdp;
    uint8_t *chunk;
} verify_t;

/* ---------------------------------------------------------------- problems */

static void report(verify_t *v, const char *msg)
{
    v->s.problems++;
    if (v->o->problem)
        v->o->problem(v->o->ctx, msg);
}

static void problem(verify_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(verify_t *v, const char *fmt, ...)
{
    char msg[PATH_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(v, msg);
}

/* colog_problem_fn for the ledger functions: forward and count. */
static void forward(void *ctx, const char *msg)
{
    report(ctx, msg);
}

/* A reader's failure: corruption and I/O errors are problems (their message
 * names the file); out of memory stops the check. */
static int reader_failed(verify_t *v, int rc)
{
    if (rc == COLOG_ENOMEM)
        return rc;
    report(v, colog_errmsg());
    return 0;
}

/* ---------------------------------------------------------------- ledger */

/* Whether entries 0..h are a sound chain: seq i, prev the hash before, hash
 * (or MAC) of the line up to "prev=HEX64". */
static bool chain_sound(const verify_t *v, size_t h)
{
    const colog_lview_t *lv = v->lv;
    uint8_t prev[32] = {0};
    if (lv->keyed && v->key == NULL)
        return false;
    for (size_t i = 0; i <= h; i++) {
        const colog_lentry_t *e = &lv->e[i];
        if (e->seq != i || memcmp(e->prev, prev, 32) != 0 || e->len < HASH_TAIL ||
            memcmp(e->line + e->len - HASH_TAIL, " hash=", 6) != 0)
            return false;
        if (!colog__lline_hash_ok(e->line, e->len, lv->keyed ? v->key : NULL, e->hash))
            return false;
        memcpy(prev, e->hash, 32);
    }
    return true;
}

/* Load and check the chain, find the head, replay into v->ls. *head_seq is
 * the head's entry and *head_sound whether the chain up to it checks out. */
static int check_ledger(verify_t *v, const uint8_t *head, uint64_t *head_seq, bool *head_sound)
{
    uint64_t before = v->s.problems, n = 0;
    int rc = colog__ledger_load(v->st->dirfd, COLOG_LEDGER_FILE, v->key, forward, v, &v->lv, &n);
    if (rc)
        return rc;
    if (v->s.problems - before < n) /* counted but not reported: count anyway */
        v->s.problems = before + n;
    v->s.entries = v->lv->n;
    if (v->lv->keyed && !v->lv->macs_checked && v->key == NULL) /* a wrong key: reported */
        problem(v, "%s: keyed (hmac-sha256): MACs not checked without the key", COLOG_LEDGER_FILE);
    if (head != NULL) {
        char hex[65];
        for (size_t i = 0; i < v->lv->n; i++) {
            if (memcmp(v->lv->e[i].hash, head, 32) == 0) {
                v->s.head_found = true;
                *head_seq = v->lv->e[i].seq;
                *head_sound = chain_sound(v, i);
                break;
            }
        }
        if (!v->s.head_found) {
            colog__hex(head, 32, hex);
            problem(v, "%s: head %s not found (history rewritten or truncated)", COLOG_LEDGER_FILE,
                    hex);
        }
    }
    before = v->s.problems;
    n = 0;
    rc = colog__ledger_replay(v->lv, forward, v, &v->ls, &n);
    if (rc)
        return rc;
    if (v->s.problems - before < n)
        v->s.problems = before + n;
    return 0;
}

/* ---------------------------------------------------------------- collecting parts */

/* "pXXXXXXXXXXXXXXXX" (16 lower-case hex digits) into an id. */
static bool part_name(const char *name, uint64_t *id)
{
    if (name[0] != 'p' || strlen(name) != 17)
        return false;
    uint64_t x = 0;
    for (int i = 1; i < 17; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *id = x;
    return true;
}

/* "YYYY-MM-DD" exactly as the store writes it. */
static bool day_name(const char *name, int32_t *day)
{
    char back[16];
    if (strlen(name) != 10 || colog_day_parse(name, 10, day) != 0)
        return false;
    colog_day_format(*day, back, sizeof back);
    return strcmp(back, name) == 0;
}

static void part_display(const verify_t *v, colog_tier_t tier, int32_t day, uint64_t id, char *buf,
                         size_t cap)
{
    char d[PATH_MAX];
    colog__day_display(v->st, tier, day, d, sizeof d);
    snprintf(buf, cap, "%s/p%016llx", d, (unsigned long long)id);
}

/* Whether dirfd/name is there. */
static bool exists(int dirfd, const char *name)
{
    struct stat sb;
    return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* Read, hash and decode the manifest of part dirfd/name. *gone: the part
 * vanished meanwhile (invariant 4). */
static int collect_part(verify_t *v, int dayfd, const char *name, dpart_t *p, bool *gone)
{
    char disp[PATH_MAX + 32], msg[PATH_MAX + 512];
    uint8_t *buf = NULL;
    size_t len = 0;
    part_display(v, p->tier, p->day, p->id, disp, sizeof disp);
    int pfd = openat(dayfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *gone = false;
    if (pfd < 0) {
        p->man_rc = -errno;
        snprintf(msg, sizeof msg, "%s: %s", disp, strerror(errno));
        *gone = errno == ENOENT;
    } else {
        p->man_rc = colog__read_file(pfd, "manifest", &buf, &len);
        close(pfd);
        *gone = p->man_rc == -ENOENT && !exists(dayfd, name);
        if (p->man_rc == -ENOENT)
            snprintf(msg, sizeof msg, "%s/manifest: missing", disp);
        else if (p->man_rc)
            snprintf(msg, sizeof msg, "%s/manifest: %s", disp, colog_strerror(p->man_rc));
    }
    if (p->man_rc == 0) {
        crypto_hash_sha256(p->sha, buf, len);
        v->s.bytes += len;
        char mdisp[PATH_MAX + 48];
        snprintf(mdisp, sizeof mdisp, "%s/manifest", disp);
        p->man_rc = colog__manifest_decode(buf, len, mdisp, &p->man);
        snprintf(msg, sizeof msg, "%s", colog_errmsg());
        free(buf);
    }
    if (p->man_rc == COLOG_ENOMEM)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    if (*gone)
        return 0;
    if (p->man_rc && (p->err = strdup(msg)) == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    return 0;
}

static int add_part(verify_t *v, colog_tier_t tier, int32_t day, uint64_t id, dpart_t **out)
{
    if (v->ndp == v->capdp) {
        size_t cap = v->capdp ? 2 * v->capdp : 64;
        dpart_t *n = realloc(v->dp, cap * sizeof *n);
        if (n == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
        v->dp = n;
        v->capdp = cap;
    }
    dpart_t *p = &v->dp[v->ndp++];
    memset(p, 0, sizeof *p);
    p->day = day;
    p->id = id;
    p->tier = tier;
    *out = p;
    return 0;
}

/* Every part of one day directory of a tier. */
static int collect_day(verify_t *v, colog_tier_t tier, int tierfd, const char *dname, int32_t day)
{
    char ddisp[PATH_MAX];
    int rc = 0;
    colog__day_display(v->st, tier, day, ddisp, sizeof ddisp);
    int dayfd = openat(tierfd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = dayfd < 0 ? -1 : openat(dayfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        problem(v, "%s: cannot list: %s", ddisp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out_day;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t id;
        dpart_t *p = NULL; /* set by add_part when it succeeds */
        bool gone;
        if (!part_name(e->d_name, &id))
            continue; /* ".", "..", .tmp-pID, .del-pID: not parts */
        if ((rc = add_part(v, tier, day, id, &p)) != 0)
            break;
        if ((rc = collect_part(v, dayfd, e->d_name, p, &gone)) != 0)
            break;
        if (gone) {
            if (p->man_rc == 0)
                colog__manifest_clear(&p->man);
            v->ndp--;
        }
    }
    closedir(d);
out_day:
    if (dayfd >= 0)
        close(dayfd);
    return rc;
}

static int collect_tier(verify_t *v, colog_tier_t tier, int tierfd)
{
    int fd = openat(tierfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return colog_seterr(-e, "%s tier: cannot list: %s", colog_tier_name(tier), strerror(e));
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int32_t day;
        if (!day_name(e->d_name, &day) || (v->o->one_day && day != v->o->day))
            continue;
        if ((rc = collect_day(v, tier, tierfd, e->d_name, day)) != 0)
            break;
    }
    closedir(d);
    return rc;
}

static int cmp_dpart(const void *a, const void *b)
{
    const dpart_t *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (int)x->tier - (int)y->tier;
}

/* Index of the first part on disk of (day, id), or v->ndp. */
static size_t find_dpart(const verify_t *v, int32_t day, uint64_t id)
{
    size_t lo = 0, hi = v->ndp;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const dpart_t *p = &v->dp[mid];
        if (p->day < day || (p->day == day && p->id < id))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < v->ndp && v->dp[lo].day == day && v->dp[lo].id == id)
        return lo;
    return v->ndp;
}

/* The ledger's part for a part on disk, if it matches it exactly. */
static bool matches_ledger(const verify_t *v, const dpart_t *p)
{
    const colog_lpart_t *x = colog__lstate_find(&v->ls, p->day, p->id);
    return p->man_rc == 0 && x != NULL && x->tier == p->tier &&
           memcmp(x->manifest, p->sha, 32) == 0;
}

/* Whether some commit entry of the ledger published exactly this part: same
 * day, tier, id and manifest. */
static bool once_committed(const verify_t *v, const dpart_t *p)
{
    char day[16], want_day[16], tier[8], part[20], want_part[20], man[72];
    uint8_t sha[32];
    if (p->man_rc != 0 || p->man.day != p->day || p->man.part_id != p->id)
        return false;
    colog_day_format(p->day, want_day, sizeof want_day);
    snprintf(want_part, sizeof want_part, "%016llx", (unsigned long long)p->id);
    for (size_t i = 0; i < v->lv->n; i++) {
        const colog_lentry_t *e = &v->lv->e[i];
        if (strcmp(e->kind, "commit") != 0 ||
            colog__lfield(e->line, e->len, "part", part, sizeof part) != 16 ||
            strcmp(part, want_part) != 0 ||
            colog__lfield(e->line, e->len, "day", day, sizeof day) != 10 ||
            strcmp(day, want_day) != 0 ||
            colog__lfield(e->line, e->len, "tier", tier, sizeof tier) < 0 ||
            strcmp(tier, colog_tier_name(p->tier)) != 0 ||
            colog__lfield(e->line, e->len, "manifest", man, sizeof man) != 64 ||
            colog__unhex(man, 64, sha, 32) != 0)
            continue;
        if (memcmp(sha, p->sha, 32) == 0)
            return true;
    }
    return false;
}

/* Mark the leftovers: parts the ledger no longer holds, that it once committed
 * as they are, and that a part matching the ledger supersedes (same day, any
 * tier). A part moved in from elsewhere under a superseded id is no leftover. */
static void mark_superseded(verify_t *v)
{
    for (size_t i = 0; i < v->ndp; i++) {
        const dpart_t *p = &v->dp[i];
        if (!matches_ledger(v, p))
            continue;
        for (uint32_t k = 0; k < p->man.nsup; k++) {
            for (size_t j = find_dpart(v, p->day, p->man.sup[k]);
                 j < v->ndp && v->dp[j].day == p->day && v->dp[j].id == p->man.sup[k]; j++)
                if (colog__lstate_find(&v->ls, p->day, p->man.sup[k]) == NULL &&
                    once_committed(v, &v->dp[j]))
                    v->dp[j].skip = true;
        }
    }
}

/* ---------------------------------------------------------------- files of a part */

/* Stream fd through SHA-256; *bytes gets what was read. 0 or -errno. */
static int sha_file(verify_t *v, int fd, uint8_t sha[32], uint64_t *bytes)
{
    crypto_hash_sha256_state hs;
    crypto_hash_sha256_init(&hs);
    *bytes = 0;
    for (;;) {
        ssize_t r = read(fd, v->chunk, CHUNK);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&hs, v->chunk, (unsigned long long)r);
        *bytes += (uint64_t)r;
    }
    crypto_hash_sha256_final(&hs, sha);
    return 0;
}

/* The schema column a file name belongs to and its kind; -1 if none. */
enum { F_COL, F_DICT, F_IDX };
static int file_column(const colog_schema_t *s, const char *name, int *kind)
{
    static const struct {
        const char *ext;
        int kind;
    } exts[] = {{".col", F_COL}, {".dict", F_DICT}, {".idx", F_IDX}};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t el = strlen(exts[i].ext);
        if (len <= el || strcmp(name + len - el, exts[i].ext) != 0)
            continue;
        int c = colog_schema_find(s, name, len - el);
        if (c < 0)
            return -1;
        const colog_column_t *col = &s->cols[c];
        if ((exts[i].kind == F_DICT && !colog_type_is_dict(col->type)) ||
            (exts[i].kind == F_IDX && !col->indexed))
            return -1;
        *kind = exts[i].kind;
        return c;
    }
    return -1;
}

/* Read every block of a column file. */
static int read_col(verify_t *v, const dpart_t *p, int pfd, const char *name, colog_type_t type,
                    const char *disp)
{
    colog_colr_t *r;
    int rc = colog__colr_open(&r, pfd, name, type, disp);
    if (rc)
        return reader_failed(v, rc);
    uint32_t nb = colog__colr_nblocks(r);
    if (nb != p->man.nblocks || colog__colr_nrows(r) != p->man.nrows)
        problem(v, "%s: %u blocks / %llu rows, the manifest says %u / %llu", disp, nb,
                (unsigned long long)colog__colr_nrows(r), p->man.nblocks,
                (unsigned long long)p->man.nrows);
    for (uint32_t b = 0; b < nb && rc == 0; b++) {
        colog_block_t blk;
        v->s.blocks++;
        int e = colog__colr_read(r, b, &blk);
        if (e)
            rc = reader_failed(v, e);
    }
    colog__colr_close(r);
    return rc;
}

/* Read every bitmap of an index file. */
static int read_idx(verify_t *v, const dpart_t *p, int pfd, const char *name, colog_type_t type,
                    const char *disp)
{
    colog_idxr_t *r;
    int rc = colog__idxr_open(&r, pfd, name, type, p->man.nrows, disp);
    if (rc)
        return reader_failed(v, rc);
    rc = colog__idxr_load(r); /* every key and cardinality decoded and checked */
    if (rc) {
        rc = reader_failed(v, rc);
        goto out_close;
    }
    roaring_bitmap_t *bm = roaring_bitmap_create();
    if (bm == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_close;
    }
    uint32_t nk = colog__idxr_nkeys(r);
    uint64_t cards = 0;
    for (uint32_t i = 0; i < nk; i++)
        cards += colog__idxr_card(r, i);
    int e = colog__idxr_or_range(r, 0, nk, bm);
    if (e)
        rc = reader_failed(v, e);
    else if (roaring_bitmap_get_cardinality(bm) != cards)
        problem(v, "%s: bitmaps of different keys share rows", disp);
    roaring_bitmap_free(bm);
out_close:
    colog__idxr_close(r);
    return rc;
}

/* One file the manifest lists: presence, size, SHA-256, then its reader. */
static int check_file(verify_t *v, const dpart_t *p, int pfd, const colog_mfile_t *mf,
                      const char *pdisp)
{
    char name[COLOG_FILE_NAME_MAX + 1], disp[PATH_MAX + 128];
    memcpy(name, mf->name, COLOG_FILE_NAME_MAX);
    name[COLOG_FILE_NAME_MAX] = '\0';
    snprintf(disp, sizeof disp, "%s/%s", pdisp, name);
    v->s.files++;
    int fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            problem(v, "%s: missing (listed in the manifest)", disp);
        else
            problem(v, "%s: %s", disp, strerror(errno));
        return 0;
    }
    struct stat sb;
    uint8_t sha[32];
    uint64_t got = 0;
    int rc = fstat(fd, &sb) != 0 ? -errno : !S_ISREG(sb.st_mode) ? -EISDIR : 0;
    if (rc == 0)
        rc = sha_file(v, fd, sha, &got);
    close(fd);
    if (rc) {
        problem(v, "%s: %s", disp, strerror(-rc));
        return 0;
    }
    v->s.bytes += got;
    bool size_bad = got != mf->size;
    if (size_bad)
        problem(v, "%s: %llu bytes, the manifest says %llu", disp, (unsigned long long)got,
                (unsigned long long)mf->size);

    /* The file's own reader names the damaged block; the digest says the rest. */
    uint64_t before = v->s.problems;
    int kind, c = file_column(&v->st->schema, name, &kind);
    if (c < 0) {
        problem(v, "%s/manifest: lists %s, no file of the schema", pdisp, name);
        return 0;
    }
    colog_type_t type = v->st->schema.cols[c].type;
    if (kind == F_COL) {
        rc = read_col(v, p, pfd, name, type, disp);
    } else if (kind == F_DICT) {
        colog_dictbuf_t *d;
        rc = colog__dict_read(pfd, name, type, disp, &d);
        if (rc)
            rc = reader_failed(v, rc);
        else
            colog__dict_free(d);
    } else {
        rc = read_idx(v, p, pfd, name, type, disp);
    }
    if (rc)
        return rc;
    if (!size_bad && v->s.problems == before && memcmp(sha, mf->sha256, 32) != 0)
        problem(v, "%s: SHA-256 differs from the manifest's (altered)", disp);
    return 0;
}

static bool listed(const colog_manifest_t *m, const char *name)
{
    for (uint32_t i = 0; i < m->nfiles; i++)
        if (strncmp(m->files[i].name, name, COLOG_FILE_NAME_MAX) == 0)
            return true;
    return false;
}

/* The files a part of this schema must have are listed. */
static void check_listing(verify_t *v, const dpart_t *p, const char *pdisp)
{
    const colog_schema_t *s = &v->st->schema;
    char name[COLOG_NAME_MAX + 8];
    for (unsigned c = 0; c < s->ncols; c++) {
        const char *exts[3] = {".col", colog_type_is_dict(s->cols[c].type) ? ".dict" : NULL,
                               s->cols[c].indexed ? ".idx" : NULL};
        for (int i = 0; i < 3; i++) {
            if (exts[i] == NULL)
                continue;
            snprintf(name, sizeof name, "%s%s", s->cols[c].name, exts[i]);
            if (!listed(&p->man, name))
                problem(v, "%s/manifest: no entry for %s", pdisp, name);
        }
    }
}

/* Entries of the part directory that its manifest does not list. */
static int check_extra(verify_t *v, const dpart_t *p, int pfd, const char *pdisp)
{
    int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        problem(v, "%s: cannot list: %s", pdisp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, "manifest") == 0)
            continue;
        if (strlen(e->d_name) >= COLOG_FILE_NAME_MAX || !listed(&p->man, e->d_name))
            problem(v, "%s/%s: not in the manifest", pdisp, e->d_name);
    }
    closedir(d);
    return 0;
}

/* ---------------------------------------------------------------- parts */

/* The directory "DAY/pID" of a part, relative to its tier's root. */
static void part_rel(int32_t day, uint64_t id, char *buf, size_t cap)
{
    char d[16];
    colog_day_format(day, d, sizeof d);
    snprintf(buf, cap, "%s/p%016llx", d, (unsigned long long)id);
}

static int tier_fd(const verify_t *v, colog_tier_t tier)
{
    return tier == COLOG_TIER_HOT ? v->st->hotfd : v->coldfd;
}

static int check_part(verify_t *v, const dpart_t *p)
{
    char pdisp[PATH_MAX + 32], mday[16], rel[64];
    part_display(v, p->tier, p->day, p->id, pdisp, sizeof pdisp);
    part_rel(p->day, p->id, rel, sizeof rel);
    int pfd = openat(tier_fd(v, p->tier), rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0 && errno == ENOENT)
        return 0; /* vanished since the listing (invariant 4) */
    v->s.parts++;
    if (p->man_rc || pfd < 0) {
        if (p->man_rc)
            report(v, p->err);
        else
            problem(v, "%s: %s", pdisp, strerror(errno));
        if (pfd >= 0)
            close(pfd);
        return 0;
    }
    if (p->man.day != p->day || p->man.part_id != p->id) {
        colog_day_format(p->man.day, mday, sizeof mday);
        problem(v, "%s/manifest: is of part p%016llx of %s (moved or copied?)", pdisp,
                (unsigned long long)p->man.part_id, mday);
    }
    if (memcmp(p->man.schema_sha256, v->st->schema_sha, 32) != 0)
        problem(v, "%s/manifest: written with another schema", pdisp);

    const colog_lpart_t *x = colog__lstate_find(&v->ls, p->day, p->id);
    if (x == NULL) {
        problem(v, "%s: not in the ledger (added or moved from another day?)", pdisp);
    } else if (x->tier != p->tier) {
        problem(v, "%s: the ledger has it in the %s tier (seq %llu)", pdisp,
                colog_tier_name(x->tier), (unsigned long long)x->seq);
    } else if (memcmp(x->manifest, p->sha, 32) != 0) {
        problem(v, "%s/manifest: differs from the ledger's (altered or swapped)", pdisp);
    } else if (x->rows != p->man.nrows) {
        problem(v, "%s/manifest: %llu rows, the ledger says %llu (seq %llu)", pdisp,
                (unsigned long long)p->man.nrows, (unsigned long long)x->rows,
                (unsigned long long)x->seq);
    }

    int rc = 0;
    check_listing(v, p, pdisp);
    for (uint32_t i = 0; i < p->man.nfiles && rc == 0; i++)
        rc = check_file(v, p, pfd, &p->man.files[i], pdisp);
    if (rc == 0)
        rc = check_extra(v, p, pfd, pdisp);
    close(pfd);
    return rc;
}

static void check_missing(verify_t *v)
{
    char pdisp[PATH_MAX + 32], rel[64];
    for (size_t i = 0; i < v->ls.nparts; i++) {
        const colog_lpart_t *x = &v->ls.parts[i];
        if (v->o->one_day && x->day != v->o->day)
            continue;
        if (find_dpart(v, x->day, x->id) < v->ndp)
            continue; /* on disk (perhaps in the other tier: reported there) */
        part_rel(x->day, x->id, rel, sizeof rel);
        if (tier_fd(v, x->tier) >= 0 && exists(tier_fd(v, x->tier), rel))
            continue; /* published after the listing (invariant 4) */
        part_display(v, x->tier, x->day, x->id, pdisp, sizeof pdisp);
        problem(v, "%s: missing (in the ledger, seq %llu)", pdisp, (unsigned long long)x->seq);
    }
}

/* ---------------------------------------------------------------- entry point */

static int run(verify_t *v, const uint8_t *head)
{
    uint64_t head_seq = 0;
    bool head_sound = false;
    int rc = collect_tier(v, COLOG_TIER_HOT, v->st->hotfd);
    if (rc)
        return rc;
    v->coldfd = open(v->st->cold_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (v->coldfd < 0 && errno != ENOENT)
        return colog_seterr(-errno, "%s: %s", v->st->cold_path, strerror(errno));
    if (v->coldfd >= 0 && (rc = collect_tier(v, COLOG_TIER_COLD, v->coldfd)) != 0)
        return rc;
    if (v->ndp > 0)
        qsort(v->dp, v->ndp, sizeof *v->dp, cmp_dpart);

    if ((rc = check_ledger(v, head, &head_seq, &head_sound)) != 0)
        return rc;
    if (v->lv->n == 0 && v->ndp > 0)
        problem(v, "%s: missing or empty, but the store holds parts", COLOG_LEDGER_FILE);
    mark_superseded(v);

    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < v->ndp; i++)
        total += !v->dp[i].skip;
    if (v->o->progress)
        v->o->progress(v->o->ctx, "verify", 0, total);
    for (size_t i = 0; i < v->ndp; i++) {
        if (v->dp[i].skip)
            continue;
        if ((rc = check_part(v, &v->dp[i])) != 0)
            return rc;
        if (v->o->progress)
            v->o->progress(v->o->ctx, "verify", ++done, total);
    }
    check_missing(v);

    if (v->s.problems == 0)
        return 0;
    char tail[128] = "";
    if (v->s.head_found)
        snprintf(tail, sizeof tail, "; the ledger up to the head (seq %llu) %s",
                 (unsigned long long)head_seq, head_sound ? "checks out" : "does not check out");
    return colog_seterr(COLOG_ECORRUPT, "%llu problem%s%s", (unsigned long long)v->s.problems,
                        v->s.problems == 1 ? "" : "s", tail);
}

int colog_verify_store(const char *store_path, const colog_verify_opts_t *opts,
                       colog_verify_stats_t *stats)
{
    static const colog_verify_opts_t none = {0};
    uint8_t head[32];
    int rc;
    if (store_path == NULL)
        return colog_seterr(COLOG_EINVAL, "verify: no store path");
    if (opts == NULL)
        opts = &none;
    if (opts->one_day && (opts->day < COLOG__DAY_MIN || opts->day > COLOG__DAY_MAX))
        return colog_seterr(COLOG_ERANGE, "verify: day %d is outside the years 0000-9999",
                            opts->day);
    if (opts->head != NULL &&
        (strlen(opts->head) != 64 || colog__unhex(opts->head, 64, head, 32) != 0))
        return colog_seterr(COLOG_EINVAL, "verify: head must be 64 hex digits: %s", opts->head);

    verify_t v = {.o = opts, .coldfd = -1};
    rc = colog_store_open(&v.st, store_path, COLOG_OPEN_READ);
    if (rc)
        return rc;
    if (opts->key_path != NULL) {
        rc = colog__ledger_key_load(opts->key_path, v.keybuf);
        if (rc)
            goto out_close;
        v.key = v.keybuf;
    } else if (v.st->keyed) {
        v.key = v.st->key;
    }
    v.chunk = malloc(CHUNK);
    if (v.chunk == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_close;
    }
    rc = run(&v, opts->head ? head : NULL);
    if (stats)
        *stats = v.s;
out_close:
    for (size_t i = 0; i < v.ndp; i++) {
        free(v.dp[i].err);
        if (v.dp[i].man_rc == 0)
            colog__manifest_clear(&v.dp[i].man);
    }
    free(v.dp);
    free(v.chunk);
    colog__lstate_clear(&v.ls);
    colog__lview_free(v.lv);
    if (v.coldfd >= 0)
        close(v.coldfd);
    sodium_memzero(v.keybuf, sizeof v.keybuf);
    colog_store_close(v.st);
    return rc;
}
