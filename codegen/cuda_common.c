/* cuda_common.c — operand expressions, kernel registration and host launch code for the CUDA
 * backend's emitters. Every kernel is `extern "C" __global__ void kN_op(LlmcDevArgs a)`; the host
 * forward() launches it by index through llmc_gpu_launch. */
#include "cuda_common.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llmc_cuda_node_begin(LlmcEmit *e) { e->n_offs = 0; }

/* Slots in call order (never by value: a coincidence between two offsets must not make one layer's
 * kernel text differ from another's). */
static int offset_slot(LlmcEmit *e, int64_t v)
{
    if (e->n_offs == 8) {
        fprintf(stderr, "llmc: internal error: a GPU node needs more than 8 launch offsets\n");
        abort();
    }
    e->offs[e->n_offs] = v;
    e->offs_rank[e->n_offs] = 0;
    e->offs_rows[e->n_offs] = 0;
    return e->n_offs++;
}

const char *llmc_cuda_rank_first(LlmcEmit *e, int64_t rows, int rep)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    int i = offset_slot(e, 0);
    e->offs_rank[i] = rows;
    e->offs_rep[i] = rep > 1 ? rep : 1;
    snprintf(buf, sizeof e->ptr_ring[0], "o.v[%d]", i);
    return buf;
}

const char *llmc_cuda_int(LlmcEmit *e, int64_t v)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "(int)o.v[%d]", offset_slot(e, v));
    return buf;
}

const char *llmc_cuda_ptr(LlmcEmit *e, int t, const char *ctype)
{
    const LlmcGraph *g = e->g;
    const LlmcTensor *tt = &g->t[t];
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    size_t n = sizeof e->ptr_ring[0];
    if (t == g->logits)
        snprintf(buf, n, "((%s *)a.logits)", ctype);
    else if (t == g->in_tokens)
        snprintf(buf, n, "a.tokens");
    else if (t == g->in_positions)
        snprintf(buf, n, "a.positions");
    else if (t == g->in_slots)
        snprintf(buf, n, "a.slots");
    else if (t == g->in_out_rows)
        snprintf(buf, n, "a.out_rows");
    else if (tt->kind == LLMC_T_WEIGHT)
        snprintf(buf, n, "((%s *)(a.weights + o.v[%d]))", ctype, offset_slot(e, tt->offset));
    else
        snprintf(buf, n, "((%s *)(a.arena + o.v[%d]))", ctype, offset_slot(e, tt->offset));
    return buf;
}

const char *llmc_cuda_rows(LlmcEmit *e, int t)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    int i = offset_slot(e, 0);
    e->offs_rows[i] = e->g->t[t].shape.sym[0] == LLMC_DIM_O ? 'O' : 'T';
    snprintf(buf, sizeof e->ptr_ring[0], "(int)o.v[%d]", i);
    return buf;
}

const char *llmc_cuda_host_rows(const LlmcGraph *g, int t)
{
    return g->t[t].shape.sym[0] == LLMC_DIM_O ? "O" : "T";
}

const char *llmc_cuda_wname(LlmcDType dt)
{
    return llmc_dtype_name(dt);
}

int llmc_cuda_ve(LlmcDType dt) { return 128 / llmc_format(dt)->bits; }

int llmc_cuda_mma_format(const LlmcTensor *w)
{
    if (llmc_format_n_sides(w->dtype) > 0)
        return LLMC_F16; /* quantized: dequantized to f16 (dequant_half) */
    return llmc_format(w->dtype)->bits == 16 ? (int)w->dtype : -1;
}

const char *llmc_cuda_wq(LlmcEmit *e, const LlmcTensor *w, const char *wsrc)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    size_t n = sizeof e->ptr_ring[0];
    int last = -1;
    for (int i = 0; i < LLMC_MAX_SIDES; i++)
        if (w->layout.side[i] >= 0)
            last = i;
    snprintf(buf, n, "WQ{%s", last >= 0 ? "{" : "");
    for (int i = 0; i <= last; i++) {
        int s = w->layout.side[i];
        if (s < 0)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s0", i ? ", " : "");
        else
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s + %lld", i ? ", " : "", wsrc,
                     (long long)(e->g->t[s].offset - w->offset));
    }
    snprintf(buf + strlen(buf), n - strlen(buf), "%s}", last >= 0 ? "}" : "");
    return buf;
}

