/*
 * norm_nginx.c — nginx access logs (norm.h), web schema.
 *
 * nginx's default "combined" log_format is Apache's combined format, so the
 * line is read by Apache's parser (norm_access_parse in norm_apache.c); what
 * nginx adds is read from what follows the user agent: the
 * "$http_x_forwarded_for" of the common "main" format (skipped: client_ip
 * stays $remote_addr) and $request_time (seconds with milliseconds, or
 * "rt=0.123") -> duration_ms.
 *
 * Auto-detection cannot tell nginx from Apache (the lines are the same): it
 * tries apache first and reports such lines as apache, which ignores the
 * nginx additions. Give --format nginx to keep $request_time.
 */
#include "norm.h"

static int parse(const char *msg, size_t len, const norm_env_t *env, norm_rec_t *rec)
{
    return norm_access_parse(msg, len, env, rec, true);
}

const norm_format_t norm_nginx = {
    "nginx", "web", "nginx access log (combined, + \"$http_x_forwarded_for\" / $request_time)",
    parse};
