/*
 * test_fault.c — every write-path failure is reported, cleaned up and recovered
 * from: each operation that changes a store (ingest, merge, retain, hold,
 * archive with remove, restore) is run on a fresh copy of a small prepared
 * store with its N-th write / short write / fsync / rename / mkdir / open
 * failing (colog__fault_set, colog_io.c), or its N-th allocation failing (the
 * __wrap_ allocators below; this binary is linked with -Wl,--wrap=malloc,...),
 * for N = 1, 2, ... until the operation runs without meeting the fault. Each
 * time:
 *   - the call returns an error (a short write alone must not: it succeeds),
 *     and colog_errmsg() names what failed, with the injected error's text;
 *   - no memory (LeakSanitizer, checked after each run) and no descriptor leaks;
 *   - with faults off, the store opens for writing (recovery runs), verify finds
 *     no problem, no temp file is left, and each day holds either all the rows
 *     the operation would give it or none of them (never part, never twice);
 *   - retrying the operation succeeds and gives the expected final counts.
 * The first run of each operation only counts the calls (printed: the number
 * of injection points per operation).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colog_store_int.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#define LEAKS_FOUND() __lsan_do_recoverable_leak_check()
#define STACK_TRACE() __sanitizer_print_stack_trace()
#define SYMBOLIZE(pc, buf, cap) __sanitizer_symbolize_pc(pc, "%f %S", buf, cap)
#else
#define LEAKS_FOUND() 0
#define STACK_TRACE() ((void)0)
#define SYMBOLIZE(pc, buf, cap) snprintf(buf, cap, "%p", pc)
#endif

/* ---------------------------------------------------------------- failing allocations */

/* Every malloc / calloc / realloc / strdup of the library comes here (link-time
 * --wrap; calls from inside shared libraries such as zstd or libarchive do not).
 * __real_malloc is the sanitizer's malloc under ASan, so leaks are still seen. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static int alloc_armed;           /* __atomic: count (and maybe fail) calls */
static unsigned long alloc_n;     /* fail the alloc_n-th call; 0 = count only */
static unsigned long alloc_count; /* __atomic */
static unsigned long alloc_fired; /* __atomic */
static void *alloc_fired_at;      /* caller of the allocation that failed */

static bool alloc_fails(void *caller)
{
    if (!__atomic_load_n(&alloc_armed, __ATOMIC_RELAXED))
        return false;
    unsigned long c = __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
    if (alloc_n == 0 || c != alloc_n)
        return false;
    __atomic_add_fetch(&alloc_fired, 1, __ATOMIC_RELAXED);
    alloc_fired_at = caller;
    if (getenv("FAULT_TRACE")) /* where did it fail? */
        STACK_TRACE();
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return alloc_fails(__builtin_return_address(0)) ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    return alloc_fails(__builtin_return_address(0)) ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    return alloc_fails(__builtin_return_address(0)) ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s)
{
    return alloc_fails(__builtin_return_address(0)) ? NULL : __real_strdup(s);
}

static void alloc_set(bool on, unsigned long n)
{
    __atomic_store_n(&alloc_armed, 0, __ATOMIC_SEQ_CST);
    alloc_n = n;
    alloc_count = 0;
    alloc_fired = 0;
    __atomic_store_n(&alloc_armed, on ? 1 : 0, __ATOMIC_SEQ_CST);
}

/* ---------------------------------------------------------------- the prepared store */

#define DAY_US 86400000000LL
#define DAY0 20454 /* 2026-01-01 */
#define NDAY 3
#define NOW_US ((int64_t)(DAY0 + 3) * DAY_US + 3600000000LL) /* 2026-01-04 01:00 */
#define ADD 150 /* rows the ingest operation adds to days 1 and 2 */

static const char SCHEMA[] = "ts time\nsrc ip indexed\ndst ip\ndst_port u16 indexed\n"
                             "proto string\naction string indexed\nn u64\n";

