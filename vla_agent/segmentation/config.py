"""Configuration of the robot segmentation model (saved as ``config.json`` next to the weights)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

BACKENDS = ("auto", "detectron2", "torchvision")
ARCHS = ("small", "resnet50")
DETECTRON2_INSTALL = "pip install 'git+https://github.com/facebookresearch/detectron2.git'"


@dataclass
class SegmentationConfig:
    """Everything that fixes the segmentation model's architecture and behaviour.

    Args:
        backend: ``"torchvision"`` or ``"detectron2"`` (``"auto"`` is resolved before it gets here).
        arch: torchvision backbone: ``"small"`` (reduced-width ResNet-18-FPN, GroupNorm; fast, the
            default) or ``"resnet50"`` (torchvision's standard Mask R-CNN R50-FPN layout, so its
            plain state dicts load). detectron2 always uses COCO mask_rcnn_R_50_FPN_3x.
        image_size: every image is resized so that its longer side is this many pixels (multiple of 32).
        width: channels of the small backbone's first stage.
        fpn_channels: FPN channels of the small backbone (= ``feature_dim`` of the image tokens).
        norm: small backbone normalisation, ``"gn"`` or ``"bn"``.
        token_level: FPN level pooled into image tokens (``"0".."3"`` = stride 4..32; detectron2
            names ``p2..p5`` map from the same digits).
        token_grid: tokens are an adaptive-average-pooled ``token_grid x token_grid`` grid.
        score_threshold: detections below are dropped by ``predict``.
        detections_per_image: detection cap.
        mask_resolution: RoIAlign size of the mask head (masks are predicted at twice this).
        instance_mode: ``"single"`` (the robot is one instance) or ``"components"``.
        num_classes: foreground classes (1: robot).
    """

    backend: str = "torchvision"
    arch: str = "small"
    image_size: int = 160
    width: int = 32
    fpn_channels: int = 64
    norm: str = "gn"
    token_level: str = "2"
    token_grid: int = 5
    score_threshold: float = 0.5
    detections_per_image: int = 10
    mask_resolution: int = 21
    instance_mode: str = "single"
    num_classes: int = 1

    def __post_init__(self) -> None:
        if self.backend not in ("torchvision", "detectron2"):
            raise ValueError(f"backend: expected 'torchvision' or 'detectron2', got {self.backend!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch: expected one of {ARCHS}, got {self.arch!r}")
        if self.image_size < 32 or self.image_size % 32:
            raise ValueError(f"image_size: expected a multiple of 32 >= 32, got {self.image_size}")
        for name in (
            "width",
            "fpn_channels",
            "token_grid",
            "detections_per_image",
            "mask_resolution",
            "num_classes",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        if str(self.token_level) not in ("0", "1", "2", "3"):
            raise ValueError(f"token_level: expected '0'..'3' (stride 4..32), got {self.token_level!r}")
        self.token_level = str(self.token_level)
        if self.norm not in ("gn", "bn"):
            raise ValueError(f"norm: expected 'gn' or 'bn', got {self.norm!r}")
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"score_threshold: expected a value in [0, 1], got {self.score_threshold}")
        if self.instance_mode not in ("single", "components"):
            raise ValueError(f"instance_mode: expected 'single' or 'components', got {self.instance_mode!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SegmentationConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(
                f"segmentation config: unknown keys {sorted(unknown)}; expected a subset of {sorted(names)}"
            )
        return cls(**d)
