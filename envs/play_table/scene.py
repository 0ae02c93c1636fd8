"""The play-table desk of CALVIN's scene D, built from boxes, cylinders and a sphere.

The desk is written as a small URDF text in code (boxes only, no meshes, no textures) and loaded
as one fixed multibody named ``"table"`` whose links carry CALVIN's link names, so that contacts
read the same as in CALVIN (``base_link``, ``plank_link``, ``drawer_link``, ``slide_link``,
``button_link``, ``switch_link``, ``led_link``, ``light_link``). Every number is in CALVIN's world
frame at CALVIN's 0.8 global scaling (the scene-D desk stands at the origin):

* desk top surface z = 0.44; desk x in [-0.44, 0.44], y in [-0.18, 0.18];
* sliding door: prismatic along -x, 0..0.28 m ("left" = 0.28 covers the left slot);
* drawer: prismatic along -y (towards the robot), 0..0.22 m; floor surface z = 0.32;
* button: prismatic along -z at (-0.12, -0.12), 0..0.02 m, toggles the green LED;
* switch: prismatic along (0, 0.5, 0.866) on the slanted cabinet front at x = 0.3, 0..0.088 m,
  the yellow bulb is on while it is past half its range;
* shelf ("plank") behind the door: x in [-0.36, 0.16], y in [0.016, 0.164], surface z = 0.44.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from envs import constants as C

# --- joint facts (name in CALVIN, our link name, lower, upper) ---------------------------------
SLIDER_RANGE = (0.0, 0.28)
DRAWER_RANGE = (0.0, 0.22)
BUTTON_RANGE = (0.0, 0.02)
SWITCH_RANGE = (0.0, 0.088)
DOOR_FRICTION_FORCE = 4.0  # N, velocity-control "friction" of doors/switch, and the button spring

WOOD = (0.62, 0.42, 0.24, 1.0)
DARK_WOOD = (0.48, 0.31, 0.17, 1.0)
HANDLE = (0.22, 0.22, 0.24, 1.0)
BLACK = (0.06, 0.06, 0.06, 1.0)
LIGHT_OFF = (1.0, 1.0, 1.0, 1.0)
LED_ON = (0.0, 1.0, 0.0, 1.0)
BULB_ON = (1.0, 1.0, 0.0, 1.0)
BLOCK_COLORS = {
    "block_red": (0.9, 0.05, 0.05, 1.0),
    "block_blue": (0.05, 0.1, 0.95, 1.0),
    "block_pink": (1.0, 0.45, 0.75, 1.0),
}

SLOPE = math.radians(60.0)  # the cabinet front (door and switch panel) leans back 30 deg from vertical


@dataclass(frozen=True)
class Box:
    """One box of a link: centre and full size in the link frame, roll about x, colour."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color: tuple[float, float, float, float] = WOOD
    roll: float = 0.0
    collide: bool = True
    visible: bool = True  # hidden parts are not drawn: TinyRenderer's cost grows with drawn area


def _base_boxes() -> list[Box]:
    """Desk body, legs, drawer housing, cabinet walls and roof, button ring (link ``base_link``)."""
    top_z0, top_z1 = 0.40, C.TABLE_TOP_Z
    boxes = [
        # desk top, cut out where the shelf plank sits (the plank is its own link)
        Box((0.0, -0.082, 0.42), (0.88, 0.196, top_z1 - top_z0)),
        Box((-0.402, 0.098, 0.42), (0.076, 0.164, 0.04)),
        Box((0.302, 0.098, 0.42), (0.276, 0.164, 0.04)),
        # legs
        Box((-0.4225, -0.16, 0.20), (0.035, 0.035, 0.40), DARK_WOOD),
        Box((0.4225, -0.16, 0.20), (0.035, 0.035, 0.40), DARK_WOOD),
        Box((-0.4225, 0.16, 0.20), (0.035, 0.035, 0.40), DARK_WOOD),
        Box((0.4225, 0.16, 0.20), (0.035, 0.035, 0.40), DARK_WOOD),
        # drawer housing under the desk top (right side)
        Box((0.18, -0.04, 0.27), (0.48, 0.28, 0.02), DARK_WOOD, visible=False),
        Box((-0.0525, -0.04, 0.34), (0.015, 0.28, 0.12), DARK_WOOD),
        Box((0.4125, -0.04, 0.34), (0.015, 0.28, 0.12), DARK_WOOD),
        Box((0.18, 0.09, 0.34), (0.48, 0.02, 0.12), DARK_WOOD, visible=False),
        # cabinet behind the shelf: back wall, side walls, roof (the switch compartment is open on
        # its left so that the hand, 0.2 m across, fits over the right slot)
        Box((0.0, 0.172, 0.544), (0.88, 0.016, 0.208), DARK_WOOD),
        Box((-0.432, 0.098, 0.544), (0.016, 0.164, 0.208), DARK_WOOD),
        Box((0.432, 0.098, 0.544), (0.016, 0.164, 0.208), DARK_WOOD),
        Box((0.0, 0.16, 0.638), (0.88, 0.04, 0.02), DARK_WOOD),
        # slanted front panel of the switch compartment (same plane as the sliding door)
        Box((0.302, 0.0663, 0.5403), (0.244, 0.22, 0.02), DARK_WOOD, roll=SLOPE),
        # two dark rails the switch slides along
        Box((0.25, 0.0576, 0.5453), (0.008, 0.2, 0.004), HANDLE, roll=SLOPE, collide=False),
        Box((0.35, 0.0576, 0.5453), (0.008, 0.2, 0.004), HANDLE, roll=SLOPE, collide=False),
        # ring around the button
        Box((-0.12, -0.12, 0.45), (0.08, 0.08, 0.02), DARK_WOOD),
    ]
    return boxes


