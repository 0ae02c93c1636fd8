"""CALVIN's metrics on hand-made results."""

from __future__ import annotations

import pytest

from evaluation import avg_seq_len, bootstrap_ci, chain_success_rates, summarize, task_info


def test_success_rates_and_average_length() -> None:
    counts = [0, 1, 2, 5, 5]
    sr = chain_success_rates(counts)
    assert sr == {"1": 0.8, "2": 0.6, "3": 0.4, "4": 0.4, "5": 0.4}
    assert avg_seq_len(counts) == pytest.approx(2.6)
    assert avg_seq_len(counts) == pytest.approx(sum(sr.values()))  # Avg. Len. = sum of SR(k)


def test_task_info_counts_reached_subtasks_only() -> None:
    records = [
        {"chain": ["open_drawer", "turn_on_led", "stack_block"], "results": [True, False]},
        {"chain": ["open_drawer", "move_slider_left"], "results": [False]},
    ]
    info = task_info(records)
    assert info == {"open_drawer": {"success": 1, "total": 2}, "turn_on_led": {"success": 0, "total": 1}}
    assert list(info) == ["open_drawer", "turn_on_led"]  # CALVIN's task order


def test_bootstrap_interval() -> None:
    counts = [0, 1, 2, 3, 4, 5] * 20
    ci = bootstrap_ci(counts, n_boot=500, seed=3)
    lo, hi = ci["avg_seq_len"]
    assert lo < avg_seq_len(counts) < hi
    assert 2.0 < lo and hi < 3.0  # mean 2.5, sd 1.7, n 120: half-width about 0.3
    for k, (a, b) in ci["chain_sr"].items():
        assert 0.0 <= a <= chain_success_rates(counts)[k] <= b <= 1.0
    assert ci == bootstrap_ci(counts, n_boot=500, seed=3)  # seeded
    assert bootstrap_ci([2, 2, 2], n_boot=50)["avg_seq_len"] == [2.0, 2.0]


def test_summarize_has_calvins_fields() -> None:
    recs = [{"num_success": 1, "chain": ["open_drawer", "turn_on_led"], "results": [True, False]},
            {"num_success": 0, "chain": ["turn_on_led"], "results": [False]}]
    s = summarize(recs, n_boot=20)
    assert s["avg_seq_len"] == 0.5 and s["chain_sr"]["1"] == 0.5 and s["num_sequences"] == 2
    assert s["task_info"]["turn_on_led"] == {"success": 0, "total": 2}
    assert set(s["ci95"]) >= {"avg_seq_len", "chain_sr"}


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="num_success"):
        chain_success_rates([])
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        avg_seq_len([6])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci([1], n_boot=0)
