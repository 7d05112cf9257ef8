/*
 * fuzz_norm.c — libFuzzer target: the ten log-format normalizers (tools/norm_*.c).
 *
 * Input: byte 0 picks the format (0..9; 10 and above: every format in turn, as
 * auto-detection does) and the zone (UTC or Europe/Paris by its bit 7); the
 * rest is the message, copied into a buffer of exactly its length (no NUL
 * after it) so that any read past its end is an ASan report. Properties
 * (abort on violation): parse returns one of the four NORM_* results; a
 * record's fields are named, at most NORM_MAX_FIELDS, each value non-empty and
 * readable (every byte is touched); NORM_BAD says why; and
 * parsing is deterministic (twice, same result and same fields).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_norm: check failed: %s: ", #cond);                               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW_US 1772366400000000LL /* 2026-03-01T12:00:00Z */

static colog_tz_t *zones[2];
static norm_rec_t rec1, rec2;

static void check_rec(const norm_format_t *f, int rc, const norm_rec_t *r)
{
    CHECK(rc >= NORM_NOMATCH && rc <= NORM_BAD, "%s: result %d", f->name, rc);
    if (rc == NORM_BAD)
        CHECK(r->why[0] != 0, "%s: NORM_BAD without a reason", f->name);
    if (rc != NORM_RECORD)
        return;
    CHECK(r->n <= NORM_MAX_FIELDS, "%s: %u fields", f->name, r->n);
    for (unsigned i = 0; i < r->n; i++) {
        CHECK(r->name[i] != NULL && r->name[i][0] != 0, "%s: field %u unnamed", f->name, i);
        const char *v = r->val[i];
        size_t n = r->len[i];
        CHECK(v != NULL && n > 0 && n < (1u << 20), "%s: %s: empty or huge value", f->name,
              r->name[i]);
        /* Values point into the message, the record's buffer or static text:
         * touch every byte so that ASan reports one pointing anywhere else. */
        unsigned sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += (unsigned char)v[k];
        (void)sum;
    }
}

static void run(const norm_format_t *f, const norm_env_t *env, const char *msg, size_t len)
{
    norm_rec_clear(&rec1);
    norm_rec_clear(&rec2);
    int a = f->parse(msg, len, env, &rec1);
    check_rec(f, a, &rec1);
    int b = f->parse(msg, len, env, &rec2);
    CHECK(a == b, "%s: %d then %d", f->name, a, b);
    if (a != NORM_RECORD)
        return;
    CHECK(rec1.n == rec2.n, "%s: %u then %u fields", f->name, rec1.n, rec2.n);
    for (unsigned i = 0; i < rec1.n; i++)
        CHECK(strcmp(rec1.name[i], rec2.name[i]) == 0 && rec1.len[i] == rec2.len[i] &&
                  memcmp(rec1.val[i], rec2.val[i], rec1.len[i]) == 0,
              "%s: field %u differs between two runs", f->name, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (zones[0] == NULL &&
        (colog_tz_open("UTC", &zones[0]) != 0 || colog_tz_open("Europe/Paris", &zones[1]) != 0)) {
        fprintf(stderr, "fuzz_norm: cannot open the zones\n");
        abort();
    }
    norm_env_t env = {.tz = zones[data[0] >> 7], .now_us = NOW_US};
    unsigned pick = data[0] & 0x7f;
    size_t len = size - 1;
    char *msg = malloc(len ? len : 1); /* exactly the message: ASan sees over-reads */
    if (msg == NULL)
        return 0;
    memcpy(msg, data + 1, len);
    size_t nf = 0;
    while (norm_formats[nf])
        nf++;
    if (pick < nf) {
        run(norm_formats[pick], &env, msg, len);
    } else {
        for (size_t i = 0; i < nf; i++)
            run(norm_formats[i], &env, msg, len);
    }
    free(msg);
    return 0;
}
