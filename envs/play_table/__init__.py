"""The embedded play table: CALVIN's scene D rebuilt in PyBullet from primitives."""

from envs.play_table.env import PlayTableEnv

__all__ = ["PlayTableEnv"]
