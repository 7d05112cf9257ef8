/*
 * cmd_init.c — `colog init STORE [--schema firewall|web|FILE] [--hot-days N]
 * [--cold-days N] [--cold-dir DIR] [--tz ZONE]`: create a store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int parse_days(const char *opt, const char *v, uint32_t *out)
{
    char *end;
    if (v == NULL)
        return cli_usage("init: %s needs a number of days", opt);
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || end == v || n == 0 || n > 100000 || v[0] == '-')
        return cli_usage("init: %s: '%s' is not a number of days (1..100000)", opt, v);
    *out = (uint32_t)n;
    return 0;
}

static int load_schema_file(const char *path, colog_schema_t *s)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cli_usage("init: schema '%s': not a built-in schema (firewall, web) and %s", path,
                         strerror(errno));
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf == NULL)
        return cli_usage("init: out of memory");
    int rc = colog_schema_parse(buf, n, path, s);
    free(buf);
    if (rc)
        return cli_usage("init: %s", colog_errmsg());
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(s->name, sizeof s->name, "%.*s", (int)strcspn(base, "."), base);
    for (char *p = s->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    return 0;
}

int cmd_init(int argc, char **argv)
{
    const char *store = NULL, *schema = "firewall", *v;
    colog_config_t cfg;
    colog_config_default(&cfg);
    int rc;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--schema", &v)) {
            if (v == NULL)
                return cli_usage("init: --schema needs a value");
            schema = v;
        } else if (cli_opt(argc, argv, &i, "--hot-days", &v)) {
            if ((rc = parse_days("--hot-days", v, &cfg.hot_days)))
                return rc;
        } else if (cli_opt(argc, argv, &i, "--cold-days", &v)) {
            if ((rc = parse_days("--cold-days", v, &cfg.cold_days)))
                return rc;
        } else if (cli_opt(argc, argv, &i, "--cold-dir", &v)) {
            if (v == NULL || strlen(v) >= sizeof cfg.cold_dir || strchr(v, '\n'))
                return cli_usage("init: --cold-dir needs a directory");
            snprintf(cfg.cold_dir, sizeof cfg.cold_dir, "%s", v);
        } else if (cli_opt(argc, argv, &i, "--tz", &v)) {
            colog_tz_t *tz;
            if (v == NULL || strlen(v) >= sizeof cfg.tz)
                return cli_usage("init: --tz needs a zone");
            if (colog_tz_open(v, &tz) != 0)
                return cli_usage("init: %s", colog_errmsg());
            colog_tz_free(tz);
            snprintf(cfg.tz, sizeof cfg.tz, "%s", v);
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            return cli_usage("init: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else {
            return cli_usage("init: unexpected argument '%s'", argv[i]);
        }
    }
    if (store == NULL)
        return cli_usage("init: which store? usage: colog init STORE [--schema ...]");
    if (cfg.cold_days <= cfg.hot_days)
        return cli_usage("init: --cold-days (%u) must be greater than --hot-days (%u)",
                         cfg.cold_days, cfg.hot_days);
    colog_schema_t s;
    const colog_schema_t *bs = colog_schema_builtin(schema);
    if (bs) {
        s = *bs;
    } else if ((rc = load_schema_file(schema, &s))) {
        return rc;
    }
    rc = colog_store_create(store, &s, &cfg);
    if (rc)
        return cli_fail("init", rc);
    printf("created store %s (schema %s, %u columns; hot %u days, cold %u days)\n", store, s.name,
           s.ncols, cfg.hot_days, cfg.cold_days);
    return EXIT_OK;
}
