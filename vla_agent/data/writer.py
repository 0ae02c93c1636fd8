"""Write CALVIN split folders (SPEC §1): frames one by one, auxiliary files at the end.

Every file is written to a temporary name and renamed into place (``os.replace``), so a reader
never sees a half-written ``.npz``. The writer's bookkeeping (segments, annotations, running
statistics, next frame index) is a JSON-able :meth:`CalvinWriter.state_dict`: a caller that saves it
atomically after each finished unit of work can resume after a kill with
:meth:`CalvinWriter.from_state_dict`, which deletes the frames written after that commit point.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envs import constants as C
from vla_agent.data.format import (
    EP_LENS,
    EP_START_END_IDS,
    LANG_ANN,
    LANG_DIR,
    SCENE_INFO,
    STATISTICS,
    VAL_EMBEDDINGS,
    check_frame_array,
    frame_index_from_name,
    frame_path,
    save_npy_atomic,
)
from vla_agent.data.statistics import DatasetStatistics, RunningMoments, statistics_from_moments

EmbedFn = Callable[[Sequence[str]], np.ndarray]


def save_frame_atomic(
    path: str | os.PathLike, arrays: Mapping[str, np.ndarray], compress: bool = True
) -> None:
    """``np.savez_compressed`` into ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    buf = io.BytesIO()
    save = np.savez_compressed if compress else np.savez
    save(buf, **dict(arrays))  # type: ignore[arg-type]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(buf.getbuffer())
    os.replace(tmp, path)


