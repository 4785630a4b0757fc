#!/usr/bin/env bash
# The model families end to end (frontend/hf_families.c), cpu target, f32: for each tiny config of
# tests/data/families/configs, the checkpoint transformers wrote (tests/data/families/NAME/, made by
# bench/family_refs.py on a machine with transformers) is compiled and must reproduce its
# reference.json: the top-10 logits at the last position of the 24-id prompt within 2e-3, and the 16
# greedy ids after it (a stop at an end-of-sequence id only where transformers' next id is one).
# A family without that data is synthesized instead (llmc synth --config), compiled and run: end to
# end, with nothing to compare (its kernels are checked against the reference interpreter by
# test_codegen's families case). Without any reference data (bench/family_refs.py needs transformers,
# which only the lent GPU machine has) the end-to-end runs are the whole test: it says so, it does
# not skip.
source "$(dirname "$0")/lib_e2e.sh"
DATA=$SRC/tests/data/families
have_refs=0
for cfg in "$DATA"/configs/*.json; do
  name=$(basename "$cfg" .json)
  ref=$DATA/$name/ref.json
  if [ ! -f "$ref" ]; then
    echo "no transformers reference for $name ($DATA/$name/ref.json: bench/family_refs.py): end to end only"
    "$LLMC" synth --config "$cfg" -o "$TMP/$name" --dtype f32 -q
    "$LLMC" compile "$TMP/$name" -o "$TMP/$name.exe" -q --max-seq 64 2>/dev/null
    out=$("$TMP/$name.exe" --ids "3 17 42 99 250 7 311 5" -n 16 --output-ids 2>/dev/null | tr -s ' \n' ' ')
    check "$name: synthesized, compiled for cpu, generates" test "$(wc -w <<<"$out")" -gt 8
    continue
  fi
  have_refs=1
  "$LLMC" compile "$DATA/$name" -o "$TMP/$name.exe" -q --max-seq 64 2>/dev/null
  flat=$(tr -d ' \n\t' <"$ref")
  prompt=$(sed -n 's/.*"prompt_ids":\[\([-0-9,]*\)\].*/\1/p' <<<"$flat" | tr ',' ' ')
  greedy=$(sed -n 's/.*"greedy_ids":\[\([-0-9,]*\)\].*/\1/p' <<<"$flat" | tr ',' ' ')
  tops=$(sed -n 's/.*"prompt_last_logits_top10":\[\[\(.*\)\]\].*/\1/p' <<<"$flat" | sed 's/\],\[/\n/g; s/,/ /g')
  if [ -z "$prompt" ] || [ -z "$greedy" ] || [ -z "$tops" ]; then
    fail "$name: $ref lacks prompt_ids, greedy_ids or prompt_last_logits_top10"
    continue
  fi
  ours=$("$TMP/$name.exe" --ids "$prompt" --top-logits 10 2>/dev/null | sed -n '/logits at position/,$p' | tail -n +2)
  bad=$(awk -v ref="$tops" 'BEGIN { n = split(ref, lines, "\n"); for (i = 1; i <= n; i++) { split(lines[i], f, " "); rid[i] = f[1]; rv[i] = f[2] } }
        { got[$1] = $2 }
        END { for (i = 1; i <= n; i++) {
                if (!(rid[i] in got)) { if (rv[i] - rv[n] > 2e-3) print "id " rid[i] " (" rv[i] ") not in our top 10"; continue }
                d = got[rid[i]] - rv[i]; if (d < 0) d = -d
                if (d > 2e-3) print "id " rid[i] ": " got[rid[i]] " against " rv[i] } }' <<<"$ours")
  check "$name: top-10 logits of the prompt within 2e-3 of transformers${bad:+ ($bad)}" test -z "$bad"
  gen=$("$TMP/$name.exe" --ids "$prompt" -n 16 --output-ids 2>/dev/null | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
  plen=$(wc -w <<<"$prompt")
  gen_new=$(cut -d' ' -f$((plen + 1))- <<<"$gen" 2>/dev/null || true)
  [ "$(wc -w <<<"$gen")" -le "$plen" ] && gen_new=""
  stops=$("$TMP/$name.exe" --version | sed -n 's/^end of sequence: //p' | tr -c '0-9\n' ' ')
  ok=$(awk -v a="$gen_new" -v b="$greedy" -v s="$stops" 'BEGIN { na = split(a, x, " "); nb = split(b, y, " "); ns = split(s, z, " ")
        for (i = 1; i <= na; i++) if (x[i] != y[i]) { print "differs at " i ": " x[i] " against " y[i]; exit }
        if (na < nb) { stop = 0; for (j = 1; j <= ns; j++) if (z[j] == y[na + 1]) stop = 1
                       if (!stop) print "stopped after " na " ids; transformers goes on with " y[na + 1] } }')
  check "$name: the 16 greedy ids of transformers${ok:+ ($ok)}" test -z "$ok"
done
[ "$have_refs" -eq 1 ] ||
  echo "note: no family has transformers reference data in $DATA yet (bench/family_refs.py): end to end runs only"
finish
