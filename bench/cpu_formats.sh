#!/usr/bin/env bash
# CPU decode of the weight formats (issue 10: 4-bit decode must beat the CPU's own f32/bf16 decode by
# the byte ratio, minus at most 30%), on this machine:
#   1. bench/cpu_mm.c: each format's matmul on one thread (the fastest of many calls, so that load
#      from other processes disturbs it least), one token and four (MM=0 skips it);
#   2. end to end: a Llama of ~300M parameters (hidden 1024, ffn 4096, 16 layers, 16 heads / 4 KV
#      heads, vocabulary 32000; random weights from `llmc synth --config`) compiled for the cpu
#      target in each format (lm_head and embedding bf16 for fp8, w4a16 and nvfp4: the default),
#      `--bench --bench-prompt 16 -n 32 -t THREADS` ROUNDS times, the formats interleaved round
#      after round (a shared machine's load hits them alike), the load average before each round;
#      then per format the best and the median decode tok/s, the median of each round's ratio to
#      f32 and to bf16, beside two byte ratios: the executables' weight bytes (the payload's weights
#      section) and the bytes a token reads (the matrices and the lm_head), with 70% of each (the
#      issue's floor for the 4-bit formats).
#
#   3. CPU=R (needs perf): R more rounds of the CPU time a decode token takes on one thread (perf
#      stat's task-clock of -n 33 less that of -n 1, over 32), which the machine's load inflates
#      far less than the wall clock (others' threads take turns on the cores, not into this time).
#
#   bench/cpu_formats.sh [ROUNDS [THREADS]]   (defaults 5 and 2; WORK=DIR keeps the models there;
#                                              IDLE=P: before each round wait, up to 30 minutes, for
#                                              2 s in which the other processes keep the CPUs busy
#                                              under P%; each round's line shows that busy share)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
threads=${2:-2}
work=${WORK:-$(mktemp -d /tmp/llmc-cpufmt-XXXXXX)}
mkdir -p "$work"
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
"$root/scripts/build.sh" "$root/build" >/dev/null
llmc=$root/build/llmc
formats="f32 bf16 fp8 w4a16 nvfp4"

if [ "${MM:-1}" != 0 ]; then
  echo "== matmul, one thread (bench/cpu_mm.c, K 4096, slices of 1024 rows of 32768); load: $(cut -d' ' -f1-3 /proc/loadavg)"
  cc -std=gnu11 -O3 -march=native -ffp-contract=fast -fno-math-errno -I"$root/ir" -I"$root/codegen" \
    "$root/bench/cpu_mm.c" -o "$work/cpu_mm" -lm
  "$work/cpu_mm" 32768 1 5
  "$work/cpu_mm" 32768 4 3
fi

