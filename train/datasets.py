"""The training sets the kit reads, as lists of tracks, and their train/validation splits.

- ``musdb18hq``: ``<root>/train/<track>/{mixture,bass,drums,other,vocals}.wav`` (MUSDB18-HQ; its ``test/`` is
  for evaluation, not training). Tracks are ``evaluator.tracks.Track``.
- ``musdb18``: ``<root>/train/<track>.stem.mp4`` (MUSDB18, five AAC streams). Tracks are ``StemFileTrack``,
  decoded with stempeg (ffmpeg).
- ``sdx23``: ``<root>/<uuid>/{bass,drums,other,vocals}.wav`` (the SDX23 label-noise or bleeding set; the
  mixture file is not needed). Tracks are ``evaluator.tracks.Track``.

Every track here has ``.name``, ``.sample_rate``, ``.frames``, ``.channels``, ``.duration``,
``.stem_path(stem)`` and ``.read(stem, start=0, frames=-1) -> float32 (frames, channels)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from evaluator.tracks import STEMS, Track, TrackError, find_tracks

OFFICIAL = "official"
KINDS = ("musdb18hq", "musdb18", "sdx23")
STEM_FILE_SUFFIX = ".stem.mp4"
# streams of one .stem.mp4 may report lengths a few AAC frames apart; more than this is an inconsistent file
STEM_LENGTH_TOLERANCE_SECONDS = 0.1


@cache
def _musdb_setup() -> dict:
    """The musdb package's own description of MUSDB18 (stream ids, validation tracks)."""
    import musdb  # imported here: it imports stempeg, which refuses to import where ffmpeg is missing

    with open(Path(musdb.__file__).parent / "configs" / "mus.yaml") as f:
        return yaml.safe_load(f)


def musdb_validation_names() -> list[str]:
    """MUSDB18's official validation tracks (part of its training set), as shipped by the musdb package."""
    return list(_musdb_setup()["validation_tracks"])


def musdb_stream_ids() -> dict[str, int]:
    """Stream index of each stem inside a MUSDB18 ``.stem.mp4`` (0 mixture, 1 drums, 2 bass, 3 other, 4 vocals)."""
    return dict(_musdb_setup()["stem_ids"])


@dataclass(frozen=True)
class StemFileTrack:
    """One MUSDB18 ``.stem.mp4`` file, a ``TrackSource`` like ``evaluator.tracks.Track``: ``read`` decodes only
    the requested span of one stream with ffmpeg. Lengths of the lossy streams are trimmed or zero-padded to
    ``frames``."""

    name: str
    path: Path
    sample_rate: int
    frames: int
    channels: int
    stream_index: tuple[int, ...]  # container index of each audio stream, in stream order
    has_mixture: bool = True

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    def stem_path(self, stem: str) -> Path:
        return self.path

    def read(self, stem: str, start: int = 0, frames: int = -1) -> np.ndarray:
        """``frames`` samples of ``stem`` (or ``mixture``) from ``start``, float32 ``(frames, channels)``."""
        ids = musdb_stream_ids()
        if stem not in ids:
            raise ValueError(f"unknown stem {stem!r}; expected mixture or one of {STEMS}")
        if not 0 <= start <= self.frames:
            raise ValueError(f"start {start} is outside {self.path} ({self.frames} frames)")
        wanted = self.frames - start if frames < 0 else min(frames, self.frames - start)
        if wanted == 0:
            return np.zeros((0, self.channels), dtype=np.float32)
        stream = self.stream_index[ids[stem]]
        import ffmpeg
        import stempeg

        try:
            audio, _ = stempeg.read_stems(str(self.path), start=start / self.sample_rate if start else None,
                                          duration=wanted / self.sample_rate if frames >= 0 else None,
                                          stem_id=stream, dtype=np.float32, sample_rate=self.sample_rate)
        except (Warning, RuntimeError, OSError, ffmpeg.Error) as e:
            raise TrackError(f"cannot decode stream {stream} ({stem}) of {self.path}: {e}") from None
        audio = np.asarray(audio, dtype=np.float32).reshape(-1, self.channels)
        if len(audio) < wanted - round(STEM_LENGTH_TOLERANCE_SECONDS * self.sample_rate):
            raise TrackError(f"decoding stream {stream} ({stem}) of {self.path} from frame {start} gave "
                             f"{len(audio)} frames, expected {wanted}; the file may be damaged")
        if len(audio) >= wanted:
            return np.ascontiguousarray(audio[:wanted])
        return np.pad(audio, ((0, wanted - len(audio)), (0, 0)))