const char *llmc_cuda_kernel(LlmcEmit *e, const char *prefix, const char *text, uint32_t smem)
{
    const char *name = llmc_emit_kernel(e, prefix, text);
    int k = llmc_emit_kernel_index(e, name);
    if (e->kernels[k].smem < smem)
        e->kernels[k].smem = smem;
    return name;
}

const char *llmc_cuda_kernel_nv(LlmcEmit *e, const char *prefix, const char *text, uint32_t smem)
{
    if (!e->amd_path)
        return llmc_cuda_kernel(e, prefix, text, smem);
    /* the body (from the first "{\n" to the last "}") under #if LLMC_PTX */
    const char *open = strstr(text, "\n{\n"), *close = strrchr(text, '}');
    assert(open && close && close > open);
    LlmcBuf k = {0};
    llmc_buf_printf(&k, "%.*s\n{\n#if LLMC_PTX\n%.*s#else\n    llmc_trap();\n#endif\n%s", (int)(open - text), text,
                    (int)(close - (open + 3)), open + 3, close);
    const char *name = llmc_cuda_kernel(e, prefix, k.s ? k.s : text, smem);
    llmc_buf_free(&k);
    int i = llmc_emit_kernel_index(e, name);
    e->kernels[i].nv_only = 1;
    e->kernels[i].flags |= 2u; /* LLMC_GPU_KERNEL_NV_ONLY */
    return name;
}

const char *llmc_cuda_path_cond(LlmcEmit *e, const char *cond, int amd)
{
    if (!(e->nv_path && e->amd_path))
        return cond;
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "%s%s%s", cond ? cond : "", cond ? " && " : "", amd ? "amd" : "!amd");
    return buf;
}

void llmc_cuda_kernel_math(LlmcEmit *e, const char *name, const char *math, ...)
{
    LlmcKernelDef *k = &e->kernels[llmc_emit_kernel_index(e, name)];
    char buf[512];
    va_list ap;
    va_start(ap, math);
    vsnprintf(buf, sizeof buf, math, ap);
    va_end(ap);
    assert(!k->row_math || strcmp(k->row_math, buf) == 0); /* one text, one arithmetic */
    free(k->row_math);
    k->row_math = llmc_strdup(buf);
}

const char *llmc_cuda_rope_math(LlmcEmit *e, int inter, int64_t HQ, int64_t HKV, int64_t hd, int64_t table)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    char kvs[64];
    snprintf(buf, sizeof e->ptr_ring[0], "rope_kv %s %s q %lld kv %lld heads of %lld, table %lld",
             inter ? "interleaved" : "half", llmc_kv_formats_str(e->kv, kvs, sizeof kvs), (long long)HQ,
             (long long)HKV, (long long)hd, (long long)table);
    return buf;
}

void llmc_cuda_kernel_pdl(LlmcEmit *e, const char *name)
{
    e->kernels[llmc_emit_kernel_index(e, name)].flags |= 1u; /* LLMC_GPU_KERNEL_PDL */
}

void llmc_cuda_launch(LlmcEmit *e, int node, const char *cond, const char *kernel, const char *gx, const char *gy,
                      const char *gz, int threads, uint32_t smem)
{
    if (node >= 0)
        llmc_emit_node_comment(e, node, cond ? " (variant)" : "");
    if (cond)
        llmc_buf_printf(&e->body, "    if (%s)\n    ", cond);
    int ki = llmc_emit_kernel_index(e, kernel);
    if (e->n_launches == e->cap_launches) {
        e->cap_launches = e->cap_launches ? 2 * e->cap_launches : 64;
        e->launches = realloc(e->launches, (size_t)e->cap_launches * sizeof *e->launches);
        if (!e->launches)
            abort();
    }
    e->launches[e->n_launches++] = (LlmcLaunchRec){node, cond ? llmc_strdup(cond) : NULL, ki};
    llmc_buf_printf(&e->body, "    llmc_gpu_launch(gpu, %d, %s, %s, %s, %d, %u, &(const LlmcKernelOffsets){{", ki,
                    gx, gy, gz, threads, smem);
    for (int i = 0; i < e->n_offs; i++) {
        if (e->offs_rank[i] > 0 && e->offs_rep[i] > 1)
            llmc_buf_printf(&e->body, "%s(int64_t)(ex->rank / %d) * %lld", i ? ", " : "", e->offs_rep[i],
                            (long long)e->offs_rank[i]);
        else if (e->offs_rank[i] > 0)
            llmc_buf_printf(&e->body, "%s(int64_t)ex->rank * %lld", i ? ", " : "", (long long)e->offs_rank[i]);
        else if (e->offs_rows[i])
            llmc_buf_printf(&e->body, "%s%c", i ? ", " : "", e->offs_rows[i]);
        else
            llmc_buf_printf(&e->body, "%s%lld", i ? ", " : "", (long long)e->offs[i]);
    }
    llmc_buf_printf(&e->body, "%s}}); /* %s */\n", e->n_offs ? "" : "0", kernel);
}

