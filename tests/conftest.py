"""Shared fixtures: small audio tracks written on the fly (no downloads)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

STEM_NAMES = ("bass", "drums", "other", "vocals")
# stream order inside a MUSDB18 .stem.mp4
STEM_FILE_ORDER = ("mixture", "drums", "bass", "other", "vocals")


def noise_stems(frames: int, channels: int = 2, seed: int = 0, level: float = 0.1) -> dict[str, np.ndarray]:
    """Four independent white-noise stems, float32 ``(frames, channels)``, RMS ``level`` each."""
    rng = np.random.default_rng(seed)
    return {s: (level * rng.standard_normal((frames, channels))).astype(np.float32) for s in STEM_NAMES}


def tone_stems(frames: int, sample_rate: int, channels: int = 2) -> dict[str, np.ndarray]:
    """Four stems of steady sine tones (different pitch per stem and channel), peak 0.2: easy for lossy codecs."""
    t = np.arange(frames) / sample_rate
    stems = {}
    for k, stem in enumerate(STEM_NAMES):
        columns = [0.2 * np.sin(2 * np.pi * (110 * (k + 1) + 55 * c) * t) for c in range(channels)]
        stems[stem] = np.stack(columns, axis=1).astype(np.float32)
    return stems


def write_noise_dataset(root: Path, n_tracks: int, seconds: float, seed: int = 0, rate: int = 44100) -> list[Path]:
    """``song-0000``, ``song-0001``, ... in ``root``: noise stems (never silent, unlike a rendered song's intro),
    16-bit, the mixture their exact sum (``render.write_track``). For tests of the evaluation side."""
    from render import write_track

    return [write_track(root / f"song-{i:04d}", noise_stems(round(seconds * rate), seed=seed + i, level=0.05), rate)
            for i in range(n_tracks)]


@pytest.fixture
def make_track_folder() -> Callable[..., Path]:
    """``make(folder, stems, sample_rate, mixture=True)``: write ``<stem>.wav`` files (float WAV, exact) and, unless
    ``mixture=False``, ``mixture.wav`` (their sum) into ``folder``; returns ``folder``."""

    def make(folder: Path, stems: Mapping[str, np.ndarray], sample_rate: int, mixture: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, audio in stems.items():
            sf.write(folder / f"{name}.wav", audio, sample_rate, subtype="FLOAT")
        if mixture:
            sf.write(folder / "mixture.wav", sum(stems.values()), sample_rate, subtype="FLOAT")
        return folder

    return make


@pytest.fixture
def make_stem_file(tmp_path: Path) -> Callable[..., Path]:
    """``make(path, stems, sample_rate)``: encode the mixture and four stems as a MUSDB18-style ``.stem.mp4``
    (five AAC streams: mixture, drums, bass, other, vocals) with ffmpeg; returns ``path``."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required to make .stem.mp4 test files")

    def make(path: Path, stems: Mapping[str, np.ndarray], sample_rate: int) -> Path:
        work = tmp_path / f".{path.name}.wav"
        work.mkdir(parents=True, exist_ok=True)
        audio = {**stems, "mixture": sum(stems.values())}
        command = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        for name in STEM_FILE_ORDER:
            sf.write(work / f"{name}.wav", audio[name], sample_rate, subtype="PCM_16")
            command += ["-i", str(work / f"{name}.wav")]
        for index in range(len(STEM_FILE_ORDER)):
            command += ["-map", str(index)]
        path.parent.mkdir(parents=True, exist_ok=True)
        command += ["-c:a", "aac", "-b:a", "256k", "-f", "mp4", str(path)]
        subprocess.run(command, check=True, capture_output=True)
        return path

    return make
