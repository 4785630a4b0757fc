/* hf_quant.c — Hugging Face checkpoints stored quantized: the quantization_config (config.json, or
 * AutoGPTQ's quantize_config.json beside it) read and checked, and the binding of each quantized
 * layer (PREFIX.qweight, .qzeros, .scales, .g_idx) as a model.json quantized binding
 * (docs/model-json.md; the encodings: prequant.c, docs/formats.md).
 *
 * Which layers are quantized is the checkpoint's: a layer with a qweight is, one with a weight is
 * not (AWQ's modules_to_not_convert, GPTQ's lm_head and modules_in_block_to_quantize only decide
 * which of the two a layer has). Every shape is checked here against the config, so that errors
 * name the checkpoint's file and tensor. A GPTQ layer's g_idx is read now: the plain grouping
 * k / group means no act-order; and layers reading the same input whose g_idx agree (q, k, v; gate,
 * up) are bound to one g_idx tensor, which is how the act_order pass knows they can share one
 * gather of the input and stay mergeable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"
#include "llama_graph.h"

/* Integer field `key` (or its synonym `alt`, NULL: none) of the config; *out untouched when absent. */
static LlmcStatus q_int(const cJSON *qc, const char *key, const char *alt, const char *where, int64_t *out,
                        int *found, LlmcDiag *d)
{
    const char *k = key;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(qc, key);
    if ((!v || cJSON_IsNull(v)) && alt) {
        k = alt;
        v = cJSON_GetObjectItemCaseSensitive(qc, alt);
    }
    if (found)
        *found = v && !cJSON_IsNull(v);
    if (!v || cJSON_IsNull(v))
        return LLMC_OK;
    if (!fe_json_is_int(v, -1e9, 1e9)) {
        char r[80];
        fe_json_repr(v, r, sizeof r);
        return llmc_fail(d, "%s.%s: expected an integer, found %s", where, k, r);
    }
    *out = (int64_t)v->valuedouble;
    return LLMC_OK;
}

