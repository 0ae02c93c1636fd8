"""End-to-end behaviour cloning on a tiny synthetic CALVIN-format dataset with a tiny real model.

The text encoder (MiniLM) is loaded once per process and its features are cached on disk, so only
the first run pays for it.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from vla_agent.commands import train as train_cmd
from vla_agent.policy import VLAPolicy
from vla_agent.training import TrainConfig, train
from vla_agent.training import checkpoint as ckpt
from vla_agent.training.distributed import parameter_digest
from vla_agent.training.metrics import read_metrics
from vla_agent.training.synthetic import write_synthetic_dataset

TINY_MODEL = {
    "d_model": 32, "n_heads": 2, "n_encoder_layers": 1, "n_decoder_layers": 1, "n_bins": 16, "chunk_size": 4,
    "n_action_steps": 4, "segmentation": {"image_size": 64, "width": 8, "fpn_channels": 16, "token_grid": 2},
}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("bc")
    data = write_synthetic_dataset(base / "data", episodes=4, frames_per_episode=12, val_episodes=1)
    return {"data": data, "cache": str(base / "cache"), "base": str(base)}


def config(env: dict[str, str], out: str, **kw) -> TrainConfig:
    args = {"data": env["data"], "out": os.path.join(env["base"], out), "cache_dir": env["cache"],
            "max_steps": 12, "batch_size": 8, "warmup_steps": 2, "log_every": 2, "eval_every": 4,
            "checkpoint_every": 4, "val_batches": 2, "model": dict(TINY_MODEL), "progress": False,
            "tensorboard": False}
    args.update(kw)
    return TrainConfig(**args)


def test_resume_equals_a_straight_run(env) -> None:
    straight = train(config(env, "straight"))
    first = train(config(env, "resumed", stop_at_step=6))  # 48 samples / 8 = 6 steps: one epoch
    assert first.step == 6 and first.policy_dir is None
    # data comes from the saved config; loader workers change how samples are read, not which
    second = train(config(env, "resumed", resume=True, data="", num_workers=2))
    assert second.step == 12
    assert second.parameter_digest == straight.parameter_digest
    a = ckpt.load_checkpoint(os.path.join(straight.run_dir, "checkpoints", "last.pt"))
    b = ckpt.load_checkpoint(os.path.join(second.run_dir, "checkpoints", "last.pt"))
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 12
    def rows(run: str) -> list[tuple]:  # every metric but the wall-clock throughput
        return [(r["step"], r["split"], r["loss"], r["action_loss"], r["plan_loss"], r["lr"], r["grad_norm"])
                for r in read_metrics(os.path.join(run, "metrics.csv"))]

    assert rows(straight.run_dir) == rows(second.run_dir)
    assert [r[:2] for r in rows(straight.run_dir)].count(("12", "val")) == 1 and len(rows(straight.run_dir)) == 9
    # the run's final policy loads and holds the trained weights
    policy = VLAPolicy.from_pretrained(straight.policy_dir)
    assert parameter_digest(policy.model) == straight.parameter_digest
    obs = {"rgb_static": np.zeros((200, 200, 3), np.uint8), "rgb_gripper": np.zeros((84, 84, 3), np.uint8),
           "robot_obs": np.zeros(15, np.float32)}
    action = policy.act(obs, "open the drawer")
    assert action.shape == (7,) and action.dtype == np.float32 and abs(action[6]) == 1.0


def test_run_folder_holds_config_metrics_plot_and_best_policy(env) -> None:
    r = train(config(env, "folder", max_steps=8, lr=3e-3))
    run = r.run_dir
    saved = json.load(open(os.path.join(run, "train_config.json")))
    assert saved["max_steps"] == 8 and saved["model"]["d_model"] == 32
    rows = read_metrics(os.path.join(run, "metrics.csv"))
    train_rows = [r for r in rows if r["split"] == "train"]
    assert [int(r["step"]) for r in train_rows] == [2, 4, 6, 8]
    assert float(train_rows[-1]["loss"]) < float(train_rows[0]["loss"])  # it learns
    assert all(float(r["samples_per_s"]) > 0 and float(r["lr"]) > 0 for r in train_rows)
    with open(os.path.join(run, "loss_curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    for name in ("last.pt", "best.pt", "step_00000004.pt", "step_00000008.pt"):
        assert os.path.isfile(os.path.join(run, "checkpoints", name)), name
    best = VLAPolicy.from_pretrained(os.path.join(run, "policy_best"))
    assert best.config.d_model == 32
    summary = json.load(open(os.path.join(run, "summary.json")))
    assert summary["finished"] and summary["seed"] == 0 and "torch" in summary["versions"]
    # the normalisation statistics of the data travel with the policy
    stats = VLAPolicy.from_pretrained(r.policy_dir).normalizer
    assert not np.allclose(stats.std, 1.0)
    # a saved policy is a starting point for more training
    tuned = train(config(env, "finetune", max_steps=2, eval_every=0, model={}, init_policy=r.policy_dir))
    assert tuned.parameter_digest != r.parameter_digest
    assert VLAPolicy.from_pretrained(tuned.policy_dir).config == VLAPolicy.from_pretrained(r.policy_dir).config
    with pytest.raises(ValueError, match="init_policy"):
        train(config(env, "finetune2", max_steps=2, init_policy=r.policy_dir))


def test_scene_state_auxiliary_loss_and_angle_normalisation(env) -> None:
    from vla_agent.policy.normalization import ANGLE_DIMS

    r = train(config(env, "scene", max_steps=8, lr=3e-3, eval_every=4,
                     model={**TINY_MODEL, "scene_weight": 1.0}))
    rows = read_metrics(os.path.join(r.run_dir, "metrics.csv"))
    train_rows = [float(x["scene_loss"]) for x in rows if x["split"] == "train"]
    val_rows = [float(x["scene_loss"]) for x in rows if x["split"] == "val"]
    assert len(train_rows) == 4 and len(val_rows) == 2 and np.isfinite(train_rows + val_rows).all()
    assert train_rows[-1] < train_rows[0]  # standardised targets: it starts near 1 and learns
    policy = VLAPolicy.from_pretrained(r.policy_dir)
    assert policy.model.scene_head is not None and policy.normalizer.angle_dims == ANGLE_DIMS
    plain = read_metrics(os.path.join(train(config(env, "noscene", max_steps=2, eval_every=0)).run_dir,
                                      "metrics.csv"))
    assert all(x["scene_loss"] == "" for x in plain)


def test_without_the_feature_cache_losses_match_the_cached_run(env) -> None:
    kw = {"max_steps": 2, "log_every": 1, "eval_every": 0, "cache_dtype": "float32",
          "model": {**TINY_MODEL, "dropout": 0.0}}
    cached = train(config(env, "cached", **kw))
    live = train(config(env, "live", feature_cache=False, **kw))
    la = [float(r["loss"]) for r in read_metrics(os.path.join(cached.run_dir, "metrics.csv")) if r["split"] == "train"]
    lb = [float(r["loss"]) for r in read_metrics(os.path.join(live.run_dir, "metrics.csv")) if r["split"] == "train"]
    np.testing.assert_allclose(la, lb, rtol=1e-4)


def test_existing_run_needs_resume_and_bad_values_are_named(env, capsys) -> None:
    done = train(config(env, "twice", max_steps=2, eval_every=0))
    with pytest.raises(ValueError, match="--resume"):
        train(config(env, "twice", max_steps=2))
    metrics = os.path.join(done.run_dir, "metrics.csv")
    before = open(metrics).read()
    again = train(config(env, "twice", resume=True))  # a finished run stays as it is
    assert again.step == 2 and again.parameter_digest == done.parameter_digest
    assert open(metrics).read() == before
    with pytest.raises(ValueError, match="TrainConfig.batch_size"):
        config(env, "x", batch_size=0)
    with pytest.raises(ValueError, match="TrainConfig.batch_size: expected at most"):
        train(config(env, "huge", batch_size=1000))
    with pytest.raises(FileNotFoundError, match="training/"):
        train(config(env, "nodata", data=env["base"] + "/missing"))
    with pytest.raises(ValueError, match="VLAConfig.d_model"):
        train(config(env, "badmodel", model={**TINY_MODEL, "d_model": 33}))


def test_command_line_trains_and_reports_errors(env, capsys) -> None:
    out = os.path.join(env["base"], "cli")
    argv = ["--data", env["data"], "--out", out, "--cache-dir", env["cache"], "--max-steps", "2",
            "--batch-size", "4", "--eval-every", "0", "--no-progress", "--no-tensorboard",
            "--model", "d_model=32", "--model", "n_heads=2", "--model", "n_encoder_layers=1",
            "--model", "n_decoder_layers=1", "--model", "n_bins=16", "--model", "chunk_size=4",
            "--model", "n_action_steps=4", "--model", json.dumps(TINY_MODEL["segmentation"]).join(
                ["segmentation=", ""])]
    assert train_cmd.main(argv) == 0
    assert "policy" in capsys.readouterr().out
    assert VLAPolicy.from_pretrained(os.path.join(out, "policy")).config.chunk_size == 4
    assert train_cmd.main(["--out", os.path.join(env["base"], "cli2"), "--no-progress"]) == 2
    assert "TrainConfig.data" in capsys.readouterr().err


def test_segmentation_fine_tuning_feeds_policy_training(env, tmp_path, capsys) -> None:
    from PIL import Image

    from envs.constants import ROBOSEG_ROBOT_COLOR
    from vla_agent.commands import train_segmentation
    from vla_agent.segmentation import SegmentationModel
    from vla_agent.training.features import feature_modules

    rng = np.random.default_rng(0)
    roboseg = tmp_path / "roboseg"
    roboseg.mkdir()
    for i in range(3):  # hand-made RoboSeg pairs: a robot-coloured rectangle in the mask
        img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        mask = np.zeros_like(img)
        mask[10 + i : 40, 20 : 50 - i] = ROBOSEG_ROBOT_COLOR
        img[mask.any(-1)] = (200, 60, 60)
        Image.fromarray(img).save(roboseg / f"{i}.png")
        Image.fromarray(mask).save(roboseg / f"{i}_mask.png")
    seg_dir = tmp_path / "seg"
    seg_args = ["--data", str(roboseg), "--out", str(seg_dir), "--iterations", "2", "--batch-size", "1",
                "--backend", "torchvision", "--no-progress", "--no-augment", "--warmup", "1"]
    for k, v in TINY_MODEL["segmentation"].items():
        seg_args += ["--set", f"{k}={v}"]
    assert train_segmentation.main(seg_args) == 0
    assert "train --segmentation-weights" in capsys.readouterr().out
    assert (seg_dir / "model.pth").is_file() and (seg_dir / "config.json").is_file()
    # extending the run resumes from its checkpoint (the saved config names the backend too)
    assert train_segmentation.main([*seg_args[:5], "3", *seg_args[6:]]) == 0
    assert "3 iterations" in capsys.readouterr().out
    assert train_segmentation.main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "o"),
                                    "--no-progress"]) == 2

    model = {k: v for k, v in TINY_MODEL.items() if k != "segmentation"}
    r = train(config(env, "with_seg", max_steps=2, eval_every=0, model=model,
                     segmentation_weights=str(seg_dir)))
    tuned = SegmentationModel(weight_directory=str(seg_dir))
    policy = VLAPolicy.from_pretrained(r.policy_dir)  # rebuilds the segmentation model from the config
    assert policy.config.segmentation["image_size"] == 64
    for a, b in zip(feature_modules(tuned), feature_modules(policy.segmentation), strict=True):
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert ka == kb and torch.equal(va, vb), ka
