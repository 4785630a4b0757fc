/* ---- kernels ---- */

/* embedding: bf16[512,64] rows gathered by the tokens -> f32[T,64] */
extern "C" __global__ void __launch_bounds__(256) k0_embedding(LlmcDevArgs a, LlmcKernelOffsets o)
{
    embed<FMT_BF16, 64, 64>(((const uint8_t *)(a.weights + o.v[0])), a.tokens, ((float *)(a.arena + o.v[1])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[T,64] x bf16[128,64]^T -> f32[T,128], RMSNorm prologue; strides x 64, y 128; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k1_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 64, 128, 64, 128, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,64] x bf16[128,64]^T -> f32[1,128], RMSNorm prologue, RoPE of q and k and the KV write in the epilogue */
extern "C" __global__ void __launch_bounds__(128) k2_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 64, 128, 1, 3, 4, 1, 0, 8, 4, 8, 5, 16, FMT_F16>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, RopeOut{a.positions, a.slots, C(0), ((float *)(a.arena + o.v[5])), a.kv, (int)o.v[6]});
}

/* f32[T,64] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k3_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 64, 64>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(745472), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [T,64] x bf16[128,64]^T -> f32[T,128], RMSNorm prologue; stride y 128 */
extern "C" __global__ void __launch_bounds__(128) k4_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 64, 128, 64, 128, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(745472), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, bf16 activations): [T,64] x bf16[128,64]^T -> f32[T,128], RMSNorm prologue; stride y 128 */
extern "C" __global__ void __launch_bounds__(128) k5_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<1, 64, 128, 64, 128, 0, 0, 1, 1, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(745472), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* rope_kv_write (half pairs): q 8 heads, k/v 4 heads of 8 -> q rotated, k rotated and v to the f16 pool; table at consts + 0 */
extern "C" __global__ void __launch_bounds__(128) k6_rope_kv_write(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rope_kv_row<FMT_F16, FMT_F16, 0, 8, 4, 8, 128, 128, 128, 64, 5, 16>(((const float *)(a.arena + o.v[0])), ((const float *)(a.arena + o.v[1])), ((const float *)(a.arena + o.v[2])), a.positions, a.slots, C(0), ((float *)(a.arena + o.v[4])), a.kv, (int)o.v[3], (const float *)0, KvSeqs{a.seq_of_token, a.block_tables, a.max_blocks_per_seq});
}

/* paged_attention, decode steps: 8 query heads over 4 f16 KV heads of 8, 2 query heads a block, scale 0.353553391; positions split in 16 parts, the last block to finish combines them; strides q 64, y 64 */
extern "C" __global__ void __launch_bounds__(128, 4) k7_paged_attention_dec(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn_dec<FMT_F16, FMT_F16, 5, 16, 8, 4, 8, 64, 64, 0, 16, 4, 2>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(745472), (int *)A(2121728), (int)o.v[2], 0.353553391f, (const float *)0);
}

/* paged_attention: 8 query heads over 4 f16 KV heads of 8, scale 0.353553391 (at least 4 blocks an SM: ptxas otherwise picks 48 registers and spills on sm_90), positions split in gridDim.z parts (16 for decode steps); strides q 64, y 64 */
extern "C" __global__ void __launch_bounds__(128, 4) k8_paged_attention(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn<FMT_F16, FMT_F16, 5, 16, 8, 4, 8, 64, 64, 0>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(745472), (int)o.v[2], 0.353553391f, (const float *)0);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[T,64] x bf16[64,64]^T -> f32[T,64], residual epilogue; strides x 64, y 64; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k9_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 64, 64, 64, 64, 1, 0, 1, 64, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,64] x bf16[64,64]^T -> f32[1,64], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k10_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 64, 64, 0, 1, 4, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* f32[T,64] rows -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k11_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 0, 64, 64>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(745472), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [T,64] x bf16[64,64]^T -> f32[T,64], residual epilogue; stride y 64 */
extern "C" __global__ void __launch_bounds__(128) k12_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 64, 64, 64, 64, 64, 1, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(745472), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, bf16 activations): [T,64] x bf16[64,64]^T -> f32[T,64], residual epilogue; stride y 64 */
extern "C" __global__ void __launch_bounds__(128) k13_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<1, 64, 64, 64, 64, 64, 1, 1, 1, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(745472), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[T,64] x bf16[344,64]^T -> f32[T,172], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); strides x 64, y 172; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k14_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 64, 344, 64, 172, 1, 1, 2, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,64] x bf16[344,64]^T -> f32[1,172], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128) k15_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 64, 344, 1, 2, 4, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [T,64] x bf16[344,64]^T -> f32[T,172], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 172 */
extern "C" __global__ void __launch_bounds__(128) k16_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 64, 344, 64, 172, 0, 2, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(745472), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, bf16 activations): [T,64] x bf16[344,64]^T -> f32[T,172], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 172 */
extern "C" __global__ void __launch_bounds__(128) k17_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<1, 64, 344, 64, 172, 0, 2, 1, 1, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(745472), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 1): f32[T,172] x bf16[64,172]^T -> f32[T,64], residual epilogue; strides x 172, y 64; scalar loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k18_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 172, 64, 172, 64, 0, 0, 1, 64, 2, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* select_rows, in place: f32[T,64] -> its first O rows (stride 64); the rows to scratch A */
extern "C" __global__ void __launch_bounds__(256) k19_select_rows_gather(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<64, 64, 64>(((const float *)(a.arena + o.v[0])), a.out_rows, A(745472));
}

/* select_rows, in place: scratch A's O rows -> f32[O,64] (stride 64) */
extern "C" __global__ void __launch_bounds__(256) k20_select_rows_back(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<64, 64, 64>(A(745472), nullptr, ((float *)(a.arena + o.v[0])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,64] x bf16[512,64]^T -> f32[O,512], RMSNorm prologue; strides x 64, y 512; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k21_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 64, 512, 64, 512, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), (int)o.v[0], ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,64] x bf16[512,64]^T -> f32[1,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128) k22_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 64, 512, 1, 0, 4, 1>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* f32[O,64] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k23_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 64, 64>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(745472), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [O,64] x bf16[512,64]^T -> f32[O,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k24_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 64, 512, 64, 512, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(745472), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (wgmma m64n128k16, 64x128x64 tiles on a warpgroup, 4 cp.async stages, bf16 activations): [O,64] x bf16[512,64]^T -> f32[O,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k25_gemm_wg(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<1, 64, 512, 64, 512, 0, 0, 1, 1, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(745472), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* token of every row: f32[O,512] -> i32[O], the argmax or a draw (a.sample) */
extern "C" __global__ void __launch_bounds__(1024) k26_sample(LlmcDevArgs a, LlmcKernelOffsets o)
{
    (void)o;
    sample_rows<512, 512>(a.logits, a.out_ids, a.sample, nullptr, nullptr, nullptr);
}

