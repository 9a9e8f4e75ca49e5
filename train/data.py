"""The training data pipeline: the randomly mixed training set (``MixingDataset``) and the whole validation
tracks (``build_datasets``) that a ``train.config.DataConfig`` describes.

Training items follow the BSRNN recipe: for each of the four stems, a 3 s excerpt of a random track (from the
segments that source activity detection kept), a random gain in [-10, +10] dB, silence with probability 0.1,
left/right swapped with probability 0.5; the mixture is the sum of the four stems, and stems and mixture are
scaled down together when a peak would clip. Two augmentations beyond the paper's, off by default, change each
stem's timbre: a random pitch shift (``pitch_semitones``, by resampling, as a tape played faster or slower) and a
random smooth equaliser (``eq_db``). Validation uses whole tracks as they are (no augmentation).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from evaluator.cache import cache_dir, sad_index_file
from evaluator.tracks import STEMS, TrackSource
from train import datasets
from train.augment import augment_stem, mix_without_clipping, repitch, repitch_frames
from train.config import DataConfig
from train.sad import PAPER_SAD, SADIndex, SADParams, build_sad_index

log = logging.getLogger(__name__)


class MixingDataset(Dataset):
    """Training items mixed on the fly from the stems of ``tracks``.

    ``dataset[i]`` is ``(mixture, sources)``: float32 tensors ``(channels, segment_frames)`` and
    ``(len(targets), channels, segment_frames)``, sources in ``targets`` order; the mixture is the sum of all four
    augmented stems. Item ``i`` is a pure function of ``(seed, epoch, i)``: the same in any worker or process.
    Stems are read lazily (only the excerpt's frames) or, with ``cache_audio``, from memory.
    ``sad=None`` turns source activity detection off.
    """

    def __init__(self, tracks: Sequence[TrackSource], targets: Sequence[str], segment_frames: int,
                 samples_per_epoch: int, seed: int = 0, gain_db: float = 10.0, drop_prob: float = 0.1,
                 swap_prob: float = 0.5, eq_db: float = 0.0, pitch_semitones: float = 0.0,
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
        self.eq_db, self.pitch_semitones = float(eq_db), float(pitch_semitones)
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

    def _excerpt_start(self, rng: np.random.Generator, stem: str, frames: int) -> tuple[int, int]:
        """(track index, start frame) of one random excerpt of ``frames`` frames of ``stem``."""
        choices = self._choices[stem]
        if choices is None:
            track = int(rng.integers(len(self.tracks)))
            room = self.tracks[track].frames - frames
            return track, int(rng.integers(max(room, 0) + 1))
        # a random song, one of its kept segments, a random excerpt inside that segment
        track, starts = choices[int(rng.integers(len(choices)))]
        segment = int(starts[int(rng.integers(len(starts)))])
        room = self.sad_index.segment_frames - self.segment_frames
        start = segment + int(rng.integers(max(room, 0) + 1))
        return track, min(start, max(self.tracks[track].frames - frames, 0))

    def _read(self, track: int, stem: str, start: int, frames: int) -> np.ndarray:
        """``(channels, frames)`` of ``stem`` from ``start``, zero-padded past the track's end."""
        if self._audio is not None:
            audio = self._audio[track][stem][:, start:start + frames]
        else:
            audio = self.tracks[track].read(stem, start, frames).T
        if audio.shape[1] < frames:
            audio = np.pad(audio, ((0, 0), (0, frames - audio.shape[1])))
        return audio

    def _excerpt(self, rng: np.random.Generator, stem: str) -> np.ndarray:
        """One random excerpt of ``stem``, ``(channels, segment_frames)``, pitch-shifted if that is on."""
        frames = self.segment_frames
        if self.pitch_semitones > 0:
            frames = repitch_frames(frames, float(rng.uniform(-self.pitch_semitones, self.pitch_semitones)))
        track, start = self._excerpt_start(rng, stem, frames)
        return repitch(self._read(track, stem, start, frames), self.segment_frames)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.samples_per_epoch:
            raise IndexError(f"MixingDataset index {index} out of range [0, {self.samples_per_epoch})")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        stems = []
        for stem in STEMS:
            stems.append(augment_stem(self._excerpt(rng, stem), rng, self.gain_db, self.drop_prob, self.swap_prob,
                                      self.eq_db))
        mixture, stacked = mix_without_clipping(np.stack(stems).astype(np.float32, copy=False))
        return torch.from_numpy(mixture), torch.from_numpy(np.ascontiguousarray(stacked[self._target_rows]))


def synthetic_folder(cfg: DataConfig, sample_rate: int) -> Path:
    """The cache folder of the synthetic set ``cfg`` describes; train/ and valid/ are generated inside it."""
    base = Path(cfg.root) if cfg.root else cache_dir("synthetic")
    name = (f"n{cfg.synthetic_tracks}-v{cfg.synthetic_valid_tracks}-d{cfg.synthetic_duration:g}"
            f"-s{cfg.synthetic_seed}-sr{sample_rate}")
    return base / name


def _synthetic_tracks(cfg: DataConfig, sample_rate: int) -> tuple[list, list]:
    from evaluator.tracks import find_tracks
    from render import ensure_dataset

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


def check_sample_rate(tracks: Sequence[TrackSource], sample_rate: int) -> None:
    """Every track must be at the model's rate: training does not resample."""
    wrong = [t for t in tracks if t.sample_rate != sample_rate]
    if wrong:
        shown = ", ".join(f"{t.name} ({t.sample_rate} Hz)" for t in wrong[:5])
        raise ValueError(f"{len(wrong)} track(s) are not at the model's sample rate {sample_rate} Hz: {shown}. "
                         "Training does not resample; convert the data (e.g. with ffmpeg or soxr) or change "
                         "model.sample_rate")


def build_datasets(cfg: DataConfig, targets: list[str], sample_rate: int,
                   seed: int) -> tuple[MixingDataset, list[TrackSource]]:
    """The training set and the validation tracks ``cfg`` describes, for a model of ``targets`` at ``sample_rate``."""
    if cfg.kind == "synthetic":
        train_tracks, valid_tracks = _synthetic_tracks(cfg, sample_rate)
        sad_cache_default = sad_index_file(cfg.kind, synthetic_folder(cfg, sample_rate))
    else:
        train_tracks, valid_tracks = _folder_tracks(cfg)
        sad_cache_default = sad_index_file(cfg.kind, cfg.root)
    check_sample_rate([*train_tracks, *valid_tracks], sample_rate)
    if cfg.valid_limit is not None:
        valid_tracks = valid_tracks[:cfg.valid_limit]
    train_set = MixingDataset(train_tracks, targets, round(cfg.segment_seconds * sample_rate), cfg.samples_per_epoch,
                              seed=seed, gain_db=cfg.gain_db, drop_prob=cfg.drop_prob, swap_prob=cfg.swap_prob,
                              eq_db=cfg.eq_db, pitch_semitones=cfg.pitch_semitones,
                              sad=PAPER_SAD if cfg.sad else None,
                              sad_cache=cfg.sad_cache if cfg.sad_cache else sad_cache_default,
                              cache_audio=cfg.cache_audio)
    log.info("training set: %d tracks, %d items per epoch; validation: %d tracks", len(train_tracks),
             len(train_set), len(valid_tracks))
    return train_set, valid_tracks
