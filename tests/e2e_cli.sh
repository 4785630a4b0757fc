#!/usr/bin/env bash
# A new user's session with both command lines (issue 25): every command's --help, `--opt=value`
# and `-n4` forms, `--`, `-` for stdin, the llama.cpp spellings of the executable's options, and
# usage errors that are one line naming the option.
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
M=$SHARED/models/stories260K
cd "$TMP"

# one_line_error DESCRIPTION EXPECTED COMMAND...: exit 2, one line on stderr naming EXPECTED, nothing on stdout
one_line_error() {
  local d=$1 want=$2 rc=0; shift 2
  "$@" >out.txt 2>err.txt || rc=$?
  if [ "$rc" -ne 2 ]; then fail "$d: exit $rc, expected 2"; head -3 err.txt; return; fi
  if [ "$(wc -l <err.txt)" -ne 1 ] || [ -s out.txt ]; then fail "$d: not one line: $(head -c 300 err.txt)"; return; fi
  if ! grep -qF -- "$want" err.txt; then fail "$d: message lacks \"$want\": $(cat err.txt)"; return; fi
  pass "$d"
}

# ---- llmc ----
for c in compile import synth targets; do
  check "llmc $c --help exits 0 with its usage" bash -c "'$LLMC' $c --help | grep -q '^usage: llmc $c'"
  check "llmc help $c is llmc $c --help" bash -c "diff <('$LLMC' help $c) <('$LLMC' $c --help)"
done
check "llmc --help lists the commands" bash -c "'$LLMC' --help | grep -q 'llmc synth'"
one_line_error "llmc without a command" "no command given" "$LLMC"
one_line_error "unknown command" '"frobnicate"' "$LLMC" frobnicate
one_line_error "unknown compile option" "--bogus" "$LLMC" compile "$M/stories260K.bin" --bogus
one_line_error "compile option without its value" "--target needs a value" "$LLMC" compile "$M/stories260K.bin" --target
one_line_error "ambiguous prefix" "--max-tokens, --max-outputs, --max-seq" "$LLMC" compile "$M/stories260K.bin" --max 4
one_line_error "a flag given a value" "--asym takes no value" "$LLMC" compile "$M/stories260K.bin" --asym=1
one_line_error "bad --group value" "--group" "$LLMC" compile "$M/stories260K.bin" --group x
one_line_error "two models" "more than one model" "$LLMC" compile "$M/stories260K.bin" "$M/stories260K.bin"
one_line_error "synth without -o" "-o DIR" "$LLMC" synth --preset stories260K
one_line_error "import without -o" "-o model.json" "$LLMC" import "$M/stories260K.bin"

"$LLMC" compile "$M/stories260K.bin" -o a -q
sed "s|\"file\": \"../../shared/models/|\"file\": \"$SHARED/models/|" "$SRC/examples/stories260K.json" >good.json
check "llmc compile - reads a model.json from stdin" bash -c "'$LLMC' compile - --dump-after input <good.json | grep -q 'tok_embeddings'"
"$LLMC" compile --target=cpu --max-seq=512 -qob -- "$M/stories260K.bin"
check "--opt=value forms, clustered -qoOUT and -- build the same executable" cmp -s a b
dump() { "$LLMC" compile "$M/stories260K.bin" --weights fp8 --dump-after weight_format "$@"; }
check "--keep rules accumulate" bash -c "$(declare -f dump); M='$M' LLMC='$LLMC'; \
  dump --keep 'layers.0.*=bf16,layers.1.*=f16' >k1 && dump --keep 'layers.0.*=bf16' --keep=layers.1.*=f16 >k2 && \
  cmp -s k1 k2 && grep -q ': bf16\[' k1 && grep -q ': f16\[' k1"

# ---- the executable ----
check "./model --help exits 0" bash -c "./a --help | grep -q -- '--n-predict'"
check "./model -h exits 0" bash -c "./a -h | grep -q -- '--bench-prompt'"
./a "Once upon a time" -n 12 >ref.txt
for form in "-n12" "-n 12" "--n-predict=12" "--n-predict 12"; do
  # shellcheck disable=SC2086
  ./a "Once upon a time" $form >got.txt
  check "$form gives the same output" cmp -s ref.txt got.txt
