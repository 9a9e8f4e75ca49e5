"""Transform-average-concatenate (TAC) coupling across the channels of a stereo item."""

from __future__ import annotations

import torch
from torch import nn


class TAC(nn.Module):
    """Each channel is transformed, the channels' mean is transformed, both are concatenated and
    projected back; the result is normed and added to every channel (Luo et al., FaSNet-TAC).

    Input and output ``(bands, items * channels, frames, dim)``.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(dim, hidden), nn.PReLU())
        self.average = nn.Sequential(nn.Linear(hidden, hidden), nn.PReLU())
        self.concat = nn.Sequential(nn.Linear(2 * hidden, dim), nn.PReLU())
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, channels: int) -> torch.Tensor:
        k, bc, t, d = x.shape
        y = self.transform(x.view(k, bc // channels, channels, t, d))
        mean = self.average(y.mean(2, keepdim=True)).expand_as(y)
        y = self.concat(torch.cat([y, mean], dim=-1))
        return x + self.norm(y).view_as(x)
