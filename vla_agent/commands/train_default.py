"""``vla-agent train-default``: the whole pipeline that produces the shipped default policy.

Stages (each resumes where a killed run stopped):

1. ``generate-data``: scripted-expert chains in CALVIN's format (the BC dataset);
2. ``generate-data --roboseg``: a few more chains exported as RoboSeg image/mask pairs;
3. ``train-segmentation``: the robot-arm Mask R-CNN on those renders (time-limited);
4. ``train``: behaviour cloning with the frozen segmentation features (cached);
5. with ``--install``: copy the policy into the package (``VLAPolicy.from_pretrained("default")``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

HELP = "reproduce the shipped default policy: data -> segmentation -> behaviour cloning (-> install)"

# the default policy's transformer: small enough to train on 2 CPU cores and ship (< 50 MB)
DEFAULT_MODEL = ("d_model=128", "n_heads=4", "n_encoder_layers=2", "n_decoder_layers=2", "n_bins=64",
                 "chunk_size=8", "n_action_steps=4", "dropout=0.1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train-default`` options to ``parser``."""
    parser.add_argument("--out", type=Path, default=Path("runs/default"), help="pipeline folder")
    parser.add_argument("--chains", type=int, default=30, help="expert chains of 5 for behaviour cloning")
    parser.add_argument("--roboseg-chains", type=int, default=3, help="expert chains rendered for segmentation")
    parser.add_argument("--seg-iterations", type=int, default=600, help="segmentation optimiser steps")
    parser.add_argument("--seg-minutes", type=float, default=15.0, help="wall-time cap of segmentation training")
    parser.add_argument("--train-steps", type=int, default=1500, help="behaviour-cloning optimiser steps")
    parser.add_argument("--batch-size", type=int, default=32, help="behaviour-cloning batch size")
    parser.add_argument("--seed", type=int, default=0, help="seed of every stage")
    parser.add_argument("--install", action="store_true",
                        help="copy the trained policy to the package's checkpoints/default")


def _stage(name: str, argv: list[str]) -> None:
    from vla_agent.cli import main

    print(f"\n[train-default] {name}: vla-agent {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    code = main(argv)
    if code:
        raise SystemExit(f"[train-default] stage {name!r} failed with exit code {code}")
    print(f"[train-default] {name} done in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the stages in order; returns the exit status."""
    from vla_agent.pretrained import DEFAULT_CHECKPOINT

    out: Path = args.out
    seed = str(args.seed)
    _stage("demonstrations", ["generate-data", "--out", str(out / "data"), "--chains", str(args.chains),
                              "--seed", seed])
    _stage("segmentation renders", ["generate-data", "--out", str(out / "roboseg_data"), "--chains",
                                    str(args.roboseg_chains), "--seed", str(args.seed + 1000),
                                    "--roboseg", str(out / "roboseg")])
    _stage("segmentation", ["train-segmentation", "--data", str(out / "roboseg"), "--out", str(out / "seg"),
                            "--iterations", str(args.seg_iterations), "--max-minutes", str(args.seg_minutes),
                            "--seed", seed])
    model = [x for kv in DEFAULT_MODEL for x in ("--model", kv)]
    _stage("behaviour cloning", ["train", "--data", str(out / "data"), "--out", str(out / "train"),
                                 "--segmentation-weights", str(out / "seg"), "--max-steps", str(args.train_steps),
                                 "--batch-size", str(args.batch_size), "--seed", seed, "--resume", *model])
    policy = out / "train" / "policy"
    if args.install:
        tmp = DEFAULT_CHECKPOINT.with_name(DEFAULT_CHECKPOINT.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(policy, tmp)
        shutil.rmtree(DEFAULT_CHECKPOINT, ignore_errors=True)
        tmp.rename(DEFAULT_CHECKPOINT)
        print(f"[train-default] installed {policy} -> {DEFAULT_CHECKPOINT}")
    else:
        print(f"[train-default] policy: {policy} (add --install to ship it as 'default')")
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="vla-agent train-default", description=HELP)
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
