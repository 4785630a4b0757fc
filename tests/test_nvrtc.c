/* test_nvrtc.c — codegen/nvrtc.c against the real NVRTC: no GPU is needed, only the toolkit.
 *
 * For every CUDA target in llmc_targets() a small real source (two extern "C" kernels: 'clean',
 * with 16-byte loads, static shared memory and __launch_bounds__, and 'spill', which runs out of
 * registers under its launch bounds and indexes a local array at run time) must give a cubin that
 * is a CUDA ELF for that arch holding both kernels, and a resource report in which 'clean' has no
 * stack and no spills and 'spill' has both. A second source exercises the report's variants (a C++
 * template kernel with a mangled name, a non-inlined device function that must not count as a
 * kernel, a kernel name longer than LlmcKernelRes.name, the toolkit's bf16/fp16 headers). Errors: a
 * syntax error, a long error log cut to its first lines, a non-CUDA target, a bogus cuda_path.
 *
 * NVRTC loads libnvrtc-builtins by bare name; nvrtc.c makes it come from NVRTC's own directory.
 * That is tested for real by re-running this binary through the dynamic loader with its cache
 * turned off (ld.so --inhibit-cache, LD_LIBRARY_PATH unset): the toolkit is then on no search path.
 *
 * Without NVRTC the suite fails under CI=true (CI always has the toolkit) and is skipped (exit 77)
 * elsewhere, after checking that the failure message names where it looked.
 */
#include "testutil.h"
#include "nvrtc.h"
#include "target.h"

#include <elf.h>
#include <glob.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BOGUS_CUDA "/nonexistent/llmc-bogus-cuda"

static const char KERNELS[] =
    "/* test_nvrtc: 'clean' compiles without stack or spills; 'spill' must spill. */\n"
    "extern \"C\" __global__ void __launch_bounds__(256)\n"
    "clean(const float4 *__restrict__ x, float4 *__restrict__ y, int n)\n"
    "{\n"
    "    __shared__ float4 tile[256];                     /* 4096 bytes of static smem */\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    tile[threadIdx.x] = i < n ? x[i] : make_float4(0.f, 0.f, 0.f, 0.f); /* 16-byte loads */\n"
    "    __syncthreads();\n"
    "    float4 v = tile[255 - threadIdx.x];\n"
    "    if (i < n)\n"
    "        y[i] = make_float4(v.x + v.w, v.y * v.z, v.z, v.w);\n"
    "}\n"
    "\n"
    "/* 96 live accumulators under a budget of 65536 / (768 * 2) = 42 registers: spills; a local\n"
    " * array indexed at run time: a stack frame. */\n"
    "extern \"C\" __global__ void __launch_bounds__(768, 2)\n"
    "spill(const float4 *__restrict__ x, const int *__restrict__ idx, float *__restrict__ out, int n)\n"
    "{\n"
    "    float a[64];\n"
    "    float4 acc[24];\n"
    "#pragma unroll\n"
    "    for (int k = 0; k < 24; k++)\n"
    "        acc[k] = x[k * n + threadIdx.x];\n"
    "    for (int i = 0; i < 64; i++)\n"
    "        a[i] = x[i * n + threadIdx.x].y * (float)i;\n"
    "    for (int j = 1; j < n; j++) {\n"
    "#pragma unroll\n"
    "        for (int k = 0; k < 24; k++) {\n"
    "            float4 v = x[(j * 24 + k) * n + threadIdx.x];\n"
    "            acc[k].x = acc[k].x * v.x + v.w;\n"
    "            acc[k].y = acc[k].y * v.y + v.z;\n"
    "            acc[k].z = acc[k].z * v.z + v.y;\n"
    "            acc[k].w = acc[k].w * v.w + v.x;\n"
    "        }\n"
    "    }\n"
    "    float s = a[idx[threadIdx.x] & 63];\n"
    "#pragma unroll\n"
    "    for (int k = 0; k < 24; k++)\n"
    "        s += acc[k].x * acc[k].y - acc[k].z * acc[k].w * (float)k;\n"
    "    out[blockIdx.x * blockDim.x + threadIdx.x] = s;\n"
    "}\n";

