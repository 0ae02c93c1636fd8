"""Side-by-side reports of several long-horizon results (e.g. policy vs expert vs random)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envs.constants import CHAIN_LEN


def format_comparison(results: Mapping[str, Mapping[str, Any]]) -> str:
    """CALVIN-style table: one row per named result, SR for 1..5 in a row and the average length."""
    width = max([len(n) for n in results] + [6])
    head = f"{'policy':<{width}}  chains  " + "  ".join(f"{k:>6}" for k in range(1, CHAIN_LEN + 1)) + "  avg.len"
    lines = [head, "-" * len(head)]
    for name, res in results.items():
        srs = "  ".join(f"{100 * res['chain_sr'][str(k)]:5.1f}%" for k in range(1, CHAIN_LEN + 1))
        ci = res.get("ci95", {}).get("avg_seq_len")
        tail = f"  ({ci[0]:.2f}-{ci[1]:.2f})" if ci else ""
        lines.append(f"{name:<{width}}  {res.get('num_sequences', 0):6d}  {srs}  {res['avg_seq_len']:7.2f}{tail}")
    return "\n".join(lines)


def plot_comparison(results: Mapping[str, Mapping[str, Any]], path: str | os.PathLike[str], title: str = "") -> Path:
    """PNG: success rate by number of instructions in a row, one bar group per result."""
    import numpy as np

    from evaluation.report import _plt, save_figure

    plt = _plt()

    ks = np.arange(1, CHAIN_LEN + 1)
    n = max(1, len(results))
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, res) in enumerate(results.items()):
        sr = [100 * res["chain_sr"][str(k)] for k in ks]
        ax.bar(ks + (i - (n - 1) / 2) * width, sr, width, label=f"{name} (avg. len {res['avg_seq_len']:.2f})")
    ax.set_xticks(ks)
    ax.set_xlabel("instructions completed in a row")
    ax.set_ylabel("chains (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, plt, path)
