/* moe_route.h — the routing of one token of a mixture-of-experts block, in plain C (no state): the
 * reference interpreter (ir/interp.c) computes the moe op with it, and the GPU kernels' checks
 * (bench/kernel_check.cu on an NVIDIA GPU, bench/amd_simt.cc on the CPU) check the routing kernels
 * against it. */
#ifndef LLMC_MOE_ROUTE_H
#define LLMC_MOE_ROUTE_H

#include <math.h>

/* The softmax of the E router logits, the top K experts by probability (the same order as by
 * logit; ties to the lower index) into ids[K], their probabilities into w[K], renormalized to sum 1
 * when norm is set (Qwen3's norm_topk_prob, Mixtral's softmax of the top k). In double. */
static inline void llmc_moe_route(const float *logits, int E, int K, int norm, int *ids, double *w)
{
    double mx = -INFINITY, sum = 0;
    for (int e = 0; e < E; e++)
        mx = logits[e] > mx ? logits[e] : mx;
    for (int e = 0; e < E; e++)
        sum += exp(logits[e] - mx);
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++) {
            int taken = 0;
            for (int j = 0; j < k; j++)
                taken |= ids[j] == e;
            if (!taken && (best < 0 || logits[e] > logits[best]))
                best = e;
        }
        ids[k] = best;
        w[k] = exp(logits[best] - mx) / sum;
    }
    double tot = 0;
    for (int k = 0; k < K; k++)
        tot += w[k];
    for (int k = 0; norm && k < K; k++)
        w[k] /= tot;
}

#endif
