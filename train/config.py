"""The experiment config: one YAML file per run, sections mirroring these dataclasses (OmegaConf structured configs).

A YAML file may start from another with ``base: other.yaml`` (a path relative to the file); OmegaConf merges
the file over its base (a base may have its own base); an empty section (``model:`` with nothing under it)
keeps the base's keys. Overlay files (sections, no ``base:``) are merged next, then ``key=value`` overrides
(dotted keys such as ``optim.lr=5e-4``, read by ``OmegaConf.from_dotlist``). OmegaConf checks every key and
type against the dataclasses; their ``__post_init__`` checks the ranges.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from models import BSRNNConfig
from models.atomic import write_text
from train import datasets
from train.losses import LOSS_KINDS

DATA_KINDS = ("synthetic", *datasets.KINDS)
SCHEDULERS = ("step", "plateau")
SECTIONS = ("model", "data", "loss", "optim", "trainer", "validation")
PRECISIONS = ("32", "bf16-mixed", "16-mixed")


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
        ``sad_cache`` (default ``.cache/sad/<kind>-<hash of root>.json`` in the repo, ``evaluator.cache``).
    cache_audio: hold every training stem in memory (float32: about 340 MB per 4-minute stereo track).
    gain_db / drop_prob / swap_prob: the paper's augmentations (random gain in dB, silence, left/right swap).
    eq_db / pitch_semitones: timbre augmentations, 0 = off (the paper): a random smooth equaliser of up to
        +-``eq_db`` dB and a random pitch shift of up to +-``pitch_semitones`` (by resampling) on every stem.
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
    eq_db: float = 0.0
    pitch_semitones: float = 0.0
    num_workers: int = 0
    synthetic_tracks: int = 16
    synthetic_valid_tracks: int = 2
    synthetic_duration: float = 20.0
    synthetic_seed: int = 0
    valid_limit: int | None = None
    sad_cache: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"DataConfig.kind: expected one of {DATA_KINDS}, got {self.kind!r}")
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
        for name in ("gain_db", "eq_db"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) < 0:
                raise ValueError(f"DataConfig.{name}: expected a number >= 0 (dB), got {getattr(self, name)!r}")
        if not isinstance(self.pitch_semitones, (int, float)) or not 0 <= self.pitch_semitones <= 12:
            raise ValueError("DataConfig.pitch_semitones: expected a number in [0, 12] (semitones), "
                             f"got {self.pitch_semitones!r}")
        for name in ("drop_prob", "swap_prob"):
            if not isinstance(getattr(self, name), (int, float)) or not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"DataConfig.{name}: expected a probability in [0, 1], got {getattr(self, name)!r}")
        if self.valid_limit is not None and (not isinstance(self.valid_limit, int) or self.valid_limit < 1):
            raise ValueError(f"DataConfig.valid_limit: expected a positive integer or None, got {self.valid_limit!r}")


@dataclass
class LossConfig:
    """Which loss terms (``t``, ``tf`` or ``t+tf``) and their weights."""

    kind: str = "t+tf"
    time_weight: float = 1.0
    freq_weight: float = 1.0

    def __post_init__(self) -> None:
        _require_finite(self, "loss")
        if self.kind not in LOSS_KINDS:
            raise ValueError(f"loss.kind: expected one of {LOSS_KINDS}, got {self.kind!r}")
        for name in ("time_weight", "freq_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss.{name}: expected a number >= 0, got {getattr(self, name)!r}")


@dataclass
class OptimConfig:
    """Adam and its schedule. The learning rate applied is ``lr * global_batch / reference_batch``.

    global_batch = batch_size (per device) x accumulate x number of processes. ``scheduler: step`` multiplies the
    rate by ``decay`` every ``decay_every`` epochs; ``plateau`` multiplies it by ``plateau_factor`` after
    ``plateau_patience`` validations without a better ``valid/sdr``. Training stops after ``epochs`` epochs,
    ``max_steps`` optimizer steps (if set) or ``patience`` validations without improvement.
    """

    lr: float = 1e-3
    reference_batch: int = 16
    batch_size: int = 2
    accumulate: int = 1
    clip: float | None = 5.0
    scheduler: str = "step"
    decay: float = 0.98
    decay_every: int = 2
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    epochs: int = 100
    max_steps: int | None = None
    patience: int = 10

    def __post_init__(self) -> None:
        _require_finite(self, "optim")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"optim.scheduler: expected one of {SCHEDULERS}, got {self.scheduler!r}")
        for name in ("reference_batch", "batch_size", "accumulate", "decay_every", "epochs", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"optim.{name}: expected a positive integer, got {getattr(self, name)!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"optim.max_steps: expected a positive integer or null (no limit), got {self.max_steps!r}")
        if self.lr <= 0:
            raise ValueError(f"optim.lr: expected a positive number, got {self.lr!r}")
        if self.clip is not None and self.clip <= 0:
            raise ValueError(f"optim.clip: expected a positive gradient norm or null (no clipping), got {self.clip!r}")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"optim.decay: expected a number in (0, 1], got {self.decay!r}")
        if not 0.0 < self.plateau_factor < 1.0:
            raise ValueError(f"optim.plateau_factor: expected a number in (0, 1), got {self.plateau_factor!r}")


@dataclass
class TrainerConfig:
    """Lightning Trainer settings: hardware, distribution, precision, EMA, checkpoints and logging.

    ``checkpoint_every_steps`` saves ``last.ckpt`` every that many optimizer steps (None: after every
    validation) and also every ``checkpoint_every_minutes`` minutes of training (None: off), and when the
    process is asked to stop (Ctrl-C, SIGTERM); ``ema_decay`` keeps an exponential moving average of the
    weights, used for validation and saved as the checkpoint's weights (None: off). ``sanity_val_tracks``
    validation tracks are run before training to catch errors early (0: skip). ``max_minutes`` stops training
    after that much wall time of this command (a resumed run gets it again; the checkpoints and ``result.yaml``
    are written as at any other end; None: no limit). ``init_weights``: a weight file of this kit
    (``train.export`` output, e.g. the bundled weights) to start from instead of random weights: fine-tuning.
    Its config must match ``model`` (a resumed run continues from its checkpoint instead).
    ``keep_freed_memory``: glibc keeps freed memory for reuse (``models.allocator.keep_freed_memory``, as
    inference always does): on CPU a training step of the seed's vocals model ran 1.5x faster with it, and its
    peak memory grew from 7.2 to 12.0 GB (BENCHMARKS.md, allocator), so it is off by default: turn it on where
    memory allows.
    """

    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int = "32"  # an int (32) is read as its string
    ema_decay: float | None = None
    checkpoint_every_steps: int | None = None
    max_minutes: float | None = None
    init_weights: str | None = None
    checkpoint_every_minutes: float | None = 30.0
    log_every_steps: int = 50
    sanity_val_tracks: int = 1
    progress_bar: bool = True
    deterministic: bool = False
    keep_freed_memory: bool = False

    def __post_init__(self) -> None:
        _require_finite(self, "trainer")
        if isinstance(self.precision, int) and not isinstance(self.precision, bool):
            self.precision = str(self.precision)  # trainer.precision=32 on the command line reads as an int
        if self.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"trainer.max_minutes: expected a positive number of minutes or null, "
                             f"got {self.max_minutes!r}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"trainer.ema_decay: expected a number in (0, 1) or null, got {self.ema_decay!r}")


@dataclass
class ValidationConfig:
    """Whole-track validation through ``models.separate``: window, hop and batch in seconds/windows.

    ``audio_seconds`` of the first validation track (mixture and estimates) go to TensorBoard (0: none).
    ``real_clip``: also score the real recording that ships with stempeg (``evaluator.real_music``), logged as
    ``real/sdr*`` beside ``valid/sdr*``; a sanity check on real music, never used to pick the best checkpoint.
    """

    window: float = 3.0
    hop: float = 0.5
    batch: int = 4
    every_epochs: int = 1
    audio_seconds: float = 10.0
    real_clip: bool = True

    def __post_init__(self) -> None:
        _require_finite(self, "validation")
        if self.window <= 0:
            raise ValueError(f"validation.window: expected a positive number of seconds, got {self.window!r}")
        if not 0.0 < self.hop <= self.window:
            raise ValueError(f"validation.hop: expected a number of seconds in (0, window = {self.window}], "
                             f"got {self.hop!r}")
        for name in ("batch", "every_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"validation.{name}: expected a positive integer, got {getattr(self, name)!r}")
        if self.audio_seconds < 0:
            raise ValueError(f"validation.audio_seconds: expected a number of seconds >= 0, got {self.audio_seconds!r}")


def _require_finite(config: Any, section: str) -> None:
    """Refuse NaN and infinite values in the float fields of a config section."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{section}.{item.name}: expected a finite number, got {value!r}")


