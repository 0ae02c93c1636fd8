"""Per-task plans of the scripted experts, and the dispatcher over CALVIN's 34 tasks.

Each plan is a generator ``plan(ctx, task)`` that yields relative actions (see
:mod:`envs.experts.skills`). Targets come from privileged state (``scene_obs`` block poses, the
env's landmarks) and are re-read every step. Plans retry a missed grasp or press a few times, as
a person would, within CALVIN's 360-step budget. Every number below was tuned on the embedded
play table (``envs.play_table``); the geometry it relies on is named where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from envs.constants import BLOCK_HEIGHT, BLOCK_NAMES, BLOCK_SIZES, GRIPPER_CLOSE, LED, SLIDER, TASK_NAMES
from envs.experts.blocks import (
    HOLD_WIDTH,
    SHELF_X,
    SLOW,
    block_of,
    cruise,
    grasp_block,
    hand_reach_x,
    held_block,
    on_desk,
    release_and_retreat,
)
from envs.experts.geometry import nearest_equivalent_yaw, wrap_angle
from envs.experts.skills import (
    SAFE_Z,
    ExpertContext,
    Skill,
    down_euler,
    hold,
    move,
    set_gripper,
    shifted,
    travel,
)

Plan = Callable[[ExpertContext, str], Skill]

PUSH_DIST = (0.15, 0.18)  # push tasks need > 0.10 m of block travel
ROTATE_ANGLE = (1.45, 1.75)  # rotate tasks need 60-180 deg; a quarter turn and a bit
WRIST_YAW_RANGE = (-0.4, 3.4)
# the switch bar slides up the slanted panel along SWITCH_AXIS; OUT is the panel's normal
SWITCH_AXIS = np.array([0.0, 0.5, 0.866])
SWITCH_OUT = np.array([0.0, -0.866, 0.5])
SWITCH_EULER = (math.pi - 0.4, -0.3, 1.5)  # wrist tilted away from the robot: reaches the upper end
SWITCH_X_OFFSET = (0.015, -0.03)  # where along the bar to push (on, off), from its middle
# drawer: hook the closed fingers behind the handle bar with the fingertips tilted towards the
# desk, so that the hand stays clear of the desk's front edge
DRAWER_HOOK_EULER = (math.pi, -0.35, math.pi / 2)
DRAWER_GAP = 0.04  # from the handle bar's middle to the middle of the gap behind it, +y
DRAWER_HALF_DEPTH = 0.10  # from the drawer's middle to its front panel's inner face, -y
DRAWER_HALF_WIDTH = 0.19  # from the drawer's middle to its side walls' inner faces, x
DESK_FRONT_Y = -0.18  # the desk top's front edge
DOOR_X = (-0.1, 0.18)  # world x the sliding door spans when its joint is 0 (it moves towards -x)
SLIDER_MAX = 0.28  # the door's joint range is 0 .. 0.28 m
NEUTRAL_YAW = 1.5  # CALVIN's neutral TCP yaw
HELD_BLOCK_TASKS = ("place_in_slider", "place_in_drawer", "stack_block")  # start with a block in hand
DRAWER_RELEASE_Z = 0.39  # lowest TCP height that keeps the hand above the desk top


# --- lift, rotate, push ----------------------------------------------------------------------------
def plan_lift(ctx: ExpertContext, task: str) -> Skill:
    """lift_<c>_block_{table,slider,drawer}: grasp from above, raise ~12 cm and hold."""
    block = block_of(task)
    if task.endswith("_slider"):
        g = ctx.ctrl.gripper
        yield from clear_door(ctx, float(ctx.block_pos(block)[0]))
        if ctx.ctrl.gripper != g:
            yield from set_gripper(ctx, True, min_steps=2)
    for _ in range(2):  # a block that slips out is grasped again
        if not (yield from grasp_block(ctx, block)):
            return False
        top = ctx.ctrl.pos + [ctx.uniform(-0.01, 0.01), -ctx.uniform(0.0, 0.03), ctx.uniform(0.10, 0.14)]
        yield from move(ctx, top, speed=SLOW * 1.5, gripper=GRIPPER_CLOSE, timeout=120)
        if ctx.width() > HOLD_WIDTH:
            break
    yield from hold(ctx, 60, GRIPPER_CLOSE)
    return True


def _rotation_grasp_yaw(ctx: ExpertContext, block: str, angle: float) -> float:
    # a grasp yaw (block yaw + k pi) from which the wrist can still turn by `angle`
    base = float(ctx.block_euler(block)[2])
    cands = [base + k * math.pi for k in range(-3, 4)]
    lo, hi = WRIST_YAW_RANGE
    ok = [y for y in cands if lo <= y <= hi and lo <= y + angle <= hi]
    if not ok:
        return min(cands, key=lambda y: abs(y + angle / 2 - 1.5))
    return min(ok, key=lambda y: abs(float(wrap_angle(y - float(ctx.ctrl.euler[2])))))


def plan_rotate(ctx: ExpertContext, task: str) -> Skill:
    """rotate_<c>_block_{left,right}: grasp, lift a little, turn a quarter, set down, release."""
    block = block_of(task)
    sign = 1.0 if task.endswith("left") else -1.0
    angle = sign * ctx.uniform(*ROTATE_ANGLE)
    yaw = _rotation_grasp_yaw(ctx, block, angle)
    if not (yield from grasp_block(ctx, block, yaw=yaw)):
        return False
    yield from move(ctx, ctx.ctrl.pos + [0, 0, 0.03], speed=SLOW, gripper=GRIPPER_CLOSE, settle=False)
    yield from move(ctx, ctx.ctrl.pos, yaw + angle, speed=SLOW, gripper=GRIPPER_CLOSE, timeout=120)
    # set it down to just above the desk and let go: the oracle then fires after the release,
    # so that the next subtask does not start with the block in hand
    yield from move(ctx, ctx.ctrl.pos - [0, 0, 0.023], speed=SLOW, gripper=GRIPPER_CLOSE, settle=False)
    yield from release_and_retreat(ctx)
    yield from hold(ctx, 30)
    return True


def plan_push(ctx: ExpertContext, task: str) -> Skill:
    """push_<c>_block_{left,right}: closed fingers behind the block, push along world x."""
    block = block_of(task)
    sign = 1.0 if task.endswith("right") else -1.0
    yield from set_gripper(ctx, False, min_steps=2)
    start = ctx.block_pos(block).copy()
    behind = np.array([-sign * 0.05, ctx.uniform(-0.005, 0.005), 0.005])
    yield from travel(ctx, start + behind + [0, 0, 0.08], speed=cruise(ctx), gripper=GRIPPER_CLOSE)
    yield from move(ctx, start + behind, speed=SLOW, gripper=GRIPPER_CLOSE, tol=0.008)
    goal = start + behind + [sign * ctx.uniform(*PUSH_DIST), 0, 0]
    yield from move(ctx, goal, speed=SLOW * 1.3, gripper=GRIPPER_CLOSE, timeout=160)
    yield from move(ctx, ctx.ctrl.pos + [-sign * 0.02, 0, 0.08], speed=cruise(ctx), gripper=GRIPPER_CLOSE,
                    settle=False)
    yield from hold(ctx, 30, GRIPPER_CLOSE)
    return True


# --- doors ---------------------------------------------------------------------------------------
def _push_door(ctx: ExpertContext, sign: float, dist: float) -> Skill:
    # closed fingers beside the door's handle, then slide the door along x by `dist`; a block in
    # the hand pushes the handle's upper end instead (the block hangs beside it)
    handle = lambda: ctx.landmarks()["slider_handle"]  # noqa: E731
    if held_block(ctx) is not None:
        behind = np.array([-sign * 0.045, 0.0, 0.0]) + SWITCH_AXIS * 0.055
    else:
        behind = np.array([-sign * 0.03, 0.0, ctx.uniform(-0.01, 0.01)])
    g = ctx.ctrl.gripper
    yield from travel(ctx, lambda: handle() + behind + [0, -0.02, 0.06], speed=cruise(ctx), gripper=g, tol=0.012)
    yield from move(ctx, lambda: handle() + behind, speed=SLOW, gripper=g)
    # aim at where the handle will be once the door reached its goal (inside the joint's range,
    # so that the goal stays reachable), re-read every step
    q_goal = float(np.clip(float(ctx.scene_obs[SLIDER]) - sign * dist, 0.005, SLIDER_MAX - 0.005))
    yield from move(ctx, lambda: handle() + behind + [sign * abs(q_goal - float(ctx.scene_obs[SLIDER])), 0, 0],
                    speed=SLOW * 1.5, gripper=g, timeout=150, tol=0.01)
    yield from move(ctx, ctx.ctrl.pos + [0, -0.05, 0.06], speed=cruise(ctx), gripper=g, settle=False)
    return True


def plan_slider(ctx: ExpertContext, task: str) -> Skill:
    """move_slider_{left,right}: closed fingers against the door's handle, slide it along x."""
    sign = -1.0 if task.endswith("left") else 1.0  # left = towards -x (the joint increases)
    yield from set_gripper(ctx, False, min_steps=2)
    yield from _push_door(ctx, sign, ctx.uniform(0.2, 0.23))
    yield from hold(ctx, 30, GRIPPER_CLOSE)
    return True


