/*
 * gen.c — colog-gen: deterministic synthetic firewall traffic for benchmarks and tests.
 *
 * Writes N firewall session events (CSV with a header row, or NDJSON) in the columns of the
 * default firewall schema (shared spec CLI.md):
 *   ts,device,src_ip,src_port,dst_ip,dst_port,proto,action,policy,src_zone,dst_zone,user,
 *   bytes_out,bytes_in,duration
 * for a company of a few thousand people. The same options and --seed give the same bytes.
 *
 * THE MODEL
 *  1. Time. The span is D days from --start (UTC midnight). Each minute gets a weight: a
 *     user-driven part (business hours 9-17 in the company's wall clock, --utc-offset, a lunch
 *     dip, evenings and nights low, Saturday/Sunday much lower), an inbound part (visitors
 *     of the DMZ web and mail servers: a milder day rhythm, 60% on weekends) and a flat part
 *     (internet scans, servers fetching updates). The N - A normal events (A = anomaly events) are
 *     shared out over the minutes by cumulative rounding and placed inside a minute on jittered
 *     slots, so the stream is in time order. Then ~0.5% of them are written "late": their ts
 *     lies 1 s .. 6 h before the stream position (some cross midnight into the previous day).
 *  2. Hosts. User u (0..U-1) has one workstation: the first 80% of users sit at HQ at
 *     10.1.(i/250).(i%250+1), the rest at the branch at 10.2.(i/250).(i%250+1) (i = index in
 *     the site), with IPv6 2001:db8:100:SSNN::HH. User names look like "jsmith0042" (number =
 *     u). Activity per user is log-normal. Workstations use sequential ephemeral source ports
 *     (Windows/macOS 49152-65535, Linux 32768-60999; the three infected hosts of A1 and A3 are
 *     legacy Windows XP boxes, 1025-5000). ~8% of workstation events carry no user;
 *     server and inbound events never do.
 *  3. Servers (DMZ, 10.250.0.0/16, 2001:db8:100:fa00::/64): resolvers 10.250.0.53/.54, mail
 *     relay 10.250.0.25, web 10.250.0.80/.81, file 10.250.0.20, RDP 10.250.0.30-39, ssh
 *     10.250.1.1-40, directory 10.250.0.2/.3.
 *  4. Destinations. Internet sites: Zipf (s = 1) over a pool of 100,000 public IPv4 addresses;
 *     2001:db8::/32 IPv6 pool (excluding the company's 2001:db8:100::/48) for ~2% of events.
 *     Ports by skewed weights (443, 80, 53, 445, 3389, 22, 8080, 25, ...), with a random tail.
 *  5. Actions. Outbound and internal traffic is allowed except blocked applications (deny,
 *     policy 90) and unauthorised server access (deny, policy 99); unsolicited inbound traffic
 *     is denied (policy 99) or silently dropped (policy 98). Bytes are log-normal (fitted
 *     roughly to the UCI "Internet Firewall Data" set: allowed sessions sent ~e^5.9 B, received
 *     ~e^6.6 B; denied/dropped 40-80 B out, 0 in, duration 0).
 *  6. Devices and zones. fw-hq-01: HQ workstations (trust) to untrust/dmz. fw-hq-02: the DMZ
 *     (untrust->dmz, dmz->untrust). fw-branch-01: branch workstations. Policies: 1 dns to
 *     resolvers, 2 internal services, 5 icmp, 10 web out, 11 other out, 20 inbound web,
 *     21 inbound smtp, 30 dmz out, 90 blocked app, 98 drop, 99 default deny.
 *
 * INJECTED ANOMALIES (fixed hosts; counts scale with N and exist for N >= 10,000; below that
 * they shrink in proportion). W = the worm/scan day = day index min(1, D-1) from --start.
 *  A1 mail worm:   10.1.4.44 -> tcp/25 to 400 + N/2000 (<= 20,000) distinct random public
 *                  IPs, day W 10:12-13:12 local, action allow, policy 11.
 *  A2 port scan:   198.51.100.66 (untrust, src_port 21480-21490) -> 10.250.0.80 (dmz), tcp,
 *                  ports 1..P in random
 *                  order, P = 1500 + N/1000 (<= 60,000), day W from 22:40 local at 2-40 ms
 *                  apart; deny (policy 99) except 80/443 (allow, policy 20).
 *  A3 IRC bots:    10.1.5.23 -> 198.51.100.23:6667/tcp; 10.2.0.66 -> 198.51.100.77:5555/tcp
 *                  (2/3) and 198.51.100.78:8080/tcp (1/3); 30 + N/4000 beacons per bot
 *                  (<= 250,000), evenly over the whole span day and night, allow.
 *  A4 long HTTP:   10.1.3.14 -> 203.0.113.200:443/tcp and 10.2.1.59 -> 198.51.100.150:80/tcp,
 *                  12 + N/200,000 (<= 5,000) sessions each, duration 3601..36,000 s, business
 *                  hours. (Normal web sessions exceed 3600 s only ~1 in 10^4 times.)
 *  A5 hidden NAT:  10.9.0.1 (fw-hq-01, trust): all traffic of the last max(10, U/40) users
 *                  (U >= 20; 75 users for U = 3000, ~2.5% of user traffic) comes from this
 *                  one address, src_port uniform 32768-65535, their user names kept (many
 *                  users behind one IP). It tops `where src_port >= 32768 | stats count() by
 *                  src_ip`; the busiest single workstation has ~0.5%.
 *  A6 3 a.m.:      10.1.7.77 -> 198.51.100.99:443/tcp, 60 + N/400 (<= 200,000) sessions
 *                  spread over every night of the span, 03:00-03:59 local, large bytes_out
 *                  (~3 MB each, so its user also tops `stats sum(bytes_out) by user`).
 * Plus the fixed host the spec's example queries use: 10.1.2.3 (user 502) is an ordinary
 * HQ workstation when U >= 503.
 *
 * Speed: xoshiro256** random numbers, alias tables for every discrete distribution, a normal
 * quantile table, hand-rolled number and address formatting into a 4 MiB buffer.
 *
 * Build: gcc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror bench/gen.c -o colog-gen -lm
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S 1000000LL
#define US_PER_MIN (60LL * US_PER_S)
#define US_PER_DAY (86400LL * US_PER_S)
#define EVENTS_PER_DAY 8600000.0
#define OUTBUF_SIZE (4u << 20)

/* ---------------------------------------------------------------- random numbers */

typedef struct rng {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna). */
static inline uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double rng_u01(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n < 2^32 (Lemire's multiply; the bias is below 2^-32). */
static inline uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

static inline bool rng_chance(rng_t *r, double p)
{
    return rng_u01(r) < p;
}

/* ---------------------------------------------------------------- distributions */

/* Walker/Vose alias table: O(1) sampling from n weights. */
typedef struct alias {
    uint32_t n;
    uint32_t *thresh; /* accept i when the low 32 random bits are below thresh[i] */
    uint32_t *other;
} alias_t;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "colog-gen: out of memory\n");
        exit(1);
    }
    return p;
}

