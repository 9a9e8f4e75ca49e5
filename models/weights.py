"""Weight files: safetensors with the model's full config in the metadata, so a file alone rebuilds its model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .atomic import atomic_path
from .bsrnn import BSRNN
from .config import BSRNNConfig

FORMAT = "bsrnn-kit/1"


def save_model(model: BSRNN, path: str | os.PathLike) -> Path:
    """Write ``model``'s weights and config to ``path`` (safetensors), atomically."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "config": model.config.to_json()}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)
    return path


def read_config(path: str | os.PathLike) -> BSRNNConfig:
    """The config stored in a weight file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable safetensors weight file ({e})") from None
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise ValueError(f"{path} is a safetensors file but not a BSRNN weight file of this kit "
                         f"(metadata format {metadata.get('format')!r}, expected {FORMAT!r} with a config)")
    try:
        return BSRNNConfig.from_dict(json.loads(metadata["config"]))
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: invalid model config in metadata: {e}") from None


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> BSRNN:
    """Rebuild the model stored in ``path`` (by ``save_model``), in eval mode, on ``device``."""
    path = Path(path)
    model = BSRNN(read_config(path))
    expected = model.state_dict()
    with safe_open(str(path), framework="pt") as f:
        names = set(f.keys())
        missing = sorted(set(expected) - names)
        unknown = sorted(names - set(expected))
        if missing or unknown:
            raise ValueError(f"{path}: tensors do not match the model built from its config; "
                             f"missing {missing[:10]}{'...' if len(missing) > 10 else ''}, "
                             f"unknown {unknown[:10]}{'...' if len(unknown) > 10 else ''}")
        state = {name: f.get_tensor(name) for name in names}
    wrong = [f"{k}: file {tuple(v.shape)}, model {tuple(expected[k].shape)}"
             for k, v in state.items() if v.shape != expected[k].shape]
    if wrong:
        raise ValueError(f"{path}: tensor shapes do not match the model built from its config: {wrong[:10]}")
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
