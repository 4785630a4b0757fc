/* ---- kernels ---- */

/* embedding: f32[24,32] rows gathered by i32[T] -> f32[T,32] */
static void k0_embedding(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *table, const int32_t *tok, float *y)
{
    (void)ex;
    embed_f32(st->n_tokens, 32, table, tok, y, 32, tid, nth);
}

/* rmsnorm: f32[rows,32], eps 1e-05; strides a 32, b 0, s 0, y 32 */
static void k1_rmsnorm(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, const float *b, float *s, const float *w, float *y)
{
    (void)ex;
    rmsnorm_rows(0, nrows, 32, a, 32, b, 0, s, 0, w, y, 32, 1e-05f, tid, nth);
}

/* matmul: f32[rows,32] x f32[64,32]^T -> f32[rows,64]; x row stride 32, y row stride 64 */
static void k2_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 32, 64, x, 32, w, b, y, 64, tid, nth);
}

/* rope (interleaved pairs): f32[rows,32] = 4 heads of 8; table at consts + 0; strides x 64, y 32 */
static void k3_rope(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const int32_t *pos, float *y)
{
    rope_rows(1, nrows, 4, 8, x, 64, pos, (const float *)(ex->consts + 0), y, 32, tid, nth);
}

/* rope (interleaved pairs): f32[rows,16] = 2 heads of 8; table at consts + 0; strides x 64, y 16 */
static void k4_rope(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const int32_t *pos, float *y)
{
    rope_rows(1, nrows, 2, 8, x, 64, pos, (const float *)(ex->consts + 0), y, 16, tid, nth);
}

/* kv_write: f32[T,16] K and V rows -> f32 pool of 2 layers (blocks of 8 positions x 2 heads x 8); strides k 16, v 64 */
static void k5_kv_write(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *k, const float *v, const int32_t *slots, int layer)
{
    kv_write(FMT_F32, FMT_F32, st->n_tokens, 2, 8, 2, 8, layer, k, 16, v, 64, slots, st->positions, st->seq_of_token, st->block_tables, st->max_blocks_per_seq, (uint8_t *)ex->kv, 0, tid, nth);
}

/* paged_attention: 4 query heads over 2 f32 KV heads of 8, scale 0.353553391; strides q 32, y 32 */
static void k6_paged_attention(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *q, const int32_t *pos, float *y, int layer)
{
    float sc[64], kb[8], vb[8];
    paged_attention(FMT_F32, FMT_F32, st->n_tokens, 2, 8, 4, 2, 8, layer, sc, 64, kb, vb, 0.353553391f, 0, q, 32, pos, st->seq_of_token, st->block_tables, st->max_blocks_per_seq, (uint8_t *)ex->kv, 0, y, 32, tid, nth);
}

/* matmul: f32[rows,32] x f32[32,32]^T -> f32[rows,32]; x row stride 32, y row stride 32 */
static void k7_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 32, 32, x, 32, w, b, y, 32, tid, nth);
}

/* add_rmsnorm: f32[rows,32] + f32[same], eps 1e-05; strides a 32, b 32, s 32, y 32 */
static void k8_add_rmsnorm(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, const float *b, float *s, const float *w, float *y)
{
    (void)ex;
    rmsnorm_rows(1, nrows, 32, a, 32, b, 32, s, 32, w, y, 32, 1e-05f, tid, nth);
}

/* matmul: f32[rows,32] x f32[96,32]^T -> f32[rows,96]; x row stride 32, y row stride 96 */
static void k9_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 32, 96, x, 32, w, b, y, 96, tid, nth);
}

/* swiglu: f32[rows,48]; strides a 96, b 96, y 48 */
static void k10_swiglu(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, const float *b, float *y)
{
    (void)ex;
    eltwise(3, nrows, 48, a, 96, b, 96, y, 48, tid, nth);
}

/* matmul: f32[rows,48] x f32[32,48]^T -> f32[rows,32]; x row stride 48, y row stride 32 */
static void k11_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 48, 32, x, 48, w, b, y, 32, tid, nth);
}

/* select_rows: f32[T,32] -> f32[O,32]; strides x 32, y 32 */
static void k12_select_rows(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *x, const int32_t *rows, float *y)
{
    (void)ex;
    select_rows(st->n_out, 32, x, 32, rows, y, 32, tid, nth);
}

