/*
 * serve.c — `colog serve`: the ingest thread. It owns the store, the one ingest
 * session and the TCP syslog intake, and runs the HTTP side's ingest jobs
 * (serve.h says who does what).
 *
 * NOTES ON THE DESIGN
 *
 * One thread, one epoll set: the listening sockets, every TCP connection, a
 * signalfd (SIGTERM, SIGINT) and an eventfd the HTTP threads ring when they
 * queue a job. Each wakeup reads what the ready connections hold, cuts it into
 * messages and hands each message to the normalizer driver (norm_ingest_line:
 * syslog header, vendor format or bare JSON object, then colog_ingest_row) on
 * this same thread, so the session needs no lock and rows are never copied
 * into a queue. The library's writer thread sorts and writes full batches
 * meanwhile; a flush (every SERVE_FLUSH_MS while rows are pending, and after
 * each round of HTTP jobs) waits for it, and the kernel's socket buffers hold
 * what clients send during that wait (TCP flow control does the rest).
 *
 * Framing is chosen per connection from its first bytes (RFC 6587): digits
 * followed by a space is octet counting ("LEN SP MSG"); anything else is one
 * message a line. A message is at most max_message bytes: a longer line is
 * rejected and the connection resumes at the next newline; a longer frame is
 * rejected and the connection closed (its framing cannot be trusted).
 *
 * Merges are serve's own (the session runs with no_auto_merge): flushing every
 * second adds a part a second to today, and the library's rule (merge a day
 * once it has 16 parts) would rewrite the whole day every 16 seconds, a cost
 * that grows with the day until intake stalls. Every SERVE_MERGE_CHECK_S, right
 * after a flush (the session's writer is idle then), today, yesterday and
 * tomorrow are merged when a day's small parts hold as many rows as its largest
 * part (a young day is rewritten each time it doubles) or it has more than
 * SERVE_MERGE_PARTS parts (a big day: about every 4 minutes under steady
 * traffic); at exit, every day of the last week with more than
 * COLOG_AUTO_MERGE_PARTS parts is merged, as `colog ingest` does. A merge
 * rewrites the whole day and blocks intake while it runs (clients wait in TCP
 * flow control); merging only the small parts needs a tiered merge in storage.
 *
 * Shutdown (first SIGTERM/SIGINT): stop listening (TCP and HTTP), keep reading
 * every connection until it closes or has been silent for SERVE_QUIET_MS (at
 * most drain_ms in all), let HTTP requests in progress finish, then refuse new
 * jobs, run the last ones, flush and finish the session. A second signal cuts
 * the draining short; what was read is still flushed.
 *
 * Invariants:
 *  1. Only this thread calls colog_ingest_* and norm_* (the session is not
 *     thread-safe); HTTP threads only reach it through serve_submit.
 *  2. pending counts rows accepted since the last flush; pending_since is when
 *     the first of them arrived; a flush starts no later than SERVE_FLUSH_MS
 *     after it (the epoll timeout is set from it).
 *  3. c->buf holds only the unconsumed bytes of one incomplete message (never
 *     more than max_message + 1); complete messages are taken straight from
 *     the shared read buffer.
 *  4. Every queued job gets done() exactly once, after the flush that made its
 *     rows durable or with an error; nothing reads the job afterwards.
 *  5. Once a flush or a row has failed (fatal != 0) the session is dead: no
 *     more rows are fed, jobs fail, the loop winds down and the exit is 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "norm.h"
#include "serve.h"

#define RBUF_SIZE ((size_t)256 << 10)
#define READS_PER_WAKE 4 /* fairness: reads of one connection per wakeup */
#define STDERR_REJECTS_PER_S 10
#define MAX_EVENTS 128

enum { EV_LISTEN = 1, EV_CONN, EV_SIGNAL, EV_JOBS };
enum { FR_UNKNOWN = 0, FR_NEWLINE, FR_OCTET };
enum { PH_RUN = 0, PH_DRAIN, PH_CLOSING };

/* First member of everything registered in the epoll set. */
typedef struct evsrc {
    int kind;
    int fd;
} evsrc_t;

typedef struct conn {
    evsrc_t ev;
    struct conn *prev, *next;
    int framing;
    bool discard;     /* newline framing: skipping the rest of an over-long line */
    unsigned ndigits; /* octet counting: digits of LEN read so far */
    uint64_t lenval;  /* ... and their value */
    uint64_t want;    /* octet counting: length of the frame being read, 0 = reading LEN */
    char *buf;        /* invariant 3 */
    size_t len, cap;
    uint64_t msgno; /* messages seen on this connection (the "line" of rejects) */
    double last_rx;
    char src[72]; /* "tcp:ADDR:PORT" */
} conn_t;

