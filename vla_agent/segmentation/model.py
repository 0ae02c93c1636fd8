"""``SegmentationModel``: robot-arm instance segmentation (Mask R-CNN) and image tokens for the policy.

One facade over two backends with the same API: detectron2 (the seed's COCO
mask_rcnn_R_50_FPN_3x, when detectron2 is installed) and torchvision Mask R-CNN (default here).

    seg = SegmentationModel(backend="torchvision")          # random init, nothing downloaded
    seg.fine_tune("data/roboseg", output_dir="runs/seg")   # RoboSeg image + colour-mask pairs
    inst = seg.predict(rgb)                                # boxes (K,4), masks (K,H,W), scores (K,)
    tokens = seg.features(rgb_batch)                       # (B, N, C) image tokens for the VLA
    seg.save("runs/seg/final"); SegmentationModel(weight_directory="runs/seg/final")
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vla_agent.segmentation.config import BACKENDS, DETECTRON2_INSTALL, SegmentationConfig
from vla_agent.segmentation.instances import Instances

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.pth"


def detectron2_available() -> bool:
    """True when ``import detectron2`` works."""
    import importlib.util

    if importlib.util.find_spec("detectron2") is None:
        return False
    try:
        import detectron2  # noqa: F401
    except Exception:  # a broken install counts as absent
        return False
    return True


def resolve_backend(backend: str) -> str:
    """``"auto"`` -> detectron2 when importable, else torchvision; ``"detectron2"`` without it raises."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "detectron2" if detectron2_available() else "torchvision"
    if backend == "detectron2" and not detectron2_available():
        raise ImportError(f"backend='detectron2' needs detectron2, which is not installed: {DETECTRON2_INSTALL}")
    return backend


def _find_weight_file(directory: Path) -> Path | None:
    for name in (WEIGHTS_FILE, "model_final.pth"):
        if (directory / name).is_file():
            return directory / name
    cands = sorted(directory.glob("*.pth"))
    return cands[-1] if cands else None


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a ``.pth`` file: a plain state dict, or a checkpoint holding one under ``"model"``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight_file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"weight_file {path}: not a readable torch state dict ({e.__class__.__name__}: {e})") from e
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"weight_file {path}: expected a dict of tensors (or {{'model': ...}}), got {type(obj)}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


