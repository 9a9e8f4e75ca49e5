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
        for name in ("sample_rate", "n_fft", "hop_length", "feature_dim", "num_repeat", "conv_kernel",
                     "mask_hidden_layers", "mask_hidden_factor", "enc_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"BSRNNConfig.{name}: expected a positive integer, got {value!r}")
        if self.hop_length > self.n_fft:
            raise ValueError(f"BSRNNConfig.hop_length ({self.hop_length}) must not exceed n_fft ({self.n_fft})")
        if self.rnn_hidden is not None and (not isinstance(self.rnn_hidden, int) or self.rnn_hidden < 1):
            raise ValueError(f"BSRNNConfig.rnn_hidden: expected a positive integer or None, got {self.rnn_hidden!r}")
        if not isinstance(self.n_heads, int) or self.n_heads < 0:
            raise ValueError(f"BSRNNConfig.n_heads: expected an integer >= 0, got {self.n_heads!r}")
        if self.n_heads and self.feature_dim % self.n_heads:
            raise ValueError(f"BSRNNConfig.n_heads ({self.n_heads}) must divide feature_dim ({self.feature_dim})")
        if self.band_scheme is None and len(self.targets) > 1:
            raise ValueError("BSRNNConfig.band_scheme: a multi-target model shares one band split; name it "
                             f"(one of {sorted(SCHEMES)} or a list of [upper_hz, bandwidth_hz])")
        if isinstance(self.band_scheme, (list, tuple)):
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
