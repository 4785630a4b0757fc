/* main.c — the command line of a model executable.
 *
 * `llmc compile` links this file, the rest of runtime/ and the generated model code (which defines
 * `llmc_model`) into one executable, and appends the packed weights. Everything here is glue:
 * parse the flags, map the payload, load the tokenizer, build the engine, and hand the work to the
 * scheduler (generation, --prompts), the benchmark (--bench) or perplexity (--perplexity).
 * The model's device (device.h; a GPU build's GPU) is opened first, before the weights are
 * mapped, so that a machine without a driver or a GPU, or with a GPU the executable was not built
 * for, is refused at once with a message naming both sides; --compare-cpu checks it against its
 * CPU twin.
 *
 * Output contract: for each prompt, the decoded text of the prompt tokens, then the generated
 * tokens (streamed, flushed after each token), then "\n"; with --prompts, prompt by prompt in input
 * order, byte for byte what single runs would print. Everything else (notes, progress, speed)
 * goes to stderr. Exit status: 0 success, 1 failure, 2 bad command line.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "compare.h"
#include "engine.h"
#include "generate.h"
#include "device.h"
#include "llmc_model.h"
#include "payload_load.h"
#include "perplexity.h"
#include "pool.h"
#include "rtutil.h"
#include "scheduler.h"
#include "chat.h"
#include "tokenizer.h"

extern const LlmcModelDesc llmc_model;

enum { EXIT_USAGE = 2, DEFAULT_MAX_BATCH = 8 };

static const char *usage_text =
    "usage: %s \"PROMPT\" [-n N] [sampling] [engine]      generate\n"
    "       %s --ids \"1 450 8074\" [-n N] ...             prompt given as token ids\n"
    "       %s --prompts FILE [--max-batch B] [-n N] ...  one prompt per line, continuous batching\n"
    "       %s --bench [-p P] [-n N] [--batch B]          prefill/decode speed\n"
    "       %s --perplexity FILE [--ctx N] [--max-batch B]\n"
    "       %s --compare-cpu \"PROMPT\" | --ids \"...\"        GPU builds: per-layer errors vs the CPU\n"
    "       %s --tokenize \"TEXT\" | --detokenize \"IDS\" [--special]   the tokenizer alone\n"
    "       %s --render-chat FILE [--output-ids]          the chat template alone\n"
    "       %s --chat [--system TEXT] [-n N] [sampling]    chat in the terminal (the model's chat template)\n"
    "\n"
    "generation:\n"
    "  -n N            new tokens per prompt (default 256; bench: decode steps, default 128);\n"
    "                  clamped so that prompt + N fits the model's context\n"
    "  --temp T        temperature, 0 = greedy (default 0)\n"
    "  --top-k K       keep the K most probable tokens, 0 = off (default 0)\n"
    "  --top-p P       nucleus sampling, 0 < P <= 1 (default 1 = off)\n"
    "  --seed S        sampler seed (default 0); every sequence draws from its own RNG\n"
    "  --ids \"I J K\"   the prompt as token ids (no BOS added); without a tokenizer the output\n"
    "                  is token ids too\n"
    "  --prompts FILE  one prompt per line (empty lines are prompts too; a final newline is not)\n"
    "  --max-batch B   sequences decoded at once with --prompts/--perplexity (default %d)\n"
    "  --progress      \"[k/N done]\" on stderr with --prompts even when stderr is not a terminal\n"
    "  --verbose       prefill and decode speed on stderr\n"
    "  --output-ids    print token ids instead of text\n"
    "  --top-logits K  instead of generating: print the prompt's token ids and the K largest\n"
    "                  logits at its last position (\"id logit\" per line)\n"
    "benchmark:\n"
    "  --bench         B sequences of P synthetic tokens, then N decode steps\n"
    "  -p P            prompt tokens (default 128)\n"
    "  --batch B       sequences (default 1)\n"
    "perplexity:\n"
    "  --perplexity FILE  llama.cpp's protocol: chunks of ctx tokens, second half scored\n"
    "  --ctx N         chunk length (default min(512, context))\n"
    "engine:\n"
    "  --threads N     CPU threads (default: online CPUs; GPU builds: for --compare-cpu)\n"
    "  --kv-blocks N   KV cache blocks; or --kv-mem MIB (default: enough for every running\n"
    "                  sequence at its longest)\n"
    "  --weights PATH  read the weights from PATH instead of the executable or its side file\n"
    "  --no-verify     skip the start-up check of the content digests of the program, kernels,\n"
    "                  weights and tokenizer (a payload from another build is refused anyway)\n"
    "GPU builds:\n"
    "  --no-graphs     launch every step's kernels one by one (no CUDA graphs for decode steps;\n"
    "                  for debugging)\n"
    "  --no-pdl        no programmatic dependent launch (sm_90+: the decode matmuls otherwise\n"
    "                  start while the kernel before them drains)\n"
    "  --compare-cpu   run the prompt on the GPU and on the CPU twin (the same model compiled for\n"
    "                  the CPU) and print the error of every probed value, per layer, and of the\n"
    "                  logits\n"
    "  --version, --help\n";

static void usage(FILE *f, const char *prog)
{
    fprintf(f, usage_text, prog, prog, prog, prog, prog, prog, prog, prog, prog, DEFAULT_MAX_BATCH);
}

/* ---- options ---- */

