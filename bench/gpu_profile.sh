#!/usr/bin/env bash
# Per-kernel profile of decode steps on the lent GPU (Nsight Compute, clocks left alone): duration,
# DRAM bytes and bandwidth of every kernel of a few eager decode steps, summed per kernel kind.
#   PRESET=llama3.2-1b bash bench/gpu_profile.sh        (after scripts/gpu_carry.sh; logs in $OUT)
#   PRESET may also name a cut shape of bench/gpu_round.sh (llama3.1-8b-11l, qwen3-30b-a3b-12l ...)
#   COMPILE_ARGS="--weights w4a16": more arguments of llmc compile
#   LAUNCHES=20: instead of Nsight Compute, each launch of a decode step timed inside its CUDA graph
#   (the executable's --bench-launches; at batch 1 the profiler's own cost per kernel hides this)
#   KERNEL=gemv_b1 [SECTIONS="SpeedOfLight WarpStateStats ..."]: instead of the per-kind table, Nsight
#   Compute's detail sections (default: speed of light, memory, compute, warp states, scheduler,
#   occupancy, launch, source counters) of COUNT (default 4) launches of the kernels whose name holds
#   KERNEL, after SKIP of them; printed as ncu prints them (what binds one kernel: issue 10's gemv_b1,
#   issue 26's moe_route).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$root/.carry
export LD_LIBRARY_PATH=$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
out=${OUT:-/tmp/llmc-out}
work=/tmp/llmc-work
preset=${PRESET:-llama3.2-1b}
mkdir -p "$out" "$work"
# CONFIG=file: a config.json of one's own (e.g. a cut shape of bench/gpu_round.sh's cut_config) instead
if [ -n "${CONFIG:-}" ]; then
  preset=$(basename "$CONFIG" .json)
  [ -d "$work/$preset" ] || "$carry/llmc" synth --config "$CONFIG" -o "$work/$preset" -q
elif [[ $preset == *-[0-9]*l ]]; then # a cut shape of bench/gpu_round.sh (llama3.1-8b-11l ...): its cut_config
  eval "$(sed -n '/^cut_config() {/,/^}/p' "$root/bench/gpu_round.sh")"
  cut_config "$preset" >"$work/$preset.json" || exit 1
  [ -d "$work/$preset" ] || "$carry/llmc" synth --config "$work/$preset.json" -o "$work/$preset" -q
else
  [ -d "$work/$preset" ] || "$carry/llmc" synth --preset "$preset" -o "$work/$preset" -q
fi
# REUSE=1: the previous run's build (the same PRESET and COMPILE_ARGS) instead of compiling again
# shellcheck disable=SC2086
[ -n "${REUSE:-}" ] && [ -x "$work/p.exe" ] ||
  "$carry/llmc" compile "$work/$preset" --target sm_90a -o "$work/p.exe" --weights-file --max-seq 4096 -q ${COMPILE_ARGS:-} || exit 1

# LAUNCHES=R: no profiler; the build's own `--bench-launches R` (each launch of a decode step timed
# inside its CUDA graph, after a --bench of PROMPT tokens, default 512, and 8 decode steps)
if [ -n "${LAUNCHES:-}" ]; then
  "$work/p.exe" --bench --bench-prompt "${PROMPT:-512}" -n 8 --bench-launches "$LAUNCHES" ${BENCH_ARGS:-} \
    >"$out/launches_$preset.txt" 2>&1
  rc=$?
  cat "$out/launches_$preset.txt"
  exit $rc
fi

if [ -n "${KERNEL:-}" ]; then
  secs=${SECTIONS:-SpeedOfLight MemoryWorkloadAnalysis ComputeWorkloadAnalysis WarpStateStats SchedulerStats Occupancy LaunchStats SourceCounters}
  sargs=()
  for s in $secs; do sargs+=(--section "$s"); done
  ncu --clock-control none --kernel-name "regex:$KERNEL" --launch-skip "${SKIP:-40}" --launch-count "${COUNT:-4}" \
    "${sargs[@]}" "$work/p.exe" --bench ${BENCH_ARGS:---bench-prompt 1 -n 12} --no-graphs \
    >"$out/ncu_${preset}_$KERNEL.txt" 2>"$out/ncu_${preset}_$KERNEL.err"
  rc=$?
  # the section bodies, without ncu's banner lines about the application's own output
  grep -vE '^==PROF==|^\[' "$out/ncu_${preset}_$KERNEL.txt" | grep -vE '^\s*$' | cut -c1-160
  exit $rc
fi

ncu --clock-control none --csv --page raw --print-units base \
  --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
  --launch-skip "${SKIP:-400}" --launch-count "${COUNT:-200}" \
  "$work/p.exe" --bench ${BENCH_ARGS:---bench-prompt 1 -n 12} --no-graphs >"$out/ncu_$preset.csv" 2>"$out/ncu_$preset.err"
python3 - "$out/ncu_$preset.csv" <<'PY'
import csv, sys, re, collections
rows = list(csv.reader(open(sys.argv[1])))
hdr = next(i for i, r in enumerate(rows) if 'Kernel Name' in r)
h = rows[hdr]; data = rows[hdr + 2:]
ki, ti, bi = h.index('Kernel Name'), h.index('gpu__time_duration.sum'), h.index('dram__bytes_read.sum')
pi = h.index('dram__throughput.avg.pct_of_peak_sustained_elapsed')
agg = collections.OrderedDict()
tot = 0
for r in data:
    kind = re.sub(r'^k\d+_', '', r[ki])
    num = lambda v: float(v.replace(',', ''))     # ncu may print thousands separators
    t = num(r[ti]); b = num(r[bi]); tot += t
    a = agg.setdefault(kind, [0, 0.0, 0.0, 0.0]); a[0] += 1; a[1] += t; a[2] += b; a[3] += num(r[pi])
print(f"{'kernel':<22}{'launches':>9}{'total us':>10}{'avg us':>9}{'GB/s':>8}{'dram %':>8}")
for k, (n, t, b, p) in sorted(agg.items(), key=lambda x: -x[1][1]):
    print(f"{k:<22}{n:>9}{t/1e3:>10.1f}{t/n/1e3:>9.2f}{b/t if t else 0:>8.0f}{p/n:>8.1f}")
print(f"total kernel time {tot/1e3:.1f} us over {len(data)} launches")
PY