struct serve {
    const serve_opts_t *o;
    colog_store_t *st;
    const colog_schema_t *schema;
    colog_tz_t *tz;
    colog_ingest_t *ing;
    norm_session_t norm;
    int ep;
    evsrc_t sig, jobs_ev;
    evsrc_t lis[SERVE_MAX_LISTEN * 2];
    unsigned nlis;
    bool lis_paused;
    double lis_resume_at;
    serve_http_t *http[SERVE_MAX_LISTEN * 2];
    unsigned nhttp;
    conn_t *conns;
    unsigned nconns;
    char *rbuf;
    double now;
    /* flushing (invariant 2) and merging */
    uint64_t pending;
    double pending_since;
    double merge_at;
    /* HTTP jobs */
    pthread_mutex_t mu;
    serve_job_t *jhead, **jtail;
    bool jclosed;
    serve_job_t *cur_job;
    /* rejects on stderr, rate-limited */
    double rej_window;
    unsigned rej_shown;
    uint64_t rej_hidden;
    double warn_at; /* rate limit of connection warnings */
    /* lifecycle */
    int phase;
    double stop_at, closing_at;
    int fatal;
    serve_stats_t stats;
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void warn(serve_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A warning about connections (at most one a second: a flood must not flood stderr). */
static void warn(serve_t *s, const char *fmt, ...)
{
    if (s->now - s->warn_at < 1.0)
        return;
    s->warn_at = s->now;
    va_list ap;
    va_start(ap, fmt);
    fputs("colog: serve: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---------------------------------------------------------------- listening sockets */

void serve_addr_format(const void *sa, char *buf, size_t cap)
{
    const struct sockaddr *a = sa;
    char host[INET6_ADDRSTRLEN];
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = sa;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(buf, cap, "%s:%u", host, ntohs(v4->sin_port));
    } else if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = sa;
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], host, sizeof host);
            snprintf(buf, cap, "%s:%u", host, ntohs(v6->sin6_port));
        } else {
            inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
            snprintf(buf, cap, "[%s]:%u", host, ntohs(v6->sin6_port));
        }
    } else {
        snprintf(buf, cap, "?");
    }
}

/* Bind one address; -1 with errno. */
static int bind_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int serve_listen(const char *spec, int *fds, unsigned cap, unsigned *n, char *err, size_t errcap)
{
    char host[256], port[8];
    const char *colon;
    size_t hl;
    if (spec[0] == '[') { /* [v6]:port */
        const char *rb = strchr(spec, ']');
        if (rb == NULL || rb[1] != ':') {
            snprintf(err, errcap, "'%s': expected [ADDR]:PORT", spec);
            return -2;
        }
        hl = (size_t)(rb - spec - 1);
        memcpy(host, spec + 1, hl < sizeof host ? hl : 0);
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL) {
            snprintf(err, errcap, "'%s': expected ADDR:PORT or :PORT", spec);
            return -2;
        }
        hl = (size_t)(colon - spec);
        memcpy(host, spec, hl < sizeof host ? hl : 0);
    }
    if (hl >= sizeof host) {
        snprintf(err, errcap, "'%s': address too long", spec);
        return -2;
    }
    host[hl] = 0;
    const char *p = colon + 1;
    size_t pl = strlen(p);
    unsigned long pv = 0;
    for (size_t i = 0; i < pl; i++)
        pv = p[i] >= '0' && p[i] <= '9' && pv <= 65535 ? pv * 10 + (unsigned long)(p[i] - '0')
                                                       : 99999999;
    if (pl == 0 || pv > 65535) {
        snprintf(err, errcap, "'%s': the port must be 0..65535", spec);
        return -2;
    }
    snprintf(port, sizeof port, "%lu", pv);

    /* ":PORT" is loopback only: 127.0.0.1, and ::1 where the host has IPv6. */
    const char *hosts[2] = {host, NULL};
    bool optional_second = false;
    if (host[0] == 0) {
        hosts[0] = "127.0.0.1";
        hosts[1] = "::1";
        optional_second = true;
    }
    *n = 0;
    for (int h = 0; h < 2 && hosts[h]; h++) {
        struct addrinfo hints, *res, *ai;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        int g = getaddrinfo(hosts[h], port, &hints, &res);
        if (g != 0) {
            if (h == 1 && optional_second)
                continue;
            snprintf(err, errcap, "'%s': %s", spec, gai_strerror(g));
            goto fail;
        }
        unsigned got = 0;
        for (ai = res; ai; ai = ai->ai_next) {
            if (*n == cap) {
                freeaddrinfo(res);
                snprintf(err, errcap, "'%s': too many addresses", spec);
                goto fail;
            }
            int fd = bind_one(ai);
            if (fd < 0) {
                int e = errno;
                if ((h == 1 && optional_second &&
                     (e == EADDRNOTAVAIL || e == EAFNOSUPPORT || e == EADDRINUSE)) ||
                    (e == EADDRINUSE && got > 0))
                    continue; /* no IPv6 loopback; a name's duplicate address */
                char a[80];
                serve_addr_format(ai->ai_addr, a, sizeof a);
                snprintf(err, errcap, "%s: %s", a, strerror(e));
                freeaddrinfo(res);
                goto fail;
            }
            fds[(*n)++] = fd;
            got++;
            if (pv == 0) { /* the next address takes the same port */
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;
                if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
                    pv = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                       : ((struct sockaddr_in6 *)&ss)->sin6_port);
                    snprintf(port, sizeof port, "%lu", pv);
                }
            }
        }
        freeaddrinfo(res);
    }
    if (*n == 0) {
        snprintf(err, errcap, "'%s': no address to listen on", spec);
        return -1;
    }
    return 0;
