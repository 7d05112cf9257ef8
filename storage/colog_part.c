/*
 * colog_part.c — immutable parts: the writer (temp dir -> fsync -> rename) and
 * the reader (manifest, column files, dictionaries).
 *
 * NOTES ON THE DESIGN OF PARTS
 *
 * A part is a directory pID inside a day directory holding:
 *     manifest        rows, time range, schema hash, superseded ids, and for every
 *                     other file its size, XXH3-64 and SHA-256
 *     NAME.col        one column file per schema column (colog_colfile.c)
 *     NAME.dict       the sorted dictionary of each ip/string column
 *
 * Invariants:
 *  1. Every column file of a part has the same number of rows and blocks, and
 *     block b of every column covers rows [b * COLOG_BLOCK_ROWS, ...): a row id
 *     is the same in all columns.
 *  2. The time column is ascending within a part (checked by the writer).
 *  3. The writer works in .tmp-pID; nothing under that name is ever read. The
 *     manifest is written last, then every file and the directory are fsynced
 *     before the rename to pID and the fsync of the day directory.
 *  4. A reader verifies that the manifest's schema hash is the store's, that
 *     each file opened has the size the manifest records, and each block's
 *     checksum when it reads the block (colog_colfile.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_store_int.h"

/* ---------------------------------------------------------------- reader */

struct colog_part {
    colog_store_t *st;
    int32_t day;
    colog_manifest_t man;
    uint64_t bytes;
    char display[PATH_MAX]; /* "hot/YYYY-MM-DD/pID" */
    colog_colr_t *cols[COLOG_MAX_COLS];
    colog_dictbuf_t *dicts[COLOG_MAX_COLS];
};

uint64_t colog_part_id(const colog_part_t *p)
{
    return p->man.part_id;
}
uint64_t colog_part_rows(const colog_part_t *p)
{
    return p->man.nrows;
}
uint32_t colog_part_nblocks(const colog_part_t *p)
{
    return p->man.nblocks;
}
int64_t colog_part_ts_min(const colog_part_t *p)
{
    return p->man.ts_min;
}
int64_t colog_part_ts_max(const colog_part_t *p)
{
    return p->man.ts_max;
}
uint64_t colog_part_bytes(const colog_part_t *p)
{
    return p->bytes;
}
const uint64_t *colog__part_sup(const colog_part_t *p, uint32_t *n)
{
    *n = p->man.nsup;
    return p->man.sup;
}

static const colog_mfile_t *man_file(const colog_manifest_t *m, const char *name)
{
    for (uint32_t i = 0; i < m->nfiles; i++)
        if (strncmp(m->files[i].name, name, COLOG_FILE_NAME_MAX) == 0)
            return &m->files[i];
    return NULL;
}

/* Open one column's files; checks sizes against the manifest. */
static int open_column(colog_part_t *p, int pfd, unsigned c)
{
    const colog_column_t *col = &p->st->schema.cols[c];
    char fname[COLOG_FILE_NAME_MAX], disp[PATH_MAX + 80];
    int rc;
    snprintf(fname, sizeof fname, "%s.col", col->name);
    snprintf(disp, sizeof disp, "%s/%s", p->display, fname);
    const colog_mfile_t *mf = man_file(&p->man, fname);
    if (mf == NULL)
        return colog_seterr(COLOG_ECORRUPT, "%s/manifest: no entry for %s", p->display, fname);
    rc = colog__colr_open(&p->cols[c], pfd, fname, col->type, disp);
    if (rc)
        return rc;
    if (colog__colr_nblocks(p->cols[c]) != p->man.nblocks ||
        colog__colr_nrows(p->cols[c]) != p->man.nrows)
        return colog_seterr(COLOG_ECORRUPT, "%s: %u blocks / %llu rows, manifest says %u / %llu",
                            disp, colog__colr_nblocks(p->cols[c]),
                            (unsigned long long)colog__colr_nrows(p->cols[c]), p->man.nblocks,
                            (unsigned long long)p->man.nrows);
    if (colog_type_is_dict(col->type)) {
        snprintf(fname, sizeof fname, "%s.dict", col->name);
        snprintf(disp, sizeof disp, "%s/%s", p->display, fname);
        if (man_file(&p->man, fname) == NULL)
            return colog_seterr(COLOG_ECORRUPT, "%s/manifest: no entry for %s", p->display,
                                fname);
        rc = colog__dict_read(pfd, fname, col->type, disp, &p->dicts[c]);
        if (rc)
            return rc;
        /* Decoded codes stay within their block's zone (colog_colfile.c checks),
         * so zones within the dictionary mean every code is a valid index. */
        uint32_t dn = colog__dict_view(p->dicts[c])->n;
        for (uint32_t b = 0; b < p->man.nblocks; b++) {
            colog_zone_t z;
            rc = colog__colr_zone(p->cols[c], b, &z);
            if (rc)
                return rc;
            if (z.nvalid > 0 && z.max.u >= dn)
                return colog_seterr(COLOG_ECORRUPT,
                                    "%s/%s.col: block %u: code %llu outside the dictionary (%u)",
                                    p->display, col->name, b, (unsigned long long)z.max.u, dn);
        }
    }
    return 0;
}

