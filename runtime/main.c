/* main.c — the command line of a model executable.
 *
 * `llmc compile` links this file, the rest of runtime/ and the generated model code (which defines
 * `llmc_model`) into one executable, and appends the packed weights. Everything here is glue:
 * parse the flags, map the payload, load the tokenizer, build the engine, and hand the work to the
 * scheduler (generation, --prompts), the benchmark (--bench), perplexity (--perplexity) or the
 * HTTP server (--serve, server.h: it listens before the model is loaded, so that /health can say
 * when it is ready).
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
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
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
#include "server.h"
#include "tokenizer.h"

extern const LlmcModelDesc llmc_model;

enum { EXIT_USAGE = 2, DEFAULT_MAX_BATCH = 8, CPU_DEFAULT_BATCH = 32 };     /* --perplexity's */

/* ---- options ----
 *
 * One table, opt_specs, gives getopt_long its option list, parses every value and prints --help.
 * Long options take their value as `--opt value` or `--opt=value` (and answer to an unambiguous
 * prefix), short ones as `-n 4` or `-n4`; `--` ends the options. The common llama.cpp spellings
 * are here (-p/--prompt, -f/--file, -c/--ctx-size, -t/--threads, -s/--seed, -n/--n-predict,
 * --temp, --top-k, --top-p). A usage error is one line naming the option. A new option is one
 * entry in the table (and its field in Opts). */

typedef struct Opts {
    const char *prog;
    const char *prompt;         /* the positional argument or -p */
    const char *prompt_file;    /* -f: the prompt is this file's text ("-": stdin) */
    const char *ids;
    const char *prompts_file;
    const char *ppl_file;
    int64_t ppl_chunks;         /* --chunks: at most this many (0: all) */
    const char *weights;
    const char *tokenize, *detokenize, *system, *render_chat;
    int special, chat;
    int64_t n_new;              /* -1: default */
    int64_t bench_p;            /* 0: default */
    int64_t bench_batch;        /* 0: default */
    int64_t bench_launches;     /* --bench-launches R (0: not given) */
    int64_t max_batch;          /* 0: default */
    int64_t ctx;                /* 0: the model's context (perplexity: min(512, it)) */
    int64_t threads;            /* 0: online CPUs */
    int64_t kv_blocks;          /* 0: default */
    int64_t kv_mem;             /* MiB, 0: default */
    int64_t top_k;              /* -1: not given */
    int64_t top_logits;         /* 0: generate; K: print the prompt's top-K logits instead */
    double temp, top_p;         /* NAN: not given */
    uint64_t seed;
    int bench, verbose, progress, help, version, output_ids, prompts_ids, ignore_eos;
    int no_graphs, no_pdl, compare_cpu, no_verify;
    double step_timeout;        /* NAN: not given (LLMC_STEP_TIMEOUT, else the default) */
    int serve;                  /* --serve */
    const char *host;           /* NULL: 127.0.0.1 */
    int64_t port;               /* -1: 8080 */
    const char *api_key;
    int64_t max_queue;          /* -1: default */
    int64_t timeout;            /* -1: default */
    size_t prompt_len;          /* not an option: bytes of prompt */
    char *prompt_text;          /* not an option: -f's text, owned */
    void *device;               /* not an option: the device opened at start (device.h) */
    struct Watch *watch;        /* not an option: the mapped weights, watched while steps run */
} Opts;

typedef enum { OPT_FLAG, OPT_INT, OPT_SEED, OPT_REAL, OPT_STR } OptKind;

typedef struct OptSpec {
    const char *name;           /* long name without "--"; NULL: a heading of --help */
    const char *alias;          /* a second long name, or NULL */
    char short_name;            /* 0: none */
    OptKind kind;
    size_t off;                 /* field in Opts */
    int64_t lo, hi;             /* OPT_INT range */
    const char *arg;            /* the value's name in --help */
    const char *help;           /* "\n" starts a continuation line */
} OptSpec;

