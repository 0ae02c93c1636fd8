"""Causal transformer decoder over action tokens, cross-attending to the encoder output."""

from __future__ import annotations

import torch
from torch import nn

from vla_agent.model.attention import MLP, KVCache, MultiHeadAttention


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the memory, MLP (each pre-LN residual)."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout, causal=True)
        self.ln_2 = nn.LayerNorm(d_model)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, cross=True)
        self.ln_3 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, mlp_ratio, dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None,
        memory_mask: torch.Tensor | None,
        cache: KVCache | None = None,
        memory_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x (B, T, C), memory (B, S, C), memory_mask (B, S) or None (all real) -> (B, T, C).

        With ``cache`` (and optionally the precomputed ``memory_kv``), ``x`` holds only the new
        positions and the past ones are read from the cache.
        """
        x = x + self.self_attn(self.ln_1(x), cache=cache)  # (B, T, C)
        x = x + self.cross_attn(self.ln_2(x), context=memory, key_padding_mask=memory_mask,
                                context_kv=memory_kv)  # (B, T, C)
        x = x + self.mlp(self.ln_3(x))  # (B, T, C)
        return x


class Decoder(nn.Module):
    """Token + position embeddings, a stack of :class:`DecoderBlock`, LayerNorm and the vocabulary head.

    Args:
        vocab_size: action-token vocabulary (bins, gripper, BOS/EOS/PAD).
        max_len: decoder positions (7K + 1).
    """

    def __init__(self, vocab_size: int, max_len: int, d_model: int, n_heads: int, n_layers: int,
                 mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.max_len = max_len
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            DecoderBlock(d_model, n_heads, mlp_ratio, dropout) for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, tokens: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits.

        Args:
            tokens: (B, T) decoder inputs (BOS + targets shifted right), T <= max_len.
            memory: (B, S, C) encoder output.
            memory_mask: (B, S) True on real memory tokens.

        Returns:
            (B, T, V) logits; position t predicts target t.
        """
        B, T = tokens.shape
        if T > self.max_len:
            raise ValueError(f"tokens: expected at most {self.max_len} positions, received {T}")
        pos = torch.arange(T, device=tokens.device)  # (T,)
        x = self.drop(self.tok_emb(tokens) + self.pos_emb(pos))  # (B, T, C)
        for block in self.blocks:
            x = block(x, memory, memory_mask)  # (B, T, C)
        return self.head(self.ln_f(x))  # (B, T, V)

    def start(self, memory: torch.Tensor) -> tuple[list[KVCache], list[tuple[torch.Tensor, torch.Tensor]]]:
        """Fresh self-attention caches and the per-layer cross-attention keys/values of ``memory``."""
        caches = [KVCache(self.max_len) for _ in self.blocks]
        blocks: list[DecoderBlock] = list(self.blocks)  # type: ignore[arg-type]
        memory_kv = [block.cross_attn.project_kv(memory) for block in blocks]  # each 2x (B, h, S, D)
        return caches, memory_kv

    def step(
        self,
        tokens: torch.Tensor,
        position: int,
        memory_mask: torch.Tensor | None,
        caches: list[KVCache],
        memory_kv: list[tuple[torch.Tensor, torch.Tensor]],
    ) -> torch.Tensor:
        """One incremental decoding step.

        Args:
            tokens: (B, 1) the token at ``position``.
            position: its index in the decoder sequence (= caches' current length).

        Returns:
            (B, V) logits for the next target.
        """
        x = self.tok_emb(tokens) + self.pos_emb.weight[position]  # (B, 1, C)
        for block, cache, kv in zip(self.blocks, caches, memory_kv, strict=True):
            x = block(x, None, memory_mask, cache=cache, memory_kv=kv)  # (B, 1, C)
        return self.head(self.ln_f(x))[:, -1]  # (B, V)
