"""The configuration of a BSRNN model: every variant the kit can build is a value of this dataclass."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .bands import SCHEMES, band_widths
from .contract import INSTRUMENTS

TARGETS = INSTRUMENTS
SEQUENCE_LAYERS = ("lstm", "gru", "conv")
STEREO_MODES = ("batch", "tac")
# sane bounds of the sizes: generous for any real model, tight enough that a config (say, from a weight file's
# metadata) cannot make the kit allocate without bound. rnn_hidden may also be None and n_heads 0.
BOUNDS: dict[str, tuple[int, int]] = {
    "sample_rate": (8000, 384000), "n_fft": (16, 2 ** 16), "hop_length": (1, 2 ** 16), "feature_dim": (1, 1024),
    "num_repeat": (1, 64), "rnn_hidden": (1, 4096), "conv_kernel": (1, 255), "mask_hidden_layers": (1, 8),
    "mask_hidden_factor": (1, 16), "n_heads": (1, 64), "enc_dim": (1, 256),
}


@dataclass
class BSRNNConfig:
    """Hyper-parameters of a Band-Split RNN (defaults: the paper's vocals model).

    targets: the sources the model separates; more than one builds the multi-target variant
        (one shared trunk, one mask head per target).
    band_scheme: a scheme name (``vocals``, ``bass``, ``drums``, ``other``), a list of
        ``[upper_hz, bandwidth_hz]`` ranges, or None for the single target's own scheme.
    feature_dim / num_repeat: N and R of the paper.
    time_layer / band_layer: ``lstm`` | ``gru`` | ``conv`` for the sequence layer across time and across bands.
    rnn_hidden: hidden size per direction of the RNNs (None: 2 * feature_dim, as in the paper).
    conv_kernel: kernel size of the ``conv`` sequence layer.
    mask_hidden_layers: hidden layers of each band's mask MLP (1 as in the paper, 2 as in the authors' code).
    mask_hidden_factor: the mask MLP's hidden width as a multiple of feature_dim.
    n_heads / enc_dim: TF-GridNet-style attention across frames after each repeat (0 heads = off).
    stereo: ``batch`` runs each channel as its own item; ``tac`` adds transform-average-concatenate
        coupling across channels after each repeat.
    Sizes must lie within ``BOUNDS``.
    """

    targets: list[str] = field(default_factory=lambda: ["vocals"])
    sample_rate: int = 44100
    n_fft: int = 2048
    hop_length: int = 512
    band_scheme: str | list[list[float]] | None = None
    feature_dim: int = 128
    num_repeat: int = 12
    time_layer: str = "lstm"
    band_layer: str = "lstm"
    rnn_hidden: int | None = None
    conv_kernel: int = 5
    mask_hidden_layers: int = 1
    mask_hidden_factor: int = 4
    n_heads: int = 0
    enc_dim: int = 4
    stereo: str = "batch"

    def __post_init__(self) -> None:
        self.targets = list(self.targets)
        if not self.targets:
            raise ValueError("BSRNNConfig.targets: need at least one target")
        for t in self.targets:
            if t not in TARGETS:
                raise ValueError(f"BSRNNConfig.targets: unknown target {t!r}; expected some of {TARGETS}")
        if len(set(self.targets)) != len(self.targets):
            raise ValueError(f"BSRNNConfig.targets: repeated target in {self.targets}")
        for name in ("time_layer", "band_layer"):
            if getattr(self, name) not in SEQUENCE_LAYERS:
                raise ValueError(f"BSRNNConfig.{name}: expected one of {SEQUENCE_LAYERS}, got {getattr(self, name)!r}")
        if self.stereo not in STEREO_MODES:
            raise ValueError(f"BSRNNConfig.stereo: expected one of {STEREO_MODES}, got {self.stereo!r}")
        for name, (low, high) in BOUNDS.items():
            value = getattr(self, name)
            if name in ("rnn_hidden", "n_heads") and (value is None or value == 0):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"BSRNNConfig.{name}: expected an integer in [{low}, {high}], got {value!r}")
        if self.hop_length > self.n_fft:
            raise ValueError(f"BSRNNConfig.hop_length ({self.hop_length}) must not exceed n_fft ({self.n_fft})")
        if self.n_heads and self.feature_dim % self.n_heads:
            raise ValueError(f"BSRNNConfig.n_heads ({self.n_heads}) must divide feature_dim ({self.feature_dim})")
        if self.band_scheme is None and len(self.targets) > 1:
            raise ValueError("BSRNNConfig.band_scheme: a multi-target model shares one band split; name it "
                             f"(one of {sorted(SCHEMES)} or a list of [upper_hz, bandwidth_hz])")
        if isinstance(self.band_scheme, (list, tuple)):
            if len(self.band_scheme) > self.n_fft:
                raise ValueError(f"BSRNNConfig.band_scheme: {len(self.band_scheme)} ranges, more than n_fft "
                                 f"({self.n_fft}) bins can hold")
            self.band_scheme = [list(map(float, r)) for r in self.band_scheme]
        self.band_widths()  # validates the scheme

    @property
    def hidden(self) -> int:
        return self.rnn_hidden or 2 * self.feature_dim

    def band_widths(self) -> list[int]:
        scheme = self.band_scheme if self.band_scheme is not None else self.targets[0]
        return band_widths(scheme, self.sample_rate, self.n_fft)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BSRNNConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"BSRNNConfig: unknown field(s) {unknown}; known fields are {sorted(known)}")
        return cls(**values)
