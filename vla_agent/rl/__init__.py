"""Reinforcement-learning glue: Stable-Baselines3 features extractor, env builder, BC warm start.

Importing this package imports Stable-Baselines3 and torch; ``import vla_agent`` does not.
"""

from vla_agent.rl.bc_warm_start import collect_demonstrations, warm_start_from_teacher
from vla_agent.rl.env import make_rl_env
from vla_agent.rl.features_extractor import VLAFeaturesExtractor
from vla_agent.rl.sb3_policy import SB3PolicyAdapter

__all__ = [
    "SB3PolicyAdapter",
    "VLAFeaturesExtractor",
    "collect_demonstrations",
    "make_rl_env",
    "warm_start_from_teacher",
]
