/*
 * colog_storage.h — public header of the storage layer.
 *
 * The storage layer owns everything that lives on disk: the schema, the column
 * encodings, immutable parts, day partitions, dictionaries, manifests, merges and
 * the text readers that turn CSV / NDJSON into rows. The query layer and the CLI
 * use only what this header declares.
 *
 * Conventions (see ../shared/STYLE.md):
 *  - action functions return 0 or a negative COLOG_E* code; a failing function
 *    also records a message for colog_errmsg() (per thread), naming the file and
 *    the block or line where there is one;
 *  - constructors return a handle through an out-parameter written only on success;
 *  - every *_free / *_close accepts NULL.
 */
#ifndef COLOG_STORAGE_H
#define COLOG_STORAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* X(NAME, value, message). Values are below -1000 so that a negated errno
 * (which passes through unchanged: -ENOENT, -EIO, ...) never collides. */
#define COLOG_ERROR_LIST(X)                                                                        \
    X(COLOG_ENOMEM, -1001, "out of memory")                                                        \
    X(COLOG_EINVAL, -1002, "invalid argument")                                                     \
    X(COLOG_ENOTCOLOG, -1003, "not a colog file")                                                  \
    X(COLOG_EVERSION, -1004, "unsupported format version")                                         \
    X(COLOG_ECORRUPT, -1005, "corrupt data")                                                       \
    X(COLOG_ESCHEMA, -1006, "schema error")                                                        \
    X(COLOG_EPARSE, -1007, "parse error")                                                          \
    X(COLOG_ERANGE, -1008, "value out of range")                                                   \
    X(COLOG_ELIMIT, -1009, "limit exceeded")                                                       \
    X(COLOG_ESTALE, -1010, "part vanished during read")                                            \
    X(COLOG_EEXIST, -1011, "already exists")                                                       \
    X(COLOG_ENOTFOUND, -1012, "not found")                                                         \
    X(COLOG_EQUERY, -1013, "query error")                                                          \
    X(COLOG_EHELD, -1014, "day under a legal hold")

enum {
#define COLOG__ENUM(name, val, msg) name = val,
    COLOG_ERROR_LIST(COLOG__ENUM)
#undef COLOG__ENUM
};

/* Static text for a code (colog or negated errno). Never NULL. */
const char *colog_strerror(int code);
/* The enum name ("COLOG_ECORRUPT", "ENOENT", ...). Never NULL. */
const char *colog_errname(int code);
/* The detailed message of the last failure on this thread ("hot/2026-03-01/
 * p0000000000000007/dst_port.col: block 12: checksum mismatch"). Valid until the
 * next colog call on this thread that fails. Empty string if none. */
const char *colog_errmsg(void);
/* Record a detailed message and return code (for library-internal use and for
 * layers above storage). printf-style. */
int colog_seterr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- types */

/* Column types. These values are written to disk: frozen, never renumber. */
typedef enum colog_type {
    COLOG_T_TIME = 1, /* int64 microseconds since the Unix epoch, UTC */
    COLOG_T_IP = 2,   /* IPv6 address, 16 bytes network order; IPv4 as ::ffff:a.b.c.d */
    COLOG_T_U8 = 3,
    COLOG_T_U16 = 4,
    COLOG_T_U32 = 5,
    COLOG_T_U64 = 6,
    COLOG_T_I64 = 7,
    COLOG_T_F64 = 8,
    COLOG_T_STRING = 9,
} colog_type_t;

/* Name as written in schema files ("time", "ip", "u16", ...); NULL if unknown. */
const char *colog_type_name(colog_type_t t);
/* Parse a type name; 0 on success. */
int colog_type_parse(const char *name, colog_type_t *out);
/* True for types stored as dictionary codes (ip, string). */
static inline bool colog_type_is_dict(colog_type_t t)
{
    return t == COLOG_T_IP || t == COLOG_T_STRING;
}
/* True for types decoded as uint64_t (u8..u64). time and i64 decode as int64_t. */
static inline bool colog_type_is_unsigned(colog_type_t t)
{
    return t == COLOG_T_U8 || t == COLOG_T_U16 || t == COLOG_T_U32 || t == COLOG_T_U64;
}
/* Largest value of an unsigned type. */
uint64_t colog_type_umax(colog_type_t t);

