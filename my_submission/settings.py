"""Inference settings of the submission: the one place that says how a model runs over a track.

Defaults are below; every field can be overridden by an environment variable (``BSRNN_WINDOW=4``)
or, in the command-line tools, by a flag (``--window 4``), which sets the same variable.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from models.apply import PRECISIONS

ENV_PREFIX = "BSRNN_"


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

    @staticmethod
    def env_name(field: str) -> str:
        return ENV_PREFIX + field.upper()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InferenceSettings:
        """The defaults, overridden by any ``BSRNN_<FIELD>`` variable set in ``environ`` (default ``os.environ``)."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(cls.env_name(f.name))
            if raw is None or raw == "":
                continue
            kind = type(f.default)
            try:
                if kind is bool:
                    if raw.lower() not in ("0", "1", "true", "false", "yes", "no"):
                        raise ValueError(raw)
                    values[f.name] = raw.lower() in ("1", "true", "yes")
                else:
                    values[f.name] = kind(raw)
            except ValueError:
                raise ValueError(f"environment variable {cls.env_name(f.name)}={raw!r} is not a valid "
                                 f"{kind.__name__}") from None
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings."""
        return {self.env_name(k): str(int(v) if isinstance(v, bool) else v)
                for k, v in dataclasses.asdict(self).items()}

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)
