/*
 * colog_uring.c — the I/O queue of batched block reads (colog_ioq_t): io_uring
 * when the kernel allows it, pread otherwise, chosen at run time.
 *
 * Design. A query thread that needs many blocks (of one or several column
 * files) hands them over as one batch of positional reads (colog__ioq_run).
 * With io_uring, up to `depth` reads are in flight at once: the loop fills the
 * submission queue, submits, waits for at least one completion, reaps every
 * completion that is there and refills, so the device sees a queue of requests
 * instead of one at a time. A completion for fewer bytes than asked is
 * continued at once for the remainder; -EINTR is resubmitted; -EAGAIN (a file
 * that cannot block) is finished with a blocking pread. End of file before the
 * last byte is corrupt data: the footer said the bytes were there.
 *
 * io_uring is an optimisation, never a requirement. COLOG_IO_AUTO uses it
 * unless COLOG_IO=pread is in the environment or the kernel refuses
 * (io_uring_queue_init fails with ENOSYS on old kernels or under seccomp, EPERM
 * when io_uring_disabled is set or in many containers, ENOMEM under a small
 * RLIMIT_MEMLOCK) or cannot do IORING_OP_READ (kernels before 5.6); the pread
 * backend then does the same reads one after the other. If io_uring_enter later
 * refuses a submission, the queue drains what is in flight, drops the ring and
 * continues with pread for good. The rare paths (short reads, -EINTR, -EAGAIN,
 * a refused submission) are reached in tests by fault injection
 * (colog__ioq_fault), which only reinterprets completions that really happened.
 *
 * Invariants:
 *  1. q->uring is true iff q->ring is initialised (and colog_ioq_free exits it).
 *  2. Between two calls of colog__ioq_run no SQE is prepared but unsubmitted and
 *     no read is in flight, so a batch's buffers may be freed when it returns.
 *     The one exception, io_uring_wait_cqe failing with something other than
 *     EINTR/EAGAIN (which the kernel never does to a valid ring), sets q->broken
 *     and every later run fails with it.
 *  3. During a run, queued + inflight <= q->depth <= the SQ ring's entries, so
 *     io_uring_get_sqe always finds room, and the CQ ring (twice as large) never
 *     overflows. The SQEs the kernel has not taken are exactly `queued`.
 *  4. Each read of a batch is in one state at a time: not started (index >=
 *     next), queued, in flight, waiting for continuation, complete (done == len)
 *     or failed. The kernel never holds two requests for one read, so their
 *     bytes never overlap.
 *  5. err/errat name the lowest-numbered failed read; once err is set nothing
 *     new is submitted and the run only waits for what is in flight.
 */
#include "colog_storage_int.h"
#include "colog_uring.h"

#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest single read submitted; a longer one continues as a short read. */
#define CHUNK_MAX (1u << 30)

struct colog_ioq {
    bool uring;
    unsigned depth;
    int broken; /* invariant 2 */
    struct io_uring ring;
    char why[128]; /* why not io_uring; "" when uring */
    int fault;     /* COLOG_IOF_*, for tests */
    unsigned fault_every, fault_n;
};

/* ================================================================ creation */

/* Set up the ring; on failure say why in q->why and return -errno. */
static int uring_init(colog_ioq_t *q)
{
    int rc = io_uring_queue_init(q->depth, &q->ring, 0);
    if (rc < 0) {
        snprintf(q->why, sizeof q->why, "io_uring_queue_init: %s", strerror(-rc));
        return rc;
    }
    struct io_uring_probe *p = io_uring_get_probe_ring(&q->ring);
    bool can_read = p != NULL && io_uring_opcode_supported(p, IORING_OP_READ);
    if (p != NULL)
        io_uring_free_probe(p);
    if (!can_read) {
        io_uring_queue_exit(&q->ring);
        snprintf(q->why, sizeof q->why, "io_uring: kernel lacks IORING_OP_READ");
        return -EOPNOTSUPP;
    }
    q->uring = true;
    q->why[0] = '\0';
    return 0;
}