/* ---- helpers ---- */

static LlmcNvrtc *open_nvrtc(void)
{
    LlmcNvrtc *nv = NULL;
    LlmcDiag d;
    ck_assert_msg(llmc_nvrtc_open(&nv, NULL, &d) == LLMC_OK, "%s", d.msg);
    return nv;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int has_bytes(const LlmcCubin *c, const char *s)
{
    return memmem(c->data, c->size, s, strlen(s)) != NULL;
}

/* A 64-bit little-endian CUDA ELF for tg's sm, with a .text.<name> section per kernel. */
static void check_elf(const LlmcCubin *c, const LlmcTarget *tg, const char *const *kernels, int n_kernels)
{
    Elf64_Ehdr eh;
    ck_assert_msg(c->data && c->size >= sizeof eh, "%s: cubin of %zu bytes", tg->name, c->size);
    memcpy(&eh, c->data, sizeof eh);
    ck_assert_msg(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0, "%s: no ELF magic", tg->name);
    ck_assert_int_eq(eh.e_ident[EI_CLASS], ELFCLASS64);
    ck_assert_int_eq(eh.e_ident[EI_DATA], ELFDATA2LSB);
    ck_assert_int_eq(eh.e_machine, EM_CUDA);
    /* The sm: bits 8..15 of e_flags since CUDA 13's ELF ABI 8, bits 0..7 before. sm_90 and sm_90a
     * share it: the "a" shows in the tool note ("-arch sm_90a "), checked when there is one. */
    unsigned flags = eh.e_flags;
    ck_assert_msg(((flags >> 8) & 0xff) == (unsigned)tg->sm || (flags & 0xff) == (unsigned)tg->sm,
                  "%s: e_flags 0x%x do not name sm %d", tg->name, flags, tg->sm);
    if (has_bytes(c, "-arch ")) {
        char note[64];
        snprintf(note, sizeof note, "-arch %s ", tg->arch);
        ck_assert_msg(has_bytes(c, note), "%s: the cubin's tool note does not say \"%s\"", tg->name, note);
    }

    ck_assert_int_eq(eh.e_shentsize, sizeof(Elf64_Shdr));
    ck_assert(eh.e_shstrndx < eh.e_shnum);
    ck_assert(eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) <= c->size);
    Elf64_Shdr strtab;
    memcpy(&strtab, c->data + eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr), sizeof strtab);
    ck_assert(strtab.sh_offset + strtab.sh_size <= c->size);
    const char *names = (const char *)c->data + strtab.sh_offset;
    for (int k = 0; k < n_kernels; k++) {
        char want[300];
        snprintf(want, sizeof want, ".text.%s", kernels[k]);
        int found = 0;
        for (int i = 0; i < eh.e_shnum && !found; i++) {
            Elf64_Shdr sh;
            memcpy(&sh, c->data + eh.e_shoff + (size_t)i * sizeof sh, sizeof sh);
            found = sh.sh_name < strtab.sh_size && strncmp(names + sh.sh_name, want, strtab.sh_size - sh.sh_name) == 0;
        }
        ck_assert_msg(found, "%s: no section %s in the cubin", tg->name, want);
    }
}

/* ---- every CUDA target ---- */

