/*
 * test_norm_more.c — Criterion suite for the iptables, pfSense, CEF, Apache and
 * nginx normalizers (tools/norm_iptables.c, norm_pfsense.c, norm_cef.c,
 * norm_apache.c, norm_nginx.c).
 *
 * Fixtures are written here by hand (documentation addresses), each with every
 * field the normalizer must produce spelled out, and no other field: per
 * format a typical record, IPv6 where the format has it, each action, absent
 * optional fields, a line of the format that is not traffic (NORM_SKIP),
 * other formats' lines (NORM_NOMATCH) and garbled lines (NORM_BAD, with the
 * reason checked). The last suite runs the real third-party samples in
 * ../shared/data/real when that directory exists (it is not part of the
 * project) and checks counts established by reading the files.
 *
 * Hand-computed instants: 2026-03-01T12:00:00Z is 1772366400 s; env.now_us
 * is that instant (the year of year-less times).
 */
#include "norm.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NOW_S 1772366400LL /* 2026-03-01T12:00:00Z */

static colog_tz_t *tz;
static norm_env_t env;
static norm_rec_t rec;

static void setup_zone(const char *name)
{
    cr_assert_eq(colog_tz_open(name, &tz), 0, "colog_tz_open(%s)", name);
    memset(&env, 0, sizeof env);
    env.tz = tz;
    env.now_us = NOW_S * 1000000;
}

static void setup_utc(void)
{
    setup_zone("UTC");
}

static void teardown(void)
{
    colog_tz_free(tz);
    tz = NULL;
}

static int run(const norm_format_t *f, const char *line)
{
    return f->parse(line, strlen(line), &env, &rec);
}

/* want: name, value, ..., NULL. rec must hold exactly these fields. */
static void check_fields(const char *what, const char *const *want)
{
    unsigned n = 0;
    for (; want[2 * n]; n++) {
        size_t len = 0;
        const char *v = norm_get(&rec, want[2 * n], &len);
        cr_expect_not_null(v, "%s: no %s (want '%s')", what, want[2 * n], want[2 * n + 1]);
        if (v)
            cr_expect(len == strlen(want[2 * n + 1]) && memcmp(v, want[2 * n + 1], len) == 0,
                      "%s: %s = '%.*s', want '%s'", what, want[2 * n], (int)len, v,
                      want[2 * n + 1]);
    }
    for (unsigned i = 0; i < rec.n; i++) {
        bool wanted = false;
        for (unsigned k = 0; k < n; k++)
            wanted |= strcmp(rec.name[i], want[2 * k]) == 0;
        cr_expect(wanted, "%s: unexpected field %s = '%.*s'", what, rec.name[i], (int)rec.len[i],
                  rec.val[i]);
    }
}

static void expect_rec(const norm_format_t *f, const char *line, const char *const *want)
{
    int rc = run(f, line);
    cr_assert_eq(rc, NORM_RECORD, "%s: rc %d (%s) for: %s", f->name, rc, rec.why, line);
    check_fields(line, want);
}

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_rc(const norm_format_t *f, const char *line, int want)
{
    int rc = run(f, line);
    cr_expect_eq(rc, want, "%s: rc %d, want %d (%s) for: %s", f->name, rc, want, rec.why, line);
}

static void expect_bad(const norm_format_t *f, const char *line, const char *why)
{
    int rc = run(f, line);
    cr_expect_eq(rc, NORM_BAD, "%s: rc %d, want NORM_BAD for: %s", f->name, rc, line);
    if (rc == NORM_BAD)
        cr_expect(strstr(rec.why, why) != NULL, "%s: why '%s' lacks '%s' for: %s", f->name, rec.why,
                  why, line);
}

/* One line of each format, for the NOMATCH checks. */
static const char *const L_IPTABLES =
    "kernel: [ 12.5] iptables DROP: IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 PROTO=TCP "
    "SPT=1 DPT=2";
static const char *const L_PFSENSE =
    "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,192.0.2.1,192.0.2.2,1,2,0,S";
static const char *const L_CEF = "CEF:0|Acme|FW|1.0|1|allow|3|src=192.0.2.1 dst=192.0.2.2";
static const char *const L_APACHE =
    "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"";
static const char *const L_ASA =
    "%ASA-6-302013: Built inbound TCP connection 1 for outside:192.0.2.1/1 (192.0.2.1/1) to "
    "inside:192.0.2.2/2 (192.0.2.2/2)";
static const char *const L_FORTIGATE =
    "date=2026-03-01 time=12:00:00 devname=\"fg\" type=\"traffic\" srcip=192.0.2.1 dstip=192.0.2.2";

/* ================================================================ iptables */

TestSuite(iptables, .init = setup_utc, .fini = teardown);

Test(iptables, typical_drop)
{
    expect_rec(&norm_iptables,
               "kernel: [ 1234.5678] iptables DROP_INPUT: IN=eth0 OUT= "
               "MAC=00:16:3e:00:00:01:00:16:3e:00:00:02:08:00 SRC=203.0.113.5 DST=192.0.2.10 "
               "LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=51234 DPT=22 "
               "WINDOW=29200 RES=0x00 SYN URGP=0 ",
               FIELDS("src_ip", "203.0.113.5", "dst_ip", "192.0.2.10", "src_port", "51234",
                      "dst_port", "22", "proto", "tcp", "bytes_out", "60", "src_zone", "eth0",
                      "action", "drop"));
}

Test(iptables, accept_forward_udp_takes_the_ip_length)
{
    /* UDP repeats LEN= (the UDP length): the first, the IP length, counts. */
    expect_rec(&norm_iptables,
               "FW ACCEPT fwd: IN=eth1 OUT=eth0 SRC=10.0.0.5 DST=198.51.100.7 LEN=76 TOS=0x00 "
               "PREC=0x00 TTL=63 ID=1 PROTO=UDP SPT=40000 DPT=53 LEN=56",
               FIELDS("src_ip", "10.0.0.5", "dst_ip", "198.51.100.7", "src_port", "40000",
                      "dst_port", "53", "proto", "udp", "bytes_out", "76", "src_zone", "eth1",
                      "dst_zone", "eth0", "action", "accept"));
}

Test(iptables, each_prefix_word)
{
    static const struct {
        const char *prefix, *action;
    } cases[] = {
        {"reject-in: ", "reject"},
        {"DENY: ", "deny"},
        {"[UFW BLOCK] ", "block"},
        {"Drop ", "drop"},
        {"audit: ", "log"},
        {"", "log"},
        {"kernel: ", "log"},
        {"accept+log ", "accept"},
        /* the first verdict word in the prefix wins */
        {"DROP_AFTER_ACCEPT ", "drop"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "%sIN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 PROTO=TCP SPT=1 DPT=2",
                 cases[i].prefix);
        expect_rec(&norm_iptables, line,
                   FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "src_port", "1", "dst_port",
                          "2", "proto", "tcp", "bytes_out", "40", "src_zone", "eth0", "action",
                          cases[i].action));
    }
}

