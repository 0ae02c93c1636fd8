"""Action tokenizer: CALVIN relative actions <-> discrete tokens for the decoder.

Vocabulary (one shared table for all arm dimensions; the decoder's position embedding tells which
dimension a slot holds)::

    0 .. n_bins-1        uniform bins over [-1, 1] (arm dims 0..5)
    n_bins               gripper close (-1)
    n_bins + 1           gripper open (+1)
    n_bins + 2           BOS (decoder start)
    n_bins + 3           EOS (subtask done)
    n_bins + 4           PAD (ignored by the loss)

A chunk of K actions is 7K tokens, ``[a0_d0 .. a0_d6, a1_d0 .. ]``; when the subtask ends inside
the chunk (after k <= K actions) an EOS follows the k-th action. Every chunk is padded with PAD to
``L = 7K + 1`` so a batch stacks.
"""

from __future__ import annotations

import numpy as np
import torch

from envs.constants import ACTION_DIM, GRIPPER_CLOSE, GRIPPER_OPEN

ARM_DIMS = ACTION_DIM - 1  # 6: xyz + euler; the 7th is the gripper


class ActionTokenizer:
    """Per-dimension uniform binning of relative actions plus special tokens.

    Args:
        n_bins: bins over [-1, 1] for each arm dimension.
        chunk_size: K, actions per chunk.
    """

    def __init__(self, n_bins: int, chunk_size: int) -> None:
        if n_bins < 2:
            raise ValueError(f"n_bins: expected >= 2, received {n_bins}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size: expected >= 1, received {chunk_size}")
        self.n_bins = int(n_bins)
        self.chunk_size = int(chunk_size)
        self.close_id = self.n_bins
        self.open_id = self.n_bins + 1
        self.bos_id = self.n_bins + 2
        self.eos_id = self.n_bins + 3
        self.pad_id = self.n_bins + 4
        self.vocab_size = self.n_bins + 5
        self.bin_width = 2.0 / self.n_bins
        # bin centres, float64 so decode(encode(x)) is within half a bin exactly
        self.centers = -1.0 + self.bin_width * (np.arange(self.n_bins, dtype=np.float64) + 0.5)

    @property
    def sequence_length(self) -> int:
        """L = 7K + 1 (room for EOS after a full chunk)."""
        return ACTION_DIM * self.chunk_size + 1

    # --- single actions -------------------------------------------------------------------------
    def encode_actions(self, actions: np.ndarray) -> np.ndarray:
        """Tokens of a batch of actions.

        Args:
            actions: (N, 7) relative actions; arm dims are clipped to [-1, 1], gripper > 0 = open.

        Returns:
            int64 (N, 7) token ids.
        """
        a = _check_actions(actions)
        arm = np.clip(a[:, :ARM_DIMS], -1.0, 1.0)  # (N, 6)
        bins = np.floor((arm + 1.0) / self.bin_width).astype(np.int64)  # (N, 6)
        bins = np.clip(bins, 0, self.n_bins - 1)  # +1.0 falls in the last bin
        grip = np.where(a[:, ARM_DIMS] > 0, self.open_id, self.close_id).astype(np.int64)  # (N,)
        return np.concatenate([bins, grip[:, None]], axis=1)

    def decode_actions(self, tokens: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`encode_actions`: (N, 7) tokens -> float32 (N, 7) actions, gripper exactly ±1."""
        t = np.asarray(tokens, dtype=np.int64)
        if t.ndim != 2 or t.shape[1] != ACTION_DIM:
            raise ValueError(f"tokens: expected shape (N, {ACTION_DIM}), received {t.shape}")
        arm = t[:, :ARM_DIMS]
        if arm.size and (arm.min() < 0 or arm.max() >= self.n_bins):
            raise ValueError(f"tokens[:, :6]: expected bin ids in [0, {self.n_bins}), "
                             f"received range [{arm.min()}, {arm.max()}]")
        grip = t[:, ARM_DIMS]
        bad = ~np.isin(grip, (self.close_id, self.open_id))
        if bad.any():
            raise ValueError(f"tokens[:, 6]: expected gripper ids {self.close_id}/{self.open_id}, "
                             f"received {grip[bad][:5].tolist()}")
        out = np.empty(t.shape, dtype=np.float32)
        out[:, :ARM_DIMS] = self.centers[arm]
        out[:, ARM_DIMS] = np.where(grip == self.open_id, GRIPPER_OPEN, GRIPPER_CLOSE)
        return out

    # --- chunks ---------------------------------------------------------------------------------
    def encode_chunk(self, actions: np.ndarray, ends_subtask: bool) -> np.ndarray:
        """Decoder target for one chunk.

        Args:
            actions: (k, 7) with 0 <= k <= K; fewer than K rows only when the subtask ends.
            ends_subtask: the subtask is done after these actions (appends EOS).

        Returns:
            int64 (L,) with L = 7K + 1: action tokens, optional EOS, then PAD.
        """
        a = _check_actions(actions, allow_empty=True)
        k = a.shape[0]
        if k > self.chunk_size:
            raise ValueError(f"actions: expected at most chunk_size={self.chunk_size} rows, received {k}")
        if k < self.chunk_size and not ends_subtask:
            raise ValueError(f"actions: a chunk shorter than chunk_size={self.chunk_size} "
                             f"(received {k} rows) "
                             "must end the subtask (ends_subtask=True)")
        out = np.full(self.sequence_length, self.pad_id, dtype=np.int64)
        out[: ACTION_DIM * k] = self.encode_actions(a).reshape(-1) if k else []
        if ends_subtask:
            out[ACTION_DIM * k] = self.eos_id
        return out

    def decode_chunk(self, tokens: np.ndarray) -> tuple[np.ndarray, bool]:
        """Inverse of :meth:`encode_chunk`: (L,) tokens -> (float32 (k, 7) actions, ended)."""
        t = np.asarray(tokens, dtype=np.int64).reshape(-1)
        stop = np.flatnonzero((t == self.eos_id) | (t == self.pad_id))
        n = int(stop[0]) if stop.size else t.size
        ended = bool(stop.size) and int(t[n]) == self.eos_id
        k = n // ACTION_DIM
        return self.decode_actions(t[: k * ACTION_DIM].reshape(k, ACTION_DIM)), ended

    # --- decoding constraints -------------------------------------------------------------------
    def allowed_mask(self, position: int, allow_eos: bool = True) -> torch.Tensor:
        """Tokens the grammar allows at target ``position`` (0-based).

        Arm slots allow bins, the gripper slot allows the two gripper tokens, and an action
        boundary (position % 7 == 0) may also be EOS.

        Returns:
            bool (vocab_size,).
        """
        mask = torch.zeros(self.vocab_size, dtype=torch.bool)
        slot = position % ACTION_DIM
        if position >= ACTION_DIM * self.chunk_size:
            mask[self.eos_id] = True
            return mask
        if slot < ARM_DIMS:
            mask[: self.n_bins] = True
        else:
            mask[self.close_id] = True
            mask[self.open_id] = True
        if slot == 0 and allow_eos:
            mask[self.eos_id] = True
        return mask


def _check_actions(actions: np.ndarray, allow_empty: bool = False) -> np.ndarray:
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != ACTION_DIM:
        raise ValueError(f"actions: expected shape (N, {ACTION_DIM}), received {a.shape}")
    if not allow_empty and a.shape[0] == 0:
        raise ValueError("actions: expected at least one row, received 0")
    if not np.isfinite(a).all():
        raise ValueError("actions: expected finite values, received NaN or inf")
    return a
