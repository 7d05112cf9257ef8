/*
 * colog_storage_int.h — This file is private to colog's storage layer.
 *
 * Low-level pieces shared by the storage modules: durable file I/O, column files,
 * dictionary files and part manifests. The byte layouts are specified in
 * docs/FORMAT.md; that document is the authority.
 */
#ifndef COLOG_STORAGE_INT_H
#define COLOG_STORAGE_INT_H

#include "colog_storage.h"

/* ---------------------------------------------------------------- magic numbers */

/* Little-endian u32 magics; each reads as ASCII in a hex dump and exposes a
 * byte-order mistake (the bytes are not a palindrome). */
#define COLOG_COL_MAGIC 0x314C4F43u  /* "COL1" column file header */
#define COLOG_COLF_MAGIC 0x46434F43u /* "COCF" column file footer */
#define COLOG_BLK_MAGIC 0x4B4C4243u  /* "CBLK" block header */
#define COLOG_DICT_MAGIC 0x54434443u /* "CDCT" dictionary file */
#define COLOG_MAN_MAGIC 0x4E414D43u  /* "CMAN" part manifest */
#define COLOG_IDX_MAGIC 0x58444943u  /* "CIDX" bitmap index file */
#define COLOG_FORMAT_VERSION 1u

/* ---------------------------------------------------------------- file I/O (colog_io.c) */

/* write() all of buf, retrying on EINTR and short writes. 0 or -errno. */
int colog__write_all(int fd, const void *buf, size_t len);
/* pread() exactly len bytes at off. 0, -errno, or COLOG_ECORRUPT on a short file. */
int colog__pread_all(int fd, void *buf, size_t len, uint64_t off);
/* fsync a directory by path or fd. 0 or -errno. */
int colog__fsync_dir(const char *path);
int colog__fsync_fd(int fd);
/* The descriptor to read f through as data arrives, or -1 to fread() it. A
 * pipe, socket or terminal gives what its writer has sent so far, so that rows
 * are handled, and acknowledged (colog_ack_fn), as they come: fread() would wait
 * for a full buffer or the end. Nothing must have been read through f before
 * (its buffer is bypassed). Used by the CSV and NDJSON readers. */
int colog__stream_fd(FILE *f);
/* Open dirfd/name read-only as a regular file: the descriptor (>= 0) and its
 * size, or a negative error whose message names display (NULL: name). */
int colog__open_ro(int dirfd, const char *name, const char *display, uint64_t *size);
/* Read a whole file (at dirfd/name) into a malloc'ed buffer. 0 or error. */
int colog__read_file(int dirfd, const char *name, uint8_t **buf, size_t *len);
/* Write buf to dirfd/name durably: tmp file, fsync, rename, fsync dir. */
int colog__write_file_durable(int dirfd, const char *name, const void *buf, size_t len);
/* Remove a directory tree (used for temp and superseded parts). 0 or -errno. */
int colog__rm_rf(int dirfd, const char *name);

/* Little-endian helpers for on-disk fields. */
static inline void colog__put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void colog__put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void colog__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t colog__get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t colog__get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t colog__get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---------------------------------------------------------------- fault injection (colog_io.c)
 *
 * Test-only: makes the N-th system call of one kind on the write path fail (or,
 * for writes, come back short), so tests can check that every failure is
 * reported, cleaned up and recovered from. Armed by colog__fault_set (Criterion
 * tests) or, once at start-up, by the environment:
 *     COLOG_FAULT=KIND:N[+][:ERRNO]    e.g. write:3  fsync:1:EIO  short:2:ENOSPC
 * N counts from 1 (0: count the calls only); "+" makes the N-th and every later
 * call of the kind fail. With COLOG_FAULT set, a line on stderr at exit tells
 * how many faults were injected and how many calls of each kind were seen.
 * ERRNO is a name (ENOSPC, EIO, EDQUOT, EROFS, EMFILE, EACCES, EINTR) or a number.
 * Disarmed, the cost at each site is one load and one predictable branch.
 */
