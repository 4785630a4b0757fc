/* ---- kernels ---- */

/* embedding: bf16[24,32] rows gathered by the tokens -> f32[T,32] */
extern "C" __global__ void __launch_bounds__(256) k0_embedding(LlmcDevArgs a, LlmcKernelOffsets o)
{
    embed<FMT_BF16, 32, 32>(((const uint8_t *)(a.weights + o.v[0])), a.tokens, ((float *)(a.arena + o.v[1])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[T,32] x bf16[64,32]^T -> f32[T,64], RMSNorm prologue; strides x 32, y 64; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k1_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 32, 64, 32, 64, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,32] x bf16[64,32]^T -> f32[1,64], RMSNorm prologue, RoPE of q and k and the KV write in the epilogue */
extern "C" __global__ void __launch_bounds__(128) k2_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 32, 64, 1, 3, 4, 1, 1, 4, 2, 8, 2, 16, FMT_F16>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0, RopeOut{a.positions, a.slots, C(0), ((float *)(a.arena + o.v[5])), a.kv, (int)o.v[6]});
}

/* f32[T,32] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k3_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 32, 32>(((const float *)(a.arena + o.v[2])), ((const float *)(a.weights + o.v[4])), (uint16_t *)A(262144), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [T,32] x bf16[64,32]^T -> f32[T,64], RMSNorm prologue; stride y 64 */
extern "C" __global__ void __launch_bounds__(128) k4_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 32, 64, 32, 64, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(262144), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* rope_kv_write (interleaved pairs): q 4 heads, k/v 2 heads of 8 -> q rotated, k rotated and v to the f16 pool; table at consts + 0 */
extern "C" __global__ void __launch_bounds__(128) k5_rope_kv_write(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rope_kv_row<FMT_F16, FMT_F16, 1, 4, 2, 8, 64, 64, 64, 32, 2, 16>(((const float *)(a.arena + o.v[0])), ((const float *)(a.arena + o.v[1])), ((const float *)(a.arena + o.v[2])), a.positions, a.slots, C(0), ((float *)(a.arena + o.v[4])), a.kv, (int)o.v[3], (const float *)0, KvSeqs{a.seq_of_token, a.block_tables, a.max_blocks_per_seq});
}

/* paged_attention, decode steps: 4 query heads over 2 f16 KV heads of 8, 2 query heads a block, scale 0.353553391; positions split in 16 parts, the last block to finish combines them; strides q 32, y 32 */
extern "C" __global__ void __launch_bounds__(128, 4) k6_paged_attention_dec(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn_dec<FMT_F16, FMT_F16, 2, 16, 4, 2, 8, 32, 32, 0, 16, 4, 2>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(262144), (int *)A(622592), (int)o.v[2], 0.353553391f, (const float *)0);
}

/* paged_attention: 4 query heads over 2 f16 KV heads of 8, scale 0.353553391 (at least 4 blocks an SM: ptxas otherwise picks 48 registers and spills on sm_90), positions split in gridDim.z parts (16 for decode steps); strides q 32, y 32 */
extern "C" __global__ void __launch_bounds__(128, 4) k7_paged_attention(LlmcDevArgs a, LlmcKernelOffsets o)
{
    paged_attn<FMT_F16, FMT_F16, 2, 16, 4, 2, 8, 32, 32, 0>(a.positions, a.seq_of_token, a.block_tables, a.max_blocks_per_seq, a.kv, ((const float *)(a.arena + o.v[0])), ((float *)(a.arena + o.v[1])), A(262144), (int)o.v[2], 0.353553391f, (const float *)0);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[T,32] x bf16[32,32]^T -> f32[T,32], residual epilogue; strides x 32, y 32; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k8_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 32, 32, 32, 32, 1, 0, 1, 32, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,32] x bf16[32,32]^T -> f32[1,32], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k9_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 32, 32, 0, 1, 4, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* f32[T,32] rows -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k10_to_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 0, 32, 32>(((const float *)(a.arena + o.v[2])), (const float *)0, (uint16_t *)A(262144), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [T,32] x bf16[32,32]^T -> f32[T,32], residual epilogue; stride y 32 */
extern "C" __global__ void __launch_bounds__(128) k11_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 32, 32, 32, 32, 32, 1, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(262144), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.arena + o.v[4])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[T,32] x bf16[96,32]^T -> f32[T,48], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); strides x 32, y 48; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k12_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 32, 96, 32, 48, 1, 1, 2, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,32] x bf16[96,32]^T -> f32[1,48], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2) */
extern "C" __global__ void __launch_bounds__(128) k13_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 32, 96, 1, 2, 4, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[4])), 1e-05f, (const float *)0);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [T,32] x bf16[96,32]^T -> f32[T,48], RMSNorm prologue, SwiGLU epilogue (rows j, j + N/2); stride y 48 */
extern "C" __global__ void __launch_bounds__(128) k14_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 32, 96, 32, 48, 0, 2, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[3])), (const uint16_t *)A(262144), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0);
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 2): f32[T,48] x bf16[32,48]^T -> f32[T,32], residual epilogue; strides x 48, y 32; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k15_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 48, 32, 48, 32, 1, 0, 1, 32, 2, 2>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (int)o.v[0], (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* matmul, one row (2 weight rows a warp, K split in 2, 1 load a row in flight): f32[1,48] x bf16[32,48]^T -> f32[1,32], residual epilogue */
extern "C" __global__ void __launch_bounds__(128) k16_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 48, 32, 0, 1, 2, 1>(((const uint8_t *)(a.weights + o.v[3])), ((const float *)(a.arena + o.v[2])), (const float *)0, ((float *)(a.arena + o.v[1])), (const float *)0, 1e-05f, ((const float *)(a.arena + o.v[4])));
}

