/* gpu_ranks.c — a sharded model (--tp N, desc->n_ranks = N > 1) on N NVIDIA GPUs of one host,
 * driven by one process (docs/tp.md, "The CUDA targets").
 *
 * Rank r runs on device ordinal r with everything an unsharded model has on its one GPU: its
 * primary context, stream, module and kernels, its part of the payload (the weights at r *
 * rank_weights_stride, packed by llmc compile), consts, activation arena, KV pool (the rank's KV
 * heads; the same number of blocks on every rank) and step buffers, and its CUDA graphs. Rank 0's
 * LlmcGpu is the one the engine holds; it owns the others, the NCCL table and a team of N threads
 * (pool.h): a step runs llmc_gpu_step_one for rank r on thread r (the caller's thread is rank
 * 0's), each with its own context current, so the ranks enqueue (or capture, or replay) forward()
 * at once and each waits for its own stream. The scheduler, the KV block allocator and the block
 * tables are the engine's, shared: every rank gets the same step. Every rank computes the same
 * gathered logits and chooses the same tokens; rank 0 copies them back, the others nothing.
 *
 * Collectives: forward() calls llmc_gpu_all_reduce / llmc_gpu_all_gather (llmc_model.h), which
 * enqueue ncclAllReduce (sum, f32) / ncclAllGather on the rank's stream, so a CUDA graph captured
 * on that stream holds them (NCCL supports capture since 2.9). NCCL is loaded at run time
 * (dlopen("libnccl.so.2")) as libcuda is; NCCL_NVLS_ENABLE=0 is set before the communicators are
 * made (NVLink SHARP stays off). The communicators come from ncclGetUniqueId and one
 * ncclCommInitRank a rank, called at once by the team's threads; one all-reduce and one
 * all-gather then run eagerly so that NCCL's connections exist before any graph is captured.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "gpu_impl.h"
#include "rtutil.h"

static const struct {
    const char *sym;
    size_t off;
} nccl_syms[] = {
#define LLMC_NCCL_SYM(field, sym, params) {sym, offsetof(LlmcNcclApi, field)},
    LLMC_NCCL_FUNCS(LLMC_NCCL_SYM)
#undef LLMC_NCCL_SYM
};
enum { N_NCCL = sizeof nccl_syms / sizeof nccl_syms[0] };

static const char *nccl_error(const LlmcNcclApi *n, ncclResult_t r)
{
    const char *s = n->GetErrorString ? n->GetErrorString(r) : NULL;
    return s ? s : "unknown NCCL error";
}

/* The NCCL of a sharded model: loaded from lib (NULL: LLMC_NCCL_LIB) unless a table is given;
 * every entry point present and the version at least LLMC_NCCL_MIN_VERSION. */
static int nccl_load(LlmcNcclApi *api, const LlmcNcclApi *given, const char *lib, int n_ranks, char *err,
                     size_t errlen)
{
    memset(api, 0, sizeof *api);
    const char *name = lib ? lib : LLMC_NCCL_LIB;
    if (given) {
        *api = *given;
        api->lib = NULL;                /* not ours to close */
    } else {
        dlerror();
        api->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!api->lib) {
            const char *why = dlerror();
            return llmc_rt_fail(err, errlen,
                                "--tp %d: this executable is sharded over %d GPUs and needs NCCL (%s), which "
                                "did not load (%s): install NCCL 2.19 or newer where the loader finds it "
                                "(LD_LIBRARY_PATH; pip's nvidia-nccl-cu12 puts it in nvidia/nccl/lib)",
                                n_ranks, n_ranks, name, why ? why : "dlopen failed");
        }
        for (int i = 0; i < N_NCCL; i++) {
            void *p = dlsym(api->lib, nccl_syms[i].sym);
            if (!p) {
                dlclose(api->lib);
                api->lib = NULL;
                return llmc_rt_fail(err, errlen,
                                    "--tp %d: %s has no %s: not NCCL, or an NCCL too old for this executable "
                                    "(it needs 2.19 or newer)", n_ranks, name, nccl_syms[i].sym);
            }
            memcpy((char *)api + nccl_syms[i].off, &p, sizeof p);
        }
        void *p = dlsym(api->lib, "ncclGetErrorString");
        memcpy(&api->GetErrorString, &p, sizeof p);
    }
    for (int i = 0; i < N_NCCL; i++) {
        void *p;
        memcpy(&p, (const char *)api + nccl_syms[i].off, sizeof p);
        if (!p) {
            llmc_rt_fail(err, errlen, "--tp %d: the NCCL table lacks %s", n_ranks, nccl_syms[i].sym);
            goto fail;
        }
    }
    int v = 0;
    ncclResult_t r = api->GetVersion(&v);
    if (r != 0) {
        llmc_rt_fail(err, errlen, "--tp %d: ncclGetVersion (%s): %s", n_ranks, name, nccl_error(api, r));
        goto fail;
    }
    if (v < LLMC_NCCL_MIN_VERSION) {
        /* codes before 2.9 are 1000 x major + 100 x minor + patch */
        int major = v >= 10000 ? v / 10000 : v / 1000, minor = v >= 10000 ? v / 100 % 100 : v / 100 % 10;
        llmc_rt_fail(err, errlen,
                     "--tp %d: %s is NCCL %d.%d (version code %d); this executable needs NCCL 2.19 or newer "
                     "(CUDA graph capture of its collectives, NCCL_NVLS_ENABLE)",
                     n_ranks, name, major, minor, v);
        goto fail;
    }
    return 0;
