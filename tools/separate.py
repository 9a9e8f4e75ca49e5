"""Separate audio files into stems with the submission's model, demucs-style.

    python -m tools.separate PATH... [-o OUT] [--two-stems vocals] [--flac | --mp3 [--mp3-bitrate N]]
                             [--int24 | --float32] [--filename TEMPLATE] [--weights DIR] [--overwrite]

PATH: audio files (anything ffmpeg decodes: WAV, FLAC, MP3, M4A/AAC, OGG...) and folders (searched,
recursively, for such files). Each file is written to ``OUT/<model>/<track>/<stem>.<ext>`` (OUT defaults to
``separated``; ``<model>`` is the weight files' names; ``<track>`` is the file's name without extension, or
its folder's name for a ``mixture.*`` file); ``--filename`` changes the part after ``<model>``, with
``{track}``, ``{stem}`` and ``{ext}``. Every argument and input is checked before the first separation. An
input file is never overwritten; an existing output, or any file in a data folder (one holding
``mixture.wav`` and the stems), is replaced only with ``--overwrite``. The model runs exactly as the grader
runs it (``separate_music_file``); the Python API is ``tools.separator.Separator``.
"""

from __future__ import annotations

import argparse
import math
import os
import string
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.cli import add_debug_flag, run_main
from models.contract import INSTRUMENTS
from my_submission.separation_model import describe_sources

from .audio_io import AUDIO_SUFFIXES, AudioInfo, OutputFormat, probe, write_audio
from .model_flags import add_settings_flags, class_settings, import_model_class, settings_from_flags
from .separator import DEFAULT_MODEL, Separator

DEFAULT_TEMPLATE = "{track}/{stem}.{ext}"
TEMPLATE_KEYS = {"track", "stem", "ext"}


@dataclass(frozen=True)
class Job:
    """One input file, what it holds, and the file each stem goes to."""

    source: Path
    info: AudioInfo
    outputs: dict[str, Path]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.separate", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files and folders")
    parser.add_argument("-o", "--out", type=Path, default=Path("separated"),
                        help="output root; stems go to OUT/<model>/<filename template> (default: separated)")
    parser.add_argument("--filename", default=DEFAULT_TEMPLATE,
                        help=f"output path below OUT/<model>, with {{track}}, {{stem}}, {{ext}} "
                             f"(default: {DEFAULT_TEMPLATE})")
    stems = parser.add_mutually_exclusive_group()
    stems.add_argument("--two-stems", choices=INSTRUMENTS, metavar="STEM",
                       help="write STEM and no_STEM (the other three summed)")
    stems.add_argument("--targets", nargs="+", choices=INSTRUMENTS,
                       help="instruments to compute and write (default: all four)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--flac", action="store_true", help="write FLAC (int16, or int24 with --int24)")
    kind.add_argument("--mp3", action="store_true", help="write MP3 (with ffmpeg's libmp3lame)")
    parser.add_argument("--mp3-bitrate", type=int, default=320, help="MP3 bitrate in kbit/s (default: 320)")
    depth = parser.add_mutually_exclusive_group()
    depth.add_argument("--int24", action="store_true", help="24-bit integer samples (default: 16-bit)")
    depth.add_argument("--float32", action="store_true", help="32-bit float samples (WAV only)")
    parser.add_argument("--offset", type=float, default=0.0, help="start this many seconds into each file")
    parser.add_argument("--duration", type=float, help="separate only this many seconds of each file")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files, also in a data folder (never an input file)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="dotted path of the model class")
    add_settings_flags(parser)
    add_debug_flag(parser)
    return parser


def output_format(args: argparse.Namespace) -> OutputFormat:
    kind = "flac" if args.flac else "mp3" if args.mp3 else "wav"
    return OutputFormat(kind, "int24" if args.int24 else "float32" if args.float32 else "int16", args.mp3_bitrate)


def check_template(template: str) -> None:
    """``template`` uses only ``{track}``, ``{stem}``, ``{ext}``, and names each stem apart (it holds ``{stem}``)."""
    try:
        keys = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        raise ValueError(f"--filename {template!r}: {e}") from None
    if not keys <= TEMPLATE_KEYS or "" in keys:
        raise ValueError(f"--filename {template!r}: only {{track}}, {{stem}} and {{ext}} may appear, got "
                         f"{sorted(keys - TEMPLATE_KEYS) or ['{}']}")
    if "stem" not in keys:
        raise ValueError(f"--filename {template!r} must contain {{stem}}, or every stem goes to the same file")
    if template.startswith("/") or ".." in Path(template).parts:
        raise ValueError(f"--filename {template!r} must stay inside OUT/<model> (no leading / or ..)")


