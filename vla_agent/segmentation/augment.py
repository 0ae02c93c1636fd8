"""Randomised image augmentations applied consistently to an image and its instance masks.

Geometry (flip, rotation) moves image and masks together (image bilinear, masks nearest);
photometry (brightness, contrast, saturation, per-channel colour gain, blur) touches the image only.
Every random draw comes from the generator passed in, so a seed reproduces the augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter


def as_numpy_rng(generator: np.random.Generator | torch.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a numpy/torch generator, a seed, or ``None`` (fresh entropy)."""
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
        return np.random.default_rng(seed)
    if generator is None or isinstance(generator, int | np.integer):
        return np.random.default_rng(generator)
    raise ValueError(f"generator: expected np.random.Generator, torch.Generator, int or None, got {type(generator)}")


@dataclass
class RandomAugment:
    """Random flip / rotation / photometric jitter / blur.

    Args:
        flip_p: probability of a horizontal flip.
        rotate_p: probability of a rotation by an angle uniform in ``[-max_rotation, max_rotation]`` deg.
        max_rotation: degrees.
        brightness, contrast, saturation: maximal relative change (factor uniform in ``1 +- x``).
        color: maximal relative per-channel gain change (colour balance jitter).
        blur_p: probability of a Gaussian blur with radius uniform in ``[0.3, max_blur]`` px.
        max_blur: px.
        interpolation: image resampling for rotation, ``"bilinear"`` or ``"nearest"`` (masks are
            always resampled nearest).
    """

    flip_p: float = 0.5
    rotate_p: float = 0.5
    max_rotation: float = 10.0
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    color: float = 0.08
    blur_p: float = 0.2
    max_blur: float = 1.2
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        for name in ("flip_p", "rotate_p", "blur_p"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1], got {v}")
        for name in ("max_rotation", "brightness", "contrast", "saturation", "color", "max_blur"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"interpolation: expected 'bilinear' or 'nearest', got {self.interpolation!r}")

    @classmethod
    def geometric_only(cls, **kw: float | str) -> RandomAugment:
        """Flip + rotation, no photometric change (useful for alignment checks)."""
        base: dict = dict(brightness=0.0, contrast=0.0, saturation=0.0, color=0.0, blur_p=0.0)
        base.update(kw)
        return cls(**base)

    def __call__(
        self,
        image: np.ndarray,
        masks: np.ndarray,
        generator: np.random.Generator | torch.Generator | int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment one sample.

        Args:
            image: (H, W, 3) uint8.
            masks: (K, H, W) or (H, W) bool.
            generator: source of randomness (numpy / torch generator or seed).

        Returns:
            image (H, W, 3) uint8 and masks with the input's shape, bool.
        """
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image: expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
        masks = np.asarray(masks)
        squeeze = masks.ndim == 2
        if squeeze:
            masks = masks[None]
        if masks.ndim != 3 or masks.shape[1:] != image.shape[:2]:
            raise ValueError(f"masks: expected (K, {image.shape[0]}, {image.shape[1]}), got {masks.shape}")
        rng = as_numpy_rng(generator)
        masks = masks.astype(bool)

        # draw every random number up front, in a fixed order, so results do not depend on branches
        flip = rng.random() < self.flip_p
        rotate = rng.random() < self.rotate_p
        angle = float(rng.uniform(-self.max_rotation, self.max_rotation))
        b = 1.0 + float(rng.uniform(-self.brightness, self.brightness))
        c = 1.0 + float(rng.uniform(-self.contrast, self.contrast))
        s = 1.0 + float(rng.uniform(-self.saturation, self.saturation))
        gain = 1.0 + rng.uniform(-self.color, self.color, size=3)
        blur = rng.random() < self.blur_p
        radius = float(rng.uniform(0.3, max(self.max_blur, 0.3)))

        if flip:
            image = image[:, ::-1]
            masks = masks[:, :, ::-1]
        if rotate and self.max_rotation > 0:
            resample = Image.BILINEAR if self.interpolation == "bilinear" else Image.NEAREST
            image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).rotate(angle, resample=resample))
            masks = (
                np.stack(
                    [
                        np.asarray(
                            Image.fromarray(np.ascontiguousarray(m).astype(np.uint8) * 255).rotate(
                                angle, resample=Image.NEAREST
                            )
                        )
                        > 127
                        for m in masks
                    ]
                )
                if len(masks)
                else masks
            )
        if (b, c, s) != (1.0, 1.0, 1.0) or np.any(gain != 1.0):
            x = image.astype(np.float32)
            x = x * (b * gain)[None, None, :].astype(np.float32)
            gray = x.mean(axis=(0, 1, 2), keepdims=True)
            x = (x - gray) * c + gray
            lum = x @ np.array([0.299, 0.587, 0.114], np.float32)
            x = (x - lum[..., None]) * s + lum[..., None]
            image = np.clip(x + 0.5, 0, 255).astype(np.uint8)
        if blur and self.max_blur > 0:
            image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).filter(ImageFilter.GaussianBlur(radius)))
        image = np.ascontiguousarray(image)
        masks = np.ascontiguousarray(masks)
        return image, (masks[0] if squeeze else masks)
