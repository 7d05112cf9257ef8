/*
 * colog_store.c — the store directory: creation, configuration, the writer lock,
 * the list of days, consistent per-day snapshots of parts, and merges.
 *
 * NOTES ON THE DESIGN OF THE STORE
 *
 * Layout (docs/FORMAT.md is the authority):
 *     STORE/colog.conf          configuration and schema (text)
 *     STORE/lock                flock()ed by the one writer
 *     STORE/ledger              hash chain of every part committed or removed
 *     STORE/hot/YYYY-MM-DD/pID/ one immutable part (ID: 16 lower-case hex digits)
 *     STORE/hot/YYYY-MM-DD/.tmp-pID/  a part being written (never read)
 *     STORE/hot/YYYY-MM-DD/.del-pID/  a part being deleted (never read)
 *     COLD/YYYY-MM-DD/pID/      the same in the cold tier (COLD = cold_dir or
 *                               STORE/cold, possibly another filesystem)
 *     TIER/.del-YYYY-MM-DD/     a day being deleted (never read)
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
 *     any form (pID, .tmp-pID, .del-pID) in either tier, so ids never repeat while
 *     a part that names them may still exist. A part may supersede parts of the
 *     same day in the other tier (retain moves a day by writing one cold part
 *     that supersedes every part of the day).
 *  6. Readers list the hot directory of a day before the cold one. A part moves
 *     hot -> cold by a cold commit that supersedes it, followed by its removal,
 *     so a reader that missed the cold part in its (later) cold listing saw every
 *     hot part still in place: each row is seen exactly once (invariant 3).
 *  7. Every commit is first appended to the ledger (fsynced), then renamed into
 *     place; a day's removal is first recorded, then renamed away. Only the last
 *     ledger entry can be unfinished after a crash: the next writer finishes it
 *     (colog_store_open) before anything else is written.
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

#include "colog_ingest_int.h"
#include "colog_store_int.h"

int64_t colog__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void colog_config_default(colog_config_t *c)
{
    if (c == NULL)
        return;
    memset(c, 0, sizeof *c);
    c->hot_days = 90;
    c->cold_days = 400;
    c->after_cold = COLOG_AFTER_DELETE;
    c->cold_zstd_level = 19;
}

const char *colog_tier_name(colog_tier_t t)
{
    return t == COLOG_TIER_COLD ? "cold" : "hot";
}

/* Values that conf_write can write and conf_read read back. */
static int config_check(const colog_config_t *c)
{
    if (c->hot_days < 1 || c->cold_days < c->hot_days || c->cold_days > 3660000)
        return colog_seterr(COLOG_EINVAL, "tiers: need 1 <= hot-days <= cold-days (got %u, %u)",
                            c->hot_days, c->cold_days);
    if (c->after_cold != COLOG_AFTER_DELETE && c->after_cold != COLOG_AFTER_ARCHIVE)
        return colog_seterr(COLOG_EINVAL, "tiers: after-cold must be delete or archive");
    if (c->cold_zstd_level < 1 || c->cold_zstd_level > 22)
        return colog_seterr(COLOG_EINVAL, "tiers: cold zstd level must be 1..22");
    const char *paths[] = {c->cold_dir, c->archive_dir, c->ledger_key};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strnlen(paths[i], 512);
        if (n == 512)
            return colog_seterr(COLOG_EINVAL, "tiers: path too long");
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)paths[i][k] < 0x20)
                return colog_seterr(COLOG_EINVAL, "tiers: control character in a path");
        if (n > 0 && paths[i][0] != '/')
            return colog_seterr(COLOG_EINVAL, "tiers: '%s' is not an absolute path", paths[i]);
    }
    /* A zone name or offset (the query layer resolves it): one word of printable
     * ASCII, so that it can neither run past its field nor add lines to colog.conf. */
    size_t tn = strnlen(c->tz, sizeof c->tz);
    if (tn == sizeof c->tz)
        return colog_seterr(COLOG_EINVAL, "tz: longer than %zu bytes", sizeof c->tz - 1);
    for (size_t k = 0; k < tn; k++)
        if ((unsigned char)c->tz[k] <= 0x20 || (unsigned char)c->tz[k] >= 0x7f)
            return colog_seterr(COLOG_EINVAL,
                                "tz: '%.*s' holds a space, control or non-ASCII "
                                "character",
                                (int)tn, c->tz);
    return 0;
}

/* A caller-built schema must be one the text format can say: it is written to
 * colog.conf as text and read back on every open, so a schema that does not
 * survive colog_schema_format + colog_schema_parse would make a store that
 * never opens. */
static int schema_check(const colog_schema_t *s)
{
    if (strnlen(s->name, sizeof s->name) == sizeof s->name)
        return colog_seterr(COLOG_EINVAL, "store create: schema name not terminated");
    for (unsigned c = 0; c < s->ncols; c++)
        if (strnlen(s->cols[c].name, COLOG_NAME_MAX) == COLOG_NAME_MAX)
            return colog_seterr(COLOG_EINVAL, "store create: column %u: name not terminated", c);
    char text[COLOG_SCHEMA_TEXT_MAX];
    int n = colog_schema_format(s, text, sizeof text);
    if (n < 0)
        return n;
    colog_schema_t back;
    if (colog_schema_parse(text, (size_t)n, "schema", &back) != 0)
        return colog_seterr(COLOG_ESCHEMA, "store create: invalid schema: %s", colog_errmsg());
    for (unsigned c = 0; c < s->ncols; c++)
        if (back.ncols != s->ncols || back.cols[c].type != s->cols[c].type ||
            back.cols[c].indexed != s->cols[c].indexed ||
            strcmp(back.cols[c].name, s->cols[c].name) != 0)
            return colog_seterr(COLOG_ESCHEMA, "store create: invalid schema (column %u)", c);
    return 0;
}

