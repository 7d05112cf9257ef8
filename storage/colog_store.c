/*
 * colog_store.c — the store directory: creation, configuration, the writer lock,
 * the list of days, consistent per-day snapshots of parts, and merges.
 *
 * NOTES ON THE DESIGN OF THE STORE
 *
 * Layout (docs/FORMAT.md is the authority):
 *     STORE/colog.conf          configuration and schema (text)
 *     STORE/lock                flock()ed by the one writer
 *     STORE/hot/YYYY-MM-DD/pID/ one immutable part (ID: 16 lower-case hex digits)
 *     STORE/hot/YYYY-MM-DD/.tmp-pID/  a part being written (never read)
 *     STORE/hot/YYYY-MM-DD/.del-pID/  a part being deleted (never read)
 *
 * Invariants:
 *  1. A part directory named pID is complete: it was written under .tmp-pID,
 *     fsynced, renamed, and the day directory fsynced.
 *  2. A part whose manifest lists ids in its "supersedes" set replaces those parts.
 *     It is committed (renamed into place) before any part it supersedes is removed,
 *     and removal begins with an atomic rename to .del-pID.
 *  3. Hence a reader that lists a day and opens every listed part without meeting
 *     ENOENT, then drops the superseded ones, sees every row exactly once. If it
 *     meets ENOENT, a part was removed after the listing; the part that supersedes
 *     it was committed before that, so listing again finds it (colog_snap_day
 *     retries).
 *  4. Only the holder of the writer lock creates, commits or removes parts; it
 *     cleans leftovers (.tmp-, .del-, superseded parts) of a day before merging it.
 *  5. Part ids within a day only grow: a new id is 1 + the largest id present in
 *     any form (pID, .tmp-pID, .del-pID), so ids never repeat while a part that
 *     names them may still exist.
 */
#include "colog_storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "colog_store_int.h"

int64_t colog__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void colog_config_default(colog_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->hot_days = 90;
    c->cold_days = 400;
}

/* ---------------------------------------------------------------- colog.conf */

/* Canonical schema text: one "name type[ indexed]" line per column. */
static int schema_text(const colog_schema_t *s, char *buf, size_t cap)
{
    size_t off = 0;
    for (unsigned i = 0; i < s->ncols; i++) {
        int k = snprintf(buf + off, cap - off, "%s %s%s\n", s->cols[i].name,
                         colog_type_name(s->cols[i].type), s->cols[i].indexed ? " indexed" : "");
        if (k < 0 || (size_t)k >= cap - off)
            return COLOG_ELIMIT;
        off += (size_t)k;
    }
    return (int)off;
}

static int conf_write(const char *path, const colog_schema_t *s, const colog_config_t *c)
{
    char schema[8192], buf[16384];
    int slen = schema_text(s, schema, sizeof schema);
    if (slen < 0)
        return slen;
    int n = snprintf(buf, sizeof buf,
                     "# colog store configuration. Edit with care: the schema part must not\n"
                     "# change once data is stored.\n"
                     "format_version %u\nhot_days %u\ncold_days %u\ncold_dir %s\ntz %s\n"
                     "schema %s\n%s",
                     COLOG_FORMAT_VERSION, c->hot_days, c->cold_days, c->cold_dir, c->tz, s->name,
                     schema);
    if (n < 0 || (size_t)n >= sizeof buf)
        return COLOG_ELIMIT;
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return colog_seterr(-errno, "%s: %s", path, strerror(errno));
    int rc = colog__write_file_durable(dfd, "colog.conf", buf, (size_t)n);
    close(dfd);
    return rc;
}

