/* main.c — the llmc command line. The whole compiler is compile_model(), top to bottom: the
 * frontend reads the model into IR, the common pass pipeline lowers it, the target's backend sees
 * it and runs its own pass stage, then emits its kernels, device images and host C files, and the
 * linker makes the executable. Only this file exits. */
#include <dirent.h>
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abi/llmc_model.h"
#include "codegen/backend.h"
#include "codegen/linker.h"
#include "frontend/frontend.h"
#include "frontend/model_json.h"
#include "ir/interp.h"
#include "ir/ir.h"
#include "ir/target.h"
#include "passes/passes.h"
#include "runtime/jinja.h"
#include "runtime/tokenizer.h"

/* ---- the command line ----
 *
 * Each command has one table of its options (CliOpt): getopt_long's list and the command's --help
 * both come from it. `--opt value`, `--opt=value`, `-o OUT`, `-oOUT`, unambiguous prefixes of
 * long options and `--` work as in every GNU tool; a usage error is one line naming the option. */

typedef struct CliOpt {
    const char *name;           /* long name without "--"; NULL ends the table */
    char short_name;            /* 0: none */
    const char *arg;            /* the value's name in --help; NULL: a flag */
    const char *help;           /* "\n" starts a continuation line */
} CliOpt;

/* the most options a command takes (each table's size is checked against it where it is defined) */
enum { CLI_MAX = 48 };

typedef struct Cli {
    const char *cmd;            /* "llmc compile", for messages */
    const CliOpt *opts;
    int n;
    struct option longs[CLI_MAX + 1];
    char shorts[2 * CLI_MAX + 2];
} Cli;

static void cli_init(Cli *c, const char *cmd, const CliOpt *opts)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->opts = opts;
    int ns = 0;
    c->shorts[ns++] = ':';      /* a missing value returns ':' */
    for (; opts[c->n].name; c->n++) {
        const CliOpt *o = &opts[c->n];
        assert(c->n < CLI_MAX);
        c->longs[c->n] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, 256 + c->n};
        if (o->short_name) {
            c->shorts[ns++] = o->short_name;
            if (o->arg)
                c->shorts[ns++] = ':';
        }
    }
    opterr = 0;
    optind = 1;
}

static int cli_error(const Cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line: the message and where the options are listed. Returns -2. */
static int cli_error(const Cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", c->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s --help lists the options)\n", c->cmd);
    va_end(ap);
    return -2;
}

/* The next option of argv (argv[0] is the command's name): its index in the table with *val its
 * value; -1 after the last one (argv[optind..] are the operands); -2 after a usage error. */
static int cli_next(Cli *c, int argc, char **argv, const char **val)
{
    int k = getopt_long(argc, argv, c->shorts, c->longs, NULL);
    *val = optarg;
    if (k == -1)
        return -1;
    if (k == ':')
        return optopt >= 256 ? cli_error(c, "--%s needs a value", c->opts[optopt - 256].name)
                             : cli_error(c, "-%c needs a value", optopt);
    if (k == '?') {
        if (optopt >= 256)
            return cli_error(c, "--%s takes no value", c->opts[optopt - 256].name);
        if (optopt > 0)
            return cli_error(c, "unknown option -%c", optopt);
        const char *w = argv[optind - 1] + 2;   /* "--" and the name typed */
        size_t len = strcspn(w, "=");
        char cands[512] = "";
        int n = 0;
        for (int i = 0; i < c->n; i++)
            if (strncmp(c->opts[i].name, w, len) == 0) {
                size_t at = strlen(cands);
                snprintf(cands + at, sizeof cands - at, "%s--%s", n++ ? ", " : "", c->opts[i].name);
            }
        if (n > 1)
            return cli_error(c, "option --%.*s is ambiguous: %s", (int)len, w, cands);
        return cli_error(c, "unknown option --%.*s", (int)len, w);
    }
    if (k >= 256)
        return k - 256;
    for (int i = 0; i < c->n; i++)
        if (c->opts[i].short_name == k)
            return i;
    return cli_error(c, "unknown option -%c", k);
}

static void cli_help(const Cli *c, const char *synopsis, FILE *f)
{
    fprintf(f, "usage: %s\n", synopsis);
    for (int i = 0; i < c->n; i++) {
        const CliOpt *o = &c->opts[i];
        char head[80];
        int n = o->short_name ? snprintf(head, sizeof head, "  -%c, --%s", o->short_name, o->name)
                              : snprintf(head, sizeof head, "      --%s", o->name);
        if (o->arg)
            n += snprintf(head + n, sizeof head - (size_t)n, " %s", o->arg);
        fputs(head, f);
        const char *h = o->help;
        for (int first = 1; *h; first = 0) {
            int len = (int)strcspn(h, "\n");
            if (first && n <= 26)
                fprintf(f, "%*s%.*s\n", 28 - n, "", len, h);
            else
                fprintf(f, "%s%28s%.*s\n", first ? "\n" : "", "", len, h);
            h += len + (h[len] == '\n');
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "llmc %s — ahead-of-time compiler for transformer language models\n\n"
            "usage:\n"
            "  llmc compile SRC [-o OUT] [--target T] [options]   an executable from model.json, a Hugging\n"
            "                                                     Face directory or a llama2.c checkpoint\n"
            "  llmc import SRC -o model.json [--tokenizer FILE]   write the model.json of a checkpoint\n"
            "  llmc synth (--preset NAME | --config FILE) -o DIR  random-weight Hugging Face checkpoint\n"
            "  llmc targets                                       list the targets\n"
            "  llmc --version | --help\n\n"
            "`llmc COMMAND --help` lists the options of a command.\n",
            LLMC_VERSION);
}

static int die(const LlmcDiag *d)
{
    fprintf(stderr, "llmc: %s\n", d->msg);
    return 1;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int32_t *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "llmc: %s: expected an integer in [%d, %d], found \"%s\"\n", flag, lo, hi, v ? v : "");
        return -1;
    }
    *out = (int32_t)x;
    return 0;
}

/* v, one of the n names a flag takes: its index in *out (0), or a message listing them (-1), e.g.
 * `llmc compile: --wgmma: expected auto, cp or tma, found "x"`. */