typedef struct Opts {
    const char *prog;
    const char *prompt;         /* positional */
    const char *ids;
    const char *prompts_file;
    const char *ppl_file;
    const char *weights;
    const char *tokenize, *detokenize, *system, *render_chat;
    int special, chat;
    int64_t n_new;              /* -1: default */
    int64_t bench_p;            /* 0: default */
    int64_t bench_batch;        /* 0: default */
    int64_t max_batch;          /* 0: default */
    int64_t ctx;                /* 0: default */
    int64_t threads;            /* 0: online CPUs */
    int64_t kv_blocks;          /* 0: default */
    int64_t kv_mem;             /* MiB, 0: default */
    int64_t top_k;
    int64_t top_logits;         /* 0: generate; K: print the prompt's top-K logits instead */
    double temp, top_p;
    uint64_t seed;
    int bench, verbose, progress, help, version, output_ids;
    int no_graphs, no_pdl, compare_cpu, no_verify;
    void *device;               /* not an option: the device opened at start (device.h) */
} Opts;

typedef enum { OPT_FLAG, OPT_INT, OPT_SEED, OPT_REAL, OPT_STR } OptKind;

typedef struct OptSpec {
    const char *name;
    OptKind kind;
    size_t off;                 /* field in Opts */
    int64_t lo, hi;             /* OPT_INT range */
} OptSpec;

#define F(field) offsetof(Opts, field)
static const OptSpec opt_specs[] = {
    {"-n", OPT_INT, F(n_new), 0, INT32_MAX},
    {"-p", OPT_INT, F(bench_p), 1, INT32_MAX},
    {"--temp", OPT_REAL, F(temp), 0, 0},
    {"--top-k", OPT_INT, F(top_k), 0, INT32_MAX},
    {"--top-p", OPT_REAL, F(top_p), 0, 0},
    {"--seed", OPT_SEED, F(seed), 0, 0},
    {"--threads", OPT_INT, F(threads), 1, 4096},
    {"--weights", OPT_STR, F(weights), 0, 0},
    {"--kv-blocks", OPT_INT, F(kv_blocks), 1, INT32_MAX},
    {"--kv-mem", OPT_INT, F(kv_mem), 1, (int64_t)1 << 30},
    {"--ids", OPT_STR, F(ids), 0, 0},
    {"--prompts", OPT_STR, F(prompts_file), 0, 0},
    {"--max-batch", OPT_INT, F(max_batch), 1, 1 << 20},
    {"--bench", OPT_FLAG, F(bench), 0, 0},
    {"--batch", OPT_INT, F(bench_batch), 1, 1 << 20},
    {"--perplexity", OPT_STR, F(ppl_file), 0, 0},
    {"--ctx", OPT_INT, F(ctx), 1, INT32_MAX},
    {"--verbose", OPT_FLAG, F(verbose), 0, 0},
    {"--top-logits", OPT_INT, F(top_logits), 1, INT32_MAX},
    {"--output-ids", OPT_FLAG, F(output_ids), 0, 0},
    {"--progress", OPT_FLAG, F(progress), 0, 0},
    {"--no-graphs", OPT_FLAG, F(no_graphs), 0, 0},
    {"--no-pdl", OPT_FLAG, F(no_pdl), 0, 0},
    {"--compare-cpu", OPT_FLAG, F(compare_cpu), 0, 0},
    {"--no-verify", OPT_FLAG, F(no_verify), 0, 0},
    {"--tokenize", OPT_STR, F(tokenize), 0, 0},
    {"--detokenize", OPT_STR, F(detokenize), 0, 0},
    {"--special", OPT_FLAG, F(special), 0, 0},
    {"--chat", OPT_FLAG, F(chat), 0, 0},
    {"--render-chat", OPT_STR, F(render_chat), 0, 0},
    {"--system", OPT_STR, F(system), 0, 0},
    {"--help", OPT_FLAG, F(help), 0, 0},
    {"-h", OPT_FLAG, F(help), 0, 0},
    {"--version", OPT_FLAG, F(version), 0, 0},
};
#undef F

static int bad_usage(const Opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the message and the usage to stderr; returns -1. */
static int bad_usage(const Opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", o->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n\n");
    va_end(ap);
    usage(stderr, o->prog);
    return -1;
}

static int set_opt(Opts *o, const OptSpec *sp, const char *v)
{
    char *f = (char *)o + sp->off, *end;
    errno = 0;
    switch (sp->kind) {
    case OPT_FLAG:
        *(int *)f = 1;
        return 0;
    case OPT_STR:
        *(const char **)f = v;
        return 0;
    case OPT_INT: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            return bad_usage(o, "%s: expected an integer, got '%s'", sp->name, v);
        if (x < sp->lo || x > sp->hi)
            return bad_usage(o, "%s: %s is out of range %lld..%lld", sp->name, v,
                             (long long)sp->lo, (long long)sp->hi);
        *(int64_t *)f = x;
        return 0;
    }
    case OPT_SEED: {
        unsigned long long x = strtoull(v, &end, 0);
        if (errno || end == v || *end || v[0] == '-')
            return bad_usage(o, "%s: expected a non-negative integer, got '%s'", sp->name, v);
        *(uint64_t *)f = x;
        return 0;
    }
    case OPT_REAL: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return bad_usage(o, "%s: expected a number, got '%s'", sp->name, v);
        *(double *)f = x;
        return 0;
    }
    }
    return -1;
}

