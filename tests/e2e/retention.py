#!/usr/bin/env python3
"""
retention.py — retention tiers, legal holds, archives and crash safety, end to end
through the colog CLI, checked against counts this script computes itself.

What it does
  1. Builds a 500-day store (2025-07-09 .. 2026-11-20, 2..13 events a day, a sequence
     number in every event) with `colog init --hot-days 90 --cold-days 400`, ingested in
     two batches so days have two parts. (Steps 3-5 use 60- and 200-day slices of the same
     events with shorter tiers, to stay quick under ASan.)
  2. Drives `colog retain --now T` through several T (each later than the last) and after
     each run checks, per day: the event count and the set of sequence numbers from
     `colog query` (never a lost or doubled event), which tier holds the day (`colog stats
     --format json`), that held days are never removed, that `colog verify` passes, and that
     a second run changes nothing (idempotent). The expected state is computed here from the
     rule in docs/OPERATIONS.md: a day leaves hot when D + 1 + hot_days <= now (in days),
     and the store when D + 1 + cold_days <= now, unless held.
  3. Archive policy: a copy of the store with `--after-cold archive` writes one archive per
     removed day; `colog verify --archive` passes on each; `colog restore` brings one back
     with identical events; restoring twice adds nothing; a damaged archive is refused.
  4. Crash safety: retain is stopped at each crash point (COLOG_CRASH_AT, the process
     _exit()s there as if killed) and at random moments with SIGKILL; after each, the
     store must answer every query with each surviving event exactly once, `verify` must
     pass after the next writer's recovery, and a re-run must reach the same final state.
  5. Queries run in a loop while retain runs: for the days that are not due to leave the
     store, each query's total must equal the expected total (never zero, never twice).

Usage: retention.py [--keep] [--kills N]
Environment: COLOG_BIN (default build/colog); relative paths resolve against the repository
root. Python 3.9+ standard library only.
"""
import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRST = dt.date(2025, 7, 9)
NDAYS = 500
HOT, COLD = 90, 400
EPOCH = dt.date(1970, 1, 1)

failures = []


def colog_bin():
    b = os.environ.get("COLOG_BIN", "build/colog")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def run(*args, check=True, env=None, stdin=None):
    e = dict(os.environ)
    e.pop("COLOG_CRASH_AT", None)
    if env:
        e.update(env)
    p = subprocess.run([colog_bin(), *args], capture_output=True, text=True, env=e, input=stdin)
    if check and p.returncode != 0:
        raise SystemExit("FAIL: colog %s: exit %d\n%s%s" % (" ".join(args), p.returncode,
                                                            p.stdout, p.stderr))
    return p


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def dnum(d):
    return (d - EPOCH).days


