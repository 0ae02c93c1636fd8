"""Robot segmentation benchmark: train from scratch on simulator renders, report mask IoU / AP50 on
held-out renders from other robot states, and the cost of ``features()`` for the policy.

    python bench/bench_segmentation.py --quick                       # ~1 min smoke run
    nice -n 10 python bench/bench_segmentation.py --minutes 30       # the full from-scratch run

Data: RoboSeg-format pairs rendered with PyBullet (``render_roboseg_samples``: Panda from
pybullet_data, random joints, static camera) -- train and test sets use different seeds, hence
different states. ``--train-data/--test-data`` use existing RoboSeg folders instead. Training resumes
from ``<out>/last.pt``. Timings are noisy on a shared machine; figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/bench_segmentation", help="work folder (data, checkpoints)")
    ap.add_argument("--train-data", default=None, help="existing RoboSeg folder for training")
    ap.add_argument("--test-data", default=None, help="existing RoboSeg folder for evaluation")
    ap.add_argument("--train-n", type=int, default=300, help="rendered training pairs")
    ap.add_argument("--test-n", type=int, default=50, help="rendered held-out pairs")
    ap.add_argument("--render-size", type=int, default=200, help="rendered image size, px")
    ap.add_argument("--image-size", type=int, default=160, help="model input size (multiple of 32)")
    ap.add_argument("--arch", default="small", choices=["small", "resnet50"])
    ap.add_argument("--mask-resolution", type=int, default=21, help="mask RoIAlign size (masks at 2x)")
    ap.add_argument("--backend", default="torchvision", choices=["auto", "torchvision", "detectron2"])
    ap.add_argument("--iterations", type=int, default=800, help="optimiser steps (sets the LR schedule)")
    ap.add_argument("--minutes", type=float, default=30.0, help="training wall-time budget")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--weights", default=None,
                    help="evaluate this saved SegmentationModel folder instead of training one")
    ap.add_argument("--test-limit", type=int, default=None, help="evaluate on every k-th test image to use at most N")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: 24 train / 8 test pairs, 64 px, 30 steps")
    args = ap.parse_args(argv)
    if args.quick:
        args.train_n, args.test_n, args.render_size, args.image_size = 24, 8, 96, 64
        args.iterations, args.minutes = 30, 3.0
    return args


def time_features(seg, size: int, batch: int = 1, reps: int = 20) -> tuple[float, float]:
    """(min, median) milliseconds per image of ``seg.features`` on random uint8 images, frozen module."""
    x = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    mods = seg.feature_modules()
    flags = [p.requires_grad for p in mods.parameters()]
    for p in mods.parameters():
        p.requires_grad_(False)
    seg.features(x)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        seg.features(x)
        ts.append((time.perf_counter() - t) * 1e3 / batch)
    for p, f in zip(mods.parameters(), flags, strict=True):
        p.requires_grad_(f)
    return float(np.min(ts)), float(np.median(ts))


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from vla_agent.segmentation import RoboSegDataset, SegmentationModel, render_roboseg_samples
    from vla_agent.segmentation.metrics import mask_ap, mask_iou

    out = Path(args.out)
    print("args:", json.dumps(vars(args)))
    import torchvision

    print(
        f"versions: python {platform.python_version()} torch {torch.__version__} "
        f"torchvision {torchvision.__version__} numpy {np.__version__}"
    )
    train_dir = args.train_data or str(out / "train")
    test_dir = args.test_data or str(out / "test")
    t = time.time()
    if args.train_data is None and args.weights is None:
        render_roboseg_samples(train_dir, args.train_n, seed=args.seed, size=args.render_size)
    if args.test_data is None:
        render_roboseg_samples(test_dir, args.test_n, seed=10_000 + args.seed, size=args.render_size)
    print(f"data ready in {time.time() - t:.1f} s: train {train_dir}, test {test_dir}")

    torch.manual_seed(args.seed)
    if args.weights is not None:
        seg = SegmentationModel(weight_directory=args.weights)
    else:
        seg = SegmentationModel(
            backend=args.backend, arch=args.arch, image_size=args.image_size, mask_resolution=args.mask_resolution
        )
    print(
        f"model: {seg.config.backend}/{seg.config.arch}, "
        f"{sum(p.numel() for p in seg.backend.model.parameters()) / 1e6:.2f} M params, "
        f"tokens {seg.config.token_grid}x{seg.config.token_grid} x {seg.feature_dim}"
    )
    res: dict = {"iterations": 0}
    if args.weights is None:
        res = seg.fine_tune(
            train_dir,
            out / "model",
            iterations=args.iterations,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            augment=not args.no_augment,
            max_minutes=args.minutes,
        )
        hist = res["history"]
        first = np.mean([h["loss"] for h in hist[:10]]) if hist else float("nan")
        last = np.mean([h["loss"] for h in hist[-10:]]) if hist else float("nan")
        print(
            f"trained {res['iterations']} it ({len(hist)} recorded) this run {res['seconds'] / 60:.1f} min; "
            f"loss first10 {first:.3f} last10 {last:.3f}; images {res['num_images']}, "
            f"skipped empty {res['skipped_empty']}"
        )
    test = RoboSegDataset(test_dir, instance_mode=seg.config.instance_mode)
    preds, gts, ious = [], [], []
    t = time.time()
    step = max(1, len(test) // args.test_limit) if args.test_limit else 1
    indices = list(range(0, len(test), step))[: args.test_limit]
    for i in indices:
        image, mask = test.load(i)
        inst = seg.predict(image)
        preds.append(inst)
        gts.append(test.sample(i).masks)
        ious.append(mask_iou(inst.union_mask(), mask))
    pred_ms = (time.time() - t) * 1e3 / max(1, len(indices))
    ap50 = mask_ap(preds, gts, 0.5)
    ap75 = mask_ap(preds, gts, 0.75)
    f200 = time_features(seg, 200)
    f84 = time_features(seg, 84)
    f200b = time_features(seg, 200, batch=8, reps=5)
    figures = {
        "mask_iou_mean": float(np.mean(ious)),
        "mask_iou_median": float(np.median(ious)),
        "mask_ap50": ap50,
        "mask_ap75": ap75,
        "test_images": len(indices),
        "predict_ms_per_image": pred_ms,
        "features_ms_200_b1_min_median": f200,
        "features_ms_84_b1_min_median": f84,
        "features_ms_200_b8_per_image_min_median": f200b,
        "iterations": res["iterations"],
        "seed": args.seed,
    }
    print("results:", json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
