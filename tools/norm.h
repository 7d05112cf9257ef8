/*
 * norm.h — This file is private to the colog command line (and its tests).
 *
 * Log-format normalizers: each maps one log message, its syslog header already
 * stripped (syslog.h), to field texts named after the columns of the firewall
 * schema (web schema for access logs), ready for colog_ingest_row(). One small,
 * table-driven file per format (norm_FORMAT.c); shared scanning helpers in
 * norm_util.c; the registry, auto-detection and the line driver in norm.c.
 *
 * Conventions:
 *  - parse() returns NORM_NOMATCH when the message is not of its format (a
 *    cheap, certain test first: auto-detection tries each format in turn),
 *    NORM_RECORD when it filled rec with a traffic record, NORM_SKIP when the
 *    message is of its format but not a traffic record (counted, not ingested),
 *    NORM_BAD when it is of its format but cannot be read (rec->why says why).
 *  - Values are borrowed from msg where possible (norm_put) or built in
 *    rec->buf (norm_putf, norm_put_time*); both stay valid until the next
 *    parse with the same rec.
 *  - Times: a format's own timestamp wins; a time without a zone is local
 *    time in env->tz (the store's zone); a format without a time of its own
 *    leaves "ts" out and the driver uses the syslog header's time.
 *  - "device": the format's own device name if it has one; otherwise the
 *    driver fills in the syslog sending host.
 *  - Numbers are copied as decimal text; protocols as lower-case names
 *    ("tcp", "udp", "icmp", or the number as text when unknown); action as
 *    the vendor's word lower-cased ("deny", "allow", "drop", "accept", ...).
 */
#ifndef COLOG_NORM_H
#define COLOG_NORM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colog_query.h"
#include "colog_storage.h"

enum { NORM_NOMATCH = 0, NORM_RECORD = 1, NORM_SKIP = 2, NORM_BAD = 3 };

#define NORM_MAX_FIELDS 32
#define NORM_BUF 4096

typedef struct norm_rec {
    unsigned n;
    const char *name[NORM_MAX_FIELDS]; /* schema column names (static strings) */
    const char *val[NORM_MAX_FIELDS];
    size_t len[NORM_MAX_FIELDS];
    char buf[NORM_BUF]; /* values built by the normalizer */
    size_t used;
    char why[256]; /* NORM_BAD */
} norm_rec_t;

typedef struct norm_env {
    colog_tz_t *tz;   /* the store's zone for zone-less times (never NULL) */
    int64_t now_us;   /* wall clock: the year of RFC 3164 times */
    const char *host; /* syslog sending host, or NULL */
    size_t hostlen;
    int64_t hdr_ts_us; /* syslog header time, 0 if none */
} norm_env_t;

typedef struct norm_format {
    const char *name;   /* "netscreen", "srx", "asa", ... as given to --format */
    const char *schema; /* "firewall" or "web" */
    const char *title;  /* "Juniper NetScreen / ScreenOS traffic logs" (for --help) */
    int (*parse)(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec);
} norm_format_t;

/* The formats (norm_FORMAT.c). */
extern const norm_format_t norm_netscreen, norm_srx, norm_asa, norm_fortigate, norm_panos,
    norm_iptables, norm_pfsense, norm_cef, norm_apache, norm_nginx;

/* All formats, in auto-detection order, NULL-terminated (norm.c). */
extern const norm_format_t *const norm_formats[];
/* A format by name; NULL if none. */
const norm_format_t *norm_find(const char *name);

/* ---------------------------------------------------------------- helpers (norm_util.c) */

/* Reset rec for a new message. */
void norm_rec_clear(norm_rec_t *rec);
/* Add field name = v[0..len) (borrowed). A second value for a name replaces the
 * first. Empty values are not added. Returns NORM_RECORD, or NORM_BAD when rec
 * is full (rec->why set). */
