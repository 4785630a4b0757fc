/* backend.c — what every backend shares: the table from a target's backend kind to the instance
 * (targets are data: the target names its backend, this table holds one entry a backend), the start
 * of a build (its identity, its directory) and the files a backend writes into that directory.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../abi/llmc_model.h"
#include "backend.h"

static const LlmcBackend *const backends[] = {
    [LLMC_TGT_C] = &llmc_backend_c,
    [LLMC_TGT_CUDA] = &llmc_backend_cuda,
    [LLMC_TGT_HIP] = &llmc_backend_cuda, /* one GPU backend: NVIDIA and AMD images of one source */
};

const LlmcBackend *llmc_backend_for(const LlmcTarget *t)
{
    if ((size_t)t->backend >= sizeof backends / sizeof backends[0])
        return NULL;
    return backends[t->backend];
}

/* The line --version prints: the weight and KV formats, the step's sizes, the tokenizer. */
static void info_line(LlmcCodegen *cg, const LlmcGraph *g)
{
    /* The matrices' formats, each once: "u4 g128 + bf16", "fp8 g64 zero", "f32". */
    char wfmt[160] = "";
    char seen[16][40];
    int n_seen = 0;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        int w = n->op == LLMC_OP_MATMUL ? n->in[1] : n->op == LLMC_OP_EMBEDDING ? n->in[0] : -1;
        if (w < 0)
            continue;
        const LlmcTensor *t = &g->t[w];
        char f[40];
        if (t->layout.group)
            snprintf(f, sizeof f, "%s g%d%s", llmc_dtype_name(t->dtype), t->layout.group,
                     llmc_layout_role(&t->layout, t->dtype, LLMC_ROLE_ZERO) >= 0 ? " zero" : "");
        else
            snprintf(f, sizeof f, "%s", llmc_dtype_name(t->dtype));
        int k = 0;
        while (k < n_seen && strcmp(seen[k], f) != 0)
            k++;
        if (k < n_seen || n_seen == 16)
            continue;
        snprintf(seen[n_seen++], sizeof seen[0], "%s", f);
        snprintf(wfmt + strlen(wfmt), sizeof wfmt - strlen(wfmt), "%s%s", wfmt[0] ? " + " : "", f);
    }
    char kvf[64], ranks[64] = "";
    if (g->tp > 1)
        snprintf(ranks, sizeof ranks, ", sharded over %d ranks (--tp %d; the KV bytes a rank's)", (int)g->tp, (int)g->tp);
    int fp8 = llmc_kv_has_layer_scale(g->kv_format[0]) || llmc_kv_has_layer_scale(g->kv_format[1]);
    snprintf(cg->info_line, sizeof cg->info_line,
             "weights %s, KV cache %s%s in blocks of %d (%lld bytes a position), context %d, %d tokens and %d logit "
             "rows per step, %s%s", wfmt,
             llmc_kv_formats_str(g->kv_format, kvf, sizeof kvf),
             !fp8 ? "" : g->kv_calibrated ? " (scales calibrated)" : " (scales 1, saturating)", g->kv_block_size,
             (long long)(llmc_graph_kv_block_bytes(g, g->kv_format[0], g->kv_format[1]) / g->kv_block_size),
             g->max_seq_len, g->max_tokens,
             g->max_outputs,
             !g->tok_file                    ? "no tokenizer"
             : g->tok_kind == LLMC_TOK_LLAMA2C ? "llama2.c tokenizer"
             : g->tok_kind == LLMC_TOK_HF      ? "tokenizer.json tokenizer"
                                               : "SentencePiece tokenizer",
             ranks);
    if (cg->opt.batch_invariant)
        snprintf(cg->info_line + strlen(cg->info_line), sizeof cg->info_line - strlen(cg->info_line), "%s",
                 cg->backend == &llmc_backend_cuda
                     ? ", batch-invariant (--batch-invariant: a row's arithmetic is the same at every row count)"
                     : ", batch-invariant (--batch-invariant: the cpu target's rows always are)");
    if (cg->opt.attn_parts && cg->backend == &llmc_backend_cuda)
        snprintf(cg->info_line + strlen(cg->info_line), sizeof cg->info_line - strlen(cg->info_line),
                 ", decode attention in at most %d part%s (--attn-parts %d)", cg->opt.attn_parts,
                 cg->opt.attn_parts > 1 ? "s" : "", cg->opt.attn_parts);
    /* gemm_ws, gemm_wt and gemm_wq need an image with wgmma (gemm_ws and gemm_wt tensor cores too: no
     * batch-invariant build) */
    int wg = 0;
    for (int i = 0; i < LLMC_MAX_TARGETS && cg->targets[i]; i++)
        wg |= cg->targets[i]->has_wgmma;
    if (cg->opt.decode_wgmma && cg->backend == &llmc_backend_cuda)
        snprintf(cg->info_line + strlen(cg->info_line), sizeof cg->info_line - strlen(cg->info_line), "%s",
                 !wg ? ", --decode-wgmma without effect (no sm_90a image: gemm_ws needs wgmma)"
                 : cg->opt.batch_invariant ? ", --decode-wgmma without effect (--batch-invariant runs no tensor-core matmul)"
                                           : ", bf16/f16 matrices at 9-64 rows by gemm_ws on sm_90a (--decode-wgmma on)");
    if (cg->opt.qmma_units && cg->backend == &llmc_backend_cuda)
        snprintf(cg->info_line + strlen(cg->info_line), sizeof cg->info_line - strlen(cg->info_line),
                 ", %s with at least %d unit%s of work a block (--qmma-units %d)",
                 cg->opt.decode_wgmma ? "gemm_q and gemm_ws" : "gemm_q", cg->opt.qmma_units,
                 cg->opt.qmma_units > 1 ? "s" : "", cg->opt.qmma_units);
    if (cg->opt.wgmma != LLMC_WGMMA_AUTO && cg->backend == &llmc_backend_cuda)
        snprintf(cg->info_line + strlen(cg->info_line), sizeof cg->info_line - strlen(cg->info_line), "%s",
                 !wg ? ", --wgmma without effect (no sm_90a image: gemm_wg and gemm_wt need wgmma)"
                 : cg->opt.batch_invariant ? ", --wgmma without effect (--batch-invariant runs no tensor-core matmul)"
                 : cg->opt.wgmma == LLMC_WGMMA_TMA ? ", wide steps by gemm_wt on sm_90a (--wgmma tma)"
                                                   : ", wide steps by gemm_wg on sm_90a (--wgmma cp)");
    if (cg->opt.qmma == LLMC_QMMA_WG && cg->backend == &llmc_backend_cuda)
        snprintf(cg->info_line + strlen(cg->info_line), sizeof cg->info_line - strlen(cg->info_line), "%s",
                 wg ? ", quantized matrices above 8 rows by gemm_wq on sm_90a (--qmma wg)"
                    : ", --qmma wg without effect (no sm_90a image: gemm_wq needs wgmma)");
}

