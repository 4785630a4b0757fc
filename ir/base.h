/* base.h — what every part of the compiler shares: status and diagnostics, element types,
 * half-precision conversion, hashing, and writing output files atomically.
 *
 * Two error channels (STYLE.md): errors a user can cause are returned as LLMC_ERR with a message in
 * an LlmcDiag that names the file, JSON path or tensor, what was expected and what was found;
 * internal bugs are assert()s. Library code never exits.
 */
#ifndef LLMC_BASE_H
#define LLMC_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LLMC_VERSION "0.1.0"

typedef enum { LLMC_OK = 0, LLMC_ERR = 1 } LlmcStatus;

typedef struct LlmcDiag {
    char msg[4096];
} LlmcDiag;

/* Formats a message into d (if not NULL) and returns LLMC_ERR. */
LlmcStatus llmc_fail(LlmcDiag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef enum {
    LLMC_F32 = 0,
    LLMC_F16,
    LLMC_BF16,
    LLMC_I32,
    LLMC_DTYPE_COUNT
} LlmcDType;

const char *llmc_dtype_name(LlmcDType t);           /* "f32", "f16", "bf16", "i32" */
int llmc_dtype_from_name(const char *s, LlmcDType *t); /* 0 on success */
size_t llmc_dtype_size(LlmcDType t);

float llmc_f16_to_f32(uint16_t h);
uint16_t llmc_f32_to_f16(float f);                  /* round to nearest even */
float llmc_bf16_to_f32(uint16_t h);
uint16_t llmc_f32_to_bf16(float f);                 /* round to nearest even, NaN kept */

/* FNV-1a 64-bit, chainable: start with h = LLMC_FNV_INIT. */
#define LLMC_FNV_INIT 0xcbf29ce484222325ULL
uint64_t llmc_fnv1a(uint64_t h, const void *data, size_t n);

/* Atomic output: a temporary file beside `path` that becomes `path` only on commit.
 * abort() removes it. Nothing half-written is ever left under the final name. */
typedef struct LlmcOutFile {
    FILE *f;
    char *path;
    char *tmp;
} LlmcOutFile;

LlmcStatus llmc_out_open(LlmcOutFile *o, const char *path, LlmcDiag *d);
LlmcStatus llmc_out_write(LlmcOutFile *o, const void *data, size_t n, LlmcDiag *d);
LlmcStatus llmc_out_commit(LlmcOutFile *o, int executable, LlmcDiag *d);
void llmc_out_abort(LlmcOutFile *o);
/* Whole-buffer convenience. */
LlmcStatus llmc_write_file_atomic(const char *path, const void *data, size_t n, LlmcDiag *d);

/* Reads a whole file (NUL-terminated copy, *size excludes the NUL). */
LlmcStatus llmc_read_file(const char *path, char **data, size_t *size, LlmcDiag *d);

/* Joins dir and a relative path (absolute paths pass through). Returns malloc'd string. */
char *llmc_path_join(const char *dir, const char *rel);
/* Directory part of a path ("." when none). malloc'd. */
char *llmc_path_dir(const char *path);
char *llmc_strdup(const char *s);

#endif
