/*
 * colog_io.c — plain POSIX file I/O for the storage layer: whole writes and
 * reads that survive EINTR and short transfers, durable replacement of small
 * files, fsync of files and directories, recursive removal.
 *
 * Design. Every function is a thin loop over one system call and returns 0 or a
 * negated errno, recording a short message ("write: No space left on device")
 * for colog_errmsg(); callers that know which file is concerned overwrite the
 * message with one naming it. Directory operations go through dirfd + name
 * (openat, renameat, unlinkat) so a store can be addressed relative to one open
 * directory and a concurrent rename of a parent cannot redirect them.
 *
 * Invariants:
 *  1. colog__write_file_durable never leaves dirfd/name half-written: the bytes
 *     go to ".tmp-NAME" in the same directory, which is fsynced, then renamed
 *     over NAME, then the directory is fsynced. A crash leaves either the old
 *     NAME or the new one (and possibly a stale temp file, removed by the next
 *     attempt).
 *  2. colog__read_file never allocates more than COLOG_READ_FILE_MAX bytes,
 *     whatever the file claims to be.
 *  3. colog__rm_rf never follows a symbolic link: a link is removed, not its
 *     target.
 *
 * Fault injection (tests only; colog_storage_int.h gives the contract). The
 * write path's system calls are preceded by colog__fault("KIND"), an inline
 * test of colog__fault_armed. Armed, colog__fault_hit counts the call in its
 * kind (atomically: ingest writes columns from several threads) and fails the
 * N-th one. colog__write_all asks fault_write() instead, which can also shorten
 * a write, so the short-write loop below is exercised as well as the failures.
 */
#include "colog_storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest file colog__read_file accepts (manifests, dictionaries, conf). */
#define COLOG_READ_FILE_MAX (1ull << 30)

/* Deepest directory tree colog__rm_rf descends (a part is one level). */
#define RM_RF_MAX_DEPTH 32

/* ---------------------------------------------------------------- fault injection */

int colog__fault_armed; /* != 0: count calls, maybe fail one (__atomic only) */

static struct {
    int kind;        /* COLOG_FAULT_WRITE .. OPEN */
    bool sticky;     /* fail every call from the n-th on */
    unsigned long n; /* 0: count only */
    int err;         /* positive errno; 0 = none (short writes) */
    unsigned long count[COLOG_FAULT_NKINDS];
    unsigned long fired;
    int pending; /* short write with an error: the next write fails with it */
    char env[64];
} fault;

static const char *const fault_names[COLOG_FAULT_NKINDS] = {
    [COLOG_FAULT_WRITE] = "write",   [COLOG_FAULT_SHORT] = "short", [COLOG_FAULT_FSYNC] = "fsync",
    [COLOG_FAULT_RENAME] = "rename", [COLOG_FAULT_MKDIR] = "mkdir", [COLOG_FAULT_OPEN] = "open",
};

/* The kind named by the start of s (up to ':' or the end); OFF if none. */
static int fault_kind_of(const char *s)
{
    size_t n = strcspn(s, ":");
    for (int k = 1; k < COLOG_FAULT_NKINDS; k++)
        if (strlen(fault_names[k]) == n && strncmp(s, fault_names[k], n) == 0)
            return k;
    return COLOG_FAULT_OFF;
}

/* Count one call of kind k; whether it is the one to fail. */
static bool fault_due(int k)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE); /* pairs with colog__fault_set's store */
    unsigned long c = __atomic_add_fetch(&fault.count[k], 1, __ATOMIC_RELAXED);
    int armed = fault.kind == COLOG_FAULT_SHORT ? COLOG_FAULT_WRITE : fault.kind;
    return armed == k && fault.n > 0 && (c == fault.n || (fault.sticky && c > fault.n));
}

static int fault_fire(int err)
{
    __atomic_add_fetch(&fault.fired, 1, __ATOMIC_RELAXED);
    errno = err;
    return -err;
}

