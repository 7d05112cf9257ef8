/*
 * test_store.c — the store: create/open, parts written through the part writer,
 * per-day snapshots, merges (values, order, dictionaries), leftovers of a crash,
 * and readers running while a writer merges (every row exactly once).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colog_store_int.h"

static char dir[256];
static const char *SCHEMA = "ts time\nsrc ip indexed\nuser string indexed\nport u16\n";

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/colog-test-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    strcat(dir, "/s");
    colog_schema_t s;
    cr_assert_eq(colog_schema_parse(SCHEMA, strlen(SCHEMA), "test", &s), 0, "%s", colog_errmsg());
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(dir, &s, &c), 0, "%s", colog_errmsg());
}

static void teardown(void)
{
    char cmd[300];
    char *slash = strrchr(dir, '/');
    *slash = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Write one part of day `day` with rows (ts, src last octet, user, port). */
static uint64_t write_part(colog_store_t *st, int32_t day, int n, const int64_t *ts,
                           const uint8_t *oct, const char *const *users, const uint64_t *ports)
{
    colog_pw_t *pw;
    cr_assert_eq(colog__pw_open(st, day, (uint64_t)n, &pw), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__pw_col_begin(pw, 0, NULL), 0);
    cr_assert_eq(colog__pw_col_append(pw, ts, NULL, (uint32_t)n), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__pw_col_end(pw), 0);
    /* ip dictionary: sorted distinct octets */
    colog_ip_t ips[16];
    uint32_t codes[16], nd = 0;
    uint8_t sorted[16];
    memcpy(sorted, oct, (size_t)n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (sorted[j] < sorted[i]) {
                uint8_t t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    for (int i = 0; i < n; i++) {
        if (nd && ips[nd - 1].b[15] == sorted[i])
            continue;
        char txt[32];
        snprintf(txt, sizeof txt, "10.0.0.%u", sorted[i]);
        cr_assert_eq(colog_ip_parse(txt, strlen(txt), &ips[nd]), 0);
        nd++;
    }
    for (int i = 0; i < n; i++)
        for (uint32_t k = 0; k < nd; k++)
            if (ips[k].b[15] == oct[i])
                codes[i] = k;
    colog_dictview_t d = {.type = COLOG_T_IP, .n = nd, .ips = ips};
    cr_assert_eq(colog__pw_col_begin(pw, 1, &d), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__pw_col_append(pw, codes, NULL, (uint32_t)n), 0);
    cr_assert_eq(colog__pw_col_end(pw), 0);
    /* string dictionary: users given already sorted-distinct in `users` order is not
     * assumed; build it simply (n is tiny). */
    const char *du[16];
    uint32_t ndu = 0, offs[17], boff = 0;
    char bytes[256];
    uint8_t valid[2] = {0, 0};
    bool any_null = false;
    for (int i = 0; i < n; i++) {
        if (users[i] == NULL) {
            any_null = true;
            continue;
        }
        valid[i >> 3] |= (uint8_t)(1u << (i & 7));
        bool seen = false;
        for (uint32_t k = 0; k < ndu; k++)
            seen |= strcmp(du[k], users[i]) == 0;
        if (!seen)
            du[ndu++] = users[i];
    }
    for (uint32_t i = 0; i < ndu; i++)
        for (uint32_t j = i + 1; j < ndu; j++)
            if (strcmp(du[j], du[i]) < 0) {
                const char *t = du[i];
                du[i] = du[j];
                du[j] = t;
            }
    for (uint32_t k = 0; k < ndu; k++) {
        offs[k] = boff;
        memcpy(bytes + boff, du[k], strlen(du[k]));
        boff += (uint32_t)strlen(du[k]);
    }
    offs[ndu] = boff;
    for (int i = 0; i < n; i++) {
        codes[i] = 0;
        for (uint32_t k = 0; users[i] && k < ndu; k++)
            if (strcmp(du[k], users[i]) == 0)
                codes[i] = k;
    }
    colog_dictview_t ds = {.type = COLOG_T_STRING, .n = ndu, .offs = offs, .bytes = bytes};
    cr_assert_eq(colog__pw_col_begin(pw, 2, &ds), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__pw_col_append(pw, codes, any_null ? valid : NULL, (uint32_t)n), 0);
    cr_assert_eq(colog__pw_col_end(pw), 0);
    cr_assert_eq(colog__pw_col_begin(pw, 3, NULL), 0);
    cr_assert_eq(colog__pw_col_append(pw, ports, NULL, (uint32_t)n), 0, "%s", colog_errmsg());
    cr_assert_eq(colog__pw_col_end(pw), 0);
    uint64_t id;
    cr_assert_eq(colog__pw_commit(pw, NULL, 0, &id), 0, "%s", colog_errmsg());
    return id;
}

static uint64_t day_rows(colog_store_t *st, int32_t day, size_t *nparts)
{
    colog_snap_t *s;
    cr_assert_eq(colog_snap_day(st, day, 0, &s), 0, "%s", colog_errmsg());
    uint64_t r = 0;
    for (size_t i = 0; i < colog_snap_nparts(s); i++)
        r += colog_part_rows(colog_snap_part(s, i));
    if (nparts)
        *nparts = colog_snap_nparts(s);
    colog_snap_free(s);
    return r;
}

#define DAY 20514 /* 2026-03-02 */
#define T(sec) ((int64_t)DAY * 86400000000LL + (int64_t)(sec)*1000000LL)

TestSuite(store, .init = setup, .fini = teardown);

/* The same two rows as one new part of DAY. */
static void write_two_rows(colog_store_t *st)
{
    int64_t t[2] = {T(1), T(2)};
    uint8_t o[2] = {1, 2};
    const char *u[2] = {"a", "b"};
    uint64_t pt[2] = {1, 2};
    write_part(st, DAY, 2, t, o, u, pt);
}

Test(store, open_rejects_non_store)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, "/nonexistent/colog", COLOG_OPEN_READ), COLOG_ENOTCOLOG);
    cr_assert_eq(colog_store_open(&st, "/tmp", COLOG_OPEN_READ), COLOG_ENOTCOLOG);
}

