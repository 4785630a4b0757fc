#!/usr/bin/env bash
# One check-and-measure round on the lent GPU, in one call (see ../shared/DEVICE.md):
#   correctness: stories260K compiled for the GPU in float32 gives the cpu target's greedy text; in
#   bf16 --compare-cpu reports per-layer errors and the first 64 greedy tokens agree; an sm_89-only
#   build refuses this GPU; compute-sanitizer memcheck on a short generation;
#   speed: the llama3.2-1b and llama3.1-8b presets (bf16) synthesized and compiled for $ARCH on the
#   device; copy bandwidth, decode tok/s at batch 1/16/64 and 512-token prefill, with % of roofline.
# Prepare here (scripts/gpu_carry.sh), then run there: bash bench/gpu_round.sh  (logs go to $OUT).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.carry
export LD_LIBRARY_PATH=$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
llmc=$carry/llmc
out=${OUT:-/tmp/llmc-out}
work=/tmp/llmc-work
arch=${ARCH:-sm_90a}
what=${WHAT:-all}          # all | check | kernels | quant | 1b | 8b | lab (decode_lab.cu; SWEEP=1: every split) | qmma | variants | families (FAMILY_SPEED=1) | amd | kv | tp | wq | wt | wtwire | ws | b1 | binv | moe | fill | kc
# WHAT=tp (issue 15; not part of "all"; on a lent machine of 2 or 4 GPUs: nvidia-h100-x2/x4,
# nvidia-h200-x2/x4): tensor parallelism over NCCL. The 8B preset compiled with --tp 1, 2 (and 4
# with 4 GPUs): the first 64 greedy ids of a fixed prompt must agree between --tp 1 and each --tp N;
# batch-1 decode timed for each with the % of the memory roofline of the GPUs used (--bench sums
# their copy bandwidths) and the scaling efficiency (that % at --tp N over --tp 1's). Then the 70B
# preset's shapes cut to L70 layers (default 20: 38 GB of bf16 weights, so that --tp 1 fits one GPU
# and the synthesized checkpoint plus the side file fit the disk; L70=80 is the whole model, 141
# GB: only --tp 2 on H200s / --tp 4, and twice that on disk) at the same --tp values. NCCL
# (libnccl.so.2) comes from the machine's Python environment (nvidia/nccl/lib) unless
# LD_LIBRARY_PATH already finds it.
# WHAT=kv: bench/kv_bench.sh (issue 12: long-context batched decode and capacity in each KV format;
# its knobs PRESETS, KV_FORMATS, BATCHES, CTX, GEN, KV_MEM pass through; not part of "all": one
# preset and a few formats fill a call).
# WHAT=variants PRESET=llama3.2-1b VARIANTS="base f16:--weights,f16 x:SOME_VAR=1 old:LLMC=PATH ...": the preset compiled
# once a variant (NAME, or NAME:ITEM,ITEM,... where an item VAR=VALUE goes to llmc compile's
# environment, for knobs added to a working tree while experimenting, and any other item is an
# argument of llmc compile; LLMC=PATH compiles with another llmc binary), each benchmarked at batch 1 REPEAT times (default 2) round-robin
# ($BATCHES: other batch sizes too, once). Each run prints the device time of a step and the gap
# between steps beside tok/s.
mkdir -p "$out" "$work/o"
log=$out/round.log
res=$work/o   # per-check outputs (the device tool brings back few files: the log has what matters)
: >"$log"
say() { echo "$*" | tee -a "$log"; }
table=()
row() { table+=("$(printf '%-34s %s' "$1" "$2")"); say "RESULT $1: $2"; }

say "== device"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee -a "$log"
dev=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)

# kernel_check into $work: scripts/gpu_carry.sh builds it where nvcc is (same CUDA, -arch=sm_90a):
# that saves the device the nvcc minutes; else nvcc here
kc_build() {
  if [ -x "$carry/kernel_check" ] && [ "$arch" = sm_90a ]; then
    say "kernel_check: the carried build"
    cp "$carry/kernel_check" "$work/kernel_check"
  fi
  [ -x "$work/kernel_check" ] ||
    { cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -c "$root/runtime/sample.c" -o "$work/sample.o" >>"$log" 2>&1 &&
    cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -c "$root/runtime/rtutil.c" -o "$work/rtutil.o" >>"$log" 2>&1 &&
    nvcc -O2 -std=c++17 -arch="${arch}" -I "$root/ir" -o "$work/kernel_check" "$root/bench/kernel_check.cu" "$work/sample.o" \
      "$work/rtutil.o" >>"$log" 2>&1; }
}

if [ "$what" = all ] || [ "$what" = check ] || [ "$what" = kernels ]; then
  say "== kernels (bench/kernel_check.cu: every device function against a host reference, then the prefill and decode-attention kernels timed)"
  if kc_build; then
    "$work/kernel_check" 2>&1 | tee "$out/kernel_check.txt" >>"$log"
    kc=${PIPESTATUS[0]}
    grep -E "FAIL|^TIME" "$out/kernel_check.txt" | tee -a "$log"
    # the last line is "PASS: 0 of N checks failed" (a crash leaves some other line: the exit status says)
    row "kernel_check (every kernel vs C: gemm h/wg/tc, gemv(_b1), attn, rope/KV, norm, eltwise, embed, select, argmax, sample, families' ops, moe)" \
      "$(tail -1 "$out/kernel_check.txt") (exit $kc)"
  else
    row "kernel_check" "nvcc failed"
  fi
fi

if [ "$what" = lab ]; then
  say "== decode lab (bench/decode_lab.cu: the batch-1 matmul chains of the 1B and 8B, gemv vs gemv_b1, PDL)"
  if nvcc -O2 -std=c++17 -arch="${arch}" -I "$root/ir" -o "$work/decode_lab" "$root/bench/decode_lab.cu" >>"$log" 2>&1; then
    "$work/decode_lab" 2>&1 | tee "$out/decode_lab.txt" >>"$log"
    row "decode_lab (gemv_b1 against gemv)" "$(tail -1 "$out/decode_lab.txt")"
  else
    row "decode_lab" "nvcc failed"
  fi
fi

if [ "$what" = qmma ] || [[ "$what" == *qmma* ]]; then
  say "== qmma lab (bench/qmma_lab.cu: gemm_q against a host reference, then timed against today's wide path)"
  # carried when built here (scripts/gpu_carry.sh), else built now
  if [ -x "$carry/qmma_lab" ] || nvcc -O2 -std=c++17 -arch="${arch}" -I "$root/ir" -o "$carry/qmma_lab" "$root/bench/qmma_lab.cu" >>"$log" 2>&1; then
    "$carry/qmma_lab" 2>&1 | tee "$out/qmma_lab.txt" >>"$log"
    qc=${PIPESTATUS[0]}
    grep -E "FAIL|copy bandwidth|^device" "$out/qmma_lab.txt" | tee -a "$log"
    sed -n '/^matrix (gemm_q config)/,$p' "$out/qmma_lab.txt" >>"$log"
    row "qmma_lab (gemm_q vs host reference)" "$(tail -1 "$out/qmma_lab.txt") (exit $qc)"
  else
    row "qmma_lab" "nvcc failed"
  fi
fi

