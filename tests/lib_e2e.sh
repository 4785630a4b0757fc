# lib_e2e.sh — shared by the end-to-end tests: arguments, ../shared lookup, temp dir, assertions.
# Each e2e test is run by ctest as: bash tests/e2e_NAME.sh LLMC SHARED_DIR SOURCE_DIR
set -euo pipefail
LLMC=$1
SHARED=$2
SRC=$3
TMP=$(mktemp -d /tmp/llmc-e2e-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
PASSES=0

need_shared() { # need_shared REL: exit 77 (skip) when missing, fail under CI
  if [ ! -e "$SHARED/models/$1" ]; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL: $SHARED/models/$1 missing (CI always has ../shared)"; exit 1; fi
    echo "skipping: $SHARED/models/$1 not found (../shared beside the checkout)"; exit 77
  fi
}
pass() { PASSES=$((PASSES + 1)); echo "ok: $1"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $1"; }
check() { # check DESCRIPTION COMMAND...
  local d=$1; shift
  if "$@"; then pass "$d"; else fail "$d"; fi
}
# expect_error DESCRIPTION EXPECTED_SUBSTRING COMMAND...: non-zero exit below 128 (no crash) and the message
expect_error() {
  local d=$1 want=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ]; then fail "$d: accepted (exit 0)"; echo "$out" | head -5; return; fi
  if [ "$rc" -ge 128 ]; then fail "$d: crashed (exit $rc)"; echo "$out" | tail -20; return; fi
  if ! grep -qF -- "$want" <<<"$out"; then fail "$d: message lacks \"$want\": $out"; return; fi
  pass "$d"
}
flip() { # flip FILE OFFSET: xor the byte at OFFSET with 0x5a (e2e_integrity, e2e_tp)
  local b
  b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 0x5a)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
