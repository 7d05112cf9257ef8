/*
 * norm_fortigate.c — Fortinet FortiGate (FortiOS) traffic logs (norm.h).
 *
 *   date=2019-05-10 time=11:50:48 devname="FGT" devid="FG100E" logid="0000000013"
 *   type="traffic" subtype="forward" ... srcip=10.1.100.11 srcport=60446 srcintf="port12"
 *   dstip=172.16.200.55 dstport=80 dstintf="port11" proto=6 action="close" policyid=1
 *   duration=1 sentbyte=412 rcvdbyte=2286 user="bob" ...
 *
 * key=value pairs read with norm_kv_next. A message is FortiGate's when its
 * first word is a key=value pair and a "logid" key appears; this is checked in
 * a first pass that puts nothing, so another format's line is never NORM_BAD
 * here. type other than "traffic" (event, utm, ...) is NORM_SKIP.
 *
 * Time: date + time are the device's wall clock; FortiOS 6.2+ adds tz="-0500",
 * the device's offset, which is used when present (as "+HHMM"/"-HHMM"); without
 * it the time is local in env->tz. Without date/time, eventtime (epoch seconds, ms, µs or ns,
 * told apart by size) is used; without either, the driver's syslog time.
 * sentbyte counts bytes from the source, rcvdbyte bytes to it. Zones are the
 * interfaces (srcintf/dstintf); device is devname, or devid without one.
 */
#include <string.h>

#include "norm.h"

static const struct {
    const char *key;
    const char *col;
} keys[] = {
    {"srcip", "src_ip"},      {"dstip", "dst_ip"},       {"srcport", "src_port"},
    {"dstport", "dst_port"},  {"proto", "proto"},        {"action", "action"},
    {"policyid", "policy"},   {"srcintf", "src_zone"},   {"dstintf", "dst_zone"},
    {"user", "user"},         {"sentbyte", "bytes_out"}, {"rcvdbyte", "bytes_in"},
    {"duration", "duration"}, {"devname", "device"},
};

/* The keys read apart from the table, by index in the `special` table. */
enum { S_DATE, S_TIME, S_TZ, S_EVENTTIME, S_TYPE, S_LOGID, S_DEVID, S_N };
static const char *const special[S_N] = {"date", "time",  "tz",   "eventtime",
                                         "type", "logid", "devid"};

static int put_time(norm_rec_t *rec, const norm_env_t *env, const norm_kv_t *sp)
{
    const norm_kv_t *date = &sp[S_DATE], *tm = &sp[S_TIME], *tz = &sp[S_TZ];
    if (date->v != NULL && tm->v != NULL) {
        char s[48];
        int64_t t;
        if (date->vlen != 10 || tm->vlen != 8)
            return norm_bad(rec, "date/time: not YYYY-MM-DD and HH:MM:SS");
        memcpy(s, date->v, 10);
        s[10] = ' ';
        memcpy(s + 11, tm->v, 8);
        if (tz->v != NULL && tz->vlen > 0 && (tz->v[0] == '+' || tz->v[0] == '-')) {
            if (tz->vlen > 6)
                return norm_bad(rec, "tz: not an offset: %.*s", (int)tz->vlen, tz->v);
            memcpy(s + 19, tz->v, tz->vlen);
            if (colog_time_parse(s, 19 + tz->vlen, 0, &t) != 0)
                return norm_bad(rec, "date/time/tz: not a valid time: %.*s", (int)(19 + tz->vlen),
                                s);
            return norm_put_time_us(rec, "ts", t);
        }
        int y, mo, d, h, mi, sec;
        long us;
        if (!norm_parse_ymdhms(s, 19, &y, &mo, &d, &h, &mi, &sec, &us))
            return norm_bad(rec, "date/time: not a valid time: %.19s", s);
        return norm_put_local_time(rec, "ts", env, y, mo, d, h, mi, sec, 0);
    }
    const norm_kv_t *ev = &sp[S_EVENTTIME];
    if (ev->v != NULL) {
        uint64_t n = 0;
        bool ok = ev->vlen > 0 && ev->vlen <= 19;
        for (size_t i = 0; i < ev->vlen && ok; i++) {
            ok = ev->v[i] >= '0' && ev->v[i] <= '9';
            n = n * 10 + (uint64_t)(ev->v[i] - '0');
        }
        if (!ok)
            return norm_bad(rec, "eventtime: not a number: %.*s",
                            (int)(ev->vlen > 32 ? 32 : ev->vlen), ev->v);
        /* seconds until 5138 AD have <= 11 digits, ms 12..14, µs 15..17, ns more */
        int64_t us = n >= 100000000000000000ULL ? (int64_t)(n / 1000)
                     : n >= 100000000000000ULL  ? (int64_t)n
                     : n >= 100000000000ULL     ? (int64_t)n * 1000
                                                : (int64_t)n * 1000000;
        return norm_put_time_us(rec, "ts", us);
    }
    return NORM_RECORD;
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    const char *end = msg + len, *p = msg;
    norm_kv_t kv, sp[S_N];
    memset(sp, 0, sizeof sp);
    norm_rec_clear(rec);

    if (!norm_kv_next(&p, end, &kv) || kv.v == NULL)
        return NORM_NOMATCH;
    p = msg;
    while (norm_kv_next(&p, end, &kv))
        for (int i = 0; i < S_N; i++)
            if (kv.v != NULL && norm_key_is(&kv, special[i]))
                sp[i] = kv;
    if (sp[S_LOGID].v == NULL)
        return NORM_NOMATCH;
    if (sp[S_TYPE].v == NULL)
        return norm_bad(rec, "no type=");
    if (sp[S_TYPE].vlen != 7 || memcmp(sp[S_TYPE].v, "traffic", 7) != 0)
        return NORM_SKIP;

    p = msg;
    while (norm_kv_next(&p, end, &kv)) {
        if (kv.v == NULL)
            continue;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (norm_key_is(&kv, keys[i].key)) {
                if (norm_put_col(rec, keys[i].col, kv.v, kv.vlen) != NORM_RECORD)
                    return NORM_BAD;
                break;
            }
    }
    if (norm_get(rec, "device", NULL) == NULL)
        norm_put(rec, "device", sp[S_DEVID].v, sp[S_DEVID].vlen);
    if (put_time(rec, env, sp) != NORM_RECORD)
        return NORM_BAD;
    if (norm_get(rec, "src_ip", NULL) == NULL || norm_get(rec, "dst_ip", NULL) == NULL)
        return norm_bad(rec, "traffic log without srcip or dstip (truncated?)");
    return NORM_RECORD;
}

const norm_format_t norm_fortigate = {"fortigate", "firewall", "Fortinet FortiGate traffic logs",
                                      parse};
