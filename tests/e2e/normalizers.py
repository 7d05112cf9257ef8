#!/usr/bin/env python3
"""
normalizers.py — the log-format normalizers end to end through the colog CLI: `colog ingest
--format auto|NAME` of syslog lines, checked with `colog query` against values this script
computes itself.

What it does
  1. Writes a mixed file (fixed seed): lines of each of the ten formats (NetScreen, SRX in
     RFC 5424, ASA, FortiGate, PAN-OS, iptables, pfSense, CEF, Apache, nginx) behind the
     syslog headers those devices send, with known devices, addresses, ports and byte
     counts, plus bare JSON events, lines that are of a format but not traffic (skipped),
     blank lines (skipped) and junk (rejected).
  2. `colog init` with a schema holding the firewall and the web columns, then `colog ingest
     --format auto --now ...`: checks the summary (rows, rejected, skipped; exit 3), the
     rejects file (line numbers, reasons), and with `colog query`: rows per device and per
     web host, sums of bytes_out / bytes_in per device and of bytes per host, one point
     query per source / client IP, count by status, and a few rows field by field.
  3. The CLI around it: `colog ingest --help` names every format, an unknown --format is a
     usage error listing them, a firewall format on a web store is refused (exit 2), and
     `--format NAME` reads its own lines and rejects the others ("not a NAME line").
  4. When ../shared/data/real exists: each real sample is ingested with its own --format and
     with auto (fresh stores): rows + skipped + rejected = lines, rejected as expected (0
     where every line is a valid traffic line), auto gives what the format gives, and the
     Apache sample's status counts are 200 9126, 304 445, 404 213 (SOURCES.md).

Usage: normalizers.py [--keep] [-v]
Environment: COLOG_BIN (default build/colog); relative paths resolve against the repository
root. Python 3.9+ standard library only.
"""
import argparse
import collections
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = os.path.join(os.path.dirname(REPO), "shared", "data", "real")
SEED = 20260301
DAY = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
NOW = "2026-03-02T00:00:00Z"
PER_FORMAT = 60
FORMATS = ["netscreen", "srx", "asa", "fortigate", "panos", "iptables", "pfsense", "cef",
           "apache", "nginx"]

UNION_SCHEMA = """\
ts time
device string
src_ip ip indexed
src_port u16 indexed
dst_ip ip indexed
dst_port u16 indexed
proto string
action string
policy u32
src_zone string
dst_zone string
user string indexed
bytes_out u64
bytes_in u64
duration u32
host string
client_ip ip indexed
method string
url string
status u16 indexed
bytes u64
referrer string
user_agent string
duration_ms u32
"""

failures = []
verbose = False


def colog_bin():
    b = os.environ.get("COLOG_BIN", "build/colog")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def run(*args, ok=(0,), stdin=None):
    p = subprocess.run([colog_bin(), *args], capture_output=True, text=True, input=stdin)
    if ok is not None and p.returncode not in ok:
        raise SystemExit("FAIL: colog %s: exit %d\n%s%s" % (" ".join(args), p.returncode,
                                                            p.stdout, p.stderr))
    return p


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    elif verbose:
        print("ok:", what)


def query(store, q):
    p = run("query", store, q, "--format", "json")
    return json.loads(p.stdout)


SUMMARY = re.compile(r"colog: ingested (\d+) rows \((\d+) rejected\), (\d+) skipped \(not traffic\)")


def ingest(store, fmt, path, *extra):
    """(rows, rejected, skipped, exit status, stderr) of `colog ingest --format fmt`."""
    p = run("ingest", store, "--format", fmt, *extra, path, ok=(0, 3))
    m = SUMMARY.search(p.stderr)
    if m is None:
        raise SystemExit("FAIL: no summary line in:\n" + p.stderr)
    rows, rej, skipped = map(int, m.groups())
    return rows, rej, skipped, p.returncode, p.stderr


def nlines(path):
    with open(path, "rb") as f:
        data = f.read()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


# ---------------------------------------------------------------- the mixed file


