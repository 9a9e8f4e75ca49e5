"""Per-band layers with a different width per band, computed a few bands at a time.

Each band k owns ``widths[k]`` input features. Parameters are stored flat (one row per feature,
so none is unused). Bands are cut into contiguous runs of similar width; within a run, features and
weights are gathered into a zero-padded ``(bands, max_width, ...)`` grid, so one batched matrix product
gives exactly the per-band results of the whole run. Similar widths keep the padding small: one wide
band (the "rest" up to Nyquist) does not inflate the grid of the narrow ones.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MAX_PADDING = 1.5  # a run's padded size may exceed its real size by at most this factor


def contiguous_runs(widths: list[int], max_padding: float = MAX_PADDING) -> list[tuple[int, int, int, int]]:
    """Runs of similar width, in band order: ``(first band, end band, first feature, end feature)``."""
    bounds, start = [], 0
    for k in range(1, len(widths) + 1):
        grown = widths[start:k + 1]
        if k == len(widths) or len(grown) * max(grown) > max_padding * sum(grown):
            bounds.append((start, k))
            start = k
    return [(a, b, sum(widths[:a]), sum(widths[:b])) for a, b in bounds]


class BandLayout(nn.Module):
    """Index buffers that map the flat features of a run of bands to a padded (bands, max_width) grid and back."""

    def __init__(self, widths: list[int]):
        super().__init__()
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


class BandRuns(nn.Module):
    """A per-band layer's set-up: the band widths, their runs of similar width, and each run's layout."""

    def __init__(self, widths: list[int], eps: float):
        super().__init__()
        self.widths = list(widths)
        self.runs = contiguous_runs(widths)
        self.layouts = nn.ModuleList(BandLayout(widths[a:b]) for a, b, _, _ in self.runs)
        self.eps = eps


class BandSplit(BandRuns):
    """Per-band LayerNorm over the band's features, then a per-band projection to ``dim``.

    Input ``(items, frames, n_features)``; output ``(bands, items, frames, dim)``.
    """

    def __init__(self, widths: list[int], dim: int, eps: float = 1e-5):
        super().__init__(widths, eps)
        n = sum(widths)
        self.norm_weight = nn.Parameter(torch.ones(n))
        self.norm_bias = nn.Parameter(torch.zeros(n))
        self.weight = nn.Parameter(_uniform_per_band(n, dim, widths, widths))
        self.bias = nn.Parameter(torch.stack([_uniform_per_band(1, dim, w, None)[0] for w in widths]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        runs = [self._run(x, layout, *run) for layout, run in zip(self.layouts, self.runs)]
        return torch.cat(runs, dim=0) + self.bias[:, None, None, :]

    def _run(self, x: torch.Tensor, layout: BandLayout, first: int, last: int, f0: int, f1: int) -> torch.Tensor:
        x = layout.pad(x[..., f0:f1])  # (items, frames, bands, width)
        mean = x.sum(-1, keepdim=True) / layout.counts[:, None]
        centred = (x - mean) * layout.valid
        var = centred.square().sum(-1, keepdim=True) / layout.counts[:, None]
        x = centred * torch.rsqrt(var + self.eps)
        x = x * layout.pad(self.norm_weight[f0:f1]) + layout.pad(self.norm_bias[f0:f1])
        weight = layout.pad(self.weight[f0:f1].t()).permute(1, 2, 0)  # (bands, width, dim)
        return torch.einsum("btkf,kfn->kbtn", x, weight)


class MaskEstimator(BandRuns):
    """Per-band norm -> MLP (tanh) -> GLU output of that band's features.

    Input ``(bands, items, frames, dim)``; output ``(items, frames, n_features)``.
    """

    def __init__(self, widths: list[int], dim: int, hidden: int, hidden_layers: int = 1, eps: float = 1e-5):
        super().__init__(widths, eps)
        k, n = len(widths), sum(widths)
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
        return torch.cat([self._run(h, layout, *run) for layout, run in zip(self.layouts, self.runs)], dim=-1)

    def _run(self, h: torch.Tensor, layout: BandLayout, first: int, last: int, f0: int, f1: int) -> torch.Tensor:
        weight = layout.pad(self.out_weight[:, f0:f1].transpose(1, 2))  # (2, hidden, bands, width)
        bias = layout.pad(self.out_bias[:, f0:f1])  # (2, bands, width)
        out = torch.einsum("kbth,ghkf->gbtkf", h[first:last], weight) + bias[:, None, None]
        mask = out[0] * torch.sigmoid(out[1])  # (items, frames, bands, width)
        return layout.unpad(mask)
