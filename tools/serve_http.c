/*
 * serve_http.c — the HTTP side of `colog serve`, on libmicrohttpd (its own
 * threads: an epoll thread pool), and the CSV body reader.
 *
 *   POST /ingest   body: NDJSON objects and/or syslog lines (application/x-ndjson,
 *                  application/json, text/plain), or CSV with a header row
 *                  (text/csv); any other or no Content-Type is sniffed. Answers
 *                  once the accepted rows are committed: 200 and a JSON summary,
 *                  or 422 listing the rejected rows (line, column, reason) —
 *                  the good rows of that request are stored all the same, as
 *                  `colog ingest` keeps them — or 400 when the body cannot be
 *                  read at all (a CSV header naming an unknown column: nothing
 *                  is stored), 413 over --max-body, 503 while shutting down.
 *   GET /query?q=QUERY[&tz=ZONE]   the result as JSON (COLOG_OUT_JSON); 400
 *                  with the message for a query error.
 * With a token, every request needs "Authorization: Bearer TOKEN" (401
 * otherwise); the token is compared as BLAKE2b hashes with sodium_memcmp, so
 * the time taken says nothing about it, not even its length.
 *
 * Invariants:
 *  1. A request's req_t lives from the first call of the access handler to the
 *     completion callback, which frees it; busy counts the req_t alive.
 *  2. A POST /ingest connection is suspended exactly while its job is queued or
 *     running on the ingest thread; job_done (the ingest thread's last touch of
 *     the job) resumes it, and the handler, called again, answers.
 *  3. A body is held whole in memory, at most max_body bytes; past that the
 *     rest is read and dropped and the answer is 413. The bodies of all requests
 *     of a daemon together hold at most 4 * max_body bytes; a request that would
 *     pass that is answered 503 (retry later), so memory stays bounded whatever
 *     the number of clients.
 *  4. A query's answer is built in memory, at most SERVE_MAX_RESULT bytes: past
 *     that the query fails with a message asking for a narrower one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- libmicrohttpd, loaded on use
 *
 * libmicrohttpd is opened with dlopen when `colog serve --http` starts, not
 * linked: it brings GnuTLS and its dependencies, whose loading costs every colog
 * command about 2 ms at start-up (docs/BENCHMARKS.md). Every function used is
 * listed here; the names are redirected to the pointers, typed by microhttpd.h. */
#define MHD_SONAME "libmicrohttpd.so.12"
#define MHD_FUNCS(X)                                                                               \
    X(MHD_add_response_header)                                                                     \
    X(MHD_create_response_from_buffer)                                                             \
    X(MHD_destroy_response)                                                                        \
    X(MHD_get_connection_info)                                                                     \
    X(MHD_lookup_connection_value)                                                                 \
    X(MHD_queue_response)                                                                          \
    X(MHD_quiesce_daemon)                                                                          \
    X(MHD_resume_connection)                                                                       \
    X(MHD_start_daemon)                                                                            \
    X(MHD_stop_daemon)                                                                             \
    X(MHD_suspend_connection)

static struct {
#define MHD_PTR(f) __typeof__(&f) p_##f;
    MHD_FUNCS(MHD_PTR)
#undef MHD_PTR
} mhd;
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static bool mhd_ok;
static char mhd_err[512];

#define MHD_add_response_header mhd.p_MHD_add_response_header
#define MHD_create_response_from_buffer mhd.p_MHD_create_response_from_buffer
#define MHD_destroy_response mhd.p_MHD_destroy_response
#define MHD_get_connection_info mhd.p_MHD_get_connection_info
#define MHD_lookup_connection_value mhd.p_MHD_lookup_connection_value
#define MHD_queue_response mhd.p_MHD_queue_response
#define MHD_quiesce_daemon mhd.p_MHD_quiesce_daemon
#define MHD_resume_connection mhd.p_MHD_resume_connection
#define MHD_start_daemon mhd.p_MHD_start_daemon
#define MHD_stop_daemon mhd.p_MHD_stop_daemon
#define MHD_suspend_connection mhd.p_MHD_suspend_connection

