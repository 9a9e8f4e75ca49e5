#!/usr/bin/env bash
# Installs what the kit needs on a fresh Debian/Ubuntu machine: ffmpeg and libsndfile (apt, when
# missing), and a virtual environment .venv with the pinned Python dependencies and the test tools.
#   ./scripts/setup.sh [--docker]    --docker: also docker.io and debootstrap, for python -m tools.docker_check
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT=()
command -v ffmpeg >/dev/null 2>&1 || APT+=(ffmpeg libsndfile1)
if [ "${1:-}" = "--docker" ]; then
  command -v dockerd >/dev/null 2>&1 || APT+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || APT+=(debootstrap)
elif [ -n "${1:-}" ]; then
  echo "setup.sh: unknown option '$1' (expected --docker or nothing)" >&2; exit 2
fi
if [ ${#APT[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements-dev.txt
