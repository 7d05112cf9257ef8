/*
 * colog_exec.c — run a parsed query over a store: plan the days, parts and
 * columns, scan in parallel with bitmap indexes and zone maps, aggregate,
 * apply the result stages, format.
 *
 * NOTES ON THE DESIGN OF THE EXECUTOR
 *
 *  1. Planning: the days read are those that `range` / `last` and top-level
 *     and-ed conditions on ts allow; a part outside those bounds is skipped from
 *     its manifest. Only the columns the query names are opened.
 *  2. Indexes: for each part the predicate's indexed tests become Roaring bitmap
 *     operations (colog_pred.c); the result is a superset of the selected rows,
 *     or exactly them. Blocks without candidate rows are skipped without being
 *     read; with an exact bitmap the predicate's columns are never read; count()
 *     (and count() by an indexed column) is answered from bitmap cardinalities
 *     alone where the time bounds do not cut through the block (or part).
 *  3. Zone maps: a block whose min/max exclude the predicate is skipped before
 *     decompression.
 *  4. Parallelism (stats queries): parts are cut into tasks of a few blocks;
 *     worker threads take tasks from a shared counter, each with its own
 *     aggregation state, decode buffers, I/O queue and time zone cache; the
 *     states are merged at the end (colog_agg.c). The reads of the columns a
 *     block needs are issued together (io_uring when available).
 *  5. Raw events come out in time order: days ascending; within a day the rows
 *     of all parts are sorted by time (stable), so memory holds one day's
 *     matching rows at most (or all rows when sort/top/bottom need them); a day
 *     with one part (the usual case after a merge) streams block by block.
 *  6. Every snapshot taken for a query stays open until it ends, so a merge or
 *     retention running meanwhile never changes what the query sees.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <roaring/roaring.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "colog_agg.h"
#include "colog_exec_int.h"
#include "colog_pred.h"

/* ---------------------------------------------------------------- scan planning */

typedef struct plan {
    int64_t lo, hi;    /* inclusive ts bounds (range and top-level ts tests) */
    int64_t tlo, thi;  /* inclusive bounds of range / last alone */
    uint64_t colmask;  /* every column read */
    uint64_t predmask; /* columns the predicate reads */
    uint64_t aggmask;  /* columns keys and aggregates read (or raw fields) */
} plan_t;

/* Tighten [lo, hi] with top-level and-ed tests on ts. */
static void ts_bounds(const colog_q_expr_t *e, int64_t *lo, int64_t *hi)
{
    if (e == NULL)
        return;
    if (e->kind == Q_EX_AND) {
        ts_bounds(e->a, lo, hi);
        ts_bounds(e->b, lo, hi);
        return;
    }
    if (e->opd.kind != Q_OPD_COL || e->opd.col != 0)
        return;
    if (e->kind == Q_EX_BETWEEN) {
        if (e->lits[0].t_us > *lo)
            *lo = e->lits[0].t_us;
        if (e->lits[1].t_us < *hi)
            *hi = e->lits[1].t_us;
        return;
    }
    if (e->kind != Q_EX_CMP)
        return;
    int64_t v = e->lits[0].t_us;
    switch (e->cmp) {
    case Q_EQ:
        *lo = v > *lo ? v : *lo;
        *hi = v < *hi ? v : *hi;
        break;
    case Q_GT:
        if (v != INT64_MAX && v + 1 > *lo)
            *lo = v + 1;
        break;
    case Q_GE:
        if (v > *lo)
            *lo = v;
        break;
    case Q_LT:
        if (v != INT64_MIN && v - 1 < *hi)
            *hi = v - 1;
        break;
    case Q_LE:
        if (v < *hi)
            *hi = v;
        break;
    case Q_NE:
        break;
    }
}

static void make_plan(const colog_query_t *q, plan_t *pl)
{
    pl->lo = q->t_lo;
    pl->hi = q->t_hi == INT64_MAX ? INT64_MAX : q->t_hi - 1;
    ts_bounds(q->scan_where, &pl->lo, &pl->hi);
    pl->tlo = q->t_lo;
    pl->thi = q->t_hi == INT64_MAX ? INT64_MAX : q->t_hi - 1;
    pl->predmask = colog__expr_colmask(q->scan_where);
    if (q->t_lo != INT64_MIN || q->t_hi != INT64_MAX)
        pl->predmask |= 1;
    pl->aggmask = 0;
    if (q->has_stats) {
        for (uint32_t k = 0; k < q->nkeys; k++)
            pl->aggmask |= (uint64_t)1 << q->keys[k].col;
        for (uint32_t k = 0; k < q->naggs; k++)
            if (q->aggs[k].col >= 0)
                pl->aggmask |= (uint64_t)1 << q->aggs[k].col;
    } else {
        pl->aggmask = 1;
        for (uint32_t k = 0; k < q->nfields; k++)
            pl->aggmask |= (uint64_t)1 << q->fields[k];
        for (uint32_t i = 0; i < q->nstages; i++) {
            const colog_q_stage_t *sg = &q->stages[i];
            if (sg->kind == Q_ST_TOP || sg->kind == Q_ST_BOTTOM)
                pl->aggmask |= (uint64_t)1 << sg->by;
            for (uint32_t k = 0; sg->kind == Q_ST_SORT && k < sg->nsort; k++)
                pl->aggmask |= (uint64_t)1 << sg->sort[k].col;
        }
    }
    pl->colmask = 1 | pl->predmask | pl->aggmask;
}

