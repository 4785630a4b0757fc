#!/usr/bin/env bash
# Several bench/gpu_round.sh rounds in one device call, each cut to a share of a deadline, so that
# one slow step cannot eat the call's 10 minutes and leave nothing behind:
#   PLAN="check:210 families:170 kv:999" DEADLINE=560 bash bench/gpu_plan.sh
# Each item is WHAT:SECONDS (at most; less where the deadline is nearer); an item's environment
# goes before it as NAME=VALUE words separated by commas after a slash, e.g.
#   "kv:300/PRESETS=llama3.2-1b,KV_FORMATS=f16 int4" (spaces inside a value are kept).
# Every round writes $OUT/<n>_<WHAT>/round.log; at the end the RESULT lines of all of them are
# printed (what survives a timeout too: rounds write their RESULT lines as they go).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/llmc-out}
end=$((SECONDS + ${DEADLINE:-560}))
n=0
IFS=';' read -r -a items <<<"${PLAN:?PLAN=\"WHAT:SECONDS[/ENV=V,...];...\" or space-separated}"
[ ${#items[@]} -eq 1 ] && [[ ${items[0]} != */* ]] && read -r -a items <<<"${items[0]}"
for item in "${items[@]}"; do
  n=$((n + 1))
  spec=${item%%/*}
  env=
  [[ $item == */* ]] && env=${item#*/}
  what=${spec%%:*}
  t=${spec#*:}
  left=$((end - SECONDS))
  [ $left -lt 30 ] && { echo "== $what: skipped (deadline)"; continue; }
  [ "$t" -gt $left ] && t=$left
  dir=$out/${n}_$what
  mkdir -p "$dir"
  t0=$SECONDS
  (
    IFS=',' read -r -a kv <<<"$env"
    for a in "${kv[@]}"; do [ -n "$a" ] && export "${a?}"; done
    OUT=$dir WHAT=$what timeout "$t" bash "$root/bench/gpu_round.sh" >"$dir/stdout.txt" 2>&1
  )
  echo "== $what ($env): exit $?, $((SECONDS - t0)) s of at most $t"
done
echo "== RESULT lines"
for d in "$out"/*_*/; do
  [ -f "$d/round.log" ] || continue
  sed -n "s|^RESULT |$(basename "$d"): |p" "$d/round.log"
  [ -f "$d/kv_bench.log" ] && ! grep -q '^RESULT' "$d/round.log" && sed -n "s|^RESULT |$(basename "$d"): |p" "$d/kv_bench.log"
  [ -f "$d/kv_bench.log" ] && sed -n '/^== KV formats/,$p' "$d/kv_bench.log"
done