Test(iptables, edgeos_label)
{
    /* Ubiquiti EdgeOS: "[RULESET-RULE-A|D|R]" right before IN=. */
    expect_rec(&norm_iptables,
               "[WAN_LOCAL-10-D]IN=eth0 OUT= MAC=00:16:3e:00:00:01:00:16:3e:00:00:02:08:00 "
               "SRC=198.51.100.20 DST=192.0.2.1 LEN=44 TOS=0x00 PREC=0x00 TTL=240 ID=1 "
               "PROTO=TCP SPT=40001 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0",
               FIELDS("src_ip", "198.51.100.20", "dst_ip", "192.0.2.1", "src_port", "40001",
                      "dst_port", "23", "proto", "tcp", "bytes_out", "44", "src_zone", "eth0",
                      "action", "drop", "policy", "10"));
    expect_rec(&norm_iptables,
               "[LAN_IN-default-A]IN=eth1.20 OUT=eth0 SRC=10.1.1.1 DST=192.0.2.9 LEN=52 "
               "PROTO=UDP SPT=5000 DPT=5001 LEN=32",
               FIELDS("src_ip", "10.1.1.1", "dst_ip", "192.0.2.9", "src_port", "5000", "dst_port",
                      "5001", "proto", "udp", "bytes_out", "52", "src_zone", "eth1.20", "dst_zone",
                      "eth0", "action", "accept"));
    expect_rec(&norm_iptables,
               "[GUEST-300-R] IN=eth2 OUT=eth0 SRC=10.2.0.9 DST=192.0.2.9 LEN=40 PROTO=TCP "
               "SPT=1 DPT=25",
               FIELDS("src_ip", "10.2.0.9", "dst_ip", "192.0.2.9", "src_port", "1", "dst_port",
                      "25", "proto", "tcp", "bytes_out", "40", "src_zone", "eth2", "dst_zone",
                      "eth0", "action", "reject", "policy", "300"));
}

Test(iptables, icmp_error_quotes_a_packet)
{
    /* The bracketed packet is the one that caused the error, not this one. */
    expect_rec(&norm_iptables,
               "DENY: IN=eth0 OUT= SRC=192.0.2.70 DST=192.0.2.80 LEN=88 TOS=0x00 PREC=0x00 "
               "TTL=118 ID=21 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.0.2.80 DST=198.51.100.9 LEN=60 "
               "TOS=0x00 PREC=0x00 TTL=54 ID=0 DF PROTO=UDP SPT=21458 DPT=62936 LEN=40 ] MTU=1500",
               FIELDS("src_ip", "192.0.2.70", "dst_ip", "192.0.2.80", "proto", "icmp", "bytes_out",
                      "88", "src_zone", "eth0", "action", "deny"));
}

Test(iptables, ipv6)
{
    expect_rec(&norm_iptables,
               "kernel: [16571.459614] ip6-in ACCEPT IN= OUT=lo SRC=2001:db8::1 DST=2001:db8::2 "
               "LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=868225 PROTO=ICMPv6 TYPE=128 CODE=0 ID=3427 "
               "SEQ=1",
               FIELDS("src_ip", "2001:db8::1", "dst_ip", "2001:db8::2", "proto", "icmpv6",
                      "bytes_out", "104", "dst_zone", "lo", "action", "accept"));
    expect_rec(&norm_iptables,
               "IN=eth0 OUT= MAC=00:16:3e:00:00:01:00:16:3e:00:00:02:86:dd SRC=2001:db8:1::5 "
               "DST=2001:db8:2::9 LEN=80 TC=0 HOPLIMIT=57 FLOWLBL=0 PROTO=TCP SPT=443 DPT=50000 "
               "WINDOW=510 RES=0x00 ACK FIN URGP=0",
               FIELDS("src_ip", "2001:db8:1::5", "dst_ip", "2001:db8:2::9", "src_port", "443",
                      "dst_port", "50000", "proto", "tcp", "bytes_out", "80", "src_zone", "eth0",
                      "action", "log"));
}

Test(iptables, protocol_numbers)
{
    expect_rec(&norm_iptables, "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=100 PROTO=47",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "proto", "gre", "bytes_out",
                      "100", "src_zone", "eth0", "action", "log"));
    expect_rec(&norm_iptables, "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=100 PROTO=253",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "proto", "253", "bytes_out",
                      "100", "src_zone", "eth0", "action", "log"));
}

Test(iptables, absent_optional_fields)
{
    /* No MAC, no ports, no LEN, no PROTO: only what is there. */
    expect_rec(
        &norm_iptables, "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2",
        FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "src_zone", "eth0", "action", "log"));
}

Test(iptables, non_ip_is_skipped)
{
    expect_rc(&norm_iptables,
              "IN=br0 OUT= MAC=ff:ff:ff:ff:ff:ff:00:16:3e:00:00:01:08:06 ARP HTYPE=1 "
              "PTYPE=0x0800 OPCODE=1",
              NORM_SKIP);
    expect_rc(&norm_iptables,
              "kernel: LLDP-DROP IN=eth0 OUT= MAC=01:80:c2:00:00:0e:00:16:3e:00:00:01:88:cc",
              NORM_SKIP);
}

Test(iptables, other_formats_do_not_match)
{
    const char *lines[] = {L_PFSENSE,
                           L_CEF,
                           L_APACHE,
                           L_ASA,
                           L_FORTIGATE,
                           "kernel: usb 1-1: new high-speed USB device number 2",
                           "LOGIN=root OUT=x",
                           "xIN=eth0 OUT= SRC=192.0.2.1",
                           ""};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_rc(&norm_iptables, lines[i], NORM_NOMATCH);
}

Test(iptables, garbled)
{
    expect_bad(&norm_iptables, "IN=eth0 OUT= SRC=300.1.2.3 DST=192.0.2.2 LEN=40",
               "src_ip: not an IP address");
    expect_bad(&norm_iptables, "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 SPT=99999 DPT=1",
               "src_port");
    expect_bad(&norm_iptables, "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=4x0", "bytes_out");
    expect_bad(&norm_iptables, "IN=eth0 OUT= MAC=00:16:3e:00:00:01 SRC=192.0.2.1",
               "SRC= without DST=");
}

/* ================================================================ pfSense */

TestSuite(pfsense, .init = setup_utc, .fini = teardown);

Test(pfsense, typical_ipv4_tcp_block)
{
    expect_rec(&norm_pfsense,
               "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.23,"
               "192.0.2.1,44321,22,0,S,3366355202,,64240,,mss;sackOK;TS;nop;wscale",
               FIELDS("src_ip", "198.51.100.23", "dst_ip", "192.0.2.1", "src_port", "44321",
                      "dst_port", "22", "proto", "tcp", "bytes_out", "60", "policy", "5",
                      "src_zone", "igb1", "action", "block"));
}

Test(pfsense, udp_pass_out_with_tag)
{
    /* Direction out: the interface is where the packet left, dst_zone. */
    expect_rec(&norm_pfsense,
               "filterlog[4321]: 80,,,1770001234,em0,match,pass,out,4,0x0,,63,12345,0,none,17,"
               "udp,72,192.0.2.1,203.0.113.53,5353,53,52",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "203.0.113.53", "src_port", "5353",
                      "dst_port", "53", "proto", "udp", "bytes_out", "72", "policy", "80",
                      "dst_zone", "em0", "action", "pass"));
    expect_rec(&norm_pfsense,
               "filterlog: 81,,,1770001235,em0.10,match,synproxy-drop,in,4,0x0,,63,1,0,DF,6,tcp,"
               "40,198.51.100.3,192.0.2.9,1111,80,0,S,1,,1024,,",
               FIELDS("src_ip", "198.51.100.3", "dst_ip", "192.0.2.9", "src_port", "1111",
                      "dst_port", "80", "proto", "tcp", "bytes_out", "40", "policy", "81",
                      "src_zone", "em0.10", "action", "synproxy-drop"));
}

