"""The Python API behind ``python -m tools.separate``: load a model once, separate arrays or files.

    from tools.separator import Separator

    separator = Separator(weights="my_submission/weights", device="cpu", precision="auto")
    stems, rate = separator.separate_file("song.mp3")          # {"vocals": (frames, channels) float32, ...}
    stems = separator.separate_array(mix, 44100)               # mix: (frames, channels) or (frames,)

The model is the submission's (``my_submission.user_config.MySeparationModel`` with ``weights``), or any
class with the grader's interface (``model="my_submission.identity_model.IdentityModel"``); it runs
through ``separate_music_file`` exactly as the grader calls it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.contract import INSTRUMENTS
from my_submission.settings import InferenceSettings

from .audio_io import read_audio
from .model_flags import class_settings, construct_model, import_model_class

DEFAULT_MODEL = "my_submission.user_config.MySeparationModel"


class Separator:
    """A model loaded once. ``weights``: a weights folder (default ``my_submission/weights``); ``device``,
    ``precision`` and ``settings`` (an ``InferenceSettings``; default: the model class's own, as the grader runs it)
    say how it runs; ``targets``: the instruments to compute (default all four); ``device`` / ``precision``: ``None``
    keeps the settings'; ``model``: a model class or its dotted path."""

    def __init__(self, weights: str | os.PathLike | None = None, device: str | None = None,
                 precision: str | None = None,
                 settings: InferenceSettings | None = None, targets: Sequence[str] = INSTRUMENTS,
                 model: str | type = DEFAULT_MODEL, progress: bool = False) -> None:
        unknown = [t for t in targets if t not in INSTRUMENTS]
        if unknown or not targets:
            raise ValueError(f"targets must be some of {list(INSTRUMENTS)}, got {list(targets)}")
        cls = import_model_class(model) if isinstance(model, str) else model
        given = {"device": device, "precision": precision}
        settings = dataclasses.replace(settings or class_settings(cls), progress=progress,
                                       **{k: v for k, v in given.items() if v is not None})
        self.model = construct_model(cls, settings, Path(weights) if weights is not None else None)
        self.targets = tuple(t for t in INSTRUMENTS if t in targets)
        self.model.active_targets = self.targets

    @property
    def name(self) -> str:
        """A short name for the model: its weight files' names joined by ``+`` (BSRNN), else the class name."""
        files = getattr(self.model, "weight_files", None)
        return "+".join(Path(f).stem for f in files) if files else type(self.model).__name__

    def target_sources(self) -> dict[str, str]:
        """Where each instrument comes from (a network file, or ``fallback``), when the model says."""
        sources = getattr(self.model, "target_sources", None)
        return sources() if sources else {}

    def separate_array(self, array: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        """The stems of ``array`` (``(frames, channels)`` or ``(frames,)``, any rate), each shaped like it, float32."""
        stems, _ = self.model.separate_music_file(array, sample_rate)
        return {t: np.asarray(stems[t], dtype=np.float32) for t in self.targets}

    def separate_file(self, path: str | os.PathLike, offset: float = 0.0, duration: float | None = None
                      ) -> tuple[dict[str, np.ndarray], int]:
        """The stems of ``duration`` seconds (default: all) of an audio file from ``offset``, and its sample rate."""
        audio, rate = read_audio(path, offset, duration)
        if audio.shape[0] == 0:
            raise ValueError(f"{path}: offset {offset} s / duration {duration} s select no audio")
        return self.separate_array(audio, rate), rate
