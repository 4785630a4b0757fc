/* cuda_attention.c — CUDA emitter for the paged KV cache, in the graph's KV formats (e->kv: keys and
 * values, the kernels' KF and VF template arguments: cuda_kv.cuh KVFmt; fp8's scales per layer and
 * KV head a table in the constants, the kernels' kvs): kv_write (rows to their slots) and
 * paged_attention: for decode steps flash-decoding (NVIDIA with heads of 64 or 128: paged_attn_tc on
 * tensor cores, one block per token and KV head serving up to 8 query heads; else paged_attn_dec, up
 * to 4; positions split over blockIdx.z, the last block of a split combines the partials; head sizes
 * other than powers of two use the per-token kernel and a combine kernel); for
 * long steps (prefill) flash attention on tensor cores (64 tokens of one head a block; the AMD path:
 * flash_mx on its matrix cores, WMMA or MFMA by the image). A soft-capped
 * attention (Gemma 2) passes its cap to each kernel. */
#include <stdio.h>

#include "cuda_common.h"
#include "../ir/kv_layout.h"

/* Decode steps (up to LLMC_ATTN_SPLIT_ROWS tokens) split each query's positions into at most
 * llmc_cuda_attention_parts parts (flash-decoding: enough blocks to fill the chip at batch 1);
 * longer steps (prefill) have blocks enough and run unsplit. */
#define ATTN_SPLIT_ROWS LLMC_ATTN_SPLIT_ROWS
/* Past ATTN_SPLIT_ROWS tokens (NVIDIA, heads of 64 or 128), the tokens of runs of at most this many
 * (a sequence's tokens in the step: cuda_kv.cuh attn_short_run; decode tokens are runs of one) stay
 * on paged_attn_tc, a block a token, and flash attention takes the longer runs (prefill): its tiles
 * of 64 tokens serve their sequences one after another, so a tile of 64 decode tokens makes 64 whole
 * passes with one useful row in 64 (a decode step of 256 sequences on the 1B took 15 ms,
 * bench/NOTES.md). forward() launches paged_attn_tc where a short run may be (T <= 64, or S > 1
 * runs) and flash attention where a long one may (T >= S + ATTN_TC_RUN: the longest run is at most
 * T - S + 1 tokens); a mixed step launches both, each taking its own tokens. */
#define ATTN_TC_RUN 4
int llmc_cuda_attention_parts(const LlmcEmit *e)
{
    return e->attn_parts > 0 ? e->attn_parts : 16;
}

/* "FMT_K, FMT_V": the kernels' KV format arguments. */
const char *llmc_cuda_kv_formats(LlmcEmit *e)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "%s, %s", llmc_kernel_format(e->kv[0]), llmc_kernel_format(e->kv[1]));
    return buf;
}

/* The kernels' kvs argument: the table of scales per layer and KV head in the constants
 * (llmc_emit_kv_scales) when a format has them (fp8), else a null pointer. */
const char *llmc_cuda_kv_scales(LlmcEmit *e)
{
    if (!llmc_kv_has_layer_scale(e->kv[0]) && !llmc_kv_has_layer_scale(e->kv[1]))
        return "(const float *)0";
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "C(%lld)", (long long)llmc_emit_kv_scales(e));
    return buf;
}

/* ", CAP" for a soft-capped attention (Gemma 2), else "" (the kernels' default: no cap). */
static const char *softcap_arg(LlmcEmit *e, const LlmcNode *n)
{
    double c = llmc_attr_float(n, "softcap", 0.0);
    if (c <= 0)
        return "";
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], ", %s", llmc_c_float(e, c));
    return buf;
}

/* For the kernel's comment: ", sliding window" and ", scores soft-capped at C" as they apply. */
static const char *attn_what(LlmcEmit *e, const LlmcNode *n, int window)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    double c = llmc_attr_float(n, "softcap", 0.0);
    int w = snprintf(buf, sizeof e->ptr_ring[0], "%s", window ? ", sliding window" : "");
    if (c > 0)
        snprintf(buf + w, sizeof e->ptr_ring[0] - (size_t)w, ", scores soft-capped at %.9g", c);
    return buf;
}

