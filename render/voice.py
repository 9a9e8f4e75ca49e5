"""Vocals from speech synthesis: lyrics spoken by a TTS voice, then sung (pitched and time-fitted to the melody)
or rapped (spoken rhythm kept, fitted to the bar) with the WORLD vocoder.

Voices, from the Debian packages ``festival`` + ``festvox-us-slt-hts`` (HTS, female), ``festvox-kallpc16k``
(diphone, male), ``flite`` (slt, rms, awb, kal) and ``espeak-ng`` (formant voices). Each phrase is spoken, analysed
into F0, spectral envelope and aperiodicity (``pyworld``), its voiced runs (about one per syllable) become notes
whose lengths follow the spoken syllables and whose onsets snap to the song's sixteenth grid, the F0 is replaced
by the melody (portamento, delayed vibrato, drift), the envelope is formant-shifted for another timbre, and the
frames are resynthesised directly at the song's sample rate: near and above the TTS voice's Nyquist frequency the
envelope continues with a falling tilt and the aperiodicity is noise, so the voice has "air" instead of a hard
low-pass.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from render.score import Part, Song

FRAME_MS = 5.0
# WORLD analyses speech at this rate or above: at 8 kHz its aperiodicity (D4C) is all noise and not even
# deterministic (it read different values for the same speech in 4 of 40 runs)
ANALYSIS_MIN_RATE = 16000
APT_PACKAGES = ("festival", "festvox-us-slt-hts", "festvox-kallpc16k", "flite", "espeak-ng")


class MissingVoiceError(RuntimeError):
    """No speech synthesiser is installed."""


@dataclass(frozen=True)
class Voice:
    name: str
    singer: str  # female / male
    weight: float  # how often it is drawn (the more natural voices more often)

    def command(self, text_file: Path, wav: Path) -> list[str]:
        engine, _, variant = self.name.partition(":")
        if engine == "festival":
            return ["text2wave", "-eval", f"(voice_{variant})", "-o", str(wav), str(text_file)]
        if engine == "flite":
            return ["flite", "-voice", variant, "-f", str(text_file), "-o", str(wav)]
        return ["espeak-ng", "-v", variant, "-s", "150", "-f", str(text_file), "-w", str(wav)]

    @property
    def program(self) -> str:
        return {"festival": "text2wave", "flite": "flite", "espeak": "espeak-ng"}[self.name.split(":")[0]]


VOICES = (
    Voice("festival:cmu_us_slt_arctic_hts", "female", 4.0),
    Voice("festival:kal_diphone", "male", 2.0),
    Voice("flite:slt", "female", 2.0),
    Voice("flite:rms", "male", 1.0),  # sings about half the notes: its speech has few voiced runs (BENCHMARKS voices)
    Voice("flite:awb", "male", 2.0),
    Voice("flite:kal", "male", 1.0),
    Voice("espeak:en-us+f3", "female", 0.7),
    Voice("espeak:en+f4", "female", 0.7),
    Voice("espeak:en-us+m3", "male", 0.7),
    Voice("espeak:en-gb+m7", "male", 0.7),
)

_WORDS = dict(
    who=["I", "you", "we", "they", "she", "he", "nobody", "everyone"],
    verb=["run", "fall", "dance", "call", "wait", "hold on", "break", "shine", "ride", "move", "sing", "burn",
          "believe", "remember", "forget", "drive", "fly", "stay", "dream", "feel"],
    noun=["night", "fire", "light", "city", "heart", "river", "summer", "rain", "road", "sky", "morning", "ocean",
          "shadow", "radio", "window", "money", "island", "thunder", "midnight", "garden", "silver", "story"],
    adjective=["golden", "broken", "electric", "lonely", "wild", "quiet", "burning", "endless", "empty", "bright",
               "cold", "crazy", "sweet", "heavy", "faded"],
    place=["tonight", "again", "forever", "right now", "all alone", "down the line", "in the dark", "on and on",
           "back home", "so far away", "one more time"],
)
_TEMPLATES = [
    "{who} {verb} {place}", "{who} {verb} into the {adjective} {noun}", "oh the {noun} is {adjective}",
    "take me to the {noun} {place}", "{adjective} {noun} {adjective} {noun}", "{who} never {verb} {place}",
    "under the {adjective} {noun}", "{who} {verb} and {verb} {place}", "yeah {who} {verb}", "hey {adjective} {noun}",
    "all the {noun}s {verb} {place}", "{who} can {verb} with the {noun}",
]


def lyric_line(rng: np.random.Generator) -> str:
    """One line of pop lyrics from a small word bank."""
    template = _TEMPLATES[rng.integers(len(_TEMPLATES))]
    words = {k: v[rng.integers(len(v))] for k, v in _WORDS.items()}
    return template.format(**words)


def installed_voices() -> list[Voice]:
    return [v for v in VOICES if shutil.which(v.program)]


def choose_voice(singer: str, rng: np.random.Generator) -> Voice:
    voices = [v for v in installed_voices() if v.singer == singer] or installed_voices()
    if not voices:
        raise MissingVoiceError(f"no speech synthesiser found; run scripts/setup.sh (apt packages "
                                f"{', '.join(APT_PACKAGES)})")
    weights = np.array([v.weight for v in voices])
    return voices[rng.choice(len(voices), p=weights / weights.sum())]


def speak(voice: Voice, text: str) -> tuple[np.ndarray, int]:
    """``text`` spoken by ``voice``: mono float64 samples and their rate."""
    with tempfile.TemporaryDirectory(prefix="render-tts-") as tmp:
        text_file, wav = Path(tmp) / "line.txt", Path(tmp) / "line.wav"
        text_file.write_text(text + "\n")
        result = subprocess.run(voice.command(text_file, wav), capture_output=True, timeout=60)
        if result.returncode != 0 or not wav.is_file():
            raise MissingVoiceError(f"{voice.name} failed on {text!r}: {result.stderr.decode(errors='replace')[-300:]}")
        audio, rate = sf.read(wav, dtype="float64", always_2d=True)
    return audio.mean(axis=1), rate


@dataclass
class _Analysis:
    f0: np.ndarray  # Hz per frame, 0 where unvoiced
    sp: np.ndarray  # (frames, bins) power spectral envelope at the voice's rate
    ap: np.ndarray  # (frames, bins) aperiodicity
    rate: int


def _pyworld():
    """The WORLD vocoder; pyworld 0.3.5 imports setuptools' deprecated pkg_resources, whose warning is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import pyworld
    return pyworld


