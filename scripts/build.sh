#!/usr/bin/env bash
# Configures and builds llmc into build/ (or $1 with extra CMake arguments after it), with warnings
# as errors (LLMC_WERROR; a plain cmake build leaves them warnings).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
shift || true
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMC_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
