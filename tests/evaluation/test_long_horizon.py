"""The long-horizon runner on the real embedded play table (image-free, short step budgets)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation import EnvFactory, RandomPolicyFactory, evaluate_long_horizon, get_sequences
from evaluation.long_horizon import LOG_FILE

ENV = EnvFactory(kwargs={"cameras": ()})  # no rendering: fast
STEPS = 20  # per subtask, instead of CALVIN's 360


def _records(out: Path) -> list[dict]:
    recs = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    return sorted(recs, key=lambda r: r["index"])


def _comparable(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "time_s"}


@pytest.fixture(scope="module")
def one_worker_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("lh1")
    res = evaluate_long_horizon(RandomPolicyFactory(seed=0), ENV, num_sequences=6, max_steps=STEPS,
                                out_dir=out, progress=False, n_boot=100)
    return out, res


def test_reports_are_written(one_worker_run: tuple[Path, dict]) -> None:
    out, res = one_worker_run
    for name in ("results.json", "chains.jsonl", "results.png", "results.txt", "run.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["chain_sr"]) == {"1", "2", "3", "4", "5"}
    assert saved["avg_seq_len"] == pytest.approx(sum(saved["chain_sr"].values()))
    prov = saved["provenance"]
    assert prov["seed"] == 0 and prov["num_sequences"] == 6 and prov["max_steps"] == STEPS
    assert prov["versions"]["numpy"] == np.__version__ and prov["timestamp"]
    assert prov["env"]["env_id"] == "vla_agent/PlayTable-v0" and "random" in prov["policy"]
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Average successful sequence length" in (out / "results.txt").read_text()


def test_records_follow_the_chains(one_worker_run: tuple[Path, dict]) -> None:
    out, res = one_worker_run
    recs = _records(out)
    seqs = get_sequences(6)
    assert [r["index"] for r in recs] == list(range(6))
    total = 0
    for r, (cond, chain) in zip(recs, seqs, strict=True):
        assert r["condition"] == cond and tuple(r["chain"]) == chain
        assert 1 <= len(r["results"]) <= 5 and len(r["steps"]) == len(r["results"])
        # the chain stops at the first failure
        assert r["results"] == [True] * r["num_success"] + ([False] if r["num_success"] < 5 else [])
        assert all(1 <= n <= STEPS for n in r["steps"])
        assert len(r["end_scene_obs"]) == 24
        total += sum(len(x) for x in [r["results"]])
    assert sum(v["total"] for v in res["task_info"].values()) == total


def test_results_do_not_depend_on_worker_count(one_worker_run: tuple[Path, dict], tmp_path: Path) -> None:
    out1, res1 = one_worker_run
    res2 = evaluate_long_horizon(RandomPolicyFactory(seed=0), ENV, num_sequences=6, max_steps=STEPS,
                                 out_dir=tmp_path, workers=2, progress=False, n_boot=100)
    assert [_comparable(r) for r in _records(out1)] == [_comparable(r) for r in _records(tmp_path)]
    for key in ("avg_seq_len", "chain_sr", "task_info", "ci95"):
        assert res1[key] == res2[key]


def test_resume_after_kill_neither_loses_nor_repeats(one_worker_run: tuple[Path, dict], tmp_path: Path) -> None:
    out1, res1 = one_worker_run
    # Simulate a kill: the first run got 3 chains out, the 4th line was torn mid-write.
    for name in ("run.json",):
        (tmp_path / name).write_bytes((out1 / name).read_bytes())
    lines = (out1 / LOG_FILE).read_bytes().splitlines(keepends=True)
    (tmp_path / LOG_FILE).write_bytes(b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    res = evaluate_long_horizon(RandomPolicyFactory(seed=0), ENV, num_sequences=6, max_steps=STEPS,
                                out_dir=tmp_path, progress=False, n_boot=100)
    new_lines = (tmp_path / LOG_FILE).read_bytes().splitlines(keepends=True)
    assert new_lines[:3] == lines[:3]  # kept as they were, not re-run
    recs = _records(tmp_path)
    assert [r["index"] for r in recs] == list(range(6))  # no loss, no duplicate
    assert [_comparable(r) for r in recs] == [_comparable(r) for r in _records(out1)]
    assert res["avg_seq_len"] == res1["avg_seq_len"] and res["task_info"] == res1["task_info"]


def test_refuses_to_resume_with_other_arguments(one_worker_run: tuple[Path, dict], tmp_path: Path) -> None:
    out1, _ = one_worker_run
    (tmp_path / "run.json").write_bytes((out1 / "run.json").read_bytes())
    (tmp_path / LOG_FILE).write_bytes((out1 / LOG_FILE).read_bytes())
    with pytest.raises(ValueError, match="max_steps"):
        evaluate_long_horizon(RandomPolicyFactory(seed=0), ENV, num_sequences=6, max_steps=STEPS + 1,
                              out_dir=tmp_path, progress=False)
    res = evaluate_long_horizon(RandomPolicyFactory(seed=0), ENV, num_sequences=2, max_steps=3,
                                out_dir=tmp_path, progress=False, overwrite=True, n_boot=10)
    assert res["num_sequences"] == 2 and len(_records(tmp_path)) == 2


class CalvinStyleModel:
    """CALVIN's CalvinBaseModel interface: reset() and step(obs, goal); counts its calls."""

    def __init__(self) -> None:
        self.resets = 0
        self.goals: list[str] = []

    def reset(self) -> None:
        self.resets += 1

    def step(self, obs: dict, goal: str) -> np.ndarray:
        self.goals.append(goal)
        return np.array([0, 0, 0, 0, 0, 0, 1], dtype=np.float32)