static char root[256], base[300], rbase[300], tdir[300], rtar[320];
static uint64_t base_rows[NDAY];
static char *add_csv[NDAY]; /* what the ingest operation adds (days 1, 2) */
static size_t add_len[NDAY];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* CSV of `per` rows on day d (seconds from 00:10), n starting at first. */
static char *csv_day(int d, int per, unsigned first, size_t *len)
{
    static const char *proto[] = {"tcp", "udp", "icmp"}, *action[] = {"allow", "deny"};
    size_t cap = 64 + (size_t)per * 96;
    char *csv = malloc(cap);
    cr_assert_not_null(csv);
    size_t off = (size_t)snprintf(csv, cap, "ts,src,dst,dst_port,proto,action,n\n");
    for (int i = 0; i < per; i++) {
        long long t = (long long)(DAY0 + d) * 86400 + 600 + (i * 37) % 80000;
        off += (size_t)snprintf(csv + off, cap - off, "%lld,10.%d.0.%d,192.168.%d.1,%d,%s,%s,%u\n",
                                t, d, i % 13 + 1, i % 5, 1000 + i % 40, proto[i % 3], action[i % 2],
                                first + (unsigned)i);
    }
    *len = off;
    return csv;
}

/* Ingest the given CSVs in one session; 0 or the first error. */
static int ingest(colog_store_t *st, char **csv, size_t *len, int n, bool auto_merge)
{
    colog_ingest_opts_t o = {.now_us = NOW_US, .no_auto_merge = !auto_merge};
    colog_ingest_t *ing;
    int rc = colog_ingest_begin(st, &o, &ing);
    if (rc < 0)
        return rc; /* ing is not set */
    for (int i = 0; rc == 0 && i < n; i++) {
        FILE *f = fmemopen(csv[i], len[i], "r");
        cr_assert_not_null(f);
        rc = colog_ingest_file(ing, f, "fault.csv", COLOG_IN_CSV);
        fclose(f);
    }
    if (rc == 0)
        return colog_ingest_finish(ing, NULL);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", colog_errmsg());
    colog_ingest_finish(ing, NULL);
    return colog_seterr(rc, "%s", msg);
}

static void ingest_into(const char *path, const int *days, const int *per, int n)
{
    static unsigned next = 1;
    char *csv[NDAY];
    size_t len[NDAY];
    for (int i = 0; i < n; i++) {
        csv[i] = csv_day(days[i], per[i], next, &len[i]);
        next += (unsigned)per[i];
        base_rows[days[i]] += (uint64_t)per[i];
    }
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, path, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    cr_assert_eq(ingest(st, csv, len, n, false), 0, "%s", colog_errmsg());
    colog_store_close(st);
    for (int i = 0; i < n; i++)
        free(csv[i]);
}

/* base: days 0 and 1 with 2 parts, day 2 with 4 (one more makes ingest merge it).
 * rbase: base with day 0 archived to rtar and removed (for restore). */
static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/colog-test-fault-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(base, sizeof base, "%s/base", root);
    snprintf(rbase, sizeof rbase, "%s/rbase", root);
    snprintf(tdir, sizeof tdir, "%s/t", root);
    snprintf(rtar, sizeof rtar, "%s/day0.tar", root);
    memset(base_rows, 0, sizeof base_rows);
    colog_schema_t s;
    cr_assert_eq(colog_schema_parse(SCHEMA, strlen(SCHEMA), "t", &s), 0, "%s", colog_errmsg());
    colog_config_t c;
    colog_config_default(&c);
    c.hot_days = 1; /* at NOW_US: day 0 leaves the store, day 1 goes cold */
    c.cold_days = 2;
    c.cold_zstd_level = 3;
    cr_assert_eq(colog_store_create(base, &s, &c), 0, "%s", colog_errmsg());
    ingest_into(base, (int[]){0, 1, 2}, (int[]){100, 100, 100}, 3);
    ingest_into(base, (int[]){0, 1, 2}, (int[]){50, 60, 40}, 3);
    ingest_into(base, (int[]){2}, (int[]){25}, 1);
    ingest_into(base, (int[]){2}, (int[]){35}, 1);
    for (int d = 1; d <= 2; d++) /* made here: the test's own allocations must not fail */
        add_csv[d] = csv_day(d, ADD, 100000 * (unsigned)d, &add_len[d]);
    sh("cp -a '%s' '%s'", base, rbase);
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, rbase, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    cr_assert_eq(colog_archive_day(st, DAY0, rtar, true, NULL), 0, "%s", colog_errmsg());
    colog_store_close(st);
}