int colog__fault_hit(const char *site)
{
    int k = fault_kind_of(site);
    if (k == COLOG_FAULT_OFF || k == COLOG_FAULT_SHORT)
        return 0;
    if (!fault_due(k))
        return 0;
    return fault.kind == COLOG_FAULT_SHORT ? 0 : fault_fire(fault.err);
}

/* For colog__write_all: 0 to write *len bytes (possibly cut in half), or the
 * injected error (errno set). */
static int fault_write(size_t *len)
{
    int pend = __atomic_exchange_n(&fault.pending, 0, __ATOMIC_RELAXED);
    if (pend)
        return fault_fire(pend);
    if (!fault_due(COLOG_FAULT_WRITE))
        return 0;
    if (fault.kind == COLOG_FAULT_WRITE || *len < 2)
        return fault.err ? fault_fire(fault.err) : 0;
    *len /= 2; /* a short write: the caller must loop for the rest */
    __atomic_add_fetch(&fault.fired, 1, __ATOMIC_RELAXED);
    if (fault.err)
        __atomic_store_n(&fault.pending, fault.err, __ATOMIC_RELAXED);
    return 0;
}

void colog__fault_set(int kind, unsigned long n, int err)
{
    static const int defaults[COLOG_FAULT_NKINDS] = {
        [COLOG_FAULT_WRITE] = ENOSPC, [COLOG_FAULT_FSYNC] = EIO,   [COLOG_FAULT_RENAME] = EIO,
        [COLOG_FAULT_MKDIR] = ENOSPC, [COLOG_FAULT_OPEN] = EMFILE,
    };
    int k = kind & ~COLOG_FAULT_STICKY;
    __atomic_store_n(&colog__fault_armed, 0, __ATOMIC_SEQ_CST);
    memset(fault.count, 0, sizeof fault.count);
    fault.fired = 0;
    fault.pending = 0;
    if (k <= COLOG_FAULT_OFF || k >= COLOG_FAULT_NKINDS) {
        fault.kind = COLOG_FAULT_OFF;
        return;
    }
    fault.kind = k;
    fault.sticky = (kind & COLOG_FAULT_STICKY) != 0;
    fault.n = n;
    fault.err = err > 0 ? err : defaults[k];
    __atomic_store_n(&colog__fault_armed, 1, __ATOMIC_SEQ_CST);
}

unsigned long colog__fault_count(int kind)
{
    int k = kind == COLOG_FAULT_SHORT ? COLOG_FAULT_WRITE : kind;
    if (k <= COLOG_FAULT_OFF || k >= COLOG_FAULT_NKINDS)
        return 0;
    return __atomic_load_n(&fault.count[k], __ATOMIC_RELAXED);
}

unsigned long colog__fault_fired(void)
{
    return __atomic_load_n(&fault.fired, __ATOMIC_RELAXED);
}

static int errno_parse(const char *s)
{
    static const struct {
        const char *name;
        int err;
    } names[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO},       {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
                 {"EMFILE", EMFILE}, {"EACCES", EACCES}, {"EINTR", EINTR}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].err;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && *end == 0 && v > 0 && v < 4096 ? (int)v : -1;
}

/* A line on stderr at exit, so a script can tell whether its fault fired. */
static void fault_report(void)
{
    fprintf(stderr,
            "colog: COLOG_FAULT=%s: %lu fault(s) injected; calls seen: write %lu, fsync %lu, "
            "rename %lu, mkdir %lu, open %lu\n",
            fault.env, colog__fault_fired(), colog__fault_count(COLOG_FAULT_WRITE),
            colog__fault_count(COLOG_FAULT_FSYNC), colog__fault_count(COLOG_FAULT_RENAME),
            colog__fault_count(COLOG_FAULT_MKDIR), colog__fault_count(COLOG_FAULT_OPEN));
}

