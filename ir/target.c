/* target.c — the table of targets: the host CPU, NVIDIA architectures (CUDA C through NVRTC) and AMD
 * ones (the same kernel sources as HIP through clang's AMDGPU backend: docs/amd.md). Numbers for
 * AMD parts are the usual part's: Strix Halo's Radeon 8060S (gfx1151, 40 CUs sharing the host's
 * memory), the Radeon RX 7900 XTX (gfx1100, 96 CUs), the Instinct MI300X (gfx942, 304 CUs). */
#include "target.h"
#include "ir.h"

#include <string.h>

static const LlmcTarget target_cpu = {
    .name = "cpu",
    .backend = LLMC_TGT_C,
    .description = "host CPU: C compiled with the system compiler (-O3 -march=native), threads over all cores",
    .vector_bytes = 32,
    .default_weights = LLMC_F32,
    .weight_formats = (1u << LLMC_F32) | (1u << LLMC_F16) | (1u << LLMC_BF16) | (1u << LLMC_FP8) | (1u << LLMC_U4) |
                      (1u << LLMC_NVFP4),
    .kv_default = LLMC_F32,
    .kv_formats = (1u << LLMC_F32) | (1u << LLMC_F16) | (1u << LLMC_KV_FP8) | (1u << LLMC_INT8) | (1u << LLMC_INT4) |
                  (1u << LLMC_KIVI2) | (1u << LLMC_KIVI4),
};

#define CUDA_FORMATS                                                                                           \
    ((1u << LLMC_F32) | (1u << LLMC_F16) | (1u << LLMC_BF16) | (1u << LLMC_FP8) | (1u << LLMC_U4) | (1u << LLMC_NVFP4))
#define CUDA_KV                                                                                                \
    .kv_default = LLMC_F16,                                                                                    \
    .kv_formats = (1u << LLMC_F16) | (1u << LLMC_KV_FP8) | (1u << LLMC_INT8) | (1u << LLMC_INT4) | (1u << LLMC_KIVI2) | \
                  (1u << LLMC_KIVI4),                                                                          \
    .quant_order = LLMC_ORDER_LANE8

static const LlmcTarget target_sm80 = {
    .name = "sm_80", .backend = LLMC_TGT_CUDA, .wave = 32, .sm = 80, .arch = "sm_80",
    .description = "NVIDIA Ampere (A100): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 163 * 1024, .smem_per_sm = 164 * 1024, .typical_sms = 108, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm86 = {
    .name = "sm_86", .backend = LLMC_TGT_CUDA, .wave = 32, .sm = 86, .arch = "sm_86",
    .description = "NVIDIA Ampere (RTX 30xx, A10, A40): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 99 * 1024, .smem_per_sm = 100 * 1024, .typical_sms = 82, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm89 = {
    .name = "sm_89", .backend = LLMC_TGT_CUDA, .wave = 32, .sm = 89, .arch = "sm_89",
    .description = "NVIDIA Ada (RTX 40xx, L4, L40): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 99 * 1024, .smem_per_sm = 100 * 1024, .typical_sms = 128, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm90 = {
    .name = "sm_90", .backend = LLMC_TGT_CUDA, .wave = 32, .sm = 90, .arch = "sm_90",
    .description = "NVIDIA Hopper (H100, H200): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 227 * 1024, .smem_per_sm = 228 * 1024, .typical_sms = 132, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm90a = {
    .name = "sm_90a", .backend = LLMC_TGT_CUDA, .wave = 32, .sm = 90, .arch = "sm_90a", .arch_specific = 1,
    .description = "NVIDIA Hopper (H100, H200) with arch-specific features: CUDA C via NVRTC",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 227 * 1024, .smem_per_sm = 228 * 1024, .typical_sms = 132, .has_mma_bf16 = 1,
    .has_wgmma = 1,
};

/* AMD: 64 KB of LDS a workgroup on all three (an RDNA workgroup processor has 128 KB for its two
 * CUs); RDNA runs wave32 (clang's default there), CDNA only wave64. */
static const LlmcTarget target_gfx1151 = {
    .name = "gfx1151", .backend = LLMC_TGT_HIP, .arch = "gfx1151", .wave = 32,
    .description = "AMD RDNA 3.5 APU (Strix Halo, Radeon 8060S): HIP via clang, wave32, WMMA, unified memory",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 64 * 1024, .smem_per_sm = 64 * 1024, .typical_sms = 40, .has_wmma = 1, .unified_memory = 1,
    .amd_path = 1,
};
static const LlmcTarget target_gfx1100 = {
    .name = "gfx1100", .backend = LLMC_TGT_HIP, .arch = "gfx1100", .wave = 32,
    .description = "AMD RDNA 3 (Radeon RX 7900 XTX/XT, PRO W7900): HIP via clang, wave32, WMMA",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 64 * 1024, .smem_per_sm = 64 * 1024, .typical_sms = 96, .has_wmma = 1, .amd_path = 1,
};
static const LlmcTarget target_gfx942 = {
    .name = "gfx942", .backend = LLMC_TGT_HIP, .arch = "gfx942", .wave = 64,
    .description = "AMD CDNA 3 (Instinct MI300X/MI300A/MI325X): HIP via clang, wave64, MFMA",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 64 * 1024, .smem_per_sm = 64 * 1024, .typical_sms = 304, .has_mfma = 1, .amd_path = 1,
};

/* The AMD path's kernels (RDNA's: wave32, WMMA) built for an NVIDIA Hopper GPU, WMMA emulated by lane
 * shuffles (cuda_mx.cuh): the lent NVIDIA GPUs check the kernel logic an AMD build runs (docs/amd.md).
 * Not for production: no tensor cores, no PDL. */
static const LlmcTarget target_amd_on_sm90 = {
    .name = "amd-on-sm_90", .backend = LLMC_TGT_CUDA, .wave = 32, .sm = 90, .arch = "sm_90", .amd_path = 1,
    .description = "check target: the AMD path's kernels (gfx11, wave32, WMMA emulated) on NVIDIA Hopper",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 64 * 1024, .smem_per_sm = 64 * 1024, .typical_sms = 132, .has_wmma = 1,
};

static const LlmcTarget *const all_targets[] = {&target_cpu,     &target_sm80,    &target_sm86,   &target_sm89,
                                                &target_sm90,    &target_sm90a,   &target_gfx1151, &target_gfx1100,
                                                &target_gfx942,  &target_amd_on_sm90, NULL};

const LlmcTarget *const *llmc_targets(void) { return all_targets; }

const LlmcTarget *llmc_target_find(const char *name)
{
    for (int i = 0; all_targets[i]; i++)
        if (strcmp(all_targets[i]->name, name) == 0)
            return all_targets[i];
    return NULL;
}
