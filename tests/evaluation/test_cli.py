"""``vla-agent eval`` through its module (add_arguments + run), and a real kill-and-resume."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evaluation import cli


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_eval_random_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seqs = tmp_path / "frozen.json"
    rc = cli.run(_args("--policy", "random", "--num-sequences", "3", "--max-steps", "5", "--out", str(tmp_path / "o"),
                       "--no-progress", "--save-sequences", str(seqs), "--cameras"))
    assert rc == 0
    out = capsys.readouterr().out
    assert "Average successful sequence length" in out and "results:" in out
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["num_sequences"] == 3
    # the saved chain list runs again as a frozen list
    rc = cli.run(_args("--policy", "random", "--sequences", str(seqs), "--max-steps", "5",
                       "--out", str(tmp_path / "o2"), "--no-progress", "--cameras", "static"))
    assert rc == 0
    res2 = json.loads((tmp_path / "o2" / "results.json").read_text())
    assert res2["provenance"]["sequences_sha256"] == res["provenance"]["sequences_sha256"]


def test_eval_single_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.run(_args("--single-task", "--tasks", "open_drawer", "--episodes-per-task", "2", "--max-steps", "3",
                       "--out", str(tmp_path), "--no-progress", "--cameras"))
    assert rc == 0
    assert "open_drawer" in capsys.readouterr().out


def test_errors_exit_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_args("--policy", "no/such/checkpoint", "--out", str(tmp_path))) == 2
    assert "policy" in capsys.readouterr().err
    assert cli.run(_args("--env", "calvin", "--out", str(tmp_path))) == 2
    assert "dataset-path" in capsys.readouterr().err


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "evaluation.cli", "--policy", "random", "--num-sequences", "12", "--max-steps", "30",
           "--out", str(out), "--no-progress", "--cameras"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "chains.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = log.read_bytes().count(b"\n")
    assert 3 <= done_before < 12, "the run should be killed part-way"
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    indices = [json.loads(line)["index"] for line in log.read_text().splitlines()]
    assert sorted(indices) == list(range(12))  # nothing lost, nothing repeated
    assert json.loads((out / "results.json").read_text())["num_sequences"] == 12
