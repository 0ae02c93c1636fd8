"""Run a trained Stable-Baselines3 model where a ``reset()`` / ``act(obs, instruction)`` policy is expected
(e.g. :func:`evaluation.evaluate_long_horizon`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from envs.constants import ACTION_DIM, INSTRUCTION_EMBEDDING

Encoder = Callable[[Sequence[str]], np.ndarray]


class SB3PolicyAdapter:
    """Wraps an SB3 model trained on :func:`vla_agent.rl.make_rl_env` observations.

    Args:
        model: an SB3 algorithm (PPO, SAC, ...) or anything with ``predict(obs, deterministic=...)``.
        encoder: sentence encoder producing the ``instruction_embedding`` (default: offline MiniLM).
        image_size: the ``ResizeImages`` size the model was trained with, or None.
        deterministic: passed to ``model.predict``.
    """

    def __init__(self, model: Any, encoder: Encoder | None = None, image_size: int | None = None,
                 deterministic: bool = True) -> None:
        self.model = model
        self._encoder = encoder
        self.image_size = image_size
        self.deterministic = deterministic
        self._cache: dict[str, np.ndarray] = {}

    def _embed(self, text: str) -> np.ndarray:
        if text not in self._cache:
            if self._encoder is None:
                from vla_agent.language.text_encoder import shared_text_encoder

                self._encoder = shared_text_encoder().embed
            self._cache[text] = np.asarray(self._encoder([text]), dtype=np.float32).reshape(-1)
        return self._cache[text]

    def reset(self) -> None:
        """Nothing to forget: the SB3 models used here are memoryless."""

    def act(self, obs: Mapping[str, Any], instruction: str) -> np.ndarray:
        """One float32 (7,) action for one raw env observation and instruction."""
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction: expected a non-empty string, received {instruction!r}")
        space = getattr(self.model, "observation_space", None)
        keys = list(space.spaces) if space is not None and hasattr(space, "spaces") else list(obs)
        x: dict[str, np.ndarray] = {}
        for key in keys:
            if key == INSTRUCTION_EMBEDDING:
                x[key] = self._embed(instruction)
                continue
            if key not in obs:
                raise ValueError(f"obs: expected key {key!r} (the model's observation space), received {sorted(obs)}")
            value = np.asarray(obs[key])
            if self.image_size is not None and value.ndim == 3 and value.dtype == np.uint8:
                idx = ((np.arange(self.image_size) + 0.5) * value.shape[0] / self.image_size).astype(np.int64)
                value = value[idx][:, idx]
            x[key] = value
        action, _ = self.model.predict(x, deterministic=self.deterministic)
        action = np.asarray(action, dtype=np.float32).reshape(ACTION_DIM)
        return np.clip(action, -1.0, 1.0)
