#!/usr/bin/env bash
# Issue 16's reproducers, re-created: each gets a clear error (or a correct run), no crash, under
# a minute, and leaves no output behind.
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
need_shared debdocs-32M/model.safetensors.index.json
M=$SHARED/models/stories260K
OUT=$TMP/out
mkdir -p "$OUT"
no_output() { # no_output DESCRIPTION: the output directory must be empty
  if [ -n "$(ls -A "$OUT")" ]; then fail "$1: left files behind: $(ls -A "$OUT")"; rm -rf "${OUT:?}"/*; else pass "$1: nothing left behind"; fi
}
quick() { timeout 60 "$@"; }   # every reproducer: an answer within a minute
bad_compile() { # bad_compile DESCRIPTION EXPECTED SRC [args]
  local d=$1 want=$2 src=$3; shift 3
  expect_error "$d" "$want" quick "$LLMC" compile "$src" -o "$OUT/model" -q "$@"
  no_output "$d"
}
sed "s|\"file\": \"../../shared/models/|\"file\": \"$SHARED/models/|" "$SRC/examples/stories260K.json" >"$TMP/good.json"

# 1. A rope whose scaling object has 13 keys (wrote past the node's attributes).
keys=""
for i in $(seq 1 13); do keys="$keys\"k$i\": $i, "; done
sed "0,/\"style\": \"interleaved\"}/s//\"style\": \"interleaved\", \"scaling\": {${keys%, }}}/" "$TMP/good.json" >"$TMP/scaling13.json"
bad_compile "rope scaling with 13 keys" "scaling" "$TMP/scaling13.json"

# 2. Numbers an attribute cannot hold: 1e40 for an integer, an infinite eps.
sed '0,/"head_dim": 8, "theta"/s//"head_dim": 1e40, "theta"/' "$TMP/good.json" >"$TMP/int1e40.json"
bad_compile "integer attribute 1e40" "head_dim" "$TMP/int1e40.json"
sed '0,/"eps": 1e-05}/s//"eps": 1e999}/' "$TMP/good.json" >"$TMP/epsinf.json"
bad_compile "infinite eps" "eps" "$TMP/epsinf.json"
sed '0,/"eps": 1e-05}/s//"eps": -1e-05}/' "$TMP/good.json" >"$TMP/epsneg.json"
bad_compile "negative eps" "eps" "$TMP/epsneg.json"

# 3. A context of 2.1M positions: compiles and runs (no score buffer sized by it on the stack).
if quick "$LLMC" compile "$TMP/good.json" --max-seq 2100000 -o "$TMP/long" -q; then
  out=$(quick "$TMP/long" --ids "1 403" -n 4 --output-ids 2>&1) && pass "2.1M-position context runs" ||
    fail "2.1M-position context: $out"
else
  fail "2.1M-position context does not compile"
fi

# 4. layers.count 100000 in a small model.json: refused at once (the limit is 4096).
sed 's/"layers": {"count": 5,/"layers": {"count": 100000,/' "$TMP/good.json" >"$TMP/deep.json"
t0=$(date +%s)
bad_compile "layers.count 100000" "graph.layers.count" "$TMP/deep.json"
[ $(($(date +%s) - t0)) -lt 10 ] && pass "layers.count 100000 refused within 10 s" || fail "layers.count 100000 took $(($(date +%s) - t0)) s"

# 5. A sharded index whose weight_map names a file outside the directory.
mkdir -p "$TMP/hf"
for f in "$SHARED"/models/debdocs-32M/*; do ln -s "$f" "$TMP/hf/"; done
rm "$TMP/hf/model.safetensors.index.json"
sed '0,/"model-00001-of-00004.safetensors"/s//"..\/model-00001-of-00004.safetensors"/' \
  "$SHARED/models/debdocs-32M/model.safetensors.index.json" >"$TMP/hf/model.safetensors.index.json"
cp "$SHARED/models/debdocs-32M/model-00001-of-00004.safetensors" "$TMP/model-00001-of-00004.safetensors"
bad_compile "weight_map naming ../x.safetensors" "expected a file name in the directory" "$TMP/hf"
sed -i 's|"\.\./model-00001-of-00004.safetensors"|"/etc/passwd"|' "$TMP/hf/model.safetensors.index.json"
bad_compile "weight_map naming an absolute path" "expected a file name in the directory" "$TMP/hf"

# 7. -o DIR: refused before anything is written (the side file too).
mkdir "$OUT/adir"
expect_error "-o names a directory" "is a directory" quick "$LLMC" compile "$TMP/good.json" -o "$OUT/adir" --weights-file -q
[ -z "$(ls -A "$OUT/adir")" ] && [ "$(ls -A "$OUT")" = adir ] && pass "-o DIR: nothing written" || fail "-o DIR left $(ls -A "$OUT")"
rmdir "$OUT/adir"
mkdir "$OUT/model.weights"
expect_error "the side file's name is a directory" "is a directory" quick "$LLMC" compile "$TMP/good.json" -o "$OUT/model" --weights-file -q
[ "$(ls -A "$OUT")" = model.weights ] && pass "side file a directory: nothing written" || fail "left $(ls -A "$OUT")"
rmdir "$OUT/model.weights"

# 8. synth with shapes of 52778 GB: refused before writing, no directory left.
cat >"$TMP/huge.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256, "hidden_size": 65536,
 "intermediate_size": 229376, "num_hidden_layers": 1024, "num_attention_heads": 512, "num_key_value_heads": 64,
 "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": false}
JSON
expect_error "synth of a model larger than the disk" "free: nothing was written" quick "$LLMC" synth --config "$TMP/huge.json" -o "$OUT/huge"
no_output "synth of a model larger than the disk"
# 9. Input text in generated code (issue 25): a model name, weight names and a checkpoint path that
#    end the comment they are printed in, with code after, newlines, quotes and trigraphs: they
#    compile, nothing of them runs (the code would trap), and the name reaches --version intact.
inj='*/ __attribute__((constructor)) static void pwn(void){__builtin_trap();} /*'
sed -e "s|\"name\": \"stories260K\"|\"name\": \"$inj\"|" \
    -e 's|tok_embeddings"|tok*/ __builtin_trap(); /*\\n??/ \\"x"|g' \
    -e 's|"out": "h"|"out": "h*/ __builtin_trap(); /*\\"); __builtin_trap(); //"|g' \
    -e 's|\["h", |["h*/ __builtin_trap(); /*\\"); __builtin_trap(); //", |g' "$TMP/good.json" >"$TMP/inject.json"
grep -qF '"h*/ __builtin_trap();' "$TMP/inject.json" && grep -qF 'tok*/' "$TMP/inject.json" || fail "inject.json not made"
if quick "$LLMC" compile "$TMP/inject.json" -o "$TMP/inject" -q; then
  want=$(quick "$TMP/long" --ids "1 403" -n 4 --output-ids 2>&1) || true
  got=$(quick "$TMP/inject" --ids "1 403" -n 4 --output-ids 2>&1) && [ "$got" = "$want" ] &&
    pass "hostile model and tensor names: nothing injected runs" || fail "hostile names: $got (want $want)"
  ver=$(quick "$TMP/inject" --version 2>&1) && grep -qF -- "$inj" <<<"$ver" &&
    pass "the hostile model name reaches --version intact" || fail "--version: $ver"
else
  fail "hostile model and tensor names do not compile"
fi
hd="$TMP/p$inj"x
mkdir -p "$(dirname "$hd")"
if quick "$LLMC" synth --preset stories260K -o "$hd" --seed 1 -q && quick "$LLMC" compile "$hd" -o "$TMP/injhf" -q; then
  out=$(quick "$TMP/injhf" --ids "1 403" -n 4 --output-ids 2>&1) && pass "a hostile checkpoint path: nothing injected runs" ||
    fail "hostile checkpoint path: $out"
else
  fail "a checkpoint under a hostile path does not compile"
fi
finish