fail:
    if (api->lib)
        dlclose(api->lib);
    api->lib = NULL;
    return -1;
}

int llmc_gpu_ranks_open(LlmcGpu *g0, const LlmcNcclApi *nccl, const char *nccl_lib, char *err, size_t errlen)
{
    int N = g0->n_ranks;
    if (nccl_load(&g0->nccl, nccl, nccl_lib, N, err, errlen) != 0) {
        llmc_gpu_close(g0);
        return -1;
    }
    if (!(g0->rank_gpu = calloc((size_t)N, sizeof *g0->rank_gpu))) {
        llmc_rt_fail(err, errlen, "out of memory for %d ranks", N);
        llmc_gpu_close(g0);
        return -1;
    }
    g0->rank_gpu[0] = g0;
    for (int r = 1; r < N; r++) {
        LlmcGpu *g = llmc_gpu_new(g0->d, err, errlen);
        if (!g) {
            llmc_gpu_close(g0);
            return -1;
        }
        g->cu = g0->cu;
        g->cu.lib = NULL;               /* rank 0's */
        g->nccl = g0->nccl;
        g->nccl.lib = NULL;
        g->rank = r;
        g->quiet = 1;
        char why[1024];
        if (llmc_gpu_open_device(g, r, why, sizeof why) != 0) { /* g is closed */
            llmc_rt_fail(err, errlen, "--tp %d: GPU %d (rank %d): %s", N, r, r, why);
            llmc_gpu_close(g0);
            return -1;
        }
        g0->rank_gpu[r] = g;
        /* one image for every rank: the same architecture (a sharded build on mixed GPUs would
         * need each rank's choice to agree on the launches forward() makes) */
        if (g->image != g0->image) {
            llmc_rt_fail(err, errlen, "--tp %d: GPU %d is %s (%s) and GPU 0 is %s (%s): the ranks need GPUs "
                         "of one architecture", N, r, g->name, g->arch, g0->name, g0->arch);
            llmc_gpu_close(g0);
            return -1;
        }
    }
    if (llmc_pool_create(&g0->team, N, err, errlen) != 0) {
        llmc_gpu_close(g0);
        return -1;
    }
    return 0;
}

void llmc_gpu_ranks_close(LlmcGpu *g0)
{
    for (int r = 1; g0->rank_gpu && r < g0->n_ranks; r++)
        llmc_gpu_close(g0->rank_gpu[r]);
    free(g0->rank_gpu);
    g0->rank_gpu = NULL;
    llmc_pool_destroy(g0->team);
    g0->team = NULL;
    if (g0->nccl.lib)
        dlclose(g0->nccl.lib);
    g0->nccl.lib = NULL;
}

/* ---- the team: a job a rank, each rank's result and message ---- */

typedef struct RankJob {
    LlmcGpu *g0;
    int (*fn)(struct RankJob *j, LlmcGpu *g, char *err, size_t errlen);
    const LlmcGpuSetup *setup;
    int64_t kv_blocks;
    const LlmcExec *ex;
    const LlmcStep *st;
    ncclUniqueId id;
    int *rc;                            /* [N] */
    char (*err)[512];                   /* [N] */
} RankJob;

