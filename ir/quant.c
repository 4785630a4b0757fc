/* quant.c — the reference quantizers of formats.def (`quant`): each quantized format's quantize and
 * dequantize of one group of a row with its side tensors' values, in plain C, and the row loops
 * over them. The packer quantizes with them (codegen/pack.c), the tests dequantize with them; the
 * kernels' own decoders (codegen/c_formats.h, codegen/cuda_formats.cuh) must agree with them.
 *
 * Round to nearest everywhere; the values are quantized against their scale as stored (rounded to
 * the side's format first), so they fit exactly what the kernels read (docs/formats.md).
 * Every scale is finite and positive: a group of zeros gets 1; a scale that would underflow its
 * format becomes its smallest (f32: the smallest normal, so a group of subnormal values does not get
 * a scale of 0; f16: the smallest subnormal) and one that would overflow its largest finite value.
 * Values past the grid saturate to its end with their sign (the encoders clamp before any integer
 * conversion). The packer refuses NaN and infinities before this; were they here, infinities would
 * count as the largest finite value (and saturate) and NaN as 0.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base.h"

/* Formats without side tensors have no quantizer. */
const LlmcQuantizer llmc_quant_none = {NULL, NULL, NULL};

/* The group's values scaled (v / s + z, before rounding: the format's encoder rounds and clamps)
 * and encoded, in chunks: q is the group's first byte (groups are whole blocks). */
static void encode_scaled(LlmcDType fmt, const float *x, int64_t n, float s, float z, int round, void *q)
{
    float buf[256];
    for (int64_t i = 0; i < n; i += 256) {
        int64_t m = n - i < 256 ? n - i : 256;
        for (int64_t k = 0; k < m; k++) {
            float xv = x[i + k], v = xv == xv ? xv / s : 0; /* NaN: 0 */
            buf[k] = round ? rintf(v) + z : v;
        }
        llmc_format(fmt)->from_f32(buf, (uint8_t *)q + llmc_format_bytes(fmt, i), m);
    }
}

/* The group's smallest and largest values, the range widened to hold 0 (infinities count as the
 * largest finite values, NaN not at all). */
static void group_range(const float *x, int64_t n, float *lo, float *hi)
{
    *lo = 0;
    *hi = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] > FLT_MAX ? FLT_MAX : x[i] < -FLT_MAX ? -FLT_MAX : x[i];
        *lo = v < *lo ? v : *lo;
        *hi = v > *hi ? v : *hi;
    }
}

/* ---- fp8 (E4M3), side 0: the scale (f32) ----
 * scale = max |x| / 448 (1 for an all-zero group); q = e4m3(x / scale), saturating at +-448. */
static void fp8_quantize(const float *x, int64_t n, void *q, float *side, unsigned has)
{
    (void)has;
    float lo, hi;
    group_range(x, n, &lo, &hi);
    float amax = -lo > hi ? -lo : hi;
    float s = amax > 0 ? amax / 448.0f : 1.0f;
    if (!(s >= FLT_MIN) || isinf(s)) /* the scale as its f32 tensor stores it, finite and positive */
        s = amax > 1 ? FLT_MAX : FLT_MIN;
    side[0] = s;
    encode_scaled(LLMC_FP8, x, n, s, 0, 0, q);
}

static void fp8_dequantize(const void *q, int64_t n, const float *side, unsigned has, float *y)
{
    (void)has;
    llmc_fp8_decode(q, y, n);
    for (int64_t i = 0; i < n; i++)
        y[i] *= side[0];
}

const LlmcQuantizer llmc_quant_fp8 = {fp8_quantize, fp8_dequantize, NULL};

/* ---- u4, side 0: the scale (f16), side 1: the zero point (f16 holding 0..15; absent: 8) ----
 * GPTQ's conventions (AutoGPTQ's Quantizer): symmetric scale = 2 max |x| / 15, zero 8; asymmetric
 * over the range widened to hold 0, scale = (max - min) / 15, zero = round(-min / scale);
 * q = clamp(round(x / scale) + zero, 0, 15). The scale is rounded to f16 first; one that underflows
 * or overflows f16 becomes its smallest subnormal or its largest value (capped: the grid cannot
 * cover the group, so the zero goes where it splits the range, both signs keeping codes of their
 * own). */
