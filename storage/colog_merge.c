/*
 * colog_merge.c — compact the parts of one day into one time-sorted part.
 *
 * NOTES ON THE DESIGN OF MERGES
 *
 * Memory stays bounded by streaming column by column instead of loading a day:
 *  1. The time columns of all input parts (each ascending) are k-way merged once;
 *     the result is the merged times and, for every output row, which input part
 *     it comes from (src[], 1 byte... 2 bytes a row). Ties keep part order, so the
 *     merge is stable and deterministic.
 *  2. Every other column is then written by walking src[]: each input part has a
 *     cursor that decodes its blocks in order (rows of one part keep their
 *     relative order), so each input block is decoded exactly once.
 *  3. String and ip columns get the sorted union of the input dictionaries and a
 *     per-part code remap, built by a k-way merge of the sorted dictionaries.
 *  4. The new part lists every merged part, and every part those had replaced,
 *     as superseded (colog_store.c invariant 2), and is committed before any of
 *     them is removed.
 *  5. Step 2 runs on several threads, one column each at a time (merge_columns):
 *     columns are independent once src[] is known, and the dictionary merges,
 *     encodings, LZ4 and bitmap indexes of a wide day take seconds.
 * Memory: 10 bytes per row of the day (time + source) plus, per thread, one
 * decoded block per input part and the merged dictionaries of its column.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colog_store_int.h"

#define MERGE_MAX_PARTS 4096
#define MERGE_THREADS 4 /* columns written at once (at most; fewer with fewer cores) */

typedef struct cursor {
    colog_part_t *p;
    uint32_t b;   /* next block to read */
    uint32_t pos; /* position in the current block */
    colog_block_t blk;
    bool loaded;
} cursor_t;

static int cursor_next_block(cursor_t *c, unsigned col)
{
    int rc = colog_part_read(c->p, col, c->b, &c->blk);
    if (rc)
        return rc;
    c->b++;
    c->pos = 0;
    c->loaded = true;
    return 0;
}

/* Step 1: merge the time columns. */
static int merge_times(colog_part_t **parts, size_t np, uint64_t total, int64_t *ts, uint16_t *src)
{
    cursor_t *cur = calloc(np, sizeof *cur);
    if (cur == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < np; i++)
        cur[i].p = parts[i];
    for (uint64_t o = 0; o < total; o++) {
        size_t best = SIZE_MAX;
        int64_t bv = 0;
        for (size_t i = 0; i < np; i++) {
            cursor_t *c = &cur[i];
            if (!c->loaded || c->pos == c->blk.n) {
                if (c->b >= colog_part_nblocks(c->p)) {
                    c->loaded = false;
                    continue;
                }
                rc = cursor_next_block(c, 0);
                if (rc)
                    goto out;
            }
            int64_t v = c->blk.v.i64[c->pos];
            if (best == SIZE_MAX || v < bv) {
                best = i;
                bv = v;
            }
        }
        if (best == SIZE_MAX) {
            rc = colog_seterr(COLOG_ECORRUPT, "merge: parts hold fewer rows than their manifests");
            goto out;
        }
        ts[o] = bv;
        src[o] = (uint16_t)best;
        cur[best].pos++;
    }
out:
    free(cur);
    return rc;
}

/* Step 3: sorted union of the parts' dictionaries, and each part's code remap. */
typedef struct mdict {
    colog_dictview_t view;
    uint32_t *offs;
    char *bytes;
    colog_ip_t *ips;
    uint32_t **remap; /* remap[part][code] */
} mdict_t;

static int dict_cmp_entry(const colog_dictview_t *a, uint32_t i, const colog_dictview_t *b,
                          uint32_t j)
{
    if (a->type == COLOG_T_IP)
        return colog_ip_cmp(&a->ips[i], &b->ips[j]);
    uint32_t la = a->offs[i + 1] - a->offs[i], lb = b->offs[j + 1] - b->offs[j];
    int c = memcmp(a->bytes + a->offs[i], b->bytes + b->offs[j], la < lb ? la : lb);
    if (c)
        return c;
    return (la > lb) - (la < lb);
}