# link name -> (joint type, joint origin xyz, joint rpy, axis in link frame, limits, boxes)
def _links() -> list[tuple[str, str, tuple, tuple, tuple, tuple, list[Box]]]:
    slide = [
        Box((0.14, 0.0, 0.01), (0.28, 0.22, 0.02), WOOD),  # the door plate (link x: 0..0.28)
        Box((0.14, 0.07, 0.045), (0.02, 0.02, 0.05), HANDLE),  # handle posts and bar
        Box((0.14, -0.07, 0.045), (0.02, 0.02, 0.05), HANDLE),
        Box((0.14, 0.0, 0.075), (0.02, 0.18, 0.02), HANDLE),
    ]
    drawer = [
        Box((0.0, -0.06, -0.01), (0.40, 0.20, 0.02), WOOD),  # floor, top surface z = 0.32
        Box((-0.21, -0.06, 0.03), (0.02, 0.24, 0.10), WOOD),  # side walls
        Box((0.21, -0.06, 0.03), (0.02, 0.24, 0.10), WOOD),
        Box((0.0, 0.05, 0.03), (0.44, 0.02, 0.10), WOOD),  # back wall
        Box((0.0, -0.17, 0.02), (0.44, 0.02, 0.12), WOOD),  # front panel
        Box((0.0, -0.246, 0.045), (0.24, 0.028, 0.02), HANDLE),  # handle bar and posts
        Box((-0.11, -0.206, 0.045), (0.02, 0.052, 0.02), HANDLE),
        Box((0.11, -0.206, 0.045), (0.02, 0.052, 0.02), HANDLE),
    ]
    button = [Box((0.0, 0.0, 0.012), (0.056, 0.056, 0.024), BLACK)]
    switch = [
        Box((-0.05, 0.027, -0.002), (0.014, 0.054, 0.016), HANDLE),  # posts out of the panel
        Box((0.05, 0.027, -0.002), (0.014, 0.054, 0.016), HANDLE),
        Box((0.0, 0.06, -0.002), (0.13, 0.016, 0.024), HANDLE),  # the bar one grasps
    ]
    led = [Box((0.0, 0.0, 0.008), (0.16, 0.04, 0.016), LIGHT_OFF)]
    light = [Box((0.0, 0.0, 0.008), (0.04, 0.04, 0.016), DARK_WOOD)]  # bulb socket; sphere added below
    plank = [Box((0.0, 0.0, 0.0), (0.52, 0.148, 0.02), WOOD)]
    return [
        ("slide_link", "prismatic", (-0.1, 0.075, 0.5353), (SLOPE, 0, 0), (-1, 0, 0), SLIDER_RANGE, slide),
        ("drawer_link", "prismatic", (0.18, 0.0, 0.32), (0, 0, 0), (0, -1, 0), DRAWER_RANGE, drawer),
        ("button_link", "prismatic", (-0.12, -0.12, 0.46), (0, 0, 0), (0, 0, -1), BUTTON_RANGE, button),
        (
            "switch_link",
            "prismatic",
            (0.3, 0.0609, 0.4949),
            (math.radians(150), 0, 0),
            (0, 0, -1),
            SWITCH_RANGE,
            switch,
        ),
        ("led_link", "fixed", (-0.12, 0.16, 0.648), (0, 0, 0), (0, 0, 1), (0, 0), led),
        ("light_link", "fixed", (0.3, 0.16, 0.648), (0, 0, 0), (0, 0, 1), (0, 0), light),
        ("plank_link", "fixed", (-0.1, 0.09, 0.43), (0, 0, 0), (0, 0, 1), (0, 0), plank),
    ]


