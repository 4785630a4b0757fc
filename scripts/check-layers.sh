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

layer_of() { # layer_of PATH: the layer of a file relative to root ("" when it is in none)
  case $1 in
    codegen/link.c | codegen/linker.h) echo link ;;
    abi/* | ir/* | frontend/* | passes/* | codegen/* | runtime/*) echo "${1%%/*}" ;;
    *) echo "" ;;
  esac
}

allowed() { # allowed LAYER: the layers LAYER may include
  case $1 in
    abi) echo "abi" ;;
    ir) echo "ir abi" ;;
    frontend) echo "frontend ir abi" ;;
    passes) echo "passes ir abi" ;;
    codegen) echo "codegen passes ir abi" ;;
    link) echo "link codegen ir abi" ;;
    runtime) echo "runtime abi" ;;
  esac
}

bad=0
checked=0
while IFS= read -r file; do
  from=$(layer_of "$file")
  ok=" $(allowed "$from") "
  dir=$(dirname "$file")
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    n=${line%%:*}
    inc=$(sed -E 's/^[^"]*"([^"]+)".*/\1/' <<<"${line#*:}")
    target=""
    for base in "$dir" abi runtime ir frontend passes codegen; do
      if [ -f "$base/$inc" ]; then
        target=$(realpath -m --relative-to="$root" "$base/$inc")
        break
      fi
    done
    checked=$((checked + 1))
    if [ -z "$target" ]; then
      echo "$file:$n: #include \"$inc\": no such file in the tree" >&2
      bad=1
      continue
    fi
    to=$(layer_of "$target")
    if [ -z "$to" ]; then
      echo "$file:$n: #include \"$inc\" ($target): not part of any layer" >&2
      bad=1
    elif [[ $ok != *" $to "* ]]; then
      echo "$file:$n: #include \"$inc\": the $from layer must not include $to ($target)" >&2
      bad=1
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
done < <(find abi ir frontend passes codegen runtime -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \
  -o -name '*.cuh' -o -name '*.def' \) | sort)

if [ "$bad" != 0 ]; then
  echo "check-layers: includes against frontend -> ir -> passes -> codegen -> link -> runtime (see $0)" >&2
  exit 1
fi
echo "check-layers: $checked includes, every one within its layer's rule"
