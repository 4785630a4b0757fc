/* ---- kernels ---- */

/* embedding: f32[12,32], one rank's rows, rows gathered by i32[T] -> f32[T,32] */
static void k0_embedding(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *table, const int32_t *tok, float *y)
{
    embed_part_f32(st->n_tokens, 32, (int64_t)ex->rank * 12, 12, table, tok, y, 32, tid, nth);
}

/* all_reduce: f32[rows,32] summed over 2 ranks (rank order, in double); strides x 32, y 32 */
static void k1_all_reduce(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, float *y)
{
    llmc_all_reduce(ex, nrows, 32, x, 32, y, 32, tid, nth);
}

/* rmsnorm: f32[rows,32], eps 1e-05; strides a 32, b 0, s 0, y 32 */
static void k2_rmsnorm(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, const float *b, float *s, const float *w, float *y)
{
    (void)ex;
    rmsnorm_rows(0, nrows, 32, a, 32, b, 0, s, 0, w, y, 32, 1e-05f, tid, nth);
}

/* matmul: f32[rows,32] x f32[32,32]^T -> f32[rows,32]; x row stride 32, y row stride 32 */
static void k3_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 32, 32, x, 32, w, b, y, 32, tid, nth);
}

/* rope (interleaved pairs): f32[rows,16] = 2 heads of 8; table at consts + 0; strides x 32, y 16 */
static void k4_rope(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const int32_t *pos, float *y)
{
    rope_rows(1, nrows, 2, 8, x, 32, pos, (const float *)(ex->consts + 0), y, 16, tid, nth);
}

/* rope (interleaved pairs): f32[rows,8] = 1 heads of 8; table at consts + 0; strides x 32, y 8 */
static void k5_rope(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const int32_t *pos, float *y)
{
    rope_rows(1, nrows, 1, 8, x, 32, pos, (const float *)(ex->consts + 0), y, 8, tid, nth);
}

/* kv_write: f32[T,8] K and V rows -> f32 pool of 2 layers (blocks of 8 positions x 1 heads x 8); strides k 8, v 32 */
static void k6_kv_write(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *k, const float *v, const int32_t *slots, int layer)
{
    kv_write(FMT_F32, FMT_F32, st->n_tokens, 2, 8, 1, 8, layer, k, 8, v, 32, slots, st->positions, st->seq_of_token, st->block_tables, st->max_blocks_per_seq, (uint8_t *)ex->kv, 0, tid, nth);
}

/* paged_attention: 2 query heads over 1 f32 KV heads of 8, scale 0.353553391; strides q 16, y 16 */
static void k7_paged_attention(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *q, const int32_t *pos, float *y, int layer)
{
    float sc[64], kb[8], vb[8];
    paged_attention(FMT_F32, FMT_F32, st->n_tokens, 2, 8, 2, 1, 8, layer, sc, 64, kb, vb, 0.353553391f, 0, q, 16, pos, st->seq_of_token, st->block_tables, st->max_blocks_per_seq, (uint8_t *)ex->kv, 0, y, 16, tid, nth);
}

/* matmul: f32[rows,16] x f32[32,16]^T -> f32[rows,32]; x row stride 16, y row stride 32 */
static void k8_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 16, 32, x, 16, w, b, y, 32, tid, nth);
}

/* add_rmsnorm: f32[rows,32] + f32[same], eps 1e-05; strides a 32, b 32, s 32, y 32 */
static void k9_add_rmsnorm(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, const float *b, float *s, const float *w, float *y)
{
    (void)ex;
    rmsnorm_rows(1, nrows, 32, a, 32, b, 32, s, 32, w, y, 32, 1e-05f, tid, nth);
}

/* matmul: f32[rows,32] x f32[48,32]^T -> f32[rows,48]; x row stride 32, y row stride 48 */
static void k10_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 32, 48, x, 32, w, b, y, 48, tid, nth);
}

/* swiglu: f32[rows,24]; strides a 48, b 48, y 24 */
static void k11_swiglu(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, const float *b, float *y)
{
    (void)ex;
    eltwise(3, nrows, 24, a, 48, b, 48, y, 24, tid, nth);
}

/* matmul: f32[rows,24] x f32[32,24]^T -> f32[rows,32]; x row stride 24, y row stride 32 */
static void k12_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 24, 32, x, 24, w, b, y, 32, tid, nth);
}

