"""Merging CALVIN-format datasets and sharded (multi-process) generation, on real generated data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envs import constants as C
from vla_agent.data import CalvinDataset, compute_statistics, load_statistics, read_lang_annotations, read_segments
from vla_agent.data.format import frame_path, read_frame
from vla_agent.data.generate import GenerateConfig, generate_dataset
from vla_agent.data.merge import merge_datasets
from vla_agent.data.parallel import generate_sharded, shard_configs

pytest.importorskip("pybullet")

TASKS = ["turn_on_led", "turn_off_led", "move_slider_left", "move_slider_right", "open_drawer", "close_drawer"]


class FakeEmbed:
    """Deterministic, picklable stand-in for the sentence encoder (not under test here)."""

    def __call__(self, sentences):
        return np.stack([np.random.default_rng(len(s)).normal(size=384).astype(np.float32) for s in sentences])


def tiny(out: Path, seed: int, chains: int = 2) -> GenerateConfig:
    return GenerateConfig(out=str(out), chains=chains, chain_len=2, seed=seed, val_fraction=0.34, max_steps=150,
                          tasks=TASKS, env_kwargs={"cameras": ()}, progress=False)


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("merge_sources")
    outs = [root / "a", root / "b"]
    for seed, out in zip((5, 6), outs, strict=True):
        generate_dataset(tiny(out, seed, chains=3), embed_fn=FakeEmbed())
    return outs


def test_merge_renumbers_frames_and_windows(two_sources, tmp_path: Path) -> None:
    out = tmp_path / "merged"
    summary = merge_datasets(two_sources, out, progress=False)
    span_a = max(int(read_segments(two_sources[0] / s)[:, 1].max()) for s in ("training", "validation")) + 1
    assert summary["offsets"] == [0, span_a]
    for split in ("training", "validation"):
        src_ann = [read_lang_annotations(r / split) for r in two_sources]
        ann = read_lang_annotations(out / split)
        assert ann.ann == src_ann[0].ann + src_ann[1].ann
        np.testing.assert_array_equal(ann.indx, np.concatenate([src_ann[0].indx, src_ann[1].indx + span_a]))
        np.testing.assert_array_equal(ann.emb, np.concatenate([a.emb for a in src_ann]))
        # every window's last frame of source b is the same frame, under its new number
        for (_s, e), (_s2, e2) in zip(src_ann[1].indx, ann.indx[len(src_ann[0]):], strict=True):
            a = read_frame(frame_path(two_sources[1] / split, int(e)), (C.ROBOT_OBS, C.REL_ACTIONS))
            b = read_frame(frame_path(out / split, int(e2)), (C.ROBOT_OBS, C.REL_ACTIONS))
            np.testing.assert_array_equal(a[C.ROBOT_OBS], b[C.ROBOT_OBS])
            np.testing.assert_array_equal(a[C.REL_ACTIONS], b[C.REL_ACTIONS])
        n = sum(int((read_segments(r / split)[:, 1] - read_segments(r / split)[:, 0] + 1).sum()) for r in two_sources)
        assert summary["splits"][split]["frames"] == n
    # pooled statistics equal the statistics streamed over every merged frame
    pooled = load_statistics(out / "training" / "statistics.yaml")
    exact = compute_statistics(out / "training", max_frames=None)
    np.testing.assert_allclose(pooled.robot_obs_mean, exact.robot_obs_mean, atol=1e-5)
    np.testing.assert_allclose(pooled.robot_obs_std, exact.robot_obs_std, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(pooled.act_max_bound, exact.act_max_bound, atol=1e-6)
    ds = CalvinDataset(out, split="training", keys=(C.ROBOT_OBS, C.REL_ACTIONS))
    assert len(ds) == len(read_lang_annotations(out / "training"))
    # a second merge into the same folder (e.g. after a kill) gives the same result
    again = merge_datasets(two_sources, out, progress=False)
    assert again == summary


def test_merge_errors(two_sources, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sources"):
        merge_datasets([], tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="out"):
        merge_datasets(two_sources, two_sources[0], progress=False)
    with pytest.raises(ValueError, match="sources"):
        merge_datasets([tmp_path], tmp_path / "y", progress=False)
    merge_datasets(two_sources[1:], tmp_path / "z", progress=False)
    with pytest.raises(ValueError, match="other sources"):
        merge_datasets(two_sources, tmp_path / "z", progress=False)


def test_a_merge_extends_without_touching_earlier_frames(two_sources, tmp_path: Path) -> None:
    out = tmp_path / "grown"
    first = merge_datasets(two_sources[:1], out, progress=False)
    old = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "training").glob("episode_*.npz")}
    both = merge_datasets(two_sources, out, progress=False)  # a new shard after the old one
    assert both["offsets"][0] == 0 and both["splits"]["training"]["frames"] > first["splits"]["training"]["frames"]
    now = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "training").glob("episode_*.npz")}
    assert {k: now[k] for k in old} == old  # same files: feature caches keyed by them stay valid
    assert both == merge_datasets(two_sources, tmp_path / "fresh", progress=False)
    assert read_lang_annotations(out / "training").ann == read_lang_annotations(tmp_path / "fresh" / "training").ann


def test_merge_data_command_and_shared_frame_files(two_sources, tmp_path: Path, capsys) -> None:
    """``vla-agent merge-data``; merged frames are the sources' files, so cached features carry over."""
    from vla_agent.cli import main
    from vla_agent.training.feature_cache import file_fingerprint

    out = tmp_path / "cli"
    assert main(["merge-data", *map(str, two_sources), "--out", str(out), "--no-progress"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["splits"] == merge_datasets(two_sources, tmp_path / "api", progress=False)["splits"]
    first = int(read_segments(two_sources[0] / "training")[0, 0])
    assert file_fingerprint(frame_path(out / "training", first)) == file_fingerprint(
        frame_path(two_sources[0] / "training", first))
    with pytest.raises(SystemExit):  # no source given
        main(["merge-data", "--out", str(out)])


def test_shard_configs_split_chains_and_seeds(tmp_path: Path) -> None:
    shards = shard_configs(tiny(tmp_path, seed=7, chains=5), workers=2)
    assert [c.seed for c in shards] == [7, 8] and [c.chains for c in shards] == [3, 2]
    assert shards[1].out == str(tmp_path / "shards" / "seed_8")
    with pytest.raises(ValueError, match="workers"):
        shard_configs(tiny(tmp_path, seed=7, chains=2), workers=3)
    with pytest.raises(ValueError, match="roboseg"):
        shard_configs(GenerateConfig(out=str(tmp_path), chains=2, roboseg=str(tmp_path / "r")), workers=2)


def test_two_processes_equal_sequential_shards(two_sources, tmp_path: Path) -> None:
    """Two spawned workers with seeds 5 and 6 write the same data as the two sequential runs."""
    out = tmp_path / "parallel"
    summary = generate_sharded(tiny(out, seed=5, chains=6), workers=2, embed_fn=FakeEmbed())
    assert summary["chains"] == 6
    merged = tmp_path / "sequential"
    merge_datasets(two_sources, merged, progress=False)
    for split in ("training", "validation"):
        a, b = read_lang_annotations(out / split), read_lang_annotations(merged / split)
        assert a.ann == b.ann
        np.testing.assert_array_equal(a.indx, b.indx)
        last = int(a.indx[-1, 1])
        np.testing.assert_array_equal(read_frame(frame_path(out / split, last), (C.ROBOT_OBS,))[C.ROBOT_OBS],
                                      read_frame(frame_path(merged / split, last), (C.ROBOT_OBS,))[C.ROBOT_OBS])
    assert json.loads((out / "generation.json").read_text())["workers"] == 2
