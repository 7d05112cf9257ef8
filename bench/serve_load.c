/*
 * serve_load.c — colog-load: a load generator for `colog serve`.
 *
 *   colog-load --port P [--host 127.0.0.1] [--conns 16] [--seconds 10 | --messages M]
 *              [--format fortigate|iptables|ndjson] [--framing newline|octet]
 *              [--rate MSG_PER_S] [--seed S]
 *
 * Opens N TCP connections (one thread each) and sends generated firewall traffic messages
 * as fast as the server takes them (or paced at --rate messages/s in all), for T seconds or
 * M messages in all, then closes the connections and prints what was sent:
 *
 *   colog-load: 2400000 messages (812.4 MB) over 16 connections in 10.00 s: 240000 msg/s
 *   sent=2400000 bytes=812400000 seconds=10.000 rate=240000
 *
 * Every message is one row for colog (its time within the last ten minutes), so the store
 * must end up with exactly `sent` rows. Messages are built
 * in batches of BATCH and only whole batches are counted and written: `sent` is exact.
 *
 * Formats: "fortigate" is an RFC 3164 line "<189>Mmm dd hh:mm:ss fgt-NN date=... srcip=..."
 * (FortiGate key=value traffic log), "iptables" an RFC 3164 kernel line with a netfilter LOG
 * message, "ndjson" a bare JSON object with the firewall schema's columns.
 *
 * Build: part of the CMake build (colog-load); alone:
 *   gcc -std=c17 -D_GNU_SOURCE -O2 -pthread bench/serve_load.c -o colog-load
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 512
#define LINE_MAX_BYTES 1024

enum { F_FORTIGATE, F_IPTABLES, F_NDJSON };

typedef struct cfg {
    const char *host, *port;
    unsigned conns;
    double seconds;
    uint64_t messages; /* 0: run for seconds */
    double rate;       /* messages/s in all, 0 = as fast as possible */
    int format;
    bool octet;
    uint64_t seed;
} cfg_t;

typedef struct worker {
    const cfg_t *c;
    unsigned id;
    pthread_t thr;
    uint64_t quota; /* messages to send (messages mode) */
    uint64_t sent, bytes;
    int err;
} worker_t;

