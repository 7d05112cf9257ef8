/*
 * test_syslog.c — syslog header splitting (tools/syslog.c): every header
 * variant with its expected fields, host-or-not decisions, times and their
 * years and zones, and garbage that must stay message.
 *
 * Each line is copied into a buffer of exactly its length (no NUL after it),
 * so that ASan catches a read past the end.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

static colog_tz_t *utc, *paris;

static void setup(void)
{
    cr_assert_eq(colog_tz_open("UTC", &utc), 0);
    cr_assert_eq(colog_tz_open("Europe/Paris", &paris), 0);
}

static void teardown(void)
{
    colog_tz_free(utc);
    colog_tz_free(paris);
}

TestSuite(syslog, .init = setup, .fini = teardown);

static int64_t T(const char *rfc3339)
{
    int64_t us;
    cr_assert_eq(colog_time_parse(rfc3339, strlen(rfc3339), 0, &us), 0, "%s", rfc3339);
    return us;
}

/* The parse of line with the clock at now and zone tz. The line is copied into
 * *buf (free it), and the result points into that copy. */
static syslog_msg_t parse_at(const char *line, size_t len, colog_tz_t *tz, const char *now,
                             char **buf)
{
    *buf = malloc(len ? len : 1);
    cr_assert_not_null(*buf);
    memcpy(*buf, line, len);
    norm_env_t env = {.tz = tz, .now_us = T(now)};
    syslog_msg_t m;
    memset(&m, 0x5a, sizeof m); /* every field must be written */
    syslog_parse(*buf, len, &env, &m);
    cr_assert(m.msg >= *buf && m.msg + m.msglen == *buf + len, "msg must run to the line's end");
    return m;
}

#define NOW "2026-03-01T12:00:00Z"

static void expect_str(const char *p, size_t n, const char *want, const char *what)
{
    if (want == NULL) {
        cr_assert_null(p, "%s: expected none, got '%.*s'", what, (int)n, p ? p : "");
        return;
    }
    cr_assert_not_null(p, "%s: expected '%s', got none", what, want);
    cr_assert(n == strlen(want) && memcmp(p, want, n) == 0, "%s: expected '%s', got '%.*s'", what,
              want, (int)n, p);
}

typedef struct want {
    int kind, pri;
    const char *ts; /* RFC 3339, NULL: none */
    const char *host, *app, *sd, *msg;
} want_t;

static void check_at(const char *line, colog_tz_t *tz, const char *now, want_t w)
{
    char *buf;
    syslog_msg_t m = parse_at(line, strlen(line), tz, now, &buf);
    cr_assert_eq(m.kind, w.kind, "%s: kind %d", line, m.kind);
    cr_assert_eq(m.pri, w.pri, "%s: pri %d", line, m.pri);
    if (w.ts)
        cr_assert_eq(m.ts_us, T(w.ts), "%s: ts %lld, expected %s", line, (long long)m.ts_us, w.ts);
    else
        cr_assert_eq(m.ts_us, 0, "%s: ts %lld, expected none", line, (long long)m.ts_us);
    expect_str(m.host, m.hostlen, w.host, "host");
    expect_str(m.app, m.applen, w.app, "app");
    expect_str(m.sd, m.sdlen, w.sd, "sd");
    expect_str(m.msg, m.msglen, w.msg, "msg");
    free(buf);
}

static void check(const char *line, want_t w)
{
    check_at(line, utc, NOW, w);
}

/* ---------------------------------------------------------------- RFC 3164 */

Test(syslog, rfc3164_example)
{
    /* RFC 3164 5.4, example 1; Oct 11 is after the clock's Mar 1: last year */
    check("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
          (want_t){3164, 34, "2025-10-11T22:14:15Z", "mymachine", "su", NULL,
                   "'su root' failed for lonvick on /dev/pts/8"});
}

