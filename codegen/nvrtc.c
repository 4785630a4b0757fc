/* nvrtc.c — CUDA C to cubin through NVRTC, loaded with dlopen so that llmc builds, links and runs
 * for the cpu target on machines without CUDA. No CUDA header is included: the nine entry points
 * used are declared here with the ABI of nvrtc.h (nvrtcResult is a C enum, i.e. an int).
 *
 * Finding the library. cuda_path (default /usr/local/cuda) is searched first, in lib64, lib and
 * targets/<host>-linux/lib, for libnvrtc.so, libnvrtc.so.13, libnvrtc.so.12 and then any other
 * libnvrtc.so.*; then the system's library path (LD_LIBRARY_PATH, ld.so.cache) for the same names.
 * NVRTC itself dlopens libnvrtc-builtins.so.<major>.<minor> by bare name, and libnvrtc has no
 * RUNPATH, so a toolkit that is not on the system path would load its NVRTC and then fail at the
 * first compile. We therefore load the builtins from NVRTC's own directory right after NVRTC:
 * glibc then hands NVRTC's later dlopen the library already loaded under that soname, the one of
 * the same toolkit.
 *
 * Compiling. Options: -arch=<tg->arch> (a real sm_ target, so that ptxas runs and NVRTC returns a
 * cubin, not PTX; "-arch=sm_90a" and "--gpu-architecture=sm_90a" are the same to NVRTC 13),
 * -std=c++17, -default-device, -Xptxas -v for the resource report (NVRTC rejects nvcc's
 * --resource-usage), and -I<toolkit>/include when the toolkit's headers are found: NVRTC 13 has no
 * built-in cuda_fp16.h / cuda_bf16.h. Deliberately absent: --use_fast_math (accuracy: llmc's
 * kernels are checked against the C reference with tolerances derived from the precision) and
 * -lineinfo (it also makes the cubin half as large again).
 *
 * The ptxas report in NVRTC 13's log reads, per kernel (in no particular order of kernels):
 *   ptxas info    : Compiling entry function 'NAME' for 'sm_90a'
 *   ptxas info    : Function properties for NAME
 *   ptxas         .     N bytes stack frame, M bytes spill stores, K bytes spill loads
 *   ptxas info    : Used R registers, used B barriers, S bytes smem, N bytes cumulative stack size
 *   ptxas info    : Compile time = 1.2 ms
 * plus "ptxas info    : 0 bytes gmem" once and "ptxas warning : ..." lines. The frame line starts
 * with blanks instead of "ptxas         ." when ptxas prints it itself (nvcc -Xptxas -v): the
 * numbers are found by the text after them. The "Used" line is a comma-separated list whose items
 * vary by version, arch and kernel ("S bytes smem" only with static shared memory, "C bytes cmem[0]"
 * on some archs, the stack size only with a stack); unknown items are ignored. "Function properties"
 * is also printed for non-inlined device functions, which are not kernels: only names introduced by
 * "Compiling entry function" get an entry. C++ (mangled) kernel names are kept mangled: that is the
 * name the driver looks the kernel up by.
 *
 * NVRTC is never unloaded (RTLD_NODELETE): its statically linked C++ runtime allocates a pool at
 * load that dlclose would leak (LeakSanitizer reports it from an unknown module, where no
 * suppression can name it), and unloading 100 MB of compiler buys a compiler process nothing.
 */
#include "nvrtc.h"

#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the NVRTC ABI (nvrtc.h, CUDA 11.1+) ---- */

typedef int NvrtcResult;                 /* NVRTC_SUCCESS = 0 */
typedef struct NvrtcProgramImpl *NvrtcProgram;

struct LlmcNvrtc {
    void *lib;                           /* libnvrtc */
    void *builtins;                      /* libnvrtc-builtins of the same directory, or NULL */
    char path[4096];                     /* where libnvrtc was loaded from */
    char include_opt[4200];              /* "-I<toolkit>/include", or "" when not found */
    char version[32];                    /* "13.0" */
    NvrtcResult (*nvrtcVersion)(int *major, int *minor);
    NvrtcResult (*nvrtcCreateProgram)(NvrtcProgram *prog, const char *src, const char *name, int n_headers,
                                      const char *const *headers, const char *const *include_names);
    NvrtcResult (*nvrtcCompileProgram)(NvrtcProgram prog, int n_options, const char *const *options);
    NvrtcResult (*nvrtcGetProgramLogSize)(NvrtcProgram prog, size_t *size);
    NvrtcResult (*nvrtcGetProgramLog)(NvrtcProgram prog, char *log);
    NvrtcResult (*nvrtcGetCUBINSize)(NvrtcProgram prog, size_t *size);
    NvrtcResult (*nvrtcGetCUBIN)(NvrtcProgram prog, char *cubin);
    NvrtcResult (*nvrtcDestroyProgram)(NvrtcProgram *prog);
    const char *(*nvrtcGetErrorString)(NvrtcResult r);
};