/* ---------------------------------------------------------------- raw events */

typedef struct rawx {
    colog_query_t *q;
    colog_rset_t day;  /* this day's rows: the fields, then ts (hidden) */
    colog_rset_t *all; /* rows kept for sort/top/bottom, or NULL to stream */
    colog_out_t *out;
    uint64_t limit; /* stream: stop after this many rows */
    uint64_t emitted;
    uint32_t nf;   /* fields printed: the first nf columns */
    uint32_t ncol; /* columns held: fields, ts, then columns stages rank on */
    int field[2 * COLOG_MAX_COLS + 1];
    int pos[COLOG_MAX_COLS]; /* schema column -> held column (first), -1 */
    bool one_part;           /* the day has one part: rows are in time order already */
    bool explain;            /* count only */
} rawx_t;

static int raw_flush(rawx_t *x, bool *stop);

static int raw_block(void *ctx, colog_bctx_t *c, const uint32_t *sel, uint32_t nsel)
{
    rawx_t *x = ctx;
    const colog_schema_t *s = x->q->schema;
    size_t base = x->day.nrows;
    for (uint32_t j = 0; j < nsel; j++)
        if (colog__rset_push(&x->day) == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
    for (uint32_t f = 0; f < x->ncol; f++) {
        unsigned col = (unsigned)x->field[f];
        const colog_block_t *blk;
        const uint8_t *valid;
        const colog_dictview_t *d = NULL;
        int rc = colog__bctx_col(c, col, &blk);
        if (rc == 0)
            rc = colog__bctx_valid(c, col, &valid);
        if (rc == 0 && colog_type_is_dict(s->cols[col].type))
            rc = colog_part_dict(c->part, col, &d);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < nsel; j++) {
            uint32_t r = sel[j];
            colog_val_t *v = &x->day.vals[(base + j) * x->day.ncols + f];
            if (valid && !valid[r]) {
                v->null = true;
                continue;
            }
            if (d == NULL) {
                v->v.u = blk->v.u64[r];
                continue;
            }
            uint32_t code = blk->v.code[r];
            if (code >= d->n)
                return colog_seterr(COLOG_ECORRUPT, "block %u: code %u outside the dictionary",
                                    c->b, code);
            if (d->type == COLOG_T_IP) {
                v->v.ip = d->ips[code];
            } else {
                v->v.s.len = d->offs[code + 1] - d->offs[code];
                v->v.s.p = colog__rset_strdup(&x->day, d->bytes + d->offs[code], v->v.s.len);
                if (v->v.s.p == NULL)
                    return colog_seterr(COLOG_ENOMEM, "out of memory");
            }
        }
    }
    /* A one-part day streams block by block: its rows are in time order. */
    if (x->one_part && x->all == NULL) {
        bool stop = false;
        int rc = raw_flush(x, &stop);
        if (rc)
            return rc;
        if (stop)
            return 1; /* stops the scan */
    }
    return 0;
}

/* Emit (or keep) the rows gathered so far, then forget them. */
static int raw_flush(rawx_t *x, bool *stop)
{
    int rc = 0;
    if (!x->one_part && x->day.nrows > 1) { /* parts of a day overlap until merged */
        int tscol = (int)x->nf;
        bool asc = false;
        rc = colog__rset_sort(&x->day, 1, &tscol, &asc);
    }
    if (rc == 0 && x->all) {
        for (size_t i = 0; i < x->day.nrows && rc == 0; i++) {
            colog_val_t *dst = colog__rset_push(x->all);
            if (dst == NULL)
                return colog_seterr(COLOG_ENOMEM, "out of memory");
            memcpy(dst, x->day.vals + i * x->day.ncols, x->day.ncols * sizeof *dst);
            for (uint32_t f = 0; f < x->day.ncols; f++) {
                if (x->all->cols[f].vt == Q_VT_STR && !dst[f].null) {
                    dst[f].v.s.p = colog__rset_strdup(x->all, dst[f].v.s.p, dst[f].v.s.len);
                    if (dst[f].v.s.p == NULL)
                        return colog_seterr(COLOG_ENOMEM, "out of memory");
                }
            }
        }
    } else if (rc == 0 && x->explain) {
        x->emitted += x->day.nrows;
    } else if (rc == 0) {
        size_t n = x->day.nrows;
        if (n > x->limit - x->emitted)
            n = (size_t)(x->limit - x->emitted);
        rc = colog__out_rows(x->out, &x->day, 0, n);
        x->emitted += n;
        if (x->emitted >= x->limit)
            *stop = true;
    }
    /* Start the next day empty (keeping the allocation). */
    colog__arena_clear(x->day.arena);
    x->day.nrows = 0;
    return rc;
}

/* ---------------------------------------------------------------- parts and tasks */

typedef struct xstats {
    uint64_t blocks_total, blocks_zone, blocks_index, blocks_bitmap_only, blocks_scanned;
    uint64_t parts_index_grouped, rows_selected, parts_indexed;
    uint64_t ndecoded[COLOG_MAX_COLS];
} xstats_t;