int colog_ioq_new(int mode, unsigned depth, colog_ioq_t **out)
{
    if (out == NULL || mode < COLOG_IO_AUTO || mode > COLOG_IO_PREAD)
        return colog_seterr(COLOG_EINVAL, "io queue: bad mode %d", mode);
    if (depth == 0 || depth > COLOG_IOQ_MAX_DEPTH)
        return colog_seterr(COLOG_EINVAL, "io queue: depth %u not in 1..%u", depth,
                            COLOG_IOQ_MAX_DEPTH);
    bool try_uring = mode == COLOG_IO_URING;
    const char *why = "COLOG_IO_PREAD requested";
    if (mode == COLOG_IO_AUTO) {
        const char *env = getenv("COLOG_IO");
        if (env == NULL || env[0] == '\0' || strcmp(env, "auto") == 0)
            try_uring = true;
        else if (strcmp(env, "pread") == 0)
            why = "COLOG_IO=pread";
        else
            return colog_seterr(COLOG_EINVAL, "COLOG_IO=%.64s: expected pread or auto", env);
    }
    colog_ioq_t *q = calloc(1, sizeof *q);
    if (q == NULL)
        return colog_seterr(COLOG_ENOMEM, "io queue: out of memory");
    q->depth = depth;
    snprintf(q->why, sizeof q->why, "%s", why);
    int rc = try_uring ? uring_init(q) : 0;
    if (rc < 0 && mode == COLOG_IO_URING) {
        colog_seterr(rc, "io queue: io_uring unavailable: %s", q->why);
        goto out_free;
    }
    *out = q;
    return 0;

out_free:
    free(q);
    return rc;
}

void colog_ioq_free(colog_ioq_t *q)
{
    if (q == NULL)
        return;
    if (q->uring)
        io_uring_queue_exit(&q->ring);
    free(q);
}

const char *colog_ioq_backend(const colog_ioq_t *q)
{
    return q->uring ? "io_uring" : "pread";
}

const char *colog__ioq_why(const colog_ioq_t *q)
{
    return q->why;
}

void colog__ioq_fault(colog_ioq_t *q, int kind, unsigned every)
{
    q->fault = every >= 2 ? kind : COLOG_IOF_NONE;
    q->fault_every = every;
    q->fault_n = 0;
}

/* Whether the fault of the given kind strikes now. */
static bool fault_now(colog_ioq_t *q, int kind)
{
    return q->fault == kind && ++q->fault_n % q->fault_every == 0;
}

/* ================================================================ batches */

/* Record the failure of read `at` and return err with a message. */
static int report(const colog_iop_t *ops, int err, size_t at, size_t *failed)
{
    if (failed != NULL)
        *failed = at;
    if (err == COLOG_ECORRUPT)
        return colog_seterr(err, "read: unexpected end of file at offset %llu",
                            (unsigned long long)(ops[at].off + ops[at].done));
    return colog_seterr(err, "read: %s", colog_strerror(err));
}

/* Finish the rest of a read with blocking preads (op->done tracks progress, so
 * an end of file is reported at the offset where it was met). */