def find_inputs(paths: Sequence[Path]) -> list[Path]:
    """The audio files named by ``paths``: files as given, folders searched recursively (hidden entries skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not inside:
                raise ValueError(f"{path}: the folder holds no audio file ({', '.join(AUDIO_SUFFIXES)})")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise ValueError(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def track_name(path: Path) -> str:
    """The file's name without extension; for ``mixture.*`` (a MUSDB-layout track) its folder's name."""
    stem = path.name.split(".")[0] if path.name.lower().endswith(".stem.mp4") else path.stem
    return path.resolve().parent.name if stem == "mixture" else stem


def is_data_folder(folder: Path) -> bool:
    """A track folder of a dataset: ``mixture.wav`` next to at least one stem file."""
    return (folder / "mixture.wav").is_file() and any((folder / f"{s}.wav").is_file() for s in INSTRUMENTS)


def writable_folder(folder: Path) -> None:
    """Fail unless ``folder`` exists and is writable, or can be created."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"-o {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"-o {folder}: {existing} is not writable")


def probe_inputs(args: argparse.Namespace) -> dict[Path, AudioInfo]:
    """Every input file found and probed (readable audio, ``--offset`` inside it), before the model is loaded."""
    probed = {}
    for source in find_inputs(args.paths):
        info = probe(source)
        if args.offset >= info.duration:
            raise ValueError(f"--offset {args.offset:g} s is past the end of {source} ({info.duration:.2f} s)")
        probed[source] = info
    return probed


def plan(args: argparse.Namespace, probed: dict[Path, AudioInfo], stems: Sequence[str], model_name: str,
         fmt: OutputFormat) -> list[Job]:
    """Every output path decided and checked, before anything is separated."""
    inputs = {p.resolve() for p in probed}
    jobs, claimed = [], {}
    for source, info in probed.items():
        outputs = {}
        for stem in stems:
            relative = args.filename.format(track=track_name(source), stem=stem, ext=fmt.extension)
            out = args.out / model_name / relative
            key = out.resolve()
            if key in inputs:
                raise ValueError(f"{out} is an input file; choose another -o or --filename (inputs are never "
                                 "overwritten)")
            if key in claimed:
                raise ValueError(f"{claimed[key]} and {source} would both write {out}; separate them in two runs "
                                 "or use another --filename")
            if out.exists() and not args.overwrite:
                where = " in a data folder" if is_data_folder(out.parent) else ""
                raise ValueError(f"{out} exists{where}; pass --overwrite to replace it, or choose another -o")
            claimed[key] = source
            outputs[stem] = out
        jobs.append(Job(source, info, outputs))
    return jobs


def stems_to_write(stems: dict[str, np.ndarray], two_stems: str | None) -> dict[str, np.ndarray]:
    """``stems`` as written: as they are, or ``STEM`` and ``no_STEM`` (the others summed) with ``--two-stems``."""
    if two_stems is None:
        return stems
    rest = sum(audio for name, audio in stems.items() if name != two_stems)
    return {two_stems: stems[two_stems], f"no_{two_stems}": np.clip(rest, -1.0, 1.0)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("offset", "duration"):
        value = getattr(args, name)
        if value is not None and (not math.isfinite(value) or value < 0 or (name == "duration" and value == 0)):
            parser.error(f"--{name} must be a finite number of seconds, >= 0 (duration > 0), got {value}")
    try:
        fmt = output_format(args)
        check_template(args.filename)
        writable_folder(args.out)
        cls = import_model_class(args.model)
        settings = settings_from_flags(args, progress=True, base=class_settings(cls))
    except ValueError as e:
        parser.error(str(e))
    probed = probe_inputs(args)  # a missing or unreadable input is told before the model loads
    targets = INSTRUMENTS if args.two_stems else tuple(args.targets or INSTRUMENTS)
    stems = (args.two_stems, f"no_{args.two_stems}") if args.two_stems else targets
    separator = Separator(args.weights, settings=settings, targets=targets, model=cls, progress=True)
    jobs = plan(args, probed, stems, separator.name, fmt)
    sources = separator.target_sources()
    if "fallback" in sources.values():
        print(f"model: {describe_sources({t: s for t, s in sources.items() if t in targets})}")
    summary = []
    for i, job in enumerate(jobs, 1):
        print(f"[{i}/{len(jobs)}] {job.source}", file=sys.stderr)
        start = time.perf_counter()
        separated, rate = separator.separate_file(job.source, args.offset, args.duration)
        seconds = time.perf_counter() - start
        for stem, audio in stems_to_write(separated, args.two_stems).items():
            write_audio(job.outputs[stem], audio, rate, fmt)
        length = next(iter(separated.values())).shape[0] / rate
        summary.append(f"{job.source}: {length:.1f} s of audio in {seconds:.1f} s (real-time factor "
                       f"{seconds / length:.2f}) -> {job.outputs[stems[0]].parent}")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(run_main("separate", main))
