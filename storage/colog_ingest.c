/*
 * colog_ingest.c — ingest sessions: field conversion, the columnar batch, the
 * flush that turns a batch into one sorted part per UTC day, and the writer
 * thread that flushes one batch while the reader fills the next.
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
 * line). The lookups of a row are deferred to colog__row_end: each put hashes
 * its value and prefetches the slot, so the cache misses of a row's ip and
 * string columns overlap instead of following one another. The rules of the
 * text (what parses as what) are colog__value_parse's, and the "1 day ahead of
 * the clock" limit is taken from the clock (or opts.now_us) at each
 * colog_ingest_file, and by colog_ingest_row / _json at the first row of each batch. A flush sorts
 * the rows by time (LSD radix sort of (time - min, row) pairs, stable, or nothing at all when the
 * input is already in order), cuts the sorted rows into UTC days and, for each day, gives the part
 * sink each column: ip/string columns with a dictionary of just the values the day uses, sorted
 * (bytewise / colog_ip_cmp), and their batch codes remapped to its codes.
 *
 * NOTES ON THE DESIGN OF THE PIPELINE
 *
 * A session has two batches. The caller's thread (the reader) fills one; when it
 * is full the reader reserves the memory to sort it (so that failure leaves the
 * batch intact, as before) and hands it to a writer thread, started on the
 * first handover, which sorts it and writes its parts while the reader fills the
 * other. The reader blocks only when it has filled its batch while the writer
 * still has the previous one. Whenever the reader waits (that, or
 * colog_ingest_flush / _file / _finish waiting for the writer), it helps: the
 * writer offers the columns of each day's part as a job (dayjob_t), and each
 * thread takes the next column not yet taken and writes it through its own
 * handle (colog_partsink_t.col_open, the part writer's colog__pwcol_* API) with
 * its own scratch. So a flush with nothing left to parse still uses two cores,
 * and a reader ahead of the writer lends it its core, while a reader behind the
 * writer never competes with it for one. That is also why work goes to the
 * writer's side where it can (the sort): the reader's spare time flows to the
 * writer, not the other way. Rejects come from the reader's thread, in input
 * order, as before.
 *
 * NOTES ON ACKNOWLEDGEMENTS (opts.ack)
 *
 * There is no write-ahead log: a row is durable once the part holding it is
 * committed, so acknowledgements follow batches. At a handover the reader
 * stamps the batch with the input rows handled so far (upto = rows_ok +
 * rows_rejected: every one of them is in this batch, in an earlier one, or was
 * rejected); the writer, once it has committed every part of the batch, and
 * before the backlog merges, passes upto to opts.ack. Batches are written one
 * at a time in handover order and a batch that fails kills the session
 * (invariant 6), so the counts come in order. colog_ingest_flush, once the
 * writer is idle, acknowledges what is left: the batch it flushed and the
 * rows rejected since the last handover (a run of rejects alone fills no
 * batch). Crash points (COLOG_CRASH_AT, colog__crash_point) sit between a
 * batch's commits and its ack ("ingest-committed") and between the ack and
 * the merges ("ingest-acked"), for tests/e2e/crash.py.
 *
 * Invariants:
 *  1. Rows [0, n) of a batch are accepted rows. For each of them and each
 *     column, bit r of valid[] is set iff the value is present; a present value
 *     is converted and in range for its type (codes < that column's intern n),
 *     an absent one is 0.
 *  2. Slot n is scratch: a row in assembly writes there, and a rejected row is
 *     forgotten by not advancing n. Its deferred lookups (pend[]) are dropped
 *     with it, so a rejected row interns nothing.
 *  3. cols[c].has_null is false only if every accepted row has column c.
 *  4. n <= alloc; alloc grows by doubling, and colog__ingest_full() asks for a
 *     flush at cap_rows rows, or when the arena or the intern tables pass their
 *     bounds (COLOG_INGEST_*_MAX), so memory stays bounded for any input: two
 *     batches, plus the flush's scratch, plus the part writer's buffers.
 *  5. remap[] of a colscratch_t is all NONE between columns.
 *  6. After a failed flush the session is dead (failed != 0): part of the batch
 *     may be committed, so retrying would duplicate it; every later call
 *     returns the same error, with the same message.
 *  7. Ownership: cur belongs to the reader; a batch in pending belongs to the
 *     writer until the writer resets it and clears pending (under mu). The
 *     writer thread runs only while pending is set or it waits for work; job,
 *     pending, failed, failmsg, werr and stats.parts_written are read and
 *     written under mu only. days[] is the writer's, read by the caller once the
 *     writer has stopped.
 *  8. A dayjob lives on the writer's stack from the offer until done == ncols;
 *     a column is taken and its completion counted under mu, so the writer
 *     cannot retire a job while a helper still works on one of its columns.
 *  9. acked (under mu) is the last count passed to opts.ack; it only grows, and
 *     opts.ack(n) is called only once rows [0, n) of the input are handled:
 *     the accepted ones committed, by the writer for batches handed over (n =
 *     the batch's upto), by colog_ingest_flush for the rest once the writer is
 *     idle. Only one thread calls it at a time: the writer while it has a batch,
 *     the caller only after waiting for the writer to have none.
 */
#define XXH_INLINE_ALL
#include "colog_ingest_int.h"
#include "colog_store_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
#define MSG_MAX 1024 /* colog_errmsg() text copied between threads */
#define RADIX_BITS 11
#define RADIX (1u << RADIX_BITS)
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)

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

/* A batch of rows (invariants 1-4). */
typedef struct batch {
    size_t n, alloc;
    colbuf_t cols[COLOG_MAX_COLS];
    char *arena;
    size_t arena_len, arena_cap;
    size_t entries; /* intern entries of all columns */
    uint32_t *perm; /* rows in time order, set by the writer */
    size_t perm_cap;
    uint64_t upto; /* input rows handled once this batch is committed (set at handover) */
} batch_t;

/* A lookup deferred to colog__row_end (invariant 2). */
typedef struct pending {
    unsigned col;
    uint64_t h; /* hash_str / hash_ip of the value */
    union {
        struct {
            const char *p; /* borrowed from the reader until row_end */
            size_t len;
        } s;
        colog_ip_t ip;
    };
} pending_t;

/* An ip as two big-endian halves, so that comparing (hi, lo) is colog_ip_cmp. */
typedef struct ipkey {
    uint64_t hi, lo;
    uint32_t code;
} ipkey_t;