def clear_door(ctx: ExpertContext, slot_x: float) -> Skill:
    """Slide the door fully away when it half covers the shelf slot at ``slot_x``.

    A door moved just past the oracle's 0.15 m (the previous subtask ends right there) still
    overhangs the slot the hand must reach into; a person would push it the rest of the way.
    """
    q = float(ctx.scene_obs[SLIDER])
    reach = hand_reach_x(math.pi / 2)
    if slot_x > DOOR_X[0]:  # right slot: the door must sit left of it
        need = DOOR_X[1] - slot_x + reach
        if 0.1 < q < need:
            yield from _push_door(ctx, -1.0, min(SLIDER_MAX, need + 0.03) - q + 0.01)
    else:
        need = DOOR_X[0] - slot_x - reach
        if need < q < 0.18:
            yield from _push_door(ctx, 1.0, q - max(0.0, need - 0.03) + 0.01)
    return True


def plan_drawer(ctx: ExpertContext, task: str) -> Skill:
    """open_drawer: hook behind the handle bar and pull; close_drawer: push the bar along +y."""
    handle = lambda: ctx.landmarks()["drawer_handle"]  # noqa: E731
    dx = ctx.uniform(-0.04, 0.04)
    yield from set_gripper(ctx, False, min_steps=2)
    if task == "open_drawer":
        orn = np.array(DRAWER_HOOK_EULER) + [0.0, ctx.uniform(-0.05, 0.05), ctx.uniform(-0.1, 0.1)]
        gap = np.array([dx, DRAWER_GAP, -0.005])
        yield from travel(ctx, lambda: handle() + gap + [0, 0, 0.07], euler=orn, speed=cruise(ctx),
                          gripper=GRIPPER_CLOSE, tol=0.012)
        yield from move(ctx, lambda: handle() + gap, euler=orn, speed=SLOW, gripper=GRIPPER_CLOSE,
                        tol=0.008, timeout=60)
        yield from move(ctx, handle() + gap + [0, -ctx.uniform(0.17, 0.2), 0], speed=SLOW * 1.3,
                        gripper=GRIPPER_CLOSE, timeout=200)
        yield from move(ctx, ctx.ctrl.pos + [0, 0.01, 0.08], speed=cruise(ctx), gripper=GRIPPER_CLOSE,
                        settle=False)
    else:
        front = np.array([dx, -0.035, 0.0])
        yield from travel(ctx, lambda: handle() + front + [0, -0.02, 0.06], speed=cruise(ctx),
                          gripper=GRIPPER_CLOSE, tol=0.012)
        yield from move(ctx, lambda: handle() + front, speed=SLOW, gripper=GRIPPER_CLOSE)
        yield from move(ctx, handle() + front + [0, ctx.uniform(0.17, 0.19), 0], speed=SLOW * 1.3,
                        gripper=GRIPPER_CLOSE, timeout=200)
        yield from move(ctx, ctx.ctrl.pos + [0, -0.05, 0.06], speed=cruise(ctx), gripper=GRIPPER_CLOSE,
                        settle=False)
    yield from hold(ctx, 30, GRIPPER_CLOSE)
    return True