# CALVIN's joint names, in scene_obs order, and the link each one moves
JOINT_LINKS = {
    "slider": "slide_link",
    "drawer": "drawer_link",
    "button": "button_link",
    "switch": "switch_link",
}
JOINT_RANGES = {
    "slider": SLIDER_RANGE,
    "drawer": DRAWER_RANGE,
    "button": BUTTON_RANGE,
    "switch": SWITCH_RANGE,
}
LINK_MASSES = {"slide_link": 0.5, "drawer_link": 0.5, "button_link": 0.05, "switch_link": 0.05}
BULB_RADIUS = 0.025


def _fmt(v: tuple | list) -> str:
    return " ".join(f"{float(x):.6g}" for x in v)


def _geometry_xml(boxes: list[Box], kind: str) -> str:
    out = []
    for b in boxes:
        if (kind == "collision" and not b.collide) or (kind == "visual" and not b.visible):
            continue
        mat = f'<material name="c{_fmt(b.color).replace(" ", "_")}"><color rgba="{_fmt(b.color)}"/></material>'
        out.append(
            f'<{kind}><origin xyz="{_fmt(b.center)}" rpy="{b.roll:.6g} 0 0"/>'
            f'<geometry><box size="{_fmt(b.size)}"/></geometry>{mat if kind == "visual" else ""}</{kind}>'
        )
    return "".join(out)


def desk_urdf() -> str:
    """The desk as URDF text (boxes only, CALVIN link and joint names)."""
    parts = ['<?xml version="1.0"?><robot name="table">']
    parts.append(
        '<link name="base_link"><inertial><mass value="0"/>'
        '<inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>'
    )
    parts.append(_geometry_xml(_base_boxes(), "visual") + _geometry_xml(_base_boxes(), "collision"))
    parts.append("</link>")
    for name, jtype, xyz, rpy, axis, limits, boxes in _links():
        mass = LINK_MASSES.get(name, 0.1)
        extra = ""
        if name == "light_link":
            mat = f'<material name="bulb"><color rgba="{_fmt(LIGHT_OFF)}"/></material>'
            extra = (
                f'<visual><origin xyz="0 0 {0.016 + BULB_RADIUS:.4f}"/>'
                f'<geometry><sphere radius="{BULB_RADIUS}"/></geometry>{mat}</visual>'
            )
        parts.append(
            f'<link name="{name}"><inertial><mass value="{mass}"/>'
            f'<inertia ixx="1e-3" ixy="0" ixz="0" iyy="1e-3" iyz="0" izz="1e-3"/></inertial>'
            f"{_geometry_xml(boxes, 'visual')}{extra}{_geometry_xml(boxes, 'collision')}</link>"
        )
        joint_name = "base__" + name.removesuffix("_link")
        limit = (
            f'<limit lower="{limits[0]}" upper="{limits[1]}" effort="100" velocity="1"/>'
            if jtype == "prismatic"
            else ""
        )
        parts.append(
            f'<joint name="{joint_name}" type="{jtype}"><parent link="base_link"/><child link="{name}"/>'
            f'<origin xyz="{_fmt(xyz)}" rpy="{_fmt(rpy)}"/><axis xyz="{_fmt(axis)}"/>{limit}</joint>'
        )
    parts.append("</robot>")
    # one element per line: pybullet's XML reader fails on very long lines
    return "".join(parts).replace("><", ">\n<")


def load_urdf_text(p, text: str, name: str, client: int, **kwargs) -> int:
    """Write URDF text to a private temporary file, load it, delete the file; returns the body id."""
    fd, path = tempfile.mkstemp(prefix=f"vla_{name}_", suffix=".urdf")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return p.loadURDF(path, physicsClientId=client, **kwargs)
    finally:
        os.unlink(path)


