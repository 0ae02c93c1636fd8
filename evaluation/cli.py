"""``vla-agent eval``: CALVIN's long-horizon benchmark or the single-task runner from the command line.

Examples::

    vla-agent eval --policy random --num-sequences 20 --out runs/eval_random
    vla-agent eval --policy expert --workers 2 --video 3 --out runs/eval_expert
    vla-agent eval --policy runs/train/checkpoint --env calvin --dataset-path task_D_D/validation \\
        --instructions path/to/new_playtable_validation.yaml --out runs/eval_calvin
    vla-agent eval --policy expert --single-task --episodes-per-task 5 --out runs/single

A killed run restarted with the same arguments resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envs.constants import EP_LEN, NUM_SEQUENCES, TASK_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``eval`` options to ``parser``."""
    parser.add_argument("--policy", default="random",
                        help="'expert' (scripted, privileged), 'random', or a checkpoint folder "
                             "(VLAPolicy.from_pretrained) (default: random)")
    parser.add_argument("--num-sequences", type=int, default=NUM_SEQUENCES,
                        help=f"chains of 5 instructions (default: CALVIN's {NUM_SEQUENCES})")
    parser.add_argument("--sequences", type=Path, default=None,
                        help="frozen chain list (JSON from evaluation.save_sequences) instead of sampling")
    parser.add_argument("--save-sequences", type=Path, default=None,
                        help="also write the chain list used to this JSON file")
    parser.add_argument("--seed", type=int, default=0,
                        help="chain sampling seed (0 = CALVIN's list) and base of per-chain seeds")
    parser.add_argument("--workers", type=int, default=1, help="parallel workers, each with its own env and policy")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local processes or a Ray cluster (pip install 'vla-agent[ray]')")
    parser.add_argument("--ray-address", default=None, help="Ray cluster address (default: ray.init()'s)")
    parser.add_argument("--out", type=Path, default=Path("runs/eval"), help="output folder (default: runs/eval)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard results in --out made with other arguments (otherwise refused)")
    parser.add_argument("--env", choices=("embedded", "calvin"), default="embedded",
                        help="embedded play table, or the real calvin_env simulator")
    parser.add_argument("--dataset-path", default=None,
                        help="CALVIN split folder (e.g. task_D_D/validation) for --env calvin")
    parser.add_argument("--cameras", nargs="*", default=None, choices=("static", "gripper"),
                        help="cameras to render (default: the env's, both); give none ('--cameras') for "
                             "image-free runs of state-based policies such as the expert or random")
    parser.add_argument("--renderer", default=None, help="env renderer option (e.g. 'tiny' or 'egl'), if any")
    parser.add_argument("--instructions", default="project",
                        help="'project' (held-out sentences) or a YAML in CALVIN's validation format")
    parser.add_argument("--max-steps", type=int, default=EP_LEN, help=f"steps per subtask (default {EP_LEN})")
    parser.add_argument("--video", type=int, default=0, metavar="N", help="record videos of the first N chains")
    parser.add_argument("--single-task", action="store_true", help="run the single-task evaluation instead")
    parser.add_argument("--episodes-per-task", type=int, default=10, help="single-task episodes per task")
    parser.add_argument("--tasks", nargs="+", default=None, choices=TASK_NAMES, metavar="TASK",
                        help="single-task: only these tasks")
    parser.add_argument("--device", default=None, help="torch device for a checkpoint policy")
    parser.add_argument("--temperature", type=float, default=None,
                        help="action decoding temperature of a checkpoint policy: 0 greedy, above 0 sampling "
                             "(default: the checkpoint's own)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the evaluation described by ``args``; print the report; return the exit status."""
    from evaluation.env_factory import env_factory_from_spec
    from evaluation.policies import policy_factory_from_spec
    from evaluation.report import format_chain_table, format_task_table

    if args.env == "calvin" and args.dataset_path is None:
        print("error: --env calvin needs --dataset-path (a CALVIN split folder)", file=sys.stderr)
        return 2
    try:
        env_kwargs = {"dataset_path": args.dataset_path, "renderer": args.renderer,
                      "cameras": None if args.cameras is None else tuple(args.cameras)}
        env_factory = env_factory_from_spec(args.env, **env_kwargs)
        policy_factory = policy_factory_from_spec(args.policy, seed=args.seed, device=args.device,
                                                  temperature=args.temperature)
        common = dict(
            env_factory=env_factory, seed=args.seed, instructions=args.instructions, max_steps=args.max_steps,
            workers=args.workers, backend=args.backend, out_dir=args.out, num_videos=args.video,
            overwrite=args.overwrite, progress=not args.no_progress, ray_address=args.ray_address,
        )
        if args.single_task:
            from evaluation.single_task import evaluate_single_tasks

            res = evaluate_single_tasks(policy_factory, tasks=args.tasks or TASK_NAMES,
                                        episodes_per_task=args.episodes_per_task, **common)
            print(f"Single-task evaluation: {res['provenance']['policy']}")
            print(f"episodes: {res['num_episodes']}   success rate: {100 * res['success_rate']:.1f}%")
            print(format_task_table(res["task_info"]))
        else:
            from evaluation.long_horizon import evaluate_long_horizon, resolve_sequences

            seqs = resolve_sequences(args.sequences, args.num_sequences, args.seed)
            if args.save_sequences is not None:
                from evaluation.sequences import save_sequences

                save_sequences(seqs, args.save_sequences, seed=args.seed)
            res = evaluate_long_horizon(policy_factory, sequences=seqs, num_sequences=len(seqs), **common)
            print(format_chain_table(res, title=f"Long-horizon evaluation: {res['provenance']['policy']}"))
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"results: {res['files']['results']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m evaluation.cli ...``."""
    parser = argparse.ArgumentParser(prog="vla-agent eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