/* Parse colog.conf: "key value" lines, then "schema NAME" followed by the schema. */
static int conf_read(colog_store_t *st)
{
    uint8_t *buf;
    size_t len;
    int rc = colog__read_file(st->dirfd, "colog.conf", &buf, &len);
    if (rc == -ENOENT)
        return colog_seterr(COLOG_ENOTCOLOG, "%s: not a colog store (no colog.conf)", st->path);
    if (rc)
        return rc;
    colog_config_default(&st->cfg);
    const char *p = (const char *)buf, *end = p + len;
    unsigned line = 0, version = 0;
    bool have_schema = false;
    rc = 0;
    while (p < end && !have_schema) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        char l[1024];
        size_t ll = (size_t)(le - p);
        line++;
        if (ll >= sizeof l) {
            rc = colog_seterr(COLOG_ECORRUPT, "%s/colog.conf:%u: line too long", st->path, line);
            goto out_free;
        }
        memcpy(l, p, ll);
        l[ll] = 0;
        p = nl ? nl + 1 : end;
        if (l[0] == '#' || l[0] == 0)
            continue;
        char *sp = strchr(l, ' ');
        const char *val = sp ? sp + 1 : "";
        if (sp)
            *sp = 0;
        if (strcmp(l, "format_version") == 0) {
            version = (unsigned)strtoul(val, NULL, 10);
        } else if (strcmp(l, "hot_days") == 0) {
            st->cfg.hot_days = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(l, "cold_days") == 0) {
            st->cfg.cold_days = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(l, "cold_dir") == 0) {
            snprintf(st->cfg.cold_dir, sizeof st->cfg.cold_dir, "%s", val);
        } else if (strcmp(l, "tz") == 0) {
            snprintf(st->cfg.tz, sizeof st->cfg.tz, "%s", val);
        } else if (strcmp(l, "schema") == 0) {
            have_schema = true;
            rc = colog_schema_parse(p, (size_t)(end - p), "colog.conf", &st->schema);
            if (rc)
                goto out_free;
            snprintf(st->schema.name, sizeof st->schema.name, "%s", val);
        } else {
            rc = colog_seterr(COLOG_ECORRUPT, "%s/colog.conf:%u: unknown key '%s'", st->path, line,
                              l);
            goto out_free;
        }
    }
    if (version == 0 || !have_schema) {
        rc = colog_seterr(COLOG_ENOTCOLOG, "%s/colog.conf: no format_version or schema", st->path);
        goto out_free;
    }
    if (version != COLOG_FORMAT_VERSION) {
        rc = colog_seterr(COLOG_EVERSION, "%s/colog.conf: format version %u (this colog reads %u)",
                          st->path, version, COLOG_FORMAT_VERSION);
        goto out_free;
    }
    {
        char stext[8192];
        int slen = schema_text(&st->schema, stext, sizeof stext);
        if (slen < 0) {
            rc = slen;
            goto out_free;
        }
        crypto_hash_sha256(st->schema_sha, (const unsigned char *)stext, (unsigned long long)slen);
    }
out_free:
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- create / open */

int colog_store_create(const char *path, const colog_schema_t *schema, const colog_config_t *cfg)
{
    if (path == NULL || schema == NULL || cfg == NULL || schema->ncols == 0 ||
        schema->ncols > COLOG_MAX_COLS || schema->cols[0].type != COLOG_T_TIME)
        return colog_seterr(COLOG_EINVAL, "store create: invalid arguments");
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "libsodium initialisation failed");
    if (mkdir(path, 0755) != 0) {
        if (errno != EEXIST)
            return colog_seterr(-errno, "%s: %s", path, strerror(errno));
        DIR *d = opendir(path);
        if (d == NULL)
            return colog_seterr(-errno, "%s: %s", path, strerror(errno));
        struct dirent *e;
        bool empty = true;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                empty = false;
        closedir(d);
        if (!empty)
            return colog_seterr(COLOG_EEXIST, "%s: exists and is not empty", path);
    }
    char sub[PATH_MAX];
    const char *dirs[] = {"hot", "wal"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(sub, sizeof sub, "%s/%s", path, dirs[i]);
        if (mkdir(sub, 0755) != 0 && errno != EEXIST)
            return colog_seterr(-errno, "%s: %s", sub, strerror(errno));
    }
    int rc = conf_write(path, schema, cfg);
    if (rc)
        return rc;
    return colog__fsync_dir(path);
}