#define F(field) offsetof(Opts, field)
#define HEADING(text) {NULL, NULL, 0, OPT_FLAG, 0, 0, 0, NULL, text}
static const OptSpec opt_specs[] = {
    HEADING("generation"),
    {"prompt", NULL, 'p', OPT_STR, F(prompt), 0, 0, "TEXT",
     "the prompt (also the first argument; the argument - reads it from stdin)"},
    {"file", NULL, 'f', OPT_STR, F(prompt_file), 0, 0, "FILE",
     "the prompt is FILE's text, one final newline dropped; - reads stdin"},
    {"ids", NULL, 0, OPT_STR, F(ids), 0, 0, "\"I J K\"",
     "the prompt as token ids (no BOS added); without a tokenizer the output\n"
     "is token ids too"},
    {"n-predict", NULL, 'n', OPT_INT, F(n_new), 0, INT32_MAX, "N",
     "new tokens per prompt (default 256; --bench: decode steps, default 128);\n"
     "clamped so that prompt + N fits the context"},
    {"temp", NULL, 0, OPT_REAL, F(temp), 0, 0, "T",
     "temperature, 0 = greedy (default: the model's (--version), else 0)"},
    {"top-k", NULL, 0, OPT_INT, F(top_k), 0, INT32_MAX, "K",
     "keep the K most probable tokens, 0 = off (default: the model's, else 0)"},
    {"top-p", NULL, 0, OPT_REAL, F(top_p), 0, 0, "P",
     "nucleus sampling, 0 < P <= 1 (default: the model's, else 1 = off)"},
    {"seed", NULL, 's', OPT_SEED, F(seed), 0, 0, "S",
     "sampler seed (default 0); every sequence draws from its own RNG"},
    {"ctx-size", "ctx", 'c', OPT_INT, F(ctx), 1, INT32_MAX, "N",
     "context: prompt + new tokens at most N (default: the model's);\n"
     "--perplexity: the chunk length (default min(512, the model's))"},
    {"prompts", NULL, 0, OPT_STR, F(prompts_file), 0, 0, "FILE",
     "one prompt per line (empty lines are prompts too; a final newline is\n"
     "not); - reads stdin"},
    {"prompts-ids", NULL, 0, OPT_FLAG, F(prompts_ids), 0, 0, NULL,
     "the lines of --prompts are token ids (\"1 450 8074\", no BOS added), each\n"
     "optionally after \"N:\", the new tokens for that line (else -n)"},
    {"max-batch", NULL, 0, OPT_INT, F(max_batch), 1, 1 << 20, "B",
     "sequences at once with --prompts (default: as many as a step holds, at\n"
     "most 32 on the cpu, and the KV cache starts), --perplexity and --serve\n"
     "(default 8)"},
    {"ignore-eos", NULL, 0, OPT_FLAG, F(ignore_eos), 0, 0, NULL,
     "do not stop at end-of-sequence ids: always generate -n tokens\n(benchmarks)"},
    {"progress", NULL, 0, OPT_FLAG, F(progress), 0, 0, NULL,
     "\"[k/N done]\" on stderr with --prompts even when stderr is not a terminal"},
    {"verbose", NULL, 0, OPT_FLAG, F(verbose), 0, 0, NULL, "prefill and decode speed on stderr"},
    {"output-ids", NULL, 0, OPT_FLAG, F(output_ids), 0, 0, NULL, "print token ids instead of text"},
    {"top-logits", NULL, 0, OPT_INT, F(top_logits), 1, INT32_MAX, "K",
     "instead of generating: print the prompt's token ids and the K largest\n"
     "logits at its last position (\"id logit\" per line)"},
    HEADING("HTTP server (OpenAI-compatible; docs/executable.md)"),
    {"serve", NULL, 0, OPT_FLAG, F(serve), 0, 0, NULL,
     "serve /v1/completions, /v1/chat/completions, /v1/models, /health and\n"
     "/metrics until SIGINT/SIGTERM; --temp, --top-k, --top-p and --seed are\n"
     "the defaults of requests that give none"},
    {"host", NULL, 0, OPT_STR, F(host), 0, 0, "ADDR", "address to listen on (default 127.0.0.1)"},
    {"port", NULL, 0, OPT_INT, F(port), 0, 65535, "PORT", "port (default 8080; 0: any free port)"},
    {"api-key", NULL, 0, OPT_STR, F(api_key), 0, 0, "KEY",
     "require \"Authorization: Bearer KEY\" on /v1/ requests"},
    {"max-queue", NULL, 0, OPT_INT, F(max_queue), 0, 1 << 20, "N",
     "requests that may wait beyond those running (default 256); more get 429"},
    {"timeout", NULL, 0, OPT_INT, F(timeout), 1, 86400, "S",
     "close a connection idle for S seconds (default 600)"},
    HEADING("benchmark"),
    {"bench", NULL, 0, OPT_FLAG, F(bench), 0, 0, NULL,
     "B sequences of P synthetic tokens, then N (-n) decode steps"},
    {"bench-prompt", NULL, 0, OPT_INT, F(bench_p), 1, INT32_MAX, "P", "prompt tokens (default 128)"},
    {"batch", NULL, 0, OPT_INT, F(bench_batch), 1, 1 << 20, "B", "sequences (default 1)"},
    {"bench-launches", NULL, 0, OPT_INT, F(bench_launches), 1, 100000, "R",
     "GPU builds: then each kernel launch of a decode step timed in its CUDA graph (the step cut "
     "after it, R replays)"},
    HEADING("perplexity"),
    {"perplexity", NULL, 0, OPT_STR, F(ppl_file), 0, 0, "FILE",
     "llama.cpp's protocol: chunks of -c tokens, second half scored;\n- reads stdin"},
    {"chunks", NULL, 0, OPT_INT, F(ppl_chunks), 1, INT32_MAX, "N",
     "--perplexity: the first N chunks only (default: all)"},
    HEADING("engine"),
    {"threads", NULL, 't', OPT_INT, F(threads), 1, 4096, "N",
     "CPU threads (default: online CPUs; GPU builds: for --compare-cpu)"},
    {"kv-blocks", NULL, 0, OPT_INT, F(kv_blocks), 1, INT32_MAX, "N",
     "KV cache blocks (default: every running sequence at its longest, as far\n"
     "as memory allows; sequences take blocks as they grow and are preempted\n"
     "and recomputed when the cache runs out)"},
    {"kv-mem", NULL, 0, OPT_INT, F(kv_mem), 1, (int64_t)1 << 30, "MIB", "KV cache size instead of --kv-blocks"},
    {"weights", NULL, 0, OPT_STR, F(weights), 0, 0, "PATH",
     "read the weights from PATH instead of the executable or its side file"},
    {"no-verify", NULL, 0, OPT_FLAG, F(no_verify), 0, 0, NULL,
     "skip the start-up check of the content digests of the program, kernels,\n"
     "weights and tokenizer (a payload from another build is refused anyway)"},
    HEADING("tokenizer and chat"),
    {"tokenize", NULL, 0, OPT_STR, F(tokenize), 0, 0, "TEXT", "print the ids of TEXT (no BOS) and stop"},
    {"detokenize", NULL, 0, OPT_STR, F(detokenize), 0, 0, "\"IDS\"", "print the text of the ids and stop"},
    {"special", NULL, 0, OPT_FLAG, F(special), 0, 0, NULL,
     "with --tokenize/--detokenize: added and special tokens are matched and\nshown (else they are text)"},
    {"chat", NULL, 0, OPT_FLAG, F(chat), 0, 0, NULL, "chat in the terminal through the model's chat template"},
    {"system", NULL, 0, OPT_STR, F(system), 0, 0, "TEXT", "with --chat: the system message"},
    {"render-chat", NULL, 0, OPT_STR, F(render_chat), 0, 0, "FILE",
     "print the chat template rendered for the variables or messages in FILE"},
    HEADING("GPU builds"),
    {"no-graphs", NULL, 0, OPT_FLAG, F(no_graphs), 0, 0, NULL,
     "launch every step's kernels one by one (no CUDA graphs for decode steps;\nfor debugging)"},
    {"no-pdl", NULL, 0, OPT_FLAG, F(no_pdl), 0, 0, NULL,
     "no programmatic dependent launch (sm_90+: the decode matmuls otherwise\n"
     "start while the kernel before them drains)"},
    {"step-timeout", NULL, 0, OPT_REAL, F(step_timeout), 0, 0, "S",
     "the watchdog: a step that has not finished S seconds (plus 10 ms a token\n"
     "of it) after it started fails, every rank's NCCL communicator aborted,\n"
     "and so does every later step (default: 60 with --tp 2 or more, none on\n"
     "one GPU; or $LLMC_STEP_TIMEOUT; 0: no deadline; docs/tp.md)"},
    {"compare-cpu", NULL, 0, OPT_FLAG, F(compare_cpu), 0, 0, NULL,
     "run the prompt on the GPU and on the CPU twin (the same model compiled\n"
     "for the CPU) and print the error of every probed value, per layer, and\n"
     "of the logits"},
    HEADING("this executable"),
    {"version", "info", 0, OPT_FLAG, F(version), 0, 0, NULL,
     "the model, target and build options it holds, its end-of-sequence ids and\n"
     "sampling defaults"},
    {"help", NULL, 'h', OPT_FLAG, F(help), 0, 0, NULL, "this list"},
};
#undef HEADING
#undef F
enum { N_OPT_SPECS = sizeof opt_specs / sizeof opt_specs[0] };

