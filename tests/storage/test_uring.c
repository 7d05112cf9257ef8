/*
 * test_uring.c — Criterion suite of colog_uring.c (the I/O queue: io_uring or
 * pread) and of the batched and thread-safe column reads built on it
 * (colog__colr_read_many, colog__colr_read_buf in colog_colfile.c).
 *
 * Every value read back is compared with a closed formula over its row number
 * (the writer wrote the same formula), for every row of every block. Each read
 * test runs on both backends: io_uring forced (skipped, saying why, where the
 * kernel refuses it) and pread; AUTO is also run with COLOG_IO=pread. Depths are
 * small (1, 3, 4) so that a batch is always larger than the queue.
 */
#include "colog_storage_int.h"
#include "colog_uring.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char tdir[64];
static int dfd = -1;

static void setup(void)
{
    strcpy(tdir, "/tmp/colog-uring-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir));
    dfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);
    unsetenv("COLOG_IO");
}

static void teardown(void)
{
    unsetenv("COLOG_IO");
    close(dfd);
    cr_assert_eq(colog__rm_rf(AT_FDCWD, tdir), 0);
}

TestSuite(uring, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- known data */

/* 5 full blocks and a last one of 123 rows. */
#define NROWS (5 * COLOG_BLOCK_ROWS + 123)
#define NBLOCKS 6
#define NCOLS 5
enum { TS, BYTES, DELTA, CODE, RATIO }; /* column numbers */

static const struct {
    const char *name;
    colog_type_t type;
} cols[NCOLS] = {
    {"ts.col", COLOG_T_TIME},     {"bytes.col", COLOG_T_U64}, {"delta.col", COLOG_T_I64},
    {"code.col", COLOG_T_STRING}, {"ratio.col", COLOG_T_F64},
};

/* The value of column c at row r. bytes.col is absent where r % 5 == 2. */
static int64_t ts_at(uint64_t r)
{
    return 1772366400000000LL + (int64_t)r * 1000 + (int64_t)(r % 7);
}
static uint64_t bytes_at(uint64_t r)
{
    return r * r + 17;
}
static bool bytes_valid(uint64_t r)
{
    return r % 5 != 2;
}
static int64_t delta_at(uint64_t r)
{
    return (int64_t)(r % 2001) - 1000;
}
static uint32_t code_at(uint64_t r)
{
    return (uint32_t)(r * 31 % 5000);
}
static double ratio_at(uint64_t r)
{
    return (double)r * 0.25 - 100.0; /* exact: multiples of 1/4 below 2^53 */
}

/* Write column c of NROWS rows into dir, appending 10007 rows at a time. */
static void write_col(int dir, int c)
{
    enum { CHUNK = 10007 };
    colog_colw_t *w = NULL;
    uint64_t *u = malloc(CHUNK * sizeof *u);
    uint32_t *code = malloc(CHUNK * sizeof *code);
    uint8_t valid[CHUNK / 8 + 1];
    cr_assert_eq(colog__colw_open(&w, dir, cols[c].name, cols[c].type), 0, "%s", colog_errmsg());
    for (uint64_t at = 0; at < NROWS; at += CHUNK) {
        uint32_t n = NROWS - at < CHUNK ? (uint32_t)(NROWS - at) : CHUNK;
        memset(valid, 0, sizeof valid);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t r = at + i;
            int64_t s;
            double d;
            switch (c) {
            case TS:
                s = ts_at(r);
                memcpy(&u[i], &s, 8);
                break;
            case DELTA:
                s = delta_at(r);
                memcpy(&u[i], &s, 8);
                break;
            case RATIO:
                d = ratio_at(r);
                memcpy(&u[i], &d, 8);
                break;
            case CODE:
                code[i] = code_at(r);
                break;
            default:
                u[i] = bytes_valid(r) ? bytes_at(r) : 0xdeadbeef;
                if (bytes_valid(r))
                    valid[i >> 3] |= (uint8_t)(1u << (i & 7));
                break;
            }
        }
        const void *vals = c == CODE ? (const void *)code : (const void *)u;
        const uint8_t *vp = c == BYTES ? valid : NULL;
        cr_assert_eq(colog__colw_append(w, vals, vp, n), 0, "%s", colog_errmsg());
    }
    cr_assert_eq(colog__colw_close(w, NULL, NULL, NULL), 0, "%s", colog_errmsg());
    free(u);
    free(code);
}

