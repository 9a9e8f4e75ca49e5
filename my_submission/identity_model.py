"""The identity baseline: every instrument's estimate is the mixture itself (the "MIX" reference of SiSEC).

It runs through the same chunked path as a real model, so it also checks that chunking and
cross-fading give the mixture back unchanged.
"""

from __future__ import annotations

import torch

from .separation_model import INSTRUMENTS, Part, SeparationModel


class CopyNetwork(torch.nn.Module):
    """``(batch, channels, samples) -> (batch, targets, channels, samples)``: the input repeated per target."""

    def __init__(self, n_targets: int):
        super().__init__()
        self.n_targets = n_targets

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return mix.unsqueeze(1).expand(-1, self.n_targets, -1, -1).clone()


class IdentityModel(SeparationModel):
    """Returns the mixture as the estimate of every instrument (no weights)."""

    def __init__(self) -> None:
        super().__init__([Part(CopyNetwork(len(INSTRUMENTS)), INSTRUMENTS)], sample_rate=44100)