static int parse_args(Opts *o, int argc, char **argv)
{
    const char *slash = strrchr(argv[0] ? argv[0] : "model", '/');
    *o = (Opts){.prog = slash ? slash + 1 : (argv[0] ? argv[0] : "model"), .n_new = -1,
                .top_p = 1.0};
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == 0) {
            if (o->prompt)
                return bad_usage(o, "more than one prompt given ('%s' and '%s'): quote the prompt",
                                 o->prompt, a);
            o->prompt = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
        const OptSpec *sp = NULL;
        for (size_t k = 0; k < sizeof opt_specs / sizeof opt_specs[0]; k++)
            if (strlen(opt_specs[k].name) == len && strncmp(opt_specs[k].name, a, len) == 0)
                sp = &opt_specs[k];
        if (!sp)
            return bad_usage(o, "unknown option %s", a);
        const char *v = NULL;
        if (sp->kind != OPT_FLAG) {
            if (a[len] == '=')
                v = a + len + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                return bad_usage(o, "%s needs a value", sp->name);
        } else if (a[len] == '=') {
            return bad_usage(o, "%s takes no value", sp->name);
        }
        if (set_opt(o, sp, v) != 0)
            return -1;
    }
    if (o->help || o->version)
        return 0;
    if (o->top_p <= 0 || o->top_p > 1)
        return bad_usage(o, "--top-p must be in (0, 1]");
    if (o->temp < 0)
        return bad_usage(o, "--temp must be >= 0");
    int modes = !!o->bench + !!o->ppl_file + !!o->prompts_file + !!(o->prompt || o->ids) + !!o->tokenize +
                !!o->detokenize + !!o->chat + !!o->render_chat;
    if (modes == 0)
        return bad_usage(o, "nothing to do: give a prompt, --ids, --prompts, --bench, "
                            "--perplexity, --tokenize, --detokenize or --chat");
    if (modes > 1 || (o->prompt && o->ids))
        return bad_usage(o, "choose one of: a prompt, --ids, --prompts, --bench, --perplexity, "
                            "--tokenize, --detokenize, --chat, --render-chat");
    if (o->system && !o->chat)
        return bad_usage(o, "--system is an option of --chat");
    if (o->special && !o->tokenize && !o->detokenize)
        return bad_usage(o, "--special is an option of --tokenize and --detokenize");
    if ((o->bench_p || o->bench_batch) && !o->bench)
        return bad_usage(o, "-p and --batch are options of --bench");
    if (o->ctx && !o->ppl_file)
        return bad_usage(o, "--ctx is an option of --perplexity");
    if (o->max_batch && !o->prompts_file && !o->ppl_file)
        return bad_usage(o, "--max-batch is an option of --prompts and --perplexity (--bench "
                            "takes --batch)");
    if (o->kv_blocks && o->kv_mem)
        return bad_usage(o, "give --kv-blocks or --kv-mem, not both");
    if (o->top_logits && !(o->prompt || o->ids))
        return bad_usage(o, "--top-logits takes one prompt (a prompt or --ids)");
    if (o->compare_cpu && !(o->prompt || o->ids))
        return bad_usage(o, "--compare-cpu takes one prompt (a prompt or --ids)");
    if (o->compare_cpu && (o->top_logits || o->n_new >= 0))
        return bad_usage(o, "--compare-cpu runs the prompt only: no -n or --top-logits");
    const LlmcDeviceOps *dev = llmc_device_for(llmc_model.backend);
    if ((o->no_graphs || o->no_pdl || o->compare_cpu) && !(dev && dev->gpu_options))
        return bad_usage(o, "%s is an option of GPU builds; this executable was built for %s",
                         o->no_graphs ? "--no-graphs" : o->no_pdl ? "--no-pdl" : "--compare-cpu",
                         llmc_model.target ? llmc_model.target : "the cpu");
    return 0;
}

/* ---- helpers ---- */

static int fail(const Opts *o, const char *msg)
{
    fprintf(stderr, "%s: %s\n", o->prog, msg);
    return 1;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)(n < 4096 ? n : 4096) : 1;
}

static int32_t batch_limit(const LlmcModelDesc *d)
{
    return d->max_tokens < d->max_outputs ? d->max_tokens : d->max_outputs;
}

/* Blocks in the KV pool: --kv-blocks, --kv-mem, or the given default. 0 on error (printed). */
static int64_t kv_pool_blocks(const Opts *o, const LlmcModelDesc *d, int64_t fallback)
{
    if (o->kv_blocks)
        return o->kv_blocks;
    if (o->kv_mem && d->kv_block_bytes > 0) {
        int64_t n = o->kv_mem * ((int64_t)1 << 20) / d->kv_block_bytes;
        if (n < 1) {
            fprintf(stderr, "%s: --kv-mem %lld MiB holds no KV block of %lld bytes\n", o->prog,
                    (long long)o->kv_mem, (long long)d->kv_block_bytes);
            return 0;
        }
        return n;
    }
    return fallback;
}