typedef struct colog_ip {
    uint8_t b[16];
} colog_ip_t;

/* The value parsers (colog_type_parse, _ip_parse, _time_parse, _day_parse)
 * run once a field: they return a code (a NULL argument is COLOG_EPARSE or
 * COLOG_EINVAL like bad text) and set no colog_errmsg(); their callers name the
 * file, line and column. The formatters write "" for a NULL value and nothing
 * for a NULL buffer. */

/* Parse an IPv4 or IPv6 address (the whole of s[0..len)). 0 or COLOG_EPARSE. */
int colog_ip_parse(const char *s, size_t len, colog_ip_t *out);
/* Format into buf (>= 46 bytes): IPv4-mapped addresses print as dotted quads. */
void colog_ip_format(const colog_ip_t *ip, char *buf, size_t cap);
/* memcmp order: all IPv4 (::ffff:0:0/96) addresses sort together, by value. */
static inline int colog_ip_cmp(const colog_ip_t *a, const colog_ip_t *b)
{
    for (int i = 0; i < 16; i++)
        if (a->b[i] != b->b[i])
            return a->b[i] < b->b[i] ? -1 : 1;
    return 0;
}
static inline bool colog_ip_is_v4(const colog_ip_t *ip)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    for (int i = 0; i < 12; i++)
        if (ip->b[i] != pfx[i])
            return false;
    return true;
}

/* ---------------------------------------------------------------- time */

/* Parse a time as accepted in data and queries: RFC 3339
 * ("2026-03-01T12:00:00Z", "...T12:00:00.123456+02:00", space instead of T allowed),
 * or integer / fractional epoch seconds ("1772366400", "1772366400.5").
 * A date alone ("2026-03-01") is midnight at offset tz_off_s (seconds east of UTC).
 * 0 on success, COLOG_EPARSE or COLOG_ERANGE. */
int colog_time_parse(const char *s, size_t len, int32_t tz_off_s, int64_t *out_us);
/* RFC 3339 text of t (µs, UTC) at a fixed offset (seconds east), into buf (>= 40). */
void colog_time_format(int64_t t_us, int32_t off_s, char *buf, size_t cap);
/* Days since 1970-01-01 of a UTC µs time (floor division). */
static inline int32_t colog_day_of(int64_t t_us)
{
    int64_t d = t_us / 86400000000LL;
    if (t_us % 86400000000LL < 0)
        d--;
    return (int32_t)d;
}
/* "YYYY-MM-DD" of a day number into buf (>= 11). */
void colog_day_format(int32_t day, char *buf, size_t cap);
/* Parse "YYYY-MM-DD" into a day number. */
int colog_day_parse(const char *s, size_t len, int32_t *out);

/* ---------------------------------------------------------------- schema */

#define COLOG_MAX_COLS 64
#define COLOG_NAME_MAX 48

typedef struct colog_column {
    char name[COLOG_NAME_MAX]; /* [a-z_][a-z0-9_]*, NUL-terminated */
    colog_type_t type;
    bool indexed;
} colog_column_t;

typedef struct colog_schema {
    char name[COLOG_NAME_MAX]; /* "firewall", "web" or the file's base name */
    unsigned ncols;            /* 1..COLOG_MAX_COLS; column 0 is the event time */
    colog_column_t cols[COLOG_MAX_COLS];
} colog_schema_t;

/* A built-in schema by name ("firewall", "web"); NULL if none. */
const colog_schema_t *colog_schema_builtin(const char *name);
/* Parse schema text (`name type [indexed]` a line, `#` comments). On error the
 * message names `file:line:col`. fname is used in messages only. */
