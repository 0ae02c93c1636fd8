"""calvin_env's nested observation dict -> the project's flat observation contract.

calvin_env returns ``{"rgb_obs": {"rgb_static", ...}, "depth_obs": {...}, "robot_obs", "scene_obs"}``
with float64 state vectors; the contract (DESIGN.md) is a flat dict with uint8 images and float32
vectors, keyed by :mod:`envs.constants`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from envs import constants as C

CAMERA_SIZES = {"static": C.STATIC_SIZE, "gripper": C.GRIPPER_SIZE}
CAMERA_FAR = {"static": 10.0, "gripper": 2.0}  # m, calvin_env's camera configs
RGB_KEY = {"static": C.RGB_STATIC, "gripper": C.RGB_GRIPPER}
DEPTH_KEY = {"static": C.DEPTH_STATIC, "gripper": C.DEPTH_GRIPPER}


def observation_space(
    cameras: Sequence[str],
    depth: bool,
    sizes: Mapping[str, tuple[int, int]] | None = None,
    far: Mapping[str, float] | None = None,
) -> spaces.Dict:
    """The Dict space for the given cameras.

    Args:
        cameras: camera names (``"static"``, ``"gripper"``).
        depth: whether depth images are included.
        sizes: per camera (height, width); defaults to CALVIN's 200x200 and 84x84.
        far: per camera far plane (m), the depth bound; defaults to CALVIN's 10 m / 2 m.
    """
    sizes = dict(sizes or {})
    far = {**CAMERA_FAR, **(far or {})}
    items: dict[str, spaces.Space[Any]] = {}
    for cam in cameras:
        h, w = sizes.get(cam, (CAMERA_SIZES[cam], CAMERA_SIZES[cam]))
        items[RGB_KEY[cam]] = spaces.Box(0, 255, (h, w, 3), np.uint8)
        if depth:
            items[DEPTH_KEY[cam]] = spaces.Box(0.0, far[cam], (h, w), np.float32)
    items[C.ROBOT_OBS] = spaces.Box(-np.inf, np.inf, (C.ROBOT_OBS_DIM,), np.float32)
    items[C.SCENE_OBS] = spaces.Box(-np.inf, np.inf, (C.SCENE_OBS_DIM,), np.float32)
    return spaces.Dict(items)


def translate_obs(raw: Mapping[str, Any], cameras: Sequence[str], depth: bool) -> dict[str, np.ndarray]:
    """Flatten and cast one calvin_env observation (every array is a fresh copy).

    Args:
        raw: calvin_env's ``get_obs()`` dict.
        cameras: the cameras the env was built with.
        depth: whether to include depth images.

    Returns:
        ``rgb_<cam>`` uint8 (H, W, 3), ``depth_<cam>`` float32 (H, W) when ``depth``,
        ``robot_obs`` float32 (15,), ``scene_obs`` float32 (24,).
    """
    out: dict[str, np.ndarray] = {}
    for cam in cameras:
        rgb = np.asarray(raw["rgb_obs"][RGB_KEY[cam]])
        out[RGB_KEY[cam]] = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8).copy()
        if depth:
            out[DEPTH_KEY[cam]] = np.array(raw["depth_obs"][DEPTH_KEY[cam]], dtype=np.float32)
    for key, dim in ((C.ROBOT_OBS, C.ROBOT_OBS_DIM), (C.SCENE_OBS, C.SCENE_OBS_DIM)):
        vec = np.array(raw[key], dtype=np.float32)
        if vec.shape != (dim,):
            raise ValueError(f"{key}: calvin_env returned shape {vec.shape}, expected ({dim},)")
        out[key] = vec
    return out
