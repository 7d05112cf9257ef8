#!/usr/bin/env python3
"""
compare_util.py — helpers of bench/compare.sh (Python 3.9+ standard library only).

  compare_util.py sqlite-sql QUERIES.tsv OUTDIR
      Writes OUTDIR/sqlite.I.sql for query I: the SQL of QUERIES.tsv (DuckDB dialect)
      rewritten for the sqlite3 CLI (see SQLITE_REWRITES), with csv output and a header row.

  compare_util.py check QUERIES.tsv OUTDIR ENGINE...
      Normalises OUTDIR/ENGINE.I.csv for every query and engine, compares every engine with
      the first, prints MISMATCH (with both answers) for each difference, and exits 1 if any.

  compare_util.py report QUERIES.tsv OUTDIR INFO.json
      Prints the markdown result tables from OUTDIR/ENGINE.I.times and INFO.json.

Normalisation: the header row is dropped (engines name columns differently); NULL and the
empty string are both the empty cell; DuckDB timestamps ("2025-03-03 01:00:00[.ffffff]")
become RFC 3339 UTC ("2025-03-03T01:00:00[.ffffff]Z", colog's form); integers lose
leading "+"/zeros. Queries without top/bottom/sort/limit have no defined row order: their
rows are sorted. Queries with one keep their order, and their SQL breaks ties exactly as
colog does (group keys ascending, IPs in address order via ipkey()).
"""
import csv
import io
import json
import math
import os
import re
import sys

# ---------------------------------------------------------------- queries

def read_queries(path):
    qs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                sys.exit("%s:%d: expected name<TAB>colog query<TAB>SQL" % (path, n))
            qs.append(tuple(parts))
    return qs


def ordered(colog_query):
    """Does the colog query fix the row order (top, bottom, sort, limit)?"""
    return re.search(r"\|\s*(top|bottom|sort|limit)\b", colog_query) is not None


# ---------------------------------------------------------------- sqlite dialect
#
# sqlite keeps ts as the CSV's text (RFC 3339 UTC, fixed width: "2025-03-03T00:00:05.108134Z"),
# so hour/day are substrings and the 1 h bin is the text up to the hour.

def sqlite_ipkey(x):
    """The sqlite form of ipkey(X): 32 hex digits of the address, IPv4 mapped to ::ffff:0:0/96."""
    colons = "(length({x}) - length(replace({x}, ':', '')))".format(x=x)
    missing = "(8 - ({c} - (substr({x}, 1, 1) = ':') - (substr({x}, -1) = ':')))".format(c=colons, x=x)
    full = "trim(replace({x}, '::', ':' || substr('0:0:0:0:0:0:0:0:', 1, 2 * {m})), ':')".format(
        x=x, m=missing)
    return ("(CASE WHEN {x} IS NULL THEN NULL WHEN instr({x}, ':') = 0 THEN "
            "'00000000000000000000ffff' || (SELECT group_concat(printf('%02x', value), '') "
            "FROM json_each('[' || replace({x}, '.', ',') || ']')) "
            "ELSE (SELECT group_concat(substr('000' || value, -4), '') "
            "FROM json_each('[\"' || replace({f}, ':', '\",\"') || '\"]')) END)").format(x=x, f=full)


SQLITE_REWRITES = [
    (re.compile(r"\bhour\(ts\)"), lambda m: "CAST(substr(ts, 12, 2) AS INTEGER)"),
    (re.compile(r"\bisodow\(ts\)"),
     lambda m: "((CAST(strftime('%w', substr(ts, 1, 10)) AS INTEGER) + 6) % 7 + 1)"),
    (re.compile(r"\bdate_trunc\('hour', ts\)"), lambda m: "(substr(ts, 1, 13) || ':00:00Z')"),
    (re.compile(r"\bipkey\((\w+)\)"), lambda m: sqlite_ipkey(m.group(1))),
]

