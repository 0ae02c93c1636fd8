"""The ``vla-agent`` console script.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
this file only wires them together, importing a module when its subcommand runs so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Only subcommands that exist and work are listed.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("vla_agent.commands.demo",
             "long-horizon benchmark on the embedded play table: policy vs expert vs random"),
    "eval": ("evaluation.cli", "CALVIN long-horizon (chains of 5) or single-task evaluation"),
    "generate-data": ("vla_agent.commands.generate_data",
                      "record scripted-expert demonstrations in CALVIN's dataset format (+ RoboSeg renders)"),
    "merge-data": ("vla_agent.commands.merge_data",
                   "merge CALVIN-format datasets into one (frames renumbered and hard-linked; extendable)"),
    "train": ("vla_agent.commands.train", "behaviour cloning of the VLA policy on CALVIN-format data"),
    "train-segmentation": ("vla_agent.commands.train_segmentation",
                           "train the robot-arm Mask R-CNN on RoboSeg-format renders"),
    "train-default": ("vla_agent.commands.train_default",
                      "reproduce the shipped default policy: data -> segmentation -> behaviour cloning -> DAgger"),
}


def _add_subcommand(sub: argparse._SubParsersAction, name: str, module: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(_module=module)
    mod = importlib.import_module(module)
    mod.add_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    from vla_agent import __version__

    parser = argparse.ArgumentParser(
        prog="vla-agent",
        description="Language-conditioned robot policies on CALVIN: data, training, evaluation, demo.",
    )
    parser.add_argument("--version", action="version", version=f"vla-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        _add_subcommand(sub, name, module, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    mod = importlib.import_module(args._module)
    return int(mod.run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
