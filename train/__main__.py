"""Train a BSRNN: ``python -m train --config FILE [key=value ...]``.

Everything about the run is in the config (see ``train/config.py``); any field can be overridden on the
command line, e.g. ``optim.lr=5e-4 trainer.devices=2 model.feature_dim=64``. The run folder (``out_dir``)
receives ``config.yaml`` (the resolved config), ``checkpoints/`` (``last.ckpt`` and the best checkpoint on
``valid/sdr``), ``logs/`` (TensorBoard) and, when training ends, ``result.yaml``. Running the same command
again resumes from ``checkpoints/last.ckpt`` when it exists, and ends where an uninterrupted run would: a checkpoint
is also written after every validation (so it records the new best), and a run stopped by ``optim.max_steps``
inside an epoch validates first. One process at a time trains into a run folder (``train.run_lock``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    EMAWeightAveraging,
    LearningRateMonitor,
    ModelCheckpoint,
    Timer,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from models import BSRNN, load_model
from models.allocator import keep_freed_memory
from models.atomic import remove_stale_temporaries, write_text
from models.cli import add_debug_flag, run_main
from train import datasets
from train.config import ExperimentConfig, load_config, save_config
from train.loader import EpochDataset
from train.module import SeparationModule
from train.run_lock import RunFolderLocked, RunLock

MONITOR = "valid/sdr"


class StopRequested(Exception):
    """Ends fitting after :class:`SaveOnStop` saved ``last.ckpt`` on Ctrl-C (``run`` swallows it)."""


class SaveOnStop(Callback):
    """Saves ``last.ckpt`` every ``minutes`` of training, and when the process gets SIGINT (Ctrl-C) or SIGTERM:
    the signal is noted, the running step finishes, the checkpoint is written and training stops (a second
    Ctrl-C interrupts at once). Re-running the command resumes from it. ``stop_signal``: the signal that stopped
    training, if any."""

    def __init__(self, path: Path, minutes: float | None):
        self.path, self.seconds = path, None if minutes is None else 60.0 * minutes
        self.stop_signal: int | None = None
        self.previous: dict[int, Any] = {}
        self.pid = os.getpid()

    def _note(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:  # a DataLoader worker forked after fit start: the main process stops it
            return
        self.stop_signal = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once
        print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this step, then stopping "
              "(Ctrl-C again to stop at once)", file=sys.stderr)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.last_save = time.monotonic()
        self.pid = os.getpid()
        if threading.current_thread() is threading.main_thread():
            self.previous = {signal.SIGINT: signal.signal(signal.SIGINT, self._note)}

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.received_sigterm and self.stop_signal is None:  # Lightning's SIGTERM handler noted it
            self.stop_signal = signal.SIGTERM
        due = self.seconds is not None and time.monotonic() - self.last_save >= self.seconds
        stop = self.stop_signal
        if trainer.world_size > 1:
            # saving is collective (all processes at the same step) and so is stopping, but each process has its
            # own clock and receives the signal in its own step: all follow the first that is due or signalled.
            # This step decides on the reduced values alone; a signal noted after `wanted` was built counts next step
            wanted = torch.tensor([stop or 0, int(due)], device=trainer.strategy.root_device)
            signum, due = (int(v) for v in trainer.strategy.reduce(wanted, reduce_op="max").tolist())
            stop = signum or None
        if stop is not None or due:
            trainer.save_checkpoint(self.path)
            self.last_save = time.monotonic()
        if stop is not None:
            self.stop_signal = stop
            if trainer.is_global_zero:
                print(f"saved {self.path} at step {trainer.global_step}; run the same command to resume",
                      file=sys.stderr)
            # end fitting now: should_stop would first run a validation whose checkpoint marks the epoch done
            raise StopRequested(stop)

    def restore_handlers(self) -> None:
        """Put back the handlers this callback replaced (also after Lightning's own signal teardown)."""
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.restore_handlers()


class HoldRunFolder(Callback):
    """Locks the run folder (first process only) before anything is restored or written, until fitting ends; the
    leftovers of killed atomic writes in it are removed once the lock is held."""

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir)
        self.lock = RunLock(out_dir)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.is_global_zero:
            self.lock.acquire()
            remove_stale_temporaries(self.out_dir, recursive=True)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.lock.release()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.lock.release()  # Lightning skips teardown when fitting raises


