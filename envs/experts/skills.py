"""Motion primitives of the scripted experts, written as generators of actions.

A task plan is a Python generator that ``yield``s one 7-d relative action per env step; between
two yields the expert refreshes :class:`ExpertContext` with the newest observation, so every
primitive re-reads privileged state (block poses, handle positions) on every step. Primitives
return a bool (reached / settled) through ``yield from``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from envs.constants import (
    BLOCK_SLICES,
    GRIPPER_CLOSE,
    GRIPPER_OPEN,
    GRIPPER_WIDTH,
    ROBOT_OBS,
    SCENE_OBS,
    TCP_ORN,
    TCP_POS,
)
from envs.experts.motion import MotionController

Skill = Generator[np.ndarray, None, bool]
Vec = np.ndarray | Callable[[], np.ndarray]

# TCP pointing straight down: roll pi, pitch 0 (CALVIN's neutral is close to this)
DOWN_ROLL = np.pi
DOWN_PITCH = 0.0


class ExpertContext:
    """What a plan may read: the latest observation, the env (privileged state) and randomness.

    Args:
        env: the (possibly wrapped) play-table env; only ``env.unwrapped`` is used.
        rng: the expert's random generator.
        ctrl: motion controller mirroring the env's target pose.
    """

    def __init__(self, env: Any, rng: np.random.Generator, ctrl: MotionController) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.rng = rng
        self.ctrl = ctrl
        self.obs: dict[str, np.ndarray] = {}
        self.steps = 0
        self.speed_scale = 1.0

    # --- observation -------------------------------------------------------------------------
    @property
    def robot_obs(self) -> np.ndarray:
        """(15,) robot observation."""
        return np.asarray(self.obs[ROBOT_OBS], dtype=np.float64)

    @property
    def scene_obs(self) -> np.ndarray:
        """(24,) scene observation."""
        return np.asarray(self.obs[SCENE_OBS], dtype=np.float64)

    def tcp_pos(self) -> np.ndarray:
        """(3,) measured TCP position."""
        return self.robot_obs[TCP_POS]

    def tcp_euler(self) -> np.ndarray:
        """(3,) measured TCP euler xyz."""
        return self.robot_obs[TCP_ORN]

    def width(self) -> float:
        """Measured gripper opening, m."""
        return float(self.robot_obs[GRIPPER_WIDTH])

    def block_pos(self, block: str) -> np.ndarray:
        """(3,) position of ``block`` (``"block_red"`` …)."""
        return self.scene_obs[BLOCK_SLICES[block]][0:3]

    def block_euler(self, block: str) -> np.ndarray:
        """(3,) euler xyz of ``block``."""
        return self.scene_obs[BLOCK_SLICES[block]][3:6]

    def landmarks(self) -> dict[str, np.ndarray]:
        """World positions of the desk's parts (handles, button, switch, slots), from the env."""
        return self.env.landmarks()

    def scene_info(self) -> Any:
        """The env's :class:`envs.state.SceneInfo` (contacts)."""
        return self.env.scene_info()

    def uniform(self, low: float, high: float) -> float:
        """One seeded random number in [low, high)."""
        return float(self.rng.uniform(low, high))


def _value(v: Vec) -> np.ndarray:
    return np.asarray(v() if callable(v) else v, dtype=np.float64)


def shifted(point: Callable[[], np.ndarray], offset: np.ndarray) -> Callable[[], np.ndarray]:
    """A moving target: ``point()`` (re-read on every call) plus a fixed (3,) ``offset``."""
    off = np.asarray(offset, dtype=np.float64).copy()
    return lambda: np.asarray(point(), dtype=np.float64) + off


def down_euler(yaw: float) -> np.ndarray:
    """(3,) euler of a downward-pointing TCP with the given yaw."""
    return np.array([DOWN_ROLL, DOWN_PITCH, yaw])