static int parse_choice(const char *cmd, const char *flag, const char *v, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    fprintf(stderr, "%s: %s: expected ", cmd, flag);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    fprintf(stderr, ", found \"%s\"\n", v);
    return -1;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Loads SRC as a model document: model.json as is, a checkpoint through its importer. */
static LlmcStatus load_model(const char *src, const LlmcImportOptions *io, cJSON **doc, char **base_dir, LlmcDiag *d)
{
    const char *tokenizer = io->tokenizer;
    LlmcStatus st;
    int from_stdin = strcmp(src, "-") == 0;   /* a model.json on stdin, its paths from "." */
    if (from_stdin || (ends_with(src, ".json") && !is_dir(src))) {
        *base_dir = from_stdin ? llmc_strdup(".") : llmc_path_dir(src);
        st = llmc_json_load(from_stdin ? "/dev/stdin" : src, doc, d);
        /* --tokenizer replaces the tokenizer it names */
        if (!st && tokenizer)
            st = llmc_set_tokenizer(*doc, tokenizer, *base_dir, d);
        return st;
    }
    *base_dir = llmc_strdup(".");
    return llmc_import_opts(src, io, ".", doc, d);
}

/* The tokenizer section's bytes (none: NULL), checked against the model's vocabulary (which
 * infer_shapes found): a tokenizer that does not fit fails the compile, not the executable.
 * tokenizer.json is converted to its compact form here (with chat_template, a template file
 * replacing tokenizer_config.json's); the other formats are carried as they are. */
static LlmcStatus read_tokenizer(const LlmcGraph *g, const char *chat_template, char **tok, size_t *size,
                                 LlmcDiag *d)
{
    *tok = NULL;
    *size = 0;
    if (chat_template && (!g->tok_file || g->tok_kind != LLMC_TOK_HF))
        return llmc_fail(d, "--chat-template %s: the model's tokenizer must be a tokenizer.json, and it is %s",
                         chat_template, g->tok_file ? g->tok_file : "missing");
    if (!g->tok_file)
        return LLMC_OK;
    char err[512];
    LlmcTokenizer *tk = NULL;
    if (g->tok_kind == LLMC_TOK_HF) {
        uint8_t *conv = NULL;
        if (llmc_hf_tokenizer_convert(g->tok_file, chat_template, g->vocab_size, &conv, size, d))
            return LLMC_ERR;
        *tok = (char *)conv;
    } else if (llmc_read_file(g->tok_file, tok, size, d)) {
        return LLMC_ERR;
    }
    if (llmc_tokenizer_load(&tk, g->tok_kind, (const uint8_t *)*tok, *size, g->vocab_size, err, sizeof err)) {
        free(*tok);
        *tok = NULL;
        return llmc_fail(d, "%s: %s", g->tok_file, err);
    }
    /* The chat template is parsed now: one the executable could not render fails the compile. */
    size_t tlen = 0;
    const char *tpl = llmc_tokenizer_string(tk, "chat_template", &tlen);
    LlmcJinja *j = NULL;
    LlmcStatus st = LLMC_OK;
    if (tpl && llmc_jinja_parse(tpl, tlen, &j, err, sizeof err)) {
        char *dir = llmc_path_dir(g->tok_file);
        char *cfg = dir ? llmc_path_join(dir, "tokenizer_config.json") : NULL;
        st = llmc_fail(d, "%s: chat_template: %s", chat_template ? chat_template : cfg ? cfg : "tokenizer_config.json",
                       err);
        free(dir);
        free(cfg);
        free(*tok);
        *tok = NULL;
    }
    llmc_jinja_free(j);
    llmc_tokenizer_free(tk);
    return st;
}

/* ---- interrupts ----
 *
 * A command that writes outputs runs in a child process of its own process group; this process
 * waits for it. When SIGINT, SIGTERM or SIGHUP reaches llmc, the signal is passed on to the
 * child's whole group (the child and the compilers it runs), and once the child is gone its
 * temporaries are removed here, outside any signal handler: OUT.tmp.CHILD and OUT.weights.tmp.CHILD
 * for each output OUT (a file or synth's staging directory) and the build directory
 * $TMPDIR/llmc-build-CHILD-* (llmc_tmp_dir). Then llmc ends by the same signal. */

static void remove_leftovers(pid_t child, const char *const *outputs)
{
    char p[4200];
    for (int i = 0; outputs[i]; i++) {
        snprintf(p, sizeof p, "%s.tmp.%ld", outputs[i], (long)child);
        llmc_remove_tree(p);
        snprintf(p, sizeof p, "%s.weights.tmp.%ld", outputs[i], (long)child);
        llmc_remove_tree(p);
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "llmc-build-%ld-", (long)child);
    const char *tmp = llmc_tmp_dir();
    DIR *dp = opendir(tmp);
    if (!dp)
        return;
    for (struct dirent *e; (e = readdir(dp)) != NULL;)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(p, sizeof p, "%s/%s", tmp, e->d_name);
            llmc_remove_tree(p);
        }
    closedir(dp);
}

