"""Synthetic multitrack songs in the MUSDB18-HQ layout, made here from a seed (no downloads).

Every track is a short song: a random key, mode, tempo and chord progression that four parts follow.

- bass: a monophonic line of chord roots, fifths and octaves, fundamentals about 40-200 Hz, few harmonics,
  plucked envelopes whose upper harmonics fade first;
- drums: kicks (falling sine sweeps), snares (band-passed noise and a body tone), closed and open hats
  (high-passed noise with a metallic layer), toms in fills and crashes, on a swung, humanised grid;
- other: chord voicings (pads or rhythmic stabs, detuned pairs spread in stereo) and sometimes an arpeggio,
  in the mid register with rich harmonics;
- vocals: a glottal-like harmonic source with vibrato and portamento, shaped by formants that move from
  vowel to vowel per syllable, with consonant noise bursts, a melody in one singer's range, and pauses
  between phrases.

Stems are scaled so the mixture peaks below 0.9, then rounded to the 16-bit grid, so the written
``mixture.wav`` is exactly the sum of the stems as read back. Generation is pure numpy/scipy and
deterministic: on a given machine and numpy/scipy build, the same seed gives bit-identical files.

Command line: ``python -m evaluator.synthetic OUT_DIR --tracks N --duration SECONDS --seed K [--sample-rate SR]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal
from tqdm import tqdm

from evaluator.tracks import STEMS, TrackError, open_track
from models.atomic import write_text

GENERATOR_VERSION = 2  # bump whenever the audio for a given seed changes, so cached datasets are regenerated
DEFAULT_TEST_SET = dict(n_tracks=8, duration=10.0, seed=2023)  # the evaluator's embedded test set
TRACK_PREFIX = "synth-"
MANIFEST = "dataset.json"
MIN_SAMPLE_RATE = 16000
PEAK = 0.9  # the mixture peaks below this before 16-bit rounding

_FULL_SCALE = 32768  # 16-bit PCM: a sample k is read back as k / 32768
_TABLE_SIZE = 2048
_LOWEST_F0 = 20.0  # the wavetable octaves start here
_BLOCK = 1 << 14  # samples per block of the oscillator
_VOCAL_FRAME = 1024  # samples per STFT frame of the vocal formant filter: the shortest track that can be made
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Chord progressions as scale degrees (0 = tonic), for each mode.
_PROGRESSIONS = {
    _MAJOR: [(0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4), (1, 4, 0, 0), (0, 3, 0, 4), (0, 2, 3, 4)],
    _MINOR: [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2), (0, 0, 5, 6)],
}
# Vowel formants (Hz) of an adult male voice: F1..F4, with bandwidths below.
_VOWELS = np.array([
    [730, 1090, 2440, 3400],  # a
    [530, 1840, 2480, 3500],  # e
    [270, 2290, 3010, 3700],  # i
    [570, 840, 2410, 3300],  # o
    [300, 870, 2240, 3300],  # u
    [660, 1720, 2410, 3400],  # ae
    [520, 1190, 2390, 3400],  # uh
], dtype=np.float64)
_FORMANT_BANDWIDTHS = np.array([80.0, 100.0, 140.0, 220.0])


# ---------------------------------------------------------------------------------------------------- the song plan


@dataclass(frozen=True)
class _Plan:
    """What the four parts agree on: time grid, key and chords."""

    sample_rate: int
    n_samples: int
    beat: float  # seconds
    swing: float  # delay of odd sixteenths, as a fraction of a sixteenth
    key: int  # pitch class of the tonic
    scale: tuple[int, ...]
    chord_beats: int
    degrees: tuple[int, ...]  # one scale degree per chord slot, looping

    @property
    def seconds(self) -> float:
        return self.n_samples / self.sample_rate

    @property
    def n_bars(self) -> int:
        return math.ceil(self.seconds / (4 * self.beat)) + 1

    def chord_degree(self, beat: float) -> int:
        return self.degrees[int(beat // self.chord_beats) % len(self.degrees)]

    def chord_pitch_classes(self, degree: int, size: int = 3) -> list[int]:
        """Pitch classes of the diatonic chord on ``degree``: root, third, fifth (and seventh)."""
        return [(self.key + self.scale[(degree + 2 * i) % 7]) % 12 for i in range(size)]

    def scale_pitches(self, low: float, high: float) -> np.ndarray:
        """MIDI pitches of the key's scale within [low, high]."""
        pcs = {(self.key + s) % 12 for s in self.scale}
        return np.array([p for p in range(int(low), int(high) + 1) if p % 12 in pcs])

    def time(self, beat: float) -> float:
        return beat * self.beat


def _plan(rng: np.random.Generator, n_samples: int, sample_rate: int) -> _Plan:
    scale = _MAJOR if rng.random() < 0.55 else _MINOR
    progressions = _PROGRESSIONS[scale]
    return _Plan(
        sample_rate=sample_rate,
        n_samples=n_samples,
        beat=60.0 / rng.uniform(80, 150),
        swing=float(rng.choice([0.0, 0.0, 0.15, 0.3])),
        key=int(rng.integers(12)),
        scale=scale,
        chord_beats=int(rng.choice([2, 4, 4, 4, 8])),
        degrees=progressions[rng.integers(len(progressions))],
    )


def _midi_to_hz(pitch: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(pitch) - 69.0) / 12.0)


def _nearest_pitch(pitch_class: int, target: float) -> int:
    """The MIDI pitch with ``pitch_class`` nearest to ``target``."""
    return int(pitch_class + 12 * round((target - pitch_class) / 12))


# ------------------------------------------------------------------------------------------------ signal building


@dataclass(frozen=True)
class _Note:
    start: float  # seconds
    length: float  # seconds
    pitch: float  # MIDI
    velocity: float


