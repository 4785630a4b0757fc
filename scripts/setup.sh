#!/usr/bin/env bash
# Installs what llmc needs from Debian packages (no-op when already installed).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcjson-dev check clang-19 lld-19 libxxhash-dev time libpcre2-dev libutf8proc-dev libmicrohttpd-dev curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
