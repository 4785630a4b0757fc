/* fuzz_hf_index.c — a Hugging Face directory whose model.safetensors.index.json is arbitrary bytes,
 * beside a valid config.json (a tiny Llama): the shard index reader, including the rule that every
 * shard is a plain file name in the directory. The directory lives under /tmp, one per process. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "../../frontend/frontend.h"
#include "fuzz_util.h"

static const char config[] =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":172,"
    "\"num_attention_heads\":8,\"num_key_value_heads\":4,\"num_hidden_layers\":2,\"vocab_size\":512,"
    "\"max_position_embeddings\":256,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,"
    "\"tie_word_embeddings\":true,\"torch_dtype\":\"float32\"}\n";

static char dir[256];

static int put(const char *name, const void *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/llmc-fuzz-hf-%d", (int)getpid());
        mkdir(dir, 0755);
        if (put("config.json", config, sizeof config - 1))
            abort();
    }
    if (put("model.safetensors.index.json", data, size))
        abort();
    cJSON *model = NULL;
    LlmcDiag d;
    if (llmc_import_hf(dir, dir, &model, &d) == LLMC_OK)
        cJSON_Delete(model);
    return 0;
}
