#!/usr/bin/env python3
"""
crash.py — acknowledged ingest, crash safety and concurrent writers, end to end through
the colog CLI, checked against a sequence number carried by every row.

Every store here has the schema `ts time, seq u64, src_ip ip indexed, dst_port u16
indexed`; row k has seq k, and its day is 7k mod D of a few days, so every batch writes
a part in each day. A few rows are bad on purpose (an invalid address: rejected, their
seq never stored): acks count them too.

What it does
  1. ingest: `colog ingest --acks --batch-rows 200` reads rows from a pipe this script
     feeds, and is stopped at random moments with SIGKILL (after a random ack, or at a
     random time) and at crash points (COLOG_CRASH_AT=NAME:N, the process _exit()s there
     as if killed): ingest-committed (a batch's parts committed, its ack not printed),
     ingest-acked (printed, backlog merges not run), publish-before-rename /
     publish-after-rename (colog_store.c) and merge-written (a backlog merge written,
     not committed; colog_merge.c). After each stop, before any writer recovers:
     no seq appears twice (`stats count() as n, dcount(seq) as d ...`, and the count of
     every seq), every acked row is present, nothing unknown is, and a range query up to
     the last seq below which every row is handled counts exactly. Then a writer recovers
     (`colog merge`, or an ingest of an empty file, in turn), `colog verify` passes and
     the same checks hold. The next ingest resumes like a client that wants every row
     exactly once: it resends from the last ack + 1, leaving out the rows whose seq it
     finds already stored (rows committed after the last ack: the idempotency key at
     work). A scenario ends when every row is acknowledged; a new store starts the next.
     Some cycles use `--format auto` on NDJSON lines mixed with blank and unreadable
     lines, where acks count lines.
  2. merge: a store whose days hold 16 parts each (an ingest of 16 batches stopped at its
     first closing merge) is merged by `colog merge`, which is killed at random moments
     and at crash points; each row is there exactly once after the kill, and after a
     second `colog merge` (which recovers and finishes: one part a day) verify passes.
  3. retain: a 24-day store (hot 5 days, cold 15) runs `colog retain --now`, killed at
     random and at crash points (as retention.py): every day is complete or (if being
     deleted) absent, every row once; a re-run reaches the expected tiers and verify passes.
  4. concurrency: two `colog ingest --acks` of disjoint seq ranges into one store, with
     `colog merge` and queries in loops. The first holds the writer lock (its input pipe
     kept open); the second is started and must print no ack while the first runs (it
     waits on the lock: the timestamps are printed), then finishes; every query sees
     count = dcount(seq), and counts that only grow; at the end every row once, verify.

Usage: crash.py [--long N] [--seed S] [--keep]
  default (CI): a short run (about a minute under ASan); --long N: N cycles of each crash
  kind (ingest, merge, retain) and N/4 concurrency runs (N >= 200 for a soak test,
  against a Release build).
Environment: COLOG_BIN (default build/colog); relative paths resolve against the repository
root. Python 3.9+ standard library only.
"""
import argparse
import collections
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
SCHEMA = "ts time\nseq u64\nsrc_ip ip indexed\ndst_port u16 indexed\n"
DAY0 = dt.date(2025, 1, 6)
EPOCH = dt.date(1970, 1, 1)
BATCH = 200

failures = []
counts = collections.Counter()  # cycles per kind
notes = collections.Counter()  # how cycles ended


def colog_bin():
    b = os.environ.get("COLOG_BIN", "build/colog")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def clean_env(extra=None):
    e = dict(os.environ)
    e.pop("COLOG_CRASH_AT", None)
    if extra:
        e.update(extra)
    return e


def run(*args, check=True, env=None):
    p = subprocess.run([colog_bin(), *args], capture_output=True, text=True, env=clean_env(env))
    if check and p.returncode not in (0, 3):
        raise SystemExit("FAIL: colog %s: exit %d\n%s%s" % (" ".join(args), p.returncode,
                                                            p.stdout, p.stderr))
    return p


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


# ---------------------------------------------------------------- rows


class Item:
    """One line of input: seq (None for a line that is no row), its text, and whether
    the store keeps it (good)."""
    __slots__ = ("seq", "text", "good")

    def __init__(self, seq, text, good):
        self.seq, self.text, self.good = seq, text, good


