"""Side-by-side reports of several long-horizon results."""

from __future__ import annotations

from PIL import Image

from evaluation.compare import format_comparison, plot_comparison


def _result(lengths: list[int]) -> dict:
    return {
        "avg_seq_len": sum(lengths) / len(lengths),
        "chain_sr": {str(k): sum(n >= k for n in lengths) / len(lengths) for k in range(1, 6)},
        "num_sequences": len(lengths),
    }


def test_table_has_one_row_per_policy_with_rates_and_length(tmp_path) -> None:
    results = {"expert": _result([5, 5, 4, 3]), "random": _result([0, 0, 1, 0])}
    table = format_comparison(results)
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["policy", "chains"] and len(lines) == 4
    expert = lines[2].split()
    assert expert[0] == "expert" and expert[1] == "4"
    assert expert[2:7] == ["100.0%", "100.0%", "100.0%", "75.0%", "50.0%"] and expert[7] == "4.25"
    assert lines[3].split()[2] == "25.0%" and lines[3].split()[7] == "0.25"
    png = plot_comparison(results, tmp_path / "cmp.png", title="t")
    assert png.exists() and not (tmp_path / "cmp.tmp.png").exists()
    assert Image.open(png).size[0] > 100
