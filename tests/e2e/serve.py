#!/usr/bin/env python3
"""
serve.py — `colog serve` end to end: real syslog clients and curl against a running server,
then counts and field values checked in the store with `colog query`.

What it does (each client is started here and stopped after; servers listen on free
loopback ports; every server is stopped with SIGTERM and must exit 0)
  a. logger (bsdutils) --tcp, plain newline framing and --octet-count: FortiGate key=value
     and iptables lines (two vendor formats, auto-detected per line).
  b. rsyslogd with a private configuration (no system daemon): imfile follows a file this
     script appends to, omfwd forwards over TCP with TCP_Framing="octet-counted".
  c. syslog-ng, fetched without installing it (tests/e2e/get_syslog_ng.sh: Debian's
     syslog-ng-core conflicts with rsyslog): a file() source and a network(transport("tcp"))
     destination (newline framing).
  d. curl: POST /ingest with NDJSON and CSV bodies, good and bad rows (422 with the bad rows
     listed, the good ones stored), a CSV header naming an unknown column (400, nothing
     stored), a body over --max-body (413); the rows are queryable as soon as the 200 comes
     back; GET /query; a token (401 without or with a wrong one, 200 with it). And over TCP a
     message longer than --max-message is rejected while the next one on the same connection
     is kept (newline framing), and an over-long octet-counted frame closes the connection.
  e. SIGTERM while two clients stream (newline and octet counting) and curl keeps POSTing:
     every line a client had written before the signal is stored, what is stored is an
     unbroken prefix of what it sent, and every POST answered 200 is stored.
  f. 50 concurrent connections sending 200 lines each: all 10,000 rows are stored, and they
     are durable within a few seconds of the last line, before the server is stopped.

Environment: COLOG_BIN (default build/colog; relative paths resolve against the repository
root); COLOG_ALLOW_SKIP=1 turns a failed syslog-ng download (no network) into a skip of part
(c) instead of a failure; XDG_CACHE_HOME (default ~/.cache) holds the syslog-ng download
(colog-test/syslog-ng). Python 3.9+ standard library only.
"""
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def colog_bin():
    b = os.environ.get("COLOG_BIN", "build/colog")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def run(*args, check_rc=True):
    p = subprocess.run([colog_bin(), *args], capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise SystemExit("FAIL: colog %s: exit %d\n%s%s" % (" ".join(args), p.returncode,
                                                            p.stdout, p.stderr))
    return p


def query(store, q):
    return json.loads(run("query", store, q, "--format", "json").stdout)


def count(store, where):
    return query(store, "where %s | stats count() as n" % where)[0]["n"]


def wait_count(store, where, want, timeout):
    """Poll until the count reaches want; (count, seconds waited)."""
    t0 = time.time()
    n = -1
    while time.time() - t0 < timeout:
        n = count(store, where)
        if n >= want:
            break
        time.sleep(0.2)
    return n, time.time() - t0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def utc_now():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Server:
    """colog serve on free loopback ports; stderr kept in a file."""

    def __init__(self, work, store, name, *extra):
        self.tcp, self.http = free_port(), free_port()
        self.errpath = os.path.join(work, "serve-%s.err" % name)
        self.err = open(self.errpath, "w")
        args = [colog_bin(), "serve", store, "--listen", "127.0.0.1:%d" % self.tcp,
                "--http", "127.0.0.1:%d" % self.http, *extra]
        self.p = subprocess.Popen(args, stderr=self.err, stdout=subprocess.DEVNULL)
        t0 = time.time()
        while "open for writing" not in self.stderr():
            if self.p.poll() is not None or time.time() - t0 > 30:
                raise SystemExit("FAIL: colog serve did not start:\n" + self.stderr())
            time.sleep(0.05)

    def stderr(self):
        with open(self.errpath) as f:
            return f.read()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http, path)

    def stop(self, what):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.err.close()
        check(rc == 0, "%s: colog serve exit %s after SIGTERM:\n%s" % (what, rc, self.stderr()))
        return self.stderr()


