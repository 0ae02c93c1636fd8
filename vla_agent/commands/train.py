"""``vla-agent train``: behaviour cloning of the VLA policy on a CALVIN-format dataset.

Every :class:`~vla_agent.training.TrainConfig` field is a flag (``--max-steps``, ``--batch-size``,
``--model d_model=128`` ...). Examples::

    vla-agent train --data data/calvin_gen --out runs/bc --max-steps 3000
    vla-agent train --out runs/bc --resume                     # continue after a kill
    torchrun --nproc-per-node 2 -m vla_agent.commands.train --data data/calvin_gen --out runs/bc_ddp
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

HELP = "behaviour cloning of the VLA policy on CALVIN-format data (resumable, torchrun-ready)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` flags (one per TrainConfig field) to ``parser``."""
    from vla_agent.training.config import add_config_arguments

    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Train as the flags say; prints where the policy went. Returns the exit code."""
    from vla_agent.training.config import config_from_args
    from vla_agent.training.trainer import train

    try:
        config = config_from_args(args)
        result = train(config)
    except (ValueError, FileNotFoundError) as e:
        print(f"vla-agent train: error: {e}", file=sys.stderr)
        return 2
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        where = result.policy_dir or f"(stopped at step {result.step}; continue with --resume)"
        print(f"[train] step {result.step}: policy {where}; best val loss {result.best_val_loss:.4f}; "
              f"run folder {result.run_dir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m vla_agent.commands.train``, e.g. under torchrun)."""
    parser = argparse.ArgumentParser(prog="vla-agent train", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
