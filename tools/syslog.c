/*
 * syslog.c — split a syslog line into its header and its message (norm.h).
 *
 * Design:
 *  1. "<PRI>" (1-3 digits, 0..191) is taken if present. Then, in order:
 *     RFC 5424 ("1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]"; without
 *     a PRI only if TIMESTAMP is a real time), an RFC 3164 style header (a
 *     BSD time "Mmm dd hh:mm:ss", Cisco's "Mmm dd yyyy hh:mm:ss[ ZONE]", or an
 *     ISO time as rsyslog's RSYSLOG_ForwardFormat / FileFormat send, then
 *     host and tag), else no header: the message is everything after the PRI.
 *  2. The host of a 3164 header is optional and the header does not say
 *     whether it is there. The word W after the time is the host when it is
 *     hostname-shaped ([A-Za-z0-9._:-], not all digits, not "TAG:" or
 *     "TAG[PID]:") and something follows it, unless the next word is "-" (an
 *     access log line "IP - user [...]" sent without a host). "W:" is also the
 *     host when the next word starts with '%' (Cisco "HOST: %ASA-..."). So
 *     "mymachine su: x" has host mymachine and tag su; "su: x", "%ASA-6-...",
 *     "filterlog[72237]: x" and "1,2012/10/30 ..." have no host.
 *  3. A tag ("name:" or "name[pid]:", name of [A-Za-z0-9_./@-]) after the
 *     host is app; the message follows its colon and one space. A lone ":"
 *     word (ASA "HOST : %ASA-...") is skipped.
 *  4. A time without a year gets the latest year (tried from the year of
 *     env->now_us in env->tz plus one, downwards) that puts it at most one day
 *     after env->now_us: closest before the clock, allowing the skew the
 *     ingest "1 day ahead" rule allows. Times without a zone are local times
 *     in env->tz; ISO/5424 offsets and a few zone names (UTC, GMT, the US
 *     zones, CET/CEST, EET/EEST, JST) are honoured.
 *  5. RFC 5424 structured data is scanned leniently: quoted values may hold
 *     ']' and '\'-escapes; unquoted values (devices that send typographic
 *     quotes) run to the next space or ']'. An element that never closes
 *     makes the rest of the line message (sd NULL). A UTF-8 BOM before MSG is
 *     dropped.
 *
 * Invariants: every read is at an index < len (the line need not be
 * NUL-terminated); out is fully written whatever the input; all pointers
 * returned point into line.
 */
#include <string.h>

#include "norm.h"

#define US 1000000LL
#define DAY_US (86400 * US)

/* ---------------------------------------------------------------- characters and times */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* n digits at s[i..i+n) (all inside len) into *v. */
static bool digits(const char *s, size_t len, size_t i, size_t n, int *v)
{
    if (i > len || n > len - i)
        return false;
    int x = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(s[i + k]))
            return false;
        x = x * 10 + (s[i + k] - '0');
    }
    *v = x;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int year_of_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return (int)(yoe + era * 400 + (m <= 2));
}

static bool valid_date(int y, int mo, int d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[mo - 1] + (mo == 2 && leap);
}

/* Wall-clock fields of a header time; off_s is the zone offset, or NO_OFF for a
 * local time in env->tz. */
#define NO_OFF (-1000000)

typedef struct hdrtime {
    int y, mo, d, h, mi, s; /* y 0: none given */
    long usec;
    int off_s;
} hdrtime_t;

/* Fraction ".d+" at s[*i]: microseconds (more digits are truncated). */
static long fraction(const char *s, size_t len, size_t *i)
{
    if (*i >= len || s[*i] != '.' || *i + 1 >= len || !is_digit(s[*i + 1]))
        return 0;
    long f = 0, scale = 100000;
    for ((*i)++; *i < len && is_digit(s[*i]); (*i)++) {
        f += (s[*i] - '0') * scale;
        scale /= 10;
    }
    return f;
}

/* "hh:mm:ss[.frac]" at s[*i]. */
static bool clock_time(const char *s, size_t len, size_t *i, hdrtime_t *t)
{
    size_t p = *i;
    if (!digits(s, len, p, 2, &t->h) || p + 2 >= len || s[p + 2] != ':' ||
        !digits(s, len, p + 3, 2, &t->mi) || p + 5 >= len || s[p + 5] != ':' ||
        !digits(s, len, p + 6, 2, &t->s))
        return false;
    if (t->h > 23 || t->mi > 59 || t->s > 60)
        return false;
    p += 8;
    t->usec = fraction(s, len, &p);
    *i = p;
    return true;
}