/* Runs fn(arg) in a child as above and returns its exit status. outputs: NULL-terminated. */
static int run_supervised(int (*fn)(void *), void *arg, const char *const *outputs)
{
    /* A signal ignored when llmc starts (a background job's SIGINT, nohup's SIGHUP) stays ignored. */
    sigset_t stop, old;
    sigemptyset(&stop);
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        struct sigaction sa;
        if (sigaction(stops[i], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
            sigaddset(&stop, stops[i]);
    }
    sigprocmask(SIG_BLOCK, &stop, &old);
    /* Each output as it is now: the child moves its outputs into place by rename (a new inode), so a
     * signal that comes after that finds them replaced and complete (the commit renames every file
     * of an output with the stop signals blocked: all or none). */
    enum { MAX_OUTPUTS = 8 };
    struct stat before[MAX_OUTPUTS];
    int had[MAX_OUTPUTS], n_out = 0;
    for (; outputs[n_out] && n_out < MAX_OUTPUTS; n_out++)
        had[n_out] = stat(outputs[n_out], &before[n_out]) == 0;
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {   /* no supervisor: run here */
        sigprocmask(SIG_SETMASK, &old, NULL);
        return fn(arg);
    }
    if (child == 0) {
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &old, NULL);
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc);
    }
    setpgid(child, child);   /* also here: whichever runs first, the group exists before a kill */
    int sig = 0, status = 0;
    for (;;) {
        pid_t w = waitpid(child, &status, WNOHANG);
        if (w == child)
            break;
        if (w < 0 && errno != EINTR) {
            status = 1 << 8;
            break;
        }
        struct timespec tick = {0, 50 * 1000 * 1000};
        int s = sigtimedwait(&stop, NULL, &tick);
        if (s > 0) {
            sig = s;
            kill(-child, s);
        }
    }
    remove_leftovers(child, outputs);
    /* A stop signal that came after the child ended is still pending: take it here. The stop signals
     * then stay blocked to the end of the process (only the raise below unblocks its own): the
     * result is decided, and one that came while llmc returns and exits would end it by the signal
     * with its outputs in place (an ASan build's leak check at exit takes long enough for that). */
    struct timespec none = {0, 0};
    for (int s; (s = sigtimedwait(&stop, NULL, &none)) > 0;)
        if (!sig)
            sig = s;
    if (!sig && WIFSIGNALED(status))
        sig = WTERMSIG(status);
    int replaced = n_out > 0;
    for (int i = 0; i < n_out; i++) {
        struct stat now;
        replaced &= stat(outputs[i], &now) == 0 &&
                    (!had[i] || now.st_ino != before[i].st_ino || now.st_dev != before[i].st_dev);
    }
    if (sig && replaced && !(WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
        /* too late to stop: the outputs were in place before the signal took effect */
        fprintf(stderr, "llmc: signal %d (%s) came after the output was in place: it is complete\n", sig,
                strsignal(sig));
        return 0;
    }
    if (sig) {
        fprintf(stderr, "llmc: stopped by signal %d (%s); no output was left behind\n", sig, strsignal(sig));
        signal(sig, SIG_DFL);
        raise(sig);   /* pending until unblocked here */
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

typedef struct CompileArgs {
    const char *src, *out, *target, *dump_after, *tokenizer, *chat_template;
    const char *kv_calib;         /* --kv-calib: prompts to calibrate fp8's KV scales on */
    int allow_unused;             /* --allow-unused */
    const char *keep[64];         /* the --keep options (popt.keep points here) */
    const LlmcTarget *targets[LLMC_MAX_TARGETS + 1];
    LlmcPassOptions popt;
    LlmcCodegenOptions copt;
    LlmcLinkOptions lopt;
} CompileArgs;

/* --max-seq past the positions the model's RoPE was trained for (config.max_seq_len, the
 * checkpoint's max_position_embeddings; with llama3 scaling, original_max_position_embeddings *
 * factor when that is more) compiles, with a warning saying so: attention past them is untrained.
 * g: as the frontend made it (max_seq_len from the config). */
static void warn_max_seq(const LlmcGraph *g, int32_t max_seq)
{
    double trained = g->max_seq_len, scaled = 0;
    const char *why = "config.max_seq_len (max_position_embeddings)", *type = "";
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        if (n->op != LLMC_OP_ROPE || !llmc_attr_str(n, "scaling.type", NULL))
            continue;
        scaled = llmc_attr_float(n, "scaling.original_max_position_embeddings", 8192.0) *
                 llmc_attr_float(n, "scaling.factor", 1.0);
        type = llmc_attr_str(n, "scaling.type", "");
    }
    char whybuf[160];
    if (scaled > trained) {
        trained = scaled;
        snprintf(whybuf, sizeof whybuf, "%s rope scaling's original_max_position_embeddings x factor", type);
        why = whybuf;
    }
    if (max_seq > trained)
        fprintf(stderr, "llmc: warning: --max-seq %d is beyond the %.0f positions this model's RoPE "
                        "was trained for (%s); attention past them gives untrained results\n",
                max_seq, trained, why);
}

/* --kv-calib FILE: the scales per layer and KV head of an fp8 KV cache, from the model's own keys
 * and values on a few prompts, at compile time: the graph as the frontend gives it (attention not
 * yet lowered) through the reference interpreter (ir/interp.c, f32 weights, double sums) on each
 * line of FILE (tokenized as the executable would, BOS first; up to the context; blank lines
 * skipped), the largest |k| and |v| of every layer's KV heads taken; a scale is that times
 * KV_CALIB_HEADROOM / 448 (E4M3's largest value), 1 where a head saw only zeros. The headroom: a few
 * prompts do not show every outlier, and a value past 448 s saturates, while E4M3's relative
 * precision is the same over its whole normal range (only values 64 x 448 / 4 = 7168 times below
 * the largest seen fall into its subnormals): debdocs-32M's perplexity at 512 against an f16 cache
 * is +0.17% with it (bench/kv_calib.txt), +0.45% without (outliers of eval.txt saturating), +0.14%
 * with scales of 1 (bench/NOTES.md). Into scales[layers][2][kv heads]. The interpreter
 * holds every weight in f32 (an 8B: 32 GB) and is slow (minutes for an 8B's prompt): a few short
 * prompts are the use. */
#define KV_CALIB_HEADROOM 4.0f
static LlmcStatus kv_calibrate(const char *path, const cJSON *doc, const char *src, const char *base_dir,
                               const LlmcPassOptions *popt, float **scales_out, LlmcDiag *d)
{
    *scales_out = NULL;
    LlmcGraph *g = llmc_graph_new();
    LlmcWeightFiles *wf = llmc_wf_new();
    LlmcInterp *it = NULL;
    LlmcTokenizer *tk = NULL;
    char *text = NULL, *tokbytes = NULL;
    size_t text_n = 0, tok_n = 0;
    float *scales = NULL, *buf = NULL, *logits = NULL;
    int32_t *ids = NULL, *tok = NULL, *pos = NULL, *seq = NULL, *out = NULL;
    LlmcStatus st = LLMC_ERR;
    if (!g || !wf) {
        llmc_fail(d, "out of memory");
        goto done;
    }
    if (llmc_model_from_json(doc, src, base_dir, g, d) || llmc_model_check_weights(g, wf, d) ||
        pass_infer_shapes(g, popt, d))
        goto done;
    if (popt->max_seq_len > 0 && popt->max_seq_len < g->max_seq_len)
        g->max_seq_len = popt->max_seq_len;
    if (!g->tok_file) {
        llmc_fail(d, "--kv-calib %s: the model has no tokenizer to read the prompts with", path);
        goto done;
    }
    char err[512];
    if (read_tokenizer(g, NULL, &tokbytes, &tok_n, d) ||
        (llmc_tokenizer_load(&tk, g->tok_kind, (const uint8_t *)tokbytes, tok_n, g->vocab_size, err, sizeof err) &&
         llmc_fail(d, "%s: %s", g->tok_file, err)) ||
        llmc_read_file(path, &text, &text_n, d))
        goto done;
    /* The attention nodes in order: layer l's K and V. */
    int L = 0, HKV = 0;
    for (int i = 0; i < g->nn; i++)
        if (g->n[i].op == LLMC_OP_ATTENTION) {
            int64_t hd = llmc_attr_int(&g->n[i], "head_dim", 0);
            HKV = hd > 0 ? (int)(llmc_cols(&g->t[g->n[i].in[1]].shape) / hd) : 0;
            L++;
        }
    if (L == 0) {
        llmc_fail(d, "--kv-calib %s: the model has no attention layer", path);
        goto done;
    }
    it = llmc_interp_new(g, 1);
    scales = calloc((size_t)L * 2 * (size_t)HKV, sizeof *scales);
    if (!it || !scales) {
        llmc_fail(d, "out of memory");
        goto done;
    }
    LlmcWeightSource ws = llmc_wf_source(wf);
    for (int t = 0; t < g->nt; t++) { /* every weight in f32 */
        const LlmcTensor *w = &g->t[t];
        if (w->kind != LLMC_T_WEIGHT)
            continue;
        int64_t n = llmc_shape_numel(&w->shape, 0, 0), done = 0;
        free(buf);
        buf = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        if (!buf) {
            llmc_fail(d, "--kv-calib: out of memory for %s (%lld values)", w->name, (long long)n);
            goto done;
        }
        int parts = w->src.n_parts ? w->src.n_parts : 1;
        for (int k = 0; k < parts; k++) {
            const LlmcTensor *part = w->src.n_parts ? &g->t[w->src.parts[k]] : w;
            int64_t m = llmc_shape_numel(&part->shape, 0, 0);
            if (part->src.pq.kind != LLMC_PQ_NONE) {
                llmc_fail(d, "--kv-calib: %s is stored quantized by the checkpoint; calibration reads f32 weights", part->name);
                goto done;
            }
            if (ws.read_f32(ws.ctx, part, 0, m, buf + done, d))
                goto done;
            done += m;
        }
        llmc_interp_set_weight(it, t, buf);
    }
    int T = g->max_tokens, lines = 0;
    tok = malloc(sizeof(int32_t) * (size_t)T);
    pos = malloc(sizeof(int32_t) * (size_t)T);
    seq = calloc((size_t)T, sizeof(int32_t));
    out = calloc(1, sizeof(int32_t));
    logits = malloc(sizeof(float) * (size_t)g->vocab_size);
    if (!tok || !pos || !seq || !out || !logits) {
        llmc_fail(d, "out of memory");
        goto done;
    }
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        size_t len = next ? (size_t)(next - line) : strlen(line);
        if (next)
            next++;
        if (len == 0 || (len == 1 && line[0] == '\r'))
            continue;
        int32_t n = 0;
        free(ids);
        ids = NULL;
        if (llmc_tokenizer_encode(tk, line, len, LLMC_TOK_ADD_BOS, &ids, &n, err, sizeof err)) {
            llmc_fail(d, "--kv-calib %s: line %d: %s", path, lines + 1, err);
            goto done;
        }
        n = n < g->max_seq_len ? n : g->max_seq_len;
        for (int32_t p0 = 0; p0 < n; p0 += T) { /* steps of up to max_tokens positions */
            int32_t m = n - p0 < T ? n - p0 : T;
            for (int32_t i = 0; i < m; i++) {
                tok[i] = ids[p0 + i];
                pos[i] = p0 + i;
            }
            out[0] = m - 1;
            LlmcStep step = {.n_tokens = m, .tokens = tok, .positions = pos, .seq_of_token = seq, .n_out = 1,
                             .out_rows = out, .logits = logits};
            if (llmc_interp_step(it, &step, NULL, d))
                goto done;
            int l = 0;
            for (int i = 0; i < g->nn; i++) {
                if (g->n[i].op != LLMC_OP_ATTENTION)
                    continue;
                for (int w = 0; w < 2; w++) {
                    int64_t rows, cols;
                    const float *x = llmc_interp_value(it, g->n[i].in[1 + w], &rows, &cols);
                    for (int64_t r = 0; x && r < m && r < rows; r++)
                        for (int64_t c = 0; c < cols && c / (cols / HKV) < HKV; c++) {
                            float *s = &scales[((size_t)l * 2 + (size_t)w) * (size_t)HKV + (size_t)(c / (cols / HKV))];
                            float a = fabsf(x[r * cols + c]);
                            *s = a > *s ? a : *s; /* the largest |x| for now */
                        }
                }
                l++;
            }
        }
        lines++;
    }
    if (lines == 0) {
        llmc_fail(d, "--kv-calib %s: no prompt in the file (one a line)", path);
        goto done;
    }
    for (size_t i = 0; i < (size_t)L * 2 * (size_t)HKV; i++)
        scales[i] = scales[i] > 0 && isfinite(scales[i]) ? scales[i] * (KV_CALIB_HEADROOM / 448.0f) : 1.0f;
    if (scales[0] < 1.17549435e-38f)
        scales[0] = 1.17549435e-38f;
    *scales_out = scales;
    scales = NULL;
    st = LLMC_OK;
done:
    free(scales);
    free(buf);
    free(logits);
    free(ids);
    free(tok);
    free(pos);
    free(seq);
    free(out);
    free(text);
    free(tokbytes);
    llmc_tokenizer_free(tk);
    llmc_interp_free(it);
    llmc_wf_free(wf);
    llmc_graph_free(g);
    return st;
}

