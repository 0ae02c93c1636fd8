"""Wrappers that make the play table fit RL libraries.

* :class:`InstructionEmbedding` adds the instruction as a fixed-size vector observation
  (``instruction_embedding``, Box(384,) float32), since Stable-Baselines3 has no text spaces.
* :class:`ResizeImages` shrinks the RGB (and depth) images for fast RL.

Both keep the observation a ``Dict`` of ``Box`` spaces (SB3's ``MultiInputPolicy`` accepts it).
Images stay uint8, channel-last (H, W, 3), RGB order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs import constants as C

Encoder = Callable[[Sequence[str]], np.ndarray]


def _default_encoder() -> Encoder:
    # lazy: importing envs must not import torch / transformers
    from vla_agent.language.text_encoder import shared_text_encoder

    return shared_text_encoder().embed


class InstructionEmbedding(gym.ObservationWrapper):
    """Adds ``instruction_embedding``: the sentence embedding of ``info["instruction"]``.

    Args:
        env: an env whose ``reset``/``step`` info carries ``"instruction"`` and whose observation
            space is a ``Dict``.
        encoder: maps a list of B sentences to a float array (B, dim); default: the project's
            offline MiniLM (``vla_agent.language.text_encoder.shared_text_encoder().embed``),
            loaded on first use. Embeddings are cached per sentence.
        dim: embedding size (384 for MiniLM and CALVIN's own embeddings).
    """

    def __init__(self, env: gym.Env, encoder: Encoder | None = None, dim: int = C.LANG_EMB_DIM) -> None:
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Dict):
            raise ValueError(f"env.observation_space: expected a Dict space, received {env.observation_space}")
        if dim < 1:
            raise ValueError(f"dim: expected a positive size, received {dim}")
        self._encoder = encoder
        self.dim = int(dim)
        self._cache: dict[str, np.ndarray] = {}
        self._current = np.zeros(self.dim, np.float32)
        self.observation_space = spaces.Dict(
            {
                **env.observation_space.spaces,
                C.INSTRUCTION_EMBEDDING: spaces.Box(-np.inf, np.inf, (self.dim,), np.float32),
            }
        )

    def embed(self, instruction: str) -> np.ndarray:
        """Embedding (dim,) float32 of one sentence (cached)."""
        if instruction not in self._cache:
            if self._encoder is None:
                self._encoder = _default_encoder()
            vec = np.asarray(self._encoder([instruction]), dtype=np.float32).reshape(-1)
            if vec.shape != (self.dim,):
                raise ValueError(f"encoder: expected an embedding of shape ({self.dim},), received {vec.shape}")
            self._cache[instruction] = vec
        return self._cache[instruction]

    def _follow(self, info: dict[str, Any]) -> None:
        text = info.get("instruction")
        if not isinstance(text, str):
            raise ValueError(f"info['instruction']: expected a sentence from the env, received {text!r}")
        self._current = self.embed(text)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._follow(info)
        return self.observation(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._follow(info)  # set_task may have changed the instruction between steps
        return self.observation(obs), reward, terminated, truncated, info

    def observation(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {**observation, C.INSTRUCTION_EMBEDDING: self._current.copy()}


class ResizeImages(gym.ObservationWrapper):
    """Resizes ``rgb_*`` (and ``depth_*``) observations to ``size`` x ``size`` (nearest pixel).

    Output images stay uint8 (H, W, 3) RGB channel-last; depth stays float32 (H, W) metres.
    Nearest-pixel sampling keeps it numpy-only and fast.

    Args:
        env: an env with a ``Dict`` observation space.
        size: output side length in pixels (e.g. 64).
    """

    def __init__(self, env: gym.Env, size: int) -> None:
        super().__init__(env)
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size: expected a positive int, received {size!r}")
        if not isinstance(env.observation_space, spaces.Dict):
            raise ValueError(f"env.observation_space: expected a Dict space, received {env.observation_space}")
        self.size = int(size)
        new: dict[str, spaces.Space] = {}
        self._index: dict[str, np.ndarray] = {}
        for key, space in env.observation_space.spaces.items():
            if key in C.RGB_KEYS + C.DEPTH_KEYS:
                assert isinstance(space, spaces.Box)
                src = space.shape[0]
                self._index[key] = ((np.arange(self.size) + 0.5) * src / self.size).astype(np.int64)
                shape = (self.size, self.size) + space.shape[2:]
                new[key] = spaces.Box(float(space.low.flat[0]), float(space.high.flat[0]), shape, space.dtype)
            else:
                new[key] = space
        self.observation_space = spaces.Dict(new)

    def observation(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = dict(observation)
        for key, idx in self._index.items():
            if key in out:
                out[key] = np.ascontiguousarray(out[key][idx][:, idx])
        return out