static void teardown(void)
{
    colog__fault_set(COLOG_FAULT_OFF, 0, 0);
    alloc_set(false, 0);
    for (int d = 0; d < NDAY; d++)
        free(add_csv[d]);
    sh("rm -rf '%s'", root);
}

/* ---------------------------------------------------------------- operations */

typedef struct trial {
    uint64_t got[NDAY]; /* rows per day after the failure (faults off) */
    size_t holds;       /* active holds after the failure */
    int retries;        /* archive: names used so far */
} trial_t;

typedef struct op {
    const char *name;
    const char *from; /* the store each trial starts from */
    int (*run)(colog_store_t *st, trial_t *t);
    int (*retry)(colog_store_t *st, trial_t *t); /* what a caller would do next */
    uint64_t before[NDAY], after[NDAY];
    size_t holds_after;
    /* restore publishes an archive's parts one commit each, so a failure can
     * leave some of them restored (each whole): the rows of day 0's parts */
    uint64_t part_rows[4];
    unsigned nparts;
} op_t;

static unsigned long partial_days; /* failures that left a day with some parts */

/* Whether rows is the sum of a subset of the parts' rows. */
static bool whole_parts(const op_t *op, uint64_t rows)
{
    for (unsigned m = 0; m < 1u << op->nparts; m++) {
        uint64_t sum = 0;
        for (unsigned i = 0; i < op->nparts; i++)
            sum += m >> i & 1 ? op->part_rows[i] : 0;
        if (sum == rows)
            return true;
    }
    return false;
}

static int op_ingest(colog_store_t *st, trial_t *t)
{
    (void)t;
    return ingest(st, add_csv + 1, add_len + 1, 2, true);
}

/* A failed ingest session may have committed some days (colog_ingest.c
 * invariant 6): a caller re-sends the rows of the days that got nothing. */
static int retry_ingest(colog_store_t *st, trial_t *t)
{
    char *csv[2];
    size_t len[2];
    int n = 0;
    for (int d = 1; d <= 2; d++)
        if (t->got[d] == base_rows[d]) {
            csv[n] = add_csv[d];
            len[n++] = add_len[d];
        }
    return n ? ingest(st, csv, len, n, true) : 0;
}

static int op_merge(colog_store_t *st, trial_t *t)
{
    (void)t;
    bool merged;
    return colog_store_merge_day(st, DAY0 + 1, 0, &merged);
}

static int op_retain(colog_store_t *st, trial_t *t)
{
    (void)t;
    colog_retain_opts_t o = {.now_us = NOW_US};
    colog_retain_stats_t s;
    return colog_retain(st, &o, &s);
}

static int op_hold(colog_store_t *st, trial_t *t)
{
    (void)t;
    uint64_t id;
    return colog_hold_add(st, DAY0 + 2, DAY0 + 2, "case 17", &id);
}

static int retry_hold(colog_store_t *st, trial_t *t)
{
    return t->holds == 1 ? 0 : op_hold(st, t); /* already in the ledger: done */
}

static void archive_name(trial_t *t, char *buf, size_t cap)
{
    if (t->retries == 0)
        snprintf(buf, cap, "%s/a.tar", root);
    else
        snprintf(buf, cap, "%s/a.%d.tar", root, t->retries);
}

static int op_archive(colog_store_t *st, trial_t *t)
{
    char out[400];
    archive_name(t, out, sizeof out);
    return colog_archive_day(st, DAY0, out, true, NULL);
}

