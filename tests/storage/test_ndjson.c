/*
 * test_ndjson.c — NDJSON ingest into a batch (no part writer needed): value
 * kinds per column type, line handling, and every reject with its exact line,
 * column and reason.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "colog_ingest_int.h"

/* 2026-03-01T00:00:00Z */
#define T0 1772323200000000LL

static const char *schema_text = "ts time\n"
                                 "s string\n"
                                 "ip ip indexed\n"
                                 "a u8\n"
                                 "b u16\n"
                                 "c u32\n"
                                 "d u64\n"
                                 "e i64\n"
                                 "f f64\n";

typedef struct reject {
    uint64_t line, col;
    char reason[256];
} reject_t;

typedef struct fixture {
    colog_schema_t schema;
    colog_ingest_opts_t opts;
    colog_ingest_t *ing;
    reject_t r[64];
    unsigned n;
} fixture_t;

static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *reason)
{
    fixture_t *fx = ctx;
    cr_assert_str_eq(src, "t.ndjson");
    if (fx->n < 64) {
        fx->r[fx->n].line = line;
        fx->r[fx->n].col = col;
        snprintf(fx->r[fx->n].reason, sizeof fx->r[fx->n].reason, "%s", reason);
    }
    fx->n++;
}

static int no_open(void *ctx, int32_t day, uint64_t nrows)
{
    (void)ctx, (void)day, (void)nrows;
    return colog_seterr(COLOG_EINVAL, "this test writes no parts");
}

static const colog_partsink_t no_sink = {.open = no_open};

static void fx_init(fixture_t *fx)
{
    memset(fx, 0, sizeof *fx);
    cr_assert_eq(colog_schema_parse(schema_text, strlen(schema_text), "x", &fx->schema), 0);
    fx->opts.now_us = T0 + 3600000000LL; /* 01:00 */
    fx->opts.reject = on_reject;
    fx->opts.reject_ctx = fx;
    cr_assert_eq(colog__ingest_new(&fx->schema, &fx->opts, &no_sink, NULL, &fx->ing), 0);
}

static void fx_free(fixture_t *fx)
{
    colog_ingest_stats_t st;
    /* finish flushes: give it nothing to write */
    colog_ingest_t *tmp = fx->ing;
    (void)colog_ingest_finish(tmp, &st);
}

static int fx_load(fixture_t *fx, const char *text, size_t len)
{
    FILE *f = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "r");
    cr_assert_not_null(f);
    int rc = colog_ingest_file(fx->ing, f, "t.ndjson", COLOG_IN_NDJSON);
    fclose(f);
    return rc;
}

static int fx_str(fixture_t *fx, const char *text)
{
    return fx_load(fx, text, strlen(text));
}

static colog_value_t val(fixture_t *fx, size_t row, unsigned col)
{
    colog_value_t v;
    cr_assert(colog__ingest_value(fx->ing, row, col, &v), "row %zu col %u absent", row, col);
    return v;
}

static bool absent(fixture_t *fx, size_t row, unsigned col)
{
    colog_value_t v;
    return !colog__ingest_value(fx->ing, row, col, &v);
}

static void expect_reject(const fixture_t *fx, unsigned i, uint64_t line, uint64_t col,
                          const char *reason)
{
    cr_assert_lt(i, fx->n, "only %u rejects", fx->n);
    cr_assert_str_eq(fx->r[i].reason, reason, "reject %u", i);
    cr_assert_eq(fx->r[i].line, line, "reject %u line %llu", i, (unsigned long long)fx->r[i].line);
    cr_assert_eq(fx->r[i].col, col, "reject %u column %llu", i, (unsigned long long)fx->r[i].col);
}

/* One line that must be rejected with this column and reason. */
static void expect_line_rejected(const char *line, uint64_t col, const char *reason)
{
    fixture_t fx;
    fx_init(&fx);
    cr_assert_eq(fx_str(&fx, line), 0, "%s", colog_errmsg());
    cr_assert_eq(fx.n, 1, "%u rejects for %s", fx.n, line);
    expect_reject(&fx, 0, 1, col, reason);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 0);
    fx_free(&fx);
}

/* ---------------------------------------------------------------- accepted values */

