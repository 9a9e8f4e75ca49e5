"""Peak memory and real-time factor of ``separate_music_file`` as the track grows: 30 s, 3 min, 10 min.

Each (model, duration) runs in a fresh subprocess with 2 torch threads: it builds the model, makes a
float64 stereo track (as ``soundfile.read`` returns it), then separates it while measuring the peak
resident memory (Linux high-water mark, reset just before the call) above the memory in use just
before the call. Growth is shown in MB and in "track copies": multiples of one float32 stereo copy
of the track (4 bytes x 2 channels x samples). The four float32 outputs the contract returns are 4
copies, so anything that grows with the track beyond a few copies would show here (a whole-track
spectrogram of one target is about 4 copies; its BSRNN activations tens more).

Models: ``identity`` (the glue alone: conversion, chunking, cross-fade, output), ``tiny`` (four
per-target BSRNN files, N = 8, R = 1, three bands: the real code path at a fraction of the cost).
Paper-size speed is measured by benchmarks/inference.py.

    python -m benchmarks.separation_memory [--durations 30 180 600] [--models identity tiny] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .machine import describe_machine, load

ROOT = Path(__file__).resolve().parent.parent
RATE = 44100


def make_track(seconds: float) -> np.ndarray:
    """Deterministic float64 stereo ``(samples, 2)``: tones and noise."""
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(0)
    left = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.05 * rng.standard_normal(n)
    return np.stack([left, 0.8 * left + 0.05 * np.sin(2 * np.pi * 440 * t)], axis=1)


def tiny_weights(folder: Path) -> None:
    import torch

    from models import TARGETS, BSRNNConfig, build_model, save_model

    for i, target in enumerate(TARGETS):
        torch.manual_seed(i)
        config = BSRNNConfig(targets=[target], feature_dim=8, num_repeat=1, band_scheme=[[4000.0, 2000.0]])
        save_model(build_model(config), folder / f"{target}.safetensors")


def child(model_name: str, seconds: float, threads: int, weights: Path) -> dict:
    """Run one measurement in this process (a fresh one)."""
    import torch

    from evaluator.harness import PeakMemory

    torch.set_num_threads(threads)
    if model_name == "identity":
        from my_submission.identity_model import IdentityModel

        model = IdentityModel()
    else:
        from my_submission.bsrnn_model import BSRNNModel

        model = BSRNNModel(weights_dir=weights)
    mix = make_track(seconds)
    gc.collect()
    with PeakMemory() as memory:
        start = time.perf_counter()
        stems, _ = model.separate_music_file(mix, RATE)
        took = time.perf_counter() - start
    copy_mb = mix.shape[0] * 2 * 4 / 2 ** 20
    return {"seconds": took, "growth_mb": memory.growth, "peak_mb": memory.peak, "copy_mb": copy_mb,
            "outputs_mb": sum(s.nbytes for s in stems.values()) / 2 ** 20, "resettable": memory.resettable}


def measure(model_name: str, seconds: float, threads: int, weights: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-m", "benchmarks.separation_memory", "--child", model_name, str(seconds),
                          str(threads), str(weights)], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[30, 180, 600])
    parser.add_argument("--models", nargs="+", choices=("identity", "tiny"), default=["identity", "tiny"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=4, metavar=("MODEL", "SECONDS", "THREADS", "WEIGHTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], float(args.child[1]), int(args.child[2]), Path(args.child[3]))))
        return
    print(f"{describe_machine()}; {args.threads} threads per run; load average {load():.1f} at start")
    print("| model | track | runs | real-time factor (median) | peak growth MB (median) | one track copy MB "
          "| growth in track copies | outputs MB |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tiny_weights(Path(tmp))
        for model_name in args.models:
            for seconds in args.durations:
                runs = [measure(model_name, seconds, args.threads, Path(tmp)) for _ in range(args.repeats)]
                rtf = statistics.median(r["seconds"] / seconds for r in runs)
                growth = statistics.median(r["growth_mb"] for r in runs)
                copy_mb = runs[0]["copy_mb"]
                print(f"| {model_name} | {seconds:g} s | {len(runs)} | {rtf:.3f} | {growth:.0f} | {copy_mb:.0f} | "
                      f"{growth / copy_mb:.1f} | {runs[0]['outputs_mb']:.0f} |", flush=True)
    print(f"load average {load():.1f} at the end")


if __name__ == "__main__":
    main()
