/* amdgpu.h — HIP C to an AMDGPU code object at compile time, with no GPU and no ROCm: clang's AMDGPU
 * backend (clang 19 or newer: it knows gfx1100, gfx1151 and gfx942) and lld, run as a program
 * (Debian's clang-19 and lld-19), with llmc's own device math (gpu_port_amd.cuh): no HIP headers, no
 * device libraries.
 *
 *   clang -x hip -std=c++17 --offload-arch=gfxNNNN -nogpulib -nogpuinc --cuda-device-only
 *         --no-gpu-bundle-output -fuse-cuid=none -O3 -I DIR -o OUT DIR/model.cu
 *
 * (-fuse-cuid=none: no compilation-unit id derived from the source's path, so that the same model
 * gives the same bytes whatever the build directory.)
 * The code object (an ELF shared object, what hipModuleLoadData takes) carries its kernels'
 * resources in its metadata note (NT_AMDGPU_METADATA, MessagePack): registers, scratch, LDS, spills;
 * llmc_amdgpu_read_meta parses them, and the build checks them like ptxas's report.
 */
#ifndef LLMC_AMDGPU_H
#define LLMC_AMDGPU_H

#include <stddef.h>
#include <stdint.h>

#include "../ir/base.h"
#include "../ir/target.h"

#define LLMC_DEFAULT_CLANG "clang-19"

/* One kernel's resources, from the code object's metadata. */
typedef struct LlmcAmdKernelRes {
    char name[128];               /* .name (the extern "C" name) */
    int sgprs, vgprs, agprs;      /* .sgpr_count, .vgpr_count, .agpr_count (CDNA's accumulation VGPRs) */
    int scratch;                  /* .private_segment_fixed_size: bytes of scratch a lane */
    int lds;                      /* .group_segment_fixed_size: bytes of static LDS a block */
    int sgpr_spills, vgpr_spills; /* .sgpr_spill_count, .vgpr_spill_count */
    int dynamic_stack;            /* .uses_dynamic_stack */
    int wave;                     /* .wavefront_size */
    int max_threads;              /* .max_flat_workgroup_size */
} LlmcAmdKernelRes;

typedef struct LlmcAmdMeta {
    char target[96];              /* amdhsa.target: "amdgcn-amd-amdhsa--gfx1151" */
    LlmcAmdKernelRes *res;        /* malloc'd */
    int n_res;
} LlmcAmdMeta;

/* Parses the metadata note of code object (data, size). Fails, naming what it found, on anything
 * that is not an AMDGPU code object with a well-formed note. Call llmc_amdgpu_meta_free either way. */
LlmcStatus llmc_amdgpu_read_meta(const void *data, size_t size, LlmcAmdMeta *out, LlmcDiag *d);
void llmc_amdgpu_meta_free(LlmcAmdMeta *m);
const LlmcAmdKernelRes *llmc_amdgpu_find(const LlmcAmdMeta *m, const char *kernel);

typedef struct LlmcCodeObject {
    uint8_t *data;                /* malloc'd: the ELF */
    size_t size;
    LlmcAmdMeta meta;
} LlmcCodeObject;

/* Compiles dir/source_name (the headers it includes are in dir) for tg (tg->arch, "gfx1151") with
 * clang (NULL: LLMC_DEFAULT_CLANG) into dir/out_name, then reads it back and parses its metadata.
 * Fails with the compiler's output (its log in dir/hip-<arch>.log), or a message naming clang when
 * it cannot be run. Call llmc_code_object_free either way. */
LlmcStatus llmc_amdgpu_compile(const char *clang, const char *dir, const char *source_name, const char *out_name,
                               const LlmcTarget *tg, LlmcCodeObject *out, LlmcDiag *d);
void llmc_code_object_free(LlmcCodeObject *c);

#endif