/* The compiler: frontend -> passes -> target stage -> codegen -> link. */
static int compile_model(const CompileArgs *a)
{
    LlmcDiag d;
    cJSON *doc = NULL;
    char *base_dir = NULL, *tok = NULL;
    size_t tok_size = 0;
    LlmcGraph *g = NULL;
    LlmcWeightFiles *wf = NULL;
    float *kv_scales = NULL;
    LlmcCodegen cg;
    memset(&cg, 0, sizeof cg);
    int rc = 1;
    /* Frontend: the model as IR, its weight bindings checked against their files. */
    LlmcImportOptions io = {.tokenizer = a->tokenizer, .allow_unused = a->allow_unused};
    if (load_model(a->src, &io, &doc, &base_dir, &d))
        goto out;
    g = llmc_graph_new();
    wf = llmc_wf_new();
    if (!g || !wf) {
        llmc_fail(&d, "out of memory");
        goto out;
    }
    if (llmc_model_from_json(doc, strcmp(a->src, "-") == 0 ? "stdin" : a->src, base_dir, g, &d) ||
        llmc_model_check_weights(g, wf, &d))
        goto out;
    warn_max_seq(g, a->popt.max_seq_len);
    LlmcWeightSource ws = llmc_wf_source(wf);
    /* --kv-calib: fp8's KV scales from the prompts, before the passes that take them. */
    LlmcPassOptions popt = a->popt;
    if (a->kv_calib) {
        if (popt.tp > 1) {
            llmc_fail(&d, "--kv-calib with --tp %d: the scales of a sharded KV cache are not calibrated yet", popt.tp);
            goto out;
        }
        if (!popt.kv_set || (!llmc_kv_has_layer_scale(popt.kv[0]) && !llmc_kv_has_layer_scale(popt.kv[1]))) {
            llmc_fail(&d, "--kv-calib %s: only an fp8 KV cache has scales to calibrate (give --kv fp8, or fp8 for "
                      "keys or values)", a->kv_calib);
            goto out;
        }
        if (kv_calibrate(a->kv_calib, doc, strcmp(a->src, "-") == 0 ? "stdin" : a->src, base_dir, &a->popt,
                         &kv_scales, &d))
            goto out;
        popt.kv_scales = kv_scales;
    }
    /* Passes: the common pipeline. */
    if (llmc_pipeline(g, &popt, a->dump_after, stdout, 0, &d))
        goto out;
    const LlmcBackend *be = llmc_backend_for(a->popt.target);
    if (a->dump_after) { /* the target's stage may hold the pass to dump; then stop */
        if (be && llmc_pipeline_stage(be->target_passes, g, &popt, a->dump_after, stdout, 0, &d))
            goto out;
        rc = 0;
        goto done;
    }
    /* The build: its backend and identity, from the graph the common pipeline made. */
    if (read_tokenizer(g, a->chat_template, &tok, &tok_size, &d) ||
        llmc_codegen_open(&cg, a->targets, g, &ws, tok, tok_size, &a->copt, &d))
        goto out;
    /* Target stage: the backend sees the graph before its passes (CUDA: the CPU twin), then they run. */
    if ((be->before_target_stage && be->before_target_stage(&cg, g, &d)) ||
        llmc_pipeline_stage(be->target_passes, g, &popt, NULL, NULL, 0, &d))
        goto out;
    /* Codegen: the kernels, the device images, the host C files, into the build directory. */
    if (be->emit(&cg, g, &d) || (be->build_images && be->build_images(&cg, &d)) || be->write_host(&cg, g, &d))
        goto out;
    /* Link: those C files and the runtime, the payload appended. */
    if (llmc_link(&cg, g, &ws, tok, tok_size, &a->lopt, &d))
        goto out;
    if (!a->lopt.quiet)
        fprintf(stderr, "llmc: wrote %s (%s, %.1f MB of weights%s)\n", a->lopt.out_path, a->popt.target->name,
                (double)g->weights_bytes / 1e6, a->lopt.weights_file ? " in a side file" : "");
    rc = 0;
    goto done;
out:
    die(&d);
done:
    llmc_codegen_close(&cg);
    free(kv_scales);
    free(tok);
    cJSON_Delete(doc);
    free(base_dir);
    llmc_wf_free(wf);
    llmc_graph_free(g);
    return rc;
}

