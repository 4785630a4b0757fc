/* ranks.c — the collectives of a sharded model's ranks on the cpu target. See ranks.h. */
#include "ranks.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "rtutil.h"

struct LlmcRanks {
    int n;                      /* ranks */
    int m;                      /* threads a rank */
    const float **x;            /* [n] each rank's input of the collective under way */
    float **y;                  /* [n] its output */
};

int llmc_ranks_create(LlmcRanks **out, int n_ranks, int threads_per_rank, char *err, size_t errlen)
{
    *out = NULL;
    if (n_ranks < 2 || threads_per_rank < 1)
        return llmc_rt_fail(err, errlen, "internal error: %d ranks of %d threads", n_ranks, threads_per_rank);
    LlmcRanks *r = llmc_rt_alloc(sizeof *r);
    if (r) {
        r->x = llmc_rt_alloc((size_t)n_ranks * sizeof *r->x);
        r->y = llmc_rt_alloc((size_t)n_ranks * sizeof *r->y);
    }
    if (!r || !r->x || !r->y) {
        llmc_ranks_destroy(r);
        return llmc_rt_fail(err, errlen, "out of memory for %d ranks", n_ranks);
    }
    r->n = n_ranks;
    r->m = threads_per_rank;
    *out = r;
    return 0;
}

void llmc_ranks_destroy(LlmcRanks *r)
{
    if (!r)
        return;
    free(r->x);
    free(r->y);
    free(r);
}

/* One rank (no meeting place): y = x. */
static void copy_rows(int64_t rows, int64_t cols, const float *x, int64_t sx, float *y, int64_t sy, int tid,
                      int nth)
{
    int64_t lo = rows * tid / nth, hi = rows * (tid + 1) / nth;
    for (int64_t r = lo; r < hi; r++)
        if (y + r * sy != x + r * sx)
            memmove(y + r * sy, x + r * sx, (size_t)cols * sizeof(float));
}

/* Publishes this rank's x and y, waits for every rank's, and returns this thread's share [lo, hi)
 * of n elements among all ranks' threads. */
static void meet(const LlmcExec *ex, const float *x, float *y, int64_t n, int tid, int nth, int64_t *lo,
                 int64_t *hi)
{
    LlmcRanks *k = ex->ranks;
    assert(nth == k->m && ex->rank >= 0 && ex->rank < k->n);
    if (tid == 0) {
        k->x[ex->rank] = x;
        k->y[ex->rank] = y;
    }
    llmc_barrier(ex->pool);
    int64_t g = (int64_t)ex->rank * nth + tid, G = (int64_t)k->n * nth;
    *lo = n * g / G;
    *hi = n * (g + 1) / G;
}

void llmc_all_reduce(const LlmcExec *ex, int64_t rows, int64_t cols, const float *x, int64_t sx, float *y,
                     int64_t sy, int tid, int nth)
{
    if (!ex->ranks) {
        copy_rows(rows, cols, x, sx, y, sy, tid, nth);
        return;
    }
    int64_t lo, hi;
    meet(ex, x, y, rows * cols, tid, nth, &lo, &hi);
    const LlmcRanks *k = ex->ranks;
    /* Element e is read and written by this thread only, on every rank: y may be x. */
    for (int64_t e = lo; e < hi; e++) {
        int64_t r = e / cols, c = e % cols;
        double s = 0;
        for (int q = 0; q < k->n; q++)
            s += k->x[q][r * sx + c];
        for (int q = 0; q < k->n; q++)
            k->y[q][r * sy + c] = (float)s;
    }
}

void llmc_all_gather(const LlmcExec *ex, int64_t rows, int64_t cols, const float *x, int64_t sx, float *y,
                     int64_t sy, int tid, int nth)
{
    if (!ex->ranks) {
        copy_rows(rows, cols, x, sx, y, sy, tid, nth);
        return;
    }
    int64_t lo, hi;
    const LlmcRanks *k = ex->ranks;
    int64_t wide = cols * k->n;
    meet(ex, x, y, rows * wide, tid, nth, &lo, &hi);
    for (int64_t e = lo; e < hi; e++) {
        int64_t r = e / wide, q = e % wide / cols, c = e % cols;
        float v = k->x[q][r * sx + c];
        for (int p = 0; p < k->n; p++)
            k->y[p][r * sy + q * cols + c] = v;
    }
}
