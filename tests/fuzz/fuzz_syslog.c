/*
 * fuzz_syslog.c — libFuzzer target: syslog header splitting (syslog_parse,
 * tools/syslog.c).
 *
 * Input: one line, as it is (not NUL-terminated; it may hold any byte). The
 * zone is picked by the input length (UTC, Europe/Paris, +05:30,
 * America/New_York) and the clock is fixed (2026-03-01T12:00:00Z), so that
 * year-less times and zone-less times go through every path. Properties
 * (abort on violation): every pointer returned lies inside the line with its
 * length; the message always runs to the end of the line; pri is -1 or
 * 0..191 and a line whose first byte is not '<' has none; kind is 0, 3164 or
 * 5424; a line without a header (kind 0) has no time, host, tag or
 * structured data; a host is non-empty and holds no space; a time lies within
 * the years 0000..9999 (a day of slack for the zone), and a BSD time without a
 * year is at most a day after the clock; structured data starts with '['
 * and ends with ']'; and parsing is deterministic (twice, same result).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_syslog: check failed: %s: ", #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW_US 1772366400000000LL /* 2026-03-01T12:00:00Z */
#define DAY_US 86400000000LL
#define MIN_US (-62167219200LL * 1000000 - DAY_US)
#define MAX_US (253402300800LL * 1000000 + DAY_US)

static colog_tz_t *zones[4];

static void open_zones(void)
{
    static const char *const names[4] = {"UTC", "Europe/Paris", "+05:30", "America/New_York"};
    for (int i = 0; i < 4; i++)
        if (zones[i] == NULL && colog_tz_open(names[i], &zones[i]) != 0) {
            fprintf(stderr, "fuzz_syslog: cannot open zone %s\n", names[i]);
            abort();
        }
}

static void check_span(const char *line, size_t len, const char *p, size_t n, const char *what)
{
    if (p == NULL) {
        CHECK(n == 0, "%s: NULL with length %zu", what, n);
        return;
    }
    CHECK(p >= line && p <= line + len && n <= (size_t)(line + len - p),
          "%s: [%td, +%zu) outside the line of %zu bytes", what, p - line, n, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_zones();
    const char *line = (const char *)data;
    norm_env_t env = {.tz = zones[size % 4], .now_us = NOW_US};
    syslog_msg_t m, again;
    syslog_parse(line, size, &env, &m);

    CHECK(m.kind == 0 || m.kind == 3164 || m.kind == 5424, "kind %d", m.kind);
    CHECK(m.pri >= -1 && m.pri <= 191, "pri %d", m.pri);
    CHECK(m.pri == -1 || (size > 0 && line[0] == '<'), "pri %d without '<'", m.pri);
    check_span(line, size, m.host, m.hostlen, "host");
    check_span(line, size, m.app, m.applen, "app");
    check_span(line, size, m.sd, m.sdlen, "sd");
    CHECK(m.msg != NULL, "msg NULL");
    check_span(line, size, m.msg, m.msglen, "msg");
    CHECK(size == 0 || m.msg + m.msglen == line + size, "msg ends %td bytes early",
          (line + size) - (m.msg + m.msglen));
    if (m.kind == 0)
        CHECK(m.ts_us == 0 && m.host == NULL && m.app == NULL && m.sd == NULL,
              "no header, but a time, host, tag or structured data");
    if (m.kind == 3164)
        CHECK(m.ts_us != 0 && m.sd == NULL, "3164: ts %lld, sd %p", (long long)m.ts_us,
              (const void *)m.sd);
    if (m.host) {
        CHECK(m.hostlen > 0, "empty host");
        CHECK(memchr(m.host, ' ', m.hostlen) == NULL, "host holds a space");
    }
    if (m.app)
        CHECK(m.applen > 0 && memchr(m.app, ' ', m.applen) == NULL, "bad tag");
    if (m.sd)
        CHECK(m.sdlen >= 2 && m.sd[0] == '[' && m.sd[m.sdlen - 1] == ']', "bad structured data");
    if (m.ts_us)
        CHECK(m.ts_us >= MIN_US && m.ts_us <= MAX_US, "time %lld outside 0000..9999",
              (long long)m.ts_us);
    /* A BSD time without a year: "Mmm dd hh:mm:ss" right after the PRI. */
    const char *gt = m.pri >= 0 ? memchr(line, '>', size) : NULL;
    size_t at = gt ? (size_t)(gt - line) + 1 : 0;
    if (m.kind == 3164 && at + 15 <= size && line[at + 3] == ' ' && line[at + 6] == ' ' &&
        line[at + 9] == ':')
        CHECK(m.ts_us <= NOW_US + DAY_US, "year-less time %lld after the clock",
              (long long)m.ts_us);

    syslog_parse(line, size, &env, &again);
    CHECK(memcmp(&m, &again, sizeof m) == 0, "not deterministic");
    return 0;
}
