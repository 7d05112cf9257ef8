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

/* Print "colog: WHAT: WHY" for the last library error and return EXIT_RUNTIME
 * (or EXIT_USAGE for argument errors). */
int cli_fail(const char *what, int rc);
/* Print "colog: MSG" (printf-style) and return EXIT_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Match "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i. */
bool cli_opt(int argc, char **argv, int *i, const char *name, const char **val);

#endif
