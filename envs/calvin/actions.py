"""Turning Gymnasium actions into what calvin_env's ``Robot.apply_action`` accepts.

calvin_env tells action formats apart by type: a flat 7-vector is a *relative* action (scaled
by 0.02 m / 0.05 rad and added to an internal target pose), a 3-tuple ``(pos, orn, gripper)`` is
an *absolute* TCP target. It asserts the gripper is exactly -1 or +1 and, inside a tuple, accepts
an ``int`` but not a Python ``float``. These helpers validate first (``ValueError`` before
anything reaches the simulator), never modify the caller's array, and always hand calvin_env a
fresh array or tuple it may keep.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs import constants as C

ACTION_MODES = ("relative", "absolute")


def _as_finite(value: Any, name: str, shapes: tuple[tuple[int, ...], ...]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name}: expected a numeric array of shape {' or '.join(map(str, shapes))}, got {value!r}"
        ) from err
    if arr.shape not in shapes:
        raise ValueError(f"{name}: expected shape {' or '.join(map(str, shapes))}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got {arr.tolist()}")
    return arr


def gripper_command(value: float) -> int:
    """CALVIN's binarisation: > 0 opens (+1), anything else closes (-1)."""
    return int(C.GRIPPER_OPEN) if value > 0 else int(C.GRIPPER_CLOSE)


def relative_action(action: Any) -> np.ndarray:
    """A relative 7-d action in the form calvin_env expects.

    Args:
        action: (7,) [dx, dy, dz, droll, dpitch, dyaw, gripper] in CALVIN's normalised units
            (1.0 = 0.02 m or 0.05 rad). Position and rotation are clipped to [-1, 1]; the gripper
            becomes exactly +1.0 (value > 0) or -1.0.

    Returns:
        (7,) float64, a new array.

    Raises:
        ValueError: wrong shape or non-finite values.
    """
    arr = _as_finite(action, "action", ((C.ACTION_DIM,),))
    arr[:6] = np.clip(arr[:6], -1.0, 1.0)
    arr[6] = float(gripper_command(arr[6]))
    return arr


def absolute_action(action: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """An absolute TCP target in the tuple form calvin_env expects.

    Args:
        action: either a flat (7,) [x, y, z, euler x, y, z, gripper] (world frame, m and rad, the
            layout of CALVIN's ``actions``), or a 3-tuple ``(pos (3,), orn (3,) euler or (4,)
            quaternion xyzw, gripper)``.

    Returns:
        ``(pos float64 (3,), orn float64 (3,) or (4,), gripper int ±1)``.

    Raises:
        ValueError: wrong shape, non-finite values.
    """
    if isinstance(action, tuple) and len(action) == 3:
        pos = _as_finite(action[0], "action[0] (position)", ((3,),))
        orn = _as_finite(action[1], "action[1] (orientation)", ((3,), (4,)))
        grip = _as_finite(action[2], "action[2] (gripper)", ((), (1,))).reshape(-1)[0]
        return pos, orn, gripper_command(grip)
    arr = _as_finite(action, "action", ((C.ACTION_DIM,),))
    return arr[0:3].copy(), arr[3:6].copy(), gripper_command(arr[6])


def to_calvin_action(action: Any, mode: str) -> np.ndarray | tuple[np.ndarray, np.ndarray, int]:
    """Dispatch on ``mode`` (``"relative"`` or ``"absolute"``)."""
    if mode == "relative":
        return relative_action(action)
    if mode == "absolute":
        return absolute_action(action)
    raise ValueError(f"action_mode: expected one of {ACTION_MODES}, got {mode!r}")
