/* prequant.c — matrices a checkpoint stores already quantized (AWQ, GPTQ, ModelOpt NVFP4): the
 * tensors of each encoding, their shapes, and their decoding into llmc's own format, exactly
 * (docs/formats.md, "Quantized checkpoints" and "Importing quantized checkpoints").
 *
 * An encoding stores a matrix W [N, K] (N outputs, K inputs) in member tensors: AWQ and GPTQ in
 * qweight, qzeros, scales and (GPTQ) g_idx, 4-bit values packed eight to an int32; NVFP4 in weight
 * (E2M1 codes two a byte), weight_scale (E4M3 a block of 16) and weight_scale_2 (f32). Nothing here
 * requantizes: each 4-bit value, zero point and scale becomes llmc's u4 value, f16 zero and f16
 * scale of the same element (W[n][k] = (q - z) s in both), in llmc's orientation (row n of W, groups
 * along K); NVFP4's codes and scales are llmc's nvfp4 as they are. A GPTQ act-order matrix (g_idx not k / group) is stored with K permuted so that each
 * group's columns are contiguous (fe_pq_perm); the matmul gathers its input the same way (the
 * act_order pass).
 *
 * model.json reads the encodings' member lists from here (fe_pq_member), the weight source
 * (weightfiles.c) decodes rows with fe_pq_rows, and the Hugging Face importer (hf_quant.c) binds
 * checkpoints with them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"

int fe_pq_kind_from_name(const char *s)
{
    for (int k = LLMC_PQ_NONE + 1; k < LLMC_PQ_COUNT; k++)
        if (strcmp(s, llmc_pq_name(k)) == 0)
            return k;
    return -1;
}

/* The members of each encoding, in LlmcPrequant.member order. */
enum { M_QWEIGHT, M_QZEROS, M_SCALES, M_GIDX };          /* AWQ, GPTQ */
enum { M_WEIGHT, M_WSCALE, M_WSCALE2, M_INSCALE };       /* NVFP4 */
static const char *const gptq_names[] = {"qweight", "qzeros", "scales", "g_idx"};
static const char *const nvfp4_names[] = {"weight", "weight_scale", "weight_scale_2", "input_scale"};

#define BIT(t) (1u << (t))

LlmcDType fe_pq_format(int kind) { return kind == LLMC_PQ_NVFP4 ? LLMC_NVFP4 : LLMC_U4; }

int fe_pq_member(int kind, int i, int64_t N, int64_t K, int64_t group, FePqMember *m)
{
    if (kind <= LLMC_PQ_NONE || kind >= LLMC_PQ_COUNT || i < 0 || i >= (kind == LLMC_PQ_AWQ ? 3 : 4))
        return 0;
    int64_t G = (K + group - 1) / group;
    memset(m, 0, sizeof *m);
    m->rank = 2;
    if (kind == LLMC_PQ_NVFP4) {
        static const FePqMember spec[4] = {
            {"weight", 1, 2, {0, 0}, "[N, K / 2] uint8 (two E2M1 values a byte)", BIT(LLMC_U8)},
            {"weight_scale", 1, 2, {0, 0}, "[N, K / 16] float8_e4m3fn", BIT(LLMC_E4M3)},
            {"weight_scale_2", 1, 1, {1, 0}, "[] or [1] float32", BIT(LLMC_F32)},
            {"input_scale", 0, 1, {1, 0}, "[] or [1] float32", BIT(LLMC_F32)},
        };
        *m = spec[i];
        if (i == M_WEIGHT)
            m->shape[0] = N, m->shape[1] = K / 2;
        if (i == M_WSCALE)
            m->shape[0] = N, m->shape[1] = G;
        (void)nvfp4_names;
        return 1;
    }
    int awq = kind == LLMC_PQ_AWQ;
    m->role = gptq_names[i];
    m->required = i != M_GIDX;
    m->dtypes = BIT(LLMC_I32);
    switch (i) {
    case M_QWEIGHT: /* AWQ: packed along N; GPTQ: along K */
        m->shape[0] = awq ? K : K / 8;
        m->shape[1] = awq ? N / 8 : N;
        m->what = awq ? "[K, N / 8] int32" : "[K / 8, N] int32";
        break;
    case M_QZEROS:
        m->shape[0] = G;
        m->shape[1] = N / 8;
        m->what = "[groups, N / 8] int32";
        break;
    case M_SCALES:
        m->shape[0] = G;
        m->shape[1] = N;
        m->what = "[groups, N] f16, bf16 or f32";
        m->dtypes = BIT(LLMC_F16) | BIT(LLMC_BF16) | BIT(LLMC_F32);
        break;
    default:
        m->rank = 1;
        m->shape[0] = K;
        m->what = "[K] int32";
        break;
    }
    return 1;
}

