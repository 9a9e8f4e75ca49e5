"""GPU memory and time per epoch of the main training configs, estimated from counts measured on this CPU.

Measured here, for one training step (model forward + the config's loss, then backward), device-independently:

- FLOPs: ``torch.utils.flop_counter`` over forward and backward, with PyTorch's native cell-by-cell LSTM
  (oneDNN's fused LSTM is invisible to the counter), so every matrix product is counted;
- activation memory: the bytes autograd keeps for backward (``torch.autograd.graph.saved_tensors_hooks``; unique
  storages, parameters excluded), fp32 and bf16 autocast, for the native LSTM (what any LSTM must keep: inputs,
  gates, cell states; taken as the stand-in for cuDNN's reserve space) and for oneDNN's LSTM (the CPU default,
  whose workspace is larger).

Both are measured at small sizes (1 and 2 repeats, 0.25 s and 0.5 s, batch 1) and extrapolated to the config's
repeats, 3 s items and batch with the model ``value = a + b*frames + repeats*(c + d*frames)`` per item; a direct
measurement at a third size (2 repeats, 0.75 s, batch 2) checks the extrapolation and its error is printed.

Estimated (not measured; no GPU here): GPU memory = batch x activations + 16 B per parameter (fp32 weights,
gradients, Adam's two moments; 18 B with autocast's 16-bit weight copy) + 1 GB (CUDA context, cuDNN workspace,
allocator slack); time per item = counted FLOPs / achieved rate, the achieved rate calibrated on a public timing
of this model on an A40 (``ANCHOR``), scaled to other GPUs by memory bandwidth (which also fits a second public
timing, ``CHECK_TIMING``), and multiplied by an assumed ``SIXTEEN_BIT_SPEEDUP`` for mixed precision.

    python -m benchmarks.training_estimate            # about a minute on one core
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils.flop_counter import FlopCounterMode

from models import BSRNNConfig, build_model
from train.config import LossConfig, load_config
from train.losses import SeparationLoss

from .machine import describe_machine, load

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("paper/vocals", "paper/bass", "paper/drums", "paper/other", "multi-target", "seed/baseline")
SMALL_REPEATS = (1, 2)
SMALL_SECONDS = (0.25, 0.5)
CHECK = {"repeats": 2, "seconds": 0.75, "batch": 2}  # the direct measurement that checks the extrapolation
ITEM_SECONDS = 3.0  # the recipe's training item (data.segment_seconds)
BATCH = 2  # the recipe's batch per GPU (optim.batch_size)
# fp32 weights, gradients and Adam's two moments; autocast adds a 16-bit copy of the weights
BYTES_PER_PARAMETER = {"fp32": 4 + 4 + 8, "16-bit": 4 + 4 + 8 + 2}
OVERHEAD_BYTES = 1.0e9  # CUDA context, cuDNN workspace, allocator slack (assumed)
GB = 1e9
VALIDATION_AUDIO_MINUTES = 56

# Datasheet memory (GB) and memory bandwidth (GB/s).
GPUS = {
    "T4 16 GB": {"memory": 16, "bandwidth": 320},
    "V100 32 GB": {"memory": 32, "bandwidth": 900},
    "A100 40 GB": {"memory": 40, "bandwidth": 1555},
    "A100 80 GB": {"memory": 80, "bandwidth": 2039},
    "A40 48 GB": {"memory": 48, "bandwidth": 696},
}
# The calibration: the replication's author reports about 2 h per epoch of 20,000 items (batch 2 per GPU) for the
# 128 x 12 model on two 45 GB GPUs (https://github.com/magronp/bsrnn/issues/1; its Lightning trainer runs fp32
# with TF32 allowed, on Grid5000 nodes with two A40s). Validation time is inside those 2 h, so the rate below
# is a slight underestimate. We take the model to be the vocals one (41 bands).
ANCHOR = {"gpu": "A40 48 GB", "config": "paper/vocals", "seconds_per_epoch": 2 * 3600, "items": 20000, "gpus": 2}
# The check: in the same thread a user reports 3 h per epoch for the 128 x 12 model on one V100 32 GB (fp32),
# with that code, whose default epoch is 20,000 items (the user's epoch size is not stated).
CHECK_TIMING = {"gpu": "V100 32 GB", "config": "paper/vocals", "seconds_per_epoch": 3 * 3600, "items": 20000}
SIXTEEN_BIT_SPEEDUP = 1.5  # assumed gain of 16-bit mixed precision over fp32 (not measured here)
# The CPU calibration: this machine's measured training rate and peak memory for seed/baseline (BENCHMARKS.md,
# section "training": plain PyTorch loop, fp32, batch 2, 2 threads, oneDNN LSTMs).
CPU_MEASURED = {"config": "seed/baseline", "items_per_second": 0.243, "peak_rss_mb": 7159}


@dataclass(frozen=True)
class StepCounts:
    """What one training step costs: forward FLOPs, forward + backward FLOPs (0 if not run), bytes saved."""

    forward_flops: float
    step_flops: float
    saved_bytes: float


def frames(config: BSRNNConfig, seconds: float) -> int:
    """STFT frames of an item of ``seconds`` (the model pads to whole hops, centred STFT)."""
    samples = round(seconds * config.sample_rate)
    padded = max(config.n_fft, -(-samples // config.hop_length) * config.hop_length)
    return padded // config.hop_length + 1


def measure_step(config: BSRNNConfig, loss: LossConfig, seconds: float, batch: int, precision: str = "fp32",
                 native_lstm: bool = True, backward: bool = True) -> StepCounts:
    """Count FLOPs and saved bytes of one training step of a randomly initialised model on random stereo items.

    ``precision``: ``fp32`` or ``bf16`` (CPU autocast, as ``trainer.precision=bf16-mixed``); ``native_lstm``
    turns oneDNN off so that LSTMs run (and are counted) cell by cell.
    """
    torch.manual_seed(0)
    model = build_model(config)
    loss_fn = SeparationLoss(loss.kind, loss.time_weight, loss.freq_weight, config.n_fft, config.hop_length)
    samples = round(seconds * config.sample_rate)
    mixture = torch.randn(batch, 2, samples)
    sources = torch.randn(batch, len(config.targets), 2, samples)
    parameters = {StorageWeakRef(p.untyped_storage()) for p in model.parameters()}
    saved: dict[StorageWeakRef, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = StorageWeakRef(tensor.untyped_storage())
        if storage not in parameters:
            saved[storage] = tensor.untyped_storage().nbytes()
        return tensor

    cast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    with torch.backends.mkldnn.flags(enabled=not native_lstm), FlopCounterMode(display=False) as counter:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor), cast:
            value = loss_fn(model(mixture), sources)["loss"]
        forward = counter.get_total_flops()
        if backward:
            value.backward()
        total = counter.get_total_flops() if backward else 0
    return StepCounts(float(forward), float(total), float(sum(saved.values())))


@dataclass(frozen=True)
class PerItemModel:
    """``value(repeats, frames) = a + b*frames + repeats*(c + d*frames)`` per item, fitted on measurements."""

    a: float
    b: float
    c: float
    d: float

    @classmethod
    def fit(cls, points: list[tuple[int, int, float]]) -> PerItemModel:
        """Least squares over ``(repeats, frames, value per item)`` points (four distinct ones determine it)."""
        design = np.array([[1.0, f, r, r * f] for r, f, _ in points])
        values = np.array([v for _, _, v in points])
        if np.linalg.matrix_rank(design) < 4:
            raise ValueError("PerItemModel.fit: need measurements at two repeat counts and two lengths")
        a, b, c, d = np.linalg.lstsq(design, values, rcond=None)[0]
        return cls(float(a), float(b), float(c), float(d))

    def __call__(self, repeats: int, n_frames: int, batch: int = 1) -> float:
        return batch * (self.a + self.b * n_frames + repeats * (self.c + self.d * n_frames))


def with_repeats(config: BSRNNConfig, repeats: int) -> BSRNNConfig:
    return BSRNNConfig.from_dict({**config.to_dict(), "num_repeat": repeats})


def extrapolate(config: BSRNNConfig, loss: LossConfig, fields: tuple[str, ...],
                **options) -> dict[str, PerItemModel]:
    """Fit a ``PerItemModel`` to each of ``fields`` of ``StepCounts`` measured at the small sizes (batch 1)."""
    points: dict[str, list[tuple[int, int, float]]] = {field: [] for field in fields}
    for repeats in SMALL_REPEATS:
        for seconds in SMALL_SECONDS:
            counts = measure_step(with_repeats(config, repeats), loss, seconds, 1, **options)
            for field in fields:
                points[field].append((repeats, frames(config, seconds), getattr(counts, field)))
    return {field: PerItemModel.fit(values) for field, values in points.items()}


def check_error(config: BSRNNConfig, loss: LossConfig, fitted: PerItemModel, **options) -> float:
    """Relative error of the extrapolated saved bytes against a direct measurement at ``CHECK``'s size."""
    measured = measure_step(with_repeats(config, CHECK["repeats"]), loss, CHECK["seconds"], CHECK["batch"],
                            backward=False, **options).saved_bytes
    predicted = fitted(CHECK["repeats"], frames(config, CHECK["seconds"]), CHECK["batch"])
    return predicted / measured - 1