static int compile_model_v(void *a) { return compile_model(a); }

static const CliOpt compile_opts[] = {
    {"output", 'o', "OUT", "the executable to write (default: model)"},
    {"target", 0, "T[,T...]", "target (default cpu; see `llmc targets`); several GPU\n"
                              "architectures (NVIDIA and AMD alike) give one executable with\n"
                              "an image for each"},
    {"weights", 0, "F", "weight storage format: f32, f16, bf16, fp8 (E4M3, a scale a\n"
                        "row), w4a16 (4-bit, an f16 scale a group), nvfp4 (FP4 E2M1,\n"
                        "an E4M3 scale a 16 and an f32 one a tensor); default: the\n"
                        "checkpoint's f16/bf16, else the target's"},
    {"group", 0, "N", "quantized formats: values along K sharing a scale (w4a16: 128;\n"
                      "nvfp4: 16 only)"},
    {"asym", 0, NULL, "w4a16 with a zero point per group (default: symmetric)"},
    {"keep", 0, "P=F,...", "store the matrices matching P (a glob over llmc's or the\n"
                           "checkpoint's tensor names, lm_head, embedding) as F instead,\n"
                           "e.g. --keep lm_head=bf16 --keep 'model.layers.0.*=bf16';\n"
                           "repeatable, the first match wins"},
    {"max-tokens", 0, "N", "tokens per forward step (default 512)"},
    {"max-outputs", 0, "N", "logit rows per step (default: max-tokens)"},
    {"kv", 0, "F", "KV-cache storage format, or K,V for the keys' and the values'\n"
                   "(f32, f16, fp8, int8, int4, kivi2, kivi4; default: the target's;\n"
                   "cpu: f32, CUDA: f16)"},
    {"kv-block", 0, "N", "positions per KV-cache block (default 16; kivi2/kivi4: 32)"},
    {"kv-calib", 0, "FILE", "fp8 KV cache: its scales per layer and head from the K/V of\n"
                            "these prompts (one a line), run at compile time (default: 1)"},
    {"tp", 0, "N", "tensor parallelism: shard the model over N ranks (N must divide the\n"
                   "query and KV heads and the FFN size; the cpu target runs the\n"
                   "ranks as threads, the NVIDIA targets a GPU a rank over NCCL,\n"
                   "the AMD targets not yet; docs/tp.md)"},
    {"max-seq", 0, "N", "context length (default: the model's; past the positions its RoPE\n"
                        "was trained for: a warning)"},
    {"weights-file", 0, NULL, "keep the weights in OUT.weights instead of inside OUT"},
    {"emit-dir", 0, "DIR", "write the generated sources to DIR"},
    {"dump-after", 0, "PASS", "print the IR after PASS (\"input\" for before the first)"},
    {"no-fuse", 0, NULL, "skip the fusion passes"},
    {"tokenizer", 0, "FILE", "the tokenizer file (tokenizer.model, tokenizer.json, tokenizer.bin)\n"
                             "instead of the one beside the checkpoint"},
    {"chat-template", 0, "FILE", "Jinja chat template replacing tokenizer_config.json's"},
    {"allow-unused", 0, NULL, "checkpoint tensors the model's graph does not read: a warning,\n"
                              "not an error"},
    {"cc", 0, "CC", "host C compiler (default cc)"},
    {"cuda-path", 0, "DIR", "CUDA toolkit holding NVRTC (default /usr/local/cuda)"},
    {"clang", 0, "CLANG", "clang (19 or newer, with lld) for AMD targets (default clang-19)"},
    {"resource-usage", 0, NULL, "print each GPU kernel's registers, shared memory (LDS) and\n"
                                "spills (scratch)"},
    {"qmma", 0, "V", "CUDA targets' matmul of quantized rows above 8: auto (default:\n"
                     "plain, and 4-bit matrices above 32 rows by gemm_wq on sm_90a),\n"
                     "plain (gemm_q, the weights streamed into registers, up to 64\n"
                     "rows) or wg (gemm_wq above 8 rows on sm_90a: wgmma, the\n"
                     "weights decoded in registers; on an H100 faster at 64 rows\n"
                     "and in prefill, slower at 16)"},
    {"wgmma", 0, "V", "CUDA targets' matmul of wide steps (prefill) on sm_90a: auto\n"
                      "(default: tma, cp in a --batch-invariant build), tma (gemm_wt:\n"
                      "TMA tensor maps encoded at load, a producer and two consumer\n"
                      "warpgroups, persistent; bf16/f16 weights) or cp (gemm_wg,\n"
                      "cp.async stages into one warpgroup; the default before)"},
    {"attn-parts", 0, "N", "CUDA targets: the parts a decode query's positions split into\n"
                           "(flash-decoding; default 16), 1 to 64: a tuning knob for the\n"
                           "one-token step's attention"},
    {"decode-wgmma", 0, "V", "CUDA targets' matmul of bf16/f16 rows 9 to 64 (batched decode)\n"
                             "on sm_90a: off (default: gemm_q, the weights streamed into\n"
                             "registers) or on (gemm_ws: the weights through TMA into a ring\n"
                             "of shared memory, the A operand of wgmma; not yet run on a GPU)"},
    {"qmma-units", 0, "N", "CUDA targets: gemm_q's fewest units of work a block (a unit: a\n"
                           "chunk of K of 64 weight rows; default 4 for the 4-bit formats,\n"
                           "8 for the others), and gemm_ws's (--decode-wgmma on; default 1).\n"
                           "Smaller gives small matrices more blocks;\n"
                           "a tuning knob (on an H100, 1 was slower: bench/NOTES.md)"},
    {"batch-invariant", 0, NULL, "GPU targets: every row of a step computed as it would be alone\n"
                                 "(one kernel path a matrix and an attention for every row\n"
                                 "count, so that --prompts and preemptions print the single\n"
                                 "runs' bytes; not yet run on a GPU; batched decode and\n"
                                 "prefill slower; docs/cuda.md)"},
    {"quiet", 'q', NULL, "no progress messages"},
    {"help", 'h', NULL, "this list"},
    {NULL, 0, NULL, NULL},
};
_Static_assert(sizeof compile_opts / sizeof compile_opts[0] <= CLI_MAX + 1, "CLI_MAX: more options than Cli holds");