# --- lights --------------------------------------------------------------------------------------
def plan_button(ctx: ExpertContext, task: str) -> Skill:
    """turn_{on,off}_led: press the button from above until the LED toggles, then lift off."""
    button = lambda: ctx.landmarks()["button_top"]  # noqa: E731
    led0 = float(ctx.scene_obs[LED])
    yield from set_gripper(ctx, False, min_steps=2)
    for _ in range(3):
        off = np.array([ctx.uniform(-0.008, 0.008), ctx.uniform(-0.008, 0.008), ctx.uniform(0.05, 0.07)])
        yield from travel(ctx, shifted(button, off), speed=cruise(ctx), gripper=GRIPPER_CLOSE, tol=0.012)
        yield from move(ctx, button() + off * [1, 1, 0] + [0, 0, -0.03], speed=SLOW, gripper=GRIPPER_CLOSE,
                        settle=False, timeout=60)
        yield from hold(ctx, 4, GRIPPER_CLOSE)
        yield from move(ctx, ctx.ctrl.pos + [0, 0, 0.08], speed=cruise(ctx), gripper=GRIPPER_CLOSE,
                        settle=False)
        if float(ctx.scene_obs[LED]) != led0:
            break
    yield from hold(ctx, 30, GRIPPER_CLOSE)
    return True


