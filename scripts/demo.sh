#!/usr/bin/env bash
# The main job on this machine: install dependencies, build llmc, compile a real model
# (../shared/models/debdocs-32M, a trained 32M-parameter Llama in Hugging Face layout) for the host
# CPU into one executable, and generate text with it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/../shared/models/debdocs-32M}
prompt=${2:-The Linux kernel is}
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build"
mkdir -p "$root/out"
"$root/build/llmc" compile "$model" --target cpu -o "$root/out/model"
"$root/out/model" --version
"$root/out/model" "$prompt" -n 64