/* Weight upload progress (GPU builds, large models): a live line on a terminal, else one line
 * when done. */
typedef struct Upload {
    double t0;
    int tty;
    int last_pct;
} Upload;

static void upload_progress(void *ctx, const char *what, int64_t done, int64_t total)
{
    Upload *u = ctx;
    int pct = total > 0 ? (int)(100 * done / total) : 100;
    if (u->tty && pct != u->last_pct)
        fprintf(stderr, "\ruploading the %s to the GPU: %.2f / %.2f GB", what, (double)done / 1e9,
                (double)total / 1e9);
    u->last_pct = pct;
    if (done == total)
        fprintf(stderr, "%s%s: %.2f GB uploaded to the GPU in %.1f s\n", u->tty ? "\r" : "", what,
                (double)total / 1e9, llmc_rt_now() - u->t0);
}

static int make_engine(const Opts *o, LlmcEngine *e, const LlmcPayload *pl, int64_t kv_default)
{
    const LlmcModelDesc *d = &llmc_model;
    int64_t kv = kv_pool_blocks(o, d, kv_default);
    if (kv == 0)
        return 1;
    char err[1024];
    Upload up = {.t0 = llmc_rt_now(), .tty = isatty(STDERR_FILENO), .last_pct = -1};
    LlmcEngineOpts eo = {.n_threads = o->threads ? (int)o->threads : default_threads(),
                         .kv_blocks = kv,
                         .device = o->device,
                         .no_graphs = o->no_graphs,
                         .no_pdl = o->no_pdl};
    if (d->weights_bytes >= ((int64_t)256 << 20)) {     /* a device with its own memory */
        eo.progress = upload_progress;
        eo.progress_ctx = &up;
    }
    if (llmc_engine_init(e, d, pl->weights, &eo, err, sizeof err) != 0)
        return fail(o, err);
    return 0;
}

/* ---- generation: one prompt, --ids, --prompts ---- */

typedef struct Prompt {
    int32_t *ids;
    int32_t n;
    int32_t max_new;
} Prompt;