Test(syslog, rfc3164_without_pri)
{
    check("Oct 11 22:14:15 mymachine su: x",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", "mymachine", "su", NULL, "x"});
    /* as in /var/log/auth.log: day padded with a space, tag with a pid */
    check("Mar  1 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
          (want_t){3164, -1, "2026-03-01T06:55:46Z", "LabSZ", "sshd", NULL,
                   "Invalid user webmaster from 173.234.31.186"});
    check("Jan 8 03:37:09 example-host kernel: iptables DROP_INPUT: IN=eth0 OUT=",
          (want_t){3164, -1, "2026-01-08T03:37:09Z", "example-host", "kernel", NULL,
                   "iptables DROP_INPUT: IN=eth0 OUT="});
}

Test(syslog, rfc3164_without_host)
{
    check("<13>Oct 11 22:14:15 su: x",
          (want_t){3164, 13, "2025-10-11T22:14:15Z", NULL, "su", NULL, "x"});
    /* pfSense: the tag with a pid, no host */
    check("<134>Jul  3 19:10:30 filterlog[72237]: 146,,,1535324496,igb1.12,match,block,in,4",
          (want_t){3164, 134, "2025-07-03T19:10:30Z", NULL, "filterlog", NULL,
                   "146,,,1535324496,igb1.12,match,block,in,4"});
    /* Cisco: the message ID is no host and no tag */
    check("Oct 11 22:14:15 %ASA-6-302013: Built outbound TCP connection 1",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, NULL, NULL,
                   "%ASA-6-302013: Built outbound TCP connection 1"});
    /* PAN-OS CSV straight after the time */
    check("Oct 30 09:46:12 1,2012/10/30 09:46:12,01606001116,TRAFFIC,start",
          (want_t){3164, -1, "2025-10-30T09:46:12Z", NULL, NULL, NULL,
                   "1,2012/10/30 09:46:12,01606001116,TRAFFIC,start"});
    /* an access log line: "IP - user [" is not "HOST MSG" */
    check("Oct 11 22:14:15 83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, NULL, NULL,
                   "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1"});
    /* CEF and key=value messages */
    check("Oct 11 22:14:15 CEF:0|Vendor|Product|1|100|Name|5|src=1.2.3.4",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, NULL, NULL,
                   "CEF:0|Vendor|Product|1|100|Name|5|src=1.2.3.4"});
    check("Oct 11 22:14:15 date=2020-04-23 time=01:16:08",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, NULL, NULL,
                   "date=2020-04-23 time=01:16:08"});
    /* one word after the time: message, not a host */
    check("Oct 11 22:14:15 hello",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, NULL, NULL, "hello"});
    /* "WORD:" is a tag */
    check("Oct 11 22:14:15 mymachine: hello",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, "mymachine", NULL, "hello"});
    /* nothing after the time */
    check("Oct 11 22:14:15", (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, NULL, NULL, ""});
    check("Oct 11 22:14:15 ", (want_t){3164, -1, "2025-10-11T22:14:15Z", NULL, NULL, NULL, ""});
}

Test(syslog, rfc3164_host_and_message_without_tag)
{
    check("Oct 11 22:14:15 fw1 %ASA-6-302013: Built",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", "fw1", NULL, NULL, "%ASA-6-302013: Built"});
    check("Oct 11 22:14:15 10.0.0.1 date=2020-04-23 time=01:16:08",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", "10.0.0.1", NULL, NULL,
                   "date=2020-04-23 time=01:16:08"});
    check("Oct 11 22:14:15 2001:db8::1 CEF:0|a",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", "2001:db8::1", NULL, NULL, "CEF:0|a"});
    check("Oct 11 22:14:15 web1 83.149.9.216 - - [17/May/2015:10:05:03 +0000]",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", "web1", NULL, NULL,
                   "83.149.9.216 - - [17/May/2015:10:05:03 +0000]"});
    check("Oct 30 09:46:12 pa-fw 1,2012/10/30 09:46:12,01606001116,TRAFFIC",
          (want_t){3164, -1, "2025-10-30T09:46:12Z", "pa-fw", NULL, NULL,
                   "1,2012/10/30 09:46:12,01606001116,TRAFFIC"});
    /* a tag after the host, without a space after its colon */
    check("Oct 11 22:14:15 host app:",
          (want_t){3164, -1, "2025-10-11T22:14:15Z", "host", "app", NULL, ""});
}

