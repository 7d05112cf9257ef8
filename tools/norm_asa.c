/*
 * norm_asa.c — Cisco ASA connection and ACL-deny messages (norm.h).
 *
 *   %ASA-6-302013: Built outbound TCP connection 12345 for outside:1.2.3.4/443 (1.2.3.4/443)
 *                  to inside:10.0.0.5/51234 (10.0.0.5/51234)
 *   %ASA-6-302014: Teardown TCP connection 12345 for outside:1.2.3.4/443 to inside:10.0.0.5/51234
 *                  duration 0:01:08 bytes 134781 TCP FINs
 *   %ASA-4-106023: Deny tcp src outside:1.2.3.4/123 dst inside:10.0.0.1/80 by access-group "acl"
 *
 * The message is found by "%ASA-" anywhere in it, after whatever the syslog
 * layer left: the ASA's own "logging timestamp" ("Apr 29 2013 12:59:50",
 * maybe with a zone name or a device name, then ':') is read as ts — local
 * time in env->tz; UTC/GMT as UTC; another zone name (EDT, CEST: ambiguous)
 * leaves ts to the driver — and a device name there becomes "device". The
 * tag is "%ASA-[facility-]SEV-ID" with or without ':' after it. The ids read
 * are in the ids table; every other id is NORM_SKIP.
 *
 * Directions. In 302013/302015 the "for" side is the lower-security
 * (foreign) interface and the "to" side the higher-security (local) one;
 * "inbound" means the foreign side opened the connection, "outbound" the local
 * side. src is always the initiator, so an outbound connection swaps them. A
 * 302014/302016 teardown keeps the Built order but says no direction: the side
 * with the lower port is taken as the server (equal or missing ports keep the
 * logged order, for -> to). 106023 says src and dst outright.
 *
 * Users: an identity-firewall user "(LOCAL\name)" after an address, a bare
 * word after it (old teardowns: "... /53 user1 to ..."), or the trailing
 * "(name)" of a connection; the initiator's wins, else the other side's. The
 * leading realm component ("LOCAL\") is dropped, as the ASA does itself in the
 * trailing form. Zones are the interface names.
 *
 * Bytes: a teardown gives one total for both directions, which cannot be
 * split; it goes to bytes_out and bytes_in stays empty, so that rows with an
 * unknown split are recognisable and sums over both columns stay right.
 *
 * An address the ASA printed as a name ("dmz:OCSP_Server/5678": "names" is
 * configured) is NORM_BAD: the address columns hold IP addresses only.
 */
#include <stdio.h>
#include <string.h>

#include "norm.h"

enum { K_BUILT, K_TEARDOWN, K_DENY };

static const struct {
    const char *id;
    int kind;
    const char *verb; /* the message's first word */
    const char *proto;
} ids[] = {
    {"302013", K_BUILT, "Built", "tcp"}, {"302014", K_TEARDOWN, "Teardown", "tcp"},
    {"302015", K_BUILT, "Built", "udp"}, {"302016", K_TEARDOWN, "Teardown", "udp"},
    {"106023", K_DENY, "Deny", NULL},
};

typedef struct cur {
    const char *p, *end;
} cur_t;

/* One side of a connection. */
typedef struct ep {
    const char *ifc, *addr, *port, *user;
    size_t ifclen, addrlen, portlen, userlen;
} ep_t;

static void skip_sp(cur_t *c)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

/* The next space-separated word (length 0 at the end). */
static size_t word(cur_t *c, const char **w)
{
    skip_sp(c);
    *w = c->p;
    while (c->p < c->end && *c->p != ' ')
        c->p++;
    return (size_t)(c->p - *w);
}

static bool eq(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(w, s, n) == 0;
}

static bool word_is(cur_t *c, const char *s)
{
    const char *w;
    size_t n = word(c, &w);
    return eq(w, n, s);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* "IFC:ADDR[/PORT]", then any "(...)" groups: a mapped "(ADDR/PORT)" is
 * skipped; the first other one is the side's user ("(LOCAL\name)", "(name)",
 * "(name, sg_info)"). false when there is no "IFC:ADDR". */
static bool endpoint(cur_t *c, ep_t *ep)
{
    memset(ep, 0, sizeof *ep);
    skip_sp(c);
    const char *s = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '(')
        c->p++;
    const char *t = c->p;
    const char *colon = memchr(s, ':', (size_t)(t - s));
    if (colon == NULL || colon == s || colon + 1 == t)
        return false;
    ep->ifc = s;
    ep->ifclen = (size_t)(colon - s);
    ep->addr = colon + 1;
    const char *slash = NULL;
    for (const char *q = ep->addr; q < t; q++)
        if (*q == '/')
            slash = q;
    ep->addrlen = (size_t)((slash ? slash : t) - ep->addr);
    if (slash) {
        ep->port = slash + 1;
        ep->portlen = (size_t)(t - slash - 1);
    }
    for (;;) {
        const char *save = c->p;
        skip_sp(c);
        if (c->p >= c->end || *c->p != '(') {
            c->p = save;
            return true;
        }
        const char *g = c->p + 1;
        const char *close = memchr(g, ')', (size_t)(c->end - g));
        if (close == NULL)
            return false;
        c->p = close + 1;
        size_t glen = (size_t)(close - g);
        bool mapped = memchr(g, '/', glen) != NULL && memchr(g, '\\', glen) == NULL;
        if (!mapped && ep->user == NULL) {
            const char *comma = memchr(g, ',', glen);
            ep->user = g;
            ep->userlen = comma ? (size_t)(comma - g) : glen;
        }
    }
}