static void rank_thread(void *arg, int tid, int nth)
{
    (void)nth;
    RankJob *j = arg;
    j->rc[tid] = j->fn(j, j->g0->rank_gpu[tid], j->err[tid], sizeof j->err[tid]);
}

/* Runs j->fn for every rank on the team; the first failure's message, naming its rank. */
static int run_ranks(RankJob *j, char *err, size_t errlen)
{
    int N = j->g0->n_ranks;
    int *rc = calloc((size_t)N, sizeof *rc);
    char(*msg)[512] = calloc((size_t)N, sizeof *msg);
    if (!rc || !msg) {
        free(rc);
        free(msg);
        return llmc_rt_fail(err, errlen, "out of memory stepping %d ranks", N);
    }
    j->rc = rc;
    j->err = msg;
    llmc_pool_run(j->g0->team, rank_thread, j);
    int out = 0;
    for (int r = 0; r < N && out == 0; r++)
        if (rc[r] != 0)
            out = llmc_rt_fail(err, errlen, "rank %d (GPU %d of %d): %s", r, r, N, msg[r]);
    free(rc);
    free(msg);
    return out;
}

/* ---- setup ---- */

/* This rank's communicator, then one all-reduce and one all-gather of a float (NCCL connects its
 * peers on first use: done here, eagerly, not inside a capture). */
