"""Data-parallel training under ``torchrun --nproc-per-node 2`` (gloo on CPU): ranks stay in sync."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from vla_agent.training.metrics import read_metrics
from vla_agent.training.synthetic import write_synthetic_dataset

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from vla_agent.training import TrainConfig, train
    from vla_agent.training.distributed import parameter_digest

    args = json.loads(sys.argv[1])
    result = train(TrainConfig(**args))
    rank = int(os.environ["RANK"])
    # test-only: every rank reports its parameters (the trainer itself writes files on rank 0 only)
    with open(os.path.join(os.path.dirname(args["out"]), f"digest_{rank}.txt"), "w") as f:
        f.write(result.parameter_digest)
""")


@pytest.mark.slow
def test_torchrun_two_processes_stay_in_sync(tmp_path) -> None:
    data = write_synthetic_dataset(tmp_path / "data", episodes=4, frames_per_episode=12, val_episodes=1)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    args = {
        "data": data, "out": str(out), "cache_dir": str(tmp_path / "cache"), "max_steps": 6, "batch_size": 4,
        "warmup_steps": 1, "log_every": 2, "eval_every": 3, "checkpoint_every": 3, "progress": False,
        "tensorboard": False, "threads": 1,
        "model": {"d_model": 32, "n_heads": 2, "n_encoder_layers": 1, "n_decoder_layers": 1, "n_bins": 16,
                  "chunk_size": 4, "n_action_steps": 4,
                  "segmentation": {"image_size": 64, "width": 8, "fpn_channels": 16, "token_grid": 2}},
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def torchrun(run_args: dict) -> list[str]:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(script), json.dumps(run_args)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
        return [(tmp_path / f"digest_{r}.txt").read_text() for r in range(2)]

    straight = torchrun(args)
    assert straight[0] == straight[1]  # every rank ends with the same parameters
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 6 and summary["finished"]
    assert (out / "policy" / "model.safetensors").is_file()
    assert not (tmp_path / "run" / "tb").exists()
    # stopped after 3 steps and resumed, the 2-process run ends exactly where the straight one did
    args["out"] = str(tmp_path / "run2")
    first = torchrun({**args, "stop_at_step": 3})
    assert first[0] == first[1] != straight[0]
    resumed = torchrun({**args, "resume": True})
    assert resumed == straight

    def rows(run) -> list[tuple]:  # all metrics but the wall-clock throughput
        return [(r["step"], r["split"], r["loss"], r["grad_norm"], r["lr"])
                for r in read_metrics(str(run / "metrics.csv"))]

    assert rows(out) == rows(tmp_path / "run2") and len(rows(out)) == 5  # train 2, 4, 6 + val 3, 6
