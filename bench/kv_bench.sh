#!/usr/bin/env bash
# Long-context batched decode in each KV cache format (issue 12), on the lent GPU: the presets
# synthesized (bf16 weights, random, never zero), compiled for $ARCH once a format (--kv F, context
# CTX + GEN), then for each batch size a --bench of CTX-token prompts and GEN decode steps: decode
# tok/s and % of the memory roofline (bench.c: every weight once plus the format's KV bytes at each
# step's context, a KIVI ring's newest positions in f16, over the copy bandwidth measured in the same
# run); then the capacity: how many CTX-position sequences run at once within --kv-mem KV_MEM MiB
# (bench.c's "KV capacity", a KIVI sequence's ring counted). One table at the end, each format
# against f16 (speed and capacity ratios). For the 1B (COMPARE=1, the default) each format's build
# also runs --compare-cpu on 200 tokens (past KIVI's residual) against its CPU twin: the GPU's KV
# writers and readers against the cpu target's, layer by layer.
#
# Run by bench/gpu_round.sh (WHAT=kv) after scripts/gpu_carry.sh, or alone:
#   LLMC=.carry/llmc OUT=/tmp/out bash bench/kv_bench.sh
# Knobs (environment): PRESETS ("llama3.1-8b llama3.2-1b"; a cut shape such as llama3.1-8b-11l too), KV_FORMATS ("f16 fp8 int8 int4 kivi4 kivi2"),
# BATCHES ("16 64"), CTX (4096), GEN (32), KV_MEM (16384 MiB), ARCH (sm_90a), COMPARE (1).
# Time on an H100/H200: the 8B's synthesis ~2 min, each format's compile ~1.5 min (NVRTC and 16 GB of
# weights), its runs ~1 min (the prefill of 64 x 4096 tokens most of it; KIVI prefill runs on the
# per-token kernel: slower); the 1B a third of that. Within one call's 10 minutes: one preset and
# three or four formats a call, e.g. PRESETS=llama3.1-8b KV_FORMATS="f16 fp8 int4 kivi2".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
llmc=${LLMC:-$root/.carry/llmc}
[ -d "$root/.carry/lib" ] && export LD_LIBRARY_PATH=$root/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
arch=${ARCH:-sm_90a}
out=${OUT:-/tmp/llmc-out}
work=${WORK:-/tmp/llmc-work}
presets=${PRESETS:-llama3.1-8b llama3.2-1b}
formats=${KV_FORMATS:-f16 fp8 int8 int4 kivi4 kivi2}
batches=${BATCHES:-16 64}
ctx=${CTX:-4096}
gen=${GEN:-32}
kvmem=${KV_MEM:-16384}
mkdir -p "$out" "$work"
log=$out/kv_bench.log
: >>"$log"
say() { echo "$*" | tee -a "$log"; }
rows=()