def ts_of(seq, ndays):
    d = DAY0 + dt.timedelta(days=seq * 7 % ndays)
    s = seq * 7919 % 86400
    return "%sT%02d:%02d:%02dZ" % (d.isoformat(), s // 3600, s // 60 % 60, s % 60)


def row_fields(seq, ndays):
    bad = seq % 53 == 0
    ip = "10.%d.%d.999" % (seq % 7, seq % 250) if bad else "10.%d.%d.%d" % (
        seq % 7, seq % 250, seq % 199 + 1)
    return ts_of(seq, ndays), ip, seq % 1000, not bad


def csv_items(lo, hi, ndays):
    out = []
    for s in range(lo, hi + 1):
        ts, ip, port, good = row_fields(s, ndays)
        out.append(Item(s, "%s,%d,%s,%d\n" % (ts, s, ip, port), good))
    return out


def line_items(lo, hi, ndays):
    """NDJSON events for --format auto, with blank lines (skipped) and unreadable ones
    (rejected) in between."""
    out = []
    for s in range(lo, hi + 1):
        if s % 29 == 0:
            out.append(Item(None, "\n", False))
        if s % 31 == 0:
            out.append(Item(None, "this is no log line %d\n" % s, False))
        ts, ip, port, good = row_fields(s, ndays)
        out.append(Item(s, json.dumps({"ts": ts, "seq": s, "src_ip": ip, "dst_port": port})
                        + "\n", good))
    return out


def write_csv(path, items):
    with open(path, "w") as f:
        f.write("ts,seq,src_ip,dst_port\n")
        for it in items:
            f.write(it.text)


def new_store(tmp, name, *init_args):
    store = os.path.join(tmp, name)
    shutil.rmtree(store, ignore_errors=True)
    sp = os.path.join(tmp, "crash.schema")
    with open(sp, "w") as f:
        f.write(SCHEMA)
    run("init", store, "--schema", sp, *init_args)
    return store


# ---------------------------------------------------------------- observing a store


def seq_counts(store):
    p = run("query", store, "fields seq", "--format", "csv")
    lines = p.stdout.split("\n")
    return collections.Counter(int(x) for x in lines[1:] if x)


def agg(store, where=""):
    q = (where + " | " if where else "") + \
        "stats count() as n, dcount(seq) as d, min(seq) as lo, max(seq) as hi"
    p = run("query", store, q, "--format", "json")
    r = json.loads(p.stdout)
    return r[0] if r else {"n": 0, "d": 0, "lo": None, "hi": None}


def day_summary(store):
    p = run("query", store, "stats count() as n, dcount(seq) as d, sum(seq) as s, "
            "min(seq) as lo, max(seq) as hi by day(ts) | sort day", "--format", "json")
    return {r["day"][:10]: (r["n"], r["d"], r["s"], r["lo"], r["hi"]) for r in json.loads(p.stdout)}


def parts_per_day(store):
    js = json.loads(run("stats", store, "--format", "json").stdout)
    out = collections.defaultdict(dict)
    for r in js["days"]:
        out[r["day"][:10]][r["tier"]] = r["parts"]
    return out


def verify(store, label):
    p = run("verify", store, check=False)
    check(p.returncode == 0, "%s: verify failed (exit %d): %s" % (label, p.returncode,
                                                                  (p.stdout + p.stderr)[-600:]))


def recover(store, k):
    """Let a writer run recovery: `colog merge`, or an ingest of an empty file."""
    if k % 2 == 0:
        run("merge", store)
    else:
        run("ingest", store, "--format", "csv", os.devnull)


# ---------------------------------------------------------------- one ingest session


class Session:
    """`colog ingest --acks` fed through a pipe. acks: [(time, N)] as read."""

    def __init__(self, store, items, fmt, env=None, batch=BATCH, hold=None):
        self.items = items
        self.acks = []
        self.bad_acks = []
        self.hold = hold  # an Event: feed the first half, wait for it, then the rest
        args = [colog_bin(), "ingest", store, "--acks", "--batch-rows", str(batch),
                "--rejects", os.devnull, "--format", fmt, "-"]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=clean_env(env))
        self.header = "ts,seq,src_ip,dst_port\n" if fmt == "csv" else ""
        self.first_ack = threading.Event()
        self.rd = threading.Thread(target=self._read, daemon=True)
        self.wr = threading.Thread(target=self._feed, daemon=True)
        self.er = threading.Thread(target=self._errs, daemon=True)
        self.stderr = b""
        self.rd.start()
        self.wr.start()
        self.er.start()

    def _feed(self):
        try:
            w = self.proc.stdin
            w.write(self.header.encode())
            half = len(self.items) // 2 if self.hold else len(self.items)
            for lo, hi in ((0, half), (half, len(self.items))):
                if lo == half and self.hold:
                    w.flush()
                    self.hold.wait()
                buf = []
                for it in self.items[lo:hi]:
                    buf.append(it.text)
                    if len(buf) == 512:
                        w.write("".join(buf).encode())
                        buf = []
                w.write("".join(buf).encode())
            w.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def _read(self):
        last = 0
        for line in self.proc.stdout:
            t = time.monotonic()
            parts = line.split()
            if len(parts) != 2 or parts[0] != b"acked" or not parts[1].isdigit():
                self.bad_acks.append(line)
                continue
            n = int(parts[1])
            if n <= last or n > len(self.items):
                self.bad_acks.append(line)
            last = max(last, n)
            self.acks.append((t, n))
            self.first_ack.set()

    def _errs(self):
        self.stderr = self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)

    def wait(self):
        rc = self.proc.wait()
        self.t_exit = time.monotonic()
        self.rd.join()
        self.wr.join(timeout=5)
        self.er.join()
        return rc

    def last_ack(self):
        return self.acks[-1][1] if self.acks else 0


