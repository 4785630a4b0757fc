/* kv_formats.h — the KV cache's storage formats at row level, in plain C: the functions the
 * reference interpreter (ir/interp.c) and the cpu target's kernels (codegen/c_prelude.h, pasted into
 * generated C) both read and write the paged pool through, so that the two agree by construction.
 *
 * Where rows live is ir/kv_layout.h: a block holds, for each layer, a K section and a V section (each
 * in its own format, --kv K,V), a section the BS x HKV token-head rows of its positions' values, then
 * the rows' TOKEN_HEAD sides (formats.def: int8/int4 an f16 scale and zero each, the test-only k8 an
 * f32 scale). A writer stores a position's heads at once (kv_put_rows), a reader takes one
 * token-head row (kv_get_row). fp8's scale is LAYER_HEAD (one per layer and KV head, in the model's
 * constants): the caller passes the heads' scales (hs). Keyed by FMT_<id> (format_ids.h); F is a
 * constant in generated code, so every call folds to its format's branch.
 *
 * Quantizers round to nearest (ties to even) with the operations written here and nothing fused
 * (no a * b + c a compiler could contract): the CUDA kernels (codegen/cuda_kv.cuh) repeat them
 * operation for operation, so the quantized bytes agree bit for bit.
 */
#ifndef LLMC_KV_FORMATS_H
#define LLMC_KV_FORMATS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "format_ids.h"
#include "kv_layout.h"

#define KV_INLINE static inline __attribute__((always_inline))

/* f16 <-> f32, round to nearest even (the bits of ir/base.c's llmc_f32_to_f16 and of the GPU's
 * cvt.rn.f16.f32). */
KV_INLINE float kv_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    float f;
    if (exp == 0) {
        f = (float)man * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    u = exp == 31 ? sign | 0x7f800000u | (man << 13) : sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &u, 4);
    return f;
}
KV_INLINE uint16_t kv_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000, a = u & 0x7fffffff;
    if (a >= 0x7f800000)
        return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000 ? 0x200 : 0));
    if (a >= 0x477ff000)
        return (uint16_t)(sign | 0x7c00);
    if (a < 0x38800000) {
        float av;
        memcpy(&av, &a, 4);
        float v = av * 16777216.0f;
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (uint16_t)(sign | m);
    }
    return (uint16_t)(sign | ((a + 0xfff + ((a >> 13) & 1) - (112u << 23)) >> 13));
}

/* E4M3 (OCP e4m3fn) <-> f32: the bits of ir/base.c's llmc_f32_to_e4m3 / llmc_e4m3_to_f32, round to
 * nearest even, saturating at +-448, NaN to 0 (never the NaN code). */
KV_INLINE uint8_t kv_e4m3_enc(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 24) & 0x80, a = u & 0x7fffffff;
    if (a > 0x7f800000)
        return 0;
    if (a >= 0x43e80000)
        return (uint8_t)(sign | 0x7e);
    if (a < 0x3c800000) {
        float av;
        memcpy(&av, &a, 4);
        float v = av * 512.0f;
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (uint8_t)(sign | m);
    }
    return (uint8_t)(sign | ((a + 0x7ffff + ((a >> 20) & 1) - (120u << 23)) >> 20));
}
KV_INLINE float kv_e4m3_dec(uint8_t q)
{
    uint32_t u = ((uint32_t)(q & 0x80) << 24) | ((uint32_t)(q & 0x7f) << 20);
    float f;
    memcpy(&f, &u, 4);
    return f * 0x1p120f; /* exact for normals and subnormals (the NaN code is never written) */
}

/* Asymmetric quantization of one row of n values to codes 0..Q (int8: 255, int4: 15): the scale
 * s = (max - min) / Q and the zero z = min, both rounded to f16 (saturated at +-65504; a scale that
 * is 0 in f16, the row constant or nearly, becomes 1), then code = round((x - z) / s) clamped to
 * 0..Q while a float. x = code * s + z. */
