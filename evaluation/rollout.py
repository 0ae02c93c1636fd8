"""One chain or one single-task episode, as CALVIN's evaluation loop runs them (SPEC §5.3).

A chain resets the env once to its symbolic initial state; then, for each subtask, the policy
is reset, the env is switched to the subtask with ``set_task`` (restarting the subtask clock and
the oracle's start snapshot, without touching the scene) and the policy acts for up to
``max_steps`` steps until the env reports ``info["is_success"]``. The chain stops at the first
failure. The runners ignore ``terminated``/``truncated``: a ``TimeLimit`` wrapper counts steps
since ``reset``, which spans a whole chain here.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from envs.constants import RGB_STATIC, SCENE_OBS
from evaluation.policies import to_action


def seed_policy(policy: Any, seed: int) -> None:
    """Reseed a policy that supports it (``policy.seed(int)``), so results do not depend on workers."""
    fn = getattr(policy, "seed", None)
    if callable(fn):
        fn(int(seed))


def set_env_task(env: Any, task: str, instruction: str) -> None:
    """``env.unwrapped.set_task`` for the subtask; sentences the env cannot parse go by task name.

    The envs map instructions to tasks with the project's sentence tables; a foreign instruction
    set (e.g. CALVIN's sentences) is still given to the policy, while the env is told the task.
    """
    from envs.instructions import task_for_instruction

    try:
        known = task_for_instruction(instruction)
    except ValueError:
        known = None
    if known is None:
        env.unwrapped.set_task(task=task)
    else:  # a known sentence must name this task: the env raises on a mismatch
        env.unwrapped.set_task(task=task, instruction=instruction)


def _frame(env: Any, obs: dict[str, np.ndarray]) -> np.ndarray | None:
    img = obs.get(RGB_STATIC) if isinstance(obs, dict) else None
    if img is None:
        img = env.render()
    return None if img is None else np.asarray(img, dtype=np.uint8)


def _renderer(env: Any) -> str | None:
    # a text name for provenance: the attribute may be a string or a renderer object
    r = getattr(getattr(env, "unwrapped", env), "renderer", None)
    if r is None or isinstance(r, str):
        return r
    return str(getattr(r, "name", type(r).__name__))


def _scene_state(obs: Any) -> list[float] | None:
    # a scene state, rounded: lets one compare runs (e.g. 1 vs 2 workers) beyond success flags, and
    # tell (evaluation.failures) whether a failed subtask moved its object at all
    scene = obs.get(SCENE_OBS) if isinstance(obs, dict) else None
    return None if scene is None else [round(float(v), 5) for v in np.asarray(scene).ravel()]


def run_subtask(env: Any, policy: Any, obs: dict[str, np.ndarray], task: str, instruction: str,
                max_steps: int, frames: list | None = None, label: str = "") -> tuple[bool, int, Any]:
    """Run one subtask from the current scene.

    Returns:
        (success, steps taken, last observation).
    """
    policy.reset()
    set_env_task(env, task, instruction)
    if frames is not None:
        from evaluation.video import annotate

        img = _frame(env, obs)
        if img is not None:
            frames.append(annotate(img, instruction, label))
    for t in range(1, max_steps + 1):
        action = to_action(policy.act(obs, instruction))
        obs, _reward, _terminated, _truncated, info = env.step(action)
        if frames is not None:
            img = _frame(env, obs)
            if img is not None:
                frames.append(annotate(img, instruction, label, ok=bool(info.get("is_success"))))
        if info.get("is_success"):
            return True, t, obs
    return False, max_steps, obs


def run_chain_job(env: Any, policy: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Run one long-horizon chain.

    Job keys: ``index``, ``seed``, ``condition`` (symbolic state), ``chain`` (task names),
    ``instructions`` (one sentence per task of the chain), ``max_steps``, optional ``video`` (path).

    Returns:
        The record appended to the results log: the job's identity plus ``results`` (one bool per
        reached subtask), ``num_success``, ``steps``, ``time_s``, ``renderer``, ``start_scene_obs``
        (the scene when the last reached subtask began), ``end_scene_obs`` and ``video``.
    """
    t0 = time.perf_counter()
    seed = int(job["seed"])
    seed_policy(policy, seed)
    chain = list(job["chain"])
    obs, _info = env.reset(seed=seed, options={"condition": dict(job["condition"]), "task": chain[0]})
    frames: list | None = [] if job.get("video") else None
    results: list[bool] = []
    steps: list[int] = []
    start: list[float] | None = None
    for k, (task, sentence) in enumerate(zip(chain, job["instructions"], strict=True)):
        start = _scene_state(obs)
        ok, n, obs = run_subtask(env, policy, obs, task, sentence, int(job["max_steps"]), frames,
                                 label=f"chain {job['index']}  {k + 1}/{len(chain)}")
        results.append(ok)
        steps.append(n)
        if not ok:
            break
    video = None
    if frames:
        from evaluation.video import write_video

        video = str(write_video(job["video"], frames))
    return {
        "index": int(job["index"]),
        "seed": seed,
        "condition": dict(job["condition"]),
        "chain": chain,
        "instructions": list(job["instructions"]),
        "results": results,
        "num_success": int(sum(results)) if all(results) else results.index(False),
        "steps": steps,
        "time_s": round(time.perf_counter() - t0, 3),
        "renderer": _renderer(env),
        "start_scene_obs": start,
        "end_scene_obs": _scene_state(obs),
        "video": video,
    }


def run_single_task_job(env: Any, policy: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Run one episode of one task from a random valid start state.

    Job keys: ``index``, ``seed``, ``task``, ``instruction``, ``max_steps``, optional ``video``.
    The env draws the start state itself from ``reset(seed, options={"task": task})``.
    """
    t0 = time.perf_counter()
    seed = int(job["seed"])
    seed_policy(policy, seed)
    obs, _info = env.reset(seed=seed, options={"task": job["task"]})
    start = _scene_state(obs)
    frames: list | None = [] if job.get("video") else None
    ok, n, obs = run_subtask(env, policy, obs, job["task"], job["instruction"], int(job["max_steps"]), frames,
                           label=f"episode {job['index']}")
    video = None
    if frames:
        from evaluation.video import write_video

        video = str(write_video(job["video"], frames))
    return {
        "index": int(job["index"]),
        "seed": seed,
        "task": job["task"],
        "instruction": job["instruction"],
        "success": bool(ok),
        "steps": n,
        "time_s": round(time.perf_counter() - t0, 3),
        "renderer": _renderer(env),
        "start_scene_obs": start,
        "end_scene_obs": _scene_state(obs),
        "video": video,
    }
