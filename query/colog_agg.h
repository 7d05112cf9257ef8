/*
 * colog_agg.h — This file is private to colog's query layer.
 *
 * One thread's aggregation state for a `stats` query (colog_agg.c).
 */
#ifndef COLOG_AGG_H
#define COLOG_AGG_H

#include "colog_exec_int.h"
#include "colog_pred.h"

typedef struct colog_agg colog_agg_t;

/* mem_limit: bytes the groups may use (0: no limit). */
int colog__agg_new(colog_query_t *q, size_t mem_limit, colog_agg_t **out);
void colog__agg_free(colog_agg_t *x);
/* Before the first block of a part (binds its dictionaries), and after its last. */
int colog__agg_part(colog_agg_t *x, colog_part_t *p);
int colog__agg_part_end(colog_agg_t *x);
/* Aggregate the selected rows of the context's block. */
int colog__agg_block(colog_agg_t *x, colog_bctx_t *c, const uint32_t *sel, uint32_t nsel);
/* Whether every aggregate is count() (answerable from bitmaps). */
bool colog__agg_count_only(const colog_query_t *q);
/* Without keys: add n rows to every count(). */
int colog__agg_add_count(colog_agg_t *x, uint64_t n);
/* One key that is an indexed column: add n rows to the group of index key `key`
 * of the current part (colog__agg_part first). */
int colog__agg_add_key_count(colog_agg_t *x, colog_part_t *p, uint64_t key, uint64_t n);
/* The same for the rows whose key is absent. */
int colog__agg_add_null_count(colog_agg_t *x, uint64_t n);
/* Partitioned aggregation: with many groups, each thread reads every block but
 * keeps only the groups of its partition (by a hash of the key values), so the
 * threads' results are disjoint and need no merge. */
bool colog__agg_partitionable(const colog_query_t *q);
void colog__agg_set_partition(colog_agg_t *x, uint32_t part_no, uint32_t part_cnt);
/* Fold src into dst (same query). src is left unchanged. */
int colog__agg_merge(colog_agg_t *dst, const colog_agg_t *src);
/* Bytes the state uses (estimate). */
size_t colog__agg_mem(const colog_agg_t *x);
/* Append the result rows (keys, then aggregates), unordered, to r (initialised
 * here when r is all zero). */
int colog__agg_result(colog_agg_t *x, colog_rset_t *r);

#endif