# ---------------------------------------------------------------- 1. ingest


class Scenario:
    """A store and the rows a client wants in it exactly once."""

    def __init__(self, tmp, k, lines, nrows, ndays=4):
        self.store = new_store(tmp, "ingest-%s-%d" % ("lines" if lines else "csv", k))
        self.lines = lines
        self.items = (line_items if lines else csv_items)(1, nrows, ndays)
        self.handled = [False] * len(self.items)
        self.good = {it.seq for it in self.items if it.good}
        self.sessions = 0
        self.rate = 8000.0  # input lines a second, from the last session that finished

    def done(self):
        return all(self.handled)

    def next_input(self, present):
        """Resend from the last ack + 1, leaving out rows already stored."""
        idx = []
        for i, it in enumerate(self.items):
            if self.handled[i]:
                continue
            if it.good and present.get(it.seq, 0) > 0:
                self.handled[i] = True  # committed after the last ack: found by its key
                continue
            idx.append(i)
        return idx

    def check(self, label):
        cnt = seq_counts(self.store)
        dups = sorted(s for s, c in cnt.items() if c > 1)
        check(not dups, "%s: %d seqs stored twice, e.g. %s" % (label, len(dups), dups[:5]))
        unknown = sorted(s for s in cnt if s not in self.good)
        check(not unknown, "%s: %d unknown seqs stored, e.g. %s" % (label, len(unknown),
                                                                     unknown[:5]))
        missing = [it.seq for i, it in enumerate(self.items)
                   if self.handled[i] and it.good and it.seq not in cnt]
        check(not missing, "%s: %d acknowledged rows missing, e.g. seq %s" % (
            label, len(missing), missing[:5]))
        a = agg(self.store)
        total = sum(cnt.values())
        check(a["n"] == a["d"] == total, "%s: count %s, dcount(seq) %s, rows %d" % (
            label, a["n"], a["d"], total))
        # Every row up to the first one not yet handled, by a range query.
        bound = 0
        for i, it in enumerate(self.items):
            if not self.handled[i]:
                break
            if it.seq is not None:
                bound = it.seq
        if bound:
            want = sum(1 for s in self.good if s <= bound)
            r = agg(self.store, "where seq <= %d" % bound)
            check(r["n"] == r["d"] == want, "%s: seq <= %d: count %s, dcount %s, expected %d"
                  % (label, bound, r["n"], r["d"], want))
        return cnt


