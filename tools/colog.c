/*
 * colog.c — the colog command line: dispatch to one file per subcommand.
 *
 * The CLI is a thin face over libcolog: argument parsing, messages and exit
 * codes live here; everything a library user would need lives in storage/ and
 * query/.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
} commands[] = {
    {"init", cmd_init,
     "init STORE [--schema firewall|web|FILE] [--hot-days 90] [--cold-days 400] [--cold-dir DIR] "
     "[--after-cold delete|archive] [--archive-dir DIR] [--cold-zstd-level 19] "
     "[--ledger-key FILE] [--tz ZONE]"},
    {"ingest", cmd_ingest,
     "ingest STORE [--format csv|ndjson|auto|netscreen|srx|asa|fortigate|panos|iptables|"
     "pfsense|cef|apache|nginx] [--rejects FILE] [--batch-rows N] [--acks] [--now TIME] [FILE...]"},
    {"query", cmd_query,
     "query STORE 'QUERY'|--file FILE [--format table|csv|json|ndjson] [--tz ZONE] [--threads N] "
     "[--no-index] [--explain] [--mem-mb N] [--io auto|uring|pread] [--now TIME] "
     "[--skip-damaged]"},
    {"stats", cmd_stats, "stats STORE [--format table|json]"},
    {"merge", cmd_merge, "merge STORE [--day YYYY-MM-DD]"},
    {"config", cmd_config,
     "config STORE [--hot-days N] [--cold-days N] [--cold-dir DIR] [--after-cold delete|archive] "
     "[--archive-dir DIR] [--cold-zstd-level N]"},
    {"retain", cmd_retain, "retain STORE [--now TIME] [--dry-run]"},
    {"archive", cmd_archive, "archive STORE --day YYYY-MM-DD --out FILE [--remove]"},
    {"restore", cmd_restore, "restore STORE FILE"},
    {"hold", cmd_hold,
     "hold STORE add DAY[..DAY] --reason TEXT | colog hold STORE list [--format table|json] | "
     "colog hold STORE remove ID [--reason TEXT]"},
    {"verify", cmd_verify,
     "verify STORE [--day YYYY-MM-DD] [--head HEX] [--key FILE] | colog verify --archive FILE"},
    {"ledger", cmd_ledger, "ledger STORE head | colog ledger keygen FILE"},
    {"serve", cmd_serve,
     "serve STORE --listen ADDR:PORT [--http ADDR:PORT] [--token-file FILE] "
     "[--max-message BYTES] [--max-conns N] [--max-body BYTES] [--rejects FILE] "
     "[--drain-ms N] [--http-threads N]"},
};

int cli_fail(const char *what, int rc)
{
    const char *msg = colog_errmsg();
    if (msg[0])
        fprintf(stderr, "colog: %s: %s\n", what, msg);
    else
        fprintf(stderr, "colog: %s: %s\n", what, colog_strerror(rc));
    return rc == COLOG_EINVAL || rc == COLOG_ESCHEMA || rc == COLOG_EQUERY ? EXIT_USAGE
                                                                           : EXIT_RUNTIME;
}

int cli_usage(const char *fmt, ...)
{
    va_list ap;
    fputs("colog: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

bool cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        return true;
    }
    if (a[n] != 0)
        return false;
    if (*i + 1 >= argc) {
        *val = NULL; /* the caller reports the missing value */
        return true;
    }
    *val = argv[++*i];
    return true;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: colog COMMAND ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  colog %s\n", commands[i].usage);
    fprintf(f, "\nexit status: 0 ok, 1 runtime failure, 2 usage or query error, 3 rows "
               "rejected\n");
}

int main(int argc, char **argv)
{
    /* Query threads grow big hash tables; returning their memory to the kernel
     * after every resize (munmap) makes the kernel flush the other threads' TLBs.
     * Keep freed memory in the process instead; a colog command is short-lived. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
                printf("usage: colog %s\n", commands[i].usage);
                return EXIT_OK;
            }
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "colog: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
