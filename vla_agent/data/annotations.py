"""Sentences per task from a CALVIN-style annotation YAML (``task: [sentence, …]``).

CALVIN's own files (``new_playtable.yaml``, ``new_playtable_validation.yaml``) have this shape;
the user passes their path (``--annotations PATH``); the project never ships them.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from envs import constants as C


def load_annotation_yaml(path: str | os.PathLike, require_all_tasks: bool = False) -> dict[str, list[str]]:
    """Parse ``task: [sentences]`` YAML.

    Args:
        path: the YAML file.
        require_all_tasks: raise unless all 34 CALVIN tasks are present.

    Returns:
        task -> list of sentences, in file order.

    Raises:
        FileNotFoundError / ValueError naming the file and the problem (unknown task, empty list…).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation file not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping task -> [sentences], received {type(doc).__name__}")
    out: dict[str, list[str]] = {}
    for task, sentences in doc.items():
        if task not in C.TASK_NAMES:
            raise ValueError(f"{path}: unknown task {task!r}; expected one of CALVIN's 34 task names")
        if isinstance(sentences, str):
            sentences = [sentences]
        if (
            not isinstance(sentences, list)
            or not sentences
            or not all(isinstance(s, str) and s.strip() for s in sentences)
        ):
            raise ValueError(
                f"{path}: task {task!r}: expected a non-empty list of sentences, received {sentences!r}"
            )
        out[str(task)] = [str(s) for s in sentences]
    if require_all_tasks:
        missing = [t for t in C.TASK_NAMES if t not in out]
        if missing:
            raise ValueError(f"{path}: missing tasks {missing}")
    return out
