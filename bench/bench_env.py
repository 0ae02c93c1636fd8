"""Speed of the embedded play table (``vla_agent/PlayTable-v0``): step, reset, vector envs.

Prints steps/s with both cameras (TinyRenderer), without rendering (``cameras=()``), reset times
(random start, task start, exact state), and the throughput of ``AsyncVectorEnv`` with 1 and 2
workers. Wall-clock figures depend on the machine's load; CPU time of this process is printed
next to them for the single-process figures. Nothing is asserted.

    python bench/bench_env.py --quick
    python bench/bench_env.py --steps 600 --vector-steps 300
    python bench/bench_env.py --quick --views /tmp/env_views.png   # also save a picture of both cameras
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="env steps per single-env measurement")
    ap.add_argument("--resets", type=int, default=20, help="resets per reset measurement")
    ap.add_argument("--vector-steps", type=int, default=150, help="vector steps per AsyncVectorEnv measurement")
    ap.add_argument("--seed", type=int, default=0, help="seed of resets and random actions")
    ap.add_argument("--quick", action="store_true", help="small sizes (about 30 s)")
    ap.add_argument("--no-vector", action="store_true", help="skip the AsyncVectorEnv measurement")
    ap.add_argument("--views", default=None, help="save a PNG of both cameras in a few states to this path")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.resets, args.vector_steps = 60, 5, 40
    return args


def _make(**kwargs):  # noqa: ANN202 - gymnasium env
    import gymnasium as gym

    import envs  # noqa: F401 - registers the id

    return gym.make("vla_agent/PlayTable-v0", **kwargs)


def time_steps(env, steps: int, seed: int) -> tuple[float, float]:
    """(wall s, cpu s) per step of random actions, resetting on episode end."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        a = rng.uniform(-1, 1, 7).astype(np.float32)
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    return (time.perf_counter() - w0) / steps, (time.process_time() - c0) / steps


def time_resets(env, n: int, seed: int, options_fn) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        env.reset(seed=seed + i, options=options_fn(i))
    return (time.perf_counter() - w0) / n, (time.process_time() - c0) / n


def time_vector(workers: int, steps: int, seed: int) -> float:
    """Env steps per second (all workers together) of an AsyncVectorEnv with both cameras."""
    import gymnasium as gym

    import envs  # noqa: F401

    vec = gym.vector.AsyncVectorEnv([lambda: gym.make("vla_agent/PlayTable-v0") for _ in range(workers)])
    try:
        vec.reset(seed=seed)
        rng = np.random.default_rng(seed)
        vec.step(rng.uniform(-1, 1, (workers, 7)).astype(np.float32))  # warm up
        t0 = time.perf_counter()
        for _ in range(steps):
            vec.step(rng.uniform(-1, 1, (workers, 7)).astype(np.float32))
        return workers * steps / (time.perf_counter() - t0)
    finally:
        vec.close()


def save_views(path: str) -> None:
    """Both cameras in five symbolic states (plus the robot mask), stacked as rows of one PNG."""
    from PIL import Image

    env = _make().unwrapped
    base = dict(
        led=0,
        lightbulb=0,
        slider="right",
        drawer="closed",
        red_block="table",
        blue_block="table",
        pink_block="slider_left",
        grasped=0,
    )
    states = [
        base,
        {**base, "drawer": "open", "blue_block": "slider_left", "pink_block": "slider_right"},
        {**base, "led": 1, "slider": "left", "red_block": "slider_right", "pink_block": "table"},
        {
            **base,
            "lightbulb": 1,
            "slider": "left",
            "blue_block": "grasped",
            "pink_block": "slider_right",
            "grasped": 1,
        },
        {
            **base,
            "led": 1,
            "lightbulb": 1,
            "drawer": "open",
            "red_block": "drawer",
            "blue_block": "stacked_top",
            "pink_block": "stacked_bottom",
        },
    ]
    rows = []
    for s in states:
        obs, _ = env.reset(seed=0, options={"condition": s})
        hold = np.array([0, 0, 0, 0, 0, 0, -1 if s["grasped"] else 1], np.float32)
        for _ in range(3):
            obs, *_ = env.step(hold)
        grip = np.kron(obs["rgb_gripper"], np.ones((2, 2, 1), np.uint8))
        masked = obs["rgb_static"].copy()
        masked[env.robot_mask("static")] = (251, 154, 153)
        row = np.zeros((200, 576, 3), np.uint8)
        row[:, :200], row[:168, 204:372], row[:, 376:] = obs["rgb_static"], grip, masked
        rows.append(row)
    env.close()
    Image.fromarray(np.concatenate(rows, 0)).save(path)
    print(f"views: saved {path} (rows: base, drawer open, LED on, bulb on + grasped, stacked + drawer)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import gymnasium
    import pybullet

    print(f"args: {vars(args)}")
    print(
        f"versions: python {platform.python_version()}, pybullet {pybullet.getAPIVersion()}, "
        f"gymnasium {gymnasium.__version__}, numpy {np.__version__}; renderer ER_TINY_RENDERER (CPU)"
    )

    env = _make()
    wall, cpu = time_steps(env, args.steps, args.seed)
    print(
        f"step, both cameras (200x200 + 84x84): {1 / wall:7.1f} steps/s wall ({wall * 1e3:.1f} ms), "
        f"{1 / cpu:7.1f} steps/s cpu ({cpu * 1e3:.1f} ms)   target >= 30"
    )
    env.close()

    env = _make(cameras=())
    wall, cpu = time_steps(env, args.steps * 5, args.seed)
    print(
        f"step, no rendering (cameras=()):       {1 / wall:7.1f} steps/s wall ({wall * 1e3:.2f} ms), "
        f"{1 / cpu:7.1f} steps/s cpu ({cpu * 1e3:.2f} ms)   target >= 500"
    )
    from envs import constants as C

    scene = np.zeros(C.SCENE_OBS_DIM)
    for name, pos in zip(C.BLOCK_NAMES, ("table_0", "table_1", "slider_left"), strict=True):
        sl = C.BLOCK_SLICES[name]
        scene[sl.start : sl.start + 3] = C.BLOCK_SPOTS[pos]
    for label, fn in (
        ("random start", lambda i: None),
        ("task start (precondition sampled)", lambda i: {"task": C.TASK_NAMES[i % len(C.TASK_NAMES)]}),
        (
            "exact state (robot_obs, scene_obs)",
            lambda i: {"robot_obs": C.NEUTRAL_ROBOT_OBS, "scene_obs": scene},
        ),
    ):
        wall, cpu = time_resets(env, args.resets, args.seed, fn)
        print(f"reset, no rendering, {label:36s}: {wall * 1e3:6.1f} ms wall, {cpu * 1e3:6.1f} ms cpu")
    env.close()
    env = _make()
    wall, cpu = time_resets(env, args.resets, args.seed, lambda i: None)
    print(f"reset, both cameras, random start: {wall * 1e3:6.1f} ms wall, {cpu * 1e3:6.1f} ms cpu")
    env.close()

    if not args.no_vector:
        one = time_vector(1, args.vector_steps, args.seed)
        two = time_vector(2, args.vector_steps, args.seed)
        print(
            f"AsyncVectorEnv, both cameras: 1 worker {one:.1f} steps/s, 2 workers {two:.1f} steps/s, "
            f"speed-up {two / one:.2f}x   target >= 1.7x (needs 2 idle cores)"
        )
    if args.views:
        save_views(args.views)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
