/*
 * test_tz.c — Criterion suite for query/colog_tz.c.
 *
 * Truths are computed by hand (see the comments) for Asia/Tokyo, America/New_York
 * and Europe/Paris in 2026, and the cache is checked against plain localtime_r
 * over random times in zones with odd offsets (Kathmandu +05:45, Lord Howe's
 * 30-minute DST, LMT offsets with seconds).
 */
#include "colog_query.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S(x) ((int64_t)(x)*1000000LL) /* seconds -> µs */

/* Hand-checked instants (UTC, seconds since the epoch). */
#define T_2026_01_15_12Z 1768478400 /* January: no DST in the north */
#define T_2026_07_15_12Z 1784116800 /* July: DST in the north */
#define T_2026_03_08_07Z 1772953200 /* NY: 02:00 EST -> 03:00 EDT */
#define T_2026_11_01_06Z 1793512800 /* NY: 02:00 EDT -> 01:00 EST */
#define T_2026_03_29_01Z 1774746000 /* Paris: 02:00 CET -> 03:00 CEST */
#define T_2026_10_25_01Z 1792890000 /* Paris: 03:00 CEST -> 02:00 CET */
#define T_2026_03_01_00Z 1772323200
#define T_2026_02_28_15Z 1772290800 /* 2026-03-01 00:00 in Tokyo */

static colog_tz_t *open_ok(const char *spec)
{
    colog_tz_t *tz = NULL;
    int rc = colog_tz_open(spec, &tz);
    cr_assert_eq(rc, 0, "colog_tz_open(%s) = %d (%s)", spec ? spec : "NULL", rc, colog_errmsg());
    cr_assert_not_null(tz);
    return tz;
}

Test(tz, utc_spellings)
{
    const char *specs[] = {NULL, "", "UTC", "Z"};
    for (size_t i = 0; i < 4; i++) {
        colog_tz_t *tz = open_ok(specs[i]);
        cr_expect_eq(colog_tz_offset(tz, 0), 0);
        cr_expect_eq(colog_tz_offset(tz, S(T_2026_07_15_12Z)), 0);
        cr_expect_eq(colog_tz_offset(tz, INT64_MIN), 0);
        cr_expect_eq(colog_tz_offset(tz, INT64_MAX), 0);
        cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 1, 0, 0, 0), S(T_2026_03_01_00Z));
        colog_tz_free(tz);
    }
    /* a NULL zone is UTC too */
    cr_expect_eq(colog_tz_offset(NULL, 12345), 0);
    cr_expect_eq(colog_tz_local_to_utc(NULL, 2026, 3, 1, 0, 0, 0), S(T_2026_03_01_00Z));
    colog_tz_free(NULL);
}

Test(tz, fixed_offsets)
{
    static const struct {
        const char *spec;
        int32_t off;
    } cases[] = {{"+09:00", 32400}, {"-05:30", -19800}, {"+0900", 32400},  {"+05:30", 19800},
                 {"-0000", 0},      {"+09", 32400},     {"-23:59", -86340}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        colog_tz_t *tz = open_ok(cases[i].spec);
        cr_expect_eq(colog_tz_offset(tz, S(T_2026_01_15_12Z)), cases[i].off, "%s", cases[i].spec);
        cr_expect_eq(colog_tz_offset(tz, S(T_2026_07_15_12Z)), cases[i].off, "%s", cases[i].spec);
        cr_expect_eq(colog_tz_offset(tz, INT64_MAX), cases[i].off, "%s", cases[i].spec);
        /* midnight local = midnight UTC minus the offset */
        cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 1, 0, 0, 0),
                     S(T_2026_03_01_00Z - cases[i].off), "%s", cases[i].spec);
        colog_tz_free(tz);
    }
}

Test(tz, bad_specs)
{
    const char *bad[] = {"+24:00",      "+5:30",          "+09:60",       "+09:0",
                         "+090",        "09:00",          "Nowhere/Land", "../etc/passwd",
                         "Asia/../UTC", "/etc/localtime", "Asia//Tokyo",  "Asia/Tokyo/",
                         "zone.tab",    "Asia",           "asia/tokyo",   "Asia/Tokyo x",
                         "./UTC",       "Asia/./Tokyo"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        colog_tz_t *tz = (colog_tz_t *)0x1;
        int rc = colog_tz_open(bad[i], &tz);
        cr_expect_eq(rc, COLOG_EINVAL, "%s: rc %d", bad[i], rc);
        cr_expect_eq(tz, (colog_tz_t *)0x1, "%s: out written on failure", bad[i]);
        char want[128];
        snprintf(want, sizeof want, "unknown time zone '%s'", bad[i]);
        cr_expect_str_eq(colog_errmsg(), want);
    }
    cr_expect_eq(colog_tz_open("UTC", NULL), COLOG_EINVAL);
}