int colog_schema_parse(const char *text, size_t len, const char *fname, colog_schema_t *out);
/* Index of a column by name, or -1. */
int colog_schema_find(const colog_schema_t *s, const char *name, size_t len);

/* ---------------------------------------------------------------- dictionaries */

/* A sorted, duplicate-free dictionary of a part's string or ip column. Code i is
 * the i-th smallest value (bytewise for strings, colog_ip_cmp for ips), so a range
 * of values is a range of codes. */
typedef struct colog_dictview {
    colog_type_t type; /* COLOG_T_STRING or COLOG_T_IP */
    uint32_t n;
    const uint32_t *offs;  /* strings: n + 1 offsets into bytes */
    const char *bytes;     /* strings: entry i is bytes[offs[i] .. offs[i+1]) */
    const colog_ip_t *ips; /* ips: n entries */
} colog_dictview_t;

/* Binary search: code of the first entry >= key (n if none). */
uint32_t colog_dict_lower_str(const colog_dictview_t *d, const char *s, size_t len);
uint32_t colog_dict_lower_ip(const colog_dictview_t *d, const colog_ip_t *ip);

/* ---------------------------------------------------------------- blocks */

/* Rows per block (the last block of a column may hold fewer). */
#define COLOG_BLOCK_ROWS 65536u

/* Zone map of one block: min and max of the valid values, in the decoded domain
 * (int64 for time/i64, uint64 for u8..u64 and dictionary codes, double for f64).
 * nvalid == 0 means every value is absent and min/max are meaningless. */
typedef struct colog_zone {
    union {
        int64_t i;
        uint64_t u;
        double f;
    } min, max;
    uint32_t nrows;
    uint32_t nvalid;
} colog_zone_t;

/* A decoded block. Owned by the reader; valid until the next read of the same
 * column on the same part handle, or until the part is closed. */
typedef struct colog_block {
    colog_type_t type;
    uint32_t n;
    const uint8_t *valid; /* bitset, bit i set = value i present; NULL = all present */
    union {
        const int64_t *i64;   /* time, i64 */
        const uint64_t *u64;  /* u8..u64 */
        const double *f64;    /* f64 */
        const uint32_t *code; /* ip, string: code into the part's dictionary */
    } v;
} colog_block_t;

static inline bool colog_valid(const uint8_t *valid, uint32_t i)
{
    return valid == NULL || ((valid[i >> 3] >> (i & 7)) & 1);
}

/* ---------------------------------------------------------------- store */

typedef struct colog_store colog_store_t;

/* What happens to a day once every event in it is older than cold_days. */
enum { COLOG_AFTER_DELETE = 0, COLOG_AFTER_ARCHIVE = 1 };

typedef struct colog_config {
    uint32_t hot_days;        /* default 90: days kept in the hot tier (LZ4) */
    uint32_t cold_days;       /* default 400: total age at which a day leaves the store */
    char cold_dir[512];       /* "" = STORE/cold; may be another filesystem */
    uint32_t after_cold;      /* COLOG_AFTER_DELETE (default) or COLOG_AFTER_ARCHIVE */
    char archive_dir[512];    /* where retain writes day archives ("" = STORE/archive) */
    uint32_t cold_zstd_level; /* zstd level of cold parts (default 19) */
    char ledger_key[512];     /* "" = plain SHA-256 chain; else a key file: HMAC chain */
    char tz[64];              /* default time zone of queries ("" = UTC) */
} colog_config_t;

void colog_config_default(colog_config_t *c);

/* Create a new store directory (must not exist or be empty). */
int colog_store_create(const char *path, const colog_schema_t *schema, const colog_config_t *cfg);

enum {
    COLOG_OPEN_READ = 0,
    COLOG_OPEN_WRITE = 1, /* take the writer lock (waits for another writer) */
};
int colog_store_open(colog_store_t **out, const char *path, int flags);
void colog_store_close(colog_store_t *st);
const colog_schema_t *colog_store_schema(const colog_store_t *st);
const colog_config_t *colog_store_config(const colog_store_t *st);
const char *colog_store_path(const colog_store_t *st);

