#!/usr/bin/env bash
# Submit to the challenge: ./submit.sh <name> [--dry-run] [--docker] [--remote aicrowd] [--force]
# Pre-flight checks, then commit, tag submission-<name> and push branch and tag (see tools/submit.py).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" -m tools.submit "$@"
