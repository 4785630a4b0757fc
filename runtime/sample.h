/* sample.h — choosing the next token from a row of logits.
 *
 * Greedy when temperature == 0: the argmax, the lowest id on ties. Otherwise
 * p = softmax(logits / T); then, when top_k > 0, only the k most probable tokens stay (ties broken
 * by lower id); then, when 0 < top_p < 1, only the smallest prefix of the remaining tokens sorted
 * by probability (renormalized over what top-k kept) whose cumulative probability reaches top_p;
 * then one draw from what is left, in proportion to p.
 *
 * Each sequence owns an LlmcRng (xorshift64*, state from splitmix64 of the seed), so a sequence
 * draws the same numbers whatever else is being sampled in the same steps.
 */
#ifndef LLMC_SAMPLE_H
#define LLMC_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct LlmcSamplerCfg {
    float temperature;          /* 0: greedy */
    int32_t top_k;              /* 0: off */
    float top_p;                /* >= 1: off */
} LlmcSamplerCfg;

typedef struct LlmcRng {
    uint64_t state;             /* never 0 */
} LlmcRng;

void llmc_rng_seed(LlmcRng *r, uint64_t seed);
uint64_t llmc_rng_next(LlmcRng *r);
double llmc_rng_uniform(LlmcRng *r);    /* [0, 1), 53 random bits */

typedef struct LlmcProbIdx {
    float p;
    int32_t id;
} LlmcProbIdx;

/* Scratch for one vocabulary; reused across calls (sampling is done by one thread). */
typedef struct LlmcSampleBuf {
    int32_t cap;
    float *prob;                /* [cap] */
    LlmcProbIdx *cand;          /* [cap] */
} LlmcSampleBuf;

int llmc_samplebuf_init(LlmcSampleBuf *b, int32_t vocab_size, char *err, size_t errlen);
void llmc_samplebuf_free(LlmcSampleBuf *b);

/* Index of the largest value, the lowest index on ties (NaNs are never chosen unless all are). */
int32_t llmc_argmax(const float *x, int32_t n);

/* Does cfg pick the argmax of a row of n (no random numbers)? Then llmc_sample is llmc_argmax. */
int llmc_sampler_greedy(const LlmcSamplerCfg *cfg, int32_t n);

/* Samples a token from logits[n] (n <= b->cap). Greedy uses no random numbers; otherwise one
 * llmc_rng_uniform(rng), then llmc_sample_u. */
int32_t llmc_sample(const LlmcSamplerCfg *cfg, LlmcRng *rng, const float *logits, int32_t n,
                    LlmcSampleBuf *b);
/* The same with the uniform in [0, 1) given: the token whose interval of the cumulative
 * probability (candidates in rank order) holds uniform * mass. The GPU's sampling kernel computes
 * this function (bench/kernel_check.cu compares the two). */
int32_t llmc_sample_u(const LlmcSamplerCfg *cfg, double uniform, const float *logits, int32_t n,
                      LlmcSampleBuf *b);

#endif