static const char synopsis[] =
    "usage: %1$s \"PROMPT\" [-n N] [sampling] [engine]          generate\n"
    "       %1$s -f FILE | --ids \"1 450 8074\" ...            the prompt from a file, or as token ids\n"
    "       %1$s --prompts FILE [--max-batch B] [-n N] ...  one prompt per line, continuous batching\n"
    "       %1$s --bench [--bench-prompt P] [-n N] [--batch B] [--bench-launches R]   prefill/decode speed\n"
    "       %1$s --perplexity FILE [-c N] [--chunks N] [--max-batch B]\n"
    "       %1$s --serve [--host ADDR] [--port PORT] [--api-key KEY] [--max-batch B]   HTTP server\n"
    "       %1$s --compare-cpu \"PROMPT\" | --ids \"...\"      GPU builds: per-layer errors vs the CPU\n"
    "       %1$s --tokenize \"TEXT\" | --detokenize \"IDS\" [--special]   the tokenizer alone\n"
    "       %1$s --render-chat FILE [--output-ids]          the chat template alone\n"
    "       %1$s --chat [--system TEXT] [-n N] [sampling]    chat in the terminal (the model's chat template)\n";

static void usage(FILE *f, const char *prog)
{
    fprintf(f, synopsis, prog);
    for (int i = 0; i < N_OPT_SPECS; i++) {
        const OptSpec *sp = &opt_specs[i];
        if (!sp->name) {
            fprintf(f, "%s:\n", sp->help);
            continue;
        }
        char head[80];
        int n = sp->short_name ? snprintf(head, sizeof head, "  -%c, --%s", sp->short_name, sp->name)
                               : snprintf(head, sizeof head, "      --%s", sp->name);
        if (sp->alias)
            n += snprintf(head + n, sizeof head - (size_t)n, ", --%s", sp->alias);
        if (sp->arg)
            n += snprintf(head + n, sizeof head - (size_t)n, " %s", sp->arg);
        fprintf(f, "%s", head);
        const char *h = sp->help;
        for (int first = 1; h && *h; first = 0) {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            if (first && n <= 24)
                fprintf(f, "%*s%.*s\n", 26 - n, "", len, h);
            else
                fprintf(f, "%s%26s%.*s\n", first ? "\n" : "", "", len, h);
            h = nl ? nl + 1 : h + len;
        }
    }
}

static int bad_usage(const Opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints one line: the message and where to look; returns -1. */
static int bad_usage(const Opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", o->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s --help lists the options)\n", o->prog);
    va_end(ap);
    return -1;
}

/* A finite number from all of v (strtod); 0, else -1. */
static int parse_real(const char *v, double *x)
{
    char *end;
    errno = 0;
    *x = strtod(v, &end);
    return errno || end == v || *end || !isfinite(*x) ? -1 : 0;
}

/* `name` is the option as the user wrote it ("-n", "--n-predict"). */
static int set_opt(Opts *o, const OptSpec *sp, const char *name, const char *v)
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
            return bad_usage(o, "%s: expected an integer, found '%s'", name, v);
        if (x < sp->lo || x > sp->hi)
            return bad_usage(o, "%s: %s is out of range %lld..%lld", name, v, (long long)sp->lo,
                             (long long)sp->hi);
        *(int64_t *)f = x;
        return 0;
    }
    case OPT_SEED: {
        unsigned long long x = strtoull(v, &end, 0);
        if (errno || end == v || *end || v[0] == '-')
            return bad_usage(o, "%s: expected a non-negative integer, found '%s'", name, v);
        *(uint64_t *)f = x;
        return 0;
    }
    case OPT_REAL:
        if (parse_real(v, (double *)f))
            return bad_usage(o, "%s: expected a number, found '%s'", name, v);
        return 0;
    }
    return -1;
}

/* An option getopt_long did not take: unknown, ambiguous, or a flag given a value. arg is the
 * command-line word ("--top", "--bench=3"); opt is getopt's optopt. */
static int bad_option(const Opts *o, int opt, const char *arg)
{
    if (opt >= 256)
        return bad_usage(o, "--%s takes no value", opt_specs[opt - 256].name);
    if (opt > 0)
        return bad_usage(o, "unknown option -%c", opt);
    size_t len = strcspn(arg + 2, "=");
    char cands[256] = "";
    int n = 0;
    for (int i = 0; i < N_OPT_SPECS; i++) {
        const char *names[2] = {opt_specs[i].name, opt_specs[i].alias};
        for (int k = 0; k < 2; k++)
            if (names[k] && strncmp(names[k], arg + 2, len) == 0 && len < strlen(names[k])) {
                size_t at = strlen(cands);
                snprintf(cands + at, sizeof cands - at, "%s--%s", n++ ? ", " : "", names[k]);
            }
    }
    if (n > 1)
        return bad_usage(o, "option --%.*s is ambiguous: %s", (int)len, arg + 2, cands);
    return bad_usage(o, "unknown option --%.*s", (int)len, arg + 2);
}

/* The CPUs this process may run on (its affinity mask: taskset, cgroups' cpusets), else the
 * online ones. */
static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)(n < 4096 ? n : 4096) : 1;
}

