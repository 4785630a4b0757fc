/* link.c — builds the executable: the C files a backend wrote (LlmcCodegen.c_files, in its build
 * directory) + the embedded runtime archive -> host compiler -> ELF image; then the payload
 * (weights, tokenizer) and the footer are appended (or the payload goes to a side file). Everything
 * is written under temporary names and renamed at the end, so a failure leaves nothing under the
 * output's name.
 *
 * The C files are self-contained (device images come in through them: .incbin); libllmc_rt.a comes
 * out of llmc's own binary. The compiler is run directly (fork/exec, no shell); its output is
 * captured and shown on failure. Which backend wrote the files is no concern of this file.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../abi/llmc_model.h"
#include "../abi/digest.h"
#include "../abi/payload.h"
#include "codegen.h"
#include "linker.h"

extern const unsigned char llmc_rt_archive[];
extern const size_t llmc_rt_archive_size;
/* What the runtime's tokenizer links against: PCRE2 and utf8proc, as static archives. */
extern const unsigned char llmc_pcre2_archive[], llmc_utf8proc_archive[];
extern const size_t llmc_pcre2_archive_size, llmc_utf8proc_archive_size;

#ifndef LLMC_RT_LINK_FLAGS
#define LLMC_RT_LINK_FLAGS ""
#endif

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
    char rt[4096], pcre[4096], u8p[4096], log[4096], inc[4096], src[8][4096], obj[8][4096];
    snprintf(rt, sizeof rt, "%s/libllmc_rt.a", dir);
    snprintf(pcre, sizeof pcre, "%s/libpcre2-8.a", dir);
    snprintf(u8p, sizeof u8p, "%s/libutf8proc.a", dir);
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
        /* warnings go to build.log only; a function called without its declaration is an error
         * (C99 dropped implicit declarations; gcc 14 and clang 16 refuse them by default, gcc 12
         * only warns and would link a call through int) */
        argv[n++] = "-Werror=implicit-function-declaration";
        argv[n++] = inc;
        argv[n++] = "-c";
        argv[n++] = src[s];
        argv[n++] = "-o";
        argv[n++] = obj[s];
        argv[n] = NULL;
        if (llmc_run_tool(argv, log, dir)) {
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
    argv[n++] = pcre;
    argv[n++] = u8p;
    argv[n++] = "-lm";
    argv[n++] = "-lpthread";
    argv[n++] = "-ldl";
    n += split_flags(sanflags, argv + n, 16);
    argv[n] = NULL;
    if (llmc_run_tool(argv, log, dir))
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

static LlmcStatus out_of_memory(LlmcDiag *d) { return llmc_fail(d, "linking: out of memory"); }

/* The payload at the current end of o: header, weights, tokenizer, each section's digest in the
 * header (written last, over the placeholder). */
static LlmcStatus write_payload(const LlmcGraph *g, const LlmcWeightSource *ws, LlmcOutFile *o, const char *tok,
                                size_t tok_size, uint64_t hash, int quiet, LlmcPayloadHeader *h, LlmcDiag *d)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, LLMC_PAYLOAD_MAGIC, 8);
    h->model_hash = hash;
    h->weights_off = LLMC_PAYLOAD_ALIGN;
    int64_t weights_bytes = llmc_packed_weights_bytes(g); /* every rank's part of a sharded graph */
    h->weights_size = (uint64_t)weights_bytes;
    h->tokenizer_off = (uint64_t)align_up(LLMC_PAYLOAD_ALIGN + weights_bytes, LLMC_PAYLOAD_ALIGN);
    h->tokenizer_size = tok_size;
    h->tokenizer_kind = tok ? (uint32_t)g->tok_kind : LLMC_TOK_NONE;
    h->total_size = h->tokenizer_off + tok_size;
    int64_t start = o->size;
    LlmcDigest *dg = llmc_digest_new();
    if (!dg)
        return out_of_memory(d);
    LlmcDigest *outer = o->dg;
    LlmcStatus st = LLMC_ERR;
    if (llmc_out_write(o, h, sizeof *h, d) || write_pad(o, LLMC_PAYLOAD_ALIGN - (int64_t)sizeof *h, d))
        goto out;
    o->dg = dg;
    if (llmc_pack_weights(g, ws, o, quiet, d))
        goto out;
    o->dg = outer;
    if (o->size - start - LLMC_PAYLOAD_ALIGN != weights_bytes) {
        llmc_fail(d, "%s: packed %lld bytes of weights, the plan has %lld", o->path,
                  (long long)(o->size - start - LLMC_PAYLOAD_ALIGN), (long long)weights_bytes);
        goto out;
    }
    llmc_digest_final(dg, h->weights_digest);
    if (write_pad(o, (int64_t)h->tokenizer_off - LLMC_PAYLOAD_ALIGN - weights_bytes, d))
        goto out;
    o->dg = dg;
    if (tok_size && llmc_out_write(o, tok, tok_size, d))
        goto out;
    o->dg = outer;
    llmc_digest_final(dg, h->tokenizer_digest);
    if (llmc_out_write_at(o, start, h, sizeof *h, d))
        goto out;
    st = LLMC_OK;
