/* ir.c — graph construction, attributes, edits and the stable text dump.
 *
 * Memory: the graph owns an arena (a list of chunks) for strings and small objects, plus the
 * tensor and node tables; llmc_graph_free releases all of it at once.
 */
#include "ir.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kv_formats.h"

const LlmcOpInfo llmc_op_info[LLMC_OP_COUNT] = {
#define X(id, name, min_in, max_in, n_out, flags, attrs) {name, min_in, max_in, n_out, flags, attrs},
#include "ops.def"
#undef X
};

int llmc_op_from_name(const char *name, LlmcOp *op)
{
    for (int i = 0; i < LLMC_OP_COUNT; i++)
        if (strcmp(llmc_op_info[i].name, name) == 0) {
            *op = (LlmcOp)i;
            return 0;
        }
    return -1;
}

struct LlmcArenaChunk {
    LlmcArenaChunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

static void *xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n);
    if (!r) {
        fprintf(stderr, "llmc: out of memory (%zu bytes)\n", n);
        abort();
    }
    return r;
}

LlmcGraph *llmc_graph_new(void)
{
    LlmcGraph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->in_tokens = g->in_positions = g->in_out_rows = g->in_slots = g->logits = -1;
    g->bos_id = g->eos_id = -1;
    g->kv_format[0] = g->kv_format[1] = LLMC_F32;
    g->kv_layout[0] = g->kv_layout[1] = llmc_layout_plain();
    g->kv_default = 1;
    return g;
}

void llmc_graph_free(LlmcGraph *g)
{
    if (!g)
        return;
    for (LlmcArenaChunk *c = g->arena, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(g->t);
    free(g->n);
    free(g);
}

void *llmc_galloc(LlmcGraph *g, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    LlmcArenaChunk *c = g->arena;
    if (!c || c->used + n > c->cap) {
        size_t cap = n > 65536 ? n : 65536;
        c = xrealloc(NULL, sizeof *c + cap);
        c->next = g->arena;
        c->used = 0;
        c->cap = cap;
        g->arena = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

const char *llmc_gstr(LlmcGraph *g, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *r = llmc_galloc(g, n);
    memcpy(r, s, n);
    return r;
}

const char *llmc_gprintf(LlmcGraph *g, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return llmc_gstr(g, buf);
}

int llmc_tensor_new(LlmcGraph *g, const char *name, LlmcTensorKind kind, LlmcDType dtype,
                    const LlmcShape *shape)
{
    if (g->nt == g->cap_t) {
        g->cap_t = g->cap_t ? g->cap_t * 2 : 256;
        g->t = xrealloc(g->t, (size_t)g->cap_t * sizeof *g->t);
    }
    LlmcTensor *t = &g->t[g->nt];
    memset(t, 0, sizeof *t);
    t->name = llmc_gstr(g, name);
    t->kind = kind;
    t->dtype = dtype;
    if (shape)
        t->shape = *shape;
    t->layout = llmc_layout_plain();
    t->producer = -1;
    t->view_of = -1;
    t->offset = -1;
    return g->nt++;
}

int llmc_rows_in_place(const LlmcGraph *g, int node)
{
    const LlmcNode *n = &g->n[node];
    if (n->op != LLMC_OP_SELECT_ROWS || n->out[0] == g->logits)
        return 0;
    /* a planner puts an output apart from its node's inputs but for this one case */
    const LlmcTensor *x = &g->t[n->in[0]], *y = &g->t[n->out[0]];
    return x->offset >= 0 && y->offset == x->offset;
}

int64_t llmc_tensor_bytes(const LlmcGraph *g, int t)
{
    const LlmcTensor *tt = &g->t[t];
    /* Scales and zero points are tensors of their own; no order defined yet pads. */
    return llmc_format_bytes(tt->dtype, llmc_shape_numel(&tt->shape, g->max_tokens, g->max_outputs));
}

int64_t llmc_graph_kv_block_bytes(const LlmcGraph *g, LlmcDType kf, LlmcDType vf)
{
    return kv_block_bytes((int)kf, (int)vf, g->kv_layers, g->kv_block_size, g->kv_heads, g->kv_head_dim);
}

int llmc_kv_has_layer_scale(LlmcDType f)
{
    for (int i = 0; i < llmc_format_n_sides(f); i++)
        if (llmc_format(f)->side[i].shape == LLMC_SHAPE_LAYER_HEAD)
            return 1;
    return 0;
}

const char *llmc_kv_formats_str(const LlmcDType fmt[2], char *buf, size_t n)
{
    if (fmt[0] == fmt[1])
        snprintf(buf, n, "%s", llmc_dtype_name(fmt[0]));
    else
        snprintf(buf, n, "%s,%s", llmc_dtype_name(fmt[0]), llmc_dtype_name(fmt[1]));
    return buf;
}

LlmcNode llmc_node_make(LlmcOp op, int n_in, const int *in, int n_out, const int *out)
{
    LlmcNode n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.n_in = n_in;
    n.n_out = n_out;
    for (int i = 0; i < n_in; i++)
        n.in[i] = in[i];
    for (int i = 0; i < n_out; i++)
        n.out[i] = out[i];
    n.layer = -1;
    return n;
}

int llmc_node_add(LlmcGraph *g, const LlmcNode *n)
{
    if (g->nn == g->cap_n) {
        g->cap_n = g->cap_n ? g->cap_n * 2 : 256;
        g->n = xrealloc(g->n, (size_t)g->cap_n * sizeof *g->n);
    }
    g->n[g->nn] = *n;
    for (int i = 0; i < n->n_out; i++)
        g->t[n->out[i]].producer = g->nn;
    return g->nn++;
}

static LlmcAttr *attr_slot(LlmcNode *n, const char *key)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attr[i].key, key) == 0)
            return &n->attr[i];
    assert(n->n_attr < LLMC_MAX_ATTR);
    LlmcAttr *a = &n->attr[n->n_attr++];
    memset(a, 0, sizeof *a);
    return a;
}

