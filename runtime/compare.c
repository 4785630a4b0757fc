/* compare.c — see compare.h. */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "rtutil.h"
#include "sample.h"

/* One engine's view of the comparison: its own block table (block sizes may differ between the
 * builds) and step arrays. */
typedef struct Side {
    LlmcEngine *e;
    const LlmcModelDesc *d;
    int32_t *table;             /* [max_blocks_per_seq] */
    int32_t n_blocks;
    int32_t *tokens, *positions, *seq, *slots, *out_rows;  /* [chunk] */
    float *logits;              /* [n_out][vocab] */
    float *vals;                /* a probe's rows */
    LlmcStep step;
} Side;

typedef struct Err {
    double max_ref;             /* max |cpu| */
    double max_abs;             /* max |gpu - cpu| over finite pairs */
    int64_t n_bad;              /* pairs where exactly one side, or the difference, is not finite */
} Err;

static void side_free(Side *s)
{
    if (s->table)
        for (int32_t b = s->n_blocks - 1; b >= 0; b--)
            llmc_kv_free(&s->e->kv, s->table[b < s->n_blocks - s->d->kv_ring_blocks
                                                 ? b
                                                 : s->e->max_blocks_per_seq - (s->n_blocks - b)]);
    free(s->table);
    free(s->tokens);
    free(s->positions);
    free(s->seq);
    free(s->slots);
    free(s->out_rows);
    free(s->logits);
    free(s->vals);
}

static int side_init(Side *s, LlmcEngine *e, int32_t n_ids, int32_t chunk, int32_t n_out,
                     size_t max_vals, const char *which, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->d = e->desc;
    s->n_blocks = llmc_kv_blocks_for(n_ids, s->d->kv_block_size) + s->d->kv_ring_blocks; /* (its ring: KIVI) */
    if (s->n_blocks > llmc_kv_free_count(&e->kv))
        return llmc_rt_fail(err, errlen, "%s: %d KV blocks needed, %d free", which, s->n_blocks,
                            llmc_kv_free_count(&e->kv));
    size_t c = (size_t)chunk;
    s->table = calloc((size_t)e->max_blocks_per_seq, sizeof *s->table);
    s->tokens = malloc(c * sizeof(int32_t));
    s->positions = malloc(c * sizeof(int32_t));
    s->seq = calloc(c, sizeof(int32_t));
    s->slots = malloc(c * sizeof(int32_t));
    s->out_rows = malloc(c * sizeof(int32_t));
    s->logits = malloc((size_t)n_out * (size_t)s->d->vocab_size * sizeof(float));
    s->vals = malloc((max_vals > 0 ? max_vals : 1) * sizeof(float));
    if (!s->table || !s->tokens || !s->positions || !s->seq || !s->slots || !s->out_rows ||
        !s->logits || !s->vals) {
        int32_t nb = s->n_blocks;
        s->n_blocks = 0;
        side_free(s);
        return llmc_rt_fail(err, errlen, "out of memory comparing %d tokens (%d blocks)", n_ids,
                            nb);
    }
    for (int32_t b = 0; b < s->n_blocks; b++) /* the ring's blocks at the end of the row */
        s->table[b < s->n_blocks - s->d->kv_ring_blocks ? b : e->max_blocks_per_seq - (s->n_blocks - b)] =
            llmc_kv_alloc(&e->kv);
    return 0;
}

/* Fills the step for ids[start, end); the last n_out rows want logits. */
static void side_step(Side *s, const int32_t *ids, int32_t start, int32_t end, int32_t n_out)
{
    int32_t n = end - start;
    for (int32_t t = 0; t < n; t++) {
        s->tokens[t] = ids[start + t];
        s->positions[t] = start + t;
        s->seq[t] = 0;
        s->slots[t] = llmc_kv_slot(s->table, s->d->kv_block_size, start + t);
    }
    for (int32_t o = 0; o < n_out; o++)
        s->out_rows[o] = n - n_out + o;
    s->step = (LlmcStep){
        .n_tokens = n,
        .tokens = s->tokens,
        .positions = s->positions,
        .seq_of_token = s->seq,
        .slots = s->slots,
        .block_tables = s->table,
        .max_blocks_per_seq = s->e->max_blocks_per_seq,
        .n_out = n_out,
        .out_rows = s->out_rows,
        .logits = s->logits,
    };
}

static int side_run(Side *s, int32_t n_nodes, const char *which, char *err, size_t errlen)
{
    s->step.n_nodes = n_nodes;
    char why[1024];
    if (llmc_engine_step(s->e, &s->step, why, sizeof why) != 0)
        return llmc_rt_fail(err, errlen, "%s: %s", which, why);
    return 0;
}

