"""Bad input to the CALVIN reader: every error names the file and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_data_reader import frame_values, write_split

from vla_agent.data import CalvinDataset, load_annotation_yaml, load_statistics
from vla_agent.data.format import read_frame

CALVIN_ANN = Path("/work/shared/calvin/annotations/new_playtable.yaml")
CALVIN_VAL_ANN = Path("/work/shared/calvin/annotations/new_playtable_validation.yaml")


@pytest.fixture()
def split(tmp_path: Path) -> Path:
    write_split(
        tmp_path / "training",
        [(10, 29), (40, 59)],
        [(12, 28, "open_drawer", "open the drawer")],
        scene_info=True,
    )
    return tmp_path / "training"


def test_missing_split_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="validation"):
        CalvinDataset(tmp_path, "validation")


@pytest.mark.parametrize("name", ["ep_start_end_ids.npy", "lang_annotations/auto_lang_ann.npy"])
def test_missing_aux_file(split: Path, name: str) -> None:
    (split / name).unlink()
    with pytest.raises(FileNotFoundError, match=Path(name).name):
        CalvinDataset(split.parent, "training", keys=("robot_obs",))


def test_missing_frame_file(split: Path) -> None:
    (split / "episode_0000059.npz").unlink()
    with pytest.raises(FileNotFoundError, match="episode_0000059.npz"):
        CalvinDataset(split.parent, "training", keys=("robot_obs",))
    (split / "episode_0000059.npz").touch()
    (split / "episode_0000020.npz").unlink()
    ds = CalvinDataset(split.parent, "training", keys=("robot_obs",))  # only segment ends checked
    with pytest.raises(FileNotFoundError, match="episode_0000020.npz"):
        ds[0]
    with pytest.raises(FileNotFoundError, match="episode_0000020.npz"):
        CalvinDataset(split.parent, "training", keys=("robot_obs",), verify_files=True)


def test_missing_key(split: Path) -> None:
    with pytest.raises(ValueError, match=r"episode_0000012.npz.*missing key 'rgb_tactile'"):
        CalvinDataset(split.parent, "training", keys=("robot_obs", "rgb_tactile"))


def test_wrong_shape(split: Path) -> None:
    bad = frame_values(15)
    bad["robot_obs"] = np.zeros(14)
    np.savez_compressed(split / "episode_0000015.npz", **bad)
    ds = CalvinDataset(split.parent, "training", keys=("robot_obs",))
    with pytest.raises(ValueError, match=r"episode_0000015.npz.*robot_obs.*expected shape \(15,\).*\(14,\)"):
        ds[0]
    bad = frame_values(16)
    bad["rgb_static"] = bad["rgb_static"].astype(np.float32)
    np.savez_compressed(split / "episode_0000016.npz", **bad)
    with pytest.raises(ValueError, match=r"episode_0000016.npz.*rgb_static.*uint8"):
        read_frame(split / "episode_0000016.npz", ("rgb_static",))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_npz_is_never_skipped(split: Path, damage: str) -> None:
    path = split / "episode_0000020.npz"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00junk" * 100, "empty": b""}[damage])
    ds = CalvinDataset(split.parent, "training", keys=("robot_obs", "rgb_static"))
    with pytest.raises(ValueError, match=r"episode_0000020.npz.*cannot decode"):
        ds[0]


def test_annotation_outside_recorded_frames(split: Path) -> None:
    lang = np.load(split / "lang_annotations/auto_lang_ann.npy", allow_pickle=True).item()
    lang["info"]["indx"] = [(25, 45)]  # crosses the gap 30..39
    np.save(split / "lang_annotations/auto_lang_ann.npy", lang, allow_pickle=True)
    with pytest.raises(
        ValueError, match=r"auto_lang_ann.npy.*info.indx\[0\] = \[25, 45\].*outside the recorded"
    ):
        CalvinDataset(split.parent, "training", keys=("robot_obs",))


def test_annotation_lengths_disagree(split: Path) -> None:
    lang = np.load(split / "lang_annotations/auto_lang_ann.npy", allow_pickle=True).item()
    lang["language"]["task"] = ["open_drawer", "close_drawer"]
    np.save(split / "lang_annotations/auto_lang_ann.npy", lang, allow_pickle=True)
    with pytest.raises(ValueError, match=r"auto_lang_ann.npy.*equal lengths"):
        CalvinDataset(split.parent, "training")


def test_malformed_segments(split: Path) -> None:
    np.save(split / "ep_start_end_ids.npy", np.array([10, 29]))
    with pytest.raises(ValueError, match=r"ep_start_end_ids.npy.*\(N, 2\)"):
        CalvinDataset(split.parent, "training")
    np.save(split / "ep_start_end_ids.npy", np.array([[10, 29], [25, 59]]))
    with pytest.raises(ValueError, match=r"ep_start_end_ids.npy.*overlap"):
        CalvinDataset(split.parent, "training")
    np.save(split / "ep_start_end_ids.npy", np.array([[10, 29], [40, 59]]))
    np.save(split / "ep_lens.npy", np.array([20, 21]))
    with pytest.raises(ValueError, match=r"ep_lens.npy.*do not match"):
        CalvinDataset(split.parent, "training")


def test_statistics_errors(split: Path) -> None:
    path = split / "statistics.yaml"
    path.write_text(path.read_text().replace("NormalizeVector", "Other"))
    with pytest.raises(ValueError, match=r"statistics.yaml.*robot_obs.*NormalizeVector"):
        load_statistics(path)
    path.write_text("robot_obs: [{_target_: NormalizeVector, mean: [0, 1], std: [1, 1]}]\n")
    with pytest.raises(ValueError, match=r"statistics.yaml.*robot_obs.mean.*15 values"):
        load_statistics(path)
    with pytest.raises(ValueError, match="statistics.yaml"):
        CalvinDataset(split.parent, "training", keys=("robot_obs",), normalize=True)


def test_bad_arguments(split: Path) -> None:
    with pytest.raises(ValueError, match="window"):
        CalvinDataset(split.parent, "training", window=0)
    with pytest.raises(ValueError, match="window"):
        CalvinDataset(split.parent, "training", lang=False)
    with pytest.raises(ValueError, match="keys"):
        CalvinDataset(split.parent, "training", keys="robot_obs")
    ds = CalvinDataset(split.parent, "training", keys=("robot_obs",))
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_split_folder_directly(split: Path) -> None:
    shutil.rmtree(split / "lang_annotations")
    ds = CalvinDataset(split, split=None, keys=("robot_obs",), window=5, stride=5, lang=False)
    assert len(ds) == 8  # 20 frames / 5 per segment, two segments


@pytest.mark.skipif(not CALVIN_ANN.is_file(), reason="CALVIN's annotation YAML not present")
def test_calvin_annotation_yaml() -> None:
    train = load_annotation_yaml(CALVIN_ANN, require_all_tasks=True)
    assert len(train) == 34
    assert sum(len(v) for v in train.values()) >= 389  # SPEC: 389 distinct training sentences
    assert len({s for v in train.values() for s in v}) == 389
    assert all(7 <= len(v) <= 20 for v in train.values())
    val = load_annotation_yaml(CALVIN_VAL_ANN, require_all_tasks=True)
    assert all(len(v) == 1 for v in val.values())
    assert not {v[0] for v in val.values()} & {s for v in train.values() for s in v}


def test_annotation_yaml_errors(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text("open_drawer: ['open it']\nfly_away: ['go']\n")
    with pytest.raises(ValueError, match=r"a.yaml.*unknown task 'fly_away'"):
        load_annotation_yaml(p)
    p.write_text("open_drawer: []\n")
    with pytest.raises(ValueError, match=r"a.yaml.*open_drawer.*non-empty"):
        load_annotation_yaml(p)
    p.write_text("open_drawer: ['open it']\n")
    with pytest.raises(ValueError, match="missing tasks"):
        load_annotation_yaml(p, require_all_tasks=True)