Test(store, create_refuses_non_empty_dir)
{
    colog_schema_t s = *colog_schema_builtin("firewall");
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(dir, &s, &c), COLOG_EEXIST);
}

/* A directory whose path leaves no room for "/hot" or "/cold" under PATH_MAX:
 * refused up front (it used to be created with its tiers' names cut short). */
Test(store, refuses_a_path_too_long_for_its_files)
{
    char p[PATH_MAX], comp[201];
    snprintf(p, sizeof p, "%s", dir);
    char *slash = strrchr(p, '/');
    *slash = 0;
    size_t n = (size_t)(slash - p);
    memset(comp, 'd', 200);
    comp[200] = 0;
    while (n + 201 < PATH_MAX - 8) {
        n += (size_t)snprintf(p + n, sizeof p - n, "/%s", comp);
        cr_assert_eq(mkdir(p, 0755), 0, "%s", strerror(errno));
    }
    size_t last = PATH_MAX - 4 - n; /* the path ends 3 bytes short of PATH_MAX - 1 */
    cr_assert(last >= 1 && last <= 255);
    p[n] = '/';
    memset(p + n + 1, 'e', last - 1);
    p[n + last] = 0;
    cr_assert_eq(strlen(p), (size_t)PATH_MAX - 4);
    cr_assert_eq(mkdir(p, 0755), 0, "%s", strerror(errno));

    colog_schema_t s = *colog_schema_builtin("firewall");
    colog_config_t c;
    colog_config_default(&c);
    cr_assert_eq(colog_store_create(p, &s, &c), COLOG_ELIMIT);
    cr_assert(strstr(colog_errmsg(), "path too long") != NULL, "%s", colog_errmsg());
    DIR *d = opendir(p);
    cr_assert_not_null(d);
    struct dirent *e;
    unsigned entries = 0;
    while ((e = readdir(d)) != NULL)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    cr_assert_eq(entries, 0, "a refused create left %u entries behind", entries);
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, p, COLOG_OPEN_READ), COLOG_ELIMIT);
}