static void mhd_open(void)
{
    void *h = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(mhd_err, sizeof mhd_err, "%s", dlerror());
        return;
    }
#define MHD_SYM(f)                                                                                 \
    if ((*(void **)&mhd.p_##f = dlsym(h, #f)) == NULL) {                                           \
        snprintf(mhd_err, sizeof mhd_err, "%s: no symbol %s", MHD_SONAME, #f);                     \
        return;                                                                                    \
    }
    MHD_FUNCS(MHD_SYM)
#undef MHD_SYM
    mhd_ok = true; /* the handle stays open for the life of the process */
}

#include "serve.h"

struct serve_http {
    struct MHD_Daemon *d;
    serve_http_cfg_t cfg;
    int fd; /* listening socket, ours again after quiesce */
    bool quiesced;
    bool has_token;
    unsigned char token_hash[crypto_generichash_BYTES];
    atomic_uint busy;
    atomic_size_t held; /* bytes of request bodies held (invariant 3) */
    size_t held_max;
};

enum { R_NONE = 0, R_INGEST };
enum { S_BODY = 0, S_QUEUED, S_DONE };

typedef struct req {
    serve_http_t *h;
    struct MHD_Connection *conn;
    int route;
    _Atomic int state;
    bool too_big, oom;
    char *body;
    size_t len, cap;
    serve_job_t job;
} req_t;

/* ---------------------------------------------------------------- JSON text */

/* s[0..n) as a JSON string: escapes, and U+FFFD for bytes that are not UTF-8. */
static void json_str(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc((int)c, f);
            i++;
        } else {
            size_t k = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            bool ok = k > 0 && i + k <= n;
            for (size_t j = 1; ok && j < k; j++)
                ok = (u[i + j] & 0xc0) == 0x80;
            if (ok && k == 3) /* no overlongs, no surrogates */
                ok = !(c == 0xe0 && u[i + 1] < 0xa0) && !(c == 0xed && u[i + 1] >= 0xa0);
            if (ok && k == 4)
                ok = !(c == 0xf0 && u[i + 1] < 0x90) && !(c == 0xf4 && u[i + 1] >= 0x90);
            if (ok) {
                fwrite(u + i, 1, k, f);
                i += k;
            } else {
                fputs("\\ufffd", f);
                i++;
            }
        }
    }
    fputc('"', f);
}

/* Queue a response with body[0..len) (malloc'ed; MHD frees it). */
static enum MHD_Result answer_buf(struct MHD_Connection *conn, unsigned status, char *body,
                                  size_t len, const char *ctype)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"colog\"");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, POST");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn, unsigned status, const char *fmt,
                                    ...) __attribute__((format(printf, 3, 4)));

/* {"error": "..."} */
static enum MHD_Result answer_error(struct MHD_Connection *conn, unsigned status, const char *fmt,
                                    ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (f == NULL)
        return MHD_NO;
    fputs("{\"error\": ", f);
    json_str(f, msg, strlen(msg));
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return answer_buf(conn, status, body, len, "application/json");
}

/* ---------------------------------------------------------------- POST /ingest */

static const char *const kind_name[] = {"", "lines", "csv"};

