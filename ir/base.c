/* base.c — diagnostics, the storage-format table (formats.def), half conversion, hashing, atomic file output. */
#include "base.h"

#include "../abi/digest.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

LlmcStatus llmc_fail(LlmcDiag *d, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return LLMC_ERR;
}

static const LlmcFormatTraits formats[LLMC_DTYPE_COUNT] = {
#define X(id, name, alias, bits, block_elems, block_bytes, ctype, to_f32, from_f32, groups, sides, quant, flags) \
    [LLMC_##id] = {#id, name, alias, bits, block_elems, block_bytes, ctype, to_f32, from_f32, groups, sides,   \
                   &llmc_quant_##quant, flags},
#include "formats.def"
};

const LlmcFormatTraits *llmc_format(LlmcDType t)
{
    assert((unsigned)t < LLMC_DTYPE_COUNT);
    return &formats[t];
}

int llmc_format_n_sides(LlmcDType t)
{
    const LlmcFormatTraits *f = llmc_format(t);
    int n = 0;
    while (n < LLMC_MAX_SIDES && f->side[n].role != LLMC_ROLE_NONE)
        n++;
    return n;
}

int llmc_format_side_index(LlmcDType t, int role)
{
    for (int i = 0; i < llmc_format_n_sides(t); i++)
        if (llmc_format(t)->side[i].role == role)
            return i;
    return -1;
}

const char *llmc_role_name(int role)
{
    static const char *const names[LLMC_ROLE_COUNT] = {
        [LLMC_ROLE_NONE] = "none",
#define R(id, name) [LLMC_ROLE_##id] = name,
#include "formats.def"
    };
    return (unsigned)role < LLMC_ROLE_COUNT ? names[role] : "?";
}

const char *llmc_dtype_name(LlmcDType t)
{
    return (unsigned)t < LLMC_DTYPE_COUNT ? formats[t].name : "?";
}

int llmc_dtype_from_name(const char *s, LlmcDType *t)
{
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
        if (strcmp(s, formats[i].name) == 0) {
            *t = (LlmcDType)i;
            return 0;
        }
    return -1;
}

int llmc_format_from_user_name(const char *s, LlmcDType *t)
{
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
        if (formats[i].alias && strcmp(s, formats[i].alias) == 0) {
            *t = (LlmcDType)i;
            return 0;
        }
    return llmc_dtype_from_name(s, t);
}

int llmc_kv_format_from_name(const char *s, LlmcDType *t)
{
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
        if ((formats[i].flags & LLMC_FMT_KV) && strcmp(s, formats[i].name) == 0) {
            *t = (LlmcDType)i;
            return 0;
        }
    return llmc_dtype_from_name(s, t);
}

size_t llmc_dtype_size(LlmcDType t)
{
    return (unsigned)t < LLMC_DTYPE_COUNT ? (size_t)formats[t].block_bytes : 0;
}

int64_t llmc_format_bytes(LlmcDType t, int64_t n)
{
    const LlmcFormatTraits *f = llmc_format(t);
    assert(n % f->block_elems == 0);
    return n / f->block_elems * f->block_bytes;
}

void llmc_format_convert(const void *src, LlmcDType from, void *dst, LlmcDType to, int64_t n)
{
    const LlmcFormatTraits *a = llmc_format(from), *b = llmc_format(to);
    if (from == to) {
        memcpy(dst, src, (size_t)llmc_format_bytes(from, n));
        return;
    }
    enum { CHUNK = 512 }; /* a multiple of every block */
    float buf[CHUNK];
    for (int64_t i = 0; i < n; i += CHUNK) {
        int64_t m = n - i < CHUNK ? n - i : CHUNK;
        a->to_f32((const uint8_t *)src + llmc_format_bytes(from, i), buf, m);
        b->from_f32(buf, (uint8_t *)dst + llmc_format_bytes(to, i), m);
    }
}

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float llmc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0)
            return u2f(sign);
        float f = (float)man * (1.0f / 16777216.0f); /* man * 2^-24 */
        return sign ? -f : f;
    }
    if (exp == 31)
        return u2f(sign | 0x7f800000u | (man << 13));
    return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t llmc_f32_to_f16(float f)
{
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7fffffff;
    if (a >= 0x7f800000) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000 ? 0x200 : 0));
    if (a >= 0x477ff000) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00);
    if (a < 0x38800000) { /* subnormal or zero in f16 */
        float v = u2f(a) * 16777216.0f; /* scale by 2^24; exact rounding by float->int */
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (uint16_t)(sign | m);
    }
    uint32_t r = a + 0xfff + ((a >> 13) & 1) - (112u << 23);
    return (uint16_t)(sign | (r >> 13));
}

