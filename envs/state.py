"""Backend-neutral snapshot of what CALVIN's task oracle looks at.

Every env backend (the embedded play table, the real-CALVIN adapter) turns its simulator state
into a :class:`SceneInfo`; :class:`envs.tasks.TaskOracle` compares two of them. Contacts are
named, never simulator ids, so snapshots from different backends compare alike.

Body names: ``"robot"``, ``"table"`` (the desk and everything fixed to it) and the block names of
:data:`envs.constants.BLOCK_NAMES`. Desk link names follow CALVIN's URDF: ``"base_link"`` (desk
top), ``"plank_link"`` (shelf behind the sliding door), ``"drawer_link"``, ``"slide_link"``,
``"button_link"``, ``"switch_link"``; other links may appear and are ignored by the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Contact = tuple[str, str]  # (body name, link name) of the thing touched


@dataclass(frozen=True)
class BlockInfo:
    """One movable block.

    Attributes:
        pos: (3,) world position, m.
        orn: (4,) world orientation quaternion, x y z w (PyBullet order).
        lin_vel: (3,) linear velocity, m/s.
        ang_vel: (3,) angular velocity, rad/s.
        contacts: what touches the block, as (body, link) pairs; the robot appears as ("robot", link).
    """

    pos: np.ndarray
    orn: np.ndarray
    lin_vel: np.ndarray
    ang_vel: np.ndarray
    contacts: frozenset[Contact] = field(default_factory=frozenset)

    def touching_bodies(self) -> frozenset[str]:
        """Names of the bodies this block touches."""
        return frozenset(body for body, _ in self.contacts)


@dataclass(frozen=True)
class SceneInfo:
    """Oracle-relevant state of the whole scene at one instant.

    Attributes:
        doors: joint positions (m) of ``"slider"`` and ``"drawer"``.
        lights: logical states (0/1) of ``"lightbulb"`` and ``"led"``.
        blocks: per block name, a :class:`BlockInfo`.
        robot_contacts: what the robot touches, as (body, link) pairs (excluding itself).
    """

    doors: dict[str, float]
    lights: dict[str, int]
    blocks: dict[str, BlockInfo]
    robot_contacts: frozenset[Contact] = field(default_factory=frozenset)
