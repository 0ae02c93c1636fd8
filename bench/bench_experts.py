"""Success table of the scripted experts on the embedded play table.

Runs every requested task from ``--seeds`` seeded valid start states
(``env.reset(seed=s, options={"task": name})``), rolls the expert for at most CALVIN's 360 steps,
and prints per task the success rate, the mean steps to success and the time per expert call
against the time per env step. Figures only; nothing is asserted.

    python bench/bench_experts.py                      # all 34 tasks x 20 seeds (slow)
    python bench/bench_experts.py --quick              # 11 tasks (one per category) x 3 seeds
    python bench/bench_experts.py --tasks open_drawer,stack_block --seeds 5
    python bench/bench_experts.py --chains 50 --seed-offset 100   # CALVIN-style 5-task chains
    python bench/bench_experts.py --chain-video /tmp/expert_chain.gif   # one 5-task chain, rendered
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from envs.constants import EP_LEN, TASK_NAMES

# one task per CALVIN task category (SPEC §5.2), used by --quick and by the tests
CATEGORY_SAMPLE: tuple[str, ...] = (
    "rotate_red_block_left", "move_slider_left", "open_drawer", "lift_blue_block_table",
    "lift_pink_block_slider", "lift_red_block_drawer", "place_in_slider", "turn_on_led",
    "push_into_drawer", "stack_block", "unstack_block",
)


@dataclass
class TaskResult:
    """Outcome of one task over all seeds."""

    task: str
    successes: list[bool] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)  # steps to success, successful runs only
    failed_seeds: list[int] = field(default_factory=list)
    expert_s: float = 0.0
    env_s: float = 0.0
    calls: int = 0


def make_env(render: bool = False):  # noqa: ANN201 - gymnasium env
    """The play-table env, without cameras unless ``render``."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers vla_agent/PlayTable-v0)

    return gym.make("vla_agent/PlayTable-v0", cameras=("static",) if render else ())


def run_task(env, task: str, seed: int, max_steps: int, result: TaskResult) -> None:  # noqa: ANN001
    """One seeded episode of ``task`` with the expert; appends to ``result``."""
    from envs.experts import ScriptedExpert

    obs, info = env.reset(seed=seed, options={"task": task})
    expert = ScriptedExpert(env, task=task, seed=seed)
    expert.reset()
    instruction = info.get("instruction", task)
    for t in range(1, max_steps + 1):
        t0 = time.perf_counter()
        action = expert.act(obs, instruction)
        t1 = time.perf_counter()
        obs, _reward, terminated, _truncated, info = env.step(action)
        t2 = time.perf_counter()
        result.expert_s += t1 - t0
        result.env_s += t2 - t1
        result.calls += 1
        if info.get("is_success", False) or task in info.get("completed_tasks", ()):
            result.successes.append(True)
            result.steps.append(t)
            return
        if terminated:
            break
    result.successes.append(False)
    result.failed_seeds.append(seed)


def print_table(results: list[TaskResult], max_steps: int) -> None:
    """Per-task success rate and mean steps to success."""
    print(f"\n{'task':<26} {'success':>9} {'rate':>6} {'mean steps':>11} {'expert ms':>10} {'env ms':>8}  "
          "failed seeds")
    for r in results:
        n, k = len(r.successes), sum(r.successes)
        steps = f"{np.mean(r.steps):.0f}" if r.steps else "-"
        ems = 1e3 * r.expert_s / max(r.calls, 1)
        sms = 1e3 * r.env_s / max(r.calls, 1)
        rate = 100 * k / max(n, 1)
        print(f"{r.task:<26} {k:>4}/{n:<4} {rate:>5.0f}% {steps:>11} {ems:>10.2f} {sms:>8.2f}  {r.failed_seeds[:8]}")
    all_n = sum(len(r.successes) for r in results)
    all_k = sum(sum(r.successes) for r in results)
    below = [r.task for r in results if sum(r.successes) < 0.9 * len(r.successes)]
    print(f"\noverall {all_k}/{all_n} = {100 * all_k / max(all_n, 1):.1f}% within {max_steps} steps; "
          f"tasks below 90%: {below or 'none'}")


def sample_chain(rng: np.random.Generator) -> tuple[dict, list[str]]:
    """A CALVIN-style chain: a random initial condition and 5 tasks that chain validly."""
    from envs.symbolic import check_sequence, initial_conditions

    conds = initial_conditions()
    while True:
        cond = conds[int(rng.integers(len(conds)))]
        chain = [str(t) for t in rng.choice(TASK_NAMES, 5, replace=False)]
        if check_sequence(cond, chain):
            return cond, chain


