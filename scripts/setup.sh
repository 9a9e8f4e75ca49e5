#!/usr/bin/env bash
# Installs what the kit needs on a fresh Debian/Ubuntu machine (apt, when missing): ffmpeg and libsndfile, jemalloc
# (for CPU training, README), and for the data renderer FluidSynth, SoundFont banks, Hydrogen drum kits, speech
# synthesisers and g++ (pip builds pyworld from source); then a virtual environment .venv with the pinned Python
# dependencies (requirements-dev.txt: the kit, the renderer, the test tools and aicrowd-cli).
#   ./scripts/setup.sh [--docker]    --docker: also docker.io and debootstrap, for python -m tools.docker_check
set -euo pipefail
cd "$(dirname "$0")/.."
APT=(ffmpeg libsndfile1 libjemalloc2
     fluidsynth fluid-soundfont-gm musescore-general-soundfont-small timgm6mb-soundfont avldrums.lv2-soundfont
     hydrogen-drumkits
     festival festvox-us-slt-hts festvox-kallpc16k flite espeak-ng g++)
if [ "${1:-}" = "--docker" ]; then
  APT+=(docker.io debootstrap)
elif [ -n "${1:-}" ]; then
  echo "setup.sh: unknown option '$1' (expected --docker or nothing)" >&2; exit 2
fi
missing=()
for pkg in "${APT[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # wait for another apt run (unattended upgrades, a second setup) instead of failing on its lock
  APT_OPTS=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${APT_OPTS[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_OPTS[@]}" install -y -qq "${missing[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r requirements-dev.txt