def ingest_cycle(sc, how, rnd, label, k):
    present = seq_counts(sc.store)
    idx = sc.next_input(present)
    if not idx:
        return
    items = [sc.items[i] for i in idx]
    env = {"COLOG_CRASH_AT": how} if how != "kill" else None
    s = Session(sc.store, items, "auto" if sc.lines else "csv", env=env)
    if how == "kill":
        nacks = max(1, len(items) // BATCH)
        if rnd.random() < 0.6:  # after a random ack, a moment later
            want = rnd.randrange(1, nacks + 1)
            deadline = time.monotonic() + 60
            while len(s.acks) < want and s.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rnd.uniform(0, 0.03))
        else:  # at a random time within the session's expected run
            time.sleep(rnd.uniform(0.005, max(0.05, len(items) / sc.rate)))
        s.kill()
    rc = s.wait()
    if rc in (0, 3):
        sc.rate = len(items) / max(0.01, s.t_exit - s.t0)
    sc.sessions += 1
    check(not s.bad_acks, "%s: bad ack lines %s" % (label, s.bad_acks[:3]))
    n = s.last_ack()
    if rc in (0, 3):
        notes["ingest finished"] += 1
        check(n == len(items), "%s: finished (exit %d) but the last ack is %d of %d" % (
            label, rc, n, len(items)))
        accepted = sum(1 for it in items if it.good)
        check(len(s.acks) >= accepted // BATCH, "%s: %d acks for %d rows in batches of %d" % (
            label, len(s.acks), accepted, BATCH))
    elif rc in (-9, 137):
        notes["ingest killed" if rc == -9 else "ingest crash point"] += 1
    else:
        check(False, "%s: exit %d: %s" % (label, rc, s.stderr.decode(errors="replace")[-400:]))
    for i in idx[:n]:
        sc.handled[i] = True
    sc.check(label + ", after the stop")
    recover(sc.store, k)
    verify(sc.store, label + ", after recovery")
    sc.check(label + ", after recovery")


INGEST_POINTS = ["ingest-committed:1", "ingest-committed:4", "ingest-acked:3",
                 "publish-before-rename:5", "publish-after-rename:9", "publish-after-rename:1",
                 "merge-written:1", "publish-before-rename:66", "ingest-acked:15"]


def ingest_tests(tmp, rnd, ncycles, nlines, rows):
    plan = ([("csv", p) for p in INGEST_POINTS] + [("lines", "ingest-committed:2")] +
            [("csv", "kill")] * max(0, ncycles - len(INGEST_POINTS) - 1 - nlines) +
            [("lines", "kill")] * nlines)
    sc = {}
    for k, (mode, how) in enumerate(plan):
        lines = mode == "lines"
        if mode not in sc or sc[mode].done():
            if mode in sc:
                sc[mode].check("ingest %s: scenario complete" % mode)
                c = seq_counts(sc[mode].store)
                check(set(c) == sc[mode].good and max(c.values()) == 1,
                      "ingest %s: every row exactly once at the end" % mode)
                notes["ingest scenarios complete"] += 1
            sc[mode] = Scenario(tmp, k, lines, rows)
        ingest_cycle(sc[mode], how, rnd, "ingest %d (%s, %s)" % (k, mode, how), k)
        counts["ingest"] += 1
    # Finish each scenario: the last session runs to its end.
    for mode, s in sc.items():
        present = seq_counts(s.store)
        idx = s.next_input(present)
        if idx:
            sess = Session(s.store, [s.items[i] for i in idx], "auto" if s.lines else "csv")
            rc = sess.wait()
            check(rc in (0, 3) and sess.last_ack() == len(idx),
                  "ingest %s: the last session: exit %d, ack %d of %d" % (
                      mode, rc, sess.last_ack(), len(idx)))
            for i in idx[:sess.last_ack()]:
                s.handled[i] = True
        c = s.check("ingest %s: at the end" % mode)
        check(set(c) == s.good and (not c or max(c.values()) == 1),
              "ingest %s: every row exactly once at the end (%d of %d)" % (mode, len(c), len(s.good)))
        verify(s.store, "ingest %s: at the end" % mode)


# ---------------------------------------------------------------- 2. merge