/* COLOG_FAULT=KIND:N[+][:ERRNO], read once before main(). */
__attribute__((constructor)) static void fault_from_env(void)
{
    const char *e = getenv("COLOG_FAULT");
    if (e == NULL || e[0] == 0)
        return;
    snprintf(fault.env, sizeof fault.env, "%s", e);
    int kind = fault_kind_of(e);
    const char *c = strchr(e, ':');
    char *end = NULL;
    unsigned long n = c ? strtoul(c + 1, &end, 10) : 0;
    bool sticky = end && *end == '+';
    if (sticky)
        end++;
    int err = end && *end == ':' ? errno_parse(end + 1) : 0;
    if (kind == COLOG_FAULT_OFF || c == NULL || end == c + 1 || (*end != 0 && *end != ':') ||
        err < 0) {
        fprintf(stderr,
                "colog: COLOG_FAULT=%s: ignored (expected KIND:N[+][:ERRNO], KIND one of "
                "write short fsync rename mkdir open)\n",
                e);
        return;
    }
    colog__fault_set(kind | (sticky ? COLOG_FAULT_STICKY : 0), n, err);
    atexit(fault_report);
}

/* ---------------------------------------------------------------- whole reads and writes */

int colog__write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        size_t n = len;
        int frc = colog__fault_armed_now() ? fault_write(&n) : 0;
        ssize_t k = frc < 0 ? -1 : write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int err = -errno;
            return colog_seterr(err, "write: %s", strerror(-err));
        }
        if (k == 0)
            return colog_seterr(-EIO, "write: wrote nothing");
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int colog__pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    if (off > (uint64_t)INT64_MAX - len)
        return colog_seterr(COLOG_ECORRUPT, "pread: offset %llu out of range",
                            (unsigned long long)off);
    while (len > 0) {
        ssize_t k = pread(fd, p, len, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int err = -errno;
            return colog_seterr(err, "pread: %s", strerror(-err));
        }
        if (k == 0)
            return colog_seterr(COLOG_ECORRUPT, "pread: unexpected end of file at offset %llu",
                                (unsigned long long)off);
        p += k;
        off += (uint64_t)k;
        len -= (size_t)k;
    }
    return 0;
}

int colog__fsync_fd(int fd)
{
    while (colog__fault("fsync") < 0 || fsync(fd) < 0) {
        if (errno == EINTR)
            continue;
        int err = -errno;
        return colog_seterr(err, "fsync: %s", strerror(-err));
    }
    return 0;
}

/* fsync the directory dirfd/name (name "." for dirfd itself). */
static int fsync_dirat(int dirfd, const char *name)
{
    int fd =
        colog__fault("open") < 0 ? -1 : openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        return colog_seterr(err, "%s: open: %s", name, strerror(-err));
    }
    int rc = colog__fsync_fd(fd);
    close(fd);
    return rc;
}

int colog__fsync_dir(const char *path)
{
    return fsync_dirat(AT_FDCWD, path);
}

int colog__stream_fd(FILE *f)
{
    int fd = fileno(f);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        return -1;
    return S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode) || S_ISCHR(sb.st_mode) ? fd : -1;
}