/* select_rows, in place: f32[T,32] -> its first O rows (stride 32); the rows to scratch A */
extern "C" __global__ void __launch_bounds__(256) k17_select_rows_gather(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<32, 32, 32>(((const float *)(a.arena + o.v[0])), a.out_rows, A(262144));
}

/* select_rows, in place: scratch A's O rows -> f32[O,32] (stride 32) */
extern "C" __global__ void __launch_bounds__(256) k18_select_rows_back(LlmcDevArgs a, LlmcKernelOffsets o)
{
    select_row<32, 32, 32>(A(262144), nullptr, ((float *)(a.arena + o.v[0])));
}

/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in 4): f32[O,32] x bf16[24,32]^T -> f32[O,24], RMSNorm prologue; strides x 32, y 24; 16-byte loads; at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes */
extern "C" __global__ void __launch_bounds__(128, 4) k19_gemv(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv<FMT_BF16, 32, 24, 32, 24, 1, 1, 0, 0, 2, 4>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), (int)o.v[0], ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* matmul, one row (2 weight rows a warp, K split in 4, 1 load a row in flight): f32[1,32] x bf16[24,32]^T -> f32[1,24], RMSNorm prologue */
extern "C" __global__ void __launch_bounds__(128) k20_gemv_b1(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemv_b1<FMT_BF16, 32, 24, 1, 0, 4, 1>(((const uint8_t *)(a.weights + o.v[2])), ((const float *)(a.arena + o.v[1])), (const float *)0, ((float *)a.logits), ((const float *)(a.weights + o.v[3])), 1e-05f, (const float *)0);
}

/* f32[O,32] rows, RMS-normalized, -> bf16 (A operand of a tensor-core matmul) */
extern "C" __global__ void __launch_bounds__(256) k21_rmsnorm_half(LlmcDevArgs a, LlmcKernelOffsets o)
{
    rows_to_half<1, 1, 32, 32>(((const float *)(a.arena + o.v[1])), ((const float *)(a.weights + o.v[3])), (uint16_t *)A(262144), 1e-05f);
}

/* matmul, tensor cores (mma.sync m16n8k16, 64x128x32 tiles on 4 warps, 4 cp.async stages, bf16 activations): [O,32] x bf16[24,32]^T -> f32[O,24], RMSNorm prologue; stride y 24 */
extern "C" __global__ void __launch_bounds__(128) k22_gemm_wide(LlmcDevArgs a, LlmcKernelOffsets o)
{
    gemm_h<1, 32, 24, 32, 24, 0, 0, 1, 64, 128, 2, 2, 4>((const uint16_t *)((const uint8_t *)(a.weights + o.v[2])), (const uint16_t *)A(262144), (const float *)0, ((float *)a.logits), (int)o.v[0], (const float *)0);
}

/* token of every row: f32[O,24] -> i32[O], the argmax or a draw (a.sample) */
extern "C" __global__ void __launch_bounds__(1024) k23_sample(LlmcDevArgs a, LlmcKernelOffsets o)
{
    (void)o;
    sample_rows<24, 24>(a.logits, a.out_ids, a.sample, nullptr, nullptr, nullptr);
}

