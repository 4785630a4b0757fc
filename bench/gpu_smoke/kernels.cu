/* kernels.cu — the smoke-test model's kernels (see smoke_model.h), compiled to cubins with
 * `nvcc -cubin -arch=sm_90` by build.sh. Each takes LlmcDevArgs by value, as generated kernels do;
 * model.c holds a plain-C twin of each. */
#include "smoke_model.h"

typedef int int32_t;
typedef unsigned char uint8_t;

struct LlmcDevArgs {
    const uint8_t *weights;
    uint8_t *arena;
    uint8_t *kv;
    const uint8_t *consts;
    const int32_t *tokens, *positions, *seq_of_token, *slots, *out_rows, *block_tables;
    float *logits;
    int32_t n_tokens, n_out, max_blocks_per_seq, reserved;
};
static_assert(sizeof(LlmcDevArgs) == 104, "LlmcDevArgs layout differs from llmc_model.h");

#define W(off) ((const float *)(a.weights + (off)))
#define A(off) ((float *)(a.arena + (off)))

/* block-wide sum over SM_D threads, fixed order (deterministic) */
__device__ float block_sum(float v, float *red)
{
    red[threadIdx.x] = v;
    __syncthreads();
    for (int s = SM_D / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    float r = red[0];
    __syncthreads();
    return r;
}

/* grid n_tokens, SM_D threads */
extern "C" __global__ void embed_kv(LlmcDevArgs a)
{
    int t = blockIdx.x, d = threadIdx.x;
    float x = W(SM_W_EMB)[(long long)a.tokens[t] * SM_D + d] +
              ((const float *)(a.consts + SM_C_POS))[(long long)a.positions[t] * SM_D + d];
    A(SM_A_X)[t * SM_D + d] = x;
    ((float *)a.kv)[(long long)a.slots[t] * SM_D + d] = x;
}

/* grid n_tokens, SM_D threads, SM_D floats of dynamic shared memory */
extern "C" __global__ void attend(LlmcDevArgs a)
{
    extern __shared__ float red[];
    int t = blockIdx.x, d = threadIdx.x, p = a.positions[t];
    const int32_t *bt = a.block_tables + (long long)a.seq_of_token[t] * a.max_blocks_per_seq;
    const float *kv = (const float *)a.kv;
    float q = A(SM_A_X)[t * SM_D + d], m = -1e30f, l = 0, acc = 0;
    for (int j = 0; j <= p; j++) {
        long long slot = (long long)bt[j / SM_BS] * SM_BS + j % SM_BS;
        float k = kv[slot * SM_D + d];
        float s = block_sum(q * k, red) * (1.0f / 16.0f);
        float mn = fmaxf(m, s), c = expf(m - mn), e = expf(s - mn);
        l = l * c + e;
        acc = acc * c + e * k;
        m = mn;
    }
    A(SM_A_H)[t * SM_D + d] = acc / l;
}

/* grid SM_STREAM_BLOCKS, 256 threads: every float of the big matrix read once */
extern "C" __global__ void stream(LlmcDevArgs a)
{
    __shared__ float red[SM_D];
    const float4 *big = (const float4 *)W(SM_W_BIG);
    long long per = SM_BIG_FLOATS / 4 / SM_STREAM_BLOCKS, base = blockIdx.x * per;
    float s = 0;
    for (long long i = threadIdx.x; i < per; i += SM_D) {
        float4 v = __ldg(big + base + i);
        s += v.x + v.y + v.z + v.w;
    }
    s = block_sum(s, red);
    if (threadIdx.x == 0)
        A(SM_A_WSUM)[blockIdx.x] = s;
}

/* grid (n_out, VOCAB / SM_D), SM_D threads */
extern "C" __global__ void logits(LlmcDevArgs a)
{
    int o = blockIdx.x, v = blockIdx.y * SM_D + threadIdx.x;
    const float *h = A(SM_A_H) + a.out_rows[o] * SM_D, *w = W(SM_W_OUT) + (long long)v * SM_D;
    float s = 0;
    for (int d = 0; d < SM_D; d++)
        s += h[d] * w[d];
    a.logits[(long long)o * SM_VOCAB + v] = s;
}
