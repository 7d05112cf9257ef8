/*
 * norm_iptables.c — Linux netfilter LOG target lines (norm.h), firewall schema.
 *
 * The kernel writes "PREFIX IN=eth0 OUT= MAC=... SRC=a DST=b LEN=n ... PROTO=TCP
 * SPT=p DPT=q ..." (nf_log_syslog.c); after the syslog header the message may
 * still start with "kernel:" and a "[ 1234.5678]" uptime stamp. PREFIX is the
 * --log-prefix the rule was given ("iptables DROP_INPUT:"), or an EdgeOS /
 * Ubiquiti label "[RULESET-RULE-A|D|R]" written without a space before IN=.
 *
 * Design:
 *  1. Certain test: a word "IN=" (at the start, after a space, ':' or ']')
 *     whose value is followed by " OUT=". The kernel always prints these two
 *     first; nothing else looks like it.
 *  2. The words after it are KEY=VALUE (norm_kv_next) or bare flags (DF, SYN).
 *     Only the first SRC/DST/LEN/PROTO/SPT/DPT count: a UDP header repeats
 *     LEN= (the UDP length), and an ICMP error quotes the offending packet in
 *     "[SRC=... DST=... SPT=... ]", which is skipped as a bracketed group.
 *  3. Mapping: SRC/DST/SPT/DPT, PROTO (lower-cased name or number), LEN (the
 *     IP packet length) -> bytes_out, IN/OUT interfaces -> src_zone/dst_zone.
 *     action: the first of ACCEPT/DROP/REJECT/DENY/BLOCK found in the prefix
 *     (any case), else an EdgeOS label's A/D/R, else "log". policy: the
 *     EdgeOS label's rule number when it is one. No time of its own (the
 *     syslog header's time is used), no device name.
 *  4. A line without SRC= (ARP, MAC-only bridge logs) is NORM_SKIP.
 */
#include <string.h>

#include "norm.h"

/* Prefix words that name the rule's verdict, searched in the prefix. */
static const struct {
    const char *word;
    const char *action;
} verdicts[] = {
    {"ACCEPT", "accept"}, {"DROP", "drop"},   {"REJECT", "reject"},
    {"DENY", "deny"},     {"BLOCK", "block"},
};

/* EdgeOS label actions: "[WAN_IN-10-A]". */
static const struct {
    char letter;
    const char *action;
} edgeos[] = {{'A', "accept"}, {'D', "drop"}, {'R', "reject"}};

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool is_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Offset of the "IN=" word that starts the packet description, or len. */
static size_t find_in(const char *msg, size_t len)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        if (memcmp(msg + i, "IN=", 3) != 0)
            continue;
        if (i > 0 && msg[i - 1] != ' ' && msg[i - 1] != ':' && msg[i - 1] != ']')
            continue;
        size_t j = i + 3;
        while (j < len && msg[j] != ' ')
            j++;
        if (len - j >= 5 && memcmp(msg + j, " OUT=", 5) == 0)
            return i;
    }
    return len;
}

/* The log prefix: what precedes IN=, without "kernel:" and the uptime stamp. */
static void trim_prefix(const char **p, const char **end)
{
    const char *s = *p, *e = *end;
    while (s < e && *s == ' ')
        s++;
    if (e - s >= 7 && memcmp(s, "kernel:", 7) == 0)
        s += 7;
    while (s < e && *s == ' ')
        s++;
    if (s < e && *s == '[') { /* "[ 1234.5678]": digits, dot and spaces only */
        const char *q = s + 1;
        while (q < e && ((*q >= '0' && *q <= '9') || *q == '.' || *q == ' '))
            q++;
        if (q < e && *q == ']' && q > s + 1)
            s = q + 1;
    }
    while (s < e && *s == ' ')
        s++;
    while (e > s && e[-1] == ' ')
        e--;
    *p = s;
    *end = e;
}

