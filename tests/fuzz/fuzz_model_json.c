/* fuzz_model_json.c — model.json from arbitrary bytes: the JSON parser, the graph builder
 * (llmc_model_from_json) and, for a document it accepts, the verifier and the whole pass pipeline
 * for the cpu target (and, where that passes, again with --tp 2). Weights are not read (their bindings only name files). */
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
    cJSON *doc = cJSON_ParseWithLength(text, size);
    free(text);
    if (!doc)
        return 0;
    LlmcGraph *g = llmc_graph_new();
    LlmcDiag d;
    if (llmc_model_from_json(doc, "fuzz.json", "/nonexistent", g, &d) == LLMC_OK &&
        llmc_graph_verify(g, &d) == LLMC_OK) {
        LlmcPassOptions opt = {.target = llmc_target_find("cpu"), .max_tokens = 64, .kv_block_size = 16};
        opt.max_outputs = opt.max_tokens;
        /* an accepted graph again, sharded over 2 ranks (passes/shard_tp.c) */
        if (llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK) {
            LlmcGraph *g2 = llmc_graph_new();
            opt.tp = 2;
            if (llmc_model_from_json(doc, "fuzz.json", "/nonexistent", g2, &d) == LLMC_OK)
                (void)llmc_pipeline(g2, &opt, NULL, NULL, 1, &d);
            llmc_graph_free(g2);
        }
    }
    llmc_graph_free(g);
    cJSON_Delete(doc);
    return 0;
}
