"""The training-cost estimator: its linear model, its counts, and the extrapolation it rests on."""

from __future__ import annotations

import pytest
import torch

from benchmarks.arithmetic import macs_per_window
from benchmarks.training_estimate import PerItemModel, extrapolate, frames, measure_step, with_repeats
from models import BSRNNConfig
from train.config import LossConfig

# a small model at 16 kHz: each measurement takes well under a second
SMALL = BSRNNConfig(targets=["vocals"], feature_dim=16, num_repeat=1, sample_rate=16000, n_fft=512, hop_length=128)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_per_item_model_recovers_its_coefficients():
    truth = PerItemModel(a=3.0, b=2.0, c=5.0, d=7.0)
    points = [(r, f, truth(r, f)) for r in (1, 2) for f in (10, 30)]
    fitted = PerItemModel.fit(points)
    assert fitted(12, 260, batch=2) == pytest.approx(truth(12, 260, batch=2))
    assert fitted(12, 260, batch=2) == pytest.approx(2 * (3 + 2 * 260 + 12 * (5 + 7 * 260)))


def test_per_item_model_needs_two_repeat_counts_and_two_lengths():
    with pytest.raises(ValueError, match="two repeat counts"):
        PerItemModel.fit([(1, 10, 1.0), (1, 20, 2.0), (1, 30, 3.0), (1, 40, 4.0)])


def test_counted_forward_flops_match_the_arithmetic_and_backward_costs_about_twice_forward():
    counts = measure_step(SMALL, LossConfig(), 0.25, 1)
    analytic = 2 * sum(macs_per_window(SMALL, 0.25).values())  # multiply-adds -> FLOPs
    assert counts.forward_flops == pytest.approx(analytic, rel=0.03)
    assert 2.8 < counts.step_flops / counts.forward_flops < 3.2
    assert counts.saved_bytes > 0


def test_extrapolation_from_small_sizes_matches_a_direct_measurement_at_a_larger_one():
    fitted = extrapolate(SMALL, LossConfig(), ("forward_flops", "saved_bytes"))
    config = with_repeats(SMALL, 3)
    direct = measure_step(config, LossConfig(), 1.0, 2, backward=False)
    n_frames = frames(config, 1.0)
    assert fitted["forward_flops"](3, n_frames, batch=2) == pytest.approx(direct.forward_flops, rel=0.02)
    assert fitted["saved_bytes"](3, n_frames, batch=2) == pytest.approx(direct.saved_bytes, rel=0.03)


def test_bf16_autocast_saves_fewer_bytes_than_fp32():
    fp32 = measure_step(SMALL, LossConfig(), 0.25, 1, native_lstm=False, backward=False)
    bf16 = measure_step(SMALL, LossConfig(), 0.25, 1, native_lstm=False, backward=False, precision="bf16")
    assert bf16.saved_bytes < 0.9 * fp32.saved_bytes
