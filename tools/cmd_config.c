/*
 * cmd_config.c — `colog config STORE [--hot-days N] [--cold-days N] [--cold-dir DIR]
 * [--after-cold delete|archive] [--archive-dir DIR] [--cold-zstd-level N]`: print
 * the store's tier policy, or change it and print the result.
 *
 * Also the parsing of the policy options, which `colog init` shares: numbers are
 * digits only and range-checked here so that the message names the option; paths
 * are made absolute because the library stores them as given and may use them
 * from another working directory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_uint(const char *cmd, const char *opt, const char *v, uint32_t lo, uint32_t hi,
             uint32_t *out)
{
    if (v == NULL || v[0] == 0)
        return cli_usage("%s: %s needs a number (%u..%u)", cmd, opt, lo, hi);
    uint64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > hi)
            return cli_usage("%s: %s: '%s' is not a number in %u..%u", cmd, opt, v, lo, hi);
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n < lo || n > hi)
        return cli_usage("%s: %s: '%s' is not a number in %u..%u", cmd, opt, v, lo, hi);
    *out = (uint32_t)n;
    return 0;
}

int cli_abspath(const char *cmd, const char *opt, const char *path, char *out, size_t cap)
{
    char buf[PATH_MAX], parent[PATH_MAX], real[PATH_MAX];
    size_t n = strlen(path);
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p < 0x20)
            return cli_usage("%s: %s: control character in the path", cmd, opt);
    if (n == 0 || path[0] == '/') {
        if (n >= cap)
            return cli_usage("%s: %s: path too long (at most %zu bytes)", cmd, opt, cap - 1);
        memcpy(out, path, n + 1);
        return 0;
    }
    if (n >= sizeof buf)
        return cli_usage("%s: %s: path too long", cmd, opt);
    memcpy(buf, path, n + 1);
    while (n > 1 && buf[n - 1] == '/') /* "dir/" names dir */
        buf[--n] = 0;
    const char *name = buf;
    char *slash = strrchr(buf, '/');
    if (slash) {
        *slash = 0;
        snprintf(parent, sizeof parent, "%s", buf);
        name = slash + 1;
    } else {
        snprintf(parent, sizeof parent, ".");
    }
    int k;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        /* "x/.." has no name of its own: resolve the whole path */
        if (realpath(path, real) == NULL)
            return cli_usage("%s: %s: %s: %s", cmd, opt, path, strerror(errno));
        k = snprintf(out, cap, "%s", real);
    } else if (realpath(parent, real) != NULL) {
        k = snprintf(out, cap, "%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", name);
    } else {
        /* the parent does not exist yet (the library creates directories) */
        if (getcwd(real, sizeof real) == NULL)
            return cli_usage("%s: %s: current directory: %s", cmd, opt, strerror(errno));
        k = snprintf(out, cap, "%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", buf);
    }
    if (k < 0 || (size_t)k >= cap)
        return cli_usage("%s: %s: path too long (at most %zu bytes)", cmd, opt, cap - 1);
    return 0;
}

int cli_policy_opt(const char *cmd, int argc, char **argv, int *i, colog_config_t *cfg)
{
    const char *v;
    if (cli_opt(argc, argv, i, "--hot-days", &v))
        return cli_uint(cmd, "--hot-days", v, 1, 3660000, &cfg->hot_days);
    if (cli_opt(argc, argv, i, "--cold-days", &v))
        return cli_uint(cmd, "--cold-days", v, 1, 3660000, &cfg->cold_days);
    if (cli_opt(argc, argv, i, "--cold-zstd-level", &v))
        return cli_uint(cmd, "--cold-zstd-level", v, 1, 22, &cfg->cold_zstd_level);
    if (cli_opt(argc, argv, i, "--after-cold", &v)) {
        if (v && strcmp(v, "delete") == 0)
            cfg->after_cold = COLOG_AFTER_DELETE;
        else if (v && strcmp(v, "archive") == 0)
            cfg->after_cold = COLOG_AFTER_ARCHIVE;
        else
            return cli_usage("%s: --after-cold must be delete or archive", cmd);
        return 0;
    }
    if (cli_opt(argc, argv, i, "--cold-dir", &v)) {
        if (v == NULL)
            return cli_usage("%s: --cold-dir needs a directory", cmd);
        return cli_abspath(cmd, "--cold-dir", v, cfg->cold_dir, sizeof cfg->cold_dir);
    }
    if (cli_opt(argc, argv, i, "--archive-dir", &v)) {
        if (v == NULL)
            return cli_usage("%s: --archive-dir needs a directory", cmd);
        return cli_abspath(cmd, "--archive-dir", v, cfg->archive_dir, sizeof cfg->archive_dir);
    }
    return -1;
}