Test(syslog, cisco_headers)
{
    /* the ASA's own "logging timestamp": a year, a colon after the time */
    check("Apr 15 2013 09:36:50: %ASA-4-106023: Deny tcp",
          (want_t){3164, -1, "2013-04-15T09:36:50Z", NULL, NULL, NULL, "%ASA-4-106023: Deny tcp"});
    check("Apr 15 2014 09:34:34 EDT: %ASA-session-5-106100: access-list",
          (want_t){3164, -1, "2014-04-15T13:34:34Z", NULL, NULL, NULL,
                   "%ASA-session-5-106100: access-list"});
    check("Apr 24 2013 16:00:28 INT-FW01 : %ASA-6-106100: access-list",
          (want_t){3164, -1, "2013-04-24T16:00:28Z", "INT-FW01", NULL, NULL,
                   "%ASA-6-106100: access-list"});
    check("Aug 15 2012 23:30:09 : %ASA-6-302016 Teardown",
          (want_t){3164, -1, "2012-08-15T23:30:09Z", NULL, NULL, NULL, "%ASA-6-302016 Teardown"});
    check("Dec 11 2018 08:01:24 <IP>: %ASA-6-302015: Built",
          (want_t){3164, -1, "2018-12-11T08:01:24Z", "<IP>", NULL, NULL, "%ASA-6-302015: Built"});
    check("<166>Dec 11 2018 08:01:24 10.1.1.1: %ASA-6-302015: Built",
          (want_t){3164, 166, "2018-12-11T08:01:24Z", "10.1.1.1", NULL, NULL,
                   "%ASA-6-302015: Built"});
    /* IOS: '*' for an unsynchronised clock, milliseconds, a zone */
    check("*Mar  1 10:46:11.123 UTC: %SYS-5-CONFIG_I: Configured",
          (want_t){3164, -1, "2026-03-01T10:46:11.123Z", NULL, NULL, NULL,
                   "%SYS-5-CONFIG_I: Configured"});
}

Test(syslog, bsd_time_details)
{
    check("Oct 11 22:14:15.5 h a: x",
          (want_t){3164, -1, "2025-10-11T22:14:15.5Z", "h", "a", NULL, "x"});
    check("Oct 11 22:14:60 h a: x", /* a leap second */
          (want_t){3164, -1, "2025-10-11T22:14:59Z", "h", "a", NULL, "x"});
    /* zone-less times are local in env->tz: Paris is UTC+2 in October */
    check_at("Oct 11 22:14:15 h a: x", paris, NOW,
             (want_t){3164, -1, "2025-10-11T20:14:15Z", "h", "a", NULL, "x"});
    /* a zone name wins over env->tz */
    check_at("Oct 11 22:14:15 UTC h a: x", paris, NOW,
             (want_t){3164, -1, "2025-10-11T22:14:15Z", "h", "a", NULL, "x"});
    /* a year-less Feb 29 goes back to the last leap year */
    check("Feb 29 12:00:00 h a: x",
          (want_t){3164, -1, "2024-02-29T12:00:00Z", "h", "a", NULL, "x"});
}

Test(syslog, year_rollover)
{
    /* December lines read in January belong to last year */
    check_at("Dec 31 23:59:59 h a: x", utc, "2026-01-01T00:10:00Z",
             (want_t){3164, -1, "2025-12-31T23:59:59Z", "h", "a", NULL, "x"});
    /* a January line read in the last minutes of December (a sender's clock a
     * little ahead): next year, not eleven months back */
    check_at("Jan  1 00:05:00 h a: x", utc, "2025-12-31T23:50:00Z",
             (want_t){3164, -1, "2026-01-01T00:05:00Z", "h", "a", NULL, "x"});
    /* more than a day ahead: last year */
    check_at("Jan  3 00:00:00 h a: x", utc, "2026-01-01T00:10:00Z",
             (want_t){3164, -1, "2025-01-03T00:00:00Z", "h", "a", NULL, "x"});
    check_at("Jan  1 23:00:00 h a: x", utc, "2026-01-02T00:00:00Z",
             (want_t){3164, -1, "2026-01-01T23:00:00Z", "h", "a", NULL, "x"});
    /* the year is the one of the clock in env->tz: 23:30Z on Dec 31 is already
     * Jan 1 in Paris */
    check_at("Jan  1 00:20:00 h a: x", paris, "2025-12-31T23:30:00Z",
             (want_t){3164, -1, "2025-12-31T23:20:00Z", "h", "a", NULL, "x"});
    check_at("Dec 31 23:50:00 h a: x", paris, "2025-12-31T23:30:00Z",
             (want_t){3164, -1, "2025-12-31T22:50:00Z", "h", "a", NULL, "x"});
}

/* ---------------------------------------------------------------- ISO times (rsyslog) */

