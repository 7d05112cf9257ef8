/*
 * colog_store_int.h — This file is private to colog's storage layer.
 *
 * The store handle and the part internals shared by colog_store.c,
 * colog_part.c, colog_merge.c and colog_ingest.c.
 */
#ifndef COLOG_STORE_INT_H
#define COLOG_STORE_INT_H

#include <limits.h>

#include "colog_storage_int.h"

struct colog_store {
    char path[PATH_MAX];
    int dirfd;  /* STORE/ */
    int hotfd;  /* STORE/hot/ */
    int lockfd; /* STORE/lock, flock()ed when writable */
    bool writable;
    colog_config_t cfg;
    colog_schema_t schema;
    uint8_t schema_sha[32]; /* SHA-256 of the canonical schema text (in manifests) */
};

/* Open the directory of a day (hot tier). -ENOENT (no message) when absent and
 * !create. The caller closes *fd_out. */
int colog__day_open(colog_store_t *st, int32_t day, bool create, int *fd_out);
/* List part ids (pID entries) of a day directory; *ids malloc'ed. max_id: the
 * largest id in any form; leftovers: whether .tmp-/.del- entries exist. */
int colog__day_list(int dayfd, uint64_t **ids, size_t *n, uint64_t *max_id, bool *leftovers);
/* Remove leftovers and superseded parts of a day (writer lock held). */
int colog__day_cleanup(colog_store_t *st, int32_t day);
/* Rename part id to .del-pID and delete it. */
int colog__part_remove(int dayfd, uint64_t id);

/* Open part `id` of a day: manifest (verified against the store's schema), and
 * the column files and dictionaries of the columns in colmask. -ENOENT (no
 * message) if the part vanished (a concurrent merge): the caller retries. */
int colog__part_open(colog_store_t *st, int dayfd, int32_t day, uint64_t id, uint64_t colmask,
                     colog_part_t **out);
void colog__part_close(colog_part_t *p);
/* The ids this part supersedes (borrowed). */
const uint64_t *colog__part_sup(const colog_part_t *p, uint32_t *n);

#endif /* COLOG_STORE_INT_H */
