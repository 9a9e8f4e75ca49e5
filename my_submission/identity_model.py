"""Trivial baselines: every instrument's estimate is the mixture itself (the "MIX" reference of SiSEC), or a quarter
of it (an even split, which sums back to the mixture).

They run through the same chunked path as a real model, so they also check that chunking and
cross-fading give the mixture back unchanged.
"""

from __future__ import annotations

import dataclasses

import torch

from .separation_model import INSTRUMENTS, Part, SeparationModel
from .settings import InferenceSettings


class CopyNetwork(torch.nn.Module):
    """``(batch, channels, samples) -> (batch, targets, channels, samples)``: ``gain`` x the input, per target."""

    def __init__(self, n_targets: int, gain: float = 1.0):
        super().__init__()
        self.n_targets = n_targets
        self.gain = gain

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return (mix * self.gain).unsqueeze(1).expand(-1, self.n_targets, -1, -1).clone()


class IdentityModel(SeparationModel):
    """Returns the mixture as the estimate of every instrument (no weights). Mixture consistency is always off
    here: it would turn this baseline into the even split."""

    def __init__(self, settings: InferenceSettings | None = None) -> None:
        settings = dataclasses.replace(settings or InferenceSettings(), mixture_consistency=False)
        super().__init__([Part(CopyNetwork(len(INSTRUMENTS)), INSTRUMENTS)], 44100, settings)


class QuarterMixtureModel(SeparationModel):
    """Returns a quarter of the mixture as the estimate of every instrument (no weights)."""

    def __init__(self, settings: InferenceSettings | None = None) -> None:
        super().__init__([Part(CopyNetwork(len(INSTRUMENTS), gain=0.25), INSTRUMENTS)], 44100, settings)