static void write_all(void)
{
    for (int c = 0; c < NCOLS; c++)
        write_col(dfd, c);
}

static colog_colr_t *open_col(int c)
{
    colog_colr_t *r = NULL;
    cr_assert_eq(colog__colr_open(&r, dfd, cols[c].name, cols[c].type, cols[c].name), 0, "%s",
                 colog_errmsg());
    cr_assert_eq(colog__colr_nblocks(r), NBLOCKS);
    cr_assert_eq(colog__colr_nrows(r), NROWS);
    return r;
}

/* Compare block b of column c with the formulas, every row. 0, or -1 with the
 * first difference in why (usable from any thread: no Criterion assert). */
static int check_block(int c, uint32_t b, const colog_block_t *blk, char *why, size_t cap)
{
    uint32_t n = b + 1 < NBLOCKS ? COLOG_BLOCK_ROWS : 123;
    if (blk->type != cols[c].type || blk->n != n) {
        snprintf(why, cap, "%s block %u: type %d n %u", cols[c].name, b, blk->type, blk->n);
        return -1;
    }
    if ((c == BYTES) != (blk->valid != NULL)) {
        snprintf(why, cap, "%s block %u: valid bitset presence", cols[c].name, b);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = (uint64_t)b * COLOG_BLOCK_ROWS + i;
        bool ok;
        switch (c) {
        case TS:
            ok = blk->v.i64[i] == ts_at(r);
            break;
        case DELTA:
            ok = blk->v.i64[i] == delta_at(r);
            break;
        case RATIO:
            ok = blk->v.f64[i] == ratio_at(r);
            break;
        case CODE:
            ok = blk->v.code[i] == code_at(r);
            break;
        default:
            ok = colog_valid(blk->valid, i) == bytes_valid(r) &&
                 (!bytes_valid(r) || blk->v.u64[i] == bytes_at(r));
            break;
        }
        if (!ok) {
            snprintf(why, cap, "%s block %u row %u: wrong value", cols[c].name, b, i);
            return -1;
        }
    }
    return 0;
}

static void assert_block(int c, uint32_t b, const colog_block_t *blk)
{
    char why[128];
    cr_assert_eq(check_block(c, b, blk, why, sizeof why), 0, "%s", why);
}

/* A forced io_uring queue, or skip the test saying why there is none. */
static colog_ioq_t *uring_or_skip(unsigned depth)
{
    colog_ioq_t *q = NULL;
    int rc = colog_ioq_new(COLOG_IO_URING, depth, &q);
    if (rc < 0) {
        cr_log_warn("io_uring unavailable here: %s", colog_errmsg());
        cr_skip_test("io_uring unavailable here: %s", colog_errmsg());
    }
    cr_assert_str_eq(colog_ioq_backend(q), "io_uring");
    cr_assert_str_eq(colog__ioq_why(q), "");
    return q;
}

static colog_ioq_t *pread_q(void)
{
    colog_ioq_t *q = NULL;
    cr_assert_eq(colog_ioq_new(COLOG_IO_PREAD, 4, &q), 0, "%s", colog_errmsg());
    cr_assert_str_eq(colog_ioq_backend(q), "pread");
    return q;
}

/* ---------------------------------------------------------------- queues */

