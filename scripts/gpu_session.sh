#!/usr/bin/env bash
# One short session on a rented GPU machine with no network: what produced the bundled weights.
#
# Expects, next to the repository (carried in the git-ignored folder .gpu/):
#   .gpu/wheels/*.whl         Python packages the machine lacks (soundfile, soxr, musdb, ...), for python3 there
#   .gpu/packed/{train,valid,real}/   songs packed with `python -m train.pack pack` (Opus), see README
#   .gpu/gpu_check.py         optional: benchmarks/gpu_check.py, run first for the GPU readiness table
# Then: unpacks the songs into the MUSDB18-HQ layout, trains the configs named in SIZES side by side on the one GPU
# for MINUTES each, exports each run's best checkpoint as fp16 safetensors split into 15 MB parts, and leaves
# everything worth keeping in $OUT (logs, result.yaml, validation curves, the GPU check table).
# Optional: INIT=FILE starts every run from those weights (fine-tuning; carry the bundled file exported as fp16),
# BATCH and WORKERS set optim.batch_size and data.num_workers (lr follows the batch: lr x batch / 16).
#
#   OUT=/tmp/out MINUTES=6 SIZES="small large" bash scripts/gpu_session.sh
#   OUT=/tmp/out MINUTES=11 SIZES=small INIT=.gpu/init.safetensors BATCH=32 WORKERS=14 bash scripts/gpu_session.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-session-out}
MINUTES=${MINUTES:-6}
SIZES=${SIZES:-small large}
CHECK_SECONDS=${CHECK_SECONDS:-150}
DATA=${DATA:-/tmp/gpu-data}
ACCELERATOR=${ACCELERATOR:-gpu}  # cpu: a local rehearsal of this script (with SKIP_WHEELS=1)
WORKERS=${WORKERS:-6}
extra=()
[ -n "${INIT:-}" ] && extra+=("trainer.init_weights=$INIT")
[ -n "${BATCH:-}" ] && extra+=("optim.batch_size=$BATCH")
mkdir -p "$OUT" "$OUT/logs"
export PYTHONUNBUFFERED=1
step() { echo "[gpu_session $(date +%T)] $*"; }

if [ -z "${SKIP_WHEELS:-}" ]; then
  step "installing carried wheels"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .gpu/wheels/*.whl || { echo "wheel install failed"; exit 1; }
fi
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/logs/gpu.txt"
nproc | sed 's/^/cpus: /' | tee -a "$OUT/logs/gpu.txt"

step "unpacking songs"
python3 -m train.pack unpack .gpu/packed/train "$DATA/train" --jobs 16 || exit 1
python3 -m train.pack unpack .gpu/packed/valid "$DATA/valid-unpacked" --jobs 8 || exit 1
valid=()
for d in "$DATA"/valid-unpacked/*/; do
  name="valid-$(basename "$d")"; mv "$d" "$DATA/train/$name"; valid+=("$name")
done
python3 -m train.pack unpack .gpu/packed/real .cache/real --jobs 1 || exit 1
valid_list=$(IFS=,; echo "[${valid[*]}]")
step "validation tracks: $valid_list"

if [ -f .gpu/gpu_check.py ]; then
  step "GPU check (at most ${CHECK_SECONDS} s)"
  timeout "$CHECK_SECONDS" python3 .gpu/gpu_check.py --out "$OUT/logs/gpu_check.md" > "$OUT/logs/gpu_check.log" 2>&1
  step "GPU check exit $?"
fi

step "training ${SIZES} for ${MINUTES} min each, side by side"
pids=()
for size in $SIZES; do
  # a hard stop shortly after max_minutes, so that the export below always runs inside the session
  timeout -s INT "$(python3 -c "print(int($MINUTES * 60 + 75))")" \
    python3 -m train --config "train/configs/rendered/$size.yaml" "out_dir=runs/gpu-$size" data.kind=musdb18hq \
    "data.root=$DATA" "data.valid_tracks=$valid_list" "data.num_workers=$WORKERS" "trainer.accelerator=$ACCELERATOR" \
    "trainer.max_minutes=$MINUTES" "${extra[@]}" > "$OUT/logs/train-$size.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
step "training done"

for size in $SIZES; do
  run=runs/gpu-$size
  cp "$run/result.yaml" "$OUT/logs/result-$size.yaml" 2>/dev/null
  python3 -m train.export "$run" "/tmp/$size-fp16.safetensors" --dtype fp16 >> "$OUT/logs/train-$size.log" 2>&1 \
    || continue
  split -b 15M -d "/tmp/$size-fp16.safetensors" "$OUT/$size-fp16.part"
  # validation curves from the TensorBoard events, as text
  python3 - "$run" <<'EOF' > "$OUT/logs/curves-$size.txt" 2>&1
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(f"{sys.argv[1]}/logs"); acc.Reload()
for tag in sorted(acc.Tags()["scalars"]):
    if tag.startswith(("valid/", "real/")) or tag == "train/loss_epoch":
        print(tag, " ".join(f"{e.step}:{e.value:.3f}" for e in acc.Scalars(tag)))
EOF
done
tar -C "$OUT" -czf "$OUT/logs.tar.gz" logs && rm -rf "$OUT/logs"
step "done"; ls -la "$OUT"