static atomic_bool stop_flag;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64* */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static const char *const actions[] = {"accept", "deny", "close", "timeout"};
static const unsigned ports[] = {443, 80, 53, 22, 25, 3389, 8080, 445, 123, 993};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Message number seq of worker w into out (framing included); its length. */
static size_t make_line(const cfg_t *c, unsigned w, uint64_t seq, uint64_t *rs, time_t base,
                        char *out)
{
    char m[LINE_MAX_BYTES];
    int n = 0;
    time_t t = base - (time_t)(rnd(rs) % 600);
    struct tm tm;
    gmtime_r(&t, &tm);
    /* a company's worth of sources: 20,000 hosts 10.a.b.d, ephemeral ports */
    unsigned host = (unsigned)(rnd(rs) % 20000);
    unsigned a = host / 4000 + 1, b = host / 250 % 16, d = host % 250 + 1;
    unsigned sport = 32768 + (unsigned)(rnd(rs) % 28000);
    unsigned dport = ports[rnd(rs) % 10];
    unsigned dip = (unsigned)(rnd(rs) % 5000);
    uint64_t out_b = rnd(rs) % 100000, in_b = rnd(rs) % 1000000;
    const char *act = actions[rnd(rs) % 4];
    switch (c->format) {
    case F_FORTIGATE:
        n = snprintf(m, sizeof m,
                     "<189>%s %2d %02d:%02d:%02d fgt-%02u date=%04d-%02d-%02d time=%02d:%02d:%02d "
                     "devname=\"fgt-%02u\" devid=\"FG100E%04u\" logid=\"0000000013\" "
                     "type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" "
                     "srcip=10.%u.%u.%u srcport=%u srcintf=\"port1\" dstip=198.%u.%u.%u "
                     "dstport=%u dstintf=\"wan1\" proto=6 action=\"%s\" policyid=%u "
                     "service=\"tcp/%u\" duration=%u sentbyte=%llu rcvdbyte=%llu user=\"u%u\"",
                     months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, w % 100,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     w % 100, w, a, b, d, sport, 18 + dip / 4000, (dip >> 8) & 255, dip & 255,
                     dport, act, 1 + dport % 20, dport, (unsigned)(out_b % 3600),
                     (unsigned long long)out_b, (unsigned long long)in_b, (unsigned)(seq % 3000));
        break;
    case F_IPTABLES:
        n = snprintf(m, sizeof m,
                     "<4>%s %2d %02d:%02d:%02d gw-%02u kernel: [%llu.%06u] fw %s: IN=eth0 OUT= "
                     "MAC=00:16:3e:00:00:01:00:16:3e:00:00:02:08:00 SRC=10.%u.%u.%u "
                     "DST=198.%u.%u.%u LEN=%u TOS=0x00 PREC=0x00 TTL=52 ID=%u DF PROTO=TCP "
                     "SPT=%u DPT=%u WINDOW=29200 RES=0x00 SYN URGP=0",
                     months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, w % 100,
                     (unsigned long long)(seq / 1000), (unsigned)(seq % 1000) * 1000,
                     rnd(rs) & 1 ? "DROP" : "ACCEPT", a, b, d, 18 + dip / 4000, (dip >> 8) & 255,
                     dip & 255, 40 + (unsigned)(out_b % 1400), (unsigned)(seq & 0xffff), sport,
                     dport);
        break;
    default:
        n = snprintf(m, sizeof m,
                     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\",\"device\":\"fw-%02u\","
                     "\"src_ip\":\"10.%u.%u.%u\",\"src_port\":%u,\"dst_ip\":\"198.%u.%u.%u\","
                     "\"dst_port\":%u,\"proto\":\"tcp\",\"action\":\"%s\",\"policy\":%u,"
                     "\"bytes_out\":%llu,\"bytes_in\":%llu,\"duration\":%u}",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     w % 100, a, b, d, sport, 18 + dip / 4000, (dip >> 8) & 255, dip & 255, dport,
                     act, 1 + dport % 20, (unsigned long long)out_b, (unsigned long long)in_b,
                     (unsigned)(out_b % 3600));
        break;
    }
    if (n < 0 || (size_t)n >= sizeof m)
        n = 0;
    if (c->octet) {
        int k = sprintf(out, "%d ", n);
        memcpy(out + k, m, (size_t)n);
        return (size_t)k + (size_t)n;
    }
    memcpy(out, m, (size_t)n);
    out[n] = '\n';
    return (size_t)n + 1;
}

static int connect_to(const cfg_t *c)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(c->host, c->port, &hints, &res);
    if (g != 0) {
        fprintf(stderr, "colog-load: %s:%s: %s\n", c->host, c->port, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "colog-load: connect %s:%s: %s\n", c->host, c->port, strerror(errno));
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    const cfg_t *c = w->c;
    char *buf = malloc((size_t)BATCH * (LINE_MAX_BYTES + 16));
    int fd = buf ? connect_to(c) : -1;
    if (fd < 0) {
        w->err = 1;
        free(buf);
        return NULL;
    }
    uint64_t rs = c->seed * 0x9E3779B97F4A7C15ULL + w->id + 1;
    double t0 = now_s(), per_conn = c->rate / c->conns;
    uint64_t seq = 0;
    time_t base = time(NULL);
    while (!atomic_load(&stop_flag)) {
        uint64_t n = BATCH;
        if (c->messages) {
            if (w->sent >= w->quota)
                break;
            if (w->quota - w->sent < n)
                n = w->quota - w->sent;
        }
        if (per_conn > 0) { /* paced: never ahead of rate * elapsed */
            double ahead = (double)(w->sent + n) / per_conn - (now_s() - t0);
            if (ahead > 0) {
                usleep(ahead > 0.1 ? 100000 : (useconds_t)(ahead * 1e6));
                continue;
            }
        }
        if ((seq & 0x3fff) == 0)
            base = time(NULL);
        size_t len = 0;
        for (uint64_t i = 0; i < n; i++)
            len += make_line(c, w->id, seq++, &rs, base, buf + len);
        if (send_all(fd, buf, len) < 0) {
            fprintf(stderr, "colog-load: connection %u: %s\n", w->id, strerror(errno));
            w->err = 1;
            break;
        }
        w->sent += n;
        w->bytes += len;
    }
    close(fd);
    free(buf);
    return NULL;
}

