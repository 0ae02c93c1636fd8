"""``--policy PATH``: a saved (tiny, untrained) VLAPolicy checkpoint runs through the runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation import EnvFactory, PretrainedPolicyFactory, evaluate_long_horizon, policy_factory_from_spec


def save_tiny_checkpoint(path: Path) -> Path:
    torch = pytest.importorskip("torch")
    from vla_agent.language import TextEncoder
    from vla_agent.policy import VLAPolicy
    from vla_agent.segmentation import SegmentationModel

    torch.manual_seed(0)
    seg = SegmentationModel(backend="torchvision", image_size=32, width=8, fpn_channels=16, token_grid=2)
    policy = VLAPolicy.create(seg, text_encoder=TextEncoder(max_length=8), d_model=32, n_heads=4,
                              n_encoder_layers=1, n_decoder_layers=1, mlp_ratio=2, dropout=0.0, n_bins=32,
                              chunk_size=3, n_action_steps=3, text_max_length=8, static_size=200, gripper_size=84)
    policy.save_pretrained(path)
    return path


@pytest.mark.slow
def test_checkpoint_policy_runs_a_chain(tmp_path: Path) -> None:
    ckpt = save_tiny_checkpoint(tmp_path / "ckpt")
    factory = policy_factory_from_spec(str(ckpt))
    assert isinstance(factory, PretrainedPolicyFactory)
    res = evaluate_long_horizon(factory, EnvFactory(), num_sequences=1, max_steps=3, out_dir=tmp_path / "out",
                                progress=False, n_boot=10)
    assert res["num_sequences"] == 1 and str(ckpt.resolve()) in res["provenance"]["policy"]


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="policy"):
        policy_factory_from_spec(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="nope"):
        PretrainedPolicyFactory(str(tmp_path / "nope"))()


def test_temperature_overrides_the_checkpoint_and_names_the_run(tmp_path: Path) -> None:
    ckpt = save_tiny_checkpoint(tmp_path / "ckpt")
    plain = policy_factory_from_spec(str(ckpt))
    hot = policy_factory_from_spec(str(ckpt), temperature=0.7)
    assert plain().temperature == 0.0  # the checkpoint's own (greedy)
    assert hot().temperature == 0.7
    assert plain.describe().endswith("ckpt)") and hot.describe().endswith("ckpt, temperature=0.7)")  # resumes
    with pytest.raises(ValueError, match="checkpoint policies"):
        policy_factory_from_spec("random", temperature=1.0)
    with pytest.raises(ValueError, match="temperature.*-1"):
        policy_factory_from_spec(str(ckpt), temperature=-1.0)