/* rows x cols float32 values of a probe into s->vals (packed). */
static int side_read(Side *s, const LlmcProbe *p, int32_t rows, char *err, size_t errlen)
{
    size_t span = ((size_t)(rows - 1) * (size_t)p->row_stride + (size_t)p->cols) * sizeof(float);
    if (p->offset < 0 || (uint64_t)p->offset + span > (uint64_t)s->d->arena_bytes)
        return llmc_rt_fail(err, errlen,
                            "probe %s: [%lld, +%zu) lies outside the arena of %lld bytes",
                            p->name, (long long)p->offset, span, (long long)s->d->arena_bytes);
    float *tmp = malloc(span);
    if (!tmp)
        return llmc_rt_fail(err, errlen, "out of memory reading probe %s", p->name);
    if (s->e->dev->read_arena(s->e, p->offset, tmp, span, err, errlen) != 0) {
        free(tmp);
        return -1;
    }
    const float *src = tmp;
    for (int32_t r = 0; r < rows; r++)
        memcpy(s->vals + (size_t)r * (size_t)p->cols, src + (size_t)r * (size_t)p->row_stride,
               (size_t)p->cols * sizeof(float));
    free(tmp);
    return 0;
}

static void err_add(Err *e, const float *gpu, const float *cpu, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double g = gpu[i], c = cpu[i];
        if (isfinite(c) && fabs(c) > e->max_ref)
            e->max_ref = fabs(c);
        double diff = fabs(g - c);
        if (isfinite(diff)) {
            if (diff > e->max_abs)
                e->max_abs = diff;
        } else if (!(isnan(g) && isnan(c)) && !(isinf(g) && g == c)) {
            e->n_bad++;
        }
    }
}

static double err_rel(const Err *e)
{
    if (e->n_bad)
        return INFINITY;
    if (e->max_ref > 0)
        return e->max_abs / e->max_ref;
    return e->max_abs > 0 ? INFINITY : 0;
}

static void print_err(FILE *out, const Err *e)
{
    fprintf(out, "  %11.3e  %11.3e", e->max_ref, e->max_abs);
    if (e->n_bad)
        fprintf(out, "  %lld non-finite\n", (long long)e->n_bad);
    else
        fprintf(out, "  %9.2e\n", err_rel(e));
}

static const LlmcProbe *twin_probe(const LlmcModelDesc *twin, int32_t i, const char *name)
{
    if (i < twin->n_probes && strcmp(twin->probes[i].name, name) == 0)
        return &twin->probes[i];
    for (int32_t k = 0; k < twin->n_probes; k++)
        if (strcmp(twin->probes[k].name, name) == 0)
            return &twin->probes[k];
    return NULL;
}

typedef struct LayerWorst {
    int32_t layer;
    double rel;
    const char *probe;
} LayerWorst;