KV_INLINE void kv_asym_params(const float *x, int n, float Q, uint16_t *s16, uint16_t *z16)
{
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    float s = (mx - mn) / Q;
    s = s < 65504.0f ? s : 65504.0f;
    mn = mn > -65504.0f ? (mn < 65504.0f ? mn : 65504.0f) : -65504.0f;
    *s16 = kv_f32_to_f16(s);
    if ((*s16 & 0x7fff) == 0)
        *s16 = 0x3c00; /* 1.0 */
    *z16 = kv_f32_to_f16(mn);
}
KV_INLINE uint32_t kv_asym_code(float x, float s, float z, float Q)
{
    float v = rintf((x - z) / s);
    v = v >= 0.0f ? (v <= Q ? v : Q) : 0.0f; /* NaN: 0 */
    return (uint32_t)v;
}

/* Each function has a branch for each KV format (formats.def LLMC_FMT_KV); any other F is a bug
 * (the verifier allows no other) and traps. */

/* Stores the HKV token-head rows of position off of the section at sec (BS positions; keys W 0,
 * values 1) from x[HKV * HD]; hs[HKV]: the heads' scales where F has a LAYER_HEAD one (fp8), else
 * unused. KIVI rows are not stored one at a time: the ring holds them in f16 until kv_seal. */
KV_INLINE void kv_put_rows(int F, int W, int BS, int HKV, int HD, uint8_t *sec, int off, const float *x,
                           const float *hs)
{
    const int64_t r0 = (int64_t)off * HKV;
    uint8_t *vals = sec + r0 * kv_vbytes(F, HD), *sides = sec + kv_sides_at(F, BS, HKV, HD) + r0 * kv_row_sbytes(F, W, HD);
    if (F == FMT_F16) {
        for (int64_t i = 0; i < (int64_t)HKV * HD; i++) {
            uint16_t h = kv_f32_to_f16(x[i]);
            memcpy(vals + 2 * i, &h, 2);
        }
        return;
    }
    if (F == FMT_F32) {
        memcpy(vals, x, sizeof(float) * (size_t)HKV * (size_t)HD);
        return;
    }
    if (F == FMT_KV_FP8) { /* e4m3(x / the head's scale) */
        for (int h = 0; h < HKV; h++)
            for (int i = 0; i < HD; i++)
                vals[(int64_t)h * HD + i] = kv_e4m3_enc(x[(int64_t)h * HD + i] / hs[h]);
        return;
    }
    if (F == FMT_INT8 || F == FMT_INT4) {
        const float Q = F == FMT_INT8 ? 255.0f : 15.0f;
        for (int h = 0; h < HKV; h++) {
            const float *xr = x + (int64_t)h * HD;
            uint8_t *q = vals + (int64_t)h * kv_vbytes(F, HD);
            uint16_t s16, z16;
            kv_asym_params(xr, HD, Q, &s16, &z16);
            float s = kv_f16_to_f32(s16), z = kv_f16_to_f32(z16);
            if (F == FMT_INT8) {
                for (int i = 0; i < HD; i++)
                    q[i] = (uint8_t)kv_asym_code(xr[i], s, z, Q);
            } else {
                for (int i = 0; i < HD; i += 2)
                    q[i / 2] = (uint8_t)(kv_asym_code(xr[i], s, z, Q) |
                                         (i + 1 < HD ? kv_asym_code(xr[i + 1], s, z, Q) << 4 : 0));
            }
            memcpy(sides + 4 * h, &s16, 2);
            memcpy(sides + 4 * h + 2, &z16, 2);
        }
        return;
    }
    if (F == FMT_K8) { /* each row: int8 values x / s, s = max |x| / 127 (1 for a zero row) */
        for (int h = 0; h < HKV; h++) {
            const float *xr = x + (int64_t)h * HD;
            uint8_t *q = vals + (int64_t)h * HD;
            float amax = 0.0f;
            for (int i = 0; i < HD; i++)
                amax = fabsf(xr[i]) > amax ? fabsf(xr[i]) : amax;
            float s = amax > 0 ? amax / 127.0f : 1.0f;
            for (int i = 0; i < HD; i++) {
                float v = rintf(xr[i] / s);
                q[i] = (uint8_t)(int8_t)(v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v);
            }
            memcpy(sides + 4 * h, &s, 4);
        }
        return;
    }
    __builtin_trap();
}

