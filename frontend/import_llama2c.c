/* import_llama2c.c — llama2.c checkpoints (karpathy/llama2.c) to model.json.
 *
 * Two float32 layouts, both written by llama2.c's export.py:
 *  - legacy (v0): seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
 *    a negative vocab_size means the classifier is NOT shared), then token_embedding, rms_att[L],
 *    wq[L], wk[L], wv[L], wo[L], rms_ffn[L], w1[L], w2[L], w3[L], rms_final, freq_cis_real and
 *    freq_cis_imag (seq_len * head_dim / 2 floats each, unused: we compute RoPE ourselves), and
 *    wcls when not shared.
 *  - version 1: uint32 magic "ak42" (0x616b3432), int32 version = 1, the same seven int32 (vocab
 *    always positive), uint8 shared_classifier, zeros up to byte 256; then rms_att[L], rms_ffn[L],
 *    rms_final, token_embedding, wq[L], wk[L], wv[L], wo[L], w1[L], w2[L], w3[L], wcls if not shared.
 * Version 2 (int8 Q8_0 groups) and later are refused. No weight is copied: every binding is a raw
 * {"file", "offset", "dtype": "f32", "shape"} into the checkpoint itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fe_internal.h"
#include "llama_graph.h"

#define L2C_MAGIC 0x616b3432u
#define L2C_V1_HEADER 256

typedef struct L2cHeader {
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
    int shared;
    int version;                      /* 0 = legacy */
} L2cHeader;

static int32_t rd_i32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

/* Checks one header field against [lo, hi]. */
static LlmcStatus field(const char *bin, const char *name, int64_t v, int64_t lo, int64_t hi,
                        LlmcDiag *d)
{
    if (v < lo || v > hi)
        return llmc_fail(d, "%s: header field %s: expected %lld..%lld, found %lld (not a llama2.c "
                         "checkpoint, or a damaged one)", bin, name, (long long)lo, (long long)hi,
                         (long long)v);
    return LLMC_OK;
}

static LlmcStatus check_header(const char *bin, const L2cHeader *h, LlmcDiag *d)
{
    if (field(bin, "dim", h->dim, 1, 65536, d) || field(bin, "hidden_dim", h->hidden, 1, 1 << 20, d) ||
        field(bin, "n_layers", h->n_layers, 1, 1024, d) ||
        field(bin, "n_heads", h->n_heads, 1, h->dim, d) ||
        field(bin, "n_kv_heads", h->n_kv_heads, 1, h->n_heads, d) ||
        field(bin, "vocab_size", h->vocab, 1, 1 << 22, d) ||
        field(bin, "seq_len", h->seq_len, 1, 1 << 24, d))
        return LLMC_ERR;
    if (h->dim % h->n_heads)
        return llmc_fail(d, "%s: header field n_heads: expected a divisor of dim (%d), found %d", bin,
                         h->dim, h->n_heads);
    if (h->n_heads % h->n_kv_heads)
        return llmc_fail(d, "%s: header field n_kv_heads: expected a divisor of n_heads (%d), found %d",
                         bin, h->n_heads, h->n_kv_heads);
    if ((h->dim / h->n_heads) % 2)
        return llmc_fail(d, "%s: head dimension dim/n_heads = %d/%d = %d: expected an even number "
                         "(RoPE rotates pairs)", bin, h->dim, h->n_heads, h->dim / h->n_heads);
    return LLMC_OK;
}

/* Adds the binding of `name` (not per layer) at *off, advancing it. Its checkpoint name is
 * llama2.c's (model.py, Meta's layout): NAME.weight. */
static int bind_one(cJSON *w, const char *rel, const char *name, int rank, int64_t r0, int64_t r1, uint64_t *off)
{
    int64_t shape[2] = {r0, r1};
    uint64_t bytes = (uint64_t)r0 * (rank == 2 ? (uint64_t)r1 : 1) * 4;
    char ckpt[64];
    snprintf(ckpt, sizeof ckpt, "%s.weight", name);
    if (fe_bind(w, name, rel, NULL, ckpt, (int64_t)*off, LLMC_F32, rank, shape))
        return -1;
    *off += bytes;
    return 0;
}

/* The tokenizer binding: the given path, else tokenizer.bin or tok<vocab>.bin beside the checkpoint,
 * else JSON null (with a warning). */