START_TEST(test_all_targets)
{
    LlmcNvrtc *nv = open_nvrtc();
    int n_cuda = 0;
    for (const LlmcTarget *const *t = llmc_targets(); *t; t++) {
        const LlmcTarget *tg = *t;
        if (tg->backend != LLMC_TGT_CUDA)
            continue;
        n_cuda++;
        LlmcCubin c;
        LlmcDiag d;
        double t0 = now_s();
        ck_assert_msg(llmc_nvrtc_compile(nv, KERNELS, "kernels.cu", NULL, tg, &c, &d) == LLMC_OK, "%s: %s", tg->name,
                      d.msg);
        fprintf(stderr, "test_nvrtc: %-7s %.3f s, cubin %zu bytes\n", tg->name, now_s() - t0, c.size);

        static const char *const both[] = {"clean", "spill"};
        check_elf(&c, tg, both, 2);

        char entry[128];
        snprintf(entry, sizeof entry, "Compiling entry function 'clean' for '%s'", tg->arch);
        ck_assert_msg(c.log && strstr(c.log, entry), "%s: the log lacks \"%s\":\n%s", tg->name, entry, c.log);
        ck_assert_msg(c.n_res == 2, "%s: %d kernels in the report:\n%s", tg->name, c.n_res, c.log);

        const LlmcKernelRes *cl = llmc_cubin_find(&c, "clean"), *sp = llmc_cubin_find(&c, "spill");
        ck_assert(cl && sp);
        ck_assert_msg(cl->registers >= 4 && cl->registers <= 255, "%s: clean: %d registers", tg->name, cl->registers);
        ck_assert_int_eq(cl->smem_static, 256 * 16);
        ck_assert_msg(cl->stack_frame == 0 && cl->spill_stores == 0 && cl->spill_loads == 0,
                      "%s: clean: stack %d, spills %d/%d", tg->name, cl->stack_frame, cl->spill_stores,
                      cl->spill_loads);

        ck_assert_msg(sp->registers >= 8 && sp->registers <= 65536 / (768 * 2),
                      "%s: spill: %d registers (its launch bounds allow 42)", tg->name, sp->registers);
        ck_assert_int_eq(sp->smem_static, 0);
        ck_assert_msg(sp->stack_frame >= 64 * 4 && sp->spill_stores > 0 && sp->spill_loads > 0,
                      "%s: spill: stack %d, spills %d/%d\n%s", tg->name, sp->stack_frame, sp->spill_stores,
                      sp->spill_loads, c.log);
        llmc_cubin_free(&c);
        ck_assert(c.data == NULL && c.log == NULL && c.res == NULL);
    }
    ck_assert_int_ge(n_cuda, 5);
    llmc_nvrtc_close(nv);
}
END_TEST

/* ---- the report's variants ---- */

START_TEST(test_report_variants)
{
    char long_name[160];
    memset(long_name, 'k', 150);
    long_name[150] = 0;
    char src[4096];
    snprintf(src, sizeof src,
             "#include <cuda_bf16.h>\n"
             "#include <cuda_fp16.h>\n"
             "__device__ __noinline__ float helper(const float *p, int i)\n"
             "{\n"
             "    float t[32];\n"
             "    for (int k = 0; k < 32; k++)\n"
             "        t[k] = p[k] * (float)i;\n"
             "    return t[i & 31];\n"
             "}\n"
             "extern \"C\" __global__ void usesdev(float *p, int i)\n"
             "{\n"
             "    extern __shared__ float dyn[];                 /* dynamic: not in the report */\n"
             "    dyn[threadIdx.x] = helper(p, i);\n"
             "    __syncthreads();\n"
             "    p[threadIdx.x] = dyn[31 - threadIdx.x];\n"
             "}\n"
             "template <int N> __global__ void tmpl(float *o) { o[N] = (float)N; }\n"
             "template __global__ void tmpl<3>(float *);\n"
             "extern \"C\" __global__ void %s(const __nv_bfloat16 *x, __half *y)\n"
             "{\n"
             "    y[threadIdx.x] = __float2half(__bfloat162float(x[threadIdx.x]));\n"
             "}\n",
             long_name);
    LlmcNvrtc *nv = open_nvrtc();
    LlmcCubin c;
    LlmcDiag d;
    ck_assert_msg(llmc_nvrtc_compile(nv, src, "variants.cu", NULL, llmc_target_find("sm_90a"), &c, &d) == LLMC_OK, "%s",
                  d.msg);
    ck_assert_msg(c.n_res == 3, "%d kernels in:\n%s", c.n_res, c.log);
    ck_assert_msg(strstr(c.log, "Function properties for _Z6helperPKfi"), "the device function is gone:\n%s", c.log);
    ck_assert(llmc_cubin_find(&c, "_Z6helperPKfi") == NULL);

    const LlmcKernelRes *u = llmc_cubin_find(&c, "usesdev");
    ck_assert(u != NULL);
    ck_assert_int_eq(u->smem_static, 0);
    ck_assert_int_gt(u->registers, 0);
    ck_assert_int_ge(u->stack_frame, 32 * 4);        /* helper's array lives in the caller's frame */

    const LlmcKernelRes *t = llmc_cubin_find(&c, "_Z4tmplILi3EEvPf"); /* mangled, as the driver names it */
    ck_assert_msg(t != NULL, "%s", c.log);
    ck_assert_int_gt(t->registers, 0);
    ck_assert(llmc_cubin_find(&c, "tmpl") == NULL);

    const LlmcKernelRes *l = llmc_cubin_find(&c, long_name); /* kept cut to sizeof name - 1 */
    ck_assert(l != NULL);
    ck_assert_uint_eq(strlen(l->name), sizeof l->name - 1);
    ck_assert(llmc_cubin_find(&c, "kkkk") == NULL);
    llmc_cubin_free(&c);
    llmc_nvrtc_close(nv);
}
END_TEST

