"""CALVIN's symbolic world: states, task preconditions and effects, evaluation start states.

CALVIN's long-horizon benchmark does not sample scenes directly. It reasons over a small symbolic
state (lights, doors, where each block is) and a table of precondition -> effect rules, one list of
rules per task; a chain of tasks is valid when, applied in turn from the initial state, every task
matches exactly one rule (SPEC §5.2). The start scene of a chain is then built from the symbolic
state with fixed block spots (SPEC §3.4). This module re-implements those facts in plain Python and
numpy, without any simulator.

Symbolic state (a ``dict``):

======================  ===================================================================
key                     values
======================  ===================================================================
``led``, ``lightbulb``  0 / 1
``slider``              ``"left"`` / ``"right"`` (where the sliding door is)
``drawer``              ``"open"`` / ``"closed"``
``red_block`` …         ``"table"``, ``"slider_left"``, ``"slider_right"``, ``"drawer"``,
                        ``"stacked_top"``, ``"stacked_bottom"``, ``"grasped"``
``grasped``             0 / 1 (whether the robot holds a block)
======================  ===================================================================

Door semantics follow CALVIN's rule table: a block in ``slider_left`` can be lifted only when the
door is at the ``right`` (the door covers the slot on its own side), and ``place_in_slider``
sends the block to the slot named after the door position. The latter is CALVIN's symbolic effect
as written; it is kept unchanged so that the sampled chains match CALVIN's.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs import constants as C

# --- vocabulary ---------------------------------------------------------------------------------
STATE_KEYS: tuple[str, ...] = (
    "led", "lightbulb", "slider", "drawer", "red_block", "blue_block", "pink_block", "grasped",
)
BLOCK_KEYS: tuple[str, ...] = tuple(f"{c}_block" for c in C.BLOCK_COLORS)
BLOCK_LOCATIONS: tuple[str, ...] = (
    "table", "slider_left", "slider_right", "drawer", "stacked_top", "stacked_bottom", "grasped",
)
STATE_VALUES: dict[str, tuple[Any, ...]] = {
    "led": (0, 1),
    "lightbulb": (0, 1),
    "slider": ("right", "left"),
    "drawer": ("closed", "open"),
    **{b: BLOCK_LOCATIONS for b in BLOCK_KEYS},
    "grasped": (0, 1),
}
SLIDER_SLOTS: tuple[str, ...] = ("slider_left", "slider_right")

# CALVIN's 11 task categories: a chain never holds two tasks of one category (SPEC §5.2).
TASK_CATEGORIES: dict[str, int] = {
    **{f"rotate_{c}_block_{d}": 1 for c in C.BLOCK_COLORS for d in ("right", "left")},
    **{f"push_{c}_block_{d}": 1 for c in C.BLOCK_COLORS for d in ("right", "left")},
    "move_slider_left": 2, "move_slider_right": 2,
    "open_drawer": 3, "close_drawer": 3,
    **{f"lift_{c}_block_table": 4 for c in C.BLOCK_COLORS},
    **{f"lift_{c}_block_slider": 5 for c in C.BLOCK_COLORS},
    **{f"lift_{c}_block_drawer": 6 for c in C.BLOCK_COLORS},
    "place_in_slider": 7, "place_in_drawer": 7,
    "turn_on_lightbulb": 8, "turn_off_lightbulb": 8, "turn_on_led": 8, "turn_off_led": 8,
    "push_into_drawer": 9,
    "stack_block": 10,
    "unstack_block": 11,
}


@dataclass(frozen=True)
class Rule:
    """One precondition -> effect rule.

    Attributes:
        condition: state key -> the values it may take for the rule to apply.
        effect: state key -> its new value once the task is done.
    """

    condition: Mapping[str, tuple[Any, ...]]
    effect: Mapping[str, Any]

    def matches(self, state: Mapping[str, Any]) -> bool:
        """Whether every condition entry holds in ``state``."""
        return all(state[k] in allowed for k, allowed in self.condition.items())

    def apply(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """A new state: ``state`` with the effect written over it."""
        return {**state, **self.effect}


def _rule(condition: Mapping[str, Any], effect: Mapping[str, Any]) -> Rule:
    # Single values become one-element tuples so that matching is always "value in allowed".
    cond = {k: (tuple(v) if isinstance(v, (list, tuple)) else (v,)) for k, v in condition.items()}
    return Rule(condition=cond, effect=dict(effect))


def _build_rules() -> dict[str, tuple[Rule, ...]]:
    """The rule table, in :data:`envs.constants.TASK_NAMES` order."""
    free = {"grasped": 0}  # every task but place/stack needs an empty gripper
    rules: dict[str, list[Rule]] = {name: [] for name in C.TASK_NAMES}
    for c in C.BLOCK_COLORS:
        b = f"{c}_block"
        others = [o for o in BLOCK_KEYS if o != b]
        for d in ("right", "left"):
            # rotating or pushing leaves the block on the table
            rules[f"rotate_{b}_{d}"].append(_rule({b: "table", **free}, {}))
            rules[f"push_{b}_{d}"].append(_rule({b: "table", **free}, {}))
        rules[f"lift_{b}_table"].append(_rule({b: "table", **free}, {b: "grasped", "grasped": 1}))
        # the door covers the slot on its own side, so the other slot is reachable
        rules[f"lift_{b}_slider"].append(
            _rule({b: "slider_left", "slider": "right", **free}, {b: "grasped", "grasped": 1}))
        rules[f"lift_{b}_slider"].append(
            _rule({b: "slider_right", "slider": "left", **free}, {b: "grasped", "grasped": 1}))
        rules[f"lift_{b}_drawer"].append(
            _rule({b: "drawer", "drawer": "open", **free}, {b: "grasped", "grasped": 1}))
        for side in ("right", "left"):
            rules["place_in_slider"].append(
                _rule({b: "grasped", "slider": side, "grasped": 1}, {b: f"slider_{side}", "grasped": 0}))
        rules["place_in_drawer"].append(
            _rule({b: "grasped", "drawer": "open", "grasped": 1}, {b: "drawer", "grasped": 0}))
        for o in others:
            rules["stack_block"].append(
                _rule({b: "grasped", o: "table", "grasped": 1},
                      {b: "stacked_top", o: "stacked_bottom", "grasped": 0}))
            rules["unstack_block"].append(
                _rule({b: "stacked_top", o: "stacked_bottom", **free}, {b: "table", o: "table"}))
        # pushing into the drawer is only asked when the block is the only one on the table
        rules["push_into_drawer"].append(
            _rule({b: "table", **{o: SLIDER_SLOTS for o in others}, "drawer": "open", **free},
                  {b: "drawer", "grasped": 0}))
    rules["move_slider_left"].append(_rule({"slider": "right", **free}, {"slider": "left"}))
    rules["move_slider_right"].append(_rule({"slider": "left", **free}, {"slider": "right"}))
    rules["open_drawer"].append(_rule({"drawer": "closed", **free}, {"drawer": "open"}))
    rules["close_drawer"].append(_rule({"drawer": "open", **free}, {"drawer": "closed"}))
    for light in ("lightbulb", "led"):
        rules[f"turn_on_{light}"].append(_rule({light: 0, **free}, {light: 1}))
        rules[f"turn_off_{light}"].append(_rule({light: 1, **free}, {light: 0}))
    return {name: tuple(r) for name, r in rules.items()}


TASK_RULES: dict[str, tuple[Rule, ...]] = _build_rules()
assert set(TASK_RULES) == set(TASK_CATEGORIES) == set(C.TASK_NAMES)


# --- validation ---------------------------------------------------------------------------------
def _check_task(task: str) -> None:
    if task not in TASK_RULES:
        raise ValueError(f"task: expected one of CALVIN's 34 task names, got {task!r}")


def validate_state(state: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``state`` has every symbolic key with an allowed value."""
    if not isinstance(state, Mapping):
        raise ValueError(f"state: expected a mapping with keys {STATE_KEYS}, got {type(state).__name__}")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"state: missing keys {missing}; expected keys {STATE_KEYS}, got {sorted(state)}")
    for k in STATE_KEYS:
        if state[k] not in STATE_VALUES[k]:
            raise ValueError(f"state[{k!r}]: expected one of {STATE_VALUES[k]}, got {state[k]!r}")