Test(uring, modes_and_env)
{
    colog_ioq_t *q = NULL;
    cr_assert_eq(colog_ioq_new(COLOG_IO_PREAD, 8, &q), 0, "%s", colog_errmsg());
    cr_assert_str_eq(colog_ioq_backend(q), "pread");
    cr_assert_str_eq(colog__ioq_why(q), "COLOG_IO_PREAD requested");
    colog_ioq_free(q);

    cr_assert_eq(setenv("COLOG_IO", "pread", 1), 0);
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 8, &q), 0, "%s", colog_errmsg());
    cr_assert_str_eq(colog_ioq_backend(q), "pread");
    cr_assert_str_eq(colog__ioq_why(q), "COLOG_IO=pread");
    colog_ioq_free(q);

    /* the environment does not overrule an explicit mode */
    cr_assert_eq(colog_ioq_new(COLOG_IO_PREAD, 1, &q), 0, "%s", colog_errmsg());
    colog_ioq_free(q);
    colog_ioq_t *u = NULL;
    int urc = colog_ioq_new(COLOG_IO_URING, 8, &u);
    cr_assert(urc == 0 || urc < 0);
    if (urc == 0)
        cr_assert_str_eq(colog_ioq_backend(u), "io_uring");
    colog_ioq_free(u);

    /* AUTO without the variable: io_uring exactly when it can be had */
    unsetenv("COLOG_IO");
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 8, &q), 0, "%s", colog_errmsg());
    cr_assert_str_eq(colog_ioq_backend(q), urc == 0 ? "io_uring" : "pread", "why: %s",
                     colog__ioq_why(q));
    colog_ioq_free(q);
    cr_assert_eq(setenv("COLOG_IO", "auto", 1), 0);
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 8, &q), 0, "%s", colog_errmsg());
    cr_assert_str_eq(colog_ioq_backend(q), urc == 0 ? "io_uring" : "pread");
    colog_ioq_free(q);
    colog_ioq_free(NULL);
}

Test(uring, bad_arguments)
{
    colog_ioq_t *q = (colog_ioq_t *)&q; /* must stay untouched on failure */
    colog_ioq_t *const before = q;
    cr_assert_eq(colog_ioq_new(COLOG_IO_PREAD, 0, &q), COLOG_EINVAL);
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, COLOG_IOQ_MAX_DEPTH + 1, &q), COLOG_EINVAL);
    cr_assert_eq(colog_ioq_new(3, 4, &q), COLOG_EINVAL);
    cr_assert_eq(colog_ioq_new(-1, 4, &q), COLOG_EINVAL);
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 4, NULL), COLOG_EINVAL);
    cr_assert_eq(setenv("COLOG_IO", "uring-please", 1), 0);
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 4, &q), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "COLOG_IO=uring-please") != NULL, "%s", colog_errmsg());
    cr_assert_eq(q, before);

    q = pread_q();
    size_t at = 0;
    cr_assert_eq(colog__ioq_run(q, NULL, 1, &at), COLOG_EINVAL);
    cr_assert_eq(at, SIZE_MAX);
    cr_assert_eq(colog__ioq_run(q, NULL, 0, NULL), 0);
    colog_iop_t op = {.fd = 0, .off = (uint64_t)INT64_MAX, .len = 2, .dst = &at};
    cr_assert_eq(colog__ioq_run(q, &op, 1, &at), COLOG_EINVAL);
    cr_assert_eq(at, 0);
    colog_ioq_free(q);

    cr_assert_eq(colog__colr_read_many(NULL, 0, NULL), 0, "an empty batch is no work");
    cr_assert_eq(colog__colr_read_many(NULL, 1, NULL), COLOG_EINVAL);
    colog_rbuf_t *unused = colog_rbuf_new();
    cr_assert_not_null(unused);
    colog_rbuf_free(unused); /* never used: nothing allocated inside */
    colog_rbuf_free(NULL);
}

/* ---------------------------------------------------------------- raw batches */

/* Byte i of the test file. */
static uint8_t byte_at(uint64_t i)
{
    return (uint8_t)(i * 7 % 251);
}

