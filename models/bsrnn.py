"""Band-Split RNN (Luo & Yu, 2023): STFT -> band split -> time/band sequence modelling -> per-band masks -> iSTFT."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .attention import BandAttention
from .banded import BandSplit, MaskEstimator
from .config import BSRNNConfig
from .sequence import ResidualSequence
from .tac import TAC


class Repeat(nn.Module):
    """One of the R repeats: a residual block across time, one across bands, then optional attention and TAC."""

    def __init__(self, config: BSRNNConfig, n_bands: int):
        super().__init__()
        n, h = config.feature_dim, config.hidden
        self.time = ResidualSequence(config.time_layer, n, h, batch_first=True, conv_kernel=config.conv_kernel)
        self.band = ResidualSequence(config.band_layer, n, h, batch_first=False, conv_kernel=config.conv_kernel)
        self.attention = BandAttention(n, n_bands, config.n_heads, config.enc_dim) if config.n_heads else None
        self.tac = TAC(n, 3 * n) if config.stereo == "tac" else None

    def forward(self, z: torch.Tensor, channels: int) -> torch.Tensor:
        k, b, t, n = z.shape
        z = self.time(z.view(k * b, t, n)).view(k, b, t, n)  # sequences along frames
        z = self.band(z.view(k, b * t, n)).view(k, b, t, n)  # sequences along bands
        if self.attention is not None:
            z = self.attention(z)
        if self.tac is not None:
            z = self.tac(z, channels)
        return z


class BSRNN(nn.Module):
    """Separates ``(batch, channels, samples)`` audio into ``(batch, targets, channels, samples)``.

    The output has exactly the input's length, whatever that length (inputs are zero-padded
    internally to whole STFT hops). Channels are separate items of the trunk; with ``stereo="tac"``
    the trunk also exchanges information across them.
    """

    def __init__(self, config: BSRNNConfig):
        super().__init__()
        self.config = config
        self.targets = list(config.targets)
        self.bins = config.band_widths()
        features = [2 * g for g in self.bins]  # real and imaginary part of each bin
        self.band_split = BandSplit(features, config.feature_dim)
        self.repeats = nn.ModuleList(Repeat(config, len(self.bins)) for _ in range(config.num_repeat))
        hidden = config.mask_hidden_factor * config.feature_dim
        self.masks = nn.ModuleDict(
            {t: MaskEstimator(features, config.feature_dim, hidden, config.mask_hidden_layers) for t in self.targets})
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def stft(self, x: torch.Tensor) -> torch.Tensor:
        """The model's STFT of ``(items, samples)``: complex ``(items, bins, frames)``."""
        return torch.stft(x, self.config.n_fft, self.config.hop_length, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)

    def analysis(self, mix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, channels, samples)`` -> its spectrogram ``(items, bins, frames)`` (items = batch x channels;
        samples zero-padded to whole hops) and the band-split input ``(items, frames, 2 x bins)`` (real, imag)."""
        if mix.dim() != 3 or mix.shape[-1] == 0:
            raise ValueError(f"BSRNN expects (batch, channels, samples) with samples > 0, got {tuple(mix.shape)}")
        b, c, length = mix.shape
        hop = self.config.hop_length
        padded = max(self.config.n_fft, math.ceil(length / hop) * hop)
        spec = self.stft(F.pad(mix.reshape(b * c, length).float(), (0, padded - length)))
        items, n_bins, frames = spec.shape
        return spec, torch.view_as_real(spec).transpose(1, 2).reshape(items, frames, 2 * n_bins)

    def synthesis(self, spec: torch.Tensor, masks: list[torch.Tensor], shape: torch.Size) -> torch.Tensor:
        """Apply one mask per target (each ``(items, frames, 2 x bins)``, real and imaginary parts) to ``spec``
        and invert: ``(batch, targets, channels, samples)`` for an input of ``shape`` (batch, channels, samples)."""
        b, c, length = shape
        items, n_bins, frames = spec.shape
        padded = (frames - 1) * self.config.hop_length  # a centred STFT has one frame per hop, plus one
        estimates = []
        for mask in masks:
            mask = torch.view_as_complex(mask.float().reshape(items, frames, n_bins, 2).contiguous()).transpose(1, 2)
            wave = torch.istft(spec * mask, self.config.n_fft, self.config.hop_length, window=self.window,
                               center=True, length=padded)
            estimates.append(wave[:, :length])
        return torch.stack(estimates, 1).view(b, c, len(masks), length).transpose(1, 2)

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        spec, feats = self.analysis(mix)
        z = self.band_split(feats)  # (bands, items, frames, dim)
        for repeat in self.repeats:
            z = repeat(z, mix.shape[1])
        return self.synthesis(spec, [head(z) for head in self.masks.values()], mix.shape)