/* Scratch of one thread writing columns of a flush. */
typedef struct colscratch {
    uint32_t *remap; /* invariant 5 */
    size_t remap_cap;
    uint32_t *dlist; /* a day's distinct codes of one column */
    uint32_t *doffs; /* doffs_cap entries, grown to dlist_cap */
    size_t doffs_cap;
    size_t dlist_cap;
    char *dbytes;
    size_t dbytes_cap;
    colog_ip_t *dips;
    ipkey_t *keys;
    size_t ips_cap;
    uint8_t *chunk; /* CHUNK values of 8 bytes */
    uint8_t vchunk[CHUNK / 8];
} colscratch_t;

/* The columns of one day's part, offered to any thread that waits (invariant 8). */
typedef struct dayjob {
    const batch_t *b;
    const uint32_t *rows;
    uint32_t m;
    unsigned next, done; /* columns taken / finished (mu) */
    int rc;              /* first failure (mu) */
    char msg[MSG_MAX];
} dayjob_t;

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
    int64_t ts_limit; /* latest accepted event time (clock + 1 day) */
    size_t cap_rows;
    uint64_t allmask;               /* columns of the schema */
    unsigned order[COLOG_MAX_COLS]; /* columns, costliest first (for the jobs) */

    /* the reader's (the caller's thread) */
    batch_t bat[2];
    batch_t *cur;     /* the batch being filled (invariant 7) */
    uint64_t rowmask; /* columns put in the current row */
    pending_t pend[COLOG_MAX_COLS];
    unsigned npend;
    colscratch_t rws; /* for helping the writer */
    char tdate[10];   /* fast_time: the last date seen, "YYYY-MM-DD" */
    int64_t tday;     /* and its day number */
    bool tday_ok;     /* tdate and tday are set */
    char why[512];

    /* the writer thread and what it shares with the reader (invariant 7) */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change of pending, job, failed, or a column done */
    pthread_t thr;
    bool started, stop;
    batch_t *pending; /* handed over, not yet written */
    dayjob_t *job;    /* columns on offer */
    int failed;       /* invariant 6 */
    int werr;         /* an error after the parts were committed (merge): reported once */
    char failmsg[MSG_MAX], werrmsg[MSG_MAX];
    colscratch_t wws;
    uint64_t *k0, *k1; /* sort scratch: grown by the reader while the writer is idle */
    uint32_t *i1;
    size_t sort_cap;
    uint32_t (*hist)[RADIX]; /* RADIX_PASSES of them */
    int32_t *days;           /* days written by this session, ascending, distinct */
    size_t ndays, days_cap;
    uint64_t acked; /* invariant 9 */

    colog_ingest_stats_t stats; /* rows_*: the reader's; parts_written: under mu */
};

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
static int intern_rehash(const batch_t *b, intern_t *in)
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
            h = hash_str(b->arena + in->str[c].off, in->str[c].len);
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
 * the table past 3/4 load. */
static int intern_added(batch_t *b, intern_t *in, uint32_t i, uint64_t key)
{
    in->slots[i] = key | (in->n + 1u);
    in->n++;
    b->entries++;
    if ((size_t)in->n * 4 > ((size_t)in->mask + 1) * 3) /* load <= 3/4 */
        return intern_rehash(b, in);
    return 0;
}

static int arena_reserve(batch_t *b, size_t len)
{
    if (b->arena_len + len <= b->arena_cap)
        return 0;
    size_t need = b->arena_len + len;
    if (need > UINT32_MAX)
        return colog_seterr(COLOG_ELIMIT, "ingest: string bytes of one batch exceed 4 GiB");
    size_t cap = b->arena_cap ? b->arena_cap * 2 : (size_t)64 << 10; /* doubles quickly */
    /* Don't double far past the flush bound: the arena never grows much beyond it. */
    if (cap > COLOG_INGEST_ARENA_MAX + ((size_t)4 << 20))
        cap = COLOG_INGEST_ARENA_MAX + ((size_t)4 << 20);
    if (cap < need)
        cap = need;
    char *p = realloc(b->arena, cap);
    if (p == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (string arena of %zu bytes)", cap);
    b->arena = p;
    b->arena_cap = cap;
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
static int intern_str(batch_t *b, intern_t *in, const char *s, size_t len, uint64_t h,
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
            if (e->len == len && same_bytes(b->arena + e->off, s, len)) {
                *code = c;
                return 0;
            }
        }
        i = (i + 1) & in->mask;
    }
    int rc;
    if (in->n == in->cap && (rc = intern_grow_entries(in, sizeof *in->str, (void **)&in->str)) < 0)
        return rc;
    if ((rc = arena_reserve(b, len)) < 0)
        return rc;
    if (len > 0)
        memcpy(b->arena + b->arena_len, s, len);
    in->str[in->n] = (strent_t){.off = (uint32_t)b->arena_len, .len = (uint32_t)len};
    b->arena_len += len;
    *code = in->n;
    return intern_added(b, in, i, key);
}

/* Code of ip (h = hash_ip of it), adding it if new. */
static int intern_ip(batch_t *b, intern_t *in, const colog_ip_t *ip, uint64_t h, uint32_t *code)
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
    return intern_added(b, in, i, key);
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

static int batch_init(batch_t *b, const colog_schema_t *s)
{
    for (unsigned c = 0; c < s->ncols; c++) {
        colbuf_t *cb = &b->cols[c];
        cb->type = s->cols[c].type;
        cb->width = type_width(cb->type);
        if (colog_type_is_dict(cb->type) && (cb->in = intern_new()) == NULL)
            return COLOG_ENOMEM;
    }
    return 0;
}

static void batch_free(batch_t *b)
{
    for (unsigned c = 0; c < COLOG_MAX_COLS; c++) {
        free(b->cols[c].vals);
        free(b->cols[c].valid);
        intern_free(b->cols[c].in);
    }
    free(b->arena);
    free(b->perm);
    memset(b, 0, sizeof *b);
}

/* Empty b for reuse, keeping its memory. */
static void batch_reset(batch_t *b, unsigned ncols)
{
    b->n = 0;
    for (unsigned c = 0; c < ncols; c++) {
        b->cols[c].has_null = false;
        if (b->cols[c].in)
            intern_clear(b->cols[c].in);
    }
    b->arena_len = 0;
    b->entries = 0;
}

static void scratch_free(colscratch_t *ws)
{
    free(ws->remap);
    free(ws->dlist);
    free(ws->doffs);
    free(ws->dbytes);
    free(ws->dips);
    free(ws->keys);
    free(ws->chunk);
    memset(ws, 0, sizeof *ws);
}