/* ptxas's wgmma notices: a kernel that reads a wgmma's accumulators before waiting for it (ptxas
 * injects the wait and says so, naming the kernel) counts one or more; the same kernel waiting first
 * counts none. */
START_TEST(test_report_wgmma_waits)
{
    static const char *const src =
        "#define MMA(d, da, db) asm volatile(\"{\\n.reg .pred p;\\nsetp.ne.b32 p, 1, 0;\\n\" \\\n"
        "    \"wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0, %1, %2, %3}, %4, %5, p, 1, 1, 0, 0;\\n}\\n\" \\\n"
        "    : \"+f\"(d[0]), \"+f\"(d[1]), \"+f\"(d[2]), \"+f\"(d[3]) : \"l\"(da), \"l\"(db))\n"
        "template <int WAIT> __device__ void body(float *y, unsigned long long da, unsigned long long db)\n"
        "{\n"
        "    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};\n"
        "    asm volatile(\"wgmma.fence.sync.aligned;\" ::: \"memory\");\n"
        "    MMA(d, da, db);\n"
        "    asm volatile(\"wgmma.commit_group.sync.aligned;\" ::: \"memory\");\n"
        "    if (WAIT)\n"
        "        asm volatile(\"wgmma.wait_group.sync.aligned 0;\" ::: \"memory\");\n"
        "    y[threadIdx.x] = d[0] + d[1] + d[2] + d[3];\n"
        "}\n"
        "extern \"C\" __global__ void early(float *y, unsigned long long da, unsigned long long db) { body<0>(y, da, db); }\n"
        "extern \"C\" __global__ void waits(float *y, unsigned long long da, unsigned long long db) { body<1>(y, da, db); }\n";
    LlmcNvrtc *nv = open_nvrtc();
    LlmcCubin c;
    LlmcDiag d;
    ck_assert_msg(llmc_nvrtc_compile(nv, src, "wgmma.cu", NULL, llmc_target_find("sm_90a"), &c, &d) == LLMC_OK, "%s", d.msg);
    const LlmcKernelRes *e = llmc_cubin_find(&c, "early"), *w = llmc_cubin_find(&c, "waits");
    ck_assert(e && w);
    ck_assert_msg(e->wgmma_waits > 0, "no wgmma notice counted for 'early':\n%s", c.log);
    ck_assert_msg(w->wgmma_waits == 0, "%d wgmma notices counted for 'waits':\n%s", w->wgmma_waits, c.log);
    llmc_cubin_free(&c);
    llmc_nvrtc_close(nv);
}
END_TEST

/* Named headers (how llmc hands NVRTC its kernel headers): a source including two of them, one
 * of which includes the other, compiles; without them the include fails with the header's name. */
