#!/usr/bin/env bash
# Installs the build into a temporary prefix (DESTDIR), builds pkgconfig/consumer.c there
# with nothing but `pkg-config --cflags --libs lcmd` (the way a user's project would),
# and runs it. Usage: install_and_build.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
dest=$(mktemp -d /tmp/lcmd-prefix-XXXXXX)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
pc=$(find "$dest" -name lcmd.pc | head -n 1)
[ -n "$pc" ] || { echo "no lcmd.pc installed under $dest"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest
libdir=$dest$(pkg-config --variable=libdir lcmd)
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$dest/consumer" \
   $(pkg-config --cflags --libs lcmd) -lm -Wl,-rpath,"$libdir"
echo "built with: $(pkg-config --cflags --libs lcmd)"
OMP_WAIT_POLICY=passive "$dest/consumer"
