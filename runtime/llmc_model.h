/* llmc_model.h — the contract between generated model code and the runtime.
 *
 * `llmc compile` emits one C file that defines `const LlmcModelDesc llmc_model`: the model's
 * constants (every dimension baked in) and its forward function. The runtime (runtime/ sources) is
 * generic: it loads the packed weights, owns the paged KV pool, the threads, the scheduler and
 * the tokenizer, and drives the model only through this header. The header is embedded into
 * llmc so that the generated code and the runtime always agree on it (LLMC_ABI_VERSION).
 *
 * Threads: forward() is SPMD. The runtime calls it from `nth` threads at once with tid 0..nth-1;
 * the generated code partitions every node's work by (tid, nth) and calls llmc_barrier() between
 * nodes. Every kernel computes each output element in an order that depends neither on nth nor on
 * which other tokens share the step, so a sequence's outputs are bit-identical whether it runs
 * alone or batched with others.
 */
#ifndef LLMC_MODEL_H
#define LLMC_MODEL_H

#include <stdint.h>

#define LLMC_ABI_VERSION 1

/* One forward step: T tokens from one or more sequences (prefill chunks and decode tokens mixed). */
typedef struct LlmcStep {
    int32_t n_tokens;               /* T: 1..max_tokens */
    const int32_t *tokens;          /* [T] token ids */
    const int32_t *positions;       /* [T] position of each token in its sequence */
    const int32_t *seq_of_token;    /* [T] row of block_tables this token's sequence uses */
    const int32_t *slots;           /* [T] KV slot written: block * block_size + position % block_size */
    const int32_t *block_tables;    /* [n_seqs][max_blocks_per_seq] KV block ids */
    int32_t max_blocks_per_seq;     /* row stride of block_tables */
    int32_t n_out;                  /* O: 0..max_outputs */
    const int32_t *out_rows;        /* [O] rows (token indices in this step) whose logits are wanted */
    float *logits;                  /* [O][vocab_size] written by the step */
} LlmcStep;

typedef struct LlmcPool LlmcPool;   /* the runtime's thread team */

/* Everything a forward step reads or writes besides the step itself. */
typedef struct LlmcExec {
    const uint8_t *weights;         /* packed weights, 64-byte aligned (weights_bytes) */
    uint8_t *consts;                /* tables filled by init(), 64-byte aligned (const_bytes) */
    uint8_t *arena;                 /* activations, 64-byte aligned (arena_bytes) */
    uint8_t *kv;                    /* paged KV pool: kv_blocks * kv_block_bytes */
    int64_t kv_blocks;
    LlmcPool *pool;
} LlmcExec;

/* Tokenizer formats carried in the payload. */
enum { LLMC_TOK_NONE = 0, LLMC_TOK_LLAMA2C = 1, LLMC_TOK_SENTENCEPIECE = 2 };

typedef struct LlmcModelDesc {
    uint32_t abi_version;           /* LLMC_ABI_VERSION */
    const char *name;               /* model name from model.json */
    const char *target;             /* "cpu", "sm_90a", ... */
    const char *llmc_version;
    const char *build_info;         /* one line: weight format, KV format, block size, max tokens */
    uint64_t model_hash;            /* must equal the payload header's model_hash */
    int32_t vocab_size;
    int32_t max_seq_len;            /* positions 0..max_seq_len-1 */
    int32_t max_tokens;             /* tokens per step */
    int32_t max_outputs;            /* logit rows per step */
    int32_t bos_id, eos_id;
    int32_t kv_block_size;          /* positions per KV block */
    int64_t kv_block_bytes;         /* one block across all layers, K and V */
    int64_t weights_bytes;
    int64_t const_bytes;
    int64_t arena_bytes;
    int64_t weight_bytes_per_token; /* bytes one decode token must read (all weights once) */
    int64_t kv_bytes_per_position;  /* bytes of KV one position adds across all layers */
    int32_t max_threads;            /* 0: use every thread offered; else at most this many (a tiny
                                       model loses more to barriers than threads give back) */
    void (*init)(const LlmcExec *ex);   /* fills consts; called once, single-threaded */
    void (*forward)(const LlmcExec *ex, const LlmcStep *step, int tid, int nth);
} LlmcModelDesc;

/* Provided by the runtime, called by generated code. */
void llmc_barrier(LlmcPool *pool);

#endif
