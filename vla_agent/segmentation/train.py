"""Fine-tuning loop shared by both backends: seeded sampling + augmentation, AdamW with warmup and
cosine decay, grad-norm clipping, tqdm progress, atomic checkpoints and exact resume.

Checkpoint ``<output_dir>/last.pt``: model + optimizer + scheduler state + iteration + loss history.
Every iteration draws its samples and augmentations from ``(seed, iteration)`` and seeds torch's
sampler RNG the same way, so a resumed run repeats what an uninterrupted one would have done.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vla_agent.segmentation.augment import RandomAugment
from vla_agent.segmentation.roboseg import RoboSegDataset

if TYPE_CHECKING:
    from vla_agent.segmentation.model import SegmentationModel

CHECKPOINT = "last.pt"


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def fine_tune(
    seg: SegmentationModel,
    dataset_path: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    iterations: int = 1000,
    batch_size: int = 4,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    warmup: int = 50,
    clip_grad_norm: float = 5.0,
    augment: RandomAugment | None | bool = True,
    seed: int = 0,
    checkpoint_every: int = 50,
    resume: bool = True,
    progress: bool = True,
    max_minutes: float | None = None,
    scene_data: str | os.PathLike | None = None,
    scene_weight: float = 1.0,
    scene_batch_size: int = 16,
    seg_every: int = 1,
) -> dict:
    """Train ``seg`` on RoboSeg pairs under ``dataset_path``.

    Args:
        seg: the model (its backend's detector is trained in place).
        dataset_path: RoboSeg folder (see :class:`RoboSegDataset`).
        output_dir: checkpoints (``last.pt``) and final weights (``config.json`` + ``model.pth``);
            ``None`` keeps everything in memory (no resume).
        iterations: optimiser steps in total (a resumed run continues up to this count).
        batch_size: images per step.
        lr, weight_decay: AdamW; linear warmup over ``warmup`` steps, then cosine decay to lr/10.
        clip_grad_norm: max global grad norm (from-scratch Mask R-CNN diverges without it).
        augment: a :class:`RandomAugment`, ``True`` for the default one, ``False``/``None`` for none.
        seed: seeds sampling, augmentation and torch's RNG per iteration.
        checkpoint_every: steps between checkpoints (also written at the end and on time-out).
        resume: continue from ``output_dir/last.pt`` when present.
        progress: show a tqdm bar.
        max_minutes: stop (after checkpointing) when this wall time is spent.
        scene_data: a CALVIN-format dataset root; its ``training/`` frames add the auxiliary
            scene-state loss of :mod:`vla_agent.segmentation.scene_state` (its ``validation/``
            frames, when present, are used for the final read-out figures).
        scene_weight: weight of that loss.
        scene_batch_size: dataset frames (both cameras) per step for that loss.
        seg_every: compute the Mask R-CNN losses every ``seg_every`` steps (the scene-state loss
            runs every step).

    Returns:
        ``{"iterations": done, "history": [{"iteration", "loss", <loss terms>, "lr"}...],
        "skipped_empty": n, "num_images": n, "seconds": s}``.

    Raises:
        FileNotFoundError / ValueError: missing or empty dataset folder, corrupt PNGs, bad arguments.
    """
    from tqdm.auto import tqdm

    for name, v in (
        ("iterations", iterations),
        ("batch_size", batch_size),
        ("checkpoint_every", checkpoint_every),
        ("scene_batch_size", scene_batch_size),
        ("seg_every", seg_every),
    ):
        if int(v) < 1:
            raise ValueError(f"{name}: expected a positive integer, got {v}")
    if not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"lr: expected a positive finite float, got {lr}")
    if augment is True:
        augment = RandomAugment()
    elif augment is False:
        augment = None
    dataset = RoboSegDataset(dataset_path, instance_mode=seg.config.instance_mode)
    backend = seg.backend
    params = backend.parameters()
    scene = head = None
    if scene_data is not None:
        from vla_agent.segmentation.scene_state import SceneFrames, build_head, scene_state_loss

        scene = SceneFrames(Path(scene_data) / "training")
        head = build_head(seg, scene, seed=seed)
        params = params + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)

    def lr_at(it: int) -> float:
        if it < warmup:
            return (it + 1) / warmup
        t = (it - warmup) / max(1, iterations - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    out = Path(output_dir) if output_dir is not None else None
    start, history = 0, []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        ck = out / CHECKPOINT
        if resume and ck.is_file():
            state = torch.load(ck, map_location="cpu", weights_only=False)
            saved_head = state.get("scene_head")
            if (head is None) != (saved_head is None):
                raise ValueError(f"{ck}: written {'with' if saved_head is not None else 'without'} scene_data; "
                                 f"resume the same way or use another output_dir")
            backend.load_state_dict(state["model"])
            if head is not None:
                head.load_state_dict(saved_head)
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            start, history = int(state["iteration"]), list(state["history"])
            # the schedule follows this call's `iterations` (a run may be extended when resumed)
            sched.last_epoch = start
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"] * lr_at(start)

    def checkpoint(it: int) -> None:
        if out is None:
            return
        _atomic_torch_save(
            {
                "model": backend.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "scene_head": head.state_dict() if head is not None else None,
                "iteration": it,
                "history": history,
                "config": seg.config.to_dict(),
                "seed": seed,
                "versions": {"torch": torch.__version__},
            },
            out / CHECKPOINT,
        )

    t0 = time.time()
    it = start
    bar = tqdm(total=iterations, initial=start, disable=not progress, desc="fine-tune seg", unit="it")
    try:
        while it < iterations:
            rng = np.random.default_rng([seed, it])
            torch.manual_seed(int(rng.integers(2**62)))
            samples = []
            if it % seg_every == 0:  # RoboSeg images are read and augmented only on Mask R-CNN steps
                idx = rng.integers(0, len(dataset), size=batch_size)
                samples = [dataset.sample(int(i), augment, rng) for i in idx]
                samples = [s for s in samples if len(s.boxes)]  # augmentation may push the robot out
            if not samples and scene is None:
                it += 1
                continue
            losses = (backend.losses([s.image for s in samples], [s.masks for s in samples], [s.boxes for s in samples])
                      if samples else {})
            if scene is not None and head is not None:
                rows = rng.integers(0, len(scene), size=scene_batch_size)
                losses["loss_scene_state"] = scene_weight * scene_state_loss(seg, head, scene.batch(rows))
            loss = sum(losses.values())
            if not torch.isfinite(loss):
                terms = {k: float(v) for k, v in losses.items()}
                raise FloatingPointError(f"iteration {it}: non-finite loss {terms}; lower lr={lr}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
            opt.step()
            sched.step()
            rec = {"iteration": it, "loss": float(loss.detach()), "lr": float(opt.param_groups[0]["lr"])}
            rec.update({k: float(v.detach()) for k, v in losses.items()})
            history.append(rec)
            it += 1
            bar.update(1)
            bar.set_postfix(loss=f"{rec['loss']:.3f}")
            if it % checkpoint_every == 0:
                checkpoint(it)
            if max_minutes is not None and time.time() - t0 > 60 * max_minutes:
                break
    finally:
        bar.close()
        backend.model.eval()
    checkpoint(it)
    if out is not None:
        seg.save(out)
    extra: dict[str, Any] = {}
    if scene is not None and head is not None:
        extra["scene_state"] = _scene_report(seg, head, Path(scene_data), out)  # type: ignore[arg-type]
    return {
        **extra,
        "iterations": it,
        "history": history,
        "skipped_empty": len(dataset.skipped_empty),
        "num_images": len(dataset),
        "seconds": time.time() - t0,
    }


def _scene_report(seg: SegmentationModel, head: Any, root: Path, out: Path | None) -> dict[str, float]:
    """Held-out read-out figures of the scene-state head (validation split, else training), saved
    with the head next to the weights."""
    import json

    from vla_agent.data.format import write_bytes_atomic
    from vla_agent.segmentation.scene_state import SceneFrames, evaluate_scene_state

    split = root / "validation" if (root / "validation").is_dir() else root / "training"
    report = {"split": str(split), **evaluate_scene_state(seg, head, SceneFrames(split, max_frames=1000))}
    if out is not None:
        _atomic_torch_save(head.state_dict(), out / "scene_head.pt")
        write_bytes_atomic(out / "scene_state.json", json.dumps(report, indent=1).encode("utf-8"))
    return report  # type: ignore[return-value]
