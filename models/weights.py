"""Weight files: safetensors with the model's full config in the metadata, so a file alone rebuilds its model."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .atomic import atomic_path
from .bsrnn import BSRNN
from .config import BSRNNConfig

FORMAT = "bsrnn-kit/1"


def save_model(model: BSRNN, path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``model``'s weights (as ``dtype``) and config to ``path`` (safetensors), atomically."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    overflow = [k for k, v in tensors.items() if not v.isfinite().all() and model.state_dict()[k].isfinite().all()]
    if overflow:
        raise ValueError(f"{path}: {_plural(overflow)} do not fit in {str(dtype).removeprefix('torch.')} (values "
                         "overflow to inf); store them as float32")
    metadata = {"format": FORMAT, "config": model.config.to_json()}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)
    return path


def check_weight_file(path: Path) -> None:
    """Refuse what cannot be a weight file, naming it: a missing path, a folder, a device or pipe (a link to
    ``/dev/zero`` too)."""
    if not os.path.lexists(path):
        raise FileNotFoundError(f"weight file {path} does not exist")
    if not path.exists():
        raise FileNotFoundError(f"weight file {path} is a link to {os.readlink(path)}, which does not exist")
    if path.is_dir():
        raise ValueError(f"weight file {path} is a folder, not a file")
    if not stat.S_ISREG(path.stat().st_mode):
        target = f" (a link to {path.resolve()})" if path.is_symlink() else ""
        raise ValueError(f"weight file {path}{target} is not a regular file (a device, pipe or socket)")


def read_config(path: str | os.PathLike) -> BSRNNConfig:
    """The config stored in a weight file."""
    path = Path(path)
    check_weight_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable safetensors weight file ({e})") from None
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise ValueError(f"{path} is a safetensors file but not a BSRNN weight file of this kit "
                         f"(metadata format {metadata.get('format')!r}, expected {FORMAT!r} with a config)")
    try:
        values = json.loads(metadata["config"])
    except RecursionError:
        raise ValueError(f"{path}: the model config in its metadata is nested too deeply to be a config") from None
    except ValueError as e:
        raise ValueError(f"{path}: the model config in its metadata is not valid JSON ({e})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: the model config in its metadata is a {type(values).__name__}, expected an object")
    try:
        return BSRNNConfig.from_dict(values)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: invalid model config in metadata: {e}") from None


def expected_tensors(config: BSRNNConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor of the model ``config`` builds, found without allocating its weights
    (built on the ``meta`` device)."""
    with torch.device("meta"):
        model = BSRNN(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def _plural(names: list[str]) -> str:
    return f"{names[:10]}{'...' if len(names) > 10 else ''}"


STORED_DTYPES = ("F32", "F16")  # what save_model writes; load_model computes in fp32 either way


def check_tensors(path: Path, config: BSRNNConfig) -> None:
    """Compare the tensors listed in ``path``'s header (names, shapes, dtypes) with those ``config``'s model
    has, before anything is allocated."""
    expected = expected_tensors(config)
    with safe_open(str(path), framework="pt") as f:
        names = f.keys()
        found = {name: (tuple(f.get_slice(name).get_shape()), f.get_slice(name).get_dtype()) for name in names}
    missing = sorted(set(expected) - set(found))
    unknown = sorted(set(found) - set(expected))
    if missing or unknown:
        raise ValueError(f"{path}: tensors do not match the model built from its config; "
                         f"missing {_plural(missing)}, unknown {_plural(unknown)}")
    wrong = [f"{k}: file {shape}, model {expected[k]}" for k, (shape, _) in sorted(found.items())
             if shape != expected[k]]
    if wrong:
        raise ValueError(f"{path}: tensor shapes do not match the model built from its config: {wrong[:10]}")
    dtypes = sorted({dtype for _, dtype in found.values()} - set(STORED_DTYPES))
    if dtypes:
        raise ValueError(f"{path}: tensors are stored as {dtypes}, expected {' or '.join(STORED_DTYPES)} "
                         "(as save_model writes them)")


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> BSRNN:
    """Rebuild the model stored in ``path`` (by ``save_model``), in eval mode, on ``device``.

    The config is checked against ``BSRNNConfig.BOUNDS`` and the file's tensors against the config before the
    model is built, so a small file cannot make this allocate a large model."""
    path = Path(path)
    config = read_config(path)
    check_tensors(path, config)
    model = BSRNN(config)
    with safe_open(str(path), framework="pt") as f:
        names = f.keys()
        state = {name: f.get_tensor(name).float() for name in names}
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
