"""A small FAKE of calvin_env's interface, for the always-run tests of ``envs.calvin``.

This is NOT a simulator and NOT calvin_env: no physics, no rendering, no URDFs. It imitates only
the interface facts of calvin_env's ``PlayTableSimEnv`` (HEAD 797142c) that the adapter
translates, so that the translation logic is pinned on machines without calvin_env:

* old gym API: ``reset(robot_obs=None, scene_obs=None) -> obs``, ``step(a) -> (obs, 0, False, info)``;
* nested ``{"rgb_obs": {...}, "depth_obs": {...}, "robot_obs", "scene_obs"}`` with float64 vectors;
* action dispatch by type: a flat 7-vector is relative (×0.02 m / ×0.05 rad added to a target
  pose), a 3-tuple is absolute; the gripper must be exactly ±1, and inside the tuple a Python
  float raises (``len(float)``), as in calvin_env's ``Robot.apply_action``;
* ``get_info()`` with uids and ``getContactPoints``-like tuples (body B at index 2, link B at 4).

Toy dynamics, only so episodes can end: the TCP jumps to the target; while the gripper is closed,
moving the TCP towards the robot (−y) opens the drawer by the same distance; lowering the TCP
below ``BUTTON_Z`` presses the button, which toggles the LED on each press. ``FakeTasks`` judges
the door and light tasks the way calvin_env's ``Tasks`` does (thresholds 0.12 m, light 0→1).
Every action received is kept in ``received`` (the exact object calvin_env would get).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ROBOT_UID, BLOCK_UIDS, TABLE_UID, PLANE_UID = 0, {"block_red": 2, "block_blue": 3, "block_pink": 4}, 5, 6
TABLE_LINKS = {
    "button_link": 0,
    "switch_link": 1,
    "slide_link": 2,
    "drawer_link": 3,
    "led_link": 4,
    "light_link": 5,
    "plank_link": 6,
    "base_link": -1,
}
BUTTON_Z = 0.50
INITIAL_ROBOT_OBS = np.array(
    [
        0.02587,
        -0.23131,
        0.57128,
        3.09045,
        -0.02909,
        1.50014,
        0.08,
        -1.21779,
        1.03988,
        2.11978,
        -2.34205,
        -0.87016,
        1.64119,
        0.55345,
        1.0,
    ]
)


class FakeCamera:
    def __init__(self, name: str, size: int) -> None:
        self.name, self.width, self.height = name, size, size


class FakeRobot:
    def __init__(self) -> None:
        self.gripper_action: Any = 1


def _quat_from_yaw(yaw: float) -> tuple[float, float, float, float]:
    return (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))


class FakePlayTableSimEnv:
    """Interface-level imitation of calvin_env's ``PlayTableSimEnv`` (see the module docstring)."""

    def __init__(self, cameras: tuple[str, ...] = ("static", "gripper"), seed: int = 0) -> None:
        sizes = {"static": 200, "gripper": 84}
        self.cameras = [FakeCamera(c, sizes[c]) for c in cameras]
        self.robot = FakeRobot()
        self.np_random = np.random.default_rng(seed)
        self.received: list[Any] = []
        self.closed = False
        self.steps = 0
        self.robot_obs = INITIAL_ROBOT_OBS.copy()
        self.scene_obs = np.zeros(24)
        self.target_pos = self.robot_obs[:3].copy()
        self.target_orn = self.robot_obs[3:6].copy()
        self.button_pressed = False
        self.reset()

    # --- old gym API -------------------------------------------------------------------------
    def reset(
        self, robot_obs: np.ndarray | None = None, scene_obs: np.ndarray | None = None
    ) -> dict[str, Any]:
        if robot_obs is None:
            self.robot_obs[:14] = INITIAL_ROBOT_OBS[:14]
        else:
            self.robot_obs[:14] = np.asarray(robot_obs)[:14]
        if scene_obs is None:  # random block placement on the desk, like calvin_env's "any"
            self.scene_obs = np.zeros(24)
            for i in range(3):
                self.scene_obs[6 + 6 * i : 9 + 6 * i] = self.np_random.uniform(
                    [0.0, -0.15, 0.46], [0.35, -0.03, 0.46]
                )
                self.scene_obs[11 + 6 * i] = self.np_random.uniform(-np.pi, np.pi)
        else:
            self.scene_obs = np.array(scene_obs, dtype=np.float64)
        self.target_pos = self.robot_obs[:3].copy()
        self.target_orn = self.robot_obs[3:6].copy()
        self.button_pressed = self.robot_obs[2] < BUTTON_Z
        self.steps = 0
        return self.get_obs()

    def step(self, action: Any) -> tuple[dict[str, Any], int, bool, dict[str, Any]]:
        self.received.append(action)
        if isinstance(action, tuple):
            pos, orn, gripper = action
            assert len(pos) == 3 and len(orn) in (3, 4)
            self.target_pos = np.array(pos, dtype=np.float64)
            self.target_orn = np.array(orn[:3], dtype=np.float64)
        else:
            assert len(action) == 7
            a = np.copy(action)
            self.target_pos = self.target_pos + a[:3] * 0.02
            self.target_orn = self.target_orn + a[3:6] * 0.05
            gripper = a[6:]
        # calvin_env: an int passes; otherwise len() is taken (a Python float raises TypeError)
        if not isinstance(gripper, int) and len(gripper) == 1:
            gripper = gripper[0]
        assert gripper in (-1, 1)
        self.robot.gripper_action = gripper
        dy = self.target_pos[1] - self.robot_obs[1]
        self.robot_obs[0:3] = self.target_pos
        self.robot_obs[3:6] = self.target_orn
        self.robot_obs[6] = 0.08 if gripper == 1 else 0.0
        if gripper == -1 and dy < 0:
            self.scene_obs[1] = min(0.22, self.scene_obs[1] - dy)
        pressed = self.robot_obs[2] < BUTTON_Z
        if pressed and not self.button_pressed:
            self.scene_obs[5] = 1.0 - self.scene_obs[5]
        self.button_pressed = pressed
        self.steps += 1
        return self.get_obs(), 0, False, self.get_info()

    def close(self) -> None:
        self.closed = True

    def seed(self, seed: int | None = None) -> list[int | None]:
        self.np_random = np.random.default_rng(seed)
        return [seed]

    # --- observations and info -----------------------------------------------------------------
    def get_state_obs(self) -> dict[str, np.ndarray]:
        robot_obs = self.robot_obs.copy()
        robot_obs[14] = float(np.asarray(self.robot.gripper_action).reshape(-1)[0])
        return {"robot_obs": robot_obs, "scene_obs": self.scene_obs.copy()}

    def get_obs(self) -> dict[str, Any]:
        rgb, depth = {}, {}
        for cam in self.cameras:
            # uint8 image whose content depends on the steps since reset (so copies differ)
            rgb[f"rgb_{cam.name}"] = np.full((cam.height, cam.width, 3), self.steps % 256, dtype=np.uint8)
            depth[f"depth_{cam.name}"] = np.full((cam.height, cam.width), 1.5, dtype=np.float32)
        return {"rgb_obs": rgb, "depth_obs": depth, **self.get_state_obs()}

    def get_info(self) -> dict[str, Any]:
        state = self.get_state_obs()
        scene = state["scene_obs"]
        movable = {}
        for i, (name, uid) in enumerate(BLOCK_UIDS.items()):
            pose = scene[6 + 6 * i : 12 + 6 * i]
            movable[name] = {
                "current_pos": tuple(pose[:3]),
                "current_orn": _quat_from_yaw(float(pose[5])),
                "current_lin_vel": (0.0, 0.0, 0.0),
                "current_ang_vel": (0.0, 0.0, 0.0),
                # resting on the desk top: (flag, bodyA, bodyB, linkA, linkB, ...)
                "contacts": ((0, uid, TABLE_UID, -1, -1),),
                "uid": uid,
            }
        return {
            "robot_info": {
                "uid": ROBOT_UID,
                "gripper_action": self.robot.gripper_action,
                "contacts": ((0, ROBOT_UID, TABLE_UID, 7, 0),) if self.button_pressed else (),
            },
            "scene_info": {
                "fixed_objects": {"table": {"uid": TABLE_UID, "links": dict(TABLE_LINKS), "contacts": ()}},
                "movable_objects": movable,
                "doors": {
                    "base__slide": {"current_state": float(scene[0])},
                    "base__drawer": {"current_state": float(scene[1])},
                },
                "buttons": {"base__button": {"joint_state": float(scene[2]), "logical_state": int(scene[5])}},
                "switches": {
                    "base__switch": {"joint_state": float(scene[3]), "logical_state": int(scene[4])}
                },
                "lights": {
                    "lightbulb": {"logical_state": int(scene[4])},
                    "led": {"logical_state": int(scene[5])},
                },
            },
        }


class FakeTasks:
    """Imitates calvin_env's ``Tasks`` for the door and light tasks only (same thresholds)."""

    def get_task_info(self, start_info: dict[str, Any], end_info: dict[str, Any]) -> set[str]:
        s, e = start_info["scene_info"], end_info["scene_info"]
        done = set()
        for joint, (up, down), thr in (
            ("base__drawer", ("open_drawer", "close_drawer"), 0.12),
            ("base__slide", ("move_slider_left", "move_slider_right"), 0.15),
        ):
            d = e["doors"][joint]["current_state"] - s["doors"][joint]["current_state"]
            if d > thr:
                done.add(up)
            elif d < -thr:
                done.add(down)
        for light, name in (("led", "led"), ("lightbulb", "lightbulb")):
            a, b = s["lights"][light]["logical_state"], e["lights"][light]["logical_state"]
            if (a, b) == (0, 1):
                done.add(f"turn_on_{name}")
            elif (a, b) == (1, 0):
                done.add(f"turn_off_{name}")
        return done

    def get_task_info_for_set(
        self, start_info: dict[str, Any], end_info: dict[str, Any], task_filter: set[str]
    ) -> set[str]:
        return self.get_task_info(start_info, end_info) & set(task_filter)
