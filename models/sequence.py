"""Residual sequence blocks: norm -> sequence layer (BLSTM, BGRU or 1-D conv) -> projection -> add."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ResidualSequence(nn.Module):
    """A residual block that models sequences of feature vectors, ``(batch, seq, dim)`` or ``(seq, batch, dim)``.

    The BSRNN trunk keeps its activations as ``(bands, items, frames, dim)``, where the time axis is
    a batch-first view and the band axis a sequence-first view, so neither needs a copy.
    """

    def __init__(self, kind: str, dim: int, hidden: int, batch_first: bool, conv_kernel: int = 5):
        super().__init__()
        self.kind = kind
        self.batch_first = batch_first
        self.norm = nn.LayerNorm(dim)
        if kind in ("lstm", "gru"):
            rnn = nn.LSTM if kind == "lstm" else nn.GRU
            self.layer = rnn(dim, hidden, batch_first=batch_first, bidirectional=True)
        elif kind == "conv":
            self.layer = nn.Conv1d(dim, 2 * hidden, conv_kernel, padding=conv_kernel // 2)
        else:
            raise ValueError(f"unknown sequence layer {kind!r}; expected lstm, gru or conv")
        self.proj = nn.Linear(2 * hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x)
        if self.kind == "conv":
            order = (0, 2, 1) if self.batch_first else (1, 2, 0)  # -> (batch, dim, seq)
            back = (0, 2, 1) if self.batch_first else (2, 0, 1)
            y = F.gelu(self.layer(y.permute(order))).permute(back)
        else:
            if torch.is_autocast_enabled(y.device.type):
                # Not every RNN has an autocast rule: give it the dtype of its own weights.
                y = y.to(self.layer.weight_ih_l0.dtype)
            y, _ = self.layer(y)
        return x + self.proj(y)
