/* ---- kernels ---- */

/* embedding: bf16[512,256] rows gathered by the tokens -> f32[T,256] */
extern "C" __global__ void __launch_bounds__(256) k0_embedding(LlmcDevArgs a, LlmcKernelOffsets o)
{
    embed<FMT_BF16, 256, 256>(((const uint8_t *)(a.weights + o.v[0])), a.tokens, ((float *)(a.arena + o.v[1])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[T,256] x bf16[512,256]^T -> f32[T,512], RMSNorm prologue; strides x 256, y 512; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k1_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 256, 512, 256, 512, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,256] x bf16[512,256]^T -> f32[1,512], RMSNorm prologue, RoPE of q and k and the KV write in the epilogue */
extern "C" __global__ void __launch_bounds__(128) k2_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 256, 512, 1, 3, 4, 1, 0, 8, 4, 32, 1, 16, FMT_F16>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, RopeOut{a.positions, a.slots, C(0), ((float *)(a.arena + o.v[5])), a.kv, (int)o.v[6]});
}

/* f32[T,256] rows, RMS-normalized, -> bf16 in natural order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k3_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 256, 256, 0>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[T,256] x bf16[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 4) k4_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 1, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[T,256] x bf16[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k5_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 2, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[T,256] x bf16[512,256]^T -> f32[T,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k6_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 4, 2, 4, 2, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* f32[T,256] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k7_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 256, 256>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [T,256] x bf16[512,256]^T -> f32[T,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k8_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 256, 512, 256, 512, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (gemm_wt: TMA maps, a producer warp and two consumer warpgroups of wgmma m64n128k16, 128x128 tiles, 7 stages, persistent; bf16 activations): [T,256] x bf16[512,256]^T -> f32[T,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(384, 1) k9_gemm_wt(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    const LlmcTmap *tw = (const LlmcTmap *)(a.consts + (int)o.v[7]), *tx = tw + 1;
    wt_maps_acquire(tw, tx);
    gemm_wt<1, 256, 512, 512, 0, 0, 1, 128, 7>(tw, tx, (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* rope_kv_write (half pairs): q 8 heads, k/v 4 heads of 32 -> q rotated, k rotated and v to the f16 pool; table at consts + 0 */
extern "C" __global__ void __launch_bounds__(128) k10_rope_kv_write(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rope_kv_row<FMT_F16, FMT_F16, 0, 8, 4, 32, 512, 512, 512, 256, 1, 16>(((const float *)(a.arena + o.v[0])), ((const float *)(a.arena + o.v[1])), ((const float *)(a.arena + o.v[2])), a.positions, a.slots, C(0), ((float *)(a.arena + o.v[4])), a.kv, (int)o.v[3], (const float *)0, KvSeqs{a.seq_of_token, a.block_tables, a.max_blocks_per_seq});
}

/* paged_attention, decode steps: 8 query heads over 4 f16 KV heads of 32, 2 query heads a block, scale 0.176776695; positions split in 16 parts, the last block to finish combines them; strides q 256, y 256 */
extern "C" __global__ void __launch_bounds__(128, 4) k11_paged_attention_dec(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn_dec<FMT_F16, FMT_F16, 1, 16, 8, 4, 32, 256, 256, 0, 16, 4, 2>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(3670016), (int *)A(8978432), (int)o.v[2], 0.176776695f, (const float *)0);
}

/* flash attention (long steps): 64 tokens x 1 of 8 query heads a block, f16 KV head of 32, scale 0.176776695; K/V tiles of 64 positions, 20480 bytes of shared memory; strides q 256, y 256 */
extern "C" __global__ void __launch_bounds__(128, 2) k12_flash_attention(LlmcDevArgs a, LlmcKernelOffsets o)
{
    flash_prefill<FMT_F16, FMT_F16, 1, 16, 8, 4, 32, 256, 256, 0, 0>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), a.n_tokens, (int)o.v[2], 0.176776695f, (const float *)0);
}

/* select_rows, in place: f32[T,256] -> its first O rows (stride 256); the rows to scratch A */
extern "C" __global__ void __launch_bounds__(256) k13_select_rows_gather(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<256, 256, 256>(((const float *)(a.arena + o.v[0])), a.out_rows, A(3670016));
}