int colog_store_open(colog_store_t **out, const char *path, int flags)
{
    if (out == NULL || path == NULL)
        return colog_seterr(COLOG_EINVAL, "store open: invalid arguments");
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "libsodium initialisation failed");
    int rc;
    colog_store_t *st = calloc(1, sizeof *st);
    if (st == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    st->dirfd = st->hotfd = st->lockfd = -1;
    snprintf(st->path, sizeof st->path, "%s", path);
    st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dirfd < 0) {
        rc = colog_seterr(errno == ENOENT ? COLOG_ENOTCOLOG : -errno, "%s: %s", path,
                          errno == ENOENT ? "no such store" : strerror(errno));
        goto out_free;
    }
    rc = conf_read(st);
    if (rc)
        goto out_free;
    st->hotfd = openat(st->dirfd, "hot", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->hotfd < 0) {
        rc = colog_seterr(-errno, "%s/hot: %s", path, strerror(errno));
        goto out_free;
    }
    if (flags & COLOG_OPEN_WRITE) {
        st->lockfd = openat(st->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (st->lockfd < 0) {
            rc = colog_seterr(-errno, "%s/lock: %s", path, strerror(errno));
            goto out_free;
        }
        while (flock(st->lockfd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                rc = colog_seterr(-errno, "%s/lock: %s", path, strerror(errno));
                goto out_free;
            }
        }
        st->writable = true;
    }
    *out = st;
    return 0;
out_free:
    colog_store_close(st);
    return rc;
}

void colog_store_close(colog_store_t *st)
{
    if (st == NULL)
        return;
    if (st->lockfd >= 0)
        close(st->lockfd); /* releases the flock */
    if (st->hotfd >= 0)
        close(st->hotfd);
    if (st->dirfd >= 0)
        close(st->dirfd);
    free(st);
}

const colog_schema_t *colog_store_schema(const colog_store_t *st)
{
    return &st->schema;
}

const colog_config_t *colog_store_config(const colog_store_t *st)
{
    return &st->cfg;
}

const char *colog_store_path(const colog_store_t *st)
{
    return st->path;
}

/* ---------------------------------------------------------------- days */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int colog_store_days(colog_store_t *st, int32_t **days, size_t *n)
{
    if (st == NULL || days == NULL || n == NULL)
        return colog_seterr(COLOG_EINVAL, "store days: invalid arguments");
    int fd = openat(st->hotfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return colog_seterr(-errno, "%s/hot: %s", st->path, strerror(errno));
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return colog_seterr(-errno, "%s/hot: %s", st->path, strerror(errno));
    }
    size_t cap = 64, cnt = 0;
    int32_t *v = malloc(cap * sizeof *v);
    int rc = 0;
    if (v == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_close;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int32_t day;
        if (strlen(e->d_name) != 10 || colog_day_parse(e->d_name, 10, &day) != 0)
            continue;
        if (cnt == cap) {
            int32_t *nv = realloc(v, 2 * cap * sizeof *v);
            if (nv == NULL) {
                rc = colog_seterr(COLOG_ENOMEM, "out of memory");
                goto out_close;
            }
            v = nv;
            cap *= 2;
        }
        v[cnt++] = day;
    }
    qsort(v, cnt, sizeof *v, cmp_i32);
    *days = v;
    *n = cnt;
    v = NULL;
out_close:
    free(v);
    closedir(d);
    return rc;
}