const char *fe_pq_check_dims(int kind, int64_t N, int64_t K, int64_t group, char *buf, size_t n)
{
    buf[0] = 0;
    if (kind == LLMC_PQ_NVFP4) {
        if (group != 16)
            snprintf(buf, n, "group %lld: NVFP4 scales blocks of 16 inputs", (long long)group);
        else if (K % 16)
            snprintf(buf, n, "K = %lld inputs: expected a multiple of 16 (NVFP4's blocks)", (long long)K);
        return buf[0] ? buf : NULL;
    }
    if (N % 8)
        snprintf(buf, n, "N = %lld outputs: expected a multiple of 8 (eight 4-bit values a word)", (long long)N);
    else if (K % 8)
        snprintf(buf, n, "K = %lld inputs: expected a multiple of 8", (long long)K);
    else if (group < 2 || group % 2 || group > K)
        snprintf(buf, n, "group %lld: expected an even number of inputs up to K = %lld", (long long)group,
                 (long long)K);
    else if (kind == LLMC_PQ_AWQ && K % group)
        snprintf(buf, n, "group %lld: AWQ needs K = %lld to be whole groups", (long long)group, (long long)K);
    return buf[0] ? buf : NULL;
}

/* ---- decoding ---- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

LlmcStatus fe_pq_perm(const uint8_t *g_idx, int64_t K, int64_t group, int32_t *perm, const char *what,
                      LlmcDiag *d)
{
    int64_t G = (K + group - 1) / group;
    int64_t *start = calloc((size_t)G + 1, sizeof *start);
    if (!start)
        return llmc_fail(d, "%s: out of memory", what);
    /* Counting sort, stable: the inputs of group 0 in order, then group 1's, ... */
    for (int64_t k = 0; k < K; k++) {
        int32_t v = (int32_t)le32(g_idx + 4 * k);
        if (v < 0 || v >= G) {
            free(start);
            return llmc_fail(d, "%s: element %lld is %d: expected a group index 0 .. %lld (K %lld, group %lld)",
                             what, (long long)k, v, (long long)(G - 1), (long long)K, (long long)group);
        }
        start[v + 1]++;
    }
    for (int64_t i = 0; i < G; i++) {
        int64_t want = i < G - 1 ? group : K - group * (G - 1);
        if (start[i + 1] != want) {
            LlmcStatus s = llmc_fail(d, "%s: group %lld has %lld inputs, expected %lld (act-order groups hold "
                                     "exactly group_size inputs)", what, (long long)i, (long long)start[i + 1],
                                     (long long)want);
            free(start);
            return s;
        }
        start[i + 1] += start[i];
    }
    for (int64_t k = 0; k < K; k++)
        perm[start[le32(g_idx + 4 * k)]++] = (int32_t)k;
    free(start);
    return LLMC_OK;
}

int fe_pq_perm_is_identity(const int32_t *perm, int64_t K)
{
    for (int64_t k = 0; k < K; k++)
        if (perm[k] != k)
            return 0;
    return 1;
}

/* A scale as f32, exactly an f16 (llmc's scale format), or an error. */
static LlmcStatus scale_at(const FePqData *m, int64_t i, int64_t n, int64_t N, float *out, LlmcDiag *d)
{
    const uint8_t *p = m->data[M_SCALES] + llmc_format_bytes(m->dtype[M_SCALES], i * N + n);
    float v;
    llmc_format(m->dtype[M_SCALES])->to_f32(p, &v, 1);
    if (!isfinite(v) || llmc_f16_to_f32(llmc_f32_to_f16(v)) != v)
        return llmc_fail(d, "%s: element [%lld, %lld] is %g: expected a finite value that f16 holds exactly "
                         "(llmc keeps the checkpoint's scales as f16; in %s)", m->name[M_SCALES], (long long)i,
                         (long long)n, (double)v, m->file[M_SCALES]);
    *out = v;
    return LLMC_OK;
}

/* NVFP4 (ModelOpt): weight's rows are llmc's nvfp4 rows (two E2M1 codes a byte, even column low);
 * weight_scale is the E4M3 block scales as they are; weight_scale_2 the f32 tensor scale. */
static LlmcStatus nvfp4_rows(const FePqData *m, int64_t r0, int64_t nr, uint8_t *q, float *const *side, LlmcDiag *d)
{
    const int64_t K = m->K, G = K / 16;
    float t;
    memcpy(&t, m->data[M_WSCALE2], 4);
    if (!isfinite(t))
        return llmc_fail(d, "%s: is %g: expected a finite per-tensor scale (in %s)", m->name[M_WSCALE2], (double)t,
                         m->file[M_WSCALE2]);
    side[1][0] = t;
    for (int64_t r = 0; r < nr; r++) {
        const int64_t n = r0 + r;
        memcpy(q + (size_t)(r * (K / 2)), m->data[M_WEIGHT] + n * (K / 2), (size_t)(K / 2));
        for (int64_t i = 0; i < G; i++) {
            uint8_t c = m->data[M_WSCALE][n * G + i];
            if ((c & 0x7f) == 0x7f)
                return llmc_fail(d, "%s: element [%lld, %lld] is E4M3's NaN: expected a block scale (in %s)",
                                 m->name[M_WSCALE], (long long)n, (long long)i, m->file[M_WSCALE]);
            side[0][r * G + i] = llmc_e4m3_to_f32(c);
        }
    }
    return LLMC_OK;
}