def curl(*args, data=None):
    """(status, parsed JSON body or text) of one curl call."""
    cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args]
    p = subprocess.run(cmd, capture_output=True, input=data)
    out = p.stdout.decode("utf-8", "replace")
    body, _, code = out.rpartition("\n")
    try:
        js = json.loads(body)
    except ValueError:
        js = body
    return int(code or 0), js


# ---------------------------------------------------------------- log lines


def fortigate(sec, n, t):
    """A FortiGate traffic message (no syslog header): section sec, number n."""
    return ('date=%s time=%s devname="fgt-%d" devid="FG100E0000" logid="0000000013" '
            'type="traffic" subtype="forward" level="notice" vd="root" srcip=10.%d.0.%d '
            'srcport=%d srcintf="port1" dstip=198.51.100.%d dstport=443 dstintf="wan1" '
            'proto=6 action="accept" policyid=%d service="HTTPS" duration=%d sentbyte=%d '
            'rcvdbyte=%d user="user%d"'
            % (t.strftime("%Y-%m-%d"), t.strftime("%H:%M:%S"), sec, sec, n, 50000 + n, n, n, n,
               1000 + n, 2000 + n, n))


def fortigate_expected(sec, n, t):
    return {"ts": iso(t), "device": "fgt-%d" % sec, "src_ip": "10.%d.0.%d" % (sec, n),
            "src_port": 50000 + n, "dst_ip": "198.51.100.%d" % n, "dst_port": 443,
            "proto": "tcp", "action": "accept", "policy": n, "src_zone": "port1",
            "dst_zone": "wan1", "user": "user%d" % n, "bytes_out": 1000 + n,
            "bytes_in": 2000 + n, "duration": n}


def iptables(sec, n):
    """An iptables LOG line as the kernel writes it (no syslog header)."""
    return ("[%d.123456] fw DROP: IN=eth0 OUT= MAC=00:16:3e:00:00:01:00:16:3e:00:00:02:08:00 "
            "SRC=10.%d.1.%d DST=203.0.113.%d LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=%d DF "
            "PROTO=TCP SPT=%d DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0"
            % (1000 + n, sec, n, n, n, 40000 + n))


def iptables_expected(sec, n):
    return {"src_ip": "10.%d.1.%d" % (sec, n), "dst_ip": "203.0.113.%d" % n,
            "src_port": 40000 + n, "dst_port": 22, "proto": "tcp", "action": "drop"}


FIELDS = ("ts, device, src_ip, src_port, dst_ip, dst_port, proto, action, policy, src_zone, "
          "dst_zone, user, bytes_out, bytes_in, duration")


def check_rows(store, sec, expected, what):
    """expected: {src_ip: {field: value}}; the rows of 10.sec.0.0/16 must match."""
    rows = query(store, "where src_ip in 10.%d.0.0/16 | fields %s" % (sec, FIELDS))
    got = {}
    for r in rows:
        check(r["src_ip"] not in got, "%s: %s stored twice" % (what, r["src_ip"]))
        got[r["src_ip"]] = r
    check(set(got) == set(expected), "%s: rows %s, expected %s" % (
        what, sorted(got), sorted(expected)))
    for ip, want in expected.items():
        r = got.get(ip)
        if r is None:
            continue
        for k, v in want.items():
            check(r.get(k) == v, "%s: %s: %s = %r, expected %r" % (what, ip, k, r.get(k), v))


def section_lines(sec, n, t):
    """n FortiGate and n iptables messages of section sec, and what the store should hold."""
    lines, exp = [], {}
    for i in range(1, n + 1):
        lines.append(fortigate(sec, i, t))
        exp["10.%d.0.%d" % (sec, i)] = fortigate_expected(sec, i, t)
        lines.append(iptables(sec, i))
        exp["10.%d.1.%d" % (sec, i)] = iptables_expected(sec, i)
    return lines, exp