/* Words up to `stop`: the first becomes ep's user if it has none. */
static bool until(cur_t *c, const char *stop, ep_t *ep)
{
    const char *w;
    size_t n;
    while ((n = word(c, &w)) > 0) {
        if (eq(w, n, stop))
            return true;
        if (ep->user == NULL) {
            ep->user = w;
            ep->userlen = n;
        }
    }
    return false;
}

static int put_side(norm_rec_t *rec, const ep_t *ep, const char *ip, const char *port,
                    const char *zone)
{
    if (norm_put_col(rec, ip, ep->addr, ep->addrlen) != NORM_RECORD ||
        norm_put_col(rec, port, ep->port, ep->portlen) != NORM_RECORD)
        return NORM_BAD;
    return norm_put(rec, zone, ep->ifc, ep->ifclen);
}

static int put_user(norm_rec_t *rec, const ep_t *ep)
{
    const char *u = ep->user;
    size_t n = ep->userlen;
    const char *bs = memchr(u, '\\', n);
    if (bs != NULL) {
        n -= (size_t)(bs + 1 - u);
        u = bs + 1;
    }
    return norm_put(rec, "user", u, n);
}

/* "H:MM:SS" (hours may be many digits) as seconds into rec. */
static int put_duration(norm_rec_t *rec, const char *w, size_t n)
{
    const char *c1 = memchr(w, ':', n);
    if (c1 == NULL || (size_t)(w + n - c1) != 6 || c1[3] != ':' || !digits(w, (size_t)(c1 - w)) ||
        (size_t)(c1 - w) > 6 || !digits(c1 + 1, 2) || !digits(c1 + 4, 2))
        return norm_bad(rec, "duration: not H:MM:SS: %.*s", (int)(n > 32 ? 32 : n), w);
    unsigned long h = 0;
    for (const char *q = w; q < c1; q++)
        h = h * 10 + (unsigned long)(*q - '0');
    unsigned long s = h * 3600 + (unsigned long)((c1[1] - '0') * 10 + c1[2] - '0') * 60 +
                      (unsigned long)((c1[4] - '0') * 10 + c1[5] - '0');
    return norm_putf(rec, "duration", "%lu", s);
}

/* The ASA's own timestamp and device name before the tag (see the top). */
static int prefix(const char *s, const char *e, const norm_env_t *env, norm_rec_t *rec)
{
    cur_t c = {s, e};
    const char *mon, *day, *year, *hms, *w = NULL;
    size_t n;
    if (word(&c, &mon) != 3 || norm_month(mon) == 0)
        return NORM_RECORD;
    n = word(&c, &day);
    if (n < 1 || n > 2 || !digits(day, n))
        return NORM_RECORD;
    int d = n == 1 ? day[0] - '0' : (day[0] - '0') * 10 + day[1] - '0';
    if (word(&c, &year) != 4 || !digits(year, 4))
        return NORM_RECORD;
    n = word(&c, &hms);
    if (!(n == 8 || (n == 9 && hms[8] == ':')) || hms[2] != ':' || hms[5] != ':' ||
        !digits(hms, 2) || !digits(hms + 3, 2) || !digits(hms + 6, 2))
        return NORM_RECORD;
    int y = ((year[0] - '0') * 10 + year[1] - '0') * 100 + (year[2] - '0') * 10 + year[3] - '0';
    int h = (hms[0] - '0') * 10 + hms[1] - '0', mi = (hms[3] - '0') * 10 + hms[4] - '0',
        sec = (hms[6] - '0') * 10 + hms[7] - '0';

    n = n == 9 ? 0 : word(&c, &w); /* "09:36:50:" ends the prefix */
    if (n > 0 && w[n - 1] == ':')
        n--;
    if (n > 0 && (eq(w, n, "UTC") || eq(w, n, "GMT"))) {
        char iso[32];
        int64_t t;
        int k = snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, norm_month(mon), d,
                         h, mi, sec);
        if (colog_time_parse(iso, (size_t)k, 0, &t) != 0)
            return norm_bad(rec, "not a valid time: %s", iso);
        return norm_put_time_us(rec, "ts", t);
    }
    bool zone = n >= 3 && n <= 5;
    for (size_t i = 0; i < n && zone; i++)
        zone = w[i] >= 'A' && w[i] <= 'Z';
    if (zone)
        return NORM_RECORD; /* a zone we cannot resolve: the driver's time */
    norm_put(rec, "device", w, n);
    return norm_put_local_time(rec, "ts", env, y, norm_month(mon), d, h, mi, sec, 0);
}

