/*
 * cmd_serve.c — `colog serve STORE --listen ADDR:PORT [--http ADDR:PORT]
 * [--token-file FILE] [--max-message BYTES] [--max-conns N] [--max-body BYTES]
 * [--rejects FILE] [--drain-ms N] [--http-threads N]`: network intake.
 *
 * Options, the token and signals live here; the server is serve.c and
 * serve_http.c (serve.h). SIGTERM and SIGINT are blocked in every thread
 * before any is started and read from a signalfd by the ingest thread, so no
 * handler runs in the middle of anything: the first one stops the server
 * cleanly (everything received is stored, exit 0), a second one cuts the
 * reading of what clients still send short. SIGPIPE is ignored.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

/* The token: the file's text without surrounding white space. */
static int read_token(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "colog: serve: --token-file %s: %s\n", path, strerror(errno));
        return EXIT_RUNTIME;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
        fprintf(stderr, "colog: serve: warning: %s can be read by other users (chmod 600)\n", path);
    size_t n = fread(buf, 1, cap - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more)
        return cli_usage("serve: --token-file %s: longer than %zu bytes", path, cap - 2);
    buf[n] = 0;
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        buf[--n] = 0;
    size_t s = strspn(buf, " \t\r\n");
    memmove(buf, buf + s, n - s + 1);
    if (buf[0] == 0)
        return cli_usage("serve: --token-file %s is empty", path);
    for (const char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return cli_usage("serve: --token-file %s: the token must be printable ASCII "
                             "without spaces",
                             path);
    return EXIT_OK;
}

/* Room for max_conns sockets: raise the soft descriptor limit if needed. */
static void fd_room(unsigned max_conns, unsigned nhttp)
{
    rlim_t want = (rlim_t)max_conns * (1 + nhttp) + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        fprintf(stderr,
                "colog: serve: warning: the descriptor limit (%llu) is below what --max-conns "
                "%u needs; raise it (ulimit -n)\n",
                (unsigned long long)rl.rlim_cur, max_conns);
}

int cmd_serve(int argc, char **argv)
{
    serve_opts_t o;
    memset(&o, 0, sizeof o);
    o.max_message = SERVE_MAX_MESSAGE_DEFAULT;
    o.max_conns = SERVE_MAX_CONNS_DEFAULT;
    o.max_body = SERVE_MAX_BODY_DEFAULT;
    o.drain_ms = SERVE_DRAIN_MS_DEFAULT;
    o.http_threads = 2;
    const char *token_file = NULL, *v;
    uint32_t u;
    int rc;
    for (int i = 1; i < argc; i++) {
        bool http = false;
        if (cli_opt(argc, argv, &i, "--listen", &v) ||
            (http = cli_opt(argc, argv, &i, "--http", &v))) {
            const char *opt = http ? "--http" : "--listen";
            if (v == NULL || v[0] == 0)
                return cli_usage("serve: %s needs ADDR:PORT (or :PORT for loopback)", opt);
            if ((http ? o.nhttp : o.nlisten) == SERVE_MAX_LISTEN)
                return cli_usage("serve: at most %d %s options", SERVE_MAX_LISTEN, opt);
            if (http)
                o.http[o.nhttp++] = v;
            else
                o.listen[o.nlisten++] = v;
        } else if (cli_opt(argc, argv, &i, "--token-file", &v)) {
            if (v == NULL)
                return cli_usage("serve: --token-file needs a file");
            token_file = v;
        } else if (cli_opt(argc, argv, &i, "--rejects", &v)) {
            if (v == NULL)
                return cli_usage("serve: --rejects needs a file");
            o.rejects_path = v;
        } else if (cli_opt(argc, argv, &i, "--max-message", &v)) {
            if ((rc = cli_uint("serve", "--max-message", v, 64, 16u << 20, &u)))
                return rc;
            o.max_message = u;
        } else if (cli_opt(argc, argv, &i, "--max-conns", &v)) {
            if ((rc = cli_uint("serve", "--max-conns", v, 1, 1000000, &u)))
                return rc;
            o.max_conns = u;
        } else if (cli_opt(argc, argv, &i, "--max-body", &v)) {
            if ((rc = cli_uint("serve", "--max-body", v, 1024, 1u << 31, &u)))
                return rc;
            o.max_body = u;
        } else if (cli_opt(argc, argv, &i, "--drain-ms", &v)) {
            if ((rc = cli_uint("serve", "--drain-ms", v, 0, 600000, &u)))
                return rc;
            o.drain_ms = u;
        } else if (cli_opt(argc, argv, &i, "--http-threads", &v)) {
            if ((rc = cli_uint("serve", "--http-threads", v, 1, 64, &u)))
                return rc;
            o.http_threads = u;
        } else if (argv[i][0] == '-') {
            return cli_usage("serve: unknown option '%s'", argv[i]);
        } else if (o.store == NULL) {
            o.store = argv[i];
        } else {
            return cli_usage("serve: unexpected argument '%s'", argv[i]);
        }
    }
    if (o.store == NULL || o.nlisten + o.nhttp == 0)
        return cli_usage("serve: usage: colog serve STORE --listen ADDR:PORT [--http ADDR:PORT]");
    if (token_file && o.nhttp == 0)
        return cli_usage("serve: --token-file protects the HTTP side: give --http too");

    char token[4096];
    if (token_file) {
        if ((rc = read_token(token_file, token, sizeof token)) != EXIT_OK)
            return rc;
        o.token = token;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "colog: serve: libsodium did not initialise\n");
        return EXIT_RUNTIME;
    }
    fd_room(o.max_conns, o.nhttp);
    /* colog's main() keeps freed memory in the process (right for short commands);
     * a server must give back what a merge or a large request used. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (o.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "colog: serve: signals: %s\n", strerror(errno));
        return EXIT_RUNTIME;
    }
    signal(SIGPIPE, SIG_IGN);

    int status = EXIT_OK;
    if (o.rejects_path) {
        /* appended to: a restarted server keeps the earlier lines */
        o.rejects = fopen(o.rejects_path, "a");
        if (o.rejects == NULL) {
            fprintf(stderr, "colog: serve: %s: %s\n", o.rejects_path, strerror(errno));
            status = EXIT_RUNTIME;
            goto out_sig;
        }
    }
    serve_stats_t st;
    status = serve_run(&o, &st);
    if (st.served)
        fprintf(stderr,
                "colog: serve: %llu messages from %llu connections (%llu refused) and %llu HTTP "
                "requests; %llu rows %s, %llu skipped, %llu rejected (%llu over --max-message, "
                "%llu cut short); %llu parts written\n",
                (unsigned long long)st.messages, (unsigned long long)st.conns,
                (unsigned long long)st.refused, (unsigned long long)st.http_requests,
                (unsigned long long)st.rows_ok,
                status == EXIT_OK ? "stored" : "accepted (those after the failure are lost)",
                (unsigned long long)st.skipped, (unsigned long long)st.rows_rejected,
                (unsigned long long)st.oversize, (unsigned long long)st.truncated,
                (unsigned long long)st.parts);
    if (o.rejects && fclose(o.rejects) != 0 && status == EXIT_OK) {
        fprintf(stderr, "colog: serve: %s: %s\n", o.rejects_path, strerror(errno));
        status = EXIT_RUNTIME;
    }
out_sig:
    close(o.sigfd);
    sodium_memzero(token, sizeof token);
    return status;
}