# ---------------------------------------------------------------- a. logger


def test_logger(work, store, srv):
    t = utc_now() - dt.timedelta(minutes=5)
    # RFC 3164 headers: behind logger's default RFC 5424 header (with or without its
    # [timeQuality] structured data) the FortiGate normalizer does not find its lines yet.
    for sec, framing in ((11, ["--rfc3164"]), (12, ["--rfc3164", "--octet-count"])):
        lines, exp = section_lines(sec, 3, t)
        path = os.path.join(work, "logger-%d.txt" % sec)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = subprocess.run(["logger", "--tcp", "-n", "127.0.0.1", "-P", str(srv.tcp), "-t",
                            "fw", "-p", "local0.info", *framing, "-f", path],
                           capture_output=True, text=True)
        check(p.returncode == 0, "logger %s: exit %d %s" % (framing, p.returncode, p.stderr))
        n, waited = wait_count(store, "src_ip in 10.%d.0.0/16" % sec, len(exp), 20)
        check(n == len(exp), "logger %s: %d rows, expected %d" % (framing, n, len(exp)))
        check_rows(store, sec, exp, "logger %s" % (framing or "newline"))
        print("  logger --tcp %s: %d rows, durable after %.1f s" % (
            " ".join(framing) or "(newline framing)", n, waited))


# ---------------------------------------------------------------- b. rsyslog


def test_rsyslog(work, store, srv):
    d = os.path.join(work, "rsyslog")
    os.makedirs(os.path.join(d, "work"))
    infile = os.path.join(d, "in.log")
    open(infile, "w").close()
    conf = os.path.join(d, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write('global(workDirectory="%s")\n' % os.path.join(d, "work"))
        f.write('module(load="imfile" mode="inotify")\n')
        f.write('input(type="imfile" File="%s" Tag="fw:" Facility="local0" Severity="info")\n'
                % infile)
        f.write('action(type="omfwd" Target="127.0.0.1" Port="%d" Protocol="tcp" '
                'TCP_Framing="octet-counted" action.resumeRetryCount="-1" '
                'action.resumeInterval="1")\n' % srv.tcp)
    env = dict(os.environ, TZ="UTC")
    log = open(os.path.join(d, "rsyslogd.out"), "w")
    p = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(d, "pid")],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        time.sleep(1.0)  # let imfile set its watch
        t = utc_now() - dt.timedelta(minutes=5)
        lines, exp = section_lines(21, 5, t)
        with open(infile, "a") as f:  # appended in two goes, as a log grows
            f.write("\n".join(lines[:4]) + "\n")
            f.flush()
            time.sleep(0.3)
            f.write("\n".join(lines[4:]) + "\n")
        n, waited = wait_count(store, "src_ip in 10.21.0.0/16", len(exp), 30)
        check(n == len(exp), "rsyslog: %d rows, expected %d" % (n, len(exp)))
        check_rows(store, 21, exp, "rsyslog")
        print("  rsyslogd imfile -> omfwd octet-counted: %d rows, durable after %.1f s"
              % (n, waited))
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


# ---------------------------------------------------------------- c. syslog-ng


def fetch_syslog_ng():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = os.path.join(cache, "colog-test", "syslog-ng")
    script = os.path.join(HERE, "get_syslog_ng.sh")
    p = subprocess.run([script, d], capture_output=True, text=True)
    if p.returncode != 0:
        return None, None, p.stderr
    root = p.stdout.strip()
    lp = subprocess.run([script, d, "--libpath"], capture_output=True, text=True).stdout.strip()
    return root, lp, ""