/* Change the tier policy of a store opened with COLOG_OPEN_WRITE (hot_days,
 * cold_days, after_cold, archive_dir, cold_zstd_level; cold_dir only while the
 * cold tier holds no day; the schema, tz and ledger key never change here).
 * Validates (cold_days >= hot_days >= 1) and rewrites colog.conf durably. */
int colog_store_set_config(colog_store_t *st, const colog_config_t *cfg);

/* The days that hold data in any tier, ascending (day numbers since the epoch).
 * *days is malloc'ed; the caller frees it. */
int colog_store_days(colog_store_t *st, int32_t **days, size_t *n);

/* Storage tiers. A day's parts may sit in both at once (late events for a cold
 * day land in hot until the next retain). */
typedef enum colog_tier { COLOG_TIER_HOT = 0, COLOG_TIER_COLD = 1 } colog_tier_t;
const char *colog_tier_name(colog_tier_t t); /* "hot", "cold" */

/* Called for each problem found by verify / archive checks: one line naming the
 * file (and block) and what is wrong. */
typedef void (*colog_problem_fn)(void *ctx, const char *msg);
/* Called while long work runs (what, done, total) when the caller asked. */
typedef void (*colog_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);

/* ---------------------------------------------------------------- parts (read) */

typedef struct colog_part colog_part_t;

uint64_t colog_part_id(const colog_part_t *p);
colog_tier_t colog_part_tier(const colog_part_t *p);
uint64_t colog_part_rows(const colog_part_t *p);
uint32_t colog_part_nblocks(const colog_part_t *p);
int64_t colog_part_ts_min(const colog_part_t *p);
int64_t colog_part_ts_max(const colog_part_t *p);
/* Bytes on disk of all the part's files. */
uint64_t colog_part_bytes(const colog_part_t *p);
/* Zone map of block b of column col (no decompression). */
int colog_part_zone(colog_part_t *p, unsigned col, uint32_t b, colog_zone_t *out);
/* The part's whole dictionary of a string/ip column, read and verified on first
 * use (thread-safe). Borrowed; valid while p is open. */
int colog_part_dict(colog_part_t *p, unsigned col, const colog_dictview_t **out);
/* Entries of that dictionary (0 for other columns), known without reading it. */
uint32_t colog_part_dict_size(const colog_part_t *p, unsigned col);
/* *pos = the code of the first entry >= the value (upper: > the value), or the
 * entry count: the value is *ip for an ip column, s[0..len) for a string one.
 * Reads at most one block of the dictionary file unless it was read whole.
 * Thread-safe. */
int colog_part_dict_bound(colog_part_t *p, unsigned col, const colog_ip_t *ip, const char *s,
                          size_t len, bool upper, uint32_t *pos);
/* Decode block b of column col. See colog_block_t for the lifetime. */
int colog_part_read(colog_part_t *p, unsigned col, uint32_t b, colog_block_t *out);

/* A consistent set of the live parts of one day: every row of the day exactly
 * once, even while a merge replaces parts. Column files of the columns in colmask
 * (bit i = column i; ~0 = all) are opened when the snapshot is taken, so the parts
 * stay readable if a merge deletes them afterwards. */
typedef struct colog_snap colog_snap_t;
int colog_snap_day(colog_store_t *st, int32_t day, uint64_t colmask, colog_snap_t **out);
/* The same, but a part that cannot be opened because it is damaged (corrupt or
 * unreadable manifest, dictionary, index or column file header) is left out and
 * reported through damaged(ctx, message) instead of failing the snapshot. */
typedef void (*colog_damaged_fn)(void *ctx, const char *msg);
int colog_snap_day_ex(colog_store_t *st, int32_t day, uint64_t colmask, colog_damaged_fn damaged,
                      void *ctx, colog_snap_t **out);
