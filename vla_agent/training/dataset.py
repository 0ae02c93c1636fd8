"""`BCDataset`: the PyTorch dataset of behaviour-cloning samples (see :mod:`vla_agent.training.samples`).

Targets (action tokens with EOS/PAD, normalised proprioception, plan targets) are built once in
``__init__``; ``__getitem__`` only reads the observation's image features from the feature cache or,
without a cache, the raw camera images (features are then computed in the training step). Items
hold NumPy arrays so DataLoader workers ship them cheaply; the default collate stacks them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from envs.constants import RGB_GRIPPER, RGB_STATIC
from vla_agent.data.format import frame_path, read_frame
from vla_agent.training.feature_cache import FeatureStore
from vla_agent.training.samples import SplitIndex, chunk_for_start

IMAGE_TOKENS = "image_tokens"
SENTENCE_ID = "sentence_id"


class BCDataset(torch.utils.data.Dataset):
    """Samples of one split.

    Args:
        index: the split's :class:`SplitIndex`.
        encode_chunk: ``(actions (k, 7), ends_subtask) -> int64 (L,)`` (the policy's action tokenizer).
        normalize: ``robot_obs (N, 15) -> float32 (N, 15)`` (the policy's normaliser).
        image_store: cache holding each observation frame's image tokens under ``image_keys``;
            ``None`` reads raw images instead.
        image_keys: F cache keys, one per row of ``index.frames`` (required with ``image_store``).
        scene_targets: optional (F, D) float32 auxiliary targets, one row per row of ``index.frames``.

    Items: ``sentence_id`` int64 (), ``robot_obs`` float32 (15,), ``action_tokens`` int64 (L,),
    ``plan_target`` float32 (384,), ``scene_target`` float32 (D,) when given, and either
    ``image_tokens`` float32 (N_img, C_img) or ``rgb_static`` uint8 (200, 200, 3) +
    ``rgb_gripper`` uint8 (84, 84, 3).
    """

    def __init__(
        self,
        index: SplitIndex,
        encode_chunk: Callable[[np.ndarray, bool], np.ndarray],
        normalize: Callable[[np.ndarray], np.ndarray],
        chunk_size: int,
        image_store: FeatureStore | None = None,
        image_keys: list[str] | None = None,
        scene_targets: np.ndarray | None = None,
    ) -> None:
        if image_store is not None and (image_keys is None or len(image_keys) != len(index.frames)):
            raise ValueError(f"image_keys: expected {len(index.frames)} keys (one per frame) with an image "
                             f"store, received {None if image_keys is None else len(image_keys)}")
        if scene_targets is not None and len(scene_targets) != len(index.frames):
            raise ValueError(f"scene_targets: expected {len(index.frames)} rows (one per frame), "
                             f"received {len(scene_targets)}")
        self.scene_targets = scene_targets
        self.index = index
        self.image_store = image_store
        self.image_keys = image_keys
        S = len(index)
        obs_frames = index.starts[index.samples[:, 0]] + index.samples[:, 1]  # (S,)
        self.obs_rows = index.rows(obs_frames)  # (S,)
        self.robot_obs = normalize(index.robot_obs[self.obs_rows]).astype(np.float32)  # (S, 15)
        self.sentence_ids = index.sentence_ids[index.samples[:, 0]]  # (S,)
        self.plan_rows = index.samples[:, 0]  # (S,) window of each sample
        tokens = []
        for w in range(index.num_windows):
            acts = index.window_actions(w)  # (T, 7)
            first = int(index.action_offsets[w])
            for t in range(acts.shape[0]):
                chunk, ends = chunk_for_start(acts, max(t, first), chunk_size)
                tokens.append(encode_chunk(chunk, ends))
        self.action_tokens = np.stack(tokens).astype(np.int64)  # (S, L)
        assert self.action_tokens.shape[0] == S

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        row = int(self.obs_rows[i])
        item = {
            SENTENCE_ID: np.int64(self.sentence_ids[i]),
            "robot_obs": self.robot_obs[i],
            "action_tokens": self.action_tokens[i],
            "plan_target": self.index.plan_targets[self.plan_rows[i]],
        }
        if self.scene_targets is not None:
            item["scene_target"] = self.scene_targets[row]
        if self.image_store is not None:
            assert self.image_keys is not None
            feats = self.image_store.get(self.image_keys[row])
            if feats is None:
                raise FileNotFoundError(
                    f"feature cache: no image tokens for frame {int(self.index.frames[row])} of "
                    f"{self.index.split_dir} (key {self.image_keys[row][:16]}...); fill the cache first")
            item[IMAGE_TOKENS] = feats.astype(np.float32)
        else:
            path = frame_path(self.index.split_dir, int(self.index.frames[row]))
            fr = read_frame(path, (RGB_STATIC, RGB_GRIPPER))
            item[RGB_STATIC] = fr[RGB_STATIC]
            item[RGB_GRIPPER] = fr[RGB_GRIPPER]
        return item
