"""CALVIN's 34-task oracle on the embedded simulator.

For every task the scene is changed inside the simulator (a joint set, a block teleported, a block
put into the gripper, the gripper opened), physics is stepped so contacts settle, and the oracle
must report exactly that task; a near-miss change must not fire it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pybullet as p
import pytest

from envs import constants as C
from envs.state import BlockInfo, SceneInfo
from envs.tasks import TASK_NAMES, TaskOracle, relative_rotation_deg

YAW = np.pi / 2
TABLE_0 = C.BLOCK_SPOTS["table_0"]
TABLE_1 = C.BLOCK_SPOTS["table_1"]
SLOT_L = C.BLOCK_SPOTS["slider_left"]
SLOT_R = C.BLOCK_SPOTS["slider_right"]
OPEN, CLOSE = 1.0, -1.0


def scene(slider=0.0, drawer=0.0, switch=0.0, bulb=0, led=0, red=TABLE_0, blue=TABLE_1, pink=SLOT_L) -> np.ndarray:
    s = np.zeros(C.SCENE_OBS_DIM)
    s[C.SLIDER], s[C.DRAWER], s[C.SWITCH], s[C.LIGHTBULB], s[C.LED] = slider, drawer, switch, bulb, led
    for name, pos in (("block_red", red), ("block_blue", blue), ("block_pink", pink)):
        sl = C.BLOCK_SLICES[name]
        s[sl.start : sl.start + 3] = pos
        s[sl.start + 5] = YAW
    return s


def settle(env, steps: int = 6, gripper: float = OPEN) -> dict:
    info = {}
    for _ in range(steps):
        _, _, _, _, info = env.step(np.array([0, 0, 0, 0, 0, 0, gripper], np.float32))
    return info


def teleport(env, block: str, pos, yaw: float = YAW) -> None:
    u = env.unwrapped
    quat = p.getQuaternionFromEuler([0.0, 0.0, yaw])
    p.resetBasePositionAndOrientation(u.blocks[block], list(pos), quat, physicsClientId=u.client)
    p.resetBaseVelocity(u.blocks[block], [0, 0, 0], [0, 0, 0], physicsClientId=u.client)


def completed(env) -> set[str]:
    u = env.unwrapped
    return u.task_oracle.completed(u.start_info, u.scene_info())


def start(env, task: str, scene_obs: np.ndarray) -> None:
    env.reset(seed=0, options={"task": task, "scene_obs": scene_obs})


# --- one scenario per task family: (setup, positive change, negative change) ------------------
Scenario = tuple[Callable, Callable, Callable]


def _rotate(color: str, sign: int) -> Scenario:
    block = f"block_{color}"
    layout = {"red": TABLE_0, "blue": TABLE_1, "pink": SLOT_L}
    pos = layout[color]

    def setup(env, task):
        start(env, task, scene())

    return (
        setup,
        lambda env: teleport(env, block, pos, YAW + sign * np.radians(90)),
        lambda env: teleport(env, block, pos, YAW + sign * np.radians(40)),
    )


def _push(color: str, sign: int) -> Scenario:
    block = f"block_{color}"
    others = [b for b in C.BLOCK_NAMES if b != block]
    at = (0.1, -0.1, 0.46)

    def setup(env, task):
        kw = {block.removeprefix("block_"): at}
        kw.update({others[0].removeprefix("block_"): SLOT_L, others[1].removeprefix("block_"): SLOT_R})
        start(env, task, scene(**kw))

    return (
        setup,
        lambda env: teleport(env, block, (at[0] + sign * 0.12, at[1], at[2])),
        lambda env: teleport(env, block, (at[0] + sign * 0.07, at[1], at[2])),
    )


def _door(key: str, start_pos: float, pos: float, near: float) -> Scenario:
    def setup(env, task):
        start(env, task, scene(**{key: start_pos}))

    joint = "slider" if key == "slider" else "drawer"
    return (
        setup,
        lambda env: env.unwrapped.desk.set_joint(joint, pos),
        lambda env: env.unwrapped.desk.set_joint(joint, near),
    )


def _lift(color: str, surface: str) -> Scenario:
    block = f"block_{color}"
    where = {"table": TABLE_0, "slider": SLOT_L, "drawer": C.DRAWER_BLOCK_SPOT_OPEN}[surface]
    rest = [b.removeprefix("block_") for b in C.BLOCK_NAMES if b != block]

    def setup(env, task):
        kw = {color: where, rest[0]: TABLE_1, rest[1]: SLOT_R}
        start(env, task, scene(drawer=C.DRAWER_OPEN_POS if surface == "drawer" else 0.0, **kw))

    def positive(env):
        env.unwrapped.put_block_in_gripper(block)

    def negative(env):  # raised as high, but nobody holds it: not a lift
        teleport(env, block, np.asarray(where) + [0.0, 0.0, 0.1])

    return setup, positive, negative


def _place(link: str) -> Scenario:
    target = SLOT_L if link == "slider" else C.DRAWER_BLOCK_SPOT_OPEN

    def setup(env, task):
        start(env, task, scene(drawer=C.DRAWER_OPEN_POS, red=(0.3, -0.05, 0.46), pink=TABLE_0))
        env.unwrapped.put_block_in_gripper("block_red")
        env.unwrapped.set_task(task)  # start snapshot: the robot holds the red block

    def release_at(pos):
        def change(env):
            teleport(env, "block_red", pos)
            settle(env, 1, OPEN)

        return change

    return setup, release_at(target), release_at((0.12, -0.05, 0.46))


def _stack() -> Scenario:
    def setup(env, task):
        start(env, task, scene())

    return (
        setup,
        lambda env: teleport(env, "block_blue", (TABLE_0[0], TABLE_0[1], 0.50)),
        lambda env: teleport(env, "block_blue", (0.14, -0.05, 0.46)),
    )


def _unstack() -> Scenario:
    def setup(env, task):
        start(env, task, scene(blue=(TABLE_0[0], TABLE_0[1], 0.50)))

    return (
        setup,
        lambda env: teleport(env, "block_blue", (0.2, -0.05, 0.46)),
        lambda env: teleport(env, "block_blue", (TABLE_0[0] + 0.005, TABLE_0[1], 0.50)),
    )


def _switch(on: bool) -> Scenario:
    def setup(env, task):
        start(env, task, scene(switch=0.0 if on else C.SWITCH_ON_POS, bulb=0 if on else 1))

    return (
        setup,
        lambda env: env.unwrapped.desk.set_joint("switch", C.SWITCH_ON_POS if on else 0.0),
        lambda env: env.unwrapped.desk.set_joint("switch", 0.03 if on else 0.06),
    )


def _button(on: bool) -> Scenario:
    def setup(env, task):
        start(env, task, scene(led=0 if on else 1))

    # pressed past half its travel (0.01 m) toggles the LED; the spring lifts it back
    return (
        setup,
        lambda env: env.unwrapped.desk.set_joint("button", 0.02),
        lambda env: env.unwrapped.desk.set_joint("button", 0.007),
    )


def _push_into_drawer() -> Scenario:
    def setup(env, task):
        start(env, task, scene(drawer=C.DRAWER_OPEN_POS, red=(0.15, -0.15, 0.46), blue=(0.3, -0.05, 0.46)))

    return (
        setup,
        lambda env: teleport(env, "block_red", C.DRAWER_BLOCK_SPOT_OPEN),
        lambda env: teleport(env, "block_red", (0.15, -0.06, 0.46)),
    )


def scenario(task: str) -> Scenario:
    parts = task.split("_")
    if task.startswith("rotate_"):
        return _rotate(parts[1], -1 if parts[-1] == "right" else +1)
    if task.startswith("push_") and task != "push_into_drawer":
        return _push(parts[1], +1 if parts[-1] == "right" else -1)
    if task.startswith("lift_"):
        return _lift(parts[1], parts[-1])
    table: dict[str, Scenario] = {
        "move_slider_left": _door("slider", 0.0, 0.2, 0.1),
        "move_slider_right": _door("slider", C.SLIDER_LEFT_POS, 0.08, 0.18),
        "open_drawer": _door("drawer", 0.0, 0.15, 0.08),
        "close_drawer": _door("drawer", C.DRAWER_OPEN_POS, 0.05, 0.15),
        "place_in_slider": _place("slider"),
        "place_in_drawer": _place("drawer"),
        "stack_block": _stack(),
        "unstack_block": _unstack(),
        "turn_on_lightbulb": _switch(True),
        "turn_off_lightbulb": _switch(False),
        "turn_on_led": _button(True),
        "turn_off_led": _button(False),
        "push_into_drawer": _push_into_drawer(),
    }
    return table[task]


def test_every_task_has_a_scenario():
    assert all(scenario(t) for t in TASK_NAMES)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_task_fires_exactly(play_table_env, task):
    env = play_table_env
    setup, positive, _ = scenario(task)
    setup(env, task)
    assert completed(env) == set(), "nothing may fire at the start of a subtask"
    positive(env)
    gripper = CLOSE if task.startswith("lift_") else OPEN
    info = settle(env, 6, gripper)
    assert completed(env) == {task}
    assert task in info["completed_tasks"] and info["is_success"]


@pytest.mark.parametrize("task", TASK_NAMES)
def test_task_near_miss_does_not_fire(play_table_env, task):
    env = play_table_env
    setup, _, negative = scenario(task)
    setup(env, task)
    negative(env)
    u = env.unwrapped
    # judge right after the change (a raised block has not fallen yet) and after settling
    assert task not in u.task_oracle.completed(u.start_info, u.scene_info())
    if not task.startswith("lift_"):
        info = settle(env, 6, OPEN)
        assert task not in completed(env)
        assert not info["is_success"]


def test_reward_and_termination_on_success(play_table_env):
    env = play_table_env
    env.reset(seed=0, options={"task": "open_drawer", "scene_obs": scene()})
    env.unwrapped.desk.set_joint("drawer", 0.2)
    _, reward, terminated, truncated, info = env.step(np.array([0, 0, 0, 0, 0, 0, 1], np.float32))
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["is_success"] and info["task"] == "open_drawer"


# --- the oracle on hand-made snapshots ----------------------------------------------------------
def _block(pos=(0, 0, 0.46), yaw=0.0, contacts=(("table", "base_link"),), vel=0.0) -> BlockInfo:
    q = np.array([0, 0, np.sin(yaw / 2), np.cos(yaw / 2)])
    v = np.full(3, vel)
    return BlockInfo(np.asarray(pos, float), q, v, v, frozenset(contacts))


def _info(**blocks) -> SceneInfo:
    b = {n: _block() for n in C.BLOCK_NAMES}
    b.update(blocks)
    return SceneInfo({"slider": 0.0, "drawer": 0.0}, {"lightbulb": 0, "led": 0}, b)


def test_oracle_rejects_unknown_task():
    with pytest.raises(ValueError, match="tasks"):
        TaskOracle().completed(_info(), _info(), tasks=["fly_away"])


def test_rotation_requires_support_and_small_motion():
    o = TaskOracle()
    s = _info()
    held = _info(block_red=_block(yaw=1.5, contacts=(("robot", "panda_leftfinger"),)))
    assert "rotate_red_block_left" not in o.completed(s, held)
    far = _info(block_red=_block(pos=(0.2, 0, 0.46), yaw=1.5))
    assert "rotate_red_block_left" not in o.completed(s, far)
    assert o.completed(s, _info(block_red=_block(yaw=1.5))) == {"rotate_red_block_left"}


def test_stack_requires_slow_block():
    o = TaskOracle()
    on_top = (("block_red", "base_link"),)
    assert "stack_block" not in o.completed(_info(), _info(block_blue=_block(contacts=on_top, vel=1.5)))
    assert "stack_block" in o.completed(_info(), _info(block_blue=_block(contacts=on_top, vel=0.5)))


def test_relative_rotation_matches_scipy():
    rot = pytest.importorskip("scipy.spatial.transform").Rotation
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rot.random(random_state=rng.integers(1 << 30)), rot.random(random_state=rng.integers(1 << 30))
        want = (b * a.inv()).as_euler("xyz", degrees=True)
        got = relative_rotation_deg(a.as_quat(), b.as_quat())
        assert np.allclose(got, want, atol=1e-6)


def test_small_rotation_shortcut_never_hides_a_rotation():
    """Random rotations: the quaternion-angle shortcut agrees with the full euler test."""
    rot = pytest.importorskip("scipy.spatial.transform").Rotation
    o = TaskOracle()
    rng = np.random.default_rng(1)
    start = _info()
    for _ in range(400):
        # rotations near the thresholds: yaw 40..180 deg, small tilts
        e = rot.from_euler("xyz", [rng.uniform(-35, 35), rng.uniform(-35, 35), rng.uniform(-180, 180)], degrees=True)
        blk = _block()
        end = _info(block_red=BlockInfo(blk.pos, e.as_quat(), blk.lin_vel, blk.ang_vel, blk.contacts))
        x, y, z = e.as_euler("xyz", degrees=True)
        want_left = 60 < z < 180 and abs(x) < 30 and abs(y) < 30
        want_right = -180 < z < -60 and abs(x) < 30 and abs(y) < 30
        got = o.completed(start, end, tasks=["rotate_red_block_left", "rotate_red_block_right"])
        assert ("rotate_red_block_left" in got) == want_left
        assert ("rotate_red_block_right" in got) == want_right
