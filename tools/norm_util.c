/*
 * norm_util.c — helpers shared by the log-format normalizers (norm.h): field
 * records, times, protocol names and a key=value scanner.
 */
#include <stdio.h>
#include <string.h>

#include "norm.h"

void norm_rec_clear(norm_rec_t *rec)
{
    rec->n = 0;
    rec->used = 0;
    rec->why[0] = 0;
}

int norm_bad(norm_rec_t *rec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->why, sizeof rec->why, fmt, ap);
    va_end(ap);
    return NORM_BAD;
}

int norm_put(norm_rec_t *rec, const char *name, const char *v, size_t len)
{
    if (len == 0)
        return NORM_RECORD;
    for (unsigned i = 0; i < rec->n; i++)
        if (strcmp(rec->name[i], name) == 0) {
            rec->val[i] = v;
            rec->len[i] = len;
            return NORM_RECORD;
        }
    if (rec->n == NORM_MAX_FIELDS)
        return norm_bad(rec, "more than %d fields", NORM_MAX_FIELDS);
    rec->name[rec->n] = name;
    rec->val[rec->n] = v;
    rec->len[rec->n] = len;
    rec->n++;
    return NORM_RECORD;
}

int norm_putf(norm_rec_t *rec, const char *name, const char *fmt, ...)
{
    size_t room = sizeof rec->buf - rec->used;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(rec->buf + rec->used, room, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= room)
        return norm_bad(rec, "%s: value too long", name);
    const char *v = rec->buf + rec->used;
    rec->used += (size_t)k + 1;
    return norm_put(rec, name, v, (size_t)k);
}

int norm_put_lower(norm_rec_t *rec, const char *name, const char *s, size_t len)
{
    if (len + 1 > sizeof rec->buf - rec->used)
        return norm_bad(rec, "%s: value too long", name);
    char *d = rec->buf + rec->used;
    for (size_t i = 0; i < len; i++)
        d[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    d[len] = 0;
    rec->used += len + 1;
    return norm_put(rec, name, d, len);
}

const char *norm_get(const norm_rec_t *rec, const char *name, size_t *len)
{
    for (unsigned i = 0; i < rec->n; i++)
        if (strcmp(rec->name[i], name) == 0) {
            if (len)
                *len = rec->len[i];
            return rec->val[i];
        }
    return NULL;
}

int norm_put_time_us(norm_rec_t *rec, const char *name, int64_t t_us)
{
    char tmp[48];
    colog_time_format(t_us, 0, tmp, sizeof tmp);
    return norm_putf(rec, name, "%s", tmp);
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int norm_put_local_time(norm_rec_t *rec, const char *name, const norm_env_t *env, int y, int mo,
                        int d, int h, int mi, int s, long usec)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && leap(y)) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
        s > 60 || usec < 0 || usec > 999999)
        return norm_bad(rec, "%s: not a valid time (%04d-%02d-%02d %02d:%02d:%02d)", name, y, mo, d,
                        h, mi, s);
    if (s == 60)
        s = 59; /* a leap second: the last second of the minute */
    int64_t t = colog_tz_local_to_utc(env->tz, y, mo, d, h, mi, s);
    return norm_put_time_us(rec, name, t + usec);
}

const char *norm_proto_name(const char *s, size_t len, char *tmp)
{
    static const struct {
        const char *name;
        int num;
    } tab[] = {{"icmp", 1}, {"igmp", 2}, {"tcp", 6},     {"udp", 17},  {"gre", 47},
               {"esp", 50}, {"ah", 51},  {"icmpv6", 58}, {"sctp", 132}};
    bool digits = len > 0 && len <= 3;
    int num = 0;
    for (size_t i = 0; i < len && digits; i++) {
        digits = s[i] >= '0' && s[i] <= '9';
        num = num * 10 + (s[i] - '0');
    }
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        if (digits && tab[i].num == num)
            return tab[i].name;
        size_t n = strlen(tab[i].name);
        if (!digits && n == len) {
            bool eq = true;
            for (size_t k = 0; k < n && eq; k++) {
                char c = s[k] >= 'A' && s[k] <= 'Z' ? (char)(s[k] - 'A' + 'a') : s[k];
                eq = c == tab[i].name[k];
            }
            if (eq)
                return tab[i].name;
        }
    }
    if (digits) {
        snprintf(tmp, 4, "%d", num);
        return tmp;
    }
    return NULL;
}