class ValidateAtMaxSteps(Callback):
    """Stops through ``trainer.should_stop`` at ``max_steps``, so that Lightning validates (and checkpoints the
    best) before it stops, even inside an epoch."""

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


class CommandTimer(Timer):
    """``trainer.max_minutes``, counted from this command's start: a resumed run gets the whole budget again.
    (Lightning's own timer adds the time of the attempts before, so resuming a run past it stopped at once.)"""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Ignore the time the checkpoint's attempts took."""


class StepCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every N steps, except on a step that a validation follows (an epoch's last, or the one that
    stops the run): the checkpoint written after that validation takes its place. Lightning resumes a checkpoint of
    an epoch's last step at the next epoch, so one taken before the validation would lose it to a kill during it."""

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch or trainer.should_stop:
            return
        super().on_train_batch_end(trainer, pl_module, *args)


class RunRecord(Callback):
    """Writes ``config.yaml`` when fitting starts and ``result.yaml`` (best score and checkpoint) when it ends."""

    def __init__(self, config: ExperimentConfig, best: ModelCheckpoint, early: EarlyStopping):
        self.config, self.best, self.early = config, best, early

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            save_config(self.config, Path(self.config.out_dir) / "config.yaml")

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        score = self.best.best_model_score
        result = {"best_checkpoint": self.best.best_model_path or None,
                  "best_valid_sdr": None if score is None else float(score),
                  "epochs": trainer.current_epoch, "steps": trainer.global_step,
                  "early_stopped": self.early.wait_count >= self.early.patience}
        write_yaml(result, Path(self.config.out_dir) / "result.yaml")


def write_yaml(data: Any, path: Path) -> None:
    """Write ``data`` as YAML to ``path`` atomically."""
    write_text(path, yaml.safe_dump(data, sort_keys=False))


def last_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The run's ``last.ckpt``, if a previous attempt left one."""
    path = Path(out_dir) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


