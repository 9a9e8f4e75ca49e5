"""Faults: training and evaluation killed (SIGKILL) at chosen moments, then rerun with the same command, end where
an uninterrupted run ends; a run folder is trained by one process at a time; max_steps inside an epoch."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from models.atomic import TEMP_MARK
from tests.test_trainer import FAST, TINY, logged, tiny
from train.__main__ import run
from train.loader import RankBatches, ResumableLoader
from train.run_lock import RunFolderLocked, RunLock

REPO = Path(__file__).resolve().parents[1]
BOUNDARY = ["data.samples_per_epoch=16", "trainer.checkpoint_every_steps=4", "validation.audio_seconds=0"]  # 4 steps


class Numbers:
    def __len__(self) -> int:
        return 40

    def __getitem__(self, index: int):
        return index

    def set_epoch(self, epoch: int) -> None:
        pass


def test_loader_saved_on_the_last_step_of_an_epoch_resumes_at_the_next_epoch():
    loader = ResumableLoader(Numbers(), RankBatches(40, 4))
    loader.batches.set_epoch(2)
    assert len(list(loader)) == 10 and loader.state_dict() == {"epoch": 2, "served": 10}
    fresh = ResumableLoader(Numbers(), RankBatches(40, 4))
    fresh.load_state_dict(loader.state_dict())
    assert fresh.batches.epoch == 3 and len(list(fresh)) == 10  # epoch 3, whole; not epoch 2 again


def test_a_second_run_into_the_same_folder_is_refused_naming_the_holder(tmp_path):
    holder = RunLock(tmp_path)
    holder.acquire()
    with pytest.raises(RunFolderLocked, match=rf"run folder {tmp_path} is in use by pid {os.getpid()} on host .*"
                                              "started 20"):
        run(tiny(tmp_path, "data.samples_per_epoch=8", "optim.epochs=1"))
    assert not (tmp_path / "checkpoints").exists()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "train", "--config", str(TINY), f"out_dir={tmp_path}"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and f"is in use by pid {os.getpid()}" in done.stderr
    assert "Traceback" not in done.stderr
    holder.release()


def test_max_steps_inside_an_epoch_validates_and_records(tmp_path):
    (tmp_path / "checkpoints").mkdir(parents=True)
    stale = tmp_path / f".result{TEMP_MARK}999999999-abcd1234.yaml"  # a leftover of a killed write (no such pid)
    stale.write_text("half")
    trainer = run(tiny(tmp_path, "data.samples_per_epoch=32", "optim.max_steps=3"))  # 8 steps per epoch
    assert trainer.global_step == 3
    result = yaml.safe_load((tmp_path / "result.yaml").read_text())
    assert result["steps"] == 3 and result["best_valid_sdr"] is not None and not result["early_stopped"]
    assert Path(result["best_checkpoint"]).is_file() and (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert not stale.exists()


# kills ------------------------------------------------------------------------------------------------------------

DRIVER = """
import os, signal, sys
import lightning.pytorch as pl
from train.__main__ import run
from train.config import load_config

class Kill(pl.Callback):
    # SIGKILL this process at a moment: ("step", n) before step n, ("valid", n) inside the validation after step n,
    # ("best", n) right after the checkpoints written by the validation after step n
    def __init__(self, moment, at):
        self.moment, self.at = moment, at
    def _die(self):
        os.kill(os.getpid(), signal.SIGKILL)
    def on_train_batch_start(self, trainer, module, batch, index):
        if self.moment == "step" and trainer.global_step == self.at:
            self._die()
    def on_validation_batch_start(self, trainer, module, batch, index, dataloader_idx=0):
        if self.moment == "valid" and trainer.global_step == self.at and not trainer.sanity_checking:
            self._die()
    def on_validation_end(self, trainer, module):
        pass
    def on_train_epoch_end(self, trainer, module):  # after the checkpoints of the epoch's validation
        if self.moment == "best" and trainer.global_step == self.at:
            self._die()

