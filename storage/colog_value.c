/*
 * colog_value.c — scalar values: type names, IP addresses, times and days.
 *
 * Design:
 *  1. IPs are always 16 bytes; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d), so one
 *     column holds both families and all IPv4 addresses sort together by value.
 *     Parsing and formatting go through inet_pton/inet_ntop (no hand parser).
 *  2. Times are int64 microseconds since the epoch, UTC. Civil-date arithmetic
 *     uses Howard Hinnant's days_from_civil / civil_from_days algorithms, which
 *     are exact over the whole proleptic Gregorian calendar and need no tz state.
 *  3. Parsers take (s, len) and never read past len; they accept the whole input
 *     or fail (no trailing garbage).
 */
#include "colog_storage.h"

#include <arpa/inet.h>
#include <string.h>

static const char *const type_names[] = {
    [COLOG_T_TIME] = "time", [COLOG_T_IP] = "ip",   [COLOG_T_U8] = "u8",
    [COLOG_T_U16] = "u16",   [COLOG_T_U32] = "u32", [COLOG_T_U64] = "u64",
    [COLOG_T_I64] = "i64",   [COLOG_T_F64] = "f64", [COLOG_T_STRING] = "string",
};

const char *colog_type_name(colog_type_t t)
{
    if ((unsigned)t >= sizeof type_names / sizeof type_names[0])
        return NULL;
    return type_names[t];
}

int colog_type_parse(const char *name, colog_type_t *out)
{
    if (name == NULL || out == NULL)
        return COLOG_EINVAL;
    for (unsigned t = COLOG_T_TIME; t <= COLOG_T_STRING; t++) {
        if (strcmp(type_names[t], name) == 0) {
            *out = (colog_type_t)t;
            return 0;
        }
    }
    return COLOG_EPARSE;
}

