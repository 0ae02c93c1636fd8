"""Gymnasium adapter for the real CALVIN simulator (calvin_env's ``PlayTableSimEnv``)."""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs import constants as C
from envs.calvin import backend
from envs.calvin.actions import ACTION_MODES, to_calvin_action
from envs.calvin.observations import observation_space, translate_obs
from envs.calvin.scene_info import NameTable, scene_info_from_calvin
from envs.start_state import check_task, choose_start_state, choose_task, resolve_task
from envs.state import SceneInfo

ORACLES = ("calvin_env", "vla_agent")
PARK_DISTANCE = 10.0  # m, where blocks wait (apart) while contact caches are cleared at reset
RESET_OPTIONS = ("task", "instruction", "robot_obs", "scene_obs", "condition")
GRASP_STEPS = (
    5  # env steps (40 substeps, as the embedded env) closing the gripper on a block placed in the hand
)

# Envs whose real calvin_env world is open: calvin_env mixes PyBullet's default client 0 with its
# own id, so a second world in one process gets bodies of the first (see docs/calvin.md).
_OPEN_WORLDS: weakref.WeakSet[CalvinEnv] = weakref.WeakSet()


class CalvinEnv(gym.Env):
    """CALVIN's play table in calvin_env's PyBullet simulator, behind the Gymnasium API.

    ## Description
    A Franka Panda at CALVIN's desk (sliding door, drawer, button + LED, switch + light bulb, three
    blocks). The env is built the way CALVIN's evaluation builds it: from a dataset split folder's
    ``.hydra/merged_config.yaml`` (``dataset_path=``), or from calvin_env's ``conf/`` folder and
    a scene name (``conf_dir=``, ``scene=``). Success is judged by calvin_env's own task oracle
    (``conf/tasks/new_playtable_tasks.yaml``), or by :class:`envs.tasks.TaskOracle` when
    ``oracle="vla_agent"``. Same observations, actions and episode rules as the embedded
    play table (``vla_agent/PlayTable-v0``).

    ## Action Space
    ``action_mode="relative"``: ``Box(-1, 1, (7,), float32)``, CALVIN's ``rel_actions``
    (1.0 = 0.02 m / 0.05 rad, added to calvin_env's target pose; gripper > 0 opens, else closes).
    ``action_mode="absolute"``: a (7,) world TCP target [x, y, z, euler xyz, gripper], or a
    3-tuple ``(pos, euler or quaternion, gripper)``. Non-finite values or a wrong shape raise
    ``ValueError`` before anything reaches the simulator; the caller's array is never modified.

    ## Observation Space
    ``Dict``: ``rgb_static`` uint8 (200, 200, 3), ``rgb_gripper`` uint8 (84, 84, 3) (only the
    cameras in ``cameras``), ``depth_*`` float32 metres when ``depth=True``, ``robot_obs`` float32
    (15,), ``scene_obs`` float32 (24,), in CALVIN's order.

    ## Rewards
    1.0 on the step the instructed task completes, else 0.0.

    ## Starting State
    As the embedded play table: ``reset(seed, options)``; ``options`` may hold ``task`` (a name)
    or ``instruction`` (a known sentence), and a start state: ``robot_obs`` / ``scene_obs``
    (exact), or ``condition`` (CALVIN's symbolic state dict, placed by
    :func:`envs.symbolic.scene_from_condition` with CALVIN's fixed per-condition layout). With a task but no
    state, a random symbolic state in which the task's precondition holds is sampled; with
    neither, a random CALVIN initial condition and a random task possible in it (or the
    constructor's ``task``). A ``grasped`` block is put between the open fingers at the neutral
    pose and the gripper closed on it. Robot at CALVIN's neutral pose unless ``robot_obs`` is given.

    ## Episode End
    ``terminated`` when the instructed task completes; ``truncated`` after ``max_episode_steps``
    (360, CALVIN's per-subtask budget) steps since the subtask started (``reset`` or
    ``set_task``).

    ## Info
    ``task``, ``instruction``, ``is_success``, ``completed_tasks`` (sorted, every task the oracle
    reported since the subtask started). Attributes on ``env.unwrapped``: ``task``,
    ``instruction``, ``elapsed_steps``, ``start_info``, ``task_oracle``, ``sim`` (the calvin_env
    env), and the methods ``set_task``, ``get_state``, ``scene_info``.

    ## Arguments
    dataset_path: CALVIN split folder (``task_D_D/validation``); or ``conf_dir``/``scene``.
    conf_dir: calvin_env's ``conf`` folder (``None``: the installed checkout's).
    scene: scene YAML name (default ``calvin_scene_D``; with ``dataset_path`` it replaces the
        recorded scene). robot: robot YAML for ``conf_dir`` builds.
    cameras: subset of ``("static", "gripper")``; ``()`` skips rendering (much faster).
    depth: add depth images. renderer: ``"egl"`` or ``"tiny"`` (CPU).
    action_mode: ``"relative"`` or ``"absolute"``. oracle: ``"calvin_env"`` or ``"vla_agent"``.
    tasks_config: calvin_env tasks YAML. max_episode_steps: per-subtask step budget.
    seed: calvin_env's own seed (its config's ``seed``).
    render_mode: ``None`` or ``"rgb_array"`` (the static camera image).
    task: fixed task name for resets without one, or None.
    sim, task_oracle: an already-built calvin_env env / ``Tasks`` oracle to wrap instead.

    ## Version History
    v0: first version (calvin_env HEAD 797142c).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": C.CONTROL_FREQ}

    def __init__(
        self,
        dataset_path: str | os.PathLike[str] | None = None,
        *,
        conf_dir: str | os.PathLike[str] | None = None,
        scene: str | None = None,
        robot: str = backend.DEFAULT_ROBOT,
        cameras: Sequence[str] = backend.CAMERAS,
        depth: bool = False,
        renderer: str = "egl",
        action_mode: str = "relative",
        oracle: str = "calvin_env",
        tasks_config: str | os.PathLike[str] | None = None,
        max_episode_steps: int = C.EP_LEN,
        seed: int = 0,
        render_mode: str | None = None,
        task: str | None = None,
        sim: Any | None = None,
        task_oracle: Any | None = None,
    ) -> None:
        if action_mode not in ACTION_MODES:
            raise ValueError(f"action_mode: expected one of {ACTION_MODES}, got {action_mode!r}")
        if oracle not in ORACLES:
            raise ValueError(f"oracle: expected one of {ORACLES}, got {oracle!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        if int(max_episode_steps) < 1:
            raise ValueError(f"max_episode_steps: expected >= 1, got {max_episode_steps}")
        if task is not None:
            check_task(task)
        self.cameras = backend._check_cameras(cameras)
        if render_mode == "rgb_array" and "static" not in self.cameras:
            raise ValueError(f"render_mode='rgb_array' needs the static camera, got cameras={self.cameras}")
        self.depth = bool(depth)
        self.action_mode = action_mode
        self.oracle = oracle
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = render_mode
        self.default_task = task
        self._owns_world = sim is None

        if sim is None:
            if _any_open_world():
                raise RuntimeError(
                    "a calvin_env world is already open in this process; calvin_env supports one env per "
                    "process (close() the other, or use AsyncVectorEnv / separate processes)"
                )
            backend.require_calvin_env()  # the install hint comes before any other complaint
            _check_client_zero_free()
            if dataset_path is not None:
                cfg = backend.load_dataset_config(dataset_path, scene=scene)
            else:
                cfg = backend.compose_config(
                    conf_dir, scene=scene or backend.DEFAULT_SCENE, robot=robot, seed=seed
                )
            sim = backend.make_sim(cfg, cameras=self.cameras, renderer=renderer, seed=seed)
            if getattr(sim, "cid", 0) != 0:
                backend.close_sim(sim)
                raise RuntimeError(f"calvin_env connected as PyBullet client {sim.cid}; {CLIENT_ZERO}")
            _OPEN_WORLDS.add(self)
        else:
            have = [getattr(cam, "name", None) for cam in getattr(sim, "cameras", [])]
            if not set(self.cameras) <= set(have):
                raise ValueError(
                    f"cameras: {self.cameras} not all rendered by the given sim, which has {have}"
                )
        self._sim: Any | None = sim
        try:
            if oracle == "calvin_env":
                self.task_oracle = (
                    task_oracle if task_oracle is not None else backend.make_task_oracle(tasks_config)
                )
            else:
                from envs.tasks import TaskOracle

                self.task_oracle = task_oracle if task_oracle is not None else TaskOracle()
        except BaseException:
            self.close()  # do not leave a half-built world holding the process's one slot
            raise

        cams = [cam for cam in getattr(sim, "cameras", []) if getattr(cam, "name", None) in self.cameras]
        sizes = {cam.name: (int(cam.height), int(cam.width)) for cam in cams}
        far = {cam.name: float(cam.farval) for cam in cams if hasattr(cam, "farval")}
        self.observation_space = observation_space(self.cameras, self.depth, sizes, far)
        self.action_space = _action_space(action_mode)
        self._names = NameTable(sim.get_info(), *_world_names(sim))
        self.task: str = task or C.TASK_NAMES[0]
        self.instruction: str = ""
        self.elapsed_steps = 0
        self._start_raw: dict[str, Any] | None = None
        self._completed: set[str] = set()
        self._last_obs: dict[str, np.ndarray] | None = None

    # --- Gymnasium API -------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        sim = self._require_sim()
        opts = dict(options or {})
        unknown = sorted(set(opts) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"options: unknown keys {unknown}, expected a subset of {RESET_OPTIONS}")
        resolved = resolve_task(opts.get("task"), opts.get("instruction"))
        robot_obs, scene_obs, grasped, state = self._start_state(opts, resolved)
        if resolved is None:
            resolved = resolve_task(choose_task(state, self.default_task, self.np_random), None)
        self._clear_block_contacts()
        robot = getattr(sim, "robot", None)
        if robot is not None:
            # calvin_env's robot reset leaves the last commanded gripper action (robot_obs[14]) as is
            robot.gripper_action = (
                int(C.GRIPPER_OPEN) if robot_obs[C.GRIPPER_ACTION] > 0 else int(C.GRIPPER_CLOSE)
            )
        raw = sim.reset(robot_obs=robot_obs, scene_obs=scene_obs)
        if grasped is not None:
            raw = self._close_gripper_on(grasped)
        self.task, self.instruction = resolved
        self._restart_subtask()
        obs = translate_obs(raw, self.cameras, self.depth)
        self._last_obs = obs
        return obs, self._info(False)

    def _start_state(
        self, opts: Mapping[str, Any], resolved: tuple[str, str] | None
    ) -> tuple[np.ndarray, np.ndarray, str | None, dict[str, Any] | None]:
        """Exact start state from the options, as the embedded play table chooses it."""
        robot_obs = (
            None
            if opts.get(C.ROBOT_OBS) is None
            else _check_vec(opts[C.ROBOT_OBS], C.ROBOT_OBS, C.ROBOT_OBS_DIM)
        )
        scene_obs = (
            None
            if opts.get(C.SCENE_OBS) is None
            else _check_vec(opts[C.SCENE_OBS], C.SCENE_OBS, C.SCENE_OBS_DIM)
        )
        task = resolved[0] if resolved is not None else self.default_task
        return choose_start_state(robot_obs, scene_obs, opts.get("condition"), task, self.np_random)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        sim = self._require_sim()
        calvin_action = to_calvin_action(action, self.action_mode)  # ValueError before the sim
        if self._start_raw is None:
            raise RuntimeError("step: call reset() before step()")
        raw, _, _, raw_info = sim.step(calvin_action)
        self.elapsed_steps += 1
        self._completed |= self._completed_now(raw_info)
        success = self.task in self._completed
        truncated = not success and self.elapsed_steps >= self.max_episode_steps
        obs = translate_obs(raw, self.cameras, self.depth)
        self._last_obs = obs
        return obs, float(success), bool(success), bool(truncated), self._info(success)

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        if self._last_obs is None:
            raise RuntimeError("render() called before reset()")
        return self._last_obs[C.RGB_STATIC].copy()

    def close(self) -> None:
        sim, self._sim = self._sim, None
        if sim is not None:
            if self._owns_world:
                backend.close_sim(sim)
            else:
                sim.close()
        _OPEN_WORLDS.discard(self)

    # --- project API (same as the embedded play table) -----------------------------------------
    def set_task(self, task: str | None = None, instruction: str | None = None) -> None:
        """Switch to another subtask without touching the scene; restarts the subtask clock and
        the oracle's start snapshot (CALVIN's chains).

        Args:
            task: one of :data:`envs.constants.TASK_NAMES`.
            instruction: its sentence; derived from the other when only one is given.
        """
        self._require_sim()
        resolved = resolve_task(task, instruction)
        if resolved is None:
            raise ValueError("set_task: expected a task name or an instruction, received neither")
        self.task, self.instruction = resolved
        self._restart_subtask()

    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        """``(robot_obs (15,), scene_obs (24,))`` float64 in CALVIN's index meaning."""
        state = self._require_sim().get_state_obs()
        return np.array(state[C.ROBOT_OBS], dtype=np.float64), np.array(state[C.SCENE_OBS], dtype=np.float64)

    def scene_info(self) -> SceneInfo:
        """What the task oracle sees now, with calvin_env's uids turned into names."""
        return scene_info_from_calvin(self._require_sim().get_info(), self._names)

    @property
    def start_info(self) -> SceneInfo | None:
        """The oracle's snapshot at the start of the current subtask."""
        return None if self._start_raw is None else scene_info_from_calvin(self._start_raw, self._names)

    @property
    def sim(self) -> Any:
        """The wrapped calvin_env env (old gym API)."""
        return self._require_sim()

    # --- internals -----------------------------------------------------------------------------
    def _require_sim(self) -> Any:
        if self._sim is None:
            raise RuntimeError("the env is closed")
        return self._sim

    def _restart_subtask(self) -> None:
        self._start_raw = self._require_sim().get_info()
        self.elapsed_steps = 0
        self._completed = set()

    def _completed_now(self, info: Mapping[str, Any]) -> set[str]:
        assert self._start_raw is not None
        if self.oracle == "vla_agent":
            start = scene_info_from_calvin(self._start_raw, self._names)
            return set(self.task_oracle.completed(start, scene_info_from_calvin(info, self._names)))
        return set(self.task_oracle.get_task_info(self._start_raw, info))

    def _info(self, success: bool) -> dict[str, Any]:
        return {
            "task": self.task,
            "instruction": self.instruction,
            "is_success": bool(success),
            "completed_tasks": sorted(self._completed),
        }

    def _clear_block_contacts(self) -> None:
        """Forget the blocks' old contacts and velocities before calvin_env places them.

        calvin_env's reset only sets poses: blocks keep their velocities, and PyBullet keeps the
        cached contact manifolds (and their warm-start impulses) of bodies that still overlap,
        so the same seeded reset would settle differently after different episodes. Moving the
        blocks far apart and running collision detection drops those caches; resets are then
        exactly repeatable.
        """
        sim = self._require_sim()
        scene = getattr(sim, "scene", None)
        if scene is None or not hasattr(sim, "p"):
            return
        import pybullet

        for i, obj in enumerate(getattr(scene, "movable_objects", [])):
            pybullet.resetBasePositionAndOrientation(
                obj.uid,
                [PARK_DISTANCE + i, PARK_DISTANCE, PARK_DISTANCE],
                [0, 0, 0, 1],
                physicsClientId=sim.cid,
            )
            pybullet.resetBaseVelocity(obj.uid, [0, 0, 0], [0, 0, 0], physicsClientId=sim.cid)
        pybullet.performCollisionDetection(physicsClientId=sim.cid)

    def _close_gripper_on(self, block: str) -> Any:
        """Close the gripper on ``block``, which the reset placed between the open fingers.

        Gravity is off while the fingers close, so the block does not drop before they hold it.
        """
        sim = self._require_sim()
        close = np.zeros(C.ACTION_DIM, dtype=np.float64)
        close[6] = C.GRIPPER_CLOSE
        client = getattr(sim, "cid", None) if hasattr(sim, "p") else None
        if client is not None:
            import pybullet

            pybullet.setGravity(0, 0, 0, physicsClientId=client)
        try:
            for _ in range(GRASP_STEPS):
                raw, *_ = sim.step(close.copy())
        finally:
            if client is not None:
                pybullet.setGravity(0, 0, -9.8, physicsClientId=client)
        return raw