@dataclass
class ExperimentConfig:
    """Everything one training run needs.

    ``name`` defaults to the YAML file's path below ``configs/`` (e.g. ``seed/loss-t``), ``out_dir`` to ``runs/<name>``.
    """

    name: str = ""
    model: BSRNNConfig = field(default_factory=BSRNNConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    seed: int = 0
    out_dir: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("config: a run needs a name (set name: or load it from a YAML file)")
        if not self.out_dir:
            self.out_dir = str(Path("runs") / self.name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentConfig:
        """Build from plain data (as in YAML), checking every key, type and range."""
        return _build([values], "config")


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = (),
                overlays: list[str | os.PathLike] | tuple[str | os.PathLike, ...] = ()) -> ExperimentConfig:
    """Read a YAML experiment file (with its ``base:`` chain), merge ``overlays`` over it, then apply the
    ``key=value`` ``overrides``."""
    path = Path(path)
    layers: list[Any] = [{"name": default_name(path)}, *read_yaml_with_base(path)]
    for overlay in overlays:
        values = _read_yaml(Path(overlay))
        if "base" in values:
            raise ValueError(f"overlay {overlay}: an overlay is merged over each experiment and cannot have a 'base:'")
        layers.append(values)
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise ValueError(f"override {item!r}: expected key=value, e.g. optim.lr=5e-4")
        try:
            layers.append(OmegaConf.from_dotlist([item]))
        except (OmegaConfBaseException, yaml.YAMLError) as e:
            raise ValueError(f"override {item!r}: the value {item.partition('=')[2]!r} is not valid YAML "
                             f"({_first_line(e)})") from None
    return _build(layers, str(path))


def default_name(path: Path) -> str:
    """A run name from a config path: the path below the nearest ``configs`` folder (else the file's name),
    without ``.yaml``: ``train/configs/seed/loss-t.yaml`` -> ``seed/loss-t``."""
    path = path.resolve().with_suffix("")
    for folder in path.parents:
        if folder.name == "configs":
            return path.relative_to(folder).as_posix()
    return path.name


def read_yaml_with_base(path: Path, seen: tuple[Path, ...] = ()) -> list[dict[str, Any]]:
    """The mappings of ``path``'s ``base:`` chain, the first base first and ``path`` last (``base:`` removed)."""
    path = path.resolve()
    if path in seen:
        raise ValueError(f"config base cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    values = _read_yaml(path)
    base = values.pop("base", None)
    return [values] if base is None else [*read_yaml_with_base(path.parent / base, (*seen, path)), values]


def _read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in a YAML file; empty sections (``model:`` with nothing under it) left out."""
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        with open(path) as f:
            values = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({_yaml_problem(e)})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of config sections, got {type(values).__name__}")
    return {k: v for k, v in values.items() if v is not None or k not in SECTIONS}


def _build(layers: list[Any], where: str) -> ExperimentConfig:
    """The layers merged over the schema by OmegaConf, as an ``ExperimentConfig`` (its checks run)."""
    try:
        merged: DictConfig = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), *layers)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        raise ValueError(f"{where}: {f'{key}: ' if key else ''}{_first_line(e)}") from None
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    """What the YAML parser objected to, and where (1-based line and column), in one line."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{getattr(error, 'problem', None) or _first_line(error)}{where}"


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def save_config(config: ExperimentConfig, path: str | os.PathLike) -> Path:
    """Write the full, resolved config as YAML, atomically (with the permissions a plain ``open`` would give)."""
    return write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
