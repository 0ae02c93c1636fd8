"""Normalisation of proprioception (``robot_obs``) with dataset statistics that travel in the checkpoint."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

from envs.constants import ROBOT_OBS, ROBOT_OBS_DIM, TCP_ORN
from vla_agent.data.actions import wrap_angle

NORMALIZATION_NAME = "normalization.json"
_MIN_STD = 1e-6  # constant dims (e.g. the gripper action in a short dataset) must not divide by 0
# the TCP's euler angles: a gripper pointing down has roll near +-pi, and the measured roll jumps
# between the two from one frame to the next; these dims are normalised as angles around their mean
ANGLE_DIMS: tuple[int, ...] = tuple(range(TCP_ORN.start, TCP_ORN.stop))


class Normalizer:
    """``(x - mean) / std`` per dimension of ``robot_obs``; angle dims use ``wrap(x - mean) / std``.

    Args:
        mean: (15,) dataset mean (circular mean on angle dims); zeros when ``None``.
        std: (15,) dataset standard deviation; ones when ``None``. Values below 1e-6 are raised to 1e-6.
        angle_dims: dims holding angles (rad): their difference from the mean is wrapped to
            [-pi, pi) first, so +pi and -pi normalise alike. Checkpoints written before this option
            load with none.
    """

    def __init__(self, mean: Sequence[float] | np.ndarray | None = None,
                 std: Sequence[float] | np.ndarray | None = None, dim: int = ROBOT_OBS_DIM,
                 angle_dims: Sequence[int] = ()) -> None:
        self.dim = int(dim)
        self.angle_dims = tuple(int(d) for d in angle_dims)
        if any(not 0 <= d < self.dim for d in self.angle_dims):
            raise ValueError(f"angle_dims: expected dims in [0, {self.dim}), received {list(self.angle_dims)}")
        self.mean = _vector("mean", np.zeros(dim) if mean is None else mean, dim)
        self.std = np.maximum(_vector("std", np.ones(dim) if std is None else std, dim), _MIN_STD)
        if (np.asarray(std if std is not None else 1.0) < 0).any():
            raise ValueError(f"std: expected non-negative values, received {np.asarray(std).tolist()}")

    @classmethod
    def from_data(cls, robot_obs: np.ndarray, angle_dims: Sequence[int] = ()) -> Normalizer:
        """Statistics of an (N, D) array of observations (circular mean and spread on ``angle_dims``)."""
        x = np.asarray(robot_obs, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"robot_obs: expected shape (N, D) with N >= 1, received {x.shape}")
        mean, std = x.mean(0), x.std(0)
        for d in angle_dims:
            a = x[:, d]
            mean[d] = float(np.arctan2(np.sin(a).mean(), np.cos(a).mean()))
            std[d] = float(wrap_angle(a - mean[d]).std())
        return cls(mean, std, dim=x.shape[1], angle_dims=angle_dims)

    def normalize(self, robot_obs: np.ndarray) -> np.ndarray:
        """(..., 15) -> float32 (..., 15)."""
        x = np.asarray(robot_obs, dtype=np.float64)
        if x.shape[-1:] != (self.dim,):
            raise ValueError(f"{ROBOT_OBS}: expected last dimension {self.dim}, received shape {x.shape}")
        d = x - self.mean
        if self.angle_dims:
            d[..., self.angle_dims] = wrap_angle(d[..., self.angle_dims])
        return (d / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, dict[str, list[float]]]:
        return {ROBOT_OBS: {"mean": self.mean.tolist(), "std": self.std.tolist(),
                            "angle_dims": list(self.angle_dims)}}

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
        entry = data[ROBOT_OBS]
        return cls(entry["mean"], entry["std"], dim=dim, angle_dims=entry.get("angle_dims", ()))


def _vector(name: str, value: Sequence[float] | np.ndarray, dim: int) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.shape != (dim,):
        raise ValueError(f"{name}: expected shape ({dim},), received {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: expected finite values, received {v.tolist()}")
    return v
