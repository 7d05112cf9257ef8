/*
 * norm.c — the log-format registry, auto-detection and the line driver (norm.h).
 *
 * Design:
 *  1. norm_formats[] is the auto-detection order, most specific test first:
 *     CEF ("CEF:n|"), then the key=value and tagged formats whose markers
 *     cannot be mistaken (NetScreen, FortiGate, SRX, ASA), then the CSV ones
 *     (PAN-OS TRAFFIC, pfSense filterlog), iptables ("IN=... OUT="), and last
 *     the access logs, whose shape is the loosest: apache before nginx (their
 *     default lines look alike; nginx adds what apache's combined format
 *     lacks, so its test is the narrower one only in apache's absence).
 *  2. A line is: syslog header (syslog.c) -> the format's parse() on what
 *     follows the header -> fill-in -> colog_ingest_row(). The formats see the
 *     message after the header (after the tag in RFC 3164). An RFC 5424 line
 *     with structured data is first shown as "MSGID [SD...] MSG" (SRX puts
 *     its fields in the structured data and names the event in the MSGID),
 *     and as its MSG alone only if no format claims that (a relay's
 *     [timeQuality ...] before another format's message).
 *  3. Fill-in: "ts" from the header when the format gave none (neither: the
 *     line is rejected); the sending host from the header as the format's
 *     device column ("device" for firewall formats, "host" for web formats)
 *     when the format gave none.
 *  4. Column names map to the store's columns by name, except "ts", which is
 *     always the store's first column (the event time, whatever its name).
 *     A fixed format needs every column of its schema ("firewall" / "web") in
 *     the store (checked once, COLOG_ESCHEMA); in auto mode a field without a
 *     column is dropped.
 *  5. In auto mode a message no format claims is taken as an NDJSON event if
 *     it is a bare JSON object ("{...}"), through colog_ingest_json.
 *  6. Every line ends in exactly one of stats.records, stats.skipped (not a
 *     traffic record, or blank) and stats.rejected, so records + skipped +
 *     rejected = lines.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "norm.h"

const norm_format_t *const norm_formats[] = {
    &norm_cef,     &norm_netscreen, &norm_fortigate, &norm_srx,   &norm_asa, &norm_panos,
    &norm_pfsense, &norm_iptables,  &norm_apache,    &norm_nginx, NULL,
};

const norm_format_t *norm_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; norm_formats[i]; i++)
        if (strcmp(norm_formats[i]->name, name) == 0)
            return norm_formats[i];
    return NULL;
}

/* The column of a normalizer field name in the store's schema, -1 if none. */
static int column_of(const colog_schema_t *schema, const char *name)
{
    int c = colog_schema_find(schema, name, strlen(name));
    if (c < 0 && strcmp(name, "ts") == 0 && schema->ncols > 0 &&
        schema->cols[0].type == COLOG_T_TIME)
        c = 0;
    return c;
}

/* column_of through the session's cache of field names. */
static int session_column(norm_session_t *s, const char *name)
{
    for (unsigned i = 0; i < s->nseen; i++)
        if (s->seen_name[i] == name)
            return s->seen_col[i];
    int c = column_of(s->schema, name);
    if (s->nseen < sizeof s->seen_name / sizeof s->seen_name[0]) {
        s->seen_name[s->nseen] = name;
        s->seen_col[s->nseen++] = c;
    }
    return c;
}

static const char *device_column(const norm_format_t *f)
{
    return strcmp(f->schema, "web") == 0 ? "host" : "device";
}

int norm_session_init(norm_session_t *s, colog_ingest_t *ing, const colog_schema_t *schema,
                      const norm_format_t *fmt, colog_tz_t *tz)
{
    if (s == NULL || ing == NULL || schema == NULL || tz == NULL)
        return colog_seterr(COLOG_EINVAL, "norm_session_init: invalid argument");
    if (fmt) {
        const colog_schema_t *want = colog_schema_builtin(fmt->schema);
        if (want == NULL)
            return colog_seterr(COLOG_EINVAL, "format %s: unknown schema '%s'", fmt->name,
                                fmt->schema);
        char missing[512];
        size_t used = 0;
        unsigned nmissing = 0;
        missing[0] = 0;
        for (unsigned i = 0; i < want->ncols; i++) {
            if (column_of(schema, want->cols[i].name) >= 0)
                continue;
            nmissing++;
            if (used < sizeof missing) {
                int k = snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "",
                                 want->cols[i].name);
                used += k > 0 ? (size_t)k : 0;
            }
        }
        if (nmissing)
            return colog_seterr(COLOG_ESCHEMA,
                                "format %s writes the %s schema's columns; the store lacks "
                                "%s (use a %s store, or --format auto to drop them)",
                                fmt->name, fmt->schema, missing, fmt->schema);
    }
    memset(s, 0, sizeof *s);
    s->ing = ing;
    s->schema = schema;
    s->fmt = fmt;
    s->env.tz = tz;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    s->env.now_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    return 0;
}

/* ---------------------------------------------------------------- one line */

static int reject(norm_session_t *s, const char *src, uint64_t lineno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int reject(norm_session_t *s, const char *src, uint64_t lineno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof s->reason, fmt, ap);
    va_end(ap);
    colog_ingest_reject(s->ing, src, lineno, 0, s->reason);
    s->stats.rejected++;
    return 0;
}

/* For an RFC 5424 line with structured data, the text from the MSGID (from
 * the structured data when there is no MSGID) to the end (design 2); false
 * for other lines. */