Test(store, config_and_schema_round_trip)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    const colog_schema_t *s = colog_store_schema(st);
    cr_assert_eq(s->ncols, 4);
    cr_assert_str_eq(s->cols[1].name, "src");
    cr_assert_eq(s->cols[1].type, COLOG_T_IP);
    cr_assert(s->cols[2].indexed);
    cr_assert_eq(s->cols[3].type, COLOG_T_U16);
    cr_assert_eq(colog_store_config(st)->hot_days, 90);
    cr_assert_eq(colog_store_config(st)->cold_days, 400);
    colog_store_close(st);
}

Test(store, write_read_merge)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    int64_t t1[3] = {T(10), T(20), T(30)};
    uint8_t o1[3] = {9, 1, 9};
    const char *u1[3] = {"carol", NULL, "alice"};
    uint64_t p1[3] = {443, 80, 65535};
    int64_t t2[3] = {T(5), T(20), T(40)};
    uint8_t o2[3] = {2, 9, 1};
    const char *u2[3] = {"bob", "alice", "dave"};
    uint64_t p2[3] = {25, 443, 0};
    uint64_t id1 = write_part(st, DAY, 3, t1, o1, u1, p1);
    uint64_t id2 = write_part(st, DAY, 3, t2, o2, u2, p2);
    cr_assert_eq(id2, id1 + 1);
    size_t np;
    cr_assert_eq(day_rows(st, DAY, &np), 6);
    cr_assert_eq(np, 2);

    int32_t *days;
    size_t nd;
    cr_assert_eq(colog_store_days(st, &days, &nd), 0);
    cr_assert_eq(nd, 1);
    cr_assert_eq(days[0], DAY);
    free(days);

    bool merged;
    cr_assert_eq(colog_store_merge_day(st, DAY, 4, &merged), 0);
    cr_assert(!merged, "2 parts <= 4: no automatic merge");
    cr_assert_eq(colog_store_merge_day(st, DAY, 0, &merged), 0, "%s", colog_errmsg());
    cr_assert(merged);
    cr_assert_eq(day_rows(st, DAY, &np), 6);
    cr_assert_eq(np, 1);

    /* The merged part: times sorted, ties in part order, values carried along. */
    colog_snap_t *s;
    cr_assert_eq(colog_snap_day(st, DAY, ~0ull, &s), 0);
    colog_part_t *p = colog_snap_part(s, 0);
    cr_assert_eq(colog_part_ts_min(p), T(5));
    cr_assert_eq(colog_part_ts_max(p), T(40));
    colog_block_t b;
    cr_assert_eq(colog_part_read(p, 0, 0, &b), 0);
    int64_t want_ts[6] = {T(5), T(10), T(20), T(20), T(30), T(40)};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(b.v.i64[i], want_ts[i], "row %d", i);
    cr_assert_eq(colog_part_read(p, 3, 0, &b), 0);
    uint64_t want_port[6] = {25, 443, 80, 443, 65535, 0};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(b.v.u64[i], want_port[i], "row %d", i);
    /* users: bob carol NULL alice alice dave; dictionary alice bob carol dave */
    const colog_dictview_t *d;
    cr_assert_eq(colog_part_dict(p, 2, &d), 0);
    cr_assert_eq(d->n, 4);
    cr_assert_eq(memcmp(d->bytes + d->offs[0], "alice", 5), 0);
    cr_assert_eq(memcmp(d->bytes + d->offs[3], "dave", 4), 0);
    cr_assert_eq(colog_part_read(p, 2, 0, &b), 0);
    uint32_t want_code[6] = {1, 2, 0, 0, 0, 3};
    for (int i = 0; i < 6; i++) {
        if (i == 2) {
            cr_assert(!colog_valid(b.valid, 2), "row 2 has no user");
            continue;
        }
        cr_assert(colog_valid(b.valid, (uint32_t)i));
        cr_assert_eq(b.v.code[i], want_code[i], "row %d", i);
    }
    /* ips: 2 9 1 9 9 1 -> dictionary 10.0.0.1, .2, .9 */
    cr_assert_eq(colog_part_dict(p, 1, &d), 0);
    cr_assert_eq(d->n, 3);
    cr_assert_eq(colog_part_read(p, 1, 0, &b), 0);
    uint32_t want_ip[6] = {1, 2, 0, 2, 2, 0};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(b.v.code[i], want_ip[i], "row %d", i);
    colog_snap_free(s);
    colog_store_close(st);
}

