"""The kit's allocator setting (``models.allocator.keep_freed_memory``) against glibc's defaults, and jemalloc.

Each run is a fresh process started plainly (no environment variables), so it sees glibc as the grader's
process would; the settings alternate (default, kept, default, kept, ...) and each gets ``--repeats``
runs. ``--jemalloc PATH`` adds a third setting: jemalloc preloaded (``LD_PRELOAD=PATH``) and told never to
return freed pages (``MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1``), the recipe for long CPU training runs
(Debian: ``apt install libjemalloc2``, ``/usr/lib/x86_64-linux-gnu/libjemalloc.so.2``). Reported: medians of
wall time, user and system CPU time and minor page faults of the timed part, and peak resident memory, with the
load average around each run.

- ``inference``: four paper-size per-target models (random weights; ``--targets`` picks fewer) through the submission's
  ``SeparationModel.separate_music_file`` (default settings: precision auto, 3 s windows, no overlap,
  batch 4) on a ``--seconds`` synthetic stereo track, timed after the constructor's warm-up;
- ``training``: ``--steps`` optimizer steps after one warm-up step of a plain PyTorch loop on the model, loss,
  batch size and precision (fp32, or bf16 autocast for ``bf16-mixed``) of ``--config`` and its ``--set key=value``
  overrides (default: the seed's vocals model, N=64, R=8, t+tf loss, batch 2, fp32;
  ``train/configs/seed/baseline.yaml``): Adam, gradient clipping at 5, 3 s stereo items.

    python -m benchmarks.allocator --modes inference,training --repeats 3 [--jemalloc PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .machine import describe_machine, load

ROOT = Path(__file__).resolve().parent.parent
MODES = ("inference", "training")
ALLOCATORS = ("glibc default", "kept", "jemalloc")
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"  # keep freed pages: no madvise, no faults on reuse
INSTRUMENTS = ("bass", "drums", "other", "vocals")


def usage() -> tuple[float, float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime, r.ru_minflt


def timed_inference(keep: bool, seconds: float, targets: list[str]) -> Iterator[None]:
    import torch

    from models import BSRNNConfig, build_model
    from my_submission.separation_model import Part, SeparationModel
    from my_submission.settings import InferenceSettings

    from .gpu_check import synthetic_track

    torch.manual_seed(0)
    parts = [Part(build_model(BSRNNConfig(targets=[t])).eval(), (t,)) for t in INSTRUMENTS]
    model = SeparationModel(parts, 44100, InferenceSettings(device="cpu"), keep_freed_memory=keep)
    model.active_targets = tuple(targets)
    model.parts = [p for p in model.parts if set(p.targets) & set(targets)]
    model.warm_up()
    mixture = synthetic_track(seconds, 44100).T.double().numpy()
    yield
    model.separate_music_file(mixture, 44100)


def timed_training(keep: bool, steps: int, config_path: Path, overrides: list[str]) -> Iterator[None]:
    import torch

    from models import build_model
    from models.allocator import keep_freed_memory
    from train.config import load_config
    from train.losses import SeparationLoss

    if keep:
        keep_freed_memory()
    config = load_config(config_path, overrides)
    torch.manual_seed(0)
    model = build_model(config.model)
    loss = SeparationLoss(config.loss.kind)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch, targets = config.optim.batch_size, len(config.model.targets)
    mixture, sources = 0.1 * torch.randn(batch, 2, 3 * 44100), 0.1 * torch.randn(batch, targets, 2, 3 * 44100)
    bf16 = config.trainer.precision == "bf16-mixed"

    def step() -> None:
        optimizer.zero_grad()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            estimate = model(mixture)
        loss(estimate.float(), sources)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    step()
    yield
    for _ in range(steps):
        step()


def worker(mode: str, keep: bool, seconds: float, steps: int, targets: list[str], config: Path,
           overrides: list[str]) -> dict:
    """Run ``mode`` once in this process; the timed part is what follows the generator's ``yield``."""
    if mode == "inference":
        run = timed_inference(keep, seconds, targets)
    else:
        run = timed_training(keep, steps, config, overrides)
    next(run)  # setup, not timed
    load_before = load()
    user, system, faults = usage()
    start = time.perf_counter()
    for _ in run:
        pass
    wall = time.perf_counter() - start
    user2, system2, faults2 = usage()
    return {"wall": wall, "user": user2 - user, "system": system2 - system, "faults": faults2 - faults,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load": (load_before + load()) / 2}


def run_in_subprocess(mode: str, allocator: str, seconds: float, steps: int, threads: int, targets: list[str],
                      config: Path, overrides: list[str], jemalloc: Path | None = None) -> dict:
    """One worker run in a fresh process with ``allocator`` (one of ``ALLOCATORS``)."""
    command = [sys.executable, "-m", "benchmarks.allocator", "--worker", mode, "--seconds", str(seconds),
               "--steps", str(steps), "--threads", str(threads), "--targets", ",".join(targets),
               "--config", str(config), *(f"--set={item}" for item in overrides)]
    command += ["--keep"] if allocator == "kept" else []
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "MALLOC_CONF")}
    if allocator == "jemalloc":
        env.update(LD_PRELOAD=str(jemalloc), MALLOC_CONF=JEMALLOC_CONF)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{mode} ({allocator}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: dict[tuple[str, str], list[dict]]) -> str:
    lines = ["| mode | allocator | runs | wall s | user CPU s | system CPU s | minor faults | peak RSS | speed-up "
             "| load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (mode, allocator), runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        base = statistics.median(r["wall"] for r in results[(mode, ALLOCATORS[0])])
        loads = [r["load"] for r in runs]
        lines.append(f"| {mode} | {allocator} | {len(runs)} | {med['wall']:.2f} | {med['user']:.2f} "
                     f"| {med['system']:.2f} | {med['faults'] / 1e6:.3f} M | {med['peak_mb']:.0f} MB "
                     f"| {base / med['wall']:.2f}x | {min(loads):.1f}-{max(loads):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, some of {MODES}")
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode and allocator setting")
    parser.add_argument("--seconds", type=float, default=30.0, help="inference: seconds of the stereo track")
    parser.add_argument("--targets", default=",".join(INSTRUMENTS),
                        help="inference: the per-target models to run (default all four)")
    parser.add_argument("--steps", type=int, default=3, help="training: timed optimizer steps")
    parser.add_argument("--config", type=Path, default=ROOT / "train/configs/seed/baseline.yaml",
                        help="training: the experiment whose model, loss, batch size and precision are timed")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training: a config override, e.g. --set optim.batch_size=8 (repeatable)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--jemalloc", type=Path, help="also run with this libjemalloc.so preloaded")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if any(m not in MODES for m in modes):
        parser.error(f"--modes: expected some of {MODES}, got {args.modes!r}")
    targets = args.targets.split(",")
    if not targets or any(t not in INSTRUMENTS for t in targets):
        parser.error(f"--targets: expected some of {INSTRUMENTS}, got {args.targets!r}")
    if args.worker is not None:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(worker(args.worker, args.keep, args.seconds, args.steps, targets, args.config,
                                args.set)))
        return
    # checked once here, before any run; a worker gets arguments its parent checked
    if args.jemalloc is not None and not args.jemalloc.is_file():
        parser.error(f"--jemalloc: {args.jemalloc} is not a file (Debian: apt install libjemalloc2, then "
                     "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2)")
    if "training" in modes:
        from train.config import load_config

        try:
            load_config(args.config, args.set)
        except (OSError, ValueError) as e:
            parser.error(f"--config {args.config}: {e}")
    print(f"{describe_machine()}; {args.threads} threads per run", flush=True)
    allocators = ALLOCATORS if args.jemalloc else ALLOCATORS[:2]
    results: dict[tuple[str, str], list[dict]] = {}
    for mode in modes:
        for repeat in range(args.repeats):
            for allocator in allocators:
                r = run_in_subprocess(mode, allocator, args.seconds, args.steps, args.threads, targets, args.config,
                                      args.set, args.jemalloc)
                results.setdefault((mode, allocator), []).append(r)
                print(f"{mode} {allocator} run {repeat + 1}: {r['wall']:.2f} s wall, {r['system']:.2f} s "
                      f"system, {r['faults'] / 1e6:.3f} M faults, load {r['load']:.1f}", flush=True)
    print(f"\ninference: {', '.join(targets)} on a {args.seconds:g} s track; training: {args.steps} steps of "
          f"{args.config} {' '.join(args.set)}. "
          f"Medians of {args.repeats} runs, each in a fresh process, settings alternating.\n")
    print(table(results))


if __name__ == "__main__":
    main()
