"""``vla-agent train-segmentation``: fine-tune the robot segmentation model on RoboSeg-format data.

Its output folder (``config.json`` + ``model.pth``) is what ``vla-agent train --segmentation-weights``
reads, so one chain of commands produces a complete policy::

    vla-agent generate-data --out data/gen --roboseg data/roboseg
    vla-agent train-segmentation --data data/roboseg --out runs/seg --iterations 1500
    vla-agent train --data data/gen --out runs/bc --segmentation-weights runs/seg

A killed run continues from ``OUT/last.pt`` when started again with the same ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

HELP = "fine-tune the robot segmentation model (Mask R-CNN) on RoboSeg-format image/mask pairs"


def _override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, received {text!r}")
    key, raw = text.split("=", 1)
    try:
        return key.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return key.strip(), raw


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train-segmentation`` flags to ``parser``."""
    a = parser.add_argument
    a("--data", required=True, help="RoboSeg folder: image PNGs with colour-mask PNGs (robot (251,154,153))")
    a("--out", required=True, help="output folder: last.pt while training, then config.json + model.pth")
    a("--iterations", type=int, default=1000, help="optimiser steps in total (default: 1000)")
    a("--batch-size", type=int, default=4, help="images per step (default: 4)")
    a("--lr", type=float, default=1e-3, help="peak AdamW learning rate (default: 1e-3)")
    a("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default: 1e-4)")
    a("--warmup", type=int, default=50, help="linear warm-up steps (default: 50)")
    a("--clip-grad-norm", type=float, default=5.0, help="global gradient-norm clip (default: 5.0)")
    a("--augment", action=argparse.BooleanOptionalAction, default=True,
      help="random flips, rotations, colour jitter, blur applied to image and mask alike (default: on)")
    a("--seed", type=int, default=0, help="seed of sampling, augmentation and initialisation (default: 0)")
    a("--checkpoint-every", type=int, default=50, help="steps between checkpoints (default: 50)")
    a("--resume", action=argparse.BooleanOptionalAction, default=True,
      help="continue from OUT/last.pt when present (default: on)")
    a("--max-minutes", type=float, default=None, help="stop after this wall time, checkpointed")
    a("--backend", default="auto", choices=("auto", "torchvision", "detectron2"),
      help="detectron2 when installed (auto), else torchvision")
    a("--init-weights", default=None, help="start from a saved SegmentationModel folder")
    a("--weight-file", default=None, help="start from a .pth state dict (e.g. the seed's published weights)")
    a("--set", dest="overrides", action="append", type=_override, default=None, metavar="KEY=VALUE",
      help="SegmentationConfig field, e.g. --set image_size=160 --set token_grid=5")
    a("--scene-data", default=None,
      help="CALVIN-format dataset whose frames add an auxiliary scene-state loss on the image tokens "
      "(block poses, drawer, slider, lights; see vla_agent.segmentation.scene_state)")
    a("--scene-weight", type=float, default=1.0, help="weight of the scene-state loss (default: 1.0)")
    a("--scene-batch-size", type=int, default=16, help="dataset frames per step for that loss (default: 16)")
    a("--seg-every", type=int, default=1, help="Mask R-CNN losses every N steps (default: 1)")
    a("--device", default="cpu", help="torch device (default: cpu)")
    a("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")


def run(args: argparse.Namespace) -> int:
    """Fine-tune as the flags say; returns the exit code."""
    import torch

    from vla_agent.segmentation import SegmentationModel
    from vla_agent.segmentation.train import CHECKPOINT

    overrides = dict(args.overrides or [])
    last = os.path.join(args.out, CHECKPOINT)
    try:
        if args.resume and os.path.isfile(last):
            # the architecture of an interrupted run is the one in its checkpoint
            saved = dict(torch.load(last, map_location="cpu", weights_only=False).get("config", {}))
            saved.pop("backend", None)  # chosen by --backend (the checkpoint's weights must fit it)
            overrides = {**overrides, **saved}
        torch.manual_seed(args.seed)  # from-scratch initialisation is repeatable
        seg = SegmentationModel(weight_directory=args.init_weights, weight_file=args.weight_file,
                                backend=args.backend, device=args.device, **overrides)
        result = seg.fine_tune(
            args.data, args.out, iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
            weight_decay=args.weight_decay, warmup=args.warmup, clip_grad_norm=args.clip_grad_norm,
            augment=args.augment, seed=args.seed, checkpoint_every=args.checkpoint_every,
            resume=args.resume, progress=args.progress, max_minutes=args.max_minutes,
            scene_data=args.scene_data, scene_weight=args.scene_weight, scene_batch_size=args.scene_batch_size,
            seg_every=args.seg_every,
        )
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"vla-agent train-segmentation: error: {e}", file=sys.stderr)
        return 2
    hist = result.get("history") or []
    loss = f"{hist[-1]['loss']:.4f}" if hist else "n/a"
    print(f"[train-segmentation] {result['iterations']} iterations on {result['num_images']} images "
          f"({result['skipped_empty']} without robot pixels skipped) in {result['seconds']:.0f} s; "
          f"last loss {loss}; weights in {args.out} (use: vla-agent train --segmentation-weights {args.out})")
    if "scene_state" in result:
        print(f"[train-segmentation] scene-state read-out: {json.dumps(result['scene_state'])}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vla-agent train-segmentation", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
