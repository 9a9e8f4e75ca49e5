"""The experiment runner's tables, from run folders whose TensorBoard logs are written here."""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from train.config import load_config
from train.experiments import Run, main, read_scores, tables

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
