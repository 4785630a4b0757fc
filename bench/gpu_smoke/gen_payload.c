/* gen_payload.c — writes the smoke model's weights as an llmc payload file (runtime/payload.h),
 * read by the executables with --weights. Values come from a hash of their index, so every
 * machine makes the same bytes; 257 MiB is too large to carry to the device, so it is made there.
 * usage: gen_payload OUT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "smoke_model.h"

static float val(uint64_t i, float scale)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull + 0x1234567ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((float)(z >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * scale;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_payload OUT\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    LlmcPayloadHeader h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, LLMC_PAYLOAD_MAGIC, 8);
    h.model_hash = SM_HASH;
    h.weights_off = LLMC_PAYLOAD_ALIGN;
    h.weights_size = (uint64_t)SM_WEIGHTS_BYTES;
    h.total_size = h.weights_off + h.weights_size;
    static uint8_t page[LLMC_PAYLOAD_ALIGN];
    memcpy(page, &h, sizeof h);
    int bad = fwrite(page, 1, sizeof page, f) != sizeof page;
    enum { CHUNK = 1 << 20 };
    float *buf = malloc(CHUNK * sizeof *buf);
    uint64_t n = (uint64_t)SM_WEIGHTS_BYTES / 4, big0 = (uint64_t)SM_W_BIG / 4;
    for (uint64_t i = 0; buf && !bad && i < n; i += CHUNK) {
        uint64_t m = n - i < CHUNK ? n - i : CHUNK;
        for (uint64_t k = 0; k < m; k++)
            buf[k] = val(i + k, i + k < big0 ? 0.1f : 0.001f);
        bad = fwrite(buf, sizeof *buf, m, f) != m;
    }
    free(buf);
    if (!buf || bad || fclose(f) != 0) {
        fprintf(stderr, "%s: write failed\n", argv[1]);
        return 1;
    }
    return 0;
}