static int parse_args(Opts *o, int argc, char **argv)
{
    const char *slash = strrchr(argv[0] ? argv[0] : "model", '/');
    *o = (Opts){.prog = slash ? slash + 1 : (argv[0] ? argv[0] : "model"), .n_new = -1,
                .top_k = -1, .temp = NAN, .top_p = NAN, .port = -1, .max_queue = -1, .timeout = -1,
                .step_timeout = NAN};
    struct option longs[2 * N_OPT_SPECS + 1];
    char shorts[2 * N_OPT_SPECS + 2];
    int nl = 0, ns = 0;
    shorts[ns++] = ':';         /* a missing value returns ':' */
    for (int i = 0; i < N_OPT_SPECS; i++) {
        const OptSpec *sp = &opt_specs[i];
        if (!sp->name)
            continue;
        int has = sp->kind == OPT_FLAG ? no_argument : required_argument;
        longs[nl++] = (struct option){sp->name, has, NULL, 256 + i};
        if (sp->alias)
            longs[nl++] = (struct option){sp->alias, has, NULL, 256 + i};
        if (sp->short_name) {
            shorts[ns++] = sp->short_name;
            if (has)
                shorts[ns++] = ':';
        }
    }
    longs[nl] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = 0;
    opterr = 0;
    optind = 1;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, shorts, longs, &li)) != -1) {
        int k = -1;
        if (c >= 256) {
            k = c - 256;
        } else if (c != '?' && c != ':') {
            for (int i = 0; i < N_OPT_SPECS && k < 0; i++)
                if (opt_specs[i].name && opt_specs[i].short_name == c)
                    k = i;
        }
        if (c == '?')
            return bad_option(o, optopt, argv[optind - 1]);
        if (c == ':') {
            if (optopt >= 256)
                return bad_usage(o, "--%s needs a value", opt_specs[optopt - 256].name);
            return bad_usage(o, "-%c needs a value", optopt);
        }
        char name[64];
        if (c >= 256)
            snprintf(name, sizeof name, "--%s", li >= 0 ? longs[li].name : opt_specs[k].name);
        else
            snprintf(name, sizeof name, "-%c", c);
        li = -1;
        if (set_opt(o, &opt_specs[k], name, optarg) != 0)
            return -1;
    }
    for (int i = optind; i < argc; i++) {
        if (o->prompt || o->prompt_file)
            return bad_usage(o, "more than one prompt given ('%s' and '%s'): quote the prompt",
                             o->prompt ? o->prompt : o->prompt_file, argv[i]);
        if (strcmp(argv[i], "-") == 0)
            o->prompt_file = "-";
        else
            o->prompt = argv[i];
    }
    if (o->help || o->version)
        return 0;
    if (!isnan(o->top_p) && (o->top_p <= 0 || o->top_p > 1))
        return bad_usage(o, "--top-p %g: expected a value in (0, 1]", o->top_p);
    if (!isnan(o->temp) && o->temp < 0)
        return bad_usage(o, "--temp %g: expected a value >= 0", o->temp);
    if (o->prompt && o->prompt_file)
        return bad_usage(o, "two prompts: -f/--file and a prompt");
    int one_prompt = o->prompt || o->prompt_file || o->ids;
    if (o->bench && (o->prompt || o->prompt_file))
        return bad_usage(o, "--bench takes no prompt (its prompt length is --bench-prompt N; -p is "
                            "the prompt text, as in llama.cpp)");
    int modes = !!o->bench + !!o->ppl_file + !!o->prompts_file + !!one_prompt + !!o->tokenize + !!o->detokenize +
                !!o->chat + !!o->render_chat + !!o->serve;
    if (modes == 0)
        return bad_usage(o, "nothing to do: give a prompt, -f, --ids, --prompts, --bench, --perplexity, "
                            "--tokenize, --detokenize, --chat or --serve");
    if (modes > 1 || ((o->prompt || o->prompt_file) && o->ids))
        return bad_usage(o, "choose one of: a prompt, -f, --ids, --prompts, --bench, --perplexity, "
                            "--tokenize, --detokenize, --chat, --render-chat, --serve");
    if (o->system && !o->chat)
        return bad_usage(o, "--system is an option of --chat");
    if (o->special && !o->tokenize && !o->detokenize)
        return bad_usage(o, "--special is an option of --tokenize and --detokenize");
    if (!o->serve && (o->host || o->port >= 0 || o->api_key || o->max_queue >= 0 || o->timeout >= 0))
        return bad_usage(o, "--host, --port, --api-key, --max-queue and --timeout are options of --serve");
    if (o->serve && o->n_new >= 0)
        return bad_usage(o, "-n is not an option of --serve: each request gives its max_tokens");
    if (o->serve && o->ctx)
        return bad_usage(o, "-c/--ctx-size is not an option of --serve (requests may use the model's "
                            "whole context; --kv-blocks/--kv-mem size the KV cache)");
    if (o->serve && (o->output_ids || o->progress))
        return bad_usage(o, "%s is not an option of --serve", o->output_ids ? "--output-ids" : "--progress");
    if (o->api_key && !o->api_key[0])
        return bad_usage(o, "--api-key: the key is empty");
    if ((o->bench_p || o->bench_batch || o->bench_launches) && !o->bench)
        return bad_usage(o, "--bench-prompt, --batch and --bench-launches are options of --bench");
    if (o->ctx && o->bench)
        return bad_usage(o, "-c/--ctx-size is not an option of --bench (--bench-prompt and -n are)");
    if (o->prompts_ids && !o->prompts_file)
        return bad_usage(o, "--prompts-ids is an option of --prompts");
    if (o->ppl_chunks && !o->ppl_file)
        return bad_usage(o, "--chunks is an option of --perplexity");
    if (o->ignore_eos && (o->bench || o->ppl_file || o->compare_cpu || o->serve))
        return bad_usage(o, "--ignore-eos is an option of generation (a prompt, --ids, --prompts)");
    if (o->max_batch && !o->prompts_file && !o->ppl_file && !o->serve)
        return bad_usage(o, "--max-batch is an option of --prompts, --perplexity and --serve (--bench "
                            "takes --batch)");
    if (o->kv_blocks && o->kv_mem)
        return bad_usage(o, "give --kv-blocks or --kv-mem, not both");
    if (o->top_logits && !one_prompt)
        return bad_usage(o, "--top-logits takes one prompt (a prompt, -f or --ids)");
    if (o->compare_cpu && !one_prompt)
        return bad_usage(o, "--compare-cpu takes one prompt (a prompt, -f or --ids)");
    if (o->compare_cpu && (o->top_logits || o->n_new >= 0))
        return bad_usage(o, "--compare-cpu runs the prompt only: no -n or --top-logits");
    if (o->threads > usable_cpus())
        return bad_usage(o, "-t/--threads %lld: this process may run on %d CPUs; more threads than "
                            "CPUs wait for each other at every barrier", (long long)o->threads,
                         usable_cpus());
    const LlmcDeviceOps *dev = llmc_device_for(llmc_model.backend);
    int gpu = dev && dev->gpu_options;
    if ((o->no_graphs || o->no_pdl || o->compare_cpu || !isnan(o->step_timeout)) && !gpu)
        return bad_usage(o, "%s is an option of GPU builds; this executable was built for %s",
                         o->no_graphs ? "--no-graphs" : o->no_pdl ? "--no-pdl" : o->compare_cpu ? "--compare-cpu"
                                                                                   : "--step-timeout",
                         llmc_model.target ? llmc_model.target : "the cpu");
    const char *env = getenv("LLMC_STEP_TIMEOUT");
    int from_env = isnan(o->step_timeout) && env && gpu;
    if (from_env && parse_real(env, &o->step_timeout))
        return bad_usage(o, "LLMC_STEP_TIMEOUT: expected a number of seconds, found '%s'", env);
    if (!isnan(o->step_timeout) && (o->step_timeout < 0 || o->step_timeout > 1e6))
        return bad_usage(o, "%s %g: expected seconds from 0 (no deadline) to 1000000",
                         from_env ? "LLMC_STEP_TIMEOUT" : "--step-timeout", o->step_timeout);
    return 0;
}

