/* link.c — builds the executable: generated source + the embedded runtime archive -> host compiler
 * -> ELF image; then the payload (weights, tokenizer) and the footer are appended (or the payload
 * goes to a side file). Everything is written under temporary names and renamed at the end, so a
 * failure leaves nothing under the output's name.
 *
 * The build runs in a fresh temporary directory (or --emit-dir, which is kept): model.c is
 * self-contained; libllmc_rt.a comes out of llmc's own binary. The compiler is run directly
 * (fork/exec, no shell); its output is captured and shown on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../abi/llmc_model.h"
#include "../abi/payload.h"
#include "../runtime/tokenizer.h"
#include "codegen.h"
#include "nvrtc.h"
#include "../passes/passes.h"

extern const unsigned char llmc_rt_archive[];
extern const size_t llmc_rt_archive_size;

#ifndef LLMC_RT_LINK_FLAGS
#define LLMC_RT_LINK_FLAGS ""
#endif

/* Runs argv, output to log; returns 0 when it exits 0. */
static int run(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static LlmcStatus fail_with_log(LlmcDiag *d, const char *what, const char *log)
{
    char *text = NULL;
    size_t n = 0;
    LlmcDiag tmp;
    if (llmc_read_file(log, &text, &n, &tmp))
        text = NULL;
    size_t keep = 3000;
    const char *tail = text && n > keep ? text + n - keep : text;
    LlmcStatus s = llmc_fail(d, "%s failed:\n%s", what, tail ? tail : "(no output)");
    free(text);
    return s;
}

static LlmcStatus write_pad(LlmcOutFile *o, int64_t n, LlmcDiag *d)
{
    static const uint8_t zeros[4096];
    while (n > 0) {
        int64_t k = n < 4096 ? n : 4096;
        if (llmc_out_write(o, zeros, (size_t)k, d))
            return LLMC_ERR;
        n -= k;
    }
    return LLMC_OK;
}

static int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

/* Splits a space-separated flag string into argv entries (no quoting: these are our own flags). */
static int split_flags(char *s, char **argv, int max)
{
    int n = 0;
    for (char *tok = strtok(s, " "); tok && n < max; tok = strtok(NULL, " "))
        argv[n++] = tok;
    return n;
}

/* Compiles each C file of the build directory and links them with the runtime archive into exe. */
static LlmcStatus compile_c(const char *cc, const char *dir, const char *const *sources, int n_sources, const char *exe,
                            LlmcDiag *d)
{
    char rt[4096], log[4096], inc[4096], src[8][4096], obj[8][4096];
    snprintf(rt, sizeof rt, "%s/libllmc_rt.a", dir);
    snprintf(log, sizeof log, "%s/build.log", dir);
    snprintf(inc, sizeof inc, "-I%s", dir);
    unlink(log);
    char sanflags[512];
    snprintf(sanflags, sizeof sanflags, "%s", LLMC_RT_LINK_FLAGS);
    char *argv[64];
    for (int s = 0; s < n_sources && s < 8; s++) {
        snprintf(src[s], sizeof src[s], "%s/%s.c", dir, sources[s]);
        snprintf(obj[s], sizeof obj[s], "%s/%s.o", dir, sources[s]);
        int n = 0;
        argv[n++] = (char *)cc;
        argv[n++] = "-std=gnu11";
        argv[n++] = "-O3";
        argv[n++] = "-march=native";
        argv[n++] = "-ffp-contract=fast";
        argv[n++] = "-fno-math-errno";
        argv[n++] = "-w";
        argv[n++] = inc;
        argv[n++] = "-c";
        argv[n++] = src[s];
        argv[n++] = "-o";
        argv[n++] = obj[s];
        argv[n] = NULL;
        if (run(argv, log)) {
            char what[4200];
            snprintf(what, sizeof what, "compiling the generated %s.c", sources[s]);
            return fail_with_log(d, what, log);
        }
    }
    int n = 0;
    argv[n++] = (char *)cc;
    argv[n++] = "-o";
    argv[n++] = (char *)exe;
    for (int s = 0; s < n_sources && s < 8; s++)
        argv[n++] = obj[s];
    argv[n++] = rt;
    argv[n++] = "-lm";
    argv[n++] = "-lpthread";
    argv[n++] = "-ldl";
    n += split_flags(sanflags, argv + n, 16);
    argv[n] = NULL;
    if (run(argv, log))
        return fail_with_log(d, "linking the model executable", log);
    return LLMC_OK;
}

static LlmcStatus copy_file_into(LlmcOutFile *o, const char *path, int64_t *size, LlmcDiag *d)
{
    char *data = NULL;
    size_t n = 0;
    if (llmc_read_file(path, &data, &n, d))
        return LLMC_ERR;
    LlmcStatus st = llmc_out_write(o, data, n, d);
    free(data);
    *size = (int64_t)n;
    return st;
}

/* The payload: header, weights, tokenizer; `start` is its offset in the file being written. */
static LlmcStatus write_payload(const LlmcGraph *g, LlmcWeightFiles *wf, LlmcOutFile *o, const char *tok,
                                size_t tok_size, uint64_t hash, int quiet, LlmcPayloadHeader *h, LlmcDiag *d)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, LLMC_PAYLOAD_MAGIC, 8);
    h->model_hash = hash;
    h->weights_off = LLMC_PAYLOAD_ALIGN;
    h->weights_size = (uint64_t)g->weights_bytes;
    h->tokenizer_off = (uint64_t)align_up(LLMC_PAYLOAD_ALIGN + g->weights_bytes, LLMC_PAYLOAD_ALIGN);
    h->tokenizer_size = tok_size;
    h->tokenizer_kind = tok ? (uint32_t)g->tok_kind : LLMC_TOK_NONE;
    h->total_size = h->tokenizer_off + tok_size;
    if (llmc_out_write(o, h, sizeof *h, d) || write_pad(o, LLMC_PAYLOAD_ALIGN - (int64_t)sizeof *h, d) ||
        llmc_pack_weights(g, wf, o, quiet, d) ||
        write_pad(o, (int64_t)h->tokenizer_off - LLMC_PAYLOAD_ALIGN - g->weights_bytes, d) ||
        (tok_size && llmc_out_write(o, tok, tok_size, d)))
        return LLMC_ERR;
    return LLMC_OK;
}

