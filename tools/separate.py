"""Separate an audio file into stems with the submission's model.

    python -m tools.separate song.wav --out DIR [--targets vocals drums] [--offset 30] [--duration 10]

Runs exactly what the grader runs (``separate_music_file`` of ``user_config.MySeparationModel`` by
default, or ``--model package.module.Class``), with the inference settings overridable by flags.
Writes ``DIR/<instrument>.wav`` (16-bit PCM like the grader, or ``--subtype FLOAT``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import soundfile as sf

from models.atomic import atomic_path
from my_submission.separation_model import INSTRUMENTS

from .model_flags import add_settings_flags, construct_model, import_model_class, settings_from_flags

DEFAULT_MODEL = "my_submission.user_config.MySeparationModel"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.separate", description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", type=Path, help="audio file to separate (any format soundfile reads)")
    parser.add_argument("--out", type=Path, required=True, help="folder for <instrument>.wav")
    parser.add_argument("--targets", nargs="+", choices=INSTRUMENTS, default=list(INSTRUMENTS),
                        help="instruments to compute and write (default: all four)")
    parser.add_argument("--offset", type=float, default=0.0, help="start this many seconds into the file")
    parser.add_argument("--duration", type=float, help="separate only this many seconds")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="dotted path of the model class")
    parser.add_argument("--subtype", default="PCM_16", help="soundfile subtype of the written WAVs")
    add_settings_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.audio.is_file():
        sys.exit(f"separate: {args.audio} does not exist")
    info = sf.info(args.audio)
    start = round(args.offset * info.samplerate)
    frames = -1 if args.duration is None else round(args.duration * info.samplerate)
    if args.offset < 0 or start >= info.frames or frames == 0 or (args.duration is not None and args.duration < 0):
        sys.exit(f"separate: --offset {args.offset} / --duration {args.duration} select no audio of {args.audio} "
                 f"({info.duration:.2f} s)")
    model = construct_model(import_model_class(args.model), settings_from_flags(args, progress=True), args.weights)
    model.active_targets = tuple(args.targets)
    mix, rate = sf.read(args.audio, start=start, frames=frames)
    stems, rates = model.separate_music_file(mix, rate)
    for target in args.targets:
        with atomic_path(args.out / f"{target}.wav") as tmp:
            sf.write(tmp, stems[target], rates[target], subtype=args.subtype)
        print(args.out / f"{target}.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main())
