"""Failure modes (did the task's object move?) on real play-table rollouts and real run logs."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the envs)
from envs import constants as C
from envs.experts import ScriptedExpert
from evaluation import EnvFactory, RandomPolicyFactory, evaluate_long_horizon
from evaluation.failures import (
    MOVED,
    UNKNOWN,
    UNTOUCHED,
    classify_failure,
    failure_modes,
    format_failure_table,
    object_moved,
    target_blocks,
    target_joint,
)
from evaluation.long_horizon import LOG_FILE, TABLE_FILE


@pytest.fixture(scope="module")
def pushed_red() -> tuple[np.ndarray, np.ndarray]:
    """Scene before and after the scripted expert pushes the red block right (real simulation)."""
    env = gym.make("vla_agent/PlayTable-v0", cameras=())
    try:
        obs, _ = env.reset(seed=3, options={"task": "push_red_block_right"})
        start = obs[C.SCENE_OBS].copy()
        expert = ScriptedExpert(env.unwrapped, task="push_red_block_right", seed=0)
        for _ in range(C.EP_LEN):
            obs, _r, _te, _tr, info = env.step(expert.act(obs, "push_red_block_right"))
            if info["is_success"]:
                break
        assert info["is_success"]
        return start, obs[C.SCENE_OBS].copy()
    finally:
        env.close()


def test_object_moved_on_a_real_push(pushed_red: tuple[np.ndarray, np.ndarray]) -> None:
    start, end = pushed_red
    assert object_moved("push_red_block_right", start, end)
    assert object_moved("lift_red_block_table", start, end)
    assert not object_moved("push_blue_block_right", start, end)  # the expert left the blue block alone
    assert not object_moved("rotate_pink_block_left", start, end)
    assert not object_moved("open_drawer", start, end)
    assert object_moved("stack_block", start, end)  # names no block: any block counts
    assert target_joint("open_drawer") == C.DRAWER and target_joint("turn_on_led") == C.BUTTON
    assert target_joint("push_red_block_right") is None and target_blocks("push_red_block_right") == ("block_red",)


def test_classification_of_records(pushed_red: tuple[np.ndarray, np.ndarray]) -> None:
    start, end = pushed_red
    chain = {"chain": ["open_drawer", "push_red_block_left"], "results": [True, False], "num_success": 1,
             "start_scene_obs": start.tolist(), "end_scene_obs": end.tolist()}
    assert classify_failure(chain) == ("push_red_block_left", MOVED)
    assert classify_failure({**chain, "chain": ["open_drawer", "turn_on_led"]}) == ("turn_on_led", UNTOUCHED)
    legacy = {k: v for k, v in chain.items() if k != "start_scene_obs"}  # later subtask, no start on record
    assert classify_failure(legacy) == ("push_red_block_left", UNKNOWN)
    assert classify_failure({**chain, "results": [True, True], "num_success": 2}) is None
    single = {"task": "lift_blue_block_table", "success": False, "start_scene_obs": start.tolist(),
              "end_scene_obs": end.tolist()}
    assert classify_failure(single) == ("lift_blue_block_table", UNTOUCHED)
    assert classify_failure({**single, "success": True}) is None


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ValueError, match="task"):
        target_blocks("lift_green_block_table")
    with pytest.raises(ValueError, match="end_scene_obs.*24"):
        object_moved("open_drawer", np.zeros(24), np.zeros(23))
    with pytest.raises(ValueError, match="start_scene_obs"):
        object_moved("open_drawer", np.full(24, np.nan), np.zeros(24))


def test_a_real_run_reports_its_failures(tmp_path) -> None:
    out = tmp_path / "lh"
    res = evaluate_long_horizon(RandomPolicyFactory(seed=0), EnvFactory(kwargs={"cameras": ()}), num_sequences=4,
                                max_steps=15, out_dir=out, progress=False, n_boot=50)
    modes = res["failure_modes"]
    failed = round(4 * (1 - res["chain_sr"]["5"]))  # chains that stopped at a failure
    assert sum(sum(c.values()) for c in modes.values()) == failed
    for task, c in modes.items():
        assert c[UNKNOWN] == 0  # every record now carries the start of its last subtask
        assert task in C.TASK_NAMES
    records = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert failure_modes(records) == modes  # the same from the log alone
    assert "Failed subtasks" in (out / TABLE_FILE).read_text()
    assert format_failure_table(modes).splitlines()[-1].split()[1] == str(failed)
