"""The trainer: config system, data splitting, learning, mid-epoch resume, DDP on CPU, export, EMA.

The training runs use a tiny model at 16 kHz on the generated synthetic set (cached under ``.cache/``).
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from models import BSRNNConfig, build_model, load_model, save_model
from train.__main__ import build_trainer, last_checkpoint, run
from train.config import ExperimentConfig, default_name, load_config, save_config
from train.experiments import latest_per_step
from train.export import export
from train.export import main as export_main
from train.loader import RankBatches, ResumableLoader
from train.module import SeparationModule

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "train" / "configs" / "tiny-synthetic.yaml"
FAST = ["model.sample_rate=16000", "model.n_fft=1024", "model.hop_length=256", "data.synthetic_tracks=4",
        "data.synthetic_valid_tracks=1", "data.synthetic_duration=4", "trainer.progress_bar=false",
        "trainer.sanity_val_tracks=0", "trainer.log_every_steps=1", "validation.audio_seconds=1"]


def tiny(out_dir: Path, *overrides: str) -> ExperimentConfig:
    return load_config(TINY, [*FAST, f"out_dir={out_dir}", *overrides])


def logged(out_dir: Path, tag: str) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(Path(out_dir) / "logs"), size_guidance={"scalars": 0})
    events.Reload()
    return latest_per_step(events.Scalars(tag))


def weights(checkpoint: Path, key: str = "state_dict") -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)[key]


# config -----------------------------------------------------------------------------------------------------------

def test_config_base_chain_and_overrides(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "parent.yaml").write_text(
        "model: {feature_dim: 32, num_repeat: 2}\noptim: {lr: 1e-3, batch_size: 3}\n")
    (tmp_path / "configs" / "child.yaml").write_text("base: parent.yaml\nmodel: {num_repeat: 4}\n")
    config = load_config(tmp_path / "configs" / "child.yaml",
                         ["optim.lr=5e-4", "model.time_layer=gru", "trainer.ema_decay=0.99", "data.kind=synthetic"])
    assert config.name == "child" and config.out_dir == str(Path("runs") / "child")
    assert (config.model.feature_dim, config.model.num_repeat, config.model.time_layer) == (32, 4, "gru")
    assert config.optim.lr == 5e-4 and isinstance(config.optim.lr, float) and config.optim.batch_size == 3
    assert config.trainer.ema_decay == 0.99
    assert ExperimentConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("override,message", [
    ("optim.lrr=1", "optim.lrr: Key 'lrr' not in 'OptimConfig'"),
    ("model.hidden=3", "model.hidden: Key 'hidden' not in 'BSRNNConfig'"),
    ("optim.lr=fast", "optim.lr: Value 'fast' of type 'str' could not be converted to Float"),
    ("model.feature_dim=1.5", "model.feature_dim: Value '1.5' of type 'float' could not be converted to Integer"),
    ("trainer.precision=64", "trainer.precision"),
    ("optim.lr.value=1", "optim.lr: Value"),
    ("lr", "expected key=value"),
    ("optim.lr=[", r"override 'optim.lr=\[': the value '\[' is not valid YAML"),
    ("optim.lr=nan", "optim.lr: expected a finite number"),
    ("optim.lr=.inf", "optim.lr: expected a finite number"),
    ("optim.max_steps=0", "optim.max_steps: expected a positive integer or null"),
    ("optim.decay=0", r"optim.decay: expected a number in \(0, 1\]"),
    ("optim.decay=1.5", r"optim.decay: expected a number in \(0, 1\]"),
    ("optim.plateau_factor=1", r"optim.plateau_factor: expected a number in \(0, 1\)"),
    ("optim.plateau_factor=0", r"optim.plateau_factor: expected a number in \(0, 1\)"),
    ("optim.clip=0", "optim.clip: expected a positive gradient norm or null"),
    ("validation.hop=0", r"validation.hop: expected a number of seconds in \(0, window"),
    ("validation.hop=4", r"validation.hop: expected a number of seconds in \(0, window = 1.0\]"),  # tiny: 1 s
    ("validation.window=0", "validation.window: expected a positive number"),
    ("validation.batch=0", "validation.batch: expected a positive integer"),
    ("validation.every_epochs=0", "validation.every_epochs: expected a positive integer"),
    ("validation.audio_seconds=-1", "validation.audio_seconds: expected a number of seconds >= 0"),
    ("loss.freq_weight=-1", "loss.freq_weight: expected a number >= 0"),
])
def test_config_errors_name_the_key(override, message):
    with pytest.raises(ValueError, match=message):
        load_config(TINY, [override])


def test_an_empty_section_keeps_the_base_and_takes_overrides(tmp_path):
    (tmp_path / "parent.yaml").write_text("model: {feature_dim: 32, num_repeat: 2}\n")
    (tmp_path / "child.yaml").write_text("base: parent.yaml\nmodel:\n  # feature_dim: 64\n")
    config = load_config(tmp_path / "child.yaml")
    assert (config.model.feature_dim, config.model.num_repeat) == (32, 2)
    config = load_config(tmp_path / "child.yaml", ["model.num_repeat=3"])
    assert (config.model.feature_dim, config.model.num_repeat) == (32, 3)
    (tmp_path / "alone.yaml").write_text("optim:\n")  # no base: the section's defaults
    assert load_config(tmp_path / "alone.yaml", ["optim.lr=2e-3"]).optim.lr == 2e-3
    (tmp_path / "scalar.yaml").write_text("optim: 5\n")
    with pytest.raises(ValueError, match="scalar.yaml: Merge error: int is not a subclass of OptimConfig"):
        load_config(tmp_path / "scalar.yaml", ["optim.lr=1"])


@pytest.mark.parametrize("text", ["model:\n  feature_dim: [1,\n", "model: {a: 1\n", "\tmodel: 1\n"])
def test_a_config_file_that_is_not_yaml_is_named(tmp_path, text):
    (tmp_path / "broken.yaml").write_text(text)
    with pytest.raises(ValueError, match=r"broken.yaml: not valid YAML \(.* line \d+, column \d+\)"):
        load_config(tmp_path / "broken.yaml")
    (tmp_path / "child.yaml").write_text("base: broken.yaml\n")  # found through a base: chain too
    with pytest.raises(ValueError, match="broken.yaml: not valid YAML"):
        load_config(tmp_path / "child.yaml")


def test_default_names(tmp_path):
    assert default_name(tmp_path / "configs" / "seed" / "loss-t.yaml") == "seed/loss-t"
    assert default_name(tmp_path / "configs" / "a" / "configs" / "b.yaml") == "b"  # the nearest configs folder
    assert default_name(tmp_path / "configs.yaml") == "configs"  # a file, not a folder, named configs
    assert default_name(tmp_path / "mine" / "run.yaml") == "run"


def test_saved_config_loads_back_with_the_permissions_open_gives(tmp_path):
    config = load_config(TINY, ["optim.lr=2e-3", "optim.clip=null", f"out_dir={tmp_path / 'run'}"])
    path = save_config(config, tmp_path / "run" / "config.yaml")
    assert load_config(path) == config
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]


def test_precision_given_as_a_number_on_the_command_line_is_accepted():
    assert load_config(TINY, ["trainer.precision=32"]).trainer.precision == "32"


def test_every_shipped_config_loads():
    names = set()
    experiments = [p for p in sorted((REPO / "train" / "configs").rglob("*.yaml")) if p.parent.name != "overlays"]
    for path in experiments:
        config = load_config(path)
        names.add(config.out_dir)
    assert len(names) == len(experiments)  # no two runs share a folder
    for overlay in sorted((REPO / "train" / "configs" / "overlays").glob("*.yaml")):  # each applies to every one
        for path in experiments:
            load_config(path, overlays=[overlay])


# data splitting and resumable loading -----------------------------------------------------------------------------

class Numbers:
    """A stand-in training set: item i of epoch e is the pair (e, i) as tensors."""

    epoch = 0

    def __len__(self) -> int:
        return 40

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tensor([self.epoch]), torch.tensor([i])


def test_ranks_split_a_single_process_batch():
    single = list(RankBatches(40, 4))
    ranks = [list(RankBatches(40, 2, rank, 2)) for rank in range(2)]
    for step, batch in enumerate(single):
        assert sorted(ranks[0][step] + ranks[1][step]) == batch
    assert len(RankBatches(41, 4, 1, 2)) == len(RankBatches(41, 4, 0, 2)) == 5
    with pytest.raises(ValueError, match="samples_per_epoch"):
        RankBatches(3, 4)


def test_loader_resumes_mid_epoch_with_its_epoch():
    loader = ResumableLoader(Numbers(), RankBatches(40, 4))
    loader.batches.set_epoch(3)
    seen = []
    for k, (_, indices) in enumerate(loader):
        seen.append(indices.flatten().tolist())
        if k == 2:
            break
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    state = loader.state_dict()
    assert state == {"epoch": 3, "served": 3}
    fresh = ResumableLoader(Numbers(), RankBatches(40, 4))
    fresh.load_state_dict(state)
    rest = [(e.flatten().tolist(), i.flatten().tolist()) for e, i in fresh]
    assert rest[0] == ([3, 3, 3, 3], [12, 13, 14, 15]) and len(rest) == 10 - 3
    assert len([0 for _ in fresh]) == 10  # the next epoch is whole again


# learning ---------------------------------------------------------------------------------------------------------

def test_tiny_model_learns(tmp_path):
    # 8 songs: with renderer version 3's 4 songs the one 4-s validation song went from -0.06 to -0.10 dB
    config = tiny(tmp_path, "optim.lr=4e-3", "data.samples_per_epoch=200", "optim.epochs=2", "data.segment_seconds=0.5",
                  "data.synthetic_tracks=8")
    pl.seed_everything(config.seed, verbose=False)
    module = SeparationModule(config)
    trainer = build_trainer(config)
    before = trainer.validate(module, verbose=False)[0]["valid/sdr"]
    trainer.fit(module)
    after = float(trainer.callback_metrics["valid/sdr"])
    assert trainer.global_step == 100
    # rendered songs are harder than the former wavetable songs: +0.5 dB measured (an untrained model: +0.0)
    assert after > before + 0.3, f"validation global SDR {before:.2f} -> {after:.2f} dB after 100 steps"
    result = yaml.safe_load((tmp_path / "result.yaml").read_text())
    assert result["best_valid_sdr"] == pytest.approx(max(logged(tmp_path, "valid/sdr").values()))


# resume -----------------------------------------------------------------------------------------------------------

class Crash(pl.Callback):
    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at_step:
            raise RuntimeError(f"simulated crash at step {self.at_step}")


RESUME = ["data.samples_per_epoch=32", "optim.epochs=2", "trainer.checkpoint_every_steps=5"]  # 8 steps per epoch


@pytest.fixture(scope="module")
def resumed_runs(tmp_path_factory):
    """An uninterrupted run and one that crashes at step 13 (epoch 1, batch 5), then resumes from step 10."""
    whole, crashed = tmp_path_factory.mktemp("whole"), tmp_path_factory.mktemp("crashed")
    run(tiny(whole, *RESUME))
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(tiny(crashed, *RESUME), callbacks=[Crash(13)])
    assert torch.load(last_checkpoint(crashed), weights_only=True)["global_step"] == 10
    trainer = run(tiny(crashed, *RESUME))
    return whole, crashed, trainer


def test_resume_mid_epoch_repeats_the_uninterrupted_run(resumed_runs):
    whole, crashed, trainer = resumed_runs
    assert trainer.global_step == 16
    expected, resumed = logged(whole, "train/loss_step"), logged(crashed, "train/loss_step")
    assert sorted(resumed) == sorted(expected) == list(range(16))
    # last.ckpt holds the final state even when the last validation was not a new best (here 0.13 -> 0.06 dB)
    for run_dir in (whole, crashed):
        assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 16
    for step in expected:
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5), f"step {step}"
    for name, value in weights(whole / "checkpoints" / "last.ckpt").items():
        assert torch.allclose(weights(crashed / "checkpoints" / "last.ckpt")[name], value, atol=1e-6), name
    assert logged(crashed, "valid/sdr") == pytest.approx(logged(whole, "valid/sdr"), rel=1e-5)


# export and EMA ---------------------------------------------------------------------------------------------------

def test_export_gives_the_submission_weight_file(resumed_runs, tmp_path):
    whole, _, _ = resumed_runs
    out = export(whole, tmp_path / "model.safetensors")  # the run folder: its best checkpoint
    model = load_model(out)
    best = next((whole / "checkpoints").glob("best-*.ckpt"))
    for name, value in weights(best).items():
        assert torch.equal(model.state_dict()[name.removeprefix("model.")], value)
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    result = subprocess.run([sys.executable, "-m", "train.export", str(tmp_path / "notes.ckpt"),
                             str(tmp_path / "x.safetensors")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0 and "x.safetensors" not in result.stderr and "is not a" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no usage text
    assert not (tmp_path / "x.safetensors").exists()
    half = load_model(export(whole, tmp_path / "half.safetensors", dtype="fp16"))
    for name, value in model.state_dict().items():
        torch.testing.assert_close(half.state_dict()[name], value.half().float())


def test_export_of_several_sources_writes_their_weight_average(resumed_runs, tmp_path, capsys):
    whole, _, _ = resumed_runs
    best = load_model(export(whole, tmp_path / "best" / "model.safetensors"))
    other = build_model(best.config)  # a fresh init: far from the trained weights
    other_file = save_model(other, tmp_path / "other" / "model.safetensors")
    assert export_main([str(whole), str(other_file), str(tmp_path / "soup" / "model.safetensors")]) == 0
    assert "the average of" in capsys.readouterr().out
    soup = load_model(tmp_path / "soup" / "model.safetensors")
    for name, value in soup.state_dict().items():
        torch.testing.assert_close(value, (best.state_dict()[name] + other.state_dict()[name]) / 2)
    deeper = save_model(build_model(dataclasses.replace(best.config, num_repeat=best.config.num_repeat + 1)),
                        tmp_path / "deeper" / "model.safetensors")
    out = tmp_path / "mismatch" / "model.safetensors"
    with pytest.raises(ValueError, match=f"cannot average {deeper} with {other_file}: their model configs differ"):
        export_main([str(other_file), str(deeper), str(out)])
    assert not out.exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_export_offers_to_replace_a_file_for_the_same_target(resumed_runs, tmp_path, monkeypatch, capsys):
    whole, _, _ = resumed_runs
    folder = tmp_path / "weights"
    multi = save_model(build_model(BSRNNConfig(targets=["vocals", "drums"], feature_dim=8, num_repeat=1,
                                               band_scheme="vocals")),
                       folder / "multi.safetensors")
    keep = save_model(build_model(BSRNNConfig(targets=["bass"], feature_dim=8, num_repeat=1)),
                      folder / "bass.safetensors")
    before = multi.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt, nothing written
    assert export_main([str(whole), str(folder / "vocals.safetensors")]) == 1
    err = capsys.readouterr().err
    assert f"{multi} (vocals)" in err and "--replace" in err
    assert sorted(p.name for p in folder.iterdir()) == ["bass.safetensors", "multi.safetensors"]
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))  # a terminal: asked, answered no
    assert export_main([str(whole), str(folder / "vocals.safetensors")]) == 1
    assert multi.read_bytes() == before
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert export_main([str(whole), str(folder / "vocals.safetensors")]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["bass.safetensors", "vocals.safetensors"] and keep.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # the same file again: replaced only with --replace
    assert export_main([str(whole), str(folder / "vocals.safetensors")]) == 1
    assert export_main([str(whole), str(folder / "vocals.safetensors"), "--replace"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["bass.safetensors", "vocals.safetensors"]


def test_ema_plateau_and_scaled_lr(tmp_path):
    """EMA weights are what the checkpoint stores and export writes; the plateau schedule runs; lr x batch / 16."""
    run(tiny(tmp_path, "data.samples_per_epoch=8", "optim.batch_size=2", "optim.epochs=1", "trainer.ema_decay=0.5",
             "optim.scheduler=plateau"))
    rates = list(logged(tmp_path, "lr-Adam").values())
    assert rates and rates == pytest.approx([1e-3 * 2 / 4] * len(rates))  # tiny-synthetic has reference_batch 4
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    averaged, current = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert any(not torch.equal(averaged[k], current[k]) for k in averaged)
    model = load_model(export(tmp_path / "checkpoints" / "last.ckpt", tmp_path / "ema.safetensors"))
    for name, value in averaged.items():
        assert torch.equal(model.state_dict()[name.removeprefix("model.")], value)


# distributed ------------------------------------------------------------------------------------------------------

def cli(out_dir: Path, *overrides: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "train", "--config", str(TINY), *FAST, f"out_dir={out_dir}",
                           "data.samples_per_epoch=32", "optim.epochs=1", *overrides],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_processes_agree_with_one(tmp_path):
    """DDP on CPU (gloo): 2 processes x batch 2 train like 1 process x batch 4 (same items, same global batch)."""
    cli(tmp_path / "single", "optim.batch_size=4", "trainer.devices=1")
    cli(tmp_path / "ddp", "optim.batch_size=2", "trainer.devices=2", "trainer.strategy=ddp")
    single, ddp = logged(tmp_path / "single", "train/loss_step"), logged(tmp_path / "ddp", "train/loss_step")
    assert sorted(single) == sorted(ddp) == list(range(8))
    for step in single:
        assert ddp[step] == pytest.approx(single[step], rel=1e-4), f"step {step}"
    one, two = (weights(tmp_path / name / "checkpoints" / "last.ckpt") for name in ("single", "ddp"))
    for name, value in one.items():
        # Adam's first steps move a weight by about lr whatever the gradient's size, so where a gradient is nearly
        # zero (a silent stem in the rendered excerpts) a rounding difference between the two reductions can flip
        # an update: compare within one step of lr (1e-3); the losses above agree to 1e-4
        assert torch.allclose(two[name], value, rtol=1e-3, atol=2e-3), name
    assert logged(tmp_path / "ddp", "valid/sdr") == pytest.approx(logged(tmp_path / "single", "valid/sdr"), abs=1e-3)


# interrupting, data checks, the end of training ---------------------------------------------------------------------

class Signal(pl.Callback):
    def __init__(self, at_step: int, signum: int):
        self.at_step, self.signum = at_step, signum

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at_step:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_saves_a_checkpoint_then_stops(tmp_path, signum):
    handler = signal.getsignal(signum)
    trainer = run(tiny(tmp_path, *RESUME), callbacks=[Signal(3, signum)])
    assert trainer.global_step == 4  # the running step finished, then training stopped
    assert torch.load(last_checkpoint(tmp_path), weights_only=True)["global_step"] == 4
    assert signal.getsignal(signum) is handler  # the handlers are put back
    assert run(tiny(tmp_path, *RESUME)).global_step == 16  # the same command resumes and finishes


def test_the_processes_of_a_multi_gpu_run_save_and_stop_at_the_same_step(tmp_path):
    """Saving is collective: a process whose own clock or signal says 'not yet' follows the one that is due."""
    from types import SimpleNamespace

    from train.__main__ import SaveOnStop, StopRequested

    class OtherProcess:  # the reduction over this process and another one, which wants (signal, due) = other
        root_device = torch.device("cpu")

        def __init__(self, other):
            self.other = torch.tensor(other)

        def reduce(self, tensor, reduce_op):
            assert reduce_op == "max"
            return torch.maximum(tensor, self.other)

    saved = []
    trainer = SimpleNamespace(received_sigterm=False, world_size=2, is_global_zero=False, global_step=7,
                              save_checkpoint=saved.append, strategy=OtherProcess([0, 1]))
    callback = SaveOnStop(tmp_path / "last.ckpt", minutes=30)
    callback.last_save = time.monotonic()  # not due here, but the other process is
    callback.on_train_batch_end(trainer)
    assert saved == [tmp_path / "last.ckpt"] and callback.stop_signal is None
    trainer.strategy = OtherProcess([int(signal.SIGINT), 0])  # the other process got Ctrl-C
    with pytest.raises(StopRequested):
        callback.on_train_batch_end(trainer)
    assert callback.stop_signal == signal.SIGINT and len(saved) == 2
    callback = SaveOnStop(tmp_path / "last.ckpt", minutes=30)
    callback.last_save = time.monotonic()
    trainer.strategy = OtherProcess([int(signal.SIGTERM), 0])  # SIGTERM reached the other process only
    with pytest.raises(StopRequested):
        callback.on_train_batch_end(trainer)
    assert callback.stop_signal == signal.SIGTERM and len(saved) == 3

    class LateSignal(OtherProcess):  # a signal lands here while the reduction runs: the others did not see it
        def reduce(self, tensor, reduce_op):
            callback._note(signal.SIGTERM, None)
            return super().reduce(tensor, reduce_op)

    callback = SaveOnStop(tmp_path / "last.ckpt", minutes=30)
    callback.last_save = time.monotonic()
    trainer.strategy = LateSignal([0, 0])
    callback.on_train_batch_end(trainer)  # this step follows the reduced values: no save, no stop
    assert len(saved) == 3
    trainer.strategy = OtherProcess([0, 0])
    with pytest.raises(StopRequested):  # the next step carries it to every process
        callback.on_train_batch_end(trainer)
    assert callback.stop_signal == signal.SIGTERM and len(saved) == 4


def test_ctrl_c_on_the_command_saves_once_and_ends_by_sigint(tmp_path):
    """Ctrl-C reaches the whole process group, DataLoader workers included: one notice, last.ckpt saved, and the
    command dies by SIGINT, so that a shell loop over targets stops instead of training the next one."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "train", "--config", str(TINY), *FAST, f"out_dir={out}",
                                "data.num_workers=1", "trainer.checkpoint_every_steps=1", "optim.epochs=50"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while last_checkpoint(out) is None and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the first step's checkpoint: training runs, the worker is forked
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGINT, stderr[-3000:]
    assert stderr.count("SIGINT: saving a checkpoint") == 1, stderr[-3000:]
    assert "run the same command to resume" in stdout
    assert torch.load(last_checkpoint(out), weights_only=True)["global_step"] >= 1


