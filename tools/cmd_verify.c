/*
 * cmd_verify.c — `colog verify STORE [--day DAY] [--head HEX] [--key FILE]` checks
 * every block checksum, every file against its manifest, the manifests against
 * the ledger and the chain; `colog verify --archive FILE` checks an archive file on
 * its own. Each problem is printed on stdout as it is found, then one summary
 * line; the exit status is 1 if there was any problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define VERIFY_USAGE                                                                               \
    "usage: colog verify STORE [--day YYYY-MM-DD] [--head HEX] [--key FILE] | colog verify "       \
    "--archive FILE"

typedef struct verify_ctx {
    cli_progress_t pg;
    uint64_t problems;
} verify_ctx_t;

static void on_problem(void *ctx, const char *msg)
{
    verify_ctx_t *c = ctx;
    cli_progress_clear(&c->pg);
    c->problems++;
    printf("%s\n", msg);
    fflush(stdout);
}

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
    verify_ctx_t *c = ctx;
    cli_progress_show(&c->pg, what, done, total);
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
              (s[n] >= 'A' && s[n] <= 'F')))
            return false;
    return n == 64;
}

/* The summary when problems were found: the library's own ("N problems; the
 * ledger up to the head (seq N) checks out") if it gave one, else ours. */
static int problems_summary(int rc, uint64_t n)
{
    const char *msg = colog_errmsg();
    if (rc == COLOG_ECORRUPT && msg[0] >= '1' && msg[0] <= '9')
        printf("verify: %s\n", msg);
    else
        printf("verify: %llu problem%s\n", (unsigned long long)n, n == 1 ? "" : "s");
    return EXIT_RUNTIME;
}

static int verify_archive(const char *file)
{
    verify_ctx_t ctx = {.problems = 0};
    cli_progress_init(&ctx.pg);
    colog_archive_info_t info;
    memset(&info, 0, sizeof info);
    int rc = colog_archive_verify(file, on_problem, &ctx, &info);
    cli_progress_clear(&ctx.pg);
    if (rc == COLOG_ECORRUPT || (rc == 0 && ctx.problems > 0))
        return problems_summary(rc, ctx.problems);
    if (rc)
        return cli_fail("verify", rc);
    char d[16], size[32], sha[65];
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        sha[2 * i] = digits[info.sha256[i] >> 4];
        sha[2 * i + 1] = digits[info.sha256[i] & 15];
    }
    sha[64] = 0;
    colog_day_format(info.day, d, sizeof d);
    cli_human_bytes(info.bytes, size, sizeof size);
    printf("verify: OK: archive of %s: %llu part%s, %llu files, %llu rows, %s; sha256 %s\n", d,
           (unsigned long long)info.parts, info.parts == 1 ? "" : "s",
           (unsigned long long)info.files, (unsigned long long)info.rows, size, sha);
    return EXIT_OK;
}

int cmd_verify(int argc, char **argv)
{
    const char *store = NULL, *archive = NULL, *v;
    verify_ctx_t ctx = {.problems = 0};
    colog_verify_opts_t opts = {
        .problem = on_problem, .progress = on_progress, .ctx = &ctx, .head = NULL};
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--day", &v)) {
            if (v == NULL || colog_day_parse(v, strlen(v), &opts.day) != 0)
                return cli_usage("verify: --day needs a date YYYY-MM-DD");
            opts.one_day = true;
        } else if (cli_opt(argc, argv, &i, "--head", &v)) {
            if (v == NULL || !is_hex64(v))
                return cli_usage("verify: --head needs a ledger head: 64 hex digits (colog "
                                 "ledger STORE head)");
            opts.head = v;
        } else if (cli_opt(argc, argv, &i, "--key", &v)) {
            if (v == NULL || v[0] == 0)
                return cli_usage("verify: --key needs a key file");
            opts.key_path = v;
        } else if (cli_opt(argc, argv, &i, "--archive", &v)) {
            if (v == NULL || v[0] == 0)
                return cli_usage("verify: --archive needs an archive file");
            archive = v;
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            return cli_usage("verify: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else {
            return cli_usage("verify: unexpected argument '%s'", argv[i]);
        }
    }
    if (archive) {
        if (store || opts.one_day || opts.head || opts.key_path)
            return cli_usage("verify: --archive FILE checks the file on its own: no STORE, "
                             "--day, --head or --key");
        return verify_archive(archive);
    }
    if (store == NULL)
        return cli_usage("verify: " VERIFY_USAGE);
    cli_progress_init(&ctx.pg);
    colog_verify_stats_t s;
    memset(&s, 0, sizeof s);
    int rc = colog_verify_store(store, &opts, &s);
    cli_progress_clear(&ctx.pg);
    if (rc == COLOG_ECORRUPT || (rc == 0 && s.problems > 0))
        return problems_summary(rc, s.problems > ctx.problems ? s.problems : ctx.problems);
    if (rc)
        return cli_fail("verify", rc);
    char size[32];
    cli_human_bytes(s.bytes, size, sizeof size);
    printf("verify: OK: %llu part%s, %llu files, %llu blocks, %s checked; ledger %llu entr%s\n",
           (unsigned long long)s.parts, s.parts == 1 ? "" : "s", (unsigned long long)s.files,
           (unsigned long long)s.blocks, size, (unsigned long long)s.entries,
           s.entries == 1 ? "y" : "ies");
    if (opts.head) {
        if (!s.head_found) { /* the library reports this as a problem; be sure */
            printf("head %s not found in the ledger\nverify: 1 problem\n", opts.head);
            return EXIT_RUNTIME;
        }
        printf("verify: history up to %s is intact\n", opts.head);
    }
    return EXIT_OK;
}
