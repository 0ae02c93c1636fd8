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


def check_task(task: Any) -> str:
    """``task`` if it is one of CALVIN's 34 task names, else ``ValueError``."""
    if not isinstance(task, str) or task not in C.TASK_NAMES:
        raise ValueError(
            f"task: expected one of CALVIN's 34 task names (envs.constants.TASK_NAMES), received {task!r}"
        )
    return task


def resolve_task(task: Any, instruction: Any) -> tuple[str, str] | None:
    """``(task, instruction)`` from either or both, checked against each other; None when neither is given.

    A task alone gets its held-out evaluation sentence (:func:`envs.instructions.default_instruction`).
    """
    from envs.instructions import default_instruction, task_for_instruction

    if task is None and instruction is None:
        return None
    if instruction is not None:
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction: expected a non-empty sentence, received {instruction!r}")
        from_text = task_for_instruction(instruction)
        if task is not None and check_task(task) != from_text:
            raise ValueError(
                f"task: expected the task of instruction {instruction!r} ({from_text!r}), received {task!r}"
            )
        return from_text, instruction
    return check_task(task), default_instruction(task)
