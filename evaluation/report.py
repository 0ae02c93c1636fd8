"""Reports of an evaluation: provenance, the terminal table, the PNG plot."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from envs.constants import CHAIN_LEN, TASK_NAMES

_PACKAGES = ("vla-agent", "numpy", "gymnasium", "pybullet", "torch", "transformers", "ray", "calvin_env")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that can change results (None when absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(**fields: Any) -> dict[str, Any]:
    """``fields`` plus package versions, platform, command line and a UTC timestamp."""
    return {
        **fields,
        "versions": package_versions(),
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def format_chain_table(summary: Mapping[str, Any], title: str = "") -> str:
    """CALVIN-style text report: SR for 1..5 in a row with intervals, average length, per task."""
    ci = summary.get("ci95", {})
    lines = []
    if title:
        lines.append(title)
    n = summary.get("num_sequences", "?")
    avg = summary["avg_seq_len"]
    lo_hi = ci.get("avg_seq_len")
    lines.append(f"Chains: {n}   Average successful sequence length: {avg:.3f}"
                 + (f"  (95% CI {lo_hi[0]:.3f}-{lo_hi[1]:.3f})" if lo_hi else ""))
    lines.append("Success rates for i instructions in a row:")
    lines.append("  i   SR       95% CI")
    for k in range(1, CHAIN_LEN + 1):
        sr = summary["chain_sr"][str(k)]
        iv = ci.get("chain_sr", {}).get(str(k))
        lines.append(f"  {k}  {100 * sr:6.1f}%" + (f"   {100 * iv[0]:5.1f}-{100 * iv[1]:5.1f}%" if iv else ""))
    lines.append(format_task_table(summary["task_info"]))
    return "\n".join(lines)


def format_task_table(task_info: Mapping[str, Mapping[str, int]]) -> str:
    """Per-task ``success / total`` lines, tasks in CALVIN's order (only those attempted)."""
    width = max((len(t) for t in TASK_NAMES), default=20)
    lines = [f"  {'task':<{width}}  success / total      SR"]
    for task in TASK_NAMES:
        if task not in task_info:
            continue
        s, t = task_info[task]["success"], task_info[task]["total"]
        lines.append(f"  {task:<{width}}  {s:7d} / {t:<7d}  {100 * s / t if t else 0:6.1f}%")
    return "\n".join(lines)


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _task_bars(ax: Any, task_info: Mapping[str, Mapping[str, int]]) -> None:
    tasks = [t for t in TASK_NAMES if t in task_info]
    rates = [task_info[t]["success"] / max(1, task_info[t]["total"]) for t in tasks]
    ax.barh(range(len(tasks)), [100 * r for r in rates], color="#4c72b0")
    ax.set_yticks(range(len(tasks)))
    ax.set_yticklabels([f"{t} ({task_info[t]['total']})" for t in tasks], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("success rate (%) of attempts (n)")


def plot_chain_results(summary: Mapping[str, Any], path: str | os.PathLike[str], title: str = "") -> Path:
    """PNG: SR by number of instructions in a row (with 95 % intervals), and per-task bars."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 6.5), gridspec_kw={"width_ratios": [1, 1.4]})
    ks = list(range(1, CHAIN_LEN + 1))
    sr = [100 * summary["chain_sr"][str(k)] for k in ks]
    ci = summary.get("ci95", {}).get("chain_sr")
    if ci:
        err = [[sr[i] - 100 * ci[str(k)][0] for i, k in enumerate(ks)],
               [100 * ci[str(k)][1] - sr[i] for i, k in enumerate(ks)]]
        ax1.bar(ks, sr, yerr=err, capsize=4, color="#55a868")
    else:
        ax1.bar(ks, sr, color="#55a868")
    ax1.set_xlabel("instructions completed in a row")
    ax1.set_ylabel("chains (%)")
    ax1.set_ylim(0, 100)
    ax1.set_title(f"avg. len {summary['avg_seq_len']:.2f} over {summary.get('num_sequences', '?')} chains")
    _task_bars(ax2, summary["task_info"])
    ax2.set_title("per task (reached subtasks)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, plt, path)


def plot_task_results(task_info: Mapping[str, Mapping[str, int]], path: str | os.PathLike[str],
                      title: str = "") -> Path:
    """PNG: per-task success bars (single-task evaluation)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 7))
    _task_bars(ax, task_info)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, plt, path)


def save_figure(fig: Any, plt: Any, path: str | os.PathLike[str]) -> Path:
    """Save a matplotlib figure as PNG atomically (temp file + ``os.replace``) and close it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, p)
    return p
