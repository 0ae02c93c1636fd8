"""Feature cache: keys follow content and weights, entries are exact, each frame is computed once."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from vla_agent.policy import VLAConfig, VLAPolicy
from vla_agent.segmentation import SegmentationModel
from vla_agent.training.feature_cache import FeatureStore, file_fingerprint, module_fingerprint, sha256_of
from vla_agent.training.features import fill_image_cache, image_fingerprint, image_keys
from vla_agent.training.samples import build_split_index
from vla_agent.training.synthetic import write_synthetic_dataset

TINY_SEG = {"image_size": 64, "width": 8, "fpn_channels": 16, "token_grid": 2}


def tiny_policy(seed: int = 0) -> VLAPolicy:
    torch.manual_seed(seed)  # the segmentation model initialises from the global generator
    seg = SegmentationModel(backend="torchvision", **TINY_SEG)
    n = seg.num_tokens(1, 1)
    config = VLAConfig(d_model=32, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, n_bins=16, chunk_size=4,
                       n_action_steps=4, image_feature_dim=seg.feature_dim, num_static_tokens=n,
                       num_gripper_tokens=n, segmentation=seg.config.to_dict())
    return VLAPolicy(config, segmentation=seg)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = write_synthetic_dataset(tmp_path_factory.mktemp("cache") / "data", episodes=2,
                                   frames_per_episode=6, val_episodes=0)
    return build_split_index(f"{root}/training")


def test_store_round_trip_and_damaged_entries(tmp_path) -> None:
    store = FeatureStore(tmp_path, "ns")
    key = sha256_of("x")
    assert store.get(key) is None and key not in store
    arr = np.arange(12, dtype=np.float16).reshape(3, 4)
    store.put(key, arr)
    np.testing.assert_array_equal(store.get(key), arr)
    assert store.get(key).dtype == np.float16 and len(store) == 1
    with open(store.path(key), "wb") as f:
        f.write(b"\x93NUMPY garbage")  # a damaged entry is a miss, recomputed by the caller
    assert store.get(key) is None
    with pytest.raises(ValueError, match="key"):
        store.path("../../etc/passwd")
    with pytest.raises(ValueError, match="namespace"):
        FeatureStore(tmp_path, "")


def test_file_fingerprint_follows_rewrites(tmp_path) -> None:
    p = tmp_path / "episode_0000000.npz"
    p.write_bytes(b"a" * 10)
    first = file_fingerprint(p)
    assert file_fingerprint(p) == first
    p.write_bytes(b"b" * 11)
    assert file_fingerprint(p) != first
    st = os.stat(p)
    before = file_fingerprint(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert file_fingerprint(p) != before
    # a hard link (how merged datasets hold their shards' frames) is the same file
    link = tmp_path / "merged_episode_0000000.npz"
    os.link(p, link)
    assert file_fingerprint(link) == file_fingerprint(p)
    # an atomic rewrite (temporary file renamed onto the path) is a new file, even with equal bytes
    tmp = tmp_path / "tmp.npz"
    tmp.write_bytes(p.read_bytes())
    os.utime(tmp, ns=(os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns))
    before = file_fingerprint(p)
    os.replace(tmp, p)
    assert file_fingerprint(p) != before


def test_module_fingerprint_follows_weights_and_settings() -> None:
    torch.manual_seed(0)
    a = torch.nn.Linear(3, 2)
    b = torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert module_fingerprint(a, {"size": 1}) == module_fingerprint(b, {"size": 1})
    assert module_fingerprint(a, {"size": 1}) != module_fingerprint(a, {"size": 2})
    with torch.no_grad():
        b.weight[0, 0] += 1e-6
    assert module_fingerprint(a, {"size": 1}) != module_fingerprint(b, {"size": 1})


def test_image_cache_is_filled_once_and_equals_live_features(index, tmp_path) -> None:
    policy = tiny_policy()
    fp = image_fingerprint(policy)
    store = FeatureStore(tmp_path, "image-" + fp[:16])
    keys = image_keys(index, fp)
    n = len(index.frames)
    # two "ranks" share the work: each computes its half, nothing twice
    kw = {"batch_size": 4, "dtype": "float32"}
    assert fill_image_cache(policy, index, store, keys, rank=1, world_size=2, **kw) == n // 2
    assert fill_image_cache(policy, index, store, keys, **kw) == n - n // 2  # rank 0 did not run
    assert fill_image_cache(policy, index, store, keys, **kw) == 0
    from vla_agent.data import read_frame
    from vla_agent.data.format import frame_path

    fr = read_frame(frame_path(index.split_dir, int(index.frames[3])), ("rgb_static", "rgb_gripper"))
    with torch.no_grad():
        live = policy.image_tokens(fr["rgb_static"][None], fr["rgb_gripper"][None])[0].numpy()
    assert live.shape == (policy.config.num_image_tokens, policy.config.image_feature_dim)
    # batched convolutions round differently from single ones, hence the small tolerance
    np.testing.assert_allclose(store.get(keys[3]), live, rtol=1e-4, atol=1e-4)


def test_new_weights_or_settings_never_reuse_old_features() -> None:
    p0, p1 = tiny_policy(0), tiny_policy(1)
    assert image_fingerprint(p0) == image_fingerprint(tiny_policy(0))
    assert image_fingerprint(p0) != image_fingerprint(p1)
    p2 = tiny_policy(0)
    p2.config.static_size = 128  # a different input size gives different tokens
    assert image_fingerprint(p2) != image_fingerprint(p0)