static LlmcStatus find_tokenizer(const char *bin, const char *tokenizer, int vocab,
                                 const char *base_dir, cJSON **out, LlmcDiag *d)
{
    char *found = NULL;
    if (tokenizer) {
        if (!fe_is_file(tokenizer))
            return llmc_fail(d, "%s: tokenizer: expected a tokenizer.bin file, found %s", tokenizer,
                             fe_is_dir(tokenizer) ? "a directory" : "none there");
        found = llmc_strdup(tokenizer);
    } else {
        char *dir = llmc_path_dir(bin);
        char name[64];
        snprintf(name, sizeof name, "tok%d.bin", vocab);
        const char *cands[2] = {"tokenizer.bin", name};
        for (int i = 0; dir && i < 2 && !found; i++) {
            char *p = llmc_path_join(dir, cands[i]);
            if (p && fe_is_file(p))
                found = p;
            else
                free(p);
        }
        free(dir);
        if (!found) {
            fprintf(stderr, "llmc: warning: %s: no tokenizer.bin or tok%d.bin beside the checkpoint; "
                            "the model will have no tokenizer (pass one explicitly)\n", bin, vocab);
            *out = cJSON_CreateNull();
            return *out ? LLMC_OK : llmc_fail(d, "%s: out of memory", bin);
        }
    }
    char *rel = found ? fe_rel_path(found, base_dir) : NULL;
    free(found);
    cJSON *t = cJSON_CreateObject();
    if (!rel || !t || !cJSON_AddStringToObject(t, "format", "llama2c") ||
        !cJSON_AddStringToObject(t, "file", rel)) {
        free(rel);
        cJSON_Delete(t);
        return llmc_fail(d, "%s: out of memory", bin);
    }
    free(rel);
    *out = t;
    return LLMC_OK;
}