static void remove_tree(const char *dir)
{
    const char *names[] = {"model.c", "model.o", "twin.c", "twin.o", "model.cu", "libllmc_rt.a", "build.log",
                           "model.link", NULL};
    char p[4096];
    for (int i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    for (const LlmcTarget *const *t = llmc_targets(); *t; t++) {
        snprintf(p, sizeof p, "%s/cubin_%s.bin", dir, (*t)->name);
        unlink(p);
    }
    rmdir(dir);
}

/* The CUDA part of a build: the CUDA source through NVRTC for every target, the host C file and the
 * CPU twin, written into dir as model.c and twin.c (model.cu kept for inspection). */
static LlmcStatus emit_cuda(LlmcGraph *g, const LlmcTarget *const *targets, int n_targets,
                            const LlmcBuildOptions *o, LlmcBuildInfo *info, const char *dir, LlmcDiag *d)
{
    LlmcCudaGen *cg = NULL;
    LlmcNvrtc *nv = NULL;
    LlmcCudaImage images[8];
    char paths[8][4096], path[4096];
    char *host = NULL, *twin = NULL;
    LlmcStatus st = LLMC_ERR;
    /* The CPU twin reads the same packed weights: emit it from the graph before the GPU stage. */
    LlmcBuildInfo tinfo = *info;
    tinfo.desc_symbol = "llmc_model_cpu_twin";
    tinfo.max_threads = 0;
    if (llmc_emit_c(g, llmc_target_find("cpu"), &tinfo, &twin, d))
        return LLMC_ERR;
    if (o->pass_options && llmc_pipeline_gpu(g, o->pass_options, NULL, NULL, 0, d)) {
        free(twin);
        return LLMC_ERR;
    }
    int wgmma = 0;
    for (int i = 0; i < n_targets; i++)
        wgmma |= targets[i]->has_wgmma;
    if (llmc_cuda_generate(g, targets[0], wgmma, &cg, d)) {
        free(twin);
        return LLMC_ERR;
    }
    snprintf(path, sizeof path, "%s/model.cu", dir);
    if (llmc_write_file_atomic(path, llmc_cuda_source(cg), strlen(llmc_cuda_source(cg)), d) ||
        (o->emit_dir && llmc_cuda_write_headers(dir, d)))
        goto out;
    if (llmc_nvrtc_open(&nv, o->cuda_path, d))
        goto out;
    for (int i = 0; i < n_targets; i++) {
        LlmcCubin cubin;
        if (!o->quiet)
            fprintf(stderr, "llmc: NVRTC %s: compiling %d kernels for %s\n", llmc_nvrtc_version(nv),
                    llmc_cuda_kernel_count(cg), targets[i]->arch);
        if (llmc_nvrtc_compile(nv, llmc_cuda_source(cg), "model.cu", llmc_cuda_headers(cg), targets[i], &cubin, d))
            goto out;
        if (o->resource_report) {
            for (int k = 0; k < cubin.n_res; k++)
                fprintf(stderr, "llmc: %s %-28s %3d registers, %5d bytes smem, %4d bytes stack, spills %d/%d\n",
                        targets[i]->arch, cubin.res[k].name, cubin.res[k].registers, cubin.res[k].smem_static,
                        cubin.res[k].stack_frame, cubin.res[k].spill_stores, cubin.res[k].spill_loads);
        }
        snprintf(paths[i], sizeof paths[i], "%s/cubin_%s.bin", dir, targets[i]->name);
        LlmcStatus ws = llmc_write_file_atomic(paths[i], cubin.data, cubin.size, d);
        images[i] = (LlmcCudaImage){targets[i], paths[i], cubin.size};
        llmc_cubin_free(&cubin);
        if (ws)
            goto out;
    }
    if (llmc_cuda_host_c(g, cg, images, n_targets, info, &host, d))
        goto out;
    snprintf(path, sizeof path, "%s/model.c", dir);
    if (llmc_write_file_atomic(path, host, strlen(host), d))
        goto out;
    snprintf(path, sizeof path, "%s/twin.c", dir);
    if (llmc_write_file_atomic(path, twin, strlen(twin), d))
        goto out;
    st = LLMC_OK;
out:
    free(host);
    free(twin);
    llmc_nvrtc_close(nv);
    llmc_cuda_free(cg);
    return st;
}

LlmcStatus llmc_build(LlmcGraph *g, const LlmcTarget *tg, LlmcWeightFiles *wf, const LlmcBuildOptions *o,
                      LlmcDiag *d)
{
    const LlmcTarget *single[2] = {tg, NULL};
    const LlmcTarget *const *targets = o->targets ? o->targets : single;
    int n_targets = 0;
    while (targets[n_targets])
        n_targets++;
    int cuda = targets[0]->backend == LLMC_TGT_CUDA;
    for (int i = 0; i < n_targets; i++)
        if ((targets[i]->backend == LLMC_TGT_CUDA) != cuda || (!cuda && n_targets > 1) || n_targets > 8)
            return llmc_fail(d, "--target: build either cpu alone or up to 8 CUDA architectures together");
    if (!cuda && targets[0]->backend != LLMC_TGT_C)
        return llmc_fail(d, "target %s: its backend is not available in this build of llmc", targets[0]->name);
    LlmcStatus st = LLMC_ERR;
    char *tok = NULL, *source = NULL;
    size_t tok_size = 0;
    LlmcTokenizer *tk = NULL;
    char dir[4096], path[4096], exe[4096], names[256] = "";
    int tmpdir = !o->emit_dir;
    for (int i = 0; i < n_targets; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "", targets[i]->name);
    if (g->tok_file) {
        char err[512];
        if (llmc_read_file(g->tok_file, &tok, &tok_size, d))
            return LLMC_ERR;
        if (llmc_tokenizer_load(&tk, g->tok_kind, (const uint8_t *)tok, tok_size, g->vocab_size, err, sizeof err)) {
            free(tok);
            return llmc_fail(d, "%s: %s", g->tok_file, err);
        }
        llmc_tokenizer_free(tk);
    }
    uint64_t hash;
    if (llmc_model_hash(g, targets[0], wf, tok, tok_size, &hash, d)) {
        free(tok);
        return LLMC_ERR;
    }
    char info_line[512];
    const char *wfmt = "f32";
    for (int i = 0; i < g->nn; i++)
        if (g->n[i].op == LLMC_OP_MATMUL)
            wfmt = llmc_dtype_name(g->t[g->n[i].in[1]].dtype);
    snprintf(info_line, sizeof info_line,
             "weights %s, KV cache %s in blocks of %d, context %d, %d tokens and %d logit rows per step, %s",
             wfmt, cuda ? "f16" : "f32", g->kv_block_size, g->max_seq_len, g->max_tokens, g->max_outputs,
             g->tok_file ? (g->tok_kind == LLMC_TOK_LLAMA2C ? "llama2.c tokenizer" : "SentencePiece tokenizer")
                         : "no tokenizer");
    LlmcBuildInfo info = {info_line, hash, g->weights_bytes < (INT64_C(8) << 20) ? 1 : 0, NULL, names};
    if (!cuda && llmc_emit_c(g, targets[0], &info, &source, d)) {
        free(tok);
        return LLMC_ERR;
    }
    if (tmpdir) {
        snprintf(dir, sizeof dir, "/tmp/llmc-build-XXXXXX");
        if (!mkdtemp(dir)) {
            st = llmc_fail(d, "cannot create a build directory in /tmp: %s", strerror(errno));
            goto out_nodir;
        }
    } else {
        snprintf(dir, sizeof dir, "%s", o->emit_dir);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            st = llmc_fail(d, "--emit-dir %s: cannot create: %s", dir, strerror(errno));
            goto out_nodir;
        }
    }
    if (cuda) {
        if (emit_cuda(g, targets, n_targets, o, &info, dir, d))
            goto out;
    } else {
        snprintf(path, sizeof path, "%s/model.c", dir);
        if (llmc_write_file_atomic(path, source, strlen(source), d))
            goto out;
    }
    snprintf(path, sizeof path, "%s/libllmc_rt.a", dir);
    if (llmc_write_file_atomic(path, llmc_rt_archive, llmc_rt_archive_size, d))
        goto out;
    snprintf(exe, sizeof exe, "%s/model.link", dir);
    if (!o->quiet)
        fprintf(stderr, "llmc: compiling %s for %s\n", g->name, names);
    const char *srcs[2] = {"model", "twin"};
    if (compile_c(o->cc ? o->cc : "cc", dir, srcs, cuda ? 2 : 1, exe, d))
        goto out;

    LlmcOutFile out, side;
    memset(&side, 0, sizeof side);
    if (llmc_out_open(&out, o->out_path, d))
        goto out;
    LlmcFooter f;
    memset(&f, 0, sizeof f);
    memcpy(f.magic, LLMC_FOOTER_MAGIC, 8);
    f.model_hash = hash;
    int64_t exe_size;
    LlmcPayloadHeader h;
    if (copy_file_into(&out, exe, &exe_size, d))
        goto abort_out;
    if (o->weights_file) {
        char side_path[4096];
        snprintf(side_path, sizeof side_path, "%s.weights", o->out_path);
        const char *base = strrchr(side_path, '/');
        base = base ? base + 1 : side_path;
        if (strlen(base) >= sizeof f.side_file) {
            llmc_fail(d, "%s: name too long for a side file", side_path);
            goto abort_out;
        }
        snprintf(f.side_file, sizeof f.side_file, "%s", base);
        f.external = 1;
        if (llmc_out_open(&side, side_path, d))
            goto abort_out;
        if (write_payload(g, wf, &side, tok, tok_size, hash, o->quiet, &h, d))
            goto abort_out;
        f.payload_size = h.total_size;
    } else {
        int64_t start = align_up(exe_size, LLMC_PAYLOAD_ALIGN);
        if (write_pad(&out, start - exe_size, d) || write_payload(g, wf, &out, tok, tok_size, hash, o->quiet, &h, d))
            goto abort_out;
        f.payload_off = (uint64_t)start;
        f.payload_size = h.total_size;
    }
    if (llmc_out_write(&out, &f, sizeof f, d))
        goto abort_out;
    if (side.f && llmc_out_commit(&side, 0, d))
        goto abort_out;
    if (llmc_out_commit(&out, 1, d))
        goto out;
    st = LLMC_OK;
    goto out;
abort_out:
    llmc_out_abort(&out);
    if (side.f)
        llmc_out_abort(&side);
out:
    if (tmpdir)
        remove_tree(dir);
    else {
        snprintf(path, sizeof path, "%s/model.link", dir);
        unlink(path);
    }
out_nodir:
    free(source);
    free(tok);
    return st;
}
