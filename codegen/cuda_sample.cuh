/* cuda_sample.cuh — the token of every logits row, argmax or a draw with the step's sampler
 * (emitter: cuda_backend.c, after the last node): sample_rows, a block a row (sample_row) or, in
 * steps of few rows, a greedy row's argmax split over several blocks (argmax_split).
 */
#ifndef LLMC_CUDA_SAMPLE_CUH
#define LLMC_CUDA_SAMPLE_CUH

#include "cuda_base.cuh"

/* ---- greedy token of every logits row (grid: output rows, 256 threads) ----
 * The largest value, lowest id on ties, NaN never chosen (id 0 when a row is all NaN): the same
 * choice as llmc_argmax in runtime/sample.c, so greedy decoding reads 4 bytes a row back. */
DEV void argmax_take(float &best, int &bi, float v, int i)
{
    if (v > best || (v == best && i < bi)) {
        best = v;
        bi = i;
    }
}
/* argmax_take keeps the larger of two (value, id) pairs in the order "value, then the lower id" (a
 * NaN never enters), a total order on the pairs of distinct ids: so the choice of a row does not
 * depend on how its ids are dealt to threads and blocks or in what order pairs are combined.
 *
 * The block's choice among its threads' (best, bi), every thread getting it: a warp's lanes by
 * shuffles, then the warps' through sv, si (shared, a slot a warp). */
template <int NW>
DEV void argmax_block(float &best, int &bi, float *sv, int *si)
{
    for (int m = LLMC_WARP / 2; m > 0; m >>= 1) {
        float ov = shfl_xor(best, m);
        int oi = shfl_xor(bi, m);
        argmax_take(best, bi, ov, oi);
    }
    if ((threadIdx.x & (LLMC_WARP - 1)) == 0) {
        sv[threadIdx.x >> LLMC_WARP_LOG2] = best;
        si[threadIdx.x >> LLMC_WARP_LOG2] = bi;
    }
    __syncthreads();
    for (int w = 0; w < NW; w++)
        argmax_take(best, bi, sv[w], si[w]);
}
/* A row takes the argmax (sampling off: temperature 0, as the host sends greedy and padding rows;
 * or a vocabulary of one) or a draw: sample_row's test, which argmax_split's rows pass too. */
template <int V>
DEV bool sample_greedy(const double *smp)
{
    return smp[0] <= 0.0 || V == 1;
}


/* ---- sampling of every logits row (grid: output rows, SAMPLE_NT threads) ----
 * smp: [rows][4]: each row's temperature (0: the argmax), top_p, top_k and uniform in [0, 1).
 * The function is llmc_sample_u's (runtime/sample.c): p = softmax(logits / T); the top_k most
 * probable (rank: p descending, id ascending); of those the smallest rank prefix whose mass reaches
 * top_p of theirs; then the token whose interval of the cumulative mass holds u * mass, in rank
 * order, or in id order when neither top-k nor top-p is on (as the host walks them). No sort: the candidate sets are rank prefixes found by radix selection over the bits
 * of p (8 bits a pass, 256-bin histograms of counts or of mass), ties in p resolved by id with a
 * scan. Masses are sums in 2^-62 fixed point, so the result does not depend on the order threads
 * add them. */
#define SAMPLE_NT 1024
struct SampleSel {
    uint32_t key;  /* bits of p at the selected element */
    int id;        /* its id */
    uint64_t mass; /* fixed-point mass of everything ranked up to and including it */
    int found;
};
template <int V, int S>
struct SampleRow {
    const float *x;
    float mx, temp;
    double inv;
    uint32_t ck; /* the candidate set: key > ck, or key == ck and id <= cid */
    int cid;
    __device__ __forceinline__ float prob(int i) const { return (float)((double)expf((x[i] - mx) / temp) * inv); }
    __device__ __forceinline__ static uint32_t key(float p) { return __float_as_uint(p); }
    __device__ __forceinline__ bool in(uint32_t k, int i) const { return k > ck || (k == ck && i <= cid); }
    __device__ __forceinline__ static uint64_t fx(float p) { return (uint64_t)((double)p * 4611686018427387904.0); }
};
/* The first id (ascending) among those flagged by f(id, p) at which the running sum of w(p) (fixed
 * point, in id order) exceeds `target`; -1 when the total does not. Each thread takes a contiguous
 * range of ids; scratch holds SAMPLE_NT + 4 words. */