Test(tz, tokyo)
{
    colog_tz_t *tz = open_ok("Asia/Tokyo");
    /* no DST since 1951 */
    for (int64_t t = S(946684800); t < S(1893456000); t += S(86400 * 7 + 3607))
        cr_assert_eq(colog_tz_offset(tz, t), 32400);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_01_15_12Z)), 32400);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_07_15_12Z)), 32400);
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 1, 0, 0, 0), S(T_2026_02_28_15Z));
    /* month and day may run on: 2026-02-29 is 2026-03-01 */
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 2, 29, 0, 0, 0), S(T_2026_02_28_15Z));
    colog_tz_free(tz);
}

Test(tz, new_york)
{
    colog_tz_t *tz = open_ok("America/New_York");
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_01_15_12Z)), -18000);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_07_15_12Z)), -14400);
    /* spring forward at 2026-03-08 07:00:00Z, to the microsecond */
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_03_08_07Z) - 1), -18000);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_03_08_07Z)), -14400);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_03_08_07Z) - 1), -18000); /* fast path back */
    /* fall back at 2026-11-01 06:00:00Z */
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_11_01_06Z) - 1), -14400);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_11_01_06Z)), -18000);

    /* local -> UTC: plain, gap and overlap */
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 1, 15, 7, 0, 0), S(T_2026_01_15_12Z));
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 7, 15, 8, 0, 0), S(T_2026_07_15_12Z));
    /* 01:59:59 EST is just before the jump; 03:00 EDT just after */
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 8, 1, 59, 59), S(T_2026_03_08_07Z - 1));
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 8, 3, 0, 0), S(T_2026_03_08_07Z));
    /* gap: 02:30 does not exist; with the earlier offset (EST) it is 07:30Z */
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 8, 2, 30, 0), S(T_2026_03_08_07Z + 1800));
    /* overlap: 01:30 happens twice (05:30Z EDT, 06:30Z EST); the earlier one */
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 11, 1, 1, 30, 0), S(T_2026_11_01_06Z - 1800));
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 11, 1, 2, 0, 0), S(T_2026_11_01_06Z + 3600));
    colog_tz_free(tz);
}

Test(tz, paris)
{
    colog_tz_t *tz = open_ok("Europe/Paris");
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_01_15_12Z)), 3600);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_07_15_12Z)), 7200);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_03_29_01Z) - 1), 3600);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_03_29_01Z)), 7200);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_10_25_01Z) - 1), 7200);
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_10_25_01Z)), 3600);
    /* gap: 02:30 on 2026-03-29 with the earlier offset (+01:00) is 01:30Z */
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 29, 2, 30, 0), S(T_2026_03_29_01Z + 1800));
    /* overlap: 02:30 on 2026-10-25 is first 00:30Z (CEST) */
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 10, 25, 2, 30, 0), S(T_2026_10_25_01Z - 1800));
    cr_expect_eq(colog_tz_local_to_utc(tz, 2026, 3, 1, 0, 0, 0), S(T_2026_03_01_00Z - 3600));
    colog_tz_free(tz);
}

/* The truth from the C library, TZ switched by the test itself. */
static int32_t truth(const char *zone, int64_t t_us)
{
    char env[300];
    snprintf(env, sizeof env, ":/usr/share/zoneinfo/%s", zone);
    setenv("TZ", env, 1);
    tzset();
    int64_t s = t_us / 1000000 - (t_us % 1000000 < 0);
    time_t tt = (time_t)s;
    struct tm tm;
    localtime_r(&tt, &tm);
    return (int32_t)tm.tm_gmtoff;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull; /* fixed seed */

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(tz, cache_matches_localtime)
{
    const char *zones[] = {"America/New_York",    "Europe/Paris",    "Asia/Kathmandu",
                           "Australia/Lord_Howe", "Africa/Monrovia", "Europe/Amsterdam",
                           "America/St_Johns",    "Asia/Tokyo"};
    const int64_t lo = S(-2208988800LL), span = S(2 * 2208988800LL); /* 1900 .. 2040 */
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        colog_tz_t *tz = open_ok(zones[z]);
        enum { N = 3000 };
        static int64_t ts[N];
        static int32_t got[N];
        for (int i = 0; i < N; i++)
            ts[i] = lo + (int64_t)(next_rand() % (uint64_t)span);
        for (int i = 0; i < N; i++)
            got[i] = colog_tz_offset(tz, ts[i]);
        for (int i = 0; i < N; i++)
            cr_assert_eq(got[i], truth(zones[z], ts[i]), "%s at %lld", zones[z], (long long)ts[i]);
        unsetenv("TZ");
        colog_tz_free(tz);
    }
}