void llmc_cuda_node_end(LlmcEmit *e, int node)
{
    llmc_buf_printf(&e->body, "    if (st->n_nodes == %d)\n        return;\n", node + 1);
}

int llmc_cuda_split_k(const LlmcTarget *tg, int64_t N, int64_t K)
{
    int64_t blocks = (N + 63) / 64, kt = K / 32;
    int64_t want = (4 * (int64_t)(tg->typical_sms ? tg->typical_sms : 100) + blocks - 1) / blocks;
    int best = 1;
    for (int s = 2; s <= 16 && s <= want; s++)
        if (kt % s == 0 && kt / s >= 2)
            best = s;
    return best;
}

/* The wide-step tensor-core tile (gemm_h) of an N x K matrix for up to `rows` rows: 128 x 128 tiles
 * when they give two blocks an SM, else 64 x 128; K split in 2 or 4 while even those leave SMs idle
 * (each slice at least 8 k-tiles). Stages: 4 where an SM has room for two blocks of them, else 3. */
LlmcWideTile llmc_cuda_wide_tile(const LlmcTarget *tg, int64_t N, int64_t K, int64_t rows)
{
    LlmcWideTile t = {.bm = 128, .bn = 128, .split = 1, .stages = tg->smem_per_sm >= 160 * 1024 ? 4 : 3};
    int64_t sms = tg->typical_sms ? tg->typical_sms : 100, kt = K / 32;
    if ((N + 127) / 128 * ((rows + 127) / 128) < 2 * sms)
        t.bm = 64;
    int64_t tiles = (N + 127) / 128 * ((rows + t.bm - 1) / t.bm);
    while (t.split < 4 && tiles * t.split < sms && kt % (2 * t.split) == 0 && kt / (2 * t.split) >= 8)
        t.split *= 2;
    t.smem = (uint32_t)(t.stages * (t.bm + t.bn) * 40 * 2);
    return t;
}

/* gemm_q's plan (see cuda_common.h): 4 warps of 2 n8 tiles (64 weight rows a block); 3 activation
 * stages (2 for 64 rows: 74 KB for u4); as many blocks as stay resident (4 an SM for 16 rows, 3 for
 * u4 with zero points or small groups, 2 for 32 or 64 rows, fewer where shared memory is short) but at least 4 units a block for u4 and 8 for
 * the others (a unit: a chunk of K of the block's rows, 8 KB of u4/fp8, 16 KB of bf16/f16; fewer,
 * larger blocks were faster for the small matrices on an H100, bench/NOTES.md). Shapes gemm_q needs:
 * K whole chunks (bf16/f16/fp8 128 values, u4 256; quantized rows in lane8 order), weight rows a
 * multiple of the block's (SwiGLU: of each half). */
/* The formats gemm_q decodes (cuda_qmma.cuh QmFmt): 16-bit ones, the 4-bit u4 and nvfp4 (chunks of
 * 256, pair-32 activations) and fp8 (a scale a row, its own padding); a format it does not know
 * never takes it. */
enum { QM_NONE, QM_HALF, QM_4BIT, QM_FP8 };
static int qmma_kind(LlmcDType t)
{
    switch (t) {
    case LLMC_BF16:
    case LLMC_F16: return QM_HALF;
    case LLMC_U4:
    case LLMC_NVFP4: return QM_4BIT;
    case LLMC_FP8: return QM_FP8;
    default: return QM_NONE;
    }
}

/* Stream-K's blocks: as many as stay resident (p->per_sm an SM) but at least min_units units a block
 * (0: 4 for the 4-bit formats, 8 for the others; llmc compile --qmma-units); and the partials' floats
 * a block. */
