"""Metrics of a training run: one CSV row per logged step, TensorBoard when it is installed.

The CSV is appended line by line and flushed, so a killed run keeps its history; on resume, rows
past the resumed step (written after the checkpoint that is resumed) are dropped first so the file
never holds a step twice.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping

METRICS_NAME = "metrics.csv"
FIELDS = (
    "step", "epoch", "split", "loss", "action_loss", "plan_loss", "scene_loss", "token_accuracy", "lr", "grad_norm",
    "samples_per_s",
)


class MetricsLogger:
    """Appends rows to ``RUN_DIR/metrics.csv`` (and TensorBoard scalars when available).

    Args:
        run_dir: the run folder.
        resume_step: drop existing rows with ``step > resume_step`` (``None``: start a new file).
        tensorboard: also write TensorBoard event files under ``RUN_DIR/tb`` if ``tensorboard`` imports.
    """

    def __init__(self, run_dir: str, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.path = os.path.join(run_dir, METRICS_NAME)
        os.makedirs(run_dir, exist_ok=True)
        if resume_step is None or not os.path.isfile(self.path):
            with open(self.path, "w", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, FIELDS).writeheader()
        else:
            rows = [r for r in read_metrics(self.path) if int(r["step"]) <= resume_step]
            tmp = self.path + ".tmp"
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, FIELDS)
                w.writeheader()
                for r in rows:
                    w.writerow({k: r.get(k, "") for k in FIELDS})
            os.replace(tmp, self.path)
        self._file = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - kept open
        self._writer = csv.DictWriter(self._file, FIELDS)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(os.path.join(run_dir, "tb"))
            except ImportError:  # tensorboard is optional
                self._tb = None

    def log(self, step: int, split: str, values: Mapping[str, float], epoch: int | None = None) -> None:
        """Write one row; keys outside :data:`FIELDS` are ignored in the CSV."""
        row: dict[str, object] = {k: "" for k in FIELDS}
        row.update({"step": step, "split": split, "epoch": "" if epoch is None else epoch})
        for k, v in values.items():
            if k in row and k not in ("step", "split", "epoch"):
                row[k] = f"{float(v):.6g}"
        self._writer.writerow(row)
        self._file.flush()
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and math.isfinite(float(v)):
                    self._tb.add_scalar(f"{split}/{k}", float(v), step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: str) -> list[dict[str, str]]:
    """Rows of a metrics CSV as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