def run_chains(n: int, seed: int) -> None:
    """Roll the expert through ``n`` 5-task chains (no reset between subtasks) and print CALVIN's metrics."""
    from tqdm import tqdm

    from envs.experts import ScriptedExpert

    env = make_env(render=False)
    lengths: list[int] = []
    per_task: dict[str, list[int]] = {}
    for k in tqdm(range(n), file=sys.stderr, desc="chains"):
        cond, chain = sample_chain(np.random.default_rng(seed + k))
        obs, _ = env.reset(seed=seed + k, options={"condition": cond, "task": chain[0]})
        expert = ScriptedExpert(env, seed=seed + k)
        done = 0
        for i, task in enumerate(chain):
            if i > 0:
                env.unwrapped.set_task(task=task)
            expert.reset()
            ok = False
            for _ in range(EP_LEN):
                obs, _r, _term, _trunc, info = env.step(expert.act(obs, env.unwrapped.instruction))
                if info["is_success"]:
                    ok = True
                    break
            per_task.setdefault(task, [0, 0])
            per_task[task][0] += int(ok)
            per_task[task][1] += 1
            if not ok:
                print(f"chain {seed + k}: failed at subtask {i + 1} {task!r} of {chain}")
                break
            done += 1
        lengths.append(done)
    env.close()
    arr = np.asarray(lengths)
    rates = " ".join(f"{100 * float(np.mean(arr >= j)):.0f}%" for j in range(1, 6))
    print(f"\n{n} chains (seeds {seed}..{seed + n - 1}): success 1..5 in a row: {rates}; avg len {arr.mean():.2f}")
    below = {t: f"{a}/{b}" for t, (a, b) in sorted(per_task.items()) if a < b}
    print(f"subtasks that failed at least once: {below or 'none'}")


def chain_video(path: str, seed: int) -> None:
    """Roll the expert through one valid 5-task chain with cameras on and save a GIF/MP4."""
    import imageio.v2 as imageio

    from envs.experts import ScriptedExpert

    cond, chain = sample_chain(np.random.default_rng(seed))
    env = make_env(render=True)
    obs, info = env.reset(seed=seed, options={"condition": cond, "task": chain[0]})
    expert = ScriptedExpert(env, seed=seed)
    frames = [obs["rgb_static"]]
    print(f"chain from {cond}: {chain}")
    for i, task in enumerate(chain):
        if i > 0:
            env.unwrapped.set_task(task=task)
        expert.reset()
        ok = False
        t = 0
        for t in range(EP_LEN):  # noqa: B007 - t is reported below
            obs, _r, _terminated, _tr, info = env.step(expert.act(obs, env.unwrapped.instruction))
            frames.append(obs["rgb_static"])
            if info.get("is_success", False):
                ok = True
                break
        print(f"  {task}: {'success' if ok else 'FAILED'} after {t + 1} steps")
        if not ok:
            break
    imageio.mimsave(path, frames[::2], duration=1 / 15) if path.endswith(".gif") else imageio.mimsave(
        path, frames, fps=30)
    print(f"wrote {len(frames)} frames to {path}")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the benchmark, print the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all'")
    p.add_argument("--seeds", type=int, default=20, help="seeded start states per task (seeds 0..N-1)")
    p.add_argument("--seed-offset", type=int, default=0, help="first seed")
    p.add_argument("--max-steps", type=int, default=EP_LEN, help="step budget per episode (CALVIN: 360)")
    p.add_argument("--quick", action="store_true", help="11 tasks (one per category) x 3 seeds")
    p.add_argument("--chain-video", default=None, help="instead: render one 5-task chain to this .gif/.mp4")
    p.add_argument("--chains", type=int, default=0, help="instead: run this many 5-task chains")
    args = p.parse_args(argv)

    import pybullet  # noqa: F401

    print(f"args: {vars(args)}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, platform {platform.platform()}")
    if args.chain_video:
        chain_video(args.chain_video, args.seed_offset)
        return
    if args.chains:
        run_chains(args.chains, args.seed_offset)
        return
    if args.quick:
        tasks, n_seeds = list(CATEGORY_SAMPLE), min(args.seeds, 3)
    elif args.tasks == "all":
        tasks, n_seeds = list(TASK_NAMES), args.seeds
    else:
        tasks, n_seeds = [t.strip() for t in args.tasks.split(",") if t.strip()], args.seeds
    unknown = [t for t in tasks if t not in TASK_NAMES]
    if unknown:
        raise ValueError(f"--tasks: expected CALVIN task names, got unknown {unknown}")
    seeds = list(range(args.seed_offset, args.seed_offset + n_seeds))
    print(f"tasks: {len(tasks)}, seeds: {seeds}")

    from tqdm import tqdm

    env = make_env(render=False)
    results = []
    with tqdm(total=len(tasks) * len(seeds), file=sys.stderr, desc="episodes") as bar:
        for task in tasks:
            r = TaskResult(task)
            for s in seeds:
                run_task(env, task, s, args.max_steps, r)
                bar.update(1)
            results.append(r)
    env.close()
    print_table(results, args.max_steps)


if __name__ == "__main__":
    main()