uint64_t colog_type_umax(colog_type_t t)
{
    switch (t) {
    case COLOG_T_U8:
        return UINT8_MAX;
    case COLOG_T_U16:
        return UINT16_MAX;
    case COLOG_T_U32:
        return UINT32_MAX;
    case COLOG_T_U64:
        return UINT64_MAX;
    case COLOG_T_TIME:
    case COLOG_T_IP:
    case COLOG_T_I64:
    case COLOG_T_F64:
    case COLOG_T_STRING:
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- IPs */

int colog_ip_parse(const char *s, size_t len, colog_ip_t *out)
{
    char buf[64];
    /* The whole of s[0..len) must be the address: inet_pton would stop at a NUL. */
    if (s == NULL || out == NULL || len == 0 || len >= sizeof buf || memchr(s, 0, len) != NULL)
        return COLOG_EPARSE;
    memcpy(buf, s, len);
    buf[len] = 0;
    if (memchr(buf, ':', len) == NULL) {
        uint8_t v4[4];
        if (inet_pton(AF_INET, buf, v4) != 1)
            return COLOG_EPARSE;
        memset(out->b, 0, 10);
        out->b[10] = 0xff;
        out->b[11] = 0xff;
        memcpy(out->b + 12, v4, 4);
        return 0;
    }
    colog_ip_t ip;
    if (inet_pton(AF_INET6, buf, ip.b) != 1)
        return COLOG_EPARSE;
    *out = ip;
    return 0;
}

void colog_ip_format(const colog_ip_t *ip, char *buf, size_t cap)
{
    char tmp[INET6_ADDRSTRLEN];
    if (buf == NULL || cap == 0)
        return;
    if (ip == NULL) {
        buf[0] = 0;
        return;
    }
    if (colog_ip_is_v4(ip))
        inet_ntop(AF_INET, ip->b + 12, tmp, sizeof tmp);
    else
        inet_ntop(AF_INET6, ip->b, tmp, sizeof tmp);
    snprintf(buf, cap, "%s", tmp);
}

/* ---------------------------------------------------------------- civil dates */

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Read exactly n digits at s[*i]. */
static bool digits(const char *s, size_t len, size_t *i, unsigned n, unsigned *out)
{
    unsigned v = 0;
    if (*i + n > len)
        return false;
    for (unsigned k = 0; k < n; k++) {
        char c = s[*i + k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *i += n;
    *out = v;
    return true;
}

/* Parse "YYYY-MM-DD" at s[*i]; validates the calendar. */
static bool parse_date(const char *s, size_t len, size_t *i, int64_t *day)
{
    unsigned y, m, d;
    if (!digits(s, len, i, 4, &y) || *i >= len || s[(*i)++] != '-' || !digits(s, len, i, 2, &m) ||
        *i >= len || s[(*i)++] != '-' || !digits(s, len, i, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *day = days_from_civil(y, m, d);
    return true;
}

int colog_day_parse(const char *s, size_t len, int32_t *out)
{
    size_t i = 0;
    int64_t day;
    if (s == NULL || out == NULL || !parse_date(s, len, &i, &day) || i != len)
        return COLOG_EPARSE;
    *out = (int32_t)day;
    return 0;
}

void colog_day_format(int32_t day, char *buf, size_t cap)
{
    int64_t y;
    unsigned m, d;
    if (buf == NULL || cap == 0)
        return;
    civil_from_days(day, &y, &m, &d);
    snprintf(buf, cap, "%04lld-%02u-%02u", (long long)y, m, d);
}

/* Epoch seconds, optionally fractional: "1772366400", "1772366400.25". */
static int parse_epoch(const char *s, size_t len, int64_t *out_us)
{
    size_t i = 0;
    bool neg = false;
    int64_t sec = 0, frac = 0;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (sec > (INT64_MAX / 1000000 - 9) / 10)
            return COLOG_ERANGE;
        sec = sec * 10 + (s[i] - '0');
        i++;
    }
    if (i == start)
        return COLOG_EPARSE;
    if (i < len && s[i] == '.') {
        i++;
        size_t fstart = i;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == fstart)
            return COLOG_EPARSE;
    }
    if (i != len)
        return COLOG_EPARSE;
    int64_t us = sec * 1000000 + frac;
    *out_us = neg ? -us : us;
    return 0;
}

/* Times colog accepts: years 0000 to 9999, so that every stored time prints as
 * RFC 3339 and names a day directory YYYY-MM-DD that reads back. */
#define TIME_MIN_US (-62167219200LL * 1000000)     /* 0000-01-01T00:00:00Z */
#define TIME_MAX_US (253402300800LL * 1000000 - 1) /* 9999-12-31T23:59:59.999999Z */

static int time_in_range(int rc, int64_t t, int64_t *out_us)
{
    if (rc)
        return rc;
    if (t < TIME_MIN_US || t > TIME_MAX_US)
        return COLOG_ERANGE;
    *out_us = t;
    return 0;
}

static int time_parse(const char *s, size_t len, int32_t tz_off_s, int64_t *out_us);

int colog_time_parse(const char *s, size_t len, int32_t tz_off_s, int64_t *out_us)
{
    int64_t t = 0;
    if (out_us == NULL)
        return COLOG_EPARSE;
    int rc = time_parse(s, len, tz_off_s, &t);
    return time_in_range(rc, t, out_us);
}

static int time_parse(const char *s, size_t len, int32_t tz_off_s, int64_t *out_us)
{
    size_t i = 0;
    int64_t day;
    if (s == NULL || out_us == NULL || len == 0)
        return COLOG_EPARSE;
    /* A date starts with 4 digits and a dash; anything else is epoch seconds. */
    if (!(len >= 5 && s[4] == '-'))
        return parse_epoch(s, len, out_us);
    if (!parse_date(s, len, &i, &day))
        return COLOG_EPARSE;
    if (i == len) {
        *out_us = (day * 86400 - tz_off_s) * 1000000;
        return 0;
    }
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
        return COLOG_EPARSE;
    i++;
    unsigned hh, mm, ss;
    if (!digits(s, len, &i, 2, &hh) || i >= len || s[i++] != ':' || !digits(s, len, &i, 2, &mm) ||
        i >= len || s[i++] != ':' || !digits(s, len, &i, 2, &ss))
        return COLOG_EPARSE;
    if (hh > 23 || mm > 59 || ss > 60) /* 60: a leap second, folded into the next */
        return COLOG_EPARSE;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t fstart = i;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale; /* digits past µs are truncated */
            scale /= 10;
            i++;
        }
        if (i == fstart || i - fstart > 9)
            return COLOG_EPARSE;
    }
    int64_t off = 0;
    if (i == len) {
        off = tz_off_s; /* no zone: the caller's default zone */
    } else if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        unsigned oh, om;
        i++;
        if (!digits(s, len, &i, 2, &oh))
            return COLOG_EPARSE;
        if (i < len && s[i] == ':')
            i++;
        if (!digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
            return COLOG_EPARSE;
        off = sign * (int64_t)(oh * 3600 + om * 60);
    } else {
        return COLOG_EPARSE;
    }
    if (i != len)
        return COLOG_EPARSE;
    int64_t secs = day * 86400 + hh * 3600 + mm * 60 + ss - off;
    *out_us = secs * 1000000 + frac;
    return 0;
}

void colog_time_format(int64_t t_us, int32_t off_s, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return;
    int64_t local; /* saturated: times are years 0000-9999, but any int64 must be safe */
    if (__builtin_add_overflow(t_us, (int64_t)off_s * 1000000, &local))
        local = t_us > 0 ? INT64_MAX : INT64_MIN;
    int64_t secs = local / 1000000, us = local % 1000000;
    if (us < 0) {
        us += 1000000;
        secs--;
    }
    int64_t day = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        day--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    char zone[16];
    if (off_s == 0) {
        snprintf(zone, sizeof zone, "Z");
    } else {
        int64_t a = off_s < 0 ? -(int64_t)off_s : off_s;
        snprintf(zone, sizeof zone, "%c%02lld:%02lld", off_s < 0 ? '-' : '+', (long long)(a / 3600),
                 (long long)(a % 3600 / 60));
    }
    if (us)
        snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02d.%06lld%s", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod % 3600 / 60), (int)(sod % 60), (long long)us, zone);
    else
        snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02d%s", (long long)y, m, d,
                 (int)(sod / 3600), (int)(sod % 3600 / 60), (int)(sod % 60), zone);
}
