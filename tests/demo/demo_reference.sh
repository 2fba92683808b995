#!/bin/sh
# Writes the demo teacher with liblcmd's outputs on it, then checks them with diffusers
# and transformers (tests/reference's pinned environment); skipped (77) without it.
# Usage: demo_reference.sh TEST_DEMO_BINARY SOURCE_ROOT
set -eu
py="$2/tests/reference/.venv/bin/python"
[ -x "$py" ] || { echo "no reference environment at $py: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LCMD_DEMO_REFERENCE_DIR="$dir" CK_RUN_CASE=reference CK_VERBOSITY=silent "$1"
"$py" "$2/tests/reference/check_demo_pipeline.py" "$dir" 2>/dev/null
