/* ---- kernels ---- */

/* embedding: bf16[512,256] rows gathered by the tokens -> f32[T,256] */
extern "C" __global__ void __launch_bounds__(256) k0_embedding(LlmcDevArgs a, LlmcKernelOffsets o)
{
    embed<FMT_BF16, 256, 256>(((const uint8_t *)(a.weights + o.v[0])), a.tokens, ((float *)(a.arena + o.v[1])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue; strides x 256, y 512; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k1_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 256, 512, 256, 512, 1, 1, 0, 0, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}});
}

/* matmul, one row (2 weight rows a warp, K split in 1, 1 load a row in flight; f16x2 products, x's f16 pairs in shared memory): f32[1,256] x u4[512,256]^T -> f32[1,512], RMSNorm prologue, RoPE of q and k and the KV write in the epilogue */
extern "C" __global__ void __launch_bounds__(128) k2_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 256, 512, 1, 3, 1, 1, 0, 8, 4, 32, 1, 16, FMT_F16, 128, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, RopeOut{a.positions, a.slots, C(0), ((float *)(a.arena + o.v[5])), a.kv, (int)o.v[6]}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}});
}

/* f32[T,256] rows, RMS-normalized, -> f16 in gemm_wq's 4-bit order (B operand of gemm_wq) */
extern "C" __global__ void __launch_bounds__(256) k3_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 1, 256, 256, 3>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n16k16, 64 weight rows and 16 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 3) k4_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 512, 128, 16, 4, 0, 1, 512, 0, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n32k16, 64 weight rows and 32 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 3) k5_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 512, 128, 32, 4, 0, 1, 512, 0, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n64k16, 64 weight rows and 64 rows a block, 4 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k6_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 512, 128, 64, 4, 0, 1, 512, 0, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n128k16, 64 weight rows and 128 rows a block, 3 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k7_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 512, 128, 128, 3, 0, 1, 512, 0, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* f32[T,256] rows, RMS-normalized, -> f16 in pair-32 order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k8_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 1, 256, 256, 1>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 2 blocks over the chunks of K): f16[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 4) k9_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 512, 128, 1, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 2 blocks over the chunks of K): f16[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k10_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 512, 128, 2, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 2 blocks over the chunks of K): f16[T,256] x u4[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k11_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 512, 128, 4, 2, 4, 2, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* u4[512,256] (groups of 128) dequantized to f16 [512,256] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k12_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 256, 512, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (uint16_t *)A(5310720));
}

/* f32[T,256] rows, RMS-normalized, -> f16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k13_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 1, 256, 256>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [T,256] x f16[512,256]^T -> f32[T,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k14_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 256, 512, 256, 512, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(5310720)), (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* rope_kv_write (half pairs): q 8 heads, k/v 4 heads of 32 -> q rotated, k rotated and v to the f16 pool; table at consts + 0 */
extern "C" __global__ void __launch_bounds__(128) k15_rope_kv_write(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rope_kv_row<FMT_F16, FMT_F16, 0, 8, 4, 32, 512, 512, 512, 256, 1, 16>(((const float *)(a.arena + o.v[0])), ((const float *)(a.arena + o.v[1])), ((const float *)(a.arena + o.v[2])), a.positions, a.slots, C(0), ((float *)(a.arena + o.v[4])), a.kv, (int)o.v[3], (const float *)0, KvSeqs{a.seq_of_token, a.block_tables, a.max_blocks_per_seq});
}

/* paged_attention, decode steps: 8 query heads over 4 f16 KV heads of 32, 2 query heads a block, scale 0.176776695; positions split in 16 parts, the last block to finish combines them; strides q 256, y 256 */
extern "C" __global__ void __launch_bounds__(128, 4) k16_paged_attention_dec(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn_dec<FMT_F16, FMT_F16, 1, 16, 8, 4, 32, 256, 256, 0, 16, 4, 2>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(2097152), (int *)A(5308416), (int)o.v[2], 0.176776695f, (const float *)0);
}

/* flash attention (long steps): 64 tokens x 1 of 8 query heads a block, f16 KV head of 32, scale 0.176776695; K/V tiles of 64 positions, 20480 bytes of shared memory; strides q 256, y 256 */
extern "C" __global__ void __launch_bounds__(128, 2) k17_flash_attention(LlmcDevArgs a, LlmcKernelOffsets o)
{
    flash_prefill<FMT_F16, FMT_F16, 1, 16, 8, 4, 32, 256, 256, 0, 0>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), a.n_tokens, (int)o.v[2], 0.176776695f, (const float *)0);
}

