/*
 * colog_ingest.c — ingest sessions: field conversion, the columnar batch, and
 * the flush that turns a batch into one sorted part per UTC day.
 *
 * NOTES ON THE DESIGN OF THE BATCH
 *
 * Rows arrive from a reader (colog_csv.c, colog_ndjson.c) as field text or JSON
 * numbers and are converted at once into column arrays, so a batch costs a few
 * bytes per value whatever the text looked like: u8..u32 at their own width,
 * time / i64 / u64 / f64 at 8 bytes, ip and string columns as 4-byte codes into
 * a per-batch intern table (open addressing, linear probing, XXH3 hashes, load
 * <= 3/4; strings live in one arena shared by all columns, ips in an array, and
 * an IPv4 address sits whole in its slot, so the common lookup touches one cache
 * line). The rules of the text (what parses as what) are colog__value_parse's,
 * and the "1 day ahead of the clock" limit is taken from the clock (or
 * opts.now_us) at each colog_ingest_file. A flush
 * sorts the rows by time (LSD radix sort of (time - min, row) pairs, stable, or
 * nothing at all when the input is already in order), cuts the sorted rows into
 * UTC days and, for each day, gives the part sink each column in schema order:
 * ip/string columns with a dictionary of just the values the day uses, sorted
 * (bytewise / colog_ip_cmp), and their batch codes remapped to its codes.
 *
 * Invariants:
 *  1. Rows [0, n) are accepted rows. For each of them and each column, bit r of
 *     valid[] is set iff the value is present; a present value is converted and
 *     in range for its type (codes < that column's intern n), an absent one is 0.
 *  2. Slot n is scratch: a row in assembly writes there, and a rejected row is
 *     forgotten by not advancing n (its interned strings stay in the tables,
 *     unused; a day's dictionary holds only the codes its rows use).
 *  3. cols[c].has_null is false only if every accepted row has column c.
 *  4. n <= alloc; alloc grows by doubling, and colog__ingest_full() asks for a
 *     flush at cap_rows rows, or when the arena or the intern tables pass their
 *     bounds (COLOG_INGEST_*_MAX), so memory stays bounded for any input.
 *  5. remap[] (flush scratch) is all NONE between columns of a flush.
 *  6. After a failed flush the session is dead (failed != 0): part of the batch
 *     may be committed, so retrying would duplicate it; every later call
 *     returns the same error.
 */
#define XXH_INLINE_ALL
#include "colog_ingest_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define NONE UINT32_MAX
#define US_PER_DAY 86400000000LL
#define CHUNK COLOG_BLOCK_ROWS
#define DEFAULT_BATCH_ROWS ((size_t)1 << 20)
#define FIRST_ALLOC 65536u
#define FIRST_SLOTS 1024u
/* Bytes of intern tables per entry, at worst: slots at >= 3/8 load (8 / (3/8)
 * = 21.3 bytes) + the entry (8 or 16 bytes). */
#define ENTRY_COST 40u

typedef struct strent {
    uint32_t off, len; /* arena[off .. off + len) */
} strent_t;

/* An intern table: value -> dense code (0, 1, ...) in order of first sight. */
typedef struct intern {
    uint64_t *slots; /* 0 = empty; see SLOT_HI below */
    uint32_t mask;   /* number of slots - 1 (a power of two minus one) */
    uint32_t n;      /* entries */
    uint32_t cap;    /* entries allocated */
    strent_t *str;   /* string columns */
    colog_ip_t *ip;  /* ip columns */
} intern_t;

typedef struct colbuf {
    colog_type_t type;
    unsigned width; /* bytes per value in vals */
    bool has_null;  /* invariant 3 */
    void *vals;
    uint8_t *valid;
    intern_t *in; /* ip and string columns */
} colbuf_t;

/* The sink context of a real store. */
typedef struct pwctx {
    colog_store_t *st;
    colog_pw_t *pw;
} pwctx_t;

struct colog_ingest {
    colog_schema_t schema;
    colog_ingest_opts_t opts;
    const colog_partsink_t *sink;
    void *ctx;
    pwctx_t pwc;
    int failed;       /* invariant 6 */
    int64_t ts_limit; /* latest accepted event time (clock + 1 day) */

    /* the batch */
    size_t n, alloc, cap_rows;
    uint64_t allmask, rowmask; /* columns of the schema / put in the current row */
    colbuf_t cols[COLOG_MAX_COLS];
    char *arena;
    size_t arena_len, arena_cap;
    size_t entries; /* intern entries of all columns */

    /* flush scratch, kept for reuse */
    uint64_t *k0, *k1;
    uint32_t *i0, *i1;
    size_t sort_cap;
    uint32_t *remap; /* invariant 5 */
    size_t remap_cap;
    uint32_t *dlist; /* a day's distinct codes of one column */
    uint32_t *doffs;
    char *dbytes;
    colog_ip_t *dips;
    size_t dlist_cap, dbytes_cap;
    uint8_t *chunk; /* CHUNK values of 8 bytes */
    uint8_t vchunk[CHUNK / 8];

    colog_ingest_stats_t stats;
    char why[512];
    int32_t *days; /* days written by this session, ascending, distinct */
    size_t ndays, days_cap;
};

static int note_day(colog_ingest_t *ing, int32_t day);

/* ---------------------------------------------------------------- showing values */

