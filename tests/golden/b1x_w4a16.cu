/* ---- kernels ---- */

/* embedding: bf16[512,2304] rows gathered by the tokens -> f32[T,2304] */
extern "C" __global__ void __launch_bounds__(256) k0_embedding(LlmcDevArgs a, LlmcKernelOffsets o)
{
    embed<FMT_BF16, 2304, 2304>(((const uint8_t *)(a.weights + o.v[0])), a.tokens, ((float *)(a.arena + o.v[1])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[T,2304] x u4[3840,2304]^T -> f32[T,3840], RMSNorm prologue; strides x 2304, y 3840; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k1_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 2304, 3840, 2304, 3840, 1, 1, 0, 0, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 4423680}});
}

/* matmul, one row (2 weight rows a warp, K split in 1, 1 load a row in flight): f32[1,2304] x u4[3840,2304]^T -> f32[1,3840], RMSNorm prologue, RoPE of q and k and the KV write in the epilogue */
extern "C" __global__ void __launch_bounds__(128) k2_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 2304, 3840, 1, 3, 1, 1, 0, 18, 6, 128, 2, 16, FMT_F16, 128>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, RopeOut{a.positions, a.slots, C(0), ((float *)(a.arena + o.v[5])), a.kv, (int)o.v[6]}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 4423680}});
}

/* f32[T,2304] rows, RMS-normalized, -> f16 in pair-32 order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k3_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 1, 2304, 2304, 1>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 135 blocks over the chunks of K): f16[T,2304] x u4[3840,2304]^T -> f32[T,3840], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 4) k4_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 3840, 128, 1, 2, 4, 3, 0, 3840, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 4423680}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 135 blocks over the chunks of K): f16[T,2304] x u4[3840,2304]^T -> f32[T,3840], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k5_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 3840, 128, 2, 2, 4, 3, 0, 3840, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 4423680}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 135 blocks over the chunks of K): f16[T,2304] x u4[3840,2304]^T -> f32[T,3840], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k6_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 3840, 128, 4, 2, 4, 2, 0, 3840, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 4423680}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* u4[3840,2304] (groups of 128) dequantized to f16 [3840,2304] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k7_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 2304, 3840, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 4423680}}, (uint16_t *)A(81945344));
}

/* f32[T,2304] rows, RMS-normalized, -> f16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k8_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 1, 2304, 2304>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [T,2304] x f16[3840,2304]^T -> f32[T,3840], RMSNorm prologue; stride y 3840 */
extern "C" __global__ void __launch_bounds__(128) k9_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 2304, 3840, 2304, 3840, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, f16 activations): [T,2304] x f16[3840,2304]^T -> f32[T,3840], RMSNorm prologue; stride y 3840 */
extern "C" __global__ void __launch_bounds__(128) k10_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<0, 2304, 3840, 2304, 3840, 0, 0, 1, 1, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* rope_kv_write (half pairs): q 18 heads, k/v 6 heads of 128 -> q rotated, k rotated and v to the f16 pool; table at consts + 0 */
extern "C" __global__ void __launch_bounds__(128) k11_rope_kv_write(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rope_kv_row<FMT_F16, FMT_F16, 0, 18, 6, 128, 3840, 3840, 3840, 2304, 2, 16>(((const float *)(a.arena + o.v[0])), ((const float *)(a.arena + o.v[1])), ((const float *)(a.arena + o.v[2])), a.positions, a.slots, C(0), ((float *)(a.arena + o.v[4])), a.kv, (int)o.v[3], (const float *)0, KvSeqs{a.seq_of_token, a.block_tables, a.max_blocks_per_seq});
}

/* paged_attention, decode steps on tensor cores: 18 query heads over 6 f16 KV heads of 128, 3 query heads a block, scale 0.0883883476; positions in at most 16 parts of at least 64 positions, no more parts than fill 396 blocks, the last block to finish combines them; 1 tile(s) of 16 positions a warp at once; strides q 2304, y 2304 */
extern "C" __global__ void __launch_bounds__(128, 3) k12_paged_attention_tc(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn_tc<FMT_F16, FMT_F16, 2, 16, 18, 6, 128, 2304, 2304, 0, 16, 64, 1, 3, 0, 396>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(36700160), (int *)A(81936384), (int)o.v[2], 0.0883883476f, (const float *)0);
}