Test(pfsense, portless_protocols)
{
    expect_rec(&norm_pfsense,
               "12,,,1000000200,vtnet1,match,pass,in,4,0x0,,64,62096,0,DF,1,icmp,84,10.100.10.30,"
               "10.100.10.1,request,37728,164",
               FIELDS("src_ip", "10.100.10.30", "dst_ip", "10.100.10.1", "proto", "icmp",
                      "bytes_out", "84", "policy", "12", "src_zone", "vtnet1", "action", "pass"));
    expect_rec(&norm_pfsense,
               "13,,,1000000201,vtnet1,match,pass,in,4,0xc0,,1,0,0,DF,2,igmp,32,10.100.10.17,"
               "224.0.0.22,datalength=8",
               FIELDS("src_ip", "10.100.10.17", "dst_ip", "224.0.0.22", "proto", "igmp",
                      "bytes_out", "32", "policy", "13", "src_zone", "vtnet1", "action", "pass"));
    expect_rec(&norm_pfsense,
               "14,,,1000000202,igb0,match,block,in,4,0x10,,255,7,0,none,112,carp,56,10.0.0.2,"
               "224.0.0.18,advertise,255,3,2,0,1",
               FIELDS("src_ip", "10.0.0.2", "dst_ip", "224.0.0.18", "proto", "112", "bytes_out",
                      "56", "policy", "14", "src_zone", "igb0", "action", "block"));
}

Test(pfsense, ipv6)
{
    /* IPv6: class, flow label, hop limit, protocol TEXT, protocol ID. */
    expect_rec(&norm_pfsense,
               "9,,,1000000105,igb0,match,block,in,6,0x00,0x00000,255,udp,17,40,fe80::1:2,"
               "ff02::fb,5353,5353,40",
               FIELDS("src_ip", "fe80::1:2", "dst_ip", "ff02::fb", "src_port", "5353", "dst_port",
                      "5353", "proto", "udp", "bytes_out", "40", "policy", "9", "src_zone", "igb0",
                      "action", "block"));
    expect_rec(&norm_pfsense,
               "10,,,1000000106,igb0,match,pass,out,6,0x00,0x12345,57,tcp,6,80,2001:db8::10,"
               "2001:db8::20,443,50123,40,SA,1,2,510,,",
               FIELDS("src_ip", "2001:db8::10", "dst_ip", "2001:db8::20", "src_port", "443",
                      "dst_port", "50123", "proto", "tcp", "bytes_out", "80", "policy", "10",
                      "dst_zone", "igb0", "action", "pass"));
    expect_rec(&norm_pfsense,
               "11,,,1000000107,igb0,match,pass,in,6,0x00,0x00000,255,ipv6-icmp,58,32,fe80::1,"
               "ff02::1,",
               FIELDS("src_ip", "fe80::1", "dst_ip", "ff02::1", "proto", "icmpv6", "bytes_out",
                      "32", "policy", "11", "src_zone", "igb0", "action", "pass"));
}

Test(pfsense, translation_actions_are_skipped)
{
    expect_rc(&norm_pfsense,
              "20,,,1000000300,em0,match,rdr,in,4,0x0,,64,1,0,DF,6,tcp,60,198.51.100.1,"
              "192.0.2.1,1,80,0,S",
              NORM_SKIP);
    expect_rc(&norm_pfsense,
              "21,,,1000000301,em0,match,nat,out,4,0x0,,64,1,0,DF,17,udp,60,10.0.0.1,"
              "192.0.2.1,1,53,0",
              NORM_SKIP);
}

Test(pfsense, other_formats_do_not_match)
{
    const char *lines[] = {L_IPTABLES,  L_CEF,
                           L_APACHE,    L_ASA,
                           L_FORTIGATE, "dhcpd: DHCPACK on 10.0.0.5 to 00:16:3e:00:00:01 via igb1",
                           "1,2,3",     "a,,,b,igb1,match,block,in,4",
                           ""};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_rc(&norm_pfsense, lines[i], NORM_NOMATCH);
}

Test(pfsense, garbled)
{
    expect_bad(&norm_pfsense,
               "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.23",
               "IPv4: 19 fields");
    expect_bad(&norm_pfsense, "5,,,1000000103,igb1,match,block,in,6,0x00,0x0,64,udp,17",
               "IPv6: 14 fields");
    expect_bad(&norm_pfsense,
               "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.999,"
               "192.0.2.1,1,2,0",
               "src_ip: not an IP address");
    expect_bad(&norm_pfsense,
               "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.9,"
               "192.0.2.1",
               "no ports");
    expect_bad(&norm_pfsense,
               "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.9,"
               "192.0.2.1,70000,22,0",
               "src_port");
    expect_bad(&norm_pfsense,
               "5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,tcp,tcp,60,198.51.100.9,"
               "192.0.2.1,1,22,0",
               "protocol id");
    expect_bad(&norm_pfsense,
               "99999999999,,,1,igb1,match,block,in,4,0x0,,64,0,0,DF,1,icmp,60,198.51.100.9,"
               "192.0.2.1",
               "policy");
    expect_bad(&norm_pfsense, "5,,,1,igb1,match,,in,4,0x0,,64,0,0,DF,1,icmp,60,192.0.2.3,192.0.2.1",
               "no action");
}

/* ================================================================ CEF */

TestSuite(cef, .init = setup_utc, .fini = teardown);

Test(cef, typical)
{
    /* in = bytes from source to destination = bytes_out; out = bytes_in. */
    expect_rec(&norm_cef,
               "CEF:0|Acme|FW|1.0|100|Traffic allowed|3|src=10.0.0.1 spt=51000 dst=192.0.2.80 "
               "dpt=443 proto=TCP act=Allow suser=alice in=1200 out=53000 rt=1772366400123 "
               "deviceInboundInterface=inside deviceOutboundInterface=outside "
               "dvchost=fw01.example.com cs1Label=Rule cs1=17",
               FIELDS("src_ip", "10.0.0.1", "dst_ip", "192.0.2.80", "src_port", "51000", "dst_port",
                      "443", "proto", "tcp", "action", "allow", "user", "alice", "bytes_out",
                      "1200", "bytes_in", "53000", "ts", "2026-03-01T12:00:00.123000Z", "src_zone",
                      "inside", "dst_zone", "outside", "device", "fw01.example.com"));
}

Test(cef, escapes_and_spaces)
{
    /* Header "\|" and "\\"; extension "\=", "\\", "\n"; values with spaces
     * run to the next " key="; "a\=b" is not a key. */
    expect_rec(&norm_cef,
               "CEF:0|Ven\\|dor|Pro\\\\duct|2.1|7|Name with \\| pipe|5|msg=a\\=b c\\\\d\\nnext "
               "line src=10.1.1.1 dst=10.2.2.2 act=Deny suser=CORP\\\\bob "
               "dvchost=fw 2 rack\\=3",
               FIELDS("src_ip", "10.1.1.1", "dst_ip", "10.2.2.2", "action", "deny", "user",
                      "CORP\\bob", "device", "fw 2 rack=3"));
    expect_rec(&norm_cef,
               "CEF:1|V|P|1|1|n|1|src=192.0.2.1 deviceHostName=edge\\nfw  dst=192.0.2.2     ",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "device", "edge\nfw"));
}

