"""The demonstration generator: real play table, real scripted experts, real text encoder.

Tiny sizes: a few short chains of quick tasks. Runs without images (``cameras=()``) where
images are not what is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envs import constants as C
from vla_agent.data import (
    CalvinDataset,
    load_statistics,
    read_lang_annotations,
    read_segments,
    read_val_embeddings,
)
from vla_agent.data.format import frame_path, read_frame
from vla_agent.data.generate import PROGRESS_FILE, GenerateConfig, generate_dataset

pytest.importorskip("pybullet")

QUICK_TASKS = [
    "turn_on_led",
    "turn_off_led",
    "move_slider_left",
    "move_slider_right",
    "open_drawer",
    "close_drawer",
]
CALVIN_ANN = Path("/work/shared/calvin/annotations/new_playtable.yaml")


def fake_embed(sentences):
    # deterministic stand-in where the encoder itself is not under test
    return np.stack([np.random.default_rng(len(s)).normal(size=384).astype(np.float32) for s in sentences])


def fast_config(out: Path, **kw) -> GenerateConfig:
    base = dict(
        out=str(out),
        chains=3,
        chain_len=2,
        seed=3,
        val_fraction=0.34,
        max_steps=150,
        tasks=QUICK_TASKS,
        env_kwargs={"cameras": ()},
        progress=False,
        annotations=str(CALVIN_ANN) if CALVIN_ANN.is_file() else None,
    )
    base.update(kw)
    return GenerateConfig(**base)


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen_fast")
    summary = generate_dataset(fast_config(out), embed_fn=fake_embed)
    return out, summary


def test_round_trip_with_images_depth_and_roboseg(tmp_path: Path) -> None:
    from PIL import Image

    out, seg = tmp_path / "data", tmp_path / "roboseg"
    cfg = GenerateConfig(
        out=str(out),
        chains=1,
        chain_len=1,
        seed=0,
        val_fraction=0.0,
        max_steps=120,
        tasks=["turn_on_led", "turn_off_led"],
        depth=True,
        roboseg=str(seg),
        progress=False,
    )
    summary = generate_dataset(cfg)  # the real TextEncoder
    print(
        f"generated {summary['frames']} frames at {summary['frames_per_s']:.1f} frames/s (2 renders + masks)"
    )
    assert (
        summary["chains"] == 1 and summary["frames"]["training"] > 0 and summary["frames"]["validation"] == 0
    )
    assert summary["windows"]["training"] == 1, summary["records"]

    keys = (
        "rgb_static",
        "rgb_gripper",
        "depth_static",
        "depth_gripper",
        "robot_obs",
        "scene_obs",
        "actions",
        "rel_actions",
    )
    for split in ("training",):
        ds = CalvinDataset(out, split, keys=keys)
        item = ds[0]
        T = item["frame_indices"].shape[0]
        assert item["rgb_static"].shape == (T, 200, 200, 3) and item["rgb_gripper"].shape == (T, 84, 84, 3)
        assert item["depth_static"].shape == (T, 200, 200) and item["depth_static"].dtype == np.float32
        assert item["lang_task"] in ("turn_on_led", "turn_off_led")
        from envs.instructions import train_instructions

        assert item["lang_ann"] in train_instructions(item["lang_task"])
        # emb is the TextEncoder's embedding of the sentence
        from vla_agent.language.text_encoder import shared_text_encoder

        ref = shared_text_encoder().embed([item["lang_ann"]])[0]
        np.testing.assert_allclose(item["lang_emb"], ref, atol=1e-4)
        # the LED really changed over the window: the success frame shows the new state
        led = item["scene_obs"][:, C.LED]
        assert led[0] != led[-1]
    assert not (out / "validation").exists() or not list((out / "validation").glob("*.npz"))
    assert np.load(out / "training" / "scene_info.npy", allow_pickle=True).item()["calvin_scene_D"][0] == 0

    # RoboSeg export: one image/mask pair per frame and camera, robot colour on black
    pairs = sorted(seg.rglob("*_mask.png"))
    total = summary["frames"]["training"] + summary["frames"]["validation"]
    assert len(pairs) == 2 * total
    mask = np.asarray(Image.open(pairs[0]).convert("RGB"))
    colours = {tuple(c) for c in mask.reshape(-1, 3)}
    assert colours <= {(0, 0, 0), C.ROBOSEG_ROBOT_COLOR} and C.ROBOSEG_ROBOT_COLOR in colours
    image = pairs[0].with_name(pairs[0].name.replace("_mask", ""))
    idx = int(image.stem)
    frame = read_frame(frame_path(out / "training", idx), (image.parent.name,))
    np.testing.assert_array_equal(np.asarray(Image.open(image).convert("RGB")), frame[image.parent.name])
    try:
        from vla_agent.segmentation.roboseg import find_pairs
    except ImportError:  # the segmentation package may be absent
        return
    assert len(find_pairs(seg)) == len(pairs)


def test_actions_follow_calvin_definition(fast_run) -> None:
    from vla_agent.data import to_relative_action

    out, summary = fast_run
    for split in ("training", "validation"):
        for s, e in read_segments(out / split).tolist():
            frames = [
                read_frame(frame_path(out / split, i), ("robot_obs", "actions", "rel_actions"))
                for i in range(s, e + 1)
            ]
            robot = np.stack([f["robot_obs"] for f in frames])
            act = np.stack([f["actions"] for f in frames])
            rel = np.stack([f["rel_actions"] for f in frames])
            # actions[t] = TCP pose of frame t+1 and the gripper command (= robot_obs[t+1][14])
            np.testing.assert_allclose(act[:-1, :6], robot[1:, :6], atol=1e-6)
            np.testing.assert_array_equal(act[:-1, 6], robot[1:, C.GRIPPER_ACTION])
            assert set(np.unique(act[:, 6])) <= {-1.0, 1.0}
            np.testing.assert_allclose(rel, to_relative_action(act, robot), atol=1e-5)


def test_windows_match_completed_subtasks(fast_run) -> None:
    out, summary = fast_run
    completed = sum(len(r["completed"]) for r in summary["records"])
    assert completed >= 2, summary["records"]
    for split in ("training", "validation"):
        lang = read_lang_annotations(out / split)
        recs = [r for r in summary["records"] if r["split"] == split]
        expected = [(w[0], w[1], w[2], w[3]) for r in recs for w in r["windows"]]
        got = [(int(a), int(b), t, s) for (a, b), t, s in zip(lang.indx, lang.task, lang.ann, strict=True)]
        assert got == expected
        for r in recs:  # windows chain up: a subtask starts on its predecessor's success frame
            for w0, w1 in zip(r["windows"], r["windows"][1:], strict=False):
                assert w1[0] == w0[1]
        if CALVIN_ANN.is_file():
            from vla_agent.data import load_annotation_yaml

            calvin = load_annotation_yaml(CALVIN_ANN)
            assert all(s in calvin[t] for _, _, t, s in got)
        segs = read_segments(out / split)
        assert segs.tolist() == [r["segment"] for r in recs]
    # global indices: the splits interleave without overlapping
    all_segs = sorted(r["segment"] for r in summary["records"])
    assert all(b[0] == a[1] + 1 for a, b in zip(all_segs, all_segs[1:], strict=False))
    val = read_val_embeddings(out / "validation")
    assert set(val) == set(C.TASK_NAMES) and val["open_drawer"]["emb"].shape == (1, 1, 384)
    from envs.instructions import default_instruction

    assert val["open_drawer"]["ann"] == [default_instruction("open_drawer")]
    stats_train = load_statistics(out / "training")
    stats_val = load_statistics(out / "validation")
    np.testing.assert_array_equal(stats_train.robot_obs_mean, stats_val.robot_obs_mean)


def test_resume_after_kill_writes_the_same_data(fast_run, tmp_path: Path, monkeypatch) -> None:
    from vla_agent.data import writer as writer_mod

    ref_out, ref_summary = fast_run
    out = tmp_path / "killed"
    real_add = writer_mod.CalvinWriter.add_frame
    calls = {"n": 0}
    kill_at = ref_summary["records"][0]["segment"][1] + 20  # inside the second chain

    def dying_add(self, frame):
        calls["n"] += 1
        if calls["n"] > kill_at:
            raise KeyboardInterrupt("simulated kill")
        return real_add(self, frame)

    monkeypatch.setattr(writer_mod.CalvinWriter, "add_frame", dying_add)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(fast_config(out), embed_fn=fake_embed)
    progress = json.loads((out / PROGRESS_FILE).read_text())
    assert progress["chains_done"] == 1
    written = sorted(p.name for p in out.rglob("episode_*.npz"))
    assert len(written) == kill_at  # the partial chain's frames are on disk…
    monkeypatch.setattr(writer_mod.CalvinWriter, "add_frame", real_add)
    with pytest.raises(ValueError, match="other settings"):
        generate_dataset(fast_config(out, seed=4), embed_fn=fake_embed)
    summary = generate_dataset(fast_config(out), embed_fn=fake_embed)  # …and are redone on resume
    assert summary["records"] == ref_summary["records"]
    for split in ("training", "validation"):
        ref_files = sorted(p.name for p in (ref_out / split).glob("episode_*.npz"))
        assert sorted(p.name for p in (out / split).glob("episode_*.npz")) == ref_files
        for name in ref_files[:: max(1, len(ref_files) // 10)]:
            a = read_frame(ref_out / split / name, ("robot_obs", "scene_obs", "actions", "rel_actions"))
            b = read_frame(out / split / name, ("robot_obs", "scene_obs", "actions", "rel_actions"))
            for k in a:
                np.testing.assert_array_equal(a[k], b[k])
        assert (out / split / "ep_start_end_ids.npy").read_bytes() == (
            ref_out / split / "ep_start_end_ids.npy"
        ).read_bytes()
    assert not list(out.rglob("*.tmp"))


def test_replaying_rel_actions_reproduces_the_trajectory(fast_run) -> None:
    import gymnasium as gym

    import envs  # noqa: F401

    out, _ = fast_run
    split = out / "training"
    errors = []
    env = gym.make("vla_agent/PlayTable-v0", cameras=())
    try:
        for s, e in read_segments(split).tolist():
            with np.load(frame_path(split, s)) as z:  # the exact float64 start state
                env.reset(seed=0, options={"robot_obs": z["robot_obs"], "scene_obs": z["scene_obs"]})
            for i in range(s, e):
                env.step(read_frame(frame_path(split, i), ("rel_actions",))["rel_actions"])
                recorded = read_frame(frame_path(split, i + 1), ("robot_obs",))["robot_obs"]
                errors.append(np.linalg.norm(env.unwrapped.get_state()[0][:3] - recorded[:3]))
    finally:
        env.close()
    errors = np.asarray(errors)
    print(
        f"replay TCP position error: mean {errors.mean() * 1000:.1f} mm, max {errors.max() * 1000:.1f} mm "
        f"over {errors.size} steps"
    )
    # actions are the *achieved* next pose, so a replay lags the expert's commanded motion a little
    assert errors.mean() < 0.02 and errors.max() < 0.05


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tasks"):
        GenerateConfig(out=str(tmp_path), tasks=["fly_to_the_moon"])
    with pytest.raises(FileNotFoundError, match="annotations"):
        GenerateConfig(out=str(tmp_path), annotations=str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="val_fraction"):
        GenerateConfig(out=str(tmp_path), val_fraction=1.0)
    (tmp_path / "training").mkdir()
    np.savez(tmp_path / "training" / "episode_0000000.npz", x=np.zeros(1))
    with pytest.raises(ValueError, match="refusing to mix"):
        generate_dataset(GenerateConfig(out=str(tmp_path), progress=False), embed_fn=fake_embed)


def test_cli_arguments() -> None:
    import argparse

    from vla_agent.commands import generate_data

    parser = argparse.ArgumentParser()
    generate_data.add_arguments(parser)
    args = parser.parse_args(
        ["--out", "x", "--chains", "3", "--tasks", "open_drawer,close_drawer", "--depth"]
    )
    assert args.chains == 3 and args.tasks == "open_drawer,close_drawer" and args.depth


@pytest.mark.slow
def test_command_line_entry_point(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "cli"
    cmd = [
        sys.executable,
        "-m",
        "vla_agent.data.generate",
        "--out",
        str(out),
        "--chains",
        "1",
        "--chain-len",
        "1",
        "--tasks",
        "turn_on_led,turn_off_led",
        "--max-steps",
        "100",
        "--val-fraction",
        "0",
        "--no-progress",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    brief = json.loads(res.stdout.strip().splitlines()[-1])
    assert brief["chains"] == 1 and brief["frames"]["training"] > 0
    ds = CalvinDataset(out, "training", keys=("rgb_static", "robot_obs"), window=8)
    assert ds[0]["rgb_static"].shape == (8, 200, 200, 3)


def test_still_start_frames_are_labelled_with_the_first_moving_chunk(fast_run) -> None:
    from vla_agent.policy import ActionTokenizer, Normalizer
    from vla_agent.training.dataset import BCDataset
    from vla_agent.training.samples import STILL_ACTION, build_split_index

    out, _ = fast_run
    whole = build_split_index(out / "training")
    skip = build_split_index(out / "training", skip_still_start=True)
    np.testing.assert_array_equal(skip.starts, whole.starts)
    assert len(skip) == len(whole) and not whole.action_offsets.any()
    # the expert closes or opens the gripper in place before it reaches: some window starts still
    assert skip.action_offsets.any(), skip.action_offsets
    for w, off in enumerate(skip.action_offsets.tolist()):
        arm = np.abs(skip.window_actions(w)[:, :6]).max(1)
        assert (arm[:off] <= STILL_ACTION).all() and arm[off] > STILL_ACTION
    tok = ActionTokenizer(n_bins=65, chunk_size=4)
    norm = Normalizer.from_data(skip.robot_obs)
    a = BCDataset(whole, tok.encode_chunk, norm.normalize, 4)
    b = BCDataset(skip, tok.encode_chunk, norm.normalize, 4)
    w = int(np.flatnonzero(skip.action_offsets)[0])
    first = int(np.flatnonzero(skip.samples[:, 0] == w)[0])
    off = int(skip.action_offsets[w])
    ta, tb = a.action_tokens, b.action_tokens  # (S, L): this run recorded no images to read
    for t in range(off):  # observations of the still start: the chunk of the first moving frame
        assert (tb[first + t] == ta[first + off]).all()
    np.testing.assert_array_equal(a.robot_obs, b.robot_obs)  # the observations are unchanged
    assert not (ta[first] == ta[first + off]).all()
    kept = skip.samples[:, 1] >= skip.action_offsets[skip.samples[:, 0]]  # every other sample keeps its label
    np.testing.assert_array_equal(ta[kept], tb[kept])
    # scene state is read with the frames (an auxiliary target, never an input)
    assert whole.scene_obs.shape == (len(whole.frames), C.SCENE_OBS_DIM) and np.isfinite(whole.scene_obs).all()


def test_takeover_policy_acts_first_and_the_expert_recovers(tmp_path: Path) -> None:
    """DAgger-style recording with the shipped policy: its frames are play, the expert's a window."""
    out = tmp_path / "takeover"
    config = fast_config(out, chains=1, val_fraction=0.0, env_kwargs={}, takeover_policy="default",
                         takeover_steps=[6, 6])
    summary = generate_dataset(config, embed_fn=fake_embed)
    (rec,) = summary["records"]
    assert rec["error"] is None and len(rec["tasks"]) == 2 and rec["completed"] == rec["tasks"], rec
    assert rec["policy_steps"] == [6, 6]
    start = rec["segment"][0]
    windows = rec["windows"]
    # the first window starts when the expert takes over, after the policy's 6 frames
    assert windows[0][0] == start + 6
    # the second subtask starts on the first one's success frame; the policy acts there too
    assert windows[1][0] == windows[0][1] + 6
    assert [w[2] for w in windows] == rec["tasks"]
    lang = read_lang_annotations(out / "training")
    assert [tuple(map(int, ix)) for ix in lang.indx] == [(w[0], w[1]) for w in windows]
    # the policy's frames are recorded with images and CALVIN's action definition
    keys = (C.RGB_STATIC, C.ACTIONS, C.ROBOT_OBS)
    frame = read_frame(frame_path(out / "training", start + 2), keys)
    assert frame[C.RGB_STATIC].shape == (200, 200, 3)
    nxt = read_frame(frame_path(out / "training", start + 3), keys)
    np.testing.assert_allclose(frame[C.ACTIONS][:3], nxt[C.ROBOT_OBS][:3], atol=1e-6)
    assert json.loads((out / PROGRESS_FILE).read_text())["config"]["takeover_policy"] == "default"


def test_takeover_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="takeover_steps"):
        fast_config(tmp_path, takeover_steps=[20, 10])
    with pytest.raises(ValueError, match="takeover_steps"):
        fast_config(tmp_path, takeover_steps=[0, 150], takeover_policy="default")
    fast_config(tmp_path, max_steps=40)  # the default [10, 60] only matters with a policy


def test_a_second_writer_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    """A run whose folder another live process records into fails at once, naming the folder."""
    import fcntl

    from vla_agent.data.generate import LOCK_FILE

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / LOCK_FILE, "a+") as other:  # what a still-running worker process holds
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RuntimeError, match="another process is recording"):
            generate_dataset(fast_config(out, chains=1), embed_fn=fake_embed)
    assert not list(out.glob("training/episode_*.npz"))
    # once that process is gone the folder is free again
    summary = generate_dataset(fast_config(out, chains=1, chain_len=1, val_fraction=0.0), embed_fn=fake_embed)
    assert summary["chains"] == 1
