"""`vla-agent demo`, the README's first command, end to end on a single chain."""

from __future__ import annotations

import json

import pytest

from vla_agent.cli import main


@pytest.mark.slow
def test_demo_writes_table_plot_and_video(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--num-sequences", "1", "--workers", "1", "--policy", "none",
                 "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "scripted_expert" in printed and "random" in printed and "avg.len" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"scripted_expert", "random"}
    assert summary["random"]["avg_seq_len"] <= summary["scripted_expert"]["avg_seq_len"]
    assert (out / "comparison.png").stat().st_size > 0
    assert list((out / "scripted_expert" / "videos").iterdir())
