/* fuzz_payload.c — the executable's payload reader from arbitrary bytes: bytes 0-15 are what the
 * model code expects (model hash, weights size), byte 16 says whether to re-seal, the rest is the
 * executable file: footer, embedded payload or side-file name, payload header and its sections.
 * Re-sealing (byte 16 odd) recomputes the footer's digests of itself and of the embedded header,
 * so mutations get past those checks to the bounds and sections behind them; without it the
 * digest checks themselves are fuzzed. A payload that opens is verified (every section's digest
 * and padding read) and read end to end, so an accepted bound that is wrong shows as an
 * out-of-bounds read. */
#include <stddef.h>

#include "../../abi/digest.h"
#include "../../abi/llmc_model.h"
#include "../../abi/payload.h"
#include "../../runtime/payload_load.h"
#include "fuzz_util.h"

static void reseal(uint8_t *exe, size_t n)
{
    if (n < sizeof(LlmcFooter))
        return;
    LlmcFooter f;
    memcpy(&f, exe + n - sizeof f, sizeof f);
    if (!f.external && f.payload_off <= n - sizeof f && n - sizeof f - f.payload_off >= sizeof(LlmcPayloadHeader))
        llmc_digest_buffer(exe + f.payload_off, sizeof(LlmcPayloadHeader), 1, f.header_digest);
    llmc_digest_buffer(&f, offsetof(LlmcFooter, footer_digest), 1, f.footer_digest);
    memcpy(exe + n - sizeof f, &f, sizeof f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 17)
        return 0;
    LlmcModelDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.abi_version = LLMC_ABI_VERSION;
    memcpy(&desc.model_hash, data, 8);
    int64_t wb;
    memcpy(&wb, data + 8, 8);
    desc.weights_bytes = wb;
    size_t n = size - 17;
    uint8_t *exe = malloc(n ? n : 1);
    if (!exe)
        return 0;
    memcpy(exe, data + 17, n);
    if (data[16] & 1)
        reseal(exe, n);
    char path[64];
    int fd = fuzz_memfile(exe, n, path, sizeof path);
    free(exe);
    if (fd < 0)
        return 0;
    LlmcPayload p;
    char err[1024];
    if (llmc_payload_open(&p, &desc, path, NULL, err, sizeof err) == 0) {
        uint64_t bytes;
        (void)llmc_payload_verify(&p, 2, &bytes, err, sizeof err);
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
