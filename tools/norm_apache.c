/*
 * norm_apache.c — Apache httpd access logs (norm.h), web schema; the parser is
 * shared with nginx (norm_nginx.c) through norm_access_parse().
 *
 *   common:   %h %l %u %t "%r" %>s %b
 *   combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
 *   1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://r/" "UA"
 *
 * Design:
 *  1. Certain test: three space-separated words, then "[" and a digit: the
 *     client, identd name, user and the start of %t. Anything wrong after
 *     that is NORM_BAD with the reason.
 *  2. %h must be an IP address (with HostnameLookups on it is a name, which
 *     client_ip cannot hold: NORM_BAD). %l is ignored; "-" means absent for
 *     %u, %b, the referrer and the user agent.
 *  3. %t carries its own UTC offset: ts is converted to UTC.
 *  4. The request line: "METHOD TARGET PROTO" gives method and url (the
 *     target as logged, %-escapes and Apache's \" \xhh escapes kept);
 *     "METHOD TARGET" (HTTP/0.9) too. A request that does not start with an
 *     upper-case method (TLS or junk sent to a plain port, which Apache logs
 *     as "\x16\x03\x01...") is still a record: the client, time and status
 *     are real and scanners are worth counting, so url holds the raw request
 *     text and method is left out. "-" (no request line: a timeout) leaves
 *     both out.
 *  5. A last quoted field without its closing quote (a truncated user agent)
 *     runs to the end of the line.
 *  6. Apache's "(internal dummy connection)" requests (the parent waking its
 *     children) are not traffic: NORM_SKIP.
 *  7. After the user agent: for apache, ignored (%I %O of combinedio, ...);
 *     for nginx, "$http_x_forwarded_for" is skipped (client_ip stays the
 *     peer address: the header is the client's claim) and the first
 *     unquoted number with a fraction (or "rt=N.NNN") is $request_time in
 *     seconds -> duration_ms.
 */
#include <stdio.h>
#include <string.h>

#include "norm.h"

typedef struct span {
    const char *s;
    size_t n;
} span_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool dash(const span_t *v)
{
    return v->n == 1 && v->s[0] == '-';
}

/* The word at *p up to a space. */
static span_t word(const char **p, const char *end)
{
    span_t w = {*p, 0};
    while (*p < end && **p != ' ')
        (*p)++;
    w.n = (size_t)(*p - w.s);
    return w;
}

/* A quoted field at *p ('"' expected). *closed tells whether it ended with an
 * unescaped '"'; if not it runs to end. false if *p is not a quote. */
static bool quoted(const char **p, const char *end, span_t *out, bool *closed)
{
    if (*p >= end || **p != '"')
        return false;
    const char *s = ++*p;
    while (*p < end && **p != '"')
        *p += **p == '\\' && *p + 1 < end ? 2 : 1;
    *closed = *p < end;
    out->s = s;
    out->n = (size_t)((*closed ? *p : end) - s);
    if (*closed)
        (*p)++;
    else
        while (out->n > 0 && (s[out->n - 1] == ' ' || s[out->n - 1] == '\r'))
            out->n--;
    return true;
}

static void skip_spaces(const char **p, const char *end)
{
    while (*p < end && **p == ' ')
        (*p)++;
}

/* [10/Oct/2000:13:55:36 -0700] at *p -> ts (UTC). */
static int put_time(norm_rec_t *rec, const char **p, const char *end)
{
    const char *s = *p + 1; /* past '[' */
    const char *close = memchr(s, ']', (size_t)(end - s));
    if (close == NULL)
        return norm_bad(rec, "time: no closing ']'");
    size_t n = (size_t)(close - s);
    /* d/Mon/yyyy:HH:MM:SS +zzzz, the day with one or two digits. In the
     * shape, 'd' is a digit, 'a' a letter, '+' a sign, the rest literal. */
    size_t dl = n > 1 && is_digit(s[1]) ? 2 : 1;
    static const char shape[] = "/aaa/dddd:dd:dd:dd +dddd";
    bool ok = is_digit(s[0]) && n == dl + sizeof shape - 1;
    for (size_t i = 0; ok && i < sizeof shape - 1; i++) {
        char c = s[dl + i];
        switch (shape[i]) {
        case 'd':
            ok = is_digit(c);
            break;
        case 'a':
            ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
            break;
        case '+':
            ok = c == '+' || c == '-';
            break;
        default:
            ok = c == shape[i];
        }
    }
    const char *f = s + dl;
    int mo = ok ? norm_month(f + 1) : 0;
    if (mo == 0)
        return norm_bad(rec, "time: not [dd/Mon/yyyy:HH:MM:SS +zzzz]: '%.*s'", (int)n, s);
    char txt[40]; /* yyyy-mm-ddTHH:MM:SS+hh:mm */
    int k = snprintf(txt, sizeof txt, "%.4s-%02d-%c%cT%.8s%.3s:%.2s", f + 5, mo,
                     dl == 2 ? s[0] : '0', s[dl - 1], f + 10, f + 19, f + 22);
    int64_t t;
    if (k < 0 || (size_t)k >= sizeof txt || colog_time_parse(txt, (size_t)k, 0, &t) != 0)
        return norm_bad(rec, "time: not a valid time: '%.*s'", (int)n, s);
    *p = close + 1;
    return norm_put_time_us(rec, "ts", t);
}

