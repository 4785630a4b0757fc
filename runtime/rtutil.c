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

void *llmc_rt_alloc(size_t size)
{
    size_t n = (size + 63) & ~(size_t)63;
    if (n < size)
        return NULL;                    /* overflow */
    if (n == 0)
        n = 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, n) != 0)
        return NULL;
    memset(p, 0, n);
    return p;
}

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
        return llmc_rt_fail(err, errlen, "%s: more than %zu bytes, the limit for a text to read "
                            "(docs/limits.md)", name, limit);
    case NO_MEMORY:
        free(buf);
        return llmc_rt_fail(err, errlen, "%s: out of memory reading the file", name);
    case READ_ERROR:
        break;
    }
    free(buf);
    return llmc_rt_fail(err, errlen, "%s: read error: %s", name, strerror(en));
}