fail:
    while (*n > 0)
        close(fds[--*n]);
    return -1;
}

/* ---------------------------------------------------------------- rejects */

static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *why)
{
    serve_t *s = ctx;
    serve_job_t *j = s->cur_job;
    if (j) {
        j->rejected++;
        if (j->nbad < SERVE_BAD_MAX) {
            if (j->nbad == j->capbad) {
                size_t nc = j->capbad ? j->capbad * 2 : 16;
                serve_bad_t *nb = realloc(j->bad, nc * sizeof *nb);
                if (nb) {
                    j->bad = nb;
                    j->capbad = nc;
                }
            }
            if (j->nbad < j->capbad) {
                serve_bad_t *b = &j->bad[j->nbad];
                b->line = line;
                b->col = col;
                b->why = strdup(why);
                if (b->why)
                    j->nbad++;
            }
        }
    }
    FILE *f = s->o->rejects;
    if (f == NULL) {
        if (s->now - s->rej_window >= 1.0) {
            if (s->rej_hidden)
                fprintf(stderr,
                        "colog: serve: %llu more rejected messages not shown (use --rejects "
                        "FILE)\n",
                        (unsigned long long)s->rej_hidden);
            s->rej_window = s->now;
            s->rej_shown = 0;
            s->rej_hidden = 0;
        }
        if (s->rej_shown >= STDERR_REJECTS_PER_S) {
            s->rej_hidden++;
            return;
        }
        s->rej_shown++;
        f = stderr;
        fputs("colog: serve: rejected: ", f);
    }
    if (col)
        fprintf(f, "%s:%llu:%llu: %s\n", src, (unsigned long long)line, (unsigned long long)col,
                why);
    else
        fprintf(f, "%s:%llu: %s\n", src, (unsigned long long)line, why);
}

/* ---------------------------------------------------------------- rows and flushes */

static void set_fatal(serve_t *s, int rc)
{
    if (s->fatal)
        return;
    s->fatal = rc;
    fprintf(stderr, "colog: serve: %s: %s\n", s->o->store,
            colog_errmsg()[0] ? colog_errmsg() : colog_strerror(rc));
}

static void row_added(serve_t *s)
{
    if (s->pending++ == 0)
        s->pending_since = s->now;
}

static int flush_now(serve_t *s)
{
    if (s->fatal)
        return s->fatal;
    int rc = colog_ingest_flush(s->ing);
    s->now = mono_now();
    s->pending = 0;
    if (s->o->rejects)
        fflush(s->o->rejects);
    if (rc < 0)
        set_fatal(s, rc);
    return rc;
}

/* Merge day if the policy says so (design notes); final: at exit. Right after a
 * flush only (the session's writer thread must be idle). A failed merge leaves
 * the parts as they were: reported, not fatal. */
static void merge_day(serve_t *s, int32_t day, bool final)
{
    colog_snap_t *snap;
    if (colog_snap_day(s->st, day, 1, &snap) != 0)
        return; /* an unreadable day is for verify to report */
    size_t np = 0;
    uint64_t total = 0, big = 0;
    for (size_t i = 0; i < colog_snap_nparts(snap); i++) {
        colog_part_t *p = colog_snap_part(snap, i);
        if (colog_part_tier(p) != COLOG_TIER_HOT)
            continue;
        uint64_t r = colog_part_rows(p);
        np++;
        total += r;
        big = r > big ? r : big;
    }
    colog_snap_free(snap);
    bool due = final ? np > COLOG_AUTO_MERGE_PARTS
                     : np > SERVE_MERGE_PARTS || (np > 8 && total - big >= big);
    if (!due)
        return;
    bool merged;
    int rc = colog_store_merge_day(s->st, day, 0, &merged);
    if (rc < 0) {
        char d[16];
        colog_day_format(day, d, sizeof d);
        fprintf(stderr, "colog: serve: merge %s: %s\n", d,
                colog_errmsg()[0] ? colog_errmsg() : colog_strerror(rc));
    }
    s->now = mono_now();
}

static void merges(serve_t *s, bool final)
{
    int32_t today = colog_day_of(wall_us());
    for (int32_t d = today - (final ? 7 : 1); d <= today + 1; d++)
        merge_day(s, d, final);
    s->merge_at = s->now;
}

/* One message (a line or a frame, its framing removed). */
static void message(serve_t *s, const char *src, uint64_t no, const char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == 0))
        n--;
    if (n == 0 || s->fatal)
        return;
    s->stats.messages++;
    int rc = norm_ingest_line(&s->norm, p, n, src, no);
    if (rc < 0)
        set_fatal(s, rc);
    else if (rc == 1)
        row_added(s);
}

