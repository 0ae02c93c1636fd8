"""Rollout videos with the instruction written on every frame."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

VIDEO_FPS = 15  # half of CALVIN's 30 Hz control rate: slow enough to follow


def annotate(frame: np.ndarray, instruction: str, label: str = "", ok: bool = False, scale: int = 2) -> np.ndarray:
    """The frame, upscaled, with a caption band showing ``label`` and ``instruction``.

    Args:
        frame: (H, W, 3) uint8.
        instruction: the subtask's sentence.
        label: short context, e.g. "chain 3  2/5".
        ok: draw the caption in green (the subtask just succeeded).
        scale: integer upscaling so that text stays legible on 200 px frames.

    Returns:
        (H * scale + 28, W * scale, 3) uint8.
    """
    from PIL import Image, ImageDraw

    img = np.asarray(frame, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"frame: expected shape (H, W, 3), got {img.shape}")
    h, w = img.shape[:2]
    canvas = Image.new("RGB", (w * scale, h * scale + 28), (0, 0, 0))
    canvas.paste(Image.fromarray(img).resize((w * scale, h * scale), Image.Resampling.NEAREST), (0, 28))
    draw = ImageDraw.Draw(canvas)
    colour = (90, 230, 90) if ok else (255, 255, 255)
    draw.text((3, 1), label, fill=(200, 200, 200))
    draw.text((3, 14), instruction[: max(10, w * scale // 6)], fill=colour)
    return np.asarray(canvas)


def write_video(path: str | os.PathLike[str], frames: Sequence[np.ndarray], fps: int = VIDEO_FPS) -> Path:
    """Write frames as ``.mp4`` (imageio-ffmpeg) or ``.gif``; mp4 falls back to gif without ffmpeg.

    Written to a temporary name first, then renamed, so a killed run leaves no half file.
    """
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("frames: expected at least one frame, got none")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".mp4":
        tmp = p.with_name(p.stem + ".tmp.mp4")
        try:
            with imageio.get_writer(tmp, fps=fps, macro_block_size=1) as w:
                for f in frames:
                    w.append_data(np.asarray(f))  # type: ignore[attr-defined]
            os.replace(tmp, p)
            return p
        except (ImportError, RuntimeError, ValueError, OSError):
            tmp.unlink(missing_ok=True)
            p = p.with_suffix(".gif")
    tmp = p.with_name(p.stem + ".tmp.gif")
    imageio.mimsave(tmp, [np.asarray(f) for f in frames], duration=1.0 / fps)
    os.replace(tmp, p)
    return p
