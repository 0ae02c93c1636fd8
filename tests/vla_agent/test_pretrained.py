"""Named checkpoints: "default" resolves to the package's folder or says how to make it."""

from __future__ import annotations

import numpy as np
import pytest

from vla_agent import pretrained


def test_paths_pass_through_and_default_is_explained(tmp_path, monkeypatch) -> None:
    assert pretrained.resolve_checkpoint(str(tmp_path)) == str(tmp_path)
    missing = tmp_path / "nothing"
    monkeypatch.setitem(pretrained.NAMED_CHECKPOINTS, "default", missing)
    with pytest.raises(FileNotFoundError, match="make train-default"):
        pretrained.resolve_checkpoint("default")
    missing.mkdir()
    (missing / "config.json").write_text("{}")
    assert pretrained.resolve_checkpoint("default") == str(missing)


def test_eval_spec_default_uses_the_named_checkpoint(tmp_path, monkeypatch) -> None:
    from evaluation.policies import PretrainedPolicyFactory, policy_factory_from_spec

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(pretrained.NAMED_CHECKPOINTS, "default", tmp_path)
    factory = policy_factory_from_spec("default")
    assert isinstance(factory, PretrainedPolicyFactory) and factory.path == str(tmp_path)


def test_train_default_stages_are_valid_commands(tmp_path, monkeypatch) -> None:
    """Every stage of ``train-default`` parses with the real sub-command parsers, in dependency order."""
    import argparse

    from vla_agent.cli import build_parser
    from vla_agent.commands import train_default

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(train_default, "_stage", lambda name, argv: calls.append((name, argv)))
    finals: list[tuple] = []
    monkeypatch.setattr(train_default, "_finalise", lambda *a: finals.append(a) or a[1])
    parser = argparse.ArgumentParser()
    train_default.add_arguments(parser)
    two_rounds = ["--dagger-chains", "40", "80", "--takeover-steps", "10", "60", "10", "100"]
    assert train_default.run(parser.parse_args(["--out", str(tmp_path), "--seed", "3", *two_rounds])) == 0
    names = [n for n, _ in calls]
    assert names == ["demonstrations", "segmentation renders", "robot segmentation", "scene-state fine-tuning",
                     "behaviour cloning", "DAgger 1 demonstrations", "DAgger 1 data merge", "DAgger 1 fine-tuning",
                     "DAgger 2 demonstrations", "DAgger 2 data merge", "DAgger 2 fine-tuning", "final fine-tuning",
                     "final fine-tuning 2"]
    cli = build_parser()
    parsed = {n: cli.parse_args(argv) for n, argv in calls}
    assert parsed["demonstrations"].seed == 103 and parsed["demonstrations"].workers == 2
    assert parsed["scene-state fine-tuning"].init_weights == str(tmp_path / "seg_robot")
    assert parsed["scene-state fine-tuning"].scene_data == str(tmp_path / "data")
    assert parsed["behaviour cloning"].segmentation_weights == str(tmp_path / "seg")
    # DAgger round 1: the cloned policy acts first, the expert takes over; then fine-tuning on both
    assert parsed["DAgger 1 demonstrations"].takeover_policy == str(tmp_path / "train" / "policy")
    assert parsed["DAgger 1 demonstrations"].seed == 203
    assert parsed["DAgger 1 demonstrations"].takeover_steps == [10, 60]
    assert parsed["DAgger 1 data merge"].sources == [str(tmp_path / "data"), str(tmp_path / "takeover")]
    assert parsed["DAgger 1 fine-tuning"].init_policy == str(tmp_path / "train" / "policy")
    assert parsed["DAgger 1 fine-tuning"].data == str(tmp_path / "data_dagger")
    # round 2: round 1's policy acts first; the aggregate holds every round's data
    assert parsed["DAgger 2 demonstrations"].takeover_policy == str(tmp_path / "dagger" / "policy")
    assert parsed["DAgger 2 demonstrations"].seed == 303 and parsed["DAgger 2 demonstrations"].chains == 80
    assert parsed["DAgger 2 demonstrations"].takeover_steps == [10, 100]
    assert parsed["DAgger 2 data merge"].sources == [str(tmp_path / n) for n in ("data", "takeover", "takeover2")]
    assert parsed["DAgger 2 fine-tuning"].init_policy == str(tmp_path / "dagger" / "policy")
    assert parsed["DAgger 2 fine-tuning"].data == str(tmp_path / "data_dagger2")
    # then the last round's policy trains on for a while on the same aggregate, with its own batch size
    final = parsed["final fine-tuning"]
    assert final.init_policy == str(tmp_path / "dagger2" / "policy") and final.data == str(tmp_path / "data_dagger2")
    assert final.max_steps == train_default.FINAL_TRAIN_STEPS[0] and final.batch_size == train_default.FINAL_BATCH_SIZE
    final2 = parsed["final fine-tuning 2"]  # the shipped recipe trains on once more, from a restarted schedule
    assert final2.init_policy == str(tmp_path / "final" / "policy") and final2.data == str(tmp_path / "data_dagger2")
    assert (final2.max_steps, final2.batch_size) == (train_default.FINAL_TRAIN_STEPS[1], train_default.FINAL_BATCH_SIZE)
    assert parsed["DAgger 2 fine-tuning"].batch_size == 64
    # that policy, with the shipped decoding temperature, is the pipeline's result
    assert finals == [(tmp_path / "final2" / "policy", tmp_path / "policy", train_default.TEMPERATURE)]
    calls.clear()
    assert train_default.run(parser.parse_args(["--out", str(tmp_path)])) == 0  # the shipped recipe: two rounds
    assert [n for n, _ in calls][-5:] == ["DAgger 2 demonstrations", "DAgger 2 data merge", "DAgger 2 fine-tuning",
                                          "final fine-tuning", "final fine-tuning 2"]
    assert [cli.parse_args(a).takeover_steps for n, a in calls if n.endswith("demonstrations") and "DAgger" in n] \
        == [[10, 60], [10, 100]]
    calls.clear()
    finals.clear()
    no_dagger = ["--out", str(tmp_path), "--dagger-chains", "0", "--final-train-steps", "0"]
    assert train_default.run(parser.parse_args(no_dagger)) == 0
    assert [n for n, _ in calls][-1] == "behaviour cloning"
    assert finals[0][0] == tmp_path / "train" / "policy"
    calls.clear()
    args = parser.parse_args(["--out", str(tmp_path), "--dagger-chains", "5", "6", "7", "--takeover-steps", "1", "2"])
    assert train_default.run(args) == 0
    takeovers = [cli.parse_args(argv) for n, argv in calls if n.endswith("demonstrations") and n != "demonstrations"]
    assert [(t.chains, t.takeover_steps) for t in takeovers] == [(5, [1, 2]), (6, [1, 2]), (7, [1, 2])]
    # several final stages: each restarts from the previous one's policy, on the last aggregate
    calls.clear()
    finals.clear()
    assert train_default.run(parser.parse_args(["--out", str(tmp_path), "--final-train-steps", "30", "50"])) == 0
    stages = {n: cli.parse_args(a) for n, a in calls if n.startswith("final")}
    assert list(stages) == ["final fine-tuning", "final fine-tuning 2"]
    assert [s.max_steps for s in stages.values()] == [30, 50]
    assert stages["final fine-tuning 2"].init_policy == str(tmp_path / "final" / "policy")
    assert stages["final fine-tuning 2"].out == str(tmp_path / "final2")
    assert stages["final fine-tuning 2"].data == str(tmp_path / "data_dagger2")
    assert finals[0][0] == tmp_path / "final2" / "policy"