class Gen:
    """Lines of each format with the values colog must read from them."""

    def __init__(self, rng):
        self.rng = rng
        self.srcs = ["10.9.%d.%d" % (rng.randrange(4), rng.randrange(1, 250)) for _ in range(12)]
        self.srcs = sorted(set(self.srcs))
        self.dsts = ["93.184.216.34", "8.8.8.8", "198.51.100.7", "203.0.113.80"]
        self.seq = 0

    def common(self, fmt):
        r = self.rng
        self.seq += 1
        t = DAY + dt.timedelta(seconds=r.randrange(0, 23 * 3600))
        return dict(fmt=fmt, t=t, src=r.choice(self.srcs), dst=r.choice(self.dsts),
                    sp=r.randrange(32768, 61000), dp=r.choice([22, 53, 80, 443, 8443]),
                    o=r.randrange(40, 1500), n=r.randrange(0, 100000), i=self.seq,
                    dev="%s-%d" % (fmt[:3], r.randrange(1, 3)))

    @staticmethod
    def bsd(t):
        return t.strftime("%b ") + ("%2d" % t.day) + t.strftime(" %H:%M:%S")

    def line(self, fmt):
        """(line, expected record): the record's keys are schema columns."""
        c = self.common(fmt)
        t, src, dst, sp, dp, o, n, i, dev = (c[k] for k in
                                             ("t", "src", "dst", "sp", "dp", "o", "n", "i", "dev"))
        hms, bsd, ymd = t.strftime("%H:%M:%S"), self.bsd(t), t.strftime("%Y-%m-%d")
        rec = dict(ts=t, device=dev, src_ip=src, dst_ip=dst, src_port=sp, dst_port=dp,
                   bytes_out=o, bytes_in=n)
        if fmt == "netscreen":
            line = ("<134>%s %s: NetScreen device_id=%s [Root]system-notification-00257(traffic):"
                    " start_time=\"%s %s\" duration=5 policy_id=3 service=http proto=6 src "
                    "zone=Trust dst zone=Untrust action=Permit sent=%d rcvd=%d src=%s dst=%s "
                    "src_port=%d dst_port=%d session_id=%d" % (bsd, dev, dev, ymd, hms, o, n,
                                                               src, dst, sp, dp, i))
        elif fmt == "srx":
            line = ("<14>1 %sT%s.000Z %s RT_FLOW - RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.40 "
                    "reason=\"TCP FIN\" source-address=\"%s\" source-port=\"%d\" "
                    "destination-address=\"%s\" destination-port=\"%d\" service-name=\"x\" "
                    "protocol-id=\"6\" policy-name=\"7\" source-zone-name=\"trust\" "
                    "destination-zone-name=\"untrust\" bytes-from-client=\"%d\" "
                    "bytes-from-server=\"%d\" elapsed-time=\"3\"]" % (ymd, hms, dev, src, sp, dst,
                                                                      dp, o, n))
        elif fmt == "asa":
            # a teardown: one byte count (bytes_out); the lower port is taken as the server's
            line = ("<166>%s %s %%ASA-6-302014: Teardown TCP connection %d for outside:%s/%d to "
                    "inside:%s/%d duration 0:00:30 bytes %d TCP FINs" % (bsd, dev, i, dst, dp,
                                                                         src, sp, o))
            rec["bytes_in"] = None
        elif fmt == "fortigate":
            line = ("<189>date=%s time=%s devname=\"%s\" devid=\"FG100\" logid=\"0000000013\" "
                    "type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip=%s "
                    "srcport=%d srcintf=\"port1\" dstip=%s dstport=%d dstintf=\"wan1\" policyid=5 "
                    "proto=17 action=\"accept\" duration=2 sentbyte=%d rcvdbyte=%d" % (
                        ymd, hms, dev, src, sp, dst, dp, o, n))
        elif fmt == "panos":
            pt = t.strftime("%Y/%m/%d %H:%M:%S")
            line = ("<14>%s %s 1,%s,01606001116,TRAFFIC,end,1,%s,%s,%s,0.0.0.0,0.0.0.0,rule1,,,"
                    "web-browsing,vsys1,trust,untrust,ethernet1/2,ethernet1/1,forwardAll,%s,%d,1,"
                    "%d,%d,0,0,0x200000,tcp,allow,%d,%d,%d,1,%s,4,any,0,0,0x0,"
                    "192.168.0.0-192.168.255.255,United States,0,1,0" % (
                        bsd, dev, pt, pt, src, dst, pt, i, sp, dp, o + n, o, n, pt))
        elif fmt == "iptables":
            line = ("<4>%s %s kernel: iptables DROP: IN=eth0 OUT= MAC=00:11:22:33 SRC=%s DST=%s "
                    "LEN=%d TOS=0x00 PREC=0x00 TTL=50 ID=1 DF PROTO=TCP SPT=%d DPT=%d WINDOW=1 "
                    "RES=0x00 SYN URGP=0" % (bsd, dev, src, dst, o, sp, dp))
            rec["bytes_in"] = None
        elif fmt == "pfsense":
            line = ("<134>%s %s filterlog[123]: 5,,,1000000103,em0,match,block,in,4,0x0,,64,0,0,"
                    "DF,6,tcp,%d,%s,%s,%d,%d,0,S,1,,64240,,mss" % (bsd, dev, o, src, dst, sp, dp))
            rec["bytes_in"] = None
        elif fmt == "cef":
            ms = int(t.timestamp()) * 1000
            line = ("CEF:0|Vendor|FW|1.0|100|Connection|5|src=%s dst=%s spt=%d dpt=%d proto=TCP "
                    "act=allow in=%d out=%d rt=%d dvchost=%s" % (src, dst, sp, dp, o, n, ms, dev))
        else:  # apache, nginx: web columns
            status = self.rng.choice([200, 200, 200, 304, 404, 500])
            clf = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
            rec = dict(ts=t, host=None, client_ip=src, status=status, bytes=n)
            if fmt == "apache":
                rec["host"] = dev
                line = ("<150>%s %s apache: %s - - [%s] \"GET /p%d HTTP/1.1\" %d %d \"-\" "
                        "\"agent/1\"" % (bsd, dev, src, clf, i, status, n))
            else:
                line = ("%s - - [%s] \"GET /n%d HTTP/1.1\" %d %d \"-\" \"agent/1\" \"-\" 0.%03d"
                        % (src, clf, i, status, n, o % 1000))
        return line, rec

    def json_event(self):
        c = self.common("json")
        rec = dict(ts=c["t"], device="json-1", src_ip=c["src"], dst_ip=c["dst"],
                   src_port=c["sp"], dst_port=c["dp"], bytes_out=c["o"], bytes_in=c["n"])
        obj = dict(ts=c["t"].strftime("%Y-%m-%dT%H:%M:%SZ"), device="json-1", src_ip=c["src"],
                   dst_ip=c["dst"], src_port=c["sp"], dst_port=c["dp"], bytes_out=c["o"],
                   bytes_in=c["n"])
        return json.dumps(obj), rec


