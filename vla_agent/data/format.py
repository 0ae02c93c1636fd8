"""CALVIN's on-disk layout (SPEC §1): file names, per-frame keys and readers of the small files.

A split folder (``training/`` or ``validation/``) holds one ``episode_XXXXXXX.npz`` per 30 Hz frame
(7-digit zero-padded *global* frame index; indices jump between recorded segments) and a few
auxiliary files. Every reader here checks what it loads and raises an error naming the file and
the problem; none keeps a file open.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs import constants as C

FRAME_DIGITS = 7
EP_START_END_IDS = "ep_start_end_ids.npy"
EP_LENS = "ep_lens.npy"
SCENE_INFO = "scene_info.npy"
STATISTICS = "statistics.yaml"
LANG_DIR = "lang_annotations"
LANG_ANN = "auto_lang_ann.npy"
VAL_EMBEDDINGS = "embeddings.npy"
SPLITS = ("training", "validation")

RGB_TACTILE = "rgb_tactile"
DEPTH_TACTILE = "depth_tactile"

# key -> (shape, kind); kind "float" accepts float32/float64 on disk (CALVIN stores float64),
# "uint8" must be uint8.
FRAME_SPECS: dict[str, tuple[tuple[int, ...], str]] = {
    C.ACTIONS: ((C.ACTION_DIM,), "float"),
    C.REL_ACTIONS: ((C.ACTION_DIM,), "float"),
    C.ROBOT_OBS: ((C.ROBOT_OBS_DIM,), "float"),
    C.SCENE_OBS: ((C.SCENE_OBS_DIM,), "float"),
    C.RGB_STATIC: ((C.STATIC_SIZE, C.STATIC_SIZE, 3), "uint8"),
    C.RGB_GRIPPER: ((C.GRIPPER_SIZE, C.GRIPPER_SIZE, 3), "uint8"),
    RGB_TACTILE: ((160, 120, 6), "uint8"),
    C.DEPTH_STATIC: ((C.STATIC_SIZE, C.STATIC_SIZE), "float"),
    C.DEPTH_GRIPPER: ((C.GRIPPER_SIZE, C.GRIPPER_SIZE), "float"),
    DEPTH_TACTILE: ((160, 120, 2), "float"),
}

# Errors numpy/zipfile raise on a truncated or corrupt npz.
DECODE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    ValueError,
    OSError,
    pickle.UnpicklingError,
    KeyError,
)


def frame_name(index: int) -> str:
    """``episode_XXXXXXX.npz`` for a global frame index."""
    if index < 0:
        raise ValueError(f"frame index: expected >= 0, received {index}")
    return f"episode_{index:0{FRAME_DIGITS}d}.npz"


def frame_path(split_dir: str | os.PathLike, index: int) -> Path:
    """Path of frame ``index`` inside a split folder."""
    return Path(split_dir) / frame_name(int(index))


def frame_index_from_name(name: str) -> int | None:
    """Global index encoded in ``episode_XXXXXXX.npz``, or None for any other name."""
    if name.startswith("episode_") and name.endswith(".npz"):
        digits = name[len("episode_") : -len(".npz")]
        if digits.isdigit():
            return int(digits)
    return None


def check_frame_array(
    path: str | os.PathLike,
    key: str,
    arr: np.ndarray,
    shapes: Mapping[str, tuple[int, ...] | None] | None = None,
) -> None:
    """Raise ``ValueError`` unless ``arr`` has the shape and dtype CALVIN uses for ``key``.

    Args:
        path: file the array came from (for the message).
        key: frame key.
        arr: the array.
        shapes: per-key shape overrides (``None`` disables the shape check of that key).
    """
    spec = FRAME_SPECS.get(key)
    if spec is None:
        return
    shape, kind = spec
    if shapes is not None and key in shapes:
        shape = shapes[key]  # type: ignore[assignment]
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{path}: key {key!r}: expected shape {tuple(shape)}, received {tuple(arr.shape)}")
    if kind == "uint8" and arr.dtype != np.uint8:
        raise ValueError(f"{path}: key {key!r}: expected dtype uint8, received {arr.dtype}")
    if kind == "float" and not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{path}: key {key!r}: expected a float dtype, received {arr.dtype}")


def read_frame(
    path: str | os.PathLike, keys: Iterable[str], shapes: Mapping[str, tuple[int, ...] | None] | None = None
) -> dict[str, np.ndarray]:
    """Load the chosen keys of one frame file; floats become float32.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded, lacks a key, or holds a wrong shape/dtype.
    """
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            available = set(npz.files)
            for key in keys:
                if key not in available:
                    raise _MissingKey(key, sorted(available))
                arr = npz[key]
                check_frame_array(path, key, arr, shapes)
                if np.issubdtype(arr.dtype, np.floating) and arr.dtype != np.float32:
                    arr = arr.astype(np.float32)
                out[key] = arr
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: frame file not found") from None
    except _MissingKey as e:
        raise ValueError(f"{path}: missing key {e.key!r}; the file holds {e.available}") from None
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot decode frame ({type(e).__name__}: {e})") from e
    except DECODE_ERRORS as e:
        raise ValueError(f"{path}: cannot decode frame ({type(e).__name__}: {e})") from e
    return out


class _MissingKey(Exception):
    def __init__(self, key: str, available: list[str]) -> None:
        super().__init__(key)
        self.key = key
        self.available = available


# --- auxiliary files ------------------------------------------------------------------------------
def _load_npy(path: Path, *, pickled: bool) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return np.load(path, allow_pickle=pickled)
    except DECODE_ERRORS as e:
        raise ValueError(f"{path}: cannot read ({type(e).__name__}: {e})") from e


def _load_pickled_dict(path: Path) -> dict:
    arr = _load_npy(path, pickled=True)
    try:
        obj = arr.item() if isinstance(arr, np.ndarray) else arr
    except ValueError:
        obj = arr
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, received {type(obj).__name__}")
    return obj


def read_segments(split_dir: str | os.PathLike) -> np.ndarray:
    """``ep_start_end_ids.npy``: (N, 2) int64 inclusive [start, end] global frame index per segment.

    ``ep_lens.npy`` is checked against it when present. Segments come back sorted by start.
    """
    split_dir = Path(split_dir)
    path = split_dir / EP_START_END_IDS
    ids = np.asarray(_load_npy(path, pickled=False))
    if ids.ndim != 2 or ids.shape[1] != 2 or ids.shape[0] == 0:
        raise ValueError(
            f"{path}: expected an (N, 2) array of [start, end] with N >= 1, received shape {ids.shape}"
        )
    if not np.issubdtype(ids.dtype, np.integer):
        if not np.all(np.equal(np.mod(ids, 1), 0)):
            raise ValueError(f"{path}: expected integer frame indices, received dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    bad = np.flatnonzero((ids[:, 0] > ids[:, 1]) | (ids[:, 0] < 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{path}: segment {i}: expected 0 <= start <= end, received {ids[i].tolist()}")
    ids = ids[np.argsort(ids[:, 0], kind="stable")]
    overlap = np.flatnonzero(ids[1:, 0] <= ids[:-1, 1])
    if overlap.size:
        i = int(overlap[0])
        raise ValueError(f"{path}: segments {ids[i].tolist()} and {ids[i + 1].tolist()} overlap")
    lens_path = split_dir / EP_LENS
    if lens_path.exists():
        lens = np.asarray(_load_npy(lens_path, pickled=False)).reshape(-1)
        if lens.shape[0] != ids.shape[0]:
            raise ValueError(
                f"{lens_path}: expected {ids.shape[0]} lengths (one per segment in "
                f"{EP_START_END_IDS}), received {lens.shape[0]}"
            )
        if not np.array_equal(np.sort(lens.astype(np.int64)), np.sort(ids[:, 1] - ids[:, 0] + 1)):
            raise ValueError(f"{lens_path}: lengths do not match end - start + 1 of {EP_START_END_IDS}")
    return ids


def contiguous_runs(segments: np.ndarray) -> np.ndarray:
    """Merge segments that touch (end + 1 == next start) into (M, 2) runs of recorded frames."""
    runs: list[list[int]] = []
    for s, e in segments.tolist():
        if runs and s == runs[-1][1] + 1:
            runs[-1][1] = e
        else:
            runs.append([s, e])
    return np.asarray(runs, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class LangAnnotations:
    """Contents of ``lang_annotations/auto_lang_ann.npy``.

    Attributes:
        ann: N raw sentences.
        task: N task ids.
        emb: (N, D) float32 sentence embeddings (CALVIN stores (N, 1, D); the 1 is dropped).
        indx: (N, 2) int64 inclusive [start, end] global frame index of each window.
    """

    ann: list[str]
    task: list[str]
    emb: np.ndarray
    indx: np.ndarray

    def __len__(self) -> int:
        return len(self.ann)


def read_lang_annotations(split_dir: str | os.PathLike, lang_folder: str = LANG_DIR) -> LangAnnotations:
    """Load and check ``<split>/<lang_folder>/auto_lang_ann.npy``."""
    path = Path(split_dir) / lang_folder / LANG_ANN
    d = _load_pickled_dict(path)
    for top, keys in (("language", ("ann", "task", "emb")), ("info", ("indx",))):
        if top not in d or not isinstance(d[top], dict):
            raise ValueError(f"{path}: missing dict {top!r}; the file holds keys {sorted(d)}")
        for k in keys:
            if k not in d[top]:
                raise ValueError(f"{path}: missing key {top}.{k}; {top} holds {sorted(d[top])}")
    ann = [str(a) for a in d["language"]["ann"]]
    task = [str(t) for t in d["language"]["task"]]
    emb = np.asarray(d["language"]["emb"])
    n = len(ann)
    if emb.ndim == 3 and emb.shape[1] == 1:
        emb = emb[:, 0, :]
    if emb.ndim != 2 or emb.shape[0] != n:
        raise ValueError(
            f"{path}: language.emb: expected shape ({n}, 1, D) or ({n}, D), "
            f"received {np.shape(d['language']['emb'])}"
        )
    if not np.issubdtype(emb.dtype, np.floating):
        raise ValueError(f"{path}: language.emb: expected a float dtype, received {emb.dtype}")
    try:
        indx = (
            np.asarray(list(d["info"]["indx"]), dtype=np.int64).reshape(-1, 2)
            if n
            else np.zeros((0, 2), np.int64)
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: info.indx: expected a list of (start, end) pairs ({e})") from e
    if len(task) != n or indx.shape[0] != n:
        raise ValueError(
            f"{path}: expected equal lengths, received language.ann {n}, language.task {len(task)}, "
            f"language.emb {emb.shape[0]}, info.indx {indx.shape[0]}"
        )
    bad = np.flatnonzero(indx[:, 0] > indx[:, 1]) if n else np.zeros(0, np.int64)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{path}: info.indx[{i}]: expected start <= end, received {indx[i].tolist()}")
    return LangAnnotations(ann=ann, task=task, emb=emb.astype(np.float32), indx=indx)


def read_scene_info(split_dir: str | os.PathLike) -> dict[str, list[int]] | None:
    """``scene_info.npy`` ({scene name: [first, last]}) of the split, or of its sibling
    ``training/`` (CALVIN ships it only there); None when neither exists."""
    split_dir = Path(split_dir)
    for path in (split_dir / SCENE_INFO, split_dir.parent / "training" / SCENE_INFO):
        if path.is_file():
            d = _load_pickled_dict(path)
            out: dict[str, list[int]] = {}
            for name, rng in d.items():
                r = np.asarray(rng).reshape(-1)
                if r.shape != (2,):
                    raise ValueError(f"{path}: scene {name!r}: expected [first, last], received {rng!r}")
                out[str(name)] = [int(r[0]), int(r[1])]
            return out
    return None


def read_val_embeddings(
    split_dir: str | os.PathLike, lang_folder: str = LANG_DIR
) -> dict[str, dict[str, Any]]:
    """``validation/lang_annotations/embeddings.npy``: task -> {'emb': (1, 1, D), 'ann': [sentence]}."""
    path = Path(split_dir) / lang_folder / VAL_EMBEDDINGS
    d = _load_pickled_dict(path)
    for task, entry in d.items():
        if not isinstance(entry, dict) or "emb" not in entry or "ann" not in entry:
            raise ValueError(
                f"{path}: task {task!r}: expected a dict with 'emb' and 'ann', received {entry!r:.80}"
            )
    return d


def save_npy_atomic(path: str | os.PathLike, obj: Any) -> None:
    """``np.save`` to ``path`` through a temporary file and ``os.replace`` (pickles dicts)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(obj) if not isinstance(obj, dict) else np.array(obj, dtype=object)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=isinstance(obj, dict) or arr.dtype == object)
    write_bytes_atomic(path, buf.getvalue())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a sibling temporary file, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
