"""CALVIN's task oracle: which of the 34 tasks happened between two scene snapshots.

A task is a change between ``start_info`` (taken when the subtask began) and ``current_info``,
judged on door joints, light states, block poses/velocities and NAMED contacts (SPEC §4):

* rotate_{c}_block_{right,left}: relative rotation end * start^-1 as xyz euler (deg): z in
  (-180, -60) right / (60, 180) left, |x| < 30 and |y| < 30; moved <= 0.10 m; at the end the block
  touches something other than the robot.
* push_{c}_block_{right,left}: world-x displacement > 0.10 (right) / < -0.10 (left); non-robot
  contacts at start and end, start contact set (body, link) a subset of the end set.
* move_slider_{left,right}: door joint +0.15 / -0.15; open/close_drawer: drawer joint +/-0.12.
* lift_{c}_block_{table,slider,drawer}: z rises > 0.05 / 0.03 / 0.05; at the end the block's only
  contact body is the robot; at the start it touched the desk's base_link / plank_link /
  drawer_link.
* place_in_{slider,drawer}: at the start the robot touches exactly one body, a block whose only
  contact body is the robot; at the end the robot does not touch it and it touches plank_link /
  drawer_link.
* stack_block: a block with no block contact at the start touches a block, and only blocks, at the
  end, with every velocity component < 1. unstack_block: a block touching only blocks (at least
  one) at the start touches no block at the end; its start velocity components < 1.
* turn_{on,off}_{lightbulb,led}: logical state 0 -> 1 / 1 -> 0.
* push_into_drawer: a block whose start contacts are exactly {(table, base_link)} touches
  (table, drawer_link) at the end; the robot touches it neither at the start nor at the end (the
  SPEC's wording; calvin_env's own check of the robot is a no-op because it compares an id with
  (id, link) pairs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from envs.constants import BLOCK_COLORS, TASK_NAMES
from envs.state import BlockInfo, SceneInfo

__all__ = ["TASK_NAMES", "TaskOracle", "relative_rotation_deg"]

ROBOT = "robot"
TABLE = "table"
ROTATE_Z_DEG = 60.0
ROTATE_XY_DEG = 30.0
ROTATE_MAX_MOVE = 0.10
PUSH_DIST = 0.10
DOOR_DIST = {"slider": 0.15, "drawer": 0.12}
LIFT_DIST = {"table": 0.05, "slider": 0.03, "drawer": 0.05}
LIFT_LINK = {"table": "base_link", "slider": "plank_link", "drawer": "drawer_link"}
MAX_VEL = 1.0
# With |x|, |y| < 30 deg and 60 < |z| < 180 deg the whole rotation angle is at least ~51 deg
# (trace bound on Rz Ry Rx), so a rotation below 45 deg, |<q_start, q_end>| > cos(22.5 deg), can
# be rejected without computing euler angles: an exact shortcut that keeps step() cheap.
_SMALL_ROTATION_DOT = float(np.cos(np.radians(22.5)))

Check = Callable[[SceneInfo, SceneInfo], bool]


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = (float(v) for v in q)
    n = x * x + y * y + z * z + w * w
    s = 2.0 / n if n > 0 else 0.0
    return np.array(
        [
            [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
            [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
            [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
        ]
    )


def relative_rotation_deg(start_quat: np.ndarray, end_quat: np.ndarray) -> np.ndarray:
    """Extrinsic xyz euler angles (deg) of ``end * start^-1`` (scipy's ``as_euler("xyz")``)."""
    m = _quat_to_matrix(end_quat) @ _quat_to_matrix(start_quat).T
    # R = Rz(c) Ry(b) Rx(a) for extrinsic x-y-z angles (a, b, c)
    b = np.arcsin(np.clip(-m[2, 0], -1.0, 1.0))
    if abs(np.cos(b)) > 1e-6:
        a = np.arctan2(m[2, 1], m[2, 2])
        c = np.arctan2(m[1, 0], m[0, 0])
    else:  # gimbal lock: put everything in a
        a = np.arctan2(-m[1, 2], m[1, 1])
        c = 0.0
    return np.degrees(np.array([a, b, c]))


def _bodies(block: BlockInfo) -> frozenset[str]:
    return block.touching_bodies()


def _non_robot(block: BlockInfo) -> frozenset[tuple[str, str]]:
    return frozenset(c for c in block.contacts if c[0] != ROBOT)


def _rotate(block: str, sign: int) -> Check:
    def check(start: SceneInfo, end: SceneInfo) -> bool:
        s, e = start.blocks[block], end.blocks[block]
        if np.linalg.norm(np.asarray(e.pos) - np.asarray(s.pos)) > ROTATE_MAX_MOVE:
            return False
        if not (_bodies(e) - {ROBOT}):
            return False
        if abs(float(np.dot(s.orn, e.orn))) > _SMALL_ROTATION_DOT:
            return False
        x, y, z = relative_rotation_deg(s.orn, e.orn)
        in_z = ROTATE_Z_DEG < z < 180.0 if sign > 0 else -180.0 < z < -ROTATE_Z_DEG
        return bool(in_z and abs(x) < ROTATE_XY_DEG and abs(y) < ROTATE_XY_DEG)

    return check


def _push(block: str, sign: int) -> Check:
    def check(start: SceneInfo, end: SceneInfo) -> bool:
        s, e = start.blocks[block], end.blocks[block]
        sc, ec = _non_robot(s), _non_robot(e)
        if not (sc and ec and sc <= ec):
            return False
        dx = float(e.pos[0] - s.pos[0])
        return dx > PUSH_DIST if sign > 0 else dx < -PUSH_DIST

    return check


def _door(joint: str, sign: int) -> Check:
    def check(start: SceneInfo, end: SceneInfo) -> bool:
        d = end.doors[joint] - start.doors[joint]
        return d > DOOR_DIST[joint] if sign > 0 else d < -DOOR_DIST[joint]

    return check


def _lift(block: str, surface: str) -> Check:
    def check(start: SceneInfo, end: SceneInfo) -> bool:
        s, e = start.blocks[block], end.blocks[block]
        return bool(
            float(e.pos[2] - s.pos[2]) > LIFT_DIST[surface]
            and _bodies(e) == {ROBOT}
            and (TABLE, LIFT_LINK[surface]) in s.contacts
        )

    return check


def _place(link: str) -> Check:
    def check(start: SceneInfo, end: SceneInfo) -> bool:
        held = {b for b, _ in start.robot_contacts}
        if len(held) != 1:
            return False
        name = next(iter(held))
        if name not in start.blocks or name in {b for b, _ in end.robot_contacts}:
            return False
        return _bodies(start.blocks[name]) == {ROBOT} and (TABLE, link) in end.blocks[name].contacts

    return check


def _slow(block: BlockInfo) -> bool:
    return bool(np.all(np.abs(block.lin_vel) < MAX_VEL) and np.all(np.abs(block.ang_vel) < MAX_VEL))


def _stack(start: SceneInfo, end: SceneInfo) -> bool:
    names = frozenset(start.blocks)
    for b in start.blocks:
        sb, eb = _bodies(start.blocks[b]), _bodies(end.blocks[b])
        if not (sb & names) and (eb & names) and not (eb - names) and _slow(end.blocks[b]):
            return True
    return False


def _unstack(start: SceneInfo, end: SceneInfo) -> bool:
    names = frozenset(start.blocks)
    for b in start.blocks:
        sb, eb = _bodies(start.blocks[b]), _bodies(end.blocks[b])
        if (sb & names) and not (sb - names) and not (eb & names) and _slow(start.blocks[b]):
            return True
    return False


def _light(light: str, before: int, after: int) -> Check:
    def check(start: SceneInfo, end: SceneInfo) -> bool:
        return start.lights[light] == before and end.lights[light] == after

    return check


def _push_into_drawer(start: SceneInfo, end: SceneInfo) -> bool:
    for b in start.blocks:
        s, e = start.blocks[b], end.blocks[b]
        if ROBOT in _bodies(s) or ROBOT in _bodies(e):
            continue
        if set(s.contacts) == {(TABLE, "base_link")} and (TABLE, "drawer_link") in e.contacts:
            return True
    return False


def _build() -> dict[str, Check]:
    checks: dict[str, Check] = {}
    for c in BLOCK_COLORS:
        block = f"block_{c}"
        checks[f"rotate_{c}_block_right"] = _rotate(block, -1)
        checks[f"rotate_{c}_block_left"] = _rotate(block, +1)
        checks[f"push_{c}_block_right"] = _push(block, +1)
        checks[f"push_{c}_block_left"] = _push(block, -1)
        for surface in ("table", "slider", "drawer"):
            checks[f"lift_{c}_block_{surface}"] = _lift(block, surface)
    checks["move_slider_left"] = _door("slider", +1)
    checks["move_slider_right"] = _door("slider", -1)
    checks["open_drawer"] = _door("drawer", +1)
    checks["close_drawer"] = _door("drawer", -1)
    checks["place_in_slider"] = _place("plank_link")
    checks["place_in_drawer"] = _place("drawer_link")
    checks["stack_block"] = _stack
    checks["unstack_block"] = _unstack
    checks["turn_on_lightbulb"] = _light("lightbulb", 0, 1)
    checks["turn_off_lightbulb"] = _light("lightbulb", 1, 0)
    checks["turn_on_led"] = _light("led", 0, 1)
    checks["turn_off_led"] = _light("led", 1, 0)
    checks["push_into_drawer"] = _push_into_drawer
    assert set(checks) == set(TASK_NAMES)
    return {t: checks[t] for t in TASK_NAMES}


class TaskOracle:
    """CALVIN's 34-task oracle on :class:`~envs.state.SceneInfo` snapshots (backend neutral)."""

    def __init__(self) -> None:
        self._checks = _build()

    @property
    def task_names(self) -> tuple[str, ...]:
        return TASK_NAMES

    def completed(self, start_info: SceneInfo, current_info: SceneInfo, tasks: Iterable[str] | None = None) -> set[str]:
        """Tasks whose success condition holds between the two snapshots.

        Args:
            start_info: snapshot at the start of the subtask.
            current_info: snapshot now.
            tasks: only check these (default: all 34). Unknown names raise ``ValueError``.

        Returns:
            The set of completed task names.
        """
        names = TASK_NAMES if tasks is None else tuple(tasks)
        for t in names:
            if t not in self._checks:
                raise ValueError(f"tasks: expected names from envs.constants.TASK_NAMES, received {t!r}")
        return {t for t in names if self._checks[t](start_info, current_info)}
