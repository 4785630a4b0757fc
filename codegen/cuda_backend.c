/* cuda_backend.c — the CUDA backend: a planned graph to (1) one CUDA C source, compiled by NVRTC for
 * each architecture asked for, and (2) the host C file of the model: the kernel table, init() (the
 * constant tables, built on the host as for the cpu target), the forward() that enqueues one launch
 * per node (the runtime may capture it into a CUDA graph), the probe table and the descriptor, which
 * points at the cubins (pulled into the executable with .incbin) and at the CPU twin (the same graph
 * compiled by the C backend, for --compare-cpu).
 *
 * Every kernel takes LlmcDevArgs by value; shapes, strides and offsets are literals in its code, so
 * the only run-time values a launch carries are the device base pointers and the step's row counts.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "cuda_common.h"

extern const unsigned char llmc_model_header[];

static const LlmcEmitFn cuda_emitters[LLMC_OP_COUNT] = {
    [LLMC_OP_EMBEDDING] = llmc_cuda_emit_embedding,
    [LLMC_OP_RMSNORM] = llmc_cuda_emit_norm,
    [LLMC_OP_ADD_RMSNORM] = llmc_cuda_emit_norm,
    [LLMC_OP_MATMUL] = llmc_cuda_emit_matmul,
    [LLMC_OP_ADD] = llmc_cuda_emit_elementwise,
    [LLMC_OP_MUL] = llmc_cuda_emit_elementwise,
    [LLMC_OP_SILU] = llmc_cuda_emit_elementwise,
    [LLMC_OP_SWIGLU] = llmc_cuda_emit_elementwise,
    [LLMC_OP_ROPE] = llmc_cuda_emit_rope,
    [LLMC_OP_KV_WRITE] = llmc_cuda_emit_attention,
    [LLMC_OP_PAGED_ATTENTION] = llmc_cuda_emit_attention,
    [LLMC_OP_SELECT_ROWS] = llmc_cuda_emit_rows,
    [LLMC_OP_GATHER_COLS] = llmc_cuda_emit_gather_cols,
    [LLMC_OP_MATMUL_FUSED] = llmc_cuda_emit_matmul,
    [LLMC_OP_ROPE_KV_WRITE] = llmc_cuda_emit_rope_kv,
    [LLMC_OP_HEAD_RMSNORM] = llmc_cuda_emit_norm,
    [LLMC_OP_GELU_TANH] = llmc_cuda_emit_elementwise,
    [LLMC_OP_GEGLU] = llmc_cuda_emit_elementwise,
    [LLMC_OP_SCALE] = llmc_cuda_emit_elementwise,
    [LLMC_OP_SOFTCAP] = llmc_cuda_emit_elementwise,
    [LLMC_OP_MOE] = llmc_cuda_emit_moe,
    [LLMC_OP_ALL_REDUCE] = llmc_cuda_emit_collective,
    [LLMC_OP_ALL_GATHER] = llmc_cuda_emit_collective,
};

/* The sampler's split of a greedy row over blocks (sample_rows, cuda_sample.cuh), chosen by forward()
 * from the step's O logits rows. One block a row (sample_row) reads a row at one SM's load rate: a
 * 1B's 128256 ids (513 KB) took 13.8 us a decode step at batch 1 on an H100 (bench/NOTES.md, round
 * 13), while the GPU's bandwidth reads them in well under a microsecond. So a greedy row of a step
 * of O rows gets P = min(most, sms / O) blocks, most = ceil(V / 1024) (each thread of a block at
 * least a load): the step's O P blocks of 1024 threads fill the SMs about once (one such block an
 * SM), reading the rows at about the GPU's bandwidth instead of O SMs' rate. Past sms / 2 rows P
 * would be 1: one block a row, which is sample_row, and O blocks already keep most SMs reading; so
 * the split is for steps of up to sms / 2 rows (`rows`: batch-1 and small-batch decode), and its
 * scratch is at most sms pairs (O P <= sms) and a counter for each of up to `rows` rows. Rows that
 * draw keep sample_row (one block, the others of their row return at once). */
enum { SAMPLE_THREADS = 1024 }; /* SAMPLE_NT of cuda_sample.cuh */
typedef struct {
    int64_t rows; /* the most rows a split step has (0: no split: a vocabulary of up to 1024 ids) */
    int64_t sms;  /* the target's typical multiprocessors */
    int64_t most; /* the most blocks a row */
} SampleSplit;

static SampleSplit sample_split(const LlmcEmit *e)
{
    const LlmcGraph *g = e->g;
    int64_t V = llmc_cols(&g->t[g->logits].shape);
    SampleSplit s = {0, e->target->typical_sms ? e->target->typical_sms : 100, (V + SAMPLE_THREADS - 1) / SAMPLE_THREADS};
    if (s.most >= 2)
        s.rows = s.sms / 2 < g->max_outputs ? s.sms / 2 : g->max_outputs;
    return s;
}

