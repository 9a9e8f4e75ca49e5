#!/usr/bin/env bash
# Installs what the kit needs on a fresh Debian/Ubuntu machine: ffmpeg and libsndfile (apt, when
# missing), and a virtual environment .venv with the pinned Python dependencies and the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffmpeg >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg libsndfile1 >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements-dev.txt