static void mdict_free(mdict_t *m, size_t np)
{
    if (m->remap)
        for (size_t i = 0; i < np; i++)
            free(m->remap[i]);
    free(m->remap);
    free(m->offs);
    free(m->bytes);
    free(m->ips);
    memset(m, 0, sizeof *m);
}

static int mdict_build(mdict_t *m, colog_part_t **parts, size_t np, unsigned col, colog_type_t type)
{
    const colog_dictview_t **d = calloc(np, sizeof *d);
    uint32_t *pos = calloc(np, sizeof *pos);
    uint64_t total_n = 0, total_bytes = 0;
    int rc = 0;
    memset(m, 0, sizeof *m);
    m->remap = calloc(np, sizeof *m->remap);
    if (d == NULL || pos == NULL || m->remap == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        rc = colog_part_dict(parts[i], col, &d[i]);
        if (rc)
            goto out;
        total_n += d[i]->n;
        if (type == COLOG_T_STRING)
            total_bytes += d[i]->offs[d[i]->n];
        m->remap[i] = malloc((d[i]->n ? d[i]->n : 1) * sizeof(uint32_t));
        if (m->remap[i] == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (total_n >= UINT32_MAX || total_bytes >= UINT32_MAX) {
        rc = colog_seterr(COLOG_ELIMIT, "merge: dictionary too large");
        goto out;
    }
    if (type == COLOG_T_STRING) {
        m->offs = malloc((total_n + 1) * sizeof *m->offs);
        m->bytes = malloc(total_bytes ? total_bytes : 1);
        if (m->offs == NULL || m->bytes == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out;
        }
        m->offs[0] = 0;
    } else {
        m->ips = malloc((total_n ? total_n : 1) * sizeof *m->ips);
        if (m->ips == NULL) {
            rc = colog_seterr(COLOG_ENOMEM, "out of memory");
            goto out;
        }
    }
    uint32_t out_n = 0;
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < np; i++) {
            if (pos[i] == d[i]->n)
                continue;
            if (best == SIZE_MAX || dict_cmp_entry(d[i], pos[i], d[best], pos[best]) < 0)
                best = i;
        }
        if (best == SIZE_MAX)
            break;
        const colog_dictview_t *bd = d[best];
        uint32_t bi = pos[best];
        if (type == COLOG_T_STRING) {
            uint32_t l = bd->offs[bi + 1] - bd->offs[bi];
            memcpy(m->bytes + m->offs[out_n], bd->bytes + bd->offs[bi], l);
            m->offs[out_n + 1] = m->offs[out_n] + l;
        } else {
            m->ips[out_n] = bd->ips[bi];
        }
        /* Every part whose head equals this value maps it to out_n. */
        for (size_t i = 0; i < np; i++)
            if (pos[i] < d[i]->n && dict_cmp_entry(d[i], pos[i], bd, bi) == 0 && i != best)
                m->remap[i][pos[i]++] = out_n;
        m->remap[best][pos[best]++] = out_n;
        out_n++;
    }
    m->view.type = type;
    m->view.n = out_n;
    m->view.offs = m->offs;
    m->view.bytes = m->bytes;
    m->view.ips = m->ips;
out:
    free(d);
    free(pos);
    if (rc)
        mdict_free(m, np);
    return rc;
}