/* Every second around transitions with odd (LMT) offsets, where the cut falls
 * inside a 15-minute slot: Amsterdam 1930-05-15 01:40:28Z (+00:19:32 -> +01:19:32) and
 * Monrovia 1972-01-07 00:44:30Z (-00:44:30 -> 00:00). */
Test(tz, transitions_inside_a_slot)
{
    static const struct {
        const char *zone;
        int64_t around;
    } cases[] = {{"Europe/Amsterdam", -1250720372LL}, {"Africa/Monrovia", 63593070LL}};
    for (size_t c = 0; c < 2; c++) {
        colog_tz_t *tz = open_ok(cases[c].zone);
        int32_t want[4000];
        for (int i = 0; i < 4000; i++)
            want[i] = truth(cases[c].zone, S(cases[c].around - 2000 + i));
        unsetenv("TZ");
        bool changed = false;
        for (int i = 0; i < 4000; i++) {
            cr_assert_eq(colog_tz_offset(tz, S(cases[c].around - 2000 + i)), want[i], "%s at %lld",
                         cases[c].zone, (long long)(cases[c].around - 2000 + i));
            changed |= want[i] != want[0];
        }
        cr_expect(changed, "%s: no transition near %lld", cases[c].zone,
                  (long long)cases[c].around);
        /* and backwards (the fast interval must not leak across the cut) */
        for (int i = 3999; i >= 0; i--)
            cr_assert_eq(colog_tz_offset(tz, S(cases[c].around - 2000 + i)), want[i]);
        colog_tz_free(tz);
    }
}

Test(tz, restores_process_tz)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    colog_tz_t *tz = open_ok("Asia/Tokyo");
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_01_15_12Z)), 32400);
    cr_expect_str_eq(getenv("TZ"), "Europe/Paris");
    time_t t = T_2026_01_15_12Z;
    struct tm tm;
    localtime_r(&t, &tm);
    cr_expect_eq(tm.tm_gmtoff, 3600);
    colog_tz_free(tz);

    unsetenv("TZ");
    tzset();
    tz = open_ok("America/New_York");
    cr_expect_eq(colog_tz_offset(tz, S(T_2026_07_15_12Z)), -14400);
    cr_expect_null(getenv("TZ"));
    colog_tz_free(tz);
}

Test(tz, extremes_do_not_crash)
{
    colog_tz_t *tz = open_ok("Europe/Paris");
    int64_t ts[] = {INT64_MIN, INT64_MIN + 1,          -((int64_t)1 << 62) - 1,
                    0,         ((int64_t)1 << 62) + 1, INT64_MAX - 1,
                    INT64_MAX};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        int32_t off = colog_tz_offset(tz, ts[i]);
        cr_expect(off >= -86400 && off <= 86400);
    }
    (void)colog_tz_local_to_utc(tz, INT32_MAX, 12, 31, 23, 59, 59);
    (void)colog_tz_local_to_utc(tz, INT32_MIN, 1, 1, 0, 0, 0);
    colog_tz_free(tz);
}

/* A year of time-ordered lookups, one a second: the fast path carries it. */
Test(tz, sorted_scan_of_a_year)
{
    colog_tz_t *tz = open_ok("America/New_York");
    int64_t start = S(1767225600); /* 2026-01-01T00:00:00Z */
    uint64_t dst = 0;
    for (int64_t t = start; t < start + S(365LL * 86400); t += S(1))
        dst += colog_tz_offset(tz, t) == -14400;
    /* EDT from 2026-03-08 07:00Z to 2026-11-01 06:00Z */
    cr_expect_eq(dst, (uint64_t)(T_2026_11_01_06Z - T_2026_03_08_07Z));
    colog_tz_free(tz);
}
