#!/usr/bin/env bash
# The quantized KV cache formats (issue 12) end to end on the cpu target: stories260K compiled with
# each --kv format (keys and values in formats of their own too) gives, batched through --prompts
# and on a pool small enough to preempt and recompute sequences, exactly its own single runs; --info
# names the formats and the bytes a position takes; --kv-calib's scales and its refusals. KIVI needs
# heads of whole groups of 32 (stories260K's are 8): its checks, and the short perplexity checks of
# the formats, are debdocs-32M's, in e2e_perplexity.sh (labelled slow: the optimized build only).
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
M=$SHARED/models/stories260K
printf '%s\n' "Once upon a time" "Lily and Ben" "The cat sat" "One day, a little bird" \
  "Tom had a red ball" "Once" >"$TMP/prompts.txt"
# stories260K: 5 layers, 4 KV heads of 8; a position's K and V in f16 would take 5 x 2 x 4 x 16 =
# 640 bytes; fp8 8 bytes a row (its scales are constants), int8 8 + 4 (f16 scale and zero), int4 4 + 4
for case in "fp8 320 (scales 1, saturating)" "int8 480" "int4 320" "int8,int4 400"; do
  set -- $case
  kv=$1 bytes=$2
  "$LLMC" compile "$M/stories260K.bin" --kv "$kv" -o "$TMP/m" -q
  : >"$TMP/singles.txt"
  while IFS= read -r p; do "$TMP/m" "$p" -n 50 >>"$TMP/singles.txt"; done <"$TMP/prompts.txt"
  "$TMP/m" --prompts "$TMP/prompts.txt" --max-batch 3 -n 50 >"$TMP/batched.txt"
  check "--kv $kv: --prompts with --max-batch 3 equals the single runs" cmp "$TMP/singles.txt" "$TMP/batched.txt"
  "$TMP/m" --prompts "$TMP/prompts.txt" --max-batch 6 -n 50 --kv-blocks 5 >"$TMP/small.txt" 2>"$TMP/small.err"
  check "--kv $kv: on 5 KV blocks ($(grep -oE '[0-9]+ preemptions' "$TMP/small.err")) equals the single runs" \
    cmp "$TMP/singles.txt" "$TMP/small.txt"
  check "... with sequences preempted" grep -qE " [1-9][0-9]* preemptions" "$TMP/small.err"
  info=$("$TMP/m" --info)
  check "--kv $kv: --info names the cache and its $bytes bytes a position" \
    grep -qF "KV cache $kv${3:+ $3 $4 $5} in blocks of 16 ($bytes bytes a position)" <<<"$info"
done
# --kv-calib: fp8's scales per layer and head from prompts, at compile time (the reference interpreter)
"$LLMC" compile "$M/stories260K.bin" --kv fp8 --kv-calib "$TMP/prompts.txt" -o "$TMP/mc" -q
check "--kv-calib: --info says the fp8 scales are calibrated" grep -qF "KV cache fp8 (scales calibrated)" <("$TMP/mc" --info)
: >"$TMP/singles.txt"
while IFS= read -r p; do "$TMP/mc" "$p" -n 50 >>"$TMP/singles.txt"; done <"$TMP/prompts.txt"
"$TMP/mc" --prompts "$TMP/prompts.txt" --max-batch 3 -n 50 --kv-blocks 5 >"$TMP/batched.txt" 2>/dev/null
check "--kv-calib: batched on 5 blocks equals the single runs" cmp "$TMP/singles.txt" "$TMP/batched.txt"
expect_error "--kv-calib without an fp8 cache is refused" "only an fp8 KV cache has scales to calibrate" \
  "$LLMC" compile "$M/stories260K.bin" --kv int8 --kv-calib "$TMP/prompts.txt" -o "$TMP/x"
expect_error "--kv-calib of an empty file is refused" "no prompt in the file" \
  bash -c ": >'$TMP/empty.txt'; '$LLMC' compile '$M/stories260K.bin' --kv fp8,f16 --kv-calib '$TMP/empty.txt' -o '$TMP/x'"
expect_error "--kv names an unknown format" "--kv: unknown format \"int3\"" \
  "$LLMC" compile "$M/stories260K.bin" --kv int8,int3 -o "$TMP/x"
expect_error "--kv bf16 is no KV format of the cpu" "--kv bf16: target cpu stores the KV cache as f32, f16, fp8, int8, int4" \
  "$LLMC" compile "$M/stories260K.bin" --kv bf16 -o "$TMP/x"

finish
