"""``PlayTableEnv``: CALVIN's scene-D play table embedded in PyBullet as a Gymnasium env.

Privileged access (stable API for scripted experts and the data generator), on ``env.unwrapped``:

* ``get_state() -> (robot_obs (15,), scene_obs (24,))`` float64, CALVIN index meaning;
* ``scene_info() -> envs.state.SceneInfo``: what the task oracle compares (named contacts);
* ``landmarks() -> dict[str, np.ndarray]``: world positions (3,) of ``drawer_handle``,
  ``slider_handle``, ``button_top``, ``switch_handle``, ``slot_left``, ``slot_right``,
  ``drawer_center``, ``led``, ``lightbulb``, ``tcp`` and each block (``block_red`` …);
* ``robot_mask(camera) -> bool (H, W)``: the robot's pixels in the current frame of ``"static"``
  or ``"gripper"`` (from PyBullet's segmentation buffer);
* ``set_task(task=None, instruction=None)``: change the instructed task without touching the
  scene; restarts the subtask clock and the oracle's start snapshot (CALVIN's chains);
* ``put_block_in_gripper(block)``: teleport a block between the fingers and close them;
* ``task_oracle``, ``start_info``, ``task``, ``instruction``, ``elapsed_steps``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
from gymnasium import spaces

from envs import constants as C
from envs.play_table.camera import CAMERAS, Renderer
from envs.play_table.lights import Lights
from envs.play_table.robot import Panda
from envs.play_table.scene import Desk, create_blocks, create_floor
from envs.play_table.validation import check_action, check_robot_obs, check_scene_obs
from envs.start_state import check_task, choose_start_state, choose_task, resolve_task
from envs.state import BlockInfo, SceneInfo
from envs.tasks import TaskOracle

CONTACT_DISTANCE = 0.002  # m: contact points farther apart than this do not count as touching
GRASP_SETTLE_SUBSTEPS = 40  # physics substeps to close the gripper on a block at reset
RESET_OPTIONS = ("task", "instruction", "robot_obs", "scene_obs", "condition")
ACTION_MODES = ("relative", "absolute")


class PlayTableEnv(gym.Env):
    """CALVIN's scene-D play table: a Franka Panda, a desk with a sliding door, a drawer, a button
    with a green LED, a switch with a yellow bulb and three blocks, with CALVIN's 34-task oracle.

    ## Description
    The desk, its joints and the blocks sit in CALVIN's world coordinates (robot base at
    (-0.34, -0.46, 0.24)); a language instruction names one of 34 tasks, and the episode succeeds
    when CALVIN's task oracle reports that task. Physics runs at 240 Hz, 8 substeps per action
    (30 Hz). Rendering uses PyBullet's CPU TinyRenderer.

    ## Action Space
    ``Box(-1, 1, (7,), float32)`` in ``action_mode="relative"`` (default): CALVIN relative actions,
    clipped to [-1, 1]: position delta x 0.02 m and euler delta x 0.05 rad (world frame), added to an
    internal target pose (reset to the measured TCP pose at ``reset``), then IK to joint position
    targets; ``action[6] > 0`` opens the gripper, otherwise it closes. In ``action_mode="absolute"``
    the 7 numbers are the TCP target x, y, z (m), euler x, y, z (rad) and the gripper.
    Non-finite values or a wrong shape raise ``ValueError``.

    ## Observation Space
    ``Dict`` with ``rgb_static`` uint8 (200, 200, 3) and ``rgb_gripper`` uint8 (84, 84, 3) (HWC,
    RGB; each only when its camera is in ``cameras``), ``robot_obs`` float32 (15,) and
    ``scene_obs`` float32 (24,) in CALVIN's order (see ``envs.constants``), and with
    ``depth=True`` also ``depth_static`` / ``depth_gripper`` float32 (H, W) in metres.

    ## Rewards
    1.0 on the step the instructed task completes, else 0.0.

    ## Starting State
    ``reset(seed, options)``; ``options`` may hold ``task`` (a name) or ``instruction`` (a known
    sentence), and a start state: ``robot_obs`` / ``scene_obs`` (exact, validated), or
    ``condition`` (CALVIN's symbolic state dict, see ``envs.symbolic``). With a task but no state, a
    random symbolic state in which the task's precondition holds is sampled; with neither, a random
    CALVIN initial condition and a random task possible in it (or the constructor's ``task``). A
    ``grasped`` block is put between the open fingers at the neutral pose and the gripper closed.

    ## Episode End
    ``terminated`` when the instructed task completes; ``truncated`` after ``max_episode_steps``
    steps since the (sub)task started. ``info``: ``task``, ``instruction``, ``is_success``,
    ``completed_tasks`` (sorted, every task the oracle reported since the subtask started).

    ## Arguments
    ``render_mode`` (None or "rgb_array": ``render()`` returns the static image), ``cameras``
    (subset of ("static", "gripper"); ``()`` gives observations without images, the fast path),
    ``depth`` (bool), ``action_mode`` ("relative" / "absolute"), ``max_episode_steps`` (360, counted
    from the last ``reset`` or ``set_task``; note that ``gymnasium.make(..., max_episode_steps=N)`` does
    not reach the env but adds gymnasium's ``TimeLimit``, which counts from ``reset`` only),
    ``task`` (fixed task name for plain resets, or None), ``render`` (False: no camera images,
    same as ``cameras=()``).

    ## Version History
    * v0: first version (embedded scene D, CALVIN oracle, TinyRenderer).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": C.CONTROL_FREQ}

    def __init__(
        self,
        render_mode: str | None = None,
        cameras: Sequence[str] = ("static", "gripper"),
        depth: bool = False,
        action_mode: str = "relative",
        max_episode_steps: int = C.EP_LEN,
        task: str | None = None,
        render: bool = True,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected None or 'rgb_array', received {render_mode!r}")
        cams = tuple(cameras) if render else ()
        for cam in cams:
            if cam not in CAMERAS:
                raise ValueError(f"cameras: expected names from {tuple(CAMERAS)}, received {cam!r}")
        if action_mode not in ACTION_MODES:
            raise ValueError(f"action_mode: expected one of {ACTION_MODES}, received {action_mode!r}")
        if not isinstance(max_episode_steps, int) or max_episode_steps < 1:
            raise ValueError(f"max_episode_steps: expected a positive int, received {max_episode_steps!r}")
        if task is not None:
            check_task(task)
        self.render_mode = render_mode
        self.cameras = cams
        self.depth = bool(depth)
        self.action_mode = action_mode
        self.max_episode_steps = max_episode_steps
        self.default_task = task

        self.action_space = self._make_action_space()
        self.observation_space = self._make_observation_space()

        self.client = p.connect(p.DIRECT)
        p.setGravity(0, 0, -9.81, physicsClientId=self.client)
        p.setTimeStep(1.0 / C.PHYSICS_FREQ, physicsClientId=self.client)
        p.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=self.client)
        self.floor = create_floor(p, self.client)
        self.desk = Desk(p, self.client)
        self.blocks = create_blocks(p, self.client)
        self.robot = Panda(p, self.client)
        self.lights = Lights(self.desk)
        self.renderer = Renderer(p, self.client)
        self.body_names = {self.robot.uid: "robot", self.desk.uid: "table", self.floor: "floor"}
        self.body_names.update({uid: name for name, uid in self.blocks.items()})
        self.task_oracle = TaskOracle()
        self.task: str = task or C.TASK_NAMES[0]
        self.instruction: str = ""
        self.start_info: SceneInfo | None = None
        self.elapsed_steps = 0
        self._completed: set[str] = set()
        self._clean_state = p.saveState(physicsClientId=self.client)

    # --- spaces ---------------------------------------------------------------------------------
    def _make_action_space(self) -> spaces.Box:
        if self.action_mode == "relative":
            return spaces.Box(-1.0, 1.0, (C.ACTION_DIM,), np.float32)
        low = np.array([-1.5, -1.5, -0.5, -2 * np.pi, -2 * np.pi, -2 * np.pi, -1.0], np.float32)
        return spaces.Box(low, -low * np.array([1, 1, 4, 1, 1, 1, 1], np.float32), dtype=np.float32)

    def _make_observation_space(self) -> spaces.Dict:
        d: dict[str, spaces.Space] = {}
        for cam, key, dkey in (
            ("static", C.RGB_STATIC, C.DEPTH_STATIC),
            ("gripper", C.RGB_GRIPPER, C.DEPTH_GRIPPER),
        ):
            if cam in self.cameras:
                s = CAMERAS[cam]
                d[key] = spaces.Box(0, 255, (s.size, s.size, 3), np.uint8)
                if self.depth:
                    d[dkey] = spaces.Box(0.0, s.far, (s.size, s.size), np.float32)
        d[C.ROBOT_OBS] = spaces.Box(-np.inf, np.inf, (C.ROBOT_OBS_DIM,), np.float32)
        d[C.SCENE_OBS] = spaces.Box(-np.inf, np.inf, (C.SCENE_OBS_DIM,), np.float32)
        return spaces.Dict(d)

    # --- tasks ----------------------------------------------------------------------------------
    def set_task(self, task: str | None = None, instruction: str | None = None) -> None:
        """Change the instructed task without resetting the scene; restarts the subtask clock."""
        resolved = resolve_task(task, instruction)
        if resolved is None:
            raise ValueError("set_task: expected a task name or an instruction, received neither")
        self.task, self.instruction = resolved
        self._restart_subtask()

    def _restart_subtask(self) -> None:
        self.start_info = self.scene_info()
        self.elapsed_steps = 0
        self._completed = set()

    # --- state ------------------------------------------------------------------------------------
    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        """``(robot_obs (15,), scene_obs (24,))`` float64 in CALVIN's index meaning."""
        return self.robot.observation(), self._scene_obs()

    def _scene_obs(self) -> np.ndarray:
        out = np.empty(C.SCENE_OBS_DIM, dtype=np.float64)
        out[C.SLIDER] = self.desk.joint("slider")
        out[C.DRAWER] = self.desk.joint("drawer")
        out[C.BUTTON] = self.desk.joint("button")
        out[C.SWITCH] = self.desk.joint("switch")
        out[C.LIGHTBULB] = self.lights.lightbulb
        out[C.LED] = self.lights.led
        for name, sl in C.BLOCK_SLICES.items():
            pos, orn = p.getBasePositionAndOrientation(self.blocks[name], physicsClientId=self.client)
            out[sl.start : sl.start + 3] = pos
            out[sl.start + 3 : sl.stop] = p.getEulerFromQuaternion(orn)
        return out

    def _set_scene(self, scene_obs: np.ndarray) -> None:
        for key, idx in (
            ("slider", C.SLIDER),
            ("drawer", C.DRAWER),
            ("button", C.BUTTON),
            ("switch", C.SWITCH),
        ):
            self.desk.set_joint(key, scene_obs[idx])
        for name, sl in C.BLOCK_SLICES.items():
            v = scene_obs[sl]
            quat = p.getQuaternionFromEuler(v[3:6].tolist())
            p.resetBasePositionAndOrientation(self.blocks[name], v[:3].tolist(), quat, physicsClientId=self.client)
            p.resetBaseVelocity(self.blocks[name], [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
        self.lights.reset(led=int(scene_obs[C.LED]), lightbulb=int(scene_obs[C.LIGHTBULB]))

    def _contacts(self, uid: int) -> frozenset[tuple[str, str]]:
        # Closest points within CONTACT_DISTANCE rather than the solver's contact manifold: they
        # are exact right after a hard reset too (no simulation step needed) and ignore the
        # solver's contact-breaking margin of ~2 cm.
        out = set()
        for other, body in self.body_names.items():
            if other == uid:
                continue
            for c in p.getClosestPoints(uid, other, CONTACT_DISTANCE, physicsClientId=self.client):
                if other == self.desk.uid:
                    link = self.desk.link_names.get(c[4], str(c[4]))
                elif other == self.robot.uid:
                    link = self.robot.link_names.get(c[4], str(c[4]))
                else:
                    link = "base_link"
                out.add((body, link))
        return frozenset(out)

    def scene_info(self) -> SceneInfo:
        """Snapshot of what the task oracle looks at (named contacts, see ``envs.state``)."""
        blocks = {}
        for name, uid in self.blocks.items():
            pos, orn = p.getBasePositionAndOrientation(uid, physicsClientId=self.client)
            lin, ang = p.getBaseVelocity(uid, physicsClientId=self.client)
            blocks[name] = BlockInfo(np.array(pos), np.array(orn), np.array(lin), np.array(ang), self._contacts(uid))
        return SceneInfo(
            doors={"slider": self.desk.joint("slider"), "drawer": self.desk.joint("drawer")},
            lights={"lightbulb": self.lights.lightbulb, "led": self.lights.led},
            blocks=blocks,
            robot_contacts=self._contacts(self.robot.uid),
        )

    def landmarks(self) -> dict[str, np.ndarray]:
        """World positions (3,) of interaction points, the TCP and the block centres."""
        out = self.desk.landmarks()
        out["tcp"] = self.robot.tcp_pose()[0]
        for name, uid in self.blocks.items():
            out[name] = np.asarray(p.getBasePositionAndOrientation(uid, physicsClientId=self.client)[0])
        return out

    def robot_mask(self, camera: str = "static") -> np.ndarray:
        """Boolean (H, W) mask of the robot arm's pixels in the current frame of ``camera``."""
        if camera not in CAMERAS:
            raise ValueError(f"camera: expected one of {tuple(CAMERAS)}, received {camera!r}")
        _, _, seg = self.renderer.render(camera, self.robot.hand_pose(), segmentation=True)
        assert seg is not None
        return seg == self.robot.uid

    # --- gym API --------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        opts = dict(options or {})
        unknown = sorted(set(opts) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"options: expected keys from {RESET_OPTIONS}, received unknown {unknown}")
        resolved = resolve_task(opts.get("task"), opts.get("instruction"))
        robot_obs = check_robot_obs(opts["robot_obs"]) if opts.get("robot_obs") is not None else None
        scene_obs = check_scene_obs(opts["scene_obs"]) if opts.get("scene_obs") is not None else None
        task_hint = resolved[0] if resolved is not None else self.default_task
        robot_obs, scene_obs, grasped, state = choose_start_state(
            robot_obs, scene_obs, opts.get("condition"), task_hint, self.np_random
        )
        if resolved is None:
            resolved = resolve_task(choose_task(state, self.default_task, self.np_random), None)
        self.task, self.instruction = resolved

        self._forget_contacts()
        self.robot.reset(robot_obs)
        self._set_scene(scene_obs)
        if grasped is not None:
            self.put_block_in_gripper(grasped)
        self._restart_subtask()
        return self._observation(), self._info(False)

    def _forget_contacts(self) -> None:
        # Bullet keeps contact manifolds (and their warm-start impulses) of touching pairs across
        # teleports. Parking every block far apart for one collision pass drops them, so a reset
        # does not depend on the previous episode: same seed and actions, same trajectory.
        p.restoreState(stateId=self._clean_state, physicsClientId=self.client)
        for i, uid in enumerate(self.blocks.values()):
            p.resetBasePositionAndOrientation(
                uid, [20.0 + 5.0 * i, 20.0, 5.0], [0, 0, 0, 1], physicsClientId=self.client
            )
        p.performCollisionDetection(physicsClientId=self.client)

    def _simulate(self, substeps: int) -> None:
        # the button is read every substep so that a short press is never missed
        for _ in range(substeps):
            p.stepSimulation(physicsClientId=self.client)
            self.lights.step()

    def put_block_in_gripper(self, block: str) -> None:
        """Put ``block`` between the fingers at the current TCP and close the gripper on it.

        Used by ``reset`` for a ``grasped`` block; also a privileged helper for tests and data
        generation. Runs a few physics substeps (the rest of the scene moves with them).
        """
        if block not in self.blocks:
            raise ValueError(f"block: expected one of {tuple(self.blocks)}, received {block!r}")
        pos, orn = self.robot.tcp_pose()
        # block z up (the hand points down), its 4 cm side across the fingers (hand y axis)
        flip = p.getQuaternionFromEuler([np.pi, 0.0, 0.0])
        _, quat = p.multiplyTransforms([0, 0, 0], orn.tolist(), [0, 0, 0], flip)
        p.resetBasePositionAndOrientation(self.blocks[block], pos.tolist(), quat, physicsClientId=self.client)
        p.resetBaseVelocity(self.blocks[block], [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
        self.robot.apply_absolute(np.concatenate([self.robot.target_pos, self.robot.target_orn, [-1.0]]))
        self._simulate(GRASP_SETTLE_SUBSTEPS)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        a = check_action(action)
        if self.start_info is None:
            raise RuntimeError("step: call reset() before step()")
        if self.action_mode == "relative":
            self.robot.apply_relative(np.clip(a, -1.0, 1.0))
        else:
            self.robot.apply_absolute(a)
        self._simulate(C.ACTION_REPEAT)
        self.elapsed_steps += 1
        self._completed |= self.task_oracle.completed(self.start_info, self.scene_info())
        success = self.task in self._completed
        truncated = (not success) and self.elapsed_steps >= self.max_episode_steps
        return self._observation(), float(success), success, truncated, self._info(success)

    def _info(self, success: bool) -> dict[str, Any]:
        return {
            "task": self.task,
            "instruction": self.instruction,
            "is_success": bool(success),
            "completed_tasks": sorted(self._completed),
        }

    def _observation(self) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {}
        hand = self.robot.hand_pose() if "gripper" in self.cameras else None
        for cam, key, dkey in (
            ("static", C.RGB_STATIC, C.DEPTH_STATIC),
            ("gripper", C.RGB_GRIPPER, C.DEPTH_GRIPPER),
        ):
            if cam in self.cameras:
                rgb, dep, _ = self.renderer.render(cam, hand, depth=self.depth)
                obs[key] = rgb
                if self.depth:
                    assert dep is not None
                    obs[dkey] = dep
        robot_obs, scene_obs = self.get_state()
        obs[C.ROBOT_OBS] = robot_obs.astype(np.float32)
        obs[C.SCENE_OBS] = scene_obs.astype(np.float32)
        return obs

    def render(self) -> np.ndarray | None:
        """The static camera image, uint8 (200, 200, 3), when ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array":
            return None
        return self.renderer.render("static")[0]

    def close(self) -> None:
        if getattr(self, "client", None) is not None and p.isConnected(self.client):
            p.disconnect(self.client)
        self.client = None  # type: ignore[assignment]