float llmc_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t llmc_f32_to_bf16(float f)
{
    uint32_t u = f2u(f);
    if ((u & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float llmc_e4m3_to_f32(uint8_t q)
{
    uint32_t sign = (uint32_t)(q & 0x80) << 24, exp = (q >> 3) & 15, man = q & 7;
    if (exp == 15 && man == 7)
        return u2f(sign | 0x7fc00000u);
    if (exp == 0) {   /* subnormal: man * 2^-9 */
        float f = (float)man * (1.0f / 512.0f);
        return sign ? -f : f;
    }
    return u2f(sign | ((exp + 120) << 23) | (man << 20));
}

uint8_t llmc_f32_to_e4m3(float f)
{
    uint32_t u = f2u(f), sign = (u >> 24) & 0x80, a = u & 0x7fffffff;
    if (a > 0x7f800000)    /* NaN: 0, never the NaN code (the packer refuses NaN weights before) */
        return 0;
    if (a >= 0x43e80000)   /* >= 464 (halfway between 448 and the 480 that does not exist) or inf: saturate */
        return (uint8_t)(sign | 0x7e);
    if (a < 0x3c800000) {  /* below 2^-6: subnormal, steps of 2^-9 */
        float v = u2f(a) * 512.0f;
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (uint8_t)(sign | m);   /* m == 8 is the smallest normal, 0x08: also right */
    }
    uint32_t r = a + 0x7ffff + ((a >> 20) & 1) - (120u << 23);
    return (uint8_t)(sign | (r >> 20));
}

/* ---- the reference conversions of formats.def (n elements, unaligned storage) ---- */

void llmc_f32_decode(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
void llmc_f32_encode(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

void llmc_f16_decode(const void *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, (const uint8_t *)src + 2 * i, 2);
        dst[i] = llmc_f16_to_f32(h);
    }
}

/* The table's f16 and bf16 encoders saturate: a finite value past the largest finite one (65504;
 * bf16 about 3.39e38) becomes that value with its sign, never an infinity (as CUDA's satfinite
 * conversions and the f16 dequantization of the kernels do). Infinities and NaN stay what they
 * are; the packer refuses them in weights before converting. */
void llmc_f16_encode(const float *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = llmc_f32_to_f16(src[i]);
        if ((h & 0x7fff) == 0x7c00 && isfinite(src[i]))
            h ^= 0x7c00 ^ 0x7bff;
        memcpy((uint8_t *)dst + 2 * i, &h, 2);
    }
}

void llmc_bf16_decode(const void *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, (const uint8_t *)src + 2 * i, 2);
        dst[i] = llmc_bf16_to_f32(h);
    }
}

void llmc_bf16_encode(const float *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = llmc_f32_to_bf16(src[i]);
        if ((h & 0x7fff) == 0x7f80 && isfinite(src[i]))
            h ^= 0x7f80 ^ 0x7f7f;
        memcpy((uint8_t *)dst + 2 * i, &h, 2);
    }
}

void llmc_i32_decode(const void *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, (const uint8_t *)src + 4 * i, 4);
        dst[i] = (float)v;
    }
}

void llmc_i32_encode(const float *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float r = nearbyintf(src[i]);
        int32_t v = r != r ? 0 : r >= 2147483647.0f ? INT32_MAX : r <= -2147483648.0f ? INT32_MIN : (int32_t)r;
        memcpy((uint8_t *)dst + 4 * i, &v, 4);
    }
}

void llmc_u8_decode(const void *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)((const uint8_t *)src)[i];
}

void llmc_u8_encode(const float *src, void *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float r = nearbyintf(src[i]);
        ((uint8_t *)dst)[i] = (uint8_t)(r != r || r <= 0 ? 0 : r >= 255 ? 255 : r);
    }
}

uint64_t llmc_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

char *llmc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r)
        memcpy(r, s, n);
    return r;
}

LlmcStatus llmc_out_open(LlmcOutFile *o, const char *path, LlmcDiag *d)
{
    memset(o, 0, sizeof *o);
    size_t n = strlen(path) + 32;
    o->path = llmc_strdup(path);
    o->tmp = malloc(n);
    if (!o->path || !o->tmp) {   /* nothing created yet: o->tmp holds no name to unlink */
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return llmc_fail(d, "%s: out of memory", path);
    }
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "wb");
    if (!o->f) {
        LlmcStatus s = llmc_fail(d, "%s: cannot create: %s", o->tmp, strerror(errno));
        free(o->path);
        free(o->tmp);
        memset(o, 0, sizeof *o);
        return s;
    }
    return LLMC_OK;
}

