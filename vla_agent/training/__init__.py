"""Behaviour cloning of the VLA policy on CALVIN-format data (``vla-agent train``).

Public API::

    from vla_agent.training import TrainConfig, train
    result = train(TrainConfig(data="data/", out="runs/bc", max_steps=2000))
    policy = VLAPolicy.from_pretrained(result.policy_dir)

Modules: ``config`` (TrainConfig), ``trainer`` (the loop), ``samples``/``dataset`` (what a training
sample is), ``features``/``feature_cache`` (frozen features cached on disk), ``checkpoint`` (atomic,
exactly resumable), ``sampler``, ``schedule``, ``distributed`` (torchrun), ``metrics``, ``plots``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_LAZY = {
    "TrainConfig": "vla_agent.training.config",
    "TrainResult": "vla_agent.training.trainer",
    "Trainer": "vla_agent.training.trainer",
    "train": "vla_agent.training.trainer",
    "write_synthetic_dataset": "vla_agent.training.synthetic",
}

if TYPE_CHECKING:  # pragma: no cover
    from vla_agent.training.config import TrainConfig
    from vla_agent.training.synthetic import write_synthetic_dataset
    from vla_agent.training.trainer import Trainer, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "Trainer", "train", "write_synthetic_dataset"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vla_agent.training' has no attribute {name!r}")