/* ---- finding and loading the library ---- */

/* Where a toolkit keeps the libraries: lib64 and lib (often one a link to the other), and the
 * per-host directory of the cross-compilation layout. */
static const char *const lib_dirs[] = {
    "lib64", "lib",
#if defined(__x86_64__)
    "targets/x86_64-linux/lib",
#elif defined(__aarch64__)
    "targets/sbsa-linux/lib",
#endif
};
#define N_LIB_DIRS (sizeof lib_dirs / sizeof lib_dirs[0])

static const char *const lib_names[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"};
#define N_LIB_NAMES (sizeof lib_names / sizeof lib_names[0])

/* A bounded string builder for the "where we looked" message. */
typedef struct {
    char buf[3072];
    size_t n;
} Notes;

static void notes_add(Notes *nt, const char *fmt, const char *a, const char *b)
{
    if (nt->n < sizeof nt->buf) {
        int k = snprintf(nt->buf + nt->n, sizeof nt->buf - nt->n, fmt, a, b);
        if (k > 0)
            nt->n += (size_t)k;
    }
}

/* dlopen `file` if it exists (a directory search) or by name (the system search, exists_check 0).
 * A library that is there but does not load is noted with the loader's reason. */
static void *try_open(const char *file, int exists_check, Notes *nt)
{
    if (exists_check && access(file, F_OK) != 0)
        return NULL;
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h && exists_check) {
        const char *e = dlerror();
        notes_add(nt, "\n  %s exists but does not load: %s", file, e ? e : "?");
    }
    return h;
}

static void *open_in_dir(const char *dir, Notes *nt)
{
    char file[4096];
    for (size_t i = 0; i < N_LIB_NAMES; i++) {
        snprintf(file, sizeof file, "%s/%s", dir, lib_names[i]);
        void *h = try_open(file, 1, nt);
        if (h)
            return h;
    }
    /* Any other version (libnvrtc.so.11.2, ...), newest name last in glob's order: try from the end. */
    snprintf(file, sizeof file, "%s/libnvrtc.so.*", dir);
    glob_t g;
    void *h = NULL;
    if (glob(file, 0, NULL, &g) == 0) {
        for (size_t i = g.gl_pathc; i-- > 0 && !h;)
            h = try_open(g.gl_pathv[i], 1, nt);
        globfree(&g);
    }
    return h;
}

/* The toolkit's headers (cuda_fp16.h, cuda_bf16.h: NVRTC 13 has them only as files): beside the
 * directory NVRTC came from (<toolkit>/lib64 -> <toolkit>/include), else cuda_path/include. */
static void find_include_dir(LlmcNvrtc *nv, const char *cuda_path)
{
    char dir[4096], probe[4200];
    const char *slash = strrchr(nv->path, '/');
    for (int k = 0; k < 2; k++) {
        if (k == 0) {
            if (!slash)
                continue;
            int n = (int)(slash - nv->path);       /* <toolkit>/lib64 */
            while (n > 0 && nv->path[n - 1] != '/')
                n--;
            snprintf(dir, sizeof dir, "%.*sinclude", n, nv->path);
        } else {
            snprintf(dir, sizeof dir, "%s/include", cuda_path);
        }
        snprintf(probe, sizeof probe, "%s/cuda_fp16.h", dir);
        if (access(probe, R_OK) == 0) {
            snprintf(nv->include_opt, sizeof nv->include_opt, "-I%s", dir);
            return;
        }
    }
}