echo "== end to end, $threads threads: decode tok/s, prompt 16, 32 tokens, $rounds rounds"
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
# The CPUs' busy share (%) over 2 s, from /proc/stat.
busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
  local idle=$(( b[4] + b[5] - a[4] - a[5] )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
: >"$work/tps.txt"
for r in $(seq "$rounds"); do
  b=$(busy)
  if [ -n "${IDLE:-}" ]; then
    deadline=$(( SECONDS + 1800 ))
    while [ "$b" -ge "$IDLE" ] && [ $SECONDS -lt $deadline ]; do sleep 8; b=$(busy); done
  fi
  load=$(cut -d' ' -f1 /proc/loadavg)
  line="round $r (load $load, CPUs ${b}% busy):"
  for f in $formats; do
    t=$("$work/m300.$f" --bench --bench-prompt 16 -n 32 -t "$threads" 2>/dev/null |
      sed -n "s/^decode: .* \([0-9.]*\) tok\/s,.*/\1/p")
    echo "$r $load $f $t" >>"$work/tps.txt"
    line="$line $f $t"
  done
  echo "$line"
done
# Bytes a token reads: the layers' matrices in the format (values and scales) and the lm_head (f32
# in the f32 build, else bf16); the embedding table is read one row a token, the KV cache and the
# vectors are small at this context. The executables' weight bytes: the payload header's
# weights_size (abi/payload.h: the footer, 352 bytes at the end, holds the payload's offset at 8).
python3 - "$work" $formats <<'EOF'
import statistics, struct, sys
work, fmts = sys.argv[1], sys.argv[2:]
runs = {}
for line in open(f"{work}/tps.txt"):
    r, load, f, t = line.split()
    runs.setdefault(int(r), {})[f] = float(t)
def weights_size(path):
    with open(path, "rb") as fh:
        fh.seek(-352, 2)
        off = struct.unpack_from("<Q", fh.read(352), 8)[0]
        fh.seek(off)
        return struct.unpack_from("<Q", fh.read(96), 24)[0]
H, F, L, V, KV = 1024, 4096, 16, 32000, 256
layer = L * (H * H + 2 * KV * H + H * H + 2 * F * H + H * F)   # q, k, v, o, gate, up, down values
per_value = {"f32": 4, "bf16": 2, "fp8": 1 + 4 / H,              # fp8: an f32 scale a row (K = H
             "w4a16": 0.5 + 2 / 128, "nvfp4": 0.5 + 1 / 16}      # or F: H is the larger share)
tok = {f: (layer * per_value[f] + V * H * (4 if f == "f32" else 2)) / 1e6 for f in fmts}
exe = {f: weights_size(f"{work}/m300.{f}") / 1e6 for f in fmts}
med = lambda v: statistics.median(v)
best = {f: max(r[f] for r in runs.values()) for f in fmts}
median = {f: med([r[f] for r in runs.values()]) for f in fmts}
ratio = {(f, b): med([r[f] / r[b] for r in runs.values()]) for f in fmts for b in ("f32", "bf16")}
print(f"{'format':7} {'best':>6} {'median':>6} {'MB exe':>7} {'MB/tok':>7} | {'x f32':>6} {'exe':>5} {'tok':>5}"
      f" {'70%':>9} | {'x bf16':>6} {'exe':>5} {'tok':>5} {'70%':>9}")
for f in fmts:
    print(f"{f:7} {best[f]:6.2f} {median[f]:6.2f} {exe[f]:7.1f} {tok[f]:7.1f} |"
          f" {ratio[f, 'f32']:6.2f} {exe['f32'] / exe[f]:5.2f} {tok['f32'] / tok[f]:5.2f}"
          f" {0.7 * exe['f32'] / exe[f]:4.2f}/{0.7 * tok['f32'] / tok[f]:4.2f} |"
          f" {ratio[f, 'bf16']:6.2f} {exe['bf16'] / exe[f]:5.2f} {tok['bf16'] / tok[f]:5.2f}"
          f" {0.7 * exe['bf16'] / exe[f]:4.2f}/{0.7 * tok['bf16'] / tok[f]:4.2f}")
print("(tok/s: decode, best and median of the rounds; x f32, x bf16: the median of each round's ratio;"
      " exe, tok: the byte ratios, executables' weights and bytes a token reads; 70%: the issue's floor"
      " of each)")
EOF

[ -n "${CPU:-}" ] || exit 0
echo "== CPU ms a decode token, one thread (task-clock of -n 33 less -n 1, over 32), $CPU rounds"
tc() { perf stat -x, -e task-clock "$@" 2>&1 >/dev/null | sed -n 's/^\([0-9.]*\),msec,task-clock.*/\1/p'; }
for r in $(seq "$CPU"); do
  line="round $r (load $(cut -d' ' -f1 /proc/loadavg)):"
  for f in $formats; do
    a=$(tc "$work/m300.$f" --bench --bench-prompt 16 -n 1 -t 1 --no-verify)
    b=$(tc "$work/m300.$f" --bench --bench-prompt 16 -n 33 -t 1 --no-verify)
    line="$line $f $(python3 -c "print(f'{($b - $a) / 32:.1f}')")"
  done
  echo "$line"
done
