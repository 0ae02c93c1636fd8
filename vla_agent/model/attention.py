"""Multi-head attention written out, with padding/causal masks and a key/value cache.

Shapes: B batch, T query length, S key length, C = d_model, h heads, D = C // h head size.
Boolean masks use True = "may attend"; masked scores are set to -inf BEFORE the softmax.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class KVCache:
    """Keys and values of past positions of one self-attention layer.

    The buffer is allocated once (``max_len`` positions) and filled in place, so a decoding step
    does not copy the whole past (a ``torch.cat`` per step would).
    """

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self.k: torch.Tensor | None = None  # (B, h, max_len, D)
        self.v: torch.Tensor | None = None  # (B, h, max_len, D)
        self.length = 0

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add (B, h, T, D) keys/values; return views of all keys/values so far, (B, h, P+T, D)."""
        B, h, T, D = k.shape
        if self.k is None or self.v is None:
            self.k = k.new_empty(B, h, self.max_len, D)
            self.v = v.new_empty(B, h, self.max_len, D)
        end = self.length + T
        if end > self.max_len:
            raise ValueError(f"KVCache: expected at most {self.max_len} positions, received {end}")
        self.k[:, :, self.length : end] = k
        self.v[:, :, self.length : end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over ``h`` heads.

    Self-attention (``cross=False``, optionally causal) projects q, k, v from the same input with one
    fused ``(C, 3C)`` linear layer (as nanoGPT); cross-attention projects q from the input and k, v
    from the encoder output (``(C, 2C)``). Dropout acts on the attention weights and on the output.

    Args:
        d_model: C.
        n_heads: h.
        dropout: dropout probability.
        causal: position i may only attend to positions <= i (self-attention only).
        cross: keys/values come from a separate context.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, causal: bool = False,
                 cross: bool = False) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model: expected a multiple of n_heads={n_heads}, received {d_model}")
        if causal and cross:
            raise ValueError("MultiHeadAttention: causal masking applies to self-attention only")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.causal = causal
        self.cross = cross
        if cross:
            self.q_proj = nn.Linear(d_model, d_model)
            self.kv_proj = nn.Linear(d_model, 2 * d_model)
        else:
            self.qkv_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(dropout)
        self.resid_drop = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, h, T, D)

    def project_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys/values of a fixed context (B, S, C) -> two (B, h, S, D); computed once per chunk."""
        k, v = self.kv_proj(context).chunk(2, dim=-1)  # 2x (B, S, C)
        return self._split(k), self._split(v)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        context_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Attend from ``x`` to itself (self) or to ``context`` (cross).

        Args:
            x: (B, T, C) queries (and keys/values for self-attention).
            context: (B, S, C) keys/values source for cross-attention.
            key_padding_mask: (B, S) bool, True on real keys; False keys get -inf scores.
            cache: self-attention KV cache; new keys/values are appended and past ones reused.
            context_kv: precomputed ``project_kv(context)`` (skips re-projecting the context).

        Returns:
            (B, T, C).
        """
        B, T, C = x.shape
        if self.cross:
            q = self._split(self.q_proj(x))  # (B, h, T, D)
            if context_kv is None:
                if context is None:
                    raise ValueError("cross-attention: expected context or context_kv, received neither")
                context_kv = self.project_kv(context)
            k, v = context_kv  # (B, h, S, D)
        else:
            q, k, v = (self._split(t) for t in self.qkv_proj(x).chunk(3, dim=-1))  # 3x (B, h, T, D)
            if cache is not None:
                k, v = cache.append(k, v)  # (B, h, P+T, D)
        S = k.shape[2]

        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))  # (B, h, T, S)
        if self.causal and T > 1:  # a single new query is the last position: it sees every key
            past = S - T  # the queries are the last T positions of the key sequence
            qpos = torch.arange(T, device=x.device).unsqueeze(1) + past  # (T, 1)
            kpos = torch.arange(S, device=x.device).unsqueeze(0)  # (1, S)
            att = att.masked_fill(kpos > qpos, float("-inf"))  # (B, h, T, S)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (B, S):
                got = tuple(key_padding_mask.shape)
                raise ValueError(f"key_padding_mask: expected shape {(B, S)}, received {got}")
            att = att.masked_fill(~key_padding_mask[:, None, None, :], float("-inf"))  # (B, h, T, S)
        att = F.softmax(att, dim=-1)  # (B, h, T, S)
        att = self.attn_drop(att)
        y = att @ v  # (B, h, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C) heads side by side
        return self.resid_drop(self.out_proj(y))  # (B, T, C)


class MLP(nn.Module):
    """Position-wise feed-forward: C -> ratio*C -> C with GELU (tanh form, as GPT-2) and dropout."""

    def __init__(self, d_model: int, ratio: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, ratio * d_model)
        self.proj = nn.Linear(ratio * d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x), approximate="tanh")))  # (B, T, C)
