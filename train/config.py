"""The experiment config: one YAML file per run, sections mirroring these dataclasses.

A YAML file may start from another with ``base: other.yaml`` (a path relative to the file); the file's own
sections are merged into the base's key by key, recursively, and a base may have its own base; an empty section
(``model:`` with nothing under it) keeps the base's keys.
``key=value`` overrides (dotted keys such as ``optim.lr=5e-4`` or ``model.feature_dim=64``) are applied last;
values are parsed as YAML scalars or lists. Unknown keys, in a file or an override, are an error naming the key
and the keys that are allowed there.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models import BSRNNConfig
from models.atomic import write_text
from train.data import DataConfig
from train.losses import LOSS_KINDS

SCHEDULERS = ("step", "plateau")
PRECISIONS = ("32", "bf16-mixed", "16-mixed")


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
    validation); ``ema_decay`` keeps an exponential moving average of the weights, used for validation
    and saved as the checkpoint's weights (None: off). ``sanity_val_tracks`` validation tracks are run
    before training to catch errors early (0: skip).
    """

    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | int = "32"  # an int (32) is read as its string
    ema_decay: float | None = None
    checkpoint_every_steps: int | None = None
    log_every_steps: int = 50
    sanity_val_tracks: int = 1
    progress_bar: bool = True
    deterministic: bool = False

    def __post_init__(self) -> None:
        _require_finite(self, "trainer")
        if isinstance(self.precision, int) and not isinstance(self.precision, bool):
            self.precision = str(self.precision)  # trainer.precision=32 on the command line reads as an int
        if self.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"trainer.ema_decay: expected a number in (0, 1) or null, got {self.ema_decay!r}")


@dataclass
class ValidationConfig:
    """Whole-track validation through ``models.separate``: window, hop and batch in seconds/windows.

    ``audio_seconds`` of the first validation track (mixture and estimates) go to TensorBoard (0: none).
    """

    window: float = 3.0
    hop: float = 0.5
    batch: int = 4
    every_epochs: int = 1
    audio_seconds: float = 10.0

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
        """Build from plain data (as in YAML), checking every key and converting numbers."""
        return _build(cls, values, "config")


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML experiment file (with its ``base:`` chain) and apply ``key=value`` overrides."""
    path = Path(path)
    values = read_yaml_with_base(path)
    values.setdefault("name", default_name(path))
    for item in overrides:
        apply_override(values, item)
    try:
        return ExperimentConfig.from_dict(values)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None


def default_name(path: Path) -> str:
    """A run name from a config path: the path below the nearest ``configs`` folder (else the file's name),
    without ``.yaml``: ``train/configs/seed/loss-t.yaml`` -> ``seed/loss-t``."""
    path = path.resolve().with_suffix("")
    for folder in path.parents:
        if folder.name == "configs":
            return path.relative_to(folder).as_posix()
    return path.name


def read_yaml_with_base(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The mapping in ``path``, merged over the file named by its ``base:`` key (recursively)."""
    path = path.resolve()
    if path in seen:
        raise ValueError(f"config base cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    with open(path) as f:
        values = yaml.safe_load(f) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of config sections, got {type(values).__name__}")
    base = values.pop("base", None)
    if base is None:
        return values
    return merge(read_yaml_with_base(path.parent / base, (*seen, path)), values)


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in: mappings key by key, anything else replaced (null keeps a mapping)."""
    out = dict(base)
    for key, value in update.items():
        if value is None and isinstance(out.get(key), dict):
            continue  # an empty section (every line commented out) changes nothing
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_override(values: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` to the plain config mapping ``values`` (checked against the dataclasses)."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ValueError(f"override {item!r}: expected key=value, e.g. optim.lr=5e-4")
    parts = key.split(".")
    cls: Any = ExperimentConfig
    where = values
    for depth, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(cls)]
        if part not in names:
            prefix = ".".join(parts[:depth])
            raise ValueError(f"override {item!r}: unknown key {part!r}{f' in {prefix}' if prefix else ''}; "
                             f"known keys: {', '.join(names)}")
        hint = typing.get_type_hints(cls)[part]
        if depth == len(parts) - 1:
            where[part] = _parse_value(item, text)
        elif dataclasses.is_dataclass(hint):
            if where.get(part) is None:  # missing, or an empty section in the YAML file
                where[part] = {}
            if not isinstance(where[part], dict):
                raise ValueError(f"override {item!r}: {'.'.join(parts[:depth + 1])} is {where[part]!r} in the "
                                 f"config, not a section of keys")
            where = where[part]
            cls = hint
        else:
            raise ValueError(f"override {item!r}: {'.'.join(parts[:depth + 1])} is a value, not a section")


def _parse_value(item: str, text: str) -> Any:
    """The value of an override, read as YAML (an empty value is the empty string)."""
    if not text:
        return ""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(f"override {item!r}: the value {text!r} is not valid YAML ({problem})") from None


def save_config(config: ExperimentConfig, path: str | os.PathLike) -> Path:
    """Write the full, resolved config as YAML, atomically (with the permissions a plain ``open`` would give)."""
    return write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def _build(cls: Any, values: Any, where: str) -> Any:
    if isinstance(values, cls):
        return values
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known keys: {', '.join(known)}")
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value if value is not None else {}, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(value, hint, f"{where}.{key}")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check plain scalars against the annotation; accept ints and YAML's '1e-3' strings for floats."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise ValueError(f"{where}: null is not allowed here (expected {_name(hint)})")
    for option in options:
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and not isinstance(value, bool):
            if isinstance(value, (int, float)):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        if option is str and isinstance(value, str):
            return value
        if option not in (bool, int, float, str, type(None)):
            return value  # lists and other structured values: the dataclass checks them
    raise ValueError(f"{where}: expected {_name(hint)}, got {value!r}")


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
