/*
 * test_norm_fw.c — Criterion suite for the firewall normalizers netscreen,
 * srx, asa, fortigate and panos (tools/norm_*.c).
 *
 * Fixtures are written here by hand, and so is every expected value: times
 * were converted with `date -u -d @EPOCH` and, for Europe/Paris, with
 * `TZ=Europe/Paris date -d "LOCAL" +%s` (CEST = UTC+2 in April..October).
 * For each format: typical records of each message kind, absent optional
 * fields, IPv6, a non-traffic message (NORM_SKIP), another format's line
 * (NORM_NOMATCH) and truncated or garbled lines (NORM_BAD with a reason).
 *
 * The real-sample test reads ../shared/data/real (outside the project, only
 * when present): each line through syslog_parse() and on to the format as
 * norm.c hands it on, with the counts of records, skips and rejects worked
 * out by reading the files (see each table).
 */
#include "norm.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static colog_tz_t *utc, *paris;
static norm_env_t env, env_paris;
static norm_rec_t rec;

static void setup(void)
{
    cr_assert_eq(colog_tz_open("UTC", &utc), 0);
    cr_assert_eq(colog_tz_open("Europe/Paris", &paris), 0);
    env = (norm_env_t){.tz = utc, .now_us = 1767225600000000LL}; /* 2026-01-01T00:00:00Z */
    env_paris = env;
    env_paris.tz = paris;
}

static void teardown(void)
{
    colog_tz_free(utc);
    colog_tz_free(paris);
}

TestSuite(norm_fw, .init = setup, .fini = teardown);

typedef struct fv {
    const char *k, *v;
} fv_t;
#define FIELDS(...) ((const fv_t[]){__VA_ARGS__, {NULL, NULL}})

static void dump(void)
{
    for (unsigned i = 0; i < rec.n; i++)
        fprintf(stderr, "  %s = '%.*s'\n", rec.name[i], (int)rec.len[i], rec.val[i]);
}

/* f parses line to a record holding exactly the fields `want`. */
static void expect_rec(const norm_format_t *f, const norm_env_t *e, const char *line,
                       const fv_t *want)
{
    int r = f->parse(line, strlen(line), e, &rec);
    cr_assert_eq(r, NORM_RECORD, "%s: got %d (%s) for: %s", f->name, r, rec.why, line);
    unsigned n = 0;
    for (; want[n].k; n++) {
        size_t len = 0;
        const char *v = norm_get(&rec, want[n].k, &len);
        if (v == NULL || len != strlen(want[n].v) || memcmp(v, want[n].v, len) != 0) {
            dump();
            cr_assert_fail("%s: %s = '%.*s', want '%s' in: %s", f->name, want[n].k,
                           v ? (int)len : 6, v ? v : "(none)", want[n].v, line);
        }
    }
    if (rec.n != n) {
        dump();
        cr_assert_fail("%s: %u fields, want %u in: %s", f->name, rec.n, n, line);
    }
}

/* f says `want` (NOMATCH / SKIP / BAD); for BAD, why holds `reason`. */
static void expect(const norm_format_t *f, const char *line, int want, const char *reason)
{
    int r = f->parse(line, strlen(line), &env, &rec);
    cr_assert_eq(r, want, "%s: got %d (%s), want %d for: %s", f->name, r, rec.why, want, line);
    if (want == NORM_BAD) {
        cr_assert(rec.why[0] != 0, "%s: NORM_BAD without a reason", f->name);
        cr_assert(strstr(rec.why, reason) != NULL, "%s: reason '%s' lacks '%s'", f->name, rec.why,
                  reason);
    }
}

/* One line of each format, for the NOMATCH checks. */
static const char *const L_NETSCREEN =
    "NetScreen device_id=galaxy [Root]system-notification-00257(traffic): start_time=\"2007-04-25 "
    "00:31:34\" duration=0 policy_id=7 service=udp/port:1027 proto=17 src zone=Untrust dst "
    "zone=Home action=Deny sent=0 rcvd=0 src=204.1.2.235 dst=61.197.1.2 src_port=50722 "
    "dst_port=1027 session_id=0";
static const char *const L_SRX =
    "RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 reason=\"TCP FIN\" "
    "source-address=\"10.3.255.203\" source-port=\"47776\" destination-address=\"8.23.224.110\" "
    "destination-port=\"80\" service-name=\"junos-http\" nat-source-address=\"10.3.136.49\" "
    "nat-source-port=\"19162\" protocol-id=\"6\" policy-name=\"permit_all\" "
    "source-zone-name=\"trust\" destination-zone-name=\"untrust\" session-id-32=\"5\" "
    "packets-from-client=\"6\" bytes-from-client=\"337\" packets-from-server=\"4\" "
    "bytes-from-server=\"535\" elapsed-time=\"1\" application=\"HTTP\" username=\"alice\" "
    "roles=\"N/A\" packet-incoming-interface=\"ge-0/0/0.0\"]";
static const char *const L_ASA =
    "%ASA-6-302013: Built outbound TCP connection 12345 for outside:1.2.3.4/443 (1.2.3.4/443) "
    "to inside:10.0.0.5/51234 (10.0.0.5/51234)";
static const char *const L_FORTIGATE =
    "date=2019-05-10 time=11:50:48 devname=\"FGT-HQ\" devid=\"FG100E4Q17000001\" "
    "logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" "
    "eventtime=1557514248 tz=\"+0200\" srcip=10.1.100.11 srcport=60446 srcintf=\"port12\" "
    "srcintfrole=\"lan\" dstip=172.16.200.55 dstport=80 dstintf=\"port11\" "
    "dstintfrole=\"wan\" sessionid=359260 proto=6 action=\"close\" policyid=4 "
    "policytype=\"policy\" service=\"HTTP\" duration=1 sentbyte=412 rcvdbyte=2286 sentpkt=6 "
    "rcvdpkt=6 user=\"bob\"";
static const char *const L_PANOS =
    "1,2012/10/30 09:46:12,01606001116,TRAFFIC,end,1,2012/04/10 04:39:58,192.168.0.2,"
    "67.43.156.12,203.0.113.5,67.43.156.12,rule1,crusher,,web-browsing,vsys1,trust,untrust,"
    "ethernet1/2,ethernet1/1,forwardAll,2012/04/10 04:39:59,11449,1,59324,80,40000,80,0x400000,"
    "tcp,allow,5078,1078,4000,12,2012/04/10 04:39:00,58,any,0,123,0x0,"
    "192.168.0.0-192.168.255.255,United States,0,6,6";
static const char *const L_IPTABLES =
    "IN=eth0 OUT= MAC=00:0c:29:51:38:5e:00:0c:29:51:38:5f:08:00 SRC=198.51.100.7 DST=10.0.0.1 "
    "LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=4242 DPT=22 WINDOW=29200 RES=0x00 SYN "
    "URGP=0";

