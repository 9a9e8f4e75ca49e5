"""Rendered datasets on disk, in the MUSDB18-HQ layout: ``<root>/song-0000/{mixture,bass,drums,other,vocals}.wav``.

Track ``i`` of a dataset made with ``seed`` is ``render_song(track_seed(seed, i), duration)``; a ``dataset.json``
manifest records the renderer version and parameters. Every write is atomic (hidden staging folders renamed into
place), an interrupted run resumes where it stopped, and concurrent callers of :func:`ensure_dataset` render once.
Stems are written as 16-bit PCM and the mixture is the exact sum of the rounded stems.
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
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from evaluator.tracks import STEMS, TrackError, open_track
from models.atomic import write_text
from render.song import MIN_DURATION, render_song

RENDER_VERSION = 3  # bump whenever the audio for a given seed changes, so cached datasets are rendered again
DEFAULT_TEST_SET = dict(n_tracks=8, duration=10.0, seed=2023)  # the evaluator's embedded test set
TRACK_PREFIX = "song-"
MANIFEST = "dataset.json"
MIN_SAMPLE_RATE = 16000
_FULL_SCALE = 32768  # 16-bit PCM: a sample k is read back as k / 32768


def track_seed(seed: int, index: int) -> int:
    """The seed of track ``index`` of a dataset made with ``seed`` (independent streams per track)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _check_parameters(duration: float, sample_rate: int) -> int:
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be an integer of at least {MIN_SAMPLE_RATE} Hz, got {sample_rate!r}")
    if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < MIN_DURATION:
        raise ValueError(f"duration must be a number of seconds >= {MIN_DURATION}, got {duration!r}")
    return round(duration * sample_rate)


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


def _render_into(path: Path, seed: int, duration: float, sample_rate: int) -> None:
    write_track(path, render_song(seed, duration, sample_rate), sample_rate)


def write_dataset(root: str | os.PathLike, n_tracks: int, duration: float, seed: int = 0,
                  sample_rate: int = 44100, progress: bool = False, jobs: int = 1) -> list[Path]:
    """Write ``n_tracks`` rendered tracks into ``root``, track i made from ``track_seed(seed, i)``.

    Tracks already present with the right length, sample rate and channels are kept (so an interrupted run
    resumes); their seed is not checked, which is what :func:`ensure_dataset`'s manifest is for. ``jobs`` > 1
    renders in that many worker processes (each loads the SoundFont banks once).
    """
    n_samples = _check_dataset_parameters(n_tracks, duration, seed, sample_rate)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / name for name in track_names(n_tracks)]
    todo = [(path, track_seed(seed, i)) for i, path in enumerate(paths) if not _is_complete(path, n_samples,
                                                                                              sample_rate)]
    bar = tqdm(total=len(paths), initial=len(paths) - len(todo), desc=f"rendering {root}", unit="track",
               disable=not progress)
    with bar, contextlib.ExitStack() as stack:
        if jobs == 1:
            for path, track in todo:
                _render_into(path, track, duration, sample_rate)
                bar.update()
        else:
            pool = stack.enter_context(ProcessPoolExecutor(jobs))
            futures = [pool.submit(_render_into, path, track, duration, sample_rate) for path, track in todo]
            for future in futures:
                future.result()
                bar.update()
    return paths


def _manifest(n_tracks: int, duration: float, seed: int, sample_rate: int) -> dict:
    return dict(generator="render", version=RENDER_VERSION, n_tracks=int(n_tracks),
                duration=float(duration), seed=int(seed), sample_rate=int(sample_rate))


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    # "evaluator.synthetic": the wavetable generator render/ replaced; its cached sets are replaced, not refused
    ours = ("render", "evaluator.synthetic")
    return manifest if isinstance(manifest, dict) and manifest.get("generator") in ours else None


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
    """A rendered dataset in ``root``, generated once and reused while its ``dataset.json`` matches.

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
            raise FileExistsError(f"{root} exists and is not a rendered dataset (no {MANIFEST} from this "
                                  f"generator); remove it or choose another folder")
        key = f"v{RENDER_VERSION}-{n_tracks}x{duration:g}s-seed{seed}-{sample_rate}Hz"
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
            raise ValueError(f"{root} holds rendered tracks made with {', '.join(differences)}; they would be "
                             f"kept as they are, so choose another folder or remove this one")
        wanted["n_tracks"] = max(int(existing.get("n_tracks", 0)), wanted["n_tracks"])
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / MANIFEST, wanted)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write a rendered dataset into OUT_DIR (existing complete tracks are kept).

    OUT_DIR's ``dataset.json`` records the seed, duration, sample rate and generator version of its tracks;
    a folder whose tracks were made with other values (or cannot be checked) is refused.
    """
    parser = argparse.ArgumentParser(prog="python -m render", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder to write the track folders into")
    parser.add_argument("--tracks", type=int, default=DEFAULT_TEST_SET["n_tracks"], help="number of tracks")
    parser.add_argument("--duration", type=float, default=DEFAULT_TEST_SET["duration"], help="seconds per track")
    parser.add_argument("--seed", type=int, default=DEFAULT_TEST_SET["seed"], help="dataset seed")
    parser.add_argument("--sample-rate", type=int, default=44100, help="sample rate in Hz")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one song each at a time)")
    args = parser.parse_args(argv)
    try:
        _check_dataset_parameters(args.tracks, args.duration, args.seed, args.sample_rate)
        _claim_folder(args.out_dir, args.tracks, args.duration, args.seed, args.sample_rate)
        paths = write_dataset(args.out_dir, args.tracks, args.duration, args.seed, args.sample_rate, progress=True,
                              jobs=args.jobs)
    except (OSError, ValueError, RuntimeError) as e:
        parser.error(str(e))
    print(f"{len(paths)} tracks of {args.duration:g} s at {args.sample_rate} Hz in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
