"""Learning-rate schedule and resumable sampler: pure functions of the step / epoch."""

from __future__ import annotations

import math

import pytest
import torch

from vla_agent.training.sampler import ResumableDistributedSampler
from vla_agent.training.schedule import make_scheduler, warmup_cosine


def test_warmup_rises_linearly_then_cosine_decays_to_floor() -> None:
    f = [warmup_cosine(s, warmup_steps=4, total_steps=20, min_ratio=0.1) for s in range(25)]
    assert f[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert f[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[4:], f[5:], strict=False))  # monotone decay
    assert f[12] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert f[20] == pytest.approx(0.1) and f[24] == pytest.approx(0.1)


def test_no_warmup_starts_at_peak() -> None:
    assert warmup_cosine(0, 0, 10, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(10, 0, 10, 0.0) == pytest.approx(0.0)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"step": -1}, "step"), ({"warmup_steps": -1}, "warmup_steps"), ({"total_steps": 0}, "total_steps"),
    ({"min_ratio": 1.5}, "min_ratio"),
])
def test_bad_schedule_arguments_name_the_field(kwargs: dict, field: str) -> None:
    args = {"step": 0, "warmup_steps": 2, "total_steps": 10, "min_ratio": 0.1, **kwargs}
    with pytest.raises(ValueError, match=field):
        warmup_cosine(**args)


def test_scheduler_state_round_trip_gives_the_same_learning_rates() -> None:
    def make() -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        return opt, make_scheduler(opt, 3, 10, 0.1)

    opt, sched = make()
    for _ in range(5):
        opt.step()
        sched.step()
    state = sched.state_dict()
    expected = []
    for _ in range(4):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr()[0])
    opt2, sched2 = make()
    sched2.load_state_dict(state)
    got = []
    for _ in range(4):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr()[0])
    assert got == expected


def test_sampler_start_skips_exactly_the_consumed_samples() -> None:
    data = list(range(23))
    full = ResumableDistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    full.set_epoch(2)
    order = list(full)
    resumed = ResumableDistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    resumed.set_epoch(2)
    resumed.set_start(8)
    assert list(resumed) == order[8:] and len(resumed) == 15
    resumed.set_epoch(3)  # a new epoch starts from its beginning
    assert len(list(resumed)) == 23
    other = ResumableDistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    other.set_epoch(3)
    assert list(other) != order  # epochs are reshuffled


def test_sampler_ranks_partition_an_epoch() -> None:
    data = list(range(20))
    parts = []
    for rank in range(2):
        s = ResumableDistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=0, drop_last=True)
        s.set_epoch(0)
        parts.append(list(s))
    assert sorted(parts[0] + parts[1]) == data
    with pytest.raises(ValueError, match="start"):
        s.set_start(-1)