Test(cef, full_key_names)
{
    expect_rec(&norm_cef,
               "CEF:0|V|P|1|1|n|1|sourceAddress=192.0.2.1 destinationAddress=192.0.2.2 "
               "sourcePort=1024 destinationPort=25 transportProtocol=UDP deviceAction=Drop "
               "sourceUserName=dave bytesIn=10 bytesOut=20 deviceReceiptTime=Mar 01 2026 12:00:00",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "src_port", "1024", "dst_port",
                      "25", "proto", "udp", "action", "drop", "user", "dave", "bytes_out", "10",
                      "bytes_in", "20", "ts", "2026-03-01T12:00:00Z"));
}

Test(cef, ipv6_and_protocol_number)
{
    expect_rec(&norm_cef, "CEF:0|V|P|1|1|n|1|src=2001:db8::1 dst=2001:db8::2 proto=58 act=Refuse",
               FIELDS("src_ip", "2001:db8::1", "dst_ip", "2001:db8::2", "proto", "icmpv6", "action",
                      "refuse"));
}

Test(cef, users)
{
    expect_rec(&norm_cef, "CEF:0|V|P|1|1|n|1|src=192.0.2.1 dst=192.0.2.2 duser=carol",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "user", "carol"));
    expect_rec(&norm_cef, "CEF:0|V|P|1|1|n|1|duser=carol src=192.0.2.1 dst=192.0.2.2 suser=bob",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "user", "bob"));
}

Test(cef, absent_optional_fields)
{
    /* Empty values count as absent; a host name before "CEF:" is allowed. */
    expect_rec(&norm_cef, "fw01 CEF:0|V|P|1|1|n|1|src=192.0.2.1 act= dst=192.0.2.2 suser=",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2"));
}

Test(cef, rt_forms)
{
    static const struct {
        const char *rt, *ts;
    } cases[] = {
        {"rt=1772366400", "2026-03-01T12:00:00Z"}, /* < 12 digits: seconds */
        {"rt=1772366400500", "2026-03-01T12:00:00.500000Z"},
        {"rt=Mar 01 2026 12:00:00 UTC", "2026-03-01T12:00:00Z"},
        {"rt=Mar 1 2026 12:00:00.250 +01:00", "2026-03-01T11:00:00.250000Z"},
        {"rt=Mar 01 2026 12:00:00 -0530", "2026-03-01T17:30:00Z"},
        {"rt=2026-03-01T13:00:00+01:00", "2026-03-01T12:00:00Z"},
        {"rt=2026-03-01 12:00:00.5", "2026-03-01T12:00:00.500000Z"},
        /* year-less: this year, or last year when more than a day ahead */
        {"rt=Feb 28 23:00:00", "2026-02-28T23:00:00Z"},
        {"rt=Mar 02 11:00:00", "2026-03-02T11:00:00Z"},
        {"rt=Dec 31 23:00:00", "2025-12-31T23:00:00Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "CEF:0|V|P|1|1|n|1|src=192.0.2.1 %s dst=192.0.2.2",
                 cases[i].rt);
        expect_rec(&norm_cef, line,
                   FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "ts", cases[i].ts));
    }
}

Test(cef, zoneless_rt_is_local_time)
{
    teardown();
    setup_zone("America/New_York"); /* 2026-03-01: EST, UTC-5 */
    expect_rec(&norm_cef, "CEF:0|V|P|1|1|n|1|rt=Mar 01 2026 07:00:00 src=192.0.2.1 dst=192.0.2.2",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "ts", "2026-03-01T12:00:00Z"));
    /* dtz=UTC overrides the store's zone; an explicit zone wins over both */
    expect_rec(&norm_cef,
               "CEF:0|V|P|1|1|n|1|rt=Mar 01 2026 12:00:00 dtz=UTC src=192.0.2.1 dst=192.0.2.2",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "ts", "2026-03-01T12:00:00Z"));
    expect_rec(&norm_cef, "CEF:0|V|P|1|1|n|1|rt=Jul 01 2026 08:00:00 src=192.0.2.1 dst=192.0.2.2",
               FIELDS("src_ip", "192.0.2.1", "dst_ip", "192.0.2.2", "ts", "2026-07-01T12:00:00Z"));
}

Test(cef, events_without_both_addresses_are_skipped)
{
    expect_rc(&norm_cef, "CEF:0|V|P|1|1|login|1|suser=bob src=192.0.2.1", NORM_SKIP);
    expect_rc(&norm_cef, "CEF:0|V|P|1|1|n|1|dst=192.0.2.1 in=5", NORM_SKIP);
    expect_rc(&norm_cef, "CEF:0|V|P|1|18|Authentication|low|spriv=user dpriv=root", NORM_SKIP);
    expect_rc(&norm_cef, "CEF:0|V|P|1|1|n|1|", NORM_SKIP);
    expect_rc(&norm_cef, "CEF:0|V|P|1|1|n|1|src= dst=192.0.2.1", NORM_SKIP);
}

Test(cef, other_formats_do_not_match)
{
    const char *lines[] = {L_IPTABLES,
                           L_PFSENSE,
                           L_APACHE,
                           L_ASA,
                           L_FORTIGATE,
                           "CEF is a log format",
                           "xCEF:0|V|P|1|1|n|1|src=192.0.2.1",
                           ""};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_rc(&norm_cef, lines[i], NORM_NOMATCH);
}

Test(cef, garbled)
{
    expect_bad(&norm_cef, "CEF:0|Acme|FW|1.0|100|Name", "5 of 7");
    expect_bad(&norm_cef, "CEF:0|Acme|FW|1.0|100|Name\\|3|src=192.0.2.1", "6 of 7");
    expect_bad(&norm_cef, "CEF:0a|V|P|1|1|n|1|src=192.0.2.1 dst=192.0.2.2", "version");
    expect_bad(&norm_cef, "CEF:0|V|P|1|1|n|1|just words src=192.0.2.1", "expected key=value");
    expect_bad(&norm_cef, "CEF:0|V|P|1|1|n|1|src=10.0.0.300 dst=192.0.2.2",
               "src_ip: not an IP address");
    expect_bad(&norm_cef, "CEF:0|V|P|1|1|n|1|src=192.0.2.1 dst=192.0.2.2 spt=70000", "src_port");
    expect_bad(&norm_cef, "CEF:0|V|P|1|1|n|1|src=192.0.2.1 dst=192.0.2.2 in=12k", "bytes_out");
    expect_bad(&norm_cef, "CEF:0|V|P|1|1|n|1|src=192.0.2.1 dst=192.0.2.2 rt=yesterday",
               "rt: not a valid time");
    expect_bad(&norm_cef, "CEF:0|V|P|1|1|n|1|src=192.0.2.1 dst=192.0.2.2 rt=Feb 30 2026 10:00:00",
               "not a valid time");
    expect_bad(&norm_cef,
               "CEF:0|V|P|1|1|n|1|src=192.0.2.1 dst=192.0.2.2 rt=Mar 01 2026 12:00:00 CET",
               "unknown time zone 'CET'");
}

/* ================================================================ Apache */

TestSuite(apache, .init = setup_utc, .fini = teardown);

