"""The VLA policy: config, action tokenizer, normalisation, transformer model and the acting wrapper."""

from vla_agent.policy.configuration import VLAConfig
from vla_agent.policy.modeling import VLAModel
from vla_agent.policy.normalization import Normalizer
from vla_agent.policy.policy import VLAPolicy
from vla_agent.policy.tokenizer import ActionTokenizer

__all__ = ["ActionTokenizer", "Normalizer", "VLAConfig", "VLAModel", "VLAPolicy"]
