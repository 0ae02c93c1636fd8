"""CALVIN's long-horizon benchmark (chains of 5 instructions), resumable and parallel."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envs.constants import EP_LEN, NUM_SEQUENCES
from envs.instructions import load_instruction_set
from evaluation import report
from evaluation.env_factory import EnvFactory, describe_env_factory
from evaluation.execute import execute, job_seed
from evaluation.failures import failure_modes, format_failure_table
from evaluation.metrics import summarize
from evaluation.policies import describe_factory
from evaluation.rollout import run_chain_job
from evaluation.sequences import get_sequences, load_sequences
from evaluation.store import ResultLog, check_run_signature, write_json_atomic

RUN_FILE = "run.json"
LOG_FILE = "chains.jsonl"
RESULTS_FILE = "results.json"
TABLE_FILE = "results.txt"
PLOT_FILE = "results.png"
VIDEO_DIR = "videos"


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def resolve_sequences(
    sequences: Sequence[tuple[Mapping[str, Any], Sequence[str]]] | str | os.PathLike[str] | None,
    num_sequences: int,
    seed: int,
) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """The chains to run: a given list, a frozen JSON list (path), or CALVIN's sampled list."""
    if sequences is None:
        return get_sequences(num_sequences, seed)
    if isinstance(sequences, (str, os.PathLike)):
        loaded = load_sequences(sequences)
        return loaded[:num_sequences] if num_sequences else loaded
    return [(dict(c), tuple(ch)) for c, ch in sequences]


def evaluate_long_horizon(
    policy_factory: Callable[[Any], Any],
    env_factory: Callable[[], Any] | None = None,
    *,
    num_sequences: int = NUM_SEQUENCES,
    seed: int = 0,
    sequences: Sequence[tuple[Mapping[str, Any], Sequence[str]]] | str | os.PathLike[str] | None = None,
    instructions: str | os.PathLike[str] = "project",
    max_steps: int = EP_LEN,
    workers: int = 1,
    backend: str = "local",
    out_dir: str | os.PathLike[str] | None = None,
    num_videos: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    n_boot: int = 1000,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Run CALVIN's long-horizon evaluation and write its reports.

    Args:
        policy_factory: picklable ``(env) -> policy`` (e.g. :class:`evaluation.RandomPolicyFactory`);
            policies need ``reset()`` and ``act(obs, instruction)`` or CALVIN's ``step(obs, goal)``.
        env_factory: picklable ``() -> env``; default :class:`evaluation.EnvFactory` (the embedded
            play table, ``vla_agent/PlayTable-v0``).
        num_sequences: chains to run (CALVIN: 1000); with a frozen list, its first ``num_sequences``.
        seed: chain sampling seed (0: CALVIN's list) and the base of per-chain env/policy seeds.
        sequences: a chain list or a JSON file from :func:`evaluation.save_sequences`; None samples.
        instructions: ``"project"`` (held-out sentences) or a CALVIN-format YAML path.
        max_steps: step budget per subtask (CALVIN: 360).
        workers: parallel workers, each with its own env and policy (results do not depend on it).
        backend: ``"local"`` (processes on this machine) or ``"ray"``.
        out_dir: where the log and reports go; a rerun with the same arguments resumes there.
            None keeps everything in memory (no resume, no files).
        num_videos: record videos of the first N chains (needs ``out_dir``).
        overwrite: discard earlier results in ``out_dir`` made with other arguments.
        progress: show a progress bar.
        n_boot: bootstrap resamples for the 95 % intervals.
        ray_address: Ray cluster address for ``backend="ray"``.

    Returns:
        The content of ``results.json``: ``avg_seq_len``, ``chain_sr`` {"1".."5"}, ``task_info``
        {task: {success, total}}, ``num_sequences``, ``ci95``, ``provenance``, and ``files``.

    Raises:
        ValueError: bad arguments, or ``out_dir`` holding another run's results.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps: expected a positive int, got {max_steps!r}")
    if num_videos < 0:
        raise ValueError(f"num_videos: expected >= 0, got {num_videos}")
    if num_videos and out_dir is None:
        raise ValueError("num_videos: videos need out_dir, got out_dir=None")
    env_factory = env_factory if env_factory is not None else EnvFactory()
    seqs = resolve_sequences(sequences, num_sequences, seed)
    if not seqs:
        raise ValueError("sequences: expected at least one chain, got none")
    sentences = load_instruction_set(instructions)
    arguments = {
        "kind": "long_horizon",
        "num_sequences": len(seqs),
        "sequences_sha256": _sha([[c, list(ch)] for c, ch in seqs]),
        "seed": int(seed),
        "max_steps": int(max_steps),
        "instructions": str(instructions),
        "instructions_sha256": _sha(sentences),
        "policy": describe_factory(policy_factory),
        "env": describe_env_factory(env_factory),
    }
    out = Path(out_dir) if out_dir is not None else None
    log = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        resumed = check_run_signature(out / RUN_FILE, arguments, overwrite=overwrite)
        log = ResultLog(out / LOG_FILE)
        if not resumed:
            log.reset()  # a fresh run (or overwrite): never mix in records of another run
    jobs = [
        {
            "index": i,
            "seed": job_seed(seed, i),
            "condition": cond,
            "chain": list(chain),
            "instructions": [sentences[t] for t in chain],
            "max_steps": int(max_steps),
            "video": str(out / VIDEO_DIR / f"chain_{i:04d}.mp4") if out is not None and i < num_videos else None,
        }
        for i, (cond, chain) in enumerate(seqs)
    ]
    records = execute(jobs, log, env_factory, policy_factory, run_chain_job, workers=workers, backend=backend,
                      progress=progress, desc="chains", ray_address=ray_address)
    summary = summarize(records, n_boot=n_boot, seed=seed)
    summary["failure_modes"] = failure_modes(records)
    renderers = sorted({str(r.get("renderer")) for r in records})
    summary["provenance"] = report.provenance(
        **arguments, workers=workers, backend=backend,
        renderer=renderers[0] if len(renderers) == 1 else renderers,
        total_steps=int(sum(sum(r["steps"]) for r in records)),
        total_time_s=round(sum(float(r["time_s"]) for r in records), 2),
    )
    if out is not None:
        table = report.format_chain_table(summary, title=f"Long-horizon evaluation: {arguments['policy']}")
        table += "\n" + format_failure_table(summary["failure_modes"])
        (out / TABLE_FILE).write_text(table + "\n")
        report.plot_chain_results(summary, out / PLOT_FILE, title=str(arguments["policy"]))
        summary["files"] = {
            "results": str(out / RESULTS_FILE), "log": str(out / LOG_FILE), "table": str(out / TABLE_FILE),
            "plot": str(out / PLOT_FILE),
            "videos": sorted(r["video"] for r in records if r.get("video")),
        }
        write_json_atomic(out / RESULTS_FILE, summary)
    return summary