/* The HD values of the token-head row of position off, head h, of the section at sec (keys W 0,
 * values 1): the row itself for f32, else decoded into buf[HD]. hs: the head's LAYER_HEAD scale
 * (fp8), else unused. */
KV_INLINE const float *kv_get_row(int F, int W, int BS, int HKV, int HD, const uint8_t *sec, int off, int h,
                                  float *buf, float hs)
{
    const int64_t r = (int64_t)off * HKV + h;
    const uint8_t *vals = sec + r * kv_vbytes(F, HD), *sides = sec + kv_sides_at(F, BS, HKV, HD) + r * kv_row_sbytes(F, W, HD);
    if (F == FMT_F16) {
        for (int i = 0; i < HD; i++) {
            uint16_t v;
            memcpy(&v, vals + 2 * i, 2);
            buf[i] = kv_f16_to_f32(v);
        }
        return buf;
    }
    if (F == FMT_F32)
        return (const float *)vals;
    if (F == FMT_KV_FP8) {
        for (int i = 0; i < HD; i++)
            buf[i] = kv_e4m3_dec(vals[i]) * hs;
        return buf;
    }
    if (F == FMT_INT8 || F == FMT_INT4) {
        uint16_t s16, z16;
        memcpy(&s16, sides, 2);
        memcpy(&z16, sides + 2, 2);
        float s = kv_f16_to_f32(s16), z = kv_f16_to_f32(z16);
        for (int i = 0; i < HD; i++)
            buf[i] = (float)(F == FMT_INT8 ? vals[i] : (vals[i / 2] >> (4 * (i & 1))) & 15) * s + z;
        return buf;
    }
    if (kv_is_kivi(F)) { /* keys: the channel's scale and zero of the row's group; values: its group of channels' */
        const int bits = F == FMT_KIVI2 ? 2 : 4, per = 8 / bits;
        const uint8_t *gs = sec + kv_groups_at(F, W, BS, HKV, HD) +
                            ((int64_t)(off / KV_KIVI_G) * HKV + h) * kv_group_sbytes(F, W, HD);
        for (int i = 0; i < HD; i++) {
            const uint8_t *sz = W == 0 ? gs + 4 * i : sides + 4 * (i / KV_KIVI_G);
            uint16_t s16, z16;
            memcpy(&s16, sz, 2);
            memcpy(&z16, sz + 2, 2);
            uint32_t c = (uint32_t)(vals[i / per] >> (bits * (i % per))) & ((1u << bits) - 1);
            buf[i] = (float)c * kv_f16_to_f32(s16) + kv_f16_to_f32(z16);
        }
        return buf;
    }
    if (F == FMT_K8) {
        float s;
        memcpy(&s, sides, 4);
        for (int i = 0; i < HD; i++)
            buf[i] = (float)(int8_t)vals[i] * s;
        return buf;
    }
    __builtin_trap();
}

/* Code c (bits wide) as element d of a row of packed codes (element d in bits bits * (d % (8 / bits))
 * of byte d / (8 / bits)), the byte's other codes kept. */
KV_INLINE void kv_put_code(uint8_t *vals, int d, int bits, uint32_t c)
{
    const int per = 8 / bits, sh = bits * (d % per);
    vals[d / per] = (uint8_t)((vals[d / per] & ~(((1u << bits) - 1) << sh)) | c << sh);
}

