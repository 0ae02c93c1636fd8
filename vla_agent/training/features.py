"""Frozen features for training: text-encoder token features and segmentation image tokens.

Both networks are frozen during behaviour cloning, so their outputs depend only on the input and
the weights. With the cache on, they are computed once (image tokens per observation frame, text
features per distinct sentence), stored in a :class:`~vla_agent.training.feature_cache.FeatureStore`
and read back every epoch. With the cache off, the training step computes them live, exactly as
:class:`~vla_agent.policy.VLAPolicy` does when acting.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from envs.constants import RGB_GRIPPER, RGB_STATIC
from vla_agent.data.format import frame_path, read_frame
from vla_agent.training.feature_cache import (
    FORMAT_VERSION,
    FeatureStore,
    file_fingerprint,
    module_fingerprint,
    sha256_of,
)
from vla_agent.training.samples import SplitIndex


@functools.lru_cache(maxsize=2)
def _load_text_encoder(name: str, max_length: int) -> Any:
    from vla_agent.language import TextEncoder

    return TextEncoder(name, max_length=max_length)


def text_encoder_for(policy: Any) -> Any:
    """The frozen text encoder of ``policy``'s config, loaded once per process (~10 s for MiniLM here)
    and shared by every run in it (tests, benchmarks, sweeps)."""
    c = policy.config
    enc = _load_text_encoder(c.text_encoder, int(c.text_max_length))
    if int(enc.hidden_size) != int(c.text_dim):
        raise ValueError(f"VLAConfig.text_dim: the text encoder {c.text_encoder!r} gives {enc.hidden_size}, "
                         f"the config says {c.text_dim}")
    return enc


def feature_modules(segmentation: Any) -> list[torch.nn.Module]:
    """The networks behind ``segmentation.features`` (``feature_modules()`` may give a module, a
    mapping or a sequence)."""
    mods = segmentation.feature_modules()
    if isinstance(mods, torch.nn.Module):
        return [mods]
    if isinstance(mods, Mapping):
        return [mods[k] for k in sorted(mods)]
    return list(mods)


def image_fingerprint(policy: Any) -> str:
    """Digest of the segmentation weights and the settings that shape the policy's image tokens."""
    c = policy.config
    settings = {
        "kind": "image_tokens", "segmentation": type(policy.segmentation).__qualname__,
        "segmentation_config": c.segmentation, "static_size": c.static_size, "gripper_size": c.gripper_size,
        "num_static_tokens": c.num_static_tokens, "num_gripper_tokens": c.num_gripper_tokens,
        "image_feature_dim": c.image_feature_dim,
    }
    return module_fingerprint(feature_modules(policy.segmentation), settings)


def text_fingerprint(policy: Any) -> str:
    """Digest of the text encoder (weights, tokenizer files) and the kept token count.

    A local model folder is identified by its files' fingerprints, so a run whose sentences are all
    cached never loads the encoder; a hub id is loaded and its weights hashed.
    """
    from vla_agent.language.text_encoder import resolve_text_encoder

    c = policy.config
    settings = {"kind": "text_tokens", "name": c.text_encoder, "max_length": int(c.text_max_length),
                "text_dim": int(c.text_dim)}
    path = resolve_text_encoder(c.text_encoder)
    if os.path.isdir(path):
        files = []
        for base, _, names in sorted(os.walk(path)):
            for name in sorted(names):
                full = os.path.join(base, name)
                files.append((os.path.relpath(full, path), file_fingerprint(full)))
        return sha256_of(FORMAT_VERSION, settings, files)
    return module_fingerprint(text_encoder_for(policy).model, settings)


def image_keys(index: SplitIndex, image_fp: str) -> list[str]:
    """Cache key of every frame of a split: (frame file identity, segmentation digest)."""
    return [sha256_of("image", image_fp, k) for k in index.frame_keys]


