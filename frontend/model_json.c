/* model_json.c — builds the IR graph from a model.json document (docs/model-json.md).
 *
 * The graph section is read as one sequence (prologue, the block once per layer, epilogue) over an
 * environment of names: each op's `out` binds a name, later reads see the latest binding. Values get
 * unique tensor names ("l3.q", "l3.q.1" after a rebinding) so dumps stay readable. Weights are
 * created from the bindings (shapes as declared; llmc_model_check_weights compares them with the
 * files). Every error names the document and the JSON path.
 */
#include "model_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../abi/llmc_model.h"
#include "fe_internal.h"

typedef struct Binding {
    const char *name;
    int tensor;
} Binding;

/* A name -> tensor map: the bindings in order of first binding, and an open-addressing hash index
 * over them (power-of-two size, at most half full), so that unrolling N layers costs O(N) lookups
 * of O(1), not O(N^2) string compares. */
typedef struct Env {
    Binding *b;
    int n, cap;
    int *slot;             /* [n_slots]: binding index + 1, 0 empty */
    int n_slots;
} Env;

typedef struct P {
    LlmcGraph *g;
    const char *doc;       /* display name of the model.json */
    const char *base_dir;
    LlmcDiag *d;
    Env env;               /* values and inputs */
    Env weights;           /* weight name -> tensor */
    Env names;             /* tensor names used, for uniqueness: tensor = use count */
} P;

static uint64_t name_hash(const char *s) { return llmc_fnv1a(LLMC_FNV_INIT, s, strlen(s)); }

static int env_find(const Env *e, const char *name)
{
    if (!e->n_slots)
        return -1;
    for (uint64_t h = name_hash(name);; h++) {
        int k = e->slot[h & (uint64_t)(e->n_slots - 1)];
        if (k == 0)
            return -1;
        if (strcmp(e->b[k - 1].name, name) == 0)
            return k - 1;
    }
}

static void env_set(P *p, Env *e, const char *name, int tensor)
{
    int i = env_find(e, name);
    if (i >= 0) {
        e->b[i].tensor = tensor;
        return;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        Binding *nb = realloc(e->b, (size_t)e->cap * sizeof *nb);
        if (!nb)
            abort();
        e->b = nb;
    }
    e->b[e->n].name = llmc_gstr(p->g, name);
    e->b[e->n].tensor = tensor;
    e->n++;
    if (2 * e->n > e->n_slots) { /* grow and re-index */
        int ns = e->n_slots ? e->n_slots * 2 : 128;
        int *sl = calloc((size_t)ns, sizeof *sl);
        if (!sl)
            abort();
        free(e->slot);
        e->slot = sl;
        e->n_slots = ns;
        for (int k = 0; k < e->n - 1; k++) {
            uint64_t h = name_hash(e->b[k].name);
            while (sl[h & (uint64_t)(ns - 1)])
                h++;
            sl[h & (uint64_t)(ns - 1)] = k + 1;
        }
    }
    uint64_t h = name_hash(name);
    while (e->slot[h & (uint64_t)(e->n_slots - 1)])
        h++;
    e->slot[h & (uint64_t)(e->n_slots - 1)] = e->n;
}

static void env_free(Env *e)
{
    free(e->b);
    free(e->slot);
}

static LlmcStatus fail_at(P *p, const char *path, const char *fmt, const char *a, const char *b)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return llmc_fail(p->d, "%s: %s: %s", p->doc, path, msg);
}

static const char *json_kind(const cJSON *v)
{
    if (!v)
        return "nothing";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsBool(v))
        return "a boolean";
    return "null";
}

static int is_int(const cJSON *v) { return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15; }

/* Integer member `key` of obj within [lo, hi]. */
static LlmcStatus get_int(P *p, const cJSON *obj, const char *path, const char *key, int64_t lo, int64_t hi,
                          int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char where[512];
    snprintf(where, sizeof where, "%s.%s", path, key);
    if (!is_int(v))
        return fail_at(p, where, "expected an integer, found %s", json_kind(v), NULL);
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
        char msg[256];
        snprintf(msg, sizeof msg, "expected an integer in [%lld, %lld], found %.17g", (long long)lo,
                 (long long)hi, v->valuedouble);
        return fail_at(p, where, "%s", msg, NULL);
    }
    *out = (int64_t)v->valuedouble;
    return LLMC_OK;
}

/* config.eos_id: one id (-1: none), or a list of ids whose first is the primary one and whose
 * others also end a sequence. */
static LlmcStatus parse_eos(P *p, const cJSON *config, LlmcGraph *g)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, "eos_id");
    int64_t x;
    if (!cJSON_IsArray(v)) {
        if (get_int(p, config, "config", "eos_id", -1, INT32_MAX, &x))
            return LLMC_ERR;
        g->eos_id = (int32_t)x;
        return LLMC_OK;
    }
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > LLMC_MAX_EOS + 1) {
        char msg[64];
        snprintf(msg, sizeof msg, "%d ids", n);
        return fail_at(p, "config.eos_id", "expected an id or a list of 1 to 17 ids, found %s", msg, NULL);
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "config.eos_id[%d]", i);
        if (!is_int(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX)
            return fail_at(p, where, "expected a token id >= 0, found %s", json_kind(e), NULL);
        int32_t id = (int32_t)e->valuedouble;
        if (i == 0)
            g->eos_id = id;
        else
            g->eos_more[g->n_eos_more++] = id;
    }
    return LLMC_OK;
}