/* ================================================================ NetScreen */

Test(norm_fw, netscreen_deny)
{
    expect_rec(&norm_netscreen, &env, L_NETSCREEN,
               FIELDS({"ts", "2007-04-25T00:31:34Z"}, {"device", "galaxy"}, {"duration", "0"},
                      {"policy", "7"}, {"proto", "udp"}, {"src_zone", "Untrust"},
                      {"dst_zone", "Home"}, {"action", "deny"}, {"bytes_out", "0"},
                      {"bytes_in", "0"}, {"src_ip", "204.1.2.235"}, {"dst_ip", "61.197.1.2"},
                      {"src_port", "50722"}, {"dst_port", "1027"}));
}

Test(norm_fw, netscreen_local_time_paris)
{
    /* 2007-04-25 00:31:34 CEST (UTC+2) */
    expect_rec(&norm_netscreen, &env_paris, L_NETSCREEN,
               FIELDS({"ts", "2007-04-24T22:31:34Z"}, {"device", "galaxy"}, {"duration", "0"},
                      {"policy", "7"}, {"proto", "udp"}, {"src_zone", "Untrust"},
                      {"dst_zone", "Home"}, {"action", "deny"}, {"bytes_out", "0"},
                      {"bytes_in", "0"}, {"src_ip", "204.1.2.235"}, {"dst_ip", "61.197.1.2"},
                      {"src_port", "50722"}, {"dst_port", "1027"}));
}

Test(norm_fw, netscreen_permit_screenos6)
{
    /* syslog tag before it, NAT keys with a space ("src-xlated ip=", "port="), and
     * "reason=" with an unquoted space */
    expect_rec(&norm_netscreen, &env,
               "ns5gt: NetScreen device_id=ns5gt  [Root]system-notification-00257(traffic): "
               "start_time=\"2009-03-12 11:38:17\" duration=125 policy_id=320001 service=http "
               "proto=6 src zone=Trust dst zone=Untrust action=Permit sent=1543 rcvd=20480 "
               "src=192.168.2.33 dst=93.184.216.34 src_port=51514 dst_port=80 src-xlated "
               "ip=203.0.113.9 port=7040 dst-xlated ip=93.184.216.34 port=80 session_id=8812 "
               "reason=Close - TCP FIN",
               FIELDS({"ts", "2009-03-12T11:38:17Z"}, {"device", "ns5gt"}, {"duration", "125"},
                      {"policy", "320001"}, {"proto", "tcp"}, {"src_zone", "Trust"},
                      {"dst_zone", "Untrust"}, {"action", "permit"}, {"bytes_out", "1543"},
                      {"bytes_in", "20480"}, {"src_ip", "192.168.2.33"},
                      {"dst_ip", "93.184.216.34"}, {"src_port", "51514"}, {"dst_port", "80"}));
}

Test(norm_fw, netscreen_ipv6_no_ports)
{
    expect_rec(&norm_netscreen, &env,
               "NetScreen device_id=fw6 [vsys2]system-notification-00257(traffic): "
               "start_time=\"2012-12-31 23:59:59\" duration=2 policy_id=12 service=icmp "
               "proto=58 src zone=V6-Trust dst zone=V6-Untrust action=Permit sent=104 rcvd=104 "
               "src=2001:db8::10 dst=2001:db8:ffff::1 session_id=77",
               FIELDS({"ts", "2012-12-31T23:59:59Z"}, {"device", "fw6"}, {"duration", "2"},
                      {"policy", "12"}, {"proto", "icmpv6"}, {"src_zone", "V6-Trust"},
                      {"dst_zone", "V6-Untrust"}, {"action", "permit"}, {"bytes_out", "104"},
                      {"bytes_in", "104"}, {"src_ip", "2001:db8::10"},
                      {"dst_ip", "2001:db8:ffff::1"}));
}

Test(norm_fw, netscreen_other)
{
    expect(&norm_netscreen,
           "NetScreen device_id=galaxy [Root]system-warning-00515: Admin user netscreen has "
           "logged on via Telnet from 10.0.0.2:1321",
           NORM_SKIP, NULL);
    expect(&norm_netscreen, L_ASA, NORM_NOMATCH, NULL);
    expect(&norm_netscreen, L_FORTIGATE, NORM_NOMATCH, NULL);
    expect(&norm_netscreen, "", NORM_NOMATCH, NULL);
    /* cut after src= */
    expect(&norm_netscreen,
           "NetScreen device_id=galaxy [Root]system-notification-00257(traffic): "
           "start_time=\"2007-04-25 00:31:34\" duration=0 policy_id=7 service=udp/port:1027 "
           "proto=17 src zone=Untrust dst zone=Home action=Deny sent=0 rcvd=0 src=204.1.2.235",
           NORM_BAD, "without dst");
    expect(&norm_netscreen, "NetScreen device_id=galaxy", NORM_BAD, "no message id");
    expect(&norm_netscreen,
           "NetScreen device_id=galaxy [Root]system-notification-00257(traffic): "
           "start_time=\"2007-13-25 00:31:34\" src=1.2.3.4 dst=5.6.7.8",
           NORM_BAD, "not a valid time");
    expect(&norm_netscreen,
           "NetScreen device_id=galaxy [Root]system-notification-00257(traffic): "
           "start_time=\"2007-04-25 00:31:34\" src=1.2.3.4 dst=5.6.7.8 src_port=5x0",
           NORM_BAD, "src_port: not a number");
}

/* ================================================================ SRX */

Test(norm_fw, srx_close)
{
    /* as norm.c hands it on: from the MSGID */
    expect_rec(&norm_srx, &env, L_SRX,
               FIELDS({"src_ip", "10.3.255.203"}, {"src_port", "47776"}, {"dst_ip", "8.23.224.110"},
                      {"dst_port", "80"}, {"proto", "tcp"}, {"src_zone", "trust"},
                      {"dst_zone", "untrust"}, {"user", "alice"}, {"bytes_out", "337"},
                      {"bytes_in", "535"}, {"duration", "1"}, {"action", "allow"}));
}

Test(norm_fw, srx_create_numeric_policy)
{
    /* from the APP-NAME; username N/A is no user; policy-name "35" is a number */
    expect_rec(&norm_srx, &env,
               "RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.40 "
               "source-address=\"192.0.2.1\" source-port=\"1\" "
               "destination-address=\"198.51.100.12\" destination-port=\"46384\" "
               "service-name=\"icmp\" protocol-id=\"1\" policy-name=\"35\" "
               "source-zone-name=\"trustZone\" destination-zone-name=\"untrustZone\" "
               "session-id-32=\"41\" username=\"N/A\"]",
               FIELDS({"src_ip", "192.0.2.1"}, {"src_port", "1"}, {"dst_ip", "198.51.100.12"},
                      {"dst_port", "46384"}, {"proto", "icmp"}, {"policy", "35"},
                      {"src_zone", "trustZone"}, {"dst_zone", "untrustZone"}, {"action", "allow"}));
}

