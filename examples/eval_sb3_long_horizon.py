"""Evaluate a Stable-Baselines3 model on CALVIN's long-horizon chains with the project's runner.

    python examples/eval_sb3_long_horizon.py --model runs/ppo/ppo_model.zip --num-sequences 10

The SB3 model must have been trained on :func:`vla_agent.rl.make_rl_env` observations (with the
same ``--image-size``); :class:`vla_agent.rl.SB3PolicyAdapter` adds the instruction embedding.
"""

from __future__ import annotations

import argparse


class SB3Factory:
    """Picklable ``(env) -> policy`` factory: each evaluation worker loads its own copy."""

    def __init__(self, path: str, algo: str = "PPO", image_size: int | None = None) -> None:
        self.path, self.algo, self.image_size = path, algo, image_size

    def __call__(self, env):
        import stable_baselines3

        from vla_agent.rl import SB3PolicyAdapter

        model = getattr(stable_baselines3, self.algo).load(self.path, device="cpu")
        return SB3PolicyAdapter(model, image_size=self.image_size)

    def __repr__(self) -> str:
        return f"SB3Factory({self.path!r}, algo={self.algo!r})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="SB3 .zip file")
    parser.add_argument("--algo", default="PPO", help="SB3 class name (PPO, SAC, A2C, ...)")
    parser.add_argument("--image-size", type=int, default=None, help="ResizeImages size used in training")
    parser.add_argument("--num-sequences", type=int, default=10, help="chains of 5 instructions")
    parser.add_argument("--workers", type=int, default=1, help="parallel workers")
    parser.add_argument("--out", default="runs/eval_sb3", help="results folder")
    args = parser.parse_args()

    from evaluation import evaluate_long_horizon

    results = evaluate_long_horizon(
        SB3Factory(args.model, args.algo, args.image_size), num_sequences=args.num_sequences,
        workers=args.workers, out_dir=args.out,
    )
    print(f"avg_seq_len = {results['avg_seq_len']:.2f}")


if __name__ == "__main__":
    main()