/* String field `key` (or `alt`), lower-cased into buf; "" when absent. */
static LlmcStatus q_str(const cJSON *qc, const char *key, const char *alt, const char *where, char *buf,
                        size_t n, LlmcDiag *d)
{
    const char *k = key;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(qc, key);
    if ((!v || cJSON_IsNull(v)) && alt) {
        k = alt;
        v = cJSON_GetObjectItemCaseSensitive(qc, alt);
    }
    buf[0] = 0;
    if (!v || cJSON_IsNull(v))
        return LLMC_OK;
    if (!cJSON_IsString(v)) {
        char r[80];
        fe_json_repr(v, r, sizeof r);
        return llmc_fail(d, "%s.%s: expected a string, found %s", where, k, r);
    }
    snprintf(buf, n, "%s", v->valuestring);
    for (char *c = buf; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return LLMC_OK;
}

static LlmcStatus parse_config(const cJSON *qc, const char *where, int default_gptq, FeHfQuant *q, LlmcDiag *d)
{
    char method[64], fmt[64], r[80];
    if (!cJSON_IsObject(qc)) {
        fe_json_repr(qc, r, sizeof r);
        return llmc_fail(d, "%s: expected an object, found %s", where, r);
    }
    if (q_str(qc, "quant_method", NULL, where, method, sizeof method, d))
        return LLMC_ERR;
    if (!method[0] && default_gptq)
        snprintf(method, sizeof method, "gptq");
    int64_t bits = 4, group = -1;
    int found = 0;
    if (q_int(qc, "bits", "w_bit", where, &bits, NULL, d) ||
        q_int(qc, "group_size", "q_group_size", where, &group, &found, d))
        return LLMC_ERR;
    if (strncmp(method, "modelopt", 8) == 0) {
        /* ModelOpt: quant_algo at the top (config.json) or in "quantization" (hf_quant_config.json). */
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(qc, "quantization");
        char iw[700];
        snprintf(iw, sizeof iw, "%s%s", where, cJSON_IsObject(inner) ? ".quantization" : "");
        const cJSON *src = cJSON_IsObject(inner) ? inner : qc;
        if (q_str(src, "quant_algo", NULL, iw, fmt, sizeof fmt, d))
            return LLMC_ERR;
        if (strcmp(fmt, "nvfp4") != 0 && strcmp(fmt, "w4a16_nvfp4") != 0)
            return llmc_fail(d, "%s.quant_algo: expected \"NVFP4\" or \"W4A16_NVFP4\", found \"%s\" (llmc imports "
                             "ModelOpt's NVFP4 checkpoints; not supported)", iw, fmt[0] ? fmt : "nothing");
        found = 0;
        group = 16;
        if (q_int(src, "group_size", NULL, iw, &group, &found, d))
            return LLMC_ERR;
        if (group != 16)
            return llmc_fail(d, "%s.group_size: expected 16 (NVFP4's blocks), found %lld", iw, (long long)group);
        q->kind = LLMC_PQ_NVFP4;
        q->group = 16;
        snprintf(q->where, sizeof q->where, "%s", where);
        return LLMC_OK;
    }
    if (strcmp(method, "awq") == 0) {
        q->kind = LLMC_PQ_AWQ;
        if (!found)
            group = 128; /* AutoAWQ's default */
        if (q_str(qc, "version", NULL, where, fmt, sizeof fmt, d))
            return LLMC_ERR;
        if (fmt[0] && strcmp(fmt, "gemm") != 0)
            return llmc_fail(d, "%s.version: expected \"gemm\", found \"%s\" (AutoAWQ's other versions lay the "
                             "values out otherwise: not supported)", where, fmt);
        if (q_str(qc, "backend", NULL, where, fmt, sizeof fmt, d))
            return LLMC_ERR;
        if (fmt[0] && strcmp(fmt, "autoawq") != 0)
            return llmc_fail(d, "%s.backend: expected \"autoawq\", found \"%s\" (not supported)", where, fmt);
        int zp;
        if (fe_json_bool(qc, "zero_point", where, 1, &zp, d))
            return LLMC_ERR;
        if (!zp)
            return llmc_fail(d, "%s.zero_point: expected true, found false (AWQ's GEMM layout has zero points)",
                             where);
        q->zeros = 1;
    } else if (strcmp(method, "gptq") == 0) {
        int sym, marlin;
        if (fe_json_bool(qc, "sym", where, 1, &sym, d) || fe_json_bool(qc, "is_marlin_format", where, 0, &marlin, d) ||
            q_str(qc, "checkpoint_format", "format", where, fmt, sizeof fmt, d))
            return LLMC_ERR;
        if (marlin)
            snprintf(fmt, sizeof fmt, "marlin");
        if (!fmt[0] || strcmp(fmt, "gptq") == 0)
            q->kind = LLMC_PQ_GPTQ;
        else if (strcmp(fmt, "gptq_v2") == 0)
            q->kind = LLMC_PQ_GPTQ_V2;
        else
            return llmc_fail(d, "%s.checkpoint_format: expected \"gptq\" or \"gptq_v2\", found \"%s\" (not "
                             "supported)", where, fmt);
        q->zeros = !sym;
        if (q_str(qc, "pack_dtype", NULL, where, fmt, sizeof fmt, d))
            return LLMC_ERR;
        if (fmt[0] && strcmp(fmt, "int32") != 0 && strcmp(fmt, "torch.int32") != 0)
            return llmc_fail(d, "%s.pack_dtype: expected \"int32\", found \"%s\" (not supported)", where, fmt);
        const cJSON *dyn = cJSON_GetObjectItemCaseSensitive(qc, "dynamic");
        if (dyn && !cJSON_IsNull(dyn) && !(cJSON_IsObject(dyn) && !dyn->child))
            return llmc_fail(d, "%s.dynamic: expected none (per-layer overrides of bits and group size are "
                             "not supported)", where);
    } else {
        return llmc_fail(d, "%s.quant_method: expected \"awq\", \"gptq\" or \"modelopt\", found \"%s\" (llmc "
                         "imports AWQ, GPTQ and ModelOpt NVFP4 checkpoints; not supported)", where,
                         method[0] ? method : "nothing");
    }
    if (bits != 4)
        return llmc_fail(d, "%s.bits: expected 4, found %lld (llmc imports 4-bit checkpoints only)", where,
                         (long long)bits);
    if (group != -1 && (group < 2 || group % 2))
        return llmc_fail(d, "%s.group_size: expected -1 (a whole row) or an even number >= 2, found %lld", where,
                         (long long)group);
    q->group = group;
    snprintf(q->where, sizeof q->where, "%s", where);
    return LLMC_OK;
}

LlmcStatus fe_hf_quant_config(const cJSON *cfg, const char *dir, const char *cfg_path, FeHfQuant *q, LlmcDiag *d)
{
    memset(q, 0, sizeof *q);
    char where[600];
    const cJSON *qc = cJSON_GetObjectItemCaseSensitive(cfg, "quantization_config");
    if (qc && !cJSON_IsNull(qc)) {
        snprintf(where, sizeof where, "%s: quantization_config", cfg_path);
        return parse_config(qc, where, 0, q, d);
    }
    /* AutoGPTQ's own file (checkpoints written before transformers read GPTQ), then ModelOpt's. */
    static const char *const files[2] = {"quantize_config.json", "hf_quant_config.json"};
    LlmcStatus st = LLMC_OK;
    for (int i = 0; i < 2 && !st && q->kind == LLMC_PQ_NONE; i++) {
        char *path = llmc_path_join(dir, files[i]);
        if (!path)
            return llmc_fail(d, "%s: out of memory", dir);
        if (fe_is_file(path)) {
            cJSON *doc = NULL;
            st = llmc_json_load(path, &doc, d);
            if (!st && i == 1 && cJSON_IsObject(doc) && !cJSON_GetObjectItemCaseSensitive(doc, "quant_method") &&
                !cJSON_AddStringToObject(doc, "quant_method", "modelopt"))
                st = llmc_fail(d, "%s: out of memory", path);
            if (!st)
                st = parse_config(doc, path, i == 0, q, d);
            cJSON_Delete(doc);
        }
        free(path);
    }
    return st;
}

static const char *st_dtype_name(LlmcDType t)
{
    return t == LLMC_I32 ? "I32" : t == LLMC_F32 ? "F32" : t == LLMC_F16 ? "F16" : t == LLMC_U8 ? "U8"
           : t == LLMC_E4M3 ? "F8_E4M3" : "BF16";
}

/* A tensor of `bytes` bytes bound before with the same contents as t is bound in its place (*rel,
 * *name); otherwise t is remembered. (Equal act-order g_idx, equal NVFP4 tensor scales: the layers
 * share one tensor, so that the passes know they may share a gather or merge.) */
static LlmcStatus bind_shared(FeHfQuant *q, const LlmcStTensor *t, size_t bytes, const char *path, const char **rel,
                              const char **name, LlmcDiag *d)
{
    for (int k = 0; k < q->n_gidx; k++)
        if (q->gidx[k].bytes == bytes && memcmp(q->gidx[k].data, t->data, bytes) == 0) {
            *rel = q->gidx[k].rel;
            *name = q->gidx[k].name;
            return LLMC_OK;
        }
    FeHfGidx *e = &q->gidx[q->n_gidx < FE_HF_GIDX ? q->n_gidx++ : q->next_gidx++ % FE_HF_GIDX];
    free(e->rel);
    free(e->name);
    e->rel = llmc_strdup(*rel);
    e->name = llmc_strdup(*name);
    e->data = t->data;
    e->bytes = bytes;
    if (!e->rel || !e->name)
        return llmc_fail(d, "%s: out of memory", path);
    return LLMC_OK;
}

/* The binding {"encoding", "shape", "group", "zeros", "act_order", "checkpoint_name", "tensors"} as
 * weights[key] (takes `members` over); 0 on success, -1 out of memory. */
static int add_binding(cJSON *weights, const char *key, const FeHfQuant *q, int64_t N, int64_t K, int64_t group,
                       int act_order, const char *prefix, cJSON *members)
{
    cJSON *b = cJSON_CreateObject();
    int ok = b && cJSON_AddStringToObject(b, "encoding", llmc_pq_name(q->kind));
    cJSON *sh = ok ? cJSON_AddArrayToObject(b, "shape") : NULL;
    ok = ok && sh &&
             cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)N)) &&
             cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)K)) &&
             cJSON_AddNumberToObject(b, "group", (double)group) && cJSON_AddBoolToObject(b, "zeros", q->zeros) &&
             cJSON_AddBoolToObject(b, "act_order", act_order) && cJSON_AddStringToObject(b, "checkpoint_name", prefix);
    if (!ok || !cJSON_AddItemToObject(b, "tensors", members)) {
        cJSON_Delete(members);
        cJSON_Delete(b);
        return -1;
    }
    if (!cJSON_AddItemToObject(weights, key, b)) {
        cJSON_Delete(b);
        return -1;
    }
    return 0;
}

