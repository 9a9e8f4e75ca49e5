"""The kit's one real multitrack recording: the excerpt that ships inside the ``stempeg`` package.

``stempeg/data/The Easton Ellises - Falcon 69.stem.mp4`` (about 6 s, AAC; streams: mixture, drums, bass, other,
vocals) is decoded once with ffmpeg into a MUSDB18-HQ-layout folder. Its mixture stream is mastered, so the
written ``mixture.wav`` is the exact sum of the 16-bit stems instead. It is a sanity check on real music (training
validation reports it beside the rendered songs; ``benchmarks/real_music.py`` scores the bundled model on it),
one short clip: not something to tune to.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from evaluator.tracks import STEMS, Track, TrackError, open_track
from models.atomic import atomic_path

CLIP_NAME = "The Easton Ellises - Falcon 69"
_STREAMS = {"drums": 1, "bass": 2, "other": 3, "vocals": 4}  # stream index of each stem in the .stem.mp4
_FULL_SCALE = 32768


class RealMusicUnavailable(RuntimeError):
    """The clip cannot be decoded here (stempeg or ffmpeg missing)."""


def ensure_real_clip(folder: str | os.PathLike) -> Track:
    """The decoded clip as a track in ``folder/<CLIP_NAME>/``, decoding it on first use."""
    track_dir = Path(folder) / CLIP_NAME
    try:
        return open_track(track_dir)
    except TrackError:
        pass
    try:
        import stempeg

        audio, rate = stempeg.read_stems(stempeg.example_stem_path(), dtype=np.float32)
    except Exception as e:  # stempeg raises bare errors when ffmpeg/ffprobe are missing
        raise RealMusicUnavailable(f"cannot decode the stempeg example clip ({type(e).__name__}: {e}); "
                                   "it needs the stempeg package and ffmpeg (scripts/setup.sh installs both)") from e
    pcm = {stem: np.round(np.clip(audio[index], -1, 1 - 1 / _FULL_SCALE) * _FULL_SCALE).astype(np.int32)
           for stem, index in _STREAMS.items()}
    mixture = sum(pcm.values())
    scale = min(1.0, (_FULL_SCALE - 1) / max(int(np.abs(mixture).max()), 1))
    if scale < 1.0:  # keep the exact-sum property: scale the stems, then re-sum
        pcm = {stem: np.round(x * scale).astype(np.int32) for stem, x in pcm.items()}
        mixture = sum(pcm.values())
    pcm["mixture"] = mixture
    track_dir.mkdir(parents=True, exist_ok=True)
    for name in ("mixture", *STEMS):
        with atomic_path(track_dir / f"{name}.wav") as tmp:
            sf.write(tmp, pcm[name].astype(np.int16), int(rate), subtype="PCM_16")
    return open_track(track_dir)
