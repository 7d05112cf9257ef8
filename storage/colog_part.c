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
 *  5. Columns are written through independent handles (colog_pwcol_t): each
 *     touches only its own files and its own slot of the writer, so the columns
 *     of one part may be written by several threads at once; open, commit and
 *     abort are single-threaded.
 *  6. Each indexed column also gets NAME.idx, built from the same values
 *     (colog_index.c), listed in the manifest like every other file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include "colog_store_int.h"

/* ---------------------------------------------------------------- reader */

struct colog_part {
    colog_store_t *st;
    int32_t day;
    colog_tier_t tier;
    uint8_t man_sha[32]; /* SHA-256 of the manifest file as read */
    colog_manifest_t man;
    uint64_t bytes;
    char display[PATH_MAX]; /* "hot/YYYY-MM-DD/pID" or "COLD/YYYY-MM-DD/pID" */
    colog_colr_t *cols[COLOG_MAX_COLS];
    colog_dictbuf_t *dicts[COLOG_MAX_COLS];
    colog_idxr_t *idx[COLOG_MAX_COLS];
};

uint64_t colog_part_id(const colog_part_t *p)
{
    return p->man.part_id;
}
colog_tier_t colog_part_tier(const colog_part_t *p)
{
    return p->tier;
}
const colog_manifest_t *colog__part_manifest(const colog_part_t *p)
{
    return &p->man;
}
const char *colog__part_display(const colog_part_t *p)
{
    return p->display;
}
const uint8_t *colog__part_manifest_sha(const colog_part_t *p)
{
    return p->man_sha;
}
void colog__part_path(const colog_part_t *p, char *buf, size_t cap)
{
    char dname[16];
    colog_day_format(p->day, dname, sizeof dname);
    if (p->tier == COLOG_TIER_COLD)
        snprintf(buf, cap, "%s/%s/p%016llx", p->st->cold_path, dname,
                 (unsigned long long)p->man.part_id);
    else
        snprintf(buf, cap, "%s/hot/%s/p%016llx", p->st->path, dname,
                 (unsigned long long)p->man.part_id);
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
    if (col->indexed) {
        snprintf(fname, sizeof fname, "%s.idx", col->name);
        snprintf(disp, sizeof disp, "%s/%s", p->display, fname);
        if (man_file(&p->man, fname) == NULL)
            return colog_seterr(COLOG_ECORRUPT, "%s/manifest: no entry for %s", p->display, fname);
        rc = colog__idxr_open(&p->idx[c], pfd, fname, col->type, p->man.nrows, disp);
        if (rc)
            return rc;
    }
    if (colog_type_is_dict(col->type)) {
        snprintf(fname, sizeof fname, "%s.dict", col->name);
        snprintf(disp, sizeof disp, "%s/%s", p->display, fname);
        if (man_file(&p->man, fname) == NULL)
            return colog_seterr(COLOG_ECORRUPT, "%s/manifest: no entry for %s", p->display, fname);
        rc = colog__dict_open(pfd, fname, col->type, disp, &p->dicts[c]);
        if (rc)
            return rc;
        /* Decoded codes stay within their block's zone (colog_colfile.c checks),
         * so zones within the dictionary mean every code is a valid index. */
        uint32_t dn = colog__dict_size(p->dicts[c]);
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
        uint32_t nk = p->idx[c] ? colog__idxr_nkeys(p->idx[c]) : 0;
        uint64_t last = 0;
        if (nk > 0 && (rc = colog__idxr_last_key(p->idx[c], &last)) != 0)
            return rc;
        if (nk > 0 && last >= dn)
            return colog_seterr(COLOG_ECORRUPT, "%s/%s.idx: key outside the dictionary (%u)",
                                p->display, col->name, dn);
    }
    return 0;
}