/* Everything the batches and the flushes hold (not the session itself). */
static void free_buffers(colog_ingest_t *ing)
{
    batch_free(&ing->bat[0]);
    batch_free(&ing->bat[1]);
    free(ing->k0);
    free(ing->k1);
    free(ing->i1);
    free(ing->hist);
    ing->k0 = ing->k1 = NULL;
    ing->i1 = NULL;
    ing->hist = NULL;
    ing->sort_cap = 0;
    scratch_free(&ing->rws);
    scratch_free(&ing->wws);
}

/* Rough cost of writing a column, to offer the costliest first. */
static unsigned column_cost(const colog_column_t *c)
{
    return (colog_type_is_dict(c->type) ? 4u : 0u) + (c->indexed ? 2u : 0u) +
           (type_width(c->type) == 8 ? 1u : 0u);
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
    if (pthread_mutex_init(&ing->mu, NULL) != 0) {
        free(ing);
        return colog_seterr(COLOG_ENOMEM, "ingest: cannot create a mutex");
    }
    if (pthread_cond_init(&ing->cv, NULL) != 0) {
        pthread_mutex_destroy(&ing->mu);
        free(ing);
        return colog_seterr(COLOG_ENOMEM, "ingest: cannot create a condition variable");
    }

    size_t row_bytes = 0;
    for (unsigned c = 0; c < schema->ncols; c++) {
        row_bytes += type_width(schema->cols[c].type);
        /* insertion sort by cost, stable */
        unsigned k = c, cost = column_cost(&schema->cols[c]);
        while (k > 0 && column_cost(&schema->cols[ing->order[k - 1]]) < cost) {
            ing->order[k] = ing->order[k - 1];
            k--;
        }
        ing->order[k] = c;
    }
    if (batch_init(&ing->bat[0], schema) < 0 || batch_init(&ing->bat[1], schema) < 0)
        goto out_free;
    ing->cur = &ing->bat[0];
    /* Valid bits: ncols / 8 bytes a row, rounded up generously. */
    row_bytes += (schema->ncols + 7) / 8;
    size_t want = ing->opts.batch_rows ? ing->opts.batch_rows : DEFAULT_BATCH_ROWS;
    size_t fit = COLOG_INGEST_ARRAY_MAX / row_bytes;
    ing->cap_rows = want < fit ? want : fit;
    if (ing->cap_rows == 0)
        ing->cap_rows = 1;
    ing->ts_limit = INT64_MAX;
    *out = ing;
    return 0;

out_free:
    free_buffers(ing);
    pthread_cond_destroy(&ing->cv);
    pthread_mutex_destroy(&ing->mu);
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
    const batch_t *b = ing->cur;
    return b->n >= ing->cap_rows || b->arena_len >= COLOG_INGEST_ARENA_MAX ||
           b->entries >= COLOG_INGEST_TABLE_MAX / ENTRY_COST;
}

size_t colog__ingest_nrows(const colog_ingest_t *ing)
{
    return ing->cur->n;
}

/* ---------------------------------------------------------------- rows */

static int grow_rows(colog_ingest_t *ing)
{
    batch_t *b = ing->cur;
    size_t alloc = b->alloc ? b->alloc * 2 : FIRST_ALLOC;
    if (b->alloc < ing->cap_rows && alloc > ing->cap_rows)
        alloc = ing->cap_rows; /* don't overshoot the flush point */
    if (alloc >= UINT32_MAX)
        return colog_seterr(COLOG_ELIMIT, "ingest: more than 2^32 rows in one batch");
    for (unsigned c = 0; c < ing->schema.ncols; c++) {
        colbuf_t *cb = &b->cols[c];
        void *v = realloc(cb->vals, alloc * cb->width);
        if (v == NULL)
            goto out_nomem;
        cb->vals = v;
        uint8_t *bits = realloc(cb->valid, alloc / 8 + 1);
        if (bits == NULL)
            goto out_nomem;
        cb->valid = bits;
    }
    b->alloc = alloc;
    return 0;

out_nomem: /* the arrays that did grow stay usable at the old size */
    return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (batch of %zu rows)", alloc);
}

int colog__row_begin(colog_ingest_t *ing)
{
    if (ing->cur->n >= ing->cur->alloc) {
        int rc = grow_rows(ing);
        if (rc < 0)
            return rc;
    }
    ing->rowmask = 0;
    ing->npend = 0;
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
    char shown[COLOG_SHOW_MAX * 4 + 8];
    /* Years 0000..9999 only (as colog_time_parse): every stored time prints as
     * RFC 3339 and its day directory name reads back (a numeric JSON time could
     * otherwise name a day no listing finds). */
    if (us < -62167219200LL * 1000000 || us > 253402300800LL * 1000000 - 1) {
        colog__show(shown, sizeof shown, text, len);
        snprintf(ing->why, sizeof ing->why, "%s: %s: time outside the years 0000-9999",
                 ing->schema.cols[col].name, shown);
        return COLOG_ERANGE;
    }
    if (col != 0 || us <= ing->ts_limit)
        return 0;
    colog__show(shown, sizeof shown, text, len);
    snprintf(ing->why, sizeof ing->why, "%s: %s: time more than 1 day ahead of the clock",
             ing->schema.cols[col].name, shown);
    return COLOG_ERANGE;
}

/* Prefetch the slot a lookup of hash h in column col's table starts at. */
static inline void prefetch_slot(const colbuf_t *cb, uint64_t h)
{
    __builtin_prefetch(&cb->in->slots[(uint32_t)h & cb->in->mask]);
}