static void alias_build(alias_t *a, const double *w, uint32_t n)
{
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += w[i];
    double *p = xmalloc(n * sizeof *p);
    uint32_t *small = xmalloc(n * sizeof *small), *large = xmalloc(n * sizeof *large);
    uint32_t ns = 0, nl = 0;
    a->n = n;
    a->thresh = xmalloc(n * sizeof *a->thresh);
    a->other = xmalloc(n * sizeof *a->other);
    for (uint32_t i = 0; i < n; i++) {
        p[i] = w[i] * n / sum;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        a->thresh[s] = (uint32_t)(p[s] * 4294967295.0);
        a->other[s] = l;
        p[l] -= 1.0 - p[s];
        if (p[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl) {
        uint32_t l = large[--nl];
        a->thresh[l] = UINT32_MAX;
        a->other[l] = l;
    }
    while (ns) { /* rounding leftovers */
        uint32_t s = small[--ns];
        a->thresh[s] = UINT32_MAX;
        a->other[s] = s;
    }
    free(p);
    free(small);
    free(large);
}

static inline uint32_t alias_draw(const alias_t *a, rng_t *r)
{
    uint64_t x = rng_next(r);
    uint32_t i = (uint32_t)(((x >> 32) * (uint64_t)a->n) >> 32);
    return (uint32_t)x < a->thresh[i] ? i : a->other[i];
}

static void alias_zipf(alias_t *a, uint32_t n, double s)
{
    double *w = xmalloc(n * sizeof *w);
    for (uint32_t i = 0; i < n; i++)
        w[i] = 1.0 / pow(i + 1.0, s);
    alias_build(a, w, n);
    free(w);
}

/* Standard normal quantiles at (i + 0.5) / NQ (Acklam's rational approximation). */
#define NQ 65536
static float g_normq[NQ];

static double norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double q, t;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425) {
        q = sqrt(-2 * log(1 - p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    q = p - 0.5;
    t = q * q;
    return (((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5]) * q /
           (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1);
}

static inline double rng_normal(rng_t *r)
{
    return g_normq[rng_next(r) >> 48];
}

/* e^(mu + sd * z), clamped to [lo, hi]. */
static inline uint64_t lognorm(rng_t *r, double mu, double sd, uint64_t lo, uint64_t hi)
{
    double v = exp(mu + sd * rng_normal(r));
    if (v < (double)lo)
        return lo;
    if (v > (double)hi)
        return hi;
    return (uint64_t)v;
}

/* ---------------------------------------------------------------- calendar */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *yy, unsigned *mm, unsigned *dd)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *dd = doy - (153 * mp + 2) / 5 + 1;
    *mm = mp < 10 ? mp + 3 : mp - 9;
    *yy = (int)(y + (*mm <= 2));
}

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---------------------------------------------------------------- the event */

enum { DEV_HQ1, DEV_HQ2, DEV_BR1 };
enum { P_TCP, P_UDP, P_ICMP };
enum { A_ALLOW, A_DENY, A_DROP };
enum { Z_TRUST, Z_UNTRUST, Z_DMZ };

static const char *const DEV_NAME[] = {"fw-hq-01", "fw-hq-02", "fw-branch-01"};
static const char *const PROTO_NAME[] = {"tcp", "udp", "icmp"};
static const char *const ACTION_NAME[] = {"allow", "deny", "drop"};
static const char *const ZONE_NAME[] = {"trust", "untrust", "dmz"};

/* An address: IPv4 in v4 when !is6, else 16 bytes in v6. */
typedef struct addr {
    bool is6;
    uint32_t v4;
    uint8_t v6[16];
} addr_t;

typedef struct ev {
    int64_t ts;
    uint8_t dev, proto, action, szone, dzone;
    uint16_t sport, dport;
    uint32_t policy, duration;
    int32_t user; /* -1: none */
    uint64_t bout, bin;
    addr_t src, dst;
} ev_t;

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

/* ---------------------------------------------------------------- the world */

typedef struct world {
    uint64_t n_events;
    uint64_t seed;
    int64_t start_us; /* UTC midnight of --start */
    int64_t days;     /* span */
    int64_t off_us;   /* company wall clock minus UTC */
    uint32_t users;
    uint32_t hq_users;  /* users 0..hq_users-1 are at HQ */
    uint32_t nat_first; /* users nat_first..users-1 sit behind the NAT (== users: none) */
    char *names;        /* users * 16 bytes, NUL-terminated each */
    uint8_t *name_len;
    uint8_t *os; /* 0 Windows, 1 macOS, 2 Linux, 3 legacy Windows (XP) */
    uint16_t *next_port;
    alias_t user_pick;
    /* public pools */
    uint32_t *web4;
    alias_t web4_pick;
    uint8_t (*web6)[16];
    alias_t web6_pick;
    uint32_t *mx4;
    alias_t mx4_pick;
    uint32_t *client4; /* internet clients of the DMZ web/mail */
    alias_t client4_pick;
    uint32_t *noise4; /* internet scanners */
    alias_t noise4_pick;
    alias_t cat_user, other_port, blocked_port, intsvc_port, noise_port;
} world_t;

static void alias_free(alias_t *a)
{
    free(a->thresh);
    free(a->other);
}

/* Everything world_build allocated (so that ASan builds exit without leaks). */
static void world_free(world_t *w)
{
    free(w->names);
    free(w->name_len);
    free(w->os);
    free(w->next_port);
    free(w->web4);
    free(w->web6);
    free(w->mx4);
    free(w->client4);
    free(w->noise4);
    alias_t *al[] = {&w->user_pick,    &w->web4_pick,   &w->web6_pick, &w->mx4_pick,
                     &w->client4_pick, &w->noise4_pick, &w->cat_user,  &w->other_port,
                     &w->blocked_port, &w->intsvc_port, &w->noise_port};
    for (size_t i = 0; i < sizeof al / sizeof al[0]; i++)
        alias_free(al[i]);
}

static bool is_reserved4(uint32_t a)
{
    uint32_t o1 = a >> 24, o2 = (a >> 16) & 255, o3 = (a >> 8) & 255;
    return o1 == 0 || o1 == 10 || o1 == 127 || o1 >= 224 || (o1 == 100 && (o2 & 0xC0) == 64) ||
           (o1 == 169 && o2 == 254) || (o1 == 172 && (o2 & 0xF0) == 16) ||
           (o1 == 192 && o2 == 168) || (o1 == 192 && o2 == 0 && (o3 == 0 || o3 == 2)) ||
           (o1 == 198 && (o2 & 0xFE) == 18) || (o1 == 198 && o2 == 51 && o3 == 100) ||
           (o1 == 203 && o2 == 0 && o3 == 113);
}

static uint32_t random_public4(rng_t *r)
{
    for (;;) {
        uint32_t a = (uint32_t)(rng_next(r) >> 32);
        if (!is_reserved4(a) && (a & 255) != 0 && (a & 255) != 255)
            return a;
    }
}

static uint32_t *pool4(rng_t *r, uint32_t n)
{
    uint32_t *p = xmalloc(n * sizeof *p);
    for (uint32_t i = 0; i < n; i++)
        p[i] = random_public4(r);
    return p;
}

static void set6(uint8_t v6[16], const uint16_t g[8])
{
    for (int i = 0; i < 8; i++) {
        v6[2 * i] = (uint8_t)(g[i] >> 8);
        v6[2 * i + 1] = (uint8_t)g[i];
    }
}

/* An external 2001:db8::/32 address (not the company's 2001:db8:100::/48), in a few shapes
 * so that text forms exercise RFC 5952 compression. */
static void random_public6(rng_t *r, uint8_t v6[16])
{
    uint16_t g[8] = {0x2001, 0x0db8, 0, 0, 0, 0, 0, 0};
    do
        g[2] = (uint16_t)rng_next(r);
    while (g[2] == 0x100);
    switch (rng_below(r, 4)) {
    case 0: /* 2001:db8:X:Y::Z */
        g[3] = (uint16_t)rng_below(r, 4096);
        g[7] = (uint16_t)rng_range(r, 1, 255);
        break;
    case 1: /* 2001:db8:X:0:0:1:0:Z */
        g[5] = 1;
        g[7] = (uint16_t)rng_range(r, 1, 0xffff);
        break;
    case 2: /* full interface id */
        g[3] = (uint16_t)rng_next(r);
        for (int i = 4; i < 8; i++)
            g[i] = (uint16_t)rng_next(r);
        break;
    default: /* 2001:db8:X::Z:0:0 style */
        g[5] = (uint16_t)rng_range(r, 1, 0xffff);
        break;
    }
    set6(v6, g);
}

static const char *const SURNAMES[] = {
    "smith",      "johnson",  "williams", "brown",    "jones",   "garcia", "miller",  "davis",
    "wilson",     "anderson", "taylor",   "thomas",   "moore",   "martin", "jackson", "white",
    "harris",     "clark",    "lewis",    "robinson", "walker",  "young",  "allen",   "king",
    "wright",     "scott",    "green",    "baker",    "adams",   "nelson", "hill",    "campbell",
    "mitchell",   "roberts",  "carter",   "phillips", "evans",   "turner", "parker",  "collins",
    "edwards",    "stewart",  "morris",   "murphy",   "cook",    "rogers", "morgan",  "cooper",
    "peterson",   "reed",     "bailey",   "bell",     "kelly",   "howard", "ward",    "cox",
    "richardson", "wood",     "watson",   "brooks",   "bennett", "gray",   "james",   "hughes",
    "tanaka",     "suzuki",   "sato",     "mueller",  "schmidt", "rossi",  "dubois",  "kim",
    "nguyen",     "chen",     "wang",     "singh",    "kumar",   "lopez",  "silva",   "novak"};

/* Site, subnet and host octets of user u's workstation. */
static void user_host(const world_t *w, uint32_t u, uint32_t *site, uint32_t *net, uint32_t *host)
{
    uint32_t i = u < w->hq_users ? u : u - w->hq_users;
    *site = u < w->hq_users ? 1 : 2;
    *net = i / 250;
    *host = i % 250 + 1;
}

/* The user owning workstation a, or -1. */
static int32_t user_of(const world_t *w, uint32_t a)
{
    uint32_t o1 = a >> 24, site = (a >> 16) & 255, net = (a >> 8) & 255, host = a & 255;
    if (o1 != 10 || (site != 1 && site != 2) || host < 1 || host > 250)
        return -1;
    uint64_t i = (uint64_t)net * 250 + host - 1;
    uint64_t u = site == 1 ? i : w->hq_users + i;
    if (site == 1 ? i >= w->hq_users : u >= w->users)
        return -1;
    if (u >= w->nat_first)
        return -1;
    return (int32_t)u;
}

/* Destination categories driven by users (business hours) and by the outside (flat). */
enum {
    C_WEB443,
    C_WEB80,
    C_QUIC,
    C_DNS_INT,
    C_INTSVC,
    C_OTHER_NET,
    C_ICMP,
    C_BLOCKED,
    C_DNS_FWD,
    C_MAIL_OUT,
    C_NUSER
};
static const double CAT_USER_W[C_NUSER] = {44, 7, 6, 14, 10, 4, 1.2, 1.0, 1.4, 0.5};
/* Inbound to the DMZ (visitors follow a day rhythm of their own) and flat background. */
enum { B_IN_WEB, B_IN_MAIL, B_IN_NOISE, B_SRV_OUT, B_N };

typedef struct portdef {
    uint16_t port;
    uint8_t proto;
    double w;
} portdef_t;

/* Other internet services users reach (port 0: a random port 1024-65535). */
static const portdef_t OTHER_PORTS[] = {
    {8080, P_TCP, 20}, {8443, P_TCP, 12}, {123, P_UDP, 10},   {22, P_TCP, 8},
    {993, P_TCP, 8},   {5228, P_TCP, 8},  {53, P_UDP, 8},     {3478, P_UDP, 6},
    {5222, P_TCP, 5},  {0, P_TCP, 5},     {587, P_TCP, 3},    {465, P_TCP, 2},
    {1194, P_UDP, 2},  {21, P_TCP, 1.5},  {5060, P_UDP, 1.5}, {3389, P_TCP, 1},
    {8000, P_TCP, 1},  {0, P_UDP, 1},     {8888, P_TCP, 0.8}, {25, P_TCP, 0.3},
    {110, P_TCP, 0.3}, {143, P_TCP, 0.3}, {1935, P_TCP, 0.3}, {9418, P_TCP, 0.2}};
/* Blocked applications (deny, policy 90). */
static const portdef_t BLOCKED_PORTS[] = {{6881, P_TCP, 30}, {6881, P_UDP, 20}, {9001, P_TCP, 12},
                                          {445, P_TCP, 10},  {1080, P_TCP, 6},  {23, P_TCP, 6},
                                          {137, P_UDP, 6},   {4444, P_TCP, 3},  {0, P_TCP, 7}};
/* Internal services in the DMZ. */
static const portdef_t INTSVC_PORTS[] = {{445, P_TCP, 30}, {3389, P_TCP, 14}, {88, P_TCP, 10},
                                         {389, P_TCP, 10}, {22, P_TCP, 8},    {993, P_TCP, 8},
                                         {587, P_TCP, 5},  {135, P_TCP, 5},   {636, P_TCP, 3},
                                         {8443, P_TCP, 3}, {123, P_UDP, 4}};
/* What internet scanners knock on (port 0: random 1-65535). */
static const portdef_t NOISE_PORTS[] = {
    {22, P_TCP, 18},  {23, P_TCP, 14},  {445, P_TCP, 12}, {3389, P_TCP, 10}, {80, P_TCP, 6},
    {8080, P_TCP, 6}, {1433, P_TCP, 5}, {3306, P_TCP, 4}, {5900, P_TCP, 4},  {443, P_TCP, 3},
    {25, P_TCP, 3},   {2323, P_TCP, 3}, {6379, P_TCP, 2}, {161, P_UDP, 3},   {53, P_UDP, 3},
    {123, P_UDP, 2},  {1900, P_UDP, 2}, {5060, P_UDP, 2}, {0, P_TCP, 16},    {0, P_UDP, 4}};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void alias_ports(alias_t *a, const portdef_t *p, uint32_t n)
{
    double w[64];
    for (uint32_t i = 0; i < n; i++)
        w[i] = p[i].w;
    alias_build(a, w, n);
}

static void world_build(world_t *w)
{
    rng_t r;
    rng_seed(&r, w->seed, 1);

    uint32_t U = w->users;
    w->hq_users = U - U / 5;
    w->nat_first = U >= 20 ? U - (U / 40 > 10 ? U / 40 : 10) : U;
    w->names = xmalloc((size_t)U * 24);
    w->name_len = xmalloc(U);
    w->os = xmalloc(U);
    w->next_port = xmalloc(U * sizeof *w->next_port);
    double *uw = xmalloc(U * sizeof *uw);
    for (uint32_t u = 0; u < U; u++) {
        char *nm = w->names + (size_t)u * 24;
        int n = snprintf(nm, 24, "%c%s%04u", 'a' + (int)rng_below(&r, 26),
                         SURNAMES[rng_below(&r, NELEM(SURNAMES))], (unsigned)u);
        w->name_len[u] = (uint8_t)n;
        uint32_t k = rng_below(&r, 100);
        w->os[u] = k < 75 ? 0 : k < 90 ? 1 : 2;
        w->next_port[u] =
            (uint16_t)(w->os[u] == 2 ? rng_range(&r, 32768, 60999) : rng_range(&r, 49152, 65535));
        uw[u] = exp(0.9 * norm_quantile((rng_below(&r, 1u << 30) + 0.5) / (double)(1u << 30)));
    }
    /* The infected machines of A1 and A3 are unpatched legacy Windows XP boxes. */
    static const uint32_t legacy[] = {IP4(10, 1, 4, 44), IP4(10, 1, 5, 23), IP4(10, 2, 0, 66)};
    for (size_t i = 0; i < NELEM(legacy); i++) {
        int32_t u = user_of(w, legacy[i]);
        if (u >= 0) {
            w->os[u] = 3;
            w->next_port[u] = (uint16_t)rng_range(&r, 1025, 5000);
        }
    }
    alias_build(&w->user_pick, uw, U);
    free(uw);

    w->web4 = pool4(&r, 100000);
    alias_zipf(&w->web4_pick, 100000, 1.0);
    w->web6 = xmalloc(5000 * sizeof *w->web6);
    for (uint32_t i = 0; i < 5000; i++)
        random_public6(&r, w->web6[i]);
    alias_zipf(&w->web6_pick, 5000, 1.0);
    w->mx4 = pool4(&r, 500);
    alias_zipf(&w->mx4_pick, 500, 1.1);
    w->client4 = pool4(&r, 200000);
    alias_zipf(&w->client4_pick, 200000, 0.9);
    w->noise4 = pool4(&r, 30000);
    alias_zipf(&w->noise4_pick, 30000, 0.7);

    alias_build(&w->cat_user, CAT_USER_W, C_NUSER);
    alias_ports(&w->other_port, OTHER_PORTS, NELEM(OTHER_PORTS));
    alias_ports(&w->blocked_port, BLOCKED_PORTS, NELEM(BLOCKED_PORTS));
    alias_ports(&w->intsvc_port, INTSVC_PORTS, NELEM(INTSVC_PORTS));
    alias_ports(&w->noise_port, NOISE_PORTS, NELEM(NOISE_PORTS));
}

/* ---------------------------------------------------------------- event makers */

static inline void a4(addr_t *a, uint32_t v)
{
    a->is6 = false;
    a->v4 = v;
}

static inline void a6_internal(addr_t *a, uint32_t site, uint32_t net, uint32_t host)
{
    uint16_t g[8] = {0x2001, 0x0db8, 0x0100, (uint16_t)(site << 8 | net), 0, 0, 0, (uint16_t)host};
    a->is6 = true;
    set6(a->v6, g);
}

static inline uint16_t ephemeral_port(world_t *w, uint32_t u, rng_t *r)
{
    uint32_t p = w->next_port[u] + 1 + rng_below(r, 3);
    static const uint16_t lo_of[] = {49152, 49152, 32768, 1025};
    static const uint16_t hi_of[] = {65535, 65535, 60999, 5000};
    uint32_t lo = lo_of[w->os[u]], hi = hi_of[w->os[u]];
    if (p > hi)
        p = lo + (p - hi - 1);
    w->next_port[u] = (uint16_t)p;
    if (w->os[u] == 2) /* Linux: randomised */
        return (uint16_t)rng_range(r, 32768, 60999);
    return (uint16_t)p;
}

static inline uint32_t pick_port(const portdef_t *tab, const alias_t *a, rng_t *r, uint8_t *proto,
                                 uint32_t rand_lo)
{
    const portdef_t *p = &tab[alias_draw(a, r)];
    *proto = p->proto;
    return p->port ? p->port : rng_range(r, rand_lo, 65535);
}

static void denied_bytes(ev_t *e, rng_t *r)
{
    e->bout = e->proto == P_UDP ? rng_range(r, 40, 120) : 40 + 2 * rng_below(r, 21);
    e->bin = 0;
    e->duration = 0;
}

/* A user-driven event at time t. */
static void make_user_event(world_t *w, rng_t *r, ev_t *e)
{
    uint32_t cat = alias_draw(&w->cat_user, r);
    e->user = -1;
    e->action = A_ALLOW;

    if (cat == C_DNS_FWD) { /* resolver -> internet */
        a4(&e->src, IP4(10, 250, 0, 53 + rng_below(r, 2)));
        if (rng_chance(r, 0.4))
            a4(&e->dst, w->web4[alias_draw(&w->web4_pick, r)]);
        else
            a4(&e->dst, w->web4[rng_below(r, 2000)]); /* authoritative servers */
        e->dev = DEV_HQ2;
        e->szone = Z_DMZ;
        e->dzone = Z_UNTRUST;
        e->proto = rng_chance(r, 0.97) ? P_UDP : P_TCP;
        e->sport = (uint16_t)rng_range(r, 1024, 65535);
        e->dport = 53;
        e->policy = 30;
        e->bout = lognorm(r, 4.3, 0.3, 40, 1500);
        e->bin = lognorm(r, 5.2, 0.7, 40, 65535);
        e->duration = rng_below(r, 2);
        return;
    }
    if (cat == C_MAIL_OUT) { /* relay -> MX */
        a4(&e->src, IP4(10, 250, 0, 25));
        a4(&e->dst, w->mx4[alias_draw(&w->mx4_pick, r)]);
        e->dev = DEV_HQ2;
        e->szone = Z_DMZ;
        e->dzone = Z_UNTRUST;
        e->proto = P_TCP;
        e->sport = (uint16_t)rng_range(r, 32768, 60999);
        e->dport = 25;
        e->policy = 30;
        e->bout = lognorm(r, 9.8, 1.6, 300, 40000000);
        e->bin = lognorm(r, 6.3, 0.4, 100, 100000);
        e->duration = (uint32_t)lognorm(r, 1.0, 1.0, 0, 600);
        return;
    }

    uint32_t u = alias_draw(&w->user_pick, r);
    uint32_t site, net, host;
    user_host(w, u, &site, &net, &host);
    bool nat = u >= w->nat_first;
    if (nat) {
        a4(&e->src, IP4(10, 9, 0, 1));
        e->sport = (uint16_t)rng_range(r, 32768, 65535);
        e->dev = DEV_HQ1;
        e->user = (int32_t)u;
    } else {
        a4(&e->src, IP4(10, site, net, host));
        e->sport = ephemeral_port(w, u, r);
        e->dev = site == 1 ? DEV_HQ1 : DEV_BR1;
        e->user = rng_chance(r, 0.92) ? (int32_t)u : -1;
    }
    e->szone = Z_TRUST;
    e->dzone = Z_UNTRUST;
    bool v6 = !nat && rng_chance(r, 0.035);

    switch (cat) {
    case C_WEB443:
    case C_WEB80:
    case C_QUIC:
        e->proto = cat == C_QUIC ? P_UDP : P_TCP;
        e->dport = cat == C_WEB80 ? 80 : 443;
        e->policy = 10;
        if (v6) {
            a6_internal(&e->src, site, net, host);
            e->dst.is6 = true;
            memcpy(e->dst.v6, w->web6[alias_draw(&w->web6_pick, r)], 16);
        } else {
            a4(&e->dst, w->web4[alias_draw(&w->web4_pick, r)]);
        }
        if (cat == C_WEB80) {
            e->bout = lognorm(r, 6.6, 1.1, 60, 50000000);
            e->bin = lognorm(r, 8.8, 2.2, 0, 2000000000);
            e->duration = (uint32_t)lognorm(r, 1.6, 1.5, 0, 86400);
        } else {
            e->bout = lognorm(r, 7.2, 1.4, 60, 500000000);
            e->bin = lognorm(r, 9.3, 2.1, 0, 4000000000);
            e->duration = (uint32_t)lognorm(r, 2.5, 1.5, 0, 86400);
        }
        break;
    case C_DNS_INT:
        a4(&e->dst, IP4(10, 250, 0, 53 + (rng_chance(r, 0.7) ? 0 : 1)));
        e->dzone = Z_DMZ;
        e->proto = rng_chance(r, 0.98) ? P_UDP : P_TCP;
        e->dport = 53;
        e->policy = 1;
        e->bout = lognorm(r, 4.3, 0.25, 40, 1500);
        e->bin = lognorm(r, 5.0, 0.5, 40, 65535);
        e->duration = rng_chance(r, 0.8) ? 0 : 1;
        break;
    case C_INTSVC: {
        e->dport = (uint16_t)pick_port(INTSVC_PORTS, &w->intsvc_port, r, &e->proto, 1024);
        e->dzone = Z_DMZ;
        e->policy = 2;
        uint32_t d;
        switch (e->dport) {
        case 445:
            d = IP4(10, 250, 0, 20 + rng_below(r, 3));
            break;
        case 3389:
            d = IP4(10, 250, 0, 30 + rng_below(r, 10));
            break;
        case 22:
            d = IP4(10, 250, 1, 1 + rng_below(r, 40));
            break;
        case 993:
        case 587:
            d = IP4(10, 250, 0, 25);
            break;
        case 8443:
            d = IP4(10, 250, 0, 81);
            break;
        default:
            d = IP4(10, 250, 0, 2 + rng_below(r, 2));
            break;
        }
        a4(&e->dst, d);
        if ((e->dport == 3389 || e->dport == 22) && rng_chance(r, 0.06)) {
            e->action = A_DENY;
            e->policy = 99;
            denied_bytes(e, r);
        } else if (e->dport == 3389) {
            e->bout = lognorm(r, 12.0, 1.5, 1000, 4000000000);
            e->bin = lognorm(r, 14.0, 1.5, 1000, 8000000000);
            e->duration = (uint32_t)lognorm(r, 7.0, 1.2, 5, 86400);
        } else if (e->dport == 445) {
            e->bout = lognorm(r, 9.0, 2.2, 100, 8000000000);
            e->bin = lognorm(r, 10.0, 2.5, 100, 8000000000);
            e->duration = (uint32_t)lognorm(r, 4.0, 1.8, 0, 86400);
        } else {
            e->bout = lognorm(r, 7.0, 1.3, 60, 100000000);
            e->bin = lognorm(r, 7.8, 1.5, 40, 100000000);
            e->duration = (uint32_t)lognorm(r, 2.0, 1.5, 0, 86400);
        }
        break;
    }
    case C_OTHER_NET:
        e->dport = (uint16_t)pick_port(OTHER_PORTS, &w->other_port, r, &e->proto, 1024);
        e->policy = 11;
        if (e->dport == 53) {
            static const uint32_t pub_dns[] = {IP4(8, 8, 8, 8), IP4(1, 1, 1, 1), IP4(8, 8, 4, 4),
                                               IP4(9, 9, 9, 9)};
            a4(&e->dst, pub_dns[rng_below(r, 4)]);
        } else if (v6) {
            a6_internal(&e->src, site, net, host);
            e->dst.is6 = true;
            memcpy(e->dst.v6, w->web6[alias_draw(&w->web6_pick, r)], 16);
        } else {
            a4(&e->dst, w->web4[alias_draw(&w->web4_pick, r)]);
        }
        e->bout = lognorm(r, 6.5, 1.5, 40, 500000000);
        e->bin = lognorm(r, 7.5, 2.0, 0, 2000000000);
        e->duration =
            e->proto == P_UDP ? rng_below(r, 31) : (uint32_t)lognorm(r, 2.3, 1.5, 0, 86400);
        break;
    case C_ICMP:
        e->proto = P_ICMP;
        e->sport = 0;
        e->dport = 0;
        e->policy = 5;
        if (rng_chance(r, 0.5)) {
            a4(&e->dst, IP4(10, 250, rng_below(r, 2), 1 + rng_below(r, 100)));
            e->dzone = Z_DMZ;
        } else {
            a4(&e->dst, w->web4[alias_draw(&w->web4_pick, r)]);
        }
        e->bout = 60 + 4 * rng_below(r, 7);
        e->bin = rng_chance(r, 0.9) ? e->bout : 0;
        e->duration = rng_below(r, 2);
        break;
    default: /* C_BLOCKED */
        e->dport = (uint16_t)pick_port(BLOCKED_PORTS, &w->blocked_port, r, &e->proto, 1024);
        a4(&e->dst, w->web4[alias_draw(&w->web4_pick, r)]);
        e->action = A_DENY;
        e->policy = 90;
        denied_bytes(e, r);
        break;
    }
}

/* A background event: inbound (visitors, mail) or flat (the outside world knocking, servers
 * fetching updates). */
static void make_bg_event(world_t *w, rng_t *r, ev_t *e, bool inbound)
{
    uint32_t cat = inbound ? (rng_below(r, 58) < 50 ? B_IN_WEB : B_IN_MAIL)
                           : (rng_below(r, 42) < 35 ? B_IN_NOISE : B_SRV_OUT);
    e->user = -1;
    e->dev = DEV_HQ2;
    e->action = A_ALLOW;
    e->szone = Z_UNTRUST;
    e->dzone = Z_DMZ;
    e->sport = (uint16_t)rng_range(r, 1024, 65535);
    switch (cat) {
    case B_IN_WEB:
        e->proto = P_TCP;
        e->dport = rng_chance(r, 0.85) ? 443 : 80;
        e->policy = 20;
        if (rng_chance(r, 0.03)) {
            e->src.is6 = true;
            memcpy(e->src.v6, w->web6[rng_below(r, 5000)], 16);
            uint16_t g[8] = {0x2001, 0x0db8, 0x0100, 0xfa00, 0, 0, 0, 0x80};
            e->dst.is6 = true;
            set6(e->dst.v6, g);
        } else {
            a4(&e->src, w->client4[alias_draw(&w->client4_pick, r)]);
            a4(&e->dst, IP4(10, 250, 0, rng_chance(r, 0.8) ? 80 : 81));
        }
        e->bout = lognorm(r, 6.8, 1.0, 60, 50000000);
        e->bin = lognorm(r, 9.5, 2.0, 0, 500000000);
        e->duration = (uint32_t)lognorm(r, 1.5, 1.4, 0, 3600);
        break;
    case B_IN_MAIL:
        e->proto = P_TCP;
        e->dport = 25;
        e->policy = 21;
        a4(&e->src, rng_chance(r, 0.7) ? w->mx4[alias_draw(&w->mx4_pick, r)]
                                       : w->client4[alias_draw(&w->client4_pick, r)]);
        a4(&e->dst, IP4(10, 250, 0, 25));
        e->bout = lognorm(r, 9.5, 1.5, 200, 40000000);
        e->bin = lognorm(r, 6.0, 0.5, 100, 100000);
        e->duration = (uint32_t)lognorm(r, 1.1, 1.0, 0, 600);
        break;
    case B_IN_NOISE:
        e->dport = (uint16_t)pick_port(NOISE_PORTS, &w->noise_port, r, &e->proto, 1);
        if (rng_chance(r, 0.02)) {
            e->src.is6 = true;
            random_public6(r, e->src.v6);
            uint16_t g[8] = {0x2001, 0x0db8, 0x0100, 0xfa00,
                             0,      0,      0,      (uint16_t)rng_range(r, 1, 255)};
            e->dst.is6 = true;
            set6(e->dst.v6, g);
        } else {
            a4(&e->src, w->noise4[alias_draw(&w->noise4_pick, r)]);
            a4(&e->dst, IP4(10, 250, rng_below(r, 4), rng_range(r, 1, 254)));
        }
        /* Ports of well-known attack targets are denied (RST), the rest silently dropped. */
        if (e->dport == 22 || e->dport == 23 || e->dport == 445 || e->dport == 3389 ||
            rng_chance(r, 0.25)) {
            e->action = A_DENY;
            e->policy = 99;
        } else {
            e->action = A_DROP;
            e->policy = 98;
        }
        denied_bytes(e, r);
        break;
    default: /* B_SRV_OUT: servers fetch updates, sync time */
        e->szone = Z_DMZ;
        e->dzone = Z_UNTRUST;
        a4(&e->src, rng_chance(r, 0.5) ? IP4(10, 250, 1, 1 + rng_below(r, 40))
                                       : IP4(10, 250, 0, 20 + rng_below(r, 20)));
        a4(&e->dst, w->web4[rng_below(r, 300)]);
        e->sport = (uint16_t)rng_range(r, 32768, 60999);
        e->policy = 30;
        if (rng_chance(r, 0.3)) {
            e->proto = P_UDP;
            e->dport = 123;
            e->bout = 76;
            e->bin = 76;
            e->duration = 0;
        } else {
            e->proto = P_TCP;
            e->dport = rng_chance(r, 0.8) ? 443 : 80;
            e->bout = lognorm(r, 7.0, 1.0, 60, 10000000);
            e->bin = lognorm(r, 12.0, 2.5, 0, 4000000000);
            e->duration = (uint32_t)lognorm(r, 2.5, 1.5, 0, 3600);
        }
        break;
    }
}

/* ---------------------------------------------------------------- anomalies */

typedef struct evvec {
    ev_t *v;
    size_t n, cap;
} evvec_t;

static ev_t *evvec_push(evvec_t *a)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        ev_t *nv = realloc(a->v, a->cap * sizeof *nv);
        if (!nv) {
            fprintf(stderr, "colog-gen: out of memory\n");
            exit(1);
        }
        a->v = nv;
    }
    ev_t *e = &a->v[a->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static int cmp_ev_ts(const void *pa, const void *pb)
{
    const ev_t *a = pa, *b = pb;
    return (a->ts > b->ts) - (a->ts < b->ts);
}

static uint64_t scaled(const world_t *w, double base, double per_n, double cap)
{
    double n = (double)w->n_events;
    double v = n >= 10000 ? base + n * per_n : (base + 10000 * per_n) * n / 10000.0;
    if (v > cap)
        v = cap;
    return (uint64_t)v;
}

/* A workstation anomaly host: its device and user (if it is a real user's machine). */
static void anomaly_src(world_t *w, ev_t *e, uint32_t ip, rng_t *r)
{
    a4(&e->src, ip);
    e->dev = ((ip >> 16) & 255) == 2 ? DEV_BR1 : DEV_HQ1;
    e->szone = Z_TRUST;
    e->dzone = Z_UNTRUST;
    e->user = user_of(w, ip);
    e->sport = e->user >= 0 ? ephemeral_port(w, (uint32_t)e->user, r)
                            : (uint16_t)rng_range(r, 49152, 65535);
    e->action = A_ALLOW;
    e->proto = P_TCP;
}

/* Local midnight (company wall clock) of day index d, in UTC µs. */
static int64_t local_day_us(const world_t *w, int64_t d)
{
    return w->start_us + d * US_PER_DAY - w->off_us;
}

static void make_anomalies(world_t *w, evvec_t *out)
{
    rng_t r;
    rng_seed(&r, w->seed, 2);
    int64_t wd = w->days > 1 ? 1 : 0;
    int64_t span_lo = w->start_us, span_hi = w->start_us + w->days * US_PER_DAY;

    /* A1: mail worm. */
    uint64_t n = scaled(w, 400, 1.0 / 2000, 20000);
    int64_t t0 = local_day_us(w, wd) + (10 * 60 + 12) * US_PER_MIN;
    for (uint64_t i = 0; i < n; i++) {
        ev_t *e = evvec_push(out);
        anomaly_src(w, e, IP4(10, 1, 4, 44), &r);
        e->ts = t0 + (int64_t)((i + rng_u01(&r)) * (3600.0 * US_PER_S / (double)n));
        a4(&e->dst, random_public4(&r));
        e->dport = 25;
        e->policy = 11;
        e->bout = lognorm(&r, 10.2, 0.3, 1000, 1000000);
        e->bin = rng_chance(&r, 0.2) ? 0 : lognorm(&r, 5.5, 0.4, 60, 10000);
        e->duration = e->bin ? rng_range(&r, 1, 9) : 0;
    }

    /* A2: port scan of the web server from the internet. */
    n = scaled(w, 1500, 1.0 / 1000, 60000);
    uint16_t *ports = xmalloc(n * sizeof *ports);
    for (uint64_t i = 0; i < n; i++)
        ports[i] = (uint16_t)(i + 1);
    for (uint64_t i = n; i > 1; i--) {
        uint32_t j = rng_below(&r, (uint32_t)i);
        uint16_t t = ports[i - 1];
        ports[i - 1] = ports[j];
        ports[j] = t;
    }
    int64_t t = local_day_us(w, wd) + (22 * 60 + 40) * US_PER_MIN;
    for (uint64_t i = 0; i < n; i++) {
        ev_t *e = evvec_push(out);
        t += rng_range(&r, 2000, 40000);
        e->ts = t;
        a4(&e->src, IP4(198, 51, 100, 66));
        a4(&e->dst, IP4(10, 250, 0, 80));
        e->dev = DEV_HQ2;
        e->szone = Z_UNTRUST;
        e->dzone = Z_DMZ;
        e->user = -1;
        e->proto = P_TCP;
        e->sport = (uint16_t)rng_range(&r, 21480, 21490);
        e->dport = ports[i];
        if (e->dport == 80 || e->dport == 443) {
            e->action = A_ALLOW;
            e->policy = 20;
            e->bout = 60;
            e->bin = 60;
            e->duration = 0;
        } else {
            e->action = A_DENY;
            e->policy = 99;
            e->bout = 60;
            e->bin = 0;
            e->duration = 0;
        }
    }
    free(ports);

    /* A3: IRC bots, evenly over the span. */
    n = scaled(w, 30, 1.0 / 4000, 250000);
    for (int bot = 0; bot < 2; bot++) {
        double step = (double)(span_hi - span_lo) / (double)n;
        for (uint64_t i = 0; i < n; i++) {
            ev_t *e = evvec_push(out);
            anomaly_src(w, e, bot ? IP4(10, 2, 0, 66) : IP4(10, 1, 5, 23), &r);
            e->ts = span_lo + (int64_t)((i + 0.2 + 0.6 * rng_u01(&r)) * step);
            if (bot == 0) {
                a4(&e->dst, IP4(198, 51, 100, 23));
                e->dport = 6667;
            } else if (rng_below(&r, 3) < 2) {
                a4(&e->dst, IP4(198, 51, 100, 77));
                e->dport = 5555;
            } else {
                a4(&e->dst, IP4(198, 51, 100, 78));
                e->dport = 8080;
            }
            e->policy = 11;
            e->bout = lognorm(&r, 5.5, 0.4, 60, 100000);
            e->bin = lognorm(&r, 6.0, 0.6, 60, 100000);
            e->duration = (uint32_t)lognorm(&r, 4.0, 1.0, 1, 3600);
        }
    }

    /* A4: HTTP(S) sessions lasting hours, business hours on any day. */
    n = scaled(w, 12, 1.0 / 200000, 5000);
    for (int h = 0; h < 2; h++) {
        for (uint64_t i = 0; i < n; i++) {
            ev_t *e = evvec_push(out);
            anomaly_src(w, e, h ? IP4(10, 2, 1, 59) : IP4(10, 1, 3, 14), &r);
            int64_t d = rng_below(&r, (uint32_t)w->days);
            e->ts = local_day_us(w, d) + 8 * 3600 * US_PER_S +
                    (int64_t)(rng_u01(&r) * 9 * 3600 * US_PER_S);
            if (h) {
                a4(&e->dst, IP4(198, 51, 100, 150));
                e->dport = 80;
            } else {
                a4(&e->dst, IP4(203, 0, 113, 200));
                e->dport = 443;
            }
            e->policy = 10;
            e->duration = rng_range(&r, 3601, 36000);
            e->bout = lognorm(&r, 14.0, 1.0, 10000, 4000000000);
            e->bin = lognorm(&r, 16.0, 1.2, 10000, 40000000000);
        }
    }

    /* A6: sessions at 3 a.m., every night. */
    n = scaled(w, 60, 1.0 / 400, 200000);
    for (uint64_t i = 0; i < n; i++) {
        ev_t *e = evvec_push(out);
        anomaly_src(w, e, IP4(10, 1, 7, 77), &r);
        int64_t d = (int64_t)(i % (uint64_t)w->days);
        e->ts = local_day_us(w, d) + 3 * 3600 * US_PER_S + (int64_t)(rng_u01(&r) * 3600 * US_PER_S);
        a4(&e->dst, IP4(198, 51, 100, 99));
        e->dport = 443;
        e->policy = 10;
        e->bout = lognorm(&r, 15.0, 0.8, 100000, 4000000000);
        e->bin = lognorm(&r, 8.0, 0.5, 1000, 1000000);
        e->duration = (uint32_t)lognorm(&r, 4.5, 0.7, 5, 3000);
    }

    /* Keep everything inside the span (a negative --utc-offset moves local days). */
    for (size_t i = 0; i < out->n; i++) {
        if (out->v[i].ts < span_lo)
            out->v[i].ts = span_lo + (out->v[i].ts % US_PER_DAY + US_PER_DAY) % US_PER_DAY;
        if (out->v[i].ts >= span_hi)
            out->v[i].ts = span_hi - 1 - (span_hi - out->v[i].ts) % US_PER_DAY;
    }
    qsort(out->v, out->n, sizeof *out->v, cmp_ev_ts);
    if (out->n > w->n_events)
        out->n = w->n_events;
}

/* ---------------------------------------------------------------- the clock */

/* Relative intensity of user activity at local hour h (fraction of a day in hours). */
static double user_shape(double h)
{
    static const double pts[][2] = {{0, 0.035},  {5.5, 0.03},  {7, 0.25},   {8, 0.6},    {9, 1.0},
                                    {11.8, 1.0}, {12.5, 0.75}, {13.3, 1.0}, {16.5, 1.0}, {18, 0.5},
                                    {20, 0.22},  {22, 0.12},   {24, 0.035}};
    for (size_t i = 1; i < NELEM(pts); i++) {
        if (h <= pts[i][0]) {
            double f = (h - pts[i - 1][0]) / (pts[i][0] - pts[i - 1][0]);
            return pts[i - 1][1] + f * (pts[i][1] - pts[i - 1][1]);
        }
    }
    return pts[NELEM(pts) - 1][1];
}

static double dow_factor(int dow) /* ISO 1..7 */
{
    static const double f[] = {0, 1.0, 1.03, 1.02, 0.98, 0.88, 0.14, 0.10};
    return f[dow];
}

/* Levels relative to a weekday peak minute of user traffic. */
#define IN_LEVEL 0.065  /* inbound at its peak */
#define FLAT_LEVEL 0.05 /* scans, server updates */

/* ---------------------------------------------------------------- output */

typedef struct out {
    FILE *f;
    char *buf;
    size_t len;
    bool ndjson, epoch;
    int64_t cached_sec;
    char ts_prefix[20]; /* "YYYY-MM-DDTHH:MM:SS" */
    const world_t *w;
} out_t;

static const char DIG2[] = "00010203040506070809"
                           "10111213141516171819"
                           "20212223242526272829"
                           "30313233343536373839"
                           "40414243444546474849"
                           "50515253545556575859"
                           "60616263646566676869"
                           "70717273747576777879"
                           "80818283848586878889"
                           "90919293949596979899";

static char g_oct[256][4];
static uint8_t g_octlen[256];

static void out_flush(out_t *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len) {
        fprintf(stderr, "colog-gen: write: %s\n", strerror(errno));
        exit(1);
    }
    o->len = 0;
}

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *q = e;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, DIG2 + 2 * k, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, DIG2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    memcpy(p, q, (size_t)(e - q));
    return p + (e - q);
}

