/* format_ids.h — the storage formats as generated code names them, made from ir/formats.def by its
 * X-macro, so that no number is kept in step by hand: the emitters print these names
 * (llmc_kernel_format in codegen/emit.c), the kernels' format traits are keyed by them
 * (codegen/c_formats.h for the cpu target, codegen/cuda_formats.cuh for CUDA, ir/kv_formats.h for
 * the KV cache). Plain C and C++: the C backend pastes it (and formats.def) into the generated
 * file, NVRTC gets both as named headers; ir/ includes it for the rows the interpreter shares with
 * the cpu target (kv_formats.h).
 *
 *   FMT_<id>       a format: the compiler's LLMC_<id>, the same number
 *   WITH_<role>    the bit of an optional side tensor (formats.def LLMC_SIDE_OPTIONAL) that a
 *                  weight's layout has: a kernel's weight format is FMT_<id> | WITH_<role>... (u4
 *                  with zero points: FMT_U4 | WITH_ZERO); FMT_OF() takes the format back
 *   ORDER_<id>     an element order of a layout (LLMC_ORDER_<id>)
 *   fmt_bits(f)    the bits of an element of format f (16 bytes hold 128 / fmt_bits(f) of them)
 */
#ifndef LLMC_FORMAT_IDS_H
#define LLMC_FORMAT_IDS_H

enum {
#define X(id, ...) FMT_##id,
#include "formats.def"
    FMT_COUNT
};
enum {
    FMT_ROLE_NONE_,
#define R(id, name) FMT_ROLE_##id,
#include "formats.def"
};
enum {
#define R(id, name) WITH_##id = 0x100 << FMT_ROLE_##id,
#include "formats.def"
};
#define FMT_OF(wf) ((wf) & 0xff)
enum {
#define O(id, name) ORDER_##id,
#include "formats.def"
};

/* The bits of an element of format f: a chain of conditions, folded wherever f is a constant (a
 * table would be a symbol of its own in every cubin). */
#if defined(__CUDACC__)
__host__ __device__ constexpr
#elif defined(__cplusplus)
constexpr
#else
static inline
#endif
    int fmt_bits(int f)
{
    return
#define X(id, name, alias, bits, ...) f == FMT_##id ? bits :
#include "formats.def"
        0;
}

#endif
