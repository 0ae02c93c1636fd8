"""Normalisation statistics in CALVIN's ``statistics.yaml`` format (SPEC §1.6).

The file is OmegaConf-style YAML that Hydra would instantiate::

    robot_obs:
      - _target_: calvin_models.calvin_agent.utils.transforms.NormalizeVector
        mean: [15 floats]
        std: [15 floats]
    scene_obs:
      - _target_: calvin_models.calvin_agent.utils.transforms.NormalizeVector
        mean: [24 floats]
        std: [24 floats]
    act_min_bound: [7 floats]
    act_max_bound: [7 floats]

It is parsed here with plain ``yaml.safe_load`` (no Hydra); a ``calvin_models.`` prefix on
``_target_`` is accepted. ``act_*_bound`` are computed from the absolute ``actions`` [derived:
CALVIN's logistic decoder reads them for absolute actions; the released numbers are UNVERIFIED].
When the file is missing, :func:`compute_statistics` streams over a subsample of frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from envs import constants as C
from vla_agent.data.format import STATISTICS, frame_path, read_frame, read_segments, write_bytes_atomic

NORMALIZE_TARGET = "calvin_models.calvin_agent.utils.transforms.NormalizeVector"
_STD_FLOOR = 1e-6  # a constant dimension (e.g. an unused joint) must not divide by zero


@dataclass(frozen=True)
class DatasetStatistics:
    """Per-dimension statistics of one split (all float32 arrays).

    Attributes:
        robot_obs_mean, robot_obs_std: (15,).
        scene_obs_mean, scene_obs_std: (24,).
        act_min_bound, act_max_bound: (7,) bounds of the absolute ``actions``.
    """

    robot_obs_mean: np.ndarray
    robot_obs_std: np.ndarray
    scene_obs_mean: np.ndarray
    scene_obs_std: np.ndarray
    act_min_bound: np.ndarray
    act_max_bound: np.ndarray

    def normalize(self, key: str, x: np.ndarray) -> np.ndarray:
        """(x - mean) / std for ``robot_obs`` or ``scene_obs`` (any leading shape)."""
        if key == C.ROBOT_OBS:
            mean, std = self.robot_obs_mean, self.robot_obs_std
        elif key == C.SCENE_OBS:
            mean, std = self.scene_obs_mean, self.scene_obs_std
        else:
            raise ValueError(f"key: expected {C.ROBOT_OBS!r} or {C.SCENE_OBS!r}, received {key!r}")
        return ((x - mean) / np.maximum(std, _STD_FLOOR)).astype(np.float32)

    def to_yaml(self) -> str:
        """The ``statistics.yaml`` text."""

        def vec(a: np.ndarray) -> list[float]:
            return [float(v) for v in np.asarray(a, dtype=np.float64)]

        doc = {
            C.ROBOT_OBS: [
                {
                    "_target_": NORMALIZE_TARGET,
                    "mean": vec(self.robot_obs_mean),
                    "std": vec(self.robot_obs_std),
                }
            ],
            C.SCENE_OBS: [
                {
                    "_target_": NORMALIZE_TARGET,
                    "mean": vec(self.scene_obs_mean),
                    "std": vec(self.scene_obs_std),
                }
            ],
            "act_min_bound": vec(self.act_min_bound),
            "act_max_bound": vec(self.act_max_bound),
        }
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``statistics.yaml`` atomically."""
        write_bytes_atomic(path, self.to_yaml().encode("utf-8"))


def _normalize_entry(path: Path, doc: dict, key: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
    if key not in doc:
        raise ValueError(f"{path}: missing key {key!r}; the file holds {sorted(doc)}")
    entries = doc[key]
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        raise ValueError(f"{path}: {key}: expected a list of transforms, received {type(entries).__name__}")
    for t in entries:
        target = str(t.get("_target_", "")) if isinstance(t, dict) else ""
        target = target.removeprefix("calvin_models.")
        if target.endswith("NormalizeVector"):
            mean = np.asarray(t.get("mean"), dtype=np.float64).reshape(-1)
            std = np.asarray(t.get("std"), dtype=np.float64).reshape(-1)
            for name, v in (("mean", mean), ("std", std)):
                if v.shape != (dim,):
                    raise ValueError(f"{path}: {key}.{name}: expected {dim} values, received {v.shape[0]}")
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"{path}: {key}.{name}: expected finite values, received {v.tolist()}")
            if np.any(std < 0):
                raise ValueError(f"{path}: {key}.std: expected values >= 0, received {std.tolist()}")
            return mean.astype(np.float32), std.astype(np.float32)
    raise ValueError(
        f"{path}: {key}: expected a transform whose _target_ ends with 'NormalizeVector', "
        f"received {[t.get('_target_') if isinstance(t, dict) else t for t in entries]}"
    )


