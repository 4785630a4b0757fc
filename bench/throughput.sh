#!/usr/bin/env bash
# Offline throughput of one compiled model, in the manner of vLLM's benchmark_throughput: N requests
# whose prompt and output lengths are drawn from a fixed, seeded distribution (uniform, by default
# prompts of 32-1024 tokens and outputs of 32-512), run as one job through `--prompts`
# (--prompts-ids: each line is "OUT: ID ID ...", random token ids; --ignore-eos: every request
# generates exactly its OUT tokens). Prints requests/s, output tok/s and total tok/s (prompt +
# output tokens over the generation time the executable reports, after loading; the wall time of
# the whole process beside them), the peak of KV blocks in use, preemptions, and checks that every
# request was answered with exactly its tokens.
#
#   bench/throughput.sh EXE [N] [options] [-- more options for EXE]
#     N                   requests (default 2000)
#     --seed S            of the lengths and ids (default 0)
#     --prompt-len A-B    prompt tokens, uniform in A..B (default 32-1024)
#     --output-len A-B    output tokens, uniform in A..B (default 32-512)
#     --max-batch B       passed to EXE (default: EXE's own, what a step holds)
#     --small-pool        a KV pool too small to reserve every running sequence's longest length:
#                         a quarter of what the batch at the longest request reserves (at least the
#                         longest one); sequences are preempted and recomputed, and every request
#                         must still be answered
#     --keep DIR          keep the requests, output and stderr in DIR
# When the model's context is shorter than the longest prompt + output, both ranges are scaled to
# fit it (and said so). Needs bash, coreutils and the executable (a cpu or a GPU build).
set -euo pipefail

usage() {
  echo "usage: bench/throughput.sh EXE [N] [--seed S] [--prompt-len A-B] [--output-len A-B] [--max-batch B] [--small-pool] [--keep DIR] [-- EXE options]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
exe=$1; shift
[ -x "$exe" ] || { echo "throughput.sh: $exe: not an executable" >&2; exit 2; }
n=2000
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then n=$1; shift; fi
seed=0 plen=32-1024 olen=32-512 max_batch="" small=0 keep=""
while [ $# -gt 0 ]; do
  case $1 in
    --seed) seed=$2; shift 2 ;;
    --prompt-len) plen=$2; shift 2 ;;
    --output-len) olen=$2; shift 2 ;;
    --max-batch) max_batch=$2; shift 2 ;;
    --small-pool) small=1; shift ;;
    --keep) keep=$2; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