/* Decimal digits s[0..len), 1 <= len <= 19 (no overflow possible). */
static inline bool fast_digits(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static inline bool two_digits(const char *s, unsigned *out)
{
    unsigned a = (unsigned)(unsigned char)s[0] - '0', b = (unsigned)(unsigned char)s[1] - '0';
    *out = a * 10 + b;
    return a <= 9 && b <= 9;
}

/*
 * "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z", the shape of nearly every log time, with the
 * day of its date remembered from the row before; false for anything else
 * (colog_time_parse decides then). Gives what colog_time_parse gives.
 */
static bool fast_time(colog_ingest_t *ing, const char *s, size_t len, int64_t *out)
{
    if (len < 20 || s[10] != 'T' || s[len - 1] != 'Z')
        return false;
    if (!ing->tday_ok || memcmp(s, ing->tdate, 10) != 0) {
        int64_t us;
        if (s[4] != '-' || colog_time_parse(s, 10, 0, &us) != 0)
            return false;
        memcpy(ing->tdate, s, 10);
        ing->tday = us / US_PER_DAY; /* a date alone is its midnight */
        ing->tday_ok = true;
    }
    unsigned hh, mm, ss;
    if (!two_digits(s + 11, &hh) || s[13] != ':' || !two_digits(s + 14, &mm) || s[16] != ':' ||
        !two_digits(s + 17, &ss) || hh > 23 || mm > 59 || ss > 59)
        return false; /* a leap second may leave year 9999: colog_time_parse decides */
    int64_t frac = 0;
    if (len > 20) {
        size_t nf = len - 21; /* digits between '.' and 'Z' */
        if (s[19] != '.' || nf < 1 || nf > 9)
            return false;
        int64_t scale = 100000;
        for (size_t i = 0; i < nf; i++) {
            unsigned d = (unsigned)(unsigned char)s[20 + i] - '0';
            if (d > 9)
                return false;
            frac += (int64_t)d * scale; /* digits past µs are truncated */
            scale /= 10;
        }
    }
    *out = (ing->tday * 86400 + hh * 3600 + mm * 60 + ss) * 1000000 + frac;
    return true;
}

/* The general path of colog__row_put_text (every non-string type). */
static int put_parsed(colog_ingest_t *ing, colbuf_t *cb, unsigned col, const char *s, size_t len)
{
    char why[COLOG_SHOW_MAX * 4 + 64];
    colog_value_t v;
    int rc = colog__value_parse(cb->type, s, len, &v, why, sizeof why);
    if (rc < 0) {
        snprintf(ing->why, sizeof ing->why, "%s: %s", ing->schema.cols[col].name, why);
        return rc;
    }
    if (cb->type == COLOG_T_IP) {
        pending_t *p = &ing->pend[ing->npend++];
        p->col = col;
        p->h = hash_ip(&v.ip);
        p->ip = v.ip;
        prefetch_slot(cb, p->h);
        return 0;
    }
    if (cb->type == COLOG_T_TIME && (rc = check_time(ing, col, v.i, s, len)) < 0)
        return rc;
    store_num(cb, ing->cur->n, &v);
    return 0;
}

/* Field text to the row. The common shapes (decimal integers that fit, dotted
 * quads, UTC times) take a fast path here; everything else, and every value
 * that would be rejected, goes through colog__value_parse, so the results and
 * the reasons are its own. */
int colog__row_put_text(colog_ingest_t *ing, unsigned col, const char *s, size_t len)
{
    if (len == 0)
        return 0; /* absent */
    colbuf_t *cb = &ing->cur->cols[col];
    size_t r = ing->cur->n;
    uint64_t u;
    int rc = 0;
    switch (cb->type) {
    case COLOG_T_STRING: {
        pending_t *p = &ing->pend[ing->npend++];
        p->col = col;
        p->h = hash_str(s, len);
        p->s.p = s;
        p->s.len = len;
        prefetch_slot(cb, p->h);
        break;
    }
    case COLOG_T_IP: {
        colog_ip_t ip;
        if (!parse_ip4_fast(s, len, &ip)) {
            rc = put_parsed(ing, cb, col, s, len);
            break;
        }
        pending_t *p = &ing->pend[ing->npend++];
        p->col = col;
        p->h = hash_ip(&ip);
        p->ip = ip;
        prefetch_slot(cb, p->h);
        break;
    }
    case COLOG_T_U8:
        if (len <= 3 && fast_digits(s, len, &u) && u <= UINT8_MAX)
            ((uint8_t *)cb->vals)[r] = (uint8_t)u;
        else
            rc = put_parsed(ing, cb, col, s, len);
        break;
    case COLOG_T_U16:
        if (len <= 5 && fast_digits(s, len, &u) && u <= UINT16_MAX)
            ((uint16_t *)cb->vals)[r] = (uint16_t)u;
        else
            rc = put_parsed(ing, cb, col, s, len);
        break;
    case COLOG_T_U32:
        if (len <= 10 && fast_digits(s, len, &u) && u <= UINT32_MAX)
            ((uint32_t *)cb->vals)[r] = (uint32_t)u;
        else
            rc = put_parsed(ing, cb, col, s, len);
        break;
    case COLOG_T_U64:
        if (len <= 19 && fast_digits(s, len, &u))
            ((uint64_t *)cb->vals)[r] = u;
        else
            rc = put_parsed(ing, cb, col, s, len);
        break;
    case COLOG_T_I64:
        if (len <= 18 && fast_digits(s, len, &u)) /* < 10^18: fits */
            ((int64_t *)cb->vals)[r] = (int64_t)u;
        else
            rc = put_parsed(ing, cb, col, s, len);
        break;
    case COLOG_T_TIME: {
        int64_t us;
        if (fast_time(ing, s, len, &us) && us <= ing->ts_limit)
            ((int64_t *)cb->vals)[r] = us;
        else
            rc = put_parsed(ing, cb, col, s, len);
        break;
    }
    case COLOG_T_F64:
        rc = put_parsed(ing, cb, col, s, len);
        break;
    }
    if (rc < 0)
        return rc;
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
    colbuf_t *cb = &ing->cur->cols[col];
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
    store_num(cb, ing->cur->n, &v);
    set_valid(cb, ing->cur->n);
    ing->rowmask |= 1ull << col;
    return 0;
}

int colog__row_put_real(colog_ingest_t *ing, unsigned col, double x)
{
    colbuf_t *cb = &ing->cur->cols[col];
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
    store_num(cb, ing->cur->n, &v);
    set_valid(cb, ing->cur->n);
    ing->rowmask |= 1ull << col;
    return 0;
}

int colog__row_end(colog_ingest_t *ing)
{
    if (!(ing->rowmask & 1)) {
        snprintf(ing->why, sizeof ing->why, "%s: missing event time", ing->schema.cols[0].name);
        return COLOG_EPARSE;
    }
    batch_t *b = ing->cur;
    size_t r = b->n;
    /* The deferred lookups, their slots prefetched by the puts. */
    for (unsigned i = 0; i < ing->npend; i++) {
        const pending_t *p = &ing->pend[i];
        colbuf_t *cb = &b->cols[p->col];
        uint32_t *code = &((uint32_t *)cb->vals)[r];
        int rc = cb->type == COLOG_T_STRING ? intern_str(b, cb->in, p->s.p, p->s.len, p->h, code)
                                            : intern_ip(b, cb->in, &p->ip, p->h, code);
        if (rc < 0)
            return rc; /* the row is dropped; entries interned so far stay, unused */
    }
    uint64_t absent = ing->allmask & ~ing->rowmask;
    while (absent) {
        unsigned c = (unsigned)__builtin_ctzll(absent);
        absent &= absent - 1;
        colbuf_t *cb = &b->cols[c];
        cb->valid[r >> 3] &= (uint8_t) ~(1u << (r & 7));
        cb->has_null = true;
        /* A defined value under every absent one: the writer sees zeros. */
        memset((char *)cb->vals + r * cb->width, 0, cb->width);
    }
    b->n++;
    ing->stats.rows_ok++;
    return 0;
}

bool colog__ingest_value(const colog_ingest_t *ing, size_t r, unsigned col, colog_value_t *out)
{
    const batch_t *b = ing->cur;
    if (r >= b->n || col >= ing->schema.ncols)
        return false;
    const colbuf_t *cb = &b->cols[col];
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
        out->s.p = b->arena + e->off;
        out->s.len = e->len;
        break;
    }
    }
    return true;
}