enum {
    COLOG_FAULT_OFF = 0,
    COLOG_FAULT_WRITE = 1,  /* the N-th write() fails with ERRNO (default ENOSPC) */
    COLOG_FAULT_SHORT = 2,  /* the N-th write() writes half its buffer and returns short;
                             * with ERRNO, the next write() then fails with it */
    COLOG_FAULT_FSYNC = 3,  /* the N-th fsync() / fdatasync() fails (default EIO) */
    COLOG_FAULT_RENAME = 4, /* the N-th rename fails (default EIO) */
    COLOG_FAULT_MKDIR = 5,  /* the N-th mkdir fails (default ENOSPC) */
    COLOG_FAULT_OPEN = 6,   /* the N-th open fails (default EMFILE) */
    COLOG_FAULT_NKINDS = 7,
    COLOG_FAULT_STICKY = 0x100, /* or'ed into kind: fail the N-th and all later calls */
};

extern int colog__fault_armed; /* accessed with __atomic builtins only */
int colog__fault_hit(const char *site);

/* Call right before a write-path system call; site is its kind ("write",
 * "fsync", "rename", "mkdir", "open"), optionally followed by ":where". Returns
 * 0, or sets errno to the injected error and returns it negated, so a call site
 * reads `if (colog__fault("rename") < 0 || renameat(...) != 0) { ...errno... }`. */
static inline bool colog__fault_armed_now(void)
{
    return __builtin_expect(__atomic_load_n(&colog__fault_armed, __ATOMIC_RELAXED), 0);
}
static inline int colog__fault(const char *site)
{
    return colog__fault_armed_now() ? colog__fault_hit(site) : 0;
}

/* Arm (kind != OFF; n >= 1) or only count (n == 0), resetting the counters; err
 * 0 takes the kind's default. colog__fault_set(COLOG_FAULT_OFF, 0, 0) disarms.
 * Not thread-safe against the calls it arms: set it between operations. */
void colog__fault_set(int kind, unsigned long n, int err);
/* Calls of a kind seen since the last colog__fault_set (COLOG_FAULT_SHORT counts
 * as WRITE), and how many faults were injected. */
unsigned long colog__fault_count(int kind);
unsigned long colog__fault_fired(void);

/* ---------------------------------------------------------------- column files (colog_colfile.c)
 */

/*
 * A column file holds one column of one part as a sequence of blocks of
 * COLOG_BLOCK_ROWS rows (the last may be shorter), each encoded for its type,
 * LZ4-compressed, checksummed with XXH3-64 seeded by the file's seed and the
 * block number, followed by a footer with every block's offset and zone map.
 */
typedef struct colog_colw colog_colw_t;

/* Create dirfd/fname (O_EXCL) for a column of the given type. seed is mixed into
 * every checksum (colog__file_seed of the file name), so a block copied into
 * another file or position fails its check. */
int colog__colw_open(colog_colw_t **out, int dirfd, const char *fname, colog_type_t type);
/* Cold tier: after the usual choice of encoding, compress the block with zstd
 * at `level` (1..22) and keep that when it is smaller. Call before appending. */
int colog__colw_cold(colog_colw_t *w, int level);
/* Append n values. vals points to int64_t (time, i64), uint64_t (u8..u64; each
 * must fit the type), double (f64) or uint32_t dictionary codes (ip, string).
 * valid is a bitset over the n values (bit i of valid[i>>3]), NULL = all present.
 * Full blocks are encoded and written as they fill. */
int colog__colw_append(colog_colw_t *w, const void *vals, const uint8_t *valid, uint32_t n);
/* Write the last block and the footer, fsync, close. Reports the file size, its
 * XXH3-64 and SHA-256 (of the whole file). Frees w whatever the result. */
