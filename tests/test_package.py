"""The distribution itself: imports stay light, the console script works, constants agree."""

from __future__ import annotations

import subprocess
import sys

import pytest

from envs import constants as C


def test_import_is_light() -> None:
    # A fresh interpreter: importing the three packages must not pull in torch or transformers.
    code = (
        "import sys, vla_agent, envs, evaluation;"
        "heavy=[m for m in ('torch','transformers') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_console_script_help_lists_commands() -> None:
    from vla_agent.cli import COMMANDS, build_parser

    help_text = build_parser().format_help()
    for name in COMMANDS:
        assert name in help_text


def test_console_script_without_command_fails() -> None:
    from vla_agent.cli import main

    assert main([]) == 2


def test_constants_are_consistent() -> None:
    assert len(C.TASK_NAMES) == len(set(C.TASK_NAMES)) == 34
    assert len(C.NEUTRAL_ROBOT_OBS) == C.ROBOT_OBS_DIM
    assert tuple(C.NEUTRAL_ROBOT_OBS[C.ARM_JOINTS]) == C.NEUTRAL_JOINTS
    covered = sorted(i for s in C.BLOCK_SLICES.values() for i in range(s.start, s.stop))
    assert covered == list(range(6, C.SCENE_OBS_DIM))
    assert C.ACTION_REPEAT * C.CONTROL_FREQ == C.PHYSICS_FREQ


def test_unknown_lazy_attribute() -> None:
    import vla_agent

    with pytest.raises(AttributeError, match="no_such_thing"):
        vla_agent.no_such_thing  # noqa: B018