static enum MHD_Result answer_ingest(req_t *r)
{
    serve_job_t *j = &r->job;
    if (j->error == -ECANCELED)
        return answer_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", j->errmsg);
    if (j->error == COLOG_EPARSE || j->error == COLOG_ESCHEMA)
        return answer_error(r->conn, MHD_HTTP_BAD_REQUEST, "nothing stored: %s", j->errmsg);
    if (j->error)
        return answer_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "%s (rows of this request may not be stored)", j->errmsg);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (f == NULL)
        return MHD_NO;
    fprintf(f,
            "{\"rows\": %llu, \"rejected\": %llu, \"skipped\": %llu, \"records\": %llu, "
            "\"format\": \"%s\", \"durable\": %s",
            (unsigned long long)j->rows, (unsigned long long)j->rejected,
            (unsigned long long)j->skipped, (unsigned long long)j->records, kind_name[j->kind],
            j->durable ? "true" : "false");
    if (j->rejected) {
        fputs(",\n \"note\": \"the rows listed were rejected; the other rows of this request are "
              "stored\",\n \"bad\": [",
              f);
        for (size_t i = 0; i < j->nbad; i++) {
            fprintf(f, "%s\n  {\"line\": %llu, \"column\": %llu, \"reason\": ", i ? "," : "",
                    (unsigned long long)j->bad[i].line, (unsigned long long)j->bad[i].col);
            json_str(f, j->bad[i].why, strlen(j->bad[i].why));
            fputc('}', f);
        }
        fprintf(f, "],\n \"bad_listed\": %zu", j->nbad);
    }
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return answer_buf(r->conn, j->rejected ? MHD_HTTP_UNPROCESSABLE_CONTENT : MHD_HTTP_OK, body,
                      len, "application/json");
}

/* The ingest thread is done with the job (invariant 2). */
static void job_done(serve_job_t *job)
{
    req_t *r = job->ctx;
    atomic_store(&r->state, S_DONE);
    MHD_resume_connection(r->conn);
}

static void body_free(req_t *r)
{
    atomic_fetch_sub(&r->h->held, r->cap);
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
}

static void body_append(req_t *r, const char *d, size_t n)
{
    if (r->too_big || r->oom)
        return;
    if (r->len + n > r->h->cfg.max_body) {
        r->too_big = true;
    } else if (r->len + n > r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64 << 10;
        while (nc < r->len + n)
            nc *= 2;
        if (nc > r->h->cfg.max_body)
            nc = r->h->cfg.max_body;
        /* invariant 3: all bodies together stay under held_max */
        size_t held = atomic_fetch_add(&r->h->held, nc - r->cap) + (nc - r->cap);
        char *nb = held <= r->h->held_max ? realloc(r->body, nc) : NULL;
        if (nb == NULL) {
            atomic_fetch_sub(&r->h->held, nc - r->cap);
            r->oom = true;
        } else {
            r->body = nb;
            r->cap = nc;
        }
    }
    if (r->too_big || r->oom)
        body_free(r);
    else {
        memcpy(r->body + r->len, d, n);
        r->len += n;
    }
}

static enum MHD_Result ingest_submit(req_t *r)
{
    serve_http_t *h = r->h;
    if (r->too_big)
        return answer_error(r->conn, MHD_HTTP_CONTENT_TOO_LARGE,
                            "nothing stored: body larger than %zu bytes (--max-body); send it "
                            "in smaller requests",
                            h->cfg.max_body);
    if (r->oom)
        return answer_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "nothing stored: too many large requests at once; retry");
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int kind = serve_body_kind(ct);
    if (kind == 0)
        kind = serve_body_sniff(r->body, r->len, h->cfg.schema);
    serve_job_t *j = &r->job;
    j->body = r->body;
    j->len = r->len;
    j->kind = kind;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char a[64] = "?";
    if (ci && ci->client_addr)
        serve_addr_format(ci->client_addr, a, sizeof a);
    snprintf(j->src, sizeof j->src, "http:%s", a);
    j->done = job_done;
    j->ctx = r;
    atomic_store(&r->state, S_QUEUED);
    MHD_suspend_connection(r->conn); /* before the job is visible (invariant 2) */
    if (!serve_submit(h->cfg.serve, j)) {
        j->error = -ECANCELED;
        snprintf(j->errmsg, sizeof j->errmsg, "nothing stored: the server is shutting down");
        job_done(j);
    }
    return MHD_YES;
}

/* ---------------------------------------------------------------- GET /query */

/* A FILE that keeps what is written in memory, up to max bytes (invariant 4). */
typedef struct capbuf {
    char *p;
    size_t len, cap, max;
    bool over;
} capbuf_t;