/* UTC µs of t, or false if it is no valid time. */
static bool to_utc(const hdrtime_t *t, const norm_env_t *env, int64_t *out)
{
    if (!valid_date(t->y, t->mo, t->d))
        return false;
    int s = t->s == 60 ? 59 : t->s; /* a leap second: the last second of the minute */
    int64_t u;
    if (t->off_s != NO_OFF) {
        int64_t secs = days_from_civil(t->y, t->mo, t->d) * 86400 + t->h * 3600 + t->mi * 60 + s;
        u = (secs - t->off_s) * US;
    } else {
        if (env->tz == NULL)
            return false;
        u = colog_tz_local_to_utc(env->tz, t->y, t->mo, t->d, t->h, t->mi, s);
    }
    *out = u + t->usec;
    return true;
}

/* A year-less time: the latest year that puts it at most a day past now (design 4). */
static bool to_utc_yearless(hdrtime_t *t, const norm_env_t *env, int64_t *out)
{
    if (env->tz == NULL)
        return false;
    int64_t now = env->now_us;
    int64_t local_s = now / US + colog_tz_offset(env->tz, now);
    int64_t days = local_s / 86400 - (local_s % 86400 < 0);
    int y0 = year_of_days(days);
    for (int y = y0 + 1; y >= y0 - 8; y--) {
        t->y = y;
        int64_t u;
        if (to_utc(t, env, &u) && u <= now + DAY_US) {
            *out = u;
            return true;
        }
    }
    return false;
}

/* "Z", "+hh:mm", "+hhmm", "+hh" at s[*i]; false if none. */
static bool iso_offset(const char *s, size_t len, size_t *i, int *off_s)
{
    size_t p = *i;
    if (p >= len)
        return false;
    if (s[p] == 'Z' || s[p] == 'z') {
        *off_s = 0;
        *i = p + 1;
        return true;
    }
    if (s[p] != '+' && s[p] != '-')
        return false;
    int sign = s[p] == '-' ? -1 : 1, hh, mm = 0;
    if (!digits(s, len, p + 1, 2, &hh) || hh > 23)
        return false;
    p += 3;
    if (p < len && s[p] == ':') {
        if (!digits(s, len, p + 1, 2, &mm))
            return false;
        p += 3;
    } else if (digits(s, len, p, 2, &mm)) {
        p += 2;
    }
    if (mm > 59)
        return false;
    *off_s = sign * (hh * 3600 + mm * 60);
    *i = p;
    return true;
}

/* "YYYY-MM-DDThh:mm:ss[.frac][offset]" at s[*i], ending at a space or the end. */
static bool iso_time(const char *s, size_t len, size_t *i, hdrtime_t *t)
{
    size_t p = *i;
    if (!digits(s, len, p, 4, &t->y) || p + 4 >= len || s[p + 4] != '-' ||
        !digits(s, len, p + 5, 2, &t->mo) || p + 7 >= len || s[p + 7] != '-' ||
        !digits(s, len, p + 8, 2, &t->d) || p + 10 >= len || (s[p + 10] != 'T' && s[p + 10] != 't'))
        return false;
    p += 11;
    if (!clock_time(s, len, &p, t))
        return false;
    t->off_s = NO_OFF;
    iso_offset(s, len, &p, &t->off_s);
    if (p < len && s[p] != ' ')
        return false;
    *i = p;
    return true;
}

/* A zone name after a BSD time ("EDT"), followed by ':', ' ' or the end. */
static bool zone_name(const char *s, size_t len, size_t *i, int *off_s)
{
    static const struct {
        const char *name;
        int off_h;
    } zones[] = {{"UTC", 0},  {"GMT", 0},  {"EST", -5}, {"EDT", -4}, {"CST", -6},
                 {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7},
                 {"CET", 1},  {"CEST", 2}, {"EET", 2},  {"EEST", 3}, {"JST", 9}};
    size_t p = *i, n = 0;
    while (p + n < len && n < 5 && s[p + n] >= 'A' && s[p + n] <= 'Z')
        n++;
    if (p + n < len && s[p + n] != ':' && s[p + n] != ' ')
        return false;
    for (size_t k = 0; k < sizeof zones / sizeof zones[0]; k++)
        if (strlen(zones[k].name) == n && memcmp(zones[k].name, s + p, n) == 0) {
            *off_s = zones[k].off_h * 3600;
            *i = p + n;
            return true;
        }
    return false;
}

