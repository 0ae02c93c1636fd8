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
