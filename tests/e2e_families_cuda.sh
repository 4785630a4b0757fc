#!/usr/bin/env bash
# A model family compiled end to end for a CUDA target (not run: CI has no GPU): qwen3_moe's tiny
# config (tests/data/families/configs) with hidden and expert sizes of 256, synthesized, compiled for
# sm_90a in w4a16, which takes the paths a CUDA build of a family adds to the driver: the stacked
# experts packed as quantized matrices in the skinny kernels' lane8 order with their scales, the MoE
# kernels through NVRTC, the host code and the CPU twin linked. Every family's CUDA source (and the
# NVRTC build of the kernels of the families' own ops) is test_cuda's families case; one family here
# keeps this test at one NVRTC run (~15 s on 2 busy cores). Skips (77) without NVRTC
# (/usr/local/cuda), as e2e_integrity does, except under CI.
source "$(dirname "$0")/lib_e2e.sh"
if ! "$LLMC" targets 2>/dev/null | grep -q sm_90a || [ ! -d /usr/local/cuda ]; then
  if [ "${CI:-}" = "true" ]; then echo "FAIL: no CUDA toolkit (NVRTC) in CI"; exit 1; fi
  echo "skipping: no CUDA toolkit in /usr/local/cuda"; exit 77
fi
# hidden and expert sizes of 256: rows of whole lane8 tiles (256 u4 values), as real MoE shapes have
sed 's/"hidden_size": 64/"hidden_size": 256/; s/"moe_intermediate_size": 32/"moe_intermediate_size": 256/' \
  "$SRC/tests/data/families/configs/qwen3_moe.json" >"$TMP/config.json"
"$LLMC" synth --config "$TMP/config.json" -o "$TMP/qwen3_moe" -q
opts=(--target sm_90a --weights w4a16 --max-seq 64 -q)
"$LLMC" compile "$TMP/qwen3_moe" "${opts[@]}" -o "$TMP/moe" --dump-after weight_format >"$TMP/dump.txt" 2>&1 || true
check "qwen3_moe for sm_90a: the stacked gate/up experts in u4, groups of 128, lane8 order" \
  grep -q 'experts_gate_up: u4\[4096,256\] group=128 scale=.* order=lane8' "$TMP/dump.txt"
check "qwen3_moe for sm_90a: the stacked down experts likewise" \
  grep -q 'experts_down: u4\[2048,256\] group=128 scale=.* order=lane8' "$TMP/dump.txt"
check "qwen3_moe: compiled for sm_90a in w4a16" "$LLMC" compile "$TMP/qwen3_moe" "${opts[@]}" -o "$TMP/moe"
"$TMP/moe" --version >"$TMP/version.txt" 2>&1 || true
check "qwen3_moe: the executable was built for sm_90a" grep -q 'GPU architectures: sm_90a' "$TMP/version.txt"
check "qwen3_moe: its weights are u4 in groups of 128 (the lm_head bf16)" grep -q 'weights bf16 + u4 g128' "$TMP/version.txt"
finish