for p in $presets; do
  dir=$work/$p
  say "== $p: KV formats at $ctx tokens of context"
  t0=$SECONDS
  case $p in # a cut shape of bench/gpu_round.sh (e.g. llama3.1-8b-11l: the 8B's matrices, 11 of its 32 layers)
  *-[0-9]*l) cfg() { source <(sed -n '/^cut_config()/,/^}/p' "$root/bench/gpu_round.sh"); cut_config "$1"; }
    [ -d "$dir" ] || { cfg "$p" >"$work/$p.json" && "$llmc" synth --config "$work/$p.json" -o "$dir" -q >>"$log" 2>&1; } ||
      { say "$p: synth failed"; continue; } ;;
  *) [ -d "$dir" ] || "$llmc" synth --preset "$p" -o "$dir" -q >>"$log" 2>&1 || { say "$p: synth failed"; continue; } ;;
  esac
  say "synth: $((SECONDS - t0)) s"
  declare -A tok=() roof=() cap=()
  for f in $formats; do
    exe=$work/kv_${p}_${f//,/_}.exe
    t0=$SECONDS
    "$llmc" compile "$dir" --target "$arch" --kv "$f" --max-seq $((ctx + gen)) --weights-file -o "$exe" -q >>"$log" 2>&1 ||
      { say "$p --kv $f: compile failed"; tail -5 "$log"; continue; }
    say "compile --kv $f: $((SECONDS - t0)) s; $("$exe" --version | grep -o 'KV cache [^,]*')"
    if [ "${COMPARE:-1}" = 1 ] && [ "$p" = llama3.2-1b ]; then
      # 200 tokens against the CPU twin (past KIVI's residual: positions read from the blocks)
      r=$work/kv_${p}_${f//,/_}_cmp.txt
      "$exe" --ids "$(seq -s ' ' 300 499)" --compare-cpu >"$r" 2>&1
      grep -A40 "per layer" "$r" >>"$log"
      worst=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$r")
      agree=$(grep -o "argmax agrees on .*" "$r")
      say "RESULT $p --kv $f compare-cpu 200 tokens: worst layer rel.err $worst; ${agree:-no result: $(tail -1 "$r")}"
    fi
    for b in $batches; do
      r=$work/kv_${p}_${f//,/_}_b$b.txt
      "$exe" --bench --bench-prompt "$ctx" -n "$gen" --batch "$b" >"$r" 2>&1
      cat "$r" >>"$log"
      tok[$f,$b]=$(sed -n 's/^decode: .* \([0-9.]*\) tok\/s,.*/\1/p' "$r" | head -1)
      roof[$f,$b]=$(sed -n 's/^memory roofline: \([0-9.]*\)%.*/\1/p' "$r" | head -1)
      kvgb=$(sed -n 's/^decode step reads: .* + KV \([0-9.]*\) GB.*/\1/p' "$r" | head -1)
      say "RESULT $p --kv $f batch $b: ${tok[$f,$b]:-?} tok/s, ${roof[$f,$b]:-?}% of roofline, KV ${kvgb:-?} GB a step"
    done
    r=$work/kv_${p}_${f//,/_}_cap.txt
    "$exe" --bench --bench-prompt "$ctx" -n 1 --batch 1 --kv-mem "$kvmem" >"$r" 2>&1
    cat "$r" >>"$log"
    cap[$f]=$(sed -n 's/^KV capacity: \([0-9]*\) sequences.*/\1/p' "$r" | head -1)
    say "RESULT $p --kv $f capacity: ${cap[$f]:-?} sequences of $((ctx + 1)) positions in --kv-mem $kvmem"
    rm -f "$exe" "$exe.weights"
  done
  for f in $formats; do
    line=$(printf '%-12s %-10s' "$p" "$f")
    for b in $batches; do
      sp=
      [ -n "${tok[$f,$b]:-}" ] && [ -n "${tok[f16,$b]:-}" ] && sp=$(awk -v a="${tok[$f,$b]}" -v o="${tok[f16,$b]}" 'BEGIN { printf "%.2fx", a / o }')
      line+=$(printf ' | b%-3s %8s tok/s %5s%% %6s' "$b" "${tok[$f,$b]:-?}" "${roof[$f,$b]:-?}" "$sp")
    done
    cr=
    [ -n "${cap[$f]:-}" ] && [ -n "${cap[f16]:-}" ] && [ "${cap[f16]}" -gt 0 ] &&
      cr=$(awk -v a="${cap[$f]}" -v o="${cap[f16]}" 'BEGIN { printf "%.2fx", a / o }')
    line+=$(printf ' | capacity %5s %6s' "${cap[$f]:-?}" "$cr")
    rows+=("$line")
  done
  unset tok roof cap
done
say ""
say "== KV formats: decode at $ctx tokens of context (tok/s, % of roofline, against f16), capacity in $kvmem MiB ($arch)"
for r in "${rows[@]}"; do say "$r"; done
