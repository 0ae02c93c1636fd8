"""Gymnasium adapter for the real CALVIN simulator (calvin_env), same API as the embedded play table.

Importing this package does not import calvin_env; constructing :class:`CalvinEnv` does, and
raises an ``ImportError`` that says how to install it when it is missing (docs/calvin.md).
"""

from __future__ import annotations

from envs.calvin.backend import INSTALL_HINT
from envs.calvin.env import CalvinEnv
from envs.calvin.scene_info import scene_info_from_calvin

CALVIN_ENV_ID = "vla_agent/Calvin-v0"


def register_calvin_env() -> None:
    """Register ``vla_agent/Calvin-v0`` with Gymnasium (idempotent).

    ``gymnasium.make("vla_agent/Calvin-v0", dataset_path=...)`` then builds a :class:`CalvinEnv`;
    the per-subtask step limit is the env's own (it restarts with ``set_task``), so no
    ``TimeLimit`` wrapper is added.
    """
    import gymnasium

    if CALVIN_ENV_ID in gymnasium.registry:
        return
    gymnasium.register(id=CALVIN_ENV_ID, entry_point="envs.calvin.env:CalvinEnv")


__all__ = ["CALVIN_ENV_ID", "INSTALL_HINT", "CalvinEnv", "register_calvin_env", "scene_info_from_calvin"]
