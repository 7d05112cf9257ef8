/*
 * colog_error.c — error codes, their names and texts, and the per-thread
 * detailed message.
 *
 * Design: one X-macro table (COLOG_ERROR_LIST in colog_storage.h) makes the enum,
 * colog_strerror() and colog_errname(), as LZ4F_LIST_ERRORS does. Negated errno
 * values pass through and are named by strerror(). The detailed message is kept
 * per thread, like dlerror(), so that a function can return a plain int and
 * still tell the caller which file and block went wrong.
 */
#include "colog_storage.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

static _Thread_local char errbuf[1024];

const char *colog_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define COLOG__STR(name, val, msg)                                                                 \
    case name:                                                                                     \
        return msg;
        COLOG_ERROR_LIST(COLOG__STR)
#undef COLOG__STR
    default:
        break;
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

const char *colog_errname(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define COLOG__NAME(name, val, msg)                                                                \
    case name:                                                                                     \
        return #name;
        COLOG_ERROR_LIST(COLOG__NAME)
#undef COLOG__NAME
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        const char *n = strerrorname_np(-code);
        return n ? n : "EUNKNOWN";
    }
    return "EUNKNOWN";
}

const char *colog_errmsg(void)
{
    return errbuf;
}

int colog_seterr(int code, const char *fmt, ...)
{
    if (fmt == NULL) {
        snprintf(errbuf, sizeof errbuf, "%s", colog_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}