/* paged_attention, decode steps: 18 query heads over 6 f16 KV heads of 128, 1 query heads a block, scale 0.0883883476; positions split in 16 parts, the last block to finish combines them; strides q 2304, y 2304 */
extern "C" __global__ void __launch_bounds__(128, 4) k13_paged_attention_dec(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn_dec<FMT_F16, FMT_F16, 2, 16, 18, 6, 128, 2304, 2304, 0, 16, 4, 1>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(36700160), (int *)A(81936384), (int)o.v[2], 0.0883883476f, (const float *)0);
}

/* flash attention (long steps): 64 tokens x 1 of 18 query heads a block, f16 KV head of 128, scale 0.0883883476; K/V tiles of 64 positions, 69632 bytes of shared memory; strides q 2304, y 2304 */
extern "C" __global__ void __launch_bounds__(128, 2) k14_flash_attention(LlmcDevArgs a, LlmcKernelOffsets o)
{
    flash_prefill<FMT_F16, FMT_F16, 2, 16, 18, 6, 128, 2304, 2304, 0>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), a.n_tokens, (int)o.v[2], 0.0883883476f, (const float *)0);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[T,2304] x u4[2304,2304]^T -> f32[T,2304], residual epilogue; strides x 2304, y 2304; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k15_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 2304, 2304, 2304, 2304, 1, 0, 1, 2304, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}});
}

/* matmul, one row (gemv_b1x: 4 weight rows a lane, K split in 1, 1 load a row in flight; x f32): f32[1,2304] x u4[2304,2304]^T -> f32[1,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k16_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 2304, 2304, 0, 1, 1, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128, 4, 0, 0>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const void *)0, (const float *)0, (uint16_t *)0);
}

/* f32[T,2304] rows -> f16 in pair-32 order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k17_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 2304, 2304, 1>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 81 blocks over the chunks of K): f16[T,2304] x u4[2304,2304]^T -> f32[T,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 4) k18_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 2304, 128, 1, 2, 4, 3, 1, 2304, 2304>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 81 blocks over the chunks of K): f16[T,2304] x u4[2304,2304]^T -> f32[T,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k19_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 2304, 128, 2, 2, 4, 3, 1, 2304, 2304>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 81 blocks over the chunks of K): f16[T,2304] x u4[2304,2304]^T -> f32[T,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k20_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 2304, 128, 4, 2, 4, 2, 1, 2304, 2304>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(46284800), (int *)(a.arena + 81940992));
}

/* u4[2304,2304] (groups of 128) dequantized to f16 [2304,2304] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k21_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 2304, 2304, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (uint16_t *)A(81945344));
}

/* f32[T,2304] rows -> f16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k22_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 2304, 2304>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [T,2304] x f16[2304,2304]^T -> f32[T,2304], residual epilogue; stride y 2304 */
extern "C" __global__ void __launch_bounds__(128) k23_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 2304, 2304, 2304, 2304, 2304, 1, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, f16 activations): [T,2304] x f16[2304,2304]^T -> f32[T,2304], residual epilogue; stride y 2304 */
extern "C" __global__ void __launch_bounds__(128) k24_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<0, 2304, 2304, 2304, 2304, 2304, 1, 1, 1, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[T,2304] x u4[17408,2304]^T -> f32[T,8704], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); strides x 2304, y 8704; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k25_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 2304, 17408, 2304, 8704, 1, 1, 2, 0, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}});
}

/* the activation of a one-row matmul in gemv_b1x's form: f32[1,2304] -> f32 x * nw in scratch X, and 1/rms(x) */
extern "C" __global__ void __launch_bounds__(128) k26_b1_prenorm(LlmcDevArgs a, LlmcKernelOffsets o)
{
    b1_prenorm<2304, 1, 1>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), 1e-05f, A(162161472), A(162161408));
}

