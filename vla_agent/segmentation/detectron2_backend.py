"""detectron2 Mask R-CNN backend: the seed's COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x config
with one class (robot). Imported only when detectron2 is installed (see ``DETECTRON2_INSTALL``).

From scratch (no weight file) the ResNet and FPN use GroupNorm (``norm="gn"``, the default): the COCO
config's frozen batch norm diverges from random init. To fine-tune from COCO weights pass
``norm="bn"`` (frozen BN, as the config) and the weight file; ``.pkl`` model-zoo files go through
``DetectionCheckpointer``. Images are resized here (longer side ``image_size``), as detectron2's
models leave resizing to the data mapper.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vla_agent.segmentation.config import DETECTRON2_INSTALL, SegmentationConfig
from vla_agent.segmentation.instances import Instances

CONFIG_NAME = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"


def detectron2_config_file(name: str = CONFIG_NAME) -> Path:
    """Path of a model-zoo YAML inside the installed detectron2 package.

    Avoids ``detectron2.model_zoo.get_config_file``, which needs ``pkg_resources`` (gone from recent
    setuptools).
    """
    try:
        import detectron2
    except ImportError as e:
        raise ImportError(f"the detectron2 backend needs detectron2: {DETECTRON2_INSTALL}") from e
    path = Path(detectron2.__file__).parent / "model_zoo" / "configs" / name
    if not path.is_file():
        raise FileNotFoundError(
            f"detectron2 config {name} not found at {path}; reinstall detectron2 ({DETECTRON2_INSTALL})"
        )
    return path


def build_detectron2_cfg(cfg: SegmentationConfig, device: str = "cpu"):  # -> detectron2 CfgNode
    """detectron2 config: COCO mask_rcnn_R_50_FPN_3x, one class, CPU-sized proposal counts."""
    from detectron2.config import get_cfg

    d2 = get_cfg()
    d2.merge_from_file(str(detectron2_config_file()))
    d2.MODEL.DEVICE = device
    d2.MODEL.WEIGHTS = ""
    d2.MODEL.ROI_HEADS.NUM_CLASSES = cfg.num_classes
    d2.MODEL.ROI_HEADS.SCORE_THRESH_TEST = cfg.score_threshold
    d2.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = 128  # FACTS: 128 instead of 512 halves a CPU iteration
    d2.MODEL.RPN.PRE_NMS_TOPK_TRAIN, d2.MODEL.RPN.POST_NMS_TOPK_TRAIN = 600, 300
    d2.MODEL.RPN.PRE_NMS_TOPK_TEST, d2.MODEL.RPN.POST_NMS_TOPK_TEST = 300, 50
    d2.TEST.DETECTIONS_PER_IMAGE = cfg.detections_per_image
    d2.MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION = cfg.mask_resolution
    d2.INPUT.MIN_SIZE_TRAIN = (cfg.image_size,)
    d2.INPUT.MAX_SIZE_TRAIN = cfg.image_size
    d2.INPUT.MIN_SIZE_TEST = cfg.image_size
    d2.INPUT.MAX_SIZE_TEST = cfg.image_size
    d2.INPUT.MASK_FORMAT = "bitmask"
    if cfg.norm == "gn":
        d2.MODEL.RESNETS.NORM = "GN"
        d2.MODEL.RESNETS.STRIDE_IN_1X1 = False
        d2.MODEL.FPN.NORM = "GN"
        d2.MODEL.ROI_BOX_HEAD.NORM = "GN"
        d2.MODEL.ROI_MASK_HEAD.NORM = "GN"
        d2.MODEL.BACKBONE.FREEZE_AT = 0
    # for users who run detectron2's DefaultTrainer on this cfg: from-scratch-safe solver settings
    d2.SOLVER.BASE_LR = 1e-4
    d2.SOLVER.CLIP_GRADIENTS.ENABLED = True
    d2.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "norm"
    d2.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = 5.0
    d2.DATASETS.TRAIN = ("roboseg_train",)
    d2.DATASETS.TEST = ()
    return d2


def register_roboseg(name: str, dataset_path: str | os.PathLike, instance_mode: str = "single") -> None:
    """Register a RoboSeg folder in detectron2's ``DatasetCatalog`` (polygon annotations, class 'robot')."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from vla_agent.segmentation.roboseg import RoboSegDataset

    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    DatasetCatalog.register(name, lambda: RoboSegDataset(dataset_path, instance_mode).to_coco_dicts())
    MetadataCatalog.get(name).set(thing_classes=["robot"])