int colog__colw_close(colog_colw_t *w, uint64_t *size, uint64_t *xxh, uint8_t sha256[32]);
/* Close and unlink the file. Accepts NULL. */
void colog__colw_abort(colog_colw_t *w);

typedef struct colog_colr colog_colr_t;

/* Open dirfd/fname and read + verify its header and footer. display names the
 * file in error messages (e.g. "hot/2026-03-01/p0000000000000003/src_ip.col"). */
int colog__colr_open(colog_colr_t **out, int dirfd, const char *fname, colog_type_t type,
                     const char *display);
uint32_t colog__colr_nblocks(const colog_colr_t *r);
uint64_t colog__colr_nrows(const colog_colr_t *r);
/* Zone map of block b from the footer (no I/O). */
int colog__colr_zone(const colog_colr_t *r, uint32_t b, colog_zone_t *out);
/* Read, verify, decompress and decode block b. The arrays in *out live in r's
 * buffers until the next colog__colr_read on r or colog__colr_close. A checksum
 * mismatch is COLOG_ECORRUPT with "DISPLAY: block B: checksum mismatch". */
int colog__colr_read(colog_colr_t *r, uint32_t b, colog_block_t *out);
void colog__colr_close(colog_colr_t *r);

/* Thread-safe decode of block b into a caller's buffer (pread). */
int colog__colr_read_buf(const colog_colr_t *r, uint32_t b, colog_rbuf_t *buf, colog_block_t *out);

typedef struct colog_creq {
    const colog_colr_t *r;
    uint32_t b;
    colog_rbuf_t *buf;
    colog_block_t *out;
} colog_creq_t;
/* Issue the reads of n blocks together through q (io_uring or pread), then verify
 * and decode each. Thread-safe on the readers; q belongs to the calling thread. */
int colog__colr_read_many(colog_creq_t *reqs, size_t n, colog_ioq_t *q);

/* ---------------------------------------------------------------- dictionary files
 * (colog_dictfile.c) */

/* Write a sorted, duplicate-free dictionary to dirfd/fname (O_EXCL), fsync. */
int colog__dict_write(int dirfd, const char *fname, const colog_dictview_t *d, uint64_t *size,
                      uint64_t *xxh, uint8_t sha256[32]);

typedef struct colog_dictbuf colog_dictbuf_t;
/* Read and verify (checksums, sortedness, offsets in bounds) a whole dictionary
 * file: colog__dict_open then colog__dict_load. */
int colog__dict_read(int dirfd, const char *fname, colog_type_t type, const char *display,
                     colog_dictbuf_t **out);
/* Open a dictionary file lazily. Version 1 files (one compressed payload) are
 * read and verified whole here. Version 2 files (entries in separately
 * compressed and checksummed blocks, FORMAT.md) read only the header and the
 * checksummed block directory with each block's first value; the entries are
 * read when needed: all of them by colog__dict_load, one block by
 * colog__dict_bound. display names the file in errors (NULL: fname). */
int colog__dict_open(int dirfd, const char *fname, colog_type_t type, const char *display,
                     colog_dictbuf_t **out);
/* Entries of the dictionary (known from the header). */
uint32_t colog__dict_size(const colog_dictbuf_t *d);
/* Read, verify and decode every entry, once (later calls return the first
 * result at once). Thread-safe. */
int colog__dict_load(colog_dictbuf_t *d);
/* The whole view; only after colog__dict_read or a successful colog__dict_load;
 * valid until colog__dict_free. */
const colog_dictview_t *colog__dict_view(const colog_dictbuf_t *d);
/* *pos = the code of the first entry >= the value (with upper: > the value), or
 * the entry count if none. The value is *ip for an ip dictionary, s[0..len) for
 * a string one. Reads and verifies at most one block of a version 2 file that
 * is not loaded. Thread-safe. ECORRUPT (naming the file and the block) or an
 * I/O error. */
