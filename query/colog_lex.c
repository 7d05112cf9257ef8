/*
 * colog_lex.c — the lexer of the query language and the bare-literal classifier.
 *
 * Design:
 *  - Pull lexer: colog__lex_next hands out one token at a time as a (pos, len)
 *    span of the text; nothing is allocated. The parser keeps one token of
 *    lookahead.
 *  - Tokens: | ( ) , .. = != < <= > >=, identifiers, keywords (lower case,
 *    reserved), "strings" and bare literal runs.
 *  - A bare literal run starts with a digit, with '-' and a digit (negative
 *    numbers), with "::" (IPv6), or is a run starting with a letter that holds a
 *    ':' (IPv6 such as fe80::1). It is the maximal run of [0-9A-Za-z.:/+_-] and
 *    stops before ".." so that 2026-03-01..2026-03-08 is three tokens. What the
 *    run is (integer, float, date, RFC 3339 time, IP, CIDR, duration) is decided
 *    by colog__lit_classify, because the parser needs the operand to judge it.
 *  - Strings: "..." with \" and \\ as the only escapes. Any other escape is an
 *    error at the escape; an unterminated string is an error from its quote to
 *    the end of the text.
 *
 * Invariants:
 *  1. lx->pos only moves forward and never passes lx->len; every token lies in
 *     text[0..len).
 *  2. Once QT_EOF or QT_ERR has been returned, the same token is returned again
 *     (lx->pos is left at the error), and lx->err describes a QT_ERR.
 */
#include "colog_lex.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const kw_texts[] = {[QKW_NONE] = "",
#define COLOG__QKW_TEXT(name, text) [QKW_##name] = text,
                                       COLOG_QKW_LIST(COLOG__QKW_TEXT)
#undef COLOG__QKW_TEXT
};

#define NKW (sizeof kw_texts / sizeof kw_texts[0])

const char *colog__kw_text(colog_qkw_t kw)
{
    return (unsigned)kw < NKW ? kw_texts[kw] : "";
}

colog_qkw_t colog__kw_find(const char *s, size_t len)
{
    for (unsigned k = 1; k < NKW; k++)
        if (strlen(kw_texts[k]) == len && memcmp(kw_texts[k], s, len) == 0)
            return (colog_qkw_t)k;
    return QKW_NONE;
}

