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

from models import separate
from models.apply import autocast
from models.contract import INSTRUMENTS, raise_aicrowd_error

from .audio import channel_groups, prepare_mix, restore
from .settings import InferenceSettings

Network = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Part:
    """One network and the instruments it outputs, in its output order."""

    network: Network
    targets: tuple[str, ...]


class SeparationModel:
    """Separates a mixture into the four instruments, as the grader calls it.

    ``active_targets`` (default: all four) limits which instruments are computed; the others come
    back as silence (the command-line tools use it to save time; the grader always gets all four).
    """

    def __init__(self, parts: Sequence[Part], sample_rate: int, settings: InferenceSettings | None = None):
        covered = [t for p in parts for t in p.targets]
        if sorted(covered) != sorted(INSTRUMENTS):
            raise ValueError(f"{type(self).__name__}: the networks must output each of {INSTRUMENTS} exactly once, "
                             f"got {covered}")
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
        parts = [p for p in self.parts if set(p.targets) & set(self.active_targets)]
        groups = channel_groups(layout.channels)
        chunking = self.settings.chunking()
        for group in groups:
            # a stereo track is passed as a transposed view (no copy); other groups are small copies
            mix = torch.from_numpy(audio.T if layout.channels == 2 else audio[:, group].T)
            for part in parts:
                estimate = separate(part.network, mix, len(part.targets), self.sample_rate, chunking,
                                    self.settings.progress)
                for target, stem in zip(part.targets, estimate.numpy()):
                    if target not in self.active_targets:
                        continue
                    stem = stem.T if group[0] != group[1] else stem.mean(0, keepdims=True).T
                    stems[target][:, sorted(set(group))] = restore(stem, self.sample_rate, layout)
                del estimate
        for target, stem in stems.items():
            if not np.isfinite(stem).all():
                self.raise_aicrowd_error(f"{type(self).__name__} produced NaN or infinite samples for {target}")
            np.clip(stem, -1.0, 1.0, out=stem)
        stems = {t: s.reshape(layout.shape) for t, s in stems.items()}
        return stems, {t: layout.sample_rate for t in INSTRUMENTS}