static void reject_oversize(serve_t *s, const char *src, uint64_t no, uint64_t size, bool known)
{
    char why[128];
    if (known)
        snprintf(why, sizeof why, "message of %llu bytes is longer than %zu bytes (--max-message)",
                 (unsigned long long)size, s->o->max_message);
    else
        snprintf(why, sizeof why, "message longer than %zu bytes (--max-message)",
                 s->o->max_message);
    s->stats.oversize++;
    colog_ingest_reject(s->ing, src, no, 0, why);
}

/* ---------------------------------------------------------------- TCP connections */

static void conn_close(serve_t *s, conn_t *c, const char *why)
{
    bool partial = c->len > 0 || (c->framing == FR_OCTET && (c->want || c->ndigits));
    if (partial && why && !s->fatal) {
        s->stats.truncated++;
        colog_ingest_reject(s->ing, c->src, ++c->msgno, 0, why);
    }
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->ev.fd, NULL);
    close(c->ev.fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    free(c->buf);
    free(c);
}

/* Append to the incomplete message (invariant 3: callers keep len <= max_message). */
static int conn_append(conn_t *c, const char *d, size_t k)
{
    if (c->len + k > c->cap) {
        size_t nc = c->cap ? c->cap : 1024;
        while (nc < c->len + k)
            nc *= 2;
        char *nb = realloc(c->buf, nc);
        if (nb == NULL)
            return -1;
        c->buf = nb;
        c->cap = nc;
    }
    memcpy(c->buf + c->len, d, k);
    c->len += k;
    return 0;
}

/* Framing from the first bytes of a connection. */
static int detect_framing(const char *d, size_t n)
{
    if (d[0] < '1' || d[0] > '9')
        return FR_NEWLINE;
    for (size_t i = 1; i < n && i < 11; i++)
        if (d[i] < '0' || d[i] > '9')
            return d[i] == ' ' ? FR_OCTET : FR_NEWLINE;
    return FR_NEWLINE; /* only digits so far: take the forgiving reader */
}

/* Newline framing: consume d[0..n). */
static int feed_lines(serve_t *s, conn_t *c, const char *d, size_t n)
{
    const size_t max = s->o->max_message;
    while (n > 0 && !s->fatal) {
        const char *nl = memchr(d, '\n', n);
        size_t k = nl ? (size_t)(nl - d) : n;
        if (c->discard) {
            if (nl)
                c->discard = false;
        } else if (c->len + k > max) {
            s->stats.messages++;
            reject_oversize(s, c->src, ++c->msgno, c->len + k, nl != NULL);
            c->len = 0;
            c->discard = nl == NULL;
        } else if (nl == NULL) {
            return conn_append(c, d, k);
        } else if (c->len) {
            if (conn_append(c, d, k) < 0)
                return -1;
            message(s, c->src, ++c->msgno, c->buf, c->len);
            c->len = 0;
        } else {
            message(s, c->src, ++c->msgno, d, k);
        }
        if (nl == NULL)
            return 0;
        d += k + 1;
        n -= k + 1;
    }
    return 0;
}

/* Octet counting (RFC 6587 3.4.1): consume d[0..n). -1 closes the connection. */
static int feed_frames(serve_t *s, conn_t *c, const char *d, size_t n)
{
    while (n > 0 && !s->fatal) {
        if (c->want == 0) {
            /* Between frames: tolerate the line endings some senders add. */
            while (n > 0 && c->ndigits == 0 && (*d == '\n' || *d == '\r' || *d == ' ')) {
                d++;
                n--;
            }
            while (n > 0 && *d >= '0' && *d <= '9') {
                if (++c->ndigits > 10)
                    break;
                c->lenval = c->lenval * 10 + (uint64_t)(*d - '0');
                d++;
                n--;
            }
            if (n == 0)
                return 0;
            if (*d != ' ' || c->ndigits == 0 || c->ndigits > 10) {
                c->ndigits = 0;
                colog_ingest_reject(s->ing, c->src, ++c->msgno, 0,
                                    "octet counting: expected a frame length; closing");
                return -1;
            }
            d++;
            n--;
            uint64_t len = c->lenval;
            c->lenval = 0;
            c->ndigits = 0;
            if (len > s->o->max_message) {
                s->stats.messages++;
                reject_oversize(s, c->src, ++c->msgno, len, true);
                return -1;
            }
            c->want = len;
            if (len == 0)
                continue;
        }
        if (c->len == 0 && n >= c->want) {
            message(s, c->src, ++c->msgno, d, c->want);
            d += c->want;
            n -= c->want;
            c->want = 0;
            continue;
        }
        size_t k = c->want - c->len < n ? c->want - c->len : n;
        if (conn_append(c, d, k) < 0)
            return -1;
        d += k;
        n -= k;
        if (c->len == c->want) {
            message(s, c->src, ++c->msgno, c->buf, c->len);
            c->len = 0;
            c->want = 0;
        }
    }
    return 0;
}

