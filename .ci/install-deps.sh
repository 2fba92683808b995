#!/usr/bin/env bash
# Installs the Debian packages liblcmd builds and tests with (.ci/packages.txt).
# Runs apt-get directly as root, through sudo otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run apt-get update -qq
run xargs -a "$here/packages.txt" apt-get install -y -qq --no-install-recommends >/dev/null
echo "installed: $(tr '\n' ' ' < "$here/packages.txt")"
