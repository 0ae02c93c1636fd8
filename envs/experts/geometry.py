"""Angle and pose helpers for the scripted experts (pure numpy, no simulator)."""

from __future__ import annotations

import math

import numpy as np


def wrap_angle(a: float | np.ndarray) -> float | np.ndarray:
    """Wrap angles to [-pi, pi).

    Args:
        a: scalar or array of angles, rad.

    Returns:
        The same angles, wrapped.
    """
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi if isinstance(a, np.ndarray) else (
        (a + math.pi) % (2 * math.pi) - math.pi
    )


def quat_to_yaw(quat: np.ndarray) -> float:
    """Yaw (rotation about world z, rad) of an xyzw quaternion, PyBullet order."""
    x, y, z, w = (float(v) for v in quat)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def quat_to_euler(quat: np.ndarray) -> np.ndarray:
    """Extrinsic xyz euler angles (rad), as PyBullet's ``getEulerFromQuaternion``; shape (3,)."""
    x, y, z, w = (float(v) for v in quat)
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    sinp = max(-1.0, min(1.0, 2.0 * (w * y - z * x)))
    pitch = math.asin(sinp)
    yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return np.array([roll, pitch, yaw])


def nearest_equivalent_yaw(yaw: float, reference: float, period: float) -> float:
    """The angle ``yaw + k * period`` closest to ``reference`` (both rad).

    A parallel gripper is symmetric under a half turn, a cube under a quarter turn, so the
    grasp yaw is only defined modulo ``period``; choosing the nearest one keeps wrist
    rotations short.
    """
    k = round((reference - yaw) / period)
    return yaw + k * period


def clamp_yaw(yaw: float, low: float, high: float, period: float) -> float:
    """Shift ``yaw`` by multiples of ``period`` into ``[low, high]`` when possible."""
    while yaw < low and yaw + period <= high + 1e-9:
        yaw += period
    while yaw > high and yaw - period >= low - 1e-9:
        yaw -= period
    return yaw