/* A number member `key` of obj in [lo, hi], if present. */
static LlmcStatus get_opt_num(P *p, const cJSON *obj, const char *path, const char *key, double lo, double hi,
                              double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return LLMC_OK;
    char where[512], msg[128];
    snprintf(where, sizeof where, "%s.%s", path, key);
    if (!cJSON_IsNumber(v))
        return fail_at(p, where, "expected a number, found %s", json_kind(v), NULL);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi)) {
        snprintf(msg, sizeof msg, "expected a number in [%g, %g], found %.17g", lo, hi, v->valuedouble);
        return fail_at(p, where, "%s", msg, NULL);
    }
    *out = v->valuedouble;
    return LLMC_OK;
}

/* config.sampling: {"temperature", "top_k", "top_p"}, each optional (0, 0, 1: greedy, off, off). */
static LlmcStatus parse_sampling(P *p, const cJSON *config, LlmcGraph *g)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(config, "sampling");
    if (!s || cJSON_IsNull(s))
        return LLMC_OK;
    if (!cJSON_IsObject(s))
        return fail_at(p, "config.sampling", "expected an object {temperature, top_k, top_p}, found %s",
                       json_kind(s), NULL);
    for (const cJSON *e = s->child; e; e = e->next)
        if (strcmp(e->string, "temperature") != 0 && strcmp(e->string, "top_k") != 0 &&
            strcmp(e->string, "top_p") != 0)
            return fail_at(p, "config.sampling", "unknown key \"%s\" (expected temperature, top_k, top_p)",
                           e->string, NULL);
    LlmcSampling *sm = &g->sampling;
    *sm = (LlmcSampling){.set = 1, .temperature = 0, .top_k = 0, .top_p = 1};
    double k = 0;
    if (get_opt_num(p, s, "config.sampling", "temperature", 0, 1000, &sm->temperature) ||
        get_opt_num(p, s, "config.sampling", "top_p", 0, 1, &sm->top_p) ||
        get_opt_num(p, s, "config.sampling", "top_k", 0, INT32_MAX, &k))
        return LLMC_ERR;
    if (k != floor(k))
        return fail_at(p, "config.sampling.top_k", "expected an integer%s%s", NULL, NULL);
    if (sm->top_p <= 0)
        return fail_at(p, "config.sampling.top_p", "expected a number in (0, 1]%s%s", NULL, NULL);
    sm->top_k = (int64_t)k;
    return LLMC_OK;
}

/* The "shape" of binding w at `path`: [n] or [rows, cols] of positive dims. */
static LlmcStatus parse_shape(P *p, const cJSON *w, const char *path, LlmcShape *s)
{
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(w, "shape");
    char sub[600], sb[64];
    snprintf(sub, sizeof sub, "%s.shape", path);
    int rank = cJSON_GetArraySize(shape);
    if (!cJSON_IsArray(shape) || rank < 1 || rank > 2)
        return fail_at(p, sub, "expected [n] or [rows, cols], found %s", json_kind(shape), NULL);
    memset(s, 0, sizeof *s);
    s->rank = rank;
    for (int i = 0; i < rank; i++) {
        const cJSON *v = cJSON_GetArrayItem(shape, i);
        if (!is_int(v) || v->valuedouble < 1 || v->valuedouble > 1e9) {
            snprintf(sb, sizeof sb, "[%d]", i);
            return fail_at(p, sub, "element %s: expected a positive integer dim", sb, NULL);
        }
        s->dim[i] = (int64_t)v->valuedouble;
    }
    return LLMC_OK;
}

/* One binding object at `path`: a tensor `name` of the graph bound to its bytes (rank 1 or 2; rank 3
 * with stack_ok, read as the matrix of its stacked rows; i32, u8 and e4m3 too for a member of a
 * quantized matrix, below). Returns the tensor id, -1 after an error. */
