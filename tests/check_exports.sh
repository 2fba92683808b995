#!/bin/sh
# Fails when the shared library exports a symbol outside the lcmd_ prefix.
lib="$1"
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^lcmd_' || true)
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/' | grep -c ' lcmd_' || true)
if [ -n "$bad" ]; then
    echo "symbols outside the lcmd_ prefix are exported:"; echo "$bad"; exit 1
fi
echo "$count lcmd_* symbols exported, no others"
