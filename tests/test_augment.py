"""Statistics and invariants of the training augmentations (train/augment.py)."""

import numpy as np
import pytest
from scipy import stats

from train.augment import (
    augment_stem,
    mix_without_clipping,
    random_channel_swap,
    random_drop,
    random_eq,
    random_gain,
    repitch,
    repitch_frames,
)

DRAWS = 20000


def binomial_ok(count: int, n: int, p: float) -> bool:
    """``count`` successes of ``n`` are within 5 standard deviations of ``n * p``."""
    return abs(count - n * p) <= 5 * np.sqrt(n * p * (1 - p))


def test_gain_is_uniform_in_db_within_the_range():
    rng = np.random.default_rng(1)
    stem = np.ones((2, 4), dtype=np.float32)
    gains = []
    for _ in range(DRAWS):
        scaled, gain_db = random_gain(stem, rng, 10.0)
        # the applied factor matches the reported gain
        assert scaled[0, 0] == pytest.approx(10 ** (gain_db / 20), rel=1e-6)
        gains.append(gain_db)
    gains = np.array(gains)
    assert gains.min() >= -10 and gains.max() <= 10
    assert gains.min() < -9.9 and gains.max() > 9.9
    assert stats.kstest(gains, stats.uniform(loc=-10, scale=20).cdf).pvalue > 1e-3
    # and not uniform over a narrower range
    assert stats.kstest(gains, stats.uniform(loc=-5, scale=10).cdf).pvalue < 1e-6


def test_zero_gain_range_leaves_the_stem_unchanged():
    stem = np.random.default_rng(0).standard_normal((2, 100)).astype(np.float32)
    scaled, gain_db = random_gain(stem, np.random.default_rng(3), 0.0)
    assert gain_db == 0.0
    np.testing.assert_array_equal(scaled, stem)


def test_drop_rate_and_dropped_stems_are_silent():
    rng = np.random.default_rng(2)
    stem = np.ones((2, 8), dtype=np.float32)
    dropped = 0
    for _ in range(DRAWS):
        out, was_dropped = random_drop(stem, rng, 0.1)
        if was_dropped:
            assert not out.any()
            dropped += 1
        else:
            np.testing.assert_array_equal(out, stem)
    assert binomial_ok(dropped, DRAWS, 0.1)


def test_swap_rate_and_swapped_channels():
    rng = np.random.default_rng(3)
    stem = np.stack([np.zeros(8), np.ones(8)]).astype(np.float32)
    swapped = 0
    for _ in range(DRAWS):
        out, was_swapped = random_channel_swap(stem, rng, 0.5)
        np.testing.assert_array_equal(out, stem[::-1] if was_swapped else stem)
        swapped += was_swapped
    assert binomial_ok(swapped, DRAWS, 0.5)
    assert stem[0].sum() == 0  # the input is never modified in place


def test_augment_stem_rates_together():
    """Over many draws of the whole chain: ~10 % silent, ~half swapped, gains within +-10 dB of the input."""
    rng = np.random.default_rng(4)
    stem = np.stack([np.full(4, 0.1), np.full(4, 0.2)]).astype(np.float32)
    silent = swapped = 0
    n = 5000
    for _ in range(n):
        out = augment_stem(stem, rng, 10.0, 0.1, 0.5)
        if not out.any():
            silent += 1
            continue
        ratio_db = 20 * np.log10(out.max() / 0.2)
        assert -10 - 1e-4 <= ratio_db <= 10 + 1e-4
        swapped += out[0, 0] > out[1, 0]
    assert binomial_ok(silent, n, 0.1)
    assert binomial_ok(swapped, n - silent, 0.5)


def test_augment_stem_is_deterministic_under_a_seed():
    stem = np.random.default_rng(0).standard_normal((2, 256)).astype(np.float32)
    first = [augment_stem(stem, np.random.default_rng([7, i]), 10, 0.1, 0.5) for i in range(20)]
    again = [augment_stem(stem, np.random.default_rng([7, i]), 10, 0.1, 0.5) for i in range(20)]
    other = [augment_stem(stem, np.random.default_rng([8, i]), 10, 0.1, 0.5) for i in range(20)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, other))