Test(ndjson, every_kind_of_value)
{
    fixture_t fx;
    fx_init(&fx);
    const char *in =
        "{\"ts\":\"2026-03-01T00:00:00Z\",\"s\":\"hello\",\"ip\":\"10.0.0.1\",\"a\":255,"
        "\"b\":\"443\",\"c\":4294967295,\"d\":\"18446744073709551615\",\"e\":-5,\"f\":1.5}\n"
        "{\"f\":2,\"ts\":1772323201,\"e\":null,\"s\":\"\"}\n"
        "{\"ts\":1772323200.25,\"b\":443.0,\"f\":\"1e3\",\"d\":1e3}\n"
        "{\"t\\u0073\":\"2026-03-01T00:00:00Z\",\"s\":\"a\\\"b\\u00e9\\n\"}\n";
    cr_assert_eq(fx_str(&fx, in), 0, "%s", colog_errmsg());
    cr_assert_eq(fx.n, 0, "%s", fx.r[0].reason);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 4);

    cr_assert_eq(val(&fx, 0, 0).i, T0);
    colog_value_t v = val(&fx, 0, 1);
    cr_assert_eq(v.s.len, 5);
    cr_assert(memcmp(v.s.p, "hello", 5) == 0);
    cr_assert_eq(val(&fx, 0, 2).ip.b[15], 1);
    cr_assert_eq(val(&fx, 0, 3).u, 255);
    cr_assert_eq(val(&fx, 0, 4).u, 443);
    cr_assert_eq(val(&fx, 0, 5).u, 4294967295u);
    cr_assert_eq(val(&fx, 0, 6).u, UINT64_MAX);
    cr_assert_eq(val(&fx, 0, 7).i, -5);
    cr_assert_eq(val(&fx, 0, 8).f, 1.5);

    cr_assert_eq(val(&fx, 1, 0).i, T0 + 1000000);
    cr_assert_eq(val(&fx, 1, 8).f, 2.0);
    cr_assert(absent(&fx, 1, 7), "null = absent");
    cr_assert(absent(&fx, 1, 1), "\"\" = absent");
    cr_assert(absent(&fx, 1, 2), "a missing key = absent");

    cr_assert_eq(val(&fx, 2, 0).i, T0 + 250000);
    cr_assert_eq(val(&fx, 2, 4).u, 443, "an integral real fits an integer column");
    cr_assert_eq(val(&fx, 2, 8).f, 1000.0);
    cr_assert_eq(val(&fx, 2, 6).u, 1000);

    cr_assert_eq(val(&fx, 3, 0).i, T0, "an escaped key is its unescaped name");
    v = val(&fx, 3, 1);
    cr_assert_eq(v.s.len, 6);
    cr_assert(memcmp(v.s.p, "a\"b\xC3\xA9\n", 6) == 0);
    fx_free(&fx);
}

Test(ndjson, lines_blank_crlf_and_no_final_newline)
{
    fixture_t fx;
    fx_init(&fx);
    const char *in = "\n"
                     "  \t \r\n"
                     "{\"ts\":1772323200}\r\n"
                     " { \"ts\" : 1772323201 , \"s\" : \"x\" } \n"
                     "\n"
                     "{\"ts\":true}\n"
                     "{\"ts\":1772323202}";
    cr_assert_eq(fx_str(&fx, in), 0);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 3);
    cr_assert_eq(fx.n, 1);
    expect_reject(&fx, 0, 6, 7, "ts: JSON true is not a valid time");
    cr_assert_eq(val(&fx, 2, 0).i, T0 + 2000000);
    colog_ingest_stats_t st;
    cr_assert_eq(colog_ingest_finish(fx.ing, &st), COLOG_EINVAL, "the sink writes nothing");
    cr_assert_eq(st.rows_read, 4);
    cr_assert_eq(st.rows_ok, 3);
    cr_assert_eq(st.rows_rejected, 1);
}

Test(ndjson, empty_input)
{
    fixture_t fx;
    fx_init(&fx);
    cr_assert_eq(fx_load(&fx, "", 0), 0);
    cr_assert_eq(fx_str(&fx, "\n\n  \n"), 0);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 0);
    cr_assert_eq(fx.n, 0);
    fx_free(&fx);
}

/* ---------------------------------------------------------------- rejects */

#define TS "{\"ts\":\"2026-03-01T00:00:00Z\"," /* 29 bytes: the next key is at column 30 */