def test_train_default_rejects_bad_round_options(monkeypatch) -> None:
    """Bad round options fail before the first stage, not hours later."""
    import argparse

    from vla_agent.commands import train_default

    stages: list[str] = []
    monkeypatch.setattr(train_default, "_stage", lambda name, argv: stages.append(name))
    parser = argparse.ArgumentParser()
    train_default.add_arguments(parser)
    with pytest.raises(SystemExit, match="one LO HI pair per round"):
        train_default.run(parser.parse_args(["--dagger-chains", "1", "2", "3", "--takeover-steps", "1", "2", "3", "4"]))
    with pytest.raises(SystemExit, match="LO HI pairs, got 3 numbers"):
        train_default.run(parser.parse_args(["--takeover-steps", "10", "60", "10"]))
    for bad in (["-1"], ["40", "0", "80"]):
        with pytest.raises(SystemExit, match="counts > 0"):
            train_default.run(parser.parse_args(["--dagger-chains", *bad]))
    with pytest.raises(SystemExit, match="--temperature"):
        train_default.run(parser.parse_args(["--temperature", "-0.5"]))
    for bad in (["--final-train-steps", "-1"], ["--final-train-steps", "3000", "0"]):
        with pytest.raises(SystemExit, match="--final-train-steps takes counts > 0"):
            train_default.run(parser.parse_args(bad))
    with pytest.raises(SystemExit, match="--final-batch-size: expected >= 1, got 0"):
        train_default.run(parser.parse_args(["--final-batch-size", "0"]))
    assert stages == []


