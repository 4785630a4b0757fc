/* target.c — the table of targets. */
#include "target.h"

#include <string.h>

static const LlmcTarget target_cpu = {
    .name = "cpu",
    .backend = LLMC_BACKEND_C,
    .description = "host CPU: C compiled with the system compiler (-O3 -march=native), threads over all cores",
    .vector_bytes = 32,
    .default_weights = LLMC_F32,
    .weight_formats = (1u << LLMC_F32) | (1u << LLMC_F16) | (1u << LLMC_BF16),
};

static const LlmcTarget *const all_targets[] = {&target_cpu, NULL};

const LlmcTarget *const *llmc_targets(void) { return all_targets; }

const LlmcTarget *llmc_target_find(const char *name)
{
    for (int i = 0; all_targets[i]; i++)
        if (strcmp(all_targets[i]->name, name) == 0)
            return all_targets[i];
    return NULL;
}