static bool sd_text(const char *line, size_t len, const syslog_msg_t *m, const char **text,
                    size_t *tlen)
{
    if (m->kind != 5424 || m->sd == NULL)
        return false;
    /* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID |MSGID ... */
    size_t i = 0;
    if (i < len && line[i] == '<')
        while (i < len && line[i] != '>')
            i++;
    for (int words = 0; words < 5; words++) {
        while (i < len && line[i] != ' ')
            i++;
        if (i >= len)
            return false;
        i++;
    }
    if (len - i >= 2 && line[i] == '-' && line[i + 1] == ' ')
        i += 2; /* no MSGID */
    if (line + i > m->sd)
        return false;
    *text = line + i;
    *tlen = len - i;
    return true;
}

/* The session's format, or each format in turn (auto), on text: the first
 * result that is not NORM_NOMATCH, its format in *f. */
static int parse_text(norm_session_t *s, const char *text, size_t tlen, const norm_format_t **f)
{
    int r = NORM_NOMATCH;
    for (size_t i = 0; r == NORM_NOMATCH && (s->fmt ? i == 0 : norm_formats[i] != NULL); i++) {
        *f = s->fmt ? s->fmt : norm_formats[i];
        norm_rec_clear(&s->rec);
        r = (*f)->parse(text, tlen, &s->env, &s->rec);
    }
    return r;
}

/* A bare JSON object: "{" ... "}" with only blanks around. */
static bool is_json_object(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return len - i >= 2 && s[i] == '{' && s[len - 1] == '}';
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static const char *article(const char *name)
{
    return strchr("aeiou", name[0]) ? "an" : "a";
}

/* Fill in and ingest a NORM_RECORD of format f (design 3, 4). */
static int emit(norm_session_t *s, const norm_format_t *f, const char *src, uint64_t lineno)
{
    norm_rec_t *rec = &s->rec;
    int r = NORM_RECORD;
    if (norm_get(rec, "ts", NULL) == NULL) {
        if (s->env.hdr_ts_us == 0)
            return reject(s, src, lineno, "%s: no time in the message or its syslog header",
                          f->name);
        r = norm_put_time_us(rec, "ts", s->env.hdr_ts_us);
    }
    const char *dev = device_column(f);
    if (r == NORM_RECORD && s->env.host && s->env.hostlen && norm_get(rec, dev, NULL) == NULL)
        r = norm_put(rec, dev, s->env.host, s->env.hostlen);
    if (r != NORM_RECORD)
        return reject(s, src, lineno, "%s: %s", f->name, rec->why);

    unsigned cols[NORM_MAX_FIELDS];
    const char *vals[NORM_MAX_FIELDS];
    size_t lens[NORM_MAX_FIELDS];
    unsigned n = 0;
    uint64_t seen = 0;
    for (unsigned i = 0; i < rec->n; i++) {
        int c = session_column(s, rec->name[i]);
        if (c < 0 || c >= COLOG_MAX_COLS || (seen >> c & 1))
            continue; /* no such column in this store (auto mode), or given twice */
        seen |= 1ull << c;
        cols[n] = (unsigned)c;
        vals[n] = rec->val[i];
        lens[n] = rec->len[i];
        n++;
    }
    int rc = colog_ingest_row(s->ing, cols, vals, lens, n, src, lineno);
    if (rc == 1)
        s->stats.records++;
    else if (rc == 0)
        s->stats.rejected++;
    return rc;
}

int norm_ingest_line(norm_session_t *s, const char *line, size_t len, const char *src,
                     uint64_t lineno)
{
    if (s == NULL || s->ing == NULL || (line == NULL && len))
        return colog_seterr(COLOG_EINVAL, "norm_ingest_line: invalid argument");
    if (line == NULL)
        line = "";
    if (src == NULL)
        src = "-";
    if (is_blank(line, len)) {
        s->stats.skipped++;
        return 0;
    }
    if (memchr(line, 0, len))
        return reject(s, src, lineno, "NUL byte in the line");

    syslog_msg_t m;
    syslog_parse(line, len, &s->env, &m);
    s->env.host = m.host;
    s->env.hostlen = m.host ? m.hostlen : 0;
    s->env.hdr_ts_us = m.ts_us;
    const char *text;
    size_t tlen;
    const norm_format_t *f = NULL;
    int r = NORM_NOMATCH;
    if (sd_text(line, len, &m, &text, &tlen))
        r = parse_text(s, text, tlen, &f);
    if (r == NORM_NOMATCH)
        r = parse_text(s, m.msg, m.msglen, &f);
    switch (r) {
    case NORM_RECORD:
        return emit(s, f, src, lineno);
    case NORM_SKIP:
        s->stats.skipped++;
        return 0;
    case NORM_BAD:
        return reject(s, src, lineno, "%s: %s", f->name,
                      s->rec.why[0] ? s->rec.why : "unreadable line");
    default:
        break;
    }
    if (s->fmt)
        return reject(s, src, lineno, "not %s %s line", article(s->fmt->name), s->fmt->name);
    if (is_json_object(m.msg, m.msglen)) {
        int rc = colog_ingest_json(s->ing, m.msg, m.msglen, src, lineno);
        if (rc == 1)
            s->stats.records++;
        else if (rc == 0)
            s->stats.rejected++;
        return rc;
    }
    return reject(s, src, lineno, "no known format");
}