def test_train_default_final_policy_gets_the_decoding_temperature(tmp_path) -> None:
    from vla_agent.commands import train_default
    from vla_agent.policy import VLAConfig

    trained = tmp_path / "dagger" / "policy"
    VLAConfig(n_bins=65).save(trained)
    (trained / "model.safetensors").write_bytes(b"weights")
    dst = train_default._finalise(trained, tmp_path / "policy", 0.5)
    assert VLAConfig.load(dst) == VLAConfig(n_bins=65, temperature=0.5)
    assert (dst / "model.safetensors").read_bytes() == b"weights"
    assert VLAConfig.load(trained).temperature == 0.0  # the trained folder is left as it was
    train_default._finalise(trained, dst, 0.0)  # a rerun replaces the folder
    assert VLAConfig.load(dst).temperature == 0.0 and not (tmp_path / "policy.tmp").exists()


STALLED_CHAIN = 11  # python bench/bench_stalls.py --policy default --temperature 0 --chains 60


def test_shipped_policy_leaves_a_start_where_greedy_decoding_stalls() -> None:
    """Benchmark chain 11 starts with `lift_pink_block_table`: decoded greedily, the shipped weights barely
    move there (the one greedy stall among the first 60 chains); sampled, they reach for the block.
    Pins the shipped weights: a retrained default needs its own stalled start (``bench/bench_stalls.py``
    lists the chains)."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the embedded env)
    from envs.instructions import load_instruction_set
    from evaluation.execute import job_seed
    from evaluation.long_horizon import resolve_sequences
    from evaluation.rollout import set_env_task
    from vla_agent import VLAPolicy
    from vla_agent.pretrained import has_default_checkpoint

    if not has_default_checkpoint():
        pytest.skip("no default checkpoint installed")
    condition, chain = resolve_sequences(None, 200, 0)[STALLED_CHAIN]
    task, sentence = chain[0], load_instruction_set("project")[chain[0]]
    policy = VLAPolicy.from_pretrained("default")
    assert policy.temperature > 0
    env = gym.make("vla_agent/PlayTable-v0")
    moved = {}
    for temperature in (0.0, policy.temperature):
        policy.temperature = temperature
        obs, _ = env.reset(seed=job_seed(0, STALLED_CHAIN), options={"condition": condition, "task": task})
        set_env_task(env, task, sentence)
        policy.reset()
        policy.seed(job_seed(0, STALLED_CHAIN))
        start = obs["robot_obs"][:3].copy()
        for _ in range(24):
            obs, *_ = env.step(policy.act(obs, sentence))
        moved[temperature] = float(np.linalg.norm(obs["robot_obs"][:3] - start))
    env.close()
    assert moved[0.0] < 0.01, moved  # the stall this decoding avoids
    assert moved[policy.temperature] > 0.03, moved
