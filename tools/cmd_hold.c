/*
 * cmd_hold.c — legal holds: `colog hold STORE add DAY[..DAY] --reason TEXT`,
 * `colog hold STORE list [--format table|json]`, `colog hold STORE remove ID
 * [--reason TEXT]`. A held day never leaves the store (it still moves to cold);
 * adding and removing are ledger entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define HOLD_USAGE                                                                                 \
    "usage: colog hold STORE add DAY[..DAY] --reason TEXT | colog hold STORE list [--format "      \
    "table|json] | colog hold STORE remove ID [--reason TEXT]"

/* "2026-03-01..2026-03-31" or "2026-03-01". */
static int parse_range(const char *s, int32_t *from, int32_t *to)
{
    const char *dots = strstr(s, "..");
    size_t n1 = dots ? (size_t)(dots - s) : strlen(s);
    if (colog_day_parse(s, n1, from) != 0)
        return cli_usage("hold: '%s' is not a day or range YYYY-MM-DD[..YYYY-MM-DD]", s);
    *to = *from;
    if (dots && colog_day_parse(dots + 2, strlen(dots + 2), to) != 0)
        return cli_usage("hold: '%s' is not a day or range YYYY-MM-DD[..YYYY-MM-DD]", s);
    if (*to < *from)
        return cli_usage("hold: '%s': the range ends before it starts", s);
    return 0;
}

static int parse_id(const char *s, uint64_t *id)
{
    uint64_t n = 0;
    if (s[0] == 0)
        return cli_usage("hold: remove: which hold? (an id from colog hold STORE list)");
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return cli_usage("hold: remove: '%s' is not a hold id", s);
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n == 0)
        return cli_usage("hold: remove: '%s' is not a hold id", s);
    *id = n;
    return 0;
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static int list(colog_store_t *st, bool json)
{
    colog_hold_t *h = NULL;
    size_t n = 0;
    int rc = colog_hold_list(st, &h, &n);
    if (rc)
        return cli_fail("hold: list", rc);
    char from[16], to[16], created[48];
    if (json)
        putchar('[');
    else
        printf("%-4s  %-10s  %-10s  %-20s  %s\n", "id", "from", "to", "created", "reason");
    for (size_t i = 0; i < n; i++) {
        colog_day_format(h[i].from, from, sizeof from);
        colog_day_format(h[i].to, to, sizeof to);
        if (json) {
            colog_time_format(h[i].created, 0, created, sizeof created);
            printf("%s{\"id\":%llu,\"from\":\"%s\",\"to\":\"%s\",\"created\":\"%s\",\"reason\":",
                   i ? ",\n" : "\n", (unsigned long long)h[i].id, from, to, created);
            json_str(h[i].reason);
            putchar('}');
        } else {
            int64_t c = h[i].created;
            c -= ((c % 1000000) + 1000000) % 1000000; /* whole seconds in the table */
            colog_time_format(c, 0, created, sizeof created);
            printf("%-4llu  %-10s  %-10s  %-20s  %s\n", (unsigned long long)h[i].id, from, to,
                   created, h[i].reason);
        }
    }
    if (json)
        printf("%s]\n", n ? "\n" : "");
    free(h);
    return EXIT_OK;
}

int cmd_hold(int argc, char **argv)
{
    const char *store = NULL, *verb = NULL, *arg = NULL, *reason = NULL, *v;
    bool json = false, have_format = false;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--reason", &v)) {
            if (v == NULL)
                return cli_usage("hold: --reason needs a text");
            reason = v;
        } else if (cli_opt(argc, argv, &i, "--format", &v)) {
            if (v && strcmp(v, "json") == 0)
                json = true;
            else if (!(v && strcmp(v, "table") == 0))
                return cli_usage("hold: --format must be table or json");
            have_format = true;
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            return cli_usage("hold: unknown option '%s'", argv[i]);
        } else if (store == NULL) {
            store = argv[i];
        } else if (verb == NULL) {
            verb = argv[i];
        } else if (arg == NULL) {
            arg = argv[i];
        } else {
            return cli_usage("hold: unexpected argument '%s'", argv[i]);
        }
    }
    if (store == NULL || verb == NULL)
        return cli_usage("hold: " HOLD_USAGE);
    int32_t from = 0, to = 0;
    uint64_t id = 0;
    int rc;
    if (strcmp(verb, "add") == 0) {
        if (arg == NULL)
            return cli_usage("hold: add: which days? (DAY or DAY..DAY)");
        if ((rc = parse_range(arg, &from, &to)) != 0)
            return rc;
        if (reason == NULL || reason[0] == 0)
            return cli_usage("hold: add: --reason is required (the case, the requester)");
        if (have_format)
            return cli_usage("hold: add: --format is for list");
    } else if (strcmp(verb, "remove") == 0) {
        if (arg == NULL)
            return cli_usage("hold: remove: which hold? (an id from colog hold STORE list)");
        if ((rc = parse_id(arg, &id)) != 0)
            return rc;
        if (have_format)
            return cli_usage("hold: remove: --format is for list");
    } else if (strcmp(verb, "list") == 0) {
        if (arg != NULL)
            return cli_usage("hold: list: unexpected argument '%s'", arg);
        if (reason != NULL)
            return cli_usage("hold: list: --reason is for add and remove");
    } else {
        return cli_usage("hold: unknown action '%s' (add, list or remove)", verb);
    }

    bool write = strcmp(verb, "list") != 0;
    colog_store_t *st;
    rc = colog_store_open(&st, store, write ? COLOG_OPEN_WRITE : COLOG_OPEN_READ);
    if (rc)
        return cli_fail("hold", rc);
    int status = EXIT_OK;
    if (verb[0] == 'l') {
        status = list(st, json);
    } else if (verb[0] == 'a') {
        uint64_t nid = 0;
        rc = colog_hold_add(st, from, to, reason, &nid);
        if (rc) {
            status = cli_fail("hold: add", rc);
        } else {
            char f[16], t[16];
            colog_day_format(from, f, sizeof f);
            colog_day_format(to, t, sizeof t);
            printf("added hold %llu: %s..%s (%s)\n", (unsigned long long)nid, f, t, reason);
        }
    } else {
        /* The ledger entry wants a reason; --reason is optional here. */
        rc = colog_hold_remove(st, id, reason && reason[0] ? reason : "no reason given");
        if (rc)
            status = cli_fail("hold: remove", rc);
        else
            printf("removed hold %llu\n", (unsigned long long)id);
    }
    colog_store_close(st);
    return status;
}