/* "[*.]Mmm [d]d [yyyy ]hh:mm:ss[.frac][ ZONE]" at s[*i]. */
static bool bsd_time(const char *s, size_t len, size_t *i, hdrtime_t *t)
{
    size_t p = *i;
    if (p < len && (s[p] == '*' || s[p] == '.'))
        p++; /* Cisco: clock not synchronised */
    if (p + 3 >= len || !is_alpha(s[p]) || s[p + 3] != ' ')
        return false;
    t->mo = norm_month(s + p);
    if (t->mo == 0)
        return false;
    p += 4;
    if (p < len && s[p] == ' ')
        p++; /* "Jan  8" */
    if (digits(s, len, p, 2, &t->d))
        p += 2;
    else if (digits(s, len, p, 1, &t->d))
        p += 1;
    else
        return false;
    if (p >= len || s[p] != ' ')
        return false;
    p++;
    t->y = 0;
    if (digits(s, len, p, 4, &t->y) && p + 4 < len && s[p + 4] == ' ')
        p += 5; /* Cisco "Apr 15 2013 09:36:50" */
    else
        t->y = 0;
    if (!clock_time(s, len, &p, t))
        return false;
    t->off_s = NO_OFF;
    if (p + 1 < len && s[p] == ' ') {
        size_t q = p + 1;
        if (zone_name(s, len, &q, &t->off_s))
            p = q;
    }
    if (p < len && s[p] != ' ' && s[p] != ':')
        return false;
    *i = p;
    return true;
}

/* ---------------------------------------------------------------- words */

/* End of the word starting at i (next space or len). */
static size_t word_end(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] != ' ')
        i++;
    return i;
}

static size_t skip_spaces(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] == ' ')
        i++;
    return i;
}

static bool is_tag_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == '@';
}

/* s[a..b) is "name:" or "name[pid]:"; *nend = end of name. */
static bool is_tag(const char *s, size_t a, size_t b, size_t *nend)
{
    if (b - a < 2 || s[b - 1] != ':')
        return false;
    size_t i = a;
    while (i < b - 1 && is_tag_char(s[i]))
        i++;
    if (i == a || i - a > 48)
        return false;
    *nend = i;
    if (i == b - 1)
        return true;
    if (s[i] != '[' || s[b - 2] != ']' || b - 2 <= i + 1)
        return false;
    for (size_t k = i + 1; k < b - 2; k++)
        if (s[k] == '[' || s[k] == ']')
            return false;
    return true;
}