/* Open the directory of a day; -ENOENT when the day has none. */
int colog__day_open(colog_store_t *st, int32_t day, bool create, int *fd_out)
{
    char name[16];
    colog_day_format(day, name, sizeof name);
    int fd = openat(st->hotfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(st->hotfd, name, 0755) != 0 && errno != EEXIST)
            return colog_seterr(-errno, "%s/hot/%s: %s", st->path, name, strerror(errno));
        int rc = colog__fsync_fd(st->hotfd);
        if (rc)
            return colog_seterr(rc, "%s/hot: fsync: %s", st->path, strerror(-rc));
        fd = openat(st->hotfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return -ENOENT;
        return colog_seterr(-e, "%s/hot/%s: %s", st->path, name, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

/* Parse "pXXXXXXXXXXXXXXXX" (after an optional prefix) into an id. */
static bool part_name_id(const char *name, const char *prefix, uint64_t *id)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0)
        return false;
    name += pl;
    if (name[0] != 'p' || strlen(name) != 17)
        return false;
    uint64_t v = 0;
    for (int i = 1; i < 17; i++) {
        char c = name[i];
        int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (x < 0)
            return false;
        v = (v << 4) | (uint64_t)x;
    }
    *id = v;
    return true;
}

/* List a day directory: live-looking part ids (pID) and the largest id in any form. */
int colog__day_list(int dayfd, uint64_t **ids, size_t *n, uint64_t *max_id, bool *leftovers)
{
    int fd = openat(dayfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return -errno;
    }
    size_t cap = 16, cnt = 0;
    uint64_t *v = malloc(cap * sizeof *v), mx = 0;
    int rc = 0;
    if (v == NULL) {
        rc = COLOG_ENOMEM;
        goto out_close;
    }
    if (leftovers)
        *leftovers = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t id;
        if (part_name_id(e->d_name, "", &id)) {
            if (cnt == cap) {
                uint64_t *nv = realloc(v, 2 * cap * sizeof *v);
                if (nv == NULL) {
                    rc = COLOG_ENOMEM;
                    goto out_close;
                }
                v = nv;
                cap *= 2;
            }
            v[cnt++] = id;
        } else if (part_name_id(e->d_name, ".tmp-", &id) || part_name_id(e->d_name, ".del-", &id)) {
            if (leftovers)
                *leftovers = true;
        } else {
            continue;
        }
        if (id > mx)
            mx = id;
    }
    *ids = v;
    *n = cnt;
    if (max_id)
        *max_id = mx;
    v = NULL;
out_close:
    free(v);
    closedir(d);
    return rc;
}

/* ---------------------------------------------------------------- snapshots */

struct colog_snap {
    size_t n;
    colog_part_t **parts;
};

size_t colog_snap_nparts(const colog_snap_t *s)
{
    return s->n;
}

colog_part_t *colog_snap_part(colog_snap_t *s, size_t i)
{
    return i < s->n ? s->parts[i] : NULL;
}

void colog_snap_free(colog_snap_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        colog__part_close(s->parts[i]);
    free(s->parts);
    free(s);
}

/* Parts in write order (ids grow), so merges and raw output keep ties stable. */
static int cmp_part_id(const void *a, const void *b)
{
    uint64_t ix = colog_part_id(*(colog_part_t *const *)a);
    uint64_t iy = colog_part_id(*(colog_part_t *const *)b);
    return (ix > iy) - (ix < iy);
}

