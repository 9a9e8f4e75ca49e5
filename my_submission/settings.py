"""Inference settings of the submission: the one place that says how a model runs over a track.

Defaults are below; a model takes an ``InferenceSettings`` value (``BSRNNModel(settings=...)``), and
the command-line tools build one from their flags (``--window 4``). To change what the grader runs,
change the defaults here or bind settings in ``user_config.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.apply import PRECISIONS


@dataclass(frozen=True)
class InferenceSettings:
    """window / hop: seconds of each chunk and between chunk starts; batch_size: chunks per forward pass;
    precision: one of ``models.apply.PRECISIONS``; device: ``auto`` (CUDA when available, else CPU) or a
    torch device name; progress: show a progress bar over chunks."""

    window: float = 3.0
    hop: float = 3.0
    batch_size: int = 4
    precision: str = "auto"
    device: str = "auto"
    progress: bool = False

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError(f"inference window must be > 0 seconds, got {self.window}")
        if not 0 < self.hop <= self.window:
            raise ValueError(f"inference hop must be in (0, window={self.window}] seconds, got {self.hop}")
        if self.batch_size < 1:
            raise ValueError(f"inference batch_size must be >= 1, got {self.batch_size}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"inference precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise ValueError(f"inference device must be 'auto' or a torch device (cpu, cuda, cuda:1), "
                                 f"got {self.device!r}") from None

    def torch_device(self) -> torch.device:
        """The device to run on: ``device``, with ``auto`` resolved to CUDA when available, else CPU."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)