def merge_base(tmp, ndays, per_batch):
    """A store whose days hold 16 parts each: 16 batches, then the ingest is stopped at its
    first closing merge (the backlog merges start above 16 parts, so none ran)."""
    store = new_store(tmp, "merge-base")
    items = csv_items(1, 16 * per_batch, ndays)
    f = os.path.join(tmp, "merge.csv")
    write_csv(f, items)
    p = subprocess.run([colog_bin(), "ingest", store, "--batch-rows", str(per_batch), "--acks",
                        "--rejects", os.devnull, f], capture_output=True, text=True,
                       env=clean_env({"COLOG_CRASH_AT": "merge-written:1"}))
    check(p.returncode == 137, "merge base: the ingest stops at its first merge (exit %d)"
          % p.returncode)
    check(p.stdout.split()[-1:] == [str(len(items))], "merge base: every row acked: %s"
          % p.stdout.split()[-2:])
    ppd = parts_per_day(store)
    check(all(d.get("hot") == 16 for d in ppd.values()) and len(ppd) == ndays,
          "merge base: 16 parts a day: %s" % dict(ppd))
    good = {it.seq for it in items if it.good}
    return store, good


def merge_tests(tmp, rnd, ncycles, per_batch):
    base, good = merge_base(tmp, 6, per_batch)
    work = os.path.join(tmp, "merge")

    def fresh():
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work, symlinks=True)

    def exactly_once(label):
        c = seq_counts(work)
        dups = [s for s, v in c.items() if v > 1]
        check(set(c) == good and not dups, "%s: %d rows, %d expected, %d doubled" % (
            label, len(c), len(good), len(dups)))
        a = agg(work)
        check(a["n"] == a["d"] == len(good), "%s: count %s, dcount %s, expected %d" % (
            label, a["n"], a["d"], len(good)))

    fresh()
    t0 = time.monotonic()
    run("merge", work)
    full = time.monotonic() - t0
    exactly_once("merge, uninterrupted")
    verify(work, "merge, uninterrupted")
    points = ["merge-written:%d" % k for k in (1, 3, 6)] + \
             ["publish-before-rename:%d" % k for k in (1, 4)] + \
             ["publish-after-rename:%d" % k for k in (1, 2, 5)]
    plan = points + ["kill"] * max(0, ncycles - len(points))
    for k, how in enumerate(plan[:max(ncycles, len(points))]):
        label = "merge %d (%s)" % (k, how)
        fresh()
        if how == "kill":
            proc = subprocess.Popen([colog_bin(), "merge", work], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=clean_env())
            time.sleep(rnd.uniform(0, full * 1.1))
            proc.send_signal(signal.SIGKILL)
            rc = proc.wait()
        else:
            rc = run("merge", work, check=False, env={"COLOG_CRASH_AT": how}).returncode
        notes["merge " + {0: "finished", -9: "killed", 137: "crash point"}.get(rc, "exit %d" % rc)] += 1
        check(rc in (0, -9, 137), "%s: exit %d" % (label, rc))
        exactly_once(label + ", after the stop")
        run("merge", work)  # recovers, then merges what is left
        exactly_once(label + ", after a second merge")
        verify(work, label + ", after a second merge")
        ppd = parts_per_day(work)
        check(all(d.get("hot") == 1 for d in ppd.values()), "%s: one part a day after the "
              "second merge: %s" % (label, dict(ppd)))
        counts["merge"] += 1


# ---------------------------------------------------------------- 3. retain


RETAIN_POINTS = ["publish-before-rename", "publish-after-rename", "day-remove-logged",
                 "day-remove-renamed", "merge-written"]


