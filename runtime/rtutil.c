/* rtutil.c — see rtutil.h. */
#include "rtutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
