#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang (-fsanitize=fuzzer,address,undefined)
# into BUILD (default build-fuzz/) and runs each for SECONDS (default 20) on a seed corpus made
# from ../shared/models (emit_names: hostile names of its own), two at a time. Any finding
# (sanitizer report, crash, leak, timeout of one input over 10 s) fails the run; the reproducer is
# left in BUILD/findings/NAME/.
#   scripts/fuzz.sh [SECONDS] [NAME...]      e.g. scripts/fuzz.sh 600 model_json   (bench: long runs)
# LLMC for the seeds that need a compiled model (default build/llmc; those seeds are skipped
# without it). CLANG picks the compiler (default clang-19, else clang).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
shift || true
out=${BUILD:-$root/build-fuzz}
shared=$(cd "$root/.." && pwd)/shared
cc=${CLANG:-$(command -v clang-19 || command -v clang || true)}
[ -n "$cc" ] || { echo "fuzz: clang not found (scripts/setup.sh installs clang-19)" >&2; exit 1; }
[ -d "$shared/models" ] || { echo "fuzz: $shared/models not found: the seed corpora come from there" >&2; exit 1; }
llmc=${LLMC:-$root/build/llmc}
all=(model_json safetensors hf_config hf_index llama2c tokenizer_file tokenize payload emit_names chat_template serve_request)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