S=$carry/stories260K
# The AMD path's kernels on this NVIDIA GPU (WHAT=amd; not part of all): bench/amd_check.cu (gemm_mx in its
# WMMA, MFMA and FMA flavours, flash_mx in its WMMA and MFMA ones, the matrix steps emulated with AMD's
# fragment layouts, against host references), then stories260K built for amd-on-sm_90 (every kernel as an
# RDNA build runs it, wave32, WMMA emulated): f32 = the cpu target's text = llama2.c's golden; bf16 and the
# quantized formats against the cpu target (first 64 greedy ids; --compare-cpu on 5 and 80 prompt tokens:
# the 80 take gemm_mx and flash_mx), the quantized KV caches too (fp8; int8 keys with int4 values); batch 3
# = single runs; memcheck (80 tokens: flash_mx).
# batch_check EXE TAG: 4 text prompts at --max-batch 3 against their single runs (the batched first
# step prefills 13 rows: tensor cores, where a prompt alone takes gemv: the last bits may differ and
# a close greedy choice with them: "differs" is a finding, not a fault), and 2 prompts of 3 ids at
# --max-batch 2 (every step 8 rows or fewer: gemv's sums whatever the batch; on the AMD path decode
# attention is paged_attn_dec at every row count too, so there a difference is a fault; NVIDIA
# targets take paged_attn_tc for decode steps of 2+ tokens, paged_attn_dec for one: may differ).
# Sets bs to the two verdicts.
batch_check() {
  local exe=$1 tag=$2 p
  "$exe" --prompts <(printf 'Once upon a time\nLily and Ben\nThe cat sat\nOne day\n') --max-batch 3 -n 40 \
    >"$res/batch_$tag.txt" 2>>"$log"
  : >"$res/single_$tag.txt"
  for p in "Once upon a time" "Lily and Ben" "The cat sat" "One day"; do "$exe" "$p" -n 40 >>"$res/single_$tag.txt"; done
  cmp -s "$res/batch_$tag.txt" "$res/single_$tag.txt" && bs="batch 3 = single" || bs="batch 3 differs from single (13-row prefill)"
  "$exe" --prompts <(printf '1 300 301\n1 302 303\n') --prompts-ids --max-batch 2 -n 40 >"$res/sbatch_$tag.txt" 2>>"$log"
  : >"$res/ssingle_$tag.txt"
  for p in "1 300 301" "1 302 303"; do "$exe" --ids "$p" -n 40 >>"$res/ssingle_$tag.txt"; done
  cmp -s "$res/sbatch_$tag.txt" "$res/ssingle_$tag.txt" && bs="$bs, steps <= 8 rows = single" ||
    bs="$bs, steps <= 8 rows DIFFER from single"
}
if [ "$what" = amd ]; then
  say "== AMD path on $dev"
  if [ -x "$carry/amd_check" ] || nvcc -O2 -std=c++17 -arch=sm_90 -DLLMC_AMD_PATH=1 -I "$root/ir" -o "$carry/amd_check" \
    "$root/bench/amd_check.cu" >>"$log" 2>&1; then
    "$carry/amd_check" 2>&1 | tee "$out/amd_check.txt" >>"$log"
    ac=${PIPESTATUS[0]}
    grep FAIL "$out/amd_check.txt" | tee -a "$log"
    row "amd_check (gemm_mx WMMA/MFMA/FMA, flash_mx WMMA/MFMA vs host)" "$(tail -1 "$out/amd_check.txt") (exit $ac)"
  else
    row "amd_check" "nvcc failed"
  fi
  "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" -o "$work/a_cpu" -q >>"$log" 2>&1
  "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --target amd-on-sm_90 --weights f32 -o "$work/a_f32" \
    -q --resource-usage >>"$log" 2>&1 || row "stories260K amd-on-sm_90 f32" "compile failed"
  "$work/a_cpu" "Once upon a time" -n 196 >"$res/a_cpu.txt" 2>>"$log"
  "$work/a_f32" "Once upon a time" -n 196 >"$res/a_f32.txt" 2>>"$log"
  if cmp -s "$res/a_cpu.txt" "$res/a_f32.txt" && cmp -s "$res/a_cpu.txt" "$S/golden_greedy_once_upon_a_time_n200.txt"; then
    row "stories260K f32 amd-on-sm_90 vs cpu" "identical (and = golden)"
  else
    row "stories260K f32 amd-on-sm_90 vs cpu" "DIFFERENT"
    diff <(tr ' ' '\n' <"$res/a_cpu.txt") <(tr ' ' '\n' <"$res/a_f32.txt") | head -5 | tee -a "$log"
  fi
  "$work/a_f32" --ids "$(seq -s ' ' 100 179)" --compare-cpu >"$res/a_cmpw_f32.txt" 2>&1
  tail -4 "$res/a_cmpw_f32.txt" | tee -a "$log"
  for f in "bf16" "fp8" "w4a16" "w4a16 --asym --group 32" "nvfp4" "bf16 --kv fp8" "w4a16 --kv int8,int4"; do
    tag=$(echo "$f" | tr -c 'a-z0-9\n' '_')
    # shellcheck disable=SC2086
    "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --weights $f -o "$work/a_cpu_$tag" -q >>"$log" 2>&1
    # shellcheck disable=SC2086
    "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --target amd-on-sm_90 --weights $f \
      -o "$work/a_gpu_$tag" -q >>"$log" 2>&1 || { row "stories260K amd-on-sm_90 $f" "compile failed"; continue; }
    "$work/a_cpu_$tag" "Once upon a time" -n 64 --output-ids >"$res/a_cpu_$tag.txt" 2>>"$log"
    "$work/a_gpu_$tag" "Once upon a time" -n 64 --output-ids >"$res/a_gpu_$tag.txt" 2>>"$log"
    cmp -s "$res/a_cpu_$tag.txt" "$res/a_gpu_$tag.txt" && agree="first 64 greedy = cpu $f" || agree="first 64 greedy DIFFER from cpu $f"
    "$work/a_gpu_$tag" "Once upon a time" --compare-cpu >"$res/a_cmp_$tag.txt" 2>&1
    worst=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/a_cmp_$tag.txt")
    "$work/a_gpu_$tag" --ids "$(seq -s ' ' 100 179)" --compare-cpu >"$res/a_cmpw_$tag.txt" 2>&1
    tail -4 "$res/a_cmpw_$tag.txt" | tee -a "$log"
    worstw=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/a_cmpw_$tag.txt")
    batch_check "$work/a_gpu_$tag" "a_$tag"
    row "stories260K amd-on-sm_90 $f" "$agree; $bs; compare-cpu worst layer $worst (80 tokens, gemm_mx + flash_mx: $worstw)"
  done
  if command -v compute-sanitizer >/dev/null; then
    compute-sanitizer --tool memcheck --error-exitcode 9 "$work/a_gpu_bf16" --ids "$(seq -s ' ' 100 179)" -n 8 \
      >"$res/a_memcheck.txt" 2>&1
    rc=$?
    tail -3 "$res/a_memcheck.txt" | tee -a "$log"
    [ $rc -eq 0 ] && row "memcheck, amd-on-sm_90 bf16, 80-token prompt" "no errors" ||
      row "memcheck, amd-on-sm_90 bf16, 80-token prompt" "exit $rc"
  fi
fi

