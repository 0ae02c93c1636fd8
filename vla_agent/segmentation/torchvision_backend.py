"""torchvision Mask R-CNN backend (the default; no detectron2 needed, nothing downloaded)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vla_agent.segmentation.backbone import FPN_LEVELS, SmallResNetFPN
from vla_agent.segmentation.config import SegmentationConfig
from vla_agent.segmentation.instances import Instances


def build_torchvision_maskrcnn(cfg: SegmentationConfig) -> nn.Module:
    """A randomly initialised torchvision ``MaskRCNN`` for ``cfg`` (never downloads weights)."""
    from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    common = dict(
        min_size=cfg.image_size,
        max_size=cfg.image_size,
        box_detections_per_img=cfg.detections_per_image,
        # fewer proposals and sampled regions than the COCO defaults: one class, CPU budget
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=50,
        rpn_batch_size_per_image=128,
        box_batch_size_per_image=64,
    )
    if cfg.arch == "resnet50":
        # weights_backbone=None -> trainable BatchNorm (torchvision freezes BN only for pretrained bodies)
        return maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=cfg.num_classes + 1, **common)
    backbone = SmallResNetFPN(width=cfg.width, fpn_channels=cfg.fpn_channels, norm=cfg.norm)
    c = cfg.fpn_channels
    anchors = AnchorGenerator(
        sizes=tuple((s * cfg.image_size // 160,) for s in (16, 32, 64, 128, 256)),
        aspect_ratios=((0.5, 1.0, 2.0),) * 5,
    )
    return MaskRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchors,
        box_roi_pool=MultiScaleRoIAlign(list(FPN_LEVELS), 7, 2),
        box_head=TwoMLPHead(c * 49, 256),
        box_predictor=FastRCNNPredictor(256, cfg.num_classes + 1),
        mask_roi_pool=MultiScaleRoIAlign(list(FPN_LEVELS), cfg.mask_resolution, 2),
        mask_head=MaskRCNNHeads(c, [c] * 4, 1),
        mask_predictor=MaskRCNNPredictor(c, c, cfg.num_classes + 1),
        **common,
    )


class TorchvisionBackend:
    """Mask R-CNN from torchvision behind the backend interface used by ``SegmentationModel``."""

    name = "torchvision"

    def __init__(self, cfg: SegmentationConfig, device: str | torch.device = "cpu") -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.model = build_torchvision_maskrcnn(cfg).to(self.device).eval()
        t = self.model.transform
        self._mean = torch.tensor(t.image_mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(t.image_std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    # --- features -------------------------------------------------------------------------------
    def feature_modules(self) -> nn.Module:
        return self.model.backbone

    @property
    def feature_dim(self) -> int:
        return int(self.model.backbone.out_channels)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """FPN level ``cfg.token_level`` of (B, 3, H, W) floats in [0, 1]: (B, C, h, w).

        Preprocessing matches ``GeneralizedRCNNTransform``: normalise, resize so the longer side is
        ``image_size``, zero-pad to a multiple of 32 (no-op for square inputs).
        """
        dev = next(self.model.backbone.parameters()).device  # follows the policy's .to(device)
        x = x.to(dev)
        h, w = x.shape[-2:]
        x = (x - self._mean.to(dev)) / self._std.to(dev)
        scale = self.cfg.image_size / max(h, w)
        if scale != 1.0:
            x = F.interpolate(x, scale_factor=scale, mode="bilinear", recompute_scale_factor=True, align_corners=False)
        ph, pw = (-x.shape[-2]) % 32, (-x.shape[-1]) % 32
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        return self.model.backbone(x)[self.cfg.token_level]

    # --- training / inference -------------------------------------------------------------------
    @staticmethod
    def _to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
        return (
            torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).to(device).permute(2, 0, 1).float().div_(255.0)
        )

    def parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def losses(self, images: list[np.ndarray], masks: list[np.ndarray], boxes: list[np.ndarray]) -> dict:
        """Training losses of a batch (model switched to train mode).

        Args:
            images: B x (H, W, 3) uint8. masks: B x (K, H, W) bool. boxes: B x (K, 4) float32 xyxy.
        """
        self.model.train()
        xs = [self._to_tensor(im, self.device) for im in images]
        targets = [
            {
                "boxes": torch.as_tensor(b, dtype=torch.float32, device=self.device).reshape(-1, 4),
                "labels": torch.ones(len(b), dtype=torch.int64, device=self.device),
                "masks": torch.as_tensor(m, dtype=torch.uint8, device=self.device),
            }
            for m, b in zip(masks, boxes, strict=True)
        ]
        return self.model(xs, targets)

    @torch.no_grad()
    def predict(self, images: list[np.ndarray]) -> list[Instances]:
        self.model.eval()
        outs = self.model([self._to_tensor(im, self.device) for im in images])
        res = []
        for im, o in zip(images, outs, strict=True):
            keep = o["scores"] >= self.cfg.score_threshold
            res.append(
                Instances(
                    boxes=o["boxes"][keep].cpu().numpy().astype(np.float32),
                    masks=(o["masks"][keep, 0] > 0.5).cpu().numpy().reshape(-1, *im.shape[:2]),
                    scores=o["scores"][keep].cpu().numpy().astype(np.float32),
                    labels=(o["labels"][keep] - 1).cpu().numpy().astype(np.int64),
                )
            )
        return res

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
        """Load, returning (missing, unexpected) keys (``strict=False``; the caller checks coverage)."""
        res = self.model.load_state_dict(sd, strict=False)
        return list(res.missing_keys), list(res.unexpected_keys)