typedef struct pinfo {
    colog_part_t *p;
    int32_t day;
    pthread_mutex_t mu;
    bool checked, damaged; /* --skip-damaged: read through once / found damaged */
    bool ix_done, exact;
    roaring_bitmap_t *ix; /* candidate rows, NULL: no index helped */
    uint32_t nindexed;
    bool in_time;  /* the part lies inside range / last */
    bool key_fast; /* count() by one indexed column, answered from its index */
} pinfo_t;

typedef struct task {
    uint32_t pi, b0, b1;
} task_t;

typedef struct runner {
    colog_query_t *q;
    const colog_run_opts_t *opts;
    plan_t pl;
    colog_snap_t **snaps;
    size_t nsnaps;
    uint64_t days_total, parts_total;
    pinfo_t *parts;
    size_t nparts;
    task_t *tasks;
    size_t ntasks;
    atomic_size_t next;
    atomic_int failed;
    unsigned nthreads;
    size_t mem_limit;
    bool partitioned; /* every worker reads every task, keeping its groups */
    pthread_mutex_t warn_mu;
    uint64_t ndamaged; /* parts left out by --skip-damaged */
} runner_t;

/* --skip-damaged: say which part is left out and why. */
static void warn_damaged(void *ctx, const char *msg)
{
    runner_t *R = ctx;
    pthread_mutex_lock(&R->warn_mu);
    R->ndamaged++;
    if (R->opts->warn)
        fprintf(R->opts->warn, "colog: skipping damaged part: %s\n", msg);
    pthread_mutex_unlock(&R->warn_mu);
}

/* Hold many snapshots open: raise the soft limit on open files to the hard one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void runner_free(runner_t *R)
{
    for (size_t i = 0; i < R->nparts; i++) {
        if (R->parts[i].ix)
            roaring_bitmap_free(R->parts[i].ix);
        pthread_mutex_destroy(&R->parts[i].mu);
    }
    free(R->parts);
    for (size_t i = 0; i < R->nsnaps; i++)
        colog_snap_free(R->snaps[i]);
    free(R->snaps);
    free(R->tasks);
}

/* Days' snapshots are opened on several threads: opening a part reads its
 * manifest and the dictionaries and index tables the query needs, which is most
 * of a selective query's time once a store holds months of days. */
typedef struct snapjob {
    runner_t *R;
    colog_store_t *st;
    const int32_t *days; /* in range, ascending */
    colog_snap_t **out;  /* per day */
} snapjob_t;

static int snap_job(void *ctx, size_t d)
{
    const snapjob_t *j = ctx;
    runner_t *R = j->R;
    return colog_snap_day_ex(j->st, j->days[d], R->pl.colmask,
                             R->opts->skip_damaged ? warn_damaged : NULL, R, &j->out[d]);
}

/* Snapshot the days in range and list the parts that may hold rows. */
static int collect(runner_t *R, colog_store_t *st, unsigned nopen)
{
    int32_t *days = NULL;
    size_t ndays = 0, capp = 0, nin = 0;
    int rc = colog_store_days(st, &days, &ndays);
    if (rc)
        return rc;
    R->days_total = ndays;
    R->snaps = calloc(ndays ? ndays : 1, sizeof *R->snaps);
    if (R->snaps == NULL) {
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
        goto out;
    }
    raise_nofile();
    int32_t dlo = R->pl.lo == INT64_MIN ? INT32_MIN : colog_day_of(R->pl.lo);
    int32_t dhi = R->pl.hi == INT64_MAX ? INT32_MAX : colog_day_of(R->pl.hi);
    for (size_t d = 0; d < ndays; d++) /* the days in range, in place */
        if (days[d] >= dlo && days[d] <= dhi)
            days[nin++] = days[d];

    snapjob_t j = {.R = R, .st = st, .days = days, .out = R->snaps};
    rc = colog_parallel(nopen > 8 ? 8 : nopen, nin, snap_job, &j);
    /* Keep the snapshots in day order, those opened before an error included,
     * so that runner_free closes them. */
    for (size_t d = 0; d < nin; d++)
        if (R->snaps[d])
            R->snaps[R->nsnaps++] = R->snaps[d];
    if (rc)
        goto out;

    for (size_t d = 0; d < R->nsnaps; d++) {
        colog_snap_t *s = R->snaps[d];
        for (size_t i = 0; i < colog_snap_nparts(s); i++) {
            colog_part_t *p = colog_snap_part(s, i);
            R->parts_total++;
            if (colog_part_ts_max(p) < R->pl.lo || colog_part_ts_min(p) > R->pl.hi)
                continue;
            if (R->nparts == capp) {
                size_t nc = capp ? 2 * capp : 64;
                pinfo_t *np = realloc(R->parts, nc * sizeof *np);
                if (np == NULL) {
                    rc = colog_seterr(COLOG_ENOMEM, "out of memory");
                    goto out;
                }
                R->parts = np;
                capp = nc;
            }
            pinfo_t *pi = &R->parts[R->nparts++];
            memset(pi, 0, sizeof *pi);
            pthread_mutex_init(&pi->mu, NULL);
            pi->p = p;
            pi->day = days[d]; /* no error: snapshot d is day d */
            pi->in_time = colog_part_ts_min(p) >= R->pl.tlo && colog_part_ts_max(p) <= R->pl.thi;
        }
    }
out:
    free(days);
    return rc;
}

