/*
 * serve.h — This file is private to `colog serve` (cmd_serve.c, serve.c,
 * serve_http.c).
 *
 * The pieces and who owns what:
 *  - cmd_serve.c parses the options, reads the token file, blocks SIGTERM and
 *    SIGINT in every thread (they are read from a signalfd) and calls serve_run.
 *  - serve.c is the ingest thread (the thread that calls serve_run): it owns the
 *    store (opened for writing: the writer lock is held while serving), the one
 *    ingest session and its normalizer session, the TCP listeners and
 *    connections (one epoll loop), and the queue of HTTP ingest jobs. Nothing
 *    else touches the session.
 *  - serve_http.c runs libmicrohttpd on its own threads. A POST /ingest body is
 *    read into memory, handed to the ingest thread as a serve_job_t, and the
 *    connection is suspended until the job's rows are durable; GET /query opens
 *    the store for reading on the HTTP thread and answers there.
 */
#ifndef COLOG_SERVE_H
#define COLOG_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "colog_query.h"
#include "colog_storage.h"

#define SERVE_MAX_MESSAGE_DEFAULT 65536
#define SERVE_MAX_CONNS_DEFAULT 1024
#define SERVE_MAX_BODY_DEFAULT ((size_t)64 << 20)
#define SERVE_MAX_RESULT ((size_t)64 << 20) /* bytes of one /query answer */
#define SERVE_FLUSH_MS 800          /* a flush starts at most this long after a row arrives */
#define SERVE_DRAIN_MS_DEFAULT 5000 /* shutdown: longest time spent reading clients */
#define SERVE_MERGE_CHECK_S 10.0    /* how often the merge policy looks at recent days */
#define SERVE_MERGE_PARTS 256       /* a recent day with more parts is merged anyway */
#define SERVE_QUIET_MS 250          /* shutdown: a client silent this long is done */
#define SERVE_BAD_MAX 1000          /* bad rows listed in one /ingest answer */
#define SERVE_MAX_LISTEN 16         /* --listen / --http options */

typedef struct serve_opts {
    const char *store;
    const char *listen[SERVE_MAX_LISTEN]; /* TCP syslog addresses ("ADDR:PORT", ":PORT") */
    unsigned nlisten;
    const char *http[SERVE_MAX_LISTEN]; /* HTTP addresses */
    unsigned nhttp;
    const char *token; /* HTTP shared secret, or NULL for none (borrowed) */
    FILE *rejects;     /* --rejects file, or NULL: stderr, rate-limited (borrowed) */
    const char *rejects_path;
    size_t max_message; /* longest TCP message / HTTP line, bytes */
    unsigned max_conns; /* TCP connections at once; also per HTTP address */
    size_t max_body;    /* longest POST /ingest body */
    unsigned drain_ms;  /* shutdown: time allowed to read what clients sent */
    unsigned http_threads;
    int sigfd; /* signalfd reporting SIGTERM / SIGINT */
} serve_opts_t;

typedef struct serve_stats {
    bool served;             /* the listeners were up (else nothing to report) */
    uint64_t conns, refused; /* TCP connections accepted, refused (over --max-conns) */
    uint64_t messages;       /* TCP messages, HTTP body lines / CSV records */
    uint64_t bytes;          /* TCP bytes read */
    uint64_t oversize;       /* messages over --max-message (also in rows_rejected) */
    uint64_t truncated;      /* partial messages dropped when a connection was cut */
    uint64_t http_requests;  /* POST /ingest requests handled */
    uint64_t rows_ok, rows_rejected, skipped, parts;
} serve_stats_t;

/* Serve until SIGTERM/SIGINT arrives on o->sigfd (or a fatal store error); fill
 * *stats; return the exit status (0, 1 runtime failure, 2 usage error such as an
 * address that cannot be bound). */
int serve_run(const serve_opts_t *o, serve_stats_t *stats);

/* ---------------------------------------------------------------- listening sockets (serve.c) */

/* Bind and listen on spec ("127.0.0.1:514", "[::1]:514", "::1:514",
 * "0.0.0.0:514", "host:514", or ":514" for 127.0.0.1 and ::1), non-blocking,
 * close-on-exec. Writes up to cap descriptors to fds and their count to *n.
 * 0, or -1 with a message in err[0..errcap). */
int serve_listen(const char *spec, int *fds, unsigned cap, unsigned *n, char *err, size_t errcap);
/* "127.0.0.1:514" / "[::1]:514" of a socket address into buf. */
void serve_addr_format(const void *sa, char *buf, size_t cap);

