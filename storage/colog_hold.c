/*
 * colog_hold.c — legal holds: day ranges that retention must not remove.
 *
 * Design. A hold lives in the ledger, nowhere else: "hold-add id=N from=D to=D
 * reason=TEXT" creates it, "hold-remove id=N reason=TEXT" ends it, and the
 * active holds are whatever a replay of the ledger says (colog__ledger_replay).
 * So a hold has the same tamper evidence as every part commit, and there is no
 * second copy to drift out of step. STORE/holds is a readable copy for people,
 * rewritten durably after each change; nothing reads it back.
 *
 * Invariants:
 *  1. Hold ids are 1, 2, ... in ledger order and never reused: a new hold gets
 *     the replayed next_hold_id (1 + the largest id ever added), computed and
 *     appended under the store's writer lock and hold_mu (so two threads of one
 *     writer cannot take the same id).
 *  2. A hold entry is appended only when valid: from <= to, both days within
 *     the years 0000..9999, a reason of 1..511 bytes; a remove names an active
 *     hold.
 *  3. The ledger entry comes first; STORE/holds follows it. A crash between
 *     them leaves the copy stale until the next change, never the ledger.
 */
#include "colog_store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HOLDS_FILE "holds"
#define REASON_MAX 511

static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;

/* Load and replay the store's ledger. Problems in it are verify's business;
 * here they are ignored and the replay's view of the holds is used. */
static int holds_state(colog_store_t *st, colog_lstate_t *s)
{
    char disp[PATH_MAX + 16];
    snprintf(disp, sizeof disp, "%s/%s", st->path, COLOG_LEDGER_FILE);
    colog_lview_t *v;
    int rc = colog__ledger_load(st->dirfd, disp, st->keyed ? st->key : NULL, NULL, NULL, &v, NULL);
    if (rc < 0)
        return rc;
    rc = colog__ledger_replay(v, NULL, NULL, s, NULL);
    colog__lview_free(v);
    return rc;
}

static int check_reason(const char *reason)
{
    if (!reason)
        return colog_seterr(COLOG_EINVAL, "hold: no reason given");
    size_t n = strnlen(reason, REASON_MAX + 1);
    if (n == 0)
        return colog_seterr(COLOG_EINVAL, "hold: the reason is empty");
    if (n > REASON_MAX)
        return colog_seterr(COLOG_EINVAL, "hold: reason longer than %d bytes", REASON_MAX);
    return 0;
}

static int check_writable(const colog_store_t *st)
{
    if (!st->writable || !st->ledger)
        return colog_seterr(COLOG_EINVAL, "%s: store not open for writing", st->path);
    return 0;
}

/* Append the reason to buf for STORE/holds: bytes below 0x20, 0x7f and '%' as
 * %XX, everything else (spaces, UTF-8) as it is. */
static size_t put_reason(char *buf, const char *reason)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)reason; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '%') {
            buf[o++] = '%';
            buf[o++] = digits[*p >> 4];
            buf[o++] = digits[*p & 15];
        } else {
            buf[o++] = (char)*p;
        }
    }
    return o;
}

/* Rewrite STORE/holds from the active holds. */
static int holds_write(colog_store_t *st, const colog_hold_t *h, size_t n)
{
    static const char head[] = "# colog legal holds: a copy of the ledger (which is the "
                               "authority). ID FROM TO CREATED REASON\n";
    /* a line: id 20, two days 11 each, a time 40, the reason 3 * 511, spaces, newline */
    size_t cap = sizeof head + n * (20 + 2 * 11 + 40 + 3 * REASON_MAX + 8);
    char *buf = malloc(cap);
    if (!buf)
        return colog_seterr(COLOG_ENOMEM, "%s/%s: out of memory", st->path, HOLDS_FILE);
    size_t o = sizeof head - 1;
    memcpy(buf, head, o);
    for (size_t i = 0; i < n; i++) {
        char from[16], to[16], created[48];
        colog_day_format(h[i].from, from, sizeof from);
        colog_day_format(h[i].to, to, sizeof to);
        colog_time_format(h[i].created, 0, created, sizeof created);
        o += (size_t)snprintf(buf + o, cap - o, "%llu %s %s %s ", (unsigned long long)h[i].id, from,
                              to, created);
        o += put_reason(buf + o, h[i].reason);
        buf[o++] = '\n';
    }
    int rc = colog__write_file_durable(st->dirfd, HOLDS_FILE, buf, o);
    free(buf);
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", colog_errmsg());
        colog_seterr(rc, "%s/%s: %s", st->path, HOLDS_FILE, why);
    }
    return rc;
}

/* Rewrite the readable copy after a ledger entry; a failure says the ledger
 * already has the change. */
static int holds_copy(colog_store_t *st, const colog_lstate_t *s, uint64_t id, const char *verb)
{
    int rc = holds_write(st, s->holds, s->nholds);
    if (rc < 0) {
        char why[768];
        snprintf(why, sizeof why, "%s", colog_errmsg());
        colog_seterr(rc, "hold %llu %s the ledger, but %s", (unsigned long long)id, verb, why);
    }
    return rc;
}