/* ---- helpers ---- */

static int fail(const Opts *o, const char *msg)
{
    fprintf(stderr, "%s: %s\n", o->prog, msg);
    return 1;
}

static int default_threads(void) { return usable_cpus(); }

static int32_t batch_limit(const LlmcModelDesc *d)
{
    return d->max_tokens < d->max_outputs ? d->max_tokens : d->max_outputs;
}

/* The sampler: each option given, else the model's default (generation_config.json), else
 * greedy (temperature 0, top-k and top-p off). */
static LlmcSamplerCfg sampler_of(const Opts *o, const LlmcModelDesc *d)
{
    LlmcSamplerCfg c = {0.0f, 0, 1.0f};
    if (d->sampling_set)
        c = (LlmcSamplerCfg){d->temperature, d->top_k, d->top_p};
    if (!isnan(o->temp))
        c.temperature = (float)o->temp;
    if (o->top_k >= 0)
        c.top_k = (int32_t)o->top_k;
    if (!isnan(o->top_p))
        c.top_p = (float)o->top_p;
    return c;
}

/* -f FILE (or the argument -): the prompt is the file's text without one final newline
 * (llama.cpp's -f). 0, or 1 with the message printed. */
static int read_prompt_file(Opts *o)
{
    char err[1024];
    size_t n;
    if (llmc_rt_read_file(o->prompt_file, LLMC_RT_TEXT_LIMIT, &o->prompt_text, &n, err, sizeof err) != 0)
        return fail(o, err);
    if (n > 0 && o->prompt_text[n - 1] == '\n')
        n--;
    if (n > 0 && o->prompt_text[n - 1] == '\r')
        n--;
    o->prompt_text[n] = 0;
    o->prompt = o->prompt_text;
    o->prompt_len = n;
    return 0;
}