static int feed(serve_t *s, conn_t *c, const char *d, size_t n)
{
    if (c->framing == FR_UNKNOWN)
        c->framing = detect_framing(d, n);
    return c->framing == FR_OCTET ? feed_frames(s, c, d, n) : feed_lines(s, c, d, n);
}

/* The peer closed: a last line without its newline is still a message. */
static void conn_eof(serve_t *s, conn_t *c)
{
    if (c->framing == FR_NEWLINE && c->len > 0 && !c->discard) {
        message(s, c->src, ++c->msgno, c->buf, c->len);
        c->len = 0;
    }
    conn_close(s, c, "connection closed in the middle of a frame");
}

static void conn_read(serve_t *s, conn_t *c)
{
    for (int i = 0; i < READS_PER_WAKE && !s->fatal; i++) {
        ssize_t k = recv(c->ev.fd, s->rbuf, RBUF_SIZE, 0);
        if (k > 0) {
            c->last_rx = s->now;
            s->stats.bytes += (uint64_t)k;
            if (feed(s, c, s->rbuf, (size_t)k) < 0) {
                conn_close(s, c, NULL);
                return;
            }
            if ((size_t)k < RBUF_SIZE)
                return;
            continue;
        }
        if (k == 0) {
            conn_eof(s, c);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        conn_close(s, c, "connection reset in the middle of a message");
        return;
    }
}

static void listeners_pause(serve_t *s, bool pause)
{
    for (unsigned i = 0; i < s->nlis; i++) {
        struct epoll_event ev = {.events = pause ? 0 : EPOLLIN, .data.ptr = &s->lis[i]};
        epoll_ctl(s->ep, EPOLL_CTL_MOD, s->lis[i].fd, &ev);
    }
    s->lis_paused = pause;
    s->lis_resume_at = 0;
}

static void accept_all(serve_t *s, evsrc_t *l)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* EMFILE and friends: stop accepting for a moment instead of spinning */
                warn(s, "accept: %s", strerror(errno));
                listeners_pause(s, true);
                s->lis_resume_at = s->now + 0.2;
            }
            return;
        }
        char a[64];
        serve_addr_format(&ss, a, sizeof a);
        if (s->nconns >= s->o->max_conns) {
            close(fd);
            s->stats.refused++;
            warn(s, "%s: refused: %u connections already (--max-conns)", a, s->nconns);
            continue;
        }
        conn_t *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            warn(s, "%s: refused: out of memory", a);
            continue;
        }
        c->ev.kind = EV_CONN;
        c->ev.fd = fd;
        c->last_rx = s->now;
        snprintf(c->src, sizeof c->src, "tcp:%s", a);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            warn(s, "%s: refused: epoll: %s", a, strerror(errno));
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        s->stats.conns++;
    }
}

/* ---------------------------------------------------------------- HTTP ingest jobs */

bool serve_submit(serve_t *s, serve_job_t *job)
{
    pthread_mutex_lock(&s->mu);
    if (s->jclosed) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    job->next = NULL;
    *s->jtail = job;
    s->jtail = &job->next;
    pthread_mutex_unlock(&s->mu);
    uint64_t one = 1;
    ssize_t w = write(s->jobs_ev.fd, &one, sizeof one);
    (void)w; /* the eventfd cannot overflow at one increment a job */
    return true;
}

void serve_job_clear(serve_job_t *job)
{
    for (size_t i = 0; i < job->nbad; i++)
        free(job->bad[i].why);
    free(job->bad);
    job->bad = NULL;
    job->nbad = job->capbad = 0;
}

static void job_fail(serve_job_t *j, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void job_fail(serve_job_t *j, int rc, const char *fmt, ...)
{
    j->error = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->errmsg, sizeof j->errmsg, fmt, ap);
    va_end(ap);
}