/* Scratch past the planned arena, for work one node does in several kernels: region A holds a
 * matmul's input normalized (f32, split-K path) or converted to bf16/f16 (wide path), or attention
 * partials (of decode steps; with --batch-invariant of every step, as the counters); region B a split-K matmul's partial sums; region C the decode attention's counters
 * (an int per token and block row; the arena is zeroed at start and every kernel leaves them 0);
 * region A also holds a moe node's routing and grouped rows;
 * and then gemm_q's (an int per row tile and block of weight rows, for up to 64 rows) and gemm_ws's
 * (an int a tile; region B its partials);
 * region D the f16 copy of the largest quantized matrix that wide steps dequantize (cuda_matmul.c);
 * region S the sampler's split: sms (value, id) pairs, then a counter a row (left 0; sample_split).
 * A sharded graph's all_gather takes region A for the ranks' blocks (cuda_collective.c), an in-place
 * select_rows the gathered rows (cuda_rows.c). */
static void plan_scratch(LlmcEmit *e)
{
    const LlmcGraph *g = e->g;
    int64_t rows = g->max_tokens > g->max_outputs ? g->max_tokens : g->max_outputs, a = 0, b = 0, c = 0, dq = 0, qc = 0;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        if (n->op == LLMC_OP_MATMUL_FUSED) {
            const LlmcShape *w = &g->t[n->in[1]].shape;
            if (llmc_attr(n, "norm") && 64 * w->dim[1] * 4 > a) /* f32, split-K steps (<= 64 rows) */
                a = 64 * w->dim[1] * 4;
        }
        if (n->op == LLMC_OP_MATMUL_FUSED || n->op == LLMC_OP_MATMUL) { /* split-K partials */
            const LlmcShape *w = &g->t[n->in[1]].shape;
            if (llmc_format_n_sides(g->t[n->in[1]].dtype) > 0 && w->dim[0] * w->dim[1] * 2 > dq)
                dq = w->dim[0] * w->dim[1] * 2;
            int64_t p = 64 * w->dim[0] * llmc_cuda_split_k(e->target, w->dim[0], w->dim[1]) * 4;
            LlmcWideTile wt = llmc_cuda_wide_tile(e->target, w->dim[0], w->dim[1], rows);
            LlmcWideTile wg = llmc_cuda_wg_tile(e->target, w->dim[0], w->dim[1], rows);
            int64_t split = wt.split > wg.split ? wt.split : wg.split;
            if (e->wgmma_tma) { /* gemm_wt's K split (--wgmma tma) */
                LlmcWideTile tt = llmc_cuda_wt_tile(e->target, w->dim[0], w->dim[1], rows);
                split = tt.split > split ? tt.split : split;
            }
            int64_t q = rows * w->dim[0] * split * 4, h = rows * w->dim[1] * 2; /* half A operand */
            for (int mi = 1; mi <= 4; mi *= 2) { /* gemm_q: partials and a counter a tile (up to 64 rows) */
                LlmcQmmaPlan qp = llmc_cuda_qmma_plan(e->target, &g->t[n->in[1]], 0, mi, e->qmma_units);
                if (qp.ok) {
                    int64_t qb = qp.blocks * qp.part_floats * 4 * (64 / (16 * mi)), tiles = w->dim[0] / qp.tpb;
                    b = qb > b ? qb : b;
                    qc = tiles * (64 / (16 * mi)) * 4 > qc ? tiles * (64 / (16 * mi)) * 4 : qc;
                }
            }
            /* gemm_ws's partials (two tiles a block) and a counter a tile (--decode-wgmma on) */
            for (int v = 0; v < LLMC_WS_VARIANTS && e->decode_wgmma; v++) {
                LlmcWsPlan sp = llmc_cuda_ws_plan(e->target, &g->t[n->in[1]], (int)llmc_attr_int(n, "swiglu", 0) != 0, v,
                                                  e->qmma_units);
                if (sp.ok) {
                    b = sp.blocks * sp.part_floats * 4 > b ? sp.blocks * sp.part_floats * 4 : b;
                    qc = sp.tiles * 4 > qc ? sp.tiles * 4 : qc;
                }
            }
            /* gemm_wq's K-split partials, up to 128 rows (llmc_cuda_wq_plan), where it takes the matrix */
            for (int v = 0; v < LLMC_WQ_VARIANTS && llmc_cuda_wq_rows(e, &g->t[n->in[1]]); v++) {
                LlmcWqPlan wp = llmc_cuda_wq_plan(e->target, &g->t[n->in[1]], v);
                int64_t wb = wp.ok && wp.split > 1 ? (int64_t)wp.nt * w->dim[0] * wp.split * 4 : 0;
                b = wb > b ? wb : b;
            }
            a = h > a ? h : a;
            b = p > b ? p : b;
            b = q > b ? q : b;
        } else if (n->op == LLMC_OP_ALL_GATHER || n->op == LLMC_OP_ALL_REDUCE) { /* the ranks' blocks as NCCL
                                                                                      gathers them */
            int64_t m = llmc_cuda_gather_scratch(g, i);
            a = m > a ? m : a;
        } else if (n->op == LLMC_OP_SELECT_ROWS && llmc_rows_in_place(g, i)) { /* the rows it gathers (cuda_rows.c) */
            int64_t m = g->max_outputs * llmc_cols(&g->t[n->in[0]].shape) * 4;
            a = m > a ? m : a;
        } else if (n->op == LLMC_OP_MOE) { /* routing, grouped rows and their outputs (cuda_moe.c) */
            int64_t m = llmc_cuda_moe_scratch(g, i);
            a = m > a ? m : a;
        } else if (n->op == LLMC_OP_PAGED_ATTENTION) {
            int nz = llmc_cuda_attention_parts(e);
            int64_t hq = llmc_cols(&g->t[n->in[0]].shape) / g->kv_head_dim;
            /* decode steps only (up to LLMC_ATTN_SPLIT_ROWS tokens); a batch-invariant build's every step */
            int64_t at = e->binv && rows > LLMC_ATTN_SPLIT_ROWS ? rows : LLMC_ATTN_SPLIT_ROWS;
            int64_t p = at * hq * nz * (g->kv_head_dim + 2) * 4;
            a = p > a ? p : a;
            c = at * hq * 4 > c ? at * hq * 4 : c;
        }
    }
    e->scratch_a = (g->arena_bytes + 63) / 64 * 64;
    e->scratch_b = e->scratch_a + (a + 63) / 64 * 64;
    e->scratch_c = e->scratch_b + (b + 63) / 64 * 64;
    e->scratch_qc = e->scratch_c + (c + 63) / 64 * 64;
    e->scratch_d = e->scratch_qc + (qc + 63) / 64 * 64;
    e->scratch_s = e->scratch_d + (dq + 63) / 64 * 64;
    SampleSplit sp = g->logits >= 0 ? sample_split(e) : (SampleSplit){0, 0, 0};
    int64_t sb = sp.rows > 0 ? (2 * sp.sms + sp.rows) * 4 : 0;
    e->arena_extra = e->scratch_s + (sb + 63) / 64 * 64 - g->arena_bytes;
}