LlmcStatus fe_pq_rows(const FePqData *m, int64_t r0, int64_t nr, uint8_t *q, float *const *side, LlmcDiag *d)
{
    if (m->kind == LLMC_PQ_NVFP4)
        return nvfp4_rows(m, r0, nr, q, side, d);
    const int64_t N = m->N, K = m->K, g = m->group, G = (K + g - 1) / g, W8 = N / 8;
    const int awq = m->kind == LLMC_PQ_AWQ;
    static const int awq_nibble[8] = {0, 4, 1, 5, 2, 6, 3, 7}; /* column 8c + j is nibble awq_nibble[j] */
    const uint8_t *qw = m->data[M_QWEIGHT];
    const size_t rb = (size_t)llmc_format_bytes(LLMC_U4, K);
    if (!awq && !m->perm) {
        /* GPTQ's word (k / 8, n) holds inputs 8 (k / 8) .. + 7 in nibbles 0..7: as little-endian
         * bytes, exactly u4's pairs (even input low): a row is its words copied. */
        for (int64_t r = 0; r < nr; r++)
            for (int64_t k8 = 0; k8 < K / 8; k8++)
                memcpy(q + (size_t)r * rb + 4 * k8, qw + 4 * (k8 * N + r0 + r), 4);
    } else {
        /* The 4-bit values of the block's rows in K order (vals[r][k]), a word read once for the
         * eight values it holds; then each row in stored order: column j holds input perm[j]
         * (act-order), two values a byte, even low. */
        uint8_t *vals = malloc((size_t)(nr * K));
        if (!vals)
            return llmc_fail(d, "%s: out of memory", m->name[M_QWEIGHT]);
        for (int64_t k = 0; k < K; k++) {
            if (awq) { /* word (k, c): columns 8c .. 8c + 7, interleaved */
                for (int64_t c = r0 / 8; c <= (r0 + nr - 1) / 8; c++) {
                    uint32_t w = le32(qw + 4 * (k * W8 + c));
                    for (int j = 0; j < 8; j++) {
                        int64_t r = 8 * c + j - r0;
                        if (r >= 0 && r < nr)
                            vals[r * K + k] = (uint8_t)(w >> (4 * awq_nibble[j]) & 15);
                    }
                }
            } else if (k % 8 == 0) { /* word (k / 8, n): inputs k .. k + 7 of column n */
                for (int64_t r = 0; r < nr; r++) {
                    uint32_t w = le32(qw + 4 * (k / 8 * N + r0 + r));
                    for (int j = 0; j < 8; j++)
                        vals[r * K + k + j] = (uint8_t)(w >> (4 * j) & 15);
                }
            }
        }
        for (int64_t r = 0; r < nr; r++)
            for (int64_t j = 0; j < K; j += 2) {
                int64_t a = m->perm ? m->perm[j] : j, b = m->perm ? m->perm[j + 1] : j + 1;
                q[(size_t)r * rb + (size_t)(j / 2)] = (uint8_t)(vals[r * K + a] | vals[r * K + b] << 4);
            }
        free(vals);
    }
    /* Group i of a stored row is the checkpoint's group i (act-order sorts the inputs by group). */
    LlmcStatus st = LLMC_OK;
    for (int64_t r = 0; r < nr && !st; r++) {
        const int64_t n = r0 + r;
        const int sh = 4 * (awq ? awq_nibble[n % 8] : (int)(n % 8));
        for (int64_t i = 0; i < G && !st; i++) {
            float s = 0;
            st = scale_at(m, i, n, N, &s, d);
            if (st)
                break;
            side[0][r * G + i] = s;
            int z = (int)(le32(m->data[M_QZEROS] + 4 * (i * W8 + n / 8)) >> sh & 15);
            if (m->kind == LLMC_PQ_GPTQ)
                z += 1; /* v1: stored minus one, read back without wrapping (1..16) */
            if (m->zeros)
                side[1][r * G + i] = (float)z;
            else if (z != 8)
                st = llmc_fail(d, "%s: group %lld, column %lld: zero point %d (stored %d), expected 8: the "
                               "checkpoint's quantization_config says sym (symmetric: every zero point 8; in %s)",
                               m->name[M_QZEROS], (long long)i, (long long)n, z,
                               m->kind == LLMC_PQ_GPTQ ? z - 1 : z, m->file[M_QZEROS]);
        }
    }
    return st;
}
