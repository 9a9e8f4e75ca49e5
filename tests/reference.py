"""A straightforward formulation of the same BSRNN: per-band Python loops and the authors' layout.

``reference_forward(model, mix)`` computes what ``model(mix)`` computes, from the same parameters,
the way a direct transcription of the paper would: one small layer call per band, activations kept
as ``(items, dim, bands, frames)`` and copied into each RNN's layout. It is the correctness oracle for
the vectorised model (tests) and the speed baseline (benchmarks/model_forward.py); the STFT analysis and
synthesis are the model's own public steps.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from models.bsrnn import BSRNN
from models.sequence import ResidualSequence


def _band_split(model: BSRNN, feats: torch.Tensor) -> torch.Tensor:
    split, out, start = model.band_split, [], 0
    for k, w in enumerate(split.widths):
        x = F.layer_norm(feats[..., start:start + w], (w,), split.norm_weight[start:start + w],
                         split.norm_bias[start:start + w], split.eps)
        out.append(F.linear(x, split.weight[start:start + w].t(), split.bias[k]))
        start += w
    return torch.stack(out, dim=-1).permute(0, 2, 3, 1)  # (items, dim, bands, frames)


def _residual(block: ResidualSequence, x: torch.Tensor) -> torch.Tensor:
    """``x``: (batch, seq, dim), contiguous."""
    y = block.norm(x)
    if block.kind == "conv":
        y = F.gelu(block.layer(y.transpose(1, 2))).transpose(1, 2)
    else:
        y = y if block.batch_first else y.transpose(0, 1)
        y, _ = block.layer(y)
        y = y if block.batch_first else y.transpose(0, 1)
    return x + block.proj(y)


def _masks(model: BSRNN, head_name: str, z: torch.Tensor) -> torch.Tensor:
    head, out, start = model.masks[head_name], [], 0
    for k, w in enumerate(head.widths):
        h = F.layer_norm(z[:, :, k].transpose(1, 2), z.shape[1:2], head.norm_weight[k], head.norm_bias[k], head.eps)
        for weight, bias in zip(head.hidden_weights, head.hidden_biases):
            h = torch.tanh(h @ weight[k] + bias[k])
        value = F.linear(h, head.out_weight[0, start:start + w], head.out_bias[0, start:start + w])
        gate = F.linear(h, head.out_weight[1, start:start + w], head.out_bias[1, start:start + w])
        out.append(value * torch.sigmoid(gate))
        start += w
    return torch.cat(out, dim=-1)  # (items, frames, features)


def reference_forward(model: BSRNN, mix: torch.Tensor) -> torch.Tensor:
    """``model(mix)`` computed with per-band loops; same input and output shapes."""
    spec, feats = model.analysis(mix)
    items, n_bins, frames = spec.shape
    z = _band_split(model, feats)  # (items, dim, bands, frames)
    n, k = z.shape[1], z.shape[2]
    for repeat in model.repeats:
        t = z.permute(0, 2, 3, 1).reshape(items * k, frames, n).contiguous()
        z = _residual(repeat.time, t).view(items, k, frames, n).permute(0, 3, 1, 2)
        s = z.permute(0, 3, 2, 1).reshape(items * frames, k, n).contiguous()
        z = _residual(repeat.band, s).view(items, frames, k, n).permute(0, 3, 2, 1)
        trunk = z.permute(2, 0, 3, 1).contiguous()  # the trunk layout (bands, items, frames, dim)
        if repeat.attention is not None:
            trunk = repeat.attention(trunk)
        if repeat.tac is not None:
            trunk = repeat.tac(trunk, mix.shape[1])
        z = trunk.permute(1, 3, 0, 2)
    return model.synthesis(spec, [_masks(model, name, z) for name in model.targets], mix.shape)
