"""The grader's contract, written once: the instrument names, the time limit, and what a model's answer must be."""

from __future__ import annotations

import numpy as np

INSTRUMENTS = ("bass", "drums", "other", "vocals")
TIME_FACTOR = 1.57  # the grader's limit: each track separated within 1.57 x its duration


def raise_aicrowd_error(msg: str) -> None:
    """Fail the way the grader's wrapper does (a ``NameError`` carrying ``msg``)."""
    raise NameError(msg)


def check_output(song: str, mixture: np.ndarray, sample_rate: int, stems: object, rates: object) -> None:
    """Fail clearly (``raise_aicrowd_error``) when a model's answer for ``song`` would break the grader or scorer:
    two dicts keyed by exactly the four instruments, each stem shaped like the mixture, at its rate, finite and
    inside [-1, 1]."""
    if not isinstance(stems, dict) or not isinstance(rates, dict):
        raise_aicrowd_error(f"{song}: separate_music_file must return two dicts, got "
                            f"{type(stems).__name__} and {type(rates).__name__}")
    for name, keys in (("separated arrays", set(stems)), ("sample rates", set(rates))):
        if keys != set(INSTRUMENTS):
            raise_aicrowd_error(f"{song}: the {name} are keyed {sorted(keys)}, expected {list(INSTRUMENTS)}")
    for instrument in INSTRUMENTS:
        stem = np.asarray(stems[instrument])
        if stem.shape != mixture.shape:
            raise_aicrowd_error(f"{song}/{instrument}: shape {stem.shape} differs from the mixture's "
                                f"{mixture.shape}; the scorer needs exactly the same shape")
        if rates[instrument] != sample_rate:
            raise_aicrowd_error(f"{song}/{instrument}: sample rate {rates[instrument]}, the mixture's is "
                                f"{sample_rate}")
        if not np.isfinite(stem).all() or np.abs(stem).max(initial=0) > 1:
            raise_aicrowd_error(f"{song}/{instrument}: values must be finite and inside [-1, 1] "
                                "(16-bit WAV would wrap them)")
