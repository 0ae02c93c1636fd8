"""`VLAModel`: the encoder-decoder transformer of the VLA policy (``nn.Module``: features in, tokens out).

Source sequence (encoder input), S = T_text + 1 + N_img + 1 tokens::

    [text tokens (T_text)] [SEP] [static image tokens (N_s)] [gripper image tokens (N_g)] [proprio]

Text tokens are the frozen text encoder's features projected to C; image tokens are
``SegmentationModel.features`` projected to C plus a camera embedding; every slot gets a learned
position embedding. The encoder's masked mean is projected to the 384-d latent plan (trained against
the instruction's sentence embedding); the plan, projected back to C, is prepended to the encoder
output as the decoder's memory. The decoder predicts a chunk of K actions as 7K tokens (+ EOS).

Training API (used by the training loop)::

    loss, logs = model(batch)    # batch: dict of tensors, see VLAModel.forward
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vla_agent.model import Decoder, Encoder
from vla_agent.policy.configuration import VLAConfig
from vla_agent.policy.tokenizer import ActionTokenizer
from vla_agent.segmentation.scene_state import SCENE_TARGETS


class VLAModel(nn.Module):
    """Encoder (text + images + proprio -> memory, latent plan) and action decoder.

    Args:
        config: sizes; ``config.seed`` seeds the weight initialisation.
    """

    def __init__(self, config: VLAConfig) -> None:
        super().__init__()
        self.config = c = config
        C = c.d_model
        self.tokenizer = ActionTokenizer(c.n_bins, c.chunk_size)
        # --- source embeddings -------------------------------------------------------------------
        self.text_proj = nn.Linear(c.text_dim, C)
        self.sep = nn.Parameter(torch.zeros(1, 1, C))
        self.image_proj = nn.Linear(c.image_feature_dim, C)
        self.camera_emb = nn.Embedding(2, C)  # 0 static, 1 gripper
        self.proprio_proj = nn.Sequential(nn.Linear(c.robot_obs_dim, C), nn.GELU(), nn.Linear(C, C))
        self.src_pos = nn.Parameter(torch.zeros(1, c.source_length, C))
        self.src_drop = nn.Dropout(c.dropout)
        camera_ids = torch.cat([torch.zeros(c.num_static_tokens), torch.ones(c.num_gripper_tokens)]).long()
        self.register_buffer("camera_ids", camera_ids, persistent=False)  # (N_img,)
        # --- encoder, latent plan, decoder -------------------------------------------------------
        self.encoder = Encoder(C, c.n_heads, c.n_encoder_layers, c.mlp_ratio, c.dropout)
        self.plan_head = nn.Linear(C, c.plan_dim)
        self.plan_in = nn.Linear(c.plan_dim, C)
        self.decoder = Decoder(self.tokenizer.vocab_size, c.action_sequence_length, C, c.n_heads,
                               c.n_decoder_layers, c.mlp_ratio, c.dropout)
        allowed = torch.stack([self.tokenizer.allowed_mask(p) for p in range(c.action_sequence_length)])
        self.register_buffer("allowed", allowed, persistent=False)  # (L, V) decoding grammar
        grammar_bias = torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))
        self.register_buffer("grammar_bias", grammar_bias, persistent=False)  # (L, V) 0 / -inf
        self.grammar_bias: torch.Tensor
        self.allowed: torch.Tensor
        # --- auxiliary scene-state head (training only; registered last so it leaves the other
        # parameters' seeded initialisation unchanged) ---------------------------------------------
        self.scene_head: nn.Module | None = None
        if c.scene_weight > 0:
            self.scene_head = nn.Sequential(nn.Linear(C, C), nn.GELU(), nn.Linear(C, SCENE_TARGETS))
        gen = torch.Generator().manual_seed(c.seed)
        self._init_weights(gen)

    @torch.no_grad()
    def _init_weights(self, gen: torch.Generator) -> None:
        # GPT-2 style: N(0, 0.02) weights, zero biases; one generator so the seed alone fixes them
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif ".ln_" in name or name.startswith("ln_") or "ln_f" in name:
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- encoder -------------------------------------------------------------------------------
    def encode(
        self,
        text_feats: torch.Tensor,
        text_mask: torch.Tensor,
        image_tokens: torch.Tensor,
        robot_obs: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode one observation + instruction per batch row.

        Args:
            text_feats: (B, T, H) frozen text-encoder features, T <= text_max_length.
            text_mask: (B, T) bool, True on real text tokens.
            image_tokens: (B, N_s + N_g, C_img) segmentation features, static camera first.
            robot_obs: (B, 15) normalised proprioception.

        Returns:
            ``(memory, memory_mask, plan)``: (B, 1 + S, C), (B, 1 + S) bool, (B, 384).
        """
        memory, memory_mask, plan, _ = self._encode(text_feats, text_mask, image_tokens, robot_obs)
        return memory, memory_mask, plan

    def _encode(
        self, text_feats: torch.Tensor, text_mask: torch.Tensor, image_tokens: torch.Tensor,
        robot_obs: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`encode` plus the pooled encoder output (B, C) the heads read."""
        c = self.config
        B = text_feats.shape[0]
        text_feats, text_mask = self._pad_text(text_feats, text_mask)
        _expect(image_tokens, "image_tokens", (B, c.num_image_tokens, c.image_feature_dim))
        _expect(robot_obs, "robot_obs", (B, c.robot_obs_dim))
        t = self.text_proj(text_feats)  # (B, T, C)
        sep = self.sep.expand(B, -1, -1)  # (B, 1, C)
        img = self.image_proj(image_tokens) + self.camera_emb(self.camera_ids)  # (B, N_img, C)
        prop = self.proprio_proj(robot_obs).unsqueeze(1)  # (B, 1, C)
        x = torch.cat([t, sep, img, prop], dim=1) + self.src_pos  # (B, S, C)
        x = self.src_drop(x)
        ones = torch.ones(B, 1 + c.num_image_tokens + 1, dtype=torch.bool, device=x.device)  # (B, S - T)
        mask = torch.cat([text_mask, ones], dim=1)  # (B, S)
        h = self.encoder(x, mask)  # (B, S, C)
        m = mask.unsqueeze(-1).to(h.dtype)  # (B, S, 1)
        pooled = (h * m).sum(1) / m.sum(1)  # (B, C) mean over real tokens
        plan = self.plan_head(pooled)  # (B, 384)
        memory = torch.cat([self.plan_in(plan).unsqueeze(1), h], dim=1)  # (B, 1 + S, C)
        memory_mask = torch.cat([mask[:, :1], mask], dim=1)  # (B, 1 + S); the plan slot is always real
        return memory, memory_mask, plan, pooled

    def _pad_text(self, feats: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        if feats.ndim != 3 or feats.shape[-1] != c.text_dim:
            raise ValueError(f"text_feats: expected shape (B, T, {c.text_dim}), "
                             f"received {tuple(feats.shape)}")
        B, T, _ = feats.shape
        if T > c.text_max_length:
            raise ValueError(f"text_feats: expected at most text_max_length={c.text_max_length} tokens, "
                             f"received {T}")
        _expect(mask, "text_mask", (B, T))
        mask = mask.bool()
        if not mask.any(dim=1).all():
            raise ValueError("text_mask: expected at least one real text token per row, "
                             "received an empty row")
        if T < c.text_max_length:
            pad = c.text_max_length - T
            feats = F.pad(feats, (0, 0, 0, pad))  # (B, T_max, H)
            mask = F.pad(mask, (0, pad), value=False)  # (B, T_max)
        return feats, mask

    # --- training ------------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Teacher-forced loss.

        Args:
            batch: ``text_feats`` (B, T, H), ``text_mask`` (B, T), ``image_tokens`` (B, N_img, C_img),
                ``robot_obs`` (B, 15) normalised, ``action_tokens`` (B, L) targets from
                :meth:`ActionTokenizer.encode_chunk` (incl. EOS/PAD), optional ``plan_target`` (B, 384)
                (CALVIN's ``emb``; rows of (B, 1, 384) are accepted), optional ``scene_target``
                (B, 29) standardised scene state (used when ``scene_weight`` > 0).

        Returns:
            ``(loss, logs)``: loss = action-token cross-entropy (EOS included, PAD ignored)
            + ``plan_weight`` x latent-plan loss + ``scene_weight`` x scene-state MSE; logs hold
            floats for printing.
        """
        for key in ("text_feats", "text_mask", "image_tokens", "robot_obs", "action_tokens"):
            if key not in batch:
                raise ValueError(f"batch: missing key {key!r}; received keys {sorted(batch)}")
        tok = self.tokenizer
        targets = batch["action_tokens"].long()  # (B, L)
        B = targets.shape[0]
        _expect(targets, "action_tokens", (B, self.config.action_sequence_length))
        memory, memory_mask, plan, pooled = self._encode(batch["text_feats"], batch["text_mask"],
                                                         batch["image_tokens"], batch["robot_obs"])
        bos = torch.full((B, 1), tok.bos_id, dtype=torch.long, device=targets.device)  # (B, 1)
        inputs = torch.cat([bos, targets[:, :-1]], dim=1)  # (B, L): targets shifted right
        logits = self.decoder(inputs, memory, memory_mask)  # (B, L, V)
        action_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                      ignore_index=tok.pad_id)
        real = targets != tok.pad_id  # (B, L)
        correct = (logits.argmax(-1) == targets) & real  # (B, L)
        logs = {"action_loss": float(action_loss.detach()),
                "token_accuracy": float(correct.sum() / real.sum().clamp_min(1))}
        loss = action_loss
        if "plan_target" in batch:
            target = batch["plan_target"].to(plan.dtype).reshape(B, -1)  # (B, 384)
            _expect(target, "plan_target", (B, self.config.plan_dim))
            plan_loss = self.plan_loss(plan, target)
            loss = loss + self.config.plan_weight * plan_loss
            logs["plan_loss"] = float(plan_loss.detach())
        if self.scene_head is not None and "scene_target" in batch:
            target = batch["scene_target"].to(pooled.dtype)
            _expect(target, "scene_target", (B, SCENE_TARGETS))
            scene_loss = F.mse_loss(self.scene_head(pooled), target)
            loss = loss + self.config.scene_weight * scene_loss
            logs["scene_loss"] = float(scene_loss.detach())
        logs["loss"] = float(loss.detach())
        return loss, logs

    def plan_loss(self, plan: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Latent-plan loss: mean of ``1 - cos`` or MSE, per ``config.plan_loss``; (B, 384) x2 -> scalar."""
        if self.config.plan_loss == "cosine":
            return (1.0 - F.cosine_similarity(plan, target, dim=-1)).mean()
        return F.mse_loss(plan, target)

    # --- inference -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, memory: torch.Tensor, memory_mask: torch.Tensor, temperature: float = 0.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Autoregressive decoding of one action chunk per row, with a key/value cache.

        Each position may only take the tokens the grammar allows there (bins for arm slots, the
        two gripper tokens for the gripper slot, EOS at action boundaries). A row stops at EOS; its
        later slots are PAD. ``temperature`` 0 is greedy (deterministic); above 0 each token is
        drawn from ``softmax(logits / temperature)`` over the allowed tokens, with ``generator``.

        Args:
            memory: (B, 1 + S, C), memory_mask: (B, 1 + S) from :meth:`encode`.
            temperature: 0 (greedy) or the sampling temperature.
            generator: random stream of the draws (CPU generator; None = torch's global one).

        Returns:
            int64 (B, n) target tokens, n <= 7K (+1 when every row ended with EOS at the last slot).
        """
        tok = self.tokenizer
        B = memory.shape[0]
        n_max = self.config.action_dim * self.config.chunk_size
        mask: torch.Tensor | None = memory_mask
        if B == 1:  # one row: drop its padded memory slots once, so no step needs a mask
            memory, mask = memory[:, memory_mask[0]], None  # (1, S_real, C)
        caches, memory_kv = self.decoder.start(memory)
        current = torch.full((B, 1), tok.bos_id, dtype=torch.long, device=memory.device)  # (B, 1)
        done = torch.zeros(B, dtype=torch.bool, device=memory.device)  # (B,)
        out = []
        for p in range(n_max):
            logits = self.decoder.step(current, p, mask, caches, memory_kv)  # (B, V)
            allowed = logits + self.grammar_bias[p]  # (B, V), -inf where the grammar forbids
            if temperature > 0:  # draw from the allowed tokens
                probs = F.softmax(allowed.float() / temperature, dim=-1).cpu()
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(allowed.device)
            else:
                nxt = allowed.argmax(-1)  # (B,) best token the grammar allows
            if B > 1:
                nxt = nxt.masked_fill(done, tok.pad_id)  # rows past their EOS get PAD
            out.append(nxt)
            done = done | (nxt == tok.eos_id)
            if bool(done.all()):
                break
            current = nxt.unsqueeze(1)  # (B, 1)
        return torch.stack(out, dim=1)  # (B, n)


def _expect(t: torch.Tensor, name: str, shape: tuple[int, ...]) -> None:
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, received {tuple(t.shape)}")
