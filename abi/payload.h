/* payload.h — layout of the packed weights appended to a model executable (or kept in a side file).
 *
 * The executable ends with a fixed-size footer. The footer says where the payload starts (a
 * page-aligned offset inside the executable) or, with `--weights-file`, the name of the side file
 * (looked up beside the executable). The payload starts with a header naming its sections.
 * Offsets in the header are relative to the payload start and 4096-aligned, so each section can be
 * memory-mapped directly. All integers are little-endian.
 *
 *   executable:  [ELF image][zero pad to 4096][payload][footer]       (embedded)
 *                [ELF image][footer]                                   (side file)
 *   payload:     [LlmcPayloadHeader][pad][weights][pad][tokenizer]
 *
 * Every section carries a content digest (digest.h): the header those of the weights and the
 * tokenizer, the footer that of the program (the executable's bytes before its payload or
 * footer: host code and the kernel images), of the payload header (so a side file or --weights
 * file is known as the one this executable was linked with by its content, not its name) and of
 * the footer itself. The generated code carries each kernel image's digest (LlmcGpuImage), so
 * a damaged image is named as such. The runtime checks them all at start (--no-verify skips the
 * content; the header's and the footer's own digests are always checked).
 */
#ifndef LLMC_PAYLOAD_H
#define LLMC_PAYLOAD_H

#include <stdint.h>

#include "digest.h"

#define LLMC_PAYLOAD_MAGIC "LLMCPAY2"
#define LLMC_FOOTER_MAGIC  "LLMCEND2"
#define LLMC_PAYLOAD_ALIGN 4096

typedef struct LlmcPayloadHeader {
    char magic[8];                  /* LLMC_PAYLOAD_MAGIC */
    uint64_t model_hash;            /* equals llmc_model.model_hash */
    uint64_t weights_off, weights_size;
    uint64_t tokenizer_off, tokenizer_size;
    uint32_t tokenizer_kind;        /* LLMC_TOK_* */
    uint32_t reserved;
    uint64_t total_size;            /* whole payload, header included */
    uint8_t weights_digest[LLMC_DIGEST_BYTES];
    uint8_t tokenizer_digest[LLMC_DIGEST_BYTES];
} LlmcPayloadHeader;

typedef struct LlmcFooter {
    char magic[8];                  /* LLMC_FOOTER_MAGIC */
    uint64_t payload_off;           /* offset in the executable; 0 when external */
    uint64_t payload_size;
    uint64_t model_hash;
    uint32_t external;              /* 1: payload is in side_file beside the executable */
    uint32_t reserved;
    char side_file[256];            /* NUL-terminated file name, no directory */
    uint64_t program_size;          /* the program: bytes [0, program_size) of the executable */
    uint8_t program_digest[LLMC_DIGEST_BYTES];
    uint8_t header_digest[LLMC_DIGEST_BYTES];   /* of the payload's LlmcPayloadHeader */
    uint8_t footer_digest[LLMC_DIGEST_BYTES];   /* of the footer's bytes before this field */
} LlmcFooter;

/* The magic of the format before digests: named in the message that refuses it. */
#define LLMC_PAYLOAD_MAGIC_V1 "LLMCPAY1"
#define LLMC_FOOTER_MAGIC_V1  "LLMCEND1"
_Static_assert(sizeof(LlmcPayloadHeader) == 96, "LlmcPayloadHeader layout");
_Static_assert(sizeof(LlmcFooter) == 352, "LlmcFooter layout");

#endif
