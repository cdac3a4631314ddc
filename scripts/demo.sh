#!/usr/bin/env bash
# The one-command demo (see scripts/demo.py):
#   scripts/demo.sh [VIDEO] [--frames 0-200] [--out demo_out] [--python PY] [--device auto|cpu|cuda]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for py in python3.11 python3; do
  if command -v "$py" >/dev/null; then exec "$py" "$here/demo.py" "$@"; fi
done
echo "demo: error: no python3 found; install Python 3.11" >&2
exit 1
