/*
 * colog_tz.c — time zones for queries: UTC, fixed offsets and IANA zones.
 *
 * Design:
 *  - "UTC", "Z", "" and NULL are UTC; "+09:00", "-05:30", "+0900" and "+09" are
 *    fixed offsets (at most 23:59 either way, as in RFC 3339).
 *  - Any other spec is an IANA name. It must be a relative path of components
 *    [A-Za-z0-9_+-.] (no "..", no empty component, no leading '/') naming a
 *    regular file under /usr/share/zoneinfo that starts with the "TZif" magic,
 *    so "zone.tab" or "Nowhere/Land" are rejected instead of silently becoming
 *    UTC. The file is never parsed here: offsets come from the C library, with
 *    TZ=":/usr/share/zoneinfo/NAME" + tzset() + localtime_r() (tm_gmtoff). The
 *    absolute path makes the file checked and the file read the same one,
 *    whatever TZDIR says.
 *  - localtime_r is slow and TZ is process-global, so each zone caches offsets
 *    in a table of UTC days, each holding the offset at the 97 boundaries of its
 *    96 fifteen-minute slots and, for a slot whose two ends differ, the second at
 *    which the new offset starts (found by binary search). Misses fill 8 days at
 *    a time under one TZ switch (a scan of time-sorted blocks walks forward).
 *    Every lookup leaves behind a "fast interval": the whole day if its offset is
 *    constant, else the part of the slot on one side of the transition. Time-
 *    ordered lookups are thus two compares in the common case.
 *  - Tzdata never has two transitions within 15 minutes; if it did, the cached
 *    answer for that slot would be wrong for part of it (documented limit).
 *
 * Thread safety: a colog_tz_t is NOT thread-safe (lookups update its cache);
 * each thread opens its own. Different zones may be used from different
 * threads: the TZ switch is serialised by a process-wide mutex and TZ is
 * restored before the mutex is released. Code outside colog that reads TZ or
 * calls localtime() while another thread fills a colog cache may briefly see
 * colog's zone; programs that mind should fill caches (query) on one thread.
 *
 * Invariants:
 *  1. kind == TZ_UTC or TZ_FIXED: fixed is the offset, and the fast interval is
 *     [INT64_MIN, INT64_MAX) with fast_off == fixed. kind == TZ_ZONE: env is
 *     ":" + the absolute path of a file that existed and began with "TZif".
 *  2. fast_lo <= t < fast_hi implies the offset at t is fast_off. Empty:
 *     fast_lo = INT64_MAX, fast_hi = INT64_MIN.
 *  3. A cached day d has off[i] = offset at UTC second d*86400 + i*900 for
 *     i = 0..96 and, for a slot with off[i] != off[i+1], cut[i] = the first
 *     second into the slot (1..900) where off[i+1] applies. uniform means all
 *     97 offsets are equal.
 *  4. tab holds n cached days in cap buckets (a power of two, n <= cap / 2),
 *     linear probing by day & (cap - 1); a NULL bucket is empty.
 *  5. The process TZ is changed only under tz_env_lock and is restored before
 *     the lock is released.
 */
#include "colog_query.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define ZONE_NAME_MAX 255
#define DAY_S 86400
#define SLOT_S 900
#define SLOTS (DAY_S / SLOT_S)
#define US 1000000LL
#define DAY_US (DAY_S * US)
#define SLOT_US (SLOT_S * US)
#define FILL_DAYS 8
#define MAX_CACHED_DAYS 65536
/* Lookups clamp t to +-2^62 µs (about 146,000 years) so day arithmetic never
 * overflows. */
#define T_CLAMP ((int64_t)1 << 62)

enum tz_kind {
    TZ_UTC,
    TZ_FIXED,
    TZ_ZONE,
};

typedef struct tzday {
    int64_t day;
    bool uniform;
    int32_t off[SLOTS + 1];
    uint16_t cut[SLOTS];
} tzday_t;

struct colog_tz {
    enum tz_kind kind;
    int32_t fixed;
    int64_t fast_lo, fast_hi;
    int32_t fast_off;
    tzday_t **tab;
    size_t cap, n;
    char env[]; /* TZ_ZONE: ":/usr/share/zoneinfo/NAME" */
};

static pthread_mutex_t tz_env_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

/* ---------------------------------------------------------------- open */

