#!/usr/bin/env bash
# Artifacts verify themselves (issue 16): a byte flipped in any section of an executable or its
# side file (program, kernel image (e2e_tp's sm_90a build), payload header and padding, weights, tokenizer, footer) is
# refused at start with a message naming the section; a side file or --weights file from another
# build of the same model (same shapes and model hash, other weights) is refused by its content
# digest; --no-verify runs a damaged weights section anyway.
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
M=$SHARED/models/stories260K
cd "$TMP"
"$LLMC" compile "$M/stories260K.bin" --tokenizer "$M/tok512.bin" -o m -q
mkdir a; cp "$M/stories260K.bin" a/   # the other build below changes this copy
"$LLMC" compile a/stories260K.bin --tokenizer "$M/tok512.bin" -o s --weights-file -q
check "intact executable runs" ./m "Once" -n 4
check "intact executable and side file run" ./s "Once" -n 4

u64() { od -An -tu8 -j "$2" -N 8 "$1" | tr -d ' '; }   # u64 FILE OFFSET
FOOT=352   # sizeof(LlmcFooter)
size=$(stat -c %s m)
foot=$((size - FOOT))
poff=$(u64 m $((foot + 8)))
woff=$(u64 m $((poff + 16))); wsize=$(u64 m $((poff + 24)))
toff=$(u64 m $((poff + 32))); tsize=$(u64 m $((poff + 40)))
usage=$(grep -obaF 'usage: %1$s' m | head -1 | cut -d: -f1)

damaged() { # damaged DESCRIPTION EXPECTED FILE OFFSET [EXE]: flip a byte of a copy and expect refusal
  local d=$1 want=$2 file=$3 off=$4 exe=${5:-}
  rm -rf c; mkdir c
  cp m s s.weights c/
  flip "c/$file" "$off"
  expect_error "$d" "$want" "c/${exe:-$file}" "Once" -n 4
}
damaged "flipped program byte" "the program (host code and kernel images) section is damaged" m "$usage"
damaged "flipped weights byte (embedded)" "the weights section is damaged" m $((poff + woff + wsize / 2))
damaged "flipped first weights byte" "the weights section is damaged" m $((poff + woff))
damaged "flipped last weights byte" "the weights section is damaged" m $((poff + woff + wsize - 1))
damaged "flipped tokenizer byte" "the tokenizer section is damaged" m $((poff + toff + tsize / 2))
damaged "flipped header digest byte" "the payload header is damaged" m $((poff + 70))
damaged "flipped header padding byte" "padding between the payload's sections is damaged" m $((poff + 2000))
damaged "flipped footer byte" "payload footer (the last 352 bytes) is damaged" m $((foot + 100))
damaged "flipped pad before the payload" "the program (host code and kernel images) section is damaged" m $((poff - 1))
ssize=$(stat -c %s s)
damaged "flipped side-file weights byte" "the weights section is damaged" s.weights $((woff + wsize / 3)) s
damaged "flipped side-file tokenizer byte" "the tokenizer section is damaged" s.weights $((toff + 1)) s
damaged "flipped side-file header byte" "not the weights file" s.weights 80 s
damaged "flipped footer of a side-file build" "is damaged" s $((ssize - 40))

# --no-verify skips the content check (the header and footer are still checked).
rm -rf c; mkdir c; cp m c/
flip c/m $((poff + woff + wsize / 2))
check "--no-verify runs damaged weights" c/m "Once" -n 4 --no-verify
check "--verbose reports the check" bash -c './m Once -n 2 --verbose 2>&1 | grep -q "verified .* GB of program, weights and tokenizer"'

# Another build of the same model: one weight changed in the middle of a tensor (the model hash
# samples only the ends of each tensor, so it is the same), packed into its own side file.
flip a/stories260K.bin 500000
mkdir o
"$LLMC" compile a/stories260K.bin --tokenizer "$M/tok512.bin" -o o/s --weights-file -q
if [ "$(u64 o/s $(($(stat -c %s o/s) - FOOT + 24)))" = "$(u64 s $((ssize - FOOT + 24)))" ]; then
  pass "the other build has the same model hash"
else
  fail "the other build has another model hash: the test no longer tests the content digest"
fi
rm -rf c; mkdir c; cp s c/; cp o/s.weights c/s.weights
expect_error "side file from another build" "not the weights file" c/s "Once" -n 4
expect_error "--weights file from another build" "not the weights file" ./s "Once" -n 4 --weights o/s.weights
expect_error "...even with --no-verify" "not the weights file" ./s "Once" -n 4 --weights o/s.weights --no-verify
check "--weights with the build's own side file" ./s "Once" -n 4 --weights s.weights

# A side file that shrinks or changes under a running model ends it with a message, not a bare
# SIGBUS (and not a run on other weights).
for i in $(seq 400); do echo "Once upon a time"; done >p400.txt
under_run() { # under_run DESCRIPTION EXPECTED COMMAND...: COMMAND runs on c/s.weights while ./c/s generates
  local d=$1 want=$2 rc=0; shift 2
  rm -rf c; mkdir c; cp s s.weights c/
  timeout 60 c/s --prompts p400.txt -n 400 >/dev/null 2>run.err &
  local pid=$!
  sleep 0.5
  "$@"
  wait $pid || rc=$?
  if [ "$rc" -eq 1 ] && grep -qF "$want" run.err; then pass "$d"; else fail "$d: exit $rc: $(head -c 300 run.err)"; fi
}
# (Truncated: the next step's read raises SIGBUS, whose handler says so, unless the watch before
# a step sees the new size first.)
under_run "a side file truncated under the running model" "while the model was running" \
  truncate -s 4096 c/s.weights
under_run "a side file modified in place under the running model" "was modified while the model was running" \
  dd if=/dev/zero of=c/s.weights bs=1 seek=$((woff + 100)) count=2 conv=notrunc status=none
# A new side file renamed over the old one (what llmc compile does) leaves the running model on
# the file it mapped.
rm -rf c; mkdir c; cp s s.weights c/
rc=0
head -100 p400.txt >p100.txt
timeout 60 c/s --prompts p100.txt -n 40 >/dev/null 2>run.err & pid=$!
sleep 0.2; cp s.weights c/x.weights; mv c/x.weights c/s.weights
wait $pid || rc=$?
[ "$rc" -eq 0 ] && pass "a side file renamed over under the running model: the run goes on" || fail "rename over: exit $rc: $(cat run.err)"

# Two compiles to one -o at once: the executable and its side file on disk come from one of them.
# (test_codegen's out_commit_takes_turns checks the lock itself.)
rm -rf cc; mkdir cc
"$LLMC" compile "$M/stories260K.bin" -o cc/m --weights-file -q --weights bf16 & p1=$!
"$LLMC" compile "$M/stories260K.bin" -o cc/m --weights-file -q --weights f16 & p2=$!
wait $p1; wait $p2
check "concurrent compiles to one -o: the pair on disk runs" cc/m "Once" -n 4

# A GPU build's kernel image (its cubin, inside the executable), checked before the device is
# opened: e2e_tp flips a byte of its sm_90a build's (one NVRTC build fewer in each CI phase).
finish