/* After the last node: the token of every logits row (the argmax, or a draw with the step's sampler
 * and uniforms), so that generation reads back 4 bytes a row instead of the row (llmc_engine_step
 * with out_ids; runtime/gpu.c). */
static int emit_sample(LlmcEmit *e)
{
    const LlmcGraph *g = e->g;
    int64_t V = llmc_cols(&g->t[g->logits].shape), S = llmc_row_stride(g, g->logits);
    SampleSplit sp = sample_split(e);
    LlmcBuf k = {0}, gy = {0};
    llmc_buf_printf(&k,
                    "/* token of every row: f32[O,%lld] -> i32[O], the argmax or a draw (a.sample)",
                    (long long)V);
    if (sp.rows > 0) {
        int64_t pv = e->scratch_s, pi = pv + 4 * sp.sms, cnt = pi + 4 * sp.sms;
        llmc_buf_printf(&k,
                        "; a greedy row over gridDim.y blocks\n * (steps of up to %lld rows: up to %lld (value, id) pairs at "
                        "scratch %lld and %lld, a counter a row at %lld) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(%d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    (void)o;\n    sample_rows<%lld, %lld>(a.logits, a.out_ids, a.sample, A(%lld), (int *)A(%lld), "
                        "(int *)A(%lld));\n}\n",
                        (long long)sp.rows, (long long)sp.sms, (long long)pv, (long long)pi, (long long)cnt,
                        SAMPLE_THREADS, (long long)V, (long long)S, (long long)pv, (long long)pi, (long long)cnt);
        /* P = min(most, sms / O) blocks a row up to `rows` rows, else 1 (sample_split; the launch's
         * condition keeps O > 0) */
        llmc_buf_printf(&gy, "(O > %lld ? 1 : %lld / O < %lld ? %lld / O : %lld)", (long long)sp.rows,
                        (long long)sp.sms, (long long)sp.most, (long long)sp.sms, (long long)sp.most);
    } else {
        llmc_buf_printf(&k,
                        " */\n"
                        "extern \"C\" __global__ void __launch_bounds__(%d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    (void)o;\n    sample_rows<%lld, %lld>(a.logits, a.out_ids, a.sample, nullptr, nullptr, nullptr);\n}\n",
                        SAMPLE_THREADS, (long long)V, (long long)S);
        llmc_buf_printf(&gy, "1");
    }
    if (!k.s || !gy.s) {
        llmc_buf_free(&k);
        llmc_buf_free(&gy);
        return -1;
    }
    llmc_cuda_node_begin(e);
    const char *name = llmc_cuda_kernel(e, "sample", k.s, 0);
    llmc_buf_free(&k);
    llmc_buf_printf(&e->body, "    /* the token of every output row: argmax or a draw%s */\n",
                    sp.rows > 0 ? "; a greedy row of a step of few rows over several blocks" : "");
    llmc_cuda_launch(e, -1, "O", name, "O", gy.s, "1", SAMPLE_THREADS, 0);
    llmc_buf_free(&gy);
    return 0;
}