void colog__lex_init(colog_qlexer_t *lx, const char *text, uint32_t len)
{
    memset(lx, 0, sizeof *lx);
    lx->text = text;
    lx->len = len;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_litc(char c)
{
    return is_digit(c) || is_alpha(c) || c == '.' || c == ':' || c == '/' || c == '+' || c == '-';
}

/* End of the literal run starting at i (stops before ".."). */
static uint32_t lit_end(const colog_qlexer_t *lx, uint32_t i)
{
    while (i < lx->len && is_litc(lx->text[i])) {
        if (lx->text[i] == '.' && i + 1 < lx->len && lx->text[i + 1] == '.')
            break;
        i++;
    }
    return i;
}

/* Bytes of the UTF-8 sequence starting at i (1 for anything malformed). */
static uint32_t utf8_len(const colog_qlexer_t *lx, uint32_t i)
{
    unsigned char c = (unsigned char)lx->text[i];
    uint32_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    uint32_t k = 1;
    while (k < n && i + k < lx->len && ((unsigned char)lx->text[i + k] & 0xC0) == 0x80)
        k++;
    return k;
}

static void lex_error(colog_qlexer_t *lx, colog_qtoken_t *tok, uint32_t pos, uint32_t len,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void lex_error(colog_qlexer_t *lx, colog_qtoken_t *tok, uint32_t pos, uint32_t len,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->err.msg, sizeof lx->err.msg, fmt, ap);
    va_end(ap);
    lx->err.pos = pos;
    lx->err.len = len;
    lx->pos = pos; /* invariant 2: stay here */
    tok->kind = QT_ERR;
    tok->pos = pos;
    tok->len = len;
}

static void lex_string(colog_qlexer_t *lx, colog_qtoken_t *tok, uint32_t start)
{
    uint32_t i = start + 1;
    while (i < lx->len) {
        char c = lx->text[i];
        if (c == '"') {
            tok->kind = QT_STR;
            tok->len = i + 1 - start;
            lx->pos = i + 1;
            return;
        }
        if (c == '\\') {
            if (i + 1 >= lx->len)
                break;
            char e = lx->text[i + 1];
            if (e != '"' && e != '\\') {
                lex_error(lx, tok, i, 1 + utf8_len(lx, i + 1),
                          "bad escape '\\%.*s' in string: only \\\" and \\\\ are allowed",
                          (int)utf8_len(lx, i + 1), lx->text + i + 1);
                return;
            }
            i += 2;
            continue;
        }
        i++;
    }
    lex_error(lx, tok, start, lx->len - start, "unterminated string: missing closing '\"'");
}

void colog__lex_next(colog_qlexer_t *lx, colog_qtoken_t *tok)
{
    const char *t = lx->text;
    uint32_t i = lx->pos;

    memset(tok, 0, sizeof *tok);
    if (lx->err.msg[0] != 0) { /* invariant 2 */
        tok->kind = QT_ERR;
        tok->pos = lx->err.pos;
        tok->len = lx->err.len;
        return;
    }
    while (i < lx->len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r' ||
                           t[i] == '\f' || t[i] == '\v'))
        i++;
    tok->pos = i;
    if (i >= lx->len) {
        lx->pos = lx->len;
        tok->kind = QT_EOF;
        return;
    }

    char c = t[i], c2 = i + 1 < lx->len ? t[i + 1] : 0;
    uint32_t n = 1;
    switch (c) {
    case '|':
        tok->kind = QT_PIPE;
        break;
    case '(':
        tok->kind = QT_LPAREN;
        break;
    case ')':
        tok->kind = QT_RPAREN;
        break;
    case ',':
        tok->kind = QT_COMMA;
        break;
    case '=':
        tok->kind = QT_EQ;
        break;
    case '<':
        tok->kind = c2 == '=' ? QT_LE : QT_LT;
        n = c2 == '=' ? 2 : 1;
        break;
    case '>':
        tok->kind = c2 == '=' ? QT_GE : QT_GT;
        n = c2 == '=' ? 2 : 1;
        break;
    case '!':
        if (c2 != '=') {
            lex_error(lx, tok, i, 1, "unexpected character '!' (not equal is !=)");
            return;
        }
        tok->kind = QT_NE;
        n = 2;
        break;
    case '.':
        if (c2 != '.') {
            lex_error(lx, tok, i, 1, "unexpected character '.'");
            return;
        }
        tok->kind = QT_DOTDOT;
        n = 2;
        break;
    case '"':
        lex_string(lx, tok, i);
        return;
    case '\'':
        lex_error(lx, tok, i, 1, "unexpected character ''': strings are \"double-quoted\"");
        return;
    default:
        if (is_digit(c) || (c == '-' && is_digit(c2)) || (c == ':' && c2 == ':')) {
            tok->kind = QT_LIT;
            n = lit_end(lx, i) - i;
            break;
        }
        if (is_alpha(c)) {
            uint32_t e = i, le = lit_end(lx, i);
            while (e < lx->len && (is_alpha(t[e]) || is_digit(t[e])))
                e++;
            if (memchr(t + i, ':', le - i) != NULL) { /* fe80::1 */
                tok->kind = QT_LIT;
                n = le - i;
                break;
            }
            n = e - i;
            tok->kw = colog__kw_find(t + i, n);
            tok->kind = tok->kw != QKW_NONE ? QT_KW : QT_IDENT;
            break;
        }
        n = utf8_len(lx, i);
        if ((unsigned char)c < 0x20 || c == 0x7f)
            lex_error(lx, tok, i, 1, "unexpected control character 0x%02x", (unsigned char)c);
        else
            lex_error(lx, tok, i, n, "unexpected character '%.*s'", (int)n, t + i);
        return;
    }
    tok->len = n;
    lx->pos = i + n;
}

uint32_t colog__lex_unescape(const char *text, const colog_qtoken_t *tok, char *dst)
{
    uint32_t n = 0;
    for (uint32_t i = tok->pos + 1; i + 1 < tok->pos + tok->len; i++) {
        if (text[i] == '\\')
            i++;
        dst[n++] = text[i];
    }
    return n;
}

/* ---------------------------------------------------------------- literals */

static uint32_t count_digits(const char *s, uint32_t i, uint32_t len)
{
    uint32_t k = i;
    while (k < len && is_digit(s[k]))
        k++;
    return k - i;
}

/* [-]D+.D+[(e|E)[+-]D+] or [-]D+(e|E)[+-]D+ */
static bool float_shape(const char *s, uint32_t len)
{
    uint32_t i = s[0] == '-' ? 1 : 0, n;
    if ((n = count_digits(s, i, len)) == 0)
        return false;
    i += n;
    bool frac = false;
    if (i < len && s[i] == '.') {
        if ((n = count_digits(s, i + 1, len)) == 0)
            return false;
        i += 1 + n;
        frac = true;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if ((n = count_digits(s, i, len)) == 0)
            return false;
        i += n;
        frac = true;
    }
    return frac && i == len;
}