void colog__show(char *dst, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0, lim = len < COLOG_SHOW_MAX ? len : COLOG_SHOW_MAX;
    if (cap == 0)
        return;
    while (i < lim) {
        unsigned char c = (unsigned char)s[i];
        int k = 1;
        if (c >= 0x80)
            k = colog__utf8_seq((const uint8_t *)s + i, (const uint8_t *)s + len);
        if (k > 1 && i + (size_t)k > lim)
            break; /* don't split a character */
        bool esc = c < 0x20 || c == 0x7f || c == '\\' || k <= 0;
        size_t need = esc ? 4 : (size_t)k;
        if (o + need + 4 > cap) /* keep room for "..." and the NUL */
            break;
        if (esc) {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
            i++;
        } else {
            memcpy(dst + o, s + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        }
    }
    if (i < len && o + 4 <= cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = 0;
}

/* ---------------------------------------------------------------- conversion */

/* Decimal magnitude of s[0..len): 0, COLOG_EPARSE (not digits), COLOG_ERANGE. */
static int parse_digits(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return COLOG_EPARSE;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return COLOG_EPARSE;
        if (v > (UINT64_MAX - d) / 10) {
            /* Keep checking the syntax: "99999999999999999999x" is not a number. */
            for (i++; i < len; i++)
                if ((unsigned)(unsigned char)s[i] - '0' > 9)
                    return COLOG_EPARSE;
            return COLOG_ERANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Canonical dotted quad without leading zeros; false means "ask inet_pton". */
static bool parse_ip4_fast(const char *s, size_t len, colog_ip_t *out)
{
    uint8_t q[4];
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < len && i - start < 3 && (unsigned)(unsigned char)s[i] - '0' <= 9)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return false;
        q[k] = (uint8_t)v;
    }
    if (i != len)
        return false;
    memset(out->b, 0, 10);
    out->b[10] = 0xff;
    out->b[11] = 0xff;
    memcpy(out->b + 12, q, 4);
    return true;
}

static int bad_value(int code, colog_type_t t, const char *s, size_t len, char *why, size_t cap)
{
    char shown[COLOG_SHOW_MAX * 4 + 8];
    colog__show(shown, sizeof shown, s, len);
    if (code == COLOG_ERANGE)
        snprintf(why, cap, "%s out of range for %s", shown, colog_type_name(t));
    else
        snprintf(why, cap, "'%s' is not a valid %s", shown, colog_type_name(t));
    return code;
}

static int parse_f64(const char *s, size_t len, double *out)
{
    char buf[400];
    if (len == 0 || len >= sizeof buf)
        return len == 0 ? COLOG_EPARSE : COLOG_ERANGE;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
            return COLOG_EPARSE;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len)
        return COLOG_EPARSE;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        return COLOG_ERANGE;
    if (!isfinite(v))
        return COLOG_EPARSE;
    *out = v; /* an underflow to 0 or a subnormal is fine */
    return 0;
}

int colog__value_parse(colog_type_t t, const char *s, size_t len, colog_value_t *out, char *why,
                       size_t cap)
{
    int rc = 0;
    uint64_t u;
    switch (t) {
    case COLOG_T_STRING:
        out->s.p = s;
        out->s.len = len;
        return 0;
    case COLOG_T_IP:
        if (parse_ip4_fast(s, len, &out->ip))
            return 0;
        rc = colog_ip_parse(s, len, &out->ip);
        break;
    case COLOG_T_TIME:
        rc = colog_time_parse(s, len, 0, &out->i);
        if (rc != 0 && rc != COLOG_ERANGE)
            rc = COLOG_EPARSE;
        break;
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64: {
        bool neg = len > 0 && s[0] == '-';
        rc = parse_digits(s + neg, len - neg, &u);
        if (rc == 0 && ((neg && u != 0) || u > colog_type_umax(t)))
            rc = COLOG_ERANGE;
        if (rc == 0)
            out->u = u;
        break;
    }
    case COLOG_T_I64: {
        bool neg = len > 0 && s[0] == '-';
        rc = parse_digits(s + neg, len - neg, &u);
        if (rc == 0 && u > (uint64_t)INT64_MAX + neg)
            rc = COLOG_ERANGE;
        if (rc == 0)
            out->i = neg ? (int64_t)(0 - u) : (int64_t)u;
        break;
    }
    case COLOG_T_F64:
        rc = parse_f64(s, len, &out->f);
        break;
    }
    if (rc != 0)
        return bad_value(rc, t, s, len, why, cap);
    return 0;
}

/* ---------------------------------------------------------------- intern tables */

static uint64_t hash_str(const char *s, size_t len)
{
    return XXH3_64bits(s, len);
}

static uint64_t hash_ip(const colog_ip_t *ip)
{
    return XXH3_64bits(ip->b, sizeof ip->b);
}

static intern_t *intern_new(void)
{
    intern_t *in = calloc(1, sizeof *in);
    if (in == NULL)
        return NULL;
    in->slots = calloc(FIRST_SLOTS, sizeof *in->slots);
    in->mask = FIRST_SLOTS - 1;
    if (in->slots == NULL) {
        free(in);
        return NULL;
    }
    return in;
}

static void intern_free(intern_t *in)
{
    if (in == NULL)
        return;
    free(in->slots);
    free(in->str);
    free(in->ip);
    free(in);
}

static void intern_clear(intern_t *in)
{
    memset(in->slots, 0, ((size_t)in->mask + 1) * sizeof *in->slots);
    in->n = 0;
}

/*
 * Slots are 64 bits: the low half is code + 1 (0 = empty), the high half a
 * check. For strings and IPv6 the check is the hash's high 32 bits, confirmed
 * against the entry. An IPv4 address fits the high half whole, so its slot
 * holds the value itself (marked by SLOT_V4 in the low half) and a lookup needs
 * no second memory access: most addresses are IPv4, and the entry array of a
 * busy ip column is far out of cache.
 */
#define SLOT_HI 0xffffffff00000000ull
#define SLOT_V4 0x80000000ull /* codes stay below 2^30 (intern_grow_entries) */

static uint64_t ip_key(const colog_ip_t *ip, uint64_t h)
{
    if (colog_ip_is_v4(ip)) {
        uint32_t a;
        memcpy(&a, ip->b + 12, 4);
        return (uint64_t)a << 32 | SLOT_V4;
    }
    return h & SLOT_HI;
}

/* Double the slots; rehash from the stored values. */
static int intern_rehash(colog_ingest_t *ing, intern_t *in)
{
    size_t nslots = ((size_t)in->mask + 1) * 2;
    if (nslots > ((size_t)1 << 32))
        return colog_seterr(COLOG_ELIMIT, "ingest: too many distinct values in one batch");
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (intern table of %zu slots)",
                            nslots);
    uint32_t mask = (uint32_t)(nslots - 1);
    for (uint32_t c = 0; c < in->n; c++) {
        uint64_t h, key;
        if (in->str) {
            h = hash_str(ing->arena + in->str[c].off, in->str[c].len);
            key = h & SLOT_HI;
        } else {
            h = hash_ip(&in->ip[c]);
            key = ip_key(&in->ip[c], h);
        }
        uint32_t i = (uint32_t)h & mask;
        while (slots[i] != 0)
            i = (i + 1) & mask;
        slots[i] = key | (c + 1u);
    }
    free(in->slots);
    in->slots = slots;
    in->mask = mask;
    return 0;
}

