"""``vla-agent generate-data``: record scripted-expert demonstrations in CALVIN's dataset format."""

from __future__ import annotations

import argparse
import json

from envs import constants as C

HELP = "Record scripted-expert demonstrations in the embedded play table, in CALVIN's dataset format."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the subcommand's arguments."""
    parser.add_argument("--out", required=True, help="dataset folder (training/ and validation/ inside)")
    parser.add_argument("--chains", type=int, default=10, help="task chains to record (default 10)")
    parser.add_argument("--chain-len", type=int, default=C.CHAIN_LEN, help="tasks per chain (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="share of chains written to validation/ (default 0.1)"
    )
    parser.add_argument("--max-steps", type=int, default=C.EP_LEN, help="env steps per subtask (default 360)")
    parser.add_argument(
        "--tasks", default=None, help="comma-separated task names to draw chains from (default: all 34)"
    )
    parser.add_argument("--depth", action="store_true", help="also record depth_static / depth_gripper")
    parser.add_argument(
        "--annotations",
        default=None,
        help="CALVIN-format training annotation YAML (task: [sentences]); "
        "default: the project's own paraphrases",
    )
    parser.add_argument(
        "--val-annotations",
        default=None,
        help="CALVIN-format validation YAML for validation/lang_annotations/embeddings.npy; "
        "default: the project's held-out evaluation sentences",
    )
    parser.add_argument(
        "--text-encoder",
        default=None,
        help="transformers model id or folder for the sentence embeddings "
        "(default: offline all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--roboseg", default=None, help="also export RoboSeg image/colour-mask PNG pairs here"
    )
    parser.add_argument("--no-compress", action="store_true", help="np.savez instead of np.savez_compressed")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel processes; >1 records seeded shards (seed, seed+1, ...) under "
                        "OUT/shards and merges them into OUT (default 1)")
    parser.add_argument("--takeover-policy", default=None,
                        help="policy checkpoint (folder or 'default') that acts first in every subtask before "
                        "the expert takes over: DAgger-style recovery demonstrations (default: expert only)")
    parser.add_argument("--takeover-steps", type=int, nargs=2, default=[10, 60], metavar=("LO", "HI"),
                        help="the policy acts for a uniform number of steps in LO..HI (default 10 60)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the generator; prints a one-line JSON summary. Returns the exit code."""
    from vla_agent.data.generate import GenerateConfig, generate_dataset

    config = GenerateConfig(
        out=args.out,
        chains=args.chains,
        chain_len=args.chain_len,
        seed=args.seed,
        val_fraction=args.val_fraction,
        max_steps=args.max_steps,
        depth=args.depth,
        annotations=args.annotations,
        val_annotations=args.val_annotations,
        text_encoder=args.text_encoder,
        roboseg=args.roboseg,
        tasks=[t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None,
        compress=not args.no_compress,
        takeover_policy=args.takeover_policy,
        takeover_steps=list(args.takeover_steps),
        progress=not args.no_progress,
    )
    if args.workers > 1:
        from vla_agent.data.parallel import generate_sharded

        summary = generate_sharded(config, args.workers)
    else:
        summary = generate_dataset(config)
    brief = {
        k: summary[k] for k in ("chains", "frames", "windows", "seconds", "frames_per_s", "frames_this_run")
    }
    print(json.dumps(brief))
    return 0
