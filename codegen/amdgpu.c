/* amdgpu.c — see amdgpu.h: clang run as a program on the emitted source, and the code object's
 * metadata read back: the ELF's note sections, the AMDGPU note (NT_AMDGPU_METADATA: a MessagePack
 * map, as the code object format v4/v5 defines it), each kernel's resources. Everything read from
 * the file is bounds-checked (tests/fuzz feeds it garbage). */
#include "amdgpu.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

/* ---- MessagePack, the little of it the note uses ---- */

typedef struct Mp {
    const uint8_t *p, *end;
    int bad;
} Mp;

static uint64_t mp_be(Mp *m, int n)
{
    if (m->bad || m->end - m->p < n) {
        m->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | m->p[i];
    m->p += n;
    return v;
}

/* The next value's kind: 'm' map, 'a' array, 's' string, 'i' integer, 'b' boolean, 'o' other;
 * *n its length (map pairs, array items, string bytes), value or truth. Consumes the header. */
static int mp_next(Mp *m, int64_t *n)
{
    uint8_t c = (uint8_t)mp_be(m, 1);
    if (m->bad)
        return 0;
    if (c <= 0x7f) return *n = c, 'i';
    if (c >= 0xe0) return *n = (int8_t)c, 'i';
    if ((c & 0xf0) == 0x80) return *n = c & 0x0f, 'm';
    if ((c & 0xf0) == 0x90) return *n = c & 0x0f, 'a';
    if ((c & 0xe0) == 0xa0) return *n = c & 0x1f, 's';
    switch (c) {
    case 0xc0: return *n = 0, 'o';
    case 0xc2: return *n = 0, 'b';
    case 0xc3: return *n = 1, 'b';
    case 0xcc: return *n = (int64_t)mp_be(m, 1), 'i';
    case 0xcd: return *n = (int64_t)mp_be(m, 2), 'i';
    case 0xce: return *n = (int64_t)mp_be(m, 4), 'i';
    case 0xcf: return *n = (int64_t)mp_be(m, 8), 'i';
    case 0xd0: return *n = (int8_t)mp_be(m, 1), 'i';
    case 0xd1: return *n = (int16_t)mp_be(m, 2), 'i';
    case 0xd2: return *n = (int32_t)mp_be(m, 4), 'i';
    case 0xd3: return *n = (int64_t)mp_be(m, 8), 'i';
    case 0xd9: return *n = (int64_t)mp_be(m, 1), 's';
    case 0xda: return *n = (int64_t)mp_be(m, 2), 's';
    case 0xdb: return *n = (int64_t)mp_be(m, 4), 's';
    case 0xdc: return *n = (int64_t)mp_be(m, 2), 'a';
    case 0xdd: return *n = (int64_t)mp_be(m, 4), 'a';
    case 0xde: return *n = (int64_t)mp_be(m, 2), 'm';
    case 0xdf: return *n = (int64_t)mp_be(m, 4), 'm';
    case 0xca: mp_be(m, 4); return *n = 0, 'o';
    case 0xcb: mp_be(m, 8); return *n = 0, 'o';
    case 0xc4: *n = (int64_t)mp_be(m, 1); break;
    case 0xc5: *n = (int64_t)mp_be(m, 2); break;
    case 0xc6: *n = (int64_t)mp_be(m, 4); break;
    default: m->bad = 1; return 0; /* ext types: not in the note */
    }
    if (!m->bad && (*n < 0 || m->end - m->p < *n)) /* bin: skipped */
        m->bad = 1;
    if (!m->bad)
        m->p += *n;
    return *n = 0, 'o';
}

/* The string a header of kind 's' and length *n announced (*n = 0 when it is not there). */
static const char *mp_str(Mp *m, int64_t *n)
{
    if (m->bad || *n < 0 || m->end - m->p < *n) {
        m->bad = 1;
        *n = 0;
        return "";
    }
    const char *s = (const char *)m->p;
    m->p += *n;
    return s;
}

static void mp_skip(Mp *m, int depth)
{
    int64_t n;
    int k = mp_next(m, &n);
    if (depth > 16)
        m->bad = 1;
    if (m->bad)
        return;
    if (k == 's')
        mp_str(m, &n);
    else if (k == 'a' || k == 'm')
        for (int64_t i = 0; i < n * (k == 'm' ? 2 : 1) && !m->bad; i++)
            mp_skip(m, depth + 1);
}

static int key_is(const char *k, int64_t n, const char *want) { return (size_t)n == strlen(want) && memcmp(k, want, (size_t)n) == 0; }

static void read_kernel(Mp *m, LlmcAmdKernelRes *r)
{
    int64_t n, v;
    if (mp_next(m, &n) != 'm') {
        m->bad = 1;
        return;
    }
    for (int64_t i = 0; i < n && !m->bad; i++) {
        int64_t kl;
        if (mp_next(m, &kl) != 's') {
            m->bad = 1;
            return;
        }
        const char *k = mp_str(m, &kl);
        static const struct {
            const char *key;
            size_t off;
        } ints[] = {
            {".sgpr_count", offsetof(LlmcAmdKernelRes, sgprs)},
            {".vgpr_count", offsetof(LlmcAmdKernelRes, vgprs)},
            {".agpr_count", offsetof(LlmcAmdKernelRes, agprs)},
            {".private_segment_fixed_size", offsetof(LlmcAmdKernelRes, scratch)},
            {".group_segment_fixed_size", offsetof(LlmcAmdKernelRes, lds)},
            {".sgpr_spill_count", offsetof(LlmcAmdKernelRes, sgpr_spills)},
            {".vgpr_spill_count", offsetof(LlmcAmdKernelRes, vgpr_spills)},
            {".wavefront_size", offsetof(LlmcAmdKernelRes, wave)},
            {".max_flat_workgroup_size", offsetof(LlmcAmdKernelRes, max_threads)},
            {".uses_dynamic_stack", offsetof(LlmcAmdKernelRes, dynamic_stack)},
        };
        size_t j = 0;
        while (j < sizeof ints / sizeof ints[0] && !key_is(k, kl, ints[j].key))
            j++;
        if (key_is(k, kl, ".name")) {
            if (mp_next(m, &v) != 's') {
                m->bad = 1;
                return;
            }
            const char *s = mp_str(m, &v);
            snprintf(r->name, sizeof r->name, "%.*s", (int)(v < 127 ? v : 127), s);
        } else if (j < sizeof ints / sizeof ints[0]) {
            int kind = mp_next(m, &v);
            if ((kind != 'i' && kind != 'b') || v < 0 || v > (1 << 30)) {
                m->bad = 1;
                return;
            }
            int iv = (int)v;
            memcpy((char *)r + ints[j].off, &iv, sizeof iv);
        } else {
            mp_skip(m, 1);
        }
    }
}

static LlmcStatus read_note(const uint8_t *p, size_t n, LlmcAmdMeta *out, LlmcDiag *d)
{
    Mp m = {p, p + n, 0};
    int64_t pairs;
    if (mp_next(&m, &pairs) != 'm')
        return llmc_fail(d, "AMDGPU metadata: not a MessagePack map");
    for (int64_t i = 0; i < pairs && !m.bad; i++) {
        int64_t kl, v;
        if (mp_next(&m, &kl) != 's')
            return llmc_fail(d, "AMDGPU metadata: a key that is not a string");
        const char *k = mp_str(&m, &kl);
        if (key_is(k, kl, "amdhsa.target")) {
            if (mp_next(&m, &v) != 's')
                return llmc_fail(d, "AMDGPU metadata: amdhsa.target is not a string");
            const char *s = mp_str(&m, &v);
            snprintf(out->target, sizeof out->target, "%.*s", (int)(v < 95 ? v : 95), s);
        } else if (key_is(k, kl, "amdhsa.kernels")) {
            if (mp_next(&m, &v) != 'a' || v > 100000)
                return llmc_fail(d, "AMDGPU metadata: amdhsa.kernels is not an array");
            free(out->res);
            out->res = calloc((size_t)(v > 0 ? v : 1), sizeof *out->res);
            if (!out->res)
                return llmc_fail(d, "out of memory");
            out->n_res = 0;
            for (int64_t j = 0; j < v && !m.bad; j++)
                read_kernel(&m, &out->res[out->n_res++]);
        } else {
            mp_skip(&m, 0);
        }
    }
    if (m.bad)
        return llmc_fail(d, "AMDGPU metadata: malformed MessagePack at byte %zu of %zu", (size_t)(m.p - p), n);
    return LLMC_OK;
}

/* ---- the ELF: its note sections ---- */

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

LlmcStatus llmc_amdgpu_read_meta(const void *data, size_t size, LlmcAmdMeta *out, LlmcDiag *d)
{
    memset(out, 0, sizeof *out);
    const uint8_t *b = data;
    if (size < 64 || memcmp(b, "\177ELF", 4) != 0 || b[4] != 2 || b[5] != 1)
        return llmc_fail(d, "not a 64-bit little-endian ELF file (an AMDGPU code object is one)");
    if (le(b + 18, 2) != 224) /* EM_AMDGPU */
        return llmc_fail(d, "an ELF file for machine %u, not AMDGPU (224)", (unsigned)le(b + 18, 2));
    uint64_t shoff = le(b + 40, 8), shentsize = le(b + 58, 2), shnum = le(b + 60, 2);
    if (shentsize < 64 || shoff > size || shnum > (size - shoff) / shentsize)
        return llmc_fail(d, "AMDGPU code object: section headers out of the file");
    int found = 0;
    for (uint64_t i = 0; i < shnum && !found; i++) {
        const uint8_t *sh = b + shoff + i * shentsize;
        if (le(sh + 4, 4) != 7) /* SHT_NOTE */
            continue;
        uint64_t off = le(sh + 24, 8), len = le(sh + 32, 8);
        if (off > size || len > size - off)
            return llmc_fail(d, "AMDGPU code object: a note section out of the file");
        uint64_t at = 0;
        while (len - at >= 12 && !found) {
            const uint8_t *nt = b + off + at;
            uint64_t namesz = le(nt, 4), descsz = le(nt + 4, 4), type = le(nt + 8, 4);
            uint64_t name_pad = (namesz + 3) / 4 * 4, desc_pad = (descsz + 3) / 4 * 4;
            if (name_pad > len - at - 12 || desc_pad > len - at - 12 - name_pad)
                return llmc_fail(d, "AMDGPU code object: a note runs past its section");
            if (type == 32 && namesz == 7 && memcmp(nt + 12, "AMDGPU", 7) == 0) { /* NT_AMDGPU_METADATA */
                if (read_note(nt + 12 + name_pad, descsz, out, d))
                    return LLMC_ERR;
                found = 1;
            }
            at += 12 + name_pad + desc_pad;
        }
    }
    if (!found)
        return llmc_fail(d, "AMDGPU code object without a metadata note (NT_AMDGPU_METADATA)");
    for (int i = 0; i < out->n_res; i++)
        if (!out->res[i].name[0])
            return llmc_fail(d, "AMDGPU metadata: kernel %d has no .name", i);
    return LLMC_OK;
}

void llmc_amdgpu_meta_free(LlmcAmdMeta *m)
{
    free(m->res);
    m->res = NULL;
    m->n_res = 0;
}

const LlmcAmdKernelRes *llmc_amdgpu_find(const LlmcAmdMeta *m, const char *kernel)
{
    for (int i = 0; i < m->n_res; i++)
        if (strcmp(m->res[i].name, kernel) == 0)
            return &m->res[i];
    return NULL;
}

/* ---- compiling ---- */

LlmcStatus llmc_amdgpu_compile(const char *clang, const char *dir, const char *source_name, const char *out_name,
                               const LlmcTarget *tg, LlmcCodeObject *out, LlmcDiag *d)
{
    memset(out, 0, sizeof *out);
    char src[4200], obj[4200], log[4200], arch[64], inc[4200];
    snprintf(src, sizeof src, "%s/%s", dir, source_name);
    snprintf(obj, sizeof obj, "%s/%s", dir, out_name);
    snprintf(log, sizeof log, "%s/hip-%s.log", dir, tg->arch);
    snprintf(arch, sizeof arch, "--offload-arch=%s", tg->arch);
    snprintf(inc, sizeof inc, "-I%s", dir);
    const char *cc = clang ? clang : LLMC_DEFAULT_CLANG;
    char *argv[] = {(char *)cc, "-x", "hip", "-std=c++17", arch, "-nogpulib", "-nogpuinc", "--cuda-device-only",
                    "--no-gpu-bundle-output", "-fuse-cuid=none", "-O3", "-fno-exceptions", "-w", inc, "-o", obj, src,
                    NULL};
    remove(log);
    if (llmc_run_tool(argv, log, dir)) {
        char *text = NULL;
        size_t n = 0;
        LlmcDiag tmp;
        if (llmc_read_file(log, &text, &n, &tmp))
            text = NULL;
        const char *tail = text && n > 3000 ? text + n - 3000 : text;
        llmc_fail(d,
                  "%s for %s failed (AMD targets need clang 19 or newer with lld: Debian's clang-19 and lld-19; "
                  "--clang names another):\n%s",
                  cc, tg->arch, tail ? tail : "(no output)");
        free(text);
        return LLMC_ERR;
    }
    char *bytes = NULL;
    if (llmc_read_file(obj, &bytes, &out->size, d))
        return LLMC_ERR;
    out->data = (uint8_t *)bytes;
    LlmcDiag why;
    if (llmc_amdgpu_read_meta(out->data, out->size, &out->meta, &why))
        return llmc_fail(d, "%s for %s: %s", obj, tg->arch, why.msg);
    char want[96];
    snprintf(want, sizeof want, "amdgcn-amd-amdhsa--%s", tg->arch);
    if (strncmp(out->meta.target, want, strlen(want)) != 0)
        return llmc_fail(d, "%s: a code object for %s, not %s", obj, out->meta.target, want);
    return LLMC_OK;
}

void llmc_code_object_free(LlmcCodeObject *c)
{
    free(c->data);
    c->data = NULL;
    llmc_amdgpu_meta_free(&c->meta);
}
