/*
 * fuzz_ndjson.c — libFuzzer target: NDJSON ingest end to end without a store
 * (colog__ndjson_ingest, jansson, field conversion, row assembly, flush) into
 * the checking part sink of fuzz_csv.c, which this file is: see there for the
 * schema, the options and every property checked.
 */
#define FUZZ_NDJSON 1
#include "fuzz_csv.c"