static int encode(const Opts *o, const LlmcTokenizer *tok, const char *text, size_t len,
                  const char *what, Prompt *pr)
{
    char err[1024];
    if (!tok) {
        fprintf(stderr, "%s: this model has no tokenizer: give the prompt as token ids with "
                        "--ids \"1 2 3\"\n", o->prog);
        return 1;
    }
    if (llmc_tokenizer_encode(tok, text, len, 1, &pr->ids, &pr->n, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s: %s\n", o->prog, what, err);
        return 1;
    }
    return 0;
}

/* Splits the --prompts file into prompts: every line, empty ones too; a final newline ends the
 * last line rather than starting an empty one; a trailing \r (CRLF files) is dropped. */
static int read_prompts(const Opts *o, const LlmcTokenizer *tok, Prompt **out, int32_t *n_out)
{
    char err[1024], *text;
    size_t size;
    if (llmc_rt_read_file(o->prompts_file, &text, &size, err, sizeof err) != 0)
        return fail(o, err);
    int32_t n = 0, cap = 16;
    Prompt *ps = calloc((size_t)cap, sizeof *ps);
    int rc = ps ? 0 : fail(o, "out of memory reading the prompts");
    for (size_t pos = 0; rc == 0 && pos < size;) {
        const char *line = text + pos, *nl = memchr(line, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - line) : size - pos;
        pos += len + (nl != NULL);
        size_t tlen = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
        if (n == cap) {
            Prompt *np = realloc(ps, (size_t)cap * 2 * sizeof *np);
            if (!np) {
                rc = fail(o, "out of memory reading the prompts");
                break;
            }
            memset(np + cap, 0, (size_t)cap * sizeof *np);
            ps = np;
            cap *= 2;
        }
        char what[600];
        snprintf(what, sizeof what, "%s:%d", o->prompts_file, n + 1);
        rc = encode(o, tok, line, tlen, what, &ps[n]);
        n++;
    }
    free(text);
    if (rc == 0 && n == 0)
        rc = fail(o, "the prompts file is empty");
    *out = ps;
    *n_out = n;
    return rc;
}

static int run_generate(const Opts *o, const LlmcPayload *pl, const LlmcTokenizer *tok)
{
    const LlmcModelDesc *d = &llmc_model;
    char err[1024];
    Prompt *ps = NULL;
    int32_t n = 0;
    int rc = 0;
    if (o->prompts_file) {
        rc = read_prompts(o, tok, &ps, &n);
    } else {
        ps = calloc(1, sizeof *ps);
        n = 1;
        if (!ps)
            rc = fail(o, "out of memory");
        else if (o->ids && llmc_parse_ids(o->ids, d->vocab_size, &ps[0].ids, &ps[0].n, err,
                                     sizeof err) != 0)
            rc = fail(o, err);
        else if (!o->ids)
            rc = encode(o, tok, o->prompt, strlen(o->prompt), "prompt", &ps[0]);
    }

    /* New tokens per prompt: -n, clamped to the context. */
    int32_t max_positions = 1;
    int64_t want = o->n_new >= 0 ? o->n_new : 256;
    for (int32_t i = 0; rc == 0 && i < n; i++) {
        char where[600] = "";
        if (o->prompts_file)
            snprintf(where, sizeof where, "%s:%d: ", o->prompts_file, i + 1);
        if (ps[i].n > d->max_seq_len) {
            fprintf(stderr, "%s: %sthe prompt has %d tokens, more than the model's context of %d\n",
                    o->prog, where, ps[i].n, d->max_seq_len);
            rc = 1;
            break;
        }
        ps[i].max_new = (int32_t)want;
        if (want > d->max_seq_len - ps[i].n) {
            ps[i].max_new = d->max_seq_len - ps[i].n;
            fprintf(stderr, "%s: note: %s-n %lld clamped to %d: the prompt has %d tokens and the "
                            "context is %d\n",
                    o->prog, where, (long long)want, ps[i].max_new, ps[i].n, d->max_seq_len);
        }
        int32_t positions = ps[i].n + (ps[i].max_new > 0 ? ps[i].max_new - 1 : 0);
        if (positions > max_positions)
            max_positions = positions;
    }

    int32_t max_batch = 1;
    if (o->prompts_file) {
        int32_t limit = batch_limit(d);
        max_batch = o->max_batch ? (int32_t)o->max_batch : DEFAULT_MAX_BATCH;
        if (max_batch > limit) {
            if (o->max_batch)
                fprintf(stderr, "%s: note: --max-batch %d lowered to %d, the most this model "
                                "runs at once\n", o->prog, max_batch, limit);
            max_batch = limit;
        }
        if (max_batch > n)
            max_batch = n;
    }

    LlmcEngine e = {0};
    if (rc == 0)
        rc = make_engine(o, &e, pl, llmc_engine_default_kv_blocks(d, max_batch, max_positions));
    if (rc == 0) {
        LlmcGenPrompt *gp = malloc((size_t)n * sizeof *gp);
        LlmcGenConfig gc = {
            .max_batch = max_batch,
            .sampler = {(float)o->temp, (int32_t)o->top_k, (float)o->top_p},
            .seed = o->seed,
            .tok = o->output_ids ? NULL : tok,
            .top_logits = (int32_t)o->top_logits,
            .progress = n > 1 && (o->progress || isatty(STDERR_FILENO)),
        };
        LlmcSchedStats st;
        for (int32_t i = 0; gp && i < n; i++)
            gp[i] = (LlmcGenPrompt){ps[i].ids, ps[i].n, ps[i].max_new};
        if (!gp)
            rc = fail(o, "out of memory");
        else if (llmc_generate(&e, gp, n, &gc, stdout, &st, err, sizeof err) != 0)
            rc = fail(o, err);
        else if (o->verbose) {
            fprintf(stderr, "prefill: %.1f tok/s, decode: %.1f tok/s\n",
                    st.prefill_seconds > 0 ? st.prefill_tokens / st.prefill_seconds : 0.0,
                    st.decode_seconds > 0 ? st.decode_tokens / st.decode_seconds : 0.0);
            if (e.dev->print_stats)
                e.dev->print_stats(&e, stderr);
        }
        free(gp);
    }
    llmc_engine_destroy(&e);
    for (int32_t i = 0; ps && i < n; i++)
        free(ps[i].ids);
    free(ps);
    return rc;
}

/* ---- --bench ---- */

static int run_bench(const Opts *o, const LlmcPayload *pl)
{
    const LlmcModelDesc *d = &llmc_model;
    LlmcBenchCfg c = {
        .n_prompt = o->bench_p ? (int32_t)o->bench_p : 128,
        .n_gen = o->n_new >= 0 ? (int32_t)o->n_new : 128,
        .batch = o->bench_batch ? (int32_t)o->bench_batch : 1,
    };
    if ((int64_t)c.n_prompt + c.n_gen > d->max_seq_len) {
        if (o->bench_p || o->n_new >= 0) {
            fprintf(stderr, "%s: -p %d + -n %d exceed the model's context of %d\n", o->prog,
                    c.n_prompt, c.n_gen, d->max_seq_len);
            return 1;
        }
        c.n_prompt = d->max_seq_len / 2 > 0 ? d->max_seq_len / 2 : 1;
        c.n_gen = d->max_seq_len - c.n_prompt;
        fprintf(stderr, "%s: note: context of %d: benchmarking -p %d -n %d\n", o->prog,
                d->max_seq_len, c.n_prompt, c.n_gen);
    }
    LlmcEngine e;
    int64_t kv = (int64_t)c.batch * llmc_kv_blocks_for(c.n_prompt + c.n_gen, d->kv_block_size);
    if (make_engine(o, &e, pl, kv) != 0)
        return 1;
    char err[1024];
    LlmcBenchResult r;
    int rc = llmc_bench_run(&e, &c, &r, err, sizeof err);
    if (rc != 0) {
        fail(o, err);
    } else {
        if (llmc_bench_report(&e, &c, &r, stdout, err, sizeof err) != 0)
            rc = fail(o, err);
        if (o->verbose && e.dev->print_stats)
            e.dev->print_stats(&e, stderr);
        if (fflush(stdout) != 0)
            rc = fail(o, "cannot write the output");
    }
    llmc_engine_destroy(&e);
    return rc != 0;
}

/* ---- --perplexity ---- */

static int ppl_progress(void *ctx, int32_t chunk, int32_t n_chunks, double ppl)
{
    (void)ctx;
    fprintf(stderr, "[chunk %d/%d] ppl %.4f\n", chunk + 1, n_chunks, ppl);
    return 0;
}

static int run_perplexity(const Opts *o, const LlmcPayload *pl, const LlmcTokenizer *tok)
{
    const LlmcModelDesc *d = &llmc_model;
    char err[1024];
    if (!tok)
        return fail(o, "--perplexity needs a tokenizer and this model has none");
    int32_t ctx = o->ctx ? (int32_t)o->ctx : (d->max_seq_len < 512 ? d->max_seq_len : 512);
    if (ctx < 4 || ctx > d->max_seq_len) {
        fprintf(stderr, "%s: --ctx %d out of range 4..%d (the model's context)\n", o->prog, ctx,
                d->max_seq_len);
        return 1;
    }
    char *text;
    size_t size;
    if (llmc_rt_read_file(o->ppl_file, &text, &size, err, sizeof err) != 0)
        return fail(o, err);
    int32_t *ids = NULL, n_ids = 0;
    int rc = llmc_tokenizer_encode(tok, text, size, 0, &ids, &n_ids, err, sizeof err);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", o->prog, o->ppl_file, err);
        return 1;
    }
    /* [BOS] + encode(file) */
    int32_t *tokens = malloc(((size_t)n_ids + 1) * sizeof *tokens);
    if (!tokens) {
        free(ids);
        return fail(o, "out of memory");
    }
    int32_t n_tokens = 0;
    if (d->bos_id >= 0)
        tokens[n_tokens++] = d->bos_id;
    memcpy(tokens + n_tokens, ids, (size_t)n_ids * sizeof *ids);
    n_tokens += n_ids;
    free(ids);

    int32_t n_chunks = n_tokens / ctx;
    if (n_chunks < 1) {
        fprintf(stderr, "%s: %s: %d tokens, fewer than one chunk of %d (--ctx)\n", o->prog,
                o->ppl_file, n_tokens, ctx);
        free(tokens);
        return 1;
    }
    int32_t max_batch = o->max_batch ? (int32_t)o->max_batch : DEFAULT_MAX_BATCH;
    if (max_batch > batch_limit(d))
        max_batch = batch_limit(d);
    if (max_batch > n_chunks)
        max_batch = n_chunks;
    LlmcEngine e;
    if (make_engine(o, &e, pl, llmc_engine_default_kv_blocks(d, max_batch, ctx - 1)) != 0) {
        free(tokens);
        return 1;
    }
    LlmcPplResult r;
    rc = llmc_perplexity(&e, tokens, n_tokens, ctx, max_batch, ppl_progress, NULL, &r, err,
                         sizeof err);
    if (rc != 0) {
        fail(o, err);
    } else {
        printf("perplexity: %.4f +/- %.4f (%d chunks of %d, %lld tokens)\n", r.ppl, r.ppl_err,
               r.n_chunks, r.ctx, (long long)r.n_scored);
        if (fflush(stdout) != 0)
            rc = fail(o, "cannot write the output");
    }
    llmc_engine_destroy(&e);
    free(tokens);
    return rc != 0;
}