template <int V, int S, class F, class W>
DEV int sample_walk(const SampleRow<V, S> &r, F f, W wt, uint64_t target, uint64_t *scratch)
{
    constexpr int R = (V + SAMPLE_NT - 1) / SAMPLE_NT;
    const int t = threadIdx.x, lo = t * R < V ? t * R : V, hi = lo + R < V ? lo + R : V;
    uint64_t c = 0;
    for (int i = lo; i < hi; i++) {
        const float p = r.prob(i);
        if (f(i, p))
            c += wt(p);
    }
    __syncthreads();
    scratch[t] = c;
    __syncthreads();
    if (t == 0) {
        uint64_t run = 0, before = 0;
        int owner = -1;
        for (int u = 0; u < SAMPLE_NT; u++) {
            if (owner < 0 && run + scratch[u] > target) {
                owner = u;
                before = run;
            }
            run += scratch[u];
        }
        scratch[SAMPLE_NT] = (uint64_t)(int64_t)owner;
        scratch[SAMPLE_NT + 1] = before;
    }
    __syncthreads();
    const int owner = (int)(int64_t)scratch[SAMPLE_NT];
    if (t == owner) {
        uint64_t run = scratch[SAMPLE_NT + 1];
        int res = hi - 1;
        for (int i = lo; i < hi; i++) {
            const float p = r.prob(i);
            if (f(i, p) && (run += wt(p)) > target) {
                res = i;
                break;
            }
        }
        scratch[SAMPLE_NT + 2] = (uint64_t)res;
    }
    __syncthreads();
    const int res = owner >= 0 ? (int)scratch[SAMPLE_NT + 2] : -1;
    __syncthreads();
    return res;
}
/* The id of tie element number j (0-based, ascending ids) among the candidates with key k. */
template <int V, int S>
DEV int sample_tie(const SampleRow<V, S> &r, uint32_t k, int j, uint64_t *scratch)
{
    return sample_walk(
        r, [&](int i, float p) { return SampleRow<V, S>::key(p) == k && r.in(k, i); }, [](float) { return (uint64_t)1; },
        (uint64_t)j, scratch);
}
/* Radix selection in rank order among the candidates: by count (MODE 0: the element ranked
 * number `target` from 1) or by mass (MODE 1: the first whose inclusive cumulative mass is >=
 * target; MODE 2: > target). */
template <int MODE, int V, int S>
DEV SampleSel sample_select(const SampleRow<V, S> &r, uint64_t target, uint64_t *hist, uint64_t *scratch)
{
    __shared__ uint64_t s_above;
    __shared__ int s_sel;
    uint32_t prefix = 0, mask = 0;
    uint64_t above = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x)
            hist[b] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            const float p = r.prob(i);
            const uint32_t k = SampleRow<V, S>::key(p);
            if ((k & mask) == prefix && r.in(k, i))
                atomicAdd((unsigned long long *)&hist[(k >> shift) & 255],
                          MODE == 0 ? 1ull : (unsigned long long)SampleRow<V, S>::fx(p));
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            uint64_t run = above;
            int sel = -1;
            for (int b = 255; b >= 0; b--) {
                const uint64_t nxt = run + hist[b];
                if (hist[b] != 0 && (MODE == 2 ? nxt > target : nxt >= target)) {
                    sel = b;
                    break;
                }
                run = nxt;
            }
            s_sel = sel;
            s_above = run;
        }
        __syncthreads();
        const int sel = s_sel;
        above = s_above;
        __syncthreads();
        if (sel < 0)
            return SampleSel{0, -1, 0, 0};
        prefix |= (uint32_t)sel << shift;
        mask |= 255u << shift;
    }
    /* every candidate with key `prefix` weighs the same: which of them (by id) crosses the target */
    const float pv = __uint_as_float(prefix);
    const uint64_t q = MODE == 0 ? 1 : SampleRow<V, S>::fx(pv);
    uint64_t j = 0;
    if (q > 0 && target > above)
        j = MODE == 2 ? (target - above) / q : (target - above + q - 1) / q - 1;
    /* j is within the group: its bin was chosen because the group's mass reaches the target */
    const int id = sample_tie<V, S>(r, prefix, (int)j, scratch);
    return SampleSel{prefix, id, above + (j + 1) * q, 1};
}

