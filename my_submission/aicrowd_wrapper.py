"""The grader's glue, reproduced: read each song's mixture, call the model, check its answer, write the stems.

Like the official wrapper, it reads ``<dataset_dir>/<song>/mixture.wav`` with ``soundfile.read``
defaults (float64, ``(samples, channels)``), requires exactly the four instrument keys, and writes
``<predictions_dir>/<song>/<instrument>.wav`` with ``soundfile.write`` defaults (16-bit PCM WAV).
On the server ``AICROWD_DATASET_DIR`` and ``AICROWD_PUBLIC_SHARED_DIR`` (predictions go to its
``predictions`` folder) override the arguments. It also checks what the scorer will need (shape,
sample rate, finite values in [-1, 1]) so a bad model fails here with a clear message.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from models.atomic import atomic_path

INSTRUMENTS = ("bass", "drums", "other", "vocals")
DEFAULT_DATASET_DIR = "./public_dataset/MUSDB18-7-WAV/test/"
DEFAULT_PREDICTIONS_DIR = "./evaluator_outputs/"


class AIcrowdWrapper:
    """Runs ``model`` (default: ``user_config.MySeparationModel()``) on songs the way the grader does."""

    def __init__(self, dataset_dir: str | os.PathLike = DEFAULT_DATASET_DIR,
                 predictions_dir: str | os.PathLike = DEFAULT_PREDICTIONS_DIR, model: object | None = None):
        shared_dir = os.getenv("AICROWD_PUBLIC_SHARED_DIR")
        self.dataset_dir = Path(os.getenv("AICROWD_DATASET_DIR") or dataset_dir)
        self.predictions_dir = Path(shared_dir) / "predictions" if shared_dir else Path(predictions_dir)
        if not self.dataset_dir.is_dir():
            self.raise_aicrowd_error(f"dataset folder {self.dataset_dir} does not exist")
        self.predictions_dir.mkdir(parents=True, exist_ok=True)
        if model is None:
            from .user_config import MySeparationModel

            model = MySeparationModel()
        self.model = model

    def raise_aicrowd_error(self, msg: str) -> None:
        raise NameError(msg)

    def check_output(self, song: str, mixture: np.ndarray, sample_rate: int, stems: dict, rates: dict) -> None:
        """Fail clearly when the model's answer for ``song`` would break the grader or the scorer."""
        if not isinstance(stems, dict) or not isinstance(rates, dict):
            self.raise_aicrowd_error(f"{song}: separate_music_file must return two dicts, got "
                                     f"{type(stems).__name__} and {type(rates).__name__}")
        for name, keys in (("separated arrays", set(stems)), ("sample rates", set(rates))):
            if keys != set(INSTRUMENTS):
                self.raise_aicrowd_error(f"{song}: the {name} are keyed {sorted(keys)}, expected {list(INSTRUMENTS)}")
        for instrument in INSTRUMENTS:
            stem = np.asarray(stems[instrument])
            if stem.shape != mixture.shape:
                self.raise_aicrowd_error(f"{song}/{instrument}: shape {stem.shape} differs from the mixture's "
                                         f"{mixture.shape}; the scorer needs exactly the same shape")
            if rates[instrument] != sample_rate:
                self.raise_aicrowd_error(f"{song}/{instrument}: sample rate {rates[instrument]}, the mixture's is "
                                         f"{sample_rate}")
            if not np.isfinite(stem).all() or np.abs(stem).max(initial=0) > 1:
                self.raise_aicrowd_error(f"{song}/{instrument}: values must be finite and inside [-1, 1] "
                                         "(16-bit WAV would wrap them)")

    def save_prediction(self, song: str, stems: dict, rates: dict) -> Path:
        """Write each stem to ``<predictions_dir>/<song>/<instrument>.wav`` (soundfile defaults), atomically."""
        folder = self.predictions_dir / song
        for instrument in INSTRUMENTS:
            with atomic_path(folder / f"{instrument}.wav") as tmp:
                sf.write(tmp, stems[instrument], rates[instrument])
        return folder

    def separate_music_file(self, song: str) -> bool:
        """Separate ``<dataset_dir>/<song>/mixture.wav`` and write its four stems."""
        mixture, sample_rate = sf.read(self.dataset_dir / song / "mixture.wav")
        stems, rates = self.model.separate_music_file(mixture, sample_rate)
        self.check_output(song, mixture, sample_rate, stems, rates)
        self.save_prediction(song, stems, rates)
        return True