@dataclass(frozen=True)
class ConfigCosts:
    """Per training item of ``ITEM_SECONDS`` at the config's full size (extrapolated from the small sizes)."""

    name: str
    parameters: int
    forward_flops: float
    step_flops: float
    native_fp32_bytes: float
    onednn_fp32_bytes: float
    onednn_bf16_bytes: float
    check_errors: tuple[float, float]  # native, oneDNN (fp32)
    samples_per_epoch: int
    validation_window: float
    validation_hop: float

    @property
    def sixteen_bit_bytes(self) -> float:
        """Activations under 16-bit autocast: the native count scaled by oneDNN's measured bf16 / fp32 ratio."""
        return self.native_fp32_bytes * self.onednn_bf16_bytes / self.onednn_fp32_bytes


def config_costs(name: str) -> ConfigCosts:
    """Measure and extrapolate the costs of ``train/configs/<name>.yaml``."""
    experiment = load_config(ROOT / "train" / "configs" / f"{name}.yaml")
    config, loss = experiment.model, experiment.loss
    repeats, n_frames = config.num_repeat, frames(config, ITEM_SECONDS)
    native = extrapolate(config, loss, ("forward_flops", "step_flops", "saved_bytes"))
    onednn = extrapolate(config, loss, ("saved_bytes",), native_lstm=False, backward=False)["saved_bytes"]
    onednn_bf16 = extrapolate(config, loss, ("saved_bytes",), native_lstm=False, backward=False,
                              precision="bf16")["saved_bytes"]
    errors = (check_error(config, loss, native["saved_bytes"]),
              check_error(config, loss, onednn, native_lstm=False))
    parameters = sum(p.numel() for p in build_model(config).parameters())
    at_size = {field: model(repeats, n_frames) for field, model in native.items()}
    return ConfigCosts(name, parameters, at_size["forward_flops"], at_size["step_flops"], at_size["saved_bytes"],
                       onednn(repeats, n_frames), onednn_bf16(repeats, n_frames),
                       errors, experiment.data.samples_per_epoch, experiment.validation.window,
                       experiment.validation.hop)