if [ "$what" = all ] || [ "$what" = check ]; then
  say "== stories260K"
  "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" -o "$work/s_cpu" -q >>"$log" 2>&1
  "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --target sm_90 --weights f32 -o "$work/s_f32" -q --resource-usage >>"$log" 2>&1
  "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --target "$arch" -o "$work/s_bf16" -q >>"$log" 2>&1
  "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --target sm_89 -o "$work/s_89" -q >>"$log" 2>&1
  "$work/s_cpu" "Once upon a time" -n 196 >"$res/s_cpu.txt" 2>>"$log"
  "$work/s_f32" "Once upon a time" -n 196 >"$res/s_f32.txt" 2>>"$log"
  if cmp -s "$res/s_cpu.txt" "$res/s_f32.txt" && cmp -s "$res/s_cpu.txt" "$S/golden_greedy_once_upon_a_time_n200.txt"; then
    row "stories260K f32 sm_90 vs cpu" "identical (and = golden)"
  else
    row "stories260K f32 sm_90 vs cpu" "DIFFERENT"
    diff <(tr ' ' '\n' <"$res/s_cpu.txt") <(tr ' ' '\n' <"$res/s_f32.txt") | head -5 | tee -a "$log"
  fi
  "$work/s_cpu" "Once upon a time" -n 64 --output-ids >"$res/s_cpu64.txt" 2>>"$log"
  "$work/s_bf16" "Once upon a time" -n 64 --output-ids >"$res/s_bf1664.txt" 2>>"$log"
  cmp -s "$res/s_cpu64.txt" "$res/s_bf1664.txt" && row "stories260K bf16: first 64 greedy" "agree with cpu f32" ||
    row "stories260K bf16: first 64 greedy" "DIFFER"
  "$work/s_bf16" "Once upon a time" --compare-cpu >"$res/s_compare.txt" 2>&1
  tail -15 "$res/s_compare.txt" | tee -a "$log"
  "$work/s_f32" --prompts <(printf 'Once upon a time\nLily and Ben\nThe cat sat\nOne day\n') --max-batch 3 -n 40 \
    >"$res/s_batch.txt" 2>>"$log"
  : >"$res/s_single.txt"
  for p in "Once upon a time" "Lily and Ben" "The cat sat" "One day"; do "$work/s_f32" "$p" -n 40 >>"$res/s_single.txt"; done
  cmp -s "$res/s_batch.txt" "$res/s_single.txt" && row "stories260K f32 --prompts batch 3" "= single runs" ||
    row "stories260K f32 --prompts batch 3" "differs from single runs"
  # sampling on the GPU (sample_row): batched = single runs; against the cpu target's draws
  smp=(--temp 0.9 --top-p 0.9 --top-k 40 --seed 7)
  "$work/s_f32" --prompts <(printf 'Once upon a time\nLily and Ben\nThe cat sat\nOne day\n') --max-batch 3 -n 40 \
    "${smp[@]}" >"$res/s_sbatch.txt" 2>>"$log"
  : >"$res/s_ssingle.txt"
  for p in "Once upon a time" "Lily and Ben" "The cat sat" "One day"; do
    "$work/s_f32" "$p" -n 40 "${smp[@]}" >>"$res/s_ssingle.txt"
  done
  "$work/s_cpu" --prompts <(printf 'Once upon a time\nLily and Ben\nThe cat sat\nOne day\n') --max-batch 3 -n 40 \
    "${smp[@]}" >"$res/s_scpu.txt" 2>>"$log"
  cmp -s "$res/s_sbatch.txt" "$res/s_ssingle.txt" && row "stories260K f32 sampled, batch 3" "= single runs" ||
    row "stories260K f32 sampled, batch 3" "differs from single runs"
  cmp -s "$res/s_sbatch.txt" "$res/s_scpu.txt" && row "stories260K f32 sampled on the GPU" "= cpu target's draws" ||
    row "stories260K f32 sampled on the GPU" "differs from the cpu target's draws"
  msg=$("$work/s_89" "Once" -n 4 2>&1); rc=$?
  say "sm_89 build on $dev: exit $rc: $msg"
  [ $rc -ne 0 ] && row "sm_89-only build on this GPU" "refused (exit $rc)" || row "sm_89-only build on this GPU" "RAN"
  if command -v compute-sanitizer >/dev/null; then
    compute-sanitizer --tool memcheck --error-exitcode 9 "$work/s_bf16" "Once upon a time" -n 16 >"$res/memcheck.txt" 2>&1
    rc=$?
    tail -3 "$res/memcheck.txt" | tee -a "$log"
    [ $rc -eq 0 ] && row "compute-sanitizer memcheck" "no errors" || row "compute-sanitizer memcheck" "exit $rc"
  fi
fi

# Quantized weights (WHAT=quant, or all): stories260K in each format on the GPU against the cpu
# target in the same format (the first 64 greedy ids, --compare-cpu per layer), batched = single
# runs (batch_check), memcheck of a w4a16 build.
if [ "$what" = all ] || [ "$what" = quant ]; then
  say "== stories260K, quantized weights"
  for f in "fp8" "w4a16" "w4a16 --asym --group 32" "w4a16 --keep lm_head=w4a16" "nvfp4" "nvfp4 --keep lm_head=nvfp4" \
    "bf16 --kv fp8" "w4a16 --kv int8,int4"; do
    tag=$(echo "$f" | tr -c 'a-z0-9\n' '_')
    # shellcheck disable=SC2086
    "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --weights $f -o "$work/q_cpu_$tag" -q >>"$log" 2>&1
    # shellcheck disable=SC2086
    "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --target "$arch" --weights $f -o "$work/q_gpu_$tag" \
      -q >>"$log" 2>&1 || { row "stories260K $f" "compile failed"; continue; }
    "$work/q_cpu_$tag" "Once upon a time" -n 64 --output-ids >"$res/q_cpu_$tag.txt" 2>>"$log"
    "$work/q_gpu_$tag" "Once upon a time" -n 64 --output-ids >"$res/q_gpu_$tag.txt" 2>>"$log"
    cmp -s "$res/q_cpu_$tag.txt" "$res/q_gpu_$tag.txt" && agree="first 64 greedy = cpu $f" || agree="first 64 greedy DIFFER from cpu $f"
    "$work/q_gpu_$tag" "Once upon a time" --compare-cpu >"$res/q_cmp_$tag.txt" 2>&1
    tail -4 "$res/q_cmp_$tag.txt" | tee -a "$log"
    worst=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/q_cmp_$tag.txt")
    batch_check "$work/q_gpu_$tag" "q_$tag"
    # 80 prompt tokens: the wide path (dequantized to f16, tensor cores) against the twin
    "$work/q_gpu_$tag" --ids "$(seq -s ' ' 100 179)" --compare-cpu >"$res/q_cmpw_$tag.txt" 2>&1
    worstw=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/q_cmpw_$tag.txt")
    row "stories260K $f" "$agree; $bs; compare-cpu worst layer $worst (80 tokens: $worstw)"
  done
  if command -v compute-sanitizer >/dev/null; then
    compute-sanitizer --tool memcheck --error-exitcode 9 "$work/q_gpu_w4a16" "Once upon a time" -n 16 >"$res/qmemcheck.txt" 2>&1
    rc=$?
    tail -3 "$res/qmemcheck.txt" | tee -a "$log"
    [ $rc -eq 0 ] && row "memcheck, w4a16" "no errors" || row "memcheck, w4a16" "exit $rc"
    compute-sanitizer --tool memcheck --error-exitcode 9 "$work/q_gpu_w4a16" --ids "$(seq -s ' ' 100 179)" -n 4 >"$res/qmemcheckw.txt" 2>&1
    rc=$?
    [ $rc -eq 0 ] && row "memcheck, w4a16, 80-token prompt" "no errors" || row "memcheck, w4a16, 80-token prompt" "exit $rc"
  fi
fi

# synth_preset PRESET DIR: the preset's synthesized checkpoint in DIR (kept: made once a call);
# the cut shapes of FAMILY_SPEED, e.g. llama3.1-8b-11l: the 8B's matrices, a third of its layers
synth_preset() {
  [ -d "$2" ] && return
  case $1 in
  *-[0-9]*l) cut_config "$1" >"$work/$1.json"; "$llmc" synth --config "$work/$1.json" -o "$2" -q >>"$log" 2>&1 ;;
  *) "$llmc" synth --preset "$1" -o "$2" -q >>"$log" 2>&1 ;;
  esac
}

# decode_row EXE LABEL FILE ARGS...: one --bench run of EXE into FILE, its decode tok/s and
# roofline as a table row
decode_row() {
  local exe=$1 label=$2 f=$3 dec roof busy
  shift 3
  "$exe" --bench --bench-prompt 512 -n 128 "$@" >"$f" 2>&1
  cat "$f" >>"$log"
  dec=$(sed -n 's/^decode: .* \([0-9.]*\) tok\/s,.*/\1/p' "$f" | head -1)
  roof=$(sed -n 's/^memory roofline: \([0-9.]*%\).*/\1/p' "$f" | head -1)
  busy=$(sed -n 's/^decode on the device: \([0-9.]*\) ms.*(\([0-9.]*\) ms.*/\1 + \2 ms/p' "$f" | head -1)
  row "$label" "${dec:-?} tok/s ${roof:+($roof of roofline)}${busy:+, device + between steps $busy}"
}

