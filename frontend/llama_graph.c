/* llama_graph.c — the Llama graph builder: the model.json document for a Llama-family config.
 *
 * The importers read a checkpoint's own layout and hand over a list of weight bindings (fe_bind)
 * plus the numbers in an FeLlamaSpec; fe_build_llama turns those into the one model.json graph
 * every Llama checkpoint gets (docs/model-json.md). The op sequence and the weight names are a
 * contract with the fusion passes, which recognise them (q/k/v matmuls reading the same normed
 * input, gate and up matmuls followed by silu and mul), so every importer goes through this single
 * builder.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "llama_graph.h"

int fe_bind(cJSON *weights, const char *name, const char *file, const char *tensor, const char *ckpt, int64_t offset,
            LlmcDType dtype, int rank, const int64_t *shape)
{
    cJSON *b = cJSON_CreateObject();
    cJSON *sh = cJSON_CreateArray();
    if (!b || !sh) {
        cJSON_Delete(b);
        cJSON_Delete(sh);
        return -1;
    }
    int ok = cJSON_AddStringToObject(b, "file", file) != NULL;
    if (tensor)
        ok &= cJSON_AddStringToObject(b, "tensor", tensor) != NULL;
    else
        ok &= cJSON_AddNumberToObject(b, "offset", (double)offset) != NULL;
    if (ckpt)
        ok &= cJSON_AddStringToObject(b, "checkpoint_name", ckpt) != NULL;
    ok &= cJSON_AddStringToObject(b, "dtype", llmc_dtype_name(dtype)) != NULL;
    for (int i = 0; i < rank; i++) {
        cJSON *v = cJSON_CreateNumber((double)shape[i]);
        ok &= v != NULL && cJSON_AddItemToArray(sh, v);
    }
    ok &= cJSON_AddItemToObject(b, "shape", sh);
    if (!ok) {
        cJSON_Delete(b);
        return -1;
    }
    if (!cJSON_AddItemToObject(weights, name, b)) {
        cJSON_Delete(b);
        return -1;
    }
    return 0;
}

typedef struct Builder {
    int oom;
} Builder;

/* {"op": name, "in": [...nin strings], "out": out}, appended to list. Returns the op for attributes
 * (NULL after an allocation failure, which is remembered in bld->oom). */
static cJSON *op(Builder *bld, cJSON *list, const char *name, const char *out, int nin, ...)
{
    cJSON *o = cJSON_CreateObject(), *in = cJSON_CreateArray();
    int ok = o && in && cJSON_AddStringToObject(o, "op", name);
    va_list ap;
    va_start(ap, nin);
    for (int i = 0; i < nin; i++) {
        const char *s = va_arg(ap, const char *);
        cJSON *v = cJSON_CreateString(s);
        ok = ok && v && cJSON_AddItemToArray(in, v);
    }
    va_end(ap);
    ok = ok && cJSON_AddItemToObject(o, "in", in);
    if (!ok)
        cJSON_Delete(in);
    ok = ok && cJSON_AddStringToObject(o, "out", out);
    ok = ok && cJSON_AddItemToArray(list, o);
    if (!ok) {
        cJSON_Delete(o);
        bld->oom = 1;
        return NULL;
    }
    return o;
}

static void num(Builder *bld, cJSON *o, const char *key, double v)
{
    if (!o || !cJSON_AddNumberToObject(o, key, v))
        bld->oom = 1;
}

static void str(Builder *bld, cJSON *o, const char *key, const char *v)
{
    if (!o || !cJSON_AddStringToObject(o, key, v))
        bld->oom = 1;
}

static void rope_attrs(Builder *bld, const FeLlamaSpec *s, cJSON *o)
{
    num(bld, o, "head_dim", (double)s->head_dim);
    num(bld, o, "theta", s->rope_theta);
    str(bld, o, "style", s->rope_style);
    if (s->rope_llama3 && o) {
        cJSON *sc = cJSON_AddObjectToObject(o, "scaling");
        if (!sc) {
            bld->oom = 1;
            return;
        }
        str(bld, sc, "type", "llama3");
        num(bld, sc, "factor", s->rope_factor);
        num(bld, sc, "low_freq_factor", s->rope_low_freq);
        num(bld, sc, "high_freq_factor", s->rope_high_freq);
        num(bld, sc, "original_max_position_embeddings", (double)s->rope_orig_max_pos);
    }
}

