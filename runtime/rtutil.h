/* rtutil.h — small helpers shared by the runtime files: error messages written into a caller's
 * buffer (the runtime's user-error channel, like tokenizer.h: functions return 0 or -1 and fill
 * `err`), a monotonic clock, checked 64-byte aligned allocation, and reading a whole file.
 *
 * The runtime does not link the compiler's ir/base.c: a model executable carries only runtime/.
 */
#ifndef LLMC_RTUTIL_H
#define LLMC_RTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Formats a message into err (when err != NULL and errlen > 0) and returns -1. */
int llmc_rt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Seconds from CLOCK_MONOTONIC. */
double llmc_rt_now(void);

/* size bytes, 64-byte aligned, zero-filled; a valid block even for size 0. NULL when out of memory.
 * Release with free(). */
void *llmc_rt_alloc(size_t size);
/* The same, not zeroed: for large buffers every part of which is written before it is read (the
 * logit rows of a step), whose pages are then touched only as they are used. */
void *llmc_rt_alloc_uninit(size_t size);

/* The most bytes of text the executable reads from one file (a prompt, a --prompts line, a
 * --perplexity file): 256 MiB, the tokenizer's limit too (docs/limits.md). */
#define LLMC_RT_TEXT_LIMIT ((size_t)1 << 28)

/* Reads the whole file at path ("-": stdin) into a new NUL-terminated buffer *data (free it) of
 * *size bytes. A directory is refused as such; so is a file of more than `limit` bytes, as the
 * bytes arrive (a pipe or /dev/zero costs at most limit + 1 bytes of memory). Returns 0, or -1
 * with a message naming the file. */
int llmc_rt_read_file(const char *path, size_t limit, char **data, size_t *size, char *err,
                      size_t errlen);

/* A file read line by line with bounded memory ("-": stdin): lines end at '\n' (a final newline
 * ends the last line rather than starting an empty one; a '\r' before it is dropped); a line of
 * more than `limit` bytes is refused as its bytes arrive. */
typedef struct LlmcLines {
    const char *name;           /* for messages: the path, or "stdin" */
    int fd, own_fd;
    int seekable;               /* a regular file: llmc_rt_lines_rewind works */
    size_t limit;
    char *chunk;                /* read-ahead [LLMC_LINES_CHUNK] */
    size_t chunk_len, chunk_pos;
    int eof;
    char *line;                 /* the current line, NUL-terminated, line_len bytes */
    size_t line_len, line_cap;
    int64_t line_no;            /* of the current line, from 1 */
} LlmcLines;

int llmc_rt_lines_open(LlmcLines *r, const char *path, size_t limit, char *err, size_t errlen);
/* 1: the next line is in r->line; 0: no more lines; -1: a message in err (naming file:line). */
int llmc_rt_lines_next(LlmcLines *r, char *err, size_t errlen);
/* Back to the first line (regular files only). 0, or -1 with a message. */
int llmc_rt_lines_rewind(LlmcLines *r, char *err, size_t errlen);
void llmc_rt_lines_close(LlmcLines *r);

/* Pause hint for spin loops (PAUSE on x86, YIELD on arm64). */
static inline void llmc_rt_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
