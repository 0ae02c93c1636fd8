"""CALVIN's long-horizon evaluation chains: sampling, saving, loading (SPEC §5.2).

Each of the 192 symbolic initial states gets its share of the chains (``np.array_split``
order). For state ``i`` a ``RandomState(i)`` draws 5 distinct task names at a time and keeps a draw
when :func:`envs.symbolic.check_sequence` accepts it (every task matches exactly one rule in turn, no
category twice). The (state, chain) list is then shuffled with ``RandomState(0)``. With the default
arguments this reproduces CALVIN's 1000 chains exactly. Local generators are used throughout, so
numpy's global random state is never touched.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from envs import symbolic as S
from envs.constants import CHAIN_LEN, NUM_SEQUENCES, TASK_NAMES

Condition = dict[str, Any]
Chain = tuple[str, ...]
FORMAT = "vla_agent.sequences/v1"
FROZEN_FILE = "calvin_sequences_1000_seed0.json"
_DATA_PACKAGE = "evaluation.data"


# --- a fast checker: the sampler rejects most draws, so check_sequence runs ~10^5 times --------
def _compile() -> dict[str, list[tuple[tuple[tuple[int, frozenset], ...], tuple[tuple[int, Any], ...]]]]:
    pos = {k: i for i, k in enumerate(S.STATE_KEYS)}
    out = {}
    for task, rules in S.TASK_RULES.items():
        out[task] = [
            (tuple((pos[k], frozenset(v)) for k, v in r.condition.items()),
             tuple((pos[k], v) for k, v in r.effect.items()))
            for r in rules
        ]
    return out


_RULES = _compile()


def _fast_check(state: tuple[Any, ...], chain: Sequence[str]) -> bool:
    cats = {S.TASK_CATEGORIES[t] for t in chain}
    if len(cats) != len(chain):
        return False
    cur = state
    for task in chain:
        nxt = None
        for cond, effect in _RULES[task]:
            if all(cur[i] in allowed for i, allowed in cond):
                if nxt is not None:  # a second matching rule: ambiguous, CALVIN rejects the chain
                    return False
                lst = list(cur)
                for i, v in effect:
                    lst[i] = v
                nxt = tuple(lst)
        if nxt is None:
            return False
        cur = nxt
    return True


def _state_seed(index: int, seed: int, num_states: int) -> int:
    # seed 0 gives CALVIN's per-state seeds (the state's index)
    return index + seed * num_states


@functools.lru_cache(maxsize=8)
def _sample(num_sequences: int, seed: int) -> tuple[tuple[tuple[Any, ...], Chain], ...]:
    states = [tuple(s[k] for k in S.STATE_KEYS) for s in S.initial_conditions()]
    counts = [len(part) for part in np.array_split(np.arange(num_sequences), len(states))]
    names = list(TASK_NAMES)
    cats = [S.TASK_CATEGORIES[t] for t in names]
    base = np.arange(len(names))
    perm = base.copy()
    pairs: list[tuple[tuple[Any, ...], Chain]] = []
    for i, (state, count) in enumerate(zip(states, counts, strict=True)):
        rng = np.random.RandomState(_state_seed(i, seed, len(states)))
        found = 0
        while found < count:
            # == rng.permutation(34)[:5] (CALVIN's choice(..., replace=False)), without the allocation
            perm[:] = base
            rng.shuffle(perm)
            idx = perm[:CHAIN_LEN].tolist()
            # most draws repeat a category: reject them before building the chain
            if len({cats[j] for j in idx}) < CHAIN_LEN:
                continue
            chain = tuple(names[j] for j in idx)
            if _fast_check(state, chain):
                pairs.append((state, chain))
                found += 1
    np.random.RandomState(seed).shuffle(pairs)  # list shuffle, same draws as CALVIN's temp_seed(0)
    return tuple(pairs)


def _check_args(num_sequences: int, seed: int) -> None:
    if isinstance(num_sequences, bool) or not isinstance(num_sequences, (int, np.integer)) or num_sequences < 1:
        raise ValueError(f"num_sequences: expected a positive int, got {num_sequences!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")


def sample_sequences(num_sequences: int = NUM_SEQUENCES, seed: int = 0) -> list[tuple[Condition, Chain]]:
    """Sample the chains afresh (about 20 s for 1000 on one core: most draws are rejected).

    Same arguments and result as :func:`get_sequences`, which reads the frozen copy instead when
    it exists.
    """
    _check_args(num_sequences, seed)
    return [(dict(zip(S.STATE_KEYS, st, strict=True)), chain) for st, chain in _sample(int(num_sequences), int(seed))]


def get_sequences(num_sequences: int = NUM_SEQUENCES, seed: int = 0) -> list[tuple[Condition, Chain]]:
    """CALVIN's evaluation chains.

    The default list (1000 chains, seed 0) ships frozen as package data (``evaluation/data``),
    written by :func:`sample_sequences` and checked against it by the test suite; other
    arguments are sampled on demand (and cached in memory).

    Args:
        num_sequences: how many chains (CALVIN: 1000).
        seed: 0 reproduces CALVIN's list; other values give other, equally valid lists.

    Returns:
        ``[(initial condition dict, (5 task names)), ...]``, deterministic for given arguments.
    """
    _check_args(num_sequences, seed)
    if (int(num_sequences), int(seed)) == (NUM_SEQUENCES, 0):
        frozen = resources.files(_DATA_PACKAGE).joinpath(FROZEN_FILE)
        if frozen.is_file():
            with resources.as_file(frozen) as path:
                return load_sequences(path, validate=False)
    return sample_sequences(num_sequences, seed)


def save_sequences(
    sequences: Sequence[tuple[Mapping[str, Any], Sequence[str]]], path: str | os.PathLike[str], **meta: Any
) -> Path:
    """Write chains as JSON (atomically), with optional metadata (e.g. ``seed=0``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"format": FORMAT, **meta, "num_sequences": len(sequences)})
    # one chain per line: compact, yet diffs and greps stay readable
    lines = [json.dumps({"condition": S.canonical(c), "chain": list(chain)}) for c, chain in sequences]
    text = head[:-1] + ', "sequences": [\n' + ",\n".join(lines) + "\n]}\n"
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, p)
    return p


