"""Mask quality metrics for the robot class: per-image IoU and COCO-style mask AP at an IoU threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vla_agent.segmentation.instances import Instances


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (H, W) bool masks; 1.0 when both are empty."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"masks: expected equal shapes, got {a.shape} and {b.shape}")
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def mask_ap(predictions: Sequence[Instances], gt_masks: Sequence[np.ndarray], iou_threshold: float = 0.5) -> float:
    """COCO-style average precision (101-point interpolation) of instance masks, one class.

    Args:
        predictions: per image, the predicted instances (any score threshold).
        gt_masks: per image, (K, H, W) bool ground-truth instance masks.
        iou_threshold: mask IoU for a true positive (0.5 -> AP50).

    Returns:
        AP in [0, 1]; 0.0 when there is no ground truth.
    """
    if len(predictions) != len(gt_masks):
        raise ValueError(f"predictions/gt_masks: expected equal lengths, got {len(predictions)} and {len(gt_masks)}")
    records: list[tuple[float, bool]] = []
    n_gt = 0
    for pred, gts in zip(predictions, gt_masks, strict=True):
        gts = np.asarray(gts, bool).reshape(-1, *np.shape(gts)[-2:])
        n_gt += len(gts)
        used = np.zeros(len(gts), bool)
        for k in np.argsort(-pred.scores, kind="stable"):
            ious = np.array([mask_iou(pred.masks[k], g) for g in gts]) if len(gts) else np.zeros(0)
            ious[used] = -1
            j = int(np.argmax(ious)) if len(ious) else -1
            hit = j >= 0 and ious[j] >= iou_threshold
            if hit:
                used[j] = True
            records.append((float(pred.scores[k]), bool(hit)))
    if n_gt == 0:
        return 0.0
    records.sort(key=lambda r: -r[0])
    tp = np.cumsum([r[1] for r in records]) if records else np.zeros(0)
    fp = np.cumsum([not r[1] for r in records]) if records else np.zeros(0)
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, 1)
    # precision envelope, then sample at 101 recall points
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    ap = 0.0
    for r in np.linspace(0, 1, 101):
        idx = np.searchsorted(recall, r, side="left")
        ap += precision[idx] if idx < len(precision) else 0.0
    return float(ap / 101)
