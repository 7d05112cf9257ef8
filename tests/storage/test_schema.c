/*
 * test_schema.c — built-in schemas, the schema text parser (every error with its
 * exact FILE:LINE:COL), colog_schema_find, and the canonical text.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "colog_ingest_int.h"

static int parse(const char *text, colog_schema_t *s)
{
    return colog_schema_parse(text, strlen(text), "dir/t.schema", s);
}

/* The parse fails with code and exactly this message. */
static void expect_err(const char *text, int code, const char *msg)
{
    colog_schema_t s;
    memset(&s, 0x5a, sizeof s);
    colog_schema_t before = s;
    int rc = parse(text, &s);
    cr_assert_eq(rc, code, "rc %d (%s) for %s", rc, colog_errmsg(), text);
    cr_assert_str_eq(colog_errmsg(), msg);
    cr_assert(memcmp(&s, &before, sizeof s) == 0, "out written on failure");
}

static void expect_col(const colog_schema_t *s, unsigned i, const char *name, colog_type_t t,
                       bool ix)
{
    cr_assert_lt(i, s->ncols);
    cr_assert_str_eq(s->cols[i].name, name);
    cr_assert_eq(s->cols[i].type, t, "column %s", name);
    cr_assert_eq(s->cols[i].indexed, ix, "column %s", name);
}

Test(schema, builtin_firewall_matches_cli_md)
{
    const colog_schema_t *s = colog_schema_builtin("firewall");
    cr_assert_not_null(s);
    cr_assert_str_eq(s->name, "firewall");
    cr_assert_eq(s->ncols, 15);
    expect_col(s, 0, "ts", COLOG_T_TIME, false);
    expect_col(s, 1, "device", COLOG_T_STRING, false);
    expect_col(s, 2, "src_ip", COLOG_T_IP, true);
    expect_col(s, 3, "src_port", COLOG_T_U16, true);
    expect_col(s, 4, "dst_ip", COLOG_T_IP, true);
    expect_col(s, 5, "dst_port", COLOG_T_U16, true);
    expect_col(s, 6, "proto", COLOG_T_STRING, false);
    expect_col(s, 7, "action", COLOG_T_STRING, false);
    expect_col(s, 8, "policy", COLOG_T_U32, false);
    expect_col(s, 9, "src_zone", COLOG_T_STRING, false);
    expect_col(s, 10, "dst_zone", COLOG_T_STRING, false);
    expect_col(s, 11, "user", COLOG_T_STRING, true);
    expect_col(s, 12, "bytes_out", COLOG_T_U64, false);
    expect_col(s, 13, "bytes_in", COLOG_T_U64, false);
    expect_col(s, 14, "duration", COLOG_T_U32, false);
}

Test(schema, builtin_web_matches_cli_md)
{
    const colog_schema_t *s = colog_schema_builtin("web");
    cr_assert_not_null(s);
    cr_assert_str_eq(s->name, "web");
    cr_assert_eq(s->ncols, 11);
    expect_col(s, 0, "ts", COLOG_T_TIME, false);
    expect_col(s, 1, "host", COLOG_T_STRING, false);
    expect_col(s, 2, "client_ip", COLOG_T_IP, true);
    expect_col(s, 3, "user", COLOG_T_STRING, true);
    expect_col(s, 4, "method", COLOG_T_STRING, false);
    expect_col(s, 5, "url", COLOG_T_STRING, false);
    expect_col(s, 6, "status", COLOG_T_U16, true);
    expect_col(s, 7, "bytes", COLOG_T_U64, false);
    expect_col(s, 8, "referrer", COLOG_T_STRING, false);
    expect_col(s, 9, "user_agent", COLOG_T_STRING, false);
    expect_col(s, 10, "duration_ms", COLOG_T_U32, false);
}

Test(schema, builtin_unknown)
{
    cr_assert_null(colog_schema_builtin("auth"));
    cr_assert_null(colog_schema_builtin("Firewall"));
    cr_assert_null(colog_schema_builtin(""));
    cr_assert_null(colog_schema_builtin(NULL));
}