int colog__part_open(colog_store_t *st, int dayfd, int32_t day, uint64_t id, uint64_t colmask,
                     colog_part_t **out)
{
    char name[32], dname[16];
    uint8_t *buf = NULL;
    size_t len;
    int rc, pfd;
    snprintf(name, sizeof name, "p%016llx", (unsigned long long)id);
    colog_day_format(day, dname, sizeof dname);
    pfd = openat(dayfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        return colog_seterr(-errno, "hot/%s/%s: %s", dname, name, strerror(errno));
    }
    colog_part_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_close;
    }
    p->st = st;
    p->day = day;
    snprintf(p->display, sizeof p->display, "hot/%s/%s", dname, name);
    rc = colog__read_file(pfd, "manifest", &buf, &len);
    if (rc == -ENOENT)
        goto out_part; /* vanished between openat and here: caller retries */
    if (rc) {
        colog_seterr(rc, "%s/manifest: %s", p->display, colog_strerror(rc));
        goto out_part;
    }
    char disp[PATH_MAX + 16];
    snprintf(disp, sizeof disp, "%s/manifest", p->display);
    rc = colog__manifest_decode(buf, len, disp, &p->man);
    if (rc)
        goto out_part;
    if (p->man.part_id != id || p->man.day != day) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: manifest is of part %016llx of day %d", disp,
                          (unsigned long long)p->man.part_id, p->man.day);
        goto out_part;
    }
    if (memcmp(p->man.schema_sha256, st->schema_sha, 32) != 0) {
        rc = colog_seterr(COLOG_ECORRUPT, "%s: written with another schema", disp);
        goto out_part;
    }
    p->bytes = len;
    for (uint32_t i = 0; i < p->man.nfiles; i++)
        p->bytes += p->man.files[i].size;
    for (unsigned c = 0; c < st->schema.ncols; c++) {
        if (!(colmask >> c & 1))
            continue;
        rc = open_column(p, pfd, c);
        if (rc) {
            /* A file removed under us is a concurrent merge, not corruption. */
            struct stat sb;
            if (fstatat(pfd, "manifest", &sb, 0) != 0 && errno == ENOENT)
                rc = -ENOENT;
            goto out_part;
        }
    }
    free(buf);
    close(pfd);
    *out = p;
    return 0;
out_part:
    colog__part_close(p);
out_close:
    free(buf);
    close(pfd);
    return rc;
}

void colog__part_close(colog_part_t *p)
{
    if (p == NULL)
        return;
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++) {
        colog__colr_close(p->cols[c]);
        colog__dict_free(p->dicts[c]);
    }
    colog__manifest_clear(&p->man);
    free(p);
}

int colog_part_zone(colog_part_t *p, unsigned col, uint32_t b, colog_zone_t *out)
{
    if (p == NULL || out == NULL || col >= COLOG_MAX_COLS || p->cols[col] == NULL)
        return colog_seterr(COLOG_EINVAL, "part zone: column %u not open", col);
    return colog__colr_zone(p->cols[col], b, out);
}

int colog_part_dict(colog_part_t *p, unsigned col, const colog_dictview_t **out)
{
    if (p == NULL || out == NULL || col >= COLOG_MAX_COLS || p->dicts[col] == NULL)
        return colog_seterr(COLOG_EINVAL, "part dict: column %u has no dictionary open", col);
    *out = colog__dict_view(p->dicts[col]);
    return 0;
}

int colog_part_read(colog_part_t *p, unsigned col, uint32_t b, colog_block_t *out)
{
    if (p == NULL || out == NULL || col >= COLOG_MAX_COLS || p->cols[col] == NULL)
        return colog_seterr(COLOG_EINVAL, "part read: column %u not open", col);
    return colog__colr_read(p->cols[col], b, out);
}

/* ---------------------------------------------------------------- writer */

struct colog_pw {
    colog_store_t *st;
    int32_t day;
    int dayfd, pfd;
    uint64_t id, nrows;
    char tmpname[40];
    int cur;              /* column being written, -1 between columns */
    unsigned next;        /* next column to begin */
    uint64_t col_rows;    /* rows appended to the current column */
    colog_colw_t *w;
    int64_t ts_min, ts_max, ts_last;
    uint32_t dict_n;      /* entries of the current column's dictionary */
    uint32_t nfiles;
    colog_mfile_t files[2 * COLOG_MAX_COLS];
};