struct LlmcCudaGen {
    LlmcEmit e;
    char *source;                 /* the CUDA C source */
    LlmcNvrtcHeaders headers;     /* the kernel headers it includes */
};

static LlmcStatus generate(const LlmcGraph *g, const LlmcTarget *tg, int wgmma, int nv_path, int amd_path,
                           const LlmcGpuGenOpts *o, LlmcCudaGen **out, LlmcDiag *d);

LlmcStatus llmc_cuda_generate(const LlmcGraph *g, const LlmcTarget *tg, int wgmma, LlmcCudaGen **out, LlmcDiag *d)
{
    const LlmcGpuGenOpts o = {.qmma = LLMC_QMMA_PLAIN, .wgmma = LLMC_WGMMA_CP};
    return generate(g, tg, wgmma, !tg->amd_path, tg->amd_path, &o, out, d);
}

LlmcStatus llmc_gpu_generate(const LlmcGraph *g, const LlmcTarget *const *targets, int n_targets,
                             const LlmcGpuGenOpts *o, LlmcCudaGen **out, LlmcDiag *d)
{
    /* the kernels are tuned for the first target of the NVIDIA path if the build has one (its tensor
     * cores' tiles), else for the first target */
    const LlmcTarget *tune = targets[0];
    int wgmma = 0, nv = 0, amd = 0;
    for (int i = n_targets - 1; i >= 0; i--) {
        wgmma |= targets[i]->has_wgmma;
        amd |= targets[i]->amd_path;
        if (!targets[i]->amd_path) {
            nv = 1;
            tune = targets[i];
        }
    }
    return generate(g, tune, wgmma, nv, amd, o, out, d);
}

static LlmcStatus generate(const LlmcGraph *g, const LlmcTarget *tg, int wgmma, int nv_path, int amd_path,
                           const LlmcGpuGenOpts *o, LlmcCudaGen **out, LlmcDiag *d)
{
    LlmcCudaGen *cg = calloc(1, sizeof *cg);
    if (!cg)
        return llmc_fail(d, "out of memory");
    LlmcEmit *e = &cg->e;
    e->g = g;
    e->target = tg;
    e->wgmma = wgmma;
    e->nv_path = nv_path;
    e->amd_path = amd_path;
    e->qmma_wg = o->qmma == LLMC_QMMA_WG && wgmma;
    e->qmma_auto = o->qmma == LLMC_QMMA_AUTO && wgmma && !o->batch_invariant;
    e->binv = o->batch_invariant;
    e->qmma_units = o->qmma_units;
    e->attn_parts = o->attn_parts;
    e->wgmma_tma = o->wgmma != LLMC_WGMMA_CP && wgmma && nv_path && !o->batch_invariant; /* auto: tma */
    e->decode_wgmma = o->decode_wgmma && wgmma && nv_path && !o->batch_invariant;
    e->kv[0] = g->kv_format[0];
    e->kv[1] = g->kv_format[1];
    e->kv_scales_at = -1;
    plan_scratch(e);
    for (int i = 0; i < g->nn; i++) {
        LlmcOp op = g->n[i].op;
        if (llmc_op_info[op].flags & OPF_VIEW)
            continue;
        if (!cuda_emitters[op]) {
            llmc_cuda_free(cg);
            return llmc_fail(d, "internal error: target %s has no emitter for op %s (node %d)", tg->name,
                             llmc_op_info[op].name, i);
        }
        if (cuda_emitters[op](e, i, d)) {
            llmc_cuda_free(cg);
            return LLMC_ERR;
        }
    }
    if (g->logits >= 0 && emit_sample(e)) {
        llmc_cuda_free(cg);
        return llmc_fail(d, "out of memory");
    }
    LlmcBuf src = {0};
    llmc_buf_printf(&src, "/* Generated by llmc %s from ", LLMC_VERSION);
    llmc_buf_comment(&src, g->source ? g->source : "?");
    llmc_buf_printf(&src, ": model ");
    llmc_buf_comment(&src, g->name);
    llmc_buf_printf(&src,
                    ", CUDA C for NVRTC%s.\n"
                    " * Every shape, stride and offset is a constant; do not edit: regenerate with llmc compile.\n"
                    " * The kernel headers are the .cuh files of llmc's codegen/ (written beside this file by --emit-dir). */\n\n",
                    amd_path ? (nv_path ? " and HIP for clang" : " or HIP for clang (AMD path)") : "");
    cg->headers = llmc_cuda_header_table();
    /* formats.def is an X-macro table format_ids.h includes; gpu_port.cuh includes its AMD section
     * and the device math itself */
    for (int i = 0; i < cg->headers.n; i++)
        if (!strstr(cg->headers.names[i], ".def") && strcmp(cg->headers.names[i], "gpu_port_amd.cuh") != 0 &&
            strcmp(cg->headers.names[i], "gpu_math.h") != 0 &&
            (e->wgmma_tma || e->decode_wgmma || strcmp(cg->headers.names[i], "cuda_wgmma_tma.cuh") != 0)) { /* gemm_wt's
                                                                and gemm_ws's: --wgmma auto or tma, --decode-wgmma on */
            if (strcmp(cg->headers.names[i], "cuda_wgmma_tma.cuh") == 0) /* as bench/kernel_check.cu builds it */
                llmc_buf_printf(&src, "/* gemm_wt: an mbarrier wait that fails 2^26 tries traps, so that a "
                                      "protocol bug ends the step with an error instead of hanging the GPU */\n"
                                      "#define LLMC_WT_SPIN_LIMIT (1 << 26)\n");
            llmc_buf_printf(&src, "#include \"%s\"\n", cg->headers.names[i]);
        }
    llmc_buf_printf(&src, "\n/* ---- kernels ---- */\n\n%s", e->defs.s ? e->defs.s : "");
    cg->source = src.s;
    *out = cg;
    return LLMC_OK;
}