int colog__open_ro(int dirfd, const char *name, const char *display, uint64_t *size)
{
    if (display == NULL)
        display = name;
    int rc, fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        return colog_seterr(rc, "%s: open: %s", display, strerror(-rc));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: stat: %s", display, strerror(-rc));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return colog_seterr(COLOG_EINVAL, "%s: not a regular file", display);
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

int colog__read_file(int dirfd, const char *name, uint8_t **buf, size_t *len)
{
    int rc;
    uint64_t fsize;
    int fd = colog__open_ro(dirfd, name, NULL, &fsize);
    if (fd < 0)
        return fd;
    if (fsize > COLOG_READ_FILE_MAX) {
        rc = colog_seterr(COLOG_ELIMIT, "%s: file too large (%llu bytes)", name,
                          (unsigned long long)fsize);
        goto out_close;
    }
    size_t size = (size_t)fsize;
    uint8_t *data = malloc(size ? size : 1);
    if (!data) {
        rc = colog_seterr(COLOG_ENOMEM, "%s: out of memory", name);
        goto out_close;
    }
    rc = colog__pread_all(fd, data, size, 0);
    if (rc < 0) {
        colog_seterr(rc, "%s: read: %s", name, colog_strerror(rc));
        goto out_free;
    }
    close(fd);
    *buf = data;
    *len = size;
    return 0;

out_free:
    free(data);
out_close:
    close(fd);
    return rc;
}

/* ".tmp-NAME" for name, keeping any directory prefix: "a/b" -> "a/.tmp-b". */
static int tmp_name(const char *name, char *out, size_t cap)
{
    const char *slash = strrchr(name, '/');
    size_t dirlen = slash ? (size_t)(slash - name) + 1 : 0;
    int k = snprintf(out, cap, "%.*s.tmp-%s", (int)dirlen, name, name + dirlen);
    if (k < 0 || (size_t)k >= cap)
        return colog_seterr(-ENAMETOOLONG, "%s: name too long", name);
    return 0;
}

int colog__write_file_durable(int dirfd, const char *name, const void *buf, size_t len)
{
    char tmp[PATH_MAX];
    int rc = tmp_name(name, tmp, sizeof tmp);
    if (rc < 0)
        return rc;

    /* A temp file left by a crash is garbage. */
    if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT) {
        rc = -errno;
        return colog_seterr(rc, "%s: unlink: %s", tmp, strerror(-rc));
    }
    int fd = colog__fault("open") < 0
                 ? -1
                 : openat(dirfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        return colog_seterr(rc, "%s: open: %s", tmp, strerror(-rc));
    }
    rc = colog__write_all(fd, buf, len);
    if (rc < 0) {
        colog_seterr(rc, "%s: write: %s", tmp, colog_strerror(rc));
        goto out_unlink;
    }
    rc = colog__fsync_fd(fd);
    if (rc < 0) {
        colog_seterr(rc, "%s: fsync: %s", tmp, colog_strerror(rc));
        goto out_unlink;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = -errno;
        colog_seterr(rc, "%s: close: %s", tmp, strerror(-rc));
        goto out_unlink;
    }
    fd = -1;
    if (colog__fault("rename") < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
        rc = -errno;
        colog_seterr(rc, "%s: rename: %s", name, strerror(-rc));
        goto out_unlink;
    }
    /* fsync the directory that holds name. */
    const char *slash = strrchr(name, '/');
    if (slash) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - name), name);
        return fsync_dirat(dirfd, slash == name ? "/" : dir);
    }
    return fsync_dirat(dirfd, ".");

out_unlink:
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    return rc;
}

static int rm_rf_at(int dirfd, const char *name, int depth);

/* Remove every entry of the open directory fd (which this takes over). */
static int rm_children(int fd, const char *name, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int rc = -errno;
        close(fd);
        return colog_seterr(rc, "%s: opendir: %s", name, strerror(-rc));
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno != 0) {
                rc = -errno;
                colog_seterr(rc, "%s: readdir: %s", name, strerror(-rc));
            }
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = rm_rf_at(dirfd(d), e->d_name, depth + 1);
        if (rc < 0)
            break;
    }
    closedir(d);
    return rc;
}

static int rm_rf_at(int dirfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        int rc = -errno;
        return colog_seterr(rc, "%s: stat: %s", name, strerror(-rc));
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
            int rc = -errno;
            return colog_seterr(rc, "%s: unlink: %s", name, strerror(-rc));
        }
        return 0;
    }
    if (depth >= RM_RF_MAX_DEPTH)
        return colog_seterr(COLOG_ELIMIT, "%s: directory tree too deep", name);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        int rc = -errno;
        return colog_seterr(rc, "%s: open: %s", name, strerror(-rc));
    }
    int rc = rm_children(fd, name, depth);
    if (rc < 0)
        return rc;
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        rc = -errno;
        return colog_seterr(rc, "%s: rmdir: %s", name, strerror(-rc));
    }
    return 0;
}

int colog__rm_rf(int dirfd, const char *name)
{
    return rm_rf_at(dirfd, name, 0);
}
