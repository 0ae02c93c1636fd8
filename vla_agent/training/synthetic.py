"""A tiny synthetic dataset in CALVIN's on-disk format, for tests and benchmarks of the trainer.

Frames are random but structured (each task has its own image tint and action pattern, so a policy
can fit them); windows cover whole recorded segments. Written with the data package's
:class:`~vla_agent.data.CalvinWriter`, so it is byte-for-byte the format the real loader reads.
"""

from __future__ import annotations

import os

import numpy as np

from envs.constants import (
    ACTION_DIM,
    ACTIONS,
    GRIPPER_SIZE,
    LANG_EMB_DIM,
    REL_ACTIONS,
    RGB_GRIPPER,
    RGB_STATIC,
    ROBOT_OBS,
    ROBOT_OBS_DIM,
    SCENE_OBS,
    SCENE_OBS_DIM,
    STATIC_SIZE,
)

SENTENCES = {
    "open_drawer": ("open the drawer", "pull the drawer open"),
    "move_slider_left": ("slide the door to the left", "push the sliding door left"),
    "turn_on_led": ("press the button to turn on the led", "switch the green light on"),
}


def write_synthetic_dataset(
    root: str | os.PathLike[str],
    episodes: int = 6,
    frames_per_episode: int = 16,
    val_episodes: int = 2,
    seed: int = 0,
) -> str:
    """Write ``root/training`` and ``root/validation`` with one annotated window per episode.

    Args:
        root: dataset folder (created).
        episodes: training segments (each one language window).
        frames_per_episode: frames per segment.
        val_episodes: validation segments (0: no validation split).
        seed: seed of every random value.

    Returns:
        ``root`` as a string.
    """
    from vla_agent.data import CalvinWriter

    rng = np.random.default_rng(seed)
    tasks = sorted(SENTENCES)
    emb = {s: _unit(rng.normal(size=LANG_EMB_DIM)) for t in tasks for s in SENTENCES[t]}
    next_index = 0
    for split, n in (("training", episodes), ("validation", val_episodes)):
        if n == 0:
            continue
        w = CalvinWriter(os.path.join(os.fspath(root), split), next_index=next_index)
        for e in range(n):
            task = tasks[e % len(tasks)]
            sentence = SENTENCES[task][(e // len(tasks)) % len(SENTENCES[task])]
            start = w.begin_segment(w.next_index + 3)  # a gap between segments, as CALVIN has
            for t in range(frames_per_episode):
                w.add_frame(_frame(rng, tasks.index(task), t, frames_per_episode))
            w.end_segment()
            w.add_language(start, start + frames_per_episode - 1, sentence, task, emb[sentence])
        w.finalize()
        next_index = w.next_index + 10
    return os.fspath(root)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _frame(rng: np.random.Generator, task: int, t: int, length: int) -> dict[str, np.ndarray]:
    phase = t / max(1, length - 1)
    tint = np.zeros(3)
    tint[task % 3] = 120
    static = np.clip(rng.integers(0, 100, (STATIC_SIZE, STATIC_SIZE, 3)) + tint, 0, 255).astype(np.uint8)
    gripper = np.clip(rng.integers(0, 100, (GRIPPER_SIZE, GRIPPER_SIZE, 3)) + tint, 0, 255).astype(np.uint8)
    robot = rng.normal(0.0, 0.1, ROBOT_OBS_DIM)
    robot[0] = phase
    robot[14] = 1.0 if phase < 0.5 else -1.0
    rel = np.clip(rng.normal(0.0, 0.05, ACTION_DIM), -1, 1)
    rel[task % 3] += 0.8 * (1 - phase)  # each task moves along its own axis, slowing down
    rel[6] = 1.0 if phase < 0.5 else -1.0
    absolute = np.concatenate([robot[:6] + 0.02 * rel[:6], rel[6:]])
    return {RGB_STATIC: static, RGB_GRIPPER: gripper, ROBOT_OBS: robot,
            SCENE_OBS: rng.normal(size=SCENE_OBS_DIM), REL_ACTIONS: np.clip(rel, -1, 1), ACTIONS: absolute}
