"""Mixing: per-part effects, stem levels like real mixes, and a bus limiter that keeps mixture = sum of stems.

Effects come from ``pedalboard``: high-pass and EQ on every part, compression, amp-like distortion on rock and
metal guitars, chorus and phaser on some keys and guitars, delay and plate-like reverb sends on vocals and leads,
a room on the drums. Parts are panned with a constant-power law; stems are set to loudness targets (``pyloudnorm``,
LUFS) drawn around the spread measured in commercial mixes (vocals loudest, bass lowest); a look-ahead peak limiter
computes one gain curve on the mixture and applies it to every stem, so the written mixture stays their exact sum.
"""

from __future__ import annotations

import numpy as np
import pedalboard as pb
import pyloudnorm
from scipy.ndimage import minimum_filter1d

# Stem loudness targets before the bus (LUFS): mean and spread. Drawn per song.
STEM_LOUDNESS = {"vocals": (-17.0, 2.5), "drums": (-18.0, 2.5), "bass": (-20.0, 2.5), "other": (-18.5, 2.5)}
MIX_LOUDNESS = (-13.0, 2.0)  # mixture target before the limiter
CEILING = 0.89  # the limiter's peak ceiling (linear)
_DISTORTED = ("crunch guitar", "distorted guitar", "lead guitar")


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _hz(frequency: float, sample_rate: int) -> float:
    """A filter frequency kept below Nyquist (pedalboard's filters turn to NaN above it)."""
    return min(frequency, 0.45 * sample_rate)


def _eq(rng: np.random.Generator, highpass: float, sample_rate: int) -> list:
    return [pb.HighpassFilter(highpass),
            pb.LowShelfFilter(_u(rng, 80, 250), _u(rng, -4, 3)),
            pb.PeakFilter(_hz(_u(rng, 300, 4000), sample_rate), _u(rng, -5, 5), _u(rng, 0.5, 2.0)),
            pb.HighShelfFilter(_hz(_u(rng, 4000, 10000), sample_rate), _u(rng, -5, 4))]


def _compressor(rng: np.random.Generator, ratio: tuple[float, float]) -> pb.Compressor:
    return pb.Compressor(threshold_db=_u(rng, -24, -10), ratio=_u(rng, *ratio), attack_ms=_u(rng, 2, 20),
                         release_ms=_u(rng, 50, 250))


def part_chain(stem: str, role: str, genre: str, rng: np.random.Generator, sample_rate: int) -> pb.Pedalboard:
    """The insert effects of one part."""
    if stem == "drums":
        chain = _eq(rng, 30, sample_rate) + [_compressor(rng, (2, 5))]
    elif stem == "bass":
        chain = _eq(rng, 30, sample_rate) + [_compressor(rng, (3, 8))]
        if rng.random() < 0.3:
            chain.append(pb.Distortion(_u(rng, 3, 12)))
        chain.append(pb.LowpassFilter(_hz(_u(rng, 2500, 9000), sample_rate)))
    elif stem == "vocals":
        chain = _eq(rng, _u(rng, 80, 140), sample_rate) + [_compressor(rng, (3, 6)),
                                              pb.PeakFilter(_hz(_u(rng, 2500, 5000), sample_rate), _u(rng, 1, 5), 1.0)]
    else:
        chain = _eq(rng, _u(rng, 60, 200), sample_rate)
        if role in _DISTORTED or (role == "clean guitar" and genre in ("rock", "metal") and rng.random() < 0.5):
            drive = _u(rng, 18, 34) if role == "distorted guitar" or genre == "metal" else _u(rng, 8, 20)
            chain += [pb.Distortion(drive), pb.LowpassFilter(_hz(_u(rng, 4000, 7500), sample_rate)),
                      pb.HighpassFilter(90)]
        elif role in ("clean guitar", "electric piano", "synth pluck", "organ") and rng.random() < 0.4:
            chain.append(pb.Chorus(rate_hz=_u(rng, 0.3, 1.5), depth=_u(rng, 0.1, 0.4), mix=_u(rng, 0.2, 0.5)))
        elif rng.random() < 0.1:
            chain.append(pb.Phaser(rate_hz=_u(rng, 0.2, 1.0), mix=0.4))
        chain.append(_compressor(rng, (1.5, 4)))
    return pb.Pedalboard(chain)