static ssize_t capbuf_write(void *cookie, const char *d, size_t n)
{
    capbuf_t *b = cookie;
    if (b->len + n > b->max) {
        b->over = true;
        errno = EFBIG;
        return -1;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64 << 10;
        while (nc < b->len + n)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (np == NULL) {
            errno = ENOMEM;
            return -1;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return (ssize_t)n;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result answer_query(serve_http_t *h, struct MHD_Connection *conn)
{
    const char *text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "q");
    const char *tzname = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tz");
    if (text == NULL || text[0] == 0)
        return answer_error(conn, MHD_HTTP_BAD_REQUEST, "missing the query: GET /query?q=QUERY");
    if (tzname == NULL || tzname[0] == 0)
        tzname = h->cfg.tz;
    colog_store_t *st;
    colog_tz_t *tz = NULL;
    colog_query_t *q = NULL;
    enum MHD_Result res;
    int rc = colog_store_open(&st, h->cfg.store, COLOG_OPEN_READ);
    if (rc)
        return answer_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", colog_errmsg());
    rc = colog_tz_open(tzname, &tz);
    if (rc) {
        res = answer_error(conn, MHD_HTTP_BAD_REQUEST, "%s", colog_errmsg());
        goto out_store;
    }
    colog_qerr_t err;
    rc = colog_query_parse(text, colog_store_schema(st), tz, wall_us(), &q, &err);
    if (rc) {
        if (rc != COLOG_EQUERY) {
            res = answer_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", colog_errmsg());
            goto out_tz;
        }
        char *body = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&body, &len);
        if (f == NULL) {
            res = MHD_NO;
            goto out_tz;
        }
        fputs("{\"error\": ", f);
        char msg[600];
        snprintf(msg, sizeof msg, "query error: %s", err.msg);
        json_str(f, msg, strlen(msg));
        fprintf(f, ", \"position\": %u, \"length\": %u}\n", err.pos, err.len);
        if (fclose(f) != 0) {
            free(body);
            res = MHD_NO;
            goto out_tz;
        }
        res = answer_buf(conn, MHD_HTTP_BAD_REQUEST, body, len, "application/json");
        goto out_tz;
    }
    capbuf_t b = {.max = SERVE_MAX_RESULT};
    cookie_io_functions_t io = {.write = capbuf_write};
    FILE *f = fopencookie(&b, "w", io);
    if (f == NULL) {
        res = MHD_NO;
        goto out_query;
    }
    colog_run_opts_t ro = {.format = COLOG_OUT_JSON, .out = f};
    rc = colog_query_run(q, st, &ro);
    bool wfail = fclose(f) != 0;
    if (b.over) {
        free(b.p);
        res = answer_error(conn, MHD_HTTP_BAD_REQUEST,
                           "the answer is larger than %zu bytes: narrow the query (where, "
                           "range, limit, stats)",
                           (size_t)SERVE_MAX_RESULT);
    } else if (rc || wfail) {
        free(b.p);
        res = answer_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
                           rc && colog_errmsg()[0] ? colog_errmsg() : "query failed");
    } else {
        res = answer_buf(conn, MHD_HTTP_OK, b.p ? b.p : calloc(1, 1), b.len, "application/json");
    }
out_query:
    colog_query_free(q);
out_tz:
    colog_tz_free(tz);
out_store:
    colog_store_close(st);
    return res;
}

/* ---------------------------------------------------------------- the handler */

