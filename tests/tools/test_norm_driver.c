/*
 * test_norm_driver.c — the normalizer driver (tools/norm.c): the format
 * registry, session set-up errors, the device and time fill-in from the
 * syslog header, reject reasons with their line numbers, skipped lines, bare
 * JSON events (colog_ingest_json), and auto-detection of one hand-written
 * line of each of the ten formats.
 *
 * Rows go into an ingest batch that is inspected (colog__ingest_value), with
 * a part sink that writes nothing: no store is needed.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "colog_ingest_int.h"
#include "norm.h"

#define NOW "2026-03-01T12:00:00Z"

/* The firewall and web schemas in one: every column any format writes. */
static const char *union_schema = "ts time\n"
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
                                  "duration u32\n"
                                  "host string\n"
                                  "client_ip ip indexed\n"
                                  "method string\n"
                                  "url string\n"
                                  "status u16 indexed\n"
                                  "bytes u64\n"
                                  "referrer string\n"
                                  "user_agent string\n"
                                  "duration_ms u32\n";

typedef struct reject {
    char src[32];
    uint64_t line, col;
    char reason[256];
} reject_t;

typedef struct fixture {
    colog_schema_t schema;
    colog_ingest_opts_t opts;
    colog_ingest_t *ing;
    colog_tz_t *tz;
    norm_session_t *s;
    reject_t r[32];
    unsigned n;
    char text[128];
} fixture_t;