SKIPPED_LINES = [
    "",
    "<14>1 2026-03-01T10:00:01Z srx-1 RT_FLOW - APPTRACK_SESSION_CLOSE [junos@2636.1.1.1.2.40 "
    "source-address=\"10.9.0.1\"]",
    "<166>Mar  1 10:00:00 asa-1 %ASA-5-111008: User 'enable_15' executed the 'write memory' "
    "command.",
    "<189>date=2026-03-01 time=10:00:00 devname=\"for-1\" logid=\"0100032001\" type=\"event\" "
    "subtype=\"system\"",
]
REJECTED_LINES = [
    ("<13>Mar  1 10:00:00 box app: hello world", "no known format"),
    ("{\"ts\":\"2026-03-01T10:00:00Z\",\"nope\":1}", "unknown column 'nope'"),
    ("kernel: IN=eth0 OUT= SRC=10.9.0.1 DST=8.8.8.8 PROTO=TCP SPT=1 DPT=2",
     "iptables: no time in the message or its syslog header"),
]


def build_mixed(path, rng):
    gen = Gen(rng)
    items = []  # (line, record or None, expected reject reason or None)
    for fmt in FORMATS:
        for _ in range(PER_FORMAT):
            items.append(gen.line(fmt) + (None,))
    for _ in range(20):
        items.append(gen.json_event() + (None,))
    items += [(l, None, None) for l in SKIPPED_LINES * 3]
    items += [(l, None, why) for l, why in REJECTED_LINES * 2]
    rng.shuffle(items)
    with open(path, "w") as f:
        for line, _, _ in items:
            f.write(line + ("\r\n" if rng.random() < 0.05 else "\n"))
    return items