/* select_rows, in place: f32[T,256] -> its first O rows (stride 256); the rows to scratch A */
extern "C" __global__ void __launch_bounds__(256) k18_select_rows_gather(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<256, 256, 256>(((const float *)(a.arena + o.v[0])), a.out_rows, A(2097152));
}

/* select_rows, in place: scratch A's O rows -> f32[O,256] (stride 256) */
extern "C" __global__ void __launch_bounds__(256) k19_select_rows_back(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<256, 256, 256>(A(2097152), nullptr, ((float *)(a.arena + o.v[0])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue; strides x 256, y 256; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k20_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 256, 256, 256, 256, 1, 0, 1, 256, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}});
}

/* matmul, one row (2 weight rows a warp, K split in 1, 1 load a row in flight): f32[1,256] x u4[256,256]^T -> f32[1,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k21_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 256, 256, 0, 1, 1, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}});
}

/* f32[O,256] rows -> f16 in gemm_wq's 4-bit order (B operand of gemm_wq) */
extern "C" __global__ void __launch_bounds__(256) k22_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 256, 256, 3>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n16k16, 64 weight rows and 16 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 3) k23_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 256, 128, 16, 4, 1, 1, 256, 256, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n32k16, 64 weight rows and 32 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 3) k24_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 256, 128, 32, 4, 1, 1, 256, 256, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n64k16, 64 weight rows and 64 rows a block, 4 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k25_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 256, 128, 64, 4, 1, 1, 256, 256, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n128k16, 64 weight rows and 128 rows a block, 3 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k26_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 256, 128, 128, 3, 1, 1, 256, 256, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* f32[O,256] rows -> f16 in pair-32 order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k27_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 256, 256, 1>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 1 blocks over the chunks of K): f16[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 4) k28_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 256, 128, 1, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 1 blocks over the chunks of K): f16[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k29_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 256, 128, 2, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 1 blocks over the chunks of K): f16[O,256] x u4[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k30_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 256, 128, 4, 2, 4, 2, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(3211264), (int *)(a.arena + 5310464));
}

/* u4[256,256] (groups of 128) dequantized to f16 [256,256] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k31_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 256, 256, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 32768}}, (uint16_t *)A(5310720));
}

/* f32[O,256] rows -> f16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k32_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 256, 256>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [O,256] x f16[256,256]^T -> f32[O,256], residual epilogue; stride y 256 */
extern "C" __global__ void __launch_bounds__(128) k33_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 256, 256, 256, 256, 256, 1, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(5310720)), (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); strides x 256, y 512; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k34_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 256, 1024, 256, 512, 1, 1, 2, 0, 2, 1, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}});
}

/* matmul, one row (2 weight rows a warp, K split in 1, 1 load a row in flight; f16x2 products, x's f16 pairs in shared memory): f32[1,256] x u4[1024,256]^T -> f32[1,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128) k35_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 256, 1024, 1, 2, 1, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}});
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n16k16, 64 weight rows and 16 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 3) k36_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 1024, 128, 16, 4, 2, 1, 512, 0, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n32k16, 64 weight rows and 32 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 3) k37_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 1024, 128, 32, 4, 2, 1, 512, 0, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n64k16, 64 weight rows and 64 rows a block, 4 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k38_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 1024, 128, 64, 4, 2, 1, 512, 0, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n128k16, 64 weight rows and 128 rows a block, 3 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k39_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 256, 1024, 128, 128, 3, 2, 1, 512, 0, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 4 blocks over the chunks of K): f16[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 4) k40_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 1024, 128, 1, 2, 4, 3, 2, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 4 blocks over the chunks of K): f16[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k41_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 1024, 128, 2, 2, 4, 3, 2, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 4 blocks over the chunks of K): f16[O,256] x u4[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k42_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 256, 1024, 128, 4, 2, 4, 2, 2, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* u4[1024,256] (groups of 128) dequantized to f16 [1024,256] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k43_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 256, 1024, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 131072}}, (uint16_t *)A(5310720));
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations): [O,256] x f16[1024,256]^T -> f32[O,512], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k44_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 256, 1024, 256, 512, 0, 2, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(5310720)), (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 2): f32[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue; strides x 512, y 256; 16-byte loads; at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 registers */
extern "C" __global__ void __launch_bounds__(128, 3) k45_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_U4, 512, 256, 512, 256, 1, 0, 1, 256, 2, 2, 128, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}});
}

