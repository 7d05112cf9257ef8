/*
 * colog_ledger.h — This file is private to colog's storage layer.
 *
 * The ledger (STORE/ledger) is an append-only text file, one entry a line, each
 * entry hashing the previous one (SHA-256, or HMAC-SHA-256 with a key file).
 * docs/FORMAT.md "Ledger" is the authority on the bytes. In short:
 *
 *   SEQ TIME KIND key=value ... prev=HEX64 hash=HEX64\n
 *
 * SEQ counts from 0; TIME is µs since the epoch; values are percent-encoded
 * (colog__lenc); hash = SHA-256 (or HMAC-SHA-256(key)) of the line's bytes from
 * its start up to and including "prev=HEX64"; prev is the previous entry's hash
 * (64 zeros for entry 0). Entry 0 is "genesis version=1 auth=sha256|hmac-sha256
 * keyid=HEX16|-" (keyid: first 8 bytes of SHA-256 of the key).
 *
 * Entry kinds written by the store (fields in this order):
 *   commit   op=ingest|merge|move|restore day=YYYY-MM-DD tier=hot|cold part=HEX16
 *            rows=N manifest=HEX64 sup=HEX16,HEX16,...|- [archive=HEX64 orig=HEX16]
 *            Written (fsynced) after the part is complete in its temp directory
 *            and before the rename that publishes it. The parts of the same day
 *            listed in sup (any tier) are gone from then on.
 *   abort    of=SEQ            the commit SEQ never happened (recovery found only
 *                              its temp directory)
 *   delete   day=D why=retain|archive|restore-undo rows=N parts=TIER:HEX16,...|-
 *                              written before the day's directories are removed
 *   archive  day=D file=NAME sha256=HEX64 index=HEX64 parts=N rows=N
 *   hold-add id=N from=D to=D reason=TEXT
 *   hold-remove id=N reason=TEXT
 */
#ifndef COLOG_LEDGER_H
#define COLOG_LEDGER_H

#include "colog_storage.h"

#define COLOG_LEDGER_FILE "ledger"
#define COLOG_LEDGER_LINE_MAX 65536 /* longer lines are corrupt */

/* ---------------------------------------------------------------- keys */

/* Read a key file (64 hex digits, optional trailing newline) into key[32]. */
int colog__ledger_key_load(const char *path, uint8_t key[32]);

/* ---------------------------------------------------------------- writing */

typedef struct colog_ledger colog_ledger_t;

/* Open dirfd/ledger for appending (the caller holds the store's writer lock).
 * Creates it with a genesis entry when absent (keyed when key != NULL). A last
 * line without its newline (a torn append) is cut off durably. Fails clearly if
 * the ledger is keyed and key is NULL or another key ("ledger is keyed
 * (hmac-sha256, key id ...): ..."), or unkeyed and a key is given, or if its
 * first or last entry does not check out (only those two lines are read).
 * display names the file in messages. */
int colog__ledger_open(int dirfd, const char *display, const uint8_t *key, colog_ledger_t **out);
/* Append "SEQ TIME KIND FIELDS prev=.. hash=..\n" and fdatasync before
 * returning. fields: "k=v k=v" with values already encoded (colog__lenc); may be
 * "". time_us 0 = now. Thread-safe. *seq_out may be NULL. */
int colog__ledger_append(colog_ledger_t *l, const char *kind, const char *fields, int64_t time_us,
                         uint64_t *seq_out);
/* The last entry: its line (without the newline, NUL-terminated, borrowed until
 * the next append), sequence number and hash. */
const char *colog__ledger_last(const colog_ledger_t *l, uint64_t *seq, uint8_t hash[32]);
/* Whether an append failed after its line may have reached the file (its
 * fdatasync, or cutting back a failed write, failed): the entry may be the
 * file's last one, and the handle refuses further appends. */
bool colog__ledger_broken(colog_ledger_t *l);
void colog__ledger_close(colog_ledger_t *l);

/* Percent-encode s for a field value: bytes outside 0x21..0x7e, '%' and '~'
 * become %XX (uppercase hex); the empty string is written "~". Returns the
 * length written (out is NUL-terminated), or COLOG_ELIMIT if cap is too small. */
