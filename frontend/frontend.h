/* frontend.h — reading models: JSON files with line:column errors, safetensors, raw weight
 * bindings, the importers (llama2.c checkpoints, Hugging Face directories) and the random-weight
 * checkpoint synthesizer.
 *
 * Importers produce a model.json document (docs/model-json.md) as a cJSON tree; relative paths in
 * it are relative to `base_dir`, the directory the model.json will live in (so `llmc import SRC -o
 * out/model.json` and `llmc compile SRC` both produce usable documents).
 */
#ifndef LLMC_FRONTEND_H
#define LLMC_FRONTEND_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "../ir/base.h"
#include "../ir/weights.h"

/* ---- JSON ---- */

/* Parses a JSON file. A syntax error reports "PATH:LINE:COL: ..." */
LlmcStatus llmc_json_load(const char *path, cJSON **out, LlmcDiag *d);
/* Writes a cJSON tree to path atomically (pretty-printed, trailing newline). */
LlmcStatus llmc_json_save(const char *path, const cJSON *doc, LlmcDiag *d);

/* ---- safetensors ---- */

#define LLMC_ST_MAX_RANK 8

typedef struct LlmcStTensor {
    char *name;
    LlmcDType dtype;                  /* f32, f16, bf16, i32, u8 or e4m3 (others are refused) */
    int rank;
    int64_t shape[LLMC_ST_MAX_RANK];
    uint64_t size;                    /* bytes */
    const uint8_t *data;              /* into the mapping */
} LlmcStTensor;

typedef struct LlmcSafetensors {
    char *path;
    uint8_t *map;                     /* whole file, read-only mapping */
    size_t map_size;
    LlmcStTensor *tensors;
    int n_tensors;
} LlmcSafetensors;

/* Maps and validates: header length inside the file, header JSON well formed, every tensor's dtype
 * known, shape non-negative, data_offsets inside the data area, byte size equal to the product of
 * the shape times the element size, no two tensors overlapping. Every failure names the file and
 * the tensor. */
LlmcStatus llmc_st_open(LlmcSafetensors *st, const char *path, LlmcDiag *d);
const LlmcStTensor *llmc_st_find(const LlmcSafetensors *st, const char *name);
void llmc_st_close(LlmcSafetensors *st);

/* ---- weight files: resolves model.json weight bindings to bytes ---- */

typedef struct LlmcWeightFiles LlmcWeightFiles;

LlmcWeightFiles *llmc_wf_new(void);
void llmc_wf_free(LlmcWeightFiles *wf);

/* Resolves one binding. `path` is already joined with the model.json directory. With tensor != NULL
 * the file is safetensors and the tensor must have exactly dtype and shape; otherwise the bytes are
 * a raw little-endian array at `offset` that must lie inside the file. Files are mapped once and
 * cached. `where` names the binding in errors (e.g. "model.json: weights.layers.0.wq"). */
LlmcStatus llmc_wf_resolve(LlmcWeightFiles *wf, const char *path, const char *tensor, int64_t offset,
                           LlmcDType dtype, int rank, const int64_t *shape, const uint8_t **data,
                           const char *where, LlmcDiag *d);

/* Resolves weight tensor t's own binding (not a merged weight; stacked experts by their file shape). */
LlmcStatus llmc_wf_resolve_tensor(LlmcWeightFiles *wf, const LlmcTensor *t, const uint8_t **data, LlmcDiag *d);

/* The IR-level weight source (ir/weights.h) reading the graph's weight tensors through wf (their
 * bindings resolved as above): what codegen packs and hashes. Valid while wf lives. */
LlmcWeightSource llmc_wf_source(LlmcWeightFiles *wf);

/* ---- importers ---- */

/* What an import may be told. */
typedef struct LlmcImportOptions {
    const char *tokenizer;            /* --tokenizer FILE; NULL: the checkpoint's own */
    int allow_unused;                 /* --allow-unused: checkpoint tensors the graph does not read are a
                                         warning, not an error */
} LlmcImportOptions;

