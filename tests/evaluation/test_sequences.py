"""CALVIN's chain sampler: validity, coverage, determinism, the frozen default list, JSON files."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from envs import symbolic as S
from envs.constants import TASK_NAMES
from evaluation import get_sequences, load_sequences, sample_sequences, save_sequences

# sha256 of json.dumps([[condition, list(chain)], ...]) for CALVIN's own sampler run (1000, seed 0)
CALVIN_1000_SHA256 = "840cb992c69ce9b6d59f6020966b6300c15233f8e0b9667b6486c1962424d308"
FIRST_CHAIN = (  # quoted by CALVIN's maintainer (SPEC §5.2)
    {"led": 1, "lightbulb": 1, "slider": "left", "drawer": "open", "red_block": "slider_left",
     "blue_block": "table", "pink_block": "slider_right", "grasped": 0},
    ("rotate_blue_block_right", "move_slider_right", "lift_red_block_slider", "place_in_slider",
     "turn_off_lightbulb"),
)


@pytest.fixture(scope="module")
def default_sequences() -> list:
    return get_sequences()


def test_default_list_is_calvins(default_sequences: list) -> None:
    assert len(default_sequences) == 1000
    assert default_sequences[0] == FIRST_CHAIN
    text = json.dumps([[c, list(ch)] for c, ch in default_sequences])
    assert hashlib.sha256(text.encode()).hexdigest() == CALVIN_1000_SHA256


def test_chains_are_valid_and_cover_all_tasks(default_sequences: list) -> None:
    initial = {tuple(s.values()) for s in S.initial_conditions()}
    per_state: Counter = Counter()
    tasks: Counter = Counter()
    for cond, chain in default_sequences:
        assert tuple(cond[k] for k in S.STATE_KEYS) in initial
        assert len(chain) == 5 and len(set(chain)) == 5
        cats = [S.TASK_CATEGORIES[t] for t in chain]
        assert len(set(cats)) == 5, f"category repeated in {chain}"
        assert S.check_sequence(cond, chain)
        state = cond
        for t in chain:  # exactly one rule at every step
            assert len(S.matching_rules(t, state)) == 1
            state = S.apply_effect(t, state)
        per_state[tuple(cond.values())] += 1
        tasks.update(chain)
    assert set(tasks) == set(TASK_NAMES)
    assert sorted(Counter(per_state.values()).items()) == [(5, 152), (6, 40)]  # np.array_split of 1000 over 192


def test_sampling_is_deterministic_and_leaves_global_rng_alone() -> None:
    # the global legacy generator is what CALVIN's own code would have disturbed
    np.random.seed(123)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = sample_sequences(8, seed=0)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert a == sample_sequences(8, seed=0)
    for cond, chain in a:
        assert S.check_sequence(cond, chain)
    b = sample_sequences(8, seed=1)
    assert a != b and all(S.check_sequence(c, ch) for c, ch in b)


@pytest.mark.slow
def test_frozen_list_equals_fresh_sampling(default_sequences: list) -> None:
    assert sample_sequences(1000, seed=0) == default_sequences


def test_json_round_trip(tmp_path: Path, default_sequences: list) -> None:
    path = save_sequences(default_sequences[:50], tmp_path / "seqs.json", seed=0)
    assert load_sequences(path) == default_sequences[:50]
    doc = json.loads(path.read_text())
    assert doc["num_sequences"] == 50 and doc["seed"] == 0
    plain = tmp_path / "plain.json"  # a bare [[condition, chain], ...] list, as other projects freeze it
    plain.write_text(json.dumps([[c, list(ch)] for c, ch in default_sequences[:3]]))
    assert load_sequences(plain) == default_sequences[:3]


def test_bad_files_and_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_sequences(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([[FIRST_CHAIN[0], ["open_drawer"]]]))  # drawer already open
    with pytest.raises(ValueError, match=r"sequences\[0\]"):
        load_sequences(bad)
    assert len(load_sequences(bad, validate=False)) == 1
    bad.write_text(json.dumps([[FIRST_CHAIN[0], ["fly"]]]))
    with pytest.raises(ValueError, match="fly"):
        load_sequences(bad)
    with pytest.raises(ValueError, match="num_sequences"):
        get_sequences(0)
    with pytest.raises(ValueError, match="seed"):
        get_sequences(10, seed=-1)