static LlmcStatus bind_symbols(LlmcNvrtc *nv, LlmcDiag *d)
{
#define BIND(sym)                                                                                       \
    do {                                                                                                \
        dlerror();                                                                                      \
        void *p = dlsym(nv->lib, #sym);                                                                 \
        if (!p)                                                                                         \
            return llmc_fail(d, "%s: no symbol %s (NVRTC 11.1 or newer is needed)", nv->path, #sym);   \
        nv->sym = (__typeof__(nv->sym))p;                                                               \
    } while (0)
    BIND(nvrtcVersion);
    BIND(nvrtcCreateProgram);
    BIND(nvrtcCompileProgram);
    BIND(nvrtcGetProgramLogSize);
    BIND(nvrtcGetProgramLog);
    BIND(nvrtcGetCUBINSize);
    BIND(nvrtcGetCUBIN);
    BIND(nvrtcDestroyProgram);
    BIND(nvrtcGetErrorString);
#undef BIND
    return LLMC_OK;
}

/* Loads libnvrtc-builtins.so.<major>.<minor> from NVRTC's own directory, when it is there. Not an
 * error when it is missing: NVRTC may still find it on the system path, and says so when not. */
static void load_builtins(LlmcNvrtc *nv, int major, int minor)
{
    char file[4200];
    const char *slash = strrchr(nv->path, '/');
    if (!slash)
        return;
    snprintf(file, sizeof file, "%.*s/libnvrtc-builtins.so.%d.%d", (int)(slash - nv->path), nv->path, major,
             minor);
    if (access(file, F_OK) == 0)
        nv->builtins = dlopen(file, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}

LlmcStatus llmc_nvrtc_open(LlmcNvrtc **out, const char *cuda_path, LlmcDiag *d)
{
    *out = NULL;
    if (!cuda_path || !*cuda_path)
        cuda_path = "/usr/local/cuda";
    Notes nt = {.n = 0};
    void *h = NULL;
    char dir[4096];
    for (size_t i = 0; i < N_LIB_DIRS && !h; i++) {
        snprintf(dir, sizeof dir, "%s/%s", cuda_path, lib_dirs[i]);
        h = open_in_dir(dir, &nt);
    }
    for (size_t i = 0; i < N_LIB_NAMES && !h; i++)
        h = try_open(lib_names[i], 0, &nt);
    if (!h) {
        Notes where = {.n = 0};
        for (size_t i = 0; i < N_LIB_DIRS; i++)
            notes_add(&where, i ? ", %s/%s" : "%s/%s", cuda_path, lib_dirs[i]);
        return llmc_fail(d,
                         "NVRTC (the CUDA runtime compiler) not found: looked for libnvrtc.so, libnvrtc.so.13, "
                         "libnvrtc.so.12 and libnvrtc.so.* in %s, then for the same names on the system library "
                         "path (LD_LIBRARY_PATH, ld.so.cache)%s\nCUDA targets need NVRTC from the CUDA toolkit: "
                         "install the toolkit or give its directory as the CUDA path.",
                         where.buf, nt.buf);
    }

    LlmcNvrtc *nv = calloc(1, sizeof *nv);
    if (!nv) {
        dlclose(h);
        return llmc_fail(d, "out of memory");
    }
    nv->lib = h;
    struct link_map *lm = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0])
        snprintf(nv->path, sizeof nv->path, "%s", lm->l_name);
    else
        snprintf(nv->path, sizeof nv->path, "libnvrtc");
    int major = 0, minor = 0;
    if (bind_symbols(nv, d) != LLMC_OK) {
        llmc_nvrtc_close(nv);
        return LLMC_ERR;
    }
    if (nv->nvrtcVersion(&major, &minor) != 0) {
        llmc_fail(d, "%s: nvrtcVersion failed", nv->path);
        llmc_nvrtc_close(nv);
        return LLMC_ERR;
    }
    snprintf(nv->version, sizeof nv->version, "%d.%d", major, minor);
    load_builtins(nv, major, minor);
    find_include_dir(nv, cuda_path);
    *out = nv;
    return LLMC_OK;
}

void llmc_nvrtc_close(LlmcNvrtc *nv)
{
    if (!nv)
        return;
    /* Only the handles: both libraries stay loaded (RTLD_NODELETE). */
    if (nv->lib)
        dlclose(nv->lib);
    if (nv->builtins)
        dlclose(nv->builtins);
    free(nv);
}

const char *llmc_nvrtc_version(const LlmcNvrtc *nv) { return nv->version; }

/* ---- the ptxas resource report ---- */

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* "ptxas info    : REST" -> REST, or NULL for any other line. */
static const char *ptxas_info(const char *line)
{
    if (strncmp(line, "ptxas info", 10) != 0)
        return NULL;
    const char *c = strchr(line + 10, ':');
    return c ? skip_ws(c + 1) : NULL;
}

/* Names are kept cut to sizeof name - 1 characters: a longer name matches its cut form. */
static int find_res(const LlmcKernelRes *res, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strncmp(res[i].name, name, sizeof res[i].name - 1) == 0)
            return i;
    return -1;
}