/* matmul: f32[rows,32] x f32[24,32]^T -> f32[rows,24]; x row stride 32, y row stride 24 */
static void k13_matmul(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, const float *w, const float *b, float *y)
{
    (void)ex;
    mm_f32(nrows, 32, 24, x, 32, w, b, y, 24, tid, nth);
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
    /* node 0: %x = embedding(@tok_embeddings, %tokens) : [T,32] */
    k0_embedding(ex, st, tid, nth, (const float *)(W + 0), st->tokens, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 1)
        return;
    /* node 1: %l0.h = rmsnorm(%x, @layers.0.attn_norm) : [T,32] */
    k1_rmsnorm(ex, st, tid, nth, st->n_tokens, (const float *)(A + 0), 0, 0, (const float *)(W + 3072), (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 2)
        return;
    /* node 2: %l0.q.merged = matmul(%l0.h, @layers.0.wq+layers.0.wk+layers.0.wv) : [T,64] */
    k2_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 2048), (const float *)(W + 3200), 0, (float *)(A + 4096));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 3)
        return;
    /* node 6: %l0.q.1 = rope(%l0.q, %positions) : [T,32] */
    k3_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4096), st->positions, (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 7)
        return;
    /* node 7: %l0.k.1 = rope(%l0.k, %positions) : [T,16] */
    k4_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4224), st->positions, (float *)(A + 8192));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 8)
        return;
    /* node 8: kv_write(%l0.k.1, %l0.v, %slots) */
    k5_kv_write(ex, st, tid, nth, (const float *)(A + 8192), (const float *)(A + 4288), st->slots, 0);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 9)
        return;
    /* node 9: %l0.a = paged_attention(%l0.q.1, %positions) : [T,32] */
    k6_paged_attention(ex, st, tid, nth, (const float *)(A + 2048), st->positions, (float *)(A + 4096), 0);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 10)
        return;
    /* node 10: %l0.o = matmul(%l0.a, @layers.0.wo) : [T,32] */
    k7_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4096), (const float *)(W + 11392), 0, (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 11)
        return;
    /* node 11: %l0.x, %l0.h.1 = add_rmsnorm(%x, %l0.o, @layers.0.ffn_norm) : [T,32] */
    k8_add_rmsnorm(ex, st, tid, nth, st->n_tokens, (const float *)(A + 0), (const float *)(A + 2048), (float *)(A + 4096), (const float *)(W + 15488), (float *)(A + 6144));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 12)
        return;
    /* node 12: %l0.g.merged = matmul(%l0.h.1, @layers.0.w1+layers.0.w3) : [T,96] */
    k9_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 6144), (const float *)(W + 15616), 0, (float *)(A + 8192));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 13)
        return;
    /* node 15: %l0.f = swiglu(%l0.g, %l0.u) : [T,48] */
    k10_swiglu(ex, st, tid, nth, st->n_tokens, (const float *)(A + 8192), (const float *)(A + 8384), (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 16)
        return;
    /* node 16: %l0.d = matmul(%l0.f, @layers.0.w2) : [T,32] */
    k11_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 0), (const float *)(W + 27904), 0, (float *)(A + 6144));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 17)
        return;
    /* node 17: %l0.x.1, %l1.h = add_rmsnorm(%l0.x, %l0.d, @layers.1.attn_norm) : [T,32] */
    k8_add_rmsnorm(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4096), (const float *)(A + 6144), (float *)(A + 0), (const float *)(W + 34048), (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 18)
        return;
    /* node 18: %l1.q.merged = matmul(%l1.h, @layers.1.wq+layers.1.wk+layers.1.wv) : [T,64] */
    k2_matmul(ex, st, tid, nth, st->n_tokens, (const float *)(A + 2048), (const float *)(W + 34176), 0, (float *)(A + 4096));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 19)
        return;
    /* node 22: %l1.q.1 = rope(%l1.q, %positions) : [T,32] */
    k3_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4096), st->positions, (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 23)
        return;
    /* node 23: %l1.k.1 = rope(%l1.k, %positions) : [T,16] */
    k4_rope(ex, st, tid, nth, st->n_tokens, (const float *)(A + 4224), st->positions, (float *)(A + 8192));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 24)
        return;
    /* node 24: kv_write(%l1.k.1, %l1.v, %slots) */
    k5_kv_write(ex, st, tid, nth, (const float *)(A + 8192), (const float *)(A + 4288), st->slots, 1);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 25)
        return;
    /* node 25: %l1.a = paged_attention(%l1.q.1, %positions) : [T,32] */
    k6_paged_attention(ex, st, tid, nth, (const float *)(A + 2048), st->positions, (float *)(A + 4096), 1);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 26)
        return;
    /* node 26: %l1.a.rows = select_rows(%l1.a, %out_rows) : [O,32] */
    k12_select_rows(ex, st, tid, nth, (const float *)(A + 4096), st->out_rows, (float *)(A + 2048));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 27)
        return;
    /* node 27: %l0.x.1.rows = select_rows(%l0.x.1, %out_rows) : [O,32] */
    k12_select_rows(ex, st, tid, nth, (const float *)(A + 0), st->out_rows, (float *)(A + 2560));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 28)
        return;
    /* node 28: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,32] */
    k7_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 2048), (const float *)(W + 42368), 0, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 29)
        return;
    /* node 29: %l1.x, %l1.h.1 = add_rmsnorm(%l0.x.1.rows, %l1.o, @layers.1.ffn_norm) : [O,32] */
    k8_add_rmsnorm(ex, st, tid, nth, st->n_out, (const float *)(A + 2560), (const float *)(A + 0), (float *)(A + 512), (const float *)(W + 46464), (float *)(A + 1024));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 30)
        return;
    /* node 30: %l1.g.merged = matmul(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,96] */
    k9_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 1024), (const float *)(W + 46592), 0, (float *)(A + 1536));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 31)
        return;
    /* node 33: %l1.f = swiglu(%l1.g, %l1.u) : [O,48] */
    k10_swiglu(ex, st, tid, nth, st->n_out, (const float *)(A + 1536), (const float *)(A + 1728), (float *)(A + 3072));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 34)
        return;
    /* node 34: %l1.d = matmul(%l1.f, @layers.1.w2) : [O,32] */
    k11_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 3072), (const float *)(W + 58880), 0, (float *)(A + 0));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 35)
        return;
    /* node 35: %l1.x.1, %h = add_rmsnorm(%l1.x, %l1.d, @norm) : [O,32] */
    k8_add_rmsnorm(ex, st, tid, nth, st->n_out, (const float *)(A + 512), (const float *)(A + 0), (float *)(A + 1024), (const float *)(W + 65024), (float *)(A + 1536));
    llmc_barrier(ex->pool);
    if (st->n_nodes == 36)
        return;
    /* node 36: %logits = matmul(%h, @output) : [O,24] */
    k13_matmul(ex, st, tid, nth, st->n_out, (const float *)(A + 1536), (const float *)(W + 65152), 0, st->logits);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 37)
        return;
}

