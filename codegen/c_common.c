/* c_common.c — how the C backend writes a node: its kernel (deduplicated by text) and the call in
 * the forward function, preceded by a comment naming the IR node. Every C kernel has the signature
 *     static void kN_op(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, operands...)
 */
#include "c_common.h"

#include <stdarg.h>
#include <string.h>

void llmc_c_call(LlmcEmit *e, int node, const char *kernel, int rows_of, int nargs, ...)
{
    const LlmcGraph *g = e->g;
    llmc_emit_node_comment(e, node, "");
    llmc_buf_printf(&e->body, "    %s(ex, st, tid, nth", kernel);
    if (rows_of >= 0)
        llmc_buf_printf(&e->body, ", %s", g->t[rows_of].shape.sym[0] == LLMC_DIM_O ? "st->n_out" : "st->n_tokens");
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs; i++)
        llmc_buf_printf(&e->body, ", %s", va_arg(ap, const char *));
    va_end(ap);
    llmc_buf_printf(&e->body, ");\n    llmc_barrier(ex->pool);\n    if (st->n_nodes == %d)\n        return;\n", node + 1);
}

const char *llmc_c_wsuffix(LlmcDType dt)
{
    return llmc_dtype_name(dt);
}