Test(apache, typical_combined)
{
    expect_rec(&norm_apache,
               "192.0.2.10 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" "
               "200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I "
               ";Nav)\"",
               FIELDS("client_ip", "192.0.2.10", "user", "frank", "ts", "2000-10-10T20:55:36Z",
                      "method", "GET", "url", "/apache_pb.gif", "status", "200", "bytes", "2326",
                      "referrer", "http://www.example.com/start.html", "user_agent",
                      "Mozilla/4.08 [en] (Win98; I ;Nav)"));
}

Test(apache, common_log_format)
{
    expect_rec(&norm_apache,
               "198.51.100.7 - - [01/Mar/2026:12:00:00 +0000] \"POST /login?next=%2F HTTP/1.1\" "
               "302 -",
               FIELDS("client_ip", "198.51.100.7", "ts", "2026-03-01T12:00:00Z", "method", "POST",
                      "url", "/login?next=%2F", "status", "302"));
}

Test(apache, ipv6_client_and_one_digit_day)
{
    expect_rec(&norm_apache,
               "2001:db8::5 - - [1/Mar/2026:13:30:00 +0130] \"HEAD / HTTP/1.1\" 304 0 \"-\" "
               "\"curl/8.5.0\"",
               FIELDS("client_ip", "2001:db8::5", "ts", "2026-03-01T12:00:00Z", "method", "HEAD",
                      "url", "/", "status", "304", "bytes", "0", "user_agent", "curl/8.5.0"));
}

Test(apache, odd_request_lines)
{
    /* Not a request line: url keeps the raw text, no method. */
    expect_rec(&norm_apache,
               "203.0.113.9 - - [01/Mar/2026:12:00:00 +0000] \"\\x16\\x03\\x01\\x00\\xa5\\x01\" "
               "400 226 \"-\" \"-\"",
               FIELDS("client_ip", "203.0.113.9", "ts", "2026-03-01T12:00:00Z", "url",
                      "\\x16\\x03\\x01\\x00\\xa5\\x01", "status", "400", "bytes", "226"));
    /* No request at all (a timeout). */
    expect_rec(&norm_apache, "203.0.113.9 - - [01/Mar/2026:12:00:00 +0000] \"-\" 408 -",
               FIELDS("client_ip", "203.0.113.9", "ts", "2026-03-01T12:00:00Z", "status", "408"));
    /* HTTP/0.9: no protocol; WebDAV method with a dash; a target with a space. */
    expect_rec(&norm_apache,
               "203.0.113.9 - - [01/Mar/2026:12:00:00 +0000] \"GET /index.html\" 200 100",
               FIELDS("client_ip", "203.0.113.9", "ts", "2026-03-01T12:00:00Z", "method", "GET",
                      "url", "/index.html", "status", "200", "bytes", "100"));
    expect_rec(&norm_apache,
               "203.0.113.9 - - [01/Mar/2026:12:00:00 +0000] \"VERSION-CONTROL /a b HTTP/1.1\" "
               "405 12",
               FIELDS("client_ip", "203.0.113.9", "ts", "2026-03-01T12:00:00Z", "method",
                      "VERSION-CONTROL", "url", "/a b", "status", "405", "bytes", "12"));
}

Test(apache, quoting)
{
    /* \" inside a field does not end it (kept as logged); an unterminated
     * last field runs to the end of the line. */
    expect_rec(&norm_apache,
               "192.0.2.4 - - [01/Mar/2026:12:00:00 +0000] \"GET /q?a=\\\"x\\\" HTTP/1.1\" 200 1 "
               "\"-\" \"Mozilla \\\"quoted\\\" agent\"",
               FIELDS("client_ip", "192.0.2.4", "ts", "2026-03-01T12:00:00Z", "method", "GET",
                      "url", "/q?a=\\\"x\\\"", "status", "200", "bytes", "1", "user_agent",
                      "Mozilla \\\"quoted\\\" agent"));
    expect_rec(&norm_apache,
               "192.0.2.4 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" "
               "\"Mozilla/5.0 (compatible; bot",
               FIELDS("client_ip", "192.0.2.4", "ts", "2026-03-01T12:00:00Z", "method", "GET",
                      "url", "/", "status", "200", "bytes", "1", "user_agent",
                      "Mozilla/5.0 (compatible; bot"));
}

Test(apache, ignores_what_follows_the_agent)
{
    /* combinedio's %I %O, or an nginx $request_time: not read by apache. */
    expect_rec(&norm_apache,
               "192.0.2.4 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\" "
               "\"-\" 0.123",
               FIELDS("client_ip", "192.0.2.4", "ts", "2026-03-01T12:00:00Z", "method", "GET",
                      "url", "/", "status", "200", "bytes", "1", "user_agent", "ua"));
}

Test(apache, internal_dummy_connection_is_skipped)
{
    expect_rc(&norm_apache,
              "::1 - - [01/Mar/2026:12:00:00 +0000] \"OPTIONS * HTTP/1.0\" 200 - \"-\" "
              "\"Apache/2.4.57 (Debian) (internal dummy connection)\"",
              NORM_SKIP);
}

Test(apache, other_formats_do_not_match)
{
    const char *lines[] = {
        L_IPTABLES,
        L_PFSENSE,
        L_CEF,
        L_ASA,
        L_FORTIGATE,
        "[Sun Mar 01 12:00:00.123456 2026] [core:error] [pid 7] [client 192.0.2.1:5] AH00126",
        "hello world",
        "a b c [x",
        ""};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_rc(&norm_apache, lines[i], NORM_NOMATCH);
}

Test(apache, garbled)
{
    expect_bad(&norm_apache,
               "crawler.example.com - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
               "client_ip: not an IP address");
    expect_bad(&norm_apache, "192.0.2.1 - - [01/Foo/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
               "time: not [dd/Mon/yyyy:HH:MM:SS +zzzz]");
    expect_bad(&norm_apache, "192.0.2.1 - - [01/Mar/2026:12:00:00] \"GET / HTTP/1.1\" 200 1",
               "time: not [dd/Mon/yyyy:HH:MM:SS +zzzz]");
    expect_bad(&norm_apache, "192.0.2.1 - - [30/Feb/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
               "time: not a valid time");
    expect_bad(&norm_apache, "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000", "no closing ']'");
    expect_bad(&norm_apache, "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] GET / HTTP/1.1 200 1",
               "request: no quoted request line");
    expect_bad(&norm_apache, "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1 200 1",
               "request: no quoted request line");
    expect_bad(&norm_apache, "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 2000 1",
               "status: not a 3-digit code");
    expect_bad(&norm_apache, "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1k",
               "bytes: not a number");
    expect_bad(&norm_apache,
               "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 1 http://r/",
               "referrer: not quoted");
}

/* ================================================================ nginx */

TestSuite(nginx, .init = setup_utc, .fini = teardown);

static const char *const NGINX_HEAD =
    "198.51.100.2 - bob [01/Mar/2026:14:00:00 +0200] \"GET /api/v1/items?id=3 HTTP/2.0\" 200 "
    "512 \"https://example.com/\" \"Mozilla/5.0\"";

