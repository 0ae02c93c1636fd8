"""CalvinWriter: the files it writes are CALVIN's layout, read back by CalvinDataset; resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from vla_agent.data import CalvinDataset, CalvinWriter, load_statistics, read_val_embeddings


def make_frame(idx: int, depth: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(idx)
    f = {
        "actions": rng.normal(size=7).astype(np.float32),
        "rel_actions": rng.uniform(-1, 1, 7),
        "robot_obs": np.full(15, float(idx)),
        "scene_obs": rng.normal(size=24),
        "rgb_static": rng.integers(0, 255, (200, 200, 3), dtype=np.uint8),
        "rgb_gripper": rng.integers(0, 255, (84, 84, 3), dtype=np.uint8),
    }
    if depth:
        f["depth_static"] = rng.uniform(0, 3, (200, 200))
        f["depth_gripper"] = rng.uniform(0, 1, (84, 84)).astype(np.float32)
    return f


def fake_embed(sentences):
    return np.stack([np.full(384, len(s), dtype=np.float32) for s in sentences])


def write_two_segments(split: Path, next_index: int = 0) -> CalvinWriter:
    w = CalvinWriter(split, next_index=next_index)
    w.begin_segment()
    for _ in range(12):
        w.add_frame(make_frame(w.next_index, depth=True))
    s, e = w.end_segment()
    w.add_language(s + 2, e, "open the drawer", "open_drawer", np.ones(384))
    w.begin_segment(start_index=e + 21)  # a gap, as between CALVIN's segments
    for _ in range(8):
        w.add_frame(make_frame(w.next_index, depth=True))
    s2, e2 = w.end_segment()
    w.add_language(s2, e2, "turn on the light bulb", "turn_on_lightbulb")  # embedded at finalize
    return w


def test_written_files_follow_calvin_layout(tmp_path: Path) -> None:
    split = tmp_path / "training"
    w = write_two_segments(split, next_index=5)
    w.finalize(scene_info={"calvin_scene_D": [5, 44]}, embed_fn=fake_embed)
    ids = np.load(split / "ep_start_end_ids.npy")
    assert ids.tolist() == [[5, 16], [37, 44]] and np.issubdtype(ids.dtype, np.integer)
    assert np.load(split / "ep_lens.npy").tolist() == [12, 8]
    assert np.load(split / "scene_info.npy", allow_pickle=True).item() == {"calvin_scene_D": [5, 44]}
    lang = np.load(split / "lang_annotations/auto_lang_ann.npy", allow_pickle=True).item()
    assert lang["info"]["indx"] == [(7, 16), (37, 44)] and lang["info"]["episodes"] == []
    assert lang["language"]["emb"].shape == (2, 1, 384) and lang["language"]["emb"].dtype == np.float32
    assert lang["language"]["emb"][1, 0, 0] == len("turn on the light bulb")
    with np.load(split / "episode_0000005.npz") as npz:
        assert npz["robot_obs"].dtype == np.float64 and npz["actions"].dtype == np.float64  # as released
        assert npz["depth_static"].dtype == np.float32 and npz["rgb_static"].dtype == np.uint8
    assert sorted(p.name for p in split.glob("episode_*.npz"))[0] == "episode_0000005.npz"
    assert len(list(split.glob("episode_*.npz"))) == 20
    assert not list(split.rglob("*.tmp"))
    doc = yaml.safe_load((split / "statistics.yaml").read_text())
    assert doc["robot_obs"][0]["_target_"].endswith("NormalizeVector")
    stats = load_statistics(split)
    robot = np.array([i for i in range(5, 17)] + [i for i in range(37, 45)], dtype=float)
    np.testing.assert_allclose(stats.robot_obs_mean, robot.mean(), rtol=1e-6)
    np.testing.assert_allclose(stats.robot_obs_std, robot.std(), rtol=1e-5)

    ds = CalvinDataset(tmp_path, "training", keys=("robot_obs", "rgb_static", "depth_static", "actions"))
    assert len(ds) == 2
    item = ds[1]
    assert item["robot_obs"].shape == (8, 15) and item["lang_task"] == "turn_on_lightbulb"
    np.testing.assert_array_equal(item["rgb_static"][0], make_frame(37)["rgb_static"])
    np.testing.assert_allclose(item["actions"][0], make_frame(37)["actions"], rtol=1e-6)
    play = CalvinDataset(tmp_path, "training", keys=("robot_obs",), lang=False, window=4, stride=4)
    assert len(play) == 5


def test_validation_embeddings(tmp_path: Path) -> None:
    split = tmp_path / "validation"
    w = write_two_segments(split)
    val = {"open_drawer": {"emb": np.ones((1, 1, 384), np.float32), "ann": ["open the drawer please"]}}
    w.finalize(val_embeddings=val, embed_fn=fake_embed)
    got = read_val_embeddings(split)
    assert got["open_drawer"]["ann"] == ["open the drawer please"]
    assert got["open_drawer"]["emb"].shape == (1, 1, 384)


def test_writer_rejects_bad_frames(tmp_path: Path) -> None:
    w = CalvinWriter(tmp_path / "training")
    with pytest.raises(ValueError, match="begin_segment"):
        w.add_frame(make_frame(0))
    w.begin_segment()
    bad = make_frame(0)
    bad["robot_obs"] = np.zeros(14)
    with pytest.raises(ValueError, match=r"episode_0000000.npz.*robot_obs.*\(15,\)"):
        w.add_frame(bad)
    bad = make_frame(0)
    bad["scene_obs"][3] = np.nan
    with pytest.raises(ValueError, match="scene_obs.*finite"):
        w.add_frame(bad)
    w.add_frame(make_frame(0))
    other = make_frame(1)
    del other["rgb_gripper"]
    with pytest.raises(ValueError, match="frame keys"):
        w.add_frame(other)
    with pytest.raises(ValueError, match="annotation"):
        w.add_language(0, 5, "open the drawer", "open_drawer")
    with pytest.raises(ValueError, match="still open"):
        w.finalize()
    w.end_segment()
    with pytest.raises(ValueError, match="start_index"):
        w.begin_segment(start_index=0)
    w.add_language(0, 0, "x", "open_drawer")
    with pytest.raises(ValueError, match="embed_fn"):
        w.finalize()


def test_resume_truncates_uncommitted_frames(tmp_path: Path) -> None:
    split = tmp_path / "training"
    w = write_two_segments(split)
    state = json.loads(json.dumps(w.state_dict()))  # committed: two segments, frames 0..39
    # a third segment is half written, plus a stale temp file, then the process dies
    w.begin_segment(start_index=45)
    for _ in range(5):
        w.add_frame(make_frame(w.next_index, depth=True))
    (split / ".episode_0000050.npz.123.tmp").write_bytes(b"partial")
    del w
    assert (split / "episode_0000049.npz").exists()
    w2 = CalvinWriter.from_state_dict(split, state)
    assert not (split / "episode_0000045.npz").exists() and not list(split.glob("*.tmp"))
    assert (split / "episode_0000039.npz").exists()
    w2.begin_segment(start_index=45)
    for _ in range(3):
        w2.add_frame(make_frame(w2.next_index, depth=True))
    w2.end_segment()
    w2.finalize(embed_fn=fake_embed)
    assert np.load(split / "ep_start_end_ids.npy").tolist() == [[0, 11], [32, 39], [45, 47]]
    stats = load_statistics(split)
    robot = np.array(list(range(0, 12)) + list(range(32, 40)) + [45, 46, 47], dtype=float)
    np.testing.assert_allclose(stats.robot_obs_mean, robot.mean(), rtol=1e-6)  # the lost frames do not count
    ds = CalvinDataset(
        tmp_path, "training", keys=("robot_obs",), lang=False, window=3, stride=3, verify_files=True
    )
    assert ds[len(ds) - 1]["frame_indices"].tolist() == [45, 46, 47]