/* Action (and EdgeOS rule number) from the prefix. */
static int put_action(norm_rec_t *rec, const char *s, size_t n)
{
    const char *best = NULL;
    size_t best_at = n;
    for (size_t v = 0; v < sizeof verdicts / sizeof verdicts[0]; v++) {
        size_t wl = strlen(verdicts[v].word);
        for (size_t i = 0; i + wl <= n && i < best_at; i++) {
            size_t k = 0;
            while (k < wl && upper(s[i + k]) == verdicts[v].word[k])
                k++;
            if (k == wl) {
                best = verdicts[v].action;
                best_at = i;
                break;
            }
        }
    }
    /* "[RULESET-RULE-X]": the last dash-separated part is one letter. */
    if (n >= 5 && s[0] == '[' && s[n - 1] == ']' && s[n - 3] == '-') {
        const char *dash = s + n - 3, *d2 = dash - 1;
        while (d2 > s && *d2 != '-')
            d2--;
        if (d2 > s && is_digits(d2 + 1, (size_t)(dash - d2 - 1)) && dash - d2 - 1 <= 9)
            if (norm_put(rec, "policy", d2 + 1, (size_t)(dash - d2 - 1)) != NORM_RECORD)
                return NORM_BAD;
        for (size_t i = 0; best == NULL && i < sizeof edgeos / sizeof edgeos[0]; i++)
            if (upper(s[n - 2]) == edgeos[i].letter)
                best = edgeos[i].action;
    }
    if (best == NULL)
        best = "log";
    return norm_put(rec, "action", best, strlen(best));
}

/* Fields taken from the packet words, first occurrence only. */
enum { F_SRC, F_DST, F_LEN, F_PROTO, F_SPT, F_DPT, F_IN, F_OUT, F_N };
static const char *const keys[F_N] = {"SRC", "DST", "LEN", "PROTO", "SPT", "DPT", "IN", "OUT"};

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    (void)env;
    size_t at = find_in(msg, len);
    if (at == len)
        return NORM_NOMATCH;
    norm_rec_clear(rec);

    norm_kv_t f[F_N] = {{0}};
    bool seen[F_N] = {false};
    const char *p = msg + at, *end = msg + len;
    norm_kv_t kv;
    int depth = 0; /* inside "[...]": an ICMP error's quoted packet */
    while (norm_kv_next(&p, end, &kv)) {
        if (kv.klen > 0 && kv.k[0] == '[')
            depth++;
        if (depth == 0 && kv.v != NULL)
            for (int i = 0; i < F_N; i++)
                if (!seen[i] && norm_key_is(&kv, keys[i])) {
                    seen[i] = true;
                    f[i] = kv;
                }
        const char *last = kv.v != NULL ? kv.v + kv.vlen : kv.k + kv.klen;
        if (depth > 0 && last > kv.k && last[-1] == ']')
            depth--;
    }
    if (!seen[F_SRC])
        return NORM_SKIP; /* ARP or a MAC-only (non-IP) packet */
    if (!seen[F_DST])
        return norm_bad(rec, "SRC= without DST=");

    /* Typed puts (norm_put_col): addresses and numbers are checked. */
    static const struct {
        int f;
        const char *col;
    } cols[] = {{F_SRC, "src_ip"},    {F_DST, "dst_ip"},  {F_SPT, "src_port"}, {F_DPT, "dst_port"},
                {F_LEN, "bytes_out"}, {F_PROTO, "proto"}, {F_IN, "src_zone"},  {F_OUT, "dst_zone"}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        const norm_kv_t *v = &f[cols[i].f];
        int rc = seen[cols[i].f] ? norm_put_col(rec, cols[i].col, v->v, v->vlen) : NORM_RECORD;
        if (rc != NORM_RECORD)
            return rc;
    }

    const char *ps = msg, *pe = msg + at;
    trim_prefix(&ps, &pe);
    return put_action(rec, ps, (size_t)(pe - ps));
}

const norm_format_t norm_iptables = {"iptables", "firewall",
                                     "Linux netfilter (iptables LOG) kernel lines", parse};
