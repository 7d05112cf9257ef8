/*
 * colog_ingest_int.h — This file is private to colog's storage layer.
 *
 * The ingest path in pieces, so that each can be driven and tested alone:
 *
 *   reader (colog_csv.c, colog_ndjson.c)        turns bytes into records, and
 *     │                                          records into rows of field text
 *     ▼
 *   row assembly (colog_ingest.c, colog__row_*)  converts each field to its
 *     │                                          column's type into the batch
 *     ▼
 *   flush (colog_ingest.c)                       sorts the batch by time, splits it
 *     │                                          by UTC day, builds each day's
 *     ▼                                          dictionaries, writes one part a day
 *   part sink (colog_partsink_t)                 colog__pw_* for a real store; a
 *                                                test may plug in its own
 *
 * Nothing here is stable API: the CLI and the query layer use colog_storage.h.
 */
#ifndef COLOG_INGEST_INT_H
#define COLOG_INGEST_INT_H

#include "colog_storage_int.h"

/* ---------------------------------------------------------------- schema text (colog_schema.c) */

/* Room for the canonical text of any schema: COLOG_MAX_COLS lines of at most
 * "name(47) string indexed\n". */
#define COLOG_SCHEMA_TEXT_MAX 4096

/* Write the canonical text of s into buf: one "name type[ indexed]\n" line per
 * column, in column order, nothing else (no comments, no schema name), so equal
 * schemas have byte-equal texts (hash it for colog_manifest_t.schema_sha256).
 * colog_schema_parse() of the text gives s back (except s->name).
 * Returns the text length (>= 0, without the NUL that follows it), or
 * COLOG_ELIMIT if cap is too small (cap >= COLOG_SCHEMA_TEXT_MAX always fits). */
int colog_schema_format(const colog_schema_t *s, char *buf, size_t cap);

/* ---------------------------------------------------------------- limits */

/* Longest CSV record or NDJSON line, in bytes, without its line ending. A longer
 * one is rejected and skipped up to the next newline. */
#define COLOG_RECORD_MAX 65536u

/* Bytes of the CSV and NDJSON readers' input buffer. A build may define it
 * smaller (the fuzz targets use 96 KiB: crossing buffer boundaries often, and
 * sanitizers handle a small buffer without mapping memory for every input); it
 * must hold a whole record and its line ending with room to spare. */
#ifndef COLOG_READ_BUF
#define COLOG_READ_BUF ((size_t)4 << 20)
#endif
_Static_assert(COLOG_READ_BUF >= (size_t)COLOG_RECORD_MAX + 4096,
               "COLOG_READ_BUF must hold a record of COLOG_RECORD_MAX bytes");

/* Longest piece of a bad value quoted in a reject reason (then "..."). */
#define COLOG_SHOW_MAX 64u

/* ---------------------------------------------------------------- values (colog_ingest.c) */

/* A converted value, as the batch holds it. */
typedef struct colog_value {
    union {
        int64_t i;     /* time (µs), i64 */
        uint64_t u;    /* u8..u64 */
        double f;      /* f64 */
        colog_ip_t ip; /* ip */
        struct {
            const char *p;
            size_t len;
        } s; /* string: borrowed (see the function that filled it) */
    };
} colog_value_t;

/* Convert field text s[0..len) to a value of type t. Rules: integers are decimal
 * with an optional '-' (strict: no '+', no spaces, no fraction), range-checked for
 * the type; f64 is a finite decimal number (strtod syntax restricted to
 * [0-9.eE+-], so no "nan", "inf" or hex); time is RFC 3339 or epoch seconds, and a
 * time without a zone is UTC; ip is IPv4 or IPv6; string is the text itself
 * (out->s borrows s; the text must already be valid UTF-8).
 * Returns 0, COLOG_EPARSE ("'abc' is not a valid u16") or COLOG_ERANGE ("70000
 * out of range for u16"), writing that reason (without the column name) into
 * why[0..cap). Sets no colog_errmsg(): a bad value is a reject, not an error. */
int colog__value_parse(colog_type_t t, const char *s, size_t len, colog_value_t *out, char *why,
                       size_t cap);

/* Append s[0..len) to dst[0..cap) made printable and bounded: at most
 * COLOG_SHOW_MAX bytes of it, cut at a UTF-8 boundary, control bytes and
 * backslash as \xNN, then "..." if cut. Always NUL-terminates (cap > 0). */
void colog__show(char *dst, size_t cap, const char *s, size_t len);

/* ---------------------------------------------------------------- part sink */

