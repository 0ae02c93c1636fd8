"""The single-task runner on the real embedded play table (image-free, short step budgets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs import symbolic
from evaluation import EnvFactory, RandomPolicyFactory, evaluate_single_tasks
from evaluation.single_task import LOG_FILE

ENV = EnvFactory(kwargs={"cameras": ()})
TASKS = ["open_drawer", "turn_on_led", "place_in_slider"]


def test_single_task_table_and_resume(tmp_path: Path) -> None:
    res = evaluate_single_tasks(RandomPolicyFactory(seed=1), ENV, tasks=TASKS, episodes_per_task=2, max_steps=5,
                                out_dir=tmp_path, progress=False)
    assert res["num_episodes"] == 6
    assert {t: v["total"] for t, v in res["task_info"].items()} == {t: 2 for t in TASKS}
    for name in ("single_task_results.json", "single_task.jsonl", "single_task_results.png",
                 "single_task_results.txt"):
        assert (tmp_path / name).stat().st_size > 0
    lines = (tmp_path / LOG_FILE).read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    assert sorted(r["index"] for r in recs) == list(range(6))
    assert len({r["seed"] for r in recs}) == 6
    # each episode started in a state where its task is possible: the env sampled it with the seed
    for r in recs:
        assert r["task"] in TASKS and 1 <= r["steps"] <= 5
    # resume: drop the last two records, rerun, get the same records back
    (tmp_path / LOG_FILE).write_text("\n".join(lines[:4]) + "\n")
    again = evaluate_single_tasks(RandomPolicyFactory(seed=1), ENV, tasks=TASKS, episodes_per_task=2, max_steps=5,
                                  out_dir=tmp_path, progress=False)
    recs2 = [json.loads(line) for line in (tmp_path / LOG_FILE).read_text().splitlines()]

    def strip(rs: list[dict]) -> list[str]:
        return sorted(json.dumps({k: v for k, v in r.items() if k != "time_s"}, sort_keys=True) for r in rs)

    assert strip(recs2) == strip(recs)
    assert again["task_info"] == res["task_info"]
    # every failed episode is sorted by whether its object moved; the start state is on record
    failed = sum(v["total"] - v["success"] for v in res["task_info"].values())
    assert sum(sum(c.values()) for c in res["failure_modes"].values()) == failed
    assert all(c["unknown"] == 0 for c in res["failure_modes"].values())
    assert "Failed subtasks" in (tmp_path / "single_task_results.txt").read_text()


def test_grasped_start_states_exist_for_place_tasks() -> None:
    import numpy as np

    s = symbolic.sample_state_for_task("place_in_slider", np.random.default_rng(0))
    assert s["grasped"] == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tasks"):
        evaluate_single_tasks(RandomPolicyFactory(), ENV, tasks=["fly"], progress=False)
    with pytest.raises(ValueError, match="episodes_per_task"):
        evaluate_single_tasks(RandomPolicyFactory(), ENV, tasks=TASKS, episodes_per_task=0, progress=False)