size_t colog_snap_nparts(const colog_snap_t *s);
colog_part_t *colog_snap_part(colog_snap_t *s, size_t i);
void colog_snap_free(colog_snap_t *s);

/* ---------------------------------------------------------------- parallel and batched reads */

/* Storage for one decoded block, owned by the caller (one per thread and column),
 * so that threads can read the same part at once. */
typedef struct colog_rbuf colog_rbuf_t;
colog_rbuf_t *colog_rbuf_new(void); /* NULL on ENOMEM */
void colog_rbuf_free(colog_rbuf_t *b);

/* An I/O queue for batched block reads: io_uring when the kernel allows it,
 * else pread (chosen at run time; COLOG_IO=pread in the environment forces it).
 * One per thread. */
typedef struct colog_ioq colog_ioq_t;
enum { COLOG_IO_AUTO = 0, COLOG_IO_URING = 1, COLOG_IO_PREAD = 2 };
/* depth: reads in flight (e.g. 32). COLOG_IO_URING fails if io_uring is unavailable. */
int colog_ioq_new(int mode, unsigned depth, colog_ioq_t **out);
void colog_ioq_free(colog_ioq_t *q);
/* "io_uring" or "pread". */
const char *colog_ioq_backend(const colog_ioq_t *q);

/* Decode block b of column col into buf (thread-safe on p; *out's arrays live in
 * buf until its next use). */
int colog_part_read_buf(colog_part_t *p, unsigned col, uint32_t b, colog_rbuf_t *buf,
                        colog_block_t *out);

typedef struct colog_blkreq {
    colog_part_t *p;
    unsigned col;
    uint32_t b;
    colog_rbuf_t *buf;
    colog_block_t *out;
} colog_blkreq_t;
/* Read and decode n blocks with their reads in flight together through q. */
int colog_part_read_many(colog_blkreq_t *reqs, size_t n, colog_ioq_t *q);

/* ---------------------------------------------------------------- parallel jobs */

/* Run job(ctx, i) for i = 0 .. n-1 on up to nthreads threads (this one
 * included), each thread taking the next i not yet taken. After the first job
 * that fails no more are started; that job's code is returned with its message.
 * The jobs must be independent (colog_par.c). */
int colog_parallel(unsigned nthreads, size_t n, int (*job)(void *ctx, size_t i), void *ctx);

/* ---------------------------------------------------------------- bitmap indexes */

/* Each indexed column of a part has a bitmap index: for each distinct key (the
 * dictionary code for ip/string columns, the value for integer columns; for i64
 * the value's bits, ordered as signed, and colog_part_index_lower takes
 * (uint64_t)value), the
 * Roaring bitmap of the row ids (0 .. rows-1 of the part) holding it. Absent
 * values are in no bitmap. The index is opened with the column (colmask). */
struct roaring_bitmap_s;
bool colog_part_indexed(const colog_part_t *p, unsigned col);
uint32_t colog_part_index_nkeys(const colog_part_t *p, unsigned col);
/* Decode every key of the index and its number of rows, once (thread-safe);
 * required before colog_part_index_key, _card and _lower. Opening a part reads
 * and verifies only the index's key table, not its decoded keys, so that a
 * point query costs a chunk of each part's index rather than all of it. */
int colog_part_index_load(colog_part_t *p, unsigned col);
/* Key i (ascending) and its number of rows; i < nkeys. */
uint64_t colog_part_index_key(const colog_part_t *p, unsigned col, uint32_t i);
uint64_t colog_part_index_card(const colog_part_t *p, unsigned col, uint32_t i);
/* First i with key(i) >= key (nkeys if none). */
uint32_t colog_part_index_lower(const colog_part_t *p, unsigned col, uint64_t key);
/* The keys in [lo, hi] (same key convention): positions [*i, *j) and their rows
 * in all. Loaded or not; decodes only the chunks it needs. Thread-safe. */
int colog_part_index_range(colog_part_t *p, unsigned col, uint64_t lo, uint64_t hi, uint32_t *i,
                           uint32_t *j, uint64_t *rows);