def plan_switch(ctx: ExpertContext, task: str) -> Skill:
    """turn_{on,off}_lightbulb: push the switch bar along the slanted panel past half its travel.

    The bar's upper end lies at the edge of the arm's reach, so the wrist tilts away from the
    robot. Off: push left of the bar's middle (nearer the robot); on: right of it, where the hand
    clears the switch compartment's divider wall.
    """
    sign = 1.0 if task == "turn_on_lightbulb" else -1.0
    dx = SWITCH_X_OFFSET[0 if sign > 0 else 1] + ctx.uniform(-0.005, 0.005)
    switch = lambda: ctx.landmarks()["switch_handle"] + [dx, 0, 0]  # noqa: E731
    travel = SWITCH_AXIS * sign
    out = SWITCH_OUT
    orn = np.array(SWITCH_EULER) + [ctx.uniform(-0.05, 0.05), 0.0, ctx.uniform(-0.1, 0.1)]
    yield from set_gripper(ctx, False, min_steps=2)
    # start beside the bar along the panel; off: a little behind its middle so it cannot slip by
    before = -travel * ctx.uniform(0.03, 0.04) + out * (0.004 if sign > 0 else -0.012)
    yield from move(ctx, lambda: switch() + before + out * 0.05, euler=orn, speed=cruise(ctx),
                    gripper=GRIPPER_CLOSE, tol=0.015)
    yield from move(ctx, lambda: switch() + before, euler=orn, speed=SLOW, gripper=GRIPPER_CLOSE, tol=0.01)
    yield from move(ctx, switch() + travel * ctx.uniform(0.07, 0.08) - out * 0.012, speed=SLOW,
                    gripper=GRIPPER_CLOSE, timeout=100, settle=False)
    yield from move(ctx, ctx.ctrl.pos + out * 0.06, speed=cruise(ctx), gripper=GRIPPER_CLOSE, settle=False)
    yield from hold(ctx, 30)
    return True


# --- place, stack, unstack, push into drawer ---------------------------------------------------
def _place_at(ctx: ExpertContext, spot: Callable[[], np.ndarray], release_dz: float,
              yaw: float | None = None) -> Skill:
    yield from travel(ctx, lambda: spot() + [0, 0, 0.08], yaw, speed=cruise(ctx) * 0.8, gripper=GRIPPER_CLOSE,
                      tol=0.012)
    yield from move(ctx, lambda: spot() + [0, 0, release_dz], speed=SLOW, gripper=GRIPPER_CLOSE, tol=0.008,
                    timeout=80)
    yield from release_and_retreat(ctx)
    yield from hold(ctx, 30)
    return True


def _drawer_spot(ctx: ExpertContext, half_depth: float = 0.02) -> np.ndarray:
    """Where a block (``half_depth`` m deep in y) drops into the drawer's part in front of the desk.

    After open_drawer the drawer may be open just past the oracle's 0.12 m, so that only its
    front part sticks out of the desk; the release stays high enough for the hand to clear the
    desk top.
    """
    centre = ctx.landmarks()["drawer_center"]
    front = centre[1] - DRAWER_HALF_DEPTH + half_depth + 0.006
    back = DESK_FRONT_Y - half_depth - 0.006
    y = min(back, max(front, centre[1])) if front <= back else 0.5 * (front + back)
    return np.array([centre[0], y, max(centre[2] + 0.02, DRAWER_RELEASE_Z)])


def plan_place(ctx: ExpertContext, task: str) -> Skill:
    """place_in_{slider,drawer}: carry the held block over the free slot / the drawer, release."""
    if task == "place_in_drawer":
        # the block goes in lengthwise along y, so that a later grasp (hand along x) stays clear of
        # the desk edge
        held = held_block(ctx)
        half = 0.5 * BLOCK_SIZES[held][0] if held is not None else 0.02
        off = np.array([ctx.uniform(-0.04, 0.04), 0.0, 0.0])
        yaw = float(np.clip(nearest_equivalent_yaw(math.pi / 2, float(ctx.ctrl.euler[2]), math.pi),
                            *WRIST_YAW_RANGE))
        return (yield from _place_at(ctx, lambda: _drawer_spot(ctx, half) + off, 0.0, yaw))
    key = "slot_right" if float(ctx.scene_obs[SLIDER]) > 0.14 else "slot_left"
    yield from clear_door(ctx, float(ctx.landmarks()[key][0]))
    spot = _shelf_spot(ctx)
    return (yield from _place_at(ctx, lambda: spot, 0.012))


