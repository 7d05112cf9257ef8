#!/usr/bin/env python3
"""
oracle.py — colog end-to-end suite: the colog CLI against an independent SQLite oracle.

What it does
  1. Generates ~200,000 firewall events with colog-gen (fixed seed, six past days across the
     2025-03-09 US daylight-saving change) plus ~40 hand-made rows (absent values, missing
     columns, odd strings, non-canonical IPv6, epoch and offset times, a lone far day).
  2. Builds a store with `colog init` and `colog ingest` in several batches: a CSV file, a CSV
     with the columns in reverse order on stdin, then (after a `colog merge` whose results
     must equal those before it) an NDJSON file with +05:30 offset times and the hand-made CSV.
     So while the main suite runs every day has at least two parts; afterwards `colog merge`
     compacts them and the whole suite runs again.
  3. Loads the generator's CSV (and the hand-made rows) into an in-memory sqlite3 database:
     times as integer microseconds, IPs as canonical text plus a 16-byte key (IPv4 mapped into
     ::ffff:0:0/96, the order colog uses), empty fields as NULL. Local-time fields (hour, dow,
     day, bin, date literals) come from zoneinfo through functions registered with sqlite.
  4. Runs paired queries: `colog query --format csv` and the equivalent SQL, compared exactly
     (header names, row order where the query fixes it, floats to a relative 1e-9).
     Raw events are in time order: rows are compared as multisets within runs of equal ts.
     A second store made with `colog init --tz America/New_York` checks the store's default
     zone (and that --tz overrides it).
  5. Checks output formats (json/ndjson agree with csv, table runs), query errors (exit 2,
     message, caret), bad-input ingest (CSV and NDJSON rejects with exact lines, exit 3, good
     rows kept), an unknown CSV header column, and empty input.

Usage: oracle.py [-k SUBSTR] [-v] [--keep] [--events N]
Environment: COLOG_BIN (default build/colog), COLOG_GEN (default build/colog-gen); relative
defaults resolve against the repository root. COLOG_QUERY_ARGS: extra `colog query` arguments. Python 3.9+ standard library only.
"""
import argparse
import bisect
import collections
import concurrent.futures
import csv
import datetime as dt
import difflib
import io
import ipaddress
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zoneinfo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SEED = 20250306
START = "2025-03-06"
DAYS = 6
NOW = "2025-03-12T03:00:00Z"  # after the last event: anchors `last N`
COLS = ["ts", "device", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "action", "policy",
        "src_zone", "dst_zone", "user", "bytes_out", "bytes_in", "duration"]
INT_COLS = {"src_port", "dst_port", "policy", "bytes_out", "bytes_in", "duration"}
IP_COLS = {"src_ip", "dst_ip"}
US = 1_000_000
US_DAY = 86400 * US
EPOCH_ORD = dt.date(1970, 1, 1).toordinal()

ARGS = None
# Extra arguments for every `colog query` (e.g. COLOG_QUERY_ARGS="--threads 1 --no-index" to
# check the scan path against the index path).
QUERY_ARGS = os.environ.get("COLOG_QUERY_ARGS", "").split()


def log(*a):
    print(*a, flush=True)


def vlog(*a):
    if ARGS.verbose:
        print(*a, flush=True)


# ------------------------------------------------------------------ time zones and times

