/* fuzz_llama2c.c — a llama2.c checkpoint from arbitrary bytes: the legacy 28-byte and 'ak42'
 * version-1 headers, the sizes they imply against the file, and the model.json they produce, then
 * the graph builder and the pass pipeline over it. */
#include <cjson/cJSON.h>

#include "../../frontend/frontend.h"
#include "../../frontend/model_json.h"
#include "../../ir/ir.h"
#include "../../ir/target.h"
#include "../../passes/passes.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    cJSON *model = NULL;
    LlmcDiag d;
    /* A tokenizer file that exists (it is only bound here, read at compile time), so that nothing
     * is looked up beside the memfd and no warning is printed for every input. */
    static char tok[128];
    if (!tok[0]) {
        snprintf(tok, sizeof tok, "/tmp/llmc-fuzz-tok-%d.bin", (int)getpid());
        FILE *f = fopen(tok, "wb");
        if (!f || fclose(f))
            abort();
    }
    if (llmc_import_llama2c(path, tok, "/tmp", &model, &d) == LLMC_OK) {
        LlmcGraph *g = llmc_graph_new();
        if (llmc_model_from_json(model, path, "/tmp", g, &d) == LLMC_OK) {
            LlmcPassOptions opt = {.target = llmc_target_find("cpu"), .max_tokens = 64, .kv_block_size = 16};
            opt.max_outputs = opt.max_tokens;
            (void)llmc_pipeline(g, &opt, NULL, NULL, 1, &d);
        }
        llmc_graph_free(g);
        cJSON_Delete(model);
    }
    close(fd);
    return 0;
}