/* An archive file is never replaced (retain takes the next free name). */
static int retry_archive(colog_store_t *st, trial_t *t)
{
    if (t->got[0] == 0)
        return 0; /* the day left the store: done */
    char out[400];
    struct stat sb;
    archive_name(t, out, sizeof out);
    if (stat(out, &sb) == 0)
        t->retries++;
    return op_archive(st, t);
}

static int op_restore(colog_store_t *st, trial_t *t)
{
    (void)t;
    colog_archive_info_t info;
    return colog_restore(st, rtar, &info);
}

/* ---------------------------------------------------------------- checks */

static size_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    size_t n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

typedef struct problems {
    unsigned n;
    char first[512];
} problems_t;

static void on_problem(void *ctx, const char *msg)
{
    problems_t *p = ctx;
    fprintf(stderr, "  verify: %s\n", msg);
    if (p->n++ == 0)
        snprintf(p->first, sizeof p->first, "%s", msg);
}

static void verify_clean(const char *what)
{
    problems_t p = {0};
    colog_verify_opts_t o = {.problem = on_problem, .ctx = &p};
    colog_verify_stats_t s;
    int rc = colog_verify_store(tdir, &o, &s);
    cr_assert(rc == 0 && p.n == 0, "%s: verify: %d problem(s), first: %s (rc %s: %s)", what, p.n,
              p.first, colog_errname(rc), rc ? colog_errmsg() : "");
}

/* Names of temp / half-removed entries anywhere under dir (colog's own). */
static void find_leftovers(const char *dir, char *found, size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        /* .del-pID: a part removed after its replacement was committed, whose
         * deletion stopped; the day's next merge or move deletes it
         * (colog__day_cleanup). Everything else is for recovery to remove. */
        if (strstr(e->d_name, ".tmp-") ||
            (strncmp(e->d_name, ".del-", 5) == 0 && e->d_name[5] != 'p')) {
            size_t l = strlen(found);
            snprintf(found + l, cap - l, " %s", sub + strlen(root) + 1);
        }
        struct stat sb;
        if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
            find_leftovers(sub, found, cap);
    }
    closedir(d);
}

static void day_rows(colog_store_t *st, uint64_t rows[NDAY])
{
    for (int d = 0; d < NDAY; d++) {
        colog_snap_t *snap;
        cr_assert_eq(colog_snap_day(st, DAY0 + d, 0, &snap), 0, "%s", colog_errmsg());
        rows[d] = 0;
        for (size_t i = 0; i < colog_snap_nparts(snap); i++)
            rows[d] += colog_part_rows(colog_snap_part(snap, i));
        colog_snap_free(snap);
    }
}

static size_t nholds(colog_store_t *st)
{
    colog_hold_t *h;
    size_t n;
    cr_assert_eq(colog_hold_list(st, &h, &n), 0, "%s", colog_errmsg());
    free(h);
    return n;
}

/* After the operation: reopen (recovery), verify, each day all or nothing. */
static void check_after_failure(const op_t *op, trial_t *t, const char *what)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, tdir, COLOG_OPEN_WRITE), 0, "%s: reopen: %s", what,
                 colog_errmsg());
    day_rows(st, t->got);
    t->holds = nholds(st);
    colog_store_close(st);
    verify_clean(what);
    for (int d = 0; d < NDAY; d++) {
        bool all_or_none = t->got[d] == op->before[d] || t->got[d] == op->after[d];
        if (!all_or_none && d == 0 && op->nparts > 0 && whole_parts(op, t->got[d])) {
            partial_days++;
            continue;
        }
        cr_assert(all_or_none, "%s: day %d holds %llu rows: neither %llu (before) nor %llu (after)",
                  what, d, (unsigned long long)t->got[d], (unsigned long long)op->before[d],
                  (unsigned long long)op->after[d]);
    }
    cr_assert(t->holds == 0 || t->holds == op->holds_after, "%s: %zu holds", what, t->holds);
    if (op->run == op_archive && t->got[0] == 0) {
        /* The day left the store: its archive must be complete (invariant 2). */
        char out[400];
        colog_archive_info_t info;
        archive_name(t, out, sizeof out);
        cr_assert_eq(colog_archive_verify(out, NULL, NULL, &info), 0,
                     "%s: day removed but %s does not verify: %s", what, out, colog_errmsg());
        cr_assert_eq(info.rows, op->before[0], "%s: archive holds %llu rows", what,
                     (unsigned long long)info.rows);
    }
}