/* The per-token decode kernel (paged_attn): the parts of a split for decode steps whose head size
 * paged_attn_dec does not take, and long steps whose head size has no tensor-core tile. */
static const char *per_token_kernel(LlmcEmit *e, const LlmcNode *n, int q, int y, int64_t HQ, int window,
                                    int nz, int64_t part_off, const char *qs, const char *ys, const char *lay)
{
    const LlmcGraph *g = e->g;
    int L = g->kv_layers, BS = g->kv_block_size, HKV = g->kv_heads, HD = g->kv_head_dim;
    char kvs[64];
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* paged_attention: %lld query heads over %d %s KV heads of %d, scale %.9g%s (at least 4 blocks an SM: "
                    "ptxas otherwise picks 48 registers and spills on sm_90), "
                    "positions split in gridDim.z parts (%d for decode steps); strides q %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, 4) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    paged_attn<%s, %d, %d, %lld, %d, %d, %lld, %lld, %d>(a.positions, a.seq_of_token, a.block_tables, "
                    "a.max_blocks_per_seq, a.kv, %s, %s, A(%lld), %s, %s, %s%s);\n}\n",
                    (long long)HQ, HKV, llmc_kv_formats_str(e->kv, kvs, sizeof kvs), HD, llmc_attr_float(n, "scale", 1.0),
                    attn_what(e, n, window), nz, (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y),
                    llmc_cuda_kv_formats(e), L, BS, (long long)HQ, HKV,
                    HD, (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), window, qs, ys,
                    (long long)part_off, lay, llmc_c_float(e, llmc_attr_float(n, "scale", 1.0)), llmc_cuda_kv_scales(e),
                    softcap_arg(e, n));
    const char *name = llmc_cuda_kernel(e, "paged_attention", k.s, 0);
    llmc_buf_free(&k);
    return name;
}

/* Decode steps on NVIDIA with heads of 64 or 128: paged_attn_tc (cuda_attn_decode.cuh: mma.sync, one
 * block a token, KV head and part serving GS query heads, the last block of a token's parts combines
 * them). Its settings, from the formats (ptxas on sm_80 and sm_90a: none spills):
 * - GS: the largest divisor of the group up to 8 (the padded rows of the scores' tile);
 * - NT: tiles of 16 positions a warp loads at once: 2, but 1 at head 128 for f16 rows (64 registers of
 *   K and V a tile), int8 rows and KIVI keys (their channel scales);
 * - blocks an SM asked of ptxas (registers 128 at 4, 168 at 3): 4 at head 64; at 128, 3 for 2 tiles,
 *   f16 or int8 rows or KIVI keys, else 4;
 * - MINCH, the fewest positions a part: about 16 KB of one head's K and V, 64 to 256 positions (at
 *   4096 positions every format takes the 16 parts; shorter contexts fewer, so a part's blocks keep
 *   enough loads in flight and one part skips the combine);
 * - FILL, the blocks a step's parts should fill at most: the target's typical SM count times the
 *   blocks an SM (one wave): a step of many tokens has blocks enough in fewer, longer parts, which pay
 *   less of each block's fixed costs. On an H100, one layer of the 8B's heads, 16 sequences at 4096
 *   positions (bench/NOTES.md round 8, `kernel_check attn`): int4 95.3 us in 16 parts, 62.7 in 4,
 *   fp8 91.2 / 77.7, int8 103.1 / 81.3, f16 120.7 / 108.8. A token's parts so depend on its length
 *   and the step's tokens (a batch-invariant build does not take this kernel);
 * - KQ, the scores' layout: S = Q K^T (0) or S^T = K Q^T (1: half the score mma, no padded rows;
 *   bench/kernel_check.cu `attn` checks and times both). The rule is one line: `kq` below. */
