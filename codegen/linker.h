/* linker.h — the last step of the compiler (link.c): the C files a backend wrote into the build
 * directory, compiled with the embedded runtime into the executable, and the payload (packed
 * weights, tokenizer) appended to it or written beside it. The link layer knows no backend: it
 * takes what LlmcCodegen lists. (Not link.h: that name is the system's <link.h>.) */
#ifndef LLMC_LINKER_H
#define LLMC_LINKER_H

#include "backend.h"

typedef struct LlmcLinkOptions {
    const char *out_path;         /* the executable */
    int weights_file;             /* payload in OUT.weights beside the executable */
    const char *cc;               /* host C compiler (NULL: "cc") */
    int quiet;
} LlmcLinkOptions;

/* Compiles cg's C files in cg->dir, links them with the runtime archive and writes the executable
 * with the payload: g's weights packed from ws, the tokenizer bytes tok (NULL: none), under
 * cg->info.model_hash. Nothing is left under out_path on failure. */
LlmcStatus llmc_link(const LlmcCodegen *cg, const LlmcGraph *g, const LlmcWeightSource *ws, const void *tok,
                     size_t tok_size, const LlmcLinkOptions *o, LlmcDiag *d);

#endif