Test(syslog, iso_times)
{
    /* RSYSLOG_ForwardFormat */
    check("<30>2019-11-14T09:37:51.184+01:00 fw01 kernel: IN=eth0 OUT=",
          (want_t){3164, 30, "2019-11-14T08:37:51.184Z", "fw01", "kernel", NULL, "IN=eth0 OUT="});
    /* RSYSLOG_FileFormat (no PRI), microseconds, Z */
    check("2019-11-14T09:37:51.123456Z fw01 sshd[1]: hello",
          (want_t){3164, -1, "2019-11-14T09:37:51.123456Z", "fw01", "sshd", NULL, "hello"});
    /* no zone: local in env->tz */
    check_at("2019-11-14T09:37:51 fw01 app: x", paris, NOW,
             (want_t){3164, -1, "2019-11-14T08:37:51Z", "fw01", "app", NULL, "x"});
    check("2019-11-14T09:37:51-0500 fw01 app: x",
          (want_t){3164, -1, "2019-11-14T14:37:51Z", "fw01", "app", NULL, "x"});
}

/* ---------------------------------------------------------------- RFC 5424 */

Test(syslog, rfc5424_examples)
{
    /* RFC 5424 6.5, examples 1-4 */
    check("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
          "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
          (want_t){5424, 34, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "su", NULL,
                   "'su root' failed for lonvick on /dev/pts/8"});
    check("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to "
          "make the do-nuts.",
          (want_t){5424, 165, "2003-08-24T12:14:15.000003Z", "192.0.2.1", "myproc", NULL,
                   "%% It's time to make the do-nuts."});
    check(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
        "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xEF\xBB\xBF"
        "An application event log entry...",
        (want_t){5424, 165, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog",
                 "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]",
                 "An application event log entry..."});
    check(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
        "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 "
        "class=\"high\"]",
        (want_t){5424, 165, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog",
                 "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
                 "[examplePriority@32473 class=\"high\"]",
                 ""});
}

Test(syslog, rfc5424_nilvalues)
{
    check("<14>1 - - - - - -", (want_t){5424, 14, NULL, NULL, NULL, NULL, ""});
    check("<14>1 - - - - - - hello", (want_t){5424, 14, NULL, NULL, NULL, NULL, "hello"});
    check("<14>1 2020-01-01T00:00:00Z - app - - - x",
          (want_t){5424, 14, "2020-01-01T00:00:00Z", NULL, "app", NULL, "x"});
    /* truncated after the host */
    check("<14>1 2020-01-01T00:00:00Z host",
          (want_t){5424, 14, "2020-01-01T00:00:00Z", "host", NULL, NULL, ""});
    /* without a PRI, "1 -" is no header; "1 TIMESTAMP" is */
    check("1 - - - - - - x", (want_t){0, -1, NULL, NULL, NULL, NULL, "1 - - - - - - x"});
    check("1 2020-01-01T00:00:00Z h a - - - x",
          (want_t){5424, -1, "2020-01-01T00:00:00Z", "h", "a", NULL, "x"});
}

Test(syslog, rfc5424_structured_data)
{
    /* escapes inside quoted values: \] and \" do not end anything */
    check("<14>1 2020-01-01T00:00:00Z h a - M [x@1 a=\"b\\]c\" d=\"e\\\"f\"][y@1] msg ]",
          (want_t){5424, 14, "2020-01-01T00:00:00Z", "h", "a",
                   "[x@1 a=\"b\\]c\" d=\"e\\\"f\"][y@1]", "msg ]"});
    /* SRX with typographic quotes and a time without an offset (local time) */
    check_at("<14>1 2013-01-19T15:18:18.040 SRX100HM RT_FLOW - APPTRACK_SESSION_CLOSE "
             "[junos@2636.1 a=\"1\" b=\xE2\x80\x9Dst0.0\xE2\x80\x9D]",
             paris, NOW,
             (want_t){5424, 14, "2013-01-19T14:18:18.040Z", "SRX100HM", "RT_FLOW",
                      "[junos@2636.1 a=\"1\" b=\xE2\x80\x9Dst0.0\xE2\x80\x9D]", ""});
    /* an unbalanced quote: the element ends at the first ']' */
    check("<14>1 2020-01-01T00:00:00Z h a - - [x@1 a=\"b] c",
          (want_t){5424, 14, "2020-01-01T00:00:00Z", "h", "a", "[x@1 a=\"b]", "c"});
    /* an element that never closes: the rest is message */
    check("<14>1 2020-01-01T00:00:00Z h a - - [x@1 a=\"b\" c",
          (want_t){5424, 14, "2020-01-01T00:00:00Z", "h", "a", NULL, "[x@1 a=\"b\" c"});
}

