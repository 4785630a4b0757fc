#!/usr/bin/env bash
# An AMD target end to end on a machine with no AMD GPU and no ROCm: stories260K (the llama2.c
# checkpoint in ../shared) compiled for gfx1151 by clang-19 (its resources checked by llmc compile:
# no kernel with scratch), linked with the runtime, the code object embedded; the executable says
# what it was built for and refuses to run, naming the missing HIP driver and the arch. The kernels
# of the presets for the three archs are test_hip_presets'; an executable carrying both vendors'
# images (--target gfx1151,sm_90a) costs an NVRTC run and is checked where NVRTC is (as
# e2e_integrity does). Skips (77) without clang-19, except under CI.
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
if ! command -v clang-19 >/dev/null; then
  if [ "${CI:-}" = "true" ]; then echo "FAIL: no clang-19 in CI"; exit 1; fi
  echo "skipping: no clang-19"; exit 77
fi
M="$SHARED/models/stories260K"
check "stories260K: compiled for gfx1151" \
  "$LLMC" compile "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --target gfx1151 --emit-dir "$TMP/build" -o "$TMP/s" -q
check "the code object is an AMDGPU ELF for gfx1151" \
  grep -qa 'amdgcn-amd-amdhsa--gfx1151' "$TMP/build/hsaco_gfx1151.bin"
"$LLMC" compile "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --target gfx1151 -o "$TMP/s2" -q
check "the same bytes from a build in another directory" cmp "$TMP/s" "$TMP/s2"
"$TMP/s" --version >"$TMP/version.txt" 2>&1 || true
check "the executable says it was built for gfx1151" grep -q 'GPU architectures: gfx1151' "$TMP/version.txt"
expect_error "no ROCm here: refused, naming the HIP driver and the arch" \
  "no HIP driver found (libamdhip64.so): this executable was built for gfx1151 and needs an AMD GPU" \
  "$TMP/s" "Once upon a time" -n 8
if [ -d /usr/local/cuda ] && [ -n "${LLMC_CUDA_E2E:-1}" ]; then
  check "stories260K: one executable for gfx1151 and sm_90a" \
    "$LLMC" compile "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --target gfx1151,sm_90a -o "$TMP/both" -q
  "$TMP/both" --version >"$TMP/version2.txt" 2>&1 || true
  check "it carries both images" grep -q 'GPU architectures: gfx1151, sm_90a' "$TMP/version2.txt"
  expect_error "neither driver here: both named" "no HIP driver found (libamdhip64.so)" "$TMP/both" "Once" -n 4
fi
finish