int colog__part_open(colog_store_t *st, colog_tier_t tier, int dayfd, int32_t day, uint64_t id,
                     uint64_t colmask, colog_part_t **out)
{
    char name[32], dname[PATH_MAX - 32];
    uint8_t *buf = NULL;
    size_t len;
    int rc, pfd;
    snprintf(name, sizeof name, "p%016llx", (unsigned long long)id);
    colog__day_display(st, tier, day, dname, sizeof dname);
    pfd = openat(dayfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        return colog_seterr(-errno, "%s/%s: %s", dname, name, strerror(errno));
    }
    colog_part_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_close;
    }
    p->st = st;
    p->day = day;
    p->tier = tier;
    snprintf(p->display, sizeof p->display, "%s/%s", dname, name);
    rc = colog__read_file(pfd, "manifest", &buf, &len);
    if (rc == -ENOENT)
        goto out_part; /* vanished between openat and here: caller retries */
    if (rc) {
        colog_seterr(rc, "%s/manifest: %s", p->display, colog_strerror(rc));
        goto out_part;
    }
    char disp[PATH_MAX + 16];
    snprintf(disp, sizeof disp, "%s/manifest", p->display);
    crypto_hash_sha256(p->man_sha, buf, len);
    rc = colog__manifest_decode(buf, len, disp, &p->man);
    if (rc)
        goto out_part;
    if (p->man.part_id != id || p->man.day != day) {
        char mday[16];
        colog_day_format(p->man.day, mday, sizeof mday);
        rc = colog_seterr(COLOG_ECORRUPT, "%s: manifest is of part p%016llx of day %s", disp,
                          (unsigned long long)p->man.part_id, mday);
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
        colog__idxr_close(p->idx[c]);
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
    int rc = colog__dict_load(p->dicts[col]);
    if (rc)
        return rc;
    *out = colog__dict_view(p->dicts[col]);
    return 0;
}

uint32_t colog_part_dict_size(const colog_part_t *p, unsigned col)
{
    if (p == NULL || col >= COLOG_MAX_COLS || p->dicts[col] == NULL)
        return 0;
    return colog__dict_size(p->dicts[col]);
}

int colog_part_dict_bound(colog_part_t *p, unsigned col, const colog_ip_t *ip, const char *s,
                          size_t len, bool upper, uint32_t *pos)
{
    if (p == NULL || pos == NULL || col >= COLOG_MAX_COLS || p->dicts[col] == NULL)
        return colog_seterr(COLOG_EINVAL, "part dict: column %u has no dictionary open", col);
    return colog__dict_bound(p->dicts[col], ip, s, len, upper, pos);
}

int colog_part_read(colog_part_t *p, unsigned col, uint32_t b, colog_block_t *out)
{
    if (p == NULL || out == NULL || col >= COLOG_MAX_COLS || p->cols[col] == NULL)
        return colog_seterr(COLOG_EINVAL, "part read: column %u not open", col);
    return colog__colr_read(p->cols[col], b, out);
}

