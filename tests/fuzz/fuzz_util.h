/* fuzz_util.h — what the libFuzzer harnesses share: the input as a file (a memfd, so no disk is
 * touched and every run starts clean) and as a NUL-terminated string.
 *
 * Each harness is one LLVMFuzzerTestOneInput over one parser. A harness fails only through a
 * sanitizer report, a crash, a leak or a timeout: every input must get either a result or a
 * message. scripts/fuzz.sh builds them with clang -fsanitize=fuzzer,address,undefined and runs
 * each for a fixed time on seed corpora made from ../shared/models. */
#ifndef LLMC_FUZZ_UTIL_H
#define LLMC_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding data; *path is "/proc/self/fd/N". Returns the fd (close it after) or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t n)
{
    int fd = memfd_create("llmc-fuzz", 0);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

/* A NUL-terminated copy of the input (malloc'd). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