/* Step 2: one column through the cursors. */
static int merge_column(colog_pw_t *pw, colog_part_t **parts, size_t np, unsigned col,
                        colog_type_t type, const uint16_t *src, uint64_t total)
{
    enum { CHUNK = COLOG_BLOCK_ROWS };
    mdict_t md;
    bool dict = colog_type_is_dict(type);
    int rc = 0;
    colog_pwcol_t *h = NULL;
    cursor_t *cur = calloc(np, sizeof *cur);
    uint64_t *vals = malloc(CHUNK * sizeof *vals);
    uint8_t *valid = malloc(CHUNK / 8);
    memset(&md, 0, sizeof md);
    if (cur == NULL || vals == NULL || valid == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < np; i++)
        cur[i].p = parts[i];
    if (dict) {
        rc = mdict_build(&md, parts, np, col, type);
        if (rc)
            goto out;
    }
    rc = colog__pwcol_begin(pw, col, dict ? &md.view : NULL, &h);
    if (rc)
        goto out;
    uint32_t *codes = (uint32_t *)vals; /* dictionary columns use 4-byte codes */
    for (uint64_t o = 0; o < total;) {
        uint32_t n = total - o < CHUNK ? (uint32_t)(total - o) : CHUNK;
        bool any_null = false;
        memset(valid, 0xff, CHUNK / 8);
        for (uint32_t k = 0; k < n; k++, o++) {
            cursor_t *c = &cur[src[o]];
            if (!c->loaded || c->pos == c->blk.n) {
                rc = cursor_next_block(c, col);
                if (rc)
                    goto out;
                if (c->blk.n == 0) {
                    rc = colog_seterr(COLOG_ECORRUPT, "merge: empty block");
                    goto out;
                }
            }
            uint32_t i = c->pos++;
            if (!colog_valid(c->blk.valid, i)) {
                valid[k >> 3] &= (uint8_t) ~(1u << (k & 7));
                any_null = true;
                if (dict)
                    codes[k] = 0;
                else
                    vals[k] = 0;
                continue;
            }
            switch (type) {
            case COLOG_T_IP:
            case COLOG_T_STRING:
                codes[k] = md.remap[src[o]][c->blk.v.code[i]];
                break;
            case COLOG_T_TIME:
            case COLOG_T_I64:
                memcpy(&vals[k], &c->blk.v.i64[i], 8);
                break;
            case COLOG_T_F64:
                memcpy(&vals[k], &c->blk.v.f64[i], 8);
                break;
            case COLOG_T_U8:
            case COLOG_T_U16:
            case COLOG_T_U32:
            case COLOG_T_U64:
                vals[k] = c->blk.v.u64[i];
                break;
            }
        }
        rc = colog__pwcol_append(h, vals, any_null ? valid : NULL, n);
        if (rc)
            goto out;
    }
    rc = colog__pwcol_end(h); /* frees h whatever the result */
    h = NULL;
out:
    if (h)
        colog__pwcol_abort(h);
    mdict_free(&md, np);
    free(cur);
    free(vals);
    free(valid);
    return rc;
}

/* Step 2 for every column but time, on up to MERGE_THREADS threads
 * (colog_parallel). Different columns of one part use different column readers
 * and writer handles, so the jobs share nothing but the read-only src[]. */
typedef struct mjob {
    colog_pw_t *pw;
    colog_part_t **parts;
    size_t np;
    const colog_schema_t *schema;
    const uint16_t *src;
    uint64_t total;
} mjob_t;

static int merge_job(void *ctx, size_t i)
{
    const mjob_t *j = ctx;
    unsigned c = (unsigned)i + 1; /* column 0, time, is written first */
    return merge_column(j->pw, j->parts, j->np, c, j->schema->cols[c].type, j->src, j->total);
}

static int merge_columns(colog_store_t *st, colog_pw_t *pw, colog_part_t **parts, size_t np,
                         const uint16_t *src, uint64_t total)
{
    mjob_t j = {
        .pw = pw, .parts = parts, .np = np, .schema = &st->schema, .src = src, .total = total};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned nthr = cores < 1 ? 1 : cores > MERGE_THREADS ? MERGE_THREADS : (unsigned)cores;
    return colog_parallel(nthr, st->schema.ncols - 1, merge_job, &j);
}

