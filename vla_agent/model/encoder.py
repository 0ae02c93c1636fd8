"""Transformer encoder over the source sequence ``[text] [SEP] [image] [proprio]``."""

from __future__ import annotations

import torch
from torch import nn

from vla_agent.model.attention import MLP, MultiHeadAttention


class EncoderBlock(nn.Module):
    """Self-attention + MLP, each a residual branch on a LayerNorm'd input (pre-LN, as GPT-2)."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, mlp_ratio, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, S, C), mask (B, S) True on real tokens -> (B, S, C)."""
        x = x + self.attn(self.ln_1(x), key_padding_mask=mask)  # (B, S, C)
        x = x + self.mlp(self.ln_2(x))  # (B, S, C)
        return x


class Encoder(nn.Module):
    """A stack of :class:`EncoderBlock` and a final LayerNorm."""

    def __init__(self, d_model: int, n_heads: int, n_layers: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, n_heads, mlp_ratio, dropout) for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, S, C), mask (B, S) -> (B, S, C)."""
        for block in self.blocks:
            x = block(x, mask)  # (B, S, C)
        return self.ln_f(x)  # (B, S, C)