void llmc_attr_set_int(LlmcGraph *g, LlmcNode *n, const char *key, int64_t v)
{
    LlmcAttr *a = attr_slot(n, key);
    a->key = llmc_gstr(g, key);
    a->kind = LLMC_ATTR_INT;
    a->i = v;
    a->f = (double)v;
}

void llmc_attr_set_float(LlmcGraph *g, LlmcNode *n, const char *key, double v)
{
    LlmcAttr *a = attr_slot(n, key);
    a->key = llmc_gstr(g, key);
    a->kind = LLMC_ATTR_FLOAT;
    a->f = v;
    a->i = v > -9e18 && v < 9e18 ? (int64_t)v : 0; /* NaN and out-of-range values have no integer form */
}

void llmc_attr_set_str(LlmcGraph *g, LlmcNode *n, const char *key, const char *v)
{
    LlmcAttr *a = attr_slot(n, key);
    a->key = llmc_gstr(g, key);
    a->kind = LLMC_ATTR_STR;
    a->s = llmc_gstr(g, v);
}

void llmc_attr_set_floats(LlmcGraph *g, LlmcNode *n, const char *key, const double *v, int64_t count)
{
    LlmcAttr *a = attr_slot(n, key);
    a->key = llmc_gstr(g, key);
    a->kind = LLMC_ATTR_FLOATS;
    double *copy = llmc_galloc(g, sizeof(double) * (size_t)(count + 1));
    memcpy(copy, v, sizeof(double) * (size_t)count);
    a->v = copy;
    a->i = count;
    a->f = 0;
}

void llmc_attr_copy(LlmcGraph *g, LlmcNode *n, const LlmcAttr *a)
{
    if (a->kind == LLMC_ATTR_STR)
        llmc_attr_set_str(g, n, a->key, a->s);
    else if (a->kind == LLMC_ATTR_INT)
        llmc_attr_set_int(g, n, a->key, a->i);
    else if (a->kind == LLMC_ATTR_FLOAT)
        llmc_attr_set_float(g, n, a->key, a->f);
    else
        llmc_attr_set_floats(g, n, a->key, a->v, a->i);
}

const double *llmc_attr_floats(const LlmcNode *n, const char *key, int64_t *count)
{
    const LlmcAttr *a = llmc_attr(n, key);
    *count = a && a->kind == LLMC_ATTR_FLOATS ? a->i : 0;
    return a && a->kind == LLMC_ATTR_FLOATS ? a->v : NULL;
}

const LlmcAttr *llmc_attr(const LlmcNode *n, const char *key)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attr[i].key, key) == 0)
            return &n->attr[i];
    return NULL;
}

int64_t llmc_attr_int(const LlmcNode *n, const char *key, int64_t dflt)
{
    const LlmcAttr *a = llmc_attr(n, key);
    return a && (a->kind == LLMC_ATTR_INT || a->kind == LLMC_ATTR_FLOAT) ? a->i : dflt;
}