@functools.lru_cache(maxsize=256)
def _analyse(voice: Voice, text: str) -> _Analysis:
    pyworld = _pyworld()
    audio, rate = speak(voice, text)
    if rate < ANALYSIS_MIN_RATE:  # flite's kal speaks at 8 kHz, where WORLD's D4C finds no bands: all noise
        audio, rate = soxr.resample(audio, rate, ANALYSIS_MIN_RATE), ANALYSIS_MIN_RATE
    audio = np.ascontiguousarray(audio / max(np.max(np.abs(audio)), 1e-9) * 0.5)
    f0, times = pyworld.dio(audio, rate, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(audio, f0, times, rate)
    sp = pyworld.cheaptrick(audio, f0, times, rate)
    ap = pyworld.d4c(audio, f0, times, rate)
    return _Analysis(f0, sp, ap, rate)


def _voiced_runs(f0: np.ndarray, min_frames: int = 6, bridge: int = 3) -> list[tuple[int, int]]:
    """(first, end) frame ranges of voiced speech: gaps up to ``bridge`` frames joined, short blips dropped."""
    voiced = f0 > 0
    runs, start = [], None
    for i, v in enumerate(np.append(voiced, False)):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if runs and start - runs[-1][1] <= bridge:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((start, i))
            start = None
    return [(a, b) for a, b in runs if b - a >= min_frames]


def _interp_columns(matrix: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Each row of ``matrix`` read at fractional column ``positions`` (linear interpolation, clamped)."""
    positions = np.clip(positions, 0, matrix.shape[1] - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, matrix.shape[1] - 1)
    weight = positions - low
    return matrix[:, low] * (1 - weight) + matrix[:, high] * weight


def _resample_envelope(matrix: np.ndarray, rate: int, out_rate: int, fft_size: int, air: float | None) -> np.ndarray:
    """Spectral frames at ``rate`` moved onto the frequency grid of ``fft_size`` at ``out_rate``.

    Above 0.8 x the source's Nyquist frequency: the level of its upper band falling by 6 dB per octave
    (``air=None``), or the constant ``air`` (for the aperiodicity).
    """
    nyquist = rate / 2
    dst = np.linspace(0, out_rate / 2, fft_size // 2 + 1)
    inside = dst <= 0.8 * nyquist  # above this the TTS output's anti-alias filter has already cut in
    out = np.empty((matrix.shape[0], len(dst)))
    out[:, inside] = _interp_columns(matrix, dst[inside] / nyquist * (matrix.shape[1] - 1))
    if air is not None:
        out[:, ~inside] = air
    else:
        columns = slice(int(0.55 * matrix.shape[1]), int(0.75 * matrix.shape[1]))
        edge = matrix[:, columns].mean(axis=1, keepdims=True)
        out[:, ~inside] = edge * (dst[~inside] / (0.65 * nyquist)) ** -2.0  # power: -6 dB per octave
    return out


def _formant_shift(sp: np.ndarray, factor: float) -> np.ndarray:
    """Envelope frames with formants moved by ``factor`` (>1: smaller, brighter vocal tract)."""
    return _interp_columns(sp, np.arange(sp.shape[1]) / factor)


@dataclass(frozen=True)
class _Syllable:
    onset: float  # seconds (song time) where the voiced run starts
    end: float  # seconds where it ends
    pitch: float  # MIDI, or nan to keep the spoken contour
    consonant: int  # frames of unvoiced speech placed just before the onset
    run: tuple[int, int]  # voiced source frames


def _fit_syllables(song: Song, runs: list[tuple[int, int]], gaps: list[int], start: float, end: float,
                   melody: list, sung: bool) -> list[_Syllable]:
    """Onsets for the voiced runs inside [start, end]: proportional to the spoken lengths, on the sixteenth grid."""
    frame = FRAME_MS / 1000
    spoken = np.array([(b - a) + gaps[i] for i, (a, b) in enumerate(runs)], dtype=float) * frame
    span = end - start
    stretch = span / spoken.sum() if sung else float(np.clip(span / spoken.sum(), 0.8, 1.25))
    sixteenth = song.beat / 4
    onsets = start + np.concatenate([[0.0], np.cumsum(spoken * stretch)[:-1]])
    if sung:
        onsets = start + np.round((onsets - start) / sixteenth) * sixteenth
        onsets = np.maximum.accumulate(onsets + np.arange(len(onsets)) * 1e-6)
    ends = np.append(onsets[1:], start + spoken.sum() * stretch if not sung else end)
    syllables = []
    for i, (run, onset, stop) in enumerate(zip(runs, onsets, ends)):
        following = gaps[i + 1] * frame if i + 1 < len(runs) else 0.0
        stop = max(onset + 0.04, stop - following)
        pitch = float("nan")
        if sung and melody:
            pitch = min(melody, key=lambda n: abs(n.start - onset)).pitch
        syllables.append(_Syllable(float(onset), float(stop), pitch, gaps[i], run))
    return syllables


def _render_phrase(analysis: _Analysis, syllables: list[_Syllable], rng: np.random.Generator, sample_rate: int,
                   shift: float, formant: float) -> tuple[float, np.ndarray]:
    """Synthesise one phrase; its start time (s) and mono samples at ``sample_rate``."""
    pyworld = _pyworld()
    frame = FRAME_MS / 1000
    first = syllables[0].onset - syllables[0].consonant * frame
    total = int(round((syllables[-1].end - first) / frame)) + 20
    src = np.full(total, -1, dtype=np.int64)  # source frame per output frame (-1: silence)
    pitch = np.full(total, np.nan)
    voiced = np.zeros(total, dtype=bool)
    previous_pitch = None
    for syl in syllables:
        a, b = syl.run
        onset = int(round((syl.onset - first) / frame))
        c0 = max(0, onset - syl.consonant)
        src[c0:onset] = np.arange(a - (onset - c0), a).clip(0)
        length = max(1, int(round((syl.end - syl.onset) / frame)))
        end = min(total, onset + length)
        src[onset:end] = np.linspace(a, b - 1, end - onset).round().astype(np.int64)
        voiced[onset:end] = True
        if not np.isnan(syl.pitch):
            target = syl.pitch
            contour = np.full(end - onset, float(target))
            if previous_pitch is not None:  # portamento from the last note
                glide = min(len(contour), int(rng.uniform(0.03, 0.08) / frame))
                contour[:glide] = np.linspace(previous_pitch, target, glide)
            t = np.arange(end - onset) * frame
            depth = rng.uniform(0.1, 0.35) * np.clip((t - 0.18) / 0.2, 0, 1)
            contour += depth * np.sin(2 * np.pi * rng.uniform(4.8, 6.2) * t)
            pitch[onset:end] = contour
            previous_pitch = target
    keep = src >= 0
    sp = np.full((total, analysis.sp.shape[1]), 1e-12)
    ap = np.ones((total, analysis.ap.shape[1]))
    f0 = np.zeros(total)
    sp[keep] = analysis.sp[src[keep]]
    ap[keep] = analysis.ap[src[keep]]
    spoken_f0 = analysis.f0[src.clip(0)]
    sung = voiced & ~np.isnan(pitch)
    f0[sung] = 440.0 * 2 ** ((pitch[sung] - 69) / 12)
    rap = voiced & np.isnan(pitch) & (spoken_f0 > 0)
    f0[rap] = spoken_f0[rap] * 2 ** (shift / 12)
    ap[voiced & (f0 == 0)] = 1.0
    drift = np.cumsum(rng.normal(0, 0.002, total))
    f0 *= 2 ** (np.clip(drift - drift.mean(), -0.1, 0.1) / 12)
    fft_size = pyworld.get_cheaptrick_fft_size(sample_rate)
    sp = _resample_envelope(_formant_shift(sp, formant), analysis.rate, sample_rate, fft_size, None)
    ap = _resample_envelope(ap, analysis.rate, sample_rate, fft_size, float(rng.uniform(0.85, 0.99)))
    audio = pyworld.synthesize(np.ascontiguousarray(f0), np.ascontiguousarray(sp), np.ascontiguousarray(ap),
                               sample_rate, FRAME_MS)
    return first, audio


@dataclass(frozen=True)
class SungLine:
    """One phrase as the lead take delivered it: its lyrics and, per syllable, (start s, end s, target pitch)
    in song time; the pitch is a MIDI number, nan where the line is rapped (the spoken contour kept)."""

    text: str
    syllables: tuple[tuple[float, float, float], ...]


def sing(song: Song, part: Part, rng: np.random.Generator, n_samples: int, sample_rate: int = 44100,
         layers: int = 1, harmony: bool = False) -> np.ndarray:
    """The vocal ``part`` (sung or rapped phrases) as float32 ``(2, n_samples)``.

    ``layers`` > 1 adds doubled takes (other timing and pitch drift, panned apart); ``harmony`` adds a diatonic
    third above the sung line, quieter.
    """
    return perform(song, part, rng, n_samples, sample_rate, layers, harmony)[0]


def perform(song: Song, part: Part, rng: np.random.Generator, n_samples: int, sample_rate: int = 44100,
            layers: int = 1, harmony: bool = False, voice: Voice | None = None) -> tuple[np.ndarray, list[SungLine]]:
    """``sing``, and what the lead take sang (lyrics, syllable spans and target pitches) for measuring it.

    ``voice`` fixes the voice instead of drawing it (then ``rng`` is not drawn from for it); with ``voice=None``
    the audio is exactly ``sing``'s.
    """
    voice = voice or choose_voice(part.singer or "female", rng)
    out = np.zeros((2, n_samples))
    lines = []
    sung = part.role == "sung"
    formant = float(rng.uniform(0.92, 1.1))
    scale = sorted(p for p in range(0, 128) if p % 12 in song.scale_pitch_classes())
    for start, end in part.phrases:
        text = lyric_line(rng)
        analysis = _analyse(voice, text)
        runs = _voiced_runs(analysis.f0)
        if not runs:
            continue
        gaps = [min(25, a - (runs[i - 1][1] if i else 0)) for i, (a, _) in enumerate(runs)]
        melody = [n for n in part.notes if start - 0.05 <= n.start < end]
        syllables = _fit_syllables(song, runs, gaps, start, end, melody, sung)
        lines.append(SungLine(text, tuple((s.onset, s.end, s.pitch) for s in syllables)))
        takes = [(0.0, 0.0, 1.0, 0.0)]  # (pan, delay s, gain, transpose)
        takes += [(float(rng.choice([-1, 1]) * rng.uniform(0.4, 0.8)), float(rng.uniform(0.01, 0.03)), 0.6, 0.0)
                  for _ in range(layers - 1)]
        if harmony and sung:
            takes.append((float(rng.uniform(-0.5, 0.5)), 0.0, 0.45, 3.5))
        for pan, delay, gain, transpose in takes:
            shifted = syllables
            if transpose:  # a diatonic third: two scale steps above each note
                shifted = [s if np.isnan(s.pitch) else _Syllable(
                    s.onset, s.end, float(scale[min(len(scale) - 1, int(np.searchsorted(scale, s.pitch)) + 2)]),
                    s.consonant, s.run) for s in syllables]
            first, audio = _render_phrase(analysis, shifted, rng, sample_rate, float(rng.uniform(-2, 2)), formant)
            begin = int(round((first + delay) * sample_rate))
            audio = audio[max(0, -begin):][: max(0, n_samples - max(begin, 0))]
            begin = max(begin, 0)
            angle = (pan + 1) * np.pi / 4
            out[0, begin:begin + len(audio)] += gain * np.cos(angle) * audio
            out[1, begin:begin + len(audio)] += gain * np.sin(angle) * audio
    return out.astype(np.float32), lines
