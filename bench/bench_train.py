"""Training throughput (samples/s) of behaviour cloning, with and without the feature cache.

Runs the real trainer (:func:`vla_agent.training.train`) on a CALVIN-format dataset (``--data``, or
a synthetic one written to a temporary folder) with the default model config unless overridden,
and prints: feature-cache fill rate, training samples/s reading cached features, and training
samples/s computing text and image features every step (``--no-feature-cache``). Figures only; no
pass/fail. Example::

    python bench/bench_train.py --quick
    python bench/bench_train.py --data data/gen --steps 30 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="CALVIN-format dataset root (default: synthetic)")
    p.add_argument("--episodes", type=int, default=8, help="synthetic training windows")
    p.add_argument("--frames", type=int, default=32, help="frames per synthetic window")
    p.add_argument("--steps", type=int, default=12, help="optimiser steps per measured run")
    p.add_argument("--batch-size", type=int, default=32, help="samples per step")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                   help="VLAConfig override (default model config otherwise)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny sizes: 4 windows x 16 frames, 4 steps, batch 8")
    return p.parse_args(argv)


def measure(cfg, label: str) -> dict[str, float]:
    from vla_agent.training import train
    from vla_agent.training.metrics import read_metrics

    t0 = time.perf_counter()
    result = train(cfg)
    wall = time.perf_counter() - t0
    rows = [r for r in read_metrics(os.path.join(cfg.out, "metrics.csv")) if r["split"] == "train"]
    rates = [float(r["samples_per_s"]) for r in rows][1:] or [float(rows[0]["samples_per_s"])]  # skip warm-up
    out = {"samples_per_s_median": statistics.median(rates), "samples_per_s_mean": statistics.fmean(rates),
           "wall_s": wall, "steps": result.step}
    print(f"{label:<34} {out['samples_per_s_median']:8.1f} samples/s (median of {len(rates)} steps; "
          f"mean {out['samples_per_s_mean']:.1f}); run wall {wall:.1f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.episodes, args.frames, args.steps, args.batch_size = 4, 16, 4, 8
    import numpy as np
    import torch

    import vla_agent
    from vla_agent.training import TrainConfig, write_synthetic_dataset
    from vla_agent.training.config import _parse_override
    from vla_agent.training.feature_cache import FeatureStore
    from vla_agent.training.features import fill_image_cache, image_fingerprint, image_keys
    from vla_agent.training.policy_builder import build_policy, training_normalizer
    from vla_agent.training.samples import build_split_index

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"bench_train: args {vars(args)}")
    print(f"versions: vla_agent {vla_agent.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}; torch threads {torch.get_num_threads()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    model = dict(_parse_override(m) for m in args.model)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        data = args.data or write_synthetic_dataset(os.path.join(tmp, "data"), episodes=args.episodes,
                                                    frames_per_episode=args.frames, val_episodes=0,
                                                    seed=args.seed)
        base = {"data": data, "max_steps": args.steps, "batch_size": args.batch_size, "warmup_steps": 1,
                "log_every": 1, "eval_every": 0, "checkpoint_every": 10**9, "progress": False,
                "tensorboard": False, "save_best_policy": False, "seed": args.seed, "model": model,
                "cache_dir": os.path.join(tmp, "cache")}
        # cache fill rate, measured on its own
        cfg = TrainConfig(out=os.path.join(tmp, "probe"), **base)
        index = build_split_index(os.path.join(data, "training"))
        policy = build_policy(cfg, training_normalizer(index.robot_obs))
        c = policy.config
        print(f"model: d_model {c.d_model}, layers {c.n_encoder_layers}+{c.n_decoder_layers}, chunk {c.chunk_size}, "
              f"bins {c.n_bins}, image tokens {c.num_image_tokens}x{c.image_feature_dim}, "
              f"{policy.model.num_parameters() / 1e6:.2f} M transformer parameters; "
              f"segmentation {c.segmentation}")
        fp = image_fingerprint(policy)
        store = FeatureStore(base["cache_dir"], f"image-{fp[:16]}")
        t0 = time.perf_counter()
        n = fill_image_cache(policy, index, store, image_keys(index, fp), batch_size=16)
        fill = time.perf_counter() - t0
        print(f"dataset: {index.num_windows} windows, {len(index)} samples, {len(index.frames)} frames")
        print(f"{'feature cache fill':<34} {n / fill:8.1f} frames/s ({n} frames in {fill:.1f} s)")
        results: dict[str, object] = {"cache_fill_frames_per_s": n / fill}
        cached = measure(TrainConfig(out=os.path.join(tmp, "cached"), **base), "train, cached features")
        live = measure(TrainConfig(out=os.path.join(tmp, "live"), feature_cache=False, **base),
                       "train, features every step")
        results.update(with_cache=cached, without_cache=live)
        speedup = cached["samples_per_s_median"] / live["samples_per_s_median"]
        print(f"speed-up from the cache: x{speedup:.1f}")
        print("json:", json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