int colog_hold_add(colog_store_t *st, int32_t from, int32_t to, const char *reason,
                   uint64_t *id_out)
{
    if (!st)
        return colog_seterr(COLOG_EINVAL, "hold add: no store");
    int rc = check_writable(st);
    if (rc < 0 || (rc = check_reason(reason)) < 0)
        return rc;
    if (from < COLOG__DAY_MIN || from > COLOG__DAY_MAX || to < COLOG__DAY_MIN ||
        to > COLOG__DAY_MAX)
        return colog_seterr(COLOG_ERANGE, "hold: days outside the years 0000-9999");
    char dfrom[16], dto[16];
    colog_day_format(from, dfrom, sizeof dfrom);
    colog_day_format(to, dto, sizeof dto);
    if (from > to)
        return colog_seterr(COLOG_EINVAL, "hold: from %s is after to %s", dfrom, dto);

    char enc[3 * REASON_MAX + 1];
    rc = colog__lenc(reason, enc, sizeof enc);
    if (rc < 0)
        return rc;
    char fields[sizeof enc + 96];
    pthread_mutex_lock(&hold_mu);
    colog_lstate_t s;
    rc = holds_state(st, &s);
    if (rc < 0)
        goto out_unlock;
    uint64_t id = s.next_hold_id;
    if (id == UINT64_MAX) {
        rc = colog_seterr(COLOG_ELIMIT, "hold: ids exhausted");
        goto out_clear;
    }
    snprintf(fields, sizeof fields, "id=%llu from=%s to=%s reason=%s", (unsigned long long)id,
             dfrom, dto, enc);
    int64_t now = colog__now_us();
    rc = colog__ledger_append(st->ledger, "hold-add", fields, now, NULL);
    if (rc < 0)
        goto out_clear;
    if (id_out)
        *id_out = id; /* the hold exists from here on, whatever the copy does */

    colog_hold_t *h = realloc(s.holds, (s.nholds + 1) * sizeof *h);
    if (!h) {
        rc = colog_seterr(COLOG_ENOMEM, "hold %llu added; %s/%s: out of memory",
                          (unsigned long long)id, st->path, HOLDS_FILE);
        goto out_clear;
    }
    s.holds = h;
    memset(&h[s.nholds], 0, sizeof *h);
    h[s.nholds].id = id;
    h[s.nholds].from = from;
    h[s.nholds].to = to;
    h[s.nholds].created = now;
    memcpy(h[s.nholds].reason, reason, strlen(reason) + 1);
    s.nholds++;
    rc = holds_copy(st, &s, id, "added to");
out_clear:
    colog__lstate_clear(&s);
out_unlock:
    pthread_mutex_unlock(&hold_mu);
    return rc;
}

int colog_hold_remove(colog_store_t *st, uint64_t id, const char *reason)
{
    if (!st)
        return colog_seterr(COLOG_EINVAL, "hold remove: no store");
    int rc = check_writable(st);
    if (rc < 0 || (rc = check_reason(reason)) < 0)
        return rc;
    char enc[3 * REASON_MAX + 1];
    rc = colog__lenc(reason, enc, sizeof enc);
    if (rc < 0)
        return rc;
    char fields[sizeof enc + 48];
    pthread_mutex_lock(&hold_mu);
    colog_lstate_t s;
    rc = holds_state(st, &s);
    if (rc < 0)
        goto out_unlock;
    size_t i = 0;
    while (i < s.nholds && s.holds[i].id != id)
        i++;
    if (i == s.nholds) {
        rc = colog_seterr(COLOG_ENOTFOUND,
                          id > 0 && id < s.next_hold_id ? "hold %llu: already removed"
                                                        : "hold %llu: no such hold",
                          (unsigned long long)id);
        goto out_clear;
    }
    snprintf(fields, sizeof fields, "id=%llu reason=%s", (unsigned long long)id, enc);
    rc = colog__ledger_append(st->ledger, "hold-remove", fields, 0, NULL);
    if (rc < 0)
        goto out_clear;
    memmove(&s.holds[i], &s.holds[i + 1], (s.nholds - i - 1) * sizeof *s.holds);
    s.nholds--;
    rc = holds_copy(st, &s, id, "removed in");
out_clear:
    colog__lstate_clear(&s);
out_unlock:
    pthread_mutex_unlock(&hold_mu);
    return rc;
}

int colog_hold_list(colog_store_t *st, colog_hold_t **holds, size_t *n)
{
    if (!st || !holds || !n)
        return colog_seterr(COLOG_EINVAL, "hold list: NULL argument");
    colog_lstate_t s;
    int rc = holds_state(st, &s);
    if (rc < 0)
        return rc;
    if (!s.holds) {
        /* a real allocation even when there is none: the caller frees it */
        s.holds = malloc(sizeof *s.holds);
        if (!s.holds) {
            colog__lstate_clear(&s);
            return colog_seterr(COLOG_ENOMEM, "hold list: out of memory");
        }
    }
    *holds = s.holds;
    *n = s.nholds;
    s.holds = NULL;
    colog__lstate_clear(&s);
    return 0;
}

int colog_hold_covers(colog_store_t *st, int32_t day, bool *held)
{
    if (!st || !held)
        return colog_seterr(COLOG_EINVAL, "hold covers: NULL argument");
    colog_lstate_t s;
    int rc = holds_state(st, &s);
    if (rc < 0)
        return rc;
    bool h = false;
    for (size_t i = 0; i < s.nholds && !h; i++)
        h = s.holds[i].from <= day && day <= s.holds[i].to;
    colog__lstate_clear(&s);
    *held = h;
    return 0;
}
