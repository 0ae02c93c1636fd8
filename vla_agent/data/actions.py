"""CALVIN's two action formats and the conversion between them (SPEC §2).

``actions`` (absolute) hold the TCP pose the robot should reach next, in the world frame:
x, y, z (m), euler x, y, z (rad), gripper (-1 close / +1 open). ``rel_actions`` express the same
target relative to the *current* measured pose, scaled to [-1, 1]: the position difference is
clipped to ±:data:`~envs.constants.MAX_REL_POS` m and divided by it, the per-axis euler difference
is wrapped to [-pi, pi), clipped to ±:data:`~envs.constants.MAX_REL_ORN` rad and divided by it, and
the gripper value is copied.
"""

from __future__ import annotations

import numpy as np

from envs import constants as C


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(x, dtype=np.float64) + np.pi) % (2 * np.pi) - np.pi


def _check(name: str, arr: np.ndarray, last: int) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != last:
        raise ValueError(f"{name}: expected shape (..., {last}), received {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, received {arr}")
    return arr


def to_relative_action(
    actions: np.ndarray,
    robot_obs: np.ndarray,
    max_pos: float = C.MAX_REL_POS,
    max_orn: float = C.MAX_REL_ORN,
) -> np.ndarray:
    """Absolute actions -> CALVIN relative actions.

    Args:
        actions: (..., 7) absolute targets: xyz, euler xyz, gripper.
        robot_obs: (..., 15) current proprioception (only the TCP pose, indices 0..5, is used).
        max_pos: metres that a relative action of 1.0 moves.
        max_orn: radians that a relative action of 1.0 turns.

    Returns:
        (..., 7) float64 in [-1, 1] (gripper copied).
    """
    a = _check("actions", actions, C.ACTION_DIM)
    obs = _check("robot_obs", robot_obs, C.ROBOT_OBS_DIM)
    rel = np.empty(np.broadcast_shapes(a.shape, obs.shape[:-1] + (C.ACTION_DIM,)), dtype=np.float64)
    rel[..., 0:3] = np.clip(a[..., 0:3] - obs[..., C.TCP_POS], -max_pos, max_pos) / max_pos
    rel[..., 3:6] = np.clip(wrap_angle(a[..., 3:6] - obs[..., C.TCP_ORN]), -max_orn, max_orn) / max_orn
    rel[..., 6] = a[..., 6]
    return rel


def to_absolute_action(
    rel_actions: np.ndarray,
    robot_obs: np.ndarray,
    max_pos: float = C.MAX_REL_POS,
    max_orn: float = C.MAX_REL_ORN,
) -> np.ndarray:
    """CALVIN relative actions -> absolute targets (the inverse of :func:`to_relative_action`).

    Exact for relative actions that were not clipped (|value| < 1); a clipped one maps to the
    target at the clip limit.

    Args:
        rel_actions: (..., 7) relative actions in [-1, 1].
        robot_obs: (..., 15) current proprioception.

    Returns:
        (..., 7) float64: xyz, euler xyz wrapped to [-pi, pi), gripper copied.
    """
    r = _check("rel_actions", rel_actions, C.ACTION_DIM)
    obs = _check("robot_obs", robot_obs, C.ROBOT_OBS_DIM)
    out = np.empty(np.broadcast_shapes(r.shape, obs.shape[:-1] + (C.ACTION_DIM,)), dtype=np.float64)
    out[..., 0:3] = obs[..., C.TCP_POS] + r[..., 0:3] * max_pos
    out[..., 3:6] = wrap_angle(obs[..., C.TCP_ORN] + r[..., 3:6] * max_orn)
    out[..., 6] = r[..., 6]
    return out