bench_model() { # bench_model PRESET
  local p=$1 dir=$work/$1 exe=$work/$1.exe
  say "== $p"
  local t0=$SECONDS
  synth_preset "$p" "$dir"
  "$llmc" compile "$dir" --target "$arch" -o "$exe" --weights-file --max-seq 4096 -q >>"$log" 2>&1 ||
    { say "compile failed"; tail -20 "$log"; return; }
  say "synth + compile: $((SECONDS - t0)) s"
  if [ "$p" = llama3.2-1b ]; then # a 12-token prompt: the skinny tensor-core path against the CPU twin
    "$exe" --ids "1 450 8074 8466 338 263 8466 3883 393 508 367 1304" --compare-cpu >"$res/compare_$p.txt" 2>&1
    grep -A40 "per layer" "$res/compare_$p.txt" | tee -a "$log"
    # 200 tokens: the wide path (rows to bf16, gemm_h, flash attention) against the CPU twin
    "$exe" --ids "$(seq -s ' ' 300 499)" --compare-cpu >"$res/compare200_$p.txt" 2>&1
    grep -A40 "per layer" "$res/compare200_$p.txt" | tee -a "$log"
    local worst agree
    worst=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/compare200_$p.txt")
    agree=$(grep -o "argmax agrees on .*" "$res/compare200_$p.txt")
    row "$p compare-cpu 200 tokens" "worst layer rel.err $worst; ${agree:-no result}"
  fi
  for b in 1 16 64; do
    decode_row "$exe" "$p decode batch $b" "$res/bench_${p}_b$b.txt" --batch "$b"
    if [ "$b" = 1 ]; then # the same without programmatic dependent launch, then the prefill figure
      decode_row "$exe" "$p decode batch 1 --no-pdl" "$res/bench_${p}_b1_nopdl.txt" --batch 1 --no-pdl
      local pre
      pre=$(sed -n 's/^prefill: .* \([0-9.]*\) tok\/s.*/\1/p' "$res/bench_${p}_b1.txt" | head -1)
      row "$p prefill 512" "${pre:-?} tok/s"
      grep -i "copy" "$res/bench_${p}_b1.txt" | head -1 | tee -a "$log"
    fi
  done
  rm -f "$exe" "$exe.weights"
}
variants() {
  local p=${PRESET:-llama3.2-1b} dir=$work/${PRESET:-llama3.2-1b} v name items it i t0 keep=1 names=()
  say "== variants of $p"
  synth_preset "$p" "$dir"
  [[ $p == llama3.1-8b* || $p == qwen3-30b* ]] && keep=0 # 16 GB a variant (6 GB cut; the MoE cut 15 GB): compiled, measured and deleted one at a time
  b1() {
    decode_row "$work/v_$1.exe" "$p $1 b1 #$2" "$res/v_$1_$2.txt" --batch 1
    local pre
    pre=$(sed -n 's/^prefill: .* \([0-9.]*\) tok\/s.*/\1/p' "$res/v_$1_$2.txt" | head -1)
    row "$p $1 prefill 512 #$2" "${pre:-?} tok/s"
  }
  finish() { # the other batch sizes, the device time of a step, then the build goes
    for b in ${BATCHES:-}; do decode_row "$work/v_$1.exe" "$p $1 b$b" "$res/v_$1_b$b.txt" --batch "$b"; done
    grep "on the device" "$res/v_$1_1.txt" | sed "s/^/$1: /" | tee -a "$log"
    rm -f "$work/v_$1.exe" "$work/v_$1.exe.weights"
  }
  for v in ${VARIANTS:-base}; do
    name=${v%%:*}; items=; [ "$v" != "$name" ] && items=${v#*:}
    local envs=() args=() parts=()
    t0=$SECONDS
    IFS=, read -r -a parts <<<"$items"
    local cc=$llmc
    for it in "${parts[@]}"; do
      if [[ $it =~ ^LLMC= ]]; then cc=${it#LLMC=}; # another compiler (e.g. the base build: .carry/llmc_base)
      elif [[ $it =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then envs+=("$it"); else args+=("$it"); fi
    done
    env "${envs[@]}" "$cc" compile "$dir" --target "$arch" -o "$work/v_$name.exe" --weights-file --max-seq 4096 -q \
      "${args[@]}" >>"$log" 2>&1 || { row "$p $name" "compile failed"; continue; }
    say "compile $name (${items:-defaults}): $((SECONDS - t0)) s"
    names+=("$name")
    if [ "${COMPARE:-0}" = 1 ]; then # 12 and 40 prompt tokens (gemm_q's two row tiles; COMPARE_TOKENS: others,
      local nt worst agree         # e.g. 130 for the wide steps' gemm_wg / gemm_wt) against the CPU twin
      for nt in ${COMPARE_TOKENS:-12 40}; do
        "$work/v_$name.exe" --ids "$(seq -s ' ' 300 $((299 + nt)))" --compare-cpu >"$res/cmp_${name}_$nt.txt" 2>&1
        grep -A40 "per layer" "$res/cmp_${name}_$nt.txt" >>"$log"
        worst=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/cmp_${name}_$nt.txt")
        agree=$(grep -o "argmax agrees on .*" "$res/cmp_${name}_$nt.txt")
        row "$p $name compare-cpu $nt tokens" "worst layer rel.err $worst; ${agree:-no result: $(tail -1 "$res/cmp_${name}_$nt.txt")}"
      done
    fi
    if [ $keep = 0 ]; then
      for i in $(seq "${REPEAT:-2}"); do b1 "$name" "$i"; done
      finish "$name"
    fi
  done
  [ $keep = 0 ] && return
  for i in $(seq "${REPEAT:-2}"); do
    for name in "${names[@]}"; do b1 "$name" "$i"; done
  done
  for name in "${names[@]}"; do finish "$name"; done
}
# A real shape with about a third of its layers (FAMILY_SPEED, and variants' PRESET=llama3.1-8b-11l):
# the config.json that `llmc synth --config` takes.
cut_config() {
  local cfgj
    case $1 in
    llama3.1-8b-11l) cfgj='{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
      "intermediate_size": 14336, "num_hidden_layers": 11, "num_attention_heads": 32, "num_key_value_heads": 8,
      "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
      "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "hidden_act": "silu",
      "tie_word_embeddings": false, "bos_token_id": 128000, "eos_token_id": 128001, "torch_dtype": "bfloat16"}' ;;
    qwen3-8b-12l) cfgj='{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 4096,
      "intermediate_size": 12288, "num_hidden_layers": 12, "num_attention_heads": 32, "num_key_value_heads": 8,
      "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960, "rms_norm_eps": 1e-6,
      "rope_theta": 1000000.0, "hidden_act": "silu", "tie_word_embeddings": false, "bos_token_id": 151643,
      "eos_token_id": 151645, "torch_dtype": "bfloat16"}' ;;
    gemma-2-9b-14l) cfgj='{"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_size": 3584,
      "intermediate_size": 14336, "num_hidden_layers": 14, "num_attention_heads": 16, "num_key_value_heads": 8,
      "head_dim": 256, "vocab_size": 256000, "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
      "rope_theta": 10000.0, "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 256,
      "sliding_window": 4096, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
      "tie_word_embeddings": true, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
      "torch_dtype": "bfloat16"}' ;;
    llama3.1-70b-*l) cfgj='{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
      "intermediate_size": 28672, "num_hidden_layers": '"$(echo "$1" | sed 's/^llama3.1-70b-\([0-9]*\)l$/\1/')"',
      "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
      "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0,
      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "hidden_act": "silu",
      "tie_word_embeddings": false, "bos_token_id": 128000, "eos_token_id": 128001, "torch_dtype": "bfloat16"}' ;;
    qwen3-30b-a3b-12l) cfgj='{"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 2048,
      "intermediate_size": 6144, "moe_intermediate_size": 768, "num_hidden_layers": 12, "num_attention_heads": 32,
      "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
      "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "hidden_act": "silu", "num_experts": 128,
      "num_experts_per_tok": 8, "norm_topk_prob": true, "decoder_sparse_step": 1, "mlp_only_layers": [],
      "tie_word_embeddings": false, "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": "bfloat16"}' ;;
    *) echo "cut_config: no cut shape named $1" >&2; return 1 ;;
    esac
  echo "$cfgj"
}
# The model families (WHAT=families): each tiny config of tests/data/families/configs synthesized in
# f32, compiled for the cpu target and for $ARCH in f32 (the 16 greedy ids after an 8-id prompt must
# be the cpu target's; batch 3 of id prompts = single runs) and in bf16 (--compare-cpu on 8 and on 80
# prompt tokens: the decode paths, then the wide ones: flash attention with its soft-cap, the MoE
# experts on tensor cores); memcheck of the bf16 MoE and Gemma 2 builds on 80 tokens.
# FAMILY_SPEED=1: then bf16 decode at batch 1 and 16 of real shapes, each with about a third of its
# layers (synthesis and compile a third as long; the roofline fraction is per byte, and the 8B Llama
# cut the same way runs in the same call as the yardstick issue 26 names): llama3.1-8b with 11 of
# 32 layers, qwen3-8b 12 of 36, gemma-2-9b 14 of 42, qwen3-30b-a3b 12 of 48 (its `experts:` line: the
# run against a dense read of every expert), each deleted after. FAMILY_MODELS picks some of them.
families() {
  local ids="3 17 42 99 250 7 311 5" wide cfg f d same worst worstw bs
  wide=$(seq -s ' ' 100 179)
  say "== model families (tests/data/families/configs)"
  for cfg in "$root"/tests/data/families/configs/*.json; do
    [ "${FAMILY_CHECKS:-1}" = 0 ] && break # FAMILY_CHECKS=0: the speed rows alone (about 55 s a family saved)
    f=$(basename "$cfg" .json)
    [ -n "${FAMILY_ONLY:-}" ] && [[ " $FAMILY_ONLY " != *" $f "* ]] && continue # e.g. FAMILY_ONLY="qwen3_moe mixtral"
    d=$work/fam_$f
    "$llmc" synth --config "$cfg" -o "$d" --dtype f32 -q >>"$log" 2>&1 || { row "$f" "synth failed"; continue; }
    if ! { "$llmc" compile "$d" -o "$d.cpu" -q --max-seq 128 >>"$log" 2>&1 &&
      "$llmc" compile "$d" --target "$arch" --weights f32 -o "$d.f32" -q --max-seq 128 >>"$log" 2>&1 &&
      "$llmc" compile "$d" --target "$arch" -o "$d.bf16" -q --max-seq 128 >>"$log" 2>&1; }; then
      row "$f" "compile failed"; tail -5 "$log"; continue
    fi
    "$d.cpu" --ids "$ids" -n 16 --output-ids >"$res/fam_${f}_cpu.txt" 2>>"$log"
    "$d.f32" --ids "$ids" -n 16 --output-ids >"$res/fam_${f}_f32.txt" 2>>"$log"
    cmp -s "$res/fam_${f}_cpu.txt" "$res/fam_${f}_f32.txt" && same="f32 greedy = cpu" || same="f32 greedy DIFFER from cpu"
    printf '%s\n' "$ids" "5 6 7 8 9 10 11 12 13 14 15 16" "$wide" >"$res/fam_prompts.txt"
    "$d.f32" --prompts "$res/fam_prompts.txt" --prompts-ids --max-batch 3 -n 12 --output-ids >"$res/fam_${f}_batch.txt" 2>>"$log"
    : >"$res/fam_${f}_single.txt"
    while read -r p; do "$d.f32" --ids "$p" -n 12 --output-ids >>"$res/fam_${f}_single.txt" 2>>"$log"; done <"$res/fam_prompts.txt"
    cmp -s "$res/fam_${f}_batch.txt" "$res/fam_${f}_single.txt" && bs="batch 3 = single" || bs="batch 3 DIFFERS from single"
    "$d.bf16" --ids "$ids" --compare-cpu >"$res/fam_${f}_cmp.txt" 2>&1
    "$d.bf16" --ids "$wide" --compare-cpu >"$res/fam_${f}_cmpw.txt" 2>&1
    tail -4 "$res/fam_${f}_cmpw.txt" >>"$log"
    worst=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/fam_${f}_cmp.txt")
    worstw=$(awk '/^  layer /{if ($3 > m) m = $3} END {printf "%.2e", m}' "$res/fam_${f}_cmpw.txt")
    row "family $f" "$same; $bs; bf16 compare-cpu worst layer $worst (80 tokens: $worstw)"
  done
  if [ "${FAMILY_CHECKS:-1}" != 0 ] && command -v compute-sanitizer >/dev/null; then
    for f in qwen3_moe gemma2; do
      [ -x "$work/fam_$f.bf16" ] || continue
      compute-sanitizer --tool memcheck --error-exitcode 9 "$work/fam_$f.bf16" --ids "$wide" -n 4 >"$res/fam_memcheck_$f.txt" 2>&1
      local rc=$?
      [ $rc -eq 0 ] && row "memcheck, family $f bf16, 80 tokens + 4" "no errors" || row "memcheck, family $f bf16" "exit $rc"
    done
  fi
  [ "${FAMILY_SPEED:-0}" = 1 ] || return
  local name cfgj exe
  for name in ${FAMILY_MODELS:-llama3.1-8b-11l qwen3-8b-12l gemma-2-9b-14l qwen3-30b-a3b-12l}; do
    cfgj=$(cut_config "$name")
    say "== $name (FAMILY_SPEED)"
    echo "$cfgj" >"$work/$name.json"
    exe=$work/$name.exe
    "$llmc" synth --config "$work/$name.json" -o "$work/$name" -q >>"$log" 2>&1 &&
      "$llmc" compile "$work/$name" --target "$arch" -o "$exe" --weights-file --max-seq 4096 -q >>"$log" 2>&1 ||
      { row "$name" "synth or compile failed"; rm -rf "$work/$name"; continue; }
    rm -rf "$work/$name"
    decode_row "$exe" "$name decode batch 1" "$res/bench_${name}_b1.txt" --batch 1
    decode_row "$exe" "$name decode batch 16" "$res/bench_${name}_b16.txt" --batch 16
    grep -h '^experts:' "$res/bench_${name}_b1.txt" "$res/bench_${name}_b16.txt" | sed 's/^/  /' | tee -a "$log"
    rm -f "$exe" "$exe.weights"
  done
}
# WHAT=tp: see the top. tp_model NAME: synthesize NAME (a preset, or a cut config), compile it with
# each --tp of $tps, compare the greedy ids with --tp 1's, time batch-1 decode.
tp_model() {
  local p=$1 dir=$work/$1 n exe base="" ids roof1="" roof
  say "== $p, --tp $tps"
  if [ ! -d "$dir" ]; then
    case $p in
    *-[0-9]*l) cut_config "$p" >"$work/$p.json"; "$llmc" synth --config "$work/$p.json" -o "$dir" -q >>"$log" 2>&1 ;;
    *) "$llmc" synth --preset "$p" -o "$dir" -q >>"$log" 2>&1 ;;
    esac || { row "$p synth" "failed"; return; }
  fi
  for n in $tps; do
    exe=$work/$p.tp$n
    local t0=$SECONDS
    "$llmc" compile "$dir" --target "$arch" --tp "$n" -o "$exe" --weights-file --max-seq 4096 -q >>"$log" 2>&1 ||
      { row "$p --tp $n" "compile failed"; continue; }
    say "compile --tp $n: $((SECONDS - t0)) s"
    "$exe" --ids "128000 791 6864 315 9822 374 12366 13 578" -n 64 --output-ids >"$res/tp_${p}_$n.txt" 2>>"$log" ||
      { row "$p --tp $n" "run failed: $(tail -1 "$log")"; rm -f "$exe" "$exe.weights"; continue; }
    if [ "$n" = 1 ]; then
      base=$res/tp_${p}_1.txt
    elif [ -n "$base" ]; then
      cmp -s "$base" "$res/tp_${p}_$n.txt" && ids="first 64 greedy ids = --tp 1's" || ids="first 64 greedy ids DIFFER from --tp 1's"
      row "$p --tp $n vs --tp 1" "$ids"
      [[ $ids == *DIFFER* ]] && diff <(tr ' ' '\n' <"$base") <(tr ' ' '\n' <"$res/tp_${p}_$n.txt") | head -6 | tee -a "$log"
    fi
    decode_row "$exe" "$p --tp $n decode batch 1" "$res/bench_tp_${p}_$n.txt" --batch 1
    roof=$(sed -n 's/^memory roofline: \([0-9.]*\)%.*/\1/p' "$res/bench_tp_${p}_$n.txt" | head -1)
    [ "$n" = 1 ] && roof1=$roof
    if [ "$n" != 1 ] && [ -n "$roof1" ] && [ -n "$roof" ]; then
      row "$p --tp $n scaling efficiency" "$(awk -v a="$roof" -v b="$roof1" 'BEGIN {printf "%.1f%% (%.1f%% of the roofline of %s GPUs; --tp 1: %.1f%%)", 100 * a / b, a, "'"$n"'", b}')"
    fi
    grep -h "^device copy bandwidth" "$res/bench_tp_${p}_$n.txt" | tee -a "$log"
    rm -f "$exe" "$exe.weights"
  done
  rm -rf "$dir"
}
if [ "$what" = tp ]; then
  gpus=$(nvidia-smi -L | wc -l)
  if ! ldconfig -p 2>/dev/null | grep -q libnccl.so.2; then
    for py in python3 python; do
      d=$("$py" -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "lib"))' 2>/dev/null) &&
        [ -e "$d/libnccl.so.2" ] && { export LD_LIBRARY_PATH=$d:$LD_LIBRARY_PATH; break; }
    done
  fi
  say "GPUs: $gpus; LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  tps="1"
  [ "$gpus" -ge 2 ] && tps="$tps 2"
  [ "$gpus" -ge 4 ] && tps="$tps 4"
  [ "$gpus" -ge 2 ] || row "tp" "this machine has $gpus GPU: --tp 2 needs two"
  tp_model llama3.1-8b
  tp_model "llama3.1-70b-${L70:-20}l"