/* select_rows, in place: scratch A's O rows -> f32[O,256] (stride 256) */
extern "C" __global__ void __launch_bounds__(256) k14_select_rows_back(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<256, 256, 256>(A(3670016), nullptr, ((float *)(a.arena + o.v[0])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,256] x bf16[256,256]^T -> f32[O,256], residual epilogue; strides x 256, y 256; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k15_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 256, 256, 256, 256, 1, 0, 1, 256, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,256] x bf16[256,256]^T -> f32[1,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k16_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 256, 256, 0, 1, 4, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* f32[O,256] rows -> bf16 in natural order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k17_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 0, 256, 256, 0>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 1 blocks over the chunks of K): bf16[O,256] x bf16[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 4) k18_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 256, 256, 1, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 1 blocks over the chunks of K): bf16[O,256] x bf16[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k19_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 256, 256, 2, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 1 blocks over the chunks of K): bf16[O,256] x bf16[256,256]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k20_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 256, 256, 4, 2, 4, 2, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(4784128), (int *)(a.arena + 8980480));
}

/* f32[O,256] rows -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k21_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 0, 256, 256>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [O,256] x bf16[256,256]^T -> f32[O,256], residual epilogue; stride y 256 */
extern "C" __global__ void __launch_bounds__(128) k22_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 256, 256, 256, 256, 256, 1, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
}

/* matmul, tensor cores (gemm_wt: TMA maps, a producer warp and two consumer warpgroups of wgmma m64n128k16, 128x128 tiles, 7 stages, persistent; bf16 activations): [O,256] x bf16[256,256]^T -> f32[O,256], residual epilogue; stride y 256 */
extern "C" __global__ void __launch_bounds__(384, 1) k23_gemm_wt(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    const LlmcTmap *tw = (const LlmcTmap *)(a.consts + (int)o.v[5]), *tx = tw + 1;
    wt_maps_acquire(tw, tx);
    gemm_wt<1, 256, 256, 256, 256, 1, 1, 128, 7>(tw, tx, (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
#else
    __trap();
#endif
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,256] x bf16[2048,256]^T -> f32[O,1024], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); strides x 256, y 1024; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k24_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 256, 2048, 256, 1024, 1, 1, 2, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,256] x bf16[2048,256]^T -> f32[1,1024], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128) k25_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 256, 2048, 1, 2, 4, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 8 blocks over the chunks of K): bf16[O,256] x bf16[2048,256]^T -> f32[O,1024], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 4) k26_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 2048, 256, 1, 2, 4, 3, 2, 1024, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 8 blocks over the chunks of K): bf16[O,256] x bf16[2048,256]^T -> f32[O,1024], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k27_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 2048, 256, 2, 2, 4, 3, 2, 1024, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 8 blocks over the chunks of K): bf16[O,256] x bf16[2048,256]^T -> f32[O,1024], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128, 2) k28_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 2048, 256, 4, 2, 4, 2, 2, 1024, 0>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [O,256] x bf16[2048,256]^T -> f32[O,1024], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 1024 */
extern "C" __global__ void __launch_bounds__(128) k29_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 256, 2048, 256, 1024, 0, 2, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (gemm_wt: TMA maps, a producer warp and two consumer warpgroups of wgmma m64n128k16, 128x128 tiles, 7 stages, persistent; bf16 activations): [O,256] x bf16[2048,256]^T -> f32[O,1024], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 1024 */
extern "C" __global__ void __launch_bounds__(384, 1) k30_gemm_wt(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    const LlmcTmap *tw = (const LlmcTmap *)(a.consts + (int)o.v[5]), *tx = tw + 1;
    wt_maps_acquire(tw, tx);
    gemm_wt<1, 256, 2048, 1024, 0, 2, 1, 128, 7>(tw, tx, (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,1024] x bf16[256,1024]^T -> f32[O,256], residual epilogue; strides x 1024, y 256; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k31_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 1024, 256, 1024, 256, 1, 0, 1, 256, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,1024] x bf16[256,1024]^T -> f32[1,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k32_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 1024, 256, 0, 1, 4, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* f32[O,1024] rows -> bf16 in natural order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k33_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 0, 1024, 1024, 0>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 4 blocks over the chunks of K): bf16[O,1024] x bf16[256,1024]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 4) k34_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 1024, 256, 1024, 1, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 4 blocks over the chunks of K): bf16[O,1024] x bf16[256,1024]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k35_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 1024, 256, 1024, 2, 2, 4, 3, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 4 blocks over the chunks of K): bf16[O,1024] x bf16[256,1024]^T -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(128, 2) k36_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 1024, 256, 1024, 4, 2, 4, 2, 1, 256, 256>(((const uint8_t *)(a.weights + o.v[3])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])), A(4784128), (int *)(a.arena + 8980480));
}

