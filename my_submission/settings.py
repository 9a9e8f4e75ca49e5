"""Inference settings of the submission: the one place that says how a model runs over a track.

Defaults are below; a model takes an ``InferenceSettings`` value (``BSRNNModel(settings=...)``), and
the command-line tools build one from their flags (``--window 4``) on top of the settings the model class
runs with. To change what the grader runs, change the defaults here, or bind settings in ``user_config.py``: a
subclass whose ``settings`` parameter defaults to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.apply import Chunking


@dataclass(frozen=True)
class InferenceSettings:
    """window / hop: seconds of each chunk and between chunk starts; batch_size: chunks per forward pass;
    precision: one of ``models.apply.PRECISIONS``; device: ``auto`` (CUDA when available, else CPU) or a
    torch device name; progress: show a progress bar over chunks; mixture_consistency: when networks give all
    four instruments, add a quarter of what they leave out (mixture minus their sum) to each, so that the four
    sum to the mixture (BENCHMARKS.md, ``inference``: it raised the bundled model's global SDR)."""

    window: float = 3.0
    hop: float = 3.0
    batch_size: int = 4
    precision: str = "auto"
    device: str = "auto"
    progress: bool = False
    mixture_consistency: bool = True

    def __post_init__(self) -> None:
        try:
            Chunking(self.window, self.hop, self.batch_size, "cpu", self.precision)
        except ValueError as e:
            raise ValueError(f"inference {e}") from None
        if self.device != "auto":
            try:
                torch.device(self.device)
            except RuntimeError:
                raise ValueError(f"inference device must be 'auto' or a torch device (cpu, cuda, cuda:1), "
                                 f"got {self.device!r}") from None

    def torch_device(self) -> torch.device:
        """The device to run on: ``device``, with ``auto`` resolved to CUDA when available, else CPU; a device
        this machine does not have is a ``ValueError`` naming it."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if (device.index or 0) >= count:
                raise ValueError(f"inference device {self.device!r} is not available: torch sees {count} CUDA "
                                 "device(s) here; use cpu or auto")
        elif device.type != "cpu":
            try:
                torch.empty(0, device=device)
            except (RuntimeError, AssertionError) as e:
                raise ValueError(f"inference device {self.device!r} is not available here ({e})") from None
        return device

    def chunking(self) -> Chunking:
        """These settings as the value ``models.separate`` takes (the device resolved)."""
        return Chunking(self.window, self.hop, self.batch_size, self.torch_device(), self.precision)
