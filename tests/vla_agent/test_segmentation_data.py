"""Polygons, connected components, augmentation alignment and RoboSeg folder parsing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from envs.constants import ROBOSEG_ROBOT_COLOR
from vla_agent.segmentation import (
    RandomAugment,
    RoboSegDataset,
    instances_from_mask,
    mask_to_polygons,
    polygons_to_mask,
    robot_mask_from_colour,
)
from vla_agent.segmentation.instances import Instances
from vla_agent.segmentation.metrics import mask_ap, mask_iou
from vla_agent.segmentation.polygons import connected_components


def _blobs(h: int = 60, w: int = 80) -> np.ndarray:
    img = Image.new("1", (w, h), 0)
    d = ImageDraw.Draw(img)
    d.ellipse((5, 5, 35, 30), fill=1)
    d.polygon([(50, 10), (75, 50), (45, 55)], fill=1)
    d.line([(10, 50), (30, 58)], fill=1, width=1)  # thin diagonal stroke
    return np.array(img, dtype=bool)


def test_polygons_round_trip_exact_for_hole_free_shapes() -> None:
    m = _blobs()
    polys = mask_to_polygons(m)
    assert len(polys) == 3
    for p in polys:
        assert p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 2
        assert (p >= 0.5).all() and (p[:, 0] <= 80).all() and (p[:, 1] <= 60).all()
    np.testing.assert_array_equal(polygons_to_mask(polys, 60, 80), m)


def test_polygon_of_a_rectangle_and_a_single_pixel() -> None:
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True
    m[8, 1] = True
    polys = mask_to_polygons(m)
    assert len(polys) == 2
    rect = polys[0]
    assert {tuple(v) for v in rect} >= {(3.5, 2.5), (8.5, 2.5), (8.5, 4.5), (3.5, 4.5)}
    np.testing.assert_array_equal(polys[1], [[1.5, 8.5]])
    np.testing.assert_array_equal(polygons_to_mask(polys, 10, 12), m)
    assert mask_to_polygons(np.zeros((4, 4), bool)) == []
    assert len(mask_to_polygons(m, min_area=2)) == 1


def test_connected_components_8_connectivity() -> None:
    m = np.zeros((6, 6), bool)
    m[0, 0] = m[1, 1] = True  # diagonal neighbours: one component
    m[4, 4] = m[4, 5] = True
    labels, n = connected_components(m)
    assert n == 2
    assert labels[0, 0] == labels[1, 1] != labels[4, 4]
    assert (labels[~m] == 0).all()


def test_instances_from_mask_modes() -> None:
    m = _blobs()
    masks, boxes = instances_from_mask(m, "single")
    assert masks.shape == (1, 60, 80) and boxes.shape == (1, 4)
    np.testing.assert_array_equal(masks[0], m)
    rows, cols = np.nonzero(m)
    np.testing.assert_array_equal(boxes[0], [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
    masks, boxes = instances_from_mask(m, "components", min_area=5)
    assert masks.shape[0] == 3 and (masks.sum(0) <= 1).all()
    np.testing.assert_array_equal(masks.any(0), m)
    empty, eb = instances_from_mask(np.zeros((5, 5), bool))
    assert empty.shape == (0, 5, 5) and eb.shape == (0, 4)
    with pytest.raises(ValueError, match="mode"):
        instances_from_mask(m, "semantic")


def _colour_image(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    robot = _blobs()
    img = rng.integers(0, 200, (60, 80, 3), dtype=np.uint8)
    img[robot] = ROBOSEG_ROBOT_COLOR
    return img, robot


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_image_and_mask_aligned(seed: int) -> None:
    img, robot = _colour_image(seed)
    aug = RandomAugment.geometric_only(flip_p=0.5, rotate_p=1.0, max_rotation=25.0, interpolation="nearest")
    out_img, out_mask = aug(img, robot, np.random.default_rng(seed))
    np.testing.assert_array_equal(robot_mask_from_colour(out_img), out_mask)
    assert out_mask.sum() > 0.8 * robot.sum()
    # bilinear image + photometric jitter: geometry still matches (colours change, so compare shapes)
    full = RandomAugment(flip_p=0.5, rotate_p=1.0, max_rotation=25.0, blur_p=0.0)
    a_img, a_mask = full(img, robot, torch.Generator().manual_seed(seed))
    ref_img, ref_mask = aug.__class__.geometric_only(flip_p=0.5, rotate_p=1.0, max_rotation=25.0)(
        img, robot, torch.Generator().manual_seed(seed)
    )
    np.testing.assert_array_equal(a_mask, ref_mask)
    assert a_img.dtype == np.uint8 and a_img.shape == img.shape
    assert not np.array_equal(a_img, ref_img)


def test_augmentation_is_seedable_and_validates() -> None:
    img, robot = _colour_image(0)
    aug = RandomAugment(blur_p=0.5)
    a = aug(img, robot, 7)
    b = aug(img, robot, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    masks = np.stack([robot, ~robot])
    out_img, out_masks = aug(img, masks, 3)
    assert out_masks.shape == masks.shape
    with pytest.raises(ValueError, match="image"):
        aug(img.astype(np.float32), robot, 0)
    with pytest.raises(ValueError, match="masks"):
        aug(img, robot[:10], 0)
    with pytest.raises(ValueError, match="flip_p"):
        RandomAugment(flip_p=1.5)


def _write_pair(folder: Path, name: str, img: np.ndarray, colour: np.ndarray, layout: str = "same") -> None:
    if layout == "same":
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{name}.png")
        Image.fromarray(colour).save(folder / f"{name}_mask.png")
    else:
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / "images" / f"{name}.png")
        Image.fromarray(colour).save(folder / "masks" / f"{name}.png")


def test_roboseg_folders_nested_both_layouts_and_empty_masks(tmp_path: Path) -> None:
    img, robot = _colour_image(0)
    colour = np.zeros_like(img)
    colour[robot] = ROBOSEG_ROBOT_COLOR
    colour[0:3, 0:3] = (10, 200, 10)  # another class colour is not robot
    _write_pair(tmp_path / "a" / "b", "0001", img, colour)
    _write_pair(tmp_path / "c", "x", img, colour, layout="folders")
    _write_pair(tmp_path / "d", "empty", img, np.zeros_like(img))
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        ds = RoboSegDataset(tmp_path)
    assert len(ds) == 2 and len(ds.skipped_empty) == 1
    image, mask = ds.load(0)
    np.testing.assert_array_equal(image, img)
    np.testing.assert_array_equal(mask, robot)
    s = ds.sample(1, RandomAugment(), 0)
    assert s.masks.shape[0] == 1 and s.boxes.shape == (1, 4)
    dicts = ds.to_coco_dicts()
    assert dicts[0]["annotations"][0]["category_id"] == 0
    seg = dicts[0]["annotations"][0]["segmentation"]
    back = polygons_to_mask([np.asarray(p).reshape(-1, 2) for p in seg], 60, 80)
    np.testing.assert_array_equal(back, robot)


def test_roboseg_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset_path"):
        RoboSegDataset(tmp_path / "missing")
    with pytest.raises(ValueError, match="no image/colour-mask"):
        RoboSegDataset(tmp_path)
    img, robot = _colour_image(1)
    _write_pair(tmp_path / "e", "0", img, np.zeros_like(img))
    with pytest.raises(ValueError, match="every mask lacks robot pixels"), pytest.warns(UserWarning):
        RoboSegDataset(tmp_path / "e")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "0.png").write_bytes(b"not a png")
    (tmp_path / "f" / "0_mask.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    with pytest.raises(ValueError, match="0_mask.png: cannot decode"):
        RoboSegDataset(tmp_path / "f")


def test_metrics_iou_and_ap() -> None:
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[:4] = True
    assert mask_iou(a, b) == pytest.approx(0.8)
    assert mask_iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 1.0
    good = Instances(
        np.zeros((2, 4), np.float32),
        np.stack([b, ~a]),
        np.array([0.9, 0.3], np.float32),
        np.zeros(2, np.int64),
    )
    assert mask_ap([good], [a[None]]) == pytest.approx(1.0)
    # a higher-scored false positive halves precision at full recall
    bad = Instances(good.boxes, np.stack([~a, b]), np.array([0.9, 0.3], np.float32), good.labels)
    assert mask_ap([bad], [a[None]]) == pytest.approx(0.5)
    assert mask_ap([Instances.empty(10, 10)], [a[None]]) == 0.0
