/*
 * colog_query.h — public header of the query layer.
 *
 * A query (docs/QUERY.md) is parsed against a store's schema into a checked
 * plan, then run over the store's parts and written in one output format.
 */
#ifndef COLOG_QUERY_H
#define COLOG_QUERY_H

#include "colog_storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- time zones */

/* A time zone: an IANA name resolved through the system tzdata, "UTC", or a
 * fixed offset "+09:00" / "-05:30". */
typedef struct colog_tz colog_tz_t;
/* NULL or "" means UTC. COLOG_EINVAL (with message) for an unknown zone. */
int colog_tz_open(const char *spec, colog_tz_t **out);
void colog_tz_free(colog_tz_t *tz);
/* A copy with an empty cache of its own, for another thread (a colog_tz_t is not
 * thread-safe: lookups fill its cache). */
int colog_tz_dup(const colog_tz_t *tz, colog_tz_t **out);
/* Offset east of UTC, in seconds, in effect at UTC time t_us. */
int32_t colog_tz_offset(colog_tz_t *tz, int64_t t_us);
/* UTC µs of a local wall-clock time (for a gap or overlap, the earlier offset). */
int64_t colog_tz_local_to_utc(colog_tz_t *tz, int y, int mo, int d, int h, int mi, int s);

/* ---------------------------------------------------------------- queries */

typedef struct colog_query colog_query_t;

/* A parse or semantic error: where in the text (byte offset, length) and why. */
typedef struct colog_qerr {
    uint32_t pos, len;
    char msg[512];
} colog_qerr_t;

/* The longest query text colog_query_parse takes, in bytes. */
#define COLOG_QUERY_TEXT_MAX (1u << 20)

/* Whether name[0..len) is a reserved word of the query language (where, by,
 * and, limit, ...), which a query could not use as a column name: `colog init`
 * refuses schemas that have one. The function names (count, sum, min, max, avg,
 * dcount, hour, dow, day, bin) are not reserved: they are names where no '('
 * follows. */
bool colog_query_reserved(const char *name, size_t len);

/* Parse text against schema. tz resolves dates and time keys (borrowed; must
 * outlive the query); now_us anchors `last N`. On COLOG_EQUERY, *err says where. */
int colog_query_parse(const char *text, const colog_schema_t *schema, colog_tz_t *tz,
                      int64_t now_us, colog_query_t **out, colog_qerr_t *err);
void colog_query_free(colog_query_t *q);

/* Print "colog: query error: MSG\n  TEXT\n  ^^^\n" to f (the caret under the
 * offending token). A text over 320 bytes is shown as a window of about 80
 * bytes either side of the error, with "... " / " ..." where it was cut. */
void colog_qerr_print(FILE *f, const char *text, const colog_qerr_t *err);

typedef enum colog_outfmt {
    COLOG_OUT_TABLE = 1,
    COLOG_OUT_CSV = 2,
    COLOG_OUT_JSON = 3,
    COLOG_OUT_NDJSON = 4,
} colog_outfmt_t;

typedef struct colog_run_opts {
    colog_outfmt_t format;
    FILE *out;
    unsigned threads; /* worker threads for stats queries; 0 = one per core */
    bool no_index;    /* ignore bitmap indexes (full scans; for checking them) */
    bool explain;     /* print what was pruned, used and read instead of the rows */
    size_t mem_mb;    /* memory the groups of a stats query may use; 0 = 4096 */
    int io_mode;      /* COLOG_IO_AUTO, COLOG_IO_URING or COLOG_IO_PREAD */
    /* Leave out damaged parts instead of failing: each part is checked (every
     * block of the columns the query reads, its dictionaries and the index
     * bitmaps it uses) before any of its rows is used, and each part left out is
     * named on `warn` (e.g. stderr). */
    bool skip_damaged;
    FILE *warn;
} colog_run_opts_t;

/* Execute q over st and write the result. Returns 0 or an error (the message in
 * colog_errmsg() names the file and block for corrupt data). */
int colog_query_run(colog_query_t *q, colog_store_t *st, const colog_run_opts_t *opts);

#ifdef __cplusplus
}
#endif
#endif /* COLOG_QUERY_H */