def load_statistics(path: str | os.PathLike) -> DatasetStatistics:
    """Parse a CALVIN ``statistics.yaml`` (a split folder is accepted too)."""
    path = Path(path)
    if path.is_dir():
        path = path / STATISTICS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: statistics file not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a YAML mapping, received {type(doc).__name__}")
    r_mean, r_std = _normalize_entry(path, doc, C.ROBOT_OBS, C.ROBOT_OBS_DIM)
    s_mean, s_std = _normalize_entry(path, doc, C.SCENE_OBS, C.SCENE_OBS_DIM)
    bounds = []
    for key in ("act_min_bound", "act_max_bound"):
        if key not in doc:
            raise ValueError(f"{path}: missing key {key!r}; the file holds {sorted(doc)}")
        v = np.asarray(doc[key], dtype=np.float64).reshape(-1)
        if v.shape != (C.ACTION_DIM,):
            raise ValueError(f"{path}: {key}: expected {C.ACTION_DIM} values, received {v.shape[0]}")
        bounds.append(v.astype(np.float32))
    return DatasetStatistics(r_mean, r_std, s_mean, s_std, bounds[0], bounds[1])


class RunningMoments:
    """Streaming mean / std / min / max of vectors (Chan et al.'s parallel update, float64).

    Args:
        dim: vector size.
    """

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)
        self.count = 0
        self.mean = np.zeros(self.dim)
        self.m2 = np.zeros(self.dim)
        self.min = np.full(self.dim, np.inf)
        self.max = np.full(self.dim, -np.inf)

    def update(self, x: np.ndarray) -> None:
        """Add a batch (B, dim) or one vector (dim,)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        n = x.shape[0]
        if n == 0:
            return
        b_mean = x.mean(0)
        b_m2 = ((x - b_mean) ** 2).sum(0)
        total = self.count + n
        delta = b_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + b_m2 + delta**2 * (self.count * n / total)
        self.count = total
        self.min = np.minimum(self.min, x.min(0))
        self.max = np.maximum(self.max, x.max(0))

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation."""
        return np.sqrt(self.m2 / max(self.count, 1))

    def state_dict(self) -> dict:
        """JSON-able state."""
        return {
            "dim": self.dim,
            "count": self.count,
            "mean": self.mean.tolist(),
            "m2": self.m2.tolist(),
            "min": self.min.tolist(),
            "max": self.max.tolist(),
        }

    @classmethod
    def from_state_dict(cls, d: dict) -> RunningMoments:
        """Inverse of :meth:`state_dict`."""
        out = cls(d["dim"])
        out.count = int(d["count"])
        out.mean, out.m2 = np.asarray(d["mean"], float), np.asarray(d["m2"], float)
        out.min, out.max = np.asarray(d["min"], float), np.asarray(d["max"], float)
        return out


def statistics_from_moments(
    robot: RunningMoments, scene: RunningMoments, actions: RunningMoments
) -> DatasetStatistics:
    """Assemble :class:`DatasetStatistics` from three accumulators."""
    for name, m in (("robot_obs", robot), ("scene_obs", scene), ("actions", actions)):
        if m.count == 0:
            raise ValueError(f"{name}: expected at least one frame to compute statistics, received none")
    f = np.float32
    return DatasetStatistics(
        robot.mean.astype(f),
        robot.std.astype(f),
        scene.mean.astype(f),
        scene.std.astype(f),
        actions.min.astype(f),
        actions.max.astype(f),
    )


def compute_statistics(
    split_dir: str | os.PathLike, max_frames: int | None = 2000, seed: int = 0
) -> DatasetStatistics:
    """Statistics of a split, streamed over at most ``max_frames`` frames drawn without replacement.

    Reads one frame file at a time (memory stays flat); frames come from the recorded segments of
    ``ep_start_end_ids.npy``.
    """
    segments = read_segments(split_dir)
    lens = segments[:, 1] - segments[:, 0] + 1
    total = int(lens.sum())
    n = total if max_frames is None else min(int(max_frames), total)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(total, size=n, replace=False)) if n < total else np.arange(total)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    seg = np.searchsorted(offsets, picks, side="right") - 1
    indices = segments[seg, 0] + (picks - offsets[seg])
    robot, scene, act = (
        RunningMoments(C.ROBOT_OBS_DIM),
        RunningMoments(C.SCENE_OBS_DIM),
        RunningMoments(C.ACTION_DIM),
    )
    for idx in indices.tolist():
        fr = read_frame(frame_path(split_dir, idx), (C.ROBOT_OBS, C.SCENE_OBS, C.ACTIONS))
        robot.update(fr[C.ROBOT_OBS])
        scene.update(fr[C.SCENE_OBS])
        act.update(fr[C.ACTIONS])
    return statistics_from_moments(robot, scene, act)