class CalvinWriter:
    """Writes one CALVIN split folder.

    Usage::

        w = CalvinWriter("out/training", next_index=0)
        w.begin_segment()
        for frame in frames:                 # dict key -> array, CALVIN's keys and shapes
            idx = w.add_frame(frame)
        w.end_segment()
        w.add_language(start, end, "open the drawer", "open_drawer", emb)   # emb (384,) or None
        w.finalize()                          # ep_start_end_ids, ep_lens, statistics, annotations…

    Float arrays are stored as float64, as in the released CALVIN data (SPEC §1.3), depth as
    float32, images as uint8.

    Args:
        split_dir: the split folder (created if missing).
        next_index: global index of the first frame written (CALVIN's indices are global across
            splits, so a training and a validation writer may share one counter).
        compress: ``np.savez_compressed`` (CALVIN's choice) or plain ``np.savez``.
    """

    def __init__(self, split_dir: str | os.PathLike, next_index: int = 0, compress: bool = True) -> None:
        self.split_dir = Path(split_dir)
        self.split_dir.mkdir(parents=True, exist_ok=True)
        if int(next_index) < 0:
            raise ValueError(f"next_index: expected >= 0, received {next_index}")
        self.next_index = int(next_index)
        self.compress = bool(compress)
        self.segments: list[list[int]] = []
        self.open_segment: int | None = None  # start index of the segment being written
        self.frame_keys: list[str] | None = None
        self.lang: list[dict[str, Any]] = []
        self._robot = RunningMoments(C.ROBOT_OBS_DIM)
        self._scene = RunningMoments(C.SCENE_OBS_DIM)
        self._actions = RunningMoments(C.ACTION_DIM)

    # --- frames -----------------------------------------------------------------------------------
    def begin_segment(self, start_index: int | None = None) -> int:
        """Start a contiguous recorded segment; returns its first global index.

        Args:
            start_index: jump to this index (>= the next free one) to leave a gap, as CALVIN's
                splits do; None continues at :attr:`next_index`.
        """
        if self.open_segment is not None:
            raise ValueError(
                f"{self.split_dir}: segment starting at {self.open_segment} is still open; call end_segment()"
            )
        if start_index is not None:
            if int(start_index) < self.next_index:
                raise ValueError(
                    f"start_index: expected >= {self.next_index} (frames already written), "
                    f"received {start_index}"
                )
            self.next_index = int(start_index)
        self.open_segment = self.next_index
        return self.next_index

    def add_frame(self, frame: Mapping[str, Any]) -> int:
        """Write one frame (keys -> arrays); returns its global index."""
        if self.open_segment is None:
            raise ValueError(f"{self.split_dir}: no open segment; call begin_segment() first")
        idx = self.next_index
        path = frame_path(self.split_dir, idx)
        keys = sorted(frame)
        if self.frame_keys is not None and keys != self.frame_keys:
            raise ValueError(
                f"{path}: frame keys: expected {self.frame_keys} (as the first frame), received {keys}"
            )
        arrays: dict[str, np.ndarray] = {}
        for key in keys:
            arr = np.asarray(frame[key])
            check_frame_array(path, key, arr)
            if np.issubdtype(arr.dtype, np.floating):
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"{path}: key {key!r}: expected finite values, received non-finite ones")
                arr = arr.astype(np.float32 if key.startswith("depth") else np.float64)
            arrays[key] = arr
        save_frame_atomic(path, arrays, self.compress)
        self.frame_keys = keys
        if C.ROBOT_OBS in arrays:
            self._robot.update(arrays[C.ROBOT_OBS])
        if C.SCENE_OBS in arrays:
            self._scene.update(arrays[C.SCENE_OBS])
        if C.ACTIONS in arrays:
            self._actions.update(arrays[C.ACTIONS])
        self.next_index += 1
        return idx

    def end_segment(self) -> tuple[int, int]:
        """Close the open segment; returns its inclusive [start, end]."""
        if self.open_segment is None:
            raise ValueError(f"{self.split_dir}: no open segment to end")
        start, end = self.open_segment, self.next_index - 1
        self.open_segment = None
        if end < start:
            raise ValueError(f"{self.split_dir}: segment starting at {start} holds no frame")
        self.segments.append([start, end])
        return start, end

    # --- language --------------------------------------------------------------------------------
    def add_language(self, start: int, end: int, ann: str, task: str, emb: np.ndarray | None = None) -> None:
        """Label the frames [start, end] (inclusive, global) with a sentence.

        Args:
            emb: (D,) or (1, D) sentence embedding, or None to embed at :meth:`finalize`.
        """
        start, end = int(start), int(end)
        if not (0 <= start <= end < self.next_index):
            raise ValueError(
                f"{self.split_dir}: annotation [{start}, {end}]: expected 0 <= start <= end < "
                f"{self.next_index} (frames written), received [{start}, {end}]"
            )
        if not isinstance(ann, str) or not ann.strip():
            raise ValueError(f"ann: expected a non-empty sentence, received {ann!r}")
        entry: dict[str, Any] = {"indx": [start, end], "ann": ann, "task": str(task)}
        if emb is not None:
            e = np.asarray(emb, dtype=np.float32).reshape(-1)
            if not np.all(np.isfinite(e)):
                raise ValueError(f"emb: expected finite values for {ann!r}")
            entry["emb"] = e.tolist()
        self.lang.append(entry)

    # --- finish -----------------------------------------------------------------------------------
    def statistics(self) -> DatasetStatistics:
        """Statistics of every frame written so far (streamed, exact)."""
        return statistics_from_moments(self._robot, self._scene, self._actions)

    def finalize(
        self,
        statistics: DatasetStatistics | None = None,
        scene_info: Mapping[str, Sequence[int]] | None = None,
        val_embeddings: Mapping[str, Mapping[str, Any]] | None = None,
        embed_fn: EmbedFn | None = None,
        lang_folder: str = LANG_DIR,
    ) -> None:
        """Write the auxiliary files (atomically); may be called again after more frames.

        Args:
            statistics: written to ``statistics.yaml``; None = this split's own running statistics.
            scene_info: {scene name: [first, last]} for ``scene_info.npy`` (skipped when None).
            val_embeddings: task -> {'emb': (1, 1, D), 'ann': [sentence]} for ``embeddings.npy``.
            embed_fn: sentences -> (B, D) embeddings, for annotations added without ``emb``.
            lang_folder: annotation folder name.
        """
        if self.open_segment is not None:
            raise ValueError(
                f"{self.split_dir}: segment starting at {self.open_segment} is still open; call end_segment()"
            )
        if not self.segments:
            raise ValueError(f"{self.split_dir}: no segment written; nothing to finalise")
        ids = np.asarray(self.segments, dtype=np.int64).reshape(-1, 2)
        save_npy_atomic(self.split_dir / EP_START_END_IDS, ids)
        save_npy_atomic(self.split_dir / EP_LENS, ids[:, 1] - ids[:, 0] + 1)
        if scene_info is not None:
            save_npy_atomic(
                self.split_dir / SCENE_INFO, {str(k): [int(v[0]), int(v[1])] for k, v in scene_info.items()}
            )
        (statistics or self.statistics()).save(self.split_dir / STATISTICS)

        missing = [i for i, e in enumerate(self.lang) if "emb" not in e]
        if missing:
            if embed_fn is None:
                raise ValueError(
                    f"embed_fn: expected a sentence encoder, {len(missing)} annotations have no emb"
                )
            embs = np.asarray(embed_fn([self.lang[i]["ann"] for i in missing]), dtype=np.float32)
            for i, e in zip(missing, embs, strict=True):
                self.lang[i]["emb"] = e.reshape(-1).tolist()
        dims = {len(e["emb"]) for e in self.lang}
        if len(dims) > 1:
            raise ValueError(f"emb: expected one embedding size across annotations, received {sorted(dims)}")
        dim = dims.pop() if dims else C.LANG_EMB_DIM
        lang = {
            "language": {
                "ann": [e["ann"] for e in self.lang],
                "task": [e["task"] for e in self.lang],
                # CALVIN's shape: (N, 1, D) float32
                "emb": np.asarray([e["emb"] for e in self.lang], dtype=np.float32).reshape(
                    len(self.lang), 1, dim
                ),
            },
            "info": {"indx": [(e["indx"][0], e["indx"][1]) for e in self.lang], "episodes": []},
        }
        save_npy_atomic(self.split_dir / lang_folder / LANG_ANN, lang)
        if val_embeddings is not None:
            save_npy_atomic(self.split_dir / lang_folder / VAL_EMBEDDINGS, dict(val_embeddings))

    # --- resume -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-able bookkeeping (valid only between segments)."""
        if self.open_segment is not None:
            raise ValueError(f"{self.split_dir}: state_dict() is only valid between segments (one is open)")
        return {
            "next_index": self.next_index,
            "compress": self.compress,
            "segments": self.segments,
            "frame_keys": self.frame_keys,
            "lang": self.lang,
            "robot": self._robot.state_dict(),
            "scene": self._scene.state_dict(),
            "actions": self._actions.state_dict(),
        }

    @classmethod
    def from_state_dict(cls, split_dir: str | os.PathLike, state: Mapping[str, Any]) -> CalvinWriter:
        """Rebuild a writer from :meth:`state_dict`, deleting frames and temporary files written
        after that state was saved (a partial segment of a killed run)."""
        w = cls(split_dir, next_index=int(state["next_index"]), compress=bool(state.get("compress", True)))
        w.segments = [list(map(int, s)) for s in state["segments"]]
        w.frame_keys = state.get("frame_keys")
        w.lang = [dict(e) for e in state["lang"]]
        w._robot = RunningMoments.from_state_dict(state["robot"])
        w._scene = RunningMoments.from_state_dict(state["scene"])
        w._actions = RunningMoments.from_state_dict(state["actions"])
        w.truncate()
        return w

    def truncate(self) -> list[Path]:
        """Delete frame files with an index >= :attr:`next_index` and stale temporary files."""
        removed = []
        for p in self.split_dir.iterdir():
            idx = frame_index_from_name(p.name)
            stale_tmp = p.name.startswith(".") and p.name.endswith(".tmp")
            if stale_tmp or (idx is not None and idx >= self.next_index):
                p.unlink()
                removed.append(p)
        return removed
