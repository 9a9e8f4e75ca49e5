"""Evaluate a separation model locally, the way the grader runs and scores it.

    python evaluate_locally.py [--data DIR] [--outputs DIR] [--model package.module.Class] [--metric both] ...

Data: ``--data``, else ``./public_dataset/MUSDB18-7-WAV/test/`` when it exists (the official
default), else the embedded default: a small deterministic set of songs made by ``render`` (never used in
training) in the MUSDB18-HQ layout, rendered once into ``.cache/default-testset/``. Model: ``--model``, else
``my_submission.user_config``'s ``MySeparationModel`` (the bundled weights); without weights it says so and
falls back to the identity baseline. Writes predictions, per-track scores, results.csv, results.md,
sdr_per_track.png, scores.txt and report.html (tables, plots and audio players: open it in a browser) into
``--outputs`` (default ``./evaluator_outputs/``), then prints the official five lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from pathlib import Path

from evaluator.cache import cache_dir
from evaluator.harness import METRICS, evaluate
from evaluator.metrics import BACKENDS
from evaluator.report import markdown_table, official_lines, sources_line, timing_lines, write_reports
from evaluator.tracks import STEMS, find_tracks
from models.cli import add_debug_flag, run_main
from models.contract import TIME_FACTOR
from my_submission.bsrnn_model import WEIGHTS_DIR, BSRNNModel, WeightsNotFoundError, find_weight_files
from my_submission.identity_model import IdentityModel
from my_submission.separation_model import describe_sources
from my_submission.user_config import MySeparationModel
from tools.model_flags import (
    add_settings_flags,
    class_settings,
    construct_model,
    import_model_class,
    settings_from_flags,
)

OFFICIAL_DATA = Path("public_dataset/MUSDB18-7-WAV/test")
DEFAULT_TEST_SET_DIR = cache_dir("default-testset")
IDENTITY = "my_submission.identity_model.IdentityModel"


def resolve_data(data: Path | None) -> Path:
    """``--data``, else the official folder when present, else the embedded rendered set (made once)."""
    if data is not None:
        return data
    if OFFICIAL_DATA.is_dir():
        print(f"data: {OFFICIAL_DATA} (the official default)")
        return OFFICIAL_DATA
    # imported here: the renderer's packages are development tools, not in the grader's image (--data needs none)
    from render import DEFAULT_TEST_SET, ensure_dataset

    print(f"data: no {OFFICIAL_DATA} (`python -m tools.download musdb18-7-wav` fetches it); using the embedded "
          "default, songs made by render/ "
          f"({DEFAULT_TEST_SET['n_tracks']} tracks of {DEFAULT_TEST_SET['duration']:g} s, seed "
          f"{DEFAULT_TEST_SET['seed']}) in {DEFAULT_TEST_SET_DIR}")
    return ensure_dataset(DEFAULT_TEST_SET_DIR, progress=True, **DEFAULT_TEST_SET)


def weights_identity(folder: Path) -> dict[str, str]:
    """The content of every weight file in ``folder`` (hidden files skipped), as SHA-256 hashes by file name."""
    if not folder.is_dir():
        return {}
    digests = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        with path.open("rb") as f:
            digests[path.name] = hashlib.file_digest(f, "sha256").hexdigest()
    return digests


def resolve_model(name: str | None, weights_dir: Path | None = None) -> tuple[type, str, dict]:
    """The model class to run, its dotted name, and what identifies its weights (for re-use of scores).

    Any model but the identity fallback is identified with the content of the weights folder (``weights_dir``,
    else ``my_submission/weights``): a model class may read it without saying so."""
    weights = {"weights": weights_identity(weights_dir or WEIGHTS_DIR)}
    if name is not None:
        return import_model_class(name), name, weights
    if MySeparationModel is not BSRNNModel:
        cls = MySeparationModel
        return cls, f"{cls.__module__}.{cls.__qualname__}", weights
    try:
        files = find_weight_files(weights_dir or WEIGHTS_DIR)
    except WeightsNotFoundError as e:
        print(f"model: NO BUNDLED WEIGHTS ({e}).\n"
              "model: falling back to the identity baseline (every instrument = the mixture); train a model and "
              "export it to my_submission/weights/ to evaluate BSRNN", file=sys.stderr)
        return IdentityModel, IDENTITY, {}
    sources = {t: p.name for p, targets in files.items() for t in targets}
    sources = {t: sources.get(t, "fallback") for t in STEMS}
    print(f"model: {describe_sources(sources)}")
    return BSRNNModel, "my_submission.bsrnn_model.BSRNNModel", {**weights, "sources": sources}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="folder of tracks in the MUSDB18-HQ layout")
    parser.add_argument("--outputs", type=Path, default=Path("evaluator_outputs"), help="results folder")
    parser.add_argument("--model", help="dotted path of a model class (default: user_config.MySeparationModel)")
    parser.add_argument("--targets", nargs="+", choices=STEMS, default=list(STEMS), help="instruments to score")
    parser.add_argument("--metric", choices=METRICS, default="both", help="global SDR, museval SDR or both")
    parser.add_argument("--chunk-backend", choices=BACKENDS, default="fast",
                        help="museval SDR computed directly (fast; equal to museval's within 0.001 dB, tested) or by "
                             "museval itself")
    parser.add_argument("--limit", type=int, help="evaluate only the first N tracks")
    parser.add_argument("--time-factor", type=float, default=TIME_FACTOR,
                        help="flag tracks separated slower than this x their duration")
    parser.add_argument("--force", action="store_true", help="re-run tracks already scored")
    add_settings_flags(parser)
    add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    cls, name, identity = resolve_model(args.model, args.weights)
    settings = settings_from_flags(args, base=class_settings(cls))  # as the grader runs it, and the flags
    settings.torch_device()  # a device this machine lacks: one line now, before any track is read
    tracks = find_tracks(resolve_data(args.data))[:args.limit]

    def make_model():
        model = construct_model(cls, settings, args.weights)
        model.active_targets = tuple(args.targets)
        return model

    run = {"model": name, "settings": dataclasses.asdict(settings), **identity}
    results = evaluate(tracks, args.outputs, make_model, run, args.targets, args.metric, args.time_factor,
                       args.force, args.chunk_backend)
    paths = write_reports(results, args.outputs, tracks[0].path.parent)
    weights = f" (weights: {args.weights})" if args.weights else ""
    print(f"\n{name}{weights} on {len(results)} tracks of {tracks[0].path.parent}\n")
    print(markdown_table(results))
    print(sources_line(results) + timing_lines(results))
    print("\n".join(f"{kind}: {path}" for kind, path in paths.items()))
    if args.metric != "museval":
        print("\n" + official_lines(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("evaluate_locally", main))