LlmcStatus llmc_import_llama2c(const char *bin, const char *tokenizer, const char *base_dir,
                               cJSON **model, LlmcDiag *d)
{
    *model = NULL;
    FILE *f = fopen(bin, "rb");
    if (!f)
        return llmc_fail(d, "%s: cannot open: %s", bin, strerror(errno));
    struct stat sb = {0};
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return llmc_fail(d, "%s: is %s, expected a llama2.c checkpoint file", bin, llmc_file_kind(sb.st_mode));
    }
    uint8_t hb[L2C_V1_HEADER];
    size_t got = fread(hb, 1, sizeof hb, f);
    fclose(f);
    uint64_t fsize = (uint64_t)sb.st_size;

    L2cHeader h = {0};
    uint64_t off;
    if (got >= 8 && (uint32_t)rd_i32(hb) == L2C_MAGIC) {
        h.version = rd_i32(hb + 4);
        if (h.version != 1)
            return llmc_fail(d, "%s: llama2.c checkpoint version %d is not supported (expected "
                             "version 1, float32%s)", bin, h.version,
                             h.version == 2 ? "; version 2 is int8 Q8_0: export with --version 1" : "");
        if (got < L2C_V1_HEADER)
            return llmc_fail(d, "%s: truncated: %llu bytes, too small for the 256-byte version 1 "
                             "header", bin, (unsigned long long)fsize);
        h.shared = hb[36];
        if (h.shared > 1)
            return llmc_fail(d, "%s: header field shared_classifier: expected 0 or 1, found %d", bin,
                             h.shared);
        off = 8;
    } else {
        if (got < 28)
            return llmc_fail(d, "%s: %llu bytes: too small for a llama2.c checkpoint header (28 "
                             "bytes)", bin, (unsigned long long)fsize);
        off = 0;
    }
    h.dim = rd_i32(hb + off);
    h.hidden = rd_i32(hb + off + 4);
    h.n_layers = rd_i32(hb + off + 8);
    h.n_heads = rd_i32(hb + off + 12);
    h.n_kv_heads = rd_i32(hb + off + 16);
    h.vocab = rd_i32(hb + off + 20);
    h.seq_len = rd_i32(hb + off + 24);
    if (h.version == 0) {
        h.shared = h.vocab > 0;
        if (h.vocab < 0 && h.vocab != INT32_MIN)
            h.vocab = -h.vocab;
    }
    if (check_header(bin, &h, d))
        return LLMC_ERR;

    const int64_t dim = h.dim, hid = h.hidden, L = h.n_layers, V = h.vocab;
    const int64_t hd = dim / h.n_heads, kv = hd * h.n_kv_heads;
    /* Bytes the header implies (all counts are bounded above, no overflow in 64 bits). */
    uint64_t norms = (uint64_t)(2 * L + 1) * (uint64_t)dim;
    uint64_t mats = (uint64_t)L * (uint64_t)(dim * dim * 2 + kv * dim * 2 + hid * dim * 3);
    uint64_t emb = (uint64_t)(V * dim);
    uint64_t freq = h.version == 0 ? (uint64_t)h.seq_len * (uint64_t)hd : 0; /* real + imag */
    uint64_t hdr = h.version == 0 ? 28 : L2C_V1_HEADER;
    uint64_t need = hdr + 4 * (norms + mats + emb + freq + (h.shared ? 0 : emb));
    if (h.version == 1 ? fsize != need : fsize < need) {
        char shared_s[32];
        snprintf(shared_s, sizeof shared_s, "%s", h.shared ? "shared" : "separate");
        return llmc_fail(d, "%s: file size: expected %s%llu bytes for dim %d, hidden_dim %d, "
                         "n_layers %d, n_heads %d, n_kv_heads %d, vocab %d, seq_len %d (%s classifier), "
                         "found %llu%s", bin, h.version == 1 ? "" : "at least ",
                         (unsigned long long)need, h.dim, h.hidden, h.n_layers, h.n_heads,
                         h.n_kv_heads, h.vocab, h.seq_len, shared_s, (unsigned long long)fsize,
                         fsize < need ? " (truncated?)" : " (trailing bytes)");
    }

    char *rel = fe_rel_path(bin, base_dir);
    cJSON *w = cJSON_CreateObject();
    if (!rel || !w) {
        free(rel);
        cJSON_Delete(w);
        return llmc_fail(d, "%s: out of memory", bin);
    }
    /* Offsets of every array, in file order; the bindings are then listed in model order. */
    uint64_t o_emb, o_att, o_ffn, o_fin, o_q, o_k, o_v, o_o, o_1, o_2, o_3, o_cls;
    uint64_t p = hdr;
    const uint64_t sq = (uint64_t)(dim * dim) * 4, skv = (uint64_t)(kv * dim) * 4;
    const uint64_t sff = (uint64_t)(hid * dim) * 4, sn = (uint64_t)dim * 4;
    if (h.version == 0) {
        o_emb = p, p += emb * 4;
        o_att = p, p += L * sn;
        o_q = p, p += L * sq;
        o_k = p, p += L * skv;
        o_v = p, p += L * skv;
        o_o = p, p += L * sq;
        o_ffn = p, p += L * sn;
        o_1 = p, p += L * sff;
        o_2 = p, p += L * sff;
        o_3 = p, p += L * sff;
        o_fin = p, p += sn;
        p += freq * 4;
        o_cls = p;
    } else {
        o_att = p, p += L * sn;
        o_ffn = p, p += L * sn;
        o_fin = p, p += sn;
        o_emb = p, p += emb * 4;
        o_q = p, p += L * sq;
        o_k = p, p += L * skv;
        o_v = p, p += L * skv;
        o_o = p, p += L * sq;
        o_1 = p, p += L * sff;
        o_2 = p, p += L * sff;
        o_3 = p, p += L * sff;
        o_cls = p;
    }
    int bad = bind_one(w, rel, "tok_embeddings", 2, V, dim, &o_emb);
    for (int l = 0; l < L && !bad; l++) {
        char key[64];
        int64_t s1[1] = {dim}, sq2[2] = {dim, dim}, skv2[2] = {kv, dim};
        int64_t s13[2] = {hid, dim}, s2[2] = {dim, hid};
        char ckpt[96];
        /* llmc's name, llama2.c's (model.py: Meta's layout), the offset of layer 0, its stride */
#define BIND(nm, ck, off, stride, rank, shape)                                                        \
    do {                                                                                              \
        snprintf(key, sizeof key, "layers.%d." nm, l);                                                \
        snprintf(ckpt, sizeof ckpt, "layers.%d." ck ".weight", l);                                    \
        bad |= fe_bind(w, key, rel, NULL, ckpt, (int64_t)((off) + (uint64_t)l * (stride)), LLMC_F32, \
                       rank, shape);                                                                  \
    } while (0)
        BIND("attn_norm", "attention_norm", o_att, sn, 1, s1);
        BIND("wq", "attention.wq", o_q, sq, 2, sq2);
        BIND("wk", "attention.wk", o_k, skv, 2, skv2);
        BIND("wv", "attention.wv", o_v, skv, 2, skv2);
        BIND("wo", "attention.wo", o_o, sq, 2, sq2);
        BIND("ffn_norm", "ffn_norm", o_ffn, sn, 1, s1);
        BIND("w1", "feed_forward.w1", o_1, sff, 2, s13);
        BIND("w2", "feed_forward.w2", o_2, sff, 2, s2);
        BIND("w3", "feed_forward.w3", o_3, sff, 2, s13);
#undef BIND
    }
    if (!bad)
        bad = bind_one(w, rel, "norm", 1, dim, 0, &o_fin);
    if (!bad && !h.shared)
        bad = bind_one(w, rel, "output", 2, V, dim, &o_cls);
    free(rel);
    if (bad) {
        cJSON_Delete(w);
        return llmc_fail(d, "%s: out of memory", bin);
    }

    cJSON *tok = NULL;
    if (find_tokenizer(bin, tokenizer, h.vocab, base_dir, &tok, d)) {
        cJSON_Delete(w);
        return LLMC_ERR;
    }
    char *name = fe_base_name(bin, 1);
    FeLlamaSpec s = {
        .name = name ? name : "model",
        .source = "llama2c",
        .architecture = "llama",
        .dim = dim,
        .ffn_dim = hid,
        .n_layers = L,
        .n_heads = h.n_heads,
        .n_kv_heads = h.n_kv_heads,
        .head_dim = hd,
        .vocab = V,
        .max_seq_len = h.seq_len,
        .bos_id = 1,
        .eos_id = 2,
        .norm_eps = 1e-5,
        .rope = {.theta = 10000.0},
        .rope_style = "interleaved",
        .tied = h.shared,
    };
    LlmcStatus st = fe_build_llama(&s, w, tok, model, d);
    free(name);
    return st;
}
