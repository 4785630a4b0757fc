/* target.c — the table of targets. */
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
    .name = "sm_80", .backend = LLMC_TGT_CUDA, .sm = 80, .arch = "sm_80",
    .description = "NVIDIA Ampere (A100): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 163 * 1024, .smem_per_sm = 164 * 1024, .typical_sms = 108, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm86 = {
    .name = "sm_86", .backend = LLMC_TGT_CUDA, .sm = 86, .arch = "sm_86",
    .description = "NVIDIA Ampere (RTX 30xx, A10, A40): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 99 * 1024, .smem_per_sm = 100 * 1024, .typical_sms = 82, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm89 = {
    .name = "sm_89", .backend = LLMC_TGT_CUDA, .sm = 89, .arch = "sm_89",
    .description = "NVIDIA Ada (RTX 40xx, L4, L40): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 99 * 1024, .smem_per_sm = 100 * 1024, .typical_sms = 128, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm90 = {
    .name = "sm_90", .backend = LLMC_TGT_CUDA, .sm = 90, .arch = "sm_90",
    .description = "NVIDIA Hopper (H100, H200): CUDA C via NVRTC, mma.sync tensor cores",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 227 * 1024, .smem_per_sm = 228 * 1024, .typical_sms = 132, .has_mma_bf16 = 1,
};
static const LlmcTarget target_sm90a = {
    .name = "sm_90a", .backend = LLMC_TGT_CUDA, .sm = 90, .arch = "sm_90a", .arch_specific = 1,
    .description = "NVIDIA Hopper (H100, H200) with arch-specific features: CUDA C via NVRTC",
    .default_weights = LLMC_BF16, .weight_formats = CUDA_FORMATS, CUDA_KV,
    .smem_per_block = 227 * 1024, .smem_per_sm = 228 * 1024, .typical_sms = 132, .has_mma_bf16 = 1,
    .has_wgmma = 1,
};

static const LlmcTarget *const all_targets[] = {&target_cpu,  &target_sm80, &target_sm86, &target_sm89,
                                                &target_sm90, &target_sm90a, NULL};

const LlmcTarget *const *llmc_targets(void) { return all_targets; }

const LlmcTarget *llmc_target_find(const char *name)
{
    for (int i = 0; all_targets[i]; i++)
        if (strcmp(all_targets[i]->name, name) == 0)
            return all_targets[i];
    return NULL;
}
