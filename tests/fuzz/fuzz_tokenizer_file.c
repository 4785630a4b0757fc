/* fuzz_tokenizer_file.c — tokenizer files from arbitrary bytes: byte 0 picks the format (mod 3:
 * 0 llama2.c tokenizer.bin, 1 SentencePiece tokenizer.model with its protobuf reader, 2 a Hugging
 * Face tokenizer.json, converted by the frontend into its compact form, which is then loaded both
 * as it is and with a few bytes changed, as byte 3 says), bytes 1-2 the vocabulary size the model
 * claims, the rest is the file. A file that loads is then used: a fixed text and the file's own
 * bytes are encoded (plain and with added tokens matched), and every id decoded after every other
 * id class (start, after BOS, after itself). */
#include "../../abi/llmc_model.h"
#include "../../frontend/frontend.h"
#include "../../runtime/tokenizer.h"
#include "fuzz_util.h"

static void use(LlmcTokenizer *tok, const uint8_t *data, size_t size);

/* tokenizer.json: converted (every input gets a result or a message), then the compact form
 * loaded as it came out and with up to 8 of its bytes replaced. */
static void hf_json(const uint8_t *data, size_t size, int32_t vocab)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return;
    uint8_t *conv = NULL;
    size_t n = 0;
    LlmcDiag d;
    LlmcStatus st = llmc_hf_tokenizer_convert(path, NULL, vocab, &conv, &n, &d);
    close(fd);
    if (st)
        return;
    for (int round = 0; round < 2; round++) {
        if (round == 1 && n)   /* damage, placed by the input's first bytes */
            for (size_t k = 0; k < 8 && k + 1 < size; k += 2)
                conv[(data[k] * 131u + data[k + 1] * 7u + k) % n] ^= (uint8_t)(data[k + 1] | 1);
        LlmcTokenizer *tok = NULL;
        char err[512];
        if (llmc_tokenizer_load(&tok, LLMC_TOK_HF, conv, n, vocab, err, sizeof err) == 0) {
            use(tok, data, size);
            llmc_tokenizer_free(tok);
        } else if (round == 0) {
            abort();   /* what the converter wrote must load */
        }
    }
    free(conv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int32_t vocab = (int32_t)(data[1] | data[2] << 8);
    if (data[0] % 3 == 2) {
        hf_json(data + 3, size - 3, vocab > 0 ? vocab : 1);
        return 0;
    }
    int kind = data[0] % 3 == 1 ? LLMC_TOK_SENTENCEPIECE : LLMC_TOK_LLAMA2C;
    LlmcTokenizer *tok = NULL;
    char err[512];
    if (llmc_tokenizer_load(&tok, kind, data + 3, size - 3, vocab, err, sizeof err))
        return 0;
    use(tok, data + 3, size - 3);
    llmc_tokenizer_free(tok);
    return 0;
}

static void use(LlmcTokenizer *tok, const uint8_t *data, size_t size)
{
    char err[512];
    static const char text[] = "Once upon a time, <s> 12345 \xe2\x96\x81x \xf0\x9f\x98\x80 \xff\xfe end.";
    const char *texts[3] = {text, (const char *)data, (const char *)data};
    size_t lens[3] = {sizeof text - 1, size < 4096 ? size : 4096, size < 4096 ? size : 4096};
    int flags[3] = {LLMC_TOK_ADD_BOS, 0, LLMC_TOK_SPECIAL};
    for (int k = 0; k < 3; k++) {
        int32_t *ids = NULL, n = 0;
        if (llmc_tokenizer_encode(tok, texts[k], lens[k], flags[k], &ids, &n, err, sizeof err) == 0) {
            char buf[1024];
            int32_t prev = -1;
            for (int32_t i = 0; i < n; i++) {
                if (ids[i] < 0 || ids[i] >= llmc_tokenizer_vocab_size(tok))
                    abort(); /* encode must only produce ids of the vocabulary */
                llmc_tokenizer_decode(tok, prev, ids[i], buf, sizeof buf);
                prev = ids[i];
            }
        }
        free(ids);
    }
    int32_t v = llmc_tokenizer_vocab_size(tok), bos = llmc_tokenizer_bos(tok);
    char buf[1024];
    for (int32_t id = 0; id < v && id < 4096; id++) {
        llmc_tokenizer_decode(tok, -1, id, buf, sizeof buf);
        llmc_tokenizer_decode(tok, bos, id, buf, sizeof buf);
        llmc_tokenizer_decode_ex(tok, id, id, LLMC_TOK_SPECIAL, buf, sizeof buf);
    }
    size_t len;
    llmc_tokenizer_string(tok, "chat_template", &len);
}