Test(schema, find)
{
    const colog_schema_t *s = colog_schema_builtin("firewall");
    cr_assert_eq(colog_schema_find(s, "ts", 2), 0);
    cr_assert_eq(colog_schema_find(s, "duration", 8), 14);
    cr_assert_eq(colog_schema_find(s, "dst_portXYZ", 8), 5, "length bounds the name");
    cr_assert_eq(colog_schema_find(s, "dst_por", 7), -1, "a prefix is not a match");
    cr_assert_eq(colog_schema_find(s, "t", 1), -1);
    cr_assert_eq(colog_schema_find(s, "", 0), -1);
    cr_assert_eq(colog_schema_find(s, "TS", 2), -1);
    char longname[100];
    memset(longname, 'a', sizeof longname);
    cr_assert_eq(colog_schema_find(s, longname, sizeof longname), -1);
}

Test(schema, parse_all_syntax)
{
    colog_schema_t s;
    const char *text = "# a comment line\n"
                       "\n"
                       "ts\ttime   # the event time\r\n"
                       "  src  ip indexed\n"
                       "_x9 u8\n"
                       "n u16 indexed#comment right after a token\n"
                       "   \t \n"
                       "m u32\n"
                       "big u64\n"
                       "neg i64 indexed\n"
                       "ratio f64\n"
                       "s string indexed\n"
                       "t2 time"; /* no final newline */
    cr_assert_eq(parse(text, &s), 0, "%s", colog_errmsg());
    cr_assert_str_eq(s.name, "t");
    cr_assert_eq(s.ncols, 10);
    expect_col(&s, 0, "ts", COLOG_T_TIME, false);
    expect_col(&s, 1, "src", COLOG_T_IP, true);
    expect_col(&s, 2, "_x9", COLOG_T_U8, false);
    expect_col(&s, 3, "n", COLOG_T_U16, true);
    expect_col(&s, 4, "m", COLOG_T_U32, false);
    expect_col(&s, 5, "big", COLOG_T_U64, false);
    expect_col(&s, 6, "neg", COLOG_T_I64, true);
    expect_col(&s, 7, "ratio", COLOG_T_F64, false);
    expect_col(&s, 8, "s", COLOG_T_STRING, true);
    expect_col(&s, 9, "t2", COLOG_T_TIME, false);
}

Test(schema, parse_name_from_file)
{
    colog_schema_t s;
    cr_assert_eq(colog_schema_parse("ts time\n", 8, "/etc/colog/auth.schema", &s), 0);
    cr_assert_str_eq(s.name, "auth");
    cr_assert_eq(colog_schema_parse("ts time\n", 8, "plain", &s), 0);
    cr_assert_str_eq(s.name, "plain");
    cr_assert_eq(colog_schema_parse("ts time\n", 8, NULL, &s), 0);
    cr_assert_str_eq(s.name, "schema");
}

Test(schema, name_lengths)
{
    char text[200];
    char name[COLOG_NAME_MAX + 1];
    memset(name, 'a', sizeof name);
    name[COLOG_NAME_MAX - 1] = 0; /* 47 bytes: the longest allowed */
    snprintf(text, sizeof text, "%s time\n", name);
    colog_schema_t s;
    cr_assert_eq(parse(text, &s), 0, "%s", colog_errmsg());
    cr_assert_str_eq(s.cols[0].name, name);

    name[COLOG_NAME_MAX - 1] = 'a';
    name[COLOG_NAME_MAX] = 0; /* 48 bytes */
    snprintf(text, sizeof text, "ts time\n %s u8\n", name);
    char msg[200];
    snprintf(msg, sizeof msg, "dir/t.schema:2:2: column name '%s' is longer than 47 bytes", name);
    expect_err(text, COLOG_ESCHEMA, msg);
}

