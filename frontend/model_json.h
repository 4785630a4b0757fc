/* model_json.h — model.json (docs/model-json.md) to IR. */
#ifndef LLMC_MODEL_JSON_H
#define LLMC_MODEL_JSON_H

#include <cjson/cJSON.h>

#include "../ir/ir.h"
#include "frontend.h"

/* Builds g from doc. doc_name names the document in errors; relative paths resolve from base_dir.
 * Value shapes are left for the infer_shapes pass. */
LlmcStatus llmc_model_from_json(const cJSON *doc, const char *doc_name, const char *base_dir, LlmcGraph *g,
                                LlmcDiag *d);

/* Checks every weight binding against its file (exists, dtype, shape, bounds). */
LlmcStatus llmc_model_check_weights(LlmcGraph *g, LlmcWeightFiles *wf, LlmcDiag *d);

#endif