static bool is_hostname(const char *s, size_t a, size_t b)
{
    if (b <= a || b - a > 255)
        return false;
    bool nondigit = false;
    for (size_t i = a; i < b; i++) {
        char c = s[i];
        if (!(is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_' || c == ':'))
            return false;
        nondigit |= !is_digit(c);
    }
    return nondigit && s[b - 1] != ':';
}

/* Host, tag and message after a 3164 time, from s[i] (design 2, 3). */
static void after_bsd_time(const char *s, size_t len, size_t i, syslog_msg_t *out)
{
    if (i < len && s[i] == ':')
        i++; /* Cisco "09:36:50: %ASA-..." */
    i = skip_spaces(s, len, i);
    size_t we = word_end(s, len, i), nend;
    size_t next = skip_spaces(s, len, we), ne = word_end(s, len, next);
    if (we - i == 1 && s[i] == ':') {
        i = next; /* "09:36:50 : %ASA-..." */
    } else if (next < len && !is_tag(s, i, we, &nend) && is_hostname(s, i, we) &&
               !(ne - next == 1 && s[next] == '-')) {
        out->host = s + i;
        out->hostlen = we - i;
        i = next;
    } else if (next < len && we - i >= 2 && s[we - 1] == ':' && s[next] == '%' && s[i] != '%') {
        out->host = s + i; /* Cisco "HOST: %ASA-..." */
        out->hostlen = we - 1 - i;
        i = next;
    }
    we = word_end(s, len, i);
    if (we - i == 1 && s[i] == ':') {
        i = skip_spaces(s, len, we); /* "HOST : %ASA-..." */
    } else if (is_tag(s, i, we, &nend)) {
        out->app = s + i;
        out->applen = nend - i;
        i = we < len ? we + 1 : we;
    }
    out->msg = s + i;
    out->msglen = len - i;
}

/* ---------------------------------------------------------------- RFC 5424 */

/* End of the SD element starting at s[i] == '[' (just past its ']'), or 0. */
static size_t sd_element_end(const char *s, size_t len, size_t i)
{
    bool quoted = false;
    for (size_t k = i + 1; k < len; k++) {
        if (quoted) {
            if (s[k] == '\\')
                k++;
            else if (s[k] == '"')
                quoted = false;
        } else if (s[k] == '"') {
            quoted = true;
        } else if (s[k] == ']') {
            return k + 1;
        }
    }
    /* an unbalanced quote: the first ']' then */
    const char *rb = memchr(s + i, ']', len - i);
    return rb ? (size_t)(rb - s) + 1 : 0;
}

/* An RFC 5424 header at s[i] ("1 ..."); false (out untouched) if it is not one. */
static bool rfc5424(const char *s, size_t len, size_t i, bool pri, const norm_env_t *env,
                    syslog_msg_t *out)
{
    if (i + 1 >= len || s[i] != '1' || s[i + 1] != ' ')
        return false;
    size_t p = i + 2;
    int64_t ts = 0;
    if (p < len && s[p] == '-' && (p + 1 == len || s[p + 1] == ' ')) {
        if (!pri)
            return false;
        p++;
    } else {
        hdrtime_t t;
        if (!iso_time(s, len, &p, &t) || !to_utc(&t, env, &ts))
            return false;
    }
    /* HOSTNAME APP-NAME PROCID MSGID: printable words, "-" for none */
    const char *f[4] = {NULL, NULL, NULL, NULL};
    size_t fl[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4 && p < len; k++) {
        p++; /* the space */
        size_t e = word_end(s, len, p);
        if (!(e - p == 1 && s[p] == '-')) {
            f[k] = s + p;
            fl[k] = e - p;
        }
        p = e;
    }
    out->kind = 5424;
    out->ts_us = ts;
    out->host = fl[0] ? f[0] : NULL;
    out->hostlen = fl[0];
    out->app = fl[1] ? f[1] : NULL;
    out->applen = fl[1];
    if (p < len)
        p++; /* the space */
    if (p < len && s[p] == '-' && (p + 1 == len || s[p + 1] == ' ')) {
        p++;
    } else if (p < len && s[p] == '[') {
        size_t a = p, e;
        while (p < len && s[p] == '[' && (e = sd_element_end(s, len, p)) != 0)
            p = e;
        if (p > a) {
            out->sd = s + a;
            out->sdlen = p - a;
        }
    }
    if (p < len && s[p] == ' ')
        p++;
    if (len - p >= 3 && memcmp(s + p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    out->msg = s + p;
    out->msglen = len - p;
    return true;
}

/* ---------------------------------------------------------------- entry point */

void syslog_parse(const char *line, size_t len, const norm_env_t *env, syslog_msg_t *out)
{
    memset(out, 0, sizeof *out);
    out->pri = -1;
    out->msg = line;
    out->msglen = len;
    if (line == NULL) {
        out->msg = "";
        out->msglen = 0;
        return;
    }
    size_t i = 0;
    if (len >= 3 && line[0] == '<') {
        int pri = 0;
        size_t k = 1;
        while (k < len && k <= 3 && is_digit(line[k]))
            pri = pri * 10 + (line[k++] - '0');
        if (k > 1 && k < len && line[k] == '>' && pri <= 191) {
            out->pri = pri;
            i = k + 1;
            out->msg = line + i;
            out->msglen = len - i;
        }
    }
    if (rfc5424(line, len, i, out->pri >= 0, env, out))
        return;
    hdrtime_t t;
    size_t p = i;
    bool ok;
    if (iso_time(line, len, &p, &t))
        ok = to_utc(&t, env, &out->ts_us);
    else if (bsd_time(line, len, &p, &t))
        ok = t.y ? to_utc(&t, env, &out->ts_us) : to_utc_yearless(&t, env, &out->ts_us);
    else
        return;
    if (!ok) {
        out->ts_us = 0; /* a time that does not exist: no header */
        return;
    }
    out->kind = 3164;
    after_bsd_time(line, len, p, out);
}