def is_consistent(state: Mapping[str, Any]) -> bool:
    """Whether a (valid) state can exist physically in the play table.

    At most one block per slider slot and in the drawer, the ``grasped`` flag equal to the number
    of held blocks (at most one), stacks come in top/bottom pairs (at most one pair), and at most
    two blocks stand on the desk top (the evaluation layout has two table spots; a stack's bottom
    block takes one).
    """
    locs = [state[b] for b in BLOCK_KEYS]
    n_grasped = locs.count("grasped")
    return (
        locs.count("slider_left") <= 1
        and locs.count("slider_right") <= 1
        and locs.count("drawer") <= 1
        and n_grasped <= 1
        and state["grasped"] == n_grasped
        and locs.count("stacked_top") == locs.count("stacked_bottom") <= 1
        and locs.count("table") + locs.count("stacked_bottom") <= 2
    )


def canonical(state: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict in :data:`STATE_KEYS` order, 0/1 flags as Python ints (numpy scalars too).

    Key order and types matter: :func:`condition_seed` hashes the text of the values.
    """
    return {k: (int(state[k]) if k in ("led", "lightbulb", "grasped") else state[k]) for k in STATE_KEYS}


# --- rules --------------------------------------------------------------------------------------
def matching_rules(task: str, state: Mapping[str, Any]) -> list[Rule]:
    """The rules of ``task`` whose condition holds in ``state``."""
    _check_task(task)
    validate_state(state)
    return [r for r in TASK_RULES[task] if r.matches(state)]


def precondition_holds(task: str, state: Mapping[str, Any]) -> bool:
    """Whether at least one of ``task``'s rules applies in ``state``."""
    return len(matching_rules(task, state)) > 0


def possible_effects(task: str, state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every state ``task`` may lead to from ``state`` (one per matching rule)."""
    return [r.apply(canonical(state)) for r in matching_rules(task, state)]


def apply_effect(task: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """The state after ``task`` succeeds in ``state`` (a new dict).

    Raises:
        ValueError: when no rule applies (precondition false) or several do (ambiguous, e.g.
            ``stack_block`` with two blocks on the table; see :func:`possible_effects`).
    """
    outcomes = possible_effects(task, state)
    if len(outcomes) != 1:
        what = "no rule applies" if not outcomes else f"{len(outcomes)} rules apply (ambiguous)"
        raise ValueError(f"task {task!r}: expected exactly one matching rule in state {dict(state)}, {what}")
    return outcomes[0]


def check_sequence(state: Mapping[str, Any], tasks: Sequence[str]) -> bool:
    """CALVIN's chain test: each task matches exactly one rule in turn; no category repeats."""
    current: dict[str, Any] = canonical(state)
    for task in tasks:
        outcomes = possible_effects(task, current)
        if len(outcomes) != 1:
            return False
        current = outcomes[0]
    categories = [TASK_CATEGORIES[t] for t in tasks]
    return len(categories) == len(set(categories))


# --- states -------------------------------------------------------------------------------------
@functools.cache
def _initial_conditions() -> tuple[tuple[Any, ...], ...]:
    # CALVIN's enumeration order (itertools.product over these value lists) fixes each state's
    # index, and the index seeds that state's chains; keep the order.
    values = {
        "led": (0, 1), "lightbulb": (0, 1), "slider": ("right", "left"), "drawer": ("closed", "open"),
        **{b: ("table", "slider_right", "slider_left") for b in BLOCK_KEYS},
        "grasped": (0,),
    }
    out = []
    for combo in itertools.product(*(values[k] for k in STATE_KEYS)):
        locs = combo[4:7]
        if locs.count("table") in (1, 2) and locs.count("slider_right") < 2 and locs.count("slider_left") < 2:
            out.append(combo)
    return tuple(out)


def initial_conditions() -> list[dict[str, Any]]:
    """CALVIN's 192 evaluation start states, in CALVIN's order.

    Nothing grasped, one or two blocks on the table, the others in distinct slider slots, none in
    the drawer, all light/door combinations.
    """
    return [dict(zip(STATE_KEYS, combo, strict=True)) for combo in _initial_conditions()]


@functools.cache
def _all_consistent_states() -> tuple[tuple[Any, ...], ...]:
    out = []
    for combo in itertools.product(*(STATE_VALUES[k] for k in STATE_KEYS)):
        if is_consistent(dict(zip(STATE_KEYS, combo, strict=True))):
            out.append(combo)
    return tuple(out)


@functools.cache
def _states_for_task(task: str) -> tuple[tuple[Any, ...], ...]:
    rules = TASK_RULES[task]
    out = []
    for combo in _all_consistent_states():
        state = dict(zip(STATE_KEYS, combo, strict=True))
        hits = [r for r in rules if r.matches(state)]
        # exactly one rule, and its outcome must itself be a physically consistent state
        if len(hits) == 1 and is_consistent(hits[0].apply(state)):
            out.append(combo)
    return tuple(out)


def sample_state_for_task(task: str, rng: np.random.Generator | np.random.RandomState) -> dict[str, Any]:
    """A random consistent symbolic state in which ``task`` matches exactly one rule.

    Drawn uniformly over all such states (see :func:`is_consistent`), so it may hold grasped,
    stacked or drawer blocks, unlike the 192 initial conditions.

    Args:
        task: one of :data:`envs.constants.TASK_NAMES`.
        rng: source of randomness (``np.random.Generator`` or ``RandomState``).
    """
    _check_task(task)
    candidates = _states_for_task(task)
    if isinstance(rng, np.random.RandomState):
        pick = int(rng.randint(len(candidates)))
    else:
        pick = int(rng.integers(len(candidates)))
    combo = candidates[pick]
    return dict(zip(STATE_KEYS, combo, strict=True))


# --- scene layout -------------------------------------------------------------------------------
FNV1_32_OFFSET = 0x811C9DC5
FNV1_32_PRIME = 0x01000193


def fnv1_32(data: bytes | str) -> int:
    """32-bit FNV-1 hash (multiply, then xor each byte) of ``data`` (str is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    h = FNV1_32_OFFSET
    for byte in data:
        h = ((h * FNV1_32_PRIME) & 0xFFFFFFFF) ^ byte
    return h


def condition_seed(condition: Mapping[str, Any]) -> int:
    """A stable 32-bit seed for a symbolic state, equal to the one CALVIN derives.

    CALVIN hashes the text of ``dict.values()`` with FNV-1 (32 bit); the text is rebuilt here in
    the canonical key order so that the seed does not depend on the caller's dict order.
    """
    validate_state(condition)
    values = [canonical(condition)[k] for k in STATE_KEYS]
    return fnv1_32(f"dict_values({values!r})")


def _drawer_block_pos(drawer: str) -> np.ndarray:
    # The block spot inside the closed drawer; opening the drawer carries it towards the robot
    # (-y) by the joint travel.
    spot = np.asarray(C.DRAWER_BLOCK_SPOT, dtype=np.float64)
    if drawer == "open":
        spot = spot + np.array([0.0, -C.DRAWER_OPEN_POS, 0.0])
    return spot


def scene_from_condition(
    state: Mapping[str, Any], rng: np.random.Generator | np.random.RandomState | None = None
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The start scene for a symbolic state (CALVIN's evaluation reset, SPEC §3.4).

    Blocks on the table take the two table spots in a shuffled order (red first, blue next, pink
    on the second spot), blocks in the sliding cabinet take the slot spots, each block's yaw is
    uniform in [pi/2 - pi/8, pi/2 + pi/8]. The draws (one shuffle, then three yaws, red, blue,
    pink) follow CALVIN's, so with ``rng=None`` (a ``RandomState`` seeded by
    :func:`condition_seed`) the layout equals CALVIN's for the 192 initial conditions.

    Args:
        state: symbolic state (see module docstring).
        rng: randomness; ``None`` uses ``np.random.RandomState(condition_seed(state))``.

    Returns:
        robot_obs: (15,) float64, the neutral pose with the gripper open.
        scene_obs: (24,) float64.
        grasped: name of the block (``"block_red"`` …) the env must put in the gripper, or None.
            Its scene_obs pose is set at the neutral TCP.
    """
    validate_state(state)
    if not is_consistent(state):
        raise ValueError(f"state: expected a physically consistent symbolic state, got {dict(state)}")
    if rng is None:
        rng = np.random.RandomState(condition_seed(state))
    robot_obs = np.asarray(C.NEUTRAL_ROBOT_OBS, dtype=np.float64).copy()
    table = [np.asarray(C.BLOCK_SPOTS["table_0"], dtype=np.float64),
             np.asarray(C.BLOCK_SPOTS["table_1"], dtype=np.float64)]
    rng.shuffle(table)
    yaws = [float(rng.uniform(np.pi / 2 - np.pi / 8, np.pi / 2 + np.pi / 8)) for _ in BLOCK_KEYS]

    scene_obs = np.zeros(C.SCENE_OBS_DIM, dtype=np.float64)
    scene_obs[C.SLIDER] = C.SLIDER_LEFT_POS if state["slider"] == "left" else 0.0
    scene_obs[C.DRAWER] = C.DRAWER_OPEN_POS if state["drawer"] == "open" else 0.0
    scene_obs[C.BUTTON] = 0.0
    scene_obs[C.SWITCH] = C.SWITCH_ON_POS if state["lightbulb"] == 1 else 0.0
    scene_obs[C.LIGHTBULB] = float(state["lightbulb"])
    scene_obs[C.LED] = float(state["led"])

    on_desk = [b for b in BLOCK_KEYS if state[b] in ("table", "stacked_bottom")]
    height = float(C.BLOCK_HEIGHT)
    tcp = robot_obs[C.TCP_POS]
    grasped: str | None = None
    positions: dict[str, np.ndarray] = {}
    for b, yaw in zip(BLOCK_KEYS, yaws, strict=True):
        loc = state[b]
        if loc in ("table", "stacked_bottom"):
            # CALVIN's spot choice: red takes spot 0, blue spot 1 only when red is also on the
            # desk, pink always spot 1 (at most two blocks share the desk).
            if b == "red_block":
                idx = 0
            elif b == "blue_block":
                idx = 1 if "red_block" in on_desk else 0
            else:
                idx = 1
            pos = table[idx]
        elif loc in SLIDER_SLOTS:
            pos = np.asarray(C.BLOCK_SPOTS[loc], dtype=np.float64)
        elif loc == "drawer":
            pos = _drawer_block_pos(state["drawer"])
        elif loc == "grasped":
            pos = tcp.copy()
            yaw = float(robot_obs[C.TCP_ORN][2])  # aligned with the gripper fingers
            grasped = f"block_{b.removesuffix('_block')}"
        else:  # stacked_top: placed after the bottom block is known
            pos = None
        positions[b] = pos  # type: ignore[assignment]
        sl = C.BLOCK_SLICES[f"block_{b.removesuffix('_block')}"]
        scene_obs[sl.start + 5] = yaw
    for b in BLOCK_KEYS:
        if state[b] == "stacked_top":
            bottom = next(o for o in BLOCK_KEYS if state[o] == "stacked_bottom")
            positions[b] = positions[bottom] + np.array([0.0, 0.0, height])
        sl = C.BLOCK_SLICES[f"block_{b.removesuffix('_block')}"]
        scene_obs[sl.start:sl.start + 3] = positions[b]
    return robot_obs, scene_obs, grasped


def describe(state: Mapping[str, Any]) -> str:
    """A short one-line text of a state, for logs and reports."""
    s = canonical(state)
    blocks = ", ".join(f"{b.removesuffix('_block')}={s[b]}" for b in BLOCK_KEYS)
    return (f"led={s['led']} bulb={s['lightbulb']} slider={s['slider']} drawer={s['drawer']} "
            f"{blocks} grasped={s['grasped']}")