class SegmentationModel:
    """Robot instance segmentation + image features.

    Args:
        weight_directory: folder written by :meth:`save` (``config.json`` + ``model.pth``) or a
            training output folder; its config is used unless overridden by keyword arguments.
        weight_file: a ``.pth`` file: a plain torchvision/detectron2 state dict or a checkpoint
            with a ``"model"`` entry. Heads whose shapes differ (e.g. COCO's 91 classes) are skipped
            with a warning; the rest must match the architecture.
        backend: ``"auto"`` (detectron2 if installed, else torchvision), ``"detectron2"``, ``"torchvision"``.
        device: torch device.
        **config: fields of :class:`SegmentationConfig` (``image_size``, ``arch``, ``token_grid`` ...).

    Raises:
        ImportError: ``backend="detectron2"`` without detectron2 (message gives the install line).
        ValueError: a bad config value or incompatible weights. FileNotFoundError: missing weights.
    """

    def __init__(
        self,
        weight_directory: str | os.PathLike | None = None,
        weight_file: str | os.PathLike | None = None,
        backend: str = "auto",
        device: str | torch.device = "cpu",
        **config: Any,
    ) -> None:
        saved: dict = {}
        if weight_directory is not None:
            wd = Path(weight_directory)
            if not wd.is_dir():
                raise FileNotFoundError(f"weight_directory not found: {wd}")
            if (wd / CONFIG_FILE).is_file():
                saved = json.loads((wd / CONFIG_FILE).read_text())
            if weight_file is None:
                weight_file = _find_weight_file(wd)
                if weight_file is None:
                    raise FileNotFoundError(f"weight_directory {wd}: no {WEIGHTS_FILE} or other .pth file")
        if backend == "auto" and "backend" in saved:
            backend = saved["backend"]
        saved["backend"] = resolve_backend(backend)
        saved.update(config)
        self.config = SegmentationConfig.from_dict(saved)
        self.device = torch.device(device)
        if self.config.backend == "detectron2":
            from vla_agent.segmentation.detectron2_backend import Detectron2Backend

            self.backend: Any = Detectron2Backend(self.config, self.device)
        else:
            from vla_agent.segmentation.torchvision_backend import TorchvisionBackend

            self.backend = TorchvisionBackend(self.config, self.device)
        if weight_file is not None:
            self.load_weights(weight_file)

    def to(self, device: str | torch.device) -> SegmentationModel:
        """Move the whole detector to ``device`` (returns self)."""
        self.device = torch.device(device)
        self.backend.device = self.device
        self.backend.model.to(self.device)
        return self

    # --- weights --------------------------------------------------------------------------------
    def load_weights(self, weight_file: str | os.PathLike) -> None:
        """Load a ``.pth`` state dict (see the class docstring for what is accepted).

        With the detectron2 backend a ``.pkl`` (model-zoo format) goes through ``DetectionCheckpointer``.
        """
        if str(weight_file).endswith(".pkl") and hasattr(self.backend, "load_checkpoint"):
            if not Path(weight_file).is_file():
                raise FileNotFoundError(f"weight_file not found: {weight_file}")
            self.backend.load_checkpoint(weight_file)
            return
        sd = read_state_dict(weight_file)
        own = self.backend.state_dict()
        skipped = [k for k, v in sd.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
        for k in skipped:
            del sd[k]
        missing, unexpected = self.backend.load_state_dict(sd)
        # BatchNorm's counter is absent from frozen-BN checkpoints; it carries no weight
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        loaded = len(own) - len(missing)
        if loaded < 0.5 * len(own):
            raise ValueError(
                f"weight_file {weight_file}: only {loaded} of {len(own)} tensors match the "
                f"{self.config.backend}/{self.config.arch} architecture (e.g. missing {missing[:3]}, "
                f"unexpected {unexpected[:3]}); pass the matching arch=/config"
            )
        if skipped or missing or unexpected:
            warnings.warn(
                f"weight_file {weight_file}: {len(skipped)} tensors skipped for shape (e.g. {skipped[:2]}), "
                f"{len(missing)} left at init (e.g. {missing[:2]}), {len(unexpected)} unused "
                f"(e.g. {unexpected[:2]})",
                stacklevel=2,
            )

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` + ``model.pth`` (plain state dict) atomically; returns the folder."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / (WEIGHTS_FILE + ".tmp")
        torch.save({k: v.detach().cpu() for k, v in self.backend.state_dict().items()}, tmp)
        os.replace(tmp, d / WEIGHTS_FILE)
        tmp = d / (CONFIG_FILE + ".tmp")
        tmp.write_text(json.dumps(self.config.to_dict(), indent=2))
        os.replace(tmp, d / CONFIG_FILE)
        return d

    # --- image tokens ---------------------------------------------------------------------------
    @property
    def feature_dim(self) -> int:
        """C, channels of every image token."""
        return int(self.backend.feature_dim)

    def num_tokens(self, height: int, width: int) -> int:
        """N, tokens per image (a fixed ``token_grid**2`` grid whatever the image size)."""
        if height < 1 or width < 1:
            raise ValueError(f"height, width: expected positive sizes, got ({height}, {width})")
        return self.config.token_grid**2

    def feature_modules(self) -> nn.Module:
        """The module whose weights :meth:`features` uses (backbone + FPN): freeze, fine-tune or save it."""
        return self.backend.feature_modules()

    def _as_batch(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float in [0, 1] on the model's device."""
        if isinstance(images, np.ndarray):
            if images.dtype != np.uint8:
                raise ValueError(f"images: expected uint8 numpy (H, W, 3) or (B, H, W, 3), got dtype {images.dtype}")
            if images.ndim == 3:
                images = images[None]
            if images.ndim != 4 or images.shape[-1] != 3:
                raise ValueError(f"images: expected numpy shape (H, W, 3) or (B, H, W, 3), got {images.shape}")
            return torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        if isinstance(images, torch.Tensor):
            if images.dtype == torch.uint8:
                if images.ndim == 3:
                    images = images[None]
                if images.ndim != 4 or images.shape[-1] != 3:
                    raise ValueError(f"images: expected uint8 tensor (B, H, W, 3), got {tuple(images.shape)}")
                return images.to(self.device).permute(0, 3, 1, 2).float() / 255.0
            if not images.is_floating_point():
                raise ValueError(f"images: expected a float tensor in [0, 1] or uint8, got dtype {images.dtype}")
            if images.ndim == 3:
                images = images[None]
            if images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(f"images: expected float tensor (B, 3, H, W), got {tuple(images.shape)}")
            if images.numel() and (not torch.isfinite(images).all() or images.min() < -1e-3 or images.max() > 1 + 1e-3):
                raise ValueError(
                    f"images: expected finite floats in [0, 1], got range [{images.min().item():.3g}, "
                    f"{images.max().item():.3g}]"
                )
            return images.to(self.device, torch.float32)
        raise ValueError(f"images: expected a numpy array or torch tensor, got {type(images)}")

    def features(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Image tokens: FPN level ``token_level`` average-pooled to a ``token_grid`` grid.

        Args:
            images: uint8 numpy (H, W, 3) / (B, H, W, 3) channel-last, uint8 tensor (B, H, W, 3),
                or float tensor (B, 3, H, W) in [0, 1].

        Returns:
            (B, N, C) float32, N = ``num_tokens(H, W)``, C = ``feature_dim``; row-major grid order.
            Runs without autograd unless a parameter of :meth:`feature_modules` requires grad.
            The detection heads are not run.
        """
        x = self._as_batch(images)
        mods = self.feature_modules()
        trainable = torch.is_grad_enabled() and any(p.requires_grad for p in mods.parameters())
        with torch.set_grad_enabled(trainable):
            fmap = self.backend.feature_map(x)  # (B, C, h, w)
            g = self.config.token_grid
            tok = F.adaptive_avg_pool2d(fmap, (g, g))  # (B, C, g, g)
            return tok.flatten(2).transpose(1, 2).contiguous().float()  # (B, g*g, C)

    # --- instances ------------------------------------------------------------------------------
    @staticmethod
    def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
        if not isinstance(image, np.ndarray):
            raise ValueError(f"{name}: expected a numpy uint8 (H, W, 3) array, got {type(image)}")
        if image.dtype != np.uint8:
            raise ValueError(f"{name}: expected dtype uint8, got {image.dtype}")
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 8:
            raise ValueError(f"{name}: expected shape (H, W, 3) with H, W >= 8, got {image.shape}")
        return image

    def predict(self, image: np.ndarray) -> Instances:
        """Robot instances in one uint8 (H, W, 3) image (full Mask R-CNN; slow on CPU)."""
        return self.backend.predict([self._check_image(image)])[0]

    def predict_batch(self, images: list[np.ndarray] | np.ndarray) -> list[Instances]:
        """:meth:`predict` over a list (or (B, H, W, 3) array) of images."""
        imgs = [self._check_image(np.asarray(im), f"images[{i}]") for i, im in enumerate(images)]
        return self.backend.predict(imgs) if imgs else []

    # --- training -------------------------------------------------------------------------------
    def fine_tune(
        self, dataset_path: str | os.PathLike, output_dir: str | os.PathLike | None = None, **kwargs: Any
    ) -> dict:
        """Fine-tune on a RoboSeg folder; see :func:`vla_agent.segmentation.train.fine_tune` for options."""
        from vla_agent.segmentation.train import fine_tune

        return fine_tune(self, dataset_path, output_dir, **kwargs)

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self.config, f.name)!r}" for f in dataclasses.fields(self.config))
        return f"SegmentationModel({fields})"
