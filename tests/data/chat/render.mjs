// Reference renderings from @huggingface/jinja for llmc's chat template tests.
// usage: node render.mjs CASES.json SHARED_MODELS_DIR OUT.json
// A case is {"template": "llama3" | "qwen3" | "<template text>", "context": {...}}; the named
// templates are the chat_template of ../shared/models/NAME-tokenizer/tokenizer_config.json.
import { Template } from "@huggingface/jinja";
import fs from "fs";
const [casesPath, shared, outPath] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
const named = {};
for (const n of ["llama3", "qwen3"])
  named[n] = JSON.parse(fs.readFileSync(`${shared}/${n}-tokenizer/tokenizer_config.json`, "utf8")).chat_template;
const out = cases.map((c) => {
  try {
    return { output: new Template(named[c.template] ?? c.template).render(c.context) };
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
});
fs.writeFileSync(outPath, JSON.stringify(out, null, 0));