static void usage(FILE *f)
{
    fputs("usage: colog-load --port P [--host 127.0.0.1] [--conns 16] "
          "[--seconds 10 | --messages M]\n"
          "                  [--format fortigate|iptables|ndjson] [--framing newline|octet] "
          "[--rate MSG_PER_S] [--seed S]\n",
          f);
}

int main(int argc, char **argv)
{
    cfg_t c = {.host = "127.0.0.1", .conns = 16, .seconds = 10, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool has = v != NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--port") && has) {
            c.port = v;
        } else if (!strcmp(a, "--host") && has) {
            c.host = v;
        } else if (!strcmp(a, "--conns") && has) {
            c.conns = (unsigned)strtoul(v, NULL, 10);
        } else if (!strcmp(a, "--seconds") && has) {
            c.seconds = strtod(v, NULL);
        } else if (!strcmp(a, "--messages") && has) {
            c.messages = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--rate") && has) {
            c.rate = strtod(v, NULL);
        } else if (!strcmp(a, "--seed") && has) {
            c.seed = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--format") && has) {
            if (!strcmp(v, "fortigate"))
                c.format = F_FORTIGATE;
            else if (!strcmp(v, "iptables"))
                c.format = F_IPTABLES;
            else if (!strcmp(v, "ndjson"))
                c.format = F_NDJSON;
            else {
                usage(stderr);
                return 2;
            }
        } else if (!strcmp(a, "--framing") && has) {
            if (strcmp(v, "newline") && strcmp(v, "octet")) {
                usage(stderr);
                return 2;
            }
            c.octet = !strcmp(v, "octet");
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (c.port == NULL || c.conns == 0 || c.conns > 10000 || (c.messages == 0 && c.seconds <= 0)) {
        usage(stderr);
        return 2;
    }
    worker_t *w = calloc(c.conns, sizeof *w);
    if (w == NULL)
        return 1;
    double t0 = now_s();
    unsigned started = 0;
    for (unsigned i = 0; i < c.conns; i++) {
        w[i].c = &c;
        w[i].id = i;
        w[i].quota = c.messages / c.conns + (i < c.messages % c.conns);
        if (pthread_create(&w[i].thr, NULL, worker_main, &w[i]) != 0)
            break;
        started++;
    }
    if (c.messages == 0) {
        while (now_s() - t0 < c.seconds)
            usleep(10000);
        atomic_store(&stop_flag, true);
    }
    uint64_t sent = 0, bytes = 0;
    int err = started < c.conns;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(w[i].thr, NULL);
        sent += w[i].sent;
        bytes += w[i].bytes;
        err |= w[i].err;
    }
    double dt = now_s() - t0;
    fprintf(stderr,
            "colog-load: %llu messages (%.1f MB) over %u connections in %.2f s: %.0f msg/s\n",
            (unsigned long long)sent, (double)bytes / 1e6, c.conns, dt, (double)sent / dt);
    printf("sent=%llu bytes=%llu seconds=%.3f rate=%.0f\n", (unsigned long long)sent,
           (unsigned long long)bytes, dt, (double)sent / dt);
    free(w);
    return err ? 1 : 0;
}
