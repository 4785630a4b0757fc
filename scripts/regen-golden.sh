#!/usr/bin/env bash
# Regenerates the golden files (IR after each pass, emitted kernels) after an intended change.
# Review the diff (git diff tests/golden) before committing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build"
"$root/build/tests/test_passes" --regen
"$root/build/tests/test_cuda" --regen
"$root/build/tests/test_hip" --regen
git -C "$root" status --short tests/golden