/* count() by one column whose index can answer it. */
static bool key_fast_ok(const runner_t *R, const pinfo_t *pi)
{
    const colog_query_t *q = R->q;
    return !R->opts->no_index && q->nkeys == 1 && q->keys[0].kind == Q_KEY_COL &&
           colog__agg_count_only(q) && pi->in_time &&
           colog_part_indexed(pi->p, (unsigned)q->keys[0].col);
}

static int make_tasks(runner_t *R)
{
    uint64_t total = 0;
    for (size_t i = 0; i < R->nparts; i++)
        total += colog_part_nblocks(R->parts[i].p);
    uint64_t chunk = total / ((uint64_t)R->nthreads * 4);
    chunk = chunk < 1 ? 1 : chunk > 16 ? 16 : chunk;
    size_t cap = R->nparts + total / chunk + 1;
    R->tasks = malloc(cap * sizeof *R->tasks);
    if (R->tasks == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    for (size_t i = 0; i < R->nparts; i++) {
        uint32_t nb = colog_part_nblocks(R->parts[i].p);
        R->parts[i].key_fast = R->q->has_stats && key_fast_ok(R, &R->parts[i]);
        uint32_t step = R->parts[i].key_fast ? nb : (uint32_t)chunk;
        for (uint32_t b = 0; b < nb; b += step)
            R->tasks[R->ntasks++] = (task_t){(uint32_t)i, b, b + step < nb ? b + step : nb};
    }
    return 0;
}

/* ---------------------------------------------------------------- workers */

typedef struct worker {
    runner_t *R;
    pthread_t th;
    colog_agg_t *agg;
    colog_tz_t *tz;
    colog_bctx_t bctx;
    colog_ioq_t *ioq;
    uint32_t *sel;
    colog_pred_t *pred;
    int64_t pred_pi; /* part the predicate is compiled for, -1 */
    xstats_t xs;
    /* Raw queries: where the selected rows of a block go (instead of an
     * aggregation); a return of 1 stops the scan (a limit was reached). */
    int (*emit)(void *ctx, colog_bctx_t *c, const uint32_t *sel, uint32_t nsel);
    void *emit_ctx;
    int rc;
    char msg[1024];
} worker_t;

static int worker_init(worker_t *w, runner_t *R)
{
    memset(w, 0, sizeof *w);
    w->R = R;
    w->pred_pi = -1;
    /* A query parsed without a zone (NULL) reads times in UTC. */
    int rc = R->q->tz ? colog_tz_dup(R->q->tz, &w->tz) : colog_tz_open(NULL, &w->tz);
    if (rc == 0)
        rc = colog__bctx_init(&w->bctx, w->tz);
    if (rc == 0 && (w->sel = malloc(COLOG_BLOCK_ROWS * sizeof *w->sel)) == NULL)
        rc = colog_seterr(COLOG_ENOMEM, "out of memory");
    if (rc == 0)
        rc = colog_ioq_new(R->opts->io_mode, 32, &w->ioq);
    if (rc == 0 && R->q->has_stats)
        rc = colog__agg_new(R->q, R->mem_limit, &w->agg);
    w->bctx.ioq = w->ioq;
    return rc;
}

static void worker_free(worker_t *w)
{
    colog__pred_free(w->pred);
    colog__agg_free(w->agg);
    colog__bctx_free(&w->bctx);
    colog_ioq_free(w->ioq);
    colog_tz_free(w->tz);
    free(w->sel);
}

/* --skip-damaged: read and verify every block, dictionary and index table of the
 * columns the query reads (dictionaries and index tables are otherwise read in
 * pieces, as needed), so that a damaged part is left out before any of its rows
 * is used. */
static int check_part(worker_t *w, pinfo_t *pi)
{
    colog_rbuf_t *buf = colog_rbuf_new();
    colog_block_t b;
    int rc = buf ? 0 : colog_seterr(COLOG_ENOMEM, "out of memory");
    for (unsigned col = 0; rc == 0 && col < w->R->q->schema->ncols; col++) {
        if (!(w->R->pl.colmask >> col & 1))
            continue;
        const colog_dictview_t *d;
        if (colog_type_is_dict(w->R->q->schema->cols[col].type))
            rc = colog_part_dict(pi->p, col, &d);
        if (rc == 0 && colog_part_indexed(pi->p, col))
            rc = colog_part_index_load(pi->p, col);
        for (uint32_t blk = 0; rc == 0 && blk < colog_part_nblocks(pi->p); blk++)
            rc = colog_part_read_buf(pi->p, col, blk, buf, &b);
    }
    colog_rbuf_free(buf);
    return rc;
}

/* Compile the predicate for part pi (and its index bitmap, once per part). */
static int worker_bind(worker_t *w, uint32_t pi_no)
{
    runner_t *R = w->R;
    pinfo_t *pi = &R->parts[pi_no];
    int rc;
    if (w->pred_pi == (int64_t)pi_no)
        return 0;
    if (w->pred_pi >= 0 && w->agg && (rc = colog__agg_part_end(w->agg)))
        return rc;
    colog__pred_free(w->pred);
    w->pred = NULL;
    w->pred_pi = -1;
    if (R->opts->skip_damaged) { /* first, since compiling reads dictionaries */
        pthread_mutex_lock(&pi->mu);
        if (!pi->checked) {
            rc = check_part(w, pi);
            pi->checked = true;
            if (rc == COLOG_ECORRUPT || (rc < 0 && rc > -4096)) { /* damaged or unreadable */
                pi->damaged = true;
                warn_damaged(R, colog_errmsg());
                rc = 0;
            }
        } else {
            rc = 0;
        }
        bool damaged = pi->damaged;
        pthread_mutex_unlock(&pi->mu);
        if (rc || damaged)
            return rc; /* the caller skips a damaged part */
    }
    rc = colog__pred_compile(R->q->scan_where, R->q->t_lo, R->q->t_hi, pi->p, R->q->schema,
                             &w->pred);
    if (rc)
        return rc;
    w->pred_pi = pi_no;
    if (w->agg && (rc = colog__agg_part(w->agg, pi->p)))
        return rc;
    pthread_mutex_lock(&pi->mu);
    if (!pi->ix_done && !R->opts->no_index && R->q->scan_where != NULL) {
        rc = colog__pred_index(w->pred, R->q->schema, &pi->ix, &pi->exact, &pi->nindexed);
        pi->ix_done = rc == 0;
    }
    pthread_mutex_unlock(&pi->mu);
    return rc;
}

/* Rows of the bitmap within [start, start + n), as offsets into the block. */
static uint32_t bitmap_sel(const roaring_bitmap_t *ix, uint32_t start, uint32_t n, uint32_t *sel)
{
    roaring_uint32_iterator_t it;
    uint32_t k = 0;
    roaring_init_iterator(ix, &it);
    if (!roaring_move_uint32_iterator_equalorlarger(&it, start))
        return 0;
    while (it.has_value && it.current_value < start + n) {
        sel[k++] = it.current_value - start;
        roaring_advance_uint32_iterator(&it);
    }
    return k;
}

/* Keep the selected rows inside range / last (for blocks the bounds cut). */
static int time_filter(worker_t *w, uint32_t *nsel)
{
    const colog_block_t *ts;
    int rc = colog__bctx_col(&w->bctx, 0, &ts);
    if (rc)
        return rc;
    uint32_t k = 0;
    for (uint32_t j = 0; j < *nsel; j++) {
        int64_t t = ts->v.i64[w->sel[j]];
        w->sel[k] = w->sel[j];
        k += t >= w->R->pl.tlo && t <= w->R->pl.thi;
    }
    *nsel = k;
    return 0;
}

/* count() by an indexed column of a part inside the time bounds, from bitmaps. */
static int key_fast_part(worker_t *w, pinfo_t *pi)
{
    runner_t *R = w->R;
    unsigned col = (unsigned)R->q->keys[0].col;
    colog_part_t *p = pi->p;
    uint32_t nk = colog_part_index_nkeys(p, col);
    uint64_t sum = 0, total;
    int rc = colog_part_index_load(p, col); /* every key and its rows */
    if (rc)
        return rc;
    if (R->q->scan_where == NULL) {
        total = colog_part_rows(p);
        for (uint32_t i = 0; i < nk && rc == 0; i++) {
            uint64_t c = colog_part_index_card(p, col, i);
            sum += c;
            rc = colog__agg_add_key_count(w->agg, p, colog_part_index_key(p, col, i), c);
        }
    } else {
        total = roaring_bitmap_get_cardinality(pi->ix);
        roaring_bitmap_t *tmp = roaring_bitmap_create();
        if (tmp == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < nk && rc == 0 && sum < total; i++) {
            roaring_bitmap_clear(tmp);
            rc = colog_part_index_rows(p, col, i, i + 1, tmp);
            uint64_t c = rc ? 0 : roaring_bitmap_and_cardinality(pi->ix, tmp);
            sum += c;
            if (c)
                rc = colog__agg_add_key_count(w->agg, p, colog_part_index_key(p, col, i), c);
        }
        roaring_bitmap_free(tmp);
    }
    if (rc == 0 && total > sum) /* rows without a value: the NULL group */
        rc = colog__agg_add_null_count(w->agg, total - sum);
    w->xs.parts_index_grouped++;
    w->xs.blocks_bitmap_only += colog_part_nblocks(p);
    return rc;
}

static int run_task(worker_t *w, const task_t *t)
{
    runner_t *R = w->R;
    pinfo_t *pi = &R->parts[t->pi];
    colog_part_t *p = pi->p;
    colog_bctx_t *c = &w->bctx;
    int rc = worker_bind(w, t->pi);
    if (rc)
        return rc;
    if (pi->damaged)
        return 0;
    w->xs.blocks_total += t->b1 - t->b0;
    bool where_exact = R->q->scan_where == NULL || (pi->ix && pi->exact);
    if (pi->key_fast && where_exact && (R->q->scan_where == NULL || pi->ix)) {
        if (t->b0 == 0)
            return key_fast_part(w, pi);
        return 0;
    }
    bool count_only = R->q->has_stats && R->q->nkeys == 0 && colog__agg_count_only(R->q);
    for (uint32_t b = t->b0; b < t->b1; b++) {
        bool maybe;
        colog_zone_t z;
        if ((rc = colog__pred_maybe(w->pred, p, b, &maybe)))
            return rc;
        if (!maybe) {
            w->xs.blocks_zone++;
            continue;
        }
        if ((rc = colog_part_zone(p, 0, b, &z)))
            return rc;
        uint32_t start = b * COLOG_BLOCK_ROWS, nsel = 0;
        uint64_t card = z.nrows;
        if (pi->ix) {
            card = roaring_bitmap_range_cardinality(pi->ix, start, (uint64_t)start + z.nrows);
            if (card == 0) {
                w->xs.blocks_index++;
                continue;
            }
        }
        bool time_full = z.min.i >= R->pl.tlo && z.max.i <= R->pl.thi;
        colog__bctx_reset(c, p, b, z.nrows);
        if (where_exact && count_only && time_full) {
            w->xs.blocks_bitmap_only++;
            w->xs.rows_selected += card;
            rc = colog__agg_add_count(w->agg, card);
            if (rc)
                return rc;
            continue;
        }
        if (where_exact && pi->ix) {
            nsel = bitmap_sel(pi->ix, start, z.nrows, w->sel);
            if (!time_full && (rc = time_filter(w, &nsel)))
                return rc;
            if ((rc = colog__bctx_prefetch(c, R->pl.aggmask)))
                return rc;
        } else {
            if ((rc = colog__bctx_prefetch(c, R->pl.predmask | R->pl.aggmask)))
                return rc;
            if ((rc = colog__pred_eval(w->pred, c, w->sel, &nsel)))
                return rc;
        }
        w->xs.blocks_scanned++;
        w->xs.rows_selected += nsel;
        if (nsel && w->agg && (rc = colog__agg_block(w->agg, c, w->sel, nsel)))
            return rc;
        if (nsel && w->emit && (rc = w->emit(w->emit_ctx, c, w->sel, nsel)))
            return rc;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    runner_t *R = w->R;
    for (size_t own = 0;; own++) {
        size_t i = R->partitioned ? own : atomic_fetch_add(&R->next, 1);
        if (i >= R->ntasks || atomic_load(&R->failed))
            break;
        w->rc = run_task(w, &R->tasks[i]);
        if (w->rc) {
            snprintf(w->msg, sizeof w->msg, "%s", colog_errmsg());
            atomic_store(&R->failed, 1);
            break;
        }
    }
    if (w->rc == 0 && w->pred_pi >= 0 && w->agg && (w->rc = colog__agg_part_end(w->agg)))
        snprintf(w->msg, sizeof w->msg, "%s", colog_errmsg());
    return NULL;
}

static void explain(FILE *f, const runner_t *R, const xstats_t *xs, const char *io)
{
    const colog_query_t *q = R->q;
    uint64_t nix = 0, exact = 0;
    for (size_t i = 0; i < R->nparts; i++) {
        nix += R->parts[i].nindexed > 0;
        exact += R->parts[i].ix && R->parts[i].exact;
    }
    fprintf(f, "plan\n");
    fprintf(f, "  days:   %zu of %llu read (range / ts bounds)\n", R->nsnaps,
            (unsigned long long)R->days_total);
    fprintf(f, "  parts:  %zu of %llu read (%llu skipped by their time range)\n", R->nparts,
            (unsigned long long)R->parts_total, (unsigned long long)(R->parts_total - R->nparts));
    fprintf(f, "  index:  %s; used in %llu parts (%llu exact: no predicate column read)\n",
            R->opts->no_index ? "disabled (--no-index)" : "enabled", (unsigned long long)nix,
            (unsigned long long)exact);
    if (R->parts_total) {
        fprintf(f, "  indexed columns used:");
        uint64_t used = 0;
        for (size_t i = 0; i < R->nparts; i++)
            if (R->parts[i].nindexed || R->parts[i].key_fast)
                used = 1;
        for (unsigned c = 0; used && c < q->schema->ncols; c++)
            if (q->schema->cols[c].indexed &&
                ((colog__expr_colmask(q->scan_where) >> c & 1) ||
                 (q->nkeys == 1 && q->keys[0].kind == Q_KEY_COL && q->keys[0].col == (int)c &&
                  xs->parts_index_grouped)))
                fprintf(f, " %s", q->schema->cols[c].name);
        fprintf(f, "%s\n", used ? "" : " none");
    }
    fprintf(f, "  groups from bitmaps alone: %llu parts\n",
            (unsigned long long)xs->parts_index_grouped);
    fprintf(f, "execution (%u thread%s, %s reads)\n", R->nthreads, R->nthreads == 1 ? "" : "s", io);
    fprintf(f, "  blocks: %llu in the parts read\n", (unsigned long long)xs->blocks_total);
    fprintf(f, "    %llu skipped by zone maps (no decompression)\n",
            (unsigned long long)xs->blocks_zone);
    fprintf(f, "    %llu skipped by bitmap indexes\n", (unsigned long long)xs->blocks_index);
    fprintf(f, "    %llu answered from bitmaps alone\n",
            (unsigned long long)xs->blocks_bitmap_only);
    fprintf(f, "    %llu scanned\n", (unsigned long long)xs->blocks_scanned);
    fprintf(f, "  rows selected: %llu\n", (unsigned long long)xs->rows_selected);
    fprintf(f, "  column blocks decoded:");
    bool any = false;
    for (unsigned c = 0; c < q->schema->ncols; c++)
        if (xs->ndecoded[c]) {
            fprintf(f, " %s=%llu", q->schema->cols[c].name, (unsigned long long)xs->ndecoded[c]);
            any = true;
        }
    fprintf(f, "%s\n", any ? "" : " none");
}

static void xs_add(xstats_t *d, const worker_t *w)
{
    const xstats_t *s = &w->xs;
    d->blocks_total += s->blocks_total;
    d->blocks_zone += s->blocks_zone;
    d->blocks_index += s->blocks_index;
    d->blocks_bitmap_only += s->blocks_bitmap_only;
    d->blocks_scanned += s->blocks_scanned;
    d->parts_index_grouped += s->parts_index_grouped;
    d->rows_selected += s->rows_selected;
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++)
        d->ndecoded[c] += w->bctx.ndecoded[c];
}

static int exec_stats(runner_t *R, colog_rset_t *r, xstats_t *xs, char *io, size_t iocap)
{
    unsigned n = R->nthreads;
    worker_t *W = calloc(n, sizeof *W);
    int rc = 0;
    unsigned started = 0;
    if (W == NULL)
        return colog_seterr(COLOG_ENOMEM, "out of memory");
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = worker_init(&W[i], R);
    if (rc)
        goto out;
    R->partitioned = n > 1 && colog__agg_partitionable(R->q);
    for (unsigned i = 0; R->partitioned && i < n; i++)
        colog__agg_set_partition(W[i].agg, i, n);
    snprintf(io, iocap, "%s", colog_ioq_backend(W[0].ioq));
    for (started = 1; started < n; started++)
        if (pthread_create(&W[started].th, NULL, worker_main, &W[started]) != 0)
            break; /* fewer threads: the others take the tasks */
    worker_main(&W[0]);
    for (unsigned i = 1; i < started; i++)
        pthread_join(W[i].th, NULL);
    for (unsigned i = 0; i < started && rc == 0; i++)
        if (W[i].rc)
            rc = colog_seterr(W[i].rc, "%s", W[i].msg);
    if (R->partitioned && started < n && rc == 0) /* a partition had no thread */
        rc = colog_seterr(COLOG_ENOMEM, "could not start %u query threads", n);
    for (unsigned i = 1; i < started && rc == 0 && !R->partitioned; i++)
        rc = colog__agg_merge(W[0].agg, W[i].agg);
    for (unsigned i = 0; i < n; i++)
        xs_add(xs, &W[i]);
    if (R->partitioned)
        xs->blocks_total /= n; /* every worker counted every block */
    for (unsigned i = 0; rc == 0 && i < (R->partitioned ? started : 1); i++)
        rc = colog__agg_result(W[i].agg, r);
out:
    for (unsigned i = 0; i < n; i++)
        worker_free(&W[i]);
    free(W);
    return rc;
}
static int exec_raw(runner_t *R, const colog_run_opts_t *opts, xstats_t *xs, char *io, size_t iocap)
{
    colog_query_t *q = R->q;
    rawx_t x;
    colog_rset_t all;
    worker_t w;
    int rc;
    memset(&x, 0, sizeof x);
    memset(&all, 0, sizeof all);
    x.q = q;
    x.nf = q->nfields;
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++)
        x.pos[c] = -1;
    for (uint32_t f = 0; f < q->nfields; f++) {
        x.field[x.ncol] = q->fields[f];
        if (x.pos[q->fields[f]] < 0)
            x.pos[q->fields[f]] = (int)x.ncol;
        x.ncol++;
    }
    x.field[x.ncol++] = 0; /* hidden ts, for ordering */
    for (uint32_t i = 0; i < q->nstages; i++) {
        const colog_q_stage_t *sg = &q->stages[i];
        int cols[COLOG_Q_MAX_KEYS + 1];
        uint32_t n = 0;
        if (sg->kind == Q_ST_TOP || sg->kind == Q_ST_BOTTOM)
            cols[n++] = sg->by;
        if (sg->kind == Q_ST_SORT)
            for (uint32_t k = 0; k < sg->nsort; k++)
                cols[n++] = sg->sort[k].col;
        for (uint32_t k = 0; k < n; k++) {
            if (x.pos[cols[k]] < 0) {
                x.pos[cols[k]] = (int)x.ncol;
                x.field[x.ncol++] = cols[k];
            }
        }
    }
    rc = colog__rset_init(&x.day, x.ncol);
    if (rc)
        return rc;
    for (uint32_t f = 0; f < x.ncol; f++)
        x.day.cols[f] = colog__col_desc(q->schema, x.field[f], q->schema->cols[x.field[f]].name);
    /* Only `limit` stages can stream; anything else needs every row. */
    bool stream = true;
    x.limit = UINT64_MAX;
    for (uint32_t i = 0; i < q->nstages; i++) {
        if (q->stages[i].kind == Q_ST_LIMIT) {
            if (q->stages[i].n < x.limit)
                x.limit = q->stages[i].n;
        } else {
            stream = false;
        }
    }
    rc = worker_init(&w, R);
    if (rc)
        goto out_day;
    snprintf(io, iocap, "%s", colog_ioq_backend(w.ioq));
    w.emit = raw_block;
    w.emit_ctx = &x;
    if (!opts->explain) {
        rc = colog__out_begin(&x.out, opts->format, opts->out, q->tz, x.day.cols, x.nf);
        if (rc)
            goto out_worker;
    }
    if (!stream) {
        rc = colog__rset_init(&all, x.ncol);
        if (rc)
            goto out_end;
        memcpy(all.cols, x.day.cols, sizeof all.cols);
        x.all = &all;
    }
    x.explain = opts->explain;
    bool stop = x.limit == 0;
    for (size_t i = 0; i < R->nparts && rc == 0 && !stop; i++) {
        pinfo_t *pi = &R->parts[i];
        bool first = i == 0 || R->parts[i - 1].day != pi->day;
        bool last = i + 1 == R->nparts || R->parts[i + 1].day != pi->day;
        x.one_part = first && last;
        task_t t = {(uint32_t)i, 0, colog_part_nblocks(pi->p)};
        rc = run_task(&w, &t);
        if (rc == 1) { /* the limit was reached */
            rc = 0;
            stop = true;
        }
        if (rc == 0 && last && !stop)
            rc = raw_flush(&x, &stop);
    }
    xs_add(xs, &w);
    if (rc == 0 && !stream && !opts->explain) {
        int tie = (int)x.nf; /* ties by time */
        rc = colog__apply_stages(q, &all, x.pos, 1, &tie);
        if (rc == 0)
            rc = colog__out_rows(x.out, &all, 0, all.nrows);
    }
out_end:
    if (x.out) {
        int rc2 = colog__out_end(x.out);
        if (rc == 0)
            rc = rc2;
    }
    colog__rset_free(&all);
out_worker:
    worker_free(&w);
out_day:
    colog__rset_free(&x.day);
    return rc;
}