int colog__lenc(const char *s, char *out, size_t cap);
/* Decode a field value (inverse of colog__lenc) into out, NUL-terminated (so
 * cap >= length + 1). Only the canonical encoding decodes (uppercase %XX, only
 * for bytes that need it, never %00; "~" alone). Returns the length or
 * COLOG_EPARSE / COLOG_ELIMIT. */
int colog__ldec(const char *s, size_t len, char *out, size_t cap);

/* ---------------------------------------------------------------- reading */

typedef struct colog_lentry {
    uint64_t seq;
    int64_t time_us;
    char kind[16];
    const char *line; /* the whole line, without '\n' (into the view's buffer) */
    size_t len;
    uint8_t prev[32];
    uint8_t hash[32];
} colog_lentry_t;

typedef struct colog_lview {
    uint8_t *buf; /* the file */
    size_t len;
    colog_lentry_t *e;
    size_t n;
    bool keyed;        /* genesis says hmac-sha256 */
    bool macs_checked; /* false when keyed and no key (or a key of another id) was given */
    uint8_t keyid[8];
} colog_lview_t;

/* Read dirfd/ledger and check it: line syntax, SEQ contiguous from 0, each prev
 * equal to the previous hash, each hash (when computable: unkeyed, or keyed with
 * the right key). Each problem goes to problem(ctx, "DISPLAY: line L: ...") and
 * counts in *nproblems; entries after a broken line are still parsed when
 * possible. A missing file is an empty view (n = 0), not an error. Returns 0
 * unless the file cannot be read or memory runs out. */
int colog__ledger_load(int dirfd, const char *display, const uint8_t *key, colog_problem_fn problem,
                       void *ctx, colog_lview_t **out, uint64_t *nproblems);
void colog__lview_free(colog_lview_t *v);

/* The decoded value of field `key` of a line (fields are the "k=v" words
 * between KIND and prev=), NUL-terminated in out. Returns its length, -ENOENT
 * if absent, COLOG_ELIMIT if cap is too small, COLOG_EPARSE if badly encoded. */
int colog__lfield(const char *line, size_t len, const char *key, char *out, size_t cap);

/* Whether a line's hash field is right: hash is the line's "hash=" value, key
 * NULL for a plain SHA-256 chain. The one place the hash rule lives (verify and
 * archive checks call it). line is the whole line without its newline. */
bool colog__lline_hash_ok(const char *line, size_t len, const uint8_t *key, const uint8_t hash[32]);

/* ---------------------------------------------------------------- replay */

typedef struct colog_lpart {
    int32_t day;
    uint64_t id;
    colog_tier_t tier;
    uint64_t rows;
    uint8_t manifest[32]; /* SHA-256 of the part's manifest file */
    uint64_t seq;         /* of its commit entry */
    uint8_t archive[32];  /* restore: SHA-256 of the source archive (else zeros) */
    uint64_t orig;        /* restore: the part's id in the archive (else 0) */
} colog_lpart_t;

typedef struct colog_lstate {
    colog_lpart_t *parts; /* live parts, sorted by (day, id) */
    size_t nparts;
    colog_hold_t *holds; /* active holds, by id */
    size_t nholds;
    uint64_t next_hold_id; /* 1 + the largest id ever added */
} colog_lstate_t;

/* Replay entries 0..n-1 of v into the expected state of the store: commit adds
 * its part and drops its sup ids of the same day (any tier); abort undoes the
 * named commit; delete drops the listed parts; hold-add / hold-remove. An entry
 * that makes no sense (a delete of an unknown part, a remove of an unknown hold,
 * a malformed field) is reported through problem() and skipped. */
int colog__ledger_replay(const colog_lview_t *v, colog_problem_fn problem, void *ctx,
                         colog_lstate_t *out, uint64_t *nproblems);
void colog__lstate_clear(colog_lstate_t *s);
/* Find a live part in a replayed state; NULL if none. */
const colog_lpart_t *colog__lstate_find(const colog_lstate_t *s, int32_t day, uint64_t id);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void colog__hex(const uint8_t *b, size_t n, char *out);
/* Parse exactly 2n hex digits. 0 or COLOG_EPARSE. */
int colog__unhex(const char *s, size_t slen, uint8_t *b, size_t n);

#endif /* COLOG_LEDGER_H */
