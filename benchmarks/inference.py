"""Real-time factor, peak memory and output change of the submission's ``separate_music_file`` per setting.

Each configuration ``layout:precision:window:hop:batch`` runs in a fresh subprocess (so its peak
resident memory is its own) and separates the same synthetic stereo track
(``render.render_song``) with randomly initialised paper-size (128 x 12) models:

- ``per-target``: four one-target models with their own band schemes (the paper's setup);
- ``multi``: one multi-target model (shared trunk on the vocals scheme, four mask heads; about 1/4 of the work).

Real-time factor = separation wall time / track duration (model building and track synthesis are
not timed; the first forward's setup is). "CPU s per s" is the process's CPU time per second of
audio (with both cores busy, twice the real-time factor of an unshared machine). Output change:
each configuration is compared with the fp32 run of the same layout, window and hop in this
invocation: the global SDR of its output against the fp32 output (numerical equivalence), and
the change in global SDR against the true stems (with random weights the latter says little; the
former is the honest check).

``--htdemucs-python`` also times htdemucs (random weights, ``benchmarks/htdemucs_worker.py``) on the same
track with the Python of a scratch environment that has ``demucs``, once as started plainly and once with
the kit's allocator setting, and gives each configuration's real-time factor as a multiple of htdemucs's.

    python -m benchmarks.inference --duration 30
    python -m benchmarks.inference --duration 180 --configs per-target:bf16:3:3:4,multi:bf16:3:3:4
    python -m benchmarks.inference --duration 180 --configs per-target:auto:3:3:4 \
        --htdemucs-python /tmp/demucs-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.contract import INSTRUMENTS

from .machine import describe_machine, load

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = ("per-target", "multi")
DEFAULT_CONFIGS = ("per-target:fp32:3:3:4", "per-target:bf16:3:3:4", "per-target:bf16:3:3:1",
                   "per-target:bf16:3:1.5:4", "multi:fp32:3:3:4", "multi:bf16:3:3:4", "multi:fp32:3:1.5:4",
                   "multi:bf16:3:1.5:4", "multi:bf16:3:0.5:4")


@dataclass(frozen=True)
class Config:
    """One way of running the four-target separation."""

    layout: str
    precision: str
    window: float
    hop: float
    batch_size: int

    @classmethod
    def parse(cls, text: str) -> Config:
        parts = text.split(":")
        if len(parts) != 5 or parts[0] not in LAYOUTS:
            raise ValueError(f"configuration {text!r}: expected layout:precision:window:hop:batch with layout in "
                             f"{LAYOUTS}, e.g. per-target:bf16:3:3:4")
        try:
            return cls(parts[0], parts[1], float(parts[2]), float(parts[3]), int(parts[4]))
        except ValueError:
            raise ValueError(f"configuration {text!r}: window and hop must be numbers, batch an integer") from None

    def __str__(self) -> str:
        return f"{self.layout}:{self.precision}:{self.window:g}:{self.hop:g}:{self.batch_size}"


def build_parts(layout: str) -> list:
    """Randomly initialised paper-size networks covering the four instruments."""
    import torch

    from models import BSRNNConfig, build_model
    from my_submission.separation_model import Part

    torch.manual_seed(0)
    if layout == "multi":
        model = build_model(BSRNNConfig(targets=list(INSTRUMENTS), band_scheme="vocals")).eval()
        return [Part(model, tuple(model.targets))]
    return [Part(build_model(BSRNNConfig(targets=[t])).eval(), (t,)) for t in INSTRUMENTS]


def worker(config: Config, duration: float, seed: int, threads: int, out: Path) -> dict:
    """Separate the synthetic track once with ``config``; save the stems to ``out`` (.npz) and return the timings."""
    import torch

    from models.apply import resolve_precision
    from my_submission.separation_model import SeparationModel
    from my_submission.settings import InferenceSettings
    from render import render_song

    torch.set_num_threads(threads)
    stems = render_song(seed, duration)
    mixture = sum(stems.values()).astype(np.float64)  # what soundfile.read gives the grader's model
    settings = InferenceSettings(window=config.window, hop=config.hop, batch_size=config.batch_size,
                                 precision=config.precision, device="cpu")
    model = SeparationModel(build_parts(config.layout), 44100, settings)
    load_before = load()
    start, cpu_start = time.perf_counter(), time.process_time()
    estimates, _ = model.separate_music_file(mixture, 44100)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    np.savez(out, **estimates)
    return {"config": str(config), "precision_used": resolve_precision(config.precision, "cpu"),
            "seconds": seconds, "rtf": seconds / duration, "cpu_per_second": cpu_seconds / duration,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load": (load_before + load()) / 2}


def run_in_subprocess(config: Config, duration: float, seed: int, threads: int, out: Path) -> dict:
    command = [sys.executable, "-m", "benchmarks.inference", "--worker", str(config), "--duration", str(duration),
               "--seed", str(seed), "--threads", str(threads), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"configuration {config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_htdemucs(python: str, mixture: np.ndarray, threads: int, keep: bool, scratch: Path) -> dict:
    """One htdemucs run in a fresh process of ``python`` (see ``benchmarks/htdemucs_worker.py``)."""
    path = scratch / "mixture.npy"
    np.save(path, np.ascontiguousarray(mixture.T, dtype=np.float32))
    command = [python, str(ROOT / "benchmarks" / "htdemucs_worker.py"), "--mix", str(path), "--threads",
               str(threads)] + (["--keep-freed-memory"] if keep else [])
    load_before = load()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"htdemucs failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": (load_before + load()) / 2}


def sdr_columns(result: dict, reference: dict | None, truth: dict[str, np.ndarray]) -> None:
    """Add, in place, the output's SDR against the fp32 output and its change in SDR against the true stems."""
    from evaluator.metrics import global_sdr

    if reference is None:
        result["sdr_vs_fp32"] = result["delta_sdr"] = None
        return
    with np.load(result["npz"]) as ours, np.load(reference["npz"]) as theirs:
        result["sdr_vs_fp32"] = float(np.mean([global_sdr(theirs[i], ours[i]) for i in INSTRUMENTS]))
        result["delta_sdr"] = float(np.mean([global_sdr(truth[i], ours[i]) - global_sdr(truth[i], theirs[i])
                                             for i in INSTRUMENTS]))