static void check_final(const op_t *op, const char *what)
{
    colog_store_t *st;
    uint64_t got[NDAY];
    cr_assert_eq(colog_store_open(&st, tdir, COLOG_OPEN_WRITE), 0, "%s: reopen: %s", what,
                 colog_errmsg());
    day_rows(st, got);
    size_t h = nholds(st);
    colog_store_close(st);
    verify_clean(what);
    for (int d = 0; d < NDAY; d++)
        cr_assert_eq(got[d], op->after[d], "%s: day %d holds %llu rows, expected %llu", what, d,
                     (unsigned long long)got[d], (unsigned long long)op->after[d]);
    cr_assert_eq(h, op->holds_after, "%s: %zu holds, expected %zu", what, h, op->holds_after);
}

/* ---------------------------------------------------------------- the loop */

/* A leak check stops the world and reads /proc: by default once after each
 * fault's runs (exercise); FAULT_LEAKCHECK=each checks after every run, to
 * find which N leaked. */
static bool leak_each;

typedef struct fault {
    const char *name;
    int kind; /* COLOG_FAULT_*, or -1 for allocations */
    int err;  /* 0: the kind's default */
} fault_t;

static const fault_t FAULTS[] = {
    {"write ENOSPC", COLOG_FAULT_WRITE, ENOSPC},
    {"write EIO, sticky", COLOG_FAULT_WRITE | COLOG_FAULT_STICKY, EIO},
    {"short write", COLOG_FAULT_SHORT, 0},
    {"short write, then ENOSPC", COLOG_FAULT_SHORT, ENOSPC},
    {"fsync EIO", COLOG_FAULT_FSYNC, EIO},
    {"fsync EIO, sticky", COLOG_FAULT_FSYNC | COLOG_FAULT_STICKY, EIO},
    {"rename EIO", COLOG_FAULT_RENAME, EIO},
    {"mkdir ENOSPC", COLOG_FAULT_MKDIR, ENOSPC},
    {"open EMFILE", COLOG_FAULT_OPEN, EMFILE},
    {"allocation", -1, ENOMEM},
};

static const char *const OPWORDS[] = {"write", "fsync",  "rename", "mkdir",  "open",
                                      "read",  "ledger", "create", "remove", "publish",
                                      "list",  "append", "sync",   NULL};

static unsigned long bare_oom; /* allocation failures reported as just "out of memory" */
static char bare_at[16][160];  /* where they failed (distinct callers of the allocator) */

static void note_bare_oom(void)
{
    char at[160];
    bare_oom++;
    SYMBOLIZE(alloc_fired_at, at, sizeof at);
    for (size_t i = 0; i < 16; i++) {
        if (strcmp(bare_at[i], at) == 0)
            return;
        if (bare_at[i][0] == 0) {
            memcpy(bare_at[i], at, sizeof at);
            return;
        }
    }
}

/* The message names the failure: a file or an operation, then the error. */
static bool msg_ok(const char *msg, const fault_t *f)
{
    if (f->kind < 0) { /* many allocation sites give no context yet: counted */
        if (strcmp(msg, "out of memory") == 0)
            note_bare_oom();
        return strstr(msg, "memory") != NULL;
    }
    if (!strstr(msg, strerror(f->err)))
        return false;
    if (strchr(msg, '/') || strstr(msg, ".col") || strstr(msg, ".dict") || strstr(msg, ".idx"))
        return true;
    for (int i = 0; OPWORDS[i]; i++)
        if (strstr(msg, OPWORDS[i]))
            return true;
    return false;
}

/* One run: 0 if the operation ran without meeting the fault, 1 if it failed
 * as it should, 2 if the fault fired but the call succeeded anyway (it must
 * then have done all its work: a shrinking realloc that may fail, a short
 * write). */