Test(store, superseded_parts_and_leftovers_are_invisible)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0);
    write_two_rows(st);
    write_two_rows(st);
    /* A crash after the merged part's rename but before the old parts went:
     * emulate by copying the merged part back under its id and restoring the olds. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s/hot/2026-03-02' && cp -r p0000000000000001 /tmp/colog-keep1-%d && "
             "cp -r p0000000000000002 /tmp/colog-keep2-%d",
             dir, getpid(), getpid());
    cr_assert_eq(system(cmd), 0);
    bool merged;
    cr_assert_eq(colog_store_merge_day(st, DAY, 0, &merged), 0);
    cr_assert(merged);
    snprintf(cmd, sizeof cmd,
             "cd '%s/hot/2026-03-02' && mv /tmp/colog-keep1-%d p0000000000000001 && "
             "mv /tmp/colog-keep2-%d p0000000000000002 && mkdir .tmp-p0000000000000009 && "
             "echo junk > .tmp-p0000000000000009/manifest",
             dir, getpid(), getpid());
    cr_assert_eq(system(cmd), 0);
    size_t np;
    cr_assert_eq(day_rows(st, DAY, &np), 4, "superseded parts must not count twice");
    cr_assert_eq(np, 1);
    /* The next writer cleans up, and new ids keep growing past the leftovers. */
    cr_assert_eq(colog__day_cleanup(st, DAY), 0);
    snprintf(cmd, sizeof cmd,
             "test ! -e '%s/hot/2026-03-02/p0000000000000001' && "
             "test ! -e '%s/hot/2026-03-02/.tmp-p0000000000000009'",
             dir, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(day_rows(st, DAY, &np), 4);
    colog_store_close(st);
}

Test(store, part_writer_rejects_bad_input)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0);
    colog_pw_t *pw;
    cr_assert_eq(colog__pw_open(st, DAY, 2, &pw), 0);
    int64_t t[2] = {T(2), T(1)};
    cr_assert_eq(colog__pw_col_begin(pw, 1, NULL), COLOG_EINVAL, "columns in order");
    cr_assert_eq(colog__pw_col_begin(pw, 0, NULL), 0);
    cr_assert_eq(colog__pw_col_append(pw, t, NULL, 2), COLOG_EINVAL, "times must ascend");
    colog__pw_abort(pw);
    size_t np;
    cr_assert_eq(day_rows(st, DAY, &np), 0);
    cr_assert_eq(np, 0, "an aborted part leaves nothing visible");
    colog_store_close(st);
    /* A read-only handle cannot write. */
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0);
    cr_assert_eq(colog__pw_open(st, DAY, 2, &pw), COLOG_EINVAL);
    colog_store_close(st);
}

/* Readers in a child process while the parent writes and merges: each snapshot
 * must hold every committed row exactly once (rows only grow, by whole parts). */