/*
 * Where a flush writes its parts. For each UTC day of the batch, in ascending
 * order: open(day, nrows); the columns; then commit. abort is called instead of
 * the remaining calls if any of them fails. After all the days are committed,
 * merge(day, COLOG_MERGE_BACKLOG) once for each of them, and when the session
 * finishes merge(day, COLOG_AUTO_MERGE_PARTS) once for every day it wrote (unless
 * opts.no_auto_merge, or merge is NULL): a long ingest rewrites each day once at
 * the end instead of after every batch, while the backlog bounds the parts a day
 * holds meanwhile.
 *
 * The columns go one of two ways. Without col_open: for each column in schema
 * order col_begin (dict: sorted, duplicate-free, borrowed for the call only),
 * col_append* (chunks of at most COLOG_BLOCK_ROWS values, encoded as for
 * colog__colw_append; vals and valid borrowed for the call only), col_end. With
 * col_open (then col_write, col_close and col_abort too): each column, in any
 * order, is col_open (dict as above; a handle in *h), col_write* (as col_append),
 * then col_close, or col_abort after a failure; the handles of different columns
 * are used from two threads at once (colog_part.c invariant 5). open, commit,
 * abort and merge are called from one thread at a time, never while a column is
 * being written, and not necessarily from the caller's thread: the session's
 * writer thread makes most of the calls.
 * Every function returns 0 or a negative code (with colog_seterr).
 */
/* Parts a day may collect during a long ingest before it is merged anyway. */
#define COLOG_MERGE_BACKLOG 16

typedef struct colog_partsink {
    int (*open)(void *ctx, int32_t day, uint64_t nrows);
    int (*col_begin)(void *ctx, unsigned col, const colog_dictview_t *dict);
    int (*col_append)(void *ctx, const void *vals, const uint8_t *valid, uint32_t n);
    int (*col_end)(void *ctx);
    int (*commit)(void *ctx, uint64_t *id_out);
    void (*abort)(void *ctx);
    int (*merge)(void *ctx, int32_t day, unsigned max_parts, bool *merged);
    /* optional: columns through handles, from two threads at once */
    int (*col_open)(void *ctx, unsigned col, const colog_dictview_t *dict, void **h);
    int (*col_write)(void *h, const void *vals, const uint8_t *valid, uint32_t n);
    int (*col_close)(void *h); /* frees h whatever the result */
    void (*col_abort)(void *h);
} colog_partsink_t;

/* ---------------------------------------------------------------- ingest session (colog_ingest.c)
 */

/* Memory bounds of a batch: the row arrays (time, numbers, codes, valid bits) are
 * capped at COLOG_INGEST_ARRAY_MAX bytes, which lowers the effective batch_rows
 * of wide schemas; the string bytes and the intern tables each trigger a flush
 * when they pass their bound. A session holds two batches (one filled while the
 * other is written); with the flush's scratch (sort keys, the day dictionaries
 * of the two threads writing columns) and the part writer's buffers, ingest
 * peaks well under 512 MB whatever the input (~310 MB measured at worst, on
 * distinct long strings). The merges at the end are colog_merge.c's, whose
 * memory grows with the rows of the day merged. */
#define COLOG_INGEST_ARRAY_MAX (96u << 20)
#define COLOG_INGEST_ARENA_MAX (32u << 20)
#define COLOG_INGEST_TABLE_MAX (48u << 20)

/* An ingest session that writes through sink (ctx is passed to it) instead of a
 * store. colog_ingest_begin() is this with the colog__pw_* sink. schema is
 * copied. opts may be NULL (defaults). Free with colog_ingest_finish().
 * A session is used from one thread (the caller's); it starts a writer thread of
 * its own at its first handover, which makes the sink calls (see above). */
int colog__ingest_new(const colog_schema_t *schema, const colog_ingest_opts_t *opts,
                      const colog_partsink_t *sink, void *ctx, colog_ingest_t **out);

const colog_schema_t *colog__ingest_schema(const colog_ingest_t *ing);