def achieved_rate(anchor: ConfigCosts, gpu: dict, precision: str) -> float:
    """Assumed achieved training TFLOP/s of ``gpu``: the anchor's rate scaled by memory bandwidth (the scaling
    that fits both public timings), times ``SIXTEEN_BIT_SPEEDUP`` for 16-bit mixed precision."""
    seconds_per_item = ANCHOR["seconds_per_epoch"] * ANCHOR["gpus"] / ANCHOR["items"]
    rate = anchor.step_flops / seconds_per_item / 1e12 * gpu["bandwidth"] / GPUS[ANCHOR["gpu"]]["bandwidth"]
    return rate * (SIXTEEN_BIT_SPEEDUP if precision == "16-bit" else 1.0)


def gpu_memory(costs: ConfigCosts, precision: str, batch: int) -> float:
    """Estimated peak GPU memory (bytes) of training at ``batch`` items per GPU."""
    per_item = costs.sixteen_bit_bytes if precision == "16-bit" else costs.native_fp32_bytes
    return batch * per_item + BYTES_PER_PARAMETER[precision] * costs.parameters + OVERHEAD_BYTES


def largest_batch(costs: ConfigCosts, precision: str, memory_gb: float) -> int:
    per_item = costs.sixteen_bit_bytes if precision == "16-bit" else costs.native_fp32_bytes
    room = memory_gb * GB - BYTES_PER_PARAMETER[precision] * costs.parameters - OVERHEAD_BYTES
    return max(int(room // per_item), 0)


def validation_table(costs: list[ConfigCosts], anchor: ConfigCosts) -> str:
    """Minutes of one validation pass per GPU: windows of ``window`` s every ``hop`` s, forward FLOPs each."""
    lines = [f"| config | window / hop | {' | '.join(GPUS)} |", "|---|---|" + "---|" * len(GPUS)]
    for c in costs:
        windows = VALIDATION_AUDIO_MINUTES * 60 / c.validation_hop
        flops = windows * c.forward_flops * c.validation_window / ITEM_SECONDS
        cells = [f"{flops / (achieved_rate(anchor, gpu, '16-bit') * 1e12) / 60:.0f}" for gpu in GPUS.values()]
        lines.append(f"| {c.name} | {c.validation_window:g} s / {c.validation_hop:g} s | {' | '.join(cells)} |")
    return "\n".join(lines)


def measured_table(costs: list[ConfigCosts]) -> str:
    lines = ["| config | params | GFLOP forward | GFLOP fwd + bwd | ratio | activations fp32, native LSTM | "
             "activations fp32, oneDNN LSTM | bf16 / fp32 (oneDNN) | extrapolation error (native / oneDNN) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in costs:
        lines.append(f"| {c.name} | {c.parameters / 1e6:.2f} M | {c.forward_flops / 1e9:.0f} | "
                     f"{c.step_flops / 1e9:.0f} | {c.step_flops / c.forward_flops:.2f} | "
                     f"{c.native_fp32_bytes / GB:.2f} GB | {c.onednn_fp32_bytes / GB:.2f} GB | "
                     f"{c.onednn_bf16_bytes / c.onednn_fp32_bytes:.2f} | "
                     f"{100 * c.check_errors[0]:+.1f} % / {100 * c.check_errors[1]:+.1f} % |")
    return "\n".join(lines)


def estimate_table(costs: list[ConfigCosts], precision: str, anchor: ConfigCosts) -> str:
    """Per config and GPU: memory at ``BATCH`` per GPU (GB), the largest batch that fits, hours per epoch."""
    lines = [f"| config | {' | '.join(GPUS)} |", "|---|" + "---|" * len(GPUS)]
    for c in costs:
        cells = []
        for gpu in GPUS.values():
            memory = gpu_memory(c, precision, BATCH) / GB
            hours = c.samples_per_epoch * c.step_flops / (achieved_rate(anchor, gpu, precision) * 1e12) / 3600
            flag = "**" if memory > gpu["memory"] else ""
            cells.append(f"{flag}{memory:.1f}{flag} / {largest_batch(c, precision, gpu['memory'])} / {hours:.0f}")
        lines.append(f"| {c.name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training_estimate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help="config names below train/configs/")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the counts do not depend on it)")
    parser.add_argument("--json", help="also write the measured per-item costs to this JSON file")
    args = parser.parse_args(argv)
    for name in (ANCHOR["config"], CPU_MEASURED["config"]):
        if name not in args.configs:
            args.configs.append(name)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    print(f"machine: {describe_machine()}; load average at start {load():.2f}", flush=True)
    begin = time.perf_counter()
    costs = []
    for name in args.configs:
        costs.append(config_costs(name))
        print(f"measured {name} ({time.perf_counter() - begin:.0f} s)", flush=True)
    by_name = {c.name: c for c in costs}
    print(f"\nload average at end {load():.2f}; {time.perf_counter() - begin:.0f} s\n")
    print(f"Measured per training item ({ITEM_SECONDS:g} s stereo at 44.1 kHz, the config's loss), extrapolated "
          f"from {SMALL_REPEATS} repeats x {SMALL_SECONDS} s:\n")
    print(measured_table(costs))

    anchor = by_name[ANCHOR["config"]]
    cpu = by_name[CPU_MEASURED["config"]]
    cpu_rate = cpu.step_flops * CPU_MEASURED["items_per_second"] / 1e9
    predicted = {path: (BATCH * per_item + 16 * cpu.parameters) / 1e6
                 for path, per_item in (("native", cpu.native_fp32_bytes), ("oneDNN", cpu.onednn_fp32_bytes))}
    check = by_name[CHECK_TIMING["config"]]
    check_predicted = check.step_flops / (achieved_rate(anchor, GPUS[CHECK_TIMING["gpu"]], "fp32") * 1e12)
    print(f"\nCalibration. CPU (measured, BENCHMARKS.md training): {CPU_MEASURED['config']} trains at "
          f"{CPU_MEASURED['items_per_second']} items/s = {cpu_rate:.0f} GFLOP/s; its peak RSS was "
          f"{CPU_MEASURED['peak_rss_mb']} MB (oneDNN LSTMs, batch {BATCH}); activations x {BATCH} + 16 B/param "
          f"predict {predicted['native']:.0f} MB counted with the native LSTM, {predicted['oneDNN']:.0f} MB with "
          f"oneDNN's. GPU anchor ({ANCHOR['gpu']}, {ANCHOR['config']}, fp32/TF32): "
          f"{achieved_rate(anchor, GPUS[ANCHOR['gpu']], 'fp32'):.2f} TFLOP/s; other GPUs scaled by memory "
          f"bandwidth. Check: {CHECK_TIMING['gpu']} predicted {check_predicted:.2f} s per item, reported "
          f"{CHECK_TIMING['seconds_per_epoch'] / CHECK_TIMING['items']:.2f} s (if that epoch was "
          f"{CHECK_TIMING['items']} items). 16-bit assumed {SIXTEEN_BIT_SPEEDUP:g}x faster than fp32.")
    for precision, label in (("16-bit", "16-bit mixed precision (16-mixed; bf16-mixed on A100/A40)"),
                             ("fp32", "fp32 (TF32 on A100/A40)")):
        print(f"\nEstimated, {label}: GB of GPU memory at batch {BATCH} per GPU (bold: does not fit) / the largest "
              f"batch that fits / hours per epoch of the config's samples_per_epoch on one GPU:\n")
        print(estimate_table(costs, precision, anchor))
    print(f"\nEstimated minutes per validation pass on one GPU, 16-bit: {VALIDATION_AUDIO_MINUTES} min of audio "
          "(MUSDB18's 14 validation tracks at its 4-minute average), the config's window and hop:\n")
    print(validation_table(costs, anchor))
    if args.json:
        Path(args.json).write_text(json.dumps([c.__dict__ for c in costs], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
