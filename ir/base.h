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
#define LLMC_FMT_NONE (-1)        /* no format */
enum {
    LLMC_FMT_WEIGHT = 1,          /* weights may be stored in it */
    LLMC_FMT_KV = 2,              /* the KV cache may be stored in it */
    LLMC_FMT_ACT = 4,             /* activations are */
    LLMC_FMT_INDEX = 8,           /* step inputs (token ids, positions, slots) are */
    LLMC_FMT_TEST = 16,           /* a test-only format: no target lists it */
};

/* The side tensors of a format (formats.def `sides`): what each is for, its shape rule and flags. */
enum {
    LLMC_ROLE_NONE = 0,
#define R(id, name) LLMC_ROLE_##id,
#include "formats.def"
    LLMC_ROLE_COUNT
};
enum {
    LLMC_SHAPE_GROUP = 0,         /* [rows, ceil(cols / group)]: one a group of a row */
    LLMC_SHAPE_ROW,               /* [rows, 1] */
    LLMC_SHAPE_TENSOR,            /* [1] */
    LLMC_SHAPE_TOKEN_HEAD,        /* KV formats: beside each token-head row in the pool, no tensor */
    LLMC_SHAPE_LAYER_HEAD,        /* KV formats: one per layer and KV head, in the model's constants */
    LLMC_SHAPE_KV_GROUP,          /* KIVI: keys per channel over a group of positions, values per
                                     group of channels of a row; in the pool */
};
enum { LLMC_SIDE_OPTIONAL = 1 };  /* a layout may leave it out */
#define LLMC_MAX_SIDES 4

typedef struct LlmcSideSpec {
    int role;                     /* LLMC_ROLE_*; LLMC_ROLE_NONE ends a format's list */
    int format;                   /* the LlmcDType it is stored in */
    int shape;                    /* LLMC_SHAPE_* */
    unsigned flags;               /* LLMC_SIDE_* */
} LlmcSideSpec;
/* How formats.def writes a format's list and its groups. */
#define LLMC_SIDE(role, fmt, shape, flags) {LLMC_ROLE_##role, LLMC_##fmt, LLMC_SHAPE_##shape, flags}
#define LLMC_SIDES(...) {__VA_ARGS__}
#define LLMC_NO_SIDES {{0}}
#define LLMC_GROUP_ROW (-1)       /* a group default: the whole row */
#define LLMC_GROUPS(dflt, only) dflt, only
#define LLMC_NO_GROUPS 0, 0

/* A format's reference quantizer (formats.def `quant`, plain C in ir/quant.c). side[i] is the value
 * of the format's side i for the group at hand (GROUP sides: the group's, ROW: its row's, TENSOR:
 * the tensor's), as its tensor stores it (rounded to the side's format: the values are quantized
 * against exactly what the kernels read); has: bit i set when the layout has side i (an optional
 * one may be absent; its value is then the format's default). */
typedef struct LlmcQuantizer {
    /* One group of a row: n values x (whole blocks) into q (the group's bytes); writes the GROUP
     * sides' values, reads the ROW and TENSOR sides' (the pre-pass's). */
    void (*quantize)(const float *x, int64_t n, void *q, float *side, unsigned has);
    /* The group's n values from q and the sides' values: y[n]. */
    void (*dequantize)(const void *q, int64_t n, const float *side, unsigned has, float *y);
    /* NULL, or a pass over the whole matrix before any row is quantized, one row at a time (no copy
     * of the matrix is kept): called with each row x[n] to set its ROW sides and fold it into the
     * TENSOR sides (side[] starts zeroed), then once with x NULL to finish the TENSOR sides. */
    void (*prepass)(const float *x, int64_t n, float *side, unsigned has);
} LlmcQuantizer;

typedef enum {
#define X(id, ...) LLMC_##id,
#include "formats.def"
    LLMC_DTYPE_COUNT
} LlmcDType;

