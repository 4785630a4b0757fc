/* infer_shapes — gives every value its shape and dtype by the op rules (ir/shape.c), checks the
 * output, and fixes the step limits.
 *
 * requires: a graph fresh from the frontend (values without shapes)
 * provides: shapes and dtypes of all values; slices as views of their inputs; g->vocab_size; g->max_tokens/max_outputs/kv_block_size
 * errors:   user errors in model.json, naming the op's JSON path
 */
#include "passes.h"

LlmcStatus pass_infer_shapes(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    char sb[96];
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        LlmcShape shapes[LLMC_MAX_OUT];
        LlmcDType dts[LLMC_MAX_OUT];
        if (llmc_infer_node(g, n, shapes, dts, d))
            return LLMC_ERR;
        for (int j = 0; j < n->n_out; j++) {
            g->t[n->out[j]].shape = shapes[j];
            g->t[n->out[j]].dtype = dts[j];
        }
        if (n->op == LLMC_OP_SLICE) { /* model.json's slices are views of their input */
            g->t[n->out[0]].view_of = n->in[0];
            g->t[n->out[0]].view_col = llmc_attr_int(n, "start", 0);
        }
    }
    if (g->logits < 0)
        return llmc_fail(d, "%s: the graph has no output \"logits\"", g->source ? g->source : "model");
    const LlmcTensor *lg = &g->t[g->logits];
    if (lg->shape.rank != 2 || lg->shape.sym[0] != LLMC_DIM_T || lg->dtype != LLMC_F32)
        return llmc_fail(d, "%s: \"logits\" must be f32[T, vocab], found %s%s", g->source ? g->source : "model",
                         llmc_dtype_name(lg->dtype), llmc_shape_str(&lg->shape, sb, sizeof sb));
    if (lg->shape.dim[1] > INT32_MAX)
        return llmc_fail(d, "%s: vocabulary of %lld is too large", g->source, (long long)lg->shape.dim[1]);
    g->vocab_size = (int32_t)lg->shape.dim[1];
    if (g->bos_id >= g->vocab_size || g->eos_id >= g->vocab_size)
        return llmc_fail(d, "%s: config.bos_id/eos_id (%d/%d): expected ids below the vocabulary size %d",
                         g->source, g->bos_id, g->eos_id, g->vocab_size);
    for (int i = 0; i < g->n_eos_more; i++)
        if (g->eos_more[i] >= g->vocab_size)
            return llmc_fail(d, "%s: config.eos_id[%d] (%d): expected an id below the vocabulary size %d",
                             g->source, i + 1, g->eos_more[i], g->vocab_size);
    if (opt->max_seq_len > 0)
        g->max_seq_len = opt->max_seq_len;
    g->max_tokens = opt->max_tokens;
    g->max_outputs = opt->max_outputs;
    g->kv_block_size = opt->kv_block_size;
    return LLMC_OK;
}
