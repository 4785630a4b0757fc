#!/usr/bin/env bash
# ./model --serve end to end on loopback: stories260K compiled for the cpu, then tests/serve_check.py
# (Python's http.client and raw sockets) checks the OpenAI wire format, answers against single runs
# of the executable, errors, slow and vanishing clients, the full queue and a clean SIGTERM; a tiny
# model with a byte-level tokenizer.json and a chat template serves /v1/chat/completions; a small
# Llama-3-shaped model with the Llama 3 tokenizer is asked with curl (SSE, usage, /v1/models, /health).
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
"$LLMC" compile "$SHARED/models/stories260K/stories260K.bin" -o "$TMP/m" -q
# A small model with a byte-level tokenizer.json whose tokenizer_config.json has a chat template;
# 21 MB of weights, so that it runs on several threads (models under 8 MB run on one), which the
# server's signal handling must cope with.
need_shared llama3-tokenizer/tokenizer.json
cat >"$TMP/tiny.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "hidden_size": 512, "intermediate_size": 1024, "num_hidden_layers": 2,
 "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 128,
 "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "bos_token_id": 1, "eos_token_id": 300, "tie_word_embeddings": true}
EOF
"$LLMC" synth --config "$TMP/tiny.json" -o "$TMP/tiny" --dtype f32 >/dev/null 2>&1
rm -f "$TMP/tiny/tokenizer.model"
cp "$SRC"/tests/data/tokenizer/tiny-bl/tokenizer.json "$SRC"/tests/data/tokenizer/tiny-bl/tokenizer_config.json "$TMP/tiny/"
"$LLMC" compile "$TMP/tiny" -o "$TMP/chat" -q
# A Llama-3-shaped model (its vocabulary, GQA, RoPE scaling and end ids; two narrow layers) with the
# Llama 3 tokenizer and chat template, asked with curl.
cat >"$TMP/l3.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 768,
 "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 32, "hidden_act": "silu",
 "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
 "rope_scaling": {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
 "tie_word_embeddings": true, "vocab_size": 128256, "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]}
EOF
"$LLMC" synth --config "$TMP/l3.json" -o "$TMP/l3" >/dev/null 2>&1
rm -f "$TMP/l3/tokenizer.model"
cp "$SHARED/models/llama3-tokenizer/tokenizer.json" "$SHARED/models/llama3-tokenizer/tokenizer_config.json" "$TMP/l3/"
"$LLMC" compile "$TMP/l3" -o "$TMP/l3m" -q
check "the server's executable needs no library beyond libc and libm" \
  bash -c "! ldd '$TMP/m' | grep -v -E 'linux-vdso|libc\.so|libm\.so|ld-linux|libasan|libubsan|libtsan|libstdc|libgcc_s' | grep -q ."
if python3 "$SRC/tests/serve_check.py" "$TMP/m" "$TMP" "$TMP/chat" "$TMP/l3m"; then pass "serve_check.py"; else fail "serve_check.py"; fi
expect_error "--port is an option of --serve" "--serve" "$TMP/m" "Hi" --port 80
expect_error "a port in use is refused" "cannot listen" bash -c "python3 -c 'import socket,subprocess,sys; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); sys.exit(subprocess.run([\"$TMP/m\",\"--serve\",\"--port\",str(s.getsockname()[1])]).returncode)'"
expect_error "an unknown host is refused" "--host" "$TMP/m" --serve --host no.such.host.invalid
finish
