// duckdb_run.mjs — the DuckDB side of bench/compare.sh (Node.js >= 20, @duckdb/node-api).
//
//   node bench/duckdb_run.mjs load  DB CSV
//       Creates the persistent database DB (removed first if it exists) with 2 threads and
//       times, as the load step, CREATE TABLE ev AS SELECT * FROM read_csv(CSV, explicit
//       column types) followed by CHECKPOINT. Also stores the ipkey() macro the queries use
//       for IP ordering. Prints one JSON line: {"load_ms": ..., "rows": ...}.
//
//   node bench/duckdb_run.mjs query DB QUERIES.tsv OUTDIR RUNS [WARMUP]
//       For each line `name<TAB>colog query<TAB>SQL` of QUERIES.tsv (i = 1, 2, ...): WARMUP
//       untimed runs (default 1), then RUNS timed runs. A run is: open a fresh DuckDBInstance
//       on DB (read-only, threads = 2), connect, run the SQL, fetch every row, close the
//       connection and the instance. That is what a whole `colog query` command does (open
//       the store, answer, exit), minus Node's own start-up and library load, which are not
//       timed. Then RUNS more runs on one already open connection ("hot"). Writes
//       OUTDIR/duckdb.i.csv (the answer: header row, then rows; NULL as empty), and
//       OUTDIR/duckdb.i.times (one line: the fresh-run times in µs, space separated) and
//       OUTDIR/duckdb.i.hot (the hot-connection times in µs); for a query that fails,
//       OUTDIR/duckdb.i.err (the message) instead, and the next query goes on.
//
// Environment: DUCKDB_THREADS (default 2).
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import path from 'node:path';

const THREADS = process.env.DUCKDB_THREADS || '2';

// IP ordering as colog has it: IPv4 mapped into ::ffff:0:0/96, then the 128-bit value.
// ipkey(s) is that value as 32 lowercase hex digits (string order = address order); it
// takes the canonical text forms the generator writes (IPv4 dotted quad; IPv6 lowercase,
// at most one "::", no embedded IPv4 tail).
const MACROS = [
    `CREATE OR REPLACE MACRO ip6hex(s) AS array_to_string(list_transform(
        CASE WHEN contains(s, '::') THEN list_concat(
                list_filter(string_split(split_part(s, '::', 1), ':'), lambda x: x <> ''),
                list_transform(range(8 - len(list_filter(string_split(s, ':'), lambda x: x <> ''))),
                               lambda x: '0'),
                list_filter(string_split(split_part(s, '::', 2), ':'), lambda x: x <> ''))
             ELSE string_split(s, ':') END,
        lambda g: lpad(g, 4, '0')), '')`,
    `CREATE OR REPLACE MACRO ipkey(s) AS CASE
        WHEN s IS NULL THEN NULL
        WHEN contains(s, ':') THEN ip6hex(s)
        ELSE '00000000000000000000ffff' || printf('%02x%02x%02x%02x',
            split_part(s, '.', 1)::UTINYINT, split_part(s, '.', 2)::UTINYINT,
            split_part(s, '.', 3)::UTINYINT, split_part(s, '.', 4)::UTINYINT) END`,
];

// The firewall schema with colog's types (ts TIMESTAMP, UTC; IPs as text).
const COLUMNS = {
    ts: 'TIMESTAMP', device: 'VARCHAR', src_ip: 'VARCHAR', src_port: 'USMALLINT',
    dst_ip: 'VARCHAR', dst_port: 'USMALLINT', proto: 'VARCHAR', action: 'VARCHAR',
    policy: 'UINTEGER', src_zone: 'VARCHAR', dst_zone: 'VARCHAR', user: 'VARCHAR',
    bytes_out: 'UBIGINT', bytes_in: 'UBIGINT', duration: 'UINTEGER',
};

