"""detectron2 backend against the real detectron2 API (skipped when detectron2 is not installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.detectron2
pytest.importorskip("detectron2")

from vla_agent.segmentation import SegmentationModel, render_roboseg_samples  # noqa: E402
from vla_agent.segmentation.detectron2_backend import (  # noqa: E402
    build_detectron2_cfg,
    detectron2_config_file,
    register_roboseg,
)

SIZE = 64


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("roboseg_d2")
    render_roboseg_samples(root, 4, seed=11, size=SIZE)
    return root


def test_config_is_the_seeds_coco_r50_fpn_with_one_class() -> None:
    assert detectron2_config_file().name == "mask_rcnn_R_50_FPN_3x.yaml"
    seg = SegmentationModel(backend="detectron2", image_size=SIZE)
    d2 = seg.backend.d2cfg
    assert d2.MODEL.ROI_HEADS.NUM_CLASSES == 1 and d2.MODEL.RESNETS.DEPTH == 50
    assert d2.MODEL.MASK_ON and d2.MODEL.WEIGHTS == ""
    assert build_detectron2_cfg(seg.config).SOLVER.CLIP_GRADIENTS.CLIP_TYPE == "norm"


def test_detectron2_features_train_predict_save_load(data_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    seg = SegmentationModel(backend="detectron2", image_size=SIZE, score_threshold=0.0)
    x = np.random.default_rng(0).integers(0, 256, (2, 84, 84, 3), dtype=np.uint8)
    tok = seg.features(x)
    assert tok.shape == (2, seg.num_tokens(84, 84), seg.feature_dim) and seg.feature_dim == 256
    res = seg.fine_tune(
        data_dir,
        tmp_path / "run",
        iterations=6,
        batch_size=2,
        lr=1e-4,
        warmup=1,
        progress=False,
        augment=False,
    )
    losses = [h["loss"] for h in res["history"]]
    assert len(losses) == 6 and np.isfinite(losses).all()
    image = np.asarray(x[0])
    inst = seg.predict(image)
    assert inst.masks.shape[1:] == (84, 84) and inst.boxes.shape == (len(inst), 4)
    again = SegmentationModel(weight_directory=tmp_path / "run")
    assert again.config.backend == "detectron2"
    torch.testing.assert_close(again.features(x), seg.features(x), rtol=0, atol=0)
    np.testing.assert_array_equal(again.predict(image).masks, inst.masks)
    # detectron2's own checkpointer reads the plain state dict too
    from detectron2.checkpoint import DetectionCheckpointer

    DetectionCheckpointer(again.backend.model).load(str(tmp_path / "run" / "model.pth"))


def test_register_roboseg_dataset_dicts(data_dir: Path) -> None:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    register_roboseg("roboseg_test_tmp", data_dir)
    dicts = DatasetCatalog.get("roboseg_test_tmp")
    assert len(dicts) == 4 and dicts[0]["annotations"][0]["category_id"] == 0
    assert MetadataCatalog.get("roboseg_test_tmp").thing_classes == ["robot"]
