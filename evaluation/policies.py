"""Policies as the evaluation runners see them, and picklable factories that build them.

The runners call ``policy.reset()`` before every subtask and ``policy.act(obs, instruction)`` once
per env step. Objects with CALVIN's interface (``reset()`` + ``step(obs, goal)``) are adapted by
:func:`as_policy`. Each worker process builds its own env and then its own policy with a
*policy factory*: a picklable callable ``factory(env) -> policy`` (the env is passed because
privileged experts read it).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from envs.constants import ACTION_DIM, GRIPPER_CLOSE, GRIPPER_OPEN


@runtime_checkable
class Policy(Protocol):
    """What the runners drive."""

    def reset(self) -> None: ...

    def act(self, obs: dict[str, np.ndarray], instruction: str) -> Any: ...


class CalvinStepAdapter:
    """Wraps a CALVIN-style model (``reset()``, ``step(obs, goal)``) as a :class:`Policy`."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def reset(self) -> None:
        self.model.reset()

    def act(self, obs: dict[str, np.ndarray], instruction: str) -> Any:
        return self.model.step(obs, instruction)

    def seed(self, seed: int) -> None:
        if hasattr(self.model, "seed") and callable(self.model.seed):
            self.model.seed(seed)

    def __repr__(self) -> str:
        return f"CalvinStepAdapter({self.model!r})"


def as_policy(obj: Any) -> Policy:
    """``obj`` itself when it has ``reset``/``act``; a :class:`CalvinStepAdapter` when it has ``step``.

    Raises:
        ValueError: neither interface is present.
    """
    if callable(getattr(obj, "act", None)) and callable(getattr(obj, "reset", None)):
        return obj
    if callable(getattr(obj, "step", None)) and callable(getattr(obj, "reset", None)):
        return CalvinStepAdapter(obj)
    raise ValueError(
        f"policy: expected an object with reset() and act(obs, instruction) or CALVIN's step(obs, goal), "
        f"got {type(obj).__name__}"
    )


def to_action(action: Any) -> Any:
    """A flat 7-d action as float32 numpy (torch tensors included); anything else unchanged.

    Tuples (CALVIN's absolute ``(pos, orn, gripper)``) pass through for the env to interpret.
    """
    if isinstance(action, tuple):
        return action
    if hasattr(action, "detach"):  # torch tensor, without importing torch
        action = action.detach().cpu().numpy()
    arr = np.asarray(action, dtype=np.float32)
    return arr.reshape(-1) if arr.size == ACTION_DIM else arr


class RandomPolicy:
    """Uniform random relative actions with a sticky gripper: a seeded lower bound for benchmarks.

    Args:
        seed: seeds the generator; the runners reseed it per chain via :meth:`seed`, so results do
            not depend on how chains are spread over workers.
        gripper_switch_prob: chance per step of flipping the gripper command.
        scale: magnitude bound of the position/orientation components (<= 1).
    """

    def __init__(self, seed: int = 0, gripper_switch_prob: float = 0.05, scale: float = 1.0) -> None:
        if not 0.0 <= gripper_switch_prob <= 1.0:
            raise ValueError(f"gripper_switch_prob: expected a value in [0, 1], got {gripper_switch_prob}")
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"scale: expected a value in (0, 1], got {scale}")
        self.gripper_switch_prob = float(gripper_switch_prob)
        self.scale = float(scale)
        self.seed(seed)

    def seed(self, seed: int) -> None:
        """Restart the random stream."""
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        self._gripper = GRIPPER_OPEN

    def reset(self) -> None:
        """Nothing to forget between subtasks (the stream continues)."""

    def act(self, obs: dict[str, np.ndarray], instruction: str) -> np.ndarray:
        """A (7,) float32 action in [-1, 1]; the gripper entry is exactly +1 or -1."""
        a = self.rng.uniform(-self.scale, self.scale, size=ACTION_DIM).astype(np.float32)
        if self.rng.random() < self.gripper_switch_prob:
            self._gripper = GRIPPER_CLOSE if self._gripper == GRIPPER_OPEN else GRIPPER_OPEN
        a[-1] = self._gripper
        return a

    def __repr__(self) -> str:
        return f"RandomPolicy(gripper_switch_prob={self.gripper_switch_prob}, scale={self.scale})"


