"""Scripted experts: privileged-state plans that solve CALVIN's 34 tasks with relative actions."""

from envs.experts.expert import ScriptedExpert
from envs.experts.plans import PLANS

__all__ = ["PLANS", "ScriptedExpert"]