static void classify_cidr(const char *s, uint32_t len, const char *slash, colog_qlitv_t *o)
{
    uint32_t alen = (uint32_t)(slash - s), plen = len - alen - 1;
    bool v6 = memchr(s, ':', alen) != NULL;
    unsigned maxp = v6 ? 128 : 32, prefix = 0;
    if (colog_ip_parse(s, alen, &o->ip) != 0) {
        o->why = "not a valid CIDR block: bad address";
        return;
    }
    if (plen == 0 || plen > 3 || count_digits(s, alen + 1, len) != plen) {
        o->why = "not a valid CIDR block: bad prefix length";
        return;
    }
    for (uint32_t i = alen + 1; i < len; i++)
        prefix = prefix * 10 + (unsigned)(s[i] - '0');
    if (prefix > maxp) {
        o->why = v6 ? "not a valid CIDR block: an IPv6 prefix is 0..128"
                    : "not a valid CIDR block: an IPv4 prefix is 0..32";
        return;
    }
    if (!v6)
        prefix += 96; /* IPv4 is stored as ::ffff:a.b.c.d */
    /* host bits are masked to zero: 10.1.2.3/8 is 10.0.0.0/8 */
    for (unsigned b = 0; b < 16; b++) {
        unsigned keep = prefix >= (b + 1) * 8 ? 8 : prefix > b * 8 ? prefix - b * 8 : 0;
        o->ip.b[b] &= (uint8_t)(0xFF00u >> keep);
    }
    o->prefix = (uint8_t)prefix;
    o->cls = QL_CIDR;
}

void colog__lit_classify(const char *s, uint32_t len, colog_qlitv_t *o)
{
    memset(o, 0, sizeof *o);
    o->cls = QL_BAD;
    o->why = "not a number, date, time, IP address, CIDR block or duration";
    if (len == 0)
        return;

    bool neg = s[0] == '-';
    uint32_t i0 = neg ? 1 : 0, nd = count_digits(s, i0, len);

    if (nd > 0 && i0 + nd == len) { /* integer */
        uint64_t v = 0;
        for (uint32_t i = i0; i < len; i++) {
            unsigned dg = (unsigned)(s[i] - '0');
            if (v > (UINT64_MAX - dg) / 10) {
                o->why = "integer out of range";
                return;
            }
            v = v * 10 + dg;
        }
        o->neg = neg && v != 0;
        o->mag = v;
        o->cls = QL_INT;
        return;
    }
    if (!neg && nd > 0 && nd + 1 == len && strchr("smhd", s[len - 1]) != NULL) {
        static const int64_t unit[] = {['s' - 'd'] = 1000000LL,
                                       ['m' - 'd'] = 60000000LL,
                                       ['h' - 'd'] = 3600000000LL,
                                       ['d' - 'd'] = 86400000000LL};
        int64_t u = unit[s[len - 1] - 'd'], v = 0;
        for (uint32_t i = 0; i < nd; i++) {
            if (v > (INT64_MAX / u - 9) / 10) {
                o->why = "duration out of range";
                return;
            }
            v = v * 10 + (s[i] - '0');
        }
        o->dur_us = v * u;
        o->cls = QL_DUR;
        return;
    }
    if (!neg && len >= 10 && nd == 4 && s[4] == '-') {
        if (len == 10) {
            if (colog_day_parse(s, len, &o->day) != 0) {
                o->why = "not a valid date (YYYY-MM-DD)";
                return;
            }
            o->y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
            o->mo = (s[5] - '0') * 10 + (s[6] - '0');
            o->d = (s[8] - '0') * 10 + (s[9] - '0');
            o->cls = QL_DATE;
            return;
        }
        if (s[10] == 'T' || s[10] == 't') {
            int64_t t0, t1;
            if (colog_time_parse(s, len, 0, &t0) != 0 || colog_time_parse(s, len, 3600, &t1) != 0) {
                o->why = "not a valid RFC 3339 time (2026-03-01T12:00:00Z)";
                return;
            }
            o->t_us = t0;
            o->has_zone = t0 == t1;
            o->cls = QL_DATETIME;
            return;
        }
    }
    if (float_shape(s, len)) {
        char buf[64];
        if (len >= sizeof buf) {
            o->why = "number too long";
            return;
        }
        memcpy(buf, s, len);
        buf[len] = 0;
        o->f = strtod(buf, NULL);
        o->cls = QL_FLOAT;
        return;
    }
    if (neg)
        return;
    const char *slash = memchr(s, '/', len);
    if (slash != NULL) {
        classify_cidr(s, len, slash, o);
        return;
    }
    if (colog_ip_parse(s, len, &o->ip) == 0) {
        o->cls = QL_IP;
        return;
    }
}
