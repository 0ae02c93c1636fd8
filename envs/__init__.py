"""CALVIN as Gymnasium environments: the embedded play table and the real-CALVIN adapter.

``gymnasium.make("vla_agent/PlayTable-v0", **kwargs)`` builds :class:`envs.play_table.PlayTableEnv`
(CALVIN's scene D embedded in PyBullet). Importing this package is light: it registers ids with
string entry points and imports no simulator and no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import register, registry

from envs.calvin import CALVIN_ENV_ID, register_calvin_env
from envs.constants import TASK_NAMES
from envs.state import BlockInfo, SceneInfo
from envs.tasks import TaskOracle

if TYPE_CHECKING:
    from envs.play_table.env import PlayTableEnv

PLAY_TABLE_ID = "vla_agent/PlayTable-v0"

if PLAY_TABLE_ID not in registry:
    register(id=PLAY_TABLE_ID, entry_point="envs.play_table.env:PlayTableEnv")
register_calvin_env()  # vla_agent/Calvin-v0: calvin_env itself is imported only when the env is built


def __getattr__(name: str) -> Any:
    # the simulator-backed class is imported on first use only
    if name == "PlayTableEnv":
        from envs.play_table.env import PlayTableEnv

        return PlayTableEnv
    raise AttributeError(f"module 'envs' has no attribute {name!r}")


__all__ = ["CALVIN_ENV_ID", "PLAY_TABLE_ID", "TASK_NAMES", "BlockInfo", "PlayTableEnv", "SceneInfo", "TaskOracle"]