static void tc_kernel(LlmcEmit *e, int node, const LlmcNode *n, int q, int y, int64_t HQ, int window, int nz, int64_t part_off,
                      const char *qs, const char *ys, const char *lay, const char *cond, int sr)
{
    const LlmcGraph *g = e->g;
    int L = g->kv_layers, BS = g->kv_block_size, HKV = g->kv_heads, HD = g->kv_head_dim;
    int kf = (int)e->kv[0], vf = (int)e->kv[1];
    int64_t G = HQ / HKV, gs = 8;
    while (G % gs)
        gs--;
    int f16 = llmc_format(e->kv[0])->bits == 16 || llmc_format(e->kv[1])->bits == 16;
    int int8 = kf == LLMC_INT8 || vf == LLMC_INT8;
    int nt = HD == 128 && (f16 || int8 || kv_is_kivi(kf)) ? 1 : 2;
    int minb = HD < 128 ? 4 : nt == 2 ? 3 : f16 || int8 || kv_is_kivi(kf) ? 3 : 4;
    long long rowb = kv_vbytes(kf, HD) + kv_vbytes(vf, HD), minch = 16384 / rowb;
    minch = minch < 64 ? 64 : minch > 256 ? 256 : minch;
    int fill = (e->target->typical_sms ? e->target->typical_sms : 100) * minb;
    /* the S^T layout where an H100 measured it faster (bench/NOTES.md round 9, `kernel_check attn`, the
     * 8B's heads at 4096 positions, us at 16 / 64 sequences): keys and values both int8 81.9 -> 63.0 /
     * 259.4 -> 207.6, both int4 64.4 -> 49.1 / 178.0 -> 150.4, both fp8 78.3 -> 76.2 / 242.8 -> 240.1;
     * f16 (109.2 / 109.3) and int8,int4 (54.0 / 53.9) equal, so S there; KIVI not measured */
    int kq = kf == vf && (kf == LLMC_KV_FP8 || kf == LLMC_INT8 || kf == LLMC_INT4);
    char kvs[64], only[64] = "";
    if (sr)
        snprintf(only, sizeof only, " (and there only the tokens of runs of at most %d)", sr);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* paged_attention, decode steps on tensor cores: %lld query heads over %d %s KV heads of %d, %lld "
                    "query heads a block, scale %.9g%s; positions in at most %d parts of at least %lld positions, no "
                    "more parts than fill %d blocks, one past %d tokens%s, the last block to finish combines them; %d tile(s) of 16 "
                    "positions a warp at once%s; strides q %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, %d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    paged_attn_tc<%s, %d, %d, %lld, %d, %d, %lld, %lld, %d, %d, %lld, %d, %lld, %d, %d, %d, %d>(a.positions, "
                    "a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, %s, %s, A(%lld), (int *)A(%lld), %s, "
                    "%s, %s%s);\n}\n",
                    (long long)HQ, HKV, llmc_kv_formats_str(e->kv, kvs, sizeof kvs), HD, (long long)gs,
                    llmc_attr_float(n, "scale", 1.0), attn_what(e, n, window), nz, minch, fill, ATTN_SPLIT_ROWS,
                    only, nt,
                    kq ? ", scores as S^T = K Q^T" : "", (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y),
                    minb, llmc_cuda_kv_formats(e), L, BS, (long long)HQ, HKV, HD, (long long)llmc_row_stride(g, q),
                    (long long)llmc_row_stride(g, y), window, nz, minch, nt, (long long)gs, kq, fill, ATTN_SPLIT_ROWS,
                    sr, qs, ys,
                    (long long)part_off, (long long)e->scratch_c, lay, llmc_c_float(e, llmc_attr_float(n, "scale", 1.0)),
                    llmc_cuda_kv_scales(e), softcap_arg(e, n));
    const char *name = llmc_cuda_kernel_nv(e, "paged_attention_tc", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_kernel_pdl(e, name); /* its blocks start while Q/K/V runs; they wait before reading */
    char gy[32], gz[32];
    snprintf(gy, sizeof gy, "%lld", (long long)(HQ / gs));
    snprintf(gz, sizeof gz, "(T > %d ? 1 : %d)", ATTN_SPLIT_ROWS, nz); /* blocks past a token's parts return */
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), name, "T", gy, gz, 128, 0);
}