static int parse_binding(P *p, const cJSON *w, const char *path, const char *name, int stack_ok, int member)
{
    char sb[64];
    if (!cJSON_IsObject(w)) {
        fail_at(p, path, "expected a binding object, found %s", json_kind(w), NULL);
        return -1;
    }
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(w, "file");
    const cJSON *tensor = cJSON_GetObjectItemCaseSensitive(w, "tensor");
    const cJSON *offset = cJSON_GetObjectItemCaseSensitive(w, "offset");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(w, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(w, "shape");
    const cJSON *ckpt = cJSON_GetObjectItemCaseSensitive(w, "checkpoint_name");
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(w, "add");
    char sub[600];
    if (ckpt && !cJSON_IsString(ckpt)) {
        snprintf(sub, sizeof sub, "%s.checkpoint_name", path);
        fail_at(p, sub, "expected the tensor's name in its checkpoint, found %s", json_kind(ckpt), NULL);
        return -1;
    }
    if (add && (!cJSON_IsNumber(add) || !isfinite(add->valuedouble))) {
        snprintf(sub, sizeof sub, "%s.add", path);
        fail_at(p, sub, "expected a number added to every value, found %s", json_kind(add), NULL);
        return -1;
    }
    if (!cJSON_IsString(file)) {
        snprintf(sub, sizeof sub, "%s.file", path);
        fail_at(p, sub, "expected a file path string, found %s", json_kind(file), NULL);
        return -1;
    }
    if (!!tensor == !!offset) {
        fail_at(p, path, "expected exactly one of \"tensor\" (safetensors) or \"offset\" (raw array)%s%s", NULL,
                NULL);
        return -1;
    }
    if (tensor && !cJSON_IsString(tensor)) {
        snprintf(sub, sizeof sub, "%s.tensor", path);
        fail_at(p, sub, "expected a tensor name string, found %s", json_kind(tensor), NULL);
        return -1;
    }
    int64_t off = 0;
    if (offset && get_int(p, w, path, "offset", 0, INT64_C(1) << 50, &off))
        return -1;
    LlmcDType dt;
    if (!cJSON_IsString(dtype) || llmc_dtype_from_name(dtype->valuestring, &dt) ||
        ((dt == LLMC_I32 || dt == LLMC_U8 || dt == LLMC_E4M3) && !member) || llmc_format_n_sides(dt) > 0 ||
        !(llmc_format(dt)->flags & (LLMC_FMT_WEIGHT | LLMC_FMT_INDEX)) || (llmc_format(dt)->flags & LLMC_FMT_TEST)) {
        snprintf(sub, sizeof sub, "%s.dtype", path);
        fail_at(p, sub, member ? "expected \"i32\", \"u8\", \"e4m3\", \"f32\", \"f16\" or \"bf16\", found %s"
                               : "expected \"f32\", \"f16\" or \"bf16\", found %s",
                cJSON_IsString(dtype) ? dtype->valuestring : json_kind(dtype), NULL);
        return -1;
    }
    snprintf(sub, sizeof sub, "%s.shape", path);
    int rank = cJSON_GetArraySize(shape);
    if (!cJSON_IsArray(shape) || rank < 1 || rank > (stack_ok ? 3 : 2)) {
        fail_at(p, sub, stack_ok ? "expected [n], [rows, cols] or [experts, rows, cols], found %s"
                                 : "expected [n] or [rows, cols], found %s", json_kind(shape), NULL);
        return -1;
    }
    int64_t dims[3];
    for (int i = 0; i < rank; i++) {
        const cJSON *v = cJSON_GetArrayItem(shape, i);
        if (!is_int(v) || v->valuedouble < 1 || v->valuedouble > 1e9) {
            snprintf(sb, sizeof sb, "[%d]", i);
            fail_at(p, sub, "element %s: expected a positive integer dim", sb, NULL);
            return -1;
        }
        dims[i] = (int64_t)v->valuedouble;
    }
    LlmcShape s;
    memset(&s, 0, sizeof s);
    s.rank = rank < 3 ? rank : 2;
    s.dim[0] = rank < 3 ? dims[0] : dims[0] * dims[1];
    s.dim[1] = rank < 3 ? (rank == 2 ? dims[1] : 0) : dims[2];
    int t = llmc_tensor_new(p->g, name, LLMC_T_WEIGHT, dt, &s);
    LlmcTensor *tt = &p->g->t[t];
    char *full = llmc_path_join(p->base_dir, file->valuestring);
    tt->src.file = llmc_gstr(p->g, full);
    free(full);
    tt->src.tensor = tensor ? llmc_gstr(p->g, tensor->valuestring) : NULL;
    tt->src.ckpt = ckpt ? llmc_gstr(p->g, ckpt->valuestring) : tt->src.tensor;
    tt->src.offset = off;
    tt->src.file_dtype = dt;
    tt->src.stack = rank == 3 ? dims[0] : 0;
    tt->src.add = add ? add->valuedouble : 0.0;
    tt->src.where = llmc_gprintf(p->g, "%s: %s", p->doc, path);
    return t;
}

/* A matrix the checkpoint stores quantized (docs/model-json.md): its encoding, shape [N, K], group,
 * zero points, act-order, and the encoding's member tensors, each a file binding whose dtype and
 * shape the encoding fixes (frontend/prequant.c). */
static LlmcStatus parse_quantized(P *p, const cJSON *w, const char *path)
{
    static const char *const keys[] = {"encoding", "shape", "group", "zeros", "act_order", "checkpoint_name",
                                       "tensors"};
    char sub[600], msg[300];
    for (const cJSON *e = w->child; e; e = e->next) {
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(e->string, keys[k]) != 0)
            k++;
        if (k == sizeof keys / sizeof keys[0])
            return fail_at(p, path, "unknown key \"%s\" in a quantized binding (expected encoding, shape, group, "
                           "zeros, act_order, checkpoint_name, tensors)", e->string, NULL);
    }
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(w, "encoding");
    int kind = cJSON_IsString(enc) ? fe_pq_kind_from_name(enc->valuestring) : -1;
    snprintf(sub, sizeof sub, "%s.encoding", path);
    if (kind < 0)
        return fail_at(p, sub, "expected \"awq\", \"gptq\", \"gptq_v2\" or \"modelopt_nvfp4\", found %s",
                       cJSON_IsString(enc) ? enc->valuestring : json_kind(enc), NULL);
    LlmcShape s;
    if (parse_shape(p, w, path, &s))
        return LLMC_ERR;
    snprintf(sub, sizeof sub, "%s.shape", path);
    if (s.rank != 2)
        return fail_at(p, sub, "expected [N, K]: a quantized binding is a matrix%s%s", NULL, NULL);
    int64_t N = s.dim[0], K = s.dim[1], group;
    if (get_int(p, w, path, "group", 2, K, &group))
        return LLMC_ERR;
    if (fe_pq_check_dims(kind, N, K, group, msg, sizeof msg))
        return fail_at(p, path, "%s", msg, NULL);
    const cJSON *zeros = cJSON_GetObjectItemCaseSensitive(w, "zeros");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(w, "act_order");
    const cJSON *ckpt = cJSON_GetObjectItemCaseSensitive(w, "checkpoint_name");
    snprintf(sub, sizeof sub, "%s.zeros", path);
    if (!cJSON_IsBool(zeros))
        return fail_at(p, sub, "expected true (zero points of its own) or false (symmetric: zero point 8), "
                       "found %s", json_kind(zeros), NULL);
    snprintf(sub, sizeof sub, "%s.act_order", path);
    if (act && !cJSON_IsBool(act))
        return fail_at(p, sub, "expected true or false, found %s", json_kind(act), NULL);
    snprintf(sub, sizeof sub, "%s.checkpoint_name", path);
    if (ckpt && !cJSON_IsString(ckpt))
        return fail_at(p, sub, "expected the matrix's name in its checkpoint, found %s", json_kind(ckpt), NULL);
    /* f32 until weight_format gives it its format and layout (a u4 tensor has its scales). */
    int t = llmc_tensor_new(p->g, w->string, LLMC_T_WEIGHT, LLMC_F32, &s);
    LlmcPrequant pq = {.kind = kind, .format = fe_pq_format(kind), .group = (int32_t)group,
                       .zeros = cJSON_IsTrue(zeros), .act_order = cJSON_IsTrue(act)};
    snprintf(sub, sizeof sub, "%s.zeros", path);
    if (pq.zeros && llmc_format_side_index(pq.format, LLMC_ROLE_ZERO) < 0)
        return fail_at(p, sub, "%s has no zero points: expected false%s", llmc_pq_name(kind), NULL);
    for (int i = 0; i < LLMC_PQ_MEMBERS; i++)
        pq.member[i] = -1;
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(w, "tensors");
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s.tensors", path);
    if (!cJSON_IsObject(members))
        return fail_at(p, mpath, "expected an object of the encoding's tensors, found %s", json_kind(members), NULL);
    FePqMember m;
    int n_members = 0;
    for (int i = 0; fe_pq_member(kind, i, N, K, group, &m); i++) {
        n_members++;
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(members, m.role);
        snprintf(sub, sizeof sub, "%s.%s", mpath, m.role);
        if (!b) {
            if (m.required)
                return fail_at(p, sub, "missing: %s needs it", llmc_pq_name(kind), NULL);
            continue;
        }
        char name[600];
        snprintf(name, sizeof name, "%s.%s", w->string, m.role);
        int mt = parse_binding(p, b, sub, name, 0, 1);
        if (mt < 0)
            return LLMC_ERR;
        const LlmcTensor *x = &p->g->t[mt];
        char want[160], got[160];
        int64_t gd[2] = {x->shape.dim[0], x->shape.dim[1]};
        fe_shape_str(m.rank, m.shape, want, sizeof want);
        fe_shape_str(x->shape.rank, gd, got, sizeof got);
        if (x->shape.rank != m.rank || x->shape.dim[0] != m.shape[0] || (m.rank == 2 && x->shape.dim[1] != m.shape[1])) {
            snprintf(msg, sizeof msg, "expected %s %s for [N, K] = [%lld, %lld], group %lld, found %s",
                     m.what, want, (long long)N, (long long)K, (long long)group, got);
            return fail_at(p, sub, "%s", msg, NULL);
        }
        if (!(m.dtypes & (1u << x->src.file_dtype))) {
            snprintf(sub, sizeof sub, "%s.%s.dtype", mpath, m.role);
            return fail_at(p, sub, "expected the dtype of %s, found %s", m.what, llmc_dtype_name(x->src.file_dtype));
        }
        pq.member[i] = mt;
    }
    for (const cJSON *e = members->child; e; e = e->next) {
        int known = 0;
        for (int i = 0; i < n_members && !known; i++)
            known = fe_pq_member(kind, i, N, K, group, &m) && strcmp(m.role, e->string) == 0;
        if (!known)
            return fail_at(p, mpath, "unknown tensor \"%s\" (expected %s)", e->string,
                           kind == LLMC_PQ_NVFP4 ? "weight, weight_scale, weight_scale_2, input_scale"
                                                 : "qweight, qzeros, scales, g_idx");
    }
    if (pq.act_order && (kind == LLMC_PQ_AWQ || kind == LLMC_PQ_NVFP4 || pq.member[3] < 0))
        return fail_at(p, mpath, "act_order needs a GPTQ g_idx tensor%s%s", NULL, NULL);
    LlmcTensor *tt = &p->g->t[t];
    tt->src.pq = pq;
    tt->src.file_dtype = LLMC_U4;
    tt->src.ckpt = ckpt ? llmc_gstr(p->g, ckpt->valuestring) : p->g->t[pq.member[0]].src.tensor;
    tt->src.file = p->g->t[pq.member[0]].src.file;
    tt->src.where = llmc_gprintf(p->g, "%s: %s", p->doc, path);
    env_set(p, &p->weights, w->string, t);
    return LLMC_OK;
}

