/* payload_load.h — finding, mapping and validating the packed weights (payload.h's layout).
 *
 * The payload is either embedded at the end of the executable or kept in a side file beside it
 * (the footer says which); `--weights PATH` names a payload file directly. The payload is mapped
 * read-only and never copied: weights are used in place (offsets are 4096-aligned, so the weights
 * are 64-byte aligned in memory).
 */
#ifndef LLMC_PAYLOAD_LOAD_H
#define LLMC_PAYLOAD_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "llmc_model.h"

typedef struct LlmcPayload {
    void *map;                  /* the mapping (page-aligned), map_len bytes */
    size_t map_len;
    const uint8_t *base;        /* payload start (the LlmcPayloadHeader) */
    uint64_t size;              /* payload bytes */
    const uint8_t *weights;     /* desc->weights_bytes */
    uint64_t weights_size;
    const uint8_t *tokenizer;   /* NULL when the payload has none */
    uint64_t tokenizer_size;
    uint32_t tokenizer_kind;    /* LLMC_TOK_* */
    int have_footer;            /* 0: --weights with an executable that lost its footer (strip) */
    uint64_t program_size;      /* from the footer: the program is [0, program_size) of exe */
    uint8_t program_digest[16];
    char path[4096];            /* file the payload was read from */
    char exe[4096];             /* the executable */
    int fd;                     /* that file, open while it is mapped (-1: none) */
    int64_t file_size, mtime_ns; /* its size and modification time when it was mapped */
} LlmcPayload;

/* Path of the running executable: /proc/self/exe resolved, else argv0 as given.
 * Returns 0, or -1 with a message in err. */
int llmc_self_exe(char *buf, size_t bufsize, const char *argv0, char *err, size_t errlen);

/* Maps the payload of the executable exe_path (embedded, or its side file looked up in the
 * executable's directory), or the payload file weights_path when it is not NULL. Checks the footer
 * (its own digest) and the header against desc (magic, model hash, section bounds and alignment,
 * weights size) and against the footer's digest of the header the executable was linked with, so
 * a payload from another build is refused whatever its name and size. Reads no section.
 * Returns 0, or -1 with a message naming the file in err. */
int llmc_payload_open(LlmcPayload *p, const LlmcModelDesc *desc, const char *exe_path,
                      const char *weights_path, char *err, size_t errlen);
/* Checks the content digest of the kernel images desc carries (before the device loads one);
 * the first that differs is named in err, with exe. Returns 0, or -1. */
int llmc_verify_images(const LlmcModelDesc *desc, const char *exe, int threads, char *err, size_t errlen);
/* Checks the content digest of the program, the weights and the tokenizer on up to `threads`
 * threads; the first that differs is named in err. *bytes (may be NULL) gets the number of
 * bytes read. Returns 0, or -1. */
int llmc_payload_verify(const LlmcPayload *p, int threads, uint64_t *bytes, char *err, size_t errlen);
/* Has the mapped file changed since it was mapped (its size or modification time; a file
 * replaced by a rename is another file and leaves the mapping intact)? Returns 0, or -1 with a
 * message naming the file: the weights under the running model are no longer those checked. */
int llmc_payload_changed(const LlmcPayload *p, char *err, size_t errlen);
void llmc_payload_close(LlmcPayload *p);

#endif
