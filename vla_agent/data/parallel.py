"""Demonstration generation in parallel processes: seeded shards, then one merged dataset.

``generate_sharded(config, workers=N)`` splits ``config.chains`` over N shards. Shard ``k`` is an
ordinary :func:`~vla_agent.data.generate.generate_dataset` run with master seed ``config.seed + k``
in ``<out>/shards/seed_<seed + k>`` (so it resumes after a kill like any run, and its chains depend
only on its seed and chain id). When every shard is done they are merged, in seed order, into
``<out>`` with :func:`~vla_agent.data.merge.merge_datasets` (frame files are hard-linked).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vla_agent.data.format import write_bytes_atomic
from vla_agent.data.generate import SUMMARY_FILE, GenerateConfig, generate_dataset
from vla_agent.data.merge import merge_datasets

SHARDS_DIR = "shards"


def shard_configs(config: GenerateConfig, workers: int) -> list[GenerateConfig]:
    """The per-shard settings: seeds ``seed .. seed + workers - 1``, chains split as evenly as possible.

    Raises:
        ValueError: ``workers`` < 1 or more workers than chains.
    """
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers: expected >= 1, received {workers}")
    if workers > int(config.chains):
        raise ValueError(f"workers: expected at most chains={config.chains}, received {workers}")
    if workers > 1 and config.roboseg:
        raise ValueError(f"roboseg: expected None with workers > 1 (shards would share one RoboSeg "
                         f"folder), received {config.roboseg!r}")
    base, extra = divmod(int(config.chains), workers)
    root = Path(config.out) / SHARDS_DIR
    return [
        dataclasses.replace(config, out=str(root / f"seed_{config.seed + k}"), seed=config.seed + k,
                            chains=base + (1 if k < extra else 0), progress=False)
        for k in range(workers)
    ]


def _run_shard(args: tuple[GenerateConfig, Callable[[Sequence[str]], np.ndarray] | None]) -> dict[str, Any]:
    config, embed_fn = args
    return generate_dataset(config, embed_fn=embed_fn)


def _init_worker() -> None:
    # several shards on few cores: one intra-op torch thread each (a takeover policy runs torch)
    import torch

    torch.set_num_threads(1)


def generate_sharded(
    config: GenerateConfig,
    workers: int,
    embed_fn: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Record ``config.chains`` chains with ``workers`` processes and merge them into ``config.out``.

    Args:
        config: the settings of the whole run (``seed`` is the first shard's seed).
        workers: parallel processes (1 runs the single shard in this process).
        embed_fn: sentences -> (B, 384) embeddings, passed to every shard (must pickle when
            ``workers`` > 1); None loads the text encoder in each shard.

    Returns:
        The summary also written to ``<out>/generation.json``: per-shard summaries (without their
        per-chain records), the merge summary and the total frames.
    """
    from tqdm.auto import tqdm

    shards = shard_configs(config, workers)
    jobs = [(c, embed_fn) for c in shards]
    if workers == 1:
        results = [_run_shard(jobs[0])]
    else:
        ctx = mp.get_context("spawn")  # pybullet and torch do not survive fork
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            results = list(tqdm(pool.imap(_run_shard, jobs), total=workers, desc="shards",
                                disable=not config.progress))
    merged = merge_datasets([c.out for c in shards], config.out, progress=config.progress)
    shard_summaries = [{k: v for k, v in r.items() if k != "records"} for r in results]
    summary = {
        "config": dataclasses.asdict(config),
        "workers": workers,
        "seed": config.seed,
        "chains": sum(int(r["chains"]) for r in results),
        "frames": {s: v["frames"] for s, v in merged["splits"].items()},
        "windows": {s: v["windows"] for s, v in merged["splits"].items()},
        "seconds": max(float(r["seconds"]) for r in results),
        "shards": shard_summaries,
        "merge": merged,
    }
    total = sum(summary["frames"].values())
    summary["frames_per_s"] = total / summary["seconds"] if summary["seconds"] > 0 else None
    summary["frames_this_run"] = sum(int(r.get("frames_this_run", 0)) for r in results)
    write_bytes_atomic(Path(config.out) / SUMMARY_FILE, json.dumps(summary, indent=1).encode("utf-8"))
    return summary