class Detectron2Backend:
    """detectron2 ``GeneralizedRCNN`` behind the backend interface used by ``SegmentationModel``."""

    name = "detectron2"

    def __init__(self, cfg: SegmentationConfig, device: str | torch.device = "cpu") -> None:
        from detectron2.modeling import build_model

        self.cfg = cfg
        self.device = torch.device(device)
        self.d2cfg = build_detectron2_cfg(cfg, str(self.device))
        self.model = build_model(self.d2cfg).eval()

    # --- preprocessing --------------------------------------------------------------------------
    def _resize(self, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(B, 3, H, W) -> resized so the longer side is image_size; returns (x, scale)."""
        h, w = x.shape[-2:]
        scale = self.cfg.image_size / max(h, w)
        if scale != 1.0:
            x = F.interpolate(x, size=(round(h * scale), round(w * scale)), mode="bilinear", align_corners=False)
        return x, scale

    def _bgr255(self, images: list[np.ndarray]) -> list[tuple[torch.Tensor, float]]:
        out = []
        for im in images:
            x = torch.from_numpy(np.array(im[..., ::-1], dtype=np.float32)).permute(2, 0, 1)[None].to(self.device)
            x, s = self._resize(x)
            out.append((x[0], s))
        return out

    # --- features -------------------------------------------------------------------------------
    def feature_modules(self) -> nn.Module:
        return self.model.backbone

    @property
    def feature_dim(self) -> int:
        return int(self.d2cfg.MODEL.FPN.OUT_CHANNELS)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """FPN level ``p{token_level+2}`` of (B, 3, H, W) RGB floats in [0, 1]: (B, C, h, w)."""
        x = x.to(self.model.pixel_mean.device).flip(1) * 255.0  # RGB [0, 1] -> BGR [0, 255], detectron2's format
        x = (x - self.model.pixel_mean) / self.model.pixel_std
        x, _ = self._resize(x)
        ph, pw = (-x.shape[-2]) % 32, (-x.shape[-1]) % 32
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        return self.model.backbone(x)[f"p{int(self.cfg.token_level) + 2}"]

    # --- training / inference -------------------------------------------------------------------
    def parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def losses(self, images: list[np.ndarray], masks: list[np.ndarray], boxes: list[np.ndarray]) -> dict:
        from detectron2.structures import BitMasks, Boxes
        from detectron2.structures import Instances as D2Instances

        self.model.train()
        batch = []
        for (x, s), m, b in zip(self._bgr255(images), masks, boxes, strict=True):
            h, w = x.shape[-2:]
            mt = torch.zeros((0, h, w), dtype=torch.bool, device=self.device)
            if len(m):
                mt = torch.as_tensor(np.asarray(m), dtype=torch.float32, device=self.device)[None]
                mt = F.interpolate(mt, size=(h, w), mode="nearest")[0] > 0.5
            inst = D2Instances((h, w))
            inst.gt_boxes = Boxes(torch.as_tensor(np.asarray(b) * s, dtype=torch.float32, device=self.device))
            inst.gt_classes = torch.zeros(len(b), dtype=torch.int64, device=self.device)
            inst.gt_masks = BitMasks(mt.reshape(-1, h, w))
            batch.append({"image": x, "instances": inst, "height": h, "width": w})
        from detectron2.utils.events import EventStorage

        # detectron2's heads log training statistics into the current EventStorage
        with EventStorage(0):
            return self.model(batch)

    @torch.no_grad()
    def predict(self, images: list[np.ndarray]) -> list[Instances]:
        self.model.eval()
        inputs = [
            {"image": x, "height": im.shape[0], "width": im.shape[1]}
            for (x, _), im in zip(self._bgr255(images), images, strict=True)
        ]
        res = []
        for im, out in zip(images, self.model(inputs), strict=True):
            o = out["instances"].to("cpu")
            keep = o.scores >= self.cfg.score_threshold
            order = torch.argsort(o.scores[keep], descending=True)
            res.append(
                Instances(
                    boxes=o.pred_boxes.tensor[keep][order].numpy().astype(np.float32),
                    masks=o.pred_masks[keep][order].numpy().astype(bool).reshape(-1, *im.shape[:2]),
                    scores=o.scores[keep][order].numpy().astype(np.float32),
                    labels=o.pred_classes[keep][order].numpy().astype(np.int64),
                )
            )
        return res

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        res = self.model.load_state_dict(sd, strict=False)
        return list(res.missing_keys), list(res.unexpected_keys)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Load any file detectron2's ``DetectionCheckpointer`` reads (model-zoo ``.pkl`` included)."""
        from detectron2.checkpoint import DetectionCheckpointer

        DetectionCheckpointer(self.model).load(str(path))
