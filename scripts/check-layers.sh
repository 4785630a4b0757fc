#!/usr/bin/env bash
# check-layers.sh [ROOT] — fails if a source file includes a layer it must not.
#
# The layers, in the order a model goes through them:
#
#     frontend -> ir -> passes -> codegen -> link -> runtime
#
# ir/ (the graph, targets, the weight-source interface) and abi/ (what generated code, the runtime
# and the compiler share) are included by every layer. Otherwise a layer includes its own headers
# and those of the layer right before it, never one after it, and nothing past the frontend sees
# the frontend's types (later layers get the model as IR; weights through ir/weights.h):
#
#     abi       abi
#     ir        ir abi
#     frontend  frontend ir abi
#     passes    passes ir abi
#     codegen   codegen passes ir abi          (codegen/*, but link.c and linker.h)
#     link      link codegen ir abi            (codegen/link.c, codegen/linker.h)
#     runtime   runtime abi                    (compiled into the model executables)
#
# main.c is the driver and may include every layer; tests/, bench/ and scripts/ are not layers.
# Quoted includes are resolved as the compiler does: beside the including file, then in the
# include directories of the build (abi/, runtime/ and the layers' own); one that resolves to no
# file is an error too.
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"

# Without a process per include (CI's budget: a fork each was seconds of CPU): the functions set
# variables, paths are resolved by string.
layer_of() { # layer_of PATH: sets `layer` to the layer of a file relative to root ("" when it is in none)
  case $1 in
    codegen/link.c | codegen/linker.h) layer=link ;;
    abi/* | ir/* | frontend/* | passes/* | codegen/* | runtime/*) layer=${1%%/*} ;;
    *) layer="" ;;
  esac
}

allowed() { # allowed LAYER: sets `ok` to the layers LAYER may include, space-delimited
  case $1 in
    abi) ok=" abi " ;;
    ir) ok=" ir abi " ;;
    frontend) ok=" frontend ir abi " ;;
    passes) ok=" passes ir abi " ;;
    codegen) ok=" codegen passes ir abi " ;;
    link) ok=" link codegen ir abi " ;;
    runtime) ok=" runtime abi " ;;
  esac
}

normalize() { # normalize PATH: sets `target` to PATH (relative to root) without its "." and ".." parts
  local part out=() IFS=/
  for part in $1; do
    case $part in
      "" | .) ;;
      ..) [ ${#out[@]} -gt 0 ] && unset 'out[-1]' || out+=(..) ;;
      *) out+=("$part") ;;
    esac
  done
  target="${out[*]}"
}

bad=0
checked=0
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)"'
while IFS= read -r file; do
  layer_of "$file"
  from=$layer
  allowed "$from"
  dir=${file%/*}
  n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    [[ $line =~ $include_re ]] || continue
    inc=${BASH_REMATCH[1]}
    target=""
    for base in "$dir" abi runtime ir frontend passes codegen; do
      if [ -f "$base/$inc" ]; then
        normalize "$base/$inc"
        break
      fi
    done
    checked=$((checked + 1))
    if [ -z "$target" ]; then
      echo "$file:$n: #include \"$inc\": no such file in the tree" >&2
      bad=1
      continue
    fi
    layer_of "$target"
    to=$layer
    if [ -z "$to" ]; then
      echo "$file:$n: #include \"$inc\" ($target): not part of any layer" >&2
      bad=1
    elif [[ $ok != *" $to "* ]]; then
      echo "$file:$n: #include \"$inc\": the $from layer must not include $to ($target)" >&2
      bad=1
    fi
  done <"$file"
done < <(find abi ir frontend passes codegen runtime -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \
  -o -name '*.cuh' -o -name '*.def' \) | sort)

if [ "$bad" != 0 ]; then
  echo "check-layers: includes against frontend -> ir -> passes -> codegen -> link -> runtime (see $0)" >&2
  exit 1
fi
echo "check-layers: $checked includes, every one within its layer's rule"