/* "+09:00", "-05:30", "+0900", "+09". */
static bool parse_fixed(const char *s, int32_t *out)
{
    size_t n = strlen(s);
    int sign = s[0] == '-' ? -1 : 1;
    unsigned hh, mm = 0;
    if (n < 3 || (s[0] != '+' && s[0] != '-'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] >= '0' && s[i] <= '9') && !(i == 3 && s[i] == ':'))
            return false;
    hh = (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
    if (n == 6 && s[3] == ':')
        mm = (unsigned)(s[4] - '0') * 10 + (unsigned)(s[5] - '0');
    else if (n == 5 && s[3] != ':')
        mm = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    else if (n != 3)
        return false;
    if (hh > 23 || mm > 59)
        return false;
    *out = sign * (int32_t)(hh * 3600 + mm * 60);
    return true;
}

static bool valid_zone_name(const char *s)
{
    size_t n = strlen(s), comp = 0;
    if (n == 0 || n > ZONE_NAME_MAX || s[0] == '/' || strstr(s, "..") != NULL)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '/' || c == 0) {
            /* no empty component and no "." component */
            if (comp == 0 || (comp == 1 && s[i - 1] == '.'))
                return false;
            comp = 0;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.'))
            return false;
        comp++;
    }
    return true;
}

/* A regular file that starts with the TZif magic. */
static bool is_tzif(const char *path)
{
    struct stat st;
    char magic[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

static int unknown_zone(const char *spec)
{
    return colog_seterr(COLOG_EINVAL, "unknown time zone '%.200s'", spec);
}

int colog_tz_open(const char *spec, colog_tz_t **out)
{
    colog_tz_t *tz;
    int32_t fixed = 0;
    enum tz_kind kind = TZ_UTC;
    char path[sizeof ZONEINFO_DIR + ZONE_NAME_MAX + 2];

    if (out == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_tz_open: out is NULL");
    if (spec == NULL || spec[0] == 0 || strcmp(spec, "UTC") == 0 || strcmp(spec, "Z") == 0) {
        kind = TZ_UTC;
    } else if (spec[0] == '+' || spec[0] == '-') {
        if (!parse_fixed(spec, &fixed))
            return unknown_zone(spec);
        kind = TZ_FIXED;
    } else {
        if (!valid_zone_name(spec))
            return unknown_zone(spec);
        snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, spec);
        if (!is_tzif(path))
            return unknown_zone(spec);
        kind = TZ_ZONE;
    }

    size_t envlen = kind == TZ_ZONE ? strlen(path) + 2 : 1;
    tz = calloc(1, sizeof *tz + envlen);
    if (tz == NULL)
        return colog_seterr(COLOG_ENOMEM, "time zone: out of memory");
    tz->kind = kind;
    tz->fixed = fixed;
    if (kind == TZ_ZONE) {
        tz->env[0] = ':';
        memcpy(tz->env + 1, path, envlen - 1);
        tz->fast_lo = INT64_MAX;
        tz->fast_hi = INT64_MIN;
    } else {
        tz->fast_lo = INT64_MIN;
        tz->fast_hi = INT64_MAX;
        tz->fast_off = fixed;
    }
    *out = tz;
    return 0;
}

int colog_tz_dup(const colog_tz_t *tz, colog_tz_t **out)
{
    if (tz == NULL || out == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_tz_dup: NULL argument");
    size_t envlen = tz->kind == TZ_ZONE ? strlen(tz->env) + 1 : 1;
    colog_tz_t *d = calloc(1, sizeof *d + envlen);
    if (d == NULL)
        return colog_seterr(COLOG_ENOMEM, "time zone: out of memory");
    d->kind = tz->kind;
    d->fixed = tz->fixed;
    memcpy(d->env, tz->env, envlen);
    if (d->kind == TZ_ZONE) { /* an empty cache of its own */
        d->fast_lo = INT64_MAX;
        d->fast_hi = INT64_MIN;
    } else {
        d->fast_lo = INT64_MIN;
        d->fast_hi = INT64_MAX;
        d->fast_off = d->fixed;
    }
    *out = d;
    return 0;
}

static void cache_clear(colog_tz_t *tz)
{
    for (size_t i = 0; i < tz->cap; i++) {
        free(tz->tab[i]);
        tz->tab[i] = NULL;
    }
    tz->n = 0;
    tz->fast_lo = INT64_MAX;
    tz->fast_hi = INT64_MIN;
}

void colog_tz_free(colog_tz_t *tz)
{
    if (tz == NULL)
        return;
    cache_clear(tz);
    free(tz->tab);
    free(tz);
}

/* ---------------------------------------------------------------- TZ switch */

typedef struct saved_tz {
    char *old; /* previous TZ value (malloc'ed), NULL if it was unset */
    bool same; /* TZ already was our value: nothing to restore */
} saved_tz_t;

/* Under tz_env_lock: make env the process zone. 0 or COLOG_ENOMEM. */
static int tz_enter(const char *env, saved_tz_t *sv)
{
    const char *cur = getenv("TZ");
    sv->old = NULL;
    sv->same = cur != NULL && strcmp(cur, env) == 0;
    if (sv->same)
        return 0;
    if (cur != NULL && (sv->old = strdup(cur)) == NULL)
        return COLOG_ENOMEM;
    if (setenv("TZ", env, 1) != 0) {
        free(sv->old);
        return COLOG_ENOMEM;
    }
    tzset();
    return 0;
}

static void tz_leave(saved_tz_t *sv)
{
    if (sv->same)
        return;
    if (sv->old != NULL)
        setenv("TZ", sv->old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(sv->old);
}

/* Offset at UTC second s in the current process zone. */
static int32_t local_off(int64_t s)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL)
        return 0;
    return (int32_t)tm.tm_gmtoff;
}

/* ---------------------------------------------------------------- cache */

static tzday_t *cache_find(const colog_tz_t *tz, int64_t day)
{
    if (tz->cap == 0)
        return NULL;
    for (size_t i = (size_t)day & (tz->cap - 1);; i = (i + 1) & (tz->cap - 1)) {
        tzday_t *d = tz->tab[i];
        if (d == NULL)
            return NULL;
        if (d->day == day)
            return d;
    }
}

static void cache_put(colog_tz_t *tz, tzday_t *d)
{
    size_t i = (size_t)d->day & (tz->cap - 1);
    while (tz->tab[i] != NULL)
        i = (i + 1) & (tz->cap - 1);
    tz->tab[i] = d;
    tz->n++;
}

/* Room for FILL_DAYS more days (invariant 4). False when out of memory. */
static bool cache_reserve(colog_tz_t *tz)
{
    if (tz->n + FILL_DAYS > MAX_CACHED_DAYS)
        cache_clear(tz);
    if ((tz->n + FILL_DAYS) * 2 <= tz->cap)
        return true;
    size_t ncap = tz->cap ? tz->cap * 2 : 64;
    while ((tz->n + FILL_DAYS) * 2 > ncap)
        ncap *= 2;
    tzday_t **ntab = calloc(ncap, sizeof *ntab);
    if (ntab == NULL)
        return false;
    tzday_t **old = tz->tab;
    size_t ocap = tz->cap;
    tz->tab = ntab;
    tz->cap = ncap;
    tz->n = 0;
    for (size_t i = 0; i < ocap; i++)
        if (old[i] != NULL)
            cache_put(tz, old[i]);
    free(old);
    return true;
}

/* Under the process zone: compute day d (invariant 3). */
static void day_compute(tzday_t *d)
{
    int64_t base = d->day * DAY_S;
    d->uniform = true;
    for (int i = 0; i <= SLOTS; i++) {
        d->off[i] = local_off(base + (int64_t)i * SLOT_S);
        if (d->off[i] != d->off[0])
            d->uniform = false;
    }
    for (int i = 0; i < SLOTS; i++) {
        d->cut[i] = SLOT_S;
        if (d->off[i] == d->off[i + 1])
            continue;
        /* offset(lo) == off[i], offset(hi) != off[i] */
        int64_t s0 = base + (int64_t)i * SLOT_S, lo = 0, hi = SLOT_S;
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (local_off(s0 + mid) == d->off[i])
                lo = mid;
            else
                hi = mid;
        }
        d->cut[i] = (uint16_t)hi;
    }
}

/* Fill day and the following days not yet cached (up to FILL_DAYS in all) under
 * one TZ switch. Returns the entry of day, or NULL when out of memory. */
static tzday_t *cache_fill(colog_tz_t *tz, int64_t day)
{
    saved_tz_t sv;
    if (!cache_reserve(tz))
        return NULL;
    pthread_mutex_lock(&tz_env_lock);
    if (tz_enter(tz->env, &sv) != 0) {
        pthread_mutex_unlock(&tz_env_lock);
        return NULL;
    }
    for (int64_t k = 0; k < FILL_DAYS; k++) {
        if (k > 0 && cache_find(tz, day + k) != NULL)
            break;
        tzday_t *d = malloc(sizeof *d);
        if (d == NULL)
            break;
        d->day = day + k;
        day_compute(d);
        cache_put(tz, d);
    }
    tz_leave(&sv);
    pthread_mutex_unlock(&tz_env_lock);
    return cache_find(tz, day);
}

/* Uncached answer (out of memory): one localtime_r under a TZ switch; UTC if even
 * that cannot be done. */
static int32_t direct_offset(const colog_tz_t *tz, int64_t t_us)
{
    saved_tz_t sv;
    int32_t off = 0;
    pthread_mutex_lock(&tz_env_lock);
    if (tz_enter(tz->env, &sv) == 0) {
        off = local_off(floor_div(t_us, US));
        tz_leave(&sv);
    }
    pthread_mutex_unlock(&tz_env_lock);
    return off;
}

static void set_fast(colog_tz_t *tz, int64_t lo, int64_t hi, int32_t off)
{
    tz->fast_lo = lo;
    tz->fast_hi = hi;
    tz->fast_off = off;
}

static int32_t slow_offset(colog_tz_t *tz, int64_t t_us)
{
    if (t_us < -T_CLAMP)
        t_us = -T_CLAMP;
    else if (t_us > T_CLAMP)
        t_us = T_CLAMP;
    int64_t day = floor_div(t_us, DAY_US);
    tzday_t *d = cache_find(tz, day);
    if (d == NULL && (d = cache_fill(tz, day)) == NULL)
        return direct_offset(tz, t_us);
    int64_t day_us = day * DAY_US;
    if (d->uniform) {
        set_fast(tz, day_us, day_us + DAY_US, d->off[0]);
        return d->off[0];
    }
    int i = (int)((t_us - day_us) / SLOT_US);
    int64_t slot_us = day_us + i * SLOT_US, cut_us = slot_us + d->cut[i] * US;
    if (d->off[i] == d->off[i + 1])
        set_fast(tz, slot_us, slot_us + SLOT_US, d->off[i]);
    else if (t_us < cut_us)
        set_fast(tz, slot_us, cut_us, d->off[i]);
    else
        set_fast(tz, cut_us, slot_us + SLOT_US, d->off[i + 1]);
    return tz->fast_off;
}

int32_t colog_tz_offset(colog_tz_t *tz, int64_t t_us)
{
    if (tz == NULL)
        return 0;
    if (t_us >= tz->fast_lo && t_us < tz->fast_hi)
        return tz->fast_off;
    if (tz->kind != TZ_ZONE)
        return tz->fixed; /* only t_us == INT64_MAX gets here */
    return slow_offset(tz, t_us);
}

/* ---------------------------------------------------------------- local -> UTC */

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian; m in 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/*
 * Wall-clock fields to UTC µs. Fields should be in range (d may run past the
 * month's end: it counts on from the month's first day). Around a transition
 * the candidate offsets are those a day before and a day after:
 *  - overlap (both candidates valid): the earlier instant, i.e. the offset that
 *    was in effect before the transition (01:30 on the NY fall-back day is EDT);
 *  - gap (neither valid): the offset before the transition, so the result is
 *    the instant the wall clock would show if it had not jumped (02:30 on the NY
 *    spring-forward day is 07:30Z = 03:30 EDT).
 */
int64_t colog_tz_local_to_utc(colog_tz_t *tz, int y, int mo, int d, int h, int mi, int s)
{
    int64_t m0 = (int64_t)mo - 1;
    int64_t yy = (int64_t)y + floor_div(m0, 12);
    m0 -= floor_div(m0, 12) * 12;
    int64_t days = days_from_civil(yy, (unsigned)m0 + 1, 1) + (int64_t)d - 1;
    int64_t local = days * DAY_S + (int64_t)h * 3600 + (int64_t)mi * 60 + s;
    const int64_t lim = T_CLAMP / US - 2 * DAY_S;
    if (local > lim)
        local = lim;
    else if (local < -lim)
        local = -lim;
    if (tz == NULL || tz->kind != TZ_ZONE)
        return (local - (tz ? tz->fixed : 0)) * US;
    int32_t oa = colog_tz_offset(tz, (local - DAY_S) * US);
    int32_t ob = colog_tz_offset(tz, (local + DAY_S) * US);
    int64_t ua = local - oa, ub = local - ob;
    bool va = colog_tz_offset(tz, ua * US) == oa;
    bool vb = colog_tz_offset(tz, ub * US) == ob;
    if (va && vb)
        return (ua < ub ? ua : ub) * US;
    if (vb)
        return ub * US;
    return ua * US;
}