/* 300 reads (lengths 0..~6000, overlapping ranges) of a 1 MiB file through q. */
static void raw_batch(colog_ioq_t *q)
{
    enum { SIZE = 1 << 20, N = 300 };
    uint8_t *f = malloc(SIZE);
    for (uint64_t i = 0; i < SIZE; i++)
        f[i] = byte_at(i);
    int fd = openat(dfd, "raw", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(colog__write_all(fd, f, SIZE), 0);
    free(f);

    colog_iop_t *ops = calloc(N, sizeof *ops);
    for (size_t i = 0; i < N; i++) {
        ops[i].fd = fd;
        ops[i].off = (i * 104729) % (SIZE - 8192);
        ops[i].len = i % 17 == 0 ? 0 : (i * 37) % 6000 + 1;
        ops[i].dst = malloc(ops[i].len + 1);
        ops[i].done = 12345; /* reset by the run */
    }
    size_t at = 7;
    cr_assert_eq(colog__ioq_run(q, ops, N, &at), 0, "%s", colog_errmsg());
    cr_assert_eq(at, SIZE_MAX, "untouched index on success");
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(ops[i].done, ops[i].len);
        const uint8_t *d = ops[i].dst;
        for (size_t k = 0; k < ops[i].len; k++)
            cr_assert_eq(d[k], byte_at(ops[i].off + k), "read %zu byte %zu", i, k);
    }

    /* errors: a bad fd at 57 and 80, end of file at 120: the lowest wins */
    ops[80].fd = -1;
    ops[57].fd = 999999;
    ops[120].off = SIZE - 10;
    ops[120].len = 11;
    cr_assert_eq(colog__ioq_run(q, ops, N, &at), -EBADF);
    cr_assert_eq(at, 57);
    cr_assert(strstr(colog_errmsg(), "read: Bad file descriptor") != NULL, "%s", colog_errmsg());
    ops[57].fd = ops[80].fd = fd;
    cr_assert_eq(colog__ioq_run(q, ops, N, &at), COLOG_ECORRUPT);
    cr_assert_eq(at, 120);
    cr_assert(strstr(colog_errmsg(), "unexpected end of file at offset 1048576") != NULL, "%s",
              colog_errmsg());
    ops[120].off = SIZE - 11;
    cr_assert_eq(colog__ioq_run(q, ops, N, &at), 0, "%s", colog_errmsg());
    cr_assert_eq(((uint8_t *)ops[120].dst)[10], byte_at(SIZE - 1));

    /* a file that cannot block: io_uring may answer -EAGAIN (pages not cached) */
    int nb = openat(dfd, "raw", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert_geq(nb, 0);
    cr_assert_eq(fdatasync(fd), 0);
    posix_fadvise(nb, 0, 0, POSIX_FADV_DONTNEED);
    for (size_t i = 0; i < N; i++)
        ops[i].fd = nb;
    cr_assert_eq(colog__ioq_run(q, ops, N, &at), 0, "%s", colog_errmsg());
    for (size_t i = 0; i < N; i++) {
        const uint8_t *d = ops[i].dst;
        for (size_t k = 0; k < ops[i].len; k++)
            cr_assert_eq(d[k], byte_at(ops[i].off + k), "read %zu byte %zu", i, k);
    }
    close(nb);
    for (size_t i = 0; i < N; i++)
        free(ops[i].dst);
    free(ops);
    close(fd);
}

Test(uring, raw_batch_uring)
{
    colog_ioq_t *q = uring_or_skip(3);
    raw_batch(q);
    cr_assert_str_eq(colog_ioq_backend(q), "io_uring", "no fallback: %s", colog__ioq_why(q));
    colog_ioq_free(q);
}

Test(uring, raw_batch_pread)
{
    colog_ioq_t *q = pread_q();
    raw_batch(q);
    colog_ioq_free(q);
}

/* ---------------------------------------------------------------- column batches */

/* Every block of every column in one batch through q, in an interleaved order
 * (columns alternate, blocks descend), twice with the same buffers. */
static void all_blocks(colog_ioq_t *q)
{
    enum { N = NCOLS * NBLOCKS };
    write_all();
    colog_colr_t *r[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        r[c] = open_col(c);
    colog_creq_t reqs[N];
    colog_block_t out[N];
    colog_rbuf_t *bufs[N];
    int col_of[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            int c = i % NCOLS;
            uint32_t b = (uint32_t)(NBLOCKS - 1 - i / NCOLS);
            if (round == 1)
                b = (uint32_t)(i / NCOLS); /* buffers now see other blocks */
            if (round == 0)
                cr_assert_not_null(bufs[i] = colog_rbuf_new());
            col_of[i] = c;
            reqs[i] = (colog_creq_t){.r = r[c], .b = b, .buf = bufs[i], .out = &out[i]};
        }
        cr_assert_eq(colog__colr_read_many(reqs, N, q), 0, "%s", colog_errmsg());
        for (int i = 0; i < N; i++)
            assert_block(col_of[i], reqs[i].b, &out[i]);
    }
    for (int i = 0; i < N; i++)
        colog_rbuf_free(bufs[i]);
    for (int c = 0; c < NCOLS; c++)
        colog__colr_close(r[c]);
}

Test(uring, many_blocks_uring)
{
    colog_ioq_t *q = uring_or_skip(4);
    all_blocks(q);
    colog_ioq_free(q);
}

Test(uring, many_blocks_uring_depth1)
{
    colog_ioq_t *q = uring_or_skip(1);
    all_blocks(q);
    colog_ioq_free(q);
}

Test(uring, many_blocks_pread)
{
    colog_ioq_t *q = pread_q();
    all_blocks(q);
    colog_ioq_free(q);
}

Test(uring, many_blocks_auto_env_pread)
{
    cr_assert_eq(setenv("COLOG_IO", "pread", 1), 0);
    colog_ioq_t *q = NULL;
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 4, &q), 0, "%s", colog_errmsg());
    cr_assert_str_eq(colog_ioq_backend(q), "pread");
    all_blocks(q);
    colog_ioq_free(q);
}