/* matmul, one row (gemv_b1x: 4 weight rows a lane, K split in 1, 1 load a row in flight; x * nw and 1/rms from b1_prenorm): f32[1,2304] x u4[17408,2304]^T -> f32[1,8704], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128) k27_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 2304, 17408, 1, 2, 1, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128, 4, 1, 0>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}}, A(162161472), A(162161408), (uint16_t *)0);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 528 blocks over the chunks of K): f16[T,2304] x u4[17408,2304]^T -> f32[T,8704], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 4) k28_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 17408, 128, 1, 2, 4, 3, 2, 8704, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 264 blocks over the chunks of K): f16[T,2304] x u4[17408,2304]^T -> f32[T,8704], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k29_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 17408, 128, 2, 2, 4, 3, 2, 8704, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 264 blocks over the chunks of K): f16[T,2304] x u4[17408,2304]^T -> f32[T,8704], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k30_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 17408, 128, 4, 2, 4, 2, 2, 8704, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* u4[17408,2304] (groups of 128) dequantized to f16 [17408,2304] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k31_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 2304, 17408, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}}, (uint16_t *)A(81945344));
}

/* matmul, tensor cores (mma.sync m16n8k16, 128x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [T,2304] x f16[17408,2304]^T -> f32[T,8704], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 8704 */
extern "C" __global__ void __launch_bounds__(128) k32_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 2304, 17408, 2304, 8704, 0, 2, 1, 128, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (wgmma m64n128k16, 128x128x64 tiles on a warpgroup, 3 cp.async stages, f16 activations): [T,2304] x f16[17408,2304]^T -> f32[T,8704], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 8704 */
extern "C" __global__ void __launch_bounds__(128) k33_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<0, 2304, 17408, 2304, 8704, 0, 2, 1, 2, 3>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 2): f32[T,8704] x u4[2304,8704]^T -> f32[T,2304], residual epilogue; strides x 8704, y 2304; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k34_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 8704, 2304, 8704, 2304, 1, 0, 1, 2304, 2, 2, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 10027008}});
}

/* matmul, one row (gemv_b1x: 4 weight rows a lane, K split in 2, 1 load a row in flight; x f32): f32[1,8704] x u4[2304,8704]^T -> f32[1,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k35_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 8704, 2304, 0, 1, 2, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128, 4, 0, 0>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 10027008}}, (const void *)0, (const float *)0, (uint16_t *)0);
}

/* f32[T,8704] rows -> f16 in pair-32 order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k36_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 8704, 8704, 1>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 306 blocks over the chunks of K): f16[T,8704] x u4[2304,8704]^T -> f32[T,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 4) k37_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 8704, 2304, 128, 1, 2, 4, 3, 1, 2304, 2304>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 10027008}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 264 blocks over the chunks of K): f16[T,8704] x u4[2304,8704]^T -> f32[T,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k38_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 8704, 2304, 128, 2, 2, 4, 3, 1, 2304, 2304>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 10027008}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 264 blocks over the chunks of K): f16[T,8704] x u4[2304,8704]^T -> f32[T,2304], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k39_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 8704, 2304, 128, 4, 2, 4, 2, 1, 2304, 2304>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 10027008}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(46284800), (int *)(a.arena + 81940992));
}

/* u4[2304,8704] (groups of 128) dequantized to f16 [2304,8704] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k40_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 8704, 2304, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 10027008}}, (uint16_t *)A(81945344));
}

/* f32[T,8704] rows -> f16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k41_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 8704, 8704>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [T,8704] x f16[2304,8704]^T -> f32[T,2304], residual epilogue; stride y 2304 */
extern "C" __global__ void __launch_bounds__(128) k42_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 8704, 2304, 8704, 2304, 2304, 1, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, f16 activations): [T,8704] x f16[2304,8704]^T -> f32[T,2304], residual epilogue; stride y 2304 */
extern "C" __global__ void __launch_bounds__(128) k43_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<0, 8704, 2304, 8704, 2304, 2304, 1, 1, 1, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* select_rows: f32[T,2304] -> f32[O,2304]; strides x 2304, y 2304 */
extern "C" __global__ void __launch_bounds__(256) k44_select_rows(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<2304, 2304, 2304>(((const float *)(a.arena + o.v[0])), a.out_rows, ((float *)(a.arena + o.v[1])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[O,2304] x u4[2304,2304]^T -> f32[O,2304]; strides x 2304, y 2304; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k45_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 2304, 2304, 2304, 2304, 1, 0, 0, 0, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, (const float *)0, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}});
}