def open_stem_file(path: str | os.PathLike) -> StemFileTrack:
    """Check a MUSDB18 ``.stem.mp4`` (five audio streams agreeing in rate, channels and length) and describe it."""
    import ffmpeg
    import stempeg

    path = Path(path)
    try:
        info = stempeg.Info(str(path))
    except (ffmpeg.Error, OSError, KeyError) as e:
        detail = e.stderr.decode(errors="replace").strip() if isinstance(e, ffmpeg.Error) and e.stderr else e
        raise TrackError(f"cannot read {path}: {detail}") from None
    expected = len(musdb_stream_ids())
    if info.nb_audio_streams != expected:
        raise TrackError(f"{path} has {info.nb_audio_streams} audio streams; a MUSDB18 stem file has {expected} "
                         "(mixture, drums, bass, other, vocals)")
    rates = [info.sample_rate(k) for k in range(expected)]
    channels = info.channels_streams
    try:
        lengths = [info.samples(k) for k in range(expected)]
    except KeyError:
        lengths = [round(info.duration(k) * rates[k]) for k in range(expected)]
    tolerance = round(STEM_LENGTH_TOLERANCE_SECONDS * rates[0])
    if len(set(rates)) > 1 or len(set(channels)) > 1 or max(lengths) - min(lengths) > tolerance:
        detail = ", ".join(f"stream {k}: {r} Hz, {n} frames, {c} ch"
                           for k, (r, n, c) in enumerate(zip(rates, lengths, channels)))
        raise TrackError(f"the streams of {path} disagree in sample rate, length or channels ({detail})")
    name = path.name[: -len(STEM_FILE_SUFFIX)]
    return StemFileTrack(name, path, rates[0], min(lengths), channels[0], tuple(info.audio_stream_idx()))


def musdb18hq_tracks(root: str | os.PathLike) -> list[Track]:
    """The tracks of MUSDB18-HQ's training set, ``<root>/train/<track>/``."""
    folder = Path(root) / "train"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: a MUSDB18-HQ root holds train/<track>/"
                                "{mixture,bass,drums,other,vocals}.wav (and test/)")
    return find_tracks(folder, require_mixture=False)


def musdb18_tracks(root: str | os.PathLike) -> list[StemFileTrack]:
    """The tracks of MUSDB18's training set, ``<root>/train/<track>.stem.mp4``."""
    folder = Path(root) / "train"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: a MUSDB18 root holds train/<track>.stem.mp4 (and test/)")
    return stem_file_tracks(folder)


def stem_file_tracks(folder: str | os.PathLike) -> list[StemFileTrack]:
    """Every ``<track>.stem.mp4`` in ``folder`` (hidden files skipped), checked, sorted by name."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.name.endswith(STEM_FILE_SUFFIX) and not p.name.startswith("."))
    if not files:
        raise TrackError(f"{folder} contains no <track>{STEM_FILE_SUFFIX} files")
    return [open_stem_file(p) for p in files]


def sdx23_tracks(root: str | os.PathLike) -> list[Track]:
    """The tracks of an SDX23 training set (label noise or bleeding): ``<root>/<uuid>/`` with the four stems."""
    return find_tracks(root, require_mixture=False)


def read_track_names(path: str | os.PathLike) -> list[str]:
    """Track names from a text file, one per line; blank lines and lines starting with ``#`` are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"validation track list {path} does not exist (expected a text file with one "
                                f"track name per line, or {OFFICIAL!r} for MUSDB18's split, or a list of names)")
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def validation_names(valid_tracks: list[str] | str | None, kind: str) -> list[str]:
    """Resolve a ``valid_tracks`` setting to track names.

    ``"official"`` (or None, for the MUSDB18 kinds): MUSDB18's validation tracks; a list: those names; another
    string: a text file of names. The SDX23 sets have no official split, so the user must choose one.
    """
    if valid_tracks is None or valid_tracks == OFFICIAL:
        if kind == "sdx23":
            raise ValueError("data.valid_tracks: the SDX23 sets have no official validation split; give a "
                             "list of track folder names or a path to a text file with one name per line "
                             "(they are left out of training)")
        return musdb_validation_names()
    if isinstance(valid_tracks, str):
        return read_track_names(valid_tracks)
    return list(valid_tracks)


def track_names(kind: str, root: str | os.PathLike) -> list[str]:
    """The names of the training set's tracks, from the folder listing alone (no file is opened), as the
    listings above name them."""
    folder = Path(root) / "train" if kind in ("musdb18hq", "musdb18") else Path(root)
    if kind == "musdb18":
        return sorted(p.name[: -len(STEM_FILE_SUFFIX)] for p in folder.iterdir()
                      if p.name.endswith(STEM_FILE_SUFFIX) and not p.name.startswith("."))
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_split(names: list[str], valid_names: list[str], where: str) -> None:
    """Fail, naming ``where`` (the dataset folder), when a validation name matches none of the track ``names``,
    or when no track is left for training."""
    present = set(names)
    unknown = [n for n in valid_names if n not in present]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ValueError(f"validation track(s) not found in {where}: {shown} ({len(unknown)} of {len(valid_names)} "
                         "names missing)")
    if not present - set(valid_names):
        raise ValueError(f"every track of {where} is a validation track; nothing is left for training")


def split_tracks(tracks: list, names: list[str], where: str) -> tuple[list, list]:
    """``(training tracks, validation tracks)``: the tracks named in ``names`` go to validation, in ``names`` order.

    A name that matches no track is an error naming ``where`` (the dataset folder)."""
    check_split([t.name for t in tracks], names, where)
    by_name = {t.name: t for t in tracks}
    chosen = set(names)
    return [t for t in tracks if t.name not in chosen], [by_name[n] for n in dict.fromkeys(names)]