/* The request line -> method, url (design 4). */
static int put_request(norm_rec_t *rec, span_t r)
{
    if (r.n == 0 || dash(&r))
        return NORM_RECORD;
    size_t m = 0;
    while (m < r.n && ((r.s[m] >= 'A' && r.s[m] <= 'Z') || r.s[m] == '-' || r.s[m] == '_'))
        m++;
    if (m == 0 || (m < r.n && r.s[m] != ' '))
        return norm_put(rec, "url", r.s, r.n); /* not a request line */
    int rc = norm_put(rec, "method", r.s, m);
    const char *u = r.s + m, *ue = r.s + r.n;
    while (u < ue && *u == ' ')
        u++;
    const char *sp = ue;
    while (sp > u && sp[-1] != ' ')
        sp--;
    if (sp > u && ue - sp >= 5 && memcmp(sp, "HTTP/", 5) == 0) /* drop " HTTP/1.1" */
        for (ue = sp; ue > u && ue[-1] == ' ';)
            ue--;
    if (rc == NORM_RECORD)
        rc = norm_put(rec, "url", u, (size_t)(ue - u));
    return rc;
}

/* "0.123" seconds (or "rt=0.123") -> duration_ms, rounded. false if w is not that. */
static bool request_time(norm_rec_t *rec, span_t w, int *rc)
{
    if (w.n > 3 && memcmp(w.s, "rt=", 3) == 0) {
        w.s += 3;
        w.n -= 3;
    }
    size_t i = 0;
    uint64_t ms = 0;
    while (i < w.n && is_digit(w.s[i]) && i < 12)
        ms = ms * 10 + (uint64_t)(w.s[i++] - '0');
    if (i == 0 || i == w.n || w.s[i] != '.' || i + 1 == w.n)
        return false;
    ms *= 1000;
    for (size_t k = i + 1, scale = 100; k < w.n; k++, scale /= 10) {
        if (!is_digit(w.s[k]))
            return false;
        if (scale > 0)
            ms += (uint64_t)(w.s[k] - '0') * scale;
        else if (k == i + 4 && w.s[k] >= '5')
            ms++; /* round on the fourth decimal */
    }
    *rc = ms > UINT32_MAX ? norm_bad(rec, "request time out of range: '%.*s'", (int)w.n, w.s)
                          : norm_putf(rec, "duration_ms", "%llu", (unsigned long long)ms);
    return true;
}

/* nginx additions after the user agent (design 7). */
static int nginx_tail(norm_rec_t *rec, const char *p, const char *end)
{
    for (;;) {
        skip_spaces(&p, end);
        if (p >= end)
            return NORM_RECORD;
        span_t v;
        bool closed;
        if (quoted(&p, end, &v, &closed))
            continue;
        int rc = NORM_RECORD;
        if (request_time(rec, word(&p, end), &rc))
            return rc;
    }
}

int norm_access_parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec,
                      bool nginx)
{
    (void)env;
    const char *p = msg, *end = msg + len;
    while (end > p && (end[-1] == ' ' || end[-1] == '\r'))
        end--;
    span_t client = word(&p, end), ident, user;
    if (client.n == 0 || p >= end || *p++ != ' ')
        return NORM_NOMATCH;
    ident = word(&p, end);
    if (ident.n == 0 || p >= end || *p++ != ' ')
        return NORM_NOMATCH;
    user = word(&p, end);
    if (user.n == 0 || end - p < 3 || p[0] != ' ' || p[1] != '[' || !is_digit(p[2]))
        return NORM_NOMATCH;
    p++;
    norm_rec_clear(rec);

    int rc = norm_put_col(rec, "client_ip", client.s, client.n);
    if (rc == NORM_RECORD)
        rc = put_time(rec, &p, end);
    if (rc != NORM_RECORD)
        return rc;

    span_t req, status, bytes, ref = {NULL, 0}, agent = {NULL, 0};
    bool closed = false;
    skip_spaces(&p, end);
    if (!quoted(&p, end, &req, &closed) || !closed)
        return norm_bad(rec, "request: no quoted request line");
    skip_spaces(&p, end);
    status = word(&p, end);
    if (status.n != 3 || !is_digit(status.s[0]) || !is_digit(status.s[1]) ||
        !is_digit(status.s[2]) || status.s[0] == '0')
        return norm_bad(rec, "status: not a 3-digit code: '%.*s'", (int)status.n, status.s);
    skip_spaces(&p, end);
    bytes = word(&p, end);
    if (!dash(&bytes) && (rc = norm_put_col(rec, "bytes", bytes.s, bytes.n)) != NORM_RECORD)
        return rc;
    skip_spaces(&p, end);
    if (p < end) { /* combined */
        if (!quoted(&p, end, &ref, &closed))
            return norm_bad(rec, "referrer: not quoted: '%.*s'", (int)(end - p), p);
        skip_spaces(&p, end);
        if (closed && p < end && !quoted(&p, end, &agent, &closed))
            return norm_bad(rec, "user agent: not quoted: '%.*s'", (int)(end - p), p);
    }
    static const char dummy[] = "(internal dummy connection)";
    if (agent.n >= sizeof dummy - 1 && memmem(agent.s, agent.n, dummy, sizeof dummy - 1) != NULL)
        return NORM_SKIP;

    if (!dash(&user))
        rc = norm_put(rec, "user", user.s, user.n);
    if (rc == NORM_RECORD)
        rc = put_request(rec, req);
    if (rc == NORM_RECORD)
        rc = norm_put(rec, "status", status.s, status.n);
    if (rc == NORM_RECORD && !dash(&ref))
        rc = norm_put(rec, "referrer", ref.s, ref.n);
    if (rc == NORM_RECORD && !dash(&agent))
        rc = norm_put(rec, "user_agent", agent.s, agent.n);
    if (rc == NORM_RECORD && nginx && closed)
        rc = nginx_tail(rec, p, end);
    return rc;
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    return norm_access_parse(msg, len, env, rec, false);
}

const norm_format_t norm_apache = {"apache", "web", "Apache access log (common or combined)",
                                   parse};
