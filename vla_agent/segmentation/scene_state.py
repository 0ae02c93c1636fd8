"""Auxiliary scene-state supervision of the segmentation backbone's image tokens.

A Mask R-CNN trained only to segment the robot arm learns features that say where the arm is and
little else: a linear probe of its tokens finds no block positions on held-out chains. The policy
needs them, so segmentation fine-tuning can add a second objective on the frames of a CALVIN-format
dataset: a linear head reads the flattened image tokens of each camera and regresses the scene
state recorded with the frame (``scene_obs``, ``robot_obs``):

* static camera: slider, drawer, switch, light bulb and LED states, each block's xyz and the sine
  and cosine of its yaw (20 values);
* wrist camera: each block's xyz relative to the gripper (TCP), clipped to +-0.3 m (9 values).

Targets are standardised with statistics of the training frames. The head is linear on purpose:
what it decodes is then linearly present in the tokens the policy's transformer reads. Only training
uses the state; at run time the policy still sees images and proprioception only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from envs import constants as C
from vla_agent.data.format import frame_path, read_frame, read_segments

# scene_obs layout (CALVIN): 0 slider, 1 drawer, 2 button, 3 switch, 4 lightbulb, 5 led, then per block
# (red, blue, pink) xyz (3) + euler (3) starting at 6, 12, 18
_ARTICULATED = (0, 1, 3, 4, 5)
_BLOCK_STARTS = (6, 12, 18)
_REL_CLIP = 0.3
STATIC_TARGETS = len(_ARTICULATED) + 5 * len(_BLOCK_STARTS)  # 20
GRIPPER_TARGETS = 3 * len(_BLOCK_STARTS)  # 9
SCENE_TARGETS = STATIC_TARGETS + GRIPPER_TARGETS  # 29


def static_targets(scene_obs: np.ndarray) -> np.ndarray:
    """(B, 24) scene_obs -> (B, 20) float32: articulated states, block xyz, sin/cos of block yaw."""
    s = np.asarray(scene_obs, dtype=np.float32)
    cols = [s[:, list(_ARTICULATED)]]
    for b in _BLOCK_STARTS:
        yaw = s[:, b + 5]
        cols += [s[:, b : b + 3], np.sin(yaw)[:, None], np.cos(yaw)[:, None]]
    return np.concatenate(cols, axis=1).astype(np.float32)


def gripper_targets(scene_obs: np.ndarray, robot_obs: np.ndarray) -> np.ndarray:
    """(B, 24) scene_obs, (B, 15) robot_obs -> (B, 9) float32 block xyz minus TCP xyz, clipped."""
    s = np.asarray(scene_obs, dtype=np.float32)
    tcp = np.asarray(robot_obs, dtype=np.float32)[:, :3]
    rel = [np.clip(s[:, b : b + 3] - tcp, -_REL_CLIP, _REL_CLIP) for b in _BLOCK_STARTS]
    return np.concatenate(rel, axis=1).astype(np.float32)


def scene_targets(scene_obs: np.ndarray, robot_obs: np.ndarray) -> np.ndarray:
    """(B, 24) scene_obs, (B, 15) robot_obs -> (B, 29) float32: static targets, then gripper targets."""
    return np.concatenate([static_targets(scene_obs), gripper_targets(scene_obs, robot_obs)], axis=1)


class SceneFrames:
    """Frames of a CALVIN split with their scene-state targets (images read lazily per batch).

    Args:
        split_dir: ``<root>/training`` or ``<root>/validation``.
        max_frames: use at most this many frames (evenly spread), None = all.
    """

    def __init__(self, split_dir: str | os.PathLike, max_frames: int | None = None) -> None:
        self.split_dir = Path(split_dir)
        segs = read_segments(self.split_dir)
        ids = np.concatenate([np.arange(s, e + 1) for s, e in segs.tolist()])
        if max_frames is not None and len(ids) > max_frames:
            ids = ids[np.linspace(0, len(ids) - 1, int(max_frames)).astype(np.int64)]
        self.frames = ids.astype(np.int64)
        if len(self.frames) == 0:
            raise ValueError(f"scene_data: expected frames in {self.split_dir}, found none")

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Images and targets of ``rows``: rgb_static (B, H, W, 3), rgb_gripper (B, h, w, 3) uint8,
        static (B, 20), gripper (B, 9) float32."""
        keys = (C.RGB_STATIC, C.RGB_GRIPPER, C.SCENE_OBS, C.ROBOT_OBS)
        frs = [read_frame(frame_path(self.split_dir, int(self.frames[r])), keys) for r in rows]
        scene = np.stack([f[C.SCENE_OBS] for f in frs])
        robot = np.stack([f[C.ROBOT_OBS] for f in frs])
        return {
            C.RGB_STATIC: np.stack([f[C.RGB_STATIC] for f in frs]),
            C.RGB_GRIPPER: np.stack([f[C.RGB_GRIPPER] for f in frs]),
            "static": static_targets(scene),
            "gripper": gripper_targets(scene, robot),
        }


