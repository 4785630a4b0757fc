/* perplexity.h — `--perplexity FILE`, llama.cpp's protocol.
 *
 * The caller passes tokens = [BOS] + encode(file). They are cut into consecutive chunks of ctx
 * tokens (the remainder is dropped); each chunk's first token becomes BOS and the chunk runs as a
 * fresh sequence; positions ctx/2 .. ctx-2 are scored on the next token:
 * nll = logsumexp(logits) - logits[target], in double. Chunks are independent sequences of the
 * scheduler, up to max_batch at a time; results are combined in chunk order, so the figures do not
 * depend on the batch size or the thread count.
 *
 * ppl = exp(mean nll); its standard error by the delta method is ppl * stddev(nll) / sqrt(count)
 * (sample standard deviation), the same figure llama.cpp prints.
 */
#ifndef LLMC_PERPLEXITY_H
#define LLMC_PERPLEXITY_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct LlmcPplResult {
    double ppl;
    double ppl_err;             /* standard error of ppl */
    int32_t n_chunks;
    int32_t ctx;
    int64_t n_scored;
} LlmcPplResult;

/* Called once per chunk, in chunk order, with the perplexity over chunks 0..chunk.
 * A non-zero return stops the run with an error. */
typedef int (*LlmcPplProgress)(void *ctx, int32_t chunk, int32_t n_chunks, double running_ppl);

/* ctx in 4..max_seq_len; the engine's KV cache must hold max_batch sequences of ctx - 1 positions
 * (the last token of a chunk is never fed). Returns 0, or -1 with a message in err. */
int llmc_perplexity(LlmcEngine *e, const int32_t *tokens, int64_t n_tokens, int32_t ctx,
                    int32_t max_batch, LlmcPplProgress progress, void *progress_ctx,
                    LlmcPplResult *res, char *err, size_t errlen);

#endif
