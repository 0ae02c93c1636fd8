"""Where named checkpoints live: ``"default"`` is the policy shipped inside the package."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default"
NAMED_CHECKPOINTS = {"default": DEFAULT_CHECKPOINT}


def resolve_checkpoint(name_or_path: str | os.PathLike[str]) -> str:
    """A checkpoint folder for a name (``"default"``) or a path.

    Raises:
        FileNotFoundError: the name is known but its checkpoint is not installed.
    """
    key = os.fspath(name_or_path)
    if key in NAMED_CHECKPOINTS:
        path = NAMED_CHECKPOINTS[key]
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"checkpoint {key!r}: not installed at {path}; train it with `make train-default`"
            )
        return str(path)
    return key


def has_default_checkpoint() -> bool:
    """True when the package ships a trained default policy."""
    return (DEFAULT_CHECKPOINT / "config.json").is_file()
