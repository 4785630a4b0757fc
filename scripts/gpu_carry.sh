#!/usr/bin/env bash
# Prepares .carry/ (ignored by git) for a round on the lent GPU: the llmc binary, the libcJSON it
# links (the device machine has none), and the stories260K test model. Then, with the device tool:
#   run: bash bench/gpu_round.sh    carry: [".carry"]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build" >/dev/null
rm -rf "$root/.carry"
mkdir -p "$root/.carry/lib" "$root/.carry/stories260K"
cp "$root/build/llmc" "$root/.carry/llmc"
# BASE=path/to/llmc: a second compiler (e.g. built from an earlier commit) for WHAT=variants's LLMC= items
[ -n "${BASE:-}" ] && cp "$BASE" "$root/.carry/llmc_base"
cp "$(readlink -f /usr/lib/x86_64-linux-gnu/libcjson.so.1)" "$root/.carry/lib/libcjson.so.1"
cp "$root/../shared/models/stories260K/"{stories260K.bin,tok512.bin,golden_greedy_once_upon_a_time_n200.txt} \
   "$root/.carry/stories260K/"
# bench/kernel_check built here when nvcc is (KC=0: not), so the device need not spend minutes on it
if [ "${KC:-1}" != 0 ] && command -v nvcc >/dev/null; then
  t=$(mktemp -d)
  cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -c "$root/runtime/sample.c" -o "$t/sample.o"
  cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -c "$root/runtime/rtutil.c" -o "$t/rtutil.o"
  nvcc -O2 -std=c++17 -arch=sm_90a -I "$root/ir" -o "$root/.carry/kernel_check" "$root/bench/kernel_check.cu" "$t/sample.o" \
    "$t/rtutil.o" 2>"$t/log" || { cat "$t/log"; exit 1; }
  rm -rf "$t"
fi
# bench/amd_check (the AMD path's gemm_mx and flash_mx on NVIDIA; gpu_round.sh WHAT=amd) likewise (AC=0: not)
if [ "${AC:-1}" != 0 ] && command -v nvcc >/dev/null; then
  nvcc -O2 -std=c++17 -arch=sm_90 -DLLMC_AMD_PATH=1 -I "$root/ir" -o "$root/.carry/amd_check" "$root/bench/amd_check.cu" || exit 1
fi
# bench/qmma_lab likewise (QL=0: not)
if [ "${QL:-1}" != 0 ] && command -v nvcc >/dev/null; then
  nvcc -O2 -std=c++17 -arch=sm_90a -I "$root/ir" -o "$root/.carry/qmma_lab" "$root/bench/qmma_lab.cu" || exit 1
fi
# bench/b1_lab (gpu_round.sh WHAT=b1) likewise (B1=0: not)
if [ "${B1:-1}" != 0 ] && command -v nvcc >/dev/null; then
  nvcc -O2 -std=c++17 -arch=sm_90a -I "$root/ir" -o "$root/.carry/b1_lab" "$root/bench/b1_lab.cu" || exit 1
fi
# DEBDOCS=1: debdocs-32M for bench/gpu_round.sh WHAT=binv, in two halves (.dd1: two weight shards;
# .dd2: the other two, config and tokenizer), one a call: 64 MB does not fit one call's 64 MiB
if [ "${DEBDOCS:-0}" = 1 ]; then
  dd=$root/../shared/models/debdocs-32M
  rm -rf "$root/.dd1" "$root/.dd2"
  mkdir -p "$root/.dd1" "$root/.dd2"
  cp "$dd"/model-0000{1,2}-of-00004.safetensors "$root/.dd1/"
  cp "$dd"/model-0000{3,4}-of-00004.safetensors "$dd"/{config.json,model.safetensors.index.json,tokenizer.model} "$root/.dd2/"
  du -sh "$root/.dd1" "$root/.dd2"
fi
# stripped: a call carries at most 64 MiB with the tree (kernel_check alone is about 20 MB)
for b in llmc llmc_base kernel_check amd_check qmma_lab b1_lab; do
  [ -f "$root/.carry/$b" ] && strip "$root/.carry/$b"
done
du -sh "$root/.carry"
