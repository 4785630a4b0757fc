#!/usr/bin/env bash
# Load test of ./model --serve on loopback: N concurrent streaming clients, M requests of mixed
# lengths (one in ten hangs up early), every completed answer checked against the same request
# run alone; requests/s, generated tokens/s, time to first token and per output token
# percentiles, errors, and the server's memory over the run (bench/serve_load.py).
#
#   bench/serve_load.sh [EXE] [CLIENTS] [REQUESTS] [MAX_BATCH] [SECONDS]
#
# EXE: any executable llmc compiled, cpu or GPU (a GPU build: bench/serve_gpu.sh runs this for
# a 1B-shaped model on the lent GPU). Without it, stories260K compiled for the cpu
# (../shared/models/stories260K; llmc built in build/). Defaults: 64 clients, 500 requests,
# --max-batch 16, at most 300 s of requests. Loopback only; the server runs on any free port and
# is stopped with SIGTERM at the end (its exit status must be 0).
# Environment: SERVE_OPTS, more server options ("--threads 4 --kv-blocks 512"); LOAD_OPTS, more
# options of serve_load.py ("--reference server --differ-ok --max-tokens 256"); READY_S, how long
# the server may take to load (default 600 s); LOG, where the server's stderr goes (default: a
# temporary file, shown on failure).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/llmc-serve-load-XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
exe=${1:-}
clients=${2:-64}
requests=${3:-500}
batch=${4:-16}
seconds=${5:-300}
log=${LOG:-$work/server.log}
if [ -z "$exe" ]; then
  "$root/scripts/build.sh" "$root/build" >/dev/null
  "$root/build/llmc" compile "$root/../shared/models/stories260K/stories260K.bin" -o "$work/model" -q
  exe=$work/model
fi
extra=()
"$exe" --tokenize "a" >/dev/null 2>&1 || extra=(--ids)   # no tokenizer: prompts as token ids
if ldd "$exe" | grep -q -E 'libasan|libtsan|libmsan'; then extra+=(--no-memory-check); fi
# shellcheck disable=SC2086
"$exe" --serve --port 0 --max-batch "$batch" --max-queue $((clients + 16)) ${SERVE_OPTS:-} 2>"$log" &
server=$!
t0=$SECONDS
until grep -q "ready:" "$log"; do
  kill -0 "$server" 2>/dev/null || { echo "FAIL: the server ended before it was ready"; cat "$log"; exit 1; }
  [ $((SECONDS - t0)) -lt "${READY_S:-600}" ] || { echo "FAIL: not ready after ${READY_S:-600} s"; cat "$log"; exit 1; }
  sleep 0.1
done
port=$(grep -o 'listening on http://[^ ]*' "$log" | sed 's/.*://')
grep "ready:" "$log"
echo "server ready after $((SECONDS - t0)) s; $clients clients, $requests requests, --max-batch $batch ${SERVE_OPTS:-}"
rc=0
# shellcheck disable=SC2086
python3 "$root/bench/serve_load.py" "$exe" "$port" "$server" --clients "$clients" --requests "$requests" \
  --time "$seconds" "${extra[@]}" ${LOAD_OPTS:-} || rc=$?
kill -TERM "$server"
src=0
wait "$server" || src=$?
server=
if [ "$src" -ne 0 ]; then echo "FAIL: the server exited with status $src"; tail -5 "$log"; rc=1; fi
exit $rc
