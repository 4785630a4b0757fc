#!/usr/bin/env bash
# tokenizer.json end to end: tiny Llama-shaped models (llmc synth) with the real Llama 3 and Qwen3
# tokenizers and a tiny byte-level one (tests/data/tokenizer/tiny-bl), compiled for the cpu; the
# executable's --tokenize and --detokenize against reference ids (tests/data/tokenizer/,
# @lenml/tokenizers), added and special tokens only with --special, --chat through the template
# of tokenizer_config.json or of --chat-template, the executable linked against nothing but libc
# and libm, and what llmc refuses at compile time. Each run of an executable loads its tokenizer,
# so the checks are few and chosen (the unit tests cover the rest).
source "$(dirname "$0")/lib_e2e.sh"
need_shared llama3-tokenizer/tokenizer.json
need_shared qwen3-tokenizer/tokenizer.json

model() { # model NAME VOCAB BOS EOS TOKENIZER_DIR: a synthetic checkpoint with that tokenizer
  cat >"$TMP/$1.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
 "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": $2, "max_position_embeddings": 64,
 "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "bos_token_id": $3, "eos_token_id": $4, "tie_word_embeddings": true}
EOF
  "$LLMC" synth --config "$TMP/$1.json" -o "$TMP/$1" --dtype f32 >/dev/null 2>&1
  rm -f "$TMP/$1/tokenizer.model"
  cp "$5"/tokenizer.json "$5"/tokenizer_config.json "$TMP/$1/"
}
model llama3 128256 128000 128001 "$SHARED/models/llama3-tokenizer"
model qwen3 151936 151643 151645 "$SHARED/models/qwen3-tokenizer"
model tiny 512 1 300 "$SRC/tests/data/tokenizer/tiny-bl"
printf '{%% for m in messages %%}<|end|>{{ m.role }}\n{{ m.content }}{%% endfor %%}{%% if add_generation_prompt %%}<|end|>assistant\n{%% endif %%}' >"$TMP/ok.jinja"
check "llama3 model compiles" "$LLMC" compile "$TMP/llama3" -o "$TMP/l3" -q
check "qwen3 model compiles" "$LLMC" compile "$TMP/qwen3" -o "$TMP/q3" -q
check "a model compiles with a chat template of its own" "$LLMC" compile "$TMP/tiny" -o "$TMP/tiny.exe" -q \
  --chat-template "$TMP/ok.jinja"

same() { # same DESCRIPTION EXPECTED COMMAND...
  local d=$1 want=$2 got; shift 2
  got=$("$@" 2>&1) || true
  if [ "$got" = "$want" ]; then pass "$d"; else fail "$d: got '$got', want '$want'"; fi
}
same "llama3 --tokenize" "9906 11 856 5679 374 19369" "$TMP/l3" --tokenize "Hello, my dog is cute"
same "llama3: digits in threes, whitespace runs" "4513 10961 22 256 865" "$TMP/l3" --tokenize "1234567   x"
same "qwen3: single digits" "16 17 18 19 20 21 22 256 856" "$TMP/q3" --tokenize "1234567   x"
same "qwen3: NFC first (e + combining acute is é)" "924 58858" "$TMP/q3" --tokenize "$(printf 'cafe\xcc\x81')"
same "special token text is text by default" "27 91 68 354 851 91 29 6151" "$TMP/l3" --tokenize "<|eot_id|>hi"
same "--special matches it" "128009 6151" "$TMP/l3" --tokenize "<|eot_id|>hi" --special
same "--detokenize --special shows special tokens" "<|eot_id|>hi" "$TMP/l3" --detokenize "128009,6151" --special
text=$(printf 'Ünïcödé 👨‍👩‍👧 日本語 \t tabs\nand  spaces <|eot_id|> \xe6\x97')
same "round trip, bytes exact (an incomplete character included)" "$text" \
  "$TMP/l3" --detokenize "$("$TMP/l3" --tokenize "$text")"