static bool id_in(const uint64_t *v, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

/* One attempt: list, open all, drop superseded. -ENOENT means "retry". */
static int snap_try(colog_store_t *st, int dayfd, int32_t day, uint64_t colmask,
                    colog_damaged_fn damaged, void *dctx, colog_snap_t *s)
{
    uint64_t *ids = NULL;
    size_t nids = 0;
    int rc = colog__day_list(dayfd, &ids, &nids, NULL, NULL);
    if (rc)
        return rc == COLOG_ENOMEM ? colog_seterr(rc, "out of memory") : rc;
    s->parts = calloc(nids ? nids : 1, sizeof *s->parts);
    if (s->parts == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_ids;
    }
    for (size_t i = 0; i < nids; i++) {
        rc = colog__part_open(st, dayfd, day, ids[i], colmask, &s->parts[s->n]);
        if (rc && damaged && rc != -ENOENT && rc != COLOG_ESTALE && rc != COLOG_ENOMEM) {
            damaged(dctx, colog_errmsg()); /* left out, as the caller asked */
            rc = 0;
            continue;
        }
        if (rc)
            goto out_ids;
        s->n++;
    }
    /* Drop superseded parts (invariant 2): mark first, then close. */
    bool *dead = calloc(s->n ? s->n : 1, sizeof *dead);
    if (dead == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_ids;
    }
    for (size_t j = 0; j < s->n; j++) {
        uint32_t nsup;
        const uint64_t *sup = colog__part_sup(s->parts[j], &nsup);
        for (size_t i = 0; i < s->n; i++)
            dead[i] |= j != i && id_in(sup, nsup, colog_part_id(s->parts[i]));
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (dead[i])
            colog__part_close(s->parts[i]);
        else
            s->parts[k++] = s->parts[i];
    }
    s->n = k;
    free(dead);
    qsort(s->parts, s->n, sizeof *s->parts, cmp_part_id);
out_ids:
    free(ids);
    return rc;
}

int colog_snap_day(colog_store_t *st, int32_t day, uint64_t colmask, colog_snap_t **out)
{
    return colog_snap_day_ex(st, day, colmask, NULL, NULL, out);
}

int colog_snap_day_ex(colog_store_t *st, int32_t day, uint64_t colmask, colog_damaged_fn damaged,
                      void *dctx, colog_snap_t **out)
{
    if (st == NULL || out == NULL)
        return colog_seterr(COLOG_EINVAL, "snapshot: invalid arguments");
    colog_snap_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    int dayfd, rc = colog__day_open(st, day, false, &dayfd);
    if (rc == -ENOENT) {
        *out = s; /* no such day: an empty snapshot */
        return 0;
    }
    if (rc) {
        free(s);
        return rc;
    }
    for (int attempt = 0; attempt < 1000; attempt++) {
        rc = snap_try(st, dayfd, day, colmask, damaged, dctx, s);
        if (rc != -ENOENT && rc != COLOG_ESTALE)
            break;
        for (size_t i = 0; i < s->n; i++)
            colog__part_close(s->parts[i]);
        free(s->parts);
        s->parts = NULL;
        s->n = 0;
    }
    close(dayfd);
    if (rc) {
        colog_snap_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---------------------------------------------------------------- cleanup */

/* Remove one part directory: rename to .del-pID (atomic), then delete. */
int colog__part_remove(int dayfd, uint64_t id)
{
    char name[32], del[40];
    snprintf(name, sizeof name, "p%016llx", (unsigned long long)id);
    snprintf(del, sizeof del, ".del-%s", name);
    if (renameat(dayfd, name, dayfd, del) != 0 && errno != ENOENT)
        return -errno;
    int rc = colog__fsync_fd(dayfd);
    if (rc)
        return rc;
    return colog__rm_rf(dayfd, del);
}

/* Under the writer lock: remove .tmp-/.del- leftovers and superseded parts. */
int colog__day_cleanup(colog_store_t *st, int32_t day)
{
    int dayfd, rc = colog__day_open(st, day, false, &dayfd);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    int fd = openat(dayfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        goto out_day;
    }
    struct dirent *e;
    char names[256][40];
    size_t nn = 0;
    while ((e = readdir(d)) != NULL && nn < 256) {
        uint64_t id;
        if (part_name_id(e->d_name, ".tmp-", &id) || part_name_id(e->d_name, ".del-", &id))
            memcpy(names[nn++], e->d_name, 23); /* ".tmp-" + "p" + 16 hex + NUL */
    }
    closedir(d);
    for (size_t i = 0; i < nn && rc == 0; i++)
        rc = colog__rm_rf(dayfd, names[i]);
    if (rc)
        goto out_day;
    /* Superseded parts: open all manifests (no columns) and remove what is replaced. */
    colog_snap_t *all = NULL;
    uint64_t *ids = NULL;
    size_t nids = 0;
    rc = colog__day_list(dayfd, &ids, &nids, NULL, NULL);
    if (rc)
        goto out_day;
    all = calloc(1, sizeof *all);
    if (all != NULL)
        all->parts = calloc(nids ? nids : 1, sizeof *all->parts);
    if (all == NULL || all->parts == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_all;
    }
    for (size_t i = 0; i < nids; i++) {
        rc = colog__part_open(st, dayfd, day, ids[i], 0, &all->parts[all->n]);
        if (rc)
            goto out_all;
        all->n++;
    }
    for (size_t i = 0; i < all->n && rc == 0; i++) {
        uint32_t nsup;
        const uint64_t *sup = colog__part_sup(all->parts[i], &nsup);
        for (uint32_t j = 0; j < nsup && rc == 0; j++)
            if (id_in(ids, nids, sup[j]))
                rc = colog__part_remove(dayfd, sup[j]);
    }
out_all:
    colog_snap_free(all);
    free(ids);
out_day:
    close(dayfd);
    return rc;
}
