"""Build the embedded play table the way RL libraries want it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from envs.constants import EP_LEN


def make_rl_env(
    task: str | None = None,
    image_size: int | None = None,
    cameras: Sequence[str] = ("static", "gripper"),
    max_episode_steps: int = EP_LEN,
    env_id: str = "vla_agent/PlayTable-v0",
    encoder: Any = None,
    **env_kwargs: Any,
) -> gym.Env:
    """An env whose observation is a ``Dict`` of ``Box`` spaces only (SB3's ``MultiInputPolicy``).

    Args:
        task: fixed task for every reset (a random valid start state each time), or None.
        image_size: shrink both cameras to this square size (fast RL), or None to keep 200/84.
        cameras: which cameras render; ``()`` gives a state-only env (fastest).
        max_episode_steps: truncation horizon (CALVIN: 360).
        env_id: ``"vla_agent/PlayTable-v0"`` or ``"vla_agent/Calvin-v0"`` (then pass its kwargs).
        encoder: sentence encoder for :class:`envs.wrappers.InstructionEmbedding` (default MiniLM).
        **env_kwargs: passed to ``gymnasium.make``.

    Returns:
        The wrapped env: observations ``rgb_*`` uint8 (H, W, 3) channel-last RGB, ``robot_obs``,
        ``scene_obs`` float32 and ``instruction_embedding`` float32 (384,).
    """
    import envs  # noqa: F401  (registers the ids)
    from envs.wrappers import InstructionEmbedding, ResizeImages

    kwargs = dict(env_kwargs)
    if env_id == "vla_agent/PlayTable-v0":
        kwargs.setdefault("cameras", tuple(cameras))
        kwargs.setdefault("task", task)
    env = gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs)
    if image_size is not None:
        env = ResizeImages(env, image_size)
    return InstructionEmbedding(env, encoder=encoder)