/* ---------------------------------------------------------------- entry point */

/* Whether a query parsed against schema a may run on a store of schema b: the
 * same columns (names, types, indexes) in the same order. */
static bool schema_same(const colog_schema_t *a, const colog_schema_t *b)
{
    if (a->ncols != b->ncols)
        return false;
    for (unsigned c = 0; c < a->ncols; c++)
        if (a->cols[c].type != b->cols[c].type || a->cols[c].indexed != b->cols[c].indexed ||
            strncmp(a->cols[c].name, b->cols[c].name, COLOG_NAME_MAX) != 0)
            return false;
    return true;
}

int colog_query_run(colog_query_t *q, colog_store_t *st, const colog_run_opts_t *opts)
{
    if (q == NULL || st == NULL || opts == NULL || opts->out == NULL)
        return colog_seterr(COLOG_EINVAL, "query run: invalid arguments");
    if (opts->format < COLOG_OUT_TABLE || opts->format > COLOG_OUT_NDJSON)
        return colog_seterr(COLOG_EINVAL, "query run: unknown output format %d", (int)opts->format);
    if (opts->mem_mb > ((size_t)1 << 40))
        return colog_seterr(COLOG_EINVAL, "query run: --mem-mb %zu is more than 2^40",
                            opts->mem_mb);
    if (!schema_same(q->schema, colog_store_schema(st)))
        return colog_seterr(COLOG_ESCHEMA,
                            "query run: the query was parsed against schema '%s', "
                            "not the store's ('%s')",
                            q->schema->name, colog_store_schema(st)->name);
    runner_t R;
    xstats_t xs;
    colog_rset_t r;
    char io[16] = "pread";
    memset(&R, 0, sizeof R);
    memset(&xs, 0, sizeof xs);
    memset(&r, 0, sizeof r);
    R.q = q;
    R.opts = opts;
    pthread_mutex_init(&R.warn_mu, NULL);
    make_plan(q, &R.pl);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    R.nthreads = opts->threads ? opts->threads : ncpu > 0 ? (unsigned)ncpu : 1;
    if (R.nthreads > 256)
        R.nthreads = 256;
    if (!q->has_stats)
        R.nthreads = 1; /* raw events stream in time order */
    size_t mem = (opts->mem_mb ? opts->mem_mb : 4096) << 20;
    R.mem_limit = mem / R.nthreads;
    int rc = collect(&R, st, ncpu > 0 ? (unsigned)ncpu : 1);
    if (rc == 0)
        rc = make_tasks(&R);
    if (rc)
        goto out;
    if (!q->has_stats) {
        rc = exec_raw(&R, opts, &xs, io, sizeof io);
        if (rc == 0 && opts->explain)
            explain(opts->out, &R, &xs, io);
        goto out;
    }
    rc = exec_stats(&R, &r, &xs, io, sizeof io);
    if (rc)
        goto out;
    if (opts->explain) {
        explain(opts->out, &R, &xs, io);
        goto out;
    }
    /* Groups come out ordered by their keys unless a stage orders them
     * (top / bottom break ties by the keys themselves). */
    int keys[COLOG_Q_MAX_KEYS];
    bool desc[COLOG_Q_MAX_KEYS] = {0};
    for (uint32_t k = 0; k < q->nkeys; k++)
        keys[k] = (int)k;
    if (q->nstages == 0 || (q->stages[0].kind != Q_ST_TOP && q->stages[0].kind != Q_ST_BOTTOM))
        rc = colog__rset_sort(&r, q->nkeys, keys, desc);
    if (rc == 0)
        rc = colog__apply_stages(q, &r, NULL, (int)q->nkeys, keys);
    colog_out_t *o;
    if (rc == 0)
        rc = colog__out_begin(&o, opts->format, opts->out, q->tz, r.cols, r.ncols);
    if (rc == 0) {
        rc = colog__out_rows(o, &r, 0, r.nrows);
        int rc2 = colog__out_end(o);
        if (rc == 0)
            rc = rc2;
    }
out:
    colog__rset_free(&r);
    runner_free(&R);
    pthread_mutex_destroy(&R.warn_mu);
    return rc;
}