int llmc_compare_cpu(LlmcEngine *ge, LlmcEngine *ce, const int32_t *ids, int32_t n_ids, FILE *out,
                     char *err, size_t errlen)
{
    const LlmcModelDesc *gd = ge->desc, *cd = ce->desc;
    if (gd->vocab_size != cd->vocab_size || gd->weights_bytes != cd->weights_bytes)
        return llmc_rt_fail(err, errlen,
                            "the cpu twin does not match the GPU build (vocabulary %d vs %d, "
                            "weights %lld vs %lld bytes)",
                            cd->vocab_size, gd->vocab_size, (long long)cd->weights_bytes,
                            (long long)gd->weights_bytes);
    if (n_ids < 1 || n_ids > gd->max_seq_len || n_ids > cd->max_seq_len)
        return llmc_rt_fail(err, errlen, "the prompt has %d tokens; the context is %d", n_ids,
                            gd->max_seq_len < cd->max_seq_len ? gd->max_seq_len : cd->max_seq_len);
    int32_t chunk = gd->max_tokens < cd->max_tokens ? gd->max_tokens : cd->max_tokens;
    if (gd->kv_seq_step > 0 && chunk > gd->kv_seq_step) /* KIVI: a sequence's share of a step */
        chunk = gd->kv_seq_step;
    if (cd->kv_seq_step > 0 && chunk > cd->kv_seq_step)
        chunk = cd->kv_seq_step;
    int32_t last = (n_ids - 1) / chunk * chunk;     /* start of the last chunk */
    int32_t T = n_ids - last;
    int32_t O = T;
    if (O > gd->max_outputs)
        O = gd->max_outputs;
    if (O > cd->max_outputs)
        O = cd->max_outputs;
    size_t max_vals = (size_t)T * (size_t)gd->vocab_size;
    for (int32_t i = 0; i < gd->n_probes; i++) {
        size_t v = (size_t)T * (size_t)gd->probes[i].cols;
        if (v > max_vals)
            max_vals = v;
    }

    Side g, c;
    if (side_init(&g, ge, n_ids, chunk, O, max_vals, "GPU", err, errlen) != 0)
        return -1;
    if (side_init(&c, ce, n_ids, chunk, O, max_vals, "cpu twin", err, errlen) != 0) {
        side_free(&g);
        return -1;
    }
    LayerWorst *worst = calloc((size_t)gd->n_probes + 1, sizeof *worst);
    int32_t n_worst = 0;
    int rc = worst ? 0 : llmc_rt_fail(err, errlen, "out of memory");

    /* The prompt before the last chunk: KV only. */
    for (int32_t s = 0; rc == 0 && s < last; s += chunk) {
        side_step(&g, ids, s, s + chunk, 0);
        side_step(&c, ids, s, s + chunk, 0);
        if (side_run(&g, 0, "GPU", err, errlen) != 0 || side_run(&c, 0, "cpu twin", err, errlen))
            rc = -1;
    }
    side_step(&g, ids, last, n_ids, O);
    side_step(&c, ids, last, n_ids, O);

    if (rc == 0) {
        char where[512];
        ge->dev->where(ge, where, sizeof where);
        fprintf(out, "compare-cpu: %s, target %s on %s vs its cpu twin (%d threads)\n", gd->name,
                gd->target, where, llmc_pool_nth(ce->ex.pool));
        fprintf(out, "prompt: %d tokens; values of the last step: %d token rows (T), %d output "
                     "rows (O)\n\n",
                n_ids, T, O);
        fprintf(out, "%-28s %5s %5s  %-14s  %11s  %11s  %9s\n", "probe", "node", "layer",
                "rows x cols", "max|cpu|", "max abs err", "rel err");
    }
    for (int32_t i = 0; rc == 0 && i < gd->n_probes; i++) {
        const LlmcProbe *gp = &gd->probes[i];
        if (gp->node < 0)
            continue;
        const LlmcProbe *cp = twin_probe(cd, i, gp->name);
        if (!cp || cp->cols != gp->cols || cp->rows_are_outputs != gp->rows_are_outputs) {
            fprintf(out, "%-28s %5d %5d  (%s)\n", gp->name, gp->node, gp->layer,
                    cp ? "the twin's probe has another shape" : "no probe of this name in the twin");
            continue;
        }
        int32_t rows = gp->rows_are_outputs ? O : T;
        if (rows == 0)
            continue;
        if (side_run(&g, gp->node + 1, "GPU", err, errlen) != 0 ||
            side_read(&g, gp, rows, err, errlen) != 0 ||
            side_run(&c, cp->node + 1, "cpu twin", err, errlen) != 0 ||
            side_read(&c, cp, rows, err, errlen) != 0) {
            rc = -1;
            break;
        }
        Err e = {0, 0, 0};
        err_add(&e, g.vals, c.vals, (size_t)rows * (size_t)gp->cols);
        char shape[32];
        snprintf(shape, sizeof shape, "%d x %d", rows, gp->cols);
        fprintf(out, "%-28s %5d %5d  %-14s", gp->name, gp->node, gp->layer, shape);
        print_err(out, &e);
        fflush(out);
        int32_t k = 0;
        while (k < n_worst && worst[k].layer != gp->layer)
            k++;
        if (k == n_worst)
            worst[n_worst++] = (LayerWorst){gp->layer, -1, NULL};
        if (err_rel(&e) > worst[k].rel || !worst[k].probe) {
            worst[k].rel = err_rel(&e);
            worst[k].probe = gp->name;
        }
    }
    if (rc == 0 && n_worst > 0) {
        fprintf(out, "\nper layer: the worst relative error\n");
        for (int32_t k = 0; k < n_worst; k++) {
            if (worst[k].layer < 0)
                fprintf(out, "  outside the layers  %9.2e  (%s)\n", worst[k].rel, worst[k].probe);
            else
                fprintf(out, "  layer %-12d  %9.2e  (%s)\n", worst[k].layer, worst[k].rel,
                        worst[k].probe);
        }
    }
    if (rc == 0 && (side_run(&g, 0, "GPU", err, errlen) != 0 ||
                    side_run(&c, 0, "cpu twin", err, errlen) != 0))
        rc = -1;
    if (rc == 0) {
        Err e = {0, 0, 0};
        int32_t agree = 0, V = gd->vocab_size;
        for (int32_t o = 0; o < O; o++) {
            const float *gl = g.logits + (size_t)o * (size_t)V, *cl = c.logits + (size_t)o * (size_t)V;
            err_add(&e, gl, cl, (size_t)V);
            agree += llmc_argmax(gl, V) == llmc_argmax(cl, V);
        }
        fprintf(out, "\n%-28s %5s %5s  %-14s  %11s  %11s  %9s\n", "logits", "", "", "rows x cols",
                "max|cpu|", "max abs err", "rel err");
        char shape[32];
        snprintf(shape, sizeof shape, "%d x %d", O, V);
        fprintf(out, "%-28s %5s %5s  %-14s", "logits (full step)", "", "", shape);
        print_err(out, &e);
        fprintf(out, "argmax agrees on %d of %d rows\n", agree, O);
        if (fflush(out) != 0)
            rc = llmc_rt_fail(err, errlen, "cannot write the output");
    }
    free(worst);
    side_free(&g);
    side_free(&c);
    return rc;
}