/* OR into dst the rows of keys [i, j). Reads and verifies those bitmaps only;
 * thread-safe. */
int colog_part_index_rows(colog_part_t *p, unsigned col, uint32_t i, uint32_t j,
                          struct roaring_bitmap_s *dst);

/* ---------------------------------------------------------------- ingest */

typedef enum colog_infmt {
    COLOG_IN_CSV = 1,
    COLOG_IN_NDJSON = 2,
} colog_infmt_t;

typedef struct colog_ingest colog_ingest_t;

/* Called for each rejected row: source name, 1-based line, 1-based column (0 if
 * unknown), reason. */
typedef void (*colog_reject_fn)(void *ctx, const char *src, uint64_t line, uint64_t col,
                                const char *reason);

/* Acknowledgement: the first `rows` data rows of the session's input are
 * handled for good. Rows are counted as colog_ingest_stats_t.rows_read counts
 * them (accepted and rejected alike), across every colog_ingest_file / _row /
 * _json / _reject call of the session, in call order; "handled for good" means
 * each accepted one is in a committed part (colog__pw_commit returned: renamed
 * into place and fsynced) and each rejected one was reported. There is no
 * write-ahead log: the count advances once per batch (opts.batch_rows, or a
 * flush), when the writer has committed the batch's parts, before its merges.
 * colog_ingest_file reads a pipe, socket or terminal as data arrives (through
 * its descriptor: nothing must have been read through f before), so a batch is
 * acknowledged once it is full, not once 4 MiB of input have come.
 *  - Thread: the session's writer thread, right after it commits a batch
 *    handed over (or the caller's thread inside a handover when no writer
 *    thread could be started); the last one comes from the caller's thread
 *    inside colog_ingest_flush / colog_ingest_finish, covering the batch they
 *    flush and the rows rejected since the last batch. Never two calls at once;
 *    the callback must not call into the session.
 *  - Counts only grow: each call passes a larger count than the one before.
 *  - After a failure that kills the session (a flush that failed before all of
 *    its parts were committed) no more calls come. A crash or such a failure
 *    may leave committed rows beyond the last count: a client that wants every
 *    row exactly once resends from the last count + 1 and skips the rows it
 *    finds already stored (an idempotency key in the data). */
typedef void (*colog_ack_fn)(void *ctx, uint64_t rows);

typedef struct colog_ingest_opts {
    size_t batch_rows;      /* rows buffered before a flush (default 1 << 20) */
    int64_t now_us;         /* wall clock for the "too far ahead" rule (0 = now) */
    colog_reject_fn reject; /* may be NULL */
    void *reject_ctx;
    bool no_auto_merge; /* don't merge days with many parts after a flush */
    colog_ack_fn ack;   /* may be NULL (see colog_ack_fn) */
    void *ack_ctx;
} colog_ingest_opts_t;

typedef struct colog_ingest_stats {
    uint64_t rows_read; /* data rows seen (good + rejected) */
    uint64_t rows_ok;   /* rows accepted (durable once colog_ingest_finish returns 0) */
    uint64_t rows_rejected;
    uint64_t parts_written;
} colog_ingest_stats_t;

/* Start an ingest session on a store opened with COLOG_OPEN_WRITE. */
int colog_ingest_begin(colog_store_t *st, const colog_ingest_opts_t *opts, colog_ingest_t **out);
/* Read all of f in the given format; src names it in rejects and errors. A bad
 * row is rejected (callback) and skipped; it is not an error. Errors are I/O or
 * a CSV header that names an unknown column. */
int colog_ingest_file(colog_ingest_t *ing, FILE *f, const char *src, colog_infmt_t fmt);
/* One row from a reader outside the library (log-format normalizers, the
 * network server): vals[i] (lens[i] bytes, UTF-8, no NUL needed; empty = absent)
 * is the text of schema column cols[i] (each column at most once), converted as
 * CSV fields are. Returns 1 if the row was accepted, 0 if it was rejected (bad
 * value, no time, too far ahead: reported through opts.reject with src and
 * line, column 0), or an error (I/O or memory; invalid arguments). Rows are
 * durable once colog_ingest_flush returns. */