static const char *const SRX_DENY_SD =
    "[junos@2636.1.1.1.2.134 source-address=\"10.0.0.26\" source-port=\"37233\" "
    "destination-address=\"10.128.0.1\" destination-port=\"161\" connection-tag=\"0\" "
    "service-name=\"None\" protocol-id=\"17\" icmp-type=\"0\" "
    "policy-name=\"MgmtAccess-trust-cleanup\" source-zone-name=\"trust\" "
    "destination-zone-name=\"junos-host\" application=\"UNKNOWN\" username=\"N/A\" "
    "reason=\"Denied by policy\"]";

Test(norm_fw, srx_deny)
{
    char line[1024];
    const fv_t *want =
        FIELDS({"src_ip", "10.0.0.26"}, {"src_port", "37233"}, {"dst_ip", "10.128.0.1"},
               {"dst_port", "161"}, {"proto", "udp"}, {"src_zone", "trust"},
               {"dst_zone", "junos-host"}, {"action", "deny"});
    snprintf(line, sizeof line, "RT_FLOW_SESSION_DENY %s", SRX_DENY_SD);
    expect_rec(&norm_srx, &env, line, want);
    snprintf(line, sizeof line, "RT_FLOW_SESSION_DENY_LS %s", SRX_DENY_SD);
    expect_rec(&norm_srx, &env, line, want);
    /* the structured data alone: icmp-type marks a DENY */
    expect_rec(&norm_srx, &env, SRX_DENY_SD, want);
}

Test(norm_fw, srx_sd_alone_and_ls)
{
    const char *sd = strchr(L_SRX, '[');
    const fv_t *want =
        FIELDS({"src_ip", "10.3.255.203"}, {"src_port", "47776"}, {"dst_ip", "8.23.224.110"},
               {"dst_port", "80"}, {"proto", "tcp"}, {"src_zone", "trust"}, {"dst_zone", "untrust"},
               {"user", "alice"}, {"bytes_out", "337"}, {"bytes_in", "535"}, {"duration", "1"},
               {"action", "allow"});
    expect_rec(&norm_srx, &env, sd, want);
    char line[2048];
    snprintf(line, sizeof line, "RT_FLOW_SESSION_CLOSE_LS %s", sd);
    expect_rec(&norm_srx, &env, line, want);
}

Test(norm_fw, srx_ipv6_and_typographic_quotes)
{
    /* some devices quote with U+201D (and U+201C): read as quotes, spaces and all */
    expect_rec(&norm_srx, &env,
               "RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 reason=\xE2\x80\x9DTCP CLIENT "
               "RST\xE2\x80\x9D source-address=\"2001:db8::5\" source-port=\"50001\" "
               "destination-address=\"2001:db8:1::53\" destination-port=\"53\" "
               "protocol-id=\"17\" policy-name=\"v6-out\" source-zone-name=\"trust\" "
               "destination-zone-name=\"untrust\" bytes-from-client=\"66\" "
               "bytes-from-server=\"82\" elapsed-time=\"3\" "
               "username=\xE2\x80\x9C"
               "bob\xE2\x80\x9D destination-interface-name=\xE2\x80\x9Dst0.0\xE2\x80\x9D]",
               FIELDS({"src_ip", "2001:db8::5"}, {"src_port", "50001"},
                      {"dst_ip", "2001:db8:1::53"}, {"dst_port", "53"}, {"proto", "udp"},
                      {"src_zone", "trust"}, {"dst_zone", "untrust"}, {"user", "bob"},
                      {"bytes_out", "66"}, {"bytes_in", "82"}, {"duration", "3"},
                      {"action", "allow"}));
}

Test(norm_fw, srx_other)
{
    expect(&norm_srx,
           "APPTRACK_SESSION_CLOSE [junos@2636.1.1.1.2.129 reason=\"TCP CLIENT RST\" "
           "source-address=\"67.43.156.12\" destination-address=\"5.0.0.1\"]",
           NORM_SKIP, NULL);
    expect(&norm_srx,
           "RT_FLOW - APPTRACK_SESSION_VOL_UPDATE [junos@2636.1.1.1.2.129 "
           "source-address=\"67.43.156.12\" destination-address=\"5.0.0.1\"]",
           NORM_SKIP, NULL);
    expect(&norm_srx, L_NETSCREEN, NORM_NOMATCH, NULL);
    expect(&norm_srx, L_PANOS, NORM_NOMATCH, NULL);
    expect(&norm_srx, "RT_FLOWER something", NORM_NOMATCH, NULL);
    /* cut inside a value */
    expect(&norm_srx,
           "RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 reason=\"TCP FIN\" "
           "source-address=\"10.3.255.203\" source-port=\"477",
           NORM_BAD, "truncated");
    /* cut before the closing ']' */
    expect(&norm_srx,
           "RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 source-address=\"10.3.255.203\"",
           NORM_BAD, "truncated");
    expect(&norm_srx,
           "RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 source-address=\"10.3.255.203\"]",
           NORM_BAD, "without source-address or destination-address");
    expect(&norm_srx,
           "RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->10.0.0.2/2 junos-http",
           NORM_BAD, "BSD text form");
    expect(&norm_srx, "RT_FLOW_SESSION_CREATE session created", NORM_BAD, "without [junos@");
    expect(&norm_srx,
           "RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 source-address=\"10.3.255.203\" "
           "destination-address=\"8.23.224.110\" source-port=\"70000\"]",
           NORM_BAD, "src_port: not a number up to 65535");
}

/* ================================================================ ASA */

Test(norm_fw, asa_built_outbound)
{
    /* outbound: the "to" (inside) side opened it */
    expect_rec(&norm_asa, &env, L_ASA,
               FIELDS({"src_ip", "10.0.0.5"}, {"src_port", "51234"}, {"src_zone", "inside"},
                      {"dst_ip", "1.2.3.4"}, {"dst_port", "443"}, {"dst_zone", "outside"},
                      {"proto", "tcp"}, {"action", "allow"}));
}

static const char *const ASA_INBOUND =
    "Jun 22 2011 12:00:00 fw-edge : %ASA-6-302015: Built inbound UDP connection 261311655 for "
    "OUTSIDE:89.160.20.156/63790 (67.43.156.13/63790)(LOCAL\\domain\\USER001) to "
    "INSIDE:192.168.0.1/53 (192.168.0.1/53) (domain\\USER001)";