static bool authorized(serve_http_t *h, struct MHD_Connection *conn)
{
    if (!h->has_token)
        return true;
    const char *a =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
        return false;
    a += 7;
    while (*a == ' ')
        a++;
    unsigned char hash[crypto_generichash_BYTES];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)a, strlen(a), NULL, 0);
    return sodium_memcmp(hash, h->token_hash, sizeof hash) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    serve_http_t *h = cls;
    req_t *r = *con_cls;
    (void)version;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        r->h = h;
        r->conn = conn;
        *con_cls = r;
        atomic_fetch_add(&h->busy, 1);
        if (!authorized(h, conn))
            return answer_error(conn, MHD_HTTP_UNAUTHORIZED,
                                "missing or wrong token (Authorization: Bearer TOKEN)");
        if (strcmp(url, "/ingest") == 0) {
            if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
                return answer_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST /ingest");
            const char *cl =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > h->cfg.max_body)
                return answer_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                                    "nothing stored: body larger than %zu bytes (--max-body); "
                                    "send it in smaller requests",
                                    h->cfg.max_body);
            r->route = R_INGEST;
            return MHD_YES;
        }
        if (strcmp(url, "/query") == 0) {
            if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
                return answer_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET /query?q=QUERY");
            return answer_query(h, conn);
        }
        return answer_error(conn, MHD_HTTP_NOT_FOUND,
                            "no such resource: POST /ingest or GET /query?q=QUERY");
    }
    if (r->route != R_INGEST)
        return MHD_YES; /* a body after an early answer: MHD drops it */
    if (*upload_data_size > 0) {
        body_append(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (atomic_load(&r->state)) {
    case S_BODY:
        return ingest_submit(r);
    case S_DONE:
        return answer_ingest(r);
    default:
        return MHD_YES;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    serve_http_t *h = cls;
    req_t *r = *con_cls;
    (void)conn;
    (void)toe;
    if (r == NULL)
        return;
    serve_job_clear(&r->job);
    body_free(r);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&h->busy, 1);
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("colog: serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---------------------------------------------------------------- daemon */

int serve_http_start(const serve_http_cfg_t *cfg, int fd, serve_http_t **out)
{
    pthread_once(&mhd_once, mhd_open);
    if (!mhd_ok) {
        close(fd);
        fprintf(stderr, "colog: serve: http: cannot load libmicrohttpd (%s): %s\n", MHD_SONAME,
                mhd_err);
        return -1;
    }
    serve_http_t *h = calloc(1, sizeof *h);
    if (h == NULL) {
        close(fd);
        fprintf(stderr, "colog: serve: http: out of memory\n");
        return -1;
    }
    h->cfg = *cfg;
    h->fd = fd;
    atomic_init(&h->busy, 0);
    atomic_init(&h->held, 0);
    h->held_max = 4 * cfg->max_body;
    if (cfg->token) {
        h->has_token = true;
        crypto_generichash(h->token_hash, sizeof h->token_hash, (const unsigned char *)cfg->token,
                           strlen(cfg->token), NULL, 0);
    }
    unsigned threads = cfg->threads ? cfg->threads : 2;
    h->d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                             MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
                         MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns, MHD_OPTION_CONNECTION_TIMEOUT,
                         60u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    if (h->d == NULL) {
        close(fd);
        free(h);
        fprintf(stderr, "colog: serve: http: libmicrohttpd did not start\n");
        return -1;
    }
    *out = h;
    return 0;
}

void serve_http_quiesce(serve_http_t *h)
{
    if (h->quiesced)
        return;
    int fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET) {
        h->fd = fd;
        h->quiesced = true;
        /* Closed only after MHD_stop_daemon (its threads may still hold it), but no
         * longer listening: connections waiting in the backlog are refused now
         * rather than left hanging until the stop. */
        shutdown(fd, SHUT_RDWR);
    }
}

unsigned serve_http_busy(serve_http_t *h)
{
    return atomic_load(&h->busy);
}

void serve_http_stop(serve_http_t *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d); /* closes the listening socket unless quiesced */
    if (h->quiesced)
        close(h->fd);
    free(h);
}

/* ---------------------------------------------------------------- bodies */

int serve_body_kind(const char *ct)
{
    static const struct {
        const char *type;
        int kind;
    } types[] = {
        {"application/x-ndjson", SERVE_BODY_LINES},
        {"application/ndjson", SERVE_BODY_LINES},
        {"application/jsonl", SERVE_BODY_LINES},
        {"application/x-jsonlines", SERVE_BODY_LINES},
        {"application/json", SERVE_BODY_LINES},
        {"text/plain", SERVE_BODY_LINES},
        {"text/csv", SERVE_BODY_CSV},
        {"application/csv", SERVE_BODY_CSV},
    };
    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i].type) == n && strncasecmp(ct, types[i].type, n) == 0)
            return types[i].kind;
    return 0;
}

