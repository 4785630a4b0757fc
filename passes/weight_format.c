/* weight_format — chooses the storage format of every weight the graph reads.
 *
 * Matrices (matmul weights, embedding tables) are stored in the format --weights asks for, or the
 * target's default; vectors (norm weights, biases) stay f32. The packer converts from the file's
 * dtype at compile time, so the executable carries exactly the bytes its kernels read. Every format
 * of today is plain (one element at a time, no scales), so every weight's layout is plain too: the
 * grouped formats will set group size, scale tensors and element order here.
 *
 * requires: infer_shapes (and the fusions, which create merged weights)
 * provides: LlmcTensor.dtype of every weight = its storage format; LlmcTensor.layout (plain)
 * errors:   a format the target does not implement
 */
#include <string.h>

#include "passes.h"

LlmcStatus pass_weight_format(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    const LlmcTarget *tg = opt->target;
    LlmcDType fmt = opt->weights_set ? opt->weights : tg->default_weights;
    if (!(tg->weight_formats & (1u << fmt)) || !(llmc_format(fmt)->flags & LLMC_FMT_WEIGHT)) {
        char have[128] = "";
        for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
            if (tg->weight_formats & (1u << i))
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "",
                         llmc_dtype_name((LlmcDType)i));
        return llmc_fail(d, "--weights %s: target %s stores weights as %s", llmc_dtype_name(fmt), tg->name, have);
    }
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        for (int j = 0; j < n->n_in; j++) {
            LlmcTensor *t = &g->t[n->in[j]];
            if (t->kind != LLMC_T_WEIGHT)
                continue;
            int matrix = (n->op == LLMC_OP_MATMUL && j == 1) || (n->op == LLMC_OP_EMBEDDING && j == 0);
            t->dtype = matrix ? fmt : LLMC_F32;
            t->layout = llmc_layout_plain();
        }
    }
    return LLMC_OK;
}