flags=(-std=gnu11 -g -O1 -D_GNU_SOURCE -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=all -I"$root/runtime" -I"$root/abi" -I"$root/ir" $(pkg-config --cflags libcjson))
mkdir -p "$out/obj"
# Compiles run $(nproc) at a time (CI's budget); drain waits for each and fails if one did.
jobs_max=$(nproc)
pids=()
bg() { # bg CMD...: runs CMD in the background, at most $jobs_max at once
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n 2>/dev/null || true; done
  "$@" &
  pids+=($!)
}
drain() {
  local p bad=0
  for p in "${pids[@]}"; do wait "$p" || bad=1; done
  pids=()
  [ $bad = 0 ] || { echo "fuzz: a compile failed (above)" >&2; exit 1; }
}
# the newest header of the tree: an object older than it is rebuilt too (a struct it uses may have changed)
newest_h=$(ls -t "$root"/{abi,ir,passes,frontend,runtime,codegen}/*.h | head -1)
cobj() { # cobj SRC OBJ: SRC compiled with coverage for the fuzzer, unless OBJ is newer than it and every header
  if [ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ "$newest_h" -nt "$2" ]; then
    bg "$cc" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$1" -o "$2"
  fi
}
# The library sources each harness may need, compiled once with coverage for the fuzzer.
objs=()
for src in "$root"/ir/*.c "$root"/passes/*.c "$root"/frontend/*.c "$root"/runtime/tokenizer*.c "$root"/runtime/jinja*.c \
           "$root"/runtime/payload_load.c "$root"/runtime/rtutil.c "$root"/runtime/json.c \
           "$root"/abi/*.c; do
  o=$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o
  cobj "$src" "$o"
  objs+=("$o")
done
# The emitters, for the harness that checks what reaches generated code (it stubs the embedded blobs).
emit_objs=()
for src in "$root"/codegen/emit.c "$root"/codegen/emit_formats.c "$root"/codegen/c_*.c "$root"/codegen/cuda_*.c; do
  case $(basename "$src") in c_build.c|cuda_build.c) continue;; esac
  o=$out/obj/codegen_$(basename "${src%.c}").o
  cobj "$src" "$o"
  emit_objs+=("$o")
done
# The server's request parser, for its harness alone (it stubs the chat template's prompt, which
# serve_api.c calls: linked into the others it would be an undefined reference).
serve_obj=$out/obj/runtime_serve_api.o
cobj "$root/runtime/serve_api.c" "$serve_obj"
drain
for n in "${names[@]}"; do
  extra=()
  [ "$n" = emit_names ] && extra=("${emit_objs[@]}")
  [ "$n" = serve_request ] && extra=("$serve_obj")
  bg "$cc" "${flags[@]}" -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$n.c" "${objs[@]}" "${extra[@]}" \
    $(pkg-config --libs libcjson libpcre2-8 libutf8proc) -lm -lpthread -o "$out/fuzz_$n"
done
drain
# Seed corpora.
seed() { # seed NAME FILE... : copies files into NAME's corpus
  local n=$1; shift
  mkdir -p "$out/corpus/$n"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "$out/corpus/$n/"; done
  return 0
}
prefixed() { # prefixed NAME OUTNAME HEXPREFIX FILE: FILE with bytes prepended
  mkdir -p "$out/corpus/$1"
  { printf "$3"; cat "$4"; } >"$out/corpus/$1/$2"
}
M=$shared/models
seed model_json "$root"/examples/*.json "$root/tests/golden/tiny.json"
seed hf_config "$M/debdocs-32M/config.json"
seed hf_index "$M/debdocs-32M/model.safetensors.index.json"
seed llama2c "$M/stories260K/stories260K.bin"
prefixed tokenizer_file tok512 '\x00\x00\x02' "$M/stories260K/tok512.bin"
prefixed tokenizer_file llama2 '\x01\x00\x7d' "$M/llama2-tokenizer/tokenizer.model"
prefixed tokenizer_file tiny_sp_json '\x02\x2c\x01' "$root/tests/data/tokenizer/tiny-sp/tokenizer.json"
prefixed tokenizer_file tiny_bl_json '\x02\x2e\x01' "$root/tests/data/tokenizer/tiny-bl/tokenizer.json"
seed tokenize "$root/README.md" "$root/tests/data/tokenizer/corpus.json"
seed chat_template "$root/tests/data/chat/cases.json" "$M/llama3-tokenizer/tokenizer_config.json" \
  "$M/qwen3-tokenizer/tokenizer_config.json"
# emit_names: NUL-separated model name, source path, six tensor names, weights file, cubin path.
mkdir -p "$out/corpus/emit_names"
printf 'tiny\0tiny.json\0tok_embeddings\0norm\0output\0x\0h\0a\0tiny.bin\0/tmp/llmc-build/cubin_sm_90a.bin' \
  >"$out/corpus/emit_names/plain"
printf '*/ __attribute__((constructor)) static void pwn(void){} /*\0a\\\nb.json\0w*/x\0"q\0??/\n\0\xff\xfe\xc3\0x\\\0h\r\n#\0a\0"b"\0/tmp/x"y\\z\n.incbin "/etc/passwd"' \
  >"$out/corpus/emit_names/hostile"
head -c 4000 "$M/debdocs-32M/eval.txt" >"$out/corpus/tokenize/eval.txt"
# serve_request: request bodies of the HTTP server.
mkdir -p "$out/corpus/serve_request"
printf '{"model": "m", "prompt": "Once upon a time", "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "seed": 3, "stop": ["\\n", "The"], "stream": true, "stream_options": {"include_usage": true}, "echo": true}' \
  >"$out/corpus/serve_request/completion"
printf '{"prompt": [[1, 403, 407]], "n": 1, "logprobs": null, "presence_penalty": 0, "x": [1.5e3, null, false, "\\ud83d\\ude00"]}' \
  >"$out/corpus/serve_request/ids"
printf '{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_completion_tokens": 5}' \
  >"$out/corpus/serve_request/chat"
# A small safetensors file, a synthesized config and a whole executable come from llmc itself.
if [ -x "$llmc" ]; then
  # Seeds from an llmc of another payload format are made again.
  if [ -f "$out/seed/exe" ] && [ "$(tail -c 352 "$out/seed/exe" | head -c 8)" != LLMCEND2 ]; then rm -rf "$out/seed"; fi
  if [ ! -f "$out/seed/model.safetensors" ]; then
    rm -rf "$out/seed"
    "$llmc" synth --preset stories260K --dtype f32 -o "$out/seed/hf" -q
    mv "$out/seed/hf/model.safetensors" "$out/seed/model.safetensors"
    "$llmc" compile "$M/stories260K/stories260K.bin" --tokenizer "$M/stories260K/tok512.bin" -o "$out/seed/exe" -q
  fi
  seed safetensors "$out/seed/model.safetensors"
  seed hf_config "$out/seed/hf/config.json"
  # payload: 16 bytes of what the model code expects (its hash, its weights size), a re-seal byte
  # (fuzz_payload.c), then the file.
  exe=$out/seed/exe
  size=$(stat -c %s "$exe")
  foot=$((size - 352))   # sizeof(LlmcFooter)
  hash=$(od -An -tx1 -j $((foot + 24)) -N 8 "$exe" | tr -d ' \n')
  poff=$(od -An -tu8 -j $((foot + 8)) -N 8 "$exe" | tr -d ' ')
  wsize=$(od -An -tx1 -j $((poff + 24)) -N 8 "$exe" | tr -d ' \n')
  mkdir -p "$out/corpus/payload"
  { printf "$(echo "$hash$wsize" | sed 's/../\\x&/g')\x01"; cat "$exe"; } >"$out/corpus/payload/exe"
  { printf "$(echo "$hash$wsize" | sed 's/../\\x&/g')\x00"; cat "$exe"; } >"$out/corpus/payload/exe_as_is"
else
  echo "fuzz: $llmc not built: the safetensors and payload corpora start empty" >&2
fi
for n in safetensors payload; do mkdir -p "$out/corpus/$n"; done

run_one() {
  local n=$1 dir=$out/findings/$1
  rm -rf "$dir"; mkdir -p "$dir"
  if LLMC_SHARED_DIR=$shared ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$out/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=1048576 \
       -artifact_prefix="$dir/" -print_final_stats=1 "$out/corpus/$n" >"$dir/log" 2>&1; then
    echo "fuzz_$n: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$') runs in ${secs} s)"
    return 0
  fi
  echo "fuzz_$n: FINDING (log and reproducer in $dir)"
  grep -m3 -E 'ERROR|SUMMARY|runtime error|Timeout|deadly signal' "$dir/log" || tail -5 "$dir/log"
  return 1
}
fail=0
pids=()
i=0
for n in "${names[@]}"; do
  run_one "$n" >"$out/result_$n" 2>&1 &
  pids+=($!)
  i=$((i + 1))
  if [ $((i % 2)) = 0 ]; then for p in "${pids[@]}"; do wait "$p" || fail=1; done; pids=(); fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
for n in "${names[@]}"; do cat "$out/result_$n"; done
passed=0; failed=0
for n in "${names[@]}"; do grep -q ': ok' "$out/result_$n" && passed=$((passed + 1)) || failed=$((failed + 1)); done
echo "fuzz: $passed passed, $failed failed"
exit $fail