def move(
    ctx: ExpertContext,
    goal: Vec,
    yaw: float | Callable[[], float] | None = None,
    *,
    euler: np.ndarray | None = None,
    speed: float = 0.012,
    gripper: float = GRIPPER_OPEN,
    tol: float = 0.01,
    timeout: int = 150,
    settle: bool = True,
) -> Skill:
    """Move the TCP to ``goal`` (re-evaluated every step when callable), optionally turning.

    ``yaw`` turns a downward-pointing TCP about z; ``euler`` (3,) asks for a full orientation
    instead (tilted wrists reach further). With neither, the orientation is kept.

    Ends when the commanded target has reached the goal and, if ``settle``, the measured TCP is
    within ``tol``; returns False on ``timeout`` steps.
    """
    for _ in range(timeout):
        g = _value(goal)
        e = None if euler is None else np.asarray(euler, dtype=np.float64)
        if yaw is not None:
            e = down_euler(float(yaw() if callable(yaw) else yaw))
        yield ctx.ctrl.step(g, e, speed * ctx.speed_scale, gripper)
        done = ctx.ctrl.distance_to(g) < 1e-4 and (e is None or ctx.ctrl.angle_to(e) < 1e-3)
        if done and (not settle or np.linalg.norm(ctx.tcp_pos() - g) < tol):
            return True
    return False


def hold(ctx: ExpertContext, steps: int, gripper: float | None = None) -> Skill:
    """Keep the current target for ``steps`` steps."""
    g = ctx.ctrl.gripper if gripper is None else gripper
    for _ in range(steps):
        yield ctx.ctrl.step(ctx.ctrl.pos, None, 0.0, g)
    return True


def set_gripper(ctx: ExpertContext, open_: bool, *, min_steps: int = 4, timeout: int = 30) -> Skill:
    """Open or close the gripper in place and wait until the finger width settles.

    Returns:
        True once the width changed by < 0.5 mm over two steps after ``min_steps``.
    """
    g = GRIPPER_OPEN if open_ else GRIPPER_CLOSE
    last = ctx.width()
    still = 0
    for i in range(timeout):
        yield ctx.ctrl.step(ctx.ctrl.pos, None, 0.0, g)
        w = ctx.width()
        still = still + 1 if abs(w - last) < 5e-4 else 0
        last = w
        if i + 1 >= min_steps and still >= 2:
            return True
    return False


SAFE_Z = 0.55  # TCP height from which the hand (and a held block) passes over the desk's blocks
SHELF_LANE_Y = -0.06  # y of the lane in front of the cabinet, used to enter and leave the shelf


def travel(
    ctx: ExpertContext,
    goal: Vec,
    yaw: float | Callable[[], float] | None = None,
    *,
    euler: np.ndarray | None = None,
    speed: float = 0.012,
    gripper: float = GRIPPER_OPEN,
    tol: float = 0.01,
    timeout: int = 150,
) -> Skill:
    """Go to ``goal`` over the top: rise to :data:`SAFE_Z`, cross at that height, descend.

    Short hops (< 6 cm sideways) and goals high enough go straight; the arc keeps the hand and a
    held block clear of the desk edge, the blocks and the drawer front on the way. The shelf
    behind the sliding door is entered and left straight along y, through a lane in front of the
    cabinet, so that the hand never sweeps across the door or its handle.
    """
    g0 = _value(goal)
    far = float(np.linalg.norm(g0[:2] - ctx.ctrl.pos[:2])) > 0.06

    def hop(target: Vec, steps: int) -> Skill:
        return move(ctx, target, yaw, euler=euler, speed=speed, gripper=gripper, settle=False, timeout=steps)

    if far and ctx.ctrl.pos[1] > SHELF_LANE_Y + 0.02 and abs(g0[0] - ctx.ctrl.pos[0]) > 0.03:
        yield from hop(np.array([ctx.ctrl.pos[0], ctx.ctrl.pos[1], max(SAFE_Z, ctx.ctrl.pos[2])]), 60)
        yield from hop(np.array([ctx.ctrl.pos[0], SHELF_LANE_Y, ctx.ctrl.pos[2]]), 80)
    if far and ctx.ctrl.pos[2] < SAFE_Z - 0.005:
        yield from hop(np.array([ctx.ctrl.pos[0], ctx.ctrl.pos[1], SAFE_Z]), 60)
    if far and g0[1] > SHELF_LANE_Y + 0.02 and abs(g0[0] - ctx.ctrl.pos[0]) > 0.03:
        z = max(SAFE_Z, float(g0[2]))
        yield from hop(lambda: np.array([_value(goal)[0], SHELF_LANE_Y, z]), timeout)
    if far and g0[2] < SAFE_Z:
        yield from hop(lambda: np.append(_value(goal)[:2], SAFE_Z), timeout)
    return (yield from move(ctx, goal, yaw, euler=euler, speed=speed, gripper=gripper, tol=tol, timeout=timeout))