static void qmma_blocks(const LlmcTarget *tg, LlmcQmmaPlan *p, int64_t N, int64_t K, int q4, int min_units)
{
    int64_t units = N / p->tpb * (K / p->kc), minu = min_units > 0 ? min_units : q4 ? 4 : 8;
    int64_t sms = tg->typical_sms ? tg->typical_sms : 100;
    int64_t blocks = sms * p->per_sm;
    if (units / minu < blocks)
        blocks = units / minu > 0 ? units / minu : 1;
    p->blocks = (int)blocks;
    p->part_floats = 2LL * 16 * p->mi * p->tpb;
}

LlmcQmmaPlan llmc_cuda_qmma_plan(const LlmcTarget *tg, const LlmcTensor *w, int swiglu, int mi, int min_units)
{
    LlmcQmmaPlan p = {0};
    int kind = qmma_kind(w->dtype), quant = llmc_format_n_sides(w->dtype) > 0, q4 = kind == QM_4BIT, q8 = kind == QM_FP8;
    int zero = llmc_layout_role(&w->layout, w->dtype, LLMC_ROLE_ZERO) >= 0, mma = llmc_cuda_mma_format(w);
    int64_t N = w->shape.dim[0], K = w->shape.dim[1];
    p.mi = mi;
    p.nj = 2;
    p.w = 4;
    p.st = mi >= 4 ? 2 : 3;
    p.tpb = p.w * p.nj * 8;
    p.kc = q4 ? 256 : 128;
    p.aord = q4;
    p.bf = mma == LLMC_BF16;
    if (kind == QM_NONE || mma < 0 || !tg->has_mma_bf16 || K % p.kc != 0 || N % p.tpb != 0 || (swiglu && (N / 2) % (p.tpb / 2) != 0))
        return p;
    if (quant && w->layout.order != LLMC_ORDER_LANE8)
        return p;
    if (q8 && w->layout.group != K) /* fp8: a scale a row (applied to the sums) */
        return p;
    p.smem = (uint32_t)(p.st * 16 * mi * (p.kc + (q8 ? 16 : 32)) * 2);
    /* 4 blocks an SM caps a thread at 128 registers: u4 with zero points or groups under 128 values
     * (more scales a slot) needs 3 not to spill */
    p.per_sm = mi > 1 ? 2 : (zero || (q4 && w->layout.group < 128)) ? 3 : 4;
    int64_t room = (tg->smem_per_sm ? tg->smem_per_sm : 100 * 1024) / (p.smem + 1024);
    if (room < p.per_sm)
        p.per_sm = room > 0 ? (int)room : 1;
    qmma_blocks(tg, &p, N, K, q4, min_units);
    p.ok = 1;
    return p;
}

/* gemm_wq's token tiles by row variant: 16, 32, 64 rows one tile; 65-128 one tile of 128, K split
 * as the lower variants are; more rows tiles of 128 and no split (the partials would outweigh the
 * weights). 4 activation stages, 3 at 128 tokens (32 KB a stage of the 4-bit formats: 97 KB, two
 * blocks an SM); 3 blocks an SM up to 32 tokens (at most 170 registers: ptxas gives the u4 g128
 * kernels 128 and 132 with no bound, nvfp4 130 and 139), 2 above (u4 g128 167 at 64 tokens, nvfp4
 * 170, 198 at 128, 238 with zero points in groups of 32) and for u4 with zero points or groups
 * under 128 (more scales a slot: at 3 an SM they spilled). Two chunks of weights in flight a lane
 * up to 32 tokens (where the bytes in flight bind: 3 blocks of 16 KB an SM; ptxas: u4 g128 152 and
 * 165 registers), one above and for nvfp4 (its E4M3 scales: 168 at 16 tokens, a spill at 32). None
 * of it measured yet. */
int llmc_cuda_wq_rows(const LlmcEmit *e, const LlmcTensor *w)
{
    if (e->qmma_wg)
        return 8;
    return e->qmma_auto && (w->dtype == LLMC_U4 || w->dtype == LLMC_NVFP4) ? 32 : 0;
}