/* "[prefix]N bytes stack frame, M bytes spill stores, K bytes spill loads"; the prefix is blanks
 * from ptxas, "ptxas         .     " in NVRTC's log. */
static void parse_frame(const char *line, LlmcKernelRes *r)
{
    const char *s = strstr(line, " bytes stack frame");
    if (!s)
        return;
    while (s > line && s[-1] >= '0' && s[-1] <= '9')
        s--;
    int frame, st, ld;
    if (sscanf(s, "%d bytes stack frame, %d bytes spill stores, %d bytes spill loads", &frame, &st, &ld) == 3) {
        r->stack_frame = frame;
        r->spill_stores = st;
        r->spill_loads = ld;
    }
}

/* "Used R registers, used B barriers, S bytes smem, C bytes cmem[0], ..." item by item. */
static void parse_used(const char *s, LlmcKernelRes *r)
{
    while (*s) {
        s = skip_ws(s);
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[128];
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), s);
        int v;
        char unit[64];
        if (sscanf(item, "Used %d registers", &v) == 1)
            r->registers = v;
        else if (sscanf(item, "%d bytes %63s", &v, unit) == 2 && strcmp(unit, "smem") == 0)
            r->smem_static = v;
        s += len;
        if (*s == ',')
            s++;
    }
}

/* Rebuilds c->res from c->log. Lines end in '\n' (a '\r' before it is dropped). */
static LlmcStatus parse_report(LlmcCubin *c, LlmcDiag *d)
{
    int cap = 0, cur = -1, props = -1;
    char line[1024];
    for (const char *p = c->log; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        p += len + (nl != NULL);
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[l - 1] = 0;

        const char *info = ptxas_info(line);
        const char *name;
        if (info && strncmp(info, "Compiling entry function '", 26) == 0) {
            name = info + 26;
            const char *q = strchr(name, '\'');
            size_t nlen = q ? (size_t)(q - name) : strlen(name);
            if (c->n_res == cap) {
                cap = cap ? cap * 2 : 8;
                LlmcKernelRes *r = realloc(c->res, (size_t)cap * sizeof *r);
                if (!r)
                    return llmc_fail(d, "out of memory");
                c->res = r;
            }
            LlmcKernelRes *r = &c->res[c->n_res];
            memset(r, 0, sizeof *r);
            snprintf(r->name, sizeof r->name, "%.*s", (int)(nlen < sizeof r->name ? nlen : sizeof r->name - 1), name);
            cur = c->n_res++;
            props = -1;
        } else if (info && strncmp(info, "Function properties for ", 24) == 0) {
            props = find_res(c->res, c->n_res, info + 24); /* -1 for a device function */
        } else if (info && strncmp(info, "Used ", 5) == 0) {
            if (cur >= 0)
                parse_used(info, &c->res[cur]);
        } else if (!info && strstr(line, " bytes stack frame")) {
            if (props >= 0)
                parse_frame(line, &c->res[props]);
            props = -1;
        }
    }
    /* ptxas's wgmma notices, wherever they come ("(C7517) warpgroup.wait is injected in around line N
     * by compiler to allow use of registers defined by GMMA in function 'NAME'", or that it
     * serialized a function's wgmma.mma_async): counted for the kernel they name */
    for (const char *p = c->log; (p = strstr(p, "ptxas info")) != NULL; p++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char body[512]; /* the line (searched alone: the log may hold thousands) */
        snprintf(body, sizeof body, "%.*s", (int)(len < sizeof body ? len : sizeof body - 1), p);
        const char *f = strstr(body, "in function '");
        if (!f || (!strstr(body, "warpgroup.wait is injected") && !strstr(body, "serialized")))
            continue;
        f += strlen("in function '");
        const char *q = strchr(f, '\'');
        char name[sizeof c->res[0].name];
        snprintf(name, sizeof name, "%.*s", (int)(q && (size_t)(q - f) < sizeof name ? q - f : (long)sizeof name - 1), f);
        int i = find_res(c->res, c->n_res, name);
        if (i >= 0)
            c->res[i].wgmma_waits++;
    }
    return LLMC_OK;
}

const LlmcKernelRes *llmc_cubin_find(const LlmcCubin *c, const char *kernel)
{
    int i = find_res(c->res, c->n_res, kernel);
    return i >= 0 ? &c->res[i] : NULL;
}

/* ---- compiling ---- */

