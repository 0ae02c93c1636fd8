"""The two cameras of the play table, rendered with PyBullet's CPU TinyRenderer.

* static: 200 x 200, CALVIN's oblique view of the whole desk (look_from (2.871, -2.167, 2.555),
  look_at (-0.026, -0.030, 0.392), up (0.404, 0.226, 0.886), vertical fov 10 deg, near/far 0.01/10).
* gripper: 84 x 84, fov 75 deg, near/far 0.01/2, fixed to the hand, looking along the gripper's
  approach axis (the fingers appear at the bottom of the image).

Depth is the z-buffer linearised to metres: far * near / (far - (far - near) * z) (SPEC §1.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs import constants as C


@dataclass(frozen=True)
class CameraSpec:
    """Size and optics of one camera."""

    name: str
    size: int
    fov: float
    near: float
    far: float


STATIC = CameraSpec("static", C.STATIC_SIZE, 10.0, 0.01, 10.0)
GRIPPER = CameraSpec("gripper", C.GRIPPER_SIZE, 75.0, 0.01, 2.0)
CAMERAS = {"static": STATIC, "gripper": GRIPPER}
STATIC_LOOK_FROM = (2.871, -2.167, 2.555)
STATIC_LOOK_AT = (-0.026, -0.030, 0.392)
STATIC_UP = (0.404, 0.226, 0.886)
# wrist camera in the hand frame: beside the hand, looking down the approach (+z) axis
GRIPPER_EYE = (0.065, 0.0, 0.02)
GRIPPER_TARGET = (0.0, 0.0, 0.25)
GRIPPER_UP = (1.0, 0.0, 0.0)
LIGHT_DIRECTION = (0.6, -0.8, 1.6)


class Renderer:
    """Renders RGB, depth and segmentation for the static and the gripper camera.

    Args:
        p: the ``pybullet`` module.
        client: physics client id.
    """

    def __init__(self, p, client: int) -> None:
        self.p, self.client = p, client
        self.static_view = p.computeViewMatrix(STATIC_LOOK_FROM, STATIC_LOOK_AT, STATIC_UP)
        self.proj = {c.name: p.computeProjectionMatrixFOV(c.fov, 1.0, c.near, c.far) for c in (STATIC, GRIPPER)}

    def view_matrix(self, camera: str, hand_pose: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
        """PyBullet view matrix (16,) of a camera; the gripper camera needs the hand pose."""
        if camera == "static":
            return self.static_view
        if hand_pose is None:
            raise ValueError("hand_pose: expected the hand (pos, quat) for the gripper camera, received None")
        pos, orn = hand_pose
        rot = np.asarray(self.p.getMatrixFromQuaternion(orn.tolist())).reshape(3, 3)
        eye = pos + rot @ np.asarray(GRIPPER_EYE)
        target = pos + rot @ np.asarray(GRIPPER_TARGET)
        up = rot @ np.asarray(GRIPPER_UP)
        return self.p.computeViewMatrix(eye.tolist(), target.tolist(), up.tolist())

    def render(
        self,
        camera: str,
        hand_pose: tuple[np.ndarray, np.ndarray] | None = None,
        depth: bool = False,
        segmentation: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Render one camera.

        Returns:
            rgb: uint8 (H, W, 3); depth: float32 (H, W) metres or None; seg: int32 (H, W) body ids
            (-1 background) or None.
        """
        spec = CAMERAS[camera]
        p = self.p
        flags = 0 if segmentation else p.ER_NO_SEGMENTATION_MASK
        _, _, rgba, zbuf, seg = p.getCameraImage(
            spec.size,
            spec.size,
            self.view_matrix(camera, hand_pose),
            self.proj[camera],
            lightDirection=LIGHT_DIRECTION,
            shadow=0,
            renderer=p.ER_TINY_RENDERER,
            flags=flags,
            physicsClientId=self.client,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(spec.size, spec.size, 4)[..., :3].copy()
        dep = None
        if depth:
            z = np.asarray(zbuf, dtype=np.float32).reshape(spec.size, spec.size)
            dep = spec.far * spec.near / (spec.far - (spec.far - spec.near) * z)
            dep = np.clip(dep, spec.near, spec.far).astype(np.float32)  # float rounding at the far plane
        sg = np.asarray(seg, dtype=np.int32).reshape(spec.size, spec.size) if segmentation else None
        return rgb, dep, sg
