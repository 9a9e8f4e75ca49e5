"""Band-Split RNN models: band schemes, the network and its variants, weight files, chunked inference."""

from .apply import Chunking, separate
from .bands import SCHEMES, band_widths
from .bsrnn import BSRNN
from .config import TARGETS, BSRNNConfig
from .weights import load_model, read_config, save_model


def build_model(config: BSRNNConfig | dict) -> BSRNN:
    """Build a BSRNN from a config (dataclass or plain dict)."""
    if isinstance(config, dict):
        config = BSRNNConfig.from_dict(config)
    return BSRNN(config)


__all__ = ["BSRNN", "BSRNNConfig", "Chunking", "SCHEMES", "TARGETS", "band_widths", "build_model", "load_model",
           "read_config", "save_model", "separate"]