/* matmul, one row (gemv_b1x: 4 weight rows a lane, K split in 1, 1 load a row in flight; x f32): f32[1,2304] x u4[2304,2304]^T -> f32[1,2304] */
extern "C" __global__ void __launch_bounds__(128) k46_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 2304, 2304, 0, 0, 1, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128, 4, 0, 0>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, (const float *)0, RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const void *)0, (const float *)0, (uint16_t *)0);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 81 blocks over the chunks of K): f16[O,2304] x u4[2304,2304]^T -> f32[O,2304] */
extern "C" __global__ void __launch_bounds__(128, 4) k47_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 2304, 128, 1, 2, 4, 3, 0, 2304, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 81 blocks over the chunks of K): f16[O,2304] x u4[2304,2304]^T -> f32[O,2304] */
extern "C" __global__ void __launch_bounds__(128, 2) k48_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 2304, 128, 2, 2, 4, 3, 0, 2304, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 81 blocks over the chunks of K): f16[O,2304] x u4[2304,2304]^T -> f32[O,2304] */
extern "C" __global__ void __launch_bounds__(128, 2) k49_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 2304, 2304, 128, 4, 2, 4, 2, 0, 2304, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 2654208}}, (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [O,2304] x f16[2304,2304]^T -> f32[O,2304]; stride y 2304 */
extern "C" __global__ void __launch_bounds__(128) k50_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 2304, 2304, 2304, 2304, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, f16 activations): [O,2304] x f16[2304,2304]^T -> f32[O,2304]; stride y 2304 */
extern "C" __global__ void __launch_bounds__(128) k51_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<0, 2304, 2304, 2304, 2304, 0, 0, 1, 1, 4>((const uint16_t *)((const uint8_t *)A(81945344)), (const uint16_t *)A(36700160), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* add_rmsnorm: f32[O,2304], eps 1e-05; strides a 2304, b 2304, s 2304, y 2304 */
extern "C" __global__ void __launch_bounds__(512) k52_add_rmsnorm(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rmsnorm_row<1, 2304, 2304, 2304, 2304, 2304>(((const float *)(a.arena + o.v[0])), ((const float *)(a.arena + o.v[1])), ((float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[3])), ((float *)(a.arena + o.v[4])), 1e-05f);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[O,2304] x u4[17408,2304]^T -> f32[O,8704], SwiGLU epilogue (rows j, j + N/2); strides x 2304, y 8704; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k53_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 2304, 17408, 2304, 8704, 1, 0, 2, 0, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, (const float *)0, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}});
}

/* matmul, one row (gemv_b1x: 4 weight rows a lane, K split in 1, 1 load a row in flight; x f32): f32[1,2304] x u4[17408,2304]^T -> f32[1,8704], SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128) k54_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 2304, 17408, 0, 2, 1, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128, 4, 0, 0>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, (const float *)0, RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 20054016}}, (const void *)0, (const float *)0, (uint16_t *)0);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,2304] x bf16[512,2304]^T -> f32[O,512], RMSNorm prologue; strides x 2304, y 512; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k55_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 2304, 512, 2304, 512, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), (int)o.v[0], ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 2 loads a row in flight): f32[1,2304] x bf16[512,2304]^T -> f32[1,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128) k56_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 2304, 512, 1, 0, 4, 2>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* f32[O,2304] rows, RMS-normalized, -> bf16 in natural order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k57_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 2304, 2304, 0>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 18 blocks over the chunks of K): bf16[O,2304] x bf16[512,2304]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 4) k58_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 2304, 512, 2304, 1, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(36700160), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 18 blocks over the chunks of K): bf16[O,2304] x bf16[512,2304]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k59_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 2304, 512, 2304, 2, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(36700160), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 18 blocks over the chunks of K): bf16[O,2304] x bf16[512,2304]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k60_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 2304, 512, 2304, 4, 2, 4, 2, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(36700160), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(46284800), (int *)(a.arena + 81940992));
}

/* f32[O,2304] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k61_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 2304, 2304>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(36700160), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations), K split in 4: partials of [O,2304] x bf16[512,2304]^T */
extern "C" __global__ void __launch_bounds__(128) k62_gemm_wide_splitk(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 2304, 512, 2304, 0, 0, 0, 4, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(36700160), (const float *)0, A(46284800), (int)o.v[0], (const float *)0);
}

/* split-K reduce: 4 partials -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(256) k63_gemm_reduce(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_reduce<512, 512, 0, 4, 0>(A(46284800), (const float *)0, (const float *)0, ((float *)a.logits), (int)o.v[0]);
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, bf16 activations), K split in 4: partials of [O,2304] x bf16[512,2304]^T */
extern "C" __global__ void __launch_bounds__(128) k64_gemm_wg_splitk(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<1, 2304, 512, 2304, 0, 0, 0, 4, 1, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(36700160), (const float *)0, A(46284800), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* token of every row: f32[O,512] -> i32[O], the argmax or a draw (a.sample) */
extern "C" __global__ void __launch_bounds__(1024) k65_sample(LlmcDevArgs a, LlmcKernelOffsets o)
{
    (void)o;
    sample_row<512, 512>(a.logits, a.out_ids, a.sample);
}

