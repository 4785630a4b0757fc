#!/bin/bash
# run.sh — the GPU smoke test of the runtime's CUDA backend, on a machine with an NVIDIA GPU.
# Build first with build.sh (anywhere with nvcc); then, from the repository root:
#
#   bash .carry/gpu_smoke/run.sh [LOGDIR]          (LOGDIR default: /tmp/gpu_smoke)
#
# Checks: --version lists the architectures; generation with CUDA graphs == without, and vs the
# cpu build; batching (padded graph buckets) == single runs (batch_check); --bench prints the copy
# bandwidth and the roofline; --compare-cpu; an sm_89-only build is refused on this GPU; a KV cache
# larger than the GPU is refused; compute-sanitizer memcheck over eager and graph steps.
# Logs go to LOGDIR; a PASS/FAIL table is printed last.
set -u
d=$(cd "$(dirname "$0")" && pwd)
log=${1:-/tmp/gpu_smoke}
mkdir -p "$log"
cd "$d"
results=()
pass() { results+=("PASS  $1"); }
fail() { results+=("FAIL  $1"); }
SECONDS=0

nvidia-smi -L 2>&1 | head -2
./gen_payload /tmp/smoke.payload || { echo "gen_payload failed"; exit 1; }
W=(--weights /tmp/smoke.payload)
IDS="1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70"

# 1. --version
./smoke --version >"$log/version.txt" 2>&1
grep -q "GPU architectures: sm_90" "$log/version.txt" && pass "--version lists sm_90" || fail "--version"

# 2. generation: graphs vs eager vs the cpu build (70-token prompt: two prefill chunks)
./smoke "${W[@]}" --ids "$IDS" -n 48 --verbose >"$log/gen_graphs.txt" 2>"$log/gen_graphs.err"
rc_g=$?
./smoke "${W[@]}" --ids "$IDS" -n 48 --verbose --no-graphs >"$log/gen_eager.txt" 2>"$log/gen_eager.err"
rc_e=$?
./smoke_cpu "${W[@]}" --ids "$IDS" -n 48 >"$log/gen_cpu.txt" 2>"$log/gen_cpu.err"
rc_c=$?
cat "$log/gen_graphs.err" "$log/gen_eager.err"
if [ $rc_g -eq 0 ] && [ $rc_e -eq 0 ] && cmp -s "$log/gen_graphs.txt" "$log/gen_eager.txt"; then
    pass "generation: CUDA graphs == eager (48 tokens)"
else
    fail "generation: graphs ($rc_g) vs eager ($rc_e)"
fi
grep -q "as CUDA graphs ([1-9]" "$log/gen_graphs.err" && grep -q " 0 as CUDA graphs" "$log/gen_eager.err" &&
    pass "graph steps counted (graphs on) / none (--no-graphs)" || fail "graph step counts"
if [ $rc_c -eq 0 ] && cmp -s "$log/gen_graphs.txt" "$log/gen_cpu.txt"; then
    pass "generation: GPU == cpu build"
else
    fail "generation: GPU vs cpu build differ (rc $rc_c; float rounding can flip a near-tie)"
fi

# 3. batching with padded graph buckets
./batch_check /tmp/smoke.payload 24 >"$log/batch_check.txt" 2>&1 && pass "batching == single runs (batch 1..8, graphs on/off)" ||
    fail "batch_check"
cat "$log/batch_check.txt"

# 4. --bench: copy bandwidth and roofline, batch 1 and 5 (bucket 8)
for b in 1 5; do
    ./smoke "${W[@]}" --bench -p 64 -n 128 --batch $b --verbose >"$log/bench_b$b.txt" 2>&1
    rc=$?
    cat "$log/bench_b$b.txt"
    [ $rc -eq 0 ] && grep -q "device copy bandwidth" "$log/bench_b$b.txt" &&
        grep -q "memory roofline" "$log/bench_b$b.txt" && pass "--bench --batch $b" || fail "--bench --batch $b"
done

# 5. --compare-cpu
./smoke "${W[@]}" --compare-cpu --ids "$IDS" >"$log/compare.txt" 2>&1
rc=$?
cat "$log/compare.txt"
[ $rc -eq 0 ] && grep -q "argmax agrees" "$log/compare.txt" && pass "--compare-cpu" || fail "--compare-cpu"

# 6. refusals
./smoke_sm89 "${W[@]}" --ids "1 2" -n 2 >"$log/sm89.txt" 2>&1
rc=$?
cat "$log/sm89.txt"
[ $rc -eq 1 ] && grep -q "this executable was built for sm_89; this GPU is .* (sm_90)" "$log/sm89.txt" &&
    pass "sm_89-only build refused" || fail "sm_89 refusal (rc $rc)"
./smoke "${W[@]}" --ids "1 2" -n 2 --kv-blocks 100000000 >"$log/oom.txt" 2>&1
rc=$?
cat "$log/oom.txt"
[ $rc -eq 1 ] && grep -q "not enough GPU memory" "$log/oom.txt" && pass "oversized KV cache refused" || fail "oom (rc $rc)"

# 7. compute-sanitizer memcheck: eager and graph steps, a padded batch
if command -v compute-sanitizer >/dev/null; then
    cs=(compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20)
    "${cs[@]}" ./smoke "${W[@]}" --ids "$IDS" -n 6 >"$log/memcheck_gen.txt" 2>&1
    rc=$?
    tail -3 "$log/memcheck_gen.txt"
    [ $rc -eq 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$log/memcheck_gen.txt" && pass "memcheck: generation" ||
        fail "memcheck: generation (rc $rc)"
    "${cs[@]}" ./smoke "${W[@]}" --bench -p 20 -n 4 --batch 3 >"$log/memcheck_bench.txt" 2>&1
    rc=$?
    tail -3 "$log/memcheck_bench.txt"
    [ $rc -eq 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$log/memcheck_bench.txt" && pass "memcheck: bench batch 3 (padded)" ||
        fail "memcheck: bench (rc $rc)"
else
    fail "compute-sanitizer not found"
fi

echo
echo "==== gpu smoke: ${SECONDS} s ===="
printf '%s\n' "${results[@]}" | tee "$log/summary.txt"
! printf '%s\n' "${results[@]}" | grep -q FAIL
