"""A `DistributedSampler` that can start part-way through an epoch, for exact resumption.

The order of an epoch is a pure function of ``(seed, epoch)`` (torch's ``DistributedSampler``), so
a resumed run only needs the epoch and how many samples this rank has already consumed in it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data.distributed import DistributedSampler


class ResumableDistributedSampler(DistributedSampler):
    """``DistributedSampler`` plus :meth:`set_start`, which skips the epoch's first samples.

    Works in a single process too (``num_replicas=1, rank=0``), so the trainer uses one code path.
    """

    def __init__(self, dataset: torch.utils.data.Dataset, num_replicas: int, rank: int, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.start = 0

    def set_start(self, start: int) -> None:
        """Skip this rank's first ``start`` samples of the current epoch (reset by :meth:`set_epoch`)."""
        if start < 0:
            raise ValueError(f"start: expected >= 0, received {start}")
        self.start = int(start)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)