moment, at, config, overrides = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
run(load_config(config, overrides), callbacks=[Kill(moment, at)] if moment != "none" else [])
"""


def _train(out_dir: Path, moment: str = "none", at: int = 0, *overrides: str) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", DRIVER, moment, str(at), str(TINY), *FAST, f"out_dir={out_dir}",
                           *BOUNDARY, *overrides], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, -9), done.stderr[-3000:]
    return done.returncode


def _best_files(out_dir: Path) -> list[str]:
    return sorted(p.name for p in (out_dir / "checkpoints").glob("best-*.ckpt"))


@pytest.mark.slow
def test_training_killed_anywhere_then_rerun_ends_like_an_uninterrupted_run(tmp_path):
    """4 steps per epoch, last.ckpt every 4 steps (on each epoch's last step) and after each validation."""
    epochs = ["optim.epochs=4"]
    whole = tmp_path / "whole"
    assert _train(whole, "none", 0, *epochs) == 0
    rng = random.Random(0)
    killed = tmp_path / "killed"
    assert _train(killed, "step", rng.randrange(1, 4), *epochs) == -9  # before the first checkpoint
    assert _train(killed, "none", 0, "optim.epochs=1") == 0  # a finished shorter run, then continued
    # each kill is at a moment the previous rerun reaches: the checkpoint of step 8 comes before its validation
    kills = [("valid", 8), ("best", 8), ("step", rng.randrange(9, 12)), ("best", 12), ("step", 14)]
    for moment, at in kills:
        assert _train(killed, moment, at, *epochs) == -9, (moment, at)
    assert _train(killed, "none", 0, *epochs) == 0
    expected, resumed = logged(whole, "train/loss_step"), logged(killed, "train/loss_step")
    assert sorted(resumed) == sorted(expected) == list(range(16))
    for step in expected:
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5), f"step {step}"
    assert logged(killed, "valid/sdr") == pytest.approx(logged(whole, "valid/sdr"), rel=1e-5)
    result, reference = (yaml.safe_load((d / "result.yaml").read_text()) for d in (killed, whole))
    assert result["best_valid_sdr"] == pytest.approx(reference["best_valid_sdr"], rel=1e-5)
    assert _best_files(killed) == _best_files(whole) and len(_best_files(whole)) == 1
    assert Path(result["best_checkpoint"]).name == _best_files(killed)[0]
    assert _train(killed, "none", 0, *epochs) == 0  # rerunning the finished run changes nothing
    assert yaml.safe_load((killed / "result.yaml").read_text()) == result
    assert _best_files(killed) == _best_files(whole)


EVALUATE = """
import os, signal, sys
import evaluator.harness as harness
import evaluate_locally

write = harness.write_text
def write_then_die(path, text):  # SIGKILL right after the first track's scores are written
    write(path, text)
    os.kill(os.getpid(), signal.SIGKILL)
if sys.argv[1] == "kill":
    harness.write_text = write_then_die
sys.exit(evaluate_locally.main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_evaluation_killed_then_rerun_ends_like_an_uninterrupted_run(tmp_path):
    from tests.conftest import write_noise_dataset

    data = tmp_path / "data"
    write_noise_dataset(data, n_tracks=3, seconds=1.0, seed=5)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def evaluate(mode: str, out: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", EVALUATE, mode, "--data", str(data), "--outputs", str(out),
                               "--model", "my_submission.identity_model.IdentityModel", "--metric", "global"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)

    assert evaluate("none", tmp_path / "whole").returncode == 0
    out = tmp_path / "killed"
    assert evaluate("kill", out).returncode == -9
    assert sorted(p.name for p in (out / "scores").iterdir()) == ["song-0000.json"]
    stale = out / "predictions" / "song-0001" / f".vocals{TEMP_MARK}999999999-abcd1234.wav"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("half")
    done = evaluate("none", out)
    assert done.returncode == 0 and "reused the stored scores and timings of 1 of 3 tracks" in done.stdout
    assert not stale.exists()
    for name in ("song-0000", "song-0001", "song-0002"):
        scores = [json.loads((d / "scores" / f"{name}.json").read_text())["global_sdr"]
                  for d in (out, tmp_path / "whole")]
        assert scores[0] == scores[1]
    assert (out / "scores.txt").read_text() == (tmp_path / "whole" / "scores.txt").read_text()
