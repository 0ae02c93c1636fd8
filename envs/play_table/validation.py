"""Input checks of the play table: bad actions and states raise ``ValueError`` before physics."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs import constants as C
from envs.play_table.robot import FINGER_OPEN, LOWER_LIMITS, UPPER_LIMITS
from envs.play_table.scene import JOINT_RANGES

JOINT_TOL = 0.05  # rad, robot joints a little past a limit are clipped, further is an error
DOOR_TOL = 0.04  # m, CALVIN's recorded door joints overshoot their limits by up to ~3 cm
WORKSPACE = 1.5  # m, blocks must lie over the floor slab


def as_vector(value: Any, field: str, dim: int) -> np.ndarray:
    """A finite float64 vector of shape (dim,), else ``ValueError`` naming the field."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{field}: expected a float array of shape ({dim},), received {value!r}") from e
    if arr.shape != (dim,):
        raise ValueError(f"{field}: expected shape ({dim},), received shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{field}: expected finite values, received {arr.tolist()}")
    return arr


def check_action(action: Any) -> np.ndarray:
    """The 7-d action as float64, or ``ValueError`` (wrong shape, NaN/inf, not numeric)."""
    return as_vector(action, "action", C.ACTION_DIM)


def check_robot_obs(value: Any) -> np.ndarray:
    """A CALVIN ``robot_obs`` (15,) with joints inside the Panda's limits; returns a clipped copy."""
    arr = as_vector(value, "robot_obs", C.ROBOT_OBS_DIM)
    joints = arr[C.ARM_JOINTS]
    bad = (joints < LOWER_LIMITS - JOINT_TOL) | (joints > UPPER_LIMITS + JOINT_TOL)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"robot_obs[{C.ARM_JOINTS.start + i}] (joint {i}): expected in "
            f"[{LOWER_LIMITS[i]:.4f}, {UPPER_LIMITS[i]:.4f}], received {joints[i]:.4f}"
        )
    width = arr[C.GRIPPER_WIDTH]
    if not -0.005 <= width <= 2 * FINGER_OPEN + 0.005:
        raise ValueError(f"robot_obs[{C.GRIPPER_WIDTH}] (gripper width): expected in [0, 0.08] m, received {width}")
    out = arr.copy()
    out[C.ARM_JOINTS] = np.clip(joints, LOWER_LIMITS, UPPER_LIMITS)
    out[C.GRIPPER_WIDTH] = np.clip(width, 0.0, 2 * FINGER_OPEN)
    return out


def check_scene_obs(value: Any) -> np.ndarray:
    """A CALVIN ``scene_obs`` (24,): joints in range, lights 0/1, blocks over the floor."""
    arr = as_vector(value, "scene_obs", C.SCENE_OBS_DIM)
    out = arr.copy()
    for key, idx in (("slider", C.SLIDER), ("drawer", C.DRAWER), ("button", C.BUTTON), ("switch", C.SWITCH)):
        lo, hi = JOINT_RANGES[key]
        if not lo - DOOR_TOL <= arr[idx] <= hi + DOOR_TOL:
            raise ValueError(f"scene_obs[{idx}] ({key} joint): expected in [{lo}, {hi}] m, received {arr[idx]}")
        out[idx] = np.clip(arr[idx], lo, hi)
    for key, idx in (("lightbulb", C.LIGHTBULB), ("led", C.LED)):
        if arr[idx] not in (0.0, 1.0):
            raise ValueError(f"scene_obs[{idx}] ({key}): expected 0 or 1, received {arr[idx]}")
    for name, sl in C.BLOCK_SLICES.items():
        x, y, z = arr[sl][:3]
        if not (abs(x) <= WORKSPACE and abs(y) <= WORKSPACE and 0.0 <= z <= 2.0):
            raise ValueError(
                f"scene_obs[{sl.start}:{sl.start + 3}] ({name} position): expected |x|, |y| <= {WORKSPACE} "
                f"and 0 <= z <= 2 m, received {[float(x), float(y), float(z)]}"
            )
    return out
