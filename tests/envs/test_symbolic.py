"""CALVIN's symbolic world: initial states, rules, chains, scene layouts."""

from __future__ import annotations

import numpy as np
import pytest

from envs import constants as C
from envs import symbolic as S

EXAMPLE = {  # the start state of CALVIN's first evaluation chain (SPEC §5.2)
    "led": 1, "lightbulb": 1, "slider": "left", "drawer": "open",
    "red_block": "slider_left", "blue_block": "table", "pink_block": "slider_right", "grasped": 0,
}


def test_192_initial_conditions_with_calvins_constraints() -> None:
    states = S.initial_conditions()
    assert len(states) == 192
    assert len({tuple(s.values()) for s in states}) == 192
    for s in states:
        S.validate_state(s)
        locs = [s[b] for b in S.BLOCK_KEYS]
        assert s["grasped"] == 0 and "drawer" not in locs and "grasped" not in locs
        assert locs.count("table") in (1, 2)
        assert locs.count("slider_left") <= 1 and locs.count("slider_right") <= 1
        assert S.is_consistent(s)
    # enumeration order is CALVIN's (state index seeds its chains)
    assert states[0] == {"led": 0, "lightbulb": 0, "slider": "right", "drawer": "closed", "grasped": 0,
                         "red_block": "table", "blue_block": "table", "pink_block": "slider_right"}


def test_task_categories_are_calvins_eleven() -> None:
    assert set(S.TASK_CATEGORIES) == set(C.TASK_NAMES)
    assert sorted(set(S.TASK_CATEGORIES.values())) == list(range(1, 12))
    assert S.TASK_CATEGORIES["push_into_drawer"] == 9
    assert S.TASK_CATEGORIES["lift_red_block_slider"] != S.TASK_CATEGORIES["lift_red_block_table"]


def test_slider_door_covers_the_slot_on_its_side() -> None:
    s = dict(EXAMPLE)  # door left: red in the left slot is covered, pink in the right slot is free
    assert not S.precondition_holds("lift_red_block_slider", s)
    assert S.precondition_holds("lift_pink_block_slider", s)
    s["slider"] = "right"
    assert S.precondition_holds("lift_red_block_slider", s)
    assert not S.precondition_holds("lift_pink_block_slider", s)


def test_rules_and_effects() -> None:
    s = dict(EXAMPLE)
    assert not S.precondition_holds("open_drawer", s) and S.precondition_holds("close_drawer", s)
    assert S.apply_effect("close_drawer", s)["drawer"] == "closed"
    assert s["drawer"] == "open"  # input untouched
    assert S.apply_effect("turn_off_lightbulb", s)["lightbulb"] == 0
    assert not S.precondition_holds("turn_on_led", s)
    # push_into_drawer: the only block on the table, both others in the cabinet, drawer open
    assert S.apply_effect("push_into_drawer", s)["blue_block"] == "drawer"
    assert not S.precondition_holds("push_into_drawer", {**s, "drawer": "closed"})
    lifted = S.apply_effect("lift_blue_block_table", s)
    assert lifted["blue_block"] == "grasped" and lifted["grasped"] == 1
    assert not S.precondition_holds("open_drawer", lifted)  # needs an empty gripper
    assert not S.precondition_holds("place_in_slider", s)  # needs a held block
    placed = S.apply_effect("place_in_drawer", lifted)
    assert placed["blue_block"] == "drawer" and placed["grasped"] == 0
    assert S.apply_effect("lift_blue_block_drawer", placed)["blue_block"] == "grasped"


def test_stacking_and_ambiguity() -> None:
    s = {**EXAMPLE, "red_block": "table", "blue_block": "table"}
    held = S.apply_effect("lift_red_block_table", s)
    stacked = S.apply_effect("stack_block", held)
    assert stacked["red_block"] == "stacked_top" and stacked["blue_block"] == "stacked_bottom"
    assert S.apply_effect("unstack_block", stacked)["red_block"] == "table"
    # two candidate bottoms: precondition true, but not exactly one rule
    two = {**s, "pink_block": "table", "red_block": "grasped", "grasped": 1}
    assert S.precondition_holds("stack_block", two)
    assert len(S.possible_effects("stack_block", two)) == 2
    with pytest.raises(ValueError, match="ambiguous"):
        S.apply_effect("stack_block", two)
    with pytest.raises(ValueError, match="no rule"):
        S.apply_effect("open_drawer", s)


def test_check_sequence() -> None:
    chain = ("rotate_blue_block_right", "move_slider_right", "lift_red_block_slider", "place_in_slider",
             "turn_off_lightbulb")
    assert S.check_sequence(EXAMPLE, chain)
    assert not S.check_sequence(EXAMPLE, ("lift_red_block_slider",))  # door covers red
    assert not S.check_sequence(EXAMPLE, ("turn_off_lightbulb", "turn_off_led"))  # same category