def _wavetables(sample_rate: int, tilt: float, cutoff: float | None = None, even: float = 1.0,
                max_harmonics: int = 200) -> np.ndarray:
    """Band-limited single-cycle tables, one per octave of f0 from 20 Hz, shape (octaves, size + 1).

    Harmonic k has amplitude ``k**-tilt`` (times ``even`` for even k), times a second-order low-pass at
    ``cutoff`` Hz evaluated at the octave's centre frequency; no harmonic reaches 0.45 * sample_rate.
    """
    n_octaves = max(1, int(math.log2(0.45 * sample_rate / _LOWEST_F0)))
    k = np.arange(1, max_harmonics + 1, dtype=np.float64)
    amps = k ** -tilt * np.where(k % 2 == 0, even, 1.0)
    tables = np.zeros((n_octaves, _TABLE_SIZE + 1))
    for octave in range(n_octaves):
        top = _LOWEST_F0 * 2.0 ** (octave + 1)
        count = min(max_harmonics, int(0.45 * sample_rate / top), _TABLE_SIZE // 2 - 1)
        a = amps[:count].copy()
        if cutoff is not None:
            a /= 1.0 + (k[:len(a)] * top / math.sqrt(2) / cutoff) ** 2
        spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
        spectrum[1:len(a) + 1] = -0.5j * a * _TABLE_SIZE  # sine phase
        tables[octave, :_TABLE_SIZE] = np.fft.irfft(spectrum, _TABLE_SIZE)
    tables[:, _TABLE_SIZE] = tables[:, 0]
    return tables


def _oscillator(tables: np.ndarray, f0: np.ndarray, sample_rate: int, phase: float = 0.0) -> np.ndarray:
    """Wavetable oscillator following the per-sample frequency ``f0`` (Hz), picking the octave's table.

    Works in blocks of ``_BLOCK`` samples so the temporaries stay in cache (twice as fast on long tracks).
    """
    cycles = np.cumsum(f0 * (1.0 / sample_rate))
    cycles += phase
    flat = tables.ravel()
    out = np.empty(len(f0))
    for start in range(0, len(f0), _BLOCK):
        stop = start + _BLOCK
        position = np.modf(cycles[start:stop])[0]
        position *= _TABLE_SIZE
        index = position.astype(np.int64)
        frac = position - index
        octave = np.frexp(np.maximum(f0[start:stop], _LOWEST_F0) * (1.0 / _LOWEST_F0))[1] - 1  # floor(log2(f/20))
        np.minimum(octave, len(tables) - 1, out=octave)
        index += octave * (_TABLE_SIZE + 1)
        low = flat[index]
        block = out[start:stop]
        np.take(flat, index + 1, out=block)
        block -= low
        block *= frac
        block += low
    return out


def _envelope(length: int, sample_rate: int, attack: float, decay: float, sustain: float,
              release: float) -> np.ndarray:
    """A note envelope of ``length`` samples: linear attack, exponential decay to ``sustain``, release at the end."""
    t = np.arange(length) / sample_rate
    rise = np.minimum(t / attack, 1.0)
    fall = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack, 0.0) / decay)
    end = np.clip((length / sample_rate - t) / release, 0.0, 1.0)
    return rise * fall * end


_EnvelopeFn = Callable[[int], np.ndarray]


def _amplitude(notes: Sequence[_Note], n: int, sample_rate: int, envelope: _EnvelopeFn) -> np.ndarray:
    """Per-sample amplitude of a sequence of notes, each shaped by ``envelope(length in samples)``."""
    amp = np.zeros(n)
    for note in notes:
        start = int(round(note.start * sample_rate))
        if start >= n:
            break
        length = max(1, int(round(note.length * sample_rate)))
        stop = min(n, start + length)
        amp[start:stop] += note.velocity * envelope(length)[:stop - start]
    return amp


def _held(notes: Sequence[_Note], values: Sequence[float], n: int, sample_rate: int) -> np.ndarray:
    """Per-sample ``values[i]`` from the start of note i until the next note starts (notes sorted by start)."""
    starts = np.array([int(round(note.start * sample_rate)) for note in notes])
    index = np.clip(np.searchsorted(starts, np.arange(n), side="right") - 1, 0, len(notes) - 1)
    return np.asarray(values, dtype=np.float64)[index]


