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
    assert np.abs(np.diff(speeds)).max() <= ctrl.accel + 1e-6  # no jerks


# --- end to end ----------------------------------------------------------------------------------
def _make_env():  # noqa: ANN202
    gym = pytest.importorskip("gymnasium")
    try:
        from envs.play_table import PlayTableEnv  # noqa: F401
    except ImportError:
        pytest.skip("embedded play table not available")
    return gym.make("vla_agent/PlayTable-v0", render=False)


@pytest.fixture(scope="module")
def env():  # noqa: ANN201
    e = _make_env()
    yield e
    e.close()


def _solve(env, task: str, seed: int) -> tuple[bool, int]:  # noqa: ANN001
    obs, info = env.reset(seed=seed, options={"task": task})
    expert = ScriptedExpert(env, task=task, seed=seed)
    expert.reset()
    for t in range(1, EP_LEN + 1):
        obs, _r, terminated, truncated, info = env.step(expert.act(obs, info.get("instruction")))
        if info.get("is_success", False):
            return True, t
        if terminated or truncated:
            break
    return False, EP_LEN


@pytest.mark.parametrize("task", CATEGORY_SAMPLE)
def test_expert_solves_one_task_per_category(env, task: str) -> None:  # noqa: ANN001
    ok, steps = _solve(env, task, seed=1)
    assert ok, f"{task} not solved within {EP_LEN} steps"
