"""CALVIN's long-horizon benchmark and single-task runner.

Example:
    >>> from evaluation import evaluate_long_horizon, RandomPolicyFactory
    >>> results = evaluate_long_horizon(RandomPolicyFactory(seed=0), num_sequences=10, out_dir="runs/eval")
    >>> results["avg_seq_len"], results["chain_sr"]["1"]
"""

from evaluation.env_factory import EnvFactory, env_factory_from_spec
from evaluation.failures import failure_modes
from evaluation.long_horizon import evaluate_long_horizon
from evaluation.metrics import avg_seq_len, bootstrap_ci, chain_success_rates, summarize, task_info
from evaluation.policies import (
    CalvinStepAdapter,
    ExpertPolicyFactory,
    PretrainedPolicyFactory,
    RandomPolicy,
    RandomPolicyFactory,
    as_policy,
    policy_factory_from_spec,
)
from evaluation.sequences import get_sequences, load_sequences, sample_sequences, save_sequences
from evaluation.single_task import evaluate_single_tasks
from evaluation.store import ResultLog

__all__ = [
    "CalvinStepAdapter",
    "EnvFactory",
    "ExpertPolicyFactory",
    "PretrainedPolicyFactory",
    "RandomPolicy",
    "RandomPolicyFactory",
    "ResultLog",
    "as_policy",
    "avg_seq_len",
    "bootstrap_ci",
    "chain_success_rates",
    "env_factory_from_spec",
    "evaluate_long_horizon",
    "evaluate_single_tasks",
    "failure_modes",
    "get_sequences",
    "load_sequences",
    "policy_factory_from_spec",
    "sample_sequences",
    "save_sequences",
    "summarize",
    "task_info",
]
