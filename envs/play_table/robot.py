"""The Franka Panda of the play table: loading, CALVIN-style IK control, gripper, proprioception.

The arm is ``pybullet_data``'s ``franka_panda/panda.urdf`` with two changes made in code when it is
loaded: every visual uses the link's low-polygon collision mesh (TinyRenderer draws it ~30x faster
than the visual meshes), and the fingers are plain boxes 9 cm long, with the TCP
(``panda_grasptarget``) 0.14 m below the hand, where CALVIN's TCP is (its neutral pose then reads
as CALVIN's ``robot_obs``). Control follows CALVIN (SPEC §2): a TCP target pose goes through
``calculateInverseKinematics`` with a null-space rest pose (the neutral joints), is clipped to the
Panda's joint limits and sent as position targets (force 200, max velocity 2); the gripper opens
to 2 x 0.04 m with force 2 and closes with force 200.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pybullet_data

from envs import constants as C
from envs.play_table.scene import load_urdf_text

ARM_IDS = tuple(range(7))
FINGER_IDS = (9, 10)
TCP_LINK = 11  # panda_grasptarget, moved to CALVIN's TCP
HAND_LINK = 8
TCP_OFFSET = 0.14  # m from the hand frame along its z axis (pybullet_data: 0.105)
LOWER_LIMITS = np.array([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973])
UPPER_LIMITS = np.array([2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973])
MAX_JOINT_FORCE = 200.0
MAX_JOINT_VELOCITY = 2.0
GRIPPER_FORCE = 200.0
FINGER_OPEN = 0.04
ROBOT_COLOR = (0.92, 0.92, 0.92, 1.0)
FINGER_LENGTH = 0.09


def panda_urdf() -> str:
    """pybullet_data's Panda with low-poly visuals, box fingers and CALVIN's TCP, as URDF text."""
    root_dir = os.path.join(pybullet_data.getDataPath(), "franka_panda")
    tree = ET.parse(os.path.join(root_dir, "panda.urdf"))
    root = tree.getroot()
    for mesh in root.iter("mesh"):
        fn = mesh.get("filename", "").replace("package://", "")
        fn = fn.replace("meshes/visual/", "meshes/collision/").replace(".dae", ".obj")
        mesh.set("filename", os.path.join(root_dir, fn))
    for link in root.findall("link"):
        name = link.get("name")
        if name in ("panda_leftfinger", "panda_rightfinger"):
            side = 1.0 if name == "panda_leftfinger" else -1.0
            for tag in ("visual", "collision"):
                for el in link.findall(tag):
                    link.remove(el)
                el = ET.SubElement(link, tag)
                # inner face at the finger frame, box grows outwards (+y left, -y right)
                ET.SubElement(el, "origin", xyz=f"0 {side * 0.007:.4f} {FINGER_LENGTH / 2:.4f}", rpy="0 0 0")
                geo = ET.SubElement(el, "geometry")
                ET.SubElement(geo, "box", size=f"0.02 0.014 {FINGER_LENGTH}")
    for joint in root.findall("joint"):
        origin = joint.find("origin")
        if joint.get("name") == "panda_grasptarget_hand" and origin is not None:
            origin.set("xyz", f"0 0 {TCP_OFFSET}")
    return ET.tostring(root, encoding="unicode")


class Panda:
    """The arm and its CALVIN-style controller.

    Args:
        p: the ``pybullet`` module.
        client: physics client id.
    """

    def __init__(self, p, client: int) -> None:
        self.p, self.client = p, client
        self.uid = load_urdf_text(p, panda_urdf(), "panda", client, basePosition=C.ROBOT_BASE_POS, useFixedBase=True)
        nj = p.getNumJoints(self.uid, physicsClientId=client)
        self.link_names = {-1: "panda_link0"}
        for j in range(nj):
            self.link_names[j] = p.getJointInfo(self.uid, j, physicsClientId=client)[12].decode()
        for j in range(-1, nj):
            p.changeVisualShape(self.uid, j, rgbaColor=ROBOT_COLOR, physicsClientId=client)
        for j in FINGER_IDS:
            p.changeDynamics(self.uid, j, lateralFriction=1.0, spinningFriction=0.1, physicsClientId=client)
        # keep the two fingers symmetric, as CALVIN does
        c = p.createConstraint(
            self.uid,
            FINGER_IDS[0],
            self.uid,
            FINGER_IDS[1],
            p.JOINT_GEAR,
            [1, 0, 0],
            [0, 0, 0],
            [0, 0, 0],
            physicsClientId=client,
        )
        p.changeConstraint(c, gearRatio=-1, erp=0.1, maxForce=50, physicsClientId=client)
        self.dof = p.computeDofCount(self.uid, physicsClientId=client)  # 9: arm + fingers
        self.rest_pose = list(C.NEUTRAL_JOINTS) + [FINGER_OPEN] * 2
        # a white pedestal under the base, drawn only (like CALVIN's base cylinder)
        vis = p.createVisualShape(
            p.GEOM_CYLINDER,
            radius=0.13,
            length=C.ROBOT_BASE_POS[2],
            rgbaColor=ROBOT_COLOR,
            physicsClientId=client,
        )
        base = np.asarray(C.ROBOT_BASE_POS)
        self.pedestal = p.createMultiBody(
            0, -1, vis, basePosition=[base[0] - 0.05, base[1], base[2] / 2], physicsClientId=client
        )
        self.target_pos = np.zeros(3)
        self.target_orn = np.zeros(3)
        self.gripper_action = 1

    # --- state -------------------------------------------------------------------------------
    def reset(self, robot_obs: np.ndarray) -> None:
        """Hard-set joints, fingers and last gripper action from a CALVIN ``robot_obs`` (15,)."""
        p, cid = self.p, self.client
        joints = robot_obs[C.ARM_JOINTS]
        finger = float(robot_obs[C.GRIPPER_WIDTH]) / 2
        for i, q in zip(ARM_IDS, joints, strict=True):
            p.resetJointState(self.uid, i, float(q), 0.0, physicsClientId=cid)
        for i in FINGER_IDS:
            p.resetJointState(self.uid, i, finger, 0.0, physicsClientId=cid)
        self.gripper_action = 1 if robot_obs[C.GRIPPER_ACTION] > 0 else -1
        self._drive_arm(joints)
        self._drive_gripper(self.gripper_action)
        if self.gripper_action < 0:  # hold the hard-set width until the next command arrives
            for i in FINGER_IDS:
                p.setJointMotorControl2(
                    self.uid,
                    i,
                    p.POSITION_CONTROL,
                    targetPosition=finger,
                    force=GRIPPER_FORCE,
                    maxVelocity=1,
                    physicsClientId=cid,
                )
        pos, orn = self.tcp_pose()
        self.target_pos = pos.copy()
        self.target_orn = np.asarray(p.getEulerFromQuaternion(orn.tolist()), dtype=np.float64)

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP world position (3,) and quaternion (4,)."""
        st = self.p.getLinkState(self.uid, TCP_LINK, computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(st[4], dtype=np.float64), np.asarray(st[5], dtype=np.float64)

    def hand_pose(self) -> tuple[np.ndarray, np.ndarray]:
        st = self.p.getLinkState(self.uid, HAND_LINK, computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(st[4], dtype=np.float64), np.asarray(st[5], dtype=np.float64)

    def observation(self) -> np.ndarray:
        """CALVIN ``robot_obs`` (15,) float64: tcp xyz, euler, gripper width, 7 joints, gripper action."""
        p, cid = self.p, self.client
        pos, orn = self.tcp_pose()
        states = p.getJointStates(self.uid, list(ARM_IDS) + list(FINGER_IDS), physicsClientId=cid)
        q = [s[0] for s in states]
        out = np.empty(C.ROBOT_OBS_DIM, dtype=np.float64)
        out[C.TCP_POS] = pos
        out[C.TCP_ORN] = p.getEulerFromQuaternion(orn.tolist())
        out[C.GRIPPER_WIDTH] = q[7] + q[8]
        out[C.ARM_JOINTS] = q[:7]
        out[C.GRIPPER_ACTION] = self.gripper_action
        return out

    # --- control -----------------------------------------------------------------------------
    def apply_relative(self, action: np.ndarray) -> None:
        """CALVIN relative action (7,), already clipped to [-1, 1]: accumulate on the target pose."""
        self.target_pos = self.target_pos + action[0:3] * C.MAX_REL_POS
        self.target_orn = self.target_orn + action[3:6] * C.MAX_REL_ORN
        self._command(self.target_pos, self.target_orn, action[6])

    def apply_absolute(self, action: np.ndarray) -> None:
        """CALVIN absolute action (7,): TCP xyz, euler xyz (world), gripper."""
        self.target_pos = np.array(action[0:3], dtype=np.float64)
        self.target_orn = np.array(action[3:6], dtype=np.float64)
        self._command(self.target_pos, self.target_orn, action[6])

    def _command(self, pos: np.ndarray, euler: np.ndarray, gripper: float) -> None:
        self.gripper_action = 1 if gripper > 0 else -1
        self._drive_arm(self.ik(pos, euler))
        self._drive_gripper(self.gripper_action)

    def ik(self, pos: np.ndarray, euler: np.ndarray) -> np.ndarray:
        """Joint positions (7,) reaching a TCP pose (null-space IK towards the neutral joints)."""
        p = self.p
        quat = p.getQuaternionFromEuler([float(x) for x in euler])
        q = p.calculateInverseKinematics(
            self.uid,
            TCP_LINK,
            [float(x) for x in pos],
            quat,
            lowerLimits=[-7.0] * self.dof,
            upperLimits=[7.0] * self.dof,
            jointRanges=[7.0] * self.dof,
            restPoses=self.rest_pose,
            physicsClientId=self.client,
        )
        return np.clip(np.asarray(q[:7]), LOWER_LIMITS, UPPER_LIMITS)

    def _drive_arm(self, joints: np.ndarray) -> None:
        p = self.p
        for i, q in zip(ARM_IDS, joints, strict=True):
            p.setJointMotorControl2(
                self.uid,
                i,
                p.POSITION_CONTROL,
                targetPosition=float(q),
                force=MAX_JOINT_FORCE,
                maxVelocity=MAX_JOINT_VELOCITY,
                physicsClientId=self.client,
            )

    def _drive_gripper(self, action: int) -> None:
        p = self.p
        target, force = (FINGER_OPEN, GRIPPER_FORCE / 100) if action > 0 else (0.0, GRIPPER_FORCE)
        for i in FINGER_IDS:
            p.setJointMotorControl2(
                self.uid,
                i,
                p.POSITION_CONTROL,
                targetPosition=target,
                force=force,
                maxVelocity=1,
                physicsClientId=self.client,
            )