enum {
    C_OUTPUT, C_TARGET, C_WEIGHTS, C_GROUP, C_ASYM, C_KEEP, C_MAX_TOKENS, C_MAX_OUTPUTS, C_KV,
    C_KV_BLOCK, C_KV_CALIB, C_TP, C_MAX_SEQ, C_WEIGHTS_FILE, C_EMIT_DIR, C_DUMP_AFTER, C_NO_FUSE, C_TOKENIZER, C_CHAT_TEMPLATE,
    C_ALLOW_UNUSED, C_CC,
    C_CUDA_PATH, C_CLANG, C_RESOURCE_USAGE, C_QMMA, C_WGMMA, C_ATTN_PARTS, C_DECODE_WGMMA, C_QMMA_UNITS,
    C_BATCH_INVARIANT, C_QUIET, C_HELP
};

/* The formats some target stores weights in (the names --weights takes; each target checks its own). */
static unsigned weight_formats(void)
{
    unsigned m = 0;
    for (const LlmcTarget *const *t = llmc_targets(); *t; t++)
        m |= (*t)->weight_formats;
    return m;
}

/* Parses and checks the compile command line into a. Returns -1 when the compile should run,
 * else the exit status (0: --help). */
static int cmd_compile_args(CompileArgs *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->target = "cpu";
    a->popt.max_tokens = 512;
    a->popt.kv_block_size = 0; /* after the options: 16, or 32 for KIVI's groups */
    a->lopt.cc = "cc";
    int32_t max_out = 0;
    Cli cli;
    cli_init(&cli, "llmc compile", compile_opts);
    const char *v;
    for (int k; (k = cli_next(&cli, argc, argv, &v)) != -1;) {
        switch (k) {
        case -2:
            return 2;
        case C_OUTPUT:
            a->out = v;
            break;
        case C_TARGET:
            a->target = v;
            break;
        case C_WEIGHTS:
            if (llmc_format_from_user_name(v, &a->popt.weights) || !(weight_formats() & (1u << a->popt.weights))) {
                char have[256] = "";
                for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
                    if (weight_formats() & (1u << i)) {
                        const LlmcFormatTraits *f = llmc_format((LlmcDType)i);
                        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "",
                                 f->alias ? f->alias : f->name);
                    }
                fprintf(stderr, "llmc compile: --weights: expected one of %s, found \"%s\"\n", have, v);
                return 2;
            }
            a->popt.weights_set = 1;
            break;
        case C_GROUP:
            if (parse_int("--group", v, 2, 1 << 20, &a->popt.group))
                return 2;
            break;
        case C_ASYM:
            a->popt.asym = 1;
            break;
        case C_KEEP:
            if (a->popt.n_keep == (int)(sizeof a->keep / sizeof a->keep[0])) { /* rules accumulate, in order */
                fprintf(stderr, "llmc compile: --keep: at most %d options (each may hold several rules: P=F,P=F)\n",
                        a->popt.n_keep);
                return 2;
            }
            a->keep[a->popt.n_keep++] = v;
            a->popt.keep = a->keep;
            break;
        case C_MAX_TOKENS:
            if (parse_int("--max-tokens", v, 1, 1 << 16, &a->popt.max_tokens))
                return 2;
            break;
        case C_MAX_OUTPUTS:
            if (parse_int("--max-outputs", v, 1, 1 << 16, &max_out))
                return 2;
            break;
        case C_KV: { /* F, or K,V: the keys' format and the values' */
            char kname[32], vname[32];
            const char *comma = strchr(v, ',');
            size_t kn = comma ? (size_t)(comma - v) : strlen(v);
            snprintf(kname, sizeof kname, "%.*s", (int)(kn < sizeof kname ? kn : sizeof kname - 1), v);
            snprintf(vname, sizeof vname, "%s", comma ? comma + 1 : kname);
            const char *bad = llmc_kv_format_from_name(kname, &a->popt.kv[0]) ? kname
                              : llmc_kv_format_from_name(vname, &a->popt.kv[1]) ? vname : NULL;
            if (bad || kn >= sizeof kname || (comma && strchr(comma + 1, ','))) {
                fprintf(stderr, "llmc compile: --kv: unknown format \"%s\" (give F, or K,V: the keys' format and the "
                        "values')\n", bad ? bad : v);
                return 2;
            }
            a->popt.kv_set = 1;
            break;
        }
        case C_KV_CALIB:
            a->kv_calib = v;
            break;
        case C_KV_BLOCK:
            if (parse_int("--kv-block", v, 1, 4096, &a->popt.kv_block_size))
                return 2;
            break;
        case C_TP:
            if (parse_int("--tp", v, 1, 1024, &a->popt.tp))
                return 2;
            break;
        case C_MAX_SEQ:
            if (parse_int("--max-seq", v, 1, 1 << 24, &a->popt.max_seq_len))
                return 2;
            break;
        case C_WEIGHTS_FILE:
            a->lopt.weights_file = 1;
            break;
        case C_EMIT_DIR:
            a->copt.emit_dir = v;
            break;
        case C_DUMP_AFTER:
            a->dump_after = v;
            break;
        case C_NO_FUSE:
            a->popt.no_fuse = 1;
            break;
        case C_TOKENIZER:
            a->tokenizer = v;
            break;
        case C_CHAT_TEMPLATE:
            a->chat_template = v;
            break;
        case C_ALLOW_UNUSED:
            a->allow_unused = 1;
            break;
        case C_CC:
            a->lopt.cc = v;
            break;
        case C_CUDA_PATH:
            a->copt.cuda_path = v;
            break;
        case C_CLANG:
            a->copt.clang = v;
            break;
        case C_RESOURCE_USAGE:
            a->copt.resource_report = 1;
            break;
        case C_QMMA: { /* in LlmcQmma's order */
            static const char *const names[] = {"auto", "plain", "wg"};
            int i;
            if (parse_choice("llmc compile", "--qmma", v, names, 3, &i))
                return 2;
            a->copt.qmma = (LlmcQmma)i;
            break;
        }
        case C_WGMMA: { /* in LlmcWgmma's order */
            static const char *const names[] = {"auto", "cp", "tma"};
            int i;
            if (parse_choice("llmc compile", "--wgmma", v, names, 3, &i))
                return 2;
            a->copt.wgmma = (LlmcWgmma)i;
            break;
        }
        case C_ATTN_PARTS: {
            int32_t u = 0;
            if (parse_int("--attn-parts", v, 1, 64, &u))
                return 2;
            a->copt.attn_parts = u;
            break;
        }
        case C_DECODE_WGMMA: {
            static const char *const names[] = {"off", "on"};
            int i;
            if (parse_choice("llmc compile", "--decode-wgmma", v, names, 2, &i))
                return 2;
            a->copt.decode_wgmma = i;
            break;
        }
        case C_QMMA_UNITS: {
            int32_t u = 0;
            if (parse_int("--qmma-units", v, 1, 64, &u))
                return 2;
            a->copt.qmma_units = u;
            break;
        }
        case C_BATCH_INVARIANT:
            a->copt.batch_invariant = 1;
            break;
        case C_QUIET:
            a->copt.quiet = a->lopt.quiet = 1;
            break;
        case C_HELP:
            cli_help(&cli, "llmc compile SRC [-o OUT] [--target T] [options]\n"
                           "  SRC: model.json (- reads it from stdin), a Hugging Face directory, or a llama2.c\n"
                           "  checkpoint", stdout);
            return 0;
        }
    }
    if (optind < argc)
        a->src = argv[optind];
    if (optind + 1 < argc) {
        cli_error(&cli, "more than one model given (\"%s\" and \"%s\")", argv[optind], argv[optind + 1]);
        return 2;
    }
    if (!a->src) {
        cli_error(&cli, "no model given");
        return 2;
    }
    a->popt.max_outputs = max_out ? max_out : a->popt.max_tokens;
    if (!a->popt.kv_block_size)
        a->popt.kv_block_size = a->popt.kv_set && (a->popt.kv[0] == LLMC_KIVI2 || a->popt.kv[0] == LLMC_KIVI4 ||
                                                   a->popt.kv[1] == LLMC_KIVI2 || a->popt.kv[1] == LLMC_KIVI4)
                                    ? 32
                                    : 16;
    /* --target a,b,c: every name known; cpu alone, or GPU architectures only. */
    char names[256];
    snprintf(names, sizeof names, "%s", a->target);
    int nt = 0;
    for (char *tok = strtok(names, ","); tok; tok = strtok(NULL, ",")) {
        const LlmcTarget *t = llmc_target_find(tok);
        if (!t) {
            fprintf(stderr, "llmc compile: --target %s: unknown target \"%s\" (known:", a->target, tok);
            for (const LlmcTarget *const *k = llmc_targets(); *k; k++)
                fprintf(stderr, " %s", (*k)->name);
            fprintf(stderr, ")\n");
            return 2;
        }
        if (nt == LLMC_MAX_TARGETS) {
            fprintf(stderr, "llmc compile: --target %s: at most %d targets\n", a->target, LLMC_MAX_TARGETS);
            return 2;
        }
        for (int k = 0; k < nt; k++)
            if (a->targets[k] == t) {
                fprintf(stderr, "llmc compile: --target %s: %s given twice\n", a->target, tok);
                return 2;
            }
        a->targets[nt++] = t;
    }
    if (nt == 0) {
        fprintf(stderr, "llmc compile: --target: no target given\n");
        return 2;
    }
    /* Targets combine where their backend builds several at once (CUDA: an image each). */
    for (int k = 0; k < nt; k++) {
        const LlmcBackend *be = llmc_backend_for(a->targets[k]);
        if (nt > 1 && be && be->max_targets == 1) {
            fprintf(stderr, "llmc compile: --target %s: %s builds alone; only GPU architectures combine\n", a->target,
                    a->targets[k]->name);
            return 2;
        }
    }
    /* --batch-invariant runs every matmul of a GPU build on gemv: --qmma picks among kernels it never runs */
    if (a->copt.batch_invariant && a->copt.qmma == LLMC_QMMA_WG) {
        fprintf(stderr, "llmc compile: --batch-invariant and --qmma wg: a batch-invariant build runs every matmul on "
                        "the one-row kernels' arithmetic (gemv) at every row count, so --qmma, which picks the "
                        "tensor-core kernel of 9-64 rows, has nothing to choose; give one of them\n");
        return 2;
    }
    /* ... and gemm_wt (--wgmma tma) is a tensor-core kernel it never runs either */
    if (a->copt.batch_invariant && a->copt.wgmma == LLMC_WGMMA_TMA) {
        fprintf(stderr,
                "llmc compile: --batch-invariant and --wgmma tma: a batch-invariant build runs every matmul on the "
                "one-row kernels' arithmetic (gemv) at every row count, so --wgmma, which picks the tensor-core "
                "kernel of wide steps, has nothing to choose; give one of them\n");
        return 2;
    }
    /* ... nor gemm_ws (--decode-wgmma on) */
    if (a->copt.batch_invariant && a->copt.decode_wgmma) {
        fprintf(stderr,
                "llmc compile: --batch-invariant and --decode-wgmma on: a batch-invariant build runs every matmul on "
                "the one-row kernels' arithmetic (gemv) at every row count, so --decode-wgmma, which picks the "
                "tensor-core kernel of batched decode, has nothing to choose; give one of them\n");
        return 2;
    }
    a->popt.target = a->targets[0];
    a->lopt.out_path = a->out ? a->out : "model";
    if (is_dir(a->lopt.out_path)) {
        fprintf(stderr, "llmc compile: -o %s: is a directory; -o names the executable to write\n", a->lopt.out_path);
        return 2;
    }
    if (a->lopt.weights_file) {
        char side[4200];
        snprintf(side, sizeof side, "%s.weights", a->lopt.out_path);
        if (is_dir(side)) {
            fprintf(stderr, "llmc compile: %s (the side file of -o %s) is a directory\n", side, a->lopt.out_path);
            return 2;
        }
    }
    return -1;
}

