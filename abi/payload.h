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
 */
#ifndef LLMC_PAYLOAD_H
#define LLMC_PAYLOAD_H

#include <stdint.h>

#define LLMC_PAYLOAD_MAGIC "LLMCPAY1"
#define LLMC_FOOTER_MAGIC  "LLMCEND1"
#define LLMC_PAYLOAD_ALIGN 4096

typedef struct LlmcPayloadHeader {
    char magic[8];                  /* LLMC_PAYLOAD_MAGIC */
    uint64_t model_hash;            /* equals llmc_model.model_hash */
    uint64_t weights_off, weights_size;
    uint64_t tokenizer_off, tokenizer_size;
    uint32_t tokenizer_kind;        /* LLMC_TOK_* */
    uint32_t reserved;
    uint64_t total_size;            /* whole payload, header included */
} LlmcPayloadHeader;

typedef struct LlmcFooter {
    char magic[8];                  /* LLMC_FOOTER_MAGIC */
    uint64_t payload_off;           /* offset in the executable; 0 when external */
    uint64_t payload_size;
    uint64_t model_hash;
    uint32_t external;              /* 1: payload is in side_file beside the executable */
    uint32_t reserved;
    char side_file[256];            /* NUL-terminated file name, no directory */
} LlmcFooter;

#endif
