"""Data-parallel plumbing for ``torchrun --nproc-per-node N``.

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; without them the
trainer runs as a single process and nothing here touches ``torch.distributed``. Backend: NCCL when
the process owns a CUDA device, gloo otherwise (CPU).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job.

    Attributes:
        rank: global rank (0 writes every file).
        world_size: number of processes.
        local_rank: rank on this machine (selects the GPU).
        device: torch device of this process.
        initialized: whether this module started a process group (and must end it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    """True when the environment carries torchrun's rank variables."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise ValueError(f"{name}: expected an integer environment variable, received {raw!r}") from e


def init_distributed(device: str = "auto", backend: str | None = None) -> DistInfo:
    """Start the process group when launched by torchrun; otherwise describe a single process.

    Args:
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``.
        backend: ``None`` picks NCCL for CUDA and gloo for CPU.

    Returns:
        This process's :class:`DistInfo`.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda', received {device!r}")
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested, but torch.cuda.is_available() is False")
    if not launched_by_torchrun():
        return DistInfo(device=torch.device("cuda" if use_cuda else "cpu"))
    rank = _env_int("RANK", 0)
    world = _env_int("WORLD_SIZE", 1)
    local = _env_int("LOCAL_RANK", rank)
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world == 1:
        return DistInfo(rank, world, local, dev, initialized=False)
    chosen = backend or ("nccl" if use_cuda else "gloo")
    started = False
    if not dist.is_initialized():
        dist.init_process_group(backend=chosen, rank=rank, world_size=world)
        started = True
    return DistInfo(rank, world, local, dev, initialized=started)


def shutdown(info: DistInfo) -> None:
    """End the process group this module started."""
    if info.initialized and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op in a single process)."""
    if info.distributed and dist.is_initialized():
        if info.device.type == "cuda":
            dist.barrier(device_ids=[info.local_rank])
        else:
            dist.barrier()


def all_reduce_mean(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a tensor over ranks (returns the input unchanged in a single process)."""
    if not info.distributed:
        return values
    out = values.detach().clone().to(info.device)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / info.world_size


def broadcast_object(obj: object, info: DistInfo) -> object:
    """Rank 0's ``obj`` on every rank."""
    if not info.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def parameter_digest(module: torch.nn.Module) -> str:
    """sha256 of every parameter's bytes, in order: equal across ranks exactly when they are in sync."""
    h = hashlib.sha256()
    with torch.no_grad():
        for name, p in module.named_parameters():
            h.update(name.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