/* Act-order unless g_idx (checked) is the plain grouping k / group; an act-order g_idx equal to one
 * bound before is bound as that one (*rel, *name), else remembered. */
static LlmcStatus bind_g_idx(FeHfQuant *q, const LlmcStTensor *t, int64_t K, int64_t group, const char *path,
                             const char **rel, const char **name, int *act_order, LlmcDiag *d)
{
    int32_t *perm = malloc((size_t)K * sizeof *perm);
    if (!perm)
        return llmc_fail(d, "%s: out of memory", path);
    char what[700];
    snprintf(what, sizeof what, "%s: tensor '%s'", path, *name);
    LlmcStatus st = fe_pq_perm(t->data, K, group, perm, what, d);
    *act_order = !st && !fe_pq_perm_is_identity(perm, K);
    free(perm);
    if (st || !*act_order)
        return st;
    return bind_shared(q, t, (size_t)K * 4, path, rel, name, d);
}

LlmcStatus fe_hf_bind_quant(FeHfQuant *q, const FeHfFind *f, cJSON *weights, const char *key, const char *name,
                            int64_t N, int64_t K, int *bound, LlmcDiag *d)
{
    *bound = 0;
    size_t len = strlen(name);
    char prefix[512], tn[600], msg[300];
    if (len < 7 || strcmp(name + len - 7, ".weight") != 0 || len - 7 >= sizeof prefix)
        return LLMC_OK;
    memcpy(prefix, name, len - 7);
    prefix[len - 7] = 0;
    /* Stored quantized: AWQ and GPTQ have a qweight, NVFP4 a weight_scale beside its weight. */
    snprintf(tn, sizeof tn, "%s.%s", prefix, q->kind == LLMC_PQ_NVFP4 ? "weight_scale" : "qweight");
    if (!f->has(f->ctx, tn))
        return LLMC_OK; /* stored in floating point */
    int64_t group = q->group == -1 ? K : q->group;
    if (fe_pq_check_dims(q->kind, N, K, group, msg, sizeof msg))
        return llmc_fail(d, "%s: layer %s [%lld, %lld]: %s (from %s)", f->dir, prefix, (long long)N, (long long)K,
                         msg, q->where);
    cJSON *members = cJSON_CreateObject();
    if (!members)
        return llmc_fail(d, "%s: out of memory", f->dir);
    int act_order = 0;
    LlmcStatus st = LLMC_OK;
    FePqMember m;
    for (int i = 0; !st && fe_pq_member(q->kind, i, N, K, group, &m); i++) {
        snprintf(tn, sizeof tn, "%s.%s", prefix, m.role);
        if (!f->has(f->ctx, tn)) {
            if (m.required)
                st = llmc_fail(d, "%s: tensor '%s' not found: layer %s has a qweight, and %s stores its %s beside "
                               "it (from %s)", f->dir, tn, prefix, llmc_pq_name(q->kind), m.role, q->where);
            continue;
        }
        const LlmcStTensor *t;
        const char *rel, *path, *bind_name = tn;
        if ((st = f->find(f->ctx, tn, &t, &rel, &path, d)))
            break;
        int scalar = m.rank == 1 && m.shape[0] == 1 && t->rank == 0; /* [] binds as [1] */
        if (!scalar && (t->rank != m.rank || t->shape[0] != m.shape[0] || (m.rank == 2 && t->shape[1] != m.shape[1])))
            st = LLMC_ERR;
        if (st || !(m.dtypes & (1u << t->dtype))) {
            char want[64], got[200];
            fe_shape_str(m.rank, m.shape, want, sizeof want);
            fe_shape_str(t->rank, t->shape, got, sizeof got);
            st = llmc_fail(d, "%s: tensor '%s': expected %s (%s, for the layer's [N, K] = [%lld, %lld] and group %lld "
                           "from %s), found %s %s", path, tn, want, m.what, (long long)N, (long long)K, (long long)group,
                           q->where, st_dtype_name(t->dtype), got);
            break;
        }
        if (strcmp(m.role, "g_idx") == 0 && (st = bind_g_idx(q, t, K, group, path, &rel, &bind_name, &act_order, d)))
            break;
        if (i == llmc_pq_tensor_member(q->kind) && (st = bind_shared(q, t, 4, path, &rel, &bind_name, d)))
            break;
        if (fe_bind(members, m.role, rel, bind_name, NULL, 0, t->dtype, m.rank, m.shape))
            st = llmc_fail(d, "%s: out of memory", path);
    }
    if (st) {
        cJSON_Delete(members);
        return st;
    }
    if (add_binding(weights, key, q, N, K, group, act_order, prefix, members))
        return llmc_fail(d, "%s: out of memory", f->dir);
    *bound = 1;
    q->n_bound++;
    return LLMC_OK;
}

void fe_hf_quant_free(FeHfQuant *q)
{
    for (int i = 0; i < q->n_gidx; i++) {
        free(q->gidx[i].rel);
        free(q->gidx[i].name);
    }
    q->n_gidx = 0;
}
