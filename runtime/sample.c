/* sample.c — greedy, temperature, top-k and top-p sampling. See sample.h.
 *
 * Cost matters at large batch and vocabulary (one call per sequence per step), so nothing sorts
 * the whole vocabulary: top-k keeps a heap of k candidates, and top-p alone first drops every
 * token with p < (1 - top_p) / (n - 1), as llama2.c does. Those tokens cannot be in the nucleus:
 * there are at most n - 1 of them (else nothing is left and all are kept), so together they
 * weigh less than 1 - top_p, and the tokens kept weigh more than top_p. Candidate order is
 * (p descending, id ascending) everywhere, so the result equals a full sort's.
 */
#include "sample.h"

#include <math.h>
#include <stdlib.h>

#include "rtutil.h"

void llmc_rng_seed(LlmcRng *r, uint64_t seed)
{
    /* splitmix64 */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    r->state = z ? z : 0x9e3779b97f4a7c15ULL;
}

uint64_t llmc_rng_next(LlmcRng *r)
{
    /* xorshift64* */
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

double llmc_rng_uniform(LlmcRng *r)
{
    return (double)(llmc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int llmc_samplebuf_init(LlmcSampleBuf *b, int32_t vocab_size, char *err, size_t errlen)
{
    b->cap = vocab_size;
    b->prob = malloc((size_t)vocab_size * sizeof *b->prob);
    b->cand = malloc((size_t)vocab_size * sizeof *b->cand);
    if (!b->prob || !b->cand) {
        llmc_samplebuf_free(b);
        return llmc_rt_fail(err, errlen, "out of memory for the sampler (%d tokens)", vocab_size);
    }
    return 0;
}

void llmc_samplebuf_free(LlmcSampleBuf *b)
{
    free(b->prob);
    free(b->cand);
    b->prob = NULL;
    b->cand = NULL;
    b->cap = 0;
}

/* The largest value, lowest id on ties, NaN never chosen over a number (index 0 when all are NaN).
 * Two passes that vectorize (a max with NaN-ignoring compares, then the first index holding it):
 * over a 128K vocabulary this runs on one thread every decode step. */
int32_t llmc_argmax(const float *x, int32_t n)
{
    float m[8];
    for (int j = 0; j < 8; j++)
        m[j] = -INFINITY;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    float best = -INFINITY;
    for (int j = 0; j < 8; j++)
        best = m[j] > best ? m[j] : best;
    for (; i < n; i++)
        best = x[i] > best ? x[i] : best;
    for (i = 0; i < n; i++)
        if (x[i] == best)
            return i;
    return 0; /* every value NaN */
}

/* a ranks before b: more probable, or as probable with a lower id. */
static int ranks_before(LlmcProbIdx a, LlmcProbIdx b)
{
    return a.p > b.p || (a.p == b.p && a.id < b.id);
}

static int cmp_rank(const void *pa, const void *pb)
{
    const LlmcProbIdx *a = pa, *b = pb;
    return ranks_before(*a, *b) ? -1 : ranks_before(*b, *a) ? 1 : 0;
}

/* Min-heap by rank (the root is the worst candidate kept). */
static void heap_sift_down(LlmcProbIdx *h, int32_t n, int32_t i)
{
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && ranks_before(h[w], h[l]))
            w = l;
        if (r < n && ranks_before(h[w], h[r]))
            w = r;
        if (w == i)
            return;
        LlmcProbIdx t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void heap_sift_up(LlmcProbIdx *h, int32_t i)
{
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!ranks_before(h[parent], h[i]))
            return;
        LlmcProbIdx t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

/* The k best of prob[0..n) into cand[0..k), sorted by rank. */
static int32_t top_k_sorted(const float *prob, int32_t n, int32_t k, LlmcProbIdx *cand)
{
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++) {
        LlmcProbIdx c = {prob[i], i};
        if (m < k) {
            cand[m] = c;
            heap_sift_up(cand, m++);
        } else if (ranks_before(c, cand[0])) {
            cand[0] = c;
            heap_sift_down(cand, m, 0);
        }
    }
    qsort(cand, (size_t)m, sizeof *cand, cmp_rank);
    return m;
}

/* Draws from cand[0..m) in proportion to p (total mass given), u in [0, 1). */
static int32_t draw(const LlmcProbIdx *cand, int32_t m, double mass, double uniform)
{
    double u = uniform * mass, cum = 0;
    for (int32_t i = 0; i < m; i++) {
        cum += cand[i].p;
        if (u < cum)
            return cand[i].id;
    }
    return cand[m - 1].id;      /* rounding left u at the very top */
}

int llmc_sampler_greedy(const LlmcSamplerCfg *cfg, int32_t n)
{
    return cfg->temperature <= 0.0f || n == 1;
}

int32_t llmc_sample(const LlmcSamplerCfg *cfg, LlmcRng *rng, const float *logits, int32_t n,
                    LlmcSampleBuf *b)
{
    if (llmc_sampler_greedy(cfg, n))
        return llmc_argmax(logits, n);
    return llmc_sample_u(cfg, llmc_rng_uniform(rng), logits, n, b);
}

int32_t llmc_sample_u(const LlmcSamplerCfg *cfg, double uniform, const float *logits, int32_t n,
                      LlmcSampleBuf *b)
{
    if (llmc_sampler_greedy(cfg, n))
        return llmc_argmax(logits, n);

    float *prob = b->prob;
    float mx = logits[llmc_argmax(logits, n)];
    double sum = 0;
    for (int32_t i = 0; i < n; i++) {
        prob[i] = expf((logits[i] - mx) / cfg->temperature);
        sum += prob[i];
    }
    for (int32_t i = 0; i < n; i++)
        prob[i] = (float)(prob[i] / sum);

    int top_k = cfg->top_k > 0 && cfg->top_k < n;
    int top_p = cfg->top_p > 0.0f && cfg->top_p < 1.0f;
    LlmcProbIdx *cand = b->cand;
    int32_t m = 0;
    double mass = -1;           /* what top-p's fraction applies to; -1: the candidates' sum */
    if (top_k) {
        m = top_k_sorted(prob, n, cfg->top_k, cand);    /* top-p then sees them renormalized */
    } else if (top_p) {
        mass = 0;               /* the pre-filter must not renormalize: the whole vocabulary */
        for (int32_t i = 0; i < n; i++)
            mass += prob[i];
        float cutoff = (1.0f - cfg->top_p) / (float)(n - 1);
        for (int32_t i = 0; i < n; i++)
            if (prob[i] >= cutoff)
                cand[m++] = (LlmcProbIdx){prob[i], i};
        if (m == 0)
            for (int32_t i = 0; i < n; i++)
                cand[m++] = (LlmcProbIdx){prob[i], i};
        qsort(cand, (size_t)m, sizeof *cand, cmp_rank);
    } else {
        for (int32_t i = 0; i < n; i++)
            cand[m++] = (LlmcProbIdx){prob[i], i};
    }

    if (mass < 0) {
        mass = 0;
        for (int32_t i = 0; i < m; i++)
            mass += cand[i].p;
    }
    if (top_p) {
        double cum = 0;
        int32_t keep = m;
        for (int32_t i = 0; i < m; i++) {
            cum += cand[i].p;
            if (cum >= cfg->top_p * mass) {
                keep = i + 1;
                break;
            }
        }
        m = keep;
        mass = cum;
    }
    return draw(cand, m, mass, uniform);
}
