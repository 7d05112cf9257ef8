/*
 * cli.h — This file is private to the colog command line.
 *
 * Each subcommand lives in its own cmd_*.c and returns the process exit status:
 * 0 success, 1 runtime failure, 2 usage or query error, 3 rows rejected.
 */
#ifndef COLOG_CLI_H
#define COLOG_CLI_H

#include <stdbool.h>

#include "colog_query.h"
#include "colog_storage.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_REJECTS = 3 };

int cmd_init(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_retain(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Print "colog: WHAT: WHY" for the last library error and return EXIT_RUNTIME
 * (or EXIT_USAGE for argument errors). */
int cli_fail(const char *what, int rc);
/* Print "colog: MSG" (printf-style) and return EXIT_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Match "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i. */
bool cli_opt(int argc, char **argv, int *i, const char *name, const char **val);

/* ---- tier policy options, shared by init and config (cmd_config.c) */

/* Parse v as a decimal number in lo..hi (digits only); on failure print a usage
 * error naming cmd and opt and return EXIT_USAGE. *out is written only on success. */
int cli_uint(const char *cmd, const char *opt, const char *v, uint32_t lo, uint32_t hi,
             uint32_t *out);
/* Make path absolute into out[cap] (the library wants absolute paths): kept if it
 * starts with '/', else the realpath of its parent directory + its last name (the
 * current directory + path when the parent does not exist yet). "" stays "".
 * 0, or a usage error (EXIT_USAGE) naming cmd and opt. */
int cli_abspath(const char *cmd, const char *opt, const char *path, char *out, size_t cap);
/* If argv[*i] is one of --hot-days, --cold-days, --cold-dir, --after-cold,
 * --archive-dir, --cold-zstd-level: parse it into cfg (advancing *i) and return 0,
 * or EXIT_USAGE after a message. -1 if argv[*i] is none of them. */
int cli_policy_opt(const char *cmd, int argc, char **argv, int *i, colog_config_t *cfg);
/* Usage error unless cold_days >= hot_days. */
int cli_policy_check(const char *cmd, const colog_config_t *cfg);

/* ---- sizes and progress, shared by retain, archive and verify (cmd_retain.c) */

/* "812 B", "412.3 MB", "1.2 TB" (powers of 1000) into buf (>= 16 bytes). */
void cli_human_bytes(uint64_t n, char *buf, size_t cap);

/* A progress line on stderr, drawn only when stderr is a terminal, redrawn at
 * most five times a second. */
typedef struct cli_progress {
    bool tty, shown;
    double last;
} cli_progress_t;
void cli_progress_init(cli_progress_t *p);
void cli_progress_show(cli_progress_t *p, const char *what, uint64_t done, uint64_t total);
/* Erase the line (before printing on stdout, and at the end). */
void cli_progress_clear(cli_progress_t *p);

#endif
