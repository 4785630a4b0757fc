/* smoke_model.h — shapes and layout of the GPU smoke-test model, shared by its CUDA kernels
 * (kernels.cu) and the host side (model.c: the descriptor, forward(), the CPU twin).
 *
 * A toy decoder step with the memory behaviour of a real one:
 *   x[t]   = emb[token] + pos[position]          (consts: a position table filled by init())
 *   kv     : x[t] written to the token's paged-KV slot (one layer, keys used as values)
 *   h[t]   = softmax_j(x[t] . k_j / 16) k_j over the sequence's positions 0..p (through the block
 *            table: KV written by earlier steps is read back)
 *   wsum   : every weight of a large "big" matrix read once per step (a memory-bound stream, so
 *            --bench has a roofline to reach)
 *   logits[o][v] = h[out_rows[o]] . wout[v]
 */
#ifndef SMOKE_MODEL_H
#define SMOKE_MODEL_H

#define SM_VOCAB 512
#define SM_D 256                        /* hidden size = threads of the row kernels */
#define SM_BS 16                        /* KV positions per block */
#define SM_SEQ 512
#define SM_MT 64                        /* max tokens per step */
#define SM_MO 32                        /* max logit rows per step */
#define SM_STREAM_BLOCKS 1024
#define SM_BIG_FLOATS (64ll << 20)      /* 256 MiB */

/* weights (float32) */
#define SM_W_EMB 0ll                                            /* [VOCAB][D] */
#define SM_W_OUT (SM_W_EMB + (long long)SM_VOCAB * SM_D * 4)    /* [VOCAB][D] */
#define SM_W_BIG (SM_W_OUT + (long long)SM_VOCAB * SM_D * 4)    /* [BIG_FLOATS] */
#define SM_WEIGHTS_BYTES (SM_W_BIG + SM_BIG_FLOATS * 4)
/* consts */
#define SM_C_POS 0ll                                            /* [SEQ][D] */
#define SM_CONST_BYTES ((long long)SM_SEQ * SM_D * 4)
/* arena */
#define SM_A_X 0ll                                              /* [MT][D] */
#define SM_A_H (SM_A_X + (long long)SM_MT * SM_D * 4)           /* [MT][D] */
#define SM_A_WSUM (SM_A_H + (long long)SM_MT * SM_D * 4)        /* [STREAM_BLOCKS] */
#define SM_ARENA_BYTES (SM_A_WSUM + SM_STREAM_BLOCKS * 4)
/* KV: one block = BS positions x D floats */
#define SM_KV_BLOCK_BYTES ((long long)SM_BS * SM_D * 4)

#define SM_HASH 0x5eedc0dec0ffee01ull

enum { SM_K_EMBED_KV, SM_K_ATTEND, SM_K_STREAM, SM_K_LOGITS, SM_N_KERNELS };

#endif