Test(uring, many_blocks_auto)
{
    colog_ioq_t *q = NULL;
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 3, &q), 0, "%s", colog_errmsg());
    cr_log_info("AUTO chose %s %s", colog_ioq_backend(q), colog__ioq_why(q));
    all_blocks(q);
    colog_ioq_free(q);
}

/* One block of ts.col many times in one batch, with a buffer for each. */
Test(uring, same_block_repeated)
{
    write_col(dfd, 0);
    colog_colr_t *r = open_col(0);
    colog_ioq_t *q = NULL;
    cr_assert_eq(colog_ioq_new(COLOG_IO_AUTO, 2, &q), 0, "%s", colog_errmsg());
    colog_creq_t reqs[7];
    colog_block_t out[7];
    colog_rbuf_t *bufs[7];
    for (int i = 0; i < 7; i++) {
        bufs[i] = colog_rbuf_new();
        reqs[i] = (colog_creq_t){.r = r, .b = 5, .buf = bufs[i], .out = &out[i]};
    }
    cr_assert_eq(colog__colr_read_many(reqs, 7, q), 0, "%s", colog_errmsg());
    for (int i = 0; i < 7; i++)
        assert_block(0, 5, &out[i]);
    for (int i = 0; i < 7; i++)
        colog_rbuf_free(bufs[i]);
    colog_ioq_free(q);
    colog__colr_close(r);
}

/* A batch that names one buffer twice, a block out of range, NULLs: EINVAL,
 * outputs untouched, and the buffers usable afterwards. */
Test(uring, bad_requests)
{
    write_col(dfd, 1);
    colog_colr_t *r = open_col(1);
    colog_ioq_t *q = pread_q();
    colog_rbuf_t *a = colog_rbuf_new(), *b = colog_rbuf_new();
    colog_block_t out[3];
    memset(out, 0x5a, sizeof out);
    colog_block_t sentinel = out[0];
    colog_creq_t reqs[3] = {{r, 0, a, &out[0]}, {r, 1, b, &out[1]}, {r, 2, a, &out[2]}};
    cr_assert_eq(colog__colr_read_many(reqs, 3, q), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "request 2: buffer already used") != NULL, "%s",
              colog_errmsg());
    cr_assert_arr_eq(&out[0], &sentinel, sizeof sentinel);
    reqs[2].b = NBLOCKS;
    reqs[2].buf = colog_rbuf_new();
    cr_assert_eq(colog__colr_read_many(reqs, 3, q), COLOG_EINVAL);
    cr_assert(strstr(colog_errmsg(), "bytes.col: block 6 out of range (6 blocks)") != NULL, "%s",
              colog_errmsg());
    reqs[2].out = NULL;
    cr_assert_eq(colog__colr_read_many(reqs, 3, q), COLOG_EINVAL);
    reqs[2].out = &out[2];
    cr_assert_eq(colog__colr_read_many(reqs, 3, NULL), COLOG_EINVAL);
    reqs[2].b = 5;
    cr_assert_eq(colog__colr_read_many(reqs, 3, q), 0, "%s", colog_errmsg());
    for (int i = 0; i < 3; i++)
        assert_block(1, reqs[i].b, &out[i]);
    colog_rbuf_free(reqs[2].buf);
    colog_rbuf_free(a);
    colog_rbuf_free(b);
    colog_ioq_free(q);
    colog__colr_close(r);
}

/* ---------------------------------------------------------------- corrupt and short */

