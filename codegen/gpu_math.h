/* gpu_math.h — llmc's own device math where a GPU target has no library: AMD code objects are built
 * by clang with no device libraries (no ROCm: -nogpulib), and LLVM's AMDGPU backend expands exp,
 * exp2, log and sqrt itself but has no tanh. Plain C that is also C++ and CUDA/HIP device code
 * (LLMC_MATH_FN sets the qualifiers; the host's own defaults suit a C test), over the host's expf
 * or the device's: tests/test_hip.c checks it against the C library's tanhf.
 */
#ifndef LLMC_GPU_MATH_H
#define LLMC_GPU_MATH_H

#ifndef LLMC_MATH_FN
#define LLMC_MATH_FN static inline
#endif
#ifndef LLMC_MATH_EXPF
#define LLMC_MATH_EXPF expf
#endif

/* tanh(x) within 2 ulp (1 measured over a sample of every exponent, tests/test_hip.c): x itself
 * below 2^-12, an odd Taylor polynomial below |x| = 0.55 (its first omitted term under 2^-25
 * relative there), 1 - 2 / (e^2|x| + 1) above, the sign restored; 1 from |x| = 9.1 (where tanh
 * rounds to 1 in float). NaN stays NaN. */
LLMC_MATH_FN float llmc_tanhf(float x)
{
    float a = x < 0.0f ? -x : x;
    if (a < 0x1p-12f) /* tanh(x) rounds to x (and -0 stays -0) */
        return x;
    if (a < 0.55f) {
        float z = x * x;
        float p = -929569.0f / 638512875.0f;
        p = p * z + 21844.0f / 6081075.0f;
        p = p * z + -1382.0f / 155925.0f;
        p = p * z + 62.0f / 2835.0f;
        p = p * z + -17.0f / 315.0f;
        p = p * z + 2.0f / 15.0f;
        p = p * z + -1.0f / 3.0f;
        return x + x * z * p;
    }
    if (!(a < 9.1f)) /* also NaN */
        return a > 0.0f ? (x < 0.0f ? -1.0f : 1.0f) : x;
    float r = 1.0f - 2.0f / (LLMC_MATH_EXPF(2.0f * a) + 1.0f);
    return x < 0.0f ? -r : r;
}

#endif
