"""Single-task evaluation: each task from N random valid start states, resumable and parallel.

Each episode resets the env with ``options={"task": name}`` and its own seed; the env draws a
symbolic start state in which the task's precondition holds (see
:func:`envs.symbolic.sample_state_for_task`). Unlike CALVIN's single-step script, this works for
any policy and does not need dataset states.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from envs.constants import EP_LEN, TASK_NAMES
from envs.instructions import load_instruction_set
from evaluation import report
from evaluation.env_factory import EnvFactory, describe_env_factory
from evaluation.execute import execute, job_seed
from evaluation.failures import failure_modes, format_failure_table
from evaluation.policies import describe_factory
from evaluation.rollout import run_single_task_job
from evaluation.store import ResultLog, check_run_signature, write_json_atomic

RUN_FILE = "single_task_run.json"
LOG_FILE = "single_task.jsonl"
RESULTS_FILE = "single_task_results.json"
TABLE_FILE = "single_task_results.txt"
PLOT_FILE = "single_task_results.png"
VIDEO_DIR = "videos"


def evaluate_single_tasks(
    policy_factory: Callable[[Any], Any],
    env_factory: Callable[[], Any] | None = None,
    *,
    tasks: Sequence[str] = TASK_NAMES,
    episodes_per_task: int = 10,
    seed: int = 0,
    instructions: str | os.PathLike[str] = "project",
    max_steps: int = EP_LEN,
    workers: int = 1,
    backend: str = "local",
    out_dir: str | os.PathLike[str] | None = None,
    num_videos: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Evaluate each task on ``episodes_per_task`` seeded start states.

    Args: as :func:`evaluation.evaluate_long_horizon`, plus ``tasks`` (names to evaluate) and
    ``episodes_per_task``; ``num_videos`` records the first N episodes of each task.

    Returns:
        The content of ``single_task_results.json``: ``task_info`` {task: {success, total}},
        ``success_rate`` (over all episodes), ``num_episodes``, ``provenance``, ``files``.
    """
    bad = [t for t in tasks if t not in TASK_NAMES]
    if bad or not tasks:
        raise ValueError(f"tasks: expected a non-empty list of CALVIN task names, got unknown {bad or tasks}")
    if isinstance(episodes_per_task, bool) or not isinstance(episodes_per_task, int) or episodes_per_task < 1:
        raise ValueError(f"episodes_per_task: expected a positive int, got {episodes_per_task!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps: expected a positive int, got {max_steps!r}")
    if num_videos and out_dir is None:
        raise ValueError("num_videos: videos need out_dir, got out_dir=None")
    env_factory = env_factory if env_factory is not None else EnvFactory()
    sentences = load_instruction_set(instructions)
    arguments = {
        "kind": "single_task",
        "tasks": list(tasks),
        "episodes_per_task": int(episodes_per_task),
        "seed": int(seed),
        "max_steps": int(max_steps),
        "instructions": str(instructions),
        "instruction_sentences": {t: sentences[t] for t in tasks},
        "policy": describe_factory(policy_factory),
        "env": describe_env_factory(env_factory),
    }
    out = Path(out_dir) if out_dir is not None else None
    log = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if not check_run_signature(out / RUN_FILE, arguments, overwrite=overwrite):
            ResultLog(out / LOG_FILE).reset()
        log = ResultLog(out / LOG_FILE)
    jobs = []
    for ti, task in enumerate(tasks):
        task_id = TASK_NAMES.index(task)  # seeds follow the task, not its position in `tasks`
        for j in range(episodes_per_task):
            index = ti * episodes_per_task + j
            jobs.append({
                "index": index,
                "seed": job_seed(seed, task_id * 1_000_000 + j),
                "task": task,
                "instruction": sentences[task],
                "max_steps": int(max_steps),
                "video": (str(out / VIDEO_DIR / f"{task}_{j:03d}.mp4") if out is not None and j < num_videos
                          else None),
            })
    records = execute(jobs, log, env_factory, policy_factory, run_single_task_job, workers=workers,
                      backend=backend, progress=progress, desc="episodes", ray_address=ray_address)
    task_info: dict[str, dict[str, int]] = {}
    for r in records:
        c = task_info.setdefault(r["task"], {"success": 0, "total": 0})
        c["total"] += 1
        c["success"] += int(r["success"])
    task_info = {t: task_info[t] for t in TASK_NAMES if t in task_info}
    n = len(records)
    summary: dict[str, Any] = {
        "task_info": task_info,
        "success_rate": sum(int(r["success"]) for r in records) / n,
        "num_episodes": n,
        "failure_modes": failure_modes(records),
    }
    renderers = sorted({str(r.get("renderer")) for r in records})
    summary["provenance"] = report.provenance(
        **arguments, workers=workers, backend=backend,
        renderer=renderers[0] if len(renderers) == 1 else renderers,
    )
    if out is not None:
        table = (f"Single-task evaluation: {arguments['policy']}\n"
                 f"episodes: {n}   success rate: {100 * summary['success_rate']:.1f}%\n"
                 + report.format_task_table(task_info) + "\n" + format_failure_table(summary["failure_modes"]))
        (out / TABLE_FILE).write_text(table + "\n")
        report.plot_task_results(task_info, out / PLOT_FILE, title=str(arguments["policy"]))
        summary["files"] = {
            "results": str(out / RESULTS_FILE), "log": str(out / LOG_FILE), "table": str(out / TABLE_FILE),
            "plot": str(out / PLOT_FILE), "videos": sorted(r["video"] for r in records if r.get("video")),
        }
        write_json_atomic(out / RESULTS_FILE, summary)
    return summary