const char *llmc_cuda_source(const LlmcCudaGen *cg) { return cg->source; }

/* A launch condition evaluated for one step: a recursive descent over the C the emitters write
 * (cuda_common.h llmc_cuda_launch); err set on anything else. */
typedef struct {
    const char *p;
    int64_t T, O, wg, amd, S, same_rows;
    int err;
} CondEval;

static int64_t cond_or(CondEval *c);

static void cond_space(CondEval *c)
{
    while (*c->p == ' ')
        c->p++;
}

static int cond_take(CondEval *c, const char *tok)
{
    cond_space(c);
    size_t n = strlen(tok);
    if (strncmp(c->p, tok, n) != 0)
        return 0;
    if (n == 1 && (tok[0] == '<' || tok[0] == '>' || tok[0] == '!') && c->p[1] == '=') /* not "<=", ... */
        return 0;
    c->p += n;
    return 1;
}

static int64_t cond_primary(CondEval *c)
{
    cond_space(c);
    if (cond_take(c, "!"))
        return !cond_primary(c);
    if (cond_take(c, "(")) {
        int64_t v = cond_or(c);
        if (!cond_take(c, ")"))
            c->err = 1;
        return v;
    }
    if (*c->p >= '0' && *c->p <= '9') {
        int64_t v = 0;
        while (*c->p >= '0' && *c->p <= '9')
            v = v * 10 + (*c->p++ - '0');
        while (*c->p == 'L' || *c->p == 'l' || *c->p == 'u' || *c->p == 'U')
            c->p++;
        return v;
    }
    static const char *const names[] = {"amd", "wg", "T", "O", "S", "same_rows"}; /* vals below: the same order */
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(names[i]);
        char after = c->p[n];
        if (strncmp(c->p, names[i], n) == 0 && !(after == '_' || (after >= 'a' && after <= 'z') ||
                                                 (after >= 'A' && after <= 'Z') || (after >= '0' && after <= '9'))) {
            c->p += n;
            const int64_t vals[] = {c->amd, c->wg, c->T, c->O, c->S, c->same_rows};
            return vals[i];
        }
    }
    c->err = 1;
    return 0;
}

static int64_t cond_mul(CondEval *c)
{
    int64_t v = cond_primary(c);
    for (;;) {
        if (cond_take(c, "*"))
            v *= cond_primary(c);
        else if (cond_take(c, "/")) {
            int64_t r = cond_primary(c);
            if (r == 0)
                c->err = 1;
            v = r ? v / r : 0;
        } else
            return v;
    }
}

static int64_t cond_add(CondEval *c)
{
    int64_t v = cond_mul(c);
    for (;;) {
        if (cond_take(c, "+"))
            v += cond_mul(c);
        else if (cond_take(c, "-"))
            v -= cond_mul(c);
        else
            return v;
    }
}

