/*
 * colog_pred.h — This file is private to colog's query layer.
 *
 * Scan predicates compiled for one part, evaluated a whole block at a time, and
 * the block context that lazily decodes the columns a block needs.
 */
#ifndef COLOG_PRED_H
#define COLOG_PRED_H

#include "colog_ast.h"

/* Lazily decoded columns (and derived time fields) of one block of one part. */
typedef struct colog_bctx {
    colog_part_t *part;
    colog_tz_t *tz;
    uint32_t b, n;
    uint64_t have; /* bit c: blk[c] decoded for block b */
    colog_block_t blk[COLOG_MAX_COLS];
    uint8_t *vbytes[COLOG_MAX_COLS]; /* validity as one byte a row (NULL: all valid) */
    uint64_t have_vbytes;
    int64_t *derived[3]; /* hour, dow, day of each row */
    bool have_derived[3];
    int64_t *local_us; /* ts + zone offset, µs */
    bool have_local;
    colog_rbuf_t *rbuf[COLOG_MAX_COLS]; /* this context's decode buffers */
    colog_ioq_t *ioq;                   /* batched reads (borrowed; may be NULL) */
    uint64_t ndecoded[COLOG_MAX_COLS];  /* blocks decoded, per column (for --explain) */
} colog_bctx_t;

int colog__bctx_init(colog_bctx_t *c, colog_tz_t *tz);
void colog__bctx_free(colog_bctx_t *c);
/* Point the context at block b of part p (forgets decoded data). */
void colog__bctx_reset(colog_bctx_t *c, colog_part_t *p, uint32_t b, uint32_t n);
/* Read the blocks of the columns in colmask (those not yet decoded) together,
 * through the context's I/O queue. */
int colog__bctx_prefetch(colog_bctx_t *c, uint64_t colmask);
/* Decoded column col of the current block. */
int colog__bctx_col(colog_bctx_t *c, unsigned col, const colog_block_t **out);
/* One byte per row, 1 = present (NULL if all present). */
int colog__bctx_valid(colog_bctx_t *c, unsigned col, const uint8_t **out);
/* hour (0-23), dow (1-7) or day number of each row, in the context's zone.
 * which: 0 hour, 1 dow, 2 day. */
int colog__bctx_derived(colog_bctx_t *c, int which, const int64_t **out);
/* Local wall-clock µs of each row (ts + offset). */
int colog__bctx_local(colog_bctx_t *c, const int64_t **out);

/* A predicate compiled against one part (dictionary codes resolved). */
typedef struct colog_pred colog_pred_t;

/* Compile e (may be NULL: always true) AND t_lo <= ts < t_hi for part p. */
int colog__pred_compile(const colog_q_expr_t *e, int64_t t_lo, int64_t t_hi, colog_part_t *p,
                        const colog_schema_t *schema, colog_pred_t **out);
void colog__pred_free(colog_pred_t *pr);
/* Can any row of block b be selected? (zone maps only, no decompression) */
int colog__pred_maybe(colog_pred_t *pr, colog_part_t *p, uint32_t b, bool *maybe);
/* Evaluate over the context's block: sel receives the selected row indices,
 * *nsel their number. sel has room for c->n entries. */
int colog__pred_eval(colog_pred_t *pr, colog_bctx_t *c, uint32_t *sel, uint32_t *nsel);
/* The rows of the predicate's part that bitmap indexes allow (ignoring the time
 * bounds): *rows is a superset of the selected rows (NULL: no index helped), and
 * *exact says it is exactly the rows where the expression is true. The caller
 * frees *rows with roaring_bitmap_free. */
struct roaring_bitmap_s;
int colog__pred_index(colog_pred_t *pr, const colog_schema_t *schema,
                      struct roaring_bitmap_s **rows, bool *exact, uint32_t *nindexed);
/* Columns the predicate reads (bit mask). */
uint64_t colog__expr_colmask(const colog_q_expr_t *e);

#endif /* COLOG_PRED_H */
