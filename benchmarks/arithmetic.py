"""Multiply-adds of a BSRNN forward, counted from the model's shapes, and the T4 real-time factor they imply.

Counts the matrix products only (BLSTM input and recurrent products, projections, band split,
mask MLPs); norms, STFTs and element-wise work are a small remainder. The T4 figure is an
*estimate*, not a measurement: arithmetic divided by an assumed effective rate (a stated fraction of
the published peak), because cuDNN LSTMs are sequential (one small matrix product per step) and
run far below peak.

    python -m benchmarks.arithmetic
    python -m benchmarks.arithmetic --utilisation 0.05 0.10 0.20
"""

from __future__ import annotations

import argparse
import math

from models import BSRNNConfig
from models.contract import INSTRUMENTS

T4_PEAK_TFLOPS = {"fp16 tensor cores": 65.0, "fp32": 8.1}  # NVIDIA T4 datasheet


def frames(config: BSRNNConfig, seconds: float) -> int:
    """STFT frames of a window of ``seconds`` (padded to whole hops, centred STFT)."""
    samples = round(seconds * config.sample_rate)
    padded = max(config.n_fft, math.ceil(samples / config.hop_length) * config.hop_length)
    return padded // config.hop_length + 1


def macs_per_window(config: BSRNNConfig, seconds: float = 3.0, channels: int = 2) -> dict[str, float]:
    """Multiply-adds of one forward on a ``seconds`` window of ``channels`` channels, by part.

    Only for LSTM sequence layers and no attention/TAC (the configurations benchmarked here).
    """
    if config.time_layer != "lstm" or config.band_layer != "lstm" or config.n_heads or config.stereo != "batch":
        raise ValueError("macs_per_window counts BLSTM models without attention or TAC only")
    widths = config.band_widths()
    n, h, k, t = config.feature_dim, config.hidden, len(widths), frames(config, seconds)
    points = k * t * channels  # (band, frame, channel) positions, each one element of both RNNs' sequences
    blocks = 2 * config.num_repeat
    features = 2 * sum(widths)
    hidden = config.mask_hidden_factor * n
    mask_mlp = n * hidden + (config.mask_hidden_layers - 1) * hidden * hidden
    return {
        "lstm input products": blocks * points * 2 * 4 * h * n,
        "lstm recurrent products": blocks * points * 2 * 4 * h * h,
        "projections": blocks * points * 2 * h * n,
        "band split": t * channels * features * n,
        "mask heads": len(config.targets) * (points * mask_mlp + t * channels * hidden * 2 * features),
    }


def four_target_setups() -> dict[str, list[BSRNNConfig]]:
    return {"four per-target models (paper)": [BSRNNConfig(targets=[t]) for t in INSTRUMENTS],
            "one multi-target model": [BSRNNConfig(targets=list(INSTRUMENTS), band_scheme="vocals")]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=3.0, help="seconds per window")
    parser.add_argument("--hops", type=float, nargs="+", default=[3.0, 1.5, 0.5], help="hops in seconds")
    parser.add_argument("--utilisation", type=float, nargs="+", default=[0.05, 0.15],
                        help="assumed fraction of the T4's fp16 tensor-core peak that the LSTMs reach")
    args = parser.parse_args(argv)
    print(f"Multiply-adds per {args.window:g} s stereo window (paper size, 128 x 12):\n")
    print("| setup | LSTM (input / recurrent) | everything else | total | TFLOP per window |")
    print("|---|---|---|---|---|")
    totals = {}
    for name, configs in four_target_setups().items():
        parts = [macs_per_window(c, args.window) for c in configs]
        lstm_in = sum(p["lstm input products"] for p in parts)
        lstm_rec = sum(p["lstm recurrent products"] for p in parts)
        total = sum(sum(p.values()) for p in parts)
        totals[name] = total
        print(f"| {name} | {lstm_in / 1e9:.0f} G / {lstm_rec / 1e9:.0f} G | {(total - lstm_in - lstm_rec) / 1e9:.0f} G "
              f"| {total / 1e9:.0f} G | {2 * total / 1e12:.2f} |")
    peak = T4_PEAK_TFLOPS["fp16 tensor cores"]
    print(f"\nEstimated T4 real-time factor (fp16 autocast; assumed effective rate = utilisation x {peak:g} TFLOPS):\n")
    header = " | ".join(f"hop {hop:g} s @ {100 * u:g} %" for hop in args.hops for u in args.utilisation)
    print(f"| setup | {header} |")
    print("|---|" + "---|" * (len(args.hops) * len(args.utilisation)))
    for name, total in totals.items():
        cells = []
        for hop in args.hops:
            for u in args.utilisation:
                seconds_per_window = 2 * total / (u * peak * 1e12)
                cells.append(f"{seconds_per_window / hop:.2f}")  # one window per hop of audio
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