SQLITE_PROLOGUE = """.output /dev/null
PRAGMA threads = 2;
PRAGMA temp_store = MEMORY;
PRAGMA cache_size = -262144;
.output stdout
.mode csv
.headers on
"""


def to_sqlite(sql):
    for rx, fn in SQLITE_REWRITES:
        sql = rx.sub(fn, sql)
    return sql


def cmd_sqlite_sql(tsv, outdir):
    for i, (name, _, sql) in enumerate(read_queries(tsv), 1):
        with open(os.path.join(outdir, "sqlite.%d.sql" % i), "w", encoding="utf-8") as f:
            f.write(SQLITE_PROLOGUE + to_sqlite(sql) + ";\n")


# ---------------------------------------------------------------- normalise and compare

TS_RX = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)$")
INT_RX = re.compile(r"^[+-]?\d+$")


def norm_cell(c):
    m = TS_RX.match(c)
    if m:
        return "%sT%sZ" % (m.group(1), m.group(2))
    if INT_RX.match(c):
        return str(int(c))
    return c


def load_answer(path, is_ordered):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows = [[norm_cell(c) for c in r] for r in rows[1:]]
    if not is_ordered:
        rows.sort()
    return rows


def show(rows, limit=25):
    s = io.StringIO()
    w = csv.writer(s, lineterminator="\n")
    for r in rows[:limit]:
        w.writerow(r)
    if len(rows) > limit:
        s.write("... (%d rows in all)\n" % len(rows))
    return "".join("      " + l + "\n" for l in s.getvalue().splitlines()) or "      (no rows)\n"


def cmd_check(tsv, outdir, engines):
    if len(engines) < 2:
        print("one engine only (%s): no answers to compare" % ", ".join(engines))
        return 0
    bad = 0
    for i, (name, q, sql) in enumerate(read_queries(tsv), 1):
        o = ordered(q)
        ans = {}
        for e in engines:
            p = os.path.join(outdir, "%s.%d.csv" % (e, i))
            if os.path.exists(p):
                ans[e] = load_answer(p, o)
        if len(ans) < 2:
            continue
        ref_e = next(iter(ans))
        ref = ans[ref_e]
        for e, rows in ans.items():
            if e == ref_e or rows == ref:
                continue
            bad += 1
            diff = [k for k in range(max(len(ref), len(rows)))
                    if k >= len(ref) or k >= len(rows) or ref[k] != rows[k]]
            print("MISMATCH in query %d (%s) between %s and %s (%d vs %d rows; first differing row %d)"
                  % (i, name, ref_e, e, len(ref), len(rows), diff[0] + 1))
            print("   colog query: %s" % q)
            print("   SQL:         %s" % sql)
            print("   %s answer%s:" % (ref_e, "" if o else " (sorted)"))
            sys.stdout.write(show(ref))
            print("   %s answer%s:" % (e, "" if o else " (sorted)"))
            sys.stdout.write(show(rows))
    if bad:
        print("\n!!! %d MISMATCH(ES) — see above !!!" % bad)
        return 1
    n = sum(1 for _ in read_queries(tsv))
    print("answers agree: %d queries, engines %s" % (n, ", ".join(engines)))
    return 0


# ---------------------------------------------------------------- report

def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def read_times(outdir, engine, i, ext="times"):
    p = os.path.join(outdir, "%s.%d.%s" % (engine, i, ext))
    if not os.path.exists(p):
        return None
    with open(p) as f:
        xs = [int(x) for x in f.read().split()]
    return median(xs) / 1000.0 if xs else None   # µs -> ms


