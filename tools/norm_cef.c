/*
 * norm_cef.c — ArcSight Common Event Format (norm.h), firewall schema.
 *
 *   CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
 *
 * Design:
 *  1. Certain test: "CEF:" and a digit, at the start of the message or after
 *     a space (some senders leave a host name before it). Then the seven
 *     header fields, split at '|' not escaped by '\' (the header escapes
 *     "\|" and "\\"); fewer than seven '|' is NORM_BAD.
 *  2. The extension is KEY=VALUE pairs; a value runs to the next " KEY=" (so
 *     it may hold spaces), trailing blanks trimmed; "\=" does not end a key,
 *     and "\=", "\\", "\n", "\r" (and "\|", which some senders write) are
 *     decoded into rec->buf, other backslashes kept. Text that is not
 *     KEY=VALUE is NORM_BAD.
 *  3. Mapping (short key or full ArcSight name, table `keys`): src/dst ->
 *     src_ip/dst_ip, spt/dpt -> ports, proto (name or number), act -> action
 *     lower-cased, suser -> user (duser when there is no suser), in/out ->
 *     bytes: CEF counts "in" (bytesIn) from source to destination, so it is
 *     bytes_out here (sent by the source), and "out" is bytes_in;
 *     deviceInbound/OutboundInterface -> src_zone/dst_zone, dvchost /
 *     deviceHostName -> device; rt -> ts.
 *  4. rt: epoch milliseconds (fewer than 12 digits are taken as seconds), or
 *     "MMM dd yyyy HH:mm:ss[.SSS][ zone]" with or without the year (a
 *     year-less time gets the year that puts it at most a day ahead of
 *     env->now_us), or "yyyy-MM-dd[T ]HH:mm:ss[.f][zone]". The zone may be
 *     "UTC", "GMT", "Z" or a numeric offset; without one the time is local in
 *     env->tz, unless dtz says UTC/GMT. Other zone names are NORM_BAD.
 *  5. An event without both src and dst (logins, system messages, session
 *     summaries without addresses) is not a traffic record: NORM_SKIP.
 */
#include <stdio.h>
#include <string.h>

#include "norm.h"

enum {
    F_SRC,
    F_DST,
    F_SPT,
    F_DPT,
    F_PROTO,
    F_ACT,
    F_SUSER,
    F_DUSER,
    F_IN,
    F_OUT,
    F_RT,
    F_DIN,
    F_DOUT,
    F_HOST,
    F_DTZ,
    F_N
};

static const struct {
    const char *key;
    int f;
} keys[] = {
    {"src", F_SRC},
    {"sourceAddress", F_SRC},
    {"dst", F_DST},
    {"destinationAddress", F_DST},
    {"spt", F_SPT},
    {"sourcePort", F_SPT},
    {"dpt", F_DPT},
    {"destinationPort", F_DPT},
    {"proto", F_PROTO},
    {"transportProtocol", F_PROTO},
    {"act", F_ACT},
    {"deviceAction", F_ACT},
    {"suser", F_SUSER},
    {"sourceUserName", F_SUSER},
    {"duser", F_DUSER},
    {"destinationUserName", F_DUSER},
    {"in", F_IN},
    {"bytesIn", F_IN},
    {"out", F_OUT},
    {"bytesOut", F_OUT},
    {"rt", F_RT},
    {"deviceReceiptTime", F_RT},
    {"deviceInboundInterface", F_DIN},
    {"deviceOutboundInterface", F_DOUT},
    {"dvchost", F_HOST},
    {"deviceHostName", F_HOST},
    {"dtz", F_DTZ},
    {"deviceTimeZone", F_DTZ},
};

typedef struct val {
    const char *s;
    size_t n;
} val_t;

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

