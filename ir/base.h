/* base.h — what every part of the compiler shares: status and diagnostics, the storage formats (ir/formats.def),
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

/* Storage formats (weights, the KV cache, activations, step inputs): one table, ir/formats.def. The
 * enum keeps its historical name; LLMC_F32, LLMC_F16, LLMC_BF16 and LLMC_I32 come from the table. */
#define LLMC_FMT_NONE (-1)        /* no format (a layout without scales) */
enum {
    LLMC_FMT_WEIGHT = 1,          /* weights may be stored in it */
    LLMC_FMT_KV = 2,              /* the KV cache may be stored in it */
    LLMC_FMT_ACT = 4,             /* activations are */
    LLMC_FMT_INDEX = 8,           /* step inputs (token ids, positions, slots) are */
};

typedef enum {
#define X(id, name, block_elems, block_bytes, scale, ctype, to_f32, from_f32, flags) LLMC_##id,
#include "formats.def"
#undef X
    LLMC_DTYPE_COUNT
} LlmcDType;

typedef struct LlmcFormatTraits {
    const char *name;             /* "f32", "bf16", ... */
    int block_elems;              /* elements stored together */
    int block_bytes;              /* bytes of one block */
    int scale;                    /* LlmcDType of a grouped layout's scale tensor, LLMC_FMT_NONE */
    const char *ctype;            /* C storage type for emitters: "float", "uint16_t", ... */
    /* Reference conversions of n elements (a multiple of block_elems), plain C. */
    void (*to_f32)(const void *src, float *dst, int64_t n);
    void (*from_f32)(const float *src, void *dst, int64_t n);
    unsigned flags;               /* LLMC_FMT_* */
} LlmcFormatTraits;

/* The traits of format t (t < LLMC_DTYPE_COUNT). */
const LlmcFormatTraits *llmc_format(LlmcDType t);
const char *llmc_dtype_name(LlmcDType t);           /* "f32", "f16", "bf16", "i32"; "?" out of range */
int llmc_dtype_from_name(const char *s, LlmcDType *t); /* 0 on success */
size_t llmc_dtype_size(LlmcDType t);                /* bytes of one block (0 out of range) */
/* Bytes n elements take in format t (n a multiple of its block). */
int64_t llmc_format_bytes(LlmcDType t, int64_t n);
/* Converts n elements from format `from` to format `to` through f32 (a copy when they are equal). */
void llmc_format_convert(const void *src, LlmcDType from, void *dst, LlmcDType to, int64_t n);

/* The reference conversions the table names (n elements). */
#define X(id, name, block_elems, block_bytes, scale, ctype, to_f32, from_f32, flags) \
    void to_f32(const void *src, float *dst, int64_t n);                          \
    void from_f32(const float *src, void *dst, int64_t n);
#include "formats.def"
#undef X

float llmc_f16_to_f32(uint16_t h);
uint16_t llmc_f32_to_f16(float f);                  /* round to nearest even */
float llmc_bf16_to_f32(uint16_t h);
/* FP8 E4M3 (OCP "e4m3fn": bias 7, no infinities, S.1111.111 is NaN, largest finite 448). */
float llmc_e4m3_to_f32(uint8_t q);
/* Round to nearest even, saturating to +-448 (infinities too); NaN gives 0, never the NaN code. */
uint8_t llmc_f32_to_e4m3(float f);
uint16_t llmc_f32_to_bf16(float f);                 /* round to nearest even, NaN kept */

/* FNV-1a 64-bit, chainable: start with h = LLMC_FNV_INIT. */
#define LLMC_FNV_INIT 0xcbf29ce484222325ULL
uint64_t llmc_fnv1a(uint64_t h, const void *data, size_t n);

/* Atomic output: a temporary file beside `path` (PATH.tmp.PID) that becomes `path` only on
 * commit. abort() removes it. Nothing half-written is ever left under the final name. While dg
 * is set, every byte written is also fed to that digest (abi/digest.h). */
typedef struct LlmcOutFile {
    FILE *f;
    char *path;
    char *tmp;
    struct LlmcDigest *dg;
    int64_t size;               /* bytes written so far */
} LlmcOutFile;

LlmcStatus llmc_out_open(LlmcOutFile *o, const char *path, LlmcDiag *d);
LlmcStatus llmc_out_write(LlmcOutFile *o, const void *data, size_t n, LlmcDiag *d);
/* Overwrites bytes already written at [off, off+n) (a header filled in at the end); no digest. */
LlmcStatus llmc_out_write_at(LlmcOutFile *o, int64_t off, const void *data, size_t n, LlmcDiag *d);
LlmcStatus llmc_out_commit(LlmcOutFile *o, int executable, LlmcDiag *d);
/* Commits n files together, the executable ones (exec[i]) with mode 0755: all are flushed and
 * closed first, then renamed; when a rename fails, those already renamed are removed again, so
 * either every file is in place or none is. Several files (in one directory) are renamed under an
 * exclusive flock of that directory, so that concurrent commits of the same names take turns: the
 * set on disk always comes from one commit. */
LlmcStatus llmc_out_commit_all(LlmcOutFile *const *files, const int *exec, int n, LlmcDiag *d);
void llmc_out_abort(LlmcOutFile *o);
/* Whole-buffer convenience. */
LlmcStatus llmc_write_file_atomic(const char *path, const void *data, size_t n, LlmcDiag *d);

/* Removes path: a file, or a directory and everything under it (links are not followed). */
void llmc_remove_tree(const char *path);

/* Where temporary directories go: $TMPDIR when it names a directory, else /tmp. */
const char *llmc_tmp_dir(void);

/* What a path that is not a regular file is, for messages ("a directory", "a character device",
 * "a FIFO", ...); NULL for a regular file. mode: its st_mode. */
const char *llmc_file_kind(unsigned mode);

/* Reads a whole file (NUL-terminated copy, *size excludes the NUL); a directory is refused as such,
 * and so is a file past LLMC_READ_FILE_MAX bytes (model.json, config.json, tokenizer files). */
#define LLMC_READ_FILE_MAX (1 << 30)
LlmcStatus llmc_read_file(const char *path, char **data, size_t *size, LlmcDiag *d);

/* Joins dir and a relative path (absolute paths pass through). Returns malloc'd string. */
char *llmc_path_join(const char *dir, const char *rel);
/* Directory part of a path ("." when none). malloc'd. */
char *llmc_path_dir(const char *path);
char *llmc_strdup(const char *s);

#endif
