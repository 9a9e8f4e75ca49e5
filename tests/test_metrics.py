"""The leaderboard's global SDR and the fast museval-equivalent chunk SDR."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator import chunk_sdr, global_sdr
from evaluator.metrics import _museval_window_sdr, window_sdr, window_starts

RATE = 8000  # short signals keep museval fast


def _sources(rng: np.random.Generator, n_sources: int, seconds: float, channels: int = 2) -> np.ndarray:
    return rng.standard_normal((n_sources, int(seconds * RATE), channels)) * rng.uniform(0.05, 0.5, (n_sources, 1, 1))


def test_global_sdr_formula_by_hand():
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    est = ref * 0.5
    # signal energy 4, error energy 1
    assert global_sdr(ref, est) == pytest.approx(10 * np.log10((4 + 1e-7) / (1 + 1e-7)), abs=1e-5)
    assert global_sdr(ref, ref) == pytest.approx(10 * np.log10(4 / 1e-7), abs=1e-3)
    assert global_sdr(np.zeros((5, 2)), np.zeros((5, 2))) == pytest.approx(0.0)
    assert global_sdr(np.zeros((5, 2)), np.ones((5, 2))) == pytest.approx(10 * np.log10(1e-7 / 10), abs=1e-3)


def test_global_sdr_sums_channels_together_in_float32():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((44100, 2))
    est = ref + 0.1 * rng.standard_normal((44100, 2))
    ref32, est32 = ref.astype(np.float32), est.astype(np.float32)
    expected = 10 * np.log10((np.sum(ref32 ** 2, dtype=np.float32) + np.float32(1e-7))
                             / (np.sum((ref32 - est32) ** 2, dtype=np.float32) + np.float32(1e-7)))
    assert global_sdr(ref, est) == pytest.approx(float(expected), abs=1e-6)
    # not the mean of per-channel SDRs: a loud left channel dominates
    est[:, 1] = 0
    per_channel = np.mean([global_sdr(ref[:, [c]], est[:, [c]]) for c in range(2)])
    assert abs(global_sdr(ref, est) - per_channel) > 1


def test_global_sdr_rejects_different_shapes():
    with pytest.raises(ValueError, match="same shape"):
        global_sdr(np.zeros((10, 2)), np.zeros((9, 2)))


def test_window_starts_follow_museval_framing():
    assert window_starts(10, 4, 4).tolist() == [0, 4]  # the trailing partial window is dropped
    assert window_starts(10, 4, 2).tolist() == [0, 2, 4, 6]
    assert window_starts(3, 4, 4).tolist() == [0]  # shorter than a window: one window of it all
    with pytest.raises(ValueError, match="win and hop"):
        window_starts(10, 0, 1)


def test_chunk_sdr_by_hand():
    ref = np.ones((4, 1))
    # every window: signal energy 2, error energy 0.5 -> 6.02 dB
    assert np.allclose(window_sdr(ref, ref * 0.5, win=2, hop=2), 10 * np.log10(2 / 0.5))
    est = np.array([[0.0], [0.0], [0.5], [0.5]])  # the first window's estimate is silent -> NaN
    per_window = window_sdr(ref, est, win=2, hop=2)
    assert np.isnan(per_window[0, 0]) and per_window[0, 1] == pytest.approx(10 * np.log10(2 / 0.5))
    assert chunk_sdr(ref, est, win=2, hop=2) == pytest.approx(10 * np.log10(4), abs=1e-9)


def test_chunk_sdr_silence_is_joint_across_sources():
    rng = np.random.default_rng(1)
    refs = _sources(rng, 2, 3.0)
    ests = refs + 0.1 * rng.standard_normal(refs.shape)
    refs[1, :RATE] = 0  # source 1 silent in the first window -> that window is NaN for source 0 too
    sdr = window_sdr(refs, ests, RATE, RATE)
    assert np.isnan(sdr[:, 0]).all() and np.isfinite(sdr[:, 1:]).all()
    assert np.isfinite(window_sdr(refs[0], ests[0], RATE, RATE)).all()  # alone, source 0 has no silent window


def _museval_case(rng: np.random.Generator, silent: bool) -> tuple[np.ndarray, np.ndarray]:
    refs = _sources(rng, 3, 4.3)
    ests = 0.8 * refs + 0.05 * rng.standard_normal(refs.shape) + 0.1 * refs[[1, 2, 0]]  # leakage across sources
    if silent:
        refs[0, RATE // 2:2 * RATE + 100] = 0  # window 1 of source 0 silent in the reference
        ests[2, 3 * RATE:4 * RATE] = 0  # window 3 of source 2 silent in the estimate
        ests[1, 2 * RATE + 10:3 * RATE - 10] = 0  # not entirely silent: window 2 stays finite
    return refs, ests


@pytest.mark.parametrize("win,hop,silent", [(RATE, RATE, False), (RATE, RATE, True), (RATE, RATE // 2, True),
                                            (20 * RATE, 20 * RATE, False)])
def test_chunk_sdr_equals_museval(win, hop, silent):
    refs, ests = _museval_case(np.random.default_rng(2), silent)
    fast = window_sdr(refs, ests, win, hop)
    slow = _museval_window_sdr(refs, ests, win, hop)
    assert fast.shape == slow.shape
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    assert np.allclose(fast[~np.isnan(fast)], slow[~np.isnan(slow)], atol=1e-3, rtol=0)
    if silent and win < 20 * RATE:
        assert np.isnan(fast).any()
    assert np.allclose(chunk_sdr(refs, ests, win, hop), np.nanmedian(slow, axis=1), atol=1e-3, rtol=0)


def test_chunk_sdr_single_source_and_errors():
    refs, ests = _museval_case(np.random.default_rng(3), silent=False)
    value = chunk_sdr(refs[0], ests[0], RATE, RATE)
    assert isinstance(value, float)
    assert value == pytest.approx(chunk_sdr(refs[0], ests[0], RATE, RATE, backend="museval"), abs=1e-3)
    with pytest.raises(ValueError, match="backend"):
        chunk_sdr(refs[0], ests[0], backend="bsseval")
    with pytest.raises(ValueError, match="same shape"):
        chunk_sdr(refs[0], ests[0][:-1])
    assert np.isnan(chunk_sdr(np.zeros((100, 2)), np.ones((100, 2)), 10, 10))