/* Length of the key at s (KEY followed by '='), 0 if none. */
static size_t key_at(const char *s, const char *end)
{
    const char *k = s;
    while (k < end && is_key_char(*k))
        k++;
    return k > s && k < end && *k == '=' ? (size_t)(k - s) : 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decode the extension escapes of v into rec->buf (only when there is one). */
static int unescape(norm_rec_t *rec, val_t *v)
{
    if (memchr(v->s, '\\', v->n) == NULL)
        return NORM_RECORD;
    if (v->n + 1 > sizeof rec->buf - rec->used)
        return norm_bad(rec, "extension value too long");
    char *d = rec->buf + rec->used;
    size_t o = 0;
    for (size_t i = 0; i < v->n; i++) {
        char c = v->s[i];
        if (c == '\\' && i + 1 < v->n) {
            char e = v->s[i + 1];
            if (e == '=' || e == '\\' || e == '|' || e == 'n' || e == 'r') {
                c = e == 'n' ? '\n' : e == 'r' ? '\r' : e;
                i++;
            }
        }
        d[o++] = c;
    }
    d[o] = 0;
    rec->used += o + 1;
    v->s = d;
    v->n = o;
    return NORM_RECORD;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Read n digits at *s (advancing), false if they are not all digits. */
static bool num(const char **s, const char *end, size_t n, int *out)
{
    if ((size_t)(end - *s) < n || !all_digits(*s, n))
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + ((*s)[i] - '0');
    *s += n;
    *out = v;
    return true;
}

static bool is_utc_name(const char *s, size_t n)
{
    return (n == 3 && (memcmp(s, "UTC", 3) == 0 || memcmp(s, "GMT", 3) == 0)) ||
           (n == 1 && *s == 'Z') || (n == 7 && memcmp(s, "Etc/UTC", 7) == 0);
}

/* Wall-clock fields plus a zone text (n == 0: none) -> ts. */
static int put_fields(norm_rec_t *rec, const norm_env_t *env, bool dtz_utc, int y, int mo, int d,
                      int h, int mi, int sec, long usec, const char *z, size_t zn)
{
    if (zn == 0 && !dtz_utc)
        return norm_put_local_time(rec, "ts", env, y, mo, d, h, mi, sec, usec);
    char off[8] = "Z";
    if (zn > 0 && !is_utc_name(z, zn)) {
        /* +hh:mm, +hhmm, +hh */
        bool ok = (z[0] == '+' || z[0] == '-') && (zn == 3 || zn == 5 || zn == 6) &&
                  all_digits(z + 1, 2) &&
                  (zn == 3 || (zn == 5 && all_digits(z + 3, 2)) ||
                   (zn == 6 && z[3] == ':' && all_digits(z + 4, 2)));
        if (!ok)
            return norm_bad(rec, "rt: unknown time zone '%.*s'", (int)zn, z);
        snprintf(off, sizeof off, "%c%c%c:%c%c", z[0], z[1], z[2], zn == 3 ? '0' : z[zn - 2],
                 zn == 3 ? '0' : z[zn - 1]);
    }
    char txt[48];
    int k = snprintf(txt, sizeof txt, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld%s", y, mo, d, h, mi, sec,
                     usec, off);
    int64_t t;
    if (k < 0 || (size_t)k >= sizeof txt || colog_time_parse(txt, (size_t)k, 0, &t) != 0)
        return norm_bad(rec, "rt: not a valid time: '%s'", txt);
    return norm_put_time_us(rec, "ts", t);
}

/* The year in env->tz at env->now_us. */
static int year_now(const norm_env_t *env)
{
    char buf[48];
    colog_time_format(env->now_us, colog_tz_offset(env->tz, env->now_us), buf, sizeof buf);
    int y = 0;
    for (int i = 0; i < 4 && buf[i] >= '0' && buf[i] <= '9'; i++)
        y = y * 10 + (buf[i] - '0');
    return y;
}

static int put_rt(norm_rec_t *rec, const norm_env_t *env, val_t v, bool dtz_utc)
{
    const char *s = v.s, *end = v.s + v.n;
    int y = 0, mo, d, h, mi, sec;
    long usec = 0;
    if (all_digits(s, v.n)) {
        if (v.n > 16)
            return norm_bad(rec, "rt: epoch out of range: '%.*s'", (int)v.n, v.s);
        int64_t t = 0;
        for (size_t i = 0; i < v.n; i++)
            t = t * 10 + (s[i] - '0');
        return norm_put_time_us(rec, "ts", v.n < 12 ? t * 1000000 : t * 1000);
    }
    if (v.n >= 19 && s[4] == '-') {
        if (!norm_parse_ymdhms(s, v.n, &y, &mo, &d, &h, &mi, &sec, &usec))
            return norm_bad(rec, "rt: not a valid time: '%.*s'", (int)v.n, v.s);
        const char *z = s + 19;
        if (z < end && *z == '.')
            for (z++; z < end && *z >= '0' && *z <= '9';)
                z++;
        while (z < end && *z == ' ')
            z++;
        return put_fields(rec, env, dtz_utc, y, mo, d, h, mi, sec, usec, z, (size_t)(end - z));
    }
    /* MMM dd [yyyy ]HH:mm:ss[.SSS][ zone] */
    mo = v.n >= 4 && s[3] == ' ' ? norm_month(s) : 0;
    if (mo == 0)
        return norm_bad(rec, "rt: not a valid time: '%.*s'", (int)v.n, v.s);
    s += 3;
    while (s < end && *s == ' ')
        s++;
    if (!num(&s, end, end - s >= 2 && s[1] >= '0' && s[1] <= '9' ? 2 : 1, &d) || s == end ||
        *s++ != ' ')
        return norm_bad(rec, "rt: not a valid time: '%.*s'", (int)v.n, v.s);
    if (end - s >= 5 && s[4] == ' ') {
        if (!num(&s, end, 4, &y))
            return norm_bad(rec, "rt: not a valid year: '%.*s'", (int)v.n, v.s);
        s++;
    }
    if (!num(&s, end, 2, &h) || s == end || *s++ != ':' || !num(&s, end, 2, &mi) || s == end ||
        *s++ != ':' || !num(&s, end, 2, &sec))
        return norm_bad(rec, "rt: not a valid time: '%.*s'", (int)v.n, v.s);
    if (s < end && *s == '.') {
        long scale = 100000;
        for (s++; s < end && *s >= '0' && *s <= '9'; s++, scale /= 10)
            usec += (*s - '0') * scale;
    }
    while (s < end && *s == ' ')
        s++;
    if (y != 0)
        return put_fields(rec, env, dtz_utc, y, mo, d, h, mi, sec, usec, s, (size_t)(end - s));
    /* No year: this year, or last year if that is more than a day ahead. */
    y = year_now(env);
    int rc = put_fields(rec, env, dtz_utc, y, mo, d, h, mi, sec, usec, s, (size_t)(end - s));
    size_t n;
    const char *ts = norm_get(rec, "ts", &n);
    int64_t t;
    if (rc == NORM_RECORD && ts != NULL && colog_time_parse(ts, n, 0, &t) == 0 &&
        t > env->now_us + 86400LL * 1000000)
        rc = put_fields(rec, env, dtz_utc, y - 1, mo, d, h, mi, sec, usec, s, (size_t)(end - s));
    return rc;
}

/* Split the extension; fill f[] with the mapped keys' raw values. */
static int scan_ext(const char *p, const char *end, val_t *f, norm_rec_t *rec)
{
    for (;;) {
        while (p < end && is_blank(*p))
            p++;
        if (p >= end)
            return NORM_RECORD;
        size_t kl = key_at(p, end);
        if (kl == 0)
            return norm_bad(rec, "extension: expected key=value at '%.*s'",
                            (int)(end - p < 20 ? end - p : 20), p);
        const char *k = p, *v = p + kl + 1, *q = v;
        while (q < end && !(*q == ' ' && key_at(q + 1, end) > 0))
            q += *q == '\\' && q + 1 < end ? 2 : 1;
        const char *ve = q;
        while (ve > v && is_blank(ve[-1]))
            ve--;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strlen(keys[i].key) == kl && memcmp(keys[i].key, k, kl) == 0) {
                f[keys[i].f].s = v;
                f[keys[i].f].n = (size_t)(ve - v);
            }
        p = q;
    }
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    const char *p = NULL;
    for (size_t i = 0; i + 5 <= len && p == NULL; i++)
        if ((i == 0 || msg[i - 1] == ' ') && memcmp(msg + i, "CEF:", 4) == 0 && msg[i + 4] >= '0' &&
            msg[i + 4] <= '9')
            p = msg + i + 4;
    if (p == NULL)
        return NORM_NOMATCH;
    norm_rec_clear(rec);
    const char *end = msg + len;

    /* Header: seven fields, each ended by an unescaped '|'. */
    const char *ver = p;
    int pipes = 0;
    while (p < end && pipes < 7) {
        if (*p == '\\' && p + 1 < end)
            p++;
        else if (*p == '|')
            pipes++;
        p++;
    }
    if (pipes < 7)
        return norm_bad(rec, "CEF header: %d of 7 '|' separators", pipes);
    for (const char *q = ver; *q != '|'; q++)
        if (*q < '0' || *q > '9')
            return norm_bad(rec, "CEF header: version is not a number");

    val_t f[F_N];
    memset(f, 0, sizeof f);
    int rc = scan_ext(p, end, f, rec);
    if (rc != NORM_RECORD)
        return rc;
    if (f[F_SRC].n == 0 || f[F_DST].n == 0)
        return NORM_SKIP;
    for (int i = 0; i < F_N; i++)
        if (f[i].n > 0 && (rc = unescape(rec, &f[i])) != NORM_RECORD)
            return rc;

    /* Typed puts (norm_put_col): addresses and numbers are checked. */
    static const struct {
        int f;
        const char *col;
    } cols[] = {
        {F_SRC, "src_ip"},   {F_DST, "dst_ip"},
        {F_SPT, "src_port"}, {F_DPT, "dst_port"},
        {F_IN, "bytes_out"}, {F_OUT, "bytes_in"},
        {F_DIN, "src_zone"}, {F_DOUT, "dst_zone"},
        {F_HOST, "device"},  {F_ACT, "action"},
        {F_PROTO, "proto"},  {F_SUSER, "user"}, /* duser below only when there is no suser */
    };
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if ((rc = norm_put_col(rec, cols[i].col, f[cols[i].f].s, f[cols[i].f].n)) != NORM_RECORD)
            return rc;
    if (f[F_SUSER].n == 0 &&
        (rc = norm_put(rec, "user", f[F_DUSER].s, f[F_DUSER].n)) != NORM_RECORD)
        return rc;
    if (f[F_RT].n > 0)
        return put_rt(rec, env, f[F_RT], is_utc_name(f[F_DTZ].s, f[F_DTZ].n));
    return NORM_RECORD;
}

const norm_format_t norm_cef = {"cef", "firewall", "ArcSight Common Event Format (CEF)", parse};