def gen_events():
    """{day: [(seq, ts_text, src, dport)]}: 2..13 events a day, seq unique."""
    rnd = random.Random(20261125)
    ev, seq = {}, 0
    for k in range(NDAYS):
        d = FIRST + dt.timedelta(days=k)
        rows = []
        for _ in range(2 + rnd.randrange(12)):
            seq += 1
            s = rnd.randrange(86400)
            ts = "%sT%02d:%02d:%02dZ" % (d.isoformat(), s // 3600, s // 60 % 60, s % 60)
            rows.append((seq, ts, "10.0.%d.%d" % (rnd.randrange(4), rnd.randrange(250) + 1),
                         rnd.choice([22, 25, 53, 80, 443, 6667])))
        ev[d] = rows
    return ev


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("ts,src_ip,dst_port,bytes_out\n")  # bytes_out carries the sequence number
        for seq, ts, src, port in rows:
            f.write("%s,%s,%d,%d\n" % (ts, src, port, seq))


def observed(store):
    """{day: sorted seqs} from one query over the whole store (all tiers)."""
    p = run("query", store, "stats count() as n, sum(bytes_out) as s, min(bytes_out) as lo, "
            "max(bytes_out) as hi by day(ts) | sort day", "--format", "json")
    out = {}
    for r in json.loads(p.stdout):
        out[dt.date.fromisoformat(r["day"][:10])] = (r["n"], r["s"], r["lo"], r["hi"])
    return out


def expected_summary(ev, days):
    out = {}
    for d in days:
        seqs = [r[0] for r in ev[d]]
        out[d] = (len(seqs), sum(seqs), min(seqs), max(seqs))
    return out


def tiers(store):
    p = run("stats", store, "--format", "json")
    js = json.loads(p.stdout)
    rows = js["days"] if isinstance(js, dict) and "days" in js else js
    t = {}
    for r in rows:
        if "day" not in r:
            continue
        t.setdefault(dt.date.fromisoformat(r["day"][:10]), set()).add(r.get("tier", "hot"))
    return t


def older(d, now_day, n):
    return dnum(d) + 1 + n <= now_day


def expect_state(ev, now_day, held, removed_before, hot=HOT, cold=COLD):
    """(days present, {day: tier}) after retain at now_day."""
    present, tier = [], {}
    for d in sorted(ev):
        if d in removed_before:
            continue
        if older(d, now_day, cold) and d not in held:
            continue
        present.append(d)
        tier[d] = "cold" if older(d, now_day, hot) else "hot"
    return present, tier


def check_store(store, ev, present, tier_of, label):
    obs = observed(store)
    exp = expected_summary(ev, present)
    check(set(obs) == set(exp), "%s: days present: %d observed, %d expected (missing %s, extra %s)"
          % (label, len(obs), len(exp), sorted(set(exp) - set(obs))[:3],
             sorted(set(obs) - set(exp))[:3]))
    bad = [d for d in exp if d in obs and obs[d] != exp[d]]
    check(not bad, "%s: %d days with wrong events, e.g. %s: %s vs %s" % (
        label, len(bad), bad[:1], obs.get(bad[0]) if bad else "", exp.get(bad[0]) if bad else ""))
    if tier_of is not None:
        t = tiers(store)
        wrong = [d for d in tier_of if t.get(d) != {tier_of[d]}]
        check(not wrong, "%s: %d days in the wrong tier, e.g. %s: %s, expected %s" % (
            label, len(wrong), wrong[:1], t.get(wrong[0]) if wrong else "",
            tier_of.get(wrong[0]) if wrong else ""))


def verify(store, label):
    p = run("verify", store, check=False)
    check(p.returncode == 0, "%s: verify failed (exit %d): %s" % (label, p.returncode,
                                                                  (p.stdout + p.stderr)[-600:]))


def build(tmp, ev, name, extra_init=(), hot=HOT, cold=COLD):
    store = os.path.join(tmp, name)
    run("init", store, "--hot-days", str(hot), "--cold-days", str(cold), *extra_init)
    days = sorted(ev)
    a = os.path.join(tmp, "a.csv")
    b = os.path.join(tmp, "b.csv")
    write_csv(a, [r for d in days for r in ev[d][: len(ev[d]) // 2]])
    write_csv(b, [r for d in days for r in ev[d][len(ev[d]) // 2:]])
    run("ingest", store, a)
    run("ingest", store, b)
    return store


def iso_now(now_day):
    return (EPOCH + dt.timedelta(days=now_day)).isoformat() + "T06:00:00Z"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--kills", type=int, default=8, help="random SIGKILL cycles")
    args = ap.parse_args()
    if not os.access(colog_bin(), os.X_OK):
        raise SystemExit("retention.py: %s is not built" % colog_bin())
    tmp = tempfile.mkdtemp(prefix="colog-retention-")
    t0 = time.time()
    try:
        ev = gen_events()
        last = FIRST + dt.timedelta(days=NDAYS - 1)
        store = build(tmp, ev, "s")
        days = sorted(ev)
        check_store(store, ev, days, {d: "hot" for d in days}, "after ingest")
        verify(store, "after ingest")

        # Legal hold over ten days that the third run would delete.
        hold_from, hold_to = FIRST + dt.timedelta(days=20), FIRST + dt.timedelta(days=29)
        p = run("hold", store, "add", "%s..%s" % (hold_from, hold_to), "--reason", "case 42: audit")
        held = {hold_from + dt.timedelta(days=i) for i in range(10)}
        lst = run("hold", store, "list").stdout
        check("case 42: audit" in lst and str(hold_from) in lst, "hold list shows the hold")

        # Retain at several points in time (each later than the last).
        removed = set()
        for k, now_day in enumerate([dnum(FIRST) + 200, dnum(FIRST) + 430, dnum(last) + 1,
                                     dnum(last) + 300]):
            present, tier_of = expect_state(ev, now_day, held, removed)
            dry = run("retain", store, "--now", iso_now(now_day), "--dry-run")
            check_store(store, ev, sorted(set(days) - removed), None, "dry run %d" % k)
            run("retain", store, "--now", iso_now(now_day))
            label = "retain %d (now %s)" % (k, iso_now(now_day))
            check_store(store, ev, present, tier_of, label)
            verify(store, label)
            again = run("retain", store, "--now", iso_now(now_day))
            check("0 moved, 0 archived, 0 deleted" in again.stdout,
                  "%s: a second run changes nothing: %s" % (label, again.stdout.strip()[-200:]))
            check_store(store, ev, present, tier_of, label + " again")
            removed = set(days) - set(present)
            del dry

        # archive --remove refuses a held day (exit 1, nothing written); the day stays.
        out = os.path.join(tmp, "held.tar")
        p = run("archive", store, "--day", str(hold_from), "--out", out, "--remove", check=False)
        check(p.returncode == 1 and "under a legal hold" in p.stderr and not os.path.exists(out),
              "archive --remove of a held day: exit %d, %s" % (p.returncode, p.stderr.strip()))
        check_store(store, ev, present, tier_of, "after a refused archive --remove")

        # Removing the hold lets the next retain delete those days.
        hid = [l.split()[0] for l in lst.splitlines() if "case 42" in l][0]
        run("hold", store, "remove", hid, "--reason", "case closed")
        now_day = dnum(last) + 300
        run("retain", store, "--now", iso_now(now_day))
        present, tier_of = expect_state(ev, now_day, set(), set())
        check_store(store, ev, present, tier_of, "after the hold is removed")
        verify(store, "after the hold is removed")
        led = open(os.path.join(store, "ledger")).read()
        check("hold-add" in led and "hold-remove" in led, "the ledger records holds")

        archive_tests(tmp, ev)
        crash_tests(tmp, ev, args.kills)
        concurrent_queries(tmp, ev)
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("retention.py: %d failures" % len(failures))
        return 1
    print("retention.py: all checks passed (%.0f s)" % (time.time() - t0))
    return 0


def archive_tests(tmp, ev):
    # 60 days with short tiers (hot 10, cold 40) keep this part quick.
    ev = {d: r for d, r in ev.items() if d < FIRST + dt.timedelta(days=60)}
    arch = os.path.join(tmp, "archives")
    store = build(tmp, ev, "sa", ["--after-cold", "archive", "--archive-dir", arch], hot=10,
                  cold=40)
    days = sorted(ev)
    now_day = dnum(FIRST) + 40 + 1 + 5  # the first 6 days leave the store
    run("retain", store, "--now", iso_now(now_day))
    gone = [d for d in days if older(d, now_day, 40)]
    check(len(gone) == 6, "archive policy: 6 days due, got %d" % len(gone))
    present, tier_of = expect_state(ev, now_day, set(), set(), hot=10, cold=40)
    check_store(store, ev, present, tier_of, "archive policy")
    files = sorted(os.listdir(arch))
    check(files == ["colog-%s.tar" % d for d in gone], "one archive per day: %s" % files)
    for f in files:
        p = run("verify", "--archive", os.path.join(arch, f), check=False)
        check(p.returncode == 0, "verify --archive %s: %s" % (f, p.stdout + p.stderr))
    # Restore one day: its events come back exactly; twice adds nothing.
    d0 = gone[0]
    a0 = os.path.join(arch, "colog-%s.tar" % d0)
    run("restore", store, a0)
    run("restore", store, a0)
    check_store(store, ev, sorted(present + [d0]), None, "after restore")
    verify(store, "after restore")
    # A damaged archive is refused and changes nothing.
    bad = os.path.join(tmp, "bad.tar")
    data = bytearray(open(os.path.join(arch, "colog-%s.tar" % gone[1]), "rb").read())
    data[len(data) // 2] ^= 0x40
    open(bad, "wb").write(bytes(data))
    p = run("verify", "--archive", bad, check=False)
    check(p.returncode == 1, "verify --archive of a damaged file exits 1 (got %d)" % p.returncode)
    p = run("restore", store, bad, check=False)
    check(p.returncode != 0, "restore refuses a damaged archive")
    check_store(store, ev, sorted(present + [d0]), None, "after a refused restore")
    # Explicit archive --remove of a day and its restore.
    d1 = present[-1]
    out = os.path.join(tmp, "one.tar")
    run("archive", store, "--day", str(d1), "--out", out, "--remove")
    check_store(store, ev, sorted(set(present + [d0]) - {d1}), None, "after archive --remove")
    run("restore", store, out)
    check_store(store, ev, sorted(present + [d0]), None, "after restore of --remove")
    verify(store, "archive round trip")


CRASH_POINTS = ["publish-before-rename", "publish-after-rename", "day-remove-logged",
                "day-remove-renamed"]


def crash_tests(tmp, ev, kills):
    # The last 60 days, with short tiers: each run moves 30 days and deletes 20, so
    # that a crash cycle stays short under ASan.
    ev = {d: r for d, r in ev.items() if d > max(ev) - dt.timedelta(days=60)}
    base = build(tmp, ev, "sc", ["--cold-zstd-level", "3"], hot=10, cold=40)
    days = sorted(ev)
    last = days[-1]
    now_day = dnum(last) + 1
    present, tier_of = expect_state(ev, now_day, set(), set(), hot=10, cold=40)
    every = expected_summary(ev, days)
    cycles = 0

    def after_crash(store, label):
        # Each surviving event exactly once: every day is either complete or (if it was
        # being deleted) absent.
        obs = observed(store)
        for d, v in obs.items():
            check(v == every[d], "%s: day %s has %s, expected %s" % (label, d, v, every[d]))
        for d in present:
            check(d in obs, "%s: day %s vanished" % (label, d))
        run("retain", store, "--now", iso_now(now_day))  # recovers and completes
        check_store(store, ev, present, tier_of, label + ", re-run")
        verify(store, label + ", re-run")

    for point in CRASH_POINTS:
        for n in (1, 2, 7, 40):
            store = os.path.join(tmp, "crash")
            shutil.rmtree(store, ignore_errors=True)
            shutil.copytree(base, store, symlinks=True)
            p = run("retain", store, "--now", iso_now(now_day), check=False,
                    env={"COLOG_CRASH_AT": "%s:%d" % (point, n)})
            if p.returncode == 0:
                continue  # fewer passages than n
            check(p.returncode == 137, "crash point %s:%d exit %d" % (point, n, p.returncode))
            after_crash(store, "crash at %s:%d" % (point, n))
            cycles += 1
    rnd = random.Random(7)
    for i in range(kills):
        store = os.path.join(tmp, "crash")
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(base, store, symlinks=True)
        e = dict(os.environ)
        e.pop("COLOG_CRASH_AT", None)
        proc = subprocess.Popen([colog_bin(), "retain", store, "--now", iso_now(now_day)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e)
        time.sleep(rnd.uniform(0.02, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after_crash(store, "SIGKILL %d" % i)
        cycles += 1
    print("retention.py: %d crash cycles" % cycles)


def concurrent_queries(tmp, ev):
    ev = {d: r for d, r in ev.items() if d < FIRST + dt.timedelta(days=200)}
    store = build(tmp, ev, "sq", hot=30, cold=150)
    days = sorted(ev)
    now_day = dnum(days[-1]) + 1  # moves 170 days, deletes 50
    keep = [d for d in days if not older(d, now_day, 150)]
    lo, hi = keep[0], keep[-1]
    want = sum(len(ev[d]) for d in keep)
    q = "where ts >= %sT00:00:00Z and ts < %sT00:00:00Z | stats count() as n, sum(bytes_out) as s" % (
        lo, hi + dt.timedelta(days=1))
    want_s = sum(r[0] for d in keep for r in ev[d])
    stop = threading.Event()
    seen = []

    def loop():
        while not stop.is_set():
            p = run("query", store, q, "--format", "json", check=False)
            if p.returncode == 0:
                r = json.loads(p.stdout)[0]
                seen.append((r["n"], r["s"]))
            else:
                seen.append(("error", p.stderr.strip()[-200:]))

    th = threading.Thread(target=loop)
    th.start()
    run("retain", store, "--now", iso_now(now_day))
    stop.set()
    th.join()
    bad = [s for s in seen if s != (want, want_s)]
    check(len(seen) > 0 and not bad, "queries during retain: %d of %d wrong, e.g. %s (want %s)"
          % (len(bad), len(seen), bad[:2], (want, want_s)))
    print("retention.py: %d queries during retain, all exact" % len(seen) if not bad else "")


if __name__ == "__main__":
    sys.exit(main())
