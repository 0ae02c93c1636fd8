"""Checkpoint files: atomic writes, RNG capture, folder swaps, finding and pruning checkpoints."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from vla_agent.training import checkpoint as ckpt


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path) -> None:
    path = tmp_path / "state.pt"
    ckpt.atomic_torch_save({"step": 1, "model": {}}, path)

    def broken(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # a kill in the middle of the write

    with pytest.raises(KeyboardInterrupt):
        ckpt.atomic_write(path, broken)
    assert ckpt.load_checkpoint(path)["step"] == 1
    assert sorted(os.listdir(tmp_path)) == ["state.pt"]  # no temporary file left behind


def test_rng_state_round_trip_replays_every_generator() -> None:
    state = ckpt.capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    random.random(), np.random.rand(), torch.rand(5)  # noqa: NPY002 - advance them further
    ckpt.restore_rng_state(state)
    again = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002
    assert first[0] == again[0] and first[1] == again[1] and torch.equal(first[2], again[2])
    with pytest.raises(ValueError, match="numpy"):
        ckpt.restore_rng_state({"python": state["python"], "torch": state["torch"]})


def test_replace_directory_swaps_folders_and_cleans_up_on_failure(tmp_path) -> None:
    dst = tmp_path / "policy"

    def build(v: str):
        def f(d: str) -> None:
            with open(os.path.join(d, "w.txt"), "w") as fh:
                fh.write(v)
        return f

    ckpt.replace_directory(build("one"), dst)
    ckpt.replace_directory(build("two"), dst)
    assert (dst / "w.txt").read_text() == "two"

    def fails(d: str) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        ckpt.replace_directory(fails, dst)
    assert (dst / "w.txt").read_text() == "two"
    assert sorted(os.listdir(tmp_path)) == ["policy"]


def test_latest_and_prune(tmp_path) -> None:
    assert ckpt.latest_checkpoint(tmp_path) is None
    for step in (5, 10, 15):
        path = tmp_path / ckpt.CHECKPOINT_DIR / ckpt.step_name(step)
        ckpt.atomic_torch_save({"step": step, "model": {}}, path)
    assert ckpt.latest_checkpoint(tmp_path).endswith(ckpt.step_name(15))
    ckpt.atomic_torch_save({"step": 15, "model": {}}, tmp_path / ckpt.CHECKPOINT_DIR / ckpt.LAST_NAME)
    assert ckpt.latest_checkpoint(tmp_path).endswith(ckpt.LAST_NAME)
    removed = ckpt.prune_step_checkpoints(tmp_path, keep=1)
    assert [os.path.basename(p) for p in removed] == [ckpt.step_name(5), ckpt.step_name(10)]
    assert [s for s, _ in ckpt.list_step_checkpoints(tmp_path)] == [15]


def test_load_checkpoint_rejects_missing_and_foreign_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        ckpt.load_checkpoint(tmp_path / "nope.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="'step' and 'model'"):
        ckpt.load_checkpoint(tmp_path / "list.pt")
