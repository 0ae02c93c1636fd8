"""Crash-safe per-job result log (JSON lines) and the run signature that guards resuming.

Every finished job (a chain, or a single-task episode) is one JSON line, written with a single
``write`` then ``flush`` + ``fsync``, by the one process that owns the file. After a kill, at most
the last line is torn; :meth:`ResultLog.load` drops it (and cuts it off the file, so later
appends start on a clean line). A restarted run with the same arguments therefore neither loses
nor repeats jobs. A different set of arguments has a different signature and is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ResultLog:
    """Append-only JSON-lines log of job records, keyed by their ``"index"``.

    Args:
        path: the ``.jsonl`` file (created on first append).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[int, dict[str, Any]]:
        """Records already written, by index; a torn last line is removed from the file.

        Raises:
            ValueError: a damaged line that is not the last one, or a record without ``index``.
        """
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        records: dict[int, dict[str, Any]] = {}
        good_end = 0
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:  # no newline: the write of this line was interrupted
                break
            line = data[pos:nl]
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if nl + 1 >= len(data):  # last line, torn but newline-terminated (unlikely): drop
                    break
                raise ValueError(f"{self.path}: line at byte {pos} is not valid JSON: {line[:80]!r}") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("index"), int):
                raise ValueError(f"{self.path}: line at byte {pos}: expected a record with an int 'index'")
            records[rec["index"]] = rec  # a repeated index (should not happen) keeps the last
            pos = good_end = nl + 1
        if good_end < len(data):
            with self.path.open("r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line, durably (flush + fsync)."""
        if not isinstance(record.get("index"), int):
            raise ValueError(f"record: expected an int 'index', got {record.get('index')!r}")
        line = (json.dumps(record, separators=(",", ":"), default=_json_default) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def reset(self) -> None:
        """Delete the log."""
        self.path.unlink(missing_ok=True)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def signature_of(payload: Mapping[str, Any]) -> str:
    """SHA-256 of a canonical JSON text of ``payload`` (what makes two runs the same run)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON via a temp file and ``os.replace``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    os.replace(tmp, p)
    return p


def check_run_signature(
    run_file: str | os.PathLike[str], payload: Mapping[str, Any], overwrite: bool = False
) -> bool:
    """Make ``run_file`` describe this run; tell whether earlier results may be resumed.

    Returns:
        True when ``run_file`` already held the same signature (resume), False for a fresh run.

    Raises:
        ValueError: ``run_file`` holds another run's signature and ``overwrite`` is False.
    """
    p = Path(run_file)
    sig = signature_of(payload)
    if p.exists() and not overwrite:
        try:
            old = json.loads(p.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{p}: cannot read the earlier run's signature ({err}); pass overwrite=True") from None
        if old.get("signature") == sig:
            return True
        changed = sorted(
            k for k in set(old.get("arguments", {})) | set(payload)
            if old.get("arguments", {}).get(k) != json.loads(json.dumps(payload.get(k), default=_json_default))
        )
        raise ValueError(
            f"{p.parent}: holds results of a run with other arguments (changed: {changed}); "
            "use another output folder, or overwrite=True (--overwrite) to discard them"
        )
    write_json_atomic(p, {"signature": sig, "arguments": payload})
    return False
