"""Shared pytest fixtures. Heavy imports stay inside the fixtures."""

from __future__ import annotations

import os

import pytest

# tests run on a shared 2-core machine: keep numeric libraries single-threaded
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def play_table_env():
    """One image-free embedded play table (``cameras=()``), shared by the fast tests."""
    from envs.play_table import PlayTableEnv

    env = PlayTableEnv(cameras=())
    yield env
    env.close()


@pytest.fixture(scope="session")
def play_table_env_abs():
    """An image-free play table driven by CALVIN absolute actions."""
    from envs.play_table import PlayTableEnv

    env = PlayTableEnv(cameras=(), action_mode="absolute")
    yield env
    env.close()