/* Long steps on the AMD path: flash_mx (cuda_attn_prefill.cuh) on the image's matrix cores (WMMA or
 * MFMA), 64 tokens of one query head a block on 128 threads. Its tiles of KT positions: 64, or fewer
 * where the LDS of 64 would not fit the AMD targets' 64 KB a block (Q's 64 rows and a K tile, rows of
 * the head size rounded up to 16 plus 8 halves, and the V tile transposed, rows of KT + 8; 1 KB left
 * for the kernel's own): 64 up to heads of 128, 32 up to 224, 16 above. */
static void flash_mx_kernel(LlmcEmit *e, int node, const LlmcNode *n, int q, int y, int64_t HQ, int window,
                            const char *qs, const char *ys, const char *lay, const char *cond)
{
    const LlmcGraph *g = e->g;
    int L = g->kv_layers, BS = g->kv_block_size, HKV = g->kv_heads, HD = g->kv_head_dim;
    int hdp = (HD + 15) / 16 * 16, kt = 64;
    while (kt > 16 && ((64 + kt) * (hdp + 8) + hdp * (kt + 8)) * 2 + 1024 > 64 * 1024)
        kt /= 2;
    uint32_t smem = (uint32_t)(((64 + kt) * (hdp + 8) + hdp * (kt + 8)) * 2);
    char kvs[64], hq[32];
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* flash attention (long steps) on the matrix cores (the AMD path: WMMA or MFMA by the image): 64 "
                    "tokens x 1 of %lld query heads a block, %s KV head of %d, scale %.9g%s; K/V tiles of %d positions, "
                    "%u bytes of LDS; strides q %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "#if LLMC_AMD_PATH\n"
                    "    flash_mx<%s, %d, %d, %lld, %d, %d, %lld, %lld, %d, %d>(a.positions, a.seq_of_token, a.block_tables, "
                    "a.max_blocks_per_seq, a.kv, %s, %s, a.n_tokens, %s, %s, %s%s);\n#else\n    llmc_trap();\n#endif\n}\n",
                    (long long)HQ, llmc_kv_formats_str(e->kv, kvs, sizeof kvs), HD, llmc_attr_float(n, "scale", 1.0),
                    attn_what(e, n, window), kt, smem, (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y),
                    llmc_cuda_kv_formats(e), L, BS, (long long)HQ, HKV, HD, (long long)llmc_row_stride(g, q),
                    (long long)llmc_row_stride(g, y), window, kt, qs, ys, lay,
                    llmc_c_float(e, llmc_attr_float(n, "scale", 1.0)), llmc_cuda_kv_scales(e), softcap_arg(e, n));
    const char *name = llmc_cuda_kernel(e, "flash_attention_mx", k.s, smem);
    llmc_buf_free(&k);
    snprintf(hq, sizeof hq, "%lld", (long long)HQ);
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 1), name, "(T + 63) / 64", hq, "1", 128, smem);
}

