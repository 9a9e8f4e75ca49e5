"""Apply a separation model to a signal of any length: windows, batched forward passes, overlap-add.

The one chunked-inference routine of the kit; the submission, the evaluator, the ``separate``
command and validation during training all call :func:`separate`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from tqdm import tqdm

Model = Callable[[torch.Tensor], torch.Tensor]  # (batch, channels, samples) -> (batch, targets, channels, samples)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # "auto": see resolve_precision


def crossfade_window(length: int) -> torch.Tensor:
    """A raised-cosine weight that is positive at every sample, so any coverage can be normalised."""
    n = torch.arange(length, dtype=torch.float64)
    return (0.5 - 0.5 * torch.cos(2 * math.pi * (n + 0.5) / length)).float()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX) and oneDNN can use it.

    Without such instructions bf16 is emulated and slower than fp32.
    """
    if not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """The concrete precision ``fp32`` | ``bf16`` | ``fp16`` that ``precision`` means on ``device``.

    ``auto`` picks fp16 autocast on CUDA (a T4's tensor cores have no fast bf16), bf16 autocast on a
    CPU with native bf16 (about 2x faster than fp32 for BSRNN there; its output is 45 dB SDR from
    fp32; see BENCHMARKS.md), and fp32 anywhere else. Any other value is returned as it is.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    kind = torch.device(device).type
    if kind == "cuda":
        return "fp16"
    if kind == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` (``fp32`` means none; ``auto`` is resolved for ``device``)."""
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def window_starts(length: int, window: int, hop: int) -> list[int]:
    """Start sample of each window so that windows every ``hop`` samples cover ``[0, length)``."""
    if length <= window:
        return [0]
    return list(range(0, length - window + hop, hop))


def _batches(starts: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(starts), size):
        yield starts[i:i + size]


@dataclass(frozen=True)
class Chunking:
    """How :func:`separate` walks a signal: ``window`` seconds per chunk, a chunk every ``hop`` seconds,
    ``batch_size`` chunks per forward pass, on ``device``, in ``precision`` (one of ``PRECISIONS``)."""

    window: float = 3.0
    hop: float = 0.5
    batch_size: int = 4
    device: str | torch.device = "cpu"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError(f"window must be > 0 seconds, got {self.window}")
        if not 0 < self.hop <= self.window:
            raise ValueError(f"hop must be in (0, window={self.window}] seconds, got {self.hop}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


@torch.inference_mode()
def separate(model: Model, mix: torch.Tensor, n_targets: int, sample_rate: int, chunking: Chunking = Chunking(),
             progress: bool = False) -> torch.Tensor:
    """Separate ``mix`` shaped ``(channels, samples)`` into ``(n_targets, channels, samples)`` (float32, on CPU).

    Windows of ``chunking.window`` seconds start every ``chunking.hop`` seconds; ``chunking.batch_size``
    windows go through the model together. Overlapping windows are cross-faded with a raised-cosine
    weight and normalised by the summed weight, so a model that returns its input returns the mixture
    unchanged. ``chunking.precision`` is ``fp32``, ``bf16`` or ``fp16`` autocast, or ``auto``
    (:func:`resolve_precision`). Memory is the output itself plus one batch of windows. ``progress``
    shows a bar over the windows.

    Every forward pass gets the same input shape ``(batch_size, channels, window)``: a signal shorter
    than a window and the last, partial window are zero-padded, and the last batch is filled with
    silent windows. oneDNN and cuDNN prepare kernels per input shape, and a new shape's first forward
    costs several warm ones (BENCHMARKS.md, inference), more than the padding does.
    """
    if mix.dim() != 2:
        raise ValueError(f"separate expects (channels, samples), got shape {tuple(mix.shape)}")
    channels, length = mix.shape
    if length == 0:
        raise ValueError("separate got an empty signal (0 samples)")
    window = max(1, round(chunking.window * sample_rate))
    hop = max(1, round(chunking.hop * sample_rate))
    device = torch.device(chunking.device)
    starts = window_starts(length, window, hop)
    weight = crossfade_window(window) if len(starts) > 1 else torch.ones(window)
    out = torch.zeros(n_targets, channels, length)
    total = torch.zeros(length)
    mix = mix.float()
    batch_size = chunking.batch_size
    chunk = torch.zeros(batch_size, channels, window)
    with autocast(device, chunking.precision), \
            tqdm(total=len(starts), unit="window", desc="separating", leave=False, disable=not progress) as bar:
        for group in _batches(starts, batch_size):
            chunk.zero_()
            for i, s in enumerate(group):
                piece = mix[:, s:s + window]
                chunk[i, :, :piece.shape[-1]] = piece
            est = model(chunk.to(device)).float().cpu()
            if est.shape != (batch_size, n_targets, channels, window):
                raise RuntimeError(f"model returned {tuple(est.shape)}, expected "
                                   f"{(batch_size, n_targets, channels, window)}")
            for i, s in enumerate(group):
                n = min(window, length - s)
                out[..., s:s + n] += est[i, ..., :n] * weight[:n]
                total[s:s + n] += weight[:n]
            bar.update(len(group))
    out /= total  # in place: no second copy of the whole output
    return out
