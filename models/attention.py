"""TF-GridNet-style full-band self-attention across frames, with bands in place of frequencies."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def prelu(x: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x, slope * x)


def norm_over(x: torch.Tensor, dims: tuple[int, ...], weight: torch.Tensor, bias: torch.Tensor,
              eps: float = 1e-5) -> torch.Tensor:
    """Normalise over ``dims`` jointly, then an elementwise affine transform."""
    mean = x.mean(dims, keepdim=True)
    var = (x - mean).square().mean(dims, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


def _affine(*shape: int) -> torch.Tensor:
    return torch.stack([torch.ones(shape), torch.zeros(shape)])


class BandAttention(nn.Module):
    """Multi-head self-attention across the frames of a window; a frame's query/key is all its bands.

    Per head: 1x1 projections with PReLU and a norm over (channel, band) give queries and keys of
    ``enc_dim x bands`` values per frame and values of ``dim / n_heads x bands``; heads are
    concatenated, projected, normed over (channel, band) and added to the input.
    Input and output ``(bands, items, frames, dim)``.
    """

    def __init__(self, dim: int, n_bands: int, n_heads: int, enc_dim: int):
        super().__init__()
        self.n_heads, self.enc_dim, self.head_dim = n_heads, enc_dim, dim // n_heads
        self.qkv = nn.Linear(dim, n_heads * (2 * enc_dim + self.head_dim))
        self.qkv_slope = nn.Parameter(torch.full((3, n_heads, 1), 0.25))
        # affine parameters (scale, shift) of the norms over (channel, band)
        self.q_norm = nn.Parameter(_affine(n_bands, n_heads, enc_dim))
        self.k_norm = nn.Parameter(_affine(n_bands, n_heads, enc_dim))
        self.v_norm = nn.Parameter(_affine(n_bands, n_heads, self.head_dim))
        self.out = nn.Linear(dim, dim)
        self.out_slope = nn.Parameter(torch.full((1,), 0.25))
        self.out_norm = nn.Parameter(_affine(n_bands, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k_, b, t, d = x.shape
        h, e, hd = self.n_heads, self.enc_dim, self.head_dim
        qkv = self.qkv(x).view(k_, b, t, h, 2 * e + hd)
        q, k, v = qkv.split([e, e, hd], dim=-1)  # each (bands, items, frames, heads, ch)
        per_band = (slice(None), None, None)  # broadcast (bands, heads, ch) over items and frames
        q = norm_over(prelu(q, self.qkv_slope[0]), (0, 4), self.q_norm[0][per_band], self.q_norm[1][per_band])
        k = norm_over(prelu(k, self.qkv_slope[1]), (0, 4), self.k_norm[0][per_band], self.k_norm[1][per_band])
        v = norm_over(prelu(v, self.qkv_slope[2]), (0, 4), self.v_norm[0][per_band], self.v_norm[1][per_band])
        # (bands, items, frames, heads, ch) -> (items, heads, frames, bands * ch)
        q, k, v = (y.permute(1, 3, 2, 0, 4).reshape(b, h, t, -1) for y in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(enc_dim * bands)
        o = o.view(b, h, t, k_, hd).permute(3, 0, 2, 1, 4).reshape(k_, b, t, d)
        o = prelu(self.out(o), self.out_slope)
        o = norm_over(o, (0, 3), self.out_norm[0][:, None, None], self.out_norm[1][:, None, None])
        return x + o
