"""Shared pytest fixtures. Heavy imports stay inside the fixtures."""

from __future__ import annotations

import os

import pytest

# tests run on a shared 2-core machine: keep numeric libraries single-threaded
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _sb3_logs_in_pytest_tmp(tmp_path_factory):
    """Stable-Baselines3 makes an (empty) ``$TMPDIR/SB3-<date>`` folder per ``learn`` unless
    ``SB3_LOGDIR`` is set: keep those inside pytest's own temporary tree."""
    before = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3_logs"))
    yield
    if before is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = before


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