/* matmul, one row (2 weight rows a warp, K split in 2, 1 load a row in flight): f32[1,512] x u4[256,512]^T -> f32[1,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k46_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_U4, 512, 256, 0, 1, 2, 1, 0, 1, 1, 2, 1, 1, FMT_F16, 128>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])), RopeOut{}, WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}});
}

/* f32[O,512] rows -> f16 in gemm_wq's 4-bit order (B operand of gemm_wq) */
extern "C" __global__ void __launch_bounds__(256) k47_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 512, 512, 3>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n16k16, 64 weight rows and 16 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 3) k48_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 512, 256, 128, 16, 4, 1, 1, 256, 256, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n32k16, 64 weight rows and 32 rows a block, 4 cp.async stages, 2 chunks of weights in flight, K split in 1): f16[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 3) k49_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 512, 256, 128, 32, 4, 1, 1, 256, 256, 2>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n64k16, 64 weight rows and 64 rows a block, 4 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k50_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 512, 256, 128, 64, 4, 1, 1, 256, 256, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma m64n128k16, 64 weight rows and 128 rows a block, 3 cp.async stages, 1 chunk of weights in flight, K split in 1): f16[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k51_gemm_wq(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wq<FMT_U4, 512, 256, 128, 128, 3, 1, 1, 256, 256, 1>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* f32[O,512] rows -> f16 in pair-32 order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k52_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 512, 512, 1>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 2 blocks over the chunks of K): f16[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 4) k53_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 512, 256, 128, 1, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 2 blocks over the chunks of K): f16[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k54_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 512, 256, 128, 2, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 2 blocks over the chunks of K): f16[O,512] x u4[256,512]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k55_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_U4, 512, 256, 128, 4, 2, 4, 2, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (const uint16_t *)A(2097152), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(3211264), (int *)(a.arena + 5310464));
}

/* u4[256,512] (groups of 128) dequantized to f16 [256,512] for the tensor cores; a 16-byte lane8 slot a thread */
extern "C" __global__ void __launch_bounds__(256) k56_dequant(LlmcDevArgs a, LlmcKernelOffsets o)
{
    dequant_half<FMT_U4, 512, 256, 128, 1, ORDER_LANE8>(((const uint8_t *)(a.weights + o.v[3])), WQ{{((const uint8_t *)(a.weights + o.v[3])) + 65536}}, (uint16_t *)A(5310720));
}

/* f32[O,512] rows -> f16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k57_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<0, 0, 512, 512>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, f16 activations), K split in 2: partials of [O,512] x f16[256,512]^T */
extern "C" __global__ void __launch_bounds__(128) k58_gemm_wide_splitk(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<0, 512, 256, 512, 0, 0, 1, 2, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)A(5310720)), (const uint16_t *)A(2097152), (const float *)0, A(3211264), (int)o.v[0], (const float *)0);
}

/* split-K reduce: 2 partials -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(256) k59_gemm_reduce(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_reduce<256, 256, 256, 2, 1>(A(3211264), (const float *)0, ((const float *)(a.arena + o.v[4])), ((float *)(a.arena + o.v[1])), (int)o.v[0]);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue; strides x 256, y 512; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k60_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 256, 512, 256, 512, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), (int)o.v[0], ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,256] x bf16[512,256]^T -> f32[1,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128) k61_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 256, 512, 1, 0, 4, 1>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* f32[O,256] rows, RMS-normalized, -> bf16 in natural order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k62_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 256, 256, 0>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 4) k63_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 1, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(2097152), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k64_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 2, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(2097152), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k65_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 4, 2, 4, 2, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(2097152), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(3211264), (int *)(a.arena + 5310464));
}

/* f32[O,256] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k66_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 256, 256>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(2097152), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k67_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 256, 512, 256, 512, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(2097152), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, bf16 activations): [O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k68_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<1, 256, 512, 256, 512, 0, 0, 1, 1, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(2097152), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* token of every row: f32[O,512] -> i32[O], the argmax or a draw (a.sample) */
extern "C" __global__ void __launch_bounds__(1024) k69_sample(LlmcDevArgs a, LlmcKernelOffsets o)
{
    (void)o;
    sample_rows<512, 512>(a.logits, a.out_ids, a.sample, nullptr, nullptr, nullptr);
}