START_TEST(test_named_headers)
{
    static const char *const names[] = {"twice.cuh", "base.cuh"};
    static const char *const texts[] = {
        "#include \"base.cuh\"\n__device__ float twice(float v) { return 2.0f * base(v); }\n",
        "#pragma once\n__device__ float base(float v) { return v + 1.0f; }\n"};
    const LlmcNvrtcHeaders hdr = {2, names, texts};
    const char *src = "#include \"base.cuh\"\n#include \"twice.cuh\"\n"
                      "extern \"C\" __global__ void named(float *p) { p[threadIdx.x] = twice(p[threadIdx.x]); }\n";
    LlmcNvrtc *nv = open_nvrtc();
    LlmcCubin c;
    LlmcDiag d;
    ck_assert_msg(llmc_nvrtc_compile(nv, src, "named.cu", &hdr, llmc_target_find("sm_80"), &c, &d) == LLMC_OK, "%s",
                  d.msg);
    ck_assert(llmc_cubin_find(&c, "named") != NULL);
    llmc_cubin_free(&c);
    ck_assert(llmc_nvrtc_compile(nv, src, "named.cu", NULL, llmc_target_find("sm_80"), &c, &d) == LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "base.cuh"), "%s", d.msg);
    llmc_cubin_free(&c);
    llmc_nvrtc_close(nv);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_syntax_error)
{
    const char *src = "extern \"C\" __global__ void broken(float *p)\n"
                      "{\n"
                      "    p[threadIdx.x] = 1.0f\n"
                      "}\n";
    LlmcNvrtc *nv = open_nvrtc();
    LlmcCubin c;
    LlmcDiag d;
    ck_assert(llmc_nvrtc_compile(nv, src, "broken.cu", NULL, llmc_target_find("sm_90a"), &c, &d) == LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "broken.cu") && strstr(d.msg, "sm_90a"), "%s", d.msg);
    ck_assert_msg(strstr(d.msg, "broken.cu(4): error"), "the message lacks the log:\n%s", d.msg);
    ck_assert(c.data == NULL && c.size == 0 && c.res == NULL && c.n_res == 0);
    ck_assert(c.log && strstr(c.log, "broken.cu(4): error"));
    llmc_cubin_free(&c);
    llmc_nvrtc_close(nv);
}
END_TEST

START_TEST(test_long_error_log_cut)
{
    char src[8192];
    size_t n = 0;
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(src + n, sizeof src - n, "__device__ int f%d() { return undefined_%d; }\n", i, i);
    LlmcNvrtc *nv = open_nvrtc();
    LlmcCubin c;
    LlmcDiag d;
    ck_assert(llmc_nvrtc_compile(nv, src, "many.cu", NULL, llmc_target_find("sm_80"), &c, &d) == LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "many.cu(1): error") && strstr(d.msg, "undefined_0"), "%s", d.msg);
    ck_assert_msg(strstr(d.msg, "the rest of the log cut") && !strstr(d.msg, "undefined_59"), "%s", d.msg);
    ck_assert(c.log && strstr(c.log, "undefined_59"));      /* the whole log is kept */
    llmc_cubin_free(&c);
    llmc_nvrtc_close(nv);
}
END_TEST

START_TEST(test_not_cuda_target)
{
    LlmcNvrtc *nv = open_nvrtc();
    LlmcCubin c;
    LlmcDiag d;
    ck_assert(llmc_nvrtc_compile(nv, KERNELS, "kernels.cu", NULL, llmc_target_find("cpu"), &c, &d) == LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "kernels.cu") && strstr(d.msg, "cpu is not a CUDA target"), "%s", d.msg);
    llmc_cubin_free(&c);
    llmc_nvrtc_close(nv);
}
END_TEST

/* The message of a failed open names every directory and name tried. */
static void check_not_found_msg(const char *msg, const char *cuda_path)
{
    static const char *const subdirs[] = {"lib64", "lib",
#if defined(__x86_64__)
                                          "targets/x86_64-linux/lib",
#elif defined(__aarch64__)
                                          "targets/sbsa-linux/lib",
#endif
    };
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", cuda_path, subdirs[i]);
        ck_assert_msg(strstr(msg, dir), "the message does not name %s:\n%s", dir, msg);
    }
    ck_assert_msg(strstr(msg, "libnvrtc.so, libnvrtc.so.13, libnvrtc.so.12") && strstr(msg, "system library path"),
                  "%s", msg);
}

/* A bogus cuda_path: NVRTC still comes from the system path (and compiles), or the open fails
 * saying where it looked. */