def test_calvin_style_policy_and_calvin_sentences(tmp_path: Path) -> None:
    ann = Path("/work/shared/calvin/annotations/new_playtable_validation.yaml")  # CALVIN's file, tests only
    model = CalvinStyleModel()
    instructions = str(ann) if ann.is_file() else "project"
    res = evaluate_long_horizon(lambda env: model, ENV, num_sequences=2, max_steps=4, out_dir=None,
                                instructions=instructions, progress=False, n_boot=10)
    assert res["num_sequences"] == 2
    assert model.resets == sum(v["total"] for v in res["task_info"].values())  # reset before each subtask
    from envs.instructions import load_instruction_set

    sentences = load_instruction_set(instructions)
    first_task = get_sequences(2)[0][1][0]
    assert model.goals[0] == sentences[first_task]


def test_video_has_captioned_frames(tmp_path: Path) -> None:
    res = evaluate_long_horizon(RandomPolicyFactory(seed=0), EnvFactory(), num_sequences=1, max_steps=3,
                                out_dir=tmp_path, num_videos=1, progress=False, n_boot=10)
    (video,) = res["files"]["videos"]
    if video.endswith(".gif"):
        import imageio.v2 as imageio

        frames = imageio.mimread(video)
        assert len(frames) == 4 and frames[0].shape[:2] == (2 * 200 + 28, 2 * 200)
    else:
        import imageio_ffmpeg

        reader = imageio_ffmpeg.read_frames(video)
        meta = next(reader)
        assert meta["size"] == (2 * 200, 2 * 200 + 28)  # upscaled static camera + caption band
        assert sum(1 for _ in reader) == 4  # the start frame + one per step


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        evaluate_long_horizon(RandomPolicyFactory(), ENV, num_sequences=1, max_steps=0, progress=False)
    with pytest.raises(ValueError, match="out_dir"):
        evaluate_long_horizon(RandomPolicyFactory(), ENV, num_sequences=1, num_videos=1, progress=False)
    with pytest.raises(ValueError, match="backend"):
        evaluate_long_horizon(RandomPolicyFactory(), ENV, num_sequences=1, backend="slurm", progress=False)


def test_ray_backend_or_clear_import_error(tmp_path: Path) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"vla-agent\[ray\]"):
            evaluate_long_horizon(RandomPolicyFactory(), ENV, num_sequences=1, max_steps=2, backend="ray",
                                  progress=False)
        return
    res = evaluate_long_horizon(RandomPolicyFactory(), ENV, num_sequences=2, max_steps=2, backend="ray",
                                workers=2, out_dir=tmp_path, progress=False, n_boot=10)
    assert res["num_sequences"] == 2


@pytest.mark.slow
def test_expert_completes_subtasks_and_does_not_leak_between_chains(tmp_path: Path) -> None:
    from evaluation import ExpertPolicyFactory

    one = evaluate_long_horizon(ExpertPolicyFactory(seed=0), ENV, num_sequences=4, out_dir=tmp_path / "w1",
                                progress=False, n_boot=10)
    assert one["chain_sr"]["1"] > 0
    two = evaluate_long_horizon(ExpertPolicyFactory(seed=0), ENV, num_sequences=4, out_dir=tmp_path / "w2",
                                workers=2, progress=False, n_boot=10)
    assert two["avg_seq_len"] == one["avg_seq_len"]
    # a stateful policy must not carry anything from one chain into the next
    assert [_comparable(r) for r in _records(tmp_path / "w1")] == [_comparable(r) for r in _records(tmp_path / "w2")]