static int intern_grow_entries(intern_t *in, size_t esize, void **arr)
{
    uint32_t cap = in->cap ? in->cap * 2 : 1024;
    if (in->cap >= (1u << 30))
        return colog_seterr(COLOG_ELIMIT, "ingest: too many distinct values in one batch");
    void *p = realloc(*arr, (size_t)cap * esize);
    if (p == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (intern entries)");
    *arr = p;
    in->cap = cap;
    return 0;
}

/* Fill slot i for the new code (key: the slot's high half and flags), growing
 * the table past half load. */
static int intern_added(colog_ingest_t *ing, intern_t *in, uint32_t i, uint64_t key)
{
    in->slots[i] = key | (in->n + 1u);
    in->n++;
    ing->entries++;
    if ((size_t)in->n * 4 > ((size_t)in->mask + 1) * 3) /* load <= 3/4 */
        return intern_rehash(ing, in);
    return 0;
}

static int arena_reserve(colog_ingest_t *ing, size_t len)
{
    if (ing->arena_len + len <= ing->arena_cap)
        return 0;
    size_t need = ing->arena_len + len;
    if (need > UINT32_MAX)
        return colog_seterr(COLOG_ELIMIT, "ingest: string bytes of one batch exceed 4 GiB");
    size_t cap = ing->arena_cap ? ing->arena_cap * 2 : (size_t)1 << 20;
    /* Don't double far past the flush bound: the arena never grows much beyond it. */
    if (cap > COLOG_INGEST_ARENA_MAX + ((size_t)4 << 20))
        cap = COLOG_INGEST_ARENA_MAX + ((size_t)4 << 20);
    if (cap < need)
        cap = need;
    char *p = realloc(ing->arena, cap);
    if (p == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (string arena of %zu bytes)", cap);
    ing->arena = p;
    ing->arena_cap = cap;
    return 0;
}

/* a[0..n) == b[0..n) without a libc call for the short strings logs are full of. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t x0, x1, y0, y1;
        memcpy(&x0, a, 8);
        memcpy(&y0, b, 8);
        memcpy(&x1, a + n - 8, 8);
        memcpy(&y1, b + n - 8, 8);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t x0, x1, y0, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return false;
        return true;
    }
    return memcmp(a, b, n) == 0;
}

/* Code of s[0..len) (h = hash_str of it), adding it if new. */
static int intern_str(colog_ingest_t *ing, intern_t *in, const char *s, size_t len, uint64_t h,
                      uint32_t *code)
{
    uint64_t key = h & SLOT_HI;
    uint32_t i = (uint32_t)h & in->mask;
    for (;;) {
        uint64_t sl = in->slots[i];
        if (sl == 0)
            break;
        if ((sl & SLOT_HI) == key) {
            uint32_t c = (uint32_t)sl - 1;
            const strent_t *e = &in->str[c];
            if (e->len == len && same_bytes(ing->arena + e->off, s, len)) {
                *code = c;
                return 0;
            }
        }
        i = (i + 1) & in->mask;
    }
    int rc;
    if (in->n == in->cap && (rc = intern_grow_entries(in, sizeof *in->str, (void **)&in->str)) < 0)
        return rc;
    if ((rc = arena_reserve(ing, len)) < 0)
        return rc;
    if (len > 0)
        memcpy(ing->arena + ing->arena_len, s, len);
    in->str[in->n] = (strent_t){.off = (uint32_t)ing->arena_len, .len = (uint32_t)len};
    ing->arena_len += len;
    *code = in->n;
    return intern_added(ing, in, i, key);
}

/* Code of ip (h = hash_ip of it), adding it if new. */
static int intern_ip(colog_ingest_t *ing, intern_t *in, const colog_ip_t *ip, uint64_t h,
                     uint32_t *code)
{
    uint64_t key = ip_key(ip, h);
    const uint64_t check = SLOT_HI | SLOT_V4;
    bool v4 = (key & SLOT_V4) != 0;
    uint32_t i = (uint32_t)h & in->mask;
    for (;;) {
        uint64_t sl = in->slots[i];
        if (sl == 0)
            break;
        if ((sl & check) == key) {
            uint32_t c = (uint32_t)(sl & ~check) - 1;
            if (v4 || memcmp(in->ip[c].b, ip->b, 16) == 0) {
                *code = c;
                return 0;
            }
        }
        i = (i + 1) & in->mask;
    }
    int rc;
    if (in->n == in->cap && (rc = intern_grow_entries(in, sizeof *in->ip, (void **)&in->ip)) < 0)
        return rc;
    in->ip[in->n] = *ip;
    *code = in->n;
    return intern_added(ing, in, i, key);
}

/* ---------------------------------------------------------------- session */

static unsigned type_width(colog_type_t t)
{
    switch (t) {
    case COLOG_T_U8:
        return 1;
    case COLOG_T_U16:
        return 2;
    case COLOG_T_U32:
    case COLOG_T_IP:
    case COLOG_T_STRING:
        return 4;
    case COLOG_T_TIME:
    case COLOG_T_U64:
    case COLOG_T_I64:
    case COLOG_T_F64:
        return 8;
    }
    return 8;
}

static void free_batch(colog_ingest_t *ing)
{
    for (unsigned c = 0; c < ing->schema.ncols; c++) {
        free(ing->cols[c].vals);
        free(ing->cols[c].valid);
        intern_free(ing->cols[c].in);
    }
    free(ing->arena);
    free(ing->k0);
    free(ing->k1);
    free(ing->i0);
    free(ing->i1);
    free(ing->remap);
    free(ing->dlist);
    free(ing->doffs);
    free(ing->dbytes);
    free(ing->dips);
    free(ing->chunk);
}

int colog__ingest_new(const colog_schema_t *schema, const colog_ingest_opts_t *opts,
                      const colog_partsink_t *sink, void *ctx, colog_ingest_t **out)
{
    if (schema == NULL || sink == NULL || out == NULL || schema->ncols == 0 ||
        schema->ncols > COLOG_MAX_COLS || schema->cols[0].type != COLOG_T_TIME)
        return colog_seterr(COLOG_EINVAL, "ingest: invalid argument");
    colog_ingest_t *ing = calloc(1, sizeof *ing);
    if (ing == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory");
    ing->schema = *schema;
    if (opts)
        ing->opts = *opts;
    ing->sink = sink;
    ing->ctx = ctx;
    ing->allmask = schema->ncols == 64 ? ~0ull : (1ull << schema->ncols) - 1;

    size_t row_bytes = 0;
    for (unsigned c = 0; c < schema->ncols; c++) {
        colbuf_t *cb = &ing->cols[c];
        cb->type = schema->cols[c].type;
        cb->width = type_width(cb->type);
        row_bytes += cb->width;
        if (colog_type_is_dict(cb->type) && (cb->in = intern_new()) == NULL)
            goto out_free;
    }
    /* Valid bits: ncols / 8 bytes a row, rounded up generously. */
    row_bytes += (schema->ncols + 7) / 8;
    size_t want = ing->opts.batch_rows ? ing->opts.batch_rows : DEFAULT_BATCH_ROWS;
    size_t fit = COLOG_INGEST_ARRAY_MAX / row_bytes;
    ing->cap_rows = want < fit ? want : fit;
    if (ing->cap_rows == 0)
        ing->cap_rows = 1;
    if ((ing->chunk = malloc((size_t)CHUNK * 8)) == NULL)
        goto out_free;
    ing->ts_limit = INT64_MAX;
    *out = ing;
    return 0;

out_free:
    free_batch(ing);
    free(ing);
    return colog_seterr(COLOG_ENOMEM, "ingest: out of memory");
}

const colog_schema_t *colog__ingest_schema(const colog_ingest_t *ing)
{
    return &ing->schema;
}

void colog__ingest_reject(colog_ingest_t *ing, const char *src, uint64_t line, uint64_t col,
                          const char *fmt, ...)
{
    ing->stats.rows_rejected++;
    if (ing->opts.reject == NULL)
        return;
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    ing->opts.reject(ing->opts.reject_ctx, src, line, col, reason);
}

const char *colog__ingest_why(const colog_ingest_t *ing)
{
    return ing->why;
}

bool colog__ingest_full(const colog_ingest_t *ing)
{
    return ing->n >= ing->cap_rows || ing->arena_len >= COLOG_INGEST_ARENA_MAX ||
           ing->entries >= COLOG_INGEST_TABLE_MAX / ENTRY_COST;
}

size_t colog__ingest_nrows(const colog_ingest_t *ing)
{
    return ing->n;
}

/* ---------------------------------------------------------------- rows */

static int grow_rows(colog_ingest_t *ing)
{
    size_t alloc = ing->alloc ? ing->alloc * 2 : FIRST_ALLOC;
    if (ing->alloc < ing->cap_rows && alloc > ing->cap_rows)
        alloc = ing->cap_rows; /* don't overshoot the flush point */
    if (alloc >= UINT32_MAX)
        return colog_seterr(COLOG_ELIMIT, "ingest: more than 2^32 rows in one batch");
    for (unsigned c = 0; c < ing->schema.ncols; c++) {
        colbuf_t *cb = &ing->cols[c];
        void *v = realloc(cb->vals, alloc * cb->width);
        if (v == NULL)
            goto out_nomem;
        cb->vals = v;
        uint8_t *b = realloc(cb->valid, alloc / 8 + 1);
        if (b == NULL)
            goto out_nomem;
        cb->valid = b;
    }
    ing->alloc = alloc;
    return 0;

out_nomem: /* the arrays that did grow stay usable at the old size */
    return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (batch of %zu rows)", alloc);
}

int colog__row_begin(colog_ingest_t *ing)
{
    if (ing->n >= ing->alloc) {
        int rc = grow_rows(ing);
        if (rc < 0)
            return rc;
    }
    ing->rowmask = 0;
    return 0;
}

static void set_valid(colbuf_t *cb, size_t r)
{
    cb->valid[r >> 3] |= (uint8_t)(1u << (r & 7));
}

/* Store v (already range-checked) at row n of column cb. */
static void store_num(colbuf_t *cb, size_t r, const colog_value_t *v)
{
    switch (cb->type) {
    case COLOG_T_U8:
        ((uint8_t *)cb->vals)[r] = (uint8_t)v->u;
        break;
    case COLOG_T_U16:
        ((uint16_t *)cb->vals)[r] = (uint16_t)v->u;
        break;
    case COLOG_T_U32:
        ((uint32_t *)cb->vals)[r] = (uint32_t)v->u;
        break;
    case COLOG_T_U64:
        ((uint64_t *)cb->vals)[r] = v->u;
        break;
    case COLOG_T_TIME:
    case COLOG_T_I64:
        ((int64_t *)cb->vals)[r] = v->i;
        break;
    case COLOG_T_F64:
        ((double *)cb->vals)[r] = v->f;
        break;
    case COLOG_T_IP:
    case COLOG_T_STRING:
        break;
    }
}

/* Event time: the "1 day ahead" rule. text/len shows the value in the reason. */
static int check_time(colog_ingest_t *ing, unsigned col, int64_t us, const char *text, size_t len)
{
    if (col != 0 || us <= ing->ts_limit)
        return 0;
    char shown[COLOG_SHOW_MAX * 4 + 8];
    colog__show(shown, sizeof shown, text, len);
    snprintf(ing->why, sizeof ing->why, "%s: %s: time more than 1 day ahead of the clock",
             ing->schema.cols[col].name, shown);
    return COLOG_ERANGE;
}

int colog__row_put_text(colog_ingest_t *ing, unsigned col, const char *s, size_t len)
{
    if (len == 0)
        return 0; /* absent */
    colbuf_t *cb = &ing->cols[col];
    size_t r = ing->n;
    colog_value_t v;
    int rc;
    if (cb->type == COLOG_T_STRING) {
        rc = intern_str(ing, cb->in, s, len, hash_str(s, len), &((uint32_t *)cb->vals)[r]);
        if (rc < 0)
            return rc;
    } else {
        char why[COLOG_SHOW_MAX * 4 + 64];
        rc = colog__value_parse(cb->type, s, len, &v, why, sizeof why);
        if (rc < 0) {
            snprintf(ing->why, sizeof ing->why, "%s: %s", ing->schema.cols[col].name, why);
            return rc;
        }
        if (cb->type == COLOG_T_IP) {
            rc = intern_ip(ing, cb->in, &v.ip, hash_ip(&v.ip), &((uint32_t *)cb->vals)[r]);
            if (rc < 0)
                return rc;
        } else {
            if (cb->type == COLOG_T_TIME && (rc = check_time(ing, col, v.i, s, len)) < 0)
                return rc;
            store_num(cb, r, &v);
        }
    }
    set_valid(cb, r);
    ing->rowmask |= 1ull << col;
    return 0;
}

/* Shortest %g text that reads back as v. */
static void fmt_double(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

static int number_rejected(colog_ingest_t *ing, unsigned col, int code, const char *text)
{
    const colog_column_t *c = &ing->schema.cols[col];
    if (colog_type_is_dict(c->type))
        snprintf(ing->why, sizeof ing->why, "%s: JSON number %s is not a valid %s", c->name, text,
                 colog_type_name(c->type));
    else if (code == COLOG_ERANGE)
        snprintf(ing->why, sizeof ing->why, "%s: %s out of range for %s", c->name, text,
                 colog_type_name(c->type));
    else
        snprintf(ing->why, sizeof ing->why, "%s: %s is not a valid %s", c->name, text,
                 colog_type_name(c->type));
    return code;
}

int colog__row_put_int(colog_ingest_t *ing, unsigned col, int64_t x)
{
    colbuf_t *cb = &ing->cols[col];
    char text[32];
    colog_value_t v;
    snprintf(text, sizeof text, "%lld", (long long)x);
    switch (cb->type) {
    case COLOG_T_IP:
    case COLOG_T_STRING:
        return number_rejected(ing, col, COLOG_EPARSE, text);
    case COLOG_T_TIME: {
        if (x > INT64_MAX / 1000000 || x < INT64_MIN / 1000000)
            return number_rejected(ing, col, COLOG_ERANGE, text);
        v.i = x * 1000000;
        int rc = check_time(ing, col, v.i, text, strlen(text));
        if (rc < 0)
            return rc;
        break;
    }
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
        if (x < 0 || (uint64_t)x > colog_type_umax(cb->type))
            return number_rejected(ing, col, COLOG_ERANGE, text);
        v.u = (uint64_t)x;
        break;
    case COLOG_T_I64:
        v.i = x;
        break;
    case COLOG_T_F64:
        v.f = (double)x;
        break;
    }
    store_num(cb, ing->n, &v);
    set_valid(cb, ing->n);
    ing->rowmask |= 1ull << col;
    return 0;
}

int colog__row_put_real(colog_ingest_t *ing, unsigned col, double x)
{
    colbuf_t *cb = &ing->cols[col];
    char text[40];
    colog_value_t v;
    fmt_double(text, sizeof text, x);
    if (!isfinite(x))
        return number_rejected(ing, col, COLOG_EPARSE, text);
    switch (cb->type) {
    case COLOG_T_IP:
    case COLOG_T_STRING:
        return number_rejected(ing, col, COLOG_EPARSE, text);
    case COLOG_T_TIME: {
        double us = x * 1e6;
        if (!(us > -9.2e18 && us < 9.2e18))
            return number_rejected(ing, col, COLOG_ERANGE, text);
        v.i = llround(us);
        int rc = check_time(ing, col, v.i, text, strlen(text));
        if (rc < 0)
            return rc;
        break;
    }
    case COLOG_T_U8:
    case COLOG_T_U16:
    case COLOG_T_U32:
    case COLOG_T_U64:
        if (x != trunc(x))
            return number_rejected(ing, col, COLOG_EPARSE, text);
        /* 18446744073709551616.0 is 2^64, the first double past UINT64_MAX */
        if (x < 0 || x >= 18446744073709551616.0 || (uint64_t)x > colog_type_umax(cb->type))
            return number_rejected(ing, col, COLOG_ERANGE, text);
        v.u = (uint64_t)x;
        break;
    case COLOG_T_I64:
        if (x != trunc(x))
            return number_rejected(ing, col, COLOG_EPARSE, text);
        if (x < -9223372036854775808.0 || x >= 9223372036854775808.0)
            return number_rejected(ing, col, COLOG_ERANGE, text);
        v.i = (int64_t)x;
        break;
    case COLOG_T_F64:
        v.f = x;
        break;
    }
    store_num(cb, ing->n, &v);
    set_valid(cb, ing->n);
    ing->rowmask |= 1ull << col;
    return 0;
}

int colog__row_end(colog_ingest_t *ing)
{
    if (!(ing->rowmask & 1)) {
        snprintf(ing->why, sizeof ing->why, "%s: missing event time", ing->schema.cols[0].name);
        return COLOG_EPARSE;
    }
    size_t r = ing->n;
    uint64_t absent = ing->allmask & ~ing->rowmask;
    while (absent) {
        unsigned c = (unsigned)__builtin_ctzll(absent);
        absent &= absent - 1;
        colbuf_t *cb = &ing->cols[c];
        cb->valid[r >> 3] &= (uint8_t) ~(1u << (r & 7));
        cb->has_null = true;
        /* A defined value under every absent one: the writer sees zeros. */
        memset((char *)cb->vals + r * cb->width, 0, cb->width);
    }
    ing->n++;
    ing->stats.rows_ok++;
    return 0;
}

bool colog__ingest_value(const colog_ingest_t *ing, size_t r, unsigned col, colog_value_t *out)
{
    if (r >= ing->n || col >= ing->schema.ncols)
        return false;
    const colbuf_t *cb = &ing->cols[col];
    if (!colog_valid(cb->valid, (uint32_t)r))
        return false;
    switch (cb->type) {
    case COLOG_T_U8:
        out->u = ((const uint8_t *)cb->vals)[r];
        break;
    case COLOG_T_U16:
        out->u = ((const uint16_t *)cb->vals)[r];
        break;
    case COLOG_T_U32:
        out->u = ((const uint32_t *)cb->vals)[r];
        break;
    case COLOG_T_U64:
        out->u = ((const uint64_t *)cb->vals)[r];
        break;
    case COLOG_T_TIME:
    case COLOG_T_I64:
        out->i = ((const int64_t *)cb->vals)[r];
        break;
    case COLOG_T_F64:
        out->f = ((const double *)cb->vals)[r];
        break;
    case COLOG_T_IP:
        out->ip = cb->in->ip[((const uint32_t *)cb->vals)[r]];
        break;
    case COLOG_T_STRING: {
        const strent_t *e = &cb->in->str[((const uint32_t *)cb->vals)[r]];
        out->s.p = ing->arena + e->off;
        out->s.len = e->len;
        break;
    }
    }
    return true;
}

/* ---------------------------------------------------------------- flush: sort */

static int ensure_sort(colog_ingest_t *ing, size_t n)
{
    if (n <= ing->sort_cap)
        return 0;
    free(ing->k0);
    free(ing->k1);
    free(ing->i0);
    free(ing->i1);
    ing->k0 = malloc(n * sizeof *ing->k0);
    ing->k1 = malloc(n * sizeof *ing->k1);
    ing->i0 = malloc(n * sizeof *ing->i0);
    ing->i1 = malloc(n * sizeof *ing->i1);
    if (!ing->k0 || !ing->k1 || !ing->i0 || !ing->i1) {
        ing->sort_cap = 0;
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (sorting %zu rows)", n);
    }
    ing->sort_cap = n;
    return 0;
}

#define RADIX_BITS 11
#define RADIX (1u << RADIX_BITS)

/* The rows in ascending time order, equal times in input order. Points into
 * ing's scratch (valid until the next flush). */
static int sort_rows(colog_ingest_t *ing, const uint32_t **perm)
{
    size_t n = ing->n;
    const int64_t *ts = ing->cols[0].vals;
    int rc = ensure_sort(ing, n);
    if (rc < 0)
        return rc;
    uint32_t *idx = ing->i0;
    bool sorted = true;
    int64_t mn = ts[0], mx = ts[0];
    for (size_t i = 1; i < n; i++) {
        sorted &= ts[i] >= ts[i - 1];
        mn = ts[i] < mn ? ts[i] : mn;
        mx = ts[i] > mx ? ts[i] : mx;
    }
    if (sorted) {
        for (size_t i = 0; i < n; i++)
            idx[i] = (uint32_t)i;
        *perm = idx;
        return 0;
    }

    uint64_t range = (uint64_t)mx - (uint64_t)mn; /* > 0: not sorted */
    unsigned passes = (64u - (unsigned)__builtin_clzll(range) + RADIX_BITS - 1) / RADIX_BITS;
    uint32_t(*hist)[RADIX] = calloc(passes, sizeof *hist);
    if (hist == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (sort histograms)");
    uint64_t *ka = ing->k0, *kb = ing->k1;
    uint32_t *ia = ing->i0, *ib = ing->i1;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = (uint64_t)ts[i] - (uint64_t)mn;
        ka[i] = k;
        ia[i] = (uint32_t)i;
        for (unsigned p = 0; p < passes; p++)
            hist[p][(k >> (p * RADIX_BITS)) & (RADIX - 1)]++;
    }
    for (unsigned p = 0; p < passes; p++) {
        unsigned shift = p * RADIX_BITS;
        if (hist[p][(ka[0] >> shift) & (RADIX - 1)] == n)
            continue; /* every key has the same digit */
        uint32_t off = 0;
        for (unsigned d = 0; d < RADIX; d++) {
            uint32_t c = hist[p][d];
            hist[p][d] = off;
            off += c;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t pos = hist[p][(ka[i] >> shift) & (RADIX - 1)]++;
            kb[pos] = ka[i];
            ib[pos] = ia[i];
        }
        uint64_t *kt = ka;
        ka = kb;
        kb = kt;
        uint32_t *it = ia;
        ia = ib;
        ib = it;
    }
    free(hist);
    *perm = ia;
    return 0;
}

/* ---------------------------------------------------------------- flush: dictionaries */

static int grow_u32(uint32_t **arr, size_t *cap, size_t need, uint32_t fill, bool do_fill)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    uint32_t *p = realloc(*arr, ncap * sizeof *p);
    if (p == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (flush scratch)");
    if (do_fill)
        for (size_t i = *cap; i < ncap; i++)
            p[i] = fill;
    *arr = p;
    *cap = ncap;
    return 0;
}

typedef struct sortctx {
    const strent_t *str;
    const char *arena;
} sortctx_t;

static int cmp_str_code(const void *a, const void *b, void *arg)
{
    const sortctx_t *c = arg;
    const strent_t *x = &c->str[*(const uint32_t *)a], *y = &c->str[*(const uint32_t *)b];
    size_t m = x->len < y->len ? x->len : y->len;
    int r = memcmp(c->arena + x->off, c->arena + y->off, m);
    if (r != 0)
        return r;
    return (x->len > y->len) - (x->len < y->len);
}

/* An ip as two big-endian halves, so that comparing (hi, lo) is colog_ip_cmp. */
typedef struct ipkey {
    uint64_t hi, lo;
    uint32_t code;
} ipkey_t;

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int cmp_ipkey(const void *a, const void *b)
{
    const ipkey_t *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* The day's dictionary of a dict column: the distinct codes of rows[0..m),
 * sorted by value, as a view into ing's scratch; remap[batch code] = day code.
 * Returns the number of distinct codes in *nd (for unmap_day_dict). */
static int build_day_dict(colog_ingest_t *ing, const colbuf_t *cb, const uint32_t *rows, uint32_t m,
                          colog_dictview_t *dv, uint32_t *nd_out)
{
    intern_t *in = cb->in;
    int rc = grow_u32(&ing->remap, &ing->remap_cap, in->n, NONE, true);
    if (rc == 0)
        rc = grow_u32(&ing->dlist, &ing->dlist_cap, in->n + 1, 0, false);
    if (rc < 0)
        return rc;
    const uint32_t *codes = cb->vals;
    uint32_t *remap = ing->remap, *list = ing->dlist, nd = 0;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t r = rows[i];
        if (cb->has_null && !colog_valid(cb->valid, r))
            continue;
        uint32_t c = codes[r];
        if (remap[c] == NONE) {
            remap[c] = 0;
            list[nd++] = c;
        }
    }
    *nd_out = nd;

    sortctx_t sc = {.str = in->str, .arena = ing->arena};
    memset(dv, 0, sizeof *dv);
    dv->type = cb->type;
    dv->n = nd;
    if (cb->type == COLOG_T_STRING) {
        qsort_r(list, nd, sizeof *list, cmp_str_code, &sc);
        size_t total = 0;
        for (uint32_t i = 0; i < nd; i++)
            total += in->str[list[i]].len;
        if (total > UINT32_MAX)
            return colog_seterr(COLOG_ELIMIT, "ingest: a day's dictionary exceeds 4 GiB");
        size_t cap = ing->dlist_cap; /* doffs is sized like dlist */
        uint32_t *offs = realloc(ing->doffs, cap * sizeof *offs);
        if (offs == NULL)
            return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (day dictionary)");
        ing->doffs = offs;
        if (total + 1 > ing->dbytes_cap) {
            char *b = realloc(ing->dbytes, total + 1);
            if (b == NULL)
                return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (day dictionary)");
            ing->dbytes = b;
            ing->dbytes_cap = total + 1;
        }
        uint32_t off = 0;
        for (uint32_t i = 0; i < nd; i++) {
            const strent_t *e = &in->str[list[i]];
            offs[i] = off;
            memcpy(ing->dbytes + off, ing->arena + e->off, e->len);
            off += e->len;
            remap[list[i]] = i;
        }
        offs[nd] = off;
        dv->offs = offs;
        dv->bytes = ing->dbytes;
    } else {
        /* Sort flat keys rather than codes through the entries: no pointer
         * chasing in the comparisons. */
        ipkey_t *keys = malloc((nd ? nd : 1) * sizeof *keys);
        colog_ip_t *ips = realloc(ing->dips, (nd ? nd : 1) * sizeof *ips);
        if (ips)
            ing->dips = ips;
        if (keys == NULL || ips == NULL) {
            free(keys);
            return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (day dictionary)");
        }
        for (uint32_t i = 0; i < nd; i++) {
            const uint8_t *b = in->ip[list[i]].b;
            keys[i] = (ipkey_t){.hi = load_be64(b), .lo = load_be64(b + 8), .code = list[i]};
        }
        qsort(keys, nd, sizeof *keys, cmp_ipkey);
        for (uint32_t i = 0; i < nd; i++) {
            list[i] = keys[i].code; /* unmap_day_dict walks list */
            ips[i] = in->ip[keys[i].code];
            remap[keys[i].code] = i;
        }
        free(keys);
        dv->ips = ips;
    }
    return 0;
}

static void unmap_day_dict(colog_ingest_t *ing, uint32_t nd)
{
    for (uint32_t i = 0; i < nd; i++)
        ing->remap[ing->dlist[i]] = NONE;
}

/* ---------------------------------------------------------------- flush: columns */

/* Gather rows[0..m) of column cb into ing->chunk in the writer's encoding; the
 * valid bitset, or NULL when all m values are present. */
static const uint8_t *gather(colog_ingest_t *ing, const colbuf_t *cb, const uint32_t *rows,
                             uint32_t m)
{
    void *out = ing->chunk;
    switch (cb->type) {
    case COLOG_T_U8: {
        const uint8_t *v = cb->vals;
        for (uint32_t i = 0; i < m; i++)
            ((uint64_t *)out)[i] = v[rows[i]];
        break;
    }
    case COLOG_T_U16: {
        const uint16_t *v = cb->vals;
        for (uint32_t i = 0; i < m; i++)
            ((uint64_t *)out)[i] = v[rows[i]];
        break;
    }
    case COLOG_T_U32: {
        const uint32_t *v = cb->vals;
        for (uint32_t i = 0; i < m; i++)
            ((uint64_t *)out)[i] = v[rows[i]];
        break;
    }
    case COLOG_T_TIME:
    case COLOG_T_U64:
    case COLOG_T_I64:
    case COLOG_T_F64: {
        const uint64_t *v = cb->vals; /* same bits for int64_t and double */
        for (uint32_t i = 0; i < m; i++)
            ((uint64_t *)out)[i] = v[rows[i]];
        break;
    }
    case COLOG_T_IP:
    case COLOG_T_STRING: {
        const uint32_t *v = cb->vals;
        const uint32_t *remap = ing->remap;
        if (!cb->has_null) {
            for (uint32_t i = 0; i < m; i++)
                ((uint32_t *)out)[i] = remap[v[rows[i]]];
        } else {
            for (uint32_t i = 0; i < m; i++) {
                uint32_t r = rows[i];
                ((uint32_t *)out)[i] = colog_valid(cb->valid, r) ? remap[v[r]] : 0;
            }
        }
        break;
    }
    }
    if (!cb->has_null)
        return NULL;
    memset(ing->vchunk, 0, (m + 7) / 8);
    uint32_t nvalid = 0;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t r = rows[i];
        unsigned bit = (cb->valid[r >> 3] >> (r & 7)) & 1u;
        ing->vchunk[i >> 3] |= (uint8_t)(bit << (i & 7));
        nvalid += bit;
    }
    return nvalid == m ? NULL : ing->vchunk;
}

/* One column of one day: dictionary, begin, chunks, end. */
static int write_column(colog_ingest_t *ing, unsigned c, const uint32_t *rows, uint32_t m)
{
    const colog_partsink_t *k = ing->sink;
    const colbuf_t *cb = &ing->cols[c];
    colog_dictview_t dv;
    uint32_t nd = 0;
    int rc = 0;
    if (cb->in)
        rc = build_day_dict(ing, cb, rows, m, &dv, &nd);
    if (rc == 0)
        rc = k->col_begin(ing->ctx, c, cb->in ? &dv : NULL);
    for (uint32_t a = 0; rc == 0 && a < m; a += CHUNK) {
        uint32_t len = m - a < CHUNK ? m - a : CHUNK;
        const uint8_t *valid = gather(ing, cb, rows + a, len);
        rc = k->col_append(ing->ctx, ing->chunk, valid, len);
    }
    if (rc == 0)
        rc = k->col_end(ing->ctx);
    if (cb->in)
        unmap_day_dict(ing, nd);
    return rc;
}

static int write_day(colog_ingest_t *ing, int32_t day, const uint32_t *rows, uint32_t m)
{
    const colog_partsink_t *k = ing->sink;
    int rc = k->open(ing->ctx, day, m);
    if (rc < 0)
        return rc;
    for (unsigned c = 0; c < ing->schema.ncols; c++) {
        rc = write_column(ing, c, rows, m);
        if (rc < 0)
            goto out_abort;
    }
    uint64_t id;
    rc = k->commit(ing->ctx, &id);
    if (rc < 0)
        return rc;
    ing->stats.parts_written++;
    return 0;

out_abort:
    k->abort(ing->ctx);
    return rc;
}

static void reset_batch(colog_ingest_t *ing)
{
    ing->n = 0;
    for (unsigned c = 0; c < ing->schema.ncols; c++) {
        ing->cols[c].has_null = false;
        if (ing->cols[c].in)
            intern_clear(ing->cols[c].in);
    }
    ing->arena_len = 0;
    ing->entries = 0;
}

int colog_ingest_flush(colog_ingest_t *ing)
{
    if (ing == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_ingest_flush: invalid argument");
    if (ing->failed)
        return ing->failed;
    if (ing->n == 0)
        return 0;

    const uint32_t *perm = NULL;
    int rc = sort_rows(ing, &perm);
    if (rc < 0)
        return rc; /* nothing written: the batch is intact, a retry may work */

    /* perm cut into runs of one UTC day each. */
    const int64_t *ts = ing->cols[0].vals;
    size_t n = ing->n;
    for (size_t a = 0; a < n;) {
        int32_t day = colog_day_of(ts[perm[a]]);
        size_t b = a + 1;
        while (b < n && colog_day_of(ts[perm[b]]) == day)
            b++;
        rc = write_day(ing, day, perm + a, (uint32_t)(b - a));
        if (rc < 0) {
            ing->failed = rc;
            reset_batch(ing);
            return rc;
        }
        a = b;
    }
    reset_batch(ing);

    if (ing->opts.no_auto_merge || ing->sink->merge == NULL)
        return 0;
    /* ts and perm are intact until the next row: walk the days again. */
    for (size_t a = 0; a < n;) {
        int32_t day = colog_day_of(ts[perm[a]]);
        while (a < n && colog_day_of(ts[perm[a]]) == day)
            a++;
        bool merged;
        rc = note_day(ing, day);
        if (rc == 0)
            rc = ing->sink->merge(ing->ctx, day, COLOG_MERGE_BACKLOG, &merged);
        if (rc < 0)
            return rc; /* the parts are committed; only the compaction failed */
    }
    return 0;
}

/* ---------------------------------------------------------------- public entry points */

/* Remember that the session wrote day (for the merge at the end). */
static int note_day(colog_ingest_t *ing, int32_t day)
{
    size_t i = 0;
    while (i < ing->ndays && ing->days[i] < day)
        i++;
    if (i < ing->ndays && ing->days[i] == day)
        return 0;
    if (ing->ndays == ing->days_cap) {
        size_t nc = ing->days_cap ? 2 * ing->days_cap : 64;
        int32_t *nd = realloc(ing->days, nc * sizeof *nd);
        if (nd == NULL)
            return colog_seterr(COLOG_ENOMEM, "out of memory");
        ing->days = nd;
        ing->days_cap = nc;
    }
    memmove(ing->days + i + 1, ing->days + i, (ing->ndays - i) * sizeof *ing->days);
    ing->days[i] = day;
    ing->ndays++;
    return 0;
}

static int pw_open(void *ctx, int32_t day, uint64_t nrows)
{
    pwctx_t *c = ctx;
    return colog__pw_open(c->st, day, nrows, &c->pw);
}

static int pw_col_begin(void *ctx, unsigned col, const colog_dictview_t *dict)
{
    return colog__pw_col_begin(((pwctx_t *)ctx)->pw, col, dict);
}

static int pw_col_append(void *ctx, const void *vals, const uint8_t *valid, uint32_t n)
{
    return colog__pw_col_append(((pwctx_t *)ctx)->pw, vals, valid, n);
}

static int pw_col_end(void *ctx)
{
    return colog__pw_col_end(((pwctx_t *)ctx)->pw);
}

static int pw_commit(void *ctx, uint64_t *id)
{
    pwctx_t *c = ctx;
    int rc = colog__pw_commit(c->pw, NULL, 0, id);
    c->pw = NULL; /* freed whatever the result */
    return rc;
}

static void pw_abort(void *ctx)
{
    pwctx_t *c = ctx;
    colog__pw_abort(c->pw);
    c->pw = NULL;
}

static int pw_merge(void *ctx, int32_t day, unsigned max_parts, bool *merged)
{
    return colog_store_merge_day(((pwctx_t *)ctx)->st, day, max_parts, merged);
}

static const colog_partsink_t pw_sink = {
    .open = pw_open,
    .col_begin = pw_col_begin,
    .col_append = pw_col_append,
    .col_end = pw_col_end,
    .commit = pw_commit,
    .abort = pw_abort,
    .merge = pw_merge,
};

int colog_ingest_begin(colog_store_t *st, const colog_ingest_opts_t *opts, colog_ingest_t **out)
{
    if (st == NULL || out == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_ingest_begin: invalid argument");
    colog_ingest_t *ing = NULL;
    int rc = colog__ingest_new(colog_store_schema(st), opts, &pw_sink, NULL, &ing);
    if (rc < 0)
        return rc;
    ing->pwc.st = st;
    ing->ctx = &ing->pwc;
    *out = ing;
    return 0;
}

int colog_ingest_file(colog_ingest_t *ing, FILE *f, const char *src, colog_infmt_t fmt)
{
    if (ing == NULL || f == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_ingest_file: invalid argument");
    if (ing->failed)
        return ing->failed;
    if (src == NULL)
        src = "-";
    int64_t now = ing->opts.now_us ? ing->opts.now_us : colog__now_us();
    ing->ts_limit = now > INT64_MAX - US_PER_DAY ? INT64_MAX : now + US_PER_DAY;
    switch (fmt) {
    case COLOG_IN_CSV:
        return colog__csv_ingest(ing, f, src);
    case COLOG_IN_NDJSON:
        return colog__ndjson_ingest(ing, f, src);
    }
    return colog_seterr(COLOG_EINVAL, "%s: unknown input format %d", src, (int)fmt);
}

int colog_ingest_finish(colog_ingest_t *ing, colog_ingest_stats_t *stats)
{
    if (ing == NULL)
        return 0;
    int rc = colog_ingest_flush(ing);
    if (ing->pwc.pw) /* only after a failure inside the sink */
        colog__pw_abort(ing->pwc.pw);
    /* Compact each day this session wrote, once (see colog_partsink_t). */
    for (size_t i = 0; rc == 0 && !ing->opts.no_auto_merge && ing->sink->merge && i < ing->ndays;
         i++) {
        bool merged;
        rc = ing->sink->merge(ing->ctx, ing->days[i], COLOG_AUTO_MERGE_PARTS, &merged);
    }
    free(ing->days);
    if (stats) {
        /* Written even on failure, so the caller can say how far it got. */
        *stats = ing->stats;
        stats->rows_read = ing->stats.rows_ok + ing->stats.rows_rejected;
    }
    free_batch(ing);
    free(ing);
    return rc;
}