typedef struct LlmcFormatTraits {
    const char *id;               /* "F32": LLMC_F32 here, FMT_F32 in the kernels */
    const char *name;             /* "f32", "bf16", ... */
    const char *alias;            /* another --weights name, or NULL */
    int bits;                     /* bits of an element's value */
    int block_elems;              /* elements stored together */
    int block_bytes;              /* bytes of one block */
    const char *ctype;            /* C storage type for emitters: "float", "uint16_t", ... */
    /* Reference conversions of n elements (a multiple of block_elems), plain C. */
    void (*to_f32)(const void *src, float *dst, int64_t n);
    void (*from_f32)(const float *src, void *dst, int64_t n);
    int group_default;            /* quantized: the group without --group (LLMC_GROUP_ROW: the row) */
    int group_only;               /* quantized: the one group it takes, 0: any whole number of blocks */
    LlmcSideSpec side[LLMC_MAX_SIDES]; /* its side tensors, in order, up to the first LLMC_ROLE_NONE */
    const LlmcQuantizer *quant;   /* its quantizer (members NULL for the formats without sides) */
    unsigned flags;               /* LLMC_FMT_* */
} LlmcFormatTraits;

/* The traits of format t (t < LLMC_DTYPE_COUNT). */
const LlmcFormatTraits *llmc_format(LlmcDType t);
/* The number of side tensors of format t (0: the values alone: not a quantized format). */
int llmc_format_n_sides(LlmcDType t);
/* Index of the side of format t with role `role`, -1 if none. */
int llmc_format_side_index(LlmcDType t, int role);
const char *llmc_role_name(int role);               /* "scale", "zero" */
const char *llmc_dtype_name(LlmcDType t);           /* "f32", "f16", "bf16", "i32"; "?" out of range */
int llmc_dtype_from_name(const char *s, LlmcDType *t); /* 0 on success */
/* A format as --weights and --keep name it: the table's name or its alias ("w4a16": u4); 0 on success. */
int llmc_format_from_user_name(const char *s, LlmcDType *t);
/* A format as --kv names it: the KV format of that name (fp8 is a weight format's name too), else the
 * format of that name (which the KV cache then refuses, naming it); 0 on success. */
int llmc_kv_format_from_name(const char *s, LlmcDType *t);
size_t llmc_dtype_size(LlmcDType t);                /* bytes of one block (0 out of range) */
/* Bytes n elements take in format t (n a multiple of its block). */
int64_t llmc_format_bytes(LlmcDType t, int64_t n);
/* Converts n elements from format `from` to format `to` through f32 (a copy when they are equal). */
void llmc_format_convert(const void *src, LlmcDType from, void *dst, LlmcDType to, int64_t n);

/* The reference conversions and quantizers the table names (n elements). */
#define X(id, name, alias, bits, block_elems, block_bytes, ctype, to_f32, from_f32, groups, sides, quant, flags) \
    void to_f32(const void *src, float *dst, int64_t n);                                                       \
    void from_f32(const float *src, void *dst, int64_t n);                                                     \
    extern const LlmcQuantizer llmc_quant_##quant;
#include "formats.def"

/* Row x[K] of a matrix in format fmt quantized in groups of `group` (the format's quantizer, group by
 * group): q gets the row's bytes (row-major), side[i] for each side i the layout has (bit i of has)
 * points at its values for this row: GROUP sides ceil(K / group) of them (written), ROW and TENSOR
 * sides one (read: the pre-pass's). dequantize_row is the reverse (y[K]). */
void llmc_quantize_row(LlmcDType fmt, int64_t K, int64_t group, const float *x, void *q, float *const *side,
                       unsigned has);
void llmc_dequantize_row(LlmcDType fmt, int64_t K, int64_t group, const void *q, const float *const *side,
                         unsigned has, float *y);

float llmc_f16_to_f32(uint16_t h);
uint16_t llmc_f32_to_f16(float f);                  /* round to nearest even */
float llmc_bf16_to_f32(uint16_t h);
/* FP8 E4M3 (OCP "e4m3fn": bias 7, no infinities, S.1111.111 is NaN, largest finite 448). */
float llmc_e4m3_to_f32(uint8_t q);
/* Round to nearest even, saturating to +-448 (infinities too); NaN gives 0, never the NaN code. */
uint8_t llmc_f32_to_e4m3(float f);
uint16_t llmc_f32_to_bf16(float f);                 /* round to nearest even, NaN kept */
/* FP4 E2M1 (nvfp4's values, a code 0..15: s.ee.m): +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
float llmc_e2m1_to_f32(unsigned q);
/* The nearest code, ties to even, saturating at +-6 (infinities too); the sign is x < 0; NaN gives 0. */
unsigned llmc_f32_to_e2m1(float x);

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
