"""PNG of a run's loss curves, drawn from its metrics CSV with matplotlib's Agg backend."""

from __future__ import annotations

import os

from vla_agent.training.checkpoint import atomic_write
from vla_agent.training.metrics import read_metrics

PLOT_NAME = "loss_curves.png"


def plot_losses(metrics_csv: str, out_png: str | None = None) -> str:
    """Draw train and validation losses (total, action, plan) against the step.

    Args:
        metrics_csv: a ``metrics.csv`` written by :class:`~vla_agent.training.metrics.MetricsLogger`.
        out_png: output path; defaults to ``loss_curves.png`` beside the CSV.

    Returns:
        The PNG path.
    """
    # a bare Figure on the Agg canvas: no pyplot, so no global backend state and no display needed
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = read_metrics(metrics_csv)
    out_png = out_png or os.path.join(os.path.dirname(metrics_csv), PLOT_NAME)
    fig = Figure(figsize=(13, 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    for ax, key, title in zip(axes, ("loss", "action_loss", "plan_loss"),
                              ("total loss", "action cross-entropy", "latent-plan loss"), strict=True):
        for split, style in (("train", "-"), ("val", "o-")):
            pts = [(int(r["step"]), float(r[key])) for r in rows if r["split"] == split and r.get(key)]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, style, label=split, markersize=3)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    atomic_write(out_png, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    return out_png