bool norm_kv_next(const char **p, const char *end, norm_kv_t *kv)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s >= end)
        return false;
    const char *k = s;
    while (s < end && *s != '=' && *s != ' ' && *s != '\t')
        s++;
    kv->k = k;
    kv->klen = (size_t)(s - k);
    if (s >= end || *s != '=') {
        kv->v = NULL;
        kv->vlen = 0;
        *p = s;
        return true;
    }
    s++; /* '=' */
    if (s < end && *s == '"') {
        const char *v = ++s;
        while (s < end && *s != '"')
            s++;
        kv->v = v;
        kv->vlen = (size_t)(s - v);
        if (s < end)
            s++; /* closing quote */
    } else {
        const char *v = s;
        while (s < end && *s != ' ' && *s != '\t')
            s++;
        kv->v = v;
        kv->vlen = (size_t)(s - v);
    }
    *p = s;
    return true;
}

static bool digits_at(const char *s, size_t len, size_t off, size_t n, int *out)
{
    if (off + n > len)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[off + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
}

bool norm_parse_ymdhms(const char *s, size_t len, int *y, int *mo, int *d, int *h, int *mi,
                       int *sec, long *usec)
{
    /* YYYY-MM-DD[ T]HH:MM:SS[.ffffff] */
    if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
        s[16] != ':')
        return false;
    if (!digits_at(s, len, 0, 4, y) || !digits_at(s, len, 5, 2, mo) ||
        !digits_at(s, len, 8, 2, d) || !digits_at(s, len, 11, 2, h) ||
        !digits_at(s, len, 14, 2, mi) || !digits_at(s, len, 17, 2, sec))
        return false;
    *usec = 0;
    if (len > 19 && s[19] == '.') {
        long f = 0, scale = 100000;
        size_t i = 20;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (scale > 0)
                f += (s[i] - '0') * scale;
            scale /= 10;
        }
        *usec = f;
    }
    return true;
}

int norm_month(const char *s)
{
    static const char m[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (s[0] == m[3 * i] && s[1] == m[3 * i + 1] && s[2] == m[3 * i + 2])
            return i + 1;
    return 0;
}

/* How norm_put_col checks a column: a number's upper bound, or a kind. */
enum { COL_STR, COL_IP, COL_NUM, COL_PROTO, COL_LOWER };
static const struct {
    const char *name;
    int kind;
    uint64_t max;
} col_types[] = {
    {"src_ip", COL_IP, 0},
    {"dst_ip", COL_IP, 0},
    {"client_ip", COL_IP, 0},
    {"src_port", COL_NUM, UINT16_MAX},
    {"dst_port", COL_NUM, UINT16_MAX},
    {"status", COL_NUM, UINT16_MAX},
    {"policy", COL_NUM, UINT32_MAX},
    {"duration", COL_NUM, UINT32_MAX},
    {"duration_ms", COL_NUM, UINT32_MAX},
    {"bytes", COL_NUM, UINT64_MAX},
    {"bytes_out", COL_NUM, UINT64_MAX},
    {"bytes_in", COL_NUM, UINT64_MAX},
    {"proto", COL_PROTO, 0},
    {"action", COL_LOWER, 0},
};

int norm_put_col(norm_rec_t *rec, const char *name, const char *v, size_t len)
{
    int kind = COL_STR;
    uint64_t max = 0;
    if (len == 0)
        return NORM_RECORD; /* like norm_put: an empty value is no value */
    for (size_t i = 0; i < sizeof col_types / sizeof col_types[0]; i++)
        if (strcmp(col_types[i].name, name) == 0) {
            kind = col_types[i].kind;
            max = col_types[i].max;
        }
    int shown = len > 64 ? 64 : (int)len;
    switch (kind) {
    case COL_IP: {
        colog_ip_t ip;
        if (colog_ip_parse(v, len, &ip) != 0)
            return norm_bad(rec, "%s: not an IP address: %.*s", name, shown, v);
        break;
    }
    case COL_NUM: {
        uint64_t n = 0;
        bool ok = len > 0;
        for (size_t i = 0; i < len && ok; i++) {
            ok = v[i] >= '0' && v[i] <= '9' && n <= (max - (uint64_t)(v[i] - '0')) / 10;
            n = n * 10 + (uint64_t)(v[i] - '0');
        }
        if (!ok)
            return norm_bad(rec, "%s: not a number up to %llu: %.*s", name, (unsigned long long)max,
                            shown, v);
        break;
    }
    case COL_PROTO: {
        char tmp[4];
        const char *p = norm_proto_name(v, len, tmp);
        if (p == NULL)
            return norm_put_lower(rec, name, v, len);
        return norm_putf(rec, name, "%s", p);
    }
    case COL_LOWER:
        return norm_put_lower(rec, name, v, len);
    }
    return norm_put(rec, name, v, len);
}