# --- factories (picklable: module-level classes with plain fields) -----------------------------
@dataclass(frozen=True)
class RandomPolicyFactory:
    """Builds a :class:`RandomPolicy`."""

    seed: int = 0
    gripper_switch_prob: float = 0.05

    def __call__(self, env: Any = None) -> RandomPolicy:
        return RandomPolicy(seed=self.seed, gripper_switch_prob=self.gripper_switch_prob)

    def describe(self) -> str:
        return f"random(seed={self.seed}, gripper_switch_prob={self.gripper_switch_prob})"


class _ExpertAdapter:
    """Runs :class:`envs.experts.ScriptedExpert` with the env's current task.

    The runners give instruction sentences from any instruction set; the expert is privileged
    anyway, so it is told the task name the env is set to. :meth:`seed` (called by the runners at
    the start of every chain) builds a fresh expert: its motion controller keeps state between
    subtasks, which must not leak from one chain into the next (results would then depend on
    which chains a worker ran before).
    """

    def __init__(self, env: Any, seed: int = 0) -> None:
        self.env = env
        self.seed(seed)

    def seed(self, seed: int) -> None:
        from envs.experts import ScriptedExpert  # lazy: the expert pulls in the motion planner

        self.expert = ScriptedExpert(self.env.unwrapped, seed=int(seed))

    def reset(self) -> None:
        self.expert.reset()

    def act(self, obs: dict[str, np.ndarray], instruction: str) -> Any:
        task = getattr(self.env.unwrapped, "task", None)
        return self.expert.act(obs, task if task else instruction)


@dataclass(frozen=True)
class ExpertPolicyFactory:
    """Builds the scripted expert (``envs.experts.ScriptedExpert``) for the worker's env."""

    seed: int = 0

    def __call__(self, env: Any) -> Any:
        return _ExpertAdapter(env, seed=self.seed)

    def describe(self) -> str:
        return f"expert(ScriptedExpert, seed={self.seed})"


@dataclass(frozen=True)
class PretrainedPolicyFactory:
    """Loads ``vla_agent.VLAPolicy.from_pretrained(path)`` in the worker."""

    path: str
    device: str | None = None
    temperature: float | None = None  # None: the checkpoint's own decoding temperature

    def __call__(self, env: Any = None) -> Any:
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"policy checkpoint: no such path {self.path!r}")
        from vla_agent import VLAPolicy  # lazy: imports torch and the model code

        kwargs = {"device": self.device} if self.device else {}
        policy = VLAPolicy.from_pretrained(self.path, **kwargs)
        if self.temperature is not None:
            policy.temperature = self.temperature
        return as_policy(policy)

    def describe(self) -> str:
        extra = "" if self.temperature is None else f", temperature={float(self.temperature)}"
        return f"pretrained({os.path.abspath(self.path)}{extra})"


def policy_factory_from_spec(spec: str, seed: int = 0, device: str | None = None,
                             temperature: float | None = None) -> Any:
    """``"random"``, ``"expert"``, ``"default"`` (the shipped policy) or a checkpoint folder path -> a
    picklable policy factory. ``temperature`` overrides a checkpoint's action decoding temperature."""
    if temperature is not None:
        if spec in ("random", "expert"):
            raise ValueError(f"temperature: applies to checkpoint policies, not to {spec!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not 0.0 <= float(temperature) < float("inf"):
            raise ValueError(f"temperature: expected a finite float >= 0, received {temperature!r}")
    if spec == "random":
        return RandomPolicyFactory(seed=seed)
    if spec == "expert":
        return ExpertPolicyFactory(seed=seed)
    if spec == "default":  # the policy shipped inside the package
        from vla_agent.pretrained import resolve_checkpoint

        return PretrainedPolicyFactory(path=resolve_checkpoint(spec), device=device, temperature=temperature)
    if os.path.exists(spec):
        return PretrainedPolicyFactory(path=spec, device=device, temperature=temperature)
    raise ValueError(f"policy: expected 'expert', 'random', 'default' or an existing checkpoint path, got {spec!r}")


def describe_factory(factory: Any) -> str:
    """A stable text naming what a factory builds (part of a run's signature).

    Uses ``factory.describe()`` when present; otherwise the function's or class's qualified name,
    never a repr holding a memory address (that would change on every restart and block resuming).
    """
    if hasattr(factory, "describe"):
        return str(factory.describe())
    if inspect.isfunction(factory) or inspect.ismethod(factory) or inspect.isbuiltin(factory):
        return f"{factory.__module__}.{factory.__qualname__}"
    text = repr(factory)
    if " at 0x" in text:
        return f"{type(factory).__module__}.{type(factory).__qualname__}"
    return text
