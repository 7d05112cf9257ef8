/*
 * cmd_init.c — `colog init STORE [--schema firewall|web|FILE] [--hot-days N]
 * [--cold-days N] [--cold-dir DIR] [--after-cold delete|archive] [--archive-dir DIR]
 * [--cold-zstd-level N] [--ledger-key FILE] [--tz ZONE]`: create a store.
 *
 * The tier options are parsed by cli_policy_opt (cmd_config.c), which `colog
 * config` shares; relative paths are made absolute before the library sees them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Refuse a column named like a query keyword (`where`, `count`, ...): the store
 * would take its data, but no query could name it. The schema parser (storage
 * layer) knows no query language, so the check is here; the position is found
 * again in the text: column k is the k-th line holding a token (before any '#'),
 * which is the schema format's rule (colog_schema.c). */
static int check_reserved(const char *text, size_t n, const char *path, const colog_schema_t *s)
{
    unsigned k = 0;
    size_t lno = 0;
    for (size_t a = 0; a < n; lno++) {
        size_t e = a;
        while (e < n && text[e] != '\n')
            e++;
        size_t i = a;
        while (i < e && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
            i++; /* the schema format's blanks (colog_schema.c is_blank) */
        if (i < e && text[i] != '#') {
            if (k < s->ncols && colog_query_reserved(s->cols[k].name, strlen(s->cols[k].name)))
                return cli_usage("init: %s:%zu:%zu: column name '%s' is a word of the query "
                                 "language, which queries could not name; rename the column",
                                 path, lno + 1, i - a + 1, s->cols[k].name);
            k++;
        }
        a = e + 1;
    }
    return 0;
}

static int load_schema_file(const char *path, colog_schema_t *s)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cli_usage("init: schema '%s': not a built-in schema (firewall, web) and %s", path,
                         strerror(errno));
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (buf == NULL)
        return cli_usage("init: out of memory");
    if (bad || n == 1 << 20) { /* never parse a prefix of the file as if it were all */
        free(buf);
        return cli_usage("init: schema '%s': %s", path,
                         bad ? "read error" : "larger than 1 MiB (not a schema file?)");
    }
    int rc = colog_schema_parse(buf, n, path, s);
    if (rc) {
        free(buf);
        return cli_usage("init: %s", colog_errmsg());
    }
    rc = check_reserved(buf, n, path, s);
    free(buf);
    if (rc)
        return rc;
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
        } else if ((rc = cli_policy_opt("init", argc, argv, &i, &cfg)) >= 0) {
            if (rc)
                return rc;
        } else if (cli_opt(argc, argv, &i, "--ledger-key", &v)) {
            if (v == NULL || v[0] == 0)
                return cli_usage("init: --ledger-key needs a key file (colog ledger keygen FILE)");
            rc = cli_abspath("init", "--ledger-key", v, cfg.ledger_key, sizeof cfg.ledger_key);
            if (rc)
                return rc;
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
    if ((rc = cli_policy_check("init", &cfg)))
        return rc;
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
    printf("created store %s (schema %s, %u columns; hot %u days, cold %u days, then %s%s)\n",
           store, s.name, s.ncols, cfg.hot_days, cfg.cold_days,
           cfg.after_cold == COLOG_AFTER_ARCHIVE ? "archive" : "delete",
           cfg.ledger_key[0] ? "; keyed ledger" : "");
    return EXIT_OK;
}