/* f32[O,1024] rows -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k37_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 0, 1024, 1024>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations), K split in 4: partials of [O,1024] x bf16[256,1024]^T */
extern "C" __global__ void __launch_bounds__(128) k38_gemm_wide_splitk(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 1024, 256, 1024, 0, 0, 1, 4, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(3670016), (const float *)0, A(4784128), (int)o.v[0], (const float *)0);
}

/* split-K reduce: 4 partials -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(256) k39_gemm_reduce(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_reduce<256, 256, 256, 4, 1>(A(4784128), (const float *)0, ((const float *)(a.arena + o.v[4])), ((float *)(a.arena + o.v[1])), (int)o.v[0]);
}

/* matmul, tensor cores (gemm_wt: TMA maps, a producer warp and two consumer warpgroups of wgmma m64n128k16, 128x128 tiles, 7 stages, persistent; bf16 activations), K split, partials: [O,1024] x bf16[256,1024]^T -> f32[O,256], residual epilogue; stride y 256 */
extern "C" __global__ void __launch_bounds__(384, 1) k40_gemm_wt_splitk(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    const LlmcTmap *tw = (const LlmcTmap *)(a.consts + (int)o.v[5]), *tx = tw + 1;
    wt_maps_acquire(tw, tx);
    gemm_wt<1, 1024, 256, 0, 0, 1, 2, 128, 7>(tw, tx, (const float *)0, A(4784128), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* split-K reduce: 2 partials -> f32[O,256], residual epilogue */
extern "C" __global__ void __launch_bounds__(256) k41_gemm_reduce(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_reduce<256, 256, 256, 2, 1>(A(4784128), (const float *)0, ((const float *)(a.arena + o.v[4])), ((float *)(a.arena + o.v[1])), (int)o.v[0]);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue; strides x 256, y 512; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k42_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 256, 512, 256, 512, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), (int)o.v[0], ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,256] x bf16[512,256]^T -> f32[1,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128) k43_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 256, 512, 1, 0, 4, 1>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* f32[O,256] rows, RMS-normalized, -> bf16 in natural order (A operand of gemm_q) */
extern "C" __global__ void __launch_bounds__(256) k44_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 256, 256, 0>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 16 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 4) k45_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 1, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 32 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k46_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 2, 2, 4, 3, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* matmul, tensor cores with the weights decoded in registers (gemm_q: 64 rows and 64 weight rows a block, 2 blocks over the chunks of K): bf16[O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128, 2) k47_gemm_q(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_q<FMT_BF16, 256, 512, 256, 4, 2, 4, 2, 0, 512, 0>(((const uint8_t *)(a.weights + o.v[2])), WQ{}, (const uint16_t *)A(3670016), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0, A(4784128), (int *)(a.arena + 8980480));
}

/* f32[O,256] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k48_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 256, 256>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(3670016), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(128) k49_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 256, 512, 256, 512, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(3670016), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0);
}

/* matmul, tensor cores (gemm_wt: TMA maps, a producer warp and two consumer warpgroups of wgmma m64n128k16, 128x128 tiles, 7 stages, persistent; bf16 activations): [O,256] x bf16[512,256]^T -> f32[O,512], RMSNorm prologue; stride y 512 */
extern "C" __global__ void __launch_bounds__(384, 1) k50_gemm_wt(LlmcDevArgs a, LlmcKernelOffsets o)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    const LlmcTmap *tw = (const LlmcTmap *)(a.consts + (int)o.v[4]), *tx = tw + 1;
    wt_maps_acquire(tw, tx);
    gemm_wt<1, 256, 512, 512, 0, 0, 1, 128, 7>(tw, tx, (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0);
#else
    __trap();
#endif
}

/* token of every row: f32[O,512] -> i32[O], the argmax or a draw (a.sample) */
extern "C" __global__ void __launch_bounds__(1024) k51_sample(LlmcDevArgs a, LlmcKernelOffsets o)
{
    (void)o;
    sample_rows<512, 512>(a.logits, a.out_ids, a.sample, nullptr, nullptr, nullptr);
}

