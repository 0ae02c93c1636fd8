"""Named checkpoints: "default" resolves to the package's folder or says how to make it."""

from __future__ import annotations

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
    parser = argparse.ArgumentParser()
    train_default.add_arguments(parser)
    assert train_default.run(parser.parse_args(["--out", str(tmp_path), "--seed", "3"])) == 0
    names = [n for n, _ in calls]
    assert names == ["demonstrations", "segmentation renders", "robot segmentation", "scene-state fine-tuning",
                     "behaviour cloning", "DAgger demonstrations", "DAgger data merge", "DAgger fine-tuning"]
    cli = build_parser()
    parsed = {n: cli.parse_args(argv) for n, argv in calls}
    assert parsed["demonstrations"].seed == 103 and parsed["demonstrations"].workers == 2
    assert parsed["scene-state fine-tuning"].init_weights == str(tmp_path / "seg_robot")
    assert parsed["scene-state fine-tuning"].scene_data == str(tmp_path / "data")
    assert parsed["behaviour cloning"].segmentation_weights == str(tmp_path / "seg")
    # the DAgger round: the cloned policy acts first, the expert takes over; then fine-tuning on both
    assert parsed["DAgger demonstrations"].takeover_policy == str(tmp_path / "train" / "policy")
    assert parsed["DAgger demonstrations"].seed == 203
    assert parsed["DAgger data merge"].sources == [str(tmp_path / "data"), str(tmp_path / "takeover")]
    assert parsed["DAgger fine-tuning"].init_policy == str(tmp_path / "train" / "policy")
    assert parsed["DAgger fine-tuning"].data == str(tmp_path / "data_dagger")
    calls.clear()
    assert train_default.run(parser.parse_args(["--out", str(tmp_path), "--dagger-chains", "0"])) == 0
    assert [n for n, _ in calls][-1] == "behaviour cloning"
