"""The singing descriptors (benchmarks.singing) on signals whose answer is known: harmonic tones, noise, glides."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import singing
from benchmarks.voices import distance

SR = 44100


def tone(cents_track: np.ndarray, rate: int = SR, harmonics: int = 12) -> np.ndarray:
    """A harmonic tone following ``cents_track`` (MIDI cents per sample), harmonics falling at 1/k."""
    hz = 440.0 * 2 ** ((cents_track - 6900) / 1200)
    phase = 2 * np.pi * np.cumsum(hz) / rate
    return 0.3 * sum(np.sin(k * phase) / k for k in range(1, harmonics + 1))


def steady(midi_cents: float, seconds: float) -> np.ndarray:
    return np.full(int(seconds * SR), float(midi_cents))


def whole(analysis: singing.Analysis, pitch: float, seconds: float) -> list[tuple[int, int, float]]:
    return [(analysis.frame(0.05), analysis.frame(seconds - 0.05), pitch)]


def test_a_steady_tone_is_voiced_stable_harmonic_and_on_pitch():
    analysis = singing.analyse(tone(steady(5700, 2.0)), SR)  # A3, 220 Hz
    assert singing.voiced_fraction(analysis) > 0.95
    assert singing.pitch_error(analysis, whole(analysis, 57, 2.0)) < 3
    assert singing.f0_stability(analysis) < 3
    assert singing.aperiodicity(analysis) < -20
    assert singing.voiced_run(analysis) == pytest.approx(2.0, abs=0.1)
    assert singing.voiced_fraction(analysis, [(0, analysis.frame(1.0))]) > 0.95


def test_a_detuned_tone_and_a_vibrato_measure_their_cents():
    detuned = singing.analyse(tone(steady(5730, 1.5)), SR)  # 30 cents sharp of A3
    assert singing.pitch_error(detuned, whole(detuned, 57, 1.5)) == pytest.approx(30, abs=4)
    t = np.arange(int(2.0 * SR)) / SR
    vibrato = singing.analyse(tone(5700 + 50 * np.sin(2 * np.pi * 5.5 * t)), SR)  # +-50 cents at 5.5 Hz
    assert singing.f0_stability(vibrato) == pytest.approx(50 / np.sqrt(2), abs=6)
    assert singing.pitch_error(vibrato, whole(vibrato, 57, 2.0)) == pytest.approx(50 / np.sqrt(2), abs=8)


def test_noise_is_unvoiced_and_aperiodic():
    noise = singing.analyse(np.random.default_rng(0).normal(0, 0.1, 2 * SR), SR)
    harmonic = singing.analyse(tone(steady(5700, 2.0)), SR)
    assert singing.voiced_fraction(noise) < 0.3
    assert singing.voiced_run(noise) < 0.1
    assert singing.aperiodicity(noise) > singing.aperiodicity(harmonic) + 10


def test_notes_are_found_at_jumps_and_a_glide_is_unstable():
    step = np.concatenate([steady(5700, 1.0), steady(6100, 1.0)])  # A3 then C#4: a 400-cent jump
    analysis = singing.analyse(tone(step), SR)
    notes = singing.find_notes(analysis)
    assert len(notes) == 2 and abs(notes[1][0] - analysis.frame(1.0)) <= 2
    assert singing.f0_stability(analysis) < 3
    glide = singing.analyse(tone(np.linspace(5700, 6900, 2 * SR)), SR)  # an octave in 2 s, like speech intonation
    assert len(singing.find_notes(glide)) == 1
    assert singing.f0_stability(glide) > 200  # 1200 cents spread evenly over the note: std about 300 (trimmed)


def test_voiced_run_is_the_length_of_the_bursts_and_silence_is_not_active():
    burst, gap = tone(steady(6000, 0.3)), np.zeros(int(0.3 * SR))
    analysis = singing.analyse(np.concatenate([gap, burst, gap, burst, gap, burst, gap]), SR)
    assert singing.voiced_run(analysis) == pytest.approx(0.3, abs=0.04)
    assert analysis.active.mean() == pytest.approx(0.9 / 2.1, abs=0.05)
    assert singing.voiced_fraction(analysis) > 0.9


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="mono or"):
        singing.analyse(np.zeros((2, 2, 100)), SR)
    with pytest.raises(ValueError, match="at least 0.1 s"):
        singing.analyse(np.zeros(100), SR)


def test_distance_is_zero_at_the_singer_one_at_speech_and_one_sided():
    real = {"voiced_run": 0.8, "f0_stability": 12.0, "aperiodicity": -31.0}
    speech = {"voiced_run": 0.3, "f0_stability": 50.0, "aperiodicity": -27.0}
    assert distance({**real, "pitch_error": 0.0}, real, speech) == 0
    assert distance({**speech, "pitch_error": 100.0}, real, speech) == pytest.approx(1)
    beyond = {"voiced_run": 1.2, "f0_stability": 5.0, "aperiodicity": -35.0, "pitch_error": 0.0}
    assert distance(beyond, real, speech) == 0
    halfway = {"voiced_run": 0.55, "f0_stability": 31.0, "aperiodicity": -29.0, "pitch_error": float("nan")}
    assert distance(halfway, real, speech) == pytest.approx(0.5)
