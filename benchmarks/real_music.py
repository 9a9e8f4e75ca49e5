"""How well a weights folder separates real music and held-out rendered songs, against the even split.

Scores through the grader's entry point (``separate_music_file``), global SDR per target:
- the real recording that ships with stempeg (``evaluator.real_music``; one 6 s clip: a sanity check);
- the embedded test set (songs made by ``render`` from seed 2023, never used in training), or ``--data``.
Each row is beside the even split (every stem = mixture / 4) on the same audio, and the gain is their difference.

    python -m benchmarks.real_music [--weights my_submission/weights] [--data DIR] [--limit N]
                                    [--hop S] [--no-mixture-consistency] (and the other inference-settings flags)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from evaluator.cache import cache_dir
from evaluator.metrics import global_sdr
from evaluator.real_music import ensure_real_clip
from evaluator.tracks import STEMS, find_tracks
from my_submission.bsrnn_model import WEIGHTS_DIR, BSRNNModel
from render import DEFAULT_TEST_SET, ensure_dataset
from tools.model_flags import add_settings_flags, settings_from_flags


def score(model: BSRNNModel, tracks: list) -> tuple[dict[str, float], dict[str, float], float]:
    """Mean global SDR per target of the model and of mixture / 4 over ``tracks``, and the slowest real-time
    factor."""
    ours: dict[str, list[float]] = {s: [] for s in STEMS}
    even: dict[str, list[float]] = {s: [] for s in STEMS}
    slowest = 0.0
    for track in tracks:
        mixture = track.read("mixture")
        begin = time.perf_counter()
        estimates, _ = model.separate_music_file(mixture, track.sample_rate)
        slowest = max(slowest, (time.perf_counter() - begin) / track.duration)
        for stem in STEMS:
            reference = track.read(stem)
            ours[stem].append(global_sdr(reference, estimates[stem]))
            even[stem].append(global_sdr(reference, mixture / 4))
    return ({s: float(np.mean(v)) for s, v in ours.items()}, {s: float(np.mean(v)) for s, v in even.items()},
            slowest)


def table(name: str, ours: dict[str, float], even: dict[str, float]) -> str:
    rows = [f"| {name}: model | " + " | ".join(f"{ours[s]:.2f}" for s in STEMS)
            + f" | {np.mean(list(ours.values())):.2f} |",
            f"| {name}: mixture / 4 | " + " | ".join(f"{even[s]:.2f}" for s in STEMS)
            + f" | {np.mean(list(even.values())):.2f} |",
            f"| {name}: gain | " + " | ".join(f"{ours[s] - even[s]:+.2f}" for s in STEMS)
            + f" | {np.mean([ours[s] - even[s] for s in STEMS]):+.2f} |"]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="held-out songs (default: the embedded test set)")
    parser.add_argument("--limit", type=int, help="only the first N held-out songs")
    add_settings_flags(parser)
    args = parser.parse_args()
    try:
        settings = settings_from_flags(args)
    except ValueError as e:
        parser.error(str(e))
    weights = args.weights or WEIGHTS_DIR
    model = BSRNNModel(settings, weights_dir=weights)
    data = args.data or ensure_dataset(cache_dir("default-testset"), **DEFAULT_TEST_SET)
    held_out = find_tracks(data)[:args.limit]
    real_ours, real_even, real_rtf = score(model, [ensure_real_clip(cache_dir("real"))])
    test_ours, test_even, test_rtf = score(model, held_out)
    print(f"weights: {weights}; hop {settings.hop} s, mixture consistency "
          f"{'on' if settings.mixture_consistency else 'off'}; real clip: 1 track; held-out: {len(held_out)} tracks "
          f"of {data}")
    print("| global SDR (dB) | " + " | ".join(STEMS) + " | mean |")
    print("|---|" + "---|" * (len(STEMS) + 1))
    print(table("real clip", real_ours, real_even))
    print(table("held-out rendered", test_ours, test_even))
    print(f"slowest real-time factor: {max(real_rtf, test_rtf):.3f}")


if __name__ == "__main__":
    main()