def _line(notes: Sequence[_Note], n: int, sample_rate: int, envelope: _EnvelopeFn) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample frequency (Hz) and amplitude of a monophonic line of notes."""
    f0 = _held(notes, [_midi_to_hz(note.pitch) for note in notes], n, sample_rate)
    return f0, _amplitude(notes, n, sample_rate, envelope)


def _pan(mono: np.ndarray, position: float, into: np.ndarray | None = None) -> np.ndarray:
    """Constant-power pan to (2, samples), added to ``into`` if given; ``position`` in [-1, 1], centre gain 1."""
    angle = (np.clip(position, -1.0, 1.0) + 1.0) * math.pi / 4
    if into is None:
        into = np.zeros((2, len(mono)))
    for channel, gain in enumerate((math.cos(angle), math.sin(angle))):
        into[channel] += (math.sqrt(2) * gain) * mono
    return into


def _reverb(stereo: np.ndarray, mono_send: np.ndarray, rng: np.random.Generator, sample_rate: int,
            seconds: float, wet: float) -> np.ndarray:
    """Add a decorrelated stereo tail of ``mono_send``: exponentially decaying, darkening noise responses."""
    length = int(min(seconds, 1.2) * sample_rate)
    t = np.arange(length) / sample_rate
    decay = np.exp(-6.9 * t / seconds)
    predelay = int(rng.uniform(0.01, 0.03) * sample_rate)
    lowpass = signal.butter(1, min(6000.0, 0.4 * sample_rate), fs=sample_rate, output="sos")
    responses = signal.sosfilt(lowpass, rng.standard_normal((2, length)), axis=1) * decay
    responses *= wet / np.sqrt(np.sum(responses ** 2, axis=1, keepdims=True))
    n = stereo.shape[1]
    tail = signal.oaconvolve(mono_send.astype(np.float32)[None, :], responses.astype(np.float32), axes=1)
    stereo[:, predelay:] += tail[:, :max(0, n - predelay)]
    return stereo


def _normalised(x: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(x ** 2))
    return x / rms if rms > 0 else x


def _place(out: np.ndarray, shot: np.ndarray, start: int, gain: float) -> None:
    if 0 <= start < len(out):
        stop = min(len(out), start + len(shot))
        out[start:stop] += gain * shot[:stop - start]


# ------------------------------------------------------------------------------------------------------------ bass

_BASS_PATTERNS = [  # (eighth-note step, role, length in eighths): R root, F fifth, O octave, A approach
    [(0, "R", 3), (3, "R", 1), (4, "F", 2), (6, "O", 2)],
    [(0, "R", 2), (2, "R", 2), (4, "R", 2), (6, "R", 2)],
    [(0, "R", 1), (1, "R", 1), (2, "R", 1), (3, "R", 1), (4, "R", 1), (5, "R", 1), (6, "F", 1), (7, "A", 1)],
    [(0, "R", 4), (4, "F", 3), (7, "A", 1)],
    [(0, "R", 2), (3, "O", 1), (4, "R", 2), (7, "F", 1)],
    [(0, "R", 6), (6, "F", 1), (7, "A", 1)],
]


def _bass(plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    sr, n = plan.sample_rate, plan.n_samples
    base = rng.uniform(31, 38)  # roots within a tritone of this, kept at MIDI 28 (41 Hz) or above
    pattern = _BASS_PATTERNS[rng.integers(len(_BASS_PATTERNS))]
    staccato = rng.uniform(0.6, 1.0)
    notes = []
    for bar in range(plan.n_bars):
        bar_pattern = _BASS_PATTERNS[rng.integers(len(_BASS_PATTERNS))] if rng.random() < 0.15 else pattern
        for step, role, length in bar_pattern:
            beat = 4 * bar + step / 2
            root = _nearest_pitch(plan.chord_pitch_classes(plan.chord_degree(beat))[0], base)
            root = root if root >= 28 else root + 12
            if role == "A":  # approach: one or two semitones off the next step's root, leading into it
                target = _nearest_pitch(plan.chord_pitch_classes(plan.chord_degree(beat + 0.5))[0], root)
                pitch = target + (1 if rng.random() < 0.5 else -1) * (2 if rng.random() < 0.6 else 1)
            else:
                pitch = root + {"R": 0, "F": 7, "O": 12}[role]
            notes.append(_Note(plan.time(beat), plan.time(length / 2) * staccato, pitch, rng.uniform(0.75, 1.0)))
    decay = rng.uniform(0.25, 0.8)
    f0, amp = _line(notes, n, sr, lambda m: _envelope(m, sr, 0.004, decay, 0.35, 0.02))
    dark = _wavetables(sr, tilt=2.5, cutoff=rng.uniform(300, 700))
    bright = _wavetables(sr, tilt=rng.uniform(1.2, 1.8), even=rng.uniform(0.3, 1.0), cutoff=rng.uniform(900, 2000))
    phase = rng.random()
    low, high = _oscillator(dark, f0, sr, phase), _oscillator(bright, f0, sr, phase)
    tone = amp * (low + np.clip(amp, 0, 1) ** 2 * (high - low))  # the upper harmonics fade first
    drive = rng.uniform(1.0, 3.0)
    tone = np.tanh(drive * tone / (np.max(np.abs(tone)) + 1e-12)) / drive
    return _pan(_normalised(tone), rng.uniform(-0.1, 0.1))


# ----------------------------------------------------------------------------------------------------------- drums

_DRUM_PATTERNS = [  # sixteenth steps per bar of kick, snare, closed hats and open hats
    dict(kick=[0, 8, 10], snare=[4, 12], hats=[0, 2, 4, 6, 8, 10, 12, 14], open=[]),
    dict(kick=[0, 4, 8, 12], snare=[4, 12], hats=[0, 4, 8, 12], open=[2, 6, 10, 14]),
    dict(kick=[0, 10], snare=[8], hats=list(range(0, 16, 2)), open=[14]),
    dict(kick=[0, 6, 10], snare=[4, 12, 15], hats=list(range(16)), open=[]),
    dict(kick=[0, 7, 8], snare=[4, 12], hats=[0, 2, 4, 6, 8, 10, 12, 14], open=[6]),
]


def _highpass(x: np.ndarray, cutoff: float, sample_rate: int, order: int = 4) -> np.ndarray:
    sos = signal.butter(order, min(cutoff, 0.45 * sample_rate), "highpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x)


def _bandpass(x: np.ndarray, low: float, high: float, sample_rate: int, order: int = 2) -> np.ndarray:
    high = min(high, 0.45 * sample_rate)
    sos = signal.butter(order, [min(low, 0.5 * high), high], "bandpass", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x)


def _sweep(rng: np.random.Generator, sr: int, start: float, end: float, bend: float, decay: float,
           seconds: float) -> np.ndarray:
    """A sine whose frequency falls exponentially from ``start`` to ``end`` Hz (time constant ``bend`` s)."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * math.pi * (end * t + (start - end) * bend * (1 - np.exp(-t / bend)))
    click = _bandpass(rng.standard_normal(len(t)), 1000, 8000, sr) * np.exp(-t / 0.002)
    return np.sin(phase) * np.exp(-t / decay) + rng.uniform(0.1, 0.4) * click


def _kick(rng: np.random.Generator, sr: int) -> np.ndarray:
    shot = _sweep(rng, sr, rng.uniform(110, 220), rng.uniform(42, 62), rng.uniform(0.015, 0.05),
                  rng.uniform(0.12, 0.35), 0.6)
    return np.tanh(rng.uniform(1.0, 2.5) * shot)


def _snare(rng: np.random.Generator, sr: int) -> np.ndarray:
    t = np.arange(int(0.5 * sr)) / sr
    pitch = rng.uniform(160, 260)
    body = (np.sin(2 * math.pi * pitch * t) + 0.5 * np.sin(2 * math.pi * 1.6 * pitch * t)) * np.exp(-t / 0.06)
    noise = _bandpass(rng.standard_normal(len(t)), rng.uniform(1200, 2500), rng.uniform(8000, 12000), sr)
    noise *= np.exp(-t / rng.uniform(0.08, 0.2)) / np.std(noise)
    return rng.uniform(0.4, 0.8) * body + noise * 0.6


