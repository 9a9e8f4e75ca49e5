"""Train a list of experiments and tabulate their validation scores the way the seed's README does.

``python -m train.experiments CONFIG... --table OUT.md [--overlay FILE] [--width-scale F] [--depth-scale F]
[--runs-dir DIR] [--set key=value ...] [--no-train]``

Each config is trained in turn with ``python -m train`` (a run that already wrote ``result.yaml`` is not
trained again; an interrupted one resumes from its last checkpoint). The scores are then read back from each run's
TensorBoard log: the validation of the best ``valid/sdr`` gives every target's SDR. The Markdown has the seed's three
vocals tables (loss and size; time and band layers; attention), each listing the runs that differ from the
seed's baseline (t+tf, N=64, R=8, lstm/lstm, no attention, vocals, channels as batch) only in that table's columns,
and a last table with every run and all its targets.

For a reduced-scale study (e.g. on a CPU), ``--overlay`` merges one YAML file of config sections over every
experiment (data, segment length, epochs, precision ...), ``--width-scale`` / ``--depth-scale`` multiply each
experiment's ``feature_dim`` / ``num_repeat`` (so the size table keeps its shape), and ``--runs-dir`` keeps those runs
apart from full-scale ones. The tables then compare against the equally scaled baseline, and say how the runs were
trained.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from models import TARGETS
from models.atomic import write_text
from train.config import ExperimentConfig, load_config

MONITOR = "valid/sdr"
BASELINE = {"kind": "t+tf", "feature_dim": 64, "num_repeat": 8, "time_layer": "lstm", "band_layer": "lstm",
            "n_heads": 0}
LAYER_ORDER = [("lstm", "lstm"), ("gru", "lstm"), ("conv", "lstm"), ("lstm", "gru"), ("lstm", "conv")]


@dataclass
class Run:
    """One experiment: its file, its resolved config and its best validation scores (None: no validation yet)."""

    path: Path
    config: ExperimentConfig
    scores: dict[str, float] | None = None

    def fields(self) -> dict[str, object]:
        model = self.config.model
        return {"kind": self.config.loss.kind, "feature_dim": model.feature_dim, "num_repeat": model.num_repeat,
                "time_layer": model.time_layer, "band_layer": model.band_layer, "n_heads": model.n_heads}

    def sdr(self, target: str | None = None) -> str:
        key = MONITOR if target is None else f"{MONITOR}_{target}"
        if self.scores is None or key not in self.scores:
            return ""
        return f"{self.scores[key]:.2f}"


def read_scores(out_dir: str | os.PathLike) -> dict[str, float] | None:
    """The ``valid/*`` scalars logged at the validation with the best ``valid/sdr`` (None: nothing logged).

    A resumed run may log a step twice; the value written last counts.
    """
    logs = Path(out_dir) / "logs"
    if not logs.is_dir():
        return None
    events = EventAccumulator(str(logs), size_guidance={"scalars": 0})
    events.Reload()
    tags = [t for t in events.Tags()["scalars"] if t.startswith("valid/")]
    if MONITOR not in tags:
        return None
    series = {tag: latest_per_step(events.Scalars(tag)) for tag in tags}
    best_step = max(series[MONITOR], key=lambda step: series[MONITOR][step])
    return {tag: values[best_step] for tag, values in series.items() if best_step in values}


def latest_per_step(events: Sequence) -> dict[int, float]:
    """Scalar events as ``{step: value}``, keeping the most recently written value of each step."""
    out: dict[int, float] = {}
    for event in sorted(events, key=lambda e: e.wall_time):
        out[event.step] = float(event.value)
    return out


def scaled(value: int, factor: float, multiple: int = 1) -> int:
    """``value * factor`` rounded to a positive multiple of ``multiple``."""
    return max(multiple, round(value * factor / multiple) * multiple)


def scaled_baseline(width: float = 1.0, depth: float = 1.0) -> dict[str, object]:
    """The seed baseline's fields with ``feature_dim`` and ``num_repeat`` scaled as the runs were."""
    return {**BASELINE, "feature_dim": scaled(BASELINE["feature_dim"], width),
            "num_repeat": scaled(BASELINE["num_repeat"], depth)}


def differs_only_in(run: Run, columns: Sequence[str], baseline: dict[str, object] = BASELINE) -> bool:
    """Whether ``run`` is a seed-style vocals run that matches ``baseline`` outside ``columns``."""
    model = run.config.model
    if model.targets != ["vocals"] or model.stereo != "batch":
        return False
    return all(value == baseline[name] for name, value in run.fields().items() if name not in columns)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("-" * (len(h) + 2) for h in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def seed_table(runs: Sequence[Run], baseline: dict[str, object], columns: Sequence[str], header: Sequence[str],
               cells: Callable[[Run], list[str]], order: Callable[[Run], tuple]) -> str:
    chosen = sorted((r for r in runs if differs_only_in(r, columns, baseline)), key=order)
    return markdown_table([*header, "SDR"], [[*cells(r), r.sdr("vocals")] for r in chosen])


def describe_training(config: ExperimentConfig) -> str:
    """One line saying what a run was trained on and for how long."""
    data, optim = config.data, config.optim
    if data.kind == "synthetic":
        source = (f"songs rendered by render/ ({data.synthetic_tracks} training and "
                  f"{data.synthetic_valid_tracks} validation tracks of {data.synthetic_duration:g} s, "
                  f"seed {data.synthetic_seed})")
    else:
        source = f"{data.kind} ({data.root})"
    length = f"at most {optim.max_steps} steps" if optim.max_steps else f"{optim.epochs} epochs"
    return (f"Data: {source}. Items of {data.segment_seconds:g} s, batch {optim.batch_size} x {optim.accumulate} "
            f"per process, {data.samples_per_epoch} items per epoch, {length}, precision {config.trainer.precision}.")


def tables(runs: Sequence[Run], width: float = 1.0, depth: float = 1.0) -> str:
    """The Markdown document: the seed's three tables, then every run with all its targets.

    ``width`` / ``depth``: the factors ``feature_dim`` / ``num_repeat`` were scaled by (the tables then compare
    with the equally scaled baseline and say so).
    """
    baseline = scaled_baseline(width, depth)
    n, r = baseline["feature_dim"], baseline["num_repeat"]
    loss_order = {"t": 0, "tf": 1, "t+tf": 2}
    size = seed_table(
        runs, baseline, ["kind", "feature_dim", "num_repeat"], ["loss", "feature_dim", "num_repeat"],
        lambda r: [r.config.loss.kind, str(r.config.model.feature_dim), str(r.config.model.num_repeat)],
        lambda r: (loss_order[r.config.loss.kind], r.config.model.feature_dim, r.config.model.num_repeat))
    layers = seed_table(
        runs, baseline, ["time_layer", "band_layer"], ["time layer", "band layer"],
        lambda r: [r.config.model.time_layer, r.config.model.band_layer],
        lambda r: _layer_rank(r.config.model.time_layer, r.config.model.band_layer))
    attention = seed_table(
        runs, baseline, ["n_heads"], ["number of heads", "attention encoder dim"],
        lambda r: [str(r.config.model.n_heads), str(r.config.model.enc_dim) if r.config.model.n_heads else "-"],
        lambda r: (r.config.model.n_heads, r.config.model.enc_dim if r.config.model.n_heads else 0))
    targets = list(TARGETS)
    every = markdown_table(
        ["run", "config", *targets, "mean"],
        [[r.config.name, str(r.path), *(r.sdr(t) for t in targets), r.sdr()] for r in runs])
    heading = "# Validation results (global SDR, dB, at the best validation)"
    if width != 1.0 or depth != 1.0:
        heading += (f"\nReduced scale: feature_dim x {width:g} and num_repeat x {depth:g} of each experiment's "
                    f"(the seed's 64x8 baseline is {n}x{r} here).")
    if runs:
        heading += "\n" + describe_training(runs[0].config)
    return "\n\n".join([
        heading,
        "Loss domain and size (vocals; lstm layers, no attention):", size,
        f"Band-split layers (vocals; t+tf, {n}x{r}, no attention):", layers,
        f"Attention (vocals; t+tf, {n}x{r}, lstm layers):", attention,
        "Every run:", every]) + "\n"


def _layer_rank(time_layer: str, band_layer: str) -> tuple:
    pair = (time_layer, band_layer)
    return (LAYER_ORDER.index(pair), "") if pair in LAYER_ORDER else (len(LAYER_ORDER), f"{time_layer}/{band_layer}")


def run_overrides(path: str | os.PathLike, overlays: Sequence[str | os.PathLike], width: float, depth: float,
                  runs_dir: str | None, user: Sequence[str]) -> list[str]:
    """The overrides one run is trained with (after its overlays): the scaled size, its folder, then the user's."""
    config = load_config(path, user, overlays)
    out = []
    if width != 1.0 or depth != 1.0:
        out += [f"model.feature_dim={scaled(config.model.feature_dim, width, max(1, config.model.n_heads))}",
                f"model.num_repeat={scaled(config.model.num_repeat, depth)}"]
    if runs_dir is not None:
        out.append(f"out_dir={Path(runs_dir) / config.name}")
    return [*out, *user]


def train_run(run: Run, overlays: Sequence[str | os.PathLike], overrides: Sequence[str]) -> bool:
    """Train (or resume) one run in a child process; True when it finished."""
    if (Path(run.config.out_dir) / "result.yaml").is_file():
        print(f"[experiments] {run.config.name}: already trained ({run.config.out_dir})", flush=True)
        return True
    print(f"[experiments] {run.config.name}: training into {run.config.out_dir}", flush=True)
    flags = [item for overlay in overlays for item in ("--overlay", str(overlay))]
    done = subprocess.run([sys.executable, "-m", "train", "--config", str(run.path), *flags, *overrides])
    if done.returncode != 0:
        print(f"[experiments] {run.config.name}: training failed (exit code {done.returncode})", flush=True)
    return done.returncode == 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", help="experiment YAML files")
    parser.add_argument("--table", required=True, help="Markdown file to write the results to")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="key=value",
                        help="override applied to every config (repeatable), e.g. --set data.root=data/musdb18hq")
    parser.add_argument("--overlay", action="append", default=[],
                        help="YAML file of config sections merged over every experiment (repeatable)")
    parser.add_argument("--width-scale", type=float, default=1.0, help="multiply every feature_dim by this")
    parser.add_argument("--depth-scale", type=float, default=1.0, help="multiply every num_repeat by this")
    parser.add_argument("--runs-dir", help="train each run in DIR/<config name> instead of its out_dir")
    parser.add_argument("--no-train", action="store_true", help="only read the logs and write the tables")
    args = parser.parse_args(argv)
    for name in ("width_scale", "depth_scale"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')}: expected a positive factor, got {getattr(args, name)}")
    try:
        runs = []
        for p in args.configs:
            overrides = run_overrides(p, args.overlay, args.width_scale, args.depth_scale, args.runs_dir,
                                      args.overrides)
            runs.append((Run(Path(p), load_config(p, overrides, args.overlay)), overrides))
    except (OSError, ValueError) as e:
        parser.error(str(e))
    failed = []
    for run, overrides in runs:
        if not args.no_train and not train_run(run, args.overlay, overrides):
            failed.append(run.config.name)
        run.scores = read_scores(run.config.out_dir)
    write_text(args.table, tables([run for run, _ in runs], args.width_scale, args.depth_scale))
    print(f"[experiments] wrote {args.table}" + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
