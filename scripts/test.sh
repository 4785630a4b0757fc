#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds llmc twice (optimized, and with AddressSanitizer
# + UndefinedBehaviorSanitizer) and runs every test in both builds, builds it once more with clang
# (-Werror), then runs each fuzz harness briefly. Tests labelled "slow" (long
# numeric runs such as the perplexity check, the NVRTC compiles of test_cuda's cases, the layering
# script) run in the optimized build only; in the sanitized build test_codegen emits the models' C without
# compiling and running it again (LLMC_TEST_EMIT_ONLY=1: plain cc builds it the same in both).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
jobs=$(nproc)
echo "== optimized build =="
"$root/scripts/build.sh" "$root/build"
(cd "$root/build" && ctest --output-on-failure -j"$jobs")
echo "== ASan/UBSan build =="
"$root/scripts/build.sh" "$root/build-asan" -DLLMC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd "$root/build-asan" && LLMC_TEST_EMIT_ONLY=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j"$jobs" -LE slow)
echo "== clang build (warnings as errors; the compiler and the runtime archive) =="
CC=$(command -v clang-19 || command -v clang) "$root/scripts/build.sh" "$root/build-clang" -DCMAKE_BUILD_TYPE=Release
echo "== fuzzing (tests/fuzz/, 10 s a harness; bench/fuzz_long.sh for long runs) =="
LLMC="$root/build/llmc" "$root/scripts/fuzz.sh" 10
