"""Proprioception normalisation: plain dims, angle dims (roll near +-pi), checkpoint round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vla_agent.policy import Normalizer
from vla_agent.policy.normalization import ANGLE_DIMS, NORMALIZATION_NAME


def robot_obs_pointing_down(n: int = 400, seed: int = 0) -> np.ndarray:
    """(n, 15) observations whose TCP roll jitters across +-pi, as a gripper pointing down does."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 15))
    roll = np.pi + rng.normal(scale=0.05, size=n)
    x[:, 3] = np.where(roll > np.pi, roll - 2 * np.pi, roll)  # measured in [-pi, pi)
    return x


def test_angle_dims_normalise_plus_and_minus_pi_alike() -> None:
    x = robot_obs_pointing_down()
    assert ANGLE_DIMS == (3, 4, 5)
    plain = Normalizer.from_data(x)
    angles = Normalizer.from_data(x, angle_dims=ANGLE_DIMS)
    assert plain.std[3] > 2.5  # a linear mean of +-pi values is meaningless
    assert abs(abs(angles.mean[3]) - np.pi) < 0.02 and 0.03 < angles.std[3] < 0.07
    y = angles.normalize(x)
    assert np.abs(y[:, 3]).max() < 5 and abs(y[:, 3].mean()) < 0.2 and abs(y[:, 3].std() - 1) < 0.05
    a, b = x[:1].copy(), x[:1].copy()
    a[0, 3], b[0, 3] = np.pi - 1e-4, -np.pi + 1e-4  # the same pose, two numbers
    assert abs(angles.normalize(a)[0, 3] - angles.normalize(b)[0, 3]) < 0.01
    assert abs(plain.normalize(a)[0, 3] - plain.normalize(b)[0, 3]) > 2
    np.testing.assert_allclose(angles.normalize(x)[:, :3], plain.normalize(x)[:, :3], rtol=1e-6)


def test_round_trip_and_old_files(tmp_path) -> None:
    n = Normalizer.from_data(robot_obs_pointing_down(), angle_dims=ANGLE_DIMS)
    n.save(tmp_path)
    back = Normalizer.load(tmp_path)
    assert back.angle_dims == ANGLE_DIMS
    x = robot_obs_pointing_down(seed=1)
    np.testing.assert_array_equal(back.normalize(x), n.normalize(x))
    data = json.loads((tmp_path / NORMALIZATION_NAME).read_text())
    del data["robot_obs"]["angle_dims"]  # written before angle dims existed: plain normalisation
    (tmp_path / NORMALIZATION_NAME).write_text(json.dumps(data))
    old = Normalizer.load(tmp_path)
    assert old.angle_dims == ()
    with pytest.raises(ValueError, match=r"angle_dims: expected dims in \[0, 15\), received \[15\]"):
        Normalizer(angle_dims=(15,))