def load_sequences(path: str | os.PathLike[str], validate: bool = True) -> list[tuple[Condition, Chain]]:
    """Read chains written by :func:`save_sequences`, or a plain JSON list of ``[condition, chain]``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: malformed entries, unknown tasks, or (``validate``) chains CALVIN would reject.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"sequences file: no such file {str(p)!r}")
    doc = json.loads(p.read_text())
    entries = doc.get("sequences") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise ValueError(f"{p}: expected a list of sequences or {{'sequences': [...]}}, got {type(doc).__name__}")
    out: list[tuple[Condition, Chain]] = []
    for i, e in enumerate(entries):
        cond: Any
        chain: Any
        if isinstance(e, dict):
            cond, chain = e.get("condition"), e.get("chain")
        elif isinstance(e, (list, tuple)) and len(e) == 2:
            cond, chain = e
        else:
            raise ValueError(f"{p}: sequences[{i}]: expected {{condition, chain}} or [condition, chain], got {e!r}")
        try:
            S.validate_state(cond)
        except ValueError as err:
            raise ValueError(f"{p}: sequences[{i}].condition: {err}") from None
        if not isinstance(chain, (list, tuple)) or not 1 <= len(chain) <= CHAIN_LEN:
            raise ValueError(f"{p}: sequences[{i}].chain: expected 1..{CHAIN_LEN} task names, got {chain!r}")
        bad = [t for t in chain if t not in TASK_NAMES]
        if bad:
            raise ValueError(f"{p}: sequences[{i}].chain: unknown task names {bad}")
        if validate and not S.check_sequence(cond, chain):
            raise ValueError(f"{p}: sequences[{i}]: chain {list(chain)} is not valid from {cond}")
        out.append((S.canonical(cond), tuple(chain)))
    return out