static inline char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static inline char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static inline char *put_ip4(char *p, uint32_t a)
{
    for (int sh = 24; sh >= 0; sh -= 8) {
        unsigned o = (a >> sh) & 255;
        memcpy(p, g_oct[o], 4);
        p += g_octlen[o];
        *p++ = '.';
    }
    return p - 1;
}

/* RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero groups as "::"
 * (the first one on a tie). */
static char *put_ip6(char *p, const uint8_t v6[16])
{
    static const char hex[] = "0123456789abcdef";
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)(v6[2 * i] << 8 | v6[2 * i + 1]);
    int best = -1, bestlen = 0;
    for (int i = 0; i < 8;) {
        if (g[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !g[j])
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j;
    }
    if (bestlen < 2)
        best = -1;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += bestlen - 1;
            continue;
        }
        if (i && i != best + bestlen)
            *p++ = ':';
        unsigned x = g[i];
        bool started = false;
        for (int sh = 12; sh >= 0; sh -= 4) {
            unsigned d = (x >> sh) & 15;
            if (d || started || sh == 0) {
                *p++ = hex[d];
                started = true;
            }
        }
    }
    return p;
}

static inline char *put_addr(char *p, const addr_t *a)
{
    return a->is6 ? put_ip6(p, a->v6) : put_ip4(p, a->v4);
}