static void expect_nginx(const char *tail, const char *duration_ms)
{
    char line[512];
    snprintf(line, sizeof line, "%s%s", NGINX_HEAD, tail);
    const char *base[] = {"client_ip",  "198.51.100.2",
                          "user",       "bob",
                          "ts",         "2026-03-01T12:00:00Z",
                          "method",     "GET",
                          "url",        "/api/v1/items?id=3",
                          "status",     "200",
                          "bytes",      "512",
                          "referrer",   "https://example.com/",
                          "user_agent", "Mozilla/5.0",
                          NULL,         NULL,
                          NULL};
    if (duration_ms) {
        base[18] = "duration_ms";
        base[19] = duration_ms;
    }
    expect_rec(&norm_nginx, line, base);
}

Test(nginx, default_combined)
{
    expect_nginx("", NULL);
}

Test(nginx, forwarded_for_and_request_time)
{
    expect_nginx(" \"203.0.113.1, 10.0.0.1\"", NULL); /* client_ip stays the peer */
    expect_nginx(" \"-\" 0.123", "123");
    expect_nginx(" \"203.0.113.1\" 1.2345", "1235"); /* rounded */
    expect_nginx(" 0.000", "0");
    expect_nginx(" rt=2.5 uct=\"0.001\"", "2500");
    expect_nginx(" 0.050 0.048 .", "50");     /* $request_time $upstream_response_time $pipe */
    expect_nginx(" 512 \"-\" 3.000", "3000"); /* a bare integer is not the time */
}

Test(nginx, common_format_and_absent_fields)
{
    expect_rec(&norm_nginx, "192.0.2.8 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 499 0",
               FIELDS("client_ip", "192.0.2.8", "ts", "2026-03-01T12:00:00Z", "method", "GET",
                      "url", "/", "status", "499", "bytes", "0"));
}

Test(nginx, same_skip_and_nomatch_as_apache)
{
    expect_rc(&norm_nginx,
              "::1 - - [01/Mar/2026:12:00:00 +0000] \"OPTIONS * HTTP/1.0\" 200 - \"-\" "
              "\"Apache/2.4.57 (Debian) (internal dummy connection)\"",
              NORM_SKIP);
    const char *lines[] = {L_IPTABLES, L_PFSENSE, L_CEF, L_ASA, L_FORTIGATE, ""};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        expect_rc(&norm_nginx, lines[i], NORM_NOMATCH);
}

Test(nginx, garbled)
{
    char line[512];
    snprintf(line, sizeof line, "%s \"-\" 9999999.999", NGINX_HEAD);
    expect_bad(&norm_nginx, line, "request time out of range");
    expect_bad(&norm_nginx, "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 20 1",
               "status");
}

/* ================================================================ auto-detection */

TestSuite(autodetect, .init = setup_utc, .fini = teardown);

/* The first format in norm_formats (the auto-detection order) that claims msg. */
static const norm_format_t *detect(const char *msg, size_t len)
{
    for (size_t i = 0; norm_formats[i]; i++)
        if (norm_formats[i]->parse(msg, len, &env, &rec) != NORM_NOMATCH)
            return norm_formats[i];
    return NULL;
}

Test(autodetect, each_line_goes_to_its_format)
{
    static const struct {
        const char *line;
        const norm_format_t *want;
    } cases[] = {
        {"kernel: [ 12.5] iptables DROP: IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 "
         "PROTO=TCP SPT=1 DPT=2",
         &norm_iptables},
        {"[WAN_LOCAL-10-D]IN=eth0 OUT= SRC=198.51.100.20 DST=192.0.2.1 LEN=44 PROTO=TCP",
         &norm_iptables},
        {"5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,192.0.2.1,192.0.2.2,1,2,0,S",
         &norm_pfsense},
        {"9,,,1000000105,igb0,match,block,in,6,0x00,0x00000,255,udp,17,40,fe80::1:2,ff02::fb,5353,"
         "5353,40",
         &norm_pfsense},
        {"CEF:0|Acme|FW|1.0|1|allow|3|src=192.0.2.1 dst=192.0.2.2 act=Allow", &norm_cef},
        {"192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"",
         &norm_apache},
        /* nginx's lines are Apache's: auto reports them as apache */
        {"192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\" "
         "\"-\" 0.123",
         &norm_apache},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const norm_format_t *got = detect(cases[i].line, strlen(cases[i].line));
        cr_expect_eq(got, cases[i].want, "%s: detected as %s, want %s", cases[i].line,
                     got ? got->name : "nothing", cases[i].want->name);
    }
}

/* ================================================================ robustness */

TestSuite(robust, .init = setup_utc, .fini = teardown);

/* Every prefix and seeded single-byte mutations of tricky lines, each copied
 * into a buffer of exactly its length (no NUL: ASan catches any read past
 * len), through all five formats: the result is one of the four codes, a
 * NORM_BAD says why, and a record's values point into the message or
 * rec.buf (or are static words such as "drop") and are not empty. */
static void fuzz_one(const char *src, size_t len)
{
    static const norm_format_t *const fmts[] = {&norm_iptables, &norm_pfsense, &norm_cef,
                                                &norm_apache, &norm_nginx};
    char *m = malloc(len ? len : 1);
    memcpy(m, src, len);
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        int rc = fmts[f]->parse(m, len, &env, &rec);
        cr_assert(rc >= NORM_NOMATCH && rc <= NORM_BAD, "%s: rc %d", fmts[f]->name, rc);
        if (rc == NORM_BAD)
            cr_assert(rec.why[0] != 0, "%s: NORM_BAD without a reason: %.*s", fmts[f]->name,
                      (int)len, src);
        if (rc != NORM_RECORD)
            continue;
        for (unsigned i = 0; i < rec.n; i++) {
            const char *v = rec.val[i];
            bool in_msg = v >= m && v + rec.len[i] <= m + len;
            bool in_buf = v >= rec.buf && v + rec.len[i] <= rec.buf + rec.used;
            bool is_static = !in_msg && !in_buf && strlen(v) == rec.len[i]; /* "drop" */
            cr_assert(rec.len[i] > 0 && (in_msg || in_buf || is_static),
                      "%s: field %s out of place", fmts[f]->name, rec.name[i]);
        }
    }
    free(m);
}

Test(robust, prefixes_and_mutations)
{
    static const char *const lines[] = {
        "kernel: [ 1.5] x DROP: IN=eth0 OUT=eth1 MAC=00:01 SRC=192.0.2.1 DST=2001:db8::1 LEN=60 "
        "PROTO=ICMP TYPE=3 [SRC=192.0.2.1 DST=192.0.2.2 SPT=1 DPT=2 ] SPT=5 DPT=6",
        "[WAN-10-D]IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 PROTO=TCP SPT=1 DPT=2",
        "filterlog[1]: 5,,,1,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,192.0.2.1,192.0.2.2,"
        "1,2,0,S,1,,64240,,mss",
        "9,,,1,igb0,match,pass,out,6,0x00,0x0,255,udp,17,40,fe80::1,ff02::fb,5353,53,40",
        "h CEF:0|V\\|x|P\\\\|1|1|n|1|src=192.0.2.1 dst=192.0.2.2 spt=1 dpt=2 msg=a\\=b c\\\\ "
        "rt=Mar 1 2026 12:00:00.250 +01:00 act=Allow in=1 out=2 suser=a\\nb dvchost=x y",
        "CEF:0|V|P|1|1|n|1|rt=2026-03-01T12:00:00.5+01:00 src=192.0.2.1 dst=192.0.2.2 dtz=UTC",
        "CEF:0|V|P|1|1|n|1|rt=Feb 28 23:00:00 src=192.0.2.1 dst=192.0.2.2",
        "2001:db8::5 - u [1/Mar/2026:13:30:00 +0130] \"GET /a\\\"b HTTP/1.1\" 200 12 \"r\" "
        "\"ua\" \"x\" rt=0.123 1.5",
        "192.0.2.1 - - [01/Mar/2026:12:00:00 +0000] \"\\x16\\x03\" 400 - \"-\" \"-\" 0.5",
    };
    static const char subst[] = " \"\\|=,[]:.-0912aZ\t";
    uint32_t seed = 12345;
    for (size_t l = 0; l < sizeof lines / sizeof lines[0]; l++) {
        size_t n = strlen(lines[l]);
        for (size_t k = 0; k <= n; k++)
            fuzz_one(lines[l], k);
        char buf[512];
        for (int round = 0; round < 2000; round++) {
            memcpy(buf, lines[l], n);
            for (int j = 0; j < 3; j++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % n;
                seed = seed * 1103515245u + 12345u;
                buf[at] = subst[(seed >> 8) % (sizeof subst - 1)];
            }
            fuzz_one(buf, n);
        }
    }
}

