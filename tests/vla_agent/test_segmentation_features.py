"""The image-token contract the policy codes against: shapes, dtypes, determinism, grad, freezing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vla_agent.segmentation import SegmentationModel


@pytest.fixture(scope="module")
def seg() -> SegmentationModel:
    torch.manual_seed(0)
    return SegmentationModel(backend="torchvision", image_size=64)


def test_features_shapes_for_every_input_form(seg: SegmentationModel) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)
    batch = rng.integers(0, 256, (3, 84, 84, 3), dtype=np.uint8)
    t1 = seg.features(img)
    tb = seg.features(batch)
    tf = seg.features(torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255.0)
    tu = seg.features(torch.from_numpy(batch))
    assert t1.shape == (1, seg.num_tokens(50, 50), seg.feature_dim)
    assert tb.shape == (3, seg.num_tokens(84, 84), seg.feature_dim)
    assert seg.num_tokens(200, 200) == seg.config.token_grid**2
    for t in (t1, tb, tf, tu):
        assert t.dtype == torch.float32 and torch.isfinite(t).all()
    torch.testing.assert_close(tb, tf)
    torch.testing.assert_close(tb, tu)
    # batching does not change a sample's tokens, and calls are deterministic
    torch.testing.assert_close(seg.features(batch[1]), tb[1:2], rtol=1e-4, atol=1e-5)
    assert torch.equal(seg.features(batch), seg.features(batch))
    # different images give different tokens
    assert not torch.allclose(tb[0], tb[1])


def test_features_grad_follows_requires_grad(seg: SegmentationModel) -> None:
    x = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    mods = seg.feature_modules()
    assert isinstance(mods, torch.nn.Module)
    assert sum(p.numel() for p in mods.parameters()) > 0
    tok = seg.features(x)
    assert tok.requires_grad  # trainable by default: the policy may fine-tune it
    tok.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in mods.parameters())
    mods.zero_grad(set_to_none=True)
    try:
        for p in mods.parameters():
            p.requires_grad_(False)
        assert not seg.features(x).requires_grad
    finally:
        for p in mods.parameters():
            p.requires_grad_(True)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 32, 32, 3), np.float32),  # float numpy
        np.zeros((32, 32), np.uint8),  # no channels
        np.zeros((2, 32, 32, 4), np.uint8),  # RGBA
        torch.zeros(2, 32, 32, 3),  # float channel-last
        torch.full((1, 3, 32, 32), 255.0),  # float not in [0, 1]
        torch.full((1, 3, 32, 32), float("nan")),
        [np.zeros((32, 32, 3), np.uint8)],  # a list
    ],
)
def test_features_bad_input_raises_value_error(seg: SegmentationModel, bad: object) -> None:
    with pytest.raises(ValueError, match="images"):
        seg.features(bad)  # type: ignore[arg-type]
