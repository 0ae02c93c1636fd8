"""Quick RoboSeg-format render sets from PyBullet (Franka Panda from ``pybullet_data``).

A Panda on a plane with a few coloured boxes as distractors, random joint states, a static camera
(small jitter) and random light direction. The robot mask comes from PyBullet's segmentation buffer,
written as a colour mask: robot pixels (251, 154, 153), everything else black.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from envs.constants import ROBOSEG_ROBOT_COLOR

# Panda arm joint limits (rad), from the Franka datasheet
_PANDA_LOWER = np.array([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973])
_PANDA_UPPER = np.array([2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973])
_NEUTRAL = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])


def _atomic_png(array: np.ndarray, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp.png")
    Image.fromarray(array).save(tmp)
    os.replace(tmp, path)


def render_roboseg_samples(
    out_dir: str | os.PathLike,
    n: int,
    seed: int = 0,
    size: int = 200,
    joint_spread: float = 0.6,
    camera_jitter: float = 0.03,
    distractors: int = 3,
) -> list[tuple[Path, Path]]:
    """Render ``n`` (image, colour-mask) pairs into ``out_dir/scene_<seed>/<i>.png`` + ``<i>_mask.png``.

    Args:
        out_dir: output root (created).
        n: number of pairs.
        seed: random seed (joint states, camera jitter, distractors, light).
        size: square image size, px.
        joint_spread: fraction of each joint's half-range sampled around a neutral pose (1 = full range).
        camera_jitter: camera eye/target jitter, m.
        distractors: coloured boxes placed around the robot.

    Returns:
        the written (image, mask) paths. A pair that already exists is kept (resumable).
    """
    import pybullet as p
    import pybullet_data

    if n < 0:
        raise ValueError(f"n: expected >= 0, got {n}")
    rng = np.random.default_rng(seed)
    folder = Path(out_dir) / f"scene_{seed:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    cid = p.connect(p.DIRECT)
    try:
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        p.loadURDF("plane.urdf", physicsClientId=cid)
        robot = p.loadURDF("franka_panda/panda.urdf", useFixedBase=True, physicsClientId=cid)
        arm = [
            j
            for j in range(p.getNumJoints(robot, physicsClientId=cid))
            if p.getJointInfo(robot, j, physicsClientId=cid)[2] == p.JOINT_REVOLUTE
        ][:7]
        fingers = [
            j
            for j in range(p.getNumJoints(robot, physicsClientId=cid))
            if p.getJointInfo(robot, j, physicsClientId=cid)[2] == p.JOINT_PRISMATIC
        ]
        boxes = []
        for _ in range(distractors):
            half = rng.uniform(0.02, 0.06, size=3)
            vis = p.createVisualShape(
                p.GEOM_BOX,
                halfExtents=half.tolist(),
                rgbaColor=[*rng.uniform(0.1, 1.0, 3).tolist(), 1.0],
                physicsClientId=cid,
            )
            boxes.append((p.createMultiBody(0, -1, vis, physicsClientId=cid), half))
        out = []
        for i in range(n):
            q = _NEUTRAL + joint_spread * rng.uniform(-1, 1, 7) * (_PANDA_UPPER - _PANDA_LOWER) / 2
            q = np.clip(q, _PANDA_LOWER, _PANDA_UPPER)
            grip = rng.uniform(0.0, 0.04)
            eye = np.array([1.2, 0.35, 1.0]) + rng.uniform(-camera_jitter, camera_jitter, 3)
            target = np.array([0.1, 0.0, 0.45]) + rng.uniform(-camera_jitter, camera_jitter, 3)
            light = rng.uniform([-1, -1, 0.5], [1, 1, 1.5])
            box_xy = rng.uniform([-0.2, -0.6], [0.8, 0.6], size=(len(boxes), 2))
            img_path, mask_path = folder / f"{i:05d}.png", folder / f"{i:05d}_mask.png"
            if img_path.exists() and mask_path.exists():
                out.append((img_path, mask_path))
                continue
            for j, a in zip(arm, q, strict=True):
                p.resetJointState(robot, j, float(a), physicsClientId=cid)
            for j in fingers:
                p.resetJointState(robot, j, float(grip), physicsClientId=cid)
            for (b, half), xy in zip(boxes, box_xy, strict=True):
                p.resetBasePositionAndOrientation(
                    b, [float(xy[0]), float(xy[1]), float(half[2])], [0, 0, 0, 1], physicsClientId=cid
                )
            view = p.computeViewMatrix(eye.tolist(), target.tolist(), [0, 0, 1], physicsClientId=cid)
            proj = p.computeProjectionMatrixFOV(60, 1.0, 0.05, 5.0, physicsClientId=cid)
            _, _, rgb, _, seg = p.getCameraImage(
                size,
                size,
                view,
                proj,
                lightDirection=light.tolist(),
                shadow=1,
                renderer=p.ER_TINY_RENDERER,
                physicsClientId=cid,
            )
            rgb = np.asarray(rgb, dtype=np.uint8).reshape(size, size, 4)[..., :3]
            seg = np.asarray(seg, dtype=np.int64).reshape(size, size)
            robot_px = (seg >= 0) & ((seg & ((1 << 24) - 1)) == robot)
            colour = np.zeros((size, size, 3), np.uint8)
            colour[robot_px] = ROBOSEG_ROBOT_COLOR
            _atomic_png(np.ascontiguousarray(rgb), img_path)
            _atomic_png(colour, mask_path)
            out.append((img_path, mask_path))
        return out
    finally:
        p.disconnect(physicsClientId=cid)