@torch.no_grad()
def compute_image_tokens(policy: Any, rgb_static: np.ndarray | torch.Tensor,
                         rgb_gripper: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The policy's image tokens of a batch of frames: float32 (B, N_s + N_g, C_img)."""
    if isinstance(rgb_static, torch.Tensor):
        rgb_static = rgb_static.cpu().numpy()
    if isinstance(rgb_gripper, torch.Tensor):
        rgb_gripper = rgb_gripper.cpu().numpy()
    return policy.image_tokens(rgb_static, rgb_gripper)


def fill_image_cache(
    policy: Any,
    index: SplitIndex,
    store: FeatureStore,
    keys: Sequence[str],
    batch_size: int = 16,
    dtype: str = "float16",
    rank: int = 0,
    world_size: int = 1,
    progress: bool = False,
    num_workers: int = 0,
) -> int:
    """Compute and store the image tokens of every frame of ``index`` missing from ``store``.

    With several processes, rank r owns frames r, r + world_size, ...; entries are written
    atomically, so ranks never see a partial one. ``num_workers`` DataLoader workers read and
    decompress the frame files while the segmentation model runs.

    Returns:
        Number of frames this process computed.
    """
    # own frames by position, not among the missing ones: ranks check the store at different times
    # (while others write), so only a fixed partition guarantees every frame has exactly one owner
    mine = [i for i in range(rank, len(keys), world_size) if keys[i] not in store]
    if not mine:
        return 0
    np_dtype = np.float16 if dtype == "float16" else np.float32
    loader = torch.utils.data.DataLoader(_FrameImages(index, mine), batch_size=batch_size, shuffle=False,
                                         num_workers=num_workers)
    name = os.path.basename(index.split_dir.rstrip(os.sep))
    with tqdm(total=len(mine), desc=f"image features ({name})", disable=not progress, leave=False,
              unit="frame") as bar:
        for batch in loader:
            tokens = compute_image_tokens(policy, batch[RGB_STATIC], batch[RGB_GRIPPER])  # (b, N_img, C_img)
            for r, t in zip(batch["row"].tolist(), tokens.cpu().numpy(), strict=True):
                store.put(keys[r], t.astype(np_dtype))
            bar.update(len(tokens))
    return len(mine)


class _FrameImages(torch.utils.data.Dataset):
    """Both camera images of chosen rows of a split index (for filling the cache)."""

    def __init__(self, index: SplitIndex, rows: Sequence[int]) -> None:
        self.split_dir = index.split_dir
        self.frames = [int(index.frames[r]) for r in rows]
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        fr = read_frame(frame_path(self.split_dir, self.frames[i]), (RGB_STATIC, RGB_GRIPPER))
        return {"row": self.rows[i], RGB_STATIC: fr[RGB_STATIC], RGB_GRIPPER: fr[RGB_GRIPPER]}


class TextTable:
    """Token features of a fixed list of sentences, kept in memory.

    Attributes:
        feats: float32 (U, T, H); mask: bool (U, T), one row per sentence.
    """

    def __init__(self, feats: torch.Tensor, mask: torch.Tensor) -> None:
        self.feats = feats
        self.mask = mask

    def lookup(self, ids: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) sentence ids -> (B, T, H) features and (B, T) mask on ``device``."""
        ids = ids.long().cpu()
        return self.feats[ids].to(device), self.mask[ids].to(device)

    @classmethod
    @torch.no_grad()
    def build(cls, policy: Any, sentences: Sequence[str], store: FeatureStore | None = None,
              text_fp: str | None = None, batch_size: int = 64) -> TextTable:
        """Encode ``sentences`` (reading/writing per-sentence entries of ``store`` when given)."""
        if store is not None and text_fp is None:
            text_fp = text_fingerprint(policy)
        rows: list[np.ndarray | None] = [None] * len(sentences)
        keys = [sha256_of("text", text_fp, s) for s in sentences] if store is not None else []
        if store is not None:
            for i, k in enumerate(keys):
                rows[i] = store.get(k)
        todo = [i for i, r in enumerate(rows) if r is None]
        for s in range(0, len(todo), batch_size):
            part = todo[s : s + batch_size]
            texts = [sentences[i] for i in part]
            feats, mask = text_encoder_for(policy).encode_tokens(texts)  # (b, T, H), (b, T)
            packed = torch.cat([feats.float().cpu(), mask.float().cpu().unsqueeze(-1)], dim=-1).numpy()
            for i, p in zip(part, packed, strict=True):
                rows[i] = p  # (T, H + 1): features and the mask as a last column
                if store is not None:
                    store.put(keys[i], p)
        table = torch.from_numpy(np.stack([r for r in rows if r is not None]).astype(np.float32))  # (U, T, H+1)
        expected = (int(policy.config.text_max_length), int(policy.config.text_dim) + 1)
        if tuple(table.shape[1:]) != expected:
            raise ValueError(f"text features: expected (T, H) = ({expected[0]}, {expected[1] - 1}) per "
                             f"sentence (VLAConfig text_max_length, text_dim), received "
                             f"({table.shape[1]}, {table.shape[-1] - 1})")
        return cls(table[..., :-1].contiguous(), table[..., -1] > 0.5)
