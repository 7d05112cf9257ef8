/*
 * test_lex.c — Criterion suite for query/colog_lex.c: tokens with their exact
 * spans, lexical errors, string unescaping and the bare-literal classifier.
 */
#include "colog_lex.h"

#include <criterion/criterion.h>
#include <string.h>

typedef struct exp_tok {
    colog_qtok_t kind;
    uint32_t pos, len;
} exp_tok_t;

/* Lex text and compare with want[0..n) (the last being QT_EOF or QT_ERR). */
static void check_tokens(const char *text, const exp_tok_t *want, size_t n)
{
    colog_qlexer_t lx;
    colog_qtoken_t t;
    colog__lex_init(&lx, text, (uint32_t)strlen(text));
    for (size_t i = 0; i < n; i++) {
        colog__lex_next(&lx, &t);
        cr_assert_eq(t.kind, want[i].kind, "'%s' token %zu: kind %d, want %d", text, i, t.kind,
                     want[i].kind);
        cr_assert_eq(t.pos, want[i].pos, "'%s' token %zu: pos %u, want %u", text, i, t.pos,
                     want[i].pos);
        cr_assert_eq(t.len, want[i].len, "'%s' token %zu: len %u, want %u", text, i, t.len,
                     want[i].len);
    }
    /* EOF and ERR repeat */
    colog__lex_next(&lx, &t);
    cr_assert_eq(t.kind, want[n - 1].kind);
}

#define CHECK(text, ...)                                                                           \
    do {                                                                                           \
        static const exp_tok_t w_[] = {__VA_ARGS__};                                               \
        check_tokens(text, w_, sizeof w_ / sizeof w_[0]);                                          \
    } while (0)

Test(lex, punctuation_and_operators)
{
    CHECK("| ( ) , .. = != < <= > >=", {QT_PIPE, 0, 1}, {QT_LPAREN, 2, 1}, {QT_RPAREN, 4, 1},
          {QT_COMMA, 6, 1}, {QT_DOTDOT, 8, 2}, {QT_EQ, 11, 1}, {QT_NE, 13, 2}, {QT_LT, 16, 1},
          {QT_LE, 18, 2}, {QT_GT, 21, 1}, {QT_GE, 23, 2}, {QT_EOF, 25, 0});
    CHECK("a<=1", {QT_IDENT, 0, 1}, {QT_LE, 1, 2}, {QT_LIT, 3, 1}, {QT_EOF, 4, 0});
    CHECK("", {QT_EOF, 0, 0});
    CHECK(" \t\r\n", {QT_EOF, 4, 0});
}

Test(lex, keywords_and_identifiers)
{
    colog_qlexer_t lx;
    colog_qtoken_t t;
    const char *text = "where Where src_ip _x1 count dcount bin day";
    colog__lex_init(&lx, text, (uint32_t)strlen(text));
    static const struct {
        colog_qtok_t kind;
        colog_qkw_t kw;
    } want[] = {{QT_KW, QKW_WHERE},   {QT_IDENT, QKW_NONE}, {QT_IDENT, QKW_NONE},
                {QT_IDENT, QKW_NONE}, {QT_KW, QKW_COUNT},   {QT_KW, QKW_DCOUNT},
                {QT_KW, QKW_BIN},     {QT_KW, QKW_DAY}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        colog__lex_next(&lx, &t);
        cr_expect_eq(t.kind, want[i].kind, "token %zu", i);
        cr_expect_eq(t.kw, want[i].kw, "token %zu", i);
    }
    /* every keyword round-trips */
    for (int k = QKW_RANGE; k <= QKW_BIN; k++) {
        const char *s = colog__kw_text((colog_qkw_t)k);
        cr_expect_eq(colog__kw_find(s, strlen(s)), (colog_qkw_t)k, "%s", s);
    }
    cr_expect_eq(colog__kw_find("wher", 4), QKW_NONE);
    cr_expect_eq(colog__kw_find("WHERE", 5), QKW_NONE);
}

Test(lex, literal_runs)
{
    /* a range: the run stops before ".." */
    CHECK("range 2026-03-01..2026-03-08", {QT_KW, 0, 5}, {QT_LIT, 6, 10}, {QT_DOTDOT, 16, 2},
          {QT_LIT, 18, 10}, {QT_EOF, 28, 0});
    CHECK("x in (10.0.0.0/8,2001:db8::/32)", {QT_IDENT, 0, 1}, {QT_KW, 2, 2}, {QT_LPAREN, 5, 1},
          {QT_LIT, 6, 10}, {QT_COMMA, 16, 1}, {QT_LIT, 17, 13}, {QT_RPAREN, 30, 1},
          {QT_EOF, 31, 0});
    /* IPv6 starting with letters or "::" */
    CHECK("fe80::1 ::1 dead:beef::", {QT_LIT, 0, 7}, {QT_LIT, 8, 3}, {QT_LIT, 12, 11},
          {QT_EOF, 23, 0});
    /* negative numbers; RFC 3339 with offset and fraction */
    CHECK("-5 -2.5 2026-03-01T12:00:00.5+09:00", {QT_LIT, 0, 2}, {QT_LIT, 3, 4}, {QT_LIT, 8, 27},
          {QT_EOF, 35, 0});
    /* durations; bin(ts,1h) */
    CHECK("bin(ts,1h)", {QT_KW, 0, 3}, {QT_LPAREN, 3, 1}, {QT_IDENT, 4, 2}, {QT_COMMA, 6, 1},
          {QT_LIT, 7, 2}, {QT_RPAREN, 9, 1}, {QT_EOF, 10, 0});
    /* a run swallows junk that the classifier then rejects */
    CHECK("12abc-x", {QT_LIT, 0, 7}, {QT_EOF, 7, 0});
}