static LlmcStatus make_dir(LlmcCodegen *cg, const char *emit_dir, LlmcDiag *d)
{
    if (!emit_dir) {
        /* $TMPDIR (else /tmp)/llmc-build-PID-: the driver removes it when a signal stops this process. */
        const char *tmp = llmc_tmp_dir();
        snprintf(cg->dir, sizeof cg->dir, "%s/llmc-build-%ld-XXXXXX", tmp, (long)getpid());
        if (!mkdtemp(cg->dir))
            return llmc_fail(d, "cannot create a build directory in %s: %s", tmp, strerror(errno));
        cg->temporary_dir = 1;
        return LLMC_OK;
    }
    snprintf(cg->dir, sizeof cg->dir, "%s", emit_dir);
    if (mkdir(cg->dir, 0755) != 0 && errno != EEXIST)
        return llmc_fail(d, "--emit-dir %s: cannot create: %s", cg->dir, strerror(errno));
    return LLMC_OK;
}

LlmcStatus llmc_codegen_open(LlmcCodegen *cg, const LlmcTarget *const *targets, const LlmcGraph *g,
                             const LlmcWeightSource *ws, const void *tok, size_t tok_size,
                             const LlmcCodegenOptions *o, LlmcDiag *d)
{
    memset(cg, 0, sizeof *cg);
    const LlmcBackend *be = llmc_backend_for(targets[0]);
    if (!be)
        return llmc_fail(d, "target %s: its backend is not available in this build of llmc", targets[0]->name);
    /* A sharded graph: the C backend runs its ranks as threads, the CUDA backend a GPU a rank
     * through NCCL; AMD's collectives (RCCL) are not loaded by the runtime (docs/tp.md). */
    for (int i = 0; g->tp > 1 && targets[i]; i++)
        if (!be->runs_ranks || targets[i]->backend == LLMC_TGT_HIP)
            return llmc_fail(d, "--tp %d: the %s target does not run sharded graphs yet (the cpu target and the "
                             "NVIDIA targets do)", (int)g->tp, targets[i]->name);
    int n = 0;
    for (; targets[n]; n++) {
        if (llmc_backend_for(targets[n]) != be)
            return llmc_fail(d, "--target: %s and %s have different backends: a build has one", targets[0]->name,
                             targets[n]->name);
        if (n == be->max_targets)
            return llmc_fail(d, "--target: the %s backend builds at most %d target%s together", be->name,
                             be->max_targets, be->max_targets == 1 ? "" : "s");
        cg->targets[n] = targets[n];
        snprintf(cg->target_names + strlen(cg->target_names), sizeof cg->target_names - strlen(cg->target_names),
                 "%s%s", n ? "," : "", targets[n]->name);
    }
    cg->backend = be;
    cg->n_targets = n;
    cg->opt = *o;
    uint64_t hash;
    if (llmc_model_hash(g, targets[0], ws, tok, tok_size, &hash, d))
        return LLMC_ERR;
    info_line(cg, g);
    cg->info = (LlmcBuildInfo){cg->info_line, hash, g->weights_bytes < (INT64_C(8) << 20) ? 1 : 0, NULL,
                               cg->target_names};
    if (make_dir(cg, o->emit_dir, d))
        return LLMC_ERR;
    cg->state = calloc(1, be->state_size ? be->state_size : 1);
    if (!cg->state) {
        llmc_codegen_close(cg);
        return llmc_fail(d, "out of memory");
    }
    return LLMC_OK;
}

LlmcStatus llmc_codegen_write(LlmcCodegen *cg, const char *name, const void *data, size_t n, LlmcDiag *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", cg->dir, name);
    return llmc_write_file_atomic(path, data, n, d);
}

LlmcStatus llmc_codegen_write_c(LlmcCodegen *cg, const char *name, const char *text, LlmcDiag *d)
{
    assert(cg->n_c_files < LLMC_MAX_C_FILES);
    char file[256];
    snprintf(file, sizeof file, "%s.c", name);
    if (llmc_codegen_write(cg, file, text, strlen(text), d))
        return LLMC_ERR;
    cg->c_files[cg->n_c_files++] = name;
    return LLMC_OK;
}

void llmc_codegen_close(LlmcCodegen *cg)
{
    if (cg->state && cg->backend->release)
        cg->backend->release(cg);
    free(cg->state);
    cg->state = NULL;
    if (cg->temporary_dir)
        llmc_remove_tree(cg->dir);   /* everything in it is the build's (mkdtemp made it) */
    cg->temporary_dir = 0;
}
