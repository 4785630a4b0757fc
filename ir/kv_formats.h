/* kv_formats.h — the KV cache's storage formats at row level, in plain C: the functions the
 * reference interpreter (ir/interp.c) and the cpu target's kernels (codegen/c_prelude.h, pasted into
 * generated C) both read and write the paged pool through, so that the two agree by construction.
 *
 * The pool is blocks of positions; block b holds, for each layer, K then V, each [BS positions][HKV
 * heads] token-head rows of kv_row_bytes(F, HD) bytes: the row's HD values, then the values of the
 * format's TOKEN_HEAD side tensors (formats.def: its scales, one set a row, so that per-token scales
 * need no second pool; f32 and f16 have none; the test-only k8 has an f32 scale). A writer stores a token's heads at once
 * (kv_put_rows), a reader takes one token-head row (kv_get_row). Keyed by FMT_<id> (format_ids.h);
 * F is a constant in generated code, so every call folds to its format's branch.
 */
#ifndef LLMC_KV_FORMATS_H
#define LLMC_KV_FORMATS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "format_ids.h"

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

/* Each function has a branch for each KV format (formats.def LLMC_FMT_KV); any other F is a bug
 * (the verifier allows no other) and traps. */

/* Bytes of one token-head row of HD values in KV format F, its scales included. */
KV_INLINE int64_t kv_row_bytes(int F, int HD)
{
    if (F == FMT_F32)
        return 4 * (int64_t)HD;
    if (F == FMT_F16)
        return 2 * (int64_t)HD;
    if (F == FMT_K8) /* the values, then the row's f32 scale */
        return (int64_t)HD + 4;
    __builtin_trap();
}

/* Stores n token-head rows (a token's heads, one after another from row) from x[n * HD]. */
KV_INLINE void kv_put_rows(int F, int HD, int n, void *row, const float *x)
{
    if (F == FMT_F16) {
        for (int64_t i = 0; i < (int64_t)n * HD; i++) {
            uint16_t h = kv_f32_to_f16(x[i]);
            memcpy((uint8_t *)row + 2 * i, &h, 2);
        }
        return;
    }
    if (F == FMT_F32) {
        memcpy(row, x, sizeof(float) * (size_t)n * (size_t)HD);
        return;
    }
    if (F == FMT_K8) { /* each row: int8 values x / s, s = max |x| / 127 (1 for a zero row) */
        for (int r = 0; r < n; r++) {
            const float *xr = x + (int64_t)r * HD;
            uint8_t *q = (uint8_t *)row + (int64_t)r * (HD + 4);
            float amax = 0.0f;
            for (int i = 0; i < HD; i++)
                amax = fabsf(xr[i]) > amax ? fabsf(xr[i]) : amax;
            float s = amax > 0 ? amax / 127.0f : 1.0f;
            for (int i = 0; i < HD; i++) {
                float v = rintf(xr[i] / s);
                q[i] = (uint8_t)(int8_t)(v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v);
            }
            memcpy(q + HD, &s, 4);
        }
        return;
    }
    __builtin_trap();
}

/* The HD values of the token-head row at row: the row itself for f32, else decoded into buf[HD]. */
KV_INLINE const float *kv_get_row(int F, int HD, const void *row, float *buf)
{
    if (F == FMT_F16) {
        for (int i = 0; i < HD; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)row + 2 * i, 2);
            buf[i] = kv_f16_to_f32(h);
        }
        return buf;
    }
    if (F == FMT_F32)
        return (const float *)row;
    if (F == FMT_K8) {
        float s;
        memcpy(&s, (const uint8_t *)row + HD, 4);
        for (int i = 0; i < HD; i++)
            buf[i] = (float)(int8_t)((const uint8_t *)row)[i] * s;
        return buf;
    }
    __builtin_trap();
}

#endif