/* weights.NAME: a binding, or {"parts": [binding, ...]}: a matrix whose rows are stored as several
 * tensors (experts one tensor each), concatenated in order; the parts are rank-2 tensors of one
 * dtype and one column count. */
static LlmcStatus parse_weight(P *p, const cJSON *w)
{
    char path[512], sub[600];
    snprintf(path, sizeof path, "weights.%s", w->string);
    if (cJSON_IsObject(w) && cJSON_GetObjectItemCaseSensitive(w, "encoding"))
        return parse_quantized(p, w, path);
    const cJSON *parts = cJSON_IsObject(w) ? cJSON_GetObjectItemCaseSensitive(w, "parts") : NULL;
    if (!parts) {
        int t = parse_binding(p, w, path, w->string, 1, 0);
        if (t < 0)
            return LLMC_ERR;
        env_set(p, &p->weights, w->string, t);
        return LLMC_OK;
    }
    for (const cJSON *k = w->child; k; k = k->next)
        if (strcmp(k->string, "parts") != 0) {
            snprintf(sub, sizeof sub, "%s.%s", path, k->string);
            return fail_at(p, sub, "a binding with \"parts\" has no other keys (each part is a binding)%s%s", NULL,
                           NULL);
        }
    int np = cJSON_GetArraySize(parts);
    snprintf(sub, sizeof sub, "%s.parts", path);
    if (!cJSON_IsArray(parts) || np < 1 || np > 1 << 20)
        return fail_at(p, sub, "expected an array of bindings, found %s", json_kind(parts), NULL);
    int *ids = llmc_galloc(p->g, sizeof(int) * (size_t)np);
    int64_t rows = 0;
    for (int i = 0; i < np; i++) {
        char ps[640], name[600];
        snprintf(ps, sizeof ps, "%s.parts[%d]", path, i);
        snprintf(name, sizeof name, "%s#%d", w->string, i);
        int t = parse_binding(p, cJSON_GetArrayItem(parts, i), ps, name, 0, 0);
        if (t < 0)
            return LLMC_ERR;
        const LlmcTensor *a = &p->g->t[t], *first = &p->g->t[ids[0]];
        if (a->shape.rank != 2 || (i > 0 && (a->shape.dim[1] != first->shape.dim[1] ||
                                             a->src.file_dtype != first->src.file_dtype)))
            return fail_at(p, ps, "expected a matrix of the first part's dtype and column count%s%s", NULL, NULL);
        ids[i] = t;
        rows += a->shape.dim[0];
    }
    const LlmcTensor *first = &p->g->t[ids[0]];
    LlmcShape s = llmc_shape2(rows, first->shape.dim[1]);
    int t = llmc_tensor_new(p->g, w->string, LLMC_T_WEIGHT, first->src.file_dtype, &s);
    LlmcTensor *tt = &p->g->t[t];
    tt->src.file_dtype = p->g->t[ids[0]].src.file_dtype;
    tt->src.n_parts = np;
    tt->src.parts = ids;
    tt->src.where = llmc_gprintf(p->g, "%s: %s", p->doc, path);
    env_set(p, &p->weights, w->string, t);
    return LLMC_OK;
}

