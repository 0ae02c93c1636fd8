"""Training checkpoints: atomic writes, RNG capture, and finding the newest one to resume from.

A checkpoint is one ``torch.save`` file holding the model, optimiser, scheduler and sampler states,
the step, and every random-number generator the run uses (Python, NumPy, torch CPU and CUDA), so a
resumed run continues bit for bit where the saved one stopped. Files are written to a temporary
name, flushed to disk and renamed, so a kill at any moment leaves either the old or the new file.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from vla_agent.utils.atomic import atomic_write

CHECKPOINT_DIR = "checkpoints"
LAST_NAME = "last.pt"
BEST_NAME = "best.pt"
_STEP_RE = re.compile(r"^step_(\d{8})\.pt$")


def step_name(step: int) -> str:
    """File name of the periodic checkpoint taken after ``step`` optimiser steps."""
    return f"step_{step:08d}.pt"


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> str:
    """``torch.save`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> str:
    """Copy a file to ``dst`` atomically."""
    def copy(tmp: str) -> None:
        shutil.copyfile(src, tmp)

    return atomic_write(dst, copy)


def replace_directory(build: Callable[[str], None], dst: str | os.PathLike[str]) -> str:
    """Build a folder through ``build(tmp_dir)`` and swap it in place of ``dst``.

    A reader sees the old folder or the new one; a kill between the two renames leaves the old
    folder under ``dst + ".old"``, which the next call removes.
    """
    dst = os.fspath(dst)
    parent = os.path.dirname(os.path.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(dst) + ".", suffix=".tmp", dir=parent)
    old = dst + ".old"
    try:
        build(tmp)
        if os.path.exists(old):
            shutil.rmtree(old)
        if os.path.exists(dst):
            os.replace(dst, old)
        os.replace(tmp, dst)
        if os.path.exists(old):
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


# --- random-number generators -----------------------------------------------------------------
def capture_rng_state() -> dict[str, Any]:
    """States of Python's, NumPy's and torch's global generators (CUDA too when present)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - the legacy global generator is what we restore
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    missing = {"python", "numpy", "torch"} - set(state)
    if missing:
        raise ValueError(f"rng state: expected keys python, numpy, torch; missing {sorted(missing)}")
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- finding checkpoints ----------------------------------------------------------------------
def list_step_checkpoints(run_dir: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """Periodic checkpoints of a run as ``(step, path)``, oldest first."""
    directory = os.path.join(run_dir, CHECKPOINT_DIR)
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        m = _STEP_RE.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(directory, name)))
    return sorted(found)


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> str | None:
    """Path of the newest complete checkpoint of a run (``last.pt``), or ``None``."""
    last = os.path.join(run_dir, CHECKPOINT_DIR, LAST_NAME)
    if os.path.isfile(last):
        return last
    steps = list_step_checkpoints(run_dir)
    return steps[-1][1] if steps else None


def prune_step_checkpoints(run_dir: str | os.PathLike[str], keep: int) -> list[str]:
    """Delete all but the newest ``keep`` periodic checkpoints (``keep <= 0`` keeps all)."""
    if keep <= 0:
        return []
    removed = []
    for _, path in list_step_checkpoints(run_dir)[:-keep]:
        os.remove(path)
        removed.append(path)
    return removed


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a training checkpoint written by the trainer (full pickle: RNG states are Python objects)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: no file {path!r}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "step" not in state or "model" not in state:
        keys = sorted(state) if isinstance(state, dict) else []
        raise ValueError(f"checkpoint {path!r}: expected a dict with 'step' and 'model', "
                         f"received {type(state).__name__} with keys {keys}")
    return state