Test(norm_fw, asa_built_inbound_identity_and_prefix)
{
    /* the ASA's own timestamp and device name before the tag; inbound: "for" opened it */
    expect_rec(&norm_asa, &env, ASA_INBOUND,
               FIELDS({"ts", "2011-06-22T12:00:00Z"}, {"device", "fw-edge"},
                      {"src_ip", "89.160.20.156"}, {"src_port", "63790"}, {"src_zone", "OUTSIDE"},
                      {"dst_ip", "192.168.0.1"}, {"dst_port", "53"}, {"dst_zone", "INSIDE"},
                      {"proto", "udp"}, {"action", "allow"}, {"user", "domain\\USER001"}));
    /* 12:00 CEST (UTC+2) */
    expect_rec(&norm_asa, &env_paris, ASA_INBOUND,
               FIELDS({"ts", "2011-06-22T10:00:00Z"}, {"device", "fw-edge"},
                      {"src_ip", "89.160.20.156"}, {"src_port", "63790"}, {"src_zone", "OUTSIDE"},
                      {"dst_ip", "192.168.0.1"}, {"dst_port", "53"}, {"dst_zone", "INSIDE"},
                      {"proto", "udp"}, {"action", "allow"}, {"user", "domain\\USER001"}));
}

Test(norm_fw, asa_teardown)
{
    /* 443 < 51678: the dmz side is the client; 1:01:08 = 3668 s; the one total in bytes_out */
    expect_rec(&norm_asa, &env,
               "Dec 11 2018 08:01:38: %ASA-6-302014: Teardown TCP connection 447234 for "
               "outside:192.0.2.222/443 to dmz:192.168.1.35/51678 duration 1:01:08 bytes 134781 "
               "TCP FINs",
               FIELDS({"ts", "2018-12-11T08:01:38Z"}, {"src_ip", "192.168.1.35"},
                      {"src_port", "51678"}, {"src_zone", "dmz"}, {"dst_ip", "192.0.2.222"},
                      {"dst_port", "443"}, {"dst_zone", "outside"}, {"duration", "3668"},
                      {"bytes_out", "134781"}, {"proto", "tcp"}, {"action", "allow"}));
    /* old form with bare user words; 53 < 52925 */
    expect_rec(&norm_asa, &env,
               "%ASA-6-302016: Teardown UDP connection 666 for outside:192.0.2.222/53 user1 to "
               "inside:10.123.1.35/52925 user2 duration 10:00:00 bytes 9999999",
               FIELDS({"src_ip", "10.123.1.35"}, {"src_port", "52925"}, {"src_zone", "inside"},
                      {"dst_ip", "192.0.2.222"}, {"dst_port", "53"}, {"dst_zone", "outside"},
                      {"duration", "36000"}, {"bytes_out", "9999999"}, {"proto", "udp"},
                      {"action", "allow"}, {"user", "user2"}));
    /* the initiator's identity; 50120 > 443 keeps for -> to; no ':' after the tag */
    expect_rec(&norm_asa, &env,
               "%ASA-6-302014 Teardown TCP connection 261246338 for "
               "OUTSIDE:89.160.20.156/50120(LOCAL\\jdoe) to OUTSIDE:40.0.0.1/443 duration "
               "0:02:05 bytes 9610 TCP FINs from OUTSIDE (jdoe)",
               FIELDS({"src_ip", "89.160.20.156"}, {"src_port", "50120"}, {"src_zone", "OUTSIDE"},
                      {"dst_ip", "40.0.0.1"}, {"dst_port", "443"}, {"dst_zone", "OUTSIDE"},
                      {"duration", "125"}, {"bytes_out", "9610"}, {"proto", "tcp"},
                      {"action", "allow"}, {"user", "jdoe"}));
}

Test(norm_fw, asa_deny)
{
    expect_rec(&norm_asa, &env,
               "Apr 30 2013 09:23:40: %ASA-4-106023: Deny tcp src outside:192.0.2.126/53638 dst "
               "inside:10.0.0.132/8111 by access-group \"acl_out\" [0x71761f18, 0x0]",
               FIELDS({"ts", "2013-04-30T09:23:40Z"}, {"src_ip", "192.0.2.126"},
                      {"src_port", "53638"}, {"src_zone", "outside"}, {"dst_ip", "10.0.0.132"},
                      {"dst_port", "8111"}, {"dst_zone", "inside"}, {"proto", "tcp"},
                      {"action", "deny"}));
    /* ICMP: no ports */
    expect_rec(&norm_asa, &env,
               "%ASA-4-106023: Deny icmp src outside:198.51.100.7 dst inside:10.0.0.1 type 8, "
               "code 0 by access-group \"outside_in\" [0x0, 0x0]",
               FIELDS({"src_ip", "198.51.100.7"}, {"src_zone", "outside"}, {"dst_ip", "10.0.0.1"},
                      {"dst_zone", "inside"}, {"proto", "icmp"}, {"action", "deny"}));
    /* a protocol number; an identity-firewall user with its security group */
    expect_rec(&norm_asa, &env,
               "%ASA-4-106023: Deny protocol 47 src inside:10.1.1.5 (LOCAL\\bob, 12) dst "
               "outside:192.0.2.12 by access-group \"in\" [0x0, 0x0]",
               FIELDS({"src_ip", "10.1.1.5"}, {"src_zone", "inside"}, {"dst_ip", "192.0.2.12"},
                      {"dst_zone", "outside"}, {"proto", "gre"}, {"action", "deny"},
                      {"user", "bob"}));
}

Test(norm_fw, asa_ipv6_and_zones)
{
    /* a trailing "(user)"; a UTC timestamp stays UTC in a Paris store */
    expect_rec(&norm_asa, &env_paris,
               "Jan 15 2021 19:12:37 UTC: %ASA-6-302013: Built inbound TCP connection 251933191 "
               "for OUTSIDE:2001:db8::fede:bbe1/62477 (2001:db8::fede:bbe1/62477) to "
               "DMZ:2001:db8:f253::43fe/443 (2001:db8:f253::43fe/443) (soc@example.com)",
               FIELDS({"ts", "2021-01-15T19:12:37Z"}, {"src_ip", "2001:db8::fede:bbe1"},
                      {"src_port", "62477"}, {"src_zone", "OUTSIDE"},
                      {"dst_ip", "2001:db8:f253::43fe"}, {"dst_port", "443"}, {"dst_zone", "DMZ"},
                      {"proto", "tcp"}, {"action", "allow"}, {"user", "soc@example.com"}));
    /* a zone abbreviation we cannot resolve: ts is left to the syslog header */
    expect_rec(&norm_asa, &env,
               "Apr 15 2014 09:34:34 EDT: %ASA-4-106023: Deny udp src dmz:192.168.1.33/5555 dst "
               "outside:192.0.0.12/53 by access-group \"dmz\" [0x123a465e, 0x4c7bf613]",
               FIELDS({"src_ip", "192.168.1.33"}, {"src_port", "5555"}, {"src_zone", "dmz"},
                      {"dst_ip", "192.0.0.12"}, {"dst_port", "53"}, {"dst_zone", "outside"},
                      {"proto", "udp"}, {"action", "deny"}));
}

