/* fuzz_payload.c — the executable's payload reader from arbitrary bytes: bytes 0-15 are what the
 * model code expects (model hash, weights size), the rest is the executable file: footer,
 * embedded payload or side-file name, payload header and its sections. A payload that opens is
 * read end to end (weights and tokenizer sections), so an accepted bound that is wrong shows as an
 * out-of-bounds read. */
#include "../../abi/llmc_model.h"
#include "../../runtime/payload_load.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16)
        return 0;
    LlmcModelDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.abi_version = LLMC_ABI_VERSION;
    memcpy(&desc.model_hash, data, 8);
    int64_t wb;
    memcpy(&wb, data + 8, 8);
    desc.weights_bytes = wb;
    char path[64];
    int fd = fuzz_memfile(data + 16, size - 16, path, sizeof path);
    if (fd < 0)
        return 0;
    LlmcPayload p;
    char err[1024];
    if (llmc_payload_open(&p, &desc, path, NULL, err, sizeof err) == 0) {
        volatile uint8_t sink = 0;
        for (uint64_t i = 0; i < p.weights_size; i++)
            sink ^= p.weights[i];
        for (uint64_t i = 0; p.tokenizer && i < p.tokenizer_size; i++)
            sink ^= p.tokenizer[i];
        (void)sink;
        llmc_payload_close(&p);
    }
    close(fd);
    return 0;
}