/* Row `row` by one block of SAMPLE_NT threads. */
template <int V, int S>
DEV void sample_row(const float *logits, int32_t *ids, const double *smp, int row)
{
    constexpr int NW = SAMPLE_NT / LLMC_WARP;
    __shared__ float sv[NW];
    __shared__ int si[NW];
    __shared__ uint64_t hist[256];
    __shared__ uint64_t scratch[SAMPLE_NT + 4];
    __shared__ double red[NW];
    const float *x = logits + (int64_t)row * S;
    smp += 4 * (int64_t)row; /* this row's parameters */
    float best = -__int_as_float(0x7f800000);
    int bi = 0x7fffffff;
    /* AB loads issued together, then taken in id order (the same result as one at a time; one at
     * a time this loop cost about 20 us of a 1B's decode step on an H200) */
    constexpr int PER = (V + SAMPLE_NT - 1) / SAMPLE_NT, AB = 16;
    for (int j0 = 0; j0 < PER; j0 += AB) {
        float v[AB];
#pragma unroll
        for (int j = 0; j < AB; j++) {
            const int i = (j0 + j) * SAMPLE_NT + threadIdx.x;
            v[j] = i < V ? x[i] : 0.0f;
        }
#pragma unroll
        for (int j = 0; j < AB; j++) {
            const int i = (j0 + j) * SAMPLE_NT + threadIdx.x;
            if (i < V)
                argmax_take(best, bi, v[j], i);
        }
    }
    argmax_block<NW>(best, bi, sv, si);
    bi = bi == 0x7fffffff ? 0 : bi;
    if (sample_greedy<V>(smp)) {
        if (threadIdx.x == 0)
            ids[row] = bi;
        return;
    }
    SampleRow<V, S> r;
    r.x = x;
    r.mx = x[bi];
    r.temp = (float)smp[0];
    r.inv = 1.0;
    r.ck = 0;
    r.cid = V;
    double sum = 0.0;
    for (int i = threadIdx.x; i < V; i += SAMPLE_NT)
        sum += (double)expf((x[i] - r.mx) / r.temp);
    for (int m = LLMC_WARP / 2; m > 0; m >>= 1)
        sum += shfl_xor(sum, m);
    if ((threadIdx.x & (LLMC_WARP - 1)) == 0)
        red[threadIdx.x >> LLMC_WARP_LOG2] = sum;
    __syncthreads();
    sum = 0.0;
    for (int w = 0; w < NW; w++)
        sum += red[w];
    r.inv = 1.0 / sum;
    const int top_k = (int)smp[2];
    const double top_p = smp[1];
    if (top_k > 0 && top_k < V) { /* the k best */
        SampleSel k = sample_select<0>(r, (uint64_t)top_k, hist, scratch);
        if (k.found) {
            r.ck = k.key;
            r.cid = k.id;
        }
    }
    /* mass of the candidates */
    __shared__ unsigned long long s_mass;
    if (threadIdx.x == 0)
        s_mass = 0;
    __syncthreads();
    unsigned long long part = 0;
    for (int i = threadIdx.x; i < V; i += SAMPLE_NT) {
        const float p = r.prob(i);
        if (r.in(SampleRow<V, S>::key(p), i))
            part += SampleRow<V, S>::fx(p);
    }
    atomicAdd(&s_mass, part);
    __syncthreads();
    uint64_t mass = s_mass;
    if (top_p > 0.0 && top_p < 1.0) { /* the smallest rank prefix reaching top_p of the mass */
        SampleSel pp = sample_select<1>(r, (uint64_t)((double)mass * top_p), hist, scratch);
        if (pp.found) {
            r.ck = pp.key;
            r.cid = pp.id;
            mass = pp.mass;
        }
    }
    const double u = smp[3];
    const uint64_t X = (uint64_t)(u * (double)mass);
    int tok;
    if (top_k > 0 && top_k < V || top_p > 0.0 && top_p < 1.0) { /* candidates in rank order */
        SampleSel d = sample_select<2>(r, X, hist, scratch);
        tok = d.found ? d.id : -1;
    } else { /* the whole vocabulary, in id order */
        tok = sample_walk(
            r, [](int, float) { return true; }, [](float p) { return SampleRow<V, S>::fx(p); }, X, scratch);
    }
    /* u < 1 and the walks add the same fixed-point masses as `mass`, so u * mass always falls
     * inside; the argmax stands in should that ever fail */
    if (tok < 0)
        tok = bi;
    if (threadIdx.x == 0)
        ids[row] = tok;
}