/* A body of NDJSON objects and/or syslog lines: each line through the driver. */
static void job_lines(serve_t *s, serve_job_t *j)
{
    const char *p = j->body, *end = j->body + j->len;
    uint64_t lineno = 0;
    while (p < end && !s->fatal) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        lineno++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        size_t b = 0;
        while (b < n && (p[b] == ' ' || p[b] == '\t'))
            b++;
        if (b < n) {
            j->records++;
            s->stats.messages++;
            if (n > s->o->max_message) {
                reject_oversize(s, j->src, lineno, n, true);
            } else {
                int rc = norm_ingest_line(&s->norm, p, n, j->src, lineno);
                if (rc < 0) {
                    set_fatal(s, rc);
                } else if (rc == 1) {
                    j->rows++;
                    row_added(s);
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
}

/* A CSV body: header row naming columns (as `colog ingest`), then rows. */
static void job_csv(serve_t *s, serve_job_t *j)
{
    char *p = j->body, *end = j->body + j->len;
    uint64_t line = 1;
    serve_csvrec_t r;
    if (!serve_csv_next(&p, end, &line, &r))
        return; /* empty */
    if (r.err) {
        job_fail(j, COLOG_EPARSE, "line %llu, column %u: header: %s",
                 (unsigned long long)r.err_line, r.err_col, r.err);
        return;
    }
    if (r.nf > SERVE_CSV_FIELDS - 1) {
        job_fail(j, COLOG_ESCHEMA, "line %llu: header: %u columns, the store has %u",
                 (unsigned long long)r.first_line, r.nf, s->schema->ncols);
        return;
    }
    const uint32_t nf = r.nf;
    unsigned cols[SERVE_CSV_FIELDS];
    uint64_t seen = 0;
    for (uint32_t i = 0; i < nf; i++) {
        int c = colog_schema_find(s->schema, r.p[i], r.len[i]);
        int w = r.len[i] > 64 ? 64 : (int)r.len[i];
        if (c < 0) {
            char known[COLOG_MAX_COLS * (COLOG_NAME_MAX + 2)];
            size_t o = 0;
            for (unsigned k = 0; k < s->schema->ncols && o < sizeof known; k++)
                o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", k ? ", " : "",
                                      s->schema->cols[k].name);
            job_fail(j, COLOG_ESCHEMA, "line %llu, column %u: unknown column '%.*s'; known: %s",
                     (unsigned long long)r.line[i], r.col[i], w, r.p[i], known);
            return;
        }
        if (seen >> c & 1) {
            job_fail(j, COLOG_ESCHEMA, "line %llu, column %u: duplicate column '%.*s'",
                     (unsigned long long)r.line[i], r.col[i], w, r.p[i]);
            return;
        }
        seen |= 1ull << c;
        cols[i] = (unsigned)c;
    }
    if (!(seen & 1)) {
        job_fail(j, COLOG_ESCHEMA, "line %llu: header: no column '%s' (the event time)",
                 (unsigned long long)r.first_line, s->schema->cols[0].name);
        return;
    }
    while (!s->fatal && serve_csv_next(&p, end, &line, &r)) {
        j->records++;
        s->stats.messages++;
        if (r.err) {
            colog_ingest_reject(s->ing, j->src, r.err_line, r.err_col, r.err);
            continue;
        }
        if (r.nf != nf) {
            char why[64];
            snprintf(why, sizeof why, "expected %u fields, got %u", nf, r.nf);
            colog_ingest_reject(s->ing, j->src, r.first_line, 0, why);
            continue;
        }
        int rc = colog_ingest_row(s->ing, cols, r.p, r.len, nf, j->src, r.first_line);
        if (rc < 0) {
            set_fatal(s, rc);
        } else if (rc == 1) {
            j->rows++;
            row_added(s);
        }
    }
}

static void job_run(serve_t *s, serve_job_t *j)
{
    s->stats.http_requests++;
    if (s->fatal) {
        job_fail(j, s->fatal, "the store failed: %s", colog_strerror(s->fatal));
        return;
    }
    uint64_t skipped = s->norm.stats.skipped;
    s->cur_job = j;
    if (j->kind == SERVE_BODY_CSV)
        job_csv(s, j);
    else
        job_lines(s, j);
    s->cur_job = NULL;
    j->skipped = s->norm.stats.skipped - skipped;
}

/* Run every queued job, flush once (group commit), then answer them all. */
static void jobs_run(serve_t *s)
{
    pthread_mutex_lock(&s->mu);
    serve_job_t *list = s->jhead;
    s->jhead = NULL;
    s->jtail = &s->jhead;
    pthread_mutex_unlock(&s->mu);
    if (list == NULL)
        return;
    for (serve_job_t *j = list; j; j = j->next)
        job_run(s, j);
    int rc = flush_now(s);
    for (serve_job_t *j = list, *next; j; j = next) {
        next = j->next; /* invariant 4: j may be freed once done() returns */
        if (rc < 0 && j->error == 0)
            job_fail(j, rc, "the store failed: %s",
                     colog_errmsg()[0] ? colog_errmsg() : colog_strerror(rc));
        j->durable = rc == 0;
        j->done(j);
    }
    /* the writer is idle and nothing was added since the flush: merges may run */
    if (rc == 0 && s->now - s->merge_at >= SERVE_MERGE_CHECK_S)
        merges(s, false);
}

/* ---------------------------------------------------------------- the loop */

static void begin_stop(serve_t *s)
{
    if (s->phase != PH_RUN) {
        s->stop_at = -1e9; /* a second signal: stop draining now */
        return;
    }
    s->phase = PH_DRAIN;
    s->stop_at = s->now;
    for (unsigned i = 0; i < s->nlis; i++) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lis[i].fd, NULL);
        close(s->lis[i].fd);
    }
    s->nlis = 0;
    for (unsigned i = 0; i < s->nhttp; i++)
        serve_http_quiesce(s->http[i]);
    fprintf(stderr, "colog: serve: stopping: reading what %u clients sent\n", s->nconns);
}

static unsigned http_busy(serve_t *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < s->nhttp; i++)
        n += serve_http_busy(s->http[i]);
    return n;
}

