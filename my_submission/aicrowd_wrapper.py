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

import soundfile as sf

from models.atomic import atomic_path
from models.contract import INSTRUMENTS, check_output, raise_aicrowd_error

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
            raise_aicrowd_error(f"dataset folder {self.dataset_dir} does not exist")
        self.predictions_dir.mkdir(parents=True, exist_ok=True)
        if model is None:
            from .user_config import MySeparationModel

            model = MySeparationModel()
        self.model = model

    raise_aicrowd_error = staticmethod(raise_aicrowd_error)
    check_output = staticmethod(check_output)

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