double llmc_attr_float(const LlmcNode *n, const char *key, double dflt)
{
    const LlmcAttr *a = llmc_attr(n, key);
    return a && (a->kind == LLMC_ATTR_INT || a->kind == LLMC_ATTR_FLOAT) ? a->f : dflt;
}

const char *llmc_attr_str(const LlmcNode *n, const char *key, const char *dflt)
{
    const LlmcAttr *a = llmc_attr(n, key);
    return a && a->kind == LLMC_ATTR_STR ? a->s : dflt;
}

static void set_dim(LlmcShape *s, int i, int64_t v)
{
    if (v == LLMC_T)
        s->sym[i] = LLMC_DIM_T;
    else if (v == LLMC_O)
        s->sym[i] = LLMC_DIM_O;
    else
        s->dim[i] = v;
}

LlmcShape llmc_shape1(int64_t a)
{
    LlmcShape s;
    memset(&s, 0, sizeof s);
    s.rank = 1;
    set_dim(&s, 0, a);
    return s;
}

LlmcShape llmc_shape2(int64_t a, int64_t b)
{
    LlmcShape s;
    memset(&s, 0, sizeof s);
    s.rank = 2;
    set_dim(&s, 0, a);
    set_dim(&s, 1, b);
    return s;
}

int llmc_shape_eq(const LlmcShape *a, const LlmcShape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->sym[i] != b->sym[i] || (a->sym[i] == LLMC_DIM_CONST && a->dim[i] != b->dim[i]))
            return 0;
    return 1;
}

int64_t llmc_shape_numel(const LlmcShape *s, int64_t t, int64_t o)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->sym[i] == LLMC_DIM_T ? t : s->sym[i] == LLMC_DIM_O ? o : s->dim[i];
    return n;
}

const char *llmc_shape_str(const LlmcShape *s, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s->rank && k < n; i++) {
        const char *sep = i ? "," : "";
        if (s->sym[i] == LLMC_DIM_T)
            k += (size_t)snprintf(buf + k, n - k, "%sT", sep);
        else if (s->sym[i] == LLMC_DIM_O)
            k += (size_t)snprintf(buf + k, n - k, "%sO", sep);
        else
            k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)s->dim[i]);
    }
    if (k < n)
        snprintf(buf + k, n - k, "]");
    return buf;
}

void llmc_graph_reindex(LlmcGraph *g)
{
    for (int i = 0; i < g->nt; i++)
        g->t[i].producer = -1;
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_out; j++)
            g->t[g->n[i].out[j]].producer = i;
}

int llmc_tensor_uses(const LlmcGraph *g, int t)
{
    int uses = 0;
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++)
            uses += g->n[i].in[j] == t;
    if (t == g->logits)
        uses++;
    return uses;
}

void llmc_replace_uses(LlmcGraph *g, int from, int to, int start)
{
    for (int i = start; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++)
            if (g->n[i].in[j] == from)
                g->n[i].in[j] = to;
    if (g->logits == from)
        g->logits = to;
}

void llmc_graph_compact(LlmcGraph *g, const uint8_t *keep)
{
    int k = 0;
    for (int i = 0; i < g->nn; i++)
        if (keep[i])
            g->n[k++] = g->n[i];
    g->nn = k;
    llmc_graph_reindex(g);
}

/* ---- shards (tensor parallelism) ---- */

const char *llmc_shard_name(int shard)
{
    static const char *const names[] = {"none", "rows", "cols"};
    return shard >= 0 && shard <= LLMC_SHARD_COLS ? names[shard] : "?";
}

LlmcShardView llmc_shard_view(const LlmcGraph *g, const LlmcTensor *t, int rank)
{
    int64_t rep = t->src.shard_rep > 1 ? t->src.shard_rep : 1, n = (g->tp > 1 ? g->tp : 1) / rep;
    rank = (int)(rank / rep);
    LlmcShardView v = {t->shape.dim[0], t->shape.rank > 1 ? t->shape.dim[1] : 1, 0, 0, 0, 0};
    v.nr = v.rows;
    v.nc = v.cols;
    if (t->src.shard == LLMC_SHARD_ROWS) {
        v.rows *= n;
        v.r0 = (int64_t)rank * v.nr;
    } else if (t->src.shard == LLMC_SHARD_COLS) {
        v.cols *= n;
        v.c0 = (int64_t)rank * v.nc;
    }
    return v;
}

