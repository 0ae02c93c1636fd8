"""Trace the first subtask of a benchmark chain: where a policy took the arm, next to the expert.

Replays the chain's first instruction from its start (the same condition, instruction and per-chain
seed as ``vla-agent eval``, so a sampling policy draws the same actions as in that run) and prints,
every ``--every`` steps, the TCP position, gripper width and the scene entries of the task's object
(door/drawer/button/switch joint, or the named block's position). Then the same for the scripted
expert. Prints figures; asserts nothing.

    python bench/trace_subtask.py --policy default --chain 0
    python bench/trace_subtask.py --policy runs/train/policy --chain 5 --num-sequences 200 --every 10
"""

from __future__ import annotations

import argparse

import numpy as np

from envs import constants as C


def object_state(task: str, scene: np.ndarray) -> str:
    """The scene entries of the object ``task`` is about (as ``evaluation.failures`` sees it), as text."""
    from evaluation.failures import target_blocks, target_joint

    j = target_joint(task)
    if j is not None:
        return f"scene_obs[{j}] (joint) {scene[j]:.3f}"
    return "  ".join(f"{b} {np.round(scene[C.BLOCK_SLICES[b]][:3], 3)}" for b in target_blocks(task))


def trace(env, actor, job: dict, max_steps: int, every: int) -> None:
    """Run ``actor`` (reset(), act(obs, sentence)) on the job's first subtask, printing every ``every`` steps."""
    from evaluation.rollout import set_env_task

    task, sentence = job["chain"][0], job["instructions"][0]
    obs, _ = env.reset(seed=job["seed"], options={"condition": job["condition"], "task": task})
    set_env_task(env, task, sentence)
    actor.reset()
    for t in range(1, max_steps + 1):
        obs, _r, _te, _tr, info = env.step(np.asarray(actor.act(obs, sentence), dtype=np.float32))
        done = bool(info.get("is_success"))
        if t % every == 0 or done or t == max_steps:
            robot = obs[C.ROBOT_OBS]
            print(f"  {t:4d}  tcp {np.round(robot[C.TCP_POS], 3)}  gripper {robot[6]:.3f}  "
                  f"{object_state(task, obs[C.SCENE_OBS])}" + ("  SUCCESS" if done else ""))
        if done:
            return
    print("  not solved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="default", help="checkpoint folder or 'default'")
    parser.add_argument("--chain", type=int, default=0, help="index of the chain in the benchmark list")
    parser.add_argument("--num-sequences", type=int, default=200, help="length of the benchmark list (as in eval)")
    parser.add_argument("--seed", type=int, default=0, help="eval seed (chain list and per-chain seeds)")
    parser.add_argument("--temperature", type=float, default=None, help="override the checkpoint's temperature")
    parser.add_argument("--max-steps", type=int, default=C.EP_LEN)
    parser.add_argument("--every", type=int, default=15, help="print every N steps")
    args = parser.parse_args()

    import gymnasium as gym

    import envs  # noqa: F401  (registers the envs)
    from envs.experts import ScriptedExpert
    from envs.instructions import load_instruction_set
    from evaluation.execute import job_seed
    from evaluation.sequences import get_sequences
    from vla_agent.policy import VLAPolicy

    cond, chain = get_sequences(args.num_sequences, args.seed)[args.chain]
    sentences = load_instruction_set("project")
    job = {"condition": cond, "chain": list(chain), "instructions": [sentences[t] for t in chain],
           "seed": job_seed(args.seed, args.chain)}
    env = gym.make("vla_agent/PlayTable-v0")
    policy = VLAPolicy.from_pretrained(args.policy)
    if args.temperature is not None:
        policy.temperature = args.temperature
    policy.seed(job["seed"])
    print(f"chain {args.chain}: {chain[0]!r} ({job['instructions'][0]!r}), condition {cond}")
    print(f"policy {args.policy} (temperature {policy.temperature}):")
    trace(env, policy, job, args.max_steps, args.every)
    print("scripted expert:")
    trace(env, ScriptedExpert(env.unwrapped, task=chain[0], seed=0), job, args.max_steps, args.every)
    env.close()


if __name__ == "__main__":
    main()
