"""``vla-agent merge-data``: merge CALVIN-format datasets (shards, DAgger rounds) into one folder."""

from __future__ import annotations

import argparse
import json

HELP = "merge CALVIN-format datasets into one (frames renumbered and hard-linked; extendable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``merge-data`` options to ``parser``."""
    parser.add_argument("sources", nargs="+", help="dataset roots (each holding training/ and/or validation/), "
                        "in the order their frames should follow each other")
    parser.add_argument("--out", required=True, help="destination root (empty, or an earlier merge of the "
                        "same sources that the new ones extend)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Merge; prints frames and windows per split as one JSON line. Returns the exit code."""
    from vla_agent.data.merge import merge_datasets

    summary = merge_datasets(args.sources, args.out, progress=not args.no_progress)
    print(json.dumps({"out": args.out, "splits": summary["splits"]}))
    return 0
