"""The embedded play table: Gymnasium contract, control, resets, bad input, cameras."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest

import envs
from envs import constants as C
from envs import symbolic
from envs.play_table import PlayTableEnv

HOLD_OPEN = np.array([0, 0, 0, 0, 0, 0, 1], np.float32)


def neutral_scene() -> np.ndarray:
    s = np.zeros(C.SCENE_OBS_DIM)
    for name, spot in zip(C.BLOCK_NAMES, ("table_0", "table_1", "slider_left"), strict=True):
        sl = C.BLOCK_SLICES[name]
        s[sl.start : sl.start + 3] = C.BLOCK_SPOTS[spot]
        s[sl.start + 5] = np.pi / 2
    return s


@pytest.fixture(scope="module")
def camera_env():
    env = gym.make(envs.PLAY_TABLE_ID, render_mode="rgb_array", depth=True)
    yield env
    env.close()


# --- Gymnasium contract -------------------------------------------------------------------------
def test_gymnasium_env_checker(camera_env):
    from gymnasium.utils.env_checker import check_env

    check_env(camera_env.unwrapped, skip_render_check=False)


def test_spaces_and_observation_dtypes(camera_env):
    obs, info = camera_env.reset(seed=3)
    assert camera_env.action_space == gym.spaces.Box(-1, 1, (7,), np.float32)
    assert obs[C.RGB_STATIC].shape == (200, 200, 3) and obs[C.RGB_STATIC].dtype == np.uint8
    assert obs[C.RGB_GRIPPER].shape == (84, 84, 3) and obs[C.RGB_GRIPPER].dtype == np.uint8
    assert obs[C.ROBOT_OBS].shape == (15,) and obs[C.ROBOT_OBS].dtype == np.float32
    assert obs[C.SCENE_OBS].shape == (24,) and obs[C.SCENE_OBS].dtype == np.float32
    # depth in metres: the static camera is ~4 m from the desk, the wrist camera < 2 m from things
    assert 3.0 < float(np.median(obs[C.DEPTH_STATIC])) < 10.0
    assert 0.01 <= float(obs[C.DEPTH_GRIPPER].min()) and float(obs[C.DEPTH_GRIPPER].max()) <= 2.0
    assert set(info) >= {"task", "instruction", "is_success", "completed_tasks"}
    assert camera_env.render().shape == (200, 200, 3)
    assert camera_env.metadata["render_modes"] == ["rgb_array"] and camera_env.metadata["render_fps"] == 30


def test_no_camera_env_has_no_images(play_table_env):
    obs, _ = play_table_env.reset(seed=0)
    assert set(obs) == {C.ROBOT_OBS, C.SCENE_OBS}
    assert set(play_table_env.observation_space.spaces) == {C.ROBOT_OBS, C.SCENE_OBS}
    env = gym.make(envs.PLAY_TABLE_ID, render=False)  # the same, spelled as a flag
    try:
        assert set(env.reset(seed=0)[0]) == {C.ROBOT_OBS, C.SCENE_OBS}
    finally:
        env.close()


def test_constructor_kwargs_pickle_and_registration():
    spec = gym.spec(envs.PLAY_TABLE_ID)
    assert isinstance(spec.entry_point, str)
    kwargs = {
        "cameras": (),
        "depth": False,
        "action_mode": "absolute",
        "task": "open_drawer",
    }
    env = gym.make(envs.PLAY_TABLE_ID, **pickle.loads(pickle.dumps(kwargs)))
    try:
        _, info = env.reset(seed=0)
        assert info["task"] == "open_drawer"
        assert env.unwrapped.max_episode_steps == C.EP_LEN and env.spec.max_episode_steps is None
    finally:
        env.close()


def test_async_vector_env_runs_two_workers():
    vec = gym.vector.AsyncVectorEnv([lambda: gym.make(envs.PLAY_TABLE_ID, cameras=()) for _ in range(2)])
    try:
        obs, _ = vec.reset(seed=[1, 2])
        assert obs[C.ROBOT_OBS].shape == (2, 15)
        obs, reward, *_ = vec.step(np.zeros((2, 7), np.float32))
        assert reward.shape == (2,)
    finally:
        vec.close()


def test_reset_is_deterministic_for_a_seed(play_table_env):
    a = np.random.default_rng(0).uniform(-1, 1, (5, 7)).astype(np.float32)

    def run(seed):
        obs, info = play_table_env.reset(seed=seed)
        traj = [obs[C.SCENE_OBS]]
        for x in a:
            traj.append(play_table_env.step(x)[0][C.SCENE_OBS])
        return np.stack(traj), info["task"]

    first, task = run(11)
    run(12)
    again, task_again = run(11)
    assert task == task_again
    np.testing.assert_array_equal(first, again)


# --- control ------------------------------------------------------------------------------------
def test_neutral_pose_matches_calvin(play_table_env):
    obs, _ = play_table_env.reset(seed=0, options={"scene_obs": neutral_scene()})
    np.testing.assert_allclose(obs[C.ROBOT_OBS], np.asarray(C.NEUTRAL_ROBOT_OBS, np.float32), atol=2e-3)


def test_relative_x_action_moves_tcp_two_cm_per_step(play_table_env):
    env = play_table_env
    obs, _ = env.reset(seed=0, options={"scene_obs": neutral_scene()})
    xs = [obs[C.ROBOT_OBS][0]]
    for _ in range(8):
        obs, *_ = env.step(np.array([1, 0, 0, 0, 0, 0, 1], np.float32))
        xs.append(obs[C.ROBOT_OBS][0])
    steps = np.diff(xs)[3:]  # after the arm has caught up with the target
    assert np.all(np.abs(steps - C.MAX_REL_POS) < 0.006), steps
    assert abs(obs[C.ROBOT_OBS][1] - C.NEUTRAL_ROBOT_OBS[1]) < 0.01  # no drift sideways
    # actions beyond 1 are clipped to 1
    before = env.unwrapped.robot.target_pos.copy()
    env.step(np.array([5, 0, 0, 0, 0, 0, 1], np.float32))
    assert env.unwrapped.robot.target_pos[0] - before[0] == pytest.approx(C.MAX_REL_POS)


def test_gripper_closes_and_opens(play_table_env):
    env = play_table_env
    obs, _ = env.reset(seed=0, options={"scene_obs": neutral_scene()})
    assert obs[C.ROBOT_OBS][C.GRIPPER_WIDTH] == pytest.approx(0.08, abs=2e-3)
    for _ in range(10):
        obs, *_ = env.step(np.array([0, 0, 0, 0, 0, 0, -1], np.float32))
    assert obs[C.ROBOT_OBS][C.GRIPPER_WIDTH] < 0.005 and obs[C.ROBOT_OBS][C.GRIPPER_ACTION] == -1
    for _ in range(10):
        obs, *_ = env.step(HOLD_OPEN)
    assert obs[C.ROBOT_OBS][C.GRIPPER_WIDTH] > 0.07 and obs[C.ROBOT_OBS][C.GRIPPER_ACTION] == 1


def test_absolute_actions_reach_target_and_press_button(play_table_env_abs):
    """Drive the TCP onto the button with absolute actions: the LED turns on by physics."""
    env = play_table_env_abs
    obs, _ = env.reset(seed=0, options={"task": "turn_on_led", "scene_obs": neutral_scene()})
    orn = obs[C.ROBOT_OBS][C.TCP_ORN].astype(np.float64)
    top = env.unwrapped.landmarks()["button_top"]
    above = np.concatenate([top + [0, 0, 0.06], orn, [-1]])
    for _ in range(25):
        obs, *_ = env.step(above)
    assert np.linalg.norm(obs[C.ROBOT_OBS][:3] - above[:3]) < 0.01
    info = {}
    for _ in range(30):
        obs, reward, terminated, _, info = env.step(np.concatenate([top - [0, 0, 0.03], orn, [-1]]))
        if terminated:
            break
    assert info["is_success"] and reward == 1.0 and obs[C.SCENE_OBS][C.LED] == 1


# --- resets and tasks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "task",
    [
        "open_drawer",
        "close_drawer",
        "move_slider_left",
        "place_in_slider",
        "lift_red_block_drawer",
        "unstack_block",
        "turn_off_led",
    ],
)
def test_task_reset_samples_a_state_where_the_task_is_possible(play_table_env, task):
    obs, info = play_table_env.reset(seed=5, options={"task": task})
    assert info["task"] == task and info["instruction"]
    s = obs[C.SCENE_OBS]
    u = play_table_env.unwrapped
    if task == "open_drawer":
        assert s[C.DRAWER] == pytest.approx(0.0)
    if task == "close_drawer":
        assert s[C.DRAWER] == pytest.approx(C.DRAWER_OPEN_POS)
    if task == "move_slider_left":
        assert s[C.SLIDER] == pytest.approx(0.0)
    if task == "place_in_slider":  # a block is really held: it touches only the fingers
        held = {b for b, _ in u.scene_info().robot_contacts}
        assert len(held) == 1 and u.scene_info().blocks[held.pop()].touching_bodies() == {"robot"}
    if task == "lift_red_block_drawer":
        assert ("table", "drawer_link") in u.scene_info().blocks["block_red"].contacts
    if task == "unstack_block":
        assert any(
            b.touching_bodies() and b.touching_bodies() <= set(C.BLOCK_NAMES) for b in u.scene_info().blocks.values()
        )
    if task == "turn_off_led":
        assert s[C.LED] == 1


def test_reset_from_instruction_and_condition(play_table_env):
    from envs.instructions import default_instruction

    text = default_instruction("turn_on_lightbulb")
    cond = dict(
        led=1,
        lightbulb=0,
        slider="left",
        drawer="open",
        red_block="slider_right",
        blue_block="table",
        pink_block="table",
        grasped=0,
    )
    obs, info = play_table_env.reset(seed=0, options={"instruction": text, "condition": cond})
    assert info["task"] == "turn_on_lightbulb" and info["instruction"] == text
    want_robot, want_scene, _ = symbolic.scene_from_condition(cond)  # CALVIN's fixed per-condition layout
    s = obs[C.SCENE_OBS]
    assert s[C.SLIDER] == pytest.approx(C.SLIDER_LEFT_POS) and s[C.DRAWER] == pytest.approx(C.DRAWER_OPEN_POS)
    assert s[C.LED] == 1 and s[C.LIGHTBULB] == 0
    np.testing.assert_allclose(s[C.BLOCK_SLICES["block_red"]][:3], C.BLOCK_SPOTS["slider_right"], atol=1e-4)
    # the layout depends on the condition only, not on the reset seed (CALVIN's evaluation reset)
    obs2, _ = play_table_env.reset(seed=123, options={"instruction": text, "condition": cond})
    for block in C.BLOCK_NAMES:
        np.testing.assert_allclose(obs2[C.SCENE_OBS][C.BLOCK_SLICES[block]][:2],
                                   want_scene[C.BLOCK_SLICES[block]][:2], atol=1e-3)


def test_reset_with_exact_state_round_trips(play_table_env):
    env = play_table_env
    env.reset(seed=0, options={"task": "stack_block"})
    robot_obs, scene_obs = env.unwrapped.get_state()
    env.reset(seed=1, options={"task": "open_drawer", "scene_obs": neutral_scene()})
    env.reset(seed=2, options={"robot_obs": robot_obs, "scene_obs": scene_obs})
    r2, s2 = env.unwrapped.get_state()
    np.testing.assert_allclose(r2, robot_obs, atol=1e-6)
    np.testing.assert_allclose(s2, scene_obs, atol=1e-5)  # joints a hair past a limit are clipped


def test_set_task_keeps_scene_and_restarts_clock():
    env = PlayTableEnv(cameras=(), max_episode_steps=3)
    try:
        env.reset(seed=0, options={"task": "open_drawer", "scene_obs": neutral_scene()})
        for _ in range(2):
            *_, truncated, _ = env.step(HOLD_OPEN)
            assert not truncated
        before = env.get_state()[1]
        env.set_task(task="move_slider_left")
        np.testing.assert_array_equal(env.get_state()[1], before)
        assert env.elapsed_steps == 0 and env.task == "move_slider_left"
        results = [env.step(HOLD_OPEN) for _ in range(3)]
        assert [r[3] for r in results] == [False, False, True]
        assert results[-1][4]["task"] == "move_slider_left"
    finally:
        env.close()


def test_landmarks_and_robot_mask(camera_env):
    u = camera_env.unwrapped
    camera_env.reset(seed=0, options={"scene_obs": neutral_scene()})
    lm = u.landmarks()
    for key in (
        "drawer_handle",
        "slider_handle",
        "button_top",
        "switch_handle",
        "slot_left",
        "slot_right",
        "drawer_center",
        "tcp",
        "block_red",
    ):
        assert lm[key].shape == (3,)
    assert lm["button_top"][2] == pytest.approx(0.484, abs=1e-3)
    static = u.robot_mask("static")
    assert static.shape == (200, 200) and 200 < static.sum() < 20000
    assert u.robot_mask("gripper").shape == (84, 84)
    assert u.robot_mask("gripper").any()  # the fingers are in view


def test_lights_change_colour_in_the_image(camera_env):
    imgs = {}
    for led, bulb in ((0, 0), (1, 1)):
        s = neutral_scene()
        s[C.LED], s[C.LIGHTBULB], s[C.SWITCH] = led, bulb, C.SWITCH_ON_POS * bulb
        obs, _ = camera_env.reset(seed=0, options={"scene_obs": s})
        imgs[led] = obs[C.RGB_STATIC].astype(int)
    diff = np.abs(imgs[1] - imgs[0]).sum(-1) > 60
    assert diff.sum() > 20
    # where the image changed, the "on" picture lost blue (white -> green / yellow)
    assert (imgs[0][diff][:, 2] - imgs[1][diff][:, 2]).mean() > 60


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "action, match",
    [
        (np.array([np.nan, 0, 0, 0, 0, 0, 1]), "finite"),
        (np.array([0, 0, np.inf, 0, 0, 0, 1]), "finite"),
        (np.zeros(6), "shape"),
        (np.zeros((1, 7)), "shape"),
        ("forward", "action"),
    ],
)
def test_bad_actions_raise_before_physics(play_table_env, action, match):
    env = play_table_env
    env.reset(seed=0, options={"scene_obs": neutral_scene()})
    before = env.unwrapped.get_state()
    target = env.unwrapped.robot.target_pos.copy()
    with pytest.raises(ValueError, match=match):
        env.step(action)
    after = env.unwrapped.get_state()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(target, env.unwrapped.robot.target_pos)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"task": "fly_to_the_moon"}, "task"),
        ({"instruction": "please do a backflip"}, "instruction"),
        ({"robot_obs": np.zeros(14)}, "robot_obs"),
        ({"robot_obs": np.r_[np.zeros(7), [5, 0, 0, 0, 0, 0, 0], 1]}, "robot_obs"),
        ({"scene_obs": np.full(24, np.nan)}, "scene_obs"),
        ({"scene_obs": np.r_[0.9, np.zeros(23)]}, r"scene_obs\[0\]"),
        ({"scene_obs": np.r_[np.zeros(4), 0.5, np.zeros(19)]}, "lightbulb"),
        ({"colour": "red"}, "options"),
        ({"condition": {"led": 3}}, "state"),
        ({"condition": "drawer open"}, "condition"),
    ],
)
def test_bad_reset_options_raise(play_table_env, options, match):
    with pytest.raises(ValueError, match=match):
        play_table_env.reset(seed=0, options=options)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="cameras"):
        PlayTableEnv(cameras=("top",))
    with pytest.raises(ValueError, match="action_mode"):
        PlayTableEnv(action_mode="joint")
    with pytest.raises(ValueError, match="task"):
        PlayTableEnv(task="nope")
    with pytest.raises(ValueError, match="set_task"):
        env = PlayTableEnv(cameras=())
        try:
            env.reset(seed=0)
            env.set_task()
        finally:
            env.close()


def test_grasped_block_is_held_while_moving(play_table_env):
    cond = dict(
        led=0,
        lightbulb=0,
        slider="right",
        drawer="closed",
        red_block="table",
        blue_block="grasped",
        pink_block="slider_left",
        grasped=1,
    )
    env = play_table_env
    env.reset(seed=0, options={"task": "place_in_slider", "condition": cond})
    for _ in range(10):
        obs, *_ = env.step(np.array([0, 0, 1, 0, 0, 0, -1], np.float32))
    blue = obs[C.SCENE_OBS][C.BLOCK_SLICES["block_blue"]][:3]
    assert np.linalg.norm(blue - obs[C.ROBOT_OBS][:3]) < 0.02
    u = env.unwrapped
    pos = p.getBasePositionAndOrientation(u.blocks["block_blue"], physicsClientId=u.client)[0]
    assert pos[2] > 0.6


def _drive(env, target, orn, gripper, steps):
    info = {}
    for _ in range(steps):
        obs, _, terminated, _, info = env.step(np.concatenate([target, orn, [gripper]]))
        if terminated:
            break
    return info


@pytest.mark.parametrize("task", ["open_drawer", "move_slider_left"])
def test_robot_moves_drawer_and_door_by_their_handles(play_table_env_abs, task):
    """Grasp the drawer handle and pull it (-y), or push the door handle sideways (-x), by physics."""
    env = play_table_env_abs
    obs, _ = env.reset(seed=0, options={"task": task, "scene_obs": neutral_scene()})
    orn = obs[C.ROBOT_OBS][C.TCP_ORN].astype(np.float64)
    if task == "open_drawer":
        handle = env.unwrapped.landmarks()["drawer_handle"]
        _drive(env, handle + [0, -0.05, 0.05], orn, 1, 30)
        _drive(env, handle, orn, 1, 30)
        _drive(env, handle, orn, -1, 10)
        path = [handle + [0, -0.02 * (k + 1), 0] for k in range(12)]
    else:
        handle = env.unwrapped.landmarks()["slider_handle"]
        _drive(env, handle + [0.05, -0.08, 0.05], orn, -1, 30)
        _drive(env, handle + [0.04, 0, 0], orn, -1, 30)
        path = [handle + [0.04 - 0.02 * (k + 1), 0, 0] for k in range(16)]
    info = {}
    for waypoint in path:
        info = _drive(env, waypoint, orn, -1, 3)
        if info["is_success"]:
            break
    assert info["is_success"], info
