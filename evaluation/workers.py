"""Running jobs on workers that each own an env and a policy: in-process, local processes, or Ray.

A job is a picklable dict; ``job_fn(env, policy, job) -> record`` runs it. Results come back to the
calling process, which alone writes them (see :mod:`evaluation.store`), in completion order. Jobs
carry their own seeds, so records do not depend on which worker ran them.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from evaluation.policies import as_policy

JobFn = Callable[[Any, Any, dict[str, Any]], dict[str, Any]]
BACKENDS = ("local", "ray")
RAY_HINT = "the Ray backend needs ray: pip install 'vla-agent[ray]'"


class WorkerCore:
    """One worker's env, policy and job function."""

    def __init__(self, env_factory: Callable[[], Any], policy_factory: Callable[[Any], Any], job_fn: JobFn) -> None:
        self.env = env_factory()
        self.policy = as_policy(policy_factory(self.env))
        self.job_fn = job_fn

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        return self.job_fn(self.env, self.policy, job)

    def close(self) -> None:
        close = getattr(self.env, "close", None)
        if callable(close):
            close()


# --- local processes ----------------------------------------------------------------------------
_CORE: WorkerCore | None = None  # the worker process's own core (set by the pool initializer)


def _init_process(env_factory: Callable[[], Any], policy_factory: Callable[[Any], Any], job_fn: JobFn,
                  threads: int | None) -> None:
    global _CORE
    if threads:
        try:  # several workers on few cores: one intra-op thread each avoids oversubscription
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
    _CORE = WorkerCore(env_factory, policy_factory, job_fn)


def _run_in_process(job: dict[str, Any]) -> dict[str, Any]:
    assert _CORE is not None, "worker not initialised"
    return _CORE.run(job)


def _start_method() -> str:
    # never fork: PyBullet clients, torch threads and open GL contexts do not survive it
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def run_jobs(
    jobs: Sequence[dict[str, Any]],
    env_factory: Callable[[], Any],
    policy_factory: Callable[[Any], Any],
    job_fn: JobFn,
    workers: int = 1,
    backend: str = "local",
    threads_per_worker: int | None = 1,
    ray_address: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Run ``jobs`` and yield their records as they finish.

    Args:
        jobs: picklable job dicts.
        env_factory: picklable ``() -> env``; each worker calls it once.
        policy_factory: picklable ``(env) -> policy``; each worker calls it once.
        job_fn: module-level ``(env, policy, job) -> record``.
        workers: 1 runs in this process (local backend); K > 1 starts K processes or Ray actors.
        backend: ``"local"`` or ``"ray"``.
        threads_per_worker: torch intra-op threads in each worker process (None: leave as is).
        ray_address: Ray cluster address (None: ``ray.init()``'s default, local or $RAY_ADDRESS).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: expected a positive int, got {workers!r}")
    if not jobs:
        return iter(())
    if backend == "ray":
        return _run_ray(jobs, env_factory, policy_factory, job_fn, workers, ray_address)
    if workers == 1:
        return _run_inline(jobs, env_factory, policy_factory, job_fn)
    return _run_pool(jobs, env_factory, policy_factory, job_fn, workers, threads_per_worker)


def _run_inline(jobs: Iterable[dict[str, Any]], env_factory: Callable[[], Any],
                policy_factory: Callable[[Any], Any], job_fn: JobFn) -> Iterator[dict[str, Any]]:
    core = WorkerCore(env_factory, policy_factory, job_fn)
    try:
        for job in jobs:
            yield core.run(job)
    finally:
        core.close()


def _run_pool(jobs: Sequence[dict[str, Any]], env_factory: Callable[[], Any],
              policy_factory: Callable[[Any], Any], job_fn: JobFn, workers: int,
              threads: int | None) -> Iterator[dict[str, Any]]:
    # ProcessPoolExecutor, not multiprocessing.Pool: a worker that dies or fails to start raises
    # BrokenProcessPool here instead of hanging the run.
    ctx = mp.get_context(_start_method())
    n = min(workers, len(jobs))
    executor = cf.ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_process,
                                      initargs=(env_factory, policy_factory, job_fn, threads))
    try:
        futures = [executor.submit(_run_in_process, job) for job in jobs]
        for fut in cf.as_completed(futures):
            yield fut.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _run_ray(jobs: Sequence[dict[str, Any]], env_factory: Callable[[], Any],
             policy_factory: Callable[[Any], Any], job_fn: JobFn, workers: int,
             address: str | None) -> Iterator[dict[str, Any]]:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as err:
        raise ImportError(RAY_HINT) from err
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    actor_cls = ray.remote(WorkerCore)
    actors = [actor_cls.remote(env_factory, policy_factory, job_fn) for _ in range(min(workers, len(jobs)))]
    try:
        pool = ActorPool(actors)
        yield from pool.map_unordered(lambda actor, job: actor.run.remote(job), jobs)
    finally:
        for a in actors:
            ray.kill(a)