/* KIVI: the group of G positions from off0 (a multiple of G) of the section at sec (BS positions;
 * keys W 0, values 1) quantized from their f16 rows in the ring: rows[i] is position off0 + i's HKV
 * heads of HD f16 values. Keys per head and channel over the G positions, values per position,
 * head and group of G channels; asymmetric as int8 (kv_asym_params, kv_asym_code) with Q = 3
 * (kivi2) or 15 (kivi4). */
KV_INLINE void kv_seal(int F, int W, int BS, int HKV, int HD, uint8_t *sec, int off0, const uint8_t *const *rows)
{
    const int bits = F == FMT_KIVI2 ? 2 : 4;
    const float Q = (float)((1 << bits) - 1);
    float x[KV_KIVI_G];
    uint16_t s16, z16;
    for (int h = 0; h < HKV; h++) {
        if (W == 0) {
            uint8_t *gs = sec + kv_groups_at(F, W, BS, HKV, HD) + ((int64_t)(off0 / KV_KIVI_G) * HKV + h) * kv_group_sbytes(F, W, HD);
            for (int d = 0; d < HD; d++) {
                for (int i = 0; i < KV_KIVI_G; i++) {
                    uint16_t v;
                    memcpy(&v, rows[i] + 2 * ((int64_t)h * HD + d), 2);
                    x[i] = kv_f16_to_f32(v);
                }
                kv_asym_params(x, KV_KIVI_G, Q, &s16, &z16);
                float sc = kv_f16_to_f32(s16), z = kv_f16_to_f32(z16);
                memcpy(gs + 4 * d, &s16, 2);
                memcpy(gs + 4 * d + 2, &z16, 2);
                for (int i = 0; i < KV_KIVI_G; i++)
                    kv_put_code(sec + ((int64_t)(off0 + i) * HKV + h) * kv_vbytes(F, HD), d, bits,
                                kv_asym_code(x[i], sc, z, Q));
            }
        } else {
            for (int i = 0; i < KV_KIVI_G; i++) {
                int64_t r = (int64_t)(off0 + i) * HKV + h;
                for (int j = 0; j < HD; j += KV_KIVI_G) {
                    int n = HD - j < KV_KIVI_G ? HD - j : KV_KIVI_G;
                    for (int c = 0; c < n; c++) {
                        uint16_t v;
                        memcpy(&v, rows[i] + 2 * ((int64_t)h * HD + j + c), 2);
                        x[c] = kv_f16_to_f32(v);
                    }
                    kv_asym_params(x, n, Q, &s16, &z16);
                    float sc = kv_f16_to_f32(s16), z = kv_f16_to_f32(z16);
                    uint8_t *sz = sec + kv_sides_at(F, BS, HKV, HD) + r * kv_row_sbytes(F, W, HD) + 4 * (j / KV_KIVI_G);
                    memcpy(sz, &s16, 2);
                    memcpy(sz + 2, &z16, 2);
                    for (int c = 0; c < n; c++)
                        kv_put_code(sec + r * kv_vbytes(F, HD), j + c, bits, kv_asym_code(x[c], sc, z, Q));
                }
            }
        }
    }
}

/* ---- a layer's K and V of a position, through the block table (the pool's whole view) ----
 * table: the sequence's block table row of stride entries (its last kv_ring_blocks entries are its
 * ring's blocks: ir/kv_layout.h); kv: the pool; hs: the model's LAYER_HEAD scales ([L][2][HKV]) or
 * 0. */

/* The f16 ring section holding position p's rows of layer `layer`, keys or values; *slot: the
 * position's place in it. */
KV_INLINE uint8_t *kv_ring_sec(int KF, int VF, int L, int BS, int HKV, int HD, uint8_t *kv, const int32_t *table,
                               int stride, int layer, int which, int p, int *slot)
{
    const long long s = p % kv_ring_len(KF, VF, L, BS, HKV, HD), rp = kv_ring_per_block(KF, VF, L, BS, HKV, HD);
    const int64_t blk = table[stride - kv_ring_blocks(KF, VF, L, BS, HKV, HD) + s / rp];
    *slot = (int)(s % rp);
    return kv + blk * kv_block_bytes(KF, VF, L, BS, HKV, HD) + kv_ring_sec_at(KF, VF, L, BS, HKV, HD, layer, which);
}