fi
if [ "$what" = families ]; then families; fi
if [ "$what" = kv ]; then
  LLMC=$llmc OUT=$out WORK=$work ARCH=$arch bash "$root/bench/kv_bench.sh"
  while read -r l; do table+=("$l"); done < <(sed -n 's/^RESULT //p' "$out/kv_bench.log")
fi
if [ "$what" = variants ]; then variants; fi
# kc_mode MODE WHAT: `kernel_check MODE` (its checks, then its TIME lines) into the log and the table
kc_mode() {
  if kc_build; then
    "$work/kernel_check" "$1" 2>&1 | tee "$out/kernel_check_$1.txt" >>"$log"
    kc=${PIPESTATUS[0]}
    grep -E "FAIL|^TIME $1" "$out/kernel_check_$1.txt" | tee -a "$log"
    row "kernel_check $1 ($2)" "$(tail -1 "$out/kernel_check_$1.txt") (exit $kc)"
  else
    row "kernel_check" "nvcc failed"
  fi
}
# WHAT=wq: --qmma wg (gemm_wq, quantized matrices above 8 rows on wgmma with the weights decoded in
# registers; experimental, sm_90a) against the default, in one call: `kernel_check wq` (gemm_wq's
# checks in u4, u4 with zero points, nvfp4 and fp8, then the 8B's matrices in u4 at 16, 64 and 512
# rows against gemm_q and dequant_half + gemm_wg), then the 8B cut to 11 layers compiled plain and wg
# in w4a16, nvfp4 and fp8: batch 1 (and its 512-token prefill), 16 and 64 (PRESET, BATCHES, REPEAT,
# VARIANTS override).
if [ "$what" = wq ]; then
  say "== --qmma wg: kernel_check wq, then plain against wg"
  kc_mode wq gemm_wq
  PRESET=${PRESET:-llama3.1-8b-11l} BATCHES=${BATCHES:-16 64} REPEAT=${REPEAT:-1} \
    VARIANTS=${VARIANTS:-w4:--weights,w4a16 w4wg:--weights,w4a16,--qmma,wg nv4:--weights,nvfp4 nv4wg:--weights,nvfp4,--qmma,wg fp8:--weights,fp8 fp8wg:--weights,fp8,--qmma,wg} variants