static int cmd_compile(int argc, char **argv)
{
    CompileArgs a;
    int rc = cmd_compile_args(&a, argc, argv);
    if (rc < 0) {
        const char *outputs[] = {a.lopt.out_path, NULL};
        rc = run_supervised(compile_model_v, &a, outputs);
    }
    return rc;
}

static const CliOpt import_opts[] = {
    {"output", 'o', "FILE", "the model.json to write (its weight bindings point at SRC's files)"},
    {"tokenizer", 0, "FILE", "the tokenizer file instead of the one beside the checkpoint"},
    {"allow-unused", 0, NULL, "checkpoint tensors the model's graph does not read: a warning"},
    {"help", 'h', NULL, "this list"},
    {NULL, 0, NULL, NULL},
};
_Static_assert(sizeof import_opts / sizeof import_opts[0] <= CLI_MAX + 1, "CLI_MAX: more options than Cli holds");

static int cmd_import(int argc, char **argv)
{
    const char *src = NULL, *out = NULL, *tok = NULL, *v;
    int allow_unused = 0;
    Cli cli;
    cli_init(&cli, "llmc import", import_opts);
    for (int k; (k = cli_next(&cli, argc, argv, &v)) != -1;) {
        if (k == -2)
            return 2;
        if (k == 0)
            out = v;
        else if (k == 1)
            tok = v;
        else if (k == 2)
            allow_unused = 1;
        else {
            cli_help(&cli, "llmc import SRC -o model.json [--tokenizer FILE] [--allow-unused]\n"
                           "  SRC: a Hugging Face directory, a llama2.c checkpoint or a model.json", stdout);
            return 0;
        }
    }
    if (optind < argc)
        src = argv[optind];
    if (optind + 1 < argc) {
        cli_error(&cli, "more than one model given (\"%s\" and \"%s\")", argv[optind], argv[optind + 1]);
        return 2;
    }
    if (!src || !out) {
        cli_error(&cli, "%s", !src ? "no model given" : "no output given: -o model.json");
        return 2;
    }
    LlmcDiag d;
    cJSON *doc = NULL;
    char *base = llmc_path_dir(out);
    if (!is_dir(base) && mkdir(base, 0755) != 0) {
        fprintf(stderr, "llmc import: cannot create %s: %s\n", base, strerror(errno));
        free(base);
        return 1;
    }
    LlmcImportOptions io = {.tokenizer = tok, .allow_unused = allow_unused};
    LlmcStatus st = llmc_import_opts(src, &io, base, &doc, &d);
    if (!st)
        st = llmc_json_save(out, doc, &d);
    cJSON_Delete(doc);
    free(base);
    if (st)
        return die(&d);
    return 0;
}

