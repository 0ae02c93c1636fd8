"""Why subtasks failed: did the policy move the object its instruction was about?

A failed subtask is put in one of three bins by comparing the scene when the subtask began with the
scene when it ended (both recorded by the runners, ``start_scene_obs`` / ``end_scene_obs``):

* ``untouched``: the task's object did not move (a block moved < 1 cm and turned < 0.1 rad; a door,
  drawer, button or switch joint moved less than :data:`JOINT_TOLERANCE`). The policy never got its
  hands on it: a perception, reaching or stalling failure.
* ``moved``: the object moved but the oracle did not accept the result (pushed too little or the
  wrong way, grasped and dropped, turned too little, ...): a manipulation failure.
* ``unknown``: no start state on record (logs written before the field existed), except for a
  chain's first subtask, whose start is CALVIN's fixed layout of the chain's symbolic condition.

The object of a block task is the block it names; ``place_in_*``, ``stack_block``,
``unstack_block`` and ``push_into_drawer`` name none, so any block counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from envs import constants as C

UNTOUCHED = "untouched"
MOVED = "moved"
UNKNOWN = "unknown"
OUTCOMES = (UNTOUCHED, MOVED, UNKNOWN)

BLOCK_MOVE_TOLERANCE = 0.01  # m
BLOCK_TURN_TOLERANCE = 0.1  # rad, any euler angle (wrapped)
JOINT_TOLERANCE = {C.SLIDER: 0.01, C.DRAWER: 0.01, C.BUTTON: 0.002, C.SWITCH: 0.005}  # m

_JOINT_OF_TASK = {
    "move_slider_left": C.SLIDER, "move_slider_right": C.SLIDER,
    "open_drawer": C.DRAWER, "close_drawer": C.DRAWER,
    "turn_on_led": C.BUTTON, "turn_off_led": C.BUTTON,
    "turn_on_lightbulb": C.SWITCH, "turn_off_lightbulb": C.SWITCH,
}


def target_joint(task: str) -> int | None:
    """The ``scene_obs`` index of the door, drawer, button or switch a task moves; None for block tasks."""
    return _JOINT_OF_TASK.get(task)


def target_blocks(task: str) -> tuple[str, ...]:
    """The blocks a task is about: the one it names, or all three for tasks that name none.

    Raises:
        ValueError: ``task`` is not one of CALVIN's 34 task names, or is a door/light task.
    """
    if task not in C.TASK_NAMES:
        raise ValueError(f"task: expected one of envs.constants.TASK_NAMES, received {task!r}")
    if task in _JOINT_OF_TASK:
        raise ValueError(f"task: expected a block task, received the joint task {task!r}")
    named = tuple(f"block_{c}" for c in C.BLOCK_COLORS if f"_{c}_" in f"_{task}_")
    return named or C.BLOCK_NAMES


def _scene(value: Any, field: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (C.SCENE_OBS_DIM,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{field}: expected {C.SCENE_OBS_DIM} finite numbers (scene_obs), "
                         f"received shape {arr.shape}")
    return arr


def _block_moved(start: np.ndarray, end: np.ndarray, block: str) -> bool:
    s, e = start[C.BLOCK_SLICES[block]], end[C.BLOCK_SLICES[block]]
    turn = np.abs((e[3:] - s[3:] + np.pi) % (2 * np.pi) - np.pi)
    return bool(np.linalg.norm(e[:3] - s[:3]) >= BLOCK_MOVE_TOLERANCE or turn.max() >= BLOCK_TURN_TOLERANCE)


def object_moved(task: str, start_scene_obs: Sequence[float], end_scene_obs: Sequence[float]) -> bool:
    """Whether the object ``task`` is about moved between two ``scene_obs`` (24,) snapshots.

    Raises:
        ValueError: unknown task, or a snapshot that is not 24 finite numbers.
    """
    start = _scene(start_scene_obs, "start_scene_obs")
    end = _scene(end_scene_obs, "end_scene_obs")
    if task in _JOINT_OF_TASK:
        j = _JOINT_OF_TASK[task]
        return bool(abs(end[j] - start[j]) >= JOINT_TOLERANCE[j])
    return any(_block_moved(start, end, b) for b in target_blocks(task))


def _layout(condition: Mapping[str, Any]) -> np.ndarray:
    from envs.start_state import choose_start_state

    # a symbolic condition has one fixed layout; the generator is not drawn from
    _robot, scene, _grasped, _state = choose_start_state(None, None, condition, None, np.random.default_rng(0))
    return np.asarray(scene, dtype=np.float64)


def failed_subtask(record: Mapping[str, Any]) -> tuple[str, np.ndarray | None, np.ndarray | None] | None:
    """The failed subtask of a long-horizon or single-task record: ``(task, start, end)`` or None.

    ``start`` / ``end`` are the scene (24,) when it began and ended, None where not on record.
    """
    end = record.get("end_scene_obs")
    end_arr = None if end is None else _scene(end, "end_scene_obs")
    start = record.get("start_scene_obs")
    start_arr = None if start is None else _scene(start, "start_scene_obs")
    if "chain" in record:  # long horizon: the chain stops at its first failure
        n = int(record["num_success"])
        if n >= len(record["results"]) or record["results"][n]:
            return None
        if start_arr is None and n == 0 and record.get("condition") is not None:
            start_arr = _layout(record["condition"])
        return str(record["chain"][n]), start_arr, end_arr
    if record.get("success", True):
        return None
    return str(record["task"]), start_arr, end_arr


def classify_failure(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(task, outcome)`` of a record's failed subtask (outcome in :data:`OUTCOMES`), None if none failed."""
    failed = failed_subtask(record)
    if failed is None:
        return None
    task, start, end = failed
    if start is None or end is None:
        return task, UNKNOWN
    return task, MOVED if object_moved(task, start, end) else UNTOUCHED


def failure_modes(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per task (CALVIN's order) the failed subtasks by outcome: ``{task: {"untouched": a, "moved": b,
    "unknown": c}}``; tasks that never failed are left out."""
    counts: dict[str, dict[str, int]] = {}
    for r in records:
        out = classify_failure(r)
        if out is not None:
            task, outcome = out
            counts.setdefault(task, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
    return {t: counts[t] for t in C.TASK_NAMES if t in counts}


def format_failure_table(modes: Mapping[str, Mapping[str, int]]) -> str:
    """A text table of :func:`failure_modes`, with a total row."""
    lines = ["Failed subtasks: did the task's object move?",
             f"  {'task':<24}{'failed':>7}{UNTOUCHED:>11}{MOVED:>7}{UNKNOWN:>9}"]
    total = dict.fromkeys(OUTCOMES, 0)
    for task, c in modes.items():
        lines.append(f"  {task:<24}{sum(c.values()):>7}{c[UNTOUCHED]:>11}{c[MOVED]:>7}{c[UNKNOWN]:>9}")
        for k in OUTCOMES:
            total[k] += c[k]
    lines.append(f"  {'all':<24}{sum(total.values()):>7}{total[UNTOUCHED]:>11}{total[MOVED]:>7}{total[UNKNOWN]:>9}")
    return "\n".join(lines)