/* select_rows: f32[T,16] -> f32[O,16]; strides x 16, y 16 */
static void k13_select_rows(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *x, const int32_t *rows, float *y)
{
    (void)ex;
    select_rows(st->n_out, 16, x, 16, rows, y, 16, tid, nth);
}

/* select_rows: f32[T,32] -> f32[O,32]; strides x 32, y 32 */
static void k14_select_rows(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *x, const int32_t *rows, float *y)
{
    (void)ex;
    select_rows(st->n_out, 32, x, 32, rows, y, 32, tid, nth);
}

/* matmul: f32[rows,32] x f32[12,32]^T -> f32[rows,12]; x row stride 32, y row stride 12 */
static void k15_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 32, 12, x, 32, w, b, y, 12, tid, nth);
}

/* all_gather: f32[rows,12] of 2 ranks -> f32[rows,24]; strides x 12, y 24 */
static void k16_all_gather(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, float *y)
{
    llmc_all_gather(ex, nrows, 12, x, 12, y, 24, tid, nth);
}

static void init(const LlmcExec *ex)
{
    (void)ex;
    /* rope table: head_dim 8, theta 10000 */
    rope_table((float *)(ex->consts + 0), 64, 8, 10000.0f, 0, 1.0f, 1.0f, 4.0f, 8192.0f);
}