/* ---- --compare-cpu ---- */

static int run_compare(const Opts *o, const LlmcPayload *pl, const LlmcTokenizer *tok)
{
    const LlmcModelDesc *d = &llmc_model, *twin = d->cpu_twin;
    char err[1024];
    if (!twin)
        return fail(o, "--compare-cpu: this GPU build carries no CPU twin (recompile with an llmc "
                       "that emits one)");
    if (llmc_desc_check(twin, err, sizeof err) != 0 || twin->backend != LLMC_BACKEND_CPU) {
        fprintf(stderr, "%s: --compare-cpu: the CPU twin is unusable: %s\n", o->prog,
                twin->backend != LLMC_BACKEND_CPU ? "not a cpu build" : err);
        return 1;
    }
    Prompt pr = {0};
    int rc = 0;
    if (o->ids) {
        if (llmc_parse_ids(o->ids, d->vocab_size, &pr.ids, &pr.n, err, sizeof err) != 0)
            return fail(o, err);
    } else if (encode(o, tok, o->prompt, strlen(o->prompt), "prompt", &pr) != 0) {
        return 1;
    }
    int32_t ctx = d->max_seq_len < twin->max_seq_len ? d->max_seq_len : twin->max_seq_len;
    if (pr.n > ctx) {
        fprintf(stderr, "%s: the prompt has %d tokens, more than the model's context of %d\n",
                o->prog, pr.n, ctx);
        free(pr.ids);
        return 1;
    }
    LlmcEngine ge, ce;
    if (make_engine(o, &ge, pl, llmc_kv_blocks_for(pr.n, d->kv_block_size)) != 0) {
        free(pr.ids);
        return 1;
    }
    /* The twin's pool holds exactly the prompt (its blocks may differ from the GPU build's). */
    LlmcEngineOpts eo = {.n_threads = o->threads ? (int)o->threads : default_threads(),
                         .kv_blocks = llmc_kv_blocks_for(pr.n, twin->kv_block_size)};
    if (llmc_engine_init(&ce, twin, pl->weights, &eo, err, sizeof err) != 0) {
        fprintf(stderr, "%s: the CPU twin: %s\n", o->prog, err);
        llmc_engine_destroy(&ge);
        free(pr.ids);
        return 1;
    }
    if (llmc_compare_cpu(&ge, &ce, pr.ids, pr.n, stdout, err, sizeof err) != 0)
        rc = fail(o, err);
    llmc_engine_destroy(&ce);
    llmc_engine_destroy(&ge);
    free(pr.ids);
    return rc;
}

