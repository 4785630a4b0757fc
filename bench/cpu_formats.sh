#!/usr/bin/env bash
# CPU decode of the weight formats (issue 10: 4-bit decode must beat the CPU's own f32/bf16 decode by
# the byte ratio, minus at most 30%), one thread, on this machine:
#   1. bench/cpu_mm.c: each format's matmul on one thread (the fastest of many calls, so that load
#      from other processes disturbs it least), one token and four;
#   2. end to end: a Llama of ~300M parameters (hidden 1024, ffn 4096, 16 layers, 16 heads / 4 KV
#      heads, vocabulary 32000; random weights from `llmc synth --config`) compiled for the cpu
#      target in each format (lm_head and embedding bf16 for fp8, w4a16 and nvfp4: the default),
#      `--bench --bench-prompt 16 -n 32 -t 1` ROUNDS times, formats interleaved, the best decode
#      tok/s of each, against f32 and bf16, beside the ratio of the bytes a token reads.
#
#   bench/cpu_formats.sh [ROUNDS]       (default 5; WORK=DIR keeps the models there between runs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
work=${WORK:-$(mktemp -d /tmp/llmc-cpufmt-XXXXXX)}
mkdir -p "$work"
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
"$root/scripts/build.sh" "$root/build" >/dev/null
llmc=$root/build/llmc
formats="f32 bf16 fp8 w4a16 nvfp4"

echo "== matmul, one thread (bench/cpu_mm.c, K 4096, slices of 1024 rows of 32768)"
cc -std=gnu11 -O3 -march=native -ffp-contract=fast -fno-math-errno -I"$root/ir" -I"$root/codegen" \
  "$root/bench/cpu_mm.c" -o "$work/cpu_mm" -lm
"$work/cpu_mm" 32768 1 5
"$work/cpu_mm" 32768 4 3

echo "== end to end, one thread: decode tok/s (best of $rounds), prompt 16, 32 tokens"
cat >"$work/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 1024,
 "intermediate_size": 4096, "num_hidden_layers": 16, "num_attention_heads": 16,
 "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 2048,
 "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": false,
 "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "torch_dtype": "float32"}
EOF
[ -d "$work/m300" ] || "$llmc" synth --config "$work/config.json" -o "$work/m300" --dtype f32 --seed 1 -q
for f in $formats; do
  [ -x "$work/m300.$f" ] || "$llmc" compile "$work/m300" --weights "$f" --max-seq 256 -o "$work/m300.$f" -q
done
for r in $(seq "$rounds"); do
  for f in $formats; do
    "$work/m300.$f" --bench --bench-prompt 16 -n 32 -t 1 2>/dev/null |
      sed -n "s/^decode: .* \([0-9.]*\) tok\/s,.*/$f \1/p" >>"$work/tps.txt"
  done
done
# Bytes a token reads: the layers' matrices in the format (values and scales) and the lm_head (f32
# in the f32 build, else bf16); the embedding table is read one row a token, the KV cache and the
# vectors are small at this context.
python3 - "$work/tps.txt" $formats <<'EOF'
import sys
best = {}
for line in open(sys.argv[1]):
    f, t = line.split()
    best[f] = max(best.get(f, 0.0), float(t))
fmts = sys.argv[2:]
H, F, L, V, KV = 1024, 4096, 16, 32000, 256
layer = L * (H * H + 2 * KV * H + H * H + 2 * F * H + H * F)   # q, k, v, o, gate, up, down values
per_value = {"f32": 4, "bf16": 2, "fp8": 1 + 4 / H,              # fp8: an f32 scale a row (K = H
             "w4a16": 0.5 + 2 / 128, "nvfp4": 0.5 + 1 / 16}      # or F: H is the larger share)
mb = {f: (layer * per_value[f] + V * H * (4 if f == "f32" else 2)) / 1e6 for f in fmts}
print(f"{'format':7} {'tok/s':>7} {'MB/token':>9} {'x f32':>7} {'x bf16':>7} {'bytes f32/it':>13} {'bytes bf16/it':>14}")
for f in fmts:
    print(f"{f:7} {best[f]:7.2f} {mb[f]:9.1f} {best[f] / best['f32']:7.2f} {best[f] / best['bf16']:7.2f}"
          f" {mb['f32'] / mb[f]:13.2f} {mb['bf16'] / mb[f]:14.2f}")
EOF
