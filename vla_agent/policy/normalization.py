"""Normalisation of proprioception (``robot_obs``) with dataset statistics that travel in the checkpoint."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

from envs.constants import ROBOT_OBS, ROBOT_OBS_DIM

NORMALIZATION_NAME = "normalization.json"
_MIN_STD = 1e-6  # constant dims (e.g. the gripper action in a short dataset) must not divide by 0


class Normalizer:
    """``(x - mean) / std`` per dimension of ``robot_obs``.

    Args:
        mean: (15,) dataset mean; zeros when ``None``.
        std: (15,) dataset standard deviation; ones when ``None``. Values below 1e-6 are raised to 1e-6.
    """

    def __init__(self, mean: Sequence[float] | np.ndarray | None = None,
                 std: Sequence[float] | np.ndarray | None = None, dim: int = ROBOT_OBS_DIM) -> None:
        self.dim = int(dim)
        self.mean = _vector("mean", np.zeros(dim) if mean is None else mean, dim)
        self.std = np.maximum(_vector("std", np.ones(dim) if std is None else std, dim), _MIN_STD)
        if (np.asarray(std if std is not None else 1.0) < 0).any():
            raise ValueError(f"std: expected non-negative values, received {np.asarray(std).tolist()}")

    @classmethod
    def from_data(cls, robot_obs: np.ndarray) -> Normalizer:
        """Statistics of an (N, 15) array of observations."""
        x = np.asarray(robot_obs, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"robot_obs: expected shape (N, D) with N >= 1, received {x.shape}")
        return cls(x.mean(0), x.std(0), dim=x.shape[1])

    def normalize(self, robot_obs: np.ndarray) -> np.ndarray:
        """(..., 15) -> float32 (..., 15)."""
        x = np.asarray(robot_obs, dtype=np.float64)
        if x.shape[-1:] != (self.dim,):
            raise ValueError(f"{ROBOT_OBS}: expected last dimension {self.dim}, received shape {x.shape}")
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, dict[str, list[float]]]:
        return {ROBOT_OBS: {"mean": self.mean.tolist(), "std": self.std.tolist()}}

    def save(self, directory: str | os.PathLike[str]) -> str:
        path = os.path.join(directory, NORMALIZATION_NAME)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike[str], dim: int = ROBOT_OBS_DIM) -> Normalizer:
        path = os.path.join(directory, NORMALIZATION_NAME)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Normalizer: no {NORMALIZATION_NAME} in {os.fspath(directory)!r}")
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if ROBOT_OBS not in data or not {"mean", "std"} <= set(data[ROBOT_OBS]):
            raise ValueError(f"{path}: expected {{'{ROBOT_OBS}': {{'mean': [...], 'std': [...]}}}}, "
                             f"received keys {sorted(data)}")
        return cls(data[ROBOT_OBS]["mean"], data[ROBOT_OBS]["std"], dim=dim)


def _vector(name: str, value: Sequence[float] | np.ndarray, dim: int) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.shape != (dim,):
        raise ValueError(f"{name}: expected shape ({dim},), received {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: expected finite values, received {v.tolist()}")
    return v