def retain_tests(tmp, rnd, ncycles, rows):
    ndays, hot, cold = 24, 5, 15
    base = new_store(tmp, "retain-base", "--hot-days", str(hot), "--cold-days", str(cold),
                     "--cold-zstd-level", "3")
    items = csv_items(1, rows, ndays)
    for half in (items[: len(items) // 2], items[len(items) // 2:]):  # two parts a day
        f = os.path.join(tmp, "retain.csv")
        write_csv(f, half)
        run("ingest", base, f)
    every = day_summary(base)
    check(len(every) == ndays, "retain base: %d days" % len(every))
    now_day = (DAY0 - EPOCH).days + ndays  # the day after the last
    now = (EPOCH + dt.timedelta(days=now_day)).isoformat() + "T06:00:00Z"

    def dn(d):
        return (dt.date.fromisoformat(d) - EPOCH).days

    stay = {d for d in every if dn(d) + 1 + cold > now_day}
    tier = {d: "cold" if dn(d) + 1 + hot <= now_day else "hot" for d in stay}
    work = os.path.join(tmp, "retain")

    def fresh():
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work, symlinks=True)

    def after_stop(label):
        obs = day_summary(work)
        for d, v in obs.items():
            check(v == every.get(d) and v[0] == v[1], "%s: day %s has %s, expected %s" % (
                label, d, v, every.get(d)))
        for d in stay:
            check(d in obs, "%s: day %s vanished" % (label, d))
        c = seq_counts(work)
        check(not c or max(c.values()) == 1, "%s: a seq stored twice" % label)

    def final(label):
        obs = day_summary(work)
        check(set(obs) == stay and all(obs[d] == every[d] for d in stay),
              "%s: days %d, expected %d" % (label, len(obs), len(stay)))
        ppd = parts_per_day(work)
        wrong = [d for d in stay if set(ppd.get(d, {})) != {tier[d]}]
        check(not wrong, "%s: days in the wrong tier: %s" % (label, wrong[:3]))
        verify(work, label)

    fresh()
    t0 = time.monotonic()
    run("retain", work, "--now", now)
    full = time.monotonic() - t0
    final("retain, uninterrupted")
    plan = ["%s:%d" % (p, n) for p in RETAIN_POINTS for n in (1, 3, 7)]
    if ncycles < len(plan):
        plan = rnd.sample(plan, ncycles)
    plan += ["kill"] * max(0, ncycles - len(plan))
    for k, how in enumerate(plan):
        label = "retain %d (%s)" % (k, how)
        fresh()
        if how == "kill":
            proc = subprocess.Popen([colog_bin(), "retain", work, "--now", now],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=clean_env())
            time.sleep(rnd.uniform(0, full * 1.1))
            proc.send_signal(signal.SIGKILL)
            rc = proc.wait()
        else:
            rc = run("retain", work, "--now", now, check=False,
                     env={"COLOG_CRASH_AT": how}).returncode
        notes["retain " + {0: "finished", -9: "killed", 137: "crash point"}.get(rc, "exit %d" % rc)] += 1
        check(rc in (0, -9, 137), "%s: exit %d" % (label, rc))
        after_stop(label + ", after the stop")
        run("retain", work, "--now", now)  # recovers and completes
        final(label + ", re-run")
        again = run("retain", work, "--now", now)
        check("0 moved, 0 archived, 0 deleted" in again.stdout,
              "%s: a second run changes nothing: %s" % (label, again.stdout.strip()[-200:]))
        counts["retain"] += 1


# ---------------------------------------------------------------- 4. concurrency


def concurrency_run(tmp, k, rnd, nrows, report):
    store = new_store(tmp, "conc")
    lo = 1 + k * 2 * nrows
    a_items = csv_items(lo, lo + nrows - 1, 4)
    b_items = csv_items(lo + nrows, lo + 2 * nrows - 1, 4)
    good = {it.seq for it in a_items + b_items if it.good}
    label = "concurrency %d" % k
    stop = threading.Event()
    seen, merges = [], []

    def queries():
        last = 0
        while not stop.is_set():
            p = run("query", store, "stats count() as n, dcount(seq) as d", "--format", "json",
                    check=False)
            if p.returncode != 0:
                seen.append(("error", p.stderr.strip()[-200:]))
                continue
            r = json.loads(p.stdout)
            n, d = (r[0]["n"], r[0]["d"]) if r else (0, 0)
            seen.append((n, d, n == d and n >= last))
            last = max(last, n)

    def merge_loop():
        while not stop.is_set():
            t = time.monotonic()
            p = run("merge", store, check=False)
            merges.append((t, time.monotonic(), p.returncode))

    hold = threading.Event()
    a = Session(store, a_items, "csv", batch=250, hold=hold)
    if not a.first_ack.wait(60):
        check(False, "%s: the first writer printed no ack" % label)
    # A holds the writer lock (its input pipe stays open); B must wait for it.
    bfile = os.path.join(tmp, "conc-b.csv")
    write_csv(bfile, b_items)
    tb0 = time.monotonic()
    b = subprocess.Popen([colog_bin(), "ingest", store, "--acks", "--batch-rows", "250",
                          "--rejects", os.devnull, bfile], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=clean_env())
    b_acks = []

    def read_b():
        for line in b.stdout:
            b_acks.append((time.monotonic(), int(line.split()[1])))

    rb = threading.Thread(target=read_b, daemon=True)
    rb.start()
    th = [threading.Thread(target=queries, daemon=True),
          threading.Thread(target=merge_loop, daemon=True)]
    for t in th:
        t.start()
    time.sleep(0.4)
    held_ok = not b_acks and b.poll() is None
    check(held_ok, "%s: the second writer did not wait for the lock (acks %s, exit %s)" % (
        label, b_acks[:2], b.poll()))
    hold.set()
    rca = a.wait()
    rcb = b.wait()
    rb.join()
    stop.set()
    for t in th:
        t.join()
    check(rca in (0, 3) and a.last_ack() == len(a_items), "%s: first writer exit %d ack %d" % (
        label, rca, a.last_ack()))
    check(rcb in (0, 3) and b_acks and b_acks[-1][1] == len(b_items),
          "%s: second writer exit %d acks %s" % (label, rcb, b_acks[-1:]))
    if b_acks and a.acks:
        check(b_acks[0][0] > a.acks[-1][0], "%s: the second writer acked before the first "
              "was done" % label)
    bad = [s for s in seen if len(s) != 3 or not s[2]]
    check(seen and not bad, "%s: %d of %d queries saw a row twice or a count go down, e.g. %s"
          % (label, len(bad), len(seen), bad[:3]))
    c = seq_counts(store)
    check(set(c) == good and max(c.values()) == 1, "%s: every row exactly once at the end "
          "(%d of %d)" % (label, len(c), len(good)))
    verify(store, label)
    counts["concurrency"] += 1
    counts["concurrency queries"] += len(seen)
    counts["concurrency merges"] += len(merges)
    if report and b_acks and a.acks:
        print("crash.py: %s: A's first ack at %.3f s, B started at %.3f s and printed nothing "
              "for 0.4 s, A's last ack at %.3f s, A exited at %.3f s, B's first ack at %.3f s, "
              "B exited at %.3f s; %d queries, %d merges in between"
              % (label, a.acks[0][0] - a.t0, tb0 - a.t0, a.acks[-1][0] - a.t0, a.t_exit - a.t0,
                 b_acks[0][0] - a.t0, time.monotonic() - a.t0, len(seen), len(merges)))


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--long", type=int, default=0, metavar="N",
                    help="N cycles of each crash kind, N/4 concurrency runs")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", default="ingest,merge,retain,concurrency",
                    help="comma-separated kinds to run")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if not os.access(colog_bin(), os.X_OK):
        raise SystemExit("crash.py: %s is not built" % colog_bin())
    rnd = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="colog-crash-")
    t0 = time.time()
    if args.long:
        n_ing, n_lines, n_merge, n_ret, n_conc, rows = (args.long, args.long // 5, args.long,
                                                        args.long, max(20, args.long // 4), 6000)
    else:
        n_ing, n_lines, n_merge, n_ret, n_conc, rows = 26, 4, 14, 18, 20, 4000
    kinds = [("ingest", lambda: ingest_tests(tmp, rnd, n_ing, n_lines, rows)),
             ("merge", lambda: merge_tests(tmp, rnd, n_merge, 1500 if args.long else 600)),
             ("retain", lambda: retain_tests(tmp, rnd, n_ret, 1500)),
             ("concurrency", lambda: [concurrency_run(tmp, k, rnd, 1000, k == 0)
                                      for k in range(n_conc)])]
    times = {}
    try:
        for name, fn in kinds:
            if name in only:
                tk = time.time()
                fn()
                times[name] = time.time() - tk
                print("crash.py: %s: %d cycles in %.0f s" % (name, counts[name], times[name]),
                      flush=True)
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("crash.py: cycles: %s" % ", ".join("%s %d (%.0f s)" % (k, counts[k], times.get(k, 0))
                                             for k in ("ingest", "merge", "retain", "concurrency")))
    print("crash.py: %d queries and %d merges during concurrent ingests; %s" % (
        counts["concurrency queries"], counts["concurrency merges"],
        ", ".join("%s %d" % kv for kv in sorted(notes.items()))))
    if failures:
        print("crash.py: %d failures" % len(failures))
        return 1
    print("crash.py: all checks passed (%.0f s)" % (time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
