"""calvin_env's ``get_info()`` dict -> the backend-neutral :class:`envs.state.SceneInfo`.

calvin_env reports contacts as raw PyBullet ``getContactPoints`` tuples (body B uid at index 2,
link B index at index 4) and keys doors by joint name. The oracle of :mod:`envs.tasks` compares
names, so uids become the scene's object names (``"robot"``, ``"table"``, ``"block_red"`` …) and
link indices become URDF link names (``-1`` is ``"base_link"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from envs.state import BlockInfo, Contact, SceneInfo

ROBOT = "robot"
BASE_LINK = "base_link"
# calvin_env joint names of the two doors, keyed by the names SceneInfo uses
DOOR_JOINTS = {"slider": "base__slide", "drawer": "base__drawer"}
LIGHTS = ("lightbulb", "led")


class NameTable:
    """Uid -> body name and (uid, link index) -> link name for one calvin_env world.

    Args:
        info: one calvin_env ``get_info()`` dict (uids of the robot, fixed and movable objects,
            and the fixed objects' link tables).
        extra_bodies: names of other bodies (the ground plane …), e.g. from PyBullet's
            ``getBodyInfo``; unknown uids become ``"body<uid>"``.
        extra_links: per uid, link index -> name (e.g. the robot's links).
    """

    def __init__(
        self,
        info: Mapping[str, Any],
        extra_bodies: Mapping[int, str] | None = None,
        extra_links: Mapping[int, Mapping[int, str]] | None = None,
    ) -> None:
        scene = info["scene_info"]
        self.robot_uid = int(info["robot_info"]["uid"])
        self.bodies: dict[int, str] = {int(k): v for k, v in (extra_bodies or {}).items()}
        self.links: dict[int, dict[int, str]] = {int(k): dict(v) for k, v in (extra_links or {}).items()}
        self.bodies[self.robot_uid] = ROBOT
        for name, obj in scene.get("fixed_objects", {}).items():
            uid = int(obj["uid"])
            self.bodies[uid] = name
            table = {int(idx): link for link, idx in obj.get("links", {}).items()}
            self.links[uid] = {**self.links.get(uid, {}), **table}
        for name, obj in scene.get("movable_objects", {}).items():
            self.bodies[int(obj["uid"])] = name

    def body(self, uid: int) -> str:
        return self.bodies.get(int(uid), f"body{int(uid)}")

    def link(self, uid: int, index: int) -> str:
        if int(index) == -1:
            return BASE_LINK
        return self.links.get(int(uid), {}).get(int(index), f"link{int(index)}")

    def contacts(self, points: Iterable[Any], exclude_uid: int | None = None) -> frozenset[Contact]:
        """(body, link) names of what ``points`` (``getContactPoints(bodyA=…)`` tuples) touch."""
        return frozenset(
            (self.body(c[2]), self.link(c[2], c[4]))
            for c in points
            if exclude_uid is None or c[2] != exclude_uid
        )


def _vec(value: Any, n: int, name: str) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {arr.shape}")
    return arr


def scene_info_from_calvin(info: Mapping[str, Any], names: NameTable | None = None) -> SceneInfo:
    """Convert one calvin_env ``get_info()`` dict (built with ``use_scene_info=True``).

    Args:
        info: ``{"robot_info": {...}, "scene_info": {...}}`` as calvin_env returns it.
        names: the world's name table; built from ``info`` when not given.

    Returns:
        the :class:`SceneInfo` snapshot (block orientations as xyzw quaternions).
    """
    if "scene_info" not in info:
        raise ValueError(
            "info: expected calvin_env's info with 'scene_info' (build the env with use_scene_info=True)"
        )
    names = names or NameTable(info)
    scene = info["scene_info"]
    doors = {key: float(scene["doors"][joint]["current_state"]) for key, joint in DOOR_JOINTS.items()}
    lights = {key: int(scene["lights"][key]["logical_state"]) for key in LIGHTS}
    blocks = {
        name: BlockInfo(
            pos=_vec(obj["current_pos"], 3, f"{name}.current_pos"),
            orn=_vec(obj["current_orn"], 4, f"{name}.current_orn"),
            lin_vel=_vec(obj["current_lin_vel"], 3, f"{name}.current_lin_vel"),
            ang_vel=_vec(obj["current_ang_vel"], 3, f"{name}.current_ang_vel"),
            contacts=names.contacts(obj["contacts"]),
        )
        for name, obj in scene["movable_objects"].items()
    }
    robot_contacts = names.contacts(info["robot_info"]["contacts"], exclude_uid=names.robot_uid)
    return SceneInfo(doors=doors, lights=lights, blocks=blocks, robot_contacts=robot_contacts)