Test(ndjson, reject_unknown_key)
{
    expect_line_rejected(TS "\"bogus\":1}\n", 30, "unknown column 'bogus'");
    expect_line_rejected(TS "\"\\u0062ogus\":1}\n", 0, "unknown column 'bogus'");
    expect_line_rejected("{\"TS\":1}\n", 2, "unknown column 'TS'");
}

Test(ndjson, reject_wrong_json_kinds)
{
    expect_line_rejected(TS "\"s\":true}", 34, "s: JSON true is not a valid string");
    expect_line_rejected(TS "\"s\":false}", 34, "s: JSON false is not a valid string");
    expect_line_rejected(TS "\"s\":{\"x\":1}}", 34, "s: JSON object is not a valid string");
    expect_line_rejected(TS "\"ip\":[1]}", 35, "ip: JSON array is not a valid ip");
    expect_line_rejected(TS "\"ip\":5}", 35, "ip: JSON number 5 is not a valid ip");
    expect_line_rejected(TS "\"s\":1.5}", 34, "s: JSON number 1.5 is not a valid string");
}

Test(ndjson, reject_numbers)
{
    expect_line_rejected(TS "\"b\":70000}", 34, "b: 70000 out of range for u16");
    expect_line_rejected(TS "\"b\":-1}", 34, "b: -1 out of range for u16");
    expect_line_rejected(TS "\"b\":443.5}", 34, "b: 443.5 is not a valid u16");
    expect_line_rejected(TS "\"a\":256.0}", 34, "a: 256 out of range for u8");
    expect_line_rejected(TS "\"e\":1e19}", 34, "e: 1e+19 out of range for i64");
    expect_line_rejected(TS "\"e\":0.1}", 34, "e: 0.1 is not a valid i64");
    expect_line_rejected(TS "\"b\":\"x1\"}", 34, "b: 'x1' is not a valid u16");
    expect_line_rejected(TS "\"f\":\"nan\"}", 34, "f: 'nan' is not a valid f64");
}

Test(ndjson, reject_times)
{
    expect_line_rejected("{\"s\":\"no time\"}", 0, "ts: missing event time");
    expect_line_rejected("{\"ts\":null}", 0, "ts: missing event time");
    expect_line_rejected("{\"ts\":\"\"}", 0, "ts: missing event time");
    expect_line_rejected("{\"ts\":\"soon\"}", 7, "ts: 'soon' is not a valid time");
    expect_line_rejected("{\"ts\":99999999999999}", 7, "ts: 99999999999999 out of range for time");
    expect_line_rejected("{\"ts\":1e300}", 7, "ts: 1e+300 out of range for time");
    /* now = 01:00, so the limit is 2026-03-02T01:00:00Z = 1772413200 */
    expect_line_rejected("{\"ts\":1772413201}", 7,
                         "ts: 1772413201: time more than 1 day ahead of the clock");
    expect_line_rejected("{\"ts\":1772413200.5}", 7,
                         "ts: 1772413200.5: time more than 1 day ahead of the clock");
    expect_line_rejected("{\"ts\":\"2026-03-02T01:00:01Z\"}", 7,
                         "ts: 2026-03-02T01:00:01Z: time more than 1 day ahead of the clock");

    fixture_t fx;
    fx_init(&fx);
    cr_assert_eq(fx_str(&fx, "{\"ts\":1772413200}\n{\"ts\":\"2026-03-02T01:00:00Z\"}\n"), 0);
    cr_assert_eq(fx.n, 0, "exactly 1 day ahead is fine");
    fx_free(&fx);
}

Test(ndjson, reject_invalid_json)
{
    expect_line_rejected(TS "\"s\":1,}", 36, "invalid JSON: string or '}' expected near '}'");
    expect_line_rejected(TS "\"s\":\"a\",\"s\":\"b\"}", 40,
                         "invalid JSON: duplicate object key near '\"s\"'");
    expect_line_rejected(TS "\"d\":18446744073709551615}", 53,
                         "invalid JSON: too big integer near '18446744073709551615'");
    expect_line_rejected("{\"ts\":1772323200", 16, "invalid JSON: '}' expected near end of file");
    expect_line_rejected("{\"ts\":1772323200} {}", 19,
                         "invalid JSON: end of file expected near '{'");
    expect_line_rejected("{\"s\":\"\\u0000\"}", 13,
                         "invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL near "
                         "'\"\\u0000\"'");
    expect_line_rejected("\"just a string\"", 15,
                         "invalid JSON: '[' or '{' expected near '\"just a string\"'");
}

