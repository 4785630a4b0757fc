#!/usr/bin/env bash
# --tp N on the cpu target end to end (docs/tp.md): stories260K compiled at --tp 1, 2 and 4 in float32
# (4: one KV head a rank) gives byte-identical greedy text (the llama2.c golden output), batched
# prompts through the offline path (with preemptions), and greedy answers of the server, its engine
# shared by concurrent requests; a synthesized Qwen2 at --tp 4; an sm_90a build at --tp 2 (compiled,
# refused at start without a GPU; a byte of its kernel image flipped is refused (e2e_integrity's
# check); its --step-timeout checked); the refusals (AMD targets, groups cut
# by a rank, --step-timeout on the cpu).
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
M=$SHARED/models/stories260K
GOLD=$M/golden_greedy_once_upon_a_time_n200.txt

for n in 1 2 4; do "$LLMC" compile "$M/stories260K.bin" --tp $n -o "$TMP/s$n" -q; done
check "--tp 2's build says how many ranks (--version)" grep -q "sharded over 2 ranks" <("$TMP/s2" --version)

# The golden file counts 200 positions including the prompt (BOS + 3 tokens): 196 new tokens.
"$TMP/s2" "Once upon a time" -n 196 >"$TMP/out2.txt"
check "--tp 2: greedy 'Once upon a time' reproduces the llama2.c golden output" cmp "$TMP/out2.txt" "$GOLD"
# --tp 4 (a KV head a rank; on 2 cores 4 threads that take turns at every barrier): fewer tokens.
"$TMP/s1" "Lily and Ben" -n 100 >"$TMP/l1.txt"
"$TMP/s4" "Lily and Ben" -n 100 >"$TMP/l4.txt"
check "--tp 4: greedy 'Lily and Ben' equals --tp 1's" cmp "$TMP/l1.txt" "$TMP/l4.txt"

# The offline batch path: prompts through --max-batch 3, and on 6 KV blocks (sequences preempted and
# recomputed), equal at every --tp.
printf '%s\n' "Once upon a time" "Lily and Ben" "The cat sat" "One day, a little bird" \
  "Tom had a red ball" "She was happy because" >"$TMP/prompts.txt"
"$TMP/s1" --prompts "$TMP/prompts.txt" --max-batch 3 -n 50 >"$TMP/b1.txt"
for n in 2 4; do
  "$TMP/s$n" --prompts "$TMP/prompts.txt" --max-batch 6 -n 50 >"$TMP/b$n.txt"
  check "--tp $n: --prompts with --max-batch 6 equals --tp 1's with --max-batch 3" cmp "$TMP/b1.txt" "$TMP/b$n.txt"
done
"$TMP/s2" --prompts "$TMP/prompts.txt" --max-batch 6 -n 50 --kv-blocks 5 >"$TMP/small.txt" 2>"$TMP/small.err"
check "--tp 2: --prompts on 5 KV blocks equals --tp 1's" cmp "$TMP/b1.txt" "$TMP/small.txt"
check "... with sequences preempted (stderr: '$(tail -1 "$TMP/small.err")')" grep -qE " [1-9][0-9]* preemptions" "$TMP/small.err"

