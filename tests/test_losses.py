"""The training losses against values computed by hand and by an independent NumPy STFT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import BSRNNConfig, build_model
from train.losses import SeparationLoss


def numpy_stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, zero-padded, periodic-Hann STFT written out frame by frame: (bins, frames)."""
    padded = np.pad(x, (n_fft // 2, n_fft // 2))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = 1 + (len(padded) - n_fft) // hop
    return np.stack([np.fft.rfft(padded[i * hop:i * hop + n_fft] * window) for i in range(frames)], axis=1)


def test_time_loss_is_mean_absolute_error():
    target = torch.zeros(2, 1, 2, 1000)
    estimate = target.clone()
    estimate[0] += 0.5  # half the elements off by 0.5
    loss = SeparationLoss("t")(estimate, target)
    assert loss["loss"].item() == pytest.approx(0.25)
    assert set(loss) == {"t", "loss"}


def test_tf_loss_matches_a_numpy_stft():
    n_fft, hop = 256, 64
    rng = np.random.default_rng(0)
    est, ref = rng.standard_normal((2, 3, 1000))
    loss = SeparationLoss("tf", n_fft=n_fft, hop_length=hop)(torch.tensor(est).float(), torch.tensor(ref).float())
    e = np.stack([numpy_stft(x, n_fft, hop) for x in est])
    r = np.stack([numpy_stft(x, n_fft, hop) for x in ref])
    expected = np.abs(e.real - r.real).mean() + np.abs(e.imag - r.imag).mean()
    assert loss["tf"].item() == pytest.approx(expected, rel=1e-5)
    assert set(loss) == {"tf", "loss"}


def test_weights_and_combination():
    torch.manual_seed(0)
    est, ref = torch.randn(2, 1, 2, 4096), torch.randn(2, 1, 2, 4096)
    t = SeparationLoss("t")(est, ref)["loss"]
    tf = SeparationLoss("tf")(est, ref)["loss"]
    both = SeparationLoss("t+tf", time_weight=2.0, freq_weight=0.5)(est, ref)
    assert both["loss"].item() == pytest.approx(2.0 * t.item() + 0.5 * tf.item(), rel=1e-6)
    assert both["t"].item() == pytest.approx(t.item()) and both["tf"].item() == pytest.approx(tf.item())
    assert SeparationLoss()(ref, ref)["loss"].item() == 0.0


def test_loss_stft_is_the_models_stft():
    config = BSRNNConfig(feature_dim=8, num_repeat=1, n_fft=512, hop_length=128)
    model = build_model(config)
    loss = SeparationLoss(n_fft=config.n_fft, hop_length=config.hop_length)
    x = torch.randn(3, 4000)
    assert torch.allclose(loss.spectrogram(x), model.stft(x), atol=1e-5)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="loss kind"):
        SeparationLoss("l2")
    with pytest.raises(ValueError, match="differ in shape"):
        SeparationLoss()(torch.zeros(1, 1, 2, 100), torch.zeros(1, 1, 1, 100))