static void u4_quantize(const float *x, int64_t n, void *q, float *side, unsigned has)
{
    float lo, hi;
    group_range(x, n, &lo, &hi);
    float amax = -lo > hi ? -lo : hi;
    int asym = (has >> 1) & 1;
    float s = !asym ? (amax > 0 ? 2.0f * amax / 15.0f : 1.0f) : (hi - lo > 0 ? (hi - lo) / 15.0f : 1.0f);
    s = llmc_f16_to_f32(llmc_f32_to_f16(s));
    int capped = 0;
    if (!(s > 0) || isinf(s)) {
        capped = amax > 1;
        s = capped ? 65504.0f : 5.96046448e-08f;
    }
    float z = 8;
    if (asym) {
        z = rintf(-lo / s);
        if (capped) {
            z = (float)rint(15 * (-(double)lo / ((double)hi - lo)));
            z = z < (lo < 0) ? (lo < 0) : z > 15 - (hi > 0) ? 15 - (hi > 0) : z;
        }
        z = z >= 0 ? (z <= 15 ? z : 15) : 0;
        side[1] = z;
    }
    side[0] = s;
    encode_scaled(LLMC_U4, x, n, s, z, 1, q);
}

static void u4_dequantize(const void *q, int64_t n, const float *side, unsigned has, float *y)
{
    float z = (has >> 1) & 1 ? side[1] : 8.0f;
    llmc_u4_decode(q, y, n);
    for (int64_t i = 0; i < n; i++)
        y[i] = (y[i] - z) * side[0];
}

const LlmcQuantizer llmc_quant_u4 = {u4_quantize, u4_dequantize, NULL};

/* ---- nvfp4 (NVIDIA's two-level FP4, as ModelOpt's NVFP4QTensor quantizes from the weights), side 0:
 * the block scale (E4M3, a group of 16 values), side 1: the tensor scale (f32, the pre-pass) ----
 * tscale = max |x| of the tensor / (6 * 448) (1 for a tensor of zeros, at least the smallest normal
 * f32); a block's scale = e4m3(max |x| of the block / (6 tscale)) (1 when that is 0, at least 2^-9,
 * E4M3's smallest subnormal; nearest even, saturating at 448); q = e2m1(x / (scale * tscale)), the
 * product rounded to f32 first. w = (e2m1(q) * scale) * tscale: the first product is exact. */
static void nvfp4_prepass(const float *x, int64_t n, float *side, unsigned has)
{
    (void)has;
    if (!x) { /* the tensor's max |x| (held in side[1] so far) to its scale */
        float t = side[1] > 0 ? side[1] / 2688.0f : 1.0f;
        side[1] = t < FLT_MIN ? FLT_MIN : t;
        return;
    }
    float lo, hi;
    group_range(x, n, &lo, &hi);
    float amax = -lo > hi ? -lo : hi;
    side[1] = amax > side[1] ? amax : side[1];
}

static void nvfp4_quantize(const float *x, int64_t n, void *q, float *side, unsigned has)
{
    (void)has;
    float lo, hi;
    group_range(x, n, &lo, &hi);
    float amax = -lo > hi ? -lo : hi, t = side[1];
    float s = amax / (6.0f * t);
    s = s == 0 ? 1.0f : s < 0x1p-9f ? 0x1p-9f : s;
    s = llmc_e4m3_to_f32(llmc_f32_to_e4m3(s));
    side[0] = s;
    encode_scaled(LLMC_NVFP4, x, n, s * t, 0, 0, q);
}

static void nvfp4_dequantize(const void *q, int64_t n, const float *side, unsigned has, float *y)
{
    (void)has;
    llmc_e2m1_decode(q, y, n);
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] * side[0] * side[1];
}

const LlmcQuantizer llmc_quant_nvfp4 = {nvfp4_quantize, nvfp4_dequantize, nvfp4_prepass};

/* ---- rows ---- */
/* ---- rows ---- */