static void close_jobs(serve_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->jclosed = true;
    pthread_mutex_unlock(&s->mu);
}

/* One step of the shutdown; true when the loop is done. */
static bool stop_step(serve_t *s)
{
    double drain = s->o->drain_ms / 1000.0;
    bool cut = s->fatal || s->now - s->stop_at >= drain;
    if (s->phase == PH_DRAIN) {
        for (conn_t *c = s->conns, *next; c; c = next) {
            next = c->next;
            double since = c->last_rx > s->stop_at ? c->last_rx : s->stop_at;
            if (!cut && s->now - since < SERVE_QUIET_MS / 1000.0)
                continue;
            if (!cut) {
                /* Silent, or only not read for a while (a long flush)? Ask the socket. */
                char b;
                ssize_t k = recv(c->ev.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
                if (k > 0) {
                    c->last_rx = s->now; /* data waiting: epoll reports it next */
                    continue;
                }
                if (k == 0) {
                    conn_eof(s, c);
                    continue;
                }
            }
            conn_close(s, c, "connection closed at shutdown in the middle of a message");
        }
        if (s->nconns > 0 || (http_busy(s) > 0 && !cut))
            return false;
        s->phase = PH_CLOSING;
        s->closing_at = s->now;
        close_jobs(s);
        jobs_run(s);
    }
    /* PH_CLOSING: let the HTTP answers go out. */
    jobs_run(s);
    return http_busy(s) == 0 || s->now - s->closing_at >= 1.0;
}

static int loop_timeout(serve_t *s)
{
    double t = -1;
    if (s->pending)
        t = s->pending_since + SERVE_FLUSH_MS / 1000.0 - s->now;
    if (s->lis_paused && s->lis_resume_at > 0) {
        double r = s->lis_resume_at - s->now;
        t = t < 0 || r < t ? r : t;
    }
    if (s->phase != PH_RUN)
        t = t < 0 || t > 0.05 ? 0.05 : t;
    if (t < 0)
        return -1;
    return (int)(t * 1000) + 1;
}

static void handle_signal(serve_t *s)
{
    struct signalfd_siginfo si;
    while (read(s->sig.fd, &si, sizeof si) == (ssize_t)sizeof si)
        begin_stop(s);
}

static void loop(serve_t *s)
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, loop_timeout(s));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "colog: serve: epoll_wait: %s\n", strerror(errno));
            s->fatal = -errno;
            n = 0;
        }
        s->now = mono_now();
        s->norm.env.now_us = wall_us();
        for (int i = 0; i < n; i++) {
            evsrc_t *e = evs[i].data.ptr;
            switch (e->kind) {
            case EV_LISTEN:
                if (s->phase == PH_RUN)
                    accept_all(s, e);
                break;
            case EV_CONN:
                conn_read(s, (conn_t *)e);
                break;
            case EV_SIGNAL:
                handle_signal(s);
                break;
            case EV_JOBS: {
                uint64_t v;
                ssize_t r = read(e->fd, &v, sizeof v);
                (void)r;
                break;
            }
            }
        }
        jobs_run(s);
        if (s->pending && s->now - s->pending_since >= SERVE_FLUSH_MS / 1000.0 &&
            flush_now(s) == 0 && s->now - s->merge_at >= SERVE_MERGE_CHECK_S)
            merges(s, false);
        if (s->lis_paused && s->lis_resume_at > 0 && s->now >= s->lis_resume_at &&
            s->phase == PH_RUN)
            listeners_pause(s, false);
        if (s->fatal && s->phase == PH_RUN)
            begin_stop(s);
        if (s->phase != PH_RUN && stop_step(s))
            return;
    }
}

/* ---------------------------------------------------------------- setup */

static int add_ev(serve_t *s, evsrc_t *e)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = e};
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, e->fd, &ev);
}

static int setup_listeners(serve_t *s)
{
    const serve_opts_t *o = s->o;
    char err[256], a[80];
    for (unsigned i = 0; i < o->nlisten + o->nhttp; i++) {
        bool http = i >= o->nlisten;
        const char *spec = http ? o->http[i - o->nlisten] : o->listen[i];
        int fds[SERVE_MAX_LISTEN * 2];
        unsigned nf = 0,
                 room = http ? SERVE_MAX_LISTEN * 2 - s->nhttp : SERVE_MAX_LISTEN * 2 - s->nlis;
        int rc = serve_listen(spec, fds, room, &nf, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "colog: serve: %s %s\n", http ? "--http" : "--listen", err);
            return rc == -2 ? 2 : 1;
        }
        for (unsigned k = 0; k < nf; k++) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            getsockname(fds[k], (struct sockaddr *)&ss, &sl);
            serve_addr_format(&ss, a, sizeof a);
            if (http) {
                serve_http_cfg_t cfg = {
                    .serve = s,
                    .store = o->store,
                    .schema = s->schema,
                    .tz = colog_store_config(s->st)->tz,
                    .token = o->token,
                    .max_body = o->max_body,
                    .max_conns = o->max_conns,
                    .threads = o->http_threads,
                };
                if (serve_http_start(&cfg, fds[k], &s->http[s->nhttp]) < 0) {
                    while (++k < nf)
                        close(fds[k]);
                    return 1;
                }
                s->nhttp++;
                fprintf(stderr, "colog: serve: HTTP on %s (POST /ingest, GET /query)%s\n", a,
                        o->token ? ", token required" : "");
            } else {
                evsrc_t *e = &s->lis[s->nlis++];
                e->kind = EV_LISTEN;
                e->fd = fds[k];
                if (add_ev(s, e) < 0) {
                    fprintf(stderr, "colog: serve: epoll: %s\n", strerror(errno));
                    while (++k < nf)
                        close(fds[k]);
                    return 1;
                }
                fprintf(stderr, "colog: serve: syslog over TCP on %s\n", a);
            }
        }
    }
    return 0;
}