class SceneStateHead(nn.Module):
    """Linear read-out of scene state from the flattened image tokens of each camera.

    Args:
        num_tokens: N, tokens per image; feature_dim: C per token.
        mean, std: {"static": (20,), "gripper": (9,)} target statistics (stored as buffers).
    """

    def __init__(self, num_tokens: int, feature_dim: int, mean: dict[str, np.ndarray],
                 std: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.static = nn.Linear(num_tokens * feature_dim, STATIC_TARGETS)
        self.gripper = nn.Linear(num_tokens * feature_dim, GRIPPER_TARGETS)
        for k in ("static", "gripper"):
            self.register_buffer(f"{k}_mean", torch.as_tensor(mean[k], dtype=torch.float32))
            self.register_buffer(f"{k}_std", torch.as_tensor(np.maximum(std[k], 1e-3), dtype=torch.float32))

    def forward(self, static_tokens: torch.Tensor, gripper_tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, N, C) tokens of each camera -> standardised predictions {"static": (B, 20), "gripper": (B, 9)}."""
        return {"static": self.static(static_tokens.flatten(1)), "gripper": self.gripper(gripper_tokens.flatten(1))}

    def standardise(self, targets: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
        """Raw targets -> standardised float32 tensors on ``device``."""
        out = {}
        for k in ("static", "gripper"):
            t = torch.as_tensor(targets[k], dtype=torch.float32, device=device)
            out[k] = (t - getattr(self, f"{k}_mean")) / getattr(self, f"{k}_std")
        return out

    def unstandardise(self, k: str, pred: torch.Tensor) -> torch.Tensor:
        """Standardised predictions of ``k`` ("static" / "gripper") -> raw units (metres, radians)."""
        return pred * getattr(self, f"{k}_std") + getattr(self, f"{k}_mean")


def build_head(seg: Any, frames: SceneFrames, sample: int = 512, seed: int = 0) -> SceneStateHead:
    """A head sized for ``seg``'s tokens with target statistics from up to ``sample`` frames."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(frames), size=min(sample, len(frames)), replace=False)
    keys = (C.SCENE_OBS, C.ROBOT_OBS)
    frs = [read_frame(frame_path(frames.split_dir, int(frames.frames[r])), keys) for r in rows]
    scene = np.stack([f[C.SCENE_OBS] for f in frs])
    robot = np.stack([f[C.ROBOT_OBS] for f in frs])
    st, gr = static_targets(scene), gripper_targets(scene, robot)
    n = int(seg.config.token_grid) ** 2
    head = SceneStateHead(n, int(seg.feature_dim), {"static": st.mean(0), "gripper": gr.mean(0)},
                          {"static": st.std(0), "gripper": gr.std(0)})
    return head.to(seg.device)


def scene_state_loss(seg: Any, head: SceneStateHead, batch: dict[str, np.ndarray]) -> torch.Tensor:
    """Mean squared error of the standardised targets of both cameras (gradients reach the backbone)."""
    preds = head(seg.features(batch[C.RGB_STATIC]), seg.features(batch[C.RGB_GRIPPER]))
    targets = head.standardise(batch, seg.device)
    return F.mse_loss(preds["static"], targets["static"]) + F.mse_loss(preds["gripper"], targets["gripper"])


@torch.no_grad()
def evaluate_scene_state(seg: Any, head: SceneStateHead, frames: SceneFrames, batch_size: int = 32
                         ) -> dict[str, float]:
    """Held-out read-out quality: RMSE of block positions (cm, static and wrist), of slider and drawer
    (cm), and R^2 of the static block xy, over every frame of ``frames``."""
    preds: dict[str, list[np.ndarray]] = {"static": [], "gripper": []}
    truth: dict[str, list[np.ndarray]] = {"static": [], "gripper": []}
    for s in range(0, len(frames), batch_size):
        b = frames.batch(np.arange(s, min(s + batch_size, len(frames))))
        p = head(seg.features(b[C.RGB_STATIC]), seg.features(b[C.RGB_GRIPPER]))
        for k in preds:
            preds[k].append(head.unstandardise(k, p[k]).cpu().numpy())
            truth[k].append(b[k])
    P = {k: np.concatenate(v) for k, v in preds.items()}
    T = {k: np.concatenate(v) for k, v in truth.items()}
    n_art = len(_ARTICULATED)
    xyz = [n_art + 5 * i + j for i in range(3) for j in range(3)]
    xy = [n_art + 5 * i + j for i in range(3) for j in range(2)]
    err = P["static"] - T["static"]
    var = T["static"][:, xy].var(0)
    return {
        "block_xyz_rmse_cm_static": float(100 * np.sqrt((err[:, xyz] ** 2).mean())),
        "block_xy_r2_static": float(np.mean(1 - (err[:, xy] ** 2).mean(0) / np.maximum(var, 1e-12))),
        "slider_rmse_cm": float(100 * np.sqrt((err[:, 0] ** 2).mean())),
        "drawer_rmse_cm": float(100 * np.sqrt((err[:, 1] ** 2).mean())),
        "block_rel_xyz_rmse_cm_wrist": float(100 * np.sqrt(((P["gripper"] - T["gripper"]) ** 2).mean())),
        "frames": float(len(frames)),
    }
