"""Training samples for behaviour cloning, built from a CALVIN split's annotated windows.

A language window ``[start, end]`` (global frame ids, inclusive, ``T = end - start + 1`` frames)
shows one subtask being done, and the subtask is complete after its last frame's action. Each frame
``t`` of the window gives one sample::

    observation   frame start + t (images, robot_obs)
    instruction   the window's sentence; plan target its sentence embedding (CALVIN's ``emb``)
    action chunk  rel_actions[t : min(t + K, T)]  (K = chunk_size)
    EOS           appended when t + K >= T: the subtask ends inside (or right after) the chunk

Low-dimensional arrays (``rel_actions``, ``robot_obs``) of every frame are read once and kept in
memory (and in the feature cache, keyed by the frame files' identities); images are read per sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from envs.constants import ACTION_DIM, REL_ACTIONS, ROBOT_OBS, ROBOT_OBS_DIM
from vla_agent.data.format import LANG_DIR, frame_path, read_frame, read_lang_annotations
from vla_agent.training.feature_cache import FORMAT_VERSION, FeatureStore, file_fingerprint, sha256_of


def chunk_for_start(window_actions: np.ndarray, t: int, chunk_size: int) -> tuple[np.ndarray, bool]:
    """Action chunk and end flag of the sample starting at window offset ``t``.

    Args:
        window_actions: (T, 7) relative actions of one annotated window.
        t: offset of the observation frame, 0 <= t < T.
        chunk_size: K.

    Returns:
        ``(actions (k, 7), ends_subtask)`` with ``k = min(K, T - t)``; ``ends_subtask`` is
        ``t + K >= T``.
    """
    T = int(window_actions.shape[0])
    if not 0 <= t < T:
        raise ValueError(f"t: expected 0 <= t < {T} (window length), received {t}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected >= 1, received {chunk_size}")
    stop = min(t + chunk_size, T)
    return window_actions[t:stop], t + chunk_size >= T


@dataclass
class SplitIndex:
    """Everything about one split that training needs in memory.

    Attributes:
        split_dir: the split folder.
        starts, ends: (W,) inclusive global frame ids of each annotated window.
        sentence_ids: (W,) index of each window's sentence in ``sentences``.
        sentences: unique instruction sentences.
        tasks: (W,) task id of each window.
        plan_targets: (W, 384) float32 sentence embeddings.
        frames: (F,) sorted unique global frame ids inside any window.
        frame_keys: F fingerprints of the frame files (path, size, mtime).
        rel_actions: (F, 7) float32, robot_obs: (F, 15) float32 (raw, not normalised).
        samples: (S, 2) int64 rows of (window, offset t).
    """

    split_dir: str
    starts: np.ndarray
    ends: np.ndarray
    sentence_ids: np.ndarray
    sentences: list[str]
    tasks: list[str]
    plan_targets: np.ndarray
    frames: np.ndarray
    frame_keys: list[str]
    rel_actions: np.ndarray
    robot_obs: np.ndarray
    samples: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        lens = (self.ends - self.starts + 1).astype(np.int64)
        win = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        offs = np.concatenate([np.arange(n, dtype=np.int64) for n in lens] + [np.zeros(0, np.int64)])
        self.samples = np.stack([win, offs], axis=1)  # (S, 2)

    def __len__(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_windows(self) -> int:
        return int(self.starts.shape[0])

    def rows(self, frame_ids: np.ndarray) -> np.ndarray:
        """Rows of ``frames`` holding the given global frame ids."""
        return np.searchsorted(self.frames, frame_ids)

    def window_actions(self, w: int) -> np.ndarray:
        """(T, 7) relative actions of window ``w``."""
        r0 = int(self.rows(np.asarray([self.starts[w]]))[0])
        return self.rel_actions[r0 : r0 + int(self.ends[w] - self.starts[w] + 1)]

    def observation_frame(self, i: int) -> int:
        """Global frame id of sample ``i``'s observation."""
        w, t = self.samples[i]
        return int(self.starts[w] + t)


def build_split_index(
    split_dir: str | os.PathLike[str],
    lang_folder: str = LANG_DIR,
    max_windows: int | None = None,
    store: FeatureStore | None = None,
    progress: bool = False,
) -> SplitIndex:
    """Read a split's annotations and the low-dimensional arrays of every annotated frame.

    Args:
        split_dir: ``<root>/training`` or ``<root>/validation``.
        lang_folder: annotation folder inside the split.
        max_windows: keep only the first N windows (tiny runs, tests).
        store: cache for the low-dimensional arrays (keyed by all frame files' fingerprints).
        progress: show a progress bar while reading frames.

    Raises:
        FileNotFoundError: missing annotation or frame files.
        ValueError: no windows, or a window whose frames are not all present.
    """
    split_dir = Path(split_dir)
    ann = read_lang_annotations(split_dir, lang_folder)
    n = len(ann) if max_windows is None else min(len(ann), int(max_windows))
    if n == 0:
        raise ValueError(f"{split_dir / lang_folder}: expected at least one annotated window, received 0")
    starts = ann.indx[:n, 0].astype(np.int64)
    ends = ann.indx[:n, 1].astype(np.int64)
    sentences = sorted(set(ann.ann[:n]))
    lookup = {s: i for i, s in enumerate(sentences)}
    sentence_ids = np.asarray([lookup[s] for s in ann.ann[:n]], dtype=np.int64)
    frames = np.unique(np.concatenate([np.arange(s, e + 1) for s, e in zip(starts, ends, strict=True)]))
    keys = []
    for f in frames.tolist():
        p = frame_path(split_dir, f)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: frame file not found (inside an annotated window of {split_dir})")
        keys.append(file_fingerprint(p))
    lowdim = None
    lowdim_key = sha256_of("lowdim", FORMAT_VERSION, keys)
    if store is not None:
        lowdim = store.get(lowdim_key)
        if lowdim is not None and lowdim.shape != (len(frames), ACTION_DIM + ROBOT_OBS_DIM):
            lowdim = None
    if lowdim is None:
        lowdim = np.empty((len(frames), ACTION_DIM + ROBOT_OBS_DIM), dtype=np.float32)
        it = tqdm(frames.tolist(), desc=f"reading {split_dir.name} frames", disable=not progress, leave=False)
        for i, f in enumerate(it):
            fr = read_frame(frame_path(split_dir, f), (REL_ACTIONS, ROBOT_OBS))
            lowdim[i, :ACTION_DIM] = fr[REL_ACTIONS]
            lowdim[i, ACTION_DIM:] = fr[ROBOT_OBS]
        if not np.isfinite(lowdim).all():
            bad = int(np.flatnonzero(~np.isfinite(lowdim).all(1))[0])
            raise ValueError(f"{frame_path(split_dir, int(frames[bad]))}: expected finite {REL_ACTIONS} and "
                             f"{ROBOT_OBS}, received NaN or inf")
        if store is not None:
            store.put(lowdim_key, lowdim)
    return SplitIndex(
        split_dir=str(split_dir), starts=starts, ends=ends, sentence_ids=sentence_ids, sentences=sentences,
        tasks=list(ann.task[:n]), plan_targets=ann.emb[:n].astype(np.float32), frames=frames, frame_keys=keys,
        rel_actions=np.ascontiguousarray(lowdim[:, :ACTION_DIM]),
        robot_obs=np.ascontiguousarray(lowdim[:, ACTION_DIM:]),
    )
