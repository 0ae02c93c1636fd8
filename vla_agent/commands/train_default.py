"""``vla-agent train-default``: the whole pipeline that produces the shipped default policy.

Stages (each resumes where a killed run stopped):

1. ``generate-data --workers W``: scripted-expert chains in CALVIN's format (the BC dataset),
   recorded by W processes as seeded shards and merged;
2. ``generate-data --roboseg``: a few more chains exported as RoboSeg image/mask pairs;
3. ``train-segmentation``: the robot-arm Mask R-CNN on those renders (time-limited);
4. ``train-segmentation --scene-data``: the same network fine-tuned further with the auxiliary
   scene-state loss on the BC frames, so its image tokens also say where the blocks, the drawer
   and the door are (a robot-only network's tokens do not; see ``vla_agent.segmentation.scene_state``);
5. ``train``: behaviour cloning with the frozen segmentation features (cached);
6. DAgger rounds (``--dagger-chains``, one count per round; default one round of 40), each in three stages:
   ``generate-data --takeover-policy``: the latest policy starts every subtask of new chains and the
   expert takes over from wherever it went, so the new windows show how to recover from that
   policy's own mistakes; ``merge-data``: the demonstrations and every round's takeover data so far
   (hard links, so their cached features are reused); ``train --init-policy``: the latest policy
   fine-tuned on that aggregate;
7. ``train --init-policy``: final fine-tuning of the latest policy on the last aggregate, one stage per
   number of ``--final-train-steps`` (each a fresh warm-up + cosine schedule at ``--dagger-lr``, batch
   ``--final-batch-size``, into ``final``, ``final2``, ...; a single 0 skips it);
8. the final policy is written to ``<out>/policy`` with its action decoding temperature set
   (``--temperature``; sampling instead of greedy decoding, see ``VLAConfig.temperature``); the
   takeover stages above run the policies as trained (greedy), as they did for the shipped one;
9. with ``--install``: copy that policy into the package (``VLAPolicy.from_pretrained("default")``).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

HELP = "reproduce the shipped default policy: data -> segmentation -> behaviour cloning -> DAgger (-> install)"

# the default policy's transformer: small enough to train on 2 CPU cores and ship (< 50 MB)
# an odd bin count puts a bin centre on 0, so "do not move" in one dimension is exact
DEFAULT_MODEL = ("d_model=128", "n_heads=4", "n_encoder_layers=2", "n_decoder_layers=2", "n_bins=65",
                 "chunk_size=8", "n_action_steps=4", "dropout=0.1", "scene_weight=0.5")
DATA_SEED_OFFSET = 100  # demonstration shards use seeds seed+100, seed+101, ...
ROBOSEG_SEED_OFFSET = 1000
TAKEOVER_SEED_OFFSET = 200  # DAgger round r's shards use seeds seed+200+100(r-1), seed+201+100(r-1), ...
ROUND_SEED_STRIDE = 100
# decoding: sampling at 0.5 scored 0.630 on 200 chains, greedy decoding of the same weights 0.370
TEMPERATURE = 0.5
# two rounds (round 2: 80 chains, round 1's policy acting 10-100 steps), then 3,000 more steps of batch 32
# on the aggregate: 0.630 -> 0.840 on 200 chains (sampled at 0.5); 5,000 steps more: 0.935
DAGGER_CHAINS = (40, 80)
TAKEOVER_STEPS = ((10, 60), (10, 100))
FINAL_TRAIN_STEPS = (3000, 5000)
FINAL_BATCH_SIZE = 32


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train-default`` options to ``parser``."""
    a = parser.add_argument
    a("--out", type=Path, default=Path("runs/default"), help="pipeline folder")
    a("--chains", type=int, default=180, help="expert chains of 5 for behaviour cloning")
    a("--workers", type=int, default=2, help="processes recording the demonstrations")
    a("--roboseg-chains", type=int, default=3, help="expert chains rendered for segmentation")
    a("--seg-iterations", type=int, default=600, help="robot segmentation optimiser steps")
    a("--seg-minutes", type=float, default=15.0, help="wall-time cap of robot segmentation training")
    a("--scene-iterations", type=int, default=2400, help="scene-state fine-tuning optimiser steps")
    a("--scene-minutes", type=float, default=30.0, help="wall-time cap of scene-state fine-tuning")
    a("--train-steps", type=int, default=4400, help="behaviour-cloning optimiser steps")
    a("--batch-size", type=int, default=64, help="behaviour-cloning batch size")
    a("--dagger-chains", type=int, nargs="+", default=list(DAGGER_CHAINS),
      help="chains of each DAgger round (policy first, then the expert), one number per round; 0 = no round "
           f"(default {' '.join(map(str, DAGGER_CHAINS))})")
    a("--takeover-steps", type=int, nargs="+", default=[v for lo_hi in TAKEOVER_STEPS for v in lo_hi],
      metavar="LO HI", help="steps the policy acts in each subtask before the expert takes over: one LO HI pair "
      f"per round (extra ones unused) or one for all (default {' '.join(f'{lo} {hi}' for lo, hi in TAKEOVER_STEPS)})")
    a("--dagger-train-steps", type=int, default=2000, help="fine-tuning steps of each round")
    a("--dagger-lr", type=float, default=2e-4, help="peak learning rate of the fine-tuning")
    a("--final-train-steps", type=int, nargs="+", default=list(FINAL_TRAIN_STEPS),
      help="steps of each final fine-tuning stage on the last aggregate, each one restarting the learning-rate "
           f"schedule from the previous stage's policy; 0 = none (default {' '.join(map(str, FINAL_TRAIN_STEPS))})")
    a("--final-batch-size", type=int, default=FINAL_BATCH_SIZE, help="batch size of the final fine-tuning stages")
    a("--seed", type=int, default=0, help="seed of every stage")
    a("--temperature", type=float, default=TEMPERATURE,
      help=f"action decoding temperature of the final policy, 0 = greedy (default {TEMPERATURE})")
    a("--install", action="store_true", help="copy the trained policy to the package's checkpoints/default")