static char *put_ts(out_t *o, char *p, int64_t ts)
{
    if (o->epoch)
        return put_i64(p, floor_div(ts, US_PER_S));
    int64_t sec = floor_div(ts, US_PER_S);
    unsigned us = (unsigned)(ts - sec * US_PER_S);
    if (sec != o->cached_sec) {
        int64_t day = floor_div(sec, 86400);
        unsigned sod = (unsigned)(sec - day * 86400);
        int y;
        unsigned m, d;
        civil_from_days(day, &y, &m, &d);
        char *q = o->ts_prefix;
        memcpy(q, DIG2 + 2 * (y / 100 % 100), 2);
        memcpy(q + 2, DIG2 + 2 * (y % 100), 2);
        q[4] = '-';
        memcpy(q + 5, DIG2 + 2 * m, 2);
        q[7] = '-';
        memcpy(q + 8, DIG2 + 2 * d, 2);
        q[10] = 'T';
        memcpy(q + 11, DIG2 + 2 * (sod / 3600), 2);
        q[13] = ':';
        memcpy(q + 14, DIG2 + 2 * (sod / 60 % 60), 2);
        q[16] = ':';
        memcpy(q + 17, DIG2 + 2 * (sod % 60), 2);
        o->cached_sec = sec;
    }
    memcpy(p, o->ts_prefix, 19);
    p += 19;
    *p++ = '.';
    memcpy(p, DIG2 + 2 * (us / 10000), 2);
    memcpy(p + 2, DIG2 + 2 * (us / 100 % 100), 2);
    memcpy(p + 4, DIG2 + 2 * (us % 100), 2);
    p[6] = 'Z';
    return p + 7;
}