static void forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    const uint8_t *W = ex->weights;
    uint8_t *A = ex->arena;
    (void)W;
    (void)A;
    /* node 0: %x.partial = embedding(@tok_embeddings, %tokens) : [T,32] */
    k0_embedding(ex, st, tid, nth, (const float *)(W + 0), st->tokens, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 1)
        return;
    /* node 1: %x = all_reduce(%x.partial) : [T,32] */
    k1_all_reduce(ex, st, tid, nth, st->n_tokens, (const float *)(A + 0), (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 2)
        return;
    /* node 2: %l0.h = rmsnorm(%x, @layers.0.attn_norm) : [T,32] */
    k2_rmsnorm(ex, st, tid, nth, st->n_tokens, (const float *)(A + 2048), 0, 0, (const float *)(W + 1536), (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 3)
        return;
    /* node 3: %l0.q.merged = matmul(%l0.h, @layers.0.wq+layers.0.wk+layers.0.wv) : [T,32] */
    k3_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 0), (const float *)(W + 1664), 0, (float *)(A + 4096));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 4)
        return;
    /* node 7: %l0.q.1 = rope(%l0.q, %positions) : [T,16] */
    k4_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4096), st->positions, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 8)
        return;
    /* node 8: %l0.k.1 = rope(%l0.k, %positions) : [T,8] */
    k5_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4160), st->positions, (float *)(A + 1024));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 9)
        return;
    /* node 9: kv_write(%l0.k.1, %l0.v, %slots) */
    k6_kv_write(ex, st, tid, nth, (const float *)(A + 1024), (const float *)(A + 4192), st->slots, 0);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 10)
        return;
    /* node 10: %l0.a = paged_attention(%l0.q.1, %positions) : [T,16] */
    k7_paged_attention(ex, st, tid, nth, (const float *)(A + 0), st->positions, (float *)(A + 1024), 0);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 11)
        return;
    /* node 11: %l0.o.partial = matmul(%l0.a, @layers.0.wo) : [T,32] */
    k8_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 1024), (const float *)(W + 5760), 0, (float *)(A + 4096));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 12)
        return;
    /* node 12: %l0.o = all_reduce(%l0.o.partial) : [T,32] */
    k1_all_reduce(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4096), (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 13)
        return;
    /* node 13: %l0.x, %l0.h.1 = add_rmsnorm(%x, %l0.o, @layers.0.ffn_norm) : [T,32] */
    k9_add_rmsnorm(ex, st, tid, nth, st->n_tokens, (const float *)(A + 2048), (const float *)(A + 0), (float *)(A + 4096), (const float *)(W + 7808), (float *)(A + 6144));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 14)
        return;
    /* node 14: %l0.g.merged = matmul(%l0.h.1, @layers.0.w1+layers.0.w3) : [T,48] */
    k10_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 6144), (const float *)(W + 7936), 0, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 15)
        return;
    /* node 17: %l0.f = swiglu(%l0.g, %l0.u) : [T,24] */
    k11_swiglu(ex, st, tid, nth, st->n_tokens, (const float *)(A + 0), (const float *)(A + 96), (float *)(A + 6144));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 18)
        return;
    /* node 18: %l0.d.partial = matmul(%l0.f, @layers.0.w2) : [T,32] */
    k12_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 6144), (const float *)(W + 14080), 0, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 19)
        return;
    /* node 19: %l0.d = all_reduce(%l0.d.partial) : [T,32] */
    k1_all_reduce(ex, st, tid, nth, st->n_tokens, (const float *)(A + 0), (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 20)
        return;
    /* node 20: %l0.x.1, %l1.h = add_rmsnorm(%l0.x, %l0.d, @layers.1.attn_norm) : [T,32] */
    k9_add_rmsnorm(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4096), (const float *)(A + 2048), (float *)(A + 0), (const float *)(W + 17152), (float *)(A + 6144));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 21)
        return;
    /* node 21: %l1.q.merged = matmul(%l1.h, @layers.1.wq+layers.1.wk+layers.1.wv) : [T,32] */
    k3_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 6144), (const float *)(W + 17280), 0, (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 22)
        return;
    /* node 25: %l1.q.1 = rope(%l1.q, %positions) : [T,16] */
    k4_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 2048), st->positions, (float *)(A + 4096));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 26)
        return;
    /* node 26: %l1.k.1 = rope(%l1.k, %positions) : [T,8] */
    k5_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 2112), st->positions, (float *)(A + 5120));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 27)
        return;
    /* node 27: kv_write(%l1.k.1, %l1.v, %slots) */
    k6_kv_write(ex, st, tid, nth, (const float *)(A + 5120), (const float *)(A + 2144), st->slots, 1);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 28)
        return;
    /* node 28: %l1.a = paged_attention(%l1.q.1, %positions) : [T,16] */
    k7_paged_attention(ex, st, tid, nth, (const float *)(A + 4096), st->positions, (float *)(A + 2048), 1);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 29)
        return;
    /* node 29: %l1.a.rows = select_rows(%l1.a, %out_rows) : [O,16] */
    k13_select_rows(ex, st, tid, nth, (const float *)(A + 2048), st->out_rows, (float *)(A + 3072));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 30)
        return;
    /* node 30: %l0.x.1.rows = select_rows(%l0.x.1, %out_rows) : [O,32] */
    k14_select_rows(ex, st, tid, nth, (const float *)(A + 0), st->out_rows, (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 31)
        return;
    /* node 31: %l1.o.partial = matmul(%l1.a.rows, @layers.1.wo) : [O,32] */
    k8_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 3072), (const float *)(W + 21376), 0, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 32)
        return;
    /* node 32: %l1.o = all_reduce(%l1.o.partial) : [O,32] */
    k1_all_reduce(ex, st, tid, nth, st->n_out, (const float *)(A + 0), (float *)(A + 512));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 33)
        return;
    /* node 33: %l1.x, %l1.h.1 = add_rmsnorm(%l0.x.1.rows, %l1.o, @layers.1.ffn_norm) : [O,32] */
    k9_add_rmsnorm(ex, st, tid, nth, st->n_out, (const float *)(A + 2048), (const float *)(A + 512), (float *)(A + 0), (const float *)(W + 23424), (float *)(A + 1024));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 34)
        return;
    /* node 34: %l1.g.merged = matmul(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,48] */
    k10_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 1024), (const float *)(W + 23552), 0, (float *)(A + 1536));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 35)
        return;
    /* node 37: %l1.f = swiglu(%l1.g, %l1.u) : [O,24] */
    k11_swiglu(ex, st, tid, nth, st->n_out, (const float *)(A + 1536), (const float *)(A + 1632), (float *)(A + 512));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 38)
        return;
    /* node 38: %l1.d.partial = matmul(%l1.f, @layers.1.w2) : [O,32] */
    k12_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 512), (const float *)(W + 29696), 0, (float *)(A + 896));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 39)
        return;
    /* node 39: %l1.d = all_reduce(%l1.d.partial) : [O,32] */
    k1_all_reduce(ex, st, tid, nth, st->n_out, (const float *)(A + 896), (float *)(A + 1408));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 40)
        return;
    /* node 40: %l1.x.1, %h = add_rmsnorm(%l1.x, %l1.d, @norm) : [O,32] */
    k9_add_rmsnorm(ex, st, tid, nth, st->n_out, (const float *)(A + 0), (const float *)(A + 1408), (float *)(A + 512), (const float *)(W + 32768), (float *)(A + 1920));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 41)
        return;
    /* node 41: %logits.part = matmul(%h, @output) : [O,12] */
    k15_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 1920), (const float *)(W + 32896), 0, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 42)
        return;
    /* node 42: %logits = all_gather(%logits.part) : [O,24] */
    k16_all_gather(ex, st, tid, nth, st->n_out, (const float *)(A + 0), st->logits);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 43)
        return;
}