def test_a_missing_data_root_is_named_before_anything_is_created(tmp_path, capsys):
    from train.__main__ import main

    out = tmp_path / "run"
    argv = ["--config", str(TINY), f"out_dir={out}", "data.kind=musdb18hq", f"data.root={tmp_path / 'nowhere'}"]
    with pytest.raises(ValueError, match=r"data.root=.*nowhere: .*nowhere/train is not a folder"):
        main(argv)
    assert not out.exists()
    done = subprocess.run([sys.executable, "-m", "train", *argv], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1 and "data.root=" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("kind, folder, valid, expected", [
    ("sdx23", "sdx", None, r"data.valid_tracks: the SDX23 sets have no official validation split"),
    ("sdx23", "sdx", "[nope]", r"validation track\(s\) not found in sdx23 set .*sdx: 'nope'"),
    ("sdx23", "sdx", "[a,b]", r"every track of sdx23 set .*sdx is a validation track"),
    ("musdb18hq", "musdb", "official", r"validation track\(s\) not found in musdb18hq set .*'Actions - One Minute"),
    ("musdb18hq", "sdx", "official", r"sdx/train is not a folder .*for the SDX23 sets, data.kind=sdx23"),
])
def test_a_validation_split_that_does_not_fit_the_data_is_named_before_anything_is_created(
        tmp_path, kind, folder, valid, expected):
    from train.__main__ import main

    for name in ("a", "b"):  # empty track folders: the split is checked on the names alone
        (tmp_path / "sdx" / name).mkdir(parents=True)
        (tmp_path / "musdb" / "train" / name).mkdir(parents=True)
    out = tmp_path / "run"
    argv = ["--config", str(TINY), f"out_dir={out}", f"data.kind={kind}", f"data.root={tmp_path / folder}",
            *([f"data.valid_tracks={valid}"] if valid else [])]
    with pytest.raises(ValueError, match=expected):
        main(argv)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_gpu_accelerator_without_a_gpu_is_named_before_anything_is_created(tmp_path):
    from train.__main__ import main

    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"trainer.accelerator=gpu trainer.devices=1: torch sees 0 CUDA device"):
        main(["--config", str(TINY), *FAST, f"out_dir={out}", "trainer.accelerator=gpu"])
    with pytest.raises(ValueError, match=r"trainer.devices=-1: torch sees 0 CUDA device"):  # -1: all of them
        main(["--config", str(TINY), *FAST, f"out_dir={out}", "trainer.accelerator=gpu", "trainer.devices=-1"])
    assert not out.exists()


