"""Benchmark of the long-horizon evaluation: chains per hour at 1 and K workers, runner overhead per step.

Prints figures (never asserts on time). Examples::

    python bench/bench_eval.py --quick                         # random policy, image-free, tiny sizes
    python bench/bench_eval.py --policy expert --num-sequences 8 --workers 1 2
    python bench/bench_eval.py --policy random --cameras static gripper --max-steps 60

Chains per hour depend on the policy: a random policy fails its first subtask and always uses the
whole budget (``max_steps`` steps per chain); a good policy runs up to 5 subtasks per chain.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from envs.constants import EP_LEN  # noqa: E402
from evaluation import EnvFactory, evaluate_long_horizon, get_sequences, policy_factory_from_spec  # noqa: E402
from evaluation.report import package_versions  # noqa: E402
from evaluation.rollout import run_subtask  # noqa: E402


def bench_chains(args: argparse.Namespace, env_factory: EnvFactory) -> list[dict]:
    rows = []
    for workers in args.workers:
        policy_factory = policy_factory_from_spec(args.policy, seed=args.seed)
        t0 = time.perf_counter()
        res = evaluate_long_horizon(policy_factory, env_factory, num_sequences=args.num_sequences, seed=args.seed,
                                    max_steps=args.max_steps, workers=workers, progress=False, n_boot=10)
        wall = time.perf_counter() - t0
        steps = res["provenance"]["total_steps"]
        rows.append({
            "workers": workers, "chains": res["num_sequences"], "wall_s": round(wall, 2),
            "chains_per_hour": round(3600 * res["num_sequences"] / wall, 1),
            "env_steps_per_s": round(steps / wall, 1), "avg_seq_len": res["avg_seq_len"],
        })
        print(f"workers={workers}: {rows[-1]}", flush=True)
    return rows


def bench_overhead(args: argparse.Namespace, env_factory: EnvFactory) -> dict:
    """Per-step time of bare ``env.step`` vs the runner's subtask loop, same actions and state."""
    from evaluation.policies import RandomPolicy

    env = env_factory()
    cond, chain = get_sequences(1, seed=args.seed)[0]
    n = args.overhead_steps

    def fresh():
        obs, _ = env.reset(seed=args.seed, options={"condition": cond, "task": chain[0]})
        return obs

    # bare: precomputed actions, nothing else
    policy = RandomPolicy(seed=args.seed)
    actions = [policy.act({}, "") for _ in range(n)]
    fresh()
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    bare = (time.perf_counter() - t0) / n
    # policy alone
    policy = RandomPolicy(seed=args.seed)
    t0 = time.perf_counter()
    for _ in range(n):
        policy.act({}, "")
    act = (time.perf_counter() - t0) / n
    # the runner's loop (a task the random policy will not finish, so all n steps run)
    obs = fresh()
    policy = RandomPolicy(seed=args.seed)
    t0 = time.perf_counter()
    ok, steps, _ = run_subtask(env, policy, obs, "unstack_block" if "unstack_block" not in chain else chain[0],
                               "remove the upper cube from the tower", n)
    runner = (time.perf_counter() - t0) / steps
    env.close()
    return {
        "steps": n, "bare_step_ms": round(1e3 * bare, 3), "policy_act_ms": round(1e3 * act, 3),
        "runner_step_ms": round(1e3 * runner, 3),
        "runner_overhead_ms": round(1e3 * (runner - bare - act), 3),
        "overhead_pct_of_step": round(100 * (runner - bare - act) / bare, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default="random", help="random | expert | checkpoint path")
    p.add_argument("--num-sequences", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=EP_LEN)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--cameras", nargs="*", default=[], choices=("static", "gripper"),
                   help="cameras to render (default: none, image-free)")
    p.add_argument("--overhead-steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny sizes: 4 chains, 60 steps, 100 overhead steps")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.num_sequences, args.max_steps, args.overhead_steps = 4, 60, 100
    env_factory = EnvFactory(kwargs={"cameras": tuple(args.cameras)})
    print(f"args: {vars(args)}")
    print(f"versions: {package_versions()}  cpu_count: {os.cpu_count()}  "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    overhead = bench_overhead(args, env_factory)
    print(f"overhead: {overhead}", flush=True)
    rows = bench_chains(args, env_factory)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "overhead": overhead, "chains": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