/* ---- chat ---- */

static int run_chat(const Opts *o, const LlmcPayload *pl, const LlmcTokenizer *tok)
{
    const LlmcModelDesc *d = &llmc_model;
    char err[1024];
    if (!tok)
        return fail(o, "--chat needs a tokenizer and this model has none");
    LlmcChat *c = NULL;
    if (llmc_chat_open(&c, tok, err, sizeof err) != 0)
        return fail(o, err);
    LlmcEngine e = {0};
    int rc = make_engine(o, &e, pl, llmc_engine_default_kv_blocks(d, 1, d->max_seq_len));
    if (rc == 0) {
        LlmcChatOptions co = {.system = o->system,
                              .max_new = o->n_new > 0 ? (int32_t)(o->n_new < INT32_MAX ? o->n_new : INT32_MAX) : 0,
                              .sampler = {(float)o->temp, (int32_t)o->top_k, (float)o->top_p},
                              .seed = o->seed,
                              .prompt = isatty(STDIN_FILENO)};
        if (llmc_chat_run(&e, c, &co, stdin, stdout, err, sizeof err) != 0)
            rc = fail(o, err);
    }
    llmc_engine_destroy(&e);
    llmc_chat_close(c);
    return rc;
}

/* ---- the tokenizer alone ---- */

/* --render-chat FILE: the template's text for the variables in FILE (or its ids). */
static int render_chat(const Opts *o, const LlmcTokenizer *tok)
{
    char err[1024];
    LlmcChat *c = NULL;
    if (llmc_chat_open(&c, tok, err, sizeof err) != 0)
        return fail(o, err);
    FILE *f = strcmp(o->render_chat, "-") == 0 ? stdin : fopen(o->render_chat, "rb");
    char *json = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    if (!f) {
        fprintf(stderr, "%s: --render-chat %s: %s\n", o->prog, o->render_chat, strerror(errno));
        rc = 1;
    }
    for (size_t got = 1; rc == 0 && got > 0;) {
        if (len + 65536 + 1 > cap) {
            char *p = realloc(json, cap = cap * 2 + 65536 + 1);
            if (!p) {
                rc = fail(o, "out of memory");
                break;
            }
            json = p;
        }
        got = fread(json + len, 1, 65536, f);
        len += got;
        if (len > ((size_t)64 << 20))
            rc = fail(o, "--render-chat: the file is over 64 MiB");
    }
    if (f && f != stdin)
        fclose(f);
    char *text = NULL;
    size_t text_len = 0;
    int32_t *ids = NULL, n = 0;
    if (rc == 0 && llmc_chat_render(c, json, len, &text, &text_len, o->output_ids ? &ids : NULL, &n, err,
                                    sizeof err) != 0) {
        fprintf(stderr, "%s: --render-chat %s: %s\n", o->prog, o->render_chat, err);
        rc = 1;
    }
    if (rc == 0) {
        if (o->output_ids)
            for (int32_t i = 0; i < n; i++)
                printf("%s%d", i ? " " : "", ids[i]);
        else
            fwrite(text, 1, text_len, stdout);
        if (o->output_ids)
            printf("\n");
        rc = fflush(stdout) == 0 ? 0 : 1;
    }
    free(ids);
    free(text);
    free(json);
    llmc_chat_close(c);
    return rc;
}

/* --tokenize / --detokenize / --render-chat: the payload's tokenizer, no device and no weights
 * touched (beyond the start-up digest check). */