done
one_line_error "-n=12 (getopt: the value \"=12\") is refused" "expected an integer" ./a "Once" -n=12
./a -p "Once upon a time" -n 12 >got.txt
check "-p PROMPT (llama.cpp)" cmp -s ref.txt got.txt
./a --prompt="Once upon a time" -n 12 >got.txt
check "--prompt=PROMPT" cmp -s ref.txt got.txt
printf 'Once upon a time\n' >prompt.txt
./a -f prompt.txt -n 12 >got.txt
check "-f FILE (one final newline dropped)" cmp -s ref.txt got.txt
./a -f - -n 12 <prompt.txt >got.txt
check "-f - reads the prompt from stdin" cmp -s ref.txt got.txt
./a - -n 12 <prompt.txt >got.txt
check "the argument - reads the prompt from stdin" cmp -s ref.txt got.txt
./a -n 12 -- "Once upon a time" >got.txt
check "-- before the prompt" cmp -s ref.txt got.txt
check "-- lets a prompt start with -" bash -c "./a -n 4 -- '-5 degrees' | grep -q '^-5 degrees'"
./a "Once upon a time" -n 12 --temp 0.8 --top-k 40 --top-p 0.9 --seed 5 -t 1 -c 64 >s1.txt
./a "Once upon a time" --n-predict=12 --temp=0.8 --top-k=40 --top-p=0.9 -s5 --threads=1 --ctx-size=64 >s2.txt
check "llama.cpp spellings: -s -t -c --temp --top-k --top-p" cmp -s s1.txt s2.txt
./a "Once upon a time" -n 100 -c 10 >ctx.txt 2>ctx.err
check "-c limits prompt + new tokens" grep -q "clamped to 5" ctx.err
printf '%s\n' "Once upon a time" "Lily and Ben" "The cat" >prompts.txt
./a --prompts prompts.txt -n 8 >p1.txt
./a --prompts - -n 8 <prompts.txt >p2.txt
check "--prompts - reads stdin" cmp -s p1.txt p2.txt
head -c 3000 "$M/golden_greedy_once_upon_a_time_n200.txt" >text.txt
./a --perplexity text.txt -c 32 >q1.txt 2>/dev/null
./a --perplexity - --ctx 32 <text.txt >q2.txt 2>/dev/null
check "--perplexity - reads stdin (and --ctx is -c)" bash -c "grep -q '^perplexity:' q1.txt && cmp -s q1.txt q2.txt"
./a --bench --bench-prompt 8 -n 4 >bench.txt 2>&1
check "--bench --bench-prompt" grep -q "^prefill: 8 tokens" bench.txt

# Bounded reads: a file with no end (/dev/zero) is refused as its bytes arrive, well under 1 GB;
# prompts stream from their file, so 20000 of them hold no more memory than one does. Each command
# runs once: its message or output and its peak memory come from the same run (reading 256 MiB
# takes seconds under ASan).
if [ -x /usr/bin/time ]; then
  measured() { # measured COMMAND...: runs COMMAND, stdout to rss.out, its peak resident set in KB to
    # rss.txt's last line (ASan's quarantine off); its exit status and stderr are COMMAND's
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" /usr/bin/time -f %M -o rss.txt "$@" >rss.out
  }
  rss() { measured "$@" 2>/dev/null || true; tail -1 rss.txt; } # rss COMMAND...: the peak resident set in KB
  expect_error "--prompts /dev/zero is refused" "a line of more than 256 MiB" measured ./a --prompts /dev/zero -n 1
  kb=$(tail -1 rss.txt)
  [ "$kb" -lt 700000 ] && pass "--prompts /dev/zero: refused in $kb KB" || fail "--prompts /dev/zero took $kb KB"
  expect_error "--perplexity /dev/zero is refused" "more than 256 MiB" ./a --perplexity /dev/zero
  printf '\n' >one.txt
  awk 'BEGIN { for (i = 0; i < 20000; i++) print "" }' >many.txt
  kb1=$(rss ./a --prompts one.txt -n 1)
  kbn=$(rss ./a --prompts many.txt -n 1 --max-batch 64)
  [ "$kbn" -lt $((kb1 + 8000)) ] && pass "20000 prompts stream in $kbn KB (one: $kb1 KB)" ||
    fail "20000 prompts took $kbn KB, one took $kb1 KB"
  check "20000 empty prompts, 20000 lines out (got $(wc -l <rss.out))" test "$(wc -l <rss.out)" -eq 20000
else
  fail "/usr/bin/time is missing (scripts/setup.sh installs the package time)"
fi
expect_error "--prompts DIR is refused as a directory" "is a directory" ./a --prompts "$TMP"
expect_error "--perplexity DIR is refused as a directory" "is a directory" ./a --perplexity "$TMP"
printf 'Once\n\n' >two.txt
expect_error "an empty prompts file" "is empty" ./a --prompts /dev/null
printf 'Once\n%*s\n' 3000 "" | tr ' ' 'a' >long.txt
expect_error "a prompt longer than the context names its line" "long.txt:2: the prompt has" ./a --prompts long.txt -n 1
check "... and nothing ran before it (a file is checked first)" bash -c "[ -z \"\$(./a --prompts long.txt -n 1 2>/dev/null)\" ]"
expect_error "... through a pipe, the line is named as it comes" "stdin:2: the prompt has" bash -c "cat long.txt | ./a --prompts - -n 1"