Test(store, readers_see_each_row_once_during_merges)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0);
    int64_t t[3] = {T(1), T(2), T(3)};
    uint8_t o[3] = {1, 2, 3};
    const char *u[3] = {"x", "y", "z"};
    uint64_t pt[3] = {1, 2, 3};
    write_part(st, DAY, 3, t, o, u, pt);
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(pipefd[1]);
        colog_store_t *rd;
        if (colog_store_open(&rd, dir, COLOG_OPEN_READ) != 0)
            _exit(10);
        fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
        uint64_t last = 0;
        char c;
        int iters = 0;
        while (read(pipefd[0], &c, 1) != 0) {
            colog_snap_t *s;
            if (colog_snap_day(rd, DAY, ~0ull, &s) != 0)
                _exit(11);
            uint64_t r = 0;
            for (size_t i = 0; i < colog_snap_nparts(s); i++)
                r += colog_part_rows(colog_snap_part(s, i));
            colog_snap_free(s);
            if (r % 3 != 0 || r < last)
                _exit(12); /* a part counted twice, or lost */
            last = r;
            iters++;
        }
        colog_store_close(rd);
        _exit(iters > 0 ? 0 : 13);
    }
    close(pipefd[0]);
    for (int round = 0; round < 60; round++) {
        write_part(st, DAY, 3, t, o, u, pt);
        bool merged;
        cr_assert_eq(colog_store_merge_day(st, DAY, round % 3, &merged), 0, "%s", colog_errmsg());
    }
    close(pipefd[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "reader saw an inconsistent snapshot (%d)",
                 WEXITSTATUS(status));
    cr_assert_eq(day_rows(st, DAY, NULL), 61 * 3);
    colog_store_close(st);
}

/* A part copied into another day's directory is refused by name and date. */
Test(store, part_in_the_wrong_day_is_named)
{
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0);
    write_two_rows(st);
    colog_store_close(st);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir '%s/hot/2026-03-05' && cp -r '%s/hot/2026-03-02/p0000000000000001' "
             "'%s/hot/2026-03-05/'",
             dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0);
    colog_snap_t *s;
    cr_assert_eq(colog_snap_day(st, DAY + 3, 0, &s), COLOG_ECORRUPT);
    cr_assert_not_null(strstr(colog_errmsg(), "hot/2026-03-05/p0000000000000001/manifest: "
                                              "manifest is of part p0000000000000001 of day "
                                              "2026-03-02"),
                       "%s", colog_errmsg());
    colog_store_close(st);
}

/* Public entry points refuse bad input with an error, never a crash or a store
 * that cannot be opened again. */
