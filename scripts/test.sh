#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds llmc twice (optimized, and with AddressSanitizer
# + UndefinedBehaviorSanitizer) and runs every test in both builds, checks every C file with clang's
# warnings as errors (scripts/clang-check.sh: -fsyntax-only, what a clang build reports without its
# code generation), then runs each fuzz harness briefly. Tests labelled "slow" (long
# numeric runs such as the perplexity check, the NVRTC compiles of test_cuda's cases, the layering
# script) run in the optimized build only, and the sanitized build does not build the executables
# only they run (LLMC_SLOW_TESTS=OFF); in the sanitized build test_codegen emits the models' C without
# compiling and running it again (LLMC_TEST_EMIT_ONLY=1: plain cc builds it the same in both).
# Each phase prints its wall and CPU seconds, and the run ends with the table of them (CI's budget:
# the ctest phases keep both cores busy, so their CPU over 2 is their wall time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Each phase's wall time and the CPU time of its processes (CI's budget: the log says where it goes).
tick=$(getconf CLK_TCK)
cpu_ticks() { local s; read -ra s </proc/$$/stat; echo $((s[15] + s[16])); }  # cutime + cstime: waited-for children
summary=()
phase() { # phase NAME CMD...: runs CMD, then prints NAME's wall and CPU seconds
  local name=$1 t0=$SECONDS c0 c1; shift
  c0=$(cpu_ticks)
  echo "== $name ($(date -u +%T)) =="
  "$@"
  c1=$(cpu_ticks)
  summary+=("$(printf '%-40s %5d s wall %6d s CPU' "$name" $((SECONDS - t0)) $(((c1 - c0) / tick)))")
  echo "${summary[-1]}"
}
phase "setup" "$root/scripts/setup.sh"
jobs=$(nproc)
phase "optimized build" "$root/scripts/build.sh" "$root/build"
phase "optimized tests" bash -c "cd '$root/build' && ctest --output-on-failure -j$jobs"
# the sanitized build leaves out the executables of the slow tests, which it does not run
phase "ASan/UBSan build" "$root/scripts/build.sh" "$root/build-asan" -DLLMC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  -DLLMC_SLOW_TESTS=OFF
phase "ASan/UBSan tests" bash -c "cd '$root/build-asan' && LLMC_TEST_EMIT_ONLY=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$jobs -LE slow"
phase "clang -Werror, every C file (-fsyntax-only)" "$root/scripts/clang-check.sh" "$root/build-clang"
phase "fuzzing (10 s a harness)" env LLMC="$root/build/llmc" "$root/scripts/fuzz.sh" 10
echo "== done in $SECONDS s =="
printf '%s\n' "${summary[@]}"