out:
    o->dg = outer;
    llmc_digest_free(dg);
    return st;
}

LlmcStatus llmc_link(const LlmcCodegen *cg, const LlmcGraph *g, const LlmcWeightSource *ws, const void *tok_data,
                     size_t tok_size, const LlmcLinkOptions *o, LlmcDiag *d)
{
    const char *tok = tok_data, *dir = cg->dir;
    uint64_t hash = cg->info.model_hash;
    LlmcStatus st = LLMC_ERR;
    LlmcDigest *program = NULL;
    char path[4200], exe[4200];
    static const struct {
        const char *name;
        const unsigned char *data;
        const size_t *size;
    } archives[3] = {
        {"libllmc_rt.a", llmc_rt_archive, &llmc_rt_archive_size},
        {"libpcre2-8.a", llmc_pcre2_archive, &llmc_pcre2_archive_size},
        {"libutf8proc.a", llmc_utf8proc_archive, &llmc_utf8proc_archive_size},
    };
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, archives[i].name);
        if (llmc_write_file_atomic(path, archives[i].data, *archives[i].size, d))
            return LLMC_ERR;
    }
    snprintf(exe, sizeof exe, "%s/model.link", dir);
    if (!o->quiet)
        fprintf(stderr, "llmc: compiling %s for %s\n", g->name, cg->info.target_names);
    if (compile_c(o->cc ? o->cc : "cc", dir, cg->c_files, cg->n_c_files, exe, d))
        goto out;

    LlmcOutFile out, side;
    memset(&out, 0, sizeof out);
    memset(&side, 0, sizeof side);
    program = llmc_digest_new();
    if (!program) {
        out_of_memory(d);
        goto out;
    }
    if (llmc_out_open(&out, o->out_path, d))
        goto out;
    LlmcFooter f;
    memset(&f, 0, sizeof f);
    memcpy(f.magic, LLMC_FOOTER_MAGIC, 8);
    f.model_hash = hash;
    int64_t exe_size;
    LlmcPayloadHeader h;
    out.dg = program;
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
        out.dg = NULL;
        if (llmc_out_open(&side, side_path, d))
            goto abort_out;
        if (write_payload(g, ws, &side, tok, tok_size, hash, o->quiet, &h, d))
            goto abort_out;
        f.payload_size = h.total_size;
    } else {
        int64_t start = align_up(exe_size, LLMC_PAYLOAD_ALIGN);
        if (write_pad(&out, start - exe_size, d))
            goto abort_out;
        out.dg = NULL;
        if (write_payload(g, ws, &out, tok, tok_size, hash, o->quiet, &h, d))
            goto abort_out;
        f.payload_off = (uint64_t)start;
        f.payload_size = h.total_size;
    }
    f.program_size = (uint64_t)(o->weights_file ? exe_size : (int64_t)f.payload_off);
    llmc_digest_final(program, f.program_digest);
    if (llmc_digest_buffer(&h, sizeof h, 1, f.header_digest) ||
        llmc_digest_buffer(&f, offsetof(LlmcFooter, footer_digest), 1, f.footer_digest)) {
        out_of_memory(d);
        goto abort_out;
    }
    if (llmc_out_write(&out, &f, sizeof f, d))
        goto abort_out;
    /* The executable and its side file: both or neither. */
    LlmcOutFile *files[2] = {&out, &side};
    int exec[2] = {1, 0};
    if (llmc_out_commit_all(files, exec, side.f ? 2 : 1, d))
        goto out;
    st = LLMC_OK;
    goto out;
abort_out:
    llmc_out_abort(&out);
    if (side.f)
        llmc_out_abort(&side);
out:
    llmc_digest_free(program);
    unlink(exe);
    return st;
}
