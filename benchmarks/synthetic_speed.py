"""How fast evaluator.synthetic makes tracks, as a multiple of real time on one core.

Times ``synthesize_track`` (all four stereo stems) and ``write_track`` (five 16-bit WAV files) per track,
and, as a floor baseline in the same run, drawing four stereo stems of Gaussian noise of the same length.
Reports medians over tracks of wall-clock and CPU time.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/synthetic_speed.py --tracks 7 --duration 10 30
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from evaluator.synthetic import synthesize_track, track_seed, write_track


def timed(action: Callable[..., object], *args: object) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def noise_stems(seed: int, n: int) -> list[np.ndarray]:
    """The baseline: four float32 stereo stems of Gaussian noise."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, 2)).astype(np.float32) for _ in range(4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=7, help="tracks per duration (medians over these)")
    parser.add_argument("--duration", type=float, nargs="+", default=[10.0, 30.0], help="seconds per track")
    parser.add_argument("--sample-rate", type=int, default=44100)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    synthesize_track(0, 1.0, args.sample_rate)  # warm-up
    print("| duration | step | median wall (s) | median CPU (s) | x real time (wall) | x real time (CPU) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for duration in args.duration:
            n = round(duration * args.sample_rate)
            rows: dict[str, list[tuple[float, float]]] = {"noise baseline": [], "synthesize_track": [],
                                                          "write_track": []}
            for i in range(args.tracks):
                wall, cpu, _ = timed(noise_stems, i, n)
                rows["noise baseline"].append((wall, cpu))
                wall, cpu, stems = timed(synthesize_track, track_seed(0, i), duration, args.sample_rate)
                rows["synthesize_track"].append((wall, cpu))
                wall, cpu, _ = timed(write_track, Path(folder) / f"t{i}", stems, args.sample_rate)
                rows["write_track"].append((wall, cpu))
            for step, times in rows.items():
                wall = statistics.median(t[0] for t in times)
                cpu = statistics.median(t[1] for t in times)
                print(f"| {duration:g} s | {step} | {wall:.3f} | {cpu:.3f} | {duration / wall:.1f} | "
                      f"{duration / cpu:.1f} |")


if __name__ == "__main__":
    main()