Test(store, public_functions_validate_their_input)
{
    colog_config_default(NULL); /* no crash */
    char out[64] = "x";
    colog_ip_format(NULL, out, sizeof out);
    cr_assert_str_eq(out, "");
    colog_ip_format(NULL, NULL, 10);
    colog_day_format(0, NULL, 10);
    colog_time_format(0, 0, NULL, 10);
    /* extreme values: defined (saturated) output, no signed overflow under UBSan */
    colog_time_format(INT64_MAX, 3600, out, sizeof out);
    colog_time_format(INT64_MIN, -3600, out, sizeof out);
    colog_time_format(0, INT32_MIN, out, sizeof out);
    cr_assert(strchr(out, '-') != NULL, "%s", out);
    colog_time_format(1772409600000000LL, -18000, out, sizeof out);
    cr_assert_str_eq(out, "2026-03-01T19:00:00-05:00");
    colog_dictview_t dv = {.type = COLOG_T_STRING, .n = 1};
    uint32_t offs[2] = {0, 1};
    dv.offs = offs;
    dv.bytes = "a";
    cr_assert_eq(colog_dict_lower_str(&dv, NULL, 3), 1, "NULL text: past the end");
    cr_assert_eq(colog_dict_lower_str(&dv, "a", 1), 0);
    dv.type = COLOG_T_IP;
    cr_assert_eq(colog_dict_lower_ip(&dv, NULL), 1);
    cr_assert_eq(colog_seterr(COLOG_ECORRUPT, NULL), COLOG_ECORRUPT);
    cr_assert_str_eq(colog_errmsg(), colog_strerror(COLOG_ECORRUPT));

    char other[300];
    snprintf(other, sizeof other, "%s2", dir);
    colog_schema_t s = *colog_schema_builtin("firewall");
    colog_config_t c;
    colog_config_default(&c);
    /* a zone that would add a line to colog.conf, or run past its field */
    snprintf(c.tz, sizeof c.tz, "UTC\nhot_days 0");
    cr_assert_eq(colog_store_create(other, &s, &c), COLOG_EINVAL);
    memset(c.tz, 'A', sizeof c.tz);
    cr_assert_eq(colog_store_create(other, &s, &c), COLOG_EINVAL);
    colog_config_default(&c);
    /* caller-built schemas the text format cannot say */
    colog_schema_t bad = s;
    snprintf(bad.cols[3].name, COLOG_NAME_MAX, "dst ip");
    cr_assert_eq(colog_store_create(other, &bad, &c), COLOG_ESCHEMA);
    bad = s;
    bad.cols[14].indexed = true; /* duration is u32: fine; make it f64 */
    bad.cols[14].type = COLOG_T_F64;
    cr_assert_eq(colog_store_create(other, &bad, &c), COLOG_ESCHEMA);
    bad = s;
    bad.cols[2].type = (colog_type_t)99;
    cr_assert_eq(colog_store_create(other, &bad, &c), COLOG_ESCHEMA);
    bad = s;
    memcpy(bad.cols[5].name, s.cols[4].name, COLOG_NAME_MAX); /* a duplicate */
    cr_assert_eq(colog_store_create(other, &bad, &c), COLOG_ESCHEMA);
    bad = s;
    memset(bad.cols[1].name, 'a', COLOG_NAME_MAX); /* not terminated */
    cr_assert_eq(colog_store_create(other, &bad, &c), COLOG_EINVAL);
    struct stat sb;
    cr_assert_neq(stat(other, &sb), 0, "nothing created by a refused create");

    /* days outside the years 0000-9999 */
    colog_store_t *st;
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_WRITE), 0, "%s", colog_errmsg());
    colog_snap_t *snap;
    cr_assert_eq(colog_snap_day(st, 2932897, 0, &snap), COLOG_ERANGE);
    cr_assert_eq(colog_snap_day(st, -719529, 0, &snap), COLOG_ERANGE);
    cr_assert_eq(colog_snap_day(st, INT32_MIN, 0, &snap), COLOG_ERANGE);
    bool merged;
    cr_assert_eq(colog_store_merge_day(st, INT32_MAX, 0, &merged), COLOG_ERANGE);
    cr_assert_eq(colog_part_read_many(NULL, 3, NULL), COLOG_EINVAL);
    cr_assert_eq(colog_part_index_key(NULL, 1, 0), 0);
    cr_assert_eq(colog_part_index_card(NULL, 99, 0), 0);
    cr_assert_eq(colog_part_index_lower(NULL, 1000, 5), 0);
    colog_store_close(st);
    colog_verify_opts_t vo = {.one_day = true, .day = 3000000};
    colog_verify_stats_t vs;
    cr_assert_eq(colog_verify_store(dir, &vo, &vs), COLOG_ERANGE);

    /* an ingest session on a store opened for reading is refused up front */
    cr_assert_eq(colog_store_open(&st, dir, COLOG_OPEN_READ), 0, "%s", colog_errmsg());
    colog_ingest_t *ing;
    cr_assert_eq(colog_ingest_begin(st, NULL, &ing), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "not open for writing") != NULL, "%s", colog_errmsg());
    colog_store_close(st);
}
