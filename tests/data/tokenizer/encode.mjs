// Reference encodings from @lenml/tokenizers (transformers.js's tokenizers) for llmc's tests.
// usage: node encode.mjs MODEL_DIR CORPUS.json OUT.json
import { TokenizerLoader } from "@lenml/tokenizers";
import fs from "fs";
const [dir, corpusPath, outPath] = process.argv.slice(2);
const tj = JSON.parse(fs.readFileSync(dir + "/tokenizer.json", "utf8"));
const tc = JSON.parse(fs.readFileSync(dir + "/tokenizer_config.json", "utf8"));
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const special = TokenizerLoader.fromPreTrained({ tokenizerJSON: tj, tokenizerConfig: tc });
// "plain": the same tokenizer without added tokens, so their text is encoded as text.
const tj2 = JSON.parse(JSON.stringify(tj));
tj2.added_tokens = [];
const tc2 = { ...tc };
delete tc2.added_tokens_decoder;
const plain = TokenizerLoader.fromPreTrained({ tokenizerJSON: tj2, tokenizerConfig: tc2 });
const out = { special: [], plain: [] };
for (const s of corpus) {
  out.special.push(special.encode(s, { add_special_tokens: false }));
  out.plain.push(plain.encode(s, { add_special_tokens: false }));
}
fs.writeFileSync(outPath, JSON.stringify(out));