/* The values of the sides for group gi of a row (side pointers as llmc_quantize_row takes them). */
static void group_sides(LlmcDType fmt, const float *const *side, unsigned has, int64_t gi, float *v)
{
    for (int i = 0; i < llmc_format_n_sides(fmt); i++)
        v[i] = !((has >> i) & 1) ? 0.0f
               : llmc_format(fmt)->side[i].shape == LLMC_SHAPE_GROUP ? side[i][gi]
                                                                      : side[i][0];
}

void llmc_quantize_row(LlmcDType fmt, int64_t K, int64_t group, const float *x, void *q, float *const *side,
                       unsigned has)
{
    const LlmcFormatTraits *f = llmc_format(fmt);
    for (int64_t g0 = 0, gi = 0; g0 < K; g0 += group, gi++) {
        int64_t n = K - g0 < group ? K - g0 : group;
        float v[LLMC_MAX_SIDES];
        group_sides(fmt, (const float *const *)side, has, gi, v);
        f->quant->quantize(x + g0, n, (uint8_t *)q + llmc_format_bytes(fmt, g0), v, has);
        for (int i = 0; i < llmc_format_n_sides(fmt); i++)
            if (((has >> i) & 1) && f->side[i].shape == LLMC_SHAPE_GROUP)
                side[i][gi] = v[i];
    }
}

void llmc_dequantize_row(LlmcDType fmt, int64_t K, int64_t group, const void *q, const float *const *side,
                         unsigned has, float *y)
{
    const LlmcFormatTraits *f = llmc_format(fmt);
    for (int64_t g0 = 0, gi = 0; g0 < K; g0 += group, gi++) {
        int64_t n = K - g0 < group ? K - g0 : group;
        float v[LLMC_MAX_SIDES];
        group_sides(fmt, side, has, gi, v);
        f->quant->dequantize((const uint8_t *)q + llmc_format_bytes(fmt, g0), n, v, has, y + g0);
    }
}

/* ---- t8 (a test-only format, formats.def): int8 values -127..127; side 0: a scale a group, f16;
 * side 1: a scale for the whole tensor, f32 (the pre-pass: its max |x| / 127). w = q (scale tscale).
 * Here to show a format whose quantizer needs a whole-tensor statistic. ---- */
void llmc_t8_decode(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)(int8_t)s[i];
}

void llmc_t8_encode(const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        float v = src[i] != src[i] ? 0.0f : src[i] < -127.0f ? -127.0f : src[i] > 127.0f ? 127.0f : src[i];
        d[i] = (uint8_t)(int8_t)lrintf(v); /* clamped before the conversion */
    }
}

static void t8_prepass(const float *x, int64_t n, float *side, unsigned has)
{
    (void)has;
    if (!x) { /* the tensor's max |x| (held in side[1] so far) to its scale */
        side[1] = side[1] > 0 ? side[1] / 127.0f : 1.0f;
        return;
    }
    for (int64_t i = 0; i < n; i++)
        side[1] = fabsf(x[i]) > side[1] ? fabsf(x[i]) : side[1];
}

static void t8_quantize(const float *x, int64_t n, void *q, float *side, unsigned has)
{
    (void)has;
    float lo, hi;
    group_range(x, n, &lo, &hi);
    float amax = -lo > hi ? -lo : hi, t = side[1];
    float s = llmc_f16_to_f32(llmc_f32_to_f16(amax > 0 ? amax / (127.0f * t) : 1.0f));
    if (!(s > 0) || isinf(s))
        s = amax > t ? 65504.0f : 5.96046448e-08f;
    side[0] = s;
    encode_scaled(LLMC_T8, x, n, s * t, 0, 1, q);
}

static void t8_dequantize(const void *q, int64_t n, const float *side, unsigned has, float *y)
{
    (void)has;
    float st = side[0] * side[1];
    llmc_t8_decode(q, y, n);
    for (int64_t i = 0; i < n; i++)
        y[i] *= st;
}

const LlmcQuantizer llmc_quant_t8 = {t8_quantize, t8_dequantize, t8_prepass};
