"""The LightningModule that trains a BSRNN: loss, optimizer and schedule, whole-track validation, TensorBoard audio."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader

from evaluator.metrics import global_sdr
from models import Chunking, build_model, separate
from train.config import ExperimentConfig
from train.loader import EpochDataset, RankBatches, ResumableLoader, collate_pairs
from train.losses import SeparationLoss


class SharedData:
    """The training set and validation tracks of a module; copies of the module (the EMA's) share them."""

    def __init__(self, train_set: EpochDataset | None, valid_tracks: list[Any] | None):
        self.train_set, self.valid_tracks = train_set, valid_tracks
        self.real_tracks: list[Any] = []  # scored and logged apart (real/...), never monitored

    def __deepcopy__(self, memo: dict) -> SharedData:
        return self


class SeparationModule(pl.LightningModule):
    """Trains ``build_model(config.model)`` on ``(mixture, sources)`` batches; validates on whole tracks.

    ``config`` is an :class:`ExperimentConfig` or its plain-dict form (what checkpoints store as hyper-parameters).
    The training set and validation tracks come from ``train.data.build_datasets`` unless given here (tests).
    Logged: ``train/loss`` (and its terms), ``valid/sdr_<target>`` (global SDR, mean over tracks) and
    ``valid/sdr`` (their mean), the same value on every process; with ``validation.real_clip``, the same for the
    real recording as ``real/sdr_<target>`` and ``real/sdr``.
    """

    def __init__(self, config: ExperimentConfig | dict[str, Any], train_set: EpochDataset | None = None,
                 valid_tracks: Sequence[Any] | None = None):
        super().__init__()
        if isinstance(config, ExperimentConfig):
            config = config.to_dict()
        self.save_hyperparameters({"config": config})
        self.config = ExperimentConfig.from_dict(config)
        self.model = build_model(self.config.model)
        self.targets = list(self.model.targets)
        model_config = self.model.config
        loss = self.config.loss
        self.loss = SeparationLoss(loss.kind, loss.time_weight, loss.freq_weight, model_config.n_fft,
                                   model_config.hop_length)
        self.data = SharedData(train_set, list(valid_tracks) if valid_tracks is not None else None)
        self._sdr_sum: torch.Tensor | None = None
        self._mixture_logged = False

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return self.model(mixture)

    # data -------------------------------------------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        data = self.data
        if data.train_set is None or data.valid_tracks is None:
            from train.data import build_datasets  # the data pipeline is only needed when nothing was given

            train_set, valid_tracks = build_datasets(self.config.data, self.targets, self.model.config.sample_rate,
                                                     self.config.seed)
            data.train_set = data.train_set if data.train_set is not None else train_set
            data.valid_tracks = data.valid_tracks if data.valid_tracks is not None else list(valid_tracks)
        if not data.valid_tracks:
            raise ValueError("no validation tracks: set data.valid_tracks (or synthetic_valid_tracks)")
        if self.config.validation.real_clip and not data.real_tracks:
            data.real_tracks = _real_tracks(self.model.config.sample_rate)

    @property
    def _scored_tracks(self) -> list[Any]:
        return [*self.data.valid_tracks, *self.data.real_tracks]

    def train_dataloader(self) -> ResumableLoader:
        batches = RankBatches(len(self.data.train_set), self.config.optim.batch_size, self.trainer.global_rank,
                              self.trainer.world_size)
        workers = self.config.data.num_workers
        return ResumableLoader(self.data.train_set, batches, num_workers=workers, collate_fn=collate_pairs,
                               pin_memory=torch.cuda.is_available())

    def val_dataloader(self) -> DataLoader:
        # every process gets the same number of steps (-1: nothing to do), so all reach the reduction in
        # on_validation_epoch_end, even with fewer tracks than processes
        world = self.trainer.world_size
        count = len(self._scored_tracks)
        mine = list(range(self.trainer.global_rank, count, world))
        steps = -(-count // world)
        return DataLoader(mine + [-1] * (steps - len(mine)), batch_size=None, num_workers=0)

    def on_train_epoch_start(self) -> None:
        self.trainer.train_dataloader.batches.set_epoch(self.current_epoch)

    # training ---------------------------------------------------------------------------------------------------

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        mixture, sources = batch
        terms = self.loss(self.model(mixture), sources)
        size = mixture.shape[0]
        self.log("train/loss", terms["loss"], on_step=True, on_epoch=True, prog_bar=True, sync_dist=True,
                 batch_size=size)
        for name in ("t", "tf"):
            if name in terms:
                self.log(f"train/loss_{name}", terms[name], on_step=True, on_epoch=False, sync_dist=True,
                         batch_size=size)
        return terms["loss"]

    def configure_optimizers(self) -> dict[str, Any]:
        optim = self.config.optim
        global_batch = optim.batch_size * self.trainer.accumulate_grad_batches * self.trainer.world_size
        optimizer = torch.optim.Adam(self.parameters(), lr=optim.lr * global_batch / optim.reference_batch)
        if optim.scheduler == "step":
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=optim.decay_every, gamma=optim.decay)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=optim.plateau_factor,
                                                               patience=optim.plateau_patience)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "valid/sdr", "interval": "epoch",
                                 "frequency": self.config.validation.every_epochs}}

    # validation -------------------------------------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        # per track: summed SDR per target and a count, filled by whichever process validates the track
        self._sdr_sum = torch.zeros(len(self._scored_tracks), len(self.targets) + 1, device=self.device,
                                    dtype=torch.float64)

    def validation_step(self, index: torch.Tensor, batch_idx: int) -> None:
        index = int(index)
        if index < 0:
            return
        track = self._scored_tracks[index]
        mixture = torch.from_numpy(np.ascontiguousarray(track.read("mixture").T))
        valid = self.config.validation
        estimates = separate(self.model, mixture, len(self.targets), track.sample_rate,
                             Chunking(valid.window, valid.hop, valid.batch, self.device))
        for j, target in enumerate(self.targets):
            self._sdr_sum[index, j] = global_sdr(track.read(target), estimates[j].T.numpy())
        self._sdr_sum[index, -1] = 1.0
        if index == 0 and valid.audio_seconds > 0 and not self.trainer.sanity_checking:
            self._log_audio(track, mixture, estimates)

    def on_validation_epoch_end(self) -> None:
        table = self.trainer.strategy.reduce(self._sdr_sum, reduce_op="sum")
        split = len(self.data.valid_tracks)
        for prefix, rows in (("real", table[split:]), ("valid", table[:split])):  # valid/sdr last: it is monitored
            done = rows[:, -1] > 0
            if not done.any():
                continue
            means = rows[done, :-1].mean(0)
            for target, value in zip(self.targets, means):
                self.log(f"{prefix}/sdr_{target}", value.float(), sync_dist=False)
            self.log(f"{prefix}/sdr", means.mean().float(), prog_bar=prefix == "valid", sync_dist=False)

    def _log_audio(self, track: Any, mixture: torch.Tensor, estimates: torch.Tensor) -> None:
        if not isinstance(self.logger, TensorBoardLogger):
            return
        rate = track.sample_rate
        length = min(mixture.shape[-1], round(self.config.validation.audio_seconds * rate))
        start = (mixture.shape[-1] - length) // 2
        writer = self.logger.experiment
        excerpt = slice(start, start + length)
        if not self._mixture_logged:
            self._mixture_logged = True
            writer.add_audio(f"audio/{track.name}/mixture", mixture[:, excerpt].mean(0, keepdim=True),
                             self.global_step, rate)
        for j, target in enumerate(self.targets):
            writer.add_audio(f"audio/{track.name}/{target}", estimates[j, :, excerpt].mean(0, keepdim=True),
                             self.global_step, rate)


def _real_tracks(sample_rate: int) -> list[Any]:
    """The real recording for validation, or none (with a warning) where it cannot be decoded."""
    from evaluator.cache import cache_dir
    from evaluator.real_music import RealMusicUnavailable, ensure_real_clip

    try:
        track = ensure_real_clip(cache_dir("real"))
    except RealMusicUnavailable as e:
        warnings.warn(f"validation.real_clip: {e}; validating on the configured tracks only", stacklevel=2)
        return []
    return [track] if track.sample_rate == sample_rate else []
