"""CalvinDataset against a split folder written BY HAND from SPEC §1 (raw np.save/np.savez calls).

The fixture mimics the released data's quirks: float64 vectors, (N, 1, 384) embeddings, an empty
``info.episodes``, two recorded segments with a gap between them, a ``statistics.yaml`` whose
``_target_`` carries the ``calvin_models.`` prefix, ``scene_info.npy`` only under training/.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vla_agent.data import CalvinDataset, load_statistics, pad_collate, read_lang_annotations

SEGMENTS = [(100, 139), (200, 259)]  # 40 + 60 frames, a gap of 60 frames in between
ANNOTATIONS = [  # (start, end, task, sentence)
    (100, 134, "open_drawer", "pull the handle to open the drawer"),
    (205, 259, "turn_on_led", "press the button to switch on the green light"),
    (210, 249, "move_slider_left", "slide the door to the left"),
]
STATS_YAML = """\
robot_obs:
  - _target_: calvin_models.calvin_agent.utils.transforms.NormalizeVector
    mean: [{rm}]
    std: [{rs}]
scene_obs:
  - _target_: calvin_models.calvin_agent.utils.transforms.NormalizeVector
    mean: [{sm}]
    std: [{ss}]
act_min_bound: [-0.43, -0.54, 0.29, -3.14, -0.81, -3.14, -1]
act_max_bound: [0.42, 0.14, 0.62, 3.14, 0.7, 3.14, 1]
"""


def frame_values(idx: int) -> dict[str, np.ndarray]:
    """Deterministic content of frame ``idx`` (so tests can check what was read)."""
    rng = np.random.default_rng(idx)
    return {
        "actions": np.full(7, idx, dtype=np.float64) + np.arange(7) * 1e-3,
        "rel_actions": rng.uniform(-1, 1, 7),  # float64
        "robot_obs": np.full(15, idx, dtype=np.float64) + 0.5,
        "scene_obs": np.full(24, -idx, dtype=np.float64),
        "rgb_static": np.full((200, 200, 3), idx % 256, dtype=np.uint8),
        "rgb_gripper": np.full((84, 84, 3), (idx * 7) % 256, dtype=np.uint8),
        "depth_static": np.full((200, 200), idx / 100.0, dtype=np.float32),
        "depth_gripper": np.full((84, 84), idx / 1000.0, dtype=np.float32),
    }


def write_split(split: Path, segments, annotations, scene_info: bool) -> None:
    (split / "lang_annotations").mkdir(parents=True)
    for s, e in segments:
        for idx in range(s, e + 1):
            np.savez_compressed(split / f"episode_{idx:07d}.npz", **frame_values(idx))
    np.save(split / "ep_start_end_ids.npy", np.array(segments, dtype=np.int64))
    np.save(split / "ep_lens.npy", np.array([e - s + 1 for s, e in segments], dtype=np.int64))
    if scene_info:
        np.save(split / "scene_info.npy", {"calvin_scene_D": [100, 399]}, allow_pickle=True)
    lang = {
        "language": {
            "ann": [a[3] for a in annotations],
            "task": [a[2] for a in annotations],
            "emb": np.random.default_rng(0).normal(size=(len(annotations), 1, 384)).astype(np.float32),
        },
        "info": {"indx": [(a[0], a[1]) for a in annotations], "episodes": []},
    }
    np.save(split / "lang_annotations" / "auto_lang_ann.npy", lang, allow_pickle=True)
    fmt = lambda v: ", ".join(str(x) for x in v)  # noqa: E731
    (split / "statistics.yaml").write_text(
        STATS_YAML.format(
            rm=fmt(np.linspace(0, 1, 15)),
            rs=fmt(np.full(15, 2.0)),
            sm=fmt(np.zeros(24)),
            ss=fmt(np.full(24, 4.0)),
        )
    )


@pytest.fixture(scope="module")
def calvin_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("calvin_hand")
    write_split(root / "training", SEGMENTS, ANNOTATIONS, scene_info=True)
    write_split(
        root / "validation", [(0, 49)], [(3, 40, "close_drawer", "push the drawer shut")], scene_info=False
    )
    return root


EMB = np.random.default_rng(0).normal(size=(len(ANNOTATIONS), 1, 384)).astype(np.float32)
KEYS = ("rgb_static", "rgb_gripper", "robot_obs", "scene_obs", "actions", "rel_actions")


def test_whole_annotation_windows(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "training", keys=KEYS)
    assert len(ds) == len(ANNOTATIONS)
    for i, (s, e, task, sentence) in enumerate(ANNOTATIONS):
        item = ds[i]
        T = e - s + 1
        assert item["rgb_static"].shape == (T, 200, 200, 3) and item["rgb_static"].dtype == np.uint8
        assert item["rgb_gripper"].shape == (T, 84, 84, 3) and item["rgb_gripper"].dtype == np.uint8
        assert item["robot_obs"].shape == (T, 15) and item["robot_obs"].dtype == np.float32
        assert item["scene_obs"].shape == (T, 24) and item["scene_obs"].dtype == np.float32
        assert item["actions"].shape == (T, 7) and item["actions"].dtype == np.float32
        assert item["rel_actions"].shape == (T, 7) and item["rel_actions"].dtype == np.float32
        np.testing.assert_array_equal(item["frame_indices"], np.arange(s, e + 1))
        assert item["mask"].all() and item["is_last"].tolist() == [False] * (T - 1) + [True]
        # the right frames, in order
        np.testing.assert_allclose(item["robot_obs"][:, 0], np.arange(s, e + 1) + 0.5)
        assert item["rgb_static"][-1, 0, 0, 0] == e % 256
        np.testing.assert_allclose(item["rel_actions"][3], frame_values(s + 3)["rel_actions"], rtol=1e-6)
        assert item["lang_task"] == task and item["lang_ann"] == sentence
        assert item["lang_emb"].shape == (384,) and item["lang_emb"].dtype == np.float32
        np.testing.assert_array_equal(item["lang_emb"], EMB[i, 0])
        assert item["ann_index"] == i and item["span"].tolist() == [s, e]
    assert ds.scene_info == {"calvin_scene_D": [100, 399]}


def test_fixed_windows_cover_annotation_end(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "training", keys=("robot_obs",), window=10, stride=4)
    lang = read_lang_annotations(calvin_root / "training")
    per_ann: dict[int, list[np.ndarray]] = {}
    for i in range(len(ds)):
        item = ds[i]
        assert item["robot_obs"].shape == (10, 15)
        s, e = lang.indx[item["ann_index"]]
        assert s <= item["frame_indices"].min() and item["frame_indices"].max() <= e
        np.testing.assert_array_equal(np.diff(item["frame_indices"]), 1)
        per_ann.setdefault(item["ann_index"], []).append(item["frame_indices"])
    for a, wins in per_ann.items():
        s, e = lang.indx[a]
        assert wins[0][0] == s and wins[-1][-1] == e  # first frame and success frame both covered
        starts = [w[0] for w in wins]
        assert all(b - a_ <= 4 for a_, b in zip(starts, starts[1:], strict=False))


def test_window_longer_than_annotation_is_padded(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "validation", keys=("robot_obs", "rgb_gripper"), window=50)
    assert len(ds) == 1
    item = ds[0]
    assert item["robot_obs"].shape == (50, 15)
    assert item["mask"].sum() == 38 and not item["mask"][38:].any()
    assert item["is_last"].sum() == 1 and item["is_last"][37]
    np.testing.assert_array_equal(item["robot_obs"][38:], np.repeat(item["robot_obs"][37:38], 12, axis=0))
    assert item["frame_indices"][-1] == 40


def test_play_windows_never_cross_gap(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "training", keys=("scene_obs",), window=16, stride=8, lang=False)
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        idx = item["frame_indices"]
        assert item["ann_index"] == -1 and item["lang_ann"] == "" and item["lang_emb"].shape == (384,)
        assert any(s <= idx[0] and idx[-1] <= e for s, e in SEGMENTS), idx
        seen.update(idx.tolist())
        np.testing.assert_allclose(item["scene_obs"][:, 0], -idx.astype(np.float32))
    recorded = {i for s, e in SEGMENTS for i in range(s, e + 1)}
    assert seen == recorded  # every recorded frame is reachable, nothing in the gap


def test_validation_without_scene_info_uses_training(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "validation", keys=("actions",))
    assert ds.scene_info == {"calvin_scene_D": [100, 399]}
    assert ds[0]["lang_task"] == "close_drawer"


def test_statistics_yaml_with_prefix_and_normalisation(calvin_root: Path) -> None:
    stats = load_statistics(calvin_root / "training" / "statistics.yaml")
    np.testing.assert_allclose(stats.robot_obs_mean, np.linspace(0, 1, 15), rtol=1e-6)
    assert stats.scene_obs_std.shape == (24,) and stats.act_min_bound.shape == (7,)
    ds = CalvinDataset(calvin_root, "training", keys=("robot_obs", "scene_obs"), normalize=True)
    raw = CalvinDataset(calvin_root, "training", keys=("robot_obs", "scene_obs"))
    np.testing.assert_allclose(
        ds[0]["robot_obs"], (raw[0]["robot_obs"] - stats.robot_obs_mean) / 2.0, rtol=1e-5
    )
    np.testing.assert_allclose(ds[0]["scene_obs"], raw[0]["scene_obs"] / 4.0, rtol=1e-5)


def test_computed_statistics_when_yaml_missing(calvin_root: Path, tmp_path: Path) -> None:
    import shutil

    split = tmp_path / "validation"
    shutil.copytree(calvin_root / "validation", split)
    (split / "statistics.yaml").unlink()
    ds = CalvinDataset(tmp_path, "validation", keys=("robot_obs",), normalize=True, stats_frames=1000)
    idx = np.arange(0, 50)
    np.testing.assert_allclose(ds.statistics.robot_obs_mean, idx.mean() + 0.5, rtol=1e-5)
    np.testing.assert_allclose(ds.statistics.robot_obs_std, idx.std(), rtol=1e-5)
    np.testing.assert_allclose(ds.statistics.act_max_bound[:6], 49 + np.arange(6) * 1e-3, rtol=1e-5)
    # a subsample: a subset of frames, still close
    sub = CalvinDataset(tmp_path, "validation", keys=("robot_obs",), normalize=True, stats_frames=20)
    assert abs(float(sub.statistics.robot_obs_mean[0]) - 25.0) < 8


def test_dataloader_with_workers_and_pickle(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "training", keys=("robot_obs", "rgb_gripper"), window=8, stride=8)
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone[3]["robot_obs"], ds[3]["robot_obs"])
    loader = DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    n = 0
    for batch in loader:
        assert batch["robot_obs"].dtype == torch.float32 and batch["robot_obs"].shape[1:] == (8, 15)
        assert batch["rgb_gripper"].dtype == torch.uint8
        assert isinstance(batch["lang_ann"], list) and batch["lang_emb"].shape[1:] == (384,)
        n += batch["robot_obs"].shape[0]
    assert n == len(ds)


def test_pad_collate_for_whole_windows(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "training", keys=("robot_obs",))
    batch = pad_collate([ds[0], ds[1], ds[2]])
    assert batch["robot_obs"].shape == (3, 55, 15)
    assert batch["mask"].sum(1).tolist() == [35, 55, 40]
    assert batch["is_last"].sum().item() == 3
    assert batch["lang_task"] == ["open_drawer", "turn_on_led", "move_slider_left"]


def test_optional_depth_keys(calvin_root: Path) -> None:
    ds = CalvinDataset(calvin_root, "validation", keys=("depth_static", "depth_gripper"))
    item = ds[0]
    assert item["depth_static"].shape == (38, 200, 200) and item["depth_static"].dtype == np.float32
    assert item["depth_gripper"].shape == (38, 84, 84)


def test_language_and_play_windows_mix_in_one_loader(calvin_root: Path) -> None:
    from torch.utils.data import ConcatDataset

    lang = CalvinDataset(calvin_root, "training", keys=("robot_obs",), window=12, stride=12)
    play = CalvinDataset(calvin_root, "training", keys=("robot_obs",), window=12, stride=12, lang=False)
    loader = DataLoader(ConcatDataset([lang, play]), batch_size=64, shuffle=False)
    batch = next(iter(loader))
    n = len(lang)
    assert batch["robot_obs"].shape == (n + len(play), 12, 15)
    assert (batch["ann_index"][:n] >= 0).all() and (batch["ann_index"][n:] == -1).all()
    assert batch["lang_ann"][n:] == [""] * len(play)