int norm_put(norm_rec_t *rec, const char *name, const char *v, size_t len);
/* Add a value formatted into rec->buf. NORM_RECORD or NORM_BAD (no room). */
int norm_putf(norm_rec_t *rec, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* NORM_BAD with a printf reason in rec->why. */
int norm_bad(norm_rec_t *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add a time given as local wall-clock fields in env->tz (usec 0..999999), as
 * RFC 3339 UTC text. NORM_BAD if the fields are not a valid time. */
int norm_put_local_time(norm_rec_t *rec, const char *name, const norm_env_t *env, int y, int mo,
                        int d, int h, int mi, int s, long usec);
/* Add a time in µs since the epoch (UTC) as RFC 3339 text. */
int norm_put_time_us(norm_rec_t *rec, const char *name, int64_t t_us);
/* The value of a field already put (NULL if none). */
const char *norm_get(const norm_rec_t *rec, const char *name, size_t *len);

/* A protocol number or name as colog writes it: "tcp", "udp", "icmp",
 * "icmpv6", "gre", "esp", "ah", "sctp", "igmp", or the decimal number. The
 * result is a static string or written into tmp (>= 4 bytes). */
const char *norm_proto_name(const char *s, size_t len, char *tmp);
/* Copy s lower-cased into rec->buf and put it. */
int norm_put_lower(norm_rec_t *rec, const char *name, const char *s, size_t len);

/* key=value scanning for NetScreen, FortiGate, SRX structured data, iptables
 * and CEF extensions: at *p (up to end), skip spaces, read KEY=VALUE where KEY
 * is [A-Za-z0-9_.-]+ and VALUE is either "..." (quotes removed, no escapes
 * decoded; the quoted form may hold spaces) or runs to the next space. A word
 * without '=' is returned with vlen 0 and v NULL. Returns true and advances
 * *p, or false at the end. */
typedef struct norm_kv {
    const char *k, *v;
    size_t klen, vlen;
} norm_kv_t;
bool norm_kv_next(const char **p, const char *end, norm_kv_t *kv);
/* Case-sensitive match of a key. */
static inline bool norm_key_is(const norm_kv_t *kv, const char *key)
{
    size_t n = 0;
    while (key[n])
        n++;
    if (n != kv->klen)
        return false;
    for (size_t i = 0; i < n; i++)
        if (kv->k[i] != key[i])
            return false;
    return true;
}
/* Parse "YYYY-MM-DD HH:MM:SS" (or with 'T', optional fraction) at s into fields. */
bool norm_parse_ymdhms(const char *s, size_t len, int *y, int *mo, int *d, int *h, int *mi,
                       int *sec, long *usec);
/* Month from "Jan".."Dec" (1..12), 0 if none. */
int norm_month(const char *s);

/* ---------------------------------------------------------------- syslog headers (syslog.c) */

typedef struct syslog_msg {
    int pri;          /* -1 if none */
    int64_t ts_us;    /* 0 if the header has no time */
    const char *host; /* NULL if none */
    size_t hostlen;
    const char *app; /* tag / APP-NAME, NULL if none */
    size_t applen;
    const char *sd; /* RFC 5424 structured data ("[...]...") or NULL */
    size_t sdlen;
    const char *msg; /* the message after the header */
    size_t msglen;
    int kind; /* 0: no header, 3164, 5424 */
} syslog_msg_t;

/* Split a syslog line: "<PRI>" (optional), then an RFC 5424 header
 * ("1 TIMESTAMP HOST APP PROCID MSGID SD"), or an RFC 3164 header ("Mmm dd
 * hh:mm:ss HOST TAG[PID]:" — with or without <PRI>, with or without the host;
 * a year-less time is given the year that puts it closest before env->now_us,
 * zone env->tz; also "YYYY-MM-DDTHH:MM:SS(+zone)" ISO times rsyslog sends),
 * or no header at all (msg = the whole line). Never fails: what is not a
 * header is message. */
void syslog_parse(const char *line, size_t len, const norm_env_t *env, syslog_msg_t *out);

/* ---------------------------------------------------------------- the driver (norm.c) */

typedef struct norm_stats {
    uint64_t records, skipped, rejected;
} norm_stats_t;

/* Per-session state: the store's column indexes of the names normalizers use. */
typedef struct norm_session {
    colog_ingest_t *ing;
    const colog_schema_t *schema;
    const norm_format_t *fmt; /* NULL = auto: detect per line */
    norm_env_t env;           /* tz and now_us set by the caller */
    norm_stats_t stats;
    norm_rec_t rec;
    char reason[512];
    /* Column of each field name seen (normalizers name fields with static
     * strings, so the pointer is the key): no schema search per field and row. */
    const char *seen_name[2 * NORM_MAX_FIELDS];
    int seen_col[2 * NORM_MAX_FIELDS];
    unsigned nseen;
} norm_session_t;

/* Set up a session (fmt NULL = auto). tz is borrowed. 0, or a negative code
 * with colog_seterr when the format's schema does not fit the store's (a
 * column it needs is missing). */
int norm_session_init(norm_session_t *s, colog_ingest_t *ing, const colog_schema_t *schema,
                      const norm_format_t *fmt, colog_tz_t *tz);
/* One line (without its newline): syslog header, format (or auto-detection;
 * a bare JSON object is taken as an NDJSON event), then colog_ingest_row.
 * Unparsable lines are rejected through the ingest session's reject callback
 * (src, line, column 0, reason). Returns 1 (a row was ingested), 0 (skipped or
 * rejected), or a negative error from the ingest session. */
int norm_ingest_line(norm_session_t *s, const char *line, size_t len, const char *src,
                     uint64_t lineno);

/* ---------------------------------------------------------------- typed put (norm_util.c) */

/* Put v as column name's type wants it (firewall and web schemas): IP columns
 * (src_ip, dst_ip, client_ip) must parse as an address, number columns
 * (ports, status, policy, duration*, bytes*) must be decimal and in range,
 * proto goes through norm_proto_name, action is lower-cased; other columns
 * are put as they are (borrowed). An empty value puts nothing. NORM_RECORD,
 * or NORM_BAD with the column and value in rec->why. */
int norm_put_col(norm_rec_t *rec, const char *name, const char *v, size_t len);

/* ---------------------------------------------------------------- access logs (norm_apache.c) */

/* An Apache common/combined access log line (the apache and nginx formats
 * share it). With nginx, what follows the user agent is read as nginx's usual
 * additions ("$http_x_forwarded_for", $request_time -> duration_ms); without,
 * it is ignored. Returns as parse() does. */
int norm_access_parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec,
                      bool nginx);

#endif /* COLOG_NORM_H */