def test_syslog_ng(work, store, srv):
    root, libpath, err = fetch_syslog_ng()
    if root is None:
        if os.environ.get("COLOG_ALLOW_SKIP") == "1":
            print("  SKIP syslog-ng: could not fetch it (COLOG_ALLOW_SKIP=1):\n" + err)
            return
        check(False, "syslog-ng: could not fetch it (no network? set COLOG_ALLOW_SKIP=1 to "
              "skip):\n" + err)
        return
    modules = [os.path.join(root, "usr/lib/syslog-ng", v)
               for v in os.listdir(os.path.join(root, "usr/lib/syslog-ng"))
               if os.path.isdir(os.path.join(root, "usr/lib/syslog-ng", v))]
    d = os.path.join(work, "syslog-ng")
    os.makedirs(d)
    infile = os.path.join(d, "in.log")
    open(infile, "w").close()
    conf = os.path.join(d, "syslog-ng.conf")
    with open(conf, "w") as f:
        f.write("@version: 3.38\n")
        f.write("options { stats-freq(0); time-reopen(1); keep-hostname(yes); };\n")
        f.write('source s_in { file("%s" follow-freq(0.2) flags(no-parse) '
                'program-override("fw")); };\n' % infile)
        f.write('destination d_colog { network("127.0.0.1" port(%d) transport("tcp")); };\n'
                % srv.tcp)
        f.write("log { source(s_in); destination(d_colog); };\n")
    env = dict(os.environ, TZ="UTC", LD_LIBRARY_PATH=libpath)
    log = open(os.path.join(d, "syslog-ng.out"), "w")
    p = subprocess.Popen([os.path.join(root, "usr/sbin/syslog-ng"), "-F", "-f", conf, "--no-caps",
                          "-R", os.path.join(d, "persist"), "-p", os.path.join(d, "pid"),
                          "-c", os.path.join(d, "ctl"), "--module-path", ":".join(modules)],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        time.sleep(1.0)
        t = utc_now() - dt.timedelta(minutes=5)
        lines, exp = section_lines(31, 5, t)
        with open(infile, "a") as f:
            f.write("\n".join(lines) + "\n")
        n, waited = wait_count(store, "src_ip in 10.31.0.0/16", len(exp), 30)
        if not check(n == len(exp), "syslog-ng: %d rows, expected %d" % (n, len(exp))):
            log.flush()
            with open(os.path.join(d, "syslog-ng.out")) as f:
                print(f.read(), file=sys.stderr)
        check_rows(store, 31, exp, "syslog-ng")
        print("  syslog-ng file() -> network(tcp): %d rows, durable after %.1f s" % (n, waited))
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()


# ---------------------------------------------------------------- d. curl and limits


def test_http(work, store, srv):
    t = utc_now() - dt.timedelta(minutes=5)
    ts = iso(t)
    ingest = srv.url("/ingest")

    # NDJSON, all good: 200, and durable when the answer comes.
    body = "".join('{"ts":"%s","src_ip":"10.41.0.%d","dst_port":%d,"action":"allow"}\n'
                   % (ts, i, 8000 + i) for i in range(1, 4))
    code, js = curl("-H", "Content-Type: application/x-ndjson", "--data-binary", "@-", ingest,
                    data=body.encode())
    check(code == 200, "POST ndjson: status %d %s" % (code, js))
    check(isinstance(js, dict) and js.get("rows") == 3 and js.get("durable") is True,
          "POST ndjson: answer %s" % js)
    check(count(store, "src_ip in 10.41.0.0/24") == 3, "POST ndjson: rows not there at once")

    # NDJSON with bad lines: 422 listing them, the good ones stored.
    body = ('{"ts":"%s","src_ip":"10.42.0.1","dst_port":1}\n'
            '{"ts":"%s","src_ip":"10.42.0.999","dst_port":2}\n'
            'this is neither json nor syslog\n'
            '\n'
            '{"ts":"%s","src_ip":"10.42.0.4","dst_port":4}\n' % (ts, ts, ts))
    code, js = curl("-H", "Content-Type: application/x-ndjson", "--data-binary", "@-", ingest,
                    data=body.encode())
    check(code == 422, "POST ndjson with bad rows: status %d %s" % (code, js))
    if check(isinstance(js, dict), "POST ndjson with bad rows: answer %s" % js):
        check(js.get("rows") == 2 and js.get("rejected") == 2,
              "POST ndjson with bad rows: counts %s" % js)
        check([b["line"] for b in js.get("bad", [])] == [2, 3],
              "POST ndjson with bad rows: bad lines %s" % js.get("bad"))
        check(all(b.get("reason") for b in js.get("bad", [])), "bad rows without a reason")
    got = sorted(r["src_ip"] for r in query(store, "where src_ip in 10.42.0.0/24 | fields src_ip"))
    check(got == ["10.42.0.1", "10.42.0.4"], "POST ndjson with bad rows: stored %s" % got)

    # CSV (text/csv) with bad rows, and CSV sniffed without a Content-Type of its own.
    body = ("ts,src_ip,dst_port,action\n"
            "%s,10.43.0.1,443,allow\n"
            "%s,10.43.0.2,99999,allow\n"
            "%s,10.43.0.3,443\n"
            "\"%s\",\"10.43.0.4\",\"443\",\"deny, logged\"\n" % (ts, ts, ts, ts))
    code, js = curl("-H", "Content-Type: text/csv", "--data-binary", "@-", ingest,
                    data=body.encode())
    check(code == 422, "POST csv with bad rows: status %d %s" % (code, js))
    if check(isinstance(js, dict), "POST csv: answer %s" % js):
        check(js.get("rows") == 2 and js.get("rejected") == 2 and js.get("format") == "csv",
              "POST csv: counts %s" % js)
        check([b["line"] for b in js.get("bad", [])] == [3, 4], "POST csv: bad lines %s"
              % js.get("bad"))
    rows = query(store, "where src_ip in 10.43.0.0/24 | fields src_ip, action | sort src_ip")
    check([(r["src_ip"], r["action"]) for r in rows] ==
          [("10.43.0.1", "allow"), ("10.43.0.4", "deny, logged")], "POST csv: stored %s" % rows)
    body = "ts,src_ip,dst_port\n%s,10.44.0.1,22\n%s,10.44.0.2,22\n" % (ts, ts)
    code, js = curl("--data-binary", "@-", ingest, data=body.encode())  # form type: sniffed
    check(code == 200 and isinstance(js, dict) and js.get("format") == "csv" and
          js.get("rows") == 2, "POST sniffed csv: %d %s" % (code, js))

    # A header naming an unknown column: 400, nothing stored.
    body = "ts,src_ip,nosuch\n%s,10.45.0.1,1\n" % ts
    code, js = curl("-H", "Content-Type: text/csv", "--data-binary", "@-", ingest,
                    data=body.encode())
    check(code == 400 and "nosuch" in str(js), "POST csv bad header: %d %s" % (code, js))
    check(count(store, "src_ip in 10.45.0.0/24") == 0, "POST csv bad header: rows stored")

    # Over --max-body (1 MiB here): 413, nothing stored.
    big = "".join('{"ts":"%s","src_ip":"10.46.0.1","dst_port":%d}\n' % (ts, i % 60000)
                  for i in range(30000))
    code, js = curl("-H", "Content-Type: application/x-ndjson", "--data-binary", "@-", ingest,
                    data=big.encode())
    check(code == 413, "POST over --max-body: status %d" % code)
    check(count(store, "src_ip in 10.46.0.0/24") == 0, "POST over --max-body: rows stored")

    # GET /query: the same answer as the CLI; a query error is a 400 with the message.
    q = "where src_ip in 10.41.0.0/24 | fields src_ip, dst_port | sort src_ip"
    code, js = curl("-G", "--data-urlencode", "q=" + q, srv.url("/query"))
    check(code == 200 and js == query(store, q), "GET /query: %d %s" % (code, js))
    code, js = curl("-G", "--data-urlencode", "q=stats count() by nosuch", srv.url("/query"))
    check(code == 400 and "nosuch" in str(js), "GET /query bad: %d %s" % (code, js))
    code, js = curl(srv.url("/nosuch"))
    check(code == 404, "GET /nosuch: %d" % code)
    print("  curl: POST /ingest ndjson/csv 200/422/400/413, GET /query 200/400: checked")


def test_max_message(work, store, srv, limit):
    t = utc_now() - dt.timedelta(minutes=5)
    good1 = "<134>" + fortigate(47, 1, t)
    good2 = "<134>" + fortigate(47, 2, t)
    huge = "<134>" + fortigate(47, 3, t) + " pad=" + "x" * (limit + 10)
    s = socket.create_connection(("127.0.0.1", srv.tcp))
    s.sendall((good1 + "\n").encode())
    time.sleep(0.1)
    s.sendall((huge[:limit // 2]).encode())  # the long line arrives in pieces
    time.sleep(0.1)
    s.sendall((huge[limit // 2:] + "\n" + good2 + "\n").encode())
    s.close()
    exp = {"10.47.0.1": fortigate_expected(47, 1, t), "10.47.0.2": fortigate_expected(47, 2, t)}
    n, _ = wait_count(store, "src_ip in 10.47.0.0/16", 2, 10)
    check(n == 2, "max-message (newline): %d rows, expected 2" % n)
    check_rows(store, 47, exp, "max-message (newline)")
    check("longer than %d bytes" % limit in srv.stderr(), "max-message: no reject on stderr")

    # octet counting: a good frame, then one too long: rejected and the connection closed.
    g = ("<134>" + fortigate(48, 1, t)).encode()
    s = socket.create_connection(("127.0.0.1", srv.tcp))
    s.sendall(b"%d %s" % (len(g), g))
    s.sendall(b"%d " % (limit + 1000))
    s.settimeout(10)
    closed = False
    try:
        s.sendall(b"y" * 100)
        closed = s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    except socket.timeout:
        pass
    s.close()
    check(closed, "max-message (octet counting): the connection was not closed")
    n, _ = wait_count(store, "src_ip in 10.48.0.0/16", 1, 10)
    check(n == 1, "max-message (octet counting): %d rows, expected 1" % n)
    print("  --max-message %d: over-long line rejected, next line kept; over-long frame closes"
          % limit)


def test_token(work, store):
    tok = os.path.join(work, "token")
    with open(tok, "w") as f:
        f.write("s3cret-Token_42\n")
    os.chmod(tok, 0o600)
    srv = Server(work, store, "token", "--token-file", tok)
    ts = iso(utc_now() - dt.timedelta(minutes=5))
    body = ('{"ts":"%s","src_ip":"10.49.0.1","dst_port":1}\n' % ts).encode()
    ingest = srv.url("/ingest")
    code, _ = curl("--data-binary", "@-", ingest, data=body)
    check(code == 401, "token: POST without it: %d" % code)
    code, _ = curl("-H", "Authorization: Bearer s3cret-Token_4", "--data-binary", "@-", ingest,
                   data=body)
    check(code == 401, "token: POST with a wrong one: %d" % code)
    code, _ = curl("-G", "--data-urlencode", "q=stats count()", srv.url("/query"))
    check(code == 401, "token: GET /query without it: %d" % code)
    code, js = curl("-H", "Authorization: Bearer s3cret-Token_42", "--data-binary", "@-", ingest,
                    data=body)
    check(code == 200 and js.get("rows") == 1, "token: POST with it: %d %s" % (code, js))
    code, js = curl("-H", "Authorization: Bearer s3cret-Token_42", "-G", "--data-urlencode",
                    "q=where src_ip = 10.49.0.1 | stats count() as n", srv.url("/query"))
    check(code == 200 and js == [{"n": 1}], "token: GET /query with it: %d %s" % (code, js))
    print("  token: 401 without / with a wrong token, 200 with it")
    return srv


# ---------------------------------------------------------------- e. SIGTERM while streaming


class Streamer(threading.Thread):
    """Streams NDJSON events whose bytes_out is 1, 2, 3, ...; counts lines fully written."""

    def __init__(self, port, ip, octet):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.ip, self.octet = ip, octet
        self.lock = threading.Lock()
        self.written = 0
        self.error = None

    def run(self):
        ts = iso(utc_now() - dt.timedelta(minutes=5))
        seq = 0
        try:
            while True:
                buf = []
                for _ in range(50):
                    seq += 1
                    m = ('{"ts":"%s","src_ip":"%s","dst_port":9,"bytes_out":%d}'
                         % (ts, self.ip, seq)).encode()
                    buf.append(b"%d %s" % (len(m), m) if self.octet else m + b"\n")
                self.sock.sendall(b"".join(buf))
                with self.lock:
                    self.written = seq
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()


class Poster(threading.Thread):
    """curl POSTs of 20 events each (bytes_out = request * 100 + i) until the server goes;
    remembers the requests answered 200."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.acked, self.codes, self.stop = url, [], {}, False

    def run(self):
        ts = iso(utc_now() - dt.timedelta(minutes=5))
        k = 0
        while not self.stop:
            k += 1
            body = "".join('{"ts":"%s","src_ip":"10.52.0.1","bytes_out":%d}\n' % (ts, k * 100 + i)
                           for i in range(20))
            code, js = curl("-H", "Content-Type: application/x-ndjson", "--data-binary", "@-",
                            self.url, data=body.encode())
            self.codes[code] = self.codes.get(code, 0) + 1
            if code == 200:
                self.acked.append(k)
            elif code == 0:
                time.sleep(0.05)  # refused: the server is going


def test_sigterm(work, store):
    srv = Server(work, store, "sigterm")
    clients = [Streamer(srv.tcp, "10.51.0.1", False), Streamer(srv.tcp, "10.51.0.2", True)]
    poster = Poster(srv.url("/ingest"))
    for c in clients:
        c.start()
    poster.start()
    time.sleep(2.0)
    before = []
    for c in clients:
        with c.lock:
            before.append(c.written)
    srv.p.send_signal(signal.SIGTERM)  # while the clients keep writing
    rc = srv.p.wait(timeout=120)
    srv.err.close()
    check(rc == 0, "sigterm: exit %d\n%s" % (rc, srv.stderr()))
    for c in clients:
        c.join(timeout=30)
    poster.stop = True
    poster.join(timeout=30)
    got = set(r["bytes_out"] for r in query(store, "where src_ip = 10.52.0.1 | fields bytes_out"))
    lost = [k for k in poster.acked if any(k * 100 + i not in got for i in range(20))]
    check(poster.acked and not lost, "sigterm: %d of %d POSTs answered 200 are not stored "
          "(answers %s)" % (len(lost), len(poster.acked), poster.codes))
    print("  SIGTERM during HTTP POSTs: %d answered 200, all stored (answers %s)"
          % (len(poster.acked), poster.codes))
    for c, b in zip(clients, before):
        r = query(store, "where src_ip = %s | stats count() as n, min(bytes_out) as lo, "
                  "max(bytes_out) as hi, dcount(bytes_out) as d" % c.ip)[0]
        what = "sigterm (%s framing)" % ("octet" if c.octet else "newline")
        check(r["n"] >= b, "%s: %d rows stored, the client had written %d before the signal"
              % (what, r["n"], b))
        check(r["n"] == 0 or (r["lo"] == 1 and r["hi"] == r["n"] and r["d"] == r["n"]),
              "%s: stored rows are not 1..N: %s" % (what, r))
        check(r["n"] <= c.written + 50, "%s: more rows (%d) than written (%d)"
              % (what, r["n"], c.written))
        print("  SIGTERM while streaming (%s): %d written before the signal, %d stored, %d "
              "written in all" % ("octet counting" if c.octet else "newline", b, r["n"],
                                  c.written))


# ---------------------------------------------------------------- f. 50 concurrent clients


def test_concurrent(work, store, srv):
    t = utc_now() - dt.timedelta(minutes=5)
    stamp = t.strftime("%b %e %H:%M:%S")  # RFC 3164: "Nov  6 12:00:00"
    errors = []

    def client(c):
        try:
            s = socket.create_connection(("127.0.0.1", srv.tcp))
            out = []
            for i in range(200):
                m = ("<189>%s fgt-61 %s" % (stamp, fortigate(61, 1, t))).replace(
                    "srcip=10.61.0.1 ", "srcip=10.61.%d.%d " % (c, i))
                m = m.encode()
                out.append(b"%d %s" % (len(m), m) if c % 2 else m + b"\n")
            data = b"".join(out)
            for k in range(0, len(data), 7000):  # in pieces, frames cut anywhere
                s.sendall(data[k:k + 7000])
            s.close()
        except OSError as e:
            errors.append(e)

    th = [threading.Thread(target=client, args=(c,)) for c in range(50)]
    t0 = time.time()
    for x in th:
        x.start()
    for x in th:
        x.join()
    sent = time.time() - t0
    check(not errors, "concurrent: client errors %s" % errors[:3])
    n, waited = wait_count(store, "src_ip in 10.61.0.0/16", 10000, 20)
    check(n == 10000, "concurrent: %d rows, expected 10000" % n)
    check(waited < 5, "concurrent: rows took %.1f s to be durable" % waited)
    r = query(store, "where src_ip in 10.61.0.0/16 | stats dcount(src_ip) as d")[0]
    check(r["d"] == 10000, "concurrent: %d distinct sources, expected 10000" % r["d"])
    print("  50 connections x 200 lines (half octet-counted): %d rows, sent in %.1f s, durable "
          "%.1f s later" % (n, sent, waited))


def stats_line(err):
    for line in err.splitlines():
        if "rows stored" in line:
            return line
    return ""


def main():
    for tool in ("logger", "rsyslogd", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit("FAIL: %s is not installed (tools/deps.sh installs it)" % tool)
    work = tempfile.mkdtemp(prefix="colog-serve-")
    try:
        store = os.path.join(work, "store")
        run("init", store, "--tz", "UTC")
        limit = 4096
        print("== server 1: logger, rsyslog, syslog-ng, curl, --max-message")
        srv = Server(work, store, "main", "--max-message", str(limit), "--max-body", "1048576")
        test_logger(work, store, srv)
        test_rsyslog(work, store, srv)
        test_syslog_ng(work, store, srv)
        test_http(work, store, srv)
        test_max_message(work, store, srv, limit)
        err = srv.stop("server 1")
        print("  " + stats_line(err))
        want = {11: 6, 12: 6, 21: 10, 41: 3, 42: 2, 43: 2, 44: 2, 45: 0, 46: 0, 47: 2, 48: 1}
        for sec, n in sorted(want.items()):
            got = count(store, "src_ip in 10.%d.0.0/16" % sec)
            check(got == n, "after server 1 stopped: 10.%d.0.0/16 has %d rows, expected %d"
                  % (sec, got, n))
        print("== server 2: token, 50 concurrent connections")
        srv = test_token(work, store)
        test_concurrent(work, store, srv)
        err = srv.stop("server 2")
        print("  " + stats_line(err))
        print("== server 3: SIGTERM while clients stream")
        test_sigterm(work, store)
        v = run("verify", store, check_rc=False)
        check(v.returncode == 0, "verify after serving: %s%s" % (v.stdout, v.stderr))
    finally:
        if failures or os.environ.get("COLOG_KEEP"):
            print("work directory kept: %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("serve.py: %d checks failed" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("serve.py: all checks passed")


if __name__ == "__main__":
    main()
