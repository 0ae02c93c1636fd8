"""The scripted expert: privileged-state plans for CALVIN's 34 tasks behind the agent's interface."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from envs.constants import ROBOT_OBS, SCENE_OBS, TASK_NAMES, TCP_POS
from envs.experts.motion import MotionController
from envs.experts.plans import PLANS
from envs.experts.skills import ExpertContext

# a fresh plan keeps the mirrored target when the measured TCP is this close to it (m): the env
# keeps integrating on its own target across subtasks, so continuity matters more than the gap
_RESYNC_DIST = 0.03


class ScriptedExpert:
    """Solves CALVIN tasks from privileged simulator state with human-like motions.

    Same interface as the learned policy: :meth:`reset` before each subtask, then
    :meth:`act` once per env step. Actions are CALVIN relative actions (position delta / 0.02 m,
    euler delta / 0.05 rad, clipped to [-1, 1]; gripper +1 open / -1 close), so the expert never
    writes joint states: it only acts.

    Args:
        env: the play-table env (``gymnasium.make("vla_agent/PlayTable-v0", ...)`` or its
            ``unwrapped``); read for landmarks and contacts.
        task: fixed task name (one of :data:`envs.constants.TASK_NAMES`); ``None`` derives the
            task from each instruction with :func:`envs.instructions.task_for_instruction`.
        seed: seeds the small randomisation of approach offsets and speeds.

    Example:
        >>> expert = ScriptedExpert(env, seed=0)
        >>> obs, info = env.reset(seed=0, options={"task": "open_drawer"})
        >>> expert.reset()
        >>> obs, *_ = env.step(expert.act(obs, info["instruction"]))
    """

    def __init__(self, env: Any, task: str | None = None, seed: int = 0) -> None:
        if task is not None and task not in TASK_NAMES:
            raise ValueError(f"task: expected one of CALVIN's 34 task names or None, got {task!r}")
        self.env = env
        self.task = task
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.ctrl = MotionController()
        self.ctx = ExpertContext(env, self.rng, self.ctrl)
        self._plan: Generator[np.ndarray, None, bool] | None = None
        self._plan_key: tuple[str, str] | None = None
        self._synced = False
        self.current_task: str | None = None
        self.finished = False  # the plan ran to its end (the expert now holds still)

    def reset(self) -> None:
        """Forget the current plan; the next :meth:`act` plans anew from the current state."""
        self._plan = None
        self._plan_key = None
        self.finished = False

    def _resolve_task(self, instruction: str | None) -> str:
        if self.task is not None:
            return self.task
        if not instruction:
            raise ValueError("instruction: expected a CALVIN instruction when the expert has no fixed task, "
                             f"got {instruction!r}")
        if instruction in TASK_NAMES:
            return instruction
        from envs.instructions import task_for_instruction  # lazy: optional language tables

        return task_for_instruction(instruction)

    def _start_plan(self, task: str, instruction: str) -> None:
        robot_obs = self.ctx.robot_obs
        target = _env_target(self.ctx.env)
        if target is not None:
            self.ctrl.sync(robot_obs, target)
        elif not self._synced or np.linalg.norm(self.ctrl.pos - robot_obs[TCP_POS]) > _RESYNC_DIST:
            self.ctrl.sync(robot_obs)
        self._synced = True
        self.ctrl.speed = 0.0
        # a person is not equally fast in every demonstration
        self.ctx.speed_scale = float(self.rng.uniform(0.8, 1.15))
        self.current_task = task
        self._plan = PLANS[task](self.ctx, task)
        self._plan_key = (task, instruction)
        self.finished = False

    def act(self, obs: dict[str, np.ndarray], instruction: str | None = None) -> np.ndarray:
        """One action for the current observation.

        Args:
            obs: observation dict with at least ``robot_obs`` (15,) and ``scene_obs`` (24,).
            instruction: the language instruction (ignored when the task is fixed).

        Returns:
            (7,) float32 relative action.
        """
        if ROBOT_OBS not in obs or SCENE_OBS not in obs:
            raise ValueError(f"obs: expected keys {ROBOT_OBS!r} and {SCENE_OBS!r}, got {sorted(obs)}")
        self.ctx.obs = obs
        task = self._resolve_task(instruction)
        key = (task, instruction or task)
        if self._plan is None or self._plan_key != key:
            self._start_plan(task, instruction or task)
        assert self._plan is not None
        self.ctx.steps += 1
        if not self.finished:
            try:
                return next(self._plan)
            except StopIteration:
                self.finished = True
        return self.ctrl.step(self.ctrl.pos, None, 0.0, self.ctrl.gripper)

    def step(self, obs: dict[str, np.ndarray], goal: str) -> np.ndarray:
        """CALVIN evaluator interface (``CalvinBaseModel.step``): same as :meth:`act`."""
        return self.act(obs, goal)


def _env_target(env: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The env's internal TCP target pose (pos (3,), euler (3,)) when it exposes one, else None.

    The embedded play table keeps it on ``env.unwrapped.robot`` (``target_pos``, ``target_orn``);
    other backends may not expose it, and the expert then re-anchors on the measured pose.
    """
    base = env.unwrapped if hasattr(env, "unwrapped") else env
    robot = getattr(base, "robot", None)
    pos = getattr(robot, "target_pos", None)
    orn = getattr(robot, "target_orn", None)
    if pos is None or orn is None:
        return None
    return np.asarray(pos, dtype=np.float64).copy(), np.asarray(orn, dtype=np.float64).copy()