int colog__schema_text(const colog_schema_t *s, char *buf, size_t cap)
{
    return colog_schema_format(s, buf, cap);
}

/* ---------------------------------------------------------------- colog.conf */

static int conf_write(const char *path, const colog_schema_t *s, const colog_config_t *c)
{
    char schema[8192], buf[16384];
    int slen = colog__schema_text(s, schema, sizeof schema);
    if (slen < 0)
        return slen;
    int n = snprintf(buf, sizeof buf,
                     "# colog store configuration. Edit with care: the schema part must not\n"
                     "# change once data is stored.\n"
                     "format_version %u\nhot_days %u\ncold_days %u\ncold_dir %s\n"
                     "after_cold %s\narchive_dir %s\ncold_zstd_level %u\nledger_key %s\ntz %s\n"
                     "schema %s\n%s",
                     COLOG_FORMAT_VERSION, c->hot_days, c->cold_days, c->cold_dir,
                     c->after_cold == COLOG_AFTER_ARCHIVE ? "archive" : "delete", c->archive_dir,
                     c->cold_zstd_level, c->ledger_key, c->tz, s->name, schema);
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
        } else if (strcmp(l, "after_cold") == 0) {
            if (strcmp(val, "delete") == 0 || strcmp(val, "archive") == 0) {
                st->cfg.after_cold = val[0] == 'a' ? COLOG_AFTER_ARCHIVE : COLOG_AFTER_DELETE;
            } else {
                rc = colog_seterr(COLOG_ECORRUPT, "%s/colog.conf:%u: after_cold is '%s'", st->path,
                                  line, val);
                goto out_free;
            }
        } else if (strcmp(l, "archive_dir") == 0) {
            snprintf(st->cfg.archive_dir, sizeof st->cfg.archive_dir, "%s", val);
        } else if (strcmp(l, "cold_zstd_level") == 0) {
            st->cfg.cold_zstd_level = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(l, "ledger_key") == 0) {
            snprintf(st->cfg.ledger_key, sizeof st->cfg.ledger_key, "%s", val);
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
    if (config_check(&st->cfg) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", colog_errmsg());
        rc = colog_seterr(COLOG_ECORRUPT, "%s/colog.conf: %s", st->path, why);
        goto out_free;
    }
    if (version != COLOG_FORMAT_VERSION) {
        rc = colog_seterr(COLOG_EVERSION, "%s/colog.conf: format version %u (this colog reads %u)",
                          st->path, version, COLOG_FORMAT_VERSION);
        goto out_free;
    }
    {
        char stext[8192];
        int slen = colog__schema_text(&st->schema, stext, sizeof stext);
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

/* The longest store path: room is left for the names the store builds under it
 * ("/cold", "/wal", "/hot", the configuration and ledger files), so that none of
 * them is ever cut short by a PATH_MAX buffer. */
#define STORE_PATH_MAX (PATH_MAX - 64)

/* mkdir -p for an absolute or relative path (the cold tier may be elsewhere). */
static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return colog_seterr(COLOG_ELIMIT, "%s: path too long", path);
    for (char *q = buf + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if ((colog__fault("mkdir") < 0 || mkdir(buf, 0755) != 0) && errno != EEXIST)
            return colog_seterr(-errno, "%s: %s", buf, strerror(errno));
        *q = '/';
    }
    if ((colog__fault("mkdir") < 0 || mkdir(buf, 0755) != 0) && errno != EEXIST)
        return colog_seterr(-errno, "%s: %s", buf, strerror(errno));
    return 0;
}

/* The cold tier's directory: cold_dir, or STORE/cold. A path that does not fit
 * is an error, never a truncated directory that would be created and used. */
static int cold_path_of(const char *store, const colog_config_t *c, char *buf, size_t cap)
{
    int n = c->cold_dir[0] ? snprintf(buf, cap, "%s", c->cold_dir)
                           : snprintf(buf, cap, "%s/cold", store);
    if (n < 0 || (size_t)n >= cap)
        return colog_seterr(COLOG_ELIMIT, "%s: cold tier path too long",
                            c->cold_dir[0] ? c->cold_dir : store);
    return 0;
}

int colog_store_create(const char *path, const colog_schema_t *schema, const colog_config_t *cfg)
{
    if (path == NULL || schema == NULL || cfg == NULL || schema->ncols == 0 ||
        schema->ncols > COLOG_MAX_COLS || schema->cols[0].type != COLOG_T_TIME)
        return colog_seterr(COLOG_EINVAL, "store create: invalid arguments");
    if (strnlen(path, PATH_MAX) > STORE_PATH_MAX)
        return colog_seterr(COLOG_ELIMIT,
                            "%.80s...: path too long (a store path has at most %d bytes)", path,
                            STORE_PATH_MAX);
    int rc = config_check(cfg);
    if (rc == 0)
        rc = schema_check(schema);
    if (rc)
        return rc;
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "libsodium initialisation failed");
    uint8_t key[32];
    if (cfg->ledger_key[0] && (rc = colog__ledger_key_load(cfg->ledger_key, key)) != 0)
        return rc;
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
    if ((rc = cold_path_of(path, cfg, sub, sizeof sub)) != 0 || (rc = mkdir_p(sub)) != 0)
        return rc;
    rc = conf_write(path, schema, cfg);
    if (rc)
        return rc;
    /* The ledger starts with its genesis entry (keyed if asked). */
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return colog_seterr(-errno, "%s: %s", path, strerror(errno));
    colog_ledger_t *l;
    rc = colog__ledger_open(dfd, "ledger", cfg->ledger_key[0] ? key : NULL, &l);
    close(dfd);
    sodium_memzero(key, sizeof key);
    if (rc)
        return rc;
    colog__ledger_close(l);
    return colog__fsync_dir(path);
}

