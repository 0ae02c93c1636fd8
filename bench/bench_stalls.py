"""Benchmark how often a policy stalls at the start of a chain: greedy decoding against sampling.

A memoryless policy that predicts "do not move" for an observation sees the same observation again
and can stand still for good. For each of the first ``--chains`` chains of the long-horizon
benchmark (the same starts, instructions and per-chain seeds as ``vla-agent eval``), the policy acts
for ``--steps`` steps on the chain's first instruction; a start where the TCP moved less than
``--min-move`` metres and turned less than ``--min-turn`` radians (largest wrapped euler-angle
change) counts as stalled. Turning in place is not a stall: the expert itself turns the gripper for
~40 steps before it reaches for the sliding door. Prints figures per temperature; asserts nothing.

    python bench/bench_stalls.py --policy default --temperature 0 0.5
    python bench/bench_stalls.py --policy runs/train/policy --chains 50 --steps 24
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np


def stalls(policy, env, jobs: list[dict], steps: int) -> list[tuple[str, float, float]]:
    """(task, TCP displacement in m, largest euler-angle change in rad) after ``steps`` steps of each
    job's first subtask."""
    from evaluation.rollout import set_env_task

    out = []
    for job in jobs:
        task, sentence = job["chain"][0], job["instructions"][0]
        obs, _ = env.reset(seed=job["seed"], options={"condition": job["condition"], "task": task})
        set_env_task(env, task, sentence)
        policy.reset()
        policy.seed(job["seed"])
        start = np.asarray(obs["robot_obs"][:6], dtype=np.float64)
        for _ in range(steps):
            obs, *_ = env.step(policy.act(obs, sentence))
        delta = np.asarray(obs["robot_obs"][:6], dtype=np.float64) - start
        turn = np.abs((delta[3:] + np.pi) % (2 * np.pi) - np.pi).max()
        out.append((task, float(np.linalg.norm(delta[:3])), float(turn)))
    return out


def main() -> None:
    import gymnasium as gym
    import torch

    import envs  # noqa: F401  (registers the embedded env)
    from envs.instructions import load_instruction_set
    from evaluation.execute import job_seed
    from evaluation.long_horizon import resolve_sequences
    from vla_agent import VLAPolicy

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policy", default="default", help="checkpoint folder or 'default'")
    ap.add_argument("--temperature", type=float, nargs="+", default=[0.0, 0.5], help="decoding temperatures")
    ap.add_argument("--num-sequences", type=int, default=200, help="benchmark chain list (as eval's)")
    ap.add_argument("--chains", type=int, default=200, help="first chains of that list to start")
    ap.add_argument("--steps", type=int, default=24, help="steps on each first instruction")
    ap.add_argument("--min-move", type=float, default=0.01, help="TCP displacement (m) below which a start stalled")
    ap.add_argument("--min-turn", type=float, default=0.05, help="... and TCP rotation (rad) below which it stalled")
    ap.add_argument("--seed", type=int, default=0, help="chain sampling seed (as eval's --seed)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    sentences = load_instruction_set("project")
    seqs = resolve_sequences(None, args.num_sequences, args.seed)[: args.chains]
    jobs = [{"seed": job_seed(args.seed, i), "condition": cond, "chain": list(chain),
             "instructions": [sentences[t] for t in chain]} for i, (cond, chain) in enumerate(seqs)]
    env = gym.make("vla_agent/PlayTable-v0")
    policy = VLAPolicy.from_pretrained(args.policy)
    print(f"policy {args.policy}: first instruction of {len(jobs)} chains, {args.steps} steps each, "
          f"stalled = TCP moved < {100 * args.min_move:.1f} cm and turned < {args.min_turn:g} rad")
    for temperature in args.temperature:
        policy.temperature = temperature
        t0 = time.perf_counter()
        res = stalls(policy, env, jobs, args.steps)
        where = [i for i, (_, moved, turned) in enumerate(res) if moved < args.min_move and turned < args.min_turn]
        stalled = collections.Counter(res[i][0] for i in where)
        print(f"temperature {temperature:g}: stalled {len(where)}/{len(res)} "
              f"(median move {100 * np.median([m for _, m, _ in res]):.1f} cm, {time.perf_counter() - t0:.0f} s)")
        for task, n in stalled.most_common():
            print(f"    {task}: {n} (chains {', '.join(str(i) for i in where if res[i][0] == task)})")
    env.close()


if __name__ == "__main__":
    main()
