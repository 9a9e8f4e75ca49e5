"""Augmentations of the on-the-fly mixing recipe, as small pure functions on NumPy arrays.

A stem is an array ``(channels, frames)``; a stack of stems is ``(stems, channels, frames)``. Every random
choice comes from the ``numpy.random.Generator`` passed in, so a seeded generator gives the same result.
"""

from __future__ import annotations

import numpy as np
import soxr


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


def random_eq(stem: np.ndarray, rng: np.random.Generator, max_db: float, points: int = 6) -> np.ndarray:
    """Colour ``stem`` with a random smooth equaliser: gains drawn uniformly in ``[-max_db, +max_db]`` dB at
    ``points`` frequencies spaced evenly on a log scale from 1/1000 of Nyquist to Nyquist, joined linearly in log
    frequency (flat below the lowest point), the same curve on every channel. Applied in the frequency domain of
    the whole excerpt; the curve is smooth, so its impulse response is short and the wrap-around negligible.
    """
    gains_db = rng.uniform(-max_db, max_db, size=points)
    frames = stem.shape[-1]
    bins = np.arange(frames // 2 + 1) / (frames // 2)  # frequency as a fraction of Nyquist
    where = np.log10(np.maximum(bins, 1e-3))
    curve = 10.0 ** (np.interp(where, np.linspace(-3.0, 0.0, points), gains_db) / 20.0)
    spectrum = np.fft.rfft(stem, axis=-1) * curve
    return np.fft.irfft(spectrum, n=frames, axis=-1).astype(np.float32)


def repitch_frames(frames: int, semitones: float) -> int:
    """How many frames to read so that ``repitch`` of them gives ``frames`` frames ``semitones`` higher."""
    return max(1, round(frames * 2.0 ** (semitones / 12.0)))


def repitch(stem: np.ndarray, frames: int) -> np.ndarray:
    """Resample ``stem`` ``(channels, n)`` to ``frames`` frames: played back at the same rate, it is faster and
    higher (``n > frames``) or slower and lower, as a tape changes speed. Pitch and timbre (formants) move together.
    """
    n = stem.shape[-1]
    if n == frames:
        return stem
    out = soxr.resample(np.ascontiguousarray(stem.T), n, frames).T
    if out.shape[1] < frames:
        out = np.pad(out, ((0, 0), (0, frames - out.shape[1])))
    return np.ascontiguousarray(out[:, :frames], dtype=np.float32)


def augment_stem(stem: np.ndarray, rng: np.random.Generator, gain_db: float, drop_prob: float,
                 swap_prob: float, eq_db: float = 0.0) -> np.ndarray:
    """Gain, then drop, then channel swap, as in the training recipe, then (if ``eq_db`` > 0) a random equaliser.
    Draws the same three numbers, then the equaliser's only when it is on, so ``eq_db=0`` keeps the recipe's items.
    """
    stem, _ = random_gain(stem, rng, gain_db)
    stem, _ = random_drop(stem, rng, drop_prob)
    stem, _ = random_channel_swap(stem, rng, swap_prob)
    if eq_db > 0:
        stem = random_eq(stem, rng, eq_db)
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
