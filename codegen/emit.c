/* emit.c — text buffers, kernel deduplication and operand expressions shared by the emitters. */
#include "emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* room for need more characters and the terminator */
static void buf_reserve(LlmcBuf *b, size_t need)
{
    if (b->n + need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + need + 1 > cap)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            fprintf(stderr, "llmc: out of memory\n");
            abort();
        }
        b->s = s;
        b->cap = cap;
    }
}

void llmc_buf_add(LlmcBuf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void llmc_buf_printf(LlmcBuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    buf_reserve(b, (size_t)need);
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

void llmc_buf_free(LlmcBuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

const char *llmc_kernel_code(const char *text)
{
    const char *end = strncmp(text, "/*", 2) == 0 ? strstr(text, "*/") : NULL;
    return end ? end + 2 : text;
}

const char *llmc_emit_kernel(LlmcEmit *e, const char *prefix, const char *text)
{
    /* one kernel for one definition: two nodes whose kernels differ only in the comment (its
     * shapes' row symbol, T or O) share the first's, and NVRTC or cc compiles it once */
    const char *code = llmc_kernel_code(text);
    for (int i = 0; i < e->n_kernels; i++)
        if (strcmp(llmc_kernel_code(e->kernels[i].text), code) == 0)
            return e->kernels[i].name;
    if (e->n_kernels == e->cap_kernels) {
        e->cap_kernels = e->cap_kernels ? e->cap_kernels * 2 : 32;
        e->kernels = realloc(e->kernels, (size_t)e->cap_kernels * sizeof *e->kernels);
        if (!e->kernels)
            abort();
    }
    LlmcKernelDef *k = &e->kernels[e->n_kernels];
    char name[128];
    snprintf(name, sizeof name, "k%d_%s", e->n_kernels, prefix);
    k->text = llmc_strdup(text);
    k->name = llmc_strdup(name);
    k->smem = 0;
    k->flags = 0;
    k->nv_only = 0;
    k->row_math = NULL;
    e->n_kernels++;
    llmc_emit_named(&e->defs, text, name);
    return k->name;
}

void llmc_emit_named(LlmcBuf *b, const char *text, const char *name)
{
    for (const char *s = text; *s;) {
        const char *at = strstr(s, "@NAME@");
        if (!at) {
            llmc_buf_printf(b, "%s", s);
            break;
        }
        llmc_buf_printf(b, "%.*s%s", (int)(at - s), s, name);
        s = at + 6;
    }
    llmc_buf_printf(b, "\n");
}

int llmc_emit_kernel_index(const LlmcEmit *e, const char *name)
{
    for (int i = 0; i < e->n_kernels; i++)
        if (strcmp(e->kernels[i].name, name) == 0)
            return i;
    return -1;
}

const char *llmc_emit_ptr(LlmcEmit *e, int t, const char *ctype)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    size_t n = sizeof e->ptr_ring[0];
    const LlmcGraph *g = e->g;
    const LlmcTensor *tt = &g->t[t];
    if (t == g->logits)
        snprintf(buf, n, "st->logits");
    else if (t == g->in_tokens)
        snprintf(buf, n, "st->tokens");
    else if (t == g->in_positions)
        snprintf(buf, n, "st->positions");
    else if (t == g->in_slots)
        snprintf(buf, n, "st->slots");
    else if (t == g->in_out_rows)
        snprintf(buf, n, "st->out_rows");
    else if (tt->kind == LLMC_T_WEIGHT)
        snprintf(buf, n, "(%s *)(W + %lld)", ctype, (long long)tt->offset);
    else
        snprintf(buf, n, "(%s *)(A + %lld)", ctype, (long long)tt->offset);
    return buf;
}

int64_t llmc_row_stride(const LlmcGraph *g, int t)
{
    while (g->t[t].view_of >= 0)
        t = g->t[t].view_of;
    return llmc_cols(&g->t[t].shape);
}

const char *llmc_c_wtype(LlmcDType dt)
{
    return llmc_format(dt)->ctype;
}

LlmcDType llmc_c_kv_format(const LlmcGraph *g, const LlmcTarget *tg, int which)
{
    return (tg->kv_formats & (1u << g->kv_format[which])) ? g->kv_format[which] : tg->kv_default;
}

int64_t llmc_emit_kv_scales(LlmcEmit *e)
{
    const LlmcGraph *g = e->g;
    if (e->kv_scales_at >= 0)
        return e->kv_scales_at;
    int64_t n = (int64_t)g->kv_layers * 2 * g->kv_heads;
    e->kv_scales_at = e->const_bytes;
    e->const_bytes += (n * 4 + 63) / 64 * 64;
    llmc_buf_printf(&e->init, "    { /* the KV cache's scales per layer and KV head (K, then V), %s */\n"
                              "        static const float ks[%lld] = {",
                    g->kv_calibrated ? "calibrated (--kv-calib)" : "1: saturating", (long long)n);
    for (int64_t i = 0; i < n; i++)
        llmc_buf_printf(&e->init, "%s%s", i ? ", " : "", llmc_c_float(e, g->kv_scales ? g->kv_scales[i] : 1.0f));
    llmc_buf_printf(&e->init, "};\n        memcpy(ex->consts + %lld, ks, sizeof ks);\n    }\n", (long long)e->kv_scales_at);
    return e->kv_scales_at;
}

const char *llmc_c_float(LlmcEmit *e, double v)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    size_t n = sizeof e->ptr_ring[0];
    snprintf(buf, n, "%.9g", v);
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", n - strlen(buf) - 1);
    strncat(buf, "f", n - strlen(buf) - 1);
    return buf;
}

void llmc_buf_cstr(LlmcBuf *b, const char *s)
{
    llmc_buf_printf(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c == '?')
            llmc_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            llmc_buf_printf(b, "\\n");
        else if (c < 32 || c >= 127)
            llmc_buf_printf(b, "\\%03o", c);
        else
            llmc_buf_printf(b, "%c", c);
    }
    llmc_buf_printf(b, "\"");
}

void llmc_buf_comment(LlmcBuf *b, const char *s)
{
    char buf[LLMC_COMMENT_MAX + 4];
    size_t n = 0;
    for (; s && *s && n < LLMC_COMMENT_MAX; s++) {
        unsigned char c = (unsigned char)*s;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                   c == '.' || c == '+' || c == '/' || c == '-';
        buf[n++] = keep ? (char)c : '_';
    }
    buf[n] = 0;
    llmc_buf_printf(b, "%s%s", buf, s && *s ? "..." : "");
}

void llmc_emit_node_comment(LlmcEmit *e, int node, const char *suffix)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    char sb[96];
    llmc_buf_printf(&e->body, "    /* node %d: ", node);
    for (int j = 0; j < n->n_out; j++) {
        llmc_buf_printf(&e->body, "%s%%", j ? ", " : "");
        llmc_buf_comment(&e->body, g->t[n->out[j]].name);
    }
    llmc_buf_printf(&e->body, "%s%s(", n->n_out ? " = " : "", llmc_op_info[n->op].name);
    for (int j = 0; j < n->n_in; j++) {
        const LlmcTensor *t = &g->t[n->in[j]];
        llmc_buf_printf(&e->body, "%s%s", j ? ", " : "", t->kind == LLMC_T_WEIGHT ? "@" : "%");
        llmc_buf_comment(&e->body, t->name);
    }
    llmc_buf_printf(&e->body, ")");
    if (n->n_out)
        llmc_buf_printf(&e->body, " : %s", llmc_shape_str(&g->t[n->out[0]].shape, sb, sizeof sb));
    llmc_buf_printf(&e->body, "%s */\n", suffix);
}