class Desk:
    """The loaded desk: joint access by CALVIN name, link names for contacts, landmarks.

    Args:
        p: the ``pybullet`` module.
        client: physics client id.
    """

    def __init__(self, p, client: int) -> None:
        self.p, self.client = p, client
        self.uid = load_urdf_text(p, desk_urdf(), "table", client, useFixedBase=True)
        self.link_ids: dict[str, int] = {"base_link": -1}
        for j in range(p.getNumJoints(self.uid, physicsClientId=client)):
            info = p.getJointInfo(self.uid, j, physicsClientId=client)
            self.link_ids[info[12].decode()] = j
        self.link_names = {v: k for k, v in self.link_ids.items()}
        self.joint_ids = {k: self.link_ids[v] for k, v in JOINT_LINKS.items()}
        for key, j in self.joint_ids.items():
            if key == "button":  # a spring pushing the button back up
                p.setJointMotorControl2(
                    self.uid,
                    j,
                    p.POSITION_CONTROL,
                    targetPosition=0.0,
                    force=DOOR_FRICTION_FORCE,
                    physicsClientId=client,
                )
            else:  # doors and switch stay where they are left (joint friction)
                p.setJointMotorControl2(
                    self.uid,
                    j,
                    p.VELOCITY_CONTROL,
                    targetVelocity=0.0,
                    force=DOOR_FRICTION_FORCE,
                    physicsClientId=client,
                )

    def joint(self, key: str) -> float:
        """Joint position (m) of ``"slider"``, ``"drawer"``, ``"button"`` or ``"switch"``."""
        return float(self.p.getJointState(self.uid, self.joint_ids[key], physicsClientId=self.client)[0])

    def set_joint(self, key: str, value: float) -> None:
        self.p.resetJointState(self.uid, self.joint_ids[key], float(value), 0.0, physicsClientId=self.client)

    def set_light_color(self, link: str, rgba: tuple[float, ...]) -> None:
        self.p.changeVisualShape(self.uid, self.link_ids[link], rgbaColor=list(rgba), physicsClientId=self.client)

    def link_pose(self, link: str) -> tuple[np.ndarray, np.ndarray]:
        """World position (3,) and quaternion (4,) of a link frame."""
        if link == "base_link":
            pos, orn = self.p.getBasePositionAndOrientation(self.uid, physicsClientId=self.client)
        else:
            st = self.p.getLinkState(
                self.uid, self.link_ids[link], computeForwardKinematics=True, physicsClientId=self.client
            )
            pos, orn = st[4], st[5]
        return np.asarray(pos, dtype=np.float64), np.asarray(orn, dtype=np.float64)

    def point(self, link: str, local: tuple[float, float, float]) -> np.ndarray:
        """World position of a point given in a link's frame."""
        pos, orn = self.link_pose(link)
        rot = np.asarray(self.p.getMatrixFromQuaternion(orn.tolist())).reshape(3, 3)
        return pos + rot @ np.asarray(local, dtype=np.float64)

    def landmarks(self) -> dict[str, np.ndarray]:
        """World positions (3,) of the interaction points, for scripted experts.

        Keys: ``drawer_handle`` (middle of the drawer handle bar), ``slider_handle`` (middle of the
        door's vertical handle bar), ``button_top`` (centre of the button's top face),
        ``switch_handle`` (middle of the switch bar), ``slot_left`` / ``slot_right`` (block centre
        resting in each shelf slot), ``drawer_center`` (block centre resting in the middle of the
        drawer, moves with the drawer), ``led``, ``lightbulb``.
        """
        return {
            "drawer_handle": self.point("drawer_link", (0.0, -0.246, 0.045)),
            "slider_handle": self.point("slide_link", (0.14, 0.0, 0.075)),
            "button_top": self.point("button_link", (0.0, 0.0, 0.024)),
            "switch_handle": self.point("switch_link", (0.0, 0.06, -0.002)),
            "slot_left": np.asarray(C.BLOCK_SPOTS["slider_left"], dtype=np.float64),
            "slot_right": np.asarray(C.BLOCK_SPOTS["slider_right"], dtype=np.float64),
            "drawer_center": self.point("drawer_link", (0.0, -0.06, C.BLOCK_HEIGHT / 2)),
            "led": self.point("led_link", (0.0, 0.0, 0.008)),
            "lightbulb": self.point("light_link", (0.0, 0.0, 0.016 + BULB_RADIUS)),
        }


def create_blocks(p, client: int) -> dict[str, int]:
    """The three 1 kg blocks (scene-D sizes), friction 0.7; returns name -> body id."""
    uids = {}
    for i, name in enumerate(C.BLOCK_NAMES):
        half = [s / 2 for s in C.BLOCK_SIZES[name]]
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=BLOCK_COLORS[name], physicsClientId=client)
        uid = p.createMultiBody(1.0, col, vis, basePosition=[0.0, -0.1 + 0.1 * i, 0.47], physicsClientId=client)
        p.changeDynamics(uid, -1, lateralFriction=0.7, spinningFriction=0.001, physicsClientId=client)
        uids[name] = uid
    return uids


def create_floor(p, client: int) -> int:
    """A floor slab at z = 0 so that dropped blocks come to rest; collision only (drawing a big
    plane costs TinyRenderer several ms per image, the background colour stands in for it)."""
    col = p.createCollisionShape(p.GEOM_BOX, halfExtents=[1.5, 1.5, 0.01], physicsClientId=client)
    return p.createMultiBody(0.0, col, -1, basePosition=[0.0, 0.0, -0.01], physicsClientId=client)
