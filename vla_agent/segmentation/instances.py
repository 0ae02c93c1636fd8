"""The prediction result shared by both backends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Instances:
    """Detected robot instances in one image of size (H, W).

    Attributes:
        boxes: (K, 4) float32 xyxy, pixels of the input image.
        masks: (K, H, W) bool.
        scores: (K,) float32 in [0, 1], descending.
        labels: (K,) int64 class index (0 = robot).
    """

    boxes: np.ndarray
    masks: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def union_mask(self) -> np.ndarray:
        """(H, W) bool union of every instance's mask (the predicted robot pixels)."""
        return self.masks.any(axis=0)

    @staticmethod
    def empty(height: int, width: int) -> Instances:
        return Instances(
            np.zeros((0, 4), np.float32),
            np.zeros((0, height, width), bool),
            np.zeros((0,), np.float32),
            np.zeros((0,), np.int64),
        )
