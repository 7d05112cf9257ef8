/*
 * cmd_ledger.c — `colog ledger STORE head` prints the chain head (`SEQ HASH`) to
 * keep elsewhere and check later with `colog verify STORE --head HASH`;
 * `colog ledger keygen FILE` creates an HMAC key file for `colog init
 * --ledger-key FILE`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define LEDGER_USAGE "usage: colog ledger STORE head | colog ledger keygen FILE"

int cmd_ledger(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] != 0)
            return cli_usage("ledger: unknown option '%s'", argv[i]);
    if (argc == 3 && strcmp(argv[2], "head") == 0) {
        uint64_t seq = 0;
        char hex[65];
        int rc = colog_ledger_head(argv[1], &seq, hex);
        if (rc)
            return cli_fail("ledger", rc);
        printf("%llu %s\n", (unsigned long long)seq, hex);
        return EXIT_OK;
    }
    if (argc == 3 && strcmp(argv[1], "keygen") == 0) {
        int rc = colog_ledger_keygen(argv[2]);
        if (rc)
            return cli_fail("ledger: keygen", rc);
        printf("created key %s (mode 0600): keep a copy with the auditor; use it with "
               "colog init STORE --ledger-key %s\n",
               argv[2], argv[2]);
        return EXIT_OK;
    }
    return cli_usage("ledger: " LEDGER_USAGE);
}