int serve_body_sniff(const char *body, size_t len, const colog_schema_t *schema)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len || body[i] == '{' || body[i] == '<')
        return SERVE_BODY_LINES;
    const char *e = memchr(body + i, '\n', len - i);
    size_t end = e ? (size_t)(e - body) : len;
    if (end > i && body[end - 1] == '\r')
        end--;
    /* every comma-separated word a column name */
    unsigned words = 0;
    for (size_t a = i; a <= end;) {
        size_t b = a;
        while (b < end && body[b] != ',')
            b++;
        size_t s = a, t = b;
        if (t - s >= 2 && body[s] == '"' && body[t - 1] == '"') {
            s++;
            t--;
        }
        if (colog_schema_find(schema, body + s, t - s) < 0)
            return SERVE_BODY_LINES;
        words++;
        a = b + 1;
    }
    return words >= 1 ? SERVE_BODY_CSV : SERVE_BODY_LINES;
}

static void csv_err(serve_csvrec_t *rec, const char *why, uint64_t line, uint32_t col)
{
    if (rec->err)
        return;
    rec->err = why;
    rec->err_line = line;
    rec->err_col = col;
}

static bool at_eol(const char *p, const char *end)
{
    return p < end && (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n')));
}

bool serve_csv_next(char **pp, char *end, uint64_t *line, serve_csvrec_t *rec)
{
    char *p = *pp;
    while (at_eol(p, end)) { /* empty lines are not records */
        p += *p == '\r' ? 1 : 0;
        if (p < end)
            p++;
        ++*line;
    }
    if (p >= end) {
        *pp = p;
        return false;
    }
    rec->nf = 0;
    rec->err = NULL;
    rec->first_line = *line;
    const char *ls = p; /* start of the current line: columns are counted from it */
    for (;;) {
        uint64_t fline = *line;
        uint32_t fcol = (uint32_t)(p - ls + 1);
        char *fs = p, *fe;
        if (p < end && *p == '"') {
            char *w = p, *q = p + 1; /* unescape in place: w never passes q */
            bool closed = false;
            while (q < end) {
                if (*q == '"') {
                    if (q + 1 < end && q[1] == '"') {
                        *w++ = '"';
                        q += 2;
                        continue;
                    }
                    closed = true;
                    q++;
                    break;
                }
                if (*q == '\n') {
                    ++*line;
                    ls = q + 1;
                }
                *w++ = *q++;
            }
            fe = w;
            p = q;
            if (!closed) {
                csv_err(rec, "unterminated quoted field", fline, fcol);
            } else if (p < end && *p != ',' && !at_eol(p, end)) {
                csv_err(rec, "unexpected character after a closing quote", *line,
                        (uint32_t)(p - ls + 1));
                while (p < end && *p != ',' && *p != '\n')
                    p++;
            }
        } else {
            while (p < end && *p != ',' && *p != '\n') {
                if (*p == '"')
                    csv_err(rec, "quote in an unquoted field", *line, (uint32_t)(p - ls + 1));
                p++;
            }
            fe = p;
            if (fe > fs && fe[-1] == '\r')
                fe--;
        }
        if (rec->nf < SERVE_CSV_FIELDS) {
            rec->p[rec->nf] = fs;
            rec->len[rec->nf] = (size_t)(fe - fs);
            rec->line[rec->nf] = fline;
            rec->col[rec->nf] = fcol;
        }
        rec->nf++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n') {
            p++;
            ++*line;
        }
        break;
    }
    *pp = p;
    return true;
}
