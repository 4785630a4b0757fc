#!/usr/bin/env bash
# SIGINT, SIGTERM and SIGHUP during `llmc compile` and `llmc synth` (issue 16): llmc ends by the
# signal and leaves nothing behind: no OUT.tmp.PID, no OUT.weights.tmp.PID, no build directory in
# $TMPDIR, no partial synth directory. A compile the signal comes too late for has committed both
# files (the executable runs). A signal ignored when llmc starts stays ignored.
source "$(dirname "$0")/lib_e2e.sh"
need_shared stories260K/stories260K.bin
set -m   # background jobs get SIGINT as a terminal's would (without job control bash ignores it for them)
cd "$TMP"
mkdir t w
export TMPDIR=$TMP/t
"$LLMC" synth --preset stories15M --dtype f32 -o s15 -q

# stopped SIGNAL DELAY ARGS...: runs llmc ARGS in the background and sends SIGNAL after DELAY s
stopped() {
  local sig=$1 delay=$2 rc=0; shift 2
  "$LLMC" "$@" 2>w/log &
  local pid=$!
  sleep "$delay"
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  echo "$rc"
}
leftovers() { ls -A w t | grep -v -e '^w:$' -e '^t:$' -e '^log$' -e '^$' || true; }

for sig in INT TERM HUP; do
  for delay in 0.2 0.8 1.6; do
    for side in "" --weights-file; do
      d="compile${side:+ $side}, SIG$sig after $delay s"
      rc=$(stopped "$sig" "$delay" compile s15 -o w/m -q $side)
      left=$(leftovers)
      if [ "$rc" -ge 128 ]; then
        if [ -z "$left" ]; then pass "$d: exit $rc, nothing left"; else fail "$d: exit $rc, left: $left; llmc said: $(tail -2 w/log)"; fi
      elif [ "$rc" -eq 0 ]; then
        # Too late: the compile finished; both files are in place and run.
        if [ -x w/m ] && { [ -z "$side" ] || [ -f w/m.weights ]; } && w/m --ids "1 2" -n 2 >/dev/null 2>&1; then
          pass "$d: finished first, outputs complete"
        else
          fail "$d: exit 0 but outputs incomplete: $left"
        fi
      else
        fail "$d: exit $rc ($(tail -2 w/log))"
      fi
      rm -rf w/m w/m.weights
    done
  done
done

# A signal llmc started with ignored stays ignored (nohup, a background job without job control).
rc=0
( trap '' INT; exec "$LLMC" compile s15 -o w/m -q ) &
pid=$!
sleep 0.3
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] && [ -x w/m ] && pass "ignored SIGINT stays ignored" || fail "ignored SIGINT: exit $rc"
rm -f w/m

# synth: interrupted while writing 2.5 GB, no directory is left.
rc=$(stopped TERM 1.0 synth --preset llama3.2-1b -o w/big -q)
left=$(leftovers)
[ "$rc" -ge 128 ] && [ -z "$left" ] && pass "synth, SIGTERM while writing: nothing left" ||
  fail "synth, SIGTERM: exit $rc, left: $left"
finish