Test(lex, strings)
{
    CHECK("\"tcp\" \"a\\\"b\\\\c\" \"\"", {QT_STR, 0, 5}, {QT_STR, 6, 9}, {QT_STR, 16, 2},
          {QT_EOF, 18, 0});
    const char *text = "\"a\\\"b\\\\c\"";
    colog_qlexer_t lx;
    colog_qtoken_t t;
    char buf[32];
    colog__lex_init(&lx, text, (uint32_t)strlen(text));
    colog__lex_next(&lx, &t);
    cr_assert_eq(t.kind, QT_STR);
    uint32_t n = colog__lex_unescape(text, &t, buf);
    cr_expect_eq(n, 5);
    cr_expect(memcmp(buf, "a\"b\\c", 5) == 0);
}

static void check_error(const char *text, uint32_t pos, uint32_t len, const char *msg)
{
    colog_qlexer_t lx;
    colog_qtoken_t t;
    colog__lex_init(&lx, text, (uint32_t)strlen(text));
    do
        colog__lex_next(&lx, &t);
    while (t.kind != QT_ERR && t.kind != QT_EOF);
    cr_assert_eq(t.kind, QT_ERR, "'%s': no error", text);
    cr_expect_eq(lx.err.pos, pos, "'%s': pos %u want %u", text, lx.err.pos, pos);
    cr_expect_eq(lx.err.len, len, "'%s': len %u want %u", text, lx.err.len, len);
    cr_expect_eq(t.pos, pos);
    cr_expect_eq(t.len, len);
    cr_expect_str_eq(lx.err.msg, msg);
    /* ERR repeats */
    colog__lex_next(&lx, &t);
    cr_expect_eq(t.kind, QT_ERR);
}

Test(lex, errors)
{
    check_error("x = \"abc", 4, 4, "unterminated string: missing closing '\"'");
    check_error("x = \"abc\\", 4, 5, "unterminated string: missing closing '\"'");
    check_error("x = \"a\\nb\"", 6, 2,
                "bad escape '\\n' in string: only \\\" and \\\\ are allowed");
    check_error("x = 'tcp'", 4, 1, "unexpected character ''': strings are \"double-quoted\"");
    check_error("x ! 5", 2, 1, "unexpected character '!' (not equal is !=)");
    check_error("x ; y", 2, 1, "unexpected character ';'");
    check_error("x = 1 . 2", 6, 1, "unexpected character '.'");
    check_error("x = \xc3\xa9", 4, 2, "unexpected character '\xc3\xa9'");
    check_error("x\x01", 1, 1, "unexpected control character 0x01");
    check_error("a - b", 2, 1, "unexpected character '-'");
}

/* ---------------------------------------------------------------- classifier */

static colog_qlitv_t cls(const char *s)
{
    colog_qlitv_t v;
    colog__lit_classify(s, (uint32_t)strlen(s), &v);
    return v;
}

Test(lex, classify_numbers)
{
    colog_qlitv_t v = cls("25");
    cr_expect_eq(v.cls, QL_INT);
    cr_expect_eq(v.mag, 25);
    cr_expect(!v.neg);
    v = cls("-5");
    cr_expect_eq(v.cls, QL_INT);
    cr_expect(v.neg);
    cr_expect_eq(v.mag, 5);
    v = cls("-0");
    cr_expect_eq(v.cls, QL_INT);
    cr_expect(!v.neg, "-0 is 0");
    v = cls("18446744073709551615");
    cr_expect_eq(v.cls, QL_INT);
    cr_expect_eq(v.mag, UINT64_MAX);
    v = cls("18446744073709551616");
    cr_expect_eq(v.cls, QL_BAD);
    cr_expect_str_eq(v.why, "integer out of range");
    v = cls("1.5");
    cr_expect_eq(v.cls, QL_FLOAT);
    cr_expect_eq(v.f, 1.5);
    v = cls("-2.5e3");
    cr_expect_eq(v.cls, QL_FLOAT);
    cr_expect_eq(v.f, -2500.0);
    v = cls("1e3");
    cr_expect_eq(v.cls, QL_FLOAT);
    cr_expect_eq(v.f, 1000.0);
    cr_expect_eq(cls("1.").cls, QL_BAD);
    cr_expect_eq(cls("1.5.").cls, QL_BAD);
    cr_expect_eq(cls("1e").cls, QL_BAD);
    cr_expect_eq(cls("12abc").cls, QL_BAD);
    cr_expect_eq(cls("-").cls, QL_BAD);
}