Test(norm_fw, asa_other)
{
    expect(&norm_asa,
           "%ASA-6-305011: Built dynamic TCP translation from outside:10.123.3.42/4952 to "
           "outside:192.0.2.130/12834",
           NORM_SKIP, NULL);
    expect(&norm_asa,
           "Apr 15 2014 09:34:34 EDT: %ASA-session-5-106100: access-list acl_in permitted tcp "
           "inside/10.1.2.16(2241) -> outside/192.0.0.89(2000) hit-cnt 1 first hit [0x71a87d94, "
           "0x0]",
           NORM_SKIP, NULL);
    expect(&norm_asa, L_FORTIGATE, NORM_NOMATCH, NULL);
    expect(&norm_asa, L_IPTABLES, NORM_NOMATCH, NULL);
    expect(&norm_asa,
           "%ASA-6-302014: Teardown TCP connection 447234 for outside:192.0.2.222/443 to "
           "dmz:192.168.1.35/51678 dur",
           NORM_BAD, "without duration");
    expect(&norm_asa, "%ASA-6-302013: Built outbound TCP connection 12345 for outside:1.2.3.4/4",
           NORM_BAD, "expected \"to");
    expect(&norm_asa,
           "%ASA-6-302013: Built outbound TCP connection 447236 for outside:192.0.2.222/1234 "
           "(192.0.2.222/1234) to dmz:OCSP_Server/5678 (OCSP_Server/5678)",
           NORM_BAD, "src_ip: not an IP address: OCSP_Server");
    expect(&norm_asa, "%ASA-6-30201: Built", NORM_BAD, "malformed tag");
    expect(&norm_asa,
           "%ASA-6-302013: Built sideways TCP connection 1 for a:1.2.3.4/1 to b:5.6.7.8/2",
           NORM_BAD, "inbound or outbound");
    expect(&norm_asa, "%ASA-6-302013: Teardown TCP connection 1", NORM_BAD, "expected \"Built\"");
    expect(&norm_asa,
           "%ASA-6-302016: Teardown UDP connection 1 for a:1.2.3.4/1 to b:5.6.7.8/2 duration "
           "1:2:3 bytes 4",
           NORM_BAD, "duration: not H:MM:SS");
}

/* ================================================================ FortiGate */

Test(norm_fw, fortigate_close_with_tz)
{
    /* tz="+0200": 11:50:48+02:00 = 09:50:48Z, whatever the store's zone */
    const fv_t *want =
        FIELDS({"ts", "2019-05-10T09:50:48Z"}, {"device", "FGT-HQ"}, {"src_ip", "10.1.100.11"},
               {"src_port", "60446"}, {"src_zone", "port12"}, {"dst_ip", "172.16.200.55"},
               {"dst_port", "80"}, {"dst_zone", "port11"}, {"proto", "tcp"}, {"action", "close"},
               {"policy", "4"}, {"duration", "1"}, {"bytes_out", "412"}, {"bytes_in", "2286"},
               {"user", "bob"});
    expect_rec(&norm_fortigate, &env, L_FORTIGATE, want);
    expect_rec(&norm_fortigate, &env_paris, L_FORTIGATE, want);
}

Test(norm_fw, fortigate_local_time)
{
    static const char line[] =
        "date=2019-05-10 time=11:50:48 logid=\"0000000013\" type=\"traffic\" "
        "subtype=\"forward\" srcip=10.1.100.22 srcport=46810 dstip=172.16.200.55 dstport=80 "
        "proto=6 action=\"server-rst\" policyid=1 duration=5 sentbyte=2314 rcvdbyte=5266";
    expect_rec(&norm_fortigate, &env, line,
               FIELDS({"ts", "2019-05-10T11:50:48Z"}, {"src_ip", "10.1.100.22"},
                      {"src_port", "46810"}, {"dst_ip", "172.16.200.55"}, {"dst_port", "80"},
                      {"proto", "tcp"}, {"action", "server-rst"}, {"policy", "1"},
                      {"duration", "5"}, {"bytes_out", "2314"}, {"bytes_in", "5266"}));
    /* 11:50:48 CEST (UTC+2) */
    expect_rec(&norm_fortigate, &env_paris, line,
               FIELDS({"ts", "2019-05-10T09:50:48Z"}, {"src_ip", "10.1.100.22"},
                      {"src_port", "46810"}, {"dst_ip", "172.16.200.55"}, {"dst_port", "80"},
                      {"proto", "tcp"}, {"action", "server-rst"}, {"policy", "1"},
                      {"duration", "5"}, {"bytes_out", "2314"}, {"bytes_in", "5266"}));
}

Test(norm_fw, fortigate_eventtime)
{
    /* ns: 1587230049 = 2020-04-18T17:14:09Z; no interface, bytes or duration */
    expect_rec(&norm_fortigate, &env,
               "logid=\"0000000011\" type=\"traffic\" subtype=\"forward\" "
               "eventtime=1587230049761513222 srcip=192.168.1.6 srcport=53438 "
               "dstip=198.51.100.53 dstport=53 proto=17 action=\"dns\" policyid=26",
               FIELDS({"ts", "2020-04-18T17:14:09.761513Z"}, {"src_ip", "192.168.1.6"},
                      {"src_port", "53438"}, {"dst_ip", "198.51.100.53"}, {"dst_port", "53"},
                      {"proto", "udp"}, {"action", "dns"}, {"policy", "26"}));
    /* s: 1554039772 = 2019-03-31T13:42:52Z */
    expect_rec(&norm_fortigate, &env,
               "logid=\"0002000012\" type=\"traffic\" subtype=\"multicast\" eventtime=1554039772 "
               "srcip=172.16.200.55 dstip=230.1.1.2 proto=17 action=\"accept\"",
               FIELDS({"ts", "2019-03-31T13:42:52Z"}, {"src_ip", "172.16.200.55"},
                      {"dst_ip", "230.1.1.2"}, {"proto", "udp"}, {"action", "accept"}));
}

Test(norm_fw, fortigate_ipv6_devid)
{
    expect_rec(&norm_fortigate, &env,
               "date=2020-04-23 time=12:11:48 devid=\"FGVM01\" logid=\"0001000014\" "
               "type=\"traffic\" subtype=\"local\" srcip=2001:db8::1 identifier=0 "
               "srcintf=\"port1\" dstip=ff02::1 dstintf=\"unknown0\" proto=58 action=\"accept\" "
               "policyid=0 duration=42 sentbyte=3014 rcvdbyte=20",
               FIELDS({"ts", "2020-04-23T12:11:48Z"}, {"device", "FGVM01"},
                      {"src_ip", "2001:db8::1"}, {"src_zone", "port1"}, {"dst_ip", "ff02::1"},
                      {"dst_zone", "unknown0"}, {"proto", "icmpv6"}, {"action", "accept"},
                      {"policy", "0"}, {"duration", "42"}, {"bytes_out", "3014"},
                      {"bytes_in", "20"}));
}