def _shelf_spot(ctx: ExpertContext) -> np.ndarray:
    """Where to set the held block down in the shelf: beside the door, away from other blocks.

    The door covers the slot on its own side, so the free slot is the other one; when another
    block already stands there the block goes beside it, within the stretch of shelf the hand
    can reach between the door and the cabinet walls.
    """
    lm = ctx.landmarks()
    door = float(ctx.scene_obs[SLIDER])
    key = "slot_right" if door > 0.14 else "slot_left"
    slot = lm[key].copy()
    reach = hand_reach_x(float(ctx.ctrl.euler[2])) + 0.004
    door_lo, door_hi = DOOR_X[0] - door, DOOR_X[1] - door  # world x the door spans
    lo, hi = SHELF_X[0] + reach, SHELF_X[1] - reach
    if door_hi < slot[0]:
        lo = max(lo, door_hi + reach)
    else:
        hi = min(hi, door_lo - reach)
    held = held_block(ctx)
    others = [ctx.block_pos(b)[0] for b in BLOCK_NAMES if b != held and abs(ctx.block_pos(b)[1] - slot[1]) < 0.06]
    xs = np.linspace(lo, hi, 25) if hi > lo else np.array([0.5 * (lo + hi)])

    def score(x: float) -> float:
        gap = min([abs(x - o) for o in others], default=1.0)
        return min(gap, 0.09) - 0.05 * abs(x - slot[0])

    slot[0] = float(max(xs, key=score)) + ctx.uniform(-0.004, 0.004)
    return slot


def plan_stack(ctx: ExpertContext, task: str) -> Skill:
    """stack_block: put the held block on top of another block standing on the desk."""
    held = held_block(ctx)
    others = [b for b in BLOCK_NAMES if b != held]
    desk = [b for b in others if on_desk(ctx, b)] or others
    tcp = ctx.tcp_pos()
    target = min(desk, key=lambda b: float(np.linalg.norm(ctx.block_pos(b)[:2] - tcp[:2])))
    return (yield from _place_at(ctx, lambda: ctx.block_pos(target) + [0, 0, BLOCK_HEIGHT], 0.006))


def plan_unstack(ctx: ExpertContext, task: str) -> Skill:
    """unstack_block: take the top block off the stack and set it down on the free desk."""
    top = max(BLOCK_NAMES, key=lambda b: float(ctx.block_pos(b)[2]))
    if not (yield from grasp_block(ctx, top)):
        return False
    base = ctx.block_pos(top).copy()
    side = np.array([ctx.uniform(-0.02, 0.02), 0.09 if base[1] < -0.09 else -0.09, 0.0])
    yield from move(ctx, ctx.ctrl.pos + [0, 0, 0.06], speed=SLOW * 1.5, gripper=GRIPPER_CLOSE, settle=False)
    yield from travel(ctx, base + side + [0, 0, 0.02], speed=SLOW * 1.5, gripper=GRIPPER_CLOSE)
    yield from move(ctx, base + side - [0, 0, BLOCK_HEIGHT - 0.004], speed=SLOW, gripper=GRIPPER_CLOSE,
                    timeout=60)
    yield from release_and_retreat(ctx)
    yield from hold(ctx, 30)
    return True


