"""PPO fine-tuning on one task of the embedded play table, with the VLA encoder as features extractor.

    python examples/ppo_finetune.py --policy runs/default/policy --task open_drawer --timesteps 4096
    tensorboard --logdir runs/ppo        # learning curves

Optionally warm-start the PPO actor from a teacher (``--warm-start expert`` or a VLA checkpoint) by
behaviour cloning on teacher rollouts before RL. Writes ``reward_curve.png`` next to the logs.
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default=None, help="VLA checkpoint for the features extractor "
                        "(None: an untrained VLA encoder, for a smoke run)")
    parser.add_argument("--task", default="open_drawer", help="task to fine-tune on")
    parser.add_argument("--timesteps", type=int, default=2048, help="PPO environment steps")
    parser.add_argument("--n-steps", type=int, default=256, help="PPO rollout length")
    parser.add_argument("--max-episode-steps", type=int, default=120, help="episode horizon")
    parser.add_argument("--trainable", action="store_true", help="fine-tune the VLA encoder too")
    parser.add_argument("--warm-start", default=None, help="expert | checkpoint: BC warm start of the actor")
    parser.add_argument("--warm-start-steps", type=int, default=512, help="teacher transitions to clone")
    parser.add_argument("--seed", type=int, default=0, help="seed of PPO and the env")
    parser.add_argument("--logdir", default="runs/ppo", help="TensorBoard + Monitor logs and the plot")
    args = parser.parse_args()

    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor

    from vla_agent.rl import VLAFeaturesExtractor, collect_demonstrations, make_rl_env, warm_start_from_teacher

    torch.manual_seed(args.seed)
    os.makedirs(args.logdir, exist_ok=True)
    env = Monitor(make_rl_env(task=args.task, max_episode_steps=args.max_episode_steps),
                  os.path.join(args.logdir, "monitor"))
    from vla_agent.policy import VLAPolicy

    if args.policy is None:
        from vla_agent.segmentation import SegmentationModel

        print("no --policy given: using an UNTRAINED VLA encoder (smoke run)")
        vla = VLAPolicy.create(SegmentationModel(), d_model=128, n_encoder_layers=2, n_decoder_layers=1)
    else:
        vla = VLAPolicy.from_pretrained(args.policy)
    try:
        import tensorboard  # noqa: F401

        tb = args.logdir
    except ImportError:
        tb = None
        print("tensorboard not installed: pip install 'vla-agent[tensorboard]' for TensorBoard logs")
    model = PPO(
        "MultiInputPolicy", env, n_steps=args.n_steps, batch_size=64, seed=args.seed, device="cpu",
        policy_kwargs=dict(features_extractor_class=VLAFeaturesExtractor,
                           features_extractor_kwargs=dict(policy=vla, trainable=args.trainable)),
        tensorboard_log=tb, verbose=1,
    )
    if args.warm_start:
        # a separate env, so the Monitor's reward curve shows PPO's episodes only
        demo_env = make_rl_env(task=args.task, max_episode_steps=args.max_episode_steps)
        if args.warm_start == "expert":
            from envs.experts import ScriptedExpert

            teacher = ScriptedExpert(demo_env.unwrapped, seed=args.seed)
        else:
            teacher = VLAPolicy.from_pretrained(args.warm_start)
        obs, acts = collect_demonstrations(demo_env, teacher, args.warm_start_steps, seed=args.seed, progress=True)
        demo_env.close()
        losses = warm_start_from_teacher(model, obs, acts, epochs=10)
        print(f"BC warm start: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    model.learn(args.timesteps, progress_bar=False)
    model.save(os.path.join(args.logdir, "ppo_model"))
    plot_rewards(os.path.join(args.logdir, "monitor.monitor.csv"), os.path.join(args.logdir, "reward_curve.png"))


def plot_rewards(monitor_csv: str, out_png: str) -> None:
    """Episode return (and its moving average) against environment steps, from SB3's Monitor CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.genfromtxt(monitor_csv, delimiter=",", names=True, skip_header=1)
    data = np.atleast_1d(data)
    if data.size == 0:
        print("no finished episode to plot")
        return
    steps = np.cumsum(data["l"])
    window = max(1, min(10, data.size))
    smooth = np.convolve(data["r"], np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, data["r"], ".", alpha=0.4, label="episode return")
    ax.plot(steps[window - 1 :], smooth, "-", label=f"moving mean ({window})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return (1 = task solved)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    print(f"reward curve: {out_png}")


if __name__ == "__main__":
    main()