int serve_run(const serve_opts_t *o, serve_stats_t *stats)
{
    int status = 1, rc;
    memset(stats, 0, sizeof *stats);
    serve_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        fprintf(stderr, "colog: serve: out of memory\n");
        return 1;
    }
    s->o = o;
    s->ep = s->jobs_ev.fd = -1;
    s->jtail = &s->jhead;
    s->now = mono_now();
    pthread_mutex_init(&s->mu, NULL);
    s->rbuf = malloc(RBUF_SIZE);
    if (s->rbuf == NULL) {
        fprintf(stderr, "colog: serve: out of memory\n");
        goto out_free;
    }
    rc = colog_store_open(&s->st, o->store, COLOG_OPEN_WRITE);
    if (rc) {
        fprintf(stderr, "colog: serve: %s\n",
                colog_errmsg()[0] ? colog_errmsg() : colog_strerror(rc));
        goto out_free;
    }
    s->schema = colog_store_schema(s->st);
    rc = colog_tz_open(colog_store_config(s->st)->tz, &s->tz);
    if (rc) {
        fprintf(stderr, "colog: serve: %s\n", colog_errmsg());
        goto out_store;
    }
    colog_ingest_opts_t io;
    memset(&io, 0, sizeof io);
    io.reject = on_reject;
    io.reject_ctx = s;
    io.no_auto_merge = true; /* serve merges (design notes) */
    rc = colog_ingest_begin(s->st, &io, &s->ing);
    if (rc) {
        fprintf(stderr, "colog: serve: %s\n", colog_errmsg());
        goto out_tz;
    }
    rc = norm_session_init(&s->norm, s->ing, s->schema, NULL, s->tz);
    if (rc) {
        fprintf(stderr, "colog: serve: %s\n", colog_errmsg());
        goto out_ingest;
    }
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->jobs_ev.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->jobs_ev.kind = EV_JOBS;
    s->sig.kind = EV_SIGNAL;
    s->sig.fd = o->sigfd;
    if (s->ep < 0 || s->jobs_ev.fd < 0 || add_ev(s, &s->jobs_ev) < 0 || add_ev(s, &s->sig) < 0) {
        fprintf(stderr, "colog: serve: %s\n", strerror(errno));
        goto out_ingest;
    }
    status = setup_listeners(s);
    if (status == 0) {
        fprintf(stderr,
                "colog: serve: %s: open for writing (colog ingest, merge and retain wait "
                "until serve exits)\n",
                o->store);
        s->stats.served = true;
        loop(s);
        status = s->fatal ? 1 : 0;
    } else {
        close_jobs(s);
    }
    for (conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_close(s, c, NULL);
    }
    for (unsigned i = 0; i < s->nlis; i++)
        close(s->lis[i].fd);
    for (unsigned i = 0; i < s->nhttp; i++)
        serve_http_stop(s->http[i]);
    if (s->stats.served && flush_now(s) == 0)
        merges(s, true);
out_ingest:;
    colog_ingest_stats_t ist;
    memset(&ist, 0, sizeof ist);
    rc = colog_ingest_finish(s->ing, &ist);
    if (rc < 0 && !s->fatal) {
        fprintf(stderr, "colog: serve: %s: %s\n", o->store,
                colog_errmsg()[0] ? colog_errmsg() : colog_strerror(rc));
        status = 1;
    }
    s->stats.rows_ok = ist.rows_ok;
    s->stats.rows_rejected = ist.rows_rejected;
    s->stats.parts = ist.parts_written;
    s->stats.skipped = s->norm.stats.skipped;
    if (s->rej_hidden)
        fprintf(stderr,
                "colog: serve: %llu more rejected messages not shown (use --rejects FILE)\n",
                (unsigned long long)s->rej_hidden);
out_tz:
    colog_tz_free(s->tz);
out_store:
    colog_store_close(s->st);
out_free:
    if (s->ep >= 0)
        close(s->ep);
    if (s->jobs_ev.fd >= 0)
        close(s->jobs_ev.fd);
    *stats = s->stats;
    pthread_mutex_destroy(&s->mu);
    free(s->rbuf);
    free(s);
    return status;
}