/* The first max_lines lines of the log, for a message, without the trailing newlines. */
static void log_head(const char *log, int max_lines, char *buf, size_t size)
{
    const char *p = log;
    for (int i = 0; i < max_lines && p && *p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    int cut = p && *p;
    size_t n = cut ? (size_t)(p - log) : strlen(log);
    while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == '\r'))
        n--;
    snprintf(buf, size, "%.*s%s", (int)n, log, cut ? "\n[... the rest of the log cut]" : "");
}

LlmcStatus llmc_nvrtc_compile(LlmcNvrtc *nv, const char *source, const char *name, const LlmcNvrtcHeaders *hdr,
                              const LlmcTarget *tg, LlmcCubin *out, LlmcDiag *d)
{
    memset(out, 0, sizeof *out);
    if (!name)
        name = "kernels.cu";
    if (!tg || tg->backend != LLMC_TGT_CUDA || !tg->arch)
        return llmc_fail(d, "%s: target %s is not a CUDA target", name, tg ? tg->name : "(null)");
    char arch[64];
    snprintf(arch, sizeof arch, "-arch=%s", tg->arch);
    /* a target that runs the AMD path's kernels (gpu_port.cuh LLMC_AMD_PATH) says so first */
    const char *opts[] = {"-DLLMC_AMD_PATH=1", arch, "-std=c++17", "-default-device", "-Xptxas", "-v", nv->include_opt};
    int first = tg->amd_path ? 0 : 1;
    int n_opts = (int)(sizeof opts / sizeof opts[0]) - (nv->include_opt[0] == 0) - first;

    NvrtcProgram prog = NULL;
    NvrtcResult r = nv->nvrtcCreateProgram(&prog, source, name, hdr ? hdr->n : 0, hdr ? hdr->texts : NULL,
                                           hdr ? hdr->names : NULL);
    if (r != 0)
        return llmc_fail(d, "%s: nvrtcCreateProgram: %s", name, nv->nvrtcGetErrorString(r));
    NvrtcResult rc = nv->nvrtcCompileProgram(prog, n_opts, opts + first);

    LlmcStatus st = LLMC_OK;
    size_t log_size = 0;
    if ((r = nv->nvrtcGetProgramLogSize(prog, &log_size)) != 0) {
        st = llmc_fail(d, "%s: nvrtcGetProgramLogSize: %s", name, nv->nvrtcGetErrorString(r));
        goto done;
    }
    out->log = malloc(log_size + 1);
    if (!out->log) {
        st = llmc_fail(d, "out of memory");
        goto done;
    }
    out->log[0] = 0;
    if (log_size > 0 && (r = nv->nvrtcGetProgramLog(prog, out->log)) != 0) {
        st = llmc_fail(d, "%s: nvrtcGetProgramLog: %s", name, nv->nvrtcGetErrorString(r));
        goto done;
    }
    out->log[log_size] = 0;

    if (rc != 0) {
        char head[3200];
        log_head(out->log, 40, head, sizeof head);
        char hint[4400] = "";
        if (!nv->builtins && strstr(out->log, "libnvrtc-builtins"))
            snprintf(hint, sizeof hint, "\n(llmc found no libnvrtc-builtins.so.%s beside %s either)", nv->version,
                     nv->path);
        st = llmc_fail(d, "%s: NVRTC %s could not compile it for %s (%s):\n%s%s", name, nv->version, tg->arch,
                       nv->nvrtcGetErrorString(rc), head, hint);
        goto done;
    }
    if ((r = nv->nvrtcGetCUBINSize(prog, &out->size)) != 0 || out->size == 0) {
        st = llmc_fail(d, "%s: NVRTC gave no cubin for %s (%s)", name, tg->arch,
                       r ? nv->nvrtcGetErrorString(r) : "empty");
        goto done;
    }
    out->data = malloc(out->size);
    if (!out->data) {
        st = llmc_fail(d, "out of memory");
        goto done;
    }
    if ((r = nv->nvrtcGetCUBIN(prog, (char *)out->data)) != 0) {
        st = llmc_fail(d, "%s: nvrtcGetCUBIN: %s", name, nv->nvrtcGetErrorString(r));
        goto done;
    }
    st = parse_report(out, d);

done:
    nv->nvrtcDestroyProgram(&prog);
    if (st != LLMC_OK) {
        /* Only the log is kept, for a caller that wants all of it. */
        free(out->data);
        free(out->res);
        out->data = NULL;
        out->res = NULL;
        out->size = 0;
        out->n_res = 0;
    }
    return st;
}

void llmc_cubin_free(LlmcCubin *c)
{
    if (!c)
        return;
    free(c->data);
    free(c->log);
    free(c->res);
    memset(c, 0, sizeof *c);
}