/* Replaces "{i}" with the layer index. */
static void subst_layer(const char *in, int layer, char *out, size_t n)
{
    size_t k = 0;
    for (const char *s = in; *s && k + 12 < n;) {
        if (layer >= 0 && strncmp(s, "{i}", 3) == 0) {
            k += (size_t)snprintf(out + k, n - k, "%d", layer);
            s += 3;
        } else {
            out[k++] = *s++;
        }
    }
    out[k] = 0;
}

/* A unique tensor name for a value bound to `name` in `layer`. */
static const char *value_name(P *p, const char *name, int layer)
{
    char base[300];
    if (layer >= 0)
        snprintf(base, sizeof base, "l%d.%s", layer, name);
    else
        snprintf(base, sizeof base, "%s", name);
    int i = env_find(&p->names, base);
    int count = i >= 0 ? p->names.b[i].tensor + 1 : 0;
    env_set(p, &p->names, base, count);
    if (count == 0)
        return llmc_gstr(p->g, base);
    return llmc_gprintf(p->g, "%s.%d", base, count);
}

static int key_allowed(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *s = list; *s;) {
        while (*s == ' ')
            s++;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - s) == n && strncmp(s, key, n) == 0)
            return 1;
        s = e;
    }
    return 0;
}

/* The keys a rope's "scaling" object may have (docs/model-json.md); the *_factor lists are arrays. */
static const char rope_scaling_keys[] = "type factor low_freq_factor high_freq_factor original_max_position_embeddings "
                                        "beta_fast beta_slow attention_factor truncate short_factor long_factor";