/* Flip one byte in the middle of block 3 of bytes.col; read everything of two
 * columns through q: COLOG_ECORRUPT naming the file and the block, outputs
 * untouched, then a clean batch with the same buffers works. */
static void corrupt_block(colog_ioq_t *q)
{
    write_col(dfd, 1);
    write_col(dfd, 2);
    colog_colr_t *r1 = open_col(1), *r2 = open_col(2);
    colog_zone_t z;
    cr_assert_eq(colog__colr_zone(r1, 3, &z), 0);
    size_t len;
    uint8_t *f;
    cr_assert_eq(colog__read_file(dfd, "bytes.col", &f, &len), 0);
    uint64_t foff = colog__get_u64(f + len - 24);
    uint64_t off3 = colog__get_u64(f + foff + 16 + 48 * 3);
    uint32_t len3 = colog__get_u32(f + foff + 16 + 48 * 3 + 8);
    free(f);
    int fd = openat(dfd, "bytes.col", O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    uint8_t x;
    cr_assert_eq(pread(fd, &x, 1, (off_t)(off3 + len3 / 2)), 1);
    x ^= 0x10;
    cr_assert_eq(pwrite(fd, &x, 1, (off_t)(off3 + len3 / 2)), 1);

    enum { N = 2 * NBLOCKS };
    colog_creq_t reqs[N];
    colog_block_t out[N];
    colog_rbuf_t *bufs[N];
    memset(out, 0, sizeof out);
    for (int i = 0; i < N; i++) {
        bufs[i] = colog_rbuf_new();
        reqs[i] = (colog_creq_t){
            .r = i % 2 ? r1 : r2, .b = (uint32_t)(i / 2), .buf = bufs[i], .out = &out[i]};
    }
    cr_assert_eq(colog__colr_read_many(reqs, N, q), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "bytes.col: block 3: checksum mismatch") != NULL, "%s",
              colog_errmsg());
    for (int i = 0; i < N; i++)
        cr_assert_eq(out[i].n, 0, "output %d written on failure", i);
    /* the same through read_buf */
    colog_block_t one;
    cr_assert_eq(colog__colr_read_buf(r1, 3, bufs[0], &one), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "bytes.col: block 3: checksum mismatch") != NULL, "%s",
              colog_errmsg());

    x ^= 0x10;
    cr_assert_eq(pwrite(fd, &x, 1, (off_t)(off3 + len3 / 2)), 1);
    close(fd);
    cr_assert_eq(colog__colr_read_many(reqs, N, q), 0, "%s", colog_errmsg());
    for (int i = 0; i < N; i++)
        assert_block(i % 2 ? 1 : 2, reqs[i].b, &out[i]);
    for (int i = 0; i < N; i++)
        colog_rbuf_free(bufs[i]);
    colog__colr_close(r1);
    colog__colr_close(r2);
}

Test(uring, corrupt_block_uring)
{
    colog_ioq_t *q = uring_or_skip(4);
    corrupt_block(q);
    colog_ioq_free(q);
}

Test(uring, corrupt_block_pread)
{
    colog_ioq_t *q = pread_q();
    corrupt_block(q);
    colog_ioq_free(q);
}

/* A file cut in the middle of block 2 after the reader opened it: the read of
 * block 2 comes back short, its rest hits end of file; blocks 3.. read
 * nothing. COLOG_ECORRUPT names block 2, the lowest request that failed. */
