"""Objective descriptors of a dry vocal that tell singing from speech, measured with the WORLD analysis (pyworld).

The signal is mixed to mono and resampled to 16 kHz; F0 comes from DIO refined by StoneMask, aperiodicity from
D4C, all on 5-ms frames. A frame is *active* when its level (20-ms window) is within 25 dB of the loud frames
(the 95th percentile), so leading silence, room tails and breaths far below the voice do not count.

- ``voiced_fraction``: share of active frames (or of the frames inside given notes) that DIO calls voiced;
- ``voiced_run``: how long voicing lasts: the median, over voiced active frames, of the length of the voiced run
  each belongs to (sustained vowels make singing's runs long; speech voices a syllable at a time);
- ``f0_stability``: within each note, the standard deviation of F0 in cents around the note's median, first and
  last 50 ms left out; the median over notes. Notes are given, or found by ``find_notes`` (voiced runs cut where
  F0 jumps by more than a semitone from one frame to the next);
- ``aperiodicity``: D4C's aperiodicity averaged in dB over 0-4 kHz on voiced active frames, median over frames
  (lower: more harmonic);
- ``pitch_error``: median absolute distance in cents between F0 and the target note, over voiced frames inside
  the target notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soxr

from render.voice import _pyworld

ANALYSIS_RATE = 16000
FRAME_MS = 5.0
ACTIVE_DB = 25.0
EDGE_MS = 50.0
MIN_NOTE_MS = 50.0  # shorter notes are not notes, nor (after trimming their edges) used for the stability
JUMP_CENTS = 100.0
APERIODICITY_BAND = 4000.0  # Hz
F0_RANGE = (60.0, 1000.0)  # Hz: male speech to high female singing


@dataclass(frozen=True)
class Analysis:
    """Per 5-ms frame: F0 (Hz, 0 where unvoiced), whether the frame is active, and the 0-4 kHz aperiodicity (dB)."""

    f0: np.ndarray
    active: np.ndarray
    aperiodicity_db: np.ndarray

    def frame(self, seconds: float) -> int:
        """The frame at ``seconds`` from the start of the analysed signal."""
        return int(round(seconds * 1000 / FRAME_MS))


def analyse(audio: np.ndarray, rate: int) -> Analysis:
    """The WORLD analysis of ``audio`` (mono ``(samples,)`` or ``(channels, samples)``) at ``rate`` Hz."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    if audio.ndim != 1 or audio.size < rate // 10:
        raise ValueError(f"expected at least 0.1 s of mono or (channels, samples) audio, got shape {audio.shape}")
    if rate != ANALYSIS_RATE:
        audio = soxr.resample(audio, rate, ANALYSIS_RATE)
    audio = np.ascontiguousarray(audio)
    pyworld = _pyworld()
    f0, times = pyworld.dio(audio, ANALYSIS_RATE, f0_floor=F0_RANGE[0], f0_ceil=F0_RANGE[1], frame_period=FRAME_MS)
    f0 = pyworld.stonemask(audio, f0, times, ANALYSIS_RATE)
    aperiodicity = pyworld.d4c(audio, f0, times, ANALYSIS_RATE)
    band = np.linspace(0, ANALYSIS_RATE / 2, aperiodicity.shape[1]) <= APERIODICITY_BAND
    aperiodicity_db = 20 * np.log10(np.clip(aperiodicity[:, band], 1e-6, 1.0)).mean(axis=1)
    hop = int(ANALYSIS_RATE * FRAME_MS / 1000)
    padded = np.pad(audio, (2 * hop, 2 * hop + hop * len(f0)))
    windows = padded[(np.arange(len(f0)) * hop)[:, None] + np.arange(4 * hop)[None]]  # 20 ms centred on each frame
    level = 10 * np.log10(np.mean(windows**2, axis=1) + 1e-20)
    active = level > np.percentile(level, 95) - ACTIVE_DB
    return Analysis(f0, active, aperiodicity_db)


def cents(hz: np.ndarray) -> np.ndarray:
    """Frequencies in MIDI cents (A4 = 440 Hz = 6900)."""
    return 6900 + 1200 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) index ranges where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def find_notes(analysis: Analysis) -> list[tuple[int, int]]:
    """Frame ranges of notes: voiced active runs, cut where F0 jumps by more than ``JUMP_CENTS`` between frames;
    pieces shorter than ``MIN_NOTE_MS`` (the frames of a jump) left out."""
    notes = []
    for first, end in runs((analysis.f0 > 0) & analysis.active):
        jumps = np.flatnonzero(np.abs(np.diff(cents(analysis.f0[first:end]))) > JUMP_CENTS) + 1
        edges = [first, *(first + jumps).tolist(), end]
        notes += [(a, b) for a, b in zip(edges[:-1], edges[1:]) if (b - a) * FRAME_MS >= MIN_NOTE_MS]
    return notes


def voiced_fraction(analysis: Analysis, notes: Sequence[tuple[int, int]] | None = None) -> float:
    """Share of the active frames, or of the frames inside ``notes`` (frame ranges), that are voiced."""
    if notes is None:
        mask = analysis.active
    else:
        mask = np.zeros(len(analysis.f0), dtype=bool)
        for first, end in notes:
            mask[max(first, 0):max(end, 0)] = True
    return float(np.mean(analysis.f0[mask] > 0)) if mask.any() else float("nan")


def voiced_run(analysis: Analysis) -> float:
    """Seconds: the median over voiced active frames of the length of the voiced run each frame is in."""
    lengths = [end - first for first, end in runs((analysis.f0 > 0) & analysis.active)]
    if not lengths:
        return float("nan")
    return float(np.median(np.repeat(lengths, lengths))) * FRAME_MS / 1000


def f0_stability(analysis: Analysis, notes: Sequence[tuple[int, int]] | None = None) -> float:
    """Cents: median over notes (frame ranges; default ``find_notes``) of F0's standard deviation around the note's
    median, ``EDGE_MS`` trimmed from both ends; nan when no note is long enough."""
    edge, shortest = int(EDGE_MS / FRAME_MS), int(MIN_NOTE_MS / FRAME_MS)
    spreads = []
    for first, end in find_notes(analysis) if notes is None else notes:
        f0 = analysis.f0[max(first + edge, 0):max(end - edge, 0)]
        f0 = f0[f0 > 0]
        if len(f0) >= shortest:
            c = cents(f0)
            spreads.append(float(np.std(c - np.median(c))))
    return float(np.median(spreads)) if spreads else float("nan")


def aperiodicity(analysis: Analysis) -> float:
    """dB: median over voiced active frames of the 0-4 kHz aperiodicity (lower: more harmonic)."""
    frames = (analysis.f0 > 0) & analysis.active
    return float(np.median(analysis.aperiodicity_db[frames])) if frames.any() else float("nan")


def note_errors(analysis: Analysis, notes: Sequence[tuple[int, int, float]]) -> np.ndarray:
    """Cents between F0 and the target, for every voiced frame inside ``notes`` ((first, end, MIDI pitch))."""
    errors = [np.abs(cents(f0[f0 > 0]) - 100 * pitch)
              for first, end, pitch in notes for f0 in [analysis.f0[max(first, 0):max(end, 0)]]]
    return np.concatenate(errors) if errors else np.zeros(0)


def pitch_error(analysis: Analysis, notes: Sequence[tuple[int, int, float]]) -> float:
    """Cents: median of ``note_errors``; nan when no frame inside the notes is voiced."""
    errors = note_errors(analysis, notes)
    return float(np.median(errors)) if errors.size else float("nan")
