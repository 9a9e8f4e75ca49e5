"""Multiply-adds of a BSRNN forward, counted from the model's shapes, and the T4 real-time factor they imply.

Counts the matrix products only (BLSTM input and recurrent products, projections, band split,
mask MLPs); norms, STFTs and element-wise work are a small remainder. The T4 figure is an
*estimate*, not a measurement: arithmetic divided by an assumed effective rate (a stated fraction of
the published peak), because cuDNN LSTMs are sequential (one small matrix product per step) and
run far below peak.

    python -m benchmarks.arithmetic
    python -m benchmarks.arithmetic --utilisation 0.05 0.10 0.20
    python -m benchmarks.arithmetic --cpu-peak     # also: this CPU's matrix-product rate, and the real-time
                                                   # factor no CPU code can beat at that rate (a floor)
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

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


def cpu_matmul_rate(dtype_name: str, size: int = 2048, repeats: int = 7) -> float:
    """Multiply-adds per second of one large square matrix product on this CPU with torch's threads (median of
    ``repeats`` after a warm-up): about the best rate any CPU code of the model's products can reach."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.matmul(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - start)
    return size**3 / statistics.median(times)


def print_cpu_floor(totals: dict[str, float], hops: list[float]) -> None:
    import torch

    from .machine import describe_machine

    print(f"\nThis CPU ({describe_machine()}), one {2048}x{2048} matrix product, {torch.get_num_threads()} threads:\n")
    print("| precision | multiply-adds per s | " + " | ".join(f"floor, {name}, hop {hop:g} s" for name in totals
                                                        for hop in hops) + " |")
    print("|---|---|" + "---|" * (len(totals) * len(hops)))
    for dtype in ("bf16", "fp32"):
        rate = cpu_matmul_rate(dtype)
        cells = [f"{total / rate / hop:.2f}" for total in totals.values() for hop in hops]
        print(f"| {dtype} | {rate / 1e9:.0f} G | " + " | ".join(cells) + " |")
    print("\nfloor = multiply-adds per window / that rate / hop: the real-time factor if every product of the model "
          "ran as fast as one large matrix product (LSTM steps are smaller products, and slower)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=3.0, help="seconds per window")
    parser.add_argument("--hops", type=float, nargs="+", default=[3.0, 1.5, 0.5], help="hops in seconds")
    parser.add_argument("--utilisation", type=float, nargs="+", default=[0.05, 0.15],
                        help="assumed fraction of the T4's fp16 tensor-core peak that the LSTMs reach")
    parser.add_argument("--cpu-peak", action="store_true",
                        help="also time a large matrix product on this CPU and print the real-time-factor floor")
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
    if args.cpu_peak:
        print_cpu_floor(totals, args.hops)


if __name__ == "__main__":
    main()
