#!/usr/bin/env bash
# CPU decode speed of llmc's cpu target against llama2.c's run.c, on the same machine, in the same run,
# with the same thread count, on the same weights:
#   - stories260K (../shared/models/stories260K, the real checkpoint)
#   - a synthesized stories15M-shaped model (llmc synth, float32), converted to llama2.c's format
# run.c is not part of llmc: pass the path of a llama2.c run.c in RUNC (it is compiled here with its
# own fastest flags, -Ofast -march=native -fopenmp). Without RUNC only llmc is measured.
#
#   RUNC=/path/to/llama2.c/run.c bench/cpu_decode.sh [THREADS] [STEPS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
steps=${2:-200}   # stories15M has a context of 256
shared=$root/../shared/models
work=$(mktemp -d /tmp/llmc-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$root/scripts/build.sh" "$root/build" >/dev/null
llmc=$root/build/llmc

# Models.
"$llmc" synth --preset stories15M --dtype f32 --seed 1 -o "$work/s15" -q
cc -O2 -I"$root" -o "$work/to_llama2c" "$root/bench/to_llama2c.c" "$root/build/libllmc_frontend.a" \
  "$root/build/libllmc_ir.a" $(pkg-config --libs libcjson) -lm
"$work/to_llama2c" "$work/s15" "$work"
"$llmc" compile "$shared/stories260K/stories260K.bin" -o "$work/llmc_260k" -q
"$llmc" compile "$work/s15" -o "$work/llmc_15m" -q
if [ -n "${RUNC:-}" ]; then
  cc -Ofast -march=native -fopenmp -o "$work/run" "$RUNC" -lm
fi

ours() { # ours EXE: decode tok/s at batch 1 (median of 3)
  for i in 1 2 3; do
    "$1" --bench --bench-prompt 1 -n "$steps" --threads "$threads" | sed -n 's/^decode: .* \([0-9.]*\) tok\/s,.*/\1/p'
  done | sort -n | sed -n 2p
}
theirs() { # theirs MODEL TOKENIZER: run.c's achieved tok/s (median of 3)
  for i in 1 2 3; do
    OMP_NUM_THREADS=$threads "$work/run" "$1" -t 0 -n "$steps" -z "$2" 2>&1 </dev/null |
      sed -n 's/.*achieved tok\/s: \([0-9.]*\).*/\1/p'
  done | sort -n | sed -n 2p
}
printf '%-22s %8s %12s %12s %8s\n' model threads "run.c tok/s" "llmc tok/s" ratio
row() { # row NAME LLMC_EXE MODEL_BIN TOKENIZER
  local a b="-" r="-"
  a=$(ours "$2")
  if [ -n "${RUNC:-}" ]; then
    b=$(theirs "$3" "$4")
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }')
  fi
  printf '%-22s %8s %12s %12s %8s\n' "$1" "$threads" "$b" "$a" "$r"
}
row stories260K "$work/llmc_260k" "$shared/stories260K/stories260K.bin" "$shared/stories260K/tok512.bin"
row "stories15M (synth f32)" "$work/llmc_15m" "$work/model.bin" "$work/tokenizer.bin"
