#!/usr/bin/env bash
# The long fuzzing run (issue 16: each harness 10 minutes with no finding): scripts/fuzz.sh with
# SECONDS per harness (default 600), two harnesses at a time. Findings stay in build-fuzz/findings/.
exec "$(dirname "$0")/../scripts/fuzz.sh" "${1:-600}" "${@:2}"
