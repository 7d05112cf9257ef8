/*
 * norm_panos.c — Palo Alto Networks PAN-OS TRAFFIC logs, syslog CSV (norm.h).
 *
 *   1,2012/10/30 09:46:12,01606001116,TRAFFIC,start,1,2012/04/10 04:39:58,192.168.0.2,
 *   67.43.156.12,0.0.0.0,0.0.0.0,rule1,crusher,,web-browsing,vsys1,trust,untrust,ethernet1/2,
 *   ethernet1/1,forwardAll,2012/04/10 04:39:59,11449,1,59324,80,0,0,0x200000,tcp,allow,78,78,0,1,
 *   2012/04/10 04:39:59,0,any,0,0,0x0,192.168.0.0-192.168.255.255,United States,0,1,0
 *
 * Field layout (0-based; PAN-OS "Syslog Field Descriptions: Traffic Log
 * Fields", unchanged in its first 53 fields from 6.x to 11.x; later versions
 * only append): 0 FUTURE_USE, 1 receive time, 2 serial, 3 type, 4 subtype,
 * 6 generated time, 7 source, 8 destination, 11 rule, 12 source user,
 * 16 from zone, 17 to zone, 24 source port, 25 destination port, 29 protocol,
 * 30 action, 32 bytes sent (client to server), 33 bytes received, 36 elapsed
 * time (s), 52 device name (PAN-OS 8.0+).
 *
 * A message is PAN-OS's when field 1 is a "YYYY/MM/DD HH:MM:SS" time and field 3
 * an upper-case type word; field 0 absorbs whatever the syslog layer left
 * before the "1," (a year-less header without a host is easy to misread).
 * TRAFFIC is a record (start, end, drop, deny subtypes alike); THREAT, SYSTEM,
 * CONFIG and every other type are NORM_SKIP.
 *
 * ts is the generated time (when the dataplane logged it; receive time is when
 * the management plane got it), local time in env->tz. The rule is a name: it
 * fills the u32 policy column only when it is a number.
 *
 * CSV per PAN-OS's escape rules: a field holding ',' or '"' is enclosed in
 * double quotes and a '"' inside is doubled. split() cuts the fields without
 * copying; a field with a doubled quote is unescaped into rec->buf when put.
 * (colog's CSV reader reads files, 4 MiB at a time: it does not fit one line.)
 */
#include <string.h>

#include "norm.h"

#define MAX_FIELDS 64

static const struct {
    int idx;
    const char *col;
    bool numeric_only; /* put only when a number (else leave the column out) */
} cols[] = {
    {7, "src_ip", false},    {8, "dst_ip", false},     {11, "policy", true},
    {12, "user", false},     {16, "src_zone", false},  {17, "dst_zone", false},
    {24, "src_port", false}, {25, "dst_port", false},  {29, "proto", false},
    {30, "action", false},   {32, "bytes_out", false}, {33, "bytes_in", false},
    {36, "duration", false}, {52, "device", false},
};

typedef struct fld {
    const char *s;
    size_t len;
    bool esc; /* holds a doubled quote */
} fld_t;

/* Cut p..end into at most max fields; the number of fields. *unclosed is set when
 * the last one is a quoted field that is never closed. */
static int split(const char *p, const char *end, fld_t *f, int max, bool *unclosed)
{
    int n = 0;
    *unclosed = false;
    for (;;) {
        if (n == max)
            return n;
        fld_t *x = &f[n++];
        x->esc = false;
        if (p < end && *p == '"') {
            x->s = ++p;
            while (p < end && !(*p == '"' && (p + 1 == end || p[1] != '"')))
                p += *p == '"' ? 2 : 1; /* "" inside */
            x->esc = memchr(x->s, '"', (size_t)(p - x->s)) != NULL;
            x->len = (size_t)(p - x->s);
            if (p >= end) {
                *unclosed = true;
                return n;
            }
            while (p < end && *p != ',') /* nothing should follow the quote */
                p++;
        } else {
            x->s = p;
            while (p < end && *p != ',')
                p++;
            x->len = (size_t)(p - x->s);
        }
        if (p >= end)
            return n;
        p++;
    }
}

static int put_field(norm_rec_t *rec, const char *col, const fld_t *f)
{
    if (!f->esc)
        return norm_put_col(rec, col, f->s, f->len);
    if (f->len + 1 > sizeof rec->buf - rec->used)
        return norm_bad(rec, "%s: value too long", col);
    char *d = rec->buf + rec->used;
    size_t n = 0;
    for (size_t i = 0; i < f->len; i++) {
        d[n++] = f->s[i];
        if (f->s[i] == '"')
            i++; /* "" -> " */
    }
    d[n] = 0;
    rec->used += n + 1;
    return norm_put_col(rec, col, d, n);
}

/* "YYYY/MM/DD HH:MM:SS" into fields. */
static bool pan_time(const fld_t *f, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    char t[19];
    long us;
    if (f->len != 19 || f->s[4] != '/' || f->s[7] != '/')
        return false;
    memcpy(t, f->s, 19);
    t[4] = t[7] = '-';
    return norm_parse_ymdhms(t, 19, y, mo, d, h, mi, s, &us);
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    fld_t f[MAX_FIELDS];
    int y, mo, d, h, mi, s;
    norm_rec_clear(rec);
    bool unclosed;
    int n = split(msg, msg + len, f, MAX_FIELDS, &unclosed);
    if (n < 4)
        return NORM_NOMATCH;
    bool type_ok = f[3].len > 0 && f[3].len <= 20;
    for (size_t i = 0; i < f[3].len && type_ok; i++)
        type_ok = (f[3].s[i] >= 'A' && f[3].s[i] <= 'Z') || f[3].s[i] == '_';
    if (!type_ok || !pan_time(&f[1], &y, &mo, &d, &h, &mi, &s))
        return NORM_NOMATCH;
    if (unclosed)
        return norm_bad(rec, "unterminated quoted field (truncated?)");
    if (f[3].len != 7 || memcmp(f[3].s, "TRAFFIC", 7) != 0)
        return NORM_SKIP;
    if (n < 37)
        return norm_bad(rec, "TRAFFIC log with %d fields, at least 37 expected (truncated?)", n);

    if (!pan_time(&f[6], &y, &mo, &d, &h, &mi, &s))
        return norm_bad(rec, "generated time: not YYYY/MM/DD HH:MM:SS: %.*s",
                        (int)(f[6].len > 32 ? 32 : f[6].len), f[6].s);
    if (norm_put_local_time(rec, "ts", env, y, mo, d, h, mi, s, 0) != NORM_RECORD)
        return NORM_BAD;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        if (cols[i].idx >= n)
            continue;
        const fld_t *x = &f[cols[i].idx];
        bool num = x->len > 0;
        for (size_t k = 0; k < x->len && num; k++)
            num = x->s[k] >= '0' && x->s[k] <= '9';
        if (cols[i].numeric_only && !num)
            continue;
        if (put_field(rec, cols[i].col, x) != NORM_RECORD)
            return NORM_BAD;
    }
    if (norm_get(rec, "src_ip", NULL) == NULL || norm_get(rec, "dst_ip", NULL) == NULL)
        return norm_bad(rec, "TRAFFIC log without source or destination address");
    return NORM_RECORD;
}

const norm_format_t norm_panos = {"panos", "firewall",
                                  "Palo Alto Networks PAN-OS traffic logs (CSV)", parse};
