/* moe_ref.h — the double-precision reference of a token's MoE routing that kernel_check.cu (on an
 * NVIDIA GPU) and amd_simt.cc (on the CPU) check the routing kernels against: plain C++, no CUDA. */
#ifndef LLMC_BENCH_MOE_REF_H
#define LLMC_BENCH_MOE_REF_H

#include <math.h>

/* The softmax of E router logits l, the top K experts by logit (the same order as by probability;
 * ties to the lower expert) into id[K], their probabilities into w[K], renormalized to sum 1 when
 * norm is set (Qwen3's norm_topk_prob, Mixtral's softmax of the top k). */
static void moe_ref_route(const float *l, int E, int K, int norm, int *id, double *w)
{
    double mx = -1e300, sum = 0, tot = 0;
    for (int e = 0; e < E; e++)
        mx = l[e] > mx ? l[e] : mx;
    for (int e = 0; e < E; e++)
        sum += exp(l[e] - mx);
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int j = 0; j < k; j++)
                taken |= id[j] == e;
            if (!taken && (best < 0 || l[e] > l[best]))
                best = e;
        }
        id[k] = best;
        tot += (w[k] = exp(l[best] - mx) / sum);
    }
    for (int k = 0; k < K && norm; k++)
        w[k] /= tot;
}

#endif