int colog__dict_bound(colog_dictbuf_t *d, const colog_ip_t *ip, const char *s, size_t len,
                      bool upper, uint32_t *pos);
void colog__dict_free(colog_dictbuf_t *d);

/* ---------------------------------------------------------------- manifests (colog_manifest.c) */

#define COLOG_FILE_NAME_MAX 64

typedef struct colog_mfile {
    char name[COLOG_FILE_NAME_MAX]; /* NUL-padded */
    uint64_t size;
    uint64_t xxh3;
    uint8_t sha256[32];
} colog_mfile_t;

typedef struct colog_manifest {
    uint64_t part_id;
    int32_t day;      /* day number the part belongs to */
    uint32_t nblocks; /* blocks per column file */
    uint64_t nrows;
    int64_t ts_min, ts_max;
    uint8_t schema_sha256[32]; /* of the store's canonical schema text */
    uint32_t nsup;             /* ids of parts (same day) this one replaces */
    uint64_t *sup;
    uint32_t nfiles;
    colog_mfile_t *files;
} colog_manifest_t;

/* Serialize to a malloc'ed buffer (caller frees). */
int colog__manifest_encode(const colog_manifest_t *m, uint8_t **buf, size_t *len);
/* Parse and verify buf[0..len). Allocates m->sup and m->files (free with
 * colog__manifest_clear). display names the file in messages. */
int colog__manifest_decode(const uint8_t *buf, size_t len, const char *display,
                           colog_manifest_t *m);
void colog__manifest_clear(colog_manifest_t *m);

/* Checksum seed of a file name: XXH3-64 of the name. */
uint64_t colog__file_seed(const char *fname);

/* ---------------------------------------------------------------- bitmap indexes (colog_index.c)
 */

/*
 * An index file NAME.idx maps each distinct value of an indexed column of a part
 * (the dictionary code for ip/string columns, the value for integer columns) to
 * the Roaring bitmap of the row ids holding it, with per-key cardinalities and
 * our own checksums (CRoaring has none). Rows with an absent value are in no
 * bitmap.
 */
struct roaring_bitmap_s; /* CRoaring's roaring_bitmap_t */
typedef struct colog_idxw colog_idxw_t;

/* ncodes: the dictionary size for ip/string columns (codes < ncodes); 0 for
 * integer columns (u8..u64, i64). */
int colog__idxw_new(colog_type_t type, uint64_t ncodes, colog_idxw_t **out);
/* Add the next n rows (row ids continue from the previous call). vals as for
 * colog__colw_append. */
int colog__idxw_add(colog_idxw_t *w, const void *vals, const uint8_t *valid, uint32_t n);
/* Write dirfd/fname (O_EXCL), fsync; report size, XXH3-64 and SHA-256 of the file.
 * Frees w whatever the result. */
int colog__idxw_write(colog_idxw_t *w, int dirfd, const char *fname, uint64_t *size, uint64_t *xxh,
                      uint8_t sha256[32]);
void colog__idxw_abort(colog_idxw_t *w);

typedef struct colog_idxr colog_idxr_t;

/* Open: read and verify the header and the key table's checksum and chunk
 * directory (bitmaps are read on demand). Version 1 files also have every key
 * and cardinality decoded and checked here. Version 2 files (whose directory
 * gives each chunk's first key and where its keys and cardinalities start in
 * the table, FORMAT.md) are decoded later: all of them by colog__idxr_load, or
 * one chunk at a time by colog__idxr_range, colog__idxr_last_key and
 * colog__idxr_or_range. nrows: the part's rows (every row id must be below it). */
int colog__idxr_open(colog_idxr_t **out, int dirfd, const char *fname, colog_type_t type,
                     uint64_t nrows, const char *display);
/* Decode and check every key and cardinality, once (later calls return the
 * first result at once). Thread-safe. Version 1: nothing to do. */