LlmcTensor llmc_shard_whole(const LlmcGraph *g, const LlmcTensor *t)
{
    LlmcShardView v = llmc_shard_view(g, t, 0);
    LlmcTensor w = *t;
    w.shape.dim[0] = v.rows;
    if (w.shape.rank > 1)
        w.shape.dim[1] = v.cols;
    w.src.shard = LLMC_SHARD_NONE;
    return w;
}

void llmc_shard_extract(const LlmcShardView *v, const float *whole, float *part)
{
    for (int64_t r = 0; r < v->nr; r++)
        memcpy(part + r * v->nc, whole + (v->r0 + r) * v->cols + v->c0, (size_t)v->nc * sizeof(float));
}

/* ---- text dump ---- */

static void dump_attr(FILE *f, const LlmcAttr *a)
{
    switch (a->kind) {
    case LLMC_ATTR_INT:
        fprintf(f, " %s=%lld", a->key, (long long)a->i);
        break;
    case LLMC_ATTR_FLOAT:
        fprintf(f, " %s=%.9g", a->key, a->f);
        break;
    case LLMC_ATTR_STR:
        fprintf(f, " %s=%s", a->key, a->s);
        break;
    case LLMC_ATTR_FLOATS:
        fprintf(f, " %s=[", a->key);
        for (int64_t i = 0; i < a->i; i++)
            fprintf(f, "%s%.9g", i ? "," : "", a->v[i]);
        fprintf(f, "]");
        break;
    }
}

static const char *sigil(const LlmcTensor *t)
{
    return t->kind == LLMC_T_WEIGHT ? "@" : "%";
}

const char *llmc_pq_name(int kind)
{
    static const char *const names[LLMC_PQ_COUNT] = {"none", "awq", "gptq", "gptq_v2", "modelopt_nvfp4"};
    return kind >= 0 && kind < LLMC_PQ_COUNT ? names[kind] : "?";
}

int llmc_pq_tensor_member(int kind) { return kind == LLMC_PQ_NVFP4 ? 2 : -1; }

const char *llmc_order_name(int order)
{
    static const char *const names[LLMC_ORDER_COUNT] = {
#define O(id, name) [LLMC_ORDER_##id] = name,
#include "formats.def"
    };
    return (unsigned)order < LLMC_ORDER_COUNT ? names[order] : "?";
}

int64_t llmc_order_tile(LlmcDType fmt)
{
    const LlmcFormatTraits *f = llmc_format(fmt);
    return 8 * 16 * (int64_t)f->block_elems / f->block_bytes;
}

int64_t llmc_order_index(int order, LlmcDType fmt, int64_t k)
{
    if (order != LLMC_ORDER_LANE8)
        return k;
    int64_t T = llmc_order_tile(fmt), E = T / 8, kk = k % T, c = kk / 32, q = kk % 32 / 4, e = kk % 4;
    return k - kk + q * E + c * 4 + e;
}

/* A layout's fields that differ from plain (nothing for a plain one, so plain dumps read as before);
 * its side tensors by their role in format fmt. */
static void dump_layout(FILE *f, const LlmcGraph *g, LlmcDType fmt, const LlmcLayout *l)
{
    if (l->group)
        fprintf(f, " group=%d", (int)l->group);
    int n_sides = (unsigned)fmt < LLMC_DTYPE_COUNT ? llmc_format_n_sides(fmt) : 0;
    for (int i = 0; i < LLMC_MAX_SIDES; i++) {
        int s = l->side[i];
        if (s < 0)
            continue;
        if (i < n_sides)
            fprintf(f, " %s=", llmc_role_name(llmc_format(fmt)->side[i].role));
        else
            fprintf(f, " side%d=", i);
        fprintf(f, "%s%s", s < g->nt ? sigil(&g->t[s]) : "?", s < g->nt ? g->t[s].name : "?");
    }
    if (l->order > LLMC_ORDER_ROW_MAJOR && l->order < LLMC_ORDER_COUNT)
        fprintf(f, " order=%s", llmc_order_name(l->order));
    else if (l->order != LLMC_ORDER_ROW_MAJOR)
        fprintf(f, " order=%d", l->order);
}

