"""A Stable-Baselines3 features extractor built from the VLA policy's encoder.

PPO/SAC can start from behaviour-cloned features: the extractor runs the pretrained image
pathway (``SegmentationModel.features``), the proprioception normaliser and the transformer encoder,
and returns the pooled encoder output concatenated with the 384-d latent plan.

SB3 observations carry no text, so the instruction enters as one "text token": the
``instruction_embedding`` (the mean-pooled sentence embedding of the same text encoder, so it lives in
the space the text projection was trained on). This is an approximation of the per-token text input
the policy was trained with; fine-tuning (``trainable=True``) can adapt to it.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from torch.nn import functional as F

from envs.constants import INSTRUCTION_EMBEDDING, RGB_GRIPPER, RGB_STATIC, ROBOT_OBS


class VLAFeaturesExtractor(BaseFeaturesExtractor):
    """Features ``(B, d_model + 384)`` from a :class:`vla_agent.VLAPolicy`'s encoder.

    Args:
        observation_space: the env's ``Dict`` space; needs ``rgb_static``, ``rgb_gripper``,
            ``robot_obs`` and ``instruction_embedding`` (wrap with ``envs.wrappers.InstructionEmbedding``).
        policy: a ``VLAPolicy`` or a checkpoint folder for ``VLAPolicy.from_pretrained``.
        trainable: fine-tune the encoder and image pathway with the RL loss (else frozen, no grad).
    """

    def __init__(self, observation_space: spaces.Dict, policy: Any = "default", trainable: bool = False) -> None:
        if isinstance(policy, str):
            from vla_agent.policy import VLAPolicy

            policy = VLAPolicy.from_pretrained(policy)
        needed = (RGB_STATIC, RGB_GRIPPER, ROBOT_OBS, INSTRUCTION_EMBEDDING)
        missing = [k for k in needed if k not in observation_space.spaces]
        if missing:
            raise ValueError(
                f"observation_space: expected keys {needed}, missing {missing}; "
                "wrap the env with envs.wrappers.InstructionEmbedding and keep both cameras"
            )
        cfg = policy.config
        emb = observation_space.spaces[INSTRUCTION_EMBEDDING].shape
        if emb != (cfg.text_dim,):
            raise ValueError(
                f"instruction_embedding: expected shape ({cfg.text_dim},) (the policy's text_dim), "
                f"received {emb}"
            )
        super().__init__(observation_space, features_dim=cfg.d_model + cfg.plan_dim)
        self.config = cfg
        self.model = policy.model
        self._segmentation = policy.segmentation
        mods = policy.segmentation.feature_modules()
        self.image_modules = mods if isinstance(mods, nn.Module) else nn.ModuleList(list(mods))
        mean, std = policy.normalizer.mean, policy.normalizer.std
        self.register_buffer("obs_mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("obs_std", torch.as_tensor(std, dtype=torch.float32))
        self.trainable = bool(trainable)
        for p in self.parameters():
            p.requires_grad_(self.trainable)

    def _images(self, x: torch.Tensor, size: int) -> torch.Tensor:
        """SB3 hands images as float (B, 3, H, W) in [0, 1] (or uint8 channel-last when not
        preprocessed); returns float (B, 3, size, size) in [0, 1]."""
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        if x.shape[-1] == 3 and x.shape[1] != 3:  # channel-last
            x = x.permute(0, 3, 1, 2)
        if x.max() > 1.0:  # SB3 with normalize_images=False
            x = x / 255.0
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return x.contiguous()

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Args: the SB3-preprocessed observation batch. Returns: (B, d_model + 384) features."""
        cfg = self.config
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            static = self._images(observations[RGB_STATIC], cfg.static_size)  # (B, 3, S, S)
            gripper = self._images(observations[RGB_GRIPPER], cfg.gripper_size)  # (B, 3, G, G)
            image = torch.cat(
                [self._segmentation.features(static), self._segmentation.features(gripper)], dim=1
            )  # (B, N_img, C_img)
            robot = (observations[ROBOT_OBS].float() - self.obs_mean) / self.obs_std  # (B, 15)
            text = observations[INSTRUCTION_EMBEDDING].float().unsqueeze(1)  # (B, 1, 384)
            text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=text.device)  # (B, 1)
            memory, memory_mask, plan = self.model.encode(text, text_mask, image, robot)
            m = memory_mask.unsqueeze(-1).to(memory.dtype)  # (B, 1 + S, 1)
            pooled = (memory * m).sum(1) / m.sum(1)  # (B, C)
            return torch.cat([pooled, plan], dim=1)  # (B, C + 384)