static void out_header(out_t *o)
{
    if (o->ndjson)
        return;
    static const char hdr[] = "ts,device,src_ip,src_port,dst_ip,dst_port,proto,action,policy,"
                              "src_zone,dst_zone,user,bytes_out,bytes_in,duration\n";
    memcpy(o->buf + o->len, hdr, sizeof hdr - 1);
    o->len += sizeof hdr - 1;
}

#define KEY(s) (p = put_str(p, s))

static void out_event(out_t *o, const ev_t *e)
{
    if (o->len > OUTBUF_SIZE - 1024)
        out_flush(o);
    char *p = o->buf + o->len;
    if (!o->ndjson) {
        p = put_ts(o, p, e->ts);
        *p++ = ',';
        p = put_str(p, DEV_NAME[e->dev]);
        *p++ = ',';
        p = put_addr(p, &e->src);
        *p++ = ',';
        p = put_u64(p, e->sport);
        *p++ = ',';
        p = put_addr(p, &e->dst);
        *p++ = ',';
        p = put_u64(p, e->dport);
        *p++ = ',';
        p = put_str(p, PROTO_NAME[e->proto]);
        *p++ = ',';
        p = put_str(p, ACTION_NAME[e->action]);
        *p++ = ',';
        p = put_u64(p, e->policy);
        *p++ = ',';
        p = put_str(p, ZONE_NAME[e->szone]);
        *p++ = ',';
        p = put_str(p, ZONE_NAME[e->dzone]);
        *p++ = ',';
        if (e->user >= 0) {
            memcpy(p, o->w->names + (size_t)e->user * 24, o->w->name_len[e->user]);
            p += o->w->name_len[e->user];
        }
        *p++ = ',';
        p = put_u64(p, e->bout);
        *p++ = ',';
        p = put_u64(p, e->bin);
        *p++ = ',';
        p = put_u64(p, e->duration);
        *p++ = '\n';
    } else {
        KEY("{\"ts\":");
        if (!o->epoch)
            *p++ = '"';
        p = put_ts(o, p, e->ts);
        if (!o->epoch)
            *p++ = '"';
        KEY(",\"device\":\"");
        p = put_str(p, DEV_NAME[e->dev]);
        KEY("\",\"src_ip\":\"");
        p = put_addr(p, &e->src);
        KEY("\",\"src_port\":");
        p = put_u64(p, e->sport);
        KEY(",\"dst_ip\":\"");
        p = put_addr(p, &e->dst);
        KEY("\",\"dst_port\":");
        p = put_u64(p, e->dport);
        KEY(",\"proto\":\"");
        p = put_str(p, PROTO_NAME[e->proto]);
        KEY("\",\"action\":\"");
        p = put_str(p, ACTION_NAME[e->action]);
        KEY("\",\"policy\":");
        p = put_u64(p, e->policy);
        KEY(",\"src_zone\":\"");
        p = put_str(p, ZONE_NAME[e->szone]);
        KEY("\",\"dst_zone\":\"");
        p = put_str(p, ZONE_NAME[e->dzone]);
        *p++ = '"';
        if (e->user >= 0) {
            KEY(",\"user\":\"");
            memcpy(p, o->w->names + (size_t)e->user * 24, o->w->name_len[e->user]);
            p += o->w->name_len[e->user];
            *p++ = '"';
        }
        KEY(",\"bytes_out\":");
        p = put_u64(p, e->bout);
        KEY(",\"bytes_in\":");
        p = put_u64(p, e->bin);
        KEY(",\"duration\":");
        p = put_u64(p, e->duration);
        KEY("}\n");
    }
    o->len = (size_t)(p - o->buf);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fputs("usage: colog-gen [--events N] [--seed S] [--start YYYY-MM-DD] [--days D]\n"
          "                 [--users U] [--format csv|ndjson] [--out FILE]\n"
          "                 [--ts-format rfc3339|epoch] [--utc-offset +HH:MM]\n"
          "Writes N synthetic firewall events (default 1000000) in the colog firewall schema.\n"
          "--days defaults to ceil(N / 8.6M); --utc-offset is the company's wall clock\n"
          "(business hours, nights) relative to UTC, default +00:00.\n",
          f);
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v = x;
    return true;
}