fi
# WHAT=kc KC_MODES="wt attn ...": `kernel_check MODE` for each mode (its checks, then its TIME lines).
if [ "$what" = kc ]; then
  for m in ${KC_MODES:?KC_MODES: the kernel_check modes to run}; do kc_mode "$m" "$m"; done
fi
# WHAT=fill: gemm_q's blocks for small matrices (llmc compile --qmma-units; round 9's ncu: the 1B's
# qkv and o at 16 rows get 96 and 64 blocks for 132 SMs). PRESET (default llama3.2-1b; then
# llama3.1-8b-11l) in w4a16 and bf16, the rule against --qmma-units 1 and 2 (UNITS), at batch 16, 32
# and 64 (BATCHES) with batch 1 and the prefill as the control (gemm_q takes neither). Merge rule: the
# value that wins at 16 and 32 rows without losing at 64 becomes the rule.
if [ "$what" = fill ]; then
  say "== fill: gemm_q's least units a block (--qmma-units)"
  vs=""
  for f in w4a16 bf16; do
    vs="$vs $f:--weights,$f"
    for u in ${UNITS:-1 2}; do vs="$vs ${f}u$u:--weights,$f,--qmma-units,$u"; done
  done
  for p in ${PRESET:-llama3.2-1b llama3.1-8b-11l}; do
    PRESET=$p REPEAT=${REPEAT:-1} BATCHES=${BATCHES:-16 32 64} VARIANTS=${VARIANTS:-$vs} variants
  done
fi
# WHAT=wt: gemm_wt (cuda_wgmma_tma.cuh: TMA-fed, warp-specialized wgmma, persistent; emitted with
# llmc compile --wgmma tma: WHAT=wtwire; sm_90a): `kernel_check wt`, its checks (bf16 and f16, every epilogue, K split 1 and 2, ragged
# shapes, the 1B's and 8B's matrices at 1-4096 rows, bit for bit against gemm_wg of the same split),
# then the 8B's and 1B's matrices at 512 and 4096 rows timed against gemm_wg's emitted tile.
if [ "$what" = wt ]; then
  say "== gemm_wt: kernel_check wt"
  kc_mode wt gemm_wt
fi
# WHAT=wtwire: gemm_wt end to end (llmc compile --wgmma tma: gemm_wt in gemm_wg's place for bf16/f16
# weights in sm_90a images, its TMA maps encoded at load; never yet run on a GPU), in one call:
#  1. `kernel_check wt` (WT_KC=0: not): gemm_wt's checks, with the maps as parameters and in global
#     memory as the compiler's kernels read them, bit for bit against gemm_wg of the same K split;
#     then its TIME lines (the 8B's and 1B's matrices at 512 and 4096 rows);
#  2. stories260K built with and without the flag: --compare-cpu of the flagged build at 130 tokens
#     (the wide steps: gemm_wt on its K = 64 matrices) and its first 32 greedy ids after a 130-token
#     prompt against the default build's (the same K split: the same bits expected);
#  3. for each of PRESETS (default llama3.2-1b llama3.1-8b-11l), bf16, the default build (cp) and the
#     flagged one (tma): 512-token prefill and batch-1 decode (REPEAT times, default 1) and decode at
#     BATCHES (default 64 256: batch 256 steps are wide); then (PREFILL4K=0: not) each built with
#     --max-tokens 4096 for a 4096-token prefill in one step (the plans of 4096 rows).
# One table at the end (the summary). The emitted gemm_wt traps after 2^26 failed tries of an
# mbarrier wait (LLMC_WT_SPIN_LIMIT, as kernel_check builds it): a protocol bug is a launch error,
# not a hang; and every executable runs under a step deadline (LLMC_STEP_TIMEOUT, default 120 s
# here) in case something else hangs.
# A load error naming cuTensorMapEncodeTiled or a matrix is the other thing to look for.
wt_prefill4k() { # wt_prefill4k PRESET: cp and tma at --max-tokens 4096, a 4096-token prefill each
  local p=$1 dir=$work/$1 v pre
  for v in cp tma; do
    "$llmc" compile "$dir" --target "$arch" -o "$work/w4k_$v.exe" --weights-file --max-seq 8192 --max-tokens 4096 \
      --max-outputs 256 --wgmma "$v" -q >>"$log" 2>&1 || { row "$p $v prefill 4096" "compile failed"; continue; }
    "$work/w4k_$v.exe" --bench --bench-prompt 4096 -n 8 --batch 1 >"$res/w4k_${p}_$v.txt" 2>&1
    cat "$res/w4k_${p}_$v.txt" >>"$log"
    pre=$(sed -n 's/^prefill: .* \([0-9.]*\) tok\/s.*/\1/p' "$res/w4k_${p}_$v.txt" | head -1)
    row "$p $v prefill 4096 (one step)" "${pre:-? ($(tail -1 "$res/w4k_${p}_$v.txt"))} tok/s"
    rm -f "$work/w4k_$v.exe" "$work/w4k_$v.exe.weights"
  done
}
if [ "$what" = wtwire ]; then
  say "== gemm_wt wired (--wgmma tma): kernel_check wt, stories260K against the CPU twin and the default build, then the presets"
  export LLMC_STEP_TIMEOUT=${LLMC_STEP_TIMEOUT:-120}
  [ "${WT_KC:-1}" = 0 ] || kc_mode wt gemm_wt
  ids=$(seq -s ' ' 300 429)
  for v in cp tma; do
    "$llmc" compile "$S/stories260K.bin" --tokenizer "$S/tok512.bin" --target "$arch" --wgmma "$v" -o "$work/wt_s_$v" -q \
      >>"$log" 2>&1 || row "stories260K --wgmma $v" "compile failed"
    "$work/wt_s_$v" --ids "$ids" -n 32 --output-ids >"$res/wt_s_$v.txt" 2>>"$log"
  done
  "$work/wt_s_tma" --ids "$ids" --compare-cpu >"$res/wt_s_compare.txt" 2>&1
  grep -A40 "per layer" "$res/wt_s_compare.txt" >>"$log"
  worst=$(awk '/^  layer /{n++; if ($3 > m) m = $3} END {if (n) printf "%.2e", m; else printf "none"}' "$res/wt_s_compare.txt")
  agree=$(grep -o "argmax agrees on .*" "$res/wt_s_compare.txt")
  row "stories260K tma compare-cpu 130 tokens" "worst layer rel.err $worst; ${agree:-no result: $(tail -1 "$res/wt_s_compare.txt")}"
  if [ -s "$res/wt_s_cp.txt" ] && cmp -s "$res/wt_s_cp.txt" "$res/wt_s_tma.txt"; then
    row "stories260K 32 greedy after 130 tokens" "tma = cp"
  else
    row "stories260K 32 greedy after 130 tokens" "DIFFER (or failed: $(tail -1 "$res/wt_s_tma.txt"))"
  fi
  for p in ${PRESETS:-llama3.2-1b llama3.1-8b-11l}; do
    PRESET=$p REPEAT=${REPEAT:-1} BATCHES=${BATCHES:-64 256} VARIANTS=${VARIANTS:-cp:--wgmma,cp tma:--wgmma,tma} variants
    [ "${PREFILL4K:-1}" = 0 ] || wt_prefill4k "$p"
  done
