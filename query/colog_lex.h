/*
 * colog_lex.h — This file is private to colog's query layer.
 *
 * The lexer of the query language (docs/QUERY.md) and the classifier of bare
 * literals. The lexer allocates nothing: it hands out tokens as (pos, len)
 * spans of the query text, one at a time; string tokens are unescaped on demand
 * into a buffer the caller provides.
 */
#ifndef COLOG_LEX_H
#define COLOG_LEX_H

#include "colog_query.h"

/* Longest query text accepted (positions are uint32_t). */
#define COLOG_Q_MAX_TEXT COLOG_QUERY_TEXT_MAX
/* Deepest nesting of parentheses and `not` while parsing, and deepest expression
 * tree (nodes on a root-to-leaf path) in a parsed query, scan_where included. */
#define COLOG_Q_MAX_DEPTH 256

/* Testing hook of colog_parse.c's arena (not thread-safe): when >= 0, the
 * allocation that many allocations from now fails (0: the next one); the
 * counter then rests at -1. */
extern long colog__qalloc_fail_after;

typedef enum colog_qtok {
    QT_EOF = 1,
    QT_ERR, /* lexical error: the lexer's err says what */
    QT_PIPE,
    QT_LPAREN,
    QT_RPAREN,
    QT_COMMA,
    QT_DOTDOT,
    QT_EQ,
    QT_NE,
    QT_LT,
    QT_LE,
    QT_GT,
    QT_GE,
    QT_IDENT, /* [A-Za-z_][A-Za-z0-9_]* that is not a keyword */
    QT_KW,    /* a reserved word: see kw */
    QT_LIT,   /* a bare literal run: see colog__lit_classify */
    QT_STR,   /* "double-quoted" (escapes checked; colog__lex_unescape) */
} colog_qtok_t;

/* X(name, text): the reserved words. */
#define COLOG_QKW_LIST(X)                                                                          \
    X(RANGE, "range")                                                                              \
    X(LAST, "last")                                                                                \
    X(WHERE, "where")                                                                              \
    X(STATS, "stats")                                                                              \
    X(BY, "by")                                                                                    \
    X(AS, "as")                                                                                    \
    X(TOP, "top")                                                                                  \
    X(BOTTOM, "bottom")                                                                            \
    X(SORT, "sort")                                                                                \
    X(ASC, "asc")                                                                                  \
    X(DESC, "desc")                                                                                \
    X(LIMIT, "limit")                                                                              \
    X(FIELDS, "fields")                                                                            \
    X(AND, "and")                                                                                  \
    X(OR, "or")                                                                                    \
    X(NOT, "not")                                                                                  \
    X(IN, "in")                                                                                    \
    X(BETWEEN, "between")                                                                          \
    X(CONTAINS, "contains")                                                                        \
    X(STARTSWITH, "startswith")                                                                    \
    X(ENDSWITH, "endswith")                                                                        \
    X(COUNT, "count")                                                                              \
    X(SUM, "sum")                                                                                  \
    X(MIN, "min")                                                                                  \
    X(MAX, "max")                                                                                  \
    X(AVG, "avg")                                                                                  \
    X(DCOUNT, "dcount")                                                                            \
    X(HOUR, "hour")                                                                                \
    X(DOW, "dow")                                                                                  \
    X(DAY, "day")                                                                                  \
    X(BIN, "bin")

typedef enum colog_qkw {
    QKW_NONE = 0,
#define COLOG__QKW_ENUM(name, text) QKW_##name,
    COLOG_QKW_LIST(COLOG__QKW_ENUM)
#undef COLOG__QKW_ENUM
} colog_qkw_t;

typedef struct colog_qtoken {
    colog_qtok_t kind;
    colog_qkw_t kw; /* QT_KW */
    uint32_t pos, len;
} colog_qtoken_t;

typedef struct colog_qlexer {
    const char *text;
    uint32_t len;
    uint32_t pos;
    colog_qerr_t err; /* set when a QT_ERR token is returned */
} colog_qlexer_t;

/* text[0..len) must stay valid while the lexer is used; len <= COLOG_Q_MAX_TEXT. */
void colog__lex_init(colog_qlexer_t *lx, const char *text, uint32_t len);
/* The next token. After QT_EOF or QT_ERR, returns the same token again.
 * Lexical errors: a character that starts no token ("unexpected character"),
 * an unterminated string (the whole rest of the text), a bad escape (the two
 * bytes of it). */
void colog__lex_next(colog_qlexer_t *lx, colog_qtoken_t *tok);
/* Unescape a QT_STR token into dst (capacity >= tok->len); returns its length. */
uint32_t colog__lex_unescape(const char *text, const colog_qtoken_t *tok, char *dst);
/* The text of a keyword. */
const char *colog__kw_text(colog_qkw_t kw);
/* The keyword spelled s[0..len), or QKW_NONE. */
colog_qkw_t colog__kw_find(const char *s, size_t len);

/* What a bare literal run is. */
typedef enum colog_qlitc {
    QL_BAD = 0,
    QL_INT,      /* [-]digits: neg, mag */
    QL_FLOAT,    /* [-]digits.digits[e[+-]digits] or [-]digits e[+-]digits: f */
    QL_DATE,     /* YYYY-MM-DD: day (and y, mo, d) */
    QL_DATETIME, /* RFC 3339 with T: t_us (wall time read as UTC if !has_zone) */
    QL_IP,       /* ip */
    QL_CIDR,     /* ip (host bits masked to zero), prefix (IPv6 terms) */
    QL_DUR,      /* digits(s|m|h|d): dur_us > 0 unless the digits are zero */
} colog_qlitc_t;

typedef struct colog_qlitv {
    colog_qlitc_t cls;
    bool neg;
    uint64_t mag;
    double f;
    int32_t day;
    int y, mo, d;
    int64_t t_us;
    bool has_zone;
    colog_ip_t ip;
    uint8_t prefix;
    int64_t dur_us;
    const char *why; /* QL_BAD: why (static text) */
} colog_qlitv_t;

/* Classify s[0..len) (a QT_LIT token). Never fails: QL_BAD says why. */
void colog__lit_classify(const char *s, uint32_t len, colog_qlitv_t *out);

#endif /* COLOG_LEX_H */