/* An array of numbers (a rope scaling's frequency factors) as a list attribute. */
static LlmcStatus set_list_attr(P *p, LlmcNode *n, const char *key, const cJSON *v, const char *path)
{
    int cnt = cJSON_GetArraySize(v);
    if (cnt < 1 || cnt > 65536)
        return fail_at(p, path, "expected a list of 1 to 65536 numbers, found %s", cnt ? "a longer one" : "none",
                       NULL);
    double *vals = malloc(sizeof(double) * (size_t)cnt);
    if (!vals)
        return fail_at(p, path, "out of memory%s%s", NULL, NULL);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            char sub[64];
            snprintf(sub, sizeof sub, "[%d]", i);
            free(vals);
            return fail_at(p, path, "element %s: expected a finite number, found %s", sub, json_kind(e));
        }
        vals[i] = e->valuedouble;
    }
    llmc_attr_set_floats(p->g, n, key, vals, cnt);
    free(vals);
    return LLMC_OK;
}

static LlmcStatus set_attr(P *p, LlmcNode *n, const char *key, const cJSON *v, const char *path)
{
    /* Two slots stay free for the attributes passes add (fusion, lowering). The op table bounds
     * what model.json can give, so this is a check of that bound, before anything is written. */
    if (!llmc_attr(n, key) && n->n_attr >= LLMC_MAX_ATTR - 2) {
        char max[16];
        snprintf(max, sizeof max, "%d", LLMC_MAX_ATTR - 2);
        return fail_at(p, path, "too many attributes (at most %s an op)", max, NULL);
    }
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
        return fail_at(p, path, "expected a finite number, found %s", v->valuedouble != v->valuedouble ? "NaN" :
                       v->valuedouble > 0 ? "inf" : "-inf", NULL);
    if (cJSON_IsNumber(v)) {
        if (is_int(v))
            llmc_attr_set_int(p->g, n, key, (int64_t)v->valuedouble);
        else
            llmc_attr_set_float(p->g, n, key, v->valuedouble);
        if (!is_int(v)) /* keep the exact double too */
            return LLMC_OK;
        n->attr[n->n_attr - 1].f = v->valuedouble;
        return LLMC_OK;
    }
    if (cJSON_IsString(v)) {
        llmc_attr_set_str(p->g, n, key, v->valuestring);
        return LLMC_OK;
    }
    return fail_at(p, path, "expected a number or a string, found %s", json_kind(v), NULL);
}

