"""One rendered song: the score played by sampled instruments and synthesised voices, then mixed.

``render_song(seed, duration)`` is deterministic for a seed on a given machine (same packages and banks).
"""

from __future__ import annotations

import math

import numpy as np

from models.contract import INSTRUMENTS
from render import drumkits, instruments, production, voice
from render.score import Part, Song, compose

_BASS_SOUNDS = {
    "rock": ("finger bass", "pick bass", "pick bass"), "metal": ("pick bass", "finger bass"),
    "pop": ("finger bass", "pick bass", "synth bass", "fretless bass"),
    "funk": ("slap bass", "finger bass", "synth bass"),
    "hiphop": ("synth bass", "finger bass", "fretless bass"), "electronic": ("synth bass", "synth bass", "finger bass"),
    "ballad": ("fretless bass", "acoustic bass", "finger bass"),
}
MIN_DURATION = 1.0  # seconds
RECORDED_KIT_SHARE = 0.5  # drum parts played by a Hydrogen kit (render.drumkits); the others by a SoundFont kit
RECORDED_KIT_GAIN = 0.3  # brings the kits' full-scale recordings near FluidSynth's level, where the compressor works


def _part_audio(song: Song, part: Part, rng: np.random.Generator, n: int, sample_rate: int,
                banks: instruments.Banks) -> np.ndarray:
    if part.stem == "vocals" and part.role != "choir":
        layers = 2 if rng.random() < 0.35 else 1
        return voice.sing(song, part, rng, n, sample_rate, layers=layers, harmony=rng.random() < 0.3)
    if part.stem == "drums" and rng.random() < RECORDED_KIT_SHARE:
        kit = drumkits.load_kit(drumkits.KITS[rng.integers(len(drumkits.KITS))])
        return drumkits.play(part.notes, kit, n, sample_rate) * RECORDED_KIT_GAIN
    role = part.role
    if part.stem == "bass":
        options = _BASS_SOUNDS[song.genre]
        role = options[rng.integers(len(options))]
    return banks.play(part.notes, instruments.choose_sound(role, rng), n)


def render_song(seed: int, duration: float, sample_rate: int = 44100, genre: str | None = None
                ) -> dict[str, np.ndarray]:
    """The four stems of one song: float32 ``(samples, 2)`` each; each stem and their sum peak at most at 0.89."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not math.isfinite(duration) or duration < MIN_DURATION:
        raise ValueError(f"duration must be at least {MIN_DURATION} s, got {duration!r}")
    n = round(duration * sample_rate)
    score_rng, sound_rng, mix_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3))
    song = compose(score_rng, duration, genre)
    dry = {stem: np.zeros((2, n), dtype=np.float32) for stem in INSTRUMENTS}
    with instruments.Banks(sample_rate) as banks:
        for part in song.parts:
            audio = _part_audio(song, part, sound_rng, n, sample_rate, banks)
            chain = production.part_chain(part.stem, part.role, song.genre, mix_rng, sample_rate)
            width = {"bass": 0.2, "vocals": 0.5}.get(part.stem, 1.0)
            dry[part.stem] += production.pan(production.process(audio, chain, sample_rate), part.pan, width)
    stems = {}
    for stem, audio in dry.items():
        send = mix_rng.uniform(0.05, 0.3) if stem != "bass" else 0.0
        if send:
            audio = audio + send * production.process(audio, production.send_chain(stem, mix_rng), sample_rate)
        mean, spread = production.STEM_LOUDNESS[stem]
        stems[stem] = production.set_loudness(audio, mean + mix_rng.normal(0, spread), sample_rate)
    mixture = sum(stems.values())
    gain = 10 ** ((mix_rng.normal(*production.MIX_LOUDNESS) - production.loudness(mixture, sample_rate)) / 20)
    if not np.isfinite(gain):
        gain = 1.0
    curve = production.bus_gain(mixture * gain, sample_rate) * gain
    stems = {stem: audio * curve for stem, audio in stems.items()}
    # a stem can peak above the limited mixture (stems partly cancel in the sum): then all are scaled down together
    peak = max(float(np.max(np.abs(audio))) for audio in stems.values())
    scale = min(1.0, production.CEILING / max(peak, 1e-12))
    return {stem: np.ascontiguousarray((audio * scale).T, dtype=np.float32) for stem, audio in stems.items()}