Test(lex, classify_durations)
{
    static const struct {
        const char *s;
        int64_t us;
    } ok[] = {
        {"10s", 10000000LL}, {"30m", 1800000000LL}, {"1h", 3600000000LL}, {"7d", 604800000000LL},
        {"0s", 0},           {"90s", 90000000LL}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        colog_qlitv_t v = cls(ok[i].s);
        cr_expect_eq(v.cls, QL_DUR, "%s", ok[i].s);
        cr_expect_eq(v.dur_us, ok[i].us, "%s", ok[i].s);
    }
    cr_expect_eq(cls("1w").cls, QL_BAD);
    cr_expect_eq(cls("1h30m").cls, QL_BAD);
    cr_expect_eq(cls("-1h").cls, QL_BAD);
    colog_qlitv_t v = cls("999999999999d");
    cr_expect_eq(v.cls, QL_BAD);
    cr_expect_str_eq(v.why, "duration out of range");
}

Test(lex, classify_times)
{
    colog_qlitv_t v = cls("2026-03-02");
    cr_expect_eq(v.cls, QL_DATE);
    cr_expect_eq(v.day, 20514);
    cr_expect_eq(v.y, 2026);
    cr_expect_eq(v.mo, 3);
    cr_expect_eq(v.d, 2);
    v = cls("2026-02-30");
    cr_expect_eq(v.cls, QL_BAD);
    cr_expect_str_eq(v.why, "not a valid date (YYYY-MM-DD)");
    v = cls("2026-03-01T12:00:00Z");
    cr_expect_eq(v.cls, QL_DATETIME);
    cr_expect(v.has_zone);
    cr_expect_eq(v.t_us, 1772366400000000LL);
    v = cls("2026-03-01T12:00:00+09:00");
    cr_expect_eq(v.cls, QL_DATETIME);
    cr_expect(v.has_zone);
    cr_expect_eq(v.t_us, (1772366400LL - 32400) * 1000000LL);
    v = cls("2026-03-01T12:00:00.25");
    cr_expect_eq(v.cls, QL_DATETIME);
    cr_expect(!v.has_zone, "no zone: wall time, the query's zone applies");
    cr_expect_eq(v.t_us, 1772366400250000LL);
    v = cls("2026-03-01T25:00:00Z");
    cr_expect_eq(v.cls, QL_BAD);
    cr_expect_str_eq(v.why, "not a valid RFC 3339 time (2026-03-01T12:00:00Z)");
}

Test(lex, classify_ips_and_cidrs)
{
    colog_qlitv_t v = cls("10.1.2.3");
    colog_ip_t want;
    cr_expect_eq(v.cls, QL_IP);
    colog_ip_parse("10.1.2.3", 8, &want);
    cr_expect(memcmp(&v.ip, &want, 16) == 0);
    v = cls("fe80::1");
    cr_expect_eq(v.cls, QL_IP);
    cr_expect_eq(v.ip.b[0], 0xfe);
    cr_expect_eq(v.ip.b[15], 1);

    /* IPv4 CIDR: prefix in IPv6 terms, host bits masked */
    v = cls("10.1.2.3/8");
    cr_expect_eq(v.cls, QL_CIDR);
    cr_expect_eq(v.prefix, 104);
    colog_ip_parse("10.0.0.0", 8, &want);
    cr_expect(memcmp(&v.ip, &want, 16) == 0, "host bits masked");
    v = cls("192.168.1.77/28");
    cr_expect_eq(v.prefix, 124);
    colog_ip_parse("192.168.1.64", 12, &want);
    cr_expect(memcmp(&v.ip, &want, 16) == 0);
    v = cls("0.0.0.0/0");
    cr_expect_eq(v.prefix, 96);
    v = cls("2001:db8:ffff::1/32");
    cr_expect_eq(v.cls, QL_CIDR);
    cr_expect_eq(v.prefix, 32);
    colog_ip_parse("2001:db8::", 10, &want);
    cr_expect(memcmp(&v.ip, &want, 16) == 0);
    v = cls("::/0");
    cr_expect_eq(v.cls, QL_CIDR);
    cr_expect_eq(v.prefix, 0);

    v = cls("10.0.0.0/33");
    cr_expect_eq(v.cls, QL_BAD);
    cr_expect_str_eq(v.why, "not a valid CIDR block: an IPv4 prefix is 0..32");
    v = cls("2001:db8::/129");
    cr_expect_str_eq(v.why, "not a valid CIDR block: an IPv6 prefix is 0..128");
    v = cls("10.0.0.0/");
    cr_expect_str_eq(v.why, "not a valid CIDR block: bad prefix length");
    v = cls("10.0.0.0/8/8");
    cr_expect_eq(v.cls, QL_BAD);
    v = cls("10.0.0.256/8");
    cr_expect_str_eq(v.why, "not a valid CIDR block: bad address");
    cr_expect_eq(cls("10.0.0").cls, QL_BAD);
    cr_expect_eq(cls("1.2.3.4.5").cls, QL_BAD);
    cr_expect_eq(cls("-10.0.0.1").cls, QL_BAD);
}