LlmcStatus llmc_out_write(LlmcOutFile *o, const void *data, size_t n, LlmcDiag *d)
{
    if (n && fwrite(data, 1, n, o->f) != n)
        return llmc_fail(d, "%s: write failed: %s", o->path, strerror(errno));
    if (o->dg)
        llmc_digest_update(o->dg, data, n);
    o->size += (int64_t)n;
    return LLMC_OK;
}

LlmcStatus llmc_out_write_at(LlmcOutFile *o, int64_t off, const void *data, size_t n, LlmcDiag *d)
{
    if (off < 0 || off > o->size || (int64_t)n > o->size - off)
        return llmc_fail(d, "%s: rewrite of [%lld, +%zu) outside the %lld bytes written", o->path, (long long)off, n,
                         (long long)o->size);
    if (fseeko(o->f, (off_t)off, SEEK_SET) != 0 || fwrite(data, 1, n, o->f) != n ||
        fseeko(o->f, (off_t)o->size, SEEK_SET) != 0)
        return llmc_fail(d, "%s: write failed: %s", o->path, strerror(errno));
    return LLMC_OK;
}

/* Flushes and closes o's temporary and gives it its mode; aborts o on failure. */
static LlmcStatus out_close(LlmcOutFile *o, int executable, LlmcDiag *d)
{
    int bad = fflush(o->f) != 0 || ferror(o->f);
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (bad || chmod(o->tmp, executable ? 0755 : 0644) != 0) {
        LlmcStatus s = llmc_fail(d, "%s: write failed: %s", o->path, strerror(errno));
        llmc_out_abort(o);
        return s;
    }
    return LLMC_OK;
}

static void out_forget(LlmcOutFile *o)
{
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}

LlmcStatus llmc_out_commit(LlmcOutFile *o, int executable, LlmcDiag *d)
{
    LlmcOutFile *one[1] = {o};
    return llmc_out_commit_all(one, &executable, 1, d);
}

/* The directory holding path, opened and locked (flock, exclusive): commits into one directory
 * take turns, so two compiles to the same -o cannot interleave their renames and leave the
 * executable of one beside the side file of the other. Returns the descriptor to close (which
 * unlocks), or -1 where the directory cannot be locked (then the commit goes on unlocked). */
static int lock_dir_of(const char *path)
{
    char *dir = llmc_path_dir(path);
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(dir);
    if (fd < 0)
        return -1;
    int rc;
    while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

LlmcStatus llmc_out_commit_all(LlmcOutFile *const *files, const int *exec, int n, LlmcDiag *d)
{
    for (int i = 0; i < n; i++)
        if (out_close(files[i], exec[i], d)) {
            for (int j = 0; j < n; j++)
                llmc_out_abort(files[j]);
            return LLMC_ERR;
        }
    int lock = n > 1 ? lock_dir_of(files[0]->path) : -1;
    /* No stop signal between the renames: either every file is in place or none is. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    for (int i = 0; i < n; i++) {
        if (rename(files[i]->tmp, files[i]->path) == 0)
            continue;
        LlmcStatus s = llmc_fail(d, "%s: cannot move into place: %s", files[i]->path, strerror(errno));
        for (int j = 0; j < i; j++) {   /* both or neither */
            unlink(files[j]->path);
            out_forget(files[j]);
        }
        for (int j = i; j < n; j++)
            llmc_out_abort(files[j]);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (lock >= 0)
            close(lock);
        return s;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (lock >= 0)
        close(lock);
    for (int i = 0; i < n; i++)
        out_forget(files[i]);
    return LLMC_OK;
}

void llmc_out_abort(LlmcOutFile *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}

LlmcStatus llmc_write_file_atomic(const char *path, const void *data, size_t n, LlmcDiag *d)
{
    LlmcOutFile o;
    if (llmc_out_open(&o, path, d))
        return LLMC_ERR;
    if (llmc_out_write(&o, data, n, d)) {
        llmc_out_abort(&o);
        return LLMC_ERR;
    }
    return llmc_out_commit(&o, 0, d);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void llmc_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode))
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        unlink(path);
}

const char *llmc_tmp_dir(void)
{
    const char *t = getenv("TMPDIR");
    struct stat st;
    if (t && t[0] && strlen(t) < 3000 && stat(t, &st) == 0 && S_ISDIR(st.st_mode))
        return t;
    return "/tmp";
}