int colog_ingest_row(colog_ingest_t *ing, const unsigned *cols, const char *const *vals,
                     const size_t *lens, unsigned n, const char *src, uint64_t line);
/* One NDJSON event (a JSON object, text[0..len), no newline) from a reader
 * outside the library, read as colog_ingest_file reads an NDJSON line; src and
 * line name it in rejects (the column of a reject is a byte column of text).
 * Returns 1 (accepted), 0 (rejected and reported) or an error, as
 * colog_ingest_row. The "1 day ahead" rule uses the clock as of the session's
 * last colog_ingest_row or colog_ingest_file call (none yet: no limit; a
 * colog_ingest_file of an empty input sets it). */
int colog_ingest_json(colog_ingest_t *ing, const char *text, size_t len, const char *src,
                      uint64_t line);
/* Report a row rejected by a reader outside the library: counted in
 * rows_rejected and passed to opts.reject. */
void colog_ingest_reject(colog_ingest_t *ing, const char *src, uint64_t line, uint64_t col,
                         const char *reason);
/* Flush what is buffered into parts (durable on return). */
int colog_ingest_flush(colog_ingest_t *ing);
/* Flush and free. stats may be NULL. ing is freed whatever the result. */
int colog_ingest_finish(colog_ingest_t *ing, colog_ingest_stats_t *stats);

/* ---------------------------------------------------------------- merge */

/* Merge the live parts of one day into one time-sorted part if it has more than
 * max_parts (0: merge whenever it has >= 2). *merged tells whether it did. */
int colog_store_merge_day(colog_store_t *st, int32_t day, unsigned max_parts, bool *merged);

#define COLOG_AUTO_MERGE_PARTS 4

/* ---------------------------------------------------------------- retention (colog_retain.c) */

/*
 * Age is counted from the wall clock (or opts.now_us), in whole UTC days: a day
 * D is "older than N days" when every event of it is, i.e. D + 1 + N <= now in
 * days. Such a day leaves hot when older than hot_days (its parts are merged
 * into one cold part, re-encoded with zstd), and leaves the store when older
 * than cold_days (archived to archive_dir first when after_cold is ARCHIVE),
 * unless a legal hold covers it. Each step is crash-safe and idempotent.
 */
enum {
    COLOG_RETAIN_MOVE = 1,    /* hot -> cold */
    COLOG_RETAIN_ARCHIVE = 2, /* archived, then removed */
    COLOG_RETAIN_DELETE = 3,  /* removed */
    COLOG_RETAIN_HELD = 4,    /* would have left the store; held */
};

typedef struct colog_retain_action {
    int kind; /* COLOG_RETAIN_* */
    int32_t day;
    uint64_t parts, rows;
    uint64_t bytes_before;  /* disk space used before (all tiers; allocated blocks, as du) */
    uint64_t bytes_after;   /* disk space used after (cold part written; 0 when removed) */
    char archive[PATH_MAX]; /* the archive file written (ARCHIVE) */
    bool held;              /* MOVE of a day older than cold_days: a hold kept it */
} colog_retain_action_t;

typedef struct colog_retain_opts {
    int64_t now_us;                                            /* 0 = wall clock */
    bool dry_run;                                              /* plan and report, change nothing */
    void (*action)(void *ctx, const colog_retain_action_t *a); /* after each (may be NULL) */
    colog_progress_fn progress;                                /* may be NULL */
    void *ctx;
} colog_retain_opts_t;

typedef struct colog_retain_stats {
    unsigned moved, archived, deleted;
    unsigned held; /* days a hold kept in the store (HELD, and MOVEs with held set) */
    uint64_t rows_moved, rows_removed;
    uint64_t bytes_freed; /* hot + removed bytes minus cold bytes written */
} colog_retain_stats_t;

