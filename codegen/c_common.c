/* c_common.c — how the C backend writes a node: its kernel (deduplicated by text) and the call in
 * the forward function, preceded by a comment naming the IR node. Every C kernel has the signature
 *     static void kN_op(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, operands...)
 */
#include "c_common.h"

#include <stdarg.h>
#include <string.h>

void llmc_c_call(LlmcEmit *e, int node, const char *kernel, int nargs, ...)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    char sb[96];
    llmc_buf_printf(&e->body, "    /* node %d: ", node);
    for (int j = 0; j < n->n_out; j++)
        llmc_buf_printf(&e->body, "%s%%%s", j ? ", " : "", g->t[n->out[j]].name);
    llmc_buf_printf(&e->body, "%s%s(", n->n_out ? " = " : "", llmc_op_info[n->op].name);
    for (int j = 0; j < n->n_in; j++) {
        const LlmcTensor *t = &g->t[n->in[j]];
        llmc_buf_printf(&e->body, "%s%s%s", j ? ", " : "", t->kind == LLMC_T_WEIGHT ? "@" : "%", t->name);
    }
    llmc_buf_printf(&e->body, ")");
    if (n->n_out)
        llmc_buf_printf(&e->body, " : %s", llmc_shape_str(&g->t[n->out[0]].shape, sb, sizeof sb));
    llmc_buf_printf(&e->body, " */\n    %s(ex, st, tid, nth", kernel);
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs; i++)
        llmc_buf_printf(&e->body, ", %s", va_arg(ap, const char *));
    va_end(ap);
    llmc_buf_printf(&e->body, ");\n    llmc_barrier(ex->pool);\n    if (st->n_nodes == %d)\n        return;\n", node + 1);
}

const char *llmc_c_rows(const LlmcGraph *g, int t)
{
    return g->t[t].shape.sym[0] == LLMC_DIM_O ? "st->n_out" : "st->n_tokens";
}

const char *llmc_c_wsuffix(LlmcDType dt)
{
    return dt == LLMC_BF16 ? "bf16" : dt == LLMC_F16 ? "f16" : "f32";
}
