"""The crash-safe results log and the run signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.store import ResultLog, check_run_signature


def test_append_and_load(tmp_path: Path) -> None:
    log = ResultLog(tmp_path / "log.jsonl")
    assert log.load() == {}
    for i in (2, 0, 1):
        log.append({"index": i, "value": i * 10})
    assert log.load() == {i: {"index": i, "value": i * 10} for i in range(3)}
    with pytest.raises(ValueError, match="index"):
        log.append({"value": 1})


def test_torn_last_line_is_dropped_and_cut(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = ResultLog(path)
    log.append({"index": 0})
    log.append({"index": 1})
    with path.open("ab") as f:
        f.write(b'{"index": 2, "val')  # killed mid-write
    assert set(log.load()) == {0, 1}
    assert path.read_bytes().endswith(b"}\n")  # the torn bytes are gone
    log.append({"index": 2})
    assert set(log.load()) == {0, 1, 2}


def test_damage_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"index": 0}\nnot json\n{"index": 2}\n')
    with pytest.raises(ValueError, match="not valid JSON"):
        ResultLog(path).load()


def test_signature_guards_resume(tmp_path: Path) -> None:
    run = tmp_path / "run.json"
    args = {"seed": 0, "max_steps": 360}
    assert check_run_signature(run, args) is False  # fresh
    assert check_run_signature(run, dict(args)) is True  # same run: resume
    with pytest.raises(ValueError, match="max_steps"):
        check_run_signature(run, {"seed": 0, "max_steps": 20})
    assert check_run_signature(run, {"seed": 0, "max_steps": 20}, overwrite=True) is False
    assert json.loads(run.read_text())["arguments"]["max_steps"] == 20