expect_error "a bad id is refused" "'999999' is not a token id" "$TMP/l3" --detokenize "1 999999"
expect_error "--special alone is refused" "--special is an option of --tokenize and --detokenize" "$TMP/l3" --special "x"
if command -v ldd >/dev/null; then   # sanitized builds add their own runtime libraries
  libs=$(ldd "$TMP/l3" | grep -v -E 'linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl|libasan|libubsan|libgcc_s|libstdc' || true)
  if [ -z "$libs" ]; then pass "the executable needs only libc and libm"; else fail "extra libraries: $libs"; fi
fi

# Chat: the template of tokenizer_config.json, or one given at compile time.
echo '[{"role": "user", "content": "What is the capital of France?"}]' >"$TMP/msgs.json"
same "--render-chat: the README's rendering of the Llama 3 template" \
  "$(printf '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nX')" \
  bash -c "'$TMP/l3' --render-chat '$TMP/msgs.json'; printf X"
same "--render-chat --output-ids: special tokens matched" "128000 128006 882 128007 271" \
  bash -c "echo '{\"messages\": [{\"role\": \"user\", \"content\": \"\"}]}' | '$TMP/l3' --render-chat - --output-ids | cut -d' ' -f1-5"
reply=$(printf 'Hello\n/reset\nAgain\n/exit\nnot read\n' | "$TMP/l3" --chat -n 3 --system "Be brief" 2>&1) && rc=0 || rc=$?
if [ "$rc" = 0 ] && [ -n "$reply" ]; then pass "--chat answers two turns"; else fail "--chat: exit $rc: $reply"; fi
reply=$(printf 'Hi\n' | "$TMP/tiny.exe" --chat -n 2 2>&1) && rc=0 || rc=$?
if [ "$rc" = 0 ]; then pass "--chat with the given template"; else fail "--chat with the given template: $reply"; fi
expect_error "--system belongs to --chat" "--system is an option of --chat" "$TMP/l3" --system x "hi"

# Refused at compile time, naming the file and the JSON path or the template line.
mkdir -p "$TMP/bad"
cp "$TMP/tiny/config.json" "$TMP/tiny/model.safetensors" "$TMP/bad/"
printf 'line one\n{%% for m in messages %%}\n{{ m.content | frobnicate }}\n{%% endfor %%}\n' >"$TMP/bad.jinja"
cp "$TMP/tiny/tokenizer.json" "$TMP/bad/"
expect_error "a template llmc cannot run is refused at compile time, with its line" \
  "bad.jinja: chat_template: line 3: unknown filter 'frobnicate'" \
  "$LLMC" compile "$TMP/bad" -o "$TMP/bad.exe" -q --chat-template "$TMP/bad.jinja"
expect_error "--chat-template needs a tokenizer.json" "the model's tokenizer must be a tokenizer.json" \
  "$LLMC" compile "$SHARED/models/stories260K/stories260K.bin" -o "$TMP/bad.exe" -q --chat-template "$TMP/ok.jinja"
printf '{"model": {"type": "WordPiece", "vocab": {}}}' >"$TMP/bad/tokenizer.json"
expect_error "an unsupported model type" "tokenizer.json: model.type: \"WordPiece\" is not supported" \
  "$LLMC" compile "$TMP/bad" -o "$TMP/bad.exe" -q
sed 's/"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]/"type": "Punctuation"}]/' \
  "$TMP/tiny/tokenizer.json" >"$TMP/bad/tokenizer.json"
expect_error "an unsupported pre-tokenizer" "pre_tokenizer.pretokenizers[1]: pre-tokenizer type \"Punctuation\"" \
  "$LLMC" compile "$TMP/bad" -o "$TMP/bad.exe" -q
if [ -e "$TMP/bad.exe" ]; then fail "a refused compile left its output"; else pass "nothing left behind"; fi
finish