# ---- end of sequence and the model's sampling defaults ----
# A synthesized Llama-3-shaped tiny model (an eos_token_id list, generation_config.json): every
# end-of-sequence id stops generation, the list's second or third as well as its first.
"$LLMC" synth --preset stories260K -o syn --seed 4 -q
sed -i 's/"rope_scaling":\t*null/"rope_scaling": {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 128}/' syn/config.json
"$LLMC" compile syn -o s0 -q
SMP=(--temp 1 --seed 3)
read -ra g <<<"$(./s0 --ids "1 5 9" -n 6 --output-ids "${SMP[@]}")"   # 1 5 9 g1 .. g6
free_ids=()
for i in $(seq 10 500); do [[ " ${g[*]} " == *" $i "* ]] || free_ids+=("$i"); [ ${#free_ids[@]} -eq 2 ] && break; done
A=${free_ids[0]} B=${free_ids[1]}
upto() { # upto K: the run's ids before the first occurrence of the sampled g[K]
  local out=() t
  for t in "${g[@]:0:3}"; do out+=("$t"); done
  for t in "${g[@]:3}"; do [ "$t" = "${g[$1]}" ] && break; out+=("$t"); done
  echo "${out[*]}"
}
cp -r syn syn3
sed -i "s/\"eos_token_id\":\t*2/\"eos_token_id\": [$A, $B, ${g[5]}]/" syn3/config.json
"$LLMC" compile syn3 -o s3 -q
got=$(./s3 --ids "1 5 9" -n 6 --output-ids "${SMP[@]}")
[ "$got" = "$(upto 5)" ] && pass "config.json eos_token_id [$A, $B, ${g[5]}]: the third id stops generation" ||
  fail "eos list: got '$got', want '$(upto 5)' (free run: ${g[*]})"
check "--version lists every end-of-sequence id" bash -c "./s3 --version | grep -q 'end of sequence: $A $B ${g[5]}'"
cp -r syn syng
sed -i "s/\"eos_token_id\":\t*2/\"eos_token_id\": $A/" syng/config.json
printf '{"bos_token_id": 1, "eos_token_id": [%s, %s], "temperature": 0.7, "top_k": 20, "top_p": 0.9}\n' \
  "$A" "${g[4]}" >syng/generation_config.json
"$LLMC" compile syng -o sg -q
got=$(./sg --ids "1 5 9" -n 6 --output-ids "${SMP[@]}" --top-k 0 --top-p 1)
[ "$got" = "$(upto 4)" ] && pass "generation_config.json's eos_token_id adds to config.json's: its second id stops" ||
  fail "generation_config eos: got '$got', want '$(upto 4)'"
check "--version shows generation_config.json's sampling defaults" bash -c \
  "./sg --version | grep -q 'sampling defaults: temperature 0.7, top-k 20, top-p 0.9'"
run() { ./sg --ids "1 5 9" -n 12 --output-ids -s 3 "$@"; }
check "the model's sampling defaults are used" bash -c \
  "$(declare -f run); diff <(run) <(run --temp 0.7 --top-k 20 --top-p 0.9) && ! diff <(run) <(run --temp 0) >/dev/null"
check "--top-k overrides its own default only" bash -c \
  "$(declare -f run); diff <(run --top-k 5) <(run --temp 0.7 --top-k 5 --top-p 0.9) && ! diff <(run) <(run --top-k 5) >/dev/null"
"$LLMC" import syn3 -o syn3.json
check "llmc import writes the eos list" grep -q "\"eos_id\":\s*\[$A, $B, ${g[5]}\]" syn3.json
"$LLMC" import syng -o syng.json
check "llmc import writes the sampling defaults" bash -c "tr -d ' \t\n' <syng.json | grep -q '\"sampling\":{\"temperature\":0.7,\"top_k\":20,\"top_p\":0.9}'"
# The same in a hand-written model.json: config.eos_id as a list, config.sampling.
sed 's/"eos_id": 2/"eos_id": [2, 400], "sampling": {"temperature": 0.5, "top_k": 3}/' good.json >eos.json
"$LLMC" compile eos.json -o se -q --tokenizer syn/tokenizer.model
check "--tokenizer replaces a model.json's tokenizer" bash -c \
  "! diff <(./se --top-logits 1 'Once upon' | head -1) <(./a --top-logits 1 'Once upon' | head -1) >/dev/null"
check "model.json: config.eos_id list and config.sampling" bash -c \
  "./se --version | grep -q 'end of sequence: 2 400' && ./se --version | grep -q 'temperature 0.5, top-k 3, top-p 1'"
sed 's/"eos_id": 2/"eos_id": [2, 600]/' good.json >eos.json
expect_error "model.json: an eos id past the vocabulary" "config.eos_id[1] (600)" "$LLMC" compile eos.json -o x -q
sed 's/"eos_id": 2/"eos_id": 2, "sampling": {"temp": 1}/' good.json >eos.json
expect_error "model.json: an unknown sampling key" 'config.sampling: unknown key "temp"' "$LLMC" compile eos.json -o x -q
printf '{"temperature": -1}\n' >syng/generation_config.json
expect_error "a bad generation_config.json is named" "generation_config.json: temperature" "$LLMC" compile syng -o x -q

# --tokenizer for a Hugging Face directory (it was ignored there) and for a model.json.
mkdir hf_notok
cp syn/config.json syn/model.safetensors hf_notok/
"$LLMC" compile hf_notok -o t1 -q --tokenizer syn/tokenizer.model 2>t1.err
check "--tokenizer with a Hugging Face directory: the model has that tokenizer" bash -c \
  "./t1 'Once upon' -n 2 --temp 0 | grep -q '^Once upon'"
check "... and no warning about the directory's missing tokenizer" bash -c "! grep -q warning t1.err"
"$LLMC" import hf_notok -o hf_notok.json --tokenizer syn/tokenizer.model 2>/dev/null
check "llmc import --tokenizer writes it into the model.json" bash -c \
  "tr -d ' \t\n' <hf_notok.json | grep -q '\"tokenizer\":{\"format\":\"sentencepiece\",\"file\":\"syn/tokenizer.model\"}'"
expect_error "--tokenizer naming a directory" "is a directory" "$LLMC" compile hf_notok -o x -q --tokenizer syn
expect_error "--tokenizer of another vocabulary" "vocab_size 512" "$LLMC" compile hf_notok -o x -q \
  --tokenizer "$SHARED/models/llama2-tokenizer/tokenizer.model"

# More threads than CPUs, a context past what the model's RoPE was trained for.
n=$(nproc)
one_line_error "--threads above the CPU count" "this process may run on" ./a "Once" -t $((n + 1))
check "--threads at the CPU count runs" ./a "Once" -n 2 -t "$n"
check "--max-seq within max_position_embeddings: no warning" bash -c \
  "! '$LLMC' compile syn --max-seq 512 --dump-after input 2>&1 >/dev/null | grep -q warning"
check "--max-seq past max_position_embeddings warns" bash -c \
  "'$LLMC' compile syn --max-seq 100000 --dump-after input 2>&1 >/dev/null | grep -q 'warning: --max-seq 100000 is beyond the 512 positions'"
sed -i 's/"factor": 4.0/"factor": 8.0/' syn/config.json   # llama3 scaling: 128 x 8 = 1024 positions
check "llama3 rope scaling: orig x factor positions, no warning" bash -c \
  "! '$LLMC' compile syn --max-seq 1024 --dump-after input 2>&1 >/dev/null | grep -q warning"
check "llama3 rope scaling: past orig x factor warns" bash -c \
  "'$LLMC' compile syn --max-seq 1025 --dump-after input 2>&1 >/dev/null | grep -q 'beyond the 1024 positions.*llama3'"

one_line_error "unknown option" "unknown option --bogus" ./a --bogus
one_line_error "unknown short option" "unknown option -x" ./a -x "Once"
one_line_error "option without its value" "--temp needs a value" ./a "Once" --temp
one_line_error "ambiguous option" "--top-k, --top-p, --top-logits" ./a "Once" --top 3
one_line_error "bad number" "--top-p: expected a number" ./a "Once" --top-p abc
one_line_error "out of range" "--top-p 2: expected a value in (0, 1]" ./a "Once" --top-p 2
one_line_error "a flag given a value" "--bench takes no value" ./a --bench=1
one_line_error "--bench with -p (the old prompt length)" "--bench-prompt" ./a --bench -p 512
one_line_error "two prompts" "more than one prompt" ./a "Once" "upon"
one_line_error "nothing to do" "nothing to do" ./a -n 4
expect_error "a directory as the prompt file" "is a directory" ./a -f "$TMP"
expect_error "a missing prompt file" "nope.txt" ./a -f nope.txt
finish
