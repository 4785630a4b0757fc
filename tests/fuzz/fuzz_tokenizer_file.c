/* fuzz_tokenizer_file.c — tokenizer files from arbitrary bytes: byte 0 picks the format (even:
 * llama2.c tokenizer.bin, odd: SentencePiece tokenizer.model with its protobuf reader), bytes 1-2
 * the vocabulary size the model claims, the rest is the file. A file that loads is then used:
 * a fixed text and the file's own bytes are encoded, and every id decoded after every other id
 * class (start, after BOS, after itself). */
#include "../../abi/llmc_model.h"
#include "../../runtime/tokenizer.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int kind = data[0] & 1 ? LLMC_TOK_SENTENCEPIECE : LLMC_TOK_LLAMA2C;
    int32_t vocab = (int32_t)(data[1] | data[2] << 8);
    LlmcTokenizer *tok = NULL;
    char err[512];
    if (llmc_tokenizer_load(&tok, kind, data + 3, size - 3, vocab, err, sizeof err))
        return 0;
    static const char text[] = "Once upon a time, <s> 12345 \xe2\x96\x81x \xf0\x9f\x98\x80 \xff\xfe end.";
    const char *texts[2] = {text, (const char *)data + 3};
    size_t lens[2] = {sizeof text - 1, size - 3 < 4096 ? size - 3 : 4096};
    for (int k = 0; k < 2; k++) {
        int32_t *ids = NULL, n = 0;
        if (llmc_tokenizer_encode(tok, texts[k], lens[k], k == 0, &ids, &n, err, sizeof err) == 0) {
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
        llmc_tokenizer_decode(tok, id, id, buf, sizeof buf);
    }
    llmc_tokenizer_free(tok);
    return 0;
}