/* Position p's K (k[HKV * HD]) and V rows of one layer stored: a format that stores rows one at a
 * time into the block of p (blk, offset off); with a ring (KIVI), both also in f16 into p's ring
 * slot, from which kv_seal_group quantizes KIVI's later. */
KV_INLINE void kv_store_pos(int KF, int VF, int L, int BS, int HKV, int HD, uint8_t *kv, const int32_t *table,
                            int stride, int layer, int p, int64_t blk, int off, const float *k, const float *v,
                            const float *hs)
{
    for (int w = 0; w < 2; w++) {
        const int F = w ? VF : KF;
        if (!kv_is_kivi(F))
            kv_put_rows(F, w, BS, HKV, HD, kv + kv_sec_at(KF, VF, L, BS, HKV, HD, blk, layer, w), off, w ? v : k,
                        hs ? hs + ((int64_t)layer * 2 + w) * HKV : 0);
        if (kv_has_ring(KF, VF)) {
            int slot;
            uint8_t *rs = kv_ring_sec(KF, VF, L, BS, HKV, HD, kv, table, stride, layer, w, p, &slot);
            kv_put_rows(FMT_F16, w, (int)kv_ring_per_block(KF, VF, L, BS, HKV, HD), HKV, HD, rs, slot, w ? v : k, 0);
        }
    }
}

/* The KIVI sides' group that position p ends ((p + 1) % G == 0) quantized from the ring into its
 * block (every other format's rows are in place already). */
KV_INLINE void kv_seal_group(int KF, int VF, int L, int BS, int HKV, int HD, uint8_t *kv, const int32_t *table,
                             int stride, int layer, int p)
{
    const int p0 = p + 1 - KV_KIVI_G;
    const uint8_t *rows[KV_KIVI_G];
    for (int w = 0; w < 2; w++) {
        const int F = w ? VF : KF;
        if (!kv_is_kivi(F))
            continue;
        for (int i = 0; i < KV_KIVI_G; i++) {
            int slot;
            const uint8_t *rs = kv_ring_sec(KF, VF, L, BS, HKV, HD, kv, table, stride, layer, w, p0 + i, &slot);
            rows[i] = rs + (int64_t)slot * HKV * HD * 2;
        }
        kv_seal(F, w, BS, HKV, HD, kv + kv_sec_at(KF, VF, L, BS, HKV, HD, table[p0 / BS], layer, w), p0 % BS, rows);
    }
}

/* The HD values (keys W 0, values 1) of head h at position p of one layer, as a query that sees
 * positions 0..pe reads them: from p's block, or in f16 from the ring where p >= kv_qlimit(pe + 1)
 * (a cache with a ring); decoded into buf[HD] (the row itself for f32). */
KV_INLINE const float *kv_read(int KF, int VF, int L, int BS, int HKV, int HD, uint8_t *kv, const int32_t *table,
                               int stride, int layer, int w, int p, int pe, int h, float *buf, const float *hs)
{
    if (kv_has_ring(KF, VF) && p >= kv_qlimit((long long)pe + 1)) {
        int slot;
        const uint8_t *rs = kv_ring_sec(KF, VF, L, BS, HKV, HD, kv, table, stride, layer, w, p, &slot);
        return kv_get_row(FMT_F16, w, (int)kv_ring_per_block(KF, VF, L, BS, HKV, HD), HKV, HD, rs, slot, h, buf, 1.0f);
    }
    return kv_get_row(w ? VF : KF, w, BS, HKV, HD, kv + kv_sec_at(KF, VF, L, BS, HKV, HD, table[p / BS], layer, w),
                      p % BS, h, buf, hs ? hs[((int64_t)layer * 2 + w) * HKV + h] : 1.0f);
}

#endif
