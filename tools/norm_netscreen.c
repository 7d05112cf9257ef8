/*
 * norm_netscreen.c — Juniper NetScreen / ScreenOS traffic logs (norm.h).
 *
 *   NetScreen device_id=galaxy [Root]system-notification-00257(traffic): start_time="2007-04-25
 *   00:31:34" duration=0 policy_id=7 service=udp/port:1027 proto=17 src zone=Untrust dst
 *   zone=Home action=Deny sent=0 rcvd=0 src=204.1.2.235 dst=61.197.1.2 src_port=50722
 *   dst_port=1027 session_id=0
 *
 * The message is found by "NetScreen device_id=" anywhere in it (a syslog tag
 * such as "ns5gt:" may precede it). "[vsys]system-SEV-ID(traffic):" marks a
 * traffic log; any other message id is NORM_SKIP. The rest is key=value
 * pairs read with norm_kv_next; two keys hold a space ("src zone=", "dst
 * zone=", also "src-xlated ip=" in ScreenOS 6), so a bare word is joined to the
 * key that follows it before the table is searched, and the key alone is tried
 * when the joined one is not in the table ("reason=Traffic Denied" leaves the
 * bare word "Denied" before the next key).
 *
 * start_time is the session's start in the device's local time (env->tz);
 * "sent" counts bytes from the initiator, "rcvd" bytes to it.
 */
#include <string.h>

#include "norm.h"

/* Vendor key (a bare word and the key joined by one space) -> column. */
static const struct {
    const char *key;
    const char *col;
} keys[] = {
    {"src", "src_ip"},        {"dst", "dst_ip"},        {"src_port", "src_port"},
    {"dst_port", "dst_port"}, {"proto", "proto"},       {"action", "action"},
    {"policy_id", "policy"},  {"src zone", "src_zone"}, {"dst zone", "dst_zone"},
    {"sent", "bytes_out"},    {"rcvd", "bytes_in"},     {"duration", "duration"},
};

static const char *column_of(const char *k, size_t klen)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].key) == klen && memcmp(keys[i].key, k, klen) == 0)
            return keys[i].col;
    return NULL;
}

static int start_time(norm_rec_t *rec, const norm_env_t *env, const char *v, size_t len)
{
    int y, mo, d, h, mi, s;
    long us;
    if (!norm_parse_ymdhms(v, len, &y, &mo, &d, &h, &mi, &s, &us) || len != 19)
        return norm_bad(rec, "start_time: not YYYY-MM-DD HH:MM:SS: %.*s",
                        (int)(len > 40 ? 40 : len), v);
    return norm_put_local_time(rec, "ts", env, y, mo, d, h, mi, s, 0);
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    static const char magic[] = "NetScreen device_id=";
    const char *end = msg + len;
    const char *p = memmem(msg, len, magic, sizeof magic - 1);
    norm_rec_clear(rec);
    if (p == NULL)
        return NORM_NOMATCH;
    p += sizeof magic - 1;

    const char *dev = p;
    while (p < end && *p != ' ')
        p++;
    norm_put(rec, "device", dev, (size_t)(p - dev));

    /* "[Root]system-notification-00257(traffic):" */
    while (p < end && *p == ' ')
        p++;
    if (p < end && *p == '[') {
        while (p < end && *p != ']')
            p++;
        p += p < end;
    }
    const char *id = p;
    while (p < end && *p != ':' && *p != ' ')
        p++;
    size_t idlen = (size_t)(p - id);
    if (idlen < 7 || memcmp(id, "system-", 7) != 0 || p == end || *p != ':')
        return norm_bad(rec, "no message id ([vsys]system-SEV-ID:) after device_id");
    if (idlen < 9 || memcmp(id + idlen - 9, "(traffic)", 9) != 0)
        return NORM_SKIP;
    p++;

    const char *bare = NULL;
    size_t barelen = 0;
    norm_kv_t kv;
    while (norm_kv_next(&p, end, &kv)) {
        if (kv.v == NULL) {
            bare = kv.k;
            barelen = kv.klen;
            continue;
        }
        const char *col = NULL;
        char joined[64];
        if (bare != NULL && barelen + 1 + kv.klen < sizeof joined) {
            memcpy(joined, bare, barelen);
            joined[barelen] = ' ';
            memcpy(joined + barelen + 1, kv.k, kv.klen);
            col = column_of(joined, barelen + 1 + kv.klen);
        }
        if (col == NULL)
            col = column_of(kv.k, kv.klen);
        bare = NULL;
        int rc = NORM_RECORD;
        if (norm_key_is(&kv, "start_time"))
            rc = start_time(rec, env, kv.v, kv.vlen);
        else if (col != NULL)
            rc = norm_put_col(rec, col, kv.v, kv.vlen);
        if (rc != NORM_RECORD)
            return rc;
    }
    static const char *const need[] = {"ts", "src_ip", "dst_ip"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (norm_get(rec, need[i], NULL) == NULL)
            return norm_bad(rec, "traffic log without %s (truncated?)",
                            i == 0   ? "start_time"
                            : i == 1 ? "src"
                                     : "dst");
    return NORM_RECORD;
}

const norm_format_t norm_netscreen = {"netscreen", "firewall",
                                      "Juniper NetScreen / ScreenOS traffic logs", parse};