fi
# WHAT=ws: gemm_ws (llmc compile --decode-wgmma on: bf16/f16 matrices at 9-64 rows on wgmma with the
# weights through a TMA ring, in gemm_q's place in sm_90a images; never yet run on a GPU), in one call:
#  1. `kernel_check ws` (WS_KC=0: not): its checks (bf16 and f16, every epilogue, ragged N, the plan's
#     blocks and others, maps in global memory, under PDL after a late writer), then its TIME lines
#     (the 1B's and the 8B's four matrices at 16, 32, 64 rows against gemm_q);
#  2. for each of PRESETS (default llama3.2-1b llama3.1-8b-11l), bf16, the default build (q) and the
#     flagged one (ws): --compare-cpu at 12, 24 and 48 prompt tokens (one step each of the three token
#     tiles), batch 1 (REPEAT times, default 1) and BATCHES (default 16 32 64).
# The emitted gemm_ws traps after 2^26 failed tries of an mbarrier wait (LLMC_WT_SPIN_LIMIT) and every
# executable runs under a step deadline (LLMC_STEP_TIMEOUT, default 120 s here).
if [ "$what" = ws ]; then
  say "== gemm_ws wired (--decode-wgmma on): kernel_check ws, then the presets against the CPU twin and gemm_q"
  export LLMC_STEP_TIMEOUT=${LLMC_STEP_TIMEOUT:-120}
  [ "${WS_KC:-1}" = 0 ] || kc_mode ws gemm_ws
  for p in ${PRESETS:-llama3.2-1b llama3.1-8b-11l}; do
    PRESET=$p REPEAT=${REPEAT:-1} BATCHES=${BATCHES:-16 32 64} COMPARE=1 COMPARE_TOKENS=${COMPARE_TOKENS:-12 24 48} \
      VARIANTS=${VARIANTS:-q ws:--decode-wgmma,on} variants
  done
fi
# WHAT=b1: batch-1 decode in the quantized formats (issue 10's 80%): bench/b1_lab.cu (the carried
# build from scripts/gpu_carry.sh B1=1, else nvcc here) for u4, nvfp4 and fp8 (FORMATS), each 8B
# matrix by K split, load depth, register bound and units a warp, then a layer's chain; then the
# 8B cut to 11 layers in whole decode steps, this llmc against BASE's (`BASE=<an older llmc>
# scripts/gpu_carry.sh` carries it as llmc_base; without it only this llmc) in each format (B1_E2E=0:
# not). FORMATS may name u4z (u4 with zero points). After b1_lab, where the toolkit has cuobjdump,
# bench/b1_isa.py's SASS counts of gemv_b1 in the 4-bit formats (the helpers' machine has none).
if [ "$what" = b1 ]; then
  say "== b1: bench/b1_lab.cu, then the 8B/3 at batch 1 in the quantized formats"
  if [ -x "$carry/b1_lab" ]; then cp "$carry/b1_lab" "$work/b1_lab"; else
    nvcc -O2 -std=c++17 -arch="$arch" -I "$root/ir" -o "$work/b1_lab" "$root/bench/b1_lab.cu" >>"$log" 2>&1; fi
  for f in ${FORMATS:-u4 nvfp4 fp8}; do
    "$work/b1_lab" "$f" 11 >"$out/b1_lab_$f.txt" 2>&1
    grep -E "FAIL|chain|checks failed" "$out/b1_lab_$f.txt" | tee -a "$log"
    row "b1_lab $f (chain: emitter, fastest)" "$(grep chain "$out/b1_lab_$f.txt" | awk '{printf "%s %s; ", $5, $10}')"
  done
  if command -v cuobjdump >/dev/null || [ -x "$(dirname "$(command -v nvcc)")/cuobjdump" ]; then
    for f in u4 nvfp4; do
      python3 "$root/bench/b1_isa.py" counts "$f" sass >"$out/b1_sass_$f.txt" 2>&1 || true
    done
  fi
  if [ "${B1_E2E:-1}" != 0 ]; then
    vs=""
    for f in w4a16 nvfp4 fp8; do
      vs="$vs $f:--weights,$f"
      [ -x "$carry/llmc_base" ] && vs="$vs ${f}base:LLMC=$carry/llmc_base,--weights,$f"
    done
    PRESET=${PRESET:-llama3.1-8b-11l} REPEAT=${REPEAT:-1} BATCHES=${BATCHES:-} VARIANTS=${VARIANTS:-$vs} variants
  fi
