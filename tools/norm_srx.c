/*
 * norm_srx.c — Juniper SRX RT_FLOW session logs in RFC 5424 structured data
 * (norm.h).
 *
 *   RT_FLOW - RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 reason="TCP FIN"
 *   source-address="10.3.255.203" source-port="47776" destination-address="8.23.224.110"
 *   destination-port="80" ... protocol-id="6" policy-name="permit_all" source-zone-name="trust"
 *   destination-zone-name="untrust" ... bytes-from-client="337" ... bytes-from-server="535"
 *   elapsed-time="1" ... username="N/A" ...]
 *
 * The message is accepted in three shapes, as the syslog layer may hand it on:
 * from the APP-NAME ("RT_FLOW - KIND [junos@...]"), from the MSGID ("KIND
 * [junos@...]"), or the structured data alone ("[junos@...]").
 *
 * Kinds: RT_FLOW_SESSION_CREATE and _CLOSE are "allow", _DENY is "deny" (each
 * also with the _LS suffix of logical systems); every other kind (APPTRACK_*,
 * ...) is NORM_SKIP. A CREATE and its CLOSE are two records of one session,
 * as the device logs them. When only the structured data arrives the kind is
 * unknown and inferred: a DENY is the only RT_FLOW kind with "icmp-type", so
 * its presence means "deny", anything else "allow" (APPTRACK events cannot be
 * told apart there and become records too).
 *
 * Parameters are read by sd_param, not norm_kv_next: values end at an
 * unescaped '"' (RFC 5424 \" \\ \] stay as they are: no column we fill holds
 * them), the element ends at ']', and some real devices quote values with
 * typographic quotes (U+201C/U+201D, `key=”st0.0”`): those are read as
 * quotes too rather than rejecting the line.
 *
 * "N/A" means no value. policy-name is text on SRX; it becomes the u32
 * policy column only when it is a number. The SRX has no time or device name
 * of its own in the message: the driver takes both from the syslog header.
 */
#include <string.h>

#include "norm.h"

static const struct {
    const char *key;
    const char *col;
} keys[] = {
    {"source-address", "src_ip"},
    {"destination-address", "dst_ip"},
    {"source-port", "src_port"},
    {"destination-port", "dst_port"},
    {"protocol-id", "proto"},
    {"policy-name", "policy"},
    {"source-zone-name", "src_zone"},
    {"destination-zone-name", "dst_zone"},
    {"username", "user"},
    {"bytes-from-client", "bytes_out"},
    {"bytes-from-server", "bytes_in"},
    {"elapsed-time", "duration"},
};

static const struct {
    const char *kind;
    const char *action;
} kinds[] = {
    {"RT_FLOW_SESSION_CREATE", "allow"},   {"RT_FLOW_SESSION_CLOSE", "allow"},
    {"RT_FLOW_SESSION_DENY", "deny"},      {"RT_FLOW_SESSION_CREATE_LS", "allow"},
    {"RT_FLOW_SESSION_CLOSE_LS", "allow"}, {"RT_FLOW_SESSION_DENY_LS", "deny"},
};

static bool starts(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

/* A typographic double quote (U+201C or U+201D in UTF-8) at p. */
static bool typo_quote(const char *p, const char *end)
{
    return end - p >= 3 && (unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
           ((unsigned char)p[2] == 0x9C || (unsigned char)p[2] == 0x9D);
}

/* One SD-PARAM at *p: NAME="VALUE" or NAME=”VALUE”. 1 and *p past it; 0 at
 * the closing ']' (*p past it); -1 when malformed or cut short. */
static int sd_param(const char **p, const char *end, norm_kv_t *kv)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    if (s >= end)
        return -1;
    if (*s == ']') {
        *p = s + 1;
        return 0;
    }
    kv->k = s;
    while (s < end && *s != '=' && *s != ' ' && *s != ']' && *s != '"')
        s++;
    kv->klen = (size_t)(s - kv->k);
    if (s >= end || *s != '=' || kv->klen == 0)
        return -1;
    s++;
    if (s < end && *s == '"') {
        kv->v = ++s;
        while (s < end && *s != '"')
            s += *s == '\\' && s + 1 < end ? 2 : 1;
        if (s >= end)
            return -1;
        kv->vlen = (size_t)(s - kv->v);
        s++;
    } else if (typo_quote(s, end)) {
        kv->v = s += 3;
        while (s < end && !typo_quote(s, end))
            s++;
        if (s >= end)
            return -1;
        kv->vlen = (size_t)(s - kv->v);
        s += 3;
    } else {
        return -1;
    }
    *p = s;
    return 1;
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return len > 0;
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    const char *p = msg, *end = msg + len;
    const char *action = NULL;
    (void)env;
    norm_rec_clear(rec);

    if (starts(p, end, "RT_FLOW") && (end - p == 7 || p[7] == ' ' || p[7] == ':')) {
        p += 7;
        if (p < end && *p == ':')
            return norm_bad(rec, "RT_FLOW in BSD text form: only structured-data logs are read");
        while (p < end && *p == ' ')
            p++;
        if (starts(p, end, "- "))
            p += 2; /* PROCID */
        while (p < end && *p == ' ')
            p++;
    } else if (!starts(p, end, "RT_FLOW_") && !starts(p, end, "APPTRACK_") &&
               !starts(p, end, "[junos@")) {
        return NORM_NOMATCH;
    }
    if (p >= end || *p != '[') {
        const char *k = p;
        while (p < end && *p != ' ' && *p != '[')
            p++;
        size_t klen = (size_t)(p - k);
        if (klen == 0)
            return norm_bad(rec, "RT_FLOW without an event name");
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !action; i++)
            if (strlen(kinds[i].kind) == klen && memcmp(kinds[i].kind, k, klen) == 0)
                action = kinds[i].action;
        if (action == NULL)
            return NORM_SKIP;
        while (p < end && *p == ' ')
            p++;
        if (!starts(p, end, "[junos@"))
            return norm_bad(rec, "%.*s without [junos@...] structured data", (int)klen, k);
    }

    while (p < end && *p != ' ' && *p != ']') /* SD-ID */
        p++;
    bool icmp_type = false;
    norm_kv_t kv;
    int got;
    while ((got = sd_param(&p, end, &kv)) == 1) {
        if (norm_key_is(&kv, "icmp-type"))
            icmp_type = true;
        if (kv.vlen == 3 && memcmp(kv.v, "N/A", 3) == 0)
            continue;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (!norm_key_is(&kv, keys[i].key))
                continue;
            if (strcmp(keys[i].col, "policy") == 0 && !all_digits(kv.v, kv.vlen))
                break; /* a policy name, not a number */
            if (norm_put_col(rec, keys[i].col, kv.v, kv.vlen) != NORM_RECORD)
                return NORM_BAD;
            break;
        }
    }
    if (got < 0)
        return norm_bad(rec, "malformed or truncated structured data at byte %zu",
                        (size_t)(p - msg));
    if (action == NULL)
        action = icmp_type ? "deny" : "allow";
    norm_put(rec, "action", action, strlen(action));
    if (norm_get(rec, "src_ip", NULL) == NULL || norm_get(rec, "dst_ip", NULL) == NULL)
        return norm_bad(rec, "session log without source-address or destination-address");
    return NORM_RECORD;
}

const norm_format_t norm_srx = {"srx", "firewall", "Juniper SRX RT_FLOW session logs (RFC 5424)",
                                parse};
