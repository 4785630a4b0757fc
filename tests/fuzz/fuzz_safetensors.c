/* fuzz_safetensors.c — a safetensors file from arbitrary bytes: header length, header JSON,
 * dtypes, shapes, data offsets (llmc_st_open validates all before anything reads a tensor); then
 * every tensor it accepted is read end to end, so an accepted bound that is wrong shows as an
 * out-of-bounds read. */
#include "../../frontend/frontend.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    LlmcSafetensors st;
    LlmcDiag d;
    if (llmc_st_open(&st, path, &d) == LLMC_OK) {
        volatile uint8_t sink = 0;
        for (int i = 0; i < st.n_tensors; i++) {
            const LlmcStTensor *t = &st.tensors[i];
            for (uint64_t b = 0; b < t->size; b++)
                sink ^= t->data[b];
            if (llmc_st_find(&st, t->name) == NULL)
                abort(); /* every listed tensor must be found by its name */
        }
        (void)sink;
        llmc_st_close(&st);
    }
    close(fd);
    return 0;
}