fi
# WHAT=binv: llmc compile --batch-invariant (docs/cuda.md, "Batch-invariant builds"; not part of
# "all"). stories260K and debdocs-32M built with the option in bf16, w4a16 and fp8 weights, each with
# an f16, int8,int4 and kivi2 cache (kivi2 not for stories260K: its heads of 8 are no KIVI group):
# 4 prompts through --prompts (--max-batch 4) against each prompt run alone, greedy and sampled
# (seeded), and again with --kv-blocks at what one sequence needs (forced preemptions, counted);
# every one must be identical. A row a build: "same" or the first differing line (= prompt). Then the
# cost: the 1B preset default against --batch-invariant at batch 1 (and its 512-token prefill), 16
# and 64 (variants). First, where .carry has it, `kernel_check binv` (gemv and the decode attention
# bit for bit across row counts). debdocs-32M (64 MB) does not fit one call's 64 MiB beside the
# tree and .carry: `DEBDOCS=1 AC=0 QL=0 B1=0 scripts/gpu_carry.sh` splits it into .dd1 and .dd2;
# a first call carrying [".dd1", ".carry/kernel_check"] runs `mkdir -p /tmp/llmc-dd && cp .dd1/*
# /tmp/llmc-dd/ && .carry/kernel_check binv`, then this one carries [".carry/llmc", ".carry/lib",
# ".carry/stories260K", ".dd2"] on the same (warm) machine; without them the debdocs rows say it was
# not there.
# binv_check EXE TAG PROMPTS_FILE: the row's verdict into $res/binv_$TAG.row
binv_check() {
  local exe=$1 tag=$2 pf=$3 mode args p n need pool lab verdict=""
  for mode in greedy sampled; do
    args=(-n 48 --output-ids)
    [ $mode = sampled ] && args+=(--temp 0.9 --top-p 0.9 --top-k 40 --seed 7)
    : >"$res/binv_${tag}_${mode}_single.txt"
    while IFS= read -r p; do "$exe" "$p" "${args[@]}" >>"$res/binv_${tag}_${mode}_single.txt" 2>>"$res/binv_$tag.err"; done <"$pf"
    "$exe" --prompts "$pf" --max-batch 4 "${args[@]}" >"$res/binv_${tag}_${mode}_batch.txt" 2>>"$res/binv_$tag.err"
    # the blocks one sequence needs (the refusal of a 1-block pool names them): a pool of that many
    # preempts where a sequence's blocks grow; KIVI's ring blocks (most of what a sequence needs)
    # are taken at admission, so there twice that less one, which admits two that then outgrow it
    need=$("$exe" --prompts "$pf" --max-batch 4 --kv-blocks 1 "${args[@]}" 2>&1 >/dev/null |
      sed -n 's/.* needs \([0-9]*\) KV blocks.*/\1/p' | head -1)
    for pool in "${need:-4}" $((2 * ${need:-4} - 1)); do
      "$exe" --prompts "$pf" --max-batch 4 --kv-blocks "$pool" "${args[@]}" >"$res/binv_${tag}_${mode}_pre.txt" \
        2>"$res/binv_${tag}_${mode}_pre.err"
      n=$(sed -n 's/.* \([0-9]*\) preemptions .*/\1/p' "$res/binv_${tag}_${mode}_pre.err" | head -1)
      [ "${n:-0}" -gt 0 ] && break
    done
    cat "$res/binv_${tag}_${mode}_pre.err" >>"$res/binv_$tag.err"
    verdict="$verdict${verdict:+; }$mode:"
    for p in batch pre; do
      lab=$([ $p = pre ] && echo ", preempted" || echo " batch")
      if cmp -s "$res/binv_${tag}_${mode}_single.txt" "$res/binv_${tag}_${mode}_$p.txt" &&
        [ -s "$res/binv_${tag}_${mode}_single.txt" ]; then
        verdict="$verdict$lab same"
      else
        verdict="$verdict$lab DIFFERS at line $(diff "$res/binv_${tag}_${mode}_single.txt" \
          "$res/binv_${tag}_${mode}_$p.txt" | sed -n '1s/^\([0-9]*\).*/\1/p')"
      fi
    done
    verdict="$verdict (${n:-?} preemptions, pool $pool blocks)"
  done
  echo "$verdict" >"$res/binv_$tag.row"
}
if [ "$what" = binv ]; then
  [ -x "$carry/kernel_check" ] && kc_mode binv "gemv and decode attention bit for bit across row counts"
  say "== --batch-invariant: batched = single runs, also under preemption"
  D=$work/debdocs-32M
  rm -rf "$D" && mkdir -p "$D"
  for f in /tmp/llmc-dd/* "$root"/.dd1/* "$root"/.dd2/*; do [ -e "$f" ] && ln -sf "$f" "$D/"; done
  [ -e "$D/model-00004-of-00004.safetensors" ] && [ -e "$D/model-00001-of-00004.safetensors" ] &&
    [ -e "$D/config.json" ] || D=
  printf 'Once upon a time\nLily and Ben\nThe cat sat\nOne day\n' >"$work/binv_s.txt"
  printf 'The Linux kernel is\nTo install a package\nThe configuration file\nDebian\n' >"$work/binv_d.txt"
  builds=()
  for m in s d; do
    for w in bf16 w4a16 fp8; do
      for k in f16 int8,int4 kivi2; do
        [ $m = s ] && [ $k = kivi2 ] && continue
        builds+=("$m:$w:$k")
      done
    done
  done
  t0=$SECONDS
  # compiled 8 at a time (NVRTC is single-threaded), then checked 4 builds at a time
  for b in "${builds[@]}"; do
    IFS=: read -r m w k <<<"$b"
    tag=${m}_${w}_$(echo "$k" | tr ',' '_')
    if [ $m = s ]; then src=("$S/stories260K.bin" --tokenizer "$S/tok512.bin"); else
      [ -n "$D" ] || continue
      src=("$D"); fi
    "$llmc" compile "${src[@]}" --target "$arch" --batch-invariant --weights "$w" --kv "$k" -o "$work/binv_$tag" -q \
      >"$res/binv_$tag.compile" 2>&1 &
    while [ "$(jobs -rp | wc -l)" -ge 8 ]; do sleep 0.2; done
  done
  wait
  say "compiled ${#builds[@]} builds: $((SECONDS - t0)) s"
  t0=$SECONDS
  for b in "${builds[@]}"; do
    IFS=: read -r m w k <<<"$b"
    tag=${m}_${w}_$(echo "$k" | tr ',' '_')
    [ -x "$work/binv_$tag" ] || continue
    binv_check "$work/binv_$tag" "$tag" "$work/binv_$m.txt" &
    while [ "$(jobs -rp | wc -l)" -ge 4 ]; do sleep 0.2; done
  done
  wait
  say "checked: $((SECONDS - t0)) s"
  for b in "${builds[@]}"; do
    IFS=: read -r m w k <<<"$b"
    tag=${m}_${w}_$(echo "$k" | tr ',' '_')
    name=$([ $m = s ] && echo stories260K || echo debdocs-32M)
    if [ $m = d ] && [ -z "$D" ]; then row "binv $name $w --kv $k" "not on the device (see WHAT=binv above)"; continue; fi
    if [ ! -x "$work/binv_$tag" ]; then row "binv $name $w --kv $k" "compile failed: $(tail -1 "$res/binv_$tag.compile")"; continue; fi
    row "binv $name $w --kv $k" "$(cat "$res/binv_$tag.row")"
    grep -i "error\|fail" "$res/binv_$tag.err" | head -3 | tee -a "$log"
  done
  # the cost (COST=0: not): the 1B at batch 1 (its prefill 512 beside), 16 and 64, default against
  # --batch-invariant
  [ "${COST:-1}" = 0 ] || PRESET=${PRESET:-llama3.2-1b} BATCHES=${BATCHES:-16 64} REPEAT=${REPEAT:-1} \
    VARIANTS=${VARIANTS:-base binv:--batch-invariant} variants
fi
# WHAT=moe (issue 26's one-token MoE block): `kernel_check moe` (the one-token kernels checked and
# bit for bit against the previous path, the block at T = 1 old against new), then qwen3-30b-a3b cut
# to 12 layers at batch 1 and 16, BASE's llmc (`BASE=<main's llmc> scripts/gpu_carry.sh` carries it
# as llmc_base) against this one (MOE_SPEED=0: not), then the families' checks of the MoE families
# (FAMILY_ONLY, default qwen3_moe and mixtral; MOE_FAMILIES=0: not).
if [ "$what" = moe ]; then
  say "== the MoE block: kernel_check moe, qwen3-30b-a3b/3 against BASE, the MoE families"
  kc_mode moe "the MoE block"
  if [ "${MOE_SPEED:-1}" != 0 ]; then
    vs=moe
    [ -x "$carry/llmc_base" ] && vs="base:LLMC=$carry/llmc_base moe"
    PRESET=${PRESET:-qwen3-30b-a3b-12l} REPEAT=${REPEAT:-1} BATCHES=${BATCHES:-16} VARIANTS=${VARIANTS:-$vs} variants
  fi
  [ "${MOE_FAMILIES:-1}" != 0 ] && FAMILY_ONLY=${FAMILY_ONLY:-qwen3_moe mixtral} families
fi
if [ "$what" = all ] || [ "$what" = 1b ]; then bench_model llama3.2-1b; fi
if [ "$what" = all ] || [ "$what" = 8b ]; then bench_model llama3.1-8b; fi

say ""
say "== summary ($dev, $arch)"
for r in "${table[@]}"; do say "$r"; done
