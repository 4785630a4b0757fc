/* rtutil.c — see rtutil.h. */
#include "rtutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int llmc_rt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

double llmc_rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void *llmc_rt_alloc_uninit(size_t size)
{
    size_t n = (size + 63) & ~(size_t)63;
    if (n < size)
        return NULL;                    /* overflow */
    if (n == 0)
        n = 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, n) != 0)
        return NULL;
    return p;
}

void *llmc_rt_alloc(size_t size)
{
    void *p = llmc_rt_alloc_uninit(size);
    if (p)
        memset(p, 0, size);
    return p;
}

/* A limit in messages: "256 MiB", else "1000 bytes". */
static size_t size_num(size_t n) { return n % (1 << 20) == 0 && n ? n >> 20 : n; }
static const char *size_unit(size_t n) { return n % (1 << 20) == 0 && n ? "MiB" : "bytes"; }

int llmc_rt_read_file(const char *path, size_t limit, char **data, size_t *size, char *err,
                      size_t errlen)
{
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "stdin" : path;
    int fd = from_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return llmc_rt_fail(err, errlen, "%s: cannot open: %s", name, strerror(errno));
    struct stat st;
    int have_st = fstat(fd, &st) == 0;
    enum { OK, IS_DIR, TOO_LARGE, NO_MEMORY, READ_ERROR } state = OK;
    if (have_st && S_ISDIR(st.st_mode))
        state = IS_DIR;
    else if (have_st && S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit)
        state = TOO_LARGE;
    /* The buffer grows as bytes arrive, to one byte past the limit at most. */
    size_t cap = limit < 65536 ? limit + 1 : 65536, n = 0;
    char *buf = NULL;
    int en = 0;
    if (state == OK && !(buf = malloc(cap + 1)))
        state = NO_MEMORY;
    while (state == OK) {
        if (n == cap) {
            if (n > limit) {
                state = TOO_LARGE;
                break;
            }
            size_t ncap = cap <= limit / 2 ? cap * 2 : limit + 1;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                state = NO_MEMORY;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            en = errno;
            state = READ_ERROR;
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
        }
    }
    if (state == OK && n > limit)
        state = TOO_LARGE;
    if (!from_stdin)
        close(fd);
    switch (state) {
    case OK:
        buf[n] = 0;
        *data = buf;
        *size = n;
        return 0;
    case IS_DIR:
        return llmc_rt_fail(err, errlen, "%s: is a directory; expected a file", name);
    case TOO_LARGE:
        free(buf);
        return llmc_rt_fail(err, errlen, "%s: more than %zu %s, the limit for a text to read "
                            "(docs/limits.md)", name, size_num(limit), size_unit(limit));
    case NO_MEMORY:
        free(buf);
        return llmc_rt_fail(err, errlen, "%s: out of memory reading the file", name);
    case READ_ERROR:
        break;
    }
    free(buf);
    return llmc_rt_fail(err, errlen, "%s: read error: %s", name, strerror(en));
}

enum { LLMC_LINES_CHUNK = 1 << 16 };

int llmc_rt_lines_open(LlmcLines *r, const char *path, size_t limit, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    int from_stdin = strcmp(path, "-") == 0;
    r->name = from_stdin ? "stdin" : path;
    r->limit = limit;
    r->fd = from_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return llmc_rt_fail(err, errlen, "%s: cannot open: %s", r->name, strerror(errno));
    r->own_fd = !from_stdin;
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        llmc_rt_lines_close(r);
        return llmc_rt_fail(err, errlen, "%s: is a directory; expected a file", path);
    }
    r->seekable = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode);
    r->chunk = malloc(LLMC_LINES_CHUNK);
    r->line_cap = 256;
    r->line = malloc(r->line_cap);
    if (!r->chunk || !r->line) {
        llmc_rt_lines_close(r);
        return llmc_rt_fail(err, errlen, "%s: out of memory", path);
    }
    return 0;
}

int llmc_rt_lines_next(LlmcLines *r, char *err, size_t errlen)
{
    int started = 0;            /* a byte (or the newline) of this line was read */
    r->line_len = 0;
    for (;;) {
        if (r->chunk_pos == r->chunk_len) {
            if (r->eof)
                break;
            ssize_t n = read(r->fd, r->chunk, LLMC_LINES_CHUNK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return llmc_rt_fail(err, errlen, "%s:%lld: read error: %s", r->name,
                                    (long long)r->line_no + 1, strerror(errno));
            if (n == 0) {
                r->eof = 1;
                break;
            }
            r->chunk_len = (size_t)n;
            r->chunk_pos = 0;
        }
        const char *at = r->chunk + r->chunk_pos;
        const char *nl = memchr(at, '\n', r->chunk_len - r->chunk_pos);
        size_t take = nl ? (size_t)(nl - at) : r->chunk_len - r->chunk_pos;
        if (take > r->limit - r->line_len)
            return llmc_rt_fail(err, errlen, "%s:%lld: a line of more than %zu %s, the limit for "
                                "a text to read (docs/limits.md)", r->name, (long long)r->line_no + 1,
                                size_num(r->limit), size_unit(r->limit));
        if (r->line_len + take + 1 > r->line_cap) {
            size_t cap = r->line_cap;
            while (r->line_len + take + 1 > cap)
                cap = cap <= r->limit / 2 ? cap * 2 : r->limit + 1;
            char *nb = realloc(r->line, cap);
            if (!nb)
                return llmc_rt_fail(err, errlen, "%s:%lld: out of memory for a line of %zu bytes",
                                    r->name, (long long)r->line_no + 1, r->line_len + take);
            r->line = nb;
            r->line_cap = cap;
        }
        memcpy(r->line + r->line_len, at, take);
        r->line_len += take;
        r->chunk_pos += take + (nl != NULL);
        started = 1;
        if (nl)
            break;
    }
    if (!started)
        return 0;
    if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
        r->line_len--;
    r->line[r->line_len] = 0;
    r->line_no++;
    return 1;
}

int llmc_rt_lines_rewind(LlmcLines *r, char *err, size_t errlen)
{
    if (!r->seekable || lseek(r->fd, 0, SEEK_SET) != 0)
        return llmc_rt_fail(err, errlen, "%s: cannot read it a second time (not a regular file)",
                            r->name);
    r->chunk_len = r->chunk_pos = 0;
    r->eof = 0;
    r->line_no = 0;
    return 0;
}

void llmc_rt_lines_close(LlmcLines *r)
{
    if (r->own_fd)
        close(r->fd);
    free(r->chunk);
    free(r->line);
    memset(r, 0, sizeof *r);
}