/* Detects the kind of SRC: a llama2.c checkpoint file, a Hugging Face directory, or a model.json
 * (loaded as is, paths rebased onto base_dir). */
LlmcStatus llmc_import(const char *src, const char *base_dir, cJSON **model, LlmcDiag *d);
/* The same with `--tokenizer FILE` (NULL: the checkpoint's own): the tokenizer of the model. */
LlmcStatus llmc_import_tok(const char *src, const char *tokenizer, const char *base_dir, cJSON **model,
                           LlmcDiag *d);
/* The same with all the options. */
LlmcStatus llmc_import_opts(const char *src, const LlmcImportOptions *opt, const char *base_dir, cJSON **model,
                            LlmcDiag *d);

/* `--tokenizer FILE`: makes FILE the tokenizer of the model document (replacing the one it
 * names, or found beside the checkpoint): its format from its name (.model SentencePiece, .bin
 * llama2.c), else its first bytes; its path relative to base_dir as a model.json writes it. */
LlmcStatus llmc_set_tokenizer(cJSON *model, const char *file, const char *base_dir, LlmcDiag *d);

/* llama2.c: legacy 28-byte header or 'ak42' version 1 (float32). tokenizer: a tokenizer.bin path,
 * or NULL to look for tokenizer.bin / tok<vocab>.bin beside the checkpoint (none found: no
 * tokenizer, with a warning on stderr). */
LlmcStatus llmc_import_llama2c(const char *bin, const char *tokenizer, const char *base_dir,
                               cJSON **model, LlmcDiag *d);

/* Hugging Face directory: config.json, model.safetensors or model.safetensors.index.json shards,
 * tokenizer.json or tokenizer.model. The architectures of frontend/hf_families.c. */
LlmcStatus llmc_import_hf(const char *dir, const char *base_dir, cJSON **model, LlmcDiag *d);

/* The model.json of a Hugging Face config alone: every tensor bound to model.safetensors (as `llmc
 * synth` writes it; norms f32, matrices `dtype`), shapes from the config, nothing checked against a
 * file. For compiling code for a model's shapes without its weights (codegen tests, --no-weights). */
LlmcStatus llmc_hf_config_model(const cJSON *config, const char *name, LlmcDType dtype, cJSON **model, LlmcDiag *d);

/* ---- tokenizer.json (tokenizer_json.c) ---- */

/* Converts a Hugging Face tokenizer.json, with tokenizer_config.json beside it when there is one,
 * into the compact form the executable carries (abi/hftok.h). template_path: a chat template file
 * replacing the config's (NULL: none). vocab_size: the model's (the file may use fewer ids, never
 * more). *out is malloc'd. What is not supported is refused naming the file and the JSON path. */
LlmcStatus llmc_hf_tokenizer_convert(const char *json_path, const char *template_path, int64_t vocab_size,
                                     uint8_t **out, size_t *size, LlmcDiag *d);

/* ---- synthesizer ---- */

/* Writes a Hugging Face directory with random weights (seeded; normal, std 0.02; norms 1.0):
 * config.json, model.safetensors (or shards), tokenizer.model (a synthetic SentencePiece
 * vocabulary of the right size). preset: "stories15M", "stories260K", "llama3.2-1b",
 * "llama3.1-8b"; or config_path: a Hugging Face config.json. dtype: the stored weight dtype. */
typedef struct LlmcSynthOptions {
    const char *preset;               /* or NULL */
    const char *config_path;          /* or NULL */
    const char *out_dir;
    uint64_t seed;
    LlmcDType dtype;                  /* f32, f16, bf16 */
    int dtype_set;                    /* dtype given; else a config's own torch_dtype (or dtype), else bf16 */
    int quiet;                        /* no progress on stderr */
} LlmcSynthOptions;

LlmcStatus llmc_synth(const LlmcSynthOptions *opt, LlmcDiag *d);
/* Names of the presets, NULL-terminated. */
const char *const *llmc_synth_presets(void);
/* The Hugging Face config.json of a preset (caller frees), or NULL for an unknown name. */
cJSON *llmc_synth_preset_config(const char *preset);

#endif
