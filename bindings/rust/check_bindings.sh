#!/usr/bin/env bash
# Checks that lcmd-sys/src/bindings.rs is what bindgen makes of the public headers now.
#
#   check_bindings.sh            regenerate into a temporary file and diff (exit 1 on a difference)
#   check_bindings.sh --update   rewrite lcmd-sys/src/bindings.rs
#
# The checked-in file was made with Debian bookworm's `bindgen` 0.60.1 (package bindgen,
# which loads libclang-14.so.1 from libclang1-14 and the clang headers of
# libclang-common-14-dev). Another bindgen version formats its output differently, so
# with one the check is skipped (exit 77, meson's skip code) instead of failing.
# BINDGEN=/path/to/bindgen picks the program.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bindgen=${BINDGEN:-bindgen}
expected_version="bindgen 0.60"

# The flags: every lcmd_ function, type and LCMD_ constant, size_t as usize, no layout
# tests (the crate's own tests compare struct_size with size_of instead).
flags=(
  --allowlist-function 'lcmd_.*'
  --allowlist-type 'lcmd_.*'
  --allowlist-var 'LCMD_.*'
  --size_t-is-usize
  --no-layout-tests
)

if ! command -v "$bindgen" >/dev/null 2>&1; then
  echo "check_bindings: '$bindgen' not found; skipped" >&2
  exit 77
fi
version=$("$bindgen" --version 2>/dev/null || true)
case "$version" in
  "$expected_version".*) ;;
  *) echo "check_bindings: found '$version', the bindings were made with $expected_version.x; skipped" >&2
     exit 77 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Relative paths, run from the source root, so the output does not depend on where the
# checkout lives.
(cd "$root" && "$bindgen" include/lcmd/lcmd.h -o "$tmp/bindings.rs" "${flags[@]}" -- -Iinclude)

target="$here/lcmd-sys/src/bindings.rs"
if [ "${1:-}" = "--update" ]; then
  cp "$tmp/bindings.rs" "$target"
  echo "check_bindings: wrote $target"
  exit 0
fi
if ! diff -u "$target" "$tmp/bindings.rs"; then
  echo "check_bindings: $target is stale; run bindings/rust/check_bindings.sh --update" >&2
  exit 1
fi
echo "check_bindings: $target matches $version"