Test(norm_fw, fortigate_other)
{
    expect(&norm_fortigate,
           "date=2019-05-10 time=11:50:48 logid=\"0100032001\" type=\"event\" "
           "subtype=\"system\" level=\"information\" msg=\"Administrator admin logged in\"",
           NORM_SKIP, NULL);
    expect(&norm_fortigate, L_IPTABLES, NORM_NOMATCH, NULL);
    expect(&norm_fortigate, L_NETSCREEN, NORM_NOMATCH, NULL);
    expect(&norm_fortigate, L_SRX, NORM_NOMATCH, NULL);
    expect(&norm_fortigate,
           "date=2019-05-10 time=11:50:48 logid=\"0000000013\" type=\"traffic\" "
           "subtype=\"forward\" srcip=10.1.100.11 srcport=604",
           NORM_BAD, "without srcip or dstip");
    expect(&norm_fortigate, "date=2019-05-10 time=11:50:48 logid=\"0000000013\" srcip=10.1.100.11",
           NORM_BAD, "no type=");
    expect(&norm_fortigate,
           "date=2019-05-10 time=25:50:48 logid=\"0000000013\" type=\"traffic\" "
           "srcip=10.1.100.11 dstip=10.1.1.1",
           NORM_BAD, "not a valid time");
    expect(&norm_fortigate,
           "date=2019-05-10 time=11:50:48 logid=\"0000000013\" type=\"traffic\" "
           "srcip=10.1.100.11 srcport=60x46 dstip=10.1.1.1",
           NORM_BAD, "src_port: not a number");
    expect(&norm_fortigate,
           "date=2019-05-10 time=11:50:48 logid=\"0000000013\" type=\"traffic\" "
           "srcip=10.1.100 dstip=10.1.1.1",
           NORM_BAD, "src_ip: not an IP address: 10.1.100");
}

/* ================================================================ PAN-OS */

Test(norm_fw, panos_end)
{
    const fv_t *want = FIELDS({"ts", "2012-04-10T04:39:58Z"}, {"src_ip", "192.168.0.2"},
                              {"dst_ip", "67.43.156.12"}, {"user", "crusher"},
                              {"src_zone", "trust"}, {"dst_zone", "untrust"}, {"src_port", "59324"},
                              {"dst_port", "80"}, {"proto", "tcp"}, {"action", "allow"},
                              {"bytes_out", "1078"}, {"bytes_in", "4000"}, {"duration", "58"});
    expect_rec(&norm_panos, &env, L_PANOS, want);
    /* what a misread year-less header leaves in field 0 does not matter */
    char line[1024];
    snprintf(line, sizeof line, "Oct 30 09:46:12 %s", L_PANOS);
    expect_rec(&norm_panos, &env, line, want);
}

Test(norm_fw, panos_local_time_paris)
{
    /* generated 2012/04/10 04:39:58 CEST (UTC+2) */
    expect_rec(&norm_panos, &env_paris, L_PANOS,
               FIELDS({"ts", "2012-04-10T02:39:58Z"}, {"src_ip", "192.168.0.2"},
                      {"dst_ip", "67.43.156.12"}, {"user", "crusher"}, {"src_zone", "trust"},
                      {"dst_zone", "untrust"}, {"src_port", "59324"}, {"dst_port", "80"},
                      {"proto", "tcp"}, {"action", "allow"}, {"bytes_out", "1078"},
                      {"bytes_in", "4000"}, {"duration", "58"}));
}

Test(norm_fw, panos_newer_layout_ipv6_quoted)
{
    /* 54 fields: device name at 52; a numeric rule becomes policy; a quoted user
     * with a comma and a doubled quote; empty NAT fields, no outbound interface */
    expect_rec(&norm_panos, &env,
               "1,2021/03/04 05:06:07,013201001234,TRAFFIC,drop,2561,2021/03/04 05:06:06,"
               "2001:db8::5,2001:db8:1::80,,,42,\"corp\\o\"\"brien, jr\",,not-applicable,vsys1,"
               "untrust,dmz,ethernet1/1,,default,2021/03/04 05:06:07,0,1,40001,8443,0,0,0x0,tcp,"
               "deny,74,74,0,1,2021/03/04 05:06:06,0,any,0,7021,0x8000000000000000,United States,"
               "10.0.0.0-10.255.255.255,0,1,0,policy-deny,0,0,0,0,,PA-3220-edge,from-policy",
               FIELDS({"ts", "2021-03-04T05:06:06Z"}, {"src_ip", "2001:db8::5"},
                      {"dst_ip", "2001:db8:1::80"}, {"policy", "42"},
                      {"user", "corp\\o\"brien, jr"}, {"src_zone", "untrust"}, {"dst_zone", "dmz"},
                      {"src_port", "40001"}, {"dst_port", "8443"}, {"proto", "tcp"},
                      {"action", "deny"}, {"bytes_out", "74"}, {"bytes_in", "0"}, {"duration", "0"},
                      {"device", "PA-3220-edge"}));
}

