"""Augmentations of the on-the-fly mixing recipe, as small pure functions on NumPy arrays.

A stem is an array ``(channels, frames)``; a stack of stems is ``(stems, channels, frames)``. Every random
choice comes from the ``numpy.random.Generator`` passed in, so a seeded generator gives the same result.
"""

from __future__ import annotations

import numpy as np


def random_gain(stem: np.ndarray, rng: np.random.Generator, max_db: float) -> tuple[np.ndarray, float]:
    """Scale ``stem`` by a gain drawn uniformly in ``[-max_db, +max_db]`` dB; returns (scaled stem, gain in dB)."""
    gain_db = float(rng.uniform(-max_db, max_db))
    return stem * np.float32(10.0 ** (gain_db / 20.0)), gain_db


def random_drop(stem: np.ndarray, rng: np.random.Generator, prob: float) -> tuple[np.ndarray, bool]:
    """Replace ``stem`` by silence with probability ``prob``; returns (stem or zeros, whether it was dropped)."""
    dropped = bool(rng.random() < prob)
    return (np.zeros_like(stem) if dropped else stem), dropped


def random_channel_swap(stem: np.ndarray, rng: np.random.Generator, prob: float) -> tuple[np.ndarray, bool]:
    """Reverse the channel order (left/right for stereo) with probability ``prob``; returns (stem, whether swapped)."""
    swapped = bool(rng.random() < prob)
    return (stem[::-1].copy() if swapped else stem), swapped


def augment_stem(stem: np.ndarray, rng: np.random.Generator, gain_db: float, drop_prob: float,
                 swap_prob: float) -> np.ndarray:
    """Gain, then drop, then channel swap, as in the training recipe. Always draws the same three numbers."""
    stem, _ = random_gain(stem, rng, gain_db)
    stem, _ = random_drop(stem, rng, drop_prob)
    stem, _ = random_channel_swap(stem, rng, swap_prob)
    return stem


def mix_without_clipping(stems: np.ndarray, limit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``stems`` ``(stems, channels, frames)`` into a mixture; if the mixture or any stem would peak above
    ``limit``, scale mixture and stems by the same factor so that the largest peak is just under ``limit``.

    Returns ``(mixture, stems)``; the mixture is the sum of the returned stems.
    """
    mixture = stems.sum(axis=0)
    peak = max(float(np.abs(mixture).max(initial=0.0)), float(np.abs(stems).max(initial=0.0)))
    if peak > limit:
        # a 1e-6 margin (1e-5 dB) keeps float32 rounding of the scaled stems and their sum under the limit
        stems = stems * np.float32(limit / peak * (1.0 - 1e-6))
        mixture = stems.sum(axis=0)
    return mixture, stems