START_TEST(test_open_bogus_path)
{
    LlmcNvrtc *nv = NULL;
    LlmcDiag d;
    if (llmc_nvrtc_open(&nv, BOGUS_CUDA, &d) == LLMC_OK) {
        LlmcNvrtc *def = open_nvrtc();
        ck_assert_str_eq(llmc_nvrtc_version(nv), llmc_nvrtc_version(def));
        llmc_nvrtc_close(def);
        LlmcCubin c;
        ck_assert_msg(llmc_nvrtc_compile(nv, KERNELS, "kernels.cu", NULL, llmc_target_find("sm_86"), &c, &d) == LLMC_OK,
                      "%s", d.msg);
        ck_assert_int_eq(c.n_res, 2);
        llmc_cubin_free(&c);
        llmc_nvrtc_close(nv);
    } else {
        ck_assert(nv == NULL);
        check_not_found_msg(d.msg, BOGUS_CUDA);
    }
}
END_TEST

/* ---- without the loader's cache: NVRTC and its builtins found through cuda_path alone ---- */

/* The child: opens NVRTC from argv's cuda_path and compiles KERNELS. Prints "OK <version> <kernels>"
 * (exit 0), "OPEN <message>" (exit 3) or "COMPILE <message>" (exit 4). */
static int child_open(const char *cuda_path)
{
    LlmcNvrtc *nv = NULL;
    LlmcDiag d;
    if (llmc_nvrtc_open(&nv, cuda_path, &d) != LLMC_OK) {
        printf("OPEN %s\n", d.msg);
        return 3;
    }
    LlmcCubin c;
    int rc = 0;
    if (llmc_nvrtc_compile(nv, KERNELS, "kernels.cu", NULL, llmc_target_find("sm_90a"), &c, &d) != LLMC_OK) {
        printf("COMPILE %s\n", d.msg);
        rc = 4;
    } else {
        printf("OK %s %d\n", llmc_nvrtc_version(nv), c.n_res);
    }
    llmc_cubin_free(&c);
    llmc_nvrtc_close(nv);
    return rc;
}

static int interp_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_INTERP)
            *(const char **)data = (const char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    return 1; /* the program itself comes first: stop there */
}

/* Runs this binary as the child through the dynamic loader with no cache and no LD_LIBRARY_PATH. */
static int run_uncached(const char *cuda_path, char **out)
{
    const char *interp = NULL;
    dl_iterate_phdr(interp_cb, &interp);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (!interp || access(interp, X_OK) != 0 || n <= 0)
        return -2;
    self[n] = 0;
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "env -u LD_LIBRARY_PATH '%s' --inhibit-cache '%s' --child-open '%s'", interp, self,
             cuda_path);
    return tu_run(cmd, out);
}

/* A toolkit laid out as targets/<host>-linux/lib, with NVRTC only under a full version name
 * (found by the libnvrtc.so.* glob) and its builtins beside it: links to the real ones. NULL when
 * the real ones are not in /usr/local/cuda/lib64 or the host has no such layout. */
static const char *fake_toolkit(void)
{
#if defined(__x86_64__)
    const char *sub = "targets/x86_64-linux/lib";
#elif defined(__aarch64__)
    const char *sub = "targets/sbsa-linux/lib";
#else
    return NULL;
#endif
    char real[4096];
    if (!realpath("/usr/local/cuda/lib64/libnvrtc.so", real))
        return NULL;
    static char root[700];
    snprintf(root, sizeof root, "%s", tu_tmpdir());
    char dir[1024], cmd[2200];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    ck_assert(tu_run(cmd, NULL) == 0);
    char link[1200];
    snprintf(link, sizeof link, "%s/libnvrtc.so.99.1.2", dir);
    ck_assert(symlink(real, link) == 0);
    glob_t g;
    ck_assert(glob("/usr/local/cuda/lib64/libnvrtc-builtins.so.*", 0, NULL, &g) == 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, strrchr(g.gl_pathv[i], '/') + 1);
        ck_assert(symlink(g.gl_pathv[i], link) == 0);
    }
    globfree(&g);
    return root;
}