static int synth_v(void *arg)
{
    LlmcDiag d;
    return llmc_synth(arg, &d) ? die(&d) : 0;
}

static const CliOpt synth_opts[] = {
    {"preset", 0, "NAME", "a preset's config.json (see below)"},
    {"config", 0, "FILE", "a Hugging Face config.json of your own"},
    {"output", 'o', "DIR", "the checkpoint directory to write"},
    {"seed", 0, "N", "random seed (default 0)"},
    {"dtype", 0, "F", "f32, f16 or bf16 (default bf16)"},
    {"quiet", 'q', NULL, "no progress messages"},
    {"help", 'h', NULL, "this list"},
    {NULL, 0, NULL, NULL},
};
_Static_assert(sizeof synth_opts / sizeof synth_opts[0] <= CLI_MAX + 1, "CLI_MAX: more options than Cli holds");

static int cmd_synth(int argc, char **argv)
{
    LlmcSynthOptions o;
    memset(&o, 0, sizeof o);
    o.dtype = LLMC_BF16;
    Cli cli;
    cli_init(&cli, "llmc synth", synth_opts);
    const char *v;
    for (int k; (k = cli_next(&cli, argc, argv, &v)) != -1;) {
        char *end;
        switch (k) {
        case -2:
            return 2;
        case 0:
            o.preset = v;
            break;
        case 1:
            o.config_path = v;
            break;
        case 2:
            o.out_dir = v;
            break;
        case 3:
            errno = 0;
            o.seed = strtoull(v, &end, 10);
            if (errno || *end || !*v || *v == '-') {
                fprintf(stderr, "llmc synth: --seed: expected an unsigned integer, found \"%s\"\n", v);
                return 2;
            }
            break;
        case 4:
            if (llmc_dtype_from_name(v, &o.dtype) ||
                (o.dtype != LLMC_F32 && o.dtype != LLMC_F16 && o.dtype != LLMC_BF16)) {
                fprintf(stderr, "llmc synth: --dtype: expected f32, f16 or bf16, found \"%s\"\n", v);
                return 2;
            }
            o.dtype_set = 1;
            break;
        case 5:
            o.quiet = 1;
            break;
        default:
            cli_help(&cli, "llmc synth (--preset NAME | --config FILE) -o DIR [options]", stdout);
            printf("presets:");
            for (const char *const *p = llmc_synth_presets(); *p; p++)
                printf(" %s", *p);
            printf("\n");
            return 0;
        }
    }
    if (optind < argc) {
        cli_error(&cli, "unexpected argument \"%s\"", argv[optind]);
        return 2;
    }
    if (!o.preset == !o.config_path || !o.out_dir) {
        cli_error(&cli, "%s", !o.out_dir ? "no output given: -o DIR"
                              : o.preset ? "give --preset or --config, not both"
                                         : "give --preset NAME or --config FILE");
        return 2;
    }
    const char *outputs[] = {o.out_dir, NULL};
    return run_supervised(synth_v, &o, outputs);
}

static const CliOpt targets_opts[] = {
    {"help", 'h', NULL, "this list"},
    {NULL, 0, NULL, NULL},
};
_Static_assert(sizeof targets_opts / sizeof targets_opts[0] <= CLI_MAX + 1, "CLI_MAX: more options than Cli holds");

static int cmd_targets(int argc, char **argv)
{
    Cli cli;
    cli_init(&cli, "llmc targets", targets_opts);
    const char *v;
    for (int k; (k = cli_next(&cli, argc, argv, &v)) != -1;) {
        if (k == -2)
            return 2;
        cli_help(&cli, "llmc targets   (the names --target takes, one a line)", stdout);
        return 0;
    }
    if (optind < argc) {
        cli_error(&cli, "unexpected argument \"%s\"", argv[optind]);
        return 2;
    }
    for (const LlmcTarget *const *t = llmc_targets(); *t; t++)
        printf("%-13s %s\n", (*t)->name, (*t)->description);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "llmc: no command given (llmc --help lists the commands)\n");
        return 2;
    }
    const char *cmd = argv[1];
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {{"compile", cmd_compile}, {"import", cmd_import}, {"synth", cmd_synth}, {"targets", cmd_targets}};
    /* `llmc help CMD` is `llmc CMD --help`. */
    int help_of = strcmp(cmd, "help") == 0 && argc > 2;
    if (help_of)
        cmd = argv[2];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        char help[] = "--help", *help_argv[] = {argv[1 + help_of], help, NULL};
        return help_of ? commands[i].run(2, help_argv) : commands[i].run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("llmc %s\n", LLMC_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "llmc: unknown command \"%s\" (llmc --help lists the commands)\n", cmd);
    return 2;
}
