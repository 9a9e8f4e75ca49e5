"""Turn a training checkpoint into the submission's weight file: ``python -m train.export CKPT OUT.safetensors``.

CKPT may be a Lightning checkpoint file or a run folder (its best checkpoint is used). The checkpoint is
read with ``torch.load(..., weights_only=True)``; when the run kept an EMA of the weights, the checkpoint's
``state_dict`` holds the averaged weights (Lightning's ``EMAWeightAveraging`` puts them there), and those are
exported. The output is ``models.save_model``'s format: safetensors with the model config in its metadata.

Several sources (checkpoints, run folders or weight files, ``python -m train.export A B C OUT.safetensors``)
export their uniform weight average, a "model soup": for fine-tunes of one starting point it often scores
higher than any of them, at no cost at inference. The sources must share one model config.

The submission loads every ``*.safetensors`` of its folder and refuses two files that output the same
instrument, so when the destination folder already holds a file for one of the exported targets (or the
destination itself exists), export names it and replaces it only with ``--replace`` or after a "yes" at
the prompt (asked only when run in a terminal); otherwise it writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from models import BSRNN, build_model, load_model, read_config, save_model
from models.cli import add_debug_flag, run_main

PREFIX = "model."


def find_checkpoint(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file, else the best checkpoint of the run folder ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        found = sorted((path / "checkpoints").glob("best-*.ckpt"))
        if len(found) == 1:
            return found[0]
        raise FileNotFoundError(f"run folder {path}: expected one checkpoints/best-*.ckpt, found "
                                f"{[p.name for p in found] or 'none'}")
    raise FileNotFoundError(f"checkpoint {path} does not exist")


def model_from_checkpoint(path: str | os.PathLike) -> tuple[BSRNN, bool]:
    """The model stored in a training checkpoint, and whether its weights are an EMA."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for files that are not checkpoints
        if type(e).__name__ == "UnpicklingError":  # torch's message is a page of advice, including to load unsafely
            reason = ("torch.load(weights_only=True) refused it: not a PyTorch file, or it holds objects other than "
                      "tensors and plain values")
        else:
            reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        raise ValueError(f"{path} is not a readable training checkpoint ({reason})") from None
    try:
        model_config = checkpoint["hyper_parameters"]["config"]["model"]
        state = checkpoint["state_dict"]
    except (KeyError, TypeError):
        raise ValueError(f"{path} is not a checkpoint of train.module.SeparationModule "
                         "(expected hyper_parameters.config.model and state_dict)") from None
    model = build_model(model_config)
    weights = {name[len(PREFIX):]: value for name, value in state.items() if name.startswith(PREFIX)}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the model built from its config: {e}") from None
    return model.eval(), "current_model_state" in checkpoint


def load_source(path: str | os.PathLike) -> tuple[BSRNN, bool]:
    """The model in the file ``path`` (a ``.safetensors`` weight file or a checkpoint), and whether its weights are
    an EMA."""
    return (load_model(path), False) if Path(path).suffix == ".safetensors" else model_from_checkpoint(path)


def average_models(models: Sequence[BSRNN], names: Sequence[str]) -> BSRNN:
    """The uniform average of ``models``' weights, in a model of their shared config;
    ``names`` name them in errors."""
    first = models[0]
    for model, name in zip(models[1:], names[1:]):
        if model.config != first.config:
            raise ValueError(f"cannot average {name} with {names[0]}: their model configs differ "
                             f"({model.config.to_json()} vs {first.config.to_json()})")
    states = [m.state_dict() for m in models]  # all float32: the index buffers are not part of the state
    average = {key: torch.stack([s[key] for s in states]).mean(0) for key in states[0]}
    model = build_model(first.config)
    model.load_state_dict(average, strict=True)
    return model.eval()


def combine(sources: Sequence[str | os.PathLike]) -> tuple[BSRNN, list[str], set[bool]]:
    """The model of ``sources`` (one, or the average of several), the files they resolved to (a run folder's best
    checkpoint), and which kinds of weights they held (True: EMA)."""
    names = [str(s) if Path(s).suffix == ".safetensors" else str(find_checkpoint(s)) for s in sources]
    loaded = [load_source(name) for name in names]
    model = loaded[0][0] if len(loaded) == 1 else average_models([m for m, _ in loaded], names)
    return model, names, {ema for _, ema in loaded}


def conflicting_files(out: str | os.PathLike, targets: Sequence[str]) -> dict[Path, list[str]]:
    """The weight files next to ``out`` (and ``out`` itself) that output any of ``targets``: file -> those targets.

    A file whose config cannot be read counts as conflicting only when it is ``out`` itself."""
    out = Path(out)
    found: dict[Path, list[str]] = {}
    for path in sorted(out.parent.glob("*.safetensors")) if out.parent.is_dir() else []:
        try:
            shared = [t for t in read_config(path).targets if t in targets]
        except (OSError, ValueError):
            shared = ["?"] if path.resolve() == out.resolve() else []
        if shared or path.resolve() == out.resolve():
            found[path] = shared
    return found


def confirm_replace(conflicts: dict[Path, list[str]], replace: bool, interactive: bool) -> bool:
    """Whether to replace ``conflicts``: ``replace``, else the user's answer when ``interactive``, else no."""
    listed = ", ".join(f"{p} ({', '.join(t) or 'same path'})" for p, t in conflicts.items())
    print(f"export: the destination folder already has a model for these targets: {listed}", file=sys.stderr)
    if replace:
        return True
    if interactive:
        return input("replace it (the old file is deleted)? [y/N] ").strip().lower() in ("y", "yes")
    return False


DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


def export(sources: str | os.PathLike | Sequence[str | os.PathLike], out: str | os.PathLike,
           dtype: str = "fp32") -> Path:
    """Write the model of ``sources`` (one checkpoint, run folder or weight file, or several: their average) to
    ``out`` with ``models.save_model``."""
    model, _, _ = combine([sources] if isinstance(sources, (str, os.PathLike)) else sources)
    return save_model(model, out, DTYPES[dtype])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a .ckpt file, a run folder (its best checkpoint) or a .safetensors weight file; "
                             "several: their weight average")
    parser.add_argument("out", help="the weight file to write (.safetensors)")
    parser.add_argument("--replace", action="store_true",
                        help="delete the destination folder's files that output the same targets (no prompt)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32",
                        help="stored precision (default fp32; fp16 halves the file, e.g. to carry it off a GPU "
                             "machine; loading converts back to fp32)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if not args.out.endswith(".safetensors"):
        raise ValueError(f"out: {args.out} must end in .safetensors (the submission loads only those files)")
    model, sources, emas = combine(args.sources)
    kind = " and ".join("EMA" if ema else "trained" for ema in sorted(emas, reverse=True))
    conflicts = conflicting_files(args.out, model.targets)
    if conflicts and not confirm_replace(conflicts, args.replace, sys.stdin.isatty()):
        print("export: nothing written; rerun with --replace to replace, or export to another folder",
              file=sys.stderr)
        return 1
    path = save_model(model, args.out, DTYPES[args.dtype])
    for old in conflicts:
        if old.resolve() != path.resolve():
            old.unlink()
            print(f"removed {old} (git checkout -- {old} brings back a committed copy)")
    params = sum(p.numel() for p in model.parameters())
    source = sources[0] if len(sources) == 1 else f"the average of {', '.join(sources)}"
    print(f"{source} -> {path} ({kind} weights, targets {model.targets}, {params / 1e6:.2f} M parameters, "
          f"{args.dtype})")
    return 0


if __name__ == "__main__":
    sys.exit(run_main("export", main))