class Zone:
    """A query time zone: None/UTC, a fixed +HH:MM offset, or an IANA name."""

    def __init__(self, name):
        self.name = name
        if name is None or name == "UTC":
            self.tz = dt.timezone.utc
        elif re.fullmatch(r"[+-]\d\d:\d\d", name):
            sign = -1 if name[0] == "-" else 1
            self.tz = dt.timezone(sign * dt.timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
        else:
            self.tz = zoneinfo.ZoneInfo(name)
        self._off = {}
        self._loc = {}
        self._bounds = {}

    def offset_s(self, us):
        """UTC offset in seconds in effect at instant us (exact to the second)."""
        q = us // US
        o = self._off.get(q)
        if o is None:
            t = dt.datetime.fromtimestamp(q, tz=dt.timezone.utc).astimezone(self.tz)
            o = int(t.utcoffset().total_seconds())
            self._off[q] = o
        return o

    def local_us(self, us):
        return us + self.offset_s(us) * US

    def instant_of_local(self, local_us):
        """The instant whose wall clock reads local_us (the earlier one when repeated)."""
        r = self._loc.get(local_us)
        if r is None:
            naive = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=local_us)
            off = naive.replace(tzinfo=self.tz, fold=0).utcoffset()
            r = local_us - (off.days * 86400 + off.seconds) * US
            self._loc[local_us] = r
        return r

    def fmt(self, us):
        if us is None:
            return None
        off = self.offset_s(us)
        days, rem = divmod(us + off * US, US_DAY)
        d = dt.date.fromordinal(EPOCH_ORD + days)
        secs, frac = divmod(rem, US)
        s = "%04d-%02d-%02dT%02d:%02d:%02d" % (d.year, d.month, d.day, secs // 3600,
                                              secs // 60 % 60, secs % 60)
        if frac:
            s += ".%06d" % frac
        if off == 0:
            return s + "Z"
        sign = "-" if off < 0 else "+"
        off = abs(off)
        return s + "%s%02d:%02d" % (sign, off // 3600, off // 60 % 60)

    def day(self, us):
        return self.local_us(us) // US_DAY

    def hour(self, us):
        return self.local_us(us) // (3600 * US) % 24

    def dow(self, us):
        return (self.day(us) + 3) % 7 + 1  # 1970-01-01 was a Thursday (4)

    def bin(self, us, width):
        """Start of us's bin(ts, width) bucket, by walking the wall clock (QUERY.md): a
        bucket starts where the clock ticks onto a multiple of width, where it skips
        forward over one, and where it is set back by at least width. The clock is
        walked in steps of min(60 s, width) over a window of days around us (clock
        changes in the tested zones fall on whole minutes)."""
        step = min(60 * US, width)
        chunk = 4 * US_DAY
        k = (width, us // chunk)
        bounds = self._bounds.get(k)
        if bounds is None:
            start = (us // chunk) * chunk - 2 * US_DAY - width
            start -= start % step
            end = (us // chunk + 1) * chunk
            bounds = []
            po = self.offset_s(start - step) * US
            m = start
            while m <= end:
                o = self.offset_s(m) * US
                if o == po:
                    b = (m + o) % width == 0
                elif o > po:  # skipped forward over [m + po, m + o]
                    b = (m + o) // width * width >= m + po
                else:  # set back by po - o
                    b = width <= po - o
                if b:
                    bounds.append(m)
                po = o
                m += step
            self._bounds[k] = bounds
        i = bisect.bisect_right(bounds, us) - 1
        assert i >= 0, "no bucket start found before %d" % us
        return bounds[i]

    def parse(self, text):
        """A time literal as colog's `range` takes it: a date (local midnight) or RFC 3339."""
        m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", text)
        if m:
            d = dt.date(int(m[1]), int(m[2]), int(m[3]))
            return self.instant_of_local((d.toordinal() - EPOCH_ORD) * US_DAY)
        return parse_rfc3339(text)


UTC = Zone(None)


def parse_rfc3339(text):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                     r"(?:([Zz])|([+-])(\d\d):(\d\d))", text)
    if not m:
        raise ValueError("bad time %r" % text)
    d = dt.date(int(m[1]), int(m[2]), int(m[3]))
    us = ((d.toordinal() - EPOCH_ORD) * 86400 + int(m[4]) * 3600 + int(m[5]) * 60 + int(m[6])) * US
    if m[7]:
        us += int((m[7] + "000000")[:6])
    if m[9]:
        off = (int(m[10]) * 3600 + int(m[11]) * 60) * US
        us -= off if m[9] == "+" else -off
    return us


def parse_time_field(text):
    if re.fullmatch(r"-?\d+", text):
        return int(text) * US
    return parse_rfc3339(text)


def day_num(text):
    y, m, d = map(int, text.split("-"))
    return dt.date(y, m, d).toordinal() - EPOCH_ORD


def fmt_day(n):
    if n is None:
        return None
    return dt.date.fromordinal(EPOCH_ORD + n).isoformat()


# ------------------------------------------------------------------ IPs

def ip_key(text):
    a = ipaddress.ip_address(text)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    if a.version == 4:
        return b"\0" * 10 + b"\xff\xff" + a.packed
    return a.packed


def ip_text(key):
    if key is None:
        return None
    key = bytes(key)
    if key[:12] == b"\0" * 10 + b"\xff\xff":
        return str(ipaddress.IPv4Address(key[12:]))
    return ipaddress.IPv6Address(key).compressed


def K(text):
    """SQL blob literal of an IP's key."""
    return "X'%s'" % ip_key(text).hex()


def CIDR(col, net, raw=False):
    """SQL test: IP column col (its key col_k, or col itself when raw) inside block net."""
    n = ipaddress.ip_network(net, strict=True)
    lo, hi = ip_key(str(n.network_address)), ip_key(str(n.broadcast_address))
    return "(%s BETWEEN X'%s' AND X'%s')" % (col if raw else col + "_k", lo.hex(), hi.hex())


def S(s):
    return "'" + s.replace("'", "''") + "'"


# ------------------------------------------------------------------ running colog

def run(args, stdin=None, timeout=300, env=None):
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), \
        p.stderr.decode("utf-8", "surrogateescape")


def colog(*args, stdin=None):
    return run([COLOG_BIN] + [str(a) for a in args], stdin=stdin)


def colog_query(store, q, fmt="csv", tz=None, now=None):
    args = ["query", store, q, "--format", fmt]
    if tz:
        args += ["--tz", tz]
    if now:
        args += ["--now", now]
    return colog(*(args + QUERY_ARGS))


def parse_csv(text):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return None, []
    return rows[0], rows[1:]


# ------------------------------------------------------------------ the failure log

FAILS = []
NCHECKS = collections.Counter()


def fail(name, msg):
    FAILS.append((name, msg))
    log("FAIL %s\n%s\n" % (name, msg))


def check(name, cond, msg):
    NCHECKS["checks"] += 1
    if not cond:
        fail(name, msg)
    return cond


# ------------------------------------------------------------------ the data

def extra_rows():
    """Hand-made rows (the header omits policy and bytes_in: absent in every one of them)."""
    hdr = ["user", "ts", "dst_ip", "src_ip", "device", "proto", "action", "dst_port",
           "src_port", "bytes_out", "duration", "src_zone", "dst_zone"]
    rows = [
        ["müller0001", "2025-03-07T08:00:00Z", "2001:DB8:0:0:0:0:0:1", "10.77.0.1", "fw-lab-01",
         "tcp", "allow", "443", "50000", "1200", "5", "lab", "untrust"],
        ["a,b", "2025-03-07T08:00:00Z", "10.77.1.1", "10.77.0.2", "fw-lab-01", "udp", "allow",
         "", "50001", "", "", "lab", "untrust"],
        ['say "hi"', "2025-03-07T09:15:30.000001Z", "10.77.1.2", "", "fw-lab-01", "tcp",
         "deny", "22", "", "60", "0", "lab", "dmz"],
        ["back\\slash", "2025-03-08T10:00:00.5Z", "2001:db8:0:0:1:0:0:1",
         "2001:0db8:0000:0000:0000:0000:0000:0002", "fw-lab-01", "tcp", "allow", "0", "0",
         "1000000000000000", "36000", "lab", "lab"],
        ["", "1741428000", "2001:db8:0:1:1:1:1:1", "10.77.0.3", "fw-lab-01", "icmp", "allow",
         "65535", "65535", "0", "0", "", ""],
        ["line1\nline2", "2025-03-08T10:00:00Z", "10.77.1.3", "10.77.0.4", "fw-lab-01", "", "",
         "8080", "40000", "77", "1", "lab", "untrust"],
        ["Ünïcödé ✓ 日本", "2025-03-09T02:30:00-05:00", "198.51.100.23", "10.1.2.3", "fw-hq-01",
         "tcp", "allow", "6667", "1030", "10", "3", "trust", "untrust"],
        ["zz-top", "2024-12-31T23:59:59.999999Z", "10.77.1.4", "10.77.0.5", "", "tcp", "allow",
         "443", "50002", "5", "7", "lab", "untrust"],
        ["wallen0502", "2025-03-10T23:59:59+09:00", "", "10.1.2.3", "fw-hq-01", "tcp", "allow",
         "443", "49999", "300", "30", "trust", "untrust"],
        ["", "2025-03-09T06:59:59.999999Z", "2001:db8:ffff::", "::1", "", "udp", "drop", "53",
         "5353", "", "", "untrust", ""],
    ]
    # A sprinkle of rows with absent numbers and users across the span.
    for i in range(30):
        t = parse_rfc3339("2025-03-06T00:00:00Z") + i * 4 * 3600 * US + i * 7 * US + 250000
        rows.append(["" if i % 3 else "lab%04d" % i, UTC.fmt(t), "10.77.2.%d" % (i + 1),
                     "10.77.0.%d" % (10 + i % 5), "fw-lab-01" if i % 4 else "",
                     ["tcp", "udp", ""][i % 3], ["allow", "deny"][i % 2],
                     "" if i % 5 == 0 else str(1000 + i % 7), "" if i % 6 == 0 else str(30000 + i),
                     "" if i % 2 else str(i * 1000), "" if i % 3 == 1 else str(i), "lab",
                     "" if i % 7 == 0 else "untrust"])
    return hdr, rows


def row_values(rec):
    """A dict of column text (absent -> missing or "") -> the sqlite tuple."""
    out = []
    for c in COLS:
        v = rec.get(c, "")
        if v == "":
            if c in IP_COLS:
                out += [None, None]
            else:
                out.append(None)
            continue
        if c == "ts":
            out.append(parse_time_field(v))
        elif c in IP_COLS:
            k = ip_key(v)
            out += [ip_text(k), k]
        elif c in INT_COLS:
            out.append(int(v))
        else:
            out.append(v)
    return tuple(out)


def load_db(gen_csv, extra):
    db = sqlite3.connect(":memory:")
    cols_sql = []
    for c in COLS:
        if c == "ts" or c in INT_COLS:
            cols_sql.append("%s INTEGER" % c)
        elif c in IP_COLS:
            cols_sql += ["%s TEXT" % c, "%s_k BLOB" % c]
        else:
            cols_sql.append("%s TEXT" % c)
    cols_sql.append("_x INTEGER")  # 1 for the hand-made rows
    db.execute("CREATE TABLE ev (%s)" % ", ".join(cols_sql))
    ncol = len(cols_sql)
    ins = "INSERT INTO ev VALUES (%s)" % ",".join("?" * ncol)
    with open(gen_csv, newline="", encoding="utf-8") as f:
        rd = csv.DictReader(f)
        db.executemany(ins, (row_values(r) + (0,) for r in rd))
    hdr, rows = extra
    db.executemany(ins, (row_values(dict(zip(hdr, r))) + (1,) for r in rows))
    db.commit()
    return db


# SQL functions: the zone is the current pair's.
CUR = {"zone": UTC}


def register(db):
    def z():
        return CUR["zone"]
    db.create_function("fts", 1, lambda us: z().fmt(us), deterministic=True)
    db.create_function("lhour", 1, lambda us: None if us is None else z().hour(us),
                       deterministic=True)
    db.create_function("ldow", 1, lambda us: None if us is None else z().dow(us),
                       deterministic=True)
    db.create_function("lday", 1, lambda us: None if us is None else z().day(us),
                       deterministic=True)
    db.create_function("fday", 1, fmt_day, deterministic=True)
    db.create_function("lbin", 2, lambda us, w: None if us is None else z().bin(us, w),
                       deterministic=True)
    db.create_function("ipt", 1, ip_text, deterministic=True)
    db.create_function("has", 2, lambda a, b: None if a is None else int(b in a),
                       deterministic=True)
    db.create_function("sw", 2, lambda a, b: None if a is None else int(a.startswith(b)),
                       deterministic=True)
    db.create_function("ew", 2, lambda a, b: None if a is None else int(a.endswith(b)),
                       deterministic=True)


# ------------------------------------------------------------------ pairs

class Pair:
    def __init__(self, name, query, sql, mode="ordered", tz=None, now=None, limit=None,
                 store="main", sqltz=None):
        self.name, self.query, self.sql = name, query, sql
        self.mode, self.tz, self.now, self.limit = mode, tz, now, limit
        self.store = store          # "main", or "tz": a store made with --tz (extra rows only)
        self.sqltz = sqltz or tz    # the zone the SQL side works in
        self.expected = None  # (header, rows, runs)

    def title(self):
        extra = "".join([" --tz " + self.tz if self.tz else "", " --now " + self.now if self.now else ""])
        return "%s: colog query '%s'%s" % (self.name, self.query, extra)


DUR = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def dur_us(text):
    return int(text[:-1]) * DUR[text[-1]] * US


def key_parts(spec):
    """stats key -> (output name, inner SQL expression, outer formatting)."""
    spec, _, rename = spec.partition(" as ")
    if spec == "hour":
        name, e, f = "hour", "lhour(ts)", "%s"
    elif spec == "dow":
        name, e, f = "dow", "ldow(ts)", "%s"
    elif spec == "day":
        name, e, f = "day", "lday(ts)", "fday(%s)"
    elif spec.startswith("bin:"):
        name, e, f = "bin", "lbin(ts, %d)" % dur_us(spec[4:]), "fts(%s)"
    elif spec in IP_COLS:
        name, e, f = spec, spec + "_k", "ipt(%s)"
    elif spec == "ts":
        name, e, f = spec, "ts", "fts(%s)"
    else:
        name, e, f = spec, spec, "%s"
    return rename or name, e, f


def agg_parts(spec):
    spec, _, rename = spec.partition(" as ")
    if spec == "count":
        return rename or "count", "COUNT(*)", "%s"
    fn, col = spec.split(":")
    name = rename or "%s_%s" % (fn, col)
    if fn == "dcount":
        return name, "COUNT(DISTINCT %s)" % (col + "_k" if col in IP_COLS else col), "%s"
    if fn in ("min", "max"):
        if col in IP_COLS:
            return name, "%s(%s_k)" % (fn.upper(), col), "ipt(%s)"
        if col == "ts":
            return name, "%s(ts)" % fn.upper(), "fts(%s)"
        return name, "%s(%s)" % (fn.upper(), col), "%s"
    return name, "%s(%s)" % (fn.upper(), col), "%s"


def sq(keys=(), aggs=("count",), where=None, post=None, order=None, top=None, bottom=None,
       limit=None):
    """SQL for `[where] | stats AGGS by KEYS [| where POST] [| top|bottom|sort] [| limit]`.

    The inner query names each output `_NAME` with its raw value (ip keys as blobs, times
    as microseconds, days as day numbers); POST and ORDER use those names."""
    ks = [key_parts(k) for k in keys]
    ags = [agg_parts(a) for a in aggs]
    inner = ", ".join("%s AS _%s" % (e, n) for n, e, f in ks + ags)
    sql = "SELECT %s FROM ev" % inner
    if where:
        sql += " WHERE " + where
    if ks:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(ks)))
    outer = ", ".join('%s AS "%s"' % (f % ("_" + n), n) for n, e, f in ks + ags)
    sql = "SELECT %s FROM (%s)" % (outer, sql)
    if post:
        sql += " WHERE " + post
    keyorder = ["_%s ASC" % n for n, e, f in ks]
    if top or bottom:
        n, by = (top or bottom) if isinstance(top or bottom, tuple) else ((top or bottom), None)
        by = by or ags[0][0]
        sql += " ORDER BY %s" % ", ".join(["_%s %s" % (by, "DESC" if top else "ASC")] + keyorder)
        sql += " LIMIT %d" % n
    elif order:
        sql += " ORDER BY " + ", ".join("_%s %s" % (c, "DESC" if d else "ASC") for c, d in order)
    elif keyorder:
        sql += " ORDER BY " + ", ".join(keyorder)
    if limit is not None:
        sql += " LIMIT %d" % limit
    return sql


RAW_SELECT = ", ".join("fts(ts) AS ts" if c == "ts" else c for c in COLS)


def rq(where=None, fields=None, order="ev.ts", runkey="ev.ts"):
    """SQL for raw events; the last column is the run key (not compared)."""
    sel = RAW_SELECT if fields is None else ", ".join(
        "fts(ts) AS ts" if c == "ts" else c for c in fields)
    # (ORDER BY ts would name the formatted output column: order by ev.ts)
    sql = "SELECT %s, %s AS _run FROM ev" % (sel, runkey)
    if where:
        sql += " WHERE " + where
    return sql + " ORDER BY " + order


def build_pairs(db):
    P = []

    def add(name, query, sql, **kw):
        P.append(Pair(name, query, sql, **kw))

    def ts_of(where):
        r = db.execute("SELECT ts FROM ev WHERE %s ORDER BY ts LIMIT 1" % where).fetchone()
        return r[0]

    # ---- the analyses of QUERY.md, verbatim
    add("spec01-port-ranking", "stats count() by dst_port | top 10",
        sq(["dst_port"], top=10))
    add("spec02-rare-sites", "stats count() by dst_ip | bottom 10", sq(["dst_ip"], bottom=10))
    add("spec03-mass-smtp",
        'where dst_port = 25 and proto = "tcp" | stats dcount(dst_ip) by src_ip | top 10',
        sq(["src_ip"], ["dcount:dst_ip"], where="dst_port = 25 AND proto = 'tcp'", top=10))
    add("spec04-port-scans", "stats dcount(dst_port) by src_ip, dst_ip | top 10",
        sq(["src_ip", "dst_ip"], ["dcount:dst_port"], top=10))
    add("spec05-irc-bots", "where dst_port in (6667, 5555, 8080) | stats count() by src_ip, dst_ip",
        sq(["src_ip", "dst_ip"], where="dst_port IN (6667, 5555, 8080)"))
    add("spec06-long-http",
        "where duration > 3600 and dst_port in (80, 443) | stats count() by src_ip",
        sq(["src_ip"], where="duration > 3600 AND dst_port IN (80, 443)"))
    add("spec07-night-web",
        "where dst_port in (80, 443) and hour(ts) between 1 and 5 | stats count() by hour(ts)",
        sq(["hour"], where="dst_port IN (80, 443) AND lhour(ts) BETWEEN 1 AND 5"))
    add("spec08-hidden-nat", "where src_port >= 32768 | stats count() by src_ip | top 10",
        sq(["src_ip"], where="src_port >= 32768", top=10))
    add("spec09-bytes-by-user", "stats sum(bytes_out) by user | top 10",
        sq(["user"], ["sum:bytes_out"], top=10))
    add("spec10-one-host", "where src_ip = 10.1.2.3 | stats count()",
        sq([], where="src_ip_k = %s" % K("10.1.2.3")))
    add("spec11-internal-denies",
        'where dst_ip in 10.0.0.0/8 and action = "deny" | stats count() by dst_port | top 10',
        sq(["dst_port"], where="%s AND action = 'deny'" % CIDR("dst_ip", "10.0.0.0/8"), top=10))
    add("spec12-trend", "stats count() by bin(ts, 1h)", sq(["bin:1h"]))
    add("spec13-weekly", "stats count() by dow(ts), hour(ts)", sq(["dow", "hour"]))
    for tz in ("Asia/Tokyo", "America/New_York", "+09:00"):
        add("spec07-night-web tz=" + tz,
            "where dst_port in (80, 443) and hour(ts) between 1 and 5 | stats count() by hour(ts)",
            sq(["hour"], where="dst_port IN (80, 443) AND lhour(ts) BETWEEN 1 AND 5"), tz=tz)
        add("spec12-trend tz=" + tz, "stats count() by bin(ts, 1h)", sq(["bin:1h"]), tz=tz)
        add("spec13-weekly tz=" + tz, "stats count() by dow(ts), hour(ts)", sq(["dow", "hour"]),
            tz=tz)

    # ---- comparison operators: integers
    for op in ("=", "!=", "<", "<=", ">", ">="):
        sop = "<>" if op == "!=" else op
        add("int %s" % op, "where dst_port %s 443 | stats count(), sum(bytes_in) by proto" % op,
            sq(["proto"], ["count", "sum:bytes_in"], where="dst_port %s 443" % sop))
    add("int < small", "where dst_port < 100 | stats count() by dst_port",
        sq(["dst_port"], where="dst_port < 100"))
    add("int > large", "where dst_port >= 60000 | stats count() by dst_port | top 5",
        sq(["dst_port"], where="dst_port >= 60000", top=5))
    add("int u64 >", "where bytes_out > 1000000 | stats count(), max(bytes_out) by user | top 5",
        sq(["user"], ["count", "max:bytes_out"], where="bytes_out > 1000000", top=5))
    add("int u64 = 0", "where bytes_in = 0 | stats count() by action, policy",
        sq(["action", "policy"], where="bytes_in = 0"))
    add("int boundaries", "where dst_port = 0 or dst_port = 65535 or src_port <= 0 | fields ts, dst_port, src_port",
        rq("dst_port = 0 OR dst_port = 65535 OR src_port <= 0", ["ts", "dst_port", "src_port"]),
        mode="runs")
    # ---- strings
    for op in ("=", "!=", "<", "<=", ">", ">="):
        sop = "<>" if op == "!=" else op
        lit = "wallen0502" if op in ("=", "<=", ">") else "m"
        add("str %s" % op, 'where user %s "%s" | stats count(), dcount(user) by device' % (op, lit),
            sq(["device"], ["count", "dcount:user"], where="user %s '%s'" % (sop, lit)))
    add("str device =", 'where device = "fw-hq-02" | stats count() by action',
        sq(["action"], where="device = 'fw-hq-02'"))
    add("str device !=", 'where action != "allow" | stats count() by device, action',
        sq(["device", "action"], where="action <> 'allow'"))
    add("str escapes", r'where user = "say \"hi\"" or user = "back\\slash" | fields user, ts',
        rq("user = 'say \"hi\"' OR user = 'back\\slash'", ["user", "ts"]), mode="runs")
    add("str unicode", 'where user = "Ünïcödé ✓ 日本" or user = "müller0001" | fields ts, user, src_ip',
        rq("user IN ('Ünïcödé ✓ 日本', 'müller0001')", ["ts", "user", "src_ip"]), mode="runs")
    # ---- IPs
    for op in ("=", "!=", "<", "<=", ">", ">="):
        sop = "<>" if op == "!=" else op
        add("ip %s" % op, "where src_ip %s 10.1.2.3 | stats count() by src_zone" % op,
            sq(["src_zone"], where="src_ip_k %s %s" % (sop, K("10.1.2.3"))))
    add("ip v6 <", "where dst_ip < 2001:db8:8000:: and dst_ip >= 2001:db8:: | stats count() by proto",
        sq(["proto"], where="dst_ip_k < %s AND dst_ip_k >= %s" % (K("2001:db8:8000::"), K("2001:db8::"))))
    add("ip v6 > v4", "where dst_ip > 255.255.255.255 | stats count(), min(dst_ip), max(dst_ip)",
        sq([], ["count", "min:dst_ip", "max:dst_ip"], where="dst_ip_k > %s" % K("255.255.255.255")))
    v6 = db.execute("SELECT dst_ip FROM ev WHERE dst_ip LIKE '2001:db8:%' AND dst_ip NOT LIKE "
                    "'2001:db8:100:%' GROUP BY dst_ip ORDER BY COUNT(*) DESC, dst_ip LIMIT 1").fetchone()[0]
    add("ip v6 =", "where dst_ip = %s | stats count() by src_ip" % v6,
        sq(["src_ip"], where="dst_ip_k = %s" % K(v6)))
    add("ip v6 = non-canonical input", "where dst_ip = 2001:db8::1 or src_ip = 2001:db8::2 | fields ts, src_ip, dst_ip",
        rq("dst_ip_k = %s OR src_ip_k = %s" % (K("2001:db8::1"), K("2001:db8::2")),
           ["ts", "src_ip", "dst_ip"]), mode="runs")
    add("ip rfc5952 output", 'where device = "fw-lab-01" and dst_ip in 2001:db8::/32 | fields dst_ip, src_ip',
        rq("device = 'fw-lab-01' AND " + CIDR("dst_ip", "2001:db8::/32"), ["dst_ip", "src_ip"]),
        mode="runs")
    # ---- time
    t_exact = ts_of("src_ip_k = %s" % K("198.51.100.66"))
    t_lit = UTC.fmt(t_exact)
    for op in ("=", "!=", "<", "<=", ">", ">="):
        sop = "<>" if op == "!=" else op
        add("time %s" % op, "where ts %s %s | stats count(), min(ts), max(ts)" % (op, t_lit),
            sq([], ["count", "min:ts", "max:ts"], where="ts %s %d" % (sop, t_exact)))
    add("time = exact event", "where ts = %s | fields ts, src_ip, dst_port" % t_lit,
        rq("ts = %d" % t_exact, ["ts", "src_ip", "dst_port"]), mode="runs")
    t2 = parse_rfc3339("2025-03-08T12:30:00.5Z")
    add("time frac", "where ts > 2025-03-08T12:30:00.5Z and ts < 2025-03-08T12:31:00Z | stats count()",
        sq([], where="ts > %d AND ts < %d" % (t2, parse_rfc3339("2025-03-08T12:31:00Z"))))
    t3 = parse_rfc3339("2025-03-08T12:00:00+09:00")
    add("time offset literal", "where ts <= 2025-03-08T12:00:00+09:00 and ts >= 2025-03-08T02:00:00Z | stats count() by bin(ts, 15m)",
        sq(["bin:15m"], where="ts <= %d AND ts >= %d" % (t3, parse_rfc3339("2025-03-08T02:00:00Z"))))
    for tz in (None, "Asia/Tokyo", "America/New_York"):
        z = Zone(tz)
        add("time date literal tz=%s" % tz, "where ts >= 2025-03-09 and ts < 2025-03-10 | stats count() by bin(ts, 1h)",
            sq(["bin:1h"], where="ts >= %d AND ts < %d" % (z.parse("2025-03-09"), z.parse("2025-03-10"))),
            tz=tz)
    add("time or prune", "where ts < 2025-03-06T01:00:00Z or ts >= 2025-03-11T23:00:00Z | stats count() by day(ts)",
        sq(["day"], where="ts < %d OR ts >= %d" % (parse_rfc3339("2025-03-06T01:00:00Z"),
                                                   parse_rfc3339("2025-03-11T23:00:00Z"))))
    add("time not", "where not ts >= 2025-03-07 | stats count() by day(ts)",
        sq(["day"], where="NOT ts >= %d" % UTC.parse("2025-03-07")))
    add("time between", "where ts between 2025-03-08 and 2025-03-08T06:00:00Z | stats count() by hour(ts)",
        sq(["hour"], where="ts BETWEEN %d AND %d" % (UTC.parse("2025-03-08"),
                                                     parse_rfc3339("2025-03-08T06:00:00Z"))))
    t_exact2 = ts_of("dst_ip_k = %s" % K("198.51.100.23"))
    add("time in list", "where ts in (%s, %s, 2025-03-09T00:00:00Z) | fields ts, dst_ip"
        % (t_lit, UTC.fmt(t_exact2)),
        rq("ts IN (%d, %d, %d)" % (t_exact, t_exact2, parse_rfc3339("2025-03-09T00:00:00Z")),
           ["ts", "dst_ip"]), mode="runs")

    # ---- in / not in
    add("in ints", "where dst_port in (22, 23, 3389) | stats count() by dst_port, action",
        sq(["dst_port", "action"], where="dst_port IN (22, 23, 3389)"))
    add("not in ints", "where dst_port not in (443, 80, 53) | stats count() by proto",
        sq(["proto"], where="dst_port NOT IN (443, 80, 53)"))
    add("in strings", 'where proto in ("udp", "icmp") | stats count() by proto, action',
        sq(["proto", "action"], where="proto IN ('udp', 'icmp')"))
    add("not in strings null", 'where user not in ("wallen0502", "a,b") | stats count(), dcount(user)',
        sq([], ["count", "dcount:user"], where="user NOT IN ('wallen0502', 'a,b')"))
    add("in ips", "where src_ip in (10.1.2.3, 10.9.0.1, %s) | stats count() by src_ip" % v6,
        sq(["src_ip"], where="src_ip_k IN (%s, %s, %s)" % (K("10.1.2.3"), K("10.9.0.1"), K(v6))))
    add("not in ips", "where dst_ip not in (10.250.0.53, 10.250.0.54) and dst_port = 53 | stats count() by dst_ip | top 3",
        sq(["dst_ip"], where="dst_ip_k NOT IN (%s, %s) AND dst_port = 53" % (K("10.250.0.53"), K("10.250.0.54")), top=3))
    add("in ip and cidr list", "where src_ip in (10.1.2.3, 10.250.0.0/16) | stats count() by device",
        sq(["device"], where="(src_ip_k = %s OR %s)" % (K("10.1.2.3"), CIDR("src_ip", "10.250.0.0/16"))))

    # ---- CIDR
    for net in ("10.0.0.0/8", "10.250.0.0/16", "10.1.4.0/24", "10.1.4.44/32", "198.51.100.0/24"):
        add("cidr %s" % net, "where src_ip in %s | stats count(), dcount(dst_ip) by src_zone" % net,
            sq(["src_zone"], ["count", "dcount:dst_ip"], where=CIDR("src_ip", net)))
    add("cidr not in", "where dst_ip not in 10.0.0.0/8 | stats count() by dst_zone",
        sq(["dst_zone"], where="NOT " + CIDR("dst_ip", "10.0.0.0/8")))
    add("cidr 0/0 v4 only", "where dst_ip in 0.0.0.0/0 | stats count()",
        sq([], where=CIDR("dst_ip", "0.0.0.0/0")))
    add("cidr ::/0 all", "where dst_ip in ::/0 | stats count()", sq([], where=CIDR("dst_ip", "::/0")))
    for net in ("2001:db8::/32", "2001:db8:100::/48", "2001:db8:100:101::/64",
                "2001:db8:100:101::75/128"):
        add("cidr v6 %s" % net, "where src_ip in %s | stats count() by device" % net,
            sq(["device"], where=CIDR("src_ip", net)))
    add("cidr v6 not in", "where src_ip not in 2001:db8::/32 and dst_port = 443 | stats count() by src_zone",
        sq(["src_zone"], where="NOT %s AND dst_port = 443" % CIDR("src_ip", "2001:db8::/32")))

    # ---- between
    add("between ints", "where duration between 3601 and 36000 | stats count() by dst_port",
        sq(["dst_port"], where="duration BETWEEN 3601 AND 36000"))
    add("between strings", 'where user between "a" and "c" | stats count(), dcount(user) by device',
        sq(["device"], ["count", "dcount:user"], where="user BETWEEN 'a' AND 'c'"))
    add("between ips", "where dst_ip between 198.51.100.0 and 198.51.100.255 | stats count() by dst_ip",
        sq(["dst_ip"], where="dst_ip_k BETWEEN %s AND %s" % (K("198.51.100.0"), K("198.51.100.255"))))
    add("between hour", "where hour(ts) between 22 and 23 | stats count() by day(ts)",
        sq(["day"], where="lhour(ts) BETWEEN 22 AND 23"))

    # ---- contains / startswith / endswith
    add("contains", 'where user contains "smith" | stats count(), dcount(user)',
        sq([], ["count", "dcount:user"], where="has(user, 'smith')"))
    add("startswith", 'where user startswith "j" | stats count() by device',
        sq(["device"], where="sw(user, 'j')"))
    add("endswith", 'where user endswith "0042" | stats count() by user',
        sq(["user"], where="ew(user, '0042')"))
    add("contains device", 'where device contains "hq" | stats count() by device',
        sq(["device"], where="has(device, 'hq')"))
    add("endswith -01", 'where device endswith "-01" and dst_port = 22 | stats count() by device',
        sq(["device"], where="ew(device, '-01') AND dst_port = 22"))
    add("contains comma", 'where user contains "," or user contains "\\\\" | fields user',
        rq("has(user, ',') OR has(user, '\\')", ["user"]), mode="runs")
    add("not contains null", 'where not user contains "a" | stats count() by device',
        sq(["device"], where="NOT has(user, 'a')"))

    # ---- not / and / or / precedence
    add("prec and over or", 'where dst_port = 53 or dst_port = 123 and proto = "tcp" | stats count() by dst_port, proto',
        sq(["dst_port", "proto"], where="dst_port = 53 OR (dst_port = 123 AND proto = 'tcp')"))
    add("parens", 'where (dst_port = 53 or dst_port = 123) and proto = "udp" | stats count() by dst_port, proto',
        sq(["dst_port", "proto"], where="(dst_port = 53 OR dst_port = 123) AND proto = 'udp'"))
    add("not binds tight", 'where not action = "allow" and dst_port = 80 | stats count() by action',
        sq(["action"], where="(NOT action = 'allow') AND dst_port = 80"))
    add("not parens", 'where not (action = "allow" and dst_port = 80) | stats count() by action',
        sq(["action"], where="NOT (action = 'allow' AND dst_port = 80)"))
    add("not or null", 'where not (user = "wallen0502" or dst_port = 443) | stats count()',
        sq([], where="NOT (user = 'wallen0502' OR dst_port = 443)"))
    add("not not", 'where not not proto = "icmp" | stats count()',
        sq([], where="NOT NOT proto = 'icmp'"))
    add("not null or", 'where not user = "x" or dst_port = 22 | stats count() by device',
        sq(["device"], where="(NOT user = 'x') OR dst_port = 22"))
    add("deep parens", 'where ((dst_port = 22) or (dst_port = 23 and not (proto = "udp"))) and ((action = "deny")) | stats count() by dst_port',
        sq(["dst_port"], where="((dst_port = 22) OR (dst_port = 23 AND NOT (proto = 'udp'))) AND action = 'deny'"))
    add("str != null", 'where user != "wallen0502" | stats count()',
        sq([], where="user <> 'wallen0502'"))
    add("several where", 'where dst_port = 443 | where action = "deny" | stats count() by src_zone',
        sq(["src_zone"], where="dst_port = 443 AND action = 'deny'"))
    add("or chain", "where dst_port = 21 or dst_port = 22 or dst_port = 23 or dst_port = 25 or dst_port = 110 or dst_port = 143 | stats count() by dst_port",
        sq(["dst_port"], where="dst_port IN (21, 22, 23, 25, 110, 143)"))

    # ---- hour / dow / day operands
    add("hour =", "where hour(ts) = 3 | stats count() by src_ip | top 3",
        sq(["src_ip"], where="lhour(ts) = 3", top=3))
    add("hour >=", "where hour(ts) >= 22 | stats count() by hour(ts)",
        sq(["hour"], where="lhour(ts) >= 22"))
    add("dow in", "where dow(ts) in (6, 7) | stats count() by day(ts), dow(ts)",
        sq(["day", "dow"], where="ldow(ts) IN (6, 7)"))
    add("dow !=", "where dow(ts) != 1 | stats count() by dow(ts)",
        sq(["dow"], where="ldow(ts) <> 1"))
    add("day =", "where day(ts) = 2025-03-08 | stats count() by hour(ts)",
        sq(["hour"], where="lday(ts) = %d" % day_num("2025-03-08")))
    add("day between", "where day(ts) between 2025-03-07 and 2025-03-09 | stats count() by day(ts)",
        sq(["day"], where="lday(ts) BETWEEN %d AND %d" % (day_num("2025-03-07"), day_num("2025-03-09"))))
    add("day >", "where day(ts) > 2025-03-09 | stats count() by day(ts)",
        sq(["day"], where="lday(ts) > %d" % day_num("2025-03-09")))
    add("day in", "where day(ts) in (2024-12-31, 2025-03-11) | stats count() by day(ts)",
        sq(["day"], where="lday(ts) IN (%d, %d)" % (day_num("2024-12-31"), day_num("2025-03-11"))))
    for tz in ("Asia/Tokyo", "America/New_York", "+09:00"):
        add("hour = tz=%s" % tz, "where hour(ts) = 3 and dst_port = 443 | stats count() by day(ts)",
            sq(["day"], where="lhour(ts) = 3 AND dst_port = 443"), tz=tz)
        add("dow/day tz=%s" % tz, "where dow(ts) = 7 or day(ts) = 2025-03-10 | stats count() by day(ts), dow(ts)",
            sq(["day", "dow"], where="ldow(ts) = 7 OR lday(ts) = %d" % day_num("2025-03-10")), tz=tz)

    # ---- range
    add("range dates", "range 2025-03-07 .. 2025-03-08 | stats count()",
        sq([], where="ts >= %d AND ts < %d" % (UTC.parse("2025-03-07"), UTC.parse("2025-03-08"))))
    add("range datetimes", "range 2025-03-07T10:00:00Z .. 2025-03-07T14:00:00Z | stats count() by bin(ts, 15m)",
        sq(["bin:15m"], where="ts >= %d AND ts < %d" % (parse_rfc3339("2025-03-07T10:00:00Z"),
                                                       parse_rfc3339("2025-03-07T14:00:00Z"))))
    add("range offsets", "range 2025-03-08T09:00:00+09:00 .. 2025-03-09T00:00:00+01:00 | stats count() by hour(ts)",
        sq(["hour"], where="ts >= %d AND ts < %d" % (parse_rfc3339("2025-03-08T09:00:00+09:00"),
                                                    parse_rfc3339("2025-03-09T00:00:00+01:00"))))
    add("range frac", "range 2025-03-08T10:00:00Z .. 2025-03-08T10:00:00.500001Z | fields ts, user",
        rq("ts >= %d AND ts < %d" % (parse_rfc3339("2025-03-08T10:00:00Z"),
                                     parse_rfc3339("2025-03-08T10:00:00.500001Z")), ["ts", "user"]),
        mode="runs")
    add("range lone day", "range 2024-12-01 .. 2025-01-01 | fields ts, user, device",
        rq("ts >= %d AND ts < %d" % (UTC.parse("2024-12-01"), UTC.parse("2025-01-01")),
           ["ts", "user", "device"]), mode="runs")
    add("range empty count", "range 2030-01-01 .. 2030-01-02 | stats count(), sum(bytes_out), min(user)",
        sq([], ["count", "sum:bytes_out", "min:user"], where="ts >= %d AND ts < %d"
           % (UTC.parse("2030-01-01"), UTC.parse("2030-01-02"))))
    add("range empty groups", "range 2030-01-01 .. 2030-01-02 | stats count() by dst_port",
        sq(["dst_port"], where="ts >= %d AND ts < %d" % (UTC.parse("2030-01-01"), UTC.parse("2030-01-02"))))
    add("range and where", 'range 2025-03-07 .. 2025-03-09 | where dst_port = 25 | stats count() by src_ip | top 3',
        sq(["src_ip"], where="ts >= %d AND ts < %d AND dst_port = 25"
           % (UTC.parse("2025-03-07"), UTC.parse("2025-03-09")), top=3))
    for tz in ("Asia/Tokyo", "America/New_York", "+09:00"):
        z = Zone(tz)
        add("range dates tz=%s" % tz, "range 2025-03-09 .. 2025-03-10 | stats count() by bin(ts, 1h)",
            sq(["bin:1h"], where="ts >= %d AND ts < %d" % (z.parse("2025-03-09"), z.parse("2025-03-10"))),
            tz=tz)
    # ---- last N with --now
    now_us = parse_rfc3339(NOW)
    for d in ("2d", "36h", "2000m", "100000s"):
        add("last %s" % d, "last %s | stats count() by day(ts)" % d,
            sq(["day"], where="ts >= %d" % (now_us - dur_us(d))), now=NOW)
    add("last tz", "last 3d | where dst_port = 22 | stats count() by day(ts)",
        sq(["day"], where="ts >= %d AND dst_port = 22" % (now_us - dur_us("3d"))), now=NOW,
        tz="America/New_York")

    # ---- stats: aggregates, renames, keys
    add("aggs all", "stats count(), sum(bytes_in), min(bytes_out), max(duration), avg(bytes_out), dcount(user) by device",
        sq(["device"], ["count", "sum:bytes_in", "min:bytes_out", "max:duration", "avg:bytes_out", "dcount:user"]))
    add("aggs no by", "stats count(), sum(bytes_out), avg(duration), dcount(src_ip), dcount(dst_port), min(ts), max(ts)",
        sq([], ["count", "sum:bytes_out", "avg:duration", "dcount:src_ip", "dcount:dst_port", "min:ts", "max:ts"]))
    add("aggs as", "stats count() as n, avg(duration) as mean_dur, sum(bytes_out) as total by proto | sort n desc",
        sq(["proto"], ["count as n", "avg:duration as mean_dur", "sum:bytes_out as total"],
           order=[("n", True)]))
    add("key as", "stats count() as n by dst_port as port, hour(ts) as h | top 5 by n",
        sq(["dst_port as port", "hour as h"], ["count as n"], top=(5, "n")))
    add("null aggs", "stats count(), sum(bytes_in), avg(bytes_in), min(bytes_in), max(policy), dcount(policy) by device",
        sq(["device"], ["count", "sum:bytes_in", "avg:bytes_in", "min:bytes_in", "max:policy", "dcount:policy"]))
    add("min/max strings", "stats min(user), max(user), min(proto), max(device) by src_zone",
        sq(["src_zone"], ["min:user", "max:user", "min:proto", "max:device"]))
    add("min/max ips", "stats min(src_ip), max(src_ip), min(dst_ip), max(dst_ip) by proto",
        sq(["proto"], ["min:src_ip", "max:src_ip", "min:dst_ip", "max:dst_ip"]))
    for tz in (None, "Asia/Tokyo", "America/New_York"):
        add("min/max ts tz=%s" % tz, "stats min(ts), max(ts), count() by day(ts)",
            sq(["day"], ["min:ts", "max:ts", "count"]), tz=tz)
    add("null key group", "stats count() by user | limit 5", sq(["user"], limit=5))
    add("null key int", "stats count(), dcount(src_ip) by policy", sq(["policy"], ["count", "dcount:src_ip"]))
    add("null key ip", "where device = \"fw-lab-01\" or device = \"fw-hq-01\" and dst_port = 6667 | stats count() by src_ip",
        sq(["src_ip"], where="device = 'fw-lab-01' OR (device = 'fw-hq-01' AND dst_port = 6667)"))
    add("multi key 3", "stats count(), sum(bytes_out) by device, proto, action",
        sq(["device", "proto", "action"], ["count", "sum:bytes_out"]))
    add("multi key day/action", "stats count() by day(ts), action", sq(["day", "action"]))
    add("multi key ip/port", "where src_ip in 10.250.0.0/16 | stats count() by dst_port, src_ip",
        sq(["dst_port", "src_ip"], where=CIDR("src_ip", "10.250.0.0/16")))
    for b in ("30s", "15m", "90m", "6h", "1d"):
        where = None
        q = "stats count(), dcount(src_ip) by bin(ts, %s)" % b
        if b == "30s":
            q = "range 2025-03-07T22:35:00Z .. 2025-03-07T23:10:00Z | " + q
            where = "ts >= %d AND ts < %d" % (parse_rfc3339("2025-03-07T22:35:00Z"),
                                              parse_rfc3339("2025-03-07T23:10:00Z"))
        add("bin %s" % b, q, sq(["bin:" + b], ["count", "dcount:src_ip"], where=where))
    for tz in ("Asia/Tokyo", "America/New_York", "+09:00"):
        add("bin 1d tz=%s" % tz, "stats count() by bin(ts, 1d)", sq(["bin:1d"]), tz=tz)
        add("bin 15m dst tz=%s" % tz,
            "range 2025-03-09T05:00:00Z .. 2025-03-09T09:00:00Z | stats count() by bin(ts, 15m), action",
            sq(["bin:15m", "action"], where="ts >= %d AND ts < %d" % (
                parse_rfc3339("2025-03-09T05:00:00Z"), parse_rfc3339("2025-03-09T09:00:00Z"))), tz=tz)
    add("bin + key", "where dst_port = 6667 | stats count() by bin(ts, 1d), src_ip", sq(["bin:1d", "src_ip"],
        where="dst_port = 6667"))

    # ---- where after stats
    add("post where count", "stats count() by dst_port | where count > 1000",
        sq(["dst_port"], post="_count > 1000"))
    add("post where dcount", "where dst_port = 25 | stats dcount(dst_ip) by src_ip | where dcount_dst_ip >= 10",
        sq(["src_ip"], ["dcount:dst_ip"], where="dst_port = 25", post="_dcount_dst_ip >= 10"))
    add("post where null key", 'stats count() by user | where count >= 400 and user != "x"',
        sq(["user"], post="_count >= 400 AND _user <> 'x'"))
    add("post where str", 'stats count() by user | where user startswith "z" and count > 40',
        sq(["user"], post="sw(_user, 'z') AND _count > 40"))
    add("post where avg", "stats avg(duration) by dst_port | where avg_duration > 1000",
        sq(["dst_port"], ["avg:duration"], post="_avg_duration > 1000"))
    add("post where hour", "stats count() by hour(ts) | where hour in (0, 12, 23)",
        sq(["hour"], post="_hour IN (0, 12, 23)"))
    add("post where day", "stats count() by day(ts) | where day >= 2025-03-09",
        sq(["day"], post="_day >= %d" % day_num("2025-03-09")))
    add("post where bin", "stats count() by bin(ts, 1d) | where bin > 2025-03-08",
        sq(["bin:1d"], post="_bin > %d" % UTC.parse("2025-03-08")))
    add("post where bin tz", "stats count() by bin(ts, 6h) | where bin >= 2025-03-09 and bin < 2025-03-10",
        sq(["bin:6h"], post="_bin >= %d AND _bin < %d" % (Zone("America/New_York").parse("2025-03-09"),
                                                         Zone("America/New_York").parse("2025-03-10"))),
        tz="America/New_York")
    add("post where ip", "stats min(src_ip), count() by device | where min_src_ip in 10.0.0.0/8",
        sq(["device"], ["min:src_ip", "count"], post=CIDR("_min_src_ip", "10.0.0.0/8", raw=True)))
    add("post where then top", "stats count() by src_ip | where count < 50 | top 5",
        sq(["src_ip"], post="_count < 50", top=5))
    add("post where or/not", "stats count(), sum(bytes_out) by proto, action | where not (proto = \"tcp\" or count < 2000)",
        sq(["proto", "action"], ["count", "sum:bytes_out"], post="NOT (_proto = 'tcp' OR _count < 2000)"))

    # ---- top / bottom / sort / limit
    add("bottom ports ties", "stats count() by dst_port | bottom 10", sq(["dst_port"], bottom=10))
    add("top dcount", "stats dcount(dst_port) by src_ip | top 5", sq(["src_ip"], ["dcount:dst_port"], top=5))
    add("top by sum", "stats count(), sum(bytes_out) by user | top 5 by sum_bytes_out",
        sq(["user"], ["count", "sum:bytes_out"], top=(5, "sum_bytes_out")))
    add("bottom by sum", "where user startswith \"a\" | stats count(), sum(bytes_out) by user | bottom 3 by sum_bytes_out",
        sq(["user"], ["count", "sum:bytes_out"], where="sw(user, 'a')", bottom=(3, "sum_bytes_out")))
    add("top by key", "stats count() by dst_port | top 7 by dst_port", sq(["dst_port"], top=(7, "dst_port")))
    add("bottom ties multikey", "where dst_port = 25 | stats count() by src_ip, dst_ip | bottom 12",
        sq(["src_ip", "dst_ip"], where="dst_port = 25", bottom=12))
    add("top ties avg", "stats avg(duration), count() by dst_port | top 8",
        sq(["dst_port"], ["avg:duration", "count"], top=8))
    add("top few groups", "stats count() by proto | top 2", sq(["proto"], top=2))
    add("bottom few groups", "stats count(), sum(bytes_in) by device | bottom 2", sq(["device"], ["count", "sum:bytes_in"], bottom=2))
    add("top hours", "stats count() by hour(ts) | top 10", sq(["hour"], top=10))
    add("top more than rows", "stats count() by proto | top 50", sq(["proto"], top=50))
    add("top then sort", "stats count() by dst_port | top 10 | sort dst_port desc",
        "SELECT * FROM (%s) ORDER BY dst_port DESC" % sq(["dst_port"], top=10))
    add("sort asc", "stats count() by device | sort count", sq(["device"], order=[("count", False)]))
    add("sort multi", "stats count() by proto, action | sort action, count desc",
        sq(["proto", "action"], order=[("action", False), ("count", True)]))
    add("sort multi desc", "stats sum(bytes_in) by src_zone, dst_zone | sort src_zone desc, dst_zone asc",
        sq(["src_zone", "dst_zone"], ["sum:bytes_in"], order=[("src_zone", True), ("dst_zone", False)]))
    add("sort ip desc", "where dst_port = 6667 or dst_port = 5555 | stats count() by src_ip | sort src_ip desc",
        sq(["src_ip"], where="dst_port IN (6667, 5555)", order=[("src_ip", True)]))
    add("sort limit", "stats count() by dst_port | sort count desc, dst_port asc | limit 15",
        sq(["dst_port"], order=[("count", True), ("dst_port", False)], limit=15))
    add("limit keys", "stats count() by dst_port | limit 5", sq(["dst_port"], limit=5))
    add("where limit", "stats count() by day(ts) | where count > 10000 | limit 2",
        sq(["day"], post="_count > 10000", limit=2))

    # ---- raw events
    add("raw all cols", "where dst_ip = 198.51.100.23",
        rq("dst_ip_k = %s" % K("198.51.100.23")), mode="runs")
    add("raw limit", "where src_ip = 10.1.4.44 and dst_port = 25 | limit 20",
        rq("src_ip_k = %s AND dst_port = 25" % K("10.1.4.44")), mode="runs", limit=20)
    add("raw fields", "where dst_ip = 198.51.100.23 | fields ts, src_ip, src_port, dst_port",
        rq("dst_ip_k = %s" % K("198.51.100.23"), ["ts", "src_ip", "src_port", "dst_port"]), mode="runs")
    add("raw fields reorder", "where dst_ip = 198.51.100.78 | fields src_port, ts, user",
        rq("dst_ip_k = %s" % K("198.51.100.78"), ["src_port", "ts", "user"]), mode="runs")
    add("raw fields no ts", 'where user = "wallen0502" | fields user, dst_ip, bytes_out',
        rq("user = 'wallen0502'", ["user", "dst_ip", "bytes_out"]), mode="runs")
    add("raw sort desc", "where duration > 20000 | sort duration desc | limit 5",
        rq("duration > 20000", order="duration DESC", runkey="duration"), mode="runs", limit=5)
    add("raw sort asc fields", "where src_ip = 198.51.100.66 | fields dst_port, action | sort dst_port | limit 10",
        rq("src_ip_k = %s" % K("198.51.100.66"), ["dst_port", "action"], order="dst_port",
           runkey="dst_port"), mode="runs", limit=10)
    add("raw top", "where dst_port = 6667 | top 3 by bytes_out",
        rq("dst_port = 6667", order="bytes_out DESC", runkey="bytes_out"), mode="runs", limit=3)
    add("raw bottom", "where dst_port = 443 and hour(ts) = 3 | bottom 4 by bytes_in",
        rq("dst_port = 443 AND lhour(ts) = 3", order="bytes_in ASC", runkey="bytes_in"),
        mode="runs", limit=4)
    add("raw lab rows", 'where device = "fw-lab-01" or device = "fw-hq-01" and src_port < 1031',
        rq("device = 'fw-lab-01' OR (device = 'fw-hq-01' AND src_port < 1031)"), mode="runs")
    add("raw null device", "where not device startswith \"fw-hq\" and not device startswith \"fw-branch\"",
        rq("NOT sw(device, 'fw-hq') AND NOT sw(device, 'fw-branch')"), mode="runs")
    for tz in ("America/New_York", "Asia/Tokyo", "+09:00"):
        add("raw dst change tz=%s" % tz,
            "range 2025-03-09T06:58:00Z .. 2025-03-09T07:02:00Z | fields ts, device, src_ip, dst_port",
            rq("ts >= %d AND ts < %d" % (parse_rfc3339("2025-03-09T06:58:00Z"),
                                         parse_rfc3339("2025-03-09T07:02:00Z")),
               ["ts", "device", "src_ip", "dst_port"]), mode="runs", tz=tz)
    add("raw ts where", "where ts >= 2025-03-10T12:00:00Z and ts < 2025-03-10T12:00:05Z",
        rq("ts >= %d AND ts < %d" % (parse_rfc3339("2025-03-10T12:00:00Z"),
                                     parse_rfc3339("2025-03-10T12:00:05Z"))), mode="runs")
    add("raw last", "last 100000s | where dst_port = 6667 | fields ts, src_ip",
        rq("ts >= %d AND dst_port = 6667" % (now_us - dur_us("100000s")), ["ts", "src_ip"]),
        mode="runs", now=NOW)
    # ---- index-friendly tests (bitmaps), absent literals, NOT over NULLs
    add("ne absent str", 'where device != "x" | stats count() by device',
        sq(["device"], where="device <> 'x'"))
    add("ne absent indexed str", 'where user != "nobody" | stats count()', sq([], where="user <> 'nobody'"))
    add("ne absent ip", "where src_ip != 1.2.3.4 and dst_port = 6667 | stats count()",
        sq([], where="src_ip_k <> %s AND dst_port = 6667" % K("1.2.3.4")))
    add("ne absent ip6", "where dst_ip != ::1 | stats count()", sq([], where="dst_ip_k <> %s" % K("::1")))
    add("ne absent int", "where dst_port != 7 | stats count()", sq([], where="dst_port <> 7"))
    add("ne post stats", 'stats count() by proto | where proto != "x"', sq(["proto"], post="_proto <> 'x'"))
    add("ne post stats ip", "stats count() by src_ip | where src_ip != 1.2.3.4 | top 3",
        sq(["src_ip"], post="_src_ip <> %s" % K("1.2.3.4"), top=3))
    add("not in absent str", 'where user not in ("nobody") | stats count()',
        sq([], where="user NOT IN ('nobody')"))
    add("not in absent mix", 'where proto not in ("x", "udp") | stats count() by proto',
        sq(["proto"], where="proto NOT IN ('x', 'udp')"))
    add("not in ips absent", "where dst_ip not in (1.2.3.4, 10.250.0.53) | stats count()",
        sq([], where="dst_ip_k NOT IN (%s, %s)" % (K("1.2.3.4"), K("10.250.0.53"))))
    add("in absent", 'where user in ("nobody", "wallen0502") | stats count() by user',
        sq(["user"], where="user IN ('nobody', 'wallen0502')"))
    add("cidr absent not in", "where src_ip not in 192.0.2.0/24 | stats count()",
        sq([], where="NOT " + CIDR("src_ip", "192.0.2.0/24")))
    add("not eq idx", "where not dst_port = 443 | stats count()", sq([], where="NOT dst_port = 443"))
    add("not in idx", "where not (dst_port in (80, 443)) | stats count()",
        sq([], where="NOT (dst_port IN (80, 443))"))
    add("not cidr idx", "where not src_ip in 10.0.0.0/8 | stats count()",
        sq([], where="NOT " + CIDR("src_ip", "10.0.0.0/8")))
    add("not ne", 'where not user != "wallen0502" | stats count()',
        sq([], where="NOT user <> 'wallen0502'"))
    add("ne or eq", 'where user != "nobody" or user = "nobody" | stats count()',
        sq([], where="user <> 'nobody' OR user = 'nobody'"))
    add("idx or", 'where user = "wallen0502" or src_ip = 10.1.2.3 | stats count()',
        sq([], where="user = 'wallen0502' OR src_ip_k = %s" % K("10.1.2.3")))
    add("idx and not", 'where user = "wallen0502" and not dst_port = 443 | stats count() by dst_port',
        sq(["dst_port"], where="user = 'wallen0502' AND NOT dst_port = 443"))
    add("idx range", "where src_port between 1025 and 5000 | stats count() by src_ip",
        sq(["src_ip"], where="src_port BETWEEN 1025 AND 5000"))
    add("idx and range", "where dst_port >= 1 and dst_port <= 1024 and src_ip = 198.51.100.66 | stats count(), dcount(dst_port)",
        sq([], ["count", "dcount:dst_port"], where="dst_port >= 1 AND dst_port <= 1024 AND src_ip_k = %s" % K("198.51.100.66")))
    add("str > empty", 'where user > "" | stats count()', sq([], where="user > ''"))
    ports = list(range(1, 400, 2))
    add("in long list", "where dst_port in (%s) | stats count()" % ", ".join(map(str, ports)),
        sq([], where="dst_port IN (%s)" % ", ".join(map(str, ports))))
    chain = list(range(20, 80))
    add("or chain long", "where " + " or ".join("dst_port = %d" % p for p in chain) + " | stats count() by proto",
        sq(["proto"], where="dst_port IN (%s)" % ", ".join(map(str, chain))))
    add("and chain long", "where " + " and ".join("dst_port != %d" % p for p in chain) + " | stats count()",
        sq([], where="dst_port NOT IN (%s)" % ", ".join(map(str, chain))))
    add("raw sort str", "where dst_port = 5555 | sort user desc, src_port asc | fields user, src_port, ts | limit 5",
        rq("dst_port = 5555", ["user", "src_port", "ts"], order="user DESC, src_port ASC",
           runkey="COALESCE(user, '') || '|' || src_port"), mode="runs", limit=5)
    add("raw top fields", "where dst_port = 443 and duration > 10000 | fields ts, duration | top 3 by duration",
        rq("dst_port = 443 AND duration > 10000", ["ts", "duration"], order="duration DESC",
           runkey="duration"), mode="runs", limit=3)
    add("raw top few rows", "where src_ip = 10.1.3.14 | top 12 by duration | fields ts, duration, dst_port",
        rq("src_ip_k = %s" % K("10.1.3.14"), ["ts", "duration", "dst_port"], order="duration DESC",
           runkey="duration"), mode="runs", limit=12)
    add("raw bottom few rows", "where src_ip = 10.1.3.14 | bottom 10 by bytes_out | fields ts, bytes_out",
        rq("src_ip_k = %s" % K("10.1.3.14"), ["ts", "bytes_out"], order="bytes_out ASC",
           runkey="bytes_out"), mode="runs", limit=10)
    add("dcount ip/ts", "stats dcount(dst_ip), dcount(ts), dcount(device) by action",
        sq(["action"], ["dcount:dst_ip", "dcount:ts", "dcount:device"]))
    # ---- a store made with `colog init --tz America/New_York` (hand-made rows only)
    ny = "America/New_York"
    add("store tz day/hour", "stats count() by day(ts), hour(ts)", sq(["day", "hour"], where="_x = 1"),
        store="tz", sqltz=ny)
    add("store tz raw", "where device = \"fw-lab-01\" | fields ts, user",
        rq("_x = 1 AND device = 'fw-lab-01'", ["ts", "user"]),
        mode="runs", store="tz", sqltz=ny)
    add("store tz date literal", "range 2025-03-07 .. 2025-03-09 | stats count() by bin(ts, 1d)",
        sq(["bin:1d"], where="_x = 1 AND ts >= %d AND ts < %d" % (zone(ny).parse("2025-03-07"),
                                                                 zone(ny).parse("2025-03-09"))),
        store="tz", sqltz=ny)
    add("store tz overridden", "stats count() by day(ts), hour(ts)", sq(["day", "hour"], where="_x = 1"),
        store="tz", tz="UTC", sqltz="UTC")
    # ---- more pipeline shapes
    add("raw across parts", "where dst_port = 6667 | limit 100",
        rq("dst_port = 6667"), mode="runs", limit=100)
    add("raw midnight late", "range 2025-03-06T23:50:00Z .. 2025-03-07T00:10:00Z | fields ts, device, src_port",
        rq("ts >= %d AND ts < %d" % (parse_rfc3339("2025-03-06T23:50:00Z"), parse_rfc3339("2025-03-07T00:10:00Z")),
           ["ts", "device", "src_port"]), mode="runs")
    add("raw sort ts desc", "where dst_port = 5555 | sort ts desc | limit 7",
        rq("dst_port = 5555", order="ev.ts DESC"), mode="runs", limit=7)
    add("raw bottom ts", "where dst_port = 8080 and src_ip = 10.2.0.66 | bottom 4 by ts | fields ts, dst_ip",
        rq("dst_port = 8080 AND src_ip_k = %s" % K("10.2.0.66"), ["ts", "dst_ip"]), mode="runs", limit=4)
    add("top then where", "stats count() by dst_port | top 10 | where count < 3000",
        "SELECT * FROM (%s) WHERE count < 3000 ORDER BY count DESC, dst_port" % sq(["dst_port"], top=10))
    add("two post wheres", "stats count() by dst_port | where count > 10 | where count < 1000",
        sq(["dst_port"], post="_count > 10 AND _count < 1000"))
    add("key ts tz", "where dst_ip = 198.51.100.78 | stats count() by ts", sq(["ts"], where="dst_ip_k = %s" % K("198.51.100.78")),
        tz="Asia/Tokyo")
    add("whitespace", "  where\tdst_port = 22\n  |  stats   count( )\n by  src_zone ",
        sq(["src_zone"], where="dst_port = 22"))
    add("leading pipe", "| where dst_port = 22 | stats count()", sq([], where="dst_port = 22"))
    add("last no pipe", "last 2d stats count() by day(ts)",
        sq(["day"], where="ts >= %d" % (now_us - dur_us("2d"))), now=NOW)
    add("post where float lit", "stats avg(duration) by dst_port | where avg_duration > 1000.5",
        sq(["dst_port"], ["avg:duration"], post="_avg_duration > 1000.5"))
    add("cidr list", "where src_ip in (10.1.4.0/24, 10.2.0.0/16) | stats count() by src_zone",
        sq(["src_zone"], where="(%s OR %s)" % (CIDR("src_ip", "10.1.4.0/24"), CIDR("src_ip", "10.2.0.0/16"))))
    add("cidr list not in", "where src_ip not in (10.0.0.0/8, 2001:db8::/32) | stats count() by src_zone",
        sq(["src_zone"], where="NOT (%s OR %s)" % (CIDR("src_ip", "10.0.0.0/8"), CIDR("src_ip", "2001:db8::/32"))))
    add("v4-mapped literal", "where src_ip = ::ffff:10.1.2.3 | stats count()",
        sq([], where="src_ip_k = %s" % K("10.1.2.3")))
    add("v4-mapped cidr", "where dst_ip in ::ffff:0:0/96 | stats count()",
        sq([], where=CIDR("dst_ip", "::ffff:0:0/96")))
    add("in single", "where dst_port in (3389) | stats count() by dst_ip | bottom 3",
        sq(["dst_ip"], where="dst_port IN (3389)", bottom=3))
    return P


# ------------------------------------------------------------------ comparison

def is_float_col(rows, i):
    return any(isinstance(r[i], float) for r in rows)


def cell_eq(e, g):
    if e is None:
        return g == ""
    if isinstance(e, bool):
        e = int(e)
    if isinstance(e, int):
        return g == str(e)
    if isinstance(e, float):
        try:
            gf = float(g)
        except ValueError:
            return False
        return gf == e or math.isclose(gf, e, rel_tol=1e-9, abs_tol=1e-12)
    return g == e


def canon(e, flt):
    if e is None:
        return ""
    if flt:
        return "%.9g" % float(e)
    return str(e)


def row_eq(er, gr):
    return len(er) == len(gr) and all(cell_eq(e, g) for e, g in zip(er, gr))


def show(rows, n=8):
    s = "\n".join("      %r" % (list(r),) for r in rows[:n])
    if len(rows) > n:
        s += "\n      ... (%d rows)" % len(rows)
    return s or "      (none)"


def compare(p, ehdr, erows, eruns, ghdr, grows):
    """None when equal, else a description of the first differences."""
    msgs = []
    if ghdr != ehdr:
        msgs.append("  header: expected %r, got %r" % (ehdr, ghdr))
    n = len(erows) if p.limit is None else min(p.limit, len(erows))
    if len(grows) != n:
        msgs.append("  rows: expected %d, got %d" % (n, len(grows)))
    if p.mode == "ordered":
        diffs = [i for i in range(min(n, len(grows))) if not row_eq(erows[i], grows[i])]
        for i in diffs[:5]:
            msgs.append("  row %d: expected %r\n         got      %r" % (i, list(erows[i]), grows[i]))
        if diffs:
            msgs.append("  (%d differing rows)" % len(diffs))
    else:
        ncols = len(ehdr)
        flts = [is_float_col(erows, i) for i in range(ncols)]

        def ek(r):
            return tuple(canon(v, flts[i]) for i, v in enumerate(r))

        def gk(r):
            return tuple((canon(v, True) if flts[i] and v != "" else v) for i, v in enumerate(r))
        segs = []
        if p.mode == "multiset":
            segs.append((0, n, n))
        else:
            i = 0
            while i < n:
                j = i
                while j < len(erows) and eruns[j] == eruns[i]:
                    j += 1
                segs.append((i, j, min(j, n)))
                i = j
        bad = 0
        for (i, j, k) in segs:
            want = collections.Counter(ek(r) for r in erows[i:j])
            got = collections.Counter(gk(r) for r in grows[i:k])
            if k == j:
                ok = want == got
            else:  # the limit cuts this run: any k - i of its rows will do
                ok = not (got - want) and sum(got.values()) == k - i
            if not ok:
                bad += 1
                if bad <= 3:
                    missing = list((want - got).elements()) if k == j else []
                    extra = list((got - want).elements())
                    msgs.append("  rows %d..%d (run key %r): missing %s; unexpected %s"
                                % (i, k - 1, eruns[i] if eruns else None, missing[:4], extra[:4]))
        if bad:
            msgs.append("  (%d differing runs)" % bad)
    if msgs:
        msgs.append("  expected (first rows):\n" + show([list(r) for r in erows[:n]]))
        msgs.append("  got (first rows):\n" + show(grows))
    return "\n".join(msgs) if msgs else None


ZONES = {}


def zone(name):
    if name not in ZONES:
        ZONES[name] = Zone(name)
    return ZONES[name]


def expected_of(db, p):
    CUR["zone"] = zone(p.sqltz)
    cur = db.execute(p.sql)
    hdr = [d[0] for d in cur.description]
    rows = cur.fetchall()
    runs = None
    if p.mode == "runs":
        hdr = hdr[:-1]
        runs = [r[-1] for r in rows]
        rows = [r[:-1] for r in rows]
    return hdr, rows, runs


def run_pairs(db, pairs, stores, phase, pool):
    t0 = time.time()
    futs = {p: pool.submit(colog_query, stores[p.store], p.query, "csv", p.tz, p.now)
            for p in pairs}
    for p in pairs:
        if p.expected is None:
            t = time.time()
            p.expected = expected_of(db, p)
            vlog("  sql %.2fs %s" % (time.time() - t, p.name))
    nfail = 0
    for p in pairs:
        rc, out, err = futs[p].result()
        NCHECKS["pairs"] += 1
        name = "[%s] %s" % (phase, p.title())
        if rc != 0:
            fail(name, "  exit %d\n  stderr: %s" % (rc, err.strip()[:2000]))
            nfail += 1
            continue
        ghdr, grows = parse_csv(out)
        ehdr, erows, eruns = p.expected
        d = compare(p, ehdr, erows, eruns, ghdr, grows)
        if d:
            fail(name, d)
            nfail += 1
        else:
            vlog("ok   [%s] %s (%d rows)" % (phase, p.name, len(grows)))
    log("%s: %d pairs, %d failed (%.1fs)" % (phase, len(pairs), nfail, time.time() - t0))


# ------------------------------------------------------------------ store building

def write_csv(path, hdr, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(hdr)
        w.writerows(rows)


def store_stats(store):
    rc, out, err = colog("stats", store, "--format", "json")
    if rc != 0:
        raise RuntimeError("colog stats failed (%d): %s" % (rc, err))
    return json.loads(out)


def build_data(tmp):
    gen = os.path.join(tmp, "gen.csv")
    t = time.time()
    # The generator keeps its tables until exit: under a sanitized build, don't count that as
    # a leak (colog itself still runs with the caller's ASAN_OPTIONS).
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    rc, out, err = run([COLOG_GEN, "--events", str(ARGS.events), "--seed", str(SEED), "--start", START,
                        "--days", str(DAYS), "--out", gen], env=env)
    if rc != 0:
        raise RuntimeError("colog-gen failed (%d): %s" % (rc, err))
    with open(gen, newline="", encoding="utf-8") as f:
        rd = csv.reader(f)
        hdr = next(rd)
        rows = list(rd)
    assert hdr == COLS, hdr
    # a: every third row as generated; b: the next third, columns reversed (fed on stdin);
    # c: the last third as NDJSON with +05:30 offset times and JSON numbers.
    write_csv(os.path.join(tmp, "a.csv"), hdr, rows[0::3])
    write_csv(os.path.join(tmp, "b.csv"), hdr[::-1], [r[::-1] for r in rows[1::3]])
    ist = Zone("+05:30")
    with open(os.path.join(tmp, "c.ndjson"), "w", encoding="utf-8") as f:
        for r in rows[2::3]:
            o = {}
            for c, v in zip(hdr, r):
                if c == "ts":
                    o[c] = ist.fmt(parse_rfc3339(v))
                elif v == "":
                    o[c] = None
                elif c in INT_COLS:
                    o[c] = int(v)
                else:
                    o[c] = v
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    ehdr, erows = extra_rows()
    write_csv(os.path.join(tmp, "extra.csv"), ehdr, erows)
    vlog("generated %d rows in %.1fs" % (len(rows), time.time() - t))
    return gen, (ehdr, erows), len(rows)


def ingest_ok(name, store, *files, stdin=None, fmt=None):
    args = ["ingest", store] + (["--format", fmt] if fmt else []) + list(files)
    rc, out, err = colog(*args, stdin=stdin)
    return check(name, rc == 0, "  colog %s -> exit %d\n  stderr: %s" % (" ".join(args), rc, err[:2000]))


def merge_check(tmp, store, pairs, pool):
    """Queries over a store of two ingests give the same answers after `colog merge`."""
    sel = [p for p in pairs if not (p.mode == "runs" and p.limit is not None) and p.store == "main"]
    before = list(pool.map(lambda p: colog_query(store, p.query, "csv", p.tz, p.now), sel))
    st0 = store_stats(store)
    rc, out, err = colog("merge", store)
    check("merge", rc == 0, "  colog merge -> exit %d: %s" % (rc, err))
    st1 = store_stats(store)
    check("merge stats", st1["total"]["rows"] == st0["total"]["rows"],
          "  rows before merge %s, after %s" % (st0["total"]["rows"], st1["total"]["rows"]))
    multi = [d["day"] for d in st1["days"] if d["parts"] != 1]
    check("merge stats", not multi, "  days with more than one part after merge: %s" % multi)
    after = list(pool.map(lambda p: colog_query(store, p.query, "csv", p.tz, p.now), sel))
    nbad = 0
    for p, b, a in zip(sel, before, after):
        same = b[0] == a[0] and (b[1] == a[1] if p.mode == "ordered" else
                                 sorted(b[1].splitlines()) == sorted(a[1].splitlines()))
        if not check("[merge] " + p.title(), same,
                     "  before merge: exit %d\n%s\n  after merge: exit %d\n%s"
                     % (b[0], b[1][:1500], a[0], a[1][:1500])):
            nbad += 1
    log("merge check: %d queries, %d differ before/after merge (parts %d -> %d)"
        % (len(sel), nbad, st0["total"]["parts"], st1["total"]["parts"]))


# ------------------------------------------------------------------ other checks

def test_formats(store):
    queries = [
        ("stats count(), avg(duration), min(ts), max(src_ip), min(user) by device", None),
        ('where device = "fw-lab-01" or device = "fw-hq-01" and src_port < 1031', None),
        ("stats count(), sum(bytes_in) by bin(ts, 1d)", "Asia/Tokyo"),
    ]
    for q, tz in queries:
        name = "formats: %s" % q
        rc, out, err = colog_query(store, q, "csv", tz)
        if not check(name, rc == 0, "  csv exit %d: %s" % (rc, err)):
            continue
        hdr, rows = parse_csv(out)
        rc, jout, err = colog_query(store, q, "json", tz)
        check(name, rc == 0, "  json exit %d: %s" % (rc, err))
        try:
            jrows = json.loads(jout, object_pairs_hook=lambda kv: kv)
        except ValueError as e:
            fail(name, "  json does not parse: %s\n%s" % (e, jout[:500]))
            jrows = None
        rc, nout, err = colog_query(store, q, "ndjson", tz)
        check(name, rc == 0, "  ndjson exit %d: %s" % (rc, err))
        try:
            nrows = [json.loads(l, object_pairs_hook=lambda kv: kv) for l in nout.splitlines() if l]
        except ValueError as e:
            fail(name, "  ndjson does not parse: %s\n%s" % (e, nout[:500]))
            nrows = None
        for what, jr in (("json", jrows), ("ndjson", nrows)):
            if jr is None:
                continue
            if not check(name, isinstance(jr, list) and len(jr) == len(rows),
                         "  %s: expected %d objects, got %s" % (what, len(rows), jr if not isinstance(jr, list) else len(jr))):
                continue
            for i, (obj, row) in enumerate(zip(jr, rows)):
                keys = [k for k, v in obj]
                if not check(name, keys == hdr, "  %s row %d keys %r != csv header %r" % (what, i, keys, hdr)):
                    break
                bad = []
                for (k, v), cell in zip(obj, row):
                    if v is None:
                        ok = cell == ""
                    elif isinstance(v, bool):
                        ok = False
                    elif isinstance(v, int):
                        ok = cell == str(v)
                    elif isinstance(v, float):
                        ok = cell != "" and float(cell) == v
                    else:
                        ok = isinstance(v, str) and v == cell
                    if not ok:
                        bad.append((k, v, cell))
                if not check(name, not bad, "  %s row %d differs from csv: %r" % (what, i, bad[:4])):
                    break
        rc, tout, err = colog_query(store, q, "table", tz)
        if check(name, rc == 0, "  table exit %d: %s" % (rc, err)):
            first = tout.splitlines()[0] if tout else ""
            check(name, all(h in first for h in hdr), "  table: first line %r lacks the column names %r" % (first, hdr))
            check(name, len(tout.splitlines()) >= len(rows) + 1,
                  "  table: %d lines for %d rows" % (len(tout.splitlines()), len(rows)))
    # JSON types: numbers for counts and averages, strings for times and IPs.
    rc, jout, err = colog_query(store, "stats count(), avg(duration), min(ts), min(src_ip) by proto", "json")
    if check("formats: json types", rc == 0, "  exit %d: %s" % (rc, err)):
        objs = json.loads(jout)
        check("formats: json types", objs and all(isinstance(o["count"], int) and isinstance(o["avg_duration"], (int, float))
                                                  and isinstance(o["min_ts"], str) and isinstance(o["min_src_ip"], str)
                                                  for o in objs), "  unexpected JSON types: %s" % jout[:400])


def caret_col(err, q):
    """(caret start column relative to the echoed query, caret count) or None."""
    lines = err.splitlines()
    for i, l in enumerate(lines[:-1]):
        j = l.find(q) if q else -1
        if j >= 0 and "^" in lines[i + 1]:
            c = lines[i + 1]
            s = c.index("^")
            return s - j, len(c[s:]) - len(c[s:].lstrip("^"))
    return None


def test_query_errors(store):
    allcols = COLS
    cases = [
        # (query, substrings the message must contain, token under which the caret starts)
        ("where dst_prt = 5 | stats count()", ["dst_prt"] + allcols, "dst_prt"),
        ('where dst_port = "x"', ["dst_port"], 'dst_port = "x"'),
        ("where dst_port = = 5", [], "= 5"),
        ('where user = "abc', ["unterminated"], '"abc'),
        ("stats count() by hour(src_ip)", ["hour"], "hour(src_ip)"),
        ("stats count() by dst_port | top 5 by nosuch", ["nosuch"], "nosuch"),
        ("where src_ip = 10.1.2.300", [], "10.1.2.300"),
        ("where src_ip in 10.0.0.0/33", [], "10.0.0.0/33"),
        ("stats count() | stats count()", ["stats"], "| stats$"),
        ("where ts > 5", ["ts"], "ts > 5"),
        ("stats count() bye dst_port", [], "bye"),
        ("where user contains 5", [], "user contains 5"),
        ("where src_ip = \"10.1.2.3\"", ["src_ip"], 'src_ip = "10.1.2.3"'),
        ("where dst_port = 25 and", [], "and$"),
        ("range 2025-03-10 ..", [], "..$"),
        ("where dst_port in ()", [], "()"),
        ("where (dst_port = 25", [], "(dst_port = 25$"),
        ("stats count() by bin(ts, 0h)", [], "0h"),
        ("limit x", [], "x"),
        ("fields nosuch", ["nosuch"] + allcols, "nosuch"),
        ('stats avg(dst_port) by dst_port | where avg_dst_port = "x"', [], 'avg_dst_port = "x"'),
        ("stats count() by dst_port | sort nosuch", ["nosuch"], "nosuch"),
        ("where day(ts) = 5", [], "day(ts) = 5"),
    ]
    for q, want, tok in cases:
        name = "query error: %s" % q
        rc, out, err = colog_query(store, q, "csv")
        if not check(name, rc == 2, "  expected exit 2, got %d\n  stdout: %s\n  stderr: %s" % (rc, out[:300], err[:600])):
            continue
        check(name, out == "", "  stdout not empty on error: %r" % out[:300])
        check(name, err.startswith("colog: "), "  stderr does not start with 'colog: ': %r" % err[:200])
        missing = [w for w in want if w not in err]
        check(name, not missing, "  message lacks %r\n  stderr:\n%s" % (missing, err))
        # Where the caret must start: inside the token (tok$ means up to the end of the query).
        if tok == "| stats$":  # the second stats (or the pipe before it)
            lo = q.index("| stats")
            hi = lo + len("| stats")
        elif tok.endswith("$"):
            lo = q.rindex(tok[:-1])
            hi = len(q) + 1
        else:
            lo = q.index(tok)
            hi = lo + len(tok)
        cc = caret_col(err, q)
        check(name, cc is not None and lo <= cc[0] < hi,
              "  caret at %s, expected under %r (columns %d..%d)\n  stderr:\n%s"
              % (cc and cc[0], tok, lo, hi - 1, err))


def bad_input_common(tmp, name, store_name, content, fname, expect_lines, now, fmt, good_rows,
                     expect_cols=None):
    store = os.path.join(tmp, store_name)
    rc, out, err = colog("init", store, "--schema", "firewall")
    if not check(name, rc == 0, "  init exit %d: %s" % (rc, err)):
        return
    path = os.path.join(tmp, fname)
    with open(path, "wb") as f:
        f.write(content)
    rej = os.path.join(tmp, fname + ".rejects")
    rc, out, err = colog("ingest", store, "--format", fmt, "--rejects", rej, "--now", now, path)
    check(name, rc == 3, "  expected exit 3 (rows rejected), got %d\n  stderr: %s" % (rc, err[:1000]))
    try:
        with open(rej, encoding="utf-8", errors="replace") as f:
            rlines = f.read().splitlines()
    except OSError as e:
        fail(name, "  no rejects file: %s" % e)
        rlines = []
    got = []
    for l in rlines:
        m = re.match(r"(.*?):(\d+):(\d+): ", l)
        if m and expect_cols and int(m[2]) in expect_cols:
            lo, hi = expect_cols[int(m[2])]
            check(name, lo <= int(m[3]) <= hi, "  line %s: column %s, expected %d..%d (the bad field): %r"
                  % (m[2], m[3], lo, hi, l))
        m = re.match(r"(.*?):(\d+)(?::(\d+))?: (.+)$", l)
        if not check(name, m is not None and m[1] == path,
                     "  rejects line not 'FILE:LINE[:COL]: reason' naming %s: %r" % (path, l)):
            continue
        got.append(int(m[2]))
    check(name, sorted(got) == sorted(expect_lines),
          "  rejected lines: expected %s, got %s\n  rejects file:\n    %s"
          % (sorted(expect_lines), sorted(got), "\n    ".join(rlines)))
    # exactly the good rows are in the store, with their values
    rc, out, err = colog_query(store, "stats count()", "csv")
    check(name, rc == 0 and out == "count\n%d\n" % len(good_rows),
          "  count: expected %d, got exit %d %r %s" % (len(good_rows), rc, out, err))
    rc, out, err = colog_query(store, "sort ts", "csv")
    hdr, rows = parse_csv(out)
    exp = []
    for g in sorted(good_rows, key=lambda g: row_values(g)[0]):
        v = row_values(g)
        rec, i = [], 0
        for c in COLS:
            if c == "ts":
                rec.append(UTC.fmt(v[i]))
            else:
                rec.append(v[i])
            i += 2 if c in IP_COLS else 1
        exp.append(rec)
    check(name, rc == 0 and hdr == COLS and len(rows) == len(exp) and all(row_eq(e, g) for e, g in zip(exp, rows)),
          "  stored rows differ\n  expected:\n%s\n  got (exit %d):\n%s" % (show(exp), rc, show(rows)))


def test_bad_csv(tmp):
    now = "2025-03-12T00:00:00Z"

    def row(ts="2025-03-10T10:00:00Z", device="fw-t", src_ip="10.0.0.1", src_port="1234",
            dst_ip="10.0.0.2", dst_port="80", user="u", bytes_out="10"):
        return {"ts": ts, "device": device, "src_ip": src_ip, "src_port": src_port,
                "dst_ip": dst_ip, "dst_port": dst_port, "proto": "tcp", "action": "allow",
                "policy": "1", "src_zone": "a", "dst_zone": "b", "user": user,
                "bytes_out": bytes_out, "bytes_in": "20", "duration": "3"}

    def line(r):
        s = io.StringIO()
        csv.writer(s, lineterminator="\n").writerow([r[c] for c in COLS])
        return s.getvalue().encode()

    good = [row(user="good1"), row(ts="2025-03-10T11:00:00.25Z", user="multi\nline good2"),
            row(ts="2025-03-12T12:00:00Z", user="near-future good3"),
            row(ts="1741608000", src_ip="2001:db8::7", user="good4", bytes_out="")]
    L = [(",".join(COLS) + "\n").encode()]               # 1
    L.append(line(good[0]))                                # 2
    L.append(line(row(src_ip="10.1.2.300")))               # 3 malformed IP
    L.append(line(good[1]))                                # 4-5 (quoted newline)
    L.append(line(row(dst_port="70000")))                  # 6 out of range
    L.append(line(row(ts="2025-13-45T00:00:00Z")))         # 7 bad time
    L.append(line(row())[:-1].rsplit(b",", 1)[0] + b"\n")  # 8 14 fields
    L.append(line(good[2]))                                # 9
    L.append(line(row(user="x")).replace(b",x,", b",bad\xff\xfeutf8,"))   # 10 invalid UTF-8
    L.append(line(row(device="fwX")).replace(b"fwX", b"fw\x00X"))         # 11 NUL byte
    L.append(line(row(ts="2025-03-13T12:00:00Z")))         # 12 > 1 day ahead of --now
    L.append(line(row(user="y" * 70000)))                  # 13 over-long line
    L.append(line(row()).replace(b"\n", b",extra\n"))      # 14 16 fields
    L.append(line(good[3]))                                # 15
    L.append(line(row(user="z"))[:-1].replace(b",z,", b',"unterminated,') + b"\n")  # 16 to EOF
    # columns of the bad fields (1-based bytes), where a reject names one
    phys = b"".join(L).split(b"\n")

    def span(lno, needle):
        ln = phys[lno - 1]
        i = ln.index(needle)
        return (i + 1, i + len(needle))
    cols = {3: span(3, b"10.1.2.300"), 6: span(6, b"70000"), 7: span(7, b"2025-13-45T00:00:00Z"),
            10: (span(10, b"bad\xff")[0], span(10, b"bad\xff")[1] + 1), 11: span(11, b"fw\x00X"),
            12: span(12, b"2025-03-13T12:00:00Z")}
    bad_input_common(tmp, "bad csv ingest", "bad_csv_store", b"".join(L), "bad.csv",
                     [3, 6, 7, 8, 10, 11, 12, 13, 14, 16], now, "csv", good, cols)


def test_bad_ndjson(tmp):
    now = "2025-03-12T00:00:00Z"

    def obj(**kw):
        o = {"ts": "2025-03-10T10:00:00Z", "device": "fw-t", "src_ip": "10.0.0.1", "src_port": 1234,
             "dst_ip": "10.0.0.2", "dst_port": 80, "proto": "tcp", "action": "allow", "policy": 1,
             "src_zone": "a", "dst_zone": "b", "user": "u", "bytes_out": 10, "bytes_in": 20,
             "duration": 3}
        o.update(kw)
        return o

    def enc(o):
        return (json.dumps(o, ensure_ascii=False) + "\n").encode()

    good = [obj(user="good1"), obj(ts="2025-03-10T11:00:00.25+01:00", user="good2", bytes_in=None),
            obj(ts=1741608000, user="good3", dst_port="443")]
    L = [enc(good[0])]                                              # 1
    L.append(enc(obj(src_ip="10.1.2.300")))                         # 2 bad IP
    L.append(enc(obj(dst_port=70000)))                              # 3 out of range
    L.append(enc(obj(ts="2025-13-45T00:00:00Z")))                   # 4 bad time
    L.append(b'{"ts": "2025-03-10T10:00:00Z", "device": "fw-t",\n')  # 5 invalid JSON
    L.append(enc(obj(user="x")).replace(b'"x"', b'"bad\xff\xfe"'))   # 6 invalid UTF-8
    L.append(enc(obj(device="fwX")).replace(b"fwX", b"fw\x00X"))     # 7 NUL byte
    L.append(enc(obj(ts="2025-03-13T12:00:00Z")))                   # 8 future
    L.append(enc(obj(user="y" * 70000)))                            # 9 over-long
    L.append(enc(dict(obj(), bogus=1)))                             # 10 unknown key
    L.append(enc(good[1]))                                          # 11
    L.append(b"\n")                                                 # 12 blank: skipped
    L.append(b"[1, 2]\n")                                           # 13 not an object
    L.append(enc(obj(dst_port=True)))                               # 14 boolean
    L.append(enc(good[2]))                                          # 15
    L.append(b'{"ts": "2025-03-10T10:00:00Z", "device": "unterminated')  # 16 to EOF
    goods = []
    for g in good:
        goods.append({k: ("" if v is None else str(v)) for k, v in g.items()})
    bad_input_common(tmp, "bad ndjson ingest", "bad_nd_store", b"".join(L), "bad.ndjson",
                     [2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 16], now, "ndjson", goods)


def test_unknown_header(tmp):
    name = "unknown csv header column"
    store = os.path.join(tmp, "hdr_store")
    colog("init", store)
    path = os.path.join(tmp, "hdr.csv")
    with open(path, "w") as f:
        f.write("ts,device,bogus_col,dst_port\n2025-03-10T10:00:00Z,fw,1,80\n")
    rc, out, err = colog("ingest", store, path)
    check(name, rc == 2, "  expected exit 2, got %d" % rc)
    check(name, "bogus_col" in err, "  stderr does not name bogus_col: %r" % err)
    # A header that cannot be read at all is the same kind of error: exit 2, FILE:LINE:COL.
    for label, head in (("bad quoting", b'ts,"us"er\n'), ("bad utf-8", b"ts,us\xffer\n")):
        bad = os.path.join(tmp, "hdr_%s.csv" % label.replace(" ", "_"))
        with open(bad, "wb") as f:
            f.write(head + b"2025-03-10T10:00:00Z,x\n")
        rc, out, err = colog("ingest", store, bad)
        check("malformed csv header: " + label, rc == 2 and (bad + ":1:") in err,
              "  expected exit 2 naming %s:1:, got %d: %s" % (bad, rc, err))
    rc, out, err = colog_query(store, "stats count()", "csv")
    check(name, rc == 0 and out == "count\n0\n", "  rows stored from a file with a bad header: %r %s" % (out, err))


def test_query_file(tmp, store):
    """--file FILE / --file - give the same answer as the argument; a query over the
    kernel's 128 KiB argument cap works from a file; a query and --file is exit 2."""
    q = "where dst_port in (%s) | stats count() by proto | sort proto" % ", ".join(str(p) for p in range(1, 30001))
    path = os.path.join(tmp, "long.q")
    with open(path, "w") as f:
        f.write(q + "\n")
    rc, out, err = colog("query", store, "--file", path, "--format", "csv")
    rc2, out2, err2 = colog_query(store, "where dst_port between 1 and 30000 | stats count() by proto | sort proto")
    check("query --file: 200 KB query", rc == 0 and rc2 == 0 and out == out2 and len(out.splitlines()) > 1,
          "  exit %d/%d: %s%s" % (rc, rc2, err, err2))
    rc, out3, err = colog("query", store, "--file", "-", "--format", "csv",
                          stdin=b"stats count() by proto\n| sort proto")
    rc4, out4, err4 = colog_query(store, "stats count() by proto | sort proto")
    check("query --file -: stdin", rc == 0 and out3 == out4, "  exit %d: %s" % (rc, err))
    rc, out, err = colog("query", store, "stats count()", "--file", path)
    check("query and --file: usage error", rc == 2 and "not both" in err, "  exit %d: %s" % (rc, err))
    empty = os.path.join(tmp, "empty.q")
    with open(empty, "w") as f:
        f.write(" \n\t\n")
    rc, out, err = colog("query", store, "--file", empty)
    check("query --file: an empty file is refused", rc == 2 and "no query" in err and out == "",
          "  exit %d: %s" % (rc, err))
    rc, out, err = colog("query", store, "--file", tmp)
    check("query --file: a directory is a read failure", rc == 1 and "Is a directory" in err,
          "  exit %d: %s" % (rc, err))


def test_reserved_schema(tmp):
    """colog init refuses a column named like a query keyword, naming file:line:col."""
    for word, line, col in (("where", 5, 3), ("limit", 5, 3), ("fields", 5, 3)):
        name = "reserved column name: " + word
        path = os.path.join(tmp, "reserved_%s.schema" % word)
        with open(path, "w") as f:
            f.write("ts time\n# a comment\n\nsrc ip indexed\n  %s string  # the culprit\nok u16\n" % word)
        store = os.path.join(tmp, "reserved_store_" + word)
        rc, out, err = colog("init", store, "--schema", path)
        want = "%s:%d:%d: column name '%s'" % (path, line, col, word)
        check(name, rc == 2 and want in err and not os.path.exists(os.path.join(store, "colog.conf")),
              "  want exit 2 and %r, got exit %d: %s" % (want, rc, err))
    # The schema format's blanks include CR: a CR-led line is still a column line.
    path = os.path.join(tmp, "reserved_cr.schema")
    with open(path, "w", newline="") as f:
        f.write("ts time\r\n\r\n\rby u32\r\n")
    rc, out, err = colog("init", os.path.join(tmp, "reserved_cr_store"), "--schema", path)
    check("reserved column name after a CR", rc == 2 and "%s:3:2: column name 'by'" % path in err,
          "  exit %d: %s" % (rc, err))
    # Function names are not reserved: queries take them as names.
    path = os.path.join(tmp, "funcnames.schema")
    with open(path, "w") as f:
        f.write("ts time\ncount u32\nday string\nmin u16\n")
    fstore = os.path.join(tmp, "funcnames_store")
    rc, out, err = colog("init", fstore, "--schema", path)
    if check("function names as columns: init", rc == 0, "  exit %d: %s" % (rc, err)):
        rc, out, err = colog("ingest", fstore, "-", stdin=b"ts,count,day,min\n2026-03-01T00:00:00Z,5,mon,7\n"
                             b"2026-03-01T01:00:00Z,6,mon,8\n")
        rc, out, err = colog_query(fstore, "where count > 5 or min = 7 | stats sum(count), max(min) by day")
        check("function names as columns: query", rc == 0 and out == "day,sum_count,max_min\nmon,11,8\n",
              "  exit %d: %r %s" % (rc, out, err))
    path = os.path.join(tmp, "huge.schema")
    with open(path, "w") as f:
        f.write("ts time\n" + "#" * (1 << 20) + "\nsrc ip\n")
    rc, out, err = colog("init", os.path.join(tmp, "huge_store"), "--schema", path)
    check("schema file over 1 MiB", rc == 2 and "larger than 1 MiB" in err, "  exit %d: %s" % (rc, err))
    path = os.path.join(tmp, "not_reserved.schema")
    with open(path, "w") as f:
        f.write("ts time\nwhere_from ip\ncounts u32\n")
    rc, out, err = colog("init", os.path.join(tmp, "not_reserved_store"), "--schema", path)
    check("reserved column name: prefixes are fine", rc == 0, "  exit %d: %s" % (rc, err))


def test_empty_input(tmp):
    store = os.path.join(tmp, "empty_store")
    colog("init", store)
    for label, data, fmt in (("empty csv file", b"", "csv"), ("header-only csv", (",".join(COLS) + "\n").encode(), "csv"),
                             ("empty ndjson", b"", "ndjson")):
        name = "empty input: " + label
        path = os.path.join(tmp, "empty_%s.%s" % (label.replace(" ", "_"), fmt))
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = colog("ingest", store, "--format", fmt, path)
        check(name, rc == 0, "  expected exit 0, got %d: %s" % (rc, err))
    rc, out, err = colog("ingest", store, "-", stdin=b"")
    check("empty input: stdin", rc == 0, "  expected exit 0, got %d: %s" % (rc, err))
    rc, out, err = colog_query(store, "stats count()", "csv")
    check("empty input: zero rows", rc == 0 and out == "count\n0\n", "  got exit %d %r %s" % (rc, out, err))
    rc, out, err = colog_query(store, "where dst_port = 80", "csv")
    check("empty input: raw", rc == 0 and out.strip() == ",".join(COLS), "  got exit %d %r %s" % (rc, out, err))


def test_dst_bins(tmp):
    """bin(ts, N) around clock changes, against Zone.bin (which walks the wall clock):
    events every 3 minutes over the 2026 changes of New York, Paris, Havana (whose
    midnight repeats) and Lord Howe (a 30-minute change), and New York's of 1965
    (negative times); bins from 7m to 1d, including widths that do not divide an hour."""
    store = os.path.join(tmp, "dst_store")
    colog("init", store)
    spans = [("2026-03-07T12:00:00Z", "2026-03-09T12:00:00Z"), ("2026-03-28T12:00:00Z", "2026-03-30T00:00:00Z"),
             ("2026-04-04T06:00:00Z", "2026-04-05T06:00:00Z"), ("2026-10-03T06:00:00Z", "2026-10-04T06:00:00Z"),
             ("2026-10-24T12:00:00Z", "2026-10-26T00:00:00Z"), ("2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z"),
             ("1965-04-24T12:00:00Z", "1965-04-26T00:00:00Z"), ("1965-10-30T12:00:00Z", "1965-11-01T00:00:00Z")]
    ts = []
    for a, b in spans:
        t, end = parse_rfc3339(a), parse_rfc3339(b)
        while t < end:
            ts.append(t)
            t += 3 * 60 * US
    path = os.path.join(tmp, "dst.csv")
    with open(path, "w") as f:
        f.write("ts,dst_port\n" + "".join("%s,%d\n" % (UTC.fmt(t), i % 100) for i, t in enumerate(ts)))
    rc, out, err = colog("ingest", store, path)
    if not check("dst bins: ingest", rc == 0, "  exit %d: %s" % (rc, err)):
        return
    for tz in ("America/New_York", "Europe/Paris", "America/Havana", "Australia/Lord_Howe", "+05:30"):
        z = Zone(tz)
        for w in ("7m", "15m", "30m", "40m", "1h", "90m", "2h", "1d"):
            counts = {}
            for t in ts:
                k = z.bin(t, dur_us(w))
                counts[k] = counts.get(k, 0) + 1
            want = "bin,count\n" + "".join("%s,%d\n" % (z.fmt(k), counts[k]) for k in sorted(counts))
            rc, out, err = colog_query(store, "stats count() by bin(ts, %s) | sort bin" % w, "csv", tz=tz)
            diff = [l for l in difflib.unified_diff(want.splitlines(), out.splitlines(), lineterm="")][:12]
            check("dst bins: %s %s" % (tz, w), rc == 0 and out == want,
                  "  exit %d %s\n  %s" % (rc, err.strip(), "\n  ".join(diff)))


# ------------------------------------------------------------------ main

def resolve(env, default):
    v = os.environ.get(env)
    if v:
        return os.path.abspath(v)
    return os.path.join(REPO, default)


def selected(name):
    return not ARGS.k or any(k in name for k in ARGS.k)


def main():
    global ARGS, COLOG_BIN, COLOG_GEN
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", action="append", help="run only tests whose name or query contains SUBSTR")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--events", type=int, default=int(os.environ.get("COLOG_E2E_EVENTS", "200000")))
    ARGS = ap.parse_args()
    COLOG_BIN = resolve("COLOG_BIN", "build/colog")
    COLOG_GEN = resolve("COLOG_GEN", "build/colog-gen")
    for b in (COLOG_BIN, COLOG_GEN):
        if not os.access(b, os.X_OK):
            log("oracle: %s is not an executable (set COLOG_BIN / COLOG_GEN)" % b)
            return 2
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="colog-e2e-")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    try:
        gen, extra, ngen = build_data(tmp)
        t = time.time()
        db = load_db(gen, extra)
        register(db)
        vlog("sqlite loaded in %.1fs" % (time.time() - t))
        pairs = [p for p in build_pairs(db) if selected(p.name) or selected(p.query)]
        store = os.path.join(tmp, "store")
        rc, out, err = colog("init", store, "--schema", "firewall")
        if rc != 0:
            raise RuntimeError("colog init failed (%d): %s" % (rc, err))
        # batches 1 and 2, then the merge check
        ingest_ok("ingest a.csv", store, os.path.join(tmp, "a.csv"))
        with open(os.path.join(tmp, "b.csv"), "rb") as f:
            ingest_ok("ingest b.csv (stdin)", store, "-", stdin=f.read(), fmt="csv")
        if selected("merge"):
            merge_check(tmp, store, pairs, pool)
        # batches 3 and 4
        ingest_ok("ingest c.ndjson", store, os.path.join(tmp, "c.ndjson"), fmt="ndjson")
        ingest_ok("ingest extra.csv", store, os.path.join(tmp, "extra.csv"))
        st = store_stats(store)
        nall = ngen + len(extra[1])
        check("store stats", st["total"]["rows"] == nall,
              "  colog stats: %s rows, expected %d" % (st["total"]["rows"], nall))
        want = {fmt_day(d): n for d, n in db.execute("SELECT ts / %d - (ts %% %d < 0), COUNT(*) FROM ev GROUP BY 1"
                                                      % (US_DAY, US_DAY))}
        got = {}
        for d in st["days"]:
            got[d["day"]] = got.get(d["day"], 0) + d["rows"]
        check("store stats", got == want, "  colog stats rows per day %s, expected (UTC days) %s" % (got, want))
        single = [d["day"] for d in st["days"] if d["parts"] < 2 and d["rows"] > 100]
        check("store stats", not single, "  days with a single part before the main suite: %s" % single)
        vlog("store: %d parts over %d days" % (st["total"]["parts"], len(st["days"])))
        stores = {"main": store, "tz": os.path.join(tmp, "tzstore")}
        if any(p.store == "tz" for p in pairs):
            rc, out, err = colog("init", stores["tz"], "--tz", "America/New_York")
            check("init --tz", rc == 0, "  colog init --tz -> exit %d: %s" % (rc, err))
            ingest_ok("ingest extra.csv (tz store)", stores["tz"], os.path.join(tmp, "extra.csv"))
        if pairs:
            run_pairs(db, pairs, stores, "parts", pool)
            rc, out, err = colog("merge", store)
            check("merge (final)", rc == 0, "  colog merge -> exit %d: %s" % (rc, err))
            run_pairs(db, pairs, stores, "merged", pool)
        if selected("formats"):
            test_formats(store)
        if selected("query --file"):
            test_query_file(tmp, store)
        if selected("query error"):
            test_query_errors(store)
        if selected("bad csv"):
            test_bad_csv(tmp)
        if selected("bad ndjson"):
            test_bad_ndjson(tmp)
        if selected("unknown csv header"):
            test_unknown_header(tmp)
        if selected("empty input"):
            test_empty_input(tmp)
        if selected("reserved column"):
            test_reserved_schema(tmp)
        if selected("dst bins"):
            test_dst_bins(tmp)
    finally:
        pool.shutdown()
        if ARGS.keep:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log("oracle: %d pair runs, %d other checks, %d failures, %.1fs"
        % (NCHECKS["pairs"], NCHECKS["checks"], len(FAILS), time.time() - t0))
    if FAILS:
        log("FAILED:")
        for name, _ in FAILS:
            log("  " + name.splitlines()[0])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