extra=("$@")
range() { # range NAME A-B: sets NAME_lo, NAME_hi
  [[ $2 =~ ^([0-9]+)-([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] &&
    [ "${BASH_REMATCH[2]}" -ge "${BASH_REMATCH[1]}" ] || { echo "throughput.sh: bad range '$2' (A-B, 1 <= A <= B)" >&2; exit 2; }
  printf -v "${1}_lo" %s "${BASH_REMATCH[1]}"
  printf -v "${1}_hi" %s "${BASH_REMATCH[2]}"
}
range p "$plen"
range o "$olen"
[[ $n =~ ^[1-9][0-9]*$ && $seed =~ ^[0-9]+$ ]] || usage

# What the executable says of itself: context, KV block size, tokens and logit rows per step,
# vocabulary.
ver=$("$exe" --version)
# ("in blocks of 16 (1280 bytes a position), context 512, ..."; llmc before the KV formats: no bytes)
[[ $ver =~ in\ blocks\ of\ ([0-9]+)(\ \([0-9]+\ bytes\ a\ position\))?,\ context\ ([0-9]+),\ ([0-9]+)\ tokens\ and\ ([0-9]+)\ logit ]] ||
  { echo "throughput.sh: $exe --version does not say its context and step sizes" >&2; exit 1; }
bs=${BASH_REMATCH[1]} ctx=${BASH_REMATCH[3]} step_tokens=${BASH_REMATCH[4]} step_rows=${BASH_REMATCH[5]}
[[ $ver =~ vocabulary:\ ([0-9]+) ]] ||
  { echo "throughput.sh: $exe --version does not say its vocabulary (an llmc older than bench/throughput.sh)" >&2; exit 1; }
vocab=${BASH_REMATCH[1]}
model=${ver%%$'\n'*}
if [ $((p_hi + o_hi)) -gt "$ctx" ]; then
  den=$((p_hi + o_hi))
  sc() { local v=$(($1 * ctx / den)); echo $((v < 1 ? 1 : v)); }
  p_lo=$(sc "$p_lo") p_hi=$(sc "$p_hi") o_lo=$(sc "$o_lo") o_hi=$(sc "$o_hi")
  echo "note: the context is $ctx: prompts scaled to $p_lo-$p_hi tokens, outputs to $o_lo-$o_hi" >&2
fi

# Seeded draws (MINSTD: the same numbers with any bash), lengths uniform in their ranges, ids
# taken as windows of a random pool of ids (their values do not matter to the speed; there is no
# prefix caching).
rng=$(( (seed % 2147483646) + 1 ))
draw() { rng=$(( rng * 48271 % 2147483647 )); }     # 1..2^31-2
uniform() { draw; r=$(( $1 + rng % ($2 - $1 + 1) )); }   # r in A..B
pool=()
for ((i = 0; i < 8192 + p_hi; i++)); do uniform 0 $((vocab - 1)); pool[i]=$r; done
work=$(mktemp -d "${TMPDIR:-/tmp}/llmc-throughput-XXXXXX")
trap 'rm -rf "$work"' EXIT
req=$work/requests.txt
want=()                     # ids each output line must hold: prompt + output
p_total=0 o_total=0 longest=0
{
  for ((i = 0; i < n; i++)); do
    uniform "$p_lo" "$p_hi"; pl=$r
    uniform "$o_lo" "$o_hi"; ol=$r
    uniform 0 8191; off=$r
    echo "$ol: ${pool[*]:off:pl}"
    want[i]=$((pl + ol))
    p_total=$((p_total + pl)) o_total=$((o_total + ol))
    if [ $((pl + ol - 1)) -gt "$longest" ]; then longest=$((pl + ol - 1)); fi
  done
} >"$req"

# The batch the executable will run at most, and for --small-pool a pool below what that batch
# would reserve at the longest request.
batch=${max_batch:-$((step_tokens < step_rows ? step_tokens : step_rows))}
if [ "$batch" -gt "$n" ]; then batch=$n; fi
args=(--prompts "$req" --prompts-ids --ignore-eos --output-ids -n 1)
if [ -n "$max_batch" ]; then args+=(--max-batch "$max_batch"); fi
blocks_longest=$(( (longest + bs - 1) / bs ))
reserve=$((batch * blocks_longest))
if [ "$small" = 1 ]; then
  kv=$((reserve / 4))
  if [ "$kv" -lt "$blocks_longest" ]; then kv=$blocks_longest; fi
  args+=(--kv-blocks "$kv")
  echo "pool too small: $kv KV blocks of $bs positions; $batch sequences of the longest request ($((longest + 1)) positions) would reserve $reserve" >&2
fi

echo "$model: $n requests, prompts $p_lo-$p_hi tokens, outputs $o_lo-$o_hi (seed $seed): $p_total prompt + $o_total output tokens"
echo "command: $exe ${args[*]} ${extra[*]}"
t0=$(date +%s%N)
rc=0
"$exe" "${args[@]}" "${extra[@]}" >"$work/out.txt" 2>"$work/err.txt" || rc=$?
t1=$(date +%s%N)
if [ -n "$keep" ]; then mkdir -p "$keep"; cp "$req" "$work/out.txt" "$work/err.txt" "$keep/"; fi
if [ "$rc" -ne 0 ]; then
  echo "FAIL: $exe exited $rc:" >&2; tail -5 "$work/err.txt" >&2; exit 1
fi

# Every request answered: one line each, holding its prompt and exactly its output tokens.
bad=0 i=0
while read -ra ids; do
  if [ "$i" -ge "$n" ] || [ "${#ids[@]}" -ne "${want[i]}" ]; then bad=$((bad + 1)); fi
  i=$((i + 1))
done <"$work/out.txt"
if [ "$i" -ne "$n" ] || [ "$bad" -ne 0 ]; then
  echo "FAIL: $i lines for $n requests, $bad of them without exactly their prompt + output tokens" >&2; exit 1
fi

# The executable's summary (stderr): generation time, batch, KV blocks, preemptions.
summary=$(<"$work/err.txt")
re_run='([0-9]+) prompt \+ ([0-9]+) generated tokens in ([0-9.]+) s'
re_kv='up to ([0-9]+) sequences at once \(--max-batch ([0-9]+)\); KV blocks: peak ([0-9]+) of ([0-9]+) in use; ([0-9]+) preemptions \(([0-9]+) positions'
[[ $summary =~ $re_run ]] || { echo "FAIL: no summary on stderr:" >&2; tail -3 "$work/err.txt" >&2; exit 1; }
got_p=${BASH_REMATCH[1]} got_o=${BASH_REMATCH[2]} secs=${BASH_REMATCH[3]}
[[ $summary =~ $re_kv ]] || { echo "FAIL: no KV summary on stderr" >&2; exit 1; }
running=${BASH_REMATCH[1]} mb=${BASH_REMATCH[2]} peak=${BASH_REMATCH[3]} kv_all=${BASH_REMATCH[4]}
preempt=${BASH_REMATCH[5]} recomputed=${BASH_REMATCH[6]}
if [ "$got_p" -ne "$p_total" ] || [ "$got_o" -ne "$o_total" ]; then
  echo "FAIL: the executable counted $got_p prompt + $got_o output tokens, the requests hold $p_total + $o_total" >&2; exit 1
fi

# rate COUNT MICROSECONDS: COUNT per second, two decimals (integer arithmetic)
rate() { local c=$(( $1 * 100000000 / ($2 > 0 ? $2 : 1) )); printf '%d.%02d' $((c / 100)) $((c % 100)); }
us=${secs%.*}${secs#*.}; us=$((10#$us * 1000))     # "12.345" s (3 decimals) -> microseconds
wall_us=$(( (t1 - t0) / 1000 ))
total=$((p_total + o_total))
echo "Throughput: $(rate "$n" "$us") requests/s, $(rate "$total" "$us") total tokens/s, $(rate "$o_total" "$us") output tokens/s ($secs s of generation)"
echo "wall (process start to exit, loading included): $(rate "$n" "$wall_us") requests/s, $(rate "$total" "$wall_us") total tokens/s, $(rate "$o_total" "$wall_us") output tokens/s ($((wall_us / 1000)) ms)"
echo "batch: up to $running sequences at once (--max-batch $mb); KV blocks: peak $peak in use of $kv_all ($bs positions each); preemptions: $preempt ($recomputed positions recomputed)"
echo "every request answered: $n lines, each its prompt + its $o_lo-$o_hi output tokens"
