"""Block-handling skills of the scripted experts: which block, which grasp yaw, grasp and release.

Fingers close along the hand's y axis; with the TCP pointing down at yaw ``psi`` that axis is
world ``(sin psi, -cos psi, 0)``, and a block grasped at TCP yaw ``psi`` ends with its own yaw
``psi`` (its x axis, the long one, between the fingertips' edges). The hand itself is ~0.22 m
long along the finger axis and ~0.09 m wide, which matters next to the cabinet walls.
"""

from __future__ import annotations

import math

import numpy as np

from envs.constants import BLOCK_NAMES, BLOCK_SIZES, GRIPPER_ACTION, GRIPPER_CLOSE, TABLE_TOP_Z
from envs.experts.geometry import clamp_yaw, nearest_equivalent_yaw
from envs.experts.skills import ExpertContext, Skill, move, set_gripper, shifted, travel

WRIST_YAW_RANGE = (-0.4, 3.4)  # TCP yaws the wrist reaches comfortably from the neutral pose
MAX_GRASP_WIDTH = 0.065  # widest block side the open fingers (0.08) close on reliably
FINGER_REACH = 0.047  # m from the TCP to the middle of an open finger
APPROACH_DZ = (0.07, 0.11)  # hover height above a grasp, drawn per grasp
HOLD_WIDTH = 0.01  # a closed gripper wider than this holds something
SLOT_Y = 0.0924  # y of the shelf slots behind the sliding door
HAND_HALF_LENGTH = 0.105  # m, hand extent from the TCP along the finger axis
HAND_HALF_WIDTH = 0.045  # m, across it
# free x range for the hand inside the shelf (between the cabinet side wall and the divider of
# the switch compartment), from the embedded desk's geometry
SHELF_X = (-0.416, 0.164)
SHELF_MAX_SKEW = 0.12  # rad, largest wrist turn from pi/2 when grasping in the shelf
SHELF_GRASP_DY = 0.0  # m, TCP offset along y from a shelf block's middle when grasping
SPEED = (0.010, 0.016)  # cruise speeds, m/step, drawn per segment
SLOW = 0.006


def cruise(ctx: ExpertContext) -> float:
    """A seeded cruise speed, m/step."""
    return ctx.uniform(*SPEED)


def block_of(task: str) -> str:
    """The block a task names (``"lift_red_block_table"`` -> ``"block_red"``)."""
    for name in BLOCK_NAMES:
        if f"_{name.removeprefix('block_')}_block" in f"_{task}":
            return name
    raise ValueError(f"task: expected a task naming a block colour, got {task!r}")


def held_block(ctx: ExpertContext) -> str | None:
    """The block between the closed fingers, if any (nearest block centre within 6 cm of the TCP)."""
    if ctx.robot_obs[GRIPPER_ACTION] > 0 or ctx.width() < HOLD_WIDTH:
        return None
    tcp = ctx.tcp_pos()
    best, best_d = None, 0.06
    for name in BLOCK_NAMES:
        d = float(np.linalg.norm(ctx.block_pos(name) - tcp))
        if d < best_d:
            best, best_d = name, d
    return best


def on_desk(ctx: ExpertContext, block: str) -> bool:
    """Whether ``block`` rests on the desk top in front of the cabinet (not shelf, drawer, stack)."""
    pos = ctx.block_pos(block)
    return abs(float(pos[2]) - (TABLE_TOP_Z + 0.02)) < 0.012 and float(pos[1]) < 0.0


def in_shelf(ctx: ExpertContext, block: str) -> bool:
    """Whether ``block`` stands in the shelf behind the sliding door."""
    return float(ctx.block_pos(block)[1]) > 0.03


def hand_axis_x(yaw: float) -> float:
    """|x component| of the hand's long (finger) axis at TCP yaw ``yaw``."""
    return abs(math.sin(yaw))