def _metal(rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """Six detuned square waves, the metallic layer of hats and cymbals."""
    t = np.arange(int(seconds * sr)) / sr
    base = rng.uniform(280, 420)
    ratios = np.array([1.0, 1.48, 1.66, 2.14, 2.7, 3.47]) * rng.uniform(0.97, 1.03, 6)
    return np.sign(np.sin(2 * math.pi * base * ratios[:, None] * t)).sum(axis=0) / 6


def _cymbal(rng: np.random.Generator, sr: int, cutoff: float, decay: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    raw = rng.standard_normal(len(t)) + rng.uniform(0.3, 1.0) * _metal(rng, sr, seconds)
    shot = _highpass(raw, cutoff, sr) * np.exp(-t / decay)
    return shot / np.max(np.abs(shot))


def _drums(plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    sr, n = plan.sample_rate, plan.n_samples
    kit = {
        "kick": [_kick(rng, sr) for _ in range(2)],
        "snare": [_snare(rng, sr) for _ in range(3)],
        "hat": [_cymbal(rng, sr, rng.uniform(6000, 9000), rng.uniform(0.015, 0.045), 0.25) for _ in range(3)],
        "open": [_cymbal(rng, sr, rng.uniform(5000, 8000), rng.uniform(0.12, 0.3), 1.0)],
        "crash": [_cymbal(rng, sr, rng.uniform(3000, 5000), rng.uniform(0.8, 1.6), 3.0)],
        "tom": [_sweep(rng, sr, f * 1.3, f, 0.05, 0.25, 0.6) for f in sorted(rng.uniform(80, 240, 3))[::-1]],
    }
    gains = dict(kick=1.0, snare=rng.uniform(0.6, 0.9), hat=rng.uniform(0.15, 0.35), open=rng.uniform(0.15, 0.3),
                 crash=rng.uniform(0.2, 0.35), tom=0.7)
    pans = dict(kick=0.0, snare=rng.uniform(-0.1, 0.1), hat=rng.uniform(-0.5, 0.5), crash=rng.uniform(-0.6, 0.6))
    pans["open"] = pans["hat"]
    buses = {name: np.zeros(n) for name in kit if name != "tom"}
    tom_pans = np.linspace(-0.4, 0.4, len(kit["tom"])) * rng.choice([-1, 1])
    tom_buses = [np.zeros(n) for _ in kit["tom"]]
    pattern = _DRUM_PATTERNS[rng.integers(len(_DRUM_PATTERNS))]
    sixteenth = plan.beat / 4

    def hit(bus: np.ndarray, shots: list[np.ndarray], step: float, velocity: float) -> None:
        swing = plan.swing * sixteenth if int(step) % 2 == 1 else 0.0
        when = step * sixteenth + swing + rng.normal(0, 0.004)
        _place(bus, shots[rng.integers(len(shots))], int(max(0.0, when) * sr), velocity)

    for bar in range(plan.n_bars):
        first = 16 * bar
        fill = bar % 4 == 3 and rng.random() < 0.6
        if bar % 8 == 0 and (bar > 0 or rng.random() < 0.5):
            hit(buses["crash"], kit["crash"], first, rng.uniform(0.8, 1.0))
        kicks = set(pattern["kick"])
        if rng.random() < 0.3:
            kicks.add(int(rng.choice([3, 6, 11, 14])))
        for step in sorted(kicks):
            hit(buses["kick"], kit["kick"], first + step, rng.uniform(0.85, 1.0))
        for step in pattern["snare"]:
            if not (fill and step >= 12):
                hit(buses["snare"], kit["snare"], first + step, rng.uniform(0.8, 1.0))
        if rng.random() < 0.4:  # a ghost note
            hit(buses["snare"], kit["snare"], first + int(rng.choice([7, 9, 13, 15])), rng.uniform(0.15, 0.3))
        for step in pattern["hats"]:
            if not (fill and step >= 12):
                accent = 1.0 if step % 4 == 0 else rng.uniform(0.5, 0.8)
                hit(buses["hat"], kit["hat"], first + step, accent)
        for step in pattern["open"]:
            hit(buses["open"], kit["open"], first + step, rng.uniform(0.7, 1.0))
        if fill:
            for i, step in enumerate(range(12, 16)):
                voice = min(i * len(tom_buses) // 4, len(tom_buses) - 1)
                if rng.random() < 0.5:
                    hit(buses["snare"], kit["snare"], first + step, rng.uniform(0.6, 0.9))
                else:
                    hit(tom_buses[voice], kit["tom"], first + step, rng.uniform(0.7, 1.0))
    mix = np.zeros((2, n))
    for name, bus in buses.items():
        _pan(bus * gains[name], pans.get(name, 0.0), into=mix)
    for bus, position in zip(tom_buses, tom_pans):
        _pan(bus * gains["tom"], position, into=mix)
    send = buses["snare"] + 0.5 * sum(tom_buses) + 0.3 * buses["hat"]
    mix = _reverb(mix, send, rng, sr, rng.uniform(0.3, 0.8), rng.uniform(0.1, 0.3))
    return _normalised(mix)


# ----------------------------------------------------------------------------------------------------------- other


def _voicings(plan: _Plan, rng: np.random.Generator, size: int, centre: float) -> list[tuple[float, list[int]]]:
    """(start beat, pitches) per chord, each voice moving to the nearest tone of the next chord."""
    total_beats = plan.n_bars * 4
    previous = [centre - 7 + 14 * i / max(size - 1, 1) for i in range(size)]
    voicings = []
    for start in range(0, total_beats, plan.chord_beats):
        pcs = plan.chord_pitch_classes(plan.chord_degree(start), size)
        order = list(rng.permutation(size)) if rng.random() < 0.3 else list(range(size))
        pitches = sorted(_nearest_pitch(pcs[j], prev) for j, prev in zip(order, previous))
        pitches = [p + 12 if p < centre - 12 else p - 12 if p > centre + 12 else p for p in pitches]
        voicings.append((float(start), pitches))
        previous = [float(p) for p in pitches]
    return voicings


def _chord_part(plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    """A chord voicing per chord, played as a pad or as rhythmic stabs; each voice a detuned stereo pair."""
    sr, n = plan.sample_rate, plan.n_samples
    size = int(rng.choice([3, 4]))
    voicings = _voicings(plan, rng, size, rng.uniform(58, 68))
    if rng.random() < 0.55:  # pad: one note per chord
        attack = rng.uniform(0.03, 0.4)
        hits = [(start, float(plan.chord_beats)) for start, _ in voicings]
        envelope = lambda m: _envelope(m, sr, attack, 0.5, 0.8, 0.08)  # noqa: E731
        strum = 0.0
    else:  # stabs on a rhythm that repeats per bar, sometimes strummed (voices a few ms apart)
        steps = sorted(rng.choice(8, size=int(rng.integers(2, 6)), replace=False))
        decay = rng.uniform(0.08, 0.5)
        hits = [(4 * bar + s / 2, 0.5 * rng.uniform(0.6, 1.0)) for bar in range(plan.n_bars) for s in steps]
        envelope = lambda m: _envelope(m, sr, 0.005, decay, 0.2, 0.03)  # noqa: E731
        strum = float(rng.choice([0.0, rng.uniform(0.005, 0.025)]))
    chord_at = {start: pitches for start, pitches in voicings}
    tables = _wavetables(sr, tilt=rng.uniform(0.8, 1.4), even=rng.uniform(0.4, 1.0), cutoff=rng.uniform(2000, 8000))
    detune = rng.uniform(0.03, 0.12)  # semitones
    width = rng.uniform(0.3, 0.9)
    out = np.zeros((2, n))
    for voice in range(size):
        notes = []
        for beat, length in hits:
            pitches = chord_at[plan.chord_beats * (beat // plan.chord_beats)]
            notes.append(_Note(plan.time(beat) + voice * strum, plan.time(length), pitches[voice],
                               rng.uniform(0.7, 1.0)))
        f0, amp = _line(notes, n, sr, envelope)
        for side in (-1, 1):
            tone = amp * _oscillator(tables, f0 * 2 ** (side * detune / 12), sr, rng.random())
            _pan(tone, side * width * rng.uniform(0.5, 1.0), into=out)
    return out


def _arpeggio(plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    sr, n = plan.sample_rate, plan.n_samples
    rate = int(rng.choice([2, 4]))  # notes per beat
    low = rng.uniform(60, 70)
    shape = rng.choice(["up", "down", "updown"])
    notes = []
    for i in range(int(plan.n_bars * 4 * rate)):
        beat = i / rate
        pcs = plan.chord_pitch_classes(plan.chord_degree(beat))
        ladder = sorted(_nearest_pitch(pc, low + 6) + 12 * octave for octave in (0, 1) for pc in pcs)
        if shape == "down":
            ladder = ladder[::-1]
        elif shape == "updown":
            ladder = ladder + ladder[-2:0:-1]
        notes.append(_Note(plan.time(beat), plan.time(1 / rate), ladder[i % len(ladder)], rng.uniform(0.6, 1.0)))
    decay = rng.uniform(0.05, 0.25)
    f0, amp = _line(notes, n, sr, lambda m: _envelope(m, sr, 0.003, decay, 0.1, 0.02))
    tables = _wavetables(sr, tilt=rng.uniform(0.9, 1.5), even=rng.uniform(0.0, 0.6), cutoff=rng.uniform(2500, 9000))
    return _pan(amp * _oscillator(tables, f0, sr, rng.random()), rng.uniform(-0.6, 0.6))


def _other(plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    parts = [_normalised(_chord_part(plan, rng))]
    if rng.random() < 0.5:
        parts.append(_normalised(_arpeggio(plan, rng)) * rng.uniform(0.4, 0.8))
    mix = sum(parts)
    return _normalised(_reverb(mix, mix.mean(axis=0), rng, plan.sample_rate, rng.uniform(0.8, 2.0),
                               rng.uniform(0.1, 0.3)))


# ---------------------------------------------------------------------------------------------------------- vocals


def _melody(plan: _Plan, rng: np.random.Generator, low: float, high: float) -> list[tuple[_Note, bool]]:
    """Sung notes in phrases of 2-6 beats separated by rests of 1-4 beats; (note, starts a phrase)."""
    scale = plan.scale_pitches(low, high)
    position = len(scale) // 2
    total_beats = plan.n_bars * 4
    beat = 0.0 if rng.random() < 0.5 else 0.5
    notes = []
    while beat < total_beats:
        phrase_end = beat + int(rng.integers(2, 7))
        first = True
        while beat < phrase_end:
            length = min(float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0])), phrase_end - beat)
            pcs = plan.chord_pitch_classes(plan.chord_degree(beat))
            if beat % 1 == 0 and rng.random() < 0.7:  # strong beats land on a chord tone
                candidates = [i for i, p in enumerate(scale) if p % 12 in pcs and abs(i - position) <= 3]
                position = int(rng.choice(candidates)) if candidates else position
            else:
                position = int(np.clip(position + rng.choice([-2, -1, -1, 1, 1, 2]), 0, len(scale) - 1))
            notes.append((_Note(plan.time(beat), plan.time(length), float(scale[position]),
                                rng.uniform(0.7, 1.0)), first))
            first = False
            beat += length
        beat += float(rng.choice([1.0, 1.5, 2.0, 2.0, 3.0, 4.0]))
    return notes


def _formant_response(freqs: np.ndarray, formants: np.ndarray, ring: float, ring_gain: float) -> np.ndarray:
    """Magnitude response (bins, frames) of a vocal tract: a cascade of two-pole resonances at ``formants``
    ((frames, 4) in Hz), scaled to peak 1 per frame, plus a fixed broad resonance at ``ring`` Hz of gain
    ``ring_gain`` (the singer's formant)."""
    squared = (freqs ** 2)[:, None]
    response = np.ones((len(freqs), len(formants)))
    for i in range(formants.shape[1]):
        centre = formants[None, :, i] ** 2
        response *= centre / np.sqrt((centre - squared) ** 2 + squared * _FORMANT_BANDWIDTHS[i] ** 2)
    response /= response.max(axis=0, keepdims=True)
    steady = 0.003 + ring_gain / np.sqrt(1.0 + ((freqs - ring) / 300.0) ** 2)
    return response + steady[:, None]


def _consonant(rng: np.random.Generator, sr: int) -> np.ndarray:
    """A short unvoiced burst: a sibilant, a soft fricative or a plosive."""
    kind = rng.integers(3)
    seconds = (rng.uniform(0.05, 0.1), rng.uniform(0.04, 0.08), rng.uniform(0.01, 0.02))[kind]
    t = np.arange(int(seconds * sr)) / sr
    band = ((4000, 10000), (1500, 6000), (500, 5000))[kind]
    burst = _bandpass(rng.standard_normal(len(t)), *band, sr)
    shape = np.sin(math.pi * t / seconds) if kind < 2 else np.exp(-t / 0.004)
    return burst * shape / (np.std(burst) + 1e-12) * (0.12, 0.06, 0.15)[kind]


def _vocals(plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    sr, n = plan.sample_rate, plan.n_samples
    high_voice = rng.random() < 0.5
    low, high = (57, 77) if high_voice else (45, 66)  # A3-F5 or A2-F#4
    formant_scale = rng.uniform(1.08, 1.2) if high_voice else rng.uniform(0.95, 1.05)
    sung = _melody(plan, rng, low, high)
    notes = [note for note, _ in sung]
    release = rng.uniform(0.03, 0.08)
    envelope = lambda m: _envelope(m, sr, 0.03, 0.3, 0.75, release)  # noqa: E731
    pitch = _held(notes, [note.pitch for note in notes], n, sr)
    amp = _amplitude(notes, n, sr, envelope)

    # Pitch: portamento, delayed vibrato, slow drift.
    glide = math.exp(-1.0 / (rng.uniform(0.02, 0.06) * sr))
    pitch = signal.lfilter([1 - glide], [1, -glide], pitch, zi=[glide * pitch[0]])[0]
    t = np.arange(n) / sr
    onset = _held(notes, [note.start for note in notes], n, sr)
    vibrato_depth = rng.uniform(0.15, 0.5) * np.clip((t - onset - 0.15) / 0.3, 0, 1)
    vibrato = vibrato_depth * np.sin(2 * math.pi * rng.uniform(4.8, 6.5) * t + rng.uniform(0, 2 * math.pi))
    drift_filter = signal.butter(1, 3.0, fs=sr, output="sos")
    drift = signal.sosfilt(drift_filter, rng.standard_normal(n)) * 3.0
    f0 = _midi_to_hz(pitch + vibrato + np.clip(drift, -0.2, 0.2))

    # Source: a glottal-like harmonic series plus breath, gated by the syllable envelope.
    tilt = rng.uniform(0.7, 1.1)
    source = _oscillator(_wavetables(sr, tilt=tilt), f0, sr, rng.random())
    breath = _highpass(rng.standard_normal(n), 1000, sr, order=2) * rng.uniform(0.02, 0.08)
    excitation = amp * (source / np.std(source) + breath)

    # Formants: one vowel per syllable, gliding between them.
    nperseg, hop = _VOCAL_FRAME, _VOCAL_FRAME // 2
    freqs, frame_times, spectrum = signal.stft(excitation, sr, nperseg=nperseg, noverlap=nperseg - hop)
    starts = np.array([note.start for note in notes])
    vowels = rng.integers(len(_VOWELS), size=len(notes))
    syllable = np.clip(np.searchsorted(starts, frame_times, side="right") - 1, 0, len(notes) - 1)
    formants = _VOWELS[vowels[syllable]] * formant_scale
    smooth = math.exp(-hop / (rng.uniform(0.03, 0.06) * sr))
    formants = signal.lfilter([1 - smooth], [1, -smooth], formants, axis=0, zi=smooth * formants[:1])[0]
    response = _formant_response(freqs, formants, rng.uniform(2600, 3300), rng.uniform(0.1, 0.4))
    _, voice = signal.istft(spectrum * response, sr, nperseg=nperseg, noverlap=nperseg - hop)
    voice = _normalised(voice[:n]) * 0.5

    for note, phrase_start in sung:
        if rng.random() < (0.7 if phrase_start else 0.35):
            burst = _consonant(rng, sr)
            _place(voice, burst, int(note.start * sr) - len(burst) // 2, note.velocity)
    stereo = _pan(voice, rng.uniform(-0.15, 0.15))
    return _normalised(_reverb(stereo, voice, rng, sr, rng.uniform(0.6, 1.6), rng.uniform(0.05, 0.2)))


# ---------------------------------------------------------------------------------------------------------- tracks

_INSTRUMENTS = {"bass": _bass, "drums": _drums, "other": _other, "vocals": _vocals}
_DROP_OUT = {"bass": 0.1, "drums": 0.12, "other": 0.1, "vocals": 0.0}  # chance that a part rests for a section


def _arrangement(plan: _Plan, rng: np.random.Generator, drop_out: float) -> np.ndarray:
    """Per-sample gain that silences a part for some two-bar sections (never the first), with 20 ms fades."""
    section = int(round(8 * plan.beat * plan.sample_rate))
    count = -(-plan.n_samples // section)
    playing = np.concatenate([[1.0], (rng.random(count - 1) >= drop_out).astype(np.float64)])
    gain = np.repeat(playing, section)[:plan.n_samples]
    fade = max(1, int(0.02 * plan.sample_rate))
    if playing.min() == 1:
        return gain
    total = np.concatenate([[0.0], np.cumsum(gain)])  # a moving average over the last `fade` samples
    end = np.arange(1, plan.n_samples + 1)
    begin = np.maximum(end - fade, 0)
    return (total[end] - total[begin]) / (end - begin)


def track_seed(seed: int, index: int) -> int:
    """The seed of track ``index`` of a dataset made with ``seed`` (independent streams per track)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def synthesize_track(seed: int, duration: float, sample_rate: int = 44100) -> dict[str, np.ndarray]:
    """The four stems of one synthetic song: float32 ``(round(duration * sample_rate), 2)`` on the 16-bit grid.

    Each stem gets a random level within +-6 dB; together they are scaled so the mixture peaks below 0.9.
    """
    n = _check_parameters(duration, sample_rate)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    root = np.random.SeedSequence(int(seed))
    plan_rng, *stem_rngs = (np.random.default_rng(s) for s in root.spawn(1 + len(STEMS)))
    plan = _plan(plan_rng, n, sample_rate)
    stems = {}
    for name, rng in zip(STEMS, stem_rngs):
        level = 10 ** (plan_rng.uniform(-6, 6) / 20)
        stems[name] = _INSTRUMENTS[name](plan, rng) * (level * _arrangement(plan, rng, _DROP_OUT[name]))
    mixture = sum(stems.values())
    gain = plan_rng.uniform(0.6, 1.0) * PEAK / max(float(np.max(np.abs(mixture))), 1e-9)
    return {name: np.ascontiguousarray((np.rint(stem * (gain * _FULL_SCALE)) / _FULL_SCALE).T, dtype=np.float32)
            for name, stem in stems.items()}


def _check_parameters(duration: float, sample_rate: int) -> int:
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be an integer of at least {MIN_SAMPLE_RATE} Hz, got {sample_rate!r}")
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    n = round(duration * sample_rate)
    if n < _VOCAL_FRAME:
        raise ValueError(f"duration {duration} s is {n} samples at {sample_rate} Hz; a track needs at least "
                         f"{_VOCAL_FRAME} (one frame of the vocal filter), i.e. {_VOCAL_FRAME / sample_rate:.4f} s")
    return n


def _check_dataset_parameters(n_tracks: int, duration: float, seed: int, sample_rate: int) -> int:
    """Validate a dataset's parameters; the number of samples per track."""
    n_samples = _check_parameters(duration, sample_rate)
    if not isinstance(n_tracks, (int, np.integer)) or n_tracks < 1:
        raise ValueError(f"n_tracks must be a positive integer, got {n_tracks!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return n_samples


def _to_pcm16(stems: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The stems and their mixture as int16 arrays; the mixture is the exact sum of the rounded stems."""
    if set(stems) != set(STEMS):
        raise ValueError(f"stems must have exactly the keys {STEMS}, got {sorted(stems)}")
    shapes = {name: np.shape(stems[name]) for name in STEMS}
    if len(set(shapes.values())) != 1 or len(shapes["bass"]) != 2:
        raise ValueError(f"stems must share one (samples, channels) shape, got {shapes}")
    pcm = {}
    for name in STEMS:
        audio = np.asarray(stems[name], dtype=np.float64)
        if not np.all(np.isfinite(audio)):
            raise ValueError(f"stem {name!r} contains NaN or infinite samples")
        pcm[name] = np.round(audio * _FULL_SCALE).astype(np.int64)
    pcm["mixture"] = sum(pcm.values())
    for name, audio in pcm.items():  # checked before the cast, which would wrap around silently
        peak = int(np.max(np.abs(audio), initial=0))
        if peak >= _FULL_SCALE:
            what = "the mixture of these stems" if name == "mixture" else f"stem {name!r}"
            raise ValueError(f"{what} peaks at {peak / _FULL_SCALE:.3f}; 16-bit PCM needs every stem and the "
                             f"mixture below 1")
    return {name: audio.astype(np.int16) for name, audio in pcm.items()}


def write_track(folder: str | os.PathLike, stems: Mapping[str, np.ndarray], sample_rate: int) -> Path:
    """Write ``mixture.wav`` and the four stems (16-bit PCM) into ``folder``, atomically.

    The files are written into a hidden temporary sibling folder that is renamed to ``folder`` once complete,
    replacing an existing track there; the mixture is the exact sum of the stems rounded to 16 bits.
    """
    folder = Path(folder)
    pcm = _to_pcm16(stems)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = _hidden_sibling(folder, "partial")
    staging.mkdir()
    try:
        for name, audio in pcm.items():
            sf.write(staging / f"{name}.wav", audio, sample_rate, subtype="PCM_16")
        _replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _hidden_sibling(path: Path, kind: str) -> Path:
    """An unused hidden name next to ``path`` (not created; the umask applies when the caller creates it)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.{kind}")


def _replace_folder(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; an existing ``target`` is moved aside first and then deleted."""
    old = None
    if target.exists():
        old = _hidden_sibling(target, "old")
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old)


def _is_complete(folder: Path, n_samples: int, sample_rate: int) -> bool:
    try:
        track = open_track(folder)
    except TrackError:
        return False
    return (track.frames, track.sample_rate, track.channels) == (n_samples, sample_rate, 2)


def track_names(n_tracks: int) -> list[str]:
    """Folder names of a dataset's tracks, in order: ``synth-0000``, ``synth-0001``, ..."""
    width = max(4, len(str(n_tracks - 1)))
    return [f"{TRACK_PREFIX}{i:0{width}d}" for i in range(n_tracks)]


def write_dataset(root: str | os.PathLike, n_tracks: int, duration: float, seed: int = 0,
                  sample_rate: int = 44100, progress: bool = False) -> list[Path]:
    """Write ``n_tracks`` synthetic tracks into ``root``, track i made from ``track_seed(seed, i)``.

    Tracks already present with the right length, sample rate and channels are kept (so an interrupted run
    resumes); their seed is not checked, which is what :func:`ensure_dataset`'s manifest is for.
    """
    n_samples = _check_dataset_parameters(n_tracks, duration, seed, sample_rate)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / name for name in track_names(n_tracks)]
    for index, path in enumerate(tqdm(paths, desc=f"synthesising {root}", unit="track", disable=not progress)):
        if not _is_complete(path, n_samples, sample_rate):
            write_track(path, synthesize_track(track_seed(seed, index), duration, sample_rate), sample_rate)
    return paths


def _manifest(n_tracks: int, duration: float, seed: int, sample_rate: int) -> dict:
    return dict(generator="evaluator.synthetic", version=GENERATOR_VERSION, n_tracks=int(n_tracks),
                duration=float(duration), seed=int(seed), sample_rate=int(sample_rate))


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("generator") == "evaluator.synthetic" else None


def _write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) so concurrent callers generate once."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _matches(root: Path, manifest: dict) -> bool:
    return _read_manifest(root) == manifest and all((root / name).is_dir() for name in
                                                    track_names(manifest["n_tracks"]))


def _old_copies(root: Path) -> list[Path]:
    """Old versions of ``root`` that ``_replace_folder`` moved aside and a killed process never deleted."""
    pattern = re.compile(rf"\.{re.escape(root.name)}\.[0-9a-f]{{12}}\.old")
    if not root.parent.is_dir():
        return []
    return [path for path in root.parent.iterdir() if pattern.fullmatch(path.name)]


def ensure_dataset(root: str | os.PathLike, n_tracks: int, duration: float, seed: int = 0,
                   sample_rate: int = 44100, progress: bool = False) -> Path:
    """A synthetic dataset in ``root``, generated once and reused while its ``dataset.json`` matches.

    Generation happens in a hidden sibling folder (resumed if interrupted) that replaces ``root`` only when
    every track and the manifest are written, so ``root`` never holds a half-written dataset. A ``root`` made
    by another generator version or with other parameters is replaced; a non-empty ``root`` without a
    manifest is refused rather than deleted. Old copies of ``root`` that a killed process left while deleting
    them are removed.
    """
    _check_dataset_parameters(n_tracks, duration, seed, sample_rate)
    root = Path(root)
    manifest = _manifest(n_tracks, duration, seed, sample_rate)
    if _matches(root, manifest) and not _old_copies(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.with_name(f".{root.name}.lock")):
        for stale in _old_copies(root):  # a process killed while deleting the dataset it had just replaced
            shutil.rmtree(stale)
        if _matches(root, manifest):  # made by another process while we waited
            return root
        if root.is_dir() and any(root.iterdir()) and _read_manifest(root) is None:
            raise FileExistsError(f"{root} exists and is not a synthetic dataset (no {MANIFEST} from this "
                                  f"generator); remove it or choose another folder")
        key = f"v{GENERATOR_VERSION}-{n_tracks}x{duration:g}s-seed{seed}-{sample_rate}Hz"
        staging = root.with_name(f".{root.name}.partial-{key}")
        for stale in root.parent.glob(f".{root.name}.partial-*"):
            if stale != staging:
                shutil.rmtree(stale)
        for kind in ("partial", "old"):  # tracks a killed run was writing or replacing
            for stale in staging.glob(f".{TRACK_PREFIX}*.{kind}"):
                shutil.rmtree(stale)
        write_dataset(staging, n_tracks, duration, seed, sample_rate, progress=progress)
        _write_json(staging / MANIFEST, manifest)
        _replace_folder(staging, root)
    return root


_SAME_AUDIO_KEYS = ("version", "duration", "seed", "sample_rate")  # what the audio of track i depends on


def _claim_folder(root: Path, n_tracks: int, duration: float, seed: int, sample_rate: int) -> None:
    """Record in ``root``'s manifest what its tracks are made with, refusing a ``root`` whose tracks differ.

    Tracks already in ``root`` are kept by :func:`write_dataset`, so they must come from the same generator
    version, duration, seed and sample rate; tracks without a manifest cannot be checked and are refused too.
    """
    wanted = _manifest(n_tracks, duration, seed, sample_rate)
    existing = _read_manifest(root)
    if existing is None:
        if (root / MANIFEST).exists():
            raise ValueError(f"{root / MANIFEST} is not a manifest of this generator; choose another folder")
        if any(root.glob(f"{TRACK_PREFIX}*")):
            raise ValueError(f"{root} already holds {TRACK_PREFIX}* tracks but no {MANIFEST}, so the seed and "
                             f"duration they were made with are unknown; remove them or choose another folder")
    else:
        differences = [f"{key} {existing.get(key)!r} (asked for {wanted[key]!r})" for key in _SAME_AUDIO_KEYS
                       if existing.get(key) != wanted[key]]
        if differences:
            raise ValueError(f"{root} holds synthetic tracks made with {', '.join(differences)}; they would be "
                             f"kept as they are, so choose another folder or remove this one")
        wanted["n_tracks"] = max(int(existing.get("n_tracks", 0)), wanted["n_tracks"])
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / MANIFEST, wanted)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write a synthetic dataset into OUT_DIR (existing complete tracks are kept).

    OUT_DIR's ``dataset.json`` records the seed, duration, sample rate and generator version of its tracks;
    a folder whose tracks were made with other values (or cannot be checked) is refused.
    """
    parser = argparse.ArgumentParser(prog="python -m evaluator.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder to write the track folders into")
    parser.add_argument("--tracks", type=int, default=DEFAULT_TEST_SET["n_tracks"], help="number of tracks")
    parser.add_argument("--duration", type=float, default=DEFAULT_TEST_SET["duration"], help="seconds per track")
    parser.add_argument("--seed", type=int, default=DEFAULT_TEST_SET["seed"], help="dataset seed")
    parser.add_argument("--sample-rate", type=int, default=44100, help="sample rate in Hz")
    args = parser.parse_args(argv)
    try:
        _check_dataset_parameters(args.tracks, args.duration, args.seed, args.sample_rate)
        _claim_folder(args.out_dir, args.tracks, args.duration, args.seed, args.sample_rate)
        paths = write_dataset(args.out_dir, args.tracks, args.duration, args.seed, args.sample_rate, progress=True)
    except ValueError as e:
        parser.error(str(e))
    print(f"{len(paths)} tracks of {args.duration:g} s at {args.sample_rate} Hz in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
