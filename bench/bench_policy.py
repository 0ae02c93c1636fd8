"""Benchmark ``VLAPolicy.act``: per-step latency over a CALVIN-length episode, per-chunk costs, sizes.

Runs the default config (or a checkpoint) with the real segmentation features and the offline
MiniLM text encoder on CPU, on ``--threads`` intra-op threads, feeding smooth random uint8 images
(200x200 static, 84x84 wrist) and a jittered neutral ``robot_obs``. Prints figures; asserts nothing.

    python bench/bench_policy.py                 # 360 steps, 2 threads, default config
    python bench/bench_policy.py --quick         # 60 steps
    python bench/bench_policy.py --checkpoint runs/policy
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
import torch


def smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """A uint8 (size, size, 3) image with large blobs and mild noise (not white noise)."""
    coarse = rng.uniform(0, 255, (8, 8, 3))
    img = np.kron(coarse, np.ones((size // 8 + 1, size // 8 + 1, 1)))[:size, :size]
    img = img + rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=360, help="act() calls in the episode (CALVIN: 360)")
    parser.add_argument("--quick", action="store_true", help="60 steps, 3 chunk-cost repeats")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images and the weights")
    parser.add_argument("--checkpoint", default=None, help="a VLAPolicy.save_pretrained folder")
    parser.add_argument("--n-action-steps", type=int, default=None, help="override config.n_action_steps")
    parser.add_argument("--repeats", type=int, default=10, help="encoder passes timed part by part")
    parser.add_argument("--decode-threads", type=int, default=1,
                        help="VLAPolicy.decode_threads (0: leave torch's setting alone while decoding)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 60, 3

    from envs.constants import GRIPPER_SIZE, NEUTRAL_ROBOT_OBS, RGB_GRIPPER, RGB_STATIC, ROBOT_OBS, STATIC_SIZE
    from vla_agent.language import TextEncoder
    from vla_agent.policy import VLAPolicy
    from vla_agent.policy.policy import _num_threads
    from vla_agent.segmentation import SegmentationModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    print(f"args: {vars(args)}")
    print(f"versions: python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
          f"cpu count {os.cpu_count()}, load average {os.getloadavg()}")

    t0 = time.perf_counter()
    if args.checkpoint:
        policy = VLAPolicy.from_pretrained(args.checkpoint)
    else:
        policy = VLAPolicy.create(SegmentationModel(backend="torchvision"), text_encoder=TextEncoder())
    policy.decode_threads = args.decode_threads or None
    if args.n_action_steps is not None:
        policy.config.n_action_steps = args.n_action_steps
        policy.config.__post_init__()
    c = policy.config
    instruction = "open the drawer"
    policy.text_features([instruction])  # loads the text encoder (once per process)
    print(f"load: {time.perf_counter() - t0:.1f} s")
    print(f"config: d_model={c.d_model} heads={c.n_heads} enc={c.n_encoder_layers} dec={c.n_decoder_layers} "
          f"bins={c.n_bins} chunk={c.chunk_size} n_action_steps={c.n_action_steps} "
          f"image_tokens={c.num_static_tokens}+{c.num_gripper_tokens} text_tokens={c.text_max_length}")
    n = policy.num_parameters()
    print(f"parameters: transformer {n['transformer'] / 1e6:.2f} M, segmentation features "
          f"{n['segmentation'] / 1e6:.2f} M, total {n['total'] / 1e6:.2f} M")
    with tempfile.TemporaryDirectory() as d:
        policy.save_pretrained(d)
        sizes = {name: dir_size(os.path.join(d, name)) if os.path.isdir(os.path.join(d, name))
                 else os.path.getsize(os.path.join(d, name)) for name in sorted(os.listdir(d))}
    print("checkpoint: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items())
          + f"; total {sum(sizes.values()) / 1e6:.2f} MB")

    rng = np.random.default_rng(args.seed)
    frames = [{RGB_STATIC: smooth_image(rng, STATIC_SIZE), RGB_GRIPPER: smooth_image(rng, GRIPPER_SIZE),
               ROBOT_OBS: (np.asarray(NEUTRAL_ROBOT_OBS) + rng.normal(0, 0.01, 15)).astype(np.float32)}
              for _ in range(16)]

    # --- one encoder pass, part by part -----------------------------------------------------------
    parts: dict[str, list[float]] = {"image features": [], "encoder": [], "decoder (7K tokens)": []}
    with torch.inference_mode():
        for r in range(args.repeats + 1):
            obs = frames[r % len(frames)]
            t = time.perf_counter()
            img = policy.image_tokens(obs[RGB_STATIC][None], obs[RGB_GRIPPER][None])
            t1 = time.perf_counter()
            feats, mask = policy.text_features([instruction])
            prop = torch.from_numpy(policy.normalizer.normalize(obs[ROBOT_OBS][None]))
            memory, memory_mask, _ = policy.model.encode(feats, mask, img, prop)
            t2 = time.perf_counter()
            with _num_threads(policy.decode_threads):  # as act() does
                tokens = policy.model.generate(memory, memory_mask)
            t3 = time.perf_counter()
            if r:  # the first pass warms up
                parts["image features"].append(t1 - t)
                parts["encoder"].append(t2 - t1)
                parts["decoder (7K tokens)"].append(t3 - t2)
    total = sum(statistics.median(v) for v in parts.values())
    print(f"per encoder pass (median of {args.repeats}): "
          + ", ".join(f"{k} {statistics.median(v) * 1e3:.1f} ms" for k, v in parts.items())
          + f"; total {total * 1e3:.1f} ms; decoder per token "
          f"{statistics.median(parts['decoder (7K tokens)']) / max(tokens.shape[1], 1) * 1e3:.2f} ms")

    # --- an episode of act() ----------------------------------------------------------------------
    policy.reset()
    for i in range(3):  # warm-up outside the timed episode
        policy.act(frames[i], instruction)
    policy.reset()
    policy.encoder_passes = 0
    times = []
    for step in range(args.steps):
        obs = frames[step % len(frames)]
        t = time.perf_counter()
        action = policy.act(obs, instruction)
        times.append(time.perf_counter() - t)
        assert action.shape == (7,)
    ms = [x * 1e3 for x in times]
    print(f"act() over {args.steps} steps: mean {statistics.mean(ms):.1f} ms, median {statistics.median(ms):.1f} ms, "
          f"p95 {percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms; encoder passes {policy.encoder_passes}; "
          f"{1e3 / statistics.mean(ms):.1f} steps/s (CALVIN control rate: 30 Hz = 33.3 ms)")
    print(f"load average after: {os.getloadavg()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