/* ---------------------------------------------------------------- no header */

Test(syslog, pri_only_and_no_header)
{
    check("<189>date=2020-04-23 time=01:16:08 devname=\"testswitch1\"",
          (want_t){0, 189, NULL, NULL, NULL, NULL,
                   "date=2020-04-23 time=01:16:08 devname=\"testswitch1\""});
    check("<0>x", (want_t){0, 0, NULL, NULL, NULL, NULL, "x"});
    check("<191>", (want_t){0, 191, NULL, NULL, NULL, NULL, ""});
    check("CEF:0|Elastic|Vaporware|1.0.0-alpha|18|Web request|low|eventId=3457",
          (want_t){0, -1, NULL, NULL, NULL, NULL,
                   "CEF:0|Elastic|Vaporware|1.0.0-alpha|18|Web request|low|eventId=3457"});
    check("{\"ts\":1}", (want_t){0, -1, NULL, NULL, NULL, NULL, "{\"ts\":1}"});
    /* a PRI-less PAN-OS line with a PRI: "1," is not a version */
    check("<14>1,2012/10/30 09:46:12,0160",
          (want_t){0, 14, NULL, NULL, NULL, NULL, "1,2012/10/30 09:46:12,0160"});
}

Test(syslog, garbage_stays_message)
{
    static const char *const lines[] = {
        "",
        "<",
        "<>",
        "<12",
        "<1234>x",
        "<192>x",
        "<-1>x",
        "Oct",
        "Oct 11",
        "Oct 11 22:14",
        "Oct 11 22:14:1",
        "Oct 32 22:14:15 h a: x",
        "Feb 30 22:14:15 h a: x",
        "Oct 11 24:00:00 h a: x",
        "Xyz 11 22:14:15 h a: x",
        "Oct 11 22:14:15x h a: x",
        "2019-13-14T09:37:51Z h a: x",
        "2019-11-14T09:37:51+25:00 h a: x",
        "2019-11-14 09:37:51 h a: x",
        "\xFF\xFE\x00\x01",
        "   leading spaces",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        const char *l = lines[i];
        size_t len = i == 19 ? 4 : strlen(l);
        char *buf;
        syslog_msg_t m = parse_at(l, len, utc, NOW, &buf);
        cr_assert_eq(m.kind, 0, "'%s': kind %d", l, m.kind);
        cr_assert_eq(m.ts_us, 0, "'%s'", l);
        cr_assert_null(m.host, "'%s'", l);
        cr_assert_null(m.app, "'%s'", l);
        cr_assert_null(m.sd, "'%s'", l);
        const char *gt = m.pri >= 0 ? memchr(buf, '>', len) : NULL;
        size_t start = gt ? (size_t)(gt - buf) + 1 : 0;
        cr_assert_eq(m.msg, buf + start, "'%s': the whole line (after a PRI) is message", l);
        free(buf);
    }
}

Test(syslog, never_reads_past_the_end)
{
    /* every prefix of header-shaped lines */
    static const char *const lines[] = {
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
        "iut=\"3\" eventSource=\"Application\"][x@1 a=\"\\]\"] \xEF\xBB\xBFmsg",
        "<30>2019-11-14T09:37:51.184+01:00 fw01 kernel: x",
        "*Apr 15 2014 09:34:34.123 EDT: %ASA-session-5-106100: x",
        "Apr 24 2013 16:00:28 INT-FW01 : %ASA-6-106100: x",
        "Dec 11 2018 08:01:24 10.1.1.1: %ASA-6-302015: Built",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        for (size_t n = 0; n <= strlen(lines[i]); n++) {
            char *buf;
            syslog_msg_t m = parse_at(lines[i], n, paris, NOW, &buf);
            if (m.host)
                cr_assert(m.host >= buf && m.host + m.hostlen <= buf + n);
            if (m.app)
                cr_assert(m.app >= buf && m.app + m.applen <= buf + n);
            if (m.sd)
                cr_assert(m.sd >= buf && m.sd + m.sdlen <= buf + n);
            free(buf);
        }
}
