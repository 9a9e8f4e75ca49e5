"""The Band-Split RNN submission: the weight files of ``my_submission/weights/`` run through the contract.

The folder holds one ``<instrument>.safetensors`` per instrument, or one multi-target file, or any
mix of files that output each instrument at most once (each file's config says which instruments it
outputs). Instruments no file outputs get the fallback of ``SeparationModel`` (the residual, mixture
minus the networks' estimates, split evenly among them): a folder with only ``vocals.safetensors``
is a complete submission. Hidden files, leftovers of killed writes among them, are ignored.
``BSRNNModel(settings, weights_dir)`` takes other inference settings and another folder; the grader
constructs it with no arguments (the defaults: ``InferenceSettings()``, ``my_submission/weights``).
"""

from __future__ import annotations

import os
from pathlib import Path

from models import load_model, read_config

from .separation_model import INSTRUMENTS, Part, SeparationModel
from .settings import InferenceSettings

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class WeightsNotFoundError(FileNotFoundError):
    """The weights folder does not exist or holds no weight file."""


def find_weight_files(folder: Path) -> dict[Path, list[str]]:
    """The weight files of ``folder`` and the instruments each outputs (each instrument by one file at most)."""
    if not folder.is_dir():
        raise WeightsNotFoundError(f"weights folder {folder} does not exist (expected "
                                   f"{', '.join(i + '.safetensors' for i in INSTRUMENTS)}, or one multi-target file)")
    # hidden files (leftovers of killed atomic writes among them: ``.vocals.tmp-<pid>-<random>.safetensors``) are
    # not weights
    files = sorted(p for p in folder.glob("*.safetensors") if not p.name.startswith("."))
    if not files:
        raise WeightsNotFoundError(f"weights folder {folder} has no .safetensors file (expected "
                                   f"{', '.join(i + '.safetensors' for i in INSTRUMENTS)}, or one multi-target file)")
    coverage: dict[str, Path] = {}
    found: dict[Path, list[str]] = {}
    rates = set()
    for path in files:
        config = read_config(path)
        if path.stem in INSTRUMENTS and config.targets != [path.stem]:
            raise ValueError(f"{path} is named after {path.stem} but its model outputs {config.targets}")
        for target in config.targets:
            if target in coverage:
                raise ValueError(f"{target} is output by both {coverage[target].name} and {path.name} in {folder}; "
                                 "keep one")
            coverage[target] = path
        found[path] = config.targets
        rates.add(config.sample_rate)
    if len(rates) > 1:
        raise ValueError(f"the weight files in {folder} disagree on the sample rate ({sorted(rates)} Hz)")
    return found


class BSRNNModel(SeparationModel):
    """Band-Split RNN models loaded from ``weights_dir`` (default ``my_submission/weights``), run with ``settings``
    (default ``InferenceSettings()``); the grader constructs it with no arguments."""

    def __init__(self, settings: InferenceSettings | None = None, weights_dir: str | os.PathLike | None = None
                 ) -> None:
        files = find_weight_files(Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR)
        parts, rate = [], None
        for path in files:
            model = load_model(path, "cpu")
            parts.append(Part(model, tuple(model.targets), path.name))
            rate = model.config.sample_rate
        super().__init__(parts, rate, settings)
        for part in self.parts:
            part.network.to(self.device)
        self.weight_files = list(files)
        self.warm_up()
