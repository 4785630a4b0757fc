#!/usr/bin/env bash
# Quality of the weight formats (issue 10): debdocs-32M perplexity (llama.cpp's protocol, ctx 512,
# eval.txt; f32 reference 16.1545) compiled for the cpu target in each format, and the executable's
# size. Prints one table row a format. LLMC (default build/llmc), FORMATS to choose.
#   bench/quant_quality.sh                    # every format
#   FORMATS="fp8 w4a16" bench/quant_quality.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
llmc=${LLMC:-$root/build/llmc}
M=$root/../shared/models/debdocs-32M
tmp=$(mktemp -d /tmp/llmc-qq-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
formats=${FORMATS:-"f32 bf16 fp8 w4a16 w4a16:--asym w4a16:--group=32 w4a16:--group=32:--asym"}
printf '| %-26s | %10s | %8s | %9s |\n' format perplexity "vs f32" "MB"
printf '|%s|%s|%s|%s|\n' ---------------------------- ------------ ---------- -----------
base=16.15452518761785
for f in $formats; do
  IFS=: read -r -a parts <<<"$f"
  args=(--weights "${parts[0]}")
  for p in "${parts[@]:1}"; do args+=("${p%%=*}"); [ "$p" = "${p#*=}" ] || args+=("${p#*=}"); done
  "$llmc" compile "$M" -o "$tmp/m" -q "${args[@]}"
  ppl=$("$tmp/m" --perplexity "$M/eval.txt" --ctx 512 2>/dev/null | sed -n 's/^perplexity: \([0-9.]*\).*/\1/p')
  printf '| %-26s | %10s | %+7.2f%% | %9.1f |\n' "${args[*]}" "$ppl" "$(awk -v p="$ppl" -v b="$base" 'BEGIN{print (p/b-1)*100}')" \
    "$(awk -v s="$(stat -c %s "$tmp/m")" 'BEGIN{print s/1e6}')"
done
