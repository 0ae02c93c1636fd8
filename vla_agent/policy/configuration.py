"""`VLAConfig`: every size and switch of the VLA policy, saved as ``config.json`` in each checkpoint.

The config is validated when it is built (``__post_init__``), so a checkpoint written with bad or
unknown values fails on load with a message that names the field, the expected and the received value.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from envs.constants import ACTION_DIM, GRIPPER_SIZE, LANG_EMB_DIM, ROBOT_OBS_DIM, STATIC_SIZE

CONFIG_NAME = "config.json"


@dataclass
class VLAConfig:
    """Configuration of :class:`~vla_agent.policy.VLAPolicy` and its transformer.

    Attributes:
        d_model: width of encoder and decoder.
        n_heads: attention heads (``d_model % n_heads == 0``).
        n_encoder_layers: encoder blocks.
        n_decoder_layers: decoder blocks.
        mlp_ratio: hidden width of each MLP as a multiple of ``d_model``.
        dropout: dropout on attention weights, residual branches and embeddings (training only).
        n_bins: uniform bins over [-1, 1] for each of the 6 arm dimensions.
        chunk_size: K, future actions predicted per encoder pass (7K action tokens).
        n_action_steps: actions of each chunk executed before re-encoding (1..chunk_size).
        text_encoder: ``transformers`` model id or folder; ``"minilm-offline"`` = shipped MiniLM.
        text_max_length: text tokens kept per instruction.
        text_dim: hidden size of the text encoder (checked against the loaded encoder).
        image_feature_dim: C of ``SegmentationModel.features`` (checked against the loaded model).
        num_static_tokens: image tokens of the static camera (``seg.num_tokens(static_size, static_size)``).
        num_gripper_tokens: image tokens of the wrist camera.
        static_size: side of the static camera image (pixels, square).
        gripper_size: side of the wrist camera image (pixels, square).
        robot_obs_dim: proprioception size (CALVIN ``robot_obs``: 15).
        action_dim: action size (CALVIN: 7; the last entry is the gripper).
        plan_dim: latent-plan size, the instruction sentence-embedding size (384).
        plan_loss: ``"cosine"`` or ``"mse"``.
        plan_weight: weight of the latent-plan loss against the action cross-entropy.
        scene_weight: weight of an auxiliary loss during training: a small head on the encoder's
            pooled output regresses the scene state (articulated parts, block poses, blocks relative
            to the gripper; standardised). 0 builds no head. Never an input: inference ignores it.
        temperature: action decoding: 0 picks the most likely token at each slot (greedy); above 0
            samples each token from the softmax of its logits divided by ``temperature`` (seeded by
            :meth:`VLAPolicy.seed`). Greedy decoding of a multimodal action distribution can pick
            "no motion" when the modes point different ways, and a memoryless policy that does not
            move sees the same observation again: it stalls for good; sampling follows one mode.
        segmentation: keyword arguments that rebuild the ``SegmentationModel`` (its weights travel apart).
        seed: seed used to initialise the weights.
    """

    d_model: int = 192
    n_heads: int = 4
    n_encoder_layers: int = 3
    n_decoder_layers: int = 2
    mlp_ratio: int = 4
    dropout: float = 0.1
    n_bins: int = 256
    chunk_size: int = 10
    n_action_steps: int = 10
    text_encoder: str = "minilm-offline"
    text_max_length: int = 32
    text_dim: int = 384
    image_feature_dim: int = 64
    num_static_tokens: int = 25
    num_gripper_tokens: int = 25
    static_size: int = STATIC_SIZE
    gripper_size: int = GRIPPER_SIZE
    robot_obs_dim: int = ROBOT_OBS_DIM
    action_dim: int = ACTION_DIM
    plan_dim: int = LANG_EMB_DIM
    plan_loss: str = "cosine"
    plan_weight: float = 0.1
    scene_weight: float = 0.0
    temperature: float = 0.0
    segmentation: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        positive = (
            "d_model", "n_heads", "n_encoder_layers", "n_decoder_layers", "mlp_ratio", "chunk_size",
            "n_action_steps", "text_max_length", "text_dim", "image_feature_dim", "num_static_tokens",
            "num_gripper_tokens", "static_size", "gripper_size", "robot_obs_dim", "plan_dim",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"VLAConfig.{name}: expected a positive int, received {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"VLAConfig.d_model: expected a multiple of n_heads={self.n_heads}, received {self.d_model}"
            )
        if isinstance(self.n_bins, bool) or not isinstance(self.n_bins, int) or self.n_bins < 2:
            raise ValueError(f"VLAConfig.n_bins: expected an int >= 2, received {self.n_bins!r}")
        if self.action_dim != ACTION_DIM:
            raise ValueError(f"VLAConfig.action_dim: expected {ACTION_DIM} (6 arm dims + gripper), "
                             f"received {self.action_dim!r}")
        if not self.n_action_steps <= self.chunk_size:
            raise ValueError(f"VLAConfig.n_action_steps: expected 1..chunk_size={self.chunk_size}, "
                             f"received {self.n_action_steps}")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"VLAConfig.dropout: expected a float in [0, 1), received {self.dropout!r}")
        if self.plan_loss not in ("cosine", "mse"):
            raise ValueError(f"VLAConfig.plan_loss: expected 'cosine' or 'mse', received {self.plan_loss!r}")
        if not isinstance(self.plan_weight, (int, float)) or not float(self.plan_weight) >= 0.0:
            raise ValueError(f"VLAConfig.plan_weight: expected a float >= 0, received {self.plan_weight!r}")
        if not isinstance(self.scene_weight, (int, float)) or not float(self.scene_weight) >= 0.0:
            raise ValueError(f"VLAConfig.scene_weight: expected a float >= 0, received {self.scene_weight!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or not 0.0 <= float(self.temperature) < float("inf"):
            raise ValueError(f"VLAConfig.temperature: expected a finite float >= 0, received {self.temperature!r}")
        if not isinstance(self.text_encoder, str) or not self.text_encoder.strip():
            raise ValueError(f"VLAConfig.text_encoder: expected a model id or path, "
                             f"received {self.text_encoder!r}")
        if not isinstance(self.segmentation, dict):
            raise ValueError(f"VLAConfig.segmentation: expected a dict of keyword arguments, "
                             f"received {type(self.segmentation).__name__}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"VLAConfig.seed: expected an int, received {self.seed!r}")
        self.dropout = float(self.dropout)
        self.plan_weight = float(self.plan_weight)
        self.scene_weight = float(self.scene_weight)
        self.temperature = float(self.temperature)

    # --- derived sizes ---------------------------------------------------------------------------
    @property
    def num_image_tokens(self) -> int:
        """Image tokens of both cameras together."""
        return self.num_static_tokens + self.num_gripper_tokens

    @property
    def source_length(self) -> int:
        """Encoder sequence length: text + SEP + image tokens + proprio."""
        return self.text_max_length + 1 + self.num_image_tokens + 1

    @property
    def action_sequence_length(self) -> int:
        """Decoder target length L = 7K action tokens + one slot for EOS."""
        return self.action_dim * self.chunk_size + 1

    # --- (de)serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VLAConfig:
        """Build a config from a dict, rejecting unknown keys."""
        if not isinstance(data, dict):
            raise ValueError(f"VLAConfig: expected a dict, received {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"VLAConfig: unknown keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**data)

    def save(self, directory: str | os.PathLike[str]) -> str:
        """Write ``config.json`` into ``directory`` (atomically); returns its path."""
        from vla_agent.utils.atomic import write_json_atomic

        return write_json_atomic(os.path.join(directory, CONFIG_NAME), self.to_dict())

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> VLAConfig:
        """Read and validate ``config.json`` from a checkpoint folder."""
        path = os.path.join(directory, CONFIG_NAME)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"VLAConfig: no {CONFIG_NAME} in {os.fspath(directory)!r}")
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"VLAConfig: {path} is not valid JSON: {e}") from e
        return cls.from_dict(data)