/* ================================================================ real samples */

/* The samples live outside the project (../shared/data/real); skip when absent. */
#define REAL_DIR COLOG_SOURCE_DIR "/../shared/data/real"

typedef struct sample {
    char *data;
    size_t n;
    char **line;
    size_t *len;
} sample_t;

static bool load(const char *rel, sample_t *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", REAL_DIR, rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    s->data = malloc((size_t)size + 1);
    cr_assert_eq(fread(s->data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    s->data[size] = 0;
    size_t cap = 16;
    s->n = 0;
    s->line = malloc(cap * sizeof *s->line);
    s->len = malloc(cap * sizeof *s->len);
    for (char *p = s->data; p < s->data + size;) {
        char *nl = memchr(p, '\n', (size_t)(s->data + size - p));
        char *e = nl ? nl : s->data + size;
        if (s->n == cap) {
            cap *= 2;
            s->line = realloc(s->line, cap * sizeof *s->line);
            s->len = realloc(s->len, cap * sizeof *s->len);
        }
        s->line[s->n] = p;
        s->len[s->n] = (size_t)(e - p);
        s->n++;
        p = e + 1;
    }
    return true;
}

static void unload(sample_t *s)
{
    free(s->data);
    free(s->line);
    free(s->len);
}

/* Counts of each result for a whole file, through syslog_parse as the driver does. */
typedef struct counts {
    unsigned rc[4], blank;
} counts_t;

static int parse_line(const norm_format_t *f, const sample_t *s, size_t i)
{
    syslog_msg_t m;
    syslog_parse(s->line[i], s->len[i], &env, &m);
    return f->parse(m.msg, m.msglen, &env, &rec);
}

static counts_t run_file(const norm_format_t *f, const sample_t *s)
{
    counts_t c = {{0}, 0};
    for (size_t i = 0; i < s->n; i++) {
        if (s->len[i] == 0) {
            c.blank++;
            continue;
        }
        int rc = parse_line(f, s, i);
        cr_assert(rc >= 0 && rc <= 3);
        c.rc[rc]++;
        cr_expect_neq(rc, NORM_BAD, "%s line %zu: %s", f->name, i + 1, rec.why);
    }
    return c;
}

/* Re-parse line no (1-based) and check every field. */
static void spot(const norm_format_t *f, const sample_t *s, size_t no, const char *const *want)
{
    char what[64];
    snprintf(what, sizeof what, "%s line %zu", f->name, no);
    int rc = parse_line(f, s, no - 1);
    cr_assert_eq(rc, NORM_RECORD, "%s: rc %d (%s)", what, rc, rec.why);
    check_fields(what, want);
}

/* Every non-blank line of s is claimed by want in auto-detection order. */
static void detect_file(const sample_t *s, const norm_format_t *want)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->len[i] == 0)
            continue;
        syslog_msg_t m;
        syslog_parse(s->line[i], s->len[i], &env, &m);
        const norm_format_t *got = detect(m.msg, m.msglen);
        cr_expect_eq(got, want, "line %zu: detected as %s, want %s", i + 1,
                     got ? got->name : "nothing", want->name);
    }
}

static bool have_real(void)
{
    struct stat st;
    return stat(REAL_DIR, &st) == 0 && S_ISDIR(st.st_mode);
}

TestSuite(real, .init = setup_utc, .fini = teardown);

Test(real, iptables)
{
    if (!have_real())
        cr_skip_test("no %s", REAL_DIR);
    sample_t s;
    load("elastic-beats/iptables/iptables.log", &s);
    detect_file(&s, &norm_iptables);
    /* 12 lines, all packets with SRC/DST: 10 "iptables DROP_INPUT:" TCP lines
     * and 2 Ubiquiti "[SOMETHING-1234-A]" lines (UDP, ICMP). */
    counts_t c = run_file(&norm_iptables, &s);
    cr_expect_eq(s.n, 12);
    cr_expect_eq(c.rc[NORM_RECORD], 12);
    cr_expect_eq(c.rc[NORM_SKIP] + c.rc[NORM_BAD] + c.rc[NORM_NOMATCH] + c.blank, 0);
    spot(&norm_iptables, &s, 1,
         FIELDS("src_ip", "203.0.113.36", "dst_ip", "172.16.54.114", "src_port", "17805",
                "dst_port", "445", "proto", "tcp", "bytes_out", "52", "src_zone", "eth0", "action",
                "drop"));
    /* UDP: the first LEN (32), not the UDP header's LEN=12. */
    spot(&norm_iptables, &s, 11,
         FIELDS("src_ip", "10.251.1.1", "dst_ip", "10.251.1.1", "src_port", "9000", "dst_port",
                "9000", "proto", "udp", "bytes_out", "32", "src_zone", "abc.123", "dst_zone",
                "abc.123", "action", "accept", "policy", "1234"));
    spot(&norm_iptables, &s, 12,
         FIELDS("src_ip", "10.251.1.1", "dst_ip", "10.251.1.1", "proto", "icmp", "bytes_out", "84",
                "src_zone", "abc.123", "dst_zone", "abc.123", "action", "accept", "policy",
                "1234"));
    unload(&s);
}

