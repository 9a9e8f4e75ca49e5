"""Training losses: L1 on the waveform (``t``), on the STFT's real and imaginary parts (``tf``), or both (``t+tf``).

The loss STFT is the model's own (Hann window of ``n_fft``, hop ``hop_length``, centred, zero-padded), so
the ``tf`` term compares exactly the coefficients the model's masks act on.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

LOSS_KINDS = ("t", "tf", "t+tf")


class SeparationLoss(nn.Module):
    """``time_weight * L1(waveform) + freq_weight * (L1(real STFT) + L1(imag STFT))``, terms chosen by ``kind``.

    Each L1 is a mean over all elements. ``forward(estimate, target)`` takes two tensors of the same shape
    ``(..., samples)`` and returns a dict with ``loss`` (the total) and the unweighted terms ``t`` and/or ``tf``.
    """

    def __init__(self, kind: str = "t+tf", time_weight: float = 1.0, freq_weight: float = 1.0, n_fft: int = 2048,
                 hop_length: int = 512):
        super().__init__()
        if kind not in LOSS_KINDS:
            raise ValueError(f"loss kind must be one of {LOSS_KINDS}, got {kind!r}")
        self.kind = kind
        self.time_weight = float(time_weight)
        self.freq_weight = float(freq_weight)
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """Complex STFT of ``x`` shaped ``(..., samples)`` -> ``(..., bins, frames)``, as the model computes it."""
        flat = x.reshape(-1, x.shape[-1]).float()
        spec = torch.stft(flat, self.n_fft, self.hop_length, window=self.window, center=True, pad_mode="constant",
                          return_complex=True)
        return spec.view(*x.shape[:-1], *spec.shape[-2:])

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        if estimate.shape != target.shape:
            raise ValueError(f"loss: estimate {tuple(estimate.shape)} and target {tuple(target.shape)} differ in shape")
        estimate, target = estimate.float(), target.float()
        terms: dict[str, torch.Tensor] = {}
        total = estimate.new_zeros(())
        if self.kind in ("t", "t+tf"):
            terms["t"] = F.l1_loss(estimate, target)
            total = total + self.time_weight * terms["t"]
        if self.kind in ("tf", "t+tf"):
            with torch.autocast(estimate.device.type, enabled=False):
                est, ref = self.spectrogram(estimate), self.spectrogram(target)
                terms["tf"] = F.l1_loss(est.real, ref.real) + F.l1_loss(est.imag, ref.imag)
            total = total + self.freq_weight * terms["tf"]
        terms["loss"] = total
        return terms