/* ---------------------------------------------------------------- HTTP ingest jobs */

enum { SERVE_BODY_LINES = 1, SERVE_BODY_CSV = 2 };

typedef struct serve_bad {
    uint64_t line, col;
    char *why; /* malloc'ed */
} serve_bad_t;

/* A POST /ingest body on its way through the ingest thread. The HTTP side owns
 * the job and its body; the ingest thread reads body and writes the results,
 * then calls done(job) (on the ingest thread) as its last touch of the job. */
typedef struct serve_job {
    struct serve_job *next;
    /* in */
    char *body; /* len bytes, writable (CSV fields are unescaped in place) */
    size_t len;
    int kind; /* SERVE_BODY_LINES (NDJSON objects or syslog lines) or SERVE_BODY_CSV */
    char src[80];
    /* out */
    uint64_t records, rows, rejected, skipped;
    serve_bad_t *bad; /* the first SERVE_BAD_MAX rejected rows, in order */
    size_t nbad, capbad;
    int error;        /* 0; or the body could not be read at all (EPARSE/ESCHEMA:
                       * nothing stored), the server is closing (ECANCELED), or
                       * the store failed (other codes) */
    char errmsg[512]; /* when error != 0 */
    bool durable;     /* the accepted rows are committed */
    void (*done)(struct serve_job *job);
    void *ctx; /* the HTTP side's */
} serve_job_t;

typedef struct serve serve_t;

/* Queue job for the ingest thread. false (job untouched) when the server no
 * longer takes jobs (shutting down). Any thread. */
bool serve_submit(serve_t *s, serve_job_t *job);
/* Free what the ingest thread put in job (the bad-row list). */
void serve_job_clear(serve_job_t *job);

/* ---------------------------------------------------------------- CSV bodies (serve_http.c) */

#define SERVE_CSV_FIELDS (COLOG_MAX_COLS + 1)

/* One CSV record (RFC 4180): fields[0..nf) (at most SERVE_CSV_FIELDS are kept;
 * nf counts them all), each with the line and column it starts at. */
typedef struct serve_csvrec {
    uint32_t nf;
    const char *p[SERVE_CSV_FIELDS];
    size_t len[SERVE_CSV_FIELDS];
    uint64_t line[SERVE_CSV_FIELDS];
    uint32_t col[SERVE_CSV_FIELDS];
    uint64_t first_line; /* line of the record's first byte */
    const char *err;     /* static reason if malformed (the record still ends where it should) */
    uint64_t err_line;
    uint32_t err_col;
} serve_csvrec_t;

/* Parse the record at *pp (up to end), skipping empty lines; *line is the
 * 1-based line number at *pp and is advanced. Quoted fields are unescaped in
 * place. Returns true with *rec filled and *pp past the record's line ending,
 * false at the end of the input. */
bool serve_csv_next(char **pp, char *end, uint64_t *line, serve_csvrec_t *rec);

/* Which body kind a Content-Type names (parameters ignored), or 0 if it names
 * none; for 0 the body is sniffed with serve_body_sniff. */
int serve_body_kind(const char *content_type);
/* SERVE_BODY_CSV if the first non-empty line is a CSV header naming only
 * columns of schema, else SERVE_BODY_LINES. */
int serve_body_sniff(const char *body, size_t len, const colog_schema_t *schema);

/* ---------------------------------------------------------------- the HTTP side (serve_http.c) */

typedef struct serve_http serve_http_t;

typedef struct serve_http_cfg {
    serve_t *serve;
    const char *store; /* path, opened for reading by each query */
    const colog_schema_t *schema;
    const char *tz; /* the store's zone ("" = UTC) */
    const char *token;
    size_t max_body;
    unsigned max_conns, threads;
} serve_http_cfg_t;

/* Start libmicrohttpd on the listening socket fd (taken over: closed by
 * serve_http_stop). 0, or -1 with a message on stderr. */
int serve_http_start(const serve_http_cfg_t *cfg, int fd, serve_http_t **out);
/* Stop accepting connections; requests in progress go on. */
void serve_http_quiesce(serve_http_t *h);
/* Requests begun and not yet answered. */
unsigned serve_http_busy(serve_http_t *h);
/* Stop the daemon (every job handed to the ingest thread must be done) and
 * free h. NULL does nothing. */
void serve_http_stop(serve_http_t *h);

#endif /* COLOG_SERVE_H */