/* ---- a greedy row's argmax over the blocks of a split (grid y: P blocks a row, SAMPLE_NT threads) ----
 * One block reading a whole row is the latency of one SM's loads: at batch 1 of a 1B (a 128256-id
 * row, 513 KB) about 14 us of a 700-1100 us step on an H100, while the GPU's bandwidth reads the row
 * in well under a microsecond. Block p of P takes ids [p L, (p + 1) L), L = ceil(V / P), leaves its
 * (value, lowest id) in pv/pi[p]; the last block of the row to arrive (cnt, an int a row, left at 0;
 * the release/acquire as paged_attn_dec's counters) takes the P pairs with argmax_take, whose choice
 * is the same for any split and order (above): sample_row's id bit for bit, 0 for a row without a
 * number. */
template <int V, int S>
DEV void argmax_split(const float *x, int32_t *id, float *pv, int *pi, int *cnt)
{
    constexpr int NW = SAMPLE_NT / LLMC_WARP, AB = 16; /* AB loads a thread in flight, as sample_row */
    __shared__ float sv[NW];
    __shared__ int si[NW];
    __shared__ int last;
    const int P = (int)gridDim.y, p = (int)blockIdx.y, L = (V + P - 1) / P;
    const int lo = p * L < V ? p * L : V, hi = lo + L < V ? lo + L : V;
    float best = -__int_as_float(0x7f800000);
    int bi = 0x7fffffff;
    for (int i0 = lo; i0 < hi; i0 += AB * SAMPLE_NT) {
        float v[AB];
#pragma unroll
        for (int j = 0; j < AB; j++) {
            const int i = i0 + j * SAMPLE_NT + (int)threadIdx.x;
            v[j] = i < hi ? x[i] : 0.0f;
        }
#pragma unroll
        for (int j = 0; j < AB; j++) {
            const int i = i0 + j * SAMPLE_NT + (int)threadIdx.x;
            if (i < hi)
                argmax_take(best, bi, v[j], i);
        }
    }
    argmax_block<NW>(best, bi, sv, si);
    if (threadIdx.x == 0) {
        pv[p] = best;
        pi[p] = bi;
    }
    grid_release();
    __syncthreads();
    if (threadIdx.x == 0)
        last = atomic_add_acq_rel(cnt, 1) == P - 1;
    __syncthreads();
    if (!last)
        return;
    grid_acquire();
    best = -__int_as_float(0x7f800000);
    bi = 0x7fffffff;
    for (int q = (int)threadIdx.x; q < P; q += SAMPLE_NT)
        argmax_take(best, bi, __ldcg(pv + q), __ldcg(pi + q));
    argmax_block<NW>(best, bi, sv, si);
    if (threadIdx.x == 0) {
        *id = bi == 0x7fffffff ? 0 : bi;
        *cnt = 0;
    }
}

/* ---- the token of every logits row (grid: output rows x P, SAMPLE_NT threads) ----
 * P 1: sample_row, a block a row. P > 1 (a step of few rows, as forward() chooses: cuda_backend.c
 * emit_sample): a greedy row's argmax by argmax_split, over P blocks; a row that draws is
 * sample_row's in its first block, the others return at once. pv, pi: P (value, id) pairs a row,
 * rows one after another; cnt: an int a row, zero before (the arena is cleared at start) and after. */
template <int V, int S>
DEV void sample_rows(const float *logits, int32_t *ids, const double *smp, float *pv, int *pi, int *cnt)
{
    const int row = (int)blockIdx.x, P = (int)gridDim.y;
    if (P == 1 || !sample_greedy<V>(smp + 4 * (int64_t)row)) {
        if (blockIdx.y == 0)
            sample_row<V, S>(logits, ids, smp, row);
        return;
    }
    argmax_split<V, S>(logits + (int64_t)row * S, ids + row, pv + (int64_t)row * P, pi + (int64_t)row * P, cnt + row);
}

#endif