static LlmcStatus parse_op(P *p, const cJSON *op, const char *path, int layer)
{
    char sub[600], name[300];
    if (!cJSON_IsObject(op))
        return fail_at(p, path, "expected an op object, found %s", json_kind(op), NULL);
    const cJSON *opname = cJSON_GetObjectItemCaseSensitive(op, "op");
    LlmcOp id;
    snprintf(sub, sizeof sub, "%s.op", path);
    if (!cJSON_IsString(opname))
        return fail_at(p, sub, "expected an op name string, found %s", json_kind(opname), NULL);
    if (llmc_op_from_name(opname->valuestring, &id) || !(llmc_op_info[id].flags & OPF_USER)) {
        char known[512] = "";
        for (int i = 0; i < LLMC_OP_COUNT; i++)
            if (llmc_op_info[i].flags & OPF_USER) {
                strcat(known, known[0] ? ", " : "");
                strcat(known, llmc_op_info[i].name);
            }
        return fail_at(p, sub, "unknown op \"%s\" (known ops: %s)", opname->valuestring, known);
    }
    const LlmcOpInfo *info = &llmc_op_info[id];
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(op, "in");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(op, "out");
    snprintf(sub, sizeof sub, "%s.in", path);
    if (!cJSON_IsArray(in))
        return fail_at(p, sub, "expected an array of input names, found %s", json_kind(in), NULL);
    int nin = cJSON_GetArraySize(in);
    if (nin < info->min_in || nin > info->max_in) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s takes %d%s%d inputs, found %d", info->name, info->min_in,
                 info->min_in == info->max_in ? "" : " to ", info->min_in == info->max_in ? 0 : info->max_in, nin);
        if (info->min_in == info->max_in)
            snprintf(msg, sizeof msg, "%s takes %d inputs, found %d", info->name, info->min_in, nin);
        return fail_at(p, sub, "%s", msg, NULL);
    }
    snprintf(sub, sizeof sub, "%s.out", path);
    if (!cJSON_IsString(out) || !out->valuestring[0])
        return fail_at(p, sub, "expected an output name string, found %s", json_kind(out), NULL);
    if (out->valuestring[0] == '@' || strcmp(out->valuestring, "tokens") == 0 ||
        strcmp(out->valuestring, "positions") == 0)
        return fail_at(p, sub, "\"%s\" cannot be bound: it names a weight or a step input", out->valuestring, NULL);

    int ins[LLMC_MAX_IN];
    for (int i = 0; i < nin; i++) {
        const cJSON *v = cJSON_GetArrayItem(in, i);
        snprintf(sub, sizeof sub, "%s.in[%d]", path, i);
        if (!cJSON_IsString(v))
            return fail_at(p, sub, "expected a name string, found %s", json_kind(v), NULL);
        if (v->valuestring[0] == '@') {
            subst_layer(v->valuestring + 1, layer, name, sizeof name);
            int k = env_find(&p->weights, name);
            if (k < 0)
                return fail_at(p, sub, "unknown weight \"%s\" (not in \"weights\")", name, NULL);
            ins[i] = p->weights.b[k].tensor;
        } else {
            int k = env_find(&p->env, v->valuestring);
            if (k < 0)
                return fail_at(p, sub, "unknown value \"%s\" (not bound by an earlier op; weights start with '@')",
                               v->valuestring, NULL);
            ins[i] = p->env.b[k].tensor;
        }
    }
    int o = llmc_tensor_new(p->g, value_name(p, out->valuestring, layer), LLMC_T_VALUE, LLMC_F32, NULL);
    LlmcNode n = llmc_node_make(id, nin, ins, 1, &o);
    n.layer = layer;
    if (layer >= 0)
        n.where = llmc_gprintf(p->g, "%s: %s (layer %d)", p->doc, path, layer);
    else
        n.where = llmc_gprintf(p->g, "%s: %s", p->doc, path);
    for (const cJSON *a = op->child; a; a = a->next) {
        if (strcmp(a->string, "op") == 0 || strcmp(a->string, "in") == 0 || strcmp(a->string, "out") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s.%s", path, a->string);
        if (!key_allowed(info->attrs, a->string))
            return fail_at(p, sub, "unknown attribute for %s (allowed: %s)", info->name,
                           info->attrs[0] ? info->attrs : "none");
        if (cJSON_IsObject(a)) {
            for (const cJSON *b = a->child; b; b = b->next) {
                char key[300], sub2[700];
                snprintf(key, sizeof key, "%s.%s", a->string, b->string);
                snprintf(sub2, sizeof sub2, "%s.%s", path, key);
                if (strcmp(a->string, "scaling") != 0 || !key_allowed(rope_scaling_keys, b->string))
                    return fail_at(p, sub2, "unknown key of \"%s\" (allowed: %s)", a->string,
                                   strcmp(a->string, "scaling") == 0 ? rope_scaling_keys : "none");
                if (cJSON_IsArray(b) ? set_list_attr(p, &n, key, b, sub2) : set_attr(p, &n, key, b, sub2))
                    return LLMC_ERR;
            }
        } else if (cJSON_IsNull(a)) {
            continue;
        } else if (set_attr(p, &n, a->string, a, sub)) {
            return LLMC_ERR;
        }
    }
    if (n.n_attr > LLMC_MAX_ATTR - 2)
        return fail_at(p, path, "too many attributes%s%s", NULL, NULL);
    llmc_node_add(p->g, &n);
    env_set(p, &p->env, out->valuestring, o);
    return LLMC_OK;
}

static LlmcStatus parse_ops(P *p, const cJSON *arr, const char *path, int layer)
{
    if (!cJSON_IsArray(arr))
        return fail_at(p, path, "expected an array of ops, found %s", json_kind(arr), NULL);
    int i = 0;
    for (const cJSON *op = arr->child; op; op = op->next, i++) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        if (parse_op(p, op, sub, layer))
            return LLMC_ERR;
    }
    return LLMC_OK;
}