static void llama_block(Builder *bld, const FeLlamaSpec *s, cJSON *b)
{
    cJSON *o;
    o = op(bld, b, "rmsnorm", "h", 2, "x", "@layers.{i}.attn_norm");
    num(bld, o, "eps", s->norm_eps);
    if (s->qkv_bias) {
        op(bld, b, "matmul", "q", 3, "h", "@layers.{i}.wq", "@layers.{i}.bq");
        op(bld, b, "matmul", "k", 3, "h", "@layers.{i}.wk", "@layers.{i}.bk");
        op(bld, b, "matmul", "v", 3, "h", "@layers.{i}.wv", "@layers.{i}.bv");
    } else {
        op(bld, b, "matmul", "q", 2, "h", "@layers.{i}.wq");
        op(bld, b, "matmul", "k", 2, "h", "@layers.{i}.wk");
        op(bld, b, "matmul", "v", 2, "h", "@layers.{i}.wv");
    }
    rope_attrs(bld, s, op(bld, b, "rope", "q", 2, "q", "positions"));
    rope_attrs(bld, s, op(bld, b, "rope", "k", 2, "k", "positions"));
    o = op(bld, b, "attention", "a", 3, "q", "k", "v");
    num(bld, o, "head_dim", (double)s->head_dim);
    if (s->window > 0)
        num(bld, o, "window", (double)s->window);
    if (s->o_bias)
        op(bld, b, "matmul", "o", 3, "a", "@layers.{i}.wo", "@layers.{i}.bo");
    else
        op(bld, b, "matmul", "o", 2, "a", "@layers.{i}.wo");
    op(bld, b, "add", "x", 2, "x", "o");
    o = op(bld, b, "rmsnorm", "h", 2, "x", "@layers.{i}.ffn_norm");
    num(bld, o, "eps", s->norm_eps);
    op(bld, b, "matmul", "g", 2, "h", "@layers.{i}.w1");
    op(bld, b, "matmul", "u", 2, "h", "@layers.{i}.w3");
    op(bld, b, "silu", "g", 1, "g");
    op(bld, b, "mul", "f", 2, "g", "u");
    op(bld, b, "matmul", "d", 2, "f", "@layers.{i}.w2");
    op(bld, b, "add", "x", 2, "x", "d");
}

LlmcStatus fe_build_llama(const FeLlamaSpec *s, cJSON *weights, cJSON *tokenizer, cJSON **out,
                          LlmcDiag *d)
{
    *out = NULL;
    Builder bld = {0};
    cJSON *doc = cJSON_CreateObject();
    if (!doc || !tokenizer || !weights) {
        cJSON_Delete(doc);
        cJSON_Delete(tokenizer);
        cJSON_Delete(weights);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    num(&bld, doc, "llmc_model", 1);
    str(&bld, doc, "name", s->name);

    cJSON *cfg = cJSON_AddObjectToObject(doc, "config");
    if (!cfg)
        bld.oom = 1;
    num(&bld, cfg, "max_seq_len", (double)s->max_seq_len);
    num(&bld, cfg, "bos_id", (double)s->bos_id);
    if (s->n_eos_more) {
        cJSON *eos = cJSON_AddArrayToObject(cfg, "eos_id");
        for (int i = -1; eos && i < s->n_eos_more; i++) {
            cJSON *id = cJSON_CreateNumber(i < 0 ? (double)s->eos_id : (double)s->eos_more[i]);
            if (!id || !cJSON_AddItemToArray(eos, id)) {
                cJSON_Delete(id);
                bld.oom = 1;
            }
        }
        if (!eos)
            bld.oom = 1;
    } else {
        num(&bld, cfg, "eos_id", (double)s->eos_id);
    }
    if (s->sampling.set) {
        cJSON *sm = cJSON_AddObjectToObject(cfg, "sampling");
        num(&bld, sm, "temperature", s->sampling.temperature);
        num(&bld, sm, "top_k", (double)s->sampling.top_k);
        num(&bld, sm, "top_p", s->sampling.top_p);
        if (!sm)
            bld.oom = 1;
    }
    num(&bld, cfg, "dim", (double)s->dim);
    num(&bld, cfg, "n_layers", (double)s->n_layers);
    num(&bld, cfg, "n_heads", (double)s->n_heads);
    num(&bld, cfg, "n_kv_heads", (double)s->n_kv_heads);
    num(&bld, cfg, "head_dim", (double)s->head_dim);
    num(&bld, cfg, "ffn_dim", (double)s->ffn_dim);
    num(&bld, cfg, "vocab_size", (double)s->vocab);
    num(&bld, cfg, "norm_eps", s->norm_eps);
    num(&bld, cfg, "rope_theta", s->rope_theta);
    str(&bld, cfg, "source", s->source);
    str(&bld, cfg, "architecture", s->architecture);
    if (cfg && !cJSON_AddBoolToObject(cfg, "tied_embeddings", s->tied))
        bld.oom = 1;

    if (!cJSON_AddItemToObject(doc, "tokenizer", tokenizer)) {
        cJSON_Delete(tokenizer);
        bld.oom = 1;
    }
    if (!cJSON_AddItemToObject(doc, "weights", weights)) {
        cJSON_Delete(weights);
        bld.oom = 1;
    }

    cJSON *g = cJSON_AddObjectToObject(doc, "graph");
    cJSON *pro = g ? cJSON_AddArrayToObject(g, "prologue") : NULL;
    cJSON *layers = g ? cJSON_AddObjectToObject(g, "layers") : NULL;
    if (!pro || !layers) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    op(&bld, pro, "embedding", "x", 2, "@tok_embeddings", "tokens");
    num(&bld, layers, "count", (double)s->n_layers);
    cJSON *block = cJSON_AddArrayToObject(layers, "block");
    cJSON *epi = cJSON_AddArrayToObject(g, "epilogue");
    if (!block || !epi) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    llama_block(&bld, s, block);
    cJSON *o = op(&bld, epi, "rmsnorm", "h", 2, "x", "@norm");
    num(&bld, o, "eps", s->norm_eps);
    op(&bld, epi, "matmul", "logits", 2, "h", s->tied ? "@tok_embeddings" : "@output");
    if (bld.oom) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    *out = doc;
    return LLMC_OK;
}