Test(ndjson, reject_not_an_object)
{
    expect_line_rejected("[1,2]", 1, "expected a JSON object");
    expect_line_rejected("  [{\"ts\":1772323200}]", 3, "expected a JSON object");
}

Test(ndjson, reject_nul_and_utf8)
{
    fixture_t fx;
    fx_init(&fx);
    static const char in[] = "{\"s\":\"a\0\"}\n"
                             "{\"s\":\"\xff\"}\n"
                             "{\"s\":\"\xC3\xA9\xED\xA0\x80\"}\n"
                             "{\"ts\":1772323200,\"s\":\"\xC3\xA9\"}\n";
    cr_assert_eq(fx_load(&fx, in, sizeof in - 1), 0);
    cr_assert_eq(fx.n, 3);
    expect_reject(&fx, 0, 1, 8, "NUL byte");
    expect_reject(&fx, 1, 2, 7, "invalid UTF-8");
    expect_reject(&fx, 2, 3, 9, "invalid UTF-8");
    cr_assert_eq(colog__ingest_nrows(fx.ing), 1);
    fx_free(&fx);
}

Test(ndjson, value_column_skips_tricky_strings)
{
    expect_line_rejected("{\"s\":\"a,\\\"}{\",\"ts\":\"2026-03-01T00:00:00Z\",\"b\":true}", 47,
                         "b: JSON true is not a valid u16");
    expect_line_rejected("{ \"ts\" : \"2026-03-01T00:00:00Z\" , \"b\" : true }", 41,
                         "b: JSON true is not a valid u16");
    expect_line_rejected("{\"s\":[1,{\"x\":\"]\"}],\"ts\":1772323200}", 6,
                         "s: JSON array is not a valid string");
}

/* ---------------------------------------------------------------- long lines */

static char *json_line_of(size_t total, const char *suffix)
{
    /* {"ts":1772323200,"s":"xxx...x"} plus suffix, total bytes before suffix */
    const char *head = "{\"ts\":1772323200,\"s\":\"";
    size_t hl = strlen(head), sl = strlen(suffix);
    char *s = malloc(total + sl + 1);
    memcpy(s, head, hl);
    memset(s + hl, 'x', total - hl - 2);
    memcpy(s + total - 2, "\"}", 2);
    memcpy(s + total, suffix, sl + 1);
    return s;
}

Test(ndjson, longest_line_is_accepted)
{
    fixture_t fx;
    fx_init(&fx);
    char *s = json_line_of(COLOG_RECORD_MAX, "\r\n");
    cr_assert_eq(fx_str(&fx, s), 0);
    cr_assert_eq(fx.n, 0, "%s", fx.r[0].reason);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 1);
    free(s);
    fx_free(&fx);
}

Test(ndjson, reject_overlong_lines)
{
    fixture_t fx;
    fx_init(&fx);
    char *a = json_line_of(COLOG_RECORD_MAX + 1, "\n{\"ts\":1772323200}\n");
    cr_assert_eq(fx_str(&fx, a), 0);
    /* longer than the whole 4 MiB buffer: skipped without being held */
    char *b = json_line_of((size_t)5 << 20, "\n\n{\"ts\":1772323201}");
    cr_assert_eq(fx_str(&fx, b), 0);
    cr_assert_eq(fx.n, 2);
    expect_reject(&fx, 0, 1, 65537, "line longer than 65536 bytes");
    expect_reject(&fx, 1, 1, 65537, "line longer than 65536 bytes");
    cr_assert_eq(colog__ingest_nrows(fx.ing), 2);
    cr_assert_eq(val(&fx, 1, 0).i, T0 + 1000000);
    free(a);
    free(b);
    fx_free(&fx);
}

Test(ndjson, line_numbers_after_a_skipped_line)
{
    fixture_t fx;
    fx_init(&fx);
    char *b = json_line_of((size_t)5 << 20, "\n\n{\"ts\":true}\n");
    cr_assert_eq(fx_str(&fx, b), 0);
    cr_assert_eq(fx.n, 2);
    expect_reject(&fx, 1, 3, 7, "ts: JSON true is not a valid time");
    free(b);
    fx_free(&fx);
}