int colog_store_open(colog_store_t **out, const char *path, int flags)
{
    if (out == NULL || path == NULL || (flags & ~COLOG_OPEN_WRITE) != 0)
        return colog_seterr(COLOG_EINVAL, "store open: invalid arguments");
    if (sodium_init() < 0)
        return colog_seterr(COLOG_ENOMEM, "libsodium initialisation failed");
    int rc;
    colog_store_t *st = calloc(1, sizeof *st);
    if (st == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    st->dirfd = st->hotfd = st->coldfd = st->lockfd = -1;
    if (strnlen(path, PATH_MAX) > STORE_PATH_MAX) {
        rc = colog_seterr(COLOG_ELIMIT,
                          "%.80s...: path too long (a store path has at most %d bytes)", path,
                          STORE_PATH_MAX);
        goto out_free;
    }
    if (snprintf(st->path, sizeof st->path, "%s", path) >= (int)sizeof st->path) {
        rc = colog_seterr(COLOG_ELIMIT, "%s: path too long", path);
        goto out_free;
    }
    st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dirfd < 0) {
        rc = colog_seterr(errno == ENOENT ? COLOG_ENOTCOLOG : -errno, "%s: %s", path,
                          errno == ENOENT ? "no such store" : strerror(errno));
        goto out_free;
    }
    rc = conf_read(st);
    if (rc)
        goto out_free;
    rc = cold_path_of(st->path, &st->cfg, st->cold_path, sizeof st->cold_path);
    if (rc)
        goto out_free;
    st->hotfd = openat(st->dirfd, "hot", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->hotfd < 0) {
        rc = colog_seterr(-errno, "%s/hot: %s", path, strerror(errno));
        goto out_free;
    }
    st->coldfd = open(st->cold_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* may not exist */
    if (st->cfg.ledger_key[0]) {
        rc = colog__ledger_key_load(st->cfg.ledger_key, st->key);
        if (rc == 0)
            st->keyed = true;
        else if (flags & COLOG_OPEN_WRITE)
            goto out_free; /* only the key's holder extends a keyed ledger */
        rc = 0;
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
        rc = colog__ledger_open(st->dirfd, "ledger", st->keyed ? st->key : NULL, &st->ledger);
        if (rc)
            goto out_free;
        rc = colog__store_recover(st);
        if (rc)
            goto out_free;
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
    colog__ledger_close(st->ledger);
    if (st->lockfd >= 0)
        close(st->lockfd); /* releases the flock */
    if (st->coldfd >= 0)
        close(st->coldfd);
    if (st->hotfd >= 0)
        close(st->hotfd);
    if (st->dirfd >= 0)
        close(st->dirfd);
    sodium_memzero(st->key, sizeof st->key);
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

int colog_store_set_config(colog_store_t *st, const colog_config_t *cfg)
{
    if (st == NULL || cfg == NULL || !st->writable)
        return colog_seterr(COLOG_EINVAL, "set config: store not open for writing");
    int rc = config_check(cfg);
    if (rc)
        return rc;
    colog_config_t nc = st->cfg;
    nc.hot_days = cfg->hot_days;
    nc.cold_days = cfg->cold_days;
    nc.after_cold = cfg->after_cold;
    nc.cold_zstd_level = cfg->cold_zstd_level;
    memcpy(nc.archive_dir, cfg->archive_dir, sizeof nc.archive_dir);
    if (strcmp(cfg->cold_dir, st->cfg.cold_dir) != 0) {
        char np[PATH_MAX];
        if ((rc = cold_path_of(st->path, cfg, np, sizeof np)) != 0)
            return rc;
        int32_t *days = NULL;
        size_t n = 0;
        if (st->coldfd >= 0) {
            rc = colog__tier_days(st, COLOG_TIER_COLD, &days, &n);
            free(days);
            if (rc)
                return rc;
        }
        if (n > 0)
            return colog_seterr(COLOG_EINVAL,
                                "%s holds %zu days: move them with the store stopped and edit "
                                "colog.conf, or empty the cold tier first",
                                st->cold_path, n);
        if ((rc = mkdir_p(np)) != 0)
            return rc;
        int fd = open(np, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return colog_seterr(-errno, "%s: %s", np, strerror(errno));
        if (st->coldfd >= 0)
            close(st->coldfd);
        st->coldfd = fd;
        memcpy(nc.cold_dir, cfg->cold_dir, sizeof nc.cold_dir);
        snprintf(st->cold_path, sizeof st->cold_path, "%s", np);
    }
    rc = conf_write(st->path, &st->schema, &nc);
    if (rc == 0)
        st->cfg = nc;
    return rc;
}

/* ---------------------------------------------------------------- tiers and days */

int colog__tier_fd(colog_store_t *st, colog_tier_t tier, bool create, int *fd_out)
{
    if (tier == COLOG_TIER_HOT) {
        *fd_out = st->hotfd;
        return 0;
    }
    if (st->coldfd < 0) {
        if (!create)
            return -ENOENT;
        int rc = mkdir_p(st->cold_path);
        if (rc)
            return rc;
        st->coldfd = open(st->cold_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st->coldfd < 0)
            return colog_seterr(-errno, "%s: %s", st->cold_path, strerror(errno));
    }
    *fd_out = st->coldfd;
    return 0;
}

void colog__day_display(const colog_store_t *st, colog_tier_t tier, int32_t day, char *buf,
                        size_t cap)
{
    char d[16];
    colog_day_format(day, d, sizeof d);
    if (tier == COLOG_TIER_HOT)
        snprintf(buf, cap, "hot/%s", d);
    else if (st->cfg.cold_dir[0])
        snprintf(buf, cap, "%s/%s", st->cold_path, d);
    else
        snprintf(buf, cap, "cold/%s", d);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Append the day directories of one tier to v[cnt..] (not sorted). */
static int list_days(colog_store_t *st, colog_tier_t tier, int32_t **v, size_t *cnt, size_t *cap)
{
    int tfd, rc = colog__tier_fd(st, tier, false, &tfd);
    if (rc == -ENOENT)
        return 0;
    if (rc)
        return rc;
    const char *tname = tier == COLOG_TIER_HOT ? "hot" : st->cold_path;
    int fd = openat(tfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return colog_seterr(-errno, "%s: %s", tname, strerror(errno));
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return colog_seterr(-errno, "%s: %s", tname, strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int32_t day;
        if (strlen(e->d_name) != 10 || colog_day_parse(e->d_name, 10, &day) != 0)
            continue;
        if (*cnt == *cap) {
            int32_t *nv = realloc(*v, 2 * *cap * sizeof **v);
            if (nv == NULL) {
                rc = colog_seterr(COLOG_ENOMEM, "out of memory");
                break;
            }
            *v = nv;
            *cap *= 2;
        }
        (*v)[(*cnt)++] = day;
    }
    closedir(d);
    return rc;
}

static int days_of(colog_store_t *st, int tiers, int32_t **days, size_t *n)
{
    size_t cap = 64, cnt = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (v == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    int rc = 0;
    if (tiers & 1)
        rc = list_days(st, COLOG_TIER_HOT, &v, &cnt, &cap);
    if (rc == 0 && (tiers & 2))
        rc = list_days(st, COLOG_TIER_COLD, &v, &cnt, &cap);
    if (rc) {
        free(v);
        return rc;
    }
    qsort(v, cnt, sizeof *v, cmp_i32);
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    *days = v;
    *n = k;
    return 0;
}

int colog_store_days(colog_store_t *st, int32_t **days, size_t *n)
{
    if (st == NULL || days == NULL || n == NULL)
        return colog_seterr(COLOG_EINVAL, "store days: invalid arguments");
    return days_of(st, 3, days, n);
}

int colog__tier_days(colog_store_t *st, colog_tier_t tier, int32_t **days, size_t *n)
{
    return days_of(st, tier == COLOG_TIER_HOT ? 1 : 2, days, n);
}

/* Open the directory of a day; -ENOENT when the day has none. */
int colog__day_open(colog_store_t *st, colog_tier_t tier, int32_t day, bool create, int *fd_out)
{
    char name[16], disp[PATH_MAX + 32];
    colog_day_format(day, name, sizeof name);
    int tfd, rc = colog__tier_fd(st, tier, create, &tfd);
    if (rc)
        return rc;
    /* Errors name the full path (the store may be anywhere). */
    snprintf(disp, sizeof disp, "%s/%s", tier == COLOG_TIER_HOT ? st->path : st->cold_path,
             tier == COLOG_TIER_HOT ? "hot" : name);
    if (tier == COLOG_TIER_HOT) {
        size_t l = strlen(disp);
        snprintf(disp + l, sizeof disp - l, "/%s", name);
    }
    int fd = openat(tfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if ((colog__fault("mkdir") < 0 || mkdirat(tfd, name, 0755) != 0) && errno != EEXIST)
            return colog_seterr(-errno, "%s: %s", disp, strerror(errno));
        rc = colog__fsync_fd(tfd);
        if (rc)
            return colog_seterr(rc, "%s: fsync: %s", disp, strerror(-rc));
        fd = openat(tfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return -ENOENT;
        return colog_seterr(-e, "%s: %s", disp, strerror(e));
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
    return s ? s->n : 0;
}

colog_part_t *colog_snap_part(colog_snap_t *s, size_t i)
{
    return s && i < s->n ? s->parts[i] : NULL;
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

/* The ids listed in one tier's day directory (none if it has none). */
typedef struct tierlist {
    int dayfd; /* -1: no directory */
    uint64_t *ids;
    size_t n;
    uint64_t max_id;
} tierlist_t;

static int tier_list(colog_store_t *st, colog_tier_t tier, int32_t day, tierlist_t *tl)
{
    memset(tl, 0, sizeof *tl);
    tl->dayfd = -1;
    int rc = colog__day_open(st, tier, day, false, &tl->dayfd);
    if (rc == -ENOENT) {
        tl->dayfd = -1;
        return 0;
    }
    if (rc)
        return rc;
    rc = colog__day_list(tl->dayfd, &tl->ids, &tl->n, &tl->max_id, NULL);
    if (rc) {
        char disp[PATH_MAX];
        colog__day_display(st, tier, day, disp, sizeof disp);
        rc = colog_seterr(rc, "%s: cannot list: %s", disp, colog_strerror(rc));
        close(tl->dayfd);
        tl->dayfd = -1;
    }
    return rc;
}

static void tier_list_free(tierlist_t *tl)
{
    if (tl->dayfd >= 0)
        close(tl->dayfd);
    free(tl->ids);
    tl->ids = NULL;
    tl->dayfd = -1;
}

/* One attempt: list (hot, then cold: invariant 6), open all, drop superseded.
 * -ENOENT means "retry". */
static int snap_try(colog_store_t *st, int32_t day, int tiers, uint64_t colmask,
                    colog_damaged_fn damaged, void *dctx, colog_snap_t *s)
{
    tierlist_t tl[2] = {{.dayfd = -1}, {.dayfd = -1}};
    int rc = 0;
    for (int t = 0; t < 2 && rc == 0; t++)
        if (tiers >> t & 1)
            rc = tier_list(st, (colog_tier_t)t, day, &tl[t]);
    if (rc)
        goto out_lists;
    s->parts = calloc(tl[0].n + tl[1].n + 1, sizeof *s->parts);
    if (s->parts == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_lists;
    }
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < tl[t].n; i++) {
            rc = colog__part_open(st, (colog_tier_t)t, tl[t].dayfd, day, tl[t].ids[i], colmask,
                                  &s->parts[s->n]);
            if (rc && damaged && rc != -ENOENT && rc != COLOG_ESTALE && rc != COLOG_ENOMEM) {
                damaged(dctx, colog_errmsg()); /* left out, as the caller asked */
                rc = 0;
                continue;
            }
            if (rc)
                goto out_lists;
            s->n++;
        }
    }
    /* Drop superseded parts (invariant 2): mark first, then close. */
    bool *dead = calloc(s->n ? s->n : 1, sizeof *dead);
    if (dead == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_lists;
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
out_lists:
    tier_list_free(&tl[0]);
    tier_list_free(&tl[1]);
    return rc;
}

static int snap_tiers(colog_store_t *st, int32_t day, int tiers, uint64_t colmask,
                      colog_damaged_fn damaged, void *dctx, colog_snap_t **out)
{
    if (st == NULL || out == NULL)
        return colog_seterr(COLOG_EINVAL, "snapshot: invalid arguments");
    if (day < COLOG__DAY_MIN || day > COLOG__DAY_MAX)
        return colog_seterr(COLOG_ERANGE, "snapshot: day %d is outside the years 0000-9999", day);
    colog_snap_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    int rc = 0;
    for (int attempt = 0; attempt < 1000; attempt++) {
        rc = snap_try(st, day, tiers, colmask, damaged, dctx, s);
        if (rc != -ENOENT && rc != COLOG_ESTALE)
            break;
        for (size_t i = 0; i < s->n; i++)
            colog__part_close(s->parts[i]);
        free(s->parts);
        s->parts = NULL;
        s->n = 0;
    }
    if (rc) {
        if (rc == -ENOENT)
            rc = colog_seterr(COLOG_ESTALE, "day %d: parts kept vanishing", day);
        colog_snap_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int colog_snap_day(colog_store_t *st, int32_t day, uint64_t colmask, colog_snap_t **out)
{
    return snap_tiers(st, day, 3, colmask, NULL, NULL, out);
}

int colog_snap_day_ex(colog_store_t *st, int32_t day, uint64_t colmask, colog_damaged_fn damaged,
                      void *dctx, colog_snap_t **out)
{
    return snap_tiers(st, day, 3, colmask, damaged, dctx, out);
}

int colog__snap_tier(colog_store_t *st, colog_tier_t tier, int32_t day, uint64_t colmask,
                     colog_snap_t **out)
{
    return snap_tiers(st, day, tier == COLOG_TIER_HOT ? 1 : 2, colmask, NULL, NULL, out);
}

/* ---------------------------------------------------------------- removal and cleanup */

/* Remove one part directory: rename to .del-pID (atomic), then delete. */
int colog__part_remove(int dayfd, uint64_t id)
{
    char name[32], del[40];
    snprintf(name, sizeof name, "p%016llx", (unsigned long long)id);
    snprintf(del, sizeof del, ".del-%s", name);
    if ((colog__fault("rename") < 0 || renameat(dayfd, name, dayfd, del) != 0) && errno != ENOENT)
        return -errno;
    int rc = colog__fsync_fd(dayfd);
    if (rc)
        return rc;
    return colog__rm_rf(dayfd, del);
}

int colog__part_remove_any(colog_store_t *st, int32_t day, uint64_t id)
{
    for (int t = 0; t < 2; t++) {
        int dayfd, rc = colog__day_open(st, (colog_tier_t)t, day, false, &dayfd);
        if (rc == -ENOENT)
            continue;
        if (rc)
            return rc;
        rc = colog__part_remove(dayfd, id);
        close(dayfd);
        if (rc) {
            char disp[PATH_MAX];
            colog__day_display(st, (colog_tier_t)t, day, disp, sizeof disp);
            return colog_seterr(rc, "%s/p%016llx: remove: %s", disp, (unsigned long long)id,
                                colog_strerror(rc));
        }
    }
    return 0;
}

/* Remove .tmp-/.del- entries of a directory whose names match `leftover`. */
static int remove_leftovers(int dirfd, bool (*leftover)(const char *))
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    struct dirent *e;
    char names[256][40];
    size_t nn = 0;
    while ((e = readdir(d)) != NULL && nn < 256)
        if (strlen(e->d_name) < sizeof names[0] && leftover(e->d_name))
            memcpy(names[nn++], e->d_name, strlen(e->d_name) + 1);
    closedir(d);
    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++)
        rc = colog__rm_rf(dirfd, names[i]);
    return rc;
}

static bool part_leftover(const char *name)
{
    uint64_t id;
    return part_name_id(name, ".tmp-", &id) || part_name_id(name, ".del-", &id);
}

static bool day_leftover(const char *name)
{
    int32_t day;
    return strncmp(name, ".del-", 5) == 0 && strlen(name) == 15 &&
           colog_day_parse(name + 5, 10, &day) == 0;
}

/* Under the writer lock: remove .tmp-/.del- leftovers and superseded parts of
 * a day, in both tiers (a cold part may supersede hot parts). */
int colog__day_cleanup(colog_store_t *st, int32_t day)
{
    int rc = 0;
    for (int t = 0; t < 2 && rc == 0; t++) {
        int dayfd;
        rc = colog__day_open(st, (colog_tier_t)t, day, false, &dayfd);
        if (rc == -ENOENT) {
            rc = 0;
            continue;
        }
        if (rc)
            return rc;
        rc = remove_leftovers(dayfd, part_leftover);
        close(dayfd);
    }
    if (rc)
        return colog_seterr(rc, "day %d: removing leftovers: %s", day, colog_strerror(rc));
    /* Superseded parts: open all manifests (no columns) and remove what is replaced. */
    tierlist_t tl[2];
    colog_snap_t all = {0, NULL};
    for (int t = 0; t < 2; t++)
        tl[t] = (tierlist_t){.dayfd = -1};
    for (int t = 0; t < 2 && rc == 0; t++)
        rc = tier_list(st, (colog_tier_t)t, day, &tl[t]);
    if (rc)
        goto out_lists;
    all.parts = calloc(tl[0].n + tl[1].n + 1, sizeof *all.parts);
    if (all.parts == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_lists;
    }
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < tl[t].n; i++) {
            rc = colog__part_open(st, (colog_tier_t)t, tl[t].dayfd, day, tl[t].ids[i], 0,
                                  &all.parts[all.n]);
            if (rc)
                goto out_parts;
            all.n++;
        }
    for (size_t i = 0; i < all.n && rc == 0; i++) {
        uint32_t nsup;
        const uint64_t *sup = colog__part_sup(all.parts[i], &nsup);
        for (uint32_t j = 0; j < nsup && rc == 0; j++)
            for (int t = 0; t < 2 && rc == 0; t++)
                if (id_in(tl[t].ids, tl[t].n, sup[j]))
                    rc = colog__part_remove(tl[t].dayfd, sup[j]);
    }
out_parts:
    for (size_t i = 0; i < all.n; i++)
        colog__part_close(all.parts[i]);
    free(all.parts);
out_lists:
    tier_list_free(&tl[0]);
    tier_list_free(&tl[1]);
    return rc;
}

/* ---------------------------------------------------------------- publishing */

int colog__part_reserve(colog_store_t *st, colog_tier_t tier, int32_t day, int *dayfd, uint64_t *id,
                        char tmpname[32])
{
    if (st == NULL || dayfd == NULL || id == NULL || tmpname == NULL || !st->writable ||
        (tier != COLOG_TIER_HOT && tier != COLOG_TIER_COLD))
        return colog_seterr(COLOG_EINVAL, "part reserve: invalid arguments");
    uint64_t mx = 0;
    for (int t = 0; t < 2; t++) {
        tierlist_t tl;
        int rc = tier_list(st, (colog_tier_t)t, day, &tl);
        if (rc)
            return rc;
        if (tl.max_id > mx)
            mx = tl.max_id;
        tier_list_free(&tl);
    }
    if (mx == UINT64_MAX)
        return colog_seterr(COLOG_ELIMIT, "day %d: part ids exhausted", day);
    int fd, rc = colog__day_open(st, tier, day, true, &fd);
    if (rc)
        return rc == -ENOENT ? colog_seterr(rc, "day directory vanished") : rc;
    snprintf(tmpname, 32, ".tmp-p%016llx", (unsigned long long)(mx + 1));
    if (colog__fault("mkdir") < 0 || mkdirat(fd, tmpname, 0755) != 0) {
        char disp[PATH_MAX];
        colog__day_display(st, tier, day, disp, sizeof disp);
        rc = colog_seterr(-errno, "%s/%s: mkdir: %s", disp, tmpname, strerror(errno));
        close(fd);
        return rc;
    }
    *dayfd = fd;
    *id = mx + 1;
    return 0;
}

int colog__part_publish(colog_store_t *st, colog_tier_t tier, int32_t day, int dayfd, uint64_t id,
                        const char *tmpname, const uint8_t manifest_sha[32], uint64_t rows,
                        const uint64_t *sup, uint32_t nsup, const char *op, const char *extra)
{
    if (st == NULL || tmpname == NULL || manifest_sha == NULL || op == NULL ||
        (nsup > 0 && sup == NULL) || st->ledger == NULL)
        return colog_seterr(COLOG_EINVAL, "part publish: invalid arguments");
    char disp[PATH_MAX], dname[16], mhex[65], name[32];
    colog__day_display(st, tier, day, disp, sizeof disp);
    colog_day_format(day, dname, sizeof dname);
    colog__hex(manifest_sha, 32, mhex);
    snprintf(name, sizeof name, "p%016llx", (unsigned long long)id);
    /* The ledger records the ids this part replaces that are still on disk
     * (a merged part's manifest also lists older, long removed ids). */
    size_t cap = 256 + 17 * (size_t)nsup + (extra ? strlen(extra) : 0);
    char *fields = malloc(cap);
    if (fields == NULL) {
        colog__rm_rf(dayfd, tmpname); /* fault-injection finding: was left behind */
        return colog_seterr(COLOG_ENOMEM, "%s/%s: publish: out of memory", disp, tmpname);
    }
    int rc = 0;
    size_t off = (size_t)snprintf(
        fields, cap, "op=%s day=%s tier=%s part=%016llx rows=%llu manifest=%s sup=", op, dname,
        colog_tier_name(tier), (unsigned long long)id, (unsigned long long)rows, mhex);
    size_t mark = off;
    tierlist_t tl[2] = {{.dayfd = -1}, {.dayfd = -1}};
    for (int t = 0; t < 2 && rc == 0 && nsup > 0; t++)
        rc = tier_list(st, (colog_tier_t)t, day, &tl[t]);
    for (uint32_t i = 0; i < nsup && rc == 0; i++)
        if (id_in(tl[0].ids, tl[0].n, sup[i]) || id_in(tl[1].ids, tl[1].n, sup[i]))
            off += (size_t)snprintf(fields + off, cap - off, "%s%016llx", off > mark ? "," : "",
                                    (unsigned long long)sup[i]);
    tier_list_free(&tl[0]);
    tier_list_free(&tl[1]);
    if (off == mark)
        off += (size_t)snprintf(fields + off, cap - off, "-");
    if (extra && extra[0])
        snprintf(fields + off, cap - off, " %s", extra);
    uint64_t seq = 0;
    if (rc == 0)
        rc = colog__ledger_append(st->ledger, "commit", fields, 0, &seq);
    free(fields);
    if (rc) {
        /* Fault-injection finding: when the commit may be in the ledger (its
         * fdatasync failed), the temp directory must stay for the next writer's
         * recovery, which sees the commit last and undoes it with an abort.
         * Removing it here left a commit whose part exists in no form. */
        if (!colog__ledger_broken(st->ledger))
            colog__rm_rf(dayfd, tmpname);
        return rc;
    }
    if (colog__crash_point("publish-before-rename"))
        _exit(137);
    if (colog__fault("rename") < 0 || renameat(dayfd, tmpname, dayfd, name) != 0) {
        rc = colog_seterr(-errno, "%s/%s: rename to %s: %s", disp, tmpname, name, strerror(errno));
        colog__rm_rf(dayfd, tmpname);
        char ab[40];
        snprintf(ab, sizeof ab, "of=%llu", (unsigned long long)seq);
        colog__ledger_append(st->ledger, "abort", ab, 0, NULL); /* best effort */
        return rc;
    }
    rc = colog__fsync_fd(dayfd);
    if (rc)
        return colog_seterr(rc, "%s: fsync: %s", disp, colog_strerror(rc));
    if (colog__crash_point("publish-after-rename"))
        _exit(137);
    /* Superseded parts go only after this part is durable (invariant 2). */
    for (uint32_t i = 0; i < nsup && rc == 0; i++)
        rc = colog__part_remove_any(st, day, sup[i]);
    return rc;
}

/* ---------------------------------------------------------------- removing days */

uint64_t colog__du(int dfd, const char *name)
{
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    uint64_t sum = (uint64_t)sb.st_blocks * 512;
    if (!S_ISDIR(sb.st_mode))
        return sum;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return sum;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            sum += colog__du(dirfd(d), e->d_name);
    closedir(d);
    return sum;
}

/* Rename each tier's directory of the day to .del-DAY, then delete it. */
static int day_unlink(colog_store_t *st, int32_t day, uint64_t *bytes)
{
    char name[16], del[24];
    colog_day_format(day, name, sizeof name);
    snprintf(del, sizeof del, ".del-%s", name);
    for (int t = 0; t < 2; t++) {
        int tfd, rc = colog__tier_fd(st, (colog_tier_t)t, false, &tfd);
        if (rc == -ENOENT)
            continue;
        if (rc)
            return rc;
        if (bytes)
            *bytes += colog__du(tfd, name);
        if (colog__fault("rename") < 0 || renameat(tfd, name, tfd, del) != 0) {
            if (errno == ENOENT)
                goto rm; /* absent, or renamed by an interrupted removal */
            char disp[PATH_MAX];
            colog__day_display(st, (colog_tier_t)t, day, disp, sizeof disp);
            return colog_seterr(-errno, "%s: rename: %s", disp, strerror(errno));
        }
        if ((rc = colog__fsync_fd(tfd)) != 0)
            return colog_seterr(rc, "%s: fsync: %s", t ? st->cold_path : "hot", colog_strerror(rc));
        if (colog__crash_point("day-remove-renamed"))
            _exit(137);
    rm:
        rc = colog__rm_rf(tfd, del);
        if (rc && rc != -ENOENT)
            return colog_seterr(rc, "%s/%s: remove: %s", t ? st->cold_path : "hot", del,
                                colog_strerror(rc));
        if ((rc = colog__fsync_fd(tfd)) != 0)
            return colog_seterr(rc, "%s: fsync: %s", t ? st->cold_path : "hot", colog_strerror(rc));
    }
    return 0;
}

int colog__day_remove(colog_store_t *st, int32_t day, const char *why, uint64_t *bytes)
{
    if (st == NULL || why == NULL || !st->writable || st->ledger == NULL)
        return colog_seterr(COLOG_EINVAL, "day remove: store not open for writing");
    /* Every way out of the store comes here: the one place a legal hold is
     * enforced whatever the caller (retain plans around holds; archive --remove
     * checks first, so as to refuse before writing anything). */
    bool held;
    int rc = colog_hold_covers(st, day, &held);
    if (rc)
        return rc;
    char dname[16];
    colog_day_format(day, dname, sizeof dname);
    if (held)
        return colog_seterr(COLOG_EHELD, "%s is under a legal hold: not removed (%s)", dname, why);
    colog_snap_t *snap;
    rc = colog_snap_day(st, day, 0, &snap);
    if (rc)
        return rc;
    size_t np = colog_snap_nparts(snap);
    size_t cap = 128 + 24 * np;
    char *fields = malloc(cap);
    if (fields == NULL) {
        colog_snap_free(snap);
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    }
    uint64_t rows = 0;
    for (size_t i = 0; i < np; i++)
        rows += colog_part_rows(colog_snap_part(snap, i));
    size_t off = (size_t)snprintf(fields, cap, "day=%s why=%s rows=%llu parts=", dname, why,
                                  (unsigned long long)rows);
    for (size_t i = 0; i < np; i++) {
        colog_part_t *p = colog_snap_part(snap, i);
        off += (size_t)snprintf(fields + off, cap - off, "%s%s:%016llx", i ? "," : "",
                                colog_tier_name(colog_part_tier(p)),
                                (unsigned long long)colog_part_id(p));
    }
    if (np == 0)
        snprintf(fields + off, cap - off, "-");
    colog_snap_free(snap);
    rc = colog__ledger_append(st->ledger, "delete", fields, 0, NULL);
    free(fields);
    if (rc)
        return rc;
    if (colog__crash_point("day-remove-logged"))
        _exit(137);
    if (bytes)
        *bytes = 0;
    return day_unlink(st, day, bytes);
}

/* ---------------------------------------------------------------- recovery */

/* Test hook: COLOG_CRASH_AT=NAME[:N] makes the N-th (default 1st) passage
 * through crash point NAME end the process at once, as kill -9 would. */
bool colog__crash_point(const char *name)
{
    static __thread unsigned hits;
    const char *e = getenv("COLOG_CRASH_AT");
    if (e == NULL)
        return false;
    size_t n = strlen(name);
    if (strncmp(e, name, n) != 0 || (e[n] != 0 && e[n] != ':'))
        return false;
    unsigned want = e[n] == ':' ? (unsigned)strtoul(e + n + 1, NULL, 10) : 1;
    return ++hits == want;
}

/* Under the writer lock, before anything is written (invariant 7): finish what
 * the last ledger entry started, and remove day leftovers of both tiers. */
int colog__store_recover(colog_store_t *st)
{
    uint64_t seq;
    uint8_t h[32];
    const char *line = colog__ledger_last(st->ledger, &seq, h);
    int rc = 0;
    char kind[16] = "", dname[16], tier[8], part[20];
    if (line) {
        const char *sp1 = strchr(line, ' ');
        const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        const char *sp3 = sp2 ? strchr(sp2 + 1, ' ') : NULL;
        if (sp2 && sp3 && (size_t)(sp3 - sp2 - 1) < sizeof kind)
            memcpy(kind, sp2 + 1, (size_t)(sp3 - sp2 - 1));
    }
    size_t len = line ? strlen(line) : 0;
    int32_t day;
    if (strcmp(kind, "commit") == 0 && colog__lfield(line, len, "day", dname, sizeof dname) > 0 &&
        colog_day_parse(dname, strlen(dname), &day) == 0 &&
        colog__lfield(line, len, "tier", tier, sizeof tier) > 0 &&
        colog__lfield(line, len, "part", part, sizeof part) == 16) {
        colog_tier_t t = strcmp(tier, "cold") == 0 ? COLOG_TIER_COLD : COLOG_TIER_HOT;
        int dayfd;
        rc = colog__day_open(st, t, day, false, &dayfd);
        if (rc == 0) {
            char pn[24], tn[32];
            struct stat sb;
            snprintf(pn, sizeof pn, "p%s", part);
            snprintf(tn, sizeof tn, ".tmp-p%s", part);
            if (fstatat(dayfd, pn, &sb, 0) != 0 && fstatat(dayfd, tn, &sb, 0) == 0) {
                /* Crashed between the ledger entry and the rename: undo. */
                rc = colog__rm_rf(dayfd, tn);
                if (rc == 0) {
                    char ab[40];
                    snprintf(ab, sizeof ab, "of=%llu", (unsigned long long)seq);
                    rc = colog__ledger_append(st->ledger, "abort", ab, 0, NULL);
                }
            }
            close(dayfd);
        } else if (rc == -ENOENT) {
            rc = 0; /* nothing was created: verify reports the missing part */
        }
    } else if (strcmp(kind, "delete") == 0 &&
               colog__lfield(line, len, "day", dname, sizeof dname) > 0 &&
               colog_day_parse(dname, strlen(dname), &day) == 0) {
        rc = day_unlink(st, day, NULL); /* decided and recorded: finish it */
    }
    if (rc)
        return rc;
    for (int t = 0; t < 2 && rc == 0; t++) {
        int tfd;
        if (colog__tier_fd(st, (colog_tier_t)t, false, &tfd) != 0)
            continue;
        rc = remove_leftovers(tfd, day_leftover);
        if (rc)
            rc = colog_seterr(rc, "%s: removing leftovers: %s", t ? st->cold_path : "hot",
                              colog_strerror(rc));
    }
    return rc;
}
