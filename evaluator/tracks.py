"""Reading tracks stored in the MUSDB18-HQ layout: ``<folder>/<track>/{mixture,bass,drums,other,vocals}.wav``.

Used by the evaluation harness and by the training datasets. A folder's tracks are listed sorted;
hidden entries (``.DS_Store``, ``.ipynb_checkpoints``) and plain files are ignored; a track folder
with a missing stem, or whose files disagree in sample rate, length or channel count, is an
error that names the files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from models.contract import INSTRUMENTS

STEMS = INSTRUMENTS


class TrackSource(Protocol):
    """What the kit needs of a track, whatever its storage (``Track`` here, ``train.datasets.StemFileTrack``):
    its shape, each stem's file, and reads of any span of a stem or the mixture."""

    name: str
    sample_rate: int
    frames: int
    channels: int

    def stem_path(self, stem: str) -> Path: ...

    def read(self, stem: str, start: int = 0, frames: int = -1) -> np.ndarray: ...


class TrackError(ValueError):
    """A track folder that cannot be read as a MUSDB18-HQ-layout track."""


@dataclass(frozen=True)
class Track:
    """One track folder; its files share ``sample_rate``, ``frames`` and ``channels``."""

    name: str
    path: Path
    sample_rate: int
    frames: int
    channels: int
    has_mixture: bool

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    def stem_path(self, stem: str) -> Path:
        return self.path / f"{stem}.wav"

    def read(self, stem: str, start: int = 0, frames: int = -1) -> np.ndarray:
        """``frames`` samples of ``stem`` (or ``mixture``) from ``start``, float32 ``(frames, channels)``.

        Only the requested frames are read from disk. Without a mixture file, ``mixture`` is the sum of the stems.
        """
        if stem == "mixture" and not self.has_mixture:
            return sum(self.read(s, start, frames) for s in STEMS)
        if stem != "mixture" and stem not in STEMS:
            raise ValueError(f"unknown stem {stem!r}; expected mixture or one of {STEMS}")
        path = self.stem_path(stem)
        try:
            audio, _ = sf.read(path, start=start, frames=frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as e:
            raise TrackError(f"cannot read {path}: {e}") from None
        return audio


def _info(path: Path) -> tuple[int, int, int]:
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise TrackError(f"cannot read {path}: {e}") from None
    return info.samplerate, info.frames, info.channels


def open_track(path: str | os.PathLike, require_mixture: bool = True) -> Track:
    """Check a track folder and describe it (no audio is read)."""
    path = Path(path)
    names = list(STEMS) + ["mixture"]
    has_mixture = (path / "mixture.wav").is_file()
    if not require_mixture and not has_mixture:
        names.remove("mixture")
    missing = [f"{n}.wav" for n in names if not (path / f"{n}.wav").is_file()]
    if missing:
        raise TrackError(f"track folder {path} lacks {', '.join(missing)} (expected mixture.wav and "
                         f"{', '.join(s + '.wav' for s in STEMS)})")
    infos = {n: _info(path / f"{n}.wav") for n in names}
    if len(set(infos.values())) > 1:
        detail = ", ".join(f"{n}.wav: {sr} Hz, {fr} frames, {ch} ch" for n, (sr, fr, ch) in infos.items())
        raise TrackError(f"the files of track {path} disagree in sample rate, length or channels ({detail})")
    sample_rate, frames, channels = next(iter(infos.values()))
    return Track(path.name, path, sample_rate, frames, channels, has_mixture)


def find_tracks(folder: str | os.PathLike, require_mixture: bool = True) -> list[Track]:
    """All tracks in ``folder`` (one sub-folder per track), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"track folder {folder} does not exist or is not a directory")
    entries = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not entries:
        raise TrackError(f"{folder} contains no track folders (expected <track>/mixture.wav and the four stems)")
    return [open_track(p, require_mixture) for p in entries]
