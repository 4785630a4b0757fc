/* gpu_image.c — the CUDA backend's pure parts (gpu.h): step buckets and padding for CUDA graphs,
 * and the choice of the image a GPU runs (either vendor). No device, no driver: tests/test_gpu_runtime.c checks
 * them directly.
 */
#include "gpu.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "rtutil.h"

int32_t llmc_gpu_bucket(int32_t n, int32_t cap)
{
    assert(n >= 1 && n <= cap);
    int32_t b = 1;
    while (b < n)
        b *= 2;
    return b < cap ? b : cap;
}

int32_t llmc_gpu_seq_runs(const LlmcStep *st)
{
    int32_t runs = 0;
    for (int32_t t = 0; t < st->n_tokens; t++)
        runs += t == 0 || st->seq_of_token[t] != st->seq_of_token[t - 1] ||
                st->positions[t] != st->positions[t - 1] + 1;
    return runs;
}

int32_t llmc_gpu_graph_bucket(const LlmcStep *st, int32_t max_tokens, int32_t max_outputs)
{
    if (st->n_nodes != 0 || st->n_tokens < 1 || st->n_tokens > LLMC_GPU_GRAPH_MAX_TOKENS ||
        st->n_out != st->n_tokens || llmc_gpu_seq_runs(st) != st->n_tokens)
        return 0;
    for (int32_t i = 0; i < st->n_out; i++)
        if (st->out_rows[i] != i)
            return 0;
    int32_t cap = max_tokens < max_outputs ? max_tokens : max_outputs;
    if (st->n_tokens > cap)
        return 0;
    return llmc_gpu_bucket(st->n_tokens, cap);
}

void llmc_gpu_pad_step(const LlmcStep *st, int32_t bucket, int32_t pad_row, int32_t pad_slot,
                       const LlmcGpuStepArrays *out)
{
    int32_t n = st->n_tokens;
    assert(bucket >= n);
    size_t sz = (size_t)n * sizeof(int32_t);
    memcpy(out->tokens, st->tokens, sz);
    memcpy(out->positions, st->positions, sz);
    memcpy(out->seq_of_token, st->seq_of_token, sz);
    memcpy(out->slots, st->slots, sz);
    for (int32_t i = n; i < bucket; i++) {
        out->tokens[i] = 0;
        out->positions[i] = 0;
        out->seq_of_token[i] = pad_row;
        out->slots[i] = pad_slot;
    }
    for (int32_t i = 0; i < bucket; i++)
        out->out_rows[i] = i;
}

static const char *vendor_name(int32_t vendor)
{
    return vendor == LLMC_GPU_VENDOR_NVIDIA ? "NVIDIA" : vendor == LLMC_GPU_VENDOR_AMD ? "AMD" : "?";
}

/* NVIDIA's rules (the vendor already matches; AMD's: the same gfx name). */
static int image_runs_on(const LlmcGpuImage *im, int32_t sm)
{
    if (im->arch_specific)
        return im->sm == sm;
    return im->sm / 10 == sm / 10 && im->sm % 10 <= sm % 10;
}

static void arch_list(const LlmcGpuImage *images, int32_t n, char *buf, size_t buflen)
{
    size_t len = 0;
    buf[0] = 0;
    for (int32_t i = 0; i < n && len + 1 < buflen; i++) {
        int w = snprintf(buf + len, buflen - len, "%s%s", i ? ", " : "",
                         images[i].arch ? images[i].arch : "?");
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (n == 0)
        snprintf(buf, buflen, "no GPU architecture");
}

void llmc_gpu_arch_list(const LlmcModelDesc *d, char *buf, size_t buflen)
{
    arch_list(d->gpu_images, d->gpu_images ? d->n_gpu_images : 0, buf, buflen);
}

int llmc_gpu_select_image(const LlmcGpuImage *images, int32_t n, int32_t vendor, int32_t sm,
                          const char *arch, const char *gpu_name, char *err, size_t errlen)
{
    int best = -1, of_vendor = 0;
    for (int32_t i = 0; i < n; i++) {
        const LlmcGpuImage *im = &images[i];
        if (im->vendor != vendor)
            continue;
        of_vendor++;
        if (vendor == LLMC_GPU_VENDOR_AMD) {
            if (best < 0 && im->arch && arch && strcmp(im->arch, arch) == 0)
                best = i;
            continue;
        }
        if (!image_runs_on(im, sm))
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        const LlmcGpuImage *b = &images[best];
        /* exact sm first, arch-specific first among exact ones, then the highest sm */
        int im_exact = im->sm == sm, b_exact = b->sm == sm;
        if (im_exact != b_exact) {
            if (im_exact)
                best = i;
        } else if (im_exact) {
            if (im->arch_specific && !b->arch_specific)
                best = i;
        } else if (im->sm > b->sm) {
            best = i;
        }
    }
    if (best >= 0)
        return best;
    char archs[512];
    arch_list(images, n, archs, sizeof archs);
    if (of_vendor == 0)
        return llmc_rt_fail(err, errlen,
                            "this executable has no image for %s GPUs (built for %s); this GPU is "
                            "%s",
                            vendor_name(vendor), archs, gpu_name);
    if (vendor == LLMC_GPU_VENDOR_AMD)
        return llmc_rt_fail(err, errlen,
                            "this executable was built for %s; this GPU is %s (%s): rebuild with "
                            "llmc compile --target %s",
                            archs, gpu_name, arch ? arch : "?", arch ? arch : "?");
    return llmc_rt_fail(err, errlen,
                        "this executable was built for %s; this GPU is %s (sm_%d): rebuild with "
                        "llmc compile --target sm_%d",
                        archs, gpu_name, sm, sm);
}