Test(norm_fw, panos_other)
{
    expect(&norm_panos,
           "1,2021/03/04 05:06:07,013201001234,THREAT,url,2561,2021/03/04 05:06:07,10.0.0.5,"
           "198.51.100.9,0.0.0.0,0.0.0.0,web,,,web-browsing,vsys1,trust,untrust,ethernet1/2,"
           "ethernet1/1,default,2021/03/04 05:06:07,1234,1,50000,80,0,0,0x0,tcp,alert,"
           "\"example.com/a,b\",(9999),search-engines,informational,client-to-server",
           NORM_SKIP, NULL);
    expect(&norm_panos,
           "1,2021/03/04 05:06:07,013201001234,SYSTEM,general,0,2021/03/04 05:06:07,,general,,0,"
           "0,general,informational,\"User admin logged in via Web from 10.0.0.2\",1234,0x0",
           NORM_SKIP, NULL);
    expect(&norm_panos,
           "1,2021/03/04 05:06:07,013201001234,CONFIG,0,0,2021/03/04 05:06:07,10.0.0.2,,set,"
           "admin,Web,Succeeded,deviceconfig system,1234,0x0",
           NORM_SKIP, NULL);
    expect(&norm_panos, L_SRX, NORM_NOMATCH, NULL);
    expect(&norm_panos, L_ASA, NORM_NOMATCH, NULL);
    /* pfSense filterlog: CSV, but no PAN-OS time in field 1 */
    expect(&norm_panos,
           "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.7,10.0.0.1,"
           "4242,22,0,S,1,,64240,,mss",
           NORM_NOMATCH, NULL);
    expect(&norm_panos,
           "1,2012/10/30 09:46:12,01606001116,TRAFFIC,end,1,2012/04/10 04:39:58,192.168.0.2,"
           "67.43.156.12,203.0.113.5,67.43.156.12,rule1,crusher,,web-browsing,vsys1,trust",
           NORM_BAD, "17 fields, at least 37");
    expect(&norm_panos,
           "1,2012/10/30 09:46:12,01606001116,TRAFFIC,end,1,2012/04/10 04:39:58,192.168.0.2,"
           "67.43.156.12,,,rule1,\"crusher,,web",
           NORM_BAD, "unterminated quoted field");
    expect(&norm_panos,
           "1,2012/10/30 09:46:12,01606001116,TRAFFIC,end,1,2012-04-10 04:39:58,192.168.0.2,"
           "67.43.156.12,203.0.113.5,67.43.156.12,rule1,crusher,,web-browsing,vsys1,trust,untrust,"
           "ethernet1/2,ethernet1/1,forwardAll,2012/04/10 04:39:59,11449,1,59324,80,40000,80,"
           "0x400000,tcp,allow,5078,1078,4000,12,2012/04/10 04:39:00,58,any,0,123,0x0,x,y,0,6,6",
           NORM_BAD, "generated time");
    expect(&norm_panos,
           "1,2012/10/30 09:46:12,01606001116,TRAFFIC,end,1,2012/04/10 04:39:58,192.168.0.2,"
           "67.43.156.12,203.0.113.5,67.43.156.12,rule1,crusher,,web-browsing,vsys1,trust,untrust,"
           "ethernet1/2,ethernet1/1,forwardAll,2012/04/10 04:39:59,11449,1,59324,80x,40000,80,"
           "0x400000,tcp,allow,5078,1078,4000,12,2012/04/10 04:39:00,58,any,0,123,0x0,x,y,0,6,6",
           NORM_BAD, "dst_port: not a number");
}

/* ================================================================ real samples */

/* What norm.c hands a format: for RFC 5424, the line from the MSGID on. */
static void format_text(const char *line, size_t len, const syslog_msg_t *m, const char **text,
                        size_t *tlen)
{
    *text = m->msg;
    *tlen = m->msglen;
    if (m->kind != 5424)
        return;
    const char *p = line, *end = line + len;
    for (int words = 0; words < 5 && p < end; words++) {
        while (p < end && *p != ' ')
            p++;
        p += p < end;
    }
    if (end - p >= 2 && p[0] == '-' && p[1] == ' ')
        p += 2;
    *text = p;
    *tlen = (size_t)(end - p);
}

typedef struct spot {
    unsigned line;
    const fv_t *want;
} spot_t;

/* Every line of file through syslog_parse and f: the counts, the BAD lines
 * (0-terminated) and the spot-checked records. */
static void real_sample(const char *file, const norm_format_t *f, unsigned records, unsigned skips,
                        const unsigned *bad_lines, const spot_t *spots)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/../shared/data/real/elastic-beats/%s", COLOG_SOURCE_DIR, file);
    FILE *in = fopen(path, "r");
    if (in == NULL)
        cr_skip_test("%s: not here", path);
    static char line[65536];
    unsigned n[4] = {0, 0, 0, 0}, lineno = 0, nbad = 0;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        size_t len = strcspn(line, "\r\n");
        syslog_msg_t m;
        syslog_parse(line, len, &env, &m);
        const char *text;
        size_t tlen;
        format_text(line, len, &m, &text, &tlen);
        int r = f->parse(text, tlen, &env, &rec);
        cr_assert(r >= 0 && r <= 3);
        n[r]++;
        if (r == NORM_BAD) {
            cr_assert_eq(bad_lines[nbad], lineno, "%s:%u: unexpected NORM_BAD: %s", file, lineno,
                         rec.why);
            nbad++;
        }
        for (const spot_t *s = spots; s->want; s++) {
            if (s->line != lineno)
                continue;
            cr_assert_eq(r, NORM_RECORD, "%s:%u: %d (%s)", file, lineno, r, rec.why);
            unsigned k = 0;
            for (; s->want[k].k; k++) {
                size_t vl = 0;
                const char *v = norm_get(&rec, s->want[k].k, &vl);
                if (v == NULL || vl != strlen(s->want[k].v) || memcmp(v, s->want[k].v, vl)) {
                    dump();
                    cr_assert_fail("%s:%u: %s = '%.*s', want '%s'", file, lineno, s->want[k].k,
                                   v ? (int)vl : 6, v ? v : "(none)", s->want[k].v);
                }
            }
            if (rec.n != k) {
                dump();
                cr_assert_fail("%s:%u: %u fields, want %u", file, lineno, rec.n, k);
            }
        }
    }
    fclose(in);
    cr_assert_eq(bad_lines[nbad], 0, "%s: line %u was expected NORM_BAD", file, bad_lines[nbad]);
    cr_assert_eq(n[NORM_NOMATCH], 0, "%s: %u lines not recognised", file, n[NORM_NOMATCH]);
    cr_assert_eq(n[NORM_RECORD], records, "%s: %u records, want %u", file, n[NORM_RECORD], records);
    cr_assert_eq(n[NORM_SKIP], skips, "%s: %u skipped, want %u", file, n[NORM_SKIP], skips);
}

