"""How a reset picks its start state and task: shared by every env backend, so they agree exactly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from envs import constants as C
from envs import symbolic


def choose_start_state(
    robot_obs: np.ndarray | None,
    scene_obs: np.ndarray | None,
    condition: Mapping[str, Any] | None,
    task: str | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, str | None, dict[str, Any] | None]:
    """The exact start state of a reset from its (already validated) options.

    Precedence: an exact ``scene_obs``; else a symbolic ``condition`` (CALVIN's fixed
    per-condition layout); else a random state in which ``task``'s precondition holds; else a random
    CALVIN initial condition. ``robot_obs`` defaults to CALVIN's neutral pose.

    Returns:
        ``(robot_obs (15,), scene_obs (24,), grasped block name or None, symbolic state or None)``.
    """
    if condition is not None and not isinstance(condition, Mapping):
        raise ValueError(f"condition: expected a symbolic state dict (envs.symbolic), received {condition!r}")
    if condition is not None and scene_obs is not None:
        raise ValueError("options: expected either 'condition' or 'scene_obs', received both")
    grasped: str | None = None
    state: dict[str, Any] | None = None
    if scene_obs is None:
        if condition is not None:
            state = dict(condition)
        elif task is not None:
            state = symbolic.sample_state_for_task(task, rng)
        else:
            conditions = symbolic.initial_conditions()
            state = conditions[int(rng.integers(len(conditions)))]
        # a given condition gets CALVIN's fixed per-condition layout; sampled states use the env's rng
        layout_rng = None if condition is not None else rng
        cond_robot, scene_obs, grasped = symbolic.scene_from_condition(state, layout_rng)
        if robot_obs is None:
            robot_obs = cond_robot
    if robot_obs is None:
        robot_obs = np.asarray(C.NEUTRAL_ROBOT_OBS, dtype=np.float64)
    return robot_obs, scene_obs, grasped, state


def choose_task(state: Mapping[str, Any] | None, default_task: str | None, rng: np.random.Generator) -> str:
    """The task of a reset that named none: the env's default, else one possible in ``state``."""
    if default_task is not None:
        return default_task
    if state is not None:
        possible = [t for t in C.TASK_NAMES if symbolic.precondition_holds(t, state)]
        return possible[int(rng.integers(len(possible)))] if possible else C.TASK_NAMES[0]
    return C.TASK_NAMES[int(rng.integers(len(C.TASK_NAMES)))]
