/*
 * norm_pfsense.c — pfSense "filterlog" CSV lines (norm.h), firewall schema.
 *
 * Layout (Netgate, "Raw Filter Log Format", pfSense 2.2 and later):
 *   common  0 rule number, 1 sub rule, 2 anchor, 3 tracker, 4 interface,
 *           5 reason, 6 action, 7 direction (in/out), 8 IP version (4/6)
 *   IPv4    9 TOS, 10 ECN, 11 TTL, 12 ID, 13 offset, 14 flags, 15 protocol id,
 *           16 protocol text, 17 length, 18 source, 19 destination, 20.. data
 *   IPv6    9 class, 10 flow label, 11 hop limit, 12 protocol text,
 *           13 protocol id, 14 length, 15 source, 16 destination, 17.. data
 *   data    TCP (6) and UDP (17): source port, destination port, data length,
 *           then TCP flags, sequence, ... ; ICMP, IGMP, CARP and others carry
 *           no ports.
 *
 * Design:
 *  1. Certain test: an optional "filterlog[PID]:" tag, then at least 9
 *     comma-separated fields with a numeric rule number, direction "in" or
 *     "out" and IP version "4" or "6". A line that passes is pfSense's; if
 *     the rest does not fit the layout it is NORM_BAD.
 *  2. action: "pass" and "block" (and pf's "synproxy-drop") are filter
 *     decisions; pf's other actions ("scrub", "nat", "rdr", "binat", and
 *     their "no-" forms) describe translation, not a verdict: NORM_SKIP.
 *  3. Mapping: policy = rule number (the tracker id also fits a u32, but the
 *     rule number is what the rule list shows); the interface is the zone the
 *     packet was seen in: src_zone for direction "in", dst_zone for "out";
 *     bytes_out = IP length of the logged packet. No time and no host of its
 *     own: the syslog header gives both.
 */
#include <string.h>

#include "norm.h"

#define MAX_COLS 40

/* Where the per-version fields sit. */
static const struct {
    char ver;
    unsigned proto_id, length, src, dst, data;
} layouts[] = {{'4', 15, 17, 18, 19, 20}, {'6', 13, 14, 15, 16, 17}};

static const char *const decisions[] = {"pass", "block", "synproxy-drop"};

typedef struct col {
    const char *s;
    size_t n;
} col_t;

static bool eq(const col_t *c, const char *lit)
{
    return c->n == strlen(lit) && memcmp(c->s, lit, c->n) == 0;
}

static bool is_digits(const col_t *c, size_t maxdig)
{
    if (c->n == 0 || c->n > maxdig)
        return false;
    for (size_t i = 0; i < c->n; i++)
        if (c->s[i] < '0' || c->s[i] > '9')
            return false;
    return true;
}

/* Skip "filterlog:" / "filterlog[123]:" if the syslog tag is still there. */
static size_t skip_tag(const char *msg, size_t len)
{
    size_t i = 0;
    while (i < len && msg[i] == ' ')
        i++;
    if (len - i < 10 || memcmp(msg + i, "filterlog", 9) != 0)
        return i;
    size_t j = i + 9;
    if (j < len && msg[j] == '[') {
        while (j < len && msg[j] != ']')
            j++;
        j++;
    }
    if (j >= len || msg[j] != ':')
        return i;
    j++;
    while (j < len && msg[j] == ' ')
        j++;
    return j;
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    (void)env;
    col_t c[MAX_COLS];
    unsigned n = 0;
    while (len > 0 && (msg[len - 1] == ' ' || msg[len - 1] == '\r'))
        len--;
    size_t i = skip_tag(msg, len);
    for (size_t start = i; n < MAX_COLS; i++) {
        if (i == len || msg[i] == ',') {
            c[n].s = msg + start;
            c[n].n = i - start;
            n++;
            start = i + 1;
            if (i == len)
                break;
        }
    }
    if (n < 9 || !is_digits(&c[0], 20) || !(eq(&c[7], "in") || eq(&c[7], "out")) ||
        !(eq(&c[8], "4") || eq(&c[8], "6")))
        return NORM_NOMATCH;
    norm_rec_clear(rec);

    bool decision = false;
    for (size_t k = 0; k < sizeof decisions / sizeof decisions[0]; k++)
        decision |= eq(&c[6], decisions[k]);
    if (!decision)
        return c[6].n > 0 ? NORM_SKIP : norm_bad(rec, "no action");

    unsigned v = c[8].s[0] == '4' ? 0 : 1;
    if (n <= layouts[v].dst)
        return norm_bad(rec, "IPv%c: %u fields, the addresses need %u", layouts[v].ver, n,
                        layouts[v].dst + 1);
    if (c[layouts[v].src].n == 0 || c[layouts[v].dst].n == 0)
        return norm_bad(rec, "no source or destination address");
    const col_t *pid = &c[layouts[v].proto_id];
    if (!is_digits(pid, 3))
        return norm_bad(rec, "protocol id: not a number: '%.*s'", (int)pid->n, pid->s);
    bool ports = eq(pid, "6") || eq(pid, "17");
    unsigned d = layouts[v].data;
    if (ports && n < d + 2)
        return norm_bad(rec, "protocol %.*s: no ports", (int)pid->n, pid->s);

    /* Typed puts (norm_put_col): addresses and numbers are checked. */
    const struct {
        const char *col;
        const col_t *c;
    } cols[] = {
        {"src_ip", &c[layouts[v].src]},
        {"dst_ip", &c[layouts[v].dst]},
        {"proto", pid},
        {"bytes_out", &c[layouts[v].length]},
        {"policy", &c[0]},
        {eq(&c[7], "in") ? "src_zone" : "dst_zone", &c[4]},
        {"action", &c[6]},
        {"src_port", ports ? &c[d] : NULL},
        {"dst_port", ports ? &c[d + 1] : NULL},
    };
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        int rc =
            cols[k].c ? norm_put_col(rec, cols[k].col, cols[k].c->s, cols[k].c->n) : NORM_RECORD;
        if (rc != NORM_RECORD)
            return rc;
    }
    return NORM_RECORD;
}

const norm_format_t norm_pfsense = {"pfsense", "firewall", "pfSense filterlog (CSV) lines", parse};