static int comm_init(RankJob *j, LlmcGpu *g, char *err, size_t errlen)
{
    CUresult cr;
    if ((cr = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, cr, err, errlen, "cuCtxSetCurrent (%s)", g->name);
    ncclResult_t r = g->nccl.CommInitRank(&g->comm, g->n_ranks, j->id, g->rank);
    if (r != 0) {
        g->comm = NULL;
        return llmc_rt_fail(err, errlen, "ncclCommInitRank (%d ranks, on %s): %s", g->n_ranks, g->name,
                            nccl_error(&g->nccl, r));
    }
    CUdeviceptr buf = 0;
    if (llmc_gpu_dev_alloc(g, &buf, (size_t)(g->n_ranks + 1) * sizeof(float), "NCCL warm-up", err, errlen) != 0)
        return -1;
    int rc = 0;
    void *p = (void *)(uintptr_t)buf;
    if ((cr = g->cu.MemsetD8Async(buf, 0, (size_t)(g->n_ranks + 1) * sizeof(float), g->stream)) != CUDA_SUCCESS)
        rc = llmc_cu_fail(g, cr, err, errlen, "cuMemsetD8Async (NCCL warm-up)");
    else if ((r = g->nccl.AllReduce(p, p, 1, LLMC_NCCL_FLOAT32, LLMC_NCCL_SUM, g->comm, g->stream)) != 0 ||
             (r = g->nccl.AllGather(p, (float *)p + 1, 1, LLMC_NCCL_FLOAT32, g->comm, g->stream)) != 0)
        rc = llmc_rt_fail(err, errlen, "the first NCCL collectives on %s: %s", g->name, nccl_error(&g->nccl, r));
    else if ((cr = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS)
        rc = llmc_cu_fail(g, cr, err, errlen, "the first NCCL collectives on %s (cuStreamSynchronize)", g->name);
    (void)g->cu.MemFree(buf);
    return rc;
}

int llmc_gpu_ranks_setup(LlmcGpu *g0, const LlmcGpuSetup *s, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g0->d;
    int N = g0->n_ranks;
    int64_t stride = d->rank_weights_stride;
    if (stride <= 0 || stride > d->weights_bytes / N)
        return llmc_rt_fail(err, errlen, "internal error: %d ranks of %lld bytes of weights in %lld", N,
                            (long long)stride, (long long)d->weights_bytes);
    /* the pool: as many blocks on every rank, the fewest any GPU's memory holds */
    int64_t kv = s->kv_blocks;
    for (int r = 0; r < N; r++) {
        LlmcGpu *g = g0->rank_gpu[r];
        int64_t left = d->weights_bytes - (int64_t)r * stride;
        g->rank_weights = s->weights + (size_t)r * (size_t)stride;
        g->weights_bytes = (size_t)(left < stride ? left : stride);
        int64_t fit;
        if (s->kv_fit && d->kv_block_bytes > 0) {
            if (llmc_gpu_kv_room(g, s, &fit, err, errlen) != 0)
                return -1;
            kv = fit < kv ? fit : kv;
        }
    }
    for (int r = 0; r < N; r++)
        if (llmc_gpu_setup_one(g0->rank_gpu[r], s, kv, err, errlen) != 0) {
            llmc_gpu_ranks_teardown(g0);
            return -1;
        }
    /* before the communicators read it (NVLink SHARP off: the lent machines' rule, docs/tp.md) */
    setenv("NCCL_NVLS_ENABLE", "0", 1);
    RankJob j = {.g0 = g0, .fn = comm_init};
    ncclResult_t r = g0->nccl.GetUniqueId(&j.id);
    if (r != 0) {
        llmc_gpu_ranks_teardown(g0);
        return llmc_rt_fail(err, errlen, "ncclGetUniqueId: %s", nccl_error(&g0->nccl, r));
    }
    if (run_ranks(&j, err, errlen) != 0) {
        llmc_gpu_ranks_teardown(g0);
        return -1;
    }
    return 0;
}

void llmc_gpu_ranks_teardown(LlmcGpu *g0)
{
    for (int r = 0; r < g0->n_ranks; r++) {
        LlmcGpu *g = g0->rank_gpu[r];
        if (!g)
            continue;
        llmc_gpu_teardown_one(g);       /* makes its context current */
        if (g->comm)
            (void)g->nccl.CommDestroy(g->comm);
        g->comm = NULL;
    }
}

/* ---- steps ---- */

static int step_rank(RankJob *j, LlmcGpu *g, char *err, size_t errlen)
{
    LlmcExec x = *j->ex;
    x.gpu = g;
    x.rank = g->rank;
    return llmc_gpu_step_one(g, &x, j->st, err, errlen);
}

int llmc_gpu_ranks_step(LlmcGpu *g0, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen)
{
    RankJob j = {.g0 = g0, .fn = step_rank, .ex = ex, .st = st};
    return run_ranks(&j, err, errlen);
}

/* ---- the collectives forward() calls (llmc_model.h) ---- */

/* A failed collective ends the step as a failed launch does. */
static void collective_fail(LlmcGpu *g, const char *what, ncclResult_t r)
{
    g->launch_failed = 1;
    snprintf(g->launch_err, sizeof g->launch_err, "%s (rank %d of %d, on %s): %s", what, g->rank, g->n_ranks,
             g->name, g->comm ? nccl_error(&g->nccl, r) : "no NCCL communicator (a model of one rank)");
}

void llmc_gpu_all_reduce(LlmcGpu *g, uint32_t rows, int64_t cols, int64_t x, int64_t sx, int64_t y, int64_t sy)
{
    if (g->launch_failed || rows == 0)
        return;
    if (!g->comm) {
        collective_fail(g, "ncclAllReduce", 0);
        return;
    }
    uint8_t *arena = (uint8_t *)(uintptr_t)g->arena;
    /* whole rows at once where both sides are dense, else a call a row (padding between rows may
     * belong to another value) */
    int dense = sx == cols && sy == cols;
    for (uint32_t i = 0; i < (dense ? 1u : rows); i++) {
        size_t n = dense ? (size_t)rows * (size_t)cols : (size_t)cols;
        ncclResult_t r = g->nccl.AllReduce(arena + x + (int64_t)i * sx * 4, arena + y + (int64_t)i * sy * 4, n,
                                           LLMC_NCCL_FLOAT32, LLMC_NCCL_SUM, g->comm, g->stream);
        g->stats.collectives++;
        if (r != 0) {
            char what[96];
            snprintf(what, sizeof what, "ncclAllReduce (%zu floats)", n);
            collective_fail(g, what, r);
            return;
        }
    }
}

void llmc_gpu_all_gather(LlmcGpu *g, uint32_t rows, int64_t cols, int64_t x, int64_t y)
{
    if (g->launch_failed || rows == 0)
        return;
    if (!g->comm) {
        collective_fail(g, "ncclAllGather", 0);
        return;
    }
    uint8_t *arena = (uint8_t *)(uintptr_t)g->arena;
    size_t n = (size_t)rows * (size_t)cols;
    ncclResult_t r = g->nccl.AllGather(arena + x, arena + y, n, LLMC_NCCL_FLOAT32, g->comm, g->stream);
    g->stats.collectives++;
    if (r != 0) {
        char what[96];
        snprintf(what, sizeof what, "ncclAllGather (%zu floats a rank)", n);
        collective_fail(g, what, r);
    }
}