static void on_reject(void *ctx, const char *src, uint64_t line, uint64_t col, const char *reason)
{
    fixture_t *fx = ctx;
    if (fx->n < 32) {
        snprintf(fx->r[fx->n].src, sizeof fx->r[fx->n].src, "%s", src);
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

static int64_t T(const char *rfc3339)
{
    int64_t us;
    cr_assert_eq(colog_time_parse(rfc3339, strlen(rfc3339), 0, &us), 0, "%s", rfc3339);
    return us;
}

/* A session over a schema (text, or a built-in name) with fmt (NULL: auto);
 * the session's init result in *rc when rc is given (else it must succeed). */
static void fx_init_rc(fixture_t *fx, const char *schema, const norm_format_t *fmt, int *rc)
{
    memset(fx, 0, sizeof *fx);
    const colog_schema_t *b = colog_schema_builtin(schema);
    if (b)
        fx->schema = *b;
    else
        cr_assert_eq(colog_schema_parse(schema, strlen(schema), "x", &fx->schema), 0);
    fx->opts.now_us = T(NOW);
    fx->opts.reject = on_reject;
    fx->opts.reject_ctx = fx;
    cr_assert_eq(colog__ingest_new(&fx->schema, &fx->opts, &no_sink, NULL, &fx->ing), 0);
    cr_assert_eq(colog_tz_open("UTC", &fx->tz), 0);
    fx->s = malloc(sizeof *fx->s);
    cr_assert_not_null(fx->s);
    int r = norm_session_init(fx->s, fx->ing, &fx->schema, fmt, fx->tz);
    if (rc)
        *rc = r;
    else
        cr_assert_eq(r, 0, "%s", colog_errmsg());
    fx->s->env.now_us = T(NOW);
}

static void fx_init(fixture_t *fx, const char *schema, const norm_format_t *fmt)
{
    fx_init_rc(fx, schema, fmt, NULL);
}

static void fx_free(fixture_t *fx)
{
    colog_ingest_stats_t st;
    (void)colog_ingest_finish(fx->ing, &st); /* the sink refuses the rows: nothing written */
    colog_tz_free(fx->tz);
    free(fx->s);
}

static int line(fixture_t *fx, const char *text, uint64_t lineno)
{
    return norm_ingest_line(fx->s, text, strlen(text), "t.log", lineno);
}

/* The value of column name in row as text ("" if absent). */
static const char *get(fixture_t *fx, size_t row, const char *name)
{
    int c = colog_schema_find(&fx->schema, name, strlen(name));
    cr_assert_geq(c, 0, "no column %s", name);
    colog_value_t v;
    if (!colog__ingest_value(fx->ing, row, (unsigned)c, &v))
        return "";
    switch (fx->schema.cols[c].type) {
    case COLOG_T_TIME:
        colog_time_format(v.i, 0, fx->text, sizeof fx->text);
        break;
    case COLOG_T_IP:
        colog_ip_format(&v.ip, fx->text, sizeof fx->text);
        break;
    case COLOG_T_STRING:
        snprintf(fx->text, sizeof fx->text, "%.*s", (int)v.s.len, v.s.p);
        break;
    case COLOG_T_I64:
        snprintf(fx->text, sizeof fx->text, "%lld", (long long)v.i);
        break;
    case COLOG_T_F64:
        snprintf(fx->text, sizeof fx->text, "%g", v.f);
        break;
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
        snprintf(fx->text, sizeof fx->text, "%llu", (unsigned long long)v.u);
        break;
    }
    return fx->text;
}

#define EXPECT(fx, row, name, want) cr_assert_str_eq(get(fx, row, name), want, "%s", name)

static void expect_reject(const fixture_t *fx, unsigned i, uint64_t lineno, const char *reason)
{
    cr_assert_lt(i, fx->n, "only %u rejects", fx->n);
    cr_assert_str_eq(fx->r[i].reason, reason, "reject %u", i);
    cr_assert_str_eq(fx->r[i].src, "t.log");
    cr_assert_eq(fx->r[i].line, lineno, "reject %u: line %llu", i,
                 (unsigned long long)fx->r[i].line);
}

/* ---------------------------------------------------------------- one line of each format */

static const char *const L_NETSCREEN =
    "<134>Mar  1 10:00:00 ns5gt: NetScreen device_id=ns5gt [Root]system-notification-00257"
    "(traffic): start_time=\"2026-03-01 09:59:55\" duration=5 policy_id=3 service=http proto=6 "
    "src zone=Trust dst zone=Untrust action=Permit sent=1200 rcvd=3400 src=10.1.1.1 "
    "dst=93.184.216.34 src_port=40001 dst_port=80 session_id=1234";
static const char *const L_SRX =
    "<14>1 2026-03-01T10:00:01.000Z srx1 RT_FLOW - RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.40 "
    "reason=\"TCP FIN\" source-address=\"10.1.1.2\" source-port=\"40002\" "
    "destination-address=\"8.8.8.8\" destination-port=\"443\" service-name=\"junos-https\" "
    "protocol-id=\"6\" policy-name=\"7\" source-zone-name=\"trust\" "
    "destination-zone-name=\"untrust\" bytes-from-client=\"500\" bytes-from-server=\"1500\" "
    "elapsed-time=\"3\" username=\"bob\"]";
static const char *const L_ASA =
    "<166>Mar  1 10:00:02 asa1 %ASA-6-302014: Teardown TCP connection 99 for "
    "outside:93.184.216.34/443 to inside:10.1.1.3/50003 duration 0:00:30 bytes 5000 TCP FINs";
static const char *const L_FORTIGATE =
    "<189>date=2026-03-01 time=10:00:03 devname=\"fg1\" devid=\"FG100\" logid=\"0000000013\" "
    "type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip=10.1.1.4 "
    "srcport=50004 srcintf=\"port1\" dstip=8.8.4.4 dstport=53 dstintf=\"wan1\" policyid=5 "
    "proto=17 action=\"accept\" duration=2 sentbyte=100 rcvdbyte=200";
static const char *const L_PANOS =
    "<14>Mar  1 10:00:04 pa1 1,2026/03/01 10:00:04,01606001116,TRAFFIC,end,1,2026/03/01 "
    "10:00:04,10.1.1.5,67.43.156.12,0.0.0.0,0.0.0.0,rule1,crusher,,web-browsing,vsys1,trust,"
    "untrust,ethernet1/2,ethernet1/1,forwardAll,2026/03/01 10:00:04,11449,1,59324,80,0,0,0x200000,"
    "tcp,allow,778,78,700,1,2026/03/01 10:00:00,4,any,0,0,0x0,192.168.0.0-192.168.255.255,"
    "United States,0,1,0";
static const char *const L_IPTABLES =
    "<4>Mar  1 10:00:05 gw1 kernel: [12345.678] iptables DROP: IN=eth0 OUT= MAC=00:11:22:33 "
    "SRC=203.0.113.9 DST=10.1.1.6 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=40000 "
    "DPT=22 WINDOW=1 RES=0x00 SYN URGP=0";
static const char *const L_PFSENSE =
    "<134>Mar  1 10:00:06 filterlog[123]: 5,,,1000000103,em0,match,block,in,4,0x0,,64,0,0,DF,6,"
    "tcp,60,198.51.100.7,10.1.1.7,40002,443,0,S,1,,64240,,mss";
static const char *const L_CEF =
    "CEF:0|Vendor|FW|1.0|100|Connection|5|src=10.1.1.8 dst=8.8.8.8 spt=50008 dpt=443 proto=TCP "
    "act=allow in=100 out=200 rt=1772359207000 dvchost=cef-fw";
static const char *const L_APACHE =
    "<150>Mar  1 10:00:08 web1 apache: 10.1.1.9 - alice [01/Mar/2026:10:00:08 +0000] \"GET "
    "/index.html HTTP/1.1\" 200 1234 \"-\" \"curl/8.0\"";
static const char *const L_NGINX = "10.1.1.10 - - [01/Mar/2026:10:00:09 +0000] \"POST /api "
                                   "HTTP/1.1\" 201 99 \"https://ref/\" \"Mozilla/5.0\" \"-\" 0.250";

/* ---------------------------------------------------------------- registry */

Test(norm_driver, registry)
{
    const char *names[] = {"netscreen", "srx",     "asa", "fortigate", "panos",
                           "iptables",  "pfsense", "cef", "apache",    "nginx"};
    size_t n = 0, apache = 99, nginx = 99;
    for (; norm_formats[n]; n++) {
        cr_assert_eq(norm_find(norm_formats[n]->name), norm_formats[n]);
        cr_assert(strcmp(norm_formats[n]->schema, "firewall") == 0 ||
                  strcmp(norm_formats[n]->schema, "web") == 0);
        cr_assert_not_null(norm_formats[n]->title);
        if (strcmp(norm_formats[n]->name, "apache") == 0)
            apache = n;
        if (strcmp(norm_formats[n]->name, "nginx") == 0)
            nginx = n;
    }
    cr_assert_eq(n, 10);
    for (size_t i = 0; i < 10; i++)
        cr_assert_not_null(norm_find(names[i]), "%s", names[i]);
    cr_assert_lt(apache, nginx, "apache is tried before nginx");
    cr_assert_null(norm_find("auto"));
    cr_assert_null(norm_find("csv"));
    cr_assert_null(norm_find(""));
    cr_assert_null(norm_find(NULL));
}

/* ---------------------------------------------------------------- session set-up */

Test(norm_driver, session_init_errors)
{
    fixture_t fx;
    int rc;
    /* a firewall format on a web store */
    fx_init_rc(&fx, "web", &norm_asa, &rc);
    cr_assert_eq(rc, COLOG_ESCHEMA);
    cr_assert_str_eq(colog_errmsg(),
                     "format asa writes the firewall schema's columns; the store lacks device, "
                     "src_ip, src_port, dst_ip, dst_port, proto, action, policy, src_zone, "
                     "dst_zone, bytes_out, bytes_in, duration (use a firewall store, or --format "
                     "auto to drop them)");
    fx_free(&fx);
    /* a web format on a firewall store */
    fx_init_rc(&fx, "firewall", &norm_apache, &rc);
    cr_assert_eq(rc, COLOG_ESCHEMA);
    cr_assert(strstr(colog_errmsg(), "format apache writes the web schema's columns; the store "
                                     "lacks host, client_ip, method, url, status, bytes") != NULL,
              "%s", colog_errmsg());
    fx_free(&fx);
    /* one column short */
    fx_init_rc(&fx,
               "ts time\ndevice string\nsrc_ip ip\nsrc_port u16\ndst_ip ip\ndst_port u16\n"
               "proto string\naction string\npolicy u32\nsrc_zone string\ndst_zone string\n"
               "user string\nbytes_out u64\nbytes_in u64\n",
               &norm_cef, &rc);
    cr_assert_eq(rc, COLOG_ESCHEMA);
    cr_assert(strstr(colog_errmsg(), "the store lacks duration (") != NULL, "%s", colog_errmsg());
    fx_free(&fx);
    /* fine: each in its own schema, both in the union, auto anywhere */
    fx_init_rc(&fx, "firewall", &norm_asa, &rc);
    cr_assert_eq(rc, 0);
    fx_free(&fx);
    fx_init_rc(&fx, "web", &norm_nginx, &rc);
    cr_assert_eq(rc, 0);
    fx_free(&fx);
    fx_init_rc(&fx, union_schema, &norm_srx, &rc);
    cr_assert_eq(rc, 0);
    fx_free(&fx);
    fx_init_rc(&fx, "time time\nsrc_ip ip\n", NULL, &rc);
    cr_assert_eq(rc, 0);
    fx_free(&fx);

    norm_session_t s;
    cr_assert_eq(norm_session_init(&s, NULL, colog_schema_builtin("firewall"), NULL, NULL),
                 COLOG_EINVAL);
    cr_assert_eq(norm_ingest_line(NULL, "x", 1, "t", 1), COLOG_EINVAL);
}

/* ---------------------------------------------------------------- fill-in */

Test(norm_driver, device_and_time_from_the_header)
{
    fixture_t fx;
    fx_init(&fx, "firewall", NULL);
    /* iptables has neither: both from the header */
    cr_assert_eq(line(&fx, L_IPTABLES, 1), 1, "%s", fx.n ? fx.r[0].reason : "");
    EXPECT(&fx, 0, "device", "gw1");
    EXPECT(&fx, 0, "ts", "2026-03-01T10:00:05Z");
    /* CEF has both: a header's host and time do not replace them */
    char l[512];
    snprintf(l, sizeof l, "<13>Feb 27 08:00:00 relay %s", L_CEF);
    cr_assert_eq(line(&fx, l, 2), 1, "%s", fx.n ? fx.r[0].reason : "");
    EXPECT(&fx, 1, "device", "cef-fw");
    EXPECT(&fx, 1, "ts", "2026-03-01T10:00:07Z");
    /* pfSense without a host in its header: no device */
    cr_assert_eq(line(&fx, L_PFSENSE, 3), 1);
    EXPECT(&fx, 2, "device", "");
    EXPECT(&fx, 2, "ts", "2026-03-01T10:00:06Z");
    /* an RFC 5424 header (SRX) */
    cr_assert_eq(line(&fx, L_SRX, 4), 1);
    EXPECT(&fx, 3, "device", "srx1");
    EXPECT(&fx, 3, "ts", "2026-03-01T10:00:01Z");
    /* no time anywhere: rejected */
    cr_assert_eq(line(&fx, strstr(L_IPTABLES, "iptables DROP"), 5), 0);
    cr_assert_eq(fx.n, 1);
    expect_reject(&fx, 0, 5, "iptables: no time in the message or its syslog header");
    cr_assert_eq(fx.s->stats.records, 4);
    cr_assert_eq(fx.s->stats.rejected, 1);
    fx_free(&fx);

    /* web formats: the sending host fills "host" */
    fx_init(&fx, "web", &norm_apache);
    cr_assert_eq(line(&fx, L_APACHE, 1), 1, "%s", fx.n ? fx.r[0].reason : "");
    EXPECT(&fx, 0, "host", "web1");
    EXPECT(&fx, 0, "client_ip", "10.1.1.9");
    EXPECT(&fx, 0, "ts", "2026-03-01T10:00:08Z");
    fx_free(&fx);
}

/* ---------------------------------------------------------------- rejects and skips */

Test(norm_driver, reject_reasons_and_line_numbers)
{
    fixture_t fx;
    fx_init(&fx, "firewall", &norm_asa);
    cr_assert_eq(line(&fx, L_PFSENSE, 7), 0);
    cr_assert_eq(line(&fx, L_ASA, 8), 1);
    /* names instead of addresses: the format's own reason */
    cr_assert_eq(line(&fx,
                      "Mar  1 10:00:00 asa1 %ASA-6-302013: Built outbound TCP connection 1 for "
                      "outside:OCSP_Server/443 (OCSP_Server/443) to inside:10.0.0.1/5000 "
                      "(10.0.0.1/5000)",
                      9),
                 0);
    cr_assert_eq(line(&fx, "Mar  1 10:00:00 asa1 %ASA-6-302013: x", 10), 0);
    cr_assert_eq(norm_ingest_line(fx.s, "a\0b", 3, "t.log", 11), 0);
    cr_assert_eq(fx.n, 4);
    expect_reject(&fx, 0, 7, "not an asa line");
    cr_assert_eq(fx.r[1].line, 9);
    cr_assert(strncmp(fx.r[1].reason, "asa: ", 5) == 0, "%s", fx.r[1].reason);
    cr_assert(strstr(fx.r[1].reason, "OCSP_Server") != NULL, "%s", fx.r[1].reason);
    cr_assert_eq(fx.r[2].line, 10);
    cr_assert(strncmp(fx.r[2].reason, "asa: ", 5) == 0, "%s", fx.r[2].reason);
    expect_reject(&fx, 3, 11, "NUL byte in the line");
    for (unsigned i = 0; i < fx.n; i++)
        cr_assert_eq(fx.r[i].col, 0);
    fx_free(&fx);

    fx_init(&fx, "firewall", &norm_srx);
    cr_assert_eq(line(&fx, L_ASA, 1), 0);
    expect_reject(&fx, 0, 1, "not a srx line");
    fx_free(&fx);

    fx_init(&fx, "firewall", NULL);
    cr_assert_eq(line(&fx, "Mar  1 10:00:00 host app: hello world", 3), 0);
    cr_assert_eq(line(&fx, "hello", 4), 0);
    expect_reject(&fx, 0, 3, "no known format");
    expect_reject(&fx, 1, 4, "no known format");
    /* a value the format refuses */
    cr_assert_eq(line(&fx,
                      "Mar  1 10:00:00 gw1 kernel: IN=eth0 OUT= SRC=203.0.113.9 DST=10.1.1.6 "
                      "LEN=60 PROTO=TCP SPT=1 DPT=70000",
                      5),
                 0);
    cr_assert_eq(fx.r[2].line, 5);
    cr_assert(strncmp(fx.r[2].reason, "iptables: ", 10) == 0, "%s", fx.r[2].reason);
    cr_assert(strstr(fx.r[2].reason, "70000") != NULL, "%s", fx.r[2].reason);
    cr_assert_eq(line(&fx, "Mar  1 10:00:00 gw1 kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8", 6),
                 1);
    cr_assert_eq(fx.s->stats.records, 1);
    cr_assert_eq(fx.s->stats.rejected, 3);
    /* a time more than a day ahead of the clock: rejected by the store */
    cr_assert_eq(
        line(&fx, "2026-03-05T00:00:00Z gw1 kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8", 7), 0);
    cr_assert_eq(fx.r[3].line, 7);
    cr_assert(strstr(fx.r[3].reason, "time more than 1 day ahead of the clock") != NULL, "%s",
              fx.r[3].reason);
    cr_assert_eq(fx.s->stats.rejected, 4);
    cr_assert_eq(fx.n, 4);
    fx_free(&fx);
}

Test(norm_driver, skipped_lines)
{
    fixture_t fx;
    fx_init(&fx, "firewall", NULL);
    const char *lines[] = {
        "",
        "   ",
        "\r",
        /* SRX application tracking: SRX's, not a traffic record */
        "<14>1 2026-03-01T10:00:01Z srx1 RT_FLOW - APPTRACK_SESSION_CLOSE [junos@2636.1.1.1.2.40 "
        "source-address=\"10.1.1.2\"]",
        /* an ASA message that is not a connection */
        "Mar  1 10:00:00 asa1 %ASA-5-111008: User 'enable_15' executed the 'write memory' command.",
        /* a FortiGate event log */
        "date=2026-03-01 time=10:00:00 devname=\"fg1\" logid=\"0100032001\" type=\"event\" "
        "subtype=\"system\"",
        L_IPTABLES,
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_assert_geq(line(&fx, lines[i], i + 1), 0);
    cr_assert_eq(fx.n, 0, "%s", fx.r[0].reason);
    cr_assert_eq(fx.s->stats.skipped, 6);
    cr_assert_eq(fx.s->stats.records, 1);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 1);
    fx_free(&fx);
}

/* ---------------------------------------------------------------- JSON events */

Test(norm_driver, bare_json_events)
{
    fixture_t fx;
    fx_init(&fx, "firewall", NULL);
    cr_assert_eq(
        line(&fx, "{\"ts\":\"2026-03-01T10:00:00Z\",\"src_ip\":\"1.2.3.4\",\"dst_port\":53}", 1),
        1);
    EXPECT(&fx, 0, "src_ip", "1.2.3.4");
    EXPECT(&fx, 0, "dst_port", "53");
    /* behind a syslog header, with blanks around */
    cr_assert_eq(
        line(&fx, "<14>Mar  1 10:00:00 h app: { \"ts\":1772359200, \"device\":\"j\" } ", 2), 1);
    EXPECT(&fx, 1, "device", "j");
    EXPECT(&fx, 1, "ts", "2026-03-01T10:00:00Z");
    /* rejected by the NDJSON reader, with its reasons */
    cr_assert_eq(line(&fx, "{\"ts\":1772359200,\"nope\":1}", 3), 0);
    cr_assert_eq(line(&fx, "{oops}", 4), 0);
    cr_assert_eq(line(&fx, "{\"src_ip\":\"1.2.3.4\"}", 5), 0);
    cr_assert_eq(fx.n, 3);
    expect_reject(&fx, 0, 3, "unknown column 'nope'");
    cr_assert_eq(fx.r[0].col, 18);
    cr_assert_eq(fx.r[1].line, 4);
    cr_assert(strncmp(fx.r[1].reason, "invalid JSON: ", 14) == 0, "%s", fx.r[1].reason);
    cr_assert_eq(fx.r[2].line, 5);
    cr_assert_eq(fx.s->stats.records, 2);
    cr_assert_eq(fx.s->stats.rejected, 3);
    fx_free(&fx);

    /* a JSON event as the first line still meets the "1 day ahead" rule */
    fx_init(&fx, "firewall", NULL);
    cr_assert_eq(line(&fx, "{\"ts\":\"2026-03-05T00:00:00Z\"}", 1), 0);
    cr_assert_eq(fx.n, 1);
    cr_assert(strstr(fx.r[0].reason, "time more than 1 day ahead of the clock") != NULL, "%s",
              fx.r[0].reason);
    fx_free(&fx);

    /* with a fixed format, JSON is just not that format */
    fx_init(&fx, "firewall", &norm_cef);
    cr_assert_eq(line(&fx, "{\"ts\":1772359200}", 1), 0);
    expect_reject(&fx, 0, 1, "not a cef line");
    fx_free(&fx);
}

Test(norm_driver, colog_ingest_json)
{
    fixture_t fx;
    fx_init(&fx, "firewall", NULL);
    const char *ok = "{\"ts\":1772359200,\"action\":\"deny\"}";
    cr_assert_eq(colog_ingest_json(fx.ing, ok, strlen(ok), "t.log", 1), 1);
    cr_assert_eq(colog_ingest_json(fx.ing, "[1]", 3, "t.log", 2), 0);
    cr_assert_eq(colog_ingest_json(fx.ing, "", 0, NULL, 3), 0);
    cr_assert_eq(colog_ingest_json(fx.ing, NULL, 0, "t.log", 4), 0);
    cr_assert_eq(colog_ingest_json(NULL, ok, strlen(ok), "t.log", 5), COLOG_EINVAL);
    cr_assert_eq(colog_ingest_json(fx.ing, NULL, 3, "t.log", 6), COLOG_EINVAL);
    char *big = malloc(COLOG_RECORD_MAX + 2);
    cr_assert_not_null(big);
    memset(big, ' ', COLOG_RECORD_MAX + 2);
    big[0] = '{';
    big[COLOG_RECORD_MAX + 1] = '}';
    cr_assert_eq(colog_ingest_json(fx.ing, big, COLOG_RECORD_MAX + 2, "t.log", 7), 0);
    free(big);
    cr_assert_eq(fx.n, 4);
    expect_reject(&fx, 0, 2, "expected a JSON object");
    cr_assert_eq(fx.r[1].line, 3);
    cr_assert_str_eq(fx.r[1].src, "-");
    cr_assert_eq(fx.r[2].line, 4);
    cr_assert_eq(fx.r[3].line, 7);
    cr_assert_str_eq(fx.r[3].reason, "line longer than 65536 bytes");
    cr_assert_eq(colog__ingest_nrows(fx.ing), 1);
    EXPECT(&fx, 0, "action", "deny");
    fx_free(&fx);
}

/* ---------------------------------------------------------------- auto-detection */

typedef struct expect {
    const char *name, *value;
} expect_t;

static void detects(const char *l, const expect_t *want)
{
    fixture_t fx;
    fx_init(&fx, union_schema, NULL);
    cr_assert_eq(line(&fx, l, 1), 1, "%s: %s", l, fx.n ? fx.r[0].reason : "not a record");
    for (const expect_t *w = want; w->name; w++)
        cr_assert_str_eq(get(&fx, 0, w->name), w->value, "%s: %s", l, w->name);
    cr_assert_eq(fx.s->stats.records, 1);
    fx_free(&fx);
}

Test(norm_driver, auto_netscreen)
{
    detects(L_NETSCREEN, (expect_t[]){{"device", "ns5gt"},
                                      {"ts", "2026-03-01T09:59:55Z"},
                                      {"src_ip", "10.1.1.1"},
                                      {"dst_ip", "93.184.216.34"},
                                      {"dst_port", "80"},
                                      {"action", "permit"},
                                      {"policy", "3"},
                                      {"src_zone", "Trust"},
                                      {"bytes_out", "1200"},
                                      {"bytes_in", "3400"},
                                      {NULL, NULL}});
}

Test(norm_driver, auto_srx)
{
    detects(L_SRX, (expect_t[]){{"device", "srx1"},
                                {"ts", "2026-03-01T10:00:01Z"},
                                {"src_ip", "10.1.1.2"},
                                {"dst_port", "443"},
                                {"proto", "tcp"},
                                {"action", "allow"},
                                {"policy", "7"},
                                {"user", "bob"},
                                {"bytes_in", "1500"},
                                {"duration", "3"},
                                {NULL, NULL}});
}

Test(norm_driver, auto_asa)
{
    detects(L_ASA, (expect_t[]){{"device", "asa1"},
                                {"ts", "2026-03-01T10:00:02Z"},
                                {"src_ip", "10.1.1.3"},
                                {"dst_ip", "93.184.216.34"},
                                {"dst_port", "443"},
                                {"proto", "tcp"},
                                {"duration", "30"},
                                {"bytes_out", "5000"},
                                {NULL, NULL}});
}

Test(norm_driver, auto_fortigate)
{
    detects(L_FORTIGATE, (expect_t[]){{"device", "fg1"},
                                      {"ts", "2026-03-01T10:00:03Z"},
                                      {"src_ip", "10.1.1.4"},
                                      {"dst_port", "53"},
                                      {"proto", "udp"},
                                      {"action", "accept"},
                                      {"policy", "5"},
                                      {"src_zone", "port1"},
                                      {"bytes_out", "100"},
                                      {"bytes_in", "200"},
                                      {NULL, NULL}});
}

Test(norm_driver, auto_panos)
{
    detects(L_PANOS, (expect_t[]){{"device", "pa1"},
                                  {"ts", "2026-03-01T10:00:04Z"},
                                  {"src_ip", "10.1.1.5"},
                                  {"dst_port", "80"},
                                  {"user", "crusher"},
                                  {"policy", ""},
                                  {"bytes_out", "78"},
                                  {"bytes_in", "700"},
                                  {"duration", "4"},
                                  {NULL, NULL}});
}

Test(norm_driver, auto_iptables)
{
    detects(L_IPTABLES, (expect_t[]){{"device", "gw1"},
                                     {"src_ip", "203.0.113.9"},
                                     {"dst_ip", "10.1.1.6"},
                                     {"dst_port", "22"},
                                     {"proto", "tcp"},
                                     {"action", "drop"},
                                     {"bytes_out", "60"},
                                     {NULL, NULL}});
}

Test(norm_driver, auto_pfsense)
{
    detects(L_PFSENSE, (expect_t[]){{"device", ""},
                                    {"src_ip", "198.51.100.7"},
                                    {"dst_ip", "10.1.1.7"},
                                    {"dst_port", "443"},
                                    {"action", "block"},
                                    {"policy", "5"},
                                    {"src_zone", "em0"},
                                    {NULL, NULL}});
}

Test(norm_driver, auto_cef)
{
    detects(L_CEF, (expect_t[]){{"device", "cef-fw"},
                                {"ts", "2026-03-01T10:00:07Z"},
                                {"src_ip", "10.1.1.8"},
                                {"dst_port", "443"},
                                {"proto", "tcp"},
                                {"bytes_out", "100"},
                                {"bytes_in", "200"},
                                {NULL, NULL}});
}

Test(norm_driver, auto_apache)
{
    detects(L_APACHE, (expect_t[]){{"host", "web1"},
                                   {"device", ""},
                                   {"client_ip", "10.1.1.9"},
                                   {"user", "alice"},
                                   {"method", "GET"},
                                   {"url", "/index.html"},
                                   {"status", "200"},
                                   {"bytes", "1234"},
                                   {"user_agent", "curl/8.0"},
                                   {NULL, NULL}});
}

Test(norm_driver, auto_nginx)
{
    /* an nginx line is read as apache's (the same line): no $request_time */
    detects(L_NGINX, (expect_t[]){{"client_ip", "10.1.1.10"},
                                  {"ts", "2026-03-01T10:00:09Z"},
                                  {"method", "POST"},
                                  {"status", "201"},
                                  {"referrer", "https://ref/"},
                                  {"duration_ms", ""},
                                  {NULL, NULL}});
    /* --format nginx reads it */
    fixture_t fx;
    fx_init(&fx, "web", &norm_nginx);
    cr_assert_eq(line(&fx, L_NGINX, 1), 1, "%s", fx.n ? fx.r[0].reason : "");
    EXPECT(&fx, 0, "duration_ms", "250");
    EXPECT(&fx, 0, "status", "201");
    fx_free(&fx);
}

Test(norm_driver, rfc5424_structured_data_and_message)
{
    /* SRX with the text message after its structured data */
    char l[2048];
    snprintf(l, sizeof l, "%s session closed TCP FIN: 10.1.1.2/40002->8.8.8.8/443", L_SRX);
    detects(l, (expect_t[]){{"device", "srx1"}, {"src_ip", "10.1.1.2"}, {NULL, NULL}});
    /* a relay's structured data before another format's message: the MSG is read */
    snprintf(l, sizeof l,
             "<189>1 2026-03-01T10:00:10Z relay1 fgt - - [timeQuality tzKnown=\"1\"] %s",
             strstr(L_FORTIGATE, "date="));
    detects(l, (expect_t[]){{"device", "fg1"}, {"ts", "2026-03-01T10:00:03Z"}, {NULL, NULL}});
    /* no structured data: the MSG */
    snprintf(l, sizeof l, "<4>1 2026-03-01T10:00:11Z gw2 kernel - - - %s",
             strstr(L_IPTABLES, "iptables DROP"));
    detects(l, (expect_t[]){{"device", "gw2"}, {"ts", "2026-03-01T10:00:11Z"}, {NULL, NULL}});
    /* a fixed format gets the same second chance */
    fixture_t fx;
    fx_init(&fx, "firewall", &norm_fortigate);
    snprintf(l, sizeof l, "<189>1 2026-03-01T10:00:10Z relay1 fgt - ID7 [x@1 a=\"b\"] %s",
             strstr(L_FORTIGATE, "date="));
    cr_assert_eq(line(&fx, l, 1), 1, "%s", fx.n ? fx.r[0].reason : "");
    fx_free(&fx);
}

Test(norm_driver, auto_drops_columns_the_store_lacks)
{
    fixture_t fx;
    /* the time column under another name; no device, zones, ... */
    fx_init(&fx, "time time\nsrc_ip ip\ndst_port u16\nstatus u16\n", NULL);
    cr_assert_eq(line(&fx, L_IPTABLES, 1), 1, "%s", fx.n ? fx.r[0].reason : "");
    cr_assert_eq(line(&fx, L_APACHE, 2), 1, "%s", fx.n ? fx.r[0].reason : "");
    EXPECT(&fx, 0, "time", "2026-03-01T10:00:05Z");
    EXPECT(&fx, 0, "src_ip", "203.0.113.9");
    EXPECT(&fx, 0, "dst_port", "22");
    EXPECT(&fx, 1, "time", "2026-03-01T10:00:08Z");
    EXPECT(&fx, 1, "status", "200");
    EXPECT(&fx, 1, "src_ip", "");
    fx_free(&fx);

    /* a value the store's narrower type refuses: colog_ingest_row's reason */
    fx_init(&fx, "ts time\nsrc_ip ip\ndst_port u8\n", NULL);
    cr_assert_eq(line(&fx, L_IPTABLES, 3), 1);
    cr_assert_eq(line(&fx, L_CEF, 4), 0);
    expect_reject(&fx, 0, 4, "dst_port: 443 out of range for u8");
    cr_assert_eq(fx.s->stats.rejected, 1);
    fx_free(&fx);
}

Test(norm_driver, every_line_is_counted_once)
{
    fixture_t fx;
    fx_init(&fx, union_schema, NULL);
    const char *lines[] = {L_NETSCREEN,
                           L_SRX,
                           L_ASA,
                           L_FORTIGATE,
                           L_PANOS,
                           L_IPTABLES,
                           L_PFSENSE,
                           L_CEF,
                           L_APACHE,
                           L_NGINX,
                           "",
                           "junk",
                           "{\"ts\":1772359200}",
                           "{\"ts\":\"x\"}",
                           "Mar  1 10:00:00 h a: b"};
    size_t n = sizeof lines / sizeof lines[0];
    for (size_t i = 0; i < n; i++)
        cr_assert_geq(line(&fx, lines[i], i + 1), 0);
    norm_stats_t *st = &fx.s->stats;
    cr_assert_eq(st->records + st->skipped + st->rejected, n);
    cr_assert_eq(st->records, 11);
    cr_assert_eq(st->skipped, 1);
    cr_assert_eq(st->rejected, 3);
    cr_assert_eq(fx.n, 3);
    cr_assert_eq(colog__ingest_nrows(fx.ing), 11);
    fx_free(&fx);
}
