"""Chunk SDR (evaluator.chunk_sdr, backend "fast") against museval on the same tracks: speed and agreement.

    python -m benchmarks.metrics [--tracks 3] [--duration 20] [--repeats 3]

Tracks come from the kit's renderer (render.render_song) (four stereo stems at 44.1 kHz); estimates are the
references with leakage from the other stems and noise, and one silent second, so museval's NaN rule
is exercised. For each track both backends score the four sources jointly (1 s windows and hop, as
museval.eval_mus_track does); times are medians over the repeats, museval timed in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from evaluator.metrics import _museval_window_sdr, chunk_sdr, window_sdr
from evaluator.tracks import STEMS
from render import render_song

RATE = 44100


def make_case(seed: int, duration: float) -> tuple[np.ndarray, np.ndarray]:
    stems = render_song(seed, duration, RATE)
    references = np.stack([stems[s] for s in STEMS]).astype(np.float64)
    rng = np.random.default_rng(seed)
    leak = references[[1, 2, 3, 0]]
    estimates = 0.85 * references + 0.1 * leak + 0.01 * rng.standard_normal(references.shape)
    estimates[2, 3 * RATE:4 * RATE] = 0  # an estimate silent for one second: that window is NaN
    return references, estimates


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=3)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads (numpy/museval use what BLAS gives them)")
    print("| track | fast (s) | museval (s) | speed-up | max abs diff, window SDRs (dB) | max abs diff, medians (dB) |")
    print("|---|---|---|---|---|---|")
    speedups, diffs = [], []
    for seed in range(args.tracks):
        refs, ests = make_case(seed, args.duration)
        fast = median_time(lambda r=refs, e=ests: chunk_sdr(r, e, RATE, RATE), max(5, args.repeats))
        slow = median_time(lambda r=refs, e=ests: chunk_sdr(r, e, RATE, RATE, backend="museval"), args.repeats)
        a, b = window_sdr(refs, ests, RATE, RATE), _museval_window_sdr(refs, ests, RATE, RATE)
        assert np.array_equal(np.isnan(a), np.isnan(b)), "NaN windows differ"
        window_diff = float(np.nanmax(np.abs(a - b)))
        median_diff = float(np.max(np.abs(chunk_sdr(refs, ests, RATE, RATE) - np.nanmedian(b, axis=1))))
        speedups.append(slow / fast)
        diffs.append(window_diff)
        print(f"| synth seed {seed}, {args.duration:g} s | {fast:.4f} | {slow:.2f} | {slow / fast:.0f}x | "
              f"{window_diff:.2e} | {median_diff:.2e} |")
    print(f"\nmedian speed-up {statistics.median(speedups):.0f}x; largest window difference {max(diffs):.2e} dB")


if __name__ == "__main__":
    main()
