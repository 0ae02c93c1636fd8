"""Translation logic of the real-CALVIN adapter, pinned against a fake of calvin_env's interface.

These tests always run: ``tests/envs/fake_calvin_env.py`` imitates calvin_env's API (not its
physics). The same behaviour against the real simulator is in ``test_calvin_real.py``.
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from fake_calvin_env import BUTTON_Z, FakePlayTableSimEnv, FakeTasks

from envs import constants as C
from envs.calvin import CALVIN_ENV_ID, CalvinEnv, register_calvin_env, scene_info_from_calvin
from envs.calvin.backend import INSTALL_HINT
from envs.instructions import default_instruction
from envs.symbolic import initial_conditions, scene_from_condition


def make(cameras=("static", "gripper"), **kwargs) -> tuple[CalvinEnv, FakePlayTableSimEnv]:
    sim = FakePlayTableSimEnv(cameras=cameras)
    return CalvinEnv(sim=sim, task_oracle=FakeTasks(), cameras=cameras, **kwargs), sim


def test_observations_are_flat_typed_and_in_space() -> None:
    env, sim = make(depth=True)
    obs, info = env.reset(seed=0)
    assert set(obs) == {
        C.RGB_STATIC,
        C.RGB_GRIPPER,
        C.DEPTH_STATIC,
        C.DEPTH_GRIPPER,
        C.ROBOT_OBS,
        C.SCENE_OBS,
    }
    assert obs[C.RGB_STATIC].shape == (200, 200, 3) and obs[C.RGB_STATIC].dtype == np.uint8
    assert obs[C.RGB_GRIPPER].shape == (84, 84, 3) and obs[C.RGB_GRIPPER].dtype == np.uint8
    assert obs[C.DEPTH_STATIC].dtype == np.float32 and obs[C.DEPTH_GRIPPER].shape == (84, 84)
    assert obs[C.ROBOT_OBS].dtype == np.float32 and obs[C.ROBOT_OBS].shape == (15,)
    assert obs[C.SCENE_OBS].dtype == np.float32 and obs[C.SCENE_OBS].shape == (24,)
    assert env.observation_space.contains(obs)
    np.testing.assert_allclose(obs[C.SCENE_OBS], sim.scene_obs.astype(np.float32))
    obs2, *_ = env.step(np.zeros(7, dtype=np.float32))
    assert env.observation_space.contains(obs2)
    assert not np.shares_memory(obs2[C.ROBOT_OBS], sim.robot_obs)


def test_no_cameras_gives_state_only_observations() -> None:
    env, _ = make(cameras=())
    obs, _ = env.reset(seed=0)
    assert set(obs) == {C.ROBOT_OBS, C.SCENE_OBS}
    assert set(env.observation_space.spaces) == {C.ROBOT_OBS, C.SCENE_OBS}


@pytest.mark.parametrize(
    ("value", "expected"), [(1.0, 1.0), (0.5, 1.0), (1e-6, 1.0), (0.0, -1.0), (-0.3, -1.0)]
)
def test_relative_gripper_reaches_calvin_as_exact_plus_minus_one(value: float, expected: float) -> None:
    env, sim = make(cameras=())
    env.reset(seed=0)
    action = np.array([0.1, 0, 0, 0, 0, 0, value], dtype=np.float32)
    env.step(action)
    sent = sim.received[-1]
    assert isinstance(sent, np.ndarray) and sent.shape == (7,) and sent.dtype == np.float64
    assert sent[6] == expected
    assert env.get_state()[0][C.GRIPPER_ACTION] == expected


def test_caller_array_is_never_mutated_or_handed_over() -> None:
    env, sim = make(cameras=())
    env.reset(seed=0)
    action = np.array([3.0, -2.0, 0.5, 0, 0, 0, 0.2], dtype=np.float32)  # out of range, gripper 0.2
    before = action.copy()
    env.step(action)
    np.testing.assert_array_equal(action, before)
    sent = sim.received[-1]
    assert sent is not action and not np.shares_memory(sent, action)
    np.testing.assert_array_equal(sent, [1.0, -1.0, 0.5, 0, 0, 0, 1.0])  # clipped, binarised


def test_relative_actions_move_target_by_calvin_scaling() -> None:
    env, sim = make(cameras=())
    obs, _ = env.reset(seed=0)
    start = obs[C.ROBOT_OBS][C.TCP_POS].copy()
    obs, *_ = env.step([1.0, 0.0, -0.5, 0, 0, 0, 1])  # a plain list is fine too
    np.testing.assert_allclose(obs[C.ROBOT_OBS][C.TCP_POS] - start, [0.02, 0.0, -0.01], atol=1e-6)


def test_absolute_actions_become_calvin_tuples_with_int_gripper() -> None:
    env, sim = make(cameras=(), action_mode="absolute")
    env.reset(seed=0)
    target = np.array([0.1, -0.2, 0.5, np.pi, 0.0, 1.5, 0.7], dtype=np.float32)
    env.step(target)
    pos, orn, grip = sim.received[-1]
    assert type(grip) is int and grip == 1
    np.testing.assert_allclose(pos, target[:3])
    np.testing.assert_allclose(orn, target[3:6])
    np.testing.assert_allclose(env.get_state()[0][C.TCP_POS], target[:3], atol=1e-6)
    # the 3-tuple form, with a quaternion and a float gripper (which calvin_env itself rejects)
    env.step((np.array([0.0, -0.1, 0.6]), np.array([1.0, 0.0, 0.0, 0.0]), -0.4))
    pos, orn, grip = sim.received[-1]
    assert type(grip) is int and grip == -1 and orn.shape == (4,)
    assert env.action_space.contains(target)


def test_fake_rejects_what_calvin_env_rejects() -> None:
    """The fake is strict where calvin_env is, so the tests above can fail."""
    sim = FakePlayTableSimEnv(cameras=())
    with pytest.raises(AssertionError):
        sim.step(np.array([0, 0, 0, 0, 0, 0, 0.5]))
    with pytest.raises(TypeError):
        sim.step((np.zeros(3), np.zeros(3), 1.0))


@pytest.mark.parametrize("mode", ["relative", "absolute"])
@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(6),
        np.zeros(8),
        np.zeros((1, 7)),
        np.array([np.nan, 0, 0, 0, 0, 0, 1]),
        np.array([0, 0, np.inf, 0, 0, 0, 1]),
        np.array([0, 0, 0, 0, 0, 0, np.nan]),
        "forward",
        None,
    ],
)
def test_bad_actions_raise_before_reaching_the_simulator(mode: str, bad: object) -> None:
    env, sim = make(cameras=(), action_mode=mode)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(bad)
    assert sim.received == []


def test_absolute_tuple_with_bad_parts_raises() -> None:
    env, sim = make(cameras=(), action_mode="absolute")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action\[1\]"):
        env.step((np.zeros(3), np.zeros(5), 1))
    with pytest.raises(ValueError, match=r"action\[2\]"):
        env.step((np.zeros(3), np.zeros(3), float("nan")))
    assert sim.received == []


def test_reset_with_exact_state_and_get_state_roundtrip() -> None:
    env, sim = make(cameras=())
    robot_obs = np.array(C.NEUTRAL_ROBOT_OBS)
    robot_obs[C.TCP_POS] += [0.05, 0.0, -0.02]
    robot_obs[C.GRIPPER_ACTION] = -1.0
    scene_obs = np.linspace(0.0, 0.23, 24)
    obs, _ = env.reset(options={"robot_obs": robot_obs, "scene_obs": scene_obs})
    np.testing.assert_allclose(sim.scene_obs, scene_obs)
    np.testing.assert_allclose(obs[C.SCENE_OBS], scene_obs.astype(np.float32))
    state_robot, state_scene = env.get_state()
    assert state_robot.dtype == np.float64 and state_scene.shape == (24,)
    np.testing.assert_allclose(state_robot[:14], robot_obs[:14])
    assert state_robot[C.GRIPPER_ACTION] == -1.0  # the commanded gripper is restored too
    env.step(np.array([1, 1, 0, 0, 0, 0, 1.0]))
    env.reset(options={C.ROBOT_OBS: state_robot, C.SCENE_OBS: state_scene})
    np.testing.assert_allclose(env.get_state()[1], scene_obs)
    np.testing.assert_allclose(env.get_state()[0], state_robot)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"robot_obs": np.zeros(14)}, "robot_obs"),
        ({"scene_obs": np.full(24, np.nan)}, "scene_obs"),
        ({"task": "fly_away"}, "task"),
        ({"colour": "red"}, "options"),
        ({"condition": initial_conditions()[0], "scene_obs": np.zeros(24)}, "condition"),
    ],
)
def test_bad_reset_options_raise(options: dict, match: str) -> None:
    env, sim = make(cameras=())
    with pytest.raises(ValueError, match=match):
        env.reset(options=options)


def test_reset_from_symbolic_condition_places_the_scene() -> None:
    env, sim = make(cameras=())
    condition = initial_conditions()[7]
    env.reset(seed=5, options={"condition": condition, "task": "open_drawer"})
    robot_obs, scene_obs, grasped = scene_from_condition(condition)  # CALVIN's fixed per-condition layout
    assert grasped is None
    np.testing.assert_allclose(sim.scene_obs, scene_obs)
    np.testing.assert_allclose(env.get_state()[0][:14], robot_obs[:14])


def test_reset_with_a_grasped_block_closes_the_gripper() -> None:
    env, sim = make(cameras=())
    env.reset(seed=0, options={"task": "place_in_drawer"})  # sampled states hold a block
    assert len(sim.received) == 5 and all(a[6] == -1.0 and not np.any(a[:6]) for a in sim.received)
    assert env.get_state()[0][C.GRIPPER_ACTION] == -1.0 and env.unwrapped.elapsed_steps == 0


def test_plain_reset_picks_a_possible_task_or_the_default() -> None:
    env, _ = make(cameras=())
    tasks = {env.reset(seed=s)[1]["task"] for s in range(8)}
    assert tasks <= set(C.TASK_NAMES) and len(tasks) > 1
    env2, _ = make(cameras=(), task="turn_on_led")
    _, info = env2.reset(seed=0)
    assert info["task"] == "turn_on_led" and info["instruction"] == default_instruction("turn_on_led")


def test_task_and_instruction_must_agree() -> None:
    env, _ = make(cameras=())
    with pytest.raises(ValueError, match="task"):
        env.reset(options={"task": "open_drawer", "instruction": default_instruction("close_drawer")})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="set_task"):
        env.unwrapped.set_task()
    with pytest.raises(ValueError, match="instruction"):
        env.unwrapped.set_task(instruction="dance a little")


def test_seeded_random_reset_is_repeatable() -> None:
    env, _ = make(cameras=())
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    c, _ = env.reset(seed=4)
    np.testing.assert_array_equal(a[C.SCENE_OBS], b[C.SCENE_OBS])
    assert not np.array_equal(a[C.SCENE_OBS], c[C.SCENE_OBS])


def _pull_drawer(env: CalvinEnv, steps: int) -> list[tuple]:
    return [env.step(np.array([0, -0.9, 0, 0, 0, 0, -1.0])) for _ in range(steps)]


def test_success_terminates_with_reward_and_info() -> None:
    env, _ = make(cameras=())
    _, info = env.reset(seed=0, options={"task": "open_drawer"})
    assert info["task"] == "open_drawer" and info["instruction"] == default_instruction("open_drawer")
    assert info["is_success"] is False and info["completed_tasks"] == []
    results = _pull_drawer(env, 7)  # 0.018 m per step: 0.126 m > 0.12 m on the 7th step
    for _, reward, terminated, truncated, info in results[:-1]:
        assert (reward, terminated, truncated, info["is_success"]) == (0.0, False, False, False)
    _, reward, terminated, truncated, info = results[-1]
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["is_success"] is True and "open_drawer" in info["completed_tasks"]
    assert env.unwrapped.elapsed_steps == 7


def test_other_tasks_are_reported_but_do_not_terminate() -> None:
    env, _ = make(cameras=())
    env.reset(seed=0, options={"task": "turn_on_led"})
    *_, (_, reward, terminated, _, info) = _pull_drawer(env, 7)
    assert (reward, terminated) == (0.0, False)
    assert info["completed_tasks"] == ["open_drawer"] and info["is_success"] is False


def test_instruction_option_selects_the_task() -> None:
    env, _ = make(cameras=())
    sentence = default_instruction("turn_on_led")
    _, info = env.reset(seed=0, options={"instruction": sentence})
    assert info["task"] == "turn_on_led" and info["instruction"] == sentence


def test_truncation_after_360_steps_and_set_task_restarts_the_clock() -> None:
    env, _ = make(cameras=())
    led_off = next(c for c in initial_conditions() if c["led"] == 0)
    env.reset(seed=0, options={"task": "turn_on_lightbulb", "condition": led_off})
    idle = np.array([0, 0, 0, 0, 0, 0, 1.0])
    for i in range(C.EP_LEN - 1):
        *_, terminated, truncated, info = env.step(idle)
        assert not truncated and not terminated, i
    *_, terminated, truncated, info = env.step(idle)
    assert truncated and not terminated and env.unwrapped.elapsed_steps == C.EP_LEN
    # next subtask without a scene reset: the clock and the start info restart
    z = env.get_state()[0][2]
    env.unwrapped.set_task("turn_on_led")
    assert env.task == "turn_on_led" and env.instruction == default_instruction("turn_on_led")
    steps = int(np.floor((z - BUTTON_Z) / 0.02)) + 1  # first step below BUTTON_Z
    for _ in range(steps - 1):
        *_, terminated, truncated, info = env.step(np.array([0, 0, -1.0, 0, 0, 0, -1.0]))
        assert not terminated
    _, reward, terminated, truncated, info = env.step(np.array([0, 0, -1.0, 0, 0, 0, -1.0]))
    assert reward == 1.0 and terminated and not truncated and env.unwrapped.elapsed_steps == steps


def test_set_task_measures_from_the_switch_point() -> None:
    env, _ = make(cameras=())
    env.reset(seed=0, options={"task": "open_drawer"})
    _pull_drawer(env, 4)  # 0.072 m before the switch
    env.unwrapped.set_task(task="open_drawer")
    results = _pull_drawer(env, 7)
    assert [r[2] for r in results] == [False] * 6 + [True]


def test_scene_info_converts_uids_to_names() -> None:
    env, sim = make(cameras=())
    env.reset(seed=0, options={"scene_obs": np.r_[0.1, 0.2, 0, 0, 1, 0, np.zeros(18)]})
    info = env.unwrapped.scene_info()
    assert info.doors == {"slider": pytest.approx(0.1), "drawer": pytest.approx(0.2)}
    assert info.lights == {"lightbulb": 1, "led": 0}
    assert set(info.blocks) == set(C.BLOCK_NAMES)
    assert info.blocks["block_red"].contacts == frozenset({("table", "base_link")})
    assert info.blocks["block_red"].orn.shape == (4,)
    assert info.robot_contacts == frozenset()
    # robot contacts name the desk link it touches, and never the robot itself
    raw = sim.get_info()
    raw["robot_info"]["contacts"] = ((0, 0, 5, 7, 0), (0, 0, 0, 7, 3), (0, 0, 9, 7, -1))
    converted = scene_info_from_calvin(raw)
    assert converted.robot_contacts == frozenset({("table", "button_link"), ("body9", "base_link")})


def test_render_and_close() -> None:
    env, sim = make(render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    np.testing.assert_array_equal(frame, obs[C.RGB_STATIC])
    env.close()
    assert sim.closed
    with pytest.raises(RuntimeError, match="closed"):
        env.step(np.zeros(7))


def test_gymnasium_make_and_env_checker() -> None:
    register_calvin_env()
    register_calvin_env()  # idempotent
    env = gymnasium.make(CALVIN_ENV_ID, sim=FakePlayTableSimEnv(), task_oracle=FakeTasks())
    from gymnasium.utils.env_checker import check_env

    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=1, options={"task": "open_drawer"})
    assert info["task"] == "open_drawer"
    env.close()


def test_constructor_argument_errors() -> None:
    sim = FakePlayTableSimEnv(cameras=())
    for kwargs, match in (
        ({"action_mode": "joint"}, "action_mode"),
        ({"oracle": "mine"}, "oracle"),
        ({"cameras": ("tactile",)}, "cameras"),
        ({"render_mode": "human"}, "render_mode"),
        ({"cameras": ("gripper",), "render_mode": "rgb_array"}, "static"),
        ({"cameras": ("static",)}, "not all rendered"),  # the given sim has no cameras
        ({"cameras": (), "task": "fly"}, "task"),
        ({"cameras": (), "max_episode_steps": 0}, "max_episode_steps"),
    ):
        with pytest.raises(ValueError, match=match):
            CalvinEnv(sim=sim, task_oracle=FakeTasks(), **kwargs)


def test_missing_calvin_env_gives_install_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "calvin_env", None)  # import fails even where it is installed
    with pytest.raises(ImportError) as err:
        CalvinEnv(conf_dir="/nonexistent", scene="calvin_scene_D")
    assert "git clone --recursive https://github.com/mees/calvin_env.git" in str(err.value)
    assert "pip install -e calvin_env" in str(err.value)
    with pytest.raises(ImportError, match="calvin_env"):
        CalvinEnv(dataset_path="/nonexistent/task_D_D/validation")
    assert "docs/calvin.md" in INSTALL_HINT


def test_importing_envs_calvin_does_not_import_calvin_env() -> None:
    code = (
        "import sys, envs.calvin; bad = [m for m in ('calvin_env', 'hydra', 'omegaconf') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