/* Apply the tier policy (store open with COLOG_OPEN_WRITE). */
int colog_retain(colog_store_t *st, const colog_retain_opts_t *opts, colog_retain_stats_t *stats);

/* ---------------------------------------------------------------- legal holds (colog_hold.c) */

typedef struct colog_hold {
    uint64_t id;     /* 1, 2, ... never reused */
    int32_t from;    /* first held day */
    int32_t to;      /* last held day (inclusive) */
    int64_t created; /* µs */
    char reason[512];
} colog_hold_t;

/* Holds are entries of the ledger (hold-add / hold-remove); STORE/holds is a
 * readable copy rewritten after each change. add/remove need the writer lock. */
int colog_hold_add(colog_store_t *st, int32_t from, int32_t to, const char *reason,
                   uint64_t *id_out);
int colog_hold_remove(colog_store_t *st, uint64_t id, const char *reason);
/* The active holds (from the ledger), by id. *holds is malloc'ed. */
int colog_hold_list(colog_store_t *st, colog_hold_t **holds, size_t *n);
/* Whether an active hold covers day. */
int colog_hold_covers(colog_store_t *st, int32_t day, bool *held);

/* ---------------------------------------------------------------- archives (colog_archive.c) */

typedef struct colog_archive_info {
    int32_t day;
    uint64_t parts, rows, files;
    uint64_t bytes;       /* of the archive file */
    uint8_t sha256[32];   /* of the whole archive file */
    uint8_t index256[32]; /* of its index member */
    uint64_t added;       /* colog_restore: parts added (0: all were restored already) */
} colog_archive_info_t;

/* Write day's live parts (all tiers), their manifests and the day's ledger
 * entries into one tar file at out_path (written to a temp name, fsynced,
 * renamed). With remove, the day then leaves the store; a day a legal hold
 * covers is refused with COLOG_EHELD before anything is written. Ledger: "archive". */
int colog_archive_day(colog_store_t *st, int32_t day, const char *out_path, bool remove,
                      colog_archive_info_t *info);
/* Check an archive on its own: every member's SHA-256 against the index, every
 * part's files against its manifest, every ledger line's hash. Each problem goes
 * to problem(); returns COLOG_ECORRUPT if there was any. */
int colog_archive_verify(const char *path, colog_problem_fn problem, void *ctx,
                         colog_archive_info_t *info);
/* Bring an archived day back (refusing a damaged archive or another schema).
 * Parts get new ids; restoring twice adds nothing. Ledger: "commit op=restore". */
int colog_restore(colog_store_t *st, const char *path, colog_archive_info_t *info);

/* ---------------------------------------------------------------- ledger and verify */

/* The chain head: the last entry's sequence number and hash (64 hex + NUL). */
int colog_ledger_head(const char *store_path, uint64_t *seq, char hex[65]);
/* Create a random HMAC key file (mode 0600, 64 hex digits). */
int colog_ledger_keygen(const char *path);

typedef struct colog_verify_opts {
    bool one_day; /* only the parts of `day` (the chain is always checked) */
    int32_t day;
    const char *head;     /* NULL, or a head (64 hex) the chain must contain */
    const char *key_path; /* NULL: the store's configured key file, if any */
    colog_problem_fn problem;
    colog_progress_fn progress;
    void *ctx;
} colog_verify_opts_t;

typedef struct colog_verify_stats {
    uint64_t entries, parts, files, blocks, bytes, problems;
    bool head_found;
} colog_verify_stats_t;

/* Check every block checksum, every file against its manifest, the manifests
 * against the ledger (parts missing, unknown, swapped or altered), and the chain.
 * Takes no lock. 0 if everything is right; COLOG_ECORRUPT if problems were
 * reported; another code if the check itself could not run. */
int colog_verify_store(const char *store_path, const colog_verify_opts_t *opts,
                       colog_verify_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif /* COLOG_STORAGE_H */