def table(results: list[dict]) -> str:
    lines = ["| layout | precision | window / hop | batch | real-time factor | CPU s per s | peak memory "
             "| SDR vs fp32 output | change in SDR vs true stems | load |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = Config.parse(r["config"])
        precision = c.precision if c.precision == r["precision_used"] else f"{c.precision} ({r['precision_used']})"
        if r["precision_used"] == "fp32":
            vs, delta = "(reference)", "0"
        elif r["sdr_vs_fp32"] is None:
            vs = delta = "n/a (no fp32 run)"
        else:
            vs, delta = f"{r['sdr_vs_fp32']:.1f} dB", f"{r['delta_sdr']:+.4f} dB"
        lines.append(f"| {c.layout} | {precision} | {c.window:g} s / {c.hop:g} s | {c.batch_size} | {r['rtf']:.2f} "
                     f"| {r['cpu_per_second']:.2f} | {r['peak_mb']:.0f} MB | {vs} | {delta} | {r['load']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                        help="comma-separated layout:precision:window:hop:batch (layout: per-target or multi)")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of the synthetic stereo track")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic track")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--htdemucs-python", help="Python of an environment with demucs: also time htdemucs")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        configs = [Config.parse(c) for c in args.configs.split(",")] if args.worker is None \
            else [Config.parse(args.worker)]
    except ValueError as e:
        parser.error(str(e))
    if args.worker is not None:
        print(json.dumps(worker(configs[0], args.duration, args.seed, args.threads, Path(args.out))))
        return

    from render import render_song

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    print(f"{describe_machine()}; {args.threads} threads per run; track: synthetic seed {args.seed}, "
          f"{args.duration:g} s stereo", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for i, config in enumerate(configs):
            result = run_in_subprocess(config, args.duration, args.seed, args.threads, Path(scratch) / f"{i}.npz")
            result["npz"] = str(Path(scratch) / f"{i}.npz")
            results.append(result)
            print(f"{config}: real-time factor {result['rtf']:.2f}, peak {result['peak_mb']:.0f} MB, "
                  f"load {result['load']:.1f}", flush=True)
        truth = render_song(args.seed, args.duration)
        for result in results:
            c = Config.parse(result["config"])
            reference = next((r for r in results if r["precision_used"] == "fp32" and
                              (Config.parse(r["config"]).layout, Config.parse(r["config"]).window,
                               Config.parse(r["config"]).hop) == (c.layout, c.window, c.hop)), None)
            sdr_columns(result, reference, truth)
        demucs = {}
        if args.htdemucs_python:
            mixture = sum(truth.values())
            for keep in (False, True):
                demucs[keep] = time_htdemucs(args.htdemucs_python, mixture, args.threads, keep, Path(scratch))
                print(f"htdemucs{' (kit allocator)' if keep else ''}: real-time factor {demucs[keep]['rtf']:.3f}, "
                      f"load {demucs[keep]['load']:.1f}", flush=True)
    print(f"\n{args.duration:g} s synthetic stereo track, one run per configuration, each in a fresh process.\n")
    print(table(results))
    if demucs:
        print("\n| htdemucs (random weights, overlap 0.25) | real-time factor | CPU s per s | peak memory | load |")
        print("|---|---|---|---|---|")
        for keep, r in demucs.items():
            print(f"| {'with the kit allocator setting' if keep else 'started plainly'} | {r['rtf']:.3f} "
                  f"| {r['cpu_per_second']:.2f} | {r['peak_mb']:.0f} MB | {r['load']:.1f} |")
        print("\n| configuration | RTF / htdemucs plain | RTF / htdemucs with the allocator setting |")
        print("|---|---|---|")
        for r in results:
            print(f"| {r['config']} | {r['rtf'] / demucs[False]['rtf']:.2f}x | {r['rtf'] / demucs[True]['rtf']:.2f}x |")


if __name__ == "__main__":
    main()