static int pread_rest(colog_iop_t *op)
{
    while (op->done < op->len) {
        size_t want = op->len - op->done;
        ssize_t k = pread(op->fd, (uint8_t *)op->dst + op->done,
                          want < CHUNK_MAX ? want : CHUNK_MAX, (off_t)(op->off + op->done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return COLOG_ECORRUPT;
        op->done += (size_t)k;
    }
    return 0;
}

/* The pread backend: every read not yet complete, in order. */
static int pread_run(colog_iop_t *ops, size_t n, size_t *failed)
{
    for (size_t i = 0; i < n; i++) {
        int rc = pread_rest(&ops[i]);
        if (rc < 0)
            return report(ops, rc, i, failed);
    }
    return 0;
}

/* State of one io_uring run (invariants 3 to 5). */
struct run {
    colog_ioq_t *q;
    colog_iop_t *ops;
    size_t n;
    size_t next;       /* reads [0, next) have been started */
    unsigned queued;   /* SQEs prepared, not yet taken by the kernel */
    unsigned inflight; /* taken by the kernel, completion not reaped */
    int err;
    size_t errat;
};

static void fail(struct run *s, size_t i, int err)
{
    if (s->err == 0 || i < s->errat) {
        s->err = err;
        s->errat = i;
    }
}

/* Queue the rest of read i. */
static void queue_read(struct run *s, size_t i)
{
    colog_iop_t *op = &s->ops[i];
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->q->ring);
    assert(sqe != NULL); /* invariant 3 */
    size_t want = op->len - op->done;
    if (want > CHUNK_MAX)
        want = CHUNK_MAX;
    io_uring_prep_read(sqe, op->fd, (uint8_t *)op->dst + op->done, (unsigned)want,
                       op->off + op->done);
    io_uring_sqe_set_data64(sqe, (uint64_t)i);
    s->queued++;
}

/* Account for one completion. go: continue what is incomplete (false while
 * draining the ring to drop it; the reads are then finished with pread). */
static void reap(struct run *s, const struct io_uring_cqe *cqe, bool go)
{
    size_t i = (size_t)io_uring_cqe_get_data64(cqe);
    colog_iop_t *op = &s->ops[i];
    int res = cqe->res;
    s->inflight--;
    if (res > 1 && fault_now(s->q, COLOG_IOF_SHORT))
        res /= 2;
    else if (res > 0 && fault_now(s->q, COLOG_IOF_EINTR))
        res = -EINTR;
    else if (res > 0 && fault_now(s->q, COLOG_IOF_EAGAIN))
        res = -EAGAIN;
    go = go && s->err == 0;
    if (res > 0 && (size_t)res <= op->len - op->done) {
        op->done += (size_t)res;
        if (op->done < op->len && go)
            queue_read(s, i); /* short read: the rest */
    } else if (res == -EINTR) {
        if (go)
            queue_read(s, i);
    } else if (res == -EAGAIN) {
        int rc = go ? pread_rest(op) : 0;
        if (rc < 0)
            fail(s, i, rc);
    } else {
        fail(s, i, res == 0 ? COLOG_ECORRUPT : res < 0 ? res : -EIO);
    }
}

/* Wait for one completion and reap all that are there. 0 or the wait's error. */
static int wait_reap(struct run *s, bool go)
{
    struct io_uring_cqe *cqe;
    int rc;
    do
        rc = io_uring_wait_cqe(&s->q->ring, &cqe);
    while (rc == -EINTR || rc == -EAGAIN);
    if (rc < 0)
        return rc;
    unsigned head, k = 0;
    io_uring_for_each_cqe(&s->q->ring, head, cqe)
    {
        reap(s, cqe, go);
        k++;
    }
    io_uring_cq_advance(&s->q->ring, k);
    return 0;
}

/* Invariant 2's exception: reads may still be in flight. */
static int broken(struct run *s, int rc, size_t *failed)
{
    s->q->broken = rc;
    size_t at = 0;
    while (at + 1 < s->n && s->ops[at].done == s->ops[at].len)
        at++;
    return report(s->ops, rc, at, failed);
}

/* io_uring_enter refused a submission (err): wait for what is in flight, drop
 * the ring with the SQEs it never took, and finish the batch with pread. */
static int degrade(struct run *s, int err, size_t *failed)
{
    while (s->inflight > 0) {
        int rc = wait_reap(s, false);
        if (rc < 0)
            return broken(s, rc, failed);
    }
    io_uring_queue_exit(&s->q->ring);
    s->q->uring = false;
    snprintf(s->q->why, sizeof s->q->why, "io_uring_enter: %s", strerror(-err));
    if (s->err != 0)
        return report(s->ops, s->err, s->errat, failed);
    return pread_run(s->ops, s->n, failed);
}

static int uring_run(colog_ioq_t *q, colog_iop_t *ops, size_t n, size_t *failed)
{
    struct run s = {.q = q, .ops = ops, .n = n, .errat = SIZE_MAX};
    for (;;) {
        while (s.err == 0 && s.next < n && s.queued + s.inflight < q->depth) {
            size_t i = s.next++;
            if (ops[i].len > 0)
                queue_read(&s, i);
        }
        if (s.queued == 0 && s.inflight == 0)
            break;
        if (s.queued > 0) {
            int k = fault_now(q, COLOG_IOF_SUBMIT) ? -EPERM : io_uring_submit(&q->ring);
            if (k > 0) {
                s.queued -= (unsigned)k;
                s.inflight += (unsigned)k;
            } else if (k == -EINTR || ((k == -EAGAIN || k == -EBUSY) && s.inflight > 0)) {
                /* try again (after reaping, which frees kernel resources) */
            } else {
                return degrade(&s, k < 0 ? k : -EIO, failed);
            }
        }
        if (s.inflight > 0) {
            int rc = wait_reap(&s, true);
            if (rc < 0)
                return broken(&s, rc, failed);
        }
    }
    if (s.err != 0)
        return report(ops, s.err, s.errat, failed);
    return 0;
}

int colog__ioq_run(colog_ioq_t *q, colog_iop_t *ops, size_t n, size_t *failed)
{
    if (failed != NULL)
        *failed = SIZE_MAX;
    if (q == NULL || (n > 0 && ops == NULL))
        return colog_seterr(COLOG_EINVAL, "read batch: bad arguments");
    if (q->broken != 0)
        return colog_seterr(q->broken, "read batch: io queue unusable since io_uring failed: %s",
                            colog_strerror(q->broken));
    for (size_t i = 0; i < n; i++) {
        colog_iop_t *op = &ops[i];
        op->done = 0;
        if (op->len > 0 && (op->dst == NULL || op->len > (uint64_t)INT64_MAX ||
                            op->off > (uint64_t)INT64_MAX - op->len)) {
            if (failed != NULL)
                *failed = i;
            return colog_seterr(COLOG_EINVAL, "read %zu: bad destination or range", i);
        }
    }
    return q->uring ? uring_run(q, ops, n, failed) : pread_run(ops, n, failed);
}
