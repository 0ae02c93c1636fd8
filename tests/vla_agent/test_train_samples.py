"""Training samples: action chunks with EOS at the end of a subtask, split index, dataset items."""

from __future__ import annotations

import numpy as np
import pytest

from envs.constants import ACTION_DIM, LANG_EMB_DIM, ROBOT_OBS_DIM
from vla_agent.policy import ActionTokenizer, Normalizer
from vla_agent.training.dataset import SENTENCE_ID, BCDataset
from vla_agent.training.feature_cache import FeatureStore
from vla_agent.training.samples import build_split_index, chunk_for_start
from vla_agent.training.synthetic import write_synthetic_dataset

T, K = 16, 4


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    return write_synthetic_dataset(tmp_path_factory.mktemp("bc") / "data", episodes=3, frames_per_episode=T,
                                   val_episodes=1)


def test_chunk_ends_the_subtask_only_at_the_window_end() -> None:
    acts = np.arange(T * ACTION_DIM, dtype=np.float32).reshape(T, ACTION_DIM)
    chunk, ends = chunk_for_start(acts, 0, K)
    assert chunk.shape == (K, ACTION_DIM) and not ends
    chunk, ends = chunk_for_start(acts, T - K - 1, K)
    assert chunk.shape == (K, ACTION_DIM) and not ends
    chunk, ends = chunk_for_start(acts, T - K, K)  # the last K actions: EOS right after them
    assert chunk.shape == (K, ACTION_DIM) and ends
    chunk, ends = chunk_for_start(acts, T - 1, K)
    np.testing.assert_array_equal(chunk, acts[-1:])
    assert ends
    with pytest.raises(ValueError, match="t: expected 0 <= t < 16"):
        chunk_for_start(acts, T, K)


def test_split_index_reads_windows_and_lowdim_arrays(data_root, tmp_path) -> None:
    store = FeatureStore(tmp_path, "lowdim")
    index = build_split_index(f"{data_root}/training", store=store)
    assert index.num_windows == 3 and len(index) == 3 * T
    assert index.rel_actions.shape == (3 * T, ACTION_DIM) and index.robot_obs.shape == (3 * T, ROBOT_OBS_DIM)
    assert index.plan_targets.shape == (3, LANG_EMB_DIM)
    assert len(store) == 1
    again = build_split_index(f"{data_root}/training", store=store)  # from the cache now
    np.testing.assert_array_equal(again.rel_actions, index.rel_actions)
    assert store.hits == 1
    small = build_split_index(f"{data_root}/training", max_windows=1)
    assert small.num_windows == 1 and len(small) == T


def test_dataset_items_carry_eos_exactly_at_the_end_of_each_window(data_root) -> None:
    index = build_split_index(f"{data_root}/training")
    tok = ActionTokenizer(n_bins=16, chunk_size=K)
    norm = Normalizer(index.robot_obs.mean(0), index.robot_obs.std(0))
    ds = BCDataset(index, tok.encode_chunk, norm.normalize, K)
    assert len(ds) == 3 * T
    for i in range(T):  # the first window
        item = ds[i]
        toks = item["action_tokens"]
        assert toks.shape == (tok.sequence_length,)
        eos = np.flatnonzero(toks == tok.eos_id)
        if i + K >= T:
            assert eos.tolist() == [ACTION_DIM * min(K, T - i)]
        else:
            # a full chunk that does not end the subtask: only the spare EOS slot is padding
            assert eos.size == 0 and np.flatnonzero(toks == tok.pad_id).tolist() == [ACTION_DIM * K]
        chunk, _ = tok.decode_chunk(toks)
        expected = index.rel_actions[i : i + len(chunk), :6]
        np.testing.assert_allclose(chunk[:, :6], expected, atol=tok.bin_width / 2)
    item = ds[T + 2]
    assert item["rgb_static"].shape == (200, 200, 3) and item["rgb_gripper"].shape == (84, 84, 3)
    assert int(item[SENTENCE_ID]) == int(index.sentence_ids[1])
    np.testing.assert_allclose(item["robot_obs"], norm.normalize(index.robot_obs[T + 2]))
    np.testing.assert_array_equal(item["plan_target"], index.plan_targets[1])


def test_missing_annotations_and_frames_are_named(data_root, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="auto_lang_ann.npy"):
        build_split_index(tmp_path)
    import shutil

    broken = tmp_path / "training"
    shutil.copytree(f"{data_root}/training", broken)
    victim = sorted(broken.glob("episode_*.npz"))[5]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.name):
        build_split_index(broken)