static int run_once(const op_t *op, const fault_t *f, unsigned long n, unsigned long counts[7],
                    char *msg, size_t msgcap)
{
    char what[160];
    trial_t t = {0};
    snprintf(what, sizeof what, "%s, %s #%lu", op->name, f->name, n);
    sh("rm -rf '%s' '%s'/a*.tar && cp -a '%s' '%s'", tdir, root, op->from, tdir);
    size_t fds = count_fds();
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, tdir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_seterr(0, "%s", "");
    if (n == 0 || f->kind < 0) /* n == 0: count everything, fail nothing */
        alloc_set(true, n);
    if (n == 0 || f->kind >= 0)
        colog__fault_set(n == 0 ? COLOG_FAULT_WRITE : f->kind, n, f->err);
    int rc = op->run(st, &t);
    unsigned long fired = f->kind < 0 ? alloc_fired : colog__fault_fired();
    if (counts) {
        for (int k = 1; k < COLOG_FAULT_NKINDS; k++)
            counts[k] = colog__fault_count(k);
        counts[0] = alloc_count;
    }
    colog__fault_set(COLOG_FAULT_OFF, 0, 0);
    alloc_set(false, 0);
    snprintf(msg, msgcap, "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(count_fds(), fds, "%s: descriptors leaked (%zu before, %zu after)", what, fds,
                 count_fds());
    cr_assert(!leak_each || LEAKS_FOUND() == 0, "%s: memory leaked (report above)", what);
    if (fired == 0 || (f->kind == COLOG_FAULT_SHORT && f->err == 0))
        cr_assert_eq(rc, 0, "%s: %s (%s)", what, colog_errname(rc), msg);
    if (rc == 0) {
        check_final(op, what);
        if (fired && !(f->kind == COLOG_FAULT_SHORT && f->err == 0)) {
            char at[256] = "";
            if (f->kind < 0)
                SYMBOLIZE(alloc_fired_at, at, sizeof at);
            fprintf(stderr, "fault: %s: absorbed (the call succeeded) %s\n", what, at);
        }
        return fired == 0 ? 0 : 2;
    }
    cr_assert(msg_ok(msg, f), "%s: message does not name the failure: \"%s\" (%s)", what, msg,
              colog_errname(rc));
    check_after_failure(op, &t, what);
    char leftovers[2048] = "";
    find_leftovers(root, leftovers, sizeof leftovers); /* the store, archive temp files */
    cr_expect_str_empty(leftovers, "%s: left behind:%s", what, leftovers);
    /* With faults off, a retry succeeds and completes the operation. */
    cr_assert_eq(colog_store_open(&st, tdir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    rc = op->retry ? op->retry(st, &t) : op->run(st, &t);
    char rmsg[1024];
    snprintf(rmsg, sizeof rmsg, "%s", colog_errmsg());
    colog_store_close(st);
    cr_assert_eq(rc, 0, "%s: retry: %s (%s)", what, colog_errname(rc), rmsg);
    check_final(op, what);
    cr_assert(!leak_each || LEAKS_FOUND() == 0, "%s: memory leaked (report above)", what);
    return 1;
}

static void exercise(const op_t *op)
{
    unsigned long c[7];
    char msg[1024];
    run_once(op, &FAULTS[0], 0, c, msg, sizeof msg); /* count only */
    fprintf(stderr,
            "fault: %-8s %3lu write, %3lu fsync, %2lu rename, %2lu mkdir, %2lu open sites, %4lu "
            "allocations\n",
            op->name, c[COLOG_FAULT_WRITE], c[COLOG_FAULT_FSYNC], c[COLOG_FAULT_RENAME],
            c[COLOG_FAULT_MKDIR], c[COLOG_FAULT_OPEN], c[0]);
    /* FAULT_ONLY="FAULT NAME:N" (e.g. "allocation:30") runs that one trial,
     * and FAULT_TRACE=1 prints the stack where the allocation fails. */
    const char *only = getenv("FAULT_ONLY");
    leak_each = getenv("FAULT_LEAKCHECK") && strcmp(getenv("FAULT_LEAKCHECK"), "each") == 0;
    for (size_t i = 0; only && i < sizeof FAULTS / sizeof FAULTS[0]; i++) {
        size_t l = strlen(FAULTS[i].name);
        if (strncmp(only, FAULTS[i].name, l) == 0 && only[l] == ':') {
            run_once(op, &FAULTS[i], strtoul(only + l + 1, NULL, 10), NULL, msg, sizeof msg);
            fprintf(stderr, "fault: %s, %s: \"%s\"\n", op->name, only, msg);
        }
    }
    /* FAULT_STRIDE=K tries every K-th injection point only (tools/test.sh uses
     * 5 to keep CI short; the default, 1, tries them all). */
    unsigned long stride = getenv("FAULT_STRIDE") ? strtoul(getenv("FAULT_STRIDE"), NULL, 10) : 1;
    if (stride == 0)
        stride = 1;
    for (size_t i = 0; !only && i < sizeof FAULTS / sizeof FAULTS[0]; i++) {
        const fault_t *f = &FAULTS[i];
        unsigned long n = 1, fired = 0, absorbed = 0;
        char last[1024] = "";
        int r;
        while ((r = run_once(op, f, n, NULL, msg, sizeof msg)) != 0) {
            fired += r == 1;
            absorbed += r == 2;
            if (msg[0])
                snprintf(last, sizeof last, "%s", msg);
            n += stride;
            cr_assert_lt(n, 100000, "%s, %s: no end", op->name, f->name);
        }
        fprintf(stderr, "fault: %-8s %-26s %4lu runs failed as they should, %lu absorbed%s%s\n",
                op->name, f->name, fired, absorbed, last[0] ? "; last: " : "", last);
        cr_assert_eq(LEAKS_FOUND(), 0,
                     "%s, %s: memory leaked in one of the runs (report above; FAULT_LEAKCHECK=each "
                     "tells which)",
                     op->name, f->name);
    }
    if (bare_oom)
        fprintf(stderr, "fault: %-8s %lu allocation failures say only \"out of memory\"\n",
                op->name, bare_oom);
    for (size_t i = 0; i < 16 && bare_at[i][0]; i++)
        fprintf(stderr, "fault: %-8s   bare \"out of memory\" after a failure in %s\n", op->name,
                bare_at[i]);
    if (partial_days)
        fprintf(stderr, "fault: %-8s %lu failures left day 0 with some of its parts (each whole)\n",
                op->name, partial_days);
}

static op_t make_op(const char *name, int (*run)(colog_store_t *, trial_t *),
                    int (*retry)(colog_store_t *, trial_t *))
{
    op_t op = {.name = name, .from = base, .run = run, .retry = retry};
    memcpy(op.before, base_rows, sizeof op.before);
    memcpy(op.after, base_rows, sizeof op.after);
    return op;
}

TestSuite(fault, .init = setup, .fini = teardown, .timeout = 1200);

Test(fault, ingest)
{
    op_t op = make_op("ingest", op_ingest, retry_ingest);
    op.after[1] += ADD;
    op.after[2] += ADD;
    exercise(&op);
}

Test(fault, merge)
{
    op_t op = make_op("merge", op_merge, NULL);
    exercise(&op);
}

Test(fault, retain)
{
    op_t op = make_op("retain", op_retain, NULL);
    op.after[0] = 0; /* deleted; day 1 goes cold, day 2 stays */
    exercise(&op);
}

Test(fault, hold)
{
    op_t op = make_op("hold", op_hold, retry_hold);
    op.holds_after = 1;
    exercise(&op);
}

Test(fault, archive)
{
    op_t op = make_op("archive", op_archive, retry_archive);
    op.after[0] = 0;
    exercise(&op);
}

Test(fault, restore)
{
    op_t op = make_op("restore", op_restore, NULL);
    op.from = rbase;
    op.before[0] = 0;
    op.part_rows[0] = 100; /* day 0's two parts (setup) */
    op.part_rows[1] = 50;
    op.nparts = 2;
    exercise(&op);
}
