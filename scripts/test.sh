#!/usr/bin/env bash
# The test suite in one command, set-up included (see scripts/test.py):
#   scripts/test.sh [--blender 4.2,4.5,5.3] [PYTEST ARGS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for py in python3.11 python3; do
  if command -v "$py" >/dev/null; then exec "$py" "$here/test.py" "$@"; fi
done
echo "test: error: no python3 found; install Python 3.11" >&2
exit 1
