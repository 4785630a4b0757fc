/* fuzz_hf_config.c — a Hugging Face config.json from arbitrary bytes: the config reader and the
 * Llama graph it builds (llmc_hf_config_model), then model.json's builder and the pass pipeline
 * for the cpu target over that graph (and, where that passes, again with --tp 2 to 8). */
#include <cjson/cJSON.h>

#include "../../frontend/frontend.h"
#include "../../frontend/model_json.h"
#include "../../ir/ir.h"
#include "../../ir/target.h"
#include "../../passes/passes.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    cJSON *config = cJSON_ParseWithLength(text, size);
    free(text);
    if (!config)
        return 0;
    cJSON *model = NULL;
    LlmcDiag d;
    if (llmc_hf_config_model(config, "fuzz", LLMC_BF16, &model, &d) == LLMC_OK) {
        LlmcGraph *g = llmc_graph_new();
        if (llmc_model_from_json(model, "config.json", "/nonexistent", g, &d) == LLMC_OK) {
            LlmcPassOptions opt = {.target = llmc_target_find("cpu"), .max_tokens = 64, .kv_block_size = 16};
            opt.max_outputs = opt.max_tokens;
            /* the model again, sharded over the ranks a byte of the input names (passes/shard_tp.c) */
            if (llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK) {
                LlmcGraph *g2 = llmc_graph_new();
                opt.tp = 2 + data[0] % 7;
                if (llmc_model_from_json(model, "config.json", "/nonexistent", g2, &d) == LLMC_OK)
                    (void)llmc_pipeline(g2, &opt, NULL, NULL, 1, &d);
                llmc_graph_free(g2);
            }
        }
        llmc_graph_free(g);
        cJSON_Delete(model);
    }
    cJSON_Delete(config);
    return 0;
}
