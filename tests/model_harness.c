/* model_harness.c — drives a generated model.c directly, without the runtime, for numeric tests.
 *
 *   model_harness EXE SCENARIO LOGITS_OUT NTHREADS
 *
 * EXE is the compiled model executable: its payload gives the weights. SCENARIO (written by
 * test_codegen.c) lists the steps: for each, the tokens, positions, sequence rows, slots, block
 * tables and output rows. The harness runs every step with NTHREADS threads (its own barrier) and
 * appends each step's logits (float32) to LOGITS_OUT. Build: cc harness.c model.c -lm -lpthread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "llmc_model.h"
#include "payload.h"

extern const LlmcModelDesc llmc_model;

struct LlmcPool {
    int nth;
    atomic_int count;
    atomic_int sense;
};

void llmc_barrier(LlmcPool *p)
{
    if (p->nth == 1)
        return;
    int s = atomic_load(&p->sense);
    if (atomic_fetch_add(&p->count, 1) == p->nth - 1) {
        atomic_store(&p->count, 0);
        atomic_store(&p->sense, !s);
    } else {
        while (atomic_load(&p->sense) == s)
            sched_yield();
    }
}

typedef struct Job {
    const LlmcExec *ex;
    const LlmcStep *st;
    int tid, nth;
} Job;

static void *worker(void *arg)
{
    Job *j = arg;
    llmc_model.forward(j->ex, j->st, j->tid, j->nth);
    return NULL;
}

static int32_t *read_ints(FILE *f, int n)
{
    int32_t *a = calloc((size_t)n + 1, sizeof *a);
    for (int i = 0; i < n; i++)
        if (fscanf(f, "%d", &a[i]) != 1) {
            fprintf(stderr, "harness: scenario truncated\n");
            exit(1);
        }
    return a;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: model_harness EXE SCENARIO LOGITS_OUT NTHREADS\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        perror(argv[1]);
        return 1;
    }
    uint8_t *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    LlmcFooter foot;
    memcpy(&foot, map + sb.st_size - sizeof foot, sizeof foot);
    if (memcmp(foot.magic, LLMC_FOOTER_MAGIC, 8) != 0 || foot.external) {
        fprintf(stderr, "harness: %s has no embedded payload\n", argv[1]);
        return 1;
    }
    LlmcPayloadHeader h;
    memcpy(&h, map + foot.payload_off, sizeof h);
    if (h.model_hash != llmc_model.model_hash || (int64_t)h.weights_size != llmc_model.weights_bytes) {
        fprintf(stderr, "harness: payload does not belong to this model.c\n");
        return 1;
    }
    int nth = atoi(argv[4]);
    LlmcPool pool = {.nth = nth};
    FILE *sf = fopen(argv[2], "r");
    FILE *lf = fopen(argv[3], "wb");
    if (!sf || !lf) {
        perror("scenario/logits");
        return 1;
    }
    int kv_blocks, n_steps;
    if (fscanf(sf, "%d %d", &kv_blocks, &n_steps) != 2)
        return 1;
    LlmcExec ex = {0};
    ex.weights = map + foot.payload_off + h.weights_off;
    ex.consts = aligned_alloc(64, (size_t)(llmc_model.const_bytes + 64));
    ex.arena = aligned_alloc(64, (size_t)(llmc_model.arena_bytes + 64));
    ex.kv = aligned_alloc(64, (size_t)(kv_blocks * llmc_model.kv_block_bytes + 64));
    ex.kv_blocks = kv_blocks;
    ex.pool = &pool;
    /* Poison: every value a step reads must have been written by the model. */
    memset(ex.arena, 0xff, (size_t)llmc_model.arena_bytes);
    memset(ex.kv, 0xff, (size_t)(kv_blocks * llmc_model.kv_block_bytes));
    llmc_model.init(&ex);
    for (int s = 0; s < n_steps; s++) {
        int T, O, maxb, nseq;
        if (fscanf(sf, "%d %d %d %d", &T, &O, &maxb, &nseq) != 4)
            return 1;
        LlmcStep st = {0};
        st.n_tokens = T;
        st.tokens = read_ints(sf, T);
        st.positions = read_ints(sf, T);
        st.seq_of_token = read_ints(sf, T);
        st.slots = read_ints(sf, T);
        st.block_tables = read_ints(sf, nseq * maxb);
        st.max_blocks_per_seq = maxb;
        st.n_out = O;
        st.out_rows = read_ints(sf, O);
        st.logits = malloc(sizeof(float) * (size_t)O * llmc_model.vocab_size + 1);
        memset(st.logits, 0xff, sizeof(float) * (size_t)O * llmc_model.vocab_size);
        pthread_t th[64];
        Job jobs[64];
        for (int t = 0; t < nth; t++)
            jobs[t] = (Job){&ex, &st, t, nth};
        for (int t = 1; t < nth; t++)
            pthread_create(&th[t], NULL, worker, &jobs[t]);
        worker(&jobs[0]);
        for (int t = 1; t < nth; t++)
            pthread_join(th[t], NULL);
        fwrite(st.logits, sizeof(float), (size_t)O * llmc_model.vocab_size, lf);
        free((void *)st.tokens);
        free((void *)st.positions);
        free((void *)st.seq_of_token);
        free((void *)st.slots);
        free((void *)st.block_tables);
        free((void *)st.out_rows);
        free(st.logits);
    }
    fclose(sf);
    if (fclose(lf) != 0)
        return 1;
    return 0;
}
