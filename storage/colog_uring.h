/*
 * colog_uring.h — This file is private to colog's storage layer.
 *
 * The batch interface of the I/O queue (colog_uring.c) that colog_ioq_t of
 * colog_storage.h wraps: run n positional reads, several in flight at once
 * through io_uring, or one after the other through pread.
 */
#ifndef COLOG_URING_H
#define COLOG_URING_H

#include "colog_storage.h"

/* Largest depth colog_ioq_new accepts (reads in flight at once). */
#define COLOG_IOQ_MAX_DEPTH 4096u

/* One read of a batch: len bytes of fd at off into dst. The caller fills fd,
 * off, len and dst; colog__ioq_run owns done (bytes read so far) while it runs
 * and leaves it at len for every read that completed. */
typedef struct colog_iop {
    int fd;
    uint64_t off;
    size_t len;
    void *dst;
    size_t done;
} colog_iop_t;

/* Run the n reads of ops: every one reads exactly its len bytes or the batch
 * fails. Short reads are continued for the remainder, interrupted reads
 * (-EINTR, -EAGAIN) are retried. Returns 0 or the error of the lowest-numbered
 * read that failed, with its index in *failed (may be NULL; SIZE_MAX when the
 * failure is not that of one read, e.g. a bad q) and a message for
 * colog_errmsg() ("read: Input/output error"; the caller, who knows the file,
 * usually replaces it): -errno, COLOG_ECORRUPT for end of file before len bytes,
 * COLOG_EINVAL for bad arguments. After a failure the other reads may or may not
 * have completed, and their dst bytes are unspecified.
 *
 * Whatever the result, no read is in flight when it returns: the dst buffers may
 * be freed at once. q belongs to one thread. If io_uring itself fails
 * (io_uring_enter), q drains what is in flight, switches to pread for good
 * (colog_ioq_backend says "pread" from then on) and finishes the batch. */
int colog__ioq_run(colog_ioq_t *q, colog_iop_t *ops, size_t n, size_t *failed);

/* Why q does not use io_uring ("COLOG_IO=pread", "io_uring_queue_init:
 * Operation not permitted", ...), or "" if it does. Static or owned by q; valid
 * while q is. */
const char *colog__ioq_why(const colog_ioq_t *q);

/* Fault injection for the _fault tests: from now on, every `every`-th io_uring
 * completion of a read that transferred bytes is taken as if it had been
 * SHORT (half the bytes; the rest is read again), EINTR or EAGAIN, or every
 * `every`-th io_uring_submit fails with -EPERM instead of submitting (SUBMIT).
 * every >= 2 (EINTR at every completion would never end); NONE turns it off.
 * No effect on the pread backend. */
enum { COLOG_IOF_NONE, COLOG_IOF_SHORT, COLOG_IOF_EINTR, COLOG_IOF_EAGAIN, COLOG_IOF_SUBMIT };
void colog__ioq_fault(colog_ioq_t *q, int kind, unsigned every);

#endif /* COLOG_URING_H */