/* ---------------------------------------------------------------- flush: sort */

/* Room to sort b: its perm, and the sort scratch. The reader's, while the writer
 * is idle (so a failure leaves the batch intact, and a retry may work). */
static int ensure_sort(colog_ingest_t *ing, batch_t *b)
{
    size_t n = b->n;
    if (n > b->perm_cap) {
        free(b->perm);
        b->perm_cap = 0;
        if ((b->perm = malloc(n * sizeof *b->perm)) == NULL)
            return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (sorting %zu rows)", n);
        b->perm_cap = n;
    }
    if (ing->hist == NULL && (ing->hist = malloc(RADIX_PASSES * sizeof *ing->hist)) == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (sort histograms)");
    if (n <= ing->sort_cap)
        return 0;
    free(ing->k0);
    free(ing->k1);
    free(ing->i1);
    ing->k0 = malloc(n * sizeof *ing->k0);
    ing->k1 = malloc(n * sizeof *ing->k1);
    ing->i1 = malloc(n * sizeof *ing->i1);
    if (!ing->k0 || !ing->k1 || !ing->i1) {
        ing->sort_cap = 0;
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (sorting %zu rows)", n);
    }
    ing->sort_cap = n;
    return 0;
}

/* Fill b->perm with the rows in ascending time order, equal times in input
 * order (after ensure_sort: cannot fail). The writer's work. */
static void sort_rows(colog_ingest_t *ing, batch_t *b)
{
    size_t n = b->n;
    const int64_t *ts = b->cols[0].vals;
    bool sorted = true;
    int64_t mn = ts[0], mx = ts[0];
    for (size_t i = 1; i < n; i++) {
        sorted &= ts[i] >= ts[i - 1];
        mn = ts[i] < mn ? ts[i] : mn;
        mx = ts[i] > mx ? ts[i] : mx;
    }
    if (sorted) {
        for (size_t i = 0; i < n; i++)
            b->perm[i] = (uint32_t)i;
        return;
    }

    uint64_t range = (uint64_t)mx - (uint64_t)mn; /* > 0: not sorted */
    unsigned passes = (64u - (unsigned)__builtin_clzll(range) + RADIX_BITS - 1) / RADIX_BITS;
    uint32_t(*hist)[RADIX] = ing->hist;
    memset(hist, 0, passes * sizeof *hist);
    uint64_t *ka = ing->k0, *kb = ing->k1;
    uint32_t *ia = b->perm, *ib = ing->i1;
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
    if (ia != b->perm)
        memcpy(b->perm, ia, n * sizeof *ia);
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
 * sorted by value, as a view into ws; ws->remap[batch code] = day code.
 * Returns the number of distinct codes in *nd (for unmap_day_dict). */
static int build_day_dict(colscratch_t *ws, const batch_t *b, const colbuf_t *cb,
                          const uint32_t *rows, uint32_t m, colog_dictview_t *dv, uint32_t *nd_out)
{
    const intern_t *in = cb->in;
    int rc = grow_u32(&ws->remap, &ws->remap_cap, in->n, NONE, true);
    if (rc == 0)
        rc = grow_u32(&ws->dlist, &ws->dlist_cap, in->n + 1, 0, false);
    if (rc < 0)
        return rc;
    const uint32_t *codes = cb->vals;
    uint32_t *remap = ws->remap, *list = ws->dlist, nd = 0;
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

    memset(dv, 0, sizeof *dv);
    dv->type = cb->type;
    dv->n = nd;
    if (cb->type == COLOG_T_STRING) {
        sortctx_t sc = {.str = in->str, .arena = b->arena};
        qsort_r(list, nd, sizeof *list, cmp_str_code, &sc);
        size_t total = 0;
        for (uint32_t i = 0; i < nd; i++)
            total += in->str[list[i]].len;
        if (total > UINT32_MAX)
            return colog_seterr(COLOG_ELIMIT, "ingest: a day's dictionary exceeds 4 GiB");
        if (ws->doffs_cap < ws->dlist_cap) { /* doffs is sized like dlist */
            uint32_t *offs = realloc(ws->doffs, ws->dlist_cap * sizeof *offs);
            if (offs == NULL)
                return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (day dictionary)");
            ws->doffs = offs;
            ws->doffs_cap = ws->dlist_cap;
        }
        uint32_t *offs = ws->doffs;
        if (total + 1 > ws->dbytes_cap) {
            char *bytes = realloc(ws->dbytes, total + 1);
            if (bytes == NULL)
                return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (day dictionary)");
            ws->dbytes = bytes;
            ws->dbytes_cap = total + 1;
        }
        uint32_t off = 0;
        for (uint32_t i = 0; i < nd; i++) {
            const strent_t *e = &in->str[list[i]];
            offs[i] = off;
            memcpy(ws->dbytes + off, b->arena + e->off, e->len);
            off += e->len;
            remap[list[i]] = i;
        }
        offs[nd] = off;
        dv->offs = offs;
        dv->bytes = ws->dbytes;
    } else {
        /* Sort flat keys rather than codes through the entries: no pointer
         * chasing in the comparisons. */
        if (nd >= ws->ips_cap) { /* allocated even for nd = 0 */
            size_t cap = ws->ips_cap ? ws->ips_cap : 1024;
            while (cap < nd)
                cap *= 2;
            ipkey_t *keys = realloc(ws->keys, cap * sizeof *keys);
            if (keys)
                ws->keys = keys;
            colog_ip_t *ips = realloc(ws->dips, cap * sizeof *ips);
            if (ips)
                ws->dips = ips;
            if (keys == NULL || ips == NULL)
                return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (day dictionary)");
            ws->ips_cap = cap;
        }
        ipkey_t *keys = ws->keys;
        for (uint32_t i = 0; i < nd; i++) {
            const uint8_t *p = in->ip[list[i]].b;
            keys[i] = (ipkey_t){.hi = load_be64(p), .lo = load_be64(p + 8), .code = list[i]};
        }
        qsort(keys, nd, sizeof *keys, cmp_ipkey);
        for (uint32_t i = 0; i < nd; i++) {
            list[i] = keys[i].code; /* unmap_day_dict walks list */
            ws->dips[i] = in->ip[keys[i].code];
            remap[keys[i].code] = i;
        }
        dv->ips = ws->dips;
    }
    return 0;
}

static void unmap_day_dict(colscratch_t *ws, uint32_t nd)
{
    for (uint32_t i = 0; i < nd; i++)
        ws->remap[ws->dlist[i]] = NONE;
}

/* ---------------------------------------------------------------- flush: columns */

/* Gather rows[0..m) of column cb into ws->chunk in the writer's encoding; the
 * valid bitset, or NULL when all m values are present. */
static const uint8_t *gather(colscratch_t *ws, const colbuf_t *cb, const uint32_t *rows, uint32_t m)
{
    void *out = ws->chunk;
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
        const uint32_t *remap = ws->remap;
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
    memset(ws->vchunk, 0, (m + 7) / 8);
    uint32_t nvalid = 0;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t r = rows[i];
        unsigned bit = (cb->valid[r >> 3] >> (r & 7)) & 1u;
        ws->vchunk[i >> 3] |= (uint8_t)(bit << (i & 7));
        nvalid += bit;
    }
    return nvalid == m ? NULL : ws->vchunk;
}

/* One column of one day: dictionary, then the sink's column calls: through a
 * handle of its own if the sink has them (any thread), else col_begin ..
 * col_end (the writer, in schema order). */
static int write_column(colog_ingest_t *ing, colscratch_t *ws, const batch_t *b, unsigned c,
                        const uint32_t *rows, uint32_t m)
{
    const colog_partsink_t *k = ing->sink;
    const colbuf_t *cb = &b->cols[c];
    colog_dictview_t dv;
    uint32_t nd = 0;
    void *h = NULL;
    int rc = 0;
    if (ws->chunk == NULL && (ws->chunk = malloc((size_t)CHUNK * 8)) == NULL)
        return colog_seterr(COLOG_ENOMEM, "ingest: out of memory (flush scratch)");
    if (cb->in)
        rc = build_day_dict(ws, b, cb, rows, m, &dv, &nd);
    if (rc == 0)
        rc = k->col_open ? k->col_open(ing->ctx, c, cb->in ? &dv : NULL, &h)
                         : k->col_begin(ing->ctx, c, cb->in ? &dv : NULL);
    bool begun = rc == 0;
    for (uint32_t a = 0; rc == 0 && a < m; a += CHUNK) {
        uint32_t len = m - a < CHUNK ? m - a : CHUNK;
        const uint8_t *valid = gather(ws, cb, rows + a, len);
        rc = k->col_open ? k->col_write(h, ws->chunk, valid, len)
                         : k->col_append(ing->ctx, ws->chunk, valid, len);
    }
    if (k->col_open && begun) {
        if (rc == 0)
            rc = k->col_close(h);
        else
            k->col_abort(h);
    } else if (rc == 0) {
        rc = k->col_end(ing->ctx);
    }
    if (cb->in)
        unmap_day_dict(ws, nd);
    return rc;
}

/* Take and write columns of j until none is left to take. Called and returns
 * with mu held; drops it while writing (invariant 8). */
static void run_columns(colog_ingest_t *ing, dayjob_t *j, colscratch_t *ws)
{
    unsigned ncols = ing->schema.ncols;
    while (j->next < ncols) {
        unsigned c = ing->order[j->next++];
        bool skip = j->rc != 0;
        pthread_mutex_unlock(&ing->mu);
        int rc = skip ? 0 : write_column(ing, ws, j->b, c, j->rows, j->m);
        pthread_mutex_lock(&ing->mu);
        if (rc < 0 && j->rc == 0) {
            j->rc = rc;
            snprintf(j->msg, sizeof j->msg, "%s", colog_errmsg());
        }
        if (++j->done == ncols)
            pthread_cond_broadcast(&ing->cv);
    }
}

/* Write all the columns of the open part: offered to a waiting reader when the
 * sink has per-column handles, else in schema order. */
static int write_columns(colog_ingest_t *ing, const batch_t *b, const uint32_t *rows, uint32_t m)
{
    if (ing->sink->col_open == NULL) {
        for (unsigned c = 0; c < ing->schema.ncols; c++) {
            int rc = write_column(ing, &ing->wws, b, c, rows, m);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    dayjob_t j = {.b = b, .rows = rows, .m = m};
    pthread_mutex_lock(&ing->mu);
    ing->job = &j;
    pthread_cond_broadcast(&ing->cv);
    run_columns(ing, &j, &ing->wws);
    while (j.done < ing->schema.ncols)
        pthread_cond_wait(&ing->cv, &ing->mu);
    ing->job = NULL;
    pthread_mutex_unlock(&ing->mu);
    if (j.rc < 0)
        return colog_seterr(j.rc, "%s", j.msg); /* the message, on this thread */
    return 0;
}

static int write_day(colog_ingest_t *ing, const batch_t *b, int32_t day, const uint32_t *rows,
                     uint32_t m)
{
    const colog_partsink_t *k = ing->sink;
    int rc = k->open(ing->ctx, day, m);
    if (rc < 0)
        return rc;
    rc = write_columns(ing, b, rows, m);
    if (rc < 0) {
        k->abort(ing->ctx);
        return rc;
    }
    uint64_t id;
    return k->commit(ing->ctx, &id);
}

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

/* Rows [0, upto) of the input are handled: tell opts.ack if that is news
 * (invariant 9). Called without mu. */
static void ack_upto(colog_ingest_t *ing, uint64_t upto)
{
    if (ing->opts.ack == NULL)
        return;
    pthread_mutex_lock(&ing->mu);
    bool news = upto > ing->acked;
    if (news)
        ing->acked = upto;
    pthread_mutex_unlock(&ing->mu);
    if (news)
        ing->opts.ack(ing->opts.ack_ctx, upto);
}

/*
 * Sort b and write it: one part a day, its acknowledgement, then the backlog
 * merges. The writer's work. Reports the parts committed in *parts, and
 * whether a failure came after every part was committed (*late: the session
 * lives on).
 */
static int flush_batch(colog_ingest_t *ing, batch_t *b, uint64_t *parts, bool *late)
{
    sort_rows(ing, b);
    const int64_t *ts = b->cols[0].vals;
    const uint32_t *perm = b->perm;
    size_t n = b->n;
    int rc;
    *parts = 0;
    *late = false;
    for (size_t a = 0; a < n;) {
        int32_t day = colog_day_of(ts[perm[a]]);
        size_t e = a + 1;
        while (e < n && colog_day_of(ts[perm[e]]) == day)
            e++;
        rc = write_day(ing, b, day, perm + a, (uint32_t)(e - a));
        if (rc < 0)
            return rc;
        ++*parts;
        a = e;
    }
    if (colog__crash_point("ingest-committed"))
        _exit(137);
    ack_upto(ing, b->upto);
    if (colog__crash_point("ingest-acked"))
        _exit(137);
    if (ing->opts.no_auto_merge || ing->sink->merge == NULL)
        return 0;
    *late = true; /* the parts are committed; only the compaction may fail */
    for (size_t a = 0; a < n;) {
        int32_t day = colog_day_of(ts[perm[a]]);
        while (a < n && colog_day_of(ts[perm[a]]) == day)
            a++;
        bool merged;
        rc = note_day(ing, day);
        if (rc == 0)
            rc = ing->sink->merge(ing->ctx, day, COLOG_MERGE_BACKLOG, &merged);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Write b and make it free again, recording the outcome under mu. */
static void write_batch(colog_ingest_t *ing, batch_t *b)
{
    uint64_t parts;
    bool late;
    int rc = flush_batch(ing, b, &parts, &late);
    char msg[MSG_MAX];
    if (rc < 0)
        snprintf(msg, sizeof msg, "%s", colog_errmsg());
    batch_reset(b, ing->schema.ncols);
    pthread_mutex_lock(&ing->mu);
    ing->stats.parts_written += parts;
    if (rc < 0 && late && ing->werr == 0) {
        ing->werr = rc;
        memcpy(ing->werrmsg, msg, sizeof msg);
    } else if (rc < 0 && !late && ing->failed == 0) {
        ing->failed = rc;
        memcpy(ing->failmsg, msg, sizeof msg);
    }
    pthread_mutex_unlock(&ing->mu);
}

/* The writer thread: write each batch handed over, until told to stop. */
static void *writer_main(void *arg)
{
    colog_ingest_t *ing = arg;
    pthread_mutex_lock(&ing->mu);
    for (;;) {
        while (ing->pending == NULL && !ing->stop)
            pthread_cond_wait(&ing->cv, &ing->mu);
        if (ing->pending == NULL)
            break;
        batch_t *b = ing->pending;
        pthread_mutex_unlock(&ing->mu);
        write_batch(ing, b);
        pthread_mutex_lock(&ing->mu);
        ing->pending = NULL;
        pthread_cond_broadcast(&ing->cv);
    }
    pthread_mutex_unlock(&ing->mu);
    return NULL;
}

/* ---------------------------------------------------------------- handing over */

/* With mu held: wait until the writer has nothing pending, helping with its
 * columns meanwhile. */
static void wait_writer(colog_ingest_t *ing)
{
    while (ing->pending) {
        if (ing->job && ing->job->next < ing->schema.ncols)
            run_columns(ing, ing->job, &ing->rws);
        else
            pthread_cond_wait(&ing->cv, &ing->mu);
    }
}

/* With mu held: the session's fatal error, or a late one (reported once),
 * re-set on this thread with its message; 0 if none. */
static int writer_error(colog_ingest_t *ing)
{
    if (ing->failed)
        return colog_seterr(ing->failed, "%s", ing->failmsg);
    if (ing->werr) {
        int rc = colog_seterr(ing->werr, "%s", ing->werrmsg);
        ing->werr = 0;
        return rc;
    }
    return 0;
}

/* Hand the current batch (not empty) to the writer, and take the other one. */
static int hand_over(colog_ingest_t *ing)
{
    batch_t *b = ing->cur;
    pthread_mutex_lock(&ing->mu);
    wait_writer(ing);
    int rc = writer_error(ing);
    if (ing->failed) {
        pthread_mutex_unlock(&ing->mu);
        batch_reset(b, ing->schema.ncols); /* the session is dead: drop the rows */
        return rc;
    }
    if (rc < 0) { /* a late error of the previous batch: report it, keep this one */
        pthread_mutex_unlock(&ing->mu);
        return rc;
    }
    /* The writer is idle: its sort scratch may be grown. */
    rc = ensure_sort(ing, b);
    if (rc < 0) {
        pthread_mutex_unlock(&ing->mu);
        return rc; /* nothing written: the batch is intact, a retry may work */
    }
    b->upto = ing->stats.rows_ok + ing->stats.rows_rejected;
    if (!ing->started)
        ing->started = pthread_create(&ing->thr, NULL, writer_main, ing) == 0;
    if (!ing->started) { /* no thread: write it here */
        pthread_mutex_unlock(&ing->mu);
        write_batch(ing, b);
        pthread_mutex_lock(&ing->mu);
        rc = writer_error(ing);
        pthread_mutex_unlock(&ing->mu);
        return rc;
    }
    ing->pending = b;
    ing->cur = b == &ing->bat[0] ? &ing->bat[1] : &ing->bat[0];
    pthread_cond_broadcast(&ing->cv);
    pthread_mutex_unlock(&ing->mu);
    return 0;
}

/* Wait until everything handed over is written; its error, if any. */
static int sync_writer(colog_ingest_t *ing)
{
    pthread_mutex_lock(&ing->mu);
    wait_writer(ing);
    int rc = writer_error(ing);
    pthread_mutex_unlock(&ing->mu);
    return rc;
}

static int dead(colog_ingest_t *ing)
{
    pthread_mutex_lock(&ing->mu);
    int rc = ing->failed ? colog_seterr(ing->failed, "%s", ing->failmsg) : 0;
    pthread_mutex_unlock(&ing->mu);
    return rc;
}

int colog__ingest_submit(colog_ingest_t *ing)
{
    int rc = dead(ing);
    if (rc < 0 || ing->cur->n == 0)
        return rc;
    return hand_over(ing);
}

int colog_ingest_flush(colog_ingest_t *ing)
{
    if (ing == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_ingest_flush: invalid argument");
    int rc = colog__ingest_submit(ing);
    if (rc < 0)
        return rc;
    rc = sync_writer(ing);
    if (rc == 0) /* the writer is idle: the rest, rejects since the last batch included */
        ack_upto(ing, ing->stats.rows_ok + ing->stats.rows_rejected);
    return rc;
}

/* ---------------------------------------------------------------- public entry points */

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

static int pw_col_open(void *ctx, unsigned col, const colog_dictview_t *dict, void **h)
{
    colog_pwcol_t *pc;
    int rc = colog__pwcol_begin(((pwctx_t *)ctx)->pw, col, dict, &pc);
    if (rc == 0)
        *h = pc;
    return rc;
}

static int pw_col_write(void *h, const void *vals, const uint8_t *valid, uint32_t n)
{
    return colog__pwcol_append(h, vals, valid, n);
}

static int pw_col_close(void *h)
{
    return colog__pwcol_end(h);
}

static void pw_col_abort(void *h)
{
    colog__pwcol_abort(h);
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
    .col_open = pw_col_open,
    .col_write = pw_col_write,
    .col_close = pw_col_close,
    .col_abort = pw_col_abort,
};

int colog_ingest_begin(colog_store_t *st, const colog_ingest_opts_t *opts, colog_ingest_t **out)
{
    if (st == NULL || out == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_ingest_begin: invalid argument");
    /* Refused now, not at the first flush, when the rows taken so far would be lost. */
    if (!st->writable)
        return colog_seterr(COLOG_EINVAL, "ingest: store not open for writing");
    colog_ingest_t *ing = NULL;
    int rc = colog__ingest_new(colog_store_schema(st), opts, &pw_sink, NULL, &ing);
    if (rc < 0)
        return rc;
    ing->pwc.st = st;
    ing->ctx = &ing->pwc;
    *out = ing;
    return 0;
}

/* The latest event time accepted: the clock (or opts.now_us) plus a day. */
static void update_ts_limit(colog_ingest_t *ing)
{
    int64_t now = ing->opts.now_us ? ing->opts.now_us : colog__now_us();
    ing->ts_limit = now > INT64_MAX - US_PER_DAY ? INT64_MAX : now + US_PER_DAY;
}

int colog_ingest_file(colog_ingest_t *ing, FILE *f, const char *src, colog_infmt_t fmt)
{
    if (ing == NULL || f == NULL)
        return colog_seterr(COLOG_EINVAL, "colog_ingest_file: invalid argument");
    int rc = dead(ing);
    if (rc < 0)
        return rc;
    if (src == NULL)
        src = "-";
    update_ts_limit(ing);
    if (fmt == COLOG_IN_CSV)
        rc = colog__csv_ingest(ing, f, src);
    else if (fmt == COLOG_IN_NDJSON)
        rc = colog__ndjson_ingest(ing, f, src);
    else
        return colog_seterr(COLOG_EINVAL, "%s: unknown input format %d", src, (int)fmt);
    /* The batches handed over are written when this returns, and their errors
     * reported here, as when the reader flushed them itself. */
    int wrc = sync_writer(ing);
    return rc < 0 ? rc : wrc;
}

void colog_ingest_reject(colog_ingest_t *ing, const char *src, uint64_t line, uint64_t col,
                         const char *reason)
{
    if (ing == NULL)
        return;
    colog__ingest_reject(ing, src ? src : "-", line, col, "%s", reason ? reason : "rejected");
}

int colog__ingest_prepare(colog_ingest_t *ing)
{
    int rc = dead(ing);
    if (rc < 0)
        return rc;
    if (ing->cur->n == 0) /* once a batch, not a row: stale by at most a flush interval */
        update_ts_limit(ing);
    if (colog__ingest_full(ing) && (rc = colog__ingest_submit(ing)) < 0)
        return rc;
    return 0;
}

int colog_ingest_row(colog_ingest_t *ing, const unsigned *cols, const char *const *vals,
                     const size_t *lens, unsigned n, const char *src, uint64_t line)
{
    if (ing == NULL || (n > 0 && (cols == NULL || vals == NULL || lens == NULL)) ||
        n > COLOG_MAX_COLS)
        return colog_seterr(COLOG_EINVAL, "colog_ingest_row: invalid argument");
    int rc = dead(ing);
    if (rc < 0)
        return rc;
    if (src == NULL)
        src = "-";
    uint64_t seen = 0;
    for (unsigned i = 0; i < n; i++) {
        if (cols[i] >= ing->schema.ncols || (seen >> cols[i] & 1) || (vals[i] == NULL && lens[i]))
            return colog_seterr(COLOG_EINVAL, "colog_ingest_row: bad or repeated column %u",
                                cols[i]);
        seen |= 1ull << cols[i];
    }
    if ((rc = colog__ingest_prepare(ing)) < 0)
        return rc;
    if ((rc = colog__row_begin(ing)) < 0)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        const char *v = lens[i] ? vals[i] : "";
        size_t bad = colog__utf8_check(v, lens[i]);
        if (bad < lens[i]) {
            colog__ingest_reject(ing, src, line, 0, "%s: invalid UTF-8 at byte %zu",
                                 ing->schema.cols[cols[i]].name, bad + 1);
            return 0;
        }
        rc = colog__row_put_text(ing, cols[i], v, lens[i]);
        if (rc == COLOG_EPARSE || rc == COLOG_ERANGE) {
            colog__ingest_reject(ing, src, line, 0, "%s", colog__ingest_why(ing));
            return 0;
        }
        if (rc < 0)
            return rc;
    }
    rc = colog__row_end(ing);
    if (rc == COLOG_EPARSE || rc == COLOG_ERANGE) {
        colog__ingest_reject(ing, src, line, 0, "%s", colog__ingest_why(ing));
        return 0;
    }
    return rc < 0 ? rc : 1;
}

int colog_ingest_finish(colog_ingest_t *ing, colog_ingest_stats_t *stats)
{
    if (ing == NULL)
        return 0;
    int rc = colog_ingest_flush(ing);
    if (ing->started) {
        pthread_mutex_lock(&ing->mu);
        ing->stop = true;
        pthread_cond_broadcast(&ing->cv);
        pthread_mutex_unlock(&ing->mu);
        pthread_join(ing->thr, NULL);
        ing->started = false;
    }
    if (ing->pwc.pw) /* only after a failure inside the sink */
        colog__pw_abort(ing->pwc.pw);
    /* The batches are no longer needed: give their memory back before the merges. */
    free_buffers(ing);
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
    pthread_cond_destroy(&ing->cv);
    pthread_mutex_destroy(&ing->mu);
    free(ing);
    return rc;
}
