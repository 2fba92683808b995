#!/bin/sh
# Saves an LCM student with liblcmd and loads it with diffusers (tests/reference's
# pinned environment); skipped (77) where that environment is not installed.
# Usage: diffusers_roundtrip.sh TEST_UNET_API_BINARY SOURCE_ROOT
set -eu
py="$2/tests/reference/.venv/bin/python"
[ -x "$py" ] || { echo "no reference environment at $py: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LCMD_UNET_ROUNDTRIP_DIR="$dir" CK_VERBOSITY=silent "$1"
"$py" "$2/tests/reference/check_unet_roundtrip.py" "$dir" 2>/dev/null
