"""The experiment runner's tables, from run folders whose TensorBoard logs are written here."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch.utils.tensorboard import SummaryWriter

from train.config import load_config
from train.experiments import Run, main, read_scores, run_overrides, tables

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"


def fake_log(out_dir: Path, history: list[dict[str, float]], target: str = "vocals") -> None:
    """Log one validation per entry (steps 100, 200, ...), as the module does."""
    writer = SummaryWriter(str(out_dir / "logs"))
    for k, scores in enumerate(history):
        for tag, value in scores.items():
            writer.add_scalar(tag, value, (k + 1) * 100)
    writer.close()


def test_scores_come_from_the_best_validation(tmp_path):
    fake_log(tmp_path, [{"valid/sdr": 1.0, "valid/sdr_vocals": 1.0}, {"valid/sdr": 3.0, "valid/sdr_vocals": 3.0},
                        {"valid/sdr": 2.0, "valid/sdr_vocals": 2.0}])
    assert read_scores(tmp_path) == {"valid/sdr": 3.0, "valid/sdr_vocals": 3.0}
    assert read_scores(tmp_path / "nothing") is None


def test_a_resumed_run_counts_its_last_value_of_a_step(tmp_path):
    fake_log(tmp_path, [{"valid/sdr": 5.0}])  # a validation logged before a crash ...
    fake_log(tmp_path, [{"valid/sdr": 4.0}])  # ... and again, for the same step, after the resume
    assert read_scores(tmp_path) == {"valid/sdr": 4.0}


def test_tables_put_each_run_in_its_seed_table(tmp_path):
    names = ["seed/baseline", "seed/loss-t", "seed/size-64x10", "seed/layers-gru-lstm", "seed/attention-1h-e10",
             "optimized/vocals", "multi-target"]
    runs = []
    for i, name in enumerate(names):
        path = CONFIGS / f"{name}.yaml"
        run = Run(path, load_config(path, [f"out_dir={tmp_path / name}"]))
        targets = run.config.model.targets
        scores = {f"valid/sdr_{t}": i + j / 10 for j, t in enumerate(targets)}
        fake_log(tmp_path / name, [{**scores, "valid/sdr": sum(scores.values()) / len(scores)}])
        run.scores = read_scores(run.config.out_dir)
        runs.append(run)
    text = tables(runs)
    size, layers, attention, every = text.split("\n\n")[2:9:2]
    assert size.splitlines()[2:] == ["| t | 64 | 8 | 1.00 |", "| t+tf | 64 | 8 | 0.00 |", "| t+tf | 64 | 10 | 2.00 |"]
    assert layers.splitlines()[2:] == ["| lstm | lstm | 0.00 |", "| gru | lstm | 3.00 |"]
    assert attention.splitlines()[2:] == ["| 0 | - | 0.00 |", "| 1 | 10 | 4.00 |"]
    assert "| multi-target | " in every and every.splitlines()[-1].endswith("| 6.00 | 6.10 | 6.20 | 6.30 | 6.15 |")
    assert all(f"| {name} |" in every for name in names)


def test_runner_writes_the_table_without_training(tmp_path):
    out = tmp_path / "results.md"
    code = main([str(CONFIGS / "seed" / "loss-tf.yaml"), "--table", str(out), "--no-train",
                 "--set", f"out_dir={tmp_path / 'run'}"])
    assert code == 0
    assert "| tf | 64 | 8 |  |" in out.read_text()  # not trained yet: an empty cell, as in the seed's README


def test_overlay_and_scale_make_the_reduced_runs(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("data:\n  kind: synthetic\n  root: null\n  valid_tracks: null\n  segment_seconds: 1.0\n"
                       "optim:\n  epochs: 2\n")
    big = run_overrides(CONFIGS / "seed" / "size-128x8.yaml", [overlay], 0.25, 0.5, str(tmp_path / "runs"), [])
    config = load_config(CONFIGS / "seed" / "size-128x8.yaml", big, [overlay])
    assert (config.model.feature_dim, config.model.num_repeat) == (32, 4)
    assert config.data.segment_seconds == 1.0 and config.optim.epochs == 2
    assert Path(config.out_dir) == tmp_path / "runs" / "seed" / "size-128x8"
    # feature_dim stays a multiple of the attention heads; the user's --set comes last and wins
    odd = run_overrides(CONFIGS / "seed" / "attention-2h-e4.yaml", [], 0.3, 1.0, None, ["optim.epochs=7"])
    config = load_config(CONFIGS / "seed" / "attention-2h-e4.yaml", odd)
    assert config.model.feature_dim == 20 and config.model.feature_dim % config.model.n_heads == 0
    assert config.optim.epochs == 7


def test_overlay_must_be_a_mapping_without_base(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: base.yaml\n")
    with pytest.raises(ValueError, match="cannot have a 'base:'"):
        load_config(CONFIGS / "seed" / "baseline.yaml", overlays=[bad])
    bad.write_text("- 1\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        load_config(CONFIGS / "seed" / "baseline.yaml", overlays=[bad])


def test_scaled_tables_compare_with_the_scaled_baseline(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("data: {kind: synthetic, root: null, valid_tracks: null}\n")
    runs = []
    for i, name in enumerate(["seed/baseline", "seed/size-128x8", "seed/layers-conv-lstm"]):
        path = CONFIGS / f"{name}.yaml"
        run = Run(path, load_config(path, run_overrides(path, [overlay], 0.25, 0.5, str(tmp_path), []), [overlay]))
        fake_log(Path(run.config.out_dir), [{"valid/sdr": float(i), "valid/sdr_vocals": float(i)}])
        run.scores = read_scores(run.config.out_dir)
        runs.append(run)
    text = tables(runs, 0.25, 0.5)
    assert "the seed's 64x8 baseline is 16x4 here" in text and "Data: songs rendered by render/" in text
    size, layers = text.split("\n\n")[2:5:2]
    assert size.splitlines()[2:] == ["| t+tf | 16 | 4 | 0.00 |", "| t+tf | 32 | 4 | 1.00 |"]
    assert layers.splitlines()[2:] == ["| lstm | lstm | 0.00 |", "| conv | lstm | 2.00 |"]
    # unscaled tables do not take the scaled runs for the seed's baseline
    assert tables(runs).split("\n\n")[4].splitlines()[2:] == []
