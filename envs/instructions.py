"""Natural-language instructions for CALVIN's 34 tasks.

The project ships its own sentences (``envs/data/instructions_*.yaml``): several training
paraphrases per task and one held-out evaluation sentence per task that never appears in the
training set, so an evaluation also measures generalisation to unseen wording. Files in CALVIN's
annotation format (``task: [sentence, ...]``, e.g. CALVIN's ``new_playtable_validation.yaml`` for
evaluation or ``new_playtable.yaml`` for training) can be loaded by path instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import yaml

from envs.constants import TASK_NAMES

PROJECT_SET = "project"
_DATA_PACKAGE = "envs.data"
_TRAIN_FILE = "instructions_train.yaml"
_EVAL_FILE = "instructions_eval.yaml"


def normalize(text: str) -> str:
    """Lower case, surrounding whitespace stripped, inner whitespace runs collapsed to one space."""
    return " ".join(str(text).split()).lower()


def _parse(data: object, source: str) -> dict[str, list[str]]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a mapping task -> [sentences], got {type(data).__name__}")
    out: dict[str, list[str]] = {}
    for task, sentences in data.items():
        if task not in TASK_NAMES:
            raise ValueError(f"{source}: task key: expected one of CALVIN's 34 task names, got {task!r}")
        if isinstance(sentences, str):
            sentences = [sentences]
        if not isinstance(sentences, list) or not sentences or not all(isinstance(s, str) for s in sentences):
            raise ValueError(f"{source}: {task}: expected a non-empty list of sentences, got {sentences!r}")
        out[str(task)] = [s.strip() for s in sentences]
    return out


def load_yaml_instructions(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Every sentence of a CALVIN-format annotation file, per task.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unknown task names or entries that are not lists of sentences.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"instruction file: no such file {str(p)!r}")
    with p.open(encoding="utf-8") as f:
        return _parse(yaml.safe_load(f), str(p))


@functools.cache
def _project(name: str) -> dict[str, tuple[str, ...]]:
    text = resources.files(_DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    parsed = _parse(yaml.safe_load(text), f"envs/data/{name}")
    missing = [t for t in TASK_NAMES if t not in parsed]
    if missing:  # a broken package install, not a user error
        raise RuntimeError(f"envs/data/{name}: tasks without sentences: {missing}")
    return {t: tuple(parsed[t]) for t in TASK_NAMES}


def _check_task(task: str) -> None:
    if task not in TASK_NAMES:
        raise ValueError(f"task: expected one of CALVIN's 34 task names, got {task!r}")


def default_instruction(task: str) -> str:
    """The project's held-out evaluation sentence for ``task``."""
    _check_task(task)
    return _project(_EVAL_FILE)[task][0]


def train_instructions(task: str) -> list[str]:
    """The project's training paraphrases for ``task`` (never containing the evaluation sentence)."""
    _check_task(task)
    return list(_project(_TRAIN_FILE)[task])


def load_instruction_set(name_or_path: str | os.PathLike[str] = PROJECT_SET) -> dict[str, str]:
    """One evaluation sentence per task.

    Args:
        name_or_path: ``"project"`` for the project's held-out sentences, or the path of a YAML
            file in CALVIN's validation format (``task: [sentence]``; the first sentence is used).

    Returns:
        task name -> sentence, for all 34 tasks.

    Raises:
        ValueError: a file that misses tasks or is malformed.
        FileNotFoundError: a path that does not exist.
    """
    if str(name_or_path) == PROJECT_SET:
        return {t: default_instruction(t) for t in TASK_NAMES}
    loaded = load_yaml_instructions(name_or_path)
    missing = [t for t in TASK_NAMES if t not in loaded]
    if missing:
        raise ValueError(f"{name_or_path}: expected a sentence for all 34 tasks, missing {missing}")
    return {t: loaded[t][0] for t in TASK_NAMES}


def load_training_instructions(name_or_path: str | os.PathLike[str] = PROJECT_SET) -> dict[str, list[str]]:
    """Training sentences per task: the project's paraphrases, or a CALVIN-format training file.

    A file may cover only some tasks (the returned dict then has only those keys).
    """
    if str(name_or_path) == PROJECT_SET:
        return {t: train_instructions(t) for t in TASK_NAMES}
    return load_yaml_instructions(name_or_path)


@functools.cache
def _project_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name in (_TRAIN_FILE, _EVAL_FILE):
        for task, sentences in _project(name).items():
            for s in sentences:
                index[normalize(s)] = task
    return index


def task_for_instruction(text: str, extra: Iterable[Mapping[str, str | list[str]]] = ()) -> str:
    """The task a known sentence asks for (exact match after :func:`normalize`).

    Args:
        text: the instruction.
        extra: further instruction sets (task -> sentence or sentences) to search after the
            project's own, e.g. the result of :func:`load_instruction_set` on a CALVIN file.

    Raises:
        ValueError: the sentence is not known.
    """
    key = normalize(text)
    task = _project_index().get(key)
    if task is not None:
        return task
    for mapping in extra:
        for t, sentences in mapping.items():
            items = [sentences] if isinstance(sentences, str) else sentences
            if any(normalize(s) == key for s in items):
                return t
    raise ValueError(
        f"instruction: expected a known sentence for one of the 34 tasks, got {text!r}; "
        "choose the task with options={'task': name} or add the sentence to an instruction set"
    )
