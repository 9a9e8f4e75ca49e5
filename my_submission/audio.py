"""What the grader hands a model, turned into what a network needs, and the network's output turned back.

The grader passes ``soundfile.read``'s array: float64 ``(samples, channels)``. We also accept mono
``(samples,)``, int16/int32 and float32 arrays and any sample rate from 8 to 384 kHz, and give each stem back
in the input's shape, sample rate and length. A channels-first ``(channels, samples)`` array is refused, not
misread. Networks always see stereo: mono is run as dual mono and averaged back; more than two channels are
run as consecutive pairs (an odd last channel as dual mono).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

INTEGER_SCALES = {np.dtype(np.int16): 2.0 ** 15, np.dtype(np.int32): 2.0 ** 31}
MIN_RATE, MAX_RATE = 8000, 384000  # Hz: below, nothing musical is left; above, no audio interface records
MAX_CHANNELS = 32  # more than this is taken for a (channels, samples) array, not a mix


@dataclass(frozen=True)
class InputLayout:
    """Shape, sample rate and length of the array the caller passed (what each output must match)."""

    shape: tuple[int, ...]
    sample_rate: int
    frames: int
    channels: int


def to_float(array: np.ndarray) -> np.ndarray:
    """``array`` as float32 in [-1, 1] scale: floats as they are, int16 / int32 divided by 2**15 / 2**31."""
    array = np.asarray(array)
    if array.dtype in INTEGER_SCALES:
        return (array / INTEGER_SCALES[array.dtype]).astype(np.float32)
    if array.dtype.kind != "f":
        raise ValueError(f"mixed_sound_array must hold floats, int16 or int32 samples, got dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def check_sample_rate(sample_rate: object) -> int:
    """``sample_rate`` as an int, if it is a whole number of Hz in [``MIN_RATE``, ``MAX_RATE``]."""
    expected = f"a whole number of Hz in [{MIN_RATE}, {MAX_RATE}]"
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer, float, np.floating)):
        raise ValueError(f"sample_rate must be {expected}, got {sample_rate!r} ({type(sample_rate).__name__})")
    if not np.isfinite(sample_rate) or sample_rate != int(sample_rate) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise ValueError(f"sample_rate must be {expected}, got {sample_rate!r}")
    return int(sample_rate)


def check_layout(array: np.ndarray) -> None:
    """Refuse arrays that are not ``(samples,)`` or ``(samples, channels)``, naming the axes as read."""
    if array.ndim not in (1, 2):
        raise ValueError(f"mixed_sound_array must be (samples,) or (samples, channels), got shape {array.shape}")
    if array.ndim != 2 or array.shape[0] == 0:
        return
    frames, channels = array.shape
    # a stereo clip of one sample is (1, 2); beyond stereo, more channels than samples means the axes are swapped
    if channels > MAX_CHANNELS or (channels > 2 and channels > frames):
        raise ValueError(f"mixed_sound_array of shape {array.shape} reads as {frames} sample(s) (axis 0) of "
                         f"{channels} channels (axis 1); expected (samples, channels) with at most {MAX_CHANNELS} "
                         "channels (and, beyond stereo, more samples than channels); transpose a (channels, "
                         "samples) array (array.T)")


def prepare_mix(mixed_sound_array: np.ndarray, sample_rate: object, model_rate: int) -> tuple[np.ndarray, InputLayout]:
    """Check the grader's input and return it as float32 ``(frames, channels)`` at ``model_rate``, with its layout."""
    array = np.asarray(mixed_sound_array)
    rate = check_sample_rate(sample_rate)
    check_layout(array)
    layout = InputLayout(array.shape, rate, array.shape[0], 1 if array.ndim == 1 else array.shape[1])
    if layout.frames == 0 or layout.channels == 0:
        raise ValueError(f"mixed_sound_array is empty (shape {array.shape}): nothing to separate")
    audio = to_float(array).reshape(layout.frames, layout.channels)
    bad = ~np.isfinite(audio)
    if bad.any():
        overflow = bad & np.isfinite(array.reshape(layout.frames, layout.channels))  # finite float64, inf as float32
        if overflow.any():
            frame = int(np.argwhere(overflow)[0][0])
            raise ValueError(f"mixed_sound_array holds {int(overflow.sum())} value(s) too large for float32, the first "
                             f"at sample {frame} ({frame / rate:.3f} s); audio is expected in [-1, 1]")
        frame = int(np.argwhere(bad)[0][0])
        raise ValueError(f"mixed_sound_array holds {int(bad.sum())} NaN or infinite value(s), the first at sample "
                         f"{frame} ({frame / rate:.3f} s)")
    if rate != model_rate:
        audio = soxr.resample(audio, rate, model_rate)
    return audio, layout


def channel_groups(channels: int) -> list[list[int]]:
    """Input channels fed to each stereo network pass: ``[0, 1], [2, 3], ...``; a lone channel as ``[c, c]``."""
    return [[c, c + 1] if c + 1 < channels else [c, c] for c in range(0, channels, 2)]


def restore(stem: np.ndarray, model_rate: int, layout: InputLayout) -> np.ndarray:
    """A network's ``(frames, channels)`` output at ``model_rate`` brought to the input's rate and exact length."""
    if model_rate != layout.sample_rate:
        stem = soxr.resample(np.ascontiguousarray(stem), model_rate, layout.sample_rate)
    if stem.shape[0] >= layout.frames:
        return stem[:layout.frames]
    return np.pad(stem, ((0, layout.frames - stem.shape[0]), (0, 0)))
