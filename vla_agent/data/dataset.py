"""A lazy PyTorch dataset over CALVIN split folders (SPEC §1)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from envs import constants as C
from vla_agent.data.format import (
    LANG_DIR,
    STATISTICS,
    LangAnnotations,
    contiguous_runs,
    frame_path,
    read_frame,
    read_lang_annotations,
    read_scene_info,
    read_segments,
)
from vla_agent.data.statistics import DatasetStatistics, compute_statistics, load_statistics

DEFAULT_KEYS: tuple[str, ...] = (
    C.RGB_STATIC,
    C.RGB_GRIPPER,
    C.ROBOT_OBS,
    C.SCENE_OBS,
    C.ACTIONS,
    C.REL_ACTIONS,
)


def window_starts(first: int, last: int, window: int, stride: int) -> list[int]:
    """Start frames of the windows of ``window`` frames laid every ``stride`` frames in [first, last].

    The last window always ends on ``last`` (so the final frame, e.g. a subtask's success frame, is
    covered); a span shorter than ``window`` gives one window starting at ``first``.
    """
    span_last_start = last - window + 1
    if span_last_start <= first:
        return [first]
    starts = list(range(first, span_last_start + 1, stride))
    if starts[-1] != span_last_start:
        starts.append(span_last_start)
    return starts


class CalvinDataset(Dataset):
    """Windows of frames from a CALVIN split folder, loaded lazily one ``.npz`` per frame.

    ``__init__`` reads only the small files (``ep_start_end_ids.npy``, ``ep_lens.npy``,
    ``lang_annotations/auto_lang_ann.npy``, ``statistics.yaml``) and one probe frame; it keeps no
    file open, so the dataset pickles into DataLoader workers. ``__getitem__`` opens the frames of one
    window and nothing else.

    Windows:
        * ``lang=True``: one source span per language annotation ``info.indx[i] = (start, end)``
          (inclusive). With ``window=None`` an item is the whole span (variable length; batch with
          :func:`pad_collate`). With ``window=T`` the span is cut into windows of ``T`` frames every
          ``stride`` frames, the last one ending on ``end``.
        * ``lang=False``: unlabelled play windows of ``T`` frames inside each recorded segment of
          ``ep_start_end_ids.npy`` (a window never crosses a segment boundary, hence never a gap).
        A span shorter than ``T`` gives one window padded by repeating its last frame (``mask``
        False on the padding). Language and play datasets return the same keys, so
        ``torch.utils.data.ConcatDataset([lang_ds, play_ds])`` mixes both in one batch.

    Item contract (``__getitem__`` returns a dict; numpy arrays, which DataLoader's default collate
    turns into tensors with a leading batch dim):
        * each requested key: ``(T, *frame_shape)``; float keys float32 (CALVIN stores float64),
          ``rgb_*`` uint8 (T, H, W, 3) channel-last. ``robot_obs``/``scene_obs`` are normalised
          ((x - mean) / std) only when ``normalize=True``.
        * ``frame_indices``: int64 (T,) global frame indices (padding repeats the last one).
        * ``mask``: bool (T,), True on real frames, False on padding.
        * ``is_last``: bool (T,), True on the span's final frame (a subtask's success frame for
          language windows; the segment's last frame for play windows) when it is inside the window.
        * ``lang_ann`` (str), ``lang_task`` (str), ``lang_emb`` float32 (D,) with D = 384 for CALVIN;
          for play windows ``""``, ``""`` and zeros, so language and play datasets can be
          concatenated.
        * ``ann_index``: int, the annotation's row in ``auto_lang_ann.npy`` (-1 for play windows).
        * ``span``: int64 (2,), the source span [start, end] (annotation or segment).

    Args:
        root: dataset folder holding ``training/`` and ``validation/``, or with ``split=None`` the
            split folder itself.
        split: ``"training"``, ``"validation"`` or None.
        keys: frame keys to load (any of CALVIN's ``episode_XXXXXXX.npz`` keys).
        window: frames per item; None = whole language span (only with ``lang=True``).
        stride: frames between consecutive window starts.
        lang: language windows (True) or unlabelled play windows (False).
        lang_folder: annotation folder (``lang_annotations`` or e.g. ``lang_paraphrase-MiniLM-L3-v2``).
        normalize: normalise ``robot_obs``/``scene_obs`` with :attr:`statistics`.
        statistics: a :class:`DatasetStatistics`, a path to a ``statistics.yaml``, or None for the
            split's own file (computed from a subsample of ``stats_frames`` frames when absent).
        frame_shapes: per-key shape overrides for the shape check (None value disables it).
        verify_files: check at start-up that every frame file of every span exists (one ``stat`` per
            frame); otherwise only the first and last frame of each segment are checked.

    Raises:
        FileNotFoundError: a folder or file is missing (the message names it).
        ValueError: a file is malformed, a key is missing, a shape is wrong, an annotation lies
            outside the recorded frames (the message names the file and the problem).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str | None = "training",
        keys: Sequence[str] = DEFAULT_KEYS,
        window: int | None = None,
        stride: int = 1,
        lang: bool = True,
        lang_folder: str = LANG_DIR,
        normalize: bool = False,
        statistics: DatasetStatistics | str | os.PathLike | None = None,
        stats_frames: int = 2000,
        frame_shapes: Mapping[str, tuple[int, ...] | None] | None = None,
        verify_files: bool = False,
    ) -> None:
        self.split_dir = Path(root) / split if split is not None else Path(root)
        if not self.split_dir.is_dir():
            raise FileNotFoundError(f"{self.split_dir}: split folder not found")
        if isinstance(keys, str):
            raise ValueError(f"keys: expected a sequence of frame keys, received the string {keys!r}")
        self.keys = tuple(keys)
        if not self.keys:
            raise ValueError("keys: expected at least one frame key, received none")
        if window is not None and (not isinstance(window, (int, np.integer)) or window < 1):
            raise ValueError(f"window: expected a positive int or None, received {window!r}")
        if window is None and not lang:
            raise ValueError("window: expected a positive int for play windows (lang=False), received None")
        if int(stride) < 1:
            raise ValueError(f"stride: expected >= 1, received {stride!r}")
        self.window = None if window is None else int(window)
        self.stride = int(stride)
        self.lang = bool(lang)
        self.normalize = bool(normalize)
        self.frame_shapes = dict(frame_shapes) if frame_shapes else None

        self.segments = read_segments(self.split_dir)
        self._check_segment_files(verify_all=False)
        self.scene_info = read_scene_info(self.split_dir)
        self.annotations: LangAnnotations | None = None
        if self.lang:
            self.annotations = read_lang_annotations(self.split_dir, lang_folder)
            self._check_annotations(lang_folder)
            spans = self.annotations.indx
        else:
            spans = self.segments
        self._emb_dim = int(self.annotations.emb.shape[1]) if self.annotations is not None else C.LANG_EMB_DIM
        self._build_index(spans)
        if verify_files:
            self._check_segment_files(verify_all=True)
        if len(self) == 0:
            what = "language annotations" if self.lang else "recorded segments"
            raise ValueError(f"{self.split_dir}: no windows (the split has no {what})")

        self._statistics: DatasetStatistics | None = None
        self._statistics_src = statistics
        self._stats_frames = int(stats_frames)
        if self.normalize:
            self._statistics = self._load_statistics()
        # A probe frame: missing keys or wrong shapes surface now, not inside a worker.
        read_frame(frame_path(self.split_dir, int(self._starts[0])), self.keys, self.frame_shapes)

    # --- index ---------------------------------------------------------------------------------
    def _build_index(self, spans: np.ndarray) -> None:
        starts: list[int] = []
        span_ids: list[int] = []
        for i, (first, last) in enumerate(spans.tolist()):
            if self.window is None:
                s = [first]
            else:
                s = window_starts(first, last, self.window, self.stride)
            starts.extend(s)
            span_ids.extend([i] * len(s))
        self._starts = np.asarray(starts, dtype=np.int64)
        self._span_ids = np.asarray(span_ids, dtype=np.int64)
        self._spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)

    def _check_annotations(self, lang_folder: str) -> None:
        assert self.annotations is not None
        runs = contiguous_runs(self.segments)
        indx = self.annotations.indx
        if indx.shape[0] == 0:
            return
        # the run whose start is the last one <= the annotation start must also hold its end
        pos = np.searchsorted(runs[:, 0], indx[:, 0], side="right") - 1
        ok = (pos >= 0) & (indx[:, 1] <= runs[np.maximum(pos, 0), 1])
        bad = np.flatnonzero(~ok)
        if bad.size:
            i = int(bad[0])
            path = self.split_dir / lang_folder / "auto_lang_ann.npy"
            raise ValueError(
                f"{path}: info.indx[{i}] = {indx[i].tolist()} lies outside the recorded frames of "
                f"{self.split_dir / 'ep_start_end_ids.npy'} "
                f"(segments span {self.segments[0, 0]}..{self.segments[-1, 1]}; "
                f"{bad.size} of {indx.shape[0]} annotations are outside)"
            )

    def _check_segment_files(self, verify_all: bool) -> None:
        for first, last in self.segments.tolist():
            idxs = range(first, last + 1) if verify_all else (first, last)
            for idx in idxs:
                p = frame_path(self.split_dir, idx)
                if not p.is_file():
                    raise FileNotFoundError(
                        f"{p}: frame file not found (segment [{first}, {last}] of ep_start_end_ids.npy)"
                    )

    # --- statistics -----------------------------------------------------------------------------
    def _load_statistics(self) -> DatasetStatistics:
        src = self._statistics_src
        if isinstance(src, DatasetStatistics):
            return src
        if src is not None:
            return load_statistics(src)
        path = self.split_dir / STATISTICS
        if path.is_file():
            return load_statistics(path)
        return compute_statistics(self.split_dir, max_frames=self._stats_frames)

    @property
    def statistics(self) -> DatasetStatistics:
        """Normalisation statistics: the given ones, the split's ``statistics.yaml``, or computed."""
        if self._statistics is None:
            self._statistics = self._load_statistics()
        return self._statistics

    # --- items -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._starts.shape[0])

    def window_frames(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(frame indices (T,), mask (T,), span id) of item ``i`` without loading anything."""
        start = int(self._starts[i])
        span_id = int(self._span_ids[i])
        first, last = self._spans[span_id].tolist()
        length = (last - first + 1) if self.window is None else self.window
        idx = start + np.arange(length, dtype=np.int64)
        mask = idx <= last
        idx = np.minimum(idx, last)
        return idx, mask, span_id

    def __getitem__(self, i: int) -> dict[str, Any]:
        if isinstance(i, torch.Tensor):
            i = int(i)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index: expected in [-{n}, {n}), received {i}")
        i = i % n
        idx, mask, span_id = self.window_frames(i)
        real = idx[mask]
        frames = [
            read_frame(frame_path(self.split_dir, j), self.keys, self.frame_shapes) for j in real.tolist()
        ]
        item: dict[str, Any] = {}
        for key in self.keys:
            try:
                arr = np.stack([f[key] for f in frames])
            except ValueError as e:
                shapes = sorted({f[key].shape for f in frames})
                raise ValueError(
                    f"{self.split_dir}: key {key!r}: frames {real[0]}..{real[-1]} have different "
                    f"shapes {shapes}"
                ) from e
            if arr.shape[0] < idx.shape[0]:  # pad by repeating the last real frame
                arr = np.concatenate([arr, np.repeat(arr[-1:], idx.shape[0] - arr.shape[0], axis=0)])
            if self.normalize and key in (C.ROBOT_OBS, C.SCENE_OBS):
                arr = self.statistics.normalize(key, arr)
            item[key] = arr
        last = int(self._spans[span_id, 1])
        item["frame_indices"] = idx
        item["mask"] = mask
        item["is_last"] = (idx == last) & mask
        item["span"] = self._spans[span_id].copy()
        if self.annotations is not None:
            item["lang_ann"] = self.annotations.ann[span_id]
            item["lang_task"] = self.annotations.task[span_id]
            item["lang_emb"] = self.annotations.emb[span_id].copy()
            item["ann_index"] = span_id
        else:
            item["lang_ann"] = ""
            item["lang_task"] = ""
            item["lang_emb"] = np.zeros(self._emb_dim, dtype=np.float32)
            item["ann_index"] = -1
        return item

    def __repr__(self) -> str:
        kind = "language" if self.lang else "play"
        return (
            f"CalvinDataset({str(self.split_dir)!r}, {kind} windows={len(self)}, window={self.window}, "
            f"stride={self.stride}, keys={self.keys})"
        )


def pad_collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch items of different lengths T: pad every (T, ...) array to the longest with its last
    frame and ``mask`` False, then stack; strings become lists. Use with ``window=None``.

    Returns:
        dict of tensors (B, T_max, ...) plus lists of strings.
    """
    if not items:
        raise ValueError("items: expected at least one item, received none")
    t_max = max(int(it["mask"].shape[0]) for it in items)
    out: dict[str, Any] = {}
    for key, first in items[0].items():
        if isinstance(first, str):
            out[key] = [it[key] for it in items]
            continue
        arrs = []
        for it in items:
            a = np.asarray(it[key])
            if key == "mask" or key == "is_last":
                a = np.concatenate([a, np.zeros(t_max - a.shape[0], dtype=bool)])
            elif a.ndim >= 1 and key not in ("lang_emb", "span") and a.shape[0] == it["mask"].shape[0]:
                a = np.concatenate([a, np.repeat(a[-1:], t_max - a.shape[0], axis=0)])
            arrs.append(a)
        out[key] = torch.as_tensor(np.stack(arrs))
    return out