const sqlstr = (s) => "'" + String(s).replace(/'/g, "''") + "'";
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function die(msg) {
    process.stderr.write(`duckdb_run: ${msg}\n`);
    process.exit(2);
}

function csvCell(v) {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

async function open(db, readOnly) {
    const opts = { threads: THREADS };
    if (readOnly) opts.access_mode = 'READ_ONLY';
    const inst = await DuckDBInstance.create(db, opts);
    const con = await inst.connect();
    return { inst, con };
}

function close({ inst, con }) {
    con.closeSync();
    inst.closeSync();
}

async function load(db, csv) {
    for (const f of [db, db + '.wal']) fs.rmSync(f, { force: true });
    const h = await open(db, false);
    const cols = Object.entries(COLUMNS).map(([k, t]) => `${sqlstr(k)}: ${sqlstr(t)}`).join(', ');
    const t0 = nowUs();
    await h.con.run(`CREATE TABLE ev AS SELECT * FROM read_csv(${sqlstr(csv)}, header = true, ` +
        `delim = ',', quote = '"', columns = {${cols}})`);
    await h.con.run('CHECKPOINT');
    const ms = (nowUs() - t0) / 1000;
    for (const m of MACROS) await h.con.run(m);
    await h.con.run('CHECKPOINT');
    const rows = (await h.con.runAndReadAll('SELECT count(*) FROM ev')).getRows()[0][0];
    const ver = (await h.con.runAndReadAll('SELECT version()')).getRows()[0][0];
    close(h);
    console.log(JSON.stringify({ load_ms: ms, rows: String(rows), version: ver, threads: THREADS }));
}

async function runOnce(con, sql) {
    const reader = await con.runAndReadAll(sql);
    return { names: reader.columnNames(), rows: reader.getRows() };
}

async function query(db, tsv, outdir, runs, warmup) {
    const lines = fs.readFileSync(tsv, 'utf8').split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    let i = 0;
    for (const line of lines) {
        i++;
        const f = line.split('\t');
        if (f.length !== 3) die(`${tsv}: line ${i}: expected 3 tab-separated fields`);
        const [name, , sql] = f;
        let res = null;
        const times = [];
        let err = null;
        for (let r = 0; r < warmup + runs && !err; r++) {
            const t0 = nowUs();
            const h = await open(db, true);
            try {
                res = await runOnce(h.con, sql);
            } catch (e) {
                err = e;
            }
            close(h);
            if (!err && r >= warmup) times.push(nowUs() - t0);
        }
        for (const ext of ['csv', 'times', 'hot', 'err']) fs.rmSync(path.join(outdir, `duckdb.${i}.${ext}`), { force: true });
        if (err) {
            // reported by compare.sh; the other queries go on
            fs.writeFileSync(path.join(outdir, `duckdb.${i}.err`), `${err.message}\n`);
            process.stderr.write(`  duckdb ${i} ${name}: FAILED: ${err.message}\n`);
            continue;
        }
        const h = await open(db, true);
        await runOnce(h.con, sql);
        const hot = [];
        for (let r = 0; r < runs; r++) {
            const t0 = nowUs();
            await runOnce(h.con, sql);
            hot.push(nowUs() - t0);
        }
        close(h);
        const out = [res.names.map(csvCell).join(',')];
        for (const row of res.rows) out.push(row.map(csvCell).join(','));
        fs.writeFileSync(path.join(outdir, `duckdb.${i}.csv`), out.join('\n') + '\n');
        fs.writeFileSync(path.join(outdir, `duckdb.${i}.times`), times.join(' ') + '\n');
        fs.writeFileSync(path.join(outdir, `duckdb.${i}.hot`), hot.join(' ') + '\n');
        const med = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
        process.stderr.write(`  duckdb ${i} ${name}: ${(med / 1000).toFixed(1)} ms\n`);
    }
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'load' && args.length === 2) {
    await load(args[0], args[1]);
} else if (cmd === 'query' && (args.length === 4 || args.length === 5)) {
    const runs = parseInt(args[3], 10);
    const warmup = args.length === 5 ? parseInt(args[4], 10) : 1;
    if (!(runs > 0) || !(warmup >= 0)) die('RUNS must be > 0 and WARMUP >= 0');
    await query(args[0], args[1], args[2], runs, warmup);
} else {
    die('usage: duckdb_run.mjs load DB CSV | query DB QUERIES.tsv OUTDIR RUNS [WARMUP]');
}
