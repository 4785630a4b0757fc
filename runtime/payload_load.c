/* payload_load.c — see payload_load.h.
 *
 * Every check names the file it read, what it expected and what it found: a truncated download,
 * a stripped executable or a side file from another build must give a message a user can act on,
 * never a crash inside the model's first step.
 */
#include "payload_load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "payload.h"
#include "rtutil.h"

int llmc_self_exe(char *buf, size_t bufsize, const char *argv0, char *err, size_t errlen)
{
    const char *path = "/proc/self/exe";
    if (access(path, R_OK) != 0) {
        if (!argv0 || !argv0[0])
            return llmc_rt_fail(err, errlen,
                                "cannot locate the executable: /proc/self/exe is not readable "
                                "and argv[0] is empty");
        path = argv0;
    }
    if (strlen(path) >= bufsize)
        return llmc_rt_fail(err, errlen, "executable path too long: %s", path);
    strcpy(buf, path);
    return 0;
}

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Maps [off, off+len) of fd read-only; off need not be page-aligned. On success p keeps fd (open
 * while mapped, for llmc_payload_changed), else the caller closes it. */
static int map_region(LlmcPayload *p, int fd, uint64_t off, uint64_t len, const char *path,
                      char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return llmc_rt_fail(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    uint64_t start = off / page * page, delta = off - start;
    if (len > SIZE_MAX - delta)
        return llmc_rt_fail(err, errlen, "%s: payload of %llu bytes does not fit the address space",
                            path, (unsigned long long)len);
    void *m = mmap(NULL, (size_t)(len + delta), PROT_READ, MAP_PRIVATE, fd, (off_t)start);
    if (m == MAP_FAILED)
        return llmc_rt_fail(err, errlen, "%s: cannot map %llu bytes of weights: %s", path,
                            (unsigned long long)len, strerror(errno));
    p->map = m;
    p->map_len = (size_t)(len + delta);
    p->base = (const uint8_t *)m + delta;
    p->size = len;
    p->fd = fd;
    p->file_size = (int64_t)st.st_size;
    p->mtime_ns = mtime_ns(&st);
    return 0;
}

/* A section [off, off+size) lies inside the payload and starts on a 4096-byte boundary. */
static int section_ok(uint64_t off, uint64_t size, uint64_t total)
{
    return off % LLMC_PAYLOAD_ALIGN == 0 && off >= sizeof(LlmcPayloadHeader) && off <= total &&
           size <= total - off;
}

static const char *hex16(const uint8_t d[LLMC_DIGEST_BYTES], char buf[2 * LLMC_DIGEST_BYTES + 1])
{
    llmc_digest_hex(d, buf);
    return buf;
}

/* f: the executable's footer (NULL when it has none: --weights with a stripped executable). */
static int check_header(LlmcPayload *p, const LlmcModelDesc *d, const LlmcFooter *f, const char *exe, int separate,
                        char *err, size_t errlen)
{
    const char *path = p->path;
    if (p->size < sizeof(LlmcPayloadHeader))
        return llmc_rt_fail(err, errlen, "%s: payload of %llu bytes is smaller than its header",
                            path, (unsigned long long)p->size);
    LlmcPayloadHeader h;
    memcpy(&h, p->base, sizeof h);
    if (memcmp(h.magic, LLMC_PAYLOAD_MAGIC_V1, sizeof h.magic) == 0)
        return llmc_rt_fail(err, errlen, "%s: a weights payload of an older llmc (format 1, no digests): "
                            "compile the model again", path);
    if (memcmp(h.magic, LLMC_PAYLOAD_MAGIC, sizeof h.magic) != 0)
        return llmc_rt_fail(err, errlen, "%s: not an llmc weights payload (bad magic)", path);
    if (h.model_hash != d->model_hash) {
        if (separate)
            return llmc_rt_fail(err, errlen,
                                "%s: these weights were packed for model hash %016llx, but %s was "
                                "compiled for %016llx: the weights file belongs to another build",
                                path, (unsigned long long)h.model_hash, exe,
                                (unsigned long long)d->model_hash);
        return llmc_rt_fail(err, errlen,
                            "%s: embedded payload has model hash %016llx, the model code expects "
                            "%016llx: the executable was modified after llmc compile",
                            path, (unsigned long long)h.model_hash,
                            (unsigned long long)d->model_hash);
    }
    if (f) {
        uint8_t hd[LLMC_DIGEST_BYTES];
        char a[33], b[33];
        if (llmc_digest_buffer(&h, sizeof h, 1, hd) != 0)
            return llmc_rt_fail(err, errlen, "%s: out of memory", path);
        if (memcmp(hd, f->header_digest, sizeof hd) != 0) {
            if (separate)
                return llmc_rt_fail(err, errlen,
                                    "%s: not the weights file %s was linked with: its header's content "
                                    "digest is %s, the executable expects %s (a file from another build "
                                    "of the same model, or one modified since)",
                                    path, exe, hex16(hd, a), hex16(f->header_digest, b));
            return llmc_rt_fail(err, errlen,
                                "%s: the payload header is damaged or was modified after llmc compile "
                                "(content digest %s, the footer expects %s)",
                                path, hex16(hd, a), hex16(f->header_digest, b));
        }
    }
    if (h.total_size < sizeof h || h.total_size > p->size)
        return llmc_rt_fail(err, errlen,
                            "%s: payload header says %llu bytes, the file holds %llu (truncated?)",
                            path, (unsigned long long)h.total_size, (unsigned long long)p->size);
    if (!section_ok(h.weights_off, h.weights_size, h.total_size))
        return llmc_rt_fail(err, errlen,
                            "%s: weights section [%llu, +%llu) is misaligned or outside the "
                            "payload of %llu bytes",
                            path, (unsigned long long)h.weights_off,
                            (unsigned long long)h.weights_size, (unsigned long long)h.total_size);
    if (h.weights_size != (uint64_t)d->weights_bytes)
        return llmc_rt_fail(err, errlen, "%s: weights section is %llu bytes, the model expects %lld",
                            path, (unsigned long long)h.weights_size, (long long)d->weights_bytes);
    p->weights = p->base + h.weights_off;
    p->weights_size = h.weights_size;
    if (h.tokenizer_kind != LLMC_TOK_NONE && h.tokenizer_kind != LLMC_TOK_LLAMA2C &&
        h.tokenizer_kind != LLMC_TOK_SENTENCEPIECE && h.tokenizer_kind != LLMC_TOK_HF)
        return llmc_rt_fail(err, errlen, "%s: unknown tokenizer kind %u", path, h.tokenizer_kind);
    p->tokenizer_kind = h.tokenizer_kind;
    if (h.tokenizer_kind != LLMC_TOK_NONE) {
        if (h.tokenizer_size == 0 || !section_ok(h.tokenizer_off, h.tokenizer_size, h.total_size))
            return llmc_rt_fail(err, errlen,
                                "%s: tokenizer section [%llu, +%llu) is empty, misaligned or "
                                "outside the payload of %llu bytes",
                                path, (unsigned long long)h.tokenizer_off,
                                (unsigned long long)h.tokenizer_size,
                                (unsigned long long)h.total_size);
        p->tokenizer = p->base + h.tokenizer_off;
        p->tokenizer_size = h.tokenizer_size;
    }
    return 0;
}

static int open_file(const char *path, uint64_t *size, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return llmc_rt_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int en = errno;
        close(fd);
        return llmc_rt_fail(err, errlen, "%s: cannot stat: %s", path, strerror(en));
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* A whole payload file (--weights, or a side file of expect_size bytes per the footer). The
 * header is checked first: a file from another build is reported as that, whatever its size. */
static int open_payload_file(LlmcPayload *p, const LlmcModelDesc *d, const LlmcFooter *f, const char *path,
                             uint64_t expect_size, const char *exe, char *err, size_t errlen)
{
    snprintf(p->path, sizeof p->path, "%s", path);
    uint64_t size;
    int fd = open_file(path, &size, err, errlen);
    if (fd < 0)
        return -1;
    if (size < sizeof(LlmcPayloadHeader)) {
        close(fd);
        return llmc_rt_fail(err, errlen, "%s: %llu bytes, too small for an llmc weights payload",
                            path, (unsigned long long)size);
    }
    int rc = map_region(p, fd, 0, size, path, err, errlen);
    if (rc != 0)
        close(fd);
    if (rc != 0 || check_header(p, d, f, exe, 1, err, errlen) != 0)
        return -1;
    if (expect_size != 0 && size != expect_size)
        return llmc_rt_fail(err, errlen, "%s: %llu bytes, %s expects a payload of %llu (truncated?)",
                            path, (unsigned long long)size, exe, (unsigned long long)expect_size);
    return 0;
}

/* Reads and checks the executable's footer. Returns 1 with *f filled, 0 when the file has no footer
 * and that is allowed (`missing_ok`: --weights names the payload), -1 with a message. */
static int read_footer(int fd, uint64_t size, const char *exe, const LlmcModelDesc *d, int missing_ok,
                       LlmcFooter *f, char *err, size_t errlen)
{
    if (size < sizeof *f) {
        if (missing_ok)
            return 0;
        return llmc_rt_fail(err, errlen, "%s: no llmc payload footer (file of %llu bytes)", exe,
                            (unsigned long long)size);
    }
    ssize_t got = pread(fd, f, sizeof *f, (off_t)(size - sizeof *f));
    if (got != (ssize_t)sizeof *f)
        return llmc_rt_fail(err, errlen, "%s: cannot read the payload footer: %s", exe,
                            got < 0 ? strerror(errno) : "short read");
    char old[8];   /* format 1's footer was 296 bytes */
    if (memcmp(f->magic, LLMC_FOOTER_MAGIC, sizeof f->magic) != 0 &&
        pread(fd, old, sizeof old, (off_t)(size - 296)) == (ssize_t)sizeof old &&
        memcmp(old, LLMC_FOOTER_MAGIC_V1, sizeof old) == 0)
        return llmc_rt_fail(err, errlen, "%s: built by an older llmc (payload format 1, no digests): compile "
                            "the model again", exe);
    if (memcmp(f->magic, LLMC_FOOTER_MAGIC, sizeof f->magic) != 0) {
        if (missing_ok)
            return 0;
        return llmc_rt_fail(err, errlen,
                            "%s: no llmc payload footer at the end of the file (was the executable "
                            "stripped or modified after llmc compile?); --weights PATH names the "
                            "weights file directly",
                            exe);
    }
    uint8_t fd_digest[LLMC_DIGEST_BYTES];
    if (llmc_digest_buffer(f, offsetof(LlmcFooter, footer_digest), 1, fd_digest) != 0)
        return llmc_rt_fail(err, errlen, "%s: out of memory", exe);
    if (memcmp(fd_digest, f->footer_digest, sizeof fd_digest) != 0)
        return llmc_rt_fail(err, errlen, "%s: the payload footer (the last %zu bytes) is damaged: its content "
                            "digest does not match", exe, sizeof *f);
    if (f->model_hash != d->model_hash)
        return llmc_rt_fail(err, errlen,
                            "%s: payload footer is for model hash %016llx, the model code expects "
                            "%016llx: the executable was modified after llmc compile",
                            exe, (unsigned long long)f->model_hash,
                            (unsigned long long)d->model_hash);
    uint64_t limit = size - sizeof *f;
    if (f->program_size > limit || (!f->external && f->program_size != f->payload_off))
        return llmc_rt_fail(err, errlen, "%s: payload footer says the program is %llu bytes, which does not fit "
                            "the file of %llu bytes (truncated?)",
                            exe, (unsigned long long)f->program_size, (unsigned long long)size);
    return 1;
}

int llmc_payload_open(LlmcPayload *p, const LlmcModelDesc *d, const char *exe_path,
                      const char *weights_path, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    const uint16_t one = 1;
    if (*(const uint8_t *)&one != 1)
        return llmc_rt_fail(err, errlen, "llmc payloads are little-endian; this host is not");

    /* For messages and the side file's directory: the real file behind /proc/self/exe. */
    char exe[PATH_MAX];
    if (!realpath(exe_path, exe))
        snprintf(exe, sizeof exe, "%s", exe_path);
    snprintf(p->exe, sizeof p->exe, "%s", exe_path);

    uint64_t size;
    int fd = open_file(exe_path, &size, err, errlen);
    if (fd < 0)
        return -1;
    LlmcFooter f;
    int have = read_footer(fd, size, exe, d, weights_path != NULL, &f, err, errlen);
    if (have < 0) {
        close(fd);
        return -1;
    }
    p->have_footer = have;
    if (have) {
        p->program_size = f.program_size;
        memcpy(p->program_digest, f.program_digest, sizeof p->program_digest);
    }
    const LlmcFooter *fp = have ? &f : NULL;
    int rc;
    if (weights_path) {
        close(fd);
        rc = open_payload_file(p, d, fp, weights_path, 0, exe, err, errlen);
        goto out;
    }
    if (f.external) {
        close(fd);
        size_t n = strnlen(f.side_file, sizeof f.side_file);
        if (n == 0 || n == sizeof f.side_file || memchr(f.side_file, '/', n))
            return llmc_rt_fail(err, errlen,
                                "%s: payload footer names an invalid side file (empty, "
                                "unterminated or with a directory)",
                                exe);
        char side[PATH_MAX + 256];
        const char *slash = strrchr(exe, '/');
        if (slash)
            snprintf(side, sizeof side, "%.*s/%s", (int)(slash - exe), exe, f.side_file);
        else
            snprintf(side, sizeof side, "%s", f.side_file);
        rc = open_payload_file(p, d, fp, side, f.payload_size, exe, err, errlen);
        goto out;
    }
    snprintf(p->path, sizeof p->path, "%s", exe);
    uint64_t limit = size - sizeof f;
    if (f.payload_off % LLMC_PAYLOAD_ALIGN != 0 || f.payload_off > limit ||
        f.payload_size > limit - f.payload_off || f.payload_size < sizeof(LlmcPayloadHeader)) {
        close(fd);
        return llmc_rt_fail(err, errlen,
                            "%s: payload footer points at [%llu, +%llu), which is misaligned or "
                            "outside the file of %llu bytes (truncated?)",
                            exe, (unsigned long long)f.payload_off,
                            (unsigned long long)f.payload_size, (unsigned long long)size);
    }
    rc = map_region(p, fd, f.payload_off, f.payload_size, exe, err, errlen);
    if (rc != 0)
        close(fd);
    if (rc == 0)
        rc = check_header(p, d, &f, exe, 0, err, errlen);
out:
    if (rc != 0)
        llmc_payload_close(p);
    return rc;
}

static int all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Checks one section's digest; `what` names it in the message. */
static int check_section(const void *data, uint64_t n, const uint8_t want[LLMC_DIGEST_BYTES], int threads,
                         const char *file, const char *what, char *err, size_t errlen)
{
    uint8_t got[LLMC_DIGEST_BYTES];
    char a[33], b[33];
    if (llmc_digest_buffer(data, n, threads, got) != 0)
        return llmc_rt_fail(err, errlen, "%s: out of memory checking the %s", file, what);
    if (memcmp(got, want, sizeof got) != 0)
        return llmc_rt_fail(err, errlen,
                            "%s: the %s section is damaged or was modified after llmc compile: its "
                            "content digest is %s, llmc compile recorded %s (--no-verify runs it anyway)",
                            file, what, hex16(got, a), hex16(want, b));
    return 0;
}

int llmc_verify_images(const LlmcModelDesc *d, const char *exe, int threads, char *err, size_t errlen)
{
    for (int32_t i = 0; i < d->n_gpu_images; i++) {
        const LlmcGpuImage *im = &d->gpu_images[i];
        char what[96];
        snprintf(what, sizeof what, "kernels (%s image)", im->arch ? im->arch : "?");
        if (check_section(im->data, im->size, im->digest, threads, exe, what, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int llmc_payload_verify(const LlmcPayload *p, int threads, uint64_t *bytes, char *err, size_t errlen)
{
    uint64_t read = 0;
    if (p->have_footer) {
        int fd = open(p->exe, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return llmc_rt_fail(err, errlen, "%s: cannot open: %s", p->exe, strerror(errno));
        void *m = p->program_size ? mmap(NULL, (size_t)p->program_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
        int en = errno;
        close(fd);
        if (m == MAP_FAILED)
            return llmc_rt_fail(err, errlen, "%s: cannot map the program: %s", p->exe, strerror(en));
        int rc = check_section(m, p->program_size, p->program_digest, threads, p->exe,
                               "program (host code and kernel images)", err, errlen);
        if (m)
            munmap(m, (size_t)p->program_size);
        if (rc != 0)
            return -1;
        read += p->program_size;
    }
    /* The padding between the header and the sections holds zeros and nothing else. */
    LlmcPayloadHeader h;
    memcpy(&h, p->base, sizeof h);
    uint64_t w_end = h.weights_off + h.weights_size, gap_end = p->tokenizer ? h.tokenizer_off : h.total_size;
    uint64_t t_end = p->tokenizer ? h.tokenizer_off + h.tokenizer_size : h.total_size;
    if (!all_zero(p->base + sizeof h, h.weights_off - sizeof h) ||
        (gap_end > w_end && !all_zero(p->base + w_end, gap_end - w_end)) ||
        (h.total_size > t_end && !all_zero(p->base + t_end, h.total_size - t_end)))
        return llmc_rt_fail(err, errlen, "%s: the padding between the payload's sections is damaged (it holds "
                            "non-zero bytes) or was modified after llmc compile", p->path);
    if (check_section(p->weights, p->weights_size, h.weights_digest, threads, p->path, "weights", err, errlen) != 0 ||
        check_section(p->tokenizer, p->tokenizer_size, h.tokenizer_digest, threads, p->path, "tokenizer", err,
                      errlen) != 0)
        return -1;
    read += p->weights_size + p->tokenizer_size;
    if (bytes)
        *bytes = read;
    return 0;
}

int llmc_payload_changed(const LlmcPayload *p, char *err, size_t errlen)
{
    struct stat st;
    if (p->fd < 0 || fstat(p->fd, &st) != 0)
        return 0;
    if ((int64_t)st.st_size == p->file_size && mtime_ns(&st) == p->mtime_ns)
        return 0;
    if ((int64_t)st.st_size != p->file_size)
        return llmc_rt_fail(err, errlen, "%s: the weights file changed while the model was running (%lld "
                            "bytes, %lld when it was opened); stopping", p->path, (long long)st.st_size,
                            (long long)p->file_size);
    return llmc_rt_fail(err, errlen, "%s: the weights file was modified while the model was running; "
                        "stopping", p->path);
}

void llmc_payload_close(LlmcPayload *p)
{
    if (p->map)
        munmap(p->map, p->map_len);
    if (p->fd >= 0)
        close(p->fd);
    memset(p, 0, sizeof *p);
    p->fd = -1;
}
