"""Initialise an RL policy from a behaviour-cloned (or scripted) teacher.

Roll the teacher out in the RL env, record (observation, teacher action) pairs, then fit the SB3
policy's action distribution to them: maximum likelihood for actor-critic policies (PPO, A2C),
mean-squared error on the deterministic action otherwise (SAC, TD3). The result is a PPO/SAC
agent that starts near the teacher instead of from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from envs.constants import ACTION_DIM

TeacherFactory = Callable[[gym.Env], Any]


def collect_demonstrations(
    env: gym.Env, teacher: Any, num_steps: int, seed: int = 0, progress: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Observations and teacher actions from teacher rollouts.

    Args:
        env: the (wrapped) RL env; its info must carry ``"instruction"``.
        teacher: ``reset()`` + ``act(obs, instruction) -> (7,)`` (VLAPolicy, ScriptedExpert, ...).
        num_steps: transitions to record.
        seed: seed of the first reset (later resets continue the env's generator).

    Returns:
        ``(observations, actions)``: dict of stacked arrays (N, ...) and float32 (N, 7).
    """
    if num_steps < 1:
        raise ValueError(f"num_steps: expected a positive int, received {num_steps}")
    obs, info = env.reset(seed=seed)
    teacher.reset()
    keys = list(obs)
    buf: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    acts: list[np.ndarray] = []
    for _ in tqdm(range(num_steps), desc="teacher rollouts", disable=not progress):
        action = np.asarray(teacher.act(obs, info["instruction"]), dtype=np.float32)
        if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
            raise ValueError(f"teacher action: expected finite float (7,), received {action!r}")
        for k in keys:
            buf[k].append(np.asarray(obs[k]))
        acts.append(action)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            obs, info = env.reset()
            teacher.reset()
    return {k: np.stack(v) for k, v in buf.items()}, np.stack(acts)


def warm_start_from_teacher(
    model: Any,
    observations: dict[str, np.ndarray],
    actions: np.ndarray,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 3e-4,
    seed: int = 0,
) -> list[float]:
    """Fit ``model.policy`` to teacher actions (behaviour cloning of the RL actor).

    Args:
        model: an SB3 algorithm (PPO/A2C use log-likelihood; SAC/TD3 use MSE on the actor's action).
        observations: dict of (N, ...) arrays in the env's observation format.
        actions: float32 (N, 7) teacher actions in the env's action space.
        epochs, batch_size, lr, seed: optimisation settings.

    Returns:
        Mean loss per epoch (the caller can check that it went down).
    """
    actions = np.asarray(actions, dtype=np.float32)
    n = actions.shape[0]
    if actions.ndim != 2 or actions.shape[1] != ACTION_DIM:
        raise ValueError(f"actions: expected shape (N, {ACTION_DIM}), received {actions.shape}")
    for k, v in observations.items():
        if len(v) != n:
            raise ValueError(f"observations[{k!r}]: expected {n} rows (one per action), received {len(v)}")
    policy = model.policy
    policy.set_training_mode(True)
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    gen = np.random.default_rng(seed)
    losses: list[float] = []
    for _ in range(epochs):
        order = gen.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            obs_t, _ = policy.obs_to_tensor({k: v[idx] for k, v in observations.items()})
            act_t = torch.as_tensor(actions[idx], device=policy.device)
            if hasattr(policy, "evaluate_actions"):  # actor-critic: maximise teacher likelihood
                _, log_prob, _ = policy.evaluate_actions(obs_t, act_t)
                loss = -log_prob.mean()
            else:  # off-policy actors: regress the deterministic action
                pred = policy.actor(obs_t, deterministic=True) if hasattr(policy, "actor") else policy(obs_t)
                loss = torch.nn.functional.mse_loss(pred, act_t)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / n)
    policy.set_training_mode(False)
    return losses