def _stage(name: str, argv: list[str]) -> None:
    from vla_agent.cli import main

    print(f"\n[train-default] {name}: vla-agent {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    code = main(argv)
    if code:
        raise SystemExit(f"[train-default] stage {name!r} failed with exit code {code}")
    print(f"[train-default] {name} done in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)


def _train_flags(args: argparse.Namespace, batch_size: int | None = None) -> list[str]:
    """The ``train`` flags every training stage shares (``batch_size`` None: ``--batch-size``)."""
    batch = args.batch_size if batch_size is None else batch_size
    return ["--batch-size", str(batch), "--seed", str(args.seed), "--resume", "--num-workers", "1",
            "--feature-batch-size", "32", "--eval-every", "500", "--checkpoint-every", "500", "--threads", "2"]


def _counts(values: list[int], flag: str) -> list[int]:
    """One count > 0 per stage; a single 0 means no stage. Bad values fail before any work starts."""
    counts = [] if list(values) == [0] else list(values)
    if any(c <= 0 for c in counts):
        raise SystemExit(f"[train-default] {flag} takes counts > 0 (or a single 0 for none), got {values}")
    return counts


def _dagger_rounds(args: argparse.Namespace) -> list[tuple[int, tuple[int, int]]]:
    """``(chains, (lo, hi))`` per DAgger round; ``--dagger-chains 0`` means none."""
    chains = _counts(args.dagger_chains, "--dagger-chains")
    flat = list(args.takeover_steps)
    if len(flat) % 2:
        raise SystemExit(f"[train-default] --takeover-steps takes LO HI pairs, got {len(flat)} numbers: {flat}")
    steps = list(zip(flat[::2], flat[1::2], strict=True))
    if len(steps) == 1:
        steps *= len(chains)
    if len(steps) < len(chains):
        raise SystemExit(f"[train-default] --takeover-steps needs one LO HI pair per round ({len(chains)}) or one "
                         f"for all, got {len(steps)}")
    return list(zip(chains, steps[:len(chains)], strict=True))


def _final_stages(args: argparse.Namespace) -> list[int]:
    """Steps of each final fine-tuning stage; ``--final-train-steps 0`` means none."""
    if args.final_batch_size < 1:
        raise SystemExit(f"[train-default] --final-batch-size: expected >= 1, got {args.final_batch_size}")
    return _counts(args.final_train_steps, "--final-train-steps")


def _finalise(trained: Path, dst: Path, temperature: float) -> Path:
    """Copy the trained policy folder to ``dst`` with ``VLAConfig.temperature`` set (atomically)."""
    from vla_agent.policy import VLAConfig

    config = dataclasses.replace(VLAConfig.load(trained), temperature=temperature)  # validated
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(trained, tmp)
    config.save(tmp)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    print(f"[train-default] final policy: {trained} with decoding temperature {temperature} -> {dst}", flush=True)
    return dst


def _round_dir(out: Path, name: str, r: int) -> Path:
    """Stage 1 keeps the plain name (``takeover``, ``final``), later ones number it (``takeover2``)."""
    return out / (name if r == 1 else f"{name}{r}")


def run(args: argparse.Namespace) -> int:
    """Run the stages in order; returns the exit status."""
    from vla_agent.pretrained import DEFAULT_CHECKPOINT

    out: Path = args.out
    seed = str(args.seed)
    rounds = _dagger_rounds(args)  # checked before hours of work
    final_stages = _final_stages(args)
    if not 0.0 <= args.temperature < float("inf"):
        raise SystemExit(f"[train-default] --temperature: expected a finite value >= 0, got {args.temperature}")
    _stage("demonstrations", ["generate-data", "--out", str(out / "data"), "--chains", str(args.chains),
                              "--seed", str(args.seed + DATA_SEED_OFFSET), "--workers", str(args.workers),
                              "--val-fraction", "0.05", "--no-progress"])
    _stage("segmentation renders", ["generate-data", "--out", str(out / "roboseg_data"), "--chains",
                                    str(args.roboseg_chains), "--seed", str(args.seed + ROBOSEG_SEED_OFFSET),
                                    "--roboseg", str(out / "roboseg")])
    _stage("robot segmentation", ["train-segmentation", "--data", str(out / "roboseg"), "--out",
                                  str(out / "seg_robot"), "--iterations", str(args.seg_iterations),
                                  "--max-minutes", str(args.seg_minutes), "--seed", seed])
    _stage("scene-state fine-tuning", ["train-segmentation", "--data", str(out / "roboseg"), "--out",
                                       str(out / "seg"), "--init-weights", str(out / "seg_robot"),
                                       "--scene-data", str(out / "data"), "--seg-every", "4",
                                       "--iterations", str(args.scene_iterations),
                                       "--max-minutes", str(args.scene_minutes), "--seed", seed])
    model = [x for kv in DEFAULT_MODEL for x in ("--model", kv)]
    _stage("behaviour cloning", ["train", "--data", str(out / "data"), "--out", str(out / "train"),
                                 "--segmentation-weights", str(out / "seg"), "--max-steps", str(args.train_steps),
                                 *_train_flags(args), *model])
    policy = out / "train" / "policy"
    merged = [str(out / "data")]
    data = out / "data"
    for r, (chains, steps) in enumerate(rounds, start=1):
        takeover, data, train = (_round_dir(out, name, r) for name in ("takeover", "data_dagger", "dagger"))
        seed_r = args.seed + TAKEOVER_SEED_OFFSET + ROUND_SEED_STRIDE * (r - 1)
        _stage(f"DAgger {r} demonstrations", ["generate-data", "--out", str(takeover), "--chains", str(chains),
                                              "--seed", str(seed_r), "--workers", str(args.workers),
                                              "--val-fraction", "0.05", "--takeover-policy", str(policy),
                                              "--takeover-steps", *map(str, steps), "--no-progress"])
        merged.append(str(takeover))
        _stage(f"DAgger {r} data merge", ["merge-data", *merged, "--out", str(data), "--no-progress"])
        _stage(f"DAgger {r} fine-tuning", ["train", "--data", str(data), "--out", str(train),
                                           "--init-policy", str(policy), "--max-steps", str(args.dagger_train_steps),
                                           "--lr", str(args.dagger_lr), *_train_flags(args)])
        policy = train / "policy"
    for k, steps in enumerate(final_stages, start=1):
        final = _round_dir(out, "final", k)
        _stage("final fine-tuning" if k == 1 else f"final fine-tuning {k}",
               ["train", "--data", str(data), "--out", str(final), "--init-policy", str(policy),
                "--max-steps", str(steps), "--lr", str(args.dagger_lr), *_train_flags(args, args.final_batch_size)])
        policy = final / "policy"
    policy = _finalise(policy, out / "policy", args.temperature)
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