static void short_file(colog_ioq_t *q)
{
    write_col(dfd, 0);
    colog_colr_t *r = open_col(0);
    size_t len;
    uint8_t *f;
    cr_assert_eq(colog__read_file(dfd, "ts.col", &f, &len), 0);
    uint64_t foff = colog__get_u64(f + len - 24);
    uint64_t off2 = colog__get_u64(f + foff + 16 + 48 * 2);
    uint32_t len2 = colog__get_u32(f + foff + 16 + 48 * 2 + 8);
    free(f);
    int fd = openat(dfd, "ts.col", O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)(off2 + len2 / 3)), 0);

    colog_creq_t reqs[NBLOCKS];
    colog_block_t out[NBLOCKS];
    colog_rbuf_t *bufs[NBLOCKS];
    for (uint32_t i = 0; i < NBLOCKS; i++) {
        bufs[i] = colog_rbuf_new();
        reqs[i] = (colog_creq_t){.r = r, .b = i, .buf = bufs[i], .out = &out[i]};
    }
    cr_assert_eq(colog__colr_read_many(reqs, NBLOCKS, q), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "ts.col: block 2: truncated file") != NULL, "%s",
              colog_errmsg());
    /* blocks before the cut still read */
    cr_assert_eq(colog__colr_read_many(reqs, 2, q), 0, "%s", colog_errmsg());
    assert_block(0, 0, &out[0]);
    assert_block(0, 1, &out[1]);
    /* cut exactly where block 2 starts */
    cr_assert_eq(ftruncate(fd, (off_t)off2), 0);
    cr_assert_eq(colog__colr_read_many(reqs + 2, 1, q), COLOG_ECORRUPT);
    cr_assert(strstr(colog_errmsg(), "ts.col: block 2: truncated file") != NULL, "%s",
              colog_errmsg());
    close(fd);
    for (uint32_t i = 0; i < NBLOCKS; i++)
        colog_rbuf_free(bufs[i]);
    colog__colr_close(r);
}

Test(uring, short_file_uring)
{
    colog_ioq_t *q = uring_or_skip(2);
    short_file(q);
    colog_ioq_free(q);
}

Test(uring, short_file_pread)
{
    colog_ioq_t *q = pread_q();
    short_file(q);
    colog_ioq_free(q);
}

/* ---------------------------------------------------------------- threads */

enum { NTHREADS = 4, PASSES = 3 };

struct worker {
    colog_colr_t *r[NCOLS];
    int id;
    bool batched; /* read_many through its own AUTO queue, else read_buf */
    int rc;
    char why[160];
};

/* Read every block of every column PASSES times, starting where the thread
 * number says so that the threads hit the same blocks at different moments. */
static void *work(void *arg)
{
    struct worker *w = arg;
    colog_rbuf_t *bufs[NCOLS] = {0};
    colog_ioq_t *q = NULL;
    w->rc = 0;
    for (int c = 0; c < NCOLS; c++)
        if ((bufs[c] = colog_rbuf_new()) == NULL)
            w->rc = COLOG_ENOMEM;
    if (w->rc == 0 && w->batched)
        w->rc = colog_ioq_new(COLOG_IO_AUTO, 2, &q);
    for (int pass = 0; pass < PASSES * NBLOCKS && w->rc == 0; pass++) {
        uint32_t b = (uint32_t)((pass + w->id) % NBLOCKS);
        colog_block_t out[NCOLS];
        if (w->batched) {
            colog_creq_t reqs[NCOLS];
            for (int c = 0; c < NCOLS; c++)
                reqs[c] = (colog_creq_t){.r = w->r[c], .b = b, .buf = bufs[c], .out = &out[c]};
            w->rc = colog__colr_read_many(reqs, NCOLS, q);
        } else {
            for (int c = 0; c < NCOLS && w->rc == 0; c++)
                w->rc = colog__colr_read_buf(w->r[c], b, bufs[c], &out[c]);
        }
        if (w->rc < 0) {
            snprintf(w->why, sizeof w->why, "%s", colog_errmsg());
            break;
        }
        for (int c = 0; c < NCOLS && w->rc == 0; c++)
            w->rc = check_block(c, b, &out[c], w->why, sizeof w->why);
    }
    colog_ioq_free(q);
    for (int c = 0; c < NCOLS; c++)
        colog_rbuf_free(bufs[c]);
    return NULL;
}

static void run_threads(bool batched)
{
    write_all();
    colog_colr_t *r[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        r[c] = open_col(c);
    struct worker w[NTHREADS];
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){.id = i, .batched = batched};
        memcpy(w[i].r, r, sizeof r);
        cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        cr_assert_eq(w[i].rc, 0, "thread %d: %s", i, w[i].why);
    for (int c = 0; c < NCOLS; c++)
        colog__colr_close(r[c]);
}

Test(uring, threads_read_buf)
{
    run_threads(false);
}

Test(uring, threads_read_many)
{
    run_threads(true);
}

/* ---------------------------------------------------------------- faults */

/* Every column batch and the raw batch under one injected io_uring fault. */
static void under_fault(int kind, unsigned every)
{
    colog_ioq_t *q = uring_or_skip(3);
    colog__ioq_fault(q, kind, every);
    all_blocks(q);
    raw_batch(q);
    colog_ioq_free(q);
}

