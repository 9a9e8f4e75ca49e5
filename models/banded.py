"""Per-band layers with a different width per band, computed for all bands at once.

Each band k owns ``widths[k]`` input features. Parameters are stored flat (one row per feature,
so none is unused) and gathered into a zero-padded ``(bands, max_width, ...)`` layout at run
time; the padding rows are zero, so a batched matrix product gives exactly the per-band result.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class BandLayout(nn.Module):
    """Index buffers that map flat features to a padded (bands, max_width) grid and back."""

    def __init__(self, widths: list[int]):
        super().__init__()
        self.widths = list(widths)
        self.n_features = sum(widths)
        self.max_width = max(widths)
        n_bands = len(widths)
        gather = torch.full((n_bands, self.max_width), self.n_features, dtype=torch.long)
        scatter = torch.empty(self.n_features, dtype=torch.long)
        start = 0
        for k, w in enumerate(widths):
            gather[k, :w] = torch.arange(start, start + w)
            scatter[start:start + w] = k * self.max_width + torch.arange(w)
            start += w
        self.register_buffer("gather_index", gather, persistent=False)
        self.register_buffer("scatter_index", scatter, persistent=False)
        self.register_buffer("valid", (gather < self.n_features).float(), persistent=False)
        self.register_buffer("counts", torch.tensor(widths, dtype=torch.float32), persistent=False)

    def pad(self, flat: torch.Tensor) -> torch.Tensor:
        """``(..., n_features)`` -> ``(..., bands, max_width)`` with zeros in the padding."""
        flat = torch.cat([flat, flat.new_zeros(*flat.shape[:-1], 1)], dim=-1)
        return flat[..., self.gather_index]

    def unpad(self, grid: torch.Tensor) -> torch.Tensor:
        """``(..., bands, max_width)`` -> ``(..., n_features)``."""
        return grid.flatten(-2)[..., self.scatter_index]


def _uniform_per_band(rows: int, cols: int, fan_in: list[int] | int, widths: list[int] | None) -> torch.Tensor:
    """``nn.Linear``-style init: uniform in +-1/sqrt(fan_in), fan_in possibly differing per band."""
    weight = torch.empty(rows, cols)
    if widths is None:
        bound = 1 / math.sqrt(fan_in)
        return weight.uniform_(-bound, bound)
    start = 0
    for w, fi in zip(widths, fan_in):
        bound = 1 / math.sqrt(fi)
        weight[start:start + w].uniform_(-bound, bound)
        start += w
    return weight


class BandSplit(nn.Module):
    """Per-band LayerNorm over the band's features, then a per-band projection to ``dim``.

    Input ``(items, frames, n_features)``; output ``(bands, items, frames, dim)``.
    """

    def __init__(self, widths: list[int], dim: int, eps: float = 1e-5):
        super().__init__()
        self.layout = BandLayout(widths)
        self.eps = eps
        n = self.layout.n_features
        self.norm_weight = nn.Parameter(torch.ones(n))
        self.norm_bias = nn.Parameter(torch.zeros(n))
        self.weight = nn.Parameter(_uniform_per_band(n, dim, widths, widths))
        self.bias = nn.Parameter(torch.stack([_uniform_per_band(1, dim, w, None)[0] for w in widths]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layout = self.layout
        x = layout.pad(x)  # (items, frames, bands, width)
        mean = x.sum(-1, keepdim=True) / layout.counts[:, None]
        centred = (x - mean) * layout.valid
        var = centred.square().sum(-1, keepdim=True) / layout.counts[:, None]
        x = centred * torch.rsqrt(var + self.eps)
        x = x * layout.pad(self.norm_weight) + layout.pad(self.norm_bias)
        weight = layout.pad(self.weight.t()).permute(1, 2, 0)  # (bands, width, dim)
        return torch.einsum("btkf,kfn->kbtn", x, weight) + self.bias[:, None, None, :]


class MaskEstimator(nn.Module):
    """Per-band norm -> MLP (tanh) -> GLU output of that band's features.

    Input ``(bands, items, frames, dim)``; output ``(items, frames, n_features)``.
    """

    def __init__(self, widths: list[int], dim: int, hidden: int, hidden_layers: int = 1, eps: float = 1e-5):
        super().__init__()
        self.layout = BandLayout(widths)
        self.eps = eps
        k, n = len(widths), self.layout.n_features
        self.norm_weight = nn.Parameter(torch.ones(k, dim))
        self.norm_bias = nn.Parameter(torch.zeros(k, dim))
        sizes = [dim] + [hidden] * hidden_layers
        self.hidden_weights = nn.ParameterList(
            [nn.Parameter(_uniform_per_band(k, i * o, i, None).view(k, i, o)) for i, o in zip(sizes[:-1], sizes[1:])])
        self.hidden_biases = nn.ParameterList(
            [nn.Parameter(_uniform_per_band(k, o, i, None)) for i, o in zip(sizes[:-1], sizes[1:])])
        # The GLU's two halves, one row per output feature: value and gate.
        self.out_weight = nn.Parameter(_uniform_per_band(2 * n, hidden, hidden, None).view(2, n, hidden))
        self.out_bias = nn.Parameter(_uniform_per_band(2, n, hidden, None))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = nn.functional.layer_norm(z, z.shape[-1:], eps=self.eps)
        h = h * self.norm_weight[:, None, None] + self.norm_bias[:, None, None]
        for w, b in zip(self.hidden_weights, self.hidden_biases):
            h = torch.tanh(torch.einsum("kbti,kio->kbto", h, w) + b[:, None, None])
        layout = self.layout
        weight = layout.pad(self.out_weight.transpose(1, 2))  # (2, hidden, bands, width)
        bias = layout.pad(self.out_bias)  # (2, bands, width)
        out = torch.einsum("kbth,ghkf->gbtkf", h, weight) + bias[:, None, None]
        mask = out[0] * torch.sigmoid(out[1])  # (items, frames, bands, width)
        return layout.unpad(mask)
