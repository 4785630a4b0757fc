/* main.c — the llmc command line. The whole compiler is compile_model(), top to bottom: the
 * frontend reads the model into IR, the common pass pipeline lowers it, the target's backend sees
 * it and runs its own pass stage, then emits its kernels, device images and host C files, and the
 * linker makes the executable. Only this file exits. */
#include <dirent.h>
#include <errno.h>
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
#include "ir/ir.h"
#include "ir/target.h"
#include "passes/passes.h"
#include "runtime/jinja.h"
#include "runtime/tokenizer.h"

static void usage(FILE *f)
{
    fprintf(f,
            "llmc %s — ahead-of-time compiler for transformer language models\n\n"
            "usage:\n"
            "  llmc compile SRC [-o OUT] [--target T] [options]   SRC: model.json, a Hugging Face directory,\n"
            "                                                     or a llama2.c checkpoint\n"
            "      --target T[,T...]   target (default cpu; see `llmc targets`); several CUDA\n"
            "                          architectures give one executable with an image for each\n"
            "      --weights F         weight storage format: f32, f16, bf16, fp8 (E4M3, a scale a row),\n"
            "                          w4a16 (4-bit, an f16 scale a group; default: the target's)\n"
            "      --group N           quantized formats: values along K sharing a scale (w4a16: 128)\n"
            "      --asym              w4a16 with a zero point per group (default: symmetric)\n"
            "      --keep P=F,...      store the matrices matching P (a name glob, lm_head, embedding)\n"
            "                          as F instead, e.g. --keep lm_head=bf16,embedding=bf16\n"
            "      --max-tokens N      tokens per forward step (default 512)\n"
            "      --max-outputs N     logit rows per step (default: max-tokens)\n"
            "      --kv F              KV-cache storage format (default: the target's; cpu: f32, CUDA: f16)\n"
            "      --kv-block N        positions per KV-cache block (default 16)\n"
            "      --max-seq N         context length (default: the model's)\n"
            "      --weights-file      keep the weights in OUT.weights instead of inside OUT\n"
            "      --emit-dir DIR      write the generated sources to DIR\n"
            "      --dump-after PASS   print the IR after PASS (\"input\" for before the first)\n"
            "      --no-fuse           skip the fusion passes\n"
            "      --tokenizer FILE    tokenizer.bin for a llama2.c checkpoint\n"
            "      --chat-template F   Jinja chat template replacing tokenizer_config.json's\n"
            "      --cc CC             host C compiler (default cc)\n"
            "      --cuda-path DIR     CUDA toolkit holding NVRTC (default /usr/local/cuda)\n"
            "      --resource-usage    print each GPU kernel's registers, shared memory and spills\n"
            "      -q                  quiet\n"
            "  llmc import SRC -o model.json [--tokenizer FILE]   write the model.json of a checkpoint\n"
            "  llmc synth (--preset NAME | --config FILE) -o DIR [--seed N] [--dtype f32|f16|bf16]\n"
            "                                                     random-weight Hugging Face checkpoint\n"
            "  llmc targets                                       list the targets\n"
            "  llmc --version | --help\n",
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
static LlmcStatus load_model(const char *src, const char *tokenizer, cJSON **doc, char **base_dir, LlmcDiag *d)
{
    if (ends_with(src, ".json") && !is_dir(src)) {
        *base_dir = llmc_path_dir(src);
        return llmc_json_load(src, doc, d);
    }
    *base_dir = llmc_strdup(".");
    if (!is_dir(src))
        return llmc_import_llama2c(src, tokenizer, ".", doc, d);
    return llmc_import(src, ".", doc, d);
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
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (!sig && WIFSIGNALED(status))
        sig = WTERMSIG(status);
    if (sig) {
        fprintf(stderr, "llmc: stopped by signal %d (%s); no output was left behind\n", sig, strsignal(sig));
        signal(sig, SIG_DFL);
        raise(sig);
        return 128 + sig;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

typedef struct CompileArgs {
    const char *src, *out, *target, *dump_after, *tokenizer, *chat_template;
    const LlmcTarget *targets[LLMC_MAX_TARGETS + 1];
    LlmcPassOptions popt;
    LlmcCodegenOptions copt;
    LlmcLinkOptions lopt;
} CompileArgs;

/* The compiler: frontend -> passes -> target stage -> codegen -> link. */
static int compile_model(const CompileArgs *a)
{
    LlmcDiag d;
    cJSON *doc = NULL;
    char *base_dir = NULL, *tok = NULL;
    size_t tok_size = 0;
    LlmcGraph *g = NULL;
    LlmcWeightFiles *wf = NULL;
    LlmcCodegen cg;
    memset(&cg, 0, sizeof cg);
    int rc = 1;
    /* Frontend: the model as IR, its weight bindings checked against their files. */
    if (load_model(a->src, a->tokenizer, &doc, &base_dir, &d))
        goto out;
    g = llmc_graph_new();
    wf = llmc_wf_new();
    if (!g || !wf) {
        llmc_fail(&d, "out of memory");
        goto out;
    }
    if (llmc_model_from_json(doc, a->src, base_dir, g, &d) || llmc_model_check_weights(g, wf, &d))
        goto out;
    LlmcWeightSource ws = llmc_wf_source(wf);
    /* Passes: the common pipeline. */
    if (llmc_pipeline(g, &a->popt, a->dump_after, stdout, 0, &d))
        goto out;
    const LlmcBackend *be = llmc_backend_for(a->popt.target);
    if (a->dump_after) { /* the target's stage may hold the pass to dump; then stop */
        if (be && llmc_pipeline_stage(be->target_passes, g, &a->popt, a->dump_after, stdout, 0, &d))
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
        llmc_pipeline_stage(be->target_passes, g, &a->popt, NULL, NULL, 0, &d))
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
    free(tok);
    cJSON_Delete(doc);
    free(base_dir);
    llmc_wf_free(wf);
    llmc_graph_free(g);
    return rc;
}

static int compile_model_v(void *a) { return compile_model(a); }

static int cmd_compile(int argc, char **argv)
{
    CompileArgs a;
    memset(&a, 0, sizeof a);
    a.target = "cpu";
    a.popt.max_tokens = 512;
    a.popt.kv_block_size = 16;
    a.lopt.cc = "cc";
    int32_t max_out = 0;
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "-o") == 0 && v) {
            a.out = v;
            i++;
        } else if (strcmp(f, "--target") == 0 && v) {
            a.target = v;
            i++;
        } else if (strcmp(f, "--weights") == 0 && v) {
            if (strcmp(v, "w4a16") == 0)
                a.popt.weights = LLMC_U4;
            else if (llmc_dtype_from_name(v, &a.popt.weights) ||
                     !(llmc_format(a.popt.weights)->flags & LLMC_FMT_WEIGHT)) {
                fprintf(stderr, "llmc: --weights: expected f32, f16, bf16, fp8 or w4a16, found \"%s\"\n", v);
                return 2;
            }
            a.popt.weights_set = 1;
            i++;
        } else if (strcmp(f, "--group") == 0) {
            if (parse_int(f, v, 2, 1 << 20, &a.popt.group))
                return 2;
            i++;
        } else if (strcmp(f, "--asym") == 0) {
            a.popt.asym = 1;
        } else if (strcmp(f, "--keep") == 0 && v) {
            a.popt.keep = v;
            i++;
        } else if (strcmp(f, "--kv") == 0 && v) {
            if (llmc_dtype_from_name(v, &a.popt.kv)) {
                fprintf(stderr, "llmc: --kv: unknown format \"%s\"\n", v);
                return 2;
            }
            a.popt.kv_set = 1;
            i++;
        } else if (strcmp(f, "--max-tokens") == 0) {
            if (parse_int(f, v, 1, 1 << 16, &a.popt.max_tokens))
                return 2;
            i++;
        } else if (strcmp(f, "--max-outputs") == 0) {
            if (parse_int(f, v, 1, 1 << 16, &max_out))
                return 2;
            i++;
        } else if (strcmp(f, "--kv-block") == 0) {
            if (parse_int(f, v, 1, 4096, &a.popt.kv_block_size))
                return 2;
            i++;
        } else if (strcmp(f, "--max-seq") == 0) {
            if (parse_int(f, v, 1, 1 << 24, &a.popt.max_seq_len))
                return 2;
            i++;
        } else if (strcmp(f, "--weights-file") == 0) {
            a.lopt.weights_file = 1;
        } else if (strcmp(f, "--emit-dir") == 0 && v) {
            a.copt.emit_dir = v;
            i++;
        } else if (strncmp(f, "--dump-after=", 13) == 0) {
            a.dump_after = f + 13;
        } else if (strcmp(f, "--dump-after") == 0 && v) {
            a.dump_after = v;
            i++;
        } else if (strcmp(f, "--no-fuse") == 0) {
            a.popt.no_fuse = 1;
        } else if (strcmp(f, "--tokenizer") == 0 && v) {
            a.tokenizer = v;
            i++;
        } else if (strcmp(f, "--chat-template") == 0 && v) {
            a.chat_template = v;
            i++;
        } else if (strcmp(f, "--cc") == 0 && v) {
            a.lopt.cc = v;
            i++;
        } else if (strcmp(f, "--cuda-path") == 0 && v) {
            a.copt.cuda_path = v;
            i++;
        } else if (strcmp(f, "--resource-usage") == 0) {
            a.copt.resource_report = 1;
        } else if (strcmp(f, "-q") == 0) {
            a.copt.quiet = a.lopt.quiet = 1;
        } else if (f[0] == '-' || a.src) {
            fprintf(stderr, "llmc compile: unexpected argument \"%s\"%s\n", f,
                    f[0] == '-' && !v ? " (missing its value?)" : "");
            usage(stderr);
            return 2;
        } else {
            a.src = f;
        }
    }
    if (!a.src) {
        fprintf(stderr, "llmc compile: no model given\n");
        usage(stderr);
        return 2;
    }
    a.popt.max_outputs = max_out ? max_out : a.popt.max_tokens;
    /* --target a,b,c: every name known; cpu alone, or CUDA architectures only. */
    char names[256];
    snprintf(names, sizeof names, "%s", a.target);
    int nt = 0;
    for (char *tok = strtok(names, ","); tok; tok = strtok(NULL, ",")) {
        const LlmcTarget *t = llmc_target_find(tok);
        if (!t) {
            fprintf(stderr, "llmc: --target %s: unknown target \"%s\" (known:", a.target, tok);
            for (const LlmcTarget *const *k = llmc_targets(); *k; k++)
                fprintf(stderr, " %s", (*k)->name);
            fprintf(stderr, ")\n");
            return 2;
        }
        if (nt == LLMC_MAX_TARGETS) {
            fprintf(stderr, "llmc: --target %s: at most %d targets\n", a.target, LLMC_MAX_TARGETS);
            return 2;
        }
        for (int k = 0; k < nt; k++)
            if (a.targets[k] == t) {
                fprintf(stderr, "llmc: --target %s: %s given twice\n", a.target, tok);
                return 2;
            }
        a.targets[nt++] = t;
    }
    if (nt == 0) {
        fprintf(stderr, "llmc: --target: no target given\n");
        return 2;
    }
    /* Targets combine where their backend builds several at once (CUDA: an image each). */
    for (int k = 0; k < nt; k++) {
        const LlmcBackend *be = llmc_backend_for(a.targets[k]);
        if (nt > 1 && be && be->max_targets == 1) {
            fprintf(stderr, "llmc: --target %s: %s builds alone; only CUDA architectures combine\n", a.target,
                    a.targets[k]->name);
            return 2;
        }
    }
    a.popt.target = a.targets[0];
    a.lopt.out_path = a.out ? a.out : "model";
    if (is_dir(a.lopt.out_path)) {
        fprintf(stderr, "llmc: -o %s: is a directory; -o names the executable to write\n", a.lopt.out_path);
        return 2;
    }
    if (a.lopt.weights_file) {
        char side[4200];
        snprintf(side, sizeof side, "%s.weights", a.lopt.out_path);
        if (is_dir(side)) {
            fprintf(stderr, "llmc: %s (the side file of -o %s) is a directory\n", side, a.lopt.out_path);
            return 2;
        }
    }
    const char *outputs[] = {a.lopt.out_path, NULL};
    return run_supervised(compile_model_v, &a, outputs);
}

static int cmd_import(int argc, char **argv)
{
    const char *src = NULL, *out = NULL, *tok = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--tokenizer") == 0 && i + 1 < argc)
            tok = argv[++i];
        else if (argv[i][0] != '-' && !src)
            src = argv[i];
        else {
            fprintf(stderr, "llmc import: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!src || !out) {
        fprintf(stderr, "llmc import: usage: llmc import SRC -o model.json\n");
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
    LlmcStatus st = is_dir(src) ? llmc_import(src, base, &doc, &d) : llmc_import_llama2c(src, tok, base, &doc, &d);
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

static int cmd_synth(int argc, char **argv)
{
    LlmcSynthOptions o;
    memset(&o, 0, sizeof o);
    o.dtype = LLMC_BF16;
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--preset") == 0 && v) {
            o.preset = v;
            i++;
        } else if (strcmp(f, "--config") == 0 && v) {
            o.config_path = v;
            i++;
        } else if (strcmp(f, "-o") == 0 && v) {
            o.out_dir = v;
            i++;
        } else if (strcmp(f, "--seed") == 0 && v) {
            char *end;
            errno = 0;
            o.seed = strtoull(v, &end, 10);
            if (errno || *end) {
                fprintf(stderr, "llmc synth: --seed: expected an unsigned integer, found \"%s\"\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(f, "--dtype") == 0 && v) {
            if (llmc_dtype_from_name(v, &o.dtype) || o.dtype == LLMC_I32) {
                fprintf(stderr, "llmc synth: --dtype: expected f32, f16 or bf16, found \"%s\"\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(f, "-q") == 0) {
            o.quiet = 1;
        } else {
            fprintf(stderr, "llmc synth: unexpected argument \"%s\"\n", f);
            return 2;
        }
    }
    if ((!o.preset == !o.config_path) || !o.out_dir) {
        fprintf(stderr, "llmc synth: usage: llmc synth (--preset NAME | --config FILE) -o DIR\n  presets:");
        for (const char *const *p = llmc_synth_presets(); *p; p++)
            fprintf(stderr, " %s", *p);
        fprintf(stderr, "\n");
        return 2;
    }
    const char *outputs[] = {o.out_dir, NULL};
    return run_supervised(synth_v, &o, outputs);
}

static int cmd_targets(void)
{
    for (const LlmcTarget *const *t = llmc_targets(); *t; t++)
        printf("%-8s %s\n", (*t)->name, (*t)->description);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "compile") == 0)
        return cmd_compile(argc, argv);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(argc, argv);
    if (strcmp(cmd, "synth") == 0)
        return cmd_synth(argc, argv);
    if (strcmp(cmd, "targets") == 0)
        return cmd_targets();
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("llmc %s\n", LLMC_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "llmc: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
