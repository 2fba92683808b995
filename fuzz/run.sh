#!/bin/sh
# Builds the libFuzzer targets (clang, CPU-only, ASan+UBSan) and runs each for
# SECONDS on a scratch copy of its seed corpus. Exits non-zero on any crash,
# leak, sanitizer report or timeout; the reproducer stays in the printed folder.
# Each target uses the dictionary fuzz/TARGET.dict when there is one, else fuzz/json.dict.
# usage: fuzz/run.sh SECONDS   (env: BUILD_DIR, default build-fuzz; NINJA_JOBS)
set -eu

seconds=${1:?usage: fuzz/run.sh SECONDS}
case $seconds in *[!0-9]* | '') echo "run.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzz=enabled -Dcuda=disabled -Dtests=false -Dexamples=false \
        -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$build" ${NINJA_JOBS:+-j"$NINJA_JOBS"} fuzz/fuzz_safetensors fuzz/fuzz_json_config fuzz/fuzz_shard

work=$(mktemp -d "${TMPDIR:-/tmp}/lcmd-fuzz-XXXXXX")
status=0
for target in fuzz_safetensors fuzz_json_config fuzz_shard; do
    mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
    cp fuzz/corpus/$target/* "$work/$target/corpus/"
    dict=fuzz/json.dict
    [ -f "fuzz/$target.dict" ] && dict=fuzz/$target.dict
    echo "== $target: ${seconds}s"
    if ! ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
         UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
         "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
             -dict="$dict" -print_final_stats=1 \
             -artifact_prefix="$work/$target/artifacts/" "$work/$target/corpus" \
             > "$work/$target/log.txt" 2>&1; then
        status=1
        echo "== $target FAILED; log and reproducer in $work/$target" >&2
        tail -n 60 "$work/$target/log.txt" >&2
    else
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)' \
            "$work/$target/log.txt" || true
    fi
done
if [ "$status" -eq 0 ]; then
    rm -rf "$work"
    echo "== all fuzz targets ran ${seconds}s without a finding"
fi
exit "$status"
