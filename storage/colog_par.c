/*
 * colog_par.c — run independent jobs on a few threads (colog_parallel).
 *
 * Used where a step is a list of independent, sizeable jobs: a merge's columns
 * (colog_merge.c), a query's days to open (query/colog_exec.c). The calling
 * thread works too, so a failure to start threads only costs parallelism.
 * Errors: the first job to fail stops the handing out of work; its code and
 * its message (colog_errmsg() is per thread) are what the caller gets.
 */
#include <pthread.h>
#include <stdio.h>

#include "colog_storage_int.h"

#define PAR_MAX_THREADS 64

typedef struct par {
    int (*job)(void *ctx, size_t i);
    void *ctx;
    size_t n;
    pthread_mutex_t mu;
    size_t next; /* next job to hand out (mu) */
    int rc;      /* first error (mu) */
    char msg[1024];
} par_t;

static void *par_worker(void *arg)
{
    par_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->rc == 0 && p->next < p->n ? p->next++ : SIZE_MAX;
        pthread_mutex_unlock(&p->mu);
        if (i == SIZE_MAX)
            return NULL;
        int rc = p->job(p->ctx, i);
        if (rc) {
            pthread_mutex_lock(&p->mu);
            if (p->rc == 0) {
                p->rc = rc;
                snprintf(p->msg, sizeof p->msg, "%s", colog_errmsg());
            }
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
    }
}

int colog_parallel(unsigned nthreads, size_t n, int (*job)(void *ctx, size_t i), void *ctx)
{
    if (job == NULL)
        return colog_seterr(COLOG_EINVAL, "parallel: no job");
    par_t p = {.job = job, .ctx = ctx, .n = n};
    if (pthread_mutex_init(&p.mu, NULL) != 0)
        return colog_seterr(COLOG_ENOMEM, "cannot create a mutex");
    if (nthreads > PAR_MAX_THREADS)
        nthreads = PAR_MAX_THREADS;
    pthread_t th[PAR_MAX_THREADS];
    unsigned started = 0;
    while (started + 1 < nthreads && started + 1 < n &&
           pthread_create(&th[started], NULL, par_worker, &p) == 0)
        started++;
    par_worker(&p);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    if (p.rc)
        return colog_seterr(p.rc, "%s", p.msg);
    return 0;
}
