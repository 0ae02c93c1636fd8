"""From desired TCP poses to CALVIN relative actions, smooth and speed-limited.

The env (like CALVIN) integrates each relative action on an internal *target* pose rather than
on the measured TCP pose, so the controller mirrors that target: it commands the step from its
own copy of the target towards the goal and integrates exactly the (clipped, float32) action it
sends. Both then stay equal, and the arm's tracking lag never accumulates into drift.
"""

from __future__ import annotations

import math

import numpy as np

from envs.constants import GRIPPER_ACTION, GRIPPER_OPEN, MAX_REL_ORN, MAX_REL_POS, TCP_ORN, TCP_POS
from envs.experts.geometry import nearest_equivalent_yaw, wrap_angle

NEUTRAL_YAW = 1.5  # CALVIN's neutral TCP yaw, rad


class MotionController:
    """Speed- and acceleration-limited Cartesian motion by relative actions.

    Args:
        accel: largest change of commanded speed per step, m/step^2; also sets the braking
            distance so that motions ease in and out like a person's.
        ang_speed: largest rotation per step about each axis, rad/step.
    """

    def __init__(self, accel: float = 0.0012, ang_speed: float = 0.04) -> None:
        self.accel = float(accel)
        self.ang_speed = float(ang_speed)
        self.pos = np.zeros(3)
        self.euler = np.zeros(3)
        self.speed = 0.0  # current commanded speed, m/step
        self.gripper = GRIPPER_OPEN

    def sync(self, robot_obs: np.ndarray, target: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Re-anchor the mirrored target on the env's target (when known) or the measured pose.

        Args:
            robot_obs: (15,) CALVIN robot observation.
            target: the env's internal (pos (3,), euler (3,)) target when the env exposes it.
        """
        if target is not None:
            self.pos = np.asarray(target[0], dtype=np.float64).copy()
            self.euler = np.asarray(target[1], dtype=np.float64).copy()
        else:
            self.pos = np.asarray(robot_obs[TCP_POS], dtype=np.float64).copy()
            self.euler = np.asarray(robot_obs[TCP_ORN], dtype=np.float64).copy()
        # yaw is tracked continuously (not wrapped): the wrist turns the way the numbers say and
        # never the "short way" across its joint limit
        self.euler[2] = nearest_equivalent_yaw(float(self.euler[2]), NEUTRAL_YAW, 2 * math.pi)
        self.speed = 0.0
        # keep commanding what the gripper last did (a block in the hand stays held)
        self.gripper = GRIPPER_OPEN if float(robot_obs[GRIPPER_ACTION]) > 0 else -GRIPPER_OPEN

    def distance_to(self, goal_pos: np.ndarray) -> float:
        """Distance (m) from the mirrored target to ``goal_pos``."""
        return float(np.linalg.norm(np.asarray(goal_pos) - self.pos))

    def angle_to(self, goal_euler: np.ndarray) -> float:
        """Largest per-axis angle (rad) from the mirrored target orientation to ``goal_euler``."""
        return float(np.max(np.abs(self._angle_delta(np.asarray(goal_euler, dtype=np.float64)))))

    def _angle_delta(self, goal_euler: np.ndarray) -> np.ndarray:
        # roll and pitch wrap (roll sits near +-pi); yaw goals are absolute, continuous angles
        d = np.asarray(wrap_angle(goal_euler - self.euler), dtype=np.float64)
        d[2] = goal_euler[2] - self.euler[2]
        return d

    def step(
        self,
        goal_pos: np.ndarray,
        goal_euler: np.ndarray | None,
        max_speed: float,
        gripper: float,
    ) -> np.ndarray:
        """One relative action towards a goal pose.

        Args:
            goal_pos: (3,) desired TCP position, world, m.
            goal_euler: (3,) desired TCP euler xyz, rad; None keeps the current orientation.
            max_speed: cruise speed, m/step (0.02 is CALVIN's full-scale action).
            gripper: +1 open, -1 close.

        Returns:
            (7,) float32 action in [-1, 1].
        """
        delta = np.asarray(goal_pos, dtype=np.float64) - self.pos
        dist = float(np.linalg.norm(delta))
        # trapezoidal speed profile: accelerate, cruise, brake to stop at the goal
        brake = math.sqrt(0.25 * self.accel**2 + 2.0 * self.accel * dist) - 0.5 * self.accel
        speed = min(max_speed, brake, self.speed + self.accel, dist)
        self.speed = speed
        move = delta / dist * speed if dist > 1e-9 else np.zeros(3)
        rot = np.zeros(3)
        if goal_euler is not None:
            d_ang = self._angle_delta(np.asarray(goal_euler, dtype=np.float64))
            rot = np.clip(d_ang, -self.ang_speed, self.ang_speed)
        action = np.empty(7, dtype=np.float32)
        action[0:3] = np.clip(move / MAX_REL_POS, -1.0, 1.0)
        action[3:6] = np.clip(rot / MAX_REL_ORN, -1.0, 1.0)
        action[6] = GRIPPER_OPEN if gripper > 0 else -GRIPPER_OPEN
        # integrate exactly what the env will integrate
        self.pos = self.pos + action[0:3].astype(np.float64) * MAX_REL_POS
        self.euler = self.euler + action[3:6].astype(np.float64) * MAX_REL_ORN
        self.euler[0:2] = np.asarray(wrap_angle(self.euler[0:2]))
        self.gripper = float(action[6])
        return action
