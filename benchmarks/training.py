"""Training throughput on CPU: samples per second of the Lightning trainer, of a plain PyTorch loop, and of the
data pipeline, with each one's peak memory.

Every measurement runs in a fresh subprocess (so its peak resident memory is its own), ``--repeats`` times;
the tables give medians. The model is the seed's small vocals model (``train/configs/seed/baseline.yaml``:
N=64, R=8, t+tf loss, 3 s stereo items at 44.1 kHz, batch 2, gradient clipping at 5) on a small rendered set
(``data.kind=synthetic``: 4 songs of 20 s made by ``render``; source activity detection on, as in the recipe).

- ``lightning``: ``train.module.SeparationModule`` under the Trainer ``python -m train`` builds (checkpointing,
  TensorBoard, lr monitor; validation off), timed per optimizer step after ``--warmup`` steps;
- ``loop`` (the baseline): the same forward, loss, backward, clipping and Adam step in a bare PyTorch loop on
  the same items, drawn in the main process;
- ``data``: items drawn from the training set in the main process (one worker's rate; a DataLoader with
  ``data.num_workers`` workers multiplies it).

    python -m benchmarks.training
    python -m benchmarks.training --steps 10 --repeats 5 --config train/configs/seed/baseline.yaml
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .machine import describe_machine, load

ROOT = Path(__file__).resolve().parent.parent
MODES = ("lightning", "loop", "data")
DATA = ["data.kind=synthetic", "data.root=null", "data.valid_tracks=null", "data.synthetic_tracks=4",
        "data.synthetic_valid_tracks=1", "data.synthetic_duration=20", "data.num_workers=0"]


def bench_config(path: str, steps: int, out_dir: str):
    from train.config import load_config

    config = load_config(path, DATA)
    samples = config.optim.batch_size * steps
    return load_config(path, [*DATA, f"data.samples_per_epoch={samples}", "optim.epochs=1",
                              "validation.every_epochs=99", "trainer.sanity_val_tracks=0", "trainer.progress_bar=false",
                              "trainer.accelerator=cpu", "trainer.devices=1", f"out_dir={out_dir}"])


def step_times_lightning(config) -> list[float]:
    import lightning.pytorch as pl

    from train.__main__ import build_trainer
    from train.module import SeparationModule

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_batch_start(self, *args) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, *args) -> None:
            self.times.append(time.perf_counter() - self.start)

    clock = Clock()
    pl.seed_everything(config.seed, verbose=False)
    build_trainer(config, [clock]).fit(SeparationModule(config))
    return clock.times


def step_times_loop(config) -> list[float]:
    import torch

    from models import build_model
    from train.data import build_datasets
    from train.loader import collate_pairs
    from train.losses import SeparationLoss

    torch.manual_seed(config.seed)
    model = build_model(config.model)
    train_set, _ = build_datasets(config.data, model.targets, model.config.sample_rate, config.seed)
    loss_fn = SeparationLoss(config.loss.kind, config.loss.time_weight, config.loss.freq_weight,
                             model.config.n_fft, model.config.hop_length)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.optim.lr)
    batch, times = config.optim.batch_size, []
    for step in range(len(train_set) // batch):
        start = time.perf_counter()
        mixture, sources = collate_pairs([train_set[step * batch + j] for j in range(batch)])
        loss = loss_fn(model(mixture), sources)["loss"]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.clip)
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def item_times(config) -> list[float]:
    from train.data import build_datasets

    train_set, _ = build_datasets(config.data, config.model.targets, config.model.sample_rate, config.seed)
    times = []
    for i in range(len(train_set)):
        start = time.perf_counter()
        train_set[i]
        times.append(time.perf_counter() - start)
    return times


def worker(mode: str, config_path: str, steps: int, warmup: int, out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(config_path, steps + warmup, tmp)
        if mode == "data":
            per_item = item_times(config)[warmup:]
            rate = 1 / statistics.median(per_item)
        else:
            per_step = (step_times_lightning if mode == "lightning" else step_times_loop)(config)[warmup:]
            rate = config.optim.batch_size / statistics.median(per_step)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out).write_text(json.dumps({"rate": rate, "peak_mb": peak_mb}))


def measure(mode: str, config_path: str, steps: int, warmup: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, "-m", "benchmarks.training", "--worker", mode, "--config", config_path,
                        "--steps", str(steps), "--warmup", str(warmup), "--out", out.name],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(Path(out.name).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="train/configs/seed/baseline.yaml")
    parser.add_argument("--steps", type=int, default=6, help="timed optimizer steps (items for data) per run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode (fresh process each)")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.config, args.steps, args.warmup, args.out)
        return 0
    print(f"machine: {describe_machine()}; load average at start {load():.2f}", flush=True)
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for repeat in range(args.repeats):
        for mode in MODES:  # interleaved, so a change in machine load hits every mode alike
            steps = args.steps * 8 if mode == "data" else args.steps
            results[mode].append(measure(mode, args.config, steps, args.warmup))
            print(f"run {repeat + 1} {mode}: {results[mode][-1]['rate']:.3f} samples/s", flush=True)
    rate = {mode: statistics.median(r["rate"] for r in runs) for mode, runs in results.items()}
    peak = {mode: max(r["peak_mb"] for r in runs) for mode, runs in results.items()}
    print(f"\nload average at end {load():.2f}\n")
    print("| measurement | samples/s (median) | vs plain loop | peak RSS (MB) |")
    print("|---|---|---|---|")
    print(f"| Lightning trainer (train.module) | {rate['lightning']:.3f} | {rate['lightning'] / rate['loop']:.2f}x "
          f"| {peak['lightning']:.0f} |")
    print(f"| plain PyTorch loop (baseline) | {rate['loop']:.3f} | 1.00x | {peak['loop']:.0f} |")
    print(f"| data pipeline, 1 process | {rate['data']:.1f} | {rate['data'] / rate['lightning']:.0f}x the trainer's "
          f"consumption | {peak['data']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
