"""Run jobs that are not yet in the results log, appending each record as it arrives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evaluation.store import ResultLog
from evaluation.workers import JobFn, run_jobs


def job_seed(seed: int, index: int) -> int:
    """A job's own 32-bit seed, from the run seed and the job index (not from the worker)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def execute(
    jobs: Sequence[dict[str, Any]],
    log: ResultLog | None,
    env_factory: Callable[[], Any],
    policy_factory: Callable[[Any], Any],
    job_fn: JobFn,
    *,
    workers: int = 1,
    backend: str = "local",
    progress: bool = True,
    desc: str = "jobs",
    ray_address: str | None = None,
) -> list[dict[str, Any]]:
    """All records of ``jobs``, by index order: those in ``log`` plus the ones run now.

    Args:
        jobs: job dicts with unique ``index`` values.
        log: the results log to resume from and append to (None: keep records in memory only).
        env_factory, policy_factory, job_fn, workers, backend, ray_address: see
            :func:`evaluation.workers.run_jobs`.
        progress: show a tqdm bar.
        desc: the bar's label.
    """
    done = log.load() if log is not None else {}
    wanted = {int(j["index"]) for j in jobs}
    records = {i: r for i, r in done.items() if i in wanted}
    pending = [j for j in jobs if int(j["index"]) not in records]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), initial=len(jobs) - len(pending), desc=desc, unit="job", dynamic_ncols=True)
    try:
        for rec in run_jobs(pending, env_factory, policy_factory, job_fn, workers=workers, backend=backend,
                            ray_address=ray_address):
            if log is not None:
                log.append(rec)
            records[int(rec["index"])] = rec
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [records[i] for i in sorted(records)]