def test_bad_input_names_field() -> None:
    with pytest.raises(ValueError, match="task"):
        S.precondition_holds("fly_away", EXAMPLE)
    with pytest.raises(ValueError, match="slider"):
        S.precondition_holds("open_drawer", {**EXAMPLE, "slider": "middle"})
    with pytest.raises(ValueError, match="missing"):
        S.precondition_holds("open_drawer", {"led": 0})


@pytest.mark.parametrize("task", C.TASK_NAMES)
def test_sample_state_for_task(task: str) -> None:
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(10):
        s = S.sample_state_for_task(task, rng)
        assert S.is_consistent(s)
        assert len(S.matching_rules(task, s)) == 1
        S.scene_from_condition(s, np.random.default_rng(1))  # every sampled state has a layout
        seen.add(tuple(s.values()))
    assert len(seen) > 1
    a = S.sample_state_for_task(task, np.random.default_rng(5))
    assert a == S.sample_state_for_task(task, np.random.default_rng(5))


def test_fnv1_32_standard_vectors() -> None:
    assert S.fnv1_32(b"") == 0x811C9DC5
    assert S.fnv1_32(b"a") == 0x050C5D7E
    assert S.fnv1_32("foobar") == 0x31F0B262


def test_condition_seed_is_order_independent() -> None:
    reordered = dict(reversed(list(EXAMPLE.items())))
    assert S.condition_seed(reordered) == S.condition_seed(EXAMPLE)
    seeds = {S.condition_seed(s) for s in S.initial_conditions()}
    assert len(seeds) == 192


def test_scene_from_condition_matches_calvins_layout() -> None:
    robot_obs, scene_obs, grasped = S.scene_from_condition(EXAMPLE)
    assert grasped is None
    np.testing.assert_allclose(robot_obs, C.NEUTRAL_ROBOT_OBS)
    # Values produced by CALVIN's own evaluation reset for this condition (seeded by FNV-1).
    expected = [0.28, 0.22, 0.0, 0.088, 1.0, 1.0,
                -0.2409, 0.0924, 0.461, 0.0, 0.0, 1.245482,
                0.05, -0.12, 0.46, 0.0, 0.0, 1.432094,
                0.0703, 0.0924, 0.461, 0.0, 0.0, 1.348676]
    np.testing.assert_allclose(scene_obs, expected, atol=1e-6)


def test_scene_layout_properties() -> None:
    lo, hi = np.pi / 2 - np.pi / 8, np.pi / 2 + np.pi / 8
    for s in S.initial_conditions():
        _, a, _ = S.scene_from_condition(s)
        _, b, _ = S.scene_from_condition(s)
        np.testing.assert_array_equal(a, b)  # deterministic per condition
        assert a[C.SLIDER] == (C.SLIDER_LEFT_POS if s["slider"] == "left" else 0.0)
        assert a[C.DRAWER] == (C.DRAWER_OPEN_POS if s["drawer"] == "open" else 0.0)
        assert a[C.LED] == s["led"] and a[C.LIGHTBULB] == s["lightbulb"]
        spots = []
        for color in C.BLOCK_COLORS:
            sl = C.BLOCK_SLICES[f"block_{color}"]
            pose = a[sl]
            assert lo <= pose[5] <= hi and pose[3] == 0 and pose[4] == 0
            loc = s[f"{color}_block"]
            if loc.startswith("slider"):
                np.testing.assert_allclose(pose[:3], C.BLOCK_SPOTS[loc])
            spots.append(tuple(pose[:3]))
        assert len(set(spots)) == 3  # no two blocks in one place


def test_scene_grasped_stacked_and_drawer() -> None:
    s = {**EXAMPLE, "red_block": "grasped", "grasped": 1, "blue_block": "stacked_top",
         "pink_block": "stacked_bottom"}
    _, scene, grasped = S.scene_from_condition(s, np.random.default_rng(0))
    assert grasped == "block_red"
    np.testing.assert_allclose(scene[C.BLOCK_SLICES["block_red"]][:3], C.NEUTRAL_ROBOT_OBS[:3])
    top, bottom = scene[C.BLOCK_SLICES["block_blue"]], scene[C.BLOCK_SLICES["block_pink"]]
    np.testing.assert_allclose(top[:2], bottom[:2])
    assert top[2] > bottom[2]
    d = {**EXAMPLE, "blue_block": "drawer"}
    _, scene, _ = S.scene_from_condition(d, np.random.default_rng(0))
    assert scene[C.BLOCK_SLICES["block_blue"]][2] < 0.46  # inside the drawer, below the desk top
    with pytest.raises(ValueError, match="consistent"):
        S.scene_from_condition({**EXAMPLE, "grasped": 1}, np.random.default_rng(0))