int colog_part_read_buf(colog_part_t *p, unsigned col, uint32_t b, colog_rbuf_t *buf,
                        colog_block_t *out)
{
    if (p == NULL || out == NULL || buf == NULL || col >= COLOG_MAX_COLS || p->cols[col] == NULL)
        return colog_seterr(COLOG_EINVAL, "part read: column %u not open", col);
    return colog__colr_read_buf(p->cols[col], b, buf, out);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

int colog_part_read_many(colog_blkreq_t *reqs, size_t n, colog_ioq_t *q)
{
    enum { CHUNK = 64 };
    colog_creq_t cr[CHUNK];
    if (n > 0 && reqs == NULL)
        return colog_seterr(COLOG_EINVAL, "part read: no requests");
    if (n > CHUNK) {
        /* Each chunk's reader refuses a buffer named twice within it; across
         * chunks a second read would reuse the buffer an earlier answer points into. */
        void **bufs = malloc(n * sizeof *bufs);
        if (bufs == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            bufs[i] = reqs[i].buf;
        qsort(bufs, n, sizeof *bufs, cmp_ptr);
        bool dup = false;
        for (size_t i = 1; i < n && !dup; i++)
            dup = bufs[i] == bufs[i - 1];
        free(bufs);
        if (dup)
            return colog_seterr(COLOG_EINVAL, "part read: one buffer named by two requests");
    }
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        for (size_t k = 0; k < m; k++) {
            colog_blkreq_t *r = &reqs[i + k];
            if (r->p == NULL || r->col >= COLOG_MAX_COLS || r->p->cols[r->col] == NULL ||
                r->buf == NULL || r->out == NULL)
                return colog_seterr(COLOG_EINVAL, "part read: column not open");
            cr[k] = (colog_creq_t){r->p->cols[r->col], r->b, r->buf, r->out};
        }
        int rc = colog__colr_read_many(cr, m, q);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- indexes */

bool colog_part_indexed(const colog_part_t *p, unsigned col)
{
    return p && col < COLOG_MAX_COLS && p->idx[col] != NULL;
}

uint32_t colog_part_index_nkeys(const colog_part_t *p, unsigned col)
{
    return colog_part_indexed(p, col) ? colog__idxr_nkeys(p->idx[col]) : 0;
}

int colog_part_index_load(colog_part_t *p, unsigned col)
{
    if (!colog_part_indexed(p, col))
        return colog_seterr(COLOG_EINVAL, "part index: column %u has no index open", col);
    return colog__idxr_load(p->idx[col]);
}

int colog_part_index_range(colog_part_t *p, unsigned col, uint64_t lo, uint64_t hi, uint32_t *i,
                           uint32_t *j, uint64_t *rows)
{
    if (!colog_part_indexed(p, col) || i == NULL || j == NULL || rows == NULL)
        return colog_seterr(COLOG_EINVAL, "part index: bad arguments");
    return colog__idxr_range(p->idx[col], lo, hi, i, j, rows);
}

uint64_t colog_part_index_key(const colog_part_t *p, unsigned col, uint32_t i)
{
    if (!colog_part_indexed(p, col))
        return 0;
    return colog__idxr_key(p->idx[col], i);
}

uint64_t colog_part_index_card(const colog_part_t *p, unsigned col, uint32_t i)
{
    if (!colog_part_indexed(p, col))
        return 0;
    return colog__idxr_card(p->idx[col], i);
}

uint32_t colog_part_index_lower(const colog_part_t *p, unsigned col, uint64_t key)
{
    if (!colog_part_indexed(p, col))
        return 0;
    return colog__idxr_lower(p->idx[col], key);
}

int colog_part_index_rows(colog_part_t *p, unsigned col, uint32_t i, uint32_t j,
                          struct roaring_bitmap_s *dst)
{
    if (!colog_part_indexed(p, col) || dst == NULL || i > j || j > colog__idxr_nkeys(p->idx[col]))
        return colog_seterr(COLOG_EINVAL, "part index: bad arguments");
    if (i == j)
        return 0;
    return colog__idxr_or_range(p->idx[col], i, j, dst);
}

/* ---------------------------------------------------------------- writer */

/* One column being written. Handles of different columns are independent, so
 * threads may write the columns of one part at once (invariant 5). */
struct colog_pwcol {
    colog_pw_t *pw;
    unsigned col;
    colog_colw_t *w;
    colog_idxw_t *ix; /* indexed columns */
    uint64_t rows;
    uint32_t dict_n;                 /* entries of the column's dictionary */
    int64_t ts_min, ts_max, ts_last; /* column 0 */
    colog_mfile_t files[3];          /* .dict, .col, .idx as written */
    unsigned nfiles;
};

struct colog_pw {
    colog_store_t *st;
    int32_t day;
    colog_tier_t tier;
    int zlevel;     /* cold tier: zstd level of the column files */
    const char *op; /* ledger: "ingest", "merge", "move" */
    int dayfd, pfd;
    uint64_t id, nrows;
    char tmpname[40];
    bool done[COLOG_MAX_COLS];
    colog_mfile_t files[3][COLOG_MAX_COLS];
    unsigned nfiles[COLOG_MAX_COLS];
    int64_t ts_min, ts_max;
    colog_pwcol_t *seq; /* the column of the sequential API */
    unsigned next;      /* sequential API: next column to begin */
};

int colog__pw_open(colog_store_t *st, int32_t day, uint64_t nrows, colog_pw_t **out)
{
    return colog__pw_open_ex(st, COLOG_TIER_HOT, day, nrows, 0, "ingest", out);
}

int colog__pw_open_ex(colog_store_t *st, colog_tier_t tier, int32_t day, uint64_t nrows, int zlevel,
                      const char *op, colog_pw_t **out)
{
    if (st == NULL || out == NULL || nrows == 0 || op == NULL || zlevel < 0 || zlevel > 22 ||
        (tier != COLOG_TIER_HOT && tier != COLOG_TIER_COLD))
        return colog_seterr(COLOG_EINVAL, "part writer: invalid arguments");
    if (!st->writable)
        return colog_seterr(COLOG_EINVAL, "part writer: store not open for writing");
    colog_pw_t *pw = calloc(1, sizeof *pw);
    if (pw == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    pw->st = st;
    pw->day = day;
    pw->tier = tier;
    pw->zlevel = zlevel;
    pw->op = op;
    pw->nrows = nrows;
    pw->pfd = -1;
    char tmp[32];
    int rc = colog__part_reserve(st, tier, day, &pw->dayfd, &pw->id, tmp);
    if (rc) {
        free(pw);
        return rc;
    }
    snprintf(pw->tmpname, sizeof pw->tmpname, "%s", tmp);
    pw->pfd = colog__fault("open") < 0
                  ? -1
                  : openat(pw->dayfd, pw->tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pw->pfd < 0) {
        rc = colog_seterr(-errno, "%s: open %s: %s", st->path, pw->tmpname, strerror(errno));
        colog__rm_rf(pw->dayfd, pw->tmpname);
        close(pw->dayfd);
        free(pw);
        return rc;
    }
    *out = pw;
    return 0;
}

int colog__pwcol_begin(colog_pw_t *pw, unsigned col, const colog_dictview_t *dict,
                       colog_pwcol_t **out)
{
    if (pw == NULL || out == NULL || col >= pw->st->schema.ncols || pw->done[col])
        return colog_seterr(COLOG_EINVAL, "part writer: bad column %u", col);
    const colog_column_t *c = &pw->st->schema.cols[col];
    int rc;
    if (colog_type_is_dict(c->type) != (dict != NULL) || (dict && dict->type != c->type))
        return colog_seterr(COLOG_EINVAL, "part writer: %s: dictionary mismatch", c->name);
    colog_pwcol_t *h = calloc(1, sizeof *h);
    if (h == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    h->pw = pw;
    h->col = col;
    h->ts_min = INT64_MAX;
    h->ts_max = INT64_MIN;
    h->ts_last = INT64_MIN;
    if (dict) {
        colog_mfile_t *mf = &h->files[h->nfiles];
        snprintf(mf->name, sizeof mf->name, "%s.dict", c->name);
        rc = colog__dict_write(pw->pfd, mf->name, dict, &mf->size, &mf->xxh3, mf->sha256);
        if (rc)
            goto out_free;
        h->nfiles++;
        h->dict_n = dict->n;
    }
    if (c->indexed) {
        rc = colog__idxw_new(c->type, dict ? dict->n : 0, &h->ix);
        if (rc)
            goto out_free;
    }
    char fname[COLOG_FILE_NAME_MAX];
    snprintf(fname, sizeof fname, "%s.col", c->name);
    rc = colog__colw_open(&h->w, pw->pfd, fname, c->type);
    if (rc == 0 && pw->zlevel > 0)
        rc = colog__colw_cold(h->w, pw->zlevel);
    if (rc)
        goto out_free;
    *out = h;
    return 0;
out_free:
    colog__colw_abort(h->w); /* fault-injection finding: leaked when colw_cold failed */
    colog__idxw_abort(h->ix);
    free(h);
    return rc;
}

int colog__pwcol_append(colog_pwcol_t *h, const void *vals, const uint8_t *valid, uint32_t n)
{
    if (h == NULL || (vals == NULL && n > 0))
        return colog_seterr(COLOG_EINVAL, "part writer: append without a column");
    colog_pw_t *pw = h->pw;
    if (h->rows + n > pw->nrows)
        return colog_seterr(COLOG_EINVAL, "part writer: more rows than announced");
    const colog_column_t *c = &pw->st->schema.cols[h->col];
    if (h->col == 0) {
        const int64_t *t = vals;
        for (uint32_t i = 0; i < n; i++) {
            if (!colog_valid(valid, i))
                return colog_seterr(COLOG_EINVAL, "part writer: absent event time");
            if (t[i] < h->ts_last)
                return colog_seterr(COLOG_EINVAL, "part writer: times not ascending");
            h->ts_last = t[i];
        }
        if (n) {
            if (t[0] < h->ts_min)
                h->ts_min = t[0];
            h->ts_max = t[n - 1];
        }
    } else if (colog_type_is_dict(c->type)) {
        const uint32_t *codes = vals;
        for (uint32_t i = 0; i < n; i++)
            if (colog_valid(valid, i) && codes[i] >= h->dict_n)
                return colog_seterr(COLOG_EINVAL, "part writer: %s: code outside dictionary",
                                    c->name);
    }
    int rc = colog__colw_append(h->w, vals, valid, n);
    if (rc == 0 && h->ix)
        rc = colog__idxw_add(h->ix, vals, valid, n);
    if (rc)
        return rc;
    h->rows += n;
    return 0;
}

int colog__pwcol_end(colog_pwcol_t *h)
{
    if (h == NULL)
        return colog_seterr(COLOG_EINVAL, "part writer: no column to end");
    colog_pw_t *pw = h->pw;
    const colog_column_t *c = &pw->st->schema.cols[h->col];
    int rc;
    if (h->rows != pw->nrows) {
        rc = colog_seterr(COLOG_EINVAL, "part writer: column %s has %llu rows, not %llu", c->name,
                          (unsigned long long)h->rows, (unsigned long long)pw->nrows);
        goto out_abort;
    }
    colog_mfile_t *mf = &h->files[h->nfiles];
    snprintf(mf->name, sizeof mf->name, "%s.col", c->name);
    colog_colw_t *w = h->w;
    h->w = NULL;
    rc = colog__colw_close(w, &mf->size, &mf->xxh3, mf->sha256);
    if (rc)
        goto out_abort;
    h->nfiles++;
    if (h->ix) {
        mf = &h->files[h->nfiles];
        snprintf(mf->name, sizeof mf->name, "%s.idx", c->name);
        colog_idxw_t *ix = h->ix;
        h->ix = NULL;
        rc = colog__idxw_write(ix, pw->pfd, mf->name, &mf->size, &mf->xxh3, mf->sha256);
        if (rc)
            goto out_abort;
        h->nfiles++;
    }
    for (unsigned i = 0; i < h->nfiles; i++)
        pw->files[i][h->col] = h->files[i];
    pw->nfiles[h->col] = h->nfiles;
    if (h->col == 0) {
        pw->ts_min = h->ts_min;
        pw->ts_max = h->ts_max;
    }
    pw->done[h->col] = true;
    free(h);
    return 0;
out_abort:
    colog__pwcol_abort(h);
    return rc;
}

void colog__pwcol_abort(colog_pwcol_t *h)
{
    if (h == NULL)
        return;
    colog__colw_abort(h->w);
    colog__idxw_abort(h->ix);
    free(h);
}

/* The sequential API: one column at a time, in schema order. */
int colog__pw_col_begin(colog_pw_t *pw, unsigned col, const colog_dictview_t *dict)
{
    if (pw == NULL || pw->seq != NULL || col != pw->next)
        return colog_seterr(COLOG_EINVAL, "part writer: columns must be written in order");
    int rc = colog__pwcol_begin(pw, col, dict, &pw->seq);
    if (rc == 0)
        pw->next++;
    return rc;
}

int colog__pw_col_append(colog_pw_t *pw, const void *vals, const uint8_t *valid, uint32_t n)
{
    if (pw == NULL || pw->seq == NULL)
        return colog_seterr(COLOG_EINVAL, "part writer: append outside a column");
    return colog__pwcol_append(pw->seq, vals, valid, n);
}

int colog__pw_col_end(colog_pw_t *pw)
{
    if (pw == NULL || pw->seq == NULL)
        return colog_seterr(COLOG_EINVAL, "part writer: no column to end");
    colog_pwcol_t *h = pw->seq;
    pw->seq = NULL;
    return colog__pwcol_end(h);
}

int colog__pw_commit(colog_pw_t *pw, const uint64_t *sup, uint32_t nsup, uint64_t *id_out)
{
    if (pw == NULL)
        return colog_seterr(COLOG_EINVAL, "part writer: NULL");
    int rc;
    uint8_t *buf = NULL;
    size_t len;
    colog_mfile_t files[3 * COLOG_MAX_COLS];
    uint32_t nfiles = 0;
    for (unsigned c = 0; c < pw->st->schema.ncols; c++) {
        if (!pw->done[c] || pw->seq != NULL) {
            rc = colog_seterr(COLOG_EINVAL, "part writer: commit before every column is written");
            goto out_abort;
        }
        for (unsigned i = 0; i < pw->nfiles[c]; i++)
            files[nfiles++] = pw->files[i][c];
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
        .nfiles = nfiles,
        .files = files,
    };
    memcpy(m.schema_sha256, pw->st->schema_sha, 32);
    rc = colog__manifest_encode(&m, &buf, &len);
    if (rc)
        goto out_abort;
    {
        int fd = colog__fault("open") < 0
                     ? -1
                     : openat(pw->pfd, "manifest", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
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
    {
        uint8_t msha[32];
        crypto_hash_sha256(msha, buf, len);
        rc = colog__part_publish(pw->st, pw->tier, pw->day, pw->dayfd, pw->id, pw->tmpname, msha,
                                 pw->nrows, sup, nsup, pw->op, NULL);
    }
    /* publish removed the temp directory itself if it failed before the rename */
    if (rc == 0 && id_out)
        *id_out = pw->id;
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
    colog__pwcol_abort(pw->seq);
    if (pw->pfd >= 0)
        close(pw->pfd);
    colog__rm_rf(pw->dayfd, pw->tmpname);
    close(pw->dayfd);
    free(pw);
}
