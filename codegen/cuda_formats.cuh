/* cuda_formats.cuh — everything the kernels know about weight storage formats, so that a new
 * format is added here: WFmt<WK> gives a format's element size, its elements a 16-byte load, one
 * element as a float and the floats of a 16-byte load. WK numbers the formats as the emitters do
 * (llmc_cuda_wk): 0 f32, 1 bf16, 2 f16. Weights are [N][K], K contiguous.
 */
#ifndef LLMC_CUDA_FORMATS_CUH
#define LLMC_CUDA_FORMATS_CUH

#include "cuda_base.cuh"

/* WFmt<WK>: ES bytes an element, VE elements a 16-byte load; load(w, i): element i of w as a float
 * (through the read-only cache); unpack(q, f): the VE values of a 16-byte load q as floats. */
template <int WK>
struct WFmt;
template <>
struct WFmt<0> { /* f32 */
    enum { ES = 4, VE = 4 };
    DEV float load(const void *w, int64_t i) { return __ldg((const float *)w + i); }
    DEV void unpack(const u4 &q, float (&f)[8])
    {
        f[0] = __uint_as_float(q.x);
        f[1] = __uint_as_float(q.y);
        f[2] = __uint_as_float(q.z);
        f[3] = __uint_as_float(q.w);
    }
};
template <>
struct WFmt<1> { /* bf16 */
    enum { ES = 2, VE = 8 };
    DEV float load(const void *w, int64_t i) { return bf16_to_f32(__ldg((const uint16_t *)w + i)); }
    DEV void unpack(const u4 &q, float (&f)[8])
    {
        unpack_bf16(q.x, f[0], f[1]);
        unpack_bf16(q.y, f[2], f[3]);
        unpack_bf16(q.z, f[4], f[5]);
        unpack_bf16(q.w, f[6], f[7]);
    }
};
template <>
struct WFmt<2> { /* f16 */
    enum { ES = 2, VE = 8 };
    DEV float load(const void *w, int64_t i) { return f16_to_f32(__ldg((const uint16_t *)w + i)); }
    DEV void unpack(const u4 &q, float (&f)[8])
    {
        unpack_f16(q.x, f[0], f[1]);
        unpack_f16(q.y, f[2], f[3]);
        unpack_f16(q.z, f[4], f[5]);
        unpack_f16(q.w, f[6], f[7]);
    }
};

/* The values of a 16-byte load of format WK, as floats (also the f16 KV cache's rows: WK 2). */
template <int WK>
DEV void unpack16(const u4 &q, float (&f)[8])
{
    WFmt<WK>::unpack(q, f);
}

#endif