int colog__idxr_load(colog_idxr_t *r);
uint32_t colog__idxr_nkeys(const colog_idxr_t *r);
/* Only after colog__idxr_load (or on a version 1 file): key i (ascending), its
 * cardinality (i < nkeys), and the first i with key(i) >= key (nkeys if none). */
uint64_t colog__idxr_key(const colog_idxr_t *r, uint32_t i);
uint64_t colog__idxr_card(const colog_idxr_t *r, uint32_t i);
uint32_t colog__idxr_lower(const colog_idxr_t *r, uint64_t key);
/* The keys in [lo, hi] (lo <= hi, in the key order of FORMAT.md: i64 keys as
 * signed): their positions [*i, *j) and the sum of their cardinalities. Loaded
 * or not; not loaded, it decodes only the chunks holding lo and hi (and, for
 * the sum, those between). Thread-safe. ECORRUPT naming the file. */
int colog__idxr_range(const colog_idxr_t *r, uint64_t lo, uint64_t hi, uint32_t *i, uint32_t *j,
                      uint64_t *card_sum);
/* The largest key (nkeys > 0), decoding at most the last chunk. Thread-safe. */
int colog__idxr_last_key(const colog_idxr_t *r, uint64_t *key);
/* OR the bitmaps of keys [i, j) into dst (read, checksum-verified, deserialized
 * with roaring_bitmap_portable_deserialize_safe and validated). Loaded or not.
 * Thread-safe. */
int colog__idxr_or_range(const colog_idxr_t *r, uint32_t i, uint32_t j,
                         struct roaring_bitmap_s *dst);
void colog__idxr_close(colog_idxr_t *r);

/* ---------------------------------------------------------------- part writer (colog_part.c) */

/*
 * Writes one immutable part of one day into a temp directory of the day
 * (".tmp-pID"); colog__pw_commit writes the manifest, fsyncs every file and the
 * directory, renames it to "pID" and fsyncs the day directory, so a crash never
 * leaves a half part visible.
 *
 * Columns are written in schema order 0..ncols-1, each as begin / append* / end,
 * each with exactly nrows values. Column 0 (time) must be ascending.
 */
typedef struct colog_pw colog_pw_t;

/* st must be open with COLOG_OPEN_WRITE. nrows > 0. */
int colog__pw_open(colog_store_t *st, int32_t day, uint64_t nrows, colog_pw_t **out);
/* dict: the column's sorted dictionary for ip/string columns (copied), NULL
 * otherwise; codes appended later index into it. */
int colog__pw_col_begin(colog_pw_t *pw, unsigned col, const colog_dictview_t *dict);
/* Values as for colog__colw_append. */
int colog__pw_col_append(colog_pw_t *pw, const void *vals, const uint8_t *valid, uint32_t n);
int colog__pw_col_end(colog_pw_t *pw);
/* Concurrent API: a handle per column; handles of different columns may be used
 * by different threads at once. end frees the handle whatever the result. */
typedef struct colog_pwcol colog_pwcol_t;
int colog__pwcol_begin(colog_pw_t *pw, unsigned col, const colog_dictview_t *dict,
                       colog_pwcol_t **out);
int colog__pwcol_append(colog_pwcol_t *h, const void *vals, const uint8_t *valid, uint32_t n);
int colog__pwcol_end(colog_pwcol_t *h);
void colog__pwcol_abort(colog_pwcol_t *h);
/* Make the part visible. sup lists parts of the same day it replaces (merge);
 * they are removed after the commit. Frees pw whatever the result. */
int colog__pw_commit(colog_pw_t *pw, const uint64_t *sup, uint32_t nsup, uint64_t *id_out);
/* Discard the temp part. Accepts NULL. */
void colog__pw_abort(colog_pw_t *pw);

/* Wall clock in µs (CLOCK_REALTIME). */
int64_t colog__now_us(void);

#endif /* COLOG_STORAGE_INT_H */
