"""The training data pipeline: which data (``DataConfig``), the randomly mixed training set (``MixingDataset``)
and the whole validation tracks (``build_datasets``).

Training items follow the BSRNN recipe: for each of the four stems, a 3 s excerpt of a random track (from the
segments that source activity detection kept), a random gain in [-10, +10] dB, silence with probability 0.1,
left/right swapped with probability 0.5; the mixture is the sum of the four stems, and stems and mixture are
scaled down together when a peak would clip. Validation uses whole tracks as they are (no augmentation).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from evaluator.tracks import STEMS
from train import datasets
from train.augment import augment_stem, mix_without_clipping
from train.sad import PAPER_SAD, SADIndex, SADParams, build_sad_index

log = logging.getLogger(__name__)

KINDS = ("synthetic", *datasets.KINDS)
REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO_ROOT / ".cache"


@dataclass
class DataConfig:
    """Where the training data comes from and how items are drawn.

    kind: ``synthetic`` (songs made by ``render``, once, into a cache folder), ``musdb18hq`` (WAV folders), ``musdb18``
        (``.stem.mp4``) or ``sdx23`` (the label-noise or bleeding set).
    root: the dataset folder (for ``synthetic``: where to cache it, default ``.cache/synthetic`` in the repo).
    valid_tracks: ``"official"`` (MUSDB18's split; the default for the MUSDB18 kinds), a list of track names, or
        a text file with one name per line. Required for ``sdx23``; not used by ``synthetic``.
    segment_seconds / samples_per_epoch: length and number of training items per epoch.
    sad: source activity detection on (the paper) or off (uniform excerpts); its index is cached in
        ``sad_cache`` (default ``.cache/sad/<kind>-<hash of root>.json`` in the repo).
    cache_audio: hold every training stem in memory (float32: about 340 MB per 4-minute stereo track).
    gain_db / drop_prob / swap_prob: the augmentations.
    num_workers: DataLoader worker processes for the training set.
    synthetic_*: size, track length (s) and seed of the generated set.
    valid_limit: use only the first N validation tracks.
    """

    kind: str = "synthetic"
    root: str | None = None
    valid_tracks: list[str] | str | None = None
    segment_seconds: float = 3.0
    samples_per_epoch: int = 10000
    sad: bool = True
    cache_audio: bool = False
    gain_db: float = 10.0
    drop_prob: float = 0.1
    swap_prob: float = 0.5
    num_workers: int = 0
    synthetic_tracks: int = 16
    synthetic_valid_tracks: int = 2
    synthetic_duration: float = 20.0
    synthetic_seed: int = 0
    valid_limit: int | None = None
    sad_cache: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"DataConfig.kind: expected one of {KINDS}, got {self.kind!r}")
        if self.kind != "synthetic" and not self.root:
            raise ValueError(f"DataConfig.root: kind {self.kind!r} needs the dataset folder")
        if self.kind == "synthetic" and self.valid_tracks is not None:
            raise ValueError("DataConfig.valid_tracks: not used by kind 'synthetic' (it generates its own "
                             "validation tracks; set synthetic_valid_tracks)")
        names = self.valid_tracks
        if not (names is None or isinstance(names, str)
                or (isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names))):
            raise ValueError("DataConfig.valid_tracks: expected 'official', a list of track names or a path to a "
                             f"text file, got {self.valid_tracks!r}")
        for name in ("segment_seconds", "synthetic_duration"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) <= 0:
                raise ValueError(f"DataConfig.{name}: expected a positive number, got {getattr(self, name)!r}")
        for name in ("samples_per_epoch", "synthetic_tracks"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"DataConfig.{name}: expected a positive integer, got {getattr(self, name)!r}")
        for name in ("num_workers", "synthetic_valid_tracks", "synthetic_seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"DataConfig.{name}: expected an integer >= 0, got {getattr(self, name)!r}")
        for name in ("sad", "cache_audio"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"DataConfig.{name}: expected true or false, got {getattr(self, name)!r}")
        if not isinstance(self.gain_db, (int, float)) or self.gain_db < 0:
            raise ValueError(f"DataConfig.gain_db: expected a number >= 0 (dB), got {self.gain_db!r}")
        for name in ("drop_prob", "swap_prob"):
            if not isinstance(getattr(self, name), (int, float)) or not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"DataConfig.{name}: expected a probability in [0, 1], got {getattr(self, name)!r}")
        if self.valid_limit is not None and (not isinstance(self.valid_limit, int) or self.valid_limit < 1):
            raise ValueError(f"DataConfig.valid_limit: expected a positive integer or None, got {self.valid_limit!r}")


class MixingDataset(Dataset):
    """Training items mixed on the fly from the stems of ``tracks``.

    ``dataset[i]`` is ``(mixture, sources)``: float32 tensors ``(channels, segment_frames)`` and
    ``(len(targets), channels, segment_frames)``, sources in ``targets`` order; the mixture is the sum of all four
    augmented stems. Item ``i`` is a pure function of ``(seed, epoch, i)``: the same in any worker or process.
    Stems are read lazily (only the excerpt's frames) or, with ``cache_audio``, from memory.
    ``sad=None`` turns source activity detection off.
    """

    def __init__(self, tracks: Sequence[Any], targets: Sequence[str], segment_frames: int, samples_per_epoch: int,
                 seed: int = 0, gain_db: float = 10.0, drop_prob: float = 0.1, swap_prob: float = 0.5,
                 sad: SADParams | None = PAPER_SAD, sad_cache: str | os.PathLike | None = None,
                 cache_audio: bool = False):
        if not tracks:
            raise ValueError("MixingDataset: no training tracks")
        unknown = [t for t in targets if t not in STEMS]
        if unknown or not targets:
            raise ValueError(f"MixingDataset: targets must be some of {STEMS}, got {list(targets)}")
        channels = {t.channels for t in tracks}
        if len(channels) > 1:
            detail = ", ".join(f"{t.name}: {t.channels}" for t in tracks[:10])
            raise ValueError(f"MixingDataset: training tracks differ in channel count ({detail} ...)")
        self.tracks = list(tracks)
        self.targets = list(targets)
        self.channels = channels.pop()
        self.segment_frames = int(segment_frames)
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)
        self.gain_db, self.drop_prob, self.swap_prob = float(gain_db), float(drop_prob), float(swap_prob)
        self.epoch = 0
        self._target_rows = [STEMS.index(t) for t in self.targets]
        self._audio = self._load_all() if cache_audio else None
        self.sad_index: SADIndex | None = None
        if sad is not None:
            load = (lambda i, stem: self._audio[i][stem].T) if self._audio is not None else None
            self.sad_index = build_sad_index(self.tracks, STEMS, sad_cache, sad, load=load)
        self._choices = {stem: self._stem_choices(stem) for stem in STEMS}

    def _load_all(self) -> list[dict[str, np.ndarray]]:
        total = sum(t.frames * t.channels * 4 * len(STEMS) for t in self.tracks)
        log.info("caching %d training tracks in memory (%.1f GB)", len(self.tracks), total / 1e9)
        return [{stem: np.ascontiguousarray(t.read(stem).T) for stem in STEMS} for t in self.tracks]

    def _stem_choices(self, stem: str) -> list[tuple[int, np.ndarray]] | None:
        """(track index, kept segment starts) for the tracks SAD keeps something of; None: draw uniformly."""
        if self.sad_index is None:
            return None
        choices = [(i, s[stem]) for i, s in enumerate(self.sad_index.starts) if len(s[stem])]
        if not choices:
            warnings.warn(f"source activity detection kept no segment of {stem!r} in any of the "
                          f"{len(self.tracks)} training tracks (silent, or shorter than a SAD segment); drawing its "
                          "excerpts uniformly instead", stacklevel=2)
            return None
        kept = sum(len(s) for _, s in choices)
        log.info("SAD: %s: %d segments kept in %d of %d tracks", stem, kept, len(choices), len(self.tracks))
        return choices

    def __len__(self) -> int:
        return self.samples_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose items ``__getitem__`` draws."""
        self.epoch = int(epoch)

    def _excerpt_start(self, rng: np.random.Generator, stem: str) -> tuple[int, int]:
        """(track index, start frame) of one random excerpt of ``stem``."""
        choices = self._choices[stem]
        if choices is None:
            track = int(rng.integers(len(self.tracks)))
            room = self.tracks[track].frames - self.segment_frames
            return track, int(rng.integers(max(room, 0) + 1))
        # a random song, one of its kept segments, a random excerpt inside that segment
        track, starts = choices[int(rng.integers(len(choices)))]
        segment = int(starts[int(rng.integers(len(starts)))])
        room = self.sad_index.segment_frames - self.segment_frames
        start = segment + int(rng.integers(max(room, 0) + 1))
        return track, min(start, max(self.tracks[track].frames - self.segment_frames, 0))

    def _read(self, track: int, stem: str, start: int) -> np.ndarray:
        """``(channels, segment_frames)`` of ``stem`` from ``start``, zero-padded past the track's end."""
        if self._audio is not None:
            audio = self._audio[track][stem][:, start:start + self.segment_frames]
        else:
            audio = self.tracks[track].read(stem, start, self.segment_frames).T
        if audio.shape[1] < self.segment_frames:
            audio = np.pad(audio, ((0, 0), (0, self.segment_frames - audio.shape[1])))
        return audio

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.samples_per_epoch:
            raise IndexError(f"MixingDataset index {index} out of range [0, {self.samples_per_epoch})")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        stems = []
        for stem in STEMS:
            track, start = self._excerpt_start(rng, stem)
            stems.append(augment_stem(self._read(track, stem, start), rng, self.gain_db, self.drop_prob,
                                      self.swap_prob))
        mixture, stacked = mix_without_clipping(np.stack(stems).astype(np.float32, copy=False))
        return torch.from_numpy(mixture), torch.from_numpy(np.ascontiguousarray(stacked[self._target_rows]))


def default_sad_cache(kind: str, root: str | os.PathLike) -> Path:
    """Where the SAD index of a dataset is cached unless ``sad_cache`` says otherwise."""
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:12]
    return CACHE_ROOT / "sad" / f"{kind}-{digest}.json"


def synthetic_folder(cfg: DataConfig, sample_rate: int) -> Path:
    """The cache folder of the synthetic set ``cfg`` describes; train/ and valid/ are generated inside it."""
    base = Path(cfg.root) if cfg.root else CACHE_ROOT / "synthetic"
    name = (f"n{cfg.synthetic_tracks}-v{cfg.synthetic_valid_tracks}-d{cfg.synthetic_duration:g}"
            f"-s{cfg.synthetic_seed}-sr{sample_rate}")
    return base / name


def _synthetic_tracks(cfg: DataConfig, sample_rate: int) -> tuple[list, list]:
    from render import ensure_dataset
    from evaluator.tracks import find_tracks

    folder = synthetic_folder(cfg, sample_rate)
    train = ensure_dataset(folder / "train", cfg.synthetic_tracks, cfg.synthetic_duration,
                           seed=cfg.synthetic_seed, sample_rate=sample_rate, progress=True)
    valid: list = []
    if cfg.synthetic_valid_tracks:
        # another dataset seed: every track's seed is SeedSequence([dataset seed, index]), so any other dataset
        # seed gives tracks independent of the training ones (the offset's size does not matter)
        valid_folder = ensure_dataset(folder / "valid", cfg.synthetic_valid_tracks, cfg.synthetic_duration,
                                      seed=cfg.synthetic_seed + 1_000_003, sample_rate=sample_rate, progress=True)
        valid = find_tracks(valid_folder, require_mixture=False)
    return find_tracks(train, require_mixture=False), valid


def _folder_tracks(cfg: DataConfig) -> tuple[list, list]:
    listing = {"musdb18hq": datasets.musdb18hq_tracks, "musdb18": datasets.musdb18_tracks,
               "sdx23": datasets.sdx23_tracks}[cfg.kind]
    tracks = listing(cfg.root)
    names = datasets.validation_names(cfg.valid_tracks, cfg.kind)
    return datasets.split_tracks(tracks, names, f"{cfg.kind} set {cfg.root}")


def check_sample_rate(tracks: Sequence[Any], sample_rate: int) -> None:
    """Every track must be at the model's rate: training does not resample."""
    wrong = [t for t in tracks if t.sample_rate != sample_rate]
    if wrong:
        shown = ", ".join(f"{t.name} ({t.sample_rate} Hz)" for t in wrong[:5])
        raise ValueError(f"{len(wrong)} track(s) are not at the model's sample rate {sample_rate} Hz: {shown}. "
                         "Training does not resample; convert the data (e.g. with ffmpeg or soxr) or change "
                         "model.sample_rate")


def build_datasets(cfg: DataConfig, targets: list[str], sample_rate: int,
                   seed: int) -> tuple[MixingDataset, list[Any]]:
    """The training set and the validation tracks ``cfg`` describes, for a model of ``targets`` at ``sample_rate``."""
    if cfg.kind == "synthetic":
        train_tracks, valid_tracks = _synthetic_tracks(cfg, sample_rate)
        sad_cache_default = default_sad_cache(cfg.kind, synthetic_folder(cfg, sample_rate))
    else:
        train_tracks, valid_tracks = _folder_tracks(cfg)
        sad_cache_default = default_sad_cache(cfg.kind, cfg.root)
    check_sample_rate([*train_tracks, *valid_tracks], sample_rate)
    if cfg.valid_limit is not None:
        valid_tracks = valid_tracks[:cfg.valid_limit]
    train_set = MixingDataset(train_tracks, targets, round(cfg.segment_seconds * sample_rate), cfg.samples_per_epoch,
                              seed=seed, gain_db=cfg.gain_db, drop_prob=cfg.drop_prob, swap_prob=cfg.swap_prob,
                              sad=PAPER_SAD if cfg.sad else None,
                              sad_cache=cfg.sad_cache if cfg.sad_cache else sad_cache_default,
                              cache_audio=cfg.cache_audio)
    log.info("training set: %d tracks, %d items per epoch; validation: %d tracks", len(train_tracks),
             len(train_set), len(valid_tracks))
    return train_set, valid_tracks


def seconds_per_item(dataset: Dataset, items: int = 16, repeats: int = 5) -> float:
    """Median over ``repeats`` runs of the mean time to draw one item (items ``0 .. items-1``), in seconds.

    For the training benchmark: the cost of the data pipeline next to a training step."""
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        for i in range(items):
            dataset[i]
        times.append((time.perf_counter() - begin) / items)
    return float(np.median(times))