def test_mix_without_clipping_rescales_loud_mixes():
    rng = np.random.default_rng(5)
    for _ in range(200):
        stems = (rng.uniform(0.1, 3.0) * rng.standard_normal((4, 2, 1000))).astype(np.float32)
        mixture, out = mix_without_clipping(stems)
        assert np.abs(mixture).max() <= 1.0
        assert np.abs(out).max() <= 1.0
        np.testing.assert_array_equal(mixture, out.sum(axis=0))
        # one common factor for all stems: the ratios are unchanged
        factor = np.abs(out).sum() / np.abs(stems).sum()
        np.testing.assert_allclose(out, stems * factor, rtol=1e-5, atol=1e-7)
        assert factor <= 1.0


def test_mix_without_clipping_keeps_quiet_mixes_and_catches_a_loud_stem():
    quiet = np.full((4, 2, 10), 0.2, dtype=np.float32)
    mixture, out = mix_without_clipping(quiet)
    np.testing.assert_array_equal(out, quiet)
    np.testing.assert_allclose(mixture, 0.8)
    # a stem peaking above 1 that cancels in the mixture still gets scaled down
    loud = np.zeros((4, 1, 4), dtype=np.float32)
    loud[0] = 1.5
    loud[1] = -1.5
    mixture, out = mix_without_clipping(loud)
    assert np.abs(out).max() <= 1.0 and np.abs(out).max() > 0.999
    np.testing.assert_array_equal(mixture, out.sum(axis=0))


def band_gains_db(before: np.ndarray, after: np.ndarray, bands: int = 24) -> np.ndarray:
    """Energy ratio after/before in dB, per channel, in ``bands`` bands spaced evenly in log frequency."""
    spec_b, spec_a = (np.abs(np.fft.rfft(x, axis=-1)) ** 2 for x in (before, after))
    edges = np.unique(np.geomspace(spec_b.shape[-1] // 1000 + 1, spec_b.shape[-1], bands + 1).astype(int))
    return np.stack([10 * np.log10(spec_a[:, lo:hi].sum(-1) / spec_b[:, lo:hi].sum(-1))
                     for lo, hi in zip(edges[:-1], edges[1:])], axis=-1)


def test_random_eq_stays_within_its_range_and_colours_both_channels_alike():
    noise = np.random.default_rng(0).standard_normal((2, 44100)).astype(np.float32)
    spreads = []
    for seed in range(20):
        coloured = random_eq(noise, np.random.default_rng(seed), 6.0)
        assert coloured.dtype == np.float32 and coloured.shape == noise.shape
        gains = band_gains_db(noise, coloured)
        assert np.all(np.abs(gains) <= 6.0 + 0.1)
        transfer = np.fft.rfft(coloured, axis=-1) / np.fft.rfft(noise, axis=-1)
        np.testing.assert_allclose(transfer[0], transfer[1], rtol=1e-3, atol=1e-3)  # one curve for both channels
        spreads.append(np.ptp(gains[0]))
    assert np.median(spreads) > 3.0  # it does colour: the band gains differ by several dB
    np.testing.assert_allclose(random_eq(noise, np.random.default_rng(1), 0.0), noise, atol=1e-5)
    np.testing.assert_array_equal(random_eq(noise, np.random.default_rng(3), 6.0),
                                  random_eq(noise, np.random.default_rng(3), 6.0))


@pytest.mark.parametrize("semitones", [-12.0, -2.0, 2.0, 7.0])
def test_repitch_moves_a_tone_by_the_semitones_asked(semitones):
    rate, frames, freq = 8000, 8000, 440.0
    read = repitch_frames(frames, semitones)
    tone = np.sin(2 * np.pi * freq * np.arange(read) / rate)[None].repeat(2, 0).astype(np.float32)
    out = repitch(tone, frames)
    assert out.shape == (2, frames) and out.dtype == np.float32
    peak_hz = np.argmax(np.abs(np.fft.rfft(out[0] * np.hanning(frames)))) * rate / frames
    assert peak_hz == pytest.approx(freq * 2 ** (semitones / 12), abs=2.0)
    assert repitch(tone, read) is tone  # no shift: the excerpt itself


def test_augment_stem_with_eq_draws_after_the_recipes_three_numbers():
    stem = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    plain, coloured = np.random.default_rng(5), np.random.default_rng(5)
    a = augment_stem(stem, plain, 10, 0.0, 0.0)
    b = augment_stem(stem, coloured, 10, 0.0, 0.0, eq_db=6.0)
    assert not np.allclose(a, b)
    # the same gain was drawn first: the equaliser only recoloured it (the overall level is close)
    assert abs(10 * np.log10(np.sum(b ** 2) / np.sum(a ** 2))) < 6.0
    assert plain.random() != coloured.random()  # and it drew numbers of its own after that