int cli_policy_check(const char *cmd, const colog_config_t *cfg)
{
    if (cfg->cold_days < cfg->hot_days)
        return cli_usage("%s: --cold-days (%u) must be at least --hot-days (%u)", cmd,
                         cfg->cold_days, cfg->hot_days);
    return 0;
}

static void print_config(colog_store_t *st)
{
    const colog_config_t *c = colog_store_config(st);
    const char *path = colog_store_path(st);
    printf("hot_days %u\n", c->hot_days);
    printf("cold_days %u\n", c->cold_days);
    if (c->cold_dir[0])
        printf("cold_dir %s\n", c->cold_dir);
    else
        printf("cold_dir %s/cold\n", path);
    printf("after_cold %s\n", c->after_cold == COLOG_AFTER_ARCHIVE ? "archive" : "delete");
    if (c->archive_dir[0])
        printf("archive_dir %s\n", c->archive_dir);
    else
        printf("archive_dir %s/archive\n", path);
    printf("cold_zstd_level %u\n", c->cold_zstd_level);
    printf("ledger_key %s\n", c->ledger_key[0] ? c->ledger_key : "none");
    printf("tz %s\n", c->tz[0] ? c->tz : "UTC");
    printf("schema %s\n", colog_store_schema(st)->name);
}

/* The arguments are read twice: once to check them and find the store, then
 * again onto the store's current configuration (parsing is deterministic, so the
 * second pass cannot fail). */
int cmd_config(int argc, char **argv)
{
    const char *store = NULL;
    colog_config_t scratch;
    colog_config_default(&scratch);
    bool change = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = cli_policy_opt("config", argc, argv, &i, &scratch);
        if (rc > 0)
            return rc;
        if (rc == 0) {
            change = true;
        } else if (strncmp(a, "--tz", 4) == 0 || strncmp(a, "--ledger-key", 12) == 0 ||
                   strncmp(a, "--schema", 8) == 0) {
            return cli_usage("config: %.*s is fixed when the store is created",
                             (int)strcspn(a, "="), a);
        } else if (a[0] == '-' && a[1] != 0) {
            return cli_usage("config: unknown option '%s'", a);
        } else if (store == NULL) {
            store = a;
        } else {
            return cli_usage("config: unexpected argument '%s'", a);
        }
    }
    if (store == NULL)
        return cli_usage("config: usage: colog config STORE [--hot-days N] [--cold-days N] "
                         "[--cold-dir DIR] [--after-cold delete|archive] [--archive-dir DIR] "
                         "[--cold-zstd-level N]");
    colog_store_t *st;
    int rc = colog_store_open(&st, store, change ? COLOG_OPEN_WRITE : COLOG_OPEN_READ);
    if (rc)
        return cli_fail("config", rc);
    int status = EXIT_OK;
    if (change) {
        colog_config_t nc = *colog_store_config(st);
        for (int i = 1; i < argc; i++)
            if (argv[i] != store && (status = cli_policy_opt("config", argc, argv, &i, &nc)) > 0)
                goto out;
        if ((status = cli_policy_check("config", &nc)) != 0)
            goto out;
        rc = colog_store_set_config(st, &nc);
        if (rc) {
            status = cli_fail("config", rc);
            goto out;
        }
    }
    status = EXIT_OK;
    print_config(st);
out:
    colog_store_close(st);
    return status;
}