/* Blocks in the KV pool: --kv-blocks, --kv-mem, or the given default. 0 on error (printed). */
static int64_t kv_pool_blocks(const Opts *o, const LlmcModelDesc *d, int64_t fallback)
{
    if (o->kv_blocks)
        return o->kv_blocks;
    if (o->kv_mem && d->kv_block_bytes > 0) {
        /* a sharded model: every rank holds every block (its heads' part) */
        int64_t block = d->kv_block_bytes * (d->n_ranks > 1 ? d->n_ranks : 1);
        int64_t n = o->kv_mem * ((int64_t)1 << 20) / block;
        if (n < 1) {
            fprintf(stderr, "%s: --kv-mem %lld MiB holds no KV block of %lld bytes\n", o->prog,
                    (long long)o->kv_mem, (long long)block);
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

/* The engine's watch (before every step, at most 4 times a second): a weights file modified or
 * resized since it was mapped stops the run with a message, rather than running on other weights
 * (a file that shrinks under a step is caught by the SIGBUS handler below instead). */
typedef struct Watch {
    const LlmcPayload *payload;
    double next;                /* when to look at its file again */
} Watch;

static int watch_weights(void *ctx, char *err, size_t errlen)
{
    Watch *w = ctx;
    double now = llmc_rt_now();
    if (now < w->next)
        return 0;
    w->next = now + 0.25;
    return llmc_payload_changed(w->payload, err, errlen);
}

/* kv_default: the pool's blocks unless --kv-blocks or --kv-mem say; with fit, as many of them as
 * memory allows (LlmcEngineOpts.kv_fit). */
static int make_engine_fit(const Opts *o, LlmcEngine *e, const LlmcPayload *pl, int64_t kv_default,
                           int fit)
{
    const LlmcModelDesc *d = &llmc_model;
    int64_t kv = kv_pool_blocks(o, d, kv_default);
    if (kv == 0)
        return 1;
    char err[1024];
    Upload up = {.t0 = llmc_rt_now(), .tty = isatty(STDERR_FILENO), .last_pct = -1};
    LlmcEngineOpts eo = {.n_threads = o->threads ? (int)o->threads : default_threads(),
                         .kv_blocks = kv,
                         .kv_fit = fit && !o->kv_blocks && !o->kv_mem,
                         .device = o->device,
                         .no_graphs = o->no_graphs,
                         .no_pdl = o->no_pdl,
                         .step_timeout = isnan(o->step_timeout) ? 0 : o->step_timeout > 0 ? o->step_timeout : -1,
                         .watch = o->watch ? watch_weights : NULL,
                         .watch_ctx = o->watch};
    if (d->weights_bytes >= ((int64_t)256 << 20)) {     /* a device with its own memory */
        eo.progress = upload_progress;
        eo.progress_ctx = &up;
    }
    if (llmc_engine_init(e, d, pl->weights, &eo, err, sizeof err) != 0)
        return fail(o, err);
    return 0;
}

static int make_engine(const Opts *o, LlmcEngine *e, const LlmcPayload *pl, int64_t kv_default)
{
    return make_engine_fit(o, e, pl, kv_default, 0);
}

/* ---- generation: one prompt, --ids, --prompts ---- */

typedef struct Prompt {
    int32_t *ids;
    int32_t n;
    int32_t max_new;
} Prompt;

/* text (with BOS) into pr->ids. 0, or -1 with a message in err. */
static int encode(const LlmcTokenizer *tok, const char *text, size_t len, Prompt *pr, char *err,
                  size_t errlen)
{
    if (!tok)
        return llmc_rt_fail(err, errlen, "this model has no tokenizer: give the prompt as token "
                                         "ids with --ids \"1 2 3\"");
    return llmc_tokenizer_encode(tok, text, len, 1, &pr->ids, &pr->n, err, errlen);
}

/* The prompts of a run, one at a time (an LlmcGenSource): the prompt, --ids, -f, or the lines of
 * --prompts read as they are needed. Each is checked against the context and given its -n,
 * clamped to it. */
typedef struct PromptSource {
    const Opts *o;
    const LlmcTokenizer *tok;
    int32_t ctx;                /* positions a sequence may use */
    int64_t want;               /* -n */
    int notes;                  /* print the clamping notes (not on the checking pass) */
    LlmcLines lines;            /* --prompts */
    Prompt cur;                 /* the prompt handed out last */
    int64_t n_read;
    int32_t max_positions;      /* the most positions a prompt read so far needs */
} PromptSource;

static int source_next(void *ctx, LlmcGenPrompt *gp, char *err, size_t errlen)
{
    PromptSource *ps = ctx;
    const Opts *o = ps->o;
    char where[600] = "", msg[1024];
    int64_t want = -1;          /* this prompt's own -n (--prompts-ids "N:") */
    free(ps->cur.ids);
    ps->cur = (Prompt){0};
    int rc;
    if (o->prompts_file) {
        if ((rc = llmc_rt_lines_next(&ps->lines, err, errlen)) <= 0) {
            if (rc == 0 && ps->n_read == 0)
                return llmc_rt_fail(err, errlen, "%s: the prompts file is empty", ps->lines.name);
            return rc;
        }
        snprintf(where, sizeof where, "%s:%lld: ", ps->lines.name, (long long)ps->lines.line_no);
        if (o->prompts_ids)
            rc = llmc_parse_ids_line(ps->lines.line, llmc_model.vocab_size, &ps->cur.ids,
                                     &ps->cur.n, &want, msg, sizeof msg);
        else
            rc = encode(ps->tok, ps->lines.line, ps->lines.line_len, &ps->cur, msg, sizeof msg);
    } else if (ps->n_read > 0) {
        return 0;
    } else if (o->ids) {
        rc = llmc_parse_ids(o->ids, llmc_model.vocab_size, &ps->cur.ids, &ps->cur.n, msg, sizeof msg);
    } else {
        snprintf(where, sizeof where, "%s: ", o->prompt_file ? o->prompt_file : "prompt");
        rc = encode(ps->tok, o->prompt, o->prompt_len, &ps->cur, msg, sizeof msg);
    }
    if (rc != 0)
        return llmc_rt_fail(err, errlen, "%s%s", where, msg);
    ps->n_read++;
    Prompt *p = &ps->cur;
    if (p->n > ps->ctx)
        return llmc_rt_fail(err, errlen, "%sthe prompt has %d tokens, more than the %s context of %d",
                            where, p->n, o->ctx ? "-c/--ctx-size" : "model's", ps->ctx);
    if (want < 0)
        want = ps->want;
    p->max_new = (int32_t)want;
    if (want > ps->ctx - p->n) {
        p->max_new = ps->ctx - p->n;
        if (ps->notes)
            fprintf(stderr, "%s: note: %s-n %lld clamped to %d: the prompt has %d tokens and the "
                            "context is %d\n",
                    o->prog, where, (long long)want, p->max_new, p->n, ps->ctx);
    }
    int32_t positions = p->n + (p->max_new > 0 ? p->max_new - 1 : 0);
    if (positions > ps->max_positions)
        ps->max_positions = positions;
    *gp = (LlmcGenPrompt){p->ids, p->n, p->max_new};
    return 1;
}

/* The end of --prompts, on stderr: what ran, how fast, how many at once, the KV pool's use. */
static void print_summary(const Opts *o, const LlmcSchedStats *st, int64_t n_prompts,
                          int32_t max_batch, double seconds)
{
    double tok = (double)(st->prompt_tokens + st->sampled_tokens);
    fprintf(stderr,
            "%s: %lld prompts, %lld prompt + %lld generated tokens in %.3f s: %.2f prompts/s, "
            "%.1f generated tok/s, %.1f tok/s\n"
            "%s: up to %d sequences at once (--max-batch %d); KV blocks: peak %d of %d in use; "
            "%lld preemptions (%lld positions recomputed)\n",
            o->prog, (long long)n_prompts, (long long)st->prompt_tokens,
            (long long)st->sampled_tokens, seconds, seconds > 0 ? (double)n_prompts / seconds : 0.0,
            seconds > 0 ? (double)st->sampled_tokens / seconds : 0.0,
            seconds > 0 ? tok / seconds : 0.0, o->prog, st->running_peak, max_batch,
            st->kv_blocks_peak, st->kv_blocks, (long long)st->preemptions,
            (long long)st->recomputed_tokens);
}

static int run_generate(const Opts *o, const LlmcPayload *pl, const LlmcTokenizer *tok)
{
    const LlmcModelDesc *d = &llmc_model;
    char err[1024];
    PromptSource ps = {.o = o, .tok = tok, .want = o->n_new >= 0 ? o->n_new : 256, .notes = 1,
                       .ctx = o->ctx ? (int32_t)o->ctx : d->max_seq_len, .max_positions = 1};
    if (ps.ctx > d->max_seq_len) {
        fprintf(stderr, "%s: -c/--ctx-size %d: the model's context is %d positions\n", o->prog,
                ps.ctx, d->max_seq_len);
        return 1;
    }
    if (o->prompts_file && llmc_rt_lines_open(&ps.lines, o->prompts_file, LLMC_RT_TEXT_LIMIT, err,
                                              sizeof err) != 0)
        return fail(o, err);
    /* A regular file is read twice: first every prompt is checked (a bad one stops the run
     * before anything runs) and the longest sizes the KV pool; then the prompts stream. Another
     * input (a pipe) streams once, with a pool for sequences as long as the context. */
    int64_t n_prompts = 1;
    int rc = 0;
    if (!o->prompts_file || ps.lines.seekable) {
        LlmcGenPrompt gp;
        ps.notes = 0;
        while ((rc = source_next(&ps, &gp, err, sizeof err)) == 1)
            ;
        ps.notes = 1;
        n_prompts = ps.n_read;
        ps.n_read = 0;
        if (rc == 0 && o->prompts_file)
            rc = llmc_rt_lines_rewind(&ps.lines, err, sizeof err);
        if (rc != 0)
            rc = fail(o, err);
    } else {
        n_prompts = -1;
        ps.max_positions = ps.ctx;
    }

    /* --prompts: by default as many sequences as a step holds (the cpu target: at most 32, where a
     * wider batch touches more KV memory than it saves in weight reads: stories260K, 400 prompts,
     * 63.6 s at 400 against 50.2 s at 8); how many run at once is then what the KV pool can start
     * (scheduler.h), and the pool is as large as memory allows, up to every sequence at its longest
     * (docs/executable.md). */
    int32_t max_batch = 1;
    if (o->prompts_file) {
        int32_t limit = batch_limit(d);
        max_batch = o->max_batch ? (int32_t)o->max_batch
                                 : d->backend == LLMC_BACKEND_CPU && limit > CPU_DEFAULT_BATCH ? CPU_DEFAULT_BATCH
                                                                                                : limit;
        if (max_batch > limit) {
            if (o->max_batch)
                fprintf(stderr, "%s: note: --max-batch %d lowered to %d, the most this model "
                                "runs at once\n", o->prog, max_batch, limit);
            max_batch = limit;
        }
        if (n_prompts >= 0 && max_batch > n_prompts)
            max_batch = (int32_t)n_prompts;
    }

    LlmcEngine e = {0};
    int64_t kv = llmc_engine_default_kv_blocks(d, max_batch, ps.max_positions);
    if (kv > INT32_MAX / d->kv_block_size - 1)
        kv = INT32_MAX / d->kv_block_size - 1;
    if (rc == 0)
        rc = make_engine_fit(o, &e, pl, kv, o->prompts_file != NULL);
    if (rc == 0) {
        LlmcGenConfig gc = {
            .max_batch = max_batch,
            .sampler = sampler_of(o, d),
            .seed = o->seed,
            .tok = o->output_ids ? NULL : tok,
            .top_logits = (int32_t)o->top_logits,
            .ignore_eos = o->ignore_eos,
            .progress = o->prompts_file && n_prompts != 1 && (o->progress || isatty(STDERR_FILENO)),
            .n_prompts = n_prompts,
        };
        LlmcSchedStats st;
        double t0 = llmc_rt_now();
        if (llmc_generate(&e, source_next, &ps, &gc, stdout, &st, err, sizeof err) != 0)
            rc = fail(o, err);
        if (rc == 0 && o->prompts_file)
            print_summary(o, &st, ps.n_read, max_batch, llmc_rt_now() - t0);
        if (rc == 0 && o->verbose) {
            fprintf(stderr, "prefill: %.1f tok/s, decode: %.1f tok/s\n",
                    st.prefill_seconds > 0 ? st.prefill_tokens / st.prefill_seconds : 0.0,
                    st.decode_seconds > 0 ? st.decode_tokens / st.decode_seconds : 0.0);
            if (e.dev->print_stats)
                e.dev->print_stats(&e, stderr);
        }
    }
    llmc_engine_destroy(&e);
    free(ps.cur.ids);
    if (o->prompts_file)
        llmc_rt_lines_close(&ps.lines);
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
        .launch_reps = (int32_t)o->bench_launches,
    };
    if ((int64_t)c.n_prompt + c.n_gen > d->max_seq_len) {
        if (o->bench_p || o->n_new >= 0) {
            fprintf(stderr, "%s: --bench-prompt %d + -n %d exceed the model's context of %d\n", o->prog,
                    c.n_prompt, c.n_gen, d->max_seq_len);
            return 1;
        }
        c.n_prompt = d->max_seq_len / 2 > 0 ? d->max_seq_len / 2 : 1;
        c.n_gen = d->max_seq_len - c.n_prompt;
        fprintf(stderr, "%s: note: context of %d: benchmarking --bench-prompt %d -n %d\n", o->prog,
                d->max_seq_len, c.n_prompt, c.n_gen);
    }
    LlmcEngine e;
    int64_t kv = llmc_engine_default_kv_blocks(d, c.batch, c.n_prompt + c.n_gen);
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
        fprintf(stderr, "%s: -c/--ctx-size %d: out of range 4..%d (the model's context)\n", o->prog, ctx,
                d->max_seq_len);
        return 1;
    }
    char *text;
    size_t size;
    if (llmc_rt_read_file(o->ppl_file, LLMC_RT_TEXT_LIMIT, &text, &size, err, sizeof err) != 0)
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
    if (o->ppl_chunks && n_chunks > o->ppl_chunks) { /* the first N chunks: the tokens they hold */
        n_chunks = (int32_t)o->ppl_chunks;
        n_tokens = n_chunks * ctx;
    }
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
    } else if (encode(tok, o->prompt, o->prompt_len, &pr, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s: %s\n", o->prog, o->prompt_file ? o->prompt_file : "prompt", err);
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
    if (make_engine(o, &ge, pl, llmc_engine_default_kv_blocks(d, 1, pr.n)) != 0) {
        free(pr.ids);
        return 1;
    }
    /* The twin's pool holds exactly the prompt (its blocks may differ from the GPU build's). */
    LlmcEngineOpts eo = {.n_threads = o->threads ? (int)o->threads : default_threads(),
                         .kv_blocks = llmc_engine_default_kv_blocks(twin, 1, pr.n)};
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
                              .sampler = sampler_of(o, d),
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

/* ---- --serve ---- */

static int32_t serve_max_batch(const Opts *o, const LlmcModelDesc *d)
{
    int32_t max_batch = o->max_batch ? (int32_t)o->max_batch : DEFAULT_MAX_BATCH;
    if (max_batch > batch_limit(d)) {
        if (o->max_batch)
            fprintf(stderr, "%s: note: --max-batch %d lowered to %d, the most this model runs at once\n",
                    o->prog, max_batch, batch_limit(d));
        max_batch = batch_limit(d);
    }
    return max_batch;
}

/* Listens at once (before the model is loaded: /health answers 503 meanwhile). 0, or 1 with the
 * message printed. */
static int open_server(const Opts *o, LlmcServer **srv)
{
    const LlmcModelDesc *d = &llmc_model;
    LlmcServeConfig c = {
        .host = o->host ? o->host : "127.0.0.1",
        .port = o->port >= 0 ? (int)o->port : 8080,
        .api_key = o->api_key,
        .prog = o->prog,
        .model_name = d->name,
        .max_batch = serve_max_batch(o, d),
        .max_queue = o->max_queue >= 0 ? (int32_t)o->max_queue : LLMC_SERVE_DEFAULT_QUEUE,
        .timeout_s = o->timeout >= 0 ? (int)o->timeout : LLMC_SERVE_DEFAULT_TIMEOUT,
        .max_body = LLMC_SERVE_MAX_BODY,
        .sampler = sampler_of(o, d),
        .seed = o->seed,
        .verbose = o->verbose,
    };
    char err[1024];
    signal(SIGPIPE, SIG_IGN);   /* a client gone mid-write is an error return, not the end */
    if (llmc_serve_open(srv, &c, err, sizeof err) != 0)
        return fail(o, err);
    int v6 = strchr(c.host, ':') != NULL;
    fprintf(stderr, "%s: listening on http://%s%s%s:%d (loading the model)\n", o->prog, v6 ? "[" : "", c.host,
            v6 ? "]" : "", llmc_serve_port(*srv));
    return 0;
}

static int run_serve(const Opts *o, const LlmcPayload *pl, const LlmcTokenizer *tok, LlmcServer *srv)
{
    const LlmcModelDesc *d = &llmc_model;
    int32_t max_batch = serve_max_batch(o, d);
    /* The KV pool: as --prompts', up to every sequence at its longest, no more than memory allows
     * (blocks are taken as sequences grow; scheduler.h). */
    int64_t kv = llmc_engine_default_kv_blocks(d, max_batch, d->max_seq_len);
    if (kv > INT32_MAX / d->kv_block_size - 1)
        kv = INT32_MAX / d->kv_block_size - 1;
    LlmcEngine e;
    if (make_engine_fit(o, &e, pl, kv, 1) != 0)
        return 1;
    char err[1024];
    int rc = 0;
    if (llmc_serve_run(srv, &e, tok, err, sizeof err) != 0)
        rc = fail(o, err);
    llmc_engine_destroy(&e);
    return rc;
}

/* ---- main ---- */

/* A bus error reading the mapped weights: their file shrank under the running model (truncated,
 * or rewritten in place). main installs this handler once the payload is mapped; it writes the
 * message prepared then and ends the process (write and _exit are async-signal-safe). A bus
 * error anywhere else gets the default action (SA_RESETHAND: the faulting access runs again). */
static struct {
    char msg[4600];
    size_t len;
    uintptr_t lo, hi;           /* the payload mapping */
} bus;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    if (a >= bus.lo && a < bus.hi) {
        ssize_t w = write(STDERR_FILENO, bus.msg, bus.len);
        (void)w;
        _exit(1);
    }
}

static void catch_sigbus(const Opts *o, const LlmcPayload *pl)
{
    int n = snprintf(bus.msg, sizeof bus.msg, "%s: %s: the weights file shrank or was rewritten while "
                     "the model was running (a bus error reading it); stopping\n", o->prog, pl->path);
    bus.len = n < 0 ? 0 : (size_t)n < sizeof bus.msg ? (size_t)n : sizeof bus.msg - 1;
    bus.lo = (uintptr_t)pl->map;
    bus.hi = bus.lo + pl->map_len;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* --version: the vocabulary, what ends a sequence and how the model samples by default. */
static void print_generation_info(const LlmcModelDesc *d)
{
    printf("vocabulary: %d tokens\n", d->vocab_size);
    printf("end of sequence:");
    if (d->eos_id >= 0)
        printf(" %d", d->eos_id);
    for (int32_t i = 0; i < d->n_eos_more; i++)
        printf(" %d", d->eos_more[i]);
    if (d->bos_id >= 0)
        printf(" (and bos %d)", d->bos_id);
    if (d->eos_id < 0 && d->bos_id < 0 && d->n_eos_more == 0)
        printf(" none");
    if (d->sampling_set)
        printf("\nsampling defaults: temperature %g, top-k %d, top-p %g%s (--temp, --top-k, --top-p "
               "override them)\n", (double)d->temperature, d->top_k, (double)d->top_p,
               d->temperature == 0 ? " (greedy)" : "");
    else
        printf("\nsampling defaults: greedy (none in the model)\n");
}

static int run_loaded(Opts *o, const char *argv0, LlmcServer *srv);

/* Everything after the command line: the checks, the server's socket, the device, the payload,
 * the tokenizer, then the work. */
static int run(Opts *o, const char *argv0)
{
    const LlmcModelDesc *d = &llmc_model;
    char err[1024];
    if (llmc_desc_check(d, err, sizeof err) != 0)
        return fail(o, err);
    LlmcServer *srv = NULL;
    if (o->serve && open_server(o, &srv) != 0)
        return 1;
    int rc = run_loaded(o, argv0, srv);
    llmc_serve_close(srv);
    return rc;
}

/* run() once the server (if any) listens. */
static int run_loaded(Opts *o, const char *argv0, LlmcServer *srv)
{
    const LlmcModelDesc *d = &llmc_model;
    char err[1024];
    if (o->prompt)
        o->prompt_len = strlen(o->prompt);
    else if (o->prompt_file && read_prompt_file(o) != 0)
        return 1;
    char exe[4096];
    if (llmc_self_exe(exe, sizeof exe, argv0, err, sizeof err) != 0)
        return fail(o, err);
    int vthreads = o->threads ? (int)o->threads : default_threads();
    if (o->tokenize || o->detokenize || o->render_chat)
        return run_tokenize(o, d, exe, vthreads);
    if (!o->no_verify && llmc_verify_images(d, exe, vthreads, err, sizeof err) != 0)
        return fail(o, err);
    /* The device is checked before the payload (a GPU build: driver, GPU, image). */
    const LlmcDeviceOps *dev = llmc_device_for(d->backend);
    if (dev->open(&o->device, d, err, sizeof err) != 0)
        return fail(o, err);

    LlmcPayload pl;
    if (llmc_payload_open(&pl, d, exe, o->weights, err, sizeof err) != 0) {
        dev->close(o->device);
        return fail(o, err);
    }
    catch_sigbus(o, &pl);
    Watch watch = {&pl, 0.0};
    o->watch = &watch;
    if (!o->no_verify) {
        double t0 = llmc_rt_now();
        uint64_t bytes = 0;
        if (llmc_payload_verify(&pl, vthreads, &bytes, err, sizeof err) != 0) {
            llmc_payload_close(&pl);
            dev->close(o->device);
            return fail(o, err);
        }
        double dt = llmc_rt_now() - t0;
        if (o->verbose)
            fprintf(stderr, "%s: verified %.3f GB of program, weights and tokenizer in %.3f s (%.1f GB/s)\n",
                    o->prog, (double)bytes / 1e9, dt, dt > 0 ? (double)bytes / 1e9 / dt : 0.0);
    }
    LlmcTokenizer *tok = NULL;
    if (pl.tokenizer && llmc_tokenizer_load(&tok, (int)pl.tokenizer_kind, pl.tokenizer,
                                            (size_t)pl.tokenizer_size, d->vocab_size, err,
                                            sizeof err) != 0) {
        fprintf(stderr, "%s: %s: tokenizer: %s\n", o->prog, pl.path, err);
        llmc_payload_close(&pl);
        dev->close(o->device);
        return 1;
    }
    int rc;
    if (srv)
        rc = run_serve(o, &pl, tok, srv);
    else if (o->compare_cpu)
        rc = run_compare(o, &pl, tok);
    else if (o->bench)
        rc = run_bench(o, &pl);
    else if (o->ppl_file)
        rc = run_perplexity(o, &pl, tok);
    else if (o->chat)
        rc = run_chat(o, &pl, tok);
    else
        rc = run_generate(o, &pl, tok);
    if (tok)
        llmc_tokenizer_free(tok);
    llmc_payload_close(&pl);
    dev->close(o->device);
    return rc;
}

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
        print_generation_info(d);
        const LlmcDeviceOps *dev = llmc_device_for(d->backend);
        if (dev && dev->version_info) {
            char info[600];
            dev->version_info(d, info, sizeof info);
            printf("%s\n", info);
        }
        return fflush(stdout) == 0 ? 0 : 1;
    }
    int rc = run(&o, argv[0]);
    free(o.prompt_text);
    return rc;
}