LlmcWqPlan llmc_cuda_wq_plan(const LlmcTarget *tg, const LlmcTensor *w, int v)
{
    static const int nts[LLMC_WQ_VARIANTS] = {16, 32, 64, 128, 128};
    LlmcWqPlan p = {0};
    int kind = qmma_kind(w->dtype);
    int64_t N = w->shape.dim[0], K = w->shape.dim[1], kc = kind == QM_4BIT ? 256 : 128, kr = kind == QM_4BIT ? 128 : 64;
    if (!tg->has_wgmma || (kind != QM_4BIT && kind != QM_FP8) || llmc_format_n_sides(w->dtype) == 0 ||
        w->layout.order != LLMC_ORDER_LANE8 || K % kc != 0 || N % 64 != 0 || v < 0 || v >= LLMC_WQ_VARIANTS)
        return p;
    if (kind == QM_FP8 && w->layout.group != K) /* fp8: a scale a row (applied to the sums) */
        return p;
    p.nt = nts[v];
    p.lo = v == 0 ? 8 : v < 4 ? nts[v - 1] : 128;
    p.hi = v < 4 ? nts[v] : 0;
    p.st = p.nt >= 128 ? 3 : 4;
    int zero = llmc_layout_role(&w->layout, w->dtype, LLMC_ROLE_ZERO) >= 0;
    p.per_sm = p.nt <= 32 && !zero && !(w->dtype == LLMC_U4 && w->layout.group < 128) ? 3 : 2;
    p.word = kind == QM_4BIT ? 3 : 2;
    p.pd = p.nt <= 32 && w->dtype != LLMC_NVFP4 ? 2 : 1;
    p.smem = (uint32_t)(p.st * p.nt * kr * 2 + 1024);
    p.split = 1;
    int64_t tiles = N / 64, chunks = K / kc, sms = tg->typical_sms ? tg->typical_sms : 100;
    while (v < 4 && p.split < 8 && tiles * p.split < p.per_sm * sms && chunks % (2 * p.split) == 0 &&
           chunks / (2 * p.split) >= 2)
        p.split *= 2;
    p.ok = 1;
    return p;
}

/* gemm_wg: 128 x 128 tiles when they give about 1.4 blocks an SM (qkv and gate/up of an 8B at 512
 * rows), else 64 x 128 with K split in 2 or 4 while the tiles leave SMs idle; 3 stages of 128-row
 * tiles or 4 of 64-row ones: 97 KB, two blocks an SM (bench/NOTES.md, round 17). */
LlmcWideTile llmc_cuda_wg_tile(const LlmcTarget *tg, int64_t N, int64_t K, int64_t rows)
{
    LlmcWideTile t = {.bm = 128, .bn = 128, .split = 1, .stages = 3};
    int64_t sms = tg->typical_sms ? tg->typical_sms : 100, kt = K / 64;
    if ((N + 127) / 128 * ((rows + 127) / 128) * 10 < 14 * sms) {
        t.bm = 64;
        t.stages = 4;
        int64_t tiles = (N + 127) / 128 * ((rows + 63) / 64);
        while (t.split < 4 && tiles * t.split < sms && kt % (2 * t.split) == 0 && kt / (2 * t.split) >= 8)
            t.split *= 2;
    }
    t.smem = (uint32_t)(t.stages * (t.bm + t.bn) * 128 + 1024);
    return t;
}

/* gemm_wt (cuda_wgmma_tma.cuh, sm_90a; emitted with llmc compile --wgmma tma): tiles of 128 rows (two consumer warpgroups
 * of 64) x bn weight rows (of a gated matrix bn/2 gate and bn/2 up rows), one block of 384 threads
 * an SM, persistent over the tiles. bn 256 when its tiles alone give every SM one, else 128; K
 * split in 2 or 4 while the tiles would leave more than half the SMs idle (each slice at least 8
 * k-tiles of 64). Stages: as many as the block's shared memory holds, at most 8. A stage is
 * (128 + bn) rows of 128 bytes (32 KB at bn 128, 48 KB at bn 256); 1024 bytes more for the 1024-byte
 * alignment of the swizzled tiles and 256 for the mbarriers (a full and an empty one, 8 bytes, a
 * stage): 227 KB (sm_90a) holds 7 stages at bn 128 (230656 bytes) and 4 at bn 256 (197888). None of
 * it measured yet (bench/kernel_check.cu mode wt times these tiles against gemm_wg's). */