def grasp_yaw(ctx: ExpertContext, block: str, prefer: float | None = None) -> float:
    """A TCP yaw that closes the fingers across a side of ``block`` they can hold.

    Long blocks are held across their 4 cm side only (period pi); blocks whose long side also
    fits between the fingers may be held either way (period pi/2). Among those, the yaw whose
    open fingers land clear of the other blocks wins, then the one closest to ``prefer``.

    Args:
        prefer: the yaw to stay close to; default the current wrist yaw.
    """
    period = math.pi / 2 if BLOCK_SIZES[block][0] <= MAX_GRASP_WIDTH else math.pi
    ref = float(ctx.ctrl.euler[2]) if prefer is None else prefer
    base = float(ctx.block_euler(block)[2])
    centre = ctx.block_pos(block)[:2]
    others = [ctx.block_pos(b) for b in BLOCK_NAMES if b != block]
    best, best_score = None, -np.inf
    for k in range(-6, 7):
        yaw = base + k * period
        if not WRIST_YAW_RANGE[0] <= yaw <= WRIST_YAW_RANGE[1]:
            continue
        axis = np.array([math.sin(yaw), -math.cos(yaw)])  # the fingers' closing axis
        fingers = [centre + axis * FINGER_REACH, centre - axis * FINGER_REACH]
        clear = min((float(np.linalg.norm(f - o[:2])) for f in fingers for o in others
                     if abs(float(o[2]) - float(ctx.block_pos(block)[2])) < 0.03), default=1.0)
        score = 3.0 * min(clear, 0.07) - abs(yaw - ref) * 0.05
        if score > best_score:
            best, best_score = yaw, score
    if best is None:
        best = clamp_yaw(nearest_equivalent_yaw(base, ref, period), *WRIST_YAW_RANGE, period)
    return float(best)


def shelf_grasp(ctx: ExpertContext, block: str) -> tuple[float, np.ndarray]:
    """Grasp yaw and TCP offset for a block in the shelf, keeping the hand off the cabinet walls.

    The hand must lie along x (along y it hits the cabinet's roof and back wall); next to the
    divider of the switch compartment the TCP then shifts along x, away from the wall, and the
    fingers close off-centre (the block slides between them, as in a person's grasp).
    """
    yaw = grasp_yaw(ctx, block, prefer=math.pi / 2)
    # a squarer wrist: turned, the hand's corners reach the cabinet roof above the slot (and the
    # walls beside it); the closing fingers turn the block into line
    yaw = math.pi / 2 + float(np.clip(yaw - math.pi / 2, -SHELF_MAX_SKEW, SHELF_MAX_SKEW))
    x = float(ctx.block_pos(block)[0])
    reach = hand_reach_x(yaw)
    shift = min(0.0, SHELF_X[1] - reach - x) + max(0.0, SHELF_X[0] + reach - x)
    return yaw, np.array([float(np.clip(shift, -0.018, 0.018)), SHELF_GRASP_DY, 0.0])


def hand_reach_x(yaw: float) -> float:
    """Half the hand's extent along world x at TCP yaw ``yaw``, with a small margin (m)."""
    return HAND_HALF_LENGTH * abs(math.sin(yaw)) + HAND_HALF_WIDTH * abs(math.cos(yaw)) + 0.004


def grasp_block(
    ctx: ExpertContext, block: str, yaw: float | None = None, offset: np.ndarray | None = None, tries: int = 3
) -> Skill:
    """Approach ``block`` from above, descend, close the fingers; retry when the grasp misses.

    Args:
        yaw: TCP yaw for the grasp; default :func:`grasp_yaw` (or :func:`shelf_grasp`).
        offset: (3,) TCP offset from the block centre at the grasp.

    Returns:
        True when the fingers closed on the block.
    """
    for _ in range(tries):
        yield from set_gripper(ctx, True, min_steps=2)
        if yaw is None and in_shelf(ctx, block):
            g_yaw, off = shelf_grasp(ctx, block)
        else:
            g_yaw = grasp_yaw(ctx, block) if yaw is None else yaw
            off = np.zeros(3) if offset is None else np.asarray(offset, dtype=np.float64)
        off = off + [ctx.uniform(-0.003, 0.003), ctx.uniform(-0.003, 0.003), 0.0]
        hover = ctx.uniform(*APPROACH_DZ)
        centre = lambda: ctx.block_pos(block)  # noqa: E731
        yield from travel(ctx, shifted(centre, off + [0, 0, hover]), g_yaw, speed=cruise(ctx), tol=0.015)
        yield from move(ctx, shifted(centre, off), g_yaw, speed=SLOW, tol=0.006, timeout=60)
        yield from set_gripper(ctx, False, min_steps=6)
        if ctx.width() > HOLD_WIDTH:
            return True
        yield from move(ctx, ctx.ctrl.pos + [0, 0, 0.05], speed=SLOW, gripper=GRIPPER_CLOSE, settle=False)
    return False


def release_and_retreat(ctx: ExpertContext, up: float = 0.08) -> Skill:
    """Open the fingers, then back off upwards."""
    yield from set_gripper(ctx, True)
    yield from move(ctx, ctx.ctrl.pos + [0, 0, up], speed=cruise(ctx), settle=False, timeout=60)
    return True