LlmcStatus llmc_model_from_json(const cJSON *doc, const char *doc_name, const char *base_dir, LlmcGraph *g,
                                LlmcDiag *d)
{
    P p = {.g = g, .doc = doc_name, .base_dir = base_dir, .d = d};
    LlmcStatus st = LLMC_ERR;
    int64_t v;
    if (!cJSON_IsObject(doc)) {
        fail_at(&p, "(top level)", "expected an object, found %s", json_kind(doc), NULL);
        goto out;
    }
    if (get_int(&p, doc, "(top level)", "llmc_model", 1, 1, &v))
        goto out;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
    if (!cJSON_IsString(name)) {
        fail_at(&p, "name", "expected a string, found %s", json_kind(name), NULL);
        goto out;
    }
    g->name = llmc_gstr(g, name->valuestring);
    g->source = llmc_gstr(g, doc_name);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(doc, "config");
    if (!cJSON_IsObject(config)) {
        fail_at(&p, "config", "expected an object, found %s", json_kind(config), NULL);
        goto out;
    }
    if (get_int(&p, config, "config", "max_seq_len", 1, 1 << 24, &v))
        goto out;
    g->max_seq_len = (int32_t)v;
    if (get_int(&p, config, "config", "bos_id", -1, INT32_MAX, &v))
        goto out;
    g->bos_id = (int32_t)v;
    if (parse_eos(&p, config, g) || parse_sampling(&p, config, g))
        goto out;

    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(doc, "tokenizer");
    if (tok && !cJSON_IsNull(tok)) {
        const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(tok, "format");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(tok, "file");
        if (!cJSON_IsObject(tok) || !cJSON_IsString(fmt) ||
            (strcmp(fmt->valuestring, "llama2c") != 0 && strcmp(fmt->valuestring, "sentencepiece") != 0 &&
             strcmp(fmt->valuestring, "huggingface") != 0)) {
            fail_at(&p, "tokenizer.format", "expected \"llama2c\", \"sentencepiece\" or \"huggingface\", found %s",
                    cJSON_IsString(fmt) ? fmt->valuestring : json_kind(fmt), NULL);
            goto out;
        }
        if (!cJSON_IsString(file)) {
            fail_at(&p, "tokenizer.file", "expected a path string, found %s", json_kind(file), NULL);
            goto out;
        }
        g->tok_kind = strcmp(fmt->valuestring, "llama2c") == 0         ? LLMC_TOK_LLAMA2C
                      : strcmp(fmt->valuestring, "sentencepiece") == 0 ? LLMC_TOK_SENTENCEPIECE
                                                                       : LLMC_TOK_HF;
        char *full = llmc_path_join(base_dir, file->valuestring);
        g->tok_file = llmc_gstr(g, full);
        free(full);
    }

    const cJSON *weights = cJSON_GetObjectItemCaseSensitive(doc, "weights");
    if (!cJSON_IsObject(weights)) {
        fail_at(&p, "weights", "expected an object of bindings, found %s", json_kind(weights), NULL);
        goto out;
    }
    for (const cJSON *w = weights->child; w; w = w->next)
        if (parse_weight(&p, w))
            goto out;

    LlmcShape tshape = llmc_shape1(LLMC_T);
    g->in_tokens = llmc_tensor_new(g, "tokens", LLMC_T_INPUT, LLMC_I32, &tshape);
    g->in_positions = llmc_tensor_new(g, "positions", LLMC_T_INPUT, LLMC_I32, &tshape);
    env_set(&p, &p.env, "tokens", g->in_tokens);
    env_set(&p, &p.env, "positions", g->in_positions);

    const cJSON *graph = cJSON_GetObjectItemCaseSensitive(doc, "graph");
    if (!cJSON_IsObject(graph)) {
        fail_at(&p, "graph", "expected an object, found %s", json_kind(graph), NULL);
        goto out;
    }
    const cJSON *pro = cJSON_GetObjectItemCaseSensitive(graph, "prologue");
    if (pro && parse_ops(&p, pro, "graph.prologue", -1))
        goto out;
    /* layers: {count, block}, or a list of such groups run in turn (layers whose ops differ: a
     * mixture-of-experts model's dense layers, Gemma's sliding and global ones); {i} counts on across
     * groups. */
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(graph, "layers");
    if (layers) {
        int groups = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : 1, first = 0;
        if (!cJSON_IsObject(layers) && !cJSON_IsArray(layers)) {
            fail_at(&p, "graph.layers", "expected an object {count, block} or a list of them, found %s",
                    json_kind(layers), NULL);
            goto out;
        }
        for (int gi = 0; gi < groups; gi++) {
            const cJSON *grp = cJSON_IsArray(layers) ? cJSON_GetArrayItem(layers, gi) : layers;
            char gp[64], bp[96];
            if (cJSON_IsArray(layers))
                snprintf(gp, sizeof gp, "graph.layers[%d]", gi);
            else
                snprintf(gp, sizeof gp, "graph.layers");
            snprintf(bp, sizeof bp, "%s.block", gp);
            if (!cJSON_IsObject(grp)) {
                fail_at(&p, gp, "expected an object {count, block}, found %s", json_kind(grp), NULL);
                goto out;
            }
            if (get_int(&p, grp, gp, "count", 0, 4096 - first, &v))
                goto out;
            const cJSON *block = cJSON_GetObjectItemCaseSensitive(grp, "block");
            for (int i = 0; i < (int)v; i++)
                if (parse_ops(&p, block, bp, first + i))
                    goto out;
            if (v == 0 && block && !cJSON_IsArray(block)) {
                fail_at(&p, bp, "expected an array of ops, found %s", json_kind(block), NULL);
                goto out;
            }
            first += (int)v;
        }
    }
    const cJSON *epi = cJSON_GetObjectItemCaseSensitive(graph, "epilogue");
    if (epi && parse_ops(&p, epi, "graph.epilogue", -1))
        goto out;
    int k = env_find(&p.env, "logits");
    if (k < 0) {
        fail_at(&p, "graph", "no op binds \"logits\" (the model's output)%s%s", NULL, NULL);
        goto out;
    }
    g->logits = p.env.b[k].tensor;
    if (g->t[g->logits].kind != LLMC_T_VALUE) {
        fail_at(&p, "graph", "\"logits\" must be computed by an op%s%s", NULL, NULL);
        goto out;
    }
    st = LLMC_OK;
out:
    env_free(&p.env);
    env_free(&p.weights);
    env_free(&p.names);
    return st;
}

LlmcStatus llmc_model_check_weights(LlmcGraph *g, LlmcWeightFiles *wf, LlmcDiag *d)
{
    for (int i = 0; i < g->nt; i++) {
        LlmcTensor *t = &g->t[i];
        if (t->kind != LLMC_T_WEIGHT || t->src.n_parts || t->src.pq.kind != LLMC_PQ_NONE)
            continue; /* a quantized matrix: its members are checked */
        const uint8_t *data;
        if (llmc_wf_resolve_tensor(wf, t, &data, d))
            return LLMC_ERR;
    }
    return LLMC_OK;
}
