"""The project's instruction sets and CALVIN-format instruction files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from envs import instructions as I
from envs.constants import TASK_NAMES

CALVIN_ANN = Path("/work/shared/calvin/annotations")  # CALVIN's files, used by tests only
needs_calvin_files = pytest.mark.skipif(not CALVIN_ANN.is_dir(), reason="CALVIN annotation files absent")


def test_every_task_has_paraphrases_and_a_held_out_sentence() -> None:
    everything: dict[str, str] = {}
    for task in TASK_NAMES:
        train = I.train_instructions(task)
        ev = I.default_instruction(task)
        assert len(train) >= 6 and len(set(map(I.normalize, train))) == len(train)
        assert I.normalize(ev) not in {I.normalize(s) for s in train}
        for s in [*train, ev]:
            assert everything.setdefault(I.normalize(s), task) == task, f"{s!r} used by two tasks"


def test_task_for_instruction_round_trip() -> None:
    for task in TASK_NAMES:
        assert I.task_for_instruction(I.default_instruction(task)) == task
        for s in I.train_instructions(task):
            assert I.task_for_instruction(s) == task
    assert I.task_for_instruction("  PULL the drawer\t open ") == "open_drawer"
    with pytest.raises(ValueError, match="dance a jig"):
        I.task_for_instruction("dance a jig")


def test_project_set_is_default() -> None:
    ev = I.load_instruction_set()
    assert list(ev) == list(TASK_NAMES)
    assert ev == I.load_instruction_set("project")
    assert I.load_training_instructions()["stack_block"] == I.train_instructions("stack_block")


@needs_calvin_files
def test_loads_calvin_format_files() -> None:
    ev = I.load_instruction_set(CALVIN_ANN / "new_playtable_validation.yaml")
    assert set(ev) == set(TASK_NAMES) and all(isinstance(s, str) and s for s in ev.values())
    train = I.load_training_instructions(CALVIN_ANN / "new_playtable.yaml")
    assert set(train) == set(TASK_NAMES) and sum(map(len, train.values())) > 300
    assert I.task_for_instruction(ev["open_drawer"], extra=[ev]) == "open_drawer"


@needs_calvin_files
def test_project_sentences_are_our_own() -> None:
    theirs = set()
    for name in ("new_playtable.yaml", "new_playtable_validation.yaml"):
        for sentences in I.load_yaml_instructions(CALVIN_ANN / name).values():
            theirs |= {I.normalize(s) for s in sentences}
    ours = {I.normalize(s) for t in TASK_NAMES for s in [*I.train_instructions(t), I.default_instruction(t)]}
    assert not ours & theirs


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        I.load_instruction_set(tmp_path / "nope.yaml")
    partial = tmp_path / "partial.yaml"
    partial.write_text(yaml.safe_dump({"open_drawer": ["open it"]}))
    with pytest.raises(ValueError, match="missing"):
        I.load_instruction_set(partial)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"fly": ["up"]}))
    with pytest.raises(ValueError, match="fly"):
        I.load_yaml_instructions(bad)
    with pytest.raises(ValueError, match="task"):
        I.default_instruction("fly")
