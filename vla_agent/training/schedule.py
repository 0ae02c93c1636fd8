"""Learning-rate schedule: linear warm-up, then cosine decay to a floor.

A pure function of the step, so a resumed run gets exactly the learning rate the straight run had
(the scheduler's only state is its step counter).
"""

from __future__ import annotations

import math

import torch


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_ratio: float = 0.1) -> float:
    """Multiplier of the base learning rate at optimiser step ``step`` (0-based).

    Rises linearly from ``1 / (warmup_steps + 1)`` to 1 over ``warmup_steps`` steps, then follows a
    half cosine from 1 down to ``min_ratio`` at ``total_steps``, and stays there afterwards.

    Args:
        step: optimiser steps already taken.
        warmup_steps: length of the linear warm-up (0 disables it).
        total_steps: step at which the cosine reaches ``min_ratio``.
        min_ratio: final multiplier, in [0, 1].

    Returns:
        The multiplier, in (0, 1].
    """
    if step < 0:
        raise ValueError(f"step: expected >= 0, received {step}")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps: expected >= 0, received {warmup_steps}")
    if total_steps < 1:
        raise ValueError(f"total_steps: expected >= 1, received {total_steps}")
    if not 0.0 <= min_ratio <= 1.0:
        raise ValueError(f"min_ratio: expected a float in [0, 1], received {min_ratio}")
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_ratio: float = 0.1
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`warmup_cosine`; call ``step()`` after each optimiser step."""
    # validate eagerly so a bad config fails before training starts
    warmup_cosine(0, warmup_steps, total_steps, min_ratio)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, warmup_steps, total_steps, min_ratio)
    )
