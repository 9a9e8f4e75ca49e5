"""Times htdemucs (random weights) on a track, for ``benchmarks.inference --htdemucs-python``.

Run with the Python of a scratch environment that has ``demucs`` (it is no dependency of the kit, and this
file imports nothing of the kit but ``models/allocator.py``, loaded by path), e.g.

    python3 -m venv /tmp/demucs-venv && /tmp/demucs-venv/bin/pip install torch==2.13.0 && \\
        /tmp/demucs-venv/bin/pip install --no-deps demucs==4.1.0 openunmix julius einops tqdm pyyaml numpy

Prints one JSON line: wall seconds of ``demucs.apply.apply_model`` (overlap 0.25, as ``demucs`` separates by
default) after one warm-up segment, real-time factor, CPU seconds per second of audio, peak memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch


def keep_freed_memory() -> bool:
    path = Path(__file__).resolve().parent.parent / "models" / "allocator.py"
    spec = importlib.util.spec_from_file_location("kit_allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.keep_freed_memory()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mix", required=True, help=".npy file, float32 (channels, samples) at 44.1 kHz")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep-freed-memory", action="store_true", help="apply the kit's allocator setting")
    args = parser.parse_args()
    from demucs.apply import apply_model
    from demucs.htdemucs import HTDemucs

    if args.keep_freed_memory:
        keep_freed_memory()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # the released htdemucs splits tracks into 7.8 s segments; the other arguments are HTDemucs's defaults
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], segment=Fraction(39, 5)).eval()
    mix = torch.from_numpy(np.load(args.mix))[None]
    with torch.inference_mode():
        apply_model(model, mix[..., :round(float(model.segment) * model.samplerate)], overlap=0.25)
        start, cpu = time.perf_counter(), time.process_time()
        out = apply_model(model, mix, overlap=0.25)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    duration = mix.shape[-1] / model.samplerate
    assert out.shape == (1, 4, *mix.shape[1:]), out.shape
    print(json.dumps({"seconds": seconds, "rtf": seconds / duration, "cpu_per_second": cpu / duration,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
