"""Random task chains for demonstration data, drawn under CALVIN's symbolic preconditions.

Like CALVIN's evaluation chains (SPEC §5.2): each task matches exactly one precondition rule in
the symbolic state reached so far, and no two tasks of a chain share a category. Unlike the
evaluation's fixed 1000 chains, these are drawn afresh from a seeded generator, uniformly among the
valid next tasks, so the data covers every task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from envs import constants as C
from envs import symbolic


def sample_chain(
    state: dict[str, Any], rng: np.random.Generator, length: int, tasks: Sequence[str] | None = None
) -> list[str]:
    """Up to ``length`` tasks, each valid in the state its predecessors lead to.

    Args:
        state: symbolic start state (see :mod:`envs.symbolic`).
        rng: randomness.
        length: wanted number of tasks (fewer when no valid task remains).
        tasks: allowed tasks (None = all 34).
    """
    if length < 1:
        raise ValueError(f"length: expected >= 1, received {length}")
    pool = check_tasks(tasks)
    current = dict(state)
    used: set[int] = set()
    chain: list[str] = []
    for _ in range(length):
        options = []
        for task in pool:
            if symbolic.TASK_CATEGORIES[task] in used:
                continue
            outcomes = symbolic.possible_effects(task, current)
            if len(outcomes) == 1 and symbolic.is_consistent(outcomes[0]):
                options.append((task, outcomes[0]))
        if not options:
            break
        task, nxt = options[int(rng.integers(len(options)))]
        chain.append(task)
        used.add(symbolic.TASK_CATEGORIES[task])
        current = nxt
    return chain


def check_tasks(tasks: Sequence[str] | None) -> tuple[str, ...]:
    """The allowed task pool (all 34 for None); unknown names raise ``ValueError``."""
    if tasks is None:
        return tuple(C.TASK_NAMES)
    if isinstance(tasks, str) or not tasks:
        raise ValueError(f"tasks: expected a non-empty list of task names, received {tasks!r}")
    for t in tasks:
        if t not in C.TASK_NAMES:
            raise ValueError(f"tasks: expected names from CALVIN's 34 tasks, received {t!r}")
    return tuple(tasks)


def sample_start(rng: np.random.Generator, tasks: Sequence[str] | None = None) -> dict[str, Any]:
    """One of CALVIN's 192 initial conditions, uniformly among those where at least one allowed
    task is possible."""
    pool = check_tasks(tasks)
    conditions = [
        c
        for c in symbolic.initial_conditions()
        if any(len(symbolic.possible_effects(t, c)) == 1 for t in pool)
    ]
    if not conditions:
        raise ValueError(f"tasks: none of {list(pool)} is possible in any CALVIN initial condition")
    return conditions[int(rng.integers(len(conditions)))]


def is_validation_chain(chain_id: int, val_fraction: float) -> bool:
    """Deterministic, evenly spread split: chain k is validation when floor((k+1)f) > floor(kf)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected in [0, 1), received {val_fraction}")
    return int(np.floor((chain_id + 1) * val_fraction)) > int(np.floor(chain_id * val_fraction))