Test(norm_fw, real_asa)
{
    /* 87 lines. Records (30): 106023 on lines 1 2 35 36 41 42 50 63; 302013 on 7 11 16
     * 51 52 72 74 75 81 86; 302014 on 45 46 47 53 83; 302015 on 9 40 84; 302016 on 12
     * 13 54 85. NORM_BAD (2): lines 43 and 44, a 302013 whose local side is the name
     * "OCSP_Server", not an address. Skipped (55): every other id (106100, 106006,
     * 106007, 106015, 106016, 302020, 302021, 304001, 304002, 305011, 305012, 313001,
     * 313004, 338002/4/8, 602304). syslog.c takes the timestamps and host names. */
    static const unsigned bad[] = {43, 44, 0};
    const spot_t spots[] = {
        /* Built outbound UDP ... for outside:192.0.2.222/53 (192.0.2.43/53) to
         * outside:10.123.1.35/52925 (10.123.1.35/25882): "to" opened it */
        {9, FIELDS({"src_ip", "10.123.1.35"}, {"src_port", "52925"}, {"src_zone", "outside"},
                   {"dst_ip", "192.0.2.222"}, {"dst_port", "53"}, {"dst_zone", "outside"},
                   {"proto", "udp"}, {"action", "allow"})},
        /* Built inbound TCP ... for internet:10.2.3.4/49926 (81.2.69.143/49926)
         * (LOCAL\username) to vlan-42:81.2.69.143/80 (81.2.69.143/80) (username) */
        {72, FIELDS({"src_ip", "10.2.3.4"}, {"src_port", "49926"}, {"src_zone", "internet"},
                    {"dst_ip", "81.2.69.143"}, {"dst_port", "80"}, {"dst_zone", "vlan-42"},
                    {"proto", "tcp"}, {"action", "allow"}, {"user", "username"})},
        /* Teardown TCP ... for OUTSIDE:89.160.20.156/50120(LOCAL\domain\USER001) to
         * OUTSIDE:40.0.0.1/443 duration 0:02:05 bytes 9610 */
        {83, FIELDS({"src_ip", "89.160.20.156"}, {"src_port", "50120"}, {"src_zone", "OUTSIDE"},
                    {"dst_ip", "40.0.0.1"}, {"dst_port", "443"}, {"dst_zone", "OUTSIDE"},
                    {"proto", "tcp"}, {"action", "allow"}, {"duration", "125"},
                    {"bytes_out", "9610"}, {"user", "domain\\USER001"})},
        /* Deny tcp src outside:192.0.2.95/24069 dst inside:10.32.112.125/25 ... [0x0, 0x0]" */
        {63, FIELDS({"src_ip", "192.0.2.95"}, {"src_port", "24069"}, {"src_zone", "outside"},
                    {"dst_ip", "10.32.112.125"}, {"dst_port", "25"}, {"dst_zone", "inside"},
                    {"proto", "tcp"}, {"action", "deny"})},
        {0, NULL},
    };
    real_sample("cisco-asa/sample.log", &norm_asa, 30, 55, bad, spots);
}

Test(norm_fw, real_srx)
{
    /* 25 lines. Records (16): RT_FLOW_SESSION_CREATE/CLOSE/DENY on lines 1-12, 23, 24
     * and the _LS variants on 19, 20. Skipped (9): APPTRACK_SESSION_* on 13-18, 21, 22,
     * 25 (the four lines with typographic quotes, 16-18 and 21, are among them). */
    static const unsigned bad[] = {0};
    const spot_t spots[] = {
        /* CLOSE: 81.2.69.143:63456 -> 5.6.7.8:902 udp, mngmt -> intra, 94/0 bytes, 60 s */
        {4,
         FIELDS({"src_ip", "81.2.69.143"}, {"src_port", "63456"}, {"dst_ip", "5.6.7.8"},
                {"dst_port", "902"}, {"proto", "udp"}, {"src_zone", "mngmt"}, {"dst_zone", "intra"},
                {"bytes_out", "94"}, {"bytes_in", "0"}, {"duration", "60"}, {"action", "allow"})},
        /* CLOSE with policy-name="35" */
        {9, FIELDS({"src_ip", "192.168.2.164"}, {"src_port", "53232"}, {"dst_ip", "172.16.1.19"},
                   {"dst_port", "445"}, {"proto", "tcp"}, {"policy", "35"}, {"src_zone", "Trust"},
                   {"dst_zone", "Trust"}, {"bytes_out", "4274"}, {"bytes_in", "1575"},
                   {"duration", "16"}, {"action", "allow"})},
        /* DENY_LS */
        {20, FIELDS({"src_ip", "10.0.0.26"}, {"src_port", "37233"}, {"dst_ip", "10.128.0.1"},
                    {"dst_port", "161"}, {"proto", "udp"}, {"src_zone", "trust"},
                    {"dst_zone", "junos-host"}, {"action", "deny"})},
        {0, NULL},
    };
    real_sample("juniper-srx/flow.log", &norm_srx, 16, 9, bad, spots);
}

Test(norm_fw, real_fortigate)
{
    /* 13 lines, all type="traffic" (forward, local, multicast, sniffer): 13 records. */
    static const unsigned bad[] = {0};
    const spot_t spots[] = {
        /* date=2020-04-23 time=12:14:09 tz="-0500" -> 17:14:09Z; no duration or bytes */
        {2, FIELDS({"ts", "2020-04-23T17:14:09Z"}, {"device", "newfirewall"},
                   {"src_ip", "192.168.1.6"}, {"src_port", "53438"}, {"src_zone", "port1"},
                   {"dst_ip", "175.16.199.1"}, {"dst_port", "53"}, {"dst_zone", "wan1"},
                   {"proto", "udp"}, {"action", "dns"}, {"policy", "26"})},
        /* no devname, no tz: date/time local (UTC here) */
        {8,
         FIELDS({"ts", "2019-03-31T06:42:54Z"}, {"src_ip", "172.16.200.55"}, {"src_port", "60660"},
                {"src_zone", "port25"}, {"dst_ip", "230.1.1.2"}, {"dst_port", "7878"},
                {"dst_zone", "port3"}, {"proto", "udp"}, {"action", "accept"}, {"policy", "1"},
                {"duration", "22"}, {"bytes_out", "5940"}, {"bytes_in", "0"})},
        /* user="elasticuser" */
        {7,
         FIELDS({"ts", "2020-04-23T17:14:28Z"}, {"device", "firewall3"}, {"src_ip", "81.2.69.145"},
                {"src_port", "56603"}, {"src_zone", "port1"}, {"dst_ip", "175.16.199.1"},
                {"dst_port", "442"}, {"dst_zone", "wan1"}, {"proto", "tcp"}, {"action", "close"},
                {"policy", "2365"}, {"user", "elasticuser"}, {"duration", "126"},
                {"bytes_out", "923"}, {"bytes_in", "77654"})},
        {0, NULL},
    };
    real_sample("fortinet-firewall/traffic.log", &norm_fortigate, 13, 0, bad, spots);
}

Test(norm_fw, real_panos)
{
    /* 100 lines, all TRAFFIC (66 start, 34 end) in the 46-field layout: 100 records. */
    static const unsigned bad[] = {0};
    const spot_t spots[] = {
        /* 1,2012/10/30 09:46:12,01606001116,TRAFFIC,start,1,2012/04/10 04:39:58,
         * 192.168.0.2,67.43.156.12,...,rule1,crusher,,web-browsing,vsys1,trust,untrust,
         * ...,59324,80,0,0,0x200000,tcp,allow,78,78,0,1,2012/04/10 04:39:59,0,... */
        {1, FIELDS({"ts", "2012-04-10T04:39:58Z"}, {"src_ip", "192.168.0.2"},
                   {"dst_ip", "67.43.156.12"}, {"user", "crusher"}, {"src_zone", "trust"},
                   {"dst_zone", "untrust"}, {"src_port", "59324"}, {"dst_port", "80"},
                   {"proto", "tcp"}, {"action", "allow"}, {"bytes_out", "78"}, {"bytes_in", "0"},
                   {"duration", "0"})},
        {0, NULL},
    };
    real_sample("panw-panos/pan_inc_traffic.log", &norm_panos, 100, 0, bad, spots);
}