START_TEST(test_open_without_ld_cache)
{
    char *out = NULL;
    int rc = run_uncached("/usr/local/cuda", &out);
    if (rc == -2) {
        fprintf(stderr, "test_nvrtc: no dynamic loader to run through: not testing without its cache\n");
        return;
    }
    /* The toolkit's NVRTC, and its builtins from beside it, though neither is on a search path. */
    ck_assert_msg(rc == 0 && out && strncmp(out, "OK ", 3) == 0 && strstr(out, " 2\n"),
                  "uncached, cuda_path /usr/local/cuda: exit %d:\n%s", rc, out ? out : "");
    free(out);

    const char *fake = fake_toolkit();
    if (fake) {
        out = NULL;
        rc = run_uncached(fake, &out);
        ck_assert_msg(rc == 0 && out && strncmp(out, "OK ", 3) == 0 && strstr(out, " 2\n"),
                      "uncached, cuda_path %s: exit %d:\n%s", fake, rc, out ? out : "");
        free(out);
    }

    /* A libnvrtc.so that is no library: named in the message with the loader's reason. */
    const char *junk = tu_tmpdir();
    char file[1024];
    snprintf(file, sizeof file, "%s/lib64", junk);
    ck_assert(mkdir(file, 0755) == 0);
    snprintf(file, sizeof file, "%s/lib64/libnvrtc.so", junk);
    FILE *f = fopen(file, "w");
    ck_assert(f && fputs("not a library\n", f) >= 0 && fclose(f) == 0);
    out = NULL;
    rc = run_uncached(junk, &out);
    if (rc == 0) { /* a libnvrtc in the loader's own trusted directories (/lib, /usr/lib) */
        ck_assert_msg(out && strncmp(out, "OK ", 3) == 0, "%s", out ? out : "");
    } else {
        ck_assert_msg(rc == 3 && out && strncmp(out, "OPEN ", 5) == 0, "uncached, junk library: exit %d:\n%s", rc,
                      out ? out : "");
        check_not_found_msg(out, junk);
        ck_assert_msg(strstr(out, "lib64/libnvrtc.so exists but does not load: "), "%s", out);
    }
    free(out);
}
END_TEST

/* When NVRTC is missing altogether. */
START_TEST(test_open_missing)
{
    LlmcNvrtc *nv = NULL;
    LlmcDiag d;
    ck_assert(llmc_nvrtc_open(&nv, NULL, &d) == LLMC_ERR && nv == NULL);
    check_not_found_msg(d.msg, "/usr/local/cuda");
}
END_TEST

static Suite *nvrtc_suite(int have_nvrtc)
{
    Suite *s = suite_create("nvrtc");
    TCase *tc = tcase_create("nvrtc");
    tcase_set_timeout(tc, 600);
    if (have_nvrtc) {
        tcase_add_test(tc, test_all_targets);
        tcase_add_test(tc, test_report_variants);
        tcase_add_test(tc, test_report_wgmma_waits);
        tcase_add_test(tc, test_named_headers);
        tcase_add_test(tc, test_syntax_error);
        tcase_add_test(tc, test_long_error_log_cut);
        tcase_add_test(tc, test_not_cuda_target);
        tcase_add_test(tc, test_open_bogus_path);
        tcase_add_test(tc, test_open_without_ld_cache);
    } else {
        tcase_add_test(tc, test_open_missing);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child-open") == 0)
        return child_open(argv[2]);

    LlmcNvrtc *nv = NULL;
    LlmcDiag d;
    if (llmc_nvrtc_open(&nv, NULL, &d) == LLMC_OK) {
        fprintf(stderr, "test_nvrtc: NVRTC %s\n", llmc_nvrtc_version(nv));
        llmc_nvrtc_close(nv);
        return tu_main(nvrtc_suite(1));
    }
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) {
        fprintf(stderr, "test_nvrtc: NVRTC is missing, and CI always has the CUDA toolkit:\n%s\n", d.msg);
        return 1;
    }
    fprintf(stderr, "skipping: NVRTC not found (%s)\n", d.msg);
    return tu_main(nvrtc_suite(0)) ? 1 : 77;
}
