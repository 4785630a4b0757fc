#!/usr/bin/env bash
# debdocs-32M perplexity on its held-out eval.txt with llama.cpp's protocol at context 512: the
# float32 reference is 16.155 (reference.json); the cpu target must give it within 0.01 over the
# whole file (102 chunks). Then fp8 and w4a16 weights against their bounds over the first 12
# chunks (--chunks), relative to float32's perplexity over the same chunks (its progress line
# "[chunk 12/102]"), and the quantized KV cache's short checks. Labelled "slow" (a few minutes on two cores): it runs in the optimized build only.
source "$(dirname "$0")/lib_e2e.sh"
need_shared debdocs-32M/eval.txt
M=$SHARED/models/debdocs-32M
N=12
"$LLMC" compile "$M" -o "$TMP/model" -q --weights f32   # the checkpoint is f16, the default would keep it
out=$("$TMP/model" --perplexity "$M/eval.txt" --ctx 512 2>"$TMP/progress")
echo "$out"
ppl=$(sed -n 's/^perplexity: \([0-9.]*\).*/\1/p' <<<"$out")
check "perplexity $ppl within 0.01 of the reference 16.1545" \
  awk -v p="$ppl" 'BEGIN { d = p - 16.15452518761785; if (d < 0) d = -d; exit !(p != "" && d < 0.01) }'
check "102 chunks of 512 and 26010 scored tokens, as the protocol gives" grep -q "102 chunks of 512, 26010 tokens" <<<"$out"
base=$(sed -n "s|^\[chunk $N/102\] ppl \([0-9.]*\)$|\1|p" "$TMP/progress")
check "float32 over the first $N chunks: $base (a progress line)" test -n "$base"

# Quantized weights (issue 10): fp8 within 0.5% of f32, w4a16 (g128, symmetric, bf16 embedding and
# lm_head) within 5%. Measured on two cores over all 102 chunks: fp8 16.187 (+0.20%), w4a16 16.704
# (+3.40%); over the first 24 (float32 31.132): fp8 31.176 (+0.14%), w4a16 31.876 (+2.39%); over the
# first 12 (float32 29.870), what the test runs since the fourteenth session (CI's time: about 30 s
# less): fp8 29.909 (+0.13%), w4a16 30.785 (+3.06%, nearer the whole file's than 24 chunks give).
for q in "fp8 0.005" "w4a16 0.05"; do
  set -- $q
  "$LLMC" compile "$M" --weights "$1" -o "$TMP/q" -q
  out=$("$TMP/q" --perplexity "$M/eval.txt" --ctx 512 --chunks $N 2>/dev/null)
  check "--weights $1: $N chunks of 512, as --chunks $N asks" grep -q "$N chunks of 512" <<<"$out"
  p=$(sed -n 's/^perplexity: \([0-9.]*\).*/\1/p' <<<"$out")
  echo "--weights $1: perplexity $p over $N chunks (float32: $base)"
  check "--weights $1: perplexity $p within $(awk -v t="$2" 'BEGIN{print t*100}')% of f32's $base" \
    awk -v p="$p" -v b="$base" -v t="$2" 'BEGIN { exit !(p != "" && p > 0 && b > 0 && p / b - 1 < t) }'
done
# The quantized KV cache (issue 12), short: the first 2 chunks of 512 of eval.txt, f16's cache
# against int4's (within 3%) and kivi2's (5%); bench/NOTES.md has the whole eval at 512 and 1024
# for every format. Then KIVI end to end (debdocs-32M: heads of 64, whole groups of 32; stories260K's
# are 8, e2e_kv.sh checks the other formats on it): prompts past the residual, prefilled in chunks
# of at most 96 a step, batched and on a pool that preempts, equal their single runs.
head -c 4400 "$M/eval.txt" >"$TMP/eval.txt"
ppl() {
  "$LLMC" compile "$M" --kv "$1" -o "$TMP/d" -q
  "$TMP/d" --perplexity "$TMP/eval.txt" --ctx 512 2>/dev/null | sed -n 's/^perplexity: \([0-9.]*\) .* (\([0-9]*\) chunks.*/\1 \2/p'
}
read -r p16 n16 <<<"$(ppl f16)"
read -r p4 n4 <<<"$(ppl int4)"
check "debdocs-32M, $n4 chunks of 512: --kv int4 perplexity $p4 within 3% of f16's $p16" \
  awk -v a="$p4" -v b="$p16" -v n="$n4" 'BEGIN { exit !(n == 2 && a != "" && b > 0 && a / b - 1 < 0.03 && a / b - 1 > -0.03) }'
read -r pk nk <<<"$(ppl kivi2)"
check "debdocs-32M, $nk chunks of 512: --kv kivi2 perplexity $pk within 5% of f16's $p16" \
  awk -v a="$pk" -v b="$p16" -v n="$nk" 'BEGIN { exit !(n == 2 && a != "" && b > 0 && a / b - 1 < 0.05 && a / b - 1 > -0.05) }'
check "--kv kivi2: --info names the blocks of 32 and 1920 bytes a position" \
  grep -qF "KV cache kivi2 in blocks of 32 (1920 bytes a position)" <("$TMP/d" --info)
awk 'length($0) > 700 { print substr($0, 1, 700); if (++n == 3) exit }' "$M/eval.txt" >"$TMP/long.txt"
: >"$TMP/ksingles.txt"
while IFS= read -r p; do "$TMP/d" "$p" -n 24 >>"$TMP/ksingles.txt"; done <"$TMP/long.txt"
"$TMP/d" --prompts "$TMP/long.txt" --max-batch 3 -n 24 >"$TMP/kbatched.txt" 2>/dev/null
check "--kv kivi2: 3 prompts of ~170 tokens batched equal their single runs" cmp "$TMP/ksingles.txt" "$TMP/kbatched.txt"
# 86 blocks: two sequences start (a ring of 38 blocks and 3 for a first chunk each), and growing to 7
# blocks of positions each they no longer fit: the newest is preempted, recomputed later
"$TMP/d" --prompts "$TMP/long.txt" --max-batch 3 -n 24 --kv-blocks 86 >"$TMP/ksmall.txt" 2>"$TMP/ksmall.err"
check "--kv kivi2: on 86 blocks (rings of 38) ($(grep -oE '[0-9]+ preemptions' "$TMP/ksmall.err")) equal their single runs" \
  cmp "$TMP/ksingles.txt" "$TMP/ksmall.txt"
check "... with sequences preempted" grep -qE " [1-9][0-9]* preemptions" "$TMP/ksmall.err"
finish