@pytest.mark.parametrize("argv,expected", [
    (["--config", "nowhere.yaml"], "python -m train: config file .*nowhere.yaml does not exist"),
    (["--config", str(TINY), "optim.batch_size=abc"], r"python -m train: .*tiny-synthetic.yaml: optim.batch_size: "),
    (["--config", str(TINY), "model.nonsense=3"], r"python -m train: .*: model.nonsense: Key 'nonsense' not in"),
])
def test_a_config_mistake_is_one_line_without_usage_or_traceback(argv, expected):
    done = subprocess.run([sys.executable, "-m", "train", *argv], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert re.match(expected, done.stderr.strip()), done.stderr


def test_keeping_freed_memory_in_training_is_opt_in(tmp_path, monkeypatch):
    import train.__main__ as cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True))

    class Built(Exception):
        pass

    def module(*args, **kwargs):
        raise Built  # stop where training would start: the setting is applied before the model is built

    monkeypatch.setattr(cli, "SeparationModule", module)
    with pytest.raises(Built):
        cli.run(tiny(tmp_path / "a"))
    assert calls == []
    with pytest.raises(Built):
        cli.run(tiny(tmp_path / "b", "trainer.keep_freed_memory=true"))
    assert calls == [True]


def test_lightnings_warnings_about_what_the_kit_does_on_purpose_are_left_out():
    import warnings

    from train.__main__ import quiet_lightning

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        quiet_lightning()
        warnings.warn("Checkpoint directory /runs/x/checkpoints exists and is not empty.", UserWarning, stacklevel=1)
        warnings.warn("The number of training batches (20) is smaller than the logging interval "
                      "Trainer(log_every_n_steps=50). Set a lower value", UserWarning, stacklevel=1)
        warnings.warn("It is recommended to use `self.log('valid/sdr', ..., sync_dist=True)` when logging on epoch "
                      "level in distributed setting", UserWarning, stacklevel=1)  # already reduced by the module
        warnings.warn("It is recommended to use `self.log('train/x', ..., sync_dist=True)`", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["It is recommended to use `self.log('train/x', ..., sync_dist=True)`",
                                               "something else"]


def test_no_lightning_model_summary_table(tmp_path):
    from lightning.pytorch.callbacks import ModelSummary

    from train.__main__ import build_trainer

    trainer = build_trainer(tiny(tmp_path))  # its table ends in "Total FLOPs: 0" (issue 11)
    assert not any(isinstance(c, ModelSummary) for c in trainer.callbacks)


def test_final_lines_name_the_best_checkpoint_and_the_export_command(resumed_runs):
    from train.__main__ import final_lines

    whole, _, _ = resumed_runs
    lines = final_lines(whole, ["vocals"])
    assert "best checkpoint: " in lines and "validation global SDR" in lines
    assert f"python -m train.export {whole} {whole / 'weights' / 'vocals.safetensors'} && " \
           f"python evaluate_locally.py --weights {whole / 'weights'}" in lines
    assert f"python -m train.export {whole} my_submission/weights/vocals.safetensors" in lines
    assert f"my_submission/weights/{whole.name}.safetensors" in final_lines(whole, ["vocals", "bass"])
    assert f"python evaluate_locally.py --data data/musdb18hq/test --weights {whole / 'weights'}" \
           in final_lines(whole, ["vocals"], Path("data/musdb18hq/test"))


def test_the_musdb18hq_test_set_is_suggested_when_it_is_there(tmp_path):
    from train.__main__ import musdb_test_set

    (tmp_path / "train").mkdir()
    config = tiny(tmp_path / "run", "data.kind=musdb18hq", f"data.root={tmp_path}")
    assert musdb_test_set(config) is None
    (tmp_path / "test").mkdir()
    assert musdb_test_set(config) == tmp_path / "test"
    assert musdb_test_set(tiny(tmp_path / "run")) is None  # the synthetic set: the evaluator's default data


def test_max_minutes_counts_this_commands_time_not_the_resumed_runs(tmp_path, capsys):
    """A resumed run gets ``trainer.max_minutes`` again: resuming a run that took longer trains on."""
    from train.__main__ import main

    argv = ["--config", str(TINY), *FAST, f"out_dir={tmp_path}", "data.samples_per_epoch=64",
            "trainer.max_minutes=0.0001"]
    main(argv)
    first = torch.load(last_checkpoint(tmp_path), weights_only=True)["global_step"]
    assert "reached trainer.max_minutes=0.0001; run the same command" in capsys.readouterr().out
    main(argv)
    assert torch.load(last_checkpoint(tmp_path), weights_only=True)["global_step"] > first
    assert "reached trainer.max_minutes=0.0001" in capsys.readouterr().out


def test_init_weights_start_a_fresh_run_but_not_a_resumed_one(tmp_path):
    """``trainer.init_weights``: a fresh run starts from the file's weights; another config is refused."""
    source = build_model(tiny(tmp_path / "a").model)
    with torch.no_grad():
        for p in source.parameters():
            p.fill_(0.01)
    weights = save_model(source, tmp_path / "start.safetensors")
    seen = []

    class FirstStep(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            seen.append({k: v.clone() for k, v in pl_module.model.state_dict().items()})

    run(tiny(tmp_path / "b", "optim.max_steps=1", f"trainer.init_weights={weights}"), callbacks=[FirstStep()])
    assert all(torch.equal(seen[0][k], v) for k, v in source.state_dict().items())
    with pytest.raises(ValueError, match="another config"):
        run(tiny(tmp_path / "c", "model.feature_dim=12", f"trainer.init_weights={weights}"))
