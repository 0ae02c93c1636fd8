"""``vla-agent demo``: the main job on the embedded default.

Runs CALVIN's long-horizon benchmark on the embedded play table for a modest number of chains with
the shipped default policy (when installed), the scripted expert (upper bound) and a random policy
(lower bound); prints a CALVIN-style table, writes a comparison plot, each run's own report, and one
captioned video of a chain.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` options to ``parser``."""
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    parser.add_argument("--num-sequences", type=int, default=10, help="chains of 5 instructions per policy")
    parser.add_argument("--workers", type=int, default=2, help="parallel workers per evaluation")
    parser.add_argument("--policy", default="default",
                        help="checkpoint folder or 'default' (the shipped policy); 'none' skips it")
    parser.add_argument("--seed", type=int, default=0, help="chain sampling seed (0: CALVIN's list)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _evaluate(name: str, factory: object, out: Path, args: argparse.Namespace, cameras: tuple[str, ...] | None,
              videos: int) -> dict:
    from evaluation import evaluate_long_horizon
    from evaluation.env_factory import env_factory_from_spec

    env_factory = env_factory_from_spec("embedded", cameras=cameras)
    print(f"\n== {name}: {args.num_sequences} chains, {args.workers} workers ==", flush=True)
    t0 = time.perf_counter()
    res = evaluate_long_horizon(
        factory, env_factory, num_sequences=args.num_sequences, seed=args.seed, workers=args.workers,
        out_dir=out / name, num_videos=videos, progress=not args.no_progress, overwrite=True,
    )
    res["wall_time_s"] = time.perf_counter() - t0
    print(f"{name}: avg. len {res['avg_seq_len']:.2f} in {res['wall_time_s']:.0f} s", flush=True)
    return res


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    from evaluation.compare import format_comparison, plot_comparison
    from evaluation.policies import ExpertPolicyFactory, PretrainedPolicyFactory, RandomPolicyFactory
    from vla_agent.pretrained import resolve_checkpoint

    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, object, tuple[str, ...] | None]] = []
    policy_path = None
    if args.policy != "none":
        try:
            policy_path = resolve_checkpoint(args.policy)
        except FileNotFoundError as err:
            print(f"note: {err}; showing the expert and random baselines only")
    if policy_path is not None:
        runs.append(("vla_policy", PretrainedPolicyFactory(policy_path), None))
    # state-based baselines need no images, except the run that records the video
    runs.append(("scripted_expert", ExpertPolicyFactory(seed=args.seed), None if policy_path is None else ()))
    runs.append(("random", RandomPolicyFactory(seed=args.seed), ()))
    results = {}
    for i, (name, factory, cameras) in enumerate(runs):
        results[name] = _evaluate(name, factory, args.out, args, cameras, videos=1 if i == 0 else 0)

    table = format_comparison(results)
    plot = plot_comparison(results, args.out / "comparison.png",
                           title=f"Embedded CALVIN play table, {args.num_sequences} chains of 5")
    summary = {name: {k: res[k] for k in ("avg_seq_len", "chain_sr", "num_sequences", "wall_time_s")}
               for name, res in results.items()}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    (args.out / "summary.txt").write_text(table + "\n")
    videos = sorted((args.out / runs[0][0]).glob("videos/*"))
    print("\nCALVIN long-horizon benchmark on the embedded play table")
    print(table)
    print(f"\nplot:  {plot}")
    if videos:
        print(f"video: {videos[0]}")
    print(f"per-run reports: {args.out}/<policy>/results.json, results.png, chains.jsonl")
    return 0
