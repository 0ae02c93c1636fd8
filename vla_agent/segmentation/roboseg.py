"""RoboSeg-format robot segmentation data: image PNGs with colour-mask PNGs, in nested folders.

Pairs are found anywhere under the root, in either layout:

* same folder: ``<name>.png`` (or .jpg) + ``<name>_mask.png`` / ``<name>-mask.png`` / ``<name>_seg.png``
* sibling folders: ``.../images/<name>.png`` + ``.../masks/<name>.png`` (also ``image``/``rgb`` with
  ``mask``/``masks``/``labels``/``seg``).

Robot pixels are those whose mask colour is :data:`envs.constants.ROBOSEG_ROBOT_COLOR`
(251, 154, 153). Pairs whose mask has no robot pixel are skipped and counted (with a warning).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from envs.constants import ROBOSEG_ROBOT_COLOR
from vla_agent.segmentation.augment import RandomAugment, as_numpy_rng
from vla_agent.segmentation.polygons import instances_from_mask, mask_to_polygons

IMAGE_EXTS = (".png", ".jpg", ".jpeg")
MASK_SUFFIXES = ("_mask", "-mask", "_seg", "-seg")
IMAGE_DIRS = ("images", "image", "rgb", "imgs")
MASK_DIRS = ("masks", "mask", "labels", "seg", "segmentation")


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8; a corrupt or unreadable file raises ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{path}: cannot decode image ({e.__class__.__name__}: {e})") from e


def robot_mask_from_colour(mask_rgb: np.ndarray, color: tuple[int, int, int] = ROBOSEG_ROBOT_COLOR) -> np.ndarray:
    """(H, W) bool robot pixels of an (H, W, 3) colour mask (exact colour match)."""
    mask_rgb = np.asarray(mask_rgb)
    if mask_rgb.ndim != 3 or mask_rgb.shape[2] < 3:
        raise ValueError(f"mask_rgb: expected (H, W, 3), got {mask_rgb.shape}")
    return np.all(mask_rgb[..., :3] == np.asarray(color, dtype=mask_rgb.dtype), axis=-1)


def find_pairs(root: str | os.PathLike) -> list[tuple[Path, Path]]:
    """All (image, colour-mask) file pairs under ``root``, sorted by image path."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"dataset_path not found: {root}")
    if not root.is_dir():
        raise ValueError(f"dataset_path: expected a folder, got a file: {root}")
    pairs: dict[Path, Path] = {}
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
    by_path = set(files)
    for p in files:
        stem = p.stem
        if any(stem.endswith(s) for s in MASK_SUFFIXES) or p.parent.name.lower() in MASK_DIRS:
            continue
        for suf in MASK_SUFFIXES:
            cand = p.with_name(stem + suf + ".png")
            if cand in by_path:
                pairs[p] = cand
                break
        else:
            if p.parent.name.lower() in IMAGE_DIRS:
                for d in MASK_DIRS:
                    for ext in (".png", p.suffix):
                        cand = p.parent.parent / d / (stem + ext)
                        if cand in by_path:
                            pairs[p] = cand
                            break
                    if p in pairs:
                        break
    return sorted(pairs.items())


@dataclass
class Sample:
    """One training sample: image (H, W, 3) uint8, masks (K, H, W) bool, boxes (K, 4) float32 xyxy."""

    image: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray
    path: str = ""


@dataclass
class RoboSegDataset:
    """RoboSeg pairs under ``root`` as instance-segmentation samples (one class: robot).

    Args:
        root: dataset folder (searched recursively).
        instance_mode: ``"single"`` (whole robot = one instance) or ``"components"``.
        min_area: smallest instance kept, pixels.
        check_masks: read every mask now to skip (and count) masks without robot pixels.

    Raises:
        FileNotFoundError: missing root. ValueError: no usable pair, or a corrupt mask PNG.
    """

    root: str | os.PathLike
    instance_mode: str = "single"
    min_area: int = 4
    check_masks: bool = True
    pairs: list[tuple[Path, Path]] = field(init=False)
    skipped_empty: list[Path] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.instance_mode not in ("single", "components"):
            raise ValueError(f"instance_mode: expected 'single' or 'components', got {self.instance_mode!r}")
        found = find_pairs(self.root)
        if not found:
            raise ValueError(
                f"dataset_path {self.root}: no image/colour-mask PNG pairs found "
                f"(expected <name>.png + <name>_mask.png, or images/ + masks/ folders)"
            )
        if self.check_masks:
            kept = []
            for img, msk in found:
                if robot_mask_from_colour(read_rgb(msk)).sum() >= self.min_area:
                    kept.append((img, msk))
                else:
                    self.skipped_empty.append(msk)
            if self.skipped_empty:
                warnings.warn(
                    f"RoboSeg {self.root}: skipped {len(self.skipped_empty)} of {len(found)} pairs "
                    f"whose mask has no robot pixels (colour {ROBOSEG_ROBOT_COLOR}), "
                    f"e.g. {self.skipped_empty[0]}",
                    stacklevel=2,
                )
            found = kept
            if not found:
                raise ValueError(
                    f"dataset_path {self.root}: every mask lacks robot pixels of colour {ROBOSEG_ROBOT_COLOR}"
                )
        self.pairs = found

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Image (H, W, 3) uint8 and robot mask (H, W) bool of pair ``index``."""
        img_path, mask_path = self.pairs[index]
        image = read_rgb(img_path)
        mask = robot_mask_from_colour(read_rgb(mask_path))
        if mask.shape != image.shape[:2]:
            raise ValueError(f"{mask_path}: mask size {mask.shape} differs from image size {image.shape[:2]}")
        return image, mask

    def sample(
        self,
        index: int,
        augment: RandomAugment | None = None,
        generator: np.random.Generator | int | None = None,
    ) -> Sample:
        """Pair ``index`` as instances, augmented when ``augment`` is given."""
        image, mask = self.load(index)
        if augment is not None:
            image, mask = augment(image, mask, as_numpy_rng(generator))
        masks, boxes = instances_from_mask(mask, self.instance_mode, self.min_area)
        return Sample(image, masks, boxes, str(self.pairs[index][0]))

    def to_coco_dicts(self) -> list[dict]:
        """detectron2-style dataset dicts (``bbox_mode`` 0 = XYXY_ABS, polygons as flat lists)."""
        out = []
        for i, (img_path, _) in enumerate(self.pairs):
            image, mask = self.load(i)
            masks, boxes = instances_from_mask(mask, self.instance_mode, self.min_area)
            annos = []
            for m, b in zip(masks, boxes, strict=True):
                polys = [p.ravel().tolist() for p in mask_to_polygons(m) if len(p) >= 3]
                if polys:
                    annos.append({"bbox": b.tolist(), "bbox_mode": 0, "category_id": 0, "segmentation": polys})
            out.append(
                {
                    "file_name": str(img_path),
                    "image_id": i,
                    "height": image.shape[0],
                    "width": image.shape[1],
                    "annotations": annos,
                }
            )
        return out
