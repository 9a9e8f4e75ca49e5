"""Source activity detection (SAD): which segments of a stem are worth training on.

The BSRNN recipe (paper, Sec. IV-A): cut each stem into 6 s segments with 50 % overlap and each segment into
10 chunks. Chunks quieter than 1e-5 are silent; the stem's threshold is the larger of the 15 % quantile of its
non-silent chunk levels and 1e-3; a segment is kept when more than half of its chunks reach the threshold.

Chunk "energy" here is the RMS amplitude over the chunk's samples and channels (1e-3 is -60 dBFS, 1e-5 is
-100 dBFS): with mean power instead, the 1e-3 floor would be -30 dBFS and would discard most quiet stems.
The silent chunks are left out of the quantile, so the relative rule follows the level of the stem's active part.

``active_segments`` is the pure function; ``build_sad_index`` runs it over a training set and caches the
result in a JSON file keyed by each stem file's path, size and modification time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evaluator.tracks import TrackSource
from models.atomic import write_text

log = logging.getLogger(__name__)

CACHE_VERSION = 1


@dataclass(frozen=True)
class SADParams:
    """The SAD rule's constants (defaults: the paper's)."""

    segment_seconds: float = 6.0
    overlap: float = 0.5
    chunks: int = 10
    silence: float = 1e-5
    quantile: float = 0.15
    floor: float = 1e-3

    def __post_init__(self) -> None:
        if self.segment_seconds <= 0:
            raise ValueError(f"SADParams.segment_seconds: expected > 0, got {self.segment_seconds}")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"SADParams.overlap: expected in [0, 1), got {self.overlap}")
        if not isinstance(self.chunks, int) or self.chunks < 1:
            raise ValueError(f"SADParams.chunks: expected a positive integer, got {self.chunks!r}")
        if not 0 <= self.quantile <= 1:
            raise ValueError(f"SADParams.quantile: expected in [0, 1], got {self.quantile}")

    def chunk_frames(self, sample_rate: int) -> int:
        """Frames per chunk; a segment is exactly ``chunks`` chunks."""
        return max(1, round(self.segment_seconds * sample_rate / self.chunks))

    def segment_frames(self, sample_rate: int) -> int:
        return self.chunks * self.chunk_frames(sample_rate)

    def hop_chunks(self) -> int:
        """Segment hop in chunks (5 for 10 chunks at 50 % overlap): segments start on the chunk grid."""
        return max(1, round(self.chunks * (1 - self.overlap)))


PAPER_SAD = SADParams()


def chunk_levels(audio: np.ndarray, chunk_frames: int) -> np.ndarray:
    """RMS level of each whole ``chunk_frames``-long chunk of ``audio`` ``(frames, channels)``; a partial last
    chunk is ignored."""
    n_chunks = audio.shape[0] // chunk_frames
    levels = np.empty(n_chunks, dtype=np.float64)
    block = max(1, (1 << 22) // max(1, chunk_frames * audio.shape[1]))  # about 16 MB of float32 at a time
    for first in range(0, n_chunks, block):
        last = min(n_chunks, first + block)
        part = audio[first * chunk_frames:last * chunk_frames].reshape(last - first, -1)
        levels[first:last] = np.sqrt(np.mean(np.square(part, dtype=np.float64), axis=1))
    return levels


def active_segments(audio: np.ndarray, sample_rate: int, params: SADParams = PAPER_SAD) -> np.ndarray:
    """Start frames (int64, ascending) of the segments of one stem ``audio`` ``(frames, channels)`` that SAD keeps.

    A stem shorter than one segment, or entirely silent, keeps nothing.
    """
    if audio.ndim != 2:
        raise ValueError(f"active_segments: expected audio shaped (frames, channels), got shape {audio.shape}")
    chunk = params.chunk_frames(sample_rate)
    levels = chunk_levels(audio, chunk)
    hop = params.hop_chunks()
    if len(levels) < params.chunks:
        return np.zeros(0, dtype=np.int64)
    sounding = levels >= params.silence
    if not sounding.any():
        return np.zeros(0, dtype=np.int64)
    threshold = max(float(np.quantile(levels[sounding], params.quantile)), params.floor)
    active = sounding & (levels >= threshold)
    n_segments = (len(levels) - params.chunks) // hop + 1
    first_chunks = np.arange(n_segments) * hop
    counts = np.cumsum(np.concatenate([[0], active.astype(np.int64)]))
    active_per_segment = counts[first_chunks + params.chunks] - counts[first_chunks]
    kept = first_chunks[active_per_segment * 2 > params.chunks]
    return (kept * chunk).astype(np.int64)


@dataclass
class SADIndex:
    """Kept segment starts per training track (same order as the tracks) and stem, and the segment length."""

    starts: list[dict[str, np.ndarray]]
    segment_frames: int


def _cache_key(track: TrackSource, stem: str) -> str:
    path = Path(track.stem_path(stem)).resolve()
    stat = path.stat()
    return f"{path}#{stem}|{stat.st_size}|{stat.st_mtime_ns}|{track.sample_rate}"


def _load_cache(path: Path, params: SADParams) -> dict[str, list[int]]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        log.warning("SAD cache %s is unreadable (%s); recomputing it", path, e)
        return {}
    if data.get("version") != CACHE_VERSION or data.get("params") != dataclasses.asdict(params):
        log.info("SAD cache %s was made with other settings; recomputing it", path)
        return {}
    return data.get("entries", {})


def build_sad_index(tracks: Sequence[TrackSource], stems: Sequence[str], cache_path: str | os.PathLike | None,
                    params: SADParams = PAPER_SAD,
                    load: Callable[[int, str], np.ndarray] | None = None) -> SADIndex:
    """Run ``active_segments`` on every stem of every track, reusing and updating the JSON cache at ``cache_path``
    (None: no cache). ``load(track_index, stem)`` returns a whole stem ``(frames, channels)``; by default
    ``tracks[i].read(stem)``. All tracks must share one sample rate."""
    rates = {t.sample_rate for t in tracks}
    if len(rates) > 1:
        raise ValueError(f"build_sad_index: tracks have different sample rates {sorted(rates)}")
    rate = rates.pop() if rates else 44100
    cache_file = Path(cache_path) if cache_path is not None else None
    cached = _load_cache(cache_file, params) if cache_file is not None else {}
    entries: dict[str, list[int]] = {}
    starts: list[dict[str, np.ndarray]] = []
    keys = [{stem: _cache_key(t, stem) for stem in stems} for t in tracks]
    missing = sum(k not in cached for per_track in keys for k in per_track.values())
    with tqdm(total=missing, desc="source activity detection", unit="stem", disable=missing == 0) as bar:
        for i, track in enumerate(tracks):
            per_stem = {}
            for stem in stems:
                key = keys[i][stem]
                if key in cached:
                    kept = cached[key]
                else:
                    audio = load(i, stem) if load is not None else track.read(stem)
                    kept = active_segments(audio, rate, params).tolist()
                    bar.update(1)
                entries[key] = kept
                per_stem[stem] = np.asarray(kept, dtype=np.int64)
            starts.append(per_stem)
    if cache_file is not None and missing:
        merged = {**cached, **entries}  # keeps the entries of tracks outside this set (another split of the root)
        write_text(cache_file, json.dumps({"version": CACHE_VERSION, "params": dataclasses.asdict(params),
                                           "entries": merged}))
    return SADIndex(starts, params.segment_frames(rate))