int colog_store_merge_day(colog_store_t *st, int32_t day, unsigned max_parts, bool *merged)
{
    if (st == NULL || !st->writable)
        return colog_seterr(COLOG_EINVAL, "merge: store not open for writing");
    if (day < COLOG__DAY_MIN || day > COLOG__DAY_MAX)
        return colog_seterr(COLOG_ERANGE, "merge: day %d is outside the years 0000-9999", day);
    if (merged)
        *merged = false;
    int rc = colog__day_cleanup(st, day);
    if (rc)
        return rc;
    /* Merges stay within the hot tier: cold parts are merged when retain moves
     * a day (colog__merge_snap into the cold tier). */
    colog_snap_t *snap;
    rc = colog__snap_tier(st, COLOG_TIER_HOT, day, ~(uint64_t)0, &snap);
    if (rc)
        return rc;
    size_t np = colog_snap_nparts(snap);
    if (np >= 2 && (max_parts == 0 || np > max_parts))
        rc = colog__merge_snap(st, snap, day, COLOG_TIER_HOT, 0, "merge", merged);
    colog_snap_free(snap);
    return rc;
}

int colog__merge_snap(colog_store_t *st, colog_snap_t *snap, int32_t day, colog_tier_t tier,
                      int zlevel, const char *op, bool *merged)
{
    int rc = 0;
    size_t np = colog_snap_nparts(snap);
    if (merged)
        *merged = false;
    if (np == 0)
        return 0;
    if (np > MERGE_MAX_PARTS)
        np = MERGE_MAX_PARTS; /* the rest wait for the next merge */
    colog_part_t **parts = malloc(np * sizeof *parts);
    uint64_t total = 0;
    uint32_t nsup = 0;
    uint64_t *sup = NULL;
    int64_t *ts = NULL;
    uint16_t *src = NULL;
    colog_pw_t *pw = NULL;
    if (parts == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    size_t supcap = np;
    for (size_t i = 0; i < np; i++) {
        parts[i] = colog_snap_part(snap, i);
        total += colog_part_rows(parts[i]);
        uint32_t n;
        colog__part_sup(parts[i], &n);
        supcap += n;
    }
    sup = malloc(supcap * sizeof *sup);
    ts = malloc((total ? total : 1) * sizeof *ts);
    src = malloc((total ? total : 1) * sizeof *src);
    if (sup == NULL || ts == NULL || src == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < np; i++) {
        uint32_t n;
        const uint64_t *s = colog__part_sup(parts[i], &n);
        sup[nsup++] = colog_part_id(parts[i]);
        if (n)
            memcpy(sup + nsup, s, n * sizeof *s);
        nsup += n;
    }
    rc = merge_times(parts, np, total, ts, src);
    if (rc)
        goto out_free;
    if (total == 0)
        goto out_free; /* cannot happen: parts have rows */
    rc = colog__pw_open_ex(st, tier, day, total, zlevel, op, &pw);
    if (rc)
        goto out_free;
    rc = colog__pw_col_begin(pw, 0, NULL);
    for (uint64_t o = 0; rc == 0 && o < total; o += COLOG_BLOCK_ROWS) {
        uint32_t n = total - o < COLOG_BLOCK_ROWS ? (uint32_t)(total - o) : COLOG_BLOCK_ROWS;
        rc = colog__pw_col_append(pw, ts + o, NULL, n);
    }
    if (rc == 0)
        rc = colog__pw_col_end(pw);
    if (rc == 0)
        rc = merge_columns(st, pw, parts, np, src, total);
    if (rc) {
        colog__pw_abort(pw);
        goto out_free;
    }
    /* Test hook (tests/e2e/crash.py): every column written, nothing committed. */
    if (colog__crash_point("merge-written"))
        _exit(137);
    rc = colog__pw_commit(pw, sup, nsup, NULL);
    if (rc == 0 && merged)
        *merged = true;
out_free:
    free(parts);
    free(sup);
    free(ts);
    free(src);
    return rc;
}
