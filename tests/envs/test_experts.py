"""Scripted experts: unit checks of the motion layer, and end-to-end runs through the task oracle."""

from __future__ import annotations

import numpy as np
import pytest

from envs.constants import EP_LEN, MAX_REL_POS, NEUTRAL_ROBOT_OBS, TASK_NAMES
from envs.experts import PLANS, ScriptedExpert
from envs.experts.geometry import nearest_equivalent_yaw, quat_to_yaw, wrap_angle
from envs.experts.motion import MotionController

# one task per CALVIN task category (SPEC §5.2)
CATEGORY_SAMPLE = (
    "rotate_red_block_left", "move_slider_left", "open_drawer", "lift_blue_block_table",
    "lift_pink_block_slider", "lift_red_block_drawer", "place_in_slider", "turn_on_led",
    "push_into_drawer", "stack_block", "unstack_block",
)


def test_every_task_has_a_plan() -> None:
    assert set(PLANS) == set(TASK_NAMES)


def test_unknown_task_is_rejected() -> None:
    with pytest.raises(ValueError, match="task"):
        ScriptedExpert(env=object(), task="fly_to_the_moon")


def test_geometry_helpers() -> None:
    assert wrap_angle(3 * np.pi / 2) == pytest.approx(-np.pi / 2)
    assert nearest_equivalent_yaw(0.1, 3.0, np.pi) == pytest.approx(0.1 + np.pi)
    half_turn = np.array([0.0, 0.0, np.sin(0.35), np.cos(0.35)])  # yaw 0.7 rad
    assert quat_to_yaw(half_turn) == pytest.approx(0.7)


def test_controller_mirrors_the_integrated_target_and_is_smooth() -> None:
    ctrl = MotionController()
    robot_obs = np.asarray(NEUTRAL_ROBOT_OBS)
    ctrl.sync(robot_obs)
    target = robot_obs[0:3].copy()
    goal = target + np.array([0.2, -0.1, -0.05])
    actions = []
    for _ in range(200):
        a = ctrl.step(goal, None, 0.015, 1.0)
        assert a.dtype == np.float32 and a.shape == (7,)
        assert np.all(np.abs(a) <= 1.0)
        target = target + a[0:3].astype(np.float64) * MAX_REL_POS  # what the env integrates
        actions.append(a)
    np.testing.assert_allclose(target, ctrl.pos, atol=1e-9)
    np.testing.assert_allclose(ctrl.pos, goal, atol=1e-4)
    speeds = np.linalg.norm(np.stack(actions)[:, 0:3], axis=1) * MAX_REL_POS
    assert speeds.max() <= 0.015 + 1e-6
    assert np.abs(np.diff(speeds)).max() <= ctrl.accel * 1.1  # no jerks (the last step lands exactly)


# --- end to end ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def env():  # noqa: ANN201
    gym = pytest.importorskip("gymnasium")
    import envs  # noqa: F401  (registers the id)

    e = gym.make("vla_agent/PlayTable-v0", cameras=())
    yield e
    e.close()


def _run(env, expert: ScriptedExpert, obs: dict, instruction: str | None) -> tuple[bool, int, dict]:  # noqa: ANN001
    info: dict = {}
    for t in range(1, EP_LEN + 1):
        action = expert.act(obs, instruction)
        assert action.dtype == np.float32 and action.shape == (7,)
        assert np.all(np.abs(action) <= 1.0) and abs(action[6]) == 1.0
        obs, _r, terminated, truncated, info = env.step(action)
        if info["is_success"]:
            return True, t, obs
        if terminated or truncated:
            break
    return False, EP_LEN, obs


@pytest.mark.parametrize("task", CATEGORY_SAMPLE)
def test_expert_solves_one_task_per_category(env, task: str) -> None:  # noqa: ANN001
    obs, info = env.reset(seed=1, options={"task": task})
    ok, steps, _ = _run(env, ScriptedExpert(env, task=task, seed=1), obs, info["instruction"])
    assert ok, f"{task} not solved within {EP_LEN} steps"


def test_expert_reads_the_task_from_the_instruction_and_chains(env) -> None:  # noqa: ANN001
    # lift, then place right away with the block still in hand (no reset in between)
    obs, info = env.reset(seed=3, options={"task": "lift_red_block_table"})
    expert = ScriptedExpert(env, seed=3)  # task=None: from the instruction
    ok, _, obs = _run(env, expert, obs, info["instruction"])
    assert ok and expert.current_task == "lift_red_block_table"
    env.unwrapped.set_task(task="place_in_slider")
    expert.reset()
    ok, _, obs = _run(env, expert, obs, env.unwrapped.instruction)
    assert ok and expert.current_task == "place_in_slider"


def test_expert_is_repeatable_and_seeds_vary_the_motion(env) -> None:  # noqa: ANN001
    def actions(seed: int) -> np.ndarray:
        obs, info = env.reset(seed=0, options={"task": "push_blue_block_left"})
        expert = ScriptedExpert(env, task="push_blue_block_left", seed=seed)
        out = []
        for _ in range(40):
            a = expert.act(obs, info["instruction"])
            out.append(a)
            obs, *_ = env.step(a)
        return np.stack(out)

    a0, a0_again, a1 = actions(0), actions(0), actions(1)
    np.testing.assert_array_equal(a0, a0_again)
    assert not np.allclose(a0, a1)