static int run_tokenize(const Opts *o, const LlmcModelDesc *d, const char *exe, int threads)
{
    char err[1024];
    LlmcPayload pl;
    if (llmc_payload_open(&pl, d, exe, o->weights, err, sizeof err) != 0)
        return fail(o, err);
    if (!o->no_verify && llmc_payload_verify(&pl, threads, NULL, err, sizeof err) != 0) {
        llmc_payload_close(&pl);
        return fail(o, err);
    }
    LlmcTokenizer *tok = NULL;
    int rc = 1;
    if (!pl.tokenizer) {
        fprintf(stderr, "%s: this model has no tokenizer\n", o->prog);
    } else if (llmc_tokenizer_load(&tok, (int)pl.tokenizer_kind, pl.tokenizer, (size_t)pl.tokenizer_size,
                                   d->vocab_size, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s: tokenizer: %s\n", o->prog, pl.path, err);
    } else if (o->render_chat) {
        rc = render_chat(o, tok);
    } else if (o->tokenize) {
        int32_t *ids = NULL, n = 0;
        if (llmc_tokenizer_encode(tok, o->tokenize, strlen(o->tokenize), o->special ? LLMC_TOK_SPECIAL : 0, &ids,
                                  &n, err, sizeof err) != 0) {
            fprintf(stderr, "%s: --tokenize: %s\n", o->prog, err);
        } else {
            for (int32_t i = 0; i < n; i++)
                printf("%s%d", i ? " " : "", ids[i]);
            printf("\n");
            rc = fflush(stdout) == 0 ? 0 : 1;
        }
        free(ids);
    } else {
        LlmcDetok *s = llmc_detok_new(tok, o->special ? LLMC_TOK_SPECIAL : 0);
        rc = s ? 0 : 1;
        for (const char *p = o->detokenize; s && rc == 0;) {
            while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n' || *p == '\r')
                p++;
            if (!*p)
                break;
            char *end;
            errno = 0;
            long x = strtol(p, &end, 10);
            size_t k = 0;
            const char *text;
            if (end == p || errno || x < 0 || x >= d->vocab_size) {
                fprintf(stderr, "%s: --detokenize: '%.*s' is not a token id (0..%d)\n", o->prog,
                        (int)strcspn(p, " \t,\n\r"), p, d->vocab_size - 1);
                rc = 1;
            } else if ((text = llmc_detok_put(s, (int32_t)x, &k)) != NULL) {
                fwrite(text, 1, k, stdout);
            } else {
                rc = fail(o, "out of memory");
            }
            p = end;
        }
        size_t k = 0;
        const char *text = s ? llmc_detok_flush(s, &k) : NULL;
        if (rc == 0) {
            fwrite(text, 1, k, stdout);
            printf("\n");
            rc = fflush(stdout) == 0 ? 0 : 1;
        }
        llmc_detok_free(s);
    }
    if (tok)
        llmc_tokenizer_free(tok);
    llmc_payload_close(&pl);
    return rc;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    const LlmcModelDesc *d = &llmc_model;
    Opts o;
    if (argc < 1 || parse_args(&o, argc, argv) != 0)
        return EXIT_USAGE;
    if (o.help) {
        usage(stdout, o.prog);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (o.version) {
        printf("%s (target %s)\nllmc %s\n%s\n", d->name, d->target, d->llmc_version,
               d->build_info);
        const LlmcDeviceOps *dev = llmc_device_for(d->backend);
        if (dev && dev->version_info) {
            char info[600];
            dev->version_info(d, info, sizeof info);
            printf("%s\n", info);
        }
        return fflush(stdout) == 0 ? 0 : 1;
    }
    char err[1024];
    if (llmc_desc_check(d, err, sizeof err) != 0)
        return fail(&o, err);
    char exe[4096];
    if (llmc_self_exe(exe, sizeof exe, argv[0], err, sizeof err) != 0)
        return fail(&o, err);
    int vthreads = o.threads ? (int)o.threads : default_threads();
    if (o.tokenize || o.detokenize || o.render_chat)
        return run_tokenize(&o, d, exe, vthreads);
    if (!o.no_verify && llmc_verify_images(d, exe, vthreads, err, sizeof err) != 0)
        return fail(&o, err);
    /* The device is checked before the payload (a GPU build: driver, GPU, image). */
    const LlmcDeviceOps *dev = llmc_device_for(d->backend);
    if (dev->open(&o.device, d, err, sizeof err) != 0)
        return fail(&o, err);

    LlmcPayload pl;
    if (llmc_payload_open(&pl, d, exe, o.weights, err, sizeof err) != 0) {
        dev->close(o.device);
        return fail(&o, err);
    }
    if (!o.no_verify) {
        double t0 = llmc_rt_now();
        uint64_t bytes = 0;
        if (llmc_payload_verify(&pl, vthreads, &bytes, err, sizeof err) != 0) {
            llmc_payload_close(&pl);
            dev->close(o.device);
            return fail(&o, err);
        }
        double dt = llmc_rt_now() - t0;
        if (o.verbose)
            fprintf(stderr, "%s: verified %.3f GB of program, weights and tokenizer in %.3f s (%.1f GB/s)\n",
                    o.prog, (double)bytes / 1e9, dt, dt > 0 ? (double)bytes / 1e9 / dt : 0.0);
    }
    LlmcTokenizer *tok = NULL;
    if (pl.tokenizer && llmc_tokenizer_load(&tok, (int)pl.tokenizer_kind, pl.tokenizer,
                                            (size_t)pl.tokenizer_size, d->vocab_size, err,
                                            sizeof err) != 0) {
        fprintf(stderr, "%s: %s: tokenizer: %s\n", o.prog, pl.path, err);
        llmc_payload_close(&pl);
        dev->close(o.device);
        return 1;
    }
    int rc;
    if (o.compare_cpu)
        rc = run_compare(&o, &pl, tok);
    else if (o.bench)
        rc = run_bench(&o, &pl);
    else if (o.ppl_file)
        rc = run_perplexity(&o, &pl, tok);
    else if (o.chat)
        rc = run_chat(&o, &pl, tok);
    else
        rc = run_generate(&o, &pl, tok);
    if (tok)
        llmc_tokenizer_free(tok);
    llmc_payload_close(&pl);
    dev->close(o.device);
    return rc;
}