int colog__pw_open(colog_store_t *st, int32_t day, uint64_t nrows, colog_pw_t **out)
{
    if (st == NULL || out == NULL || nrows == 0)
        return colog_seterr(COLOG_EINVAL, "part writer: invalid arguments");
    if (!st->writable)
        return colog_seterr(COLOG_EINVAL, "part writer: store not open for writing");
    colog_pw_t *pw = calloc(1, sizeof *pw);
    if (pw == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    pw->st = st;
    pw->day = day;
    pw->nrows = nrows;
    pw->cur = -1;
    pw->pfd = -1;
    pw->ts_min = INT64_MAX;
    pw->ts_max = INT64_MIN;
    pw->ts_last = INT64_MIN;
    int rc = colog__day_open(st, day, true, &pw->dayfd);
    if (rc) {
        free(pw);
        return rc == -ENOENT ? colog_seterr(rc, "day directory vanished") : rc;
    }
    uint64_t *ids = NULL, mx = 0;
    size_t n;
    rc = colog__day_list(pw->dayfd, &ids, &n, &mx, NULL);
    free(ids);
    if (rc) {
        colog_seterr(rc, "%s/hot: cannot list day: %s", st->path, colog_strerror(rc));
        goto out_day;
    }
    pw->id = mx + 1;
    snprintf(pw->tmpname, sizeof pw->tmpname, ".tmp-p%016llx", (unsigned long long)pw->id);
    if (mkdirat(pw->dayfd, pw->tmpname, 0755) != 0) {
        rc = colog_seterr(-errno, "%s: mkdir %s: %s", st->path, pw->tmpname, strerror(errno));
        goto out_day;
    }
    pw->pfd = openat(pw->dayfd, pw->tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pw->pfd < 0) {
        rc = colog_seterr(-errno, "%s: open %s: %s", st->path, pw->tmpname, strerror(errno));
        goto out_rm;
    }
    *out = pw;
    return 0;
out_rm:
    colog__rm_rf(pw->dayfd, pw->tmpname);
out_day:
    close(pw->dayfd);
    free(pw);
    return rc;
}

int colog__pw_col_begin(colog_pw_t *pw, unsigned col, const colog_dictview_t *dict)
{
    if (pw == NULL || pw->cur != -1 || col != pw->next || col >= pw->st->schema.ncols)
        return colog_seterr(COLOG_EINVAL, "part writer: columns must be written in order");
    const colog_column_t *c = &pw->st->schema.cols[col];
    char fname[COLOG_FILE_NAME_MAX];
    int rc;
    if (colog_type_is_dict(c->type) != (dict != NULL) || (dict && dict->type != c->type))
        return colog_seterr(COLOG_EINVAL, "part writer: %s: dictionary mismatch", c->name);
    if (dict) {
        colog_mfile_t *mf = &pw->files[pw->nfiles];
        memset(mf, 0, sizeof *mf);
        snprintf(mf->name, sizeof mf->name, "%s.dict", c->name);
        rc = colog__dict_write(pw->pfd, mf->name, dict, &mf->size, &mf->xxh3, mf->sha256);
        if (rc)
            return rc;
        pw->nfiles++;
        pw->dict_n = dict->n;
    }
    snprintf(fname, sizeof fname, "%s.col", c->name);
    rc = colog__colw_open(&pw->w, pw->pfd, fname, c->type);
    if (rc)
        return rc;
    pw->cur = (int)col;
    pw->col_rows = 0;
    return 0;
}

int colog__pw_col_append(colog_pw_t *pw, const void *vals, const uint8_t *valid, uint32_t n)
{
    if (pw == NULL || pw->cur < 0 || (vals == NULL && n > 0))
        return colog_seterr(COLOG_EINVAL, "part writer: append outside a column");
    if (pw->col_rows + n > pw->nrows)
        return colog_seterr(COLOG_EINVAL, "part writer: more rows than announced");
    const colog_column_t *c = &pw->st->schema.cols[pw->cur];
    if (pw->cur == 0) {
        const int64_t *t = vals;
        for (uint32_t i = 0; i < n; i++) {
            if (!colog_valid(valid, i))
                return colog_seterr(COLOG_EINVAL, "part writer: absent event time");
            if (t[i] < pw->ts_last)
                return colog_seterr(COLOG_EINVAL, "part writer: times not ascending");
            pw->ts_last = t[i];
        }
        if (n) {
            if (t[0] < pw->ts_min)
                pw->ts_min = t[0];
            pw->ts_max = t[n - 1];
        }
    } else if (colog_type_is_dict(c->type)) {
        const uint32_t *codes = vals;
        for (uint32_t i = 0; i < n; i++)
            if (colog_valid(valid, i) && codes[i] >= pw->dict_n)
                return colog_seterr(COLOG_EINVAL, "part writer: %s: code outside dictionary",
                                    c->name);
    }
    int rc = colog__colw_append(pw->w, vals, valid, n);
    if (rc)
        return rc;
    pw->col_rows += n;
    return 0;
}

int colog__pw_col_end(colog_pw_t *pw)
{
    if (pw == NULL || pw->cur < 0)
        return colog_seterr(COLOG_EINVAL, "part writer: no column to end");
    if (pw->col_rows != pw->nrows)
        return colog_seterr(COLOG_EINVAL, "part writer: column %s has %llu rows, not %llu",
                            pw->st->schema.cols[pw->cur].name, (unsigned long long)pw->col_rows,
                            (unsigned long long)pw->nrows);
    colog_mfile_t *mf = &pw->files[pw->nfiles];
    memset(mf, 0, sizeof *mf);
    snprintf(mf->name, sizeof mf->name, "%s.col", pw->st->schema.cols[pw->cur].name);
    colog_colw_t *w = pw->w;
    pw->w = NULL;
    int rc = colog__colw_close(w, &mf->size, &mf->xxh3, mf->sha256);
    if (rc)
        return rc;
    pw->nfiles++;
    pw->cur = -1;
    pw->next++;
    return 0;
}

int colog__pw_commit(colog_pw_t *pw, const uint64_t *sup, uint32_t nsup, uint64_t *id_out)
{
    if (pw == NULL)
        return colog_seterr(COLOG_EINVAL, "part writer: NULL");
    int rc;
    uint8_t *buf = NULL;
    size_t len;
    char name[32];
    if (pw->cur != -1 || pw->next != pw->st->schema.ncols) {
        rc = colog_seterr(COLOG_EINVAL, "part writer: commit before every column is written");
        goto out_abort;
    }
    colog_manifest_t m = {
        .part_id = pw->id,
        .day = pw->day,
        .nblocks = (uint32_t)((pw->nrows + COLOG_BLOCK_ROWS - 1) / COLOG_BLOCK_ROWS),
        .nrows = pw->nrows,
        .ts_min = pw->ts_min,
        .ts_max = pw->ts_max,
        .nsup = nsup,
        .sup = (uint64_t *)sup,
        .nfiles = pw->nfiles,
        .files = pw->files,
    };
    memcpy(m.schema_sha256, pw->st->schema_sha, 32);
    rc = colog__manifest_encode(&m, &buf, &len);
    if (rc)
        goto out_abort;
    {
        int fd = openat(pw->pfd, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = colog_seterr(-errno, "%s: manifest: %s", pw->tmpname, strerror(errno));
            goto out_abort;
        }
        rc = colog__write_all(fd, buf, len);
        if (rc == 0)
            rc = colog__fsync_fd(fd);
        close(fd);
        if (rc) {
            colog_seterr(rc, "%s/manifest: write: %s", pw->tmpname, colog_strerror(rc));
            goto out_abort;
        }
    }
    rc = colog__fsync_fd(pw->pfd);
    if (rc) {
        colog_seterr(rc, "%s: fsync: %s", pw->tmpname, colog_strerror(rc));
        goto out_abort;
    }
    snprintf(name, sizeof name, "p%016llx", (unsigned long long)pw->id);
    if (renameat(pw->dayfd, pw->tmpname, pw->dayfd, name) != 0) {
        rc = colog_seterr(-errno, "%s: rename to %s: %s", pw->tmpname, name, strerror(errno));
        goto out_abort;
    }
    rc = colog__fsync_fd(pw->dayfd);
    if (rc) {
        colog_seterr(rc, "day directory: fsync: %s", colog_strerror(rc));
        goto out_free; /* renamed: the part exists; report the failure */
    }
    if (id_out)
        *id_out = pw->id;
    /* Superseded parts go only after this part is durable (store invariant 2). */
    for (uint32_t i = 0; i < nsup && rc == 0; i++) {
        rc = colog__part_remove(pw->dayfd, sup[i]);
        if (rc)
            colog_seterr(rc, "removing superseded part %016llx: %s", (unsigned long long)sup[i],
                         colog_strerror(rc));
    }
out_free:
    free(buf);
    close(pw->pfd);
    close(pw->dayfd);
    free(pw);
    return rc;
out_abort:
    free(buf);
    colog__pw_abort(pw);
    return rc;
}

void colog__pw_abort(colog_pw_t *pw)
{
    if (pw == NULL)
        return;
    colog__colw_abort(pw->w);
    if (pw->pfd >= 0)
        close(pw->pfd);
    colog__rm_rf(pw->dayfd, pw->tmpname);
    close(pw->dayfd);
    free(pw);
}
