"""The training DataLoader: items split across processes, the epoch passed to the dataset, resumable mid-epoch.

The training set is a pure function of (seed, epoch, index), so there is nothing to shuffle: process ``r`` of
``w`` takes indices ``r, r + w, r + 2w, ...``, so that one step of ``w`` processes with batch ``b`` sees the
same items as one step of a single process with batch ``w * b``. The sampler yields ``(epoch, index)`` pairs,
so workers always build items of the right epoch. The loader's ``state_dict`` records the epoch and the
batches already served; Lightning stores it in every checkpoint (its ``_Stateful`` loader protocol) and hands it
back on resume, and the next epoch iterator then skips the batches already trained on without reading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class EpochDataset(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...

    def set_epoch(self, epoch: int) -> None: ...


class EpochItems(Dataset):
    """Wraps a training set: item ``(epoch, index)`` is ``dataset[index]`` drawn for that epoch."""

    def __init__(self, dataset: EpochDataset):
        self.dataset = dataset
        self.epoch: int | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if epoch != self.epoch:
            self.dataset.set_epoch(epoch)
            self.epoch = epoch
        return self.dataset[index]


class RankBatches(Sampler[list[tuple[int, int]]]):
    """Batches of ``(epoch, index)`` for one process; every process gets the same number of whole batches."""

    def __init__(self, size: int, batch_size: int, rank: int = 0, world_size: int = 1):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.batches_per_epoch = size // world_size // batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(f"{size} training items cannot make one batch of {batch_size} on each of "
                             f"{world_size} process(es); raise data.samples_per_epoch or lower optim.batch_size")
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        skip, self.skip = self.skip, 0
        for b in range(skip, self.batches_per_epoch):
            first = b * self.batch_size
            yield [(self.epoch, (first + j) * self.world_size + self.rank) for j in range(self.batch_size)]


class ResumableLoader(DataLoader):
    """A DataLoader over :class:`RankBatches` whose position within the epoch survives a checkpoint."""

    def __init__(self, dataset: EpochDataset, batches: RankBatches, num_workers: int = 0, **kwargs: Any):
        super().__init__(EpochItems(dataset), batch_sampler=batches, num_workers=num_workers, **kwargs)
        self.batches = batches
        self.served = 0

    def __iter__(self) -> Iterator[Any]:
        self.served = self.batches.skip
        for batch in super().__iter__():
            self.served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.batches.epoch, "served": self.served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, served = int(state["epoch"]), int(state["served"])
        if served >= len(self.batches):  # saved on the epoch's last step: the next epoch comes next, from its start
            epoch, served = epoch + 1, 0
        self.batches.set_epoch(epoch)
        self.batches.skip = served
        self.served = served


def collate_pairs(items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(mixture, sources)`` items into ``(batch, C, L)`` and ``(batch, S, C, L)``."""
    mixtures, sources = zip(*items)
    return torch.stack(mixtures), torch.stack(sources)