const char *llmc_file_kind(unsigned mode)
{
    return S_ISREG(mode) ? NULL : S_ISDIR(mode) ? "a directory" : S_ISCHR(mode) ? "a character device"
         : S_ISBLK(mode) ? "a block device" : S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket"
         : "not a regular file";
}

LlmcStatus llmc_read_file(const char *path, char **data, size_t *size, LlmcDiag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return llmc_fail(d, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return llmc_fail(d, "%s: is a directory, expected a file", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n >= LLMC_READ_FILE_MAX) {   /* checked as bytes arrive: /dev/zero ends here too */
            free(buf);
            fclose(f);
            return llmc_fail(d, "%s: larger than %d MB, the most llmc reads of a file whole", path,
                             LLMC_READ_FILE_MAX >> 20);
        }
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (!buf)
        return llmc_fail(d, "%s: out of memory", path);
    if (err) {
        free(buf);
        return llmc_fail(d, "%s: read failed: %s", path, strerror(err));
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return LLMC_OK;
}

char *llmc_path_join(const char *dir, const char *rel)
{
    if (rel[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0)
        return llmc_strdup(rel);
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", dir, rel);
    return r;
}

char *llmc_path_dir(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return llmc_strdup(".");
    if (s == path)
        return llmc_strdup("/");
    size_t n = (size_t)(s - path);
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, path, n);
        r[n] = 0;
    }
    return r;
}

void llmc_fp8_decode(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = llmc_e4m3_to_f32(s[i]);
}

void llmc_fp8_encode(const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = llmc_f32_to_e4m3(src[i]);
}

/* u2: the integer values 0..3, four a byte (element i in bits 2 (i % 4)): KIVI-2's codes. */
void llmc_u2_decode(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)((s[i / 4] >> (2 * (i & 3))) & 3);
}

void llmc_u2_encode(const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        float v = src[i];
        unsigned c = (unsigned)(v >= 0 ? (v <= 3 ? rintf(v) : 3) : 0);
        if (i % 4 == 0)
            d[i / 4] = 0;
        d[i / 4] = (uint8_t)(d[i / 4] | c << (2 * (i & 3)));
    }
}

/* u4: the integer values 0..15 (scale and zero point are the layout's). */
void llmc_u4_decode(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = (float)((s[i / 2] >> (4 * (i & 1))) & 15);
}

/* The nearest of 0..15 (ties to even), clamped while still a float: no value, however large, and
 * no infinity wraps around through an integer conversion; NaN is 0 (never reached: the packer
 * refuses NaN weights). */
static unsigned u4_code(float v)
{
    v = v >= 0 ? (v <= 15 ? rintf(v) : 15) : 0;
    return (unsigned)v;
}

void llmc_u4_encode(const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i += 2)
        d[i / 2] = (uint8_t)(u4_code(src[i]) | u4_code(src[i + 1]) << 4);
}

/* E2M1 (nvfp4's values): code s.ee.m, the value (-1)^s 2^(e - 1) (1 + m / 2) for e > 0 and
 * (-1)^s m / 2 for e = 0: +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
float llmc_e2m1_to_f32(unsigned q)
{
    static const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    return q & 8 ? -mag[q & 7] : mag[q & 7];
}

/* The nearest E2M1 code, ties to the even code (the even mantissa), saturating at +-6 (infinities
 * too): compared as a float against the midpoints, so nothing wraps. The sign bit is the value's
 * (x < 0), so a small negative value becomes -0 (code 8), as ModelOpt writes it; NaN gives 0. */
unsigned llmc_f32_to_e2m1(float x)
{
    if (x != x)
        return 0;
    float a = fabsf(x);
    unsigned m = a <= 0.25f ? 0 : a < 0.75f ? 1 : a <= 1.25f ? 2 : a < 1.75f ? 3 : a <= 2.5f ? 4 : a < 3.5f ? 5 : a <= 5.0f ? 6 : 7;
    return m | (x < 0 ? 8u : 0u);
}

/* nvfp4's values, two a byte (even element in the low nibble; its scales are the layout's). */
void llmc_e2m1_decode(const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = llmc_e2m1_to_f32((s[i / 2] >> (4 * (i & 1))) & 15u);
}

void llmc_e2m1_encode(const float *src, void *dst, int64_t n)
{
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i += 2)
        d[i / 2] = (uint8_t)(llmc_f32_to_e2m1(src[i]) | llmc_f32_to_e2m1(src[i + 1]) << 4);
}
