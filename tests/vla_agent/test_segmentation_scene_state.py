"""Auxiliary scene-state supervision of the segmentation tokens, on frames rendered by the play table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from envs import constants as C
from vla_agent.data.generate import GenerateConfig, generate_dataset
from vla_agent.segmentation import SegmentationModel, render_roboseg_samples
from vla_agent.segmentation.scene_state import (
    GRIPPER_TARGETS,
    STATIC_TARGETS,
    SceneFrames,
    build_head,
    gripper_targets,
    static_targets,
)

pytest.importorskip("pybullet")
SIZE = 64


def fake_embed(sentences):
    return np.zeros((len(sentences), C.LANG_EMB_DIM), np.float32)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scene_state")
    render_roboseg_samples(root / "roboseg", 4, seed=2, size=SIZE)
    cfg = GenerateConfig(out=str(root / "data"), chains=2, chain_len=1, seed=4, val_fraction=0.5, max_steps=40,
                         tasks=["open_drawer", "move_slider_left"], progress=False)
    generate_dataset(cfg, embed_fn=fake_embed)  # real renders, real scene_obs (chains need not succeed)
    return {"roboseg": root / "roboseg", "data": root / "data", "root": root}


def test_targets_follow_the_scene_layout() -> None:
    scene = np.zeros((1, C.SCENE_OBS_DIM), np.float32)
    scene[0, 0], scene[0, 1], scene[0, 5] = 0.1, 0.2, 1.0  # slider, drawer, led
    scene[0, 6:9] = (0.05, -0.1, 0.46)  # red block xyz
    scene[0, 11] = np.pi / 2  # red block yaw
    robot = np.zeros((1, C.ROBOT_OBS_DIM), np.float32)
    robot[0, :3] = (0.05, -0.1, 0.66)
    st = static_targets(scene)
    assert st.shape == (1, STATIC_TARGETS)
    np.testing.assert_allclose(st[0, :5], [0.1, 0.2, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(st[0, 5:10], [0.05, -0.1, 0.46, 1.0, 0.0], atol=1e-6)
    gr = gripper_targets(scene, robot)
    assert gr.shape == (1, GRIPPER_TARGETS)
    np.testing.assert_allclose(gr[0, :3], [0.0, 0.0, -0.2], atol=1e-6)
    assert gr[0, 3:].min() >= -0.3 and gr[0, 3:].max() <= 0.3  # far blocks are clipped


def test_scene_loss_trains_the_tokens_and_reports(dirs: dict[str, Path]) -> None:
    torch.manual_seed(0)
    seg = SegmentationModel(backend="torchvision", image_size=SIZE)
    out = dirs["root"] / "run"
    res = seg.fine_tune(dirs["roboseg"], out, iterations=30, batch_size=2, lr=2e-3, warmup=2, seed=0,
                        progress=False, augment=False, scene_data=dirs["data"], scene_batch_size=8, seg_every=5,
                        checkpoint_every=10)
    scene_losses = [h["loss_scene_state"] for h in res["history"]]
    assert len(scene_losses) == 30
    assert np.mean(scene_losses[-5:]) < 0.5 * np.mean(scene_losses[:5])
    # Mask R-CNN terms only on every 5th step
    assert sum("loss_mask" in h for h in res["history"]) == 6
    report = json.loads((out / "scene_state.json").read_text())
    assert report == res["scene_state"] and report["split"].endswith("validation")
    assert all(np.isfinite(v) for k, v in report.items() if k != "split")
    assert (out / "scene_head.pt").is_file() and (out / "model.pth").is_file()
    # the head's buffers travel in the checkpoint: a scene run refuses to resume a plain one
    plain = dirs["root"] / "plain"
    SegmentationModel(backend="torchvision", image_size=SIZE).fine_tune(
        dirs["roboseg"], plain, iterations=1, batch_size=1, progress=False, augment=False)
    with pytest.raises(ValueError, match="scene_data"):
        SegmentationModel(backend="torchvision", image_size=SIZE).fine_tune(
            dirs["roboseg"], plain, iterations=2, batch_size=1, progress=False, augment=False,
            scene_data=dirs["data"])


def test_head_statistics_and_frames(dirs: dict[str, Path]) -> None:
    frames = SceneFrames(dirs["data"] / "training", max_frames=10)
    assert len(frames) == 10
    b = frames.batch(np.arange(3))
    assert b[C.RGB_STATIC].shape == (3, C.STATIC_SIZE, C.STATIC_SIZE, 3)
    assert b["static"].shape == (3, STATIC_TARGETS) and b["gripper"].shape == (3, GRIPPER_TARGETS)
    seg = SegmentationModel(backend="torchvision", image_size=SIZE)
    head = build_head(seg, frames)
    z = head.standardise(b, torch.device("cpu"))["static"]
    torch.testing.assert_close(head.unstandardise("static", z), torch.as_tensor(b["static"]))
    with pytest.raises(FileNotFoundError):
        SceneFrames(dirs["root"] / "missing")
