#!/usr/bin/env bash
# Bad input through the llmc command line: malformed model.json files, truncated and corrupt
# checkpoints and safetensors files. Each must give a clear message and a non-zero exit without a
# crash, and leave no output file (nor a temporary one) behind.
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
M=$SHARED/models/stories260K
OUT=$TMP/out
mkdir -p "$OUT"

no_output() { # no_output DESCRIPTION: the output directory must be empty
  if [ -n "$(ls -A "$OUT")" ]; then fail "$1: left files behind: $(ls -A "$OUT")"; rm -rf "${OUT:?}"/*; else pass "$1: nothing left behind"; fi
}
bad_compile() { # bad_compile DESCRIPTION EXPECTED SRC [args]
  local d=$1 want=$2 src=$3; shift 3
  expect_error "$d" "$want" "$LLMC" compile "$src" -o "$OUT/model" -q "$@"
  no_output "$d"
}

# model.json syntax and structure.
printf '{\n  "llmc_model": 1,\n  "name": "x",\n  "config": {"max_seq_len": 8,, }\n}\n' >"$TMP/syntax.json"
bad_compile "JSON syntax error reports line:column" "syntax.json:4:" "$TMP/syntax.json"
sed 's/"op": "silu"/"op": "gelu_new"/' "$SRC/examples/stories260K.json" >"$TMP/unknown_op.json"
sed -i "s|\"file\": \"../../shared/models/|\"file\": \"$SHARED/models/|" "$TMP/unknown_op.json"
bad_compile "unknown op names the JSON path" 'graph.layers.block[12].op: unknown op "gelu_new"' "$TMP/unknown_op.json"
sed "s|\"file\": \"../../shared/models/|\"file\": \"$SHARED/models/|" "$SRC/examples/stories260K.json" >"$TMP/good.json"
sed '0,/"shape": \[64, 64\]/s//"shape": [64, 65]/' "$TMP/good.json" >"$TMP/shape.json"
bad_compile "mis-shaped weight names the op and the weight" "(@layers.0.wq) is f32[64,65], expected [N, 64]" "$TMP/shape.json"
sed 's/"offset": 28,/"offset": 1056000,/' "$TMP/good.json" >"$TMP/offset.json"
bad_compile "weight outside its file names the binding" "weights.tok_embeddings" "$TMP/offset.json"
sed 's/"max_seq_len": 512/"max_seq_len": 0/' "$TMP/good.json" >"$TMP/range.json"
bad_compile "out-of-range config value names the path" "config.max_seq_len" "$TMP/range.json"
sed 's/"@layers.{i}.w2"/"@layers.{i}.w9"/' "$TMP/good.json" >"$TMP/missing.json"
bad_compile "missing weight is named" 'unknown weight "layers.0.w9"' "$TMP/missing.json"
printf '\x00\xffgarbage' >"$TMP/garbage.json"
bad_compile "garbage model.json" "garbage.json" "$TMP/garbage.json"
bad_compile "missing file" "nonexistent" "$TMP/nonexistent.json"
mkdir -p "$TMP/adir"
sed "s|\"file\": \"$SHARED/models/stories260K/tok512.bin\"|\"file\": \"$TMP/adir\"|" "$TMP/good.json" >"$TMP/tokdir.json"
bad_compile "a directory as the tokenizer file" "adir: is a directory, expected a file" "$TMP/tokdir.json"

# --tp: N that does not divide the heads; a target that does not run sharded graphs yet (docs/tp.md:
# the AMD targets; the cpu target runs them, tests/e2e_tp.sh, and the NVIDIA targets a GPU a rank).
bad_compile "--tp not dividing the heads names the counts" "--tp 3: " "$TMP/good.json" --tp 3
bad_compile "--tp 0" "--tp: expected an integer in [1, 1024]" "$TMP/good.json" --tp 0
bad_compile "--qmma-units takes 1 to 64" '--qmma-units: expected an integer in [1, 64], found "0"' "$TMP/good.json" --qmma-units 0
bad_compile "--attn-parts takes 1 to 64" '--attn-parts: expected an integer in [1, 64], found "65"' "$TMP/good.json" --attn-parts 65
# (ring was deleted, docs/cuda.md: refused as any unknown value is)
bad_compile "--qmma names its values, ring no longer one" '--qmma: expected auto, plain or wg, found "ring"' "$TMP/good.json" --qmma ring
bad_compile "--batch-invariant refuses --qmma wg" "--batch-invariant and --qmma wg: a batch-invariant build runs every matmul" \
  "$TMP/good.json" --qmma wg --batch-invariant --target sm_90a
bad_compile "--wgmma names its values" '--wgmma: expected auto, cp or tma, found "tmas"' "$TMP/good.json" --wgmma tmas
bad_compile "--decode-wgmma names its values" '--decode-wgmma: expected off or on, found "yes"' "$TMP/good.json" --decode-wgmma yes
bad_compile "--batch-invariant refuses --decode-wgmma on" "--batch-invariant and --decode-wgmma on: a batch-invariant build runs every matmul" \
  "$TMP/good.json" --decode-wgmma on --batch-invariant --target sm_90a
bad_compile "--batch-invariant refuses --wgmma tma" "--batch-invariant and --wgmma tma: a batch-invariant build runs every matmul" \
  "$TMP/good.json" --wgmma tma --batch-invariant --target sm_90a
bad_compile "--dump-after shard_tp without --tp" "runs only with --tp N > 1" "$TMP/good.json" --dump-after shard_tp
bad_compile "--tp 2 on an AMD target: not yet" "--tp 2: the gfx1151 target does not run sharded graphs yet" "$TMP/good.json" --tp 2 --target gfx1151

# llama2.c checkpoints.
head -c 100000 "$M/stories260K.bin" >"$TMP/trunc.bin"
bad_compile "truncated llama2.c checkpoint" "trunc.bin" "$TMP/trunc.bin" --tokenizer "$M/tok512.bin"
head -c 20 "$M/stories260K.bin" >"$TMP/short.bin"
bad_compile "checkpoint shorter than its header" "short.bin" "$TMP/short.bin"
head -c 65536 /dev/urandom >"$TMP/random.bin"
bad_compile "random bytes as a checkpoint" "random.bin" "$TMP/random.bin"
expect_error "llmc import of a truncated checkpoint" "trunc.bin" "$LLMC" import "$TMP/trunc.bin" -o "$OUT/m.json"
no_output "llmc import of a truncated checkpoint"

# Hugging Face directories and safetensors files (a synthesized small model, then damaged copies).
"$LLMC" synth --preset stories260K -o "$TMP/hf" --seed 1 -q
"$LLMC" compile "$TMP/hf" -o "$TMP/hf_model" -q
check "a synthesized checkpoint compiles" test -x "$TMP/hf_model"
damage() { rm -rf "$TMP/bad"; cp -r "$TMP/hf" "$TMP/bad"; }
ST=model.safetensors
damage; truncate -s -1000 "$TMP/bad/$ST"
bad_compile "truncated safetensors" "$ST" "$TMP/bad"
damage; printf '\xff\xff\xff\xff\xff\xff\x00\x00' | dd of="$TMP/bad/$ST" bs=1 count=8 conv=notrunc status=none
bad_compile "safetensors header length past the end" "$ST" "$TMP/bad"
damage; python_free_edit() { # replace the first occurrence of $1 by $2 (same length) in the header
  local f=$1 a=$2 b=$3 off
  off=$(grep -abo -F -m1 -- "$a" "$f" | head -1 | cut -d: -f1)
  [ -n "$off" ] || { echo "pattern $a not found"; return 1; }
  printf '%s' "$b" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
python_free_edit "$TMP/bad/$ST" '"BF16"' '"I64" '
bad_compile "unknown safetensors dtype" "$ST" "$TMP/bad"
damage; python_free_edit "$TMP/bad/$ST" '"data_offsets":[0,' '"data_offsets":[2,'
bad_compile "safetensors offsets that lie" "$ST" "$TMP/bad"
damage; printf '{"architectures": ["GPT2LMHeadModel"]}' >"$TMP/bad/config.json"
bad_compile "unsupported architecture named" "GPT2LMHeadModel" "$TMP/bad"
damage; sed -i -E 's/"num_key_value_heads":[[:space:]]*4/"num_key_value_heads": 3/' "$TMP/bad/config.json"
bad_compile "out-of-range config.json value named" "num_key_value_heads" "$TMP/bad"
damage; rm "$TMP/bad/$ST"
bad_compile "missing weights file" "safetensors" "$TMP/bad"
# --keep takes the checkpoint's names (docs/formats.md's example), rules accumulate over options.
check "--keep with Hugging Face names, two options" bash -c "'$LLMC' compile '$TMP/hf' --weights fp8 --keep 'model.layers.0.*=bf16' \
  --keep lm_head=f16 --dump-after weight_format | grep -q '^weight @layers.0.w2: bf16.*' && '$LLMC' compile '$TMP/hf' --weights fp8 \
  --keep 'model.layers.0.*=bf16' --keep lm_head=f16 --dump-after weight_format | grep -q '^weight @tok_embeddings: f16'"
expect_error "--keep naming nothing lists names" "nearest: model.layers.0.self_attn.q_proj.weight (layers.0.wq)" \
  "$LLMC" compile "$TMP/hf" --keep 'model.layer.0.*=bf16' -o "$OUT/model"
no_output "--keep naming nothing"
# A NaN weight (bf16 0x7fc0 at element 1234 of layer 0's q_proj, fused with k and v): refused,
# naming the checkpoint's tensor and the element (test_codegen covers every format and infinities).
damage
hlen=$(head -c 8 "$TMP/bad/$ST" | od -An -tu8 | tr -d ' ')
qoff=$(grep -ao -m1 '"model.layers.0.self_attn.q_proj.weight":{[^}]*"data_offsets":\[[0-9]*' "$TMP/bad/$ST" | sed 's/.*\[//')
printf '\xc0\x7f' | dd of="$TMP/bad/$ST" bs=1 seek=$((8 + hlen + qoff + 2 * 1234)) conv=notrunc status=none
bad_compile "a NaN weight is refused" "model.layers.0.self_attn.q_proj.weight: element 1234 is NaN (weights must be finite" "$TMP/bad"
bad_compile "a NaN weight is refused in w4a16" "q_proj.weight: element 1234 is NaN" "$TMP/bad" --weights w4a16

# Options.
expect_error "unknown target" "--target sm_12" "$LLMC" compile "$TMP/good.json" --target sm_12 -o "$OUT/m"
no_output "unknown target"
expect_error "unknown pass for --dump-after" "no such pass" "$LLMC" compile "$TMP/good.json" --dump-after fuse_everything
expect_error "bad --max-tokens" "--max-tokens" "$LLMC" compile "$TMP/good.json" --max-tokens 0 -o "$OUT/m"
expect_error "unknown command" "unknown command" "$LLMC" frobnicate
# gemv_b1's options (--b1-rows, --b1-act, --b1-roll) were deleted (they lost on an H100: bench/NOTES.md,
# round 10): an unknown option now, refused by name.
bad_compile "--b1-rows is gone" "unknown option --b1-rows (llmc compile --help lists the options)" "$TMP/good.json" \
  --b1-rows 4 --target sm_90a
finish