Test(schema, err_invalid_name)
{
    expect_err("ts time\nBad u16\n", COLOG_ESCHEMA,
               "dir/t.schema:2:1: invalid column name 'Bad' (expected [a-z_][a-z0-9_]*)");
    expect_err("ts time\n  9lives u16\n", COLOG_ESCHEMA,
               "dir/t.schema:2:3: invalid column name '9lives' (expected [a-z_][a-z0-9_]*)");
    expect_err("ts time\ndst-port u16\n", COLOG_ESCHEMA,
               "dir/t.schema:2:1: invalid column name 'dst-port' (expected [a-z_][a-z0-9_]*)");
    expect_err("ts time\nsrc\x01 u16\n", COLOG_ESCHEMA,
               "dir/t.schema:2:1: invalid column name 'src\\x01' (expected [a-z_][a-z0-9_]*)");
}

Test(schema, err_nul_byte)
{
    colog_schema_t s;
    const char text[] = "ts time\na\0b u8\n";
    cr_assert_eq(colog_schema_parse(text, sizeof text - 1, "n.schema", &s), COLOG_ESCHEMA);
    cr_assert_str_eq(colog_errmsg(),
                     "n.schema:2:1: invalid column name 'a\\x00b' (expected [a-z_][a-z0-9_]*)");
}

Test(schema, err_unknown_type)
{
    expect_err("ts time\nport  u17\n", COLOG_ESCHEMA,
               "dir/t.schema:2:7: unknown type 'u17' (expected time, ip, u8, u16, u32, u64, i64, "
               "f64 or string)");
    expect_err("ts time\nname String\n", COLOG_ESCHEMA,
               "dir/t.schema:2:6: unknown type 'String' (expected time, ip, u8, u16, u32, u64, "
               "i64, f64 or string)");
    expect_err("ts time\nname averyveryverylongtypename\n", COLOG_ESCHEMA,
               "dir/t.schema:2:6: unknown type 'averyveryverylongtypename' (expected time, ip, u8, "
               "u16, u32, u64, i64, f64 or string)");
}

Test(schema, err_missing_type)
{
    expect_err("ts time\nabc\n", COLOG_ESCHEMA, "dir/t.schema:2:4: column 'abc' has no type");
    expect_err("ts time\n  abc   # commented type u8\n", COLOG_ESCHEMA,
               "dir/t.schema:2:6: column 'abc' has no type");
}

Test(schema, err_first_not_time)
{
    expect_err("# header\nport u16\nts time\n", COLOG_ESCHEMA,
               "dir/t.schema:2:6: the first column must have type time ('port' is u16)");
}

Test(schema, err_duplicate)
{
    expect_err("ts time\na u8\n\n  a u16\n", COLOG_ESCHEMA,
               "dir/t.schema:4:3: duplicate column 'a' (first on line 2)");
    expect_err("ts time\nts time\n", COLOG_ESCHEMA,
               "dir/t.schema:2:1: duplicate column 'ts' (first on line 1)");
}

Test(schema, err_extra_tokens)
{
    expect_err("ts time\na u8 idx\n", COLOG_ESCHEMA,
               "dir/t.schema:2:6: unexpected 'idx' (expected 'indexed')");
    expect_err("ts time\na u8 indexed extra\n", COLOG_ESCHEMA,
               "dir/t.schema:2:14: unexpected 'extra' after 'indexed'");
    expect_err("ts time\na u8 indexed indexed\n", COLOG_ESCHEMA,
               "dir/t.schema:2:14: unexpected 'indexed' after 'indexed'");
}

Test(schema, err_indexed_not_allowed)
{
    expect_err("ts time\n  x f64 indexed\n", COLOG_ESCHEMA,
               "dir/t.schema:2:9: column 'x' of type f64 cannot be indexed");
    expect_err("ts time indexed\n", COLOG_ESCHEMA,
               "dir/t.schema:1:9: column 'ts' of type time cannot be indexed");
    expect_err("ts time\nseen time indexed\n", COLOG_ESCHEMA,
               "dir/t.schema:2:11: column 'seen' of type time cannot be indexed");
}

