"""CALVIN's absolute <-> relative action conversion (SPEC §2)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import constants as C
from vla_agent.data import to_absolute_action, to_relative_action
from vla_agent.data.actions import wrap_angle


def obs_with_pose(xyz, euler, gripper=1.0) -> np.ndarray:
    obs = np.asarray(C.NEUTRAL_ROBOT_OBS, dtype=np.float64).copy()
    obs[C.TCP_POS], obs[C.TCP_ORN], obs[C.GRIPPER_ACTION] = xyz, euler, gripper
    return obs


def test_known_values() -> None:
    obs = obs_with_pose([0.1, -0.2, 0.5], [3.1, 0.0, 1.5])
    act = np.array([0.11, -0.25, 0.5, 3.1 + 0.025, 0.0 - 0.2, 1.5, -1.0])
    rel = to_relative_action(act, obs)
    np.testing.assert_allclose(rel, [0.5, -1.0, 0.0, 0.5, -1.0, 0.0, -1.0], atol=1e-9)


def test_euler_difference_wraps_across_pi() -> None:
    # from +3.13 to -3.13 is +0.0232 rad the short way, not -6.26
    obs = obs_with_pose([0, 0, 0.5], [3.13, 0.0, 0.0])
    act = np.array([0, 0, 0.5, -3.13, 0, 0, 1.0])
    rel = to_relative_action(act, obs)
    assert rel[3] == pytest.approx((2 * np.pi - 6.26) / C.MAX_REL_ORN)
    back = to_absolute_action(rel, obs)
    assert wrap_angle(back[3] - act[3]) == pytest.approx(0.0, abs=1e-9)


def test_batched_shapes() -> None:
    rng = np.random.default_rng(0)
    obs = np.stack([obs_with_pose(rng.uniform(-0.3, 0.3, 3), rng.uniform(-3, 3, 3)) for _ in range(5)])
    act = np.concatenate([obs[:, :6] + rng.uniform(-0.01, 0.01, (5, 6)), np.ones((5, 1))], axis=1)
    rel = to_relative_action(act, obs)
    assert rel.shape == (5, 7) and np.all(np.abs(rel) <= 1)
    np.testing.assert_allclose(to_absolute_action(rel, obs)[:, :3], act[:, :3], atol=1e-12)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"actions: expected shape \(\.\.\., 7\)"):
        to_relative_action(np.zeros(6), np.zeros(15))
    with pytest.raises(ValueError, match="robot_obs"):
        to_relative_action(np.zeros(7), np.zeros(8))
    with pytest.raises(ValueError, match="finite"):
        to_absolute_action(np.full(7, np.nan), np.zeros(15))


@settings(max_examples=200, deadline=None)
@given(
    xyz=st.lists(st.floats(-0.5, 0.5), min_size=3, max_size=3),
    euler=st.lists(st.floats(-np.pi, np.pi - 1e-9), min_size=3, max_size=3),
    rel=st.lists(st.floats(-0.999, 0.999), min_size=6, max_size=6),
    grip=st.sampled_from([-1.0, 1.0]),
)
def test_round_trip_unclipped(xyz, euler, rel, grip) -> None:
    obs = obs_with_pose(xyz, euler)
    r = np.array([*rel, grip])
    absolute = to_absolute_action(r, obs)
    assert np.all(absolute[3:6] >= -np.pi) and np.all(absolute[3:6] < np.pi)
    np.testing.assert_allclose(to_relative_action(absolute, obs), r, atol=1e-7)


@settings(max_examples=100, deadline=None)
@given(delta=st.lists(st.floats(-1.0, 1.0), min_size=6, max_size=6))
def test_relative_is_always_clipped(delta) -> None:
    obs = obs_with_pose([0, 0, 0.5], [0.5, -0.5, 2.0])
    act = np.concatenate([obs[:6] + np.asarray(delta), [1.0]])
    rel = to_relative_action(act, obs)
    assert np.all(np.abs(rel) <= 1.0 + 1e-12)