Test(real, pfsense)
{
    if (!have_real())
        cr_skip_test("no %s", REAL_DIR);
    sample_t s;
    load("elastic-integrations/pfsense/test-pfsense-bsd.log", &s);
    detect_file(&s, &norm_pfsense);
    /* 19 filterlog lines (no final newline), all packets: 13 IPv4 TCP block,
     * 2 IPv4 UDP pass, 1 IPv6 UDP block, 1 IGMP pass, 2 ICMP pass. */
    counts_t c = run_file(&norm_pfsense, &s);
    cr_expect_eq(s.n, 19);
    cr_expect_eq(c.rc[NORM_RECORD], 19);
    unsigned tcp = 0, udp = 0, igmp = 0, icmp = 0, block = 0, pass = 0;
    for (size_t i = 0; i < s.n; i++) {
        cr_assert_eq(parse_line(&norm_pfsense, &s, i), NORM_RECORD);
        size_t n;
        const char *p = norm_get(&rec, "proto", &n), *a = norm_get(&rec, "action", NULL);
        tcp += strncmp(p, "tcp", n) == 0;
        udp += strncmp(p, "udp", n) == 0;
        igmp += strncmp(p, "igmp", n) == 0;
        icmp += strncmp(p, "icmp", n) == 0;
        block += strncmp(a, "block", 5) == 0;
        pass += strncmp(a, "pass", 4) == 0;
    }
    cr_expect_eq(tcp, 13);
    cr_expect_eq(udp, 3);
    cr_expect_eq(igmp, 1);
    cr_expect_eq(icmp, 2);
    cr_expect_eq(block, 14);
    cr_expect_eq(pass, 5);
    spot(&norm_pfsense, &s, 1,
         FIELDS("src_ip", "10.170.12.50", "dst_ip", "175.16.199.1", "src_port", "49724", "dst_port",
                "853", "proto", "tcp", "bytes_out", "60", "policy", "146", "src_zone", "igb1.12",
                "action", "block"));
    spot(&norm_pfsense, &s, 7,
         FIELDS("src_ip", "fe80::208:9bff:fef3:652b", "dst_ip", "ff02::1:2", "src_port", "546",
                "dst_port", "547", "proto", "udp", "bytes_out", "32", "policy", "6", "src_zone",
                "igb1.27", "action", "block"));
    spot(&norm_pfsense, &s, 17,
         FIELDS("src_ip", "10.170.12.17", "dst_ip", "175.16.199.1", "proto", "igmp", "bytes_out",
                "32", "policy", "199", "src_zone", "igb1.12", "action", "pass"));
    spot(&norm_pfsense, &s, 19,
         FIELDS("src_ip", "10.100.15.13", "dst_ip", "10.100.15.1", "proto", "icmp", "bytes_out",
                "84", "policy", "199", "src_zone", "igb1.15", "action", "pass"));
    unload(&s);
}

Test(real, cef)
{
    if (!have_real())
        cr_skip_test("no %s", REAL_DIR);
    sample_t s;
    load("elastic-beats/cef/cef.log", &s);
    detect_file(&s, &norm_cef);
    /* 4 hand-written events: 3 with src and dst, 1 (spriv/dpriv) without. */
    counts_t c = run_file(&norm_cef, &s);
    cr_expect_eq(s.n, 4);
    cr_expect_eq(c.rc[NORM_RECORD], 3);
    cr_expect_eq(c.rc[NORM_SKIP], 1);
    spot(&norm_cef, &s, 1,
         FIELDS("src_ip", "1.128.3.4", "dst_ip", "192.168.10.1", "src_port", "33876", "dst_port",
                "443", "proto", "tcp"));
    spot(&norm_cef, &s, 2,
         FIELDS("src_ip", "1.128.3.4", "dst_ip", "81.2.69.143", "src_port", "33876", "dst_port",
                "443", "user", "bob"));
    /* the last line's trailing blanks are not part of src */
    spot(&norm_cef, &s, 4, FIELDS("src_ip", "192.168.3.4", "dst_ip", "192.168.1.2"));
    unload(&s);

    load("elastic-beats/cef/fp-ngfw-smc.log", &s);
    detect_file(&s, &norm_cef);
    /* 13 lines: 10 events and 3 empty lines. Connection_Allowed, _Discarded
     * and _Refused have src and dst; the log-server, communication-error,
     * Connection_Closed (no addresses), three ECA_Metadata (src only: user
     * identity, not traffic) and TLS events are skipped. */
    c = run_file(&norm_cef, &s);
    cr_expect_eq(s.n, 13);
    cr_expect_eq(c.blank, 3);
    cr_expect_eq(c.rc[NORM_RECORD], 3);
    cr_expect_eq(c.rc[NORM_SKIP], 7);
    spot(&norm_cef, &s, 3,
         FIELDS("src_ip", "10.37.205.252", "dst_ip", "10.1.1.40", "proto", "icmp", "dst_zone",
                "255", "action", "allow", "device", "10.1.1.40", "ts", "2020-01-17T08:52:09Z"));
    spot(&norm_cef, &s, 4,
         FIELDS("src_ip", "172.16.1.1", "dst_ip", "255.255.255.255", "src_port", "68", "dst_port",
                "67", "proto", "udp", "dst_zone", "255", "device", "10.1.1.10", "ts",
                "2020-01-17T08:56:21Z"));
    spot(&norm_cef, &s, 5,
         FIELDS("src_ip", "172.16.1.1", "dst_ip", "192.168.1.1", "proto", "icmp", "dst_zone", "255",
                "action", "refuse", "device", "10.1.1.1", "ts", "2020-01-17T08:56:23Z"));
    unload(&s);
}

Test(real, apache_and_nginx)
{
    if (!have_real())
        cr_skip_test("no %s", REAL_DIR);
    sample_t s;
    load("elastic-examples/apache_logs", &s);
    detect_file(&s, &norm_apache);
    /* 10,000 combined lines, all records (line 8899's user agent lacks its
     * closing quote: taken to the end of the line). Status counts from
     * SOURCES.md; 669 lines log "-" bytes; no line has a user. */
    counts_t c = run_file(&norm_apache, &s);
    cr_expect_eq(s.n, 10000);
    cr_expect_eq(c.rc[NORM_RECORD], 10000);
    static const struct {
        const char *code;
        unsigned want;
    } statuses[] = {{"200", 9126}, {"304", 445}, {"404", 213}, {"301", 164},
                    {"206", 45},   {"500", 3},   {"416", 2},   {"403", 2}};
    unsigned got[8] = {0}, other = 0, nobytes = 0, users = 0, nginx_ok = 0;
    for (size_t i = 0; i < s.n; i++) {
        cr_assert_eq(parse_line(&norm_apache, &s, i), NORM_RECORD);
        size_t n;
        const char *st = norm_get(&rec, "status", &n);
        cr_assert_not_null(st);
        bool found = false;
        for (size_t k = 0; k < 8; k++)
            if (n == 3 && memcmp(st, statuses[k].code, 3) == 0) {
                got[k]++;
                found = true;
            }
        other += !found;
        nobytes += norm_get(&rec, "bytes", NULL) == NULL;
        users += norm_get(&rec, "user", NULL) != NULL;
        nginx_ok += parse_line(&norm_nginx, &s, i) == NORM_RECORD;
    }
    for (size_t k = 0; k < 8; k++)
        cr_expect_eq(got[k], statuses[k].want, "status %s: %u, want %u", statuses[k].code, got[k],
                     statuses[k].want);
    cr_expect_eq(other, 0);
    cr_expect_eq(nobytes, 669);
    cr_expect_eq(users, 0);
    cr_expect_eq(nginx_ok, 10000);
    spot(&norm_apache, &s, 1,
         FIELDS("client_ip", "83.149.9.216", "ts", "2015-05-17T10:05:03Z", "method", "GET", "url",
                "/presentations/logstash-monitorama-2013/images/kibana-search.png", "status", "200",
                "bytes", "203023", "referrer",
                "http://semicomplete.com/presentations/logstash-monitorama-2013/", "user_agent",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like "
                "Gecko) Chrome/32.0.1700.77 Safari/537.36"));
    spot(&norm_apache, &s, 8899,
         FIELDS("client_ip", "46.118.127.106", "ts", "2015-05-20T12:05:17Z", "method", "GET", "url",
                "/scripts/grok-py-test/configlib.py", "status", "200", "bytes", "235", "user_agent",
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"));
    unload(&s);
}