Test(uring, short_reads_fault)
{
    under_fault(COLOG_IOF_SHORT, 2);
}

Test(uring, eintr_fault)
{
    under_fault(COLOG_IOF_EINTR, 3);
}

Test(uring, eagain_fault)
{
    under_fault(COLOG_IOF_EAGAIN, 2);
}

/* io_uring_enter refuses the 3rd submission: the queue drains what is in
 * flight, drops the ring, finishes the batch with pread and stays pread. */
Test(uring, submit_refused_fault)
{
    colog_ioq_t *q = uring_or_skip(2);
    colog__ioq_fault(q, COLOG_IOF_SUBMIT, 3);
    all_blocks(q);
    cr_assert_str_eq(colog_ioq_backend(q), "pread");
    cr_assert_str_eq(colog__ioq_why(q), "io_uring_enter: Operation not permitted");
    raw_batch(q);
    colog_ioq_free(q);
}

/* A corrupt block and a short file are still found under short reads. */
Test(uring, corrupt_and_short_under_fault)
{
    colog_ioq_t *q = uring_or_skip(2);
    colog__ioq_fault(q, COLOG_IOF_SHORT, 2);
    corrupt_block(q);
    short_file(q);
    colog_ioq_free(q);
}

/* ---------------------------------------------------------------- io_uring refused */

/* The child of without_uring: 0 if all is well, else the failed step. */
static int refused_child(int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return 10;
    char want[160];
    snprintf(want, sizeof want, "io_uring unavailable: io_uring_queue_init: %s", strerror(err));
    colog_ioq_t *q = NULL;
    if (colog_ioq_new(COLOG_IO_URING, 4, &q) != -err || q != NULL ||
        strstr(colog_errmsg(), want) == NULL) {
        fprintf(stderr, "URING: %s\n", colog_errmsg());
        return 11;
    }
    if (colog_ioq_new(COLOG_IO_AUTO, 4, &q) != 0 || strcmp(colog_ioq_backend(q), "pread") != 0 ||
        strstr(want, colog__ioq_why(q)) == NULL) {
        fprintf(stderr, "AUTO: %s\n", q ? colog__ioq_why(q) : colog_errmsg());
        return 12;
    }
    int rc = 0;
    for (int c = 0; c < NCOLS && rc == 0; c++) {
        colog_colr_t *r = NULL;
        colog_creq_t reqs[NBLOCKS];
        colog_block_t out[NBLOCKS];
        colog_rbuf_t *bufs[NBLOCKS] = {0};
        char why[160] = "";
        rc = colog__colr_open(&r, dfd, cols[c].name, cols[c].type, cols[c].name) < 0 ? 13 : 0;
        for (uint32_t b = 0; b < NBLOCKS && rc == 0; b++) {
            bufs[b] = colog_rbuf_new();
            reqs[b] = (colog_creq_t){.r = r, .b = b, .buf = bufs[b], .out = &out[b]};
        }
        if (rc == 0 && colog__colr_read_many(reqs, NBLOCKS, q) < 0)
            rc = 14;
        for (uint32_t b = 0; b < NBLOCKS && rc == 0; b++)
            if (check_block(c, b, &out[b], why, sizeof why) < 0)
                rc = 15;
        if (rc != 0)
            fprintf(stderr, "%s %s\n", colog_errmsg(), why);
        for (uint32_t b = 0; b < NBLOCKS; b++)
            colog_rbuf_free(bufs[b]);
        colog__colr_close(r);
    }
    colog_ioq_free(q);
    return rc;
}

/* In a process where io_uring_setup fails with err, as under a container's
 * seccomp profile (EPERM) or an old kernel (ENOSYS): AUTO falls back to pread
 * and reads every value right; URING fails saying why. */
static void without_uring(int err)
{
    write_all();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(refused_child(err));
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "child died: status 0x%x", st);
    cr_assert_eq(WEXITSTATUS(st), 0, "child failed at step %d (10: seccomp unavailable)",
                 WEXITSTATUS(st));
}

Test(uring, refused_eperm)
{
    without_uring(EPERM);
}

Test(uring, refused_enosys)
{
    without_uring(ENOSYS);
}
