"""Training samples for behaviour cloning, built from a CALVIN split's annotated windows.

A language window ``[start, end]`` (global frame ids, inclusive, ``T = end - start + 1`` frames)
shows one subtask being done, and the subtask is complete after its last frame's action. Each frame
``t`` of the window gives one sample::

    observation   frame start + t (images, robot_obs)
    instruction   the window's sentence; plan target its sentence embedding (CALVIN's ``emb``)
    action chunk  rel_actions[u : min(u + K, T)]  (K = chunk_size; u = max(t, action offset))
    EOS           appended when u + K >= T: the subtask ends inside (or right after) the chunk

The action offset of a window is 0, or with ``skip_still_start`` its first moving frame.

Low-dimensional arrays (``rel_actions``, ``robot_obs``, ``scene_obs``) of every frame are read once
and kept in memory (and in the feature cache, keyed by the frame files' identities); images are read
per sample. ``scene_obs`` is never a policy input: training may use it as an auxiliary target.

Leading still frames: a demonstrator often waits a few steps before moving (here the expert closes
the gripper in place before it reaches). A memoryless policy that learns "stand still" for the
start observation can stall there forever, because standing still does not change what it sees.
Dropping those frames is no cure: the start observations (e.g. the open gripper every CALVIN chain
begins with) then never appear in training, and the policy stalls on them too. With
``skip_still_start`` they stay as observations, but their action chunk is the one of the window's
first moving frame: "from here, close the gripper while you reach", never "wait".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from envs.constants import ACTION_DIM, REL_ACTIONS, ROBOT_OBS, ROBOT_OBS_DIM, SCENE_OBS, SCENE_OBS_DIM
from vla_agent.data.format import LANG_DIR, frame_path, read_frame, read_lang_annotations
from vla_agent.training.feature_cache import FORMAT_VERSION, FeatureStore, file_fingerprint, sha256_of

STILL_ACTION = 1e-3  # an arm action (scaled to [-1, 1]) below this in every dimension does not move
_LOWDIM = ACTION_DIM + ROBOT_OBS_DIM + SCENE_OBS_DIM


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
        frame_keys: F fingerprints of the frame files (file identity, size, mtime).
        rel_actions: (F, 7) float32, robot_obs: (F, 15), scene_obs: (F, 24) float32 (raw, not
            normalised).
        action_offsets: (W,) int64 offset of the first action each window's chunks may start at
            (0, or the first moving frame with ``skip_still_start``).
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
    scene_obs: np.ndarray
    action_offsets: np.ndarray
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
    skip_still_start: bool = False,
) -> SplitIndex:
    """Read a split's annotations and the low-dimensional arrays of every annotated frame.

    Args:
        split_dir: ``<root>/training`` or ``<root>/validation``.
        lang_folder: annotation folder inside the split.
        max_windows: keep only the first N windows (tiny runs, tests).
        store: cache for the low-dimensional arrays (keyed by all frame files' fingerprints).
        progress: show a progress bar while reading frames.
        skip_still_start: label each window's leading still frames (arm action below
            :data:`STILL_ACTION` in dims 0..5) with the chunk of its first moving frame.

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
    lowdim_key = sha256_of("lowdim", FORMAT_VERSION, (REL_ACTIONS, ROBOT_OBS, SCENE_OBS), keys)
    if store is not None:
        lowdim = store.get(lowdim_key)
        if lowdim is not None and lowdim.shape != (len(frames), _LOWDIM):
            lowdim = None
    if lowdim is None:
        lowdim = _read_lowdim(split_dir, frames, progress)
        if store is not None:
            store.put(lowdim_key, lowdim)
    act_end, robot_end = ACTION_DIM, ACTION_DIM + ROBOT_OBS_DIM  # column ranges of lowdim
    offsets = np.zeros(len(starts), dtype=np.int64)
    if skip_still_start:
        offsets = first_moving_frames(starts, ends, frames, lowdim[:, :ACTION_DIM]) - starts
    return SplitIndex(
        split_dir=str(split_dir), starts=starts, ends=ends, sentence_ids=sentence_ids, sentences=sentences,
        tasks=list(ann.task[:n]), plan_targets=ann.emb[:n].astype(np.float32), frames=frames, frame_keys=keys,
        rel_actions=np.ascontiguousarray(lowdim[:, :act_end]),
        robot_obs=np.ascontiguousarray(lowdim[:, act_end:robot_end]),
        scene_obs=np.ascontiguousarray(lowdim[:, robot_end:]), action_offsets=offsets,
    )


def _read_lowdim(split_dir: Path, frames: np.ndarray, progress: bool) -> np.ndarray:
    """(F, 7 + 15 + 24) float32 ``rel_actions | robot_obs | scene_obs`` of the given frames."""
    lowdim = np.empty((len(frames), _LOWDIM), dtype=np.float32)
    it = tqdm(frames.tolist(), desc=f"reading {split_dir.name} frames", disable=not progress, leave=False)
    keys = (REL_ACTIONS, ROBOT_OBS, SCENE_OBS)
    for i, f in enumerate(it):
        fr = read_frame(frame_path(split_dir, f), keys)
        lowdim[i] = np.concatenate([np.asarray(fr[k], dtype=np.float32).reshape(-1) for k in keys])
    if not np.isfinite(lowdim).all():
        bad = int(np.flatnonzero(~np.isfinite(lowdim).all(1))[0])
        raise ValueError(f"{frame_path(split_dir, int(frames[bad]))}: expected finite {', '.join(keys)}, "
                         f"received NaN or inf")
    return lowdim


def first_moving_frames(starts: np.ndarray, ends: np.ndarray, frames: np.ndarray,
                        rel_actions: np.ndarray) -> np.ndarray:
    """Each window's first frame whose arm action moves (its own start when none does).

    Args:
        starts, ends: (W,) inclusive global frame ids of the windows.
        frames: (F,) sorted global frame ids; rel_actions: (F, 7) their actions.

    Returns:
        (W,) int64 frame ids, ``starts <= first <= ends``.
    """
    moving = np.abs(rel_actions[:, :ACTION_DIM - 1]).max(axis=1) > STILL_ACTION  # (F,)
    out = starts.copy()
    for w, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        r0, r1 = np.searchsorted(frames, [s, e])
        hit = np.flatnonzero(moving[r0 : r1 + 1])
        if hit.size:
            out[w] = s + int(hit[0])
    return out
