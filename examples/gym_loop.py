"""A plain Gymnasium loop: one instruction, one policy, ``policy.act(obs, instruction)`` every step.

    python examples/gym_loop.py --policy expert --task open_drawer
    python examples/gym_loop.py --policy runs/default/policy --task turn_on_led --video runs/loop.mp4
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers vla_agent/PlayTable-v0)


def load_policy(spec: str, env: gym.Env):
    """``expert`` (the scripted expert), ``random`` or a VLAPolicy checkpoint folder."""
    if spec == "expert":
        from envs.experts import ScriptedExpert

        return ScriptedExpert(env.unwrapped)
    if spec == "random":
        from evaluation import RandomPolicy

        return RandomPolicy(seed=0)
    from vla_agent import VLAPolicy

    return VLAPolicy.from_pretrained(spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="expert", help="expert | random | checkpoint folder")
    parser.add_argument("--task", default="open_drawer", help="one of envs.constants.TASK_NAMES")
    parser.add_argument("--seed", type=int, default=0, help="reset seed (start state)")
    parser.add_argument("--video", default=None, help="write the static camera to this .mp4/.gif")
    args = parser.parse_args()

    env = gym.make("vla_agent/PlayTable-v0", render_mode="rgb_array")
    policy = load_policy(args.policy, env)
    obs, info = env.reset(seed=args.seed, options={"task": args.task})
    policy.reset()
    instruction = info["instruction"]
    frames = [env.render()]
    print(f"instruction: {instruction!r}")
    steps, done = 0, False
    while not done:
        action = policy.act(obs, instruction)
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        done = terminated or truncated
        if args.video:
            frames.append(env.render())
    print(f"steps: {steps}  success: {info['is_success']}  completed: {info['completed_tasks']}")
    if args.video:
        import imageio.v2 as imageio

        imageio.mimsave(args.video, [np.asarray(f) for f in frames], fps=30)
        print(f"video: {args.video}")
    env.close()


if __name__ == "__main__":
    main()
