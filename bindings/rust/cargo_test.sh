#!/usr/bin/env bash
# Runs the Rust binding's tests (the lcmd-sys + lcmd workspace) against a build tree.
#
#   cargo_test.sh LIB_DIR WORK_DIR [cargo test arguments...]
#
# LIB_DIR holds liblcmd.so (a meson build tree's lib/); WORK_DIR (in the build tree)
# receives CARGO_TARGET_DIR=WORK_DIR/target and CARGO_HOME=WORK_DIR/cargo-home, so the
# run leaves no global state. Everything is offline: the crates have no dependencies.
#
# Which cargo: $LCMD_CARGO when set; else Debian's /usr/bin/cargo (1.65) with Debian's
# /usr/bin/rustc and rustdoc (a rustup cargo earlier on PATH would otherwise pair it
# with another rustc); else the first cargo on PATH (e.g. rustup's). The committed
# Cargo.lock is a version-3 lock, which both old and new cargo read unchanged.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 LIB_DIR WORK_DIR [cargo test args...]" >&2
  exit 2
fi
lib_dir=$(cd "$1" && pwd)
work_dir=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

mkdir -p "$work_dir/cargo-home"
work_dir=$(cd "$work_dir" && pwd)
export LCMD_LIB_DIR="$lib_dir"
export LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CARGO_TARGET_DIR="$work_dir/target"
export CARGO_HOME="$work_dir/cargo-home"
export CARGO_NET_OFFLINE=true
export CARGO_TERM_COLOR=never

if [ -n "${LCMD_CARGO:-}" ]; then
  cargo=$LCMD_CARGO
elif [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; then
  cargo=/usr/bin/cargo
  export RUSTC=/usr/bin/rustc
  [ -x /usr/bin/rustdoc ] && export RUSTDOC=/usr/bin/rustdoc
else
  cargo=$(command -v cargo || true)
fi
if [ -z "$cargo" ]; then
  echo "cargo_test: no cargo found" >&2
  exit 77
fi
echo "cargo_test: $cargo ($("$cargo" --version)), rustc: $("${RUSTC:-rustc}" --version)"
echo "cargo_test: LCMD_LIB_DIR=$LCMD_LIB_DIR CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# cargo reads .cargo/config.toml from the working directory: run in the workspace.
cd "$here"
exec "$cargo" test --offline -j 2 --manifest-path "$here/Cargo.toml" "$@"
