#!/usr/bin/env bash
# What the step watchdog (docs/tp.md, "The watchdog") costs on one GPU, and that it changes no
# output: each executable given (compiled here for the lent GPU, e.g. into .carry/) generates 64
# greedy tokens with the watchdog (the default --step-timeout) and without it (--step-timeout 0),
# the two texts compared, then --bench alternates the two REPEAT times (default 3), decode tok/s of
# each run printed. Run on the GPU machine: bash bench/watchdog_cost.sh .carry/s260 .carry/dd
set -uo pipefail
out=${OUT:-/tmp/llmc-out}
mkdir -p "$out"
log=$out/watchdog.log
: >"$log"
say() { echo "$*" | tee -a "$log"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$log"
fail=0
for x in "$@"; do
  name=$(basename "$x")
  "$x" "Once upon a time" -n 64 --temp 0 >"$out/$name.wd.txt" 2>>"$log" || { say "$name: FAILED with the watchdog"; fail=1; }
  "$x" "Once upon a time" -n 64 --temp 0 --step-timeout 0 >"$out/$name.nowd.txt" 2>>"$log" ||
    { say "$name: FAILED without the watchdog"; fail=1; }
  if cmp -s "$out/$name.wd.txt" "$out/$name.nowd.txt"; then say "$name: the same 64 greedy tokens with and without"
  else say "$name: DIFFERENT text with and without the watchdog"; fail=1; fi
  for b in 1 16; do
    for i in $(seq "${REPEAT:-3}"); do
      for t in 60 0; do
        r=$("$x" --bench --batch "$b" -n 256 --step-timeout "$t" 2>&1 | grep -i "decode" | head -1)
        say "$name batch $b --step-timeout $t: $r"
      done
    done
  done
done
exit $fail