def plan_push_into_drawer(ctx: ExpertContext, task: str) -> Skill:
    """push_into_drawer: push the desk block towards the open drawer, off the desk's front edge."""
    desk = [b for b in BLOCK_NAMES if on_desk(ctx, b)] or list(BLOCK_NAMES)
    goal_xy = _drawer_spot(ctx, 0.02)[:2]
    block = min(desk, key=lambda b: float(np.linalg.norm(ctx.block_pos(b)[:2] - goal_xy)))
    yield from set_gripper(ctx, False, min_steps=2)
    start = ctx.block_pos(block).copy()
    if abs(float(start[0] - goal_xy[0])) < DRAWER_HALF_WIDTH - 0.05:
        # straight towards the robot: a diagonal push slides off a long block's corner
        goal_xy = np.array([start[0], goal_xy[1]])
    direction = np.append(goal_xy - start[:2], 0.0)
    direction /= max(float(np.linalg.norm(direction)), 1e-6)
    behind = -direction * 0.05 + [0, 0, 0.005]
    yield from travel(ctx, start + behind + [0, 0, 0.08], speed=cruise(ctx), gripper=GRIPPER_CLOSE)
    yield from move(ctx, start + behind, speed=SLOW, gripper=GRIPPER_CLOSE)
    end = np.append(goal_xy, start[2] + 0.005) - direction * 0.03  # the block's centre ends over the spot
    yield from move(ctx, end, speed=SLOW * 1.3, gripper=GRIPPER_CLOSE, timeout=200)
    yield from move(ctx, ctx.ctrl.pos + [0, 0, 0.1], speed=cruise(ctx), gripper=GRIPPER_CLOSE, settle=False)
    yield from hold(ctx, 60, GRIPPER_CLOSE)
    return True


# --- start of every plan ------------------------------------------------------------------------
def clear_start(ctx: ExpertContext) -> Skill:
    """Back away from whatever the previous subtask left the hand at, wrist level again.

    In a chain the next instruction arrives the moment the oracle fires: the fingers may still
    press the button, push the switch, hook the drawer or hold a block low over the desk. A
    person first lifts off (along the direction that frees the hand), then moves on.
    """
    tcp = ctx.tcp_pos()
    yaw = float(ctx.ctrl.euler[2])
    # an empty hand also turns back to the comfortable wrist yaw (fingers across x); a held block
    # keeps its yaw up to the gripper's half-turn symmetry
    yaw = nearest_equivalent_yaw(yaw, NEUTRAL_YAW, math.pi) if held_block(ctx) else NEUTRAL_YAW
    level = down_euler(yaw)
    tilted = ctx.ctrl.angle_to(level) > 0.1
    g = ctx.ctrl.gripper
    lm = ctx.landmarks()
    near = lambda key, r: float(np.linalg.norm(tcp - lm[key])) < r  # noqa: E731
    empty = held_block(ctx) is None
    if empty and near("switch_handle", 0.1):
        yield from move(ctx, ctx.ctrl.pos + SWITCH_OUT * 0.06, speed=SLOW * 1.5, gripper=g, settle=False)
    elif empty and (near("slider_handle", 0.1) or (near("drawer_handle", 0.08) and tcp[1] < lm["drawer_handle"][1])):
        yield from move(ctx, ctx.ctrl.pos + [0, -0.05, 0.01], speed=SLOW * 1.5, gripper=g, settle=False)
    elif tcp[2] >= SAFE_Z and not tilted:
        return True
    up = max(0.0, SAFE_Z + ctx.uniform(0.0, 0.03) - float(ctx.ctrl.pos[2]))
    yield from move(ctx, ctx.ctrl.pos + [0, 0, up], euler=level, speed=SLOW * 1.5, gripper=g, settle=False)
    return True


def _with_clear_start(plan: Plan) -> Plan:
    def run(ctx: ExpertContext, task: str) -> Skill:
        if task not in HELD_BLOCK_TASKS and held_block(ctx) is not None:
            # e.g. rotate fires once the turned block touches the desk, before the release
            yield from set_gripper(ctx, True)
        yield from clear_start(ctx)
        return (yield from plan(ctx, task))

    run.__name__ = plan.__name__
    run.__doc__ = plan.__doc__
    return run


# --- dispatcher ----------------------------------------------------------------------------------
def _plan_for(task: str) -> Plan:
    if task.startswith("rotate_"):
        return plan_rotate
    if task == "push_into_drawer":
        return plan_push_into_drawer
    if task.startswith("push_"):
        return plan_push
    if task.startswith("move_slider"):
        return plan_slider
    if task.endswith("_drawer") and not task.startswith(("lift_", "place_")):
        return plan_drawer
    if task.startswith("lift_"):
        return plan_lift
    if task.startswith("place_in"):
        return plan_place
    if task == "stack_block":
        return plan_stack
    if task == "unstack_block":
        return plan_unstack
    if task.endswith("_led"):
        return plan_button
    if task.endswith("_lightbulb"):
        return plan_switch
    raise ValueError(f"task: expected one of CALVIN's 34 task names, got {task!r}")


PLANS: dict[str, Plan] = {t: _with_clear_start(_plan_for(t)) for t in TASK_NAMES}