def check_mixed(tmp):
    rng = random.Random(SEED)
    path = os.path.join(tmp, "mixed.log")
    items = build_mixed(path, rng)
    recs = [r for _, r, _ in items if r]
    rejects = [(i + 1, why) for i, (_, _, why) in enumerate(items) if why]
    skipped = sum(1 for l, r, why in items if r is None and why is None)

    schema = os.path.join(tmp, "union.schema")
    with open(schema, "w") as f:
        f.write(UNION_SCHEMA)
    store = os.path.join(tmp, "mixed")
    run("init", store, "--schema", schema, "--tz", "UTC")
    rej_path = os.path.join(tmp, "mixed.rejects")
    rows, rej, sk, status, _ = ingest(store, "auto", path, "--now", NOW, "--rejects", rej_path)
    check(rows == len(recs), "mixed: %d rows ingested, expected %d" % (rows, len(recs)))
    check(rej == len(rejects), "mixed: %d rejected, expected %d" % (rej, len(rejects)))
    check(sk == skipped, "mixed: %d skipped, expected %d" % (sk, skipped))
    check(rows + rej + sk == len(items), "mixed: rows + rejected + skipped = lines")
    check(status == 3, "mixed: exit status %d, expected 3 (rows rejected)" % status)
    with open(rej_path) as f:
        got = [l.rstrip("\n") for l in f]
    want = ["%s:%d: %s" % (path, ln, why) for ln, why in rejects]
    # JSON rejects carry the column of the key: compare without it
    got = [re.sub(r"^(.*?:\d+):\d+: ", r"\1: ", l) for l in got]
    check(got == want, "mixed: rejects file\n  got  %s\n  want %s" % (got[:4], want[:4]))

    # rows and bytes per device, per web host
    fw = [r for r in recs if "device" in r]
    web = [r for r in recs if "client_ip" in r]
    want_dev = collections.defaultdict(lambda: [0, 0, 0])
    for r in fw:
        d = want_dev[r["device"]]
        d[0] += 1
        d[1] += r["bytes_out"] or 0
        d[2] += r["bytes_in"] or 0
    got_dev = {}
    for row in query(store, "where device != \"\" | stats count(), sum(bytes_out), sum(bytes_in) "
                     "by device"):
        got_dev[row["device"]] = [row["count"], row["sum_bytes_out"] or 0,
                                  row["sum_bytes_in"] or 0]
    check(got_dev == dict(want_dev), "mixed: count and bytes per device\n  got  %s\n  want %s" % (
        sorted(got_dev.items()), sorted(want_dev.items())))
    want_host = collections.Counter()
    want_host_bytes = collections.Counter()
    for r in web:
        want_host[r["host"]] += 1
        want_host_bytes[r["host"]] += r["bytes"]
    got_host = {row["host"]: (row["count"], row["sum_bytes"])
                for row in query(store, "where client_ip in 0.0.0.0/0 | stats count(), sum(bytes) "
                                 "by host")}
    want_h = {h: (want_host[h], want_host_bytes[h]) for h in want_host}
    check(got_host == want_h, "mixed: count and bytes per web host\n  got  %s\n  want %s" % (
        got_host, want_h))

    # a point query per address
    by_src = collections.Counter(r["src_ip"] for r in fw)
    by_client = collections.Counter(r["client_ip"] for r in web)
    for ip in sorted(set(by_src) | set(by_client)):
        n = query(store, "where src_ip = %s | stats count()" % ip)[0]["count"]
        check(n == by_src[ip], "mixed: src_ip = %s: %d rows, expected %d" % (ip, n, by_src[ip]))
        n = query(store, "where client_ip = %s | stats count()" % ip)[0]["count"]
        check(n == by_client[ip], "mixed: client_ip = %s: %d rows, expected %d" % (
            ip, n, by_client[ip]))
        dst_ports = collections.Counter(r["dst_port"] for r in fw if r["src_ip"] == ip)
        got = {row["dst_port"]: row["count"]
               for row in query(store, "where src_ip = %s | stats count() by dst_port" % ip)}
        check(got == dict(dst_ports), "mixed: src_ip = %s: count by dst_port" % ip)

    # status codes of the web lines, and the whole time range
    want_status = collections.Counter(r["status"] for r in web)
    got_status = {row["status"]: row["count"]
                  for row in query(store, "where status > 0 | stats count() by status")}
    check(got_status == dict(want_status), "mixed: count by status %s, expected %s" % (
        got_status, dict(want_status)))
    total = query(store, "stats count(), min(ts), max(ts)")[0]
    check(total["count"] == len(recs), "mixed: %d rows in the store" % total["count"])
    ts = sorted(r["ts"] for r in recs)
    fmt_t = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
    check(total["min_ts"] == fmt_t(ts[0]) and total["max_ts"] == fmt_t(ts[-1]),
          "mixed: time range %s .. %s, expected %s .. %s" % (
              total["min_ts"], total["max_ts"], fmt_t(ts[0]), fmt_t(ts[-1])))

    # every firewall record field by field (time, device, ports, bytes)
    got_rows = query(store, "where device != \"\" | fields ts, device, src_ip, src_port, dst_ip, "
                     "dst_port, bytes_out, bytes_in")
    key = lambda r: (r["ts"], r["device"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"],
                     r["bytes_out"] or 0, r["bytes_in"] or 0)
    want_rows = sorted(key(dict(r, ts=fmt_t(r["ts"]))) for r in fw)
    check(sorted(key(r) for r in got_rows) == want_rows, "mixed: firewall rows field by field")
    return store


def check_cli(tmp, store):
    p = run("ingest", "--help")
    check(all(f in p.stdout for f in FORMATS + ["auto"]),
          "ingest --help names every format: %s" % p.stdout.strip())
    p = run("ingest", store, "--format", "syslog", "/dev/null", ok=(2,))
    check(all(f in p.stderr for f in FORMATS), "unknown --format lists the formats: %s" %
          p.stderr.strip())

    web = os.path.join(tmp, "web")
    run("init", web, "--schema", "web", "--tz", "UTC")
    one = os.path.join(tmp, "one.log")
    gen = Gen(random.Random(1))
    lines = {f: gen.line(f)[0] for f in FORMATS}
    with open(one, "w") as f:
        f.write(lines["asa"] + "\n")
    p = run("ingest", web, "--format", "asa", one, ok=(2,))
    check("format asa writes the firewall schema's columns; the store lacks device" in p.stderr,
          "a firewall format on a web store: %s" % p.stderr.strip())
    check(query(web, "stats count()")[0]["count"] == 0, "nothing ingested into the web store")

    # a fixed format takes its own lines, rejects the others, from stdin too
    fwstore = os.path.join(tmp, "fw")
    run("init", fwstore, "--schema", "firewall", "--tz", "UTC")
    text = "".join(lines[f] + "\n" for f in FORMATS if f not in ("apache", "nginx"))
    p = run("ingest", fwstore, "--format", "fortigate", "--now", NOW, "-", ok=(3,), stdin=text)
    m = SUMMARY.search(p.stderr)
    check(m is not None and m.groups() == ("1", "7", "0"),
          "--format fortigate: 1 row, 7 rejected: %s" % p.stderr.strip())
    check("<stdin>:1: not a netscreen line" not in p.stderr and
          "<stdin>:1: not a fortigate line" in p.stderr,
          "--format fortigate: line 1 rejected as not fortigate: %s" % p.stderr.strip())
    row = query(fwstore, "fields device, src_ip, proto, action, bytes_out, bytes_in")
    check(len(row) == 1 and row[0]["proto"] == "udp" and row[0]["action"] == "accept",
          "--format fortigate: the row %s" % row)

    # csv and ndjson are unchanged, and an empty input is fine
    p = run("ingest", fwstore, "--format", "csv", "-", stdin="ts,device\n2026-03-01T00:00:00Z,c\n")
    check("colog: ingested 1 rows (0 rejected) in" in p.stderr, "csv summary: %s" % p.stderr)
    p = run("ingest", fwstore, "--format", "auto", "/dev/null")
    check("ingested 0 rows (0 rejected), 0 skipped (not traffic)" in p.stderr,
          "empty input: %s" % p.stderr.strip())


# ---------------------------------------------------------------- real samples

# file, format, schema, rejected (None: any), reject reason that must be there
SAMPLES = [
    ("elastic-beats/cisco-asa/sample.log", "asa", "firewall", 2, "not an IP address: OCSP_Server"),
    ("elastic-beats/fortinet-firewall/traffic.log", "fortigate", "firewall", 0, None),
    ("elastic-beats/juniper-srx/flow.log", "srx", "firewall", 0, None),
    ("elastic-beats/panw-panos/pan_inc_traffic.log", "panos", "firewall", 0, None),
    ("elastic-beats/iptables/iptables.log", "iptables", "firewall", 0, None),
    # hand-written events without rt= and without a syslog header: no time at all
    ("elastic-beats/cef/cef.log", "cef", "firewall", 3,
     "cef: no time in the message or its syslog header"),
    ("elastic-beats/cef/fp-ngfw-smc.log", "cef", "firewall", 0, None),
    ("elastic-integrations/pfsense/test-pfsense-bsd.log", "pfsense", "firewall", 0, None),
    ("elastic-examples/apache_logs", "apache", "web", 0, None),
]


def check_real(tmp):
    if not os.path.isdir(REAL):
        print("(no %s: real samples skipped)" % REAL)
        return
    for rel, fmt, schema, want_rej, reason in SAMPLES:
        path = os.path.join(REAL, rel)
        if not os.path.exists(path):
            check(False, "real sample %s missing" % rel)
            continue
        n = nlines(path)
        results = {}
        for mode in (fmt, "auto"):
            store = os.path.join(tmp, "real-%s-%s" % (fmt, mode))
            shutil.rmtree(store, ignore_errors=True)
            run("init", store, "--schema", schema, "--tz", "UTC")
            rows, rej, sk, status, err = ingest(store, mode, path, "--rejects",
                                                os.path.join(tmp, "real.rejects"))
            with open(os.path.join(tmp, "real.rejects")) as f:
                rejects = f.read()
            what = "%s --format %s" % (rel, mode)
            check(rows + rej + sk == n, "%s: rows %d + rejected %d + skipped %d = lines %d" % (
                what, rows, rej, sk, n))
            check(want_rej is None or rej == want_rej, "%s: %d rejected, expected %d:\n%s" % (
                what, rej, want_rej, rejects[:600]))
            check(reason is None or reason in rejects, "%s: reject reason '%s'" % (what, reason))
            check(status == (3 if rej else 0), "%s: exit status %d" % (what, status))
            check(query(store, "stats count()")[0]["count"] == rows, "%s: rows in store" % what)
            key = "status" if schema == "web" else "device"
            results[mode] = (rows, rej, sk, sorted(
                (str(r[key]), r["count"]) for r in query(store, "stats count() by %s" % key)))
            if fmt == "apache":
                got = {r["status"]: r["count"] for r in query(store, "stats count() by status")}
                check(got.get(200) == 9126 and got.get(304) == 445 and got.get(404) == 213,
                      "%s: status counts %s" % (what, got))
            if verbose:
                print("%s: %d lines: %d rows, %d rejected, %d skipped" % (what, n, rows, rej, sk))
        check(results[fmt] == results["auto"], "%s: auto gives what --format %s gives" % (rel, fmt))


def main():
    global verbose
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument("-v", action="store_true", help="print every check")
    a = ap.parse_args()
    verbose = a.v
    if not os.path.exists(colog_bin()):
        raise SystemExit("normalizers.py: %s not found (set COLOG_BIN)" % colog_bin())
    tmp = tempfile.mkdtemp(prefix="colog-norm-")
    try:
        store = check_mixed(tmp)
        check_cli(tmp, store)
        check_real(tmp)
    finally:
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("normalizers.py: %d check(s) failed" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("normalizers.py: all checks passed")


if __name__ == "__main__":
    main()