static int64_t cond_rel(CondEval *c)
{
    int64_t v = cond_add(c);
    if (cond_take(c, "<="))
        return v <= cond_add(c);
    if (cond_take(c, ">="))
        return v >= cond_add(c);
    if (cond_take(c, "=="))
        return v == cond_add(c);
    if (cond_take(c, "!="))
        return v != cond_add(c);
    if (cond_take(c, "<"))
        return v < cond_add(c);
    if (cond_take(c, ">"))
        return v > cond_add(c);
    return v;
}

static int64_t cond_and(CondEval *c)
{
    int64_t v = cond_rel(c);
    while (cond_take(c, "&&")) {
        int64_t r = cond_rel(c);
        v = v && r;
    }
    return v;
}

static int64_t cond_or(CondEval *c)
{
    int64_t v = cond_and(c);
    while (cond_take(c, "||")) {
        int64_t r = cond_and(c);
        v = v || r;
    }
    return v;
}

char *llmc_cuda_row_path(const LlmcCudaGen *cg, int64_t rows, int wg, int amd, LlmcDiag *d)
{
    const LlmcEmit *e = &cg->e;
    const LlmcGraph *g = e->g;
    LlmcBuf out = {0};
    llmc_buf_add(&out, "", 0);
    for (int i = 0; i < e->n_launches; i++) {
        const LlmcLaunchRec *l = &e->launches[i];
        if (l->cond) {
            /* a step of `rows` tokens, one a run, each wanting its logits up to max_outputs (rows 0..O-1:
             * same_rows when all do) */
            int64_t o = rows < g->max_outputs ? rows : g->max_outputs;
            CondEval c = {l->cond, rows, o, wg, amd, rows, o == rows, 0};
            int64_t v = cond_or(&c);
            cond_space(&c);
            if (c.err || *c.p) {
                llmc_buf_free(&out);
                llmc_fail(d, "internal error: launch %d: condition \"%s\" not understood", i, l->cond);
                return NULL;
            }
            if (!v)
                continue;
        }
        const LlmcKernelDef *k = &e->kernels[l->kernel];
        const char *m = k->row_math ? k->row_math : k->name;
        char where[160]; /* "\tnode N op (kernel)\n" */
        int wn;
        if (l->node >= 0)
            wn = snprintf(where, sizeof where, "\tnode %d %s (%s)\n", l->node, llmc_op_info[g->n[l->node].op].name,
                          k->name);
        else
            wn = snprintf(where, sizeof where, "\tafter the graph (%s)\n", k->name);
        if (wn < 0 || wn >= (int)sizeof where)
            wn = (int)strlen(where);
        for (;;) { /* a line a piece: "MATH\tnode N op (kernel)" */
            const char *semi = strchr(m, ';');
            size_t n = semi ? (size_t)(semi - m) : strlen(m);
            llmc_buf_add(&out, m, n);
            llmc_buf_add(&out, where, (size_t)wn);
            if (!semi)
                break;
            m = semi + 1;
        }
    }
    if (!out.s)
        abort();
    return out.s;
}

const LlmcNvrtcHeaders *llmc_cuda_headers(const LlmcCudaGen *cg) { return &cg->headers; }

int llmc_cuda_kernel_count(const LlmcCudaGen *cg) { return cg->e.n_kernels; }

const char *llmc_cuda_kernel_name(const LlmcCudaGen *cg, int i) { return cg->e.kernels[i].name; }

const char *llmc_cuda_kernel_text(const LlmcCudaGen *cg, int i) { return cg->e.kernels[i].text; }

uint32_t llmc_cuda_kernel_amd_lds(const LlmcCudaGen *cg, int i)
{
    return cg->e.kernels[i].nv_only ? 0 : cg->e.kernels[i].smem;
}

void llmc_cuda_free(LlmcCudaGen *cg)
{
    if (!cg)
        return;
    LlmcEmit *e = &cg->e;
    llmc_buf_free(&e->defs);
    llmc_buf_free(&e->body);
    llmc_buf_free(&e->init);
    for (int i = 0; i < e->n_kernels; i++) {
        free(e->kernels[i].text);
        free(e->kernels[i].name);
        free(e->kernels[i].row_math);
    }
    free(e->kernels);
    for (int i = 0; i < e->n_launches; i++)
        free(e->launches[i].cond);
    free(e->launches);
    for (int i = 0; i < e->n_tmaps; i++)
        free(e->tmaps[i].name);
    free(e->tmaps);
    for (int i = 0; i < e->n_rope; i++)
        free(e->rope_keys[i]);
    free(e->rope_keys);
    free(e->rope_tables);
    free(cg->source);
    free(cg);
}