static int connection(cur_t *c, int kind, norm_rec_t *rec, ep_t *src, ep_t *dst)
{
    const char *w;
    size_t n;
    bool outbound = false;
    if (kind == K_BUILT) {
        n = word(c, &w);
        if (!eq(w, n, "inbound") && !eq(w, n, "outbound"))
            return norm_bad(rec, "Built: expected inbound or outbound");
        outbound = eq(w, n, "outbound");
    }
    ep_t f, t;
    if (word(c, &w) == 0 || !word_is(c, "connection") || (n = word(c, &w)) == 0 || !digits(w, n) ||
        !word_is(c, "for") || !endpoint(c, &f))
        return norm_bad(rec, "expected \"PROTO connection ID for IFC:ADDR/PORT\"");
    if (!until(c, "to", &f) || !endpoint(c, &t))
        return norm_bad(rec, "expected \"to IFC:ADDR/PORT\"");
    if (kind == K_TEARDOWN) {
        if (!until(c, "duration", &t))
            return norm_bad(rec, "Teardown without duration (truncated?)");
        n = word(c, &w);
        if (put_duration(rec, w, n) != NORM_RECORD)
            return NORM_BAD;
        n = word(c, &w);
        if (eq(w, n, "bytes")) {
            n = word(c, &w);
            if (norm_put_col(rec, "bytes_out", w, n) != NORM_RECORD)
                return NORM_BAD;
        }
        outbound = digits(f.port, f.portlen) && digits(t.port, t.portlen) &&
                   (f.portlen < t.portlen ||
                    (f.portlen == t.portlen && memcmp(f.port, t.port, f.portlen) < 0));
    }
    *src = outbound ? t : f;
    *dst = outbound ? f : t;
    return norm_put(rec, "action", "allow", 5);
}

static int deny(cur_t *c, norm_rec_t *rec, ep_t *src, ep_t *dst)
{
    const char *w;
    size_t n = word(c, &w);
    if (eq(w, n, "protocol"))
        n = word(c, &w);
    if (n == 0 || norm_put_col(rec, "proto", w, n) != NORM_RECORD)
        return norm_bad(rec, "Deny: expected a protocol");
    if (!word_is(c, "src") || !endpoint(c, src) || !word_is(c, "dst") || !endpoint(c, dst))
        return norm_bad(rec, "Deny: expected \"src IFC:ADDR[/PORT] dst IFC:ADDR[/PORT]\"");
    /* "(name, sg_info)" may hold an FQDN instead of a user: keep DOMAIN\user only */
    if (src->user && !memchr(src->user, '\\', src->userlen))
        src->user = NULL;
    if (dst->user && !memchr(dst->user, '\\', dst->userlen))
        dst->user = NULL;
    return norm_put(rec, "action", "deny", 4);
}

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    const char *end = msg + len;
    const char *tag = memmem(msg, len, "%ASA-", 5);
    norm_rec_clear(rec);
    if (tag == NULL)
        return NORM_NOMATCH;
    cur_t c = {tag + 5, end};
    while (c.p < end && *c.p != ':' && *c.p != ' ')
        c.p++;
    const char *id = c.p;
    while (id > tag + 5 && id[-1] != '-')
        id--;
    if (c.p - id != 6 || !digits(id, 6))
        return norm_bad(rec, "malformed tag: %.*s", (int)(c.p - tag), tag);
    c.p += c.p < end && *c.p == ':';

    size_t k = 0;
    while (k < sizeof ids / sizeof ids[0] && memcmp(ids[k].id, id, 6) != 0)
        k++;
    if (k == sizeof ids / sizeof ids[0])
        return NORM_SKIP;
    if (prefix(msg, tag, env, rec) != NORM_RECORD)
        return NORM_BAD;
    if (!word_is(&c, ids[k].verb))
        return norm_bad(rec, "%.6s: expected \"%s\"", id, ids[k].verb);

    ep_t src, dst;
    int rc = ids[k].kind == K_DENY ? deny(&c, rec, &src, &dst)
                                   : connection(&c, ids[k].kind, rec, &src, &dst);
    if (rc != NORM_RECORD)
        return rc;
    if (ids[k].proto != NULL)
        norm_put(rec, "proto", ids[k].proto, 3);
    if (put_side(rec, &src, "src_ip", "src_port", "src_zone") != NORM_RECORD ||
        put_side(rec, &dst, "dst_ip", "dst_port", "dst_zone") != NORM_RECORD)
        return NORM_BAD;
    if (src.user != NULL)
        return put_user(rec, &src);
    if (dst.user != NULL)
        return put_user(rec, &dst);
    return NORM_RECORD;
}

const norm_format_t norm_asa = {"asa", "firewall", "Cisco ASA connection and ACL-deny messages",
                                parse};
