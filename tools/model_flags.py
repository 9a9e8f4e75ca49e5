"""Command-line flags that choose a model class and its inference settings (shared by the tools and
``evaluate_locally.py``), and constructing the model from them."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
from pathlib import Path

from my_submission.settings import InferenceSettings


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override the inference settings (window, hop, batch size, precision, device, mixture
    consistency) and the weights."""
    parser.add_argument("--window", type=float, help="chunk length in seconds")
    parser.add_argument("--hop", type=float, help="seconds between chunk starts")
    parser.add_argument("--batch-size", type=int, help="chunks per forward pass")
    parser.add_argument("--precision", help="auto (the default: fp16 on CUDA, bf16 on CPUs with native bf16, else "
                        "fp32), fp32, bf16 or fp16")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--no-mixture-consistency", dest="mixture_consistency", action="store_false", default=None,
                        help="give the networks' estimates as they are, not shifted to sum to the mixture")
    parser.add_argument("--weights", type=Path, help="weights folder (default: my_submission/weights)")


def class_settings(cls: type) -> InferenceSettings:
    """The settings ``cls`` runs with when the grader constructs it: the default of its ``settings`` parameter when
    that is an ``InferenceSettings`` (a subclass in ``user_config.py`` may bind its own), else the defaults."""
    parameter = inspect.signature(cls).parameters.get("settings")
    default = None if parameter is None else parameter.default
    return default if isinstance(default, InferenceSettings) else InferenceSettings()


def settings_from_flags(args: argparse.Namespace, progress: bool = False,
                        base: InferenceSettings | None = None) -> InferenceSettings:
    """``base`` (default: the default ``InferenceSettings``; give :func:`class_settings` of the model class) with
    the flags given in ``args`` applied (checked)."""
    overrides = {"window": args.window, "hop": args.hop, "batch_size": args.batch_size,
                 "precision": args.precision, "device": args.device, "progress": progress,
                 "mixture_consistency": args.mixture_consistency}
    return dataclasses.replace(base or InferenceSettings(), **{k: v for k, v in overrides.items() if v is not None})


def import_model_class(dotted: str) -> type:
    """The class named by ``package.module.ClassName`` (or ``package.module:ClassName``)."""
    module_name, sep, name = dotted.replace(":", ".").rpartition(".")
    if not sep or not module_name:
        raise ValueError(f"model {dotted!r}: expected a dotted path like my_submission.identity_model.IdentityModel")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"model {dotted!r}: cannot import module {module_name!r} ({e})") from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ValueError(f"model {dotted!r}: module {module_name!r} has no class {name!r}")
    return cls


def construct_model(cls: type, settings: InferenceSettings, weights_dir: Path | None = None) -> object:
    """``cls(...)`` given the ``settings`` and ``weights_dir`` keywords it accepts (a grader-style class may take
    none)."""
    accepted = inspect.signature(cls).parameters
    kwargs = {"settings": settings, "weights_dir": weights_dir}
    return cls(**{k: v for k, v in kwargs.items() if k in accepted and v is not None})