def send_chain(stem: str, rng: np.random.Generator) -> pb.Pedalboard:
    """The stem's effect return: reverb (and a tempo-free delay on vocals), fully wet."""
    if stem == "drums":
        return pb.Pedalboard([pb.Reverb(room_size=_u(rng, 0.1, 0.4), damping=_u(rng, 0.3, 0.8), wet_level=1.0,
                                        dry_level=0.0, width=1.0), pb.HighpassFilter(300)])
    effects = [pb.Reverb(room_size=_u(rng, 0.3, 0.9), damping=_u(rng, 0.2, 0.7), wet_level=1.0, dry_level=0.0,
                         width=_u(rng, 0.6, 1.0))]
    if stem == "vocals" and rng.random() < 0.6:
        effects.insert(0, pb.Delay(delay_seconds=_u(rng, 0.12, 0.45), feedback=_u(rng, 0.1, 0.4), mix=0.5))
    return pb.Pedalboard(effects + [pb.HighpassFilter(200)])


def process(audio: np.ndarray, chain: pb.Pedalboard, sample_rate: int) -> np.ndarray:
    """``chain`` applied to stereo float32 ``(2, n)``; the output keeps the length."""
    return chain(np.ascontiguousarray(audio, dtype=np.float32), sample_rate)[:, :audio.shape[1]]


def pan(audio: np.ndarray, position: float, width: float = 1.0) -> np.ndarray:
    """Stereo ``(2, n)`` narrowed to ``width`` (0 mono, 1 as is) and panned to ``position`` (-1..1), constant power."""
    mid, side = (audio[0] + audio[1]) / 2, (audio[0] - audio[1]) / 2 * width
    left, right = mid + side, mid - side
    angle = (position + 1) * np.pi / 4
    return np.stack([left * np.cos(angle) * np.sqrt(2), right * np.sin(angle) * np.sqrt(2)])


def loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of stereo ``(2, n)``; -inf for silence or clips shorter than one 400 ms block."""
    if audio.shape[1] < int(0.4 * sample_rate) or not np.any(audio):
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64)))


def set_loudness(audio: np.ndarray, target: float, sample_rate: int) -> np.ndarray:
    measured = loudness(audio, sample_rate)
    if not np.isfinite(measured):
        return audio
    return audio * 10 ** ((target - measured) / 20)


def bus_gain(mixture: np.ndarray, sample_rate: int, ceiling: float = CEILING, lookahead: float = 0.005,
             release: float = 0.08) -> np.ndarray:
    """A look-ahead peak limiter's gain curve ``(n,)`` for ``mixture`` ``(2, n)``: the mixture times it peaks
    at most at ``ceiling``; it never exceeds 1, attacks within ``lookahead`` and recovers with ``release`` (s)."""
    peak = np.max(np.abs(mixture), axis=0)
    needed = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    hold = max(1, int(lookahead * sample_rate))
    # the minimum over the coming `hold` samples, so the gain is down before the peak arrives
    target = minimum_filter1d(needed, hold + 1, origin=-(hold // 2), mode="nearest")
    if target.min() >= 1.0:
        return target
    block = 32  # the release runs per block of samples, then the curve is held and clipped to the target
    n_blocks = -(-len(target) // block)
    blocks = np.pad(target, (0, n_blocks * block - len(target)), constant_values=1.0).reshape(n_blocks, block)
    coefficient = np.exp(-block / (release * sample_rate))
    levels = np.empty(n_blocks)
    level = 1.0
    for i, t in enumerate(blocks.min(axis=1)):  # instant attack, exponential release
        level = t if t < level else t + (level - t) * coefficient
        levels[i] = level
    return np.minimum(np.repeat(levels, block)[: len(target)], target)
