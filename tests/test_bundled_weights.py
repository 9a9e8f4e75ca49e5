"""The bundled weights (``my_submission/weights/``) separate songs they were not trained on well above the trivial
baselines, through the grader's entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluator.metrics import global_sdr
from models import read_config
from my_submission.bsrnn_model import BSRNNModel
from render import render_song, track_seed

WEIGHTS = Path(__file__).resolve().parents[1] / "my_submission" / "weights"
UNSEEN_SEED = 4242  # neither the training set (seed 0), its validation set nor the embedded test set (seed 2023)
SONGS, SECONDS = 2, 6.0
# The mean over targets must beat the even split (every stem = mixture / 4) by this much, and no target may fall far
# below it. Measured for the shipped file on these songs (renderer version 3), default settings (mixture consistency
# on): +3.4 dB (bass +3.0, drums +3.2, other +2.7, vocals +4.5); without consistency +3.4 dB (bass +2.6, drums +2.9,
# other +3.4, vocals +4.9).
MEAN_MARGIN_DB = 1.5
TARGET_MARGIN_DB = -1.0


def test_bundled_weights_are_small_and_cover_the_four_instruments():
    files = sorted(WEIGHTS.glob("*.safetensors"))
    assert files, f"no bundled weights in {WEIGHTS}"
    assert sum(f.stat().st_size for f in files) < 50 * 1024 * 1024
    assert sorted(t for f in files for t in read_config(f).targets) == ["bass", "drums", "other", "vocals"]


def test_bundled_weights_beat_the_even_split_on_unseen_songs():
    model = BSRNNModel()
    gains: dict[str, list[float]] = {}
    for index in range(SONGS):
        stems = render_song(track_seed(UNSEEN_SEED, index), SECONDS)
        mixture = sum(stems.values())
        estimates, rates = model.separate_music_file(mixture, 44100)
        assert set(rates.values()) == {44100}
        for name, reference in stems.items():
            gain = global_sdr(reference, estimates[name]) - global_sdr(reference, mixture / 4)
            gains.setdefault(name, []).append(gain)
    per_target = {name: float(np.mean(values)) for name, values in gains.items()}
    assert all(np.isfinite(list(per_target.values())))
    assert np.mean(list(per_target.values())) > MEAN_MARGIN_DB, per_target
    assert min(per_target.values()) > TARGET_MARGIN_DB, per_target
