#!/usr/bin/env bash
# Builds pkgconfig/consumer.c with nothing but pkg-config's flags for lcmd (the way
# a user's project would), with an rpath to the library's directory. Usage: OUTPUT
set -euo pipefail
out="$1"
here=$(cd "$(dirname "$0")" && pwd)
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$out" \
   $(pkg-config --cflags --libs lcmd) -Wl,-rpath,"$(pkg-config --variable=libdir lcmd)"
echo "built $out with: $(pkg-config --cflags --libs lcmd)"