int64_t llmc_cuda_kv_block_bytes(const LlmcGraph *g)
{
    return llmc_graph_kv_block_bytes(g, g->kv_format[0], g->kv_format[1]);
}

/* llmc_cubin_<suffix>: the target's name with what is not alphanumeric as '_' ("amd-on-sm_90" ->
 * amd_on_sm_90): distinct for distinct targets of a build. */
static void image_symbol(const LlmcTarget *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s", t->name);
    for (char *p = buf; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
}

LlmcStatus llmc_cuda_host_c(const LlmcGraph *g, const LlmcCudaGen *cg, const LlmcCudaImage *images, int n_images,
                            const LlmcBuildInfo *info, char **host_c, LlmcDiag *d)
{
    (void)d;
    const LlmcEmit *e = &cg->e;
    LlmcBuf out = {0};
    llmc_buf_printf(&out, "/* Generated by llmc %s from ", LLMC_VERSION);
    llmc_buf_comment(&out, g->source ? g->source : "?");
    llmc_buf_printf(&out, ": model ");
    llmc_buf_comment(&out, g->name);
    llmc_buf_printf(&out, ", host side of a GPU build.\n * Do not edit: regenerate with llmc compile. */\n");
    llmc_buf_printf(&out, "\n/* ---- llmc_model.h ---- */\n%s\n/* ---- c_prelude.h (host tables) ---- */\n",
                    (const char *)llmc_model_header);
    llmc_emit_c_prelude(&out);
    llmc_buf_printf(&out, "\n");
    llmc_buf_printf(&out, "_Static_assert(sizeof(LlmcDevArgs) == 120, \"LlmcDevArgs layout differs from the CUDA prelude\");\n\n");
    /* Cubins, pulled in by the assembler. The cubin's path (in the build directory: --emit-dir or
     * $TMPDIR) is an assembler string inside a C string literal, escaped for both. */
    for (int i = 0; i < n_images; i++) {
        char arch[64]; /* the symbol's suffix: the target's name as an identifier */
        image_symbol(images[i].target, arch, sizeof arch);
        LlmcBuf as = {0};
        llmc_buf_printf(&as, ".section .rodata\n.balign 64\n.global llmc_cubin_%s\nllmc_cubin_%s:\n.incbin \"", arch, arch);
        for (const unsigned char *p = (const unsigned char *)images[i].path; *p; p++) {
            int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                        strchr("/._-+", *p);
            if (plain)
                llmc_buf_printf(&as, "%c", *p);
            else
                llmc_buf_printf(&as, "\\%03o", *p);
        }
        llmc_buf_printf(&as, "\"\n.previous\n");
        llmc_buf_printf(&out, "__asm__(");
        llmc_buf_cstr(&out, as.s);
        llmc_buf_printf(&out, ");\nextern const unsigned char llmc_cubin_%s[];\n", arch);
        llmc_buf_free(&as);
    }
    llmc_buf_printf(&out, "\nstatic const LlmcGpuImage images[] = {\n");
    for (int i = 0; i < n_images; i++) {
        const LlmcTarget *t = images[i].target;
        char sym[64];
        image_symbol(t, sym, sizeof sym);
        llmc_buf_printf(&out, "    {%s, %d, %d, \"%s\", llmc_cubin_%s, %zuu, %s,\n     {",
                        t->backend == LLMC_TGT_HIP ? "LLMC_GPU_VENDOR_AMD" : "LLMC_GPU_VENDOR_NVIDIA", t->sm,
                        t->arch_specific, t->arch, sym, images[i].size,
                        t->amd_path                ? "LLMC_GPU_FEAT_AMD_PATH"
                        : t->has_wgmma && e->wgmma ? "LLMC_GPU_FEAT_WGMMA"
                                                   : "0u");
        for (int k = 0; k < 16; k++)
            llmc_buf_printf(&out, "0x%02x%s", images[i].digest[k], k < 15 ? ", " : "}},\n");
    }
    llmc_buf_printf(&out, "};\n\nstatic const char *const kernels[] = {\n");
    for (int i = 0; i < e->n_kernels; i++)
        llmc_buf_printf(&out, "    \"%s\",\n", e->kernels[i].name);
    llmc_buf_printf(&out, "};\n\nstatic const uint32_t kernel_smem[] = {\n");
    for (int i = 0; i < e->n_kernels; i++)
        llmc_buf_printf(&out, "    %u,\n", e->kernels[i].smem);
    llmc_buf_printf(&out, "};\n\n/* LLMC_GPU_KERNEL_PDL: waits (pdl_wait) before touching its predecessor's data */\n%s"
                          "static const uint8_t kernel_flags[] = {\n",
                    e->nv_path && e->amd_path ? "/* LLMC_GPU_KERNEL_NV_ONLY: the NVIDIA path's alone (its smem not asked for from AMD-path images) */\n" : "");
    for (int i = 0; i < e->n_kernels; i++)
        llmc_buf_printf(&out, "    %u,\n", e->kernels[i].flags);
    llmc_buf_printf(&out, "};\n\n");
    if (e->n_tmaps) { /* gemm_wt's TMA maps (--wgmma tma), encoded by the runtime at load */
        llmc_buf_printf(&out, "/* the TMA maps gemm_wt reads, encoded at load into consts at .at */\n"
                              "static const LlmcGpuTmap tmaps[] = {\n");
        for (int i = 0; i < e->n_tmaps; i++) {
            const LlmcTmapRec *m = &e->tmaps[i];
            llmc_buf_printf(&out, "    {");
            llmc_buf_cstr(&out, m->name);
            llmc_buf_printf(&out, ", %s, %s, %lld, %lld, %lld, %lld, %d, %d, %lld},\n",
                            m->arena ? "LLMC_TMAP_ARENA" : "LLMC_TMAP_WEIGHTS", m->bf ? "LLMC_TMAP_BF16" : "LLMC_TMAP_F16",
                            (long long)m->offset, (long long)m->rows, (long long)m->cols, (long long)m->row_bytes,
                            m->box_rows, m->box_cols, (long long)m->at);
        }
        llmc_buf_printf(&out, "};\n\n");
    }
    llmc_buf_printf(&out, "static void init(const LlmcExec *ex)\n{\n    (void)ex;\n%s}\n\n", e->init.s ? e->init.s : "");
    int in_place = 0;
    for (int i = 0; i < g->nn; i++)
        in_place |= llmc_rows_in_place(g, i);
    llmc_buf_printf(&out,
                    "static void forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)\n{\n"
                    "    LlmcGpu *gpu = ex->gpu;\n"
                    "    const uint32_t T = (uint32_t)st->n_tokens, O = (uint32_t)st->n_out, S = (uint32_t)st->n_seqs;\n"
                    "    (void)tid;\n    (void)nth;\n    (void)O;\n    (void)S;\n%s%s%s%s%s%s}\n\n",
                    /* a launch chosen by the contents of out_rows is replayed right by a CUDA graph:
                     * the runtime captures and replays only steps whose rows are 0..T-1 (gpu.h) */
                    in_place ? "    /* the step's O rows are its T rows in order (every decode step, every CUDA graph's):\n"
                               "     * select_rows in place has nothing to copy (cuda_rows.c) */\n"
                               "    int same_rows = O == T;\n"
                               "    for (uint32_t i = 0; same_rows && i < O; i++)\n"
                               "        same_rows = st->out_rows[i] == (int32_t)i;\n"
                             : "",
                    e->wgmma ? "    /* the image has wgmma: its variants replace the mma.sync ones */\n"
                               "    const int wg = (llmc_gpu_features(gpu) & LLMC_GPU_FEAT_WGMMA) != 0;\n"
                             : "",
                    e->nv_path && e->amd_path ? "    /* the image's kernels take the AMD path (gemm_mx, ...) */\n"
                                                "    const int amd = (llmc_gpu_features(gpu) & LLMC_GPU_FEAT_AMD_PATH) != 0;\n"
                                              : "",
                    /* batch-invariant: every image runs the same kernels (no variant by features) */
                    e->binv && e->wgmma ? "    (void)wg;\n" : "",
                    e->binv && e->nv_path && e->amd_path ? "    (void)amd;\n" : "",
                    e->body.s ? e->body.s : "");
    llmc_emit_probes(g, &out);
    llmc_buf_printf(&out, "extern const LlmcModelDesc llmc_model_cpu_twin;\n\n");
    llmc_emit_desc_fields(&out, g, info, "llmc_model", info->target_names, g->kv_format, e->const_bytes,
                          g->arena_bytes + e->arena_extra, 1);
    llmc_buf_printf(&out,
                    "    .backend = LLMC_BACKEND_CUDA,\n    .gpu_images = images,\n    .n_gpu_images = %d,\n"
                    "    .gpu_kernels = kernels,\n    .gpu_kernel_smem = kernel_smem,\n    .gpu_kernel_flags = kernel_flags,\n"
                    "    .n_gpu_kernels = %d,\n",
                    n_images, e->n_kernels);
    if (e->n_tmaps)
        llmc_buf_printf(&out, "    .gpu_tmaps = tmaps,\n    .n_gpu_tmaps = %d,\n", e->n_tmaps);
    llmc_buf_printf(&out, "    .cpu_twin = &llmc_model_cpu_twin,\n};\n");
    *host_c = out.s;
    return LLMC_OK;
}
