"""Export renders in RoboSeg's layout: an image PNG beside a colour-mask PNG.

Layout written (one folder per chain and camera)::

    <dir>/<split>/chain_00000/rgb_static/0000123.png        the RGB render
    <dir>/<split>/chain_00000/rgb_static/0000123_mask.png   robot (251, 154, 153), background black

``0000123`` is the frame's global index in the CALVIN-format dataset, so a mask can be traced back
to its ``episode_0000123.npz``. The masks come from the simulator's segmentation buffer of the very
render stored in the frame (exact, no thresholding). :func:`vla_agent.segmentation.roboseg.find_pairs`
reads this layout.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from envs import constants as C
from vla_agent.data.format import write_bytes_atomic


def colour_mask(robot: np.ndarray, color: tuple[int, int, int] = C.ROBOSEG_ROBOT_COLOR) -> np.ndarray:
    """(H, W) bool robot pixels -> (H, W, 3) uint8 colour mask (robot colour on black)."""
    robot = np.asarray(robot, dtype=bool)
    if robot.ndim != 2:
        raise ValueError(f"robot mask: expected shape (H, W), received {robot.shape}")
    out = np.zeros(robot.shape + (3,), dtype=np.uint8)
    out[robot] = color
    return out


def _png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


class RoboSegExporter:
    """Writes image / mask pairs for one chain.

    Args:
        folder: ``<dir>/<split>/chain_XXXXX``.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def write(self, index: int, views: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Write frame ``index``: camera key -> (rgb (H, W, 3) uint8, robot (H, W) bool)."""
        for camera, (rgb, robot) in views.items():
            rgb = np.asarray(rgb, dtype=np.uint8)
            if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != np.shape(robot):
                raise ValueError(
                    f"{camera}: expected rgb (H, W, 3) and mask (H, W) of one size, received "
                    f"{rgb.shape} and {np.shape(robot)}"
                )
            d = self.folder / camera
            d.mkdir(parents=True, exist_ok=True)
            # mask first: a pair whose image exists always has its mask
            write_bytes_atomic(d / f"{index:07d}_mask.png", _png_bytes(colour_mask(robot)))
            write_bytes_atomic(d / f"{index:07d}.png", _png_bytes(rgb))