LlmcWideTile llmc_cuda_wt_tile(const LlmcTarget *tg, int64_t N, int64_t K, int64_t rows)
{
    LlmcWideTile t = {.bm = 128, .bn = 256, .split = 1};
    int64_t sms = tg->typical_sms ? tg->typical_sms : 100, kt = K / 64, mt = (rows + 127) / 128;
    if ((N + 255) / 256 * mt < sms)
        t.bn = 128;
    int64_t tiles = (N + t.bn - 1) / t.bn * mt;
    while (t.split < 4 && 2 * tiles * t.split <= sms && kt % (2 * t.split) == 0 && kt / (2 * t.split) >= 8)
        t.split *= 2;
    int64_t stage = (int64_t)(t.bm + t.bn) * 128, room = tg->smem_per_block > 0 ? tg->smem_per_block : 100 * 1024;
    t.stages = (int)((room - 1024 - 256) / stage);
    if (t.stages > 8)
        t.stages = 8;
    t.smem = (uint32_t)(t.stages * stage + 1024 + 256);
    return t;
}

/* The maps of one gemm_wt (or gemm_ws) launch side by side, so that one launch offset reaches both (a
 * matmul node may already use 7 of its 8: cuda_matmul.c). The activations' map is the same for every
 * matrix of the same K and box and is repeated a node (128 bytes). */
int64_t llmc_cuda_wt_maps(LlmcEmit *e, const LlmcTensor *w, int bf, int64_t rows_max, int box_w, int box_x)
{
    int64_t N = w->shape.dim[0], K = w->shape.dim[1], at = (e->const_bytes + 127) / 128 * 128;
    if (e->n_tmaps + 2 > e->cap_tmaps) {
        e->cap_tmaps = e->cap_tmaps ? 2 * e->cap_tmaps : 64;
        e->tmaps = realloc(e->tmaps, (size_t)e->cap_tmaps * sizeof *e->tmaps);
        if (!e->tmaps)
            abort();
    }
    char xname[96];
    snprintf(xname, sizeof xname, "scratch A (%s activations, %lld rows of %lld)", bf ? "bf16" : "f16",
             (long long)rows_max, (long long)K);
    e->tmaps[e->n_tmaps++] = (LlmcTmapRec){llmc_strdup(w->name), 0, bf, w->offset, N, K, K * 2, box_w, 64, at};
    e->tmaps[e->n_tmaps++] = (LlmcTmapRec){llmc_strdup(xname), 1, bf, e->scratch_a, rows_max, K, K * 2, box_x, 64, at + 128};
    e->const_bytes = at + 256;
    return at;
}

/* gemm_ws: one block an SM (its stages fill the shared memory a block may have: 8 of 18-24 KB), so
 * that one producer thread keeps up to 128 KB of weights in flight an SM; the units dealt evenly over
 * min(units / min_units, SMs) blocks: by default every SM streams (a block's ring holds 8 units in
 * flight, where gemm_q's registers hold one: gemm_q's rule of at least 8 units a block for bf16 is
 * its own); --qmma-units trades SMs for fewer shared tiles (partials summed at a tile's end). None of
 * it measured yet (bench/kernel_check.cu mode ws times it against gemm_q). */
LlmcWsPlan llmc_cuda_ws_plan(const LlmcTarget *tg, const LlmcTensor *w, int swiglu, int v, int min_units)
{
    LlmcWsPlan p = {0};
    int mma = llmc_cuda_mma_format(w);
    int64_t N = w->shape.dim[0], K = w->shape.dim[1], sms = tg->typical_sms ? tg->typical_sms : 100;
    if (!tg->has_wgmma || llmc_format_n_sides(w->dtype) > 0 || (mma != LLMC_BF16 && mma != LLMC_F16) || K % 64 != 0 ||
        v < 0 || v >= LLMC_WS_VARIANTS || (swiglu && N % 2 != 0))
        return p;
    p.nt = 16 << v;
    int64_t stage = 128 * 128 + (int64_t)p.nt * 128, room = tg->smem_per_block > 0 ? tg->smem_per_block : 100 * 1024;
    int64_t st = (room - 1024) / (stage + 16);
    if (st < 2)
        return p;
    p.st = st > 8 ? 8 : (int)st;
    p.smem = (uint32_t)(p.st * stage + 1024 + 16 * p.st);
    p.tiles = swiglu ? (N / 2 + 63) / 64 : (N + 127) / 128;
    p.units = p.tiles * (K / 64);
    int64_t fill = p.units / (min_units > 0 ? min_units : 1);
    p.blocks = (int)(fill < 1 ? 1 : fill < sms ? fill : sms);
    p.part_floats = 2LL * p.nt * 128;
    p.ok = 1;
    return p;
}