/* Values readable after a step that ran n_nodes = node + 1 nodes (--compare-cpu). */
static const LlmcProbe probes[] = {
    {"x.partial", 0, -1, 0, 0, 32, 32},
    {"x", 1, -1, 2048, 0, 32, 32},
    {"l0.h", 2, 0, 0, 0, 32, 32},
    {"l0.q.merged", 3, 0, 4096, 0, 32, 32},
    {"l0.q.1", 7, 0, 0, 0, 16, 16},
    {"l0.k.1", 8, 0, 1024, 0, 8, 8},
    {"l0.a", 10, 0, 1024, 0, 16, 16},
    {"l0.o.partial", 11, 0, 4096, 0, 32, 32},
    {"l0.o", 12, 0, 0, 0, 32, 32},
    {"l0.x", 13, 0, 4096, 0, 32, 32},
    {"l0.h.1", 13, 0, 6144, 0, 32, 32},
    {"l0.g.merged", 14, 0, 0, 0, 48, 48},
    {"l0.f", 17, 0, 6144, 0, 24, 24},
    {"l0.d.partial", 18, 0, 0, 0, 32, 32},
    {"l0.d", 19, 0, 2048, 0, 32, 32},
    {"l0.x.1", 20, 0, 0, 0, 32, 32},
    {"l1.h", 20, 0, 6144, 0, 32, 32},
    {"l1.q.merged", 21, 1, 2048, 0, 32, 32},
    {"l1.q.1", 25, 1, 4096, 0, 16, 16},
    {"l1.k.1", 26, 1, 5120, 0, 8, 8},
    {"l1.a", 28, 1, 2048, 0, 16, 16},
    {"l1.a.rows", 29, 1, 3072, 1, 16, 16},
    {"l0.x.1.rows", 30, 1, 2048, 1, 32, 32},
    {"l1.o.partial", 31, 1, 0, 1, 32, 32},
    {"l1.o", 32, 1, 512, 1, 32, 32},
    {"l1.x", 33, 1, 0, 1, 32, 32},
    {"l1.h.1", 33, 1, 1024, 1, 32, 32},
    {"l1.g.merged", 34, 1, 1536, 1, 48, 48},
    {"l1.f", 37, 1, 512, 1, 24, 24},
    {"l1.d.partial", 38, 1, 896, 1, 32, 32},
    {"l1.d", 39, 1, 1408, 1, 32, 32},
    {"l1.x.1", 40, 1, 512, 1, 32, 32},
    {"h", 40, 1, 1920, 1, 32, 32},
    {"logits.part", 41, -1, 0, 1, 12, 12},
};

const LlmcModelDesc llmc_model = {
    .abi_version = LLMC_ABI_VERSION,
    .name = "tiny",
    .target = "cpu",
    .llmc_version = "0.1.0",
    .build_info = "tiny",
    .model_hash = 0x0000000000001234ULL,
    .vocab_size = 24,
    .max_seq_len = 64,
    .max_tokens = 16,
    .max_outputs = 4,
    .bos_id = 1,
    .eos_id = 2,
    .kv_block_size = 8,
    .kv_block_bytes = 1024,
    .weights_bytes = 73728,
    .const_bytes = 2048,
    .arena_bytes = 8192,
    .weight_bytes_per_token = 33024,
    .kv_bytes_per_position = 128,
    .max_threads = 0,
    .init = init,
    .forward = forward,
    .probes = probes,
    .n_probes = sizeof probes / sizeof probes[0],
    .n_ranks = 2,
    .rank_weights_stride = 36864,
};