static void die_usage(const char *what, const char *val)
{
    fprintf(stderr, "colog-gen: bad %s: %s\n", what, val ? val : "(missing)");
    usage(stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    world_t w;
    memset(&w, 0, sizeof w);
    w.n_events = 1000000;
    w.users = 3000;
    uint64_t days = 0;
    int sy = 2026, sm = 3, sd = 2;
    const char *outpath = NULL;
    bool ndjson = false, epoch = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v)
            die_usage(a, NULL);
        i++;
        if (!strcmp(a, "--events")) {
            if (!parse_u64(v, &w.n_events))
                die_usage(a, v);
        } else if (!strcmp(a, "--seed")) {
            if (!parse_u64(v, &w.seed))
                die_usage(a, v);
        } else if (!strcmp(a, "--days")) {
            if (!parse_u64(v, &days) || days == 0 || days > 36500)
                die_usage(a, v);
        } else if (!strcmp(a, "--users")) {
            if (!parse_u64(v, &x) || x == 0 || x > 60000)
                die_usage(a, v);
            w.users = (uint32_t)x;
        } else if (!strcmp(a, "--start")) {
            char tail;
            if (sscanf(v, "%4d-%2d-%2d%c", &sy, &sm, &sd, &tail) != 3 || sm < 1 || sm > 12 ||
                sd < 1 || sd > 31 || strlen(v) != 10)
                die_usage(a, v);
        } else if (!strcmp(a, "--format")) {
            if (!strcmp(v, "ndjson"))
                ndjson = true;
            else if (strcmp(v, "csv"))
                die_usage(a, v);
        } else if (!strcmp(a, "--ts-format")) {
            if (!strcmp(v, "epoch"))
                epoch = true;
            else if (strcmp(v, "rfc3339"))
                die_usage(a, v);
        } else if (!strcmp(a, "--utc-offset")) {
            int hh, mm;
            char sign, tail;
            if (sscanf(v, "%c%2d:%2d%c", &sign, &hh, &mm, &tail) != 3 ||
                (sign != '+' && sign != '-') || hh > 14 || mm > 59 || strlen(v) != 6)
                die_usage(a, v);
            w.off_us = (sign == '-' ? -1 : 1) * (hh * 3600LL + mm * 60LL) * US_PER_S;
        } else if (!strcmp(a, "--out")) {
            outpath = v;
        } else {
            die_usage("option", a);
        }
    }
    if (!days)
        days = (uint64_t)ceil((double)w.n_events / EVENTS_PER_DAY);
    if (!days)
        days = 1;
    w.days = (int64_t)days;
    w.start_us = days_from_civil(sy, (unsigned)sm, (unsigned)sd) * US_PER_DAY;

    for (int i = 0; i < NQ; i++)
        g_normq[i] = (float)norm_quantile((i + 0.5) / NQ);
    for (int i = 0; i < 256; i++)
        g_octlen[i] = (uint8_t)snprintf(g_oct[i], sizeof g_oct[i], "%d", i);

    world_build(&w);
    evvec_t anom = {0};
    make_anomalies(&w, &anom);
    uint64_t n_main = w.n_events - anom.n;

    /* Minute weights and the share of user-driven events in each. */
    int64_t nmin = w.days * 1440;
    double *cum = xmalloc((size_t)nmin * sizeof *cum);
    float *puser = xmalloc((size_t)nmin * sizeof *puser);
    float *pin = xmalloc((size_t)nmin * sizeof *pin);
    rng_t rc;
    rng_seed(&rc, w.seed, 3);
    double total = 0, dayf = 1;
    for (int64_t m = 0; m < nmin; m++) {
        int64_t local_min =
            m + w.off_us / US_PER_MIN + days_from_civil(sy, (unsigned)sm, (unsigned)sd) * 1440;
        int64_t lday = floor_div(local_min, 1440);
        double h = (double)(local_min - lday * 1440) / 60.0;
        int dow = (int)(((lday + 3) % 7 + 7) % 7) + 1; /* 1970-01-01 was a Thursday */
        if (m % 1440 == 0)
            dayf = 0.92 + 0.16 * rng_u01(&rc);
        double uw = user_shape(h) * dow_factor(dow) * dayf * (0.9 + 0.2 * rng_u01(&rc));
        double iw = IN_LEVEL * (0.12 + 0.88 * user_shape(h)) * (dow >= 6 ? 0.6 : 1.0) *
                    (0.9 + 0.2 * rng_u01(&rc));
        double fw = FLAT_LEVEL * (0.85 + 0.3 * rng_u01(&rc));
        double tot = uw + iw + fw;
        total += tot;
        cum[m] = total;
        puser[m] = (float)(uw / tot);
        pin[m] = (float)((uw + iw) / tot);
    }

    out_t o = {0};
    o.w = &w;
    o.ndjson = ndjson;
    o.epoch = epoch;
    o.cached_sec = INT64_MIN;
    o.buf = xmalloc(OUTBUF_SIZE);
    o.f = stdout;
    if (outpath && strcmp(outpath, "-")) {
        o.f = fopen(outpath, "wb");
        if (!o.f) {
            fprintf(stderr, "colog-gen: %s: %s\n", outpath, strerror(errno));
            return 1;
        }
    }
    out_header(&o);

    rng_t r;
    rng_seed(&r, w.seed, 4);
    size_t ai = 0;
    uint64_t done = 0;
    ev_t e;
    for (int64_t m = 0; m < nmin; m++) {
        uint64_t upto = (uint64_t)floor((double)n_main * (cum[m] / total));
        if (m == nmin - 1)
            upto = n_main;
        uint64_t k = upto - done;
        if (!k)
            continue;
        int64_t base = w.start_us + m * US_PER_MIN;
        double step = (double)US_PER_MIN / (double)k;
        double pu = puser[m], pi = pin[m];
        for (uint64_t i = 0; i < k; i++) {
            int64_t t = base + (int64_t)((i + rng_u01(&r)) * step);
            while (ai < anom.n && anom.v[ai].ts <= t)
                out_event(&o, &anom.v[ai++]);
            double x = rng_u01(&r);
            if (x < pu)
                make_user_event(&w, &r, &e);
            else
                make_bg_event(&w, &r, &e, x < pi);
            e.ts = t;
            if (rng_next(&r) % 200 == 0) { /* late: 1 s .. 6 h behind */
                int64_t delay = rng_chance(&r, 0.5)
                                    ? (int64_t)rng_range(&r, 1, 1800) * US_PER_S
                                    : (int64_t)rng_range(&r, 1800, 6 * 3600) * US_PER_S;
                e.ts = t - delay - rng_below(&r, 1000000);
            }
            out_event(&o, &e);
        }
        done = upto;
    }
    while (ai < anom.n)
        out_event(&o, &anom.v[ai++]);
    out_flush(&o);
    int status = 0;
    if (o.f != stdout ? fclose(o.f) != 0 : fflush(stdout) != 0) {
        fprintf(stderr, "colog-gen: write: %s\n", strerror(errno));
        status = 1;
    }
    free(o.buf);
    free(cum);
    free(puser);
    free(pin);
    free(anom.v);
    world_free(&w);
    return status;
}
