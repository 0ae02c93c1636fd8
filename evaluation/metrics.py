"""CALVIN's long-horizon metrics (SPEC §5.5) with bootstrap confidence intervals.

A chain's result is its number of consecutive successes (0..5). SR(k), "k tasks in a row", is the
fraction of chains with at least k successes; the average length is the mean result (= sum of
SR(k)). Per-task counts cover only the subtasks a chain actually reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from envs.constants import CHAIN_LEN, TASK_NAMES


def _as_results(num_success: Sequence[int], chain_len: int) -> np.ndarray:
    arr = np.asarray(list(num_success), dtype=np.int64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"num_success: expected a non-empty list of per-chain counts, got shape {arr.shape}")
    if arr.min() < 0 or arr.max() > chain_len:
        raise ValueError(f"num_success: expected counts in [0, {chain_len}], got range [{arr.min()}, {arr.max()}]")
    return arr


def chain_success_rates(num_success: Sequence[int], chain_len: int = CHAIN_LEN) -> dict[str, float]:
    """SR(k) for k = 1..chain_len, keyed ``"1"`` .. ``"5"`` as in CALVIN's ``results.json``."""
    arr = _as_results(num_success, chain_len)
    return {str(k): float(np.mean(arr >= k)) for k in range(1, chain_len + 1)}


def avg_seq_len(num_success: Sequence[int], chain_len: int = CHAIN_LEN) -> float:
    """Mean number of consecutive successes per chain (CALVIN's "Avg. Len.")."""
    return float(np.mean(_as_results(num_success, chain_len)))


def task_info(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per task ``{"success": s, "total": t}`` over reached subtasks, tasks in CALVIN's order.

    Each record needs ``chain`` (task names) and ``results`` (one bool per reached subtask).
    """
    counts: dict[str, dict[str, int]] = {}
    for r in records:
        for task, ok in zip(r["chain"], r["results"], strict=False):
            c = counts.setdefault(task, {"success": 0, "total": 0})
            c["total"] += 1
            c["success"] += int(bool(ok))
    return {t: counts[t] for t in TASK_NAMES if t in counts}


def bootstrap_ci(
    num_success: Sequence[int],
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    chain_len: int = CHAIN_LEN,
) -> dict[str, Any]:
    """Percentile bootstrap intervals over chains for the average length and each SR(k).

    Args:
        num_success: per-chain consecutive successes.
        n_boot: resamples (each draws as many chains as given, with replacement).
        seed: seeds the resampling.
        confidence: interval mass, e.g. 0.95.

    Returns:
        ``{"avg_seq_len": [lo, hi], "chain_sr": {"1": [lo, hi], ...}, "n_boot", "confidence", "seed"}``.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot: expected >= 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a value in (0, 1), got {confidence}")
    arr = _as_results(num_success, chain_len)
    rng = np.random.default_rng(seed)
    samples = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))]  # (n_boot, n_chains)
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]

    def interval(values: np.ndarray) -> list[float]:
        lo, hi = np.percentile(values, q)
        return [float(lo), float(hi)]

    return {
        "avg_seq_len": interval(samples.mean(axis=1)),
        "chain_sr": {str(k): interval((samples >= k).mean(axis=1)) for k in range(1, chain_len + 1)},
        "n_boot": int(n_boot),
        "confidence": float(confidence),
        "seed": int(seed),
    }


def summarize(
    records: Sequence[Mapping[str, Any]], n_boot: int = 1000, seed: int = 0, chain_len: int = CHAIN_LEN
) -> dict[str, Any]:
    """CALVIN's result fields from per-chain records (each with ``num_success``, ``chain``, ``results``)."""
    counts = [int(r["num_success"]) for r in records]
    return {
        "avg_seq_len": avg_seq_len(counts, chain_len),
        "chain_sr": chain_success_rates(counts, chain_len),
        "task_info": task_info(records),
        "num_sequences": len(counts),
        "ci95": bootstrap_ci(counts, n_boot=n_boot, seed=seed, chain_len=chain_len),
    }