# The server: one engine of 2 ranks, concurrent greedy requests, each answer the --tp 1 executable's.
if python3 - "$TMP/s2" "$TMP/s1" "$TMP" <<'PY'; then pass "--tp 2 --serve: concurrent greedy answers equal --tp 1's single runs"; else fail "--tp 2 --serve"; fi
import http.client, json, os, re, subprocess, sys, threading, time
exe, ref, tmp = sys.argv[1:4]
log = open(os.path.join(tmp, "serve.log"), "w")
p = subprocess.Popen([exe, "--serve", "--port", "0", "--max-batch", "4"], stdout=subprocess.DEVNULL, stderr=log)
try:
    port, deadline = None, time.time() + 60
    while port is None and time.time() < deadline and p.poll() is None:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(log.name).read())
        port = int(m.group(1)) if m else time.sleep(0.05)
    assert port, open(log.name).read()
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    cases = [("Once upon a time", 40), ("Lily and Ben", 25), ("The cat sat", 60), ("Tom had a red ball", 33)]
    got = {}
    def ask(prompt, n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", "/v1/completions", json.dumps({"prompt": prompt, "max_tokens": n, "temperature": 0}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        got[prompt] = (r.status, json.loads(r.read())["choices"][0]["text"])
    ts = [threading.Thread(target=ask, args=c) for c in cases]
    [t.start() for t in ts]
    [t.join() for t in ts]
    ok = True
    for prompt, n in cases:
        full = subprocess.run([ref, prompt, "-n", str(n)], capture_output=True, check=True).stdout.decode()
        want = full[len(prompt):-1]
        if got.get(prompt) != (200, want):
            print("FAIL: %r: got %r, want %r" % (prompt, got.get(prompt), want))
            ok = False
    sys.exit(0 if ok else 1)
finally:
    p.terminate()
    p.wait()
PY

# A Qwen2 (q/k/v biases cut with their columns, an untied lm_head, a sliding window; 2 KV heads: at
# --tp 4 each KV head's K and V on two ranks), synthesized: 24 greedy ids equal at --tp 1 and 4.
"$LLMC" synth --config "$SRC/tests/data/families/configs/qwen2.json" -o "$TMP/qwen2" --dtype f32 -q
for n in 1 4; do
  "$LLMC" compile "$TMP/qwen2" --tp $n -o "$TMP/q$n" -q
  "$TMP/q$n" --ids "1 5 9 13" -n 24 --output-ids >"$TMP/qids$n.txt"
done
check "qwen2 --tp 4 (a KV head on two ranks): 24 greedy ids equal --tp 1's" cmp "$TMP/qids1.txt" "$TMP/qids4.txt"
check "... and they are 28 ids" test "$(wc -w <"$TMP/qids1.txt")" -eq 28

# An NVIDIA target: one executable for 2 GPUs (NVRTC, the host code with the NCCL collectives, the
# CPU twin, every rank's weights), which a machine without the driver refuses at start (CI has no
# GPU; the runtime's ranks over a fake driver and NCCL: test_gpu_runtime).
if "$LLMC" targets 2>/dev/null | grep -q sm_90a && [ -d /usr/local/cuda ]; then
  "$LLMC" compile "$M/stories260K.bin" --tp 2 --target sm_90a -o "$TMP/g2" -q
  check "--tp 2 --target sm_90a: --version says 2 ranks on 2 GPUs" \
    grep -q "sharded over 2 ranks.*runs on 2 GPUs, one a rank" <("$TMP/g2" --version | tr '\n' ' ')
  expect_error "... and without a GPU it says what it needs" "needs an NVIDIA GPU" "$TMP/g2" "Once" -n 4
  # e2e_integrity's kernel image: a byte flipped in the cubin is refused before the device is opened
  cub=$(grep -obaP '\x7fELF' "$TMP/g2" | sed -n 2p | cut -d: -f1)
  cp "$TMP/g2" "$TMP/g2f"; flip "$TMP/g2f" $((cub + 3000))
  expect_error "... a flipped kernel image byte is refused" "the kernels (sm_90a image) section is damaged" \
    "$TMP/g2f" "Once" -n 4
  # the watchdog's deadline (docs/tp.md): checked before the GPU is looked for
  expect_error "... --step-timeout takes seconds from 0" "--step-timeout -1: expected seconds from 0 (no deadline)" \
    "$TMP/g2" "Once" -n 4 --step-timeout -1
  expect_error "... and so does LLMC_STEP_TIMEOUT" "LLMC_STEP_TIMEOUT: expected a number of seconds, found 'soon'" \
    env LLMC_STEP_TIMEOUT=soon "$TMP/g2" "Once" -n 4
  expect_error "... from 0 too" "LLMC_STEP_TIMEOUT -2: expected seconds from 0" env LLMC_STEP_TIMEOUT=-2 "$TMP/g2" "Once"
  expect_error "... --step-timeout 5 passes the options (no GPU here)" "needs an NVIDIA GPU" \
    "$TMP/g2" "Once" -n 4 --step-timeout 5
elif [ "${CI:-}" = "true" ]; then
  fail "no CUDA toolkit (NVRTC) in CI"
fi
expect_error "--step-timeout is an option of GPU builds" "--step-timeout is an option of GPU builds" \
  "$TMP/s2" "Once" -n 4 --step-timeout 5
expect_error "--tp 2 for an AMD target is refused" "the gfx1151 target does not run sharded graphs yet" \
  "$LLMC" compile "$M/stories260K.bin" --tp 2 --target gfx1151 -o "$TMP/g"
expect_error "--tp 2 with groups a rank cuts is refused" "a rank holds 86 of its 172 columns" \
  "$LLMC" compile "$M/stories260K.bin" --tp 2 --weights w4a16 --group 32 -o "$TMP/q"
finish