def fmt_ms(x):
    if x == "error":
        return "**error**"
    if x is None:
        return "–"
    if x >= 100:
        return "%.0f" % x
    return "%.1f" % x


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def cmd_report(tsv, outdir, info_path):
    with open(info_path) as f:
        info = json.load(f)
    engines = info["engines"]
    label = {"colog": "colog", "duckdb": "DuckDB", "sqlite": "sqlite"}
    qs = read_queries(tsv)
    cols = ["colog", "duckdb", "sqlite"]
    print("## Queries (median of %d runs, ms; whole commands, warm cache)" % info["runs"])
    print()
    print("| # | analysis | colog ms | DuckDB ms | sqlite ms | DuckDB/colog |")
    print("|---:|---|---:|---:|---:|---:|")
    ratios = []
    for i, (name, q, _) in enumerate(qs, 1):
        t = {e: (read_times(outdir, e, i) if e in engines else None) for e in cols}
        for e in engines:
            if t[e] is None and os.path.exists(os.path.join(outdir, "%s.%d.err" % (e, i))):
                t[e] = "error"
        r = None
        if isinstance(t["colog"], float) and isinstance(t["duckdb"], float):
            r = t["duckdb"] / t["colog"]
            ratios.append((i, r))
        print("| %d | %s | %s | %s | %s | %s |" % (
            i, name, fmt_ms(t["colog"]), fmt_ms(t["duckdb"]), fmt_ms(t["sqlite"]),
            "–" if r is None else "%.2f×" % r))
    print()
    if ratios:
        def gm(xs):
            return math.exp(sum(math.log(x) for x in xs) / len(xs))
        ref = [r for i, r in ratios if i <= 12] or [r for _, r in ratios]
        print("**Geometric-mean speed-up of colog over DuckDB: %.2f× over the %d reference analyses"
              " (1-12)**, %.2f× over all %d. (> 1: colog is faster.)"
              % (gm(ref), len(ref), gm([r for _, r in ratios]), len(ratios)))
        print()
    if "duckdb" in engines:
        print("DuckDB detail (ms, median): *fresh* = new instance + connection per run on the")
        print("persistent file (the number above); *hot* = one open connection, repeated.")
        print()
        print("| # | analysis | DuckDB fresh | DuckDB hot | hot/colog |")
        print("|---:|---|---:|---:|---:|")
        for i, (name, q, _) in enumerate(qs, 1):
            f = read_times(outdir, "duckdb", i)
            h = read_times(outdir, "duckdb", i, "hot")
            c = read_times(outdir, "colog", i) if "colog" in engines else None
            print("| %d | %s | %s | %s | %s |" % (i, name, fmt_ms(f), fmt_ms(h),
                                                  "%.2f×" % (h / c) if h and c else "–"))
        print()
    print("## Ingest and size")
    print()
    print("| engine | load step | time (s) | rows/s | on disk | bytes/event |")
    print("|---|---|---:|---:|---:|---:|")
    n = info["events"]
    for e in cols:
        if e not in engines or e not in info.get("ingest", {}):
            continue
        g = info["ingest"][e]
        s = g["ms"] / 1000.0
        print("| %s | %s | %.2f | %s | %s | %.2f |" % (
            label[e], g["what"], s, fmt_int(n / s) if s > 0 else "–",
            human(g["bytes"]), g["bytes"] / n))
    if "csv_bytes" in info:
        print("| (CSV input) | colog-gen to file | %.2f | %s | %s | %.2f |" % (
            info["gen_ms"] / 1000.0, fmt_int(n / (info["gen_ms"] / 1000.0)),
            human(info["csv_bytes"]), info["csv_bytes"] / n))
    if info.get("ingest_rss_kb"):
        print()
        print("Peak RSS of `colog ingest` (GNU time): %s" % human(info["ingest_rss_kb"] * 1024))
    print()
    return 0


def human(b):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return ("%.0f %s" if unit == "B" else "%.1f %s") % (b, unit)
        b /= 1024.0


def main(argv):
    if len(argv) >= 3 and argv[0] == "sqlite-sql":
        return cmd_sqlite_sql(argv[1], argv[2])
    if len(argv) >= 4 and argv[0] == "check":
        return cmd_check(argv[1], argv[2], argv[3:])
    if len(argv) == 4 and argv[0] == "report":
        return cmd_report(argv[1], argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
