#!/usr/bin/env bash
# The server's load test on the lent GPU (issue 13): a Llama-3.2-1B-shaped model (llmc synth's
# llama3.2-1b preset: random bf16 weights, with the Llama 3 tokenizer and chat template and its
# end ids) compiled for $ARCH on the device, served by ./model --serve, and bench/serve_load.sh
# against it over loopback: CLIENTS streaming clients, REQUESTS requests, once per --max-batch in
# BATCHES. Every completed answer is compared with the same request sent alone to the server (the
# first two of those also against the executable's own output, which must be identical); answers
# that a wider batch changed are counted, not failed (--differ-ok: batched matmuls are other
# kernels on the GPU, docs/cuda.md).
#
# Here (prepares .carry/: llmc and its libcjson as scripts/gpu_carry.sh does, plus the tokenizer):
#   bench/serve_gpu.sh --prepare
# There, with the device tool (no network needed; python3 is there):
#   run: bash bench/serve_gpu.sh      carry: [".carry"]
# Knobs (environment): ARCH (sm_90a; cpu for a dry run), PRESET (llama3.2-1b) or CONFIG (a
# config.json of Llama 3's vocabulary for llmc synth --config), MAX_SEQ (4096), CLIENTS (64),
# REQUESTS (500), BATCHES ("16 64"), SECONDS_MAX (240 a run), SERVE_OPTS / LOAD_OPTS (passed on to
# serve_load.sh). Logs go to $OUT: serve_gpu.log (everything, and a table at its end) and each
# server's stderr.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.carry

if [ "${1:-}" = --prepare ]; then
  set -e
  KC=0 QL=0 "$root/scripts/gpu_carry.sh" >/dev/null
  mkdir -p "$carry/llama3-tokenizer"
  cp "$root/../shared/models/llama3-tokenizer/"{tokenizer.json,tokenizer_config.json} "$carry/llama3-tokenizer/"
  du -sh "$carry"
  exit 0
fi

export LD_LIBRARY_PATH=$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
llmc=$carry/llmc
out=${OUT:-/tmp/llmc-out}
work=/tmp/llmc-serve
arch=${ARCH:-sm_90a}
preset=${PRESET:-llama3.2-1b}
mkdir -p "$out" "$work"
log=$out/serve_gpu.log
: >"$log"
say() { echo "$*" | tee -a "$log"; }
table=()
row() { table+=("$(printf '%-44s %s' "$1" "$2")"); }
[ -x "$llmc" ] && [ -f "$carry/llama3-tokenizer/tokenizer.json" ] ||
  { say "FAIL: .carry/ lacks llmc or llama3-tokenizer: run bench/serve_gpu.sh --prepare here first"; exit 1; }

say "== device"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>&1 | tee -a "$log"
say "== ${CONFIG:-$preset} with the Llama 3 tokenizer, compiled for $arch"
t0=$SECONDS
name=$preset
[ -n "${CONFIG:-}" ] && name=$(basename "$CONFIG" .json)
dir=$work/$name exe=$work/$name.exe
if [ ! -d "$dir" ]; then
  if [ -n "${CONFIG:-}" ]; then
    "$llmc" synth --config "$CONFIG" -o "$dir" -q >>"$log" 2>&1 || { say "FAIL: synth"; exit 1; }
  else
    "$llmc" synth --preset "$preset" -o "$dir" -q >>"$log" 2>&1 || { say "FAIL: synth"; exit 1; }
  fi
  # the preset's config carries llama2.c's ids (1, 2): Llama 3's instead, as its tokenizer has them
  python3 - "$dir/config.json" <<'EOF' || exit 1
import json, sys
c = json.load(open(sys.argv[1]))
c["bos_token_id"], c["eos_token_id"] = 128000, [128001, 128008, 128009]
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
  rm -f "$dir/tokenizer.model"
  cp "$carry/llama3-tokenizer/"*.json "$dir/"
fi
"$llmc" compile "$dir" --target "$arch" -o "$exe" --max-seq "${MAX_SEQ:-4096}" -q >>"$log" 2>&1 ||
  { say "FAIL: compile"; tail -20 "$log"; exit 1; }
say "synth + compile: $((SECONDS - t0)) s"
"$exe" --version 2>&1 | head -3 | tee -a "$log"
"$exe" "The capital of France is" -n 8 2>&1 | tail -2 | tee -a "$log"

rc=0
for b in ${BATCHES:-16 64}; do
  say "== serve_load: ${CLIENTS:-64} clients, ${REQUESTS:-500} requests, --max-batch $b"
  f=$out/load_b$b.txt
  LOG=$out/server_b$b.log LOAD_OPTS="--reference server --differ-ok ${LOAD_OPTS:-}" \
    bash "$root/bench/serve_load.sh" "$exe" "${CLIENTS:-64}" "${REQUESTS:-500}" "$b" "${SECONDS_MAX:-240}" \
    >"$f" 2>&1
  lrc=$?
  tee -a "$log" <"$f"
  [ "$lrc" -eq 0 ] || rc=1
  row "max-batch $b: result" "$(grep -E '^(ok|FAIL)' "$f" | head -2 | tr '\n' ' ') (exit $lrc)"
  row "max-batch $b: throughput" "$(grep -E '^wall' "$f")"
  row "max-batch $b: time to first token" "$(sed -n 's/^time to first token: //p' "$f")"
  row "max-batch $b: time per output token" "$(sed -n 's/^time per output token: //p' "$f")"
  d=$(grep -E '^note: .* differ' "$f" | cut -c7-160)
  row "max-batch $b: answers vs alone" "${d:-every completed answer identical to its request alone}"
  row "max-batch $b: server memory" "$(sed -n 's/^server memory (VmRSS): //p' "$f")"
  row "max-batch $b: client" "$(sed -n 's/^client CPU: \([^(]*\).*/\1/p' "$f")"
done

say "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1), ${CONFIG:-$preset}, $arch)"
for r in "${table[@]}"; do say "$r"; done
exit $rc
