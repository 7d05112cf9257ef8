/*
 * colog_exec_int.h — This file is private to colog's query layer.
 *
 * Shared pieces of the executor: result values and rows, the block context that
 * predicates and aggregates run over, compiled predicates, and output formats.
 */
#ifndef COLOG_EXEC_INT_H
#define COLOG_EXEC_INT_H

#include "colog_ast.h"

/* ---------------------------------------------------------------- result values */

/* One value of a result row. Strings point into the result's arena. */
typedef struct colog_val {
    bool null;
    union {
        int64_t i;  /* Q_VT_INT signed, Q_VT_TIME, Q_VT_DAY */
        uint64_t u; /* Q_VT_INT unsigned */
        double f;
        colog_ip_t ip;
        struct {
            const char *p;
            uint32_t len;
        } s;
    } v;
} colog_val_t;

typedef struct colog_rcol {
    char name[COLOG_NAME_MAX + 8];
    colog_q_vt_t vt;
    bool is_signed; /* Q_VT_INT: v.i rather than v.u */
} colog_rcol_t;

/* A chunked bump allocator (colog_rset.c). */
typedef struct colog_arena {
    struct colog_chunk *head;
} colog_arena_t;
/* 8-byte aligned memory living until colog__arena_clear; NULL on ENOMEM. */
void *colog__arena_alloc(colog_arena_t *a, size_t n);
/* Free every chunk (the arena is empty and reusable afterwards). */
void colog__arena_clear(colog_arena_t *a);

/* Bytewise order, shorter first on a common prefix (the dictionaries' order). */
int colog__bytes_cmp(const char *a, uint32_t la, const char *b, uint32_t lb);

/* A table of result rows (row-major), with an arena for the strings. */
typedef struct colog_rset {
    uint32_t ncols;
    colog_rcol_t cols[COLOG_MAX_COLS + COLOG_Q_MAX_AGGS];
    size_t nrows, cap;
    colog_val_t *vals; /* nrows * ncols */
    struct colog_arena *arena;
} colog_rset_t;

int colog__rset_init(colog_rset_t *r, uint32_t ncols);
void colog__rset_free(colog_rset_t *r);
/* Append an uninitialised row; returns its values (ncols) or NULL on ENOMEM. */
colog_val_t *colog__rset_push(colog_rset_t *r);
/* Copy bytes into the arena; NULL on ENOMEM. */
const char *colog__rset_strdup(colog_rset_t *r, const char *p, uint32_t len);
/* Compare two values of one column (nulls first). */
int colog__val_cmp(const colog_rcol_t *c, const colog_val_t *a, const colog_val_t *b);

/* The result column of a schema column. */
colog_rcol_t colog__col_desc(const colog_schema_t *s, int col, const char *name);
/* Stable sort of the rows by columns cols[0..nk) (desc per column). */
int colog__rset_sort(colog_rset_t *r, uint32_t nk, const int *cols, const bool *desc);
/* Keep the first n rows in that order (heap selection, then a sort of those n). */
int colog__rset_topn(colog_rset_t *r, uint32_t nk, const int *cols, const bool *desc, uint64_t n);
/* Apply q's result stages in order. colmap maps the stages' column numbers to
 * result columns (NULL: the same); top/bottom break ties by the columns tie[]. */
int colog__apply_stages(colog_query_t *q, colog_rset_t *r, const int *colmap, int ntie,
                        const int *tie);

/* ---------------------------------------------------------------- output formats (colog_out.c) */

typedef struct colog_out colog_out_t;
int colog__out_begin(colog_out_t **out, colog_outfmt_t fmt, FILE *f, colog_tz_t *tz,
                     const colog_rcol_t *cols, uint32_t ncols);
/* Write (or, for tables, buffer) rows [0, n) of r. */
int colog__out_rows(colog_out_t *o, const colog_rset_t *r, size_t from, size_t n);
/* Finish (tables print here) and free. */
int colog__out_end(colog_out_t *o);

/* ---------------------------------------------------------------- post-stage filter */

/* Evaluate a post-stats `where` over one result row (three-valued logic; true
 * only when the expression is true). */
bool colog__row_match(const colog_q_expr_t *e, const colog_rset_t *r, const colog_val_t *row);

#endif /* COLOG_EXEC_INT_H */
