"""Build the policy a training run starts from: model config, segmentation model, data statistics."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import torch

from vla_agent.policy import Normalizer, VLAConfig, VLAPolicy
from vla_agent.policy.normalization import ANGLE_DIMS
from vla_agent.training.config import TrainConfig
from vla_agent.training.features import feature_modules


def model_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """VLAConfig fields from ``--model-config`` (JSON) updated by the ``--model KEY=VALUE`` overrides."""
    kw: dict[str, Any] = {}
    if cfg.model_config:
        if not os.path.isfile(cfg.model_config):
            raise FileNotFoundError(f"TrainConfig.model_config: no file {cfg.model_config!r}")
        with open(cfg.model_config, encoding="utf-8") as f:
            try:
                loaded = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"TrainConfig.model_config: {cfg.model_config} is not valid JSON: "
                                 f"{e}") from e
        if not isinstance(loaded, dict):
            raise ValueError(f"TrainConfig.model_config: expected a JSON object of VLAConfig fields, "
                             f"received {type(loaded).__name__}")
        kw.update(loaded)
    kw.update(cfg.model)
    return kw


def training_normalizer(robot_obs: np.ndarray) -> Normalizer:
    """``robot_obs`` statistics of the frames a run trains on, (F, 15); TCP euler dims as angles."""
    return Normalizer.from_data(robot_obs, angle_dims=ANGLE_DIMS)


def build_segmentation(cfg: TrainConfig, seg_kwargs: dict[str, Any], device: torch.device) -> Any:
    """The frozen segmentation model: fine-tuned weights from ``segmentation_weights`` or the config's."""
    from vla_agent.segmentation import SegmentationModel

    kwargs = {k: v for k, v in seg_kwargs.items() if k != "_target_"}
    if cfg.segmentation_weights:
        if not os.path.isdir(cfg.segmentation_weights):
            raise FileNotFoundError(f"TrainConfig.segmentation_weights: no folder "
                                    f"{cfg.segmentation_weights!r}")
        return SegmentationModel(weight_directory=cfg.segmentation_weights, device=device, **kwargs)
    return SegmentationModel(device=device, **kwargs)


def freeze_segmentation(seg: Any) -> None:
    """Frozen during behaviour cloning: eval mode (no batch-norm updates), no gradients."""
    for m in feature_modules(seg):
        m.eval()
        m.requires_grad_(False)


def build_policy(cfg: TrainConfig, normalizer: Normalizer, device: torch.device | str = "cpu") -> VLAPolicy:
    """The policy to train: from ``init_policy`` or freshly initialised (seeded by ``VLAConfig.seed``).

    ``normalizer`` holds the ``robot_obs`` statistics of a fresh policy (:func:`training_normalizer`
    of the frames it trains on); a policy from ``init_policy`` keeps its own.

    The segmentation model's token sizes fill ``image_feature_dim`` / ``num_*_tokens``, and its config
    is recorded in ``VLAConfig.segmentation`` so :meth:`VLAPolicy.from_pretrained` rebuilds it.
    """
    device = torch.device(device)
    kw = model_kwargs(cfg)
    if cfg.init_policy:
        if kw:
            raise ValueError(f"TrainConfig.model: overrides {sorted(kw)} cannot change the architecture of "
                             f"init_policy={cfg.init_policy!r}; drop them")
        policy = VLAPolicy.from_pretrained(cfg.init_policy, device=device)
        freeze_segmentation(policy.segmentation)
        return policy
    kw.setdefault("seed", cfg.seed)
    VLAConfig(**kw)  # validate the user's fields before the (slower) segmentation model is built
    seg = build_segmentation(cfg, dict(kw.get("segmentation", {})), device)
    freeze_segmentation(seg)
    probe = VLAConfig(**kw)
    kw.update(
        image_feature_dim=int(seg.feature_dim),
        num_static_tokens=int(seg.num_tokens(probe.static_size, probe.static_size)),
        num_gripper_tokens=int(seg.num_tokens(probe.gripper_size, probe.gripper_size)),
        segmentation=seg.config.to_dict() if hasattr(seg, "config") else dict(kw.get("segmentation", {})),
    )
    config = VLAConfig(**kw)
    return VLAPolicy(config, segmentation=seg, normalizer=normalizer, device=device)