void llmc_graph_dump(const LlmcGraph *g, FILE *f)
{
    char sb[128];
    fprintf(f, "graph \"%s\" max_tokens=%d max_outputs=%d max_seq_len=%d kv_block_size=%d",
            g->name ? g->name : "", g->max_tokens, g->max_outputs, g->max_seq_len, g->kv_block_size);
    if (!g->kv_default)
        fprintf(f, " kv=%s", llmc_kv_formats_str(g->kv_format, sb, sizeof sb));
    if (g->kv_calibrated)
        fprintf(f, " kv_scales=calibrated");
    if (g->tp > 1)
        fprintf(f, " tp=%d", (int)g->tp);
    dump_layout(f, g, g->kv_format[0], &g->kv_layout[0]);
    dump_layout(f, g, g->kv_format[1], &g->kv_layout[1]);
    fprintf(f, "\n");
    for (int i = 0; i < g->nt; i++) {
        const LlmcTensor *t = &g->t[i];
        if (t->kind != LLMC_T_INPUT)
            continue;
        fprintf(f, "input %%%s: %s%s", t->name, llmc_dtype_name(t->dtype), llmc_shape_str(&t->shape, sb, sizeof sb));
        dump_layout(f, g, t->dtype, &t->layout);
        fprintf(f, "\n");
    }
    /* Weights in use, in order of first use. */
    uint8_t *seen = calloc((size_t)g->nt + 1, 1);
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++) {
            int ti = g->n[i].in[j];
            const LlmcTensor *t = &g->t[ti];
            if (t->kind != LLMC_T_WEIGHT || (seen && seen[ti]))
                continue;
            if (seen)
                seen[ti] = 1;
            fprintf(f, "weight @%s: %s%s", t->name, llmc_dtype_name(t->dtype),
                    llmc_shape_str(&t->shape, sb, sizeof sb));
            dump_layout(f, g, t->dtype, &t->layout);
            if (t->src.add != 0)
                fprintf(f, " add=%.9g", t->src.add);
            if (t->src.pq.kind != LLMC_PQ_NONE)
                fprintf(f, " imported=%s", llmc_pq_name(t->src.pq.kind));
            if (t->src.perm_group > 0)
                fprintf(f, " act_order");
            if (t->src.shard != LLMC_SHARD_NONE)
                fprintf(f, " shard=%s", llmc_shard_name(t->src.shard));
            if (t->src.shard_rep > 1)
                fprintf(f, " shard_rep=%d", (int)t->src.shard_rep);
            if (t->src.n_parts) {
                fprintf(f, " = concat(");
                for (int p = 0; p < t->src.n_parts; p++) {
                    const LlmcTensor *pt = &g->t[t->src.parts[p]];
                    fprintf(f, "%s@%s", p ? ", " : "", pt->name);
                    if (pt->src.shard != LLMC_SHARD_NONE)
                        fprintf(f, " shard=%s", llmc_shard_name(pt->src.shard));
                    if (pt->src.shard_rep > 1)
                        fprintf(f, " shard_rep=%d", (int)pt->src.shard_rep);
                }
                fprintf(f, ")");
            }
            if (t->offset >= 0)
                fprintf(f, " at %lld", (long long)t->offset);
            fprintf(f, "\n");
        }
    free(seen);
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        if (n->n_out == 0)
            fprintf(f, "  ");
        for (int j = 0; j < n->n_out; j++)
            fprintf(f, "%s%%%s", j ? ", " : "", g->t[n->out[j]].name);
        fprintf(f, "%s%s(", n->n_out ? " = " : "", llmc_op_info[n->op].name);
        for (int j = 0; j < n->n_in; j++) {
            const LlmcTensor *t = &g->t[n->in[j]];
            fprintf(f, "%s%s%s", j ? ", " : "", sigil(t), t->name);
        }
        fprintf(f, ")");
        for (int j = 0; j < n->n_attr; j++)
            dump_attr(f, &n->attr[j]);
        if (n->n_out) {
            fprintf(f, " :");
            for (int j = 0; j < n->n_out; j++) {
                const LlmcTensor *t = &g->t[n->out[j]];
                fprintf(f, " %s%s", llmc_dtype_name(t->dtype), llmc_shape_str(&t->shape, sb, sizeof sb));
                dump_layout(f, g, t->dtype, &t->layout);
                if (t->offset >= 0 && t->view_of < 0)
                    fprintf(f, "@%lld", (long long)t->offset);
            }
        }
        fprintf(f, "\n");
    }
    if (g->logits >= 0)
        fprintf(f, "output %%%s\n", g->t[g->logits].name);
}

char *llmc_graph_dump_str(const LlmcGraph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    llmc_graph_dump(g, f);
    fclose(f);
    return buf;
}