/* Values readable after a step that ran n_nodes = node + 1 nodes (--compare-cpu). */
static const LlmcProbe probes[] = {
    {"x", 0, -1, 0, 0, 32, 32},
    {"l0.h", 1, 0, 2048, 0, 32, 32},
    {"l0.q.merged", 2, 0, 4096, 0, 64, 64},
    {"l0.q.1", 6, 0, 2048, 0, 32, 32},
    {"l0.k.1", 7, 0, 8192, 0, 16, 16},
    {"l0.a", 9, 0, 4096, 0, 32, 32},
    {"l0.o", 10, 0, 2048, 0, 32, 32},
    {"l0.x", 11, 0, 4096, 0, 32, 32},
    {"l0.h.1", 11, 0, 6144, 0, 32, 32},
    {"l0.g.merged", 12, 0, 8192, 0, 96, 96},
    {"l0.f", 15, 0, 0, 0, 48, 48},
    {"l0.d", 16, 0, 6144, 0, 32, 32},
    {"l0.x.1", 17, 0, 0, 0, 32, 32},
    {"l1.h", 17, 0, 2048, 0, 32, 32},
    {"l1.q.merged", 18, 1, 4096, 0, 64, 64},
    {"l1.q.1", 22, 1, 2048, 0, 32, 32},
    {"l1.k.1", 23, 1, 8192, 0, 16, 16},
    {"l1.a", 25, 1, 4096, 0, 32, 32},
    {"l1.a.rows", 26, 1, 2048, 1, 32, 32},
    {"l0.x.1.rows", 27, 1, 2560, 1, 32, 32},
    {"l1.o", 28, 1, 0, 1, 32, 32},
    {"l1.x", 29, 1, 512, 1, 32, 32},
    {"l1.h.1", 29, 1, 1024, 1, 32, 32},
    {"l1.g.merged", 30, 1, 1536, 1, 96, 96},
    {"l1.f", 33, 1, 3072, 1, 48, 48},
    {"l1.d", 34, 1, 0, 1, 32, 32},
    {"l1.x.1", 35, 1, 1024, 1, 32, 32},
    {"h", 35, 1, 1536, 1, 32, 32},
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
    .kv_block_bytes = 2048,
    .weights_bytes = 68224,
    .const_bytes = 2048,
    .arena_bytes = 14336,
    .weight_bytes_per_token = 65280,
    .kv_bytes_per_position = 256,
    .max_threads = 0,
    .init = init,
    .forward = forward,
    .probes = probes,
    .n_probes = sizeof probes / sizeof probes[0],
};