CLIENT_ZERO = (
    "calvin_env needs PyBullet client 0 of this process (it creates the robot's pedestal and reads "
    "joint states for IK without naming a client), but another PyBullet connection (a PlayTableEnv, "
    "another simulator) holds it: build the CalvinEnv first, or in its own process"
)


def _check_client_zero_free() -> None:
    import pybullet

    if pybullet.isConnected(0):
        raise RuntimeError(CLIENT_ZERO)


def _any_open_world() -> bool:
    return any(env._sim is not None for env in list(_OPEN_WORLDS))


def _action_space(mode: str) -> spaces.Box:
    if mode == "relative":
        return spaces.Box(-1.0, 1.0, (C.ACTION_DIM,), np.float32)
    # absolute: generous bounds around the desk (m) and euler angles (rad), as the embedded env
    low = np.array([-1.5, -1.5, -0.5, -2 * np.pi, -2 * np.pi, -2 * np.pi, -1.0], np.float32)
    return spaces.Box(low, -low * np.array([1, 1, 4, 1, 1, 1, 1], np.float32), dtype=np.float32)


def _world_names(sim: Any) -> tuple[dict[int, str], dict[int, dict[int, str]]]:
    """Body names of everything in the PyBullet world, and the robot's link names."""
    cid = getattr(sim, "cid", None)
    if cid is None or not hasattr(sim, "p"):
        return {}, {}
    import pybullet

    bodies: dict[int, str] = {}
    links: dict[int, dict[int, str]] = {}
    for i in range(pybullet.getNumBodies(physicsClientId=cid)):
        uid = pybullet.getBodyUniqueId(i, physicsClientId=cid)
        base, name = (s.decode() for s in pybullet.getBodyInfo(uid, physicsClientId=cid))
        bodies[uid] = name or base
        links[uid] = {
            j: pybullet.getJointInfo(uid, j, physicsClientId=cid)[12].decode()
            for j in range(pybullet.getNumJoints(uid, physicsClientId=cid))
        }
    return bodies, links


def _check_vec(value: Any, name: str, dim: int) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.shape != (dim,):
        raise ValueError(f"options[{name!r}]: expected shape ({dim},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"options[{name!r}]: expected finite values, got {arr.tolist()}")
    return arr