LlmcStatus llmc_cuda_emit_attention(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int L = g->kv_layers, BS = g->kv_block_size, HKV = g->kv_heads, HD = g->kv_head_dim;
    int layer = (int)llmc_attr_int(n, "layer", 0);
    char kvs[64];
    LlmcBuf k = {0};
    if (n->op == LLMC_OP_KV_WRITE) {
        int kk = n->in[0], v = n->in[1];
        char ks[160];
        snprintf(ks, sizeof ks, "%s", llmc_cuda_ptr(e, kk, "const float"));
        llmc_buf_printf(&k,
                        "/* kv_write: f32[T,%d] K and V rows -> one layer of %d of the %s pool (blocks of %d positions x %d "
                        "heads x %d); strides k %lld, v %lld */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    kv_write_row<%s, %d, %d, %d, %d, %lld, %lld>(%s, %s, a.slots, a.kv, %s, %s, a.positions, "
                        "KvSeqs{a.seq_of_token, a.block_tables, a.max_blocks_per_seq});\n}\n",
                        HKV * HD, L, llmc_kv_formats_str(e->kv, kvs, sizeof kvs), BS, HKV, HD,
                        (long long)llmc_row_stride(g, kk), (long long)llmc_row_stride(g, v), llmc_cuda_kv_formats(e), L,
                        BS, HKV, HD, (long long)llmc_row_stride(g, kk), (long long)llmc_row_stride(g, v), ks,
                        llmc_cuda_ptr(e, v, "const float"), llmc_cuda_int(e, layer), llmc_cuda_kv_scales(e));
        const char *name = llmc_cuda_kernel(e, "kv_write", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, NULL, name, "T", "1", "1", 128, 0);
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    int q = n->in[0], y = n->out[0];
    int64_t HQ = llmc_cols(&g->t[q].shape) / HD;
    int window = (int)llmc_attr_int(n, "window", 0);
    int nz = llmc_cuda_attention_parts(e);
    /* Partials for nz > 1: [max_tokens][HQ][nz][HD + 2] floats in scratch A (llmc_cuda_scratch). */
    int64_t part_off = e->scratch_a;
    char qs[160], ys[160];
    snprintf(qs, sizeof qs, "%s", llmc_cuda_ptr(e, q, "const float"));
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    char lay[48];
    snprintf(lay, sizeof lay, "%s", llmc_cuda_int(e, layer));
    char gy[32], gz[32], cond[64], hq[32];
    snprintf(gy, sizeof gy, "%d", HKV);
    snprintf(gz, sizeof gz, "%d", nz);
    snprintf(cond, sizeof cond, "T <= %d", ATTN_SPLIT_ROWS);
    snprintf(hq, sizeof hq, "%lld", (long long)HQ);
    int64_t G = HQ / HKV, gs = G % 4 == 0 ? 4 : G % 2 == 0 ? 2 : 1;
    /* positions in flight a lane group (8 values of a row a lane: cuda_attn_decode.cuh KV_DEC_VL): as
     * many as 32 registers hold (a position's K and V words, and for int8/int4/KIVI two for the
     * sides' word and what it becomes: no spills on sm_90 at 128 registers), at most 8, 4 with f16
     * rows: int8 4, int4 5, fp8 8, KIVI 4 */
    int regs = 0, fixed = 0, ring = kv_has_ring((int)e->kv[0], (int)e->kv[1]);
    for (int w = 0; w < 2; w++) {
        int words = llmc_format(e->kv[w])->bits * 8 / 32;
        regs += (words > 0 ? words : 1) + 2 * (llmc_format_side_index(e->kv[w], LLMC_ROLE_ZERO) >= 0);
    }
    if (kv_is_kivi((int)e->kv[0]))
        fixed = 8; /* KIVI keys: the scales and zeros of a lane's channels in the group last read (KIVI: 4) */
    int u = (32 - fixed) / regs < 8 ? (32 - fixed) / regs : 8;
    if (llmc_format(e->kv[0])->bits == 16 || llmc_format(e->kv[1])->bits == 16)
        u = 4; /* f16 rows: 16-byte loads, as many positions as f16 alone (fp8,f16 at 5 spills on sm_90) */
    if (ring) { /* KIVI: the groups this step's tokens complete, sealed first (cuda_kv.cuh kv_seal_row) */
        llmc_buf_printf(&k,
                        "/* KIVI: the groups of %d positions the step's tokens complete, quantized from the ring into "
                        "their %s blocks (%d KV heads of %d) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    kv_seal_row<%s, %d, %d, %d, %d>(a.positions, a.seq_of_token, a.block_tables, "
                        "a.max_blocks_per_seq, a.kv, %s);\n}\n",
                        KV_KIVI_G, llmc_kv_formats_str(e->kv, kvs, sizeof kvs), HKV, HD, llmc_cuda_kv_formats(e), L, BS,
                        HKV, HD, lay);
        const char *seal = llmc_cuda_kernel(e, "kv_seal", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, NULL, seal, "T", gy, "1", 128, 0);
    }
    /* NVIDIA, heads of 64 or 128: paged_attn_tc (tensor cores); the AMD path and other head sizes below.
     * A batch-invariant build (--batch-invariant) runs every step, prefill and recomputes too, on the
     * decode kernel of one-token steps (paged_attn_dec, else the per-token kernel and its combine): a
     * query's sums then depend on its own position and its sequence's cache alone (parts of its own
     * length, KIVI's f16 positions by its own position), never on the step's other tokens. */
    int tc = e->nv_path && (HD == 64 || HD == 128) && BS % 16 == 0 && !e->binv;
    /* One-token steps stay on paged_attn_dec: it starts loading old K/V rows while Q/K/V runs (PDL) and
     * was faster at T = 1 (kernel_check on an H100: 8.5 against 12.3 us, heads of 64; 11.8 / 19.8 and
     * 23.1 / 30.4 us at 128); steps of 2 to 64 tokens take paged_attn_tc, and the short runs of longer
     * ones (ATTN_TC_RUN: decode steps of many sequences). */
    char tcond[96], nv_long[64];
    snprintf(tcond, sizeof tcond, "T > 1 && (T <= %d || S > 1)", ATTN_SPLIT_ROWS);
    /* KIVI (the ring): no flash attention; paged_attn_tc takes all of a long step of several runs, the
     * per-token kernel one of a single run */
    if (tc)
        tc_kernel(e, node, n, q, y, HQ, window, nz, part_off, qs, ys, lay, tcond, ring ? 0 : ATTN_TC_RUN);
    if (HD >= 8 && HD <= 256 && (HD & (HD - 1)) == 0) {
        const char *dcond = tc ? llmc_cuda_path_cond(e, "T == 1", 0) : e->binv ? NULL : cond;
        /* one kernel, 16-byte K/V loads by lane groups, the last block of each head group combines
         * the parts (counters in scratch C): 10.9 against 11.5 us for the 8B at context 576, 23
         * against 36 us at 4096 (bench/kernel_check.cu, H200), though 45 against 38 us for 16
         * tokens. Every decode step takes it: a token's attention gets the same bits whatever the
         * batch. */
        llmc_buf_printf(&k,
                        "/* paged_attention, decode steps: %lld query heads over %d %s KV heads of %d, %lld query heads a "
                        "block, scale %.9g%s; positions split in %d parts, the last block to finish combines them; "
                        "strides q %lld, y %lld */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128, 4) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    paged_attn_dec<%s, %d, %d, %lld, %d, %d, %lld, %lld, %d, %d, %d, %lld>(a.positions, "
                        "a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, %s, %s, A(%lld), (int *)A(%lld), %s, "
                        "%s, %s%s);\n}\n",
                        (long long)HQ, HKV, llmc_kv_formats_str(e->kv, kvs, sizeof kvs), HD, (long long)gs,
                        llmc_attr_float(n, "scale", 1.0), attn_what(e, n, window), nz, (long long)llmc_row_stride(g, q),
                        (long long)llmc_row_stride(g, y), llmc_cuda_kv_formats(e), L, BS, (long long)HQ, HKV, HD,
                        (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), window, nz, u, (long long)gs,
                        qs, ys, (long long)part_off, (long long)e->scratch_c, lay,
                        llmc_c_float(e, llmc_attr_float(n, "scale", 1.0)), llmc_cuda_kv_scales(e), softcap_arg(e, n));
        const char *dec = llmc_cuda_kernel(e, "paged_attention_dec", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_kernel_pdl(e, dec); /* one token: old K/V rows load while Q/K/V runs */
        char gyd[32];
        snprintf(gyd, sizeof gyd, "%lld", (long long)(HQ / gs));
        llmc_cuda_launch(e, node, dcond, dec, "T", gyd, gz, 128, 0);
        if (tc && e->amd_path) /* a mixed image: the AMD path's decode steps */
            llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 1), dec, "T", gyd, gz, 128, 0);
    } else { /* the per-token kernel's parts, then a combine kernel */
        const char *pcond = tc ? llmc_cuda_path_cond(e, cond, 1) : e->binv ? NULL : cond;
        llmc_cuda_launch(e, node, pcond, per_token_kernel(e, n, q, y, HQ, window, nz, part_off, qs, ys, lay), "T", gy,
                         gz, 128, 0);
        llmc_buf_printf(&k,
                        "/* attention combine: %d parts of %lld heads x %d */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    attn_combine<%lld, %d, %lld, %d>(A(%lld), %s);\n}\n",
                        nz, (long long)HQ, HD, (long long)HQ, HD, (long long)llmc_row_stride(g, y), nz, (long long)part_off,
                        ys);
        const char *comb = llmc_cuda_kernel(e, "attn_combine", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, pcond, comb, "T", hq, "1", 128, 0);
    }
    if (e->binv) { /* no kernel for long steps: the one above takes every step */
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    snprintf(cond, sizeof cond, "T > %d", ATTN_SPLIT_ROWS);
    /* the long steps paged_attn_tc leaves (NVIDIA) */
    if (tc && ring)
        snprintf(nv_long, sizeof nv_long, "T > %d && S == 1", ATTN_SPLIT_ROWS);
    else if (tc)
        snprintf(nv_long, sizeof nv_long, "T > %d && T >= S + %d", ATTN_SPLIT_ROWS, ATTN_TC_RUN);
    else
        snprintf(nv_long, sizeof nv_long, "%s", cond);
    /* a tensor-core tile for this head size, on NVIDIA (KIVI: queries of one tile read a position from
       the blocks or the ring, so the per-token kernel); on the AMD path flash_mx (matrix cores) for
       heads of a multiple of 8 up to 256, KIVI likewise the per-token kernel */
    int flash = e->nv_path && HD % 16 == 0 && HD <= 128 && !ring;
    int fmx = e->amd_path && HD % 8 == 0 && HD <= 256 && !ring;
    int pt_nv = e->nv_path && !flash, pt_amd = e->amd_path && !fmx;
    if (pt_nv || pt_amd) { /* the per-token kernel */
        const char *pt = per_token_kernel(e, n, q, y, HQ, window, nz, part_off, qs, ys, lay);
        if (pt_nv && pt_amd && !tc)
            llmc_cuda_launch(e, node, cond, pt, "T", gy, "1", 128, 0);
        else {
            if (pt_nv)
                llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, nv_long, 0), pt, "T", gy, "1", 128, 0);
            if (pt_amd)
                llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 1), pt, "T", gy, "1", 128, 0);
        }
    }
    if (fmx)
        flash_mx_kernel(e, node, n, q, y, HQ, window, qs, ys, lay, cond);
    if (!flash) {
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    uint32_t smem = (uint32_t)(2 * 2 * 64 * (HD + 8) * 2);
    char left[64] = "";
    if (tc)
        snprintf(left, sizeof left, "; runs of at most %d tokens left to paged_attn_tc", ATTN_TC_RUN);
    llmc_buf_printf(&k,
                    "/* flash attention (long steps): 64 tokens x 1 of %lld query heads a block, %s KV head of %d, "
                    "scale %.9g%s; K/V tiles of 64 positions, %u bytes of shared memory%s; strides q %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, 2) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    flash_prefill<%s, %d, %d, %lld, %d, %d, %lld, %lld, %d, %d>(a.positions, a.seq_of_token, a.block_tables, "
                    "a.max_blocks_per_seq, a.kv, %s, %s, a.n_tokens, %s, %s, %s%s);\n}\n",
                    (long long)HQ, llmc_kv_formats_str(e->kv, kvs, sizeof kvs), HD, llmc_attr_float(n, "scale", 1.0),
                    attn_what(e, n, window), smem, left,
                    (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y),
                    llmc_cuda_kv_formats(e), L, BS, (long long)HQ, HKV, HD,
                    (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), window, tc ? ATTN_TC_RUN : 0, qs, ys,
                    lay, llmc_c_float(e, llmc_attr_float(n, "scale", 1.0)), llmc_cuda_kv_scales(e), softcap_arg(e, n));
    const char *fl = llmc_cuda_kernel_nv(e, "flash_attention", k.s, smem);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, nv_long, 0), fl, "(T + 63) / 64", hq, "1", 128, smem);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
