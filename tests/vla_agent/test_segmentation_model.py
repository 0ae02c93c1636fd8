"""SegmentationModel on the torchvision backend: training, predict, save/load, resume, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vla_agent.segmentation import SegmentationModel, render_roboseg_samples, resolve_backend
from vla_agent.segmentation.model import detectron2_available
from vla_agent.segmentation.roboseg import RoboSegDataset

SIZE = 64


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("roboseg")
    render_roboseg_samples(root, 6, seed=5, size=SIZE)
    return root


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SegmentationModel, dict, Path]:
    torch.manual_seed(0)
    seg = SegmentationModel(backend="torchvision", image_size=SIZE, score_threshold=0.0)
    out = tmp_path_factory.mktemp("run")
    res = seg.fine_tune(
        data_dir,
        out,
        iterations=16,
        batch_size=2,
        lr=1e-3,
        warmup=2,
        seed=1,
        checkpoint_every=8,
        progress=False,
        augment=False,
    )
    return seg, res, out


def test_render_writes_roboseg_pairs(data_dir: Path) -> None:
    ds = RoboSegDataset(data_dir)
    assert len(ds) == 6
    image, mask = ds.load(0)
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert 0.01 < mask.mean() < 0.6  # the robot is in view, not everywhere


def test_fine_tune_loss_decreases_and_writes_outputs(trained: tuple) -> None:
    seg, res, out = trained
    losses = [h["loss"] for h in res["history"]]
    assert res["iterations"] == 16 and len(losses) == 16
    assert np.isfinite(losses).all()
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])
    assert (out / "last.pt").is_file() and (out / "model.pth").is_file()
    assert json.loads((out / "config.json").read_text())["image_size"] == SIZE
    assert not list(out.glob("*.tmp"))


def test_predict_shapes_and_types(trained: tuple, data_dir: Path) -> None:
    seg, _, _ = trained
    image, _ = RoboSegDataset(data_dir).load(0)
    inst = seg.predict(image)
    k = len(inst)
    assert inst.boxes.shape == (k, 4) and inst.boxes.dtype == np.float32
    assert inst.masks.shape == (k, SIZE, SIZE) and inst.masks.dtype == bool
    assert inst.scores.shape == (k,) and (np.diff(inst.scores) <= 0).all()
    assert inst.union_mask().shape == (SIZE, SIZE)
    assert len(seg.predict_batch(np.stack([image, image]))) == 2


def test_save_load_round_trip_identical_outputs(trained: tuple, data_dir: Path, tmp_path: Path) -> None:
    seg, _, _ = trained
    image, _ = RoboSegDataset(data_dir).load(1)
    seg.save(tmp_path / "w")
    again = SegmentationModel(weight_directory=tmp_path / "w")
    assert again.config == seg.config
    torch.testing.assert_close(again.features(image), seg.features(image), rtol=0, atol=0)
    a, b = seg.predict(image), again.predict(image)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.scores, b.scores)
    # a plain torchvision state dict and a {"model": ...} checkpoint load too
    torch.save(seg.backend.model.state_dict(), tmp_path / "plain.pth")
    plain = SegmentationModel(
        weight_file=tmp_path / "plain.pth", backend="torchvision", image_size=SIZE, score_threshold=0.0
    )
    torch.testing.assert_close(plain.features(image), seg.features(image), rtol=0, atol=0)
    torch.save({"model": seg.backend.model.state_dict(), "iteration": 3}, tmp_path / "ck.pth")
    ck = SegmentationModel(weight_file=tmp_path / "ck.pth", backend="torchvision", image_size=SIZE, score_threshold=0.0)
    np.testing.assert_array_equal(ck.predict(image).masks, a.masks)


def test_resume_continues_exactly(data_dir: Path, tmp_path: Path) -> None:
    kw = dict(batch_size=1, lr=1e-3, warmup=1, seed=3, checkpoint_every=2, progress=False)
    torch.manual_seed(0)
    full = SegmentationModel(backend="torchvision", image_size=SIZE)
    r_full = full.fine_tune(data_dir, tmp_path / "full", iterations=4, **kw)
    torch.manual_seed(0)
    part = SegmentationModel(backend="torchvision", image_size=SIZE)
    part.fine_tune(data_dir, tmp_path / "part", iterations=2, **kw)
    torch.manual_seed(123)  # a fresh process: different init, restored from the checkpoint
    resumed = SegmentationModel(backend="torchvision", image_size=SIZE)
    r_res = resumed.fine_tune(data_dir, tmp_path / "part", iterations=4, **kw)
    assert r_res["iterations"] == 4 and len(r_res["history"]) == 4
    np.testing.assert_allclose([h["loss"] for h in r_res["history"]], [h["loss"] for h in r_full["history"]], rtol=1e-4)
    for (k, v), w in zip(full.backend.state_dict().items(), resumed.backend.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, rtol=1e-4, atol=1e-5, msg=k)


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    seg = SegmentationModel(backend="torchvision", image_size=SIZE)
    with pytest.raises(ValueError, match="dtype uint8"):
        seg.predict(np.zeros((SIZE, SIZE, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        seg.predict(np.zeros((SIZE, SIZE), np.uint8))
    with pytest.raises(ValueError, match="numpy"):
        seg.predict(torch.zeros(SIZE, SIZE, 3, dtype=torch.uint8))  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="dataset_path"):
        seg.fine_tune(tmp_path / "nope", iterations=1, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image/colour-mask"):
        seg.fine_tune(tmp_path / "empty", iterations=1, progress=False)
    with pytest.raises(ValueError, match="iterations"):
        seg.fine_tune(tmp_path / "empty", iterations=0, progress=False)
    with pytest.raises(ValueError, match="image_size"):
        SegmentationModel(backend="torchvision", image_size=100)
    with pytest.raises(ValueError, match="unknown keys"):
        SegmentationModel(backend="torchvision", imagesize=64)
    with pytest.raises(FileNotFoundError, match="weight_file"):
        SegmentationModel(backend="torchvision", weight_file=tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable torch state dict"):
        SegmentationModel(backend="torchvision", weight_file=tmp_path / "junk.pth")
    torch.save({"foo.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="architecture"):
        SegmentationModel(backend="torchvision", weight_file=tmp_path / "other.pth")


def test_backend_selection() -> None:
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("mmdet")
    assert resolve_backend("torchvision") == "torchvision"
    if detectron2_available():
        assert resolve_backend("auto") == "detectron2"
        assert resolve_backend("detectron2") == "detectron2"
    else:
        assert resolve_backend("auto") == "torchvision"
        assert SegmentationModel(backend="auto", image_size=SIZE).config.backend == "torchvision"
        with pytest.raises(ImportError, match=r"pip install 'git\+https://github.com/facebookresearch/detectron2.git'"):
            SegmentationModel(backend="detectron2")


def test_resnet50_arch_loads_a_coco_shaped_state_dict(tmp_path: Path) -> None:
    """A torchvision COCO Mask R-CNN state dict (91 classes) loads; class heads are skipped."""
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    coco = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    torch.save(coco.state_dict(), tmp_path / "coco.pth")
    with pytest.warns(UserWarning, match="skipped for shape"):
        seg = SegmentationModel(
            backend="torchvision", arch="resnet50", image_size=SIZE, weight_file=tmp_path / "coco.pth"
        )
    torch.testing.assert_close(seg.backend.model.backbone.body.conv1.weight, coco.backbone.body.conv1.weight)
    tok = seg.features(np.zeros((SIZE, SIZE, 3), np.uint8))
    assert tok.shape == (1, seg.num_tokens(SIZE, SIZE), 256)