Test(schema, err_no_columns)
{
    expect_err("", COLOG_ESCHEMA, "dir/t.schema: no columns (the first must be the event time)");
    expect_err("# only\n\n  # comments\n", COLOG_ESCHEMA,
               "dir/t.schema: no columns (the first must be the event time)");
}

Test(schema, max_columns)
{
    char text[COLOG_MAX_COLS * 16 + 64];
    size_t o = (size_t)snprintf(text, sizeof text, "ts time\n");
    for (unsigned i = 1; i < COLOG_MAX_COLS; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "c%u u8\n", i);
    colog_schema_t s;
    cr_assert_eq(parse(text, &s), 0, "%s", colog_errmsg());
    cr_assert_eq(s.ncols, COLOG_MAX_COLS);
    snprintf(text + o, sizeof text - o, "one_more u8\n");
    expect_err(text, COLOG_ESCHEMA, "dir/t.schema:65:1: more than 64 columns");
}

Test(schema, format_firewall_exact)
{
    char buf[COLOG_SCHEMA_TEXT_MAX];
    const char *want = "ts time\n"
                       "device string\n"
                       "src_ip ip indexed\n"
                       "src_port u16 indexed\n"
                       "dst_ip ip indexed\n"
                       "dst_port u16 indexed\n"
                       "proto string\n"
                       "action string\n"
                       "policy u32\n"
                       "src_zone string\n"
                       "dst_zone string\n"
                       "user string indexed\n"
                       "bytes_out u64\n"
                       "bytes_in u64\n"
                       "duration u32\n";
    int n = colog_schema_format(colog_schema_builtin("firewall"), buf, sizeof buf);
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_str_eq(buf, want);
}

Test(schema, format_roundtrip)
{
    const char *names[] = {"firewall", "web"};
    for (unsigned i = 0; i < 2; i++) {
        const colog_schema_t *s = colog_schema_builtin(names[i]);
        char buf[COLOG_SCHEMA_TEXT_MAX];
        int n = colog_schema_format(s, buf, sizeof buf);
        cr_assert_gt(n, 0);
        colog_schema_t back;
        cr_assert_eq(colog_schema_parse(buf, (size_t)n, names[i], &back), 0, "%s", colog_errmsg());
        cr_assert_eq(back.ncols, s->ncols);
        cr_assert(memcmp(back.cols, s->cols, sizeof s->cols[0] * s->ncols) == 0);
        cr_assert_str_eq(back.name, names[i]);
    }
}

Test(schema, format_bound_and_limit)
{
    /* The widest schema fits COLOG_SCHEMA_TEXT_MAX. */
    colog_schema_t s;
    memset(&s, 0, sizeof s);
    s.ncols = COLOG_MAX_COLS;
    for (unsigned i = 0; i < COLOG_MAX_COLS; i++) {
        memset(s.cols[i].name, 'a' + i % 26, COLOG_NAME_MAX - 1);
        s.cols[i].name[0] = (char)('a' + i / 26);
        s.cols[i].type = i == 0 ? COLOG_T_TIME : COLOG_T_STRING;
        s.cols[i].indexed = i != 0;
    }
    char buf[COLOG_SCHEMA_TEXT_MAX];
    int n = colog_schema_format(&s, buf, sizeof buf);
    cr_assert_gt(n, 0, "%s", colog_errmsg());
    cr_assert_eq((size_t)n, strlen(buf));

    char small[10];
    cr_assert_eq(colog_schema_format(colog_schema_builtin("web"), small, sizeof small),
                 COLOG_ELIMIT);
    /* exactly the text length is one byte short (no room for the NUL) */
    int need = colog_schema_format(colog_schema_builtin("web"), buf, sizeof buf);
    cr_assert_eq(colog_schema_format(colog_schema_builtin("web"), buf, (size_t)need), COLOG_ELIMIT);
    cr_assert_eq(colog_schema_format(colog_schema_builtin("web"), buf, (size_t)need + 1), need);
}
