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

#include "colog_ledger.h"

/* 0000-01-01 and 9999-12-31 as day numbers: the days a store can hold (times
 * are limited to those years) and that colog_day_format writes as YYYY-MM-DD. */
#define COLOG__DAY_MIN (-719528)
#define COLOG__DAY_MAX 2932896

struct colog_store {
    char path[PATH_MAX];
    char cold_path[PATH_MAX]; /* cfg.cold_dir, or STORE/cold */
    int dirfd;                /* STORE/ */
    int hotfd;                /* STORE/hot/ */
    int coldfd;               /* the cold tier's root; -1 until it exists */
    int lockfd;               /* STORE/lock, flock()ed when writable */
    bool writable;
    colog_config_t cfg;
    colog_schema_t schema;
    uint8_t schema_sha[32]; /* SHA-256 of the canonical schema text (in manifests) */
    bool keyed;             /* cfg.ledger_key set: key[] holds the HMAC key */
    uint8_t key[32];
    colog_ledger_t *ledger; /* open for appending when writable */
};

/* Canonical schema text (one "name type[ indexed]" line per column) into buf;
 * its length or COLOG_ELIMIT. */
int colog__schema_text(const colog_schema_t *s, char *buf, size_t cap);

/* The root directory fd of a tier (borrowed; -ENOENT (no message) when the
 * cold tier does not exist and !create). */
int colog__tier_fd(colog_store_t *st, colog_tier_t tier, bool create, int *fd_out);
/* Open the directory of a day in a tier. -ENOENT (no message) when absent and
 * !create. The caller closes *fd_out. */
int colog__day_open(colog_store_t *st, colog_tier_t tier, int32_t day, bool create, int *fd_out);
/* "hot/YYYY-MM-DD" or "COLD_PATH/YYYY-MM-DD" for messages. */
void colog__day_display(const colog_store_t *st, colog_tier_t tier, int32_t day, char *buf,
                        size_t cap);
/* List part ids (pID entries) of a day directory; *ids malloc'ed. max_id: the
 * largest id in any form; leftovers: whether .tmp-/.del- entries exist. */
int colog__day_list(int dayfd, uint64_t **ids, size_t *n, uint64_t *max_id, bool *leftovers);
/* Remove leftovers and superseded parts of a day in every tier (writer lock held). */
int colog__day_cleanup(colog_store_t *st, int32_t day);
/* Rename part id to .del-pID and delete it. */
int colog__part_remove(int dayfd, uint64_t id);
/* Remove part id of a day from whichever tier holds it (absent: 0). */
int colog__part_remove_any(colog_store_t *st, int32_t day, uint64_t id);

/* Open part `id` of a day in a tier: manifest (verified against the store's
 * schema), and the column files and dictionaries of the columns in colmask.
 * -ENOENT (no message) if the part vanished (a concurrent merge): the caller
 * retries. */
int colog__part_open(colog_store_t *st, colog_tier_t tier, int dayfd, int32_t day, uint64_t id,
                     uint64_t colmask, colog_part_t **out);
void colog__part_close(colog_part_t *p);
/* The ids this part supersedes (borrowed). */
const uint64_t *colog__part_sup(const colog_part_t *p, uint32_t *n);
/* The part's manifest (borrowed) and its directory: display name
 * ("hot/2026-03-01/p0000000000000003") and absolute path. */
const colog_manifest_t *colog__part_manifest(const colog_part_t *p);
const char *colog__part_display(const colog_part_t *p);
void colog__part_path(const colog_part_t *p, char *buf, size_t cap);
/* SHA-256 of the part's manifest file, as read at open. */
const uint8_t *colog__part_manifest_sha(const colog_part_t *p);

/* A snapshot of one tier only (retain, merges). */
int colog__snap_tier(colog_store_t *st, colog_tier_t tier, int32_t day, uint64_t colmask,
                     colog_snap_t **out);

/* ---------------------------------------------------------------- publishing parts by hand */

/* A part writer (colog_storage_int.h) for a tier: zlevel > 0 compresses the
 * column files with zstd at that level (cold), op names the ledger commit. */
int colog__pw_open_ex(colog_store_t *st, colog_tier_t tier, int32_t day, uint64_t nrows, int zlevel,
                      const char *op, colog_pw_t **out);

/* Merge the first parts of a snapshot (all of them, up to 4096) into one new
 * part of `tier` that supersedes them (and what they superseded). */
int colog__merge_snap(colog_store_t *st, colog_snap_t *snap, int32_t day, colog_tier_t tier,
                      int zlevel, const char *op, bool *merged);

/* Reserve a new part of a day in a tier: an id above every id the day has in
 * any tier, and an empty temp directory TIER/DAY/.tmp-pID (tmpname). *dayfd is
 * the day directory (the caller closes it). Writer lock held. */
int colog__part_reserve(colog_store_t *st, colog_tier_t tier, int32_t day, int *dayfd, uint64_t *id,
                        char tmpname[32]);
/* Publish a complete temp directory (manifest included, everything fsynced):
 * ledger "commit op=OP ... EXTRA" (fsynced), rename to pID, fsync the day
 * directory, then remove the superseded ids from every tier. extra: more encoded
 * fields ("archive=.. orig=..") or NULL. */
int colog__part_publish(colog_store_t *st, colog_tier_t tier, int32_t day, int dayfd, uint64_t id,
                        const char *tmpname, const uint8_t manifest_sha[32], uint64_t rows,
                        const uint64_t *sup, uint32_t nsup, const char *op, const char *extra);
/* (On a failure before the rename, publish removes the temp directory and, if
 * the ledger already has the commit, appends its abort; but when the commit may
 * be in the ledger without publish knowing (colog__ledger_broken), the temp
 * directory stays for the next writer's recovery to undo.) */
/* Remove a whole day from every tier: ledger "delete why=WHY" first, then each
 * tier's day directory is renamed to .del-DAY and deleted. *bytes (may be NULL)
 * gets the bytes freed. */
int colog__day_remove(colog_store_t *st, int32_t day, const char *why, uint64_t *bytes);
/* The days of one tier, ascending (malloc'ed). */
int colog__tier_days(colog_store_t *st, colog_tier_t tier, int32_t **days, size_t *n);
/* Finish what the last ledger entry started (writer lock held, at open). */
int colog__store_recover(colog_store_t *st);
/* Test hook for crash tests: true when COLOG_CRASH_AT names this point (and
 * its count); the caller then _exit()s as if killed. */
bool colog__crash_point(const char *name);
/* Bytes on disk of a directory tree (for reports). */
uint64_t colog__du(int dirfd, const char *name);

#endif /* COLOG_STORE_INT_H */
