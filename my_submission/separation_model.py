"""The grader's model contract, implemented once for any network that separates stereo chunks.

A subclass builds its networks (each a callable ``(batch, 2, samples) -> (batch, targets, 2, samples)``
with the targets it produces) and calls ``SeparationModel.__init__``; input checks, resampling,
channel handling, chunked inference (``models.separate``) and the output contract live here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from models import allocator, separate
from models.apply import autocast
from models.contract import INSTRUMENTS, raise_aicrowd_error

from .audio import channel_groups, prepare_mix, restore, to_float
from .settings import InferenceSettings

Network = Callable[[torch.Tensor], torch.Tensor]


FALLBACK_RULE = "the residual (mixture minus the networks' estimates), split evenly among them"


@dataclass(frozen=True)
class Part:
    """One network, the instruments it outputs (in its output order), and where it came from (a file name)."""

    network: Network
    targets: tuple[str, ...]
    source: str = "network"


class SeparationModel:
    """Separates a mixture into the four instruments, as the grader calls it.

    The networks may cover only some instruments (each at most once): the others (``fallback_targets``) get
    the fallback, ``FALLBACK_RULE``; with ``other`` the only one missing, ``other`` is the whole residual.
    When the networks cover all four and ``settings.mixture_consistency`` is on, the residual is split evenly
    among all four instead (mixture consistency); either way the four estimates sum to the mixture.
    ``active_targets`` (default: all four) limits which instruments are computed; the others may come
    back as silence (the command-line tools use it to save time; the grader always gets all four).
    ``keep_freed_memory`` (default on) applies :func:`models.allocator.keep_freed_memory` to the process:
    glibc then keeps the buffers each forward pass frees instead of unmapping them (BENCHMARKS.md, allocator).
    """

    def __init__(self, parts: Sequence[Part], sample_rate: int, settings: InferenceSettings | None = None,
                 keep_freed_memory: bool = True):
        covered = [t for p in parts for t in p.targets]
        if not covered or len(set(covered)) != len(covered) or not set(covered) <= set(INSTRUMENTS):
            raise ValueError(f"{type(self).__name__}: the networks must output some of {INSTRUMENTS}, each at most "
                             f"once, got {covered}")
        self.fallback_targets = tuple(t for t in INSTRUMENTS if t not in covered)
        if keep_freed_memory:
            allocator.keep_freed_memory()
        self.parts = list(parts)
        self.sample_rate = sample_rate
        self.settings = settings or InferenceSettings()
        self.device = self.settings.torch_device()
        self.active_targets: tuple[str, ...] = INSTRUMENTS

    def warm_up(self) -> None:
        """One full batch through every network, so kernel selection and allocation happen during setup,
        not in the first (timed) track."""
        window = round(self.settings.window * self.sample_rate)
        batch = torch.zeros(self.settings.batch_size, 2, window, device=self.device)
        with torch.inference_mode(), autocast(self.device, self.settings.precision):
            for part in self.parts:
                part.network(batch)

    def residual_targets(self) -> tuple[str, ...]:
        """The instruments that get an even share of the residual: the fallback targets, or all four when the
        networks cover all four and ``mixture_consistency`` is on, or none."""
        if self.fallback_targets:
            return self.fallback_targets
        return INSTRUMENTS if self.settings.mixture_consistency else ()

    def target_sources(self) -> dict[str, str]:
        """Where each instrument's estimate comes from: a network's source (its file name), or ``"fallback"``."""
        sources = {t: p.source for p in self.parts for t in p.targets}
        return {t: sources.get(t, "fallback") for t in INSTRUMENTS}

    @property
    def instruments(self) -> list[str]:
        return list(INSTRUMENTS)

    raise_aicrowd_error = staticmethod(raise_aicrowd_error)

    def separate_music_file(self, mixed_sound_array: np.ndarray, sample_rate: int
                            ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Separate one track: ``({instrument: array shaped like the input}, {instrument: sample rate})``.

        Input: ``(samples, channels)`` (at most 32 channels) or ``(samples,)``, float or int16/int32, finite,
        at 8 to 384 kHz.
        Each output has the input's shape and rate, is float32, finite and inside [-1, 1].
        """
        audio, layout = prepare_mix(mixed_sound_array, sample_rate, self.sample_rate)
        stems = {t: np.zeros((layout.frames, layout.channels), np.float32) for t in INSTRUMENTS}
        sharing = self.residual_targets()
        receiving = [t for t in sharing if t in self.active_targets]
        # the residual needs every network's estimate; otherwise only the networks of the active targets run
        wanted = set(INSTRUMENTS) if receiving else set(self.active_targets)
        parts = [p for p in self.parts if set(p.targets) & wanted]
        groups = channel_groups(layout.channels)
        chunking = self.settings.chunking()
        for group in groups:
            # a stereo track is passed as a transposed view (no copy); other groups are small copies
            mix = torch.from_numpy(audio.T if layout.channels == 2 else audio[:, group].T)
            for part in parts:
                estimate = separate(part.network, mix, len(part.targets), self.sample_rate, chunking,
                                    self.settings.progress)
                for target, stem in zip(part.targets, estimate.numpy()):
                    if target not in wanted:
                        continue
                    stem = stem.T if group[0] != group[1] else stem.mean(0, keepdims=True).T
                    stems[target][:, sorted(set(group))] = restore(stem, self.sample_rate, layout)
                del estimate
        if receiving:
            mix = to_float(mixed_sound_array).reshape(layout.frames, layout.channels)
            share = (mix - sum(stems[t] for p in self.parts for t in p.targets)) / len(sharing)
            for target in receiving:
                stems[target] += share
        for target, stem in stems.items():
            if not np.isfinite(stem).all():
                self.raise_aicrowd_error(f"{type(self).__name__} produced NaN or infinite samples for {target}")
            np.clip(stem, -1.0, 1.0, out=stem)
        stems = {t: s.reshape(layout.shape) for t, s in stems.items()}
        return stems, {t: layout.sample_rate for t in INSTRUMENTS}


def describe_sources(sources: dict[str, str]) -> str:
    """``target_sources()`` in words: which instruments come from which network file and which from the fallback."""
    by_source: dict[str, list[str]] = {}
    for target in INSTRUMENTS:
        if target in sources:
            by_source.setdefault(sources[target], []).append(target)
    return "; ".join(f"{', '.join(targets)}: " + (f"fallback ({FALLBACK_RULE})" if source == "fallback"
                                                   else f"network ({source})")
                     for source, targets in by_source.items())