/* Report a rejected row: counts it and calls opts.reject. printf-style reason. */
void colog__ingest_reject(colog_ingest_t *ing, const char *src, uint64_t line, uint64_t col,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Row assembly, used by the readers. A row is begin, then any put_* (each column
 * at most once; a column never put is absent), then end. A put that fails leaves
 * a reason in colog__ingest_why() ("dst_port: 70000 out of range for u16"): the
 * reader reports it with its position and drops the row (simply by not calling
 * end; the next begin starts afresh).
 */
/* 0 or COLOG_ENOMEM (growing the batch). */
int colog__row_begin(colog_ingest_t *ing);
/* Field text. Empty text is an absent value. 0, COLOG_EPARSE or COLOG_ERANGE.
 * The text of an ip or string column is looked up at colog__row_end: s must
 * stay valid (unchanged) until then. */
int colog__row_put_text(colog_ingest_t *ing, unsigned col, const char *s, size_t len);
/* A JSON integer / real. time takes epoch seconds; integer columns take a real
 * only if it is integral; ip and string columns take no numbers. */
int colog__row_put_int(colog_ingest_t *ing, unsigned col, int64_t v);
int colog__row_put_real(colog_ingest_t *ing, unsigned col, double v);
/* Accept the row (0) or reject it for lack of a time (COLOG_EPARSE, reason in
 * colog__ingest_why()); or fail (COLOG_ENOMEM, COLOG_ELIMIT: too many distinct
 * values, with colog_seterr), dropping the row. Never flushes: the reader calls
 * colog__ingest_submit() when colog__ingest_full() says so. */
int colog__row_end(colog_ingest_t *ing);
/* The reason of the last failed put or end; valid until the next row call. */
const char *colog__ingest_why(const colog_ingest_t *ing);
/* True when the batch should be flushed before the next row. */
bool colog__ingest_full(const colog_ingest_t *ing);
/* Hand the batch (if not empty) to the writer thread and go on with an empty
 * one; blocks (helping the writer) only while the writer still has the previous
 * batch. 0; a failure to sort the batch (it is kept, a retry may work); the
 * error of a failed flush (the session is dead: invariant 6 of colog_ingest.c);
 * or the error of a backlog merge of the previous batch (its parts are
 * committed), reported once. colog_ingest_flush() is this, then a wait until
 * everything handed over is written. */
int colog__ingest_submit(colog_ingest_t *ing);

/* Before a row from outside a reader (colog_ingest_row, colog_ingest_json):
 * fail if the session is dead, set the "1 day ahead" limit from the clock, and
 * hand over a full batch. 0 or the session's error. */
int colog__ingest_prepare(colog_ingest_t *ing);

/* Inspecting the batch being filled (tests): rows accepted since the last
 * handover, in input order, and the value of one of them. false = absent.
 * Strings borrow the batch and stay valid until the next row call or flush. */
size_t colog__ingest_nrows(const colog_ingest_t *ing);
bool colog__ingest_value(const colog_ingest_t *ing, size_t row, unsigned col, colog_value_t *out);

/* ---------------------------------------------------------------- CSV reader (colog_csv.c) */

/* One field of a record. p is borrowed: valid until the next colog__csv_next. */
typedef struct colog_field {
    const char *p; /* content: unquoted and "" unescaped; not NUL-terminated */
    uint32_t len;
    uint32_t col;   /* 1-based byte column of the field's first byte (its opening quote) */
    uint32_t dline; /* lines between the record's first line and the field's */
} colog_field_t;

typedef struct colog_csvrec {
    uint64_t line; /* 1-based line of the record's first byte */
    uint32_t nfields;
    const colog_field_t *fields;
    uint32_t end_col;   /* column just after the record's last byte, on its last line */
    uint32_t end_dline; /* lines between the first and the last line of the record */
    /* A malformed record: err says why (static text or the reader's buffer),
     * at err_line / err_col (1-based) of the offending byte. fields are then
     * meaningless. */
    const char *err;
    uint64_t err_line;
    uint32_t err_col;
} colog_csvrec_t;

typedef struct colog_csv colog_csv_t;

/* A reader over f (not closed by the reader). src names f in messages. */
int colog__csv_open(colog_csv_t **out, FILE *f, const char *src);
/* Next record, skipping empty lines. 1 = a record (possibly malformed, see
 * err), 0 = end of input, < 0 = read error (colog_seterr). */
int colog__csv_next(colog_csv_t *r, colog_csvrec_t *rec);
void colog__csv_free(colog_csv_t *r);

/* Map a header record to schema columns: map[j] = column of field j. Errors
 * (COLOG_ESCHEMA, with "SRC:LINE:COL: why"): unknown or duplicate name, empty
 * name, no time column. */
int colog__csv_header(const colog_schema_t *s, const colog_csvrec_t *hdr, const char *src,
                      int *map);

/* Read all of f as CSV with a header into ing. See colog_ingest_file(). */
int colog__csv_ingest(colog_ingest_t *ing, FILE *f, const char *src);

/* ---------------------------------------------------------------- NDJSON reader (colog_ndjson.c)
 */

/* Read all of f as one JSON object a line into ing. See colog_ingest_file(). */
int colog__ndjson_ingest(colog_ingest_t *ing, FILE *f, const char *src);

/* ---------------------------------------------------------------- UTF-8 (colog_csv.c) */

/* Length of the valid UTF-8 sequence starting at p (1..4; shortest form, no
 * surrogates, <= U+10FFFF), 0 if invalid, -1 if it may be valid but runs into
 * end. p < end. */
int colog__utf8_seq(const uint8_t *p, const uint8_t *end);
/* Offset of the first byte of s[0..len) that is not valid UTF-8, or len. */
size_t colog__utf8_check(const char *s, size_t len);

#endif /* COLOG_INGEST_INT_H */
