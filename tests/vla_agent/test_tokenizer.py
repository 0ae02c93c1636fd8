"""Action tokenizer: binning round trip, chunk layout with EOS/PAD, decoding grammar."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vla_agent.policy.tokenizer import ActionTokenizer


@pytest.fixture
def tok() -> ActionTokenizer:
    return ActionTokenizer(n_bins=64, chunk_size=3)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (5, 7), elements=st.floats(-1.0, 1.0)), st.sampled_from([2, 7, 64, 256]))
def test_round_trip_within_half_a_bin(actions: np.ndarray, n_bins: int) -> None:
    tok = ActionTokenizer(n_bins=n_bins, chunk_size=5)
    out = tok.decode_actions(tok.encode_actions(actions))
    assert out.dtype == np.float32
    assert np.abs(out[:, :6] - actions[:, :6]).max() <= tok.bin_width / 2 + 1e-6
    assert set(np.unique(out[:, 6])) <= {-1.0, 1.0}
    np.testing.assert_array_equal(out[:, 6], np.where(actions[:, 6] > 0, 1.0, -1.0))


def test_edges_and_clipping(tok: ActionTokenizer) -> None:
    a = np.array([[-1, 1, 0, -5, 5, 0.999999, 0.0]])
    t = tok.encode_actions(a)
    assert t[0, 0] == 0 and t[0, 1] == tok.n_bins - 1
    assert t[0, 3] == 0 and t[0, 4] == tok.n_bins - 1  # out of range is clipped to [-1, 1]
    assert t[0, 6] == tok.close_id  # 0 is not > 0: close, as CALVIN binarises


def test_chunk_layout(tok: ActionTokenizer) -> None:
    rng = np.random.default_rng(0)
    full = rng.uniform(-1, 1, (3, 7))
    t = tok.encode_chunk(full, ends_subtask=False)
    assert t.shape == (tok.sequence_length,) == (22,)
    assert t[-1] == tok.pad_id and (t[:21] < tok.bos_id).all()
    acts, ended = tok.decode_chunk(t)
    assert acts.shape == (3, 7) and not ended

    t = tok.encode_chunk(full[:1], ends_subtask=True)
    assert t[7] == tok.eos_id and (t[8:] == tok.pad_id).all()
    acts, ended = tok.decode_chunk(t)
    assert acts.shape == (1, 7) and ended

    t = tok.encode_chunk(full, ends_subtask=True)  # EOS right after a full chunk
    assert t[21] == tok.eos_id
    t = tok.encode_chunk(np.zeros((0, 7)), ends_subtask=True)  # already done
    assert t[0] == tok.eos_id
    acts, ended = tok.decode_chunk(t)
    assert acts.shape == (0, 7) and ended


def test_chunk_errors(tok: ActionTokenizer) -> None:
    with pytest.raises(ValueError, match="must end the subtask"):
        tok.encode_chunk(np.zeros((2, 7)), ends_subtask=False)
    with pytest.raises(ValueError, match="at most chunk_size"):
        tok.encode_chunk(np.zeros((4, 7)), ends_subtask=True)
    with pytest.raises(ValueError, match=r"shape \(N, 7\)"):
        tok.encode_actions(np.zeros((2, 6)))
    with pytest.raises(ValueError, match="finite"):
        tok.encode_actions(np.full((1, 7), np.nan))
    with pytest.raises(ValueError, match="gripper ids"):
        tok.decode_actions(np.zeros((1, 7), dtype=np.int64))
    with pytest.raises(ValueError, match="n_bins"):
        ActionTokenizer(1, 3)


def test_grammar(tok: ActionTokenizer) -> None:
    arm = tok.allowed_mask(1)
    assert arm[: tok.n_bins].all() and not arm[tok.n_bins:].any()
    grip = tok.allowed_mask(6)
    assert grip.sum() == 2 and grip[tok.open_id] and grip[tok.close_id]
    boundary = tok.allowed_mask(7)
    assert boundary[tok.eos_id] and boundary[: tok.n_bins].all()
    assert not tok.allowed_mask(7, allow_eos=False)[tok.eos_id]
    assert tok.allowed_mask(21).sum() == 1  # after a full chunk only EOS
    for p in range(tok.sequence_length):
        m = tok.allowed_mask(p)
        assert not m[tok.bos_id] and not m[tok.pad_id]