class BestCheckpoint(ModelCheckpoint):
    """The best checkpoint on the monitored score, and ``last.ckpt`` wherever Lightning considers saving (after each
    validation, or at each epoch's end once its validation ran): Lightning writes the latter only beside a new best,
    so a validation that did not improve would leave it behind the run."""

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_unsaved(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_if_unsaved(trainer)

    def _save_last_if_unsaved(self, trainer: pl.Trainer) -> None:
        if not self._should_skip_saving_checkpoint(trainer):  # nothing was written at this step
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


def build_trainer(config: ExperimentConfig, callbacks: Sequence[Callback] = ()) -> pl.Trainer:
    """The Lightning Trainer of a run: checkpoints (best + last), early stopping, lr monitor, TensorBoard, EMA."""
    out = Path(config.out_dir)
    run, optim, valid = config.trainer, config.optim, config.validation
    # the best on valid/sdr; after every validation it also writes last.ckpt, so that a resumed run knows the best
    best = BestCheckpoint(dirpath=out / "checkpoints", filename="best-epoch{epoch:03d}-sdr{valid/sdr:.3f}",
                          auto_insert_metric_name=False, monitor=MONITOR, mode="max", save_top_k=1, save_last=True,
                          enable_version_counter=False)
    # "last.ckpt": the newest state, also overwritten every checkpoint_every_steps steps
    last = StepCheckpoint(dirpath=out / "checkpoints", filename="last", save_top_k=1, enable_version_counter=False,
                           every_n_train_steps=run.checkpoint_every_steps)
    early = EarlyStopping(monitor=MONITOR, mode="max", patience=optim.patience, check_on_train_epoch_end=False)
    all_callbacks: list[Callback] = [
        HoldRunFolder(out), best, last, early, ValidateAtMaxSteps(),
        LearningRateMonitor(logging_interval="step"),
        RunRecord(config, best, early),
        SaveOnStop(out / "checkpoints" / "last.ckpt", run.checkpoint_every_minutes),
        *callbacks,
    ]
    if run.progress_bar:
        all_callbacks.append(TQDMProgressBar())
    if run.ema_decay is not None:
        all_callbacks.append(EMAWeightAveraging(decay=run.ema_decay))
    if run.max_minutes is not None:
        all_callbacks.append(CommandTimer(duration=timedelta(minutes=run.max_minutes)))
    return pl.Trainer(
        accelerator=run.accelerator, devices=run.devices, num_nodes=run.num_nodes, strategy=run.strategy,
        precision=run.precision, max_epochs=optim.epochs, max_steps=optim.max_steps or -1,
        gradient_clip_val=optim.clip, gradient_clip_algorithm="norm", accumulate_grad_batches=optim.accumulate,
        check_val_every_n_epoch=valid.every_epochs, num_sanity_val_steps=run.sanity_val_tracks,
        log_every_n_steps=run.log_every_steps, logger=TensorBoardLogger(out, name="logs", version=""),
        callbacks=all_callbacks, enable_progress_bar=run.progress_bar, deterministic=run.deterministic,
        enable_model_summary=False,  # its table ends in "Total FLOPs: 0" (rich's version too); run() prints one line
        use_distributed_sampler=False,  # train.loader splits the items across processes itself
        default_root_dir=out,
    )


def run(config: ExperimentConfig, train_set: EpochDataset | None = None, valid_tracks: Sequence[Any] | None = None,
        callbacks: Sequence[Callback] = ()) -> pl.Trainer:
    """Train (or resume) the run described by ``config``; returns the finished Trainer."""
    pl.seed_everything(config.seed, workers=True, verbose=False)
    if config.trainer.keep_freed_memory:
        keep_freed_memory()
    module = SeparationModule(config, train_set, valid_tracks)
    resume = last_checkpoint(config.out_dir)
    if resume is None and config.trainer.init_weights:  # a resumed run continues from its checkpoint instead
        start_from(module.model, config.trainer.init_weights)
    trainer = build_trainer(config, callbacks)
    if trainer.is_global_zero:
        params = sum(p.numel() for p in module.model.parameters())
        print(f"{config.name}: {params / 1e6:.2f} M parameters, targets {module.model.targets}, into {config.out_dir}"
              + (f", resuming from {resume}" if resume else ""), flush=True)
    try:
        with contextlib.suppress(SIGTERMException, StopRequested):  # raised after SaveOnStop saved last.ckpt
            trainer.fit(module, ckpt_path=resume, weights_only=True)
    finally:  # a raised fit skips the callbacks' teardown, and Lightning's may re-install a handler saved mid-run
        for callback in trainer.callbacks:
            if isinstance(callback, SaveOnStop):
                callback.restore_handlers()
    return trainer


def start_from(model: BSRNN, path: str) -> None:
    """Copy the weights of the kit's weight file ``path`` into ``model`` (same config required)."""
    source = load_model(path)
    if source.config != model.config:
        raise ValueError(f"trainer.init_weights: {path} holds a model of another config ({source.config}); "
                         f"the run's model is {model.config}")
    model.load_state_dict(source.state_dict())


def check_accelerator(config: ExperimentConfig) -> None:
    """Fail, naming ``trainer.accelerator``, when it asks for GPUs this machine does not have (before anything is
    created; Lightning's own error is a traceback)."""
    trainer = config.trainer
    if trainer.accelerator not in ("gpu", "cuda"):
        return
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    devices = trainer.devices
    wanted = max(devices, 1) if isinstance(devices, int) else 1  # -1: all of them, at least one
    if count < wanted:
        raise ValueError(f"trainer.accelerator={trainer.accelerator} trainer.devices={trainer.devices}: torch sees "
                         f"{count} CUDA device(s) here; use trainer.accelerator=cpu (or auto) on this machine")


def check_data(config: ExperimentConfig) -> None:
    """Fail, naming ``data.root`` or ``data.valid_tracks``, when the dataset is not where the config says or the
    validation split does not fit it (before anything is created)."""
    data = config.data
    if data.kind == "synthetic":
        return
    layout = {"musdb18hq": "train/<track>/mixture.wav and the stems", "musdb18": "train/<track>.stem.mp4",
              "sdx23": "<track>/{bass,drums,other,vocals}.wav"}.get(data.kind, "the dataset")
    if not data.root:
        raise ValueError(f"data.root is not set: give the {data.kind} folder (holding {layout}), e.g. "
                         "data.root=data/musdb18hq")
    root = Path(data.root)
    needed = root / "train" if data.kind in ("musdb18hq", "musdb18") else root
    if not needed.is_dir():
        hint = "; for the SDX23 sets, data.kind=sdx23" if data.kind != "sdx23" and root.is_dir() else ""
        raise ValueError(f"data.root={data.root}: {needed} is not a folder (expected {layout}{hint}; see README, "
                         "'Getting the data')")
    valid_names = datasets.validation_names(data.valid_tracks, data.kind)
    datasets.check_split(datasets.track_names(data.kind, root), valid_names, f"{data.kind} set {data.root}")


def quiet_lightning() -> None:
    """Leave out Lightning's tips, info lines ("0 Total Flops", GPU/TPU availability) and deprecation warnings, and
    its warnings about what the kit does on purpose: resuming into the run's own checkpoint folder, epochs
    shorter than the logging interval, validation scores logged without ``sync_dist`` (the module reduces them
    across processes itself)."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*(LeafSpec|is deprecated|does not have many workers"
                                              r"|Checkpoint directory .* exists and is not empty"
                                              r"|is smaller than the logging interval"
                                              r"|It is recommended to use `self.log\('(valid|real)/).*")


def final_lines(out_dir: Path, targets: Sequence[str], test_data: Path | None = None) -> str:
    """What to do next: the best checkpoint, its validation SDR, and the export commands (to try the weights
    beside the bundled ones, on ``test_data`` if given, and to submit them), with the weight file named for
    ``targets``."""
    result_file = out_dir / "result.yaml"
    if not result_file.is_file():
        return f"training stopped before it finished; run the same command to resume from {out_dir}/checkpoints"
    result = yaml.safe_load(result_file.read_text())
    best, score = result.get("best_checkpoint"), result.get("best_valid_sdr")
    if not best:
        return f"training ended after {result.get('steps')} steps without a validation score (no best checkpoint)"
    name = f"{targets[0] if len(targets) == 1 else out_dir.name}.safetensors"
    return (f"best checkpoint: {best} (validation global SDR {score:.3f} dB)\n"
            f"try it: python -m train.export {out_dir} {out_dir / 'weights' / name} && "
            f"python evaluate_locally.py{f' --data {test_data}' if test_data else ''} --weights {out_dir / 'weights'}\n"
            f"submit it: python -m train.export {out_dir} my_submission/weights/{name}")


def musdb_test_set(config: ExperimentConfig) -> Path | None:
    """MUSDB18-HQ's ``test/`` beside the training tracks, where the run trained on MUSDB18-HQ and it exists."""
    data = config.data
    test = Path(data.root) / "test" if data.kind == "musdb18hq" and data.root else None
    return test if test is not None and test.is_dir() else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment YAML file (see train/configs/)")
    parser.add_argument("--overlay", action="append", default=[],
                        help="YAML file of config sections merged over the experiment (repeatable)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides with dotted keys, e.g. optim.lr=5e-4 trainer.devices=2")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    config = load_config(args.config, args.overrides, args.overlay)  # a bad file or key=value: one line (run_main)
    check_data(config)
    check_accelerator(config)
    quiet_lightning()
    try:
        trainer = run(config)
    except RunFolderLocked as e:
        sys.exit(f"python -m train: {e}")
    stop_signal = next((c.stop_signal for c in trainer.callbacks if isinstance(c, SaveOnStop)), None)
    stopped = stop_signal is not None
    out_of_time = any(isinstance(c, CommandTimer) and c.time_remaining() <= 0 for c in trainer.callbacks)
    if trainer.is_global_zero:  # the other processes of a multi-GPU run end here too
        if out_of_time and not stopped:
            print(f"reached trainer.max_minutes={config.trainer.max_minutes:g}; run the same command to train on "
                  f"from {config.out_dir}/checkpoints/last.ckpt")
        print(f"stopped; run the same command to resume from {config.out_dir}/checkpoints/last.ckpt" if stopped
              else final_lines(Path(config.out_dir), config.model.targets, musdb_test_set(config)))
    if stopped:
        end_by_signal(stop_signal)
    return 0


def end_by_signal(signum: int) -> None:
    """End this process by ``signum`` (its default action), so that a shell running it sees the interruption and
    stops too: a loop over targets, or ``train && export``, must not go on after Ctrl-C."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


if __name__ == "__main__":
    sys.exit(run_main("python -m train", main))
